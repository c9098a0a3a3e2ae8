/* Generated row kernels (rms_norm, swiglu, gelu, softmax, rope): IR generation with the LLVM C API
 * and the cached entry point fa_rowop_get (keys, signatures and the step kernel: rowops_step.c).
 *
 * Design note. The C twins compute each element in double and round to f32 once; so do these
 * kernels, with the twins' formulas and operation order, on vectors of W f32 lanes (16 AVX-512,
 * 8 AVX2, 4 generic) widened to W doubles, and a scalar copy of the same body for the tail.
 * - rms_norm: the twin's sum of squares is a sequential double chain, kept as it is (bitwise);
 *   to hide the add latency, blocks of RB rows (8, 4 or 2) run their chains side by side, one
 *   row per double lane. Then inv = 1 / sqrt(sum / d + epsilon) and y = (x inv) gamma, vectors.
 * - exp (swiglu's sigmoid, softmax): exp_d below, n = round(x / ln 2) by the 1.5 2^52 trick,
 *   r = x - n ln2_hi - n ln2_lo, the Taylor polynomial to degree 13 (truncation < 5e-18 on
 *   |r| <= 0.35), 1 + (r + r^2 q(r)), times 2^(n/2) 2^(n - n/2) (subnormal results round once).
 *   Arguments are clamped to [-746, 710] (NaN kept), so 0, inf and NaN come out as libm's.
 * - softmax: max with the twin's rule (NaN sticks), sum of exp(x - max) in W double lanes, then
 *   exp(x - max) / sum recomputed (as the twin does); no scratch memory.
 * - gelu: libm's erfc / tanh per element (no vectorized erfc here yet), the twin's expression.
 * - rope (rotate half): f32 throughout like the twin, in two runs per row, i < r = d - h and
 *   i >= r with h = floor(d / 2): y[i] = x[i] cos[i] + (-x[i + h]) sin[i], then x[i] cos[i] +
 *   x[i - r] sin[i], each product and the sum an IR fmul / fadd (no contraction), so bitwise.
 *   d is the key's, or the last parameter when the key has d = 0.
 * No fast-math flags: every rounding is the IR's own. */
#include <math.h>
#include <string.h>

#include <llvm-c/Core.h>

#include "codegen/irgen.h"
#include "codegen/rowops.h"

/* A softmax row: its x and y, the max (a double) and the sum of exp(x - max). */
typedef struct softmax_row {
    LLVMValueRef xr, yr, mx, sum;
} softmax_row;

/* Softmax rows up to this long keep exp(x - max) (doubles, on the stack) from the sum pass for
 * the output pass instead of computing it twice; the values are the same either way. */
enum { SOFTMAX_KEEP = 4096 };

typedef struct gen {
    fa_irgen ir;
    const fa_rowop_key *key;
    unsigned w, rb; /* f32 lanes of a vector; rms_norm rows per block */
    LLVMTypeRef f64;
    LLVMValueRef x, x2, gamma, y, rows, dparam;
    LLVMValueRef invbuf; /* rms_norm: the row's 1 / rms (a stack double) */
    softmax_row *sm;     /* softmax: the row being emitted */
    LLVMValueRef keep;   /* softmax: SOFTMAX_KEEP doubles of exp(x - max) */
} gen;

/* ---- typed helpers: width 1 is the scalar type, else a vector ---- */

static LLVMTypeRef ty(LLVMTypeRef e, unsigned n) { return n == 1 ? e : LLVMVectorType(e, n); }

static LLVMValueRef splat_const(LLVMValueRef c, unsigned n) {
    if (n == 1)
        return c;
    LLVMValueRef e[64];
    for (unsigned i = 0; i < n; i++)
        e[i] = c;
    return LLVMConstVector(e, n);
}

static LLVMValueRef cf(gen *g, unsigned n, double v) {
    return splat_const(LLVMConstReal(g->f64, v), n);
}

static LLVMValueRef ci(gen *g, unsigned n, int64_t v) {
    return splat_const(fa_irgen_i64(&g->ir, v), n);
}

