/* The quantized graph's reference kernels (runtime/qops.c) against naive loops written here from
 * the semantics in ir/ops.def, on random shapes with odd sizes: the arithmetic is defined exactly,
 * so results must be bitwise equal. Also the error cases, and that the IR verifier and the runtime
 * parser accept the same token-type rules. */
#include <stdlib.h>

#include "runtime/token_type.h"
#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_u32(void) { return rt_xorshift(&rng); }

static int rand_int(int lo, int hi) { return lo + (int)(next_u32() % (uint32_t)(hi - lo + 1)); }
static float rand_f(void) { return (float)next_u32() / 2097152.0f - 1024.0f; } /* [-1024, 1024) */
static float rand_unit(void) { return (float)next_u32() / 2147483648.0f - 1.0f; }

static bool same_bits(const void *a, const void *b, size_t n, const char *what) {
    if (memcmp(a, b, n) == 0)
        return true;
    fprintf(stderr, "  %s differs\n", what);
    return false;
}

/* A tensor view with the byte size right for i4 too. */
static fa_rt_tensor view(fa_dtype dt, int rank, const int64_t *dims, const void *data) {
    uint64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (uint64_t)dims[i];
    return fa_rt_tensor_view(dt, rank, dims, data, (n * fa_dtype_bits(dt) + 7) / 8);
}

/* Splits |rows| into leading dims: [2, rows / 2] when even and |split|, else [rows]. */
static int lead_dims(int rows, bool split, int64_t *dims) {
    if (split && rows % 2 == 0) {
        dims[0] = 2;
        dims[1] = rows / 2;
        return 2;
    }
    dims[0] = rows;
    return 1;
}

/* ---- routed_transform ---- */

static void test_routed_transform(void) {
    const int ds[] = {1, 7, 33, 96};
    for (int c = 0; c < 24; c++) {
        int d = ds[c % 4], rows = rand_int(1, 9), ntypes = rand_int(1, 3);
        bool with_tt = c % 3 != 0;
        int64_t xd[FA_MAX_RANK];
        int lr = lead_dims(rows, c % 2, xd);
        xd[lr] = d;
        int64_t ad[3] = {ntypes, d, d};
        float *x = malloc(sizeof(float) * (size_t)(rows * d));
        float *a = malloc(sizeof(float) * (size_t)(ntypes * d * d));
        float *want = malloc(sizeof(float) * (size_t)(rows * d));
        float *mag = malloc(sizeof(float) * (size_t)(rows * d));
        uint8_t tt[9];
        for (int i = 0; i < rows * d; i++)
            x[i] = rand_unit();
        for (int i = 0; i < ntypes * d * d; i++)
            a[i] = rand_unit();
        for (int r = 0; r < rows; r++)
            tt[r] = with_tt ? (uint8_t)rand_int(0, ntypes - 1) : 0;
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d; j++) {
                double s = 0.0, m = 0.0;
                for (int i = 0; i < d; i++) {
                    double p = (double)x[r * d + i] * a[(tt[r] * d + i) * d + j];
                    s += p;
                    m += fabs(p);
                }
                want[r * d + j] = (float)s;
                mag[r * d + j] = (float)m;
            }
        fa_rt_tensor xt = view(FA_DT_F32, lr + 1, xd, x), at = view(FA_DT_F32, 3, ad, a);
        fa_rt_tensor tv = view(FA_DT_U8, lr, xd, tt), out;
        CHECK_OK(fa_rt_routed_transform(&xt, with_tt ? &tv : NULL, &at, &out, al));
        CHECK(rt_shape_is(&out, lr + 1, xd));
        /* f32 sums in BLAS order: within d f32 roundings of the exact sum of |terms|. */
        const float *got = out.data;
        for (int i = 0; i < rows * d; i++)
            CHECK(fabsf(got[i] - want[i]) <= 2e-7f * (float)(d + 1) * mag[i]);
        fa_rt_tensor_free(&out, al);
        if (with_tt) { /* a type past the last transform */
            tt[rows - 1] = (uint8_t)ntypes;
            char needle[64];
            snprintf(needle, sizeof needle, "token %d has type %d, but a holds %d", rows - 1,
                     ntypes, ntypes);
            CHECK_ERR(fa_rt_routed_transform(&xt, &tv, &at, &out, al), needle);
        }
        free(x);
        free(a);
        free(want);
        free(mag);
    }
    /* hand-checked: [1, 2] times [[0, 1], [1, 0]] (type 1) and the identity (type 0) */
    float x[4] = {1, 2, 3, 4}, a[8] = {1, 0, 0, 1, 0, 1, 1, 0}, want[4] = {2, 1, 3, 4};
    uint8_t tt[2] = {1, 0};
    int64_t xd[3] = {1, 2, 2}, ad[3] = {2, 2, 2};
    fa_rt_tensor xt = view(FA_DT_F32, 3, xd, x), at = view(FA_DT_F32, 3, ad, a), out;
    fa_rt_tensor tv = view(FA_DT_U8, 2, xd, tt);
    CHECK_OK(fa_rt_routed_transform(&xt, &tv, &at, &out, al));
    CHECK(same_bits(out.data, want, sizeof want, "routed_transform 2x2"));
    fa_rt_tensor_free(&out, al);
    fa_rt_tensor bad = view(FA_DT_U8, 1, xd, tt); /* tt [1], x [1, 2, 2] */
    CHECK_ERR(fa_rt_routed_transform(&xt, &bad, &at, &out, al), "does not match x");
}

