/* Shape rules for shape and data-movement ops (reshape, transpose, concat, gather, slice, ...)
 * and reductions, named in ir/ops.def. Conservative like ir/shape.c: unknown dims, never guesses. */
#include "ir/shape_rules.h"

#include <string.h>

/* ---- shape and data-movement rules -------------------------------------------------------- */

static fa_dim dim_unknown(void) {
    fa_dim d = {FA_DIM_UNKNOWN, NULL};
    return d;
}

static fa_dim dim_static(int64_t v) {
    fa_dim d = {v, NULL};
    return d;
}

static fa_type ranked_unknown(fa_dtype dt, int rank) {
    fa_type t = fa_shape_unknown_type(dt);
    t.rank = rank;
    for (int i = 0; i < rank; i++)
        t.dims[i] = dim_unknown();
    return t;
}

/* The values of a constant integer operand of rank 0 or 1 (i64 or i32), at most |max| of them.
 * False if the operand is absent, not a constant, or not such a tensor. */
static bool const_ints(const fa_node *n, uint32_t i, int64_t *out, int max, int *out_n) {
    if (i >= n->num_operands || !n->operands[i] || n->operands[i]->kind != FA_VALUE_CONST)
        return false;
    const fa_tensor *t = n->operands[i]->tensor;
    if (!t || t->type.rank > 1 || (t->type.dtype != FA_DT_I64 && t->type.dtype != FA_DT_I32))
        return false;
    uint64_t count;
    if (fa_type_num_elements(&t->type, &count) || count > (uint64_t)max)
        return false;
    for (uint64_t k = 0; k < count; k++) {
        if (t->type.dtype == FA_DT_I64) {
            memcpy(&out[k], (const char *)t->data + 8 * k, 8);
        } else {
            int32_t v;
            memcpy(&v, (const char *)t->data + 4 * k, 4);
            out[k] = v;
        }
    }
    *out_n = (int)count;
    return true;
}

/* Axes from attribute |attr| or, failing that, constant operand |operand|. *out_n = -1 when
 * neither gives them: absent (*out_known true) or not constant (*out_known false). */
static bool axes_of(const fa_node *n, const char *attr, uint32_t operand, int64_t *axes,
                    int *out_n) {
    const fa_attr *a = fa_node_attr(n, attr);
    if (a && a->kind == FA_ATTR_INTS) {
        if (a->u.ints.n > FA_MAX_RANK)
            return false;
        for (uint32_t i = 0; i < a->u.ints.n; i++)
            axes[i] = a->u.ints.v[i];
        *out_n = (int)a->u.ints.n;
        return true;
    }
    *out_n = -1;
    if (operand < n->num_operands && n->operands[operand])
        return const_ints(n, operand, axes, FA_MAX_RANK, out_n);
    return true;
}

