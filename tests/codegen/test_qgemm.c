/* Generated qlinear GEMM/GEMV kernels (codegen/qgemm.c) against their C twin fa_rt_qlinear:
 * every instruction path this machine can run (the host's, AVX2 forced with cpu x86-64-v3,
 * generic vector IR with plain x86-64) on odd and tail shapes, i4 and i8 weights, A8 and A4
 * codes, with and without bias — the results must be bitwise equal. Also the kernel cache.
 * `test_qgemm --bench [M N K]` times the host kernel against the C reference instead. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "codegen/jit.h"
#include "codegen/qgemm.h"
#include "runtime/runtime.h"
#include "tests/test_util.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) { return (uint32_t)(test_xorshift(&rng) >> 16); }

/* A value in [lo, hi]. */
static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

/* A float of varied sign and magnitude, never zero. */
static float rnd_float(void) {
    float m = (float)(rnd() % 100000 + 1) * 1e-5f;
    float e = (float)(1 << (rnd() % 8)) / 16.0f;
    return (rnd() & 1) ? m * e : -m * e;
}

typedef struct weights {
    int64_t k, n, group, ngroups;
    fa_dtype dt;
    uint8_t *wq; /* IR layout */
    size_t wq_bytes;
    float *wscale, *bias;
} weights;

static void weights_make(weights *w, int64_t k, int64_t n, int64_t group, fa_dtype dt) {
    w->k = k;
    w->n = n;
    w->group = group;
    w->ngroups = group ? k / group : 1;
    w->dt = dt;
    uint64_t count = (uint64_t)n * (uint64_t)k;
    w->wq_bytes = dt == FA_DT_I8 ? count : (count + 1) / 2;
    w->wq = calloc(w->wq_bytes, 1);
    for (uint64_t i = 0; i < count; i++) {
        if (dt == FA_DT_I8)
            w->wq[i] = (uint8_t)(int8_t)rnd_int(-128, 127);
        else
            w->wq[i / 2] |= (uint8_t)((rnd_int(-8, 7) & 0xf) << ((i & 1) * 4));
    }
    w->wscale = malloc(sizeof(float) * (size_t)(n * w->ngroups));
    for (int64_t i = 0; i < n * w->ngroups; i++)
        w->wscale[i] = rnd_float();
    w->bias = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        w->bias[i] = rnd_float() * 10.0f;
}

static void weights_free(weights *w) {
    free(w->wq);
    free(w->wscale);
    free(w->bias);
}

/* y [rows, n] by fa_rt_qlinear; the caller frees it. */
static float *reference(const weights *w, const int8_t *codes, const float *scales, int64_t rows,
                        bool bias) {
    int64_t cdims[2] = {rows, w->k}, sdims[2] = {rows, 1}, wdims[2] = {w->n, w->k};
    int64_t gdims[2] = {w->n, w->ngroups}, bdims[1] = {w->n};
    fa_rt_tensor c = fa_rt_tensor_view(FA_DT_I8, 2, cdims, codes, (uint64_t)(rows * w->k));
    fa_rt_tensor s = fa_rt_tensor_view(FA_DT_F32, 2, sdims, scales, sizeof(float) * (uint64_t)rows);
    fa_rt_tensor q = fa_rt_tensor_view(w->dt, 2, wdims, w->wq, w->wq_bytes);
    fa_rt_tensor g = fa_rt_tensor_view(FA_DT_F32, 2, gdims, w->wscale,
                                       sizeof(float) * (uint64_t)(w->n * w->ngroups));
    fa_rt_tensor b =
        fa_rt_tensor_view(FA_DT_F32, 1, bdims, w->bias, sizeof(float) * (uint64_t)w->n);
    fa_rt_tensor out;
    const fa_rt_allocator *al = fa_rt_allocator_default();
    fa_status st = fa_rt_qlinear(&c, &s, &q, &g, bias ? &b : NULL, w->group, &out, al);
    CHECK_OK(st);
    if (st)
        return NULL;
    float *y = malloc(out.nbytes);
    memcpy(y, out.data, out.nbytes);
    fa_rt_tensor_free(&out, al);
    return y;
}

static int kernels_checked, runs_checked;

/* Builds the kernel for (k, n, group, dt, bias) on |target| / |path| and compares it with the
 * reference for several row counts and both activation ranges. */
