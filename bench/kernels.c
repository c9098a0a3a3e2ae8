/* bench/kernels: the generated qgemm kernels (codegen/qgemm.h) against OpenBLAS f32 on the same
 * shapes, with a roofline measured in the same process (read bandwidth, int8 dot-product peak,
 * f32 FMA peak). A report, never run by ctest; bench/README.md explains the columns.
 *
 * Design note.
 * - Every kernel is timed by the median of repeated calls after warm-up. GEMM (M > 1) calls are
 *   warm: the same weights every call. GEMV (M = 1) calls are cold: before each timed call the
 *   caches are flushed by reading a buffer of at least 4x the last-level cache, so the weights
 *   come from DRAM as in decoding; the warm GEMV time is reported beside it.
 * - With T threads every kernel's N columns are split into T equal parts (one packed weight
 *   matrix and output block per thread, one kernel for N/T columns); OpenBLAS gets
 *   openblas_set_num_threads(T), and the roofs are measured with T threads too.
 * - Before timing, each qgemm kernel's output (all parts) is compared bit for bit with
 *   fa_rt_qlinear on 3 rows, so a broken call is not timed. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "bench/harness.h"
#include "codegen/codegen.h"
#include "codegen/jit.h"
#include "codegen/qgemm.h"
#include "runtime/runtime.h"

enum { MAX_LIST = 16 };

/* ---- options ---- */

typedef struct options {
    int64_t ms[MAX_LIST], ns[MAX_LIST], ks[MAX_LIST];
    int threads[MAX_LIST];
    int n_m, n_nk, n_threads;
    double target_s;   /* time each measurement aims at */
    int64_t bw_mib;    /* read-bandwidth buffer */
    int64_t flush_mib; /* cache flush buffer (0: 4x the LLC, at least 64 MiB) */
    const char *tsv;
} options;

static void usage(void) {
    fprintf(stderr,
            "usage: kernels [--tsv FILE] [--m 1,16,128,512] [--nk 1024x1024,2048x2048,...]\n"
            "               [--threads 1,2] [--time SECONDS] [--bw-mib MIB] [--flush-mib MIB]\n");
}

/* Parses a comma-separated list of positive integers into |out| (at most MAX_LIST). */
static int parse_list(const char *s, int64_t *out) {
    int n = 0;
    while (*s && n < MAX_LIST) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v <= 0)
            return -1;
        out[n++] = v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

/* Parses "NxK,NxK,..." into |ns|, |ks|. */
static int parse_nk(const char *s, int64_t *ns, int64_t *ks) {
    int n = 0;
    while (*s && n < MAX_LIST) {
        char *end;
        long long a = strtoll(s, &end, 10);
        if (end == s || *end != 'x' || a <= 0)
            return -1;
        const char *p = end + 1;
        long long b = strtoll(p, &end, 10);
        if (end == p || b <= 0 || (*end && *end != ','))
            return -1;
        ns[n] = a;
        ks[n++] = b;
        s = *end ? end + 1 : end;
    }
    return n;
}

static bool parse_options(int argc, char **argv, options *o) {
    static const int64_t ms[] = {1, 16, 128, 512};
    static const int64_t nk[][2] = {{1024, 1024}, {2048, 2048}, {4096, 4096}, {2816, 1024}};
    memset(o, 0, sizeof *o);
    o->n_m = 4;
    memcpy(o->ms, ms, sizeof ms);
    o->n_nk = 4;
    for (int i = 0; i < 4; i++) {
        o->ns[i] = nk[i][0];
        o->ks[i] = nk[i][1];
    }
    o->n_threads = 1;
    o->threads[0] = 1;
    o->target_s = 0.3;
    o->bw_mib = 1024;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t tmp[MAX_LIST];
        if (!v) {
            usage();
            return false;
        }
        i++;
        if (strcmp(a, "--tsv") == 0) {
            o->tsv = v;
        } else if (strcmp(a, "--m") == 0) {
            if ((o->n_m = parse_list(v, o->ms)) <= 0)
                return usage(), false;
        } else if (strcmp(a, "--nk") == 0) {
            if ((o->n_nk = parse_nk(v, o->ns, o->ks)) <= 0)
                return usage(), false;
        } else if (strcmp(a, "--threads") == 0) {
            if ((o->n_threads = parse_list(v, tmp)) <= 0)
                return usage(), false;
            for (int t = 0; t < o->n_threads; t++) {
                if (tmp[t] > MAX_THREADS)
                    return usage(), false;
                o->threads[t] = (int)tmp[t];
            }
        } else if (strcmp(a, "--time") == 0) {
            o->target_s = atof(v);
            if (!(o->target_s > 0))
                return usage(), false;
        } else if (strcmp(a, "--flush-mib") == 0) {
            o->flush_mib = atoll(v);
            if (o->flush_mib <= 0)
                return usage(), false;
        } else if (strcmp(a, "--bw-mib") == 0) {
            o->bw_mib = atoll(v);
            if (o->bw_mib <= 0)
                return usage(), false;
        } else {
            usage();
            return false;
        }
    }
    return true;
}

