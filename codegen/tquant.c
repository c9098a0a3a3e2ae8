/* Generated fused routed-transform + per-token quantize kernels: IR generation with the LLVM C
 * API and the cached entry point fa_tquant_get (keys and packing: tquant_pack.c).
 *
 * Design note.
 * - One function per key. A row loop reads each row's type and switches to that type's code;
 *   a type id >= K records the row as bad. Every type path produces z for a row, then the shared
 *   quantize step runs: pass A takes max|z| (maxnum of fabs, vector then reduce.fmax: exact in any
 *   order) and flags non-finite z (|z| > FLT_MAX or unordered); scale = clip_k * amax / qmax;
 *   pass B codes = fptosi(rint(clamp(z / scale, -qmax - 1, qmax))), i.e. fa_rt_quantize's rule
 *   (clamping before rounding gives the same integers: the bounds are integers and rint is
 *   monotone; it also turns NaN into a bound), and codes 0 when the scale is 0.
 * - Identity and diagonal types read x directly in both passes (z = x, or x * diag recomputed):
 *   the same f32 values as the C twin, whose sum is one product plus zeros.
 * - Hadamard types (diag(s) H_d / sqrt(d)): the signs are xor-ed into x's sign bits, then the
 *   log2 d butterfly stages run in registers on vectors of W lanes: the in-vector stages (lane
 *   partner l ^ h, partner + (v with sign flipped where l & h)) and the first log2 B cross-vector
 *   stages on blocks of B vectors, the remaining stages in further passes over a stack row of
 *   up to log2 B stages each; the last pass multiplies by 1/sqrt(d) and stores z.
 * - Dense types: z = x a[k] with a packed in column tiles of NR = NV * W columns (64, 16 or 8),
 *   each tile [d][NR] contiguous (the kernel streams it), columns padded with zeros to dp, a
 *   multiple of 64. Consecutive rows of the same type (up to RB) form a run; per tile of NV vectors
 * of columns, MR rows at a time (then single rows), acc += splat(x[r, i]) * a[i, cols] for i in
 *   order: each z_j is the C twin's sum in its order, fmul then fadd, never fused, so dense
 *   results are bitwise equal too. The run's z rows live on the stack (RB * dp floats, at most
 *   128 KiB), then each is quantized.
 * - Kronecker types kron(A1 [p, p], A2 [q, q]) (d = p q; p and A1's structure in the key): x
 *   read as X [p][q], step 1 Y = X A2 into a stack Y [p][qp] (wq-lane vectors along the
 *   contiguous q axis: the path's lanes, or the power of two >= q; qp = q rounded up to wq,
 *   A2 packed [q][qp] with zero columns; per Y row, blocks of up to 8 vectors of accumulators,
 *   i2 unrolled when q <= 16), step 2 z = A1^T Y: with a Hadamard A1 diag(s) H_p / sqrt(p) the
 *   signs are xor-ed into Y's rows in step 1, an FWHT runs along p (whole rows, passes of up
 *   to log2 B stages) and the rows are compacted in place into z [d] times 1/sqrt(p); with a
 *   dense A1 (packed transposed) z[j1] = sum_i1 A1[i1][j1] Y[i1] into z after Y. Each sum is
 *   fmul then fadd in index order, but not the twin's order over the whole matrix, so, like
 *   Hadamard types, codes may differ by one at a tie. Stack: p qp (+ d + qp) floats, at most
 *   FA_TQUANT_SCRATCH_FLOATS (detection only picks factorizations that fit).
 * - Paths: W = 16 lanes (AVX-512), 8 (AVX2) or 4 (generic); rint is llvm.rint where the target
 *   has SSE4.1 (a roundps), else the exact (q + 1.5 * 2^23) - 1.5 * 2^23 for |q| <= 128. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>

#include "codegen/irgen.h"
#include "codegen/tquant_layout.h"

enum { SCRATCH_FLOATS = FA_TQUANT_SCRATCH_FLOATS, RB_MAX = 64 };

/* ---- IR helpers ---- */

typedef struct gen {
    fa_irgen ir;
    const fa_tquant_key *key;
    int64_t d, dp, rb;
    int w, mr, nv, bmax; /* lanes, dense tile rows and vectors, Hadamard block vectors */
    bool sse41;
    fa_tquant_path path;
    uint64_t off[FA_TQUANT_TYPES_MAX];
    LLVMValueRef x, tt, a, clip, codes, scales, rows;
    LLVMValueRef scratch, rvar, badvar, nvar;
} gen;

/* An elementwise intrinsic overloaded on its operand type (fabs, maxnum, minnum, rint). */
static LLVMValueRef unary(gen *g, const char *name, LLVMValueRef a) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef t = LLVMTypeOf(a);
    return fa_irgen_intrinsic_call(ir, name, &t, 1, &a, 1);
}

static LLVMValueRef binary(gen *g, const char *name, LLVMValueRef a, LLVMValueRef b) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef args[2] = {a, b};
    return fa_irgen_intrinsic_call(ir, name, &t, 1, args, 2);
}

/* |n| floats at |p| (n < W) as a W-lane vector, zeros in the other lanes. */
static LLVMValueRef load_part(gen *g, LLVMValueRef p, int64_t n) {
    fa_irgen *ir = &g->ir;
    LLVMValueRef v = LLVMConstNull(fa_irgen_vec(ir->f32, (unsigned)g->w));
    for (int64_t i = 0; i < n; i++)
        v = LLVMBuildInsertElement(
            ir->b, v,
            fa_irgen_load(ir, ir->f32, fa_irgen_gep(ir, ir->f32, p, fa_irgen_i64(ir, i)), 4),
            fa_irgen_i32(ir, i), "");
    return v;
}

/* ---- the quantize step ---- */

/* z at element |j| (an i64 multiple of W, or the tail start) of a row: |n| lanes (W, or the
 * tail's length) from |src|, times the diagonal |diag| when not NULL. */
