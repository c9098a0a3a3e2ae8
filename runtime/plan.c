/* The plan executor and its builder.
 *
 * Design. The builder (bottom of the file, the only part that reads the IR) turns each live node
 * into a step: a kernel function with opaque params (for now the C reference dispatch with the
 * node), argument buffers by index, the buffers whose last reader it is, and a row-split rule.
 * Shapes are not in the IR (many dims are '?'), so a shape pass runs the steps once on real
 * inputs with every intermediate on the heap and records each buffer's dtype and dims (ggml's
 * measure pass does the same); a run whose input shapes differ from the planned ones is itself
 * the shape pass for the new shapes. The memory plan then gives every intermediate that is not
 * a graph output an offset in one arena: intervals [def step, last reader step], greedy best-fit
 * largest first (TFLite's "greedy by size"), 64-byte aligned.
 *
 * Kernels stay unchanged: they allocate their outputs through an allocator that hands out the
 * planned slot for a request of exactly the planned size and sends everything else (scratch,
 * data-dependent shapes) to the caller's allocator. After the kernel an output found outside its
 * slot lives on the heap until its last reader, so a wrong guess costs speed, never results.
 *
 * Row split: a row-independent step (rule per op: linear, qlinear, matmul, routed_transform,
 * quantize, norms, softmax, swiglu, gelu, rope, broadcasting elementwise ops) runs as chunks, one
 * per pool thread: the split operands become views of a row range ([rows, 1, .., trailing dims],
 * the same rank, so axis attributes keep their meaning), the other operands are passed whole, and
 * each chunk's outputs land in the matching rows of the planned buffers. A chunk error re-runs the
 * whole step so the message is exactly the interpreter's. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/plan_internal.h"

enum { SPLIT_MAX_ARGS = 8 }; /* split steps have at most this many inputs and outputs */
#define SPLIT_MIN_CHUNK_BYTES ((uint64_t)16 << 10)
/* OpenBLAS sgemm is not row-invariant for small M (small-matrix and tail kernels): chunks of
 * f32 GEMM steps keep at least this many rows, where it was observed to be. */
#define GEMM_F32_MIN_ROWS 32
#define QLINEAR_MIN_ROWS 16 /* each chunk unpacks the weights again */

typedef struct slot {
    char *ptr;
    size_t size;
    bool claimed;
} slot;

/* Hands out |slots| for requests of exactly their size, the heap for everything else. */
typedef struct slot_alloc {
    fa_rt_allocator al;
    const fa_rt_allocator *heap;
    slot *slots;
    uint32_t n;
} slot_alloc;

typedef struct run {
    fa_rt_plan *p;
    const fa_rt_allocator *al;
    fa_rt_thread_pool *pool;
    bool record; /* shape pass: everything on the heap, shapes recorded */
} run;

static uint64_t round64(uint64_t n) { return (n + 63) & ~(uint64_t)63; }

static void *slot_alloc_fn(void *user, size_t size, size_t align) {
    slot_alloc *sa = user;
    if (align <= 64)
        for (uint32_t i = 0; i < sa->n; i++)
            if (sa->slots[i].ptr && !sa->slots[i].claimed && sa->slots[i].size == size) {
                sa->slots[i].claimed = true;
                return sa->slots[i].ptr;
            }
    return sa->heap->alloc(sa->heap->user, size, align);
}

static void slot_free_fn(void *user, void *p) {
    slot_alloc *sa = user;
    for (uint32_t i = 0; p && i < sa->n; i++)
        if (sa->slots[i].ptr == p) {
            sa->slots[i].claimed = false;
            return;
        }
    sa->heap->free(sa->heap->user, p);
}

static void slot_alloc_init(slot_alloc *sa, const fa_rt_allocator *heap, slot *slots, uint32_t n) {
    sa->al.alloc = slot_alloc_fn;
    sa->al.free = slot_free_fn;
    sa->al.user = sa;
    sa->heap = heap;
    sa->slots = slots;
    sa->n = n;
}

/* Index of the slot holding |p|, or n. */
static uint32_t slot_of(const slot_alloc *sa, const void *p) {
    uint32_t i = 0;
    while (i < sa->n && !(p && sa->slots[i].ptr == p))
        i++;
    return i;
}

static bool same_shape(const fa_rt_tensor *t, const fa_rt_plan_buffer *b) {
    if (t->dtype != b->dtype || t->rank != b->rank)
        return false;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] != b->dims[i])
            return false;
    return true;
}

