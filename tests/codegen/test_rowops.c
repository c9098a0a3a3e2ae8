/* Generated row kernels (codegen/rowops.c) against their C twins (fa_rt_norm, fa_rt_swiglu,
 * fa_rt_gelu, fa_rt_softmax, fa_rt_rope) on every path this machine can run (the host's, AVX2
 * with cpu x86-64-v3, generic with plain x86-64): d = 1, 3, 17, 33, 100, 4103 and elementwise
 * counts of every tail length, 1 to 130 rows, gamma or none, large magnitudes and inf / NaN,
 * rope with d in the key and at run time (d = 1, 2, 3, 17, 64, 101), the step kernel's rope
 * blocks over broadcast cos / sin, and the step kernel's fallback to the C kernel for operands
 * it was not built for.
 * Tolerances (float ulps against the twin): rms_norm, gelu and rope 0 (bitwise: the twin's
 * operations in its order, libm's erfc / tanh, rope's f32 products and sum without FMA);
 * swiglu and softmax 1 (a vectorized double exp instead of
 * libm's, and for softmax the row sum in vector lanes: the double results differ by ~1e-16
 * relative, so a float differs only where the double lies that close to a rounding boundary;
 * the counts are printed). `test_rowops --bench [rows d]` times the host kernels against the
 * twins instead. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "codegen/jit.h"
#include "codegen/rowops.h"
#include "runtime/runtime.h"
#include "tests/test_util.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) { return (uint32_t)(test_xorshift(&rng) >> 16); }

static float rnd_unit(void) { return (float)rnd() / 2147483648.0f * 2.0f - 1.0f; }

/* Distance in float ulps (both NaN: 0; one NaN: huge). */
static int64_t ulps(float a, float b) {
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b) ? 0 : INT64_MAX;
    int32_t i, j;
    memcpy(&i, &a, 4);
    memcpy(&j, &b, 4);
    int64_t oi = i < 0 ? (int64_t)INT32_MIN - i : i, oj = j < 0 ? (int64_t)INT32_MIN - j : j;
    return oi > oj ? oi - oj : oj - oi;
}

/* y by the C twin of |op| for x [rows, d] (false on error); rope: x2 and gamma are cos and sin
 * [rows, d]. */
static bool reference(fa_rowop_kind op, const float *x, const float *x2, const float *gamma,
                      int64_t rows, int64_t d, double eps, bool gelu_tanh, float *y) {
    int64_t dims[2] = {rows, d}, gd[1] = {d};
    uint64_t bytes = sizeof(float) * (uint64_t)(rows * d);
    fa_rt_tensor xt = fa_rt_tensor_view(FA_DT_F32, 2, dims, x, bytes);
    fa_rt_tensor ut = fa_rt_tensor_view(FA_DT_F32, 2, dims, x2, bytes);
    fa_rt_tensor gt = fa_rt_tensor_view(FA_DT_F32, 1, gd, gamma, sizeof(float) * (uint64_t)d);
    fa_rt_tensor st = fa_rt_tensor_view(FA_DT_F32, 2, dims, gamma, bytes);
    const fa_rt_allocator *al = fa_rt_allocator_default();
    fa_rt_tensor out;
    fa_status s = FA_OK;
    switch (op) {
    case FA_ROWOP_RMS_NORM:
        s = fa_rt_norm(FA_RT_NORM_RMS, &xt, gamma ? &gt : NULL, NULL, -1, eps, &out, al);
        break;
    case FA_ROWOP_SWIGLU: s = fa_rt_swiglu(&xt, &ut, &out, al); break;
    case FA_ROWOP_GELU: s = fa_rt_gelu(&xt, gelu_tanh, &out, al); break;
    case FA_ROWOP_SOFTMAX: s = fa_rt_softmax(false, &xt, -1, &out, al); break;
    case FA_ROWOP_ROPE: s = fa_rt_rope(&xt, &ut, &st, false, &out, al); break;
    }
    CHECK_OK(s);
    if (s)
        return false;
    memcpy(y, out.data, bytes);
    fa_rt_tensor_free(&out, al);
    return true;
}