static LLVMValueRef z_at(gen *g, LLVMValueRef src, LLVMValueRef diag, LLVMValueRef j, int64_t n,
                         unsigned src_align) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef vf = fa_irgen_vec(ir->f32, (unsigned)g->w);
    unsigned vec_bytes = (unsigned)g->w * 4;
    src_align = src_align < vec_bytes ? src_align : vec_bytes;
    LLVMValueRef z = n == g->w ? fa_irgen_load(ir, vf, fa_irgen_gep(ir, ir->f32, src, j), src_align)
                               : load_part(g, fa_irgen_gep(ir, ir->f32, src, j), n);
    if (diag) {
        LLVMValueRef dv = n == g->w ? fa_irgen_load(ir, vf, fa_irgen_gep(ir, ir->f32, diag, j), 4)
                                    : load_part(g, fa_irgen_gep(ir, ir->f32, diag, j), n);
        z = LLVMBuildFMul(ir->b, z, dv, "");
    }
    return z;
}

/* Pass A on one vector: amax = maxnum(amax, |z|), bad |= |z| > FLT_MAX or unordered. */
static void amax_step(gen *g, LLVMValueRef z, LLVMValueRef *amax, LLVMValueRef *bad) {
    fa_irgen *ir = &g->ir;
    LLVMValueRef az = unary(g, "llvm.fabs", z);
    *amax = binary(g, "llvm.maxnum", *amax, az);
    LLVMValueRef big =
        LLVMBuildFCmp(ir->b, LLVMRealUGT, az,
                      fa_irgen_const_splat_f32(ir, (unsigned)g->w, 3.4028234663852886e38), "");
    *bad = LLVMBuildOr(ir->b, *bad, big, "");
}

/* Pass B on one vector: the |n| codes of |z| at element |j| of the row's codes |crow|. */
static void code_step(gen *g, LLVMValueRef z, LLVMValueRef vscale, LLVMValueRef zero_row,
                      LLVMValueRef crow, LLVMValueRef j, int64_t n) {
    fa_irgen *ir = &g->ir;
    unsigned w = (unsigned)g->w;
    double qmax = g->key->bits == 4 ? 7.0 : 127.0;
    LLVMValueRef q = LLVMBuildFDiv(ir->b, z, vscale, "");
    q = binary(g, "llvm.minnum", q, fa_irgen_const_splat_f32(ir, w, qmax));
    q = binary(g, "llvm.maxnum", q, fa_irgen_const_splat_f32(ir, w, -qmax - 1.0));
    if (g->sse41) {
        q = unary(g, "llvm.rint", q);
    } else {
        LLVMValueRef magic = fa_irgen_const_splat_f32(ir, w, 12582912.0); /* 1.5 * 2^23 */
        q = LLVMBuildFSub(ir->b, LLVMBuildFAdd(ir->b, q, magic, ""), magic, "");
    }
    LLVMValueRef c = LLVMBuildFPToSI(ir->b, q, fa_irgen_vec(ir->i8, w), "");
    c = LLVMBuildSelect(ir->b, zero_row, LLVMConstNull(fa_irgen_vec(ir->i8, w)), c, "");
    LLVMValueRef at = fa_irgen_gep(ir, ir->i8, crow, j);
    if (n == g->w) {
        fa_irgen_store(ir, c, at, 1);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        fa_irgen_store(ir, LLVMBuildExtractElement(ir->b, c, fa_irgen_i32(ir, i), ""),
                       fa_irgen_gep(ir, ir->i8, at, fa_irgen_i64(ir, i)), 1);
}

/* Quantizes row |r| whose z is |d| floats at |src| (times |diag| when not NULL) with the
 * ratio of type |k|; records a non-finite z in the bad row. */
static void emit_quant_row(gen *g, int k, LLVMValueRef r, LLVMValueRef src, LLVMValueRef diag,
                           unsigned src_align) {
    fa_irgen *ir = &g->ir;
    unsigned w = (unsigned)g->w;
    int64_t full = g->d / w, tail = g->d % w;
    LLVMTypeRef vb = fa_irgen_vec(ir->i1, w);
    LLVMValueRef carry[2] = {LLVMConstNull(fa_irgen_vec(ir->f32, w)), LLVMConstNull(vb)};
    fa_irgen_loop la;
    fa_irgen_loop_begin(ir, &la, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, full), 1, 1, 2, carry);
    LLVMValueRef j = fa_irgen_mul64(ir, la.iv, w);
    amax_step(g, z_at(g, src, diag, j, w, src_align), &carry[0], &carry[1]);
    fa_irgen_loop_end(ir, &la, carry);
    LLVMValueRef amax = la.phis[0], badv = la.phis[1];
    if (tail)
        amax_step(g, z_at(g, src, diag, fa_irgen_i64(ir, full * w), tail, src_align), &amax, &badv);
    LLVMTypeRef vf = fa_irgen_vec(ir->f32, w);
    LLVMValueRef am = fa_irgen_intrinsic_call(ir, "llvm.vector.reduce.fmax", &vf, 1, &amax, 1);
    LLVMValueRef bad_row = fa_irgen_intrinsic_call(ir, "llvm.vector.reduce.or", &vb, 1, &badv, 1);

    /* ratio = clip ? clip[k] : 1 */
    LLVMValueRef has_clip = LLVMBuildIsNotNull(ir->b, g->clip, "");
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(ir->b);
    LLVMBasicBlockRef ld = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "clip");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "ratio");
    LLVMBuildCondBr(ir->b, has_clip, ld, join);
    LLVMPositionBuilderAtEnd(ir->b, ld);
    LLVMValueRef loaded =
        fa_irgen_load(ir, ir->f32, fa_irgen_gep(ir, ir->f32, g->clip, fa_irgen_i64(ir, k)), 4);
    LLVMBuildBr(ir->b, join);
    LLVMPositionBuilderAtEnd(ir->b, join);
    LLVMValueRef ratio = LLVMBuildPhi(ir->b, ir->f32, "");
    LLVMValueRef in_v[2] = {fa_irgen_f32(ir, 1.0), loaded};
    LLVMBasicBlockRef in_b[2] = {pre, ld};
    LLVMAddIncoming(ratio, in_v, in_b, 2);

    double qmax = g->key->bits == 4 ? 7.0 : 127.0;
    LLVMValueRef scale =
        LLVMBuildFDiv(ir->b, LLVMBuildFMul(ir->b, ratio, am, ""), fa_irgen_f32(ir, qmax), "");
    LLVMValueRef is_zero = LLVMBuildFCmp(ir->b, LLVMRealOEQ, scale, fa_irgen_f32(ir, 0.0), "");
    fa_irgen_store(ir, LLVMBuildSelect(ir->b, is_zero, fa_irgen_f32(ir, 0.0), scale, ""),
                   fa_irgen_gep(ir, ir->f32, g->scales, r), 4);
    LLVMValueRef old = fa_irgen_load(ir, ir->i64, g->badvar, 8);
    LLVMValueRef first = LLVMBuildAnd(
        ir->b, bad_row, LLVMBuildICmp(ir->b, LLVMIntSLT, old, fa_irgen_i64(ir, 0), ""), "");
    fa_irgen_store(ir, LLVMBuildSelect(ir->b, first, r, old, ""), g->badvar, 8);

    LLVMValueRef vscale = fa_irgen_splat(ir, scale, w), zero_row = fa_irgen_splat(ir, is_zero, w);
    LLVMValueRef crow = fa_irgen_gep(ir, ir->i8, g->codes, fa_irgen_mul64(ir, r, g->d));
    fa_irgen_loop lb;
    fa_irgen_loop_begin(ir, &lb, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, full), 1, 1, 0, NULL);
    j = fa_irgen_mul64(ir, lb.iv, w);
    code_step(g, z_at(g, src, diag, j, w, src_align), vscale, zero_row, crow, j, w);
    fa_irgen_loop_end(ir, &lb, NULL);
    if (tail) {
        LLVMValueRef jt = fa_irgen_i64(ir, full * w);
        code_step(g, z_at(g, src, diag, jt, tail, src_align), vscale, zero_row, crow, jt, tail);
    }
}

