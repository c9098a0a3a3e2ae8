/* Quantization kernels: QuantizeLinear / DequantizeLinear (per tensor and per axis),
 * DynamicQuantizeLinear, MatMulInteger and com.microsoft MatMulNBits. Rounding is half to even
 * (nearbyint in the default rounding mode) and results saturate to the integer type. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"

static bool quant_int_range(fa_dtype dt, double *lo, double *hi) {
    switch (dt) {
    case FA_DT_U8:
        *lo = 0;
        *hi = 255;
        return true;
    case FA_DT_I8:
        *lo = -128;
        *hi = 127;
        return true;
    case FA_DT_U16:
        *lo = 0;
        *hi = 65535;
        return true;
    case FA_DT_I16:
        *lo = -32768;
        *hi = 32767;
        return true;
    case FA_DT_U4:
        *lo = 0;
        *hi = 15;
        return true;
    case FA_DT_I4:
        *lo = -8;
        *hi = 7;
        return true;
    case FA_DT_I32:
        *lo = -2147483648.0;
        *hi = 2147483647.0;
        return true;
    default: return false;
    }
}

/* Checks scale / zero point and returns the per-axis geometry: |*axis_len| is 1 for per-tensor,
 * else x's extent along |*ax|; |*inner| the elements after that axis. */
static fa_status quant_params(const char *op, fa_rt_in x, fa_rt_in scale, fa_rt_in zp, int64_t axis,
                              uint64_t *axis_len, uint64_t *inner) {
    if (!fa_rt_is_float(scale->dtype))
        return fa_rt_err(op, "scale must be floating point, not %s", fa_dtype_name(scale->dtype));
    uint64_t ns = fa_rt_tensor_num_elements(scale);
    *axis_len = 1;
    *inner = 1;
    if (scale->rank > 1)
        return fa_status_make(FA_STATUS_UNSUPPORTED,
                              "%s: blocked quantization (scale of rank %d) "
                              "is not supported",
                              op, scale->rank);
    if (scale->rank == 1 && !(ns == 1 && x->rank == 0)) {
        int ax;
        FA_TRY(fa_rt_norm_axis(op, axis, x->rank, &ax));
        if (ns != (uint64_t)x->dims[ax])
            return fa_rt_err(op, "scale has %llu entries, axis %d has %lld", (unsigned long long)ns,
                             ax, (long long)x->dims[ax]);
        *axis_len = ns;
        for (int i = ax + 1; i < x->rank; i++)
            *inner *= (uint64_t)x->dims[i];
    } else if (ns != 1) {
        return fa_rt_err(op, "scale must have one element per tensor or per axis slice");
    }
    if (zp && (zp->rank != scale->rank || fa_rt_tensor_num_elements(zp) != ns))
        return fa_rt_err(op, "zero point shape differs from scale shape");
    return FA_OK;
}

fa_status fa_rt_quantize_linear(fa_rt_in x, fa_rt_in scale, fa_rt_in zp, int64_t axis,
                                fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "QuantizeLinear";
    memset(out, 0, sizeof *out);
    if (!fa_rt_is_float(x->dtype))
        return fa_rt_err_dtype(op, x->dtype);
    fa_dtype qt = zp ? zp->dtype : FA_DT_U8;
    double lo, hi;
    if (!quant_int_range(qt, &lo, &hi) || qt == FA_DT_I32)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: unsupported output dtype %s", op,
                              fa_dtype_name(qt));
    uint64_t alen, inner;
    FA_TRY(quant_params(op, x, scale, zp, axis, &alen, &inner));
    FA_TRY(fa_rt_alloc_out(op, out, qt, x->rank, x->dims, al));
    uint64_t n = fa_rt_tensor_num_elements(x);
    bool f32 = x->dtype == FA_DT_F32 && scale->dtype == FA_DT_F32;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t c = alen == 1 ? 0 : (i / inner) % alen;
        double q;
        if (f32) /* divide in float, as the ONNX reference does for f32 */
            q = nearbyintf(((const float *)x->data)[i] / ((const float *)scale->data)[c]);
        else
            q = nearbyint(fa_rt_load_f64(x->dtype, x->data, i) /
                          fa_rt_load_f64(scale->dtype, scale->data, c));
        if (zp)
            q += (double)fa_rt_load_i64(qt, zp->data, c);
        q = isnan(q) ? 0 : q < lo ? lo : q > hi ? hi : q;
        fa_rt_store_i64(qt, out->data, i, (int64_t)q);
    }
    return FA_OK;
}

