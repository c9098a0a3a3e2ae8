/* canonicalize: local simplifications to a fixpoint with the greedy driver (rewrite.h): erase dead
 * nodes, remove provable no-ops (identity, same-type cast/reshape/expand/..., identity transpose),
 * turn `constant` nodes into graph constants, and fold small integer shape arithmetic (fold.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/fold.h"
#include "passes/pass.h"
#include "passes/rewrite.h"

/* Constants up to this size are shared: a fold whose value already exists as a constant reads
 * that one instead of adding a copy (every layer's Shape chain folds to the same few values). */
#define SHARE_MAX_BYTES (8 * FA_FOLD_MAX_ELEMS)

typedef struct canon_state {
    unsigned next_const; /* suffix of the next "cstN" name; no value has it or a later one */
    /* Open-addressing set of small constants by content; |cap| is a power of two. */
    fa_value **slots;
    uint64_t *hashes;
    size_t cap, count;
} canon_state;

static uint64_t hash_tensor(const fa_type *t, const void *data, uint64_t nbytes) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)t->dtype ^ ((uint64_t)t->rank << 8);
    for (int i = 0; i < t->rank; i++)
        h = (h ^ (uint64_t)t->dims[i].value) * 1099511628211ull;
    const unsigned char *b = data;
    for (uint64_t i = 0; i < nbytes; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static bool tensor_is(const fa_value *c, const fa_type *t, const void *data, uint64_t nbytes) {
    return fa_type_equal(&c->type, t) && c->tensor->nbytes == nbytes &&
           (nbytes == 0 || memcmp(c->tensor->data, data, (size_t)nbytes) == 0);
}

static fa_value *shared_find(const canon_state *st, const fa_type *t, const void *data,
                             uint64_t nbytes, uint64_t h) {
    if (!st->cap)
        return NULL;
    for (size_t i = (size_t)h & (st->cap - 1); st->slots[i]; i = (i + 1) & (st->cap - 1))
        if (st->hashes[i] == h && tensor_is(st->slots[i], t, data, nbytes))
            return st->slots[i];
    return NULL;
}

static void shared_insert_slot(fa_value **slots, uint64_t *hashes, size_t cap, fa_value *c,
                               uint64_t h) {
    size_t i = (size_t)h & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = c;
    hashes[i] = h;
}

static fa_status shared_add(canon_state *st, fa_value *c) {
    const fa_tensor *t = c->tensor;
    if (t->nbytes > SHARE_MAX_BYTES || !fa_type_is_static(&c->type))
        return FA_OK;
    uint64_t h = hash_tensor(&c->type, t->data, t->nbytes);
    if (shared_find(st, &c->type, t->data, t->nbytes, h))
        return FA_OK;
    if ((st->count + 1) * 2 > st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 64;
        fa_value **slots = calloc(ncap, sizeof *slots);
        uint64_t *hashes = calloc(ncap, sizeof *hashes);
        if (!slots || !hashes) {
            free(slots);
            free(hashes);
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory in canonicalize");
        }
        for (size_t i = 0; i < st->cap; i++)
            if (st->slots[i])
                shared_insert_slot(slots, hashes, ncap, st->slots[i], st->hashes[i]);
        free(st->slots);
        free(st->hashes);
        st->slots = slots;
        st->hashes = hashes;
        st->cap = ncap;
    }
    shared_insert_slot(st->slots, st->hashes, st->cap, c, h);
    st->count++;
    return FA_OK;
}

/* Seeds the shared set with the graph's small constants and picks the first free "cstN". */
static fa_status canon_state_init(canon_state *st, const fa_graph *g) {
    memset(st, 0, sizeof *st);
    for (uint32_t i = 0; i < fa_graph_num_values(g); i++) {
        const fa_value *v = fa_graph_value(g, i);
        unsigned k;
        int len;
        if (v->name && sscanf(v->name, "cst%u%n", &k, &len) == 1 && v->name[len] == '\0' &&
            k >= st->next_const && k < UINT32_MAX)
            st->next_const = k + 1;
    }
    for (uint32_t i = 0; i < fa_graph_num_consts(g); i++)
        FA_TRY(shared_add(st, fa_graph_const(g, i)));
    return FA_OK;
}

static void canon_state_deinit(canon_state *st) {
    free(st->slots);
    free(st->hashes);
}

/* Replaces the only result of |n| by |v| everywhere (graph outputs keep their names) and erases
 * |n|. */
static void replace_node(fa_graph *g, fa_node *n, fa_value *v) {
    fa_value_replace_uses(g, n->results[0], v);
    fa_graph_erase_node(g, n);
}

/* ---- dead nodes ---- */

static bool erase_dead(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)user;
    (void)out_status;
    for (uint32_t i = 0; i < n->num_results; i++)
        if (fa_value_has_uses(n->results[i]) || fa_value_is_output(g, n->results[i]))
            return false;
    fa_graph_erase_node(g, n);
    return true;
}