/* ---- Hadamard ---- */

/* One in-vector butterfly stage with partner distance |h| lanes on a |w|-lane vector. */
static LLVMValueRef lane_stage(gen *g, LLVMValueRef v, unsigned w, unsigned h) {
    fa_irgen *ir = &g->ir;
    int idx[16];
    LLVMValueRef sign[16];
    for (unsigned l = 0; l < w; l++) {
        idx[l] = (int)(l ^ h);
        sign[l] = fa_irgen_i32(ir, (l & h) ? (int64_t)0x80000000 : 0);
    }
    LLVMValueRef p = fa_irgen_shuffle(ir, v, NULL, idx, w);
    LLVMTypeRef vi = fa_irgen_vec(ir->i32, w);
    LLVMValueRef flipped = LLVMBuildBitCast(
        ir->b,
        LLVMBuildXor(ir->b, LLVMBuildBitCast(ir->b, v, vi, ""), LLVMConstVector(sign, w), ""),
        LLVMTypeOf(v), "");
    return LLVMBuildFAdd(ir->b, p, flipped, "");
}

/* Butterflies on |n| vectors with strides 1, 2, .., n / 2 (in vectors). */
static void vector_stages(gen *g, LLVMValueRef *v, int n) {
    fa_irgen *ir = &g->ir;
    for (int s = 1; s < n; s *= 2)
        for (int i = 0; i < n; i++)
            if (!(i & s)) {
                LLVMValueRef a = v[i], b = v[i + s];
                v[i] = LLVMBuildFAdd(ir->b, a, b, "");
                v[i + s] = LLVMBuildFSub(ir->b, a, b, "");
            }
}

/* The Hadamard transform of row |r| (type |k|) into the stack row, then its quantization. */
static void emit_hadamard_row(gen *g, int k, LLVMValueRef r) {
    fa_irgen *ir = &g->ir;
    int64_t d = g->d;
    unsigned w = (unsigned)(d < g->w ? d : g->w);
    int64_t nv = d / w;
    int b = (int)(nv < g->bmax ? nv : g->bmax);
    LLVMTypeRef vf = fa_irgen_vec(ir->f32, w), vi = fa_irgen_vec(ir->i32, w);
    LLVMValueRef xrow = fa_irgen_gep(ir, ir->f32, g->x, fa_irgen_mul64(ir, r, d));
    LLVMValueRef signs = fa_irgen_gep(ir, ir->f32, g->a, fa_irgen_i64(ir, (int64_t)g->off[k]));
    LLVMValueRef inv = fa_irgen_const_splat_f32(ir, w, (double)(float)(1.0 / sqrt((double)d)));
    unsigned align = w * 4 < 64 ? w * 4 : 64;
    /* Pass 1: blocks of b consecutive vectors. */
    fa_irgen_loop l1;
    fa_irgen_loop_begin(ir, &l1, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, nv), b, b, 0, NULL);
    LLVMValueRef v[16];
    for (int m = 0; m < b; m++) {
        LLVMValueRef e = fa_irgen_mul64(ir, fa_irgen_add64(ir, l1.iv, m), w);
        LLVMValueRef xv = fa_irgen_load(ir, vi, fa_irgen_gep(ir, ir->f32, xrow, e), 4);
        LLVMValueRef sv = fa_irgen_load(ir, vi, fa_irgen_gep(ir, ir->f32, signs, e), align);
        v[m] = LLVMBuildBitCast(ir->b, LLVMBuildXor(ir->b, xv, sv, ""), vf, "");
        for (unsigned h = 1; h < w; h *= 2)
            v[m] = lane_stage(g, v[m], w, h);
    }
    vector_stages(g, v, b);
    for (int m = 0; m < b; m++) {
        LLVMValueRef e = fa_irgen_mul64(ir, fa_irgen_add64(ir, l1.iv, m), w);
        fa_irgen_store(ir, nv == b ? LLVMBuildFMul(ir->b, v[m], inv, "") : v[m],
                       fa_irgen_gep(ir, ir->f32, g->scratch, e), align);
    }
    fa_irgen_loop_end(ir, &l1, NULL);
    /* Later passes: up to log2 b stages each, strides s, 2 s, ... vectors. */
    for (int64_t s = b; s < nv;) {
        int64_t grp = nv / s < b ? nv / s : b;
        bool last = s * grp == nv;
        fa_irgen_loop lh;
        fa_irgen_loop_begin(ir, &lh, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, nv), s * grp, s * grp, 0,
                            NULL);
        fa_irgen_loop ll;
        fa_irgen_loop_begin(ir, &ll, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, s), 1, 1, 0, NULL);
        LLVMValueRef base = LLVMBuildAdd(ir->b, lh.iv, ll.iv, "");
        for (int m = 0; m < grp; m++) {
            LLVMValueRef e = fa_irgen_mul64(ir, fa_irgen_add64(ir, base, m * s), w);
            v[m] = fa_irgen_load(ir, vf, fa_irgen_gep(ir, ir->f32, g->scratch, e), align);
        }
        vector_stages(g, v, (int)grp);
        for (int m = 0; m < grp; m++) {
            LLVMValueRef e = fa_irgen_mul64(ir, fa_irgen_add64(ir, base, m * s), w);
            fa_irgen_store(ir, last ? LLVMBuildFMul(ir->b, v[m], inv, "") : v[m],
                           fa_irgen_gep(ir, ir->f32, g->scratch, e), align);
        }
        fa_irgen_loop_end(ir, &ll, NULL);
        fa_irgen_loop_end(ir, &lh, NULL);
        s *= grp;
    }
    emit_quant_row(g, k, r, g->scratch, NULL, 64);
}

