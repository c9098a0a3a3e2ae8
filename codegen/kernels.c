/* Generated kernels in the planned runtime: the step kernels that wrap qgemm and tquant
 * functions, and the walk over a plan's steps that installs them (see kernels.h).
 *
 * Design note. A step kernel has the executor's calling convention (runtime/plan.h): operands
 * as tensor views (row ranges when the step is split), outputs allocated through the given
 * allocator at exactly their size, which hands out the planned arena slot. The wrappers check
 * that the operands are what the kernel was built for (dtype, last dim, token types, clip
 * length); anything else goes to the C kernel, whose error message is then the interpreter's.
 * The packed weights live in the step's params, owned by the plan. */
#include "codegen/kernels.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/qgemm.h"
#include "codegen/rowops.h"
#include "codegen/tquant.h"
#include "runtime/kernels.h"

/* ---- output allocation ---------------------------------------------------------------------- */


/* Rows of |t| (every dim but the last). */
static uint64_t rows_of(const fa_rt_tensor *t) {
    uint64_t rows = 1;
    for (int i = 0; i + 1 < t->rank; i++)
        rows *= (uint64_t)t->dims[i];
    return rows;
}

static bool qgemm_signature(const void *key, char *buf, size_t size) {
    return fa_qgemm_signature(key, buf, size);
}
static bool tquant_signature(const void *key, char *buf, size_t size) {
    return fa_tquant_signature(key, buf, size);
}
static bool rowop_signature(const void *key, char *buf, size_t size) {
    return fa_rowop_signature(key, buf, size);
}

static const fa_cg_kernel_family_info families[FA_CG_KERNEL_FAMILIES] = {
    [FA_CG_KERNEL_QGEMM] = {"qgemm", sizeof(fa_qgemm_key), offsetof(fa_qgemm_key, target),
                            qgemm_signature},
    [FA_CG_KERNEL_TQUANT] = {"tquant", sizeof(fa_tquant_key),
                             offsetof(fa_tquant_key, target), tquant_signature},
    [FA_CG_KERNEL_ROWOP] = {"rowop", sizeof(fa_rowop_key), offsetof(fa_rowop_key, target),
                            rowop_signature},
};

const fa_cg_kernel_family_info *fa_cg_kernel_family_get(fa_cg_kernel_family family) {
    return family < FA_CG_KERNEL_FAMILIES ? &families[family] : NULL;
}

/* The address of the kernel for |key| from |src|. */
static fa_status source_get(const fa_cg_kernel_source *src, fa_cg_kernel_family family,
                            const void *key, uint64_t *out_addr) {
    char sig[FA_CG_SIGNATURE_MAX];
    if (!families[family].signature(key, sig, sizeof sig))
        return fa_status_make(FA_STATUS_INTERNAL, "%s: kernel signature does not fit",
                              families[family].name);
    return src->get(src->user, family, key, sig, out_addr);
}

/* ---- qlinear ----------------------------------------------------------------------------------
 */

typedef struct qlinear_ctx {
    fa_qgemm_fn fn;
    fa_qgemm_packed packed;
    int64_t k, n, group;
    bool bias;
} qlinear_ctx;

static void qlinear_ctx_free(void *p) {
    qlinear_ctx *c = p;
    fa_qgemm_packed_free(&c->packed);
    free(c);
}

