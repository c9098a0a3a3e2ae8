/* Reference kernels of the quantized graph (ir/ops.def, "freeact ops"): token_type,
 * routed_transform, quantize, qlinear, dequantize. Plain C whose arithmetic is defined exactly
 * (f32, fixed summation order, int32 dot products), so SIMD and generated kernels can be compared
 * with them bit for bit. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"
#include "runtime/token_type.h"

/* Largest group (or K when per channel) whose int8 x int8 dot product fits int32: |product| <=
 * 128 * 128 = 2^14, so 2^17 - 1 terms stay below 2^31. */
#define QDOT_MAX_LEN ((int64_t)131071)

/* Rows (all dims but the last) and row length of |x| (rank >= 1). */
static void rows_of(fa_rt_in x, uint64_t *rows, int64_t *len) {
    *len = x->dims[x->rank - 1];
    *rows = 1;
    for (int i = 0; i + 1 < x->rank; i++)
        *rows *= (uint64_t)x->dims[i];
}

fa_status fa_rt_token_type(const char *rule, fa_rt_in src, fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "token_type";
    fa_rt_token_rule r;
    FA_TRY(fa_status_prefix(fa_rt_token_rule_parse(rule, &r), "%s", op));
    if (src->rank < 2)
        return fa_rt_err(op, "source has rank %d, expected >= 2", src->rank);
    int64_t dims[2] = {src->dims[0], src->dims[1]};
    FA_TRY(fa_rt_alloc_out(op, out, FA_DT_U8, 2, dims, al));
    const fa_rt_tensor *source = r.kind == FA_RT_TOKEN_RULE_POSITION ? NULL : src;
    fa_status s = fa_rt_token_rule_eval(&r, source, dims[0], dims[1], out->data);
    if (s) {
        fa_rt_tensor_free(out, al);
        return fa_status_prefix(s, "%s", op);
    }
    return FA_OK;
}

fa_status fa_rt_routed_transform(fa_rt_in x, fa_rt_in tt, fa_rt_in a, fa_rt_tensor *out,
                                 fa_rt_al al) {
    const char *op = "routed_transform";
    if (x->dtype != FA_DT_F32 || a->dtype != FA_DT_F32)
        return fa_rt_err_dtype(op, x->dtype != FA_DT_F32 ? x->dtype : a->dtype);
    if (x->rank < 2)
        return fa_rt_err(op, "x has rank %d, expected >= 2", x->rank);
    uint64_t rows;
    int64_t d;
    rows_of(x, &rows, &d);
    if (a->rank != 3 || a->dims[1] != d || a->dims[2] != d || a->dims[0] < 1 ||
        a->dims[0] > FA_RT_TOKEN_TYPES_MAX)
        return fa_rt_err(op, "a must be [K, %lld, %lld] with 1 <= K <= %d", (long long)d,
                         (long long)d, FA_RT_TOKEN_TYPES_MAX);
    FA_TRY(fa_rt_check_token_types(op, tt, x));
    int64_t ntypes = a->dims[0];
    const uint8_t *types = tt ? tt->data : NULL;
    for (uint64_t r = 0; types && r < rows; r++)
        if (types[r] >= ntypes)
            return fa_rt_err(op, "token %llu has type %u, but a holds %lld transforms",
                             (unsigned long long)r, (unsigned)types[r], (long long)ntypes);
    FA_TRY(fa_rt_alloc_out(op, out, FA_DT_F32, x->rank, x->dims, al));
    const float *xs = x->data, *as = a->data;
    float *ys = out->data;
    /* Every matrix the identity (an RTN site): y = x exactly, so copy. */
    bool identity = true;
    for (int64_t k = 0; k < ntypes && identity; k++)
        for (int64_t i = 0; i < d && identity; i++)
            for (int64_t j = 0; j < d && identity; j++)
                identity = as[((uint64_t)k * (uint64_t)d + (uint64_t)i) * (uint64_t)d +
                              (uint64_t)j] == (i == j ? 1.0f : 0.0f);
    if (identity) {
        memcpy(ys, xs, sizeof *ys * rows * (uint64_t)d);
        return FA_OK;
    }
    /* One GEMM per token type: the rows of type k are gathered, multiplied by a[k] and
     * scattered back (no gathering when every token has type 0). */
    if (!types || ntypes == 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)d, (int)d, 1.0f, xs,
                    (int)d, as, (int)d, 0.0f, ys, (int)d);
        return FA_OK;
    }
    size_t bytes = sizeof(float) * rows * (uint64_t)d;
    float *gx = al->alloc(al->user, bytes ? bytes : 1, 64);
    float *gy = gx ? al->alloc(al->user, bytes ? bytes : 1, 64) : NULL;
    if (!gy) {
        if (gx)
            al->free(al->user, gx);
        fa_rt_tensor_free(out, al);
        return fa_rt_err(op, "out of memory for %llu rows", (unsigned long long)rows);
    }
    for (int64_t k = 0; k < ntypes; k++) {
        uint64_t n = 0;
        for (uint64_t r = 0; r < rows; r++)
            if (types[r] == k)
                memcpy(gx + (n++) * (uint64_t)d, xs + r * (uint64_t)d, sizeof(float) * (size_t)d);
        if (n == 0)
            continue;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d, (int)d, 1.0f, gx,
                    (int)d, as + (uint64_t)k * (uint64_t)d * (uint64_t)d, (int)d, 0.0f, gy,
                    (int)d);
        n = 0;
        for (uint64_t r = 0; r < rows; r++)
            if (types[r] == k)
                memcpy(ys + r * (uint64_t)d, gy + (n++) * (uint64_t)d, sizeof(float) * (size_t)d);
    }
    al->free(al->user, gx);
    al->free(al->user, gy);
    return FA_OK;
}

