/* The per-site solver (qsite.h): validates a site's data, builds the transforms of the static
 * methods (RTN, SmoothQuant, QuaRot) or calls the learned ones (learn.h), searches the clip
 * ratios, quantizes the transformed weights by RTN or GPTQ, and measures a solved site's errors.
 *
 * Memory stays bounded: transformed activations and outputs are formed in chunks of CHUNK rows,
 * and the activation clip search scores at most SEARCH_ROWS tokens of each type (evenly spaced). */
#include "passes/quant/qsite.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "passes/quant/learn.h"
#include "passes/quant/qmath.h"

#define CHUNK 256
#define SEARCH_ROWS 1024
#define ACT_CLIPS 7 /* 1.0, 0.95, ..., 0.7 */

static const char *const method_names[FA_QMETHOD_COUNT] = {
    "rtn", "smoothquant", "quarot", "flatquant", "freeact", "freeact-ns",
};

const char *fa_qmethod_name(fa_qmethod m) {
    return (unsigned)m < FA_QMETHOD_COUNT ? method_names[m] : "?";
}

bool fa_qmethod_parse(const char *name, fa_qmethod *out) {
    for (int m = 0; m < FA_QMETHOD_COUNT; m++)
        if (name && strcmp(name, method_names[m]) == 0) {
            *out = (fa_qmethod)m;
            return true;
        }
    return false;
}

void fa_qconfig_init(fa_qconfig *c, int w_bits, int a_bits) {
    memset(c, 0, sizeof *c);
    c->w_bits = w_bits;
    c->a_bits = a_bits;
    c->group = 0;
    c->gptq = false;
    c->seed = 1;
    c->sq_alpha = 0.5f;
}

void fa_qsite_result_deinit(fa_qsite_result *r) {
    free(r->a), free(r->m), free(r->wq), free(r->w_scale);
    memset(r, 0, sizeof *r);
}

static const char *site_name(const fa_qsite_data *data) { return data->name ? data->name : "site"; }

static bool all_finite(const float *v, int64_t count) {
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

/* a * b fits in int64 and, times |elem| bytes, in size_t (a, b > 0). */
static bool fits(int64_t a, int64_t b, size_t elem) {
    return a <= INT64_MAX / b && (uint64_t)(a * b) <= (uint64_t)(SIZE_MAX / elem);
}

static fa_status validate(const fa_qsite_data *data, const fa_qconfig *cfg) {
    const char *nm = site_name(data);
#define BAD(...) fa_status_prefix(fa_status_make(FA_STATUS_INVALID_ARGUMENT, __VA_ARGS__), "%s", nm)
    if (data->d <= 0 || data->n <= 0 || data->rows <= 0 || !data->x || !data->w)
        return BAD("empty site (d %lld, n %lld, rows %lld)", (long long)data->d, (long long)data->n,
                   (long long)data->rows);
    if (data->d > INT32_MAX / 4 || data->n > INT32_MAX || !fits(data->rows, data->d, 8) ||
        !fits(data->n, data->d, 8) || !fits(data->d * FA_QSITE_TYPES_MAX, data->d, 8))
        return BAD("site too large (d %lld, n %lld, rows %lld)", (long long)data->d,
                   (long long)data->n, (long long)data->rows);
    if (data->num_types < 1 || data->num_types > FA_QSITE_TYPES_MAX)
        return BAD("%u token types (1..%d supported)", data->num_types, FA_QSITE_TYPES_MAX);
    if (cfg->w_bits < 2 || cfg->w_bits > 8)
        return BAD("weight bits %d (2..8 supported)", cfg->w_bits);
    if (cfg->a_bits != 16 && (cfg->a_bits < 2 || cfg->a_bits > 8))
        return BAD("activation bits %d (2..8 or 16 supported)", cfg->a_bits);
    if (cfg->group < 0 || (cfg->group > 0 && data->d % cfg->group != 0))
        return BAD("weight group %d does not divide %lld channels", cfg->group, (long long)data->d);
    if (data->type)
        for (int64_t i = 0; i < data->rows; i++)
            if (data->type[i] >= data->num_types)
                return BAD("token %lld has type %u, but the site has %u types", (long long)i,
                           data->type[i], data->num_types);
    if (!all_finite(data->x, data->rows * data->d))
        return BAD("non-finite calibration activation");
    if (!all_finite(data->w, data->n * data->d))
        return BAD("non-finite weight");
    return FA_OK;
#undef BAD
}

static unsigned type_of(const fa_qsite_data *data, int64_t i) {
    return data->type ? data->type[i] : 0;
}

/* Indices of the tokens of type |k|, at most |cap| (evenly spaced) when cap > 0. Returns the
 * count; |idx| has room for data->rows. */
static int64_t type_rows(const fa_qsite_data *data, unsigned k, int64_t cap, int64_t *idx) {
    int64_t cnt = 0;
    for (int64_t i = 0; i < data->rows; i++)
        if (type_of(data, i) == k)
            idx[cnt++] = i;
    if (cap > 0 && cnt > cap) {
        for (int64_t j = 0; j < cap; j++)
            idx[j] = idx[(int64_t)((double)j * (double)cnt / (double)cap)];
        cnt = cap;
    }
    return cnt;
}

/* |xs| [cnt, d] := the rows |idx| of X; |xa| := xs A (A [d, d]). */
static void gather_transform(const fa_qsite_data *data, const int64_t *idx, int64_t cnt,
                             const float *a, float *xs, float *xa) {
    int64_t d = data->d;
    for (int64_t j = 0; j < cnt; j++)
        memcpy(xs + j * d, data->x + idx[j] * d, (size_t)d * sizeof *xs);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cnt, (int)d, (int)d, 1.0f, xs,
                (int)d, a, (int)d, 0.0f, xa, (int)d);
}

