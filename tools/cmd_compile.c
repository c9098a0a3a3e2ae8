/* freeact compile: float model -> quantized IR. The float pipeline (fusion, norm folding), then
 * site discovery, calibration on the given data, one solver per site and the lowering to
 * quantized ops (passes/quantize.h); writes OUT.fir with its weights beside it in OUT.fir.bin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/aot.h"
#include "codegen/plan_jit.h"
#include "ir/fileio.h"
#include "passes/pass.h"
#include "passes/quantize.h"
#include "runtime/interp.h"
#include "runtime/npy.h"
#include "tools/cli.h"
#include "tools/model_io.h"

static const char compile_help[] =
    "usage: freeact compile MODEL --calib NAME=FILE.npy ... --method M --quant Q -o OUT\n"
    "                       [options]\n"
    "       freeact compile MODEL --method none -o OUT [options]\n"
    "\n"
    "Quantizes MODEL (.onnx or .fir): fuses linears and norms, folds norm weights into the\n"
    "linears, finds the linear sites (linears sharing an input form one site) and, site by site\n"
    "in program order, runs the model as quantized so far on the calibration data and fits the\n"
    "site's activation transform per token type, its weight transform, clip ratios and quantized\n"
    "weights (on 3 of every 4 samples; the 4th measures the errors), and writes the IR to OUT.fir\n"
    "with the weights in OUT.fir.bin beside it (both written atomically). A summary per site\n"
    "goes to stdout; `freeact report OUT.fir` prints it again later. Linears whose result is a\n"
    "graph output (an LM head) stay in f32 unless --quantize-head.\n"
    "\n";

static const char compile_help_aot[] =
    "With -o OUT.so (or .a, .o) the result is compiled ahead of time instead: the kernels its\n"
    "plan needs are generated for the target CPU and linked with the runtime and the weights\n"
    "into a shared library (static archive, relocatable object), and NAME.h beside it declares\n"
    "NAME_create, NAME_run, NAME_error and NAME_destroy (examples/aot shows a program using\n"
    "them). Only those four symbols are global, so several models link into one program.\n"
    "--method none skips quantization: a float model, or a .fir that compile wrote before,\n"
    "compiled as it is (no --calib or --quant then).\n"
    "\n";

static const char compile_help_options[] =
    "options:\n"
    "  --calib NAME=FILE.npy  calibration data for graph input NAME (every input must be bound;\n"
    "                         all share the number of samples along axis 0); for an input:NAME\n"
    "                         rule naming no graph input, also the token types\n"
    "  --token-type RULE      how tokens get their type (default: one type for all tokens):\n"
    "                           input:NAME   the integer tensor NAME [B,T] holds types 0..7\n"
    "                           NAME==K      type 1 where input NAME [B,T] equals K, else 0\n"
    "                           position<N   type 1 at positions < N of each activation, else 0\n"
    "  --method M             rtn | smoothquant | quarot | flatquant | freeact | freeact-ns,\n"
    "                         or none (no quantization)\n"
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
    "  -o OUT                 required: OUT.fir (the quantized IR), OUT.so, OUT.a or OUT.o\n"
    "  --emit KIND            shared | static | obj: what to write (default: from OUT's\n"
    "                         extension)\n"
    "  --name NAME            symbol prefix of the compiled model (a C identifier; default:\n"
    "                         OUT's file name without extension and a leading \"lib\")\n"
    "  --target-cpu CPU       generate kernels for CPU instead of this machine's: an LLVM CPU\n"
    "                         name, e.g. x86-64-v3 (AVX2) or x86-64-v4 (AVX-512); those two and\n"
    "                         x86-64 come with their features, others need --target-features\n"
    "  --target-features F    LLVM feature string for --target-cpu, e.g. +avx2,+fma\n"
    "  -v                     print code generation times (for .fir: the JIT's, measured by\n"
    "                         compiling the kernels once)\n"
    "  --quiet                no progress and no summary\n"
    "  --json                 the summary as one JSON object\n"
    "  -h, --help             show this help\n";

typedef struct compile_args {
    const char *model, *output, *rule_text, *method_text, *quant_text;
    const char *emit_text, *name, *cpu, *features;
    bool aot, no_quant;
    int verbose;
    fa_aot_emit emit;
    char name_buf[80];
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

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && !strcmp(s + n - m, suffix);
}

/* Decides from -o, --emit and --name what to write; 0, or a usage error's exit status. */
static int output_kind(compile_args *a) {
    static const struct {
        const char *ext, *emit;
        fa_aot_emit kind;
    } kinds[] = {{".so", "shared", FA_AOT_EMIT_SHARED},
                 {".a", "static", FA_AOT_EMIT_STATIC},
                 {".o", "obj", FA_AOT_EMIT_OBJ}};
    const char *o = a->output;
    int by_ext = -1, by_emit = -1;
    for (int i = 0; i < 3; i++) {
        if (ends_with(o, kinds[i].ext))
            by_ext = i;
        if (a->emit_text && !strcmp(a->emit_text, kinds[i].emit))
            by_emit = i;
    }
    if (a->emit_text && by_emit < 0)
        return fa_cli_usage_error("compile", "--emit '%s': expected shared, static or obj",
                                  a->emit_text);
    a->aot = by_emit >= 0 || by_ext >= 0;
    if (!a->aot) {
        if (!ends_with(o, ".fir"))
            return fa_cli_usage_error("compile", "-o %s: expected OUT.fir, OUT.so, OUT.a or "
                                                 "OUT.o (or --emit)",
                                      o);
        if (a->name || a->cpu || a->features)
            return fa_cli_usage_error("compile", "--name and --target-* apply to .so, .a and .o "
                                                 "outputs only");
        return 0;
    }
    if (ends_with(o, ".fir"))
        return fa_cli_usage_error("compile", "-o %s: --emit writes a library, not a .fir", o);
    a->emit = kinds[by_emit >= 0 ? by_emit : by_ext].kind;
    if (a->features && !a->cpu)
        return fa_cli_usage_error("compile", "--target-features needs --target-cpu");
    if (!a->name) { /* the file name without folder, extension and a leading "lib" */
        const char *base = strrchr(o, '/');
        base = base ? base + 1 : o;
        if (!strncmp(base, "lib", 3) && base[3] && base[3] != '.')
            base += 3;
        size_t n = strcspn(base, ".");
        if (n >= sizeof a->name_buf)
            n = sizeof a->name_buf - 1;
        for (size_t i = 0; i < n; i++) {
            char c = base[i];
            a->name_buf[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                     (c >= '0' && c <= '9')
                                 ? c
                                 : '_';
        }
        a->name = a->name_buf;
        if (!fa_aot_name_valid(a->name))
            return fa_cli_usage_error("compile", "-o %s: no C identifier in the file name; "
                                                 "give one with --name",
                                      o);
    } else if (!fa_aot_name_valid(a->name)) {
        return fa_cli_usage_error("compile", "--name '%s' is not a C identifier (letters, digits "
                                             "and _, at most 64)",
                                  a->name);
    }
    return 0;
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
            fputs(compile_help_aot, stdout);
            fputs(compile_help_options, stdout);
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
        } else if ((v = fa_cli_option_value("--emit", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("compile", "--emit needs shared, static or obj");
            a->emit_text = v;
        } else if ((v = fa_cli_option_value("--name", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("compile", "--name needs a C identifier");
            a->name = v;
        } else if ((v = fa_cli_option_value("--target-cpu", argc, argv, &i, &missing)) ||
                   missing) {
            if (missing)
                return fa_cli_usage_error("compile", "--target-cpu needs an LLVM CPU name");
            a->cpu = v;
        } else if ((v = fa_cli_option_value("--target-features", argc, argv, &i, &missing)) ||
                   missing) {
            if (missing)
                return fa_cli_usage_error("compile", "--target-features needs a feature string");
            a->features = v;
        } else if (!strcmp(arg, "-v")) {
            a->verbose++;
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
                                             "flatquant, freeact, freeact-ns, none)");
    a->no_quant = !strcmp(a->method_text, "none");
    if (!a->no_quant && !fa_qmethod_parse(a->method_text, &a->method))
        return fa_cli_usage_error("compile", "unknown method '%s' (rtn, smoothquant, quarot, "
                                             "flatquant, freeact, freeact-ns, none)",
                                  a->method_text);
    int wb = 8, ab = 8;
    if (a->no_quant && (a->quant_text || a->ncalib || a->has_rule))
        return fa_cli_usage_error("compile", "--method none takes no --quant, --calib or "
                                             "--token-type");
    if (!a->no_quant && !a->quant_text)
        return fa_cli_usage_error("compile", "--quant is required (w8a8, w4a8, w4a4, w4a16)");
    if (a->quant_text && !parse_quant(a->quant_text, &wb, &ab))
        return fa_cli_usage_error("compile", "unknown bit setting '%s' (w8a8, w4a8, w4a4, w4a16)",
                                  a->quant_text);
    if (!a->no_quant && a->ncalib == 0)
        return fa_cli_usage_error("compile", "--calib NAME=FILE.npy is required");
    if (!a->output)
        return fa_cli_usage_error("compile", "-o OUT is required (OUT.fir, .so, .a or .o)");
    int rc = output_kind(a);
    if (rc)
        return rc;
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

/* The target of --target-cpu / --target-features (NULL: the host) in |buf|. */
static fa_status target_of(const compile_args *a, fa_jit_target *buf, const fa_jit_target **out) {
    *out = NULL;
    if (!a->cpu)
        return FA_OK;
    /* The x86-64 micro-architecture levels, spelled out: kernels pick their paths from the
     * feature string, not from the CPU name. */
    static const struct {
        const char *cpu, *features;
    } presets[] = {
        {"x86-64", "+sse2"},
        {"x86-64-v2", "+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16"},
        {"x86-64-v3", "+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,+avx,+avx2,+bmi,+bmi2,"
                      "+f16c,+fma,+lzcnt,+movbe,+xsave"},
        {"x86-64-v4", "+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,+avx,+avx2,+bmi,+bmi2,"
                      "+f16c,+fma,+lzcnt,+movbe,+xsave,+avx512f,+avx512bw,+avx512cd,+avx512dq,"
                      "+avx512vl"},
    };
    const char *features = a->features;
    for (size_t i = 0; !features && i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(a->cpu, presets[i].cpu))
            features = presets[i].features;
    if (!features)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "--target-cpu %s needs --target-features (only x86-64, x86-64-v2, "
                              "-v3 and -v4 come with theirs)",
                              a->cpu);
    FA_TRY(fa_jit_target_init(buf, a->cpu, features));
    *out = buf;
    return FA_OK;
}

/* -v for a .fir output: compiles the model's kernels with the JIT once and prints the time. */
static fa_status report_jit(const fa_graph *g) {
    fa_rt_plan *plan;
    FA_TRY(fa_rt_plan_create_lazy(g, fa_rt_allocator_default(), &plan));
    fa_cg_plan_jit_stats st;
    fa_status s = fa_cg_plan_install_jit(plan, NULL, &st);
    fa_rt_plan_destroy(plan);
    if (!s)
        fprintf(stderr,
                "jit: %u kernels compiled (%u cached, %u from disk) in %.1f ms for this CPU\n",
                st.kernels_compiled, st.kernels_cached, st.kernels_from_disk, st.compile_ms);
    return s;
}

/* Writes the AOT library and its header. */
static fa_status write_aot(const compile_args *a, const fa_graph *g) {
    fa_jit_target tbuf;
    const fa_jit_target *t;
    FA_TRY(target_of(a, &tbuf, &t));
    char *dir = fa_path_dirname(a->output);
    size_t len = (dir ? strlen(dir) : 0) + strlen(a->name) + 8;
    char *header = malloc(len);
    if (!dir || !header) {
        free(dir);
        free(header);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    snprintf(header, len, "%s/%s.h", dir, a->name);
    free(dir);
    fa_aot_options o = {a->emit, a->name, t, header, a->model};
    fa_aot_stats st;
    fa_status s = fa_aot_write(g, a->output, &o, &st);
    if (!s && a->verbose)
        fprintf(stderr,
                "aot: %u kernels generated in %.1f ms for %s, linked in %.1f ms; IR %.1f KiB, "
                "weights %.1f MiB; wrote %s and %s\n",
                st.kernels, st.codegen_ms, t ? t->cpu : "this CPU", st.link_ms,
                (double)st.ir_bytes / 1024, (double)st.weights_bytes / (1 << 20), a->output,
                header);
    free(header);
    return s;
}

static fa_status run_compile(compile_args *a, const fa_rt_allocator *al) {
    double t0 = now_seconds();
    fa_graph *g = NULL;
    FA_TRY(fa_tool_model_load(a->model, &g));
    fa_pass_ctx ctx = {0};
    fa_status s = fa_pipeline_run(
        g, "canonicalize,cse,fuse-norms,fuse-linear,fuse-activations,fuse-rope,fold-norms,dce",
        &ctx);
    uint32_t nin = fa_graph_num_inputs(g);
    fa_tool_dataset data = {0};
    fa_quant_sites sites = {0};
    fa_quant_site_report *reports = NULL;
    if (!s && !a->no_quant)
        s = fa_tool_dataset_read(g, a->calib, a->ncalib, "--calib", a->has_rule ? &a->rule : NULL,
                                 a->rule_text, false, "samples", &data, al);
    const fa_rt_tensor *src = data.source;
    int64_t N = data.rows;
    if (!s && !a->no_quant)
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
    if (!s && !a->no_quant) {
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
        s = a->aot ? write_aot(a, g) : write_output(g, a->output);
    if (!s && !a->aot && a->verbose)
        s = report_jit(g);
    if (!s && !a->quiet && !a->no_quant)
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
