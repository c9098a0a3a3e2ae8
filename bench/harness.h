/* The harness of bench/kernels (harness.c): a fixed pool of T threads (the caller is thread 0),
 * median timing of a task on the pool, a cache-flush buffer, and the measured roofs. */
#ifndef FA_BENCH_HARNESS_H
#define FA_BENCH_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { MAX_THREADS = 8 };

/* A task run by every thread of the pool: |tid| of |nthreads|. */
typedef void (*task_fn)(void *ctx, int tid, int nthreads);

typedef struct pool {
    int n;
    pthread_t th[MAX_THREADS];
    int ids[MAX_THREADS];
    pthread_barrier_t start, done;
    task_fn fn;
    void *ctx;
    bool quit;
} pool;

extern pool the_pool;
/* Starts |n| - 1 workers (false on failure); pool_stop joins them. */
bool pool_start(int n);
void pool_stop(void);
/* Runs |fn| on every thread and waits for all. */
void pool_run(task_fn fn, void *ctx);

/* The buffer read to flush the caches before cold measurements (the caller allocates it,
 * 64-byte aligned, |flush_bytes| long) and which the bandwidth loop reads. */
extern const uint8_t *flush_buf;
extern size_t flush_bytes;

/* Median seconds of |fn| on the pool, repeated to fill about |target_s| after warm-up; |cold|
 * flushes the caches before each timed call. */
double measure(task_fn fn, void *ctx, double target_s, bool cold);

/* The CPU's vector features (the caller sets them): which roof loops run. */
extern bool has_avx512, has_vnni;
/* Giga-operations per second of peak loop |which| (0: int8 dot products, 1: f32 FMA). */
double measure_peak(int which, double target_s);
/* GB/s reading |buf_bytes| of flush_buf on the pool. */
double measure_bandwidth(size_t buf_bytes, double target_s);

#endif
