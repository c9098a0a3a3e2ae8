/* Generated fused transform + quantize kernels (codegen/tquant.c) against their C twin
 * fa_rt_transform_quantize on every instruction path this machine can run (the host's, AVX2
 * forced with cpu x86-64-v3, generic vector IR with plain x86-64): random row counts, d a power
 * of two or odd, 1..3 token types of mixed kinds, 4 and 8 bits, clip < 1, zero rows, tt NULL.
 * Identity, diagonal and dense types must be bitwise equal; Hadamard types (an FWHT, not the
 * twin's ordered sum) and Kronecker types (two small products, not the twin's ordered sum over
 * the whole matrix) within the tolerance rule: scales within 1e-5 relative, codes +-1 only
 * where z / scale lies within rounding error of a half-integer. Also structure detection on
 * the project's own matrices (passes/quant/qmath.h: QuaRot's kron(H_p, Q_m)), Kronecker
 * products of random factors and near misses, ties, bad rows and the kernel cache.
 * `test_tquant --bench [rows]` times the host kernels against the twin instead. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "codegen/jit.h"
#include "codegen/tquant.h"
#include "passes/quant/qmath.h"
#include "runtime/runtime.h"
#include "tests/test_util.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) { return (uint32_t)(test_xorshift(&rng) >> 16); }

static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }
static float rnd_unit(void) { return (float)rnd() / 2147483648.0f * 2.0f - 1.0f; }

static bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

/* |a| [d, d] = kron(A1 [p, p], A2 [q, q]) (each entry the f32 product of its factors, as qmath
 * and learn.c build theirs): A1 = diag(s) H_p / sqrt(p) with random signs s when |hadamard|,
 * else random; A2 random. */
static void make_kron(int64_t d, int64_t p, bool hadamard, float *a) {
    int64_t q = d / p;
    float *a1 = malloc(sizeof(float) * (size_t)(p * p)),
          *a2 = malloc(sizeof(float) * (size_t)(q * q));
    float inv = (float)(1.0 / sqrt((double)p)), s1 = (float)(1.5 / sqrt((double)p));
    for (int64_t i = 0; i < p; i++) {
        float sign = rnd() % 2 ? -inv : inv;
        for (int64_t j = 0; j < p; j++)
            a1[i * p + j] = hadamard
                                ? ((__builtin_popcountll((uint64_t)(i & j)) & 1) ? -sign : sign)
                                : rnd_unit() * s1;
    }
    float s2 = (float)(1.5 / sqrt((double)q));
    for (int64_t i = 0; i < q * q; i++)
        a2[i] = rnd_unit() * s2;
    for (int64_t i1 = 0; i1 < p; i1++)
        for (int64_t i2 = 0; i2 < q; i2++)
            for (int64_t j1 = 0; j1 < p; j1++)
                for (int64_t j2 = 0; j2 < q; j2++)
                    a[(i1 * q + i2) * d + j1 * q + j2] = a1[i1 * p + j1] * a2[i2 * q + j2];
    free(a1);
    free(a2);
}

/* The next KRON matrix make_matrix builds: A1's order and structure; p 0: the default. */
static int64_t kron_p_next;
static bool kron_h_next;

/* |a| [d, d] of |kind|: the project's generators for Hadamard and QuaRot's Kronecker products
 * (qmath), random dense, and Kronecker products of random factors (d odd or a power of two, or
 * the shape kron_p_next asks for). */
static void make_matrix(fa_tquant_kind kind, int64_t d, float *a) {
    memset(a, 0, sizeof(float) * (size_t)(d * d));
    switch (kind) {
    case FA_TQUANT_KRON:
        if (kron_p_next) {
            make_kron(d, kron_p_next, kron_h_next, a);
        } else if (d % 2 == 0 && !is_pow2(d)) {
            uint64_t state = rnd();
            CHECK_OK(fa_qmath_hadamard(d, &state, a));
        } else {
            int64_t p = 2;
            while (d % p)
                p++;
            make_kron(d, p, false, a);
        }
        break;
    case FA_TQUANT_IDENTITY:
        for (int64_t i = 0; i < d; i++)
            a[i * d + i] = 1.0f;
        break;
    case FA_TQUANT_DIAG:
        for (int64_t i = 0; i < d; i++)
            a[i * d + i] = rnd_unit() * 2.0f;
        break;
    case FA_TQUANT_HADAMARD: {
        uint64_t state = rnd();
        CHECK_OK(fa_qmath_hadamard(d, &state, a));
        break;
    }
    case FA_TQUANT_DENSE: {
        float s = (float)(2.0 / sqrt((double)d));
        for (int64_t i = 0; i < d * d; i++)
            a[i] = rnd_unit() * s;
        break;
    }
    }
}

