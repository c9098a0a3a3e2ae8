/* freeact stats: runs a model over calibration rows in batches and reports, per linear-layer
 * input and per token type, how heavy-tailed the activations are and where the outliers sit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/interp.h"
#include "runtime/npy.h"
#include "tools/cli.h"
#include "tools/model_io.h"
#include "tools/stats.h"

static const char stats_help[] =
    "usage: freeact stats MODEL --input NAME=FILE.npy ... --token-type RULE [options]\n"
    "\n"
    "Runs MODEL (.onnx or .fir) with the reference interpreter over rows (axis 0 of every input)\n"
    "in batches and reports statistics of every linear-layer input (a site: the activation read\n"
    "by MatMuls with a constant rank-2 weight or Gemms with a constant B; q/k/v share one site),\n"
    "per token type and for all tokens together:\n"
    "  tokens         number of tokens (rows of the activation) of that type\n"
    "  max/rms        max|x| / RMS(x) over all elements of those tokens\n"
    "  tok max/rms    mean over tokens of max|x_t| / RMS(x_t)\n"
    "  kurtosis       excess kurtosis of the elements (0 for a Gaussian)\n"
    "  top1%          share of the energy (sum x^2) in the top 1% of channels, max(1, d/100)\n"
    "  top channels   the 3 channels with the most energy\n"
    "An activation must be [B,T,d] or [B*T,d], where [B,T] is the shape of the rule's input\n"
    "(for a position rule: B = the rows in the batch, T = the activation's axis 1, or its\n"
    "number of rows / B);\n"
    "other sites are reported as not token-aligned and skipped. Output: a table on stdout, or\n"
    "JSON (numbers that are undefined, e.g. for a type without tokens, are null / '-').\n"
    "\n"
    "token-type rules (types 0..K-1, K <= 8):\n"
    "  input:NAME     NAME (a graph input, or an extra --input) holds the type of each token "
    "[B,T]\n"
    "  NAME==K        type 1 where the integer input NAME [B,T] equals K, else 0\n"
    "  position<N     type 1 at positions < N along the activation's token axis, else 0\n"
    "\n"
    "options:\n"
    "  --input NAME=FILE.npy  bind a graph input (every input must be bound; all share N rows)\n"
    "  --token-type RULE      how tokens get their type (required)\n"
    "  --max-rows N           use at most the first N rows (default: all)\n"
    "  --batch N              rows per run (default 16)\n"
    "  --json                 print one JSON object instead of the table\n"
    "  -h, --help             show this help\n";

typedef struct stats_args {
    const char *model, *rule_text;
    fa_rt_token_rule rule;
    fa_binding *inputs;
    int ninputs;
    int64_t batch, max_rows;
    bool json;
} stats_args;

static int parse_count(const char *v, bool missing, const char *opt, int64_t *out) {
    char *end = NULL;
    *out = missing ? 0 : strtoll(v, &end, 10);
    if (missing || *end || *out <= 0 || *out > 1000000000)
        return fa_cli_usage_error("stats", "%s needs a positive integer", opt);
    return -1;
}

static int parse_args(int argc, char **argv, stats_args *a) {
    a->batch = 16;
    a->max_rows = INT64_MAX;
    a->inputs = calloc((size_t)argc, sizeof *a->inputs);
    if (!a->inputs)
        return fa_cli_fail(fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory"));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        bool missing;
        int rc = -1;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(stats_help, stdout);
            return 0;
        } else if ((v = fa_cli_option_value("--input", argc, argv, &i, &missing)) || missing) {
            if (missing || !fa_tool_binding_parse(v, &a->inputs[a->ninputs]))
                return fa_cli_usage_error("stats", "--input needs NAME=FILE.npy");
            a->ninputs++;
        } else if ((v = fa_cli_option_value("--token-type", argc, argv, &i, &missing)) || missing) {
            if (missing)
                return fa_cli_usage_error("stats", "--token-type needs a rule");
            if (a->rule_text)
                return fa_cli_usage_error("stats", "--token-type given twice");
            fa_status s = fa_rt_token_rule_parse(v, &a->rule);
            if (s) {
                rc = fa_cli_usage_error("stats", "%s", fa_status_message(s));
                fa_status_free(s);
                return rc;
            }
            a->rule_text = v;
        } else if ((v = fa_cli_option_value("--max-rows", argc, argv, &i, &missing)) || missing) {
            rc = parse_count(v, missing, "--max-rows", &a->max_rows);
        } else if ((v = fa_cli_option_value("--batch", argc, argv, &i, &missing)) || missing) {
            rc = parse_count(v, missing, "--batch", &a->batch);
        } else if (!strcmp(arg, "--json")) {
            a->json = true;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return fa_cli_usage_error("stats", "unknown option '%s'", arg);
        } else if (a->model) {
            return fa_cli_usage_error("stats", "more than one model ('%s' and '%s')", a->model,
                                      arg);
        } else {
            a->model = arg;
        }
        if (rc >= 0)
            return rc;
    }
    if (!a->model)
        return fa_cli_usage_error("stats", "no model given");
    if (!a->rule_text)
        return fa_cli_usage_error("stats", "--token-type is required");
    return -1;
}

/* ---- output ---------------------------------------------------------------------------------- */

