/* Model loading and NAME=FILE.npy input binding shared by the run and eval subcommands. */
#ifndef FA_TOOLS_MODEL_IO_H
#define FA_TOOLS_MODEL_IO_H

#include <stdbool.h>

#include "ir/ir.h"
#include "runtime/tensor.h"

/* One NAME=FILE argument. |buf| owns the split copy; free it with fa_tool_binding_free. */
typedef struct fa_binding {
    const char *arg; /* as given */
    char *buf;
    const char *name, *file;
} fa_binding;

/* Splits "NAME=FILE" into |b|; false if malformed (no '=', empty name or file) or out of memory. */
bool fa_tool_binding_parse(const char *arg, fa_binding *b);
void fa_tool_binding_free(fa_binding *b);

/* Loads a .onnx (imported) or .fir (parsed; file<> data relative to its folder) model. */
fa_status fa_tool_model_load(const char *path, fa_graph **out);

/* Reads the |n| bound .npy files into |tensors| (one slot per graph input, in graph order, zeroed
 * by the caller), checking names and dtypes; every graph input must be bound. Errors name the
 * argument. On error the caller frees what was read (fa_rt_tensors_free). */
fa_status fa_tool_inputs_read(const fa_graph *g, const fa_binding *bindings, int n,
                              fa_rt_tensor *tensors, const fa_rt_allocator *al);

/* A view (no copy) of rows [r0, r0 + n) of |t| along axis 0; the caller keeps them in range. */
fa_rt_tensor fa_tool_tensor_rows(const fa_rt_tensor *t, int64_t r0, int64_t n);

#endif
