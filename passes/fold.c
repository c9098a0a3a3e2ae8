/* Constant evaluation of small integer tensors for canonicalize (see fold.h): ONNX semantics for
 * the shape-arithmetic ops, computed in int64 with every overflow refusing the fold. */
#include <string.h>

#include "passes/fold.h"

bool fa_fold_dtype_ok(fa_dtype dt) {
    switch (dt) {
    case FA_DT_I64:
    case FA_DT_I32:
    case FA_DT_I16:
    case FA_DT_I8:
    case FA_DT_U32:
    case FA_DT_U16:
    case FA_DT_U8:
    case FA_DT_BOOL: return true;
    default: return false;
    }
}

static bool fits(fa_dtype dt, int64_t v) {
    switch (dt) {
    case FA_DT_I64: return true;
    case FA_DT_I32: return v >= INT32_MIN && v <= INT32_MAX;
    case FA_DT_I16: return v >= INT16_MIN && v <= INT16_MAX;
    case FA_DT_I8: return v >= INT8_MIN && v <= INT8_MAX;
    case FA_DT_U32: return v >= 0 && v <= (int64_t)UINT32_MAX;
    case FA_DT_U16: return v >= 0 && v <= UINT16_MAX;
    case FA_DT_U8: return v >= 0 && v <= UINT8_MAX;
    case FA_DT_BOOL: return v == 0 || v == 1;
    default: return false;
    }
}

/* Element count of a static type if it is at most FA_FOLD_MAX_ELEMS; false otherwise. */
static bool small_count(const fa_type *t, uint32_t *out_n) {
    if (!fa_type_is_static(t))
        return false;
    uint64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        uint64_t d = (uint64_t)t->dims[i].value;
        if (d == 0) {
            n = 0;
            break;
        }
        if (d > FA_FOLD_MAX_ELEMS || n * d > FA_FOLD_MAX_ELEMS)
            return false;
        n *= d;
    }
    *out_n = (uint32_t)n;
    return true;
}

bool fa_fold_read_const(const fa_value *v, fa_fold_tensor *out) {
    if (!v || v->kind != FA_VALUE_CONST || !v->tensor || !fa_fold_dtype_ok(v->type.dtype))
        return false;
    const fa_tensor *t = v->tensor;
    uint32_t n;
    if (!small_count(&t->type, &n))
        return false;
    if (t->nbytes != (uint64_t)n * (fa_dtype_bits(t->type.dtype) / 8))
        return false;
    out->type = t->type;
    out->n = n;
    const void *d = t->data;
    for (uint32_t i = 0; i < n; i++) {
        switch (t->type.dtype) {
        case FA_DT_I64: {
            int64_t x;
            memcpy(&x, (const char *)d + 8 * i, 8);
            out->v[i] = x;
            break;
        }
        case FA_DT_I32: {
            int32_t x;
            memcpy(&x, (const char *)d + 4 * i, 4);
            out->v[i] = x;
            break;
        }
        case FA_DT_U32: {
            uint32_t x;
            memcpy(&x, (const char *)d + 4 * i, 4);
            out->v[i] = x;
            break;
        }
        case FA_DT_I16: {
            int16_t x;
            memcpy(&x, (const char *)d + 2 * i, 2);
            out->v[i] = x;
            break;
        }
        case FA_DT_U16: {
            uint16_t x;
            memcpy(&x, (const char *)d + 2 * i, 2);
            out->v[i] = x;
            break;
        }
        case FA_DT_I8: out->v[i] = ((const int8_t *)d)[i]; break;
        case FA_DT_U8: out->v[i] = ((const uint8_t *)d)[i]; break;
        case FA_DT_BOOL: out->v[i] = ((const uint8_t *)d)[i] != 0; break;
        default: return false;
        }
    }
    return true;
}

