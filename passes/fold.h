/* Constant evaluation of shape arithmetic: ops over small integer tensors (the Shape -> Gather ->
 * Concat -> Reshape chains ONNX exporters emit), used by canonicalize. Internal to passes/. */
#ifndef FA_PASSES_FOLD_H
#define FA_PASSES_FOLD_H

#include "ir/ir.h"

/* Tensors with more elements are never folded: folding is for shapes and indices, not data. */
#define FA_FOLD_MAX_ELEMS 64

/* A small integer tensor: static |type| (an integer dtype or bool, see fa_fold_dtype_ok) and its
 * |n| elements widened to int64, row-major. */
typedef struct fa_fold_tensor {
    fa_type type;
    uint32_t n;
    int64_t v[FA_FOLD_MAX_ELEMS];
} fa_fold_tensor;

/* True for the dtypes folding handles: i64, i32, i16, i8, u32, u16, u8, bool. */
bool fa_fold_dtype_ok(fa_dtype dt);

/* Reads |v| if it is a graph constant of a handled dtype with at most FA_FOLD_MAX_ELEMS
 * elements; false otherwise (|v| may be NULL). */
bool fa_fold_read_const(const fa_value *v, fa_fold_tensor *out);

/* Writes |t|'s elements in its dtype to |buf|, which holds at least 8 * t->n bytes. Returns the
 * byte count. Elements must fit the dtype (fa_fold_eval_node guarantees it). */
uint64_t fa_fold_write_bytes(const fa_fold_tensor *t, void *buf);

/* Evaluates single-result node |n| when the result is computable from constant operands and
 * static operand types, and small: shape, size, gather (of a constant, or of a shape result whose
 * picked dims are static), concat, unsqueeze, squeeze, slice, cast, add, sub, mul, div, equal,
 * where, range, reduce_prod, reduce_sum. Returns false (and leaves the node to run time) for
 * anything else, including overflow, division by zero and out-of-range indices. */
bool fa_fold_eval_node(const fa_node *n, fa_fold_tensor *out);

#endif
