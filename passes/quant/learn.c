/* Learned transforms for one site (learn.h): each method's parameters, its start, the chain rule
 * from dL/dA_k, dL/dM (learn_grad.c) to its parameters, and the AdamW loop.
 *
 * Design: every method is a flat parameter vector cut into named groups, a `derive` step that
 * builds A_k, M and the clip ratios from it, and a `backward` step for the gradient. Training:
 * AdamW (β 0.9 / 0.999, no weight decay), cosine schedule, minibatches of BATCH_ROWS tokens
 * (half for d > 384) sampled per type in proportion (each type at least 1/(4 K) of a batch). The
 * loss is measured on fixed evaluation rows at the start, every EVAL_EVERY steps and at the end;
 * the parameters with the lowest evaluation loss are returned, so training never ends worse
 * than its start. Clip ratios are sigmoid(θ), θ from 4 (FlatQuant's LAC/LWC). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "passes/quant/learn.h"
#include "passes/quant/learn_internal.h"
#include "passes/quant/qmath.h"

#define DEFAULT_STEPS 150
#define DEFAULT_LR 5e-3f
#define CLIP_LR_MUL 10.0f /* clip θs move ~10x faster than the transforms */
#define CLIP_INIT 4.0f
#define BATCH_ROWS 2048
#define EVAL_ROWS 4096
#define EVAL_EVERY 10
/* freeact keeps its exclusive channels only where they are exact on the calibration data: if
 * some type's ‖X_k A_k M − X_k‖ / ‖X_k‖ exceeds this after training, the masks go (A_k = A). */
#define FREEACT_EQUIV_MAX 0.01


static float sigmoid(float t) { return 1.0f / (1.0f + expf(-t)); }

fa_status fa_qlearn_oom(const fa_qlearn *l) {
    return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory in the learned transform",
                          l->site.name);
}

static bool shared_transform(const fa_qlearn *l) {
    return l->method == FA_QMETHOD_FLATQUANT || l->method == FA_QMETHOD_FREEACT;
}

static void add_group(fa_qlearn *l, const char *name, int64_t len, float lr) {
    FA_ASSERT(l->ngroups < FA_QLEARN_MAX_GROUPS);
    l->grp[l->ngroups++] = (group){name, l->np, len, lr};
    l->np += len;
}

/* In-place inverse of the n x n matrix |a| (row-major); false if singular. */
static bool invert(float *a, int64_t n) {
    lapack_int *ipiv = malloc((size_t)n * sizeof(lapack_int));
    if (!ipiv)
        return false;
    bool ok = LAPACKE_sgetrf(LAPACK_ROW_MAJOR, (int)n, (int)n, a, (int)n, ipiv) == 0 &&
              LAPACKE_sgetri(LAPACK_ROW_MAJOR, (int)n, a, (int)n, ipiv) == 0;
    free(ipiv);
    for (int64_t i = 0; ok && i < n * n; i++)
        ok = isfinite(a[i]);
    return ok;
}

static void kron(const float *a, int64_t na, const float *b, int64_t nb, float *out) {
    int64_t n = na * nb;
    for (int64_t i = 0; i < na; i++)
        for (int64_t j = 0; j < na; j++)
            for (int64_t k = 0; k < nb; k++)
                for (int64_t q = 0; q < nb; q++)
                    out[(i * nb + k) * n + j * nb + q] = a[i * na + j] * b[k * nb + q];
}

