/* Generated fused routed-transform + per-token quantize kernels: structure detection, packing,
 * IR generation with the LLVM C API and the cached entry point fa_tquant_get.
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
 * - Paths: W = 16 lanes (AVX-512), 8 (AVX2) or 4 (generic); rint is llvm.rint where the target
 *   has SSE4.1 (a roundps), else the exact (q + 1.5 * 2^23) - 1.5 * 2^23 for |q| <= 128. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>

#include "codegen/tquant.h"

enum { SCRATCH_FLOATS = 32768, RB_MAX = 64 };

/* ---- detection, key, signature, packing ---- */

const char *fa_tquant_kind_name(fa_tquant_kind kind) {
    switch (kind) {
    case FA_TQUANT_IDENTITY: return "identity";
    case FA_TQUANT_DIAG: return "diag";
    case FA_TQUANT_HADAMARD: return "hadamard";
    case FA_TQUANT_DENSE: return "dense";
    }
    return "?";
}

static const char *path_name(fa_tquant_path p) {
    switch (p) {
    case FA_TQUANT_AUTO: return "auto";
    case FA_TQUANT_AVX512: return "avx512";
    case FA_TQUANT_AVX2: return "avx2";
    case FA_TQUANT_GENERIC: return "generic";
    }
    return "?";
}

static bool is_pow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

static bool is_hadamard(int64_t d, const float *a) {
    if (d < 2 || !is_pow2(d))
        return false;
    double inv = 1.0 / sqrt((double)d), tol = 1e-6 * inv;
    for (int64_t i = 0; i < d; i++) {
        const float *row = a + (uint64_t)i * (uint64_t)d;
        double s = row[0] < 0.0f ? -inv : inv;
        for (int64_t j = 0; j < d; j++) {
            double want = (__builtin_popcountll((uint64_t)(i & j)) & 1) ? -s : s;
            if (!(fabs((double)row[j] - want) <= tol))
                return false;
        }
    }
    return true;
}

fa_tquant_kind fa_tquant_detect(int64_t d, const float *a) {
    bool identity = true, diag = true;
    for (int64_t i = 0; i < d && diag; i++)
        for (int64_t j = 0; j < d && diag; j++) {
            float v = a[(uint64_t)i * (uint64_t)d + (uint64_t)j];
            if (i != j)
                diag = v == 0.0f;
            else
                identity = identity && v == 1.0f;
        }
    if (diag)
        return identity ? FA_TQUANT_IDENTITY : FA_TQUANT_DIAG;
    return is_hadamard(d, a) ? FA_TQUANT_HADAMARD : FA_TQUANT_DENSE;
}

static bool has_avx512(const fa_jit_target *t) {
    return fa_jit_target_has(t, "avx512f") && fa_jit_target_has(t, "avx512bw");
}

fa_status fa_tquant_key_check(const fa_tquant_key *key, fa_tquant_path *out_path) {
    if (key->d < 1 || key->d > FA_TQUANT_D_MAX)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "tquant: d = %lld, expected 1..%d",
                              (long long)key->d, FA_TQUANT_D_MAX);
    if (key->ntypes < 1 || key->ntypes > FA_TQUANT_TYPES_MAX)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "tquant: K = %d, expected 1..%d",
                              key->ntypes, FA_TQUANT_TYPES_MAX);
    if (key->bits != 4 && key->bits != 8)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "tquant: bits = %d, expected 4 or 8",
                              key->bits);
    for (int k = 0; k < key->ntypes; k++) {
        fa_tquant_kind kind = key->kinds[k];
        if (kind < FA_TQUANT_IDENTITY || kind > FA_TQUANT_DENSE)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "tquant: type %d has no kind", k);
        if (kind == FA_TQUANT_HADAMARD && (key->d < 2 || !is_pow2(key->d)))
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "tquant: type %d is hadamard but d = %lld is not a power of two",
                                  k, (long long)key->d);
    }
    fa_tquant_path p = key->path;
    if (p == FA_TQUANT_AUTO)
        p = has_avx512(&key->target)                  ? FA_TQUANT_AVX512
            : fa_jit_target_has(&key->target, "avx2") ? FA_TQUANT_AVX2
                                                      : FA_TQUANT_GENERIC;
    if ((p == FA_TQUANT_AVX512 && !has_avx512(&key->target)) ||
        (p == FA_TQUANT_AVX2 && !fa_jit_target_has(&key->target, "avx2")))
        return fa_status_make(FA_STATUS_UNSUPPORTED, "tquant: path %s needs features cpu %s lacks",
                              path_name(p), key->target.cpu);
    *out_path = p;
    return FA_OK;
}

fa_status fa_tquant_key_init(fa_tquant_key *key, int64_t d, int ntypes, int bits, const float *a,
                             const fa_jit_target *target) {
    memset(key, 0, sizeof *key);
    key->d = d;
    key->ntypes = ntypes;
    key->bits = bits;
    key->path = FA_TQUANT_AUTO;
    key->target = *target;
    for (int k = 0; k < FA_TQUANT_TYPES_MAX; k++)
        key->kinds[k] = FA_TQUANT_DENSE;
    fa_tquant_path p;
    FA_TRY(fa_tquant_key_check(key, &p));
    for (int k = 0; k < ntypes; k++)
        key->kinds[k] = fa_tquant_detect(d, a + (uint64_t)k * (uint64_t)d * (uint64_t)d);
    return FA_OK;
}

