/* The swiglu and gelu kernels (runtime/activation.c) against independent long-double loops on
 * random shapes with odd sizes and on large |x|; their errors and allocation failures; through
 * the interpreter against the unfused op chains fuse-activations replaces; and the IR verifier
 * on malformed swiglu / gelu nodes. */
#include <stdlib.h>

#include "runtime/interp.h"
#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t next_u32(void) { return rt_xorshift(&rng); }

/* Mostly in [-8, 8]; one value in eight from the large-|x| set, where naive formulas overflow
 * or cancel. */
static float rand_f(void) {
    static const float big[] = {100.0f, -100.0f, 30.0f, -30.0f, 88.5f, -88.5f, 1e4f, -1e4f};
    if (next_u32() % 8 == 0)
        return big[next_u32() % 8];
    return (float)(next_u32() % 16001) / 1000.0f - 8.0f;
}

static void fill(fa_rt_tensor *t) {
    for (uint64_t i = 0; i < fa_rt_tensor_num_elements(t); i++)
        ((float *)t->data)[i] = rand_f();
}

/* The textbook formulas in long double, written independently of the kernels. */
static float naive_swiglu(float g, float u) {
    long double x = g;
    return (float)(x / (1.0L + expl(-x)) * (long double)u);
}

static float naive_gelu(float xf, bool tanh_approx) {
    long double x = xf;
    long double t = tanh_approx ? tanhl(sqrtl(2.0L / 3.14159265358979323846264338327950288L) *
                                        (x + 0.044715L * x * x * x))
                                : erfl(x / sqrtl(2.0L));
    return (float)(0.5L * x * (1.0L + t));
}

static bool all_finite(const fa_rt_tensor *t) {
    for (uint64_t i = 0; i < fa_rt_tensor_num_elements(t); i++)
        if (!isfinite(((const float *)t->data)[i]))
            return false;
    return true;
}

static void check_shape(int rank, const int64_t *dims) {
    fa_rt_tensor g, u, out;
    CHECK_OK(fa_rt_tensor_alloc(&g, FA_DT_F32, rank, dims, al));
    CHECK_OK(fa_rt_tensor_alloc(&u, FA_DT_F32, rank, dims, al));
    fill(&g);
    fill(&u);
    uint64_t n = fa_rt_tensor_num_elements(&g);
    float *want = malloc(sizeof *want * (n ? n : 1));
    const float *gp = g.data, *up = u.data;

    for (uint64_t i = 0; i < n; i++)
        want[i] = naive_swiglu(gp[i], up[i]);
    CHECK_OK(fa_rt_swiglu(&g, &u, &out, al));
    if (!rt_shape_is(&out, rank, dims) || !all_finite(&out) ||
        !rt_close_f32(out.data, want, n, 1e-6)) {
        fprintf(stderr, "  swiglu mismatch: rank %d, %llu elements\n", rank, (unsigned long long)n);
        rt_failures++;
    }
    fa_rt_tensor_free(&out, al);

    for (int approx = 0; approx < 2; approx++) {
        for (uint64_t i = 0; i < n; i++)
            want[i] = naive_gelu(gp[i], approx);
        CHECK_OK(fa_rt_gelu(&g, approx, &out, al));
        if (!rt_shape_is(&out, rank, dims) || !all_finite(&out) ||
            !rt_close_f32(out.data, want, n, 1e-6)) {
            fprintf(stderr, "  gelu (%s) mismatch: rank %d, %llu elements\n",
                    approx ? "tanh" : "erf", rank, (unsigned long long)n);
            rt_failures++;
        }
        fa_rt_tensor_free(&out, al);
    }
    free(want);
    fa_rt_tensor_free(&g, al);
    fa_rt_tensor_free(&u, al);
}

static void test_random_shapes(void) {
    for (int t = 0; t < 40; t++) {
        int rank = (int)(next_u32() % 5);
        int64_t dims[4];
        for (int i = 0; i < rank; i++)
            dims[i] = 1 + next_u32() % (i == rank - 1 ? 97 : 7); /* odd widths up to 97 */
        check_shape(rank, dims);
    }
    int64_t wide[] = {3, 4099}, empty[] = {0, 5};
    check_shape(2, wide);
    check_shape(2, empty);
}

