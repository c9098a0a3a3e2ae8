/* Row kernels in the planned runtime, without LLVM (linked into AOT libraries): rowop keys from
 * nodes, signatures, and the step kernel that runs a generated row kernel with the executor's
 * calling convention (see rowops.h and kernels.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/rowops.h"
#include "runtime/kernels.h"

const char *fa_rowop_kind_name(fa_rowop_kind op) {
    switch (op) {
    case FA_ROWOP_RMS_NORM: return "rms_norm";
    case FA_ROWOP_SWIGLU: return "swiglu";
    case FA_ROWOP_GELU: return "gelu";
    case FA_ROWOP_SOFTMAX: return "softmax";
    case FA_ROWOP_ROPE: return "rope";
    }
    return "?";
}

static const char *path_name(fa_rowop_path p) {
    switch (p) {
    case FA_ROWOP_AUTO: return "auto";
    case FA_ROWOP_AVX512: return "avx512";
    case FA_ROWOP_AVX2: return "avx2";
    case FA_ROWOP_GENERIC: return "generic";
    }
    return "?";
}

fa_status fa_rowop_key_check(const fa_rowop_key *key, fa_rowop_path *out_path) {
    bool rowwise = key->op == FA_ROWOP_RMS_NORM || key->op == FA_ROWOP_SOFTMAX;
    if (key->op < FA_ROWOP_RMS_NORM || key->op > FA_ROWOP_ROPE)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "rowop: unknown op %d", (int)key->op);
    const char *name = fa_rowop_kind_name(key->op);
    bool any_d = key->op == FA_ROWOP_ROPE || key->op == FA_ROWOP_SOFTMAX; /* 0: run time */
    bool bad_d = any_d     ? key->d < 0 || key->d > FA_ROWOP_D_MAX
                 : rowwise ? key->d < 1 || key->d > FA_ROWOP_D_MAX
                           : key->d != 0;
    if (bad_d)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "rowop %s: d = %lld, expected %s", name,
                              (long long)key->d,
                              any_d     ? "0 (run time) or 1..2^24"
                              : rowwise ? "1..2^24"
                                        : "0 (elementwise)");
    if ((key->has_gamma || key->epsilon != 0.0) && key->op != FA_ROWOP_RMS_NORM)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "rowop %s: gamma or epsilon set", name);
    if (key->gelu_tanh && key->op != FA_ROWOP_GELU)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "rowop %s: gelu form set", name);
    fa_rowop_path p = key->path;
    if (p == FA_ROWOP_AUTO)
        p = fa_jit_target_has(&key->target, "avx512f") ? FA_ROWOP_AVX512
            : fa_jit_target_has(&key->target, "avx2")  ? FA_ROWOP_AVX2
                                                       : FA_ROWOP_GENERIC;
    if ((p == FA_ROWOP_AVX512 && !fa_jit_target_has(&key->target, "avx512f")) ||
        (p == FA_ROWOP_AVX2 && !fa_jit_target_has(&key->target, "avx2")))
        return fa_status_make(FA_STATUS_UNSUPPORTED, "rowop: path %s needs features cpu %s lacks",
                              path_name(p), key->target.cpu);
    *out_path = p;
    return FA_OK;
}

bool fa_rowop_signature(const fa_rowop_key *key, char *buf, size_t size) {
    fa_rowop_path p;
    fa_status s = fa_rowop_key_check(key, &p);
    if (s) {
        fa_status_free(s);
        p = key->path;
    }
    int len =
        snprintf(buf, size, "rowop %s d=%lld gamma=%d eps=%a tanh=%d path=%s cpu=%s features=%s",
                 fa_rowop_kind_name(key->op), (long long)key->d, key->has_gamma, key->epsilon,
                 key->gelu_tanh, path_name(p), key->target.cpu, key->target.features);
    return len >= 0 && (size_t)len < size;
}

/* ---- keys from nodes ---- */

/* Whether |axis| names the last dim of a value of rank |rank| (-1 when unknown). */
static bool is_last_axis(int64_t axis, int rank) {
    return axis == -1 || (rank >= 1 && axis == rank - 1);
}

static bool is_f32(const fa_value *v) { return v && v->type.dtype == FA_DT_F32; }

