/* The site loss of the learned transforms and its straight-through gradients (learn_internal.h):
 * the forward pass Q_a(X_k A_k) Q_w(W Mᵀ)ᵀ against X Wᵀ and the backward pass to A_k, M and the
 * clip ratios. learn.c chains these gradients to each method's parameters.
 *
 * Quantizer q(v) = scale * clamp(rint(v / scale), -qmax - 1, qmax) with scale = clip * max|v| /
 * qmax over a token (or a weight row / group). Backward (STE, LSQ-style): dq/dv = 1 where the code
 * is inside the range, 0 where clamped; dq/dscale = rint(v/scale) - v/scale inside, the clamped
 * code outside; scale reaches the clip ratio and, through max|v|, the largest element. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/quant/learn_internal.h"
#include "passes/quant/qmath.h"

bool fa_qlearn_no_rounding = false;

static bool mul_ok(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0 || (a > 0 && b > INT64_MAX / a / (int64_t)sizeof(double)))
        return false;
    *out = a * b;
    return true;
}

static fa_status oom(const char *name) {
    return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory in the learned transform",
                          name);
}

fa_status fa_qlearn_site_init(fa_qlearn_site *s, const fa_qsite_data *data, const fa_qconfig *cfg) {
    memset(s, 0, sizeof *s);
    s->name = data->name ? data->name : "site";
    s->d = data->d, s->n = data->n, s->rows = data->rows;
    s->num_types = data->num_types ? data->num_types : 1;
    s->x = data->x, s->type = data->type, s->w = data->w;
    s->a_bits = cfg->a_bits, s->w_bits = cfg->w_bits, s->group = cfg->group;
    int64_t tn;
    if (s->d <= 0 || s->n <= 0 || s->rows <= 0 || s->num_types > FA_QSITE_TYPES_MAX ||
        !mul_ok(s->rows, s->n, &tn) || (s->group > 0 && s->d % s->group))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: invalid site for learning", s->name);
    s->target = malloc((size_t)tn * sizeof(float));
    s->target_sq = malloc((size_t)s->rows * sizeof(double));
    if (!s->target || !s->target_sq) {
        fa_qlearn_site_deinit(s);
        return oom(s->name);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->rows, (int)s->n, (int)s->d, 1.0f,
                s->x, (int)s->d, s->w, (int)s->d, 0.0f, s->target, (int)s->n);
    for (int64_t r = 0; r < s->rows; r++) {
        double acc = 0;
        const float *t = s->target + r * s->n;
        for (int64_t j = 0; j < s->n; j++)
            acc += (double)t[j] * t[j];
        s->target_sq[r] = acc;
        unsigned k = s->type ? s->type[r] : 0;
        if (k >= s->num_types) {
            fa_qlearn_site_deinit(s);
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: token type %u out of range",
                                  s->name, k);
        }
        s->type_rows[k]++;
    }
    return FA_OK;
}

void fa_qlearn_site_deinit(fa_qlearn_site *s) {
    free(s->target);
    free(s->target_sq);
    s->target = NULL, s->target_sq = NULL;
}

fa_status fa_qlearn_batch_init(fa_qlearn_batch *b, const fa_qlearn_site *s, int64_t cap) {
    memset(b, 0, sizeof *b);
    b->cap = cap;
    int64_t nx, nt;
    if (!mul_ok(cap, s->d, &nx) || !mul_ok(cap, s->n, &nt))
        return oom(s->name);
    b->x = malloc((size_t)nx * sizeof(float));
    b->t = malloc((size_t)nt * sizeof(float));
    if (!b->x || !b->t) {
        fa_qlearn_batch_deinit(b);
        return oom(s->name);
    }
    return FA_OK;
}

void fa_qlearn_batch_deinit(fa_qlearn_batch *b) {
    free(b->x);
    free(b->t);
    b->x = NULL, b->t = NULL;
}

void fa_qlearn_batch_fill(fa_qlearn_batch *b, const fa_qlearn_site *s, int64_t *const *idx,
                          const int64_t *count) {
    int64_t r = 0;
    for (unsigned k = 0; k < s->num_types; k++) {
        b->start[k] = r;
        b->norm[k] = 0;
        for (int64_t i = 0; i < count[k]; i++, r++) {
            FA_ASSERT(r < b->cap);
            int64_t src = idx[k][i];
            memcpy(b->x + r * s->d, s->x + src * s->d, (size_t)s->d * sizeof(float));
            memcpy(b->t + r * s->n, s->target + src * s->n, (size_t)s->n * sizeof(float));
            b->norm[k] += s->target_sq[src];
        }
    }
    b->start[s->num_types] = r;
    b->rows = r;
}

/* Fake-quantizes |len| values of |v| into |q| with one scale (clip * max|v| / qmax); returns the
 * scale and the index of the largest |v| through |*arg|. */
