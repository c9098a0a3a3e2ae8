/* Shape and layout kernels: Reshape, Transpose, Unsqueeze, Squeeze, Flatten, Shape, Size,
 * Expand, Tile, ConstantOfShape, Range, and the plain copy behind Identity. */
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"

fa_status fa_rt_copy(fa_rt_in x, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    return fa_rt_tensor_clone(out, x, al);
}

/* Copies |x|'s bytes into a new tensor of another shape with the same element count. */
static fa_status copy_reshaped(const char *op, fa_rt_in x, int rank, const int64_t *dims,
                               fa_rt_tensor *out, fa_rt_al al) {
    uint64_t n;
    FA_TRY(fa_status_prefix(fa_rt_shape_num_elements(rank, dims, &n), "%s", op));
    if (n != fa_rt_tensor_num_elements(x)) {
        char b[96];
        return fa_rt_err(op, "cannot reshape %s to %llu elements",
                         fa_rt_tensor_describe(x, b, sizeof b), (unsigned long long)n);
    }
    FA_TRY(fa_rt_alloc_out(op, out, x->dtype, rank, dims, al));
    if (x->nbytes)
        memcpy(out->data, x->data, (size_t)x->nbytes);
    return FA_OK;
}

fa_status fa_rt_reshape(fa_rt_in x, fa_rt_in shape, bool allowzero, fa_rt_tensor *out,
                        fa_rt_al al) {
    memset(out, 0, sizeof *out);
    int64_t dims[FA_MAX_RANK];
    uint32_t rank;
    FA_TRY(fa_rt_read_ints("Reshape", "shape", shape, dims, FA_MAX_RANK, &rank));
    int infer = -1;
    uint64_t known = 1;
    for (uint32_t i = 0; i < rank; i++) {
        if (dims[i] == 0 && !allowzero) {
            if ((int)i >= x->rank)
                return fa_rt_err("Reshape", "shape[%u] = 0 copies a dim the input lacks", i);
            dims[i] = x->dims[i];
        }
        if (dims[i] == -1) {
            if (infer >= 0)
                return fa_rt_err("Reshape", "more than one -1 in shape");
            infer = (int)i;
            continue;
        }
        if (dims[i] < 0)
            return fa_rt_err("Reshape", "invalid shape entry %lld", (long long)dims[i]);
        if (dims[i] != 0 && known > UINT64_MAX / (uint64_t)dims[i])
            return fa_rt_err("Reshape", "shape element count overflows");
        known *= (uint64_t)dims[i];
    }
    if (infer >= 0) {
        uint64_t n = fa_rt_tensor_num_elements(x);
        if (known == 0 || n % known != 0)
            return fa_rt_err("Reshape", "cannot infer the -1 dim of %llu elements",
                             (unsigned long long)n);
        dims[infer] = (int64_t)(n / known);
    }
    return copy_reshaped("Reshape", x, (int)rank, dims, out, al);
}

fa_status fa_rt_transpose(fa_rt_in x, const int64_t *perm_in, int nperm, fa_rt_tensor *out,
                          fa_rt_al al) {
    memset(out, 0, sizeof *out);
    int rank = x->rank;
    int perm[FA_MAX_RANK];
    bool seen[FA_MAX_RANK] = {false};
    if (nperm == 0) {
        for (int i = 0; i < rank; i++)
            perm[i] = rank - 1 - i;
    } else {
        if (nperm != rank)
            return fa_rt_err("Transpose", "perm has %d entries for rank %d", nperm, rank);
        for (int i = 0; i < rank; i++) {
            FA_TRY(fa_rt_norm_axis("Transpose", perm_in[i], rank, &perm[i]));
            if (seen[perm[i]])
                return fa_rt_err("Transpose", "perm is not a permutation");
            seen[perm[i]] = true;
        }
    }
    size_t es = fa_rt_elem_size(x->dtype);
    if (es == 0)
        return fa_rt_err_dtype("Transpose", x->dtype);
    int64_t odims[FA_MAX_RANK], istr[FA_MAX_RANK], pstr[FA_MAX_RANK];
    fa_rt_strides(rank, x->dims, istr);
    for (int i = 0; i < rank; i++) {
        odims[i] = x->dims[perm[i]];
        pstr[i] = istr[perm[i]];
    }
    FA_TRY(fa_rt_alloc_out("Transpose", out, x->dtype, rank, odims, al));
    fa_rt_strided_copy(out->data, x->data, rank, odims, pstr, es);
    return FA_OK;
}

