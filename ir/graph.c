/* Graph construction and mutation: the only code that changes edges, so use lists stay right. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir/arena.h"
#include "ir/ir.h"

typedef struct mapping {
    void *addr;
    size_t len;
    struct mapping *next;
} mapping;

/* Open-addressing string set for interning. */
typedef struct intern_table {
    const char **slots;
    uint32_t cap, count;
} intern_table;

struct fa_graph {
    fa_arena arena;
    const char *name;
    fa_value **values; /* by id */
    uint32_t num_values, cap_values;
    uint32_t next_node_id;
    uint32_t num_live_nodes;
    fa_node *first, *last;
    fa_value **inputs;
    uint32_t num_inputs, cap_inputs;
    fa_value **consts;
    uint32_t num_consts, cap_consts;
    fa_output *outputs;
    uint32_t num_outputs, cap_outputs;
    intern_table interned;
    mapping *mappings; /* heap-allocated, unmapped at destroy */
};

/* Grows an arena array of |elem| bytes to hold at least |need| entries; the old block is left in
 * the arena (bounded waste: capacities double). */
static void *grow(fa_graph *g, void *old, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap)
        return old;
    uint32_t ncap = *cap ? *cap : 4;
    while (ncap < need)
        ncap *= 2;
    void *p = fa_arena_alloc(&g->arena, (size_t)ncap * elem, 16);
    if (old)
        memcpy(p, old, (size_t)*cap * elem);
    *cap = ncap;
    return p;
}

fa_graph *fa_graph_create(const char *name) {
    fa_graph *g = calloc(1, sizeof *g);
    if (!g)
        fa_fatal(__FILE__, __LINE__, "out of memory");
    fa_arena_init(&g->arena);
    g->name = fa_graph_intern_cstr(g, name ? name : "main");
    return g;
}

void fa_graph_destroy(fa_graph *g) {
    if (!g)
        return;
    for (mapping *m = g->mappings; m;) {
        mapping *next = m->next;
        munmap(m->addr, m->len);
        free(m);
        m = next;
    }
    free(g->interned.slots);
    fa_arena_deinit(&g->arena);
    free(g);
}

const char *fa_graph_name(const fa_graph *g) { return g->name; }
void fa_graph_set_name(fa_graph *g, const char *name) { g->name = fa_graph_intern_cstr(g, name); }

void *fa_graph_alloc(fa_graph *g, size_t size) {
    return fa_arena_alloc(&g->arena, size, size >= 64 ? 64 : 16);
}