/* ---- Kronecker ---- */

enum { KRON_NB = 8, KRON_UNROLL = 16 };

/* One KRON row being generated: A1 [p, p] (signs [p] when hadamard, else transposed [p][p]),
 * A2 [q][qp], vectors of wq lanes along the q axis, nvq = qp / wq per row of Y [p][qp] (the
 * stack at y) and z [d] (at z, rows of q floats, written with whole vectors in increasing
 * order so that a row's last vector spills zeros or garbage only into the next row's start,
 * which is written later). */
typedef struct kron_row {
    int64_t p, q, qp, nvq;
    unsigned wq;
    bool hadamard;
    LLVMValueRef xrow, a1, a2, y, z;
    LLVMValueRef iv; /* the current Y row (step 1) or z row (step 2) */
} kron_row;

typedef void (*kron_block_fn)(gen *g, const kron_row *kr, LLVMValueRef c, int nb);

/* Calls |fn| on the vector columns [0, nvq) in blocks of KRON_NB vectors at c (an i64
 * vector index), then on the remainder; always in increasing order. */
static void kron_blocks(gen *g, const kron_row *kr, kron_block_fn fn) {
    fa_irgen *ir = &g->ir;
    int64_t full = kr->nvq / KRON_NB * KRON_NB;
    if (full == KRON_NB) {
        fn(g, kr, fa_irgen_i64(ir, 0), KRON_NB);
    } else if (full) {
        fa_irgen_loop lc;
        fa_irgen_loop_begin(ir, &lc, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, full), KRON_NB, KRON_NB,
                            0, NULL);
        fn(g, kr, lc.iv, KRON_NB);
        fa_irgen_loop_end(ir, &lc, NULL);
    }
    if (kr->nvq > full)
        fn(g, kr, fa_irgen_i64(ir, full), (int)(kr->nvq - full));
}

/* Element offset of vector |b| of vector column block |c| in a row. */
static LLVMValueRef kron_col(gen *g, const kron_row *kr, LLVMValueRef c, int b) {
    return fa_irgen_mul64(&g->ir, fa_irgen_add64(&g->ir, c, b), kr->wq);
}

/* acc[b] += splat(s) * v[b] for |nb| vectors: fmul then fadd, in the sum's order. */
static void kron_madd(gen *g, LLVMValueRef *acc, LLVMValueRef s, LLVMValueRef *v, int nb) {
    fa_irgen *ir = &g->ir;
    for (int b = 0; b < nb; b++)
        acc[b] = LLVMBuildFAdd(ir->b, acc[b], LLVMBuildFMul(ir->b, s, v[b], ""), "");
}

/* Step 1 on one block: Y[i1][cols] = sum over i2 of X[i1][i2] A2[i2][cols] (i2 ascending),
 * times A1's sign s_i1 (xor-ed into the sign bits) when A1 is a Hadamard. */
