/* Internals of the learned transforms (learn.c, learn_grad.c): the site loss with its
 * straight-through gradients, and hooks the tests use (a switch that turns rounding off, a
 * parameter view for finite differences, the loss of a given transform). Not for other passes. */
#ifndef FA_PASSES_QUANT_LEARN_INTERNAL_H
#define FA_PASSES_QUANT_LEARN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "passes/quant/qsite.h"

/* Test-only: when true, both quantizers map v -> clamp(v / scale) * scale without rint, so the
 * site loss is differentiable almost everywhere and finite differences can check the gradients.
 * Default false. */
extern bool fa_qlearn_no_rounding;

/* ---- The site loss (learn_grad.c) ---------------------------------------------------------- */

/* One site's data as the optimizer sees it: the lent inputs plus the full-precision targets. */
typedef struct fa_qlearn_site {
    const char *name;
    int64_t d, n, rows;
    unsigned num_types;
    const float *x;      /* [rows, d], lent */
    const uint8_t *type; /* [rows] or NULL, lent */
    const float *w;      /* [n, d], lent */
    float *target;       /* [rows, n] = X Wᵀ, owned */
    double *target_sq;   /* [rows] ‖row of target‖², owned */
    int64_t type_rows[FA_QSITE_TYPES_MAX];
    int a_bits, w_bits, group;
} fa_qlearn_site;

/* A set of rows, grouped by type: rows start[k] .. start[k + 1] - 1 of |x| / |t| are of type k. */
typedef struct fa_qlearn_batch {
    int64_t rows, cap;
    int64_t start[FA_QSITE_TYPES_MAX + 1];
    float *x;                        /* [rows, d] */
    float *t;                        /* [rows, n] targets */
    double norm[FA_QSITE_TYPES_MAX]; /* Σ ‖t row‖² of each type */
} fa_qlearn_batch;

fa_status fa_qlearn_site_init(fa_qlearn_site *s, const fa_qsite_data *data, const fa_qconfig *cfg);
void fa_qlearn_site_deinit(fa_qlearn_site *s);

fa_status fa_qlearn_batch_init(fa_qlearn_batch *b, const fa_qlearn_site *s, int64_t cap);
void fa_qlearn_batch_deinit(fa_qlearn_batch *b);
/* Fills |b| with the rows |idx[k][0 .. count[k] - 1]| of each type k. */
void fa_qlearn_batch_fill(fa_qlearn_batch *b, const fa_qlearn_site *s, int64_t *const *idx,
                          const int64_t *count);

/* Gradients of the site loss with respect to what the quantized forward pass reads. */
typedef struct fa_qlearn_grads {
    float *a;                     /* [num_types, d, d] dL/dA_k */
    float *m;                     /* [d, d] dL/dM, or NULL when M is fixed (not computed) */
    float ca[FA_QSITE_TYPES_MAX]; /* dL/d(activation clip ratio of type k) */
    float *cw;                    /* [n] dL/d(weight clip ratio of each row) */
} fa_qlearn_grads;

/* The site loss L = Σ_k ‖Q_a(X_k A_k) Q_w(W Mᵀ)ᵀ − X_k Wᵀ‖² / ‖X_k Wᵀ‖² on batch |b| for
 * A_k = |a| [num_types, d, d], M = |m| [d, d], activation clip ratios |ca| [num_types] and weight
 * clip ratios |cw| [n]. Writes |*loss| and, when |g| is not NULL, the straight-through gradients
 * into |g| (overwritten). Errors: out of memory. */
fa_status fa_qlearn_site_loss(const fa_qlearn_site *s, const fa_qlearn_batch *b, const float *a,
                              const float *m, const float *ca, const float *cw, double *loss,
                              fa_qlearn_grads *g);

/* ---- Test hooks (learn.c) ------------------------------------------------------------------ */

/* One method's parameters on one site, at the method's (first) start. */
typedef struct fa_qlearn fa_qlearn;

fa_status fa_qlearn_create(const fa_qsite_data *data, fa_qmethod method, const fa_qconfig *cfg,
                           fa_qlearn **out);
void fa_qlearn_destroy(fa_qlearn *l);
/* The flat parameter vector, lent and writable; |*count| entries. */
float *fa_qlearn_params(fa_qlearn *l, int64_t *count);
/* Parameter groups ("P1", "P2", "T", "sigma", "Z", "clip_a", "clip_w"): returns the number of
 * groups; group |i|'s name, offset and length through the out-parameters when i < that number. */
int fa_qlearn_group(const fa_qlearn *l, int i, const char **out_name, int64_t *out_off,
                    int64_t *out_len);
