/* Lists the op types a model uses without importing it, so tools can tell "uses an op we do not
 * import" (skip) from "imports but fails" (a bug), e.g. the ONNX conformance runner. */
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "frontend/onnx.h"
#include "ir/fileio.h"
#include "onnx.pb-c.h"

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

fa_status fa_onnx_list_op_types(const char *path, char ***out_ops, uint32_t *out_n) {
    char *data;
    size_t len;
    FA_TRY(fa_file_read_all(path, &data, &len));
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, (const uint8_t *)data);
    free(data);
    if (!m || !m->graph) {
        if (m)
            onnx__model_proto__free_unpacked(m, NULL);
        return fa_status_make(FA_STATUS_PARSE, "%s: not a valid ONNX model", path);
    }
    size_t n = m->graph->n_node;
    char **ops = calloc(n + 1, sizeof *ops);
    uint32_t k = 0;
    fa_status s = ops ? FA_OK : fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; !s && i < n; i++) {
        const Onnx__NodeProto *node = m->graph->node[i];
        const char *dom = node->domain && *node->domain && strcmp(node->domain, "ai.onnx") != 0
                              ? node->domain
                              : "";
        const char *type = node->op_type ? node->op_type : "";
        char *name = malloc(strlen(dom) + strlen(type) + 3);
        if (!name) {
            s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
            break;
        }
        strcpy(name, dom);
        if (*dom)
            strcat(name, "::");
        strcat(name, type);
        bool dup = false;
        for (uint32_t j = 0; j < k && !dup; j++)
            dup = strcmp(ops[j], name) == 0;
        if (dup)
            free(name);
        else
            ops[k++] = name;
    }
    onnx__model_proto__free_unpacked(m, NULL);
    if (s) {
        for (uint32_t j = 0; j < k; j++)
            free(ops[j]);
        free(ops);
        return s;
    }
    qsort(ops, k, sizeof *ops, cmp_str);
    *out_ops = ops;
    *out_n = k;
    return FA_OK;
}
