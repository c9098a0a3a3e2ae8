/* Generated fused "routed transform + per-token quantize" kernels: per row r of x f32 [rows, d]
 * with type k = tt[r], z = x[r, :] a[k] and then quantize's rule on z (codes i8, one f32 scale
 * per row), z never written to memory. d, the number of types K, bits and each type's matrix
 * structure are static: the structure is detected from the dense matrices when the key is made
 * (identity: no multiply; diagonal: elementwise scale; randomized Hadamard diag(s) H_d / sqrt(d):
 * a fast Walsh-Hadamard transform; a Kronecker product kron(A1 [p, p], A2 [q, q]) (QuaRot's
 * kron(diag(s) H_p / sqrt(p), Q_m) for d = 2^a m, or any product of two factors): two small
 * GEMMs, or one and an FWHT; anything else: a dense GEMV / small GEMM). The C twin is
 * fa_rt_transform_quantize (runtime/tquant.c); identity, diagonal and dense types give its
 * results bit for bit, Hadamard and Kronecker types differ by their rounding (codes +-1 at
 * ties; the twin sums the dense matrix in order). */
#ifndef FA_CODEGEN_TQUANT_H
#define FA_CODEGEN_TQUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/target.h"

enum { FA_TQUANT_TYPES_MAX = 8, FA_TQUANT_D_MAX = 16384 };

/* How a type's transform is computed. DENSE is right for every matrix; the others only for
 * matrices of their structure (fa_tquant_pack checks). */
typedef enum fa_tquant_kind {
    FA_TQUANT_IDENTITY,
    FA_TQUANT_DIAG,
    FA_TQUANT_HADAMARD, /* diag(s) H_d / sqrt(d), s = +-1, H_d Sylvester, d a power of two */
    FA_TQUANT_DENSE,
    FA_TQUANT_KRON, /* kron(A1 [p, p], A2 [q, q]), d = p q (the key's kron_p, kron_hadamard) */
} fa_tquant_kind;

/* Which instructions a kernel uses; AUTO picks the widest the target's features allow. */
typedef enum fa_tquant_path {
    FA_TQUANT_AUTO,
    FA_TQUANT_AVX512,  /* 16 f32 lanes; needs +avx512f, +avx512bw */
    FA_TQUANT_AVX2,    /* 8 lanes; needs +avx2 */
    FA_TQUANT_GENERIC, /* 4 lanes of target-independent vector IR */
} fa_tquant_path;

/* Everything that determines a kernel. */
typedef struct fa_tquant_key {
    int64_t d;
    int ntypes; /* K, 1..FA_TQUANT_TYPES_MAX */
    int bits;   /* 4 or 8 */
    fa_tquant_kind kinds[FA_TQUANT_TYPES_MAX];
    /* KRON types: A1's order p (2 <= p <= d / 2, p | d) and whether A1 = diag(s) H_p / sqrt(p)
     * (p a power of two; applied with an FWHT). 0 / false for the other kinds. */
    int64_t kron_p[FA_TQUANT_TYPES_MAX];
    bool kron_hadamard[FA_TQUANT_TYPES_MAX];
    fa_tquant_path path;
    fa_jit_target target;
} fa_tquant_key;

/* The structure of the dense matrix |a| [d, d], in this order of priority: IDENTITY (exactly),
 * DIAG (off-diagonal entries exactly zero), HADAMARD (d a power of two >= 2 and every entry
 * within 1e-6 relative of s_i H[i][j] / sqrt(d), s_i the sign of a[i][0]), KRON
 * (fa_tquant_detect_kron) or DENSE. */
fa_tquant_kind fa_tquant_detect(int64_t d, const float *a);
/* Whether |a| [d, d] is kron(A1 [p, p], A2 [q, q]) for some d = p q, p, q >= 2: the factors are
 * read off |a| (A2 from the block holding the largest |a_ij|, A1 from that entry's positions in
 * every block) and rounded to f32 as the kernel uses them, and every entry of |a| must lie
 * within 1e-6 relative of the product of its factors (a zero product: exactly 0). A1 counts as
 * a Hadamard diag(s) H_p / sqrt(p) (p a power of two; the FWHT path) when every A1 entry has
 * one magnitude within 1e-6 relative and the Sylvester sign pattern times a row sign. Of the
 * factorizations that hold and whose scratch fits the kernel's stack, the one with the fewest
 * multiply-adds per row wins: |*out_p| and |*out_hadamard|. False (outputs untouched) when
 * none does. Costs O(d^2) per candidate p that passes the first few entries. */
