/* Elementwise kernels: ONNX multidirectional broadcasting against hand-computed results, plus
 * dtype rules and errors. */
#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;

static void test_add_row_col(void) {
    /* [2,1] + [3] -> [2,3] */
    float a[] = {10, 20}, b[] = {1, 2, 3};
    int64_t da[] = {2, 1}, db[] = {3}, want_dims[] = {2, 3};
    fa_rt_tensor ta = rt_view(FA_DT_F32, 2, da, a), tb = rt_view(FA_DT_F32, 1, db, b), out;
    CHECK_OK(fa_rt_binary(FA_RT_ADD, &ta, &tb, &out, al));
    float want[] = {11, 12, 13, 21, 22, 23};
    CHECK(rt_shape_is(&out, 2, want_dims));
    CHECK(rt_close_f32(out.data, want, 6, 0));
    fa_rt_tensor_free(&out, al);
    /* b - a, swapped operands */
    CHECK_OK(fa_rt_binary(FA_RT_SUB, &tb, &ta, &out, al));
    float want2[] = {-9, -8, -7, -19, -18, -17};
    CHECK(rt_close_f32(out.data, want2, 6, 0));
    fa_rt_tensor_free(&out, al);
}

static void test_middle_broadcast(void) {
    /* [2,1,3] * [1,2,1] -> [2,2,3] */
    float a[] = {1, 2, 3, 4, 5, 6}, b[] = {10, 100};
    int64_t da[] = {2, 1, 3}, db[] = {1, 2, 1}, wd[] = {2, 2, 3};
    fa_rt_tensor ta = rt_view(FA_DT_F32, 3, da, a), tb = rt_view(FA_DT_F32, 3, db, b), out;
    CHECK_OK(fa_rt_binary(FA_RT_MUL, &ta, &tb, &out, al));
    float want[] = {10, 20, 30, 100, 200, 300, 40, 50, 60, 400, 500, 600};
    CHECK(rt_shape_is(&out, 3, wd));
    CHECK(rt_close_f32(out.data, want, 12, 0));
    fa_rt_tensor_free(&out, al);
    /* scalar (rank 0) with a [2,1,3]: division, f64 path */
    double s = 2, a64[] = {1, 2, 3, 4, 5, 6};
    fa_rt_tensor ts = rt_view(FA_DT_F64, 0, NULL, &s), t64 = rt_view(FA_DT_F64, 3, da, a64);
    CHECK_OK(fa_rt_binary(FA_RT_DIV, &ts, &t64, &out, al));
    CHECK(rt_shape_is(&out, 3, da));
    CHECK(((double *)out.data)[0] == 2.0 && ((double *)out.data)[3] == 0.5);
    fa_rt_tensor_free(&out, al);
}

static void test_int_ops(void) {
    int64_t a[] = {7, -7, 7, -7}, b[] = {3, 3, -3, -3}, d4[] = {4};
    fa_rt_tensor ta = rt_view(FA_DT_I64, 1, d4, a), tb = rt_view(FA_DT_I64, 1, d4, b), out;
    CHECK_OK(fa_rt_binary(FA_RT_DIV, &ta, &tb, &out, al));
    int64_t q[] = {2, -2, -2, 2}; /* truncation toward zero */
    CHECK(!memcmp(out.data, q, sizeof q));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_binary(FA_RT_MOD, &ta, &tb, &out, al));
    int64_t m[] = {1, 2, -2, -1}; /* sign of the divisor (fmod = 0) */
    CHECK(!memcmp(out.data, m, sizeof m));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_binary(FA_RT_FMOD, &ta, &tb, &out, al));
    int64_t fm[] = {1, -1, 1, -1}; /* sign of the dividend (fmod = 1) */
    CHECK(!memcmp(out.data, fm, sizeof fm));
    fa_rt_tensor_free(&out, al);
    int64_t z[] = {1, 0, 1, 1};
    fa_rt_tensor tz = rt_view(FA_DT_I64, 1, d4, z);
    CHECK_ERR(fa_rt_binary(FA_RT_DIV, &ta, &tz, &out, al), "division by zero");
    CHECK(out.data == NULL);
    /* i32 wraps */
    int32_t big[] = {INT32_MAX}, one[] = {1};
    int64_t d1[] = {1};
    fa_rt_tensor tbig = rt_view(FA_DT_I32, 1, d1, big), tone = rt_view(FA_DT_I32, 1, d1, one);
    CHECK_OK(fa_rt_binary(FA_RT_ADD, &tbig, &tone, &out, al));
    CHECK(((int32_t *)out.data)[0] == INT32_MIN);
    fa_rt_tensor_free(&out, al);
}