/* Per op: elements compared, elements not bitwise equal, max ulps. */
static uint64_t compared[5], differing[5];
static int64_t max_ulps[5];
static int kernels_checked;

/* A random input element for |op|: mostly moderate, sometimes large, zero or not finite. */
static float input(fa_rowop_kind op, float scale, bool specials) {
    uint32_t k = rnd() % 64;
    if (specials && k == 0)
        return (rnd() % 2 ? 1.0f : -1.0f) * INFINITY;
    if (specials && k == 1)
        return NAN;
    if (k == 2)
        return rnd() % 2 ? 0.0f : -0.0f;
    if (k == 3)
        return rnd_unit() * (op == FA_ROWOP_SOFTMAX ? 1e30f : 1e3f);
    return rnd_unit() * scale;
}

/* The kernel for |key| on |rows| rows against the twin (rope: cos in u, sin in gamma, both
 * [rows, d]). */
static void check_run(const fa_rowop_key *key, fa_rowop_fn fn, int64_t rows, int64_t d, float scale,
                      bool specials) {
    int64_t n = rows * d;
    bool rope = key->op == FA_ROWOP_ROPE;
    int64_t ng = rope ? n : d;
    float *x = malloc(sizeof(float) * (size_t)n), *u = malloc(sizeof(float) * (size_t)n);
    float *gamma = malloc(sizeof(float) * (size_t)ng), *want = malloc(sizeof(float) * (size_t)n);
    float *got = malloc(sizeof(float) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) {
        x[i] = input(key->op, scale, specials);
        u[i] = rope ? rnd_unit() : rnd_unit() * 4.0f;
    }
    for (int64_t i = 0; i < ng; i++)
        gamma[i] = rope ? rnd_unit() : 0.5f + rnd_unit();
    if (key->op == FA_ROWOP_SOFTMAX && specials && rows > 2) {
        for (int64_t i = 0; i < d; i++) /* a row of -inf (NaN out) and a row of one value */
            x[i] = -INFINITY, x[d + i] = 3.0f;
    }
    got[n] = 12345.0f; /* no write past the end */
    bool ok = reference(key->op, x, key->op == FA_ROWOP_SWIGLU || rope ? u : NULL,
                        key->has_gamma || rope ? gamma : NULL, rows, d, key->epsilon,
                        key->gelu_tanh, want);
    bool any_d = rope || key->op == FA_ROWOP_SOFTMAX; /* key d = 0: d at run time */
    bool elementwise = key->d == 0 && !any_d;
    fa_rowop_run(fn, x, key->op == FA_ROWOP_SWIGLU || rope ? u : NULL,
                 key->has_gamma || rope ? gamma : NULL, got, elementwise ? n : rows,
                 any_d && key->d == 0 ? d : 0);
    CHECK(got[n] == 12345.0f);
    int64_t tol = key->op == FA_ROWOP_SWIGLU || key->op == FA_ROWOP_SOFTMAX ? 1 : 0;
    int64_t worst = 0, where = -1;
    for (int64_t i = 0; ok && i < n; i++) {
        int64_t e = ulps(got[i], want[i]);
        bool same = memcmp(&got[i], &want[i], 4) == 0 || (isnan(got[i]) && isnan(want[i]));
        differing[key->op] += !same;
        compared[key->op]++;
        if (e > worst)
            worst = e, where = i;
    }
    if (worst > max_ulps[key->op])
        max_ulps[key->op] = worst;
    if (worst > tol) {
        fprintf(stderr,
                "%s %s d=%lld gamma=%d tanh=%d rows=%lld scale=%g: element %lld (x %.9g) is "
                "%.9g, want %.9g (%lld ulps > %lld)\n",
                key->target.cpu, fa_rowop_kind_name(key->op), (long long)d, key->has_gamma,
                key->gelu_tanh, (long long)rows, (double)scale, (long long)where, (double)x[where],
                (double)got[where], (double)want[where], (long long)worst, (long long)tol);
        test_failures++;
    }
    free(x);
    free(u);
    free(gamma);
    free(want);
    free(got);
}