bool fa_tquant_detect_kron(int64_t d, const float *a, int64_t *out_p, bool *out_hadamard);
/* "identity", "diag", "hadamard", "dense", "kron". */
const char *fa_tquant_kind_name(fa_tquant_kind kind);

/* Makes the key for |ntypes| matrices |a| f32 [K, d, d] (row-major, z_j = sum_i x_i a[k, i, j]):
 * checks the sizes and detects each type's kind (and a KRON type's factorization) into
 * key->kinds (the debug view of which code path each type gets; a caller may downgrade a kind
 * to DENSE). Path AUTO. */
fa_status fa_tquant_key_init(fa_tquant_key *key, int64_t d, int ntypes, int bits, const float *a,
                             const fa_jit_target *target);
/* Checks |key| (dims, kinds, that the target has the path's features) and resolves AUTO into
 * |*out_path|. */
fa_status fa_tquant_key_check(const fa_tquant_key *key, fa_tquant_path *out_path);

/* The matrices packed for a key (and its path): per type in order, a 64-byte aligned section:
 * nothing (identity), the diagonal (diag), the signs as +0.0f / -0.0f (hadamard, xor-ed into
 * x), the matrix in column tiles of the path's width, each tile [d][width] contiguous, the
 * columns zero-padded to a multiple of 64 (dense), or (kron) A1's part padded to a multiple of
 * 16 floats: A1's row signs s as +0.0f / -0.0f [p] (Hadamard A1) or A1 transposed [p][p]
 * (element [j1][i1] = A1[i1][j1]); then A2 [q][qp], each row's columns zero-padded to qp (q
 * rounded up to the path's step lanes, tquant_layout.h). Owned by the caller, released with
 * fa_tquant_packed_free. */
typedef struct fa_tquant_packed {
    float *data;
    size_t floats;
} fa_tquant_packed;

/* Packs |a| f32 [K, d, d] for |key|; an error when a type's kind does not fit its matrix. */
fa_status fa_tquant_pack(const fa_tquant_key *key, const float *a, fa_tquant_packed *out);
void fa_tquant_packed_free(fa_tquant_packed *p);

/* The generated entry point. Arguments:
 *   |x|      f32 [rows, d], row-major
 *   |tt|     u8 [rows], each row's type, or NULL (every row type 0)
 *   |a|      the packed matrices (fa_tquant_packed.data for the same key; 64-byte aligned)
 *   |clip|   f32 [K], each type's clip ratio, or NULL (1.0)
 *   |codes|  i8 [rows, d], written
 *   |scales| f32 [rows], written
 *   |rows|   >= 0
 * Returns -1, or the first row whose type is >= K or whose z holds a non-finite value (the
 * codes and scale of such rows are unspecified; fa_rt_transform_quantize reports an error). */
typedef int64_t (*fa_tquant_fn)(const float *x, const uint8_t *tt, const float *a,
                                const float *clip, int8_t *codes, float *scales, int64_t rows);

/* Calls |fn| (see fa_tquant_fn); call kernels through this so sanitizer builds work. */
static inline FA_JIT_CALLER int64_t fa_tquant_run(fa_tquant_fn fn, const float *x,
                                                  const uint8_t *tt, const float *a,
                                                  const float *clip, int8_t *codes, float *scales,
                                                  int64_t rows) {
    return fn(x, tt, a, clip, codes, scales, rows);
}

/* Writes the cache signature of |key| (op, d, K, bits, kinds with each KRON type's p and A1
 * structure as "kron<p>h" (Hadamard A1) or "kron<p>", path, CPU and features) into |buf|;
 * returns false when it does not fit. */
bool fa_tquant_signature(const fa_tquant_key *key, char *buf, size_t size);

/* Emits the kernel for |key| (a const fa_tquant_key *) as function |symbol| into |m|: a
 * fa_jit_emit_fn (codegen/jit.h), for the JIT cache and for AOT objects. */
fa_status fa_tquant_emit(const void *key, fa_jit_module *m, const char *symbol);

/* Builds the kernel for |key| or fetches it from the JIT cache. The function stays valid until
 * fa_jit_shutdown. */
fa_status fa_tquant_get(const fa_tquant_key *key, fa_tquant_fn *out);

#endif
