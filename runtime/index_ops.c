/* Data-movement kernels driven by indices or offsets: Concat, Split, Slice, Gather,
 * GatherElements, Pad, Trilu. All copy whole elements (byte-sized dtypes; i4/u4 refused). */
#include <string.h>

#include "runtime/kernel_util.h"

static fa_status elem_size(const char *op, fa_dtype dt, size_t *out) {
    *out = fa_rt_elem_size(dt);
    return *out ? FA_OK : fa_rt_err_dtype(op, dt);
}

/* Product of dims [from, to). */
static uint64_t span(const fa_rt_tensor *t, int from, int to) {
    uint64_t n = 1;
    for (int i = from; i < to; i++)
        n *= (uint64_t)t->dims[i];
    return n;
}

fa_status fa_rt_concat(const fa_rt_tensor *const *ins, uint32_t n, int64_t axis, fa_rt_tensor *out,
                       fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (n == 0)
        return fa_rt_err("Concat", "needs at least one input");
    const fa_rt_tensor *x0 = ins[0];
    size_t es;
    int ax;
    FA_TRY(elem_size("Concat", x0->dtype, &es));
    FA_TRY(fa_rt_norm_axis("Concat", axis, x0->rank, &ax));
    int64_t dims[FA_MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    dims[ax] = 0;
    for (uint32_t k = 0; k < n; k++) {
        const fa_rt_tensor *t = ins[k];
        if (t->dtype != x0->dtype || t->rank != x0->rank)
            return fa_rt_err("Concat", "input %u has a different dtype or rank", k);
        for (int i = 0; i < t->rank; i++)
            if (i != ax && t->dims[i] != x0->dims[i])
                return fa_rt_err("Concat", "input %u: dim %d is %lld, expected %lld", k, i,
                                 (long long)t->dims[i], (long long)x0->dims[i]);
        dims[ax] += t->dims[ax];
    }
    FA_TRY(fa_rt_alloc_out("Concat", out, x0->dtype, x0->rank, dims, al));
    uint64_t outer = span(x0, 0, ax), orow = (uint64_t)dims[ax] * span(x0, ax + 1, x0->rank) * es;
    uint64_t col = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t row = span(ins[k], ax, ins[k]->rank) * es;
        for (uint64_t o = 0; o < outer && row; o++)
            memcpy((char *)out->data + o * orow + col, (const char *)ins[k]->data + o * row,
                   (size_t)row);
        col += row;
    }
    return FA_OK;
}

