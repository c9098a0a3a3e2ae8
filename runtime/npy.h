/* numpy .npy files: read (format versions 1.0, 2.0, 3.0; little-endian numeric and bool dtypes;
 * C order) and write (1.0, or 2.0 for huge headers), atomically. */
#ifndef FA_RUNTIME_NPY_H
#define FA_RUNTIME_NPY_H

#include <stddef.h>

#include "runtime/tensor.h"

/* Reads |path| into |*out| allocated with |al| (the caller frees it). Every error names the
 * file: bad magic, truncated data, malformed header, unknown dtype, Fortran order, overflowing
 * or mismatched shapes. */
fa_status fa_rt_npy_read(const char *path, fa_rt_tensor *out, const fa_rt_allocator *al);
/* Parses |len| bytes at |data|; |name| is used in messages. */
fa_status fa_rt_npy_parse(const void *data, size_t len, const char *name, fa_rt_tensor *out,
                          const fa_rt_allocator *al);
/* Writes |t| to |path| through a temporary file renamed on success. bf16/i4/u4 have no numpy
 * dtype and are refused. */
fa_status fa_rt_npy_write(const char *path, const fa_rt_tensor *t);
/* Writes |t| in .npy form to the stdio stream |file| (a FILE *); |name| is used in messages. */
fa_status fa_rt_npy_write_stream(void *file, const fa_rt_tensor *t, const char *name);
/* numpy's descr string for |dt| ("<f4"), or NULL if it has none. */
const char *fa_rt_npy_descr(fa_dtype dt);

#endif