/* Normalizes |axis| into [0, rank); error if out of range. */
static fa_status norm_axis(int64_t axis, int rank, int *out) {
    if (axis < -rank || axis >= rank)
        return fa_status_make(FA_STATUS_VERIFY, "axis %lld is out of range for rank %d",
                              (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return FA_OK;
}

/* The product of dims [lo, hi) if all static and it fits, else unknown. */
static fa_dim dims_product(const fa_type *t, int lo, int hi) {
    int64_t p = 1;
    for (int i = lo; i < hi; i++) {
        if (!fa_dim_is_static(t->dims[i]))
            return dim_unknown();
        if (t->dims[i].value != 0 && p > INT64_MAX / t->dims[i].value)
            return dim_unknown();
        p *= t->dims[i].value;
    }
    return dim_static(p);
}

fa_status fa_rule_shape_reshape(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0), *s = fa_shape_operand_type(n, 1);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    int64_t v[FA_MAX_RANK];
    int k;
    if (!const_ints(n, 1, v, FA_MAX_RANK, &k)) {
        bool known = s && s->rank == 1 && fa_dim_is_static(s->dims[0]) &&
                     s->dims[0].value <= FA_MAX_RANK;
        out[0] = known ? ranked_unknown(dt, (int)s->dims[0].value) : fa_shape_unknown_type(dt);
        return FA_OK;
    }
    fa_type t = ranked_unknown(dt, k);
    bool allowzero = fa_node_attr_int(n, "allowzero", 0) != 0;
    int infer = -1;
    for (int i = 0; i < k; i++) {
        if (v[i] == -1) {
            if (infer >= 0)
                return fa_status_make(FA_STATUS_VERIFY, "reshape has more than one -1");
            infer = i;
        } else if (v[i] == 0 && !allowzero) {
            if (!x || x->rank < 0 || i >= x->rank)
                continue; /* copies a dim we do not know */
            t.dims[i] = x->dims[i];
        } else if (v[i] < 0) {
            return fa_status_make(FA_STATUS_VERIFY, "reshape dim %lld is invalid", (long long)v[i]);
        } else {
            t.dims[i] = dim_static(v[i]);
        }
    }
    if (infer >= 0 && x && x->rank >= 0) {
        fa_dim total = dims_product(x, 0, x->rank);
        fa_type rest = t;
        rest.dims[infer] = dim_static(1);
        fa_dim known = dims_product(&rest, 0, k);
        if (fa_dim_is_static(total) && fa_dim_is_static(known) && known.value != 0) {
            if (total.value % known.value != 0)
                return fa_status_make(FA_STATUS_VERIFY, "cannot reshape %lld elements",
                                      (long long)total.value);
            t.dims[infer] = dim_static(total.value / known.value);
        }
    }
    out[0] = t;
    return FA_OK;
}

fa_status fa_rule_shape_transpose(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    if (!x || x->rank < 0) {
        out[0] = fa_shape_unknown_type(x ? x->dtype : FA_DT_INVALID);
        return FA_OK;
    }
    const fa_attr *p = fa_node_attr(n, "perm");
    fa_type t = *x;
    if (p && p->kind == FA_ATTR_INTS && p->u.ints.n != (uint32_t)x->rank)
        return fa_status_make(FA_STATUS_VERIFY, "perm has %u entries for rank %d", p->u.ints.n,
                              x->rank);
    bool seen[FA_MAX_RANK] = {false};
    for (int i = 0; i < x->rank; i++) {
        int64_t a = p && p->kind == FA_ATTR_INTS ? p->u.ints.v[i] : x->rank - 1 - i;
        if (a < 0 || a >= x->rank || seen[a])
            return fa_status_make(FA_STATUS_VERIFY, "perm is not a permutation");
        seen[a] = true;
        t.dims[i] = x->dims[a];
    }
    out[0] = t;
    return FA_OK;
}

fa_status fa_rule_shape_unsqueeze(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    int64_t axes[FA_MAX_RANK];
    int k;
    if (!axes_of(n, "axes", 1, axes, &k) || k < 0 || !x || x->rank < 0) {
        out[0] = fa_shape_unknown_type(dt);
        return FA_OK;
    }
    int rank = x->rank + k;
    if (rank > FA_MAX_RANK)
        return fa_status_make(FA_STATUS_VERIFY, "rank exceeds %d", FA_MAX_RANK);
    bool is_new[FA_MAX_RANK] = {false};
    for (int i = 0; i < k; i++) {
        int a = 0;
        FA_TRY(norm_axis(axes[i], rank, &a));
        if (is_new[a])
            return fa_status_make(FA_STATUS_VERIFY, "axis %lld repeats", (long long)axes[i]);
        is_new[a] = true;
    }
    fa_type t = ranked_unknown(dt, rank);
    for (int i = 0, j = 0; i < rank; i++)
        t.dims[i] = is_new[i] ? dim_static(1) : x->dims[j++];
    out[0] = t;
    return FA_OK;
}

fa_status fa_rule_shape_squeeze(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    int64_t axes[FA_MAX_RANK];
    int k;
    if (!axes_of(n, "axes", 1, axes, &k) || !x || x->rank < 0) {
        out[0] = fa_shape_unknown_type(dt);
        return FA_OK;
    }
    bool drop[FA_MAX_RANK] = {false};
    if (k < 0) { /* no axes: every dim of 1 goes, so every dim must be known */
        for (int i = 0; i < x->rank; i++) {
            if (!fa_dim_is_static(x->dims[i])) {
                out[0] = fa_shape_unknown_type(dt);
                return FA_OK;
            }
            drop[i] = x->dims[i].value == 1;
        }
    }
    for (int i = 0; i < k; i++) {
        int a = 0;
        FA_TRY(norm_axis(axes[i], x->rank, &a));
        if (fa_dim_is_static(x->dims[a]) && x->dims[a].value != 1)
            return fa_status_make(FA_STATUS_VERIFY, "cannot squeeze dim %d of size %lld", a,
                                  (long long)x->dims[a].value);
        drop[a] = true;
    }
    fa_type t = fa_shape_unknown_type(dt);
    t.rank = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i])
            t.dims[t.rank++] = x->dims[i];
    out[0] = t;
    return FA_OK;
}