fa_status fa_rt_split(fa_rt_in x, int64_t axis, fa_rt_in split, fa_rt_tensor *outs, uint32_t nout,
                      fa_rt_al al) {
    for (uint32_t k = 0; k < nout; k++)
        memset(&outs[k], 0, sizeof outs[k]);
    size_t es;
    int ax;
    FA_TRY(elem_size("Split", x->dtype, &es));
    FA_TRY(fa_rt_norm_axis("Split", axis, x->rank, &ax));
    if (nout == 0 || nout > 4096)
        return fa_rt_err("Split", "bad number of outputs %u", nout);
    int64_t sizes[4096];
    int64_t d = x->dims[ax];
    if (split) {
        uint32_t ns;
        FA_TRY(fa_rt_read_ints("Split", "split", split, sizes, 4096, &ns));
        if (ns != nout)
            return fa_rt_err("Split", "split has %u entries for %u outputs", ns, nout);
        int64_t total = 0;
        for (uint32_t k = 0; k < ns; k++) {
            if (sizes[k] < 0 || sizes[k] > d)
                return fa_rt_err("Split", "bad split size %lld", (long long)sizes[k]);
            total += sizes[k];
        }
        if (total != d)
            return fa_rt_err("Split", "split sizes sum to %lld, axis has %lld", (long long)total,
                             (long long)d);
    } else {
        int64_t part = (d + (int64_t)nout - 1) / (int64_t)nout;
        for (uint32_t k = 0; k < nout; k++) {
            int64_t left = d - part * (int64_t)k;
            sizes[k] = left < 0 ? 0 : left < part ? left : part;
        }
    }
    uint64_t outer = span(x, 0, ax), inner = span(x, ax + 1, x->rank) * es;
    uint64_t irow = (uint64_t)d * inner, col = 0;
    for (uint32_t k = 0; k < nout; k++) {
        int64_t dims[FA_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[ax] = sizes[k];
        fa_status s = fa_rt_alloc_out("Split", &outs[k], x->dtype, x->rank, dims, al);
        if (s) {
            for (uint32_t j = 0; j < k; j++)
                fa_rt_tensor_free(&outs[j], al);
            return s;
        }
        uint64_t row = (uint64_t)sizes[k] * inner;
        for (uint64_t o = 0; o < outer && row; o++)
            memcpy((char *)outs[k].data + o * row, (const char *)x->data + o * irow + col,
                   (size_t)row);
        col += row;
    }
    return FA_OK;
}

fa_status fa_rt_slice(fa_rt_in x, fa_rt_in starts_t, fa_rt_in ends_t, fa_rt_in axes_t,
                      fa_rt_in steps_t, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    size_t es;
    FA_TRY(elem_size("Slice", x->dtype, &es));
    int64_t starts[FA_MAX_RANK], ends[FA_MAX_RANK], axes[FA_MAX_RANK], steps[FA_MAX_RANK];
    uint32_t ns, ne, na, nst;
    FA_TRY(fa_rt_read_ints("Slice", "starts", starts_t, starts, FA_MAX_RANK, &ns));
    FA_TRY(fa_rt_read_ints("Slice", "ends", ends_t, ends, FA_MAX_RANK, &ne));
    if (ne != ns)
        return fa_rt_err("Slice", "starts and ends differ in length");
    na = ns;
    if (axes_t) {
        FA_TRY(fa_rt_read_ints("Slice", "axes", axes_t, axes, FA_MAX_RANK, &na));
    } else {
        for (uint32_t i = 0; i < ns; i++)
            axes[i] = i;
    }
    nst = ns;
    if (steps_t) {
        FA_TRY(fa_rt_read_ints("Slice", "steps", steps_t, steps, FA_MAX_RANK, &nst));
    } else {
        for (uint32_t i = 0; i < ns; i++)
            steps[i] = 1;
    }
    if (na != ns || nst != ns)
        return fa_rt_err("Slice", "starts, ends, axes and steps differ in length");
    int64_t first[FA_MAX_RANK], step[FA_MAX_RANK], dims[FA_MAX_RANK];
    bool seen[FA_MAX_RANK] = {false};
    for (int i = 0; i < x->rank; i++) {
        first[i] = 0;
        step[i] = 1;
        dims[i] = x->dims[i];
    }
    for (uint32_t i = 0; i < ns; i++) {
        int a;
        FA_TRY(fa_rt_norm_axis("Slice", axes[i], x->rank, &a));
        if (seen[a])
            return fa_rt_err("Slice", "axis %d repeated", a);
        seen[a] = true;
        int64_t d = x->dims[a], s = starts[i], e = ends[i], st = steps[i];
        if (st == 0)
            return fa_rt_err("Slice", "step must be nonzero");
        if (s < 0)
            s += d;
        if (e < 0)
            e += d;
        if (st > 0) {
            s = s < 0 ? 0 : s > d ? d : s;
            e = e < 0 ? 0 : e > d ? d : e;
        } else {
            s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
        }
        int64_t cnt;
        if (st > 0)
            cnt = e > s ? (e - s + st - 1) / st : 0;
        else
            cnt = s > e ? (s - e + (-st) - 1) / (-st) : 0;
        first[a] = s;
        step[a] = st;
        dims[a] = cnt;
    }
    FA_TRY(fa_rt_alloc_out("Slice", out, x->dtype, x->rank, dims, al));
    int64_t xs[FA_MAX_RANK], ss[FA_MAX_RANK], base = 0;
    fa_rt_strides(x->rank, x->dims, xs);
    for (int d = 0; d < x->rank; d++) {
        base += first[d] * xs[d];
        ss[d] = step[d] * xs[d];
    }
    if (fa_rt_tensor_num_elements(out) > 0)
        fa_rt_strided_copy(out->data, (const char *)x->data + (size_t)base * es, x->rank, dims,
                           ss, es);
    return FA_OK;
}

static fa_status check_indices(const char *op, const fa_rt_tensor *t) {
    if (t->dtype != FA_DT_I64 && t->dtype != FA_DT_I32)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: indices must be i64 or i32, not %s", op,
                              fa_dtype_name(t->dtype));
    return FA_OK;
}

