/* The IR interpreter: binds inputs (checking dtypes, static dims and symbol extents), runs the
 * live nodes in program order through fa_rt_interp_exec_node, frees each value after its last
 * use, and hands the graph outputs to the caller. */
#include <stdio.h>
#include <string.h>

#include "runtime/interp.h"

typedef struct slot {
    fa_rt_tensor t;
    bool live, owned;
    uint32_t uses; /* remaining reads: node operands plus graph outputs */
} slot;

typedef struct sym_binding {
    const char *sym;
    int64_t extent;
    const char *input;
} sym_binding;

void fa_rt_tensors_free(fa_rt_tensor *ts, uint32_t n, const fa_rt_allocator *al) {
    for (uint32_t i = 0; i < n; i++)
        fa_rt_tensor_free(&ts[i], al);
}

static const char *value_name(const fa_value *v) { return v->name ? v->name : "(unnamed)"; }

static fa_status bind_input(const fa_value *v, const fa_rt_tensor *t, sym_binding *syms,
                            uint32_t *nsyms) {
    const char *name = value_name(v);
    if (t->dtype == FA_DT_INVALID)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "input '%s' is missing", name);
    const fa_type *ty = &v->type;
    if (ty->dtype != FA_DT_INVALID && t->dtype != ty->dtype)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "input '%s': dtype %s, expected %s", name,
                              fa_dtype_name(t->dtype), fa_dtype_name(ty->dtype));
    uint64_t n, bytes;
    fa_status s = fa_rt_shape_num_elements(t->rank, t->dims, &n);
    if (!s)
        s = fa_rt_dtype_num_bytes(t->dtype, n, &bytes);
    if (s)
        return fa_status_prefix(s, "input '%s'", name);
    if (bytes != t->nbytes || (bytes && !t->data))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "input '%s': %llu bytes of data for a shape needing %llu", name,
                              (unsigned long long)t->nbytes, (unsigned long long)bytes);
    if (ty->rank < 0)
        return FA_OK;
    if (t->rank != ty->rank)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "input '%s': rank %d, expected %d", name,
                              t->rank, ty->rank);
    for (int i = 0; i < t->rank; i++) {
        fa_dim d = ty->dims[i];
        if (fa_dim_is_static(d)) {
            if (t->dims[i] != d.value)
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                      "input '%s': dim %d is %lld, expected %lld", name, i,
                                      (long long)t->dims[i], (long long)d.value);
            continue;
        }
        if (!d.sym)
            continue;
        uint32_t k = 0;
        while (k < *nsyms && syms[k].sym != d.sym)
            k++;
        if (k == *nsyms) {
            syms[k].sym = d.sym;
            syms[k].extent = t->dims[i];
            syms[k].input = name;
            (*nsyms)++;
        } else if (syms[k].extent != t->dims[i]) {
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "input '%s': dim %d (%s) is %lld, but %s is %lld in input '%s'",
                                  name, i, d.sym, (long long)t->dims[i], d.sym,
                                  (long long)syms[k].extent, syms[k].input);
        }
    }
    return FA_OK;
}

static void slot_release(slot *s, const fa_rt_allocator *al) {
    if (s->live && s->owned)
        fa_rt_tensor_free(&s->t, al);
    s->live = false;
}

/* Drops one read of |v|; frees it when none remain. */
static void slot_use(slot *slots, const fa_value *v, const fa_rt_allocator *al) {
    slot *s = &slots[v->id];
    if (s->uses > 0 && --s->uses == 0)
        slot_release(s, al);
}

/* Runs node |n| (after showing its operands to |observe|, if any), storing its results in
 * |slots|. */
static fa_status run_node(const fa_node *n, slot *slots, const fa_rt_allocator *al,
                          fa_rt_interp_observer observe, void *user) {
    enum { MAX_IO = 512 };
    const fa_rt_tensor *ins[MAX_IO];
    fa_rt_tensor outs[MAX_IO];
    bool owned[MAX_IO];
    if (n->num_operands > MAX_IO || n->num_results > MAX_IO)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "too many operands or results");
    for (uint32_t i = 0; i < n->num_operands; i++) {
        const fa_value *v = n->operands[i];
        ins[i] = NULL;
        if (!v)
            continue;
        if (!slots[v->id].live)
            return fa_status_make(FA_STATUS_INTERNAL, "operand %u ('%s') has no value", i,
                                  value_name(v));
        ins[i] = &slots[v->id].t;
    }
    if (observe)
        FA_TRY(observe(n, ins, user));
    FA_TRY(fa_rt_interp_exec_node(n, ins, n->num_operands, outs, owned, al));
    for (uint32_t i = 0; i < n->num_results; i++) {
        slot *s = &slots[n->results[i]->id];
        s->t = outs[i];
        s->owned = owned[i];
        s->live = true;
        if (s->uses == 0)
            slot_release(s, al);
    }
    for (uint32_t i = 0; i < n->num_operands; i++)
        if (n->operands[i])
            slot_use(slots, n->operands[i], al);
    return FA_OK;
}

