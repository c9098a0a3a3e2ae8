/* Pooling kernels: MaxPool and AveragePool over 1 to 3 spatial dims (pads, strides, dilations,
 * auto_pad, ceil_mode, count_include_pad), and the global pools. */
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"

fa_status fa_rt_pool(fa_rt_in x, const fa_rt_pool_params *p, fa_rt_tensor *out, fa_rt_al al) {
    const char *op = p->is_max ? "MaxPool" : "AveragePool";
    const fa_rt_conv_params *g = &p->geo;
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt) && !(p->is_max && (dt == FA_DT_I8 || dt == FA_DT_U8)))
        return fa_rt_err_dtype(op, dt);
    int ns = x->rank - 2;
    if (ns < 1 || ns > 3)
        return fa_rt_err(op, "only 1 to 3 spatial dims are supported");
    if (g->nkernel != ns || (g->nstrides && g->nstrides != ns) ||
        (g->ndilations && g->ndilations != ns) || (g->npads && g->npads != 2 * ns))
        return fa_rt_err(op, "kernel_shape, strides, dilations or pads has the wrong length");
    const char *ap = g->auto_pad ? g->auto_pad : "NOTSET";
    bool same = !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER");
    if (!same && strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
        return fa_rt_err(op, "bad auto_pad '%s'", ap);
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1};
    int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0}, o[3] = {1, 1, 1};
    int off = 3 - ns;
    int64_t odims[FA_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < ns; i++) {
        int j = off + i;
        in[j] = x->dims[2 + i];
        k[j] = g->kernel_shape[i];
        st[j] = g->nstrides ? g->strides[i] : 1;
        dl[j] = g->ndilations ? g->dilations[i] : 1;
        if (k[j] < 1 || st[j] < 1 || dl[j] < 1 || k[j] > (1 << 20) || st[j] > (1 << 20) ||
            dl[j] > (1 << 20))
            return fa_rt_err(op, "bad kernel, stride or dilation");
        int64_t ek = (k[j] - 1) * dl[j] + 1;
        if (same) {
            int64_t on = (in[j] + st[j] - 1) / st[j];
            int64_t total = (on - 1) * st[j] + ek - in[j];
            total = total < 0 ? 0 : total;
            pb[j] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
            pe[j] = total - pb[j];
        } else if (!strcmp(ap, "NOTSET") && g->npads) {
            pb[j] = g->pads[i];
            pe[j] = g->pads[i + ns];
            if (pb[j] < 0 || pe[j] < 0 || pb[j] > (1 << 20) || pe[j] > (1 << 20))
                return fa_rt_err(op, "bad pads");
        }
        int64_t span = in[j] + pb[j] + pe[j] - ek;
        if (span < 0)
            return fa_rt_err(op, "kernel larger than the padded input");
        o[j] = (p->ceil_mode ? (span + st[j] - 1) / st[j] : span / st[j]) + 1;
        if (p->ceil_mode && (o[j] - 1) * st[j] >= in[j] + pb[j])
            o[j]--; /* the last window must start inside the input or the begin padding */
        odims[2 + i] = o[j];
    }
    FA_TRY(fa_rt_alloc_out(op, out, dt, x->rank, odims, al));
    uint64_t planes = (uint64_t)x->dims[0] * (uint64_t)x->dims[1];
    uint64_t isz = (uint64_t)(in[0] * in[1] * in[2]), osz = (uint64_t)(o[0] * o[1] * o[2]);
    for (uint64_t pl = 0; pl < planes; pl++)
        for (int64_t z = 0; z < o[0]; z++)
            for (int64_t y = 0; y < o[1]; y++)
                for (int64_t xx = 0; xx < o[2]; xx++) {
                    double acc = p->is_max ? -INFINITY : 0;
                    int64_t cnt = 0, cnt_pad = 0;
                    for (int64_t kz = 0; kz < k[0]; kz++)
                        for (int64_t ky = 0; ky < k[1]; ky++)
                            for (int64_t kx = 0; kx < k[2]; kx++) {
                                int64_t iz = z * st[0] - pb[0] + kz * dl[0];
                                int64_t iy = y * st[1] - pb[1] + ky * dl[1];
                                int64_t ix = xx * st[2] - pb[2] + kx * dl[2];
                                if (iz < in[0] + pe[0] && iy < in[1] + pe[1] && ix < in[2] + pe[2])
                                    cnt_pad++;
                                if (iz < 0 || iz >= in[0] || iy < 0 || iy >= in[1] || ix < 0 ||
                                    ix >= in[2])
                                    continue;
                                double v = fa_rt_load_f64(
                                    dt, x->data,
                                    pl * isz + (uint64_t)((iz * in[1] + iy) * in[2] + ix));
                                if (p->is_max)
                                    acc = v > acc || isnan(v) ? v : acc;
                                else
                                    acc += v;
                                cnt++;
                            }
                    if (!p->is_max) {
                        int64_t div = p->count_include_pad ? cnt_pad : cnt;
                        acc = div ? acc / (double)div : NAN;
                    }
                    fa_rt_store_f64(dt, out->data,
                                    pl * osz + (uint64_t)((z * o[1] + y) * o[2] + xx), acc);
                }
    return FA_OK;
}

fa_status fa_rt_global_pool(bool is_max, fa_rt_in x, fa_rt_tensor *out, fa_rt_al al) {
    const char *op = is_max ? "GlobalMaxPool" : "GlobalAveragePool";
    memset(out, 0, sizeof *out);
    if (!fa_rt_is_float(x->dtype))
        return fa_rt_err_dtype(op, x->dtype);
    if (x->rank < 3)
        return fa_rt_err(op, "input must have rank >= 3");
    int64_t axes[FA_MAX_RANK];
    for (int i = 2; i < x->rank; i++)
        axes[i - 2] = i;
    return fa_status_prefix(fa_rt_reduce(is_max ? FA_RT_REDUCE_MAX : FA_RT_REDUCE_MEAN, x, axes,
                                         (uint32_t)(x->rank - 2), true, false, out, al),
                            "%s", op);
}
