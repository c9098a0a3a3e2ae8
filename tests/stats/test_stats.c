/* freeact stats' collector (tools/stats.c) on a tiny .fir graph: site discovery and naming, and
 * every statistic against numbers worked out by hand (or by a naive two-pass loop here) for an
 * input [1,4,3] with two token types; streaming over batches; not token-aligned sites. */
#include <math.h>
#include <stdlib.h>

#include "runtime/interp.h"
#include "tests/test_util.h"
#include "tools/stats.h"

/* Sites: %x (read by q and k: one site "q+1", and the graph's first), %x2 = %x as [N,d] read by an
 * unnamed gemm with transB (site#1), %xt = %x2 transposed [3,4] (site "t": not token-aligned).
 * %s = q k^T has no constant operand: no site. */
static const char graph_text[] = "graph @s(%x: f32[B,4,3], %tt: u8[B,4]) {\n"
                                 "  const @wq = f32[3,2] dense<[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]>\n"
                                 "  const @wk = f32[3,2] dense<[0.0, 0.0, 1.0, 0.0, 0.0, 1.0]>\n"
                                 "  const @wg = f32[2,3] dense<[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]>\n"
                                 "  const @wt = f32[4,1] dense<[1.0, 1.0, 1.0, 1.0]>\n"
                                 "  const @shape = i64[2] dense<[4, 3]>\n"
                                 "  %q = matmul(%x, @wq) : f32[B,4,2] loc(\"q\")\n"
                                 "  %k = matmul(%x, @wk) : f32[B,4,2] loc(\"k\")\n"
                                 "  %kt = transpose(%k) {perm = [0, 2, 1]} : f32[B,2,4]\n"
                                 "  %s = matmul(%q, %kt) : f32[B,4,4] loc(\"scores\")\n"
                                 "  %x2 = reshape(%x, @shape) : f32[4,3]\n"
                                 "  %g = gemm(%x2, @wg) {transB = 1} : f32[4,2]\n"
                                 "  %xt = transpose(%x2) {perm = [1, 0]} : f32[3,4]\n"
                                 "  %t = matmul(%xt, @wt) : f32[3,1] loc(\"t\")\n"
                                 "  return %s, %g, %t\n"
                                 "}\n";

/* The input: 4 tokens of 3 channels and their types (input:tt). */
static const float X[12] = {1, 2,  2,  /* type 0 */
                            0, 0,  0,  /* type 1, all zero: no max/RMS ratio */
                            3, 0,  -4, /* type 1 */
                            1, -1, 1 /* type 0 */};
static const uint8_t TT[4] = {0, 1, 1, 0};

static bool near(double got, double want) {
    bool ok = fabs(got - want) <= 1e-9 * (1 + fabs(want));
    if (!ok)
        fprintf(stderr, "  got %.12g, want %.12g\n", got, want);
    return ok;
}

/* Excess kurtosis of the elements of the tokens of type |type| (-1: all), two-pass. */
static double naive_kurtosis(int type) {
    double n = 0, sum = 0, c2 = 0, c4 = 0;
    for (int i = 0; i < 12; i++)
        if (type < 0 || TT[i / 3] == type) {
            n++;
            sum += X[i];
        }
    double mu = sum / n;
    for (int i = 0; i < 12; i++)
        if (type < 0 || TT[i / 3] == type) {
            double dv = X[i] - mu;
            c2 += dv * dv;
            c4 += dv * dv * dv * dv;
        }
    c2 /= n;
    c4 /= n;
    return c4 / (c2 * c2) - 3;
}

static fa_graph *parse(void) {
    fa_graph *g = NULL;
    fa_status s = fa_graph_parse(graph_text, strlen(graph_text), "s.fir", NULL, 0, &g);
    if (s) {
        fprintf(stderr, "parse failed: %s\n", fa_status_message(s));
        fa_status_free(s);
        test_failures++;
    }
    return g;
}

