/* dtypes, dims and types: names, sizes and overflow-checked element and byte counts. */
#include <stdio.h>
#include <string.h>

#include "ir/ir.h"

static const struct {
    const char *name;
    unsigned bits;
} dtypes[FA_DT_COUNT] = {
    [FA_DT_INVALID] = {"invalid", 0}, [FA_DT_F32] = {"f32", 32},  [FA_DT_F16] = {"f16", 16},
    [FA_DT_BF16] = {"bf16", 16},      [FA_DT_F64] = {"f64", 64},  [FA_DT_I64] = {"i64", 64},
    [FA_DT_I32] = {"i32", 32},        [FA_DT_I16] = {"i16", 16},  [FA_DT_I8] = {"i8", 8},
    [FA_DT_U64] = {"u64", 64},        [FA_DT_U32] = {"u32", 32},  [FA_DT_U16] = {"u16", 16},
    [FA_DT_U8] = {"u8", 8},           [FA_DT_BOOL] = {"bool", 8}, [FA_DT_I4] = {"i4", 4},
    [FA_DT_U4] = {"u4", 4},
};

const char *fa_dtype_name(fa_dtype dt) {
    return (unsigned)dt < FA_DT_COUNT ? dtypes[dt].name : "invalid";
}

fa_dtype fa_dtype_from_name(const char *s, size_t len) {
    for (int i = 1; i < FA_DT_COUNT; i++)
        if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, s, len) == 0)
            return (fa_dtype)i;
    return FA_DT_INVALID;
}

unsigned fa_dtype_bits(fa_dtype dt) { return (unsigned)dt < FA_DT_COUNT ? dtypes[dt].bits : 0; }

bool fa_dtype_is_float(fa_dtype dt) {
    return dt == FA_DT_F32 || dt == FA_DT_F16 || dt == FA_DT_BF16 || dt == FA_DT_F64;
}

bool fa_dtype_is_int(fa_dtype dt) {
    return dt != FA_DT_INVALID && dt != FA_DT_BOOL && !fa_dtype_is_float(dt) && dt < FA_DT_COUNT;
}

fa_type fa_type_make(fa_dtype dt, int rank, const int64_t *dims) {
    fa_type t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.rank = rank;
    for (int i = 0; i < rank && i < FA_MAX_RANK; i++)
        t.dims[i].value = dims[i];
    return t;
}

const char *fa_type_format(const fa_type *t, char *buf, size_t size) {
    size_t k = (size_t)snprintf(buf, size, "%s[", fa_dtype_name(t->dtype));
    if (t->rank < 0) {
        if (k < size)
            snprintf(buf + k, size - k, "*]");
        return buf;
    }
    for (int i = 0; i < t->rank && k < size; i++) {
        const char *sep = i ? "," : "";
        if (t->dims[i].sym)
            k += (size_t)snprintf(buf + k, size - k, "%s%s", sep, t->dims[i].sym);
        else if (t->dims[i].value < 0)
            k += (size_t)snprintf(buf + k, size - k, "%s?", sep);
        else
            k += (size_t)snprintf(buf + k, size - k, "%s%lld", sep, (long long)t->dims[i].value);
    }
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

bool fa_dim_is_static(fa_dim d) { return !d.sym && d.value >= 0; }

bool fa_dim_equal(fa_dim a, fa_dim b) {
    if (a.sym || b.sym)
        return a.sym == b.sym;
    return a.value == b.value && a.value >= 0;
}

bool fa_type_is_static(const fa_type *t) {
    if (t->rank < 0)
        return false;
    for (int i = 0; i < t->rank; i++)
        if (!fa_dim_is_static(t->dims[i]))
            return false;
    return true;
}

bool fa_type_equal(const fa_type *a, const fa_type *b) {
    if (a->dtype != b->dtype || a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++) {
        if (a->dims[i].sym != b->dims[i].sym)
            return false;
        if (!a->dims[i].sym && a->dims[i].value != b->dims[i].value)
            return false;
    }
    return true;
}

fa_status fa_type_num_elements(const fa_type *t, uint64_t *out_n) {
    if (!fa_type_is_static(t))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "shape is not static");
    uint64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        uint64_t d = (uint64_t)t->dims[i].value;
        if (d != 0 && n > UINT64_MAX / d)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "shape element count overflows");
        n *= d;
    }
    *out_n = n;
    return FA_OK;
}

fa_status fa_type_num_bytes(const fa_type *t, uint64_t *out_bytes) {
    uint64_t n;
    FA_TRY(fa_type_num_elements(t, &n));
    unsigned bits = fa_dtype_bits(t->dtype);
    if (bits == 0)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "invalid dtype");
    if (n > (UINT64_MAX - 7) / bits || n * bits > ((uint64_t)1 << 62))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "shape byte size overflows");
    *out_bytes = (n * bits + 7) / 8;
    return FA_OK;
}
