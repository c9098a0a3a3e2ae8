/* The fused transform + quantize reference kernel (runtime/tquant.c): bitwise against a naive
 * loop written here in the same summation order, and against the composition
 * fa_rt_routed_transform + fa_rt_quantize (whose sgemm sums in another order) within the
 * tolerance rule: scales within 1e-5 relative, codes equal but for +-1 where z / scale lies within
 * rounding error of a half-integer. Random shapes with odd sizes, identity / diagonal / Hadamard /
 * dense matrices, clip < 1, zero rows, tt NULL; error cases and allocation failures. */
#include <stdlib.h>

#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t next_u32(void) { return rt_xorshift(&rng); }

static int rand_int(int lo, int hi) { return lo + (int)(next_u32() % (uint32_t)(hi - lo + 1)); }
static float rand_unit(void) { return (float)next_u32() / 2147483648.0f - 1.0f; }

enum { IDENTITY, DIAG, HADAMARD, DENSE };

/* |a| [d, d] of |kind| (HADAMARD needs d a power of two: diag(+-1) H_d / sqrt(d)). */
static void make_matrix(int kind, int d, float *a) {
    memset(a, 0, sizeof(float) * (size_t)(d * d));
    float inv = (float)(1.0 / sqrt((double)d));
    for (int i = 0; i < d; i++) {
        float s = (next_u32() & 1) ? -inv : inv;
        for (int j = 0; j < d; j++) {
            if (kind == IDENTITY || kind == DIAG) {
                if (i == j)
                    a[i * d + j] = kind == IDENTITY ? 1.0f : rand_unit() * 2.0f;
            } else if (kind == HADAMARD) {
                a[i * d + j] = (__builtin_popcount((unsigned)(i & j)) & 1) ? -s : s;
            } else {
                a[i * d + j] = rand_unit() * inv * 2.0f;
            }
        }
    }
}

/* The naive twin: j outer, i inner, f32 sums in i order, each product its own statement. */
static void naive(const float *x, const uint8_t *tt, const float *a, const float *clip, int bits,
                  int rows, int d, int8_t *codes, float *scales) {
    int qmax = bits == 4 ? 7 : 127;
    float *z = malloc(sizeof(float) * (size_t)d);
    for (int r = 0; r < rows; r++) {
        int k = tt ? tt[r] : 0;
        float amax = 0.0f;
        for (int j = 0; j < d; j++) {
            float acc = 0.0f;
            for (int i = 0; i < d; i++) {
                float p = x[r * d + i] * a[((size_t)k * (size_t)d + (size_t)i) * (size_t)d + j];
                acc = acc + p;
            }
            z[j] = acc;
            if (fabsf(acc) > amax)
                amax = fabsf(acc);
        }
        float scale = (clip ? clip[k] : 1.0f) * amax / (float)qmax;
        scales[r] = scale;
        for (int j = 0; j < d; j++) {
            float q = scale == 0.0f ? 0.0f : rintf(z[j] / scale);
            q = q < (float)(-qmax - 1) ? (float)(-qmax - 1) : q > (float)qmax ? (float)qmax : q;
            codes[r * d + j] = (int8_t)q;
        }
    }
    free(z);
}

/* The tolerance rule (see the file comment) between (|ca|, |sa|) and the reference (|cb|, |sb|);
 * z / scale is taken from z computed in double, and "within rounding error" is 2 d u sum_i
 * |x_i a_ij| / scale plus the scale tolerance. Counts the +-1 differences in |*ties|. */
static bool close_codes(const float *x, const uint8_t *tt, const float *a, int rows, int d,
                        const int8_t *ca, const float *sa, const int8_t *cb, const float *sb,
                        int *ties) {
    for (int r = 0; r < rows; r++) {
        double s1 = sa[r], s2 = sb[r];
        if (!(fabs(s1 - s2) <= 1e-5 * fmax(fabs(s1), fabs(s2)))) {
            fprintf(stderr, "  row %d: scale %.9g, want %.9g\n", r, s1, s2);
            return false;
        }
        const float *ak = a + (size_t)(tt ? tt[r] : 0) * (size_t)d * (size_t)d;
        for (int j = 0; j < d; j++) {
            int c1 = ca[r * d + j], c2 = cb[r * d + j];
            if (c1 == c2)
                continue;
            double z = 0.0, mag = 0.0;
            for (int i = 0; i < d; i++) {
                double p = (double)x[r * d + i] * ak[(size_t)i * (size_t)d + j];
                z += p;
                mag += fabs(p);
            }
            double v = z / s2, mid = (c1 < c2 ? c1 : c2) + 0.5;
            double tol = 2.0 * d * 0x1p-24 * mag / s2 + fabs(v) * 2e-5 + 1e-6;
            if (abs(c1 - c2) != 1 || !(fabs(v - mid) <= tol)) {
                fprintf(stderr, "  row %d col %d: code %d, want %d (z / scale = %.9g)\n", r, j, c1,
                        c2, v);
                return false;
            }
            (*ties)++;
        }
    }
    return true;
}