static void record_shape(fa_rt_plan_buffer *b, const fa_rt_tensor *t) {
    b->dtype = t->dtype;
    b->rank = t->rank;
    memcpy(b->dims, t->dims, sizeof b->dims);
    b->nbytes = t->nbytes;
}

/* ---- executing one step ------------------------------------------------------------------- */

/* Runs |st| on whole tensors, outputs into their planned slots where they fit. */
static fa_status exec_whole(run *r, const fa_rt_plan_step *st, const fa_rt_tensor *const *ins) {
    fa_rt_plan *p = r->p;
    const uint32_t *outb = p->args + st->first_arg + st->num_in;
    slot_alloc sa;
    slot_alloc_init(&sa, r->al, p->slots_scratch, st->num_out);
    for (uint32_t j = 0; j < st->num_out; j++) {
        const fa_rt_plan_buffer *b = &p->bufs[outb[j]];
        bool planned = !r->record && b->kind == FA_RT_BUFFER_ARENA;
        sa.slots[j] = (slot){planned ? p->arena + b->offset : NULL,
                             planned ? (size_t)(b->nbytes ? b->nbytes : 1) : 0, false};
    }
    fa_rt_tensor *outs = p->outs_scratch;
    FA_TRY(st->kernel(st->params, ins, st->num_in, outs, st->num_out, &sa.al));
    /* an output in another output's slot moves to the heap (rare: scratch of the same size) */
    for (uint32_t j = 0; j < st->num_out; j++) {
        uint32_t k = slot_of(&sa, outs[j].data);
        if (k == sa.n || k == j)
            continue;
        fa_rt_tensor moved;
        fa_status s = fa_rt_tensor_clone(&moved, &outs[j], r->al);
        if (s) {
            for (uint32_t i = 0; i < st->num_out; i++)
                fa_rt_tensor_free(&outs[i], &sa.al);
            return s;
        }
        outs[j] = moved;
    }
    for (uint32_t j = 0; j < st->num_out; j++) {
        fa_rt_plan_buffer *b = &p->bufs[outb[j]];
        bool in_slot = sa.slots[j].ptr && outs[j].data == sa.slots[j].ptr;
        if (!in_slot && b->kind == FA_RT_BUFFER_ARENA && !r->record)
            p->heap_fallbacks++;
        p->vals[outb[j]] = outs[j];
        p->state[outb[j]] = in_slot ? FA_RT_ST_ARENA : FA_RT_ST_HEAP;
        if (r->record)
            record_shape(b, &outs[j]);
    }
    return FA_OK;
}

typedef struct split_job {
    run *r;
    const fa_rt_plan_step *st;
    const fa_rt_tensor *const *ins;
    char *base[SPLIT_MAX_ARGS]; /* each output's whole buffer */
    uint64_t chunks;
} split_job;

/* |t| restricted to rows [r0, r1) of |rows|, its first |p| dims flattened into them: dims
 * [1, .., 1, r1 - r0, rest]. Every split arg keeps its rows at the same (last row) position, so
 * left-aligned operands (x [B, T, d] and tt [B, T]) and right-aligned broadcasting ones agree. */
static fa_rt_tensor row_view(const fa_rt_tensor *t, uint32_t p, uint64_t rows, uint64_t r0,
                             uint64_t r1) {
    fa_rt_tensor v = *t;
    uint64_t row_bytes = t->nbytes / rows;
    for (uint32_t i = 0; i + 1 < p; i++)
        v.dims[i] = 1;
    v.dims[p - 1] = (int64_t)(r1 - r0);
    v.data = (char *)t->data + r0 * row_bytes;
    v.nbytes = (r1 - r0) * row_bytes;
    return v;
}

