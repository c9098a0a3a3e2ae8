/* Runtime tensors: the default allocator, overflow-checked sizes, allocation, and the scalar
 * load/store and f16/bf16 conversions the reference kernels build on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tensor.h"

static void *default_alloc(void *user, size_t size, size_t align) {
    (void)user;
    if (align < sizeof(void *))
        align = sizeof(void *);
    size_t rounded = (size + align - 1) / align * align;
    if (rounded < size)
        return NULL;
    return aligned_alloc(align, rounded ? rounded : align);
}

static void default_free(void *user, void *p) {
    (void)user;
    free(p);
}

static const fa_rt_allocator default_allocator = {default_alloc, default_free, NULL};

const fa_rt_allocator *fa_rt_allocator_default(void) { return &default_allocator; }

fa_status fa_rt_shape_num_elements(int rank, const int64_t *dims, uint64_t *out_n) {
    if (rank < 0 || rank > FA_MAX_RANK)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "rank %d out of range 0..%d", rank,
                              FA_MAX_RANK);
    uint64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "negative dimension %lld",
                                  (long long)dims[i]);
        uint64_t d = (uint64_t)dims[i];
        if (d != 0 && n > UINT64_MAX / d)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "shape element count overflows");
        n *= d;
    }
    *out_n = n;
    return FA_OK;
}

fa_status fa_rt_dtype_num_bytes(fa_dtype dt, uint64_t n, uint64_t *out_bytes) {
    unsigned bits = fa_dtype_bits(dt);
    if (bits == 0)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "invalid dtype");
    if (n > (UINT64_MAX - 7) / bits || (n * bits + 7) / 8 > FA_RT_MAX_TENSOR_BYTES)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "tensor of %llu %s elements is too large",
                              (unsigned long long)n, fa_dtype_name(dt));
    *out_bytes = (n * bits + 7) / 8;
    return FA_OK;
}

uint64_t fa_rt_tensor_num_elements(const fa_rt_tensor *t) {
    uint64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (uint64_t)t->dims[i];
    return n;
}

bool fa_rt_tensor_same_shape(const fa_rt_tensor *a, const fa_rt_tensor *b) {
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

fa_status fa_rt_tensor_alloc_uninit(fa_rt_tensor *t, fa_dtype dt, int rank, const int64_t *dims,
                                    const fa_rt_allocator *al) {
    memset(t, 0, sizeof *t);
    uint64_t n, bytes;
    FA_TRY(fa_rt_shape_num_elements(rank, dims, &n));
    FA_TRY(fa_rt_dtype_num_bytes(dt, n, &bytes));
    void *p = al->alloc(al->user, (size_t)(bytes ? bytes : 1), 64);
    if (!p)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory allocating %llu bytes",
                              (unsigned long long)bytes);
    *t = fa_rt_tensor_view(dt, rank, dims, p, bytes);
    return FA_OK;
}

fa_status fa_rt_tensor_alloc(fa_rt_tensor *t, fa_dtype dt, int rank, const int64_t *dims,
                             const fa_rt_allocator *al) {
    FA_TRY(fa_rt_tensor_alloc_uninit(t, dt, rank, dims, al));
    memset(t->data, 0, (size_t)(t->nbytes ? t->nbytes : 1));
    return FA_OK;
}

fa_status fa_rt_tensor_clone(fa_rt_tensor *dst, const fa_rt_tensor *src,
                             const fa_rt_allocator *al) {
    FA_TRY(fa_rt_tensor_alloc(dst, src->dtype, src->rank, src->dims, al));
    if (src->nbytes)
        memcpy(dst->data, src->data, (size_t)src->nbytes);
    return FA_OK;
}

void fa_rt_tensor_free(fa_rt_tensor *t, const fa_rt_allocator *al) {
    if (t->data)
        al->free(al->user, t->data);
    memset(t, 0, sizeof *t);
}

fa_rt_tensor fa_rt_tensor_view(fa_dtype dt, int rank, const int64_t *dims, const void *data,
                               uint64_t nbytes) {
    fa_rt_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.rank = rank;
    for (int i = 0; i < rank && i < FA_MAX_RANK; i++)
        t.dims[i] = dims[i];
    t.data = (void *)(uintptr_t)data;
    t.nbytes = nbytes;
    return t;
}

const char *fa_rt_tensor_describe(const fa_rt_tensor *t, char *buf, size_t size) {
    size_t k = (size_t)snprintf(buf, size, "%s[", fa_dtype_name(t->dtype));
    for (int i = 0; i < t->rank && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    if (k < size)
        snprintf(buf + k, size - k, "]");
    return buf;
}

/* ---- f16 / bf16 ---- */

float fa_rt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    int exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    float v;
    if (exp == 0)
        v = ldexpf((float)man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 0x400), exp - 25);
    return sign ? -v : v;
}

uint16_t fa_rt_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or NaN */
        return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) /* rounds to >= 65520: overflow */
        return (uint16_t)(sign | 0x7c00);
    if (ax < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        float a;
        memcpy(&a, &ax, 4);
        /* units of 2^-24, rounded to nearest even by the FPU's default mode */
        float q = nearbyintf(a * 16777216.0f);
        return (uint16_t)(sign | (uint16_t)q);
    }
    uint32_t e = (ax >> 23) - 112; /* rebias 127 -> 15 */
    uint32_t man = ax & 0x7fffff;
    uint32_t h = (e << 10) | (man >> 13);
    uint32_t rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++; /* may carry into the exponent, which is right */
    return (uint16_t)(sign | h);
}

