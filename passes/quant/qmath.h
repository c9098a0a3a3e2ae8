/* Numerical building blocks of the quantization solvers: a seeded random generator, random
 * orthogonal and randomized Hadamard matrices, symmetric per-row fake quantization, the
 * weight quantizer with clip search, GPTQ. Row-major f32; no IR. */
#ifndef FA_PASSES_QUANT_QMATH_H
#define FA_PASSES_QUANT_QMATH_H

#include <stdint.h>

#include "ir/status.h"

/* splitmix64: the next 64 random bits from |*state|. */
uint64_t fa_qmath_rng_next(uint64_t *state);
/* Uniform in [0, 1). */
double fa_qmath_rng_uniform(uint64_t *state);
/* Standard normal (Box-Muller). */
double fa_qmath_rng_normal(uint64_t *state);

/* |out| [n, n] := a random orthogonal matrix (QR of a Gaussian matrix, signs fixed so that the
 * distribution is Haar). */
fa_status fa_qmath_random_orthogonal(int64_t n, uint64_t *rng, float *out);

/* |out| [n, n] := a randomized orthonormal Hadamard-like matrix: for n = 2^a, diag(random ±1)
 * times the Sylvester Hadamard matrix / sqrt(n); for n = 2^a * m with m > 1 odd, the Kronecker
 * product of that 2^a matrix with a random orthogonal m x m matrix (our stand-in for QuaRot's
 * hard-coded Hadamard orders). Orthogonal in every case. */
fa_status fa_qmath_hadamard(int64_t n, uint64_t *rng, float *out);

/* Largest code of a signed |bits|-bit symmetric quantizer: 7 for 4 bits, 127 for 8. Codes lie in
 * [-qmax - 1, qmax]. */
int fa_qmath_qmax(int bits);

/* Fake-quantizes each of the |rows| rows of |x| [rows, d] in place of |out| (may equal |x|):
 * scale = clip * max|row| / qmax, code = clamp(rint(v / scale), -qmax - 1, qmax) (f32 division,
 * rint rounding half to even), out = code * scale (a zero row stays zero). This is exactly the per-token activation quantizer of the
 * `quantize` op. */
void fa_qmath_fake_quant_rows(const float *x, int64_t rows, int64_t d, int bits, float clip,
                              float *out);

/* Quantizes weights |w| [n, d] symmetrically per row (|group| = 0) or per group of |group|
 * columns: per scale block, scale = clip_row * max|block| / qmax, codes as above. |clip| [n] gives
 * each row's ratio (NULL: 1). Writes |codes| [n, d] and |scales| [n, groups]. */
void fa_qmath_quant_weights(const float *w, int64_t n, int64_t d, int bits, int group,
                            const float *clip, int8_t *codes, float *scales);

/* RTN clip search: per row, the ratio in {1.0, 0.95, ..., 0.5} minimizing the row's squared
 * weight error; written to |clip| [n]. */
void fa_qmath_search_weight_clip(const float *w, int64_t n, int64_t d, int bits, int group,
                                 float *clip);

/* GPTQ (Frantar et al.): quantizes |w| [n, d] column by column, compensating each column's
 * error in the later columns with the inverse Hessian of H = Zᵀ Z (|z| [rows, d], the inputs
 * the quantized weights will see), dampened by 1% of its mean diagonal. Scales follow the rule of
 * fa_qmath_quant_weights with |clip| (NULL: 1): per row (|group| = 0) from |w| itself; per group
 * from the error-updated weights when the group's first column is reached, as the reference does.
 * Input channels that are never used (H_ii = 0) get code 0. Writes |codes| [n, d] and |scales|
 * [n, groups]. Errors: bad sizes, out of memory, a failed Cholesky factorization. */
fa_status fa_qmath_gptq(const float *w, int64_t n, int64_t d, const float *z, int64_t rows,
                        int bits, int group, const float *clip, int8_t *codes, float *scales);

#endif
