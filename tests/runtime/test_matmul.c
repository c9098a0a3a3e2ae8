/* MatMul and Gemm against naive triple loops on random shapes: odd sizes, 1-D operands, batch
 * broadcasting on either side, integer dtypes. */
#include <stdlib.h>

#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;
static uint64_t rng = 88172645463325252ull;

static uint32_t next_u32(void) { return rt_xorshift(&rng); }

static float rand_f(void) { return (float)(next_u32() % 2001) / 1000.0f - 1.0f; }

/* Broadcast offset of batch index |bi| (over out batch dims |bd|) into a tensor whose batch
 * dims are the trailing |tr| of |td| (rank |trank| minus the matrix dims). */
static uint64_t batch_off(uint64_t bi, int brank, const int64_t *bd, int trank, const int64_t *td,
                          uint64_t mat) {
    uint64_t off = 0, mul = mat;
    for (int i = brank - 1, j = trank - 1; i >= 0; i--, j--) {
        uint64_t c = bi % (uint64_t)bd[i];
        bi /= (uint64_t)bd[i];
        if (j >= 0) {
            if (td[j] != 1)
                off += c * mul;
            mul *= (uint64_t)td[j];
        }
    }
    return off;
}

static void check_matmul(int ra, const int64_t *da, int rb, const int64_t *db) {
    fa_rt_tensor a, b, out;
    CHECK_OK(fa_rt_tensor_alloc(&a, FA_DT_F32, ra, da, al));
    CHECK_OK(fa_rt_tensor_alloc(&b, FA_DT_F32, rb, db, al));
    for (uint64_t i = 0; i < fa_rt_tensor_num_elements(&a); i++)
        ((float *)a.data)[i] = rand_f();
    for (uint64_t i = 0; i < fa_rt_tensor_num_elements(&b); i++)
        ((float *)b.data)[i] = rand_f();
    CHECK_OK(fa_rt_matmul(&a, &b, &out, al));
    int64_t m = ra == 1 ? 1 : da[ra - 2], k = da[ra - 1], n = rb == 1 ? 1 : db[rb - 1];
    int bra = ra > 2 ? ra - 2 : 0, brb = rb > 2 ? rb - 2 : 0, br = bra > brb ? bra : brb;
    int64_t bd[FA_MAX_RANK];
    uint64_t nb = 1;
    for (int i = 0; i < br; i++) {
        int ia = i - (br - bra), ib = i - (br - brb);
        int64_t x = ia >= 0 ? da[ia] : 1, y = ib >= 0 ? db[ib] : 1;
        bd[i] = x > y ? x : y;
        nb *= (uint64_t)bd[i];
    }
    uint64_t want_n = nb * (uint64_t)(m * n);
    CHECK(fa_rt_tensor_num_elements(&out) == want_n);
    int want_rank = br + (ra > 1) + (rb > 1);
    CHECK(out.rank == want_rank);
    float *want = calloc(want_n ? want_n : 1, sizeof(float));
    for (uint64_t t = 0; t < nb; t++) {
        uint64_t oa = batch_off(t, br, bd, bra, da, (uint64_t)(m * k));
        uint64_t ob = batch_off(t, br, bd, brb, db, (uint64_t)(k * n));
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++)
                    s += (double)((float *)a.data)[oa + (uint64_t)(i * k + p)] *
                         (double)((float *)b.data)[ob + (uint64_t)(p * n + j)];
                want[t * (uint64_t)(m * n) + (uint64_t)(i * n + j)] = (float)s;
            }
    }
    if (fa_rt_tensor_num_elements(&out) == want_n && !rt_close_f32(out.data, want, want_n, 1e-4)) {
        fprintf(stderr, "  matmul mismatch: ranks %d x %d, m=%lld k=%lld n=%lld\n", ra, rb,
                (long long)m, (long long)k, (long long)n);
        rt_failures++;
    }
    free(want);
    fa_rt_tensor_free(&a, al);
    fa_rt_tensor_free(&b, al);
    fa_rt_tensor_free(&out, al);
}

