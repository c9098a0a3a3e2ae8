/* ONNX node attributes -> IR attributes, checked against the op's row in ir/ops.def; plus the
 * bounded allocator the importer hands to protobuf-c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx_internal.h"

/* ---- bounded allocator ----------------------------------------------------------------------- */

/* Each block carries its size in a 16-byte header so frees can be counted. */
typedef struct {
    uint64_t size;
    uint64_t pad;
} block_header;

static void *bounded_alloc(void *data, size_t size) {
    fa_onnx_alloc *a = data;
    if (size > a->limit - a->live || size > SIZE_MAX - sizeof(block_header))
        return NULL;
    block_header *h = malloc(sizeof *h + size);
    if (!h)
        return NULL;
    h->size = size;
    a->live += size;
    return h + 1;
}

static void bounded_free(void *data, void *p) {
    fa_onnx_alloc *a = data;
    if (!p)
        return;
    block_header *h = (block_header *)p - 1;
    a->live -= h->size;
    free(h);
}

void fa_onnx_alloc_init(fa_onnx_alloc *a, uint64_t limit) {
    a->base.alloc = bounded_alloc;
    a->base.free = bounded_free;
    a->base.allocator_data = a;
    a->live = 0;
    a->limit = limit;
}

/* ---- attribute spec -------------------------------------------------------------------------- */

/* ---- conversion ------------------------------------------------------------------------------ */

static const char *onnx_attr_type_name(int t) {
    switch (t) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return "FLOAT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return "INT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return "STRING";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return "TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return "GRAPH";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: return "SPARSE_TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO: return "TYPE_PROTO";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return "FLOATS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return "INTS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return "STRINGS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: return "TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS: return "GRAPHS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS: return "SPARSE_TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS: return "TYPE_PROTOS";
    default: return "UNDEFINED";
    }
}

/* The attribute's declared type, or for old files without one, the field that is set. */
static int attr_type(const Onnx__AttributeProto *a) {
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
        return a->type;
    if (a->has_f)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (a->has_i)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (a->has_s)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (a->t)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->n_floats)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->n_ints)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    if (a->n_strings)
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static bool kind_of_onnx_type(int t, fa_attr_kind *out) {
    switch (t) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: *out = FA_ATTR_FLOAT; return true;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: *out = FA_ATTR_INT; return true;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: *out = FA_ATTR_STRING; return true;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: *out = FA_ATTR_TENSOR; return true;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: *out = FA_ATTR_FLOATS; return true;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: *out = FA_ATTR_INTS; return true;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: *out = FA_ATTR_STRINGS; return true;
    default: return false;
    }
}

bool fa_onnx_attr_kind(const Onnx__AttributeProto *a, fa_attr_kind *out_kind) {
    return kind_of_onnx_type(attr_type(a), out_kind);
}

/* A protobuf bytes field as a C string; embedded NULs are refused. */
static fa_status bytes_to_cstr(const ProtobufCBinaryData *b, char **out) {
    if (b->len && memchr(b->data, 0, b->len))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "string contains a NUL byte");
    char *s = malloc(b->len + 1);
    if (!s)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    if (b->len)
        memcpy(s, b->data, b->len);
    s[b->len] = '\0';
    *out = s;
    return FA_OK;
}

static fa_status set_strings(fa_graph *g, fa_node *n, const Onnx__AttributeProto *a) {
    char **v = calloc(a->n_strings ? a->n_strings : 1, sizeof *v);
    if (!v)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    fa_status s = FA_OK;
    size_t k = 0;
    for (; k < a->n_strings && !s; k++)
        s = bytes_to_cstr(&a->strings[k], &v[k]);
    if (!s)
        fa_node_set_attr_strings(g, n, a->name, (const char *const *)v, (uint32_t)a->n_strings);
    for (size_t i = 0; i < k; i++)
        free(v[i]);
    free(v);
    return s;
}

static fa_status set_floats(fa_graph *g, fa_node *n, const Onnx__AttributeProto *a) {
    double *v = malloc((a->n_floats ? a->n_floats : 1) * sizeof *v);
    if (!v)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < a->n_floats; i++)
        v[i] = a->floats[i];
    fa_node_set_attr_floats(g, n, a->name, v, (uint32_t)a->n_floats);
    free(v);
    return FA_OK;
}