/* ---- no-ops ---- */

static bool is_identity_perm(const fa_node *n, int rank) {
    const fa_attr *perm = fa_node_attr(n, "perm");
    if (!perm)
        return rank >= 0 && rank <= 1; /* the default reverses the dims */
    if (perm->kind != FA_ATTR_INTS || (int64_t)perm->u.ints.n != rank)
        return false;
    for (uint32_t i = 0; i < perm->u.ints.n; i++)
        if (perm->u.ints.v[i] != (int64_t)i)
            return false;
    return true;
}

/* True if |n| provably returns its first operand unchanged. */
static bool is_noop(const fa_node *n) {
    if (n->num_results != 1 || n->num_operands < 1 || !n->operands[0])
        return false;
    const fa_type *in = &n->operands[0]->type, *out = &n->results[0]->type;
    switch (n->op) {
    case FA_OP_IDENTITY: return true;
    case FA_OP_CAST: return fa_node_attr_int(n, "to", FA_DT_INVALID) == (int64_t)in->dtype;
    case FA_OP_CONCAT: return n->num_operands == 1;
    case FA_OP_TRANSPOSE: return is_identity_perm(n, in->rank) && fa_type_equal(in, out);
    /* These only move data by shape; with the same static shape in and out they move nothing.
     * (Not slice or pad: a reversed slice or a shifting pad keeps the shape.) */
    case FA_OP_RESHAPE:
    case FA_OP_EXPAND:
    case FA_OP_SQUEEZE:
    case FA_OP_UNSQUEEZE:
    case FA_OP_FLATTEN:
    case FA_OP_TILE: return fa_type_is_static(in) && fa_type_equal(in, out);
    default: return false;
    }
}

static bool remove_noop(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)user;
    (void)out_status;
    if (!is_noop(n))
        return false;
    replace_node(g, n, n->operands[0]);
    return true;
}

/* ---- constants ---- */

/* A folded value may refine its declared type (static for unknown) but must not contradict it:
 * same dtype, same rank where known, equal static dims. Symbolic dims are accepted, as the
 * verifier does. */
static fa_status check_refines(const fa_node *n, const fa_type *declared, const fa_type *t) {
    bool ok = declared->dtype == t->dtype && (declared->rank < 0 || declared->rank == t->rank);
    for (int i = 0; ok && declared->rank >= 0 && i < t->rank; i++)
        ok = !fa_dim_is_static(declared->dims[i]) || declared->dims[i].value == t->dims[i].value;
    if (ok)
        return FA_OK;
    char a[128], b[128], where[256];
    fa_type_format(declared, a, sizeof a);
    fa_type_format(t, b, sizeof b);
    return fa_status_make(FA_STATUS_VERIFY, "%s: result is declared %s but evaluates to %s",
                          fa_node_describe(n, where, sizeof where), a, b);
}

/* Replaces |n|'s result by a graph constant of |type| holding |nbytes| at |data|: an equal
 * small constant if the graph has one, else a new one named cstN. */
