/* Model loading (.onnx or .fir) and NAME=FILE.npy input binding for the run and eval commands. */
#include "tools/model_io.h"

#include <stdlib.h>
#include <string.h>

#include "frontend/onnx.h"
#include "ir/fileio.h"
#include "runtime/npy.h"

bool fa_tool_binding_parse(const char *arg, fa_binding *b) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || eq[1] == '\0')
        return false;
    b->arg = arg;
    b->buf = strdup(arg);
    if (!b->buf)
        return false;
    b->buf[eq - arg] = '\0';
    b->name = b->buf;
    b->file = b->buf + (eq - arg) + 1;
    return true;
}

void fa_tool_binding_free(fa_binding *b) {
    free(b->buf);
    memset(b, 0, sizeof *b);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

fa_status fa_tool_model_load(const char *path, fa_graph **out) {
    if (ends_with(path, ".onnx"))
        return fa_onnx_import_file(path, out);
    if (!ends_with(path, ".fir"))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "%s: unknown model format (expected .onnx or .fir)", path);
    char *text;
    size_t len;
    FA_TRY(fa_file_read_all(path, &text, &len));
    char *dir = fa_path_dirname(path);
    fa_status s = dir ? fa_graph_parse(text, len, path, dir, 0, out)
                      : fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    free(dir);
    free(text);
    return s;
}

fa_status fa_tool_inputs_read(const fa_graph *g, const fa_binding *bindings, int n,
                              fa_rt_tensor *tensors, const fa_rt_allocator *al) {
    uint32_t nin = fa_graph_num_inputs(g);
    for (int k = 0; k < n; k++) {
        const fa_binding *b = &bindings[k];
        uint32_t i = 0;
        while (i < nin && strcmp(fa_graph_input(g, i)->name, b->name) != 0)
            i++;
        if (i == nin)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "--input %s: the model has no input '%s'", b->arg, b->name);
        if (tensors[i].dtype != FA_DT_INVALID)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "--input %s: input '%s' given twice",
                                  b->arg, b->name);
        FA_TRY(fa_status_prefix(fa_rt_npy_read(b->file, &tensors[i], al), "--input %s", b->arg));
        fa_dtype want = fa_graph_input(g, i)->type.dtype;
        if (want != FA_DT_INVALID && tensors[i].dtype != want)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "--input %s: array has dtype %s, input '%s' is %s", b->arg,
                                  fa_dtype_name(tensors[i].dtype), b->name, fa_dtype_name(want));
    }
    for (uint32_t i = 0; i < nin; i++)
        if (tensors[i].dtype == FA_DT_INVALID)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "missing --input for graph input '%s'",
                                  fa_graph_input(g, i)->name);
    return FA_OK;
}

fa_rt_tensor fa_tool_tensor_rows(const fa_rt_tensor *t, int64_t r0, int64_t n) {
    uint64_t row_bytes = t->dims[0] ? t->nbytes / (uint64_t)t->dims[0] : 0;
    int64_t dims[FA_MAX_RANK];
    memcpy(dims, t->dims, sizeof dims);
    dims[0] = n;
    return fa_rt_tensor_view(t->dtype, t->rank, dims, (const char *)t->data + row_bytes * r0,
                             row_bytes * (uint64_t)n);
}
