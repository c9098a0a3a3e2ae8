/* Allocator failure injection: an allocator that fails on the Nth call. For every N until the
 * run succeeds, the interpreter (and a few multi-output kernels) must return an error, crash
 * nowhere, and leave no allocation behind (checked by counting; ASan checks the rest). */
#include <stdlib.h>

#include "tests/runtime/rt_test.h"

typedef struct fail_state {
    long calls, fail_at, live;
} fail_state;

static void *fail_alloc(void *user, size_t size, size_t align) {
    fail_state *st = user;
    if (++st->calls == st->fail_at)
        return NULL;
    void *p = fa_rt_allocator_default()->alloc(NULL, size, align);
    if (p)
        st->live++;
    return p;
}

static void fail_free(void *user, void *p) {
    fail_state *st = user;
    if (p)
        st->live--;
    free(p);
}

static const char graph_text[] =
    "graph @t(%x: f32[B,4], %ids: i64[2]) {\n"
    "  const @w = f32[4,4] dense<[1.0, 0.5, 0.0, 0.0, 0.0, 2.0, 0.0, 1.0, 0.0, 0.0, 3.0, 0.0, "
    "1.0, 0.0, 0.0, 4.0]>\n"
    "  const @g = f32[4] dense<[1.0, 1.0, 2.0, 2.0]>\n"
    "  %0 = matmul(%x, @w) : f32[B,4]\n"
    "  %1, %2, %3 = layer_normalization(%0, @g) {axis = -1} : f32[*], f32[*], f32[*]\n"
    "  %4 = gather(%1, %ids) {axis = 1} : f32[*]\n"
    "  %5, %6 = split(%0) {axis = 1, num_outputs = 2} : f32[*], f32[*]\n"
    "  %7 = concat(%5, %6, %4) {axis = 1} : f32[*]\n"
    "  %8, %9, %10 = dynamic_quantize_linear(%7) : u8[*], f32[*], u8[*]\n"
    "  %11 = transpose(%8) : u8[*]\n"
    "  %12 = matmul_integer(%8, %11, %10, %10) : i32[*]\n"
    "  %13 = reduce_max(%7) {keepdims = 0} : f32[*]\n"
    "  return %12 as \"q\", %2 as \"mean\", %13 as \"m\", %7 as \"c\", %7 as \"c2\"\n"
    "}\n";

int main(void) {
    fa_graph *g = NULL;
    fa_status s = fa_graph_parse(graph_text, strlen(graph_text), "t.fir", NULL, 0, &g);
    if (s) {
        fprintf(stderr, "parse failed: %s\n", fa_status_message(s));
        return 1;
    }
    float x[8] = {1, 2, 3, 4, -1, 0.5f, 2, 0};
    int64_t ids[2] = {3, 0}, dx[] = {2, 4}, di[] = {2};
    fa_rt_tensor ins[2] = {rt_view(FA_DT_F32, 2, dx, x), rt_view(FA_DT_I64, 1, di, ids)};
    fa_rt_tensor outs[5];
    fail_state st = {0, 0, 0};
    fa_rt_allocator al = {fail_alloc, fail_free, &st};
    /* reference run without failures */
    CHECK_OK(fa_rt_interp_run(g, ins, 2, outs, &al));
    long total = st.calls;
    CHECK(total > 10);
    int64_t dq[] = {2, 2};
    CHECK(rt_shape_is(&outs[0], 2, dq) && outs[0].dtype == FA_DT_I32);
    fa_rt_tensors_free(outs, 5, &al);
    CHECK(st.live == 0);
    int failures = 0;
    for (long n = 1; n <= total; n++) {
        st = (fail_state){0, n, 0};
        s = fa_rt_interp_run(g, ins, 2, outs, &al);
        if (!s) {
            fprintf(stderr, "run with allocation %ld failing succeeded\n", n);
            rt_failures++;
            fa_rt_tensors_free(outs, 5, &al);
        } else {
            if (fa_status_code_of(s) != FA_STATUS_OUT_OF_MEMORY) {
                fprintf(stderr, "allocation %ld: unexpected error %s\n", n, fa_status_message(s));
                rt_failures++;
            }
            fa_status_free(s);
            failures++;
        }
        for (int i = 0; i < 5; i++)
            CHECK(outs[i].data == NULL);
        if (st.live != 0) {
            fprintf(stderr, "allocation %ld failing leaked %ld blocks\n", n, st.live);
            rt_failures++;
        }
    }
    CHECK(failures == total);
    fa_graph_destroy(g);

    /* multi-output kernels on their own */
    float y[6] = {1, 2, 3, 4, 5, 6};
    int64_t dy[] = {2, 3};
    fa_rt_tensor ty = rt_view(FA_DT_F32, 2, dy, y), parts[3];
    for (long n = 1; n <= 3; n++) {
        st = (fail_state){0, n, 0};
        CHECK_ERR(fa_rt_split(&ty, 1, NULL, parts, 3, &al), "out of memory");
        CHECK(st.live == 0);
    }
    fa_rt_tensor q, sc, zp, mean, inv, out;
    for (long n = 1; n <= 3; n++) {
        st = (fail_state){0, n, 0};
        CHECK_ERR(fa_rt_dynamic_quantize_linear(&ty, &q, &sc, &zp, &al), "out of memory");
        CHECK(st.live == 0);
        st = (fail_state){0, n, 0};
        float gamma[3] = {1, 1, 1};
        int64_t d3[] = {3};
        fa_rt_tensor tg = rt_view(FA_DT_F32, 1, d3, gamma);
        CHECK_ERR(fa_rt_layer_norm(&ty, &tg, NULL, -1, 1e-5, &out, &mean, &inv, &al),
                  "out of memory");
        CHECK(st.live == 0);
    }
    return rt_report("test_alloc_fail");
}