/* Builds A_k, M and the clip ratios from the parameters. Errors: singular transform. */
static fa_status derive(fa_qlearn *l) {
    const int64_t d = l->d;
    const size_t dd = (size_t)(d * d);
    const float *gp = l->p + l->grp[0].off;
    if (l->method == FA_QMETHOD_FLATQUANT) {
        kron(gp, l->d1, l->p + l->grp[1].off, l->d2, l->P);
        memcpy(l->t1, gp, (size_t)(l->d1 * l->d1) * sizeof(float));
        memcpy(l->t2, l->p + l->grp[1].off, (size_t)(l->d2 * l->d2) * sizeof(float));
        if (!invert(l->t1, l->d1) || !invert(l->t2, l->d2))
            return fa_status_make(FA_STATUS_INTERNAL, "%s: singular transform in flatquant",
                                  l->site.name);
        kron(l->t1, l->d1, l->t2, l->d2, l->Pinv);
    } else if (l->method == FA_QMETHOD_FREEACT) {
        memcpy(l->P, gp, dd * sizeof(float));
        memcpy(l->Pinv, gp, dd * sizeof(float));
        if (!invert(l->Pinv, d))
            return fa_status_make(FA_STATUS_INTERNAL, "%s: singular transform in freeact",
                                  l->site.name);
    }
    if (shared_transform(l)) {
        const float *sig = l->p + l->grp[l->gsig].off;
        for (int64_t i = 0; i < d; i++)
            l->s[i] = expf(sig[i]);
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = 0; j < d; j++) {
                l->a[i * d + j] = l->P[i * d + j] / l->s[i];
                l->m[i * d + j] = l->Pinv[i * d + j] * l->s[j];
            }
        for (unsigned k = 1; k < l->K; k++)
            memcpy(l->a + k * dd, l->a, dd * sizeof(float));
        if (l->owner) /* A_k = A D_k: zero the channels exclusive to the other types */
            for (unsigned k = 0; k < l->K; k++)
                for (int64_t j = 0; j < d; j++)
                    if (l->owner[j] >= 0 && (unsigned)l->owner[j] != k)
                        for (int64_t i = 0; i < d; i++)
                            l->a[k * dd + i * d + j] = 0.0f;
    } else { /* freeact-ns: A_k = H + Z_k P⊥ H, M fixed */
        for (unsigned k = 0; k < l->K; k++) {
            memcpy(l->a + k * dd, l->h, dd * sizeof(float));
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0f,
                        gp + k * dd, (int)d, l->bperp, (int)d, 1.0f, l->a + k * dd, (int)d);
        }
    }
    const group *ga = &l->grp[l->gca], *gw = &l->grp[l->gcw];
    for (unsigned k = 0; k < l->K; k++)
        l->ca[k] = sigmoid(l->p[ga->off + (ga->len == 1 ? 0 : k)]);
    for (int64_t r = 0; r < l->n; r++)
        l->cw[r] = sigmoid(l->p[gw->off + r]);
    return FA_OK;
}

/* Chains l->g (dL/dA_k, dL/dM, dL/dclip) to the parameters: writes |grad| [np]. */
static void backward(fa_qlearn *l, float *grad) {
    const int64_t d = l->d;
    const size_t dd = (size_t)(d * d);
    memset(grad, 0, (size_t)l->np * sizeof(float));
    const group *ga = &l->grp[l->gca], *gw = &l->grp[l->gcw];
    for (unsigned k = 0; k < l->K; k++) {
        int64_t i = ga->off + (ga->len == 1 ? 0 : k);
        grad[i] += l->g.ca[k] * l->ca[k] * (1.0f - l->ca[k]);
    }
    for (int64_t r = 0; r < l->n; r++)
        grad[gw->off + r] = l->g.cw[r] * l->cw[r] * (1.0f - l->cw[r]);

    if (!shared_transform(l)) { /* dL/dZ_k = dL/dA_k (P⊥ H)ᵀ */
        for (unsigned k = 0; k < l->K; k++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d, (int)d, (int)d, 1.0f,
                        l->g.a + k * dd, (int)d, l->bperp, (int)d, 0.0f,
                        grad + l->grp[0].off + k * dd, (int)d);
        return;
    }
    /* G_Ab = Σ_k G_A_k D_k into t1; then A = diag(1/s) P and M = P⁻¹ diag(s). */
    float *gab = l->t1, *gpinv = l->t2, *gsig = grad + l->grp[l->gsig].off;
    memset(gab, 0, dd * sizeof(float));
    for (unsigned k = 0; k < l->K; k++)
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = 0; j < d; j++)
                if (!l->owner || l->owner[j] < 0 || (unsigned)l->owner[j] == k)
                    gab[i * d + j] += l->g.a[k * dd + i * d + j];
    float *gp = l->method == FA_QMETHOD_FREEACT ? grad + l->grp[0].off : l->t3;
    for (int64_t i = 0; i < d; i++) {
        double gs = 0;
        for (int64_t j = 0; j < d; j++) {
            gp[i * d + j] = gab[i * d + j] / l->s[i];
            gs -= (double)gab[i * d + j] * l->P[i * d + j] / ((double)l->s[i] * l->s[i]);
        }
        gsig[i] = (float)gs;
    }
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < d; j++) {
            gpinv[i * d + j] = l->g.m[i * d + j] * l->s[j];
            gsig[j] += l->g.m[i * d + j] * l->Pinv[i * d + j];
        }
    for (int64_t i = 0; i < d; i++)
        gsig[i] *= l->s[i];
    /* d(P⁻¹) = -P⁻¹ dP P⁻¹: G_P -= P⁻ᵀ G_Pinv P⁻ᵀ. */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0f, l->Pinv,
                (int)d, gpinv, (int)d, 0.0f, gab, (int)d);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d, (int)d, (int)d, -1.0f, gab, (int)d,
                l->Pinv, (int)d, 1.0f, gp, (int)d);
    if (l->method == FA_QMETHOD_FLATQUANT) { /* project onto the Kronecker factors */
        const int64_t d1 = l->d1, d2 = l->d2;
        const float *p1 = l->p + l->grp[0].off, *p2 = l->p + l->grp[1].off;
        float *g1 = grad + l->grp[0].off, *g2 = grad + l->grp[1].off;
        for (int64_t i = 0; i < d1; i++)
            for (int64_t j = 0; j < d1; j++)
                for (int64_t k = 0; k < d2; k++)
                    for (int64_t q = 0; q < d2; q++) {
                        float gv = gp[(i * d2 + k) * d + j * d2 + q];
                        g1[i * d1 + j] += gv * p2[k * d2 + q];
                        g2[k * d2 + q] += gv * p1[i * d1 + j];
                    }
    }
}