static float quant_fwd(const float *v, float *q, int64_t len, float clip, float qmax,
                       int64_t *arg) {
    float amax = 0.0f;
    int64_t at = 0;
    for (int64_t j = 0; j < len; j++)
        if (fabsf(v[j]) > amax)
            amax = fabsf(v[j]), at = j;
    *arg = at;
    float scale = clip * amax / qmax;
    if (!(scale > 0.0f)) {
        memset(q, 0, (size_t)len * sizeof(float));
        return 0.0f;
    }
    for (int64_t j = 0; j < len; j++) {
        float u = v[j] / scale, c = fa_qlearn_no_rounding ? u : rintf(u);
        c = c < -qmax - 1.0f ? -qmax - 1.0f : c > qmax ? qmax : c;
        q[j] = c * scale;
    }
    return scale;
}

/* Backward of quant_fwd: |g| holds dL/dq on entry and dL/dv on exit; returns dL/dclip. */
static double quant_bwd(const float *v, float *g, int64_t len, float clip, float scale, float qmax,
                        int64_t arg) {
    if (!(scale > 0.0f))
        return 0.0; /* a zero block: q = 0 near it; the identity is the straight-through choice */
    double gs = 0;
    for (int64_t j = 0; j < len; j++) {
        float u = v[j] / scale, c = fa_qlearn_no_rounding ? u : rintf(u);
        if (c > qmax)
            gs += (double)g[j] * qmax, g[j] = 0.0f;
        else if (c < -qmax - 1.0f)
            gs += (double)g[j] * (-qmax - 1.0f), g[j] = 0.0f;
        else
            gs += (double)g[j] * (c - u);
    }
    float amax = fabsf(v[arg]);
    g[arg] += (float)(gs * clip / qmax) * (v[arg] < 0.0f ? -1.0f : 1.0f);
    return gs * amax / qmax;
}

typedef struct work {
    float *z, *zq, *r, *gz, *rscale, *wp, *wq, *gw, *wscale;
    int64_t *rarg, *warg;
} work;

static void work_free(work *w) {
    free(w->z), free(w->zq), free(w->r), free(w->gz), free(w->rscale);
    free(w->wp), free(w->wq), free(w->gw), free(w->wscale), free(w->rarg), free(w->warg);
}

