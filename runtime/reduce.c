/* Reduction kernels: ReduceSum/Mean/Max/Min/Prod (opset 13/18 forms), ArgMax/ArgMin, CumSum.
 * Accumulation is in double for floats and int64 for integers. */
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"

static const char *const reduce_names[] = {
    [FA_RT_REDUCE_SUM] = "ReduceSum",
    [FA_RT_REDUCE_MEAN] = "ReduceMean",
    [FA_RT_REDUCE_MAX] = "ReduceMax",
    [FA_RT_REDUCE_MIN] = "ReduceMin",
    [FA_RT_REDUCE_PROD] = "ReduceProd",
    [FA_RT_REDUCE_L1] = "ReduceL1",
    [FA_RT_REDUCE_L2] = "ReduceL2",
    [FA_RT_REDUCE_LOG_SUM] = "ReduceLogSum",
    [FA_RT_REDUCE_LOG_SUM_EXP] = "ReduceLogSumExp",
    [FA_RT_REDUCE_SUM_SQUARE] = "ReduceSumSquare",
};

/* Splits x's dims into kept ones (output) and reduced ones. */
typedef struct rplan {
    int rank;
    bool reduced[FA_MAX_RANK];
    int64_t out_stride[FA_MAX_RANK]; /* output element stride of each input dim (0 if reduced) */
    uint64_t group;                  /* elements folded into one output */
} rplan;

/* The final step of the norm-like reductions. */
static double finish(fa_rt_reduce_op op, double v) {
    switch (op) {
    case FA_RT_REDUCE_L2: return sqrt(v);
    case FA_RT_REDUCE_LOG_SUM:
    case FA_RT_REDUCE_LOG_SUM_EXP: return log(v);
    default: return v;
    }
}