/* y [cnt, n] := x [cnt, d] wᵀ (w [n, d]). */
static void gemm_nt(const float *x, int64_t cnt, int64_t d, const float *w, int64_t n, float *y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cnt, (int)n, (int)d, 1.0f, x, (int)d,
                w, (int)d, 0.0f, y, (int)n);
}

static double sq_diff(const float *a, const float *b, int64_t count) {
    double s = 0.0;
    for (int64_t i = 0; i < count; i++) {
        double e = (double)a[i] - (double)b[i];
        s += e * e;
    }
    return s;
}

static double sq_norm(const float *a, int64_t count) {
    double s = 0.0;
    for (int64_t i = 0; i < count; i++)
        s += (double)a[i] * (double)a[i];
    return s;
}

/* Scratch for chunked products: rows of X, X A, its quantized copy, two outputs. */
typedef struct scratch {
    float *xs, *xa, *q, *y, *yref;
    int64_t *idx;
} scratch;

static void scratch_free(scratch *s) {
    free(s->xs), free(s->xa), free(s->q), free(s->y), free(s->yref), free(s->idx);
    memset(s, 0, sizeof *s);
}

static bool scratch_alloc(scratch *s, int64_t rows, int64_t d, int64_t n) {
    memset(s, 0, sizeof *s);
    s->xs = malloc((size_t)(CHUNK * d) * sizeof(float));
    s->xa = malloc((size_t)(CHUNK * d) * sizeof(float));
    s->q = malloc((size_t)(CHUNK * d) * sizeof(float));
    s->y = malloc((size_t)CHUNK * (size_t)n * sizeof(float));
    s->yref = malloc((size_t)CHUNK * (size_t)n * sizeof(float));
    s->idx = malloc((size_t)rows * sizeof(int64_t));
    if (s->xs && s->xa && s->q && s->y && s->yref && s->idx)
        return true;
    scratch_free(s);
    return false;
}

static float act_clip_ratio(int i) { return 1.0f - 0.05f * (float)i; }

/* The activation clip ratio in {1.0, ..., 0.7} minimizing the site output error with the
 * dequantized weights |wdq| [n, d] (a_bits < 16), summed over the types with each type's error
 * relative to its output energy. One ratio for all types: the static methods are static (a
 * per-type clip is part of what FreeAct adds). */
