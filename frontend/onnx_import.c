/* ONNX ModelProto -> IR graph: opset check, initializers, inputs, nodes (op and attribute mapping
 * from ir/ops.def), result types, outputs. The entry points of frontend/onnx.h live here.
 *
 * Design note. The file is parsed with protobuf-c into a tree freed at the end; everything the
 * graph keeps is copied into its arena (or mapped, for external data). ONNX names are SSA, so one
 * hash map from name to IR value resolves node inputs. A result's type is the declared one
 * (value_info or graph output) merged with what the op's shape rule gives; a contradiction is an
 * error naming the node. Every error names the file and, where there is one, the node. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx.h"
#include "frontend/onnx_internal.h"
#include "ir/fileio.h"

/* Opsets 11-17 import fully; older models import op by op where the op's meaning is the same
 * (onnx_opset.c). */
#define MIN_OPSET 11
#define MAX_OPSET 17

/* ---- name map -------------------------------------------------------------------------------- */

/* Open addressing from a name (borrowed from the protobuf tree) to a pointer. */
typedef struct name_map {
    const char **keys;
    void **vals;
    size_t cap, n;
} name_map;

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void *map_get(const name_map *m, const char *key) {
    if (!m->cap)
        return NULL;
    for (size_t i = hash_name(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return NULL;
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
    }
}

/* Inserts or replaces. */
static fa_status map_put(name_map *m, const char *key, void *val) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        const char **keys = calloc(cap, sizeof *keys);
        void **vals = calloc(cap, sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = hash_name(m->keys[i]) & (cap - 1);
            while (keys[j])
                j = (j + 1) & (cap - 1);
            keys[j] = m->keys[i];
            vals[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t i = hash_name(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return FA_OK;
}

static void map_free(name_map *m) {
    free(m->keys);
    free(m->vals);
}

/* ---- importer state -------------------------------------------------------------------------- */

typedef struct importer {
    const char *filename; /* for messages */
    fa_graph *g;
    fa_onnx_ext ext;
    name_map values;   /* ONNX name -> fa_value */
    name_map declared; /* ONNX name -> Onnx__ValueInfoProto (value_info and graph outputs) */
    fa_type *types;    /* scratch: FA_ARITY_VARIADIC + 1 result types */
    int64_t opset;     /* of the default domain */
} importer;

static fa_status node_error(const importer *imp, const Onnx__NodeProto *np, size_t index,
                            fa_status s) {
    const char *op = np->op_type ? np->op_type : "";
    if (np->name && np->name[0])
        return fa_status_prefix(s, "%s: node '%s' (%s)", imp->filename, np->name, op);
    return fa_status_prefix(s, "%s: node #%zu (%s)", imp->filename, index, op);
}

/* ---- types ----------------------------------------------------------------------------------- */

/* dim_param as an IR symbol: [A-Za-z_][A-Za-z0-9_]*, other characters become '_'. */
static const char *symbol_name(fa_graph *g, const char *param) {
    size_t len = strlen(param);
    char *buf = malloc(len + 2);
    if (!buf)
        fa_fatal(__FILE__, __LINE__, "out of memory");
    size_t k = 0;
    if (isdigit((unsigned char)param[0]))
        buf[k++] = '_';
    for (size_t i = 0; i < len; i++)
        buf[k++] = isalnum((unsigned char)param[i]) ? param[i] : '_';
    const char *sym = fa_graph_intern(g, buf, k);
    free(buf);
    return sym;
}

/* The type a ValueInfoProto declares. *out_has is false when it declares none. The dtype is
 * FA_DT_INVALID when only the shape is given; rank -1 when only the dtype is. */
static fa_status value_info_type(fa_graph *g, const Onnx__ValueInfoProto *vi, fa_type *out,
                                 bool *out_has) {
    memset(out, 0, sizeof *out);
    out->rank = -1;
    *out_has = false;
    if (!vi || !vi->type || vi->type->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return FA_OK;
    if (vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return fa_status_make(FA_STATUS_UNSUPPORTED,
                              "'%s' is not a tensor (sequences, maps, optionals and sparse "
                              "tensors are not supported)",
                              vi->name ? vi->name : "");
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (!tt)
        return FA_OK;
    if (tt->has_elem_type && tt->elem_type != 0) {
        out->dtype = fa_onnx_dtype_to_fa(tt->elem_type);
        if (out->dtype == FA_DT_INVALID) {
            char buf[32];
            return fa_status_make(FA_STATUS_UNSUPPORTED,
                                  "'%s' has dtype %s, which is not supported",
                                  vi->name ? vi->name : "",
                                  fa_onnx_dtype_name(tt->elem_type, buf, sizeof buf));
        }
    }
    *out_has = true;
    if (!tt->shape)
        return FA_OK;
    if (tt->shape->n_dim > FA_MAX_RANK)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "'%s' has rank %zu, more than %d",
                              vi->name ? vi->name : "", tt->shape->n_dim, FA_MAX_RANK);
    out->rank = (int)tt->shape->n_dim;
    for (int i = 0; i < out->rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        fa_dim *od = &out->dims[i];
        od->value = FA_DIM_UNKNOWN;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 0)
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "'%s' has negative dim %lld",
                                      vi->name ? vi->name : "", (long long)d->dim_value);
            od->value = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   d->dim_param && d->dim_param[0]) {
            od->sym = symbol_name(g, d->dim_param);
        }
    }
    return FA_OK;
}

/* Merges a declared type with an inferred one. Returns false if they contradict (different
 * dtypes, ranks or static dims). Declared facts win; unknowns are filled from the rule; where the
 * two name different symbols the rule's is kept so the verifier, which compares them, agrees. */
static bool merge_types(const fa_type *decl, const fa_type *inf, fa_type *out) {
    if (decl->dtype != FA_DT_INVALID && inf->dtype != FA_DT_INVALID && decl->dtype != inf->dtype)
        return false;
    if (decl->rank >= 0 && inf->rank >= 0 && decl->rank != inf->rank)
        return false;
    fa_type t = decl->rank >= 0 ? *decl : *inf;
    t.dtype = decl->dtype != FA_DT_INVALID ? decl->dtype : inf->dtype;
    if (decl->rank >= 0 && inf->rank >= 0) {
        for (int i = 0; i < t.rank; i++) {
            fa_dim d = decl->dims[i], r = inf->dims[i];
            if (fa_dim_is_static(d) && fa_dim_is_static(r) && d.value != r.value)
                return false;
            if (!d.sym && d.value < 0)
                t.dims[i] = r;
            else if (d.sym && r.sym && d.sym != r.sym)
                t.dims[i] = r;
        }
    }
    *out = t;
    return true;
}

/* The dtype of result |i| of |n| when the op has no shape rule and nothing is declared. */
static fa_dtype fallback_dtype(const fa_node *n, uint32_t i) {
    fa_dtype in0 = n->num_operands && n->operands[0] ? n->operands[0]->type.dtype : FA_DT_INVALID;
    switch (n->op) {
    case FA_OP_SHAPE:
    case FA_OP_SIZE:
    case FA_OP_ARG_MAX:
    case FA_OP_ARG_MIN:
    case FA_OP_NON_ZERO: return FA_DT_I64;
    case FA_OP_TOP_K:
    case FA_OP_MAX_POOL: return i == 1 ? FA_DT_I64 : in0;
    case FA_OP_ONE_HOT:
        return n->num_operands > 2 && n->operands[2] ? n->operands[2]->type.dtype : FA_DT_INVALID;
    case FA_OP_CAST: return (fa_dtype)fa_node_attr_int(n, "to", FA_DT_INVALID);
    case FA_OP_CONSTANT_OF_SHAPE: {
        const fa_attr *a = fa_node_attr(n, "value");
        return a ? a->u.t->type.dtype : FA_DT_F32;
    }
    case FA_OP_QUANTIZE_LINEAR:
        return n->num_operands > 2 && n->operands[2] ? n->operands[2]->type.dtype : FA_DT_U8;
    case FA_OP_DEQUANTIZE_LINEAR:
        return n->num_operands > 1 && n->operands[1] ? n->operands[1]->type.dtype : FA_DT_F32;
    case FA_OP_DYNAMIC_QUANTIZE_LINEAR: return i == 1 ? FA_DT_F32 : FA_DT_U8;
    case FA_OP_MAT_MUL_INTEGER: return FA_DT_I32;
    case FA_OP_LAYER_NORMALIZATION: return i == 0 ? in0 : FA_DT_F32;
    default: return in0;
    }
}

/* Sets the result types of |n| (made by |np|): declared types merged with the shape rule. */
static fa_status set_result_types(importer *imp, fa_node *n, const Onnx__NodeProto *np) {
    bool has_rule;
    for (uint32_t i = 0; i < n->num_results; i++)
        imp->types[i] = n->results[i]->type;
    FA_TRY(fa_node_infer_types(n, imp->types, &has_rule));
    for (uint32_t i = 0; i < n->num_results; i++) {
        fa_type inf = imp->types[i];
        if (!has_rule) {
            memset(&inf, 0, sizeof inf);
            inf.rank = -1;
            inf.dtype = fallback_dtype(n, i);
        }
        const char *oname = i < np->n_output ? np->output[i] : "";
        fa_type decl;
        bool has_decl = false;
        if (oname[0])
            FA_TRY(value_info_type(imp->g, map_get(&imp->declared, oname), &decl, &has_decl));
        fa_type t = inf;
        if (has_decl && !merge_types(&decl, &inf, &t)) {
            char a[160], b[160];
            fa_type_format(&decl, a, sizeof a);
            fa_type_format(&inf, b, sizeof b);
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "output '%s' is declared %s but the inputs give %s", oname, a, b);
        }
        if (t.dtype == FA_DT_INVALID)
            return fa_status_make(FA_STATUS_UNSUPPORTED,
                                  "cannot tell the dtype of output %u ('%s'): declare it in "
                                  "value_info",
                                  i, oname);
        n->results[i]->type = t;
    }
    return FA_OK;
}

