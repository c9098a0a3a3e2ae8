/* Numerical building blocks of the quantization solvers (qmath.h): random numbers, orthogonal and
 * Hadamard matrices, the symmetric quantizers and the weight clip search. GPTQ is in gptq.c. */
#include "passes/quant/qmath.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t fa_qmath_rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double fa_qmath_rng_uniform(uint64_t *state) {
    return (double)(fa_qmath_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

double fa_qmath_rng_normal(uint64_t *state) {
    double u1 = 1.0 - fa_qmath_rng_uniform(state); /* (0, 1]: log is finite */
    double u2 = fa_qmath_rng_uniform(state);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* n*n elements fit in size_t bytes of floats (n > 0). */
static int square_fits(int64_t n) {
    return n > 0 && (uint64_t)n <= (uint64_t)(SIZE_MAX / sizeof(float)) / (uint64_t)n &&
           n <= INT32_MAX;
}

fa_status fa_qmath_random_orthogonal(int64_t n, uint64_t *rng, float *out) {
    if (!square_fits(n))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "random orthogonal: bad size %lld",
                              (long long)n);
    float *tau = malloc((size_t)n * sizeof *tau);
    float *sign = malloc((size_t)n * sizeof *sign);
    if (!tau || !sign) {
        free(tau), free(sign);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "random orthogonal: out of memory");
    }
    for (int64_t i = 0; i < n * n; i++)
        out[i] = (float)fa_qmath_rng_normal(rng);
    lapack_int ln = (lapack_int)n, info = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, ln, ln, out, ln, tau);
    if (info == 0) {
        /* Q diag(sign(R_jj)) is Haar-distributed; plain Q is not. */
        for (int64_t j = 0; j < n; j++)
            sign[j] = out[j * n + j] < 0 ? -1.0f : 1.0f;
        info = LAPACKE_sorgqr(LAPACK_ROW_MAJOR, ln, ln, ln, out, ln, tau);
    }
    if (info == 0)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++)
                out[i * n + j] *= sign[j];
    free(tau), free(sign);
    if (info != 0)
        return fa_status_make(FA_STATUS_INTERNAL, "random orthogonal: LAPACK error %d", (int)info);
    return FA_OK;
}

fa_status fa_qmath_hadamard(int64_t n, uint64_t *rng, float *out) {
    if (!square_fits(n))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "hadamard: bad size %lld", (long long)n);
    int64_t p = 1, m = n;
    while (m % 2 == 0)
        p *= 2, m /= 2;
    /* D H_p / sqrt(p): row i of the Sylvester matrix times a random sign. */
    float *h = malloc((size_t)p * (size_t)p * sizeof *h);
    float *q = m > 1 ? malloc((size_t)m * (size_t)m * sizeof *q) : NULL;
    if (!h || (m > 1 && !q)) {
        free(h), free(q);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "hadamard: out of memory");
    }
    float inv = (float)(1.0 / sqrt((double)p));
    for (int64_t i = 0; i < p; i++) {
        float s = (fa_qmath_rng_next(rng) >> 63) ? -inv : inv;
        for (int64_t j = 0; j < p; j++)
            h[i * p + j] = (__builtin_popcountll((uint64_t)(i & j)) & 1) ? -s : s;
    }
    if (m == 1) {
        memcpy(out, h, (size_t)n * (size_t)n * sizeof *out);
        free(h);
        return FA_OK;
    }
    fa_status s = fa_qmath_random_orthogonal(m, rng, q);
    if (!s)
        /* kron(H_p, Q_m): row (i1, i2), column (j1, j2) holds H[i1][j1] Q[i2][j2]. */
        for (int64_t i1 = 0; i1 < p; i1++)
            for (int64_t i2 = 0; i2 < m; i2++) {
                float *row = out + (i1 * m + i2) * n;
                for (int64_t j1 = 0; j1 < p; j1++)
                    for (int64_t j2 = 0; j2 < m; j2++)
                        row[j1 * m + j2] = h[i1 * p + j1] * q[i2 * m + j2];
            }
    free(h), free(q);
    return s;
}

int fa_qmath_qmax(int bits) { return (1 << (bits - 1)) - 1; }

/* The code of |v| at |scale| (> 0): clamp(rint(v / scale), -qmax - 1, qmax). */
static float quant_code(float v, float scale, float qmax) {
    float c = rintf(v / scale);
    return c < -qmax - 1.0f ? -qmax - 1.0f : c > qmax ? qmax : c;
}

void fa_qmath_fake_quant_rows(const float *x, int64_t rows, int64_t d, int bits, float clip,
                              float *out) {
    float qmax = (float)fa_qmath_qmax(bits);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *o = out + r * d, amax = 0.0f;
        for (int64_t j = 0; j < d; j++)
            amax = fmaxf(amax, fabsf(xr[j]));
        float scale = clip * amax / qmax;
        if (!(scale > 0.0f)) {
            for (int64_t j = 0; j < d; j++)
                o[j] = 0.0f;
            continue;
        }
        for (int64_t j = 0; j < d; j++)
            o[j] = quant_code(xr[j], scale, qmax) * scale;
    }
}

/* Quantizes |len| values of |w| with one scale from their max and |clip|; codes to |codes| (may
 * be NULL), returns the scale and adds the squared error to |*err| (may be NULL). */
static float quant_block(const float *w, int64_t len, float qmax, float clip, int8_t *codes,
                         double *err) {
    float amax = 0.0f;
    for (int64_t j = 0; j < len; j++)
        amax = fmaxf(amax, fabsf(w[j]));
    float scale = clip * amax / qmax;
    for (int64_t j = 0; j < len; j++) {
        float c = scale > 0.0f ? quant_code(w[j], scale, qmax) : 0.0f;
        if (codes)
            codes[j] = (int8_t)c;
        if (err) {
            double e = (double)w[j] - (double)(c * scale);
            *err += e * e;
        }
    }
    return scale;
}

void fa_qmath_quant_weights(const float *w, int64_t n, int64_t d, int bits, int group,
                            const float *clip, int8_t *codes, float *scales) {
    float qmax = (float)fa_qmath_qmax(bits);
    int64_t g = group > 0 ? group : d, groups = d / g;
    for (int64_t r = 0; r < n; r++)
        for (int64_t b = 0; b < groups; b++)
            scales[r * groups + b] = quant_block(w + r * d + b * g, g, qmax, clip ? clip[r] : 1.0f,
                                                 codes + r * d + b * g, NULL);
}

void fa_qmath_search_weight_clip(const float *w, int64_t n, int64_t d, int bits, int group,
                                 float *clip) {
    float qmax = (float)fa_qmath_qmax(bits);
    int64_t g = group > 0 ? group : d, groups = d / g;
    for (int64_t r = 0; r < n; r++) {
        double best = INFINITY;
        clip[r] = 1.0f;
        for (int step = 0; step <= 10; step++) {
            float c = 1.0f - 0.05f * (float)step;
            double err = 0.0;
            for (int64_t b = 0; b < groups; b++)
                quant_block(w + r * d + b * g, g, qmax, c, NULL, &err);
            if (err < best)
                best = err, clip[r] = c;
        }
    }
}