/* ---- Starts ---------------------------------------------------------------------------------- */

/* σ from SmoothQuant's ratio s_c = max|X_c|^α / max|W_c|^(1-α). */
static void smooth_sigma(const fa_qlearn *l, float *sig) {
    const fa_qlearn_site *s = &l->site;
    double alpha = l->cfg.sq_alpha > 0 ? l->cfg.sq_alpha : 0.5;
    for (int64_t c = 0; c < l->d; c++) {
        float xm = 0.0f, wm = 0.0f;
        for (int64_t r = 0; r < s->rows; r++)
            xm = fmaxf(xm, fabsf(s->x[r * l->d + c]));
        for (int64_t r = 0; r < l->n; r++)
            wm = fmaxf(wm, fabsf(s->w[r * l->d + c]));
        double v = xm > 0 && wm > 0 ? alpha * log(xm) - (1 - alpha) * log(wm) : 0.0;
        sig[c] = (float)fmin(fmax(v, -9.0), 9.0);
    }
}

/* Sets the parameters to start |which| (freeact: 0 closed-form, 1 random orthogonal). */
static fa_status init_start(fa_qlearn *l, int which, uint64_t *rng) {
    memset(l->p, 0, (size_t)l->np * sizeof(float));
    for (int64_t i = l->grp[l->gca].off; i < l->grp[l->gcw].off + l->grp[l->gcw].len; i++)
        l->p[i] = CLIP_INIT;
    if (l->gsig >= 0)
        smooth_sigma(l, l->p + l->grp[l->gsig].off);
    if (l->method == FA_QMETHOD_FLATQUANT) {
        FA_TRY(fa_qmath_random_orthogonal(l->d1, rng, l->p + l->grp[0].off));
        FA_TRY(fa_qmath_random_orthogonal(l->d2, rng, l->p + l->grp[1].off));
    } else if (l->method == FA_QMETHOD_FREEACT) {
        if (which == 0)
            FA_TRY(fa_qlearn_start_closed_form(l, rng));
        else
            FA_TRY(fa_qmath_random_orthogonal(l->d, rng, l->p + l->grp[0].off));
    }
    return derive(l);
}

/* ---- Creation ------------------------------------------------------------------------------ */

void fa_qlearn_destroy(fa_qlearn *l) {
    if (!l)
        return;
    fa_qlearn_site_deinit(&l->site);
    if (l->has_full)
        fa_qlearn_batch_deinit(&l->full);
    free(l->p), free(l->owner), free(l->bperp), free(l->h), free(l->P), free(l->Pinv);
    free(l->s), free(l->a), free(l->m), free(l->cw), free(l->g.a), free(l->g.m), free(l->g.cw);
    free(l->t1), free(l->t2), free(l->t3);
    free(l);
}

