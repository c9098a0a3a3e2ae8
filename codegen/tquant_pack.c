/* tquant structure detection, keys, signatures and packing: the part of the fused
 * transform + quantize kernels that needs no LLVM (linked into AOT libraries). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/tquant_layout.h"

const char *fa_tquant_kind_name(fa_tquant_kind kind) {
    switch (kind) {
    case FA_TQUANT_IDENTITY: return "identity";
    case FA_TQUANT_DIAG: return "diag";
    case FA_TQUANT_HADAMARD: return "hadamard";
    case FA_TQUANT_DENSE: return "dense";
    case FA_TQUANT_KRON: return "kron";
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

/* ---- Kronecker products ---- */

/* A candidate kron(A1 [p, p], A2 [q, q]) of a [d, d], read off a around the pivot (the entry
 * of largest magnitude, at block (pi1, pj1), in-block position (pi2, pj2)). Entry helpers give
 * the f32 factors the kernel uses. */
typedef struct kron_fit {
    const float *a;
    int64_t d, p, q, pi1, pi2, pj1, pj2;
    double pivot; /* a at the pivot */
    bool hadamard;
    double inv;   /* Hadamard A1: (float)(1 / sqrt(p)), the kernel's factor */
    double a2mul; /* Hadamard A1: A2 = block * a2mul */
} kron_fit;

static float at(const kron_fit *f, int64_t i, int64_t j) {
    return f->a[(uint64_t)i * (uint64_t)f->d + (uint64_t)j];
}

/* A1[i1][j1] as packed: the Hadamard entry's sign (row sign times Sylvester sign; magnitude
 * f->inv) or a at the pivot's position in block (i1, j1) over the pivot. */
static float kron_a1(const kron_fit *f, int64_t i1, int64_t j1) {
    float v = at(f, i1 * f->q + f->pi2, j1 * f->q + f->pj2);
    if (f->hadamard)
        return (float)(v < 0.0f ? -f->inv : f->inv);
    return (float)((double)v / f->pivot);
}

/* A2[i2][j2] as packed: the pivot's block (times sqrt(p) and the pivot's sign for a Hadamard
 * A1, whose entries then have magnitude 1 / sqrt(p)). */
static float kron_a2(const kron_fit *f, int64_t i2, int64_t j2) {
    float v = at(f, f->pi1 * f->q + i2, f->pj1 * f->q + j2);
    return f->hadamard ? (float)((double)v * f->a2mul) : v;
}

/* Sets f up for A1 of order |p| around the pivot |piv| (a flat index of a); checks that A1 is a
 * signed Sylvester Hadamard when p is a power of two (f->hadamard). */
static void kron_setup(kron_fit *f, int64_t d, const float *a, int64_t p, uint64_t piv) {
    memset(f, 0, sizeof *f);
    f->a = a;
    f->d = d;
    f->p = p;
    f->q = d / p;
    int64_t pi = (int64_t)(piv / (uint64_t)d), pj = (int64_t)(piv % (uint64_t)d);
    f->pi1 = pi / f->q, f->pi2 = pi % f->q, f->pj1 = pj / f->q, f->pj2 = pj % f->q;
    f->pivot = (double)a[piv];
    if (!is_pow2(p))
        return;
    double mag = fabs(f->pivot);
    for (int64_t i1 = 0; i1 < p; i1++) {
        bool row_neg = at(f, i1 * f->q + f->pi2, f->pj2) < 0.0f;
        for (int64_t j1 = 0; j1 < p; j1++) {
            float v = at(f, i1 * f->q + f->pi2, j1 * f->q + f->pj2);
            bool neg = row_neg != ((__builtin_popcountll((uint64_t)(i1 & j1)) & 1) != 0);
            if (!(fabs(fabs((double)v) - mag) <= 1e-6 * mag) || (v < 0.0f) != neg)
                return;
        }
    }
    f->hadamard = true;
    f->inv = (double)(float)(1.0 / sqrt((double)p));
    f->a2mul = sqrt((double)p) * (f->pivot < 0.0 ? -1.0 : 1.0);
}

/* Whether every entry of a is within 1e-6 relative of its factors' product (exactly 0 when the
 * product is); stops at the first that is not. */