static void check_key(const fa_rowop_key *key) {
    fa_rowop_fn fn = NULL;
    CHECK_OK(fa_rowop_get(key, &fn));
    if (!fn)
        return;
    kernels_checked++;
    static const int64_t row_counts[] = {1, 2, 7, 130};
    static const float scales[] = {1.0f, 8.0f, 1e4f};
    /* rope and softmax with d at run time: one kernel for every d */
    static const int64_t rope_ds[] = {1, 2, 3, 17, 64, 101};
    bool any_d = (key->op == FA_ROWOP_ROPE || key->op == FA_ROWOP_SOFTMAX) && key->d == 0;
    for (size_t di = 0; di < (any_d ? sizeof rope_ds / sizeof *rope_ds : 1); di++) {
        int64_t d = any_d ? rope_ds[di] : key->d ? key->d : 37;
        for (size_t ri = 0; ri < sizeof row_counts / sizeof *row_counts; ri++) {
            int64_t rows = row_counts[ri];
            if (d > 1000 && rows > 7)
                continue;
            for (size_t si = 0; si < sizeof scales / sizeof *scales; si++)
                check_run(key, fn, rows, d, scales[si], si == 1);
        }
    }
    if (key->d == 0 && !any_d) /* elementwise: a million values for the counts */
        check_run(key, fn, 1, (1 << 20) + 5, 8.0f, false);
}

static void check_path(const fa_jit_target *t, fa_rowop_path path) {
    static const int64_t ds[] = {1, 3, 17, 33, 100, 4096 + 7};
    fa_rowop_key key;
    for (size_t di = 0; di < sizeof ds / sizeof *ds; di++)
        for (int variant = 0; variant < 2; variant++) {
            memset(&key, 0, sizeof key);
            key.target = *t;
            key.path = path;
            key.d = ds[di];
            key.op = FA_ROWOP_RMS_NORM;
            key.has_gamma = variant == 1;
            key.epsilon = variant ? (double)1e-6f : 1e-5;
            check_key(&key);
            key.has_gamma = false;
            key.epsilon = 0.0;
            key.op = FA_ROWOP_SOFTMAX;
            if (variant == 0)
                check_key(&key);
            key.op = FA_ROWOP_ROPE;
            if (variant == 0)
                check_key(&key);
        }
    memset(&key, 0, sizeof key);
    key.target = *t;
    key.path = path;
    key.op = FA_ROWOP_ROPE; /* d at run time */
    check_key(&key);
    key.op = FA_ROWOP_SOFTMAX; /* d at run time (attention rows as long as the sequence) */
    check_key(&key);
    for (int op = 0; op < 3; op++) {
        memset(&key, 0, sizeof key);
        key.target = *t;
        key.path = path;
        key.op = op == 0 ? FA_ROWOP_SWIGLU : FA_ROWOP_GELU;
        key.gelu_tanh = op == 2;
        check_key(&key);
    }
}

/* ---- the step kernel: operands the kernel was not built for go to the C kernel ---- */

static fa_status step_run(fa_rt_step_kernel k, const void *params, const fa_rt_tensor *a,
                          const fa_rt_tensor *b, fa_rt_tensor *out) {
    const fa_rt_tensor *ins[2] = {a, b};
    return k(params, ins, b ? 2 : 1, out, 1, fa_rt_allocator_default());
}

