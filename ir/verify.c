/* The IR verifier: checks arity, attributes against ops.def, dominance in program order, use
 * lists (rebuilt and compared), types against the op's shape rule, and name uniqueness. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

#define ERR(n, ...) verify_error(n, __VA_ARGS__)

static fa_status verify_error(const fa_node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static fa_status verify_error(const fa_node *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fa_status s = fa_status_makev(FA_STATUS_VERIFY, fmt, ap);
    va_end(ap);
    if (n) {
        char buf[256];
        s = fa_status_prefix(s, "%s", fa_node_describe(n, buf, sizeof buf));
    }
    return s;
}

static fa_status verify_attrs(const fa_node *n) {
    const fa_op_info *info = fa_op_get(n->op);
    for (uint32_t i = 0; i < n->num_attrs; i++) {
        const fa_attr *a = &n->attrs[i];
        if (i > 0 && strcmp(n->attrs[i - 1].name, a->name) >= 0)
            return ERR(n, "attributes not sorted or duplicated at '%s'", a->name);
        fa_attr_kind kind;
        bool required;
        if (!fa_op_attr_spec(n->op, a->name, &kind, &required))
            return ERR(n, "unknown attribute '%s'", a->name);
        if (kind != a->kind)
            return ERR(n, "attribute '%s' is %s, expected %s", a->name, fa_attr_kind_name(a->kind),
                       fa_attr_kind_name(kind));
    }
    const char *cursor = info->attrs;
    char name[64];
    fa_attr_kind kind;
    bool required;
    while (fa_op_attr_spec_next(&cursor, name, sizeof name, &kind, &required))
        if (required && !fa_node_attr(n, name))
            return ERR(n, "missing required attribute '%s'", name);
    return FA_OK;
}

static bool dims_compatible(fa_dim declared, fa_dim inferred) {
    if (fa_dim_is_static(declared) && fa_dim_is_static(inferred))
        return declared.value == inferred.value;
    if (declared.sym && inferred.sym)
        return declared.sym == inferred.sym;
    return true; /* one side unknown, or symbol vs static: can't tell statically */
}

static fa_status verify_types(const fa_node *n) {
    fa_type inferred[FA_ARITY_VARIADIC + 1];
    bool has_rule;
    fa_status s = fa_node_infer_types(n, inferred, &has_rule);
    if (s) {
        char buf[256];
        return fa_status_prefix(s, "%s", fa_node_describe(n, buf, sizeof buf));
    }
    if (!has_rule)
        return FA_OK;
    for (uint32_t i = 0; i < n->num_results; i++) {
        const fa_type *d = &n->results[i]->type, *t = &inferred[i];
        bool ok = d->dtype == t->dtype || t->dtype == FA_DT_INVALID;
        if (ok && d->rank >= 0 && t->rank >= 0) {
            ok = d->rank == t->rank;
            for (int k = 0; ok && k < d->rank; k++)
                ok = dims_compatible(d->dims[k], t->dims[k]);
        }
        if (!ok) {
            char a[128], b[128];
            fa_type_format(d, a, sizeof a);
            fa_type_format(t, b, sizeof b);
            return ERR(n, "result %u has type %s but the operands give %s", i, a, b);
        }
    }
    return FA_OK;
}

fa_status fa_node_verify_local(const fa_node *n) {
    const fa_op_info *info = fa_op_get(n->op);
    char want[48];
    if (n->dead)
        return ERR(n, "dead node in the node list");
    if (n->num_operands < info->min_in ||
        (info->max_in != FA_ARITY_VARIADIC && n->num_operands > info->max_in)) {
        fa_arity_format(info->min_in, info->max_in, want, sizeof want);
        return ERR(n, "has %u operands, expected %s", n->num_operands, want);
    }
    if (n->num_results < info->min_out ||
        (info->max_out != FA_ARITY_VARIADIC && n->num_results > info->max_out)) {
        fa_arity_format(info->min_out, info->max_out, want, sizeof want);
        return ERR(n, "has %u results, expected %s", n->num_results, want);
    }
    for (uint32_t i = 0; i < n->num_operands; i++)
        if (!n->operands[i] && i < info->min_in)
            return ERR(n, "required operand %u is missing", i);
    for (uint32_t i = 0; i < n->num_results; i++) {
        const fa_value *r = n->results[i];
        if (r->kind != FA_VALUE_RESULT || r->def != n || r->def_index != i)
            return ERR(n, "result %u does not point back at its node", i);
    }
    FA_TRY(verify_attrs(n));
    return verify_types(n);
}