bool fa_tquant_signature(const fa_tquant_key *key, char *buf, size_t size) {
    fa_tquant_path p;
    fa_status s = fa_tquant_key_check(key, &p);
    if (s) {
        fa_status_free(s);
        p = key->path;
    }
    char kinds[FA_TQUANT_TYPES_MAX * 10] = "";
    for (int k = 0; k < key->ntypes && k < FA_TQUANT_TYPES_MAX; k++) {
        strcat(kinds, k ? "," : "");
        strcat(kinds, fa_tquant_kind_name(key->kinds[k]));
    }
    int len = snprintf(buf, size, "tquant d=%lld K=%d bits=%d kinds=%s path=%s cpu=%s features=%s",
                       (long long)key->d, key->ntypes, key->bits, kinds, path_name(p),
                       key->target.cpu, key->target.features);
    return len >= 0 && (size_t)len < size;
}

/* d rounded up to 64 (a multiple of every path's dense tile width): the padded column count of
 * packed dense matrices and the row stride of the stack z rows. */
static int64_t padded(int64_t d) { return (d + 63) / 64 * 64; }

/* Lanes and dense tile vectors of |path|. */
static int path_lanes(fa_tquant_path path) {
    return path == FA_TQUANT_AVX512 ? 16 : path == FA_TQUANT_AVX2 ? 8 : 4;
}
static int path_tile_vectors(fa_tquant_path path) { return path == FA_TQUANT_AVX512 ? 4 : 2; }

/* Floats of type |kind|'s packed section. */
static uint64_t section_floats(fa_tquant_kind kind, int64_t d) {
    switch (kind) {
    case FA_TQUANT_IDENTITY: return 0;
    case FA_TQUANT_DIAG:
    case FA_TQUANT_HADAMARD: return (uint64_t)padded(d);
    case FA_TQUANT_DENSE: return (uint64_t)d * (uint64_t)padded(d);
    }
    return 0;
}

/* Section offsets (floats, multiples of 16) of |key|'s types; returns the total. */
static uint64_t section_offsets(const fa_tquant_key *key, uint64_t *off) {
    uint64_t total = 0;
    for (int k = 0; k < key->ntypes; k++) {
        off[k] = total;
        total += section_floats(key->kinds[k], key->d);
    }
    return total;
}

void fa_tquant_packed_free(fa_tquant_packed *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

fa_status fa_tquant_pack(const fa_tquant_key *key, const float *a, fa_tquant_packed *out) {
    memset(out, 0, sizeof *out);
    fa_tquant_path path;
    FA_TRY(fa_tquant_key_check(key, &path));
    int64_t d = key->d, nr = path_lanes(path) * path_tile_vectors(path);
    for (int k = 0; k < key->ntypes; k++) {
        fa_tquant_kind kind = key->kinds[k];
        fa_tquant_kind found = fa_tquant_detect(d, a + (uint64_t)k * (uint64_t)d * (uint64_t)d);
        if (kind != FA_TQUANT_DENSE && kind != found &&
            !(kind == FA_TQUANT_DIAG && found == FA_TQUANT_IDENTITY))
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "tquant: type %d is declared %s but its matrix is %s", k,
                                  fa_tquant_kind_name(kind), fa_tquant_kind_name(found));
    }
    uint64_t off[FA_TQUANT_TYPES_MAX];
    uint64_t total = section_offsets(key, off);
    size_t bytes = (size_t)(total ? total : 16) * sizeof(float);
    out->data = aligned_alloc(64, bytes);
    if (!out->data)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "tquant: out of memory packing matrices");
    memset(out->data, 0, bytes);
    out->floats = (size_t)total;
    for (int k = 0; k < key->ntypes; k++) {
        const float *ak = a + (uint64_t)k * (uint64_t)d * (uint64_t)d;
        float *p = out->data + off[k];
        for (int64_t i = 0; i < d; i++) {
            const float *row = ak + (uint64_t)i * (uint64_t)d;
            switch (key->kinds[k]) {
            case FA_TQUANT_IDENTITY: break;
            case FA_TQUANT_DIAG: p[i] = row[i]; break;
            case FA_TQUANT_HADAMARD: p[i] = row[0] < 0.0f ? -0.0f : 0.0f; break;
            case FA_TQUANT_DENSE: /* tile t holds [i][c] = a[i][t * nr + c] */
                for (int64_t j = 0; j < d; j++)
                    p[((uint64_t)(j / nr) * (uint64_t)d + (uint64_t)i) * (uint64_t)nr +
                      (uint64_t)(j % nr)] = row[j];
                break;
            }
        }
    }
    return FA_OK;
}

/* ---- IR helpers ---- */