/* codes / scales by fa_rt_transform_quantize (false on error). */
static bool reference(const float *x, const uint8_t *tt, const float *a, const float *clip,
                      int64_t rows, int64_t d, int ntypes, int bits, int8_t *codes, float *scales) {
    int64_t xd[2] = {rows, d}, ad[3] = {ntypes, d, d}, kd[1] = {ntypes}, td[1] = {rows};
    fa_rt_tensor xt = fa_rt_tensor_view(FA_DT_F32, 2, xd, x, sizeof(float) * (uint64_t)(rows * d));
    fa_rt_tensor at =
        fa_rt_tensor_view(FA_DT_F32, 3, ad, a, sizeof(float) * (uint64_t)(ntypes * d * d));
    fa_rt_tensor kt = fa_rt_tensor_view(FA_DT_F32, 1, kd, clip, sizeof(float) * (uint64_t)ntypes);
    fa_rt_tensor ttt = fa_rt_tensor_view(FA_DT_U8, 1, td, tt, (uint64_t)rows);
    const fa_rt_allocator *al = fa_rt_allocator_default();
    fa_rt_tensor c, s;
    fa_status st =
        fa_rt_transform_quantize(&xt, tt ? &ttt : NULL, &at, clip ? &kt : NULL, bits, &c, &s, al);
    CHECK_OK(st);
    if (st)
        return false;
    memcpy(codes, c.data, c.nbytes);
    memcpy(scales, s.data, s.nbytes);
    fa_rt_tensor_free(&c, al);
    fa_rt_tensor_free(&s, al);
    return true;
}

/* The tolerance rule on row |r| (see the file comment); z / scale is computed in double from
 * the data, "rounding error" is 2 d u sum_i |x_i a_ij| / scale plus the scale tolerance. */
static bool row_close(const float *x, const float *ak, int64_t d, int64_t r, const int8_t *ca,
                      float sa, const int8_t *cb, float sb, int *ties) {
    if (!(fabs((double)sa - sb) <= 1e-5 * fmax(fabs((double)sa), fabs((double)sb)))) {
        fprintf(stderr, "  row %lld: scale %.9g, want %.9g\n", (long long)r, (double)sa,
                (double)sb);
        return false;
    }
    for (int64_t j = 0; j < d; j++) {
        int c1 = ca[j], c2 = cb[j];
        if (c1 == c2)
            continue;
        double z = 0.0, mag = 0.0;
        for (int64_t i = 0; i < d; i++) {
            double p = (double)x[r * d + i] * ak[i * d + j];
            z += p;
            mag += fabs(p);
        }
        double v = z / sb, mid = (c1 < c2 ? c1 : c2) + 0.5;
        double tol = 2.0 * (double)d * 0x1p-24 * mag / sb + fabs(v) * 2e-5 + 1e-6;
        if (abs(c1 - c2) != 1 || !(fabs(v - mid) <= tol)) {
            fprintf(stderr, "  row %lld col %lld: code %d, want %d (z / scale = %.9g)\n",
                    (long long)r, (long long)j, c1, c2, v);
            return false;
        }
        (*ties)++;
    }
    return true;
}

static int kernels_checked, runs_checked, exact_rows, tol_rows, kron_rows, ties_seen;

/* Builds the kernel for (d, kinds, bits) on |target| and compares it with the twin on several
 * row counts (only 1 and 3 when |few_rows|); |force_dense| downgrades every type to the dense
 * path. */