static void test_random(void) {
    static const int ds[] = {1, 2, 7, 8, 33, 64, 96, 128, 256, 704};
    int cases = 0, ties = 0;
    for (int c = 0; c < 64; c++) {
        int d = ds[c % 10], rows = rand_int(1, 19), ntypes = rand_int(1, 3);
        int bits = c % 2 ? 4 : 8;
        bool with_tt = c % 3 != 0, with_clip = c % 5 != 0;
        bool pow2 = (d & (d - 1)) == 0;
        int64_t ad[3] = {ntypes, d, d}, kd[1] = {ntypes};
        bool rank3 = rows % 2 == 0 && c % 4 == 1;
        int rank = rank3 ? 3 : 2;
        int64_t xd[3] = {rows, d, 0}, tdims[2] = {rows, 0}, sd[3] = {rows, 1, 0};
        if (rank3) {
            int64_t x3[3] = {2, rows / 2, d}, s3[3] = {2, rows / 2, 1};
            memcpy(xd, x3, sizeof xd);
            memcpy(sd, s3, sizeof sd);
            memcpy(tdims, x3, sizeof tdims);
        }
        float *x = malloc(sizeof(float) * (size_t)(rows * d));
        float *a = malloc(sizeof(float) * (size_t)(ntypes * d * d));
        float clip[3];
        uint8_t tt[19];
        for (int i = 0; i < rows * d; i++)
            x[i] = rand_unit() * ((next_u32() % 16) == 0 ? 40.0f : 1.0f);
        for (int r = 0; r < rows; r++) {
            if (next_u32() % 6 == 0) /* zero rows */
                memset(x + r * d, 0, sizeof(float) * (size_t)d);
            tt[r] = with_tt ? (uint8_t)rand_int(0, ntypes - 1) : 0;
        }
        for (int k = 0; k < ntypes; k++) {
            int kind = (c + k) % 4;
            if (kind == HADAMARD && !pow2)
                kind = DENSE;
            make_matrix(kind, d, a + (size_t)k * (size_t)(d * d));
            clip[k] = 0.5f + 0.6f * (float)k * 0.5f; /* 0.5, 0.8, 1.1: clip < 1 saturates */
        }
        fa_rt_tensor xt = rt_view(FA_DT_F32, rank, xd, x), at = rt_view(FA_DT_F32, 3, ad, a);
        fa_rt_tensor kt = rt_view(FA_DT_F32, 1, kd, clip);
        fa_rt_tensor ttt = rt_view(FA_DT_U8, rank - 1, tdims, tt);
        fa_rt_in tp = with_tt ? &ttt : NULL, cp = with_clip ? &kt : NULL;
        fa_rt_tensor codes, scales, z, c2, s2;
        fa_status st = fa_rt_transform_quantize(&xt, tp, &at, cp, bits, &codes, &scales, al);
        CHECK_OK(st);
        if (st)
            continue;
        CHECK(rt_shape_is(&codes, rank, xd) && codes.dtype == FA_DT_I8);
        CHECK(rt_shape_is(&scales, rank, sd) && scales.dtype == FA_DT_F32);
        int8_t *want_c = malloc((size_t)(rows * d));
        float *want_s = malloc(sizeof(float) * (size_t)rows);
        naive(x, with_tt ? tt : NULL, a, with_clip ? clip : NULL, bits, rows, d, want_c, want_s);
        if (memcmp(codes.data, want_c, (size_t)(rows * d)) != 0 ||
            memcmp(scales.data, want_s, sizeof(float) * (size_t)rows) != 0) {
            fprintf(stderr, "case %d (d %d rows %d K %d bits %d): differs from the naive loop\n", c,
                    d, rows, ntypes, bits);
            rt_failures++;
        }
        /* The composition of the two ops. */
        CHECK_OK(fa_rt_routed_transform(&xt, tp, &at, &z, al));
        CHECK_OK(fa_rt_quantize(&z, tp, cp, bits, &c2, &s2, al));
        if (!close_codes(x, with_tt ? tt : NULL, a, rows, d, codes.data, scales.data, c2.data,
                         s2.data, &ties)) {
            fprintf(stderr, "case %d (d %d rows %d K %d bits %d): not close to the composition\n",
                    c, d, rows, ntypes, bits);
            rt_failures++;
        }
        cases++;
        fa_rt_tensor_free(&z, al);
        fa_rt_tensor_free(&c2, al);
        fa_rt_tensor_free(&s2, al);
        fa_rt_tensor_free(&codes, al);
        fa_rt_tensor_free(&scales, al);
        free(want_c);
        free(want_s);
        free(x);
        free(a);
    }
    printf("%d cases: bitwise equal to the naive loop; %d codes +-1 at ties vs the composition\n",
           cases, ties);
}