typedef struct gen {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    const fa_tquant_key *key;
    int64_t d, dp, rb;
    int w, mr, nv, bmax; /* lanes, dense tile rows and vectors, Hadamard block vectors */
    bool sse41;
    uint64_t off[FA_TQUANT_TYPES_MAX];
    LLVMTypeRef i1, i8, i32, i64, f32, ptr;
    LLVMValueRef x, tt, a, clip, codes, scales, rows;
    LLVMValueRef scratch, rvar, badvar, nvar;
} gen;

static LLVMTypeRef vec(LLVMTypeRef elem, unsigned n) { return LLVMVectorType(elem, n); }

static LLVMValueRef ci(LLVMTypeRef t, int64_t v) {
    return LLVMConstInt(t, (unsigned long long)v, 1);
}

static LLVMValueRef cf(gen *g, double v) { return LLVMConstReal(g->f32, v); }

static LLVMValueRef splat(gen *g, LLVMValueRef x, unsigned n) {
    LLVMValueRef v =
        LLVMBuildInsertElement(g->b, LLVMGetPoison(vec(LLVMTypeOf(x), n)), x, ci(g->i32, 0), "");
    return LLVMBuildShuffleVector(g->b, v, LLVMGetPoison(LLVMTypeOf(v)),
                                  LLVMConstNull(vec(g->i32, n)), "");
}

static LLVMValueRef const_splat_f(gen *g, unsigned n, double v) {
    LLVMValueRef e[16];
    for (unsigned i = 0; i < n; i++)
        e[i] = cf(g, v);
    return LLVMConstVector(e, n);
}

static LLVMValueRef gep(gen *g, LLVMTypeRef elem, LLVMValueRef p, LLVMValueRef i) {
    return LLVMBuildInBoundsGEP2(g->b, elem, p, &i, 1, "");
}

static LLVMValueRef load(gen *g, LLVMTypeRef t, LLVMValueRef p, unsigned align) {
    LLVMValueRef v = LLVMBuildLoad2(g->b, t, p, "");
    LLVMSetAlignment(v, align);
    return v;
}

static void store(gen *g, LLVMValueRef v, LLVMValueRef p, unsigned align) {
    LLVMSetAlignment(LLVMBuildStore(g->b, v, p), align);
}

static LLVMValueRef add64(gen *g, LLVMValueRef a, int64_t c) {
    return c ? LLVMBuildAdd(g->b, a, ci(g->i64, c), "") : a;
}

static LLVMValueRef mul64(gen *g, LLVMValueRef a, int64_t c) {
    return c == 1 ? a : LLVMBuildMul(g->b, a, ci(g->i64, c), "");
}

/* A call of the overloaded intrinsic |name| on |types|. */
static LLVMValueRef intrinsic(gen *g, const char *name, LLVMTypeRef *types, size_t ntypes,
                              LLVMValueRef *args, unsigned nargs) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    FA_ASSERT(id != 0);
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(g->mod, id, types, ntypes);
    LLVMTypeRef ft = LLVMIntrinsicGetType(g->ctx, id, types, ntypes);
    return LLVMBuildCall2(g->b, ft, f, args, nargs, "");
}

/* An elementwise intrinsic overloaded on its operand type (fabs, maxnum, minnum, rint). */
static LLVMValueRef unary(gen *g, const char *name, LLVMValueRef a) {
    LLVMTypeRef t = LLVMTypeOf(a);
    return intrinsic(g, name, &t, 1, &a, 1);
}

static LLVMValueRef binary(gen *g, const char *name, LLVMValueRef a, LLVMValueRef b) {
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef args[2] = {a, b};
    return intrinsic(g, name, &t, 1, args, 2);
}

/* A counted loop: iv from |start| by |step| while iv + |span| <= |end|, carrying |n| values
 * (|carry| holds their initial values; loop_begin replaces them with the phis). */
typedef struct loop {
    LLVMBasicBlockRef head, exit;
    LLVMValueRef iv, phis[16];
    int n;
    int64_t step;
} loop;

static void loop_begin(gen *g, loop *l, LLVMValueRef start, LLVMValueRef end, int64_t step,
                       int64_t span, int n, LLVMValueRef *carry) {
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
    LLVMValueRef cond = LLVMBuildICmp(g->b, LLVMIntSLE, add64(g, l->iv, span), end, "");
    LLVMBuildCondBr(g->b, cond, body, l->exit);
    LLVMPositionBuilderAtEnd(g->b, body);
}

/* Closes |l| with the carried values' next values |next|; the builder moves to the exit, where
 * the phis (l->phis, l->iv) hold the final values. */
static void loop_end(gen *g, loop *l, LLVMValueRef *next) {
    LLVMValueRef iv_next = add64(g, l->iv, l->step);
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(g->b);
    LLVMBuildBr(g->b, l->head);
    LLVMAddIncoming(l->iv, &iv_next, &latch, 1);
    for (int i = 0; i < l->n; i++)
        LLVMAddIncoming(l->phis[i], &next[i], &latch, 1);
    LLVMPositionBuilderAtEnd(g->b, l->exit);
}

/* |n| floats at |p| (n < W) as a W-lane vector, zeros in the other lanes. */
static LLVMValueRef load_part(gen *g, LLVMValueRef p, int64_t n) {
    LLVMValueRef v = LLVMConstNull(vec(g->f32, (unsigned)g->w));
    for (int64_t i = 0; i < n; i++)
        v = LLVMBuildInsertElement(g->b, v, load(g, g->f32, gep(g, g->f32, p, ci(g->i64, i)), 4),
                                   ci(g->i32, i), "");
    return v;
}

