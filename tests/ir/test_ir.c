/* Unit tests of the IR API: building, use lists, mutation, verifier diagnostics, types, printing
 * and parsing. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir/ir.h"
#include "tests/test_util.h"

static fa_type ty(fa_dtype dt, int rank, const int64_t *dims) { return fa_type_make(dt, rank, dims); }

/* x: f32[B,4]; w: f32[4,4] const; y = relu(matmul(x, w)); outputs y. */
static fa_graph *make_mlp(fa_node **out_mm, fa_node **out_relu) {
    fa_graph *g = fa_graph_create("mlp");
    fa_type tx = ty(FA_DT_F32, 2, (int64_t[]){0, 4});
    tx.dims[0].sym = fa_graph_intern_cstr(g, "B");
    fa_value *x = fa_graph_add_input(g, "x", &tx);
    float wdata[16];
    for (int i = 0; i < 16; i++)
        wdata[i] = (float)i * 0.5f - 3.0f;
    fa_type tw = ty(FA_DT_F32, 2, (int64_t[]){4, 4});
    fa_value *w;
    CHECK_OK(fa_graph_add_const(g, "w", &tw, wdata, sizeof wdata, &w));
    fa_node *mm = fa_graph_create_node(g, NULL, FA_OP_MAT_MUL, (fa_value *[]){x, w}, 2, &tx, 1);
    fa_node *relu = fa_graph_create_node(g, NULL, FA_OP_RELU, mm->results, 1, &tx, 1);
    fa_node_set_name(g, relu, "act");
    fa_graph_add_output(g, "y", relu->results[0]);
    if (out_mm)
        *out_mm = mm;
    if (out_relu)
        *out_relu = relu;
    return g;
}

static void test_build_and_uses(void) {
    fa_node *mm, *relu;
    fa_graph *g = make_mlp(&mm, &relu);
    CHECK_OK(fa_graph_verify(g));
    fa_value *x = fa_graph_input(g, 0), *w = fa_graph_const(g, 0);
    CHECK(x->num_uses == 1 && x->uses[0].node == mm && x->uses[0].operand == 0);
    CHECK(w->num_uses == 1 && w->uses[0].operand == 1);
    CHECK(mm->results[0]->num_uses == 1);
    CHECK(fa_graph_num_nodes(g) == 2);
    CHECK(fa_graph_find_value(g, "w") == w);
    CHECK(fa_graph_find_value(g, "nope") == NULL);
    CHECK(fa_value_is_output(g, relu->results[0]));

    /* Replace x by a new input everywhere: use lists follow. */
    fa_value *x2 = fa_graph_add_input(g, "x2", &x->type);
    fa_value_replace_uses(g, x, x2);
    CHECK(x->num_uses == 0 && x2->num_uses == 1 && mm->operands[0] == x2);
    CHECK_OK(fa_graph_verify(g));

    /* A second relu reading the first; then bypass and erase the first. */
    fa_node *relu2 = fa_graph_create_node(g, NULL, FA_OP_RELU, relu->results, 1,
                                          &relu->results[0]->type, 1);
    fa_graph_set_output_value(g, 0, relu2->results[0]);
    CHECK_OK(fa_graph_verify(g));
    fa_node_set_operand(g, relu2, 0, mm->results[0]);
    CHECK(relu->results[0]->num_uses == 0 && mm->results[0]->num_uses == 2);
    fa_graph_erase_node(g, relu);
    CHECK(relu->dead && fa_graph_num_nodes(g) == 2 && mm->results[0]->num_uses == 1);
    CHECK_OK(fa_graph_verify(g));
    fa_graph_compact(g);
    CHECK_OK(fa_graph_verify(g));
    CHECK(fa_graph_num_values(g) == 5); /* x, x2, w, mm, relu2 */
    fa_graph_destroy(g);
}

