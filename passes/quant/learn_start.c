/* The starting points of the learned transforms (learn.c): FreeAct's closed-form exclusive
 * channels from a generalized eigenproblem, and freeact-ns's span U, Hadamard H and P⊥ H. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/quant/learn_internal.h"
#include "passes/quant/qmath.h"

/* |out| [d, d] (double) := Σ over rows of type |k| (all rows if k < 0) of (x / s)ᵀ (x / s),
 * divided by the row count; |s| may be NULL. Returns the row count. */
static int64_t covariance(const fa_qlearn *l, int k, const float *s, double *out, double *buf,
                          int64_t chunk) {
    const int64_t d = l->d;
    memset(out, 0, (size_t)(d * d) * sizeof(double));
    int64_t cnt = 0, fill = 0;
    for (int64_t r = 0; r <= l->site.rows; r++) {
        if (r < l->site.rows && (k < 0 || (l->site.type ? l->site.type[r] : 0) == (unsigned)k)) {
            for (int64_t j = 0; j < d; j++)
                buf[fill * d + j] = l->site.x[r * d + j] / (s ? s[j] : 1.0f);
            fill++, cnt++;
        }
        if (fill == chunk || (r == l->site.rows && fill > 0)) {
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)fill, 1.0, buf, (int)d,
                        1.0, out, (int)d);
            fill = 0;
        }
    }
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < d; j++)
            out[i * d + j] = j >= i ? out[i * d + j] / (cnt ? cnt : 1) : out[j * d + i];
    return cnt;
}

static fa_status lapack_error(const fa_qlearn *l, const char *what, int info) {
    return fa_status_make(FA_STATUS_INTERNAL, "%s: LAPACK %s failed (info %d)", l->site.name, what,
                          info);
}

/* FreeAct's closed-form start for T (params group 0, σ already set): exclusive columns of type
 * k = generalized eigenvectors of (Σ_other + ρ_o I, Σ_k + ρ_k I) with the smallest eigenvalues,
 * in the σ-scaled space (ρ = 1e-8 of the mean diagonal: directions with no energy in any type get
 * λ ≈ ρ_o / ρ_k, well above the exclusive ones'); shared columns = an orthonormal basis of the rest
 * times a randomized Hadamard. */
fa_status fa_qlearn_start_closed_form(fa_qlearn *l, uint64_t *rng) {
    const int64_t d = l->d, ke = (int64_t)l->K * l->e, chunk = 256;
    float *T = l->p + l->grp[0].off, *s = l->s;
    const float *sig = l->p + l->grp[l->gsig].off;
    for (int64_t i = 0; i < d; i++)
        s[i] = expf(sig[i]);
    size_t dd = (size_t)(d * d);
    double *cov = malloc((l->K + 3) * dd * sizeof(double));
    double *buf = malloc((size_t)(chunk * d) * sizeof(double));
    double *w = malloc((size_t)d * sizeof(double)), *tau = malloc((size_t)d * sizeof(double));
    float *hd = malloc(dd * sizeof(float));
    fa_status st = FA_OK;
    if (!cov || !buf || !w || !tau || !hd) {
        st = fa_qlearn_oom(l);
        goto done;
    }
    double *ga = cov + l->K * dd, *gb = ga + dd, *q = gb + dd;
    for (unsigned k = 0; k < l->K; k++)
        covariance(l, (int)k, s, cov + k * dd, buf, chunk);
    memset(q, 0, dd * sizeof(double));
    for (unsigned k = 0; k < l->K && ke > 0; k++) {
        int64_t col0 = d - ke + (int64_t)k * l->e;
        if (l->site.type_rows[k] == 0) { /* no data: random directions */
            for (int64_t i = 0; i < d; i++)
                for (int64_t j = 0; j < l->e; j++)
                    q[i * d + col0 + j] = fa_qmath_rng_normal(rng);
            continue;
        }
        double tra = 0, trb = 0;
        memset(ga, 0, dd * sizeof(double));
        for (unsigned o = 0; o < l->K; o++)
            if (o != k)
                for (size_t i = 0; i < dd; i++)
                    ga[i] += cov[o * dd + i];
        memcpy(gb, cov + k * dd, dd * sizeof(double));
        for (int64_t i = 0; i < d; i++)
            tra += ga[i * d + i], trb += gb[i * d + i];
        for (int64_t i = 0; i < d; i++) {
            ga[i * d + i] += 1e-8 * tra / d + 1e-30;
            gb[i * d + i] += 1e-8 * trb / d + 1e-30;
        }
        int info = LAPACKE_dsygv(LAPACK_ROW_MAJOR, 1, 'V', 'U', (int)d, ga, (int)d, gb, (int)d, w);
        if (info) {
            st = lapack_error(l, "dsygv", info);
            goto done;
        }
        for (int64_t j = 0; j < l->e; j++) { /* ascending: the first e, normalized */
            double nrm = 0;
            for (int64_t i = 0; i < d; i++)
                nrm += ga[i * d + j] * ga[i * d + j];
            nrm = sqrt(nrm) + 1e-300;
            for (int64_t i = 0; i < d; i++)
                q[i * d + col0 + j] = ga[i * d + j] / nrm;
        }
    }
    /* The exclusive columns sit at d - ke ..; QR of them gives the complement's basis. */
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < ke; j++)
            gb[i * d + j] = q[i * d + d - ke + j];
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = ke; j < d; j++)
            gb[i * d + j] = 0.0;
    if (ke > 0) {
        int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)d, (int)ke, gb, (int)d, tau);
        if (!info)
            for (int64_t j = 0; j < ke && !info; j++)
                if (fabs(gb[j * d + j]) < 1e-6)
                    info = (int)j + 1;
        if (info) {
            st = fa_status_make(FA_STATUS_INTERNAL,
                                "%s: singular transform: exclusive directions are dependent",
                                l->site.name);
            goto done;
        }
        info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)d, (int)d, (int)ke, gb, (int)d, tau);
        if (info) {
            st = lapack_error(l, "dorgqr", info);
            goto done;
        }
    } else {
        for (int64_t i = 0; i < d; i++)
            gb[i * d + i] = 1.0;
    }
    int64_t ns = d - ke;
    st = fa_qmath_hadamard(ns, rng, hd);
    if (st)
        goto done;
    for (int64_t i = 0; i < d; i++) {
        for (int64_t j = 0; j < ns; j++) {
            double acc = 0;
            for (int64_t t = 0; t < ns; t++)
                acc += gb[i * d + ke + t] * hd[t * ns + j];
            T[i * d + j] = (float)acc;
        }
        for (int64_t j = ns; j < d; j++)
            T[i * d + j] = (float)q[i * d + j];
    }
