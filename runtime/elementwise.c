/* Elementwise binary kernels with ONNX multidirectional broadcasting: arithmetic, comparisons,
 * logic, the variadic Sum/Mean/Max/Min, and Where.
 *
 * Design note. Inputs are aligned right against the output shape and get stride 0 on broadcast
 * dims; adjacent dims with compatible strides are merged, and the innermost dim runs as a tight
 * loop (a dedicated f32 loop for + - * /, a double / int64 loop for everything else). */
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"

static const char *const binop_names[] = {
    [FA_RT_ADD] = "Add",
    [FA_RT_SUB] = "Sub",
    [FA_RT_MUL] = "Mul",
    [FA_RT_DIV] = "Div",
    [FA_RT_POW] = "Pow",
    [FA_RT_MOD] = "Mod",
    [FA_RT_FMOD] = "Mod",
    [FA_RT_MAX] = "Max",
    [FA_RT_MIN] = "Min",
    [FA_RT_EQUAL] = "Equal",
    [FA_RT_LESS] = "Less",
    [FA_RT_LESS_EQUAL] = "LessOrEqual",
    [FA_RT_GREATER] = "Greater",
    [FA_RT_GREATER_EQUAL] = "GreaterOrEqual",
    [FA_RT_AND] = "And",
    [FA_RT_OR] = "Or",
    [FA_RT_XOR] = "Xor",
    [FA_RT_PRELU] = "PRelu",
    [FA_RT_SHIFT_LEFT] = "BitShift",
    [FA_RT_SHIFT_RIGHT] = "BitShift",
};

fa_status fa_rt_broadcast_shape(const char *op, const fa_rt_tensor *const *ins, int n,
                                int *out_rank, int64_t *out_dims) {
    int rank = 0;
    for (int k = 0; k < n; k++)
        if (ins[k]->rank > rank)
            rank = ins[k]->rank;
    for (int i = 0; i < rank; i++)
        out_dims[i] = 1;
    for (int k = 0; k < n; k++) {
        const fa_rt_tensor *t = ins[k];
        for (int i = 0; i < t->rank; i++) {
            int64_t d = t->dims[i], *o = &out_dims[rank - t->rank + i];
            if (d == *o || d == 1)
                continue;
            if (*o != 1) {
                char b1[96], b2[96];
                return fa_rt_err(op, "shapes %s and %s do not broadcast",
                                 fa_rt_tensor_describe(ins[0], b1, sizeof b1),
                                 fa_rt_tensor_describe(t, b2, sizeof b2));
            }
            *o = d;
        }
    }
    *out_rank = rank;
    return FA_OK;
}

/* Broadcast iteration plan over the (collapsed) output shape. */
typedef struct bplan {
    int n, rank;
    int64_t dims[FA_MAX_RANK];
    int64_t strides[3][FA_MAX_RANK];
} bplan;

static void plan_init(bplan *p, const fa_rt_tensor *const *ins, int n, int rank,
                      const int64_t *dims) {
    p->n = n;
    int64_t st[3][FA_MAX_RANK];
    for (int k = 0; k < n; k++) {
        const fa_rt_tensor *t = ins[k];
        int64_t s = 1;
        for (int i = rank - 1; i >= 0; i--) {
            int ti = i - (rank - t->rank);
            int64_t d = ti >= 0 ? t->dims[ti] : 1;
            st[k][i] = d == 1 ? 0 : s;
            s *= d;
        }
    }
    /* merge dim i into the previous kept dim when every input's strides are contiguous */
    int r = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 1 && rank > 1)
            continue;
        bool merge = r > 0;
        for (int k = 0; k < n && merge; k++)
            merge = st[k][i] * dims[i] == p->strides[k][r - 1] ||
                    (st[k][i] == 0 && p->strides[k][r - 1] == 0);
        if (merge) {
            p->dims[r - 1] *= dims[i];
            for (int k = 0; k < n; k++)
                p->strides[k][r - 1] = st[k][i];
            continue;
        }
        p->dims[r] = dims[i];
        for (int k = 0; k < n; k++)
            p->strides[k][r] = st[k][i];
        r++;
    }
    if (r == 0) {
        p->dims[0] = 1;
        for (int k = 0; k < n; k++)
            p->strides[k][0] = 0;
        r = 1;
    }
    p->rank = r;
}

