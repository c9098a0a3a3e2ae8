/* ONNX TensorProto -> IR constants: dtype mapping, inline data (raw_data or the typed repeated
 * fields), external data files (confined to the model's folder), and test-data .pb files.
 * Every size comes from the file, so every one is checked before it is used. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/onnx.h"
#include "frontend/onnx_internal.h"
#include "ir/fileio.h"

static const struct {
    int code;
    const char *name;
    fa_dtype dt;
} dtype_map[] = {
    {ONNX__TENSOR_PROTO__DATA_TYPE__UNDEFINED, "UNDEFINED", FA_DT_INVALID},
    {ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, "FLOAT", FA_DT_F32},
    {ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, "UINT8", FA_DT_U8},
    {ONNX__TENSOR_PROTO__DATA_TYPE__INT8, "INT8", FA_DT_I8},
    {ONNX__TENSOR_PROTO__DATA_TYPE__UINT16, "UINT16", FA_DT_U16},
    {ONNX__TENSOR_PROTO__DATA_TYPE__INT16, "INT16", FA_DT_I16},
    {ONNX__TENSOR_PROTO__DATA_TYPE__INT32, "INT32", FA_DT_I32},
    {ONNX__TENSOR_PROTO__DATA_TYPE__INT64, "INT64", FA_DT_I64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__STRING, "STRING", FA_DT_INVALID},
    {ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, "BOOL", FA_DT_BOOL},
    {ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16, "FLOAT16", FA_DT_F16},
    {ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, "DOUBLE", FA_DT_F64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__UINT32, "UINT32", FA_DT_U32},
    {ONNX__TENSOR_PROTO__DATA_TYPE__UINT64, "UINT64", FA_DT_U64},
    {ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX64, "COMPLEX64", FA_DT_INVALID},
    {ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX128, "COMPLEX128", FA_DT_INVALID},
    {ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16, "BFLOAT16", FA_DT_BF16},
    {ONNX_DT_FLOAT8E4M3FN, "FLOAT8E4M3FN", FA_DT_INVALID},
    {ONNX_DT_FLOAT8E4M3FNUZ, "FLOAT8E4M3FNUZ", FA_DT_INVALID},
    {ONNX_DT_FLOAT8E5M2, "FLOAT8E5M2", FA_DT_INVALID},
    {ONNX_DT_FLOAT8E5M2FNUZ, "FLOAT8E5M2FNUZ", FA_DT_INVALID},
    {ONNX_DT_UINT4, "UINT4", FA_DT_U4},
    {ONNX_DT_INT4, "INT4", FA_DT_I4},
};

fa_dtype fa_onnx_dtype_to_fa(int64_t onnx_dtype) {
    for (size_t i = 0; i < sizeof dtype_map / sizeof dtype_map[0]; i++)
        if (dtype_map[i].code == onnx_dtype)
            return dtype_map[i].dt;
    return FA_DT_INVALID;
}

const char *fa_onnx_dtype_name(int64_t onnx_dtype, char *buf, size_t size) {
    for (size_t i = 0; i < sizeof dtype_map / sizeof dtype_map[0]; i++)
        if (dtype_map[i].code == onnx_dtype) {
            snprintf(buf, size, "%s", dtype_map[i].name);
            return buf;
        }
    snprintf(buf, size, "code %lld", (long long)onnx_dtype);
    return buf;
}

/* The static type of |tp| (dtype and dims), checked: supported dtype, rank, non-negative dims,
 * byte size without overflow. */
static fa_status tensor_type(const Onnx__TensorProto *tp, fa_type *out, uint64_t *out_nbytes) {
    char dbuf[32];
    int64_t code = tp->has_data_type ? tp->data_type : 0;
    fa_dtype dt = fa_onnx_dtype_to_fa(code);
    if (dt == FA_DT_INVALID)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "tensor dtype %s is not supported",
                              fa_onnx_dtype_name(code, dbuf, sizeof dbuf));
    if (tp->n_dims > FA_MAX_RANK)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "tensor rank %zu exceeds %d", tp->n_dims,
                              FA_MAX_RANK);
    for (size_t i = 0; i < tp->n_dims; i++)
        if (tp->dims[i] < 0)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "tensor dim %zu is negative (%lld)",
                                  i, (long long)tp->dims[i]);
    *out = fa_type_make(dt, (int)tp->n_dims, tp->dims);
    fa_status s = fa_type_num_bytes(out, out_nbytes);
    if (s)
        return fa_status_prefix(s, "tensor of dtype %s", fa_dtype_name(dt));
    return FA_OK;
}

/* The typed repeated field that holds |dt|'s data: its name and entry count. */
static const char *typed_field(const Onnx__TensorProto *tp, fa_dtype dt, size_t *out_count) {
    switch (dt) {
    case FA_DT_F32: *out_count = tp->n_float_data; return "float_data";
    case FA_DT_F64: *out_count = tp->n_double_data; return "double_data";
    case FA_DT_I64: *out_count = tp->n_int64_data; return "int64_data";
    case FA_DT_U32:
    case FA_DT_U64: *out_count = tp->n_uint64_data; return "uint64_data";
    default: *out_count = tp->n_int32_data; return "int32_data";
    }
}

