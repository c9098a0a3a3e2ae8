/* Internals shared by the ONNX importer's files (onnx_import.c: model, graph and nodes;
 * onnx_tensor.c: TensorProto data and dtypes; onnx_attr.c: node attributes). Not installed. */
#ifndef FA_FRONTEND_ONNX_INTERNAL_H
#define FA_FRONTEND_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <onnx.pb-c.h>

#include "ir/ir.h"

/* ONNX TensorProto.DataType codes newer than the system's onnx.proto may know. */
enum {
    ONNX_DT_FLOAT8E4M3FN = 17,
    ONNX_DT_FLOAT8E4M3FNUZ = 18,
    ONNX_DT_FLOAT8E5M2 = 19,
    ONNX_DT_FLOAT8E5M2FNUZ = 20,
    ONNX_DT_UINT4 = 21,
    ONNX_DT_INT4 = 22,
};

/* Maps an ONNX TensorProto.DataType code to a freeact dtype; FA_DT_INVALID if unsupported. */
fa_dtype fa_onnx_dtype_to_fa(int64_t onnx_dtype);
/* A printable name for an ONNX dtype code ("FLOAT", "STRING", ...; "code N" if unknown), written
 * into |buf|. */
const char *fa_onnx_dtype_name(int64_t onnx_dtype, char *buf, size_t size);

/* Where external tensor data may come from: the model's folder, or nowhere (|dir| NULL). */
typedef struct fa_onnx_ext {
    const char *dir;  /* the model's folder as given, NULL: external data refused */
    char *dir_real;   /* realpath of |dir|, computed on first use (malloc'ed) */
} fa_onnx_ext;

/* Converts |tp| into a graph constant named |name| (or, with |out_tensor| non-NULL and |name|
 * NULL, into a tensor for an attribute). Inline data (raw_data or typed fields) is copied into the
 * arena; external data is mapped from a file under |ext->dir|. Errors carry no place prefix; the
 * caller adds it. */
fa_status fa_onnx_tensor_import(fa_graph *g, const Onnx__TensorProto *tp, fa_onnx_ext *ext,
                                const char *name, fa_value **out_value,
                                const fa_tensor **out_tensor);

/* Decodes the type and inline data of |tp| into a malloc'ed buffer (*out_data, caller frees;
 * may be NULL when *out_nbytes is 0 and *out_owned false). When the bytes can be used in place
 * (raw_data), *out_owned is false and *out_data points into |tp|. External data: error. */
fa_status fa_onnx_tensor_decode(const Onnx__TensorProto *tp, fa_type *out_type, void **out_data,
                                uint64_t *out_nbytes, bool *out_owned);

/* Sets the attributes of ONNX node |np| on IR node |n| after checking each against the op's row
 * in ir/ops.def (name and kind) and converting where the IR differs from ONNX (Cast's 'to' holds a
 * freeact dtype). Checks required attributes. Errors carry no place prefix. */
fa_status fa_onnx_attrs_import(fa_graph *g, fa_node *n, const Onnx__NodeProto *np,
                               fa_onnx_ext *ext);

/* The IR kind of ONNX attribute |a| (from its type, or for old files the field that is set);
 * false for kinds the IR has no counterpart for (graphs, sparse tensors, type protos). */
bool fa_onnx_attr_kind(const Onnx__AttributeProto *a, fa_attr_kind *out_kind);

/* A protobuf-c allocator that fails (so unpack fails cleanly) once more than |limit| bytes are
 * live, bounding what a small hostile file can make the parser allocate. */
typedef struct fa_onnx_alloc {
    ProtobufCAllocator base;
    uint64_t live, limit;
} fa_onnx_alloc;

void fa_onnx_alloc_init(fa_onnx_alloc *a, uint64_t limit);

/* The oldest default-domain opset from which |op_type| has the meaning the IR gives it
 * (onnx_opset.c); 11 for ops not listed. */
int fa_onnx_op_min_opset(const char *op_type);

#endif
