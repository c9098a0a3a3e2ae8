/* libFuzzer target for the ONNX importer: any byte string must give a graph or an error status,
 * never a crash, a hang or a leak. External data is refused (no model folder). */
#include <stddef.h>
#include <stdint.h>

#include "frontend/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fa_graph *g = NULL;
    fa_status s = fa_onnx_import_buffer(data, size, "fuzz.onnx", NULL, &g);
    if (s)
        fa_status_free(s);
    else
        fa_graph_destroy(g);
    return 0;
}