static bool replace_by_const(fa_graph *g, fa_node *n, canon_state *st, const fa_type *type,
                             const void *data, uint64_t nbytes, fa_status *out_status) {
    fa_status s = check_refines(n, &n->results[0]->type, type);
    fa_value *c = NULL;
    if (!s && nbytes <= SHARE_MAX_BYTES)
        c = shared_find(st, type, data, nbytes, hash_tensor(type, data, nbytes));
    if (!s && !c) {
        char name[32];
        snprintf(name, sizeof name, "cst%u", st->next_const++);
        s = fa_graph_add_const(g, name, type, data, nbytes, &c);
        if (!s)
            s = shared_add(st, c);
    }
    if (s) {
        *out_status = s;
        return true;
    }
    replace_node(g, n, c);
    return true;
}

static bool fold_constant(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    fa_fold_tensor t;
    if (!fa_fold_eval_node(n, &t))
        return false;
    int64_t bytes[FA_FOLD_MAX_ELEMS];
    uint64_t nbytes = fa_fold_write_bytes(&t, bytes);
    return replace_by_const(g, n, user, &t.type, bytes, nbytes, out_status);
}

/* An ONNX Constant node becomes a graph constant, so folding and later passes see it. */
static bool constant_node(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    if (n->op != FA_OP_CONSTANT || n->num_attrs != 1 || n->num_results != 1)
        return false;
    const fa_attr *a = &n->attrs[0];
    if (a->kind == FA_ATTR_TENSOR && strcmp(a->name, "value") == 0)
        return replace_by_const(g, n, user, &a->u.t->type, a->u.t->data, a->u.t->nbytes,
                                out_status);
    if (a->kind == FA_ATTR_INT && strcmp(a->name, "value_int") == 0) {
        fa_type t = fa_type_make(FA_DT_I64, 0, NULL);
        return replace_by_const(g, n, user, &t, &a->u.i, sizeof a->u.i, out_status);
    }
    if (a->kind == FA_ATTR_INTS && strcmp(a->name, "value_ints") == 0) {
        int64_t len = a->u.ints.n;
        fa_type t = fa_type_make(FA_DT_I64, 1, &len);
        return replace_by_const(g, n, user, &t, a->u.ints.v, sizeof(int64_t) * a->u.ints.n,
                                out_status);
    }
    if (a->kind == FA_ATTR_FLOAT && strcmp(a->name, "value_float") == 0) {
        float f = (float)a->u.f;
        fa_type t = fa_type_make(FA_DT_F32, 0, NULL);
        return replace_by_const(g, n, user, &t, &f, sizeof f, out_status);
    }
    if (a->kind == FA_ATTR_FLOATS && strcmp(a->name, "value_floats") == 0) {
        int64_t len = a->u.floats.n;
        fa_type t = fa_type_make(FA_DT_F32, 1, &len);
        float *f = fa_graph_alloc(g, sizeof *f * (a->u.floats.n + 1)); /* arena scratch */
        for (uint32_t i = 0; i < a->u.floats.n; i++)
            f[i] = (float)a->u.floats.v[i];
        return replace_by_const(g, n, user, &t, f, sizeof *f * a->u.floats.n, out_status);
    }
    return false;
}

static const fa_pattern patterns[] = {
    {"erase-dead", erase_dead},
    {"remove-noop", remove_noop},
    {"constant-node", constant_node},
    {"fold-constant", fold_constant},
};

static fa_status run_canonicalize(fa_graph *g, fa_pass_ctx *ctx) {
    (void)ctx;
    canon_state st;
    fa_status s = canon_state_init(&st, g);
    bool changed;
    if (!s)
        s = fa_rewrite_greedy(g, patterns, sizeof patterns / sizeof patterns[0], &st, 0, &changed);
    canon_state_deinit(&st);
    return s;
}

const fa_pass fa_pass_canonicalize = {
    .name = "canonicalize",
    .summary = "erase dead nodes, remove no-ops, fold constant shape arithmetic",
    .run = run_canonicalize,
    .requires = FA_PROP_NONE,
    .establishes = FA_PROP_NONE,
    /* Folded constants can make users' types refinable, so inferred types are stale. */
    .invalidates = FA_PROP_TYPES_INFERRED,
};
