/* cse: common-subexpression elimination. A node equal to an earlier one (same op, operands,
 * attributes and result types; operands of commutative binary ops in either order) is replaced
 * by it. Small constants with equal type and bytes are merged the same way. */
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

/* Constants above this size are left alone: merging weights buys nothing and hashing them would
 * touch every byte of a model. */
#define CONST_CSE_MAX_BYTES 1024

static uint64_t mix(uint64_t h, uint64_t x) {
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_type(uint64_t h, const fa_type *t) {
    h = mix(h, (uint64_t)t->dtype);
    h = mix(h, (uint64_t)(int64_t)t->rank);
    for (int i = 0; i < t->rank; i++)
        h = t->dims[i].sym ? hash_bytes(h, t->dims[i].sym, strlen(t->dims[i].sym))
                           : mix(h, (uint64_t)t->dims[i].value);
    return h;
}

static uint64_t value_key(const fa_value *v) { return v ? (uint64_t)v->id + 1 : 0; }

static bool is_commutative(const fa_node *n) {
    return (fa_op_get(n->op)->flags & FA_OPF_COMMUTATIVE) && n->num_operands == 2;
}

/* Hashes what node_equal compares, except attribute payloads beyond ints and strings. */
static uint64_t hash_node(const fa_node *n) {
    uint64_t h = mix(0, (uint64_t)n->op);
    h = mix(h, n->num_operands);
    if (is_commutative(n)) {
        uint64_t a = value_key(n->operands[0]), b = value_key(n->operands[1]);
        h = mix(mix(h, a < b ? a : b), a < b ? b : a);
    } else {
        for (uint32_t i = 0; i < n->num_operands; i++)
            h = mix(h, value_key(n->operands[i]));
    }
    h = mix(h, n->num_attrs);
    for (uint32_t i = 0; i < n->num_attrs; i++) {
        const fa_attr *a = &n->attrs[i];
        h = hash_bytes(h, a->name, strlen(a->name));
        h = mix(h, (uint64_t)a->kind);
        if (a->kind == FA_ATTR_INT)
            h = mix(h, (uint64_t)a->u.i);
        else if (a->kind == FA_ATTR_STRING)
            h = hash_bytes(h, a->u.s, strlen(a->u.s));
        else if (a->kind == FA_ATTR_INTS)
            h = hash_bytes(h, a->u.ints.v, a->u.ints.n * sizeof *a->u.ints.v);
    }
    h = mix(h, n->num_results);
    for (uint32_t i = 0; i < n->num_results; i++)
        h = hash_type(h, &n->results[i]->type);
    return h;
}

static bool operands_equal(const fa_node *a, const fa_node *b) {
    if (a->num_operands != b->num_operands)
        return false;
    bool same = true;
    for (uint32_t i = 0; i < a->num_operands && same; i++)
        same = a->operands[i] == b->operands[i];
    if (same)
        return true;
    return is_commutative(a) && a->operands[0] == b->operands[1] &&
           a->operands[1] == b->operands[0];
}

static bool node_equal(const fa_node *a, const fa_node *b) {
    if (a->op != b->op || a->num_attrs != b->num_attrs || a->num_results != b->num_results ||
        !operands_equal(a, b))
        return false;
    /* Attributes are kept sorted by name, so equal sets line up index by index. */
    for (uint32_t i = 0; i < a->num_attrs; i++)
        if (!fa_attr_equal(&a->attrs[i], &b->attrs[i]))
            return false;
    for (uint32_t i = 0; i < a->num_results; i++)
        if (!fa_type_equal(&a->results[i]->type, &b->results[i]->type))
            return false;
    return true;
}

/* Open addressing over |cap| (a power of two) slots of entries; never deleted from. */
typedef struct table {
    const void **slots;
    uint64_t *hashes;
    size_t cap;
} table;

static fa_status table_init(table *t, size_t entries) {
    t->cap = 16;
    while (t->cap < entries * 2)
        t->cap *= 2;
    t->slots = calloc(t->cap, sizeof *t->slots);
    t->hashes = calloc(t->cap, sizeof *t->hashes);
    if (!t->slots || !t->hashes) {
        free(t->slots);
        free(t->hashes);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory in cse");
    }
    return FA_OK;
}

static void table_deinit(table *t) {
    free(t->slots);
    free(t->hashes);
}

/* Returns the entry equal to |key| (by |eq|) if one is present, else inserts |key| and returns
 * NULL. The table is sized for every entry up front, so it never fills. */
static const void *table_find_or_insert(table *t, const void *key, uint64_t h,
                                        bool (*eq)(const void *, const void *)) {
    size_t i = (size_t)h & (t->cap - 1);
    while (t->slots[i]) {
        if (t->hashes[i] == h && eq(t->slots[i], key))
            return t->slots[i];
        i = (i + 1) & (t->cap - 1);
    }
    t->slots[i] = key;
    t->hashes[i] = h;
    return NULL;
}

static bool node_eq(const void *a, const void *b) { return node_equal(a, b); }

static bool const_eq(const void *a, const void *b) {
    return fa_tensor_equal(((const fa_value *)a)->tensor, ((const fa_value *)b)->tensor);
}

/* Later duplicates of small constants read the first one instead. The duplicates themselves
 * stay (the graph owns constants), unused. */
static fa_status merge_constants(fa_graph *g) {
    uint32_t nc = fa_graph_num_consts(g);
    table t;
    FA_TRY(table_init(&t, nc));
    for (uint32_t i = 0; i < nc; i++) {
        fa_value *c = fa_graph_const(g, i);
        const fa_tensor *ten = c->tensor;
        if (ten->nbytes > CONST_CSE_MAX_BYTES ||
            (!fa_value_has_uses(c) && !fa_value_is_output(g, c)))
            continue;
        uint64_t h = hash_bytes(hash_type(0, &ten->type), ten->data, (size_t)ten->nbytes);
        fa_value *first = (fa_value *)table_find_or_insert(&t, c, h, const_eq);
        if (first)
            fa_value_replace_uses(g, c, first);
    }
    table_deinit(&t);
    return FA_OK;
}

/* Nodes are visited in program order; a node's operands have already been canonicalized, so one
 * walk finds every redundancy (the earlier node dominates the later one). */
static fa_status run_cse(fa_graph *g, fa_pass_ctx *ctx) {
    (void)ctx;
    FA_TRY(merge_constants(g));
    table t;
    FA_TRY(table_init(&t, fa_graph_num_nodes(g)));
    for (fa_node *n = fa_graph_first_node(g), *next; n; n = next) {
        next = n->next;
        const fa_node *first = table_find_or_insert(&t, n, hash_node(n), node_eq);
        if (!first)
            continue;
        for (uint32_t i = 0; i < n->num_results; i++)
            fa_value_replace_uses(g, n->results[i], first->results[i]);
        fa_graph_erase_node(g, n);
    }
    table_deinit(&t);
    return FA_OK;
}

const fa_pass fa_pass_cse = {
    .name = "cse",
    .summary = "merge nodes (and small constants) that compute the same value",
    .run = run_cse,
    .requires = FA_PROP_NONE,
    .establishes = FA_PROP_NONE,
    .invalidates = FA_PROP_NONE,
};