/* ---- deterministic random data ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static float rnd_float(void) { return (float)rnd_int(-100000, 100000) * 1e-5f; }

static void *xalloc(size_t bytes) {
    void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!p) {
        fprintf(stderr, "kernels: out of memory (%zu bytes)\n", bytes);
        abort();
    }
    return p;
}

/* ---- the kernels under test ---- */

typedef enum kind { K_SGEMM, K_W4A8, K_W8A8, K_W4A4, K_COUNT } kind;
static const char *const kind_names[K_COUNT] = {"sgemm", "W4A8", "W8A8", "W4A4"};

/* One qgemm kernel for an N x K weight matrix split into |nt| column parts. */
typedef struct qkernel {
    fa_qgemm_fn fn;
    int64_t n, k, np; /* np = n / nt columns per part */
    fa_qgemm_packed parts[MAX_THREADS];
    size_t read_bytes; /* weights, scales and column sums of all parts */
} qkernel;

/* Everything one timed call needs; threads pick their part by tid. */
typedef struct call_ctx {
    kind kd;
    int64_t m, n, k;
    const qkernel *q;
    const int8_t *codes;
    const float *scales;
    float *yparts[MAX_THREADS];
    const float *a, *b; /* sgemm: A [m, k], B [n, k] */
    float *c;
} call_ctx;

static FA_JIT_CALLER void call_task(void *ctx, int tid, int nt) {
    const call_ctx *c = ctx;
    if (c->kd == K_SGEMM) {
        if (tid != 0)
            return; /* OpenBLAS runs its own threads */
        (void)nt;
        if (c->m == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)c->n, (int)c->k, 1.0f, c->b, (int)c->k,
                        c->a, 1, 0.0f, c->c, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->m, (int)c->n, (int)c->k,
                        1.0f, c->a, (int)c->k, c->b, (int)c->k, 0.0f, c->c, (int)c->n);
        return;
    }
    const fa_qgemm_packed *p = &c->q->parts[tid];
    fa_qgemm_run(c->q->fn, c->codes, c->scales, p->w, p->wscale, p->colsum, NULL, c->yparts[tid],
                 c->m);
}

/* IR-layout weights of one kind: i8 [N, K] or i4 two per byte, per-channel scales. */
typedef struct qweights {
    fa_dtype dt;
    uint8_t *wq;
    size_t wq_bytes;
    float *wscale;
} qweights;

static void qweights_make(qweights *w, fa_dtype dt, int64_t n, int64_t k) {
    size_t count = (size_t)(n * k);
    w->dt = dt;
    w->wq_bytes = dt == FA_DT_I8 ? count : (count + 1) / 2;
    w->wq = calloc(w->wq_bytes, 1);
    for (size_t i = 0; i < count; i++) {
        if (dt == FA_DT_I8)
            w->wq[i] = (uint8_t)(int8_t)rnd_int(-128, 127);
        else
            w->wq[i / 2] |= (uint8_t)((rnd_int(-8, 7) & 0xf) << ((i & 1) * 4));
    }
    w->wscale = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        w->wscale[i] = (float)rnd_int(1, 1000) * 1e-5f;
}

static void qweights_free(qweights *w) {
    free(w->wq);
    free(w->wscale);
}

/* Reports |st| (not OK) and frees it. */
static void report_error(const char *what, fa_status st) {
    fprintf(stderr, "kernels: %s: %s\n", what, fa_status_message(st));
    fa_status_free(st);
}

