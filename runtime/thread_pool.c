/* The plan executor's thread pool. One job at a time: the caller posts it under the mutex, bumps
 * a generation counter and broadcasts; worker w runs chunk w (the caller runs chunk 0) and the
 * last one to finish signals the caller. Every shared field is read and written under |mu|. */
#include <pthread.h>
#include <string.h>

#include <cblas.h>

#include "runtime/thread_pool.h"

typedef struct worker {
    fa_rt_thread_pool *pool;
    uint32_t index; /* the chunk it runs: 1 .. num_threads - 1 */
    pthread_t thread;
} worker;

struct fa_rt_thread_pool {
    const fa_rt_allocator *al;
    uint32_t num_threads, num_started;
    worker *workers;
    pthread_mutex_t call_mu; /* serializes parallel_for callers */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    /* the job, under |mu| */
    uint64_t generation;
    bool shutdown;
    fa_rt_thread_pool_fn fn;
    void *ctx;
    uint64_t n;
    uint32_t num_chunks;
    uint32_t pending; /* worker chunks not finished yet */
    fa_status err;    /* error of the lowest failing chunk so far */
    uint32_t err_chunk;
};

static void chunk_range(uint64_t n, uint32_t chunks, uint32_t i, uint64_t *begin, uint64_t *end) {
    /* n * i / chunks without overflow for any n: split into quotient and remainder parts */
    uint64_t q = n / chunks, r = n % chunks;
    *begin = q * i + r * i / chunks;
    *end = q * (i + 1) + r * (i + 1) / chunks;
}

/* Records |s| from chunk |chunk|; call with |mu| held. */
static void note_error(fa_rt_thread_pool *p, fa_status s, uint32_t chunk) {
    if (!s)
        return;
    if (!p->err || chunk < p->err_chunk) {
        fa_status_free(p->err);
        p->err = s;
        p->err_chunk = chunk;
    } else {
        fa_status_free(s);
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    fa_rt_thread_pool *p = w->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->shutdown && p->generation == seen)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->shutdown)
            break;
        seen = p->generation;
        if (w->index >= p->num_chunks)
            continue; /* this job has fewer chunks than threads */
        fa_rt_thread_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        uint64_t begin, end;
        chunk_range(p->n, p->num_chunks, w->index, &begin, &end);
        pthread_mutex_unlock(&p->mu);
        fa_status s = fn(ctx, begin, end, w->index);
        pthread_mutex_lock(&p->mu);
        note_error(p, s, w->index);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Stops and joins the started workers and frees everything. */
static void pool_free(fa_rt_thread_pool *p) {
    pthread_mutex_lock(&p->mu);
    p->shutdown = true;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (uint32_t i = 0; i < p->num_started; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->call_mu);
    const fa_rt_allocator *al = p->al;
    if (p->workers)
        al->free(al->user, p->workers);
    al->free(al->user, p);
}

fa_status fa_rt_thread_pool_create(uint32_t num_threads, const fa_rt_allocator *al,
                                   fa_rt_thread_pool **out) {
    *out = NULL;
    if (num_threads == 0)
        num_threads = 1;
    if (num_threads > 1024)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "thread pool: %u threads, at most 1024",
                              num_threads);
    /* The pool is the parallelism: BLAS calls inside its tasks run on the calling thread.
     * OpenBLAS's own threads on top oversubscribe the cores and spin; on the 2-core CI machine
     * under load the dLLM ran 8x slower with them (process-wide setting). */
    openblas_set_num_threads(1);
    fa_rt_thread_pool *p = al->alloc(al->user, sizeof *p, 64);
    if (!p)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "thread pool: out of memory");
    memset(p, 0, sizeof *p);
    p->al = al;
    p->num_threads = num_threads;
    if (num_threads > 1) {
        p->workers = al->alloc(al->user, sizeof(worker) * (num_threads - 1), 64);
        if (!p->workers) {
            al->free(al->user, p);
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "thread pool: out of memory");
        }
    }
    pthread_mutex_init(&p->call_mu, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    for (uint32_t i = 0; i + 1 < num_threads; i++) {
        worker *w = &p->workers[i];
        w->pool = p;
        w->index = i + 1;
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc) {
            pool_free(p);
            return fa_status_make(FA_STATUS_IO, "thread pool: cannot start thread %u of %u: %s",
                                  i + 2, num_threads, strerror(rc));
        }
        p->num_started++;
    }
    *out = p;
    return FA_OK;
}

void fa_rt_thread_pool_destroy(fa_rt_thread_pool *pool) {
    if (pool)
        pool_free(pool);
}

uint32_t fa_rt_thread_pool_num_threads(const fa_rt_thread_pool *pool) {
    return pool ? pool->num_threads : 1;
}

fa_status fa_rt_thread_pool_parallel_for(fa_rt_thread_pool *pool, uint64_t n,
                                         fa_rt_thread_pool_fn fn, void *ctx) {
    if (n == 0)
        return FA_OK;
    uint32_t threads = fa_rt_thread_pool_num_threads(pool);
    uint32_t chunks = n < threads ? (uint32_t)n : threads;
    if (chunks == 1)
        return fn(ctx, 0, n, 0);
    pthread_mutex_lock(&pool->call_mu);
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n = n;
    pool->num_chunks = chunks;
    pool->pending = chunks - 1;
    pool->err = FA_OK;
    pool->generation++;
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->mu);

    uint64_t begin, end;
    chunk_range(n, chunks, 0, &begin, &end);
    fa_status s = fn(ctx, begin, end, 0);

    pthread_mutex_lock(&pool->mu);
    note_error(pool, s, 0);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->done_cv, &pool->mu);
    s = pool->err;
    pool->err = FA_OK;
    pool->fn = NULL;
    pool->ctx = NULL;
    pthread_mutex_unlock(&pool->mu);
    pthread_mutex_unlock(&pool->call_mu);
    return s;
}
