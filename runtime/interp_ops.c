/* The interpreter's op dispatch: turns one fa_node (attributes, optional operands) into a call
 * of the matching reference kernel. Adding a kernel means adding its case here. */
#include <string.h>

#include "runtime/interp.h"
#include "runtime/kernel_util.h"

/* Integer list from operand |idx| if present, else from ints attribute |attr|. |*out_has|
 * tells whether either was given. */
static fa_status ints_from(const char *op, const fa_node *n, const fa_rt_tensor *const *ins,
                           uint32_t nin, uint32_t idx, const char *attr, int64_t *out, uint32_t max,
                           uint32_t *out_n, bool *out_has) {
    *out_n = 0;
    *out_has = false;
    if (idx < nin && ins[idx]) {
        *out_has = true;
        return fa_rt_read_ints(op, attr, ins[idx], out, max, out_n);
    }
    const fa_attr *a = fa_node_attr(n, attr);
    if (!a)
        return FA_OK;
    if (a->kind != FA_ATTR_INTS)
        return fa_rt_err(op, "attribute %s must be ints", attr);
    if (a->u.ints.n > max)
        return fa_rt_err(op, "attribute %s has too many entries", attr);
    for (uint32_t i = 0; i < a->u.ints.n; i++)
        out[i] = a->u.ints.v[i];
    *out_n = a->u.ints.n;
    *out_has = true;
    return FA_OK;
}

/* Copies an ints attribute into |dst| (at most |max|); returns the count (0 if absent). */
static int attr_ints(const fa_node *n, const char *name, int64_t *dst, int max) {
    const fa_attr *a = fa_node_attr(n, name);
    if (!a || a->kind != FA_ATTR_INTS)
        return 0;
    int k = (int)a->u.ints.n < max ? (int)a->u.ints.n : max;
    for (int i = 0; i < k; i++)
        dst[i] = a->u.ints.v[i];
    return (int)a->u.ints.n;
}

/* Clip's old-style float attribute bound as a scalar of |dt| in |buf|. */
static const fa_rt_tensor *clip_bound(const fa_node *n, const char *name, fa_dtype dt,
                                      uint64_t *buf, fa_rt_tensor *t) {
    const fa_attr *a = fa_node_attr(n, name);
    if (!a || a->kind != FA_ATTR_FLOAT)
        return NULL;
    fa_rt_store_f64(dt, buf, 0, a->u.f);
    *t = fa_rt_tensor_view(dt, 0, NULL, buf, fa_dtype_bits(dt) / 8);
    return t;
}

static fa_status exec_constant(const fa_node *n, fa_rt_tensor *out, bool *owned,
                               const fa_rt_allocator *al) {
    const fa_attr *a;
    if ((a = fa_node_attr(n, "value")) && a->kind == FA_ATTR_TENSOR) {
        const fa_tensor *t = a->u.t;
        int64_t dims[FA_MAX_RANK];
        for (int i = 0; i < t->type.rank; i++)
            dims[i] = t->type.dims[i].value;
        *out = fa_rt_tensor_view(t->type.dtype, t->type.rank, dims, t->data, t->nbytes);
        *owned = false;
        return FA_OK;
    }
    if ((a = fa_node_attr(n, "value_ints")) && a->kind == FA_ATTR_INTS) {
        int64_t len = a->u.ints.n;
        *out = fa_rt_tensor_view(FA_DT_I64, 1, &len, a->u.ints.v, (uint64_t)len * 8);
        *owned = false;
        return FA_OK;
    }
    if ((a = fa_node_attr(n, "value_int")) && a->kind == FA_ATTR_INT) {
        FA_TRY(fa_rt_alloc_out("Constant", out, FA_DT_I64, 0, NULL, al));
        *(int64_t *)out->data = a->u.i;
        return FA_OK;
    }
    if ((a = fa_node_attr(n, "value_float")) && a->kind == FA_ATTR_FLOAT) {
        FA_TRY(fa_rt_alloc_out("Constant", out, FA_DT_F32, 0, NULL, al));
        *(float *)out->data = (float)a->u.f;
        return FA_OK;
    }
    if ((a = fa_node_attr(n, "value_floats")) && a->kind == FA_ATTR_FLOATS) {
        int64_t len = a->u.floats.n;
        FA_TRY(fa_rt_alloc_out("Constant", out, FA_DT_F32, 1, &len, al));
        for (int64_t i = 0; i < len; i++)
            ((float *)out->data)[i] = (float)a->u.floats.v[i];
        return FA_OK;
    }
    return fa_status_make(FA_STATUS_UNSUPPORTED, "Constant: no supported value attribute");
}