static fa_status exec_rows(split_job *job, uint64_t r0, uint64_t r1) {
    const fa_rt_plan_step *st = job->st;
    const fa_rt_plan *p = job->r->p;
    const uint32_t *rows_of = p->args_rows + st->first_arg;
    const uint32_t *outb = p->args + st->first_arg + st->num_in;
    fa_rt_tensor views[SPLIT_MAX_ARGS], outs[SPLIT_MAX_ARGS];
    const fa_rt_tensor *ins[SPLIT_MAX_ARGS];
    for (uint32_t k = 0; k < st->num_in; k++) {
        ins[k] = job->ins[k];
        if (ins[k] && rows_of[k]) {
            views[k] = row_view(ins[k], rows_of[k], st->rows, r0, r1);
            ins[k] = &views[k];
        }
    }
    slot slots[SPLIT_MAX_ARGS];
    slot_alloc sa;
    slot_alloc_init(&sa, job->r->al, slots, st->num_out);
    for (uint32_t j = 0; j < st->num_out; j++) {
        uint64_t row_bytes = p->bufs[outb[j]].nbytes / st->rows;
        uint64_t n = (r1 - r0) * row_bytes;
        slots[j] = (slot){job->base[j] + r0 * row_bytes, (size_t)(n ? n : 1), false};
    }
    FA_TRY(st->kernel(st->params, ins, st->num_in, outs, st->num_out, &sa.al));
    fa_status s = FA_OK;
    for (uint32_t j = 0; j < st->num_out && !s; j++) {
        if (outs[j].data == slots[j].ptr)
            continue;
        if (slot_of(&sa, outs[j].data) != sa.n ||
            outs[j].nbytes != (r1 - r0) * (p->bufs[outb[j]].nbytes / st->rows))
            s = fa_status_make(FA_STATUS_INTERNAL, "row chunk output does not match the plan");
        else if (outs[j].nbytes)
            memcpy(slots[j].ptr, outs[j].data, (size_t)outs[j].nbytes);
    }
    for (uint32_t j = 0; j < st->num_out; j++)
        if (outs[j].data != slots[j].ptr)
            fa_rt_tensor_free(&outs[j], &sa.al);
    return s;
}

static fa_status chunk_fn(void *ctx, uint64_t begin, uint64_t end, uint32_t chunk) {
    (void)chunk;
    split_job *job = ctx;
    uint64_t rows = job->st->rows;
    for (uint64_t c = begin; c < end; c++) {
        uint64_t r0 = rows / job->chunks * c + rows % job->chunks * c / job->chunks;
        uint64_t r1 = rows / job->chunks * (c + 1) + rows % job->chunks * (c + 1) / job->chunks;
        FA_TRY(exec_rows(job, r0, r1));
    }
    return FA_OK;
}

/* Runs |st| split by rows if the plan allows it for these operands; *out_done false if not. */
static fa_status exec_split(run *r, const fa_rt_plan_step *st, const fa_rt_tensor *const *ins,
                            bool *out_done) {
    fa_rt_plan *p = r->p;
    *out_done = false;
    uint64_t threads = fa_rt_thread_pool_num_threads(r->pool);
    if (r->record || st->rows < 2 || threads < 2)
        return FA_OK;
    uint64_t chunks = st->rows / st->min_rows;
    chunks = chunks < threads ? chunks : threads;
    if (chunks < 2)
        return FA_OK;
    const uint32_t *argb = p->args + st->first_arg;
    for (uint32_t k = 0; k < st->num_in; k++)
        if (ins[k] && !same_shape(ins[k], &p->bufs[argb[k]]))
            return FA_OK; /* data-dependent shape: the split was planned for other operands */
    split_job job = {.r = r, .st = st, .ins = ins, .chunks = chunks};
    for (uint32_t j = 0; j < st->num_out; j++) {
        const fa_rt_plan_buffer *b = &p->bufs[argb[st->num_in + j]];
        if (b->kind == FA_RT_BUFFER_ARENA) {
            job.base[j] = p->arena + b->offset;
        } else if (!(job.base[j] = r->al->alloc(r->al->user, b->nbytes ? b->nbytes : 1, 64))) {
            for (uint32_t i = 0; i < j; i++)
                if (p->bufs[argb[st->num_in + i]].kind != FA_RT_BUFFER_ARENA)
                    r->al->free(r->al->user, job.base[i]);
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory allocating %llu bytes",
                                  (unsigned long long)b->nbytes);
        }
    }
    fa_status s = fa_rt_thread_pool_parallel_for(r->pool, chunks, chunk_fn, &job);
    for (uint32_t j = 0; j < st->num_out; j++) {
        uint32_t bi = argb[st->num_in + j];
        const fa_rt_plan_buffer *b = &p->bufs[bi];
        bool arena = b->kind == FA_RT_BUFFER_ARENA;
        if (s) {
            if (!arena)
                r->al->free(r->al->user, job.base[j]);
            continue;
        }
        p->vals[bi] = fa_rt_tensor_view(b->dtype, b->rank, b->dims, job.base[j], b->nbytes);
        p->state[bi] = arena ? FA_RT_ST_ARENA : FA_RT_ST_HEAP;
    }
    if (s) { /* re-run whole: the interpreter's exact result or error */
        fa_status_free(s);
        return FA_OK;
    }
    *out_done = true;
    return FA_OK;
}

/* ---- running the steps -------------------------------------------------------------------- */

