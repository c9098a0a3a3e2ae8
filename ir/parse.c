/* Textual IR parser (.fir): recursive descent over a small lexer. Every error carries
 * "file:line:col: error:"; the parser never trusts the input (sizes checked, no recursion on
 * user-controlled depth). The grammar is in ir/README.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/parse_internal.h"

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
    if (fa_parse_is_ident(ps, "none")) {
        *out = NULL;
        return fa_parse_next(ps);
    }
    if (ps->tok.kind != T_PERCENT && ps->tok.kind != T_AT) {
        char buf[48];
        return FAIL("expected a value (%%name, @name or none), found %s",
                    fa_parse_describe_tok(ps, buf, sizeof buf));
    }
    fa_value *v = names_get(ps, token_key(ps));
    if (!v)
        return FAIL("use of undefined value %c%.*s", ps->tok.kind == T_AT ? '@' : '%',
                    (int)ps->tok.str_len, ps->tok.str);
    *out = v;
    return fa_parse_next(ps);
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

/* ---- attributes ---- */

static fa_status parse_list(parser *ps, fa_node *n, const char *name, int forced_kind) {
    /* After '['. forced_kind is -1 (infer from the first element) or an FA_ATTR_* list kind. */
    int kind = forced_kind;
    int64_t *ints = NULL;
    double *floats = NULL;
    const char **strs = NULL;
    uint32_t count = 0, cap = 0;
    fa_status st = FA_OK;
    while (!st && !fa_parse_is_punct(ps, ']')) {
        if (kind < 0)
            kind = ps->tok.kind == T_STRING      ? FA_ATTR_STRINGS
                   : fa_parse_token_is_float(ps) ? FA_ATTR_FLOATS
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
            st = fa_parse_next(ps);
        } else if (kind == FA_ATTR_FLOATS) {
            st = fa_parse_float(ps, &floats[count++]);
        } else {
            if (fa_parse_token_is_float(ps)) {
                st = FAIL("float in a list of ints");
                break;
            }
            st = fa_parse_int(ps, &ints[count++]);
        }
        if (!st && !fa_parse_is_punct(ps, ']'))
            st = fa_parse_expect_punct(ps, ',');
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
        st = fa_parse_next(ps);
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
    FA_TRY(fa_parse_next(ps));
    FA_TRY(fa_parse_expect_punct(ps, '='));
    if (ps->tok.kind == T_STRING) {
        if (memchr(ps->tok.str, '\0', ps->tok.str_len))
            return FAIL("string attributes cannot contain NUL bytes");
        fa_node_set_attr_string(ps->g, n, name, ps->tok.str);
        return fa_parse_next(ps);
    }
    if (fa_parse_is_punct(ps, '[')) {
        FA_TRY(fa_parse_next(ps));
        return parse_list(ps, n, name, -1);
    }
    if (fa_parse_is_ident(ps, "ints") || fa_parse_is_ident(ps, "floats") || fa_parse_is_ident(ps, "strings")) {
        int kind = fa_parse_is_ident(ps, "ints")     ? FA_ATTR_INTS
                   : fa_parse_is_ident(ps, "floats") ? FA_ATTR_FLOATS
                                            : FA_ATTR_STRINGS;
        FA_TRY(fa_parse_next(ps));
        FA_TRY(fa_parse_expect_punct(ps, '['));
        return parse_list(ps, n, name, kind);
    }
    if (ps->tok.kind == T_IDENT && !fa_parse_is_ident(ps, "inf") && !fa_parse_is_ident(ps, "nan")) {
        const fa_tensor *t = NULL;
        FA_TRY(fa_parse_tensor(ps, NULL, NULL, &t));
        fa_node_set_attr_tensor(ps->g, n, name, t);
        return FA_OK;
    }
    if (fa_parse_token_is_float(ps)) {
        double v;
        FA_TRY(fa_parse_float(ps, &v));
        fa_node_set_attr_float(ps->g, n, name, v);
        return FA_OK;
    }
    int64_t v;
    FA_TRY(fa_parse_int(ps, &v));
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
        st = fa_parse_next(ps);
        bool more = !st && fa_parse_is_punct(ps, ',');
        if (more)
            st = fa_parse_next(ps);
        if (st) {
            free_result_names(result_toks, nres);
            return st;
        }
        if (!more)
            break;
    }
    fa_status st = fa_parse_expect_punct(ps, '=');
    fa_op op = FA_OP_COUNT;
    int op_line = ps->tok.line, op_col = ps->tok.col;
    if (!st && (ps->tok.kind != T_IDENT || !fa_op_from_name(ps->tok.start, ps->tok.len, &op)))
        st = ps->tok.kind == T_IDENT ? FAIL("unknown op '%.*s'", (int)ps->tok.len, ps->tok.start)
                                     : FAIL("expected an op name");
    if (!st)
        st = fa_parse_next(ps);
    if (!st)
        st = fa_parse_expect_punct(ps, '(');
    fa_value **operands = NULL;
    uint32_t nops = 0, cap = 0;
    while (!st && !fa_parse_is_punct(ps, ')')) {
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
        if (!st && !fa_parse_is_punct(ps, ')'))
            st = fa_parse_expect_punct(ps, ',');
    }
    if (!st)
        st = fa_parse_next(ps);
    /* Build the node with placeholder types, then read attributes and types into it. */
    fa_node *n = NULL;
    fa_type types[MAX_RESULTS];
    if (!st) {
        memset(types, 0, sizeof types);
        n = fa_graph_create_node(ps->g, NULL, op, operands, nops, types, nres);
    }
    free(operands);
    if (!st && fa_parse_is_punct(ps, '{')) {
        st = fa_parse_next(ps);
        while (!st && !fa_parse_is_punct(ps, '}')) {
            st = parse_attr(ps, n);
            if (!st && !fa_parse_is_punct(ps, '}'))
                st = fa_parse_expect_punct(ps, ',');
        }
        if (!st)
            st = fa_parse_next(ps);
    }
    if (!st)
        st = fa_parse_expect_punct(ps, ':');
    for (uint32_t i = 0; !st && i < nres; i++) {
        if (i)
            st = fa_parse_expect_punct(ps, ',');
        if (!st)
            st = fa_parse_type(ps, &n->results[i]->type);
    }
    if (!st && fa_parse_is_ident(ps, "loc")) {
        st = fa_parse_next(ps);
        if (!st)
            st = fa_parse_expect_punct(ps, '(');
        if (!st && ps->tok.kind != T_STRING)
            st = FAIL("expected a string in loc(...)");
        if (!st && memchr(ps->tok.str, '\0', ps->tok.str_len))
            st = FAIL("node names cannot contain NUL bytes");
        if (!st) {
            fa_node_set_name(ps->g, n, ps->tok.str);
            st = fa_parse_next(ps);
        }
        if (!st)
            st = fa_parse_expect_punct(ps, ')');
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
            fa_parse_error_at(ps, op_line, op_col, "%s", fa_status_message(vs));
            fa_status_free(vs);
            st = ps->err;
        }
    }
    return st;
}