/* ---- nodes ----------------------------------------------------------------------------------- */

static fa_status define_value(importer *imp, const char *name, fa_value *v) {
    if (map_get(&imp->values, name))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "'%s' is defined twice", name);
    return map_put(&imp->values, name, v);
}

/* A Constant node becomes a graph constant named after its output. */
static fa_status import_constant(importer *imp, const Onnx__NodeProto *np) {
    if (np->n_input != 0)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "Constant takes no inputs");
    if (np->n_output != 1 || !np->output[0][0])
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "Constant needs exactly one output");
    if (np->n_attribute != 1)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "Constant needs exactly one value attribute, it has %zu",
                              np->n_attribute);
    const Onnx__AttributeProto *a = np->attribute[0];
    const char *an = a->name ? a->name : "", *name = np->output[0];
    fa_attr_kind kind, have;
    bool required;
    if (!fa_op_attr_spec(FA_OP_CONSTANT, an, &kind, &required))
        return fa_status_make(FA_STATUS_UNSUPPORTED, "unsupported attribute '%s'", an);
    if (!fa_onnx_attr_kind(a, &have) || have != kind)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "unsupported attribute '%s': expected %s",
                              an, fa_attr_kind_name(kind));
    if (map_get(&imp->values, name))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "'%s' is defined twice", name);
    fa_value *v = NULL;
    fa_status s = FA_OK;
    if (strcmp(an, "value") == 0) {
        if (!a->t)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "attribute 'value' has no tensor");
        s = fa_onnx_tensor_import(imp->g, a->t, &imp->ext, name, &v, NULL);
    } else if (strcmp(an, "value_float") == 0 || strcmp(an, "value_int") == 0) {
        bool is_f = an[6] == 'f';
        float f = a->f;
        fa_type t = fa_type_make(is_f ? FA_DT_F32 : FA_DT_I64, 0, NULL);
        s = fa_graph_add_const(imp->g, name, &t, is_f ? (const void *)&f : (const void *)&a->i,
                               is_f ? 4 : 8, &v);
    } else {
        bool is_f = strcmp(an, "value_floats") == 0;
        int64_t count = (int64_t)(is_f ? a->n_floats : a->n_ints);
        fa_type t = fa_type_make(is_f ? FA_DT_F32 : FA_DT_I64, 1, &count);
        s = fa_graph_add_const(imp->g, name, &t, is_f ? (const void *)a->floats
                                                      : (const void *)a->ints,
                               (uint64_t)count * (is_f ? 4 : 8), &v);
    }
    if (s)
        return fa_status_prefix(s, "attribute '%s'", an);
    return map_put(&imp->values, name, v);
}

