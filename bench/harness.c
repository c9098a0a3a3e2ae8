/* bench/kernels' harness: a fixed thread pool, median timing with optional cache flushes, and
 * the roofs (read bandwidth, int8 dot-product peak, f32 FMA peak) in inline assembly so the
 * compiler can neither spill nor drop the loops. See harness.h. */
#include "bench/harness.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a fixed pool of T threads (the caller is thread 0) ---- */



pool the_pool;

static void *worker(void *arg) {
    int tid = *(int *)arg;
    pool *p = &the_pool;
    for (;;) {
        pthread_barrier_wait(&p->start);
        if (p->quit)
            return NULL;
        p->fn(p->ctx, tid, p->n);
        pthread_barrier_wait(&p->done);
    }
}

bool pool_start(int n) {
    pool *p = &the_pool;
    memset(p, 0, sizeof *p);
    p->n = n;
    if (n == 1)
        return true;
    pthread_barrier_init(&p->start, NULL, (unsigned)n);
    pthread_barrier_init(&p->done, NULL, (unsigned)n);
    for (int t = 1; t < n; t++) {
        p->ids[t] = t;
        if (pthread_create(&p->th[t], NULL, worker, &p->ids[t]) != 0)
            return false;
    }
    return true;
}

void pool_stop(void) {
    pool *p = &the_pool;
    if (p->n > 1) {
        p->quit = true;
        pthread_barrier_wait(&p->start);
        for (int t = 1; t < p->n; t++)
            pthread_join(p->th[t], NULL);
        pthread_barrier_destroy(&p->start);
        pthread_barrier_destroy(&p->done);
    }
}

/* Runs |fn| on every thread of the pool and waits for all. */
void pool_run(task_fn fn, void *ctx) {
    pool *p = &the_pool;
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    pthread_barrier_wait(&p->start);
    fn(ctx, 0, p->n);
    pthread_barrier_wait(&p->done);
}

/* ---- timing ---- */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The buffer read before every cold call, and by the bandwidth loop. */
const uint8_t *flush_buf;
size_t flush_bytes;
static volatile uint64_t sink;

static uint64_t read_bytes(const uint8_t *p, size_t bytes);

static void flush_task(void *ctx, int tid, int nt) {
    (void)ctx;
    size_t chunk = flush_bytes / (size_t)nt & ~(size_t)63;
    sink += read_bytes(flush_buf + chunk * (size_t)tid, chunk);
}

/* Median seconds of |fn| on the pool: warm-up calls, then repetitions to fill about |target_s|
 * (at least 5, at most 200; cold: at most 40, caches flushed before each). */
double measure(task_fn fn, void *ctx, double target_s, bool cold) {
    double t0 = now();
    pool_run(fn, ctx);
    double first = now() - t0;
    if (first < 0.5)
        pool_run(fn, ctx);
    int reps = first > 0 ? (int)(target_s / first) : 200;
    int max = cold ? 40 : 200;
    reps = reps < 5 ? 5 : reps > max ? max : reps;
    double ts[200];
    for (int r = 0; r < reps; r++) {
        if (cold)
            pool_run(flush_task, NULL);
        double a = now();
        pool_run(fn, ctx);
        ts[r] = now() - a;
    }
    qsort(ts, (size_t)reps, sizeof *ts, cmp_double);
    return reps % 2 ? ts[reps / 2] : 0.5 * (ts[reps / 2 - 1] + ts[reps / 2]);
}

/* ---- roofs: read bandwidth, int8 dot-product peak, f32 FMA peak ---- */

bool has_avx512, has_vnni;