static void json_number(double v) {
    if (isfinite(v))
        printf("%.6g", v);
    else
        printf("null");
}

static void json_summary(const fa_tool_stats_summary *m) {
    printf("{\"tokens\": %llu, \"max_over_rms\": ", (unsigned long long)m->tokens);
    json_number(m->max_over_rms);
    printf(", \"mean_token_max_over_rms\": ");
    json_number(m->mean_token_max_over_rms);
    printf(", \"kurtosis\": ");
    json_number(m->kurtosis);
    printf(", \"top_energy_share\": ");
    json_number(m->top_energy_share);
    printf(", \"top_channels\": [");
    for (uint32_t k = 0; k < m->num_top; k++)
        printf("%s%lld", k ? ", " : "", (long long)m->top_channels[k]);
    printf("]}");
}

static void print_json(const fa_tool_stats *st, const stats_args *a, int64_t rows) {
    char rule[FA_RT_TOKEN_RULE_NAME_MAX + 32];
    unsigned ntypes = fa_tool_stats_num_types(st);
    printf("{\"model\": ");
    fa_cli_json_string(a->model);
    printf(", \"token_type\": ");
    fa_cli_json_string(fa_rt_token_rule_format(&a->rule, rule, sizeof rule));
    printf(", \"rows\": %lld, \"num_types\": %u, \"sites\": [", (long long)rows, ntypes);
    for (uint32_t i = 0; i < fa_tool_stats_num_sites(st); i++) {
        const fa_tool_stats_site *s = fa_tool_stats_site_info(st, i);
        printf("%s\n  {\"name\": ", i ? "," : "");
        fa_cli_json_string(s->name);
        printf(", \"consumers\": [");
        for (uint32_t k = 0; k < s->num_consumers; k++) {
            printf("%s", k ? ", " : "");
            if (s->consumers[k]->name)
                fa_cli_json_string(s->consumers[k]->name);
            else
                printf("null");
        }
        printf("], \"d\": %lld, \"token_aligned\": %s", (long long)s->d,
               s->aligned ? "true" : "false");
        if (!s->aligned) {
            printf(", \"reason\": ");
            fa_cli_json_string(s->reason);
            printf("}");
            continue;
        }
        fa_tool_stats_summary m;
        fa_tool_stats_summarize(st, i, -1, &m);
        printf(", \"top_k\": %u, \"all\": ", m.top_k);
        json_summary(&m);
        printf(", \"types\": [");
        for (unsigned t = 0; t < ntypes; t++) {
            fa_tool_stats_summarize(st, i, (int)t, &m);
            printf("%s", t ? ", " : "");
            json_summary(&m);
        }
        printf("]}");
    }
    printf("\n]}\n");
}

static void text_number(double v, int width, int prec) {
    if (isfinite(v))
        printf(" %*.*f", width, prec, v);
    else
        printf(" %*s", width, "-");
}

static void text_row(const fa_tool_stats_summary *m) {
    printf(" %8llu", (unsigned long long)m->tokens);
    text_number(m->max_over_rms, 8, 2);
    text_number(m->mean_token_max_over_rms, 11, 2);
    text_number(m->kurtosis, 9, 2);
    text_number(m->top_energy_share, 6, 3);
    if (m->num_top)
        printf(" ");
    for (uint32_t k = 0; k < m->num_top; k++)
        printf(" %lld", (long long)m->top_channels[k]);
    printf("\n");
}