uint64_t fa_fold_write_bytes(const fa_fold_tensor *t, void *buf) {
    unsigned size = fa_dtype_bits(t->type.dtype) / 8;
    char *p = buf;
    for (uint32_t i = 0; i < t->n; i++) {
        int64_t v = t->v[i];
        switch (t->type.dtype) {
        case FA_DT_I64: memcpy(p + 8 * i, &v, 8); break;
        case FA_DT_I32: {
            int32_t x = (int32_t)v;
            memcpy(p + 4 * i, &x, 4);
            break;
        }
        case FA_DT_U32: {
            uint32_t x = (uint32_t)v;
            memcpy(p + 4 * i, &x, 4);
            break;
        }
        case FA_DT_I16: {
            int16_t x = (int16_t)v;
            memcpy(p + 2 * i, &x, 2);
            break;
        }
        case FA_DT_U16: {
            uint16_t x = (uint16_t)v;
            memcpy(p + 2 * i, &x, 2);
            break;
        }
        case FA_DT_I8: ((int8_t *)p)[i] = (int8_t)v; break;
        case FA_DT_U8:
        case FA_DT_BOOL: ((uint8_t *)p)[i] = (uint8_t)v; break;
        default: FA_UNREACHABLE();
        }
    }
    return (uint64_t)size * t->n;
}

/* ---- helpers ---- */

static void set_shape(fa_fold_tensor *out, fa_dtype dt, int rank, const int64_t *dims) {
    out->type = fa_type_make(dt, rank, dims);
}

static bool finish(fa_fold_tensor *out) {
    uint32_t n;
    if (!small_count(&out->type, &n))
        return false;
    out->n = n;
    for (uint32_t i = 0; i < n; i++)
        if (!fits(out->type.dtype, out->v[i]))
            return false;
    return true;
}

static const fa_value *operand(const fa_node *n, uint32_t i) {
    return i < n->num_operands ? n->operands[i] : NULL;
}

/* Normalizes axis |a| against |rank| (negative counts from the end); false if out of range. */
static bool norm_axis(int64_t a, int rank, int *out) {
    if (a < 0)
        a += rank;
    if (a < 0 || a >= rank)
        return false;
    *out = (int)a;
    return true;
}

/* The axes list of unsqueeze/squeeze/reduce_*: operand 1 if present (must be a constant),
 * else the "axes" attribute. *out_k = 0 if neither gives any. */
static bool read_axes(const fa_node *n, int64_t *axes, uint32_t *out_k) {
    *out_k = 0;
    if (operand(n, 1)) {
        fa_fold_tensor t;
        if (!fa_fold_read_const(operand(n, 1), &t) || t.type.rank > 1 || t.n > FA_MAX_RANK ||
            (t.type.dtype != FA_DT_I64 && t.type.dtype != FA_DT_I32))
            return false;
        memcpy(axes, t.v, sizeof *axes * t.n);
        *out_k = t.n;
        return true;
    }
    const fa_attr *a = fa_node_attr(n, "axes");
    if (a && a->kind == FA_ATTR_INTS) {
        if (a->u.ints.n > FA_MAX_RANK)
            return false;
        memcpy(axes, a->u.ints.v, sizeof *axes * a->u.ints.n);
        *out_k = a->u.ints.n;
    }
    return true;
}

/* Row-major flat index into |in| of output element |flat| of broadcast shape |out|. */
static uint32_t broadcast_src(const fa_type *out, const fa_type *in, uint32_t flat) {
    uint64_t idx = 0, stride = 1;
    for (int k = out->rank - 1, j = in->rank - 1; k >= 0; k--, j--) {
        uint64_t d = (uint64_t)out->dims[k].value;
        uint64_t c = flat % d;
        flat = (uint32_t)(flat / d);
        if (j >= 0) {
            uint64_t e = (uint64_t)in->dims[j].value;
            idx += (e == 1 ? 0 : c) * stride;
            stride *= e;
        }
    }
    return (uint32_t)idx;
}

static bool broadcast_type(const fa_type *a, const fa_type *b, fa_type *out) {
    fa_status s = fa_shape_broadcast(a, b, out);
    if (s) {
        fa_status_free(s);
        return false;
    }
    return fa_type_is_static(out);
}

static bool is_index_dtype(fa_dtype dt) { return dt == FA_DT_I64 || dt == FA_DT_I32; }

/* ---- folders, one per op ---- */

/* The dims a `shape` node |n| selects: *out_len of them, from *out_first on, in its operand's
 * type (start/end clamped as ONNX does). False if the operand's rank is unknown. */
static bool shape_selection(const fa_node *n, const fa_type **out_t, int64_t *out_first,
                            int64_t *out_len) {
    const fa_value *x = operand(n, 0);
    if (!x || x->type.rank < 0)
        return false;
    int64_t rank = x->type.rank;
    int64_t start = fa_node_attr_int(n, "start", 0), end = fa_node_attr_int(n, "end", rank);
    if (start < 0)
        start += rank;
    if (end < 0)
        end += rank;
    start = start < 0 ? 0 : start > rank ? rank : start;
    end = end < 0 ? 0 : end > rank ? rank : end;
    *out_t = &x->type;
    *out_first = start;
    *out_len = end > start ? end - start : 0;
    return true;
}