static fa_type retype(fa_node *n, fa_type fallback) {
    fa_type t = fallback;
    bool has_rule;
    fa_status s = fa_node_infer_types(n, &t, &has_rule);
    if (s || !has_rule)
        t = fallback;
    fa_status_free(s);
    return t;
}

/* Before opset 13, Softmax, LogSoftmax and Hardmax coerce the input to 2-D at |axis| (default 1)
 * and normalize over everything after it; the IR op normalizes over one axis (opset 13). On the
 * last axis the two agree; otherwise this lowers to shape + flatten + op(axis 1) + reshape.
 * *out is the value that stands for the ONNX output. */
static fa_status lower_legacy_softmax(importer *imp, fa_node *n, fa_value **out) {
    fa_graph *g = imp->g;
    fa_value *x = n->operands[0];
    int rank = x->type.rank;
    int64_t axis = fa_node_attr_int(n, "axis", 1);
    *out = n->results[0];
    if (rank >= 0 && (axis < -rank || axis >= (rank ? rank : 1)))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                              (long long)axis, rank);
    if (rank >= 0 && axis < 0)
        axis += rank;
    if ((rank >= 0 && axis == rank - 1) || (rank < 0 && axis == -1)) {
        fa_node_set_attr_int(g, n, "axis", -1);
        return FA_OK;
    }
    fa_type unknown = fa_type_make(x->type.dtype, 0, NULL);
    unknown.rank = -1;
    fa_type ts = fa_type_make(FA_DT_I64, 1, (int64_t[]){rank >= 0 ? rank : FA_DIM_UNKNOWN});
    fa_node *shape = fa_graph_create_node(g, n, FA_OP_SHAPE, &x, 1, &ts, 1);
    fa_node *flat = fa_graph_create_node(g, n, FA_OP_FLATTEN, &x, 1, &unknown, 1);
    fa_node_set_attr_int(g, flat, "axis", axis);
    flat->results[0]->type = retype(flat, unknown);
    fa_type orig = n->results[0]->type;
    fa_node_set_operand(g, n, 0, flat->results[0]);
    fa_node_set_attr_int(g, n, "axis", 1);
    n->results[0]->type = flat->results[0]->type;
    fa_node *back = fa_graph_create_node(g, n->next, FA_OP_RESHAPE,
                                         (fa_value *[]){n->results[0], shape->results[0]}, 2, &orig,
                                         1);
    if (n->name)
        fa_node_set_name(g, back, n->name);
    *out = back->results[0];
    return FA_OK;
}