/* Two dims that must be equal: the known one, or unknown if neither is. */
static fa_status same_dim(fa_dim a, fa_dim b, fa_dim *out) {
    if (fa_dim_is_static(a) && fa_dim_is_static(b) && a.value != b.value)
        return fa_status_make(FA_STATUS_VERIFY, "dims %lld and %lld differ", (long long)a.value,
                              (long long)b.value);
    if (fa_dim_is_static(a) || fa_dim_equal(a, b))
        *out = a;
    else if (fa_dim_is_static(b))
        *out = b;
    else
        *out = dim_unknown();
    return FA_OK;
}

fa_status fa_rule_shape_concat(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    fa_type t = fa_shape_unknown_type(dt);
    int ax = 0;
    for (uint32_t i = 0; i < n->num_operands; i++) {
        const fa_type *o = fa_shape_operand_type(n, i);
        if (!o)
            return fa_status_make(FA_STATUS_VERIFY, "operand %u is missing", i);
        if (o->dtype != dt)
            return fa_status_make(FA_STATUS_VERIFY, "operand %u has dtype %s, expected %s", i,
                                  fa_dtype_name(o->dtype), fa_dtype_name(dt));
        if (o->rank < 0)
            continue;
        if (t.rank < 0) {
            FA_TRY(norm_axis(fa_node_attr_int(n, "axis", 0), o->rank, &ax));
            t = *o;
            t.dims[ax] = dim_static(0);
        } else if (o->rank != t.rank) {
            return fa_status_make(FA_STATUS_VERIFY, "operand %u has rank %d, expected %d", i,
                                  o->rank, t.rank);
        }
        for (int d = 0; d < t.rank; d++) {
            if (d != ax) {
                FA_TRY(same_dim(t.dims[d], o->dims[d], &t.dims[d]));
            } else if (fa_dim_is_static(t.dims[d]) && fa_dim_is_static(o->dims[d]) &&
                       o->dims[d].value <= INT64_MAX - t.dims[d].value) {
                t.dims[d].value += o->dims[d].value;
            } else {
                t.dims[d] = dim_unknown();
            }
        }
    }
    /* An operand of unknown rank may add to the axis. */
    for (uint32_t i = 0; i < n->num_operands && t.rank >= 0; i++)
        if (fa_shape_operand_type(n, i)->rank < 0)
            t.dims[ax] = dim_unknown();
    out[0] = t;
    return FA_OK;
}

fa_status fa_rule_shape_gather(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0), *idx = fa_shape_operand_type(n, 1);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    if (!x || !idx || x->rank < 0 || idx->rank < 0) {
        out[0] = fa_shape_unknown_type(dt);
        return FA_OK;
    }
    if (x->rank == 0)
        return fa_status_make(FA_STATUS_VERIFY, "gather from a scalar");
    int ax = 0;
    FA_TRY(norm_axis(fa_node_attr_int(n, "axis", 0), x->rank, &ax));
    int rank = x->rank - 1 + idx->rank;
    if (rank > FA_MAX_RANK)
        return fa_status_make(FA_STATUS_VERIFY, "rank exceeds %d", FA_MAX_RANK);
    fa_type t = ranked_unknown(dt, rank);
    int k = 0;
    for (int i = 0; i < ax; i++)
        t.dims[k++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++)
        t.dims[k++] = idx->dims[i];
    for (int i = ax + 1; i < x->rank; i++)
        t.dims[k++] = x->dims[i];
    out[0] = t;
    return FA_OK;
}

/* Reductions: axes from the attribute (older opsets) or operand 1; keepdims (default 1);
 * noop_with_empty_axes. ArgMax/ArgMin use a single 'axis' and give i64. */
fa_status fa_rule_shape_reduce(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    bool keep = fa_node_attr_int(n, "keepdims", 1) != 0;
    int64_t axes[FA_MAX_RANK];
    int k;
    if (!axes_of(n, "axes", 1, axes, &k) || !x || x->rank < 0) {
        out[0] = keep && x && x->rank >= 0 ? ranked_unknown(dt, x->rank) : fa_shape_unknown_type(dt);
        return FA_OK;
    }
    bool reduce[FA_MAX_RANK] = {false};
    if (k <= 0) {
        if (fa_node_attr_int(n, "noop_with_empty_axes", 0)) {
            out[0] = *x;
            return FA_OK;
        }
        for (int i = 0; i < x->rank; i++)
            reduce[i] = true;
    }
    for (int i = 0; i < k; i++) {
        int a = 0;
        FA_TRY(norm_axis(axes[i], x->rank, &a));
        reduce[a] = true;
    }
    fa_type t = fa_shape_unknown_type(dt);
    t.rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!reduce[i])
            t.dims[t.rank++] = x->dims[i];
        else if (keep)
            t.dims[t.rank++] = dim_static(1);
    }
    out[0] = t;
    return FA_OK;
}