static void test_matmul_shapes(void) {
    int64_t a1[] = {7, 13}, b1[] = {13, 5};
    check_matmul(2, a1, 2, b1);
    int64_t a2[] = {3, 1, 17}, b2[] = {17, 9}; /* batch folded into M */
    check_matmul(3, a2, 2, b2);
    int64_t a3[] = {2, 1, 5, 3}, b3[] = {4, 3, 6}; /* batch broadcast both sides */
    check_matmul(4, a3, 3, b3);
    int64_t a4[] = {11}, b4[] = {2, 11, 3}; /* 1-D A */
    check_matmul(1, a4, 3, b4);
    int64_t a5[] = {2, 4, 6}, b5[] = {6}; /* 1-D B */
    check_matmul(3, a5, 1, b5);
    int64_t a6[] = {1, 0, 3}, b6[] = {3, 2}; /* empty M */
    check_matmul(3, a6, 2, b6);
    for (int r = 0; r < 20; r++) { /* random odd shapes */
        int64_t m = 1 + next_u32() % 33, k = 1 + next_u32() % 65, n = 1 + next_u32() % 31;
        int64_t bt = 1 + next_u32() % 3;
        int64_t a[] = {bt, m, k}, b[] = {next_u32() % 2 ? bt : 1, k, n};
        check_matmul(3, a, 3, b);
    }
    float x[] = {1, 2};
    int64_t d2[] = {2}, d3[] = {3};
    float y[] = {1, 2, 3};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 1, d2, x), ty = rt_view(FA_DT_F32, 1, d3, y), out;
    CHECK_ERR(fa_rt_matmul(&tx, &ty, &out, al), "inner dimensions differ");
}

static void test_matmul_int(void) {
    int32_t a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, 0, -1, 2, 3, 1};
    int64_t da[] = {2, 3}, db[] = {3, 2}, dout[] = {2, 2};
    fa_rt_tensor ta = rt_view(FA_DT_I32, 2, da, a), tb = rt_view(FA_DT_I32, 2, db, b), out;
    CHECK_OK(fa_rt_matmul(&ta, &tb, &out, al));
    int32_t want[] = {1 - 2 + 9, 0 + 4 + 3, 4 - 5 + 18, 0 + 10 + 6};
    CHECK(rt_shape_is(&out, 2, dout) && !memcmp(out.data, want, sizeof want));
    fa_rt_tensor_free(&out, al);
}

static void test_gemm(void) {
    /* A^T is [2,3] stored as [3,2]; B [3,2]; C [2] broadcast as a row; alpha 2, beta 0.5 */
    float at[] = {1, 4, 2, 5, 3, 6}, b[] = {1, 0, 0, 1, 1, 1}, c[] = {10, 20};
    int64_t da[] = {3, 2}, db[] = {3, 2}, dc[] = {2}, dout[] = {2, 2};
    fa_rt_tensor ta = rt_view(FA_DT_F32, 2, da, at), tb = rt_view(FA_DT_F32, 2, db, b);
    fa_rt_tensor tc = rt_view(FA_DT_F32, 1, dc, c), out;
    CHECK_OK(fa_rt_gemm(&ta, &tb, &tc, 2.0, 0.5, true, false, &out, al));
    /* A = [[1,2,3],[4,5,6]]; A B = [[4,5],[10,11]] */
    float want[] = {2 * 4 + 5, 2 * 5 + 10, 2 * 10 + 5, 2 * 11 + 10};
    CHECK(rt_shape_is(&out, 2, dout) && rt_close_f32(out.data, want, 4, 1e-6));
    fa_rt_tensor_free(&out, al);
    /* transB with f64 */
    double a2[] = {1, 2, 3, 4}, b2[] = {1, 1, 0, 1}; /* B^T rows: [1,1],[0,1] -> B=[[1,0],[1,1]] */
    int64_t d22[] = {2, 2};
    fa_rt_tensor t2a = rt_view(FA_DT_F64, 2, d22, a2), t2b = rt_view(FA_DT_F64, 2, d22, b2);
    CHECK_OK(fa_rt_gemm(&t2a, &t2b, NULL, 1.0, 1.0, false, true, &out, al));
    double want2[] = {3, 2, 7, 4};
    CHECK(!memcmp(out.data, want2, sizeof want2));
    fa_rt_tensor_free(&out, al);
}

static void test_linear(void) {
    /* x [2,1,3] times W^T with W [2,3], plus bias */
    float x[] = {1, 2, 3, 4, 5, 6}, w[] = {1, 0, -1, 2, 1, 0}, bias[] = {100, 200};
    int64_t dx[] = {2, 1, 3}, dw[] = {2, 3}, db[] = {2}, dout[] = {2, 1, 2};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 3, dx, x), tw = rt_view(FA_DT_F32, 2, dw, w);
    fa_rt_tensor tb = rt_view(FA_DT_F32, 1, db, bias), out;
    CHECK_OK(fa_rt_linear(&tx, &tw, &tb, &out, al));
    float want[] = {100 + 1 - 3, 200 + 2 + 2, 100 + 4 - 6, 200 + 8 + 5};
    CHECK(rt_shape_is(&out, 3, dout) && rt_close_f32(out.data, want, 4, 0));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_linear(&tx, &tw, NULL, &out, al));
    float want2[] = {-2, 4, -2, 13};
    CHECK(rt_close_f32(out.data, want2, 4, 0));
    fa_rt_tensor_free(&out, al);
}

int main(void) {
    al = fa_rt_allocator_default();
    test_matmul_shapes();
    test_matmul_int();
    test_gemm();
    test_linear();
    return rt_report("test_matmul");
}
