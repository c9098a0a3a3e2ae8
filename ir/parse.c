/* Textual IR parser (.fir): recursive descent over a small lexer. Every error carries
 * "file:line:col: error:"; the parser never trusts the input (sizes checked, no recursion on
 * user-controlled depth). The grammar is in ir/README.md. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

typedef enum tok_kind {
    T_EOF,
    T_IDENT,   /* bare word: graph, const, return, op names, dtypes, none, as, loc */
    T_PERCENT, /* %name, %"name" or %N */
    T_AT,      /* @name or @"name" */
    T_NUMBER,  /* integer or float literal, possibly signed */
    T_STRING,
    T_PUNCT, /* ( ) [ ] { } < > , : = * ? */
} tok_kind;

typedef struct token {
    tok_kind kind;
    const char *start; /* raw text */
    size_t len;
    char *str; /* decoded text for T_STRING / quoted names (heap, owned by the parser) */
    size_t str_len;
    bool numeric_name; /* %N */
    int line, col;
} token;

typedef struct name_entry {
    const char *key; /* interned */
    fa_value *value;
} name_entry;

typedef struct parser {
    const char *src, *end, *p;
    const char *filename, *base_dir;
    int line, col;
    token tok;
    fa_graph *g;
    fa_status err;
    name_entry *names; /* open addressing on interned pointers */
    uint32_t names_cap, names_count;
    char *scratch; /* decoded strings */
    size_t scratch_cap;
} parser;

static fa_status perror_at(parser *ps, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static fa_status perror_at(parser *ps, int line, int col, const char *fmt, ...) {
    if (ps->err)
        return ps->err;
    va_list ap;
    va_start(ap, fmt);
    fa_status s = fa_status_makev(FA_STATUS_PARSE, fmt, ap);
    va_end(ap);
    ps->err = fa_status_prefix(s, "%s:%d:%d: error", ps->filename, line, col);
    return ps->err;
}

#define FAIL(...) perror_at(ps, ps->tok.line, ps->tok.col, __VA_ARGS__)

/* A NUL-terminated copy of |len| bytes at |s|, which need not be terminated (names point into
 * the input buffer). NULL when out of memory. */
static char *copy_n(const char *s, size_t len) {
    char *c = malloc(len + 1);
    if (c) {
        memcpy(c, s, len);
        c[len] = '\0';
    }
    return c;
}

/* ---- lexer ---- */

static void advance_char(parser *ps) {
    if (*ps->p == '\n') {
        ps->line++;
        ps->col = 1;
    } else {
        ps->col++;
    }
    ps->p++;
}

static void skip_space(parser *ps) {
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            advance_char(ps);
        } else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '/') {
            while (ps->p < ps->end && *ps->p != '\n')
                advance_char(ps);
        } else {
            break;
        }
    }
}

