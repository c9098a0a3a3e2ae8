/* .npy reader and writer. The header is a Python dict literal; we parse exactly the subset numpy
 * writes ({'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }) and refuse the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/fileio.h"
#include "runtime/npy.h"

static const struct {
    const char *descr;
    fa_dtype dt;
} npy_types[] = {
    {"<f4", FA_DT_F32}, {"<f8", FA_DT_F64}, {"<f2", FA_DT_F16}, {"<i8", FA_DT_I64},
    {"<i4", FA_DT_I32}, {"<i2", FA_DT_I16}, {"|i1", FA_DT_I8},  {"|u1", FA_DT_U8},
    {"<u2", FA_DT_U16}, {"<u4", FA_DT_U32}, {"<u8", FA_DT_U64}, {"|b1", FA_DT_BOOL},
};

const char *fa_rt_npy_descr(fa_dtype dt) {
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dt == dt)
            return npy_types[i].descr;
    return NULL;
}

static fa_dtype dtype_from_descr(const char *s) {
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (!strcmp(npy_types[i].descr, s))
            return npy_types[i].dt;
    /* numpy also accepts these spellings of the one-byte types */
    if (!strcmp(s, "<i1") || !strcmp(s, "=i1"))
        return FA_DT_I8;
    if (!strcmp(s, "<u1") || !strcmp(s, "=u1"))
        return FA_DT_U8;
    if (!strcmp(s, "<b1") || !strcmp(s, "=b1"))
        return FA_DT_BOOL;
    return FA_DT_INVALID;
}

/* ---- header parsing ---- */

typedef struct hparser {
    const char *p, *end;
} hparser;

static void skip_ws(hparser *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static bool eat(hparser *h, char c) {
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return true;
    }
    return false;
}

/* A quoted string ('...' or "...") without escapes, into |buf|. */
static bool parse_str(hparser *h, char *buf, size_t size) {
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return false;
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || n + 1 >= size)
            return false;
        buf[n++] = *h->p++;
    }
    if (h->p >= h->end)
        return false;
    h->p++;
    buf[n] = '\0';
    return true;
}

static bool parse_word(hparser *h, const char *w) {
    skip_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) < n || memcmp(h->p, w, n) != 0)
        return false;
    h->p += n;
    return true;
}

static fa_status parse_shape(hparser *h, const char *name, int *rank, int64_t *dims) {
    if (!eat(h, '('))
        return fa_status_make(FA_STATUS_PARSE, "%s: header 'shape' is not a tuple", name);
    *rank = 0;
    for (;;) {
        if (eat(h, ')'))
            return FA_OK;
        skip_ws(h);
        if (h->p >= h->end || *h->p < '0' || *h->p > '9')
            return fa_status_make(FA_STATUS_PARSE, "%s: bad entry in header 'shape'", name);
        uint64_t v = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            v = v * 10 + (uint64_t)(*h->p++ - '0');
            if (v > (uint64_t)INT64_MAX / 16)
                return fa_status_make(FA_STATUS_PARSE, "%s: dimension too large", name);
        }
        if (h->p < h->end && *h->p == 'L') /* Python 2 longs */
            h->p++;
        if (*rank >= FA_MAX_RANK)
            return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: rank above %d", name, FA_MAX_RANK);
        dims[(*rank)++] = (int64_t)v;
        if (eat(h, ','))
            continue;
        if (eat(h, ')'))
            return FA_OK;
        return fa_status_make(FA_STATUS_PARSE, "%s: bad header 'shape'", name);
    }
}

static fa_status parse_header(const char *hdr, size_t len, const char *name, fa_dtype *out_dt,
                              int *rank, int64_t *dims) {
    hparser h = {hdr, hdr + len};
    bool got_descr = false, got_order = false, got_shape = false;
    if (!eat(&h, '{'))
        return fa_status_make(FA_STATUS_PARSE, "%s: header is not a dict", name);
    while (!eat(&h, '}')) {
        char key[32], val[32];
        if (!parse_str(&h, key, sizeof key) || !eat(&h, ':'))
            return fa_status_make(FA_STATUS_PARSE, "%s: malformed header dict", name);
        if (!strcmp(key, "descr") && !got_descr) {
            if (!parse_str(&h, val, sizeof val))
                return fa_status_make(FA_STATUS_UNSUPPORTED,
                                      "%s: unsupported dtype (structured or malformed descr)",
                                      name);
            *out_dt = dtype_from_descr(val);
            if (*out_dt == FA_DT_INVALID)
                return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: unsupported dtype '%s'", name,
                                      val);
            got_descr = true;
        } else if (!strcmp(key, "fortran_order") && !got_order) {
            if (parse_word(&h, "True"))
                return fa_status_make(FA_STATUS_UNSUPPORTED,
                                      "%s: Fortran-ordered arrays are not supported "
                                      "(save with np.ascontiguousarray)",
                                      name);
            if (!parse_word(&h, "False"))
                return fa_status_make(FA_STATUS_PARSE, "%s: bad 'fortran_order'", name);
            got_order = true;
        } else if (!strcmp(key, "shape") && !got_shape) {
            FA_TRY(parse_shape(&h, name, rank, dims));
            got_shape = true;
        } else {
            return fa_status_make(FA_STATUS_PARSE, "%s: unexpected header key '%s'", name, key);
        }
        if (!eat(&h, ',')) {
            if (!eat(&h, '}'))
                return fa_status_make(FA_STATUS_PARSE, "%s: malformed header dict", name);
            break;
        }
    }
    skip_ws(&h);
    if (h.p != h.end)
        return fa_status_make(FA_STATUS_PARSE, "%s: junk after the header dict", name);
    if (!got_descr || !got_order || !got_shape)
        return fa_status_make(FA_STATUS_PARSE, "%s: header lacks descr, fortran_order or shape",
                              name);
    return FA_OK;
}

