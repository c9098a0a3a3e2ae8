/* The plan builder: the IR-facing half of runtime/plan.h. Lowers a verified fa_graph into plain
 * plan data (buffers, steps with argument indices, liveness, free lists, row-split rules), then
 * runs the shape pass on the caller's inputs to get the first memory plan. Each step's kernel is
 * the interpreter's dispatch (fa_rt_interp_exec_node) with the node as its params. The bottom
 * of the file replaces kernels for a higher layer (the JIT) and fuses steps. */
#include <string.h>

#include "runtime/interp.h"
#include "runtime/kernels.h"
#include "runtime/plan_internal.h"

enum { MAX_RESULTS = 512 };

/* The C reference kernel of a node: the interpreter's dispatch; results it borrows from the graph
 * (a Constant node's tensor) are copied, so every output is owned by the caller. */
static fa_status c_kernel(const void *params, const fa_rt_tensor *const *ins, uint32_t nin,
                          fa_rt_tensor *outs, uint32_t nout, const fa_rt_allocator *al) {
    const fa_node *n = params;
    bool owned[MAX_RESULTS];
    if (nout > MAX_RESULTS || nout != n->num_results)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "too many operands or results");
    FA_TRY(fa_rt_interp_exec_node(n, ins, nin, outs, owned, al));
    for (uint32_t j = 0; j < nout; j++) {
        if (owned[j])
            continue;
        fa_rt_tensor borrowed = outs[j];
        fa_status s = fa_rt_tensor_clone(&outs[j], &borrowed, al);
        if (s) {
            for (uint32_t i = 0; i < nout; i++)
                if (i != j && (i < j || owned[i]))
                    fa_rt_tensor_free(&outs[i], al);
            return s;
        }
    }
    return FA_OK;
}

/* Slice's axes when they are a constant operand (i64 or i32, rank 1), as bit masks of the axes
 * a >= 0 (bit a) and a < 0 (bit -1 - a). False if unknown or omitted (then all leading axes). */
static bool slice_axes(const fa_node *n, uint32_t *pos, uint32_t *neg) {
    const fa_value *v = n->num_operands > 3 ? n->operands[3] : NULL;
    if (!v || v->kind != FA_VALUE_CONST || v->tensor->type.rank != 1 ||
        (v->tensor->type.dtype != FA_DT_I64 && v->tensor->type.dtype != FA_DT_I32))
        return false;
    const fa_tensor *t = v->tensor;
    *pos = *neg = 0;
    for (int64_t i = 0; i < t->type.dims[0].value; i++) {
        int64_t a = fa_rt_load_i64(t->type.dtype, t->data, (uint64_t)i);
        if (a < -FA_MAX_RANK || a >= FA_MAX_RANK)
            return false;
        if (a >= 0)
            *pos |= 1u << a;
        else
            *neg |= 1u << (-1 - a);
    }
    return true;
}