/* The step's result on (a, b) equals |want|'s status and data (the C kernel's). */
static void check_step_same(fa_rt_step_kernel k, const void *params, const fa_rt_tensor *a,
                            const fa_rt_tensor *b, fa_status want_s, const fa_rt_tensor *want) {
    const fa_rt_allocator *al = fa_rt_allocator_default();
    fa_rt_tensor out;
    fa_status s = step_run(k, params, a, b, &out);
    CHECK((s == FA_OK) == (want_s == FA_OK));
    if (s && want_s)
        CHECK(strcmp(fa_status_message(s), fa_status_message(want_s)) == 0);
    if (!s && !want_s) {
        CHECK(out.nbytes == want->nbytes && out.rank == want->rank);
        CHECK(memcmp(out.data, want->data, want->nbytes) == 0);
    }
    if (!s)
        fa_rt_tensor_free(&out, al);
    fa_status_free(s);
    fa_status_free(want_s);
    if (!want_s)
        fa_rt_tensor_free((fa_rt_tensor *)want, al);
}

static void check_step(const fa_jit_target *t) {
    const fa_rt_allocator *al = fa_rt_allocator_default();
    float x[3 * 9], u[3 * 9], gamma[9];
    for (int i = 0; i < 27; i++)
        x[i] = rnd_unit() * 3.0f, u[i] = rnd_unit();
    for (int i = 0; i < 9; i++)
        gamma[i] = 1.0f + rnd_unit() * 0.5f;
    int64_t d8[2] = {3, 8}, d9[2] = {3, 9}, g8[1] = {8}, g5[1] = {5}, d38[2] = {2, 12};
    fa_rt_tensor x8 = fa_rt_tensor_view(FA_DT_F32, 2, d8, x, sizeof(float) * 24);
    fa_rt_tensor x9 = fa_rt_tensor_view(FA_DT_F32, 2, d9, x, sizeof x);
    fa_rt_tensor u8 = fa_rt_tensor_view(FA_DT_F32, 2, d8, u, sizeof(float) * 24);
    fa_rt_tensor u212 = fa_rt_tensor_view(FA_DT_F32, 2, d38, u, sizeof(float) * 24);
    fa_rt_tensor gm8 = fa_rt_tensor_view(FA_DT_F32, 1, g8, gamma, sizeof(float) * 8);
    fa_rt_tensor gm9 = fa_rt_tensor_view(FA_DT_F32, 1, d9 + 1, gamma, sizeof gamma);
    fa_rt_tensor gm5 = fa_rt_tensor_view(FA_DT_F32, 1, g5, gamma, sizeof(float) * 5);
    fa_rt_tensor xi = fa_rt_tensor_view(FA_DT_I32, 2, d8, x, sizeof(float) * 24);
    /* a row-range view: rows 1..2 of x8 */
    fa_rt_tensor x8r =
        fa_rt_tensor_view(FA_DT_F32, 2, (int64_t[]){2, 8}, x + 8, sizeof(float) * 16);
    fa_rowop_key key;
    memset(&key, 0, sizeof key);
    key.target = *t;
    key.op = FA_ROWOP_RMS_NORM;
    key.d = 8;
    key.has_gamma = true;
    key.epsilon = 1e-6;
    fa_rowop_fn fn = NULL;
    fa_rt_step_kernel k = NULL;
    void *params = NULL;
    CHECK_OK(fa_rowop_get(&key, &fn));
    CHECK_OK(fa_cg_rowop_step_create(&key, fn, -1, &k, &params));
    if (!fn || !k)
        return;
    fa_rt_tensor want;
    double eps = 1e-6;
    /* built for: equal to the twin (bitwise for rms_norm), whole and as a row range */
    check_step_same(k, params, &x8, &gm8,
                    fa_rt_norm(FA_RT_NORM_RMS, &x8, &gm8, NULL, -1, eps, &want, al), &want);
    check_step_same(k, params, &x8r, &gm8,
                    fa_rt_norm(FA_RT_NORM_RMS, &x8r, &gm8, NULL, -1, eps, &want, al), &want);
    /* not built for: another d, no gamma, a bad gamma, an integer x */
    check_step_same(k, params, &x9, &gm9,
                    fa_rt_norm(FA_RT_NORM_RMS, &x9, &gm9, NULL, -1, eps, &want, al), &want);
    check_step_same(k, params, &x8, NULL,
                    fa_rt_norm(FA_RT_NORM_RMS, &x8, NULL, NULL, -1, eps, &want, al), &want);
    check_step_same(k, params, &x8, &gm5,
                    fa_rt_norm(FA_RT_NORM_RMS, &x8, &gm5, NULL, -1, eps, &want, al), &want);
    check_step_same(k, params, &xi, &gm8,
                    fa_rt_norm(FA_RT_NORM_RMS, &xi, &gm8, NULL, -1, eps, &want, al), &want);
    free(params);

    key.op = FA_ROWOP_SOFTMAX;
    key.has_gamma = false;
    key.epsilon = 0.0;
    CHECK_OK(fa_rowop_get(&key, &fn));
    CHECK_OK(fa_cg_rowop_step_create(&key, fn, -1, &k, &params));
    check_step_same(k, params, &x9, NULL, fa_rt_softmax(false, &x9, -1, &want, al), &want);
    check_step_same(k, params, &xi, NULL, fa_rt_softmax(false, &xi, -1, &want, al), &want);
    free(params);

    memset(&key, 0, sizeof key);
    key.target = *t;
    key.op = FA_ROWOP_SWIGLU;
    CHECK_OK(fa_rowop_get(&key, &fn));
    CHECK_OK(fa_cg_rowop_step_create(&key, fn, -1, &k, &params));
    /* u of another shape: the twin's error */
    check_step_same(k, params, &x8, &u212, fa_rt_swiglu(&x8, &u212, &want, al), &want);
    check_step_same(k, params, &xi, &u8, fa_rt_swiglu(&xi, &u8, &want, al), &want);
    /* built for: within 1 ulp of the twin */
    fa_rt_tensor out;
    CHECK_OK(step_run(k, params, &x8, &u8, &out));
    CHECK_OK(fa_rt_swiglu(&x8, &u8, &want, al));
    for (int i = 0; i < 24 && out.data; i++)
        CHECK(ulps(((float *)out.data)[i], ((float *)want.data)[i]) <= 1);
    fa_rt_tensor_free(&out, al);
    fa_rt_tensor_free(&want, al);
    free(params);

    key.op = FA_ROWOP_GELU;
    CHECK_OK(fa_rowop_get(&key, &fn));
    CHECK_OK(fa_cg_rowop_step_create(&key, fn, -1, &k, &params));
    check_step_same(k, params, &x9, NULL, fa_rt_gelu(&x9, false, &want, al), &want);
    check_step_same(k, params, &xi, NULL, fa_rt_gelu(&xi, false, &want, al), &want);
    free(params);
}