static void release(run *r, uint32_t b) {
    fa_rt_plan *p = r->p;
    if (p->state[b] == FA_RT_ST_HEAP)
        fa_rt_tensor_free(&p->vals[b], r->al);
    if (p->state[b] != FA_RT_ST_BORROWED)
        p->state[b] = FA_RT_ST_NONE;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static fa_status run_steps(run *r) {
    fa_rt_plan *p = r->p;
    for (uint32_t si = 0; si < p->nsteps; si++) {
        const fa_rt_plan_step *st = &p->steps[si];
        const uint32_t *argb = p->args + st->first_arg;
        if (!st->kernel) { /* fused into an earlier step: only its frees are left */
            for (uint32_t i = 0; i < st->num_free; i++)
                release(r, p->frees[st->first_free + i]);
            continue;
        }
        for (uint32_t k = 0; k < st->num_in; k++) {
            p->ins_scratch[k] = NULL;
            if (argb[k] == FA_RT_PLAN_NONE)
                continue;
            if (p->state[argb[k]] == FA_RT_ST_NONE)
                return fa_status_make(FA_STATUS_INTERNAL, "%s: operand %u has no value", st->where,
                                      k);
            p->ins_scratch[k] = &p->vals[argb[k]];
        }
        double t0 = p->profiling ? now_s() : 0;
        bool done = false;
        fa_status s = exec_split(r, st, p->ins_scratch, &done);
        if (!s && !done)
            s = exec_whole(r, st, p->ins_scratch);
        if (s)
            return fa_status_prefix(s, "%s", st->where);
        p->ops[st->op_kind].split_calls += done;
        if (p->profiling) {
            p->ops[st->op_kind].calls++;
            p->ops[st->op_kind].seconds += now_s() - t0;
        }
        for (uint32_t i = 0; i < st->num_free; i++)
            release(r, p->frees[st->first_free + i]);
    }
    return FA_OK;
}

/* Binds |inputs| to the input buffers; *out_same tells whether their shapes are the planned
 * ones. Messages match the interpreter's. */
static fa_status bind_inputs(fa_rt_plan *p, const fa_rt_tensor *inputs, uint32_t num_inputs,
                             bool *out_same) {
    *out_same = p->planned;
    if (num_inputs > p->num_inputs)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%u inputs given, the graph has %u",
                              num_inputs, p->num_inputs);
    for (uint32_t s = 0; s < p->num_syms; s++)
        p->sym_input[s] = UINT32_MAX;
    for (uint32_t i = 0; i < p->num_inputs; i++) {
        const fa_rt_input_spec *in = &p->inputs[i];
        if (i >= num_inputs || inputs[i].dtype == FA_DT_INVALID)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "input '%s' is missing", in->name);
        const fa_rt_tensor *t = &inputs[i];
        if (in->dtype != FA_DT_INVALID && t->dtype != in->dtype)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "input '%s': dtype %s, expected %s",
                                  in->name, fa_dtype_name(t->dtype), fa_dtype_name(in->dtype));
        uint64_t n, bytes;
        fa_status s = fa_rt_shape_num_elements(t->rank, t->dims, &n);
        if (!s)
            s = fa_rt_dtype_num_bytes(t->dtype, n, &bytes);
        if (s)
            return fa_status_prefix(s, "input '%s'", in->name);
        if (bytes != t->nbytes || (bytes && !t->data))
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "input '%s': %llu bytes of data for a shape needing %llu",
                                  in->name, (unsigned long long)t->nbytes,
                                  (unsigned long long)bytes);
        if (in->rank >= 0 && t->rank != in->rank)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "input '%s': rank %d, expected %d",
                                  in->name, t->rank, in->rank);
        for (int d = 0; in->rank >= 0 && d < t->rank; d++) {
            if (in->dims[d] >= 0 && t->dims[d] != in->dims[d])
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                      "input '%s': dim %d is %lld, expected %lld", in->name, d,
                                      (long long)t->dims[d], (long long)in->dims[d]);
            int32_t sy = in->sym[d];
            if (sy < 0)
                continue;
            if (p->sym_input[sy] == UINT32_MAX) {
                p->sym_input[sy] = i;
                p->sym_extent[sy] = t->dims[d];
            } else if (p->sym_extent[sy] != t->dims[d]) {
                const char *name = p->sym_names[sy];
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                      "input '%s': dim %d (%s) is %lld, but %s is %lld in input "
                                      "'%s'",
                                      in->name, d, name, (long long)t->dims[d], name,
                                      (long long)p->sym_extent[sy],
                                      p->inputs[p->sym_input[sy]].name);
            }
        }
        const fa_rt_tensor *l = &p->layout_inputs[i];
        if (l->dtype != t->dtype || l->rank != t->rank ||
            memcmp(l->dims, t->dims, sizeof(int64_t) * (size_t)t->rank) != 0)
            *out_same = false;
    }
    for (uint32_t b = 0; b < p->nbuf; b++) {
        const fa_rt_plan_buffer *buf = &p->bufs[b];
        if (buf->kind == FA_RT_BUFFER_INPUT) {
            p->vals[b] = inputs[buf->input];
            p->state[b] = FA_RT_ST_BORROWED;
        } else if (buf->kind != FA_RT_BUFFER_CONST) {
            p->state[b] = FA_RT_ST_NONE;
        }
    }
    return FA_OK;
}