static fa_status verify_node(const fa_node *n, const unsigned char *defined) {
    for (uint32_t i = 0; i < n->num_operands; i++) {
        const fa_value *v = n->operands[i];
        if (v && !defined[v->id])
            return ERR(n, "operand %u (%%%s) is used before it is defined", i,
                       v->name ? v->name : "unnamed");
    }
    return fa_node_verify_local(n);
}

static fa_status verify_uses(const fa_graph *g, uint32_t *expected) {
    uint32_t nv = fa_graph_num_values(g);
    memset(expected, 0, sizeof *expected * nv);
    for (const fa_node *n = fa_graph_first_node(g); n; n = n->next)
        for (uint32_t i = 0; i < n->num_operands; i++)
            if (n->operands[i])
                expected[n->operands[i]->id]++;
    for (uint32_t id = 0; id < nv; id++) {
        const fa_value *v = fa_graph_value(g, id);
        if (v->dead)
            continue;
        if (v->num_uses != expected[id])
            return ERR(NULL, "value %%%s (id %u) lists %u uses but %u nodes use it",
                       v->name ? v->name : "unnamed", id, v->num_uses, expected[id]);
        for (uint32_t k = 0; k < v->num_uses; k++) {
            const fa_use *u = &v->uses[k];
            if (u->node->dead || u->operand >= u->node->num_operands ||
                u->node->operands[u->operand] != v)
                return ERR(NULL, "value %%%s (id %u) has a stale use", v->name ? v->name : "unnamed",
                           id);
        }
    }
    return FA_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static fa_status verify_names(const fa_graph *g, const char **names) {
    uint32_t k = 0;
    for (uint32_t id = 0; id < fa_graph_num_values(g); id++) {
        const fa_value *v = fa_graph_value(g, id);
        if (v->name && !v->dead)
            names[k++] = v->name;
    }
    qsort(names, k, sizeof *names, cmp_str);
    for (uint32_t i = 1; i < k; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return ERR(NULL, "two values are named '%s'", names[i]);
    for (uint32_t i = 0; i < fa_graph_num_outputs(g); i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(fa_graph_output(g, i)->name, fa_graph_output(g, j)->name) == 0)
                return ERR(NULL, "two outputs are named '%s'", fa_graph_output(g, i)->name);
    return FA_OK;
}

fa_status fa_graph_verify(const fa_graph *g) {
    uint32_t nv = fa_graph_num_values(g);
    unsigned char *defined = calloc(nv + 1, 1);
    uint32_t *counts = calloc(nv + 1, sizeof *counts);
    const char **names = calloc(nv + 1, sizeof *names);
    if (!defined || !counts || !names) {
        free(defined);
        free(counts);
        free(names);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory in the verifier");
    }
    fa_status s = FA_OK;
    for (uint32_t id = 0; id < nv && !s; id++)
        if (fa_graph_value(g, id)->id != id)
            s = ERR(NULL, "value id table is inconsistent at %u", id);
    for (uint32_t i = 0; i < fa_graph_num_inputs(g) && !s; i++) {
        const fa_value *v = fa_graph_input(g, i);
        if (v->kind != FA_VALUE_INPUT || !v->name)
            s = ERR(NULL, "input %u is malformed (wrong kind or no name)", i);
        else
            defined[v->id] = 1;
    }
    for (uint32_t i = 0; i < fa_graph_num_consts(g) && !s; i++) {
        const fa_value *v = fa_graph_const(g, i);
        uint64_t nbytes = 0;
        if (v->kind != FA_VALUE_CONST || !v->name || !v->tensor)
            s = ERR(NULL, "constant %u is malformed", i);
        else if (fa_type_num_bytes(&v->type, &nbytes) != FA_OK || nbytes != v->tensor->nbytes)
            s = ERR(NULL, "constant @%s: byte size does not match its type", v->name);
        else
            defined[v->id] = 1;
    }
    for (const fa_node *n = fa_graph_first_node(g); n && !s; n = n->next) {
        s = verify_node(n, defined);
        for (uint32_t i = 0; i < n->num_results && !s; i++)
            defined[n->results[i]->id] = 1;
    }
    for (uint32_t i = 0; i < fa_graph_num_outputs(g) && !s; i++) {
        const fa_output *o = fa_graph_output(g, i);
        if (!o->name || !o->value)
            s = ERR(NULL, "output %u is malformed", i);
        else if (!defined[o->value->id])
            s = ERR(NULL, "output '%s' reads a value that is not defined", o->name);
    }
    if (!s)
        s = verify_uses(g, counts);
    if (!s)
        s = verify_names(g, names);
    free(defined);
    free(counts);
    free(names);
    return s;
}