fa_status fa_rt_dequantize_linear(fa_rt_in x, fa_rt_in scale, fa_rt_in zp, int64_t axis,
                                  fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "DequantizeLinear";
    memset(out, 0, sizeof *out);
    double lo, hi;
    if (!quant_int_range(x->dtype, &lo, &hi))
        return fa_rt_err_dtype(op, x->dtype);
    if (zp && zp->dtype != x->dtype)
        return fa_rt_err(op, "zero point dtype %s differs from input dtype %s",
                         fa_dtype_name(zp->dtype), fa_dtype_name(x->dtype));
    uint64_t alen, inner;
    FA_TRY(quant_params(op, x, scale, zp, axis, &alen, &inner));
    FA_TRY(fa_rt_alloc_out(op, out, scale->dtype, x->rank, x->dims, al));
    uint64_t n = fa_rt_tensor_num_elements(x);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t c = alen == 1 ? 0 : (i / inner) % alen;
        int64_t v = fa_rt_load_i64(x->dtype, x->data, i);
        if (zp)
            v -= fa_rt_load_i64(x->dtype, zp->data, c);
        if (scale->dtype == FA_DT_F32)
            ((float *)out->data)[i] = (float)v * ((const float *)scale->data)[c];
        else
            fa_rt_store_f64(scale->dtype, out->data, i,
                            (double)v * fa_rt_load_f64(scale->dtype, scale->data, c));
    }
    return FA_OK;
}

fa_status fa_rt_dynamic_quantize_linear(fa_rt_in x, fa_rt_tensor *out_y, fa_rt_tensor *out_scale,
                                        fa_rt_tensor *out_zp, fa_rt_al al) {
    const char *op = "DynamicQuantizeLinear";
    memset(out_y, 0, sizeof *out_y);
    memset(out_scale, 0, sizeof *out_scale);
    memset(out_zp, 0, sizeof *out_zp);
    if (x->dtype != FA_DT_F32)
        return fa_rt_err_dtype(op, x->dtype);
    const float *xs = x->data;
    uint64_t n = fa_rt_tensor_num_elements(x);
    float mn = 0, mx = 0; /* the range always includes 0 */
    for (uint64_t i = 0; i < n; i++) {
        mn = xs[i] < mn ? xs[i] : mn;
        mx = xs[i] > mx ? xs[i] : mx;
    }
    float scale = (mx - mn) / 255.0f;
    float zpf = scale != 0 ? nearbyintf(0.0f - mn / scale) : 0.0f;
    zpf = zpf < 0 ? 0 : zpf > 255 ? 255 : zpf;
    FA_TRY(fa_rt_alloc_out(op, out_y, FA_DT_U8, x->rank, x->dims, al));
    fa_status s = fa_rt_alloc_out(op, out_scale, FA_DT_F32, 0, NULL, al);
    if (!s)
        s = fa_rt_alloc_out(op, out_zp, FA_DT_U8, 0, NULL, al);
    if (s) {
        fa_rt_tensor_free(out_y, al);
        fa_rt_tensor_free(out_scale, al);
        return s;
    }
    *(float *)out_scale->data = scale;
    *(uint8_t *)out_zp->data = (uint8_t)zpf;
    uint8_t *y = out_y->data;
    for (uint64_t i = 0; i < n; i++) {
        float q = scale != 0 ? nearbyintf(xs[i] / scale) + zpf : zpf;
        y[i] = (uint8_t)(isnan(q) ? 0 : q < 0 ? 0 : q > 255 ? 255 : q);
    }
    return FA_OK;
}

/* |t| - |zp| as an i32 tensor; a 1-D per-row zero point of A is applied as [M, 1]. */
static fa_status shift_to_i32(const char *what, fa_rt_in t, fa_rt_in zp, bool per_row,
                              fa_rt_tensor *out, fa_rt_al al) {
    FA_TRY(fa_rt_cast(t, FA_DT_I32, out, al));
    if (!zp)
        return FA_OK;
    fa_rt_tensor z, zv = *zp;
    if (zp->dtype != t->dtype) {
        fa_rt_tensor_free(out, al);
        return fa_rt_err("MatMulInteger", "%s zero point dtype differs from its input", what);
    }
    if (per_row && zp->rank == 1 && t->rank >= 2) {
        zv.rank = 2;
        zv.dims[1] = 1;
    }
    fa_status s = fa_rt_cast(&zv, FA_DT_I32, &z, al);
    if (s) {
        fa_rt_tensor_free(out, al);
        return s;
    }
    fa_rt_tensor r;
    s = fa_rt_binary(FA_RT_SUB, out, &z, &r, al);
    fa_rt_tensor_free(&z, al);
    fa_rt_tensor_free(out, al);
    if (s)
        return fa_status_prefix(s, "MatMulInteger: %s zero point", what);
    if (r.rank != t->rank) {
        fa_rt_tensor_free(&r, al);
        return fa_rt_err("MatMulInteger", "%s zero point does not match its input", what);
    }
    *out = r;
    return FA_OK;
}

fa_status fa_rt_matmul_integer(fa_rt_in a, fa_rt_in b, fa_rt_in a_zp, fa_rt_in b_zp,
                               fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (a->dtype != FA_DT_U8 && a->dtype != FA_DT_I8)
        return fa_rt_err_dtype("MatMulInteger", a->dtype);
    if (b->dtype != FA_DT_U8 && b->dtype != FA_DT_I8)
        return fa_rt_err_dtype("MatMulInteger", b->dtype);
    fa_rt_tensor a32, b32;
    FA_TRY(shift_to_i32("A", a, a_zp, true, &a32, al));
    fa_status s = shift_to_i32("B", b, b_zp, false, &b32, al);
    if (!s) {
        s = fa_status_prefix(fa_rt_matmul(&a32, &b32, out, al), "MatMulInteger");
        fa_rt_tensor_free(&b32, al);
    }
    fa_rt_tensor_free(&a32, al);
    return s;
}