fa_status fa_rt_unsqueeze(fa_rt_in x, const int64_t *axes, uint32_t naxes, fa_rt_tensor *out,
                          fa_rt_al al) {
    memset(out, 0, sizeof *out);
    int orank = x->rank + (int)naxes;
    if (orank > FA_MAX_RANK)
        return fa_rt_err("Unsqueeze", "result rank %d exceeds %d", orank, FA_MAX_RANK);
    bool ins[FA_MAX_RANK] = {false};
    for (uint32_t i = 0; i < naxes; i++) {
        int a;
        FA_TRY(fa_rt_norm_axis("Unsqueeze", axes[i], orank, &a));
        if (ins[a])
            return fa_rt_err("Unsqueeze", "axis %lld repeated", (long long)axes[i]);
        ins[a] = true;
    }
    int64_t dims[FA_MAX_RANK];
    for (int i = 0, j = 0; i < orank; i++)
        dims[i] = ins[i] ? 1 : x->dims[j++];
    return copy_reshaped("Unsqueeze", x, orank, dims, out, al);
}

fa_status fa_rt_squeeze(fa_rt_in x, const int64_t *axes, uint32_t naxes, fa_rt_tensor *out,
                        fa_rt_al al) {
    memset(out, 0, sizeof *out);
    bool drop[FA_MAX_RANK] = {false};
    if (!axes) {
        for (int i = 0; i < x->rank; i++)
            drop[i] = x->dims[i] == 1;
    }
    for (uint32_t i = 0; axes && i < naxes; i++) {
        int a;
        FA_TRY(fa_rt_norm_axis("Squeeze", axes[i], x->rank, &a));
        if (x->dims[a] != 1)
            return fa_rt_err("Squeeze", "cannot squeeze axis %d of extent %lld", a,
                             (long long)x->dims[a]);
        drop[a] = true;
    }
    int64_t dims[FA_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i])
            dims[r++] = x->dims[i];
    return copy_reshaped("Squeeze", x, r, dims, out, al);
}

fa_status fa_rt_flatten(fa_rt_in x, int64_t axis, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (axis < -(int64_t)x->rank || axis > x->rank)
        return fa_rt_err("Flatten", "axis %lld out of range for rank %d", (long long)axis, x->rank);
    int a = (int)(axis < 0 ? axis + x->rank : axis);
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < x->rank; i++)
        dims[i < a ? 0 : 1] *= x->dims[i];
    return copy_reshaped("Flatten", x, 2, dims, out, al);
}

fa_status fa_rt_shape(fa_rt_in x, int64_t start, int64_t end, bool has_end, fa_rt_tensor *out,
                      fa_rt_al al) {
    memset(out, 0, sizeof *out);
    int64_t r = x->rank;
    if (!has_end)
        end = r;
    if (start < 0)
        start += r;
    if (end < 0)
        end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int64_t n = end > start ? end - start : 0;
    FA_TRY(fa_rt_alloc_out("Shape", out, FA_DT_I64, 1, &n, al));
    for (int64_t i = 0; i < n; i++)
        ((int64_t *)out->data)[i] = x->dims[start + i];
    return FA_OK;
}

fa_status fa_rt_size(fa_rt_in x, fa_rt_tensor *out, fa_rt_al al) {
    FA_TRY(fa_rt_alloc_out("Size", out, FA_DT_I64, 0, NULL, al));
    *(int64_t *)out->data = (int64_t)fa_rt_tensor_num_elements(x);
    return FA_OK;
}

/* Copies |x| broadcast to (|rank|, |dims|) into |out| (already allocated). */
static void broadcast_into(fa_rt_in x, int rank, const int64_t *dims, fa_rt_tensor *out) {
    size_t es = fa_rt_elem_size(x->dtype);
    int64_t st[FA_MAX_RANK], idx[FA_MAX_RANK] = {0}, s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int xi = i - (rank - x->rank);
        int64_t d = xi >= 0 ? x->dims[xi] : 1;
        st[i] = d == 1 ? 0 : s;
        s *= d;
    }
    uint64_t n = fa_rt_tensor_num_elements(out);
    int64_t off = 0;
    for (uint64_t o = 0; o < n; o++) {
        memcpy((char *)out->data + o * es, (const char *)x->data + (size_t)off * es, es);
        for (int d = rank - 1; d >= 0; d--) {
            off += st[d];
            if (++idx[d] < dims[d])
                break;
            off -= st[d] * dims[d];
            idx[d] = 0;
        }
    }
}