fa_status fa_rule_shape_arg_reduce(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    bool keep = fa_node_attr_int(n, "keepdims", 1) != 0;
    if (!x || x->rank < 0) {
        out[0] = fa_shape_unknown_type(FA_DT_I64);
        return FA_OK;
    }
    int a = 0;
    FA_TRY(norm_axis(fa_node_attr_int(n, "axis", 0), x->rank, &a));
    fa_type t = *x;
    t.dtype = FA_DT_I64;
    if (keep) {
        t.dims[a] = dim_static(1);
    } else {
        for (int i = a; i + 1 < x->rank; i++)
            t.dims[i] = x->dims[i + 1];
        t.rank--;
    }
    out[0] = t;
    return FA_OK;
}

/* One sliced extent by ONNX's clamping rules. */
static int64_t slice_extent(int64_t dim, int64_t start, int64_t end, int64_t step) {
    if (start < 0)
        start += dim;
    if (end < 0)
        end += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        return end > start ? (end - start - 1) / step + 1 : 0;
    }
    start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
    end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
    return start > end ? (start - end - 1) / -step + 1 : 0;
}

fa_status fa_rule_shape_slice(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    if (!x || x->rank < 0) {
        out[0] = fa_shape_unknown_type(dt);
        return FA_OK;
    }
    int64_t starts[FA_MAX_RANK], ends[FA_MAX_RANK], axes[FA_MAX_RANK], steps[FA_MAX_RANK];
    int ns, ne, na = -1, nt = -1;
    bool has_axes = n->num_operands > 3 && n->operands[3];
    bool has_steps = n->num_operands > 4 && n->operands[4];
    if (!const_ints(n, 1, starts, FA_MAX_RANK, &ns) || !const_ints(n, 2, ends, FA_MAX_RANK, &ne) ||
        (has_axes && !const_ints(n, 3, axes, FA_MAX_RANK, &na)) ||
        (has_steps && !const_ints(n, 4, steps, FA_MAX_RANK, &nt))) {
        out[0] = ranked_unknown(dt, x->rank);
        return FA_OK;
    }
    if (ne != ns || (has_axes && na != ns) || (has_steps && nt != ns))
        return fa_status_make(FA_STATUS_VERIFY, "slice parameters differ in length");
    fa_type t = *x;
    bool seen[FA_MAX_RANK] = {false};
    for (int i = 0; i < ns; i++) {
        int a = 0;
        FA_TRY(norm_axis(has_axes ? axes[i] : i, x->rank, &a));
        int64_t step = has_steps ? steps[i] : 1;
        if (step == 0 || step == INT64_MIN)
            return fa_status_make(FA_STATUS_VERIFY, "slice step %lld is invalid",
                                  (long long)step);
        if (seen[a])
            return fa_status_make(FA_STATUS_VERIFY, "slice axis %d repeats", a);
        seen[a] = true;
        t.dims[a] = fa_dim_is_static(x->dims[a])
                        ? dim_static(slice_extent(x->dims[a].value, starts[i], ends[i], step))
                        : dim_unknown();
    }
    out[0] = t;
    return FA_OK;
}

fa_status fa_rule_shape_layer_normalization(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    out[0] = x ? *x : fa_shape_unknown_type(dt);
    fa_dtype stash = fa_node_attr_int(n, "stash_type", 1) == 1 ? FA_DT_F32 : dt;
    for (uint32_t r = 1; r < n->num_results; r++) {
        if (!x || x->rank < 0) {
            out[r] = fa_shape_unknown_type(stash);
            continue;
        }
        int a = 0;
        FA_TRY(norm_axis(fa_node_attr_int(n, "axis", -1), x->rank, &a));
        out[r] = *x;
        out[r].dtype = stash;
        for (int i = a; i < x->rank; i++)
            out[r].dims[i] = dim_static(1);
    }
    return FA_OK;
}