/* Index |i| of |t| checked against extent |d| (negative counts from the end). */
static fa_status load_index(const char *op, const fa_rt_tensor *t, uint64_t i, int64_t d,
                            int64_t *out) {
    int64_t v = fa_rt_load_i64(t->dtype, t->data, i);
    if (v < -d || v >= d)
        return fa_rt_err(op, "index %lld out of range for extent %lld", (long long)v, (long long)d);
    *out = v < 0 ? v + d : v;
    return FA_OK;
}

fa_status fa_rt_gather(fa_rt_in data, fa_rt_in indices, int64_t axis, fa_rt_tensor *out,
                       fa_rt_al al) {
    memset(out, 0, sizeof *out);
    size_t es;
    int ax;
    FA_TRY(elem_size("Gather", data->dtype, &es));
    FA_TRY(check_indices("Gather", indices));
    FA_TRY(fa_rt_norm_axis("Gather", axis, data->rank, &ax));
    int orank = data->rank - 1 + indices->rank;
    if (orank > FA_MAX_RANK)
        return fa_rt_err("Gather", "result rank %d exceeds %d", orank, FA_MAX_RANK);
    int64_t dims[FA_MAX_RANK];
    int r = 0;
    for (int i = 0; i < ax; i++)
        dims[r++] = data->dims[i];
    for (int i = 0; i < indices->rank; i++)
        dims[r++] = indices->dims[i];
    for (int i = ax + 1; i < data->rank; i++)
        dims[r++] = data->dims[i];
    uint64_t outer = span(data, 0, ax), inner = span(data, ax + 1, data->rank) * es;
    uint64_t ni = fa_rt_tensor_num_elements(indices), d = (uint64_t)data->dims[ax];
    for (uint64_t j = 0; j < ni; j++) { /* validate before allocating */
        int64_t v = 0;
        FA_TRY(load_index("Gather", indices, j, (int64_t)d, &v));
    }
    FA_TRY(fa_rt_alloc_out("Gather", out, data->dtype, orank, dims, al));
    char *dst = out->data;
    for (uint64_t o = 0; o < outer; o++)
        for (uint64_t j = 0; j < ni; j++) {
            int64_t v = fa_rt_load_i64(indices->dtype, indices->data, j);
            if (v < 0)
                v += (int64_t)d;
            if (inner)
                memcpy(dst, (const char *)data->data + (o * d + (uint64_t)v) * inner,
                       (size_t)inner);
            dst += inner;
        }
    return FA_OK;
}

fa_status fa_rt_gather_elements(fa_rt_in data, fa_rt_in indices, int64_t axis, fa_rt_tensor *out,
                                fa_rt_al al) {
    memset(out, 0, sizeof *out);
    size_t es;
    int ax;
    FA_TRY(elem_size("GatherElements", data->dtype, &es));
    FA_TRY(check_indices("GatherElements", indices));
    FA_TRY(fa_rt_norm_axis("GatherElements", axis, data->rank, &ax));
    if (indices->rank != data->rank)
        return fa_rt_err("GatherElements", "indices rank %d differs from data rank %d",
                         indices->rank, data->rank);
    for (int i = 0; i < data->rank; i++)
        if (i != ax && indices->dims[i] > data->dims[i])
            return fa_rt_err("GatherElements", "indices dim %d exceeds the data's", i);
    FA_TRY(fa_rt_alloc_out("GatherElements", out, data->dtype, indices->rank, indices->dims, al));
    uint64_t n = fa_rt_tensor_num_elements(indices);
    int64_t ds[FA_MAX_RANK], idx[FA_MAX_RANK] = {0};
    fa_rt_strides(data->rank, data->dims, ds);
    for (uint64_t o = 0; o < n; o++) {
        int64_t v = 0;
        fa_status s = load_index("GatherElements", indices, o, data->dims[ax], &v);
        if (s) {
            fa_rt_tensor_free(out, al);
            return s;
        }
        int64_t off = 0;
        for (int d = 0; d < data->rank; d++)
            off += (d == ax ? v : idx[d]) * ds[d];
        memcpy((char *)out->data + o * es, (const char *)data->data + (size_t)off * es, es);
        fa_rt_index_next(indices->rank, indices->dims, idx);
    }
    return FA_OK;
}