static uint32_t hash_str(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

const char *fa_graph_intern(fa_graph *g, const char *s, size_t len) {
    intern_table *t = &g->interned;
    if ((t->count + 1) * 2 > t->cap) {
        uint32_t ncap = t->cap ? t->cap * 2 : 64;
        const char **slots = calloc(ncap, sizeof *slots);
        if (!slots)
            fa_fatal(__FILE__, __LINE__, "out of memory");
        for (uint32_t i = 0; i < t->cap; i++) {
            if (!t->slots[i])
                continue;
            uint32_t j = hash_str(t->slots[i], strlen(t->slots[i])) & (ncap - 1);
            while (slots[j])
                j = (j + 1) & (ncap - 1);
            slots[j] = t->slots[i];
        }
        free(t->slots);
        t->slots = slots;
        t->cap = ncap;
    }
    uint32_t j = hash_str(s, len) & (t->cap - 1);
    while (t->slots[j]) {
        if (strncmp(t->slots[j], s, len) == 0 && t->slots[j][len] == '\0')
            return t->slots[j];
        j = (j + 1) & (t->cap - 1);
    }
    char *copy = fa_arena_alloc(&g->arena, len + 1, 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    t->slots[j] = copy;
    t->count++;
    return copy;
}

const char *fa_graph_intern_cstr(fa_graph *g, const char *s) {
    return s ? fa_graph_intern(g, s, strlen(s)) : NULL;
}

/* Symbols in a type are re-interned so types copied from another graph stay comparable. */
static fa_type own_type(fa_graph *g, const fa_type *t) {
    fa_type c = *t;
    for (int i = 0; i < c.rank && i < FA_MAX_RANK; i++)
        if (c.dims[i].sym)
            c.dims[i].sym = fa_graph_intern_cstr(g, c.dims[i].sym);
    return c;
}

static fa_value *new_value(fa_graph *g, fa_value_kind kind, const char *name, const fa_type *type) {
    fa_value *v = fa_arena_alloc(&g->arena, sizeof *v, 16);
    v->id = g->num_values;
    v->kind = kind;
    v->name = fa_graph_intern_cstr(g, name);
    v->type = own_type(g, type);
    g->values = grow(g, g->values, &g->cap_values, g->num_values + 1, sizeof *g->values);
    g->values[g->num_values++] = v;
    return v;
}

fa_node *fa_graph_first_node(const fa_graph *g) { return g->first; }
fa_node *fa_graph_last_node(const fa_graph *g) { return g->last; }
uint32_t fa_graph_num_nodes(const fa_graph *g) { return g->num_live_nodes; }
uint32_t fa_graph_num_values(const fa_graph *g) { return g->num_values; }
fa_value *fa_graph_value(const fa_graph *g, uint32_t id) {
    return id < g->num_values ? g->values[id] : NULL;
}
uint32_t fa_graph_num_inputs(const fa_graph *g) { return g->num_inputs; }
fa_value *fa_graph_input(const fa_graph *g, uint32_t i) {
    FA_ASSERT(i < g->num_inputs);
    return g->inputs[i];
}
uint32_t fa_graph_num_consts(const fa_graph *g) { return g->num_consts; }
fa_value *fa_graph_const(const fa_graph *g, uint32_t i) {
    FA_ASSERT(i < g->num_consts);
    return g->consts[i];
}
uint32_t fa_graph_num_outputs(const fa_graph *g) { return g->num_outputs; }
const fa_output *fa_graph_output(const fa_graph *g, uint32_t i) {
    FA_ASSERT(i < g->num_outputs);
    return &g->outputs[i];
}

fa_value *fa_graph_find_value(const fa_graph *g, const char *name) {
    for (uint32_t i = 0; i < g->num_values; i++) {
        fa_value *v = g->values[i];
        if (v->name && strcmp(v->name, name) == 0 && !v->dead)
            return v;
    }
    return NULL;
}

fa_value *fa_graph_add_input(fa_graph *g, const char *name, const fa_type *type) {
    fa_value *v = new_value(g, FA_VALUE_INPUT, name, type);
    g->inputs = grow(g, g->inputs, &g->cap_inputs, g->num_inputs + 1, sizeof *g->inputs);
    g->inputs[g->num_inputs++] = v;
    return v;
}

static fa_status check_const_type(const fa_type *type, uint64_t nbytes) {
    uint64_t want;
    FA_TRY(fa_type_num_bytes(type, &want));
    if (want != nbytes)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "constant of type %s needs %llu bytes, got %llu",
                              fa_dtype_name(type->dtype), (unsigned long long)want,
                              (unsigned long long)nbytes);
    return FA_OK;
}

static fa_value *add_const_value(fa_graph *g, const char *name, fa_tensor *t) {
    fa_value *v = new_value(g, FA_VALUE_CONST, name, &t->type);
    t->type = v->type;
    v->tensor = t;
    g->consts = grow(g, g->consts, &g->cap_consts, g->num_consts + 1, sizeof *g->consts);
    g->consts[g->num_consts++] = v;
    return v;
}

fa_status fa_graph_make_tensor(fa_graph *g, const fa_type *type, const void *data, uint64_t nbytes,
                               const fa_tensor **out_tensor) {
    FA_TRY(check_const_type(type, nbytes));
    fa_tensor *t = fa_arena_alloc(&g->arena, sizeof *t, 16);
    t->type = own_type(g, type);
    void *copy = fa_arena_alloc(&g->arena, (size_t)nbytes, 64);
    if (nbytes)
        memcpy(copy, data, (size_t)nbytes);
    t->data = copy;
    t->nbytes = nbytes;
    t->storage = FA_STORAGE_ARENA;
    *out_tensor = t;
    return FA_OK;
}

fa_status fa_graph_add_const(fa_graph *g, const char *name, const fa_type *type, const void *data,
                             uint64_t nbytes, fa_value **out_value) {
    const fa_tensor *t;
    FA_TRY(fa_graph_make_tensor(g, type, data, nbytes, &t));
    fa_value *v = add_const_value(g, name, (fa_tensor *)t);
    if (out_value)
        *out_value = v;
    return FA_OK;
}

fa_status fa_graph_add_const_borrowed(fa_graph *g, const char *name, const fa_type *type,
                                      const void *data, uint64_t nbytes, fa_value **out_value) {
    FA_TRY(check_const_type(type, nbytes));
    fa_tensor *t = fa_arena_alloc(&g->arena, sizeof *t, 16);
    t->type = *type;
    t->data = data;
    t->nbytes = nbytes;
    t->storage = FA_STORAGE_BORROWED;
    fa_value *v = add_const_value(g, name, t);
    if (out_value)
        *out_value = v;
    return FA_OK;
}

fa_status fa_graph_add_const_mapped(fa_graph *g, const char *name, const fa_type *type,
                                    const char *path, const char *recorded_path, uint64_t offset,
                                    fa_value **out_value) {
    uint64_t nbytes;
    FA_TRY(fa_type_num_bytes(type, &nbytes));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fa_status_make(FA_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fa_status_make(FA_STATUS_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (offset > (uint64_t)st.st_size || nbytes > (uint64_t)st.st_size - offset) {
        close(fd);
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "%s: constant '%s' needs bytes [%llu, %llu) but the file has %llu",
                              path, name, (unsigned long long)offset,
                              (unsigned long long)(offset + nbytes),
                              (unsigned long long)st.st_size);
    }
    const void *data = NULL;
    if (nbytes > 0) {
        long page = sysconf(_SC_PAGESIZE);
        uint64_t start = offset - offset % (uint64_t)page;
        size_t len = (size_t)(offset + nbytes - start);
        void *addr = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, (off_t)start);
        if (addr == MAP_FAILED) {
            int e = errno;
            close(fd);
            return fa_status_make(FA_STATUS_IO, "%s: cannot map: %s", path, strerror(e));
        }
        mapping *m = malloc(sizeof *m);
        if (!m)
            fa_fatal(__FILE__, __LINE__, "out of memory");
        m->addr = addr;
        m->len = len;
        m->next = g->mappings;
        g->mappings = m;
        data = (const char *)addr + (offset - start);
    }
    close(fd);
    fa_tensor *t = fa_arena_alloc(&g->arena, sizeof *t, 16);
    t->type = *type;
    t->data = data;
    t->nbytes = nbytes;
    t->storage = FA_STORAGE_MAPPED;
    t->file = fa_graph_intern_cstr(g, recorded_path ? recorded_path : path);
    t->offset = offset;
    fa_value *v = add_const_value(g, name, t);
    if (out_value)
        *out_value = v;
    return FA_OK;
}

void fa_graph_add_output(fa_graph *g, const char *name, fa_value *v) {
    g->outputs = grow(g, g->outputs, &g->cap_outputs, g->num_outputs + 1, sizeof *g->outputs);
    g->outputs[g->num_outputs].name = fa_graph_intern_cstr(g, name);
    g->outputs[g->num_outputs].value = v;
    g->num_outputs++;
}

void fa_graph_set_output_value(fa_graph *g, uint32_t i, fa_value *v) {
    FA_ASSERT(i < g->num_outputs);
    g->outputs[i].value = v;
}

bool fa_value_is_output(const fa_graph *g, const fa_value *v) {
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i].value == v)
            return true;
    return false;
}

