/* Status values and internal assertions, shared by every freeact library.
 * A fa_status is NULL on success or an owned error carrying a code and a one-line message. */
#ifndef FA_IR_STATUS_H
#define FA_IR_STATUS_H

#include <stdarg.h>

typedef enum fa_status_code {
    FA_STATUS_OK = 0,
    FA_STATUS_INVALID_ARGUMENT, /* bad user input: options, files, model contents */
    FA_STATUS_PARSE,            /* malformed text or binary input */
    FA_STATUS_UNSUPPORTED,      /* valid input we do not handle (yet) */
    FA_STATUS_VERIFY,           /* IR invariant broken */
    FA_STATUS_IO,               /* file system or OS failure */
    FA_STATUS_OUT_OF_MEMORY,
    FA_STATUS_INTERNAL,
} fa_status_code;

typedef struct fa_status_s *fa_status;

#define FA_OK ((fa_status)0)

/* Creates an error status with a printf-formatted message. The caller owns the result and either
 * returns it upward or releases it with fa_status_free. Never returns NULL: if allocation fails a
 * static out-of-memory status (for which fa_status_free is a no-op) comes back instead. */
fa_status fa_status_make(fa_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
fa_status fa_status_makev(fa_status_code code, const char *fmt, va_list ap);

/* Prepends "|prefix|: " (printf-formatted) to the message of |s| and returns |s|; FA_OK passes
 * through unchanged. Used to add the place (file, node) as an error travels up. */
fa_status fa_status_prefix(fa_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

fa_status_code fa_status_code_of(fa_status s);
/* The message, lent; "ok" for FA_OK. */
const char *fa_status_message(fa_status s);
const char *fa_status_code_name(fa_status_code code);
void fa_status_free(fa_status s);

/* Internal-bug checks: never for conditions input can cause (those return a status). */
_Noreturn void fa_fatal(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define FA_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fa_fatal(__FILE__, __LINE__, "assertion failed: %s", #cond);                          \
    } while (0)
#define FA_UNREACHABLE() fa_fatal(__FILE__, __LINE__, "unreachable")

/* Returns |expr|'s status from the enclosing function if it is an error. */
#define FA_TRY(expr)                                                                               \
    do {                                                                                           \
        fa_status fa_try_s_ = (expr);                                                              \
        if (fa_try_s_)                                                                             \
            return fa_try_s_;                                                                      \
    } while (0)

#endif
