/* The rope kernel (rotary position embeddings): y = x * cos + rot(x) * sin, the target of the
 * fuse-rope pass. f32, with the decomposed graph's roundings (each product to f32, then the f32
 * sum), so the fused op gives the unfused Slice/Neg/Concat/Mul/Mul/Add chain's bits.
 *
 * Design note. x, cos and sin broadcast multidirectionally (ONNX); rot acts on x's own last dim
 * before broadcasting. Rows of the output (every dim but the last) are walked with an odometer
 * carrying each operand's row offset (0 stride on broadcast dims). The common row (all three
 * with the output's last dim, rotate half) runs as two straight loops; anything else takes the
 * per-element path. Products and the sum are separate statements: C allows contracting a * b +
 * c * d into an FMA only within one expression. */
#include <string.h>

#include "runtime/kernel_util.h"

/* rot(x)[j] for a row |xr| of |d| elements. */
static float rot_at(const float *xr, int64_t j, int64_t d, bool interleaved) {
    if (interleaved)
        return j % 2 == 0 ? -xr[j + 1] : xr[j - 1];
    int64_t h = d / 2, r = d - h;
    return j < r ? -xr[h + j] : xr[j - r];
}

/* One output row of |n| elements; x's, cos's and sin's rows have |dx|, |dc|, |ds| elements
 * (each |n| or 1). */
static void rope_row(const float *xr, const float *cr, const float *sr, float *y, int64_t n,
                     int64_t dx, int64_t dc, int64_t ds, bool interleaved) {
    if (!interleaved && dx == n && dc == n && ds == n) {
        int64_t h = n / 2, r = n - h;
        for (int64_t i = 0; i < r; i++) {
            float a = xr[i] * cr[i];
            float b = -xr[h + i] * sr[i];
            y[i] = a + b;
        }
        for (int64_t i = r; i < n; i++) {
            float a = xr[i] * cr[i];
            float b = xr[i - r] * sr[i];
            y[i] = a + b;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t xi = dx == 1 ? 0 : i;
        float a = xr[xi] * cr[dc == 1 ? 0 : i];
        float b = rot_at(xr, xi, dx, interleaved) * sr[ds == 1 ? 0 : i];
        y[i] = a + b;
    }
}

/* Row strides (in elements) of |t| against the output's |rank| - 1 leading dims |dims|: 0 where
 * |t| has 1 or no dim, and its row length in |*out_last|. */
static void row_strides(const fa_rt_tensor *t, int rank, int64_t *st, int64_t *out_last) {
    int off = rank - t->rank;
    int64_t s = t->dims[t->rank - 1];
    *out_last = s;
    for (int i = rank - 2; i >= 0; i--) {
        int64_t d = i >= off ? t->dims[i - off] : 1;
        st[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

fa_status fa_rt_rope(fa_rt_in x, fa_rt_in cos, fa_rt_in sin, bool interleaved, fa_rt_tensor *out,
                     fa_rt_al al) {
    memset(out, 0, sizeof *out);
    const fa_rt_tensor *ins[3] = {x, cos, sin};
    static const char *const names[3] = {"x", "cos", "sin"};
    for (int k = 0; k < 3; k++) {
        if (ins[k]->dtype != FA_DT_F32)
            return fa_rt_err_dtype("rope", ins[k]->dtype);
        if (ins[k]->rank < 1)
            return fa_rt_err("rope", "%s must have rank >= 1", names[k]);
    }
    int64_t d = x->dims[x->rank - 1];
    if (interleaved && d % 2 != 0)
        return fa_rt_err("rope", "interleaved needs an even last dim of x, not %lld", (long long)d);
    int rank;
    int64_t dims[FA_MAX_RANK];
    FA_TRY(fa_rt_broadcast_shape("rope", ins, 3, &rank, dims));
    FA_TRY(fa_rt_alloc_out("rope", out, FA_DT_F32, rank, dims, al));
    if (fa_rt_tensor_num_elements(out) == 0)
        return FA_OK;
    int64_t st[3][FA_MAX_RANK], last[3], off[3] = {0, 0, 0}, idx[FA_MAX_RANK] = {0};
    for (int k = 0; k < 3; k++)
        row_strides(ins[k], rank, st[k], &last[k]);
    int64_t n = dims[rank - 1];
    const float *xp = x->data, *cp = cos->data, *sp = sin->data;
    float *y = out->data;
    do {
        rope_row(xp + off[0], cp + off[1], sp + off[2], y, n, last[0], last[1], last[2],
                 interleaved);
        y += n;
        /* advance the odometer over the leading dims, updating the offsets */
        for (int i = rank - 2; i >= 0; i--) {
            if (++idx[i] < dims[i]) {
                for (int k = 0; k < 3; k++)
                    off[k] += st[k][i];
                break;
            }
            for (int k = 0; k < 3; k++)
                off[k] -= st[k][i] * (dims[i] - 1);
            idx[i] = 0;
            if (i == 0)
                return FA_OK;
        }
    } while (rank > 1);
    return FA_OK;
}