static bool is_name_char(char c) {
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '$';
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Lexes a quoted string at ps->p into ps->scratch (NUL-terminated, may contain NUL bytes). */
static fa_status lex_string(parser *ps, token *t) {
    int line = ps->line, col = ps->col;
    advance_char(ps); /* opening quote */
    size_t n = 0;
    for (;;) {
        if (ps->p >= ps->end || *ps->p == '\n')
            return perror_at(ps, line, col, "unterminated string");
        char c = *ps->p;
        if (c == '"') {
            advance_char(ps);
            break;
        }
        if (c == '\\') {
            advance_char(ps);
            if (ps->p >= ps->end)
                return perror_at(ps, line, col, "unterminated string");
            char e = *ps->p;
            if (e == 'n') {
                c = '\n';
            } else if (e == 't') {
                c = '\t';
            } else if (e == '"' || e == '\\') {
                c = e;
            } else if (e == 'x') {
                int h1 = ps->p + 1 < ps->end ? hexval(ps->p[1]) : -1;
                int h2 = ps->p + 2 < ps->end ? hexval(ps->p[2]) : -1;
                if (h1 < 0 || h2 < 0)
                    return perror_at(ps, ps->line, ps->col, "bad \\x escape in string");
                advance_char(ps);
                advance_char(ps);
                c = (char)(h1 * 16 + h2);
            } else {
                return perror_at(ps, ps->line, ps->col, "unknown escape '\\%c' in string",
                                 isprint((unsigned char)e) ? e : '?');
            }
        }
        if (n + 2 > ps->scratch_cap) {
            size_t ncap = ps->scratch_cap ? ps->scratch_cap * 2 : 256;
            char *s = realloc(ps->scratch, ncap);
            if (!s)
                return perror_at(ps, line, col, "out of memory");
            ps->scratch = s;
            ps->scratch_cap = ncap;
        }
        ps->scratch[n++] = c;
        advance_char(ps);
    }
    if (!ps->scratch) {
        ps->scratch = malloc(256);
        if (!ps->scratch)
            return perror_at(ps, line, col, "out of memory");
        ps->scratch_cap = 256;
    }
    ps->scratch[n] = '\0';
    t->str = ps->scratch;
    t->str_len = n;
    return FA_OK;
}

static fa_status next(parser *ps) {
    skip_space(ps);
    token *t = &ps->tok;
    memset(t, 0, sizeof *t);
    t->line = ps->line;
    t->col = ps->col;
    t->start = ps->p;
    if (ps->p >= ps->end) {
        t->kind = T_EOF;
        return FA_OK;
    }
    char c = *ps->p;
    if (c == '%' || c == '@') {
        t->kind = c == '%' ? T_PERCENT : T_AT;
        advance_char(ps);
        if (ps->p < ps->end && *ps->p == '"') {
            FA_TRY(lex_string(ps, t));
            if (t->str_len == 0 || memchr(t->str, '\0', t->str_len))
                return FAIL("names must be non-empty and contain no NUL byte");
        } else if (ps->p < ps->end && isdigit((unsigned char)*ps->p) && c == '%') {
            const char *s = ps->p;
            while (ps->p < ps->end && isdigit((unsigned char)*ps->p))
                advance_char(ps);
            t->str = (char *)s;
            t->str_len = (size_t)(ps->p - s);
            t->numeric_name = true;
        } else {
            const char *s = ps->p;
            if (ps->p >= ps->end || !(isalpha((unsigned char)*ps->p) || *ps->p == '_'))
                return FAIL("expected a name after '%c'", c);
            while (ps->p < ps->end && is_name_char(*ps->p))
                advance_char(ps);
            t->str = (char *)s;
            t->str_len = (size_t)(ps->p - s);
        }
    } else if (c == '"') {
        t->kind = T_STRING;
        FA_TRY(lex_string(ps, t));
    } else if (isdigit((unsigned char)c) || c == '-' || c == '+') {
        t->kind = T_NUMBER;
        advance_char(ps);
        while (ps->p < ps->end &&
               (isalnum((unsigned char)*ps->p) || *ps->p == '.' ||
                ((*ps->p == '-' || *ps->p == '+') && (ps->p[-1] == 'e' || ps->p[-1] == 'E'))))
            advance_char(ps);
    } else if (isalpha((unsigned char)c) || c == '_') {
        t->kind = T_IDENT;
        while (ps->p < ps->end && is_name_char(*ps->p))
            advance_char(ps);
    } else if (strchr("()[]{}<>,:=*?", c)) {
        t->kind = T_PUNCT;
        advance_char(ps);
    } else {
        return FAIL(isprint((unsigned char)c) ? "unexpected character '%c'" : "unexpected byte 0x%02x",
                    isprint((unsigned char)c) ? c : (unsigned char)c);
    }
    t->len = (size_t)(ps->p - t->start);
    return FA_OK;
}

static bool is_punct(const parser *ps, char c) {
    return ps->tok.kind == T_PUNCT && ps->tok.start[0] == c;
}

static bool is_ident(const parser *ps, const char *word) {
    return ps->tok.kind == T_IDENT && strlen(word) == ps->tok.len &&
           memcmp(ps->tok.start, word, ps->tok.len) == 0;
}

static const char *describe_tok(const parser *ps, char *buf, size_t size) {
    if (ps->tok.kind == T_EOF)
        return "end of input";
    size_t n = ps->tok.len > 24 ? 24 : ps->tok.len;
    snprintf(buf, size, "'%.*s%s'", (int)n, ps->tok.start, ps->tok.len > n ? "..." : "");
    return buf;
}

static fa_status expect_punct(parser *ps, char c) {
    if (!is_punct(ps, c)) {
        char buf[48];
        return FAIL("expected '%c', found %s", c, describe_tok(ps, buf, sizeof buf));
    }
    return next(ps);
}

static fa_status expect_ident(parser *ps, const char *word) {
    if (!is_ident(ps, word)) {
        char buf[48];
        return FAIL("expected '%s', found %s", word, describe_tok(ps, buf, sizeof buf));
    }
    return next(ps);
}

/* ---- value names ---- */

static uint32_t hash_ptr(const void *p) {
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(x >> 32);
}

static name_entry *names_slot(parser *ps, const char *key) {
    uint32_t mask = ps->names_cap - 1, j = hash_ptr(key) & mask;
    while (ps->names[j].key && ps->names[j].key != key)
        j = (j + 1) & mask;
    return &ps->names[j];
}

static fa_status names_put(parser *ps, const char *key, fa_value *v) {
    if ((ps->names_count + 1) * 2 > ps->names_cap) {
        uint32_t ocap = ps->names_cap, ncap = ocap ? ocap * 2 : 256;
        name_entry *old = ps->names;
        ps->names = calloc(ncap, sizeof *ps->names);
        if (!ps->names) {
            ps->names = old;
            return FAIL("out of memory");
        }
        ps->names_cap = ncap;
        for (uint32_t i = 0; i < ocap; i++)
            if (old[i].key)
                *names_slot(ps, old[i].key) = old[i];
        free(old);
    }
    name_entry *e = names_slot(ps, key);
    e->key = key;
    e->value = v;
    ps->names_count++;
    return FA_OK;
}

static fa_value *names_get(parser *ps, const char *key) {
    if (!ps->names_cap)
        return NULL;
    return names_slot(ps, key)->value;
}

/* Key of the current %/@ token: "%name" / "@name" for names, "#N" for numbers. */
static const char *token_key(parser *ps) {
    const token *t = &ps->tok;
    char *buf = malloc(t->str_len + 2);
    if (!buf)
        fa_fatal(__FILE__, __LINE__, "out of memory");
    buf[0] = t->numeric_name ? '#' : t->kind == T_AT ? '@' : '%';
    memcpy(buf + 1, t->str, t->str_len);
    const char *key = fa_graph_intern(ps->g, buf, t->str_len + 1);
    free(buf);
    return key;
}

static fa_status use_value(parser *ps, fa_value **out) {
    if (is_ident(ps, "none")) {
        *out = NULL;
        return next(ps);
    }
    if (ps->tok.kind != T_PERCENT && ps->tok.kind != T_AT) {
        char buf[48];
        return FAIL("expected a value (%%name, @name or none), found %s",
                    describe_tok(ps, buf, sizeof buf));
    }
    fa_value *v = names_get(ps, token_key(ps));
    if (!v)
        return FAIL("use of undefined value %c%.*s", ps->tok.kind == T_AT ? '@' : '%',
                    (int)ps->tok.str_len, ps->tok.str);
    *out = v;
    return next(ps);
}

/* Defines the name of the current %/@ token for |v| (not advancing). */
static fa_status define_value(parser *ps, fa_value *v) {
    const char *key = token_key(ps);
    if (names_get(ps, key))
        return FAIL("redefinition of %c%.*s", ps->tok.kind == T_AT ? '@' : '%', (int)ps->tok.str_len,
                    ps->tok.str);
    FA_TRY(names_put(ps, key, v));
    if (!ps->tok.numeric_name)
        fa_value_set_name(ps->g, v, key + 1);
    return FA_OK;
}

/* ---- types and literals ---- */

static fa_status parse_int(parser *ps, int64_t *out) {
    if (ps->tok.kind != T_NUMBER) {
        char buf[48];
        return FAIL("expected an integer, found %s", describe_tok(ps, buf, sizeof buf));
    }
    char buf[64];
    if (ps->tok.len >= sizeof buf)
        return FAIL("integer literal too long");
    memcpy(buf, ps->tok.start, ps->tok.len);
    buf[ps->tok.len] = '\0';
    char *endp;
    errno = 0;
    long long v = strtoll(buf, &endp, 10);
    if (*endp != '\0' || endp == buf)
        return FAIL("'%s' is not an integer", buf);
    if (errno == ERANGE)
        return FAIL("integer '%s' out of range", buf);
    *out = v;
    return next(ps);
}

/* A float literal: a number, or inf, -inf (a T_NUMBER "-inf" lexes as number), nan. */
static fa_status parse_float(parser *ps, double *out) {
    char buf[64];
    if (ps->tok.kind == T_IDENT && (is_ident(ps, "inf") || is_ident(ps, "nan"))) {
        *out = is_ident(ps, "inf") ? INFINITY : NAN;
        return next(ps);
    }
    if (ps->tok.kind != T_NUMBER) {
        char d[48];
        return FAIL("expected a number, found %s", describe_tok(ps, d, sizeof d));
    }
    if (ps->tok.len >= sizeof buf)
        return FAIL("number literal too long");
    memcpy(buf, ps->tok.start, ps->tok.len);
    buf[ps->tok.len] = '\0';
    char *endp;
    double v = strtod(buf, &endp);
    if (*endp != '\0' || endp == buf || (isalpha((unsigned char)buf[buf[0] == '-' || buf[0] == '+']) &&
                                         strcmp(buf, "-inf") != 0 && strcmp(buf, "+inf") != 0))
        return FAIL("'%s' is not a number", buf);
    *out = v;
    return next(ps);
}

static bool token_is_float_literal(const parser *ps) {
    if (ps->tok.kind == T_IDENT)
        return is_ident(ps, "inf") || is_ident(ps, "nan");
    if (ps->tok.kind != T_NUMBER)
        return false;
    for (size_t i = 0; i < ps->tok.len; i++)
        if (strchr(".eEn", ps->tok.start[i]))
            return true;
    return false;
}

static fa_status parse_type(parser *ps, fa_type *out) {
    memset(out, 0, sizeof *out);
    if (ps->tok.kind != T_IDENT) {
        char buf[48];
        return FAIL("expected a type, found %s", describe_tok(ps, buf, sizeof buf));
    }
    out->dtype = fa_dtype_from_name(ps->tok.start, ps->tok.len);
    if (out->dtype == FA_DT_INVALID)
        return FAIL("unknown dtype '%.*s'", (int)ps->tok.len, ps->tok.start);
    FA_TRY(next(ps));
    FA_TRY(expect_punct(ps, '['));
    if (is_punct(ps, '*')) {
        out->rank = -1;
        FA_TRY(next(ps));
        return expect_punct(ps, ']');
    }
    while (!is_punct(ps, ']')) {
        if (out->rank == FA_MAX_RANK)
            return FAIL("rank exceeds %d", FA_MAX_RANK);
        fa_dim *d = &out->dims[out->rank];
        if (ps->tok.kind == T_IDENT) {
            d->sym = fa_graph_intern(ps->g, ps->tok.start, ps->tok.len);
            FA_TRY(next(ps));
        } else if (is_punct(ps, '?')) {
            d->value = FA_DIM_UNKNOWN;
            FA_TRY(next(ps));
        } else {
            int64_t v;
            int line = ps->tok.line, col = ps->tok.col;
            FA_TRY(parse_int(ps, &v));
            if (v < 0)
                return perror_at(ps, line, col, "dimension %lld is negative", (long long)v);
            d->value = v;
        }
        out->rank++;
        if (!is_punct(ps, ']'))
            FA_TRY(expect_punct(ps, ','));
    }
    return next(ps);
}

static fa_status store_element(parser *ps, fa_dtype dt, void *data, uint64_t i) {
    if (dt == FA_DT_F32 || dt == FA_DT_F64) {
        double v;
        FA_TRY(parse_float(ps, &v));
        if (dt == FA_DT_F32)
            ((float *)data)[i] = (float)v;
        else
            ((double *)data)[i] = v;
        return FA_OK;
    }
    int line = ps->tok.line, col = ps->tok.col;
    int64_t v;
    bool is_u64 = dt == FA_DT_U64;
    if (is_u64 && ps->tok.kind == T_NUMBER && ps->tok.start[0] != '-') {
        char buf[32];
        if (ps->tok.len >= sizeof buf)
            return FAIL("integer literal too long");
        memcpy(buf, ps->tok.start, ps->tok.len);
        buf[ps->tok.len] = '\0';
        char *endp;
        errno = 0;
        unsigned long long u = strtoull(buf, &endp, 10);
        if (*endp || errno == ERANGE)
            return FAIL("'%s' is not a u64", buf);
        ((uint64_t *)data)[i] = u;
        return next(ps);
    }
    FA_TRY(parse_int(ps, &v));
    int64_t lo, hi;
    switch (dt) {
    case FA_DT_I64: lo = INT64_MIN, hi = INT64_MAX; break;
    case FA_DT_I32: lo = INT32_MIN, hi = INT32_MAX; break;
    case FA_DT_I16: lo = INT16_MIN, hi = INT16_MAX; break;
    case FA_DT_I8: lo = INT8_MIN, hi = INT8_MAX; break;
    case FA_DT_U32: lo = 0, hi = UINT32_MAX; break;
    case FA_DT_U16: lo = 0, hi = UINT16_MAX; break;
    case FA_DT_U8: lo = 0, hi = UINT8_MAX; break;
    case FA_DT_BOOL: lo = 0, hi = 1; break;
    case FA_DT_U64: lo = 0, hi = INT64_MAX; break;
    default: return perror_at(ps, line, col, "dense<> is not available for %s; use hex<>",
                              fa_dtype_name(dt));
    }
    if (v < lo || v > hi)
        return perror_at(ps, line, col, "%lld is out of range for %s", (long long)v,
                         fa_dtype_name(dt));
    switch (dt) {
    case FA_DT_I64: ((int64_t *)data)[i] = v; break;
    case FA_DT_U64: ((uint64_t *)data)[i] = (uint64_t)v; break;
    case FA_DT_I32: ((int32_t *)data)[i] = (int32_t)v; break;
    case FA_DT_U32: ((uint32_t *)data)[i] = (uint32_t)v; break;
    case FA_DT_I16: ((int16_t *)data)[i] = (int16_t)v; break;
    case FA_DT_U16: ((uint16_t *)data)[i] = (uint16_t)v; break;
    case FA_DT_I8: ((int8_t *)data)[i] = (int8_t)v; break;
    default: ((uint8_t *)data)[i] = (uint8_t)v; break;
    }
    return FA_OK;
}

static bool path_is_safe(const char *path) {
    if (path[0] == '/')
        return false;
    const char *p = path;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (!slash)
            break;
        p = slash + 1;
    }
    return true;
}