/* The rope step kernel with |key| on x, cos, sin: equal to fa_rt_rope's status, message and data
 * (the generated kernel where it fits, the C kernel where it does not). */
static void check_rope_step(const fa_rowop_key *key, const fa_rt_tensor *x, const fa_rt_tensor *c,
                            const fa_rt_tensor *s) {
    const fa_rt_allocator *al = fa_rt_allocator_default();
    fa_rowop_fn fn = NULL;
    fa_rt_step_kernel k = NULL;
    void *params = NULL;
    CHECK_OK(fa_rowop_get(key, &fn));
    CHECK_OK(fa_cg_rowop_step_create(key, fn, -1, &k, &params));
    if (!k)
        return;
    const fa_rt_tensor *ins[3] = {x, c, s};
    fa_rt_tensor out, want;
    fa_status got_s = k(params, ins, 3, &out, 1, al);
    fa_status want_s = fa_rt_rope(x, c, s, false, &want, al);
    CHECK((got_s == FA_OK) == (want_s == FA_OK));
    if (got_s && want_s)
        CHECK(strcmp(fa_status_message(got_s), fa_status_message(want_s)) == 0);
    if (!got_s && !want_s) {
        CHECK(out.nbytes == want.nbytes && out.rank == want.rank);
        CHECK(memcmp(out.dims, want.dims, sizeof(int64_t) * (size_t)want.rank) == 0);
        CHECK(memcmp(out.data, want.data, (size_t)want.nbytes) == 0);
    }
    if (!got_s)
        fa_rt_tensor_free(&out, al);
    if (!want_s)
        fa_rt_tensor_free(&want, al);
    fa_status_free(got_s);
    fa_status_free(want_s);
    free(params);
}

