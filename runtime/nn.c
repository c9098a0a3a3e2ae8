/* Neural-network kernels: Softmax / LogSoftmax along one axis (opset 13 semantics),
 * LayerNormalization, and direct Conv over 1 to 3 spatial dims. Floats only; f32 computes in
 * float with double accumulators, other float dtypes through double. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernel_util.h"

fa_status fa_rt_softmax(bool is_log, fa_rt_in x, int64_t axis, fa_rt_tensor *out, fa_rt_al al) {
    const char *name = is_log ? "LogSoftmax" : "Softmax";
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt))
        return fa_rt_err_dtype(name, dt);
    int ax;
    FA_TRY(fa_rt_norm_axis(name, axis, x->rank < 1 ? 1 : x->rank, &ax));
    FA_TRY(fa_rt_alloc_out(name, out, dt, x->rank, x->dims, al));
    uint64_t outer = 1, inner = 1, len = x->rank ? (uint64_t)x->dims[ax] : 1;
    for (int i = 0; i < ax; i++)
        outer *= (uint64_t)x->dims[i];
    for (int i = ax + 1; i < x->rank; i++)
        inner *= (uint64_t)x->dims[i];
    for (uint64_t a = 0; a < outer; a++)
        for (uint64_t b = 0; b < inner; b++) {
            uint64_t base = a * len * inner + b;
            double mx = -INFINITY, sum = 0;
            for (uint64_t k = 0; k < len; k++) {
                double v = fa_rt_load_f64(dt, x->data, base + k * inner);
                mx = v > mx || isnan(v) ? v : mx;
            }
            for (uint64_t k = 0; k < len; k++)
                sum += exp(fa_rt_load_f64(dt, x->data, base + k * inner) - mx);
            double lsum = log(sum);
            for (uint64_t k = 0; k < len; k++) {
                double v = fa_rt_load_f64(dt, x->data, base + k * inner) - mx;
                fa_rt_store_f64(dt, out->data, base + k * inner, is_log ? v - lsum : exp(v) / sum);
            }
        }
    return FA_OK;
}

/* True if |t| (rank <= |rank| - |axis|) broadcasts unidirectionally to dims [axis, rank). */
static bool broadcasts_to_tail(const fa_rt_tensor *t, const fa_rt_tensor *x, int axis) {
    int tail = x->rank - axis;
    if (t->rank > tail)
        return false;
    for (int i = 0; i < t->rank; i++) {
        int64_t d = t->dims[i], xd = x->dims[x->rank - t->rank + i];
        if (d != xd && d != 1)
            return false;
    }
    return true;
}

/* Element of |t| (broadcast to the tail of length |len| of x's shape) at tail offset |k|. */
static double tail_load(const fa_rt_tensor *t, const fa_rt_tensor *x, uint64_t k) {
    uint64_t off = 0, mul = 1;
    for (int i = x->rank - 1, ti = t->rank - 1; ti >= 0; i--, ti--) {
        uint64_t xd = (uint64_t)x->dims[i], c = k % xd;
        k /= xd;
        if (t->dims[ti] != 1)
            off += c * mul;
        mul *= (uint64_t)t->dims[ti];
    }
    return fa_rt_load_f64(t->dtype, t->data, off);
}

