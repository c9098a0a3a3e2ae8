/* qgemm keys, signatures and weight packing: the part of the qlinear kernels that needs no
 * LLVM (linked into AOT libraries). The tile layout is in qgemm.c's design note. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/qgemm_layout.h"


static const char *path_name(fa_qgemm_path p) {
    switch (p) {
    case FA_QGEMM_AUTO: return "auto";
    case FA_QGEMM_VNNI512: return "vnni512";
    case FA_QGEMM_AVX2: return "avx2";
    case FA_QGEMM_GENERIC: return "generic";
    }
    return "?";
}

static bool has_vnni512(const fa_jit_target *t) {
    return fa_jit_target_has(t, "avx512vnni") && fa_jit_target_has(t, "avx512bw") &&
           fa_jit_target_has(t, "avx512f");
}

fa_status fa_qgemm_key_check(const fa_qgemm_key *key, fa_qgemm_path *out_path) {
    if (key->k < 1 || key->n < 1 || key->k > ((int64_t)1 << 31) || key->n > ((int64_t)1 << 31))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "qgemm: bad dims K = %lld, N = %lld",
                              (long long)key->k, (long long)key->n);
    if (key->group < 0 || (key->group > 0 && key->k % key->group != 0))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "qgemm: group %lld does not divide K = %lld", (long long)key->group,
                              (long long)key->k);
    int64_t glen = key->group > 0 ? key->group : key->k;
    if (glen > QDOT_MAX_LEN)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "qgemm: groups of %lld elements may overflow the int32 accumulator",
                              (long long)glen);
    if (key->wdtype != FA_DT_I8 && key->wdtype != FA_DT_I4)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "qgemm: weights must be i8 or i4, not %s",
                              fa_dtype_name(key->wdtype));
    fa_qgemm_path p = key->path;
    if (p == FA_QGEMM_AUTO)
        p = has_vnni512(&key->target)                 ? FA_QGEMM_VNNI512
            : fa_jit_target_has(&key->target, "avx2") ? FA_QGEMM_AVX2
                                                      : FA_QGEMM_GENERIC;
    if ((p == FA_QGEMM_VNNI512 && !has_vnni512(&key->target)) ||
        (p == FA_QGEMM_AVX2 && !fa_jit_target_has(&key->target, "avx2")))
        return fa_status_make(FA_STATUS_UNSUPPORTED, "qgemm: path %s needs features cpu %s lacks",
                              path_name(p), key->target.cpu);
    *out_path = p;
    return FA_OK;
}

bool fa_qgemm_signature(const fa_qgemm_key *key, char *buf, size_t size) {
    fa_qgemm_path p;
    fa_status s = fa_qgemm_key_check(key, &p);
    if (s) {
        fa_status_free(s);
        p = key->path;
    }
    int len = snprintf(buf, size,
                       "qlinear k=%lld n=%lld group=%lld w=%s bias=%d path=%s cpu=%s "
                       "features=%s",
                       (long long)key->k, (long long)key->n, (long long)key->group,
                       fa_dtype_name(key->wdtype), key->bias ? 1 : 0, path_name(p), key->target.cpu,
                       key->target.features);
    return len >= 0 && (size_t)len < size;
}

static int weight_at(const fa_qgemm_key *key, const void *wq, int64_t n, int64_t k) {
    uint64_t i = (uint64_t)n * (uint64_t)key->k + (uint64_t)k;
    if (key->wdtype == FA_DT_I8)
        return ((const int8_t *)wq)[i];
    int v = (((const uint8_t *)wq)[i / 2] >> ((i & 1) * 4)) & 0xf;
    return v >= 8 ? v - 16 : v;
}

void fa_qgemm_packed_free(fa_qgemm_packed *p) {
    free(p->w);
    free(p->wscale);
    free(p->colsum);
    memset(p, 0, sizeof *p);
}

static void *alloc64(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p)
        memset(p, 0, rounded ? rounded : 64);
    return p;
}

fa_status fa_qgemm_pack(const fa_qgemm_key *key, const void *wq, const float *wscale,
                        fa_qgemm_packed *out) {
    memset(out, 0, sizeof *out);
    fa_qgemm_path path;
    FA_TRY(fa_qgemm_key_check(key, &path));
    fa_qgemm_shape s = fa_qgemm_shape_of(key);
    uint64_t group_bytes = (uint64_t)s.blocks * NV * 64;
    uint64_t vec_elems = (uint64_t)s.tiles * (uint64_t)s.ngroups * NR;
    uint64_t w_bytes = (uint64_t)s.tiles * (uint64_t)s.ngroups * group_bytes;
    if (w_bytes > ((uint64_t)1 << 40) || vec_elems > ((uint64_t)1 << 36))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "qgemm: weights too large to pack");
    out->w = alloc64((size_t)w_bytes);
    out->wscale = alloc64((size_t)vec_elems * sizeof(float));
    out->colsum = alloc64((size_t)vec_elems * sizeof(int32_t));
    out->w_bytes = (size_t)w_bytes;
    if (!out->w || !out->wscale || !out->colsum) {
        fa_qgemm_packed_free(out);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "qgemm: out of memory packing weights");
    }
    uint8_t *w = out->w;
    for (int64_t t = 0; t < s.tiles; t++)
        for (int64_t g = 0; g < s.ngroups; g++) {
            uint8_t *gb = w + ((uint64_t)t * (uint64_t)s.ngroups + (uint64_t)g) * group_bytes;
            uint64_t vbase = ((uint64_t)t * (uint64_t)s.ngroups + (uint64_t)g) * NR;
            for (int64_t c = 0; c < NR; c++) {
                int64_t n = t * NR + c;
                if (n >= s.n)
                    break;
                int32_t sum = 0;
                for (int64_t j = 0; j < s.glen; j++) {
                    int v = weight_at(key, wq, n, g * s.glen + j);
                    sum += v;
                    int64_t step = j / 4, lane = c % LANES, vec = c / LANES;
                    int64_t block = s.i4 ? step / 2 : step;
                    uint8_t *byte = gb + ((uint64_t)block * NV + (uint64_t)vec) * 64 +
                                    (uint64_t)(lane * 4 + j % 4);
                    if (!s.i4)
                        *byte = (uint8_t)(int8_t)v;
                    else if (step % 2 == 0)
                        *byte = (uint8_t)((*byte & 0xf0) | (v & 0xf));
                    else
                        *byte = (uint8_t)((*byte & 0x0f) | ((v & 0xf) << 4));
                }
                out->colsum[vbase + (uint64_t)c] = sum;
                out->wscale[vbase + (uint64_t)c] =
                    wscale[(uint64_t)n * (uint64_t)s.ngroups + (uint64_t)g];
            }
        }
    return FA_OK;
}

fa_qgemm_shape fa_qgemm_shape_of(const fa_qgemm_key *key) {
    fa_qgemm_shape s;
    s.k = key->k;
    s.n = key->n;
    s.glen = key->group > 0 ? key->group : key->k;
    s.ngroups = key->k / s.glen;
    s.tiles = (key->n + NR - 1) / NR;
    s.full_steps = s.glen / 4;
    s.rem = s.glen % 4;
    s.i4 = key->wdtype == FA_DT_I4;
    int64_t steps = s.full_steps + (s.rem ? 1 : 0);
    s.blocks = s.i4 ? (steps + 1) / 2 : steps;
    return s;
}