fa_status fa_rt_pad(fa_rt_in x, fa_rt_in pads_t, fa_rt_in value, fa_rt_in axes_t, const char *mode,
                    fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    size_t es;
    FA_TRY(elem_size("Pad", x->dtype, &es));
    enum { CONSTANT, REFLECT, EDGE, WRAP } m;
    if (!mode || !strcmp(mode, "constant"))
        m = CONSTANT;
    else if (!strcmp(mode, "reflect"))
        m = REFLECT;
    else if (!strcmp(mode, "edge"))
        m = EDGE;
    else if (!strcmp(mode, "wrap"))
        m = WRAP;
    else
        return fa_status_make(FA_STATUS_UNSUPPORTED, "Pad: unsupported mode '%s'", mode);
    int64_t pads[2 * FA_MAX_RANK], axes[FA_MAX_RANK], begin[FA_MAX_RANK] = {0},
                                                      end[FA_MAX_RANK] = {0};
    uint32_t np, na;
    FA_TRY(fa_rt_read_ints("Pad", "pads", pads_t, pads, 2 * FA_MAX_RANK, &np));
    if (axes_t) {
        FA_TRY(fa_rt_read_ints("Pad", "axes", axes_t, axes, FA_MAX_RANK, &na));
    } else {
        na = (uint32_t)x->rank;
        for (uint32_t i = 0; i < na; i++)
            axes[i] = i;
    }
    if (np != 2 * na)
        return fa_rt_err("Pad", "pads has %u entries, expected %u", np, 2 * na);
    for (uint32_t i = 0; i < na; i++) {
        int a;
        FA_TRY(fa_rt_norm_axis("Pad", axes[i], x->rank, &a));
        begin[a] = pads[i];
        end[a] = pads[i + na];
    }
    if (value && (value->dtype != x->dtype || fa_rt_tensor_num_elements(value) != 1))
        return fa_rt_err("Pad", "constant_value must be a scalar of the input's dtype");
    int64_t dims[FA_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        if (begin[i] > (int64_t)1 << 40 || end[i] > (int64_t)1 << 40)
            return fa_rt_err("Pad", "pad too large");
        dims[i] = x->dims[i] + begin[i] + end[i];
        if (dims[i] < 0)
            return fa_rt_err("Pad", "negative pads remove more than axis %d holds", i);
        if (m != CONSTANT && x->dims[i] == 0 && dims[i] > 0)
            return fa_rt_err("Pad", "cannot pad an empty axis in this mode");
    }
    FA_TRY(fa_rt_alloc_out("Pad", out, x->dtype, x->rank, dims, al));
    uint64_t n = fa_rt_tensor_num_elements(out);
    int64_t xs[FA_MAX_RANK], idx[FA_MAX_RANK] = {0};
    fa_rt_strides(x->rank, x->dims, xs);
    for (uint64_t o = 0; o < n; o++) {
        int64_t off = 0;
        bool inside = true;
        for (int d = 0; d < x->rank && inside; d++) {
            int64_t i = idx[d] - begin[d], len = x->dims[d];
            if (i < 0 || i >= len) {
                if (m == CONSTANT) {
                    inside = false;
                } else if (m == EDGE) {
                    i = i < 0 ? 0 : len - 1;
                } else if (m == WRAP) {
                    i = ((i % len) + len) % len;
                } else if (len == 1) {
                    i = 0;
                } else {
                    int64_t period = 2 * (len - 1);
                    i = ((i % period) + period) % period;
                    if (i >= len)
                        i = period - i;
                }
            }
            off += i * xs[d];
        }
        char *dst = (char *)out->data + o * es;
        if (inside)
            memcpy(dst, (const char *)x->data + (size_t)off * es, es);
        else if (value)
            memcpy(dst, value->data, es);
        fa_rt_index_next(x->rank, dims, idx);
    }
    return FA_OK;
}

fa_status fa_rt_trilu(fa_rt_in x, fa_rt_in k_t, bool upper, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    size_t es;
    FA_TRY(elem_size("Trilu", x->dtype, &es));
    if (x->rank < 2)
        return fa_rt_err("Trilu", "input must have rank >= 2");
    int64_t k = 0;
    if (k_t)
        FA_TRY(fa_rt_read_int_scalar("Trilu", "k", k_t, &k));
    FA_TRY(fa_rt_tensor_clone(out, x, al));
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    uint64_t nmat = span(x, 0, x->rank - 2);
    for (uint64_t b = 0; b < nmat; b++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                bool keep = upper ? j - i >= k : j - i <= k;
                if (!keep)
                    memset((char *)out->data +
                               ((b * (uint64_t)rows + (uint64_t)i) * (uint64_t)cols + (uint64_t)j) *
                                   es,
                           0, es);
            }
    return FA_OK;
}