fa_status fa_rt_layer_norm(fa_rt_in x, fa_rt_in scale, fa_rt_in bias, int64_t axis, double epsilon,
                           fa_rt_tensor *out, fa_rt_tensor *out_mean, fa_rt_tensor *out_inv_std,
                           fa_rt_al al) {
    const char *name = "LayerNormalization";
    memset(out, 0, sizeof *out);
    if (out_mean)
        memset(out_mean, 0, sizeof *out_mean);
    if (out_inv_std)
        memset(out_inv_std, 0, sizeof *out_inv_std);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt))
        return fa_rt_err_dtype(name, dt);
    int ax;
    FA_TRY(fa_rt_norm_axis(name, axis, x->rank, &ax));
    if (!fa_rt_is_float(scale->dtype) || !broadcasts_to_tail(scale, x, ax) ||
        (bias && (!fa_rt_is_float(bias->dtype) || !broadcasts_to_tail(bias, x, ax))))
        return fa_rt_err(name, "scale and bias must be float and broadcast to the normalized dims");
    uint64_t outer = 1, len = 1;
    int64_t sdims[FA_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        if (i < ax)
            outer *= (uint64_t)x->dims[i];
        else
            len *= (uint64_t)x->dims[i];
        sdims[i] = i < ax ? x->dims[i] : 1;
    }
    FA_TRY(fa_rt_alloc_out(name, out, dt, x->rank, x->dims, al));
    fa_status s = FA_OK;
    if (out_mean)
        s = fa_rt_alloc_out(name, out_mean, FA_DT_F32, x->rank, sdims, al);
    if (!s && out_inv_std)
        s = fa_rt_alloc_out(name, out_inv_std, FA_DT_F32, x->rank, sdims, al);
    if (s) {
        fa_rt_tensor_free(out, al);
        if (out_mean)
            fa_rt_tensor_free(out_mean, al);
        return s;
    }
    for (uint64_t a = 0; a < outer; a++) {
        uint64_t base = a * len;
        double mean = 0, var = 0;
        for (uint64_t k = 0; k < len; k++)
            mean += fa_rt_load_f64(dt, x->data, base + k);
        mean = len ? mean / (double)len : 0;
        for (uint64_t k = 0; k < len; k++) {
            double d = fa_rt_load_f64(dt, x->data, base + k) - mean;
            var += d * d;
        }
        var = len ? var / (double)len : 0;
        double inv = 1.0 / sqrt(var + epsilon);
        for (uint64_t k = 0; k < len; k++) {
            double v = (fa_rt_load_f64(dt, x->data, base + k) - mean) * inv;
            v = v * tail_load(scale, x, k) + (bias ? tail_load(bias, x, k) : 0.0);
            fa_rt_store_f64(dt, out->data, base + k, v);
        }
        if (out_mean)
            ((float *)out_mean->data)[a] = (float)mean;
        if (out_inv_std)
            ((float *)out_inv_std->data)[a] = (float)inv;
    }
    return FA_OK;
}

/* ---- Conv ---- */

/* A convolution's geometry, spatial dims right-aligned to 3 (see fa_rt_conv). */
typedef struct conv_geom {
    int64_t nb, c, m, cg, group;
    int64_t in[3], k[3], st[3], dl[3], pb[3], o[3];
} conv_geom;

/* f32 convolution as im2col + sgemm per image and group: out[b, g] = W_g [mg, cg K] x
 * col [cg K, O] + bias, f32 sums in sgemm's order (the loop below sums in double). Returns
 * false, having written nothing, when the column buffer would exceed 256 MiB or a dim exceeds
 * BLAS's int; the loop then runs. */
static bool conv_f32_gemm(const conv_geom *c, const float *x, const float *w, const float *bias,
                          float *y) {
    int64_t ksz = c->k[0] * c->k[1] * c->k[2], osz = c->o[0] * c->o[1] * c->o[2];
    int64_t isz = c->in[0] * c->in[1] * c->in[2], rows = c->cg * ksz, mg = c->m / c->group;
    if (rows > INT32_MAX || osz > INT32_MAX || mg > INT32_MAX ||
        (uint64_t)rows * (uint64_t)osz > ((uint64_t)64 << 20))
        return false;
    int64_t ncol = rows * osz;
    float *col = malloc((size_t)(ncol > 0 ? ncol : 1) * sizeof *col);
    if (!col)
        return false;
    for (int64_t b = 0; b < c->nb; b++)
        for (int64_t g = 0; g < c->group; g++) {
            const float *xg = x + (b * c->c + g * c->cg) * isz;
            float *cp = col;
            for (int64_t ic = 0; ic < c->cg; ic++)
                for (int64_t kz = 0; kz < c->k[0]; kz++)
                    for (int64_t ky = 0; ky < c->k[1]; ky++)
                        for (int64_t kx = 0; kx < c->k[2]; kx++)
                            for (int64_t z = 0; z < c->o[0]; z++)
                                for (int64_t yy = 0; yy < c->o[1]; yy++)
                                    for (int64_t xx = 0; xx < c->o[2]; xx++) {
                                        int64_t iz = z * c->st[0] - c->pb[0] + kz * c->dl[0];
                                        int64_t iy = yy * c->st[1] - c->pb[1] + ky * c->dl[1];
                                        int64_t ix = xx * c->st[2] - c->pb[2] + kx * c->dl[2];
                                        bool in = iz >= 0 && iz < c->in[0] && iy >= 0 &&
                                                  iy < c->in[1] && ix >= 0 && ix < c->in[2];
                                        *cp++ = in ? xg[ic * isz + (iz * c->in[1] + iy) * c->in[2] +
                                                        ix]
                                                   : 0.0f;
                                    }
            float *yg = y + (b * c->m + g * mg) * osz;
            for (int64_t oc = 0; oc < mg; oc++) {
                float bv = bias ? bias[g * mg + oc] : 0.0f;
                for (int64_t i = 0; i < osz; i++)
                    yg[oc * osz + i] = bv;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)osz, (int)rows,
                        1.0f, w + g * mg * rows, (int)rows, col, (int)osz, 1.0f, yg, (int)osz);
        }
    free(col);
    return true;
}