static void test_replace_moves_outputs(void) {
    fa_node *mm, *relu;
    fa_graph *g = make_mlp(&mm, &relu);
    fa_value_replace_uses(g, relu->results[0], mm->results[0]);
    CHECK(fa_graph_output(g, 0)->value == mm->results[0]);
    CHECK(strcmp(fa_graph_output(g, 0)->name, "y") == 0);
    fa_graph_erase_node(g, relu);
    CHECK_OK(fa_graph_verify(g));
    char *text = fa_graph_print_to_string(g, NULL);
    CHECK(text && strstr(text, "return %0 as \"y\""));
    free(text);
    fa_graph_destroy(g);
}

static void test_verifier_catches(void) {
    fa_node *mm, *relu;
    /* Use before definition. */
    fa_graph *g = make_mlp(&mm, &relu);
    fa_graph_move_node(g, relu, mm);
    CHECK_ERROR(fa_graph_verify(g), "used before it is defined");
    fa_graph_destroy(g);
    /* Unknown attribute, and a wrongly typed one. */
    g = make_mlp(&mm, &relu);
    fa_node_set_attr_int(g, relu, "bogus", 1);
    CHECK_ERROR(fa_graph_verify(g), "node 'act' (relu): unknown attribute 'bogus'");
    fa_graph_destroy(g);
    g = make_mlp(&mm, &relu);
    fa_node *cat = fa_graph_create_node(g, NULL, FA_OP_CONCAT, relu->results, 1,
                                        &relu->results[0]->type, 1);
    CHECK_ERROR(fa_graph_verify(g), "missing required attribute 'axis'");
    fa_node_set_attr_string(g, cat, "axis", "one");
    CHECK_ERROR(fa_graph_verify(g), "attribute 'axis' is string, expected int");
    fa_node_set_attr_int(g, cat, "axis", 1);
    CHECK_OK(fa_graph_verify(g));
    fa_graph_destroy(g);
    /* Arity. */
    g = make_mlp(&mm, &relu);
    fa_graph_create_node(g, NULL, FA_OP_ADD, relu->results, 1, &relu->results[0]->type, 1);
    CHECK_ERROR(fa_graph_verify(g), "has 1 operands, expected 2");
    fa_graph_destroy(g);
    /* Result type contradicting the shape rule. */
    g = make_mlp(&mm, &relu);
    mm->results[0]->type.dims[1].value = 5;
    CHECK_ERROR(fa_graph_verify(g), "result 0 has type f32[B,5] but the operands give f32[B,4]");
    fa_graph_destroy(g);
    /* Broken use list (simulating a pass that edited operands by hand). */
    g = make_mlp(&mm, &relu);
    relu->operands[0] = fa_graph_input(g, 0);
    CHECK_ERROR(fa_graph_verify(g), "uses");
    relu->operands[0] = mm->results[0];
    CHECK_OK(fa_graph_verify(g));
    /* Duplicate names. */
    fa_value_set_name(g, mm->results[0], "x");
    CHECK_ERROR(fa_graph_verify(g), "two values are named 'x'");
    fa_graph_destroy(g);
}

static void test_types(void) {
    fa_type t = ty(FA_DT_I4, 1, (int64_t[]){5});
    uint64_t n;
    CHECK_OK(fa_type_num_bytes(&t, &n));
    CHECK(n == 3);
    t = ty(FA_DT_F32, 3, (int64_t[]){1LL << 40, 1LL << 40, 16});
    CHECK_ERROR(fa_type_num_elements(&t, &n), "overflows");
    t = ty(FA_DT_F32, 2, (int64_t[]){1LL << 31, 1LL << 31});
    CHECK_ERROR(fa_type_num_bytes(&t, &n), "overflows");
    CHECK(fa_dtype_from_name("bf16", 4) == FA_DT_BF16);
    CHECK(fa_dtype_from_name("f33", 3) == FA_DT_INVALID);
    fa_type a = ty(FA_DT_F32, 3, (int64_t[]){2, 1, 4}), b = ty(FA_DT_F32, 2, (int64_t[]){3, 1}), c;
    CHECK_OK(fa_shape_broadcast(&a, &b, &c));
    CHECK(c.rank == 3 && c.dims[0].value == 2 && c.dims[1].value == 3 && c.dims[2].value == 4);
    b = ty(FA_DT_F32, 1, (int64_t[]){3});
    CHECK_ERROR(fa_shape_broadcast(&a, &b, &c), "cannot broadcast dims 4 and 3");
}