static fa_status exec_conv(const fa_node *n, const fa_rt_tensor *const *ins, uint32_t nin,
                           fa_rt_tensor *out, const fa_rt_allocator *al) {
    fa_rt_conv_params p;
    memset(&p, 0, sizeof p);
    p.auto_pad = fa_node_attr_string(n, "auto_pad", "NOTSET");
    p.group = fa_node_attr_int(n, "group", 1);
    p.nkernel = attr_ints(n, "kernel_shape", p.kernel_shape, FA_MAX_RANK);
    p.npads = attr_ints(n, "pads", p.pads, 2 * FA_MAX_RANK);
    p.nstrides = attr_ints(n, "strides", p.strides, FA_MAX_RANK);
    p.ndilations = attr_ints(n, "dilations", p.dilations, FA_MAX_RANK);
    if (p.nkernel > FA_MAX_RANK || p.npads > 2 * FA_MAX_RANK || p.nstrides > FA_MAX_RANK ||
        p.ndilations > FA_MAX_RANK)
        return fa_rt_err("Conv", "attribute list too long");
    return fa_rt_conv(ins[0], ins[1], nin > 2 ? ins[2] : NULL, &p, out, al);
}

static fa_status exec_reduce(const fa_node *n, fa_rt_reduce_op op, const char *name,
                             const fa_rt_tensor *const *ins, uint32_t nin, fa_rt_tensor *out,
                             const fa_rt_allocator *al) {
    int64_t axes[FA_MAX_RANK];
    uint32_t na;
    bool has;
    FA_TRY(ints_from(name, n, ins, nin, 1, "axes", axes, FA_MAX_RANK, &na, &has));
    return fa_rt_reduce(op, ins[0], axes, na, fa_node_attr_int(n, "keepdims", 1) != 0,
                        fa_node_attr_int(n, "noop_with_empty_axes", 0) != 0, out, al);
}

static fa_rt_binop binop_of(fa_op op) {
    switch (op) {
    case FA_OP_SUB: return FA_RT_SUB;
    case FA_OP_MUL: return FA_RT_MUL;
    case FA_OP_DIV: return FA_RT_DIV;
    case FA_OP_POW: return FA_RT_POW;
    case FA_OP_MOD: return FA_RT_MOD;
    case FA_OP_EQUAL: return FA_RT_EQUAL;
    case FA_OP_LESS: return FA_RT_LESS;
    case FA_OP_LESS_OR_EQUAL: return FA_RT_LESS_EQUAL;
    case FA_OP_GREATER: return FA_RT_GREATER;
    case FA_OP_GREATER_OR_EQUAL: return FA_RT_GREATER_EQUAL;
    case FA_OP_AND: return FA_RT_AND;
    case FA_OP_OR: return FA_RT_OR;
    case FA_OP_XOR: return FA_RT_XOR;
    case FA_OP_MAX: return FA_RT_MAX;
    case FA_OP_MIN: return FA_RT_MIN;
    case FA_OP_PRELU: return FA_RT_PRELU;
    default: return FA_RT_ADD;
    }
}

