/* Index-driven kernels that build or update tensors: ScatterElements, ScatterND, GatherND,
 * OneHot, NonZero. Indices may be negative (counted from the end) and are bounds-checked. */
#include <string.h>

#include "runtime/kernel_util.h"

static fa_status index_at(const char *op, const fa_rt_tensor *t, uint64_t i, int64_t extent,
                          int64_t *out) {
    int64_t v = fa_rt_load_i64(t->dtype, t->data, i);
    if (v < -extent || v >= extent)
        return fa_rt_err(op, "index %lld out of range for extent %lld", (long long)v,
                         (long long)extent);
    *out = v < 0 ? v + extent : v;
    return FA_OK;
}

static fa_status check_index_dtype(const char *op, const fa_rt_tensor *t) {
    if (t->dtype != FA_DT_I64 && t->dtype != FA_DT_I32)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: indices must be i64 or i32, not %s", op,
                              fa_dtype_name(t->dtype));
    return FA_OK;
}

/* out[dst] = combine(out[dst], upd[src]) for one element. */
static void combine(fa_dtype dt, void *out, uint64_t dst, const void *upd, uint64_t src,
                    fa_rt_scatter_reduction red) {
    if (red == FA_RT_SCATTER_NONE) {
        size_t es = fa_rt_elem_size(dt);
        memcpy((char *)out + dst * es, (const char *)upd + src * es, es);
        return;
    }
    if (fa_rt_is_float(dt)) {
        double a = fa_rt_load_f64(dt, out, dst), b = fa_rt_load_f64(dt, upd, src);
        double r = red == FA_RT_SCATTER_ADD   ? a + b
                   : red == FA_RT_SCATTER_MUL ? a * b
                   : red == FA_RT_SCATTER_MAX ? (a > b ? a : b)
                                              : (a < b ? a : b);
        fa_rt_store_f64(dt, out, dst, r);
    } else {
        int64_t a = fa_rt_load_i64(dt, out, dst), b = fa_rt_load_i64(dt, upd, src);
        int64_t r = red == FA_RT_SCATTER_ADD   ? (int64_t)((uint64_t)a + (uint64_t)b)
                    : red == FA_RT_SCATTER_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
                    : red == FA_RT_SCATTER_MAX ? (a > b ? a : b)
                                               : (a < b ? a : b);
        fa_rt_store_i64(dt, out, dst, r);
    }
}

static fa_status check_scatter(const char *op, fa_rt_in data, fa_rt_in indices, fa_rt_in updates,
                               fa_rt_scatter_reduction red) {
    FA_TRY(check_index_dtype(op, indices));
    if (updates->dtype != data->dtype)
        return fa_rt_err(op, "updates dtype differs from data");
    if (fa_rt_elem_size(data->dtype) == 0 ||
        (red != FA_RT_SCATTER_NONE && !fa_rt_is_float(data->dtype) &&
         !fa_rt_is_plain_int(data->dtype)))
        return fa_rt_err_dtype(op, data->dtype);
    return FA_OK;
}

fa_status fa_rt_scatter_elements(fa_rt_in data, fa_rt_in indices, fa_rt_in updates, int64_t axis,
                                 fa_rt_scatter_reduction red, fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "ScatterElements";
    memset(out, 0, sizeof *out);
    int ax;
    FA_TRY(check_scatter(op, data, indices, updates, red));
    FA_TRY(fa_rt_norm_axis(op, axis, data->rank, &ax));
    if (indices->rank != data->rank || updates->rank != data->rank)
        return fa_rt_err(op, "data, indices and updates must have one rank");
    for (int i = 0; i < data->rank; i++)
        if (indices->dims[i] != updates->dims[i] || (i != ax && indices->dims[i] > data->dims[i]))
            return fa_rt_err(op, "indices and updates shapes do not fit the data");
    FA_TRY(fa_rt_tensor_clone(out, data, al));
    int64_t ds[FA_MAX_RANK], idx[FA_MAX_RANK] = {0};
    fa_rt_strides(data->rank, data->dims, ds);
    uint64_t n = fa_rt_tensor_num_elements(indices);
    for (uint64_t i = 0; i < n; i++) {
        int64_t v = 0;
        fa_status s = index_at(op, indices, i, data->dims[ax], &v);
        if (s) {
            fa_rt_tensor_free(out, al);
            return s;
        }
        uint64_t dst = 0;
        for (int d = 0; d < data->rank; d++)
            dst += (uint64_t)((d == ax ? v : idx[d]) * ds[d]);
        combine(data->dtype, out->data, dst, updates->data, i, red);
        fa_rt_index_next(indices->rank, indices->dims, idx);
    }
    return FA_OK;
}

