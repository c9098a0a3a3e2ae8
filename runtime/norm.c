/* freeact's normalization kernels: rms_norm (over the last axis) and layer_norm (ONNX
 * LayerNormalization without the statistics outputs, scale optional), the targets of the
 * fuse-norms pass. Floats only; row statistics accumulate in double, f32 rows load and store
 * directly, other float dtypes go through double. */
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"

static double load(fa_dtype dt, const void *data, uint64_t i) {
    return dt == FA_DT_F32 ? (double)((const float *)data)[i] : fa_rt_load_f64(dt, data, i);
}

static void store(fa_dtype dt, void *data, uint64_t i, double v) {
    if (dt == FA_DT_F32)
        ((float *)data)[i] = (float)v;
    else
        fa_rt_store_f64(dt, data, i, v);
}

/* True if |t| broadcasts unidirectionally to x's dims [axis, rank); with |exact|, it must have
 * exactly those dims. */
static bool fits_tail(const fa_rt_tensor *t, const fa_rt_tensor *x, int axis, bool exact) {
    int tail = x->rank - axis;
    if (t->rank > tail || (exact && t->rank != tail))
        return false;
    for (int i = 0; i < t->rank; i++) {
        int64_t d = t->dims[i], xd = x->dims[x->rank - t->rank + i];
        if (d != xd && (exact || d != 1))
            return false;
    }
    return true;
}

/* Expands |t| (broadcast to the |len| elements of x's dims [axis, rank)) into |dst|. */
static void expand_tail(const fa_rt_tensor *t, const fa_rt_tensor *x, uint64_t len, double *dst) {
    for (uint64_t k = 0; k < len; k++) {
        uint64_t rest = k, off = 0, mul = 1;
        for (int i = x->rank - 1, ti = t->rank - 1; ti >= 0; i--, ti--) {
            uint64_t xd = (uint64_t)x->dims[i], c = rest % xd;
            rest /= xd;
            if (t->dims[ti] != 1)
                off += c * mul;
            mul *= (uint64_t)t->dims[ti];
        }
        dst[k] = load(t->dtype, t->data, off);
    }
}

/* Normalizes |outer| rows of |len| elements of |x| into |out|; |scale| / |shift| hold |len|
 * values each or are NULL. */
static void norm_rows(fa_rt_norm_kind kind, const fa_rt_tensor *x, uint64_t outer, uint64_t len,
                      double epsilon, const double *scale, const double *shift, fa_rt_tensor *out) {
    fa_dtype dt = x->dtype;
    for (uint64_t r = 0; r < outer; r++) {
        uint64_t base = r * len;
        double mean = 0, sq = 0;
        if (kind == FA_RT_NORM_LAYER) {
            for (uint64_t k = 0; k < len; k++)
                mean += load(dt, x->data, base + k);
            mean /= (double)len;
        }
        for (uint64_t k = 0; k < len; k++) {
            double d = load(dt, x->data, base + k) - mean;
            sq += d * d;
        }
        double inv = 1.0 / sqrt(sq / (double)len + epsilon);
        for (uint64_t k = 0; k < len; k++) {
            double v = (load(dt, x->data, base + k) - mean) * inv;
            if (scale)
                v *= scale[k];
            if (shift)
                v += shift[k];
            store(dt, out->data, base + k, v);
        }
    }
}

fa_status fa_rt_norm(fa_rt_norm_kind kind, fa_rt_in x, fa_rt_in gamma, fa_rt_in beta, int64_t axis,
                     double epsilon, fa_rt_tensor *out, fa_rt_al al) {
    bool rms = kind == FA_RT_NORM_RMS;
    const char *name = rms ? "rms_norm" : "layer_norm";
    memset(out, 0, sizeof *out);
    if (!fa_rt_is_float(x->dtype))
        return fa_rt_err_dtype(name, x->dtype);
    if ((gamma && !fa_rt_is_float(gamma->dtype)) || (beta && !fa_rt_is_float(beta->dtype)))
        return fa_rt_err(name, "gamma and beta must be float tensors");
    if (x->rank < 1)
        return fa_rt_err(name, "x must have rank >= 1");
    int ax;
    FA_TRY(fa_rt_norm_axis(name, axis, x->rank, &ax));
    if (rms && ax != x->rank - 1)
        return fa_rt_err(name, "only the last axis is supported (axis %lld, rank %d)",
                         (long long)axis, x->rank);
    if (rms && beta)
        return fa_rt_err(name, "takes no beta");
    if (rms && gamma && !fits_tail(gamma, x, ax, true))
        return fa_rt_err(name, "gamma must have shape [%lld]", (long long)x->dims[x->rank - 1]);
    if (gamma && !fits_tail(gamma, x, ax, false))
        return fa_rt_err(name, "gamma does not broadcast to the normalized dims");
    if (beta && !fits_tail(beta, x, ax, false))
        return fa_rt_err(name, "beta does not broadcast to the normalized dims");
    uint64_t outer = 1, len = 1;
    for (int i = 0; i < x->rank; i++)
        *(i < ax ? &outer : &len) *= (uint64_t)x->dims[i];
    FA_TRY(fa_rt_alloc_out(name, out, x->dtype, x->rank, x->dims, al));
    if (outer == 0 || len == 0)
        return FA_OK;
    /* gamma and beta expanded to one row each: |len| <= x's element count, so no overflow */
    double *params = NULL;
    unsigned nparams = (gamma != NULL) + (beta != NULL);
    if (nparams) {
        params = al->alloc(al->user, sizeof *params * nparams * (size_t)len, 64);
        if (!params) {
            fa_rt_tensor_free(out, al);
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", name);
        }
    }
    double *scale = gamma ? params : NULL, *shift = beta ? params + (gamma ? len : 0) : NULL;
    if (scale)
        expand_tail(gamma, x, len, scale);
    if (shift)
        expand_tail(beta, x, len, shift);
    norm_rows(kind, x, outer, len, epsilon, scale, shift, out);
    al->free(al->user, params);
    return FA_OK;
}