static bool unop_of(fa_op op, fa_rt_unop *out) {
    static const struct {
        fa_op op;
        fa_rt_unop u;
    } map[] = {
        {FA_OP_IDENTITY, FA_RT_IDENTITY},
        {FA_OP_NEG, FA_RT_NEG},
        {FA_OP_ABS, FA_RT_ABS},
        {FA_OP_SIGN, FA_RT_SIGN},
        {FA_OP_SQRT, FA_RT_SQRT},
        {FA_OP_RECIPROCAL, FA_RT_RECIPROCAL},
        {FA_OP_EXP, FA_RT_EXP},
        {FA_OP_LOG, FA_RT_LOG},
        {FA_OP_TANH, FA_RT_TANH},
        {FA_OP_ERF, FA_RT_ERF},
        {FA_OP_SIGMOID, FA_RT_SIGMOID},
        {FA_OP_RELU, FA_RT_RELU},
        {FA_OP_SIN, FA_RT_SIN},
        {FA_OP_COS, FA_RT_COS},
        {FA_OP_FLOOR, FA_RT_FLOOR},
        {FA_OP_CEIL, FA_RT_CEIL},
        {FA_OP_ROUND, FA_RT_ROUND},
        {FA_OP_NOT, FA_RT_NOT},
        {FA_OP_SOFTPLUS, FA_RT_SOFTPLUS},
        {FA_OP_LEAKY_RELU, FA_RT_LEAKY_RELU},
        {FA_OP_ELU, FA_RT_ELU},
        {FA_OP_HARD_SIGMOID, FA_RT_HARD_SIGMOID},
        {FA_OP_TAN, FA_RT_TAN},
        {FA_OP_ASIN, FA_RT_ASIN},
        {FA_OP_ACOS, FA_RT_ACOS},
        {FA_OP_ATAN, FA_RT_ATAN},
        {FA_OP_SINH, FA_RT_SINH},
        {FA_OP_COSH, FA_RT_COSH},
        {FA_OP_ASINH, FA_RT_ASINH},
        {FA_OP_ACOSH, FA_RT_ACOSH},
        {FA_OP_ATANH, FA_RT_ATANH},
        {FA_OP_SOFTSIGN, FA_RT_SOFTSIGN},
        {FA_OP_HARD_SWISH, FA_RT_HARD_SWISH},
        {FA_OP_CELU, FA_RT_CELU},
        {FA_OP_SELU, FA_RT_SELU},
        {FA_OP_THRESHOLDED_RELU, FA_RT_THRESHOLDED_RELU},
        {FA_OP_SHRINK, FA_RT_SHRINK},
        {FA_OP_IS_NAN, FA_RT_IS_NAN},
        {FA_OP_IS_INF, FA_RT_IS_INF},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].op == op) {
            *out = map[i].u;
            return true;
        }
    return false;
}

/* The two float parameters fa_rt_unary takes, with ONNX's defaults. */
static void unary_params(const fa_node *n, double *alpha, double *beta) {
    switch (n->op) {
    case FA_OP_LEAKY_RELU:
        *alpha = fa_node_attr_float(n, "alpha", 0.01);
        *beta = 0;
        break;
    case FA_OP_HARD_SIGMOID:
        *alpha = fa_node_attr_float(n, "alpha", 0.2);
        *beta = fa_node_attr_float(n, "beta", 0.5);
        break;
    case FA_OP_SELU:
        *alpha = fa_node_attr_float(n, "alpha", 1.67326319217681884765625);
        *beta = fa_node_attr_float(n, "gamma", 1.05070102214813232421875);
        break;
    case FA_OP_SHRINK:
        *alpha = fa_node_attr_float(n, "lambd", 0.5);
        *beta = fa_node_attr_float(n, "bias", 0.0);
        break;
    case FA_OP_IS_INF:
        *alpha = (double)fa_node_attr_int(n, "detect_negative", 1);
        *beta = (double)fa_node_attr_int(n, "detect_positive", 1);
        break;
    default: /* Elu, Celu, ThresholdedRelu */
        *alpha = fa_node_attr_float(n, "alpha", 1.0);
        *beta = 0;
        break;
    }
}

static bool scatter_reduction(const fa_node *n, fa_rt_scatter_reduction *out) {
    const char *r = fa_node_attr_string(n, "reduction", "none");
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(r, names[i])) {
            *out = (fa_rt_scatter_reduction)i;
            return true;
        }
    return false;
}