bool fa_rowop_key_from_node(const fa_node *n, const fa_jit_target *target, fa_rowop_key *key) {
    memset(key, 0, sizeof *key);
    key->path = FA_ROWOP_AUTO;
    key->target = *target;
    if (n->num_results != 1 || n->num_operands < 1 || !is_f32(n->operands[0]) ||
        !is_f32(n->results[0]))
        return false;
    const fa_type *xt = &n->operands[0]->type;
    bool rowwise = n->op == FA_OP_RMS_NORM || n->op == FA_OP_SOFTMAX;
    if (rowwise) {
        /* rms_norm needs d static (gamma is [d]); softmax takes it at run time otherwise */
        bool fixed = xt->rank >= 1 && fa_dim_is_static(xt->dims[xt->rank - 1]);
        if (xt->rank < 1 || (!fixed && n->op == FA_OP_RMS_NORM) ||
            !is_last_axis(fa_node_attr_int(n, "axis", -1), xt->rank))
            return false;
        key->d = fixed ? xt->dims[xt->rank - 1].value : 0;
        if (fixed && (key->d < 1 || key->d > FA_ROWOP_D_MAX))
            return false;
    }
    switch (n->op) {
    case FA_OP_RMS_NORM: {
        key->op = FA_ROWOP_RMS_NORM;
        const fa_attr *eps = fa_node_attr(n, "epsilon");
        if (!eps || n->num_operands > 2)
            return false;
        key->epsilon = fa_node_attr_float(n, "epsilon", 0.0);
        const fa_value *gv = n->num_operands > 1 ? n->operands[1] : NULL;
        if (gv) {
            const fa_tensor *gt = gv->kind == FA_VALUE_CONST ? gv->tensor : NULL;
            if (!gt || gt->type.dtype != FA_DT_F32 || gt->type.rank != 1 ||
                gt->type.dims[0].value != key->d)
                return false;
            key->has_gamma = true;
        }
        break;
    }
    case FA_OP_SOFTMAX: key->op = FA_ROWOP_SOFTMAX; break;
    case FA_OP_SWIGLU:
        key->op = FA_ROWOP_SWIGLU;
        if (n->num_operands != 2 || !is_f32(n->operands[1]))
            return false;
        break;
    case FA_OP_GELU: {
        key->op = FA_ROWOP_GELU;
        const char *approx = fa_node_attr_string(n, "approximate", "none");
        if (strcmp(approx, "none") != 0 && strcmp(approx, "tanh") != 0)
            return false;
        key->gelu_tanh = strcmp(approx, "tanh") == 0;
        break;
    }
    case FA_OP_ROPE: {
        key->op = FA_ROWOP_ROPE;
        if (n->num_operands != 3 || !is_f32(n->operands[1]) || !is_f32(n->operands[2]) ||
            fa_node_attr_int(n, "interleaved", 0) != 0 || xt->rank == 0)
            return false;
        fa_dim d = xt->rank > 0 ? xt->dims[xt->rank - 1] : (fa_dim){0, NULL};
        if (fa_dim_is_static(d) && d.value >= 1 && d.value <= FA_ROWOP_D_MAX)
            key->d = d.value; /* else 0: the kernel takes d at run time */
        break;
    }
    default: return false;
    }
    fa_rowop_path path;
    fa_status s = fa_rowop_key_check(key, &path);
    fa_status_free(s);
    return s == FA_OK;
}

/* ---- the step kernel ---- */

typedef struct rowop_ctx {
    fa_rowop_fn fn;
    fa_rowop_key key;
    int64_t axis; /* the node's, for the C kernel */
} rowop_ctx;

/* The C kernel of the op (the reference, and its error messages). */
static fa_status c_kernel(const rowop_ctx *c, const fa_rt_tensor *const *ins, uint32_t nin,
                          fa_rt_tensor *out, const fa_rt_allocator *al) {
    switch (c->key.op) {
    case FA_ROWOP_RMS_NORM:
        return fa_rt_norm(FA_RT_NORM_RMS, ins[0], nin > 1 ? ins[1] : NULL, NULL, c->axis,
                          c->key.epsilon, out, al);
    case FA_ROWOP_SWIGLU: return fa_rt_swiglu(ins[0], ins[1], out, al);
    case FA_ROWOP_GELU: return fa_rt_gelu(ins[0], c->key.gelu_tanh, out, al);
    case FA_ROWOP_SOFTMAX: return fa_rt_softmax(false, ins[0], c->axis, out, al);
    case FA_ROWOP_ROPE:
        if (nin != 3)
            return fa_status_make(FA_STATUS_INTERNAL, "rope: bad step operands");
        return fa_rt_rope(ins[0], ins[1], ins[2], false, out, al);
    }
    return fa_status_make(FA_STATUS_INTERNAL, "rowop: bad op");
}

