/* fuse-rope: the rotary position embedding chain Llama-style models export ("rotate half")
 * becomes one freeact `rope`, so codegen sees one row kernel instead of seven nodes. A pattern
 * for the greedy driver (rewrite.h).
 *
 * Design note. Matched backwards from the Add:
 *   Add(Mul(x, cos), Mul(Concat(Neg(Slice(x, h, E)), Slice(x, 0, h)) {axis last}, sin))
 *     -> rope(x, cos, sin)
 * with the Add and both Muls in either operand order. Both Slices read the same x, cut only its
 * last axis (axes a constant naming it, steps absent or 1) and meet at the same h; E is a
 * constant >= d (x's static last dim) or INT64_MAX. h is either one constant equal to d / 2 (d
 * static) or the value exporters compute from x's shape, Unsqueeze(Div(Gather(Shape(x), last),
 * 2), [0]) (or Div(Gather(Shape(x), [last]), 2)), i.e. floor(d / 2) at run time; rope's rot is
 * defined with that h, odd d included. x, cos, sin and the result are f32. rope broadcasts
 * x, cos and sin as the two Muls and the Add do, so no shape condition is needed for equal
 * results; every value inside the chain must have one reader and not be a graph output. The
 * fused node takes the x * cos Mul's loc and the Add's value name; the chain, the h
 * computation when nothing else reads it, and constants left unread go (no dce needed). The
 * interleaved (GPT-J) form is not matched. */
#include <stdint.h>

#include "passes/fold.h"
#include "passes/pass.h"
#include "passes/rewrite.h"

#define MAX_NODES 12

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

/* def_of, and |v| has one reader. */
static fa_node *single_def(const fa_graph *g, const fa_value *v, fa_op op) {
    fa_node *n = def_of(v, op);
    return n && has_one_use(g, v) ? n : NULL;
}

static fa_value *other(const fa_node *n, uint32_t i) { return n->operands[i == 0 ? 1 : 0]; }

static bool is_binary(const fa_node *n) {
    return n && n->num_operands == 2 && n->num_results == 1 && n->operands[0] && n->operands[1];
}

/* The one element of small integer constant |v|, of rank at most |max_rank|. */
static bool const_int(const fa_value *v, int max_rank, int64_t *out) {
    fa_fold_tensor t;
    if (!is_const(v) || !fa_fold_read_const(v, &t) || t.n != 1 || t.type.rank > max_rank ||
        t.type.dtype == FA_DT_BOOL)
        return false;
    *out = t.v[0];
    return true;
}

/* True if |axis| names the last axis of a rank-|rank| value. */
static bool is_last_axis(int64_t axis, int rank) {
    return rank >= 1 && (axis == -1 || axis == rank - 1);
}

/* The nodes a match erases: the chain (readers first) and the h computation (readers first,
 * each only if nothing else reads it by then). */
typedef struct match {
    fa_node *chain[7];
    fa_node *half[4];
    unsigned nhalf;
} match;

/* True if |h| is floor(d / 2) of x's last dim d computed from x's shape: Unsqueeze(Div(Gather(
 * Shape(x), last), 2), [0]) with a scalar index, or Div(Gather(Shape(x), [last]), 2). Records
 * the nodes in |m|. */
