/* Transform insertion, weight folding, weight quantization and lowering (quantize.h): for every
 * site, the solver (passes/quant) picks A_k, M, the clip ratios and the quantized W Mᵀ; the site's
 * linears are then rewritten to
 *   %tt = token_type(...)                     (once per graph, or per site for position rules)
 *   %z  = routed_transform(%x, %tt, @a)       (A_k per type; the weights already hold M)
 *   %c, %s = quantize(%z, %tt, @clip)         (per-token dynamic, per-type clip ratios)
 *   %y  = qlinear(%c, %s, @wq, @ws, @bias)    (int accumulation, f32 dequantization)
 * or, with activations kept in f32 (w4a16), %y = linear(%z, dequantize(@wq, @ws), @bias). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "passes/quantize.h"
#include "passes/rewrite.h"
#include "runtime/tensor.h"

/* The rows of |site| whose sample is (|held| = true) or is not (false) held out: every fourth
 * calibration sample is held out for the error report. With fewer than four samples nothing is
 * held out and the report uses the fitting rows. */
static fa_status gather_rows(const fa_quant_site *site, bool held, bool all, float **out_x,
                             uint8_t **out_t, int64_t *out_rows) {
    int64_t n = 0;
    for (int64_t r = 0; r < site->rows; r++)
        if (all || (site->cseq[r] % 4 == 3) == held)
            n++;
    float *x = malloc(sizeof *x * (size_t)(n ? n * site->d : 1));
    uint8_t *t = malloc((size_t)(n ? n : 1));
    if (!x || !t) {
        free(x);
        free(t);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "site %s: out of memory", site->name);
    }
    int64_t k = 0;
    for (int64_t r = 0; r < site->rows; r++)
        if (all || (site->cseq[r] % 4 == 3) == held) {
            memcpy(x + k * site->d, site->cx + r * site->d, sizeof *x * (size_t)site->d);
            t[k++] = site->ctype[r];
        }
    *out_x = x;
    *out_t = t;
    *out_rows = n;
    return FA_OK;
}

/* The weights of every linear of |site|, stacked: [n, d]. */
static float *stack_weights(const fa_quant_site *site) {
    float *w = malloc(sizeof *w * (size_t)(site->n * site->d));
    if (!w)
        return NULL;
    int64_t off = 0;
    for (uint32_t j = 0; j < site->num_linears; j++) {
        const fa_value *wv = site->linears[j]->operands[1];
        int64_t nj = wv->type.dims[0].value;
        memcpy(w + off * site->d, wv->tensor->data, sizeof *w * (size_t)(nj * site->d));
        off += nj;
    }
    return w;
}

static fa_status add_const(fa_graph *g, const char *base, const char *suffix, fa_dtype dt, int rank,
                           const int64_t *dims, const void *data, fa_value **out) {
    fa_type t = fa_type_make(dt, rank, dims);
    uint64_t nbytes;
    FA_TRY(fa_type_num_bytes(&t, &nbytes));
    char *name = fa_rewrite_fresh_name(g, base, suffix);
    if (!name)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory naming @%s", base);
    fa_status s = fa_graph_add_const(g, name, &t, data, nbytes, out);
    free(name);
    return s;
}

/* Packs |n| * |d| codes into the IR's i4 layout (element i in byte i / 2, low nibble first) or
 * copies them as i8. Returns a malloc'ed buffer. */
static void *pack_codes(const int8_t *codes, int64_t n, int64_t d, int bits) {
    uint64_t count = (uint64_t)(n * d);
    if (bits == 8) {
        void *b = malloc(count ? count : 1);
        if (b)
            memcpy(b, codes, count);
        return b;
    }
    uint8_t *b = calloc((size_t)((count + 1) / 2 + 1), 1);
    if (b)
        for (uint64_t i = 0; i < count; i++)
            fa_rt_store_i64(FA_DT_I4, b, i, codes[i]);
    return b;
}

/* x's type with dtype |dt| and, if |last_one|, a last dim of 1. */
static fa_type derived_type(const fa_type *x, fa_dtype dt, bool last_one) {
    fa_type t = *x;
    t.dtype = dt;
    if (last_one && t.rank > 0)
        t.dims[t.rank - 1] = (fa_dim){.value = 1};
    return t;
}

