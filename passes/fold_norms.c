/* fold-norms: the scale (gamma) and shift (beta) of an rms_norm or layer_norm whose only readers
 * are linears move into those linears' weights and biases, leaving a weightless norm. A
 * weightless norm's output is what the activation transforms and quantizers of the next site see
 * (QuaRot and SpinQuant fold the same way). A layer_norm stays a layer_norm: without weights it
 * is an RMSNorm of the mean-removed input, which is what QuaRot's LayerNorm-to-RMSNorm rewrite
 * achieves, here without touching the residual stream. Runs after fuse-norms and fuse-linear. */
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"
#include "passes/rewrite.h"

static bool is_const(const fa_value *v) { return v && v->kind == FA_VALUE_CONST && !v->dead; }

/* A static f32 constant of rank 1 holding |d| entries. */
static bool is_vector(const fa_value *v, int64_t d) {
    return is_const(v) && v->type.dtype == FA_DT_F32 && v->type.rank == 1 &&
           fa_dim_is_static(v->type.dims[0]) && v->type.dims[0].value == d;
}

/* True if |v| is read by at least one linear, every reader is a linear taking it as operand 0
 * with a static f32 [N, d] weight (and an f32 [N] bias if any) or a `shape` (which reads only the
 * type), and |v| is not a graph output. */
static bool only_linears_read(const fa_graph *g, const fa_value *v, int64_t d) {
    if (fa_value_is_output(g, v))
        return false;
    uint32_t linears = 0;
    for (uint32_t i = 0; i < v->num_uses; i++) {
        const fa_node *u = v->uses[i].node;
        if (u->op == FA_OP_SHAPE)
            continue;
        if (u->op != FA_OP_LINEAR || v->uses[i].operand != 0)
            return false;
        linears++;
        const fa_value *w = u->operands[1];
        if (!is_const(w) || w->type.dtype != FA_DT_F32 || w->type.rank != 2 ||
            !fa_type_is_static(&w->type) || w->type.dims[1].value != d)
            return false;
        const fa_value *b = u->num_operands > 2 ? u->operands[2] : NULL;
        if (b && !is_vector(b, w->type.dims[0].value))
            return false;
    }
    return linears > 0;
}

/* Gives linear |lin| the weight W diag(gamma) and the bias b + W beta (either may be NULL) as
 * new constants named after the old ones; the old ones go if nothing else reads them. */
static fa_status fold_into(fa_graph *g, fa_node *lin, const float *gamma, const float *beta) {
    fa_value *w = lin->operands[1];
    fa_value *b = lin->num_operands > 2 ? lin->operands[2] : NULL;
    int64_t n = w->type.dims[0].value, d = w->type.dims[1].value;
    const float *wd = w->tensor->data;
    float *nw = malloc(sizeof *nw * (size_t)(n * d));
    float *nb = malloc(sizeof *nb * (size_t)n);
    char *wname = fa_rewrite_fresh_name(g, w->name, "g");
    char *bname = fa_rewrite_fresh_name(g, b ? b->name : w->name, b ? "g" : "b");
    fa_status s = FA_OK;
    if (!nw || !nb || !wname || !bname) {
        s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory folding a norm into @%s",
                           w->name);
        goto done;
    }
    for (int64_t r = 0; r < n; r++) {
        double acc = b ? ((const float *)b->tensor->data)[r] : 0.0;
        for (int64_t c = 0; c < d; c++) {
            float v = wd[r * d + c];
            if (beta)
                acc += (double)v * beta[c];
            nw[r * d + c] = gamma ? v * gamma[c] : v;
        }
        nb[r] = (float)acc;
    }
    fa_value *nwv = w, *nbv = b;
    if (gamma) {
        s = fa_graph_add_const(g, wname, &w->type, nw, sizeof *nw * (uint64_t)(n * d), &nwv);
        if (s)
            goto done;
    }
    if (beta) {
        int64_t dims[1] = {n};
        fa_type bt = fa_type_make(FA_DT_F32, 1, dims);
        s = fa_graph_add_const(g, bname, &bt, nb, sizeof *nb * (uint64_t)n, &nbv);
        if (s)
            goto done;
    }
    if (nbv && lin->num_operands < 3) {
        fa_value *ops[3] = {lin->operands[0], nwv, nbv};
        fa_node *nl = fa_graph_create_node(g, lin, FA_OP_LINEAR, ops, 3, &lin->results[0]->type, 1);
        if (lin->name)
            fa_node_set_name(g, nl, lin->name);
        const char *name = lin->results[0]->name;
        fa_value_replace_uses(g, lin->results[0], nl->results[0]);
        if (fa_value_is_output(g, lin->results[0]))
            for (uint32_t i = 0; i < fa_graph_num_outputs(g); i++)
                if (fa_graph_output(g, i)->value == lin->results[0])
                    fa_graph_set_output_value(g, i, nl->results[0]);
        fa_graph_erase_node(g, lin);
        if (name)
            fa_value_set_name(g, nl->results[0], name);
    } else {
        fa_node_set_operand(g, lin, 1, nwv);
        if (nbv)
            fa_node_set_operand(g, lin, 2, nbv);
    }
    if (nwv != w && !fa_value_has_uses(w) && !fa_value_is_output(g, w))
        fa_graph_erase_const(g, w);
    if (b && nbv != b && !fa_value_has_uses(b) && !fa_value_is_output(g, b))
        fa_graph_erase_const(g, b);