/* Only the selected dims must be static: shape(f32[B,T,256]) {start = 2} is [256]. */
static bool fold_shape(const fa_node *n, fa_fold_tensor *out) {
    const fa_type *t;
    int64_t first, len;
    if (!shape_selection(n, &t, &first, &len))
        return false;
    for (int64_t i = 0; i < len; i++) {
        if (!fa_dim_is_static(t->dims[first + i]))
            return false;
        out->v[i] = t->dims[first + i].value;
    }
    set_shape(out, FA_DT_I64, 1, &len);
    return finish(out);
}

static bool fold_size(const fa_node *n, fa_fold_tensor *out) {
    const fa_value *x = operand(n, 0);
    if (!x || !fa_type_is_static(&x->type))
        return false;
    int64_t count = 1;
    for (int i = 0; i < x->type.rank; i++)
        if (__builtin_mul_overflow(count, x->type.dims[i].value, &count))
            return false;
    out->v[0] = count;
    set_shape(out, FA_DT_I64, 0, NULL);
    return finish(out);
}

/* gather along axis 0 of 1-D data with constant indices. The data may also be the result of a
 * `shape` node whose picked dims are static, though others are not: gather(shape(x), 3) of
 * x: f32[B,4,T,64] is 64. */
static bool fold_gather(const fa_node *n, fa_fold_tensor *out) {
    fa_fold_tensor data, idx;
    const fa_value *dv = operand(n, 0);
    const fa_type *shape_of = NULL;
    int64_t first = 0, len;
    int axis;
    if (!fa_fold_read_const(operand(n, 1), &idx) || !is_index_dtype(idx.type.dtype) ||
        !norm_axis(fa_node_attr_int(n, "axis", 0), 1, &axis))
        return false;
    if (fa_fold_read_const(dv, &data)) {
        if (data.type.rank != 1)
            return false;
        len = data.type.dims[0].value;
    } else if (dv && dv->def && dv->def->op == FA_OP_SHAPE) {
        if (!shape_selection(dv->def, &shape_of, &first, &len))
            return false;
        data.type.dtype = FA_DT_I64;
    } else {
        return false;
    }
    for (uint32_t i = 0; i < idx.n; i++) {
        int64_t k = idx.v[i] < 0 ? idx.v[i] + len : idx.v[i];
        if (k < 0 || k >= len)
            return false;
        if (!shape_of) {
            out->v[i] = data.v[k];
        } else if (fa_dim_is_static(shape_of->dims[first + k])) {
            out->v[i] = shape_of->dims[first + k].value;
        } else {
            return false;
        }
    }
    out->type = idx.type;
    out->type.dtype = data.type.dtype;
    return finish(out);
}

static bool fold_concat(const fa_node *n, fa_fold_tensor *out) {
    if (n->num_operands == 0 || !operand(n, 0))
        return false;
    const fa_type *t0 = &n->operands[0]->type;
    int axis;
    if (t0->rank < 1 || !norm_axis(fa_node_attr_int(n, "axis", 0), t0->rank, &axis))
        return false;
    int64_t dims[FA_MAX_RANK];
    for (int i = 0; i < t0->rank; i++)
        dims[i] = t0->dims[i].value;
    dims[axis] = 0;
    for (uint32_t k = 0; k < n->num_operands; k++) {
        const fa_value *v = operand(n, k);
        if (!v || v->kind != FA_VALUE_CONST || v->type.dtype != t0->dtype ||
            v->type.rank != t0->rank || !fa_type_is_static(&v->type))
            return false;
        for (int i = 0; i < t0->rank; i++)
            if (i != axis && v->type.dims[i].value != dims[i])
                return false;
        dims[axis] += v->type.dims[axis].value;
        if (dims[axis] > FA_FOLD_MAX_ELEMS)
            return false;
    }
    set_shape(out, t0->dtype, t0->rank, dims);
    uint32_t total;
    if (!small_count(&out->type, &total))
        return false;
    uint64_t outer = 1;
    for (int i = 0; i < axis; i++)
        outer *= (uint64_t)dims[i];
    uint32_t w = 0;
    for (uint64_t o = 0; o < outer; o++) {
        for (uint32_t k = 0; k < n->num_operands; k++) {
            fa_fold_tensor t;
            if (!fa_fold_read_const(n->operands[k], &t))
                return false;
            uint32_t chunk = outer ? (uint32_t)(t.n / outer) : 0;
            for (uint32_t j = 0; j < chunk; j++)
                out->v[w++] = t.v[o * chunk + j];
        }
    }
    FA_ASSERT(w == total);
    return finish(out);
}