/* ---- the quantize step ---- */

/* z at element |j| (an i64 multiple of W, or the tail start) of a row: |n| lanes (W, or the
 * tail's length) from |src|, times the diagonal |diag| when not NULL. */
static LLVMValueRef z_at(gen *g, LLVMValueRef src, LLVMValueRef diag, LLVMValueRef j, int64_t n,
                         unsigned src_align) {
    LLVMTypeRef vf = vec(g->f32, (unsigned)g->w);
    unsigned vec_bytes = (unsigned)g->w * 4;
    src_align = src_align < vec_bytes ? src_align : vec_bytes;
    LLVMValueRef z = n == g->w ? load(g, vf, gep(g, g->f32, src, j), src_align)
                               : load_part(g, gep(g, g->f32, src, j), n);
    if (diag) {
        LLVMValueRef dv = n == g->w ? load(g, vf, gep(g, g->f32, diag, j), 4)
                                    : load_part(g, gep(g, g->f32, diag, j), n);
        z = LLVMBuildFMul(g->b, z, dv, "");
    }
    return z;
}

/* Pass A on one vector: amax = maxnum(amax, |z|), bad |= |z| > FLT_MAX or unordered. */
static void amax_step(gen *g, LLVMValueRef z, LLVMValueRef *amax, LLVMValueRef *bad) {
    LLVMValueRef az = unary(g, "llvm.fabs", z);
    *amax = binary(g, "llvm.maxnum", *amax, az);
    LLVMValueRef big = LLVMBuildFCmp(g->b, LLVMRealUGT, az,
                                     const_splat_f(g, (unsigned)g->w, 3.4028234663852886e38), "");
    *bad = LLVMBuildOr(g->b, *bad, big, "");
}

/* Pass B on one vector: the |n| codes of |z| at element |j| of the row's codes |crow|. */
static void code_step(gen *g, LLVMValueRef z, LLVMValueRef vscale, LLVMValueRef zero_row,
                      LLVMValueRef crow, LLVMValueRef j, int64_t n) {
    unsigned w = (unsigned)g->w;
    double qmax = g->key->bits == 4 ? 7.0 : 127.0;
    LLVMValueRef q = LLVMBuildFDiv(g->b, z, vscale, "");
    q = binary(g, "llvm.minnum", q, const_splat_f(g, w, qmax));
    q = binary(g, "llvm.maxnum", q, const_splat_f(g, w, -qmax - 1.0));
    if (g->sse41) {
        q = unary(g, "llvm.rint", q);
    } else {
        LLVMValueRef magic = const_splat_f(g, w, 12582912.0); /* 1.5 * 2^23 */
        q = LLVMBuildFSub(g->b, LLVMBuildFAdd(g->b, q, magic, ""), magic, "");
    }
    LLVMValueRef c = LLVMBuildFPToSI(g->b, q, vec(g->i8, w), "");
    c = LLVMBuildSelect(g->b, zero_row, LLVMConstNull(vec(g->i8, w)), c, "");
    LLVMValueRef at = gep(g, g->i8, crow, j);
    if (n == g->w) {
        store(g, c, at, 1);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        store(g, LLVMBuildExtractElement(g->b, c, ci(g->i32, i), ""),
              gep(g, g->i8, at, ci(g->i64, i)), 1);
}

/* Quantizes row |r| whose z is |d| floats at |src| (times |diag| when not NULL) with the
 * ratio of type |k|; records a non-finite z in the bad row. */
static void emit_quant_row(gen *g, int k, LLVMValueRef r, LLVMValueRef src, LLVMValueRef diag,
                           unsigned src_align) {
    unsigned w = (unsigned)g->w;
    int64_t full = g->d / w, tail = g->d % w;
    LLVMTypeRef vb = vec(g->i1, w);
    LLVMValueRef carry[2] = {LLVMConstNull(vec(g->f32, w)), LLVMConstNull(vb)};
    loop la;
    loop_begin(g, &la, ci(g->i64, 0), ci(g->i64, full), 1, 1, 2, carry);
    LLVMValueRef j = mul64(g, la.iv, w);
    amax_step(g, z_at(g, src, diag, j, w, src_align), &carry[0], &carry[1]);
    loop_end(g, &la, carry);
    LLVMValueRef amax = la.phis[0], badv = la.phis[1];
    if (tail)
        amax_step(g, z_at(g, src, diag, ci(g->i64, full * w), tail, src_align), &amax, &badv);
    LLVMTypeRef vf = vec(g->f32, w);
    LLVMValueRef am = intrinsic(g, "llvm.vector.reduce.fmax", &vf, 1, &amax, 1);
    LLVMValueRef bad_row = intrinsic(g, "llvm.vector.reduce.or", &vb, 1, &badv, 1);

    /* ratio = clip ? clip[k] : 1 */
    LLVMValueRef has_clip = LLVMBuildIsNotNull(g->b, g->clip, "");
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(g->b);
    LLVMBasicBlockRef ld = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "clip");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "ratio");
    LLVMBuildCondBr(g->b, has_clip, ld, join);
    LLVMPositionBuilderAtEnd(g->b, ld);
    LLVMValueRef loaded = load(g, g->f32, gep(g, g->f32, g->clip, ci(g->i64, k)), 4);
    LLVMBuildBr(g->b, join);
    LLVMPositionBuilderAtEnd(g->b, join);
    LLVMValueRef ratio = LLVMBuildPhi(g->b, g->f32, "");
    LLVMValueRef in_v[2] = {cf(g, 1.0), loaded};
    LLVMBasicBlockRef in_b[2] = {pre, ld};
    LLVMAddIncoming(ratio, in_v, in_b, 2);

    double qmax = g->key->bits == 4 ? 7.0 : 127.0;
    LLVMValueRef scale = LLVMBuildFDiv(g->b, LLVMBuildFMul(g->b, ratio, am, ""), cf(g, qmax), "");
    LLVMValueRef is_zero = LLVMBuildFCmp(g->b, LLVMRealOEQ, scale, cf(g, 0.0), "");
    store(g, LLVMBuildSelect(g->b, is_zero, cf(g, 0.0), scale, ""), gep(g, g->f32, g->scales, r),
          4);
    LLVMValueRef old = load(g, g->i64, g->badvar, 8);
    LLVMValueRef first =
        LLVMBuildAnd(g->b, bad_row, LLVMBuildICmp(g->b, LLVMIntSLT, old, ci(g->i64, 0), ""), "");
    store(g, LLVMBuildSelect(g->b, first, r, old, ""), g->badvar, 8);

    LLVMValueRef vscale = splat(g, scale, w), zero_row = splat(g, is_zero, w);
    LLVMValueRef crow = gep(g, g->i8, g->codes, mul64(g, r, g->d));
    loop lb;
    loop_begin(g, &lb, ci(g->i64, 0), ci(g->i64, full), 1, 1, 0, NULL);
    j = mul64(g, lb.iv, w);
    code_step(g, z_at(g, src, diag, j, w, src_align), vscale, zero_row, crow, j, w);
    loop_end(g, &lb, NULL);
    if (tail) {
        LLVMValueRef jt = ci(g->i64, full * w);
        code_step(g, z_at(g, src, diag, jt, tail, src_align), vscale, zero_row, crow, jt, tail);
    }
}