fa_status fa_rt_interp_run(const fa_graph *g, const fa_rt_tensor *inputs, uint32_t num_inputs,
                           fa_rt_tensor *outputs, const fa_rt_allocator *al) {
    return fa_rt_interp_run_observed(g, inputs, num_inputs, outputs, al, NULL, NULL);
}

fa_status fa_rt_interp_run_observed(const fa_graph *g, const fa_rt_tensor *inputs,
                                    uint32_t num_inputs, fa_rt_tensor *outputs,
                                    const fa_rt_allocator *al, fa_rt_interp_observer observe,
                                    void *user) {
    uint32_t nv = fa_graph_num_values(g), nin = fa_graph_num_inputs(g);
    uint32_t nout = fa_graph_num_outputs(g);
    for (uint32_t i = 0; i < nout; i++)
        memset(&outputs[i], 0, sizeof outputs[i]);
    size_t bytes = (size_t)nv * sizeof(slot) + nin * sizeof(sym_binding) * FA_MAX_RANK;
    void *mem = al->alloc(al->user, bytes ? bytes : 1, 16);
    if (!mem)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "interpreter: out of memory");
    memset(mem, 0, bytes);
    slot *slots = mem;
    sym_binding *syms = (sym_binding *)(slots + nv);
    uint32_t nsyms = 0;
    fa_status s = FA_OK;
    if (num_inputs > nin)
        s = fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%u inputs given, the graph has %u",
                           num_inputs, nin);

    for (uint32_t i = 0; i < nin && !s; i++) {
        const fa_value *v = fa_graph_input(g, i);
        if (i >= num_inputs) {
            s = fa_status_make(FA_STATUS_INVALID_ARGUMENT, "input '%s' is missing", value_name(v));
            break;
        }
        s = bind_input(v, &inputs[i], syms, &nsyms);
        slots[v->id] = (slot){inputs[i], true, false, 0};
    }
    for (uint32_t i = 0; i < fa_graph_num_consts(g) && !s; i++) {
        const fa_value *v = fa_graph_const(g, i);
        const fa_tensor *t = v->tensor;
        int64_t dims[FA_MAX_RANK];
        for (int d = 0; d < t->type.rank; d++)
            dims[d] = t->type.dims[d].value;
        slots[v->id] =
            (slot){fa_rt_tensor_view(t->type.dtype, t->type.rank, dims, t->data, t->nbytes), true,
                   false, 0};
    }
    /* count the reads of every value: node operands and graph outputs */
    for (const fa_node *n = fa_graph_first_node(g); n && !s; n = n->next) {
        if (n->dead)
            continue;
        for (uint32_t i = 0; i < n->num_operands; i++)
            if (n->operands[i])
                slots[n->operands[i]->id].uses++;
    }
    for (uint32_t i = 0; i < nout; i++)
        slots[fa_graph_output(g, i)->value->id].uses++;

    for (const fa_node *n = fa_graph_first_node(g); n && !s; n = n->next) {
        if (n->dead)
            continue;
        s = run_node(n, slots, al, observe, user);
        if (s) {
            char where[256];
            s = fa_status_prefix(s, "%s", fa_node_describe(n, where, sizeof where));
        }
    }
    for (uint32_t i = 0; i < nout && !s; i++) {
        const fa_output *o = fa_graph_output(g, i);
        slot *sl = &slots[o->value->id];
        if (!sl->live) {
            s = fa_status_make(FA_STATUS_INTERNAL, "output '%s' was not computed", o->name);
        } else if (sl->owned && sl->uses == 1) {
            outputs[i] = sl->t; /* hand over: this is the last read */
            sl->live = false;
            sl->uses = 0;
        } else {
            s = fa_status_prefix(fa_rt_tensor_clone(&outputs[i], &sl->t, al), "output '%s'",
                                 o->name);
            if (!s)
                slot_use(slots, o->value, al);
        }
    }
    for (uint32_t i = 0; i < nv; i++)
        slot_release(&slots[i], al);
    if (s)
        fa_rt_tensors_free(outputs, nout, al);
    al->free(al->user, mem);
    return s;
}
