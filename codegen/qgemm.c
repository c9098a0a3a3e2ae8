/* Generated quantized GEMM/GEMV kernels for qlinear: IR generation with the
 * LLVM C API (three instruction paths) and the cached entry point fa_qgemm_get.
 *
 * Design note.
 * - Tiles. Output columns go in tiles of NR = 32 (NV = 2 vectors of 16 i32 lanes); K goes in
 *   steps of 4 within each group (the last step of a group whose length is not a multiple of 4
 *   is partial and zero-padded). A packed tile holds, per group g and step s, NV blocks of 64
 *   bytes, byte [c * 4 + t] = w[tile column v * 16 + c, g * glen + 4 s + t]: exactly the
 *   operand of one vpdpbusd against 4 activation bytes broadcast as an i32 (TVM's layout). For
 *   i4 weights two consecutive steps share one block: low nibble step 2p, high nibble 2p + 1,
 *   so the kernel streams half the bytes and unpacks with two shifts (VNNI512: one shift and
 *   one and, giving 16 w as i8, see below). Padded columns and k
 *   positions hold zero weights, so they add nothing whatever activation meets them.
 * - Scales and column sums are packed per tile and group too ([tile][G][NR]), so each is one
 *   aligned vector load per group; the column sums serve the u8 x s8 paths: with
 *   u = code + 128 (code ^ 0x80), sum(code * w) = sum(u * w) - 128 * sum(w).
 * - Integer sums wrap modulo 2^32 (vpdpbusd, not vpdpbusds; IR adds without nsw); the final
 *   per-group value always fits (|code * w| <= 2^14 and a group is at most 131071 long, as
 *   fa_rt_qlinear requires), so the wrapped arithmetic gives it exactly. VNNI512 multiplies
 *   i4 weights as 16 w (low nibble shifted up, high nibble masked: no sign extension, which
 *   costs two more GFNI or shift ops per block on the vpdpbusd ports); the group's sum is then
 *   16 times the dot product, at most 2^14 * 131071 < 2^31 in magnitude, so it too is exact
 *   after wrapping and an arithmetic shift right by 4 recovers the dot product.
 * - Paths. VNNI512: vpdpbusd, MR = 4 rows per micro-tile. AVX2: i4 weights use pmaddubsw
 *   (u8 x s4 pairs are at most 2 * 255 * 8, no i16 saturation) then pmaddwd by ones; i8
 *   weights would saturate pmaddubsw, so they are sign-extended to i16 and multiplied with
 *   pmaddwd (pairs summed per group), no shift needed. GENERIC: sext, mul and adds on plain
 *   vectors that LLVM legalises for any CPU.
 * - Epilogue, per 16 columns: y = 0; y = y + wscale * sitofp(acc_g) per group; y = y * scale;
 *   y = y + bias — fa_rt_qlinear's operations in its order, lane by lane, no fast-math flags.
 * - Loops: row blocks of RB rows, then column tiles, then MR rows at a time (tail rows one by
 *   one); the column tail tile runs the same code and stores only its valid lanes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>

#include "codegen/irgen.h"
#include "codegen/qgemm_layout.h"

/* ---- IR generation ---- */

typedef struct gen {
    fa_irgen ir;
    fa_qgemm_path path;
    fa_qgemm_shape s;
    bool bias;
    LLVMValueRef codes, scales, pw, ws, cs, biasp, y, rows;
    LLVMValueRef vnni_fn, madd_ubs_fn, madd_wd_fn;
    LLVMTypeRef vnni_ty, madd_ubs_ty, madd_wd_ty;
} gen;

/* Lanes [start, start + n) of |a|. */
static LLVMValueRef slice(gen *g, LLVMValueRef a, int start, unsigned n) {
    fa_irgen *ir = &g->ir;
    int idx[64];
    for (unsigned i = 0; i < n; i++)
        idx[i] = start + (int)i;
    return fa_irgen_shuffle(ir, a, NULL, idx, n);
}