static void check_case_rows(const fa_jit_target *target, int64_t d, int ntypes,
                            const fa_tquant_kind *kinds, int bits, bool force_dense,
                            bool few_rows) {
    float *a = malloc(sizeof(float) * (size_t)(ntypes * d * d));
    for (int k = 0; k < ntypes; k++)
        make_matrix(kinds[k], d, a + (size_t)k * (size_t)(d * d));
    fa_tquant_key key;
    CHECK_OK(fa_tquant_key_init(&key, d, ntypes, bits, a, target));
    for (int k = 0; k < ntypes; k++) {
        if (key.kinds[k] != kinds[k]) {
            fprintf(stderr, "d %lld type %d: detected %s, made %s\n", (long long)d, k,
                    fa_tquant_kind_name(key.kinds[k]), fa_tquant_kind_name(kinds[k]));
            test_failures++;
        }
        if (force_dense)
            key.kinds[k] = FA_TQUANT_DENSE;
    }
    fa_tquant_packed p;
    fa_tquant_fn fn = NULL;
    CHECK_OK(fa_tquant_pack(&key, a, &p));
    CHECK_OK(fa_tquant_get(&key, &fn));
    if (!fn || !p.data) {
        fa_tquant_packed_free(&p);
        free(a);
        return;
    }
    kernels_checked++;
    static const int64_t row_counts[] = {1, 3, 17, 130};
    for (size_t ri = 0; ri < (few_rows ? 2 : sizeof row_counts / sizeof *row_counts); ri++)
        for (int variant = 0; variant < 2; variant++) {
            int64_t rows = row_counts[ri];
            bool with_tt = variant == 1 || ntypes > 1, with_clip = variant == 0 || ri % 2;
            float *x = malloc(sizeof(float) * (size_t)(rows * d));
            uint8_t *tt = malloc((size_t)rows);
            float clip[FA_TQUANT_TYPES_MAX];
            for (int64_t i = 0; i < rows * d; i++)
                x[i] = rnd_unit() * ((rnd() % 32) == 0 ? 30.0f : 1.0f);
            for (int64_t r = 0; r < rows; r++) {
                if (rnd() % 8 == 0)
                    memset(x + r * d, 0, sizeof(float) * (size_t)d);
                /* Runs of equal types (the dense path's row tiles) and switches. */
                tt[r] = (uint8_t)(r > 0 && rnd() % 4 ? tt[r - 1] : rnd_int(0, ntypes - 1));
            }
            for (int k = 0; k < ntypes; k++)
                clip[k] = 0.6f + 0.2f * (float)k; /* < 1: saturates */
            const uint8_t *ttp = with_tt ? tt : NULL;
            const float *clipp = with_clip ? clip : NULL;
            int8_t *want_c = malloc((size_t)(rows * d)), *got_c = malloc((size_t)(rows * d));
            float *want_s = malloc(sizeof(float) * (size_t)rows);
            float *got_s = malloc(sizeof(float) * (size_t)rows);
            bool ok = reference(x, ttp, a, clipp, rows, d, ntypes, bits, want_c, want_s);
            memset(got_c, 0x55, (size_t)(rows * d));
            int64_t bad = fa_tquant_run(fn, x, ttp, p.data, clipp, got_c, got_s, rows);
            CHECK(bad == -1);
            for (int64_t r = 0; ok && r < rows; r++) {
                int k = ttp ? ttp[r] : 0;
                const int8_t *gc = got_c + r * d, *wc = want_c + r * d;
                bool exact = key.kinds[k] != FA_TQUANT_HADAMARD && key.kinds[k] != FA_TQUANT_KRON;
                bool good;
                if (exact) {
                    good = memcmp(gc, wc, (size_t)d) == 0 &&
                           memcmp(&got_s[r], &want_s[r], sizeof(float)) == 0;
                    exact_rows++;
                } else {
                    good = row_close(x, a + (size_t)k * (size_t)(d * d), d, r, gc, got_s[r], wc,
                                     want_s[r], &ties_seen);
                    *(key.kinds[k] == FA_TQUANT_KRON ? &kron_rows : &tol_rows) += 1;
                }
                if (!good) {
                    fprintf(stderr,
                            "%s d=%lld K=%d bits=%d rows=%lld tt=%d clip=%d: row %lld (type %d, "
                            "%s) differs%s\n",
                            target->cpu, (long long)d, ntypes, bits, (long long)rows, with_tt,
                            with_clip, (long long)r, k, fa_tquant_kind_name(key.kinds[k]),
                            exact ? " (must be bitwise equal)" : "");
                    test_failures++;
                    break;
                }
            }
            runs_checked++;
            free(x);
            free(tt);
            free(want_c);
            free(got_c);
            free(want_s);
            free(got_s);
        }
    fa_tquant_packed_free(&p);
    free(a);
}

static void check_case(const fa_jit_target *target, int64_t d, int ntypes,
                       const fa_tquant_kind *kinds, int bits, bool force_dense) {
    check_case_rows(target, d, ntypes, kinds, bits, force_dense, false);
}

