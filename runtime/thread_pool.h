/* A fixed pthread pool for the plan executor (runtime/plan.h): parallel_for over [0, n) in
 * contiguous chunks, one chunk per thread, the caller taking the first. Idle workers sleep on a
 * condition variable; nothing spins. Part of the AOT runtime: no IR beyond fa_status. */
#ifndef FA_RUNTIME_THREAD_POOL_H
#define FA_RUNTIME_THREAD_POOL_H

#include <stdint.h>

#include "runtime/tensor.h"

typedef struct fa_rt_thread_pool fa_rt_thread_pool;

/* Work on items [|begin|, |end|) (never empty); |chunk| is the chunk index in [0, number of
 * chunks), so a callee can keep per-chunk scratch. Returns FA_OK or an owned error. */
typedef fa_status (*fa_rt_thread_pool_fn)(void *ctx, uint64_t begin, uint64_t end, uint32_t chunk);

/* Creates a pool that runs |num_threads| chunks at once: the caller's thread plus
 * |num_threads| - 1 workers started here. 0 and 1 start no thread (everything runs inline in
 * the caller). The pool's memory comes from |al|; the caller destroys it with
 * fa_rt_thread_pool_destroy. Errors: thread creation failure, out of memory (nothing left behind).
 */
fa_status fa_rt_thread_pool_create(uint32_t num_threads, const fa_rt_allocator *al,
                                   fa_rt_thread_pool **out);

/* Stops and joins the workers and frees |pool|; NULL is a no-op. No call may be in flight. */
void fa_rt_thread_pool_destroy(fa_rt_thread_pool *pool);

/* Chunks run at once: max(1, num_threads given at creation); 1 for a NULL pool. */
uint32_t fa_rt_thread_pool_num_threads(const fa_rt_thread_pool *pool);

/* Splits [0, |n|) into min(|n|, threads) contiguous chunks of sizes differing by at most one
 * (chunk i is [i n / c, (i + 1) n / c)), runs |fn|(|ctx|, begin, end, i) on each, one per
 * thread, and returns when all are done. A NULL |pool| or a single chunk runs inline. Returns
 * FA_OK, or the error of the lowest-numbered failing chunk (the others' errors are freed), so
 * the result does not depend on timing. Calls from several threads are serialized; |fn| must not
 * call back into the same pool (it would deadlock). |n| == 0 calls nothing. */
fa_status fa_rt_thread_pool_parallel_for(fa_rt_thread_pool *pool, uint64_t n,
                                         fa_rt_thread_pool_fn fn, void *ctx);

#endif
