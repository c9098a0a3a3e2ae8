/* Helpers shared by the reference kernels: errors, integer-tensor reads, axes, iteration. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "runtime/kernel_util.h"

fa_status fa_rt_err_dtype(const char *op, fa_dtype dt) {
    return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: unsupported dtype %s", op, fa_dtype_name(dt));
}

fa_status fa_rt_err(const char *op, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: %s", op, buf);
}

fa_status fa_rt_read_ints(const char *op, const char *what, const fa_rt_tensor *t, int64_t *out,
                          uint32_t max, uint32_t *out_n) {
    if (t->dtype != FA_DT_I64 && t->dtype != FA_DT_I32)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: %s must be i64 or i32, not %s", op, what,
                              fa_dtype_name(t->dtype));
    if (t->rank > 1)
        return fa_rt_err(op, "%s must be 1-D, got rank %d", what, t->rank);
    uint64_t n = fa_rt_tensor_num_elements(t);
    if (n > max)
        return fa_rt_err(op, "%s has %llu entries, at most %u allowed", what, (unsigned long long)n,
                         max);
    for (uint64_t i = 0; i < n; i++)
        out[i] = fa_rt_load_i64(t->dtype, t->data, i);
    *out_n = (uint32_t)n;
    return FA_OK;
}

fa_status fa_rt_read_int_scalar(const char *op, const char *what, const fa_rt_tensor *t,
                                int64_t *out) {
    if (!fa_dtype_is_int(t->dtype) || t->dtype == FA_DT_I4 || t->dtype == FA_DT_U4)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: %s must be an integer, not %s", op, what,
                              fa_dtype_name(t->dtype));
    if (fa_rt_tensor_num_elements(t) != 1)
        return fa_rt_err(op, "%s must have exactly one element", what);
    *out = fa_rt_load_i64(t->dtype, t->data, 0);
    return FA_OK;
}

fa_status fa_rt_norm_axis(const char *op, int64_t axis, int rank, int *out) {
    if (axis < -(int64_t)rank || axis >= rank)
        return fa_rt_err(op, "axis %lld out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return FA_OK;
}

void fa_rt_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

fa_status fa_rt_alloc_out(const char *op, fa_rt_tensor *out, fa_dtype dt, int rank,
                          const int64_t *dims, fa_rt_al al) {
    return fa_status_prefix(fa_rt_tensor_alloc(out, dt, rank, dims, al), "%s", op);
}

bool fa_rt_is_float(fa_dtype dt) {
    return dt == FA_DT_F32 || dt == FA_DT_F64 || dt == FA_DT_F16 || dt == FA_DT_BF16;
}

bool fa_rt_is_plain_int(fa_dtype dt) {
    switch (dt) {
    case FA_DT_I64:
    case FA_DT_I32:
    case FA_DT_I16:
    case FA_DT_I8:
    case FA_DT_U32:
    case FA_DT_U16:
    case FA_DT_U8: return true;
    default: return false;
    }
}

size_t fa_rt_elem_size(fa_dtype dt) { return fa_dtype_bits(dt) / 8; }

void fa_rt_strided_copy(void *dst, const void *src, int rank, const int64_t *dims,
                        const int64_t *strides, size_t es) {
    uint64_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= (uint64_t)dims[d];
    if (n == 0)
        return;
    if (rank == 0) {
        memcpy(dst, src, es);
        return;
    }
    /* The last dim is the inner loop; the outer index advances the source offset. */
    int64_t inner = dims[rank - 1], istride = strides[rank - 1];
    int64_t idx[FA_MAX_RANK] = {0}, off = 0;
    char *out = dst;
    const char *in = src;
    for (uint64_t done = 0; done < n; done += (uint64_t)inner) {
        const char *row = in + off * (int64_t)es;
        if (istride == 1) {
            memcpy(out, row, (size_t)inner * es);
        } else if (es == 4) {
            uint32_t *o = (uint32_t *)(void *)out;
            for (int64_t i = 0; i < inner; i++)
                memcpy(&o[i], row + i * istride * 4, 4);
        } else {
            for (int64_t i = 0; i < inner; i++)
                memcpy(out + i * (int64_t)es, row + i * istride * (int64_t)es, es);
        }
        out += (size_t)inner * es;
        for (int d = rank - 2; d >= 0; d--) {
            off += strides[d];
            if (++idx[d] < dims[d])
                break;
            off -= strides[d] * dims[d];
            idx[d] = 0;
        }
    }
}

bool fa_rt_index_next(int rank, const int64_t *dims, int64_t *idx) {
    for (int i = rank - 1; i >= 0; i--) {
        if (++idx[i] < dims[i])
            return true;
        idx[i] = 0;
    }
    return false;
}

/* Checks |t| (may be NULL) as a u8 token-type tensor with the dims of |x| but its last; |op|
 * names errors. */
fa_status fa_rt_check_token_types(const char *op, const fa_rt_tensor *tt, const fa_rt_tensor *x) {
    if (!tt)
        return FA_OK;
    if (tt->dtype != FA_DT_U8)
        return fa_rt_err(op, "tt has dtype %s, expected u8", fa_dtype_name(tt->dtype));
    bool ok = tt->rank == x->rank - 1;
    for (int i = 0; ok && i < tt->rank; i++)
        ok = tt->dims[i] == x->dims[i];
    if (!ok) {
        char a[128], b[128];
        return fa_rt_err(op, "tt %s does not match x %s without its last dim",
                         fa_rt_tensor_describe(tt, a, sizeof a),
                         fa_rt_tensor_describe(x, b, sizeof b));
    }
    return FA_OK;
}
