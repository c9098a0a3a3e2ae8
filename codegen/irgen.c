/* LLVM IR-building helpers shared by the kernel generators; see irgen.h for the contracts. */
#include <string.h>

#include "codegen/irgen.h"
#include "ir/status.h"

void fa_irgen_init(fa_irgen *g, fa_jit_module *m) {
    memset(g, 0, sizeof *g);
    g->ctx = fa_jit_module_context(m);
    g->mod = fa_jit_module_llvm(m);
    g->b = LLVMCreateBuilderInContext(g->ctx);
    g->i1 = LLVMInt1TypeInContext(g->ctx);
    g->i8 = LLVMInt8TypeInContext(g->ctx);
    g->i16 = LLVMInt16TypeInContext(g->ctx);
    g->i32 = LLVMInt32TypeInContext(g->ctx);
    g->i64 = LLVMInt64TypeInContext(g->ctx);
    g->f32 = LLVMFloatTypeInContext(g->ctx);
    g->ptr = LLVMPointerTypeInContext(g->ctx, 0);
}

void fa_irgen_deinit(fa_irgen *g) {
    LLVMDisposeBuilder(g->b);
    g->b = NULL;
}

void fa_irgen_function_begin(fa_irgen *g, fa_jit_module *m, const char *symbol, LLVMTypeRef fty,
                             unsigned noalias, LLVMValueRef *const *out_params) {
    g->fn = fa_jit_module_add_function(m, symbol, fty);
    unsigned kind = LLVMGetEnumAttributeKindForName("noalias", 7);
    for (unsigned i = 0; i < noalias; i++)
        LLVMAddAttributeAtIndex(g->fn, i + 1, LLVMCreateEnumAttribute(g->ctx, kind, 0));
    unsigned n = LLVMCountParamTypes(fty);
    for (unsigned i = 0; i < n; i++)
        *out_params[i] = LLVMGetParam(g->fn, i);
    LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, g->fn, "entry"));
}

LLVMTypeRef fa_irgen_vec(LLVMTypeRef elem, unsigned n) { return LLVMVectorType(elem, n); }

LLVMValueRef fa_irgen_const_int(LLVMTypeRef t, int64_t v) {
    return LLVMConstInt(t, (unsigned long long)v, 1);
}

LLVMValueRef fa_irgen_i32(const fa_irgen *g, int64_t v) { return fa_irgen_const_int(g->i32, v); }

LLVMValueRef fa_irgen_i64(const fa_irgen *g, int64_t v) { return fa_irgen_const_int(g->i64, v); }

LLVMValueRef fa_irgen_f32(const fa_irgen *g, double v) { return LLVMConstReal(g->f32, v); }

LLVMValueRef fa_irgen_const_splat_int(LLVMTypeRef elem, unsigned n, int64_t v) {
    FA_ASSERT(n <= 64);
    LLVMValueRef e[64];
    for (unsigned i = 0; i < n; i++)
        e[i] = fa_irgen_const_int(elem, v);
    return LLVMConstVector(e, n);
}

LLVMValueRef fa_irgen_const_splat_f32(const fa_irgen *g, unsigned n, double v) {
    FA_ASSERT(n <= 64);
    LLVMValueRef e[64];
    for (unsigned i = 0; i < n; i++)
        e[i] = fa_irgen_f32(g, v);
    return LLVMConstVector(e, n);
}

LLVMValueRef fa_irgen_splat(fa_irgen *g, LLVMValueRef x, unsigned n) {
    LLVMValueRef v = LLVMBuildInsertElement(g->b, LLVMGetPoison(fa_irgen_vec(LLVMTypeOf(x), n)), x,
                                            fa_irgen_i32(g, 0), "");
    return LLVMBuildShuffleVector(g->b, v, LLVMGetPoison(LLVMTypeOf(v)),
                                  LLVMConstNull(fa_irgen_vec(g->i32, n)), "");
}

LLVMValueRef fa_irgen_shuffle(fa_irgen *g, LLVMValueRef a, LLVMValueRef b, const int *idx,
                              unsigned n) {
    FA_ASSERT(n <= 64);
    LLVMValueRef m[64];
    for (unsigned i = 0; i < n; i++)
        m[i] = fa_irgen_i32(g, idx[i]);
    if (!b)
        b = LLVMGetPoison(LLVMTypeOf(a));
    return LLVMBuildShuffleVector(g->b, a, b, LLVMConstVector(m, n), "");
}

