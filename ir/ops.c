/* The op table built from ir/ops.def, and lookups by IR name and by ONNX name. */
#include <string.h>

#include "ir/ir.h"
#include "ir/shape_rules.h"

static const fa_op_info op_table[] = {
#define FA_OP(id, name, onnx, domain, min_in, max_in, min_out, max_out, flags, attrs, shape)      \
    {name, onnx, domain, min_in, max_in, min_out, max_out, flags, attrs, fa_rule_##shape},
#include "ir/ops.def"
#undef FA_OP
};

_Static_assert(sizeof op_table / sizeof op_table[0] == FA_OP_COUNT,
               "op table and fa_op enum disagree");

const fa_op_info *fa_op_get(fa_op op) {
    FA_ASSERT((unsigned)op < FA_OP_COUNT);
    return &op_table[op];
}

bool fa_op_from_name(const char *name, size_t len, fa_op *out) {
    for (int i = 0; i < FA_OP_COUNT; i++) {
        if (strlen(op_table[i].name) == len && memcmp(op_table[i].name, name, len) == 0) {
            *out = (fa_op)i;
            return true;
        }
    }
    return false;
}

bool fa_op_from_onnx(const char *domain, const char *op_type, fa_op *out) {
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (int i = 0; i < FA_OP_COUNT; i++) {
        const fa_op_info *info = &op_table[i];
        if (info->onnx_name && strcmp(info->onnx_name, op_type) == 0 &&
            strcmp(info->onnx_domain, domain) == 0) {
            *out = (fa_op)i;
            return true;
        }
    }
    return false;
}

const char *fa_attr_kind_name(fa_attr_kind k) {
    switch (k) {
    case FA_ATTR_INT: return "int";
    case FA_ATTR_FLOAT: return "float";
    case FA_ATTR_STRING: return "string";
    case FA_ATTR_INTS: return "ints";
    case FA_ATTR_FLOATS: return "floats";
    case FA_ATTR_STRINGS: return "strings";
    case FA_ATTR_TENSOR: return "tensor";
    }
    return "invalid";
}
