/* The planned runtime: a graph lowered to a flat list of steps (kernel, buffers, dims) whose
 * intermediates live at liveness-planned offsets in one arena, run on a thread pool that splits
 * row-independent steps by rows. Same results as the interpreter (runtime/interp.h); see
 * runtime/README.md ("Plan executor") for the design. */
#ifndef FA_RUNTIME_PLAN_H
#define FA_RUNTIME_PLAN_H

#include "ir/ir.h"
#include "runtime/tensor.h"
#include "runtime/thread_pool.h"

/* ---- the plan as data ---------------------------------------------------------------------- */
/* The executing part sees only what follows: buffers and steps referring to each other by index.
 * No IR pointer is read while running; a step's |params| are opaque to the executor (for the C
 * kernels, the node whose attributes the dispatch reads). */

/* A step's kernel: computes the step's outputs from its inputs (|ins|[i] NULL for an omitted
 * optional operand) and allocates every output with |al|, as the reference kernels do. Returns
 * FA_OK with all |nout| outputs owned by the caller, or an error with nothing allocated. A kernel
 * installed with fa_rt_plan_set_step_kernel / fa_rt_plan_fuse_steps has the same convention. */
typedef fa_status (*fa_rt_step_kernel)(const void *params, const fa_rt_tensor *const *ins,
                                       uint32_t nin, fa_rt_tensor *outs, uint32_t nout,
                                       const fa_rt_allocator *al);

#define FA_RT_PLAN_NONE UINT32_MAX /* no buffer (omitted operand) / no step */

typedef enum fa_rt_buffer_kind {
    FA_RT_BUFFER_INPUT,  /* a graph input, bound per run */
    FA_RT_BUFFER_CONST,  /* a constant, read in place from the graph */
    FA_RT_BUFFER_ARENA,  /* an intermediate at |offset| in the arena */
    FA_RT_BUFFER_OUTPUT, /* a graph output: its own allocation, handed to the caller */
    FA_RT_BUFFER_FUSED,  /* an intermediate fused away (fa_rt_plan_fuse_steps): never written */
} fa_rt_buffer_kind;

typedef struct fa_rt_plan_buffer {
    fa_rt_buffer_kind kind;
    uint32_t input;     /* INPUT: graph input index */
    fa_rt_tensor view;  /* CONST: the constant's bytes */
    uint32_t def_step;  /* ARENA / OUTPUT: the step that writes it */
    uint32_t last_step; /* the last step that reads it (def_step if none); liveness interval */
    /* From the shape pass, for the current input shapes: */
    fa_dtype dtype;
    int rank;
    int64_t dims[FA_MAX_RANK];
    uint64_t nbytes;
    uint64_t offset; /* ARENA: 64-byte aligned byte offset */
} fa_rt_plan_buffer;

typedef struct fa_rt_plan_step {
    fa_rt_step_kernel kernel; /* NULL: fused into an earlier step, runs nothing */
    const void *params;
    uint32_t op_kind;   /* index into the profile's op kinds */
    const char *where;  /* "t.fir: node 'q_proj' (linear)", for errors */
    uint32_t first_arg; /* args[first_arg ..]: num_in input buffers, then num_out outputs */
    uint32_t num_in, num_out;
    uint32_t first_free, num_free; /* frees[..]: buffers whose last reader is this step */
    /* Row split (for the current shapes): |rows| > 1 when the step may run on row ranges;
     * args_rows[k] is how many leading dims of arg k are flattened into those rows (0: the arg
     * is passed whole to every chunk). Chunks hold at least |min_rows| rows. */
    uint64_t rows, min_rows;
} fa_rt_plan_step;

/* ---- building and running ------------------------------------------------------------------ */

typedef struct fa_rt_plan fa_rt_plan;