/* The concatenation of |n| vectors of |w| lanes each. */
static LLVMValueRef concat(gen *g, LLVMValueRef *v, unsigned n, unsigned w) {
    fa_irgen *ir = &g->ir;
    while (n > 1) {
        int idx[64];
        for (unsigned i = 0; i < 2 * w; i++)
            idx[i] = (int)i;
        for (unsigned i = 0; i < n / 2; i++)
            v[i] = fa_irgen_shuffle(ir, v[2 * i], v[2 * i + 1], idx, 2 * w);
        n /= 2;
        w *= 2;
    }
    return v[0];
}

/* The accumulator of one 16-column vector at the start of a group: -128 * colsum on the u8
 * paths, zero otherwise (in the path's accumulator shape). */
static LLVMValueRef acc_init(gen *g, LLVMValueRef colsum) {
    fa_irgen *ir = &g->ir;
    switch (g->path) {
    case FA_QGEMM_VNNI512: /* i4 weights enter as 16 w: -128 * 16 * colsum */
        return LLVMBuildSub(ir->b, LLVMConstNull(fa_irgen_vec(ir->i32, 16)),
                            LLVMBuildShl(ir->b, colsum,
                                         fa_irgen_const_splat_int(ir->i32, 16, g->s.i4 ? 11 : 7),
                                         ""),
                            "");
    case FA_QGEMM_AVX2:
        if (g->s.i4)
            return LLVMBuildSub(
                ir->b, LLVMConstNull(fa_irgen_vec(ir->i32, 16)),
                LLVMBuildShl(ir->b, colsum, fa_irgen_const_splat_int(ir->i32, 16, 7), ""), "");
        return LLVMConstNull(fa_irgen_vec(ir->i32, 32)); /* pairs of partial sums per column */
    default: return LLVMConstNull(fa_irgen_vec(ir->i32, 16));
    }
}

static bool uses_u8(const gen *g) {
    return g->path == FA_QGEMM_VNNI512 || (g->path == FA_QGEMM_AVX2 && g->s.i4);
}

/* acc += the 4-term dot products of activation bytes |a| (an i32 holding 4 codes, already
 * shifted to u8 when uses_u8) with the 16 columns of |w| (<64 x i8>, [column][4]). */
static LLVMValueRef acc_step(gen *g, LLVMValueRef acc, LLVMValueRef a, LLVMValueRef w) {
    fa_irgen *ir = &g->ir;
    if (g->path == FA_QGEMM_VNNI512) {
        LLVMValueRef args[3] = {acc, fa_irgen_splat(ir, a, 16), w};
        return fa_irgen_call(ir, g->vnni_ty, g->vnni_fn, args, 3);
    }
    if (g->path == FA_QGEMM_AVX2 && g->s.i4) {
        LLVMValueRef ab =
            LLVMBuildBitCast(ir->b, fa_irgen_splat(ir, a, 8), fa_irgen_vec(ir->i8, 32), "");
        LLVMValueRef half[2];
        for (int h = 0; h < 2; h++) {
            LLVMValueRef args[2] = {ab, slice(g, w, 32 * h, 32)};
            LLVMValueRef p16 = fa_irgen_call(ir, g->madd_ubs_ty, g->madd_ubs_fn, args, 2);
            LLVMValueRef args2[2] = {p16, fa_irgen_const_splat_int(ir->i16, 16, 1)};
            half[h] = fa_irgen_call(ir, g->madd_wd_ty, g->madd_wd_fn, args2, 2);
        }
        return LLVMBuildAdd(ir->b, acc, concat(g, half, 2, 8), "");
    }
    if (g->path == FA_QGEMM_AVX2) {
        /* i8 weights: 4 columns x 4 k per pmaddwd, giving (column, pair) partial sums. */
        LLVMValueRef a16 = LLVMBuildSExt(
            ir->b, LLVMBuildBitCast(ir->b, fa_irgen_splat(ir, a, 4), fa_irgen_vec(ir->i8, 16), ""),
            fa_irgen_vec(ir->i16, 16), "");
        LLVMValueRef q[4];
        for (int i = 0; i < 4; i++) {
            LLVMValueRef w16 =
                LLVMBuildSExt(ir->b, slice(g, w, 16 * i, 16), fa_irgen_vec(ir->i16, 16), "");
            LLVMValueRef args[2] = {w16, a16};
            q[i] = fa_irgen_call(ir, g->madd_wd_ty, g->madd_wd_fn, args, 2);
        }
        return LLVMBuildAdd(ir->b, acc, concat(g, q, 4, 8), "");
    }
    LLVMValueRef a32 = LLVMBuildSExt(
        ir->b, LLVMBuildBitCast(ir->b, fa_irgen_splat(ir, a, 16), fa_irgen_vec(ir->i8, 64), ""),
        fa_irgen_vec(ir->i32, 64), "");
    LLVMValueRef prod =
        LLVMBuildMul(ir->b, a32, LLVMBuildSExt(ir->b, w, fa_irgen_vec(ir->i32, 64), ""), "");
    LLVMValueRef sum = NULL;
    for (int t = 0; t < 4; t++) {
        int idx[16];
        for (int c = 0; c < 16; c++)
            idx[c] = 4 * c + t;
        LLVMValueRef part = fa_irgen_shuffle(ir, prod, NULL, idx, 16);
        sum = sum ? LLVMBuildAdd(ir->b, sum, part, "") : part;
    }
    return LLVMBuildAdd(ir->b, acc, sum, "");
}