/* Hands the graph outputs to |outputs|: the first read of an OUTPUT buffer takes it, every other
 * output (an input, a constant, a repeated value) is a copy. */
static fa_status hand_outputs(run *r, fa_rt_tensor *outputs) {
    fa_rt_plan *p = r->p;
    for (uint32_t i = 0; i < p->nout; i++) {
        uint32_t b = p->outputs[i];
        if (p->state[b] == FA_RT_ST_HEAP && p->bufs[b].kind == FA_RT_BUFFER_OUTPUT) {
            outputs[i] = p->vals[b];
            p->state[b] = FA_RT_ST_HANDED;
            continue;
        }
        if (p->state[b] == FA_RT_ST_NONE)
            return fa_status_make(FA_STATUS_INTERNAL, "output '%s' was not computed",
                                  p->output_names[i]);
        FA_TRY(fa_status_prefix(fa_rt_tensor_clone(&outputs[i], &p->vals[b], r->al), "output '%s'",
                                p->output_names[i]));
    }
    return FA_OK;
}

static void free_outputs(fa_rt_tensor *outputs, uint32_t n, const fa_rt_allocator *al) {
    for (uint32_t i = 0; i < n; i++)
        fa_rt_tensor_free(&outputs[i], al);
}

/* One run: bind, execute (recording shapes when they are new), hand the outputs over. */
fa_status fa_rt_plan_execute(fa_rt_plan *p, fa_rt_thread_pool *pool, const fa_rt_tensor *inputs,
                             uint32_t num_inputs, fa_rt_tensor *outputs,
                             const fa_rt_allocator *al) {
    for (uint32_t i = 0; i < p->nout; i++)
        memset(&outputs[i], 0, sizeof outputs[i]);
    bool same;
    FA_TRY(bind_inputs(p, inputs, num_inputs, &same));
    run r = {p, al, pool, !same};
    if (r.record)
        for (uint32_t b = 0; b < p->nbuf; b++)
            if (p->bufs[b].kind == FA_RT_BUFFER_INPUT)
                record_shape(&p->bufs[b], &p->vals[b]);
    fa_status s = run_steps(&r);
    if (!s)
        s = hand_outputs(&r, outputs);
    for (uint32_t b = 0; b < p->nbuf; b++)
        if (p->state[b] == FA_RT_ST_HEAP)
            release(&r, b);
    if (s) {
        free_outputs(outputs, p->nout, al);
        return s;
    }
    if (r.record) {
        p->planned = false;
        s = fa_rt_plan_layout(p);
        if (s) {
            free_outputs(outputs, p->nout, al);
            return s;
        }
        for (uint32_t i = 0; i < p->num_inputs; i++)
            p->layout_inputs[i] =
                fa_rt_tensor_view(inputs[i].dtype, inputs[i].rank, inputs[i].dims, NULL, 0);
        p->planned = true;
        p->num_plans++;
    }
    return FA_OK;
}

fa_status fa_rt_plan_run(fa_rt_plan *plan, fa_rt_thread_pool *pool, const fa_rt_tensor *inputs,
                         uint32_t num_inputs, fa_rt_tensor *outputs, const fa_rt_allocator *al) {
    return fa_rt_plan_execute(plan, pool, inputs, num_inputs, outputs, al);
}

/* ---- the memory plan and the row splits ----------------------------------------------------- */

typedef struct placed {
    uint64_t offset, size;
    uint32_t def, last;
} placed;

typedef struct by_size {
    uint64_t size;
    uint32_t buf;
} by_size;

static int cmp_size_desc(const void *a, const void *b) {
    const by_size *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return (x->buf > y->buf) - (x->buf < y->buf);
}

