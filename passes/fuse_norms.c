/* fuse-norms: the RMSNorm op chain PyTorch exports becomes freeact `rms_norm`, and ONNX
 * LayerNormalization becomes `layer_norm`, so the quantization passes see each norm (and its
 * gamma, to fold into the next weights) as one node. Patterns for the greedy driver (rewrite.h).
 *
 * Design note. The RMSNorm chain is matched backwards from its normalizing node, Div(x, s) or
 * Mul(x, inv) in either operand order, where s = Sqrt(Add(ReduceMean(Pow(x, 2) or Mul(x, x),
 * axes = [last], keepdims = 1), eps)) (Add in either order) and inv = Reciprocal(s) or Div(1, s);
 * then forwards to an optional Mul by a constant gamma [d]. Every value inside the chain must
 * have exactly one reader (so erasing the chain loses nothing), every constant must be what the
 * formula needs (one-element 2, eps, 1 of a rank that does not widen the broadcast), and x must
 * be a float tensor of known rank. Anything else leaves the graph alone. The fused chain's nodes
 * are erased here and constants that lose their last reader go with them; no dce is needed. */
#include <string.h>

#include "passes/pass.h"
#include "passes/rewrite.h"

#define MAX_CHAIN 8

static bool is_const(const fa_value *v) { return v && v->kind == FA_VALUE_CONST && !v->dead; }

/* True if |v| is read exactly once, by a node (not by a graph output). */
static bool has_one_use(const fa_graph *g, const fa_value *v) {
    return v->num_uses == 1 && !fa_value_is_output(g, v);
}

/* The live node of |op| defining |v| with one result, or NULL. */
static fa_node *def_of(const fa_value *v, fa_op op) {
    if (!v || v->kind != FA_VALUE_RESULT || !v->def || v->def->dead || v->def->op != op ||
        v->def->num_results != 1)
        return NULL;
    return v->def;
}

/* The value of a one-element f32/f64/i32/i64 constant whose rank is at most |max_rank| (so
 * broadcasting it changes no shape). */
static bool const_scalar(const fa_value *v, int max_rank, double *out) {
    if (!is_const(v) || v->type.rank > max_rank)
        return false;
    uint64_t count;
    if (fa_type_num_elements(&v->type, &count) || count != 1)
        return false;
    const void *p = v->tensor->data;
    switch (v->type.dtype) {
    case FA_DT_F32: {
        float f;
        memcpy(&f, p, sizeof f);
        *out = f;
        return true;
    }
    case FA_DT_F64: memcpy(out, p, sizeof *out); return true;
    case FA_DT_I32: {
        int32_t i;
        memcpy(&i, p, sizeof i);
        *out = i;
        return true;
    }
    case FA_DT_I64: {
        int64_t i;
        memcpy(&i, p, sizeof i);
        *out = (double)i;
        return true;
    }
    default: return false;
    }
}

/* The other operand of binary node |n| than operand |i|. */
static fa_value *other(const fa_node *n, uint32_t i) { return n->operands[i == 0 ? 1 : 0]; }

/* One matched RMSNorm: x, eps, gamma (or NULL), and the chain's nodes in program order from the
 * squaring up to (not including) the normalizing node. */
typedef struct rms_match {
    fa_value *x, *gamma;
    double eps;
    fa_node *chain[MAX_CHAIN];
    unsigned len;
} rms_match;

static void push(rms_match *m, fa_node *n) {
    FA_ASSERT(m->len < MAX_CHAIN);
    m->chain[m->len++] = n;
}

/* True if ReduceMean |r| averages over exactly the last axis of a rank-|rank| tensor and keeps
 * it. Axes come from the attribute (opset < 18) or a constant operand (opset 18). */
static bool reduces_last_axis(const fa_node *r, int rank) {
    if (fa_node_attr_int(r, "keepdims", 1) != 1)
        return false;
    const fa_attr *a = fa_node_attr(r, "axes");
    int64_t axis;
    if (a) {
        if (a->kind != FA_ATTR_INTS || a->u.ints.n != 1 || r->num_operands > 1)
            return false;
        axis = a->u.ints.v[0];
    } else {
        double v;
        const fa_value *c = r->num_operands > 1 ? r->operands[1] : NULL;
        if (!c || !fa_dtype_is_int(c->type.dtype) || !const_scalar(c, 1, &v))
            return false;
        axis = (int64_t)v;
    }
    return axis == -1 || axis == rank - 1;
}

/* The node computing |sq| = Pow(x, 2) or Mul(x, x), or NULL. */
static fa_node *square_of(const fa_value *sq, const fa_value *x) {
    fa_node *pow = def_of(sq, FA_OP_POW), *mul = def_of(sq, FA_OP_MUL);
    double two;
    if (pow && pow->operands[0] == x && const_scalar(pow->operands[1], x->type.rank, &two) &&
        two == 2.0)
        return pow;
    if (mul && mul->operands[0] == x && mul->operands[1] == x)
        return mul;
    return NULL;
}

