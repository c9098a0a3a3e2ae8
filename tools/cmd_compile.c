/* freeact compile: float model -> quantized IR. The float pipeline (fusion, norm folding), then
 * site discovery, calibration on the given data, one solver per site and the lowering to
 * quantized ops (passes/quantize.h); writes OUT.fir with its weights beside it in OUT.fir.bin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/fileio.h"
#include "passes/pass.h"
#include "passes/quantize.h"
#include "runtime/interp.h"
#include "runtime/npy.h"
#include "tools/cli.h"
#include "tools/model_io.h"

static const char compile_help[] =
    "usage: freeact compile MODEL --calib NAME=FILE.npy ... --method M --quant Q -o OUT.fir\n"
    "                       [options]\n"
    "\n"
    "Quantizes MODEL (.onnx or .fir): fuses linears and norms, folds norm weights into the\n"
    "linears, finds the linear sites (linears sharing an input form one site) and, site by site\n"
    "in program order, runs the model as quantized so far on the calibration data and fits the\n"
    "site's activation transform per token type, its weight transform, clip ratios and quantized\n"
    "weights (on 3 of every 4 samples; the 4th measures the errors), and writes the IR to OUT.fir\n"
    "with the weights in OUT.fir.bin beside it (both written atomically). A summary per site\n"
    "goes to stdout; `freeact report OUT.fir` prints it again later. Linears whose result is a\n"
    "graph output (an LM head) stay in f32 unless --quantize-head.\n"
    "\n"
    "options:\n"
    "  --calib NAME=FILE.npy  calibration data for graph input NAME (every input must be bound;\n"
    "                         all share the number of samples along axis 0); for an input:NAME\n"
    "                         rule naming no graph input, also the token types\n"
    "  --token-type RULE      how tokens get their type (default: one type for all tokens):\n"
    "                           input:NAME   the integer tensor NAME [B,T] holds types 0..7\n"
    "                           NAME==K      type 1 where input NAME [B,T] equals K, else 0\n"
    "                           position<N   type 1 at positions < N of each activation, else 0\n"
    "  --method M             rtn | smoothquant | quarot | flatquant | freeact | freeact-ns\n"
    "  --quant Q              w8a8 | w4a8 | w4a4 | w4a16 (weights x activations, bits)\n"
    "  --group N              weight scales per N input channels (32, 64 or 128; default: one\n"
    "                         scale per output channel; a site whose channel count is not a\n"
    "                         multiple of N keeps one scale per output channel)\n"
    "  --gptq                 GPTQ instead of round-to-nearest for the final weights\n"
    "  --steps N              optimizer steps per site for the learned methods\n"
    "  --exclusive N          freeact: exclusive channels per token type (default d/32)\n"
    "  --seed N               seed for every random choice (default 1)\n"
    "  --calib-samples N      use at most the first N calibration samples (default: all)\n"
    "  --batch N              calibration samples per run (default 8)\n"
    "  --float-calib          calibrate every site once on the float model (faster); by default\n"
    "                         each site is calibrated on the model as quantized before it\n"
    "  --quantize-head        also quantize linears that produce a graph output\n"
    "  -o OUT.fir             the quantized IR (required; .so output is not built yet)\n"
    "  --quiet                no progress and no summary\n"
    "  --json                 the summary as one JSON object\n"
    "  -h, --help             show this help\n";

typedef struct compile_args {
    const char *model, *output, *rule_text, *method_text, *quant_text;
    fa_binding *calib;
    int ncalib;
    fa_rt_token_rule rule;
    bool has_rule, quantize_head, quiet, json, float_calib;
    fa_qmethod method;
    fa_qconfig cfg;
    int64_t samples, batch;
} compile_args;

static bool parse_int(const char *v, int64_t lo, int64_t hi, int64_t *out) {
    char *end = NULL;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static bool parse_quant(const char *q, int *w, int *a) {
    static const struct {
        const char *name;
        int w, a;
    } table[] = {{"w8a8", 8, 8}, {"w4a8", 4, 8}, {"w4a4", 4, 4}, {"w4a16", 4, 16}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(q, table[i].name)) {
            *w = table[i].w;
            *a = table[i].a;
            return true;
        }
    return false;
}

static int parse_args(int argc, char **argv, compile_args *a) {
    a->batch = 8;
    a->calib = calloc((size_t)argc, sizeof *a->calib);
    if (!a->calib)
        return fa_cli_fail(fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory"));
    int64_t group = 0, steps = 0, exclusive = 0, seed = 1;
    bool gptq = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        bool missing;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(compile_help, stdout);
            return 0;
        } else if ((v = fa_cli_option_value("--calib", argc, argv, &i, &missing)) || missing) {
            if (missing || !fa_tool_binding_parse(v, &a->calib[a->ncalib]))
                return fa_cli_usage_error("compile", "--calib needs NAME=FILE.npy");
            a->ncalib++;
        } else if ((v = fa_cli_option_value("--token-type", argc, argv, &i, &missing)) ||
                   missing) {
            if (missing)
                return fa_cli_usage_error("compile", "--token-type needs a rule");
            if (a->has_rule)
                return fa_cli_usage_error("compile", "--token-type given twice");
            fa_status s = fa_rt_token_rule_parse(v, &a->rule);
            if (s)
                return fa_cli_fail(fa_status_prefix(s, "--token-type"));
            a->rule_text = v;
            a->has_rule = true;
        } else if ((v = fa_cli_option_value("--method", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("compile", "--method needs a method");
            a->method_text = v;
        } else if ((v = fa_cli_option_value("--quant", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("compile", "--quant needs a bit setting");
            a->quant_text = v;
        } else if ((v = fa_cli_option_value("--group", argc, argv, &i, &missing)) || missing) {
            if (!parse_int(v, 32, 128, &group) || (group != 32 && group != 64 && group != 128))
                return fa_cli_usage_error("compile", "--group must be 32, 64 or 128");
        } else if ((v = fa_cli_option_value("--steps", argc, argv, &i, &missing)) || missing) {
            if (!parse_int(v, 1, 100000, &steps))
                return fa_cli_usage_error("compile", "--steps needs an integer in 1..100000");
        } else if ((v = fa_cli_option_value("--exclusive", argc, argv, &i, &missing)) || missing) {
            if (!parse_int(v, 1, 1 << 20, &exclusive))
                return fa_cli_usage_error("compile", "--exclusive needs a positive integer");
        } else if ((v = fa_cli_option_value("--seed", argc, argv, &i, &missing)) || missing) {
            if (!parse_int(v, 0, INT64_MAX, &seed))
                return fa_cli_usage_error("compile", "--seed needs a non-negative integer");
        } else if ((v = fa_cli_option_value("--calib-samples", argc, argv, &i, &missing)) ||
                   missing) {
            if (!parse_int(v, 1, INT64_MAX, &a->samples))
                return fa_cli_usage_error("compile", "--calib-samples needs a positive integer");
        } else if ((v = fa_cli_option_value("--batch", argc, argv, &i, &missing)) || missing) {
            if (!parse_int(v, 1, 1000000, &a->batch))
                return fa_cli_usage_error("compile", "--batch needs a positive integer");
        } else if ((v = fa_cli_option_value("-o", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("compile", "-o needs a file name");
            a->output = v;
        } else if (!strcmp(arg, "--gptq")) {
            gptq = true;
        } else if (!strcmp(arg, "--float-calib")) {
            a->float_calib = true;
        } else if (!strcmp(arg, "--quantize-head")) {
            a->quantize_head = true;
        } else if (!strcmp(arg, "--quiet")) {
            a->quiet = true;
        } else if (!strcmp(arg, "--json")) {
            a->json = true;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return fa_cli_usage_error("compile", "unknown option '%s'", arg);
        } else if (a->model) {
            return fa_cli_usage_error("compile", "more than one model ('%s' and '%s')", a->model,
                                      arg);
        } else {
            a->model = arg;
        }
    }
    if (!a->model)
        return fa_cli_usage_error("compile", "no model given");
    if (!a->method_text)
        return fa_cli_usage_error("compile", "--method is required (rtn, smoothquant, quarot, "
                                             "flatquant, freeact, freeact-ns)");
    if (!fa_qmethod_parse(a->method_text, &a->method))
        return fa_cli_usage_error("compile", "unknown method '%s' (rtn, smoothquant, quarot, "
                                             "flatquant, freeact, freeact-ns)",
                                  a->method_text);
    int wb, ab;
    if (!a->quant_text)
        return fa_cli_usage_error("compile", "--quant is required (w8a8, w4a8, w4a4, w4a16)");
    if (!parse_quant(a->quant_text, &wb, &ab))
        return fa_cli_usage_error("compile", "unknown bit setting '%s' (w8a8, w4a8, w4a4, w4a16)",
                                  a->quant_text);
    if (a->ncalib == 0)
        return fa_cli_usage_error("compile", "--calib NAME=FILE.npy is required");
    if (!a->output)
        return fa_cli_usage_error("compile", "-o OUT.fir is required");
    size_t olen = strlen(a->output);
    if (olen < 4 || strcmp(a->output + olen - 4, ".fir") != 0)
        return fa_cli_usage_error("compile", "-o %s: only .fir output exists so far (shared "
                                             "libraries come with the code generator)",
                                  a->output);
    fa_qconfig_init(&a->cfg, wb, ab);
    a->cfg.group = (int)group;
    a->cfg.gptq = gptq;
    a->cfg.steps = (int)steps;
    a->cfg.exclusive = (int)exclusive;
    a->cfg.seed = (uint64_t)seed;
    return -1;
}

static void print_summary(const compile_args *a, const fa_quant_site_report *r, uint32_t n,
                          double calib_s, double total_s) {
    if (a->json) {
        printf("{\"method\": \"%s\", \"quant\": \"%s\", \"calibration_seconds\": %.3f, "
               "\"seconds\": %.3f, \"sites\": [",
               fa_qmethod_name(a->method), a->quant_text, calib_s, total_s);
        for (uint32_t i = 0; i < n; i++) {
            printf("%s{\"site\": ", i ? ", " : "");
            fa_cli_json_string(r[i].name);
            printf(", \"d\": %lld, \"n\": %lld, \"aligned\": %s, \"types\": [",
                   (long long)r[i].d, (long long)r[i].n, r[i].aligned ? "true" : "false");
            for (unsigned k = 0; k < r[i].num_types; k++)
                printf("%s{\"kind\": \"%s\", \"clip\": %.4f, \"tokens\": %lld, \"equiv_error\": "
                       "%.6g, \"quant_error\": %.6g}",
                       k ? ", " : "", r[i].kinds[k], r[i].act_clip[k], (long long)r[i].tokens[k],
                       r[i].equiv[k], r[i].qerr[k]);
            printf("], \"seconds\": %.3f}", r[i].seconds);
        }
        printf("]}\n");
        return;
    }
    printf("%-44s %5s %4s %-9s %5s %7s %10s %10s %5s\n", "site", "d", "type", "kind", "clip",
           "tokens", "equiv err", "quant err", "excl");
    for (uint32_t i = 0; i < n; i++)
        for (unsigned k = 0; k < r[i].num_types; k++)
            printf("%-44s %5lld %4u %-9s %5.3f %7lld %10.2e %10.4f %5d\n", k ? "" : r[i].name,
                   (long long)r[i].d, k, r[i].kinds[k], r[i].act_clip[k],
                   (long long)r[i].tokens[k], r[i].equiv[k], r[i].qerr[k], r[i].exclusive);
    printf("%s %s: %u sites, calibration %.1f s, total %.1f s\n", fa_qmethod_name(a->method),
           a->quant_text, n, calib_s, total_s);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes |g| to |path| and its big constants to |path|.bin, both atomically. */