/* ---- use lists ---- */

static void add_use(fa_graph *g, fa_value *v, fa_node *n, uint32_t operand) {
    v->uses = grow(g, v->uses, &v->cap_uses, v->num_uses + 1, sizeof *v->uses);
    v->uses[v->num_uses].node = n;
    v->uses[v->num_uses].operand = operand;
    v->num_uses++;
}

static void remove_use(fa_value *v, fa_node *n, uint32_t operand) {
    for (uint32_t i = 0; i < v->num_uses; i++) {
        if (v->uses[i].node == n && v->uses[i].operand == operand) {
            v->uses[i] = v->uses[--v->num_uses];
            return;
        }
    }
    FA_UNREACHABLE();
}

bool fa_value_has_uses(const fa_value *v) { return v->num_uses > 0; }

/* ---- nodes ---- */

static void link_before(fa_graph *g, fa_node *n, fa_node *before) {
    if (!before) {
        n->prev = g->last;
        n->next = NULL;
        if (g->last)
            g->last->next = n;
        else
            g->first = n;
        g->last = n;
        return;
    }
    n->next = before;
    n->prev = before->prev;
    if (before->prev)
        before->prev->next = n;
    else
        g->first = n;
    before->prev = n;
}

static void unlink_node(fa_graph *g, fa_node *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        g->first = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        g->last = n->prev;
    n->prev = n->next = NULL;
}