static fa_status parse_return(parser *ps) {
    FA_TRY(fa_parse_next(ps));
    while (!fa_parse_is_punct(ps, '}')) {
        if (ps->tok.kind == T_EOF)
            return FAIL("unexpected end of input: missing '}'");
        int line = ps->tok.line, col = ps->tok.col;
        fa_value *v;
        FA_TRY(use_value(ps, &v));
        if (!v)
            return fa_parse_error_at(ps, line, col, "a graph output cannot be none");
        const char *name = v->name;
        if (fa_parse_is_ident(ps, "as")) {
            FA_TRY(fa_parse_next(ps));
            if (ps->tok.kind != T_STRING || memchr(ps->tok.str, '\0', ps->tok.str_len) ||
                ps->tok.str_len == 0)
                return FAIL("expected an output name string after 'as'");
            name = fa_graph_intern(ps->g, ps->tok.str, ps->tok.str_len);
            FA_TRY(fa_parse_next(ps));
        }
        if (!name)
            return fa_parse_error_at(ps, line, col, "unnamed value as graph output needs 'as \"name\"'");
        for (uint32_t i = 0; i < fa_graph_num_outputs(ps->g); i++)
            if (strcmp(fa_graph_output(ps->g, i)->name, name) == 0)
                return fa_parse_error_at(ps, line, col, "duplicate output name '%s'", name);
        fa_graph_add_output(ps->g, name, v);
        if (ps->tok.kind == T_EOF)
            return FAIL("unexpected end of input: missing '}'");
        if (!fa_parse_is_punct(ps, '}'))
            FA_TRY(fa_parse_expect_punct(ps, ','));
    }
    return FA_OK;
}