/* Calls |row| once per innermost row with the element offsets of each input. */
typedef void (*row_fn)(void *ctx, const int64_t *off, int64_t out_off, int64_t len,
                       const int64_t *inner_strides);

static void plan_run(const bplan *p, row_fn row, void *ctx) {
    int64_t idx[FA_MAX_RANK] = {0}, off[3] = {0}, inner[3];
    int outer = p->rank - 1;
    int64_t len = p->dims[outer], out_off = 0;
    for (int k = 0; k < p->n; k++)
        inner[k] = p->strides[k][outer];
    for (;;) {
        row(ctx, off, out_off, len, inner);
        out_off += len;
        int i = outer - 1;
        for (; i >= 0; i--) {
            for (int k = 0; k < p->n; k++)
                off[k] += p->strides[k][i];
            if (++idx[i] < p->dims[i])
                break;
            for (int k = 0; k < p->n; k++)
                off[k] -= p->strides[k][i] * p->dims[i];
            idx[i] = 0;
        }
        if (i < 0)
            return;
    }
}

/* ---- binary ---- */

typedef struct bctx {
    fa_rt_binop op;
    const fa_rt_tensor *a, *b;
    fa_rt_tensor *out;
    bool div_by_zero;
} bctx;

static void row_f32(void *vc, const int64_t *off, int64_t o, int64_t len, const int64_t *st) {
    bctx *c = vc;
    const float *a = (const float *)c->a->data + off[0], *b = (const float *)c->b->data + off[1];
    float *y = (float *)c->out->data + o;
    int64_t sa = st[0], sb = st[1];
    switch (c->op) {
    case FA_RT_ADD:
        for (int64_t j = 0; j < len; j++)
            y[j] = a[j * sa] + b[j * sb];
        break;
    case FA_RT_SUB:
        for (int64_t j = 0; j < len; j++)
            y[j] = a[j * sa] - b[j * sb];
        break;
    case FA_RT_MUL:
        for (int64_t j = 0; j < len; j++)
            y[j] = a[j * sa] * b[j * sb];
        break;
    default:
        for (int64_t j = 0; j < len; j++)
            y[j] = a[j * sa] / b[j * sb];
        break;
    }
}

static double fbin(fa_rt_binop op, double x, double y) {
    switch (op) {
    case FA_RT_ADD: return x + y;
    case FA_RT_SUB: return x - y;
    case FA_RT_MUL: return x * y;
    case FA_RT_DIV: return x / y;
    case FA_RT_POW: return pow(x, y);
    case FA_RT_FMOD: return fmod(x, y);
    case FA_RT_MOD: {
        double r = fmod(x, y);
        return r != 0 && ((r < 0) != (y < 0)) ? r + y : r;
    }
    case FA_RT_MAX: return isnan(x) || isnan(y) ? NAN : x > y ? x : y;
    case FA_RT_MIN: return isnan(x) || isnan(y) ? NAN : x < y ? x : y;
    case FA_RT_EQUAL: return x == y;
    case FA_RT_LESS: return x < y;
    case FA_RT_LESS_EQUAL: return x <= y;
    case FA_RT_GREATER: return x > y;
    case FA_RT_GREATER_EQUAL: return x >= y;
    case FA_RT_PRELU: return x < 0 ? x * y : x;
    default: return 0;
    }
}