fa_node *fa_graph_create_node(fa_graph *g, fa_node *before, fa_op op, fa_value *const *operands,
                              uint32_t num_operands, const fa_type *result_types,
                              uint32_t num_results) {
    FA_ASSERT((unsigned)op < FA_OP_COUNT);
    FA_ASSERT(!before || !before->dead);
    fa_node *n = fa_arena_alloc(&g->arena, sizeof *n, 16);
    n->id = g->next_node_id++;
    n->op = op;
    n->num_operands = num_operands;
    n->operands = fa_arena_alloc(&g->arena, sizeof *n->operands * (num_operands + 1), 16);
    for (uint32_t i = 0; i < num_operands; i++) {
        n->operands[i] = operands[i];
        if (operands[i])
            add_use(g, operands[i], n, i);
    }
    n->num_results = num_results;
    n->results = fa_arena_alloc(&g->arena, sizeof *n->results * (num_results + 1), 16);
    for (uint32_t i = 0; i < num_results; i++) {
        fa_value *r = new_value(g, FA_VALUE_RESULT, NULL, &result_types[i]);
        r->def = n;
        r->def_index = i;
        n->results[i] = r;
    }
    link_before(g, n, before);
    g->num_live_nodes++;
    return n;
}

void fa_graph_erase_node(fa_graph *g, fa_node *n) {
    FA_ASSERT(!n->dead);
    for (uint32_t i = 0; i < n->num_results; i++) {
        FA_ASSERT(n->results[i]->num_uses == 0);
        FA_ASSERT(!fa_value_is_output(g, n->results[i]));
    }
    for (uint32_t i = 0; i < n->num_operands; i++) {
        if (n->operands[i])
            remove_use(n->operands[i], n, i);
        n->operands[i] = NULL;
    }
    unlink_node(g, n);
    n->dead = true;
    for (uint32_t i = 0; i < n->num_results; i++)
        n->results[i]->dead = true;
    g->num_live_nodes--;
}

void fa_graph_erase_const(fa_graph *g, fa_value *v) {
    FA_ASSERT(v->kind == FA_VALUE_CONST && !v->dead);
    FA_ASSERT(v->num_uses == 0 && !fa_value_is_output(g, v));
    uint32_t k = 0;
    for (uint32_t i = 0; i < g->num_consts; i++)
        if (g->consts[i] != v)
            g->consts[k++] = g->consts[i];
    FA_ASSERT(k + 1 == g->num_consts);
    g->num_consts = k;
    v->dead = true;
}

void fa_graph_move_node(fa_graph *g, fa_node *n, fa_node *before) {
    FA_ASSERT(!n->dead && n != before);
    unlink_node(g, n);
    link_before(g, n, before);
}