static fa_status parse_graph(parser *ps) {
    FA_TRY(fa_parse_next(ps));
    FA_TRY(fa_parse_expect_ident(ps, "graph"));
    if (ps->tok.kind != T_AT)
        return FAIL("expected the graph name (@name)");
    char *gname = fa_parse_copy_n(ps->tok.str, ps->tok.str_len);
    if (!gname)
        return FAIL("out of memory");
    fa_graph_set_name(ps->g, gname);
    free(gname);
    FA_TRY(fa_parse_next(ps));
    FA_TRY(fa_parse_expect_punct(ps, '('));
    while (!fa_parse_is_punct(ps, ')')) {
        if (ps->tok.kind != T_PERCENT || ps->tok.numeric_name)
            return FAIL("expected a named graph input (%%name)");
        token name_tok = ps->tok;
        char *name = fa_parse_copy_n(ps->tok.str, ps->tok.str_len);
        if (!name)
            return FAIL("out of memory");
        fa_status st = fa_parse_next(ps);
        fa_type type;
        if (!st)
            st = fa_parse_expect_punct(ps, ':');
        if (!st)
            st = fa_parse_type(ps, &type);
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
        if (!fa_parse_is_punct(ps, ')'))
            FA_TRY(fa_parse_expect_punct(ps, ','));
    }
    FA_TRY(fa_parse_next(ps));
    FA_TRY(fa_parse_expect_punct(ps, '{'));
    bool returned = false;
    while (!fa_parse_is_punct(ps, '}')) {
        if (ps->tok.kind == T_EOF)
            return FAIL("unexpected end of input: missing '}'");
        if (returned)
            return FAIL("nothing may follow 'return'");
        if (fa_parse_is_ident(ps, "const")) {
            FA_TRY(fa_parse_next(ps));
            if (ps->tok.kind != T_AT)
                return FAIL("expected a constant name (@name)");
            token name_tok = ps->tok;
            char *name = fa_parse_copy_n(ps->tok.str, ps->tok.str_len);
            if (!name)
                return FAIL("out of memory");
            const char *key = token_key(ps);
            fa_status st = names_get(ps, key) ? FAIL("redefinition of @%s", name) : FA_OK;
            if (!st)
                st = fa_parse_next(ps);
            if (!st)
                st = fa_parse_expect_punct(ps, '=');
            fa_value *v = NULL;
            if (!st)
                st = fa_parse_tensor(ps, name, &v, NULL);
            if (!st)
                st = names_put(ps, key, v);
            (void)name_tok;
            free(name);
            FA_TRY(st);
        } else if (fa_parse_is_ident(ps, "return")) {
            FA_TRY(parse_return(ps));
            returned = true;
        } else {
            FA_TRY(parse_node(ps));
        }
    }
    if (!returned)
        return FAIL("graph has no 'return'");
    FA_TRY(fa_parse_next(ps));
    if (ps->tok.kind != T_EOF)
        return FAIL("unexpected text after the graph");
    return FA_OK;
}

static fa_status parse_text(parser *ps, fa_graph **out_graph) {
    ps->g = fa_graph_create("main");
    fa_status st = parse_graph(ps);
    if (!st) {
        st = fa_graph_verify(ps->g);
        if (st)
            st = fa_status_prefix(st, "%s: error", ps->filename);
    }
    free(ps->names);
    free(ps->scratch);
    if (st) {
        fa_graph_destroy(ps->g);
        *out_graph = NULL;
        return st;
    }
    *out_graph = ps->g;
    return FA_OK;
}

/* A parser over |len| bytes of |text| at line 1, column 1. */
static void parser_init(parser *ps, const char *text, size_t len, const char *filename) {
    memset(ps, 0, sizeof *ps);
    ps->src = ps->p = text;
    ps->end = text + len;
    ps->filename = filename ? filename : "<input>";
    ps->line = ps->col = 1;
}

fa_status fa_graph_parse(const char *text, size_t len, const char *filename, const char *base_dir,
                         int line_offset, fa_graph **out_graph) {
    parser ps;
    parser_init(&ps, text, len, filename);
    ps.base_dir = base_dir;
    ps.line += line_offset;
    return parse_text(&ps, out_graph);
}

fa_status fa_graph_parse_blob(const char *text, size_t len, const char *filename,
                              const void *blob, uint64_t blob_len, fa_graph **out_graph) {
    parser ps;
    parser_init(&ps, text, len, filename);
    ps.blob = blob;
    ps.blob_len = blob_len;
    return parse_text(&ps, out_graph);
}