/* Copies the typed repeated field that holds |t|'s data into a fresh buffer. The entry count is
 * checked before anything is allocated, so the allocation is bounded by the file's size. */
static fa_status decode_typed(const Onnx__TensorProto *tp, const fa_type *t, uint64_t nbytes,
                              void **out) {
    uint64_t n;
    FA_TRY(fa_type_num_elements(t, &n));
    size_t have;
    const char *field = typed_field(tp, t->dtype, &have);
    /* i4/u4: one int32 entry per packed byte. */
    uint64_t want = t->dtype == FA_DT_I4 || t->dtype == FA_DT_U4 ? nbytes : n;
    if (have != want)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "%s has %zu entries but the shape needs %llu", field, have,
                              (unsigned long long)want);
    unsigned char *buf = malloc(nbytes ? (size_t)nbytes : 1);
    if (!buf)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory for %llu bytes",
                              (unsigned long long)nbytes);
    unsigned width = fa_dtype_bits(t->dtype) / 8;
    switch (t->dtype) {
    case FA_DT_F32: memcpy(buf, tp->float_data, (size_t)nbytes); break;
    case FA_DT_F64: memcpy(buf, tp->double_data, (size_t)nbytes); break;
    case FA_DT_I64: memcpy(buf, tp->int64_data, (size_t)nbytes); break;
    case FA_DT_U64: memcpy(buf, tp->uint64_data, (size_t)nbytes); break;
    case FA_DT_U32:
        for (uint64_t i = 0; i < n; i++) {
            uint32_t v = (uint32_t)tp->uint64_data[i];
            memcpy(buf + 4 * i, &v, 4);
        }
        break;
    case FA_DT_I4:
    case FA_DT_U4:
        for (uint64_t i = 0; i < nbytes; i++)
            buf[i] = (unsigned char)tp->int32_data[i];
        break;
    default:
        /* int32_data carries every narrower type, one element per entry (f16/bf16 as bits). */
        for (uint64_t i = 0; i < n; i++) {
            int32_t v = tp->int32_data[i];
            if (width == 4) {
                memcpy(buf + 4 * i, &v, 4);
            } else if (width == 2) {
                uint16_t h = (uint16_t)v;
                memcpy(buf + 2 * i, &h, 2);
            } else {
                buf[i] = (unsigned char)v;
            }
        }
        break;
    }
    *out = buf;
    return FA_OK;
}

fa_status fa_onnx_tensor_decode(const Onnx__TensorProto *tp, fa_type *out_type, void **out_data,
                                uint64_t *out_nbytes, bool *out_owned) {
    uint64_t nbytes;
    FA_TRY(tensor_type(tp, out_type, &nbytes));
    *out_nbytes = nbytes;
    *out_data = NULL;
    *out_owned = false;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "external data is not allowed here");
    if (tp->segment)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "segmented tensors are not supported");
    if (tp->has_raw_data) {
        if (tp->raw_data.len != nbytes) {
            char buf[160];
            fa_type_format(out_type, buf, sizeof buf);
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "raw_data has %zu bytes but %s needs %llu", tp->raw_data.len,
                                  buf, (unsigned long long)nbytes);
        }
        *out_data = tp->raw_data.data;
        return FA_OK;
    }
    if (nbytes == 0)
        return FA_OK;
    FA_TRY(decode_typed(tp, out_type, nbytes, out_data));
    *out_owned = true;
    return FA_OK;
}

/* ---- external data --------------------------------------------------------------------------- */

/* Parses a decimal unsigned 64-bit number that is the whole of |s|. */
static bool parse_u64(const char *s, uint64_t *out) {
    if (!*s)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* A relative path without '..' components and without empty names. */
static bool location_is_safe(const char *loc) {
    if (!*loc || loc[0] == '/')
        return false;
    const char *p = loc;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += len;
        while (*p == '/')
            p++;
    }
    return true;
}