fa_status fa_rt_conv(fa_rt_in x, fa_rt_in w, fa_rt_in bias, const fa_rt_conv_params *p,
                     fa_rt_tensor *out, fa_rt_al al) {
    const char *name = "Conv";
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt))
        return fa_rt_err_dtype(name, dt);
    if (w->dtype != dt || (bias && bias->dtype != dt))
        return fa_rt_err(name, "X, W and B must have one dtype");
    int ns = x->rank - 2;
    if (ns < 1 || ns > 3 || w->rank != x->rank)
        return fa_rt_err(name, "only 1 to 3 spatial dims are supported, with W of X's rank");
    int64_t nb = x->dims[0], c = x->dims[1], m = w->dims[0], cg = w->dims[1];
    int64_t group = p->group ? p->group : 1;
    if (group < 1 || c % group || m % group || c / group != cg)
        return fa_rt_err(name, "channels (%lld in, W %lld x %lld) do not match group %lld",
                         (long long)c, (long long)m, (long long)cg, (long long)group);
    if (bias && (bias->rank != 1 || bias->dims[0] != m))
        return fa_rt_err(name, "B must have shape [%lld]", (long long)m);
    /* spatial geometry padded to 3 dims: in[3], k[3], s[3], dl[3], pb[3] (pad begin), o[3] */
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, o[3] = {1, 1, 1};
    if ((p->nkernel && p->nkernel != ns) || (p->nstrides && p->nstrides != ns) ||
        (p->ndilations && p->ndilations != ns) || (p->npads && p->npads != 2 * ns))
        return fa_rt_err(name, "kernel_shape, strides, dilations or pads has the wrong length");
    const char *ap = p->auto_pad ? p->auto_pad : "NOTSET";
    bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
    if (!same && strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
        return fa_rt_err(name, "bad auto_pad '%s'", ap);
    int off = 3 - ns; /* right-align the spatial dims */
    int64_t odims[FA_MAX_RANK] = {nb, m};
    for (int i = 0; i < ns; i++) {
        int j = off + i;
        in[j] = x->dims[2 + i];
        k[j] = w->dims[2 + i];
        if (p->nkernel && p->kernel_shape[i] != k[j])
            return fa_rt_err(name, "kernel_shape disagrees with W");
        st[j] = p->nstrides ? p->strides[i] : 1;
        dl[j] = p->ndilations ? p->dilations[i] : 1;
        if (st[j] < 1 || dl[j] < 1 || k[j] < 1 || k[j] > (1 << 20) || dl[j] > (1 << 20) ||
            st[j] > (1 << 20))
            return fa_rt_err(name, "bad kernel, stride or dilation");
        int64_t ek = (k[j] - 1) * dl[j] + 1;
        int64_t pe = 0;
        if (same) {
            o[j] = (in[j] + st[j] - 1) / st[j];
            int64_t total = (o[j] - 1) * st[j] + ek - in[j];
            total = total < 0 ? 0 : total;
            pb[j] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
            pe = total - pb[j];
        } else if (!strcmp(ap, "NOTSET") && p->npads) {
            pb[j] = p->pads[i];
            pe = p->pads[i + ns];
            if (pb[j] < 0 || pe < 0 || pb[j] > (1 << 20) || pe > (1 << 20))
                return fa_rt_err(name, "bad pads");
        }
        int64_t span = in[j] + pb[j] + pe - ek;
        if (span < 0)
            return fa_rt_err(name, "kernel larger than the padded input");
        o[j] = span / st[j] + 1;
        odims[2 + i] = o[j];
    }
    FA_TRY(fa_rt_alloc_out(name, out, dt, x->rank, odims, al));
    int64_t mg = m / group;
    uint64_t isz = (uint64_t)(in[0] * in[1] * in[2]), ksz = (uint64_t)(k[0] * k[1] * k[2]);
    uint64_t osz = (uint64_t)(o[0] * o[1] * o[2]);
    conv_geom geom = {nb, c, m, cg, group, {in[0], in[1], in[2]}, {k[0], k[1], k[2]},
                      {st[0], st[1], st[2]}, {dl[0], dl[1], dl[2]}, {pb[0], pb[1], pb[2]},
                      {o[0], o[1], o[2]}};
    if (dt == FA_DT_F32 && conv_f32_gemm(&geom, x->data, w->data, bias ? bias->data : NULL,
                                         out->data))
        return FA_OK;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t oc = 0; oc < m; oc++) {
            int64_t g = oc / mg;
            double bv = bias ? fa_rt_load_f64(dt, bias->data, (uint64_t)oc) : 0.0;
            for (int64_t z = 0; z < o[0]; z++)
                for (int64_t y = 0; y < o[1]; y++)
                    for (int64_t xx = 0; xx < o[2]; xx++) {
                        double acc = bv;
                        for (int64_t ic = 0; ic < cg; ic++) {
                            uint64_t xbase =
                                ((uint64_t)b * (uint64_t)c + (uint64_t)(g * cg + ic)) * isz;
                            uint64_t wbase = ((uint64_t)oc * (uint64_t)cg + (uint64_t)ic) * ksz;
                            for (int64_t kz = 0; kz < k[0]; kz++) {
                                int64_t iz = z * st[0] - pb[0] + kz * dl[0];
                                if (iz < 0 || iz >= in[0])
                                    continue;
                                for (int64_t ky = 0; ky < k[1]; ky++) {
                                    int64_t iy = y * st[1] - pb[1] + ky * dl[1];
                                    if (iy < 0 || iy >= in[1])
                                        continue;
                                    for (int64_t kx = 0; kx < k[2]; kx++) {
                                        int64_t ix = xx * st[2] - pb[2] + kx * dl[2];
                                        if (ix < 0 || ix >= in[2])
                                            continue;
                                        uint64_t xi =
                                            xbase + (uint64_t)((iz * in[1] + iy) * in[2] + ix);
                                        uint64_t wi =
                                            wbase + (uint64_t)((kz * k[1] + ky) * k[2] + kx);
                                        acc += fa_rt_load_f64(dt, x->data, xi) *
                                               fa_rt_load_f64(dt, w->data, wi);
                                    }
                                }
                            }
                        }
                        uint64_t oi = ((uint64_t)b * (uint64_t)m + (uint64_t)oc) * osz +
                                      (uint64_t)((z * o[1] + y) * o[2] + xx);
                        fa_rt_store_f64(dt, out->data, oi, acc);
                    }
        }
    return FA_OK;
}