static fa_status exec_pool(const fa_node *n, bool is_max, const fa_rt_tensor *x, fa_rt_tensor *out,
                           const fa_rt_allocator *al) {
    fa_rt_pool_params p;
    memset(&p, 0, sizeof p);
    p.is_max = is_max;
    p.ceil_mode = fa_node_attr_int(n, "ceil_mode", 0) != 0;
    p.count_include_pad = fa_node_attr_int(n, "count_include_pad", 0) != 0;
    p.geo.auto_pad = fa_node_attr_string(n, "auto_pad", "NOTSET");
    p.geo.nkernel = attr_ints(n, "kernel_shape", p.geo.kernel_shape, FA_MAX_RANK);
    p.geo.npads = attr_ints(n, "pads", p.geo.pads, 2 * FA_MAX_RANK);
    p.geo.nstrides = attr_ints(n, "strides", p.geo.strides, FA_MAX_RANK);
    p.geo.ndilations = attr_ints(n, "dilations", p.geo.dilations, FA_MAX_RANK);
    if (p.geo.nkernel > FA_MAX_RANK || p.geo.npads > 2 * FA_MAX_RANK ||
        p.geo.nstrides > FA_MAX_RANK || p.geo.ndilations > FA_MAX_RANK)
        return fa_rt_err(is_max ? "MaxPool" : "AveragePool", "attribute list too long");
    if (n->num_results > 1)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "MaxPool: the Indices output is not "
                                                     "supported");
    return fa_rt_pool(x, &p, out, al);
}

/* Operand |i| or NULL if omitted. */
#define OPT(i) ((i) < nin ? ins[(i)] : NULL)