LLVMValueRef fa_irgen_gep(fa_irgen *g, LLVMTypeRef elem, LLVMValueRef p, LLVMValueRef i) {
    return LLVMBuildInBoundsGEP2(g->b, elem, p, &i, 1, "");
}

LLVMValueRef fa_irgen_load(fa_irgen *g, LLVMTypeRef t, LLVMValueRef p, unsigned align) {
    LLVMValueRef v = LLVMBuildLoad2(g->b, t, p, "");
    LLVMSetAlignment(v, align);
    return v;
}

void fa_irgen_store(fa_irgen *g, LLVMValueRef v, LLVMValueRef p, unsigned align) {
    LLVMSetAlignment(LLVMBuildStore(g->b, v, p), align);
}

LLVMValueRef fa_irgen_add64(fa_irgen *g, LLVMValueRef a, int64_t c) {
    return c ? LLVMBuildAdd(g->b, a, fa_irgen_i64(g, c), "") : a;
}

LLVMValueRef fa_irgen_mul64(fa_irgen *g, LLVMValueRef a, int64_t c) {
    return c == 1 ? a : LLVMBuildMul(g->b, a, fa_irgen_i64(g, c), "");
}

void fa_irgen_intrinsic_declare(fa_irgen *g, const char *name, LLVMTypeRef *types, size_t ntypes,
                                LLVMValueRef *out_fn, LLVMTypeRef *out_type) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    FA_ASSERT(id != 0);
    *out_fn = LLVMGetIntrinsicDeclaration(g->mod, id, types, ntypes);
    *out_type = LLVMIntrinsicGetType(g->ctx, id, types, ntypes);
}

LLVMValueRef fa_irgen_call(fa_irgen *g, LLVMTypeRef ft, LLVMValueRef fn, LLVMValueRef *args,
                           unsigned n) {
    LLVMTypeRef params[8];
    FA_ASSERT(n <= 8 && LLVMCountParamTypes(ft) == n);
    LLVMGetParamTypes(ft, params);
    for (unsigned i = 0; i < n; i++)
        if (LLVMTypeOf(args[i]) != params[i])
            args[i] = LLVMBuildBitCast(g->b, args[i], params[i], "");
    return LLVMBuildCall2(g->b, ft, fn, args, n, "");
}

LLVMValueRef fa_irgen_intrinsic_call(fa_irgen *g, const char *name, LLVMTypeRef *types,
                                     size_t ntypes, LLVMValueRef *args, unsigned nargs) {
    LLVMValueRef fn;
    LLVMTypeRef ft;
    fa_irgen_intrinsic_declare(g, name, types, ntypes, &fn, &ft);
    return fa_irgen_call(g, ft, fn, args, nargs);
}

void fa_irgen_loop_begin(fa_irgen *g, fa_irgen_loop *l, LLVMValueRef start, LLVMValueRef end,
                         int64_t step, int64_t span, int n, LLVMValueRef *carry) {
    FA_ASSERT(n >= 0 && n <= FA_IRGEN_LOOP_CARRY_MAX);
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
    l->head = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "head");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "body");
    l->exit = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "exit");
    l->n = n;
    l->step = step;
    LLVMBuildBr(g->b, l->head);
    LLVMPositionBuilderAtEnd(g->b, l->head);
    l->iv = LLVMBuildPhi(g->b, g->i64, "i");
    LLVMAddIncoming(l->iv, &start, &pre, 1);
    for (int i = 0; i < n; i++) {
        l->phis[i] = LLVMBuildPhi(g->b, LLVMTypeOf(carry[i]), "");
        LLVMAddIncoming(l->phis[i], &carry[i], &pre, 1);
        carry[i] = l->phis[i];
    }
    LLVMValueRef cond = LLVMBuildICmp(g->b, LLVMIntSLE, fa_irgen_add64(g, l->iv, span), end, "");
    LLVMBuildCondBr(g->b, cond, body, l->exit);
    LLVMPositionBuilderAtEnd(g->b, body);
}

void fa_irgen_loop_end(fa_irgen *g, fa_irgen_loop *l, LLVMValueRef *next) {
    LLVMValueRef iv_next = fa_irgen_add64(g, l->iv, l->step);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
    LLVMBuildBr(g->b, l->head);
    LLVMAddIncoming(l->iv, &iv_next, &latch, 1);
    for (int i = 0; i < l->n; i++)
        LLVMAddIncoming(l->phis[i], &next[i], &latch, 1);
    LLVMPositionBuilderAtEnd(g->b, l->exit);
}