static LLVMValueRef splat(gen *g, LLVMValueRef s, unsigned n) {
    return n == 1 ? s : fa_irgen_splat(&g->ir, s, n);
}

/* |n| f32 at base[i], widened to double. */
static LLVMValueRef load_d(gen *g, LLVMValueRef base, LLVMValueRef i, unsigned n) {
    fa_irgen *ir = &g->ir;
    LLVMValueRef v = fa_irgen_load(ir, ty(ir->f32, n), fa_irgen_gep(ir, ir->f32, base, i), 4);
    return LLVMBuildFPExt(ir->b, v, ty(g->f64, n), "");
}

/* |v| (|n| doubles) rounded to f32 and stored at base[i]. */
static void store_f(gen *g, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i, unsigned n) {
    fa_irgen *ir = &g->ir;
    fa_irgen_store(ir, LLVMBuildFPTrunc(ir->b, v, ty(ir->f32, n), ""),
                   fa_irgen_gep(ir, ir->f32, base, i), 4);
}

static LLVMValueRef fmul(gen *g, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFMul(g->ir.b, a, b, "");
}
static LLVMValueRef fadd(gen *g, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFAdd(g->ir.b, a, b, "");
}
static LLVMValueRef fsub(gen *g, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFSub(g->ir.b, a, b, "");
}
static LLVMValueRef fdiv(gen *g, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFDiv(g->ir.b, a, b, "");
}

/* lo where v < lo, hi where v > hi, else v (NaN stays). */
static LLVMValueRef clamp(gen *g, LLVMValueRef v, unsigned n, double lo, double hi) {
    LLVMBuilderRef b = g->ir.b;
    v = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, v, cf(g, n, lo), ""), cf(g, n, lo), v, "");
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, v, cf(g, n, hi), ""), cf(g, n, hi), v,
                           "");
}

/* 2^k for integer |k| (i64) in [-1022, 1023], as doubles. */
static LLVMValueRef pow2(gen *g, LLVMValueRef k, unsigned n) {
    LLVMBuilderRef b = g->ir.b;
    LLVMValueRef bits = LLVMBuildShl(b, LLVMBuildAdd(b, k, ci(g, n, 1023), ""), ci(g, n, 52), "");
    return LLVMBuildBitCast(b, bits, ty(g->f64, n), "");
}

/* exp of |n| doubles (see the design note). */
static LLVMValueRef exp_d(gen *g, LLVMValueRef x, unsigned n) {
    LLVMBuilderRef b = g->ir.b;
    const double magic = 0x1.8p52, ln2_hi = 0x1.62e42feep-1, ln2_lo = 0x1.a39ef35793c76p-33;
    x = clamp(g, x, n, -746.0, 710.0);
    LLVMValueRef t = fadd(g, fmul(g, x, cf(g, n, 0x1.71547652b82fep0)), cf(g, n, magic));
    LLVMValueRef nf = fsub(g, t, cf(g, n, magic));
    LLVMValueRef ni = LLVMBuildSub(b, LLVMBuildBitCast(b, t, ty(g->ir.i64, n), ""),
                                   ci(g, n, (int64_t)0x4338000000000000), "");
    LLVMValueRef r = fsub(g, x, fmul(g, nf, cf(g, n, ln2_hi)));
    r = fsub(g, r, fmul(g, nf, cf(g, n, ln2_lo)));
    double fact[14] = {1.0};
    for (int k = 1; k < 14; k++)
        fact[k] = fact[k - 1] * k;
    LLVMValueRef q = cf(g, n, 1.0 / fact[13]);
    for (int k = 12; k >= 2; k--)
        q = fadd(g, fmul(g, q, r), cf(g, n, 1.0 / fact[k]));
    LLVMValueRef p = fadd(g, cf(g, n, 1.0), fadd(g, r, fmul(g, fmul(g, r, r), q)));
    LLVMValueRef n1 = LLVMBuildAShr(b, ni, ci(g, n, 1), "");
    LLVMValueRef n2 = LLVMBuildSub(b, ni, n1, "");
    return fmul(g, fmul(g, p, pow2(g, n1, n)), pow2(g, n2, n));
}

