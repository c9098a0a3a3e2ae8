/* Shape rules named in ir/ops.def (column "shape"), implemented in ir/shape.c. The table refers
 * to rule X as fa_rule_X; NULL means the op has no rule yet. */
#ifndef FA_IR_SHAPE_RULES_H
#define FA_IR_SHAPE_RULES_H

#include "ir/ir.h"

#define fa_rule_NULL ((fa_shape_fn)0)

/* Helpers shared by ir/shape.c and ir/shape_data.c. */
fa_type fa_shape_unknown_type(fa_dtype dt); /* rank unknown */
const fa_type *fa_shape_operand_type(const fa_node *n, uint32_t i); /* NULL if absent */

fa_status fa_rule_shape_same(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_broadcast(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_broadcast_lhs_dtype(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_compare(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_where(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_cast(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_matmul(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_reshape(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_transpose(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_unsqueeze(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_squeeze(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_concat(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_gather(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_reduce(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_arg_reduce(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_slice(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_layer_normalization(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_gemm(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_shape(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_size(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_constant_of_shape(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_flatten(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_expand(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_range(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_split(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_tile(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_same_rank(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_gather_elements(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_same_bool(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_cast_like(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_dropout(const fa_node *n, fa_type *out);
/* freeact ops (ir/shape.c) */
fa_status fa_rule_shape_linear(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_rms_norm(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_layer_norm(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_swiglu(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_gelu(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_rope(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_token_type(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_routed_transform(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_quantize(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_qlinear(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_dequantize(const fa_node *n, fa_type *out);

#endif