/* ins: codes i8 [..., K], scales f32 [..., 1], wq, wscale, [bias]; out f32 [..., N]. */
static fa_status qlinear_kernel(const void *params, const fa_rt_tensor *const *ins, uint32_t nin,
                                fa_rt_tensor *outs, uint32_t nout, const fa_rt_allocator *al) {
    const qlinear_ctx *c = params;
    const fa_rt_tensor *codes = ins[0], *scales = ins[1], *bias = nin > 4 ? ins[4] : NULL;
    bool ok = nout == 1 && nin >= 4 && codes && scales && codes->dtype == FA_DT_I8 &&
              codes->rank >= 1 && codes->dims[codes->rank - 1] == c->k &&
              scales->dtype == FA_DT_F32 && scales->rank == codes->rank &&
              scales->dims[scales->rank - 1] == 1 && (bias != NULL) == c->bias;
    for (int i = 0; ok && i + 1 < codes->rank; i++)
        ok = scales->dims[i] == codes->dims[i];
    if (!ok) /* not what the kernel was built for: the C kernel (and its error message) */
        return fa_rt_qlinear(ins[0], ins[1], ins[2], ins[3], bias, c->group, outs, al);
    int64_t dims[FA_MAX_RANK];
    memcpy(dims, codes->dims, sizeof dims);
    dims[codes->rank - 1] = c->n;
    FA_TRY(fa_status_prefix(fa_rt_tensor_alloc_uninit(&outs[0], FA_DT_F32, codes->rank, dims, al),
                            "qlinear"));
    uint64_t rows = rows_of(codes);
    if (rows > 0)
        fa_qgemm_run(c->fn, codes->data, scales->data, c->packed.w, c->packed.wscale,
                     c->packed.colsum, bias ? bias->data : NULL, outs[0].data, (int64_t)rows);
    return FA_OK;
}

static bool is_const(const fa_value *v) { return v && v->kind == FA_VALUE_CONST && v->tensor; }

/* The qgemm key of qlinear node |n|, or false when the generator does not take it. */
static bool qlinear_key(const fa_node *n, const fa_jit_target *target, fa_qgemm_key *key) {
    if (n->num_operands < 4 || n->num_results != 1 || !is_const(n->operands[2]) ||
        !is_const(n->operands[3]) ||
        (n->num_operands > 4 && n->operands[4] && !is_const(n->operands[4])))
        return false;
    const fa_tensor *wq = n->operands[2]->tensor, *ws = n->operands[3]->tensor;
    if (wq->type.rank != 2 || ws->type.rank != 2 || ws->type.dtype != FA_DT_F32)
        return false;
    memset(key, 0, sizeof *key);
    key->n = wq->type.dims[0].value;
    key->k = wq->type.dims[1].value;
    key->group = fa_node_attr_int(n, "group", 0);
    key->wdtype = wq->type.dtype;
    key->bias = n->num_operands > 4 && n->operands[4];
    key->path = FA_QGEMM_AUTO;
    key->target = *target;
    int64_t groups = key->group > 0 && key->k % key->group == 0 ? key->k / key->group : 1;
    if (ws->type.dims[0].value != key->n || ws->type.dims[1].value != groups)
        return false;
    if (key->bias) {
        const fa_tensor *b = n->operands[4]->tensor;
        if (b->type.dtype != FA_DT_F32 || b->type.rank != 1 || b->type.dims[0].value != key->n)
            return false;
    }
    fa_qgemm_path path;
    fa_status s = fa_qgemm_key_check(key, &path);
    fa_status_free(s);
    return s == FA_OK;
}

static fa_status install_qlinear(fa_rt_plan *plan, uint32_t step, const fa_node *n,
                                 const fa_jit_target *target, const fa_cg_kernel_source *src,
                                 fa_cg_plan_jit_stats *st) {
    fa_qgemm_key key;
    if (!qlinear_key(n, target, &key)) {
        st->c_steps++;
        return FA_OK;
    }
    qlinear_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    c->k = key.k;
    c->n = key.n;
    c->group = key.group;
    c->bias = key.bias;
    fa_status s = fa_qgemm_pack(&key, n->operands[2]->tensor->data,
                                (const float *)n->operands[3]->tensor->data, &c->packed);
    uint64_t addr = 0;
    if (!s)
        s = source_get(src, FA_CG_KERNEL_QGEMM, &key, &addr);
    /* Sources hand out addresses; converting one to a function pointer is what it is for. */
    c->fn = (fa_qgemm_fn)(uintptr_t)addr;
    if (s) {
        qlinear_ctx_free(c);
        return s;
    }
    st->packed_bytes += c->packed.w_bytes;
    FA_TRY(fa_rt_plan_set_step_kernel(plan, step, qlinear_kernel, c, qlinear_ctx_free));
    st->qlinear_steps++;
    return FA_OK;
}