float fa_rt_bf16_to_f32(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t fa_rt_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fffu + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* ---- loads and stores ---- */

double fa_rt_load_f64(fa_dtype dt, const void *data, uint64_t i) {
    switch (dt) {
    case FA_DT_F32: return ((const float *)data)[i];
    case FA_DT_F64: return ((const double *)data)[i];
    case FA_DT_F16: return fa_rt_f16_to_f32(((const uint16_t *)data)[i]);
    case FA_DT_BF16: return fa_rt_bf16_to_f32(((const uint16_t *)data)[i]);
    case FA_DT_U64: return (double)((const uint64_t *)data)[i];
    default: return (double)fa_rt_load_i64(dt, data, i);
    }
}

static int64_t double_to_i64(double v) {
    if (isnan(v))
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

int64_t fa_rt_load_i64(fa_dtype dt, const void *data, uint64_t i) {
    switch (dt) {
    case FA_DT_I64: return ((const int64_t *)data)[i];
    case FA_DT_I32: return ((const int32_t *)data)[i];
    case FA_DT_I16: return ((const int16_t *)data)[i];
    case FA_DT_I8: return ((const int8_t *)data)[i];
    case FA_DT_U64: return (int64_t)((const uint64_t *)data)[i];
    case FA_DT_U32: return ((const uint32_t *)data)[i];
    case FA_DT_U16: return ((const uint16_t *)data)[i];
    case FA_DT_U8: return ((const uint8_t *)data)[i];
    case FA_DT_BOOL: return ((const uint8_t *)data)[i] != 0;
    case FA_DT_I4: {
        int v = (((const uint8_t *)data)[i / 2] >> ((i & 1) * 4)) & 0xf;
        return v >= 8 ? v - 16 : v;
    }
    case FA_DT_U4: return (((const uint8_t *)data)[i / 2] >> ((i & 1) * 4)) & 0xf;
    default: return double_to_i64(fa_rt_load_f64(dt, data, i));
    }
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

void fa_rt_store_f64(fa_dtype dt, void *data, uint64_t i, double v) {
    switch (dt) {
    case FA_DT_F32: ((float *)data)[i] = (float)v; return;
    case FA_DT_F64: ((double *)data)[i] = v; return;
    case FA_DT_F16: ((uint16_t *)data)[i] = fa_rt_f32_to_f16((float)v); return;
    case FA_DT_BF16: ((uint16_t *)data)[i] = fa_rt_f32_to_bf16((float)v); return;
    case FA_DT_BOOL: ((uint8_t *)data)[i] = v != 0; return;
    case FA_DT_U64:
        ((uint64_t *)data)[i] = isnan(v) || v <= 0            ? 0
                                : v >= 18446744073709551615.0 ? UINT64_MAX
                                                              : (uint64_t)v;
        return;
    default: break;
    }
    if (isnan(v))
        v = 0;
    switch (dt) {
    case FA_DT_I32: v = clampd(v, INT32_MIN, INT32_MAX); break;
    case FA_DT_I16: v = clampd(v, INT16_MIN, INT16_MAX); break;
    case FA_DT_I8: v = clampd(v, INT8_MIN, INT8_MAX); break;
    case FA_DT_U32: v = clampd(v, 0, UINT32_MAX); break;
    case FA_DT_U16: v = clampd(v, 0, UINT16_MAX); break;
    case FA_DT_U8: v = clampd(v, 0, UINT8_MAX); break;
    case FA_DT_I4: v = clampd(v, -8, 7); break;
    case FA_DT_U4: v = clampd(v, 0, 15); break;
    default: break;
    }
    fa_rt_store_i64(dt, data, i, double_to_i64(v));
}

void fa_rt_store_i64(fa_dtype dt, void *data, uint64_t i, int64_t v) {
    switch (dt) {
    case FA_DT_I64: ((int64_t *)data)[i] = v; return;
    case FA_DT_I32: ((int32_t *)data)[i] = (int32_t)(uint32_t)v; return;
    case FA_DT_I16: ((int16_t *)data)[i] = (int16_t)(uint16_t)v; return;
    case FA_DT_I8: ((int8_t *)data)[i] = (int8_t)(uint8_t)v; return;
    case FA_DT_U64: ((uint64_t *)data)[i] = (uint64_t)v; return;
    case FA_DT_U32: ((uint32_t *)data)[i] = (uint32_t)v; return;
    case FA_DT_U16: ((uint16_t *)data)[i] = (uint16_t)v; return;
    case FA_DT_U8: ((uint8_t *)data)[i] = (uint8_t)v; return;
    case FA_DT_BOOL: ((uint8_t *)data)[i] = v != 0; return;
    case FA_DT_I4:
    case FA_DT_U4: {
        uint8_t *b = (uint8_t *)data + i / 2;
        unsigned sh = (unsigned)(i & 1) * 4;
        *b = (uint8_t)((*b & ~(0xfu << sh)) | (((unsigned)v & 0xfu) << sh));
        return;
    }
    case FA_DT_F32: ((float *)data)[i] = (float)v; return;
    case FA_DT_F64: ((double *)data)[i] = (double)v; return;
    case FA_DT_F16: ((uint16_t *)data)[i] = fa_rt_f32_to_f16((float)v); return;
    case FA_DT_BF16: ((uint16_t *)data)[i] = fa_rt_f32_to_bf16((float)v); return;
    default: return;
    }
}