/* A double -> double libm function |name| on each of |n| lanes of |v|. */
static LLVMValueRef libm(gen *g, const char *name, LLVMValueRef v, unsigned n) {
    fa_irgen *ir = &g->ir;
    LLVMTypeRef ft = LLVMFunctionType(g->f64, &g->f64, 1, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(ir->mod, name);
    if (!fn) {
        fn = LLVMAddFunction(ir->mod, name, ft);
        LLVMSetLinkage(fn, LLVMExternalLinkage);
    }
    if (n == 1)
        return LLVMBuildCall2(ir->b, ft, fn, &v, 1, "");
    LLVMValueRef out = LLVMGetPoison(ty(g->f64, n));
    for (unsigned l = 0; l < n; l++) {
        LLVMValueRef e = LLVMBuildExtractElement(ir->b, v, fa_irgen_i32(ir, l), "");
        e = LLVMBuildCall2(ir->b, ft, fn, &e, 1, "");
        out = LLVMBuildInsertElement(ir->b, out, e, fa_irgen_i32(ir, l), "");
    }
    return out;
}

/* ---- loops ---- */

/* Calls |body|(i, W) for vectors of W elements from 0 while they fit in |end|, then
 * |body|(i, 1) for the rest. */
typedef void (*body_fn)(gen *g, LLVMValueRef i, unsigned n, LLVMValueRef row);

static void map(gen *g, LLVMValueRef end, unsigned w, body_fn body, LLVMValueRef row) {
    fa_irgen *ir = &g->ir;
    fa_irgen_loop lv, lt;
    fa_irgen_loop_begin(ir, &lv, fa_irgen_i64(ir, 0), end, w, w, 0, NULL);
    body(g, lv.iv, w, row);
    fa_irgen_loop_end(ir, &lv, NULL);
    fa_irgen_loop_begin(ir, &lt, lv.iv, end, 1, 1, 0, NULL);
    body(g, lt.iv, 1, row);
    fa_irgen_loop_end(ir, &lt, NULL);
}

/* ---- elementwise: swiglu, gelu ---- */

static void swiglu_body(gen *g, LLVMValueRef i, unsigned n, LLVMValueRef row) {
    (void)row;
    LLVMBuilderRef b = g->ir.b;
    LLVMValueRef x = load_d(g, g->x, i, n), u = load_d(g, g->x2, i, n);
    LLVMTypeRef t = LLVMTypeOf(x);
    /* the twin: x >= 0 ? 1 / (1 + exp(-x)) : e / (1 + e), e = exp(x); both exp(-|x|) */
    LLVMValueRef ax = fa_irgen_intrinsic_call(&g->ir, "llvm.fabs", &t, 1, &x, 1);
    LLVMValueRef e = exp_d(g, LLVMBuildFNeg(b, ax, ""), n);
    LLVMValueRef den = fadd(g, cf(g, n, 1.0), e);
    LLVMValueRef pos = LLVMBuildFCmp(b, LLVMRealOGE, x, cf(g, n, 0.0), "");
    LLVMValueRef sig = fdiv(g, LLVMBuildSelect(b, pos, cf(g, n, 1.0), e, ""), den);
    store_f(g, fmul(g, fmul(g, x, sig), u), g->y, i, n);
}

static void gelu_body(gen *g, LLVMValueRef i, unsigned n, LLVMValueRef row) {
    (void)row;
    LLVMValueRef v = load_d(g, g->x, i, n), cdf;
    if (g->key->gelu_tanh) {
        LLVMValueRef c = fmul(g, fmul(g, fmul(g, cf(g, n, 0.044715), v), v), v);
        LLVMValueRef z = fmul(g, cf(g, n, 0.79788456080286535588), fadd(g, v, c));
        cdf = fmul(g, cf(g, n, 0.5), fadd(g, cf(g, n, 1.0), libm(g, "tanh", z, n)));
    } else {
        LLVMValueRef z = fmul(g, LLVMBuildFNeg(g->ir.b, v, ""), cf(g, n, 0.70710678118654752440));
        cdf = fmul(g, cf(g, n, 0.5), libm(g, "erfc", z, n));
    }
    store_f(g, fmul(g, v, cdf), g->y, i, n);
}

/* ---- rms_norm ---- */

static void rms_scale_body(gen *g, LLVMValueRef i, unsigned n, LLVMValueRef row) {
    fa_irgen *ir = &g->ir;
    LLVMValueRef off = fa_irgen_mul64(ir, row, g->key->d);
    LLVMValueRef inv = fa_irgen_load(ir, g->f64, g->invbuf, 8); /* this row's, see rms_block */
    LLVMValueRef v =
        fmul(g, load_d(g, fa_irgen_gep(ir, ir->f32, g->x, off), i, n), splat(g, inv, n));
    if (g->key->has_gamma)
        v = fmul(g, v, load_d(g, g->gamma, i, n));
    store_f(g, v, fa_irgen_gep(ir, ir->f32, g->y, off), i, n);
}

/* Rows [r0, r0 + nr): their sums of squares side by side (lane j: row r0 + j, the twin's
 * sequential chain), then each row scaled. */
static void rms_block(gen *g, LLVMValueRef r0, unsigned nr) {
    fa_irgen *ir = &g->ir;
    int64_t d = g->key->d;
    LLVMValueRef xr = fa_irgen_gep(ir, ir->f32, g->x, fa_irgen_mul64(ir, r0, d));
    LLVMValueRef sq = cf(g, nr, 0.0);
    fa_irgen_loop lk;
    fa_irgen_loop_begin(ir, &lk, fa_irgen_i64(ir, 0), fa_irgen_i64(ir, d), 1, 1, 1, &sq);
    LLVMValueRef v;
    if (nr == 1) {
        v = load_d(g, xr, lk.iv, 1);
    } else {
        v = LLVMGetPoison(ty(ir->f32, nr));
        for (unsigned j = 0; j < nr; j++) {
            LLVMValueRef at = fa_irgen_gep(ir, ir->f32, xr, fa_irgen_add64(ir, lk.iv, j * d));
            v = LLVMBuildInsertElement(ir->b, v, fa_irgen_load(ir, ir->f32, at, 4),
                                       fa_irgen_i32(ir, j), "");
        }
        v = LLVMBuildFPExt(ir->b, v, ty(g->f64, nr), "");
    }
    LLVMValueRef next = fadd(g, sq, fmul(g, v, v));
    fa_irgen_loop_end(ir, &lk, &next);
    LLVMValueRef sum = lk.phis[0];
    LLVMValueRef den = fadd(g, fdiv(g, sum, cf(g, nr, (double)d)), cf(g, nr, g->key->epsilon));
    LLVMTypeRef t = LLVMTypeOf(den);
    LLVMValueRef inv =
        fdiv(g, cf(g, nr, 1.0), fa_irgen_intrinsic_call(ir, "llvm.sqrt", &t, 1, &den, 1));
    for (unsigned j = 0; j < nr; j++) {
        LLVMValueRef invj =
            nr == 1 ? inv : LLVMBuildExtractElement(ir->b, inv, fa_irgen_i32(ir, j), "");
        fa_irgen_store(ir, invj, g->invbuf, 8);
        map(g, fa_irgen_i64(ir, d), g->w, rms_scale_body, fa_irgen_add64(ir, r0, j));
    }
}

static void emit_rms_norm(gen *g) {
    fa_irgen *ir = &g->ir;
    fa_irgen_loop lb, lr;
    fa_irgen_loop_begin(ir, &lb, fa_irgen_i64(ir, 0), g->rows, g->rb, g->rb, 0, NULL);
    rms_block(g, lb.iv, g->rb);
    fa_irgen_loop_end(ir, &lb, NULL);
    fa_irgen_loop_begin(ir, &lr, lb.iv, g->rows, 1, 1, 0, NULL);
    rms_block(g, lr.iv, 1);
    fa_irgen_loop_end(ir, &lr, NULL);
}

/* ---- softmax ---- */

/* The twin's max rule: m = v > m || isnan(v) ? v : m (a NaN sticks). */
static LLVMValueRef max_step(gen *g, LLVMValueRef m, LLVMValueRef v) {
    LLVMBuilderRef b = g->ir.b;
    LLVMValueRef take = LLVMBuildOr(b, LLVMBuildFCmp(b, LLVMRealOGT, v, m, ""),
                                    LLVMBuildFCmp(b, LLVMRealUNO, v, v, ""), "");
    return LLVMBuildSelect(b, take, v, m, "");
}

static void softmax_out_body(gen *g, LLVMValueRef i, unsigned n, LLVMValueRef row) {
    (void)row;
    const softmax_row *s = g->sm;
    LLVMValueRef e = exp_d(g, fsub(g, load_d(g, s->xr, i, n), splat(g, s->mx, n)), n);
    store_f(g, fdiv(g, e, splat(g, s->sum, n)), s->yr, i, n);
}

/* The output pass from the kept exp(x - max). */
static void softmax_kept_body(gen *g, LLVMValueRef i, unsigned n, LLVMValueRef row) {
    (void)row;
    fa_irgen *ir = &g->ir;
    const softmax_row *s = g->sm;
    LLVMValueRef e = fa_irgen_load(ir, ty(g->f64, n), fa_irgen_gep(ir, g->f64, g->keep, i), 8);
    store_f(g, fdiv(g, e, splat(g, s->sum, n)), s->yr, i, n);
}

/* exp(x - max) of |n| elements at |i|, also stored to the kept row when it fits (else to its
 * start, which is then never read). */
static LLVMValueRef softmax_exp(gen *g, const softmax_row *s, LLVMValueRef fits, LLVMValueRef i,
                                unsigned n) {
    fa_irgen *ir = &g->ir;
    LLVMValueRef e = exp_d(g, fsub(g, load_d(g, s->xr, i, n), splat(g, s->mx, n)), n);
    LLVMValueRef at = LLVMBuildSelect(ir->b, fits, i, fa_irgen_i64(ir, 0), "");
    fa_irgen_store(ir, e, fa_irgen_gep(ir, g->f64, g->keep, at), 8);
    return e;
}

static void emit_softmax(gen *g) {
    fa_irgen *ir = &g->ir;
    unsigned w = g->w;
    /* d static, or (key d = 0) the run-time argument: attention rows are as long as the
     * sequence */
    LLVMValueRef end = g->key->d ? fa_irgen_i64(ir, g->key->d) : g->dparam;
    fa_irgen_loop lr;
    fa_irgen_loop_begin(ir, &lr, fa_irgen_i64(ir, 0), g->rows, 1, 1, 0, NULL);
    LLVMValueRef off = LLVMBuildMul(ir->b, lr.iv, end, "");
    softmax_row s = {fa_irgen_gep(ir, ir->f32, g->x, off), fa_irgen_gep(ir, ir->f32, g->y, off),
                     NULL, NULL};
    /* max: W lanes, then the tail, then the lanes in order */
    LLVMValueRef ninf = LLVMConstReal(ir->f32, -INFINITY);
    LLVMValueRef m = splat_const(ninf, w);
    fa_irgen_loop lv, lt;
    fa_irgen_loop_begin(ir, &lv, fa_irgen_i64(ir, 0), end, w, w, 1, &m);
    LLVMValueRef nm = max_step(
        g, m, fa_irgen_load(ir, ty(ir->f32, w), fa_irgen_gep(ir, ir->f32, s.xr, lv.iv), 4));
    fa_irgen_loop_end(ir, &lv, &nm);
    LLVMValueRef mv = lv.phis[0], ms = ninf;
    fa_irgen_loop_begin(ir, &lt, lv.iv, end, 1, 1, 1, &ms);
    nm = max_step(g, ms, fa_irgen_load(ir, ir->f32, fa_irgen_gep(ir, ir->f32, s.xr, lt.iv), 4));
    fa_irgen_loop_end(ir, &lt, &nm);
    LLVMValueRef mx = lt.phis[0];
    for (unsigned l = 0; l < w; l++)
        mx = max_step(g, mx, LLVMBuildExtractElement(ir->b, mv, fa_irgen_i32(ir, l), ""));
    s.mx = LLVMBuildFPExt(ir->b, mx, g->f64, "");
    /* sum of exp(x - max): W double lanes, then the tail */
    LLVMValueRef fits =
        LLVMBuildICmp(ir->b, LLVMIntULE, end, fa_irgen_i64(ir, SOFTMAX_KEEP), "fits");
    LLVMValueRef sv = cf(g, w, 0.0);
    fa_irgen_loop_begin(ir, &lv, fa_irgen_i64(ir, 0), end, w, w, 1, &sv);
    LLVMValueRef ns = fadd(g, sv, softmax_exp(g, &s, fits, lv.iv, w));
    fa_irgen_loop_end(ir, &lv, &ns);
    sv = lv.phis[0];
    LLVMValueRef ss = cf(g, 1, 0.0);
    fa_irgen_loop_begin(ir, &lt, lv.iv, end, 1, 1, 1, &ss);
    ns = fadd(g, ss, softmax_exp(g, &s, fits, lt.iv, 1));
    fa_irgen_loop_end(ir, &lt, &ns);
    LLVMTypeRef vt = ty(g->f64, w);
    LLVMValueRef args[2] = {lt.phis[0], sv};
    s.sum = fa_irgen_intrinsic_call(ir, "llvm.vector.reduce.fadd", &vt, 1, args, 2);
    /* y = exp(x - max) / sum, from the kept row or computed again */
    g->sm = &s;
    LLVMBasicBlockRef kept = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "kept");
    LLVMBasicBlockRef again = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "again");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(ir->ctx, ir->fn, "done");
    LLVMBuildCondBr(ir->b, fits, kept, again);
    LLVMPositionBuilderAtEnd(ir->b, kept);
    map(g, end, w, softmax_kept_body, NULL);
    LLVMBuildBr(ir->b, done);
    LLVMPositionBuilderAtEnd(ir->b, again);
    map(g, end, w, softmax_out_body, NULL);
    LLVMBuildBr(ir->b, done);
    LLVMPositionBuilderAtEnd(ir->b, done);
    g->sm = NULL;
    fa_irgen_loop_end(ir, &lr, NULL);
}