/* ---- BatchNormalization, InstanceNormalization, MeanVarianceNormalization ---- */

static fa_status check_channel_vec(const char *op, const char *what, const fa_rt_tensor *t,
                                   int64_t c) {
    if (!fa_rt_is_float(t->dtype) || t->rank != 1 || t->dims[0] != c)
        return fa_rt_err(op, "%s must be a float vector of %lld channels", what, (long long)c);
    return FA_OK;
}

fa_status fa_rt_batch_norm(fa_rt_in x, fa_rt_in scale, fa_rt_in bias, fa_rt_in mean, fa_rt_in var,
                           double epsilon, fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "BatchNormalization";
    memset(out, 0, sizeof *out);
    if (!fa_rt_is_float(x->dtype))
        return fa_rt_err_dtype(op, x->dtype);
    if (x->rank < 2)
        return fa_rt_err(op, "input must have rank >= 2");
    int64_t c = x->dims[1];
    FA_TRY(check_channel_vec(op, "scale", scale, c));
    FA_TRY(check_channel_vec(op, "B", bias, c));
    FA_TRY(check_channel_vec(op, "input_mean", mean, c));
    FA_TRY(check_channel_vec(op, "input_var", var, c));
    FA_TRY(fa_rt_alloc_out(op, out, x->dtype, x->rank, x->dims, al));
    uint64_t inner = 1, n = fa_rt_tensor_num_elements(x);
    for (int i = 2; i < x->rank; i++)
        inner *= (uint64_t)x->dims[i];
    for (uint64_t i = 0; i < n; i++) {
        uint64_t ch = (i / inner) % (uint64_t)c;
        double m = fa_rt_load_f64(mean->dtype, mean->data, ch);
        double v = (fa_rt_load_f64(x->dtype, x->data, i) - m) /
                   sqrt(fa_rt_load_f64(var->dtype, var->data, ch) + epsilon);
        v = v * fa_rt_load_f64(scale->dtype, scale->data, ch) +
            fa_rt_load_f64(bias->dtype, bias->data, ch);
        fa_rt_store_f64(x->dtype, out->data, i, v);
    }
    return FA_OK;
}