static void check_path(const fa_jit_target *target, fa_tquant_path want) {
    fa_tquant_key probe = {.d = 16, .ntypes = 1, .bits = 8, .target = *target};
    fa_tquant_path got;
    CHECK_OK(fa_tquant_key_check(&probe, &got));
    CHECK(got == want);
    fa_jit_stats before;
    fa_jit_stats_get(&before);
    int before_kernels = kernels_checked;
    const fa_tquant_kind I = FA_TQUANT_IDENTITY, D = FA_TQUANT_DIAG, H = FA_TQUANT_HADAMARD,
                         G = FA_TQUANT_DENSE;
    static const int64_t pow2[] = {8, 64, 256};
    for (size_t i = 0; i < sizeof pow2 / sizeof *pow2; i++) {
        fa_tquant_kind k1[1] = {H}, k3[3] = {H, D, G}, k2[2] = {I, H};
        check_case(target, pow2[i], 1, k1, 8, false);
        check_case(target, pow2[i], 3, k3, 4, false);
        check_case(target, pow2[i], 2, k2, i % 2 ? 8 : 4, false);
    }
    /* Not powers of two: dense (random matrices), diagonal and identity with tails. */
    static const int64_t odd[] = {704, 96, 7, 33};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        fa_tquant_kind k1[1] = {G}, k3[3] = {G, I, D};
        check_case(target, odd[i], 1, k1, i % 2 ? 4 : 8, false);
        check_case(target, odd[i], 3, k3, i % 2 ? 8 : 4, false);
    }
    /* Large Hadamard transforms: two and three FWHT passes over the stack row. */
    static const int64_t big[] = {1024, 8192};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        fa_tquant_kind k1[1] = {H};
        check_case_rows(target, big[i], 1, k1, 8, false, true);
    }
    /* A Hadamard matrix through the dense path: bitwise. */
    fa_tquant_kind kh[2] = {H, D};
    check_case(target, 64, 2, kh, 8, true);
    fa_jit_stats after;
    fa_jit_stats_get(&after);
    uint64_t built = after.compiled - before.compiled;
    /* Kronecker products: QuaRot's (a Hadamard A1, the FWHT path; p = 4, 8, 32, 8, 64, 256,
     * so 1 / sqrt(p) both exact and rounded) and random factors (the dense A1 path; q odd, a
     * power of two, below and above the lanes), alone and mixed with the other kinds. */
    const fa_tquant_kind K = FA_TQUANT_KRON;
    static const int64_t quarot[] = {12, 24, 96, 88, 704};
    for (size_t i = 0; i < sizeof quarot / sizeof *quarot; i++) {
        fa_tquant_kind k1[1] = {K}, k3[3] = {K, G, I}, k2[2] = {D, K};
        check_case(target, quarot[i], 1, k1, i % 2 ? 4 : 8, false);
        check_case(target, quarot[i], 3, k3, i % 2 ? 8 : 4, false);
        check_case(target, quarot[i], 2, k2, 8, false);
    }
    static const int64_t random_kron[] = {15, 35, 64, 9, 4};
    for (size_t i = 0; i < sizeof random_kron / sizeof *random_kron; i++) {
        fa_tquant_kind k1[1] = {K}, k2[2] = {K, D};
        check_case(target, random_kron[i], 1, k1, i % 2 ? 8 : 4, false);
        check_case(target, random_kron[i], 2, k2, 8, false);
    }
    {
        fa_tquant_kind k3[3] = {K, H, G}; /* d = 64: kron(A1 [2], A2 [32]) next to an FWHT */
        check_case(target, 64, 3, k3, 4, false);
    }
    /* Shapes for the block loops: q > 16 (a loop over i2), more than 8 vectors per Y row (a
     * loop over blocks of 8 plus a remainder), a Hadamard A1 over rows of several vectors, a
     * dense A1 of order 12 over rows of 25. */
    static const struct {
        int64_t d, p;
        bool h;
    } shapes[] = {
        {600, 2, false}, {640, 4, true}, {300, 12, false}, {2048, 16, true}, {40, 20, false}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        kron_p_next = shapes[i].p;
        kron_h_next = shapes[i].h;
        fa_tquant_kind k1[1] = {K}, k2[2] = {G, K};
        check_case(target, shapes[i].d, 1, k1, i % 2 ? 4 : 8, false);
        check_case_rows(target, shapes[i].d, 2, k2, 8, false, true);
        kron_p_next = 0;
    }
    {
        fa_tquant_kind k1[1] = {K}; /* the Llama down_proj site: kron(H_256, Q_11) */
        check_case_rows(target, 2816, 1, k1, 4, false, true);
    }
    /* A Kronecker matrix through the dense path: bitwise. */
    fa_tquant_kind kk[2] = {K, I};
    check_case(target, 88, 2, kk, 4, true);
    printf("path %d on cpu %s: %d kernels checked against fa_rt_transform_quantize, %.1f ms "
           "compile each\n",
           (int)want, target->cpu, kernels_checked - before_kernels,
           built ? (after.total_ms - before.total_ms) / (double)built : 0.0);
}

