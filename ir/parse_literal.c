/* .fir parser, part 2: literals: integers, floats, types and tensor data (dense<>, hex<>,
 * file<> with its path checks). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/parse_internal.h"

/* ---- types and literals ---- */

/* Copies the current token's text, NUL-terminated, into |buf| for strtoll/strtod; a token too
 * long for it is an error ("|what| literal too long"). */
static fa_status token_text(parser *ps, char *buf, size_t size, const char *what) {
    if (ps->tok.len >= size)
        return FAIL("%s literal too long", what);
    memcpy(buf, ps->tok.start, ps->tok.len);
    buf[ps->tok.len] = '\0';
    return FA_OK;
}

fa_status fa_parse_int(parser *ps, int64_t *out) {
    if (ps->tok.kind != T_NUMBER) {
        char buf[48];
        return FAIL("expected an integer, found %s", fa_parse_describe_tok(ps, buf, sizeof buf));
    }
    char buf[64];
    FA_TRY(token_text(ps, buf, sizeof buf, "integer"));
    char *endp;
    errno = 0;
    long long v = strtoll(buf, &endp, 10);
    if (*endp != '\0' || endp == buf)
        return FAIL("'%s' is not an integer", buf);
    if (errno == ERANGE)
        return FAIL("integer '%s' out of range", buf);
    *out = v;
    return fa_parse_next(ps);
}

/* A float literal: a number, or inf, -inf (a T_NUMBER "-inf" lexes as number), nan. */
fa_status fa_parse_float(parser *ps, double *out) {
    char buf[64];
    if (ps->tok.kind == T_IDENT && (fa_parse_is_ident(ps, "inf") || fa_parse_is_ident(ps, "nan"))) {
        *out = fa_parse_is_ident(ps, "inf") ? INFINITY : NAN;
        return fa_parse_next(ps);
    }
    if (ps->tok.kind != T_NUMBER) {
        char d[48];
        return FAIL("expected a number, found %s", fa_parse_describe_tok(ps, d, sizeof d));
    }
    FA_TRY(token_text(ps, buf, sizeof buf, "number"));
    char *endp;
    double v = strtod(buf, &endp);
    if (*endp != '\0' || endp == buf || (isalpha((unsigned char)buf[buf[0] == '-' || buf[0] == '+']) &&
                                         strcmp(buf, "-inf") != 0 && strcmp(buf, "+inf") != 0))
        return FAIL("'%s' is not a number", buf);
    *out = v;
    return fa_parse_next(ps);
}

bool fa_parse_token_is_float(const parser *ps) {
    if (ps->tok.kind == T_IDENT)
        return fa_parse_is_ident(ps, "inf") || fa_parse_is_ident(ps, "nan");
    if (ps->tok.kind != T_NUMBER)
        return false;
    for (size_t i = 0; i < ps->tok.len; i++)
        if (strchr(".eEn", ps->tok.start[i]))
            return true;
    return false;
}

fa_status fa_parse_type(parser *ps, fa_type *out) {
    memset(out, 0, sizeof *out);
    if (ps->tok.kind != T_IDENT) {
        char buf[48];
        return FAIL("expected a type, found %s", fa_parse_describe_tok(ps, buf, sizeof buf));
    }
    out->dtype = fa_dtype_from_name(ps->tok.start, ps->tok.len);
    if (out->dtype == FA_DT_INVALID)
        return FAIL("unknown dtype '%.*s'", (int)ps->tok.len, ps->tok.start);
    FA_TRY(fa_parse_next(ps));
    FA_TRY(fa_parse_expect_punct(ps, '['));
    if (fa_parse_is_punct(ps, '*')) {
        out->rank = -1;
        FA_TRY(fa_parse_next(ps));
        return fa_parse_expect_punct(ps, ']');
    }
    while (!fa_parse_is_punct(ps, ']')) {
        if (out->rank == FA_MAX_RANK)
            return FAIL("rank exceeds %d", FA_MAX_RANK);
        fa_dim *d = &out->dims[out->rank];
        if (ps->tok.kind == T_IDENT) {
            d->sym = fa_graph_intern(ps->g, ps->tok.start, ps->tok.len);
            FA_TRY(fa_parse_next(ps));
        } else if (fa_parse_is_punct(ps, '?')) {
            d->value = FA_DIM_UNKNOWN;
            FA_TRY(fa_parse_next(ps));
        } else {
            int64_t v;
            int line = ps->tok.line, col = ps->tok.col;
            FA_TRY(fa_parse_int(ps, &v));
            if (v < 0)
                return fa_parse_error_at(ps, line, col, "dimension %lld is negative", (long long)v);
            d->value = v;
        }
        out->rank++;
        if (!fa_parse_is_punct(ps, ']'))
            FA_TRY(fa_parse_expect_punct(ps, ','));
    }
    return fa_parse_next(ps);
}