/* Offset of the slice addressed by the index tuple starting at element |base| of |indices|. */
static fa_status tuple_offset(const char *op, const fa_rt_tensor *indices, uint64_t base, int k,
                              const fa_rt_tensor *data, int first_dim, const int64_t *ds,
                              uint64_t *out) {
    uint64_t off = 0;
    for (int j = 0; j < k; j++) {
        int64_t v = 0;
        FA_TRY(index_at(op, indices, base + (uint64_t)j, data->dims[first_dim + j], &v));
        off += (uint64_t)(v * ds[first_dim + j]);
    }
    *out = off;
    return FA_OK;
}

fa_status fa_rt_scatter_nd(fa_rt_in data, fa_rt_in indices, fa_rt_in updates,
                           fa_rt_scatter_reduction red, fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "ScatterND";
    memset(out, 0, sizeof *out);
    FA_TRY(check_scatter(op, data, indices, updates, red));
    if (indices->rank < 1)
        return fa_rt_err(op, "indices must have rank >= 1");
    int k = (int)indices->dims[indices->rank - 1];
    if (k < 1 || k > data->rank)
        return fa_rt_err(op, "index tuples of length %d for data of rank %d", k, data->rank);
    int urank = indices->rank - 1 + data->rank - k;
    bool ok = updates->rank == urank;
    for (int i = 0; ok && i < indices->rank - 1; i++)
        ok = updates->dims[i] == indices->dims[i];
    for (int i = k; ok && i < data->rank; i++)
        ok = updates->dims[indices->rank - 1 + i - k] == data->dims[i];
    if (!ok)
        return fa_rt_err(op, "updates shape does not match indices and data");
    int64_t ds[FA_MAX_RANK];
    fa_rt_strides(data->rank, data->dims, ds);
    uint64_t slice = 1, ntuples = fa_rt_tensor_num_elements(indices) / (uint64_t)k;
    for (int i = k; i < data->rank; i++)
        slice *= (uint64_t)data->dims[i];
    FA_TRY(fa_rt_tensor_clone(out, data, al));
    for (uint64_t t = 0; t < ntuples; t++) {
        uint64_t off;
        fa_status s = tuple_offset(op, indices, t * (uint64_t)k, k, data, 0, ds, &off);
        if (s) {
            fa_rt_tensor_free(out, al);
            return s;
        }
        for (uint64_t e = 0; e < slice; e++)
            combine(data->dtype, out->data, off + e, updates->data, t * slice + e, red);
    }
    return FA_OK;
}

fa_status fa_rt_gather_nd(fa_rt_in data, fa_rt_in indices, int64_t batch_dims, fa_rt_tensor *out,
                          fa_rt_al al) {
    const char *op = "GatherND";
    memset(out, 0, sizeof *out);
    FA_TRY(check_index_dtype(op, indices));
    size_t es = fa_rt_elem_size(data->dtype);
    if (!es)
        return fa_rt_err_dtype(op, data->dtype);
    int b = (int)batch_dims;
    if (indices->rank < 1 || batch_dims < 0 || b >= indices->rank || b >= data->rank)
        return fa_rt_err(op, "bad batch_dims %lld", (long long)batch_dims);
    int k = (int)indices->dims[indices->rank - 1];
    if (k < 1 || b + k > data->rank)
        return fa_rt_err(op, "index tuples of length %d do not fit data of rank %d", k, data->rank);
    uint64_t nbatch = 1;
    for (int i = 0; i < b; i++) {
        if (indices->dims[i] != data->dims[i])
            return fa_rt_err(op, "batch dim %d differs between data and indices", i);
        nbatch *= (uint64_t)data->dims[i];
    }
    int64_t dims[FA_MAX_RANK];
    int r = 0;
    for (int i = 0; i < indices->rank - 1; i++)
        dims[r++] = indices->dims[i];
    for (int i = b + k; i < data->rank; i++) {
        if (r >= FA_MAX_RANK)
            return fa_rt_err(op, "result rank too large");
        dims[r++] = data->dims[i];
    }
    int64_t ds[FA_MAX_RANK];
    fa_rt_strides(data->rank, data->dims, ds);
    uint64_t slice = 1, per_batch = 1, batch_stride = b > 0 ? (uint64_t)ds[b - 1] : 0;
    for (int i = b + k; i < data->rank; i++)
        slice *= (uint64_t)data->dims[i];
    for (int i = b; i < indices->rank - 1; i++)
        per_batch *= (uint64_t)indices->dims[i];
    FA_TRY(fa_rt_alloc_out(op, out, data->dtype, r, dims, al));
    for (uint64_t bt = 0; bt < nbatch; bt++)
        for (uint64_t t = 0; t < per_batch; t++) {
            uint64_t tuple = bt * per_batch + t, off;
            fa_status s = tuple_offset(op, indices, tuple * (uint64_t)k, k, data, b, ds, &off);
            if (s) {
                fa_rt_tensor_free(out, al);
                return s;
            }
            off += bt * batch_stride;
            memcpy((char *)out->data + tuple * slice * es, (const char *)data->data + off * es,
                   (size_t)(slice * es));
        }
    return FA_OK;
}

