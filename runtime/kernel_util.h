/* Helpers shared by the reference kernels (internal to runtime/): error constructors, reading
 * small integer tensors (shapes, axes), axis normalization and strided iteration. */
#ifndef FA_RUNTIME_KERNEL_UTIL_H
#define FA_RUNTIME_KERNEL_UTIL_H

#include "runtime/kernels.h"

/* "Op: unsupported dtype f16" (FA_STATUS_UNSUPPORTED). */
fa_status fa_rt_err_dtype(const char *op, fa_dtype dt);
/* FA_STATUS_INVALID_ARGUMENT with "Op: " prepended to the formatted message. */
fa_status fa_rt_err(const char *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the integer tensor |t| (i64 or i32, rank 0 or 1, at most |max| elements) into |out|;
 * |what| names it in errors. */
fa_status fa_rt_read_ints(const char *op, const char *what, const fa_rt_tensor *t, int64_t *out,
                          uint32_t max, uint32_t *out_n);
/* Reads a one-element integer tensor. */
fa_status fa_rt_read_int_scalar(const char *op, const char *what, const fa_rt_tensor *t,
                                int64_t *out);
/* Maps |axis| in [-rank, rank) to [0, rank). */
fa_status fa_rt_norm_axis(const char *op, int64_t axis, int rank, int *out);
/* Row-major element strides of a shape. */
void fa_rt_strides(int rank, const int64_t *dims, int64_t *strides);
/* Allocates |out| with the op's name in the error. */
fa_status fa_rt_alloc_out(const char *op, fa_rt_tensor *out, fa_dtype dt, int rank,
                          const int64_t *dims, fa_rt_al al);
/* True for dtypes the generic float path (double arithmetic) handles. */
bool fa_rt_is_float(fa_dtype dt);
/* True for integer dtypes the generic int64 path handles exactly (all but u64 for ordering). */
bool fa_rt_is_plain_int(fa_dtype dt);
/* Byte size of one element (0 for i4/u4). */
size_t fa_rt_elem_size(fa_dtype dt);

/* Multi-index odometer over |rank| dims: advances |idx| and returns false after the last. */
bool fa_rt_index_next(int rank, const int64_t *dims, int64_t *idx);
/* Gathers a strided view into a dense array: dst[i0, .., ik] (dims |dims|, row-major, elements of
 * |es| bytes) = src[sum_d i_d * |strides|[d]] (strides in elements, any sign). Runs whose source
 * is contiguous along the last dim are copied with memcpy; Transpose and Slice use it. */
void fa_rt_strided_copy(void *dst, const void *src, int rank, const int64_t *dims,
                        const int64_t *strides, size_t es);

/* Checks |tt| (may be NULL) as a u8 token-type tensor with the dims of |x| but its last; |op|
 * names errors. Used by the kernels that route tokens by type. */
fa_status fa_rt_check_token_types(const char *op, const fa_rt_tensor *tt, const fa_rt_tensor *x);

#endif