static void search_act_clip(const fa_qsite_data *data, const fa_qconfig *cfg, fa_qsite_result *out,
                            const float *wdq, scratch *s) {
    int64_t d = data->d, n = data->n;
    double total[ACT_CLIPS] = {0};
    for (unsigned k = 0; k < data->num_types; k++) {
        double err[ACT_CLIPS] = {0}, ref = 0;
        const float *a = out->a + (size_t)k * (size_t)(d * d);
        int64_t cnt = type_rows(data, k, SEARCH_ROWS, s->idx);
        for (int64_t r0 = 0; r0 < cnt; r0 += CHUNK) {
            int64_t nr = cnt - r0 < CHUNK ? cnt - r0 : CHUNK;
            gather_transform(data, s->idx + r0, nr, a, s->xs, s->xa);
            gemm_nt(s->xs, nr, d, data->w, n, s->yref);
            for (int64_t i = 0; i < nr * n; i++)
                ref += (double)s->yref[i] * s->yref[i];
            for (int c = 0; c < ACT_CLIPS; c++) {
                fa_qmath_fake_quant_rows(s->xa, nr, d, cfg->a_bits, act_clip_ratio(c), s->q);
                gemm_nt(s->q, nr, d, wdq, n, s->y);
                err[c] += sq_diff(s->y, s->yref, nr * n);
            }
        }
        for (int c = 0; c < ACT_CLIPS && ref > 0; c++)
            total[c] += err[c] / ref;
    }
    int best = 0;
    for (int c = 1; c < ACT_CLIPS; c++)
        if (total[c] < total[best])
            best = c;
    for (unsigned k = 0; k < data->num_types; k++)
        out->act_clip[k] = act_clip_ratio(best);
}

/* |wdq| [n, d] := codes * scales. */
static void dequant_weights(const int8_t *wq, const float *scale, int64_t n, int64_t d,
                            int64_t groups, float *wdq) {
    int64_t g = d / groups;
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < d; j++)
            wdq[r * d + j] = (float)wq[r * d + j] * scale[r * groups + j / g];
}

static void set_identity(float *m, int64_t d) {
    memset(m, 0, (size_t)(d * d) * sizeof *m);
    for (int64_t i = 0; i < d; i++)
        m[i * d + i] = 1.0f;
}

static void set_kinds(fa_qsite_result *out, const char *kind) {
    for (unsigned k = 0; k < out->num_types; k++)
        snprintf(out->kinds[k], sizeof out->kinds[k], "%s", kind);
}

/* SmoothQuant: A = diag(1/s) for every type, M = diag(s). */
static void smoothquant(const fa_qsite_data *data, float alpha, fa_qsite_result *out) {
    int64_t d = data->d;
    memset(out->m, 0, (size_t)(d * d) * sizeof *out->m);
    memset(out->a, 0, (size_t)(d * d) * sizeof *out->a);
    /* column maxima, kept on the diagonals of A (X) and M (W) until replaced by the scales */
    for (int64_t i = 0; i < data->rows; i++)
        for (int64_t c = 0; c < d; c++)
            out->a[c * d + c] = fmaxf(out->a[c * d + c], fabsf(data->x[i * d + c]));
    for (int64_t i = 0; i < data->n; i++)
        for (int64_t c = 0; c < d; c++)
            out->m[c * d + c] = fmaxf(out->m[c * d + c], fabsf(data->w[i * d + c]));
    for (int64_t c = 0; c < d; c++) {
        float xmax = out->a[c * d + c], wmax = out->m[c * d + c];
        double sc = 1.0;
        if (xmax > 0.0f && wmax > 0.0f) {
            sc = pow((double)xmax, alpha) / pow((double)wmax, 1.0 - alpha);
            sc = sc < 1e-5 ? 1e-5 : sc > 1e5 ? 1e5 : sc;
        }
        out->m[c * d + c] = (float)sc;
        out->a[c * d + c] = (float)(1.0 / sc);
    }
    for (unsigned k = 1; k < data->num_types; k++)
        memcpy(out->a + (size_t)k * (size_t)(d * d), out->a, (size_t)(d * d) * sizeof *out->a);
}

/* |z| [rows, d] := X_k A_k for every token (in token order), fake-quantized per token with the
 * type's clip when activations are quantized: what the weights will multiply. */
