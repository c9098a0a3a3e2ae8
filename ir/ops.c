/* The op table built from ir/ops.def, and lookups by IR name and by ONNX name. */
#include <stdio.h>
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

bool fa_op_attr_spec_next(const char **cursor, char *name, size_t size, fa_attr_kind *out_kind,
                          bool *out_required) {
    const char *p = *cursor;
    while (*p == ' ')
        p++;
    const char *colon = strchr(p, ':');
    if (!*p || !colon)
        return false;
    const char *end = colon;
    while (*end && *end != ' ')
        end++;
    size_t nlen = (size_t)(colon - p);
    FA_ASSERT(nlen < size);
    memcpy(name, p, nlen);
    name[nlen] = '\0';
    const char *k = colon + 1;
    size_t klen = (size_t)(end - k);
    *out_required = klen > 0 && k[klen - 1] == '!';
    if (*out_required)
        klen--;
    bool found = false;
    for (int i = FA_ATTR_INT; i <= FA_ATTR_TENSOR && !found; i++) {
        const char *kn = fa_attr_kind_name((fa_attr_kind)i);
        if (strlen(kn) == klen && memcmp(kn, k, klen) == 0) {
            *out_kind = (fa_attr_kind)i;
            found = true;
        }
    }
    FA_ASSERT(found); /* a malformed ops.def row */
    *cursor = end;
    return true;
}

bool fa_op_attr_spec(fa_op op, const char *name, fa_attr_kind *out_kind, bool *out_required) {
    const char *cursor = fa_op_get(op)->attrs;
    char spec_name[64];
    while (fa_op_attr_spec_next(&cursor, spec_name, sizeof spec_name, out_kind, out_required))
        if (strcmp(spec_name, name) == 0)
            return true;
    return false;
}

void fa_arity_format(unsigned lo, unsigned hi, char *buf, size_t size) {
    if (hi == FA_ARITY_VARIADIC)
        snprintf(buf, size, "at least %u", lo);
    else if (lo == hi)
        snprintf(buf, size, "%u", lo);
    else
        snprintf(buf, size, "%u to %u", lo, hi);
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
