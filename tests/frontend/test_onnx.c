/* Unit tests of the ONNX importer: the models made by make_models.py (types, constants, external
 * data, symbols), print -> parse -> print round trips, in-memory errors and test-data tensors.
 * usage: test_onnx TESTS_FRONTEND_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/onnx.h"
#include "ir/ir.h"
#include "tests/test_util.h"

static const char *dir;

static char *path_of(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static fa_graph *import(const char *name) {
    fa_graph *g = NULL;
    fa_status s = fa_onnx_import_file(path_of(name), &g);
    CHECK_OK(s);
    return g;
}

/* print -> parse -> print gives the same text (external data resolve against |dir|). */
static void check_round_trip(const fa_graph *g) {
    fa_print_options opts = {.inline_limit = 4096, .elide_large = false};
    char *a = fa_graph_print_to_string(g, &opts);
    fa_graph *g2 = NULL;
    CHECK_OK(fa_graph_parse(a, strlen(a), "roundtrip.fir", dir, 0, &g2));
    if (g2) {
        char *b = fa_graph_print_to_string(g2, &opts);
        CHECK(strcmp(a, b) == 0);
        free(b);
        fa_graph_destroy(g2);
    }
    free(a);
}

static void test_mlp(void) {
    fa_graph *g = import("mlp.onnx");
    if (!g)
        return;
    CHECK(fa_graph_num_inputs(g) == 1);
    CHECK(fa_graph_num_consts(g) == 3);
    CHECK(fa_graph_num_nodes(g) == 4);
    CHECK(fa_graph_num_outputs(g) == 1);
    const fa_op ops[] = {FA_OP_MAT_MUL, FA_OP_ADD, FA_OP_RELU, FA_OP_MAT_MUL};
    int i = 0;
    for (const fa_node *n = fa_graph_first_node(g); n && i < 4; n = n->next, i++)
        CHECK(n->op == ops[i]);
    const fa_value *x = fa_graph_input(g, 0);
    CHECK(strcmp(x->name, "x") == 0 && x->type.rank == 2 && x->type.dims[0].sym &&
          strcmp(x->type.dims[0].sym, "B") == 0 && x->type.dims[1].value == 4);
    const fa_value *y = fa_graph_output(g, 0)->value;
    CHECK(y->type.dtype == FA_DT_F32 && y->type.rank == 2 && y->type.dims[0].sym ==
          x->type.dims[0].sym && y->type.dims[1].value == 2);
    const fa_value *b1 = fa_graph_find_value(g, "b1");
    CHECK(b1 && b1->kind == FA_VALUE_CONST && b1->tensor->nbytes == 32 &&
          ((const float *)b1->tensor->data)[3] == 1.5f);
    CHECK(strcmp(fa_graph_first_node(g)->name, "fc1") == 0);
    check_round_trip(g);
    fa_graph_destroy(g);
}

static void test_external(void) {
    fa_graph *g = import("ext_data.onnx");
    if (!g)
        return;
    const fa_value *w = fa_graph_find_value(g, "W");
    CHECK(w && w->tensor->storage == FA_STORAGE_MAPPED && w->tensor->offset == 16 &&
          strcmp(w->tensor->file, "ext_data.bin") == 0);
    if (w) {
        const float *d = w->tensor->data;
        CHECK(d[0] == 0.0f && d[31] == 31.0f);
    }
    check_round_trip(g);
    fa_graph_destroy(g);
}