static fa_status import_node(importer *imp, const Onnx__NodeProto *np) {
    const char *op_type = np->op_type ? np->op_type : "";
    const char *domain = np->domain ? np->domain : "";
    fa_op op;
    if (!fa_op_from_onnx(domain, op_type, &op)) {
        if (domain[0] && strcmp(domain, "ai.onnx") != 0)
            return fa_status_make(FA_STATUS_UNSUPPORTED, "unsupported op (domain '%s')", domain);
        return fa_status_make(FA_STATUS_UNSUPPORTED, "unsupported op");
    }
    if (!fa_op_get(op)->onnx_domain[0] && imp->opset < fa_onnx_op_min_opset(op_type))
        return fa_status_make(FA_STATUS_UNSUPPORTED,
                              "%s at opset %lld is not supported: its meaning changed in opset %d "
                              "(freeact imports the later form)",
                              op_type, (long long)imp->opset, fa_onnx_op_min_opset(op_type));
    if (op == FA_OP_CONSTANT)
        return import_constant(imp, np);
    const fa_op_info *info = fa_op_get(op);
    /* Trailing "" inputs are omitted optionals. */
    size_t nin = np->n_input;
    while (nin > 0 && !np->input[nin - 1][0])
        nin--;
    size_t nout = np->n_output;
    while (nout > 0 && !np->output[nout - 1][0])
        nout--;
    char want[48];
    if (nin < info->min_in || (info->max_in != FA_ARITY_VARIADIC && nin > info->max_in) ||
        nin > 100000) {
        fa_arity_format(info->min_in, info->max_in, want, sizeof want);
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "has %zu inputs, expected %s", nin, want);
    }
    if (nout < info->min_out || (info->max_out != FA_ARITY_VARIADIC && nout > info->max_out) ||
        nout > FA_ARITY_VARIADIC) {
        fa_arity_format(info->min_out, info->max_out, want, sizeof want);
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "has %zu outputs, expected %s", nout,
                              want);
    }
    fa_value **operands = calloc(nin ? nin : 1, sizeof *operands);
    if (!operands)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < nin; i++) {
        const char *in = np->input[i];
        if (!in[0]) {
            if (i < info->min_in) {
                free(operands);
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "required input %zu is empty",
                                      i);
            }
            continue;
        }
        operands[i] = map_get(&imp->values, in);
        if (!operands[i]) {
            free(operands);
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "input '%s' is not defined before this node (nodes must be "
                                  "sorted topologically)",
                                  in);
        }
    }
    for (size_t i = 0; i < nout; i++) {
        imp->types[i] = fa_type_make(FA_DT_INVALID, 0, NULL);
        imp->types[i].rank = -1;
    }
    fa_node *n = fa_graph_create_node(imp->g, NULL, op, operands, (uint32_t)nin, imp->types,
                                      (uint32_t)nout);
    free(operands);
    if (np->name && np->name[0])
        fa_node_set_name(imp->g, n, np->name);
    FA_TRY(fa_onnx_attrs_import(imp->g, n, np, &imp->ext));
    FA_TRY(set_result_types(imp, n, np));
    fa_value *first = nout ? n->results[0] : NULL;
    if (imp->opset < 13 && (op == FA_OP_SOFTMAX || op == FA_OP_LOG_SOFTMAX || op == FA_OP_HARDMAX))
        FA_TRY(lower_legacy_softmax(imp, n, &first));
    for (size_t i = 0; i < nout; i++) {
        const char *out = np->output[i];
        fa_value *v = i == 0 ? first : n->results[i];
        if (!out[0])
            continue;
        FA_TRY(define_value(imp, out, v));
        fa_value_set_name(imp->g, v, out);
    }
    return FA_OK;
}