void fa_graph_compact(fa_graph *g) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < g->num_inputs; i++)
        g->values[k++] = g->inputs[i];
    for (uint32_t i = 0; i < g->num_consts; i++)
        g->values[k++] = g->consts[i];
    uint32_t node_id = 0;
    for (fa_node *n = g->first; n; n = n->next) {
        n->id = node_id++;
        for (uint32_t i = 0; i < n->num_results; i++)
            g->values[k++] = n->results[i];
    }
    for (uint32_t i = 0; i < k; i++)
        g->values[i]->id = i;
    g->num_values = k;
    g->next_node_id = node_id;
}

void fa_node_set_name(fa_graph *g, fa_node *n, const char *name) {
    n->name = fa_graph_intern_cstr(g, name);
}

void fa_node_set_operand(fa_graph *g, fa_node *n, uint32_t i, fa_value *v) {
    FA_ASSERT(i < n->num_operands);
    if (n->operands[i] == v)
        return;
    if (n->operands[i])
        remove_use(n->operands[i], n, i);
    n->operands[i] = v;
    if (v)
        add_use(g, v, n, i);
}

void fa_value_set_name(fa_graph *g, fa_value *v, const char *name) {
    v->name = fa_graph_intern_cstr(g, name);
}

void fa_value_replace_uses(fa_graph *g, fa_value *from, fa_value *to) {
    FA_ASSERT(from != to);
    while (from->num_uses > 0) {
        fa_use u = from->uses[from->num_uses - 1];
        fa_node_set_operand(g, u.node, u.operand, to);
    }
    for (uint32_t i = 0; i < g->num_outputs; i++)
        if (g->outputs[i].value == from)
            g->outputs[i].value = to;
}

/* ---- attributes ---- */

static fa_attr *attr_slot(fa_graph *g, fa_node *n, const char *name) {
    uint32_t i = 0;
    while (i < n->num_attrs && strcmp(n->attrs[i].name, name) < 0)
        i++;
    if (i < n->num_attrs && strcmp(n->attrs[i].name, name) == 0)
        return &n->attrs[i];
    n->attrs = grow(g, n->attrs, &n->cap_attrs, n->num_attrs + 1, sizeof *n->attrs);
    memmove(&n->attrs[i + 1], &n->attrs[i], (n->num_attrs - i) * sizeof *n->attrs);
    n->num_attrs++;
    memset(&n->attrs[i], 0, sizeof n->attrs[i]);
    n->attrs[i].name = fa_graph_intern_cstr(g, name);
    return &n->attrs[i];
}

void fa_node_set_attr_int(fa_graph *g, fa_node *n, const char *name, int64_t v) {
    fa_attr *a = attr_slot(g, n, name);
    a->kind = FA_ATTR_INT;
    a->u.i = v;
}

void fa_node_set_attr_float(fa_graph *g, fa_node *n, const char *name, double v) {
    fa_attr *a = attr_slot(g, n, name);
    a->kind = FA_ATTR_FLOAT;
    a->u.f = v;
}

void fa_node_set_attr_string(fa_graph *g, fa_node *n, const char *name, const char *v) {
    fa_attr *a = attr_slot(g, n, name);
    a->kind = FA_ATTR_STRING;
    a->u.s = fa_graph_intern_cstr(g, v);
}

void fa_node_set_attr_ints(fa_graph *g, fa_node *n, const char *name, const int64_t *v, uint32_t k) {
    int64_t *copy = fa_arena_alloc(&g->arena, sizeof *copy * (k + 1), 16);
    if (k)
        memcpy(copy, v, sizeof *copy * k);
    fa_attr *a = attr_slot(g, n, name);
    a->kind = FA_ATTR_INTS;
    a->u.ints.v = copy;
    a->u.ints.n = k;
}

void fa_node_set_attr_floats(fa_graph *g, fa_node *n, const char *name, const double *v,
                             uint32_t k) {
    double *copy = fa_arena_alloc(&g->arena, sizeof *copy * (k + 1), 16);
    if (k)
        memcpy(copy, v, sizeof *copy * k);
    fa_attr *a = attr_slot(g, n, name);
    a->kind = FA_ATTR_FLOATS;
    a->u.floats.v = copy;
    a->u.floats.n = k;
}