static fa_rt_step_rule rule_of(const fa_node *n) {
    fa_rt_step_rule r = {FA_RT_ROWS_NONE, false, false, 0, -1, 0, 0};
    switch (n->op) {
    case FA_OP_LINEAR: r = (fa_rt_step_rule){FA_RT_ROWS_LAST, true, false, 1, -1, 0, 0}; break;
    case FA_OP_QLINEAR: /* codes, scales */
        r = (fa_rt_step_rule){FA_RT_ROWS_LAST, false, true, 3, -1, 0, 0};
        break;
    case FA_OP_ROUTED_TRANSFORM:
        r = (fa_rt_step_rule){FA_RT_ROWS_LAST, true, false, 3, -1, 0, 0};
        break;
    case FA_OP_QUANTIZE: /* x, tt; clip whole */
    case FA_OP_SWIGLU: r = (fa_rt_step_rule){FA_RT_ROWS_LAST, false, false, 3, -1, 0, 0}; break;
    case FA_OP_GELU: r = (fa_rt_step_rule){FA_RT_ROWS_LAST, false, false, 1, -1, 0, 0}; break;
    /* cos, sin broadcast like an elementwise op's operands; the prefix never takes the last dim */
    case FA_OP_ROPE: r.rule = FA_RT_ROWS_BROADCAST; break;
    case FA_OP_RMS_NORM:
    case FA_OP_LAYER_NORM:
    case FA_OP_SOFTMAX:
    case FA_OP_LOG_SOFTMAX:
        r = (fa_rt_step_rule){
            FA_RT_ROWS_AXIS, false, false, 1, fa_node_attr_int(n, "axis", -1), 0, 0};
        break;
    case FA_OP_MAT_MUL: r.rule = FA_RT_ROWS_MATMUL; break;
    case FA_OP_TRANSPOSE: {
        const fa_attr *perm = fa_node_attr(n, "perm");
        int64_t k = 0;
        while (perm && perm->kind == FA_ATTR_INTS && k < (int64_t)perm->u.ints.n &&
               perm->u.ints.v[k] == k)
            k++;
        r = (fa_rt_step_rule){FA_RT_ROWS_PREFIX, false, false, 1, k, 0, 0};
        break;
    }
    case FA_OP_SLICE:
        if (slice_axes(n, &r.sliced_pos, &r.sliced_neg)) {
            r.rule = FA_RT_ROWS_PREFIX;
            r.mask = 1;
            r.axis = FA_MAX_RANK;
        }
        break;
    default:
        if ((fa_op_get(n->op)->flags & FA_OPF_ELEMENTWISE) && n->num_results == 1)
            r.rule = FA_RT_ROWS_BROADCAST;
        break;
    }
    return r;
}