/* ---- model ----------------------------------------------------------------------------------- */

static fa_status check_opsets(importer *imp, const Onnx__ModelProto *m) {
    bool have_default = false;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        const char *d = o->domain ? o->domain : "";
        if (d[0] && strcmp(d, "ai.onnx") != 0)
            continue; /* other domains: their ops are checked one by one */
        int64_t v = o->has_version ? o->version : 0;
        if (v < 1 || v > MAX_OPSET)
            return fa_status_make(FA_STATUS_UNSUPPORTED,
                                  "%s: opset %lld of the default ONNX domain is not supported "
                                  "(supported: %d to %d, and older ones for ops whose meaning "
                                  "did not change)",
                                  imp->filename, (long long)v, MIN_OPSET, MAX_OPSET);
        imp->opset = v;
        have_default = true;
    }
    if (!have_default)
        return fa_status_make(FA_STATUS_UNSUPPORTED,
                              "%s: the model imports no opset of the default ONNX domain",
                              imp->filename);
    return FA_OK;
}

static fa_status import_graph(importer *imp, const Onnx__GraphProto *gp) {
    const char *fn = imp->filename;
    if (gp->n_sparse_initializer)
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: sparse initializers are not supported",
                              fn);
    for (size_t i = 0; i < gp->n_value_info; i++)
        if (gp->value_info[i]->name && gp->value_info[i]->name[0])
            FA_TRY(map_put(&imp->declared, gp->value_info[i]->name, gp->value_info[i]));
    for (size_t i = 0; i < gp->n_output; i++)
        if (gp->output[i]->name && gp->output[i]->name[0])
            FA_TRY(map_put(&imp->declared, gp->output[i]->name, gp->output[i]));
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        const char *name = tp->name ? tp->name : "";
        if (!name[0])
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: initializer %zu has no name",
                                  fn, i);
        fa_value *v;
        fa_status s = map_get(&imp->values, name)
                          ? fa_status_make(FA_STATUS_INVALID_ARGUMENT, "defined twice")
                          : fa_onnx_tensor_import(imp->g, tp, &imp->ext, name, &v, NULL);
        if (!s)
            s = map_put(&imp->values, name, v);
        if (s)
            return fa_status_prefix(s, "%s: initializer '%s'", fn, name);
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        const char *name = vi->name ? vi->name : "";
        if (!name[0])
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: input %zu has no name", fn, i);
        fa_value *known = map_get(&imp->values, name);
        if (known && known->kind == FA_VALUE_CONST)
            continue; /* an input with a default: ONNX lets callers override it, we don't */
        fa_type t;
        bool has;
        fa_status s = known ? fa_status_make(FA_STATUS_INVALID_ARGUMENT, "defined twice")
                            : value_info_type(imp->g, vi, &t, &has);
        if (!s && (!has || t.dtype == FA_DT_INVALID))
            s = fa_status_make(FA_STATUS_INVALID_ARGUMENT, "has no tensor type");
        if (!s)
            s = map_put(&imp->values, name, fa_graph_add_input(imp->g, name, &t));
        if (s)
            return fa_status_prefix(s, "%s: input '%s'", fn, name);
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        fa_status s = import_node(imp, gp->node[i]);
        if (s)
            return node_error(imp, gp->node[i], i, s);
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name ? gp->output[i]->name : "";
        fa_value *v = name[0] ? map_get(&imp->values, name) : NULL;
        if (!v)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "%s: output '%s' is not produced by the graph", fn, name);
        for (uint32_t k = 0; k < fa_graph_num_outputs(imp->g); k++)
            if (strcmp(fa_graph_output(imp->g, k)->name, name) == 0)
                return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: output '%s' is listed twice",
                                      fn, name);
        fa_graph_add_output(imp->g, name, v);
    }
    return FA_OK;
}

