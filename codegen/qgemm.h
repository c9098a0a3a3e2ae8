/* Generated quantized GEMM/GEMV kernels for qlinear (ir/ops.def): y[rows, N] = codes[rows, K] x
 * W[N, K]^T with i8 or packed-i4 weights, per-channel or per-group f32 weight scales, per-row
 * activation scales and an optional bias, bit-for-bit equal to the C twin fa_rt_qlinear
 * (runtime/qops.c). K, N, the group, the weight dtype and the bias are static; rows is a
 * runtime argument (rows = 1 is the GEMV case). Three code paths by target features:
 * AVX512-VNNI (vpdpbusd), AVX2 (pmaddubsw / pmaddwd) and generic vector IR. */
#ifndef FA_CODEGEN_QGEMM_H
#define FA_CODEGEN_QGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/target.h"
#include "ir/ir.h"

/* Which instructions a kernel uses; AUTO picks the best the target's features allow. */
typedef enum fa_qgemm_path {
    FA_QGEMM_AUTO,
    FA_QGEMM_VNNI512, /* needs +avx512vnni, +avx512bw, +avx512f */
    FA_QGEMM_AVX2,    /* needs +avx2 */
    FA_QGEMM_GENERIC, /* target-independent vector IR, legalised for any CPU */
} fa_qgemm_path;

/* Everything that determines a kernel. |group| is the group length along K (0: one group per
 * output channel, i.e. the group is K) and must divide K; |wdtype| is FA_DT_I8 or FA_DT_I4. */
typedef struct fa_qgemm_key {
    int64_t k, n, group;
    fa_dtype wdtype;
    bool bias;
    fa_qgemm_path path;
    fa_jit_target target;
} fa_qgemm_key;

/* The generated entry point. Arguments:
 *   |codes|   i8 [rows, K], row-major (activation codes; A8 or A4 values both work)
 *   |scales|  f32 [rows], the per-row activation scale
 *   |packed_w|, |wscale|, |colsum|: the fields of an fa_qgemm_packed made by fa_qgemm_pack for
 *             the same key (weights in tile order, scales and column sums in tile order)
 *   |bias|    f32 [N] or NULL when the key has no bias
 *   |y|       f32 [rows, N], row-major, written
 *   |rows|    >= 0
 * Per output: acc_g = the int32 dot product of group g, y = 0, y += wscale[n, g] * acc_g for g
 * ascending, y *= scales[row], y += bias[n] — fa_rt_qlinear's float operations in its order,
 * never contracted into FMA. */
typedef void (*fa_qgemm_fn)(const int8_t *codes, const float *scales, const void *packed_w,
                            const float *wscale, const int32_t *colsum, const float *bias, float *y,
                            int64_t rows);

/* Calls |fn| (see fa_qgemm_fn); call kernels through this so sanitizer builds work. */
static inline FA_JIT_CALLER void fa_qgemm_run(fa_qgemm_fn fn, const int8_t *codes,
                                              const float *scales, const void *packed_w,
                                              const float *wscale, const int32_t *colsum,
                                              const float *bias, float *y, int64_t rows) {
    fn(codes, scales, packed_w, wscale, colsum, bias, y, rows);
}

/* Weights packed for one key (tile order; see qgemm.c's design note). Owned by the caller and
 * released with fa_qgemm_packed_free. */
typedef struct fa_qgemm_packed {
    void *w;         /* i8 tiles, or i4 tiles with two k-steps per byte */
    float *wscale;   /* [N tiles][G][tile width], zero in padded columns */
    int32_t *colsum; /* [N tiles][G][tile width], sum over k of w[n, k] per group */
    size_t w_bytes;
} fa_qgemm_packed;

/* Checks |key| (dims, group, dtype, and that the target has the path's features) and resolves
 * AUTO into |*out_path|. */
fa_status fa_qgemm_key_check(const fa_qgemm_key *key, fa_qgemm_path *out_path);

/* Packs the IR-layout weights |wq| (i8 [N, K], or i4 two per byte, low nibble first, in flat
 * element order) and |wscale| f32 [N, G] for |key| into |*out|. */
fa_status fa_qgemm_pack(const fa_qgemm_key *key, const void *wq, const float *wscale,
                        fa_qgemm_packed *out);
void fa_qgemm_packed_free(fa_qgemm_packed *p);

/* Writes the cache signature of |key| (op, dtypes, static dims, path, CPU and features) into
 * |buf|; returns false when it does not fit. */
bool fa_qgemm_signature(const fa_qgemm_key *key, char *buf, size_t size);

/* Emits the kernel for |key| (a const fa_qgemm_key *) as function |symbol| into |m|: a
 * fa_jit_emit_fn (codegen/jit.h), for the JIT cache and for AOT objects. */
fa_status fa_qgemm_emit(const void *key, fa_jit_module *m, const char *symbol);

/* Builds the kernel for |key| or fetches it from the JIT cache. The function stays valid until
 * fa_jit_shutdown. */
fa_status fa_qgemm_get(const fa_qgemm_key *key, fa_qgemm_fn *out);

#endif
