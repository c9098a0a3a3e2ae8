/* fuse-activations: the SwiGLU and GELU op chains PyTorch exports become freeact `swiglu` and
 * `gelu`, so codegen and the quantization passes see each MLP activation as one node. Patterns
 * for the greedy driver (rewrite.h).
 *
 * Design note. Both chains are matched backwards from their last Mul. SwiGLU: Mul(Mul(g,
 * Sigmoid(g)), u) -> swiglu(g, u). GELU (erf form): Mul(Mul(x, Add(Erf(Div(x, sqrt 2) or Mul(x,
 * 1/sqrt 2)), 1)), 0.5) -> gelu(x). Every Mul and Add may have its operands in either order.
 * Every value inside a chain must have exactly one reader and not be a graph output (so erasing
 * the chain loses nothing); each constant must be a one-element f32 of a rank that does not
 * widen the broadcast, within 1e-6 relative of what the formula needs. swiglu does not
 * broadcast, so g and u must have one type (a dim unknown on both sides counts as equal; the
 * kernel checks at run time). The fused node takes the chain's first node's loc (the Sigmoid,
 * the Div) and the replaced value's name; the chain and the constants it alone read go, so no
 * dce is needed. */
#include <math.h>
#include <string.h>

#include "passes/pass.h"
#include "passes/rewrite.h"

#define MAX_CHAIN 6

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

/* The other operand of binary node |n| than operand |i|. */
static fa_value *other(const fa_node *n, uint32_t i) { return n->operands[i == 0 ? 1 : 0]; }

/* True if |n| is a binary node with one result (the shape of every Mul/Add/Div matched here). */
static bool is_binary(const fa_node *n) {
    return n && n->num_operands == 2 && n->num_results == 1 && n->operands[0] && n->operands[1];
}

/* True if |v| is a one-element f32 constant of rank at most |max_rank| (so broadcasting it
 * changes no shape) within 1e-6 relative of |want|. */
static bool const_near(const fa_value *v, int max_rank, double want) {
    if (!is_const(v) || v->type.dtype != FA_DT_F32 || v->type.rank > max_rank)
        return false;
    uint64_t count;
    if (fa_type_num_elements(&v->type, &count) || count != 1)
        return false;
    float f;
    memcpy(&f, v->tensor->data, sizeof f);
    return fabs((double)f - want) <= 1e-6 * fabs(want);
}

/* One matched chain: the fused node's operands and the chain's nodes in program order, the
 * root (the last Mul, replaced) excluded. */
typedef struct chain {
    fa_value *operands[2];
    fa_node *nodes[MAX_CHAIN];
    unsigned len;
} chain;

static void push(chain *c, fa_node *n) {
    FA_ASSERT(c->len < MAX_CHAIN);
    c->nodes[c->len++] = n;
}

/* True if |a| and |b| have one dtype, one known rank, and each dim pair is equal (same static
 * value or symbol) or unknown on both sides. */
static bool same_type(const fa_type *a, const fa_type *b) {
    if (a->dtype != b->dtype || a->rank < 0 || a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++) {
        fa_dim x = a->dims[i], y = b->dims[i];
        bool unknown = !fa_dim_is_static(x) && !x.sym && !fa_dim_is_static(y) && !y.sym;
        if (!fa_dim_equal(x, y) && !unknown)
            return false;
    }
    return true;
}

/* Creates |op|(c->operands[0..num_operands)) in place of |root| with the loc of the chain's first
 * node (or |root|'s if it has none) and |root|'s result type and name, replaces its result, and
 * erases |root|, the chain (readers first) and the constants only the chain read. */
static fa_node *replace_chain(fa_graph *g, fa_node *root, fa_op op, uint32_t num_operands,
                              const chain *c) {
    fa_node *fused =
        fa_graph_create_node(g, root, op, c->operands, num_operands, &root->results[0]->type, 1);
    const char *loc = c->len && c->nodes[0]->name ? c->nodes[0]->name : root->name;
    if (loc)
        fa_node_set_name(g, fused, loc);
    fa_value *from = root->results[0];
    const char *name = from->name;
    fa_value_replace_uses(g, from, fused->results[0]);
    fa_value *consts[2 * (MAX_CHAIN + 1)];
    unsigned nconsts = 0;
    for (unsigned i = c->len + 1; i-- > 0;) {
        fa_node *n = i == c->len ? root : c->nodes[i];
        for (uint32_t k = 0; k < n->num_operands; k++)
            if (is_const(n->operands[k]))
                consts[nconsts++] = n->operands[k];
        fa_graph_erase_node(g, n);
    }
    for (unsigned i = 0; i < nconsts; i++)
        if (is_const(consts[i]) && !fa_value_has_uses(consts[i]) &&
            !fa_value_is_output(g, consts[i]))
            fa_graph_erase_const(g, consts[i]);
    if (name)
        fa_value_set_name(g, fused->results[0], name);
    return fused;
}