/* Packs |w| in |nt| column parts and gets the kernel for N / nt columns; false on an error
 * (reported). */
static bool qkernel_make(qkernel *q, const qweights *w, int64_t n, int64_t k, int nt,
                         fa_qgemm_path *out_path) {
    memset(q, 0, sizeof *q);
    q->n = n;
    q->k = k;
    q->np = n / nt;
    fa_qgemm_key key = {
        .k = k, .n = q->np, .group = 0, .wdtype = w->dt, .bias = false, .path = FA_QGEMM_AUTO};
    fa_jit_target_host(&key.target);
    fa_status st = fa_qgemm_key_check(&key, out_path);
    if (!st)
        st = fa_qgemm_get(&key, &q->fn);
    size_t part_bytes = w->dt == FA_DT_I8 ? (size_t)(q->np * k) : (size_t)(q->np * k) / 2;
    for (int t = 0; !st && t < nt; t++) {
        st = fa_qgemm_pack(&key, w->wq + part_bytes * (size_t)t, w->wscale + q->np * t,
                           &q->parts[t]);
        /* Per channel: one scale and one column sum per padded column. */
        size_t padded = ((size_t)q->np + 31) / 32 * 32;
        q->read_bytes += q->parts[t].w_bytes + padded * (sizeof(float) + sizeof(int32_t));
    }
    if (st)
        report_error("qgemm", st);
    return !st;
}

static void qkernel_free(qkernel *q) {
    for (int t = 0; t < MAX_THREADS; t++)
        fa_qgemm_packed_free(&q->parts[t]);
}

/* Compares the kernel's output on 3 rows with fa_rt_qlinear, bit for bit. */
static bool qkernel_verify(const qkernel *q, const qweights *w, const int8_t *codes,
                           const float *scales, int nt) {
    int64_t rows = 3, cd[2] = {rows, q->k}, sd[2] = {rows, 1}, wd[2] = {q->n, q->k},
            gd[2] = {q->n, 1};
    fa_rt_tensor c = fa_rt_tensor_view(FA_DT_I8, 2, cd, codes, (uint64_t)(rows * q->k));
    fa_rt_tensor s = fa_rt_tensor_view(FA_DT_F32, 2, sd, scales, sizeof(float) * (uint64_t)rows);
    fa_rt_tensor wt = fa_rt_tensor_view(w->dt, 2, wd, w->wq, w->wq_bytes);
    fa_rt_tensor g = fa_rt_tensor_view(FA_DT_F32, 2, gd, w->wscale, sizeof(float) * (uint64_t)q->n);
    fa_rt_tensor out;
    const fa_rt_allocator *al = fa_rt_allocator_default();
    fa_status st = fa_rt_qlinear(&c, &s, &wt, &g, NULL, 0, &out, al);
    if (st) {
        report_error("fa_rt_qlinear", st);
        return false;
    }
    const float *want = out.data;
    float *y = xalloc(sizeof(float) * (size_t)(rows * q->np));
    bool ok = true;
    for (int t = 0; t < nt && ok; t++) {
        const fa_qgemm_packed *p = &q->parts[t];
        fa_qgemm_run(q->fn, codes, scales, p->w, p->wscale, p->colsum, NULL, y, rows);
        for (int64_t r = 0; r < rows && ok; r++)
            ok = memcmp(y + r * q->np, want + r * q->n + t * q->np,
                        sizeof(float) * (size_t)q->np) == 0;
    }
    free(y);
    fa_rt_tensor_free(&out, al);
    return ok;
}

/* ---- the report ---- */

/* The roofs: the best of the measurements taken before, between and after the shapes (the
 * machine may be shared; the best is the least flattering for the kernels). */
typedef struct roofs {
    double bw_gbs, int8_gops, f32_gops;
} roofs;

static void roofs_measure(roofs *rf, size_t bw_bytes, double target_s) {
    double bw = measure_bandwidth(bw_bytes, target_s), i8 = measure_peak(0, target_s);
    double f32 = measure_peak(1, target_s);
    fprintf(stderr, "  roofs now: read %.1f GB/s, int8 %.1f GOPS, f32 %.1f GFLOPS\n", bw, i8, f32);
    rf->bw_gbs = bw > rf->bw_gbs ? bw : rf->bw_gbs;
    rf->int8_gops = i8 > rf->int8_gops ? i8 : rf->int8_gops;
    rf->f32_gops = f32 > rf->f32_gops ? f32 : rf->f32_gops;
}