static void *zalloc(const fa_rt_allocator *al, uint64_t count, size_t size) {
    if (count > SIZE_MAX / 2 / size)
        return NULL;
    size_t n = (size_t)count * size;
    void *p = al->alloc(al->user, n ? n : 1, 64);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

/* Copies |s| into plan-owned memory (p->strs has room: counted in build). */
static const char *own_str(fa_rt_plan *p, const char *s) {
    size_t n = strlen(s) + 1;
    char *c = p->al->alloc(p->al->user, n, 1);
    if (!c)
        return NULL;
    memcpy(c, s, n);
    p->strs[p->nstrs++] = c;
    return c;
}

#define OOM() fa_status_make(FA_STATUS_OUT_OF_MEMORY, "plan: out of memory")

/* Input specs: dtypes, static dims, symbols numbered in first-seen order. */
static fa_status build_inputs(fa_rt_plan *p, const fa_graph *g) {
    const char **syms = zalloc(p->al, (uint64_t)p->num_inputs * FA_MAX_RANK, sizeof *syms);
    p->sym_names = zalloc(p->al, (uint64_t)p->num_inputs * FA_MAX_RANK, sizeof *p->sym_names);
    if (!syms || !p->sym_names) {
        p->al->free(p->al->user, syms);
        return OOM();
    }
    fa_status s = FA_OK;
    for (uint32_t i = 0; i < p->num_inputs && !s; i++) {
        const fa_value *v = fa_graph_input(g, i);
        fa_rt_input_spec *in = &p->inputs[i];
        in->name = own_str(p, v->name ? v->name : "(unnamed)");
        in->dtype = v->type.dtype;
        in->rank = v->type.rank;
        if (!in->name)
            s = OOM();
        for (int d = 0; d < in->rank && !s; d++) {
            fa_dim dim = v->type.dims[d];
            in->dims[d] = fa_dim_is_static(dim) ? dim.value : -1;
            in->sym[d] = -1;
            if (!dim.sym)
                continue;
            uint32_t k = 0;
            while (k < p->num_syms && syms[k] != dim.sym)
                k++;
            if (k == p->num_syms) {
                syms[k] = dim.sym;
                if (!(p->sym_names[k] = own_str(p, dim.sym)))
                    s = OOM();
                p->num_syms++;
            }
            in->sym[d] = (int32_t)k;
        }
    }
    p->al->free(p->al->user, syms);
    return s;
}

/* Buffers (inputs, constants, node results), steps with their args, liveness, outputs, free
 * lists, op kinds. */
static fa_status build(fa_rt_plan *p, const fa_graph *g) {
    const fa_rt_allocator *al = p->al;
    uint32_t nv = fa_graph_num_values(g), nconst = fa_graph_num_consts(g);
    uint64_t nsteps = 0, nargs = 0, nbuf = 0;
    p->num_inputs = fa_graph_num_inputs(g);
    p->nout = fa_graph_num_outputs(g);
    p->max_in = p->max_out = 1;
    for (const fa_node *n = fa_graph_first_node(g); n; n = n->next) {
        if (n->dead)
            continue;
        nsteps++;
        nargs += (uint64_t)n->num_operands + n->num_results;
        nbuf += n->num_results;
        p->max_in = n->num_operands > p->max_in ? n->num_operands : p->max_in;
        p->max_out = n->num_results > p->max_out ? n->num_results : p->max_out;
    }
    nbuf += (uint64_t)p->num_inputs + nconst;
    if (nargs >= UINT32_MAX || nbuf >= UINT32_MAX)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "plan: graph too large");
    p->nsteps = (uint32_t)nsteps;
    p->nargs = (uint32_t)nargs;
    uint64_t nstrs = (uint64_t)p->num_inputs * (1 + FA_MAX_RANK) + p->nout + nsteps;
    uint32_t *buf_of = zalloc(al, nv, sizeof *buf_of);
    uint32_t *op_kind = zalloc(al, FA_OP_COUNT, sizeof *op_kind);
    p->inputs = zalloc(al, p->num_inputs, sizeof *p->inputs);
    p->bufs = zalloc(al, nbuf, sizeof *p->bufs);
    p->steps = zalloc(al, nsteps, sizeof *p->steps);
    p->rules = zalloc(al, nsteps, sizeof *p->rules);
    p->nodes = zalloc(al, nsteps, sizeof *p->nodes);
    p->fused = zalloc(al, nsteps, sizeof *p->fused);
    p->args = zalloc(al, nargs, sizeof *p->args);
    p->args_rows = zalloc(al, nargs, sizeof *p->args_rows);
    p->frees = zalloc(al, nbuf, sizeof *p->frees);
    p->outputs = zalloc(al, p->nout, sizeof *p->outputs);
    p->output_names = zalloc(al, p->nout, sizeof *p->output_names);
    p->ops = zalloc(al, FA_OP_COUNT, sizeof *p->ops);
    p->strs = zalloc(al, nstrs, sizeof *p->strs);
    fa_status s = FA_OK;
    if (!buf_of || !op_kind || !p->inputs || !p->bufs || !p->steps || !p->rules || !p->nodes ||
        !p->fused || !p->args || !p->args_rows || !p->frees || !p->outputs || !p->output_names ||
        !p->ops || !p->strs)
        s = OOM();
    if (!s)
        s = build_inputs(p, g);
    for (uint32_t i = 0; i < nv && !s; i++)
        buf_of[i] = FA_RT_PLAN_NONE;
    for (uint32_t i = 0; i < p->num_inputs && !s; i++) {
        buf_of[fa_graph_input(g, i)->id] = p->nbuf;
        p->bufs[p->nbuf++] = (fa_rt_plan_buffer){
            .kind = FA_RT_BUFFER_INPUT, .input = i, .def_step = FA_RT_PLAN_NONE};
    }
    for (uint32_t i = 0; i < nconst && !s; i++) {
        const fa_value *v = fa_graph_const(g, i);
        const fa_tensor *t = v->tensor;
        int64_t dims[FA_MAX_RANK];
        for (int d = 0; d < t->type.rank; d++)
            dims[d] = t->type.dims[d].value;
        fa_rt_plan_buffer *b = &p->bufs[p->nbuf];
        *b = (fa_rt_plan_buffer){.kind = FA_RT_BUFFER_CONST, .def_step = FA_RT_PLAN_NONE};
        b->view = fa_rt_tensor_view(t->type.dtype, t->type.rank, dims, t->data, t->nbytes);
        b->dtype = b->view.dtype;
        b->rank = b->view.rank;
        memcpy(b->dims, b->view.dims, sizeof b->dims);
        b->nbytes = b->view.nbytes;
        buf_of[v->id] = p->nbuf++;
    }
    uint32_t si = 0, arg = 0;
    for (const fa_node *n = fa_graph_first_node(g); n && !s; n = n->next) {
        if (n->dead)
            continue;
        fa_rt_plan_step *st = &p->steps[si];
        const fa_op_info *info = fa_op_get(n->op);
        char where[256];
        st->kernel = c_kernel;
        st->params = n;
        p->nodes[si] = n;
        p->fused[si] = FA_RT_PLAN_NONE;
        st->where = own_str(p, fa_node_describe(n, where, sizeof where));
        if (!op_kind[n->op]) {
            p->ops[p->nops] = (fa_rt_plan_op_stats){.op = info->name};
            op_kind[n->op] = ++p->nops;
        }
        st->op_kind = op_kind[n->op] - 1;
        p->ops[st->op_kind].steps++;
        st->first_arg = arg;
        st->num_in = n->num_operands;
        st->num_out = n->num_results;
        p->rules[si] = rule_of(n);
        for (uint32_t i = 0; i < n->num_operands && !s; i++) {
            const fa_value *v = n->operands[i];
            uint32_t b = v ? buf_of[v->id] : FA_RT_PLAN_NONE;
            if (v && b == FA_RT_PLAN_NONE)
                s = fa_status_make(FA_STATUS_INTERNAL, "%s: operand %u is not defined before",
                                   st->where, i);
            else if (b != FA_RT_PLAN_NONE && p->bufs[b].def_step != FA_RT_PLAN_NONE)
                p->bufs[b].last_step = si; /* steps are visited in order: the max */
            p->args[arg++] = b;
        }
        for (uint32_t j = 0; j < n->num_results; j++) {
            buf_of[n->results[j]->id] = p->nbuf;
            p->bufs[p->nbuf] =
                (fa_rt_plan_buffer){.kind = FA_RT_BUFFER_ARENA, .def_step = si, .last_step = si};
            p->args[arg++] = p->nbuf++;
        }
        if (!st->where)
            s = OOM();
        si++;
    }
    for (uint32_t i = 0; i < p->nout && !s; i++) {
        const fa_output *o = fa_graph_output(g, i);
        uint32_t b = buf_of[o->value->id];
        if (b == FA_RT_PLAN_NONE) {
            s = fa_status_make(FA_STATUS_INTERNAL, "output '%s' is not defined", o->name);
            break;
        }
        p->outputs[i] = b;
        if (p->bufs[b].kind == FA_RT_BUFFER_ARENA)
            p->bufs[b].kind = FA_RT_BUFFER_OUTPUT;
        if (!(p->output_names[i] = own_str(p, o->name ? o->name : "(unnamed)")))
            s = OOM();
    }
    /* free lists: an arena buffer is released after its last reader (or its writer) */
    for (uint32_t b = 0; b < p->nbuf && !s; b++)
        if (p->bufs[b].kind == FA_RT_BUFFER_ARENA)
            p->steps[p->bufs[b].last_step].num_free++;
    for (uint32_t i = 0, at = 0; i < p->nsteps && !s; i++) {
        p->steps[i].first_free = at;
        at += p->steps[i].num_free;
        p->steps[i].num_free = 0;
    }
    for (uint32_t b = 0; b < p->nbuf && !s; b++)
        if (p->bufs[b].kind == FA_RT_BUFFER_ARENA) {
            fa_rt_plan_step *st = &p->steps[p->bufs[b].last_step];
            p->frees[st->first_free + st->num_free++] = b;
            p->nfrees++;
        }
    al->free(al->user, op_kind);
    al->free(al->user, buf_of);
    return s;
}