void fa_node_set_attr_strings(fa_graph *g, fa_node *n, const char *name, const char *const *v,
                              uint32_t k) {
    const char **copy = fa_arena_alloc(&g->arena, sizeof *copy * (k + 1), 16);
    for (uint32_t i = 0; i < k; i++)
        copy[i] = fa_graph_intern_cstr(g, v[i]);
    fa_attr *a = attr_slot(g, n, name);
    a->kind = FA_ATTR_STRINGS;
    a->u.strings.v = copy;
    a->u.strings.n = k;
}

void fa_node_set_attr_tensor(fa_graph *g, fa_node *n, const char *name, const fa_tensor *t) {
    fa_attr *a = attr_slot(g, n, name);
    a->kind = FA_ATTR_TENSOR;
    a->u.t = t;
}

bool fa_node_remove_attr(fa_node *n, const char *name) {
    for (uint32_t i = 0; i < n->num_attrs; i++) {
        if (strcmp(n->attrs[i].name, name) == 0) {
            memmove(&n->attrs[i], &n->attrs[i + 1], (n->num_attrs - i - 1) * sizeof *n->attrs);
            n->num_attrs--;
            return true;
        }
    }
    return false;
}

const fa_attr *fa_node_attr(const fa_node *n, const char *name) {
    for (uint32_t i = 0; i < n->num_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t fa_node_attr_int(const fa_node *n, const char *name, int64_t dflt) {
    const fa_attr *a = fa_node_attr(n, name);
    return a && a->kind == FA_ATTR_INT ? a->u.i : dflt;
}

double fa_node_attr_float(const fa_node *n, const char *name, double dflt) {
    const fa_attr *a = fa_node_attr(n, name);
    return a && a->kind == FA_ATTR_FLOAT ? a->u.f : dflt;
}

const char *fa_node_attr_string(const fa_node *n, const char *name, const char *dflt) {
    const fa_attr *a = fa_node_attr(n, name);
    return a && a->kind == FA_ATTR_STRING ? a->u.s : dflt;
}

bool fa_tensor_equal(const fa_tensor *a, const fa_tensor *b) {
    if (a == b)
        return true;
    return fa_type_equal(&a->type, &b->type) && a->nbytes == b->nbytes &&
           (a->nbytes == 0 || memcmp(a->data, b->data, (size_t)a->nbytes) == 0);
}

bool fa_attr_equal(const fa_attr *a, const fa_attr *b) {
    if (a->kind != b->kind || strcmp(a->name, b->name) != 0)
        return false;
    switch (a->kind) {
    case FA_ATTR_INT: return a->u.i == b->u.i;
    case FA_ATTR_FLOAT: return memcmp(&a->u.f, &b->u.f, sizeof a->u.f) == 0;
    case FA_ATTR_STRING: return strcmp(a->u.s, b->u.s) == 0;
    case FA_ATTR_INTS:
        return a->u.ints.n == b->u.ints.n &&
               (a->u.ints.n == 0 ||
                memcmp(a->u.ints.v, b->u.ints.v, a->u.ints.n * sizeof *a->u.ints.v) == 0);
    case FA_ATTR_FLOATS:
        return a->u.floats.n == b->u.floats.n &&
               (a->u.floats.n == 0 ||
                memcmp(a->u.floats.v, b->u.floats.v, a->u.floats.n * sizeof *a->u.floats.v) == 0);
    case FA_ATTR_STRINGS:
        if (a->u.strings.n != b->u.strings.n)
            return false;
        for (uint32_t i = 0; i < a->u.strings.n; i++)
            if (strcmp(a->u.strings.v[i], b->u.strings.v[i]) != 0)
                return false;
        return true;
    case FA_ATTR_TENSOR: return fa_tensor_equal(a->u.t, b->u.t);
    }
    return false;
}

const char *fa_node_describe(const fa_node *n, char *buf, size_t size) {
    if (n->name)
        snprintf(buf, size, "node '%s' (%s)", n->name, fa_op_get(n->op)->name);
    else
        snprintf(buf, size, "node #%u (%s)", n->id, fa_op_get(n->op)->name);
    return buf;
}
