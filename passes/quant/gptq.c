/* GPTQ (Frantar et al. 2022; IST-DASLab/gptq:gptq.py): weight quantization that compensates each
 * column's rounding error in the columns not yet quantized, using the upper Cholesky factor U of
 * the inverse Hessian H⁻¹ = (Zᵀ Z + λI)⁻¹. Columns go in order (no act-order), in lazy blocks:
 * inside a block the updates are applied eagerly, the rest of the matrix gets them with one GEMM at
 * the block's end. Blocks hold whole scale groups, so a group's scale is computed from weights that
 * carry every earlier column's update. */
#include "passes/quant/qmath.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GPTQ_BLOCK 128
#define GPTQ_ROW_CHUNK 256 /* rows of Z converted to double at a time */

/* |h| [d, d] (upper triangle, double) := Zᵀ Z, in chunks of rows so memory stays O(d²). */
static fa_status hessian(const float *z, int64_t rows, int64_t d, double *h) {
    double *buf = malloc((size_t)GPTQ_ROW_CHUNK * (size_t)d * sizeof *buf);
    if (!buf)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "gptq: out of memory");
    memset(h, 0, (size_t)d * (size_t)d * sizeof *h);
    for (int64_t r0 = 0; r0 < rows; r0 += GPTQ_ROW_CHUNK) {
        int64_t nr = rows - r0 < GPTQ_ROW_CHUNK ? rows - r0 : GPTQ_ROW_CHUNK;
        for (int64_t i = 0; i < nr * d; i++)
            buf[i] = z[r0 * d + i];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)nr, 1.0, buf, (int)d, 1.0,
                    h, (int)d);
    }
    free(buf);
    return FA_OK;
}

/* |u| [d, d] (float, upper triangle; the rest zero) := the upper Cholesky factor of H⁻¹, after
 * dead columns (H_ii = 0) got H_ii = 1 (|dead| marks them) and λ = 1% of the mean diagonal was
 * added. */
static fa_status inverse_factor(double *h, int64_t d, unsigned char *dead, float *u) {
    double mean = 0.0;
    for (int64_t i = 0; i < d; i++) {
        dead[i] = h[i * d + i] == 0.0;
        if (dead[i])
            h[i * d + i] = 1.0;
        mean += h[i * d + i];
    }
    double damp = 0.01 * mean / (double)d;
    for (int64_t i = 0; i < d; i++)
        h[i * d + i] += damp;
    lapack_int ld = (lapack_int)d;
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', ld, h, ld);
    if (info == 0)
        info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', ld, h, ld); /* H⁻¹, upper triangle */
    if (info == 0)
        info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', ld, h, ld); /* H⁻¹ = Uᵀ U */
    if (info != 0)
        return fa_status_make(FA_STATUS_INTERNAL,
                              "gptq: Cholesky factorization failed (LAPACK info %d)", (int)info);
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = 0; j < d; j++)
            u[i * d + j] = j >= i ? (float)h[i * d + j] : 0.0f;
    return FA_OK;
}

/* clamp(rint(v / scale), -qmax - 1, qmax), as in qmath.c. */
static float quant_code_gptq(float v, float scale, float qmax) {
    float c = rintf(v / scale);
    return c < -qmax - 1.0f ? -qmax - 1.0f : c > qmax ? qmax : c;
}

/* Scales of rows of |w| [n, ld] over columns [c0, c0 + len), written to scales[r * sstride]. */
static void block_scales(const float *w, int64_t n, int64_t ld, int64_t c0, int64_t len, float qmax,
                         const float *clip, float *scales, int64_t sstride) {
    for (int64_t r = 0; r < n; r++) {
        float amax = 0.0f;
        for (int64_t j = 0; j < len; j++)
            amax = fmaxf(amax, fabsf(w[r * ld + c0 + j]));
        scales[r * sstride] = (clip ? clip[r] : 1.0f) * amax / qmax;
    }
}

fa_status fa_qmath_gptq(const float *w, int64_t n, int64_t d, const float *z, int64_t rows,
                        int bits, int group, const float *clip, int8_t *codes, float *scales) {
    if (n <= 0 || d <= 0 || rows < 0 || d > INT32_MAX / 2 || n > INT32_MAX ||
        (group > 0 && d % group != 0))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "gptq: bad sizes");
    float qmax = (float)fa_qmath_qmax(bits);
    int64_t groups = group > 0 ? d / group : 1;
    int64_t block =
        group > 0 ? group * (GPTQ_BLOCK / group > 1 ? GPTQ_BLOCK / group : 1) : GPTQ_BLOCK;
    double *h = malloc((size_t)d * (size_t)d * sizeof *h);
    float *u = malloc((size_t)d * (size_t)d * sizeof *u);
    float *wk = malloc((size_t)n * (size_t)d * sizeof *wk);
    float *err = malloc((size_t)n * (size_t)block * sizeof *err);
    unsigned char *dead = malloc((size_t)d);
    fa_status s = FA_OK;
    if (!h || !u || !wk || !err || !dead) {
        s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "gptq: out of memory");
        goto done;
    }
    s = hessian(z, rows, d, h);
    if (!s)
        s = inverse_factor(h, d, dead, u);
    if (s)
        goto done;
    memcpy(wk, w, (size_t)n * (size_t)d * sizeof *wk);
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < d; j++)
            if (dead[j])
                wk[r * d + j] = 0.0f;
    if (group <= 0) /* one scale per row, from the weights before any update (as the reference) */
        block_scales(wk, n, d, 0, d, qmax, clip, scales, 1);

    for (int64_t i1 = 0; i1 < d; i1 += block) {
        int64_t i2 = i1 + block < d ? i1 + block : d, nb = i2 - i1;
        for (int64_t i = i1; i < i2; i++) {
            if (group > 0 && i % group == 0)
                block_scales(wk, n, d, i, group, qmax, clip, scales + i / group, groups);
            float uii = u[i * d + i];
            const float *urow = u + i * d;
            for (int64_t r = 0; r < n; r++) {
                float *wr = wk + r * d;
                float sc = scales[r * groups + (group > 0 ? i / group : 0)];
                float c = sc > 0.0f ? quant_code_gptq(wr[i], sc, qmax) : 0.0f;
                codes[r * d + i] = (int8_t)c;
                float e = (wr[i] - c * sc) / uii;
                err[r * block + (i - i1)] = e;
                for (int64_t j = i + 1; j < i2; j++)
                    wr[j] -= e * urow[j];
            }
        }
        if (i2 < d) /* W[:, i2:] -= Err U[i1:i2, i2:] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)(d - i2), (int)nb,
                        -1.0f, err, (int)block, u + i1 * d + i2, (int)d, 1.0f, wk + i2, (int)d);
    }
done:
    free(h), free(u), free(wk), free(err), free(dead);
    return s;
}