fa_status fa_qlearn_site_loss(const fa_qlearn_site *s, const fa_qlearn_batch *b, const float *a,
                              const float *m, const float *ca, const float *cw, double *loss,
                              fa_qlearn_grads *g) {
    const int64_t d = s->d, n = s->n, B = b->rows;
    const int64_t gsz = s->group > 0 ? s->group : d, groups = d / gsz;
    const bool aq = s->a_bits < 16;
    const float aqmax = aq ? (float)fa_qmath_qmax(s->a_bits) : 0.0f;
    const float wqmax = (float)fa_qmath_qmax(s->w_bits);
    work w = {0};
    size_t bd = (size_t)(B * d), bn = (size_t)(B * n), nd = (size_t)(n * d);
    w.z = malloc(bd * sizeof(float) + 1);
    w.zq = aq ? malloc(bd * sizeof(float) + 1) : NULL;
    w.r = malloc(bn * sizeof(float) + 1);
    w.rscale = malloc((size_t)B * sizeof(float) + 1);
    w.rarg = malloc((size_t)B * sizeof(int64_t) + 1);
    w.wp = malloc(nd * sizeof(float));
    w.wq = malloc(nd * sizeof(float));
    w.wscale = malloc((size_t)(n * groups) * sizeof(float));
    w.warg = malloc((size_t)(n * groups) * sizeof(int64_t));
    if (g) {
        w.gz = malloc(bd * sizeof(float) + 1);
        w.gw = malloc(nd * sizeof(float));
    }
    if (!w.z || (aq && !w.zq) || !w.r || !w.rscale || !w.rarg || !w.wp || !w.wq || !w.wscale ||
        !w.warg || (g && (!w.gz || !w.gw))) {
        work_free(&w);
        return oom(s->name);
    }
    if (!aq)
        w.zq = w.z;

    /* Weights: W' = W Mᵀ, quantized per row or group with the row's clip ratio. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)d, (int)d, 1.0f, s->w, (int)d,
                m, (int)d, 0.0f, w.wp, (int)d);
    for (int64_t r = 0; r < n; r++)
        for (int64_t q = 0; q < groups; q++) {
            int64_t o = r * d + q * gsz;
            w.wscale[r * groups + q] =
                quant_fwd(w.wp + o, w.wq + o, gsz, cw[r], wqmax, &w.warg[r * groups + q]);
        }

    /* Activations: Z_k = X_k A_k, quantized per token. */
    for (unsigned k = 0; k < s->num_types; k++) {
        int64_t o = b->start[k], bk = b->start[k + 1] - o;
        if (bk == 0)
            continue;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)bk, (int)d, (int)d, 1.0f,
                    b->x + o * d, (int)d, a + (size_t)k * d * d, (int)d, 0.0f, w.z + o * d, (int)d);
        if (aq)
            for (int64_t r = o; r < o + bk; r++)
                w.rscale[r] = quant_fwd(w.z + r * d, w.zq + r * d, d, ca[k], aqmax, &w.rarg[r]);
    }

    /* R = Y - X Wᵀ, the loss per type and dL/dY = 2 R / ‖X_k Wᵀ‖². */
    if (B > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)n, (int)d, 1.0f, w.zq,
                    (int)d, w.wq, (int)d, 0.0f, w.r, (int)n);
    double total = 0;
    for (unsigned k = 0; k < s->num_types; k++) {
        int64_t o = b->start[k], bk = b->start[k + 1] - o;
        double acc = 0;
        float *rk = w.r + o * n;
        for (int64_t i = 0; i < bk * n; i++) {
            rk[i] -= b->t[o * n + i];
            acc += (double)rk[i] * rk[i];
        }
        float gscale = b->norm[k] > 0 ? (float)(2.0 / b->norm[k]) : 0.0f;
        if (b->norm[k] > 0)
            total += acc / b->norm[k];
        if (g)
            for (int64_t i = 0; i < bk * n; i++)
                rk[i] *= gscale;
    }
    *loss = total;
    if (!g || B == 0) {
        if (g) {
            memset(g->a, 0, (size_t)s->num_types * d * d * sizeof(float));
            if (g->m)
                memset(g->m, 0, (size_t)(d * d) * sizeof(float));
            memset(g->ca, 0, sizeof g->ca);
            memset(g->cw, 0, (size_t)n * sizeof(float));
        }
        work_free(&w);
        return FA_OK;
    }

    /* dL/dZq = G_Y Wq, dL/dWq = G_Yᵀ Zq, then through the quantizers. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)d, (int)n, 1.0f, w.r,
                (int)n, w.wq, (int)d, 0.0f, w.gz, (int)d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)d, (int)B, 1.0f, w.r, (int)n,
                w.zq, (int)d, 0.0f, w.gw, (int)d);
    memset(g->ca, 0, sizeof g->ca);
    for (unsigned k = 0; k < s->num_types; k++) {
        int64_t o = b->start[k], bk = b->start[k + 1] - o;
        float *gak = g->a + (size_t)k * d * d;
        if (bk == 0) {
            memset(gak, 0, (size_t)(d * d) * sizeof(float));
            continue;
        }
        double gc = 0;
        if (aq)
            for (int64_t r = o; r < o + bk; r++)
                gc += quant_bwd(w.z + r * d, w.gz + r * d, d, ca[k], w.rscale[r], aqmax, w.rarg[r]);
        g->ca[k] = (float)gc;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)bk, 1.0f,
                    b->x + o * d, (int)d, w.gz + o * d, (int)d, 0.0f, gak, (int)d);
    }
    for (int64_t r = 0; r < n; r++) {
        double gc = 0;
        for (int64_t q = 0; q < groups; q++) {
            int64_t o = r * d + q * gsz;
            gc += quant_bwd(w.wp + o, w.gw + o, gsz, cw[r], w.wscale[r * groups + q], wqmax,
                            w.warg[r * groups + q]);
        }
        g->cw[r] = (float)gc;
    }
    /* W' = W Mᵀ: dL/dM = (dL/dW')ᵀ W. */
    if (g->m)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)n, 1.0f, w.gw,
                    (int)d, s->w, (int)d, 0.0f, g->m, (int)d);
    work_free(&w);
    return FA_OK;
}