static bool fold_unsqueeze(const fa_node *n, fa_fold_tensor *out) {
    int64_t axes[FA_MAX_RANK];
    uint32_t k;
    if (!fa_fold_read_const(operand(n, 0), out) || !read_axes(n, axes, &k))
        return false;
    int rank = out->type.rank + (int)k;
    if (rank > FA_MAX_RANK)
        return false;
    bool inserted[FA_MAX_RANK] = {false};
    for (uint32_t i = 0; i < k; i++) {
        int a;
        if (!norm_axis(axes[i], rank, &a) || inserted[a])
            return false;
        inserted[a] = true;
    }
    int64_t dims[FA_MAX_RANK];
    for (int i = 0, j = 0; i < rank; i++)
        dims[i] = inserted[i] ? 1 : out->type.dims[j++].value;
    set_shape(out, out->type.dtype, rank, dims);
    return finish(out);
}

static bool fold_squeeze(const fa_node *n, fa_fold_tensor *out) {
    int64_t axes[FA_MAX_RANK];
    uint32_t k;
    if (!fa_fold_read_const(operand(n, 0), out) || !read_axes(n, axes, &k))
        return false;
    int rank = out->type.rank;
    bool drop[FA_MAX_RANK] = {false};
    for (int i = 0; i < rank && k == 0; i++)
        drop[i] = out->type.dims[i].value == 1;
    for (uint32_t i = 0; i < k; i++) {
        int a;
        if (!norm_axis(axes[i], rank, &a) || out->type.dims[a].value != 1)
            return false;
        drop[a] = true;
    }
    int64_t dims[FA_MAX_RANK];
    int r = 0;
    for (int i = 0; i < rank; i++)
        if (!drop[i])
            dims[r++] = out->type.dims[i].value;
    set_shape(out, out->type.dtype, r, dims);
    return finish(out);
}

static bool fold_slice(const fa_node *n, fa_fold_tensor *out) {
    fa_fold_tensor data, starts, ends, axes, steps;
    if (!fa_fold_read_const(operand(n, 0), &data) || !fa_fold_read_const(operand(n, 1), &starts) ||
        !fa_fold_read_const(operand(n, 2), &ends))
        return false;
    bool has_axes = operand(n, 3) != NULL, has_steps = operand(n, 4) != NULL;
    if ((has_axes && !fa_fold_read_const(operand(n, 3), &axes)) ||
        (has_steps && !fa_fold_read_const(operand(n, 4), &steps)))
        return false;
    uint32_t k = starts.n;
    if (starts.type.rank != 1 || ends.n != k || (has_axes && axes.n != k) ||
        (has_steps && steps.n != k) || k > (uint32_t)data.type.rank)
        return false;
    int rank = data.type.rank;
    int64_t first[FA_MAX_RANK], step[FA_MAX_RANK], count[FA_MAX_RANK];
    bool seen[FA_MAX_RANK] = {false};
    for (int i = 0; i < rank; i++) {
        first[i] = 0;
        step[i] = 1;
        count[i] = data.type.dims[i].value;
    }
    for (uint32_t i = 0; i < k; i++) {
        int a;
        if (!norm_axis(has_axes ? axes.v[i] : (int64_t)i, rank, &a) || seen[a])
            return false;
        seen[a] = true;
        int64_t d = data.type.dims[a].value, s = starts.v[i], e = ends.v[i];
        int64_t st = has_steps ? steps.v[i] : 1;
        if (st == 0 || st == INT64_MIN)
            return false;
        if (s < 0)
            s += d;
        if (e < 0)
            e += d;
        if (st > 0) {
            s = s < 0 ? 0 : s > d ? d : s;
            e = e < 0 ? 0 : e > d ? d : e;
            count[a] = e > s ? (e - s - 1) / st + 1 : 0;
        } else {
            s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            count[a] = s > e ? (s - e - 1) / -st + 1 : 0;
        }
        first[a] = s;
        step[a] = st;
    }
    set_shape(out, data.type.dtype, rank, count);
    uint32_t total;
    if (!small_count(&out->type, &total))
        return false;
    for (uint32_t o = 0; o < total; o++) {
        uint64_t rest = o, src = 0, stride = 1;
        for (int a = rank - 1; a >= 0; a--) {
            uint64_t c = rest % (uint64_t)count[a];
            rest /= (uint64_t)count[a];
            src += (uint64_t)(first[a] + (int64_t)c * step[a]) * stride;
            stride *= (uint64_t)data.type.dims[a].value;
        }
        out->v[o] = data.v[src];
    }
    return finish(out);
}