/* ---- rope ---- */

/* y[i] = x[i] cos[i] + p[i] sin[i] for i in [lo, hi) of one row, p[i] = -x[i + shift] (|neg|) or
 * x[i + shift], all f32: vectors of W while they fit, then single elements. */
static void rope_run(gen *g, LLVMValueRef xr, LLVMValueRef cr, LLVMValueRef sr, LLVMValueRef yr,
                     LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef shift, bool neg) {
    fa_irgen *ir = &g->ir;
    fa_irgen_loop l[2];
    LLVMValueRef start = lo;
    for (int k = 0; k < 2; k++) {
        unsigned n = k == 0 ? g->w : 1;
        LLVMTypeRef t = ty(ir->f32, n);
        fa_irgen_loop_begin(ir, &l[k], start, hi, n, n, 0, NULL);
        LLVMValueRef i = l[k].iv;
        LLVMValueRef xv = fa_irgen_load(ir, t, fa_irgen_gep(ir, ir->f32, xr, i), 4);
        LLVMValueRef cv = fa_irgen_load(ir, t, fa_irgen_gep(ir, ir->f32, cr, i), 4);
        LLVMValueRef sv = fa_irgen_load(ir, t, fa_irgen_gep(ir, ir->f32, sr, i), 4);
        LLVMValueRef at = LLVMBuildAdd(ir->b, i, shift, "");
        LLVMValueRef pv = fa_irgen_load(ir, t, fa_irgen_gep(ir, ir->f32, xr, at), 4);
        if (neg)
            pv = LLVMBuildFNeg(ir->b, pv, "");
        LLVMValueRef y = fadd(g, fmul(g, xv, cv), fmul(g, pv, sv));
        fa_irgen_store(ir, y, fa_irgen_gep(ir, ir->f32, yr, i), 4);
        fa_irgen_loop_end(ir, &l[k], NULL);
        start = l[k].iv;
    }
}