/* Builds a plan for the verified graph |g| (which must outlive it) and plans memory for the
 * shapes of |inputs| (|num_inputs| tensors, bound as fa_rt_interp_run binds them: dtypes, static
 * dims and symbol extents checked, errors naming the input). The shapes of every intermediate
 * come from a shape pass that runs the graph once on |inputs| (see README.md). Plan memory
 * (steps, arena) comes from |al|. The caller destroys |*out| with fa_rt_plan_destroy. */
fa_status fa_rt_plan_create(const fa_graph *g, const fa_rt_tensor *inputs, uint32_t num_inputs,
                            const fa_rt_allocator *al, fa_rt_plan **out);

/* Runs the plan on |inputs|, like fa_rt_interp_run: same binding rules and errors, the graph
 * outputs written to |outputs| (fa_rt_plan_num_outputs entries), allocated with |al| and owned
 * by the caller. When the input shapes differ from the planned ones, this run is itself the
 * shape pass for the new shapes (one thread, intermediates on the heap) and the memory plan is
 * rebuilt for the next runs. |pool| (NULL: one thread) splits row-independent steps; with more
 * than one thread |al| must be thread-safe. One run at a time per plan (the arena is the plan's).
 * On error nothing is left allocated and the message names the input or the node. */
fa_status fa_rt_plan_run(fa_rt_plan *plan, fa_rt_thread_pool *pool, const fa_rt_tensor *inputs,
                         uint32_t num_inputs, fa_rt_tensor *outputs, const fa_rt_allocator *al);

/* Like fa_rt_plan_create without the shape pass: the first fa_rt_plan_run is the shape pass for
 * its inputs (one thread, intermediates on the heap) and plans memory for the runs after it. For
 * callers that install kernels first (they then run from the first call) or whose first input
 * is the first real work (no run is spent only on measuring). */
fa_status fa_rt_plan_create_lazy(const fa_graph *g, const fa_rt_allocator *al, fa_rt_plan **out);

void fa_rt_plan_destroy(fa_rt_plan *plan);

uint32_t fa_rt_plan_num_outputs(const fa_rt_plan *plan);

/* Per-step wall time, accumulated per op kind over the following runs (off by default). */
void fa_rt_plan_set_profiling(fa_rt_plan *plan, bool on);

typedef struct fa_rt_plan_op_stats {
    const char *op;       /* IR op name */
    uint32_t steps;       /* steps of this op kind */
    uint32_t split_steps; /* of which row-split with the current shapes */
    uint64_t split_calls; /* step executions that ran as row chunks (always counted) */
    uint64_t calls;       /* step executions while profiling */
    double seconds;
} fa_rt_plan_op_stats;

typedef struct fa_rt_plan_stats {
    uint32_t num_steps, num_buffers;
    uint32_t num_arena_buffers; /* intermediates placed in the arena */
    uint64_t arena_bytes;       /* the arena's size */
    uint64_t naive_bytes;       /* sum of the arena intermediates' sizes (64-byte rounded) */
    uint32_t num_plans;         /* memory plans built: 1 + re-plans for new input shapes */
    uint64_t heap_fallbacks;    /* step outputs that missed their planned slot (data-dependent
                                   shapes) and lived on the heap instead */
    uint32_t num_op_kinds;
    const fa_rt_plan_op_stats *ops; /* lent, |num_op_kinds| entries, valid until the next call */
} fa_rt_plan_stats;

void fa_rt_plan_stats_get(const fa_rt_plan *plan, fa_rt_plan_stats *out);

/* ---- replacing kernels ----------------------------------------------------------------------
 * A higher layer (codegen's JIT, codegen/plan_jit.h) swaps a step's kernel without the runtime
 * knowing how it was made. Installed kernels and fusions are properties of the steps, not of the
 * shapes: a re-plan for new input shapes keeps them (the shape pass runs them too). */

/* Releases a replacement kernel's |params| (fa_rt_plan_destroy, or a later replacement). */
typedef void (*fa_rt_step_params_free)(void *params);