fa_status fa_rt_interp_exec_node(const fa_node *n, const fa_rt_tensor *const *ins, uint32_t nin,
                                 fa_rt_tensor *outs, bool *out_owned, const fa_rt_allocator *al) {
    const fa_op_info *info = fa_op_get(n->op);
    const char *name = info->onnx_name ? info->onnx_name : info->name;
    for (uint32_t i = 0; i < n->num_results; i++) {
        memset(&outs[i], 0, sizeof outs[i]);
        out_owned[i] = true;
    }
    /* required operands must be present */
    for (uint32_t i = 0; i < info->min_in && i < nin; i++)
        if (!ins[i])
            return fa_rt_err(name, "required operand %u is missing", i);
    if (nin < info->min_in)
        return fa_rt_err(name, "expects at least %u operands, got %u", info->min_in, nin);
    fa_rt_tensor *out = &outs[0];
    int64_t ibuf[FA_MAX_RANK];
    uint32_t ni;
    bool has;
    fa_rt_unop uop;
    switch (n->op) {
    case FA_OP_ADD:
    case FA_OP_SUB:
    case FA_OP_MUL:
    case FA_OP_DIV:
    case FA_OP_POW:
    case FA_OP_EQUAL:
    case FA_OP_LESS:
    case FA_OP_LESS_OR_EQUAL:
    case FA_OP_GREATER:
    case FA_OP_GREATER_OR_EQUAL:
    case FA_OP_AND:
    case FA_OP_OR:
    case FA_OP_XOR: return fa_rt_binary(binop_of(n->op), ins[0], ins[1], out, al);
    case FA_OP_MOD:
        return fa_rt_binary(fa_node_attr_int(n, "fmod", 0) ? FA_RT_FMOD : FA_RT_MOD, ins[0], ins[1],
                            out, al);
    case FA_OP_MAX:
    case FA_OP_MIN:
    case FA_OP_SUM:
    case FA_OP_MEAN:
        for (uint32_t i = 0; i < nin; i++)
            if (!ins[i])
                return fa_rt_err(name, "operand %u is missing", i);
        return fa_rt_variadic(binop_of(n->op), n->op == FA_OP_MEAN, ins, nin, out, al);
    case FA_OP_WHERE: return fa_rt_where(ins[0], ins[1], ins[2], out, al);
    case FA_OP_CLIP: {
        uint64_t lo_buf = 0, hi_buf = 0;
        fa_rt_tensor lo_t, hi_t;
        const fa_rt_tensor *lo = OPT(1), *hi = OPT(2);
        if (!lo)
            lo = clip_bound(n, "min", ins[0]->dtype, &lo_buf, &lo_t);
        if (!hi)
            hi = clip_bound(n, "max", ins[0]->dtype, &hi_buf, &hi_t);
        return fa_rt_clip(ins[0], lo, hi, out, al);
    }
    case FA_OP_CAST: {
        int64_t to = fa_node_attr_int(n, "to", 0);
        if (to <= FA_DT_INVALID || to >= FA_DT_COUNT)
            return fa_rt_err(name, "bad target dtype %lld", (long long)to);
        return fa_rt_cast(ins[0], (fa_dtype)to, out, al);
    }
    case FA_OP_SOFTMAX:
    case FA_OP_LOG_SOFTMAX:
        return fa_rt_softmax(n->op == FA_OP_LOG_SOFTMAX, ins[0], fa_node_attr_int(n, "axis", -1),
                             out, al);
    case FA_OP_LAYER_NORMALIZATION:
        return fa_rt_layer_norm(ins[0], ins[1], OPT(2), fa_node_attr_int(n, "axis", -1),
                                fa_node_attr_float(n, "epsilon", 1e-5), out,
                                n->num_results > 1 ? &outs[1] : NULL,
                                n->num_results > 2 ? &outs[2] : NULL, al);
    case FA_OP_RMS_NORM:
    case FA_OP_LAYER_NORM:
        if (!fa_node_attr(n, "epsilon"))
            return fa_rt_err(name, "attribute epsilon is required");
        return fa_rt_norm(n->op == FA_OP_RMS_NORM ? FA_RT_NORM_RMS : FA_RT_NORM_LAYER, ins[0],
                          OPT(1), OPT(2), fa_node_attr_int(n, "axis", -1),
                          fa_node_attr_float(n, "epsilon", 0.0), out, al);
    case FA_OP_SWIGLU: return fa_rt_swiglu(ins[0], ins[1], out, al);
    case FA_OP_GELU: {
        const char *approx = fa_node_attr_string(n, "approximate", "none");
        if (strcmp(approx, "none") != 0 && strcmp(approx, "tanh") != 0)
            return fa_rt_err(name, "approximate must be \"none\" or \"tanh\", not '%s'", approx);
        return fa_rt_gelu(ins[0], strcmp(approx, "tanh") == 0, out, al);
    }
    case FA_OP_ROPE: {
        int64_t il = fa_node_attr_int(n, "interleaved", 0);
        if (il != 0 && il != 1)
            return fa_rt_err(name, "interleaved must be 0 or 1, not %lld", (long long)il);
        return fa_rt_rope(ins[0], ins[1], ins[2], il == 1, out, al);
    }
    case FA_OP_REDUCE_MEAN: return exec_reduce(n, FA_RT_REDUCE_MEAN, name, ins, nin, out, al);
    case FA_OP_REDUCE_SUM: return exec_reduce(n, FA_RT_REDUCE_SUM, name, ins, nin, out, al);
    case FA_OP_REDUCE_MAX: return exec_reduce(n, FA_RT_REDUCE_MAX, name, ins, nin, out, al);
    case FA_OP_REDUCE_MIN: return exec_reduce(n, FA_RT_REDUCE_MIN, name, ins, nin, out, al);
    case FA_OP_REDUCE_PROD: return exec_reduce(n, FA_RT_REDUCE_PROD, name, ins, nin, out, al);
    case FA_OP_REDUCE_L1: return exec_reduce(n, FA_RT_REDUCE_L1, name, ins, nin, out, al);
    case FA_OP_REDUCE_L2: return exec_reduce(n, FA_RT_REDUCE_L2, name, ins, nin, out, al);
    case FA_OP_REDUCE_LOG_SUM: return exec_reduce(n, FA_RT_REDUCE_LOG_SUM, name, ins, nin, out, al);
    case FA_OP_REDUCE_LOG_SUM_EXP:
        return exec_reduce(n, FA_RT_REDUCE_LOG_SUM_EXP, name, ins, nin, out, al);
    case FA_OP_REDUCE_SUM_SQUARE:
        return exec_reduce(n, FA_RT_REDUCE_SUM_SQUARE, name, ins, nin, out, al);
    case FA_OP_HARDMAX: return fa_rt_hardmax(ins[0], fa_node_attr_int(n, "axis", -1), out, al);
    case FA_OP_TOP_K:
        return fa_rt_top_k(ins[0], ins[1], fa_node_attr_int(n, "axis", -1),
                           fa_node_attr_int(n, "largest", 1) != 0, &outs[0], &outs[1], al);
    case FA_OP_PRELU: return fa_rt_binary(FA_RT_PRELU, ins[0], ins[1], out, al);
    case FA_OP_BIT_SHIFT: {
        const char *dir = fa_node_attr_string(n, "direction", "");
        if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
            return fa_rt_err(name, "direction must be LEFT or RIGHT");
        return fa_rt_binary(!strcmp(dir, "LEFT") ? FA_RT_SHIFT_LEFT : FA_RT_SHIFT_RIGHT, ins[0],
                            ins[1], out, al);
    }
    case FA_OP_CAST_LIKE: return fa_rt_cast(ins[0], ins[1]->dtype, out, al);
    case FA_OP_DROPOUT:
        if (OPT(2) && fa_rt_tensor_num_elements(ins[2]) == 1 &&
            fa_rt_load_i64(ins[2]->dtype, ins[2]->data, 0))
            return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: training mode is not supported",
                                  name);
        FA_TRY(fa_rt_copy(ins[0], out, al));
        if (n->num_results > 1) {
            fa_status s =
                fa_rt_alloc_out(name, &outs[1], FA_DT_BOOL, ins[0]->rank, ins[0]->dims, al);
            if (s) {
                fa_rt_tensor_free(out, al);
                return s;
            }
            memset(outs[1].data, 1, (size_t)outs[1].nbytes);
        }
        return FA_OK;
    case FA_OP_BATCH_NORMALIZATION:
        if (fa_node_attr_int(n, "training_mode", 0) || n->num_results > 1)
            return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: training mode is not supported",
                                  name);
        return fa_rt_batch_norm(ins[0], ins[1], ins[2], ins[3], ins[4],
                                fa_node_attr_float(n, "epsilon", 1e-5), out, al);
    case FA_OP_INSTANCE_NORMALIZATION:
        return fa_rt_instance_norm(ins[0], ins[1], ins[2], fa_node_attr_float(n, "epsilon", 1e-5),
                                   out, al);
    case FA_OP_MEAN_VARIANCE_NORMALIZATION: {
        int64_t axes[FA_MAX_RANK] = {0, 2, 3};
        int na = attr_ints(n, "axes", axes, FA_MAX_RANK);
        if (na > FA_MAX_RANK)
            return fa_rt_err(name, "too many axes");
        return fa_rt_mean_variance_norm(ins[0], axes, na ? (uint32_t)na : 3, out, al);
    }
    case FA_OP_MAX_POOL: return exec_pool(n, true, ins[0], out, al);
    case FA_OP_AVERAGE_POOL: return exec_pool(n, false, ins[0], out, al);
    case FA_OP_GLOBAL_MAX_POOL: return fa_rt_global_pool(true, ins[0], out, al);
    case FA_OP_GLOBAL_AVERAGE_POOL: return fa_rt_global_pool(false, ins[0], out, al);
    case FA_OP_DEPTH_TO_SPACE: {
        const char *mode = fa_node_attr_string(n, "mode", "DCR");
        if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
            return fa_rt_err(name, "mode must be DCR or CRD");
        return fa_rt_depth_to_space(ins[0], fa_node_attr_int(n, "blocksize", 0),
                                    !strcmp(mode, "CRD"), out, al);
    }
    case FA_OP_SPACE_TO_DEPTH:
        return fa_rt_space_to_depth(ins[0], fa_node_attr_int(n, "blocksize", 0), out, al);
    case FA_OP_SCATTER_ELEMENTS:
    case FA_OP_SCATTER_ND: {
        fa_rt_scatter_reduction red;
        if (!scatter_reduction(n, &red))
            return fa_rt_err(name, "unknown reduction");
        if (n->op == FA_OP_SCATTER_ND)
            return fa_rt_scatter_nd(ins[0], ins[1], ins[2], red, out, al);
        return fa_rt_scatter_elements(ins[0], ins[1], ins[2], fa_node_attr_int(n, "axis", 0), red,
                                      out, al);
    }
    case FA_OP_GATHER_ND:
        return fa_rt_gather_nd(ins[0], ins[1], fa_node_attr_int(n, "batch_dims", 0), out, al);
    case FA_OP_ONE_HOT:
        return fa_rt_one_hot(ins[0], ins[1], ins[2], fa_node_attr_int(n, "axis", -1), out, al);
    case FA_OP_NON_ZERO: return fa_rt_non_zero(ins[0], out, al);
    case FA_OP_RESIZE: {
        fa_rt_resize_params p = {
            fa_node_attr_string(n, "mode", "nearest"),
            fa_node_attr_string(n, "coordinate_transformation_mode", "half_pixel"),
            fa_node_attr_string(n, "nearest_mode", "round_prefer_floor"),
            fa_node_attr_float(n, "cubic_coeff_a", -0.75),
            fa_node_attr_int(n, "exclude_outside", 0) != 0,
            fa_node_attr_float(n, "extrapolation_value", 0.0),
        };
        return fa_rt_resize(ins[0], OPT(1), OPT(2), OPT(3), &p, out, al);
    }
    case FA_OP_EINSUM:
        for (uint32_t i = 0; i < nin; i++)
            if (!ins[i])
                return fa_rt_err(name, "operand %u is missing", i);
        return fa_rt_einsum(fa_node_attr_string(n, "equation", ""), ins, nin, out, al);
    case FA_OP_ARG_MAX:
    case FA_OP_ARG_MIN:
        return fa_rt_arg_reduce(n->op == FA_OP_ARG_MAX, ins[0], fa_node_attr_int(n, "axis", 0),
                                fa_node_attr_int(n, "keepdims", 1) != 0,
                                fa_node_attr_int(n, "select_last_index", 0) != 0, out, al);
    case FA_OP_CUM_SUM:
        return fa_rt_cum_sum(ins[0], ins[1], fa_node_attr_int(n, "exclusive", 0) != 0,
                             fa_node_attr_int(n, "reverse", 0) != 0, out, al);
    case FA_OP_MAT_MUL: return fa_rt_matmul(ins[0], ins[1], out, al);
    case FA_OP_LINEAR: return fa_rt_linear(ins[0], ins[1], OPT(2), out, al);
    case FA_OP_GEMM:
        return fa_rt_gemm(ins[0], ins[1], OPT(2), fa_node_attr_float(n, "alpha", 1.0),
                          fa_node_attr_float(n, "beta", 1.0), fa_node_attr_int(n, "transA", 0) != 0,
                          fa_node_attr_int(n, "transB", 0) != 0, out, al);
    case FA_OP_CONV: return exec_conv(n, ins, nin, out, al);
    case FA_OP_SHAPE:
        return fa_rt_shape(ins[0], fa_node_attr_int(n, "start", 0), fa_node_attr_int(n, "end", 0),
                           fa_node_attr(n, "end") != NULL, out, al);
    case FA_OP_SIZE: return fa_rt_size(ins[0], out, al);
    case FA_OP_RESHAPE:
        return fa_rt_reshape(ins[0], ins[1], fa_node_attr_int(n, "allowzero", 0) != 0, out, al);
    case FA_OP_TRANSPOSE: {
        int np = attr_ints(n, "perm", ibuf, FA_MAX_RANK);
        if (np > FA_MAX_RANK)
            return fa_rt_err(name, "perm too long");
        return fa_rt_transpose(ins[0], ibuf, np, out, al);
    }
    case FA_OP_UNSQUEEZE:
        FA_TRY(ints_from(name, n, ins, nin, 1, "axes", ibuf, FA_MAX_RANK, &ni, &has));
        if (!has)
            return fa_rt_err(name, "axes are required");
        return fa_rt_unsqueeze(ins[0], ibuf, ni, out, al);
    case FA_OP_SQUEEZE:
        FA_TRY(ints_from(name, n, ins, nin, 1, "axes", ibuf, FA_MAX_RANK, &ni, &has));
        return fa_rt_squeeze(ins[0], has && ni ? ibuf : NULL, ni, out, al);
    case FA_OP_FLATTEN: return fa_rt_flatten(ins[0], fa_node_attr_int(n, "axis", 1), out, al);
    case FA_OP_CONCAT:
        for (uint32_t i = 0; i < nin; i++)
            if (!ins[i])
                return fa_rt_err(name, "operand %u is missing", i);
        return fa_rt_concat(ins, nin, fa_node_attr_int(n, "axis", 0), out, al);
    case FA_OP_SPLIT: {
        const fa_rt_tensor *split = OPT(1);
        fa_rt_tensor split_view;
        const fa_attr *a = fa_node_attr(n, "split");
        if (!split && a && a->kind == FA_ATTR_INTS) {
            int64_t len = a->u.ints.n;
            split_view = fa_rt_tensor_view(FA_DT_I64, 1, &len, a->u.ints.v, (uint64_t)len * 8);
            split = &split_view;
        }
        return fa_rt_split(ins[0], fa_node_attr_int(n, "axis", 0), split, outs, n->num_results, al);
    }
    case FA_OP_SLICE: return fa_rt_slice(ins[0], ins[1], ins[2], OPT(3), OPT(4), out, al);
    case FA_OP_GATHER: return fa_rt_gather(ins[0], ins[1], fa_node_attr_int(n, "axis", 0), out, al);
    case FA_OP_GATHER_ELEMENTS:
        return fa_rt_gather_elements(ins[0], ins[1], fa_node_attr_int(n, "axis", 0), out, al);
    case FA_OP_EXPAND: return fa_rt_expand(ins[0], ins[1], out, al);
    case FA_OP_TILE: return fa_rt_tile(ins[0], ins[1], out, al);
    case FA_OP_PAD:
        return fa_rt_pad(ins[0], ins[1], OPT(2), OPT(3), fa_node_attr_string(n, "mode", NULL), out,
                         al);
    case FA_OP_CONSTANT: return exec_constant(n, out, &out_owned[0], al);
    case FA_OP_CONSTANT_OF_SHAPE: {
        const fa_attr *a = fa_node_attr(n, "value");
        fa_rt_tensor v;
        const fa_rt_tensor *vp = NULL;
        if (a && a->kind == FA_ATTR_TENSOR) {
            const fa_tensor *t = a->u.t;
            int64_t dims[FA_MAX_RANK];
            for (int i = 0; i < t->type.rank; i++)
                dims[i] = t->type.dims[i].value;
            v = fa_rt_tensor_view(t->type.dtype, t->type.rank, dims, t->data, t->nbytes);
            vp = &v;
        }
        return fa_rt_constant_of_shape(ins[0], vp, out, al);
    }
    case FA_OP_RANGE: return fa_rt_range(ins[0], ins[1], ins[2], out, al);
    case FA_OP_TRILU:
        return fa_rt_trilu(ins[0], OPT(1), fa_node_attr_int(n, "upper", 1) != 0, out, al);
    case FA_OP_QUANTIZE_LINEAR:
        return fa_rt_quantize_linear(ins[0], ins[1], OPT(2), fa_node_attr_int(n, "axis", 1), out,
                                     al);
    case FA_OP_DEQUANTIZE_LINEAR:
        return fa_rt_dequantize_linear(ins[0], ins[1], OPT(2), fa_node_attr_int(n, "axis", 1), out,
                                       al);
    case FA_OP_DYNAMIC_QUANTIZE_LINEAR:
        return fa_rt_dynamic_quantize_linear(ins[0], &outs[0], &outs[1], &outs[2], al);
    case FA_OP_MAT_MUL_INTEGER:
        return fa_rt_matmul_integer(ins[0], ins[1], OPT(2), OPT(3), out, al);
    case FA_OP_MAT_MUL_N_BITS:
        if (OPT(4))
            return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: g_idx is not supported", name);
        return fa_rt_matmul_nbits(ins[0], ins[1], ins[2], OPT(3), OPT(5),
                                  fa_node_attr_int(n, "K", 0), fa_node_attr_int(n, "N", 0),
                                  fa_node_attr_int(n, "bits", 4),
                                  fa_node_attr_int(n, "block_size", 0), out, al);
    case FA_OP_TOKEN_TYPE:
        return fa_rt_token_type(fa_node_attr_string(n, "rule", ""), ins[0], out, al);
    case FA_OP_ROUTED_TRANSFORM:
        if (!OPT(2))
            return fa_rt_err(name, "operand 2 (a) is missing");
        return fa_rt_routed_transform(ins[0], OPT(1), ins[2], out, al);
    case FA_OP_QUANTIZE:
        return fa_rt_quantize(ins[0], OPT(1), OPT(2), fa_node_attr_int(n, "bits", 0), &outs[0],
                              &outs[1], al);
    case FA_OP_QLINEAR:
        return fa_rt_qlinear(ins[0], ins[1], ins[2], ins[3], OPT(4),
                             fa_node_attr_int(n, "group", 0), out, al);
    case FA_OP_DEQUANTIZE:
        return fa_rt_dequantize(ins[0], ins[1], fa_node_attr_int(n, "group", 0), out, al);
    default:
        if (unop_of(n->op, &uop)) {
            double alpha, beta;
            unary_params(n, &alpha, &beta);
            return fa_rt_unary(uop, alpha, beta, ins[0], out, al);
        }
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: no reference kernel for this op", name);
    }
}