static void check_case(const fa_jit_target *target, fa_qgemm_path path, int64_t k, int64_t n,
                       int64_t group, fa_dtype dt, bool bias) {
    weights w;
    weights_make(&w, k, n, group, dt);
    fa_qgemm_key key = {.k = k,
                        .n = n,
                        .group = group,
                        .wdtype = dt,
                        .bias = bias,
                        .path = path,
                        .target = *target};
    fa_qgemm_packed p;
    fa_qgemm_fn fn = NULL;
    CHECK_OK(fa_qgemm_pack(&key, w.wq, w.wscale, &p));
    CHECK_OK(fa_qgemm_get(&key, &fn));
    if (!fn || !p.w) {
        fa_qgemm_packed_free(&p);
        weights_free(&w);
        return;
    }
    kernels_checked++;
    static const int64_t row_counts[] = {1, 3, 17, 64, 130};
    for (size_t ri = 0; ri < sizeof row_counts / sizeof *row_counts; ri++)
        for (int abits = 4; abits <= 8; abits += 4) {
            int64_t rows = row_counts[ri];
            int lo = abits == 8 ? -128 : -8, hi = abits == 8 ? 127 : 7;
            int8_t *codes = malloc((size_t)(rows * k));
            float *scales = malloc(sizeof(float) * (size_t)rows);
            for (int64_t i = 0; i < rows * k; i++)
                codes[i] = (int8_t)rnd_int(lo, hi);
            for (int64_t i = 0; i < rows; i++)
                scales[i] = rnd_float() < 0 ? -rnd_float() : rnd_float();
            float *want = reference(&w, codes, scales, rows, bias);
            float *got = malloc(sizeof(float) * (size_t)(rows * n));
            fa_qgemm_run(fn, codes, scales, p.w, p.wscale, p.colsum, bias ? w.bias : NULL, got,
                         rows);
            for (int64_t i = 0; want && i < rows * n; i++)
                if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
                    fprintf(stderr,
                            "%s k=%lld n=%lld group=%lld %s bias=%d rows=%lld A%d: y[%lld][%lld] "
                            "= %.9g, want %.9g\n",
                            target->cpu, (long long)k, (long long)n, (long long)group,
                            fa_dtype_name(dt), bias, (long long)rows, abits, (long long)(i / n),
                            (long long)(i % n), (double)got[i], (double)want[i]);
                    test_failures++;
                    break;
                }
            runs_checked++;
            free(got);
            free(want);
            free(scales);
            free(codes);
        }
    fa_qgemm_packed_free(&p);
    weights_free(&w);
}

static void check_path(const fa_jit_target *target, fa_qgemm_path want) {
    fa_qgemm_key probe = {.k = 32, .n = 1, .wdtype = FA_DT_I8, .target = *target};
    fa_qgemm_path got;
    CHECK_OK(fa_qgemm_key_check(&probe, &got));
    CHECK(got == want);
    fa_jit_stats before;
    fa_jit_stats_get(&before);
    int before_kernels = kernels_checked;
    static const int64_t ks[] = {7, 33, 32, 64, 96, 256, 704};
    static const int64_t ns[] = {1, 7, 33, 256};
    int which = 0;
    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
        for (int64_t group = 0; group <= 64; group += 32) {
            if (group && ks[ki] % group)
                continue;
            for (int wi = 0; wi < 2; wi++, which++)
                check_case(target, FA_QGEMM_AUTO, ks[ki], ns[which % 4], group,
                           wi ? FA_DT_I8 : FA_DT_I4, which % 3 != 0);
        }
    /* Groups whose length is not a multiple of 8 (partial and odd steps inside every group). */
    static const int64_t odd[][2] = {{42, 14}, {36, 12}, {30, 10}};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++, which++)
        check_case(target, FA_QGEMM_AUTO, odd[i][0], ns[which % 4], odd[i][1],
                   i % 2 ? FA_DT_I8 : FA_DT_I4, true);
    fa_jit_stats after;
    fa_jit_stats_get(&after);
    uint64_t built = after.compiled - before.compiled;
    printf("path %d on cpu %s: %d kernels checked against fa_rt_qlinear, %.1f ms compile each\n",
           (int)want, target->cpu, kernels_checked - before_kernels,
           built ? (after.total_ms - before.total_ms) / (double)built : 0.0);
}

static void check_cache(const fa_jit_target *target) {
    fa_qgemm_key key = {
        .k = 64, .n = 48, .group = 32, .wdtype = FA_DT_I4, .bias = true, .target = *target};
    fa_qgemm_fn a = NULL, b = NULL;
    CHECK_OK(fa_qgemm_get(&key, &a));
    fa_jit_stats s1, s2;
    fa_jit_stats_get(&s1);
    CHECK_OK(fa_qgemm_get(&key, &b));
    fa_jit_stats_get(&s2);
    CHECK(a && a == b);
    CHECK(s2.compiled == s1.compiled);
    CHECK(s2.hits == s1.hits + 1);
    char sig[8192];
    CHECK(fa_qgemm_signature(&key, sig, sizeof sig));
    CHECK(fa_jit_kernel_compile_ms(sig) >= 0.0);
    key.bias = false; /* a different key is a different kernel */
    CHECK_OK(fa_qgemm_get(&key, &b));
    CHECK(b && b != a);
    key.k = 65; /* group does not divide K */
    CHECK_ERROR(fa_qgemm_get(&key, &b), "does not divide");
    fa_jit_target x86;
    CHECK_OK(fa_jit_target_init(&x86, "x86-64", ""));
    key.k = 64;
    key.target = x86;
    key.path = FA_QGEMM_VNNI512;
    CHECK_ERROR(fa_qgemm_get(&key, &b), "lacks");
}

