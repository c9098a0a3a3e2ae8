/* freeact eval: runs a model over an evaluation set in batches and scores the logits against
 * targets (token accuracy and mean negative log-likelihood where the target mask is 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/interp.h"
#include "runtime/npy.h"
#include "tools/cli.h"
#include "tools/model_io.h"

static const char eval_help[] =
    "usage: freeact eval MODEL --input NAME=FILE.npy ... --targets FILE.npy\n"
    "                    --target-mask FILE.npy [options]\n"
    "\n"
    "Runs MODEL (.onnx or .fir) over an evaluation set in batches of rows (axis 0 of every\n"
    "input) and scores its logits [N, S, V] against integer targets [N, S] where the target\n"
    "mask [N, S] is non-zero: token accuracy (argmax == target) and the mean negative\n"
    "log-likelihood of the target (natural log).\n"
    "\n"
    "It runs on the planned runtime with generated (JIT) kernels by default (see freeact run\n"
    "--help): the plan is made for the first batch's shapes and re-made when they change (a\n"
    "smaller last batch); --no-jit uses the C kernels in the same plan, --interp the reference\n"
    "interpreter.\n"
    "\n"
    "options:\n"
    "  --input NAME=FILE.npy  bind a graph input (every input must be bound; all share N)\n"
    "  --targets FILE.npy     target ids, integer [N, S]\n"
    "  --target-mask FILE.npy 1 where a position is scored, bool or integer [N, S]\n"
    "  --group-by FILE.npy    a value per row [N]; also report each distinct value separately\n"
    "                         (e.g. the mask ratio of each row)\n"
    "  --output NAME          the logits output (default: the first graph output)\n"
    "  --batch N              rows per run (default 16)\n"
    "  --json                 print one JSON object: token_accuracy, nll, tokens (and groups)\n"
    "  --no-jit               planned runtime with the C kernels only (no code generation)\n"
    "  --interp               the reference interpreter (one thread, no plan)\n"
    "  --threads N            threads of the planned runtime (default: all online cores)\n"
    "  -v                     print the engine, plan and JIT statistics on stderr\n"
    "  -h, --help             show this help\n";

#define MAX_GROUPS 64

typedef struct score {
    double value; /* group key */
    uint64_t tokens, correct;
    double nll_sum;
} score;

typedef struct eval_args {
    const char *model, *targets, *mask, *group_by, *output;
    fa_binding *inputs;
    int ninputs;
    int64_t batch;
    bool json;
    fa_tool_engine_options engine;
} eval_args;