/* Hand-checked values, and x = +-100 (no NaN, no overflow: the tails are x and -0). */
static void test_values(void) {
    float x[] = {0.0f, 1.0f, -1.0f, 100.0f, -100.0f}, u[] = {2.0f, 2.0f, 2.0f, 0.5f, 0.5f};
    int64_t d[] = {5};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 1, d, x), tu = rt_view(FA_DT_F32, 1, d, u), out;
    CHECK_OK(fa_rt_swiglu(&tx, &tu, &out, al));
    /* 1 * sigmoid(1) * 2 = 1.4621171572600098; -1 * sigmoid(-1) * 2 = -0.5378828427399902 */
    float want_s[] = {0.0f, 1.46211716f, -0.537882843f, 50.0f, -1.86003798e-42f};
    CHECK(rt_close_f32(out.data, want_s, 5, 1e-7));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_gelu(&tx, false, &out, al));
    /* PyTorch gelu(1) = 0.8413447460685429, gelu(-1) = -0.15865525393145707 */
    float want_e[] = {0.0f, 0.841344746f, -0.158655254f, 100.0f, 0.0f};
    CHECK(rt_close_f32(out.data, want_e, 5, 1e-7));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_gelu(&tx, true, &out, al));
    /* gelu(1, approximate='tanh') = 0.8411919906082768 */
    float want_t[] = {0.0f, 0.841191991f, -0.158808009f, 100.0f, 0.0f};
    CHECK(rt_close_f32(out.data, want_t, 5, 1e-7));
    fa_rt_tensor_free(&out, al);
}

static void test_errors(void) {
    float x[6] = {0};
    double xd[6] = {0};
    int64_t d23[] = {2, 3}, d32[] = {3, 2}, d6[] = {6};
    fa_rt_tensor a = rt_view(FA_DT_F32, 2, d23, x), b = rt_view(FA_DT_F32, 2, d32, x);
    fa_rt_tensor c = rt_view(FA_DT_F32, 1, d6, x), f64 = rt_view(FA_DT_F64, 2, d23, xd), out;
    CHECK_ERR(fa_rt_swiglu(&a, &b, &out, al), "swiglu: g and u must have the same shape");
    CHECK_ERR(fa_rt_swiglu(&a, &c, &out, al), "same shape");
    CHECK_ERR(fa_rt_swiglu(&f64, &a, &out, al), "f64");
    CHECK_ERR(fa_rt_swiglu(&a, &f64, &out, al), "f64");
    CHECK_ERR(fa_rt_gelu(&f64, false, &out, al), "f64");
    CHECK(out.data == NULL);
}

static void test_alloc_failure(void) {
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t d[] = {2, 3};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 2, d, x), out;
    fa_rt_allocator fal = {rt_no_alloc, rt_no_free, NULL};
    CHECK_ERR(fa_rt_swiglu(&tx, &tx, &out, &fal), "out of memory");
    CHECK(out.data == NULL);
    CHECK_ERR(fa_rt_gelu(&tx, true, &out, &fal), "out of memory");
    CHECK(out.data == NULL);
}

/* The fused ops through the interpreter agree with the chains fuse-activations replaces (and
 * the tanh form with its own chain). */