static int bench(int64_t m, int64_t n, int64_t k) {
    fa_jit_target host;
    fa_jit_target_host(&host);
    weights w;
    weights_make(&w, k, n, 32, FA_DT_I4);
    fa_qgemm_key key = {.k = k, .n = n, .group = 32, .wdtype = FA_DT_I4, .target = host};
    fa_qgemm_path path;
    fa_qgemm_packed p;
    fa_qgemm_fn fn = NULL;
    CHECK_OK(fa_qgemm_key_check(&key, &path));
    CHECK_OK(fa_qgemm_pack(&key, w.wq, w.wscale, &p));
    CHECK_OK(fa_qgemm_get(&key, &fn));
    if (!fn)
        TEST_MAIN_END();
    fa_jit_stats st;
    fa_jit_stats_get(&st);
    int8_t *codes = malloc((size_t)(m * k));
    float *scales = malloc(sizeof(float) * (size_t)m), *y = malloc(sizeof(float) * (size_t)(m * n));
    for (int64_t i = 0; i < m * k; i++)
        codes[i] = (int8_t)rnd_int(-128, 127);
    for (int64_t i = 0; i < m; i++)
        scales[i] = 0.01f;
    double best_jit = 1e30, best_ref = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = test_seconds();
        fa_qgemm_run(fn, codes, scales, p.w, p.wscale, p.colsum, NULL, y, m);
        double t1 = test_seconds();
        float *want = reference(&w, codes, scales, m, false);
        double t2 = test_seconds();
        CHECK(want && memcmp(want, y, sizeof(float) * (size_t)(m * n)) == 0);
        free(want);
        best_jit = t1 - t0 < best_jit ? t1 - t0 : best_jit;
        best_ref = t2 - t1 < best_ref ? t2 - t1 : best_ref;
    }
    double ops = 2.0 * (double)m * (double)n * (double)k;
    printf("qgemm i4 group 32, M=%lld N=%lld K=%lld, cpu %s path %d (compile %.1f ms: IR %.1f, "
           "O3 %.1f, JIT %.1f)\n  generated: %.3f ms, %.1f GOPS\n  fa_rt_qlinear: %.3f ms, %.1f "
           "GOPS\n",
           (long long)m, (long long)n, (long long)k, host.cpu, (int)path, st.total_ms,
           st.last_ir_ms, st.last_opt_ms, st.last_jit_ms, best_jit * 1e3, ops / best_jit * 1e-9,
           best_ref * 1e3, ops / best_ref * 1e-9);
    free(codes);
    free(scales);
    free(y);
    fa_qgemm_packed_free(&p);
    weights_free(&w);
    fa_jit_shutdown();
    TEST_MAIN_END();
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        int64_t m = argc > 2 ? atoll(argv[2]) : 512, n = argc > 3 ? atoll(argv[3]) : 2048;
        int64_t k = argc > 4 ? atoll(argv[4]) : 2048;
        return bench(m, n, k);
    }
    fa_jit_target host, avx2, generic;
    fa_jit_target_host(&host);
    CHECK_OK(fa_jit_target_init(&avx2, "x86-64-v3", "+avx2"));
    CHECK_OK(fa_jit_target_init(&generic, "x86-64", ""));
    printf("host cpu %s\n", host.cpu);
    if (fa_jit_target_has(&host, "avx512vnni") && fa_jit_target_has(&host, "avx512bw"))
        check_path(&host, FA_QGEMM_VNNI512);
    else
        printf("host has no avx512-vnni: the VNNI path is not run\n");
    if (fa_jit_target_has(&host, "avx2"))
        check_path(&avx2, FA_QGEMM_AVX2);
    check_path(&generic, FA_QGEMM_GENERIC);
    check_cache(&host);
    printf("%d kernels, %d runs checked\n", kernels_checked, runs_checked);
    fa_jit_shutdown();
    /* A session can start again after a shutdown. */
    fa_qgemm_fn fn = NULL;
    fa_qgemm_key key = {.k = 32, .n = 16, .wdtype = FA_DT_I8, .target = generic};
    CHECK_OK(fa_qgemm_get(&key, &fn));
    CHECK(fn != NULL);
    fa_jit_shutdown();
    TEST_MAIN_END();
}