/* Allocates a learner without a start. */
static fa_status learner_create(const fa_qsite_data *data, fa_qmethod method, const fa_qconfig *cfg,
                                fa_qlearn **out) {
    *out = NULL;
    if (method != FA_QMETHOD_FLATQUANT && method != FA_QMETHOD_FREEACT &&
        method != FA_QMETHOD_FREEACT_NS)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: method %s is not learned",
                              data->name, fa_qmethod_name(method));
    fa_qlearn *l = calloc(1, sizeof *l);
    if (!l)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", data->name);
    l->method = method, l->cfg = *cfg;
    fa_status st = fa_qlearn_site_init(&l->site, data, cfg);
    if (st) {
        free(l);
        return st;
    }
    const int64_t d = l->d = data->d, n = l->n = data->n;
    const unsigned K = l->K = l->site.num_types;
    if (d > 16384) {
        fa_qlearn_destroy(l);
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: d = %lld is too large to learn",
                              data->name, (long long)d);
    }
    const size_t dd = (size_t)(d * d);
    float lr = cfg->lr > 0 ? cfg->lr : DEFAULT_LR;
    float lr_dense = lr * powf((float)d, -0.25f); /* same relative step as a √d x √d factor */
    l->gsig = -1;
    if (method == FA_QMETHOD_FLATQUANT) {
        for (l->d1 = (int64_t)sqrt((double)d); d % l->d1; l->d1--)
            ;
        l->d2 = d / l->d1;
        add_group(l, "P1", l->d1 * l->d1, lr);
        add_group(l, "P2", l->d2 * l->d2, lr);
    } else if (method == FA_QMETHOD_FREEACT) {
        add_group(l, "T", (int64_t)dd, lr_dense);
        unsigned present = 0;
        for (unsigned k = 0; k < K; k++)
            present += l->site.type_rows[k] > 0;
        l->e = K >= 2 && present >= 2 ? (cfg->exclusive > 0 ? cfg->exclusive : (int)(d / 32)) : 0;
        if ((int64_t)K * l->e >= d) {
            fa_qlearn_destroy(l);
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "%s: %u types x %d exclusive channels do not fit in d = %lld",
                                  data->name, K, cfg->exclusive, (long long)d);
        }
    } else {
        add_group(l, "Z", (int64_t)(K * dd), lr_dense);
    }
    if (shared_transform(l)) {
        l->gsig = l->ngroups;
        add_group(l, "sigma", d, lr);
    }
    l->gca = l->ngroups;
    add_group(l, "clip_a", method == FA_QMETHOD_FLATQUANT ? 1 : K, lr * CLIP_LR_MUL);
    l->gcw = l->ngroups;
    add_group(l, "clip_w", n, lr * CLIP_LR_MUL);

    l->p = malloc((size_t)l->np * sizeof(float));
    l->a = malloc(K * dd * sizeof(float));
    l->m = malloc(dd * sizeof(float));
    l->cw = malloc((size_t)n * sizeof(float));
    l->g.a = malloc(K * dd * sizeof(float));
    l->g.cw = malloc((size_t)n * sizeof(float));
    l->t1 = malloc(dd * sizeof(float));
    l->t2 = malloc(dd * sizeof(float));
    bool ok = l->p && l->a && l->m && l->cw && l->g.a && l->g.cw && l->t1 && l->t2;
    if (shared_transform(l)) {
        l->g.m = malloc(dd * sizeof(float));
        l->P = malloc(dd * sizeof(float));
        l->Pinv = malloc(dd * sizeof(float));
        l->s = malloc((size_t)d * sizeof(float));
        l->t3 = malloc(dd * sizeof(float));
        ok = ok && l->g.m && l->P && l->Pinv && l->s && l->t3;
    } else {
        l->h = malloc(dd * sizeof(float));
        l->bperp = malloc(dd * sizeof(float));
        ok = ok && l->h && l->bperp;
    }
    if (ok && l->e > 0) {
        l->owner = malloc((size_t)d);
        if ((ok = l->owner != NULL))
            for (int64_t j = 0; j < d; j++) {
                int64_t x = j - (d - (int64_t)K * l->e);
                l->owner[j] = (int8_t)(x < 0 ? -1 : x / l->e);
            }
    }
    if (!ok) {
        fa_qlearn_destroy(l);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", data->name);
    }
    *out = l;
    return FA_OK;
}

fa_status fa_qlearn_create(const fa_qsite_data *data, fa_qmethod method, const fa_qconfig *cfg,
                           fa_qlearn **out) {
    fa_qlearn *l;
    FA_TRY(learner_create(data, method, cfg, &l));
    uint64_t rng = cfg->seed;
    fa_status st = method == FA_QMETHOD_FREEACT_NS ? fa_qlearn_start_ns(l, &rng) : FA_OK;
    if (!st)
        st = init_start(l, 0, &rng);
    if (st) {
        fa_qlearn_destroy(l);
        return st;
    }
    *out = l;
    return FA_OK;
}