/* Structure detection on the project's own generator (passes/quant/qmath.h). */
static void check_detect(void) {
    uint64_t state = 42;
    float *a = malloc(sizeof(float) * 704 * 704);
    CHECK_OK(fa_qmath_hadamard(256, &state, a));
    CHECK(fa_tquant_detect(256, a) == FA_TQUANT_HADAMARD);
    a[3 * 256 + 5] *= 1.0001f; /* one entry off by 1e-4: no longer */
    CHECK(fa_tquant_detect(256, a) == FA_TQUANT_DENSE);
    CHECK_OK(fa_qmath_hadamard(2, &state, a));
    CHECK(fa_tquant_detect(2, a) == FA_TQUANT_HADAMARD);
    make_matrix(FA_TQUANT_IDENTITY, 96, a);
    CHECK(fa_tquant_detect(96, a) == FA_TQUANT_IDENTITY);
    make_matrix(FA_TQUANT_DIAG, 96, a);
    CHECK(fa_tquant_detect(96, a) == FA_TQUANT_DIAG);
    a[1] = 1e-30f;
    CHECK(fa_tquant_detect(96, a) == FA_TQUANT_DENSE);
    a[0] = 3.0f; /* d = 1: a diagonal */
    CHECK(fa_tquant_detect(1, a) == FA_TQUANT_DIAG);
    /* A kind that does not fit its matrix is refused at packing. */
    fa_jit_target host;
    fa_jit_target_host(&host);
    fa_tquant_key key;
    make_matrix(FA_TQUANT_DENSE, 16, a);
    CHECK_OK(fa_tquant_key_init(&key, 16, 1, 8, a, &host));
    CHECK(key.kinds[0] == FA_TQUANT_DENSE);
    key.kinds[0] = FA_TQUANT_HADAMARD;
    fa_tquant_packed p;
    CHECK_ERROR(fa_tquant_pack(&key, a, &p), "declared hadamard but its matrix is dense");
    CHECK_ERROR(fa_tquant_key_init(&key, 16, 9, 8, a, &host), "K = 9");
    CHECK_ERROR(fa_tquant_key_init(&key, 16, 1, 5, a, &host), "bits = 5");
    free(a);
}

/* Kronecker detection: QuaRot's kron(diag(s) H_p / sqrt(p), Q_m) (qmath) for d = 2^a m,
 * products of random factors, and near misses that must stay dense. */
static void check_detect_kron(void) {
    enum { N = 2816 };
    float *a = malloc(sizeof(float) * N * N);
    uint64_t state = 7;
    static const struct {
        int64_t d, p;
    } quarot[] = {{12, 4}, {24, 8}, {88, 8}, {704, 64}, {2816, 256}, {6, 2}};
    for (size_t i = 0; i < sizeof quarot / sizeof *quarot; i++) {
        int64_t d = quarot[i].d, p = 0;
        bool h = false;
        CHECK_OK(fa_qmath_hadamard(d, &state, a));
        CHECK(fa_tquant_detect(d, a) == FA_TQUANT_KRON);
        CHECK(fa_tquant_detect_kron(d, a, &p, &h));
        if (p != quarot[i].p || !h) {
            fprintf(stderr, "QuaRot d %lld: kron p %lld%s, want %lld (hadamard)\n", (long long)d,
                    (long long)p, h ? " (hadamard)" : "", (long long)quarot[i].p);
            test_failures++;
        }
    }
    /* One entry of the d = 2816 matrix off by 1e-5 relative (or a sign flipped): dense; by 2
     * ulps (within the rounding of a product): still Kronecker. */
    int64_t d = 2816;
    CHECK_OK(fa_qmath_hadamard(d, &state, a));
    float keep = a[1000 * d + 2000];
    a[1000 * d + 2000] = keep * 1.00001f;
    CHECK(fa_tquant_detect(d, a) == FA_TQUANT_DENSE);
    a[1000 * d + 2000] = -keep;
    CHECK(fa_tquant_detect(d, a) == FA_TQUANT_DENSE);
    a[1000 * d + 2000] = nextafterf(nextafterf(keep, INFINITY), INFINITY);
    CHECK(fa_tquant_detect(d, a) == FA_TQUANT_KRON);
    a[1000 * d + 2000] = keep;
    a[(d - 1) * d + d - 1] += 1e-3f; /* the last entry, found by the full pass only */
    CHECK(fa_tquant_detect(d, a) == FA_TQUANT_DENSE);
    /* Random factors: A1 dense (its order p is found); a zero A1 entry gives exact zero blocks;
     * a perturbed entry, a random matrix and a kron plus a rank-one term are dense. */
    static const struct { int64_t d, p; } rk[] = {{42, 6}, {42, 7}, {36, 6}, {4, 2}, {1000, 8}};
    for (size_t i = 0; i < sizeof rk / sizeof *rk; i++) {
        int64_t p = 0;
        bool h = true;
        d = rk[i].d;
        make_kron(d, rk[i].p, false, a);
        CHECK(fa_tquant_detect_kron(d, a, &p, &h) && p == rk[i].p && !h);
        a[(d / 2) * d + d / 3] *= 1.00001f;
        CHECK(fa_tquant_detect(d, a) == FA_TQUANT_DENSE);
    }
    d = 42;
    make_kron(d, 6, false, a);
    for (int64_t i2 = 0; i2 < 7; i2++) /* A1[1][2] = 0 */
        for (int64_t j2 = 0; j2 < 7; j2++)
            a[(1 * 7 + i2) * d + 2 * 7 + j2] = 0.0f;
    CHECK(fa_tquant_detect(d, a) == FA_TQUANT_KRON);
    a[(1 * 7 + 3) * d + 2 * 7 + 4] = 1e-30f;
    CHECK(fa_tquant_detect(d, a) == FA_TQUANT_DENSE);
    make_kron(d, 6, false, a);
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < d; j++)
            a[i * d + j] += 1e-3f * (float)(i % 5) * (float)(j % 3);
    CHECK(fa_tquant_detect(d, a) == FA_TQUANT_DENSE);
    make_matrix(FA_TQUANT_DENSE, 96, a);
    CHECK(fa_tquant_detect(96, a) == FA_TQUANT_DENSE);
    /* A Hadamard A1 whose magnitudes differ by 1e-5 is a dense A1. */
    d = 48;
    make_kron(d, 16, true, a);
    int64_t p = 0;
    bool h = false;
    CHECK(fa_tquant_detect_kron(d, a, &p, &h) && p == 16 && h);
    for (int64_t i2 = 0; i2 < 3; i2++)
        for (int64_t j2 = 0; j2 < 3; j2++)
            a[(5 * 3 + i2) * d + 9 * 3 + j2] *= 1.00001f;
    CHECK(fa_tquant_detect_kron(d, a, &p, &h) && p == 16 && !h);

    /* Keys: the signature names p and A1's structure; a wrong declaration is refused. */
    fa_jit_target host;
    fa_jit_target_host(&host);
    fa_tquant_key key;
    fa_tquant_packed pk;
    CHECK_OK(fa_qmath_hadamard(88, &state, a));
    CHECK_OK(fa_tquant_key_init(&key, 88, 1, 8, a, &host));
    CHECK(key.kinds[0] == FA_TQUANT_KRON && key.kron_p[0] == 8 && key.kron_hadamard[0]);
    char sig[8192];
    CHECK(fa_tquant_signature(&key, sig, sizeof sig) && strstr(sig, "kinds=kron8h ") != NULL);
    key.kron_hadamard[0] = false; /* a Hadamard A1 may run as a dense one */
    CHECK(fa_tquant_signature(&key, sig, sizeof sig) && strstr(sig, "kinds=kron8 ") != NULL);
    CHECK_OK(fa_tquant_pack(&key, a, &pk));
    fa_tquant_packed_free(&pk);
    key.kron_p[0] = 4;
    CHECK_ERROR(fa_tquant_pack(&key, a, &pk), "declared kron with p = 4 but its matrix is not");
    key.kron_p[0] = 5;
    CHECK_ERROR(fa_tquant_pack(&key, a, &pk), "does not allow");
    make_kron(88, 8, false, a);
    key.kron_p[0] = 8;
    key.kron_hadamard[0] = true;
    CHECK_ERROR(fa_tquant_pack(&key, a, &pk), "(hadamard) but its matrix is not");
    free(a);
}