/* ---- Hadamard ---- */

/* One in-vector butterfly stage with partner distance |h| lanes on a |w|-lane vector. */
static LLVMValueRef lane_stage(gen *g, LLVMValueRef v, unsigned w, unsigned h) {
    LLVMValueRef idx[16], sign[16];
    for (unsigned l = 0; l < w; l++) {
        idx[l] = ci(g->i32, (int64_t)(l ^ h));
        sign[l] = ci(g->i32, (l & h) ? (int64_t)0x80000000 : 0);
    }
    LLVMValueRef p =
        LLVMBuildShuffleVector(g->b, v, LLVMGetPoison(LLVMTypeOf(v)), LLVMConstVector(idx, w), "");
    LLVMTypeRef vi = vec(g->i32, w);
    LLVMValueRef flipped = LLVMBuildBitCast(
        g->b, LLVMBuildXor(g->b, LLVMBuildBitCast(g->b, v, vi, ""), LLVMConstVector(sign, w), ""),
        LLVMTypeOf(v), "");
    return LLVMBuildFAdd(g->b, p, flipped, "");
}

/* Butterflies on |n| vectors with strides 1, 2, .., n / 2 (in vectors). */
static void vector_stages(gen *g, LLVMValueRef *v, int n) {
    for (int s = 1; s < n; s *= 2)
        for (int i = 0; i < n; i++)
            if (!(i & s)) {
                LLVMValueRef a = v[i], b = v[i + s];
                v[i] = LLVMBuildFAdd(g->b, a, b, "");
                v[i + s] = LLVMBuildFSub(g->b, a, b, "");
            }
}