static fa_tool_stats *collect(fa_graph *g, const char *rule_text, int batches) {
    fa_rt_token_rule rule;
    fa_tool_stats *st = NULL;
    CHECK_OK(fa_rt_token_rule_parse(rule_text, &rule));
    CHECK_OK(fa_tool_stats_create(g, &rule, &st));
    if (!st)
        return NULL;
    int64_t dx[3] = {1, 4, 3}, dt[2] = {1, 4};
    fa_rt_tensor in[2] = {fa_rt_tensor_view(FA_DT_F32, 3, dx, X, sizeof X),
                          fa_rt_tensor_view(FA_DT_U8, 2, dt, TT, sizeof TT)};
    bool by_tt = fa_rt_token_rule_source(&rule) != NULL; /* every such rule here reads tt */
    for (int b = 0; b < batches; b++)
        CHECK_OK(fa_tool_stats_run(st, in, 2, by_tt ? &in[1] : NULL, 1, fa_rt_allocator_default()));
    return st;
}

static void test_sites(void) {
    fa_graph *g = parse();
    if (!g)
        return;
    fa_tool_stats *st = collect(g, "input:tt", 1);
    CHECK(st && fa_tool_stats_num_sites(st) == 3);
    if (st && fa_tool_stats_num_sites(st) == 3) {
        const fa_tool_stats_site *s0 = fa_tool_stats_site_info(st, 0);
        const fa_tool_stats_site *s1 = fa_tool_stats_site_info(st, 1);
        const fa_tool_stats_site *s2 = fa_tool_stats_site_info(st, 2);
        CHECK(!strcmp(s0->name, "q+1") && s0->d == 3 && s0->num_consumers == 2 && s0->aligned);
        CHECK(!strcmp(s0->consumers[1]->name, "k"));
        CHECK(!strcmp(s1->name, "site#1") && s1->d == 3 && s1->aligned);
        CHECK(!strcmp(s2->name, "t") && s2->d == 4 && !s2->aligned);
        CHECK(!strcmp(s2->reason, "not token-aligned: activation f32[3,4], token types [1,4]"));
        CHECK(fa_tool_stats_num_types(st) == 2);
    }
    fa_tool_stats_destroy(st);
    fa_graph_destroy(g);
}

/* Checks site |i| of |st| against the hand-computed values, |copies| copies of X seen. */
static void check_numbers(const fa_tool_stats *st, uint32_t i, uint64_t copies) {
    fa_tool_stats_summary m;
    /* type 0: tokens [1,2,2] and [1,-1,1]: sum x^2 = 12 over 6 elements, RMS sqrt(2), max 2;
     * token ratios 2/sqrt(3) and 1; mean 1, deviations 0,1,1,0,-2,0: var 1, m4 3, kurtosis 0;
     * channel energies 2, 5, 5: top-1 (of d = 3) is channel 1 (tie with 2, lower index) */
    fa_tool_stats_summarize(st, i, 0, &m);
    CHECK(m.tokens == 2 * copies);
    CHECK(near(m.max_over_rms, 2 / sqrt(2.0)));
    CHECK(near(m.mean_token_max_over_rms, (2 / sqrt(3.0) + 1) / 2));
    CHECK(near(m.kurtosis, 0.0));
    CHECK(near(naive_kurtosis(0), 0.0));
    CHECK(near(m.top_energy_share, 5.0 / 12));
    CHECK(m.top_k == 1 && m.num_top == 3);
    CHECK(m.top_channels[0] == 1 && m.top_channels[1] == 2 && m.top_channels[2] == 0);

    /* type 1: tokens [0,0,0] and [3,0,-4]: sum x^2 = 25 over 6, max 4; only the second token
     * has a ratio, 4 / sqrt(25/3); energies 9, 0, 16 */
    fa_tool_stats_summarize(st, i, 1, &m);
    CHECK(m.tokens == 2 * copies);
    CHECK(near(m.max_over_rms, 4 / sqrt(25.0 / 6)));
    CHECK(near(m.mean_token_max_over_rms, 4 / sqrt(25.0 / 3)));
    CHECK(near(m.kurtosis, naive_kurtosis(1)));
    CHECK(near(m.top_energy_share, 16.0 / 25));
    CHECK(m.top_channels[0] == 2 && m.top_channels[1] == 0 && m.top_channels[2] == 1);

    /* all: sum x^2 = 37 over 12, max 4; three ratios; energies 11, 5, 21 */
    fa_tool_stats_summarize(st, i, -1, &m);
    CHECK(m.tokens == 4 * copies);
    CHECK(near(m.max_over_rms, 4 / sqrt(37.0 / 12)));
    CHECK(near(m.mean_token_max_over_rms, (2 / sqrt(3.0) + 1 + 4 / sqrt(25.0 / 3)) / 3));
    CHECK(near(m.kurtosis, naive_kurtosis(-1)));
    CHECK(near(m.top_energy_share, 21.0 / 37));
    CHECK(m.top_channels[0] == 2 && m.top_channels[1] == 0 && m.top_channels[2] == 1);
}

