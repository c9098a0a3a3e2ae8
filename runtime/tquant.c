/* The fused "routed transform + per-token quantize" reference kernel: the plain C twin of the
 * generated kernel (codegen/tquant.c) for a routed_transform whose only use is a quantize
 * (ir/ops.def). Its arithmetic is defined exactly: per row, z_j = sum over i ascending of
 * x_i * a[k, i, j] in f32 (every product rounded, then added; never an FMA), then
 * fa_rt_quantize's rule on z. */
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"
#include "runtime/token_type.h"

/* Rows (all dims but the last) of |x| (rank >= 1). */
static uint64_t row_count(fa_rt_in x) {
    uint64_t rows = 1;
    for (int i = 0; i + 1 < x->rank; i++)
        rows *= (uint64_t)x->dims[i];
    return rows;
}

static fa_status check_args(const char *op, fa_rt_in x, fa_rt_in tt, fa_rt_in a, fa_rt_in clip,
                            int64_t bits) {
    if (bits != 4 && bits != 8)
        return fa_rt_err(op, "bits = %lld, expected 4 or 8", (long long)bits);
    if (x->dtype != FA_DT_F32 || a->dtype != FA_DT_F32)
        return fa_rt_err_dtype(op, x->dtype != FA_DT_F32 ? x->dtype : a->dtype);
    if (x->rank < 2)
        return fa_rt_err(op, "x has rank %d, expected >= 2", x->rank);
    int64_t d = x->dims[x->rank - 1];
    if (a->rank != 3 || a->dims[1] != d || a->dims[2] != d || a->dims[0] < 1 ||
        a->dims[0] > FA_RT_TOKEN_TYPES_MAX)
        return fa_rt_err(op, "a must be [K, %lld, %lld] with 1 <= K <= %d", (long long)d,
                         (long long)d, FA_RT_TOKEN_TYPES_MAX);
    if (clip) {
        if (clip->dtype != FA_DT_F32 || clip->rank != 1 || clip->dims[0] < 1 ||
            clip->dims[0] > FA_RT_TOKEN_TYPES_MAX)
            return fa_rt_err(op, "clip must be f32[K] with 1 <= K <= %d", FA_RT_TOKEN_TYPES_MAX);
        const float *ratios = clip->data;
        for (int64_t k = 0; k < clip->dims[0]; k++)
            if (!isfinite(ratios[k]) || ratios[k] < 0.0f)
                return fa_rt_err(op, "clip[%lld] = %g, expected a finite ratio >= 0", (long long)k,
                                 (double)ratios[k]);
    }
    FA_TRY(fa_rt_check_token_types(op, tt, x));
    if (tt) {
        /* Every type must have a transform and (with clip) a ratio. */
        int64_t ntypes = a->dims[0];
        if (clip && clip->dims[0] < ntypes)
            ntypes = clip->dims[0];
        const uint8_t *types = tt->data;
        uint64_t rows = row_count(x);
        for (uint64_t r = 0; r < rows; r++)
            if (types[r] >= ntypes)
                return fa_rt_err(op, "token %llu has type %u, but a and clip hold %lld types",
                                 (unsigned long long)r, (unsigned)types[r], (long long)ntypes);
    }
    return FA_OK;
}

fa_status fa_rt_transform_quantize(fa_rt_in x, fa_rt_in tt, fa_rt_in a, fa_rt_in clip, int64_t bits,
                                   fa_rt_tensor *out_codes, fa_rt_tensor *out_scales, fa_rt_al al) {
    const char *op = "transform_quantize";
    FA_TRY(check_args(op, x, tt, a, clip, bits));
    uint64_t rows = row_count(x);
    int64_t d = x->dims[x->rank - 1];
    int64_t sdims[FA_MAX_RANK];
    memcpy(sdims, x->dims, sizeof sdims);
    sdims[x->rank - 1] = 1;
    FA_TRY(fa_rt_alloc_out(op, out_codes, FA_DT_I8, x->rank, x->dims, al));
    fa_status s = fa_rt_alloc_out(op, out_scales, FA_DT_F32, x->rank, sdims, al);
    if (s) {
        fa_rt_tensor_free(out_codes, al);
        return s;
    }
    float *z = al->alloc(al->user, sizeof(float) * (size_t)(d ? d : 1), 64);
    if (!z) {
        fa_rt_tensor_free(out_codes, al);
        fa_rt_tensor_free(out_scales, al);
        return fa_rt_err(op, "out of memory for a row of %lld values", (long long)d);
    }
    const int qmax = bits == 4 ? 7 : 127;
    const float lo = (float)(-qmax - 1), hi = (float)qmax;
    const float *xs = x->data, *as = a->data, *ratios = clip ? clip->data : NULL;
    const uint8_t *types = tt ? tt->data : NULL;
    int8_t *codes = out_codes->data;
    float *scales = out_scales->data;
    for (uint64_t r = 0; r < rows; r++) {
        const float *xr = xs + r * (uint64_t)d;
        int k = types ? types[r] : 0;
        const float *ak = as + (uint64_t)k * (uint64_t)d * (uint64_t)d;
        /* i outer, j inner: each z_j still sums i = 0, 1, ... in order, and the inner loop
         * vectorizes. The product is its own statement so that no compiler contracts it. */
        memset(z, 0, sizeof(float) * (size_t)d);
        for (int64_t i = 0; i < d; i++) {
            const float xi = xr[i], *ai = ak + (uint64_t)i * (uint64_t)d;
            for (int64_t j = 0; j < d; j++) {
                float p = xi * ai[j];
                z[j] += p;
            }
        }
        float amax = 0.0f;
        for (int64_t j = 0; j < d; j++) {
            if (!isfinite(z[j])) {
                double bad = (double)z[j];
                al->free(al->user, z);
                fa_rt_tensor_free(out_codes, al);
                fa_rt_tensor_free(out_scales, al);
                return fa_rt_err(op,
                                 "row %llu transforms to a non-finite value (%g at column %lld)",
                                 (unsigned long long)r, bad, (long long)j);
            }
            amax = fabsf(z[j]) > amax ? fabsf(z[j]) : amax;
        }
        float m = (ratios ? ratios[k] : 1.0f) * amax;
        float scale = m / (float)qmax;
        scales[r] = scale;
        if (scale == 0.0f) { /* codes stay zero (the allocation zeroes them) */
            scales[r] = 0.0f;
            continue;
        }
        int8_t *cr = codes + r * (uint64_t)d;
        for (int64_t j = 0; j < d; j++) {
            float q = rintf(z[j] / scale);
            cr[j] = (int8_t)(q < lo ? lo : q > hi ? hi : q);
        }
    }
    al->free(al->user, z);
    return FA_OK;
}