/* ---- quantize ---- */

/* The reference of ir/ops.def, written out. */
static void naive_quantize(const float *x, int rows, int d, const uint8_t *tt, const float *clip,
                           int bits, int8_t *codes, float *scales) {
    int qmax = bits == 4 ? 7 : 127;
    for (int r = 0; r < rows; r++) {
        float amax = 0.0f;
        for (int j = 0; j < d; j++)
            if (fabsf(x[r * d + j]) > amax)
                amax = fabsf(x[r * d + j]);
        float m = (clip ? clip[tt ? tt[r] : 0] : 1.0f) * amax;
        float s = m / (float)qmax;
        scales[r] = s;
        for (int j = 0; j < d; j++) {
            int code = 0;
            if (s != 0.0f) {
                float q = rintf(x[r * d + j] / s);
                code = q < (float)(-qmax - 1) ? -qmax - 1 : q > (float)qmax ? qmax : (int)q;
            }
            codes[r * d + j] = (int8_t)code;
        }
    }
}

static void test_quantize(void) {
    const int ds[] = {1, 7, 33, 96, 257};
    int saturated = 0;
    for (int c = 0; c < 40; c++) {
        int d = ds[c % 5], rows = rand_int(1, 9), ntypes = rand_int(1, 3), bits = c % 2 ? 4 : 8;
        bool with_tt = c % 3 != 0, with_clip = c % 4 != 0;
        int64_t xd[FA_MAX_RANK];
        int lr = lead_dims(rows, c % 2, xd);
        xd[lr] = d;
        float *x = malloc(sizeof(float) * (size_t)(rows * d));
        int8_t *codes = malloc((size_t)(rows * d));
        float scales[9], clip[3];
        uint8_t tt[9];
        for (int i = 0; i < rows * d; i++)
            x[i] = rand_f() * (c % 5 == 2 ? 1e-3f : 1.0f);
        for (int k = 0; k < ntypes; k++)
            clip[k] = k == 0 ? 1.0f : 0.25f + 0.5f * (float)k / 3.0f; /* < 1: saturation */
        for (int r = 0; r < rows; r++)
            tt[r] = with_tt ? (uint8_t)rand_int(0, ntypes - 1) : 0;
        if (rows > 1) /* a zero row */
            memset(x + d, 0, sizeof(float) * (size_t)d);
        naive_quantize(x, rows, d, with_tt ? tt : NULL, with_clip ? clip : NULL, bits, codes,
                       scales);
        int qmax = bits == 4 ? 7 : 127;
        for (int i = 0; i < rows * d; i++)
            saturated += codes[i] == qmax || codes[i] == -qmax - 1;
        int64_t cd[1] = {ntypes};
        fa_rt_tensor xt = view(FA_DT_F32, lr + 1, xd, x), tv = view(FA_DT_U8, lr, xd, tt);
        fa_rt_tensor ct = view(FA_DT_F32, 1, cd, clip), oc, os;
        CHECK_OK(
            fa_rt_quantize(&xt, with_tt ? &tv : NULL, with_clip ? &ct : NULL, bits, &oc, &os, al));
        int64_t sd[FA_MAX_RANK];
        memcpy(sd, xd, sizeof sd);
        sd[lr] = 1;
        CHECK(oc.dtype == FA_DT_I8 && rt_shape_is(&oc, lr + 1, xd));
        CHECK(os.dtype == FA_DT_F32 && rt_shape_is(&os, lr + 1, sd));
        CHECK(same_bits(oc.data, codes, (size_t)(rows * d), "quantize codes"));
        CHECK(same_bits(os.data, scales, sizeof(float) * (size_t)rows, "quantize scales"));
        if (rows > 1)
            CHECK(((float *)os.data)[1] == 0.0f && ((int8_t *)oc.data)[d] == 0);
        fa_rt_tensor_free(&oc, al);
        fa_rt_tensor_free(&os, al);
        if (with_tt && with_clip) {
            tt[0] = (uint8_t)ntypes;
            CHECK_ERR(fa_rt_quantize(&xt, &tv, &ct, bits, &oc, &os, al), "token 0 has type");
        }
        free(x);
        free(codes);
    }
    CHECK(saturated > 0);
    /* hand-checked, bits 4: max 7 and clip 1 give scale 1, so ties round to even (2.5 -> 2,
     * -3.5 -> -4, 0.5 -> 0); clip 0.5 gives scale 0.5 and saturates 14 -> 7, -14 -> -8. */
    float x[5] = {7.0f, 2.5f, -3.5f, 0.5f, -7.0f}, clip[1] = {0.5f};
    int8_t want1[5] = {7, 2, -4, 0, -7}, want_half[5] = {7, 5, -7, 1, -8};
    int64_t xd[2] = {1, 5}, cd[1] = {1};
    fa_rt_tensor xt = view(FA_DT_F32, 2, xd, x), ct = view(FA_DT_F32, 1, cd, clip), oc, os;
    CHECK_OK(fa_rt_quantize(&xt, NULL, NULL, 4, &oc, &os, al));
    CHECK(same_bits(oc.data, want1, sizeof want1, "quantize 4-bit ties"));
    CHECK(((float *)os.data)[0] == 1.0f);
    fa_rt_tensor_free(&oc, al);
    fa_rt_tensor_free(&os, al);
    CHECK_OK(fa_rt_quantize(&xt, NULL, &ct, 4, &oc, &os, al));
    CHECK(same_bits(oc.data, want_half, sizeof want_half, "quantize 4-bit clip 0.5"));
    CHECK(((float *)os.data)[0] == 0.5f);
    fa_rt_tensor_free(&oc, al);
    fa_rt_tensor_free(&os, al);
    CHECK_ERR(fa_rt_quantize(&xt, NULL, NULL, 3, &oc, &os, al), "bits = 3, expected 4 or 8");
    x[3] = NAN;
    CHECK_ERR(fa_rt_quantize(&xt, NULL, NULL, 8, &oc, &os, al), "row 0 holds a non-finite value");
    x[3] = INFINITY;
    int64_t xd2[2] = {5, 1};
    fa_rt_tensor xt2 = view(FA_DT_F32, 2, xd2, x);
    CHECK_ERR(fa_rt_quantize(&xt2, NULL, NULL, 8, &oc, &os, al), "row 3 holds a non-finite value");
}