static void emit_rope(gen *g) {
    fa_irgen *ir = &g->ir;
    LLVMBuilderRef b = ir->b;
    LLVMValueRef d = g->key->d ? fa_irgen_i64(ir, g->key->d) : g->dparam;
    LLVMValueRef h = LLVMBuildLShr(b, d, fa_irgen_i64(ir, 1), "h");
    LLVMValueRef r = LLVMBuildSub(b, d, h, "r");
    fa_irgen_loop lr;
    fa_irgen_loop_begin(ir, &lr, fa_irgen_i64(ir, 0), g->rows, 1, 1, 0, NULL);
    LLVMValueRef off = LLVMBuildMul(b, lr.iv, d, "");
    LLVMValueRef xr = fa_irgen_gep(ir, ir->f32, g->x, off);
    LLVMValueRef cr = fa_irgen_gep(ir, ir->f32, g->x2, off);
    LLVMValueRef sr = fa_irgen_gep(ir, ir->f32, g->gamma, off);
    LLVMValueRef yr = fa_irgen_gep(ir, ir->f32, g->y, off);
    rope_run(g, xr, cr, sr, yr, fa_irgen_i64(ir, 0), r, h, true);
    rope_run(g, xr, cr, sr, yr, r, d, LLVMBuildNeg(b, r, ""), false);
    fa_irgen_loop_end(ir, &lr, NULL);
}

