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

void fa_tquant_packed_free(fa_tquant_packed *p) {
    free(p->data);
    memset(p, 0, sizeof *p);
}

fa_status fa_tquant_pack(const fa_tquant_key *key, const float *a, fa_tquant_packed *out) {
    memset(out, 0, sizeof *out);
    fa_tquant_path path;
    FA_TRY(fa_tquant_key_check(key, &path));
    int64_t d = key->d, nr = fa_tquant_path_lanes(path) * fa_tquant_path_tile_vectors(path);
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
    uint64_t total = fa_tquant_section_offsets(key, off);
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

/* d rounded up to 64 (a multiple of every path's dense tile width): the padded column count of
 * packed dense matrices and the row stride of the stack z rows. */
int64_t fa_tquant_padded(int64_t d) { return (d + 63) / 64 * 64; }

/* Lanes and dense tile vectors of |path|. */
int fa_tquant_path_lanes(fa_tquant_path path) {
    return path == FA_TQUANT_AVX512 ? 16 : path == FA_TQUANT_AVX2 ? 8 : 4;
}
int fa_tquant_path_tile_vectors(fa_tquant_path path) { return path == FA_TQUANT_AVX512 ? 4 : 2; }

/* Floats of type |kind|'s packed section. */
static uint64_t section_floats(fa_tquant_kind kind, int64_t d) {
    switch (kind) {
    case FA_TQUANT_IDENTITY: return 0;
    case FA_TQUANT_DIAG:
    case FA_TQUANT_HADAMARD: return (uint64_t)fa_tquant_padded(d);
    case FA_TQUANT_DENSE: return (uint64_t)d * (uint64_t)fa_tquant_padded(d);
    }
    return 0;
}

/* Section offsets (floats, multiples of 16) of |key|'s types; returns the total. */
uint64_t fa_tquant_section_offsets(const fa_tquant_key *key, uint64_t *off) {
    uint64_t total = 0;
    for (int k = 0; k < key->ntypes; k++) {
        off[k] = total;
        total += section_floats(key->kinds[k], key->d);
    }
    return total;
}

