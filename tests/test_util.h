/* A minimal test harness: CHECK records a failure with file and line and goes on; main returns
 * the failure count. */
#ifndef FA_TESTS_TEST_UTIL_H
#define FA_TESTS_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int test_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);              \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* Checks that |s| is an error whose message contains |needle|, then frees it. */
#define CHECK_ERROR(s, needle)                                                                     \
    do {                                                                                           \
        fa_status check_s_ = (s);                                                                  \
        if (!check_s_) {                                                                           \
            fprintf(stderr, "%s:%d: expected an error containing '%s', got ok\n", __FILE__,       \
                    __LINE__, needle);                                                             \
            test_failures++;                                                                       \
        } else if (!strstr(fa_status_message(check_s_), needle)) {                                 \
            fprintf(stderr, "%s:%d: error '%s' does not contain '%s'\n", __FILE__, __LINE__,       \
                    fa_status_message(check_s_), needle);                                          \
            test_failures++;                                                                       \
        }                                                                                          \
        fa_status_free(check_s_);                                                                  \
    } while (0)

#define CHECK_OK(s)                                                                                \
    do {                                                                                           \
        fa_status check_s_ = (s);                                                                  \
        if (check_s_) {                                                                            \
            fprintf(stderr, "%s:%d: unexpected error: %s\n", __FILE__, __LINE__,                   \
                    fa_status_message(check_s_));                                                  \
            test_failures++;                                                                       \
            fa_status_free(check_s_);                                                              \
        }                                                                                          \
    } while (0)

/* xorshift64: advances |state| and returns it (tests take the bits they want). */
static inline uint64_t test_xorshift(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Monotonic seconds, for --bench modes. */
static inline double test_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define TEST_MAIN_END()                                                                            \
    do {                                                                                           \
        if (test_failures)                                                                         \
            fprintf(stderr, "%d check(s) failed\n", test_failures);                                \
        return test_failures != 0;                                                                 \
    } while (0)

#endif