typedef struct lower_ctx {
    fa_graph *g;
    const fa_quant_options *opt;
    fa_value *global_tt; /* token types from a named tensor, made once */
} lower_ctx;

/* The token-type value for |site|, creating the token_type node if needed; NULL if the site is
 * not token-aligned or there is no rule. */
static fa_status token_types_for(lower_ctx *lc, fa_quant_site *site, fa_value **out) {
    *out = NULL;
    const fa_rt_token_rule *rule = lc->opt->rule;
    if (!rule || !site->aligned)
        return FA_OK;
    char text[FA_RT_TOKEN_RULE_NAME_MAX + 64];
    fa_rt_token_rule_format(rule, text, sizeof text);
    if (rule->kind == FA_RT_TOKEN_RULE_POSITION) {
        fa_type t = derived_type(&site->x->type, FA_DT_U8, false);
        t.rank = 2;
        fa_node *n = fa_graph_create_node(lc->g, site->linears[0], FA_OP_TOKEN_TYPE, &site->x, 1,
                                          &t, 1);
        fa_node_set_attr_string(lc->g, n, "rule", text);
        *out = n->results[0];
        return FA_OK;
    }
    if (!lc->global_tt) {
        fa_value *src = fa_graph_find_value(lc->g, fa_rt_token_rule_source(rule));
        if (!src || src->kind != FA_VALUE_INPUT)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "token-type rule '%s': the graph has no input '%s'", text,
                                  fa_rt_token_rule_source(rule));
        fa_type t = derived_type(&src->type, FA_DT_U8, false);
        fa_node *n = fa_graph_create_node(lc->g, fa_graph_first_node(lc->g), FA_OP_TOKEN_TYPE,
                                          &src, 1, &t, 1);
        fa_node_set_attr_string(lc->g, n, "rule", text);
        fa_value_set_name(lc->g, n->results[0], "token_type");
        lc->global_tt = n->results[0];
    }
    *out = lc->global_tt;
    return FA_OK;
}

/* Rewrites |site|'s linears with the solver's result |r| and records the site's numbers on the
 * routed_transform node. */