/* Converts one attribute whose kind already matched the spec. */
static fa_status set_attr(fa_graph *g, fa_node *n, const Onnx__AttributeProto *a, fa_attr_kind kind,
                          fa_onnx_ext *ext) {
    if (a->n_floats > UINT32_MAX || a->n_ints > UINT32_MAX || a->n_strings > UINT32_MAX)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "too many values");
    switch (kind) {
    case FA_ATTR_INT:
        if (n->op == FA_OP_CAST && strcmp(a->name, "to") == 0) {
            /* ONNX holds a TensorProto dtype code; the IR holds a fa_dtype. */
            fa_dtype dt = fa_onnx_dtype_to_fa(a->i);
            if (dt == FA_DT_INVALID) {
                char buf[32];
                return fa_status_make(FA_STATUS_UNSUPPORTED, "cast to dtype %s is not supported",
                                      fa_onnx_dtype_name(a->i, buf, sizeof buf));
            }
            fa_node_set_attr_int(g, n, a->name, (int64_t)dt);
        } else {
            fa_node_set_attr_int(g, n, a->name, a->i);
        }
        return FA_OK;
    case FA_ATTR_FLOAT: fa_node_set_attr_float(g, n, a->name, a->f); return FA_OK;
    case FA_ATTR_STRING: {
        char *s;
        FA_TRY(bytes_to_cstr(&a->s, &s));
        fa_node_set_attr_string(g, n, a->name, s);
        free(s);
        return FA_OK;
    }
    case FA_ATTR_INTS:
        fa_node_set_attr_ints(g, n, a->name, a->ints, (uint32_t)a->n_ints);
        return FA_OK;
    case FA_ATTR_FLOATS: return set_floats(g, n, a);
    case FA_ATTR_STRINGS: return set_strings(g, n, a);
    case FA_ATTR_TENSOR: {
        if (!a->t)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "tensor attribute has no tensor");
        const fa_tensor *t;
        FA_TRY(fa_onnx_tensor_import(g, a->t, ext, NULL, NULL, &t));
        fa_node_set_attr_tensor(g, n, a->name, t);
        return FA_OK;
    }
    }
    FA_UNREACHABLE();
}

fa_status fa_onnx_attrs_import(fa_graph *g, fa_node *n, const Onnx__NodeProto *np,
                               fa_onnx_ext *ext) {
    const fa_op_info *info = fa_op_get(n->op);
    for (size_t i = 0; i < np->n_attribute; i++) {
        const Onnx__AttributeProto *a = np->attribute[i];
        const char *name = a->name ? a->name : "";
        if (!name[0])
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "attribute %zu has no name", i);
        if (a->ref_attr_name && a->ref_attr_name[0])
            return fa_status_make(FA_STATUS_UNSUPPORTED,
                                  "attribute '%s' refers to a function attribute", name);
        for (size_t j = 0; j < i; j++)
            if (np->attribute[j]->name && strcmp(np->attribute[j]->name, name) == 0)
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "attribute '%s' appears twice",
                                      name);
        fa_attr_kind want, have;
        bool required;
        if (!fa_op_attr_spec(n->op, name, &want, &required))
            return fa_status_make(FA_STATUS_UNSUPPORTED, "unsupported attribute '%s'", name);
        int type = attr_type(a);
        if (!kind_of_onnx_type(type, &have) || have != want)
            return fa_status_make(FA_STATUS_UNSUPPORTED,
                                  "unsupported attribute '%s': it is %s, expected %s", name,
                                  onnx_attr_type_name(type), fa_attr_kind_name(want));
        fa_status s = set_attr(g, n, a, want, ext);
        if (s)
            return fa_status_prefix(s, "attribute '%s'", name);
    }
    /* Required attributes, in spec order. */
    const char *p = info->attrs;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *colon = strchr(p, ':');
        if (!colon)
            break;
        const char *end = colon;
        while (*end && *end != ' ')
            end++;
        if (end[-1] == '!') {
            char name[64];
            size_t len = (size_t)(colon - p);
            FA_ASSERT(len < sizeof name);
            memcpy(name, p, len);
            name[len] = '\0';
            if (!fa_node_attr(n, name))
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                      "missing required attribute '%s'", name);
        }
        p = end;
    }
    return FA_OK;
}