done:
    free(cov), free(buf), free(w), free(tau), free(hd);
    return st;
}

/* freeact-ns: U from the eigenvectors of XᵀX holding energy ns_energy, H, P⊥ H and M. */
fa_status fa_qlearn_start_ns(fa_qlearn *l, uint64_t *rng) {
    const int64_t d = l->d, chunk = 256;
    size_t dd = (size_t)(d * d);
    double *cov = malloc(dd * sizeof(double)), *buf = malloc((size_t)(chunk * d) * sizeof(double));
    double *ev = malloc((size_t)d * sizeof(double));
    float *u = malloc(dd * sizeof(float));
    fa_status st = FA_OK;
    if (!cov || !buf || !ev || !u) {
        st = fa_qlearn_oom(l);
        goto done;
    }
    covariance(l, -1, NULL, cov, buf, chunk);
    int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (int)d, cov, (int)d, ev);
    if (info) {
        st = lapack_error(l, "dsyevd", info);
        goto done;
    }
    double total = 0, keep = l->cfg.ns_energy > 0 ? l->cfg.ns_energy : 1.0 - 1e-4, acc = 0;
    for (int64_t i = 0; i < d; i++)
        total += fmax(ev[i], 0.0);
    int64_t r = 0;
    while (r < d && (total <= 0 || acc < keep * total))
        acc += fmax(ev[d - 1 - r], 0.0), r++;
    l->rank = r;
    if (r == d) /* P⊥ = 0: Z_k has no effect; keep it 0 (A_k stays the Hadamard) */
        l->grp[0].lr = 0.0f;
    for (int64_t i = 0; i < d; i++) /* U [d, r]: eigenvectors in descending order */
        for (int64_t j = 0; j < r; j++)
            u[i * r + j] = (float)cov[i * d + d - 1 - j];
    st = fa_qmath_hadamard(d, rng, l->h);
    if (st)
        goto done;
    /* P⊥ H = H - U (Uᵀ H); M = (Hᵀ U) Uᵀ. */
    memcpy(l->bperp, l->h, dd * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)d, (int)d, 1.0f, u, (int)r,
                l->h, (int)d, 0.0f, l->t1, (int)d);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)r, -1.0f, u, (int)r,
                l->t1, (int)d, 1.0f, l->bperp, (int)d);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)r, (int)d, 1.0f, l->h, (int)d,
                u, (int)r, 0.0f, l->t1, (int)r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d, (int)d, (int)r, 1.0f, l->t1,
                (int)r, u, (int)r, 0.0f, l->m, (int)d);
done:
    free(cov), free(buf), free(ev), free(u);
    return st;
}

