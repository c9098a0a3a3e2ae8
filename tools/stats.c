/* Activation statistics for freeact stats. Design note: nothing keeps activations. Per site and
 * per type (slot 0 = all types, slot 1+k = type k) we keep the token count, the raw moments
 * sum x, x^2, x^3, x^4 (kurtosis comes from them), max|x|, the sum of per-token max/RMS, and the
 * energy sum x^2 of every channel, all in double, updated row by row in an interpreter observer
 * that fires on each site's first consumer. */
#include "tools/stats.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/interp.h"

#define NUM_SLOTS (1 + FA_RT_TOKEN_TYPES_MAX)

typedef struct acc {
    uint64_t tokens, ratio_tokens;
    double s1, s2, s3, s4, max_abs, ratio_sum;
    double *energy; /* d channels */
} acc;

typedef struct site {
    fa_tool_stats_site info;
    const fa_value *x;
    const fa_node **consumers;
    uint32_t cap;
    char *name;
    char reason[256];
    acc slots[NUM_SLOTS];
    double *energy_mem;
} site;

struct fa_tool_stats {
    const fa_graph *g;
    fa_rt_token_rule rule;
    unsigned nslots; /* 1 + the rule's number of types */
    site *sites;
    uint32_t nsites, cap;
    unsigned types_seen; /* 1 + the largest type met */
    uint8_t *types;
    size_t types_cap;
    double *row;
    size_t row_cap;
    /* the batch being run */
    const fa_rt_tensor *source;
    int64_t rows;
};

static fa_status oom(void) { return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory"); }

/* The channel count a site's consumer |n| implies, or 0 if |n| is not a linear layer. */
static int64_t linear_input_dim(const fa_node *n) {
    if (n->num_operands < 2 || !n->operands[0] || !n->operands[1])
        return 0;
    const fa_value *x = n->operands[0], *w = n->operands[1];
    if (x->kind == FA_VALUE_CONST || w->kind != FA_VALUE_CONST || w->tensor->type.rank != 2)
        return 0;
    const fa_type *wt = &w->tensor->type;
    if (n->op == FA_OP_MAT_MUL)
        return wt->dims[0].value;
    if (n->op == FA_OP_GEMM && fa_node_attr_int(n, "transA", 0) == 0)
        return wt->dims[fa_node_attr_int(n, "transB", 0) ? 1 : 0].value;
    return 0;
}

static fa_status site_add_consumer(site *s, const fa_node *n) {
    if (s->info.num_consumers == s->cap) {
        uint32_t cap = s->cap ? 2 * s->cap : 4;
        const fa_node **c = realloc(s->consumers, cap * sizeof *c);
        if (!c)
            return oom();
        s->consumers = c;
        s->cap = cap;
    }
    s->consumers[s->info.num_consumers++] = n;
    s->info.consumers = s->consumers;
    return FA_OK;
}

static fa_status site_create(fa_tool_stats *st, const fa_node *n, int64_t d) {
    if (st->nsites == st->cap) {
        uint32_t cap = st->cap ? 2 * st->cap : 16;
        site *ns = realloc(st->sites, cap * sizeof *ns);
        if (!ns)
            return oom();
        st->sites = ns;
        st->cap = cap;
    }
    site *s = &st->sites[st->nsites++];
    memset(s, 0, sizeof *s);
    s->x = n->operands[0];
    s->info.d = d;
    s->info.aligned = true;
    s->info.reason = s->reason;
    if (d <= 0 || (uint64_t)d > SIZE_MAX / sizeof(double) / NUM_SLOTS)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "weight of %lld input channels",
                              (long long)d);
    s->energy_mem = calloc((size_t)d * st->nslots, sizeof(double));
    if (!s->energy_mem)
        return oom();
    for (unsigned k = 0; k < st->nslots; k++)
        s->slots[k].energy = s->energy_mem + (size_t)d * k;
    return site_add_consumer(s, n);
}

/* Names every site after its consumers (done once all are known). */
static fa_status name_sites(fa_tool_stats *st) {
    for (uint32_t i = 0; i < st->nsites; i++) {
        site *s = &st->sites[i];
        const char *first = s->consumers[0]->name;
        char buf[64];
        if (!first) {
            snprintf(buf, sizeof buf, "site#%u", i);
            first = buf;
        }
        size_t len = strlen(first) + 16;
        s->name = malloc(len);
        if (!s->name)
            return oom();
        if (s->info.num_consumers > 1)
            snprintf(s->name, len, "%s+%u", first, s->info.num_consumers - 1);
        else
            snprintf(s->name, len, "%s", first);
        s->info.name = s->name;
    }
    return FA_OK;
}

