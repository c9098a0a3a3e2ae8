/* The rms_norm and layer_norm kernels (runtime/norm.c) against naive loops on random shapes with
 * odd sizes, against ONNX LayerNormalization, in f64 and f16, their errors, allocation failures,
 * and through the interpreter against the unfused op chains they replace. */
#include <stdlib.h>

#include "runtime/interp.h"
#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_u32(void) { return rt_xorshift(&rng); }

static float rand_f(void) { return (float)(next_u32() % 4001) / 1000.0f - 2.0f; }

static void fill(fa_rt_tensor *t) {
    for (uint64_t i = 0; i < fa_rt_tensor_num_elements(t); i++)
        ((float *)t->data)[i] = rand_f();
}

/* The textbook formulas, element by element. |gamma| / |beta| have the normalized dims' full
 * shape (len elements) or are NULL. */
static void naive_norm(bool rms, const float *x, uint64_t outer, uint64_t len, const float *gamma,
                       const float *beta, double eps, float *y) {
    for (uint64_t r = 0; r < outer; r++) {
        const float *row = x + r * len;
        double mean = 0, var = 0;
        for (uint64_t k = 0; k < len && !rms; k++)
            mean += row[k];
        mean /= (double)len;
        for (uint64_t k = 0; k < len; k++)
            var += ((double)row[k] - mean) * ((double)row[k] - mean);
        var /= (double)len;
        for (uint64_t k = 0; k < len; k++) {
            double v = ((double)row[k] - mean) / sqrt(var + eps);
            v = v * (gamma ? gamma[k] : 1.0) + (beta ? beta[k] : 0.0);
            y[r * len + k] = (float)v;
        }
    }
}

/* rms_norm on [rows..., d] with and without gamma. */
static void check_rms(int rank, const int64_t *dims, bool with_gamma) {
    fa_rt_tensor x, g, out;
    int64_t d = dims[rank - 1];
    CHECK_OK(fa_rt_tensor_alloc(&x, FA_DT_F32, rank, dims, al));
    CHECK_OK(fa_rt_tensor_alloc(&g, FA_DT_F32, 1, &d, al));
    fill(&x);
    fill(&g);
    uint64_t n = fa_rt_tensor_num_elements(&x), outer = d ? n / (uint64_t)d : 0;
    double eps = 1e-5 * (1 + next_u32() % 100);
    int64_t axis = next_u32() % 2 ? -1 : rank - 1;
    CHECK_OK(fa_rt_norm(FA_RT_NORM_RMS, &x, with_gamma ? &g : NULL, NULL, axis, eps, &out, al));
    float *want = malloc(sizeof *want * (n ? n : 1));
    naive_norm(true, x.data, outer, (uint64_t)d, with_gamma ? g.data : NULL, NULL, eps, want);
    if (!rt_shape_is(&out, rank, dims) || !rt_close_f32(out.data, want, n, 1e-5)) {
        fprintf(stderr, "  rms_norm mismatch: rank %d, d=%lld, gamma %d\n", rank, (long long)d,
                with_gamma);
        rt_failures++;
    }
    free(want);
    fa_rt_tensor_free(&x, al);
    fa_rt_tensor_free(&g, al);
    fa_rt_tensor_free(&out, al);
}

/* layer_norm over dims [axis, rank) with full-shape gamma/beta, compared with the naive loops
 * and with ONNX LayerNormalization (fa_rt_layer_norm). */
