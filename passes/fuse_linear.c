/* fuse-linear: MatMul and Gemm by a constant weight become freeact `linear` (y = x W^T + bias,
 * W [N, K]), with a following Add of a constant [N] row folded in as the bias. Every linear is
 * one quantization site for the passes after it. Patterns for the greedy driver (rewrite.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"
#include "passes/rewrite.h"

/* The transposed copies made so far (original [K, N] constant -> its [N, K] copy), so a weight
 * read by several MatMuls is transposed once. */
typedef struct linear_state {
    fa_value **from, **to;
    uint32_t count, cap;
} linear_state;

static bool is_const(const fa_value *v) { return v && v->kind == FA_VALUE_CONST && !v->dead; }

/* True if |v| is read exactly once, by a node (not by a graph output). */
static bool has_one_use(const fa_graph *g, const fa_value *v) {
    return v->num_uses == 1 && !fa_value_is_output(g, v);
}

/* A rank-2 f32 constant: the weights this pass takes (other dtypes wait for a need). */
static bool is_weight(const fa_value *w) {
    return is_const(w) && w->type.dtype == FA_DT_F32 && w->type.rank == 2 &&
           fa_type_is_static(&w->type);
}

/* A rank-1 constant [n] of |dt|: a bias for a linear with |n| outputs. */
static bool is_bias(const fa_value *b, fa_dtype dt, fa_dim n) {
    return is_const(b) && b->type.dtype == dt && b->type.rank == 1 && fa_dim_is_static(n) &&
           fa_dim_is_static(b->type.dims[0]) && b->type.dims[0].value == n.value;
}

/* Erases the constant |c| if nothing reads it any more. */
static void erase_if_unused(fa_graph *g, fa_value *c) {
    if (is_const(c) && !fa_value_has_uses(c) && !fa_value_is_output(g, c))
        fa_graph_erase_const(g, c);
}

/* Makes room for one more entry in |st|; false if out of memory. */
static bool state_reserve(linear_state *st) {
    if (st->count < st->cap)
        return true;
    uint32_t ncap = st->cap ? 2 * st->cap : 16;
    fa_value **from = realloc(st->from, sizeof *from * ncap);
    if (!from)
        return false;
    st->from = from;
    fa_value **to = realloc(st->to, sizeof *to * ncap);
    if (!to)
        return false;
    st->to = to;
    st->cap = ncap;
    return true;
}

/* The [N, K] transpose of the [K, N] constant |w| as a new constant (or the one made before). */
static fa_status transposed(fa_graph *g, linear_state *st, fa_value *w, fa_value **out) {
    for (uint32_t i = 0; i < st->count; i++)
        if (st->from[i] == w) {
            *out = st->to[i];
            return FA_OK;
        }
    uint64_t nbytes;
    FA_TRY(fa_type_num_bytes(&w->type, &nbytes));
    size_t k = (size_t)w->type.dims[0].value, n = (size_t)w->type.dims[1].value;
    size_t esize = fa_dtype_bits(w->type.dtype) / 8;
    char *buf = malloc(nbytes ? (size_t)nbytes : 1), *name = fa_rewrite_fresh_name(g, w->name, "t");
    fa_status s = FA_OK;
    if (!buf || !name || !state_reserve(st)) {
        s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory transposing @%s", w->name);
    } else {
        const char *src = w->tensor->data;
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < n; j++)
                memcpy(buf + (j * k + i) * esize, src + (i * n + j) * esize, esize);
        int64_t dims[2] = {(int64_t)n, (int64_t)k};
        fa_type t = fa_type_make(w->type.dtype, 2, dims);
        s = fa_graph_add_const(g, name, &t, buf, nbytes, out);
    }
    free(buf);
    free(name);
    if (s)
        return s;
    st->from[st->count] = w;
    st->to[st->count++] = *out;
    return FA_OK;
}

/* Puts linear(x, w, [bias]) in place of |old| (single result): the new node takes |old|'s place,
 * result type and names, and |old| is erased. */
static void replace_by_linear(fa_graph *g, fa_node *old, fa_value *x, fa_value *w, fa_value *bias,
                              const char *loc) {
    fa_value *ops[3] = {x, w, bias};
    fa_value *from = old->results[0];
    fa_node *lin = fa_graph_create_node(g, old, FA_OP_LINEAR, ops, bias ? 3 : 2, &from->type, 1);
    if (loc)
        fa_node_set_name(g, lin, loc);
    const char *name = from->name;
    fa_value_replace_uses(g, from, lin->results[0]);
    fa_graph_erase_node(g, old);
    if (name)
        fa_value_set_name(g, lin->results[0], name);
}