fa_status fa_tool_stats_create(const fa_graph *g, const fa_rt_token_rule *rule,
                               fa_tool_stats **out) {
    *out = NULL;
    fa_tool_stats *st = calloc(1, sizeof *st);
    if (!st)
        return oom();
    st->g = g;
    st->rule = *rule;
    st->nslots = 1 + fa_rt_token_rule_num_types(rule);
    st->types_seen = rule->kind == FA_RT_TOKEN_RULE_INPUT ? 0 : 2;
    fa_status s = FA_OK;
    for (const fa_node *n = fa_graph_first_node(g); n && !s; n = n->next) {
        int64_t d = n->dead ? 0 : linear_input_dim(n);
        if (!d)
            continue;
        uint32_t i = 0;
        while (i < st->nsites && st->sites[i].x != n->operands[0])
            i++;
        s = i < st->nsites ? site_add_consumer(&st->sites[i], n) : site_create(st, n, d);
        if (s) {
            char where[256];
            s = fa_status_prefix(s, "%s", fa_node_describe(n, where, sizeof where));
        }
    }
    if (!s)
        s = name_sites(st);
    if (s)
        fa_tool_stats_destroy(st);
    else
        *out = st;
    return s;
}

void fa_tool_stats_destroy(fa_tool_stats *st) {
    if (!st)
        return;
    for (uint32_t i = 0; i < st->nsites; i++) {
        free(st->sites[i].consumers);
        free(st->sites[i].name);
        free(st->sites[i].energy_mem);
    }
    free(st->sites);
    free(st->types);
    free(st->row);
    free(st);
}

static void site_skip(site *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Marks |s| not token-aligned for good, keeping the first reason. */
static void site_skip(site *s, const char *fmt, ...) {
    if (!s->info.aligned)
        return;
    s->info.aligned = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->reason, sizeof s->reason, fmt, ap);
    va_end(ap);
}

static fa_status grow(void **p, size_t *cap, size_t n, size_t elem) {
    if (n <= *cap)
        return FA_OK;
    if (n > SIZE_MAX / elem)
        return oom();
    void *q = realloc(*p, n * elem);
    if (!q)
        return oom();
    *p = q;
    *cap = n;
    return FA_OK;
}

/* Splits the activation |x| of |s| into a [B,T] grid of token rows; false (and |s| skipped) if
 * it does not line up with the token types of this batch. */
static bool token_grid(fa_tool_stats *st, site *s, const fa_rt_tensor *x, int64_t *out_b,
                       int64_t *out_t) {
    char dx[128];
    fa_rt_tensor_describe(x, dx, sizeof dx);
    if (!fa_dtype_is_float(x->dtype)) {
        site_skip(s, "activation %s is not float", dx);
        return false;
    }
    int64_t d = s->info.d;
    if (!((x->rank == 3 && x->dims[2] == d) || (x->rank == 2 && x->dims[1] == d))) {
        site_skip(s, "not token-aligned: activation %s is neither [B,T,%lld] nor [N,%lld]", dx,
                  (long long)d, (long long)d);
        return false;
    }
    const fa_rt_tensor *src = st->source;
    int64_t b, t;
    if (src) {
        b = src->rank == 2 ? src->dims[0] : -1;
        t = src->rank == 2 ? src->dims[1] : -1;
    } else {
        b = st->rows;
        t = x->rank == 3 ? x->dims[1] : (b > 0 && x->dims[0] % b == 0 ? x->dims[0] / b : -1);
    }
    bool ok = b >= 0 && t >= 0 &&
              (x->rank == 3 ? x->dims[0] == b && x->dims[1] == t : x->dims[0] == b * t);
    if (!ok) {
        if (src)
            site_skip(s, "not token-aligned: activation %s, token types [%lld,%lld]", dx,
                      (long long)b, (long long)t);
        else
            site_skip(s, "not token-aligned: activation %s, %lld rows in the batch", dx,
                      (long long)st->rows);
        return false;
    }
    *out_b = b;
    *out_t = t;
    return true;
}

static void acc_add_row(acc *a, const double *row, int64_t d, const double m[4], double max_abs,
                        double ratio) {
    a->tokens++;
    a->s1 += m[0];
    a->s2 += m[1];
    a->s3 += m[2];
    a->s4 += m[3];
    if (max_abs > a->max_abs)
        a->max_abs = max_abs;
    if (ratio >= 0) {
        a->ratio_sum += ratio;
        a->ratio_tokens++;
    }
    for (int64_t c = 0; c < d; c++)
        a->energy[c] += row[c] * row[c];
}