static void kron_xa2_block(gen *g, const kron_row *kr, LLVMValueRef c, int nb) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef vf = fa_irgen_vec(ir->f32, kr->wq), vi = fa_irgen_vec(ir->i32, kr->wq);
    unsigned align = kr->wq * 4;
    LLVMValueRef xr = fa_irgen_gep(ir, ir->f32, kr->xrow, fa_irgen_mul64(ir, kr->iv, kr->q));
    LLVMValueRef acc[KRON_NB], av[KRON_NB];
    for (int b = 0; b < nb; b++)
        acc[b] = LLVMConstNull(vf);
    fa_irgen_loop li;
    bool unroll = kr->q <= KRON_UNROLL;
    if (!unroll)
        fa_irgen_loop_begin(ir, &li, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, kr->q), 1, 1, nb, acc);
    for (int64_t i2 = 0; i2 < (unroll ? kr->q : 1); i2++) {
        LLVMValueRef i = unroll ? fa_irgen_i64(ir, i2) : li.iv;
        LLVMValueRef arow = fa_irgen_gep(ir, ir->f32, kr->a2, fa_irgen_mul64(ir, i, kr->qp));
        for (int b = 0; b < nb; b++)
            av[b] = fa_irgen_load(ir, vf, fa_irgen_gep(ir, ir->f32, arow, kron_col(g, kr, c, b)),
                                  align);
        LLVMValueRef xs = fa_irgen_splat(
            ir, fa_irgen_load(ir, ir->f32, fa_irgen_gep(ir, ir->f32, xr, i), 4), kr->wq);
        kron_madd(g, acc, xs, av, nb);
    }
    if (!unroll) {
        fa_irgen_loop_end(ir, &li, acc);
        for (int b = 0; b < nb; b++)
            acc[b] = li.phis[b];
    }
    LLVMValueRef yr = fa_irgen_gep(ir, ir->f32, kr->y, fa_irgen_mul64(ir, kr->iv, kr->qp));
    LLVMValueRef sv = NULL;
    if (kr->hadamard)
        sv = fa_irgen_splat(
            ir, fa_irgen_load(ir, ir->i32, fa_irgen_gep(ir, ir->f32, kr->a1, kr->iv), 4), kr->wq);
    for (int b = 0; b < nb; b++) {
        LLVMValueRef v = acc[b];
        if (sv)
            v = LLVMBuildBitCast(
                ir->b, LLVMBuildXor(ir->b, LLVMBuildBitCast(ir->b, v, vi, ""), sv, ""), vf, "");
        fa_irgen_store(ir, v, fa_irgen_gep(ir, ir->f32, yr, kron_col(g, kr, c, b)), align);
    }
}

/* Step 2 with a dense A1 on one block: z[j1][cols] = sum over i1 of A1[i1][j1] Y[i1][cols]
 * (i1 ascending; A1 packed transposed, so the row j1 of the packed A1 is read in order). */
static void kron_a1y_block(gen *g, const kron_row *kr, LLVMValueRef c, int nb) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef vf = fa_irgen_vec(ir->f32, kr->wq);
    unsigned align = kr->wq * 4;
    LLVMValueRef a1r = fa_irgen_gep(ir, ir->f32, kr->a1, fa_irgen_mul64(ir, kr->iv, kr->p));
    LLVMValueRef acc[KRON_NB], yv[KRON_NB];
    for (int b = 0; b < nb; b++)
        acc[b] = LLVMConstNull(vf);
    fa_irgen_loop li;
    fa_irgen_loop_begin(ir, &li, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, kr->p), 1, 1, nb, acc);
    LLVMValueRef yr = fa_irgen_gep(ir, ir->f32, kr->y, fa_irgen_mul64(ir, li.iv, kr->qp));
    for (int b = 0; b < nb; b++)
        yv[b] = fa_irgen_load(ir, vf, fa_irgen_gep(ir, ir->f32, yr, kron_col(g, kr, c, b)), align);
    LLVMValueRef as = fa_irgen_splat(
        ir, fa_irgen_load(ir, ir->f32, fa_irgen_gep(ir, ir->f32, a1r, li.iv), 4), kr->wq);
    kron_madd(g, acc, as, yv, nb);
    fa_irgen_loop_end(ir, &li, acc);
    LLVMValueRef zr = fa_irgen_gep(ir, ir->f32, kr->z, fa_irgen_mul64(ir, kr->iv, kr->q));
    for (int b = 0; b < nb; b++)
        fa_irgen_store(ir, li.phis[b], fa_irgen_gep(ir, ir->f32, zr, kron_col(g, kr, c, b)), 4);
}

/* The Hadamard A1's last step on one block: z row j1 = Y row j1 / sqrt(p), compacted in place
 * (z[j1 q + e] lies at or below Y[j1 qp + e], and each vector is loaded before it is stored). */
static void kron_compact_block(gen *g, const kron_row *kr, LLVMValueRef c, int nb) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef vf = fa_irgen_vec(ir->f32, kr->wq);
    LLVMValueRef inv =
        fa_irgen_const_splat_f32(ir, kr->wq, (double)(float)(1.0 / sqrt((double)kr->p)));
    LLVMValueRef yr = fa_irgen_gep(ir, ir->f32, kr->y, fa_irgen_mul64(ir, kr->iv, kr->qp));
    LLVMValueRef zr = fa_irgen_gep(ir, ir->f32, kr->z, fa_irgen_mul64(ir, kr->iv, kr->q));
    for (int b = 0; b < nb; b++) {
        LLVMValueRef v =
            fa_irgen_load(ir, vf, fa_irgen_gep(ir, ir->f32, yr, kron_col(g, kr, c, b)), kr->wq * 4);
        fa_irgen_store(ir, LLVMBuildFMul(ir->b, v, inv, ""),
                       fa_irgen_gep(ir, ir->f32, zr, kron_col(g, kr, c, b)), 4);
    }
}

/* The FWHT of Y along the p axis (rows, whole rows of nvq vectors at a time): passes of up to
 * log2 bmax stages on groups of rows s apart, like emit_hadamard_row's later passes. */
static void emit_kron_fwht(gen *g, const kron_row *kr) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef vf = fa_irgen_vec(ir->f32, kr->wq);
    unsigned align = kr->wq * 4;
    LLVMValueRef v[16];
    for (int64_t s = 1; s < kr->p;) {
        int64_t grp = kr->p / s < g->bmax ? kr->p / s : g->bmax;
        fa_irgen_loop lh, ll, lc;
        fa_irgen_loop_begin(ir, &lh, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, kr->p), s * grp, s * grp,
                            0, NULL);
        fa_irgen_loop_begin(ir, &ll, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, s), 1, 1, 0, NULL);
        LLVMValueRef base = LLVMBuildAdd(ir->b, lh.iv, ll.iv, "");
        fa_irgen_loop_begin(ir, &lc, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, kr->nvq), 1, 1, 0, NULL);
        LLVMValueRef col = fa_irgen_mul64(ir, lc.iv, kr->wq), at[16];
        for (int m = 0; m < grp; m++) {
            LLVMValueRef row = fa_irgen_add64(ir, base, m * s);
            at[m] = fa_irgen_gep(ir, ir->f32, kr->y,
                                 LLVMBuildAdd(ir->b, fa_irgen_mul64(ir, row, kr->qp), col, ""));
            v[m] = fa_irgen_load(ir, vf, at[m], align);
        }
        vector_stages(g, v, (int)grp);
        for (int m = 0; m < grp; m++)
            fa_irgen_store(ir, v[m], at[m], align);
        fa_irgen_loop_end(ir, &lc, NULL);
        fa_irgen_loop_end(ir, &ll, NULL);
        fa_irgen_loop_end(ir, &lh, NULL);
        s *= grp;
    }
}