/* MatMul(x, W), W a [K, N] constant -> linear(x, W^T). */
static bool matmul_to_linear(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    if (n->op != FA_OP_MAT_MUL || n->num_operands != 2 || n->num_results != 1)
        return false;
    fa_value *x = n->operands[0], *w = n->operands[1];
    if (!x || !is_weight(w) || x->type.dtype != w->type.dtype || x->type.rank < 1)
        return false;
    fa_value *wt;
    fa_status s = transposed(g, user, w, &wt);
    if (s) {
        *out_status = s;
        return true;
    }
    replace_by_linear(g, n, x, wt, NULL, n->name);
    erase_if_unused(g, w);
    return true;
}

/* Gemm(A, B, [C]) with B constant, transA 0, alpha 1, beta 1 (or no C), C a constant [N]
 * -> linear(A, B^T or B, C). */
static bool gemm_to_linear(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    if (n->op != FA_OP_GEMM || n->num_results != 1 || n->num_operands < 2)
        return false;
    fa_value *a = n->operands[0], *b = n->operands[1];
    fa_value *c = n->num_operands > 2 ? n->operands[2] : NULL;
    if (!a || !is_weight(b) || a->type.dtype != b->type.dtype || a->type.rank != 2)
        return false;
    bool trans_b = fa_node_attr_int(n, "transB", 0) != 0;
    fa_dim nd = b->type.dims[trans_b ? 0 : 1];
    if (fa_node_attr_int(n, "transA", 0) != 0 || fa_node_attr_float(n, "alpha", 1.0) != 1.0 ||
        (c && (fa_node_attr_float(n, "beta", 1.0) != 1.0 || !is_bias(c, a->type.dtype, nd))))
        return false;
    fa_value *w = b;
    if (!trans_b) {
        fa_status s = transposed(g, user, b, &w);
        if (s) {
            *out_status = s;
            return true;
        }
    }
    replace_by_linear(g, n, a, w, c, n->name);
    erase_if_unused(g, b);
    return true;
}

/* linear(x, w) whose only reader is Add(y, b) or Add(b, y), b a constant [N] -> linear(x, w, b). */
static bool fold_bias(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)user;
    (void)out_status;
    if (n->op != FA_OP_LINEAR || n->num_operands != 2 || n->num_results != 1)
        return false;
    fa_value *y = n->results[0], *w = n->operands[1];
    if (!has_one_use(g, y) || w->type.rank != 2)
        return false;
    fa_node *add = y->uses[0].node;
    if (add->op != FA_OP_ADD || add->num_operands != 2 || add->operands[0] == add->operands[1])
        return false;
    fa_value *b = add->operands[y->uses[0].operand == 0 ? 1 : 0];
    if (!is_bias(b, y->type.dtype, w->type.dims[0]) || y->type.rank < 1)
        return false;
    /* The linear's result keeps its type: [..., N] + [N] broadcasts to [..., N]. */
    fa_value *add_out = add->results[0];
    const char *name = add_out->name;
    fa_value *ops[3] = {n->operands[0], w, b};
    fa_node *lin = fa_graph_create_node(g, n, FA_OP_LINEAR, ops, 3, &y->type, 1);
    if (n->name)
        fa_node_set_name(g, lin, n->name);
    fa_value_replace_uses(g, add_out, lin->results[0]);
    fa_graph_erase_node(g, add);
    fa_graph_erase_node(g, n);
    if (name)
        fa_value_set_name(g, lin->results[0], name);
    return true;
}

static const fa_pattern patterns[] = {
    {"matmul-to-linear", matmul_to_linear},
    {"gemm-to-linear", gemm_to_linear},
    {"fold-bias", fold_bias},
};

static fa_status run_fuse_linear(fa_graph *g, fa_pass_ctx *ctx) {
    (void)ctx;
    linear_state st;
    memset(&st, 0, sizeof st);
    bool changed;
    fa_status s =
        fa_rewrite_greedy(g, patterns, sizeof patterns / sizeof patterns[0], &st, 0, &changed);
    free(st.from);
    free(st.to);
    return s;
}

const fa_pass fa_pass_fuse_linear = {
    .name = "fuse-linear",
    .summary = "MatMul/Gemm by a constant weight (+ Add of a constant row) -> linear",
    .run = run_fuse_linear,
    .requires = FA_PROP_NONE,
    .establishes = FA_PROP_NONE,
    .invalidates = FA_PROP_NONE,
};