fa_status fa_rt_reduce(fa_rt_reduce_op op, fa_rt_in x, const int64_t *axes, uint32_t naxes,
                       bool keepdims, bool noop_with_empty_axes, fa_rt_tensor *out, fa_rt_al al) {
    const char *name = reduce_names[op];
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    bool is_f = fa_rt_is_float(dt);
    if (!is_f && !fa_rt_is_plain_int(dt))
        return fa_rt_err_dtype(name, dt);
    if (naxes == 0 && noop_with_empty_axes)
        return fa_rt_copy(x, out, al);
    rplan p = {.rank = x->rank, .group = 1};
    for (uint32_t i = 0; i < naxes; i++) {
        int a;
        FA_TRY(fa_rt_norm_axis(name, axes[i], x->rank, &a));
        if (p.reduced[a])
            return fa_rt_err(name, "axis %lld repeated", (long long)axes[i]);
        p.reduced[a] = true;
    }
    if (naxes == 0)
        for (int i = 0; i < x->rank; i++)
            p.reduced[i] = true;
    int orank = 0;
    int64_t odims[FA_MAX_RANK], kdims[FA_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        kdims[i] = p.reduced[i] ? 1 : x->dims[i];
        if (p.reduced[i])
            p.group *= (uint64_t)x->dims[i];
        if (!p.reduced[i] || keepdims)
            odims[orank++] = kdims[i];
    }
    int64_t kstr[FA_MAX_RANK];
    fa_rt_strides(x->rank, kdims, kstr);
    for (int i = 0; i < x->rank; i++)
        p.out_stride[i] = p.reduced[i] ? 0 : kstr[i];
    FA_TRY(fa_rt_alloc_out(name, out, dt, orank, odims, al));
    uint64_t nout = fa_rt_tensor_num_elements(out), nin = fa_rt_tensor_num_elements(x);
    size_t acc_bytes = (size_t)(nout ? nout : 1) * 8;
    void *acc = al->alloc(al->user, acc_bytes, 64);
    if (!acc) {
        fa_rt_tensor_free(out, al);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", name);
    }
    double *accf = acc;
    int64_t *acci = acc;
    for (uint64_t o = 0; o < nout; o++) {
        switch (op) {
        case FA_RT_REDUCE_MAX:
            if (is_f)
                accf[o] = -INFINITY;
            else
                acci[o] = INT64_MIN;
            break;
        case FA_RT_REDUCE_MIN:
            if (is_f)
                accf[o] = INFINITY;
            else
                acci[o] = INT64_MAX;
            break;
        case FA_RT_REDUCE_PROD:
            if (is_f)
                accf[o] = 1;
            else
                acci[o] = 1;
            break;
        default:
            if (is_f)
                accf[o] = 0;
            else
                acci[o] = 0;
        }
    }
    int64_t idx[FA_MAX_RANK] = {0};
    uint64_t o = 0;
    for (uint64_t i = 0; i < nin; i++) {
        if (is_f) {
            double v = fa_rt_load_f64(dt, x->data, i), *a = &accf[o];
            switch (op) {
            case FA_RT_REDUCE_MAX: *a = isnan(v) || v > *a ? v : *a; break;
            case FA_RT_REDUCE_MIN: *a = isnan(v) || v < *a ? v : *a; break;
            case FA_RT_REDUCE_PROD: *a *= v; break;
            case FA_RT_REDUCE_L1: *a += fabs(v); break;
            case FA_RT_REDUCE_L2:
            case FA_RT_REDUCE_SUM_SQUARE: *a += v * v; break;
            case FA_RT_REDUCE_LOG_SUM_EXP: *a += exp(v); break;
            default: *a += v;
            }
        } else {
            int64_t v = fa_rt_load_i64(dt, x->data, i), *a = &acci[o];
            switch (op) {
            case FA_RT_REDUCE_MAX: *a = v > *a ? v : *a; break;
            case FA_RT_REDUCE_MIN: *a = v < *a ? v : *a; break;
            case FA_RT_REDUCE_PROD: *a = (int64_t)((uint64_t)*a * (uint64_t)v); break;
            case FA_RT_REDUCE_L1: *a = (int64_t)((uint64_t)*a + (uint64_t)(v < 0 ? -v : v)); break;
            case FA_RT_REDUCE_L2:
            case FA_RT_REDUCE_SUM_SQUARE:
                *a = (int64_t)((uint64_t)*a + (uint64_t)v * (uint64_t)v);
                break;
            case FA_RT_REDUCE_LOG_SUM_EXP:
                *a = (int64_t)((uint64_t)*a + (uint64_t)exp((double)v));
                break;
            default: *a = (int64_t)((uint64_t)*a + (uint64_t)v);
            }
        }
        /* advance the multi-index, tracking the output offset */
        for (int d = x->rank - 1; d >= 0; d--) {
            o += (uint64_t)p.out_stride[d];
            if (++idx[d] < x->dims[d])
                break;
            o -= (uint64_t)p.out_stride[d] * (uint64_t)x->dims[d];
            idx[d] = 0;
        }
    }
    for (uint64_t k = 0; k < nout; k++) {
        if (is_f) {
            double v = accf[k];
            if (op == FA_RT_REDUCE_MEAN)
                v = p.group ? v / (double)p.group : NAN;
            fa_rt_store_f64(dt, out->data, k, finish(op, v));
        } else {
            int64_t v = acci[k];
            if (op == FA_RT_REDUCE_MEAN)
                v = p.group ? v / (int64_t)p.group : 0;
            if (op == FA_RT_REDUCE_L2 || op == FA_RT_REDUCE_LOG_SUM ||
                op == FA_RT_REDUCE_LOG_SUM_EXP)
                fa_rt_store_f64(dt, out->data, k, finish(op, (double)v));
            else
                fa_rt_store_i64(dt, out->data, k, v);
        }
    }
    al->free(al->user, acc);
    return FA_OK;
}

