/* Token-type rules: a hand-written parser for input:NAME, NAME==K and position<N with
 * column-precise errors, and their evaluation into a u8 type per token. */
#include "runtime/token_type.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fa_status rule_error(const char *text, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "token-type rule 'TEXT': column C: WHAT", C the 1-based byte column of |at| in |text|. */
static fa_status rule_error(const char *text, const char *at, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "token-type rule '%s': column %d: %s", text,
                          (int)(at - text) + 1, what);
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '/' || c == '-' || c == ':';
}

static const char *skip_spaces(const char *p) {
    while (is_space(*p))
        p++;
    return p;
}

/* Reads a name at |*p| into |out|; advances |*p| past it. */
static fa_status read_name(const char *text, const char **p, char *out, const char *what) {
    const char *start = *p, *q = start;
    while (is_name_char(*q))
        q++;
    if (q == start) {
        if (*q == '\0')
            return rule_error(text, q, "expected %s", what);
        return rule_error(text, q, "expected %s, found '%c'", what, *q);
    }
    size_t len = (size_t)(q - start);
    if (len > FA_RT_TOKEN_RULE_NAME_MAX)
        return rule_error(text, start, "name longer than %d bytes", FA_RT_TOKEN_RULE_NAME_MAX);
    memcpy(out, start, len);
    out[len] = '\0';
    *p = q;
    return FA_OK;
}

/* Reads a decimal integer (optional '-' when |allow_negative|) at |*p|; advances |*p|. */
static fa_status read_int(const char *text, const char **p, bool allow_negative, const char *after,
                          int64_t *out) {
    const char *start = *p, *q = start;
    if (*q == '-' && allow_negative)
        q++;
    if (*q < '0' || *q > '9')
        return rule_error(text, start, "expected an integer after '%s'", after);
    while (*q >= '0' && *q <= '9')
        q++;
    char buf[32];
    size_t len = (size_t)(q - start);
    if (len >= sizeof buf)
        return rule_error(text, start, "integer out of range");
    memcpy(buf, start, len);
    buf[len] = '\0';
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE)
        return rule_error(text, start, "integer out of range");
    *out = v;
    *p = q;
    return FA_OK;
}

fa_status fa_rt_token_rule_parse(const char *text, fa_rt_token_rule *out) {
    memset(out, 0, sizeof *out);
    const char *p = skip_spaces(text);
    if (*p == '\0')
        return rule_error(text, p, "empty rule; expected input:NAME, NAME==K or position<N");
    if (strncmp(p, "input:", 6) == 0) {
        out->kind = FA_RT_TOKEN_RULE_INPUT;
        p = skip_spaces(p + 6);
        FA_TRY(read_name(text, &p, out->name, "an input name after 'input:'"));
    } else {
        char name[FA_RT_TOKEN_RULE_NAME_MAX + 1];
        FA_TRY(read_name(text, &p, name, "input:NAME, NAME==K or position<N"));
        p = skip_spaces(p);
        if (p[0] == '=' && p[1] == '=') {
            out->kind = FA_RT_TOKEN_RULE_EQUALS;
            memcpy(out->name, name, sizeof name);
            p = skip_spaces(p + 2);
            FA_TRY(read_int(text, &p, true, "==", &out->value));
        } else if (p[0] == '<') {
            if (strcmp(name, "position") != 0)
                return rule_error(text, p,
                                  "'<' applies only to position (position<N); "
                                  "compare an input with NAME==K");
            out->kind = FA_RT_TOKEN_RULE_POSITION;
            p = skip_spaces(p + 1);
            const char *at = p;
            FA_TRY(read_int(text, &p, false, "<", &out->value));
            if (out->value < 1)
                return rule_error(text, at, "position<N needs N >= 1");
        } else if (p[0] == '=') {
            return rule_error(text, p, "'=' is not an operator; write '=='");
        } else if (p[0] == '\0') {
            return rule_error(text, p, "expected '==' or '<' after '%s'", name);
        } else {
            return rule_error(text, p, "expected '==' or '<' after '%s', found '%c'", name, *p);
        }
    }
    p = skip_spaces(p);
    if (*p != '\0')
        return rule_error(text, p, "unexpected '%s' after the rule", p);
    return FA_OK;
}

const char *fa_rt_token_rule_format(const fa_rt_token_rule *r, char *buf, size_t size) {
    switch (r->kind) {
    case FA_RT_TOKEN_RULE_INPUT: snprintf(buf, size, "input:%s", r->name); break;
    case FA_RT_TOKEN_RULE_EQUALS:
        snprintf(buf, size, "%s==%lld", r->name, (long long)r->value);
        break;
    case FA_RT_TOKEN_RULE_POSITION:
        snprintf(buf, size, "position<%lld", (long long)r->value);
        break;
    }
    return buf;
}

const char *fa_rt_token_rule_source(const fa_rt_token_rule *r) {
    return r->kind == FA_RT_TOKEN_RULE_POSITION ? NULL : r->name;
}

unsigned fa_rt_token_rule_num_types(const fa_rt_token_rule *r) {
    return r->kind == FA_RT_TOKEN_RULE_INPUT ? FA_RT_TOKEN_TYPES_MAX : 2;
}

static fa_status check_source(const fa_rt_token_rule *r, const fa_rt_tensor *src, int64_t batch,
                              int64_t tokens) {
    if (!src)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "token types: no tensor '%s' given",
                              r->name);
    if (!fa_dtype_is_int(src->dtype) && src->dtype != FA_DT_BOOL)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "token types: '%s' is %s; the rule needs integer or bool values",
                              r->name, fa_dtype_name(src->dtype));
    if (src->rank != 2 || src->dims[0] != batch || src->dims[1] != tokens) {
        char d[96];
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "token types: '%s' is %s; expected [%lld,%lld] (batch, tokens)",
                              r->name, fa_rt_tensor_describe(src, d, sizeof d), (long long)batch,
                              (long long)tokens);
    }
    return FA_OK;
}

fa_status fa_rt_token_rule_eval(const fa_rt_token_rule *r, const fa_rt_tensor *source,
                                int64_t batch, int64_t tokens, uint8_t *out_types) {
    if (batch < 0 || tokens < 0)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "token types: negative grid [%lld,%lld]",
                              (long long)batch, (long long)tokens);
    if (r->kind == FA_RT_TOKEN_RULE_POSITION) {
        for (int64_t b = 0; b < batch; b++)
            for (int64_t t = 0; t < tokens; t++)
                out_types[b * tokens + t] = t < r->value;
        return FA_OK;
    }
    FA_TRY(check_source(r, source, batch, tokens));
    uint64_t n = (uint64_t)batch * (uint64_t)tokens;
    for (uint64_t i = 0; i < n; i++) {
        int64_t v = fa_rt_load_i64(source->dtype, source->data, i);
        if (r->kind == FA_RT_TOKEN_RULE_EQUALS) {
            out_types[i] = v == r->value;
        } else if (v < 0 || v >= FA_RT_TOKEN_TYPES_MAX) {
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "token types: '%s' has type %lld at [%lld,%lld], outside 0..%d",
                                  r->name, (long long)v, (long long)(i / (uint64_t)tokens),
                                  (long long)(i % (uint64_t)tokens), FA_RT_TOKEN_TYPES_MAX - 1);
        } else {
            out_types[i] = (uint8_t)v;
        }
    }
    return FA_OK;
}