/* Rope steps: the models' layout (x [B, H, T, d], cos / sin [T, d]: blocks of T rows), cos and
 * sin of x's shape (one block), broadcast over a middle dim ([B, 1, T, d]: an offset per batch),
 * constant over rows ([1, d]: blocks of one row), rank 1, a row-range view, then operands the
 * kernel was not built for: another d, cos wider than x (y is not x's shape), cos with last dim
 * 1, an integer x, mismatched shapes (the twin's error). */
static void check_rope_steps(const fa_jit_target *t) {
    enum { N = 2 * 3 * 5 * 8 };
    static float x[N], c[N], s[N];
    for (int i = 0; i < N; i++)
        x[i] = rnd_unit() * 3.0f, c[i] = rnd_unit(), s[i] = rnd_unit();
    int64_t dx[4] = {2, 3, 5, 8}, dt[2] = {5, 8}, db[4] = {2, 1, 5, 8}, d1[2] = {1, 8};
    int64_t dr[1] = {8}, dw[3] = {3, 5, 8}, dl[2] = {5, 1}, d7[2] = {5, 7};
    fa_rt_tensor tx = fa_rt_tensor_view(FA_DT_F32, 4, dx, x, sizeof x);
    fa_rt_tensor ct = fa_rt_tensor_view(FA_DT_F32, 2, dt, c, sizeof(float) * 40);
    fa_rt_tensor st = fa_rt_tensor_view(FA_DT_F32, 2, dt, s, sizeof(float) * 40);
    fa_rt_tensor cx = fa_rt_tensor_view(FA_DT_F32, 4, dx, c, sizeof c);
    fa_rt_tensor sx = fa_rt_tensor_view(FA_DT_F32, 4, dx, s, sizeof s);
    fa_rt_tensor cb = fa_rt_tensor_view(FA_DT_F32, 4, db, c, sizeof(float) * 80);
    fa_rt_tensor c1 = fa_rt_tensor_view(FA_DT_F32, 2, d1, c, sizeof(float) * 8);
    fa_rt_tensor s1 = fa_rt_tensor_view(FA_DT_F32, 2, d1, s, sizeof(float) * 8);
    fa_rt_tensor xr = fa_rt_tensor_view(FA_DT_F32, 1, dr, x, sizeof(float) * 8);
    fa_rt_tensor cr = fa_rt_tensor_view(FA_DT_F32, 1, dr, c, sizeof(float) * 8);
    fa_rt_tensor xw = fa_rt_tensor_view(FA_DT_F32, 3, dw, x, sizeof(float) * 120);
    fa_rt_tensor cl = fa_rt_tensor_view(FA_DT_F32, 2, dl, c, sizeof(float) * 5);
    fa_rt_tensor x7 = fa_rt_tensor_view(FA_DT_F32, 2, d7, x, sizeof(float) * 35);
    fa_rt_tensor xi = fa_rt_tensor_view(FA_DT_I32, 4, dx, x, sizeof x);
    /* rows 1..2 of x [2, 3, 5, 8] split over its first two dims: dims [1, 2, 5, 8] */
    fa_rt_tensor xv =
        fa_rt_tensor_view(FA_DT_F32, 4, (int64_t[]){1, 2, 5, 8}, x + 40, sizeof(float) * 80);
    fa_rowop_key key;
    memset(&key, 0, sizeof key);
    key.target = *t;
    key.op = FA_ROWOP_ROPE;
    for (int dyn = 0; dyn < 2; dyn++) {
        key.d = dyn ? 0 : 8;
        check_rope_step(&key, &tx, &ct, &st);
        check_rope_step(&key, &tx, &cx, &sx);
        check_rope_step(&key, &tx, &cb, &ct);
        check_rope_step(&key, &tx, &c1, &s1);
        check_rope_step(&key, &tx, &c1, &st);
        check_rope_step(&key, &xr, &cr, &cr);
        check_rope_step(&key, &xv, &ct, &st);
        /* not built for */
        check_rope_step(&key, &x7, &x7, &x7);
        check_rope_step(&key, &xr, &xw, &xw);
        check_rope_step(&key, &xw, &cl, &ct);
        check_rope_step(&key, &xi, &ct, &st);
        check_rope_step(&key, &tx, &xw, &x7);
    }
}