/* True unless |path| exists and resolves (following symbolic links) outside |dir|. A missing
 * file passes here; opening it reports the error. */
static bool path_stays_inside(const char *dir, const char *path) {
    char *rd = realpath(dir, NULL), *rp = realpath(path, NULL);
    bool inside = true;
    if (rd && rp) {
        size_t n = strlen(rd);
        inside = strncmp(rp, rd, n) == 0 && (rp[n] == '/' || (n == 1 && rd[0] == '/'));
    }
    free(rd);
    free(rp);
    return inside;
}

/* TYPE DATA. Makes the tensor in *out (attribute) or, with |const_name|, a graph constant. */
static fa_status parse_tensor(parser *ps, const char *const_name, fa_value **out_const,
                              const fa_tensor **out_tensor) {
    fa_type type;
    int tline = ps->tok.line, tcol = ps->tok.col;
    FA_TRY(parse_type(ps, &type));
    uint64_t nbytes, count;
    fa_status s = fa_type_num_bytes(&type, &nbytes);
    if (!s)
        s = fa_type_num_elements(&type, &count);
    if (s) {
        perror_at(ps, tline, tcol, "constant type: %s", fa_status_message(s));
        fa_status_free(s);
        return ps->err;
    }
    if (nbytes > ((uint64_t)1 << 40))
        return perror_at(ps, tline, tcol, "constant of %llu bytes is too large",
                         (unsigned long long)nbytes);
    if (ps->tok.kind != T_IDENT)
        return FAIL("expected dense<, hex< or file<");
    if (is_ident(ps, "file")) {
        if (!const_name)
            return FAIL("file<> data is only allowed for constants");
        FA_TRY(next(ps));
        FA_TRY(expect_punct(ps, '<'));
        if (ps->tok.kind != T_STRING)
            return FAIL("expected a file name string");
        int fline = ps->tok.line, fcol = ps->tok.col;
        char *rel = copy_n(ps->tok.str, ps->tok.str_len);
        if (!rel)
            return FAIL("out of memory");
        if (strlen(rel) != ps->tok.str_len || !path_is_safe(rel)) {
            free(rel);
            return perror_at(ps, fline, fcol,
                             "file<> path must be relative and stay inside the file's folder");
        }
        fa_status st = next(ps);
        int64_t offset = 0;
        if (!st)
            st = expect_punct(ps, ',');
        if (!st)
            st = parse_int(ps, &offset);
        if (!st && offset < 0)
            st = perror_at(ps, fline, fcol, "negative file offset");
        if (!st)
            st = expect_punct(ps, '>');
        if (st) {
            free(rel);
            return st;
        }
        size_t blen = ps->base_dir ? strlen(ps->base_dir) : 0;
        char *full = malloc(blen + strlen(rel) + 2);
        if (!full) {
            free(rel);
            return FAIL("out of memory");
        }
        if (blen)
            sprintf(full, "%s/%s", ps->base_dir, rel);
        else
            strcpy(full, rel);
        if (!path_stays_inside(blen ? ps->base_dir : ".", full)) {
            free(full);
            free(rel);
            return perror_at(ps, fline, fcol, "file<> path resolves outside the file's folder "
                                              "(through a symbolic link)");
        }
        st = fa_graph_add_const_mapped(ps->g, const_name, &type, full, rel, (uint64_t)offset,
                                       out_const);
        free(full);
        free(rel);
        if (st) {
            perror_at(ps, fline, fcol, "%s", fa_status_message(st));
            fa_status_free(st);
            return ps->err;
        }
        return FA_OK;
    }
    if (!is_ident(ps, "dense") && !is_ident(ps, "hex")) {
        char buf[48];
        return FAIL("expected dense<, hex< or file<, found %s", describe_tok(ps, buf, sizeof buf));
    }
    /* Inline data comes from the text: refuse sizes the rest of the input cannot hold before
     * allocating (at least one character per dense element, two hex digits per byte). */
    uint64_t remaining = (uint64_t)(ps->end - ps->p);
    if ((is_ident(ps, "dense") && count > remaining) ||
        (is_ident(ps, "hex") && nbytes > remaining / 2))
        return perror_at(ps, tline, tcol, "constant of %llu elements is larger than the input",
                         (unsigned long long)count);
    void *data = calloc(1, nbytes ? (size_t)nbytes : 1);
    if (!data)
        return FAIL("out of memory for a constant of %llu bytes", (unsigned long long)nbytes);
    fa_status st = FA_OK;
    if (is_ident(ps, "hex")) {
        st = next(ps);
        if (!st)
            st = expect_punct(ps, '<');
        if (!st && ps->tok.kind != T_STRING)
            st = FAIL("expected a hex string");
        if (!st && ps->tok.str_len != nbytes * 2)
            st = FAIL("hex data has %zu digits, type needs %llu", ps->tok.str_len,
                      (unsigned long long)(nbytes * 2));
        for (uint64_t i = 0; !st && i < nbytes; i++) {
            int h = hexval(ps->tok.str[2 * i]), l = hexval(ps->tok.str[2 * i + 1]);
            if (h < 0 || l < 0)
                st = FAIL("bad hex digit in constant data");
            else
                ((unsigned char *)data)[i] = (unsigned char)(h * 16 + l);
        }
        if (!st)
            st = next(ps);
        if (!st)
            st = expect_punct(ps, '>');
    } else { /* dense */
        st = next(ps);
        if (!st)
            st = expect_punct(ps, '<');
        if (!st)
            st = expect_punct(ps, '[');
        uint64_t i = 0;
        while (!st && !is_punct(ps, ']')) {
            if (i == count)
                st = FAIL("more than %llu elements for type", (unsigned long long)count);
            else
                st = store_element(ps, type.dtype, data, i++);
            if (!st && !is_punct(ps, ']'))
                st = expect_punct(ps, ',');
        }
        if (!st && i != count)
            st = FAIL("dense<> has %llu elements, type needs %llu", (unsigned long long)i,
                      (unsigned long long)count);
        if (!st)
            st = next(ps);
        if (!st)
            st = expect_punct(ps, '>');
    }
    if (!st) {
        st = const_name ? fa_graph_add_const(ps->g, const_name, &type, data, nbytes, out_const)
                        : fa_graph_make_tensor(ps->g, &type, data, nbytes, out_tensor);
        if (st) {
            perror_at(ps, tline, tcol, "%s", fa_status_message(st));
            fa_status_free(st);
            st = ps->err;
        }
    }
    free(data);
    return st;
}