/* Whether arg |k| of |st| split by its first |args_rows[k]| dims gives |rows| equal rows. */
static bool split_arg_ok(const fa_rt_plan *p, const fa_rt_plan_step *st, uint32_t k,
                         uint64_t rows) {
    uint32_t pr = p->args_rows[st->first_arg + k];
    const fa_rt_plan_buffer *b = &p->bufs[p->args[st->first_arg + k]];
    if (!pr)
        return true;
    if ((int)pr > b->rank || fa_dtype_bits(b->dtype) < 8 || b->nbytes % rows != 0)
        return false;
    uint64_t n = 1;
    for (uint32_t i = 0; i < pr; i++)
        n *= (uint64_t)b->dims[i];
    return n == rows;
}

/* The longest prefix of output 0's dims (shorter than its rank) over which every operand is
 * either complete (split with it) or all ones (passed whole, it broadcasts). */
static uint32_t broadcast_prefix(const fa_rt_plan *p, const fa_rt_plan_step *st) {
    const uint32_t *argb = p->args + st->first_arg;
    uint32_t *argr = p->args_rows + st->first_arg;
    const fa_rt_plan_buffer *o = &p->bufs[argb[st->num_in]];
    for (int pfx = o->rank - 1; pfx >= 1; pfx--) {
        bool ok = true;
        for (uint32_t k = 0; k < st->num_in && ok; k++) {
            argr[k] = 0;
            if (argb[k] == FA_RT_PLAN_NONE)
                continue;
            const fa_rt_plan_buffer *b = &p->bufs[argb[k]];
            int off = o->rank - b->rank;
            bool full = off >= 0, ones = off >= 0;
            for (int i = 0; i < pfx && (full || ones); i++) {
                int64_t d = i < off ? 1 : b->dims[i - off];
                full = full && d == o->dims[i];
                ones = ones && d == 1;
            }
            if (full && pfx - off >= 1)
                argr[k] = (uint32_t)(pfx - off);
            else if (!ones)
                ok = false;
        }
        if (ok)
            return (uint32_t)pfx;
    }
    return 0;
}

/* Sets |st|'s rows, min_rows and args_rows for the recorded shapes (rows 0: never split). */
static void compute_split(fa_rt_plan *p, uint32_t si) {
    fa_rt_plan_step *st = &p->steps[si];
    const fa_rt_step_rule *ru = &p->rules[si];
    const uint32_t *argb = p->args + st->first_arg;
    uint32_t *argr = p->args_rows + st->first_arg;
    st->rows = 0;
    st->min_rows = 1;
    for (uint32_t k = 0; k < st->num_in + st->num_out; k++)
        argr[k] = 0;
    if (!st->kernel || ru->rule == FA_RT_ROWS_NONE || st->num_in > SPLIT_MAX_ARGS ||
        st->num_out > SPLIT_MAX_ARGS || st->num_in == 0 || argb[0] == FA_RT_PLAN_NONE)
        return;
    const fa_rt_plan_buffer *in0 = &p->bufs[argb[0]], *out0 = &p->bufs[argb[st->num_in]];
    uint32_t mask = ru->mask, pfx = 0;
    bool gemm = ru->gemm;
    if (ru->rule == FA_RT_ROWS_LAST) {
        pfx = out0->rank > 0 ? (uint32_t)out0->rank - 1 : 0;
    } else if (ru->rule == FA_RT_ROWS_AXIS) {
        int64_t ax = ru->axis < 0 ? ru->axis + in0->rank : ru->axis;
        pfx = ax > 0 && ax < in0->rank ? (uint32_t)ax : 0;
    } else if (ru->rule == FA_RT_ROWS_PREFIX) {
        int64_t k = ru->axis < in0->rank - 1 ? ru->axis : in0->rank - 1;
        for (int a = 0; a < in0->rank; a++)
            if ((ru->sliced_pos >> a & 1u) || (ru->sliced_neg >> (in0->rank - 1 - a) & 1u))
                k = a < k ? a : k;
        pfx = k > 0 ? (uint32_t)k : 0;
    } else if (ru->rule == FA_RT_ROWS_MATMUL && st->num_in == 2 && argb[1] != FA_RT_PLAN_NONE) {
        const fa_rt_plan_buffer *b1 = &p->bufs[argb[1]];
        bool same_batch = in0->rank >= 3 && b1->rank == in0->rank;
        for (int i = 0; same_batch && i < in0->rank - 2; i++)
            same_batch = in0->dims[i] == b1->dims[i];
        if (in0->rank >= 2 && b1->rank == 2) {
            pfx = (uint32_t)in0->rank - 1;
            mask = 1;
            gemm = true;
        } else if (same_batch) {
            pfx = (uint32_t)in0->rank - 2; /* one GEMM per batch either way: exact */
            mask = 3;
        }
    } else if (ru->rule == FA_RT_ROWS_BROADCAST) {
        pfx = broadcast_prefix(p, st);
    }
    if (pfx == 0)
        return;
    if (ru->rule != FA_RT_ROWS_BROADCAST)
        for (uint32_t k = 0; k < st->num_in; k++)
            argr[k] = (mask >> k & 1u) && argb[k] != FA_RT_PLAN_NONE ? pfx : 0;
    for (uint32_t j = 0; j < st->num_out; j++)
        argr[st->num_in + j] = pfx;
    uint64_t rows = 1, row_bytes = 0;
    for (uint32_t i = 0; i < pfx; i++)
        rows *= (uint64_t)out0->dims[i];
    bool ok = rows >= 2;
    for (uint32_t k = 0; ok && k < st->num_in + st->num_out; k++)
        ok = split_arg_ok(p, st, k, rows);
    if (!ok) {
        for (uint32_t k = 0; k < st->num_in + st->num_out; k++)
            argr[k] = 0;
        return;
    }
    for (uint32_t j = 0; j < st->num_out; j++)
        row_bytes += p->bufs[argb[st->num_in + j]].nbytes / rows;
    st->rows = rows;
    if (gemm && (out0->dtype == FA_DT_F32 || out0->dtype == FA_DT_F64))
        st->min_rows = GEMM_F32_MIN_ROWS;
    else if (ru->qlinear)
        st->min_rows = QLINEAR_MIN_ROWS;
    else if (row_bytes < SPLIT_MIN_CHUNK_BYTES)
        st->min_rows = (SPLIT_MIN_CHUNK_BYTES + row_bytes - 1) / (row_bytes ? row_bytes : 1);
}