/* One measured kernel call; roof percentages are computed when the table is printed. */
typedef struct result {
    kind kd;
    int64_t m, n, k;
    double s, warm_s, ops, bytes, vs_sgemm;
} result;

static result *results;
static size_t n_results, cap_results;

static void result_add(const result *r) {
    if (n_results == cap_results) {
        cap_results = cap_results ? 2 * cap_results : 64;
        results = realloc(results, sizeof *results * cap_results);
        if (!results)
            abort();
    }
    results[n_results++] = *r;
}

/* Prints the rows of one thread count as a table and, when |tsv|, as TSV rows. */
static void report(int nt, const roofs *rf, FILE *tsv) {
    printf("\nthreads: %d\nroofs (best of %s): read bandwidth %.1f GB/s, int8 peak %.1f GOPS, "
           "f32 FMA peak %.1f GFLOPS\n",
           nt, "the measurements before, between and after the shapes", rf->bw_gbs, rf->int8_gops,
           rf->f32_gops);
    printf("  %-6s %5s %5s %5s %10s %8s %8s %8s %7s %-9s %10s\n", "kernel", "M", "N", "K", "ms",
           "GOPS", "GB/s", "vs sgemm", "roof", "of", "warm ms");
    if (tsv) {
        fprintf(tsv, "%d\tread_bw\t0\t0\t0\t0\t0\t%.6g\t0\t-\t0\t0\n", nt, rf->bw_gbs);
        fprintf(tsv, "%d\tint8_peak\t0\t0\t0\t0\t%.6g\t0\t0\t-\t0\t0\n", nt, rf->int8_gops);
        fprintf(tsv, "%d\tf32_peak\t0\t0\t0\t0\t%.6g\t0\t0\t-\t0\t0\n", nt, rf->f32_gops);
    }
    for (size_t i = 0; i < n_results; i++) {
        const result *r = &results[i];
        double gops = r->ops / r->s * 1e-9, gbs = r->bytes / r->s * 1e-9;
        const char *roof = r->m == 1 ? "read_bw" : r->kd == K_SGEMM ? "f32_peak" : "int8_peak";
        double pct = r->m == 1          ? 100 * gbs / rf->bw_gbs
                     : r->kd == K_SGEMM ? 100 * gops / rf->f32_gops
                                        : 100 * gops / rf->int8_gops;
        char warm[32] = "";
        if (r->m == 1)
            snprintf(warm, sizeof warm, "%10.3f", r->warm_s * 1e3);
        printf("  %-6s %5lld %5lld %5lld %10.3f %8.1f %8.1f %7.2fx %6.1f%% %-9s %s\n",
               kind_names[r->kd], (long long)r->m, (long long)r->n, (long long)r->k, r->s * 1e3,
               gops, gbs, r->vs_sgemm, pct, roof, warm);
        if (tsv)
            fprintf(tsv, "%d\t%s\t%lld\t%lld\t%lld\t%.6g\t%.6g\t%.6g\t%.4g\t%s\t%.4g\t%.6g\n", nt,
                    kind_names[r->kd], (long long)r->m, (long long)r->n, (long long)r->k,
                    r->s * 1e3, gops, gbs, r->vs_sgemm, roof, pct, r->warm_s * 1e3);
    }
}