/* ---- attributes ---- */

static fa_status parse_list(parser *ps, fa_node *n, const char *name, int forced_kind) {
    /* After '['. forced_kind is -1 (infer from the first element) or an FA_ATTR_* list kind. */
    int kind = forced_kind;
    int64_t *ints = NULL;
    double *floats = NULL;
    const char **strs = NULL;
    uint32_t count = 0, cap = 0;
    fa_status st = FA_OK;
    while (!st && !is_punct(ps, ']')) {
        if (kind < 0)
            kind = ps->tok.kind == T_STRING      ? FA_ATTR_STRINGS
                   : token_is_float_literal(ps) ? FA_ATTR_FLOATS
                                                 : FA_ATTR_INTS;
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            if (cap > (1u << 24)) {
                st = FAIL("attribute list too long");
                break;
            }
            int64_t *ni = realloc(ints, cap * sizeof *ints);
            double *nf = realloc(floats, cap * sizeof *floats);
            const char **ns = realloc(strs, cap * sizeof *strs);
            ints = ni ? ni : ints;
            floats = nf ? nf : floats;
            strs = ns ? ns : strs;
            if (!ni || !nf || !ns) {
                st = FAIL("out of memory");
                break;
            }
        }
        if (kind == FA_ATTR_STRINGS) {
            if (ps->tok.kind != T_STRING) {
                st = FAIL("expected a string in a list of strings");
                break;
            }
            strs[count++] = fa_graph_intern(ps->g, ps->tok.str, ps->tok.str_len);
            st = next(ps);
        } else if (kind == FA_ATTR_FLOATS) {
            st = parse_float(ps, &floats[count++]);
        } else {
            if (token_is_float_literal(ps)) {
                st = FAIL("float in a list of ints");
                break;
            }
            st = parse_int(ps, &ints[count++]);
        }
        if (!st && !is_punct(ps, ']'))
            st = expect_punct(ps, ',');
    }
    if (!st) {
        if (kind < 0)
            st = FAIL("empty list needs a kind: write ints[], floats[] or strings[]");
        else if (kind == FA_ATTR_INTS)
            fa_node_set_attr_ints(ps->g, n, name, ints, count);
        else if (kind == FA_ATTR_FLOATS)
            fa_node_set_attr_floats(ps->g, n, name, floats, count);
        else
            fa_node_set_attr_strings(ps->g, n, name, strs, count);
    }
    if (!st)
        st = next(ps);
    free(ints);
    free(floats);
    free(strs);
    return st;
}