static bool half_from_shape(const fa_value *h, const fa_value *x, match *m) {
    int rank = x->type.rank;
    fa_node *unsq = def_of(h, FA_OP_UNSQUEEZE), *div = NULL;
    m->nhalf = 0;
    if (unsq) {
        int64_t ax;
        const fa_attr *axes = fa_node_attr(unsq, "axes");
        bool axis0 = unsq->num_operands == 2
                         ? !axes && const_int(unsq->operands[1], 1, &ax) && ax == 0
                         : axes && axes->kind == FA_ATTR_INTS && axes->u.ints.n == 1 &&
                               axes->u.ints.v[0] == 0;
        if (!axis0)
            return false;
        m->half[m->nhalf++] = unsq;
        div = def_of(unsq->operands[0], FA_OP_DIV);
    } else {
        div = def_of(h, FA_OP_DIV);
    }
    int64_t two, idx;
    if (!is_binary(div) || !const_int(div->operands[1], 1, &two) || two != 2)
        return false;
    fa_node *gather = def_of(div->operands[0], FA_OP_GATHER);
    if (!is_binary(gather) || fa_node_attr_int(gather, "axis", 0) != 0)
        return false;
    /* the index: a scalar under an Unsqueeze, a [1] without one */
    const fa_value *iv = gather->operands[1];
    if (!const_int(iv, 1, &idx) || iv->type.rank != (unsq ? 0 : 1) || !is_last_axis(idx, rank))
        return false;
    fa_node *shape = def_of(gather->operands[0], FA_OP_SHAPE);
    if (!shape || shape->operands[0] != x || fa_node_attr(shape, "start") ||
        fa_node_attr(shape, "end"))
        return false;
    m->half[m->nhalf++] = div;
    m->half[m->nhalf++] = gather;
    m->half[m->nhalf++] = shape;
    return true;
}

/* True if |s| is Slice(x, start, end) along x's last axis with step 1; sets its data, start and
 * end operands. */
static bool last_axis_slice(const fa_node *s, fa_value **out_x, fa_value **out_start,
                            fa_value **out_end) {
    if (!s || s->num_operands < 3 || !s->operands[0] || !s->operands[1] || !s->operands[2])
        return false;
    int rank = s->operands[0]->type.rank;
    int64_t v;
    const fa_value *axes = s->num_operands > 3 ? s->operands[3] : NULL;
    const fa_value *steps = s->num_operands > 4 ? s->operands[4] : NULL;
    if (axes ? !const_int(axes, 1, &v) || !is_last_axis(v, rank) : rank != 1)
        return false;
    if (steps && (!const_int(steps, 1, &v) || v != 1))
        return false;
    *out_x = s->operands[0];
    *out_start = s->operands[1];
    *out_end = s->operands[2];
    return true;
}

/* Slice(x, h, E) and Slice(x, 0, h): the halves of x's last axis, split at floor(d / 2). */
static bool halves(fa_node *hi, fa_node *lo, fa_value **out_x, match *m) {
    fa_value *x, *x_lo, *h, *end, *zero, *h_lo;
    if (!last_axis_slice(hi, &x, &h, &end) || !last_axis_slice(lo, &x_lo, &zero, &h_lo) ||
        x != x_lo || x->type.rank < 1)
        return false;
    int64_t z, e, hv, hv_lo;
    if (!const_int(zero, 1, &z) || z != 0 || !const_int(end, 1, &e))
        return false;
    fa_dim d = x->type.dims[x->type.rank - 1];
    bool d_static = fa_dim_is_static(d);
    if (e != INT64_MAX && !(d_static && e >= d.value))
        return false;
    if (const_int(h, 1, &hv)) {
        m->nhalf = 0;
        if (!d_static || hv != d.value / 2 || !const_int(h_lo, 1, &hv_lo) || hv_lo != hv)
            return false;
    } else if (h != h_lo || !half_from_shape(h, x, m)) {
        return false;
    }
    *out_x = x;
    return true;
}

/* Concat(Neg(Slice(x, h, E)), Slice(x, 0, h)) along the last axis: rot(x). */
static bool rotate_half(const fa_graph *g, const fa_value *r, fa_value **out_x, match *m) {
    fa_node *cat = single_def(g, r, FA_OP_CONCAT);
    if (!is_binary(cat) || !is_last_axis(fa_node_attr_int(cat, "axis", 0), r->type.rank))
        return false;
    fa_node *neg = single_def(g, cat->operands[0], FA_OP_NEG);
    if (!neg || !neg->operands[0])
        return false;
    fa_node *hi = single_def(g, neg->operands[0], FA_OP_SLICE);
    fa_node *lo = single_def(g, cat->operands[1], FA_OP_SLICE);
    if (!hi || !lo || !halves(hi, lo, out_x, m))
        return false;
    m->chain[3] = cat;
    m->chain[4] = neg;
    m->chain[5] = hi;
    m->chain[6] = lo;
    return true;
}