static void test_symbolic(void) {
    fa_graph *g = import("symbolic.onnx");
    if (!g)
        return;
    CHECK(fa_graph_num_inputs(g) == 1); /* 'alpha' has an initializer: a constant */
    const fa_value *alpha = fa_graph_find_value(g, "alpha");
    CHECK(alpha && alpha->kind == FA_VALUE_CONST);
    const fa_value *two = fa_graph_find_value(g, "two");
    CHECK(two && two->kind == FA_VALUE_CONST && two->type.rank == 0 &&
          *(const float *)two->tensor->data == 2.0f);
    const fa_value *c = fa_graph_find_value(g, "c");
    CHECK(c && c->def->op == FA_OP_CLIP && c->def->num_operands == 3 && !c->def->operands[1]);
    const fa_value *h = fa_graph_find_value(g, "h");
    CHECK(h && fa_node_attr_int(h->def, "to", -1) == FA_DT_F16 && h->type.dtype == FA_DT_F16);
    /* Declared by value_info: 'seq' names the dim the input left unknown. */
    const fa_value *a = fa_graph_find_value(g, "a");
    CHECK(a && a->type.rank == 3 && a->type.dims[1].sym && strcmp(a->type.dims[1].sym, "seq") == 0);
    const fa_value *x = fa_graph_input(g, 0);
    CHECK(x->type.dims[1].sym == NULL && x->type.dims[1].value == FA_DIM_UNKNOWN);
    const fa_value *shp = fa_graph_find_value(g, "shp");
    CHECK(shp && shp->type.dtype == FA_DT_I64 && shp->type.rank == 1 &&
          shp->type.dims[0].value == 3);
    const fa_value *r = fa_graph_find_value(g, "r");
    CHECK(r && r->type.rank == 3 && r->type.dims[0].value == 1 && r->type.dims[2].value == 3);
    const fa_value *scale = fa_graph_find_value(g, "scale");
    CHECK(scale && scale->type.dtype == FA_DT_F16 && scale->tensor->nbytes == 6 &&
          ((const uint16_t *)scale->tensor->data)[0] == 0x3c00); /* 1.0 in f16 */
    check_round_trip(g);
    fa_graph_destroy(g);
}

static void test_buffer_errors(void) {
    fa_graph *g = (fa_graph *)1;
    CHECK_ERROR(fa_onnx_import_buffer("\xff\xff\xff", 3, "junk.onnx", NULL, &g),
                "junk.onnx: not a valid ONNX model (protobuf parse failed)");
    CHECK(g == NULL);
    CHECK_ERROR(fa_onnx_import_buffer("", 0, "empty.onnx", NULL, &g), "empty.onnx: ");
    /* External data needs a model folder. */
    FILE *f = fopen(path_of("ext_data.onnx"), "rb");
    CHECK(f != NULL);
    if (f) {
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        CHECK_ERROR(fa_onnx_import_buffer(buf, n, "mem.onnx", NULL, &g),
                    "mem.onnx: initializer 'W': external data 'ext_data.bin' refused");
    }
    CHECK_ERROR(fa_onnx_import_file(path_of("no-such.onnx"), &g), "no-such.onnx");
    CHECK_ERROR(fa_onnx_import_file(path_of("bad/unknown_op.onnx"), &g),
                "node 'mystery' (FooBar): unsupported op");
}

static void test_tensor_files(void) {
    char *name = NULL;
    void *data = NULL;
    uint64_t nbytes = 0;
    fa_type t;
    CHECK_OK(fa_onnx_read_tensor_file(path_of("tensor_f32.pb"), &name, &t, &data, &nbytes));
    CHECK(name && strcmp(name, "x") == 0);
    CHECK(t.dtype == FA_DT_F32 && t.rank == 2 && t.dims[0].value == 2 && t.dims[1].value == 3);
    CHECK(nbytes == 24 && data && ((float *)data)[0] == -2.5f && ((float *)data)[5] == 2.5f);
    free(name);
    free(data);
    CHECK_OK(fa_onnx_read_tensor_file(path_of("tensor_i64.pb"), &name, &t, &data, &nbytes));
    CHECK(t.dtype == FA_DT_I64 && t.rank == 1 && nbytes == 32);
    CHECK(data && ((int64_t *)data)[1] == -2 && ((int64_t *)data)[3] == (int64_t)1 << 40);
    free(name);
    free(data);
    CHECK_ERROR(fa_onnx_read_tensor_file(path_of("mlp.onnx"), &name, &t, &data, &nbytes),
                "mlp.onnx");
    CHECK(name == NULL && data == NULL);
    CHECK_ERROR(fa_onnx_read_tensor_file(path_of("missing.pb"), &name, &t, &data, &nbytes),
                "missing.pb");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_onnx TESTS_FRONTEND_DIR\n");
        return 2;
    }
    dir = argv[1];
    test_mlp();
    test_external();
    test_symbolic();
    test_buffer_errors();
    test_tensor_files();
    TEST_MAIN_END();
}