static fa_status parse_attr(parser *ps, fa_node *n) {
    const char *name;
    if (ps->tok.kind == T_IDENT)
        name = fa_graph_intern(ps->g, ps->tok.start, ps->tok.len);
    else if (ps->tok.kind == T_STRING)
        name = fa_graph_intern(ps->g, ps->tok.str, ps->tok.str_len);
    else
        return FAIL("expected an attribute name");
    if (fa_node_attr(n, name))
        return FAIL("duplicate attribute '%s'", name);
    FA_TRY(next(ps));
    FA_TRY(expect_punct(ps, '='));
    if (ps->tok.kind == T_STRING) {
        if (memchr(ps->tok.str, '\0', ps->tok.str_len))
            return FAIL("string attributes cannot contain NUL bytes");
        fa_node_set_attr_string(ps->g, n, name, ps->tok.str);
        return next(ps);
    }
    if (is_punct(ps, '[')) {
        FA_TRY(next(ps));
        return parse_list(ps, n, name, -1);
    }
    if (is_ident(ps, "ints") || is_ident(ps, "floats") || is_ident(ps, "strings")) {
        int kind = is_ident(ps, "ints")     ? FA_ATTR_INTS
                   : is_ident(ps, "floats") ? FA_ATTR_FLOATS
                                            : FA_ATTR_STRINGS;
        FA_TRY(next(ps));
        FA_TRY(expect_punct(ps, '['));
        return parse_list(ps, n, name, kind);
    }
    if (ps->tok.kind == T_IDENT && !is_ident(ps, "inf") && !is_ident(ps, "nan")) {
        const fa_tensor *t = NULL;
        FA_TRY(parse_tensor(ps, NULL, NULL, &t));
        fa_node_set_attr_tensor(ps->g, n, name, t);
        return FA_OK;
    }
    if (token_is_float_literal(ps)) {
        double v;
        FA_TRY(parse_float(ps, &v));
        fa_node_set_attr_float(ps->g, n, name, v);
        return FA_OK;
    }
    int64_t v;
    FA_TRY(parse_int(ps, &v));
    fa_node_set_attr_int(ps->g, n, name, v);
    return FA_OK;
}