/* Keys the checker rejects, the cache, the signature. */
static void check_keys(const fa_jit_target *host) {
    fa_rowop_key key;
    fa_rowop_path path;
    memset(&key, 0, sizeof key);
    key.target = *host;
    key.op = FA_ROWOP_RMS_NORM;
    CHECK_ERROR(fa_rowop_key_check(&key, &path), "d = 0");
    key.op = FA_ROWOP_SOFTMAX;
    key.d = 5;
    key.has_gamma = true;
    CHECK_ERROR(fa_rowop_key_check(&key, &path), "gamma");
    key.has_gamma = false;
    fa_rowop_fn f1 = NULL, f2 = NULL;
    CHECK_OK(fa_rowop_get(&key, &f1));
    fa_jit_stats s1, s2;
    fa_jit_stats_get(&s1);
    CHECK_OK(fa_rowop_get(&key, &f2));
    fa_jit_stats_get(&s2);
    CHECK(f1 && f1 == f2 && s2.hits == s1.hits + 1 && s2.compiled == s1.compiled);
    char sig[8192];
    CHECK(fa_rowop_signature(&key, sig, sizeof sig));
    CHECK(strstr(sig, "rowop softmax d=5") != NULL);
    fa_jit_target x86;
    CHECK_OK(fa_jit_target_init(&x86, "x86-64", ""));
    key.target = x86;
    key.path = FA_ROWOP_AVX512;
    CHECK_ERROR(fa_rowop_get(&key, &f2), "lacks");
}

/* ---- --bench ---- */