fa_status fa_rt_one_hot(fa_rt_in indices, fa_rt_in depth_t, fa_rt_in values, int64_t axis,
                        fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "OneHot";
    memset(out, 0, sizeof *out);
    size_t es = fa_rt_elem_size(values->dtype);
    if (!es || fa_rt_tensor_num_elements(values) != 2)
        return fa_rt_err(op, "values must hold [off_value, on_value]");
    if (!fa_rt_is_float(indices->dtype) && !fa_rt_is_plain_int(indices->dtype))
        return fa_rt_err_dtype(op, indices->dtype);
    if (fa_rt_tensor_num_elements(depth_t) != 1)
        return fa_rt_err(op, "depth must be a scalar");
    double depth_f = fa_rt_load_f64(depth_t->dtype, depth_t->data, 0);
    if (!(depth_f >= 1 && depth_f <= 1e9))
        return fa_rt_err(op, "bad depth %g", depth_f);
    int64_t depth = (int64_t)depth_f;
    int orank = indices->rank + 1, ax;
    if (orank > FA_MAX_RANK)
        return fa_rt_err(op, "result rank too large");
    FA_TRY(fa_rt_norm_axis(op, axis, orank, &ax));
    int64_t dims[FA_MAX_RANK];
    for (int i = 0, j = 0; i < orank; i++)
        dims[i] = i == ax ? depth : indices->dims[j++];
    FA_TRY(fa_rt_alloc_out(op, out, values->dtype, orank, dims, al));
    uint64_t n = fa_rt_tensor_num_elements(out), inner = 1;
    for (int i = ax + 1; i < orank; i++)
        inner *= (uint64_t)dims[i];
    for (uint64_t o = 0; o < n; o++) {
        uint64_t outer = o / (inner * (uint64_t)depth), d = (o / inner) % (uint64_t)depth;
        uint64_t src = outer * inner + o % inner;
        int64_t v = (int64_t)fa_rt_load_f64(indices->dtype, indices->data, src);
        if (v < 0)
            v += depth;
        memcpy((char *)out->data + o * es, (const char *)values->data + (v == (int64_t)d) * es, es);
    }
    return FA_OK;
}

fa_status fa_rt_non_zero(fa_rt_in x, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt) && !fa_rt_is_plain_int(dt) && dt != FA_DT_BOOL && dt != FA_DT_U64)
        return fa_rt_err_dtype("NonZero", dt);
    uint64_t n = fa_rt_tensor_num_elements(x), count = 0;
    for (uint64_t i = 0; i < n; i++)
        count += fa_rt_load_f64(dt, x->data, i) != 0;
    int64_t dims[2] = {x->rank, (int64_t)count};
    FA_TRY(fa_rt_alloc_out("NonZero", out, FA_DT_I64, 2, dims, al));
    int64_t idx[FA_MAX_RANK] = {0}, *y = out->data;
    uint64_t c = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (fa_rt_load_f64(dt, x->data, i) != 0) {
            for (int d = 0; d < x->rank; d++)
                y[(uint64_t)d * count + c] = idx[d];
            c++;
        }
        fa_rt_index_next(x->rank, x->dims, idx);
    }
    return FA_OK;
}