/* ---- fused routed_transform + quantize ----------------------------------------------------- */

typedef struct tquant_ctx {
    fa_tquant_fn fn;
    fa_tquant_packed packed;
    int64_t d, bits;
    int ntypes;
} tquant_ctx;

static void tquant_ctx_free(void *p) {
    tquant_ctx *c = p;
    fa_tquant_packed_free(&c->packed);
    free(c);
}

/* Whether the operands are what the kernel was built for (else the C twin runs). */
static bool tquant_fits(const tquant_ctx *c, const fa_rt_tensor *x, const fa_rt_tensor *tt,
                        const fa_rt_tensor *clip) {
    if (!x || x->dtype != FA_DT_F32 || x->rank < 2 || x->dims[x->rank - 1] != c->d)
        return false;
    if (tt) {
        if (tt->dtype != FA_DT_U8 || tt->rank != x->rank - 1)
            return false;
        for (int i = 0; i < tt->rank; i++)
            if (tt->dims[i] != x->dims[i])
                return false;
    }
    if (clip) {
        if (clip->dtype != FA_DT_F32 || clip->rank != 1 || clip->dims[0] != c->ntypes)
            return false;
        const float *r = clip->data;
        for (int k = 0; k < c->ntypes; k++)
            if (!isfinite(r[k]) || r[k] < 0.0f)
                return false;
    }
    return true;
}

/* ins: x, tt, a (routed_transform's), NULL, tt, clip (quantize's); outs: codes, scales. */
static fa_status tquant_kernel(const void *params, const fa_rt_tensor *const *ins, uint32_t nin,
                               fa_rt_tensor *outs, uint32_t nout, const fa_rt_allocator *al) {
    const tquant_ctx *c = params;
    /* both token-type operands are the same buffer (row-split steps get two views of it) */
    bool same_tt = !ins[1] == !ins[4] && (!ins[1] || ins[1]->data == ins[4]->data);
    if (nin != 6 || nout != 2 || !same_tt || !tquant_fits(c, ins[0], ins[1], ins[5]))
        return nin == 6 && nout == 2
                   ? fa_rt_transform_quantize(ins[0], ins[1], ins[2], ins[5], c->bits, &outs[0],
                                              &outs[1], al)
                   : fa_status_make(FA_STATUS_INTERNAL, "transform_quantize: bad fused operands");
    const fa_rt_tensor *x = ins[0], *tt = ins[1], *clip = ins[5];
    int64_t sdims[FA_MAX_RANK];
    memcpy(sdims, x->dims, sizeof sdims);
    sdims[x->rank - 1] = 1;
    const char *op = "transform_quantize";
    FA_TRY(fa_status_prefix(fa_rt_tensor_alloc_uninit(&outs[0], FA_DT_I8, x->rank, x->dims, al),
                            "%s", op));
    fa_status s = fa_status_prefix(
        fa_rt_tensor_alloc_uninit(&outs[1], FA_DT_F32, x->rank, sdims, al), "%s", op);
    if (s) {
        fa_rt_tensor_free(&outs[0], al);
        return s;
    }
    uint64_t rows = rows_of(x);
    int64_t bad =
        rows ? fa_tquant_run(c->fn, x->data, tt ? tt->data : NULL, c->packed.data,
                             clip ? clip->data : NULL, outs[0].data, outs[1].data, (int64_t)rows)
             : -1;
    if (bad < 0)
        return FA_OK;
    /* A bad row: the C twin gives the reference's message (the type, or the non-finite value
     * and its column). Should it not fail, the row is still reported, never a silent result. */
    fa_rt_tensor_free(&outs[0], al);
    fa_rt_tensor_free(&outs[1], al);
    s = fa_rt_transform_quantize(x, tt, ins[2], clip, c->bits, &outs[0], &outs[1], al);
    if (s)
        return s;
    fa_rt_tensor_free(&outs[0], al);
    fa_rt_tensor_free(&outs[1], al);
    unsigned type = tt ? ((const uint8_t *)tt->data)[bad] : 0;
    return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                          "%s: row %lld (type %u) transforms to a non-finite value", op,
                          (long long)bad, type);
}