/* ---- qlinear and dequantize ---- */

/* Packs |n| i4 values two per byte, low nibble first. */
static void pack_i4(const int8_t *v, uint64_t n, uint8_t *out) {
    memset(out, 0, (size_t)((n + 1) / 2));
    for (uint64_t i = 0; i < n; i++)
        out[i / 2] |= (uint8_t)(((unsigned)v[i] & 0xfu) << ((i % 2) * 4));
}

static void naive_qlinear(const int8_t *codes, const float *scales, const int8_t *w,
                          const float *ws, const float *bias, int rows, int n, int k, int group,
                          float *y) {
    int ng = group ? k / group : 1, gl = group ? group : k;
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++) {
            float v = 0.0f;
            for (int g = 0; g < ng; g++) {
                int32_t acc = 0;
                for (int i = g * gl; i < (g + 1) * gl; i++)
                    acc += (int32_t)codes[r * k + i] * (int32_t)w[j * k + i];
                v += ws[j * ng + g] * (float)acc;
            }
            v *= scales[r];
            if (bias)
                v += bias[j];
            y[r * n + j] = v;
        }
}

static void check_qlinear_case(int k, int group, bool i4, bool with_bias, int c) {
    int rows = rand_int(1, 9), n = 2 * rand_int(0, 6) + 1, ng = group ? k / group : 1;
    int lo = i4 ? -8 : -128, hi = i4 ? 7 : 127;
    int64_t cd[FA_MAX_RANK];
    int lr = lead_dims(rows, c % 2, cd);
    int64_t sd[FA_MAX_RANK];
    memcpy(sd, cd, sizeof sd);
    cd[lr] = k;
    sd[lr] = 1;
    int8_t *codes = malloc((size_t)(rows * k)), *w = malloc((size_t)(n * k));
    uint8_t *packed = malloc((size_t)((n * k + 1) / 2));
    float *ws = malloc(sizeof(float) * (size_t)(n * ng)), scales[9], bias[13];
    float *want = malloc(sizeof(float) * (size_t)(rows * n));
    for (int i = 0; i < rows * k; i++)
        codes[i] = (int8_t)rand_int(-128, 127);
    for (int i = 0; i < n * k; i++)
        w[i] = (int8_t)rand_int(lo, hi);
    for (int i = 0; i < n * ng; i++)
        ws[i] = rand_unit() * 0.01f;
    for (int r = 0; r < rows; r++)
        scales[r] = r == rows - 1 && rows > 1 ? 0.0f : rand_unit() * 0.1f;
    for (int j = 0; j < n; j++)
        bias[j] = rand_unit();
    pack_i4(w, (uint64_t)(n * k), packed);
    naive_qlinear(codes, scales, w, ws, with_bias ? bias : NULL, rows, n, k, group, want);
    int64_t wd[2] = {n, k}, wsd[2] = {n, ng}, bd[1] = {n};
    fa_rt_tensor ct = view(FA_DT_I8, lr + 1, cd, codes), st = view(FA_DT_F32, lr + 1, sd, scales);
    fa_rt_tensor wt = i4 ? view(FA_DT_I4, 2, wd, packed) : view(FA_DT_I8, 2, wd, w);
    fa_rt_tensor wst = view(FA_DT_F32, 2, wsd, ws), bt = view(FA_DT_F32, 1, bd, bias), out;
    CHECK_OK(fa_rt_qlinear(&ct, &st, &wt, &wst, with_bias ? &bt : NULL, group, &out, al));
    int64_t od[FA_MAX_RANK];
    memcpy(od, cd, sizeof od);
    od[lr] = n;
    CHECK(out.dtype == FA_DT_F32 && rt_shape_is(&out, lr + 1, od));
    char what[96];
    snprintf(what, sizeof what, "qlinear K=%d group=%d %s bias=%d rows=%d N=%d", k, group,
             i4 ? "i4" : "i8", with_bias, rows, n);
    CHECK(same_bits(out.data, want, sizeof(float) * (size_t)(rows * n), what));
    fa_rt_tensor_free(&out, al);
    /* dequantize of the same weights */
    float *wf = malloc(sizeof(float) * (size_t)(n * k));
    for (int j = 0; j < n; j++)
        for (int i = 0; i < k; i++)
            wf[j * k + i] = (float)w[j * k + i] * ws[j * ng + (group ? i / group : 0)];
    CHECK_OK(fa_rt_dequantize(&wt, &wst, group, &out, al));
    CHECK(out.dtype == FA_DT_F32 && rt_shape_is(&out, 2, wd));
    snprintf(what, sizeof what, "dequantize K=%d group=%d %s", k, group, i4 ? "i4" : "i8");
    CHECK(same_bits(out.data, wf, sizeof(float) * (size_t)(n * k), what));
    fa_rt_tensor_free(&out, al);
    free(wf);
    free(codes);
    free(w);
    free(packed);
    free(ws);
    free(want);
}

