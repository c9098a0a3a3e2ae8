/* ONNX frontend: imports ONNX models (protobuf, opsets 11-17, external data) into the IR. */
#ifndef FA_FRONTEND_ONNX_H
#define FA_FRONTEND_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* Imports the model at |path|. External data resolve relative to the model's folder and may not
 * leave it. Errors have the form "model.onnx: node 'name' (OpType): message". The result is
 * verified; the caller owns *out_graph. */
fa_status fa_onnx_import_file(const char *path, fa_graph **out_graph);

/* Same, from |len| bytes in memory; |filename| is used in messages and |model_dir| for external
 * data (NULL: external data refused). */
fa_status fa_onnx_import_buffer(const void *data, size_t len, const char *filename,
                                const char *model_dir, fa_graph **out_graph);

/* Reads one serialized TensorProto (the input_N.pb / output_N.pb files of ONNX's test data).
 * *out_name (may be NULL if the proto has none) and *out_data are malloc'ed; the caller frees
 * both. The type is static. */
fa_status fa_onnx_read_tensor_file(const char *path, char **out_name, fa_type *out_type,
                                   void **out_data, uint64_t *out_nbytes);

/* Lists the distinct op types |path|'s main graph uses, without importing it ("Relu", or
 * "domain::OpType" outside the default domain), sorted. *out_ops and each entry are malloc'ed;
 * the caller frees them. Used by the conformance runner to tell "uses an op we do not import"
 * from "imports but fails". (frontend/onnx_optypes.c) */
fa_status fa_onnx_list_op_types(const char *path, char ***out_ops, uint32_t *out_n);

#endif