static fa_status import_external(fa_graph *g, const Onnx__TensorProto *tp, fa_onnx_ext *ext,
                                 const char *name, const fa_type *t, uint64_t nbytes,
                                 fa_value **out_value) {
    const char *location = NULL;
    uint64_t offset = 0, length = 0;
    bool has_length = false;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        const char *key = e->key ? e->key : "", *val = e->value ? e->value : "";
        if (strcmp(key, "location") == 0) {
            location = val;
        } else if (strcmp(key, "offset") == 0) {
            if (!parse_u64(val, &offset))
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                      "external data offset '%s' is not a number", val);
        } else if (strcmp(key, "length") == 0) {
            if (!parse_u64(val, &length))
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                      "external data length '%s' is not a number", val);
            has_length = true;
        }
        /* "checksum" and unknown keys are ignored. */
    }
    if (!location)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "external data without a location");
    if (!ext || !ext->dir)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "external data '%s' refused: the model's folder is not known",
                              location);
    if (!location_is_safe(location))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "external data location '%s' refused: it must be a relative path "
                              "without '..' inside the model's folder",
                              location);
    if (has_length && length != nbytes)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "external data length %llu does not match the tensor's %llu bytes",
                              (unsigned long long)length, (unsigned long long)nbytes);
    if (!ext->dir_real) {
        ext->dir_real = realpath(ext->dir, NULL);
        if (!ext->dir_real)
            return fa_status_make(FA_STATUS_IO, "%s: cannot resolve the model's folder: %s",
                                  ext->dir, strerror(errno));
    }
    size_t dlen = strlen(ext->dir), llen = strlen(location);
    char *full = malloc(dlen + llen + 2);
    if (!full)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    memcpy(full, ext->dir, dlen);
    full[dlen] = '/';
    memcpy(full + dlen + 1, location, llen + 1);
    fa_status s = FA_OK;
    char *real = realpath(full, NULL);
    if (!real) {
        s = fa_status_make(FA_STATUS_IO, "external data file '%s': %s", location, strerror(errno));
        goto done;
    }
    size_t rlen = strlen(ext->dir_real);
    bool inside = strncmp(real, ext->dir_real, rlen) == 0 &&
                  (real[rlen] == '/' || (rlen == 1 && ext->dir_real[0] == '/'));
    if (!inside) {
        s = fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                           "external data location '%s' refused: it resolves outside the model's "
                           "folder",
                           location);
        goto done;
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        s = fa_status_make(FA_STATUS_IO, "external data file '%s' is not a regular file",
                           location);
        goto done;
    }
    if (offset > (uint64_t)st.st_size || nbytes > (uint64_t)st.st_size - offset) {
        s = fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                           "external data file '%s' has %llu bytes, the tensor needs %llu at "
                           "offset %llu",
                           location, (unsigned long long)st.st_size, (unsigned long long)nbytes,
                           (unsigned long long)offset);
        goto done;
    }
    s = fa_graph_add_const_mapped(g, name, t, real, location, offset, out_value);
done:
    free(real);
    free(full);
    return s;
}

fa_status fa_onnx_tensor_import(fa_graph *g, const Onnx__TensorProto *tp, fa_onnx_ext *ext,
                                const char *name, fa_value **out_value,
                                const fa_tensor **out_tensor) {
    if (tp->has_data_location &&
        tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        fa_type t;
        uint64_t nbytes;
        FA_TRY(tensor_type(tp, &t, &nbytes));
        if (!name)
            return fa_status_make(FA_STATUS_UNSUPPORTED,
                                  "external data in a tensor attribute is not supported");
        return import_external(g, tp, ext, name, &t, nbytes, out_value);
    }
    fa_type t;
    void *data;
    uint64_t nbytes;
    bool owned;
    FA_TRY(fa_onnx_tensor_decode(tp, &t, &data, &nbytes, &owned));
    fa_status s;
    if (name)
        s = fa_graph_add_const(g, name, &t, data, nbytes, out_value);
    else
        s = fa_graph_make_tensor(g, &t, data, nbytes, out_tensor);
    if (owned)
        free(data);
    return s;
}

/* ---- test data files ------------------------------------------------------------------------- */

fa_status fa_onnx_read_tensor_file(const char *path, char **out_name, fa_type *out_type,
                                   void **out_data, uint64_t *out_nbytes) {
    char *file;
    size_t len;
    *out_name = NULL;
    *out_data = NULL;
    *out_nbytes = 0;
    FA_TRY(fa_file_read_all(path, &file, &len));
    fa_onnx_alloc alloc;
    fa_onnx_alloc_init(&alloc, (uint64_t)len * 256 + ((uint64_t)64 << 20));
    Onnx__TensorProto *tp =
        onnx__tensor_proto__unpack(&alloc.base, len, (const uint8_t *)file);
    free(file);
    if (!tp)
        return fa_status_make(FA_STATUS_PARSE,
                              "%s: not a valid ONNX tensor (protobuf parse failed)", path);
    fa_type t;
    void *data = NULL;
    uint64_t nbytes = 0;
    bool owned = false;
    fa_status s = fa_onnx_tensor_decode(tp, &t, &data, &nbytes, &owned);
    char *name = NULL, *copy = NULL;
    if (!s && tp->name && tp->name[0]) {
        name = strdup(tp->name);
        if (!name)
            s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    if (!s && !owned) {
        copy = malloc(nbytes ? (size_t)nbytes : 1);
        if (!copy)
            s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory for %llu bytes",
                               (unsigned long long)nbytes);
        else if (nbytes)
            memcpy(copy, data, (size_t)nbytes);
        data = copy;
        owned = true;
    }
    onnx__tensor_proto__free_unpacked(tp, &alloc.base);
    if (s) {
        if (owned)
            free(data);
        free(name);
        return fa_status_prefix(s, "%s", path);
    }
    *out_name = name;
    *out_type = t;
    *out_data = data;
    *out_nbytes = nbytes;
    return FA_OK;
}