fa_status fa_rt_instance_norm(fa_rt_in x, fa_rt_in scale, fa_rt_in bias, double epsilon,
                              fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "InstanceNormalization";
    memset(out, 0, sizeof *out);
    if (!fa_rt_is_float(x->dtype))
        return fa_rt_err_dtype(op, x->dtype);
    if (x->rank < 3)
        return fa_rt_err(op, "input must have rank >= 3");
    int64_t c = x->dims[1];
    FA_TRY(check_channel_vec(op, "scale", scale, c));
    FA_TRY(check_channel_vec(op, "B", bias, c));
    FA_TRY(fa_rt_alloc_out(op, out, x->dtype, x->rank, x->dims, al));
    uint64_t inner = 1, groups = (uint64_t)x->dims[0] * (uint64_t)c;
    for (int i = 2; i < x->rank; i++)
        inner *= (uint64_t)x->dims[i];
    for (uint64_t g = 0; g < groups; g++) {
        uint64_t base = g * inner, ch = g % (uint64_t)c;
        double mean = 0, var = 0;
        for (uint64_t k = 0; k < inner; k++)
            mean += fa_rt_load_f64(x->dtype, x->data, base + k);
        mean = inner ? mean / (double)inner : 0;
        for (uint64_t k = 0; k < inner; k++) {
            double d = fa_rt_load_f64(x->dtype, x->data, base + k) - mean;
            var += d * d;
        }
        var = inner ? var / (double)inner : 0;
        double sc = fa_rt_load_f64(scale->dtype, scale->data, ch) / sqrt(var + epsilon);
        double b = fa_rt_load_f64(bias->dtype, bias->data, ch);
        for (uint64_t k = 0; k < inner; k++)
            fa_rt_store_f64(x->dtype, out->data, base + k,
                            (fa_rt_load_f64(x->dtype, x->data, base + k) - mean) * sc + b);
    }
    return FA_OK;
}

fa_status fa_rt_mean_variance_norm(fa_rt_in x, const int64_t *axes, uint32_t naxes,
                                   fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "MeanVarianceNormalization";
    memset(out, 0, sizeof *out);
    fa_rt_tensor mean, sq, xsq;
    FA_TRY(fa_rt_reduce(FA_RT_REDUCE_MEAN, x, axes, naxes, true, false, &mean, al));
    fa_status s = fa_rt_binary(FA_RT_MUL, x, x, &xsq, al);
    if (!s) {
        s = fa_rt_reduce(FA_RT_REDUCE_MEAN, &xsq, axes, naxes, true, false, &sq, al);
        fa_rt_tensor_free(&xsq, al);
    }
    if (s) {
        fa_rt_tensor_free(&mean, al);
        return fa_status_prefix(s, "%s", op);
    }
    s = fa_rt_alloc_out(op, out, x->dtype, x->rank, x->dims, al);
    if (!s) {
        /* map each element to its reduced slot with strides of the keepdims shape */
        int64_t ks[FA_MAX_RANK], idx[FA_MAX_RANK] = {0};
        fa_rt_strides(mean.rank, mean.dims, ks);
        uint64_t n = fa_rt_tensor_num_elements(x);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t r = 0;
            for (int d = 0; d < x->rank; d++)
                r += mean.dims[d] == 1 ? 0 : (uint64_t)(idx[d] * ks[d]);
            double m = fa_rt_load_f64(mean.dtype, mean.data, r);
            double var = fa_rt_load_f64(sq.dtype, sq.data, r) - m * m;
            double v =
                (fa_rt_load_f64(x->dtype, x->data, i) - m) / (sqrt(var > 0 ? var : 0) + 1e-9);
            fa_rt_store_f64(x->dtype, out->data, i, v);
            fa_rt_index_next(x->rank, x->dims, idx);
        }
    }
    fa_rt_tensor_free(&mean, al);
    fa_rt_tensor_free(&sq, al);
    return s;
}
