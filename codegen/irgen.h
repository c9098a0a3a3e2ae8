/* LLVM IR-building helpers shared by the kernel generators (qgemm.c, tquant.c): the builder
 * state with the common types, constants, memory access, vector helpers, intrinsic calls and
 * counted loops that carry values in phis. Internal to codegen/; helpers that build
 * instructions emit them at the builder's current position. */
#ifndef FA_CODEGEN_IRGEN_H
#define FA_CODEGEN_IRGEN_H

#include <stddef.h>
#include <stdint.h>

#include <llvm-c/Core.h>

#include "codegen/jit.h"

/* The state a generator embeds: the module's context and LLVM module (lent by the
 * fa_jit_module), a builder it owns, the function being emitted and the common types. */
typedef struct fa_irgen {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMTypeRef i1, i8, i16, i32, i64, f32, ptr;
} fa_irgen;

/* Fills |g| for module |m| and creates its builder; fa_irgen_deinit disposes of the builder. */
void fa_irgen_init(fa_irgen *g, fa_jit_module *m);
void fa_irgen_deinit(fa_irgen *g);

/* Adds function |symbol| of type |fty| to |m| as g->fn (fa_jit_module_add_function), marks its
 * first |noalias| parameters noalias, stores its parameters in |*out_params[i]| (one slot per
 * parameter) and positions the builder at the end of a new "entry" block. */
void fa_irgen_function_begin(fa_irgen *g, fa_jit_module *m, const char *symbol, LLVMTypeRef fty,
                             unsigned noalias, LLVMValueRef *const *out_params);

/* The vector type of |n| |elem|s. */
LLVMTypeRef fa_irgen_vec(LLVMTypeRef elem, unsigned n);

/* Integer constant |v| of type |t| (sign-extended to its width), and its i32 / i64 forms. */
LLVMValueRef fa_irgen_const_int(LLVMTypeRef t, int64_t v);
LLVMValueRef fa_irgen_i32(const fa_irgen *g, int64_t v);
LLVMValueRef fa_irgen_i64(const fa_irgen *g, int64_t v);
/* f32 constant |v| (rounded to float). */
LLVMValueRef fa_irgen_f32(const fa_irgen *g, double v);
/* Constant vectors of |n| <= 64 lanes all equal to |v|: integers of type |elem|, or f32. */
LLVMValueRef fa_irgen_const_splat_int(LLVMTypeRef elem, unsigned n, int64_t v);
LLVMValueRef fa_irgen_const_splat_f32(const fa_irgen *g, unsigned n, double v);

/* |x| broadcast to an |n|-lane vector (insertelement + zero-mask shufflevector). */
LLVMValueRef fa_irgen_splat(fa_irgen *g, LLVMValueRef x, unsigned n);
/* A shuffle of |a| (and |b|, or poison when NULL) picking the |n| <= 64 lanes |idx|. */
LLVMValueRef fa_irgen_shuffle(fa_irgen *g, LLVMValueRef a, LLVMValueRef b, const int *idx,
                              unsigned n);

/* &p[i] for elements of type |elem| (inbounds). */
LLVMValueRef fa_irgen_gep(fa_irgen *g, LLVMTypeRef elem, LLVMValueRef p, LLVMValueRef i);
/* A load of type |t| from |p| / a store of |v| to |p|, with alignment |align| bytes. */
LLVMValueRef fa_irgen_load(fa_irgen *g, LLVMTypeRef t, LLVMValueRef p, unsigned align);
void fa_irgen_store(fa_irgen *g, LLVMValueRef v, LLVMValueRef p, unsigned align);

/* |a| + |c| and |a| * |c| on i64 values; |a| itself when c is 0 (add) or 1 (mul). */
LLVMValueRef fa_irgen_add64(fa_irgen *g, LLVMValueRef a, int64_t c);
LLVMValueRef fa_irgen_mul64(fa_irgen *g, LLVMValueRef a, int64_t c);

/* The declaration and function type of intrinsic |name| overloaded on |types| (|ntypes| may
 * be 0); the name must be a known intrinsic (asserted). */
void fa_irgen_intrinsic_declare(fa_irgen *g, const char *name, LLVMTypeRef *types, size_t ntypes,
                                LLVMValueRef *out_fn, LLVMTypeRef *out_type);
/* A call of |fn| of type |ft| with |n| <= 8 |args|; an argument whose type differs from the
 * declared parameter type is bitcast to it first (e.g. vpdpbusd's operand types changed across
 * LLVM releases), in place in |args|. */
LLVMValueRef fa_irgen_call(fa_irgen *g, LLVMTypeRef ft, LLVMValueRef fn, LLVMValueRef *args,
                           unsigned n);
/* Declares intrinsic |name| on |types| and calls it with |args|. */
LLVMValueRef fa_irgen_intrinsic_call(fa_irgen *g, const char *name, LLVMTypeRef *types,
                                     size_t ntypes, LLVMValueRef *args, unsigned nargs);

enum { FA_IRGEN_LOOP_CARRY_MAX = 32 };

/* A counted loop: iv (i64) from start by step while iv + span <= end, carrying up to
 * FA_IRGEN_LOOP_CARRY_MAX values in phis. */
typedef struct fa_irgen_loop {
    LLVMBasicBlockRef head, exit;
    LLVMValueRef iv, phis[FA_IRGEN_LOOP_CARRY_MAX];
    int n;
    int64_t step;
} fa_irgen_loop;

/* Opens |l| (blocks "head", "body", "exit" in g->fn) and positions the builder in its body.
 * |carry| holds the |n| carried values' initial values; they are replaced with the phis. */
void fa_irgen_loop_begin(fa_irgen *g, fa_irgen_loop *l, LLVMValueRef start, LLVMValueRef end,
                         int64_t step, int64_t span, int n, LLVMValueRef *carry);
/* Closes |l| with the carried values' next values |next| (NULL when none are carried); the
 * builder moves to the exit, where l->phis and l->iv hold the final values. */
void fa_irgen_loop_end(fa_irgen *g, fa_irgen_loop *l, LLVMValueRef *next);

#endif