__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint8_t *p, size_t bytes) {
    __m512i s[8];
    for (int i = 0; i < 8; i++)
        s[i] = _mm512_setzero_si512();
    for (size_t off = 0; off + 512 <= bytes; off += 512)
        for (int i = 0; i < 8; i++)
            s[i] = _mm512_add_epi64(s[i], _mm512_load_si512((const void *)(p + off + 64 * i)));
    uint64_t out[8], sum = 0;
    for (int i = 1; i < 8; i++)
        s[0] = _mm512_add_epi64(s[0], s[i]);
    _mm512_storeu_si512((void *)out, s[0]);
    for (int i = 0; i < 8; i++)
        sum += out[i];
    return sum;
}

__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t bytes) {
    __m256i s[8];
    for (int i = 0; i < 8; i++)
        s[i] = _mm256_setzero_si256();
    for (size_t off = 0; off + 256 <= bytes; off += 256)
        for (int i = 0; i < 8; i++)
            s[i] = _mm256_add_epi64(s[i], _mm256_load_si256((const __m256i *)(p + off + 32 * i)));
    for (int i = 1; i < 8; i++)
        s[0] = _mm256_add_epi64(s[0], s[i]);
    uint64_t out[4];
    _mm256_storeu_si256((__m256i *)out, s[0]);
    return out[0] + out[1] + out[2] + out[3];
}

/* Sums |bytes| (a multiple of 512) at the 64-byte aligned |p| with the widest loads there are. */
static uint64_t read_bytes(const uint8_t *p, size_t bytes) {
    return has_avx512 ? read_avx512(p, bytes) : read_avx2(p, bytes);
}

/* The peak loops are inline assembly so that the compiler can neither spill the accumulators
 * nor drop the work: independent accumulators, operands in registers, no memory. |iters| must
 * be positive. */
enum { PEAK_ACC = 16 };

/* clang-format off */
#define REP16(x)                                                                                   \
    x(0) x(1) x(2) x(3) x(4) x(5) x(6) x(7) x(8) x(9) x(10) x(11) x(12) x(13) x(14) x(15)
#define ZERO_ZMM(i) "vpxord %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
#define ZERO_YMM(i) "vpxor %%ymm" #i ", %%ymm" #i ", %%ymm" #i "\n\t"
#define VNNI(i) "vpdpbusd %%zmm17, %%zmm16, %%zmm" #i "\n\t"
#define FMA512(i) "vfmadd231ps %%zmm17, %%zmm16, %%zmm" #i "\n\t"
#define FMA256(i) "vfmadd231ps %%ymm15, %%ymm14, %%ymm" #i "\n\t"
/* |iters| x PEAK_ACC vpdpbusd zmm (64 u8 x s8 multiply-adds each). */
__attribute__((target("avx512f,avx512vnni"))) static void peak_vnni(int64_t iters) {
    __asm__ volatile("vpternlogd $0xff, %%zmm16, %%zmm16, %%zmm16\n\t"
                     "vpternlogd $0xff, %%zmm17, %%zmm17, %%zmm17\n\t" REP16(ZERO_ZMM)
                     "1:\n\t" REP16(VNNI) "dec %0\n\t"
                     "jnz 1b\n\t"
                     : "+r"(iters)
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",
                       "xmm17", "cc");
}

/* |iters| x 4 x (pmaddubsw, pmaddwd, paddd) on ymm: 4 chains of 3 dependent instructions,
 * 32 multiply-adds each; 12 temporaries keep the chains independent. */