fa_status fa_rt_arg_reduce(bool is_max, fa_rt_in x, int64_t axis, bool keepdims,
                           bool select_last_index, fa_rt_tensor *out, fa_rt_al al) {
    const char *name = is_max ? "ArgMax" : "ArgMin";
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt) && !fa_rt_is_plain_int(dt))
        return fa_rt_err_dtype(name, dt);
    int ax;
    FA_TRY(fa_rt_norm_axis(name, axis, x->rank, &ax));
    if (x->dims[ax] == 0)
        return fa_rt_err(name, "cannot reduce an empty axis");
    int64_t odims[FA_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < x->rank; i++)
        if (i != ax || keepdims)
            odims[orank++] = i == ax ? 1 : x->dims[i];
    FA_TRY(fa_rt_alloc_out(name, out, FA_DT_I64, orank, odims, al));
    uint64_t outer = 1, inner = 1, len = (uint64_t)x->dims[ax];
    for (int i = 0; i < ax; i++)
        outer *= (uint64_t)x->dims[i];
    for (int i = ax + 1; i < x->rank; i++)
        inner *= (uint64_t)x->dims[i];
    int64_t *y = out->data;
    for (uint64_t a = 0; a < outer; a++)
        for (uint64_t b = 0; b < inner; b++) {
            uint64_t base = a * len * inner + b;
            double best = fa_rt_load_f64(dt, x->data, base);
            uint64_t bi = 0;
            for (uint64_t k = 1; k < len; k++) {
                double v = fa_rt_load_f64(dt, x->data, base + k * inner);
                bool better = is_max ? v > best : v < best;
                if (better || (select_last_index && v == best)) {
                    best = v;
                    bi = k;
                }
            }
            y[a * inner + b] = (int64_t)bi;
        }
    return FA_OK;
}

fa_status fa_rt_cum_sum(fa_rt_in x, fa_rt_in axis_t, bool exclusive, bool reverse,
                        fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt) && !fa_rt_is_plain_int(dt) && dt != FA_DT_U64)
        return fa_rt_err_dtype("CumSum", dt);
    int64_t axis;
    int ax;
    FA_TRY(fa_rt_read_int_scalar("CumSum", "axis", axis_t, &axis));
    FA_TRY(fa_rt_norm_axis("CumSum", axis, x->rank, &ax));
    FA_TRY(fa_rt_alloc_out("CumSum", out, dt, x->rank, x->dims, al));
    uint64_t outer = 1, inner = 1, len = (uint64_t)x->dims[ax];
    for (int i = 0; i < ax; i++)
        outer *= (uint64_t)x->dims[i];
    for (int i = ax + 1; i < x->rank; i++)
        inner *= (uint64_t)x->dims[i];
    bool is_f = fa_rt_is_float(dt);
    for (uint64_t a = 0; a < outer; a++)
        for (uint64_t b = 0; b < inner; b++) {
            double sf = 0;
            int64_t si = 0;
            for (uint64_t s = 0; s < len; s++) {
                uint64_t k = reverse ? len - 1 - s : s;
                uint64_t at = a * len * inner + k * inner + b;
                if (exclusive) {
                    if (is_f)
                        fa_rt_store_f64(dt, out->data, at, sf);
                    else
                        fa_rt_store_i64(dt, out->data, at, si);
                }
                if (is_f)
                    sf += fa_rt_load_f64(dt, x->data, at);
                else
                    si = (int64_t)((uint64_t)si + (uint64_t)fa_rt_load_i64(dt, x->data, at));
                if (!exclusive) {
                    if (is_f)
                        fa_rt_store_f64(dt, out->data, at, sf);
                    else
                        fa_rt_store_i64(dt, out->data, at, si);
                }
            }
        }
    return FA_OK;
}

