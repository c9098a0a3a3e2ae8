/* freeact run: execute a model (.onnx or .fir) on .npy inputs with the planned runtime (JIT
 * kernels by default, C kernels with --no-jit) or the reference interpreter (--interp), printing
 * a summary of each output or writing chosen outputs to .npy files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/fileio.h"
#include "runtime/runtime.h"
#include "tools/cli.h"
#include "tools/model_io.h"

static const char run_help[] =
    "usage: freeact run MODEL --input NAME=FILE.npy ... [--output NAME=FILE.npy ...]\n"
    "\n"
    "Runs MODEL (.onnx, or .fir text IR). By default it runs on the planned runtime (a flat list\n"
    "of steps, intermediates in one arena, rows split over a thread pool) with generated (JIT)\n"
    "kernels for quantized linear layers and fused transform+quantize steps, C kernels for the\n"
    "rest. Every graph input needs one --input; its .npy dtype and static dims must match the\n"
    "graph's. Without --output, each output's name, dtype, shape and first values are printed;\n"
    "with --output only the named outputs are written, each atomically, and only after the whole\n"
    "run succeeded.\n"
    "\n"
    "The engines agree: --no-jit gives the JIT's results bit for bit, except that Hadamard\n"
    "transforms (an FWHT in the JIT) may move an activation code by one at a rounding tie;\n"
    "--interp runs each op separately, so a fused transform+quantize may differ from it by\n"
    "the transform's summation order. A run is one pass, which is also the plan's shape pass\n"
    "(one thread); --threads pays off from a plan's second run (freeact eval).\n"
    "\n"
    "options:\n"
    "  --input NAME=FILE     bind graph input NAME to the array in FILE (.npy)\n"
    "  --output NAME=FILE    write graph output NAME to FILE (.npy)\n" FA_TOOL_ENGINE_HELP
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 on success, 1 on an error (bad model, bad input, failed run), 2 on a usage\n"
    "error.\n";

typedef struct run_args {
    const char *model;
    fa_tool_engine_options engine;
    fa_binding *inputs, *outputs;
    int ninputs, noutputs;
} run_args;

static void free_args(run_args *a) {
    for (int i = 0; i < a->ninputs; i++)
        fa_tool_binding_free(&a->inputs[i]);
    for (int i = 0; i < a->noutputs; i++)
        fa_tool_binding_free(&a->outputs[i]);
    free(a->inputs);
    free(a->outputs);
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, run_args *a) {
    a->inputs = calloc((size_t)argc, sizeof(fa_binding));
    a->outputs = calloc((size_t)argc, sizeof(fa_binding));
    if (!a->inputs || !a->outputs)
        return fa_cli_fail(fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory"));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        bool missing;
        int eng = fa_tool_engine_option("run", argc, argv, &i, &a->engine);
        if (eng < 0)
            return 2;
        if (eng > 0)
            continue;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(run_help, stdout);
            return 0;
        } else if ((v = fa_cli_option_value("--input", argc, argv, &i, &missing)) || missing) {
            if (missing || !fa_tool_binding_parse(v, &a->inputs[a->ninputs]))
                return fa_cli_usage_error("run", "--input needs NAME=FILE.npy");
            for (int k = 0; k < a->ninputs; k++)
                if (!strcmp(a->inputs[k].name, a->inputs[a->ninputs].name)) {
                    a->ninputs++;
                    return fa_cli_usage_error("run", "input '%s' given twice", a->inputs[k].name);
                }
            a->ninputs++;
        } else if ((v = fa_cli_option_value("--output", argc, argv, &i, &missing)) || missing) {
            if (missing || !fa_tool_binding_parse(v, &a->outputs[a->noutputs]))
                return fa_cli_usage_error("run", "--output needs NAME=FILE.npy");
            a->noutputs++;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return fa_cli_usage_error("run", "unknown option '%s'", arg);
        } else if (a->model) {
            return fa_cli_usage_error("run", "more than one model ('%s' and '%s')", a->model, arg);
        } else {
            a->model = arg;
        }
    }
    if (!a->model)
        return fa_cli_usage_error("run", "no model given");
    return -1;
}

static void print_summary(const char *name, const fa_rt_tensor *t) {
    char shape[256];
    printf("%s: %s", name, fa_rt_tensor_describe(t, shape, sizeof shape));
    uint64_t n = fa_rt_tensor_num_elements(t), shown = n < 8 ? n : 8;
    printf(" = [");
    for (uint64_t i = 0; i < shown; i++) {
        if (i)
            printf(", ");
        if (fa_dtype_is_float(t->dtype))
            printf("%.6g", fa_rt_load_f64(t->dtype, t->data, i));
        else if (t->dtype == FA_DT_BOOL)
            printf("%s", fa_rt_load_i64(t->dtype, t->data, i) ? "true" : "false");
        else if (t->dtype == FA_DT_U64)
            printf("%llu", (unsigned long long)((const uint64_t *)t->data)[i]);
        else
            printf("%lld", (long long)fa_rt_load_i64(t->dtype, t->data, i));
    }
    printf("%s]\n", n > shown ? ", ..." : "");
}

/* Index of the graph output named |name|, or -1. */
static int find_output(const fa_graph *g, const char *name) {
    for (uint32_t i = 0; i < fa_graph_num_outputs(g); i++)
        if (!strcmp(fa_graph_output(g, i)->name, name))
            return (int)i;
    return -1;
}