/* The live graph node step |step| was built from (lent: the graph outlives the plan); NULL when
 * |step| is out of range. Steps follow the graph's live nodes in order. */
const fa_node *fa_rt_plan_step_node(const fa_rt_plan *plan, uint32_t step);

/* Runs |kernel| with |params| for step |step| from now on, with the step's operands and outputs
 * as the original kernel had them (fa_rt_step_kernel). The kernel must compute what the node
 * computes: outputs of the same dtypes and shapes (allocated with |al| at exactly their size,
 * which hands out the planned slot), each row independently (the step is row-split as before:
 * with more than one thread it is called on row-range views, and rows is then a runtime
 * quantity). Ownership of |params| passes to the plan, which calls |params_free| (may be NULL)
 * on it when it is destroyed or replaced, and also on error. Errors: |step| out of range, or
 * fused into an earlier step (FA_STATUS_INVALID_ARGUMENT). */
fa_status fa_rt_plan_set_step_kernel(fa_rt_plan *plan, uint32_t step, fa_rt_step_kernel kernel,
                                     void *params, fa_rt_step_params_free params_free);

/* Fuses step |second| into step |first| (first < second): from now on step |first| runs
 * |kernel| once for both, and step |second| runs nothing (its kernel becomes NULL). The fused
 * kernel gets the inputs of |first| followed by the inputs of |second|, in which every output of
 * |first| is passed as NULL, and writes the outputs of |second| (their shapes and the planned
 * slots as before). Liveness: the outputs of |first| become FA_RT_BUFFER_FUSED (no memory, never
 * written), the outputs of |second| are defined at |first| (their intervals start earlier) and
 * every buffer still dies after its last reader, so the memory plan stays right; a planned plan
 * is re-laid-out at once. The row split of the fused step combines both steps' rules when both
 * split all dims but the last, else the step runs whole; |kernel| must then compute rows
 * independently. Preconditions, checked (FA_STATUS_INVALID_ARGUMENT otherwise, the plan
 * unchanged): both steps still have their own kernels, every output of |first| is an
 * intermediate (not a graph output) read by |second| only, and every other input of |second| is
 * available at |first| (a graph input, a constant, or written before |first|). |params| as in
 * fa_rt_plan_set_step_kernel (released on error too). */
fa_status fa_rt_plan_fuse_steps(fa_rt_plan *plan, uint32_t first, uint32_t second,
                                fa_rt_step_kernel kernel, void *params,
                                fa_rt_step_params_free params_free);

/* The step fused into |step| by fa_rt_plan_fuse_steps, or FA_RT_PLAN_NONE. */
uint32_t fa_rt_plan_step_fused(const fa_rt_plan *plan, uint32_t step);

/* Fuses every routed_transform whose only reader is a quantize with the same token types (and
 * whose result is not a graph output) with that quantize into one step running the C twin
 * fa_rt_transform_quantize (runtime/tquant.c: the f32 transform summed in order, no
 * intermediate in memory). Its results equal the generated fused kernel's (codegen/tquant.h)
 * and differ from the two separate kernels (sgemm) only by the transform's summation order.
 * |out_fused| (may be NULL) gets the number of pairs fused. */
fa_status fa_rt_plan_fuse_transform_quantize(fa_rt_plan *plan, uint32_t *out_fused);

/* The plan as data, lent (valid until the next run re-plans, a fusion, or fa_rt_plan_destroy). */
typedef struct fa_rt_plan_data {
    const fa_rt_plan_step *steps;
    uint32_t num_steps;
    const fa_rt_plan_buffer *buffers;
    uint32_t num_buffers;
    const uint32_t *args, *args_rows, *frees;
    const uint32_t *outputs; /* buffer of each graph output */
    uint32_t num_outputs;
    uint64_t arena_bytes;
} fa_rt_plan_data;

void fa_rt_plan_data_get(const fa_rt_plan *plan, fa_rt_plan_data *out);

#endif
