/* Linear-site discovery, token-type analysis and calibration (quantize.h): which linears share
 * an input, whether that input is token-aligned for the token-type rule, and the activation rows
 * each site sees when the float graph runs on calibration data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passes/quantize.h"
#include "runtime/interp.h"

static bool is_weight(const fa_value *w) {
    return w && w->kind == FA_VALUE_CONST && !w->dead && w->type.dtype == FA_DT_F32 &&
           w->type.rank == 2 && fa_type_is_static(&w->type);
}

/* "layers.0.self_attn.q_proj" from the node name "/layers.0/self_attn/q_proj/MatMul": no leading
 * '/', the last component dropped when it is the op's name, '/' -> '.'. */
static void site_name_from(const fa_node *n, uint32_t index, char *buf, size_t size) {
    if (!n->name || !*n->name) {
        snprintf(buf, size, "site%u", index);
        return;
    }
    const char *s = n->name;
    while (*s == '/')
        s++;
    size_t len = strlen(s);
    const char *last = strrchr(s, '/');
    if (last && (strcmp(last, "/MatMul") == 0 || strcmp(last, "/Gemm") == 0))
        len = (size_t)(last - s);
    if (len >= size)
        len = size - 1;
    for (size_t i = 0; i < len; i++)
        buf[i] = s[i] == '/' ? '.' : s[i];
    buf[len] = '\0';
}

fa_status fa_quant_sites_compute(fa_graph *g, bool with_head, fa_quant_sites *out) {
    memset(out, 0, sizeof *out);
    uint32_t cap = 0;
    fa_status s = FA_OK;
    for (fa_node *n = fa_graph_first_node(g); n && !s; n = n->next) {
        if (n->op != FA_OP_LINEAR || !is_weight(n->operands[1]))
            continue;
        fa_value *x = n->operands[0];
        if (x->type.dtype != FA_DT_F32 ||
            (!with_head && fa_value_is_output(g, n->results[0])))
            continue;
        fa_quant_site *site = NULL;
        for (uint32_t i = 0; i < out->count; i++)
            if (out->v[i].x == x)
                site = &out->v[i];
        if (!site) {
            if (out->count == cap) {
                uint32_t ncap = cap ? 2 * cap : 32;
                fa_quant_site *nv = realloc(out->v, sizeof *nv * ncap);
                if (!nv) {
                    s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory finding sites");
                    break;
                }
                out->v = nv;
                cap = ncap;
            }
            site = &out->v[out->count];
            memset(site, 0, sizeof *site);
            site_name_from(n, out->count, site->name, sizeof site->name);
            site->x = x;
            site->d = n->operands[1]->type.dims[1].value;
            site->aligned = true;
            site->reason = "";
            out->count++;
        }
        fa_node **nl = realloc(site->linears, sizeof *nl * (site->num_linears + 1));
        if (!nl) {
            s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory finding sites");
            break;
        }
        site->linears = nl;
        site->linears[site->num_linears++] = n;
        site->n += n->operands[1]->type.dims[0].value;
    }
    if (!s && out->count == 0)
        s = fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                           "graph @%s has no linear layer to quantize (MatMul or Gemm by a "
                           "constant f32 weight%s)",
                           fa_graph_name(g), with_head ? "" : ", other than one producing an output");
    for (uint32_t i = 0; i < out->count && !s; i++) {
        fa_quant_site *site = &out->v[i];
        if (site->num_linears > 1) {
            size_t len = strlen(site->name);
            snprintf(site->name + len, sizeof site->name - len, "+%u", site->num_linears - 1);
        }
    }
    if (s)
        fa_quant_sites_deinit(out);
    return s;
}