static void check_layer(int rank, const int64_t *dims, int axis, bool with_gamma, bool with_beta) {
    fa_rt_tensor x, g, b, out, ref;
    CHECK_OK(fa_rt_tensor_alloc(&x, FA_DT_F32, rank, dims, al));
    CHECK_OK(fa_rt_tensor_alloc(&g, FA_DT_F32, rank - axis, dims + axis, al));
    CHECK_OK(fa_rt_tensor_alloc(&b, FA_DT_F32, rank - axis, dims + axis, al));
    fill(&x);
    fill(&g);
    fill(&b);
    uint64_t n = fa_rt_tensor_num_elements(&x), len = fa_rt_tensor_num_elements(&g);
    uint64_t outer = len ? n / len : 0;
    CHECK_OK(fa_rt_norm(FA_RT_NORM_LAYER, &x, with_gamma ? &g : NULL, with_beta ? &b : NULL,
                        axis - rank, 1e-5, &out, al));
    float *want = malloc(sizeof *want * (n ? n : 1));
    naive_norm(false, x.data, outer, len, with_gamma ? g.data : NULL, with_beta ? b.data : NULL,
               1e-5, want);
    if (!rt_shape_is(&out, rank, dims) || !rt_close_f32(out.data, want, n, 1e-5)) {
        fprintf(stderr, "  layer_norm mismatch: rank %d, axis %d\n", rank, axis);
        rt_failures++;
    }
    if (with_gamma) {
        CHECK_OK(fa_rt_layer_norm(&x, &g, with_beta ? &b : NULL, axis, 1e-5, &ref, NULL, NULL, al));
        CHECK(rt_close_f32(out.data, ref.data, n, 1e-6));
        fa_rt_tensor_free(&ref, al);
    }
    free(want);
    fa_rt_tensor_free(&x, al);
    fa_rt_tensor_free(&g, al);
    fa_rt_tensor_free(&b, al);
    fa_rt_tensor_free(&out, al);
}

static void test_random_shapes(void) {
    for (int t = 0; t < 40; t++) {
        int rank = 1 + (int)(next_u32() % 4);
        int64_t dims[4];
        for (int i = 0; i < rank; i++)
            dims[i] = 1 + next_u32() % (i == rank - 1 ? 97 : 7); /* odd widths up to 97 */
        check_rms(rank, dims, t % 3 != 0);
        int axis = (int)(next_u32() % (uint32_t)rank);
        check_layer(rank, dims, axis, t % 4 != 1, t % 2 == 0);
    }
    int64_t one[] = {1}, wide[] = {3, 4096}, empty[] = {0, 5};
    check_rms(1, one, true);
    check_rms(2, wide, true);
    check_rms(2, empty, true);
    check_layer(2, wide, 1, true, true);
    check_layer(2, empty, 1, true, false);
}

/* Broadcast gamma / beta for layer_norm ([1, d] and a scalar), exactly as ONNX does it. */
static void test_layer_broadcast(void) {
    float x[] = {1, 2, 3, 4, 5, 6, 7, 9}, g[] = {2, 3}, b[] = {0.5f};
    int64_t dx[] = {2, 2, 2}, dg[] = {1, 2};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 3, dx, x), tg = rt_view(FA_DT_F32, 2, dg, g);
    fa_rt_tensor tb = rt_view(FA_DT_F32, 0, NULL, b), out, ref;
    CHECK_OK(fa_rt_norm(FA_RT_NORM_LAYER, &tx, &tg, &tb, 1, 1e-3, &out, al));
    CHECK_OK(fa_rt_layer_norm(&tx, &tg, &tb, 1, 1e-3, &ref, NULL, NULL, al));
    CHECK(rt_close_f32(out.data, ref.data, 8, 1e-6));
    fa_rt_tensor_free(&out, al);
    fa_rt_tensor_free(&ref, al);
}

/* Hand-computed: rows [3, 4] and [0, 0]; mean square 12.5 and 0. */
static void test_rms_values(void) {
    float x[] = {3, 4, 0, 0}, g[] = {1, 2};
    int64_t dx[] = {2, 2}, dg[] = {2};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 2, dx, x), tg = rt_view(FA_DT_F32, 1, dg, g), out;
    CHECK_OK(fa_rt_norm(FA_RT_NORM_RMS, &tx, &tg, NULL, -1, 0.5, &out, al));
    float want[] = {(float)(3 / sqrt(13.0)), (float)(8 / sqrt(13.0)), 0, 0};
    CHECK(rt_close_f32(out.data, want, 4, 1e-7));
    fa_rt_tensor_free(&out, al);
}