/* Exact ties (z / scale = n + 0.5) round half to even like rintf; a type >= K and a non-finite
 * z are reported as the first bad row. */
static void check_ties_and_bad_rows(const fa_jit_target *target) {
    enum { D = 8 };
    float a[2 * D * D];
    make_matrix(FA_TQUANT_IDENTITY, D, a);
    make_matrix(FA_TQUANT_DIAG, D, a + D * D);
    fa_tquant_key key;
    CHECK_OK(fa_tquant_key_init(&key, D, 2, 8, a, target));
    fa_tquant_packed p;
    fa_tquant_fn fn = NULL;
    CHECK_OK(fa_tquant_pack(&key, a, &p));
    CHECK_OK(fa_tquant_get(&key, &fn));
    if (!fn)
        return;
    /* amax 127, clip 1: scale 1, so z / scale = z exactly. */
    float x[3 * D] = {127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f};
    int8_t want[D] = {127, 0, 2, 2, 0, -2, -2, 126}, codes[3 * D];
    float scales[3];
    CHECK(fa_tquant_run(fn, x, NULL, p.data, NULL, codes, scales, 1) == -1);
    CHECK(scales[0] == 1.0f && memcmp(codes, want, D) == 0);
    uint8_t tt[3] = {0, 2, 1};
    for (int i = D; i < 3 * D; i++)
        x[i] = (float)i;
    CHECK(fa_tquant_run(fn, x, tt, p.data, NULL, codes, scales, 3) == 1);
    tt[1] = 0;
    x[2 * D + 3] = INFINITY;
    CHECK(fa_tquant_run(fn, x, tt, p.data, NULL, codes, scales, 3) == 2);
    x[2 * D + 3] = NAN;
    CHECK(fa_tquant_run(fn, x, tt, p.data, NULL, codes, scales, 3) == 2);
    fa_tquant_packed_free(&p);
}