/* |variant|: the tanh form for gelu; d at run time (key d = 0) for rope. */
static void bench_one(const fa_jit_target *host, fa_rowop_kind op, bool variant, int64_t rows,
                      int64_t d) {
    fa_rowop_key key;
    memset(&key, 0, sizeof key);
    key.target = *host;
    key.op = op;
    bool tanh_form = op == FA_ROWOP_GELU && variant, rope = op == FA_ROWOP_ROPE;
    key.gelu_tanh = tanh_form;
    bool elementwise = op == FA_ROWOP_SWIGLU || op == FA_ROWOP_GELU;
    key.d = elementwise || (rope && variant) ? 0 : d;
    key.has_gamma = op == FA_ROWOP_RMS_NORM;
    key.epsilon = op == FA_ROWOP_RMS_NORM ? 1e-6 : 0.0;
    fa_rowop_fn fn = NULL;
    CHECK_OK(fa_rowop_get(&key, &fn));
    if (!fn)
        return;
    int64_t n = rows * d;
    float *x = malloc(sizeof(float) * (size_t)n), *u = malloc(sizeof(float) * (size_t)n);
    float *y = malloc(sizeof(float) * (size_t)n), *want = malloc(sizeof(float) * (size_t)n);
    int64_t ng = rope ? n : d; /* rope: sin [rows, d] */
    float *gamma = malloc(sizeof(float) * (size_t)ng);
    for (int64_t i = 0; i < n; i++)
        x[i] = rnd_unit() * 4.0f, u[i] = rnd_unit();
    for (int64_t i = 0; i < ng; i++)
        gamma[i] = rope ? rnd_unit() : 1.0f + rnd_unit() * 0.1f;
    double best_jit = 1e30, best_ref = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = test_seconds();
        fa_rowop_run(fn, x, u, gamma, y, elementwise ? n : rows, key.d == 0 && rope ? d : 0);
        double t1 = test_seconds();
        reference(op, x, u, gamma, rows, d, key.epsilon, tanh_form, want);
        double t2 = test_seconds();
        best_jit = t1 - t0 < best_jit ? t1 - t0 : best_jit;
        best_ref = t2 - t1 < best_ref ? t2 - t1 : best_ref;
    }
    int64_t worst = 0;
    for (int64_t i = 0; i < n; i++)
        worst = ulps(y[i], want[i]) > worst ? ulps(y[i], want[i]) : worst;
    printf("rowop %-8s%s rows=%lld d=%lld cpu %s: generated %.3f ms, C twin %.3f ms (%.1fx), "
           "max %lld ulps\n",
           fa_rowop_kind_name(op),
           op == FA_ROWOP_GELU ? (tanh_form ? " tanh" : " erf ")
           : rope              ? (variant ? " d?  " : " d   ")
                               : "",
           (long long)rows, (long long)d, host->cpu, best_jit * 1e3, best_ref * 1e3,
           best_ref / best_jit, (long long)worst);
    free(x);
    free(u);
    free(y);
    free(want);
    free(gamma);
}

static int bench(int64_t rows, int64_t d) {
    fa_jit_target host;
    fa_jit_target_host(&host);
    bench_one(&host, FA_ROWOP_RMS_NORM, false, rows, d);
    bench_one(&host, FA_ROWOP_SWIGLU, false, rows, d);
    bench_one(&host, FA_ROWOP_GELU, false, rows, d);
    bench_one(&host, FA_ROWOP_GELU, true, rows, d);
    bench_one(&host, FA_ROWOP_SOFTMAX, false, rows, d);
    bench_one(&host, FA_ROWOP_ROPE, false, rows, d);
    bench_one(&host, FA_ROWOP_ROPE, true, rows, d);
    fa_jit_shutdown();
    TEST_MAIN_END();
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        return bench(argc > 2 ? atoll(argv[2]) : 512, argc > 3 ? atoll(argv[3]) : 2048);
    fa_jit_target host, avx2, generic;
    fa_jit_target_host(&host);
    CHECK_OK(fa_jit_target_init(&avx2, "x86-64-v3", "+avx2,+fma,+f16c,+bmi2"));
    CHECK_OK(fa_jit_target_init(&generic, "x86-64", ""));
    printf("host cpu %s\n", host.cpu);
    if (fa_jit_target_has(&host, "avx512f"))
        check_path(&host, FA_ROWOP_AVX512);
    else
        printf("host has no avx512f: the AVX-512 path is not run\n");
    if (fa_jit_target_has(&host, "avx2"))
        check_path(&avx2, FA_ROWOP_AVX2);
    check_path(&generic, FA_ROWOP_GENERIC);
    check_step(&host);
    check_step(&generic);
    check_rope_steps(&host);
    check_rope_steps(&generic);
    check_keys(&host);
    static const char *names[5] = {"rms_norm", "swiglu", "gelu", "softmax", "rope"};
    printf("%d kernels checked\n", kernels_checked);
    for (int op = 0; op < 5; op++)
        printf("  %-8s %llu elements, %llu not bitwise equal to the twin, max %lld ulps\n",
               names[op], (unsigned long long)compared[op], (unsigned long long)differing[op],
               (long long)max_ulps[op]);
    fa_jit_shutdown();
    TEST_MAIN_END();
}
