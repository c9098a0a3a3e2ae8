/* Quantization kernels: QuantizeLinear rounding (half to even) and saturation, per-axis scales,
 * DequantizeLinear, DynamicQuantizeLinear (the ONNX spec's example), MatMulInteger and
 * MatMulNBits against naive loops. */
#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;

static void test_quantize_per_tensor(void) {
    float x[] = {0, 1, 3, 5, -1, -3, 1000, -1000, 2.9999f};
    float scale = 2;
    uint8_t zp = 128;
    int64_t d[] = {9};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 1, d, x), ts = rt_view(FA_DT_F32, 0, NULL, &scale);
    fa_rt_tensor tz = rt_view(FA_DT_U8, 0, NULL, &zp), out;
    CHECK_OK(fa_rt_quantize_linear(&tx, &ts, &tz, 1, &out, al));
    /* x / 2 = 0, .5, 1.5, 2.5, -.5, -1.5, 500, -500, 1.49995 -> 0 0 2 2 0 -2 sat sat 1 */
    uint8_t want[] = {128, 128, 130, 130, 128, 126, 255, 0, 129};
    CHECK(out.dtype == FA_DT_U8 && !memcmp(out.data, want, sizeof want));
    fa_rt_tensor_free(&out, al);
    /* no zero point: u8 with zero point 0, negatives saturate to 0 */
    CHECK_OK(fa_rt_quantize_linear(&tx, &ts, NULL, 1, &out, al));
    uint8_t want0[] = {0, 0, 2, 2, 0, 0, 255, 0, 1};
    CHECK(!memcmp(out.data, want0, sizeof want0));
    fa_rt_tensor_free(&out, al);
}

static void test_quantize_per_axis(void) {
    float x[] = {2.5f, 5, 10, -130, 300, -600};
    float sc[] = {1, 2, 4};
    int8_t zp[] = {0, 1, -1};
    int64_t d[] = {2, 3}, d3[] = {3};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 2, d, x), ts = rt_view(FA_DT_F32, 1, d3, sc);
    fa_rt_tensor tz = rt_view(FA_DT_I8, 1, d3, zp), out;
    CHECK_OK(fa_rt_quantize_linear(&tx, &ts, &tz, 1, &out, al));
    int8_t want[] = {2, 3, 1, -128, 127, -128};
    CHECK(out.dtype == FA_DT_I8 && !memcmp(out.data, want, sizeof want));
    fa_rt_tensor_free(&out, al);
    /* axis 0: one scale per row */
    float sc0[] = {0.5f, 100};
    int64_t d2[] = {2};
    fa_rt_tensor ts0 = rt_view(FA_DT_F32, 1, d2, sc0);
    int8_t zp0[] = {0, 0};
    fa_rt_tensor tz0 = rt_view(FA_DT_I8, 1, d2, zp0);
    CHECK_OK(fa_rt_quantize_linear(&tx, &ts0, &tz0, 0, &out, al));
    int8_t want0[] = {5, 10, 20, -1, 3, -6}; /* -1.3 -> -1, 3 -> 3, -6 -> -6 */
    CHECK(!memcmp(out.data, want0, sizeof want0));
    fa_rt_tensor_free(&out, al);
    CHECK_ERR(fa_rt_quantize_linear(&tx, &ts, &tz, 0, &out, al), "scale has 3 entries");
}

static void test_dequantize(void) {
    uint8_t x[] = {0, 128, 255};
    float scale = 0.5f;
    uint8_t zp = 128;
    int64_t d[] = {3};
    fa_rt_tensor tx = rt_view(FA_DT_U8, 1, d, x), ts = rt_view(FA_DT_F32, 0, NULL, &scale);
    fa_rt_tensor tz = rt_view(FA_DT_U8, 0, NULL, &zp), out;
    CHECK_OK(fa_rt_dequantize_linear(&tx, &ts, &tz, 1, &out, al));
    float want[] = {-64, 0, 63.5f};
    CHECK(out.dtype == FA_DT_F32 && rt_close_f32(out.data, want, 3, 0));
    fa_rt_tensor_free(&out, al);
    int8_t xi[] = {1, 2, 3, -4}, zpi[] = {1, -1};
    float sci[] = {1, 2};
    int64_t d22[] = {2, 2}, d2[] = {2};
    fa_rt_tensor txi = rt_view(FA_DT_I8, 2, d22, xi), tsi = rt_view(FA_DT_F32, 1, d2, sci);
    fa_rt_tensor tzi = rt_view(FA_DT_I8, 1, d2, zpi);
    CHECK_OK(fa_rt_dequantize_linear(&txi, &tsi, &tzi, 0, &out, al));
    float wanti[] = {0, 1, 8, -6};
    CHECK(rt_close_f32(out.data, wanti, 4, 0));
    fa_rt_tensor_free(&out, al);
    int32_t x32 = -5;
    float s32 = 0.25f;
    fa_rt_tensor t32 = rt_view(FA_DT_I32, 0, NULL, &x32), ts32 = rt_view(FA_DT_F32, 0, NULL, &s32);
    CHECK_OK(fa_rt_dequantize_linear(&t32, &ts32, NULL, 1, &out, al));
    CHECK(*(float *)out.data == -1.25f);
    fa_rt_tensor_free(&out, al);
    CHECK_ERR(fa_rt_dequantize_linear(&tx, &ts, &tzi, 1, &out, al), "zero point dtype");
}