static void test_qlinear(void) {
    const int ks[] = {1, 7, 33, 96, 257};
    int c = 0;
    for (int ki = 0; ki < 5; ki++)
        for (int i4 = 0; i4 < 2; i4++)
            for (int b = 0; b < 2; b++, c++)
                check_qlinear_case(ks[ki], 0, i4, b, c);
    const int gk[][2] = {{96, 32}, {64, 32}, {192, 64}, {128, 64}, {32, 32}};
    for (int gi = 0; gi < 5; gi++)
        for (int i4 = 0; i4 < 2; i4++)
            for (int b = 0; b < 2; b++, c++)
                check_qlinear_case(gk[gi][0], gk[gi][1], i4, b, c);
    /* Long dot products: per channel with K > 1023 takes the int32 loop, groups of 1024 too;
     * K = 1023 per channel is the longest the exact-in-f32 sgemm path takes. */
    const int lk[][2] = {{1023, 0}, {1100, 0}, {2048, 1024}};
    for (int li = 0; li < 3; li++)
        for (int i4 = 0; i4 < 2; i4++, c++)
            check_qlinear_case(lk[li][0], lk[li][1], i4, 1, c);
    /* hand-checked: codes [1, 2, 3, 4], w rows [1, 1, 1, 1] and [-8, 7, 0, 1], group 2 */
    int8_t codes[4] = {1, 2, 3, 4}, w[8] = {1, 1, 1, 1, -8, 7, 0, 1};
    uint8_t packed[4];
    pack_i4(w, 8, packed);
    float scale[1] = {0.5f}, ws[4] = {1.0f, 2.0f, 0.25f, 4.0f}, bias[2] = {1.0f, -1.0f};
    /* row 0: (3 * 1 + 7 * 2) * 0.5 + 1 = 9.5; row 1: (6 * 0.25 + 4 * 4) * 0.5 - 1 = 7.75 */
    float want[2] = {9.5f, 7.75f};
    int64_t cd[2] = {1, 4}, sd[2] = {1, 1}, wd[2] = {2, 4}, wsd[2] = {2, 2}, bd[1] = {2};
    fa_rt_tensor ct = view(FA_DT_I8, 2, cd, codes), st = view(FA_DT_F32, 2, sd, scale);
    fa_rt_tensor wt = view(FA_DT_I4, 2, wd, packed), wst = view(FA_DT_F32, 2, wsd, ws);
    fa_rt_tensor bt = view(FA_DT_F32, 1, bd, bias), out;
    CHECK_OK(fa_rt_qlinear(&ct, &st, &wt, &wst, &bt, 2, &out, al));
    CHECK(same_bits(out.data, want, sizeof want, "qlinear by hand"));
    fa_rt_tensor_free(&out, al);
    CHECK_ERR(fa_rt_qlinear(&ct, &st, &wt, &wst, &bt, 3, &out, al), "group 3 does not divide K");
    CHECK_ERR(fa_rt_qlinear(&ct, &st, &wt, &wst, &bt, 0, &out, al),
              "wscale is [2, 2], expected [2, 1]");
    CHECK_ERR(fa_rt_dequantize(&wt, &wst, 4, &out, al), "wscale is [2, 2], expected [2, 1]");
    int64_t cd3[2] = {1, 3};
    fa_rt_tensor c3 = view(FA_DT_I8, 2, cd3, codes);
    CHECK_ERR(fa_rt_qlinear(&c3, &st, &wt, &wst, &bt, 2, &out, al), "does not match K = 4");
}