/* Whether rope's cos / sin |t| fits x |x| with last dim |d|: f32, last dim d, and every other dim
 * 1 or x's (so y has x's shape). */
static bool rope_operand_fits(const fa_rt_tensor *t, const fa_rt_tensor *x, int64_t d) {
    if (!t || t->dtype != FA_DT_F32 || t->rank < 1 || t->rank > x->rank ||
        t->dims[t->rank - 1] != d)
        return false;
    for (int i = 0; i < t->rank - 1; i++) {
        int64_t xd = x->dims[x->rank - t->rank + i];
        if (t->dims[i] != 1 && t->dims[i] != xd)
            return false;
    }
    return true;
}

/* Whether the operands are what the kernel was built for (else the C kernel runs). */
static bool rowop_fits(const rowop_ctx *c, const fa_rt_tensor *const *ins, uint32_t nin) {
    const fa_rt_tensor *x = ins[0];
    if (!x || x->dtype != FA_DT_F32 || (x->rank < 1 && c->key.d > 0))
        return false;
    switch (c->key.op) {
    case FA_ROWOP_RMS_NORM: {
        const fa_rt_tensor *gamma = nin > 1 ? ins[1] : NULL;
        if (x->dims[x->rank - 1] != c->key.d || (gamma != NULL) != c->key.has_gamma)
            return false;
        return !gamma ||
               (gamma->dtype == FA_DT_F32 && gamma->rank == 1 && gamma->dims[0] == c->key.d);
    }
    case FA_ROWOP_SOFTMAX:
        return c->key.d ? x->dims[x->rank - 1] == c->key.d
                        : x->dims[x->rank - 1] >= 1 && x->dims[x->rank - 1] <= FA_ROWOP_D_MAX;
    case FA_ROWOP_SWIGLU:
        return nin == 2 && ins[1] && ins[1]->dtype == FA_DT_F32 &&
               fa_rt_tensor_same_shape(x, ins[1]);
    case FA_ROWOP_GELU: return true;
    case FA_ROWOP_ROPE: {
        int64_t d = x->rank >= 1 ? x->dims[x->rank - 1] : 0;
        if (nin != 3 || x->rank < 1 || d < 1 || d > FA_ROWOP_D_MAX || (c->key.d && d != c->key.d))
            return false;
        return rope_operand_fits(ins[1], x, d) && rope_operand_fits(ins[2], x, d);
    }
    }
    return false;
}

/* The dim of |t| aligned with x's leading dim |i| (x of rank |xrank|; 1 where |t| has none). */
static int64_t aligned_dim(const fa_rt_tensor *t, int xrank, int i) {
    int k = i - (xrank - t->rank);
    return k >= 0 ? t->dims[k] : 1;
}

/* rope on operands rowop_fits took: the leading dims of x over which cos and sin are complete
 * form blocks of consecutive rows (cos / sin rows advance with x's); one kernel call per block,
 * with cos / sin offsets from their broadcast row strides over the outer dims. */
static void rope_run_blocks(const rowop_ctx *c, const fa_rt_tensor *const *ins, float *y) {
    const fa_rt_tensor *x = ins[0], *cs[2] = {ins[1], ins[2]};
    int lead = x->rank - 1, split = lead;
    int64_t d = x->dims[x->rank - 1], inner = 1;
    while (split > 0 && aligned_dim(cs[0], x->rank, split - 1) == x->dims[split - 1] &&
           aligned_dim(cs[1], x->rank, split - 1) == x->dims[split - 1])
        inner *= x->dims[--split];
    int64_t stride[2][FA_MAX_RANK], idx[FA_MAX_RANK] = {0}, off[2] = {0, 0}, outer = 1;
    for (int k = 0; k < 2; k++) {
        int64_t s = 1; /* rows */
        for (int i = lead - 1; i >= 0; i--) {
            int64_t od = aligned_dim(cs[k], x->rank, i);
            stride[k][i] = od == 1 ? 0 : s;
            s *= od;
        }
    }
    for (int i = 0; i < split; i++)
        outer *= x->dims[i];
    const float *xp = x->data, *cp = cs[0]->data, *sp = cs[1]->data;
    int64_t dk = c->key.d ? 0 : d;
    for (int64_t o = 0; o < outer; o++) {
        int64_t at = o * inner * d;
        fa_rowop_run(c->fn, xp + at, cp + off[0] * d, sp + off[1] * d, y + at, inner, dk);
        for (int i = split - 1; i >= 0; i--) { /* the odometer over the outer dims */
            if (++idx[i] < x->dims[i]) {
                off[0] += stride[0][i], off[1] += stride[1][i];
                break;
            }
            off[0] -= stride[0][i] * (x->dims[i] - 1), off[1] -= stride[1][i] * (x->dims[i] - 1);
            idx[i] = 0;
        }
    }
}