/* Row |r| of KRON type |k|: z = x (A1 kron A2), with X = x as [p][q], Y = X A2 and z = A1^T Y
 * (z[j1 q + j2] = sum_i1 A1[i1][j1] sum_i2 X[i1][i2] A2[i2][j2]), then its quantization. */
static void emit_kron_row(gen *g, int k, LLVMValueRef r) {
    fa_irgen *ir = &g->ir;
    const fa_tquant_key *key = g->key;
    kron_row kr;
    memset(&kr, 0, sizeof kr);
    kr.p = key->kron_p[k];
    kr.q = g->d / kr.p;
    kr.hadamard = key->kron_hadamard[k];
    kr.wq = (unsigned)fa_tquant_kron_lanes(g->path, kr.q);
    kr.qp = fa_tquant_kron_qp(g->path, kr.q);
    kr.nvq = kr.qp / kr.wq;
    kr.xrow = fa_irgen_gep(ir, ir->f32, g->x, fa_irgen_mul64(ir, r, g->d));
    kr.a1 = fa_irgen_gep(ir, ir->f32, g->a, fa_irgen_i64(ir, (int64_t)g->off[k]));
    kr.a2 = fa_irgen_gep(ir, ir->f32, kr.a1,
                         fa_irgen_i64(ir, (int64_t)fa_tquant_kron_a1_floats(kr.p, kr.hadamard)));
    kr.y = g->scratch;
    int64_t yf = (kr.p * kr.qp + 15) / 16 * 16;
    kr.z = kr.hadamard ? g->scratch : fa_irgen_gep(ir, ir->f32, g->scratch, fa_irgen_i64(ir, yf));
    fa_irgen_loop l1;
    fa_irgen_loop_begin(ir, &l1, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, kr.p), 1, 1, 0, NULL);
    kr.iv = l1.iv;
    kron_blocks(g, &kr, kron_xa2_block);
    fa_irgen_loop_end(ir, &l1, NULL);
    if (kr.hadamard)
        emit_kron_fwht(g, &kr);
    fa_irgen_loop l2;
    fa_irgen_loop_begin(ir, &l2, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, kr.p), 1, 1, 0, NULL);
    kr.iv = l2.iv;
    kron_blocks(g, &kr, kr.hadamard ? kron_compact_block : kron_a1y_block);
    fa_irgen_loop_end(ir, &l2, NULL);
    emit_quant_row(g, k, r, kr.z, NULL, 64);
}

/* ---- dense ---- */

/* z of |mr| rows from |row0| (stack rows from |srow0|), |nvec| vectors of columns at |col|. */
static void emit_dense_tile(gen *g, LLVMValueRef ak, int mr, int nvec, LLVMValueRef row0,
                            LLVMValueRef srow0, LLVMValueRef col) {
    fa_irgen *ir = &g->ir;
    unsigned w = (unsigned)g->w;
    LLVMTypeRef vf = fa_irgen_vec(ir->f32, w);
    LLVMValueRef xr[4], acc[16];
    for (int m = 0; m < mr; m++)
        xr[m] =
            fa_irgen_gep(ir, ir->f32, g->x, fa_irgen_mul64(ir, fa_irgen_add64(ir, row0, m), g->d));
    for (int i = 0; i < mr * nvec; i++)
        acc[i] = LLVMConstNull(vf);
    fa_irgen_loop li;
    fa_irgen_loop_begin(ir, &li, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, g->d), 1, 1, mr * nvec, acc);
    /* Tile col / NR, row i: ak + (col / NR) * d * NR + i * NR = ak + col * d + i * NR. */
    int64_t nr = (int64_t)g->nv * w;
    LLVMValueRef arow = fa_irgen_gep(
        ir, ir->f32, ak,
        LLVMBuildAdd(ir->b, fa_irgen_mul64(ir, col, g->d), fa_irgen_mul64(ir, li.iv, nr), ""));
    LLVMValueRef av[4], xs[4];
    for (int v = 0; v < nvec; v++)
        av[v] = fa_irgen_load(
            ir, vf, fa_irgen_gep(ir, ir->f32, arow, fa_irgen_i64(ir, v * (int64_t)w)), w * 4);
    for (int m = 0; m < mr; m++)
        xs[m] = fa_irgen_splat(
            ir, fa_irgen_load(ir, ir->f32, fa_irgen_gep(ir, ir->f32, xr[m], li.iv), 4), w);
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < nvec; v++)
            acc[m * nvec + v] =
                LLVMBuildFAdd(ir->b, acc[m * nvec + v], LLVMBuildFMul(ir->b, xs[m], av[v], ""), "");
    fa_irgen_loop_end(ir, &li, acc);
    for (int m = 0; m < mr; m++) {
        LLVMValueRef srow = fa_irgen_gep(ir, ir->f32, g->scratch,
                                         fa_irgen_mul64(ir, fa_irgen_add64(ir, srow0, m), g->dp));
        for (int v = 0; v < nvec; v++)
            fa_irgen_store(ir, li.phis[m * nvec + v],
                           fa_irgen_gep(ir, ir->f32, srow, fa_irgen_add64(ir, col, v * (int64_t)w)),
                           w * 4);
    }
}