static bool is_f32(const fa_value *v) { return v->type.dtype == FA_DT_F32; }

/* Creates rope(x, cos, sin) in place of the Add and erases what the match recorded. */
static void rewrite(fa_graph *g, match *m, fa_value *x, fa_value *cos, fa_value *sin) {
    fa_node *root = m->chain[0];
    fa_value *ops[3] = {x, cos, sin};
    fa_node *rope = fa_graph_create_node(g, root, FA_OP_ROPE, ops, 3, &root->results[0]->type, 1);
    const char *loc = m->chain[1]->name ? m->chain[1]->name : root->name;
    if (loc)
        fa_node_set_name(g, rope, loc);
    fa_value *from = root->results[0];
    const char *name = from->name;
    fa_value_replace_uses(g, from, rope->results[0]);
    fa_value *consts[4 * MAX_NODES];
    unsigned nconsts = 0;
    for (unsigned i = 0; i < 7 + m->nhalf; i++) {
        fa_node *n = i < 7 ? m->chain[i] : m->half[i - 7];
        if (i >= 7 && (fa_value_has_uses(n->results[0]) || fa_value_is_output(g, n->results[0])))
            break; /* the h computation is still read (by another chain): it and its inputs stay */
        for (uint32_t k = 0; k < n->num_operands && nconsts < 4 * MAX_NODES; k++)
            if (is_const(n->operands[k]))
                consts[nconsts++] = n->operands[k];
        fa_graph_erase_node(g, n);
    }
    for (unsigned i = 0; i < nconsts; i++)
        if (is_const(consts[i]) && !fa_value_has_uses(consts[i]) &&
            !fa_value_is_output(g, consts[i]))
            fa_graph_erase_const(g, consts[i]);
    if (name)
        fa_value_set_name(g, rope->results[0], name);
}

/* Add(Mul(x, cos), Mul(rot(x), sin)), the Add and the Muls in either order -> rope(x, cos, sin). */
static bool rope_chain(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)user;
    (void)out_status;
    if (n->op != FA_OP_ADD || !is_binary(n) || !is_f32(n->results[0]))
        return false;
    for (uint32_t i = 0; i < 2; i++) {
        fa_node *mc = single_def(g, n->operands[i], FA_OP_MUL);
        fa_node *ms = single_def(g, other(n, i), FA_OP_MUL);
        if (!is_binary(mc) || !is_binary(ms))
            continue;
        for (uint32_t j = 0; j < 2; j++) {
            match m = {{n, mc, ms}, {NULL}, 0};
            fa_value *x, *sin = other(ms, j);
            if (!rotate_half(g, ms->operands[j], &x, &m))
                continue;
            for (uint32_t k = 0; k < 2; k++) {
                fa_value *cos = other(mc, k);
                if (mc->operands[k] != x || !is_f32(x) || !is_f32(cos) || !is_f32(sin))
                    continue;
                rewrite(g, &m, x, cos, sin);
                return true;
            }
        }
    }
    return false;
}

static const fa_pattern patterns[] = {
    {"rope-rotate-half", rope_chain},
};

static fa_status run_fuse_rope(fa_graph *g, fa_pass_ctx *ctx) {
    (void)ctx;
    bool changed;
    return fa_rewrite_greedy(g, patterns, sizeof patterns / sizeof patterns[0], NULL, 0, &changed);
}

const fa_pass fa_pass_fuse_rope = {
    .name = "fuse-rope",
    .summary = "Slice/Neg/Concat/Mul/Mul/Add rotate-half RoPE chains -> rope",
    .run = run_fuse_rope,
    .requires = FA_PROP_NONE,
    .establishes = FA_PROP_NONE,
    .invalidates = FA_PROP_NONE,
};