static void test_numbers(void) {
    fa_graph *g = parse();
    if (!g)
        return;
    /* by a type input; [B,T,d] (site 0) and [N,d] (site 1) see the same tokens */
    fa_tool_stats *st = collect(g, "input:tt", 1);
    if (st) {
        check_numbers(st, 0, 1);
        check_numbers(st, 1, 1);
    }
    fa_tool_stats_destroy(st);
    /* streaming: three batches of the same row give the same ratios, three times the tokens */
    st = collect(g, "input:tt", 3);
    if (st)
        check_numbers(st, 0, 3);
    fa_tool_stats_destroy(st);

    /* by position: tokens 0 and 1 are type 1 ([1,2,2] and zeros), 2 and 3 type 0 */
    st = collect(g, "position<2", 1);
    if (st) {
        fa_tool_stats_summary m;
        fa_tool_stats_summarize(st, 1, 1, &m);
        CHECK(m.tokens == 2 && near(m.max_over_rms, 2 / sqrt(9.0 / 6)));
        CHECK(near(m.mean_token_max_over_rms, 2 / sqrt(3.0)));
        fa_tool_stats_summarize(st, 0, 0, &m);
        CHECK(m.tokens == 2 && near(m.max_over_rms, 4 / sqrt(28.0 / 6)));
        CHECK(m.top_channels[0] == 2 && near(m.top_energy_share, 17.0 / 28));
        /* a position rule has no [B,T] of its own: [N,d] splits into the batch's rows, here
         * 1 row of N = 3 tokens, so the transposed [3,4] counts as tokens too */
        CHECK(fa_tool_stats_site_info(st, 2)->aligned);
        fa_tool_stats_summarize(st, 2, -1, &m);
        CHECK(m.tokens == 3);
    }
    fa_tool_stats_destroy(st);
    fa_graph_destroy(g);
}

/* No tokens of a type: counts are 0 and every ratio is undefined (NaN), no top channels. */
static void test_empty_type(void) {
    fa_graph *g = parse();
    if (!g)
        return;
    fa_tool_stats *st = collect(g, "tt==5", 1);
    if (st) {
        fa_tool_stats_summary m;
        fa_tool_stats_summarize(st, 0, 1, &m);
        CHECK(m.tokens == 0 && isnan(m.max_over_rms) && isnan(m.kurtosis));
        CHECK(isnan(m.mean_token_max_over_rms) && isnan(m.top_energy_share) && m.num_top == 0);
        fa_tool_stats_summarize(st, 0, 0, &m);
        CHECK(m.tokens == 4 && near(m.max_over_rms, 4 / sqrt(37.0 / 12)));
    }
    fa_tool_stats_destroy(st);
    fa_graph_destroy(g);
}

int main(void) {
    test_sites();
    test_numbers();
    test_empty_type();
    TEST_MAIN_END();
}