static void print_table(const fa_tool_stats *st, const stats_args *a, int64_t rows) {
    char rule[FA_RT_TOKEN_RULE_NAME_MAX + 32];
    unsigned ntypes = fa_tool_stats_num_types(st);
    uint32_t nsites = fa_tool_stats_num_sites(st);
    printf("%s: %u linear-layer inputs, %lld rows, token types by '%s' (%u types)\n", a->model,
           nsites, (long long)rows, fa_rt_token_rule_format(&a->rule, rule, sizeof rule), ntypes);
    int w = 4;
    for (uint32_t i = 0; i < nsites; i++) {
        int len = (int)strlen(fa_tool_stats_site_info(st, i)->name);
        w = len > w ? len : w;
    }
    printf("%-*s %6s %-4s %8s %8s %11s %9s %6s  %s\n", w, "site", "d", "type", "tokens", "max/rms",
           "tok max/rms", "kurtosis", "top1%", "top channels");
    for (uint32_t i = 0; i < nsites; i++) {
        const fa_tool_stats_site *s = fa_tool_stats_site_info(st, i);
        printf("%-*s %6lld ", w, s->name, (long long)s->d);
        if (!s->aligned) {
            printf("-    skipped: %s\n", s->reason);
            continue;
        }
        fa_tool_stats_summary m;
        fa_tool_stats_summarize(st, i, -1, &m);
        printf("%-4s", "all");
        text_row(&m);
        for (unsigned t = 0; t < ntypes; t++) {
            fa_tool_stats_summarize(st, i, (int)t, &m);
            printf("%-*s %6s %-4u", w, "", "", t);
            text_row(&m);
        }
    }
}

/* ---- the command ----------------------------------------------------------------------------- */

static fa_status run_stats(const stats_args *a, const fa_rt_allocator *al) {
    fa_graph *g = NULL;
    FA_TRY(fa_tool_model_load(a->model, &g));
    uint32_t nin = fa_graph_num_inputs(g);
    fa_rt_tensor *views = calloc(nin + 1, sizeof *views);
    fa_tool_dataset data;
    fa_tool_stats *st = NULL;
    fa_status s = fa_tool_dataset_read(g, a->inputs, a->ninputs, "--input", &a->rule,
                                       a->rule_text, true, "rows", &data, al);
    if (!s && !views)
        s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    const fa_rt_tensor *inputs = data.inputs, *src = data.source;
    int64_t N = data.rows;
    if (!s)
        s = fa_tool_stats_create(g, &a->rule, &st);
    int64_t rows = N < a->max_rows ? N : a->max_rows;
    bool progress = isatty(STDERR_FILENO);
    for (int64_t r0 = 0; !s && r0 < rows; r0 += a->batch) {
        int64_t n = rows - r0 < a->batch ? rows - r0 : a->batch;
        for (uint32_t i = 0; i < nin; i++)
            views[i] = fa_tool_tensor_rows(&inputs[i], r0, n);
        fa_rt_tensor src_view = {0};
        if (src)
            src_view = fa_tool_tensor_rows(src, r0, n);
        if (progress)
            fprintf(stderr, "\rstats: rows %lld-%lld of %lld", (long long)r0, (long long)(r0 + n),
                    (long long)rows);
        s = fa_tool_stats_run(st, views, nin, src ? &src_view : NULL, n, al);
    }
    if (progress)
        fprintf(stderr, "\r%60s\r", "");
    if (!s && a->json)
        print_json(st, a, rows);
    else if (!s)
        print_table(st, a, rows);
    fa_tool_stats_destroy(st);
    fa_tool_dataset_free(&data, al);
    free(views);
    fa_graph_destroy(g);
    return s;
}

int fa_cmd_stats(int argc, char **argv) {
    stats_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        fa_status s = run_stats(&a, fa_rt_allocator_default());
        rc = s ? fa_cli_fail(s) : 0;
    }
    for (int i = 0; i < a.ninputs; i++)
        fa_tool_binding_free(&a.inputs[i]);
    free(a.inputs);
    return rc;
}