fa_status fa_rt_quantize(fa_rt_in x, fa_rt_in tt, fa_rt_in clip, int64_t bits,
                         fa_rt_tensor *out_codes, fa_rt_tensor *out_scales, fa_rt_al al) {
    const char *op = "quantize";
    if (bits != 4 && bits != 8)
        return fa_rt_err(op, "bits = %lld, expected 4 or 8", (long long)bits);
    if (x->dtype != FA_DT_F32)
        return fa_rt_err_dtype(op, x->dtype);
    if (x->rank < 1)
        return fa_rt_err(op, "x must have rank >= 1");
    FA_TRY(fa_rt_check_token_types(op, tt, x));
    int64_t ntypes = 1;
    const float *ratios = NULL;
    if (clip) {
        if (clip->dtype != FA_DT_F32 || clip->rank != 1 || clip->dims[0] < 1 ||
            clip->dims[0] > FA_RT_TOKEN_TYPES_MAX)
            return fa_rt_err(op, "clip must be f32[K] with 1 <= K <= %d", FA_RT_TOKEN_TYPES_MAX);
        ntypes = clip->dims[0];
        ratios = clip->data;
        for (int64_t k = 0; k < ntypes; k++)
            if (!isfinite(ratios[k]) || ratios[k] < 0.0f)
                return fa_rt_err(op, "clip[%lld] = %g, expected a finite ratio >= 0", (long long)k,
                                 (double)ratios[k]);
    }
    uint64_t rows;
    int64_t d;
    rows_of(x, &rows, &d);
    const uint8_t *types = tt ? tt->data : NULL;
    for (uint64_t r = 0; ratios && types && r < rows; r++)
        if (types[r] >= ntypes)
            return fa_rt_err(op, "token %llu has type %u, but clip holds %lld ratios",
                             (unsigned long long)r, (unsigned)types[r], (long long)ntypes);
    const float *xs = x->data;
    for (uint64_t i = 0; i < rows * (uint64_t)d; i++)
        if (!isfinite(xs[i]))
            return fa_rt_err(op, "row %llu holds a non-finite value (%g at column %llu)",
                             (unsigned long long)(i / (uint64_t)d), (double)xs[i],
                             (unsigned long long)(i % (uint64_t)d));
    int64_t sdims[FA_MAX_RANK];
    memcpy(sdims, x->dims, sizeof sdims);
    sdims[x->rank - 1] = 1;
    FA_TRY(fa_rt_alloc_out(op, out_codes, FA_DT_I8, x->rank, x->dims, al));
    fa_status s = fa_rt_alloc_out(op, out_scales, FA_DT_F32, x->rank, sdims, al);
    if (s) {
        fa_rt_tensor_free(out_codes, al);
        return s;
    }
    const int qmax = bits == 4 ? 7 : 127;
    const float lo = (float)(-qmax - 1), hi = (float)qmax;
    int8_t *codes = out_codes->data;
    float *scales = out_scales->data;
    for (uint64_t r = 0; r < rows; r++) {
        const float *xr = xs + r * (uint64_t)d;
        int8_t *cr = codes + r * (uint64_t)d;
        float amax = 0.0f;
        for (int64_t j = 0; j < d; j++)
            amax = fabsf(xr[j]) > amax ? fabsf(xr[j]) : amax;
        float ratio = ratios ? ratios[types ? types[r] : 0] : 1.0f;
        float m = ratio * amax;
        float scale = m / (float)qmax;
        /* m == 0 (or so small that m / qmax underflows): the row stays zero (codes are zeroed by
         * the allocation). */
        scales[r] = scale;
        if (scale == 0.0f) {
            scales[r] = 0.0f;
            continue;
        }
        for (int64_t j = 0; j < d; j++) {
            float q = rintf(xr[j] / scale);
            cr[j] = (int8_t)(q < lo ? lo : q > hi ? hi : q);
        }
    }
    return FA_OK;
}