/* f64 and f16 go through the generic path. */
static void test_other_dtypes(void) {
    double x[] = {1, -2, 3, 0.5, 0.25, -4}, g[] = {1, 0.5, 2};
    int64_t dx[] = {2, 3}, dg[] = {3};
    fa_rt_tensor tx = rt_view(FA_DT_F64, 2, dx, x), tg = rt_view(FA_DT_F64, 1, dg, g), out;
    CHECK_OK(fa_rt_norm(FA_RT_NORM_RMS, &tx, &tg, NULL, -1, 1e-6, &out, al));
    for (int r = 0; r < 2; r++) {
        double ms = 0;
        for (int k = 0; k < 3; k++)
            ms += x[r * 3 + k] * x[r * 3 + k] / 3;
        for (int k = 0; k < 3; k++) {
            double want = x[r * 3 + k] / sqrt(ms + 1e-6) * g[k];
            CHECK(fabs(((double *)out.data)[r * 3 + k] - want) < 1e-12);
        }
    }
    fa_rt_tensor_free(&out, al);
    uint16_t h[4];
    float hf[] = {1, 2, -1, 0.5f};
    for (int i = 0; i < 4; i++)
        h[i] = fa_rt_f32_to_f16(hf[i]);
    int64_t dh[] = {2, 2};
    fa_rt_tensor th = rt_view(FA_DT_F16, 2, dh, h);
    CHECK_OK(fa_rt_norm(FA_RT_NORM_LAYER, &th, NULL, NULL, -1, 0.0, &out, al));
    CHECK(out.dtype == FA_DT_F16);
    float want[] = {-1, 1, -1, 1};
    for (int i = 0; i < 4; i++)
        CHECK(fabsf(fa_rt_f16_to_f32(((uint16_t *)out.data)[i]) - want[i]) < 1e-3f);
    fa_rt_tensor_free(&out, al);
}

static void test_errors(void) {
    float x[6] = {0}, g[3] = {0};
    int32_t xi[6] = {0};
    int64_t dx[] = {2, 3}, dg[] = {3}, dg2[] = {2}, dg1[] = {1};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 2, dx, x), tg = rt_view(FA_DT_F32, 1, dg, g);
    fa_rt_tensor tg2 = rt_view(FA_DT_F32, 1, dg2, g), tg1 = rt_view(FA_DT_F32, 1, dg1, g);
    fa_rt_tensor txi = rt_view(FA_DT_I32, 2, dx, xi), ts = rt_view(FA_DT_F32, 0, NULL, x), out;
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_RMS, &tx, &tg, NULL, 0, 1e-5, &out, al),
              "rms_norm: only the last axis is supported (axis 0, rank 2)");
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_RMS, &tx, &tg, NULL, -2, 1e-5, &out, al), "only the last axis");
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_RMS, &tx, &tg, NULL, 2, 1e-5, &out, al), "out of range");
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_RMS, &tx, &tg2, NULL, -1, 1e-5, &out, al),
              "gamma must have shape [3]");
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_RMS, &tx, &tg1, NULL, -1, 1e-5, &out, al),
              "gamma must have shape [3]");
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_RMS, &tx, &tg, &tg, -1, 1e-5, &out, al), "takes no beta");
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_RMS, &txi, NULL, NULL, -1, 1e-5, &out, al), "i32");
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_RMS, &ts, NULL, NULL, -1, 1e-5, &out, al), "rank >= 1");
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_LAYER, &tx, &tg2, NULL, -1, 1e-5, &out, al),
              "layer_norm: gamma does not broadcast");
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_LAYER, &tx, NULL, &tg2, -1, 1e-5, &out, al),
              "beta does not broadcast");
    CHECK_ERR(fa_rt_norm(FA_RT_NORM_LAYER, &tx, &txi, NULL, -1, 1e-5, &out, al), "float tensors");
}