/* Matches s = Sqrt(Add(ReduceMean(x^2), eps)) over |x| and pushes its nodes onto |m|. */
static bool match_denominator(const fa_graph *g, fa_value *s, fa_value *x, rms_match *m) {
    int rank = x->type.rank;
    fa_node *sq_root = def_of(s, FA_OP_SQRT);
    if (rank < 1 || !sq_root || !has_one_use(g, s))
        return false;
    fa_value *v = sq_root->operands[0];
    fa_node *add = def_of(v, FA_OP_ADD);
    if (!add || !has_one_use(g, v))
        return false;
    fa_value *r = NULL;
    for (uint32_t i = 0; i < 2 && !r; i++)
        if (def_of(add->operands[i], FA_OP_REDUCE_MEAN) &&
            fa_dtype_is_float(other(add, i)->type.dtype) &&
            const_scalar(other(add, i), rank, &m->eps))
            r = add->operands[i];
    fa_node *mean = def_of(r, FA_OP_REDUCE_MEAN);
    if (!mean || !has_one_use(g, r) || !reduces_last_axis(mean, rank) || !(m->eps >= 0))
        return false;
    fa_value *sq = mean->operands[0];
    fa_node *square = square_of(sq, x);
    if (!square || !has_one_use(g, sq))
        return false;
    push(m, square);
    push(m, mean);
    push(m, add);
    push(m, sq_root);
    return true;
}

/* Matches the normalizing node |n|: Div(x, s), Mul(x, Reciprocal(s)) or Mul(x, Div(1, s)) with
 * Mul's operands in either order. |n| itself is not pushed. */
static bool match_normalize(const fa_graph *g, fa_node *n, rms_match *m) {
    if (n->num_operands != 2 || n->num_results != 1)
        return false;
    if (n->op == FA_OP_DIV) {
        m->x = n->operands[0];
        return match_denominator(g, n->operands[1], m->x, m);
    }
    if (n->op != FA_OP_MUL)
        return false;
    for (uint32_t i = 0; i < 2; i++) {
        fa_value *inv = n->operands[i];
        fa_node *rec = def_of(inv, FA_OP_RECIPROCAL), *div = def_of(inv, FA_OP_DIV);
        double one;
        fa_value *s = rec ? rec->operands[0] : div ? div->operands[1] : NULL;
        if (!s || !has_one_use(g, inv) ||
            (div && !(const_scalar(div->operands[0], s->type.rank, &one) && one == 1.0)))
            continue;
        m->len = 0;
        m->x = other(n, i);
        if (!match_denominator(g, s, m->x, m))
            continue;
        push(m, rec ? rec : div);
        return true;
    }
    return false;
}

/* Mul(n, gamma) or Mul(gamma, n), gamma a constant [d] of x's dtype, if it is the only reader of
 * |n|'s result. */
static fa_value *match_gamma(const fa_graph *g, const fa_node *n, const fa_value *x,
                             fa_node **out_mul) {
    const fa_value *y = n->results[0];
    if (!has_one_use(g, y))
        return NULL;
    fa_node *mul = y->uses[0].node;
    if (mul->op != FA_OP_MUL || mul->num_operands != 2 || mul->num_results != 1)
        return NULL;
    fa_value *gamma = other(mul, y->uses[0].operand);
    fa_dim d = x->type.dims[x->type.rank - 1];
    if (!is_const(gamma) || gamma->type.dtype != x->type.dtype || gamma->type.rank != 1 ||
        !fa_dim_is_static(d) || gamma->type.dims[0].value != d.value)
        return NULL;
    *out_mul = mul;
    return gamma;
}

/* Creates |op|(operands) with |root|'s name and result name in place of |root|, replaces its
 * result, and erases |root|. Returns the new node. */
static fa_node *replace_root(fa_graph *g, fa_node *root, fa_op op, fa_value *const *operands,
                             uint32_t num_operands, const fa_type *type) {
    fa_node *fused = fa_graph_create_node(g, root, op, operands, num_operands, type, 1);
    if (root->name)
        fa_node_set_name(g, fused, root->name);
    fa_value *from = root->results[0];
    const char *name = from->name;
    fa_value_replace_uses(g, from, fused->results[0]);
    fa_graph_erase_node(g, root);
    if (name)
        fa_value_set_name(g, fused->results[0], name);
    return fused;
}

/* Erases the chain's nodes (readers first) and the constants they alone read. */
static void erase_chain(fa_graph *g, const rms_match *m) {
    fa_value *consts[2 * MAX_CHAIN];
    unsigned nconsts = 0;
    for (unsigned i = m->len; i-- > 0;) {
        fa_node *n = m->chain[i];
        for (uint32_t k = 0; k < n->num_operands; k++)
            if (is_const(n->operands[k]))
                consts[nconsts++] = n->operands[k];
        fa_graph_erase_node(g, n);
    }
    for (unsigned i = 0; i < nconsts; i++)
        if (is_const(consts[i]) && !fa_value_has_uses(consts[i]) &&
            !fa_value_is_output(g, consts[i]))
            fa_graph_erase_const(g, consts[i]);
}