fa_status fa_rt_expand(fa_rt_in x, fa_rt_in shape, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (fa_rt_elem_size(x->dtype) == 0)
        return fa_rt_err_dtype("Expand", x->dtype);
    int64_t sdims[FA_MAX_RANK];
    uint32_t sr;
    FA_TRY(fa_rt_read_ints("Expand", "shape", shape, sdims, FA_MAX_RANK, &sr));
    fa_rt_tensor st = fa_rt_tensor_view(FA_DT_I64, (int)sr, sdims, NULL, 0);
    for (uint32_t i = 0; i < sr; i++)
        if (sdims[i] < 0)
            return fa_rt_err("Expand", "negative shape entry %lld", (long long)sdims[i]);
    const fa_rt_tensor *ins[2] = {x, &st};
    int rank;
    int64_t dims[FA_MAX_RANK];
    FA_TRY(fa_rt_broadcast_shape("Expand", ins, 2, &rank, dims));
    FA_TRY(fa_rt_alloc_out("Expand", out, x->dtype, rank, dims, al));
    broadcast_into(x, rank, dims, out);
    return FA_OK;
}

fa_status fa_rt_tile(fa_rt_in x, fa_rt_in repeats, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    size_t es = fa_rt_elem_size(x->dtype);
    if (es == 0)
        return fa_rt_err_dtype("Tile", x->dtype);
    int64_t rep[FA_MAX_RANK], dims[FA_MAX_RANK];
    uint32_t nr;
    FA_TRY(fa_rt_read_ints("Tile", "repeats", repeats, rep, FA_MAX_RANK, &nr));
    if ((int)nr != x->rank)
        return fa_rt_err("Tile", "repeats has %u entries for rank %d", nr, x->rank);
    for (int i = 0; i < x->rank; i++) {
        if (rep[i] < 0)
            return fa_rt_err("Tile", "negative repeat %lld", (long long)rep[i]);
        if (rep[i] && x->dims[i] > INT64_MAX / rep[i])
            return fa_rt_err("Tile", "result shape overflows");
        dims[i] = x->dims[i] * rep[i];
    }
    FA_TRY(fa_rt_alloc_out("Tile", out, x->dtype, x->rank, dims, al));
    uint64_t n = fa_rt_tensor_num_elements(out);
    int64_t idx[FA_MAX_RANK] = {0}, xs[FA_MAX_RANK];
    fa_rt_strides(x->rank, x->dims, xs);
    for (uint64_t o = 0; o < n; o++) {
        int64_t off = 0;
        for (int d = 0; d < x->rank; d++)
            off += (idx[d] % x->dims[d]) * xs[d];
        memcpy((char *)out->data + o * es, (const char *)x->data + (size_t)off * es, es);
        fa_rt_index_next(x->rank, dims, idx);
    }
    return FA_OK;
}

fa_status fa_rt_constant_of_shape(fa_rt_in shape, fa_rt_in value, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    int64_t dims[FA_MAX_RANK];
    uint32_t r;
    FA_TRY(fa_rt_read_ints("ConstantOfShape", "shape", shape, dims, FA_MAX_RANK, &r));
    fa_dtype dt = value ? value->dtype : FA_DT_F32;
    size_t es = fa_rt_elem_size(dt);
    if (es == 0)
        return fa_rt_err_dtype("ConstantOfShape", dt);
    if (value && fa_rt_tensor_num_elements(value) != 1)
        return fa_rt_err("ConstantOfShape", "value must have exactly one element");
    FA_TRY(fa_rt_alloc_out("ConstantOfShape", out, dt, (int)r, dims, al));
    uint64_t n = fa_rt_tensor_num_elements(out);
    if (value)
        for (uint64_t i = 0; i < n; i++)
            memcpy((char *)out->data + i * es, value->data, es);
    return FA_OK;
}