static void test_dynamic(void) {
    float x[] = {0, 2, -3, -2.5f, 1.34f, 0.5f};
    int64_t d[] = {6};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 1, d, x), y, s, z;
    CHECK_OK(fa_rt_dynamic_quantize_linear(&tx, &y, &s, &z, al));
    uint8_t want[] = {153, 255, 0, 26, 221, 179}; /* the ONNX operator doc's example */
    CHECK(!memcmp(y.data, want, sizeof want));
    CHECK(fabsf(*(float *)s.data - 0.0196078438f) < 1e-9f);
    CHECK(*(uint8_t *)z.data == 153 && s.rank == 0 && z.rank == 0);
    fa_rt_tensor_free(&y, al);
    fa_rt_tensor_free(&s, al);
    fa_rt_tensor_free(&z, al);
}

static void test_matmul_integer(void) {
    uint8_t a[] = {1, 2, 3, 4, 5, 6}, azp = 3;
    int8_t b[] = {1, -2, 3, 4, -5, 6}, bzp[] = {1, -1};
    int64_t da[] = {2, 3}, db[] = {3, 2}, d2[] = {2};
    fa_rt_tensor ta = rt_view(FA_DT_U8, 2, da, a), tb = rt_view(FA_DT_I8, 2, db, b);
    fa_rt_tensor taz = rt_view(FA_DT_U8, 0, NULL, &azp), tbz = rt_view(FA_DT_I8, 1, d2, bzp), out;
    CHECK_OK(fa_rt_matmul_integer(&ta, &tb, &taz, &tbz, &out, al));
    int32_t want[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            int32_t s = 0;
            for (int k = 0; k < 3; k++)
                s += (a[i * 3 + k] - azp) * (b[k * 2 + j] - bzp[j]);
            want[i * 2 + j] = s;
        }
    CHECK(out.dtype == FA_DT_I32 && !memcmp(out.data, want, sizeof want));
    fa_rt_tensor_free(&out, al);
}

static void test_matmul_nbits(void) {
    enum { M = 2, K = 20, N = 3, BS = 16, NB = 2, BLOB = 8 };
    float a[M * K], scales[N * NB], want[M * N];
    uint8_t b[N * NB * BLOB], zps[N * 1];
    for (int i = 0; i < M * K; i++)
        a[i] = (float)((i * 37) % 11) - 5;
    for (int i = 0; i < N * NB * BLOB; i++)
        b[i] = (uint8_t)(i * 29 + 3);
    for (int i = 0; i < N * NB; i++)
        scales[i] = 0.25f * (float)(i + 1);
    for (int i = 0; i < N; i++)
        zps[i] = (uint8_t)(0x8 | (0x3 + i) << 4); /* block 0 zp 8, block 1 zp 3+i */
    /* naive: w[n][k] = (code - zp) * scale, code = nibble k%16 of block k/16 (low first) */
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                int blk = k / BS, t = k % BS;
                uint8_t byte = b[(n * NB + blk) * BLOB + t / 2];
                int code = t % 2 ? byte >> 4 : byte & 15;
                int zp = blk == 0 ? 8 : 3 + n;
                s += (double)a[m * K + k] * (code - zp) * scales[n * NB + blk];
            }
            want[m * N + n] = (float)s + (float)(n + 1);
        }
    float bias[N] = {1, 2, 3};
    int64_t da[] = {M, K}, db[] = {N, NB, BLOB}, ds[] = {N, NB}, dz[] = {N}, dout[] = {M, N};
    fa_rt_tensor ta = rt_view(FA_DT_F32, 2, da, a), tb = rt_view(FA_DT_U8, 3, db, b);
    fa_rt_tensor ts = rt_view(FA_DT_F32, 2, ds, scales), tz = rt_view(FA_DT_U8, 1, dz, zps);
    fa_rt_tensor tbias = rt_view(FA_DT_F32, 1, dz, bias), out;
    CHECK_OK(fa_rt_matmul_nbits(&ta, &tb, &ts, &tz, &tbias, K, N, 4, BS, &out, al));
    CHECK(rt_shape_is(&out, 2, dout) && rt_close_f32(out.data, want, M * N, 1e-5));
    fa_rt_tensor_free(&out, al);
    CHECK_ERR(fa_rt_matmul_nbits(&ta, &tb, &ts, &tz, NULL, K + 1, N, 4, BS, &out, al),
              "last dim must be K");
}

int main(void) {
    al = fa_rt_allocator_default();
    test_quantize_per_tensor();
    test_quantize_per_axis();
    test_dequantize();
    test_dynamic();
    test_matmul_integer();
    test_matmul_nbits();
    return rt_report("test_quant");
}
