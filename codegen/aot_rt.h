/* The runtime side of an AOT-compiled model: what the object `freeact compile -o model.so`
 * writes (codegen/aot.c) calls into. The model's object holds a fa_aot_desc — the quantized IR
 * as text, the weights blob it references, the CPU the kernels were generated for and a table
 * of the kernels by cache signature — and four entry points under the model's prefix that pass
 * the descriptor to the functions below. Creating a model parses the IR (constants borrow the
 * blob), builds a lazy plan (runtime/plan.h), installs the kernels from the table with the same
 * walk the JIT uses (codegen/kernels.h, so JIT and AOT runs agree) and starts a thread pool.
 * No LLVM: this is library fa_cgrt, linked into the model with fa_runtime and fa_ir. */
#ifndef FA_CODEGEN_AOT_RT_H
#define FA_CODEGEN_AOT_RT_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* Bumped whenever fa_aot_desc or fa_aot_tensor change: a model object and the runtime linked
 * with it must agree (they always come from one freeact build). */
enum { FA_AOT_ABI = 1 };

typedef struct fa_aot_kernel {
    const char *signature; /* the kernel's cache signature (codegen/kernels.h) */
    void (*fn)(void);      /* its code, cast to the family's function type when installed */
} fa_aot_kernel;

typedef struct fa_aot_desc {
    uint64_t abi; /* FA_AOT_ABI */
    const char *name;
    const char *ir; /* the graph's text, NUL-terminated, |ir_len| bytes without the NUL */
    uint64_t ir_len;
    const unsigned char *weights; /* every file<> constant of |ir|, 64-byte aligned */
    uint64_t weights_len;
    const char *cpu, *features; /* the target the kernels were generated for */
    const fa_aot_kernel *kernels;
    uint64_t num_kernels;
} fa_aot_desc;

/* A tensor at the model's C interface: the generated header's freeact_tensor (same layout).
 * dtype is a fa_dtype value (the header spells them FREEACT_F32, ...). */
typedef struct fa_aot_tensor {
    int32_t dtype;
    int32_t rank;
    int64_t dims[FA_MAX_RANK];
    void *data;
} fa_aot_tensor;

typedef struct fa_aot_model fa_aot_model;

/* Creates a model from |d| with |threads| threads (0 or less: all online cores). Checks the ABI
 * and that this CPU has the features the kernels were generated with. Returns NULL on error,
 * with the message in |err| (|err_size| bytes, may be 0). */
fa_aot_model *fa_aot_create(const fa_aot_desc *d, int32_t threads, char *err, size_t err_size);

/* Runs the model on |num_inputs| inputs (the graph's inputs in order; dims and data are the
 * caller's, read only) and fills |num_outputs| outputs (the graph's outputs in order): dtype,
 * rank, dims and data, which the model owns until the next run or fa_aot_destroy. Returns 0, or
 * -1 with the message in fa_aot_error. Outputs of a failed run are zeroed. One run at a time per
 * model. */
int32_t fa_aot_run(fa_aot_model *m, const fa_aot_tensor *inputs, size_t num_inputs,
                   fa_aot_tensor *outputs, size_t num_outputs);

/* The last error of |m| ("" if none). */
const char *fa_aot_error(const fa_aot_model *m);

/* Destroys |m| and its outputs; NULL is a no-op. */
void fa_aot_destroy(fa_aot_model *m);

#endif
