/* Minimal .npy reading and writing for the AOT examples (version 1.0/2.0 files, little-endian,
 * C order; the dtypes a compiled model takes and gives). Self-contained on purpose: a program
 * that links a compiled model needs nothing of freeact but the model's header and library.
 * Include it after the model's header (it uses freeact_tensor and the FREEACT_* dtypes). */
#ifndef FREEACT_EXAMPLE_NPY_IO_H
#define FREEACT_EXAMPLE_NPY_IO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *descr;
    int dtype;
    size_t size;
} npy_types[] = {
    {"<f4", FREEACT_F32, 4}, {"<f8", FREEACT_F64, 8}, {"<i8", FREEACT_I64, 8},
    {"<i4", FREEACT_I32, 4}, {"<i2", FREEACT_I16, 2}, {"|i1", FREEACT_I8, 1},
    {"|u1", FREEACT_U8, 1},  {"|b1", FREEACT_BOOL, 1}, {"<u8", FREEACT_U64, 8},
    {"<u4", FREEACT_U32, 4}, {"<u2", FREEACT_U16, 2},
};

static inline size_t npy_elem_size(int dtype) {
    for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++)
        if (npy_types[i].dtype == dtype)
            return npy_types[i].size;
    return 0;
}

static inline size_t npy_count(const freeact_tensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}

/* Reads |path| into |t| (data malloc'ed; free(t->data)). Returns 0, or -1 after printing why. */
static inline int npy_read(const char *path, freeact_tensor *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    unsigned char pre[12];
    if (!f || fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        fprintf(stderr, "%s: not a .npy file\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    size_t hlen = pre[8] | (size_t)pre[9] << 8;
    if (pre[6] >= 2) { /* version 2: a 4-byte header length */
        if (fread(pre + 10, 1, 2, f) != 2) {
            fclose(f);
            return -1;
        }
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    char *h = malloc(hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen) {
        fprintf(stderr, "%s: truncated header\n", path);
        free(h);
        fclose(f);
        return -1;
    }
    h[hlen] = '\0';
    const char *d = strstr(h, "'descr':"), *o = strstr(h, "'fortran_order':"),
               *s = strstr(h, "'shape':");
    const char *q = d ? strchr(d + 8, '\'') : NULL; /* the descr string's opening quote */
    size_t size = 0;
    for (size_t i = 0; q && i < sizeof npy_types / sizeof *npy_types; i++)
        if (!strncmp(q + 1, npy_types[i].descr, 3) && q[4] == '\'') {
            t->dtype = npy_types[i].dtype;
            size = npy_types[i].size;
        }
    if (o) /* skip to the value */
        for (o += 16; *o == ' ';)
            o++;
    if (!size || !o || strncmp(o, "False", 5) != 0 || !s || !strchr(s, '(')) {
        fprintf(stderr, "%s: unsupported dtype or layout (%s)\n", path, h);
        free(h);
        fclose(f);
        return -1;
    }
    for (const char *p = strchr(s, '(') + 1; *p && *p != ')';) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        if (t->rank == FREEACT_MAX_RANK || v < 0) {
            fprintf(stderr, "%s: bad shape\n", path);
            free(h);
            fclose(f);
            return -1;
        }
        t->dims[t->rank++] = v;
        p = end;
    }
    free(h);
    size_t bytes = npy_count(t) * size;
    t->data = malloc(bytes ? bytes : 1);
    if (!t->data || fread(t->data, 1, bytes, f) != bytes) {
        fprintf(stderr, "%s: truncated data\n", path);
        free(t->data);
        t->data = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

/* Writes |t| to |path| as a version 1.0 .npy. Returns 0, or -1 after printing why. */
static inline int npy_write(const char *path, const freeact_tensor *t) {
    const char *descr = NULL;
    size_t size = 0;
    for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++)
        if (npy_types[i].dtype == t->dtype) {
            descr = npy_types[i].descr;
            size = npy_types[i].size;
        }
    if (!descr) {
        fprintf(stderr, "%s: dtype %d has no .npy form here\n", path, (int)t->dtype);
        return -1;
    }
    char h[256];
    int n = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->rank; i++)
        n += snprintf(h + n, sizeof h - (size_t)n, "%lld%s", (long long)t->dims[i],
                      t->rank == 1 || i + 1 < t->rank ? ", " : "");
    n += snprintf(h + n, sizeof h - (size_t)n, "), }");
    size_t total = 10 + (size_t)n + 1, pad = (64 - total % 64) % 64;
    size_t hl = (size_t)n + pad + 1;
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff),
                             (unsigned char)(hl >> 8)};
    fwrite(pre, 1, 10, f);
    fwrite(h, 1, (size_t)n, f);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', f);
    fputc('\n', f);
    fwrite(t->data, size, npy_count(t), f);
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

#endif