static void check_cache(const fa_jit_target *target) {
    float a[16 * 16];
    make_matrix(FA_TQUANT_DENSE, 16, a);
    fa_tquant_key key;
    CHECK_OK(fa_tquant_key_init(&key, 16, 1, 8, a, target));
    fa_tquant_fn f1 = NULL, f2 = NULL;
    CHECK_OK(fa_tquant_get(&key, &f1));
    fa_jit_stats s1, s2;
    fa_jit_stats_get(&s1);
    CHECK_OK(fa_tquant_get(&key, &f2));
    fa_jit_stats_get(&s2);
    CHECK(f1 && f1 == f2);
    CHECK(s2.compiled == s1.compiled && s2.hits == s1.hits + 1);
    char sig[8192];
    CHECK(fa_tquant_signature(&key, sig, sizeof sig));
    CHECK(strstr(sig, "kinds=dense") != NULL);
    CHECK(fa_jit_kernel_compile_ms(sig) >= 0.0);
    key.bits = 4; /* a different key is a different kernel */
    CHECK_OK(fa_tquant_get(&key, &f2));
    CHECK(f2 && f2 != f1);
    fa_jit_target x86;
    CHECK_OK(fa_jit_target_init(&x86, "x86-64", ""));
    key.target = x86;
    key.path = FA_TQUANT_AVX512;
    CHECK_ERROR(fa_tquant_get(&key, &f2), "lacks");
}

/* KRON kernels sum in the same order on every path (only the vector widths differ), so the
 * paths give the same codes and scales bit for bit: an AOT library built for another CPU
 * computes what the JIT does. */
static void check_kron_paths(const fa_jit_target *targets, int ntargets) {
    static const struct {
        int64_t d, p;
        bool h;
    } shapes[] = {
        {2816, 0, false}, {88, 0, false}, {600, 2, false}, {40, 20, false}, {640, 4, true}};
    enum { ROWS = 9 };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        int64_t d = shapes[i].d;
        float *a = malloc(sizeof(float) * (size_t)(d * d)), *x = malloc(sizeof(float) * ROWS * d);
        int8_t *c0 = malloc((size_t)(ROWS * d)), *c1 = malloc((size_t)(ROWS * d));
        float s0[ROWS], s1[ROWS];
        kron_p_next = shapes[i].p;
        kron_h_next = shapes[i].h;
        make_matrix(FA_TQUANT_KRON, d, a);
        kron_p_next = 0;
        for (int64_t j = 0; j < ROWS * d; j++)
            x[j] = rnd_unit();
        for (int t = 0; t < ntargets; t++) {
            fa_tquant_key key;
            fa_tquant_packed p;
            fa_tquant_fn fn = NULL;
            CHECK_OK(fa_tquant_key_init(&key, d, 1, 8, a, &targets[t]));
            CHECK(key.kinds[0] == FA_TQUANT_KRON);
            CHECK_OK(fa_tquant_pack(&key, a, &p));
            CHECK_OK(fa_tquant_get(&key, &fn));
            if (!fn || !p.data) {
                fa_tquant_packed_free(&p);
                continue;
            }
            CHECK(fa_tquant_run(fn, x, NULL, p.data, NULL, t ? c1 : c0, t ? s1 : s0, ROWS) == -1);
            if (t && (memcmp(c0, c1, (size_t)(ROWS * d)) || memcmp(s0, s1, sizeof s0))) {
                fprintf(stderr, "kron d=%lld: cpu %s differs from cpu %s\n", (long long)d,
                        targets[t].cpu, targets[0].cpu);
                test_failures++;
            }
            fa_tquant_packed_free(&p);
        }
        free(a);
        free(x);
        free(c0);
        free(c1);
    }
}