fa_status fa_rt_plan_create_lazy(const fa_graph *g, const fa_rt_allocator *al, fa_rt_plan **out) {
    *out = NULL;
    fa_rt_plan *p = zalloc(al, 1, sizeof *p);
    if (!p)
        return OOM();
    p->al = al;
    fa_status s = build(p, g);
    if (!s)
        s = fa_rt_plan_init_run(p);
    if (s) {
        fa_rt_plan_destroy(p);
        return s;
    }
    *out = p;
    return FA_OK;
}

fa_status fa_rt_plan_create(const fa_graph *g, const fa_rt_tensor *inputs, uint32_t num_inputs,
                            const fa_rt_allocator *al, fa_rt_plan **out) {
    fa_rt_plan *p;
    FA_TRY(fa_rt_plan_create_lazy(g, al, &p));
    /* the shape pass: one run on |inputs|, outputs dropped */
    fa_rt_tensor *outs = zalloc(al, p->nout, sizeof *outs);
    fa_status s = outs ? fa_rt_plan_execute(p, NULL, inputs, num_inputs, outs, al) : OOM();
    for (uint32_t i = 0; outs && !s && i < p->nout; i++)
        fa_rt_tensor_free(&outs[i], al);
    al->free(al->user, outs);
    if (s) {
        fa_rt_plan_destroy(p);
        return s;
    }
    *out = p;
    return FA_OK;
}