static const char chains_text[] = "graph @chains(%g: f32[B,7], %u: f32[B,7]) {\n"
                                  "  const @sqrt2 = f32[] dense<[1.4142135]>\n"
                                  "  const @one = f32[] dense<[1.0]>\n"
                                  "  const @half = f32[] dense<[0.5]>\n"
                                  "  const @c = f32[] dense<[0.044715]>\n"
                                  "  const @k = f32[] dense<[0.7978846]>\n"
                                  "  const @three = f32[] dense<[3.0]>\n"
                                  "  %s = sigmoid(%g) : f32[B,7]\n"
                                  "  %m = mul(%g, %s) : f32[B,7]\n"
                                  "  %sw = mul(%m, %u) : f32[B,7]\n"
                                  "  %fused_sw = swiglu(%g, %u) : f32[B,7]\n"
                                  "  %d = div(%g, @sqrt2) : f32[B,7]\n"
                                  "  %e = erf(%d) : f32[B,7]\n"
                                  "  %a = add(%e, @one) : f32[B,7]\n"
                                  "  %ma = mul(%g, %a) : f32[B,7]\n"
                                  "  %ge = mul(%ma, @half) : f32[B,7]\n"
                                  "  %fused_ge = gelu(%g) : f32[B,7]\n"
                                  "  %cube = pow(%g, @three) : f32[B,7]\n"
                                  "  %cc = mul(%cube, @c) : f32[B,7]\n"
                                  "  %in = add(%g, %cc) : f32[B,7]\n"
                                  "  %ki = mul(%in, @k) : f32[B,7]\n"
                                  "  %th = tanh(%ki) : f32[B,7]\n"
                                  "  %a2 = add(%th, @one) : f32[B,7]\n"
                                  "  %m2 = mul(%g, %a2) : f32[B,7]\n"
                                  "  %gt = mul(%m2, @half) : f32[B,7]\n"
                                  "  %fused_gt = gelu(%g) {approximate = \"tanh\"} : f32[B,7]\n"
                                  "  return %sw, %fused_sw, %ge, %fused_ge, %gt, %fused_gt\n"
                                  "}\n";

static void test_interp(void) {
    fa_graph *g = NULL;
    fa_status s = fa_graph_parse(chains_text, strlen(chains_text), "chains.fir", NULL, 0, &g);
    CHECK_OK(s);
    if (s)
        return;
    int64_t dx[] = {9, 7};
    fa_rt_tensor ins[2], outs[6];
    for (int i = 0; i < 2; i++) {
        CHECK_OK(fa_rt_tensor_alloc(&ins[i], FA_DT_F32, 2, dx, al));
        for (uint64_t k = 0; k < 63; k++) /* moderate |x|: the f32 chains lose accuracy beyond */
            ((float *)ins[i].data)[k] = (float)(next_u32() % 12001) / 1000.0f - 6.0f;
    }
    CHECK_OK(fa_rt_interp_run(g, ins, 2, outs, al));
    for (int k = 0; k < 6; k += 2)
        CHECK(rt_close_f32(outs[k + 1].data, outs[k].data, 63, 1e-5));
    fa_rt_tensors_free(outs, 6, al);
    fa_rt_tensor_free(&ins[0], al);
    fa_rt_tensor_free(&ins[1], al);
    fa_graph_destroy(g);
}

/* The IR's shape rules (ir/shape.c) reject what the kernels cannot run: the verifier runs when
 * a graph is parsed. */
static void check_bad_graph(const char *body, const char *needle) {
    char text[512];
    snprintf(text, sizeof text,
             "graph @bad(%%a: f32[2,3], %%b: f32[3,2], %%c: f32[3], %%d: f64[2,3]) {\n  %s\n"
             "  return %%y\n}\n",
             body);
    fa_graph *g = NULL;
    CHECK_ERR(fa_graph_parse(text, strlen(text), "bad.fir", NULL, 0, &g), needle);
    fa_graph_destroy(g);
}

static void test_verify(void) {
    check_bad_graph("%y = swiglu(%a, %b) : f32[2,3]", "g and u differ in dim 0");
    check_bad_graph("%y = swiglu(%a, %c) : f32[2,3]", "g and u have ranks 2 and 1");
    check_bad_graph("%y = swiglu(%a, %d) : f32[2,3]", "u has dtype f64, expected f32");
    check_bad_graph("%y = swiglu(%a) : f32[2,3]", "swiglu");
    check_bad_graph("%y = gelu(%d) : f64[2,3]", "x has dtype f64, expected f32");
    check_bad_graph("%y = gelu(%a) {approximate = \"exact\"} : f32[2,3]",
                    "approximate must be \"none\" or \"tanh\"");
    check_bad_graph("%y = gelu(%a) : f32[3,2]", "result 0 has type");
}

int main(void) {
    al = fa_rt_allocator_default();
    test_random_shapes();
    test_values();
    test_errors();
    test_alloc_failure();
    test_interp();
    test_verify();
    return rt_report("test_activation");
}