static bool kron_holds(const kron_fit *f) {
    for (int64_t i1 = 0; i1 < f->p; i1++)
        for (int64_t i2 = 0; i2 < f->q; i2++)
            for (int64_t j1 = 0; j1 < f->p; j1++) {
                double a1 = (double)kron_a1(f, i1, j1);
                const float *row =
                    f->a + (uint64_t)(i1 * f->q + i2) * (uint64_t)f->d + (uint64_t)(j1 * f->q);
                for (int64_t j2 = 0; j2 < f->q; j2++) {
                    double want = a1 * (double)kron_a2(f, i2, j2);
                    if (!(fabs((double)row[j2] - want) <= 1e-6 * fabs(want)))
                        return false;
                }
            }
    return true;
}

/* Multiply-adds per row of a KRON type (A2's padded columns included). */
static uint64_t kron_cost(int64_t d, int64_t p, bool hadamard) {
    int64_t q = d / p, qp = fa_tquant_kron_qp(FA_TQUANT_AVX512, q), log2p = 0;
    while ((1ll << log2p) < p)
        log2p++;
    return (uint64_t)p * (uint64_t)qp * (uint64_t)(q + (hadamard ? log2p : p));
}

/* Whether A1 of order |p| (hadamard or not) is one the kernel can run: the largest scratch of
 * any path (AVX-512's lanes pad the most) fits. */
static bool kron_fits(int64_t d, int64_t p, bool hadamard) {
    return p >= 2 && d % p == 0 && d / p >= 2 && (!hadamard || is_pow2(p)) &&
           fa_tquant_kron_scratch(FA_TQUANT_AVX512, d, p, hadamard) <= FA_TQUANT_SCRATCH_FLOATS;
}

/* The flat index of a's entry of largest magnitude; false when a is all zeros (or NaN). */
static bool kron_pivot(int64_t d, const float *a, uint64_t *out) {
    uint64_t n = (uint64_t)d * (uint64_t)d, best = 0;
    float m = 0.0f;
    for (uint64_t i = 0; i < n; i++)
        if (fabsf(a[i]) > m)
            m = fabsf(a[i]), best = i;
    *out = best;
    return m > 0.0f && isfinite(m);
}

bool fa_tquant_detect_kron(int64_t d, const float *a, int64_t *out_p, bool *out_hadamard) {
    uint64_t piv;
    if (d < 4 || !kron_pivot(d, a, &piv))
        return false;
    bool found = false;
    uint64_t best = 0;
    for (int64_t p = 2; p <= d / 2; p++) {
        if (d % p)
            continue;
        kron_fit f;
        kron_setup(&f, d, a, p, piv);
        if (!kron_fits(d, p, f.hadamard) || (found && kron_cost(d, p, f.hadamard) >= best) ||
            !kron_holds(&f))
            continue;
        found = true;
        best = kron_cost(d, p, f.hadamard);
        *out_p = p;
        *out_hadamard = f.hadamard;
    }
    return found;
}

/* ---- detection, keys ---- */

/* The kind of |a| and, for KRON, its factorization. */
static fa_tquant_kind detect(int64_t d, const float *a, int64_t *out_p, bool *out_hadamard) {
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
    if (is_hadamard(d, a))
        return FA_TQUANT_HADAMARD;
    return fa_tquant_detect_kron(d, a, out_p, out_hadamard) ? FA_TQUANT_KRON : FA_TQUANT_DENSE;
}

fa_tquant_kind fa_tquant_detect(int64_t d, const float *a) {
    int64_t p;
    bool h;
    return detect(d, a, &p, &h);
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
        if (kind < FA_TQUANT_IDENTITY || kind > FA_TQUANT_KRON)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "tquant: type %d has no kind", k);
        if (kind == FA_TQUANT_HADAMARD && (key->d < 2 || !is_pow2(key->d)))
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "tquant: type %d is hadamard but d = %lld is not a power of two",
                                  k, (long long)key->d);
        if (kind == FA_TQUANT_KRON && !kron_fits(key->d, key->kron_p[k], key->kron_hadamard[k]))
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "tquant: type %d is kron with p = %lld%s, which d = %lld does "
                                  "not allow",
                                  k, (long long)key->kron_p[k],
                                  key->kron_hadamard[k] ? " (hadamard)" : "", (long long)key->d);
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
    for (int k = 0; k < ntypes; k++) {
        int64_t order = 0;
        bool h = false;
        key->kinds[k] = detect(d, a + (uint64_t)k * (uint64_t)d * (uint64_t)d, &order, &h);
        if (key->kinds[k] == FA_TQUANT_KRON)
            key->kron_p[k] = order, key->kron_hadamard[k] = h;
    }
    return FA_OK;
}