/* ---- the kernel ---- */

fa_status fa_rowop_emit(const void *user, fa_jit_module *m, const char *symbol) {
    const fa_rowop_key *key = user;
    fa_rowop_path path;
    FA_TRY(fa_rowop_key_check(key, &path));
    gen g;
    memset(&g, 0, sizeof g);
    fa_irgen *ir = &g.ir;
    fa_irgen_init(ir, m);
    g.key = key;
    g.w = path == FA_ROWOP_AVX512 ? 16 : path == FA_ROWOP_AVX2 ? 8 : 4;
    g.rb = g.w / 2;
    g.f64 = LLVMDoubleTypeInContext(ir->ctx);
    LLVMTypeRef params[6] = {ir->ptr, ir->ptr, ir->ptr, ir->ptr, ir->i64, ir->i64};
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(ir->ctx), params, 6, 0);
    LLVMValueRef *slots[6] = {&g.x, &g.x2, &g.gamma, &g.y, &g.rows, &g.dparam};
    fa_irgen_function_begin(ir, m, symbol, fty, 4, slots);
    switch (key->op) {
    case FA_ROWOP_RMS_NORM:
        g.invbuf = LLVMBuildAlloca(ir->b, g.f64, "inv");
        emit_rms_norm(&g);
        break;
    case FA_ROWOP_SWIGLU: map(&g, g.rows, g.w, swiglu_body, NULL); break;
    case FA_ROWOP_GELU: map(&g, g.rows, g.w, gelu_body, NULL); break;
    case FA_ROWOP_SOFTMAX:
        g.keep = LLVMBuildArrayAlloca(ir->b, g.f64, fa_irgen_i64(ir, SOFTMAX_KEEP), "keep");
        emit_softmax(&g);
        break;
    case FA_ROWOP_ROPE: emit_rope(&g); break;
    }
    LLVMBuildRetVoid(ir->b);
    fa_irgen_deinit(ir);
    return FA_OK;
}

fa_status fa_rowop_get(const fa_rowop_key *key, fa_rowop_fn *out) {
    *out = NULL;
    fa_rowop_path path;
    FA_TRY(fa_rowop_key_check(key, &path));
    char sig[sizeof key->target.features + 512];
    if (!fa_rowop_signature(key, sig, sizeof sig))
        return fa_status_make(FA_STATUS_INTERNAL, "rowop: signature does not fit");
    uint64_t addr;
    FA_TRY(fa_jit_kernel_get(sig, &key->target, "rowop", fa_rowop_emit, key, &addr));
    /* The JIT returns an address; converting it to a function pointer is what it is for. */
    *out = (fa_rowop_fn)(uintptr_t)addr;
    return FA_OK;
}
