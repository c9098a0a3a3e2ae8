/* .fir parser, part 1: diagnostics and the lexer (tokens, strings, names, numbers). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/parse_internal.h"

fa_status fa_parse_error_at(parser *ps, int line, int col, const char *fmt, ...) {
    if (ps->err)
        return ps->err;
    va_list ap;
    va_start(ap, fmt);
    fa_status s = fa_status_makev(FA_STATUS_PARSE, fmt, ap);
    va_end(ap);
    ps->err = fa_status_prefix(s, "%s:%d:%d: error", ps->filename, line, col);
    return ps->err;
}

/* A NUL-terminated copy of |len| bytes at |s|, which need not be terminated (names point into
 * the input buffer). NULL when out of memory. */
char *fa_parse_copy_n(const char *s, size_t len) {
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

int fa_parse_hexval(char c) {
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
            return fa_parse_error_at(ps, line, col, "unterminated string");
        char c = *ps->p;
        if (c == '"') {
            advance_char(ps);
            break;
        }
        if (c == '\\') {
            advance_char(ps);
            if (ps->p >= ps->end)
                return fa_parse_error_at(ps, line, col, "unterminated string");
            char e = *ps->p;
            if (e == 'n') {
                c = '\n';
            } else if (e == 't') {
                c = '\t';
            } else if (e == '"' || e == '\\') {
                c = e;
            } else if (e == 'x') {
                int h1 = ps->p + 1 < ps->end ? fa_parse_hexval(ps->p[1]) : -1;
                int h2 = ps->p + 2 < ps->end ? fa_parse_hexval(ps->p[2]) : -1;
                if (h1 < 0 || h2 < 0)
                    return fa_parse_error_at(ps, ps->line, ps->col, "bad \\x escape in string");
                advance_char(ps);
                advance_char(ps);
                c = (char)(h1 * 16 + h2);
            } else {
                return fa_parse_error_at(ps, ps->line, ps->col, "unknown escape '\\%c' in string",
                                 isprint((unsigned char)e) ? e : '?');
            }
        }
        if (n + 2 > ps->scratch_cap) {
            size_t ncap = ps->scratch_cap ? ps->scratch_cap * 2 : 256;
            char *s = realloc(ps->scratch, ncap);
            if (!s)
                return fa_parse_error_at(ps, line, col, "out of memory");
            ps->scratch = s;
            ps->scratch_cap = ncap;
        }
        ps->scratch[n++] = c;
        advance_char(ps);
    }
    if (!ps->scratch) {
        ps->scratch = malloc(256);
        if (!ps->scratch)
            return fa_parse_error_at(ps, line, col, "out of memory");
        ps->scratch_cap = 256;
    }
    ps->scratch[n] = '\0';
    t->str = ps->scratch;
    t->str_len = n;
    return FA_OK;
}

fa_status fa_parse_next(parser *ps) {
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

bool fa_parse_is_punct(const parser *ps, char c) {
    return ps->tok.kind == T_PUNCT && ps->tok.start[0] == c;
}

bool fa_parse_is_ident(const parser *ps, const char *word) {
    return ps->tok.kind == T_IDENT && strlen(word) == ps->tok.len &&
           memcmp(ps->tok.start, word, ps->tok.len) == 0;
}

const char *fa_parse_describe_tok(const parser *ps, char *buf, size_t size) {
    if (ps->tok.kind == T_EOF)
        return "end of input";
    size_t n = ps->tok.len > 24 ? 24 : ps->tok.len;
    snprintf(buf, size, "'%.*s%s'", (int)n, ps->tok.start, ps->tok.len > n ? "..." : "");
    return buf;
}

fa_status fa_parse_expect_punct(parser *ps, char c) {
    if (!fa_parse_is_punct(ps, c)) {
        char buf[48];
        return FAIL("expected '%c', found %s", c, fa_parse_describe_tok(ps, buf, sizeof buf));
    }
    return fa_parse_next(ps);
}

fa_status fa_parse_expect_ident(parser *ps, const char *word) {
    if (!fa_parse_is_ident(ps, word)) {
        char buf[48];
        return FAIL("expected '%s', found %s", word, fa_parse_describe_tok(ps, buf, sizeof buf));
    }
    return fa_parse_next(ps);
}