/* Checks wq [N, K] (i8 or i4) and wscale [N, G] against |group|; writes N, K and the group
 * length (K when per channel). */
static fa_status check_qweight(const char *op, fa_rt_in wq, fa_rt_in wscale, int64_t group,
                               int64_t *out_n, int64_t *out_k, int64_t *out_glen) {
    if (wq->dtype != FA_DT_I8 && wq->dtype != FA_DT_I4)
        return fa_rt_err(op, "wq has dtype %s, expected i8 or i4", fa_dtype_name(wq->dtype));
    if (wq->rank != 2)
        return fa_rt_err(op, "wq must have rank 2 ([N, K]), not %d", wq->rank);
    if (wscale->dtype != FA_DT_F32 || wscale->rank != 2)
        return fa_rt_err(op, "wscale must be f32[N, G]");
    int64_t n = wq->dims[0], k = wq->dims[1];
    if (group < 0 || (group > 0 && k % group != 0))
        return fa_rt_err(op, "group %lld does not divide K = %lld", (long long)group, (long long)k);
    int64_t glen = group > 0 ? group : k;
    int64_t ngroups = group > 0 ? k / group : 1;
    if (wscale->dims[0] != n || wscale->dims[1] != ngroups)
        return fa_rt_err(op, "wscale is [%lld, %lld], expected [%lld, %lld]",
                         (long long)wscale->dims[0], (long long)wscale->dims[1], (long long)n,
                         (long long)ngroups);
    *out_n = n;
    *out_k = k;
    *out_glen = glen;
    return FA_OK;
}

/* Unpacks row |n| of the [N, K] weight |wq| (i8, or i4 packed two per byte, low nibble first,
 * in flat element order) into |dst| [K]. */
static void unpack_row(fa_rt_in wq, int64_t n, int64_t k, int8_t *dst) {
    uint64_t base = (uint64_t)n * (uint64_t)k;
    if (wq->dtype == FA_DT_I8) {
        memcpy(dst, (const int8_t *)wq->data + base, (size_t)k);
        return;
    }
    const uint8_t *b = wq->data;
    for (int64_t j = 0; j < k; j++) {
        uint64_t i = base + (uint64_t)j;
        int v = (b[i / 2] >> ((i & 1) * 4)) & 0xf;
        dst[j] = (int8_t)(v >= 8 ? v - 16 : v);
    }
}

/* Rows of codes per block in qlinear: a block of codes rows stays in cache while every output
 * channel's weights stream past it. */
#define QLINEAR_ROW_BLOCK 64

/* Groups up to this length have integer dot products below 2^24 (|code| <= 128 on both sides:
 * 1023 * 128 * 128 < 2^24), so f32 holds every partial sum exactly, in any order. */