/* Offsets for every ARENA buffer by greedy best-fit, largest first; the arena grows to fit. */
fa_status fa_rt_plan_layout(fa_rt_plan *p) {
    const fa_rt_allocator *al = p->al;
    uint32_t n = 0;
    for (uint32_t b = 0; b < p->nbuf; b++)
        n += p->bufs[b].kind == FA_RT_BUFFER_ARENA;
    by_size *order = al->alloc(al->user, sizeof *order * (n ? n : 1), 16);
    placed *pl = order ? al->alloc(al->user, sizeof *pl * (n ? n : 1), 16) : NULL;
    if (!pl) {
        al->free(al->user, order);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "plan: out of memory");
    }
    uint64_t naive = 0, arena = 0;
    for (uint32_t b = 0, i = 0; b < p->nbuf; b++)
        if (p->bufs[b].kind == FA_RT_BUFFER_ARENA) {
            uint64_t nb = p->bufs[b].nbytes;
            order[i] = (by_size){round64(nb ? nb : 1), b};
            naive += order[i++].size; /* each <= 2^40 (FA_RT_MAX_TENSOR_BYTES): no overflow */
        }
    qsort(order, n, sizeof *order, cmp_size_desc);
    for (uint32_t i = 0; i < n; i++) {
        fa_rt_plan_buffer *b = &p->bufs[order[i].buf];
        uint64_t size = order[i].size, end = 0, best = UINT64_MAX, best_gap = UINT64_MAX;
        uint32_t at = i; /* insertion point keeping |pl| sorted by offset */
        for (uint32_t j = 0; j < i; j++) {
            if (pl[j].last < b->def_step || b->last_step < pl[j].def)
                continue; /* not alive at the same time */
            if (pl[j].offset >= end + size && pl[j].offset - end < best_gap) {
                best_gap = pl[j].offset - end;
                best = end;
            }
            end = pl[j].offset + pl[j].size > end ? pl[j].offset + pl[j].size : end;
        }
        b->offset = best != UINT64_MAX ? best : end;
        arena = b->offset + size > arena ? b->offset + size : arena;
        for (uint32_t j = 0; j < i; j++)
            if (pl[j].offset > b->offset) {
                at = j;
                break;
            }
        memmove(&pl[at + 1], &pl[at], sizeof *pl * (i - at));
        pl[at] = (placed){b->offset, size, b->def_step, b->last_step};
    }
    al->free(al->user, pl);
    al->free(al->user, order);
    if (arena > FA_RT_MAX_TENSOR_BYTES)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "plan: arena of %llu bytes is too large",
                              (unsigned long long)arena);
    if (arena > p->arena_cap) {
        al->free(al->user, p->arena);
        p->arena_cap = 0;
        if (!(p->arena = al->alloc(al->user, (size_t)arena, 64)))
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY,
                                  "plan: out of memory for a %llu-byte "
                                  "arena",
                                  (unsigned long long)arena);
        p->arena_cap = arena;
    }
    p->arena_bytes = arena;
    p->naive_bytes = naive;
    p->num_arena = n;
    for (uint32_t si = 0; si < p->nsteps; si++)
        compute_split(p, si);
    return FA_OK;
}