static bool fold_cast(const fa_node *n, fa_fold_tensor *out) {
    int64_t to = fa_node_attr_int(n, "to", FA_DT_INVALID);
    if (to <= FA_DT_INVALID || to >= FA_DT_COUNT || !fa_fold_dtype_ok((fa_dtype)to) ||
        !fa_fold_read_const(operand(n, 0), out))
        return false;
    out->type.dtype = (fa_dtype)to;
    if (to == FA_DT_BOOL)
        for (uint32_t i = 0; i < out->n; i++)
            out->v[i] = out->v[i] != 0;
    return finish(out); /* values that do not fit |to| refuse the fold */
}

/* add, sub, mul, div, equal: elementwise over two broadcast constants. */
static bool fold_binary(const fa_node *n, fa_fold_tensor *out) {
    fa_fold_tensor a, b;
    if (!fa_fold_read_const(operand(n, 0), &a) || !fa_fold_read_const(operand(n, 1), &b) ||
        a.type.dtype != b.type.dtype || !broadcast_type(&a.type, &b.type, &out->type))
        return false;
    uint32_t total;
    if (!small_count(&out->type, &total))
        return false;
    if (n->op == FA_OP_EQUAL)
        out->type.dtype = FA_DT_BOOL;
    else if (a.type.dtype == FA_DT_BOOL)
        return false;
    for (uint32_t i = 0; i < total; i++) {
        int64_t x = a.v[broadcast_src(&out->type, &a.type, i)];
        int64_t y = b.v[broadcast_src(&out->type, &b.type, i)];
        int64_t r;
        bool overflow = false;
        switch (n->op) {
        case FA_OP_ADD: overflow = __builtin_add_overflow(x, y, &r); break;
        case FA_OP_SUB: overflow = __builtin_sub_overflow(x, y, &r); break;
        case FA_OP_MUL: overflow = __builtin_mul_overflow(x, y, &r); break;
        case FA_OP_DIV: /* integer division truncates toward zero */
            if (y == 0 || (x == INT64_MIN && y == -1))
                return false;
            r = x / y;
            break;
        case FA_OP_EQUAL: r = x == y; break;
        default: return false;
        }
        if (overflow)
            return false;
        out->v[i] = r;
    }
    return finish(out);
}

static bool fold_where(const fa_node *n, fa_fold_tensor *out) {
    fa_fold_tensor c, x, y;
    fa_type t;
    if (!fa_fold_read_const(operand(n, 0), &c) || !fa_fold_read_const(operand(n, 1), &x) ||
        !fa_fold_read_const(operand(n, 2), &y) || c.type.dtype != FA_DT_BOOL ||
        x.type.dtype != y.type.dtype || !broadcast_type(&c.type, &x.type, &t) ||
        !broadcast_type(&t, &y.type, &out->type))
        return false;
    out->type.dtype = x.type.dtype;
    uint32_t total;
    if (!small_count(&out->type, &total))
        return false;
    for (uint32_t i = 0; i < total; i++)
        out->v[i] = c.v[broadcast_src(&out->type, &c.type, i)]
                        ? x.v[broadcast_src(&out->type, &x.type, i)]
                        : y.v[broadcast_src(&out->type, &y.type, i)];
    return finish(out);
}