/* Writes the --output files: all to temporary names first, renamed only once every one was
 * written, so a failure leaves none of them behind. */
static fa_status write_outputs(const fa_graph *g, const run_args *a, const fa_rt_tensor *outs) {
    fa_atomic_file *files = calloc((size_t)a->noutputs + 1, sizeof *files);
    if (!files)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    fa_status s = FA_OK;
    int opened = 0;
    for (int k = 0; k < a->noutputs && !s; k++) {
        const fa_binding *b = &a->outputs[k];
        const fa_rt_tensor *t = &outs[find_output(g, b->name)];
        if (!fa_rt_npy_descr(t->dtype)) {
            s = fa_status_make(FA_STATUS_UNSUPPORTED,
                               "--output %s: dtype %s has no .npy "
                               "equivalent",
                               b->arg, fa_dtype_name(t->dtype));
            break;
        }
        s = fa_status_prefix(fa_atomic_file_open(&files[k], b->file), "--output %s", b->arg);
        if (s)
            break;
        opened++;
        s = fa_status_prefix(fa_rt_npy_write_stream(files[k].f, t, b->file), "--output %s", b->arg);
    }
    for (int k = 0; k < opened; k++) {
        if (s) {
            fa_atomic_file_abort(&files[k]);
            continue;
        }
        s = fa_status_prefix(fa_atomic_file_commit(&files[k]), "--output %s", a->outputs[k].arg);
    }
    free(files);
    return s;
}

static fa_status run_model(const run_args *a, const fa_rt_allocator *al) {
    fa_graph *g = NULL;
    FA_TRY(fa_tool_model_load(a->model, &g));
    uint32_t nin = fa_graph_num_inputs(g), nout = fa_graph_num_outputs(g);
    fa_rt_tensor *ins = calloc(nin ? nin : 1, sizeof *ins);
    fa_rt_tensor *outs = calloc(nout ? nout : 1, sizeof *outs);
    fa_status s = ins && outs ? FA_OK : fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    for (int k = 0; k < a->noutputs && !s; k++)
        if (find_output(g, a->outputs[k].name) < 0)
            s = fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                               "--output %s: the model has no output "
                               "'%s'",
                               a->outputs[k].arg, a->outputs[k].name);
    if (!s)
        s = fa_tool_inputs_read(g, a->inputs, a->ninputs, "--input", ins, al);
    fa_tool_engine_state engine;
    memset(&engine, 0, sizeof engine);
    if (!s)
        s = fa_tool_engine_init(&engine, g, &a->engine);
    if (!s)
        s = fa_status_prefix(fa_tool_engine_run(&engine, ins, nin, outs, al), "%s", a->model);
    if (!s)
        fa_tool_engine_report(&engine);
    fa_tool_engine_deinit(&engine);
    if (!s && a->noutputs == 0)
        for (uint32_t i = 0; i < nout; i++)
            print_summary(fa_graph_output(g, i)->name, &outs[i]);
    if (!s)
        s = write_outputs(g, a, outs);
    if (ins)
        fa_rt_tensors_free(ins, nin, al);
    if (outs)
        fa_rt_tensors_free(outs, nout, al);
    free(ins);
    free(outs);
    fa_graph_destroy(g);
    return s;
}

int fa_cmd_run(int argc, char **argv) {
    run_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        fa_status s = run_model(&a, fa_rt_allocator_default());
        rc = s ? fa_cli_fail(s) : 0;
    }
    free_args(&a);
    return rc;
}
