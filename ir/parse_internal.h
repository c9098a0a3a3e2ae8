/* Internals of the .fir parser shared by its files: parse_lex.c (lexer, diagnostics, token
 * predicates), parse_literal.c (numbers, types, tensor data) and parse.c (names, attributes,
 * statements, the graph). */
#ifndef FA_IR_PARSE_INTERNAL_H
#define FA_IR_PARSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    /* When set, file<> references read from this blob (fa_graph_parse_blob) instead. */
    const unsigned char *blob;
    uint64_t blob_len;
    int line, col;
    token tok;
    fa_graph *g;
    fa_status err;
    name_entry *names; /* open addressing on interned pointers */
    uint32_t names_cap, names_count;
    char *scratch; /* decoded strings */
    size_t scratch_cap;
} parser;

/* Records "file:line:col: error: message" as the parser's error (the first one wins) and
 * returns it. */
fa_status fa_parse_error_at(parser *ps, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define FAIL(...) fa_parse_error_at(ps, ps->tok.line, ps->tok.col, __VA_ARGS__)

/* A NUL-terminated malloc'ed copy of |len| bytes at |s| (which need not be terminated). */
char *fa_parse_copy_n(const char *s, size_t len);
/* The value of hex digit |c|, or -1. */
int fa_parse_hexval(char c);
/* Lexes the next token into ps->tok. */
fa_status fa_parse_next(parser *ps);
bool fa_parse_is_punct(const parser *ps, char c);
bool fa_parse_is_ident(const parser *ps, const char *word);
const char *fa_parse_describe_tok(const parser *ps, char *buf, size_t size);
fa_status fa_parse_expect_punct(parser *ps, char c);
fa_status fa_parse_expect_ident(parser *ps, const char *word);

fa_status fa_parse_int(parser *ps, int64_t *out);
fa_status fa_parse_float(parser *ps, double *out);
bool fa_parse_token_is_float(const parser *ps);
fa_status fa_parse_type(parser *ps, fa_type *out);
/* TYPE DATA: a graph constant named |const_name| (*out_const), or with |const_name| NULL a
 * tensor for an attribute (*out_tensor). */
fa_status fa_parse_tensor(parser *ps, const char *const_name, fa_value **out_const,
                          const fa_tensor **out_tensor);

#endif
