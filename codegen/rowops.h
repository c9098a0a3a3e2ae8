/* Generated row kernels for freeact's f32 row ops: rms_norm over the last axis (gamma optional),
 * swiglu, gelu (erf and tanh forms), softmax over the last axis and rope (rotate half). The first
 * four compute the C twin's formula in double, as the twin does, and round to f32 once per
 * element; rope computes in f32 as its twin does:
 *   rms_norm  fa_rt_norm(FA_RT_NORM_RMS): same operations in the same order, so bitwise equal;
 *   swiglu    fa_rt_swiglu: the twin's sigmoid with a vectorized double exp (< 1 double ulp
 *             from libm's), so within 1 f32 ulp and almost always equal;
 *   softmax   fa_rt_softmax (last axis): the same vectorized exp, the row sum in vector lanes
 *             (not the twin's order): within 1 f32 ulp, almost always equal;
 *   gelu      fa_rt_gelu: libm's erfc / tanh on each element (scalar calls, resolved through the
 *             process in the JIT and -lm in AOT libraries), so bitwise equal;
 *   rope      fa_rt_rope (interleaved 0): the same f32 products and sum (no FMA), so bitwise
 *             equal.
 * Measured tolerances are in tests/codegen/test_rowops.c's header. */
#ifndef FA_CODEGEN_ROWOPS_H
#define FA_CODEGEN_ROWOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/kernels.h"
#include "codegen/target.h"
#include "ir/ir.h"

enum { FA_ROWOP_D_MAX = 1 << 24 };

typedef enum fa_rowop_kind {
    FA_ROWOP_RMS_NORM, /* y = x / sqrt(mean(x^2) + epsilon) [* gamma], rows of d */
    FA_ROWOP_SWIGLU,   /* y = g sigmoid(g) u, elementwise (d = 0: rows counts elements) */
    FA_ROWOP_GELU,     /* y = x Phi(x), erf or tanh form, elementwise (d = 0) */
    FA_ROWOP_SOFTMAX,  /* y = exp(x - max) / sum, rows of d */
    FA_ROWOP_ROPE,     /* y = x cos + rot(x) sin, rotate half, rows of d (d = 0: d at run time) */
} fa_rowop_kind;

/* Which vector width a kernel uses; AUTO picks the widest the target's features allow. The
 * kernels use no x86 intrinsics, so every path runs anywhere its width is legal. */
typedef enum fa_rowop_path {
    FA_ROWOP_AUTO,
    FA_ROWOP_AVX512,  /* 16 f32 lanes (two 8-double vectors); needs +avx512f */
    FA_ROWOP_AVX2,    /* 8 lanes; needs +avx2 */
    FA_ROWOP_GENERIC, /* 4 lanes */
} fa_rowop_path;

/* Everything that determines a kernel (its signature spells out every field). Make it with
 * memset 0 first: keys are copied as bytes (codegen/aot.c). */
typedef struct fa_rowop_key {
    fa_rowop_kind op;
    /* the last dim for RMS_NORM / SOFTMAX (1..FA_ROWOP_D_MAX); 0 for SWIGLU, GELU; ROPE: the
     * last dim, or 0 for a kernel taking it at run time */
    int64_t d;
    bool has_gamma; /* RMS_NORM only */
    bool gelu_tanh; /* GELU only: the tanh form */
    double epsilon; /* RMS_NORM only: the node's attribute as the C twin gets it (a double) */
    fa_rowop_path path;
    fa_jit_target target;
} fa_rowop_key;

/* Checks |key| (op, d, fields unused by the op zero, the target has the path's features) and
 * resolves AUTO into |*out_path|. */
fa_status fa_rowop_key_check(const fa_rowop_key *key, fa_rowop_path *out_path);

/* The key of |n| (an rms_norm, swiglu, gelu, softmax or rope node of a live graph) for |target|,
 * or false when the generator does not take it: not f32, softmax / rms_norm not over the last
 * axis or with a last dim that is not static, rms_norm without epsilon or with a gamma that is
 * not a graph constant f32 [d], gelu with an unknown approximation, interleaved rope. A rope's
 * d is x's static last dim, or 0 (run time) when it is not static. Path AUTO. */
bool fa_rowop_key_from_node(const fa_node *n, const fa_jit_target *target, fa_rowop_key *key);

/* The generated entry point:
 *   |x|      f32 [rows, d] (RMS_NORM, SOFTMAX, ROPE), or |rows| elements (SWIGLU's g, GELU)
 *   |x2|     SWIGLU's u (|rows| elements), ROPE's cos (f32 [rows, d]), else ignored (pass NULL)
 *   |gamma|  RMS_NORM with has_gamma: f32 [d]; ROPE's sin (f32 [rows, d]); else ignored (NULL)
 *   |y|      f32 like |x|, written (may not overlap the inputs)
 *   |rows|   >= 0
 *   |d|      ROPE with key d = 0: the row length (1..FA_ROWOP_D_MAX); ignored otherwise (0) */
typedef void (*fa_rowop_fn)(const float *x, const float *x2, const float *gamma, float *y,
                            int64_t rows, int64_t d);

/* Calls |fn| (see fa_rowop_fn); call kernels through this so sanitizer builds work. */
static inline FA_JIT_CALLER void fa_rowop_run(fa_rowop_fn fn, const float *x, const float *x2,
                                              const float *gamma, float *y, int64_t rows,
                                              int64_t d) {
    fn(x, x2, gamma, y, rows, d);
}

/* "rms_norm", "swiglu", "gelu", "softmax", "rope". */
const char *fa_rowop_kind_name(fa_rowop_kind op);

/* Writes the cache signature of |key| (op, d, gamma, epsilon in hex, gelu form, path, CPU and
 * features) into |buf|; returns false when it does not fit. */
bool fa_rowop_signature(const fa_rowop_key *key, char *buf, size_t size);

/* Emits the kernel for |key| (a const fa_rowop_key *) as function |symbol| into |m|: a
 * fa_jit_emit_fn (codegen/jit.h), for the JIT cache and for AOT objects. */
fa_status fa_rowop_emit(const void *key, fa_jit_module *m, const char *symbol);

/* Builds the kernel for |key| or fetches it from the JIT cache. The function stays valid until
 * fa_jit_shutdown. */
fa_status fa_rowop_get(const fa_rowop_key *key, fa_rowop_fn *out);

/* The step kernel (the executor's calling convention, runtime/plan.h) running |fn| (the kernel
 * for |key|) on a node whose axis attribute is |axis|: operands other than those the kernel was
 * built for (dtype, last dim, gamma, u's shape; rope's cos / sin must have last dim d and widen
 * none of x's dims) go to the C kernel, so its results and error messages are the reference's;
 * outputs are allocated with the executor's allocator at exactly their size; rows are a runtime
 * quantity (row-range views of a split step work). |*out_params| is the caller's, released with
 * free(). */
fa_status fa_cg_rowop_step_create(const fa_rowop_key *key, fa_rowop_fn fn, int64_t axis,
                                  fa_rt_step_kernel *out_kernel, void **out_params);

/* Gives plan step |step| (running node |n|) the generated kernel from |src| for |target| when
 * fa_rowop_key_from_node takes |n|; |*out_installed| says whether it did (counted in
 * st->rowop_steps). The step kernel sends operands the kernel was not built for to the C
 * kernel, so errors are the reference's. */
fa_status fa_cg_rowop_install(fa_rt_plan *plan, uint32_t step, const fa_node *n,
                              const fa_jit_target *target, const fa_cg_kernel_source *src,
                              fa_cg_plan_jit_stats *st, bool *out_installed);

#endif