float *fa_qlearn_params(fa_qlearn *l, int64_t *count) {
    *count = l->np;
    return l->p;
}

int fa_qlearn_group(const fa_qlearn *l, int i, const char **out_name, int64_t *out_off,
                    int64_t *out_len) {
    if (i >= 0 && i < l->ngroups)
        *out_name = l->grp[i].name, *out_off = l->grp[i].off, *out_len = l->grp[i].len;
    return l->ngroups;
}


fa_status fa_qlearn_loss_grad(fa_qlearn *l, double *loss, float *grad) {
    if (!l->has_full) {
        FA_TRY(fa_qlearn_batch_full(&l->site, &l->full));
        l->has_full = true;
    }
    FA_TRY(derive(l));
    FA_TRY(fa_qlearn_site_loss(&l->site, &l->full, l->a, l->m, l->ca, l->cw, loss,
                               grad ? &l->g : NULL));
    if (grad)
        backward(l, grad);
    return FA_OK;
}

/* ---- Training ------------------------------------------------------------------------------ */

static fa_status eval_loss(fa_qlearn *l, const fa_qlearn_batch *b, double *loss) {
    FA_TRY(derive(l));
    return fa_qlearn_site_loss(&l->site, b, l->a, l->m, l->ca, l->cw, loss, NULL);
}

/* One optimization run: AdamW state, the current and the best parameters. */
typedef struct run {
    float *mom, *vel, *cur, *bestp;
    double start, best;
    int t, best_step;
    bool stopped;
} run;

static void run_free(run *r) { free(r->mom), free(r->vel), free(r->cur), free(r->bestp); }

/* Starts a run at the current parameters, measuring them on |ev|. */
static fa_status run_init(fa_qlearn *l, run *r, const fa_qlearn_batch *ev) {
    memset(r, 0, sizeof *r);
    const size_t np = (size_t)l->np;
    r->mom = calloc(np, sizeof(float)), r->vel = calloc(np, sizeof(float));
    r->cur = malloc(np * sizeof(float)), r->bestp = malloc(np * sizeof(float));
    if (!r->mom || !r->vel || !r->cur || !r->bestp) {
        run_free(r);
        return fa_qlearn_oom(l);
    }
    memcpy(r->cur, l->p, np * sizeof(float));
    memcpy(r->bestp, l->p, np * sizeof(float));
    fa_status st = eval_loss(l, ev, &r->best);
    r->start = r->best;
    if (st)
        run_free(r);
    return st;
}

/* Tokens per minibatch: fewer for wide sites, whose steps cost ~d². */
static int64_t batch_rows(const fa_qlearn *l) { return l->d > 384 ? BATCH_ROWS / 2 : BATCH_ROWS; }

/* Continues run |r| up to step |t_end| of a |steps|-step cosine schedule; leaves its current
 * parameters in r->cur and the best seen on |ev| in r->bestp. Errors: out of memory only (a
 * singular transform or a non-finite loss stops the run). */