/* The group's <16 x i32> dot products from the accumulator. */
static LLVMValueRef acc_finish(gen *g, LLVMValueRef acc) {
    fa_irgen *ir = &g->ir;
    if (g->path == FA_QGEMM_VNNI512 && g->s.i4) /* exact: the sum is 16 times the dot product */
        return LLVMBuildAShr(ir->b, acc, fa_irgen_const_splat_int(ir->i32, 16, 4), "");
    if (g->path != FA_QGEMM_AVX2 || g->s.i4)
        return acc;
    int even[16], odd[16];
    for (int c = 0; c < 16; c++) {
        even[c] = 2 * c;
        odd[c] = 2 * c + 1;
    }
    return LLVMBuildAdd(ir->b, fa_irgen_shuffle(ir, acc, NULL, even, 16),
                        fa_irgen_shuffle(ir, acc, NULL, odd, 16), "");
}

/* The 4 activation bytes of step |step| (an i64 value) at |arow| as an i32; a partial step
 * (|valid| < 4) loads its valid bytes only, the rest are code 0. Shifted to u8 on u8 paths. */
static LLVMValueRef act_load(gen *g, LLVMValueRef arow, LLVMValueRef step, int64_t valid) {
    fa_irgen *ir = &g->ir;
    LLVMValueRef base = fa_irgen_gep(ir, ir->i8, arow, fa_irgen_mul64(ir, step, 4));
    LLVMValueRef a;
    if (valid == 4) {
        a = fa_irgen_load(ir, ir->i32, base, 1);
    } else {
        a = fa_irgen_i32(ir, 0);
        for (int64_t t = 0; t < valid; t++) {
            LLVMValueRef byte =
                fa_irgen_load(ir, ir->i8, fa_irgen_gep(ir, ir->i8, base, fa_irgen_i64(ir, t)), 1);
            LLVMValueRef z = LLVMBuildZExt(ir->b, byte, ir->i32, "");
            a = LLVMBuildOr(ir->b, a, LLVMBuildShl(ir->b, z, fa_irgen_i32(ir, 8 * t), ""), "");
        }
    }
    return uses_u8(g) ? LLVMBuildXor(ir->b, a, fa_irgen_i32(ir, (int64_t)0x80808080), "") : a;
}

/* One 64-byte block (for each of NV vectors) at block index |blk| of the group's weights:
 * for i8 one step (|lo_valid| bytes of activations, 0 to skip), for i4 the low nibbles are
 * step 2 blk (|lo_valid|) and the high ones step 2 blk + 1 (|hi_valid|, 0 to skip). */