/* Times |kind|'s kernel (run as dense when |as_dense|) against the twin on |rows| rows. */
static void bench_one(const fa_jit_target *host, int64_t rows, int64_t d, fa_tquant_kind kind,
                      bool as_dense) {
    float *a = malloc(sizeof(float) * (size_t)(d * d));
    make_matrix(kind, d, a);
    fa_tquant_key key;
    fa_tquant_packed p;
    fa_tquant_fn fn = NULL;
    CHECK_OK(fa_tquant_key_init(&key, d, 1, 4, a, host));
    CHECK(key.kinds[0] == kind);
    if (as_dense)
        key.kinds[0] = kind = FA_TQUANT_DENSE;
    CHECK_OK(fa_tquant_pack(&key, a, &p));
    CHECK_OK(fa_tquant_get(&key, &fn));
    fa_jit_stats st;
    fa_jit_stats_get(&st);
    float *x = malloc(sizeof(float) * (size_t)(rows * d)), clip = 0.9f;
    int8_t *codes = malloc((size_t)(rows * d)), *want_c = malloc((size_t)(rows * d));
    float *scales = malloc(sizeof(float) * (size_t)rows),
          *want_s = malloc(sizeof(float) * (size_t)rows);
    for (int64_t i = 0; i < rows * d; i++)
        x[i] = rnd_unit();
    double best_jit = 1e30, best_ref = 1e30;
    for (int rep = 0; fn && rep < 3; rep++) {
        double t0 = test_seconds();
        CHECK(fa_tquant_run(fn, x, NULL, p.data, &clip, codes, scales, rows) == -1);
        double t1 = test_seconds();
        CHECK(reference(x, NULL, a, &clip, rows, d, 1, 4, want_c, want_s));
        double t2 = test_seconds();
        best_jit = t1 - t0 < best_jit ? t1 - t0 : best_jit;
        best_ref = t2 - t1 < best_ref ? t2 - t1 : best_ref;
    }
    int ties = 0;
    for (int64_t r = 0; fn && r < rows; r++)
        if (kind == FA_TQUANT_HADAMARD || kind == FA_TQUANT_KRON)
            CHECK(
                row_close(x, a, d, r, codes + r * d, scales[r], want_c + r * d, want_s[r], &ties));
        else
            CHECK(memcmp(codes + r * d, want_c + r * d, (size_t)d) == 0 && scales[r] == want_s[r]);
    char kname[32];
    snprintf(kname, sizeof kname, "%s", fa_tquant_kind_name(kind));
    if (kind == FA_TQUANT_KRON)
        snprintf(kname, sizeof kname, "kron%lld%s", (long long)key.kron_p[0],
                 key.kron_hadamard[0] ? "h" : "");
    printf("tquant %s rows=%lld d=%lld A4, cpu %s (compile %.1f ms): generated %.3f ms, "
           "fa_rt_transform_quantize %.3f ms (%.1fx)\n",
           kname, (long long)rows, (long long)d, host->cpu,
           st.last_ir_ms + st.last_opt_ms + st.last_jit_ms, best_jit * 1e3, best_ref * 1e3,
           best_ref / best_jit);
    free(x);
    free(codes);
    free(want_c);
    free(scales);
    free(want_s);
    free(a);
    fa_tquant_packed_free(&p);
}

static int bench(int64_t rows) {
    fa_jit_target host;
    fa_jit_target_host(&host);
    bench_one(&host, rows, 2048, FA_TQUANT_HADAMARD, false);
    bench_one(&host, rows, 704, FA_TQUANT_DENSE, false);
    bench_one(&host, rows, 2048, FA_TQUANT_DENSE, false);
    bench_one(&host, rows, 2048, FA_TQUANT_DIAG, false);
    /* QuaRot's kron(H_p, Q_m) sites of the Llama models (d = 704 = 64 * 11, 2816 = 256 * 11),
     * run as dense matrices (before KRON) and as Kronecker products; and random factors. */
    bench_one(&host, rows, 704, FA_TQUANT_KRON, true);
    bench_one(&host, rows, 704, FA_TQUANT_KRON, false);
    bench_one(&host, rows, 2816, FA_TQUANT_KRON, true);
    bench_one(&host, rows, 2816, FA_TQUANT_KRON, false);
    kron_p_next = 32;
    bench_one(&host, rows, 1024, FA_TQUANT_KRON, false);
    kron_p_next = 0;
    fa_jit_shutdown();
    TEST_MAIN_END();
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        return bench(argc > 2 ? atoll(argv[2]) : 512);
    fa_jit_target host, avx2, generic;
    fa_jit_target_host(&host);
    CHECK_OK(fa_jit_target_init(&avx2, "x86-64-v3", "+avx2"));
    CHECK_OK(fa_jit_target_init(&generic, "x86-64", ""));
    printf("host cpu %s\n", host.cpu);
    check_detect();
    check_detect_kron();
    if (fa_jit_target_has(&host, "avx512f") && fa_jit_target_has(&host, "avx512bw"))
        check_path(&host, FA_TQUANT_AVX512);
    else
        printf("host has no avx512: the AVX-512 path is not run\n");
    if (fa_jit_target_has(&host, "avx2"))
        check_path(&avx2, FA_TQUANT_AVX2);
    check_path(&generic, FA_TQUANT_GENERIC);
    check_ties_and_bad_rows(&host);
    check_ties_and_bad_rows(&generic);
    fa_jit_target all[3] = {host, generic, avx2};
    check_kron_paths(all, fa_jit_target_has(&host, "avx2") ? 3 : 2);
    check_cache(&host);
    printf("%d kernels, %d runs checked: %d rows bitwise equal, %d Hadamard and %d Kronecker rows "
           "within tolerance (%d codes +-1 at ties)\n",
           kernels_checked, runs_checked, exact_rows, tol_rows, kron_rows, ties_seen);
    fa_jit_shutdown();
    TEST_MAIN_END();
}