static fa_status write_output(const fa_graph *g, const char *path) {
    size_t len = strlen(path);
    char *bin = malloc(len + 5);
    if (!bin)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    snprintf(bin, len + 5, "%s.bin", path);
    const char *base = strrchr(bin, '/');
    base = base ? base + 1 : bin;
    fa_atomic_file af = {0}, bf = {0};
    fa_status s = fa_atomic_file_open(&bf, bin);
    if (!s)
        s = fa_atomic_file_open(&af, path);
    if (!s) {
        fa_print_options opts = {.inline_limit = 1024, .data_file = bf.f, .data_file_name = base};
        s = fa_graph_print(g, &opts, af.f);
    }
    if (!s)
        s = fa_atomic_file_commit(&bf);
    if (!s)
        s = fa_atomic_file_commit(&af);
    fa_atomic_file_abort(&bf);
    fa_atomic_file_abort(&af);
    free(bin);
    return s;
}

static fa_status run_compile(compile_args *a, const fa_rt_allocator *al) {
    double t0 = now_seconds();
    fa_graph *g = NULL;
    FA_TRY(fa_tool_model_load(a->model, &g));
    fa_pass_ctx ctx = {0};
    fa_status s = fa_pipeline_run(
        g, "canonicalize,cse,fuse-norms,fuse-linear,fuse-activations,fold-norms,dce", &ctx);
    uint32_t nin = fa_graph_num_inputs(g);
    fa_tool_dataset data = {0};
    fa_quant_sites sites = {0};
    fa_quant_site_report *reports = NULL;
    if (!s)
        s = fa_tool_dataset_read(g, a->calib, a->ncalib, "--calib", a->has_rule ? &a->rule : NULL,
                                 a->rule_text, false, "samples", &data, al);
    const fa_rt_tensor *src = data.source;
    int64_t N = data.rows;
    if (!s)
        s = fa_quant_sites_compute(g, a->quantize_head, &sites);
    double calib_s = 0;
    if (!s && data.source_binding) {
        /* The token types become a graph input of the compiled model: [B, T] like the first
         * rank-2 input (the token ids), or of unknown extent. */
        fa_type t = {0};
        t.dtype = src->dtype;
        t.rank = 2;
        t.dims[0] = t.dims[1] = (fa_dim){FA_DIM_UNKNOWN, NULL};
        for (uint32_t i = 0; i < nin; i++)
            if (fa_graph_input(g, i)->type.rank == 2) {
                t.dims[0] = fa_graph_input(g, i)->type.dims[0];
                t.dims[1] = fa_graph_input(g, i)->type.dims[1];
                break;
            }
        fa_graph_add_input(g, data.source_binding->name, &t);
        data.inputs[nin] = data.extra; /* lent: calibration runs the graph with its new input */
    }
    if (!s) {
        fa_quant_calib c = {data.inputs, fa_graph_num_inputs(g), src,
                            a->samples && a->samples < N ? a->samples : N};
        fa_quant_options qo = {a->method,     a->cfg,   a->has_rule ? &a->rule : NULL,
                               !a->float_calib, a->batch, 1 << 16,
                               !a->quiet};
        s = fa_quantize_sites(g, &sites, &c, &qo, &reports, &calib_s);
    }
    if (!s)
        s = fa_pipeline_run(g, "dce", &ctx);
    if (!s)
        s = fa_graph_verify(g);
    if (!s)
        s = write_output(g, a->output);
    if (!s && !a->quiet)
        print_summary(a, reports, sites.count, calib_s, now_seconds() - t0);
    free(reports);
    fa_quant_sites_deinit(&sites);
    fa_tool_dataset_free(&data, al);
    fa_graph_destroy(g);
    return s;
}

int fa_cmd_compile(int argc, char **argv) {
    compile_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        fa_status s = run_compile(&a, fa_rt_allocator_default());
        rc = s ? fa_cli_fail(fa_status_prefix(s, "%s", a.model)) : 0;
    }
    for (int i = 0; i < a.ncalib; i++)
        fa_tool_binding_free(&a.calib[i]);
    free(a.calib);
    return rc;
}