static int parse_args(int argc, char **argv, eval_args *a) {
    a->batch = 16;
    a->inputs = calloc((size_t)argc, sizeof *a->inputs);
    if (!a->inputs)
        return fa_cli_fail(fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory"));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        bool missing;
        int eng = fa_tool_engine_option("eval", argc, argv, &i, &a->engine);
        if (eng < 0)
            return 2;
        if (eng > 0)
            continue;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(eval_help, stdout);
            return 0;
        } else if ((v = fa_cli_option_value("--input", argc, argv, &i, &missing)) || missing) {
            if (missing || !fa_tool_binding_parse(v, &a->inputs[a->ninputs]))
                return fa_cli_usage_error("eval", "--input needs NAME=FILE.npy");
            a->ninputs++;
        } else if ((v = fa_cli_option_value("--targets", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("eval", "--targets needs a file");
            a->targets = v;
        } else if ((v = fa_cli_option_value("--target-mask", argc, argv, &i, &missing)) ||
                   missing) {
            if (missing)
                return fa_cli_usage_error("eval", "--target-mask needs a file");
            a->mask = v;
        } else if ((v = fa_cli_option_value("--group-by", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("eval", "--group-by needs a file");
            a->group_by = v;
        } else if ((v = fa_cli_option_value("--output", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("eval", "--output needs an output name");
            a->output = v;
        } else if ((v = fa_cli_option_value("--batch", argc, argv, &i, &missing)) || missing) {
            char *end = NULL;
            a->batch = missing ? 0 : strtoll(v, &end, 10);
            if (missing || *end || a->batch <= 0 || a->batch > 1000000)
                return fa_cli_usage_error("eval", "--batch needs a positive integer");
        } else if (!strcmp(arg, "--json")) {
            a->json = true;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return fa_cli_usage_error("eval", "unknown option '%s'", arg);
        } else if (a->model) {
            return fa_cli_usage_error("eval", "more than one model ('%s' and '%s')", a->model,
                                      arg);
        } else {
            a->model = arg;
        }
    }
    if (!a->model)
        return fa_cli_usage_error("eval", "no model given");
    if (!a->targets || !a->mask)
        return fa_cli_usage_error("eval", "--targets and --target-mask are required");
    return -1;
}

static score *group_for(score *groups, int *ngroups, double key, bool *overflow) {
    for (int i = 0; i < *ngroups; i++)
        if (groups[i].value == key)
            return &groups[i];
    if (*ngroups == MAX_GROUPS) {
        *overflow = true;
        return NULL;
    }
    score *s = &groups[(*ngroups)++];
    memset(s, 0, sizeof *s);
    s->value = key;
    return s;
}

/* Scores one batch of logits [n, S, V] for rows starting at |r0|. */
static fa_status score_batch(const fa_rt_tensor *logits, const fa_rt_tensor *targets,
                             const fa_rt_tensor *mask, const fa_rt_tensor *group, int64_t r0,
                             score *total, score *groups, int *ngroups) {
    int64_t n = logits->dims[0], S = targets->dims[1];
    if (logits->rank != 3 || logits->dims[1] != S || !fa_dtype_is_float(logits->dtype)) {
        char d[128];
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "the logits are %s; expected float [batch, %lld, vocab] to match "
                              "the targets", fa_rt_tensor_describe(logits, d, sizeof d),
                              (long long)S);
    }
    int64_t V = logits->dims[2];
    bool overflow = false;
    for (int64_t b = 0; b < n; b++) {
        score *g = NULL;
        if (group)
            g = group_for(groups, ngroups, fa_rt_load_f64(group->dtype, group->data,
                                                          (uint64_t)(r0 + b)), &overflow);
        if (overflow)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "--group-by has more than %d distinct values", MAX_GROUPS);
        for (int64_t s = 0; s < S; s++) {
            uint64_t pos = (uint64_t)((r0 + b) * S + s);
            if (!fa_rt_load_i64(mask->dtype, mask->data, pos))
                continue;
            int64_t target = fa_rt_load_i64(targets->dtype, targets->data, pos);
            if (target < 0 || target >= V)
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                      "--targets: row %lld position %lld has target %lld outside "
                                      "the vocabulary [0, %lld)", (long long)(r0 + b),
                                      (long long)s, (long long)target, (long long)V);
            uint64_t base = (uint64_t)((b * S + s) * V);
            double best = -INFINITY, mx = -INFINITY;
            int64_t arg = 0;
            for (int64_t v = 0; v < V; v++) {
                double x = fa_rt_load_f64(logits->dtype, logits->data, base + (uint64_t)v);
                if (x > best) {
                    best = x;
                    arg = v;
                }
                mx = x > mx ? x : mx;
            }
            double sum = 0;
            for (int64_t v = 0; v < V; v++)
                sum += exp(fa_rt_load_f64(logits->dtype, logits->data, base + (uint64_t)v) - mx);
            double nll = mx + log(sum) -
                         fa_rt_load_f64(logits->dtype, logits->data, base + (uint64_t)target);
            score *dst[2] = {total, g};
            for (int k = 0; k < 2; k++) {
                if (!dst[k])
                    continue;
                dst[k]->tokens++;
                dst[k]->correct += arg == target;
                dst[k]->nll_sum += nll;
            }
        }
    }
    return FA_OK;
}

/* Checks an auxiliary array: [n] numbers (rank 1) or [n, s] integers/bools (rank 2; s < 0: any). */
static fa_status check_aux(const fa_rt_tensor *t, const char *what, int rank, int64_t n,
                           int64_t s) {
    if (t->rank != rank || t->dims[0] != n || (rank == 2 && s >= 0 && t->dims[1] != s) ||
        !(fa_dtype_is_int(t->dtype) || t->dtype == FA_DT_BOOL ||
          (rank == 1 && fa_dtype_is_float(t->dtype)))) {
        char d[128];
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: array is %s; expected %s [%lld%s]",
                              what, fa_rt_tensor_describe(t, d, sizeof d),
                              rank == 1 ? "a number per row" : "integer or bool", (long long)n,
                              rank == 2 ? ", S" : "");
    }
    return FA_OK;
}

static void print_json_fields(const score *s) {
    double acc = s->tokens ? (double)s->correct / (double)s->tokens : 0;
    double nll = s->tokens ? s->nll_sum / (double)s->tokens : 0;
    printf("\"token_accuracy\": %.6f, \"nll\": %.6f, \"tokens\": %llu", acc, nll,
           (unsigned long long)s->tokens);
}

static void print_text(const char *label, const score *s) {
    double acc = s->tokens ? (double)s->correct / (double)s->tokens : 0;
    double nll = s->tokens ? s->nll_sum / (double)s->tokens : 0;
    printf("%-14s token_accuracy %.4f  nll %.4f  tokens %llu\n", label, acc, nll,
           (unsigned long long)s->tokens);
}

static int cmp_score(const void *a, const void *b) {
    double x = ((const score *)a)->value, y = ((const score *)b)->value;
    return (x > y) - (x < y);
}

static fa_status run_eval(const eval_args *a, const fa_rt_allocator *al) {
    fa_graph *g = NULL;
    FA_TRY(fa_tool_model_load(a->model, &g));
    uint32_t nin = fa_graph_num_inputs(g);
    fa_rt_tensor *inputs = calloc(nin + 1, sizeof *inputs), *views = calloc(nin + 1, sizeof *views);
    fa_rt_tensor targets = {0}, mask = {0}, group = {0};
    fa_status s = inputs && views ? FA_OK : fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    int out_index = 0;
    if (!s && a->output) {
        out_index = -1;
        for (uint32_t i = 0; i < fa_graph_num_outputs(g); i++)
            if (!strcmp(fa_graph_output(g, i)->name, a->output))
                out_index = (int)i;
        if (out_index < 0)
            s = fa_status_make(FA_STATUS_INVALID_ARGUMENT, "--output %s: the model has no such "
                               "output", a->output);
    }
    if (!s)
        s = fa_tool_inputs_read(g, a->inputs, a->ninputs, "--input", inputs, al);
    int64_t N = nin ? inputs[0].dims[0] : 0;
    for (uint32_t i = 0; !s && i < nin; i++)
        if (inputs[i].rank < 1 || inputs[i].dims[0] != N)
            s = fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                               "input '%s': every input needs the same number of rows (axis 0), "
                               "%lld", fa_graph_input(g, i)->name, (long long)N);
    if (!s)
        s = fa_status_prefix(fa_rt_npy_read(a->targets, &targets, al), "--targets");
    if (!s)
        s = fa_status_prefix(check_aux(&targets, a->targets, 2, N, -1), "--targets");
    if (!s)
        s = fa_status_prefix(fa_rt_npy_read(a->mask, &mask, al), "--target-mask");
    if (!s)
        s = fa_status_prefix(check_aux(&mask, a->mask, 2, N, targets.dims[1]), "--target-mask");
    if (!s && a->group_by) {
        s = fa_status_prefix(fa_rt_npy_read(a->group_by, &group, al), "--group-by");
        if (!s)
            s = fa_status_prefix(check_aux(&group, a->group_by, 1, N, 0), "--group-by");
    }
    score total = {0}, groups[MAX_GROUPS];
    int ngroups = 0;
    bool progress = isatty(STDERR_FILENO) && !a->json;
    uint32_t nout = fa_graph_num_outputs(g);
    fa_rt_tensor *outs = calloc(nout + 1, sizeof *outs);
    if (!s && !outs)
        s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    fa_tool_engine_state engine;
    memset(&engine, 0, sizeof engine);
    if (!s)
        s = fa_tool_engine_init(&engine, g, &a->engine);
    for (int64_t r0 = 0; !s && r0 < N; r0 += a->batch) {
        int64_t n = N - r0 < a->batch ? N - r0 : a->batch;
        for (uint32_t i = 0; i < nin; i++)
            views[i] = fa_tool_tensor_rows(&inputs[i], r0, n);
        if (progress)
            fprintf(stderr, "\reval: rows %lld-%lld of %lld", (long long)r0, (long long)(r0 + n),
                    (long long)N);
        s = fa_tool_engine_run(&engine, views, nin, outs, al);
        if (!s) {
            s = score_batch(&outs[out_index], &targets, &mask, a->group_by ? &group : NULL, r0,
                            &total, groups, &ngroups);
            fa_rt_tensors_free(outs, nout, al);
        }
    }
    if (progress)
        fprintf(stderr, "\r%60s\r", "");
    if (!s)
        fa_tool_engine_report(&engine);
    fa_tool_engine_deinit(&engine);
    if (!s) {
        qsort(groups, (size_t)ngroups, sizeof *groups, cmp_score);
        if (a->json) {
            printf("{");
            print_json_fields(&total);
            if (ngroups) {
                printf(", \"groups\": {");
                for (int i = 0; i < ngroups; i++) {
                    printf("%s\"%g\": {", i ? ", " : "", groups[i].value);
                    print_json_fields(&groups[i]);
                    printf("}");
                }
                printf("}");
            }
            printf("}\n");
        } else {
            for (int i = 0; i < ngroups; i++) {
                char label[64];
                snprintf(label, sizeof label, "group %g:", groups[i].value);
                print_text(label, &groups[i]);
            }
            print_text("all:", &total);
        }
    }
    free(outs);
    if (inputs)
        fa_rt_tensors_free(inputs, nin, al);
    free(inputs);
    free(views);
    fa_rt_tensor_free(&targets, al);
    fa_rt_tensor_free(&mask, al);
    fa_rt_tensor_free(&group, al);
    fa_graph_destroy(g);
    return s;
}

int fa_cmd_eval(int argc, char **argv) {
    eval_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        fa_status s = run_eval(&a, fa_rt_allocator_default());
        rc = s ? fa_cli_fail(s) : 0;
    }
    for (int i = 0; i < a.ninputs; i++)
        fa_tool_binding_free(&a.inputs[i]);
    free(a.inputs);
    return rc;
}