fa_status fa_rt_hardmax(fa_rt_in x, int64_t axis, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt))
        return fa_rt_err_dtype("Hardmax", dt);
    int ax;
    FA_TRY(fa_rt_norm_axis("Hardmax", axis, x->rank, &ax));
    FA_TRY(fa_rt_alloc_out("Hardmax", out, dt, x->rank, x->dims, al));
    uint64_t outer = 1, inner = 1, len = (uint64_t)x->dims[ax];
    for (int i = 0; i < ax; i++)
        outer *= (uint64_t)x->dims[i];
    for (int i = ax + 1; i < x->rank; i++)
        inner *= (uint64_t)x->dims[i];
    for (uint64_t a = 0; a < outer && len; a++)
        for (uint64_t b = 0; b < inner; b++) {
            uint64_t base = a * len * inner + b, bi = 0;
            double best = fa_rt_load_f64(dt, x->data, base);
            for (uint64_t k = 1; k < len; k++) {
                double v = fa_rt_load_f64(dt, x->data, base + k * inner);
                if (v > best) {
                    best = v;
                    bi = k;
                }
            }
            fa_rt_store_f64(dt, out->data, base + bi * inner, 1.0);
        }
    return FA_OK;
}

fa_status fa_rt_top_k(fa_rt_in x, fa_rt_in k_t, int64_t axis, bool largest, fa_rt_tensor *out_v,
                      fa_rt_tensor *out_i, fa_rt_al al) {
    memset(out_v, 0, sizeof *out_v);
    memset(out_i, 0, sizeof *out_i);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt) && !fa_rt_is_plain_int(dt))
        return fa_rt_err_dtype("TopK", dt);
    int ax;
    int64_t k;
    FA_TRY(fa_rt_norm_axis("TopK", axis, x->rank, &ax));
    FA_TRY(fa_rt_read_int_scalar("TopK", "K", k_t, &k));
    uint64_t len = (uint64_t)x->dims[ax];
    if (k < 0 || (uint64_t)k > len)
        return fa_rt_err("TopK", "K = %lld outside [0, %llu]", (long long)k,
                         (unsigned long long)len);
    int64_t dims[FA_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[ax] = k;
    FA_TRY(fa_rt_alloc_out("TopK", out_v, dt, x->rank, dims, al));
    fa_status s = fa_rt_alloc_out("TopK", out_i, FA_DT_I64, x->rank, dims, al);
    bool *taken = s ? NULL : al->alloc(al->user, (size_t)(len ? len : 1), 16);
    if (!s && !taken)
        s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "TopK: out of memory");
    if (s) {
        fa_rt_tensor_free(out_v, al);
        fa_rt_tensor_free(out_i, al);
        return s;
    }
    uint64_t outer = 1, inner = 1;
    for (int i = 0; i < ax; i++)
        outer *= (uint64_t)x->dims[i];
    for (int i = ax + 1; i < x->rank; i++)
        inner *= (uint64_t)x->dims[i];
    /* selection by repeated scans: O(k * len), fine for a reference kernel */
    for (uint64_t a = 0; a < outer; a++)
        for (uint64_t b = 0; b < inner; b++) {
            uint64_t base = a * len * inner + b, obase = a * (uint64_t)k * inner + b;
            memset(taken, 0, (size_t)len);
            for (int64_t r = 0; r < k; r++) {
                uint64_t bi = len;
                double best = 0;
                for (uint64_t j = 0; j < len; j++) {
                    if (taken[j])
                        continue;
                    double v = fa_rt_load_f64(dt, x->data, base + j * inner);
                    if (bi == len || (largest ? v > best : v < best)) {
                        best = v;
                        bi = j;
                    }
                }
                taken[bi] = true;
                uint64_t o = obase + (uint64_t)r * inner;
                memcpy((char *)out_v->data + o * fa_rt_elem_size(dt),
                       (const char *)x->data + (base + bi * inner) * fa_rt_elem_size(dt),
                       fa_rt_elem_size(dt));
                ((int64_t *)out_i->data)[o] = (int64_t)bi;
            }
        }
    al->free(al->user, taken);
    return FA_OK;
}
