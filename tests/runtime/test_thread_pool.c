/* The plan executor's thread pool: every item visited exactly once in contiguous balanced chunks
 * (sums, uneven splits, fewer items than threads), many calls in a row, deterministic error
 * propagation (the lowest failing chunk wins), 0, 1, 2, 4 and 7 threads. Run under ASan. */
#include <pthread.h>
#include <stdlib.h>

#include "runtime/thread_pool.h"
#include "tests/runtime/rt_test.h"

typedef struct job {
    uint32_t *hits;      /* per item, written by exactly one chunk */
    uint64_t *chunk_sum; /* per chunk: sum of its items */
    uint64_t *chunk_begin, *chunk_end;
    uint32_t fail_from; /* chunks >= this fail (UINT32_MAX: none) */
    pthread_t caller;
    uint32_t *inline_chunks; /* per chunk: ran on the calling thread */
} job;

static fa_status visit(void *ctx, uint64_t begin, uint64_t end, uint32_t chunk) {
    job *j = ctx;
    uint64_t s = 0;
    for (uint64_t i = begin; i < end; i++) {
        j->hits[i]++;
        s += i;
    }
    j->chunk_sum[chunk] = s;
    j->chunk_begin[chunk] = begin;
    j->chunk_end[chunk] = end;
    j->inline_chunks[chunk] = pthread_equal(pthread_self(), j->caller) ? 1 : 0;
    if (chunk >= j->fail_from)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "chunk %u failed", chunk);
    return FA_OK;
}

/* Runs one parallel_for over |n| items and checks coverage, balance and the sums. */
static void check_split(fa_rt_thread_pool *pool, uint64_t n) {
    uint32_t threads = fa_rt_thread_pool_num_threads(pool);
    uint32_t chunks = n < threads ? (uint32_t)n : threads;
    job j = {0};
    j.hits = calloc(n ? n : 1, sizeof *j.hits);
    j.chunk_sum = calloc(threads, sizeof *j.chunk_sum);
    j.chunk_begin = calloc(threads, sizeof *j.chunk_begin);
    j.chunk_end = calloc(threads, sizeof *j.chunk_end);
    j.inline_chunks = calloc(threads, sizeof *j.inline_chunks);
    j.fail_from = UINT32_MAX;
    j.caller = pthread_self();
    CHECK_OK(fa_rt_thread_pool_parallel_for(pool, n, visit, &j));
    for (uint64_t i = 0; i < n; i++)
        CHECK(j.hits[i] == 1);
    uint64_t total = 0, lo = UINT64_MAX, hi = 0;
    for (uint32_t c = 0; c < chunks; c++) {
        total += j.chunk_sum[c];
        uint64_t len = j.chunk_end[c] - j.chunk_begin[c];
        lo = len < lo ? len : lo;
        hi = len > hi ? len : hi;
        if (c > 0)
            CHECK(j.chunk_begin[c] == j.chunk_end[c - 1]); /* contiguous, in order */
    }
    if (n > 0) {
        CHECK(j.chunk_begin[0] == 0 && j.chunk_end[chunks - 1] == n);
        CHECK(hi - lo <= 1); /* balanced */
        CHECK(total == n * (n - 1) / 2);
        CHECK(j.inline_chunks[0] == 1); /* the caller runs chunk 0 */
        for (uint32_t c = 1; c < chunks; c++)
            CHECK(j.inline_chunks[c] == (threads == 1 ? 1u : 0u));
    }
    free(j.hits);
    free(j.chunk_sum);
    free(j.chunk_begin);
    free(j.chunk_end);
    free(j.inline_chunks);
}

static void check_errors(fa_rt_thread_pool *pool) {
    uint32_t threads = fa_rt_thread_pool_num_threads(pool);
    uint64_t n = 100;
    job j = {0};
    j.hits = calloc(n, sizeof *j.hits);
    j.chunk_sum = calloc(threads, sizeof *j.chunk_sum);
    j.chunk_begin = calloc(threads, sizeof *j.chunk_begin);
    j.chunk_end = calloc(threads, sizeof *j.chunk_end);
    j.inline_chunks = calloc(threads, sizeof *j.inline_chunks);
    j.caller = pthread_self();
    /* every chunk fails: the lowest one's error comes back, whatever the timing */
    for (int rep = 0; rep < 20; rep++) {
        j.fail_from = 0;
        CHECK_ERR(fa_rt_thread_pool_parallel_for(pool, n, visit, &j), "chunk 0 failed");
    }
    if (threads > 2) {
        j.fail_from = 2;
        CHECK_ERR(fa_rt_thread_pool_parallel_for(pool, n, visit, &j), "chunk 2 failed");
    }
    /* the pool still works after errors */
    j.fail_from = UINT32_MAX;
    memset(j.hits, 0, n * sizeof *j.hits);
    CHECK_OK(fa_rt_thread_pool_parallel_for(pool, n, visit, &j));
    for (uint64_t i = 0; i < n; i++)
        CHECK(j.hits[i] == 1);
    free(j.hits);
    free(j.chunk_sum);
    free(j.chunk_begin);
    free(j.chunk_end);
    free(j.inline_chunks);
}

/* A per-item reduction through a shared counter: races would show under TSan. */
typedef struct counter {
    pthread_mutex_t mu;
    uint64_t sum;
} counter;

static fa_status add_range(void *ctx, uint64_t begin, uint64_t end, uint32_t chunk) {
    (void)chunk;
    counter *c = ctx;
    uint64_t s = 0;
    for (uint64_t i = begin; i < end; i++)
        s += i * i;
    pthread_mutex_lock(&c->mu);
    c->sum += s;
    pthread_mutex_unlock(&c->mu);
    return FA_OK;
}

static void check_pool(uint32_t threads) {
    fa_rt_thread_pool *pool = NULL;
    CHECK_OK(fa_rt_thread_pool_create(threads, fa_rt_allocator_default(), &pool));
    if (!pool)
        return;
    CHECK(fa_rt_thread_pool_num_threads(pool) == (threads ? threads : 1));
    static const uint64_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 13, 100, 1001, 65537};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        check_split(pool, sizes[i]);
    check_errors(pool);
    /* many calls in a row */
    counter c = {.sum = 0};
    pthread_mutex_init(&c.mu, NULL);
    for (uint64_t rep = 0; rep < 2000; rep++) {
        c.sum = 0;
        uint64_t n = rep % 37;
        CHECK_OK(fa_rt_thread_pool_parallel_for(pool, n, add_range, &c));
        uint64_t want = n ? (n - 1) * n * (2 * n - 1) / 6 : 0;
        if (c.sum != want) {
            CHECK(c.sum == want);
            break;
        }
    }
    pthread_mutex_destroy(&c.mu);
    fa_rt_thread_pool_destroy(pool);
}

int main(void) {
    /* a NULL pool runs inline */
    counter c = {.sum = 0};
    pthread_mutex_init(&c.mu, NULL);
    CHECK(fa_rt_thread_pool_num_threads(NULL) == 1);
    CHECK_OK(fa_rt_thread_pool_parallel_for(NULL, 10, add_range, &c));
    CHECK(c.sum == 285);
    pthread_mutex_destroy(&c.mu);
    fa_rt_thread_pool_destroy(NULL);
    static const uint32_t threads[] = {0, 1, 2, 4, 7};
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++)
        check_pool(threads[i]);
    fa_rt_thread_pool *pool = NULL;
    CHECK_ERR(fa_rt_thread_pool_create(5000, fa_rt_allocator_default(), &pool), "at most 1024");
    CHECK(pool == NULL);
    return rt_report("test_thread_pool");
}