static void gptq_inputs(const fa_qsite_data *data, const fa_qconfig *cfg,
                        const fa_qsite_result *out, scratch *s, float *z) {
    int64_t d = data->d;
    for (unsigned k = 0; k < data->num_types; k++) {
        const float *a = out->a + (size_t)k * (size_t)(d * d);
        int64_t cnt = type_rows(data, k, 0, s->idx);
        for (int64_t r0 = 0; r0 < cnt; r0 += CHUNK) {
            int64_t nr = cnt - r0 < CHUNK ? cnt - r0 : CHUNK;
            gather_transform(data, s->idx + r0, nr, a, s->xs, s->xa);
            if (cfg->a_bits < 16)
                fa_qmath_fake_quant_rows(s->xa, nr, d, cfg->a_bits, out->act_clip[k], s->xa);
            for (int64_t j = 0; j < nr; j++)
                memcpy(z + s->idx[r0 + j] * d, s->xa + j * d, (size_t)d * sizeof *z);
        }
    }
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

fa_status fa_qsite_solve(const fa_qsite_data *data, fa_qmethod method, const fa_qconfig *cfg,
                         fa_qsite_result *out) {
    double t0 = now_seconds();
    memset(out, 0, sizeof *out);
    const char *nm = site_name(data);
    if ((unsigned)method >= FA_QMETHOD_COUNT)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: unknown method %d", nm, (int)method);
    FA_TRY(validate(data, cfg));
    int64_t d = data->d, n = data->n, K = data->num_types;
    bool act_quant = cfg->a_bits < 16;
    out->d = d, out->n = n, out->num_types = data->num_types;
    out->groups = cfg->group > 0 ? d / cfg->group : 1;
    out->a = malloc((size_t)K * (size_t)(d * d) * sizeof *out->a);
    out->m = malloc((size_t)(d * d) * sizeof *out->m);
    out->wq = malloc((size_t)(n * d) * sizeof *out->wq);
    out->w_scale = malloc((size_t)(n * out->groups) * sizeof *out->w_scale);
    float *wt = malloc((size_t)(n * d) * sizeof *wt); /* W Mᵀ, then the dequantized weights */
    float *w_clip = malloc((size_t)n * sizeof *w_clip);
    float *z = NULL;
    scratch s;
    bool have_scratch = scratch_alloc(&s, data->rows, d, n);
    fa_status st = FA_OK;
    if (!out->a || !out->m || !out->wq || !out->w_scale || !wt || !w_clip || !have_scratch) {
        st = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", nm);
        goto done;
    }
    for (unsigned k = 0; k < FA_QSITE_TYPES_MAX; k++)
        out->act_clip[k] = 1.0f;

    bool learned = false;
    switch (method) {
    case FA_QMETHOD_RTN:
        set_identity(out->m, d);
        for (int64_t k = 0; k < K; k++)
            memcpy(out->a + (size_t)k * (size_t)(d * d), out->m, (size_t)(d * d) * sizeof(float));
        out->identity = true;
        set_kinds(out, "identity");
        break;
    case FA_QMETHOD_SMOOTHQUANT:
        smoothquant(data, cfg->sq_alpha > 0.0f ? cfg->sq_alpha : 0.5f, out);
        set_kinds(out, "diag");
        break;
    case FA_QMETHOD_QUAROT: {
        uint64_t rng = cfg->seed;
        st = fa_qmath_hadamard(d, &rng, out->a);
        if (st) {
            st = fa_status_prefix(st, "%s", nm);
            goto done;
        }
        for (int64_t i = 0; i < d; i++) /* M = Hᵀ */
            for (int64_t j = 0; j < d; j++)
                out->m[i * d + j] = out->a[j * d + i];
        for (int64_t k = 1; k < K; k++)
            memcpy(out->a + (size_t)k * (size_t)(d * d), out->a, (size_t)(d * d) * sizeof(float));
        set_kinds(out, "hadamard");
        break;
    }
    default:
        st = fa_qlearn_fit(data, method, cfg, out, w_clip);
        if (st)
            goto done;
        learned = true;
        break;
    }

    /* W' = W Mᵀ, then RTN with the clip ratios. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)d, (int)d, 1.0f, data->w,
                (int)d, out->m, (int)d, 0.0f, wt, (int)d);
    if (!learned)
        fa_qmath_search_weight_clip(wt, n, d, cfg->w_bits, cfg->group, w_clip);
    if (!cfg->gptq || !learned)
        fa_qmath_quant_weights(wt, n, d, cfg->w_bits, cfg->group, w_clip, out->wq, out->w_scale);
    if (cfg->gptq) {
        if (act_quant && !learned) { /* GPTQ needs the activation clips: search them on RTN */
            float *wdq = malloc((size_t)(n * d) * sizeof *wdq);
            if (!wdq) {
                st = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", nm);
                goto done;
            }
            dequant_weights(out->wq, out->w_scale, n, d, out->groups, wdq);
            search_act_clip(data, cfg, out, wdq, &s);
            free(wdq);
        }
        z = malloc((size_t)(data->rows * d) * sizeof *z);
        if (!z) {
            st = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", nm);
            goto done;
        }
        gptq_inputs(data, cfg, out, &s, z);
        st = fa_qmath_gptq(wt, n, d, z, data->rows, cfg->w_bits, cfg->group, w_clip, out->wq,
                           out->w_scale);
        if (st) {
            st = fa_status_prefix(st, "%s", nm);
            goto done;
        }
    }
    if (act_quant && !learned) { /* the activation clips for the final weights */
        dequant_weights(out->wq, out->w_scale, n, d, out->groups, wt);
        search_act_clip(data, cfg, out, wt, &s);
    }
    out->seconds = now_seconds() - t0;