/* ---- token_type ---- */

static void test_token_type(void) {
    int64_t ids[6] = {5, 256, 7, 256, 256, 0}, dims[3] = {2, 3, 4};
    fa_rt_tensor it = view(FA_DT_I64, 2, dims, ids), out;
    CHECK_OK(fa_rt_token_type("input_ids==256", &it, &out, al));
    uint8_t want_eq[6] = {0, 1, 0, 1, 1, 0};
    CHECK(out.dtype == FA_DT_U8 && rt_shape_is(&out, 2, dims));
    CHECK(same_bits(out.data, want_eq, 6, "token_type =="));
    fa_rt_tensor_free(&out, al);
    float act[24] = {0};
    fa_rt_tensor at = view(FA_DT_F32, 3, dims, act);
    CHECK_OK(fa_rt_token_type("position<2", &at, &out, al));
    uint8_t want_pos[6] = {1, 1, 0, 1, 1, 0};
    CHECK(rt_shape_is(&out, 2, dims));
    CHECK(same_bits(out.data, want_pos, 6, "token_type position"));
    fa_rt_tensor_free(&out, al);
    int64_t types[6] = {0, 1, 2, 7, 3, 0};
    fa_rt_tensor tt = view(FA_DT_I64, 2, dims, types);
    CHECK_OK(fa_rt_token_type("input:tt", &tt, &out, al));
    uint8_t want_in[6] = {0, 1, 2, 7, 3, 0};
    CHECK(same_bits(out.data, want_in, 6, "token_type input"));
    fa_rt_tensor_free(&out, al);
    types[4] = 8;
    CHECK_ERR(fa_rt_token_type("input:tt", &tt, &out, al), "token_type");
    CHECK_ERR(fa_rt_token_type("input_ids=256", &it, &out, al), "write '=='");
    CHECK_ERR(fa_rt_token_type("input_ids==256", &at, &out, al), "token_type");
}

