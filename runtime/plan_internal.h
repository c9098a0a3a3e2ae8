/* The plan's private state, shared by the executor (runtime/plan.c, which reads only plain data)
 * and the builder (runtime/plan_build.c, which lowers an fa_graph into it). Not installed. */
#ifndef FA_RUNTIME_PLAN_INTERNAL_H
#define FA_RUNTIME_PLAN_INTERNAL_H

#include "runtime/plan.h"

typedef enum fa_rt_buf_state {
    FA_RT_ST_NONE,     /* no value (not computed yet, or released) */
    FA_RT_ST_BORROWED, /* an input or constant, not ours */
    FA_RT_ST_ARENA,    /* in the arena at the planned offset */
    FA_RT_ST_HEAP,     /* owned, from the run's allocator */
    FA_RT_ST_HANDED,   /* handed to the caller as a graph output */
} fa_rt_buf_state;

/* How a step's rows may be split; the builder picks it from the op, the executor applies it to
 * the recorded shapes (compute_split in plan.c). */
typedef enum fa_rt_row_rule {
    FA_RT_ROWS_NONE,
    FA_RT_ROWS_LAST,      /* rows: every dim but the last of output 0; |mask| operands share them */
    FA_RT_ROWS_AXIS,      /* rows: the dims before |axis| of operand 0 (norms, softmax) */
    FA_RT_ROWS_PREFIX,    /* data movement keeping the leading dims: at most |axis| of them
                             (transpose's identity prefix), all before the first sliced axis */
    FA_RT_ROWS_MATMUL,    /* 2-D B: the rows of A; equal batch dims: the batches */
    FA_RT_ROWS_BROADCAST, /* elementwise: the longest prefix of output dims that every operand
                             either has in full (split) or is all ones over (passed whole) */
} fa_rt_row_rule;

typedef struct fa_rt_step_rule {
    uint8_t rule;  /* fa_rt_row_rule */
    bool gemm;     /* f32 goes through OpenBLAS sgemm (not row-invariant for small M) */
    bool qlinear;  /* each chunk unpacks the weights: keep chunks large */
    uint32_t mask; /* ROWS_LAST / ROWS_AXIS: bit k set if operand k is split */
    int64_t axis;  /* ROWS_AXIS; ROWS_PREFIX: at most this many leading dims */
    /* ROWS_PREFIX: the axes a slice cuts, a >= 0 as bit a, a < 0 as bit -1 - a */
    uint32_t sliced_pos, sliced_neg;
} fa_rt_step_rule;

typedef struct fa_rt_input_spec {
    const char *name;
    fa_dtype dtype;            /* FA_DT_INVALID: any */
    int rank;                  /* -1: any */
    int64_t dims[FA_MAX_RANK]; /* static extent, or -1 */
    int32_t sym[FA_MAX_RANK];  /* symbol index, or -1 */
} fa_rt_input_spec;

struct fa_rt_plan {
    const fa_rt_allocator *al;
    fa_rt_input_spec *inputs;
    uint32_t num_inputs, num_syms;
    const char **sym_names;
    fa_rt_plan_buffer *bufs;
    uint32_t nbuf;
    fa_rt_plan_step *steps;
    fa_rt_step_rule *rules;
    const fa_node **nodes; /* the node of each step (fa_rt_plan_step_node) */
    uint32_t *fused;       /* per step: the step fused into it, or FA_RT_PLAN_NONE */
    void **owned_params;   /* per step: installed params the plan releases, or NULL */
    fa_rt_step_params_free *params_free;
    uint32_t nsteps, max_in, max_out;
    uint32_t *args, *args_rows, *frees, *outputs;
    uint32_t nargs, nfrees, nout;
    const char **output_names;
    fa_rt_plan_op_stats *ops;
    uint32_t nops;
    char **strs; /* owned strings: names, step descriptions */
    uint32_t nstrs;
    /* per run (fa_rt_plan_init_run) */
    fa_rt_tensor *vals;
    uint8_t *state; /* fa_rt_buf_state per buffer */
    const fa_rt_tensor **ins_scratch;
    fa_rt_tensor *outs_scratch;
    void *slots_scratch;
    int64_t *sym_extent;
    uint32_t *sym_input;
    /* the memory plan */
    bool planned, profiling;
    fa_rt_tensor *layout_inputs; /* the input shapes it is for (no data) */
    char *arena;
    uint64_t arena_bytes, arena_cap, naive_bytes;
    uint32_t num_arena, num_plans;
    uint64_t heap_fallbacks;
};

/* Allocates the per-run state of a built plan (buffers, steps and counts filled in). */
fa_status fa_rt_plan_init_run(fa_rt_plan *p);

/* Offsets of the arena buffers and row splits for the recorded shapes (plan.c). */
fa_status fa_rt_plan_layout(fa_rt_plan *p);

/* fa_rt_plan_run's body: a run with new input shapes records them and re-plans. */
fa_status fa_rt_plan_execute(fa_rt_plan *p, fa_rt_thread_pool *pool, const fa_rt_tensor *inputs,
                             uint32_t num_inputs, fa_rt_tensor *outputs, const fa_rt_allocator *al);

#endif