/* ---- minibatches ---- */

/* Fills |b| with every row. */
fa_status fa_qlearn_batch_full(const fa_qlearn_site *s, fa_qlearn_batch *b) {
    FA_TRY(fa_qlearn_batch_init(b, s, s->rows));
    int64_t *idx[FA_QSITE_TYPES_MAX] = {0}, cnt[FA_QSITE_TYPES_MAX] = {0};
    int64_t *all = malloc((size_t)s->rows * sizeof(int64_t));
    if (!all) {
        fa_qlearn_batch_deinit(b);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", s->name);
    }
    int64_t off = 0;
    for (unsigned k = 0; k < s->num_types; k++) {
        idx[k] = all + off;
        for (int64_t r = 0; r < s->rows; r++)
            if ((s->type ? s->type[r] : 0) == k)
                idx[k][cnt[k]++] = r;
        off += cnt[k];
    }
    fa_qlearn_batch_fill(b, s, idx, cnt);
    free(all);
    return FA_OK;
}

/* Rows per type for a batch of about |total| rows: proportional, at least total / (4 K) of every
 * type that has rows, never more than it has; every row when the site has no more than |total|. */
static void type_counts(const fa_qlearn_site *s, int64_t total, int64_t *cnt) {
    for (unsigned k = 0; k < s->num_types; k++) {
        int64_t have = s->type_rows[k];
        if (s->rows <= total) {
            cnt[k] = have;
            continue;
        }
        int64_t want = (int64_t)llround((double)total * have / s->rows);
        int64_t floor_k = total / (4 * (int64_t)s->num_types);
        want = want < floor_k ? floor_k : want;
        cnt[k] = want < have ? want : have;
    }
}

/* Per-type shuffled row lists, walked cyclically and reshuffled at each wrap. */

static void shuffle(int64_t *v, int64_t n, uint64_t *rng) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(fa_qmath_rng_next(rng) % (uint64_t)(i + 1)), t = v[i];
        v[i] = v[j], v[j] = t;
    }
}

bool fa_qlearn_sampler_init(fa_qlearn_sampler *sp, const fa_qlearn_site *s, int64_t total, uint64_t *rng) {
    memset(sp, 0, sizeof *sp);
    type_counts(s, total, sp->cnt);
    int64_t need = s->rows;
    for (unsigned k = 0; k < s->num_types; k++)
        need += sp->cnt[k];
    if (!(sp->mem = malloc((size_t)need * sizeof(int64_t))))
        return false;
    int64_t off = 0;
    for (unsigned k = 0; k < s->num_types; k++) {
        sp->rows[k] = sp->mem + off, off += s->type_rows[k];
        sp->take[k] = sp->mem + off, off += sp->cnt[k];
    }
    int64_t fill[FA_QSITE_TYPES_MAX] = {0};
    for (int64_t r = 0; r < s->rows; r++) {
        unsigned k = s->type ? s->type[r] : 0;
        sp->rows[k][fill[k]++] = r;
    }
    for (unsigned k = 0; k < s->num_types; k++)
        shuffle(sp->rows[k], s->type_rows[k], rng);
    return true;
}

void fa_qlearn_sampler_next(fa_qlearn_sampler *sp, const fa_qlearn_site *s, fa_qlearn_batch *b, uint64_t *rng) {
    for (unsigned k = 0; k < s->num_types; k++)
        for (int64_t i = 0; i < sp->cnt[k]; i++) {
            if (sp->cur[k] == s->type_rows[k]) {
                shuffle(sp->rows[k], s->type_rows[k], rng);
                sp->cur[k] = 0;
            }
            sp->take[k][i] = sp->rows[k][sp->cur[k]++];
        }
    fa_qlearn_batch_fill(b, s, sp->take, sp->cnt);
}

/* A batch of about |total| rows drawn per type by a fresh sampler. */
fa_status fa_qlearn_batch_sample(const fa_qlearn_site *s, int64_t total, uint64_t *rng,
                               fa_qlearn_batch *b) {
    fa_qlearn_sampler sp;
    if (!fa_qlearn_sampler_init(&sp, s, total, rng))
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", s->name);
    int64_t cap = 0;
    for (unsigned k = 0; k < s->num_types; k++)
        cap += sp.cnt[k];
    fa_status st = fa_qlearn_batch_init(b, s, cap);
    if (!st)
        fa_qlearn_sampler_next(&sp, s, b, rng);
    free(sp.mem);
    return st;
}