/* The IR's check of the rule attribute (ir/shape.c) and the runtime parser agree. */
static void test_rule_agreement(void) {
    const char *rules[] = {"input_ids==256",
                           " input_ids == -3 ",
                           "position<16",
                           "position < 1",
                           "input:tt",
                           "input: tt ",
                           "a/b.c-d:e==0",
                           "position<0",
                           "position<-1",
                           "ids<3",
                           "ids=3",
                           "ids==",
                           "==3",
                           "input:",
                           "",
                           "   ",
                           "ids==3 x",
                           "position<99999999999999999999",
                           "ids==9223372036854775807",
                           "ids==9223372036854775808",
                           "input:a b",
                           "position==2",
                           "ids==1.5"};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        fa_rt_token_rule r;
        fa_status ps = fa_rt_token_rule_parse(rules[i], &r);
        char text[512];
        snprintf(text, sizeof text,
                 "graph @t(%%ids: i64[2,3]) {\n  %%tt = token_type(%%ids) {rule = \"%s\"} : "
                 "u8[2,3]\n  return %%tt\n}\n",
                 rules[i]);
        fa_graph *g = NULL;
        fa_status vs = fa_graph_parse(text, strlen(text), "t.fir", NULL, 0, &g);
        if ((ps == FA_OK) != (vs == FA_OK)) {
            fprintf(stderr, "  rule '%s': runtime says %s, IR says %s\n", rules[i],
                    fa_status_message(ps), fa_status_message(vs));
            rt_failures++;
        }
        if (vs)
            CHECK(strstr(fa_status_message(vs), "is not a token-type rule") != NULL);
        fa_status_free(ps);
        fa_status_free(vs);
        fa_graph_destroy(g);
    }
}

int main(void) {
    al = fa_rt_allocator_default();
    test_routed_transform();
    test_quantize();
    test_qlinear();
    test_token_type();
    test_rule_agreement();
    return rt_report("test_qops");
}