/* The Hadamard transform of row |r| (type |k|) into the stack row, then its quantization. */
static void emit_hadamard_row(gen *g, int k, LLVMValueRef r) {
    int64_t d = g->d;
    unsigned w = (unsigned)(d < g->w ? d : g->w);
    int64_t nv = d / w;
    int b = (int)(nv < g->bmax ? nv : g->bmax);
    LLVMTypeRef vf = vec(g->f32, w), vi = vec(g->i32, w);
    LLVMValueRef xrow = gep(g, g->f32, g->x, mul64(g, r, d));
    LLVMValueRef signs = gep(g, g->f32, g->a, ci(g->i64, (int64_t)g->off[k]));
    LLVMValueRef inv = const_splat_f(g, w, (double)(float)(1.0 / sqrt((double)d)));
    unsigned align = w * 4 < 64 ? w * 4 : 64;
    /* Pass 1: blocks of b consecutive vectors. */
    loop l1;
    loop_begin(g, &l1, ci(g->i64, 0), ci(g->i64, nv), b, b, 0, NULL);
    LLVMValueRef v[16];
    for (int m = 0; m < b; m++) {
        LLVMValueRef e = mul64(g, add64(g, l1.iv, m), w);
        LLVMValueRef xv = load(g, vi, gep(g, g->f32, xrow, e), 4);
        LLVMValueRef sv = load(g, vi, gep(g, g->f32, signs, e), align);
        v[m] = LLVMBuildBitCast(g->b, LLVMBuildXor(g->b, xv, sv, ""), vf, "");
        for (unsigned h = 1; h < w; h *= 2)
            v[m] = lane_stage(g, v[m], w, h);
    }
    vector_stages(g, v, b);
    for (int m = 0; m < b; m++) {
        LLVMValueRef e = mul64(g, add64(g, l1.iv, m), w);
        store(g, nv == b ? LLVMBuildFMul(g->b, v[m], inv, "") : v[m], gep(g, g->f32, g->scratch, e),
              align);
    }
    loop_end(g, &l1, NULL);
    /* Later passes: up to log2 b stages each, strides s, 2 s, ... vectors. */
    for (int64_t s = b; s < nv;) {
        int64_t grp = nv / s < b ? nv / s : b;
        bool last = s * grp == nv;
        loop lh;
        loop_begin(g, &lh, ci(g->i64, 0), ci(g->i64, nv), s * grp, s * grp, 0, NULL);
        loop ll;
        loop_begin(g, &ll, ci(g->i64, 0), ci(g->i64, s), 1, 1, 0, NULL);
        LLVMValueRef base = LLVMBuildAdd(g->b, lh.iv, ll.iv, "");
        for (int m = 0; m < grp; m++) {
            LLVMValueRef e = mul64(g, add64(g, base, m * s), w);
            v[m] = load(g, vf, gep(g, g->f32, g->scratch, e), align);
        }
        vector_stages(g, v, (int)grp);
        for (int m = 0; m < grp; m++) {
            LLVMValueRef e = mul64(g, add64(g, base, m * s), w);
            store(g, last ? LLVMBuildFMul(g->b, v[m], inv, "") : v[m],
                  gep(g, g->f32, g->scratch, e), align);
        }
        loop_end(g, &ll, NULL);
        loop_end(g, &lh, NULL);
        s *= grp;
    }
    emit_quant_row(g, k, r, g->scratch, NULL, 64);
}

/* ---- dense ---- */

/* z of |mr| rows from |row0| (stack rows from |srow0|), |nvec| vectors of columns at |col|. */
static void emit_dense_tile(gen *g, LLVMValueRef ak, int mr, int nvec, LLVMValueRef row0,
                            LLVMValueRef srow0, LLVMValueRef col) {
    unsigned w = (unsigned)g->w;
    LLVMTypeRef vf = vec(g->f32, w);
    LLVMValueRef xr[4], acc[16];
    for (int m = 0; m < mr; m++)
        xr[m] = gep(g, g->f32, g->x, mul64(g, add64(g, row0, m), g->d));
    for (int i = 0; i < mr * nvec; i++)
        acc[i] = LLVMConstNull(vf);
    loop li;
    loop_begin(g, &li, ci(g->i64, 0), ci(g->i64, g->d), 1, 1, mr * nvec, acc);
    /* Tile col / NR, row i: ak + (col / NR) * d * NR + i * NR = ak + col * d + i * NR. */
    int64_t nr = (int64_t)g->nv * w;
    LLVMValueRef arow =
        gep(g, g->f32, ak, LLVMBuildAdd(g->b, mul64(g, col, g->d), mul64(g, li.iv, nr), ""));
    LLVMValueRef av[4], xs[4];
    for (int v = 0; v < nvec; v++)
        av[v] = load(g, vf, gep(g, g->f32, arow, ci(g->i64, v * (int64_t)w)), w * 4);
    for (int m = 0; m < mr; m++)
        xs[m] = splat(g, load(g, g->f32, gep(g, g->f32, xr[m], li.iv), 4), w);
    for (int m = 0; m < mr; m++)
        for (int v = 0; v < nvec; v++)
            acc[m * nvec + v] =
                LLVMBuildFAdd(g->b, acc[m * nvec + v], LLVMBuildFMul(g->b, xs[m], av[v], ""), "");
    loop_end(g, &li, acc);
    for (int m = 0; m < mr; m++) {
        LLVMValueRef srow = gep(g, g->f32, g->scratch, mul64(g, add64(g, srow0, m), g->dp));
        for (int v = 0; v < nvec; v++)
            store(g, li.phis[m * nvec + v], gep(g, g->f32, srow, add64(g, col, v * (int64_t)w)),
                  w * 4);
    }
}

/* Rows [r, r + n) (all of type |k|) for one column tile of |nvec| vectors at |col|. */
static void emit_dense_rows(gen *g, LLVMValueRef ak, LLVMValueRef r, LLVMValueRef n, int nvec,
                            LLVMValueRef col) {
    loop lm;
    loop_begin(g, &lm, ci(g->i64, 0), n, g->mr, g->mr, 0, NULL);
    emit_dense_tile(g, ak, g->mr, nvec, LLVMBuildAdd(g->b, r, lm.iv, ""), lm.iv, col);
    loop_end(g, &lm, NULL);
    loop l1;
    loop_begin(g, &l1, lm.iv, n, 1, 1, 0, NULL);
    emit_dense_tile(g, ak, 1, nvec, LLVMBuildAdd(g->b, r, l1.iv, ""), l1.iv, col);
    loop_end(g, &l1, NULL);
}