#define EXACT_F32_DOT_LEN 1023
#define QLINEAR_SGEMM_ROWS 512

/* qlinear with the per-group integer dot products computed by sgemm on the codes as f32: exact
 * (see EXACT_F32_DOT_LEN), so the result is bit for bit the int32 loop's; then the same
 * epilogue in the same order. |w| [n, k] holds the unpacked weight codes. */
static fa_status qlinear_sgemm(const int8_t *cs, uint64_t rows, int64_t k, const int8_t *w,
                               int64_t n, int64_t glen, int64_t ngroups, const float *ss,
                               const float *ws, const float *bs, float *ys, fa_rt_al al) {
    uint64_t rb = rows < QLINEAR_SGEMM_ROWS ? rows : QLINEAR_SGEMM_ROWS;
    size_t xbytes = sizeof(float) * (size_t)(rb * (uint64_t)k);
    size_t wbytes = sizeof(float) * (size_t)(n * k), abytes = sizeof(float) * (size_t)(rb * n);
    float *xf = al->alloc(al->user, xbytes ? xbytes : 1, 64);
    float *wf = xf ? al->alloc(al->user, wbytes ? wbytes : 1, 64) : NULL;
    float *acc = wf ? al->alloc(al->user, abytes ? abytes : 1, 64) : NULL;
    if (!acc) {
        if (wf)
            al->free(al->user, wf);
        if (xf)
            al->free(al->user, xf);
        return fa_rt_err("qlinear", "out of memory");
    }
    for (int64_t i = 0; i < n * k; i++)
        wf[i] = (float)w[i];
    for (uint64_t r0 = 0; r0 < rows; r0 += rb) {
        uint64_t nr = rows - r0 < rb ? rows - r0 : rb;
        for (uint64_t i = 0; i < nr * (uint64_t)k; i++)
            xf[i] = (float)cs[r0 * (uint64_t)k + i];
        float *y = ys + r0 * (uint64_t)n;
        memset(y, 0, sizeof(float) * (size_t)(nr * (uint64_t)n));
        for (int64_t g = 0; g < ngroups; g++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)n, (int)glen, 1.0f,
                        xf + g * glen, (int)k, wf + g * glen, (int)k, 0.0f, acc, (int)n);
            for (uint64_t r = 0; r < nr; r++)
                for (int64_t j = 0; j < n; j++)
                    y[r * (uint64_t)n + (uint64_t)j] +=
                        ws[(uint64_t)j * (uint64_t)ngroups + (uint64_t)g] *
                        acc[r * (uint64_t)n + (uint64_t)j];
        }
        for (uint64_t r = 0; r < nr; r++)
            for (int64_t j = 0; j < n; j++) {
                float v = y[r * (uint64_t)n + (uint64_t)j] * ss[r0 + r];
                y[r * (uint64_t)n + (uint64_t)j] = bs ? v + bs[j] : v;
            }
    }
    al->free(al->user, acc);
    al->free(al->user, wf);
    al->free(al->user, xf);
    return FA_OK;
}