/* ---- statements ---- */

#define MAX_RESULTS 256

static void free_result_names(token *toks, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        free(toks[i].str);
}

static fa_status parse_node(parser *ps) {
    token result_toks[MAX_RESULTS];
    uint32_t nres = 0;
    for (;;) {
        fa_status st = FA_OK;
        if (ps->tok.kind != T_PERCENT)
            st = FAIL("expected a result name (%%name)");
        else if (nres == MAX_RESULTS)
            st = FAIL("more than %d results", MAX_RESULTS);
        char *copy = st ? NULL : malloc(ps->tok.str_len + 1);
        if (!st && !copy)
            st = FAIL("out of memory");
        if (st) {
            free_result_names(result_toks, nres);
            return st;
        }
        /* Result names must survive lexing of later tokens (quoted ones live in scratch). */
        result_toks[nres] = ps->tok;
        memcpy(copy, ps->tok.str, ps->tok.str_len);
        copy[ps->tok.str_len] = '\0';
        result_toks[nres++].str = copy;
        st = next(ps);
        bool more = !st && is_punct(ps, ',');
        if (more)
            st = next(ps);
        if (st) {
            free_result_names(result_toks, nres);
            return st;
        }
        if (!more)
            break;
    }
    fa_status st = expect_punct(ps, '=');
    fa_op op = FA_OP_COUNT;
    int op_line = ps->tok.line, op_col = ps->tok.col;
    if (!st && (ps->tok.kind != T_IDENT || !fa_op_from_name(ps->tok.start, ps->tok.len, &op)))
        st = ps->tok.kind == T_IDENT ? FAIL("unknown op '%.*s'", (int)ps->tok.len, ps->tok.start)
                                     : FAIL("expected an op name");
    if (!st)
        st = next(ps);
    if (!st)
        st = expect_punct(ps, '(');
    fa_value **operands = NULL;
    uint32_t nops = 0, cap = 0;
    while (!st && !is_punct(ps, ')')) {
        if (nops == cap) {
            cap = cap ? cap * 2 : 8;
            fa_value **no = cap <= 65536 ? realloc(operands, cap * sizeof *operands) : NULL;
            if (!no) {
                st = FAIL("too many operands");
                break;
            }
            operands = no;
        }
        st = use_value(ps, &operands[nops]);
        if (!st)
            nops++;
        if (!st && !is_punct(ps, ')'))
            st = expect_punct(ps, ',');
    }
    if (!st)
        st = next(ps);
    /* Build the node with placeholder types, then read attributes and types into it. */
    fa_node *n = NULL;
    fa_type types[MAX_RESULTS];
    if (!st) {
        memset(types, 0, sizeof types);
        n = fa_graph_create_node(ps->g, NULL, op, operands, nops, types, nres);
    }
    free(operands);
    if (!st && is_punct(ps, '{')) {
        st = next(ps);
        while (!st && !is_punct(ps, '}')) {
            st = parse_attr(ps, n);
            if (!st && !is_punct(ps, '}'))
                st = expect_punct(ps, ',');
        }
        if (!st)
            st = next(ps);
    }
    if (!st)
        st = expect_punct(ps, ':');
    for (uint32_t i = 0; !st && i < nres; i++) {
        if (i)
            st = expect_punct(ps, ',');
        if (!st)
            st = parse_type(ps, &n->results[i]->type);
    }
    if (!st && is_ident(ps, "loc")) {
        st = next(ps);
        if (!st)
            st = expect_punct(ps, '(');
        if (!st && ps->tok.kind != T_STRING)
            st = FAIL("expected a string in loc(...)");
        if (!st && memchr(ps->tok.str, '\0', ps->tok.str_len))
            st = FAIL("node names cannot contain NUL bytes");
        if (!st) {
            fa_node_set_name(ps->g, n, ps->tok.str);
            st = next(ps);
        }
        if (!st)
            st = expect_punct(ps, ')');
    }
    for (uint32_t i = 0; !st && i < nres; i++) {
        token saved = ps->tok;
        ps->tok = result_toks[i];
        st = define_value(ps, n->results[i]);
        ps->tok = saved;
    }
    free_result_names(result_toks, nres);
    if (!st) {
        /* Check the node where it stands, so the error has its line. */
        fa_status vs = fa_node_verify_local(n);
        if (vs) {
            perror_at(ps, op_line, op_col, "%s", fa_status_message(vs));
            fa_status_free(vs);
            st = ps->err;
        }
    }
    return st;
}

