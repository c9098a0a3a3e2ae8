/* Runtime tensors and the caller-supplied allocator: the data model every runtime kernel, the
 * interpreter and .npy I/O share. Depends only on the dtype enum of ir/ir.h, so the AOT part of
 * the runtime can link without the IR. */
#ifndef FA_RUNTIME_TENSOR_H
#define FA_RUNTIME_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* All runtime memory comes from one of these, so tests can inject failures. |alloc| returns
 * NULL on failure; |free| accepts NULL. */
typedef struct fa_rt_allocator {
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *p);
    void *user;
} fa_rt_allocator;

/* The process-wide default (aligned_alloc/free); never NULL, lent. */
const fa_rt_allocator *fa_rt_allocator_default(void);

/* A dense, C-ordered tensor. |data| holds |nbytes| bytes (i4/u4 packed two per byte). A rank-0
 * tensor is a scalar with one element. Who owns |data| is the holder's business: tensors from
 * fa_rt_tensor_alloc and from every kernel are owned by the caller and released with
 * fa_rt_tensor_free with the same allocator. */
typedef struct fa_rt_tensor {
    fa_dtype dtype;
    int rank;
    int64_t dims[FA_MAX_RANK];
    void *data;
    uint64_t nbytes;
} fa_rt_tensor;

/* Bytes above which a single tensor is refused (guards against absurd shapes in model data). */
#define FA_RT_MAX_TENSOR_BYTES ((uint64_t)1 << 40)

/* Product of |rank| dims |dims|; FA_STATUS_INVALID_ARGUMENT if a dim is negative, the rank is out
 * of range or the product overflows. */
fa_status fa_rt_shape_num_elements(int rank, const int64_t *dims, uint64_t *out_n);
/* Bytes of |n| elements of |dt| (i4 rounds up), overflow-checked and bounded by
 * FA_RT_MAX_TENSOR_BYTES. */
fa_status fa_rt_dtype_num_bytes(fa_dtype dt, uint64_t n, uint64_t *out_bytes);
/* Element count of a well-formed tensor (its shape was checked when it was made). */
uint64_t fa_rt_tensor_num_elements(const fa_rt_tensor *t);
/* Whether |a| and |b| have the same rank and dims (dtypes aside). */
bool fa_rt_tensor_same_shape(const fa_rt_tensor *a, const fa_rt_tensor *b);

/* Allocates a zeroed tensor of |dt| and shape (|rank|, |dims|) from |al| into |*t|. On error
 * |*t| is zeroed and nothing is held. */
fa_status fa_rt_tensor_alloc(fa_rt_tensor *t, fa_dtype dt, int rank, const int64_t *dims,
                             const fa_rt_allocator *al);
/* Like fa_rt_tensor_alloc without zeroing: for kernels that write every element. */
fa_status fa_rt_tensor_alloc_uninit(fa_rt_tensor *t, fa_dtype dt, int rank, const int64_t *dims,
                                    const fa_rt_allocator *al);
/* Allocates |*dst| as a copy of |src|. */
fa_status fa_rt_tensor_clone(fa_rt_tensor *dst, const fa_rt_tensor *src, const fa_rt_allocator *al);
/* Frees the data of |*t| with |al| and zeroes |*t|; safe on a zeroed tensor. */
void fa_rt_tensor_free(fa_rt_tensor *t, const fa_rt_allocator *al);
/* A tensor describing caller memory (not owned). */
fa_rt_tensor fa_rt_tensor_view(fa_dtype dt, int rank, const int64_t *dims, const void *data,
                               uint64_t nbytes);
/* Writes "f32[2,3]" into |buf|. */
const char *fa_rt_tensor_describe(const fa_rt_tensor *t, char *buf, size_t size);

/* Scalar conversions used by kernels and tools. */
float fa_rt_f16_to_f32(uint16_t h);
uint16_t fa_rt_f32_to_f16(float f); /* round to nearest even, overflow to inf, NaN kept */
float fa_rt_bf16_to_f32(uint16_t h);
uint16_t fa_rt_f32_to_bf16(float f); /* round to nearest even, NaN kept */

/* Element |i| of |data| (dtype |dt|) as a double / as an int64 (floats truncate toward zero,
 * saturating; NaN gives 0); bool is 0 or 1. i4/u4 unpack the nibble. */
double fa_rt_load_f64(fa_dtype dt, const void *data, uint64_t i);
int64_t fa_rt_load_i64(fa_dtype dt, const void *data, uint64_t i);
/* Stores |v| into element |i|: floats round to the format, integers truncate toward zero and
 * saturate (NaN stores 0), bool stores v != 0. */
void fa_rt_store_f64(fa_dtype dt, void *data, uint64_t i, double v);
/* Stores |v| wrapping to the integer width (two's complement); floats convert; bool v != 0. */
void fa_rt_store_i64(fa_dtype dt, void *data, uint64_t i, int64_t v);

#endif