fa_status fa_rule_shape_gemm(const fa_node *n, fa_type *out) {
    const fa_type *a = fa_shape_operand_type(n, 0), *b = fa_shape_operand_type(n, 1);
    fa_dtype dt = a ? a->dtype : FA_DT_INVALID;
    if (!a || !b || a->rank < 0 || b->rank < 0) {
        out[0] = ranked_unknown(dt, 2);
        return FA_OK;
    }
    if (a->rank != 2 || b->rank != 2)
        return fa_status_make(FA_STATUS_VERIFY, "gemm operands must have rank 2");
    bool ta = fa_node_attr_int(n, "transA", 0) != 0, tb = fa_node_attr_int(n, "transB", 0) != 0;
    fa_dim k1 = a->dims[ta ? 0 : 1], k2 = b->dims[tb ? 1 : 0], k;
    FA_TRY(same_dim(k1, k2, &k));
    fa_type t = ranked_unknown(dt, 2);
    t.dims[0] = a->dims[ta ? 1 : 0];
    t.dims[1] = b->dims[tb ? 0 : 1];
    out[0] = t;
    return FA_OK;
}

fa_status fa_rule_shape_shape(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_type t = ranked_unknown(FA_DT_I64, 1);
    if (x && x->rank >= 0) {
        int64_t r = x->rank, start = fa_node_attr_int(n, "start", 0);
        int64_t end = fa_node_attr_int(n, "end", r);
        start = start < 0 ? start + r : start;
        end = end < 0 ? end + r : end;
        start = start < 0 ? 0 : start > r ? r : start;
        end = end < 0 ? 0 : end > r ? r : end;
        t.dims[0] = dim_static(end > start ? end - start : 0);
    }
    out[0] = t;
    return FA_OK;
}

fa_status fa_rule_shape_size(const fa_node *n, fa_type *out) {
    (void)n;
    out[0] = ranked_unknown(FA_DT_I64, 0);
    return FA_OK;
}

fa_status fa_rule_shape_constant_of_shape(const fa_node *n, fa_type *out) {
    const fa_attr *v = fa_node_attr(n, "value");
    fa_dtype dt = v && v->kind == FA_ATTR_TENSOR ? v->u.t->type.dtype : FA_DT_F32;
    const fa_type *s = fa_shape_operand_type(n, 0);
    int64_t dims[FA_MAX_RANK];
    int k;
    if (const_ints(n, 0, dims, FA_MAX_RANK, &k)) {
        for (int i = 0; i < k; i++)
            if (dims[i] < 0)
                return fa_status_make(FA_STATUS_VERIFY, "negative dim %lld", (long long)dims[i]);
        out[0] = fa_type_make(dt, k, dims);
    } else if (s && s->rank == 1 && fa_dim_is_static(s->dims[0]) &&
               s->dims[0].value <= FA_MAX_RANK) {
        out[0] = ranked_unknown(dt, (int)s->dims[0].value);
    } else {
        out[0] = fa_shape_unknown_type(dt);
    }
    return FA_OK;
}

fa_status fa_rule_shape_flatten(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    fa_type t = ranked_unknown(dt, 2);
    if (x && x->rank >= 0) {
        int64_t axis = fa_node_attr_int(n, "axis", 1);
        if (axis < -x->rank || axis > x->rank)
            return fa_status_make(FA_STATUS_VERIFY, "axis %lld is out of range for rank %d",
                                  (long long)axis, x->rank);
        int a = (int)(axis < 0 ? axis + x->rank : axis);
        t.dims[0] = dims_product(x, 0, a);
        t.dims[1] = dims_product(x, a, x->rank);
    }
    out[0] = t;
    return FA_OK;
}

fa_status fa_rule_shape_expand(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0), *s = fa_shape_operand_type(n, 1);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    int64_t dims[FA_MAX_RANK];
    int k;
    if (x && const_ints(n, 1, dims, FA_MAX_RANK, &k)) {
        for (int i = 0; i < k; i++)
            if (dims[i] < 0)
                return fa_status_make(FA_STATUS_VERIFY, "negative dim %lld", (long long)dims[i]);
        fa_type st = fa_type_make(dt, k, dims);
        return fa_shape_broadcast(x, &st, out);
    }
    if (x && x->rank >= 0 && s && s->rank == 1 && fa_dim_is_static(s->dims[0]) &&
        s->dims[0].value <= FA_MAX_RANK) {
        int rank = x->rank > (int)s->dims[0].value ? x->rank : (int)s->dims[0].value;
        out[0] = ranked_unknown(dt, rank);
        return FA_OK;
    }
    out[0] = fa_shape_unknown_type(dt);
    return FA_OK;
}