/* Mul(Mul(g, Sigmoid(g)), u), every Mul in either order -> swiglu(g, u). */
static bool swiglu_chain(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)user;
    (void)out_status;
    if (n->op != FA_OP_MUL || !is_binary(n))
        return false;
    for (uint32_t i = 0; i < 2; i++) {
        fa_value *m = n->operands[i], *u = other(n, i);
        fa_node *gate = def_of(m, FA_OP_MUL);
        if (!is_binary(gate) || !has_one_use(g, m))
            continue;
        for (uint32_t j = 0; j < 2; j++) {
            fa_value *s = gate->operands[j], *x = other(gate, j);
            fa_node *sig = def_of(s, FA_OP_SIGMOID);
            if (!sig || sig->operands[0] != x || !has_one_use(g, s))
                continue;
            const fa_type *y = &n->results[0]->type;
            if (x->type.dtype != FA_DT_F32 || !same_type(&x->type, &u->type) ||
                !same_type(&x->type, y))
                continue;
            chain c = {{x, u}, {sig, gate}, 2};
            replace_chain(g, n, FA_OP_SWIGLU, 2, &c);
            return true;
        }
    }
    return false;
}

/* Erf(Div(x, sqrt 2)) or Erf(Mul(x, 1/sqrt 2)) (Mul in either order) with |e| its result: pushes
 * the Div or Mul and the Erf onto |c|. */
static bool match_erf(const fa_graph *g, const fa_value *e, const fa_value *x, chain *c) {
    fa_node *erf = def_of(e, FA_OP_ERF);
    if (!erf || !has_one_use(g, e))
        return false;
    fa_value *d = erf->operands[0];
    fa_node *div = def_of(d, FA_OP_DIV), *mul = def_of(d, FA_OP_MUL);
    if (!d || !has_one_use(g, d))
        return false;
    int rank = x->type.rank;
    bool ok = false;
    if (is_binary(div))
        ok = div->operands[0] == x && const_near(div->operands[1], rank, sqrt(2.0));
    for (uint32_t i = 0; i < 2 && is_binary(mul) && !ok; i++)
        ok = mul->operands[i] == x && const_near(other(mul, i), rank, sqrt(0.5));
    if (!ok)
        return false;
    push(c, div ? div : mul);
    push(c, erf);
    return true;
}

/* Mul(Mul(x, Add(Erf(x / sqrt 2), 1)), 0.5), every Mul and the Add in either order -> gelu(x)
 * (the erf form, approximate absent). */
static bool gelu_erf_chain(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)user;
    (void)out_status;
    if (n->op != FA_OP_MUL || !is_binary(n))
        return false;
    for (uint32_t i = 0; i < 2; i++) {
        fa_value *ma = n->operands[i];
        fa_node *mul = def_of(ma, FA_OP_MUL);
        if (!is_binary(mul) || !has_one_use(g, ma))
            continue;
        for (uint32_t j = 0; j < 2; j++) {
            fa_value *a = mul->operands[j], *x = other(mul, j);
            fa_node *add = def_of(a, FA_OP_ADD);
            int rank = x->type.rank;
            if (!is_binary(add) || !has_one_use(g, a) || x->type.dtype != FA_DT_F32 || rank < 0 ||
                !const_near(other(n, i), rank, 0.5) || !same_type(&x->type, &n->results[0]->type))
                continue;
            for (uint32_t k = 0; k < 2; k++) {
                chain c = {{x, NULL}, {NULL}, 0};
                if (!const_near(other(add, k), rank, 1.0) || !match_erf(g, add->operands[k], x, &c))
                    continue;
                push(&c, add);
                push(&c, mul);
                replace_chain(g, n, FA_OP_GELU, 1, &c);
                return true;
            }
        }
    }
    return false;
}

static const fa_pattern patterns[] = {
    {"swiglu-chain", swiglu_chain},
    {"gelu-erf-chain", gelu_erf_chain},
};

static fa_status run_fuse_activations(fa_graph *g, fa_pass_ctx *ctx) {
    (void)ctx;
    bool changed;
    return fa_rewrite_greedy(g, patterns, sizeof patterns / sizeof patterns[0], NULL, 0, &changed);
}

const fa_pass fa_pass_fuse_activations = {
    .name = "fuse-activations",
    .summary = "Sigmoid/Mul SwiGLU chains -> swiglu, Div/Erf/Add/Mul GELU chains -> gelu",
    .run = run_fuse_activations,
    .requires = FA_PROP_NONE,
    .establishes = FA_PROP_NONE,
    .invalidates = FA_PROP_NONE,
};