static fa_status store_element(parser *ps, fa_dtype dt, void *data, uint64_t i) {
    if (dt == FA_DT_F32 || dt == FA_DT_F64) {
        double v;
        FA_TRY(fa_parse_float(ps, &v));
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
        FA_TRY(token_text(ps, buf, sizeof buf, "integer"));
        char *endp;
        errno = 0;
        unsigned long long u = strtoull(buf, &endp, 10);
        if (*endp || errno == ERANGE)
            return FAIL("'%s' is not a u64", buf);
        ((uint64_t *)data)[i] = u;
        return fa_parse_next(ps);
    }
    FA_TRY(fa_parse_int(ps, &v));
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
    default: return fa_parse_error_at(ps, line, col, "dense<> is not available for %s; use hex<>",
                              fa_dtype_name(dt));
    }
    if (v < lo || v > hi)
        return fa_parse_error_at(ps, line, col, "%lld is out of range for %s", (long long)v,
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
fa_status fa_parse_tensor(parser *ps, const char *const_name, fa_value **out_const,
                              const fa_tensor **out_tensor) {
    fa_type type;
    int tline = ps->tok.line, tcol = ps->tok.col;
    FA_TRY(fa_parse_type(ps, &type));
    uint64_t nbytes, count;
    fa_status s = fa_type_num_bytes(&type, &nbytes);
    if (!s)
        s = fa_type_num_elements(&type, &count);
    if (s) {
        fa_parse_error_at(ps, tline, tcol, "constant type: %s", fa_status_message(s));
        fa_status_free(s);
        return ps->err;
    }
    if (nbytes > ((uint64_t)1 << 40))
        return fa_parse_error_at(ps, tline, tcol, "constant of %llu bytes is too large",
                         (unsigned long long)nbytes);
    if (ps->tok.kind != T_IDENT)
        return FAIL("expected dense<, hex< or file<");
    if (fa_parse_is_ident(ps, "file")) {
        if (!const_name)
            return FAIL("file<> data is only allowed for constants");
        FA_TRY(fa_parse_next(ps));
        FA_TRY(fa_parse_expect_punct(ps, '<'));
        if (ps->tok.kind != T_STRING)
            return FAIL("expected a file name string");
        int fline = ps->tok.line, fcol = ps->tok.col;
        char *rel = fa_parse_copy_n(ps->tok.str, ps->tok.str_len);
        if (!rel)
            return FAIL("out of memory");
        if (strlen(rel) != ps->tok.str_len || !path_is_safe(rel)) {
            free(rel);
            return fa_parse_error_at(ps, fline, fcol,
                             "file<> path must be relative and stay inside the file's folder");
        }
        fa_status st = fa_parse_next(ps);
        int64_t offset = 0;
        if (!st)
            st = fa_parse_expect_punct(ps, ',');
        if (!st)
            st = fa_parse_int(ps, &offset);
        if (!st && offset < 0)
            st = fa_parse_error_at(ps, fline, fcol, "negative file offset");
        if (!st)
            st = fa_parse_expect_punct(ps, '>');
        if (st) {
            free(rel);
            return st;
        }
        if (ps->blob) { /* fa_graph_parse_blob: the bytes are in memory, borrowed */
            free(rel);
            uint64_t nb = nbytes;
            if ((uint64_t)offset > ps->blob_len || nb > ps->blob_len - (uint64_t)offset)
                return fa_parse_error_at(ps, fline, fcol,
                                         "constant '%s' needs bytes [%lld, %llu) of a %llu-byte "
                                         "data blob",
                                         const_name, (long long)offset,
                                         (unsigned long long)((uint64_t)offset + nb),
                                         (unsigned long long)ps->blob_len);
            st = fa_graph_add_const_borrowed(ps->g, const_name, &type, ps->blob + offset, nb,
                                             out_const);
            if (st) {
                fa_parse_error_at(ps, fline, fcol, "%s", fa_status_message(st));
                fa_status_free(st);
                return ps->err;
            }
            return FA_OK;
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
            return fa_parse_error_at(ps, fline, fcol, "file<> path resolves outside the file's folder "
                                              "(through a symbolic link)");
        }
        st = fa_graph_add_const_mapped(ps->g, const_name, &type, full, rel, (uint64_t)offset,
                                       out_const);
        free(full);
        free(rel);
        if (st) {
            fa_parse_error_at(ps, fline, fcol, "%s", fa_status_message(st));
            fa_status_free(st);
            return ps->err;
        }
        return FA_OK;
    }
    if (!fa_parse_is_ident(ps, "dense") && !fa_parse_is_ident(ps, "hex")) {
        char buf[48];
        return FAIL("expected dense<, hex< or file<, found %s", fa_parse_describe_tok(ps, buf, sizeof buf));
    }
    /* Inline data comes from the text: refuse sizes the rest of the input cannot hold before
     * allocating (at least one character per dense element, two hex digits per byte). */
    uint64_t remaining = (uint64_t)(ps->end - ps->p);
    if ((fa_parse_is_ident(ps, "dense") && count > remaining) ||
        (fa_parse_is_ident(ps, "hex") && nbytes > remaining / 2))
        return fa_parse_error_at(ps, tline, tcol, "constant of %llu elements is larger than the input",
                         (unsigned long long)count);
    void *data = calloc(1, nbytes ? (size_t)nbytes : 1);
    if (!data)
        return FAIL("out of memory for a constant of %llu bytes", (unsigned long long)nbytes);
    fa_status st = FA_OK;
    if (fa_parse_is_ident(ps, "hex")) {
        st = fa_parse_next(ps);
        if (!st)
            st = fa_parse_expect_punct(ps, '<');
        if (!st && ps->tok.kind != T_STRING)
            st = FAIL("expected a hex string");
        if (!st && ps->tok.str_len != nbytes * 2)
            st = FAIL("hex data has %zu digits, type needs %llu", ps->tok.str_len,
                      (unsigned long long)(nbytes * 2));
        for (uint64_t i = 0; !st && i < nbytes; i++) {
            int h = fa_parse_hexval(ps->tok.str[2 * i]), l = fa_parse_hexval(ps->tok.str[2 * i + 1]);
            if (h < 0 || l < 0)
                st = FAIL("bad hex digit in constant data");
            else
                ((unsigned char *)data)[i] = (unsigned char)(h * 16 + l);
        }
        if (!st)
            st = fa_parse_next(ps);
        if (!st)
            st = fa_parse_expect_punct(ps, '>');
    } else { /* dense */
        st = fa_parse_next(ps);
        if (!st)
            st = fa_parse_expect_punct(ps, '<');
        if (!st)
            st = fa_parse_expect_punct(ps, '[');
        uint64_t i = 0;
        while (!st && !fa_parse_is_punct(ps, ']')) {
            if (i == count)
                st = FAIL("more than %llu elements for type", (unsigned long long)count);
            else
                st = store_element(ps, type.dtype, data, i++);
            if (!st && !fa_parse_is_punct(ps, ']'))
                st = fa_parse_expect_punct(ps, ',');
        }
        if (!st && i != count)
            st = FAIL("dense<> has %llu elements, type needs %llu", (unsigned long long)i,
                      (unsigned long long)count);
        if (!st)
            st = fa_parse_next(ps);
        if (!st)
            st = fa_parse_expect_punct(ps, '>');
    }
    if (!st) {
        st = const_name ? fa_graph_add_const(ps->g, const_name, &type, data, nbytes, out_const)
                        : fa_graph_make_tensor(ps->g, &type, data, nbytes, out_tensor);
        if (st) {
            fa_parse_error_at(ps, tline, tcol, "%s", fa_status_message(st));
            fa_status_free(st);
            st = ps->err;
        }
    }
    free(data);
    return st;
}
