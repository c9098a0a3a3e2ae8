/* The JIT as the kernel source of fa_cg_plan_install (see plan_jit.h). */
#include "codegen/plan_jit.h"

#include "codegen/qgemm.h"
#include "codegen/rowops.h"
#include "codegen/tquant.h"

fa_jit_emit_fn fa_cg_kernel_emit_fn(fa_cg_kernel_family family) {
    switch (family) {
    case FA_CG_KERNEL_QGEMM: return fa_qgemm_emit;
    case FA_CG_KERNEL_TQUANT: return fa_tquant_emit;
    case FA_CG_KERNEL_ROWOP: return fa_rowop_emit;
    case FA_CG_KERNEL_FAMILIES: break;
    }
    return NULL;
}

static fa_status jit_get(void *user, fa_cg_kernel_family family, const void *key,
                         const char *signature, uint64_t *out_addr) {
    (void)user;
    const fa_cg_kernel_family_info *info = fa_cg_kernel_family_get(family);
    const fa_jit_target *t = (const fa_jit_target *)((const char *)key + info->target_offset);
    return fa_jit_kernel_get(signature, t, info->name, fa_cg_kernel_emit_fn(family), key,
                             out_addr);
}

const fa_cg_kernel_source fa_cg_jit_source = {jit_get, NULL};

fa_status fa_cg_plan_install_jit(fa_rt_plan *plan, const fa_jit_target *target,
                                 fa_cg_plan_jit_stats *out_stats) {
    fa_jit_target host;
    if (!target) {
        fa_jit_target_host(&host);
        target = &host;
    }
    fa_jit_stats before, after;
    fa_jit_stats_get(&before);
    fa_cg_plan_jit_stats st;
    fa_status s = fa_cg_plan_install(plan, target, &fa_cg_jit_source, &st);
    fa_jit_stats_get(&after);
    st.kernels_compiled = (uint32_t)(after.compiled - before.compiled);
    st.kernels_cached = (uint32_t)(after.hits - before.hits);
    st.kernels_from_disk = (uint32_t)(after.disk_hits - before.disk_hits);
    st.compile_ms = after.total_ms - before.total_ms;
    if (out_stats)
        *out_stats = st;
    return s;
}
