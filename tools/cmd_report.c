/* freeact report: what freeact compile recorded in a quantized .fir, per site and token type:
 * the transform kind, the activation clip ratio, the held-out equivalence error
 * ‖X_k A_k M − X_k‖/‖X_k‖ and quantization error, and the bit widths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/model_io.h"

static const char report_help[] =
    "usage: freeact report MODEL.fir [--json]\n"
    "\n"
    "Prints, for every quantized site of a .fir written by freeact compile (one routed_transform\n"
    "each) and every token type: the transform kind, the activation clip ratio, the number of\n"
    "held-out calibration tokens, the equivalence error |X_k A_k M - X_k| / |X_k| and the\n"
    "site's quantization error |Q(X_k A_k) Q(W M^T)^T - X_k W^T| / |X_k W^T| on those tokens,\n"
    "the weight and activation bits, and 'excl': freeact's exclusive channels per type (0 where\n"
    "they were dropped for not being exact on the data), freeact-ns's kept rank r.\n"
    "\n"
    "options:\n"
    "  --json       one JSON object instead of a table\n"
    "  -h, --help   show this help\n";

/* The quantize node reading |z|, or NULL (activations kept in f32). */
static const fa_node *quantize_of(const fa_value *z) {
    for (uint32_t i = 0; i < z->num_uses; i++)
        if (z->uses[i].node->op == FA_OP_QUANTIZE)
            return z->uses[i].node;
    return NULL;
}

/* Weight bits of the first qlinear / dequantize reading the site, 0 if none. */
static int weight_bits(const fa_value *z, const fa_node *q) {
    const fa_value *v = q ? q->results[0] : z;
    for (uint32_t i = 0; i < v->num_uses; i++) {
        const fa_node *u = v->uses[i].node;
        if (u->op == FA_OP_QLINEAR)
            return u->operands[2]->type.dtype == FA_DT_I4 ? 4 : 8;
        if (u->op == FA_OP_LINEAR && u->operands[1]->def &&
            u->operands[1]->def->op == FA_OP_DEQUANTIZE)
            return u->operands[1]->def->operands[0]->type.dtype == FA_DT_I4 ? 4 : 8;
    }
    return 0;
}

static double attr_float_at(const fa_node *n, const char *name, uint32_t i) {
    const fa_attr *a = fa_node_attr(n, name);
    return a && a->kind == FA_ATTR_FLOATS && i < a->u.floats.n ? a->u.floats.v[i] : -1;
}

static long long attr_int_at(const fa_node *n, const char *name, uint32_t i) {
    const fa_attr *a = fa_node_attr(n, name);
    return a && a->kind == FA_ATTR_INTS && i < a->u.ints.n ? (long long)a->u.ints.v[i] : -1;
}

static const char *attr_string_at(const fa_node *n, const char *name, uint32_t i) {
    const fa_attr *a = fa_node_attr(n, name);
    return a && a->kind == FA_ATTR_STRINGS && i < a->u.strings.n ? a->u.strings.v[i] : "?";
}

/* A transform kind for JSON: one of the solver's names, else "other" (the attribute is free
 * text in a hand-written .fir). */
static const char *kind_name(const char *k) {
    static const char *const known[] = {"identity", "diag", "hadamard", "kron", "dense"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(k, known[i]))
            return k;
    return "other";
}

static fa_status report(const char *path, bool json) {
    fa_graph *g = NULL;
    FA_TRY(fa_tool_model_load(path, &g));
    unsigned sites = 0;
    const char *method = NULL;
    bool any = false;
    for (const fa_node *n = fa_graph_first_node(g); n && !any; n = n->next)
        any = n->op == FA_OP_ROUTED_TRANSFORM;
    if (!any) {
        fa_graph_destroy(g);
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "no quantized site (routed_transform) in the model; was it written "
                              "by freeact compile?");
    }
    if (json) {
        printf("{\"model\": ");
        fa_cli_json_string(path);
        printf(", \"sites\": [");
    }
    else
        printf("%-44s %5s %4s %-9s %3s %3s %5s %7s %10s %10s %5s\n", "site", "d", "type", "kind",
               "w", "a", "clip", "tokens", "equiv err", "quant err", "excl");
    for (const fa_node *n = fa_graph_first_node(g); n; n = n->next) {
        if (n->op != FA_OP_ROUTED_TRANSFORM)
            continue;
        const fa_value *a = n->operands[2];
        uint32_t k = a && a->type.rank == 3 ? (uint32_t)a->type.dims[0].value : 1;
        int64_t d = a && a->type.rank == 3 ? a->type.dims[1].value : -1;
        const fa_node *q = quantize_of(n->results[0]);
        const fa_value *clip = q && q->num_operands > 2 ? q->operands[2] : NULL;
        int abits = q ? (int)fa_node_attr_int(q, "bits", 0) : 16;
        int wbits = weight_bits(n->results[0], q);
        const char *site = fa_node_attr_string(n, "site", "?");
        method = fa_node_attr_string(n, "method", method);
        if (json) {
            printf("%s{\"site\": ", sites ? ", " : "");
            fa_cli_json_string(site);
            printf(", \"d\": %lld, \"w_bits\": %d, \"a_bits\": %d, \"exclusive\": %lld, "
                   "\"types\": [",
                   (long long)d, wbits, abits, (long long)fa_node_attr_int(n, "exclusive", 0));
        }
        for (uint32_t t = 0; t < k; t++) {
            double c = clip && clip->tensor && clip->type.dtype == FA_DT_F32 &&
                               t < clip->tensor->nbytes / 4
                           ? ((const float *)clip->tensor->data)[t]
                           : 1.0;
            if (json)
                printf("%s{\"kind\": \"%s\", \"clip\": %.4f, \"tokens\": %lld, "
                       "\"equiv_error\": %.6g, \"quant_error\": %.6g}",
                       t ? ", " : "", kind_name(attr_string_at(n, "kinds", t)), c,
                       attr_int_at(n, "tokens", t), attr_float_at(n, "equiv_error", t),
                       attr_float_at(n, "quant_error", t));
            else
                printf("%-44s %5lld %4u %-9s %3d %3d %5.3f %7lld %10.2e %10.4f %5lld\n",
                       t ? "" : site, (long long)d, t, attr_string_at(n, "kinds", t), wbits, abits,
                       c, attr_int_at(n, "tokens", t), attr_float_at(n, "equiv_error", t),
                       attr_float_at(n, "quant_error", t),
                       (long long)fa_node_attr_int(n, "exclusive", 0));
        }
        if (json)
            printf("]}");
        sites++;
    }
    if (json) {
        printf("], \"method\": ");
        fa_cli_json_string(method ? method : "");
        printf("}\n");
    }
    else
        printf("%s: %u quantized sites%s%s\n", path, sites, method ? ", method " : "",
               method ? method : "");
    fa_graph_destroy(g);
    return FA_OK;
}

int fa_cmd_report(int argc, char **argv) {
    const char *model = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(report_help, stdout);
            return 0;
        } else if (!strcmp(arg, "--json")) {
            json = true;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return fa_cli_usage_error("report", "unknown option '%s'", arg);
        } else if (model) {
            return fa_cli_usage_error("report", "more than one model ('%s' and '%s')", model, arg);
        } else {
            model = arg;
        }
    }
    if (!model)
        return fa_cli_usage_error("report", "no model given");
    fa_status s = report(model, json);
    return s ? fa_cli_fail(fa_status_prefix(s, "%s", model)) : 0;
}
