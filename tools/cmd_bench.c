/* freeact bench: throughput of a model on fixed inputs — the first run (plan, shape pass and,
 * for the JIT engine, kernel generation) and the median of repeated runs, with the JIT's
 * compile time, the arena, peak memory and, with --profile, the share of each op kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "runtime/runtime.h"
#include "tools/cli.h"
#include "tools/model_io.h"

static const char bench_help[] =
    "usage: freeact bench MODEL --input NAME=FILE.npy ... [--repeat N] [--tokens N] [--profile]\n"
    "                     [--json] [engine options]\n"
    "\n"
    "Runs MODEL (.onnx or .fir) on the inputs once (planning, the shape pass and, with the JIT,\n"
    "kernel generation happen here), then N more times (default 5), and prints the load time,\n"
    "the first run, the median and fastest of the repeats, tokens per second (the batch x\n"
    "sequence of the first rank-2 input, or --tokens), the JIT's kernel compile time, the\n"
    "arena and the process's peak resident memory. --profile times every step of the repeats\n"
    "and prints each op kind's share (fused routed_transform + quantize steps count as\n"
    "routed_transform). Outputs are computed and dropped.\n"
    "\n"
    "options:\n"
    "  --input NAME=FILE     bind graph input NAME to the array in FILE (.npy)\n"
    "  --repeat N            timed runs after the first (default 5)\n"
    "  --tokens N            tokens per run for tokens/s (default: from the inputs)\n"
    "  --profile             per-op-kind time shares of the repeats\n"
    "  --json                one JSON object instead of text\n" FA_TOOL_ENGINE_HELP
    "  -h, --help            show this help\n";

typedef struct bench_args {
    const char *model;
    fa_tool_engine_options engine;
    fa_binding *inputs;
    int ninputs;
    int64_t repeat, tokens;
    bool profile, json;
} bench_args;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int parse_args(int argc, char **argv, bench_args *a) {
    a->repeat = 5;
    a->inputs = calloc((size_t)argc, sizeof(fa_binding));
    if (!a->inputs)
        return fa_cli_fail(fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory"));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        bool missing;
        int eng = fa_tool_engine_option("bench", argc, argv, &i, &a->engine);
        if (eng < 0)
            return 2;
        if (eng > 0)
            continue;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(bench_help, stdout);
            return 0;
        } else if ((v = fa_cli_option_value("--input", argc, argv, &i, &missing)) || missing) {
            if (missing || !fa_tool_binding_parse(v, &a->inputs[a->ninputs]))
                return fa_cli_usage_error("bench", "--input needs NAME=FILE.npy");
            a->ninputs++;
        } else if ((v = fa_cli_option_value("--repeat", argc, argv, &i, &missing)) || missing) {
            char *end = NULL;
            a->repeat = missing ? 0 : strtoll(v, &end, 10);
            if (missing || *end || a->repeat < 1 || a->repeat > 100000)
                return fa_cli_usage_error("bench", "--repeat needs an integer from 1 to 100000");
        } else if ((v = fa_cli_option_value("--tokens", argc, argv, &i, &missing)) || missing) {
            char *end = NULL;
            a->tokens = missing ? 0 : strtoll(v, &end, 10);
            if (missing || *end || a->tokens < 1)
                return fa_cli_usage_error("bench", "--tokens needs a positive integer");
        } else if (!strcmp(arg, "--profile")) {
            a->profile = true;
        } else if (!strcmp(arg, "--json")) {
            a->json = true;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return fa_cli_usage_error("bench", "unknown option '%s'", arg);
        } else if (a->model) {
            return fa_cli_usage_error("bench", "more than one model ('%s' and '%s')", a->model,
                                      arg);
        } else {
            a->model = arg;
        }
    }
    if (!a->model)
        return fa_cli_usage_error("bench", "no model given");
    if (a->profile && a->engine.engine == FA_TOOL_ENGINE_INTERP)
        return fa_cli_usage_error("bench", "--profile needs a planned engine (not --interp)");
    return -1;
}

/* Tokens per run: batch x sequence of the first rank-2 input. */
static int64_t tokens_of(const fa_rt_tensor *ins, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (ins[i].rank == 2)
            return ins[i].dims[0] * ins[i].dims[1];
    return 1;
}

static const char *engine_name(fa_tool_engine e) {
    return e == FA_TOOL_ENGINE_JIT ? "plan+jit" : e == FA_TOOL_ENGINE_C ? "plan+c" : "interp";
}