/* A run of rows of dense type |k| from |r|: its length n (same type, at most rb rows) goes to
 * nvar; z for all of them, then each is quantized. */
static void emit_dense_run(gen *g, int k, LLVMValueRef r) {
    /* n = 1; while (n < rb && r + n < rows && (!tt || tt[r + n] == k)) n++; */
    store(g, ci(g->i64, 1), g->nvar, 8);
    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "run");
    LLVMBasicBlockRef chk = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "run_tt");
    LLVMBasicBlockRef ld = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "run_ld");
    LLVMBasicBlockRef inc = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "run_inc");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "run_done");
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, head);
    LLVMValueRef n = load(g, g->i64, g->nvar, 8);
    LLVMValueRef rn = LLVMBuildAdd(g->b, r, n, "");
    LLVMValueRef more =
        LLVMBuildAnd(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, n, ci(g->i64, g->rb), ""),
                     LLVMBuildICmp(g->b, LLVMIntSLT, rn, g->rows, ""), "");
    LLVMBuildCondBr(g->b, more, chk, done);
    LLVMPositionBuilderAtEnd(g->b, chk);
    LLVMBuildCondBr(g->b, LLVMBuildIsNull(g->b, g->tt, ""), inc, ld);
    LLVMPositionBuilderAtEnd(g->b, ld);
    LLVMValueRef t = LLVMBuildZExt(g->b, load(g, g->i8, gep(g, g->i8, g->tt, rn), 1), g->i64, "");
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntEQ, t, ci(g->i64, k), ""), inc, done);
    LLVMPositionBuilderAtEnd(g->b, inc);
    store(g, add64(g, load(g, g->i64, g->nvar, 8), 1), g->nvar, 8);
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, done);
    n = load(g, g->i64, g->nvar, 8);

    LLVMValueRef ak = gep(g, g->f32, g->a, ci(g->i64, (int64_t)g->off[k]));
    int64_t nr = (int64_t)g->nv * g->w;
    loop lt;
    loop_begin(g, &lt, ci(g->i64, 0), ci(g->i64, g->dp / nr), 1, 1, 0, NULL);
    emit_dense_rows(g, ak, r, n, g->nv, mul64(g, lt.iv, nr));
    loop_end(g, &lt, NULL);
    loop lq;
    loop_begin(g, &lq, ci(g->i64, 0), n, 1, 1, 0, NULL);
    emit_quant_row(g, k, LLVMBuildAdd(g->b, r, lq.iv, ""),
                   gep(g, g->f32, g->scratch, mul64(g, lq.iv, g->dp)), NULL, 64);
    loop_end(g, &lq, NULL);
    store(g, LLVMBuildAdd(g->b, r, n, ""), g->rvar, 8);
}

/* ---- the kernel ---- */