static void test_errors(void) {
    float x[6] = {1, 2, 3, 4, 5, 6}, a[8] = {1, 0, 0, 1, 2, 0, 0, 2}, clip[2] = {1, 1};
    uint8_t tt[3] = {0, 1, 2};
    int64_t xd[2] = {3, 2}, ad[3] = {2, 2, 2}, kd[1] = {2}, td[1] = {3}, bad_d[2] = {2, 3};
    fa_rt_tensor xt = rt_view(FA_DT_F32, 2, xd, x), at = rt_view(FA_DT_F32, 3, ad, a);
    fa_rt_tensor kt = rt_view(FA_DT_F32, 1, kd, clip), ttt = rt_view(FA_DT_U8, 1, td, tt);
    fa_rt_tensor c, s;
    CHECK_ERR(fa_rt_transform_quantize(&xt, NULL, &at, NULL, 5, &c, &s, al), "bits = 5");
    CHECK_ERR(fa_rt_transform_quantize(&xt, &ttt, &at, &kt, 8, &c, &s, al), "token 2 has type 2");
    tt[2] = 1;
    clip[1] = -1.0f;
    CHECK_ERR(fa_rt_transform_quantize(&xt, &ttt, &at, &kt, 8, &c, &s, al), "clip[1]");
    clip[1] = 1.0f;
    fa_rt_tensor wrong = rt_view(FA_DT_F32, 2, bad_d, x);
    CHECK_ERR(fa_rt_transform_quantize(&wrong, NULL, &at, NULL, 8, &c, &s, al), "a must be");
    x[3] = 1e38f;
    a[6] = 0.0f;
    a[7] = 1e10f; /* row 1, type 1: 1e38 * 1e10 overflows */
    CHECK_ERR(fa_rt_transform_quantize(&xt, &ttt, &at, &kt, 8, &c, &s, al),
              "row 1 transforms to a non-finite value");
    x[3] = NAN;
    CHECK_ERR(fa_rt_transform_quantize(&xt, NULL, &at, NULL, 8, &c, &s, al), "row 1");
}

/* An allocator that fails its |fail_at|-th call and counts live blocks. */
static int calls, fail_at, live;
static void *fail_alloc(void *user, size_t size, size_t align) {
    (void)user;
    if (++calls == fail_at)
        return NULL;
    live++;
    return fa_rt_allocator_default()->alloc(fa_rt_allocator_default()->user, size, align);
}
static void fail_free(void *user, void *p) {
    (void)user;
    if (p)
        live--;
    fa_rt_allocator_default()->free(fa_rt_allocator_default()->user, p);
}

static void test_alloc_fail(void) {
    float x[6] = {1, 2, 3, 4, 5, 6}, a[4] = {1, 0.5f, 0, 1};
    int64_t xd[2] = {3, 2}, ad[3] = {1, 2, 2};
    fa_rt_tensor xt = rt_view(FA_DT_F32, 2, xd, x), at = rt_view(FA_DT_F32, 3, ad, a);
    fa_rt_allocator fa = {fail_alloc, fail_free, NULL};
    for (fail_at = 1; fail_at <= 4; fail_at++) {
        calls = live = 0;
        fa_rt_tensor c, s;
        fa_status st = fa_rt_transform_quantize(&xt, NULL, &at, NULL, 8, &c, &s, &fa);
        if (st) {
            fa_status_free(st);
            CHECK(live == 0);
        } else {
            CHECK(fail_at > calls);
            fa_rt_tensor_free(&c, &fa);
            fa_rt_tensor_free(&s, &fa);
            CHECK(live == 0);
        }
    }
}

int main(void) {
    al = fa_rt_allocator_default();
    test_random();
    test_errors();
    test_alloc_fail();
    return rt_report("test_tquant");
}