static fa_status parse_return(parser *ps) {
    FA_TRY(next(ps));
    while (!is_punct(ps, '}')) {
        if (ps->tok.kind == T_EOF)
            return FAIL("unexpected end of input: missing '}'");
        int line = ps->tok.line, col = ps->tok.col;
        fa_value *v;
        FA_TRY(use_value(ps, &v));
        if (!v)
            return perror_at(ps, line, col, "a graph output cannot be none");
        const char *name = v->name;
        if (is_ident(ps, "as")) {
            FA_TRY(next(ps));
            if (ps->tok.kind != T_STRING || memchr(ps->tok.str, '\0', ps->tok.str_len) ||
                ps->tok.str_len == 0)
                return FAIL("expected an output name string after 'as'");
            name = fa_graph_intern(ps->g, ps->tok.str, ps->tok.str_len);
            FA_TRY(next(ps));
        }
        if (!name)
            return perror_at(ps, line, col, "unnamed value as graph output needs 'as \"name\"'");
        for (uint32_t i = 0; i < fa_graph_num_outputs(ps->g); i++)
            if (strcmp(fa_graph_output(ps->g, i)->name, name) == 0)
                return perror_at(ps, line, col, "duplicate output name '%s'", name);
        fa_graph_add_output(ps->g, name, v);
        if (ps->tok.kind == T_EOF)
            return FAIL("unexpected end of input: missing '}'");
        if (!is_punct(ps, '}'))
            FA_TRY(expect_punct(ps, ','));
    }
    return FA_OK;
}