static bool fold_range(const fa_node *n, fa_fold_tensor *out) {
    fa_fold_tensor s, l, d;
    if (!fa_fold_read_const(operand(n, 0), &s) || !fa_fold_read_const(operand(n, 1), &l) ||
        !fa_fold_read_const(operand(n, 2), &d) || s.n != 1 || l.n != 1 || d.n != 1 ||
        s.type.dtype != l.type.dtype || s.type.dtype != d.type.dtype ||
        s.type.dtype == FA_DT_BOOL || d.v[0] == 0)
        return false;
    int64_t start = s.v[0], delta = d.v[0], diff, count = 0;
    if (__builtin_sub_overflow(l.v[0], start, &diff))
        return false;
    if (diff != 0 && (diff > 0) == (delta > 0))
        count = diff / delta + (diff % delta != 0);
    if (count > FA_FOLD_MAX_ELEMS)
        return false;
    for (int64_t i = 0; i < count; i++)
        out->v[i] = start + i * delta; /* stays between start and limit: no overflow */
    set_shape(out, s.type.dtype, 1, &count);
    return finish(out);
}

/* reduce_prod and reduce_sum. */
static bool fold_reduce(const fa_node *n, fa_fold_tensor *out) {
    fa_fold_tensor x;
    int64_t axes[FA_MAX_RANK];
    uint32_t k;
    if (!fa_fold_read_const(operand(n, 0), &x) || !read_axes(n, axes, &k) ||
        x.type.dtype == FA_DT_BOOL)
        return false;
    bool keepdims = fa_node_attr_int(n, "keepdims", 1) != 0;
    if (k == 0 && fa_node_attr_int(n, "noop_with_empty_axes", 0) != 0) {
        *out = x;
        return finish(out);
    }
    int rank = x.type.rank;
    bool reduced[FA_MAX_RANK] = {false};
    for (int i = 0; i < rank && k == 0; i++)
        reduced[i] = true;
    for (uint32_t i = 0; i < k; i++) {
        int a;
        if (!norm_axis(axes[i], rank, &a))
            return false;
        reduced[a] = true;
    }
    int64_t kept[FA_MAX_RANK], dims[FA_MAX_RANK];
    int r = 0;
    for (int i = 0; i < rank; i++) {
        kept[i] = reduced[i] ? 1 : x.type.dims[i].value;
        if (keepdims || !reduced[i])
            dims[r++] = kept[i];
    }
    set_shape(out, x.type.dtype, r, dims);
    uint32_t total;
    if (!small_count(&out->type, &total))
        return false;
    bool prod = n->op == FA_OP_REDUCE_PROD;
    for (uint32_t i = 0; i < total; i++)
        out->v[i] = prod ? 1 : 0;
    for (uint32_t i = 0; i < x.n; i++) {
        /* Output index: the input index with reduced coordinates set to 0. */
        uint64_t rest = i, o = 0, stride = 1;
        for (int a = rank - 1; a >= 0; a--) {
            uint64_t d = (uint64_t)x.type.dims[a].value;
            uint64_t c = rest % d;
            rest /= d;
            if (!reduced[a]) {
                o += c * stride;
                stride *= (uint64_t)kept[a];
            }
        }
        int64_t *acc = &out->v[o];
        if (prod ? __builtin_mul_overflow(*acc, x.v[i], acc)
                 : __builtin_add_overflow(*acc, x.v[i], acc))
            return false;
    }
    return finish(out);
}

bool fa_fold_eval_node(const fa_node *n, fa_fold_tensor *out) {
    if (n->num_results != 1)
        return false;
    memset(&out->type, 0, sizeof out->type);
    out->n = 0;
    switch (n->op) {
    case FA_OP_SHAPE: return fold_shape(n, out);
    case FA_OP_SIZE: return fold_size(n, out);
    case FA_OP_GATHER: return fold_gather(n, out);
    case FA_OP_CONCAT: return fold_concat(n, out);
    case FA_OP_UNSQUEEZE: return fold_unsqueeze(n, out);
    case FA_OP_SQUEEZE: return fold_squeeze(n, out);
    case FA_OP_SLICE: return fold_slice(n, out);
    case FA_OP_CAST: return fold_cast(n, out);
    case FA_OP_ADD:
    case FA_OP_SUB:
    case FA_OP_MUL:
    case FA_OP_DIV:
    case FA_OP_EQUAL: return fold_binary(n, out);
    case FA_OP_WHERE: return fold_where(n, out);
    case FA_OP_RANGE: return fold_range(n, out);
    case FA_OP_REDUCE_PROD:
    case FA_OP_REDUCE_SUM: return fold_reduce(n, out);
    default: return false;
    }
}