fa_status fa_rule_shape_range(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    out[0] = ranked_unknown(x ? x->dtype : FA_DT_INVALID, 1);
    return FA_OK;
}

fa_status fa_rule_shape_split(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    uint32_t nout = n->num_results;
    if (!x || x->rank < 0) {
        for (uint32_t i = 0; i < nout; i++)
            out[i] = fa_shape_unknown_type(dt);
        return FA_OK;
    }
    int a = 0;
    FA_TRY(norm_axis(fa_node_attr_int(n, "axis", 0), x->rank, &a));
    const fa_attr *sa = fa_node_attr(n, "split");
    int64_t sizes[FA_MAX_RANK];
    int ns = -1;
    bool have = false;
    if (sa && sa->kind == FA_ATTR_INTS) {
        have = sa->u.ints.n == nout;
        for (uint32_t i = 0; have && i < nout; i++)
            sizes[i] = sa->u.ints.v[i];
        if (!have)
            return fa_status_make(FA_STATUS_VERIFY, "split has %u sizes for %u outputs",
                                  sa->u.ints.n, nout);
    } else if (nout <= FA_MAX_RANK && const_ints(n, 1, sizes, FA_MAX_RANK, &ns)) {
        if ((uint32_t)ns != nout)
            return fa_status_make(FA_STATUS_VERIFY, "split has %d sizes for %u outputs", ns, nout);
        have = true;
    }
    for (uint32_t i = 0; i < nout; i++) {
        out[i] = *x;
        if (have)
            out[i].dims[a] = sizes[i] >= 0 ? dim_static(sizes[i]) : dim_unknown();
        else if (!(n->num_operands > 1 && n->operands[1]) && fa_dim_is_static(x->dims[a]) &&
                 x->dims[a].value % nout == 0)
            out[i].dims[a] = dim_static(x->dims[a].value / nout);
        else
            out[i].dims[a] = dim_unknown();
    }
    return FA_OK;
}

fa_status fa_rule_shape_tile(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    if (!x || x->rank < 0) {
        out[0] = fa_shape_unknown_type(dt);
        return FA_OK;
    }
    int64_t reps[FA_MAX_RANK];
    int k;
    fa_type t = ranked_unknown(dt, x->rank);
    if (const_ints(n, 1, reps, FA_MAX_RANK, &k) && k == x->rank) {
        for (int i = 0; i < k; i++)
            if (fa_dim_is_static(x->dims[i]) && reps[i] >= 0 &&
                (reps[i] == 0 || x->dims[i].value <= INT64_MAX / reps[i]))
                t.dims[i] = dim_static(x->dims[i].value * reps[i]);
    }
    out[0] = t;
    return FA_OK;
}

/* Same shape as operand 0, ranked dims unknown (Pad, Conv-like ops keep rank). */
fa_status fa_rule_shape_same_rank(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    fa_dtype dt = x ? x->dtype : FA_DT_INVALID;
    out[0] = x && x->rank >= 0 ? ranked_unknown(dt, x->rank) : fa_shape_unknown_type(dt);
    return FA_OK;
}

fa_status fa_rule_shape_gather_elements(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0), *idx = fa_shape_operand_type(n, 1);
    out[0] = idx ? *idx : fa_shape_unknown_type(FA_DT_INVALID);
    out[0].dtype = x ? x->dtype : FA_DT_INVALID;
    return FA_OK;
}

fa_status fa_rule_shape_same_bool(const fa_node *n, fa_type *out) {
    FA_TRY(fa_rule_shape_same(n, out));
    out[0].dtype = FA_DT_BOOL;
    return FA_OK;
}

fa_status fa_rule_shape_cast_like(const fa_node *n, fa_type *out) {
    const fa_type *like = fa_shape_operand_type(n, 1);
    FA_TRY(fa_rule_shape_same(n, out));
    out[0].dtype = like ? like->dtype : FA_DT_INVALID;
    return FA_OK;
}

fa_status fa_rule_shape_dropout(const fa_node *n, fa_type *out) {
    FA_TRY(fa_rule_shape_same(n, out));
    if (n->num_results > 1) {
        out[1] = out[0];
        out[1].dtype = FA_DT_BOOL;
    }
    return FA_OK;
}