fa_status fa_rt_npy_parse(const void *data, size_t len, const char *name, fa_rt_tensor *out,
                          const fa_rt_allocator *al) {
    memset(out, 0, sizeof *out);
    const unsigned char *b = data;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return fa_status_make(FA_STATUS_PARSE, "%s: not a .npy file (bad magic)", name);
    unsigned major = b[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return fa_status_make(FA_STATUS_PARSE, "%s: truncated header", name);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        start = 12;
    } else {
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: unsupported .npy version %u.%u", name,
                              major, b[7]);
    }
    if (hlen > len - start)
        return fa_status_make(FA_STATUS_PARSE, "%s: truncated header", name);
    fa_dtype dt = FA_DT_INVALID;
    int rank = 0;
    int64_t dims[FA_MAX_RANK];
    FA_TRY(parse_header((const char *)b + start, hlen, name, &dt, &rank, dims));
    uint64_t n, bytes;
    fa_status s = fa_rt_shape_num_elements(rank, dims, &n);
    if (!s)
        s = fa_rt_dtype_num_bytes(dt, n, &bytes);
    if (s)
        return fa_status_prefix(s, "%s", name);
    size_t have = len - start - hlen;
    if (have != bytes)
        return fa_status_make(FA_STATUS_PARSE, "%s: %s data: %zu bytes for a shape needing %llu",
                              name, have < bytes ? "truncated" : "extra", have,
                              (unsigned long long)bytes);
    FA_TRY(fa_status_prefix(fa_rt_tensor_alloc(out, dt, rank, dims, al), "%s", name));
    if (bytes)
        memcpy(out->data, b + start + hlen, (size_t)bytes);
    if (dt == FA_DT_BOOL) /* normalize to 0/1 */
        for (uint64_t i = 0; i < n; i++)
            ((uint8_t *)out->data)[i] = ((uint8_t *)out->data)[i] != 0;
    return FA_OK;
}

fa_status fa_rt_npy_read(const char *path, fa_rt_tensor *out, const fa_rt_allocator *al) {
    memset(out, 0, sizeof *out);
    char *data;
    size_t len;
    FA_TRY(fa_file_read_all(path, &data, &len));
    fa_status s = fa_rt_npy_parse(data, len, path, out, al);
    free(data);
    return s;
}

fa_status fa_rt_npy_write_stream(void *file, const fa_rt_tensor *t, const char *name) {
    FILE *f = file;
    const char *descr = fa_rt_npy_descr(t->dtype);
    if (!descr)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: dtype %s has no .npy equivalent", name,
                              fa_dtype_name(t->dtype));
    char dict[512];
    size_t k = (size_t)snprintf(dict, sizeof dict,
                                "{'descr': '%s', 'fortran_order': False, "
                                "'shape': (",
                                descr);
    for (int i = 0; i < t->rank; i++)
        k += (size_t)snprintf(dict + k, sizeof dict - k, "%s%lld", i ? ", " : "",
                              (long long)t->dims[i]);
    k += (size_t)snprintf(dict + k, sizeof dict - k, "%s), }", t->rank == 1 ? "," : "");
    /* pad with spaces so the data starts on a 64-byte boundary; the header ends in '\n' */
    size_t total = 10 + k + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t hlen = padded - 10;
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    fwrite(pre, 1, sizeof pre, f);
    fwrite(dict, 1, k, f);
    for (size_t i = k; i + 1 < hlen; i++)
        fputc(' ', f);
    fputc('\n', f);
    if ((t->nbytes && fwrite(t->data, 1, (size_t)t->nbytes, f) != t->nbytes) || ferror(f))
        return fa_status_make(FA_STATUS_IO, "%s: write failed", name);
    return FA_OK;
}

fa_status fa_rt_npy_write(const char *path, const fa_rt_tensor *t) {
    if (!fa_rt_npy_descr(t->dtype))
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: dtype %s has no .npy equivalent", path,
                              fa_dtype_name(t->dtype));
    fa_atomic_file af;
    FA_TRY(fa_atomic_file_open(&af, path));
    fa_status s = fa_rt_npy_write_stream(af.f, t, path);
    if (s) {
        fa_atomic_file_abort(&af);
        return s;
    }
    return fa_atomic_file_commit(&af);
}