static fa_status train(fa_qlearn *l, run *r, int t_end, int steps, const fa_qlearn_batch *ev,
                       uint64_t *rng, const char *tag) {
    const int64_t bsz = batch_rows(l);
    const bool full = l->site.rows <= bsz; /* then ev holds every row: train on it */
    const size_t np = (size_t)l->np;
    if (r->stopped || r->t >= t_end)
        return FA_OK;
    float *grad = malloc(np * sizeof(float));
    fa_qlearn_sampler sp = {0};
    fa_qlearn_batch tb = {0};
    fa_status st = FA_OK;
    bool have_tb = false;
    if (!grad || (!full && !fa_qlearn_sampler_init(&sp, &l->site, bsz, rng))) {
        st = fa_qlearn_oom(l);
        goto done;
    }
    if (!full) {
        int64_t cap = 0;
        for (unsigned k = 0; k < l->K; k++)
            cap += sp.cnt[k];
        if ((st = fa_qlearn_batch_init(&tb, &l->site, cap)))
            goto done;
        have_tb = true;
    }
    memcpy(l->p, r->cur, np * sizeof(float));
    int report = steps >= 10 ? steps / 10 : 1;
    for (; r->t < t_end; r->t++) {
        const int t = r->t;
        if (!full)
            fa_qlearn_sampler_next(&sp, &l->site, &tb, rng);
        double loss;
        fa_status ds = derive(l);
        if (!ds)
            ds = fa_qlearn_site_loss(&l->site, full ? ev : &tb, l->a, l->m, l->ca, l->cw, &loss,
                                     &l->g);
        if (ds || !isfinite(loss)) {
            if (l->cfg.verbose > 0)
                fprintf(stderr, "%s: %s: stopped at step %d: %s\n", l->site.name, tag, t,
                        ds ? fa_status_message(ds) : "non-finite loss");
            if (ds && fa_status_code_of(ds) == FA_STATUS_OUT_OF_MEMORY) {
                st = ds;
                goto done;
            }
            fa_status_free(ds);
            r->stopped = true;
            break;
        }
        if (full && loss < r->best)
            r->best = loss, r->best_step = t, memcpy(r->bestp, l->p, np * sizeof(float));
        backward(l, grad);
        float sched = 0.5f * (1.0f + cosf((float)M_PI * (float)t / (float)steps));
        float bc1 = 1.0f - powf(0.9f, (float)(t + 1)), bc2 = 1.0f - powf(0.999f, (float)(t + 1));
        for (int gi = 0; gi < l->ngroups; gi++) {
            const group *g = &l->grp[gi];
            float lr = g->lr * sched;
            for (int64_t i = g->off; i < g->off + g->len; i++) {
                float gv = isfinite(grad[i]) ? grad[i] : 0.0f;
                r->mom[i] = 0.9f * r->mom[i] + 0.1f * gv;
                r->vel[i] = 0.999f * r->vel[i] + 0.001f * gv * gv;
                l->p[i] -= lr * (r->mom[i] / bc1) / (sqrtf(r->vel[i] / bc2) + 1e-8f);
            }
        }
        bool last = t + 1 == t_end;
        if ((!full && ((t + 1) % EVAL_EVERY == 0 || last)) || (full && last)) {
            double el;
            fa_status es = eval_loss(l, ev, &el);
            if (es && fa_status_code_of(es) == FA_STATUS_OUT_OF_MEMORY) {
                st = es;
                goto done;
            }
            fa_status_free(es);
            if (!es && el < r->best)
                r->best = el, r->best_step = t + 1, memcpy(r->bestp, l->p, np * sizeof(float));
        }
        if (l->cfg.verbose > 0 && ((t + 1) % report == 0 || t == 0))
            fprintf(stderr, "%s: %s: step %d/%d loss %.5g (best %.5g) lr %.3g\n", l->site.name, tag,
                    t + 1, steps, loss, r->best, l->grp[0].lr * sched);
    }
    memcpy(r->cur, l->p, np * sizeof(float));
    if (l->cfg.verbose > 0)
        fprintf(stderr, "%s: %s: loss %.5g -> %.5g after %d steps (best at step %d)\n",
                l->site.name, tag, r->start, r->best, r->t, r->best_step);
done:
    free(grad), free(sp.mem);
    if (have_tb)
        fa_qlearn_batch_deinit(&tb);
    return st;
}

/* σ: keep SmoothQuant's start or 0, whichever gives the lower loss on |ev|. */
static fa_status pick_sigma(fa_qlearn *l, const fa_qlearn_batch *ev) {
    double smooth, zero;
    FA_TRY(eval_loss(l, ev, &smooth));
    const group *g = &l->grp[l->gsig];
    float *keep = malloc((size_t)g->len * sizeof(float));
    if (!keep)
        return fa_qlearn_oom(l);
    memcpy(keep, l->p + g->off, (size_t)g->len * sizeof(float));
    memset(l->p + g->off, 0, (size_t)g->len * sizeof(float));
    fa_status st = eval_loss(l, ev, &zero);
    if (!st && zero >= smooth)
        memcpy(l->p + g->off, keep, (size_t)g->len * sizeof(float));
    if (l->cfg.verbose > 0 && !st)
        fprintf(stderr, "%s: sigma start: smoothquant %.5g, zero %.5g\n", l->site.name, smooth,
                zero);
    free(keep);
    return st ? st : derive(l);
}

/* The largest over types of ‖X_k A_k M − X_k‖_F / ‖X_k‖_F on the site's rows (l->a, l->m as
 * derived); -1 if out of memory. */