/* True if |a| and |b| have one dtype and rank and no two static dims differ (the normalizing
 * node's result has x's shape; a dim may be known on one side only). */
static bool types_agree(const fa_type *a, const fa_type *b) {
    if (a->dtype != b->dtype || a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (fa_dim_is_static(a->dims[i]) && fa_dim_is_static(b->dims[i]) &&
            a->dims[i].value != b->dims[i].value)
            return false;
    return true;
}

static bool rms_norm_chain(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)user;
    (void)out_status;
    if (n->op != FA_OP_DIV && n->op != FA_OP_MUL)
        return false;
    rms_match m;
    memset(&m, 0, sizeof m);
    if (!match_normalize(g, n, &m))
        return false;
    fa_value *x = m.x;
    if (!x || !fa_dtype_is_float(x->type.dtype) || x->type.rank < 1 ||
        !types_agree(&x->type, &n->results[0]->type))
        return false;
    fa_node *gamma_mul = NULL;
    m.gamma = match_gamma(g, n, x, &gamma_mul);
    fa_value *ops[2] = {x, m.gamma};
    fa_node *fused =
        replace_root(g, gamma_mul ? gamma_mul : n, FA_OP_RMS_NORM, ops, m.gamma ? 2 : 1, &x->type);
    fa_node_set_attr_float(g, fused, "epsilon", m.eps);
    if (gamma_mul)
        push(&m, n); /* now unread: its reader was the gamma Mul */
    erase_chain(g, &m);
    return true;
}

/* True if the optional operand |p| of LayerNormalization has x's dtype and exactly the
 * normalized dims [axis, rank) of |x|. */
static bool is_exact_param(const fa_value *p, const fa_type *x, int axis) {
    if (!p)
        return true;
    if (p->type.dtype != x->dtype || p->type.rank != x->rank - axis)
        return false;
    for (int i = 0; i < p->type.rank; i++)
        if (!fa_dim_equal(p->type.dims[i], x->dims[axis + i]) || !fa_dim_is_static(p->type.dims[i]))
            return false;
    return true;
}

/* LayerNormalization(x, scale, [bias]) whose mean / inv-std results are unused, computing in
 * f32 (stash_type 1) -> layer_norm(x, scale, [bias]) with the same axis and epsilon. */
static bool layer_normalization(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)user;
    (void)out_status;
    if (n->op != FA_OP_LAYER_NORMALIZATION || n->num_operands < 2)
        return false;
    for (uint32_t i = 1; i < n->num_results; i++)
        if (fa_value_has_uses(n->results[i]) || fa_value_is_output(g, n->results[i]))
            return false;
    fa_value *x = n->operands[0], *scale = n->operands[1];
    fa_value *bias = n->num_operands > 2 ? n->operands[2] : NULL;
    int64_t axis = fa_node_attr_int(n, "axis", -1);
    int rank = x->type.rank;
    if (fa_node_attr_int(n, "stash_type", 1) != 1 || !fa_dtype_is_float(x->type.dtype) ||
        rank < 1 || axis < -rank || axis >= rank)
        return false;
    int ax = (int)(axis < 0 ? axis + rank : axis);
    if (!scale || !is_exact_param(scale, &x->type, ax) || !is_exact_param(bias, &x->type, ax))
        return false;
    const fa_attr *axis_attr = fa_node_attr(n, "axis");
    double eps = fa_node_attr_float(n, "epsilon", 1e-5);
    fa_value *ops[3] = {x, scale, bias};
    fa_node *fused =
        fa_graph_create_node(g, n, FA_OP_LAYER_NORM, ops, bias ? 3 : 2, &n->results[0]->type, 1);
    if (n->name)
        fa_node_set_name(g, fused, n->name);
    if (axis_attr)
        fa_node_set_attr_int(g, fused, "axis", axis);
    fa_node_set_attr_float(g, fused, "epsilon", eps);
    fa_value *from = n->results[0];
    const char *name = from->name;
    fa_value_replace_uses(g, from, fused->results[0]);
    fa_graph_erase_node(g, n);
    if (name)
        fa_value_set_name(g, fused->results[0], name);
    return true;
}

static const fa_pattern patterns[] = {
    {"rms-norm-chain", rms_norm_chain},
    {"layer-normalization", layer_normalization},
};

static fa_status run_fuse_norms(fa_graph *g, fa_pass_ctx *ctx) {
    (void)ctx;
    bool changed;
    return fa_rewrite_greedy(g, patterns, sizeof patterns / sizeof patterns[0], NULL, 0, &changed);
}

const fa_pass fa_pass_fuse_norms = {
    .name = "fuse-norms",
    .summary = "RMSNorm op chains -> rms_norm, LayerNormalization -> layer_norm",
    .run = run_fuse_norms,
    .requires = FA_PROP_NONE,
    .establishes = FA_PROP_NONE,
    .invalidates = FA_PROP_NONE,
};