/* Rows [r, r + n) (all of type |k|) for one column tile of |nvec| vectors at |col|. */
static void emit_dense_rows(gen *g, LLVMValueRef ak, LLVMValueRef r, LLVMValueRef n, int nvec,
                            LLVMValueRef col) {
    fa_irgen *ir = &g->ir;
    fa_irgen_loop lm;
    fa_irgen_loop_begin(ir, &lm, fa_irgen_i64(ir, 0), n, g->mr, g->mr, 0, NULL);
    emit_dense_tile(g, ak, g->mr, nvec, LLVMBuildAdd(ir->b, r, lm.iv, ""), lm.iv, col);
    fa_irgen_loop_end(ir, &lm, NULL);
    fa_irgen_loop l1;
    fa_irgen_loop_begin(ir, &l1, lm.iv, n, 1, 1, 0, NULL);
    emit_dense_tile(g, ak, 1, nvec, LLVMBuildAdd(ir->b, r, l1.iv, ""), l1.iv, col);
    fa_irgen_loop_end(ir, &l1, NULL);
}

/* A run of rows of dense type |k| from |r|: its length n (same type, at most rb rows) goes to
 * nvar; z for all of them, then each is quantized. */
static void emit_dense_run(gen *g, int k, LLVMValueRef r) {
    fa_irgen *ir = &g->ir;
    /* n = 1; while (n < rb && r + n < rows && (!tt || tt[r + n] == k)) n++; */
    fa_irgen_store(ir, fa_irgen_i64(ir, 1), g->nvar, 8);
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "run");
    LLVMBasicBlockRef chk = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "run_tt");
    LLVMBasicBlockRef ld = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "run_ld");
    LLVMBasicBlockRef inc = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "run_inc");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "run_done");
    LLVMBuildBr(ir->b, head);
    LLVMPositionBuilderAtEnd(ir->b, head);
    LLVMValueRef n = fa_irgen_load(ir, ir->i64, g->nvar, 8);
    LLVMValueRef rn = LLVMBuildAdd(ir->b, r, n, "");
    LLVMValueRef more =
        LLVMBuildAnd(ir->b, LLVMBuildICmp(ir->b, LLVMIntSLT, n, fa_irgen_i64(ir, g->rb), ""),
                     LLVMBuildICmp(ir->b, LLVMIntSLT, rn, g->rows, ""), "");
    LLVMBuildCondBr(ir->b, more, chk, done);
    LLVMPositionBuilderAtEnd(ir->b, chk);
    LLVMBuildCondBr(ir->b, LLVMBuildIsNull(ir->b, g->tt, ""), inc, ld);
    LLVMPositionBuilderAtEnd(ir->b, ld);
    LLVMValueRef t = LLVMBuildZExt(
        ir->b, fa_irgen_load(ir, ir->i8, fa_irgen_gep(ir, ir->i8, g->tt, rn), 1), ir->i64, "");
    LLVMBuildCondBr(ir->b, LLVMBuildICmp(ir->b, LLVMIntEQ, t, fa_irgen_i64(ir, k), ""), inc, done);
    LLVMPositionBuilderAtEnd(ir->b, inc);
    fa_irgen_store(ir, fa_irgen_add64(ir, fa_irgen_load(ir, ir->i64, g->nvar, 8), 1), g->nvar, 8);
    LLVMBuildBr(ir->b, head);
    LLVMPositionBuilderAtEnd(ir->b, done);
    n = fa_irgen_load(ir, ir->i64, g->nvar, 8);

    LLVMValueRef ak = fa_irgen_gep(ir, ir->f32, g->a, fa_irgen_i64(ir, (int64_t)g->off[k]));
    int64_t nr = (int64_t)g->nv * g->w;
    fa_irgen_loop lt;
    fa_irgen_loop_begin(ir, &lt, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, g->dp / nr), 1, 1, 0, NULL);
    emit_dense_rows(g, ak, r, n, g->nv, fa_irgen_mul64(ir, lt.iv, nr));
    fa_irgen_loop_end(ir, &lt, NULL);
    fa_irgen_loop lq;
    fa_irgen_loop_begin(ir, &lq, fa_irgen_i64(ir, 0), n, 1, 1, 0, NULL);
    emit_quant_row(g, k, LLVMBuildAdd(ir->b, r, lq.iv, ""),
                   fa_irgen_gep(ir, ir->f32, g->scratch, fa_irgen_mul64(ir, lq.iv, g->dp)), NULL,
                   64);
    fa_irgen_loop_end(ir, &lq, NULL);
    fa_irgen_store(ir, LLVMBuildAdd(ir->b, r, n, ""), g->rvar, 8);
}

/* ---- the kernel ---- */

