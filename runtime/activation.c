/* freeact's fused activations: swiglu (g * sigmoid(g) * u) and gelu (erf or tanh form), the
 * targets of the fuse-activations pass. f32 in and out; each element is computed in double, so
 * the result is the correctly rounded formula up to a few ulps of libm, with no overflow or
 * cancellation for large |x|. */
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"

/* sigmoid(x) without overflow: exp of a non-positive argument only. */
static double sigmoid(double x) {
    if (x >= 0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

fa_status fa_rt_swiglu(fa_rt_in g, fa_rt_in u, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (g->dtype != FA_DT_F32)
        return fa_rt_err_dtype("swiglu", g->dtype);
    if (u->dtype != FA_DT_F32)
        return fa_rt_err_dtype("swiglu", u->dtype);
    if (!fa_rt_tensor_same_shape(g, u))
        return fa_rt_err("swiglu", "g and u must have the same shape (no broadcasting)");
    FA_TRY(fa_rt_alloc_out("swiglu", out, FA_DT_F32, g->rank, g->dims, al));
    const float *gp = g->data, *up = u->data;
    float *y = out->data;
    uint64_t n = fa_rt_tensor_num_elements(g);
    for (uint64_t i = 0; i < n; i++) {
        double x = gp[i];
        y[i] = (float)(x * sigmoid(x) * (double)up[i]);
    }
    return FA_OK;
}

fa_status fa_rt_gelu(fa_rt_in x, bool tanh_approx, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (x->dtype != FA_DT_F32)
        return fa_rt_err_dtype("gelu", x->dtype);
    FA_TRY(fa_rt_alloc_out("gelu", out, FA_DT_F32, x->rank, x->dims, al));
    const float *xp = x->data;
    float *y = out->data;
    uint64_t n = fa_rt_tensor_num_elements(x);
    /* 0.5 (1 + erf(z)) = 0.5 erfc(-z): no cancellation for large negative x */
    const double inv_sqrt2 = 0.70710678118654752440, k = 0.79788456080286535588; /* sqrt(2/pi) */
    for (uint64_t i = 0; i < n; i++) {
        double v = xp[i];
        double cdf = tanh_approx ? 0.5 * (1.0 + tanh(k * (v + 0.044715 * v * v * v)))
                                 : 0.5 * erfc(-v * inv_sqrt2);
        y[i] = (float)(v * cdf);
    }
    return FA_OK;
}