static double max_equiv_error(const fa_qlearn *l, const fa_qsite_data *data) {
    const int64_t d = l->d, rows = data->rows;
    const size_t dd = (size_t)(d * d);
    float *am = malloc(dd * sizeof *am), *xk = malloc((size_t)(rows * d) * sizeof *xk);
    float *y = malloc((size_t)(rows * d) * sizeof *y);
    double worst = -1;
    if (am && xk && y) {
        worst = 0;
        for (unsigned k = 0; k < l->K; k++) {
            int64_t nk = 0;
            for (int64_t r = 0; r < rows; r++)
                if ((data->type ? data->type[r] : 0) == k)
                    memcpy(xk + (nk++) * d, data->x + r * d, (size_t)d * sizeof *xk);
            if (nk == 0)
                continue;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0f,
                        l->a + k * dd, (int)d, l->m, (int)d, 0.0f, am, (int)d);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nk, (int)d, (int)d, 1.0f,
                        xk, (int)d, am, (int)d, 0.0f, y, (int)d);
            double num = 0, den = 0;
            for (int64_t i = 0; i < nk * d; i++) {
                double e = (double)y[i] - xk[i];
                num += e * e;
                den += (double)xk[i] * xk[i];
            }
            double rel = den > 0 ? sqrt(num / den) : 0;
            worst = rel > worst ? rel : worst;
        }
    }
    free(am), free(xk), free(y);
    return worst;
}

static void write_result(const fa_qlearn *l, fa_qsite_result *out, float *w_clip) {
    const size_t dd = (size_t)(l->d * l->d);
    memcpy(out->a, l->a, l->K * dd * sizeof(float));
    memcpy(out->m, l->m, dd * sizeof(float));
    bool zero_z = true;
    if (l->method == FA_QMETHOD_FREEACT_NS)
        for (int64_t i = 0; i < l->grp[0].len && zero_z; i++)
            zero_z = l->p[l->grp[0].off + i] == 0.0f;
    const char *kind = l->method == FA_QMETHOD_FLATQUANT              ? "kron"
                       : l->method == FA_QMETHOD_FREEACT_NS && zero_z ? "hadamard"
                                                                      : "dense";
    for (unsigned k = 0; k < FA_QSITE_TYPES_MAX; k++) {
        out->act_clip[k] = k < l->K ? l->ca[k] : 1.0f;
        snprintf(out->kinds[k], sizeof out->kinds[k], "%s", k < l->K ? kind : "identity");
    }
    out->exclusive = l->method == FA_QMETHOD_FREEACT      ? l->e
                     : l->method == FA_QMETHOD_FREEACT_NS ? (int)l->rank
                                                          : 0;
    out->identity = false;
    for (int64_t r = 0; r < l->n; r++)
        w_clip[r] = l->cw[r];
}