bool fa_tquant_signature(const fa_tquant_key *key, char *buf, size_t size) {
    fa_tquant_path p;
    fa_status s = fa_tquant_key_check(key, &p);
    if (s) {
        fa_status_free(s);
        p = key->path;
    }
    char kinds[FA_TQUANT_TYPES_MAX * 32] = "";
    for (int k = 0; k < key->ntypes && k < FA_TQUANT_TYPES_MAX; k++) {
        size_t used = strlen(kinds);
        if (key->kinds[k] == FA_TQUANT_KRON)
            snprintf(kinds + used, sizeof kinds - used, "%skron%lld%s", k ? "," : "",
                     (long long)key->kron_p[k], key->kron_hadamard[k] ? "h" : "");
        else
            snprintf(kinds + used, sizeof kinds - used, "%s%s", k ? "," : "",
                     fa_tquant_kind_name(key->kinds[k]));
    }
    int len = snprintf(buf, size, "tquant d=%lld K=%d bits=%d kinds=%s path=%s cpu=%s features=%s",
                       (long long)key->d, key->ntypes, key->bits, kinds, path_name(p),
                       key->target.cpu, key->target.features);
    return len >= 0 && (size_t)len < size;
}

void fa_tquant_packed_free(fa_tquant_packed *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

/* A KRON section (tquant.h): A1's signs or A1 transposed, then A2 [q][qp]. */
static void pack_kron(const kron_fit *f, fa_tquant_path path, float *out) {
    int64_t p = f->p, q = f->q, qp = fa_tquant_kron_qp(path, q);
    for (int64_t i1 = 0; i1 < p; i1++)
        if (f->hadamard)
            out[i1] = kron_a1(f, i1, 0) < 0.0f ? -0.0f : 0.0f;
        else
            for (int64_t j1 = 0; j1 < p; j1++)
                out[(uint64_t)j1 * (uint64_t)p + (uint64_t)i1] = kron_a1(f, i1, j1);
    float *a2 = out + fa_tquant_kron_a1_floats(p, f->hadamard);
    for (int64_t i2 = 0; i2 < q; i2++)
        for (int64_t j2 = 0; j2 < q; j2++)
            a2[(uint64_t)i2 * (uint64_t)qp + (uint64_t)j2] = kron_a2(f, i2, j2);
}

fa_status fa_tquant_pack(const fa_tquant_key *key, const float *a, fa_tquant_packed *out) {
    memset(out, 0, sizeof *out);
    fa_tquant_path path;
    FA_TRY(fa_tquant_key_check(key, &path));
    int64_t d = key->d, nr = fa_tquant_path_lanes(path) * fa_tquant_path_tile_vectors(path);
    kron_fit fits[FA_TQUANT_TYPES_MAX];
    for (int k = 0; k < key->ntypes; k++) {
        fa_tquant_kind kind = key->kinds[k];
        const float *ak = a + (uint64_t)k * (uint64_t)d * (uint64_t)d;
        if (kind == FA_TQUANT_KRON) {
            uint64_t piv;
            bool ok = kron_pivot(d, ak, &piv);
            if (ok) {
                kron_setup(&fits[k], d, ak, key->kron_p[k], piv);
                fits[k].hadamard = fits[k].hadamard && key->kron_hadamard[k];
                ok = fits[k].hadamard == key->kron_hadamard[k] && kron_holds(&fits[k]);
            }
            if (!ok)
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                      "tquant: type %d is declared kron with p = %lld%s but its "
                                      "matrix is not",
                                      k, (long long)key->kron_p[k],
                                      key->kron_hadamard[k] ? " (hadamard)" : "");
            continue;
        }
        if (kind == FA_TQUANT_DENSE) /* right for every matrix */
            continue;
        fa_tquant_kind found = fa_tquant_detect(d, ak);
        if (kind != found && !(kind == FA_TQUANT_DIAG && found == FA_TQUANT_IDENTITY))
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "tquant: type %d is declared %s but its matrix is %s", k,
                                  fa_tquant_kind_name(kind), fa_tquant_kind_name(found));
    }
    uint64_t off[FA_TQUANT_TYPES_MAX];
    uint64_t total = fa_tquant_section_offsets(key, path, off);
    size_t bytes = (size_t)(total ? total : 16) * sizeof(float);
    out->data = aligned_alloc(64, bytes);
    if (!out->data)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "tquant: out of memory packing matrices");
    memset(out->data, 0, bytes);
    out->floats = (size_t)total;
    for (int k = 0; k < key->ntypes; k++) {
        const float *ak = a + (uint64_t)k * (uint64_t)d * (uint64_t)d;
        float *p = out->data + off[k];
        if (key->kinds[k] == FA_TQUANT_KRON) {
            pack_kron(&fits[k], path, p);
            continue;
        }
        for (int64_t i = 0; i < d; i++) {
            const float *row = ak + (uint64_t)i * (uint64_t)d;
            switch (key->kinds[k]) {
            case FA_TQUANT_IDENTITY:
            case FA_TQUANT_KRON: break;
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

/* d rounded up to 64 (a multiple of every path's dense tile width): the padded column count of
 * packed dense matrices and the row stride of the stack z rows. */
int64_t fa_tquant_padded(int64_t d) { return (d + 63) / 64 * 64; }

/* Lanes and dense tile vectors of |path|. */
int fa_tquant_path_lanes(fa_tquant_path path) {
    return path == FA_TQUANT_AVX512 ? 16 : path == FA_TQUANT_AVX2 ? 8 : 4;
}
int fa_tquant_path_tile_vectors(fa_tquant_path path) { return path == FA_TQUANT_AVX512 ? 4 : 2; }

static uint64_t round16(uint64_t n) { return (n + 15) / 16 * 16; }

int fa_tquant_kron_lanes(fa_tquant_path path, int64_t q) {
    int w = fa_tquant_path_lanes(path), l = 1;
    if (q >= w)
        return w;
    while (l < q)
        l *= 2;
    return l;
}

int64_t fa_tquant_kron_qp(fa_tquant_path path, int64_t q) {
    int64_t l = fa_tquant_kron_lanes(path, q);
    return (q + l - 1) / l * l;
}

uint64_t fa_tquant_kron_a1_floats(int64_t p, bool hadamard) {
    return round16(hadamard ? (uint64_t)p : (uint64_t)p * (uint64_t)p);
}

uint64_t fa_tquant_kron_section_floats(fa_tquant_path path, int64_t d, int64_t p, bool hadamard) {
    int64_t q = d / p;
    return fa_tquant_kron_a1_floats(p, hadamard) +
           round16((uint64_t)q * (uint64_t)fa_tquant_kron_qp(path, q));
}

uint64_t fa_tquant_kron_scratch(fa_tquant_path path, int64_t d, int64_t p, bool hadamard) {
    int64_t q = d / p, qp = fa_tquant_kron_qp(path, q);
    uint64_t y = (uint64_t)p * (uint64_t)qp;
    return hadamard ? y : round16(y) + (uint64_t)(d + qp);
}

/* Floats of type |k|'s packed section. */
static uint64_t section_floats(const fa_tquant_key *key, fa_tquant_path path, int k) {
    int64_t d = key->d;
    switch (key->kinds[k]) {
    case FA_TQUANT_IDENTITY: return 0;
    case FA_TQUANT_DIAG:
    case FA_TQUANT_HADAMARD: return (uint64_t)fa_tquant_padded(d);
    case FA_TQUANT_DENSE: return (uint64_t)d * (uint64_t)fa_tquant_padded(d);
    case FA_TQUANT_KRON:
        return fa_tquant_kron_section_floats(path, d, key->kron_p[k], key->kron_hadamard[k]);
    }
    return 0;
}

/* Section offsets (floats, multiples of 16) of |key|'s types; returns the total. */
uint64_t fa_tquant_section_offsets(const fa_tquant_key *key, fa_tquant_path path, uint64_t *off) {
    uint64_t total = 0;
    for (int k = 0; k < key->ntypes; k++) {
        off[k] = total;
        total += section_floats(key, path, k);
    }
    return total;
}