void fa_quant_sites_deinit(fa_quant_sites *s) {
    for (uint32_t i = 0; i < s->count; i++) {
        free(s->v[i].linears);
        free(s->v[i].cx);
        free(s->v[i].ctype);
        free(s->v[i].cseq);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- calibration ------------------------------------------------------------------------------ */

typedef struct calib_state {
    fa_quant_sites *sites;
    const fa_rt_token_rule *rule;
    const fa_rt_tensor *source; /* this batch's rows of the rule's tensor, or NULL */
    int64_t sample0, samples;   /* this batch: first sample index, number of samples */
    int64_t max_rows;
    int32_t only;               /* the one site to record, or -1 for all */
    bool done;                  /* |only| recorded in this run: stop it */
    uint8_t *types;             /* scratch, [rows] */
    int64_t types_cap;
} calib_state;

/* What observe returns to stop a run early once the wanted site is recorded; never reported. */
#define STOP_MESSAGE "calibration: site recorded"

static void site_unalign(fa_quant_site *site, const char *why) {
    if (!site->aligned)
        return;
    site->aligned = false;
    site->reason = why;
    memset(site->ctype, 0, (size_t)site->rows);
}

static fa_status record(calib_state *st, fa_quant_site *site, const fa_rt_tensor *x) {
    if (x->dtype != FA_DT_F32 || x->rank < 1 || x->dims[x->rank - 1] != site->d)
        return fa_status_make(FA_STATUS_INTERNAL, "site %s: activation is not f32 [..., %lld]",
                              site->name, (long long)site->d);
    int64_t rows = 1;
    for (int i = 0; i < x->rank - 1; i++)
        rows *= x->dims[i];
    if (rows == 0 || site->rows >= st->max_rows)
        return FA_OK;
    if (site->aligned) {
        int64_t b = x->rank == 3 ? x->dims[0] : -1, t = x->rank == 3 ? x->dims[1] : -1;
        if (x->rank != 3)
            site_unalign(site, "activation is not [B, T, d]");
        else if (b != st->samples)
            site_unalign(site, "activation's first axis is not the batch");
        else if (st->source && (st->source->dims[0] != b || st->source->dims[1] != t))
            site_unalign(site, "activation's [B, T] differs from the token-type tensor's");
    }
    if (rows > st->types_cap) {
        uint8_t *nt = realloc(st->types, (size_t)rows);
        if (!nt)
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory in calibration");
        st->types = nt;
        st->types_cap = rows;
    }
    memset(st->types, 0, (size_t)rows);
    if (site->aligned && st->rule)
        FA_TRY(fa_rt_token_rule_eval(st->rule, st->source, x->dims[0], x->dims[1], st->types));
    int64_t take = rows < st->max_rows - site->rows ? rows : st->max_rows - site->rows;
    if (site->rows + take > site->cap) {
        int64_t ncap = site->cap ? site->cap : 4096;
        while (ncap < site->rows + take)
            ncap *= 2;
        if (ncap > st->max_rows)
            ncap = st->max_rows;
        float *nx = realloc(site->cx, sizeof *nx * (size_t)(ncap * site->d));
        if (nx)
            site->cx = nx;
        uint8_t *nt = realloc(site->ctype, (size_t)ncap);
        if (nt)
            site->ctype = nt;
        int32_t *ns = realloc(site->cseq, sizeof *ns * (size_t)ncap);
        if (ns)
            site->cseq = ns;
        if (!nx || !nt || !ns)
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY,
                                  "out of memory keeping calibration rows of site %s", site->name);
        site->cap = ncap;
    }
    memcpy(site->cx + site->rows * site->d, x->data, sizeof(float) * (size_t)(take * site->d));
    memcpy(site->ctype + site->rows, st->types, (size_t)take);
    int64_t per_sample = rows / st->samples > 0 ? rows / st->samples : 1;
    for (int64_t r = 0; r < take; r++)
        site->cseq[site->rows + r] = (int32_t)(st->sample0 + r / per_sample);
    site->rows += take;
    return FA_OK;
}

static fa_status observe(const fa_node *n, const fa_rt_tensor *const *operands, void *user) {
    calib_state *st = user;
    if (n->op != FA_OP_LINEAR)
        return FA_OK;
    for (uint32_t i = 0; i < st->sites->count; i++) {
        fa_quant_site *site = &st->sites->v[i];
        if (site->linears[0] != n || (st->only >= 0 && (uint32_t)st->only != i))
            continue;
        FA_TRY(record(st, site, operands[0]));
        if (st->only >= 0) {
            st->done = true;
            return fa_status_make(FA_STATUS_INTERNAL, STOP_MESSAGE);
        }
        return FA_OK;
    }
    return FA_OK;
}

fa_status fa_quant_calibrate(const fa_graph *g, fa_quant_sites *sites, const fa_quant_calib *c,
                             const fa_rt_token_rule *rule, int64_t batch, int64_t max_rows,
                             int32_t only, bool progress) {
    calib_state st = {sites, rule, NULL, 0, 0, max_rows, only, false, NULL, 0};
    for (uint32_t i = 0; i < sites->count; i++)
        if (only < 0 || (uint32_t)only == i) {
            sites->v[i].rows = 0;
            sites->v[i].aligned = true;
            sites->v[i].reason = "";
        }
    uint32_t nin = c->num_inputs;
    fa_rt_tensor *views = calloc(nin ? nin : 1, sizeof *views);
    uint32_t nout = fa_graph_num_outputs(g);
    fa_rt_tensor *outs = calloc(nout ? nout : 1, sizeof *outs);
    if (!views || !outs) {
        free(views);
        free(outs);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory in calibration");
    }
    bool tty = progress && isatty(STDERR_FILENO);
    fa_status s = FA_OK;
    for (int64_t s0 = 0; s0 < c->samples && !s; s0 += batch) {
        int64_t nb = c->samples - s0 < batch ? c->samples - s0 : batch;
        for (uint32_t i = 0; i < nin; i++) {
            views[i] = c->inputs[i];
            if (views[i].rank > 0) {
                size_t row_bytes =
                    (size_t)(c->inputs[i].nbytes / (uint64_t)c->inputs[i].dims[0]);
                views[i].dims[0] = nb;
                views[i].data = (char *)c->inputs[i].data + row_bytes * (size_t)s0;
                views[i].nbytes = row_bytes * (uint64_t)nb;
            }
        }
        fa_rt_tensor src;
        if (c->source) {
            src = *c->source;
            size_t row_bytes = (size_t)(c->source->nbytes / (uint64_t)c->source->dims[0]);
            src.dims[0] = nb;
            src.data = (char *)c->source->data + row_bytes * (size_t)s0;
            src.nbytes = row_bytes * (uint64_t)nb;
            st.source = &src;
        }
        st.sample0 = s0;
        st.samples = nb;
        st.done = false;
        s = fa_rt_interp_run_observed(g, views, nin, outs, fa_rt_allocator_default(), observe,
                                      &st);
        if (!s)
            fa_rt_tensors_free(outs, nout, fa_rt_allocator_default());
        else if (st.done) { /* stopped on purpose after the wanted site */
            fa_status_free(s);
            s = FA_OK;
        }
        if (progress)
            fprintf(stderr, tty ? "\rcalibration: %lld/%lld samples" : "calibration: %lld/%lld samples\n",
                    (long long)(s0 + nb), (long long)c->samples);
    }
    if (tty)
        fputc('\n', stderr);
    free(views);
    free(outs);
    free(st.types);
    if (s)
        return fa_status_prefix(s, "calibration");
    /* K: the rule's; for input:NAME rules, the types present in the source tensor. */
    unsigned k = rule ? fa_rt_token_rule_num_types(rule) : 1;
    if (rule && rule->kind == FA_RT_TOKEN_RULE_INPUT && c->source) {
        k = 1;
        uint64_t n = c->source->nbytes / (fa_dtype_bits(c->source->dtype) / 8);
        for (uint64_t i = 0; i < n; i++) {
            int64_t v = fa_rt_load_i64(c->source->dtype, c->source->data, i);
            if (v >= 0 && v < FA_RT_TOKEN_TYPES_MAX && (unsigned)v + 1 > k)
                k = (unsigned)v + 1;
        }
    }
    sites->num_types = k;
    for (uint32_t i = 0; i < sites->count; i++)
        if ((only < 0 || (uint32_t)only == i) && sites->v[i].rows == 0)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "calibration: site %s saw no activation rows", sites->v[i].name);
    return FA_OK;
}