/* Times every kind on one shape and records its results; false on an error (reported). */
static bool bench_shape(const options *o, int nt, int64_t n, int64_t k) {
    if (n % (32 * nt)) {
        printf("N=%lld skipped: not a multiple of 32 x %d threads\n", (long long)n, nt);
        return true;
    }
    fprintf(stderr, "  N=%lld K=%lld\n", (long long)n, (long long)k);
    int64_t mmax = 1;
    for (int i = 0; i < o->n_m; i++)
        mmax = o->ms[i] > mmax ? o->ms[i] : mmax;
    mmax = mmax < 3 ? 3 : mmax;
    int8_t *codes8 = xalloc((size_t)(mmax * k)), *codes4 = xalloc((size_t)(mmax * k));
    float *scales = xalloc(sizeof(float) * (size_t)mmax);
    for (int64_t i = 0; i < mmax * k; i++) {
        codes8[i] = (int8_t)rnd_int(-128, 127);
        codes4[i] = (int8_t)rnd_int(-8, 7);
    }
    for (int64_t i = 0; i < mmax; i++)
        scales[i] = (float)rnd_int(1, 1000) * 1e-4f;
    float *a = xalloc(sizeof(float) * (size_t)(mmax * k)),
          *b = xalloc(sizeof(float) * (size_t)(n * k));
    float *c = xalloc(sizeof(float) * (size_t)(mmax * n));
    for (int64_t i = 0; i < mmax * k; i++)
        a[i] = rnd_float();
    for (int64_t i = 0; i < n * k; i++)
        b[i] = rnd_float();
    call_ctx ctx = {.n = n, .k = k, .scales = scales, .a = a, .b = b, .c = c};
    for (int t = 0; t < nt; t++)
        ctx.yparts[t] = xalloc(sizeof(float) * (size_t)(mmax * n / nt));

    qweights w4, w8;
    qweights_make(&w4, FA_DT_I4, n, k);
    qweights_make(&w8, FA_DT_I8, n, k);
    qkernel q4, q8;
    fa_qgemm_path path;
    bool ok = qkernel_make(&q4, &w4, n, k, nt, &path) && qkernel_make(&q8, &w8, n, k, nt, &path);
    if (ok && !(qkernel_verify(&q4, &w4, codes8, scales, nt) &&
                qkernel_verify(&q4, &w4, codes4, scales, nt) &&
                qkernel_verify(&q8, &w8, codes8, scales, nt))) {
        fprintf(stderr, "kernels: N=%lld K=%lld: kernel output differs from fa_rt_qlinear\n",
                (long long)n, (long long)k);
        ok = false;
    }

    for (int mi = 0; ok && mi < o->n_m; mi++) {
        int64_t m = o->ms[mi];
        double t_sgemm = 0;
        for (int kd = 0; kd < K_COUNT; kd++) {
            ctx.kd = (kind)kd;
            ctx.m = m;
            ctx.q = kd == K_W8A8 ? &q8 : &q4;
            ctx.codes = kd == K_W4A4 ? codes4 : codes8;
            double ops = 2.0 * (double)m * (double)n * (double)k;
            size_t bytes = kd == K_SGEMM ? sizeof(float) * (size_t)(n * k + k)
                                         : ctx.q->read_bytes + (size_t)k + sizeof(float);
            double warm = 0, t;
            if (m == 1) {
                t = measure(call_task, &ctx, o->target_s, true);
                warm = measure(call_task, &ctx, o->target_s / 2, false);
            } else {
                t = measure(call_task, &ctx, o->target_s, false);
            }
            if (kd == K_SGEMM)
                t_sgemm = t;
            result r = {(kind)kd, m, n, k, t, warm, ops, (double)bytes, t_sgemm / t};
            result_add(&r);
        }
    }
    qkernel_free(&q4);
    qkernel_free(&q8);
    qweights_free(&w4);
    qweights_free(&w8);
    for (int t = 0; t < nt; t++)
        free(ctx.yparts[t]);
    free(codes8);
    free(codes4);
    free(scales);
    free(a);
    free(b);
    free(c);
    return ok;
}

/* Bytes of the last-level cache: sysfs (glibc's sysconf misreads some virtual machines), then
 * sysconf, then 32 MiB. */