fa_status fa_rt_range(fa_rt_in start, fa_rt_in limit, fa_rt_in delta, fa_rt_tensor *out,
                      fa_rt_al al) {
    memset(out, 0, sizeof *out);
    fa_dtype dt = start->dtype;
    if (limit->dtype != dt || delta->dtype != dt)
        return fa_rt_err("Range", "start, limit and delta must have one dtype");
    if (!fa_rt_is_float(dt) && !fa_rt_is_plain_int(dt))
        return fa_rt_err_dtype("Range", dt);
    if (fa_rt_tensor_num_elements(start) != 1 || fa_rt_tensor_num_elements(limit) != 1 ||
        fa_rt_tensor_num_elements(delta) != 1)
        return fa_rt_err("Range", "start, limit and delta must be scalars");
    int64_t n;
    if (fa_rt_is_float(dt)) {
        double s = fa_rt_load_f64(dt, start->data, 0), l = fa_rt_load_f64(dt, limit->data, 0);
        double d = fa_rt_load_f64(dt, delta->data, 0);
        double c = ceil((l - s) / d);
        if (d == 0 || isnan(c))
            return fa_rt_err("Range", "delta must be nonzero and finite");
        if (c > 1e12)
            return fa_rt_err("Range", "too many elements");
        n = c > 0 ? (int64_t)c : 0;
        FA_TRY(fa_rt_alloc_out("Range", out, dt, 1, &n, al));
        for (int64_t i = 0; i < n; i++)
            fa_rt_store_f64(dt, out->data, (uint64_t)i, s + (double)i * d);
    } else {
        int64_t s = fa_rt_load_i64(dt, start->data, 0), l = fa_rt_load_i64(dt, limit->data, 0);
        int64_t d = fa_rt_load_i64(dt, delta->data, 0);
        if (d == 0)
            return fa_rt_err("Range", "delta must be nonzero");
        double approx = ((double)l - (double)s) / (double)d;
        if (approx > 1e12)
            return fa_rt_err("Range", "too many elements");
        int64_t span;
        if (__builtin_sub_overflow(l, s, &span))
            return fa_rt_err("Range", "limit - start overflows");
        n = span / d + ((span % d) != 0 && ((span < 0) == (d < 0)));
        if (n < 0)
            n = 0;
        FA_TRY(fa_rt_alloc_out("Range", out, dt, 1, &n, al));
        for (int64_t i = 0; i < n; i++)
            fa_rt_store_i64(dt, out->data, (uint64_t)i, s + i * d);
    }
    return FA_OK;
}

/* Transposes |x| viewed with the 6-D shape |v| by |perm|, then gives the result |rank|/|dims|. */
static fa_status permute_view(const char *op, fa_rt_in x, const int64_t *v, const int64_t *perm,
                              int rank, const int64_t *dims, fa_rt_tensor *out, fa_rt_al al) {
    fa_rt_tensor view = *x;
    view.rank = 6;
    memcpy(view.dims, v, 6 * sizeof *v);
    FA_TRY(fa_status_prefix(fa_rt_transpose(&view, perm, 6, out, al), "%s", op));
    out->rank = rank;
    memcpy(out->dims, dims, (size_t)rank * sizeof *dims);
    return FA_OK;
}

fa_status fa_rt_depth_to_space(fa_rt_in x, int64_t b, bool crd, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (x->rank != 4 || b < 1 || b > (1 << 16) || x->dims[1] % (b * b))
        return fa_rt_err("DepthToSpace", "needs NCHW input with C divisible by blocksize^2");
    int64_t n = x->dims[0], c = x->dims[1] / (b * b), h = x->dims[2], w = x->dims[3];
    int64_t dims[4] = {n, c, h * b, w * b};
    if (crd) {
        int64_t v[6] = {n, c, b, b, h, w}, perm[6] = {0, 1, 4, 2, 5, 3};
        return permute_view("DepthToSpace", x, v, perm, 4, dims, out, al);
    }
    int64_t v[6] = {n, b, b, c, h, w}, perm[6] = {0, 3, 4, 1, 5, 2};
    return permute_view("DepthToSpace", x, v, perm, 4, dims, out, al);
}

fa_status fa_rt_space_to_depth(fa_rt_in x, int64_t b, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (x->rank != 4 || b < 1 || b > (1 << 16) || x->dims[2] % b || x->dims[3] % b)
        return fa_rt_err("SpaceToDepth", "needs NCHW input with H and W divisible by blocksize");
    int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2] / b, w = x->dims[3] / b;
    int64_t v[6] = {n, c, h, b, w, b}, perm[6] = {0, 3, 5, 1, 2, 4};
    int64_t dims[4] = {n, c * b * b, h, w};
    return permute_view("SpaceToDepth", x, v, perm, 4, dims, out, al);
}
