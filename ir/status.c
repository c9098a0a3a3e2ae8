/* Status objects (heap-allocated error messages) and the fatal-error hook for internal bugs. */
#include "ir/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fa_status_s {
    fa_status_code code;
    char *message;
};

static char oom_message[] = "out of memory";
static struct fa_status_s oom_status = {FA_STATUS_OUT_OF_MEMORY, oom_message};

static char *vformat(const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *buf = malloc((size_t)n + 1);
    if (buf)
        vsnprintf(buf, (size_t)n + 1, fmt, ap);
    return buf;
}

fa_status fa_status_makev(fa_status_code code, const char *fmt, va_list ap) {
    fa_status s = malloc(sizeof *s);
    if (!s)
        return &oom_status;
    s->code = code;
    s->message = vformat(fmt, ap);
    if (!s->message) {
        free(s);
        return &oom_status;
    }
    return s;
}

fa_status fa_status_make(fa_status_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fa_status s = fa_status_makev(code, fmt, ap);
    va_end(ap);
    return s;
}

fa_status fa_status_prefix(fa_status s, const char *fmt, ...) {
    if (!s || s == &oom_status)
        return s;
    va_list ap;
    va_start(ap, fmt);
    char *prefix = vformat(fmt, ap);
    va_end(ap);
    if (!prefix)
        return s;
    size_t np = strlen(prefix), nm = strlen(s->message);
    char *msg = malloc(np + 2 + nm + 1);
    if (msg) {
        memcpy(msg, prefix, np);
        memcpy(msg + np, ": ", 2);
        memcpy(msg + np + 2, s->message, nm + 1);
        free(s->message);
        s->message = msg;
    }
    free(prefix);
    return s;
}

fa_status_code fa_status_code_of(fa_status s) { return s ? s->code : FA_STATUS_OK; }

const char *fa_status_message(fa_status s) { return s ? s->message : "ok"; }

const char *fa_status_code_name(fa_status_code code) {
    switch (code) {
    case FA_STATUS_OK: return "ok";
    case FA_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case FA_STATUS_PARSE: return "parse error";
    case FA_STATUS_UNSUPPORTED: return "unsupported";
    case FA_STATUS_VERIFY: return "verification failed";
    case FA_STATUS_IO: return "i/o error";
    case FA_STATUS_OUT_OF_MEMORY: return "out of memory";
    case FA_STATUS_INTERNAL: return "internal error";
    }
    return "unknown";
}

void fa_status_free(fa_status s) {
    if (!s || s == &oom_status)
        return;
    free(s->message);
    free(s);
}

void fa_fatal(const char *file, int line, const char *fmt, ...) {
    fprintf(stderr, "freeact: internal error at %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