static void test_intern(void) {
    fa_graph *g = fa_graph_create(NULL);
    const char *a = fa_graph_intern_cstr(g, "sym");
    char buf[] = "sym";
    CHECK(a == fa_graph_intern(g, buf, 3));
    CHECK(a != fa_graph_intern_cstr(g, "sym2"));
    for (int i = 0; i < 5000; i++) { /* force rehashing */
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        fa_graph_intern_cstr(g, k);
    }
    CHECK(a == fa_graph_intern_cstr(g, "sym"));
    CHECK(strcmp(fa_graph_intern_cstr(g, "k4999"), "k4999") == 0);
    fa_graph_destroy(g);
}

static void test_attrs(void) {
    fa_node *mm, *relu;
    fa_graph *g = make_mlp(&mm, &relu);
    fa_node_set_attr_int(g, mm, "zeta", 1);
    fa_node_set_attr_ints(g, mm, "alpha", (int64_t[]){1, 2, 3}, 3);
    fa_node_set_attr_float(g, mm, "mid", 0.25);
    CHECK(mm->num_attrs == 3);
    CHECK(strcmp(mm->attrs[0].name, "alpha") == 0 && strcmp(mm->attrs[2].name, "zeta") == 0);
    fa_node_set_attr_int(g, mm, "zeta", 7); /* replaces */
    CHECK(mm->num_attrs == 3 && fa_node_attr_int(mm, "zeta", 0) == 7);
    CHECK(fa_node_attr_float(mm, "mid", 0) == 0.25);
    CHECK(fa_node_attr_int(mm, "missing", -5) == -5);
    CHECK(fa_node_remove_attr(mm, "mid") && !fa_node_attr(mm, "mid"));
    CHECK(!fa_node_remove_attr(mm, "mid"));
    /* The printer writes attributes sorted by name, whatever order they were set in. */
    fa_node_set_attr_float(g, mm, "beta", 0.5);
    char *text = fa_graph_print_to_string(g, NULL);
    CHECK(text && strstr(text, "{alpha = [1, 2, 3], beta = 0.5, zeta = 7}"));
    free(text);
    fa_graph_destroy(g);
}

static void test_print_parse_roundtrip(void) {
    fa_node *mm, *relu;
    fa_graph *g = make_mlp(&mm, &relu);
    fa_node_set_name(g, mm, "q \"proj\"\n");
    char *a = fa_graph_print_to_string(g, NULL);
    char *again = fa_graph_print_to_string(g, NULL);
    CHECK(a && again && strcmp(a, again) == 0);
    fa_graph *g2;
    CHECK_OK(fa_graph_parse(a, strlen(a), "a.fir", NULL, 0, &g2));
    if (g2) {
        char *b = fa_graph_print_to_string(g2, NULL);
        CHECK(b && strcmp(a, b) == 0);
        if (b && strcmp(a, b) != 0)
            fprintf(stderr, "first:\n%s\nsecond:\n%s\n", a, b);
        free(b);
        /* The constant's bytes survive exactly. */
        const fa_tensor *t1 = fa_graph_const(g, 0)->tensor, *t2 = fa_graph_const(g2, 0)->tensor;
        CHECK(fa_tensor_equal(t1, t2));
        fa_graph_destroy(g2);
    }
    CHECK(strstr(a, "loc(\"q \\\"proj\\\"\\n\")") != NULL);
    free(a);
    free(again);
    fa_graph_destroy(g);
}