fa_status fa_rt_matmul_nbits(fa_rt_in a, fa_rt_in b, fa_rt_in scales, fa_rt_in zps, fa_rt_in bias,
                             int64_t k, int64_t n, int64_t bits, int64_t block_size,
                             fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "MatMulNBits";
    memset(out, 0, sizeof *out);
    if (a->dtype != FA_DT_F32)
        return fa_rt_err_dtype(op, a->dtype);
    if (bits != 2 && bits != 4 && bits != 8)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: unsupported bits %lld", op,
                              (long long)bits);
    if (block_size < 16 || (block_size & (block_size - 1)) || k < 1 || n < 1 || k > INT32_MAX ||
        n > INT32_MAX)
        return fa_rt_err(op, "bad K, N or block_size");
    if (a->rank < 1 || a->dims[a->rank - 1] != k)
        return fa_rt_err(op, "A's last dim must be K = %lld", (long long)k);
    int64_t nblk = (k + block_size - 1) / block_size, blob = block_size * bits / 8;
    if (b->dtype != FA_DT_U8 || fa_rt_tensor_num_elements(b) != (uint64_t)(n * nblk * blob))
        return fa_rt_err(op, "B must be u8 [%lld, %lld, %lld]", (long long)n, (long long)nblk,
                         (long long)blob);
    if (scales->dtype != FA_DT_F32 || fa_rt_tensor_num_elements(scales) != (uint64_t)(n * nblk))
        return fa_rt_err(op, "scales must be f32 with %lld elements", (long long)(n * nblk));
    int64_t zp_row = (nblk * bits + 7) / 8;
    bool zp_packed = zps && zps->dtype == FA_DT_U8;
    if (zps && !(zp_packed && fa_rt_tensor_num_elements(zps) == (uint64_t)(n * zp_row)) &&
        !(zps->dtype == FA_DT_F32 && fa_rt_tensor_num_elements(zps) == (uint64_t)(n * nblk)))
        return fa_rt_err(op, "zero_points must be u8 [%lld] packed or f32 like scales",
                         (long long)(n * zp_row));
    if (bias && (bias->dtype != FA_DT_F32 || fa_rt_tensor_num_elements(bias) != (uint64_t)n))
        return fa_rt_err(op, "bias must be f32 [%lld]", (long long)n);
    int64_t odims[FA_MAX_RANK];
    for (int i = 0; i < a->rank - 1; i++)
        odims[i] = a->dims[i];
    odims[a->rank - 1] = n;
    uint64_t wbytes;
    FA_TRY(
        fa_status_prefix(fa_rt_dtype_num_bytes(FA_DT_F32, (uint64_t)(n * k), &wbytes), "%s", op));
    float *w = al->alloc(al->user, (size_t)wbytes, 64);
    if (!w)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "%s: out of memory", op);
    fa_status s = fa_rt_alloc_out(op, out, FA_DT_F32, a->rank, odims, al);
    if (s) {
        al->free(al->user, w);
        return s;
    }
    const uint8_t *bq = b->data, *zq = zp_packed ? zps->data : NULL;
    const float *sc = scales->data;
    unsigned mask = (1u << bits) - 1, per_byte = 8u / (unsigned)bits;
    for (int64_t j = 0; j < n; j++)
        for (int64_t blk = 0; blk < nblk; blk++) {
            uint64_t si = (uint64_t)(j * nblk + blk);
            float zp = (float)(1 << (bits - 1));
            if (zq) {
                uint64_t zbit = (uint64_t)blk * (uint64_t)bits;
                zp = (float)((zq[(uint64_t)j * (uint64_t)zp_row + zbit / 8] >> (zbit % 8)) & mask);
            } else if (zps) {
                zp = ((const float *)zps->data)[si];
            }
            const uint8_t *blob_p = bq + si * (uint64_t)blob;
            for (int64_t t = 0; t < block_size; t++) {
                int64_t kk = blk * block_size + t;
                if (kk >= k)
                    break;
                unsigned q = (blob_p[t / per_byte] >> ((unsigned)(t % per_byte) * bits)) & mask;
                w[j * k + kk] = ((float)q - zp) * sc[si];
            }
        }
    uint64_t m = fa_rt_tensor_num_elements(a) / (uint64_t)k;
    if (m > INT32_MAX) {
        s = fa_rt_err(op, "too many rows");
    } else if (m > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k,
                    1.0f, a->data, (blasint)k, w, (blasint)k, 0.0f, out->data, (blasint)n);
        if (bias)
            for (uint64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++)
                    ((float *)out->data)[i * (uint64_t)n + (uint64_t)j] +=
                        ((const float *)bias->data)[j];
    }
    al->free(al->user, w);
    if (s)
        fa_rt_tensor_free(out, al);
    return s;
}
