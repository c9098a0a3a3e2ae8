/* The IR interpreter end to end: small .fir graphs parsed with fa_graph_parse and run on
 * hand-computed inputs; input binding errors (missing input, dtype, static dims, symbol
 * extents) and kernel errors naming the node. */
#include <stdlib.h>

#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;

static const char graph_text[] =
    "graph @t(%x: f32[B,3], %ids: i64[2]) {\n"
    "  const @w = f32[3,2] dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]>\n"
    "  const @shape = i64[2] dense<[-1, 1]>\n"
    "  %0 = matmul(%x, @w) : f32[B,2]\n"
    "  %1 = relu(%0) : f32[B,2]\n"
    "  %2 = softmax(%1) {axis = -1} : f32[B,2]\n"
    "  %3 = gather(%x, %ids) {axis = 1} : f32[B,2]\n"
    "  %4 = reshape(%3, @shape) : f32[?,1]\n"
    "  %5 = transpose(%x) {perm = [1, 0]} : f32[3,B]\n"
    "  %6 = cast(%ids) {to = 1} : f32[2]\n"
    "  %7 = reduce_sum(%x) {axes = [0], keepdims = 0} : f32[3] loc(\"sum0\")\n"
    "  return %1 as \"relu\", %2 as \"soft\", %4 as \"flat\", %5 as \"tr\", %6 as \"c\", "
    "%7 as \"s\", @w as \"w\"\n"
    "}\n";

static fa_graph *parse(const char *text) {
    fa_graph *g = NULL;
    fa_status s = fa_graph_parse(text, strlen(text), "t.fir", NULL, 0, &g);
    if (s) {
        fprintf(stderr, "parse failed: %s\n", fa_status_message(s));
        fa_status_free(s);
        rt_failures++;
        return NULL;
    }
    return g;
}

static void test_run(void) {
    fa_graph *g = parse(graph_text);
    if (!g)
        return;
    float x[] = {1, -1, 0, 0, 1, 1}; /* B = 2 */
    int64_t ids[] = {2, -3};
    int64_t dx[] = {2, 3}, di[] = {2};
    fa_rt_tensor ins[2] = {rt_view(FA_DT_F32, 2, dx, x), rt_view(FA_DT_I64, 1, di, ids)};
    fa_rt_tensor outs[7];
    CHECK(fa_graph_num_outputs(g) == 7);
    CHECK_OK(fa_rt_interp_run(g, ins, 2, outs, al));
    /* x @ w: row0 = [1-3, 2-4] = [-2,-2] -> relu 0,0; row1 = [3+5, 4+6] = [8, 10] */
    float relu[] = {0, 0, 8, 10};
    CHECK(rt_close_f32(outs[0].data, relu, 4, 0));
    double e = exp(-2.0);
    float soft[] = {0.5f, 0.5f, (float)(e / (1 + e)), (float)(1 / (1 + e))};
    CHECK(rt_close_f32(outs[1].data, soft, 4, 1e-6));
    int64_t dflat[] = {4, 1};
    float flat[] = {0, 1, 1, 0}; /* columns 2 and 0 */
    CHECK(rt_shape_is(&outs[2], 2, dflat) && rt_close_f32(outs[2].data, flat, 4, 0));
    int64_t dtr[] = {3, 2};
    float tr[] = {1, 0, -1, 1, 0, 1};
    CHECK(rt_shape_is(&outs[3], 2, dtr) && rt_close_f32(outs[3].data, tr, 6, 0));
    float c[] = {2, -3};
    CHECK(outs[4].dtype == FA_DT_F32 && rt_close_f32(outs[4].data, c, 2, 0));
    float s[] = {1, 0, 1};
    CHECK(rt_close_f32(outs[5].data, s, 3, 0));
    float w[] = {1, 2, 3, 4, 5, 6};
    CHECK(rt_close_f32(outs[6].data, w, 6, 0));
    fa_rt_tensors_free(outs, 7, al);

    /* B = 1 works too: symbols bind per run */
    int64_t dx1[] = {1, 3};
    ins[0] = rt_view(FA_DT_F32, 2, dx1, x);
    CHECK_OK(fa_rt_interp_run(g, ins, 2, outs, al));
    CHECK(outs[0].rank == 2 && outs[0].dims[0] == 1);
    fa_rt_tensors_free(outs, 7, al);

    /* binding errors name the input */
    CHECK_ERR(fa_rt_interp_run(g, ins, 1, outs, al), "input 'ids' is missing");
    fa_rt_tensor three[3] = {ins[0], ins[1], ins[1]};
    CHECK_ERR(fa_rt_interp_run(g, three, 3, outs, al), "3 inputs given, the graph has 2");
    fa_rt_tensor bad = ins[1];
    ins[1].dtype = FA_DT_INVALID;
    CHECK_ERR(fa_rt_interp_run(g, ins, 2, outs, al), "input 'ids' is missing");
    ins[1] = rt_view(FA_DT_I32, 1, di, ids);
    CHECK_ERR(fa_rt_interp_run(g, ins, 2, outs, al), "input 'ids': dtype i32, expected i64");
    int64_t d3[] = {3};
    ins[1] = rt_view(FA_DT_I64, 1, d3, ids);
    CHECK_ERR(fa_rt_interp_run(g, ins, 2, outs, al), "input 'ids': dim 0 is 3, expected 2");
    ins[1] = bad;
    int64_t dx4[] = {1, 4};
    ins[0] = rt_view(FA_DT_F32, 2, dx4, x);
    CHECK_ERR(fa_rt_interp_run(g, ins, 2, outs, al), "input 'x': dim 1 is 4, expected 3");
    ins[0] = rt_view(FA_DT_F32, 1, dx1 + 1, x);
    CHECK_ERR(fa_rt_interp_run(g, ins, 2, outs, al), "input 'x': rank 1, expected 2");
    /* a kernel error names the node: index out of range in gather */
    ins[0] = rt_view(FA_DT_F32, 2, dx, x);
    int64_t bad_ids[] = {0, 3};
    ins[1] = rt_view(FA_DT_I64, 1, di, bad_ids);
    CHECK_ERR(fa_rt_interp_run(g, ins, 2, outs, al), "(gather): Gather: index 3 out of range");
    for (int i = 0; i < 7; i++)
        CHECK(outs[i].data == NULL);
    fa_graph_destroy(g);
}