/* The loss on all rows and, if |grad| ([count]) is not NULL, its gradient. */
fa_status fa_qlearn_loss_grad(fa_qlearn *l, double *loss, float *grad);

/* What a fit measured (on its evaluation rows). */
typedef struct fa_qlearn_report {
    double start_loss;  /* the chosen start, before training */
    double final_loss;  /* the parameters returned (best seen) */
    double start_loss1; /* freeact: the closed-form start, before training */
    double final_loss1; /* freeact: ... after training */
    double start_loss2; /* freeact: the second start (random orthogonal), before training */
    double final_loss2; /* freeact: ... after training */
    int chosen_start;   /* freeact: 0 closed-form, 1 random orthogonal */
    int steps;
} fa_qlearn_report;

/* fa_qlearn_fit with an explicit step count (|steps| >= 0; 0 returns the start) and an optional
 * report. */
fa_status fa_qlearn_fit_ex(const fa_qsite_data *data, fa_qmethod method, const fa_qconfig *cfg,
                           int steps, fa_qsite_result *out, float *w_clip, fa_qlearn_report *rep);

/* The site loss (as above, with rounding) on all rows of |data| for a result's A_k, M and clip
 * ratios (|w_clip| [n], NULL: 1). */
fa_status fa_qlearn_evaluate(const fa_qsite_data *data, const fa_qconfig *cfg, const float *a,
                             const float *m, const float *act_clip, const float *w_clip,
                             double *loss);

/* ---- the learner's state (learn.c runs it, learn_start.c sets its starts) ---- */

#define FA_QLEARN_MAX_GROUPS 6

/* One parameter group: a slice of the parameter vector with its own learning rate. */
typedef struct group {
    const char *name;
    int64_t off, len;
    float lr;
} group;

struct fa_qlearn {
    fa_qmethod method;
    fa_qconfig cfg;
    fa_qlearn_site site;
    int64_t d, n;
    unsigned K;
    int ngroups;
    group grp[FA_QLEARN_MAX_GROUPS];
    int64_t np;
    float *p;
    int gsig, gca, gcw; /* group indices (-1: none) */
    /* Method constants. */
    int64_t d1, d2; /* flatquant: P = P1 ⊗ P2, P1 d1 x d1 */
    int e;          /* freeact: exclusive channels per type */
    int8_t *owner;  /* [d] freeact: the type owning channel j, -1 shared */
    int64_t rank;   /* freeact-ns: r */
    float *bperp;   /* [d, d] freeact-ns: P⊥ H; H is stored in h */
    float *h;
    /* Derived from p by derive(). */
    float *P, *Pinv, *s; /* shared-transform methods: P, P⁻¹, s = exp(σ) */
    float *a, *m, ca[FA_QSITE_TYPES_MAX], *cw;
    fa_qlearn_grads g;
    float *t1, *t2, *t3; /* [d, d] scratch */
    fa_qlearn_batch full;
    bool has_full;
};

/* An out-of-memory status naming the site. */
fa_status fa_qlearn_oom(const fa_qlearn *l);
/* FreeAct's closed-form start for T (parameter group 0; σ already set). */
fa_status fa_qlearn_start_closed_form(fa_qlearn *l, uint64_t *rng);
/* freeact-ns: U from the eigenvectors of XᵀX holding ns_energy of it, H, P⊥ H and M. */
fa_status fa_qlearn_start_ns(fa_qlearn *l, uint64_t *rng);

/* Draws minibatches per token type (learn_grad.c). */
typedef struct fa_qlearn_sampler {
    int64_t *rows[FA_QSITE_TYPES_MAX], *take[FA_QSITE_TYPES_MAX];
    int64_t cur[FA_QSITE_TYPES_MAX], cnt[FA_QSITE_TYPES_MAX];
    int64_t *mem;
} fa_qlearn_sampler;

/* Every row of the site as one batch. */
fa_status fa_qlearn_batch_full(const fa_qlearn_site *s, fa_qlearn_batch *b);
/* A batch of about |total| rows drawn per type by a fresh sampler. */
fa_status fa_qlearn_batch_sample(const fa_qlearn_site *s, int64_t total, uint64_t *rng,
                                 fa_qlearn_batch *b);
/* Starts a sampler for batches of about |total| rows; false if out of memory. */
bool fa_qlearn_sampler_init(fa_qlearn_sampler *sp, const fa_qlearn_site *s, int64_t total,
                            uint64_t *rng);
/* Fills |b| with the sampler's next batch. */
void fa_qlearn_sampler_next(fa_qlearn_sampler *sp, const fa_qlearn_site *s, fa_qlearn_batch *b,
                            uint64_t *rng);

#endif