static void emit_kernel(gen *g, fa_jit_module *m, const char *symbol) {
    LLVMTypeRef params[7] = {g->ptr, g->ptr, g->ptr, g->ptr, g->ptr, g->ptr, g->i64};
    LLVMTypeRef fty = LLVMFunctionType(g->i64, params, 7, 0);
    g->fn = fa_jit_module_add_function(m, symbol, fty);
    unsigned noalias = LLVMGetEnumAttributeKindForName("noalias", 7);
    for (unsigned i = 0; i < 6; i++)
        LLVMAddAttributeAtIndex(g->fn, i + 1, LLVMCreateEnumAttribute(g->ctx, noalias, 0));
    LLVMValueRef *slots[7] = {&g->x, &g->tt, &g->a, &g->clip, &g->codes, &g->scales, &g->rows};
    for (unsigned i = 0; i < 7; i++)
        *slots[i] = LLVMGetParam(g->fn, i);
    LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, g->fn, "entry"));
    g->scratch = LLVMBuildArrayAlloca(g->b, g->f32, ci(g->i64, g->rb * g->dp), "z");
    LLVMSetAlignment(g->scratch, 64);
    g->rvar = LLVMBuildAlloca(g->b, g->i64, "r");
    g->badvar = LLVMBuildAlloca(g->b, g->i64, "bad");
    g->nvar = LLVMBuildAlloca(g->b, g->i64, "n");
    store(g, ci(g->i64, 0), g->rvar, 8);
    store(g, ci(g->i64, -1), g->badvar, 8);

    LLVMBasicBlockRef head = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "row");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "row_type");
    LLVMBasicBlockRef ld = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "row_tt");
    LLVMBasicBlockRef sw = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "row_switch");
    LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "row_bad");
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "done");
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, head);
    LLVMValueRef r = load(g, g->i64, g->rvar, 8);
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, r, g->rows, ""), body, exit);
    /* k = tt ? tt[r] : 0 */
    LLVMPositionBuilderAtEnd(g->b, body);
    LLVMBuildCondBr(g->b, LLVMBuildIsNull(g->b, g->tt, ""), sw, ld);
    LLVMPositionBuilderAtEnd(g->b, ld);
    LLVMValueRef t = LLVMBuildZExt(g->b, load(g, g->i8, gep(g, g->i8, g->tt, r), 1), g->i32, "");
    LLVMBuildBr(g->b, sw);
    LLVMPositionBuilderAtEnd(g->b, sw);
    LLVMValueRef k = LLVMBuildPhi(g->b, g->i32, "k");
    LLVMValueRef kv[2] = {ci(g->i32, 0), t};
    LLVMBasicBlockRef kb[2] = {body, ld};
    LLVMAddIncoming(k, kv, kb, 2);
    LLVMValueRef swi = LLVMBuildSwitch(g->b, k, bad, (unsigned)g->key->ntypes);
    for (int ty = 0; ty < g->key->ntypes; ty++) {
        LLVMBasicBlockRef tb = LLVMAppendBasicBlockInContext(g->ctx, g->fn, "type");
        LLVMAddCase(swi, ci(g->i32, ty), tb);
        LLVMPositionBuilderAtEnd(g->b, tb);
        LLVMValueRef xrow = gep(g, g->f32, g->x, mul64(g, r, g->d));
        switch (g->key->kinds[ty]) {
        case FA_TQUANT_IDENTITY: emit_quant_row(g, ty, r, xrow, NULL, 4); break;
        case FA_TQUANT_DIAG:
            emit_quant_row(g, ty, r, xrow, gep(g, g->f32, g->a, ci(g->i64, (int64_t)g->off[ty])),
                           4);
            break;
        case FA_TQUANT_HADAMARD: emit_hadamard_row(g, ty, r); break;
        case FA_TQUANT_DENSE: emit_dense_run(g, ty, r); break;
        }
        if (g->key->kinds[ty] != FA_TQUANT_DENSE)
            store(g, add64(g, r, 1), g->rvar, 8);
        LLVMBuildBr(g->b, head);
    }
    /* A type without a transform: record the row, skip it. */
    LLVMPositionBuilderAtEnd(g->b, bad);
    LLVMValueRef old = load(g, g->i64, g->badvar, 8);
    store(
        g,
        LLVMBuildSelect(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, old, ci(g->i64, 0), ""), r, old, ""),
        g->badvar, 8);
    store(g, add64(g, r, 1), g->rvar, 8);
    LLVMBuildBr(g->b, head);
    LLVMPositionBuilderAtEnd(g->b, exit);
    LLVMBuildRet(g->b, load(g, g->i64, g->badvar, 8));
}

typedef struct build_args {
    const fa_tquant_key *key;
    fa_tquant_path path;
} build_args;

static fa_status build(void *user, const char *symbol, uint64_t *out_addr) {
    const build_args *ba = user;
    const fa_tquant_key *key = ba->key;
    fa_jit_module *m;
    FA_TRY(fa_jit_module_create(&key->target, "tquant", &m));
    gen g;
    memset(&g, 0, sizeof g);
    g.ctx = fa_jit_module_context(m);
    g.mod = fa_jit_module_llvm(m);
    g.b = LLVMCreateBuilderInContext(g.ctx);
    g.key = key;
    g.d = key->d;
    g.dp = padded(key->d);
    g.w = path_lanes(ba->path);
    g.mr = 4;
    g.nv = path_tile_vectors(ba->path);
    g.bmax = ba->path == FA_TQUANT_AVX512 ? 16 : 8;
    g.sse41 = ba->path != FA_TQUANT_GENERIC || fa_jit_target_has(&key->target, "sse4.1");
    int64_t rb = SCRATCH_FLOATS / g.dp;
    g.rb = rb < 1 ? 1 : rb > RB_MAX ? RB_MAX : rb;
    section_offsets(key, g.off);
    g.i1 = LLVMInt1TypeInContext(g.ctx);
    g.i8 = LLVMInt8TypeInContext(g.ctx);
    g.i32 = LLVMInt32TypeInContext(g.ctx);
    g.i64 = LLVMInt64TypeInContext(g.ctx);
    g.f32 = LLVMFloatTypeInContext(g.ctx);
    g.ptr = LLVMPointerTypeInContext(g.ctx, 0);
    emit_kernel(&g, m, symbol);
    LLVMDisposeBuilder(g.b);
    return fa_jit_module_finish(m, symbol, out_addr);
}

fa_status fa_tquant_get(const fa_tquant_key *key, fa_tquant_fn *out) {
    *out = NULL;
    build_args ba = {key, FA_TQUANT_AUTO};
    FA_TRY(fa_tquant_key_check(key, &ba.path));
    char sig[sizeof key->target.features + 512];
    if (!fa_tquant_signature(key, sig, sizeof sig))
        return fa_status_make(FA_STATUS_INTERNAL, "tquant: signature does not fit");
    uint64_t addr;
    FA_TRY(fa_jit_kernel_get(sig, build, &ba, &addr));
    /* The JIT returns an address; converting it to a function pointer is what it is for. */
    *out = (fa_tquant_fn)(uintptr_t)addr;
    return FA_OK;
}