static fa_status parse_graph(parser *ps) {
    FA_TRY(next(ps));
    FA_TRY(expect_ident(ps, "graph"));
    if (ps->tok.kind != T_AT)
        return FAIL("expected the graph name (@name)");
    char *gname = copy_n(ps->tok.str, ps->tok.str_len);
    if (!gname)
        return FAIL("out of memory");
    fa_graph_set_name(ps->g, gname);
    free(gname);
    FA_TRY(next(ps));
    FA_TRY(expect_punct(ps, '('));
    while (!is_punct(ps, ')')) {
        if (ps->tok.kind != T_PERCENT || ps->tok.numeric_name)
            return FAIL("expected a named graph input (%%name)");
        token name_tok = ps->tok;
        char *name = copy_n(ps->tok.str, ps->tok.str_len);
        if (!name)
            return FAIL("out of memory");
        fa_status st = next(ps);
        fa_type type;
        if (!st)
            st = expect_punct(ps, ':');
        if (!st)
            st = parse_type(ps, &type);
        if (!st) {
            fa_value *v = fa_graph_add_input(ps->g, name, &type);
            token saved = ps->tok;
            ps->tok = name_tok;
            ps->tok.str = name;
            st = define_value(ps, v);
            ps->tok = saved;
        }
        free(name);
        FA_TRY(st);
        if (!is_punct(ps, ')'))
            FA_TRY(expect_punct(ps, ','));
    }
    FA_TRY(next(ps));
    FA_TRY(expect_punct(ps, '{'));
    bool returned = false;
    while (!is_punct(ps, '}')) {
        if (ps->tok.kind == T_EOF)
            return FAIL("unexpected end of input: missing '}'");
        if (returned)
            return FAIL("nothing may follow 'return'");
        if (is_ident(ps, "const")) {
            FA_TRY(next(ps));
            if (ps->tok.kind != T_AT)
                return FAIL("expected a constant name (@name)");
            token name_tok = ps->tok;
            char *name = copy_n(ps->tok.str, ps->tok.str_len);
            if (!name)
                return FAIL("out of memory");
            const char *key = token_key(ps);
            fa_status st = names_get(ps, key) ? FAIL("redefinition of @%s", name) : FA_OK;
            if (!st)
                st = next(ps);
            if (!st)
                st = expect_punct(ps, '=');
            fa_value *v = NULL;
            if (!st)
                st = parse_tensor(ps, name, &v, NULL);
            if (!st)
                st = names_put(ps, key, v);
            (void)name_tok;
            free(name);
            FA_TRY(st);
        } else if (is_ident(ps, "return")) {
            FA_TRY(parse_return(ps));
            returned = true;
        } else {
            FA_TRY(parse_node(ps));
        }
    }
    if (!returned)
        return FAIL("graph has no 'return'");
    FA_TRY(next(ps));
    if (ps->tok.kind != T_EOF)
        return FAIL("unexpected text after the graph");
    return FA_OK;
}

fa_status fa_graph_parse(const char *text, size_t len, const char *filename, const char *base_dir,
                         int line_offset, fa_graph **out_graph) {
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.src = ps.p = text;
    ps.end = text + len;
    ps.filename = filename ? filename : "<input>";
    ps.base_dir = base_dir;
    ps.line = 1 + line_offset;
    ps.col = 1;
    ps.g = fa_graph_create("main");
    fa_status st = parse_graph(&ps);
    if (!st) {
        st = fa_graph_verify(ps.g);
        if (st)
            st = fa_status_prefix(st, "%s: error", ps.filename);
    }
    free(ps.names);
    free(ps.scratch);
    if (st) {
        fa_graph_destroy(ps.g);
        *out_graph = NULL;
        return st;
    }
    *out_graph = ps.g;
    return FA_OK;
}
