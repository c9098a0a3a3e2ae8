/* Shape rules named in ir/ops.def (column "shape"), implemented in ir/shape.c. The table refers
 * to rule X as fa_rule_X; NULL means the op has no rule yet. */
#ifndef FA_IR_SHAPE_RULES_H
#define FA_IR_SHAPE_RULES_H

#include "ir/ir.h"

#define fa_rule_NULL ((fa_shape_fn)0)
fa_status fa_rule_shape_same(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_broadcast(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_broadcast_lhs_dtype(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_compare(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_where(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_cast(const fa_node *n, fa_type *out);
fa_status fa_rule_shape_matmul(const fa_node *n, fa_type *out);

#endif