static void test_compare_logic_where(void) {
    float a[] = {1, 2, 3}, b[] = {2};
    int64_t d3[] = {3}, d1[] = {1};
    fa_rt_tensor ta = rt_view(FA_DT_F32, 1, d3, a), tb = rt_view(FA_DT_F32, 1, d1, b), out;
    CHECK_OK(fa_rt_binary(FA_RT_LESS, &ta, &tb, &out, al));
    uint8_t lt[] = {1, 0, 0};
    CHECK(out.dtype == FA_DT_BOOL && !memcmp(out.data, lt, 3));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_binary(FA_RT_GREATER_EQUAL, &ta, &tb, &out, al));
    uint8_t ge[] = {0, 1, 1};
    CHECK(!memcmp(out.data, ge, 3));
    fa_rt_tensor_free(&out, al);
    uint8_t p[] = {1, 1, 0, 0}, q[] = {1, 0, 1, 0};
    int64_t d22[] = {2, 2}, d4[] = {4};
    fa_rt_tensor tp = rt_view(FA_DT_BOOL, 1, d4, p), tq = rt_view(FA_DT_BOOL, 1, d4, q);
    CHECK_OK(fa_rt_binary(FA_RT_XOR, &tp, &tq, &out, al));
    uint8_t x[] = {0, 1, 1, 0};
    CHECK(!memcmp(out.data, x, 4));
    fa_rt_tensor_free(&out, al);
    CHECK_ERR(fa_rt_binary(FA_RT_AND, &ta, &tb, &out, al), "And: unsupported dtype f32");
    /* Where: cond [2,1], x [2] , y scalar -> [2,2] */
    uint8_t c[] = {1, 0};
    int64_t d21[] = {2, 1}, d2[] = {2};
    float xv[] = {5, 6}, yv = -1;
    fa_rt_tensor tc = rt_view(FA_DT_BOOL, 2, d21, c), tx = rt_view(FA_DT_F32, 1, d2, xv);
    fa_rt_tensor ty = rt_view(FA_DT_F32, 0, NULL, &yv);
    CHECK_OK(fa_rt_where(&tc, &tx, &ty, &out, al));
    float w[] = {5, 6, -1, -1};
    CHECK(rt_shape_is(&out, 2, d22) && rt_close_f32(out.data, w, 4, 0));
    fa_rt_tensor_free(&out, al);
}

static void test_variadic_and_errors(void) {
    float a[] = {1, 5}, b[] = {3}, c[] = {2, 2};
    int64_t d2[] = {2}, d1[] = {1};
    fa_rt_tensor ta = rt_view(FA_DT_F32, 1, d2, a), tb = rt_view(FA_DT_F32, 1, d1, b);
    fa_rt_tensor tc = rt_view(FA_DT_F32, 1, d2, c), out;
    const fa_rt_tensor *ins[] = {&ta, &tb, &tc};
    CHECK_OK(fa_rt_variadic(FA_RT_MAX, false, ins, 3, &out, al));
    float mx[] = {3, 5};
    CHECK(rt_close_f32(out.data, mx, 2, 0));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_variadic(FA_RT_ADD, true, ins, 3, &out, al));
    float mean[] = {2, 10.0f / 3};
    CHECK(rt_close_f32(out.data, mean, 2, 1e-6));
    fa_rt_tensor_free(&out, al);
    int64_t d3[] = {3};
    float e[] = {1, 2, 3};
    fa_rt_tensor te = rt_view(FA_DT_F32, 1, d3, e);
    CHECK_ERR(fa_rt_binary(FA_RT_ADD, &ta, &te, &out, al), "do not broadcast");
    int64_t iv[] = {1, 2};
    fa_rt_tensor ti = rt_view(FA_DT_I64, 1, d2, iv);
    CHECK_ERR(fa_rt_binary(FA_RT_ADD, &ta, &ti, &out, al), "dtypes differ");
    /* Pow: f32 base, i64 exponent -> f32 */
    CHECK_OK(fa_rt_binary(FA_RT_POW, &ta, &ti, &out, al));
    float pw[] = {1, 25};
    CHECK(out.dtype == FA_DT_F32 && rt_close_f32(out.data, pw, 2, 0));
    fa_rt_tensor_free(&out, al);
    uint16_t h[] = {0x3c00, 0x4000}; /* f16 1.0, 2.0 */
    fa_rt_tensor th = rt_view(FA_DT_F16, 1, d2, h);
    CHECK_OK(fa_rt_binary(FA_RT_MUL, &th, &th, &out, al));
    CHECK(((uint16_t *)out.data)[1] == 0x4400); /* 4.0 */
    fa_rt_tensor_free(&out, al);
}

int main(void) {
    al = fa_rt_allocator_default();
    test_add_row_col();
    test_middle_broadcast();
    test_int_ops();
    test_compare_logic_where();
    test_variadic_and_errors();
    return rt_report("test_broadcast");
}