static void emit_kernel(gen *g, fa_jit_module *m, const char *symbol) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef params[7] = {ir->ptr, ir->ptr, ir->ptr, ir->ptr, ir->ptr, ir->ptr, ir->i64};
    LLVMTypeRef fty = LLVMFunctionType(ir->i64, params, 7, 0);
    LLVMValueRef *slots[7] = {&g->x, &g->tt, &g->a, &g->clip, &g->codes, &g->scales, &g->rows};
    fa_irgen_function_begin(ir, m, symbol, fty, 6, slots);
    /* Dense runs, Hadamard rows and KRON rows (fa_tquant_key_check bounds their needs). */
    uint64_t floats = (uint64_t)(g->rb * g->dp);
    for (int k = 0; k < g->key->ntypes; k++)
        if (g->key->kinds[k] == FA_TQUANT_KRON) {
            uint64_t need =
                fa_tquant_kron_scratch(g->path, g->d, g->key->kron_p[k], g->key->kron_hadamard[k]);
            floats = need > floats ? need : floats;
        }
    g->scratch = LLVMBuildArrayAlloca(ir->b, ir->f32, fa_irgen_i64(ir, (int64_t)floats), "z");
    LLVMSetAlignment(g->scratch, 64);
    g->rvar = LLVMBuildAlloca(ir->b, ir->i64, "r");
    g->badvar = LLVMBuildAlloca(ir->b, ir->i64, "bad");
    g->nvar = LLVMBuildAlloca(ir->b, ir->i64, "n");
    fa_irgen_store(ir, fa_irgen_i64(ir, 0), g->rvar, 8);
    fa_irgen_store(ir, fa_irgen_i64(ir, -1), g->badvar, 8);

    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "row");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "row_type");
    LLVMBasicBlockRef ld = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "row_tt");
    LLVMBasicBlockRef sw = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "row_switch");
    LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "row_bad");
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "done");
    LLVMBuildBr(ir->b, head);
    LLVMPositionBuilderAtEnd(ir->b, head);
    LLVMValueRef r = fa_irgen_load(ir, ir->i64, g->rvar, 8);
    LLVMBuildCondBr(ir->b, LLVMBuildICmp(ir->b, LLVMIntSLT, r, g->rows, ""), body, exit);
    /* k = tt ? tt[r] : 0 */
    LLVMPositionBuilderAtEnd(ir->b, body);
    LLVMBuildCondBr(ir->b, LLVMBuildIsNull(ir->b, g->tt, ""), sw, ld);
    LLVMPositionBuilderAtEnd(ir->b, ld);
    LLVMValueRef t = LLVMBuildZExt(
        ir->b, fa_irgen_load(ir, ir->i8, fa_irgen_gep(ir, ir->i8, g->tt, r), 1), ir->i32, "");
    LLVMBuildBr(ir->b, sw);
    LLVMPositionBuilderAtEnd(ir->b, sw);
    LLVMValueRef k = LLVMBuildPhi(ir->b, ir->i32, "k");
    LLVMValueRef kv[2] = {fa_irgen_i32(ir, 0), t};
    LLVMBasicBlockRef kb[2] = {body, ld};
    LLVMAddIncoming(k, kv, kb, 2);
    LLVMValueRef swi = LLVMBuildSwitch(ir->b, k, bad, (unsigned)g->key->ntypes);
    for (int ty = 0; ty < g->key->ntypes; ty++) {
        LLVMBasicBlockRef tb = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "type");
        LLVMAddCase(swi, fa_irgen_i32(ir, ty), tb);
        LLVMPositionBuilderAtEnd(ir->b, tb);
        LLVMValueRef xrow = fa_irgen_gep(ir, ir->f32, g->x, fa_irgen_mul64(ir, r, g->d));
        switch (g->key->kinds[ty]) {
        case FA_TQUANT_IDENTITY: emit_quant_row(g, ty, r, xrow, NULL, 4); break;
        case FA_TQUANT_DIAG:
            emit_quant_row(g, ty, r, xrow,
                           fa_irgen_gep(ir, ir->f32, g->a, fa_irgen_i64(ir, (int64_t)g->off[ty])),
                           4);
            break;
        case FA_TQUANT_HADAMARD: emit_hadamard_row(g, ty, r); break;
        case FA_TQUANT_DENSE: emit_dense_run(g, ty, r); break;
        case FA_TQUANT_KRON: emit_kron_row(g, ty, r); break;
        }
        if (g->key->kinds[ty] != FA_TQUANT_DENSE)
            fa_irgen_store(ir, fa_irgen_add64(ir, r, 1), g->rvar, 8);
        LLVMBuildBr(ir->b, head);
    }
    /* A type without a transform: record the row, skip it. */
    LLVMPositionBuilderAtEnd(ir->b, bad);
    LLVMValueRef old = fa_irgen_load(ir, ir->i64, g->badvar, 8);
    fa_irgen_store(ir,
                   LLVMBuildSelect(ir->b,
                                   LLVMBuildICmp(ir->b, LLVMIntSLT, old, fa_irgen_i64(ir, 0), ""),
                                   r, old, ""),
                   g->badvar, 8);
    fa_irgen_store(ir, fa_irgen_add64(ir, r, 1), g->rvar, 8);
    LLVMBuildBr(ir->b, head);
    LLVMPositionBuilderAtEnd(ir->b, exit);
    LLVMBuildRet(ir->b, fa_irgen_load(ir, ir->i64, g->badvar, 8));
}

fa_status fa_tquant_emit(const void *user, fa_jit_module *m, const char *symbol) {
    const fa_tquant_key *key = user;
    fa_tquant_path path;
    FA_TRY(fa_tquant_key_check(key, &path));
    gen g;
    memset(&g, 0, sizeof g);
    fa_irgen_init(&g.ir, m);
    g.key = key;
    g.d = key->d;
    g.dp = fa_tquant_padded(key->d);
    g.w = fa_tquant_path_lanes(path);
    g.mr = 4;
    g.nv = fa_tquant_path_tile_vectors(path);
    g.bmax = path == FA_TQUANT_AVX512 ? 16 : 8;
    g.path = path;
    g.sse41 = path != FA_TQUANT_GENERIC || fa_jit_target_has(&key->target, "sse4.1");
    int64_t rb = SCRATCH_FLOATS / g.dp;
    g.rb = rb < 1 ? 1 : rb > RB_MAX ? RB_MAX : rb;
    fa_tquant_section_offsets(key, path, g.off);
    emit_kernel(&g, m, symbol);
    fa_irgen_deinit(&g.ir);
    return FA_OK;
}

fa_status fa_tquant_get(const fa_tquant_key *key, fa_tquant_fn *out) {
    *out = NULL;
    fa_tquant_path path;
    FA_TRY(fa_tquant_key_check(key, &path));
    char sig[sizeof key->target.features + 512];
    if (!fa_tquant_signature(key, sig, sizeof sig))
        return fa_status_make(FA_STATUS_INTERNAL, "tquant: signature does not fit");
    uint64_t addr;
    FA_TRY(fa_jit_kernel_get(sig, &key->target, "tquant", fa_tquant_emit, key, &addr));
    /* The JIT returns an address; converting it to a function pointer is what it is for. */
    *out = (fa_tquant_fn)(uintptr_t)addr;
    return FA_OK;
}