static fa_status lower_site(lower_ctx *lc, fa_quant_site *site, const fa_qsite_result *r,
                            const fa_quant_site_report *rep) {
    fa_graph *g = lc->g;
    const fa_qconfig *cfg = &lc->opt->cfg;
    /* The site's scale groups: --group, or per channel where it does not divide d. */
    int group = r->groups > 1 ? (int)(site->d / r->groups) : 0;
    unsigned k = r->num_types;
    fa_node *at = site->linears[0];
    /* The activation as the graph has it now: an earlier site may have replaced its producer. */
    site->x = at->operands[0];
    fa_value *tt;
    FA_TRY(token_types_for(lc, site, &tt));

    fa_value *a;
    int64_t adims[3] = {k, site->d, site->d};
    FA_TRY(add_const(g, site->name, "a", FA_DT_F32, 3, adims, r->a, &a));
    fa_value *ops[5] = {site->x, tt, a, NULL, NULL};
    fa_node *rt = fa_graph_create_node(g, at, FA_OP_ROUTED_TRANSFORM, ops, 3, &site->x->type, 1);
    const char *kinds[FA_QSITE_TYPES_MAX];
    double equiv[FA_QSITE_TYPES_MAX], qerr[FA_QSITE_TYPES_MAX];
    int64_t tokens[FA_QSITE_TYPES_MAX];
    for (unsigned i = 0; i < k; i++) {
        kinds[i] = r->kinds[i];
        equiv[i] = rep->equiv[i];
        qerr[i] = rep->qerr[i];
        tokens[i] = rep->tokens[i];
    }
    fa_node_set_attr_strings(g, rt, "kinds", kinds, k);
    fa_node_set_attr_string(g, rt, "site", site->name);
    fa_node_set_attr_string(g, rt, "method", fa_qmethod_name(lc->opt->method));
    fa_node_set_attr_floats(g, rt, "equiv_error", equiv, k);
    fa_node_set_attr_floats(g, rt, "quant_error", qerr, k);
    fa_node_set_attr_ints(g, rt, "tokens", tokens, k);
    if (r->exclusive)
        fa_node_set_attr_int(g, rt, "exclusive", r->exclusive);
    fa_value *z = rt->results[0];

    fa_value *codes = NULL, *scales = NULL;
    if (cfg->a_bits < 16) {
        fa_value *clip;
        int64_t cdims[1] = {k};
        FA_TRY(add_const(g, site->name, "clip", FA_DT_F32, 1, cdims, r->act_clip, &clip));
        fa_value *qops[3] = {z, tt, clip};
        fa_type qt[2] = {derived_type(&site->x->type, FA_DT_I8, false),
                         derived_type(&site->x->type, FA_DT_F32, true)};
        fa_node *q = fa_graph_create_node(g, at, FA_OP_QUANTIZE, qops, 3, qt, 2);
        fa_node_set_attr_int(g, q, "bits", cfg->a_bits);
        codes = q->results[0];
        scales = q->results[1];
    }

    int64_t row0 = 0;
    for (uint32_t j = 0; j < site->num_linears; j++) {
        fa_node *lin = site->linears[j];
        fa_value *w = lin->operands[1];
        fa_value *bias = lin->num_operands > 2 ? lin->operands[2] : NULL;
        int64_t nj = w->type.dims[0].value;
        void *packed = pack_codes(r->wq + row0 * site->d, nj, site->d, cfg->w_bits);
        if (!packed)
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "site %s: out of memory", site->name);
        fa_value *wq, *ws;
        int64_t wdims[2] = {nj, site->d}, sdims[2] = {nj, r->groups};
        fa_status s = add_const(g, w->name, "q", cfg->w_bits == 4 ? FA_DT_I4 : FA_DT_I8, 2, wdims,
                                packed, &wq);
        free(packed);
        FA_TRY(s);
        FA_TRY(add_const(g, w->name, "s", FA_DT_F32, 2, sdims, r->w_scale + row0 * r->groups,
                         &ws));
        fa_node *nn;
        if (cfg->a_bits < 16) {
            fa_value *lops[5] = {codes, scales, wq, ws, bias};
            nn = fa_graph_create_node(g, lin, FA_OP_QLINEAR, lops, bias ? 5 : 4,
                                      &lin->results[0]->type, 1);
            fa_node_set_attr_string(g, nn, "site", site->name);
        } else {
            fa_value *dops[2] = {wq, ws};
            fa_type wt = w->type;
            fa_node *dq = fa_graph_create_node(g, lin, FA_OP_DEQUANTIZE, dops, 2, &wt, 1);
            if (group)
                fa_node_set_attr_int(g, dq, "group", group);
            fa_value *lops[3] = {z, dq->results[0], bias};
            nn = fa_graph_create_node(g, lin, FA_OP_LINEAR, lops, bias ? 3 : 2,
                                      &lin->results[0]->type, 1);
        }
        if (group && cfg->a_bits < 16)
            fa_node_set_attr_int(g, nn, "group", group);
        if (lin->name)
            fa_node_set_name(g, nn, lin->name);
        const char *name = lin->results[0]->name;
        fa_value_replace_uses(g, lin->results[0], nn->results[0]);
        for (uint32_t o = 0; o < fa_graph_num_outputs(g); o++)
            if (fa_graph_output(g, o)->value == lin->results[0])
                fa_graph_set_output_value(g, o, nn->results[0]);
        fa_graph_erase_node(g, lin);
        if (name)
            fa_value_set_name(g, nn->results[0], name);
        if (!fa_value_has_uses(w) && !fa_value_is_output(g, w))
            fa_graph_erase_const(g, w);
        row0 += nj;
    }
    return FA_OK;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Solves and lowers one site; fills |rep|. */