static fa_status install_tquant(fa_rt_plan *plan, uint32_t step, const fa_node *n, const fa_node *q,
                                const fa_jit_target *target, const fa_cg_kernel_source *src,
                                fa_cg_plan_jit_stats *st) {
    const fa_value *av = n->operands[2];
    int64_t bits = fa_node_attr_int(q, "bits", 0);
    const fa_tensor *a = is_const(av) ? av->tensor : NULL;
    fa_tquant_key key;
    fa_status s = FA_OK;
    if (!a || a->type.dtype != FA_DT_F32 || a->type.rank != 3 || (bits != 4 && bits != 8) ||
        a->type.dims[0].value < 1 || a->type.dims[0].value > FA_TQUANT_TYPES_MAX ||
        a->type.dims[1].value != a->type.dims[2].value ||
        (s = fa_tquant_key_init(&key, a->type.dims[1].value, (int)a->type.dims[0].value, (int)bits,
                                a->data, target))) {
        fa_status_free(s);
        st->c_steps++;
        return FA_OK;
    }
    tquant_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    c->d = key.d;
    c->bits = bits;
    c->ntypes = key.ntypes;
    s = fa_tquant_pack(&key, a->data, &c->packed);
    uint64_t addr = 0;
    if (!s)
        s = source_get(src, FA_CG_KERNEL_TQUANT, &key, &addr);
    c->fn = (fa_tquant_fn)(uintptr_t)addr;
    if (s) {
        tquant_ctx_free(c);
        return s;
    }
    st->packed_bytes += c->packed.floats * sizeof(float);
    FA_TRY(fa_rt_plan_set_step_kernel(plan, step, tquant_kernel, c, tquant_ctx_free));
    st->tquant_steps++;
    return FA_OK;
}

/* ---- the walk ---------------------------------------------------------------------------------
 */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

fa_status fa_cg_plan_install(fa_rt_plan *plan, const fa_jit_target *target,
                             const fa_cg_kernel_source *src, fa_cg_plan_jit_stats *out_stats) {
    fa_cg_plan_jit_stats st;
    memset(&st, 0, sizeof st);
    double t0 = now_ms();
    fa_status s = fa_rt_plan_fuse_transform_quantize(plan, &st.fused_pairs);
    fa_rt_plan_data data;
    fa_rt_plan_data_get(plan, &data);
    for (uint32_t si = 0; !s && si < data.num_steps; si++) {
        const fa_node *n = fa_rt_plan_step_node(plan, si);
        if (!data.steps[si].kernel)
            continue; /* fused into an earlier step */
        uint32_t second = fa_rt_plan_step_fused(plan, si);
        if (n->op == FA_OP_QLINEAR)
            s = install_qlinear(plan, si, n, target, src, &st);
        else if (n->op == FA_OP_ROUTED_TRANSFORM && second != FA_RT_PLAN_NONE)
            s = install_tquant(plan, si, n, fa_rt_plan_step_node(plan, second), target, src,
                               &st);
        else if (n->op == FA_OP_RMS_NORM || n->op == FA_OP_SWIGLU || n->op == FA_OP_GELU ||
                 n->op == FA_OP_SOFTMAX || n->op == FA_OP_ROPE) {
            bool installed;
            s = fa_cg_rowop_install(plan, si, n, target, src, &st, &installed);
        }
        if (s) {
            char where[256];
            s = fa_status_prefix(s, "%s", fa_node_describe(n, where, sizeof where));
        }
    }
    st.install_ms = now_ms() - t0;
    if (out_stats)
        *out_stats = st;
    return s;
}