static void emit_block(gen *g, int mr, LLVMValueRef *acc, LLVMValueRef wgrp, LLVMValueRef *arow,
                       LLVMValueRef blk, int64_t lo_valid, int64_t hi_valid) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef v64 = fa_irgen_vec(ir->i8, 64);
    for (int v = 0; v < NV; v++) {
        LLVMValueRef off = fa_irgen_add64(ir, fa_irgen_mul64(ir, blk, NV * 64), v * 64);
        LLVMValueRef w = fa_irgen_load(ir, v64, fa_irgen_gep(ir, ir->i8, wgrp, off), 64);
        LLVMValueRef lo = w, hi = NULL;
        if (g->s.i4 && g->path == FA_QGEMM_VNNI512) {
            /* 16 w as i8: the nibble moved to or kept in the high half, no sign extension. */
            lo = LLVMBuildShl(ir->b, w, fa_irgen_const_splat_int(ir->i8, 64, 4), "");
            hi = LLVMBuildAnd(ir->b, w, fa_irgen_const_splat_int(ir->i8, 64, 0xf0), "");
        } else if (g->s.i4) {
            LLVMValueRef four = fa_irgen_const_splat_int(ir->i8, 64, 4);
            lo = LLVMBuildAShr(ir->b, LLVMBuildShl(ir->b, w, four, ""), four, "");
            hi = LLVMBuildAShr(ir->b, w, four, "");
        }
        for (int m = 0; m < mr; m++) {
            LLVMValueRef step = g->s.i4 ? fa_irgen_mul64(ir, blk, 2) : blk;
            if (lo_valid)
                acc[m * NV + v] =
                    acc_step(g, acc[m * NV + v], act_load(g, arow[m], step, lo_valid), lo);
            if (hi_valid)
                acc[m * NV + v] =
                    acc_step(g, acc[m * NV + v],
                             act_load(g, arow[m], fa_irgen_add64(ir, step, 1), hi_valid), hi);
        }
    }
}

/* Computes the |mr| x NR output tile at rows |r|.., tile |t| and stores its first |valid|
 * columns. */