/* ---- lifetime and introspection ----------------------------------------------------------- */

fa_status fa_rt_plan_init_run(fa_rt_plan *p) {
    const fa_rt_allocator *al = p->al;
    struct {
        void **dst;
        size_t bytes;
    } want[] = {
        {(void **)&p->vals, sizeof(fa_rt_tensor) * p->nbuf},
        {(void **)&p->state, p->nbuf},
        {(void **)&p->ins_scratch, sizeof(fa_rt_tensor *) * p->max_in},
        {(void **)&p->outs_scratch, sizeof(fa_rt_tensor) * p->max_out},
        {&p->slots_scratch, sizeof(slot) * p->max_out},
        {(void **)&p->sym_extent, sizeof(int64_t) * p->num_syms},
        {(void **)&p->sym_input, sizeof(uint32_t) * p->num_syms},
        {(void **)&p->layout_inputs, sizeof(fa_rt_tensor) * p->num_inputs},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t n = want[i].bytes ? want[i].bytes : 1;
        if (!(*want[i].dst = al->alloc(al->user, n, 64)))
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "plan: out of memory");
        memset(*want[i].dst, 0, n);
    }
    for (uint32_t b = 0; b < p->nbuf; b++)
        if (p->bufs[b].kind == FA_RT_BUFFER_CONST) {
            p->vals[b] = p->bufs[b].view;
            p->state[b] = FA_RT_ST_BORROWED;
        }
    return FA_OK;
}

void fa_rt_plan_destroy(fa_rt_plan *p) {
    if (!p)
        return;
    const fa_rt_allocator *al = p->al;
    void *owned[] = {p->inputs,     p->sym_names,    p->bufs,          p->steps,
                     p->rules,      p->args,         p->args_rows,     p->frees,
                     p->outputs,    p->output_names, p->ops,           p->vals,
                     p->state,      p->ins_scratch,  p->outs_scratch,  p->slots_scratch,
                     p->sym_extent, p->sym_input,    p->layout_inputs, p->arena,
                     p->nodes,      p->fused,        p->owned_params,  (void *)p->params_free};
    for (uint32_t i = 0; p->strs && i < p->nstrs; i++)
        al->free(al->user, p->strs[i]);
    for (uint32_t i = 0; p->owned_params && i < p->nsteps; i++)
        if (p->owned_params[i] && p->params_free[i])
            p->params_free[i](p->owned_params[i]);
    al->free(al->user, p->strs);
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        al->free(al->user, owned[i]);
    al->free(al->user, p);
}

uint32_t fa_rt_plan_num_outputs(const fa_rt_plan *plan) { return plan->nout; }

void fa_rt_plan_set_profiling(fa_rt_plan *plan, bool on) { plan->profiling = on; }

void fa_rt_plan_stats_get(const fa_rt_plan *p, fa_rt_plan_stats *out) {
    memset(out, 0, sizeof *out);
    out->num_steps = p->nsteps;
    out->num_buffers = p->nbuf;
    out->num_arena_buffers = p->num_arena;
    out->arena_bytes = p->arena_bytes;
    out->naive_bytes = p->naive_bytes;
    out->num_plans = p->num_plans;
    out->heap_fallbacks = p->heap_fallbacks;
    for (uint32_t k = 0; k < p->nops; k++)
        p->ops[k].split_steps = 0;
    for (uint32_t s = 0; s < p->nsteps; s++)
        if (p->steps[s].rows >= 2 * p->steps[s].min_rows)
            p->ops[p->steps[s].op_kind].split_steps++;
    out->num_op_kinds = p->nops;
    out->ops = p->ops;
}

void fa_rt_plan_data_get(const fa_rt_plan *p, fa_rt_plan_data *out) {
    *out = (fa_rt_plan_data){p->steps,     p->nsteps, p->bufs,    p->nbuf, p->args,
                             p->args_rows, p->frees,  p->outputs, p->nout, p->arena_bytes};
}