static fa_status site_observe(fa_tool_stats *st, site *s, const fa_rt_tensor *x) {
    int64_t b, t, d = s->info.d;
    if (!s->info.aligned || !token_grid(st, s, x, &b, &t))
        return FA_OK;
    size_t ntok = (size_t)b * (size_t)t;
    FA_TRY(grow((void **)&st->types, &st->types_cap, ntok ? ntok : 1, 1));
    FA_TRY(grow((void **)&st->row, &st->row_cap, (size_t)d, sizeof(double)));
    FA_TRY(fa_rt_token_rule_eval(&st->rule, st->source, b, t, st->types));
    for (size_t r = 0; r < ntok; r++) {
        double *row = st->row, m[4] = {0, 0, 0, 0}, max_abs = 0;
        for (int64_t c = 0; c < d; c++) {
            uint64_t i = (uint64_t)r * (uint64_t)d + (uint64_t)c;
            double v = x->dtype == FA_DT_F32 ? ((const float *)x->data)[i]
                                             : fa_rt_load_f64(x->dtype, x->data, i);
            double v2 = v * v;
            row[c] = v;
            m[0] += v;
            m[1] += v2;
            m[2] += v2 * v;
            m[3] += v2 * v2;
            if (fabs(v) > max_abs)
                max_abs = fabs(v);
        }
        double rms = sqrt(m[1] / (double)d);
        double ratio = rms > 0 ? max_abs / rms : -1;
        unsigned k = st->types[r];
        if (k + 1 > st->types_seen)
            st->types_seen = k + 1;
        acc_add_row(&s->slots[0], row, d, m, max_abs, ratio);
        acc_add_row(&s->slots[1 + k], row, d, m, max_abs, ratio);
    }
    return FA_OK;
}

static fa_status observe(const fa_node *n, const fa_rt_tensor *const *operands, void *user) {
    fa_tool_stats *st = user;
    if (n->op != FA_OP_MAT_MUL && n->op != FA_OP_GEMM)
        return FA_OK;
    for (uint32_t i = 0; i < st->nsites; i++)
        if (st->sites[i].consumers[0] == n)
            return fa_status_prefix(site_observe(st, &st->sites[i], operands[0]),
                                    "statistics of site '%s'", st->sites[i].name);
    return FA_OK;
}

fa_status fa_tool_stats_run(fa_tool_stats *st, const fa_rt_tensor *inputs, uint32_t num_inputs,
                            const fa_rt_tensor *source, int64_t rows, const fa_rt_allocator *al) {
    uint32_t nout = fa_graph_num_outputs(st->g);
    fa_rt_tensor *outs = calloc(nout + 1, sizeof *outs);
    if (!outs)
        return oom();
    st->source = source;
    st->rows = rows;
    fa_status s = fa_rt_interp_run_observed(st->g, inputs, num_inputs, outs, al, observe, st);
    if (!s)
        fa_rt_tensors_free(outs, nout, al);
    free(outs);
    st->source = NULL;
    return s;
}

uint32_t fa_tool_stats_num_sites(const fa_tool_stats *st) { return st->nsites; }

const fa_tool_stats_site *fa_tool_stats_site_info(const fa_tool_stats *st, uint32_t i) {
    FA_ASSERT(i < st->nsites);
    return &st->sites[i].info;
}

unsigned fa_tool_stats_num_types(const fa_tool_stats *st) {
    return st->types_seen ? st->types_seen : 1;
}

/* True if channel |a| ranks before channel |b|: more energy, ties to the lower index. */
static bool ranks_before(const double *e, int64_t a, int64_t b) {
    return e[a] > e[b] || (e[a] == e[b] && a < b);
}

void fa_tool_stats_summarize(const fa_tool_stats *st, uint32_t i, int type,
                             fa_tool_stats_summary *out) {
    FA_ASSERT(i < st->nsites && type < (int)st->nslots - 1);
    const site *s = &st->sites[i];
    const acc *a = &s->slots[type < 0 ? 0 : 1 + type];
    int64_t d = s->info.d;
    memset(out, 0, sizeof *out);
    out->tokens = a->tokens;
    out->top_k = d / 100 > 1 ? (uint32_t)(d / 100) : 1;
    double n = (double)a->tokens * (double)d;
    double m1 = a->s1 / n, m2 = a->s2 / n, m3 = a->s3 / n, m4 = a->s4 / n;
    double var = m2 - m1 * m1;
    double c4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1 * m1 * m1 * m1;
    out->max_over_rms = a->tokens && m2 > 0 ? a->max_abs / sqrt(m2) : NAN;
    out->mean_token_max_over_rms = a->ratio_tokens ? a->ratio_sum / (double)a->ratio_tokens : NAN;
    out->kurtosis = a->tokens && var > 0 ? c4 / (var * var) - 3 : NAN;

    /* walk the channels in rank order, without sorting: each step takes the best channel that
     * ranks after the previous one */
    const double *e = a->energy;
    double total = 0, top = 0;
    for (int64_t c = 0; c < d; c++)
        total += e[c];
    uint32_t want = out->top_k > 3 ? out->top_k : 3;
    int64_t prev = -1;
    for (uint32_t k = 0; k < want && total > 0; k++) {
        int64_t best = -1;
        for (int64_t c = 0; c < d; c++)
            if ((prev < 0 || ranks_before(e, prev, c)) && (best < 0 || ranks_before(e, c, best)))
                best = c;
        if (best < 0)
            break;
        if (k < out->top_k)
            top += e[best];
        if (k < 3)
            out->top_channels[out->num_top++] = best;
        prev = best;
    }
    out->top_energy_share = a->tokens && total > 0 ? top / total : NAN;
}