/* ---- replacing kernels and fusing steps ---------------------------------------------------- */

const fa_node *fa_rt_plan_step_node(const fa_rt_plan *plan, uint32_t step) {
    return step < plan->nsteps ? plan->nodes[step] : NULL;
}

uint32_t fa_rt_plan_step_fused(const fa_rt_plan *plan, uint32_t step) {
    return step < plan->nsteps ? plan->fused[step] : FA_RT_PLAN_NONE;
}

/* Makes |step| run |kernel| with |params|, releasing what the plan owned for it before. */
static fa_status install(fa_rt_plan *p, uint32_t step, fa_rt_step_kernel kernel, void *params,
                         fa_rt_step_params_free params_free) {
    if (!p->owned_params) {
        p->owned_params = zalloc(p->al, p->nsteps, sizeof *p->owned_params);
        p->params_free = zalloc(p->al, p->nsteps, sizeof *p->params_free);
        if (!p->owned_params || !p->params_free) {
            p->al->free(p->al->user, p->owned_params);
            p->al->free(p->al->user, (void *)p->params_free);
            p->owned_params = NULL;
            p->params_free = NULL;
            if (params && params_free)
                params_free(params);
            return OOM();
        }
    }
    if (p->owned_params[step] && p->params_free[step])
        p->params_free[step](p->owned_params[step]);
    p->owned_params[step] = params;
    p->params_free[step] = params_free;
    p->steps[step].kernel = kernel;
    p->steps[step].params = params;
    return FA_OK;
}

static fa_status reject(void *params, fa_rt_step_params_free params_free, fa_status s) {
    if (params && params_free)
        params_free(params);
    return s;
}

fa_status fa_rt_plan_set_step_kernel(fa_rt_plan *plan, uint32_t step, fa_rt_step_kernel kernel,
                                     void *params, fa_rt_step_params_free params_free) {
    if (step >= plan->nsteps || !plan->steps[step].kernel || !kernel)
        return reject(params, params_free,
                      fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                     "plan: step %u cannot take a kernel (out of range, fused "
                                     "away, or no kernel given)",
                                     step));
    return install(plan, step, kernel, params, params_free);
}