/* ins: x (g for swiglu), then gamma (rms_norm), u (swiglu) or cos, sin (rope); out: y of x's
 * shape. */
static fa_status rowop_kernel(const void *params, const fa_rt_tensor *const *ins, uint32_t nin,
                              fa_rt_tensor *outs, uint32_t nout, const fa_rt_allocator *al) {
    const rowop_ctx *c = params;
    if (nout != 1 || nin < 1)
        return fa_status_make(FA_STATUS_INTERNAL, "%s: bad step operands",
                              fa_rowop_kind_name(c->key.op));
    if (!rowop_fits(c, ins, nin))
        return c_kernel(c, ins, nin, &outs[0], al);
    const fa_rt_tensor *x = ins[0];
    FA_TRY(fa_status_prefix(fa_rt_tensor_alloc_uninit(&outs[0], FA_DT_F32, x->rank, x->dims, al),
                            "%s", fa_rowop_kind_name(c->key.op)));
    bool rowwise = c->key.op == FA_ROWOP_RMS_NORM || c->key.op == FA_ROWOP_SOFTMAX;
    uint64_t n = 1; /* rows (rms_norm, softmax) or elements: bounded by the allocated bytes */
    for (int i = 0; i < x->rank - rowwise; i++)
        n *= (uint64_t)x->dims[i];
    if (n == 0 || (rowwise && x->dims[x->rank - 1] == 0))
        return FA_OK;
    if (c->key.op == FA_ROWOP_ROPE) {
        rope_run_blocks(c, ins, outs[0].data);
        return FA_OK;
    }
    const float *x2 = c->key.op == FA_ROWOP_SWIGLU ? ins[1]->data : NULL;
    const float *gamma = c->key.has_gamma ? ins[1]->data : NULL;
    int64_t dk = rowwise && c->key.d == 0 ? x->dims[x->rank - 1] : 0; /* run-time d */
    fa_rowop_run(c->fn, x->data, x2, gamma, outs[0].data, (int64_t)n, dk);
    return FA_OK;
}

fa_status fa_cg_rowop_step_create(const fa_rowop_key *key, fa_rowop_fn fn, int64_t axis,
                                  fa_rt_step_kernel *out_kernel, void **out_params) {
    *out_kernel = NULL;
    *out_params = NULL;
    rowop_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    c->fn = fn;
    c->key = *key;
    c->axis = axis;
    *out_kernel = rowop_kernel;
    *out_params = c;
    return FA_OK;
}

fa_status fa_cg_rowop_install(fa_rt_plan *plan, uint32_t step, const fa_node *n,
                              const fa_jit_target *target, const fa_cg_kernel_source *src,
                              fa_cg_plan_jit_stats *st, bool *out_installed) {
    *out_installed = false;
    fa_rowop_key key;
    if (!fa_rowop_key_from_node(n, target, &key))
        return FA_OK;
    char sig[FA_CG_SIGNATURE_MAX];
    if (!fa_rowop_signature(&key, sig, sizeof sig))
        return fa_status_make(FA_STATUS_INTERNAL, "rowop: kernel signature does not fit");
    uint64_t addr = 0;
    FA_TRY(src->get(src->user, FA_CG_KERNEL_ROWOP, &key, sig, &addr));
    fa_rt_step_kernel kernel;
    void *params;
    /* Sources hand out addresses; converting one to a function pointer is what it is for. */
    FA_TRY(fa_cg_rowop_step_create(&key, (fa_rowop_fn)(uintptr_t)addr,
                                   fa_node_attr_int(n, "axis", -1), &kernel, &params));
    FA_TRY(fa_rt_plan_set_step_kernel(plan, step, kernel, params, free));
    st->rowop_steps++;
    *out_installed = true;
    return FA_OK;
}