static void test_symbols(void) {
    fa_graph *g = parse("graph @s(%a: f32[B,T], %b: f32[T]) {\n"
                        "  %0 = add(%a, %b) : f32[B,T] loc(\"plus\")\n"
                        "  %1 = unsqueeze(%0) {axes = [0]} : f32[1,B,T]\n"
                        "  %2 = squeeze(%1) {axes = [0]} : f32[B,T]\n"
                        "  return %2 as \"y\"\n"
                        "}\n");
    if (!g)
        return;
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30};
    int64_t da[] = {2, 3}, db[] = {3}, db2[] = {2};
    fa_rt_tensor ins[2] = {rt_view(FA_DT_F32, 2, da, a), rt_view(FA_DT_F32, 1, db, b)}, out;
    CHECK_OK(fa_rt_interp_run(g, ins, 2, &out, al));
    float want[] = {11, 22, 33, 14, 25, 36};
    CHECK(rt_shape_is(&out, 2, da) && rt_close_f32(out.data, want, 6, 0));
    fa_rt_tensor_free(&out, al);
    ins[1] = rt_view(FA_DT_F32, 1, db2, b);
    CHECK_ERR(fa_rt_interp_run(g, ins, 2, &out, al),
              "input 'b': dim 0 (T) is 2, but T is 3 in input 'a'");
    fa_graph_destroy(g);
}

static void test_node_error(void) {
    fa_graph *g = parse("graph @e(%a: i64[2], %b: i64[2]) {\n"
                        "  %0 = div(%a, %b) : i64[2] loc(\"the_div\")\n"
                        "  return %0 as \"y\"\n"
                        "}\n");
    if (!g)
        return;
    int64_t a[] = {4, 5}, b[] = {2, 0}, d[] = {2};
    fa_rt_tensor ins[2] = {rt_view(FA_DT_I64, 1, d, a), rt_view(FA_DT_I64, 1, d, b)}, out;
    CHECK_ERR(fa_rt_interp_run(g, ins, 2, &out, al),
              "node 'the_div' (div): Div: integer division by zero");
    fa_graph_destroy(g);
}

int main(void) {
    al = fa_rt_allocator_default();
    test_run();
    test_symbols();
    test_node_error();
    return rt_report("test_interp");
}