done:
    free(wt), free(w_clip), free(z);
    if (have_scratch)
        scratch_free(&s);
    if (st)
        fa_qsite_result_deinit(out);
    return st;
}

fa_status fa_qsite_evaluate(const fa_qsite_data *data, const fa_qsite_result *r, int a_bits,
                            double *equiv, double *qerr, int64_t *rows) {
    const char *nm = site_name(data);
    if (data->d != r->d || data->n != r->n || data->num_types != r->num_types)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "%s: data (d %lld, n %lld, %u types) does not match the result "
                              "(d %lld, n %lld, %u types)",
                              nm, (long long)data->d, (long long)data->n, data->num_types,
                              (long long)r->d, (long long)r->n, r->num_types);
    fa_qconfig cfg;
    fa_qconfig_init(&cfg, 8, a_bits);
    FA_TRY(validate(data, &cfg));
    int64_t d = data->d, n = data->n;
    scratch s;
    float *wdq = malloc((size_t)(n * d) * sizeof *wdq);
    if (!wdq || !scratch_alloc(&s, data->rows, d, n)) {
        free(wdq);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", nm);
    }
    dequant_weights(r->wq, r->w_scale, n, d, r->groups, wdq);
    for (unsigned k = 0; k < data->num_types; k++) {
        const float *a = r->a + (size_t)k * (size_t)(d * d);
        double en = 0, ed = 0, qn = 0, qd = 0;
        int64_t cnt = type_rows(data, k, 0, s.idx);
        for (int64_t r0 = 0; r0 < cnt; r0 += CHUNK) {
            int64_t nr = cnt - r0 < CHUNK ? cnt - r0 : CHUNK;
            gather_transform(data, s.idx + r0, nr, a, s.xs, s.xa);
            /* equivalence: X A M against X (s.q holds X A M here) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, (int)d, (int)d, 1.0f,
                        s.xa, (int)d, r->m, (int)d, 0.0f, s.q, (int)d);
            en += sq_diff(s.q, s.xs, nr * d);
            ed += sq_norm(s.xs, nr * d);
            gemm_nt(s.xs, nr, d, data->w, n, s.yref);
            if (a_bits < 16)
                fa_qmath_fake_quant_rows(s.xa, nr, d, a_bits, r->act_clip[k], s.xa);
            gemm_nt(s.xa, nr, d, wdq, n, s.y);
            qn += sq_diff(s.y, s.yref, nr * n);
            qd += sq_norm(s.yref, nr * n);
        }
        equiv[k] = ed > 0 ? sqrt(en / ed) : 0.0;
        qerr[k] = qd > 0 ? sqrt(qn / qd) : 0.0;
        rows[k] = cnt;
    }
    free(wdq);
    scratch_free(&s);
    return FA_OK;
}