static void emit_tile(gen *g, int mr, LLVMValueRef r, LLVMValueRef t, int64_t valid) {
    fa_irgen *ir = &g->ir;
    const fa_qgemm_shape *s = &g->s;
    LLVMTypeRef v16f = fa_irgen_vec(ir->f32, 16), v16i = fa_irgen_vec(ir->i32, 16);
    int64_t group_bytes = s->blocks * NV * 64;
    LLVMValueRef tg = fa_irgen_mul64(ir, t, s->ngroups);
    LLVMValueRef wtile = fa_irgen_gep(ir, ir->i8, g->pw, fa_irgen_mul64(ir, tg, group_bytes));
    LLVMValueRef wstile = fa_irgen_gep(ir, ir->f32, g->ws, fa_irgen_mul64(ir, tg, NR));
    LLVMValueRef cstile = fa_irgen_gep(ir, ir->i32, g->cs, fa_irgen_mul64(ir, tg, NR));
    LLVMValueRef crow[4];
    for (int m = 0; m < mr; m++)
        crow[m] =
            fa_irgen_gep(ir, ir->i8, g->codes, fa_irgen_mul64(ir, fa_irgen_add64(ir, r, m), s->k));

    LLVMValueRef yacc[4 * NV];
    for (int i = 0; i < mr * NV; i++)
        yacc[i] = LLVMConstNull(v16f);
    fa_irgen_loop gl;
    fa_irgen_loop_begin(ir, &gl, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, s->ngroups), 1, 1, mr * NV,
                        yacc);
    LLVMValueRef gi = gl.iv;
    LLVMValueRef wgrp = fa_irgen_gep(ir, ir->i8, wtile, fa_irgen_mul64(ir, gi, group_bytes));
    LLVMValueRef arow[4];
    for (int m = 0; m < mr; m++)
        arow[m] = fa_irgen_gep(ir, ir->i8, crow[m], fa_irgen_mul64(ir, gi, s->glen));
    LLVMValueRef acc[4 * NV];
    for (int v = 0; v < NV; v++) {
        LLVMValueRef cs =
            fa_irgen_load(ir, v16i,
                          fa_irgen_gep(ir, ir->i32, cstile,
                                       fa_irgen_add64(ir, fa_irgen_mul64(ir, gi, NR), v * 16)),
                          64);
        LLVMValueRef init = acc_init(g, cs);
        for (int m = 0; m < mr; m++)
            acc[m * NV + v] = init;
    }
    /* Blocks whose activation bytes are all full steps run in a loop; the rest are static. */
    int64_t full_blocks = s->i4 ? s->full_steps / 2 : s->full_steps;
    fa_irgen_loop kl;
    fa_irgen_loop_begin(ir, &kl, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, full_blocks), 1, 1, mr * NV,
                        acc);
    emit_block(g, mr, acc, wgrp, arow, kl.iv, 4, s->i4 ? 4 : 0);
    fa_irgen_loop_end(ir, &kl, acc);
    memcpy(acc, kl.phis, sizeof(LLVMValueRef) * (size_t)(mr * NV));
    LLVMValueRef last = fa_irgen_i64(ir, full_blocks);
    if (!s->i4 && s->rem)
        emit_block(g, mr, acc, wgrp, arow, last, s->rem, 0);
    if (s->i4 && s->full_steps % 2)
        emit_block(g, mr, acc, wgrp, arow, last, 4, s->rem);
    else if (s->i4 && s->rem)
        emit_block(g, mr, acc, wgrp, arow, last, s->rem, 0);

    LLVMValueRef ynext[4 * NV];
    for (int v = 0; v < NV; v++) {
        LLVMValueRef wsv =
            fa_irgen_load(ir, v16f,
                          fa_irgen_gep(ir, ir->f32, wstile,
                                       fa_irgen_add64(ir, fa_irgen_mul64(ir, gi, NR), v * 16)),
                          64);
        for (int m = 0; m < mr; m++) {
            LLVMValueRef dot = acc_finish(g, acc[m * NV + v]);
            LLVMValueRef term =
                LLVMBuildFMul(ir->b, wsv, LLVMBuildSIToFP(ir->b, dot, v16f, ""), "");
            ynext[m * NV + v] = LLVMBuildFAdd(ir->b, yacc[m * NV + v], term, "");
        }
    }
    fa_irgen_loop_end(ir, &gl, ynext);

    for (int m = 0; m < mr; m++) {
        LLVMValueRef row = fa_irgen_add64(ir, r, m);
        LLVMValueRef sc = fa_irgen_splat(
            ir, fa_irgen_load(ir, ir->f32, fa_irgen_gep(ir, ir->f32, g->scales, row), 4), 16);
        LLVMValueRef yrow = fa_irgen_gep(ir, ir->f32, g->y, fa_irgen_mul64(ir, row, s->n));
        for (int v = 0; v < NV; v++) {
            int64_t lanes = valid - v * 16 < 16 ? valid - v * 16 : 16;
            if (lanes <= 0)
                continue;
            LLVMValueRef col = fa_irgen_add64(ir, fa_irgen_mul64(ir, t, NR), v * 16);
            LLVMValueRef yv = LLVMBuildFMul(ir->b, gl.phis[m * NV + v], sc, "");
            if (lanes == 16) {
                if (g->bias)
                    yv = LLVMBuildFAdd(
                        ir->b, yv,
                        fa_irgen_load(ir, v16f, fa_irgen_gep(ir, ir->f32, g->biasp, col), 4), "");
                fa_irgen_store(ir, yv, fa_irgen_gep(ir, ir->f32, yrow, col), 4);
                continue;
            }
            for (int64_t c = 0; c < lanes; c++) {
                LLVMValueRef x = LLVMBuildExtractElement(ir->b, yv, fa_irgen_i32(ir, c), "");
                LLVMValueRef at = fa_irgen_add64(ir, col, c);
                if (g->bias)
                    x = LLVMBuildFAdd(
                        ir->b, x,
                        fa_irgen_load(ir, ir->f32, fa_irgen_gep(ir, ir->f32, g->biasp, at), 4), "");
                fa_irgen_store(ir, x, fa_irgen_gep(ir, ir->f32, yrow, at), 4);
            }
        }
    }
}

/* Row loops (MR at a time, then one by one) over [r0, rend) for tile |t|. */
static void emit_rows(gen *g, LLVMValueRef r0, LLVMValueRef rend, LLVMValueRef t, int64_t valid) {
    fa_irgen *ir = &g->ir;
    int mr = g->path == FA_QGEMM_VNNI512 ? 4 : g->path == FA_QGEMM_AVX2 && g->s.i4 ? 2 : 1;
    LLVMValueRef start = r0;
    if (mr > 1) {
        fa_irgen_loop rl;
        fa_irgen_loop_begin(ir, &rl, r0, rend, mr, mr, 0, NULL);
        emit_tile(g, mr, rl.iv, t, valid);
        fa_irgen_loop_end(ir, &rl, NULL);
        start = rl.iv;
    }
    fa_irgen_loop tl;
    fa_irgen_loop_begin(ir, &tl, start, rend, 1, 1, 0, NULL);
    emit_tile(g, 1, tl.iv, t, valid);
    fa_irgen_loop_end(ir, &tl, NULL);
}

