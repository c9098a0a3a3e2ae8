/* Generated kernels in the planned runtime, without LLVM: replaces the C kernels of a built
 * fa_rt_plan (runtime/plan.h) by generated kernels where one exists — qlinear steps with
 * constant weights get a qgemm kernel (codegen/qgemm.h), fused routed_transform + quantize
 * steps a tquant kernel (codegen/tquant.h) — through the runtime's step-kernel hook.
 *
 * Where the machine code comes from is the caller's |fa_cg_kernel_source|: the JIT builds it
 * (codegen/plan_jit.h), an AOT library looks it up in the table compiled into it
 * (codegen/aot_rt.c), and `freeact compile -o model.so` records which kernels a model needs
 * (codegen/aot.c). The walk, the keys, the packing and the step wrappers are this file's and the
 * same in all three, so JIT and AOT runs of one model agree by construction. This part is linked
 * into AOT libraries (library fa_cgrt: no LLVM, no code generation). */
#ifndef FA_CODEGEN_KERNELS_H
#define FA_CODEGEN_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/target.h"
#include "runtime/plan.h"

/* The kernel families the walk installs. */
typedef enum fa_cg_kernel_family {
    FA_CG_KERNEL_QGEMM,  /* key: fa_qgemm_key, function: fa_qgemm_fn */
    FA_CG_KERNEL_TQUANT, /* key: fa_tquant_key, function: fa_tquant_fn */
    FA_CG_KERNEL_ROWOP,  /* key: fa_rowop_key, function: fa_rowop_fn */
    FA_CG_KERNEL_FAMILIES
} fa_cg_kernel_family;

/* A family's name ("qgemm", ...), key size, where its key holds the target, and its cache
 * signature (false when |buf| is short). */
typedef struct fa_cg_kernel_family_info {
    const char *name;
    size_t key_size, target_offset;
    bool (*signature)(const void *key, char *buf, size_t size);
} fa_cg_kernel_family_info;

const fa_cg_kernel_family_info *fa_cg_kernel_family_get(fa_cg_kernel_family family);

/* Room for any family's signature. */
enum { FA_CG_SIGNATURE_MAX = sizeof(((fa_jit_target *)0)->features) + 512 };

/* Where kernels come from. |get| returns in |*out_addr| the address of the kernel of |family|
 * for |key| (a fa_qgemm_key / fa_tquant_key, checked) whose cache signature is |signature|. */
typedef struct fa_cg_kernel_source {
    fa_status (*get)(void *user, fa_cg_kernel_family family, const void *key,
                     const char *signature, uint64_t *out_addr);
    void *user;
} fa_cg_kernel_source;

/* What one fa_cg_plan_install call did. */
typedef struct fa_cg_plan_jit_stats {
    uint32_t qlinear_steps;    /* qlinear steps now running a generated GEMM/GEMV */
    uint32_t tquant_steps;     /* fused routed_transform + quantize steps running generated code */
    uint32_t fused_pairs;      /* routed_transform + quantize pairs fused by this call */
    uint32_t rowop_steps;      /* rms_norm / swiglu / gelu / softmax / rope steps, generated */
    uint32_t c_steps;          /* qlinear / fused steps left to the C kernels (weights or
                                  transforms not constant, or a shape the generators reject) */
    uint32_t kernels_compiled; /* kernels built by this call (JIT cache misses) */
    uint32_t kernels_cached;   /* kernels found in the process's JIT cache */
    uint32_t kernels_from_disk; /* of the compiled ones, loaded from the disk cache */
    double compile_ms;         /* build time of those kernels: IR, O3, machine code */
    double install_ms;         /* the whole call, packing included */
    uint64_t packed_bytes;     /* packed weights (w only) and transforms held by the plan */
} fa_cg_plan_jit_stats;

/* Installs generated kernels from |src| into |plan| (built for a graph that is still alive):
 * 1. fuses every routed_transform whose only reader is a quantize into one step running the C
 *    twin (fa_rt_plan_fuse_transform_quantize), if not done already;
 * 2. every fused step whose transform |a| is a constant gets the tquant kernel for its (d, K,
 *    bits, per-type structure: identity / diagonal / randomized Hadamard / dense), the
 *    matrices packed once; a bad row the kernel reports (a type without a transform, a
 *    non-finite value) becomes the C twin's error naming the node and the row;
 * 3. every qlinear step whose weights, scales and bias are constants gets the qgemm kernel for
 *    its (K, N, group, weight dtype, bias), the weights packed once; rows stay a runtime
 *    argument, so row-split chunks and new input shapes use the same kernel;
 * 4. every rms_norm / swiglu / gelu / softmax / rope step fa_rowop_key_from_node takes gets the
 *    rowop kernel for its op and last dim (codegen/rowops.h; rope's last dim may be a run-time
 *    one).
 * Kernels are for |target| (which |src| must serve). The installed kernels stay through
 * re-plans for new input shapes (they depend on no dynamic dim). Results: qlinear equal to
 * fa_rt_qlinear bit for bit; fused steps equal to the C twin bit for bit for identity, diagonal
 * and dense types, Hadamard types within one code at ties. The plan owns the packed data.
 * |out_stats| (may be NULL) gets the counts; the kernels_* and compile_ms fields are the
 * source's to fill. An error (out of memory, a kernel the source cannot give) names the node
 * and leaves the plan valid, with the kernels installed so far. */
fa_status fa_cg_plan_install(fa_rt_plan *plan, const fa_jit_target *target,
                             const fa_cg_kernel_source *src, fa_cg_plan_jit_stats *out_stats);

#endif