static fa_status quantize_site(lower_ctx *lc, fa_quant_site *site, unsigned num_types,
                               fa_quant_site_report *rep) {
    const fa_quant_options *opt = lc->opt;
    double t0 = now_seconds();
    unsigned k = site->aligned && opt->rule ? num_types : 1;
    memset(rep, 0, sizeof *rep);
    snprintf(rep->name, sizeof rep->name, "%s", site->name);
    rep->d = site->d;
    rep->n = site->n;
    rep->num_types = k;
    rep->aligned = site->aligned && opt->rule;

    bool have_held = false;
    for (int64_t r = 0; r < site->rows && !have_held; r++)
        have_held = site->cseq[r] % 4 == 3;
    bool have_fit = false;
    for (int64_t r = 0; r < site->rows && !have_fit; r++)
        have_fit = site->cseq[r] % 4 != 3;
    float *fx = NULL, *hx = NULL, *w = NULL;
    uint8_t *ft = NULL, *ht = NULL;
    int64_t frows = 0, hrows = 0;
    fa_qsite_result res;
    memset(&res, 0, sizeof res);
    bool solved = false;
    fa_status s = gather_rows(site, false, !have_fit || !have_held, &fx, &ft, &frows);
    if (!s)
        s = gather_rows(site, true, !have_fit || !have_held, &hx, &ht, &hrows);
    if (!s && !(w = stack_weights(site)))
        s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "site %s: out of memory", site->name);
    if (!s) {
        fa_qsite_data data = {site->name, site->d, frows, fx, ft, k, site->n, w};
        fa_qconfig cfg = opt->cfg;
        if (cfg.group && site->d % cfg.group) /* groups must tile K: per channel here */
            cfg.group = 0;
        s = fa_qsite_solve(&data, opt->method, &cfg, &res);
        solved = !s;
    }
    if (!s) {
        fa_qsite_data held = {site->name, site->d, hrows, hx, ht, k, site->n, w};
        s = fa_qsite_evaluate(&held, &res, opt->cfg.a_bits, rep->equiv, rep->qerr, rep->tokens);
    }
    if (!s) {
        for (unsigned i = 0; i < k; i++) {
            memcpy(rep->kinds[i], res.kinds[i], sizeof rep->kinds[i]);
            rep->act_clip[i] = res.act_clip[i];
        }
        rep->exclusive = res.exclusive;
        rep->seconds = now_seconds() - t0;
        s = lower_site(lc, site, &res, rep);
    }
    if (solved)
        fa_qsite_result_deinit(&res);
    free(fx);
    free(ft);
    free(hx);
    free(ht);
    free(w);
    return s;
}

fa_status fa_quantize_sites(fa_graph *g, fa_quant_sites *sites, const fa_quant_calib *calib,
                            const fa_quant_options *opt, fa_quant_site_report **reports,
                            double *calib_seconds) {
    *reports = NULL;
    *calib_seconds = 0;
    fa_quant_site_report *reps = calloc(sites->count ? sites->count : 1, sizeof *reps);
    if (!reps)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    lower_ctx lc = {g, opt, NULL};
    bool tty = opt->progress && isatty(STDERR_FILENO);
    fa_status s = FA_OK;
    if (!opt->sequential) {
        double t0 = now_seconds();
        s = fa_quant_calibrate(g, sites, calib, opt->rule, opt->batch, opt->max_rows, -1,
                               opt->progress);
        *calib_seconds += now_seconds() - t0;
    }
    for (uint32_t i = 0; i < sites->count && !s; i++) {
        fa_quant_site *site = &sites->v[i];
        if (opt->sequential) {
            double t0 = now_seconds();
            s = fa_quant_calibrate(g, sites, calib, opt->rule, opt->batch, opt->max_rows,
                                   (int32_t)i, false);
            *calib_seconds += now_seconds() - t0;
            if (s)
                break;
        }
        if (opt->progress)
            fprintf(stderr, tty ? "\r\033[K%s: site %u/%u %s" : "%s: site %u/%u %s\n",
                    fa_qmethod_name(opt->method), i + 1, sites->count, site->name);
        s = quantize_site(&lc, site, sites->num_types, &reps[i]);
        if (opt->sequential) { /* the rows are not needed any more */
            free(site->cx), free(site->ctype), free(site->cseq);
            site->cx = NULL, site->ctype = NULL, site->cseq = NULL;
            site->rows = site->cap = 0;
        }
    }
    if (tty)
        fputc('\n', stderr);
    if (s) {
        free(reps);
        return s;
    }
    *reports = reps;
    return FA_OK;
}