/* Emits the kernel function |symbol| into |m| for |key|. */
static void emit_kernel(gen *g, fa_jit_module *m, const char *symbol) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef params[8] = {ir->ptr, ir->ptr, ir->ptr, ir->ptr,
                             ir->ptr, ir->ptr, ir->ptr, ir->i64};
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(ir->ctx), params, 8, 0);
    LLVMValueRef *slots[8] = {&g->codes, &g->scales, &g->pw, &g->ws,
                              &g->cs,    &g->biasp,  &g->y,  &g->rows};
    fa_irgen_function_begin(ir, m, symbol, fty, 7, slots);
    if (g->path == FA_QGEMM_VNNI512)
        fa_irgen_intrinsic_declare(ir, "llvm.x86.avx512.vpdpbusd.512", NULL, 0, &g->vnni_fn,
                                   &g->vnni_ty);
    if (g->path == FA_QGEMM_AVX2) {
        fa_irgen_intrinsic_declare(ir, "llvm.x86.avx2.pmadd.ub.sw", NULL, 0, &g->madd_ubs_fn,
                                   &g->madd_ubs_ty);
        fa_irgen_intrinsic_declare(ir, "llvm.x86.avx2.pmadd.wd", NULL, 0, &g->madd_wd_fn,
                                   &g->madd_wd_ty);
    }
    /* for (r0 = 0; r0 < rows; r0 += RB) { rend = min(r0 + RB, rows); tiles; tail tile } */
    fa_irgen_loop bl;
    fa_irgen_loop_begin(ir, &bl, fa_irgen_i64(ir, 0), g->rows, RB, 1, 0, NULL);
    LLVMValueRef r0 = bl.iv, r0e = fa_irgen_add64(ir, r0, RB);
    LLVMValueRef rend = LLVMBuildSelect(ir->b, LLVMBuildICmp(ir->b, LLVMIntSLT, r0e, g->rows, ""),
                                        r0e, g->rows, "");
    int64_t full_tiles = g->s.n / NR, tail = g->s.n % NR;
    fa_irgen_loop tl;
    fa_irgen_loop_begin(ir, &tl, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, full_tiles), 1, 1, 0, NULL);
    emit_rows(g, r0, rend, tl.iv, NR);
    fa_irgen_loop_end(ir, &tl, NULL);
    if (tail)
        emit_rows(g, r0, rend, fa_irgen_i64(ir, full_tiles), tail);
    fa_irgen_loop_end(ir, &bl, NULL);
    LLVMBuildRetVoid(ir->b);
}

fa_status fa_qgemm_emit(const void *user, fa_jit_module *m, const char *symbol) {
    const fa_qgemm_key *key = user;
    fa_qgemm_path path;
    FA_TRY(fa_qgemm_key_check(key, &path));
    gen g;
    memset(&g, 0, sizeof g);
    fa_irgen_init(&g.ir, m);
    g.path = path;
    g.s = fa_qgemm_shape_of(key);
    g.bias = key->bias;
    emit_kernel(&g, m, symbol);
    fa_irgen_deinit(&g.ir);
    return FA_OK;
}

fa_status fa_qgemm_get(const fa_qgemm_key *key, fa_qgemm_fn *out) {
    *out = NULL;
    fa_qgemm_path path;
    FA_TRY(fa_qgemm_key_check(key, &path));
    char sig[sizeof key->target.features + 512];
    if (!fa_qgemm_signature(key, sig, sizeof sig))
        return fa_status_make(FA_STATUS_INTERNAL, "qgemm: signature does not fit");
    uint64_t addr;
    FA_TRY(fa_jit_kernel_get(sig, &key->target, "qgemm", fa_qgemm_emit, key, &addr));
    /* The JIT returns an address; converting it to a function pointer is what it is for. */
    *out = (fa_qgemm_fn)(uintptr_t)addr;
    return FA_OK;
}