/* An allocator that fails the |fail_at|-th allocation and counts live blocks. */
typedef struct failing {
    int count, fail_at, live;
} failing;

static void *failing_alloc(void *user, size_t size, size_t align) {
    failing *f = user;
    if (f->count++ == f->fail_at)
        return NULL;
    void *p = fa_rt_allocator_default()->alloc(NULL, size, align);
    f->live += p != NULL;
    return p;
}

static void failing_free(void *user, void *p) {
    failing *f = user;
    f->live -= p != NULL;
    free(p);
}

static void test_alloc_failure(void) {
    float x[6] = {1, 2, 3, 4, 5, 6}, g[3] = {1, 1, 1};
    int64_t dx[] = {2, 3}, dg[] = {3};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 2, dx, x), tg = rt_view(FA_DT_F32, 1, dg, g), out;
    for (int k = 0; k < 2; k++) {
        failing f = {0, k, 0};
        fa_rt_allocator fal = {failing_alloc, failing_free, &f};
        CHECK_ERR(fa_rt_norm(FA_RT_NORM_LAYER, &tx, &tg, &tg, -1, 1e-5, &out, &fal),
                  "out of memory");
        CHECK(f.live == 0 && out.data == NULL);
    }
}

/* The fused ops through the interpreter agree with the chains fuse-norms replaces. */
static const char chains_text[] =
    "graph @chains(%x: f32[B,5]) {\n"
    "  const @two = f32[] dense<[2.0]>\n"
    "  const @eps = f32[] dense<[1e-05]>\n"
    "  const @g = f32[5] dense<[1.0, -0.5, 2.0, 0.25, 3.0]>\n"
    "  const @b = f32[5] dense<[0.5, 0.0, -1.0, 2.0, 0.125]>\n"
    "  %sq = pow(%x, @two) : f32[B,5]\n"
    "  %ms = reduce_mean(%sq) {axes = [-1]} : f32[B,1]\n"
    "  %v = add(%ms, @eps) : f32[B,1]\n"
    "  %s = sqrt(%v) : f32[B,1]\n"
    "  %n = div(%x, %s) : f32[B,5]\n"
    "  %rms = mul(%n, @g) : f32[B,5]\n"
    "  %fused_rms = rms_norm(%x, @g) {epsilon = 1e-05} : f32[B,5]\n"
    "  %ln = layer_normalization(%x, @g, @b) {epsilon = 1e-05} : f32[B,5]\n"
    "  %fused_ln = layer_norm(%x, @g, @b) {epsilon = 1e-05} : f32[B,5]\n"
    "  return %rms, %fused_rms, %ln, %fused_ln\n"
    "}\n";

static void test_interp(void) {
    fa_graph *g = NULL;
    fa_status s = fa_graph_parse(chains_text, strlen(chains_text), "chains.fir", NULL, 0, &g);
    CHECK_OK(s);
    if (s)
        return;
    int64_t dx[] = {7, 5};
    fa_rt_tensor x, outs[4];
    CHECK_OK(fa_rt_tensor_alloc(&x, FA_DT_F32, 2, dx, al));
    fill(&x);
    CHECK_OK(fa_rt_interp_run(g, &x, 1, outs, al));
    CHECK(rt_close_f32(outs[1].data, outs[0].data, 35, 1e-6));
    CHECK(rt_close_f32(outs[3].data, outs[2].data, 35, 1e-6));
    fa_rt_tensors_free(outs, 4, al);
    fa_rt_tensor_free(&x, al);
    fa_graph_destroy(g);
}

int main(void) {
    al = fa_rt_allocator_default();
    test_random_shapes();
    test_layer_broadcast();
    test_rms_values();
    test_other_dtypes();
    test_errors();
    test_alloc_failure();
    test_interp();
    return rt_report("test_norm");
}