__attribute__((target("avx2"))) static void peak_avx2(int64_t iters) {
#define MADD(i, t, acc)                                                                            \
    "vpmaddubsw %%ymm15, %%ymm14, %%ymm" #t "\n\t"                                                \
    "vpmaddwd %%ymm13, %%ymm" #t ", %%ymm" #t "\n\t"                                               \
    "vpaddd %%ymm" #t ", %%ymm" #acc ", %%ymm" #acc "\n\t"
    __asm__ volatile("vpcmpeqb %%ymm14, %%ymm14, %%ymm14\n\t"
                     "vpcmpeqb %%ymm15, %%ymm15, %%ymm15\n\t"
                     "vpcmpeqb %%ymm13, %%ymm13, %%ymm13\n\t"
                     "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
                     "vpxor %%ymm1, %%ymm1, %%ymm1\n\t"
                     "vpxor %%ymm2, %%ymm2, %%ymm2\n\t"
                     "vpxor %%ymm3, %%ymm3, %%ymm3\n\t"
                     "1:\n\t" MADD(0, 4, 0) MADD(1, 5, 1) MADD(2, 6, 2) MADD(3, 7, 3)
                         MADD(4, 8, 0) MADD(5, 9, 1) MADD(6, 10, 2) MADD(7, 11, 3)
                     "dec %0\n\t"
                     "jnz 1b\n\t"
                     : "+r"(iters)
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm13", "xmm14", "xmm15", "cc");
#undef MADD
}

/* |iters| x PEAK_ACC vfmadd231ps zmm (16 f32 FMAs each). */
__attribute__((target("avx512f"))) static void peak_fma512(int64_t iters) {
    __asm__ volatile("vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
                     "vpxord %%zmm17, %%zmm17, %%zmm17\n\t" REP16(ZERO_ZMM)
                     "1:\n\t" REP16(FMA512) "dec %0\n\t"
                     "jnz 1b\n\t"
                     : "+r"(iters)
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",
                       "xmm17", "cc");
}

/* |iters| x 14 vfmadd231ps ymm (8 f32 FMAs each). */
__attribute__((target("avx2,fma"))) static void peak_fma256(int64_t iters) {
#define REP14(x) x(0) x(1) x(2) x(3) x(4) x(5) x(6) x(7) x(8) x(9) x(10) x(11) x(12) x(13)
    __asm__ volatile("vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
                     "vpxor %%ymm15, %%ymm15, %%ymm15\n\t" REP14(ZERO_YMM)
                     "1:\n\t" REP14(FMA256) "dec %0\n\t"
                     "jnz 1b\n\t"
                     : "+r"(iters)
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
#undef REP14
}
/* clang-format on */

typedef struct peak_ctx {
    int which; /* 0: int8 dot products, 1: f32 FMA */
    int64_t iters;
} peak_ctx;

static void peak_task(void *ctx, int tid, int nt) {
    (void)tid;
    (void)nt;
    const peak_ctx *c = ctx;
    if (c->which == 0 && has_vnni)
        peak_vnni(c->iters);
    else if (c->which == 0)
        peak_avx2(c->iters);
    else if (has_avx512)
        peak_fma512(c->iters);
    else
        peak_fma256(c->iters);
}

/* Operations (2 per multiply-add) per iteration of the peak loops, per thread. */
static double peak_ops_per_iter(int which) {
    if (which == 0)
        return has_vnni ? PEAK_ACC * 2.0 * 64 : 8 * 2.0 * 32;
    return has_avx512 ? PEAK_ACC * 2.0 * 16 : 14 * 2.0 * 8;
}

/* Giga-operations per second of peak loop |which| on the pool. */
double measure_peak(int which, double target_s) {
    peak_ctx c = {which, 1 << 16};
    double t = measure(peak_task, &c, 0.02, false);
    c.iters = (int64_t)((double)c.iters * target_s / 5 / t) + 1;
    t = measure(peak_task, &c, target_s, false);
    return peak_ops_per_iter(which) * (double)c.iters * the_pool.n / t * 1e-9;
}

static void read_task(void *ctx, int tid, int nt) {
    const size_t *bytes = ctx;
    size_t chunk = *bytes / (size_t)nt & ~(size_t)511;
    sink += read_bytes(flush_buf + chunk * (size_t)tid, chunk);
}

/* GB/s reading the whole buffer on the pool. */
double measure_bandwidth(size_t buf_bytes, double target_s) {
    size_t bytes = buf_bytes & ~(size_t)(512 * MAX_THREADS - 1);
    double t = measure(read_task, &bytes, target_s, false);
    return (double)bytes / t * 1e-9;
}