/* Whether buffer |b| is read by a step other than |except| (or is a graph output). */
static bool read_elsewhere(const fa_rt_plan *p, uint32_t b, uint32_t except) {
    if (p->bufs[b].kind != FA_RT_BUFFER_ARENA)
        return true;
    for (uint32_t si = 0; si < p->nsteps; si++) {
        const fa_rt_plan_step *st = &p->steps[si];
        for (uint32_t k = 0; si != except && k < st->num_in; k++)
            if (p->args[st->first_arg + k] == b)
                return true;
    }
    return false;
}

fa_status fa_rt_plan_fuse_steps(fa_rt_plan *plan, uint32_t first, uint32_t second,
                                fa_rt_step_kernel kernel, void *params,
                                fa_rt_step_params_free params_free) {
    fa_rt_plan *p = plan;
    if (first >= second || second >= p->nsteps || !p->steps[first].kernel ||
        !p->steps[second].kernel || !kernel)
        return reject(params, params_free,
                      fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                     "plan: steps %u and %u cannot be fused", first, second));
    fa_rt_plan_step *a = &p->steps[first], *b = &p->steps[second];
    const uint32_t *aargs = p->args + a->first_arg, *bargs = p->args + b->first_arg;
    for (uint32_t j = 0; j < a->num_out; j++)
        if (read_elsewhere(p, aargs[a->num_in + j], second))
            return reject(params, params_free,
                          fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                         "%s: a result has a reader besides %s", a->where,
                                         b->where));
    for (uint32_t k = 0; k < b->num_in; k++) {
        uint32_t buf = bargs[k];
        bool from_first = false;
        for (uint32_t j = 0; j < a->num_out; j++)
            from_first |= buf == aargs[a->num_in + j];
        if (buf == FA_RT_PLAN_NONE || from_first || p->bufs[buf].def_step == FA_RT_PLAN_NONE ||
            p->bufs[buf].def_step < first)
            continue;
        return reject(params, params_free,
                      fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                     "%s: operand %u is written after %s", b->where, k, a->where));
    }
    /* The fused step's args go into a new region at the end of args / args_rows. */
    uint64_t nin = (uint64_t)a->num_in + b->num_in, extra = nin + b->num_out;
    uint64_t total = (uint64_t)p->nargs + extra;
    if (total >= UINT32_MAX || nin >= UINT32_MAX)
        return reject(params, params_free,
                      fa_status_make(FA_STATUS_UNSUPPORTED, "plan: graph too large"));
    uint32_t *args = zalloc(p->al, total, sizeof *args);
    uint32_t *args_rows = zalloc(p->al, total, sizeof *args_rows);
    const fa_rt_tensor **ins = nin > p->max_in ? zalloc(p->al, nin, sizeof *ins) : p->ins_scratch;
    if (!args || !args_rows || !ins) {
        p->al->free(p->al->user, args);
        p->al->free(p->al->user, args_rows);
        return reject(params, params_free, OOM());
    }
    fa_status s = install(p, first, kernel, params, params_free);
    if (s) {
        p->al->free(p->al->user, args);
        p->al->free(p->al->user, args_rows);
        if (ins != p->ins_scratch)
            p->al->free(p->al->user, (void *)ins);
        return s;
    }
    if (ins != p->ins_scratch) {
        p->al->free(p->al->user, (void *)p->ins_scratch);
        p->ins_scratch = ins;
        p->max_in = (uint32_t)nin;
    }
    memcpy(args, p->args, sizeof *args * p->nargs);
    memcpy(args_rows, p->args_rows, sizeof *args_rows * p->nargs);
    uint32_t at = p->nargs;
    for (uint32_t k = 0; k < a->num_in; k++)
        args[at++] = args[a->first_arg + k];
    for (uint32_t k = 0; k < b->num_in; k++) {
        uint32_t buf = args[b->first_arg + k];
        for (uint32_t j = 0; j < a->num_out; j++)
            if (buf == args[a->first_arg + a->num_in + j])
                buf = FA_RT_PLAN_NONE;
        args[at++] = buf;
    }
    for (uint32_t j = 0; j < b->num_out; j++) {
        uint32_t buf = args[b->first_arg + b->num_in + j];
        args[at++] = buf;
        p->bufs[buf].def_step = first;
    }
    for (uint32_t j = 0; j < a->num_out; j++)
        p->bufs[args[a->first_arg + a->num_in + j]].kind = FA_RT_BUFFER_FUSED;
    p->al->free(p->al->user, p->args);
    p->al->free(p->al->user, p->args_rows);
    p->args = args;
    p->args_rows = args_rows;
    /* Split rule: both "all dims but the last" -> the same over the combined operands. */
    fa_rt_step_rule ra = p->rules[first], rb = p->rules[second];
    fa_rt_step_rule fused = {FA_RT_ROWS_NONE, false, false, 0, -1, 0, 0};
    if (ra.rule == FA_RT_ROWS_LAST && rb.rule == FA_RT_ROWS_LAST && nin <= 32) {
        fused.rule = FA_RT_ROWS_LAST;
        fused.mask = (uint32_t)((ra.mask | (uint64_t)rb.mask << a->num_in) & 0xffffffffu);
    }
    p->rules[first] = fused;
    a->first_arg = p->nargs;
    a->num_in = (uint32_t)nin;
    a->num_out = b->num_out;
    p->nargs = (uint32_t)total;
    p->fused[first] = second;
    b->kernel = NULL;
    b->params = NULL;
    return p->planned ? fa_rt_plan_layout(p) : FA_OK;
}

