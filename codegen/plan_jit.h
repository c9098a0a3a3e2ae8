/* Generated kernels in the planned runtime, built by the JIT: fa_cg_plan_install
 * (codegen/kernels.h) with the process's JIT session (codegen/jit.h) as the kernel source, so
 * the runtime never sees LLVM. */
#ifndef FA_CODEGEN_PLAN_JIT_H
#define FA_CODEGEN_PLAN_JIT_H

#include "codegen/jit.h"
#include "codegen/kernels.h"

/* The emit function of |family|'s generator (NULL for an unknown family). */
fa_jit_emit_fn fa_cg_kernel_emit_fn(fa_cg_kernel_family family);

/* The JIT as a kernel source: builds each kernel (or finds it in the process's cache). */
extern const fa_cg_kernel_source fa_cg_jit_source;

/* fa_cg_plan_install with the JIT for |target| (NULL: the host); |out_stats| (may be NULL) also
 * gets the kernels compiled and found cached, and their compile time. */
fa_status fa_cg_plan_install_jit(fa_rt_plan *plan, const fa_jit_target *target,
                                 fa_cg_plan_jit_stats *out_stats);

#endif