fa_status fa_rt_qlinear(fa_rt_in codes, fa_rt_in scales, fa_rt_in wq, fa_rt_in wscale,
                        fa_rt_in bias, int64_t group, fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "qlinear";
    if (codes->dtype != FA_DT_I8 || codes->rank < 1)
        return fa_rt_err(op, "codes must be i8 of rank >= 1");
    int64_t n, k, glen;
    FA_TRY(check_qweight(op, wq, wscale, group, &n, &k, &glen));
    if (codes->dims[codes->rank - 1] != k)
        return fa_rt_err(op, "codes' last dim %lld does not match K = %lld",
                         (long long)codes->dims[codes->rank - 1], (long long)k);
    bool scales_ok = scales->dtype == FA_DT_F32 && scales->rank == codes->rank &&
                     scales->dims[scales->rank - 1] == 1;
    for (int i = 0; scales_ok && i + 1 < codes->rank; i++)
        scales_ok = scales->dims[i] == codes->dims[i];
    if (!scales_ok)
        return fa_rt_err(op, "scales must be f32 with codes' shape and last dim 1");
    if (bias && (bias->dtype != FA_DT_F32 || bias->rank != 1 || bias->dims[0] != n))
        return fa_rt_err(op, "bias must be f32[%lld]", (long long)n);
    if (glen > QDOT_MAX_LEN)
        return fa_rt_err(op, "groups of %lld elements may overflow the int32 accumulator",
                         (long long)glen);
    uint64_t rows;
    int64_t kk;
    rows_of(codes, &rows, &kk);
    int64_t odims[FA_MAX_RANK];
    memcpy(odims, codes->dims, sizeof odims);
    odims[codes->rank - 1] = n;
    uint64_t wbytes = 0;
    FA_TRY(fa_rt_dtype_num_bytes(FA_DT_I8, (uint64_t)n * (uint64_t)k, &wbytes));
    int8_t *w = wbytes ? al->alloc(al->user, (size_t)wbytes, 64) : NULL;
    if (wbytes && !w)
        return fa_rt_err(op, "out of memory unpacking the weights");
    fa_status s = fa_rt_alloc_out(op, out, FA_DT_F32, codes->rank, odims, al);
    if (s) {
        al->free(al->user, w);
        return s;
    }
    for (int64_t j = 0; j < n; j++)
        unpack_row(wq, j, k, w + (uint64_t)j * (uint64_t)k);
    const int8_t *cs = codes->data;
    const float *ss = scales->data, *ws = wscale->data, *bs = bias ? bias->data : NULL;
    float *ys = out->data;
    int64_t ngroups = wscale->dims[1];
    if (glen <= EXACT_F32_DOT_LEN && rows > 0) {
        s = qlinear_sgemm(cs, rows, k, w, n, glen, ngroups, ss, ws, bs, ys, al);
        al->free(al->user, w);
        if (s)
            fa_rt_tensor_free(out, al);
        return s;
    }
    for (uint64_t r0 = 0; r0 < rows; r0 += QLINEAR_ROW_BLOCK) {
        uint64_t r1 = r0 + QLINEAR_ROW_BLOCK < rows ? r0 + QLINEAR_ROW_BLOCK : rows;
        for (int64_t j = 0; j < n; j++) {
            const int8_t *wrow = w + (uint64_t)j * (uint64_t)k;
            const float *wsr = ws + (uint64_t)j * (uint64_t)ngroups;
            for (uint64_t r = r0; r < r1; r++) {
                const int8_t *cr = cs + r * (uint64_t)k;
                float y = 0.0f;
                for (int64_t g = 0; g < ngroups; g++) {
                    const int8_t *cg = cr + g * glen, *wg = wrow + g * glen;
                    int32_t acc = 0;
                    for (int64_t i = 0; i < glen; i++)
                        acc += (int32_t)cg[i] * (int32_t)wg[i];
                    y += wsr[g] * (float)acc;
                }
                y *= ss[r];
                if (bs)
                    y += bs[j];
                ys[r * (uint64_t)n + (uint64_t)j] = y;
            }
        }
    }
    al->free(al->user, w);
    return FA_OK;
}

fa_status fa_rt_dequantize(fa_rt_in wq, fa_rt_in wscale, int64_t group, fa_rt_tensor *out,
                           fa_rt_al al) {
    const char *op = "dequantize";
    int64_t n, k, glen;
    FA_TRY(check_qweight(op, wq, wscale, group, &n, &k, &glen));
    int64_t dims[2] = {n, k};
    FA_TRY(fa_rt_alloc_out(op, out, FA_DT_F32, 2, dims, al));
    const float *ws = wscale->data;
    float *ys = out->data;
    int64_t ngroups = wscale->dims[1];
    for (int64_t j = 0; j < n; j++) {
        for (int64_t i = 0; i < k; i++) {
            uint64_t e = (uint64_t)j * (uint64_t)k + (uint64_t)i;
            int v = wq->dtype == FA_DT_I8 ? ((const int8_t *)wq->data)[e]
                                          : (int)fa_rt_load_i64(FA_DT_I4, wq->data, e);
            ys[e] = (float)v * ws[(uint64_t)j * (uint64_t)ngroups + (uint64_t)(i / glen)];
        }
    }
    return FA_OK;
}