/* The fused C twin: params is the quantize node (for bits); ins are routed_transform's (x, tt,
 * a) then quantize's (NULL, tt, clip). */
static fa_status transform_quantize_kernel(const void *params, const fa_rt_tensor *const *ins,
                                           uint32_t nin, fa_rt_tensor *outs, uint32_t nout,
                                           const fa_rt_allocator *al) {
    const fa_node *q = params;
    if (nin != 6 || nout != 2 || !ins[2])
        return fa_status_make(FA_STATUS_INTERNAL, "transform_quantize: bad fused operands");
    return fa_rt_transform_quantize(ins[0], ins[1], ins[2], ins[5], fa_node_attr_int(q, "bits", 0),
                                    &outs[0], &outs[1], al);
}

fa_status fa_rt_plan_fuse_transform_quantize(fa_rt_plan *plan, uint32_t *out_fused) {
    uint32_t count = 0;
    for (uint32_t si = 0; si < plan->nsteps; si++) {
        const fa_node *n = plan->nodes[si], *q;
        if (n->op != FA_OP_ROUTED_TRANSFORM || !plan->steps[si].kernel || n->num_operands != 3 ||
            n->num_results != 1 || n->results[0]->num_uses != 1)
            continue;
        q = n->results[0]->uses[0].node;
        if (!q || q->op != FA_OP_QUANTIZE || q->num_operands < 1 ||
            q->operands[0] != n->results[0] ||
            (q->num_operands > 1 ? q->operands[1] : NULL) != n->operands[1] || q->num_results != 2)
            continue;
        uint32_t qi = si + 1;
        while (qi < plan->nsteps && plan->nodes[qi] != q)
            qi++;
        if (qi == plan->nsteps ||
            plan->bufs[plan->args[plan->steps[si].first_arg + 3]].kind != FA_RT_BUFFER_ARENA)
            continue; /* a graph output: keep it */
        fa_status s =
            fa_rt_plan_fuse_steps(plan, si, qi, transform_quantize_kernel, (void *)q, NULL);
        if (s && fa_status_code_of(s) == FA_STATUS_INVALID_ARGUMENT) {
            fa_status_free(s); /* not fusable here (another reader): the two kernels stay */
            continue;
        }
        FA_TRY(s);
        count++;
    }
    if (out_fused)
        *out_fused = count;
    return FA_OK;
}