static void test_float_text(void) {
    /* Awkward floats survive the text form bit for bit. */
    const char *src = "graph @g(%x: f32[3]) {\n"
                      "  const @c = f32[6] dense<[0.1, -0.0, 1e-45, 3.40282347e+38, inf, -inf]>\n"
                      "  %0 = add(%x, @c) : f32[*]\n"
                      "  return %0 as \"y\"\n}\n";
    fa_graph *g;
    CHECK_ERROR(fa_graph_parse(src, strlen(src), "f.fir", NULL, 0, &g), "cannot broadcast");
    const char *src2 = "graph @g(%x: f32[6]) {\n"
                       "  const @c = f32[6] dense<[0.1, -0.0, 1e-45, 3.40282347e+38, inf, -inf]>\n"
                       "  %0 = add(%x, @c) {} : f32[6]\n"
                       "  %1 = leaky_relu(%0) {alpha = 0.1} : f32[6]\n"
                       "  return %1 as \"y\"\n}\n";
    CHECK_OK(fa_graph_parse(src2, strlen(src2), "f.fir", NULL, 0, &g));
    if (!g)
        return;
    const float *c = fa_graph_const(g, 0)->tensor->data;
    CHECK(c[0] == 0.1f && c[1] == 0.0f && c[2] == 1e-45f && c[2] > 0 && c[4] > 1e38f);
    char *a = fa_graph_print_to_string(g, NULL);
    fa_graph *g2;
    CHECK_OK(fa_graph_parse(a, strlen(a), "f2.fir", NULL, 0, &g2));
    if (g2) {
        CHECK(fa_tensor_equal(fa_graph_const(g, 0)->tensor, fa_graph_const(g2, 0)->tensor));
        CHECK(memcmp(&fa_graph_first_node(g)->next->attrs[0].u.f,
                     &fa_graph_first_node(g2)->next->attrs[0].u.f, sizeof(double)) == 0);
        fa_graph_destroy(g2);
    }
    CHECK(strstr(a, "-0.0") != NULL);
    free(a);
    fa_graph_destroy(g);
}

static void test_mapped_const(void) {
    char dir[] = "/tmp/fa_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/w.bin", dir);
    FILE *f = fopen(path, "wb");
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    fwrite(data, sizeof data, 1, f);
    fclose(f);
    fa_graph *g = fa_graph_create("m");
    fa_type t = ty(FA_DT_F32, 1, (int64_t[]){4});
    fa_value *v;
    CHECK_OK(fa_graph_add_const_mapped(g, "w", &t, path, "w.bin", 16, &v));
    CHECK(v && ((const float *)v->tensor->data)[0] == 5.0f);
    CHECK_ERROR(fa_graph_add_const_mapped(g, "w2", &t, path, "w.bin", 20, &v), "the file has 32");
    /* The text form keeps the reference; it parses back relative to the folder. */
    fa_node *n = fa_graph_create_node(g, NULL, FA_OP_NEG, (fa_value *[]){fa_graph_const(g, 0)}, 1, &t, 1);
    fa_graph_add_output(g, "y", n->results[0]);
    char *text = fa_graph_print_to_string(g, NULL);
    CHECK(text && strstr(text, "const @w = f32[4] file<\"w.bin\", 16>"));
    fa_graph *g2;
    CHECK_OK(fa_graph_parse(text, strlen(text), "m.fir", dir, 0, &g2));
    if (g2) {
        CHECK(((const float *)fa_graph_const(g2, 0)->tensor->data)[3] == 8.0f);
        fa_graph_destroy(g2);
    }
    free(text);
    fa_graph_destroy(g);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_build_and_uses();
    test_replace_moves_outputs();
    test_verifier_catches();
    test_types();
    test_intern();
    test_attrs();
    test_print_parse_roundtrip();
    test_float_text();
    test_mapped_const();
    TEST_MAIN_END();
}