static int64_t ipow(int64_t x, int64_t e) {
    if (e < 0)
        return x == 1 ? 1 : x == -1 ? (e % 2 ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)x;
    while (e) {
        if (e & 1)
            r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

/* Integer op; sets *zero on division by zero. Wrapping arithmetic goes through uint64. */
static int64_t ibin(fa_rt_binop op, int64_t x, int64_t y, bool *zero) {
    switch (op) {
    case FA_RT_ADD: return (int64_t)((uint64_t)x + (uint64_t)y);
    case FA_RT_SUB: return (int64_t)((uint64_t)x - (uint64_t)y);
    case FA_RT_MUL: return (int64_t)((uint64_t)x * (uint64_t)y);
    case FA_RT_DIV:
    case FA_RT_MOD:
    case FA_RT_FMOD: {
        if (y == 0) {
            *zero = true;
            return 0;
        }
        if (y == -1) /* avoids INT64_MIN / -1 */
            return op == FA_RT_DIV ? (int64_t)(0 - (uint64_t)x) : 0;
        if (op == FA_RT_DIV)
            return x / y;
        int64_t r = x % y;
        if (op == FA_RT_MOD && r != 0 && ((r < 0) != (y < 0)))
            r += y;
        return r;
    }
    case FA_RT_POW: return ipow(x, y);
    case FA_RT_MAX: return x > y ? x : y;
    case FA_RT_MIN: return x < y ? x : y;
    case FA_RT_EQUAL: return x == y;
    case FA_RT_LESS: return x < y;
    case FA_RT_LESS_EQUAL: return x <= y;
    case FA_RT_GREATER: return x > y;
    case FA_RT_GREATER_EQUAL: return x >= y;
    case FA_RT_AND: return x && y;
    case FA_RT_OR: return x || y;
    case FA_RT_XOR: return (x != 0) != (y != 0);
    case FA_RT_PRELU: return x < 0 ? (int64_t)((uint64_t)x * (uint64_t)y) : x;
    case FA_RT_SHIFT_LEFT: return (uint64_t)y >= 64 ? 0 : (int64_t)((uint64_t)x << y);
    case FA_RT_SHIFT_RIGHT: return (uint64_t)y >= 64 ? 0 : (int64_t)((uint64_t)x >> y);
    }
    return 0;
}

/* u64 op (values above INT64_MAX need unsigned division, order and remainder). */
static int64_t ubin(fa_rt_binop op, uint64_t x, uint64_t y, bool *zero) {
    switch (op) {
    case FA_RT_DIV:
    case FA_RT_MOD:
    case FA_RT_FMOD:
        if (y == 0) {
            *zero = true;
            return 0;
        }
        return (int64_t)(op == FA_RT_DIV ? x / y : x % y);
    case FA_RT_MAX: return (int64_t)(x > y ? x : y);
    case FA_RT_MIN: return (int64_t)(x < y ? x : y);
    case FA_RT_LESS: return x < y;
    case FA_RT_LESS_EQUAL: return x <= y;
    case FA_RT_GREATER: return x > y;
    case FA_RT_GREATER_EQUAL: return x >= y;
    case FA_RT_POW: {
        uint64_t r = 1;
        while (y) {
            if (y & 1)
                r *= x;
            x *= x;
            y >>= 1;
        }
        return (int64_t)r;
    }
    default: return ibin(op, (int64_t)x, (int64_t)y, zero);
    }
}

static void row_generic(void *vc, const int64_t *off, int64_t o, int64_t len, const int64_t *st) {
    bctx *c = vc;
    fa_dtype da = c->a->dtype, db = c->b->dtype, dy = c->out->dtype;
    bool use_float = fa_rt_is_float(da) || fa_rt_is_float(db);
    for (int64_t j = 0; j < len; j++) {
        uint64_t ia = (uint64_t)(off[0] + j * st[0]), ib = (uint64_t)(off[1] + j * st[1]);
        if (use_float) {
            double r =
                fbin(c->op, fa_rt_load_f64(da, c->a->data, ia), fa_rt_load_f64(db, c->b->data, ib));
            fa_rt_store_f64(dy, c->out->data, (uint64_t)(o + j), r);
        } else if (da == FA_DT_U64 && db == FA_DT_U64) {
            int64_t r = ubin(c->op, ((const uint64_t *)c->a->data)[ia],
                             ((const uint64_t *)c->b->data)[ib], &c->div_by_zero);
            fa_rt_store_i64(dy, c->out->data, (uint64_t)(o + j), r);
        } else {
            int64_t r = ibin(c->op, fa_rt_load_i64(da, c->a->data, ia),
                             fa_rt_load_i64(db, c->b->data, ib), &c->div_by_zero);
            fa_rt_store_i64(dy, c->out->data, (uint64_t)(o + j), r);
        }
    }
}

static bool is_compare(fa_rt_binop op) { return op >= FA_RT_EQUAL && op <= FA_RT_GREATER_EQUAL; }
static bool is_logic(fa_rt_binop op) { return op >= FA_RT_AND && op <= FA_RT_XOR; }
static bool is_shift(fa_rt_binop op) { return op == FA_RT_SHIFT_LEFT || op == FA_RT_SHIFT_RIGHT; }

static fa_status check_binary_dtypes(fa_rt_binop op, const fa_rt_tensor *a, const fa_rt_tensor *b,
                                     fa_dtype *out_dt) {
    const char *name = binop_names[op];
    fa_dtype da = a->dtype;
    if (is_logic(op)) {
        if (da != FA_DT_BOOL || b->dtype != FA_DT_BOOL)
            return fa_rt_err_dtype(name, da != FA_DT_BOOL ? da : b->dtype);
        *out_dt = FA_DT_BOOL;
        return FA_OK;
    }
    if (is_shift(op)) {
        if (da != FA_DT_U8 && da != FA_DT_U16 && da != FA_DT_U32 && da != FA_DT_U64)
            return fa_rt_err_dtype(name, da);
        if (b->dtype != da)
            return fa_rt_err(name, "operand dtypes differ (%s and %s)", fa_dtype_name(da),
                             fa_dtype_name(b->dtype));
        *out_dt = da;
        return FA_OK;
    }
    bool ok_a = fa_rt_is_float(da) || fa_rt_is_plain_int(da) ||
                (da == FA_DT_U64 && op != FA_RT_PRELU) || (da == FA_DT_BOOL && op == FA_RT_EQUAL);
    if (!ok_a)
        return fa_rt_err_dtype(name, da);
    if (op == FA_RT_POW) {
        if (!fa_rt_is_float(b->dtype) && !fa_rt_is_plain_int(b->dtype) && b->dtype != FA_DT_U64)
            return fa_rt_err_dtype(name, b->dtype);
    } else if (b->dtype != da) {
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: operand dtypes differ (%s and %s)",
                              name, fa_dtype_name(da), fa_dtype_name(b->dtype));
    }
    if (op == FA_RT_MOD && fa_rt_is_float(da))
        return fa_rt_err(name, "fmod must be 1 for floating-point inputs");
    *out_dt = is_compare(op) ? FA_DT_BOOL : da;
    return FA_OK;
}

fa_status fa_rt_binary(fa_rt_binop op, fa_rt_in a, fa_rt_in b, fa_rt_tensor *out, fa_rt_al al) {
    const char *name = binop_names[op];
    memset(out, 0, sizeof *out);
    fa_dtype dt = FA_DT_INVALID;
    FA_TRY(check_binary_dtypes(op, a, b, &dt));
    const fa_rt_tensor *ins[2] = {a, b};
    int rank;
    int64_t dims[FA_MAX_RANK];
    FA_TRY(fa_rt_broadcast_shape(name, ins, 2, &rank, dims));
    FA_TRY(fa_rt_alloc_out(name, out, dt, rank, dims, al));
    if (fa_rt_tensor_num_elements(out) == 0)
        return FA_OK;
    bplan p;
    plan_init(&p, ins, 2, rank, dims);
    bctx c = {op, a, b, out, false};
    bool fast = dt == FA_DT_F32 && b->dtype == FA_DT_F32 && op <= FA_RT_DIV;
    plan_run(&p, fast ? row_f32 : row_generic, &c);
    if (c.div_by_zero) {
        fa_rt_tensor_free(out, al);
        return fa_rt_err(name, "integer division by zero");
    }
    return FA_OK;
}

fa_status fa_rt_variadic(fa_rt_binop op, bool mean, const fa_rt_tensor *const *ins, uint32_t n,
                         fa_rt_tensor *out, fa_rt_al al) {
    const char *name = mean ? "Mean" : op == FA_RT_ADD ? "Sum" : binop_names[op];
    memset(out, 0, sizeof *out);
    if (n == 0)
        return fa_rt_err(name, "needs at least one input");
    if (mean && !fa_rt_is_float(ins[0]->dtype))
        return fa_rt_err_dtype(name, ins[0]->dtype);
    fa_rt_tensor acc;
    FA_TRY(fa_rt_tensor_clone(&acc, ins[0], al));
    if (n == 1 && !fa_rt_is_float(acc.dtype) && !fa_rt_is_plain_int(acc.dtype) &&
        acc.dtype != FA_DT_U64) {
        fa_rt_tensor_free(&acc, al);
        return fa_rt_err_dtype(name, ins[0]->dtype);
    }
    for (uint32_t i = 1; i < n; i++) {
        fa_rt_tensor next;
        fa_status s = fa_rt_binary(op, &acc, ins[i], &next, al);
        fa_rt_tensor_free(&acc, al);
        if (s)
            return fa_status_prefix(s, "%s input %u", name, i);
        acc = next;
    }
    if (mean) {
        uint64_t ne = fa_rt_tensor_num_elements(&acc);
        for (uint64_t i = 0; i < ne; i++)
            fa_rt_store_f64(acc.dtype, acc.data, i,
                            fa_rt_load_f64(acc.dtype, acc.data, i) / (double)n);
    }
    *out = acc;
    return FA_OK;
}

/* ---- Where ---- */

typedef struct wctx {
    const fa_rt_tensor *c, *x, *y;
    fa_rt_tensor *out;
    size_t es;
} wctx;

static void row_where(void *vc, const int64_t *off, int64_t o, int64_t len, const int64_t *st) {
    wctx *w = vc;
    const uint8_t *c = (const uint8_t *)w->c->data;
    const char *x = w->x->data, *y = w->y->data;
    char *out = (char *)w->out->data;
    size_t es = w->es;
    for (int64_t j = 0; j < len; j++) {
        bool take_x = c[off[0] + j * st[0]] != 0;
        const char *src =
            take_x ? x + (size_t)(off[1] + j * st[1]) * es : y + (size_t)(off[2] + j * st[2]) * es;
        memcpy(out + (size_t)(o + j) * es, src, es);
    }
}

fa_status fa_rt_where(fa_rt_in cond, fa_rt_in x, fa_rt_in y, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (cond->dtype != FA_DT_BOOL)
        return fa_rt_err("Where", "condition must be bool, not %s", fa_dtype_name(cond->dtype));
    if (x->dtype != y->dtype)
        return fa_rt_err("Where", "X and Y dtypes differ (%s and %s)", fa_dtype_name(x->dtype),
                         fa_dtype_name(y->dtype));
    size_t es = fa_rt_elem_size(x->dtype);
    if (es == 0)
        return fa_rt_err_dtype("Where", x->dtype);
    const fa_rt_tensor *ins[3] = {cond, x, y};
    int rank;
    int64_t dims[FA_MAX_RANK];
    FA_TRY(fa_rt_broadcast_shape("Where", ins, 3, &rank, dims));
    FA_TRY(fa_rt_alloc_out("Where", out, x->dtype, rank, dims, al));
    if (fa_rt_tensor_num_elements(out) == 0)
        return FA_OK;
    bplan p;
    plan_init(&p, ins, 3, rank, dims);
    wctx w = {cond, x, y, out, es};
    plan_run(&p, row_where, &w);
    return FA_OK;
}