fa_status fa_onnx_import_buffer(const void *data, size_t len, const char *filename,
                                const char *model_dir, fa_graph **out_graph) {
    *out_graph = NULL;
    importer imp;
    memset(&imp, 0, sizeof imp);
    imp.filename = filename ? filename : "<memory>";
    imp.ext.dir = model_dir;
    fa_onnx_alloc alloc;
    fa_onnx_alloc_init(&alloc, (uint64_t)len * 256 + ((uint64_t)64 << 20));
    Onnx__ModelProto *m = onnx__model_proto__unpack(&alloc.base, len, data);
    if (!m)
        return fa_status_make(FA_STATUS_PARSE, "%s: not a valid ONNX model (protobuf parse failed)",
                              imp.filename);
    fa_status s = check_opsets(&imp, m);
    if (!s && !m->graph)
        s = fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s: the model has no graph", imp.filename);
    if (!s) {
        const char *gname = m->graph->name && m->graph->name[0] ? m->graph->name : "main";
        imp.g = fa_graph_create(gname);
        imp.types = calloc(FA_ARITY_VARIADIC + 1, sizeof *imp.types);
        if (!imp.types)
            s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    if (!s)
        s = import_graph(&imp, m->graph);
    if (!s) {
        s = fa_graph_verify(imp.g);
        if (s)
            s = fa_status_prefix(s, "%s", imp.filename);
    }
    onnx__model_proto__free_unpacked(m, &alloc.base);
    map_free(&imp.values);
    map_free(&imp.declared);
    free(imp.types);
    free(imp.ext.dir_real);
    if (s) {
        if (imp.g)
            fa_graph_destroy(imp.g);
        return s;
    }
    *out_graph = imp.g;
    return FA_OK;
}

fa_status fa_onnx_import_file(const char *path, fa_graph **out_graph) {
    char *data;
    size_t len;
    *out_graph = NULL;
    FA_TRY(fa_file_read_all(path, &data, &len));
    char *dir = fa_path_dirname(path);
    if (!dir) {
        free(data);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    fa_status s = fa_onnx_import_buffer(data, len, path, dir, out_graph);
    free(dir);
    free(data);
    return s;
}
