/* Model loading, NAME=FILE.npy input binding and the engine that runs a model (planned runtime
 * with JIT kernels, with C kernels, or the reference interpreter), shared by the run and eval
 * subcommands. */
#ifndef FA_TOOLS_MODEL_IO_H
#define FA_TOOLS_MODEL_IO_H

#include <stdbool.h>

#include "codegen/kernels.h"
#include "ir/ir.h"
#include "runtime/plan.h"
#include "runtime/tensor.h"
#include "runtime/thread_pool.h"
#include "runtime/token_type.h"

/* One NAME=FILE argument. |buf| owns the split copy; free it with fa_tool_binding_free. */
typedef struct fa_binding {
    const char *arg; /* as given */
    char *buf;
    const char *name, *file;
} fa_binding;

/* Splits "NAME=FILE" into |b|; false if malformed (no '=', empty name or file) or out of memory. */
bool fa_tool_binding_parse(const char *arg, fa_binding *b);
void fa_tool_binding_free(fa_binding *b);

/* Loads a .onnx (imported) or .fir (parsed; file<> data relative to its folder) model. */
fa_status fa_tool_model_load(const char *path, fa_graph **out);

/* Reads the |n| bound .npy files into |tensors| (one slot per graph input, in graph order, zeroed
 * by the caller), checking names and dtypes; every graph input must be bound. Errors name the
 * argument as "|flag| NAME=FILE" (|flag|: the option, e.g. "--input"). On error the caller frees
 * what was read (fa_rt_tensors_free). */
fa_status fa_tool_inputs_read(const fa_graph *g, const fa_binding *bindings, int n,
                              const char *flag, fa_rt_tensor *tensors,
                              const fa_rt_allocator *al);

/* A view (no copy) of rows [r0, r0 + n) of |t| along axis 0; the caller keeps them in range. */
fa_rt_tensor fa_tool_tensor_rows(const fa_rt_tensor *t, int64_t r0, int64_t n);

/* A data set for a model and a token-type rule: one array per graph input, all with the same
 * number of rows (axis 0), and the rule's tensor. Used by stats and compile. */
typedef struct fa_tool_dataset {
    fa_rt_tensor *inputs;         /* [num_inputs + 1]: graph order, one spare slot */
    uint32_t num_inputs;          /* the graph's inputs when read */
    fa_rt_tensor extra;           /* the rule's tensor when no graph input has its name */
    const fa_rt_tensor *source;   /* the rule's tensor (an input or |extra|); NULL: none */
    const fa_binding *source_binding; /* the binding |extra| came from, or NULL */
    int64_t rows;
} fa_tool_dataset;

/* Reads |n| bindings (|flag| names the option in messages, e.g. "--calib") for |g|'s inputs;
 * with a |rule| naming a tensor, that tensor is a graph input (integer or bool) or, if no input
 * has the name, one of the bindings (for any rule when |extra_any_rule|, else only for
 * input:NAME rules). Checks that every array has the same rows and the rule's tensor is an
 * integer or bool [rows, T]; |unit| names the rows in messages ("rows", "samples"). Free with
 * fa_tool_dataset_free (also after an error). */
fa_status fa_tool_dataset_read(const fa_graph *g, const fa_binding *bindings, int n,
                               const char *flag, const fa_rt_token_rule *rule,
                               const char *rule_text, bool extra_any_rule, const char *unit,
                               fa_tool_dataset *out, const fa_rt_allocator *al);
void fa_tool_dataset_free(fa_tool_dataset *d, const fa_rt_allocator *al);

/* ---- the engine ------------------------------------------------------------------------------ */

typedef enum fa_tool_engine {
    FA_TOOL_ENGINE_JIT,    /* planned runtime, generated kernels where they exist (default) */
    FA_TOOL_ENGINE_C,      /* planned runtime, C kernels only (--no-jit) */
    FA_TOOL_ENGINE_INTERP, /* the reference interpreter (--interp), the semantic reference */
} fa_tool_engine;

typedef struct fa_tool_engine_options {
    fa_tool_engine engine;
    uint32_t threads; /* 0: all online cores */
    int verbose;      /* -v: engine and JIT statistics on stderr */
} fa_tool_engine_options;

/* The engine options' lines for a --help text (descriptions at column 24, as in run). */
#define FA_TOOL_ENGINE_HELP                                                                        \
    "  (default)             planned runtime with generated kernels; with\n"                       \
    "                        FREEACT_KERNEL_CACHE=DIR in the environment they are kept in DIR\n"   \
    "                        for later runs\n"                                                     \
    "  --no-jit              planned runtime with the C kernels only (no code generation)\n"       \
    "  --interp              the reference interpreter (one thread, no plan): the semantic\n"      \
    "                        reference the other engines are tested against\n"                     \
    "  --threads N           threads of the planned runtime (default: all online cores)\n"         \
    "  -v                    print the engine, plan and JIT statistics on stderr\n"

/* If argv[*i] is an engine option (--no-jit, --interp, --threads N, -v), applies it to |o|
 * (advancing *i past a value) and returns 1; returns 0 if it is not one; on a bad value prints
 * the usage error for |cmd| and returns -1 (the command then exits with status 2). */
int fa_tool_engine_option(const char *cmd, int argc, char **argv, int *i,
                          fa_tool_engine_options *o);

/* Runs one graph repeatedly. The planned engines create the plan at the first run (whose input
 * shapes it is planned for; the first run is its shape pass) and re-plan when the shapes
 * change; the JIT engine installs generated kernels before the first run. */
typedef struct fa_tool_engine_state {
    const fa_graph *g;
    fa_tool_engine_options opt;
    fa_rt_plan *plan;
    fa_rt_thread_pool *pool;
    double first_run_ms, run_ms; /* the first run (shape pass), and the others summed */
    uint32_t runs;
    fa_cg_plan_jit_stats jit; /* what installing the generated kernels did (JIT engine) */
} fa_tool_engine_state;

/* Prepares |e| for |g| (which must outlive it): the thread pool for the planned engines. */
fa_status fa_tool_engine_init(fa_tool_engine_state *e, const fa_graph *g,
                              const fa_tool_engine_options *o);
/* Runs the graph on |inputs| (graph order) into |outputs| (fa_graph_num_outputs entries, owned
 * by the caller, allocated with |al|), like fa_rt_interp_run. */
fa_status fa_tool_engine_run(fa_tool_engine_state *e, const fa_rt_tensor *inputs, uint32_t n,
                             fa_rt_tensor *outputs, const fa_rt_allocator *al);
/* With -v, prints the plan's statistics and run times on stderr. */
void fa_tool_engine_report(const fa_tool_engine_state *e);
void fa_tool_engine_deinit(fa_tool_engine_state *e);

#endif