done:
    free(nw);
    free(nb);
    free(wname);
    free(bname);
    return s;
}

/* Folds the weights of norm |n| into its readers if it has any and all of them are linears. */
static fa_status fold_norm(fa_graph *g, fa_node *n, bool *changed) {
    const fa_value *x = n->operands[0];
    if (x->type.rank < 1 || !fa_dim_is_static(x->type.dims[x->type.rank - 1]))
        return FA_OK;
    int64_t d = x->type.dims[x->type.rank - 1].value;
    int64_t axis = fa_node_attr_int(n, "axis", -1);
    if (axis != -1 && axis != x->type.rank - 1)
        return FA_OK;
    fa_value *gamma = n->num_operands > 1 ? n->operands[1] : NULL;
    fa_value *beta = n->num_operands > 2 ? n->operands[2] : NULL;
    if ((!gamma && !beta) || (gamma && !is_vector(gamma, d)) || (beta && !is_vector(beta, d)))
        return FA_OK;
    fa_value *y = n->results[0];
    if (!only_linears_read(g, y, d))
        return FA_OK;
    const float *gd = gamma ? gamma->tensor->data : NULL;
    const float *bd = beta ? beta->tensor->data : NULL;
    /* Copy the linear readers first: folding replaces linears, which edits the use list. */
    uint32_t nu = 0;
    fa_node **readers = malloc(sizeof *readers * y->num_uses);
    if (!readers)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory in fold-norms");
    for (uint32_t i = 0; i < y->num_uses; i++)
        if (y->uses[i].node->op == FA_OP_LINEAR)
            readers[nu++] = y->uses[i].node;
    fa_status s = FA_OK;
    for (uint32_t i = 0; i < nu && !s; i++)
        s = fold_into(g, readers[i], gd, bd);
    free(readers);
    if (s)
        return s;
    /* The weightless norm: same op, epsilon and axis, one operand. */
    fa_node *bare = fa_graph_create_node(g, n, n->op, &n->operands[0], 1, &y->type, 1);
    if (n->name)
        fa_node_set_name(g, bare, n->name);
    if (fa_node_attr(n, "axis"))
        fa_node_set_attr_int(g, bare, "axis", axis);
    fa_node_set_attr_float(g, bare, "epsilon", fa_node_attr_float(n, "epsilon", 1e-5));
    const char *name = y->name;
    fa_value_replace_uses(g, y, bare->results[0]);
    fa_graph_erase_node(g, n);
    if (name)
        fa_value_set_name(g, bare->results[0], name);
    for (fa_value *c = gamma; c; c = c == gamma ? beta : NULL)
        if (!fa_value_has_uses(c) && !fa_value_is_output(g, c))
            fa_graph_erase_const(g, c);
    *changed = true;
    return FA_OK;
}

static fa_status run_fold_norms(fa_graph *g, fa_pass_ctx *ctx) {
    (void)ctx;
    bool changed = false;
    for (fa_node *n = fa_graph_first_node(g), *next; n; n = next) {
        next = n->next; /* fold_norm replaces |n| by a node inserted before it */
        if (n->op == FA_OP_RMS_NORM || n->op == FA_OP_LAYER_NORM)
            FA_TRY(fold_norm(g, n, &changed));
    }
    return FA_OK;
}

const fa_pass fa_pass_fold_norms = {
    .name = "fold-norms",
    .summary = "move rms_norm / layer_norm gamma and beta into the linears that read the norm",
    .run = run_fold_norms,
    .requires = FA_PROP_NONE,
    .establishes = FA_PROP_NONE,
    .invalidates = FA_PROP_NONE,
};