fa_status fa_qlearn_fit_ex(const fa_qsite_data *data, fa_qmethod method, const fa_qconfig *cfg,
                           int steps, fa_qsite_result *out, float *w_clip, fa_qlearn_report *rep) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fa_qlearn *l;
    FA_TRY(learner_create(data, method, cfg, &l));
    FA_ASSERT(out->d == l->d && out->n == l->n && out->num_types == l->K);
    fa_qlearn_report r = {0};
    r.steps = steps;
    uint64_t rng = cfg->seed, srng = cfg->seed ^ 0x5851f42d4c957f2dull;
    fa_qlearn_batch ev = {0};
    float *bestp = malloc((size_t)l->np * sizeof(float));
    bool have_ev = false, have_best = false;
    double best = INFINITY;
    fa_status st = bestp ? FA_OK : fa_qlearn_oom(l), first_err = FA_OK;
    if (!st)
        st = fa_qlearn_batch_sample(&l->site, EVAL_ROWS, &srng, &ev);
    have_ev = !st;
    if (!st && method == FA_QMETHOD_FREEACT_NS)
        st = fa_qlearn_start_ns(l, &rng);
    /* freeact races its two starts for the first fifth of the schedule, then only the better
     * one goes on (with its optimizer state); the others train one start throughout. */
    const int starts = method == FA_QMETHOD_FREEACT ? 2 : 1;
    const int race = starts > 1 ? steps / 5 : steps;
    run runs[2] = {0};
    bool ok_start[2] = {false, false};
    const char *tags[2] = {fa_qmethod_name(method), NULL};
    if (method == FA_QMETHOD_FREEACT)
        tags[0] = "freeact/closed", tags[1] = "freeact/random";
    for (int which = 0; which < starts && !st; which++) {
        fa_status ss = init_start(l, which, &rng);
        if (!ss && l->gsig >= 0 && !(method == FA_QMETHOD_FREEACT && which == 0))
            ss = pick_sigma(l, &ev);
        if (!ss && !(ss = run_init(l, &runs[which], &ev))) {
            ok_start[which] = true;
            ss = train(l, &runs[which], race, steps, &ev, &srng, tags[which]);
        }
        if (ss) { /* a failed start (e.g. singular): try the next, report if none works */
            if (fa_status_code_of(ss) == FA_STATUS_OUT_OF_MEMORY) {
                st = ss;
                break;
            }
            if (cfg->verbose > 0)
                fprintf(stderr, "%s: %s: start failed: %s\n", l->site.name, tags[which],
                        fa_status_message(ss));
            if (first_err)
                fa_status_free(ss);
            else
                first_err = ss;
            if (ok_start[which])
                run_free(&runs[which]);
            ok_start[which] = false;
        }
    }
    int win = -1;
    for (int which = 0; which < starts && !st; which++)
        if (ok_start[which] && (win < 0 || runs[which].best < runs[win].best))
            win = which;
    if (!st && win >= 0) {
        st = train(l, &runs[win], steps, steps, &ev, &srng, tags[win]);
        have_best = !st;
        best = runs[win].best;
        r.chosen_start = win;
        memcpy(bestp, runs[win].bestp, (size_t)l->np * sizeof(float));
    }
    for (int which = 0; which < starts; which++)
        if (ok_start[which]) {
            double *s0 = which ? &r.start_loss2 : &r.start_loss1;
            double *s1 = which ? &r.final_loss2 : &r.final_loss1;
            *s0 = runs[which].start, *s1 = runs[which].best;
            run_free(&runs[which]);
        }
    if (!st && !have_best)
        st = first_err, first_err = FA_OK;
    if (!st) {
        memcpy(l->p, bestp, (size_t)l->np * sizeof(float));
        st = derive(l);
    }
    if (!st && method == FA_QMETHOD_FREEACT && l->owner) {
        double eq = max_equiv_error(l, data);
        if (eq < 0) {
            st = fa_qlearn_oom(l);
        } else if (eq > FREEACT_EQUIV_MAX) {
            if (cfg->verbose > 0)
                fprintf(stderr, "%s: freeact: equivalence error %.3g with exclusive channels; "
                        "dropping them\n", l->site.name, eq);
            free(l->owner);
            l->owner = NULL;
            l->e = 0;
            st = derive(l);
        }
    }
    if (!st) {
        r.start_loss = r.chosen_start ? r.start_loss2 : r.start_loss1;
        r.final_loss = r.chosen_start ? r.final_loss2 : r.final_loss1;
        write_result(l, out, w_clip);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (cfg->verbose > 0)
            fprintf(stderr, "%s: %s: final loss %.5g (start %d), %.2f s\n", l->site.name,
                    fa_qmethod_name(method), best, r.chosen_start,
                    (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
        if (rep)
            *rep = r;
    }
    fa_status_free(first_err);
    if (have_ev)
        fa_qlearn_batch_deinit(&ev);
    free(bestp);
    fa_qlearn_destroy(l);
    return st;
}

fa_status fa_qlearn_fit(const fa_qsite_data *data, fa_qmethod method, const fa_qconfig *cfg,
                        fa_qsite_result *out, float *w_clip) {
    return fa_qlearn_fit_ex(data, method, cfg, cfg->steps > 0 ? cfg->steps : DEFAULT_STEPS, out,
                            w_clip, NULL);
}

fa_status fa_qlearn_evaluate(const fa_qsite_data *data, const fa_qconfig *cfg, const float *a,
                             const float *m, const float *act_clip, const float *w_clip,
                             double *loss) {
    fa_qlearn_site s;
    FA_TRY(fa_qlearn_site_init(&s, data, cfg));
    fa_qlearn_batch b;
    fa_status st = fa_qlearn_batch_full(&s, &b);
    bool have_b = !st;
    float *cw = st ? NULL : malloc((size_t)s.n * sizeof(float));
    if (!st && !cw)
        st = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", s.name);
    if (!st) {
        for (int64_t r = 0; r < s.n; r++)
            cw[r] = w_clip ? w_clip[r] : 1.0f;
        st = fa_qlearn_site_loss(&s, &b, a, m, act_clip, cw, loss, NULL);
    }
    if (have_b)
        fa_qlearn_batch_deinit(&b);
    free(cw);
    fa_qlearn_site_deinit(&s);
    return st;
}
