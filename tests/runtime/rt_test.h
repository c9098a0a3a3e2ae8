/* Tiny helpers shared by the runtime unit tests: checks that count failures, and tensor
 * builders over caller arrays. */
#ifndef FA_TESTS_RUNTIME_RT_TEST_H
#define FA_TESTS_RUNTIME_RT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

static int rt_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            rt_failures++;                                                                         \
        }                                                                                          \
    } while (0)

/* Expects FA_OK; prints the message otherwise. */
#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        fa_status s_ = (expr);                                                                     \
        if (s_) {                                                                                  \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,                   \
                    fa_status_message(s_));                                                        \
            fa_status_free(s_);                                                                    \
            rt_failures++;                                                                         \
        }                                                                                          \
    } while (0)

/* Expects an error whose message contains |needle|. */
#define CHECK_ERR(expr, needle)                                                                    \
    do {                                                                                           \
        fa_status s_ = (expr);                                                                     \
        if (!s_) {                                                                                 \
            fprintf(stderr, "%s:%d: %s succeeded, expected an error\n", __FILE__, __LINE__,        \
                    #expr);                                                                        \
            rt_failures++;                                                                         \
        } else {                                                                                   \
            if (!strstr(fa_status_message(s_), (needle))) {                                        \
                fprintf(stderr, "%s:%d: error '%s' lacks '%s'\n", __FILE__, __LINE__,              \
                        fa_status_message(s_), (needle));                                          \
                rt_failures++;                                                                     \
            }                                                                                      \
            fa_status_free(s_);                                                                    \
        }                                                                                          \
    } while (0)

static inline fa_rt_tensor rt_view(fa_dtype dt, int rank, const int64_t *dims, const void *data) {
    uint64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (uint64_t)dims[i];
    return fa_rt_tensor_view(dt, rank, dims, data, n * fa_dtype_bits(dt) / 8);
}

static inline bool rt_shape_is(const fa_rt_tensor *t, int rank, const int64_t *dims) {
    if (t->rank != rank)
        return false;
    for (int i = 0; i < rank; i++)
        if (t->dims[i] != dims[i])
            return false;
    return true;
}

/* Compares |n| f32 values with tolerance |tol| (absolute plus relative). */
static inline bool rt_close_f32(const float *got, const float *want, uint64_t n, double tol) {
    for (uint64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= tol * (1.0 + fabs((double)want[i])))) {
            fprintf(stderr, "  element %llu: got %.9g, want %.9g\n", (unsigned long long)i,
                    (double)got[i], (double)want[i]);
            return false;
        }
    return true;
}

/* xorshift64: the next pseudo-random 32 bits of |state| (each test seeds its own). */
static inline uint32_t rt_xorshift(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (uint32_t)(*state >> 11);
}

/* An allocator whose every allocation fails: the kernels' out-of-memory paths. */
static inline void *rt_no_alloc(void *user, size_t size, size_t align) {
    (void)user;
    (void)size;
    (void)align;
    return NULL;
}

static inline void rt_no_free(void *user, void *p) {
    (void)user;
    free(p);
}

static inline int rt_report(const char *name) {
    if (rt_failures)
        fprintf(stderr, "%s: %d check(s) failed\n", name, rt_failures);
    else
        printf("%s: ok\n", name);
    return rt_failures != 0;
}

#endif