static long llc_bytes(void) {
    long best = 0;
    for (int i = 0; i < 8; i++) {
        char name[96];
        snprintf(name, sizeof name, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        FILE *f = fopen(name, "r");
        if (!f)
            continue;
        long v = 0;
        char unit = 0;
        if (fscanf(f, "%ld%c", &v, &unit) >= 1) {
            v = unit == 'K' ? v << 10 : unit == 'M' ? v << 20 : v;
            best = v > best ? v : best;
        }
        fclose(f);
    }
    if (best <= 0)
        best = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return best > 0 ? best : 32l << 20;
}

static const char *path_name(fa_qgemm_path p) {
    switch (p) {
    case FA_QGEMM_VNNI512: return "VNNI512 (vpdpbusd zmm)";
    case FA_QGEMM_AVX2: return "AVX2 (pmaddubsw/pmaddwd)";
    case FA_QGEMM_GENERIC: return "GENERIC (vector IR)";
    default: return "?";
    }
}

int main(int argc, char **argv) {
    options o;
    int status = 0;
    if (!parse_options(argc, argv, &o))
        return 2;
    __builtin_cpu_init();
    has_avx512 = __builtin_cpu_supports("avx512f");
    has_vnni = has_avx512 && __builtin_cpu_supports("avx512vnni");
    if (!__builtin_cpu_supports("avx2")) {
        fprintf(stderr, "kernels: needs at least AVX2\n");
        return 1;
    }
    FILE *tsv = NULL;
    if (o.tsv && !(tsv = fopen(o.tsv, "w"))) {
        fprintf(stderr, "kernels: %s: %s\n", o.tsv, strerror(errno));
        return 1;
    }

    char host[256];
    fa_codegen_describe_host(host, sizeof host);
    long llc = llc_bytes();
    fa_qgemm_key probe = {.k = 64, .n = 32, .wdtype = FA_DT_I4};
    fa_jit_target_host(&probe.target);
    fa_qgemm_path path = FA_QGEMM_GENERIC;
    fa_status st = fa_qgemm_key_check(&probe, &path);
    if (st) {
        report_error("qgemm", st);
        return 1;
    }
    /* The bandwidth buffer: the larger of --bw-mib and 4x the LLC, touched (not zero pages)
     * before use; its first 4x LLC (at least 64 MiB, or --flush-mib) are the flush buffer. */
    flush_bytes = 4 * (size_t)llc < (64u << 20) ? 64u << 20 : 4 * (size_t)llc;
    if (o.flush_mib)
        flush_bytes = (size_t)o.flush_mib << 20;
    size_t bw_bytes = (size_t)o.bw_mib << 20;
    bw_bytes = bw_bytes < flush_bytes ? flush_bytes : bw_bytes;
    bw_bytes = bw_bytes < 4 * (size_t)llc ? 4 * (size_t)llc : bw_bytes;
    uint8_t *buf = xalloc(bw_bytes);
    memset(buf, 1, bw_bytes);
    flush_buf = buf;

    time_t t = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    printf("freeact bench/kernels, %s\ncpu: %s\nqgemm path: %s; per-channel scales, no bias\n"
           "OpenBLAS: %s (core %s)\nLLC %ld KiB; bandwidth buffer %zu MiB, flush buffer %zu MiB\n"
           "int8 peak loop: %s\n",
           date, host, path_name(path), openblas_get_config(), openblas_get_corename(), llc >> 10,
           bw_bytes >> 20, flush_bytes >> 20,
           has_vnni ? "vpdpbusd zmm x 16 accumulators"
                    : "AVX2 pmaddubsw + pmaddwd + paddd ymm x 16 (no AVX512-VNNI)");
    if (tsv)
        fprintf(tsv,
                "# freeact bench/kernels %s\n# cpu\t%s\n# qgemm_path\t%s\n# openblas\t%s\n"
                "threads\tkernel\tm\tn\tk\tmedian_ms\tgops\tgbs\tvs_sgemm\troof\troof_pct\t"
                "warm_ms\n",
                date, host, path_name(path), openblas_get_config());

    for (int ti = 0; ti < o.n_threads; ti++) {
        int nt = o.threads[ti];
        if (!pool_start(nt)) {
            fprintf(stderr, "kernels: cannot start %d threads\n", nt);
            return 1;
        }
        openblas_set_num_threads(nt);
        fprintf(stderr, "threads %d:\n", nt);
        roofs rf = {0, 0, 0};
        roofs_measure(&rf, bw_bytes, o.target_s);
        n_results = 0;
        bool ok = true;
        for (int si = 0; ok && si < o.n_nk; si++) {
            ok = bench_shape(&o, nt, o.ns[si], o.ks[si]);
            roofs_measure(&rf, bw_bytes, o.target_s / 3);
        }
        report(nt, &rf, tsv);
        pool_stop();
        if (!ok) {
            status = 1;
            break;
        }
    }
    free(results);
    if (tsv)
        fclose(tsv);
    free(buf);
    fa_jit_shutdown();
    return status;
}