static void print_results(const bench_args *a, const fa_tool_engine_state *e, double load_ms,
                          const double *times, int64_t tokens) {
    double median = times[a->repeat / 2], best = times[0];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_mib = (double)ru.ru_maxrss / 1024; /* KiB on Linux */
    fa_rt_plan_stats ps;
    memset(&ps, 0, sizeof ps);
    if (e->plan)
        fa_rt_plan_stats_get(e->plan, &ps);
    double total = 0;
    for (uint32_t k = 0; k < ps.num_op_kinds; k++)
        total += ps.ops[k].seconds;
    if (a->json) {
        printf("{\"model\": ");
        fa_cli_json_string(a->model);
        printf(", \"engine\": \"%s\", \"threads\": %u, \"tokens\": %lld, \"load_ms\": %.3f, "
               "\"first_ms\": %.3f, \"median_ms\": %.3f, \"min_ms\": %.3f, \"runs\": %lld, "
               "\"tokens_per_s\": %.3f, \"jit_ms\": %.3f, \"jit_kernels\": %u, "
               "\"arena_mib\": %.3f, \"peak_rss_mib\": %.3f",
               engine_name(e->opt.engine), e->opt.threads, (long long)tokens, load_ms,
               e->first_run_ms, median, best, (long long)a->repeat,
               1e3 * (double)tokens / median, e->jit.compile_ms, e->jit.kernels_compiled,
               (double)ps.arena_bytes / (1 << 20), peak_mib);
        if (a->profile) {
            printf(", \"profile\": {");
            for (uint32_t k = 0, first = 1; k < ps.num_op_kinds; k++) {
                if (ps.ops[k].calls == 0)
                    continue;
                printf("%s\"%s\": %.5f", first ? "" : ", ", ps.ops[k].op,
                       total > 0 ? ps.ops[k].seconds / total : 0.0);
                first = 0;
            }
            printf("}");
        }
        printf("}\n");
        return;
    }
    printf("%s: %s, %u threads, %lld tokens per run\n", a->model, engine_name(e->opt.engine),
           e->opt.threads, (long long)tokens);
    printf("  load %.1f ms, first run %.1f ms (jit %.1f ms, %u kernels)\n", load_ms,
           e->first_run_ms, e->jit.compile_ms, e->jit.kernels_compiled);
    printf("  %lld runs: median %.2f ms, fastest %.2f ms, %.1f tokens/s\n", (long long)a->repeat,
           median, best, 1e3 * (double)tokens / median);
    printf("  arena %.1f MiB, peak resident %.1f MiB\n", (double)ps.arena_bytes / (1 << 20),
           peak_mib);
    if (a->profile)
        for (uint32_t k = 0; k < ps.num_op_kinds; k++)
            if (ps.ops[k].calls)
                printf("  %-20s %6.2f%%  %9.3f ms per run\n", ps.ops[k].op,
                       total > 0 ? 100 * ps.ops[k].seconds / total : 0.0,
                       1e3 * ps.ops[k].seconds / (double)a->repeat);
}

static fa_status bench(const bench_args *a, const fa_rt_allocator *al) {
    double t0 = now_ms();
    fa_graph *g = NULL;
    FA_TRY(fa_tool_model_load(a->model, &g));
    double load_ms = now_ms() - t0;
    uint32_t nin = fa_graph_num_inputs(g), nout = fa_graph_num_outputs(g);
    fa_rt_tensor *ins = calloc(nin ? nin : 1, sizeof *ins);
    fa_rt_tensor *outs = calloc(nout ? nout : 1, sizeof *outs);
    double *times = calloc((size_t)a->repeat, sizeof *times);
    fa_status s = ins && outs && times
                      ? FA_OK
                      : fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!s)
        s = fa_tool_inputs_read(g, a->inputs, a->ninputs, "--input", ins, al);
    fa_tool_engine_state e;
    memset(&e, 0, sizeof e);
    if (!s)
        s = fa_tool_engine_init(&e, g, &a->engine);
    for (int64_t r = -1; !s && r < a->repeat; r++) {
        if (r == 0 && a->profile && e.plan)
            fa_rt_plan_set_profiling(e.plan, true);
        double t = now_ms();
        s = fa_tool_engine_run(&e, ins, nin, outs, al);
        if (!s && r >= 0)
            times[r] = now_ms() - t;
        if (!s)
            fa_rt_tensors_free(outs, nout, al);
    }
    if (!s) {
        qsort(times, (size_t)a->repeat, sizeof *times, cmp_double);
        print_results(a, &e, load_ms, times, a->tokens ? a->tokens : tokens_of(ins, nin));
        fa_tool_engine_report(&e);
    }
    fa_tool_engine_deinit(&e);
    if (ins)
        fa_rt_tensors_free(ins, nin, al);
    free(ins);
    free(outs);
    free(times);
    fa_graph_destroy(g);
    return s;
}

int fa_cmd_bench(int argc, char **argv) {
    bench_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        fa_status s = bench(&a, fa_rt_allocator_default());
        rc = s ? fa_cli_fail(fa_status_prefix(s, "%s", a.model)) : 0;
    }
    for (int i = 0; i < a.ninputs; i++)
        fa_tool_binding_free(&a.inputs[i]);
    free(a.inputs);
    return rc;
}
