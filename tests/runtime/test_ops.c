/* Shape, index, reduction, normalization, convolution, unary and cast kernels on small
 * hand-computed cases, including the ONNX corner cases (0 / -1 in Reshape, negative and clamped
 * Slice steps, negative indices, Pad modes, auto_pad). */
#include <stdlib.h>

#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;

#define I64V(name, ...)                                                                            \
    int64_t name##_v[] = {__VA_ARGS__};                                                            \
    int64_t name##_d[] = {sizeof name##_v / sizeof name##_v[0]};                                   \
    fa_rt_tensor name = rt_view(FA_DT_I64, 1, name##_d, name##_v)

static bool f32_is(const fa_rt_tensor *t, int rank, const int64_t *dims, const float *want) {
    if (t->dtype != FA_DT_F32 || !rt_shape_is(t, rank, dims)) {
        char b[96];
        fprintf(stderr, "  got %s\n", fa_rt_tensor_describe(t, b, sizeof b));
        return false;
    }
    return rt_close_f32(t->data, want, fa_rt_tensor_num_elements(t), 1e-5);
}

static float seq[24] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                        12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};

static void test_reshape_family(void) {
    int64_t d234[] = {2, 3, 4};
    fa_rt_tensor x = rt_view(FA_DT_F32, 3, d234, seq), out;
    I64V(shape, 0, -1);
    CHECK_OK(fa_rt_reshape(&x, &shape, false, &out, al));
    int64_t d2_12[] = {2, 12};
    CHECK(rt_shape_is(&out, 2, d2_12));
    fa_rt_tensor_free(&out, al);
    I64V(shape0, 0, 24);
    CHECK_ERR(fa_rt_reshape(&x, &shape0, true, &out, al), "cannot reshape");
    I64V(bad, -1, -1);
    CHECK_ERR(fa_rt_reshape(&x, &bad, false, &out, al), "more than one -1");
    int64_t perm[] = {2, 0, 1}, d423[] = {4, 2, 3};
    CHECK_OK(fa_rt_transpose(&x, perm, 3, &out, al));
    CHECK(rt_shape_is(&out, 3, d423));
    /* out[i][j][k] = x[j][k][i] */
    CHECK(((float *)out.data)[1] == 4 && ((float *)out.data)[3] == 12 &&
          ((float *)out.data)[6] == 1);
    fa_rt_tensor_free(&out, al);
    int64_t ax[] = {-1, 0}, du[] = {1, 2, 3, 4, 1};
    CHECK_OK(fa_rt_unsqueeze(&x, ax, 2, &out, al));
    CHECK(rt_shape_is(&out, 5, du));
    fa_rt_tensor sq;
    CHECK_OK(fa_rt_squeeze(&out, NULL, 0, &sq, al));
    CHECK(rt_shape_is(&sq, 3, d234));
    fa_rt_tensor_free(&sq, al);
    int64_t ax1[] = {1};
    CHECK_ERR(fa_rt_squeeze(&out, ax1, 1, &sq, al), "cannot squeeze axis 1");
    fa_rt_tensor_free(&out, al);
    int64_t df0[] = {1, 24}, dfm1[] = {6, 4};
    CHECK_OK(fa_rt_flatten(&x, 0, &out, al));
    CHECK(rt_shape_is(&out, 2, df0));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_flatten(&x, -1, &out, al));
    CHECK(rt_shape_is(&out, 2, dfm1));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_shape(&x, -2, 0, false, &out, al));
    CHECK(out.dims[0] == 2 && ((int64_t *)out.data)[0] == 3 && ((int64_t *)out.data)[1] == 4);
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_size(&x, &out, al));
    CHECK(out.rank == 0 && *(int64_t *)out.data == 24);
    fa_rt_tensor_free(&out, al);
}

static void test_concat_split_slice(void) {
    int64_t d22[] = {2, 2}, d21[] = {2, 1}, d23[] = {2, 3};
    float a[] = {1, 2, 3, 4}, b[] = {5, 6};
    fa_rt_tensor ta = rt_view(FA_DT_F32, 2, d22, a), tb = rt_view(FA_DT_F32, 2, d21, b), out;
    const fa_rt_tensor *ins[] = {&ta, &tb};
    CHECK_OK(fa_rt_concat(ins, 2, -1, &out, al));
    float cat[] = {1, 2, 5, 3, 4, 6};
    CHECK(f32_is(&out, 2, d23, cat));
    fa_rt_tensor parts[3];
    I64V(sizes, 1, 2);
    CHECK_OK(fa_rt_split(&out, 1, &sizes, parts, 2, al));
    float p0[] = {1, 3}, p1[] = {2, 5, 4, 6};
    CHECK(f32_is(&parts[0], 2, d21, p0) && f32_is(&parts[1], 2, d22, p1));
    fa_rt_tensors_free(parts, 2, al);
    fa_rt_tensor_free(&out, al);
    int64_t d5[] = {5}, d2[] = {2}, d1[] = {1};
    fa_rt_tensor t5 = rt_view(FA_DT_F32, 1, d5, seq);
    CHECK_OK(fa_rt_split(&t5, 0, NULL, parts, 3, al)); /* 5 into 3: 2, 2, 1 */
    float s2[] = {4};
    CHECK(rt_shape_is(&parts[0], 1, d2) && rt_shape_is(&parts[1], 1, d2));
    CHECK(f32_is(&parts[2], 1, d1, s2));
    fa_rt_tensors_free(parts, 3, al);
    int64_t d10[] = {10};
    fa_rt_tensor t10 = rt_view(FA_DT_F32, 1, d10, seq);
    I64V(st, -1);
    I64V(en, -100);
    I64V(step, -3);
    CHECK_OK(fa_rt_slice(&t10, &st, &en, NULL, &step, &out, al));
    int64_t d4[] = {4};
    float rev[] = {9, 6, 3, 0};
    CHECK(f32_is(&out, 1, d4, rev));
    fa_rt_tensor_free(&out, al);
    int64_t d234[] = {2, 3, 4};
    fa_rt_tensor x = rt_view(FA_DT_F32, 3, d234, seq);
    I64V(st2, 1, 1000);
    I64V(en2, INT64_MAX, -1000);
    I64V(axes2, -1, 1);
    I64V(step2, 2, -1);
    CHECK_OK(fa_rt_slice(&x, &st2, &en2, &axes2, &step2, &out, al));
    int64_t dsl[] = {2, 3, 2};
    /* dim1 from 2 down to 0, dim2 = 1, 3 */
    float sl[] = {9, 11, 5, 7, 1, 3, 21, 23, 17, 19, 13, 15};
    CHECK(f32_is(&out, 3, dsl, sl));
    fa_rt_tensor_free(&out, al);
    I64V(zstep, 0);
    CHECK_ERR(fa_rt_slice(&t10, &st, &en, NULL, &zstep, &out, al), "step must be nonzero");
}

static void test_gather_expand_tile_pad(void) {
    int64_t d34[] = {3, 4};
    fa_rt_tensor x = rt_view(FA_DT_F32, 2, d34, seq), out;
    int64_t iv[] = {-1, 0, 1, 1}, di[] = {2, 2};
    fa_rt_tensor idx = rt_view(FA_DT_I64, 2, di, iv);
    CHECK_OK(fa_rt_gather(&x, &idx, 0, &out, al));
    int64_t dg[] = {2, 2, 4};
    float g[] = {8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7};
    CHECK(f32_is(&out, 3, dg, g));
    fa_rt_tensor_free(&out, al);
    int64_t ev[] = {3, 0, 1, 2, 2, 2}, de[] = {3, 2};
    fa_rt_tensor eidx = rt_view(FA_DT_I64, 2, de, ev);
    CHECK_OK(fa_rt_gather_elements(&x, &eidx, 1, &out, al));
    float ge[] = {3, 0, 5, 6, 10, 10};
    CHECK(f32_is(&out, 2, de, ge));
    fa_rt_tensor_free(&out, al);
    int64_t bad[] = {4};
    int64_t d1[] = {1};
    fa_rt_tensor tbad = rt_view(FA_DT_I64, 1, d1, bad);
    CHECK_ERR(fa_rt_gather(&x, &tbad, 1, &out, al), "index 4 out of range");
    int64_t d31[] = {3, 1};
    fa_rt_tensor col = rt_view(FA_DT_F32, 2, d31, seq);
    I64V(shape, 2, 1, 2);
    CHECK_OK(fa_rt_expand(&col, &shape, &out, al));
    int64_t dx[] = {2, 3, 2};
    float ex[] = {0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2};
    CHECK(f32_is(&out, 3, dx, ex));
    fa_rt_tensor_free(&out, al);
    int64_t d2[] = {2};
    fa_rt_tensor two = rt_view(FA_DT_F32, 1, d2, seq + 1);
    I64V(reps, 3);
    CHECK_OK(fa_rt_tile(&two, &reps, &out, al));
    int64_t d6[] = {6};
    float tl[] = {1, 2, 1, 2, 1, 2};
    CHECK(f32_is(&out, 1, d6, tl));
    fa_rt_tensor_free(&out, al);
    int64_t d3[] = {3};
    fa_rt_tensor three = rt_view(FA_DT_F32, 1, d3, seq + 1); /* 1 2 3 */
    I64V(pads, 2, 3);
    int64_t d8[] = {8};
    float cv = -1;
    fa_rt_tensor tcv = rt_view(FA_DT_F32, 0, NULL, &cv);
    CHECK_OK(fa_rt_pad(&three, &pads, &tcv, NULL, "constant", &out, al));
    float pc[] = {-1, -1, 1, 2, 3, -1, -1, -1};
    CHECK(f32_is(&out, 1, d8, pc));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_pad(&three, &pads, NULL, NULL, "reflect", &out, al));
    float pr[] = {3, 2, 1, 2, 3, 2, 1, 2};
    CHECK(f32_is(&out, 1, d8, pr));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_pad(&three, &pads, NULL, NULL, "edge", &out, al));
    float pe[] = {1, 1, 1, 2, 3, 3, 3, 3};
    CHECK(f32_is(&out, 1, d8, pe));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_pad(&three, &pads, NULL, NULL, "wrap", &out, al));
    float pw[] = {2, 3, 1, 2, 3, 1, 2, 3};
    CHECK(f32_is(&out, 1, d8, pw));
    fa_rt_tensor_free(&out, al);
    I64V(negpads, -1, 0);
    CHECK_OK(fa_rt_pad(&three, &negpads, NULL, NULL, NULL, &out, al));
    float pn[] = {2, 3};
    CHECK(f32_is(&out, 1, d2, pn));
    fa_rt_tensor_free(&out, al);
}

static void test_generators(void) {
    I64V(shape, 2, 2);
    int32_t seven = 7;
    int64_t d1[] = {1};
    fa_rt_tensor val = rt_view(FA_DT_I32, 1, d1, &seven), out;
    CHECK_OK(fa_rt_constant_of_shape(&shape, &val, &out, al));
    CHECK(out.dtype == FA_DT_I32 && ((int32_t *)out.data)[3] == 7);
    fa_rt_tensor_free(&out, al);
    int64_t s = 10, l = 4, dl = -3;
    fa_rt_tensor ts = rt_view(FA_DT_I64, 0, NULL, &s), tl = rt_view(FA_DT_I64, 0, NULL, &l);
    fa_rt_tensor td = rt_view(FA_DT_I64, 0, NULL, &dl);
    CHECK_OK(fa_rt_range(&ts, &tl, &td, &out, al));
    CHECK(out.dims[0] == 2 && ((int64_t *)out.data)[1] == 7);
    fa_rt_tensor_free(&out, al);
    float fs = 1, fl = 2, fd = 0.3f;
    fa_rt_tensor tfs = rt_view(FA_DT_F32, 0, NULL, &fs), tfl = rt_view(FA_DT_F32, 0, NULL, &fl);
    fa_rt_tensor tfd = rt_view(FA_DT_F32, 0, NULL, &fd);
    CHECK_OK(fa_rt_range(&tfs, &tfl, &tfd, &out, al));
    CHECK(out.dims[0] == 4); /* 1, 1.3, 1.6, 1.9 */
    fa_rt_tensor_free(&out, al);
    int64_t d33[] = {3, 3}, k = 1;
    fa_rt_tensor x = rt_view(FA_DT_F32, 2, d33, seq + 1), tk = rt_view(FA_DT_I64, 0, NULL, &k);
    CHECK_OK(fa_rt_trilu(&x, &tk, true, &out, al));
    float up[] = {0, 2, 3, 0, 0, 6, 0, 0, 0};
    CHECK(f32_is(&out, 2, d33, up));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_trilu(&x, NULL, false, &out, al));
    float lo[] = {1, 0, 0, 4, 5, 0, 7, 8, 9};
    CHECK(f32_is(&out, 2, d33, lo));
    fa_rt_tensor_free(&out, al);
    int64_t axis = 1;
    fa_rt_tensor tax = rt_view(FA_DT_I64, 0, NULL, &axis);
    CHECK_OK(fa_rt_cum_sum(&x, &tax, true, true, &out, al));
    float cs[] = {5, 3, 0, 11, 6, 0, 17, 9, 0};
    CHECK(f32_is(&out, 2, d33, cs));
    fa_rt_tensor_free(&out, al);
}

static void test_reduce_softmax_norm(void) {
    int64_t d23[] = {2, 3}, d21[] = {2, 1}, d3[] = {3};
    fa_rt_tensor x = rt_view(FA_DT_F32, 2, d23, seq), out;
    int64_t ax[] = {-1};
    CHECK_OK(fa_rt_reduce(FA_RT_REDUCE_MEAN, &x, ax, 1, true, false, &out, al));
    float mean[] = {1, 4};
    CHECK(f32_is(&out, 2, d21, mean));
    fa_rt_tensor_free(&out, al);
    int64_t ax0[] = {0};
    CHECK_OK(fa_rt_reduce(FA_RT_REDUCE_PROD, &x, ax0, 1, false, false, &out, al));
    float prod[] = {0, 4, 10};
    CHECK(f32_is(&out, 1, d3, prod));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_reduce(FA_RT_REDUCE_MAX, &x, NULL, 0, false, false, &out, al));
    CHECK(out.rank == 0 && *(float *)out.data == 5);
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_reduce(FA_RT_REDUCE_SUM, &x, NULL, 0, true, true, &out, al));
    CHECK(f32_is(&out, 2, d23, seq));
    fa_rt_tensor_free(&out, al);
    float am[] = {1, 3, 3, 2};
    int64_t d4[] = {4};
    fa_rt_tensor tam = rt_view(FA_DT_F32, 1, d4, am);
    CHECK_OK(fa_rt_arg_reduce(true, &tam, 0, false, true, &out, al));
    CHECK(out.dtype == FA_DT_I64 && out.rank == 0 && *(int64_t *)out.data == 2);
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_arg_reduce(true, &tam, 0, true, false, &out, al));
    CHECK(out.rank == 1 && *(int64_t *)out.data == 1);
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_softmax(false, &x, 0, &out, al));
    double e3 = exp(3.0);
    float sm[] = {(float)(1 / (1 + e3)),  (float)(1 / (1 + e3)),  (float)(1 / (1 + e3)),
                  (float)(e3 / (1 + e3)), (float)(e3 / (1 + e3)), (float)(e3 / (1 + e3))};
    CHECK(f32_is(&out, 2, d23, sm));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_softmax(true, &x, -1, &out, al));
    double lse = log(1 + exp(1.0) + exp(2.0));
    float ls[] = {(float)-lse, (float)(1 - lse), (float)(2 - lse),
                  (float)-lse, (float)(1 - lse), (float)(2 - lse)};
    CHECK(f32_is(&out, 2, d23, ls));
    fa_rt_tensor_free(&out, al);
    float gamma[] = {1, 2, 3}, beta[] = {0, 0, 1};
    fa_rt_tensor tg = rt_view(FA_DT_F32, 1, d3, gamma), tb = rt_view(FA_DT_F32, 1, d3, beta);
    fa_rt_tensor m, inv;
    CHECK_OK(fa_rt_layer_norm(&x, &tg, &tb, -1, 0.0, &out, &m, &inv, al));
    double r = sqrt(1.5); /* (x - mean) / sqrt(2/3) = -r, 0, r */
    float ln[] = {(float)-r, 0, (float)(3 * r + 1), (float)-r, 0, (float)(3 * r + 1)};
    CHECK(f32_is(&out, 2, d23, ln));
    CHECK(f32_is(&m, 2, d21, mean));
    float iv[] = {(float)r, (float)r};
    CHECK(f32_is(&inv, 2, d21, iv));
    fa_rt_tensor_free(&out, al);
    fa_rt_tensor_free(&m, al);
    fa_rt_tensor_free(&inv, al);
}

static void test_conv(void) {
    /* 1x1x3x3 input, 1x1x2x2 kernel of ones, pads 1, stride 2 -> 2x2 */
    float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[] = {1, 1, 1, 1}, bias = 10;
    int64_t dx[] = {1, 1, 3, 3}, dw[] = {1, 1, 2, 2}, db[] = {1}, dout[] = {1, 1, 2, 2};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 4, dx, x), tw = rt_view(FA_DT_F32, 4, dw, w);
    fa_rt_tensor tb = rt_view(FA_DT_F32, 1, db, &bias), out;
    fa_rt_conv_params p;
    memset(&p, 0, sizeof p);
    p.npads = 4;
    p.pads[0] = p.pads[1] = p.pads[2] = p.pads[3] = 1;
    p.nstrides = 2;
    p.strides[0] = p.strides[1] = 2;
    CHECK_OK(fa_rt_conv(&tx, &tw, &tb, &p, &out, al));
    float want[] = {11, 15, 21, 38}; /* windows at (-1,-1), (-1,1), (1,-1), (1,1) */
    CHECK(f32_is(&out, 4, dout, want));
    fa_rt_tensor_free(&out, al);
    /* SAME_UPPER, stride 1: output 3x3; centre = sum of the 2x2 window at (1,1) */
    memset(&p, 0, sizeof p);
    p.auto_pad = "SAME_UPPER";
    CHECK_OK(fa_rt_conv(&tx, &tw, NULL, &p, &out, al));
    int64_t d33[] = {1, 1, 3, 3};
    float same[] = {12, 16, 9, 24, 28, 15, 15, 17, 9};
    CHECK(f32_is(&out, 4, d33, same));
    fa_rt_tensor_free(&out, al);
    /* 1-D, 2 channels, group 2, dilation 2 */
    float x1[] = {1, 2, 3, 4, 5, 10, 20, 30, 40, 50}, w1[] = {1, -1, 2, 1};
    int64_t dx1[] = {1, 2, 5}, dw1[] = {2, 1, 2}, do1[] = {1, 2, 3};
    fa_rt_tensor tx1 = rt_view(FA_DT_F32, 3, dx1, x1), tw1 = rt_view(FA_DT_F32, 3, dw1, w1);
    memset(&p, 0, sizeof p);
    p.group = 2;
    p.ndilations = 1;
    p.dilations[0] = 2;
    CHECK_OK(fa_rt_conv(&tx1, &tw1, NULL, &p, &out, al));
    float c1[] = {1 - 3, 2 - 4, 3 - 5, 20 + 30, 40 + 40, 60 + 50};
    CHECK(f32_is(&out, 3, do1, c1));
    fa_rt_tensor_free(&out, al);
}

/* The f32 convolution (im2col + sgemm) against the f64 one (the double loop) on random
 * geometries: 1 to 3 spatial dims, groups, strides, dilations, asymmetric pads, odd sizes. */
static void test_conv_f32_vs_f64(void) {
    uint64_t seed = 12345;
    for (int trial = 0; trial < 60; trial++) {
        int ns = 1 + trial % 3;
        int64_t group = 1 + (int64_t)(trial % 3 == 2) * 2, cg = 1 + trial % 4, mg = 1 + trial % 3;
        int64_t c = cg * group, m = mg * group, nb = 1 + trial % 2;
        int64_t dx[FA_MAX_RANK] = {nb, c}, dw[FA_MAX_RANK] = {m, cg};
        fa_rt_conv_params p;
        memset(&p, 0, sizeof p);
        p.group = group;
        p.nstrides = p.ndilations = (uint32_t)ns;
        p.npads = (uint32_t)(2 * ns);
        uint64_t nx = (uint64_t)(nb * c), nw = (uint64_t)(m * cg);
        for (int i = 0; i < ns; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            dw[2 + i] = 1 + (int64_t)(seed >> 56) % 3;
            p.strides[i] = 1 + (int64_t)(seed >> 52) % 2;
            p.dilations[i] = 1 + (int64_t)(seed >> 48) % 2;
            dx[2 + i] = (dw[2 + i] - 1) * p.dilations[i] + 1 + (int64_t)(seed >> 60) % 6;
            p.pads[i] = (int64_t)(seed >> 44) % 2;
            p.pads[i + ns] = (int64_t)(seed >> 40) % 3;
            nx *= (uint64_t)dx[2 + i];
            nw *= (uint64_t)dw[2 + i];
        }
        float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc((size_t)m * 4);
        double *xd = malloc(nx * sizeof *xd), *wd = malloc(nw * sizeof *wd);
        double *bd = malloc((size_t)m * 8);
        for (uint64_t i = 0; i < nx + nw + (uint64_t)m; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            float v = (float)((double)(seed >> 40) / (double)(1ULL << 24)) - 0.5f;
            if (i < nx)
                x[i] = v, xd[i] = v;
            else if (i < nx + nw)
                w[i - nx] = v, wd[i - nx] = v;
            else
                b[i - nx - nw] = v, bd[i - nx - nw] = v;
        }
        int64_t db[] = {m};
        fa_rt_tensor tx = rt_view(FA_DT_F32, ns + 2, dx, x), tw = rt_view(FA_DT_F32, ns + 2, dw, w);
        fa_rt_tensor tb = rt_view(FA_DT_F32, 1, db, b);
        fa_rt_tensor txd = rt_view(FA_DT_F64, ns + 2, dx, xd),
                     twd = rt_view(FA_DT_F64, ns + 2, dw, wd);
        fa_rt_tensor tbd = rt_view(FA_DT_F64, 1, db, bd), out, outd;
        memset(&out, 0, sizeof out);
        memset(&outd, 0, sizeof outd);
        CHECK_OK(fa_rt_conv(&tx, &tw, &tb, &p, &out, al));
        CHECK_OK(fa_rt_conv(&txd, &twd, &tbd, &p, &outd, al));
        CHECK(out.data && outd.data && out.rank == outd.rank &&
              !memcmp(out.dims, outd.dims, sizeof out.dims));
        uint64_t n = fa_rt_tensor_num_elements(&out);
        double worst = 0;
        for (uint64_t i = 0; i < n && out.data && outd.data && out.rank == outd.rank; i++) {
            double e = fabs((double)((float *)out.data)[i] - ((double *)outd.data)[i]);
            worst = e > worst ? e : worst;
        }
        /* |terms| <= 0.25 and at most 4 x 27 of them: f32 sums are within 1e-5 */
        CHECK(worst < 1e-5);
        fa_rt_tensor_free(&out, al);
        fa_rt_tensor_free(&outd, al);
        free(x), free(w), free(b), free(xd), free(wd), free(bd);
    }
}

static void test_unary_cast(void) {
    float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, -1.7f};
    int64_t d6[] = {6};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 1, d6, x), out;
    CHECK_OK(fa_rt_unary(FA_RT_ROUND, 0, 0, &tx, &out, al));
    float rnd[] = {0, 2, 2, -0.0f, -2, -2};
    CHECK(f32_is(&out, 1, d6, rnd));
    fa_rt_tensor_free(&out, al);
    float lo = -1, hi = 2;
    fa_rt_tensor tlo = rt_view(FA_DT_F32, 0, NULL, &lo), thi = rt_view(FA_DT_F32, 0, NULL, &hi);
    CHECK_OK(fa_rt_clip(&tx, &tlo, &thi, &out, al));
    float clip[] = {0.5f, 1.5f, 2, -0.5f, -1, -1};
    CHECK(f32_is(&out, 1, d6, clip));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_cast(&tx, FA_DT_I32, &out, al));
    int32_t ci[] = {0, 1, 2, 0, -2, -1};
    CHECK(!memcmp(out.data, ci, sizeof ci));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_cast(&tx, FA_DT_F16, &out, al));
    CHECK(((uint16_t *)out.data)[0] == 0x3800 && ((uint16_t *)out.data)[4] == 0xc100);
    fa_rt_tensor back;
    CHECK_OK(fa_rt_cast(&out, FA_DT_F32, &back, al));
    float hx[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, -1.7001953125f}; /* -1.7 in f16 */
    CHECK(f32_is(&back, 1, d6, hx));
    fa_rt_tensor_free(&back, al);
    fa_rt_tensor_free(&out, al);
    float big[] = {65520.0f, 1e-8f, 1.0f + 1.0f / 4096}; /* overflow, underflow, tie to even */
    int64_t d3[] = {3};
    fa_rt_tensor tbig = rt_view(FA_DT_F32, 1, d3, big);
    CHECK_OK(fa_rt_cast(&tbig, FA_DT_F16, &out, al));
    CHECK(((uint16_t *)out.data)[0] == 0x7c00 && ((uint16_t *)out.data)[1] == 0 &&
          ((uint16_t *)out.data)[2] == 0x3c00);
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_cast(&tx, FA_DT_BF16, &out, al));
    CHECK(((uint16_t *)out.data)[1] == 0x3fc0); /* 1.5 */
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_cast(&tx, FA_DT_BOOL, &out, al));
    CHECK(((uint8_t *)out.data)[0] == 1);
    fa_rt_tensor_free(&out, al);
    int64_t iv[] = {4, -9};
    int64_t d2[] = {2};
    fa_rt_tensor ti = rt_view(FA_DT_I64, 1, d2, iv);
    CHECK_ERR(fa_rt_unary(FA_RT_SQRT, 0, 0, &ti, &out, al), "Sqrt: unsupported dtype i64");
    CHECK_OK(fa_rt_unary(FA_RT_ABS, 0, 0, &ti, &out, al));
    CHECK(((int64_t *)out.data)[1] == 9);
    fa_rt_tensor_free(&out, al);
}

static void test_more(void) {
    /* Einsum "ij,jk->ik" and the implicit "ii" trace */
    float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
    int64_t d22[] = {2, 2};
    fa_rt_tensor ta = rt_view(FA_DT_F32, 2, d22, a), tb = rt_view(FA_DT_F32, 2, d22, b), out;
    const fa_rt_tensor *ins[] = {&ta, &tb};
    CHECK_OK(fa_rt_einsum("ij,jk->ik", ins, 2, &out, al));
    float mm[] = {19, 22, 43, 50};
    CHECK(f32_is(&out, 2, d22, mm));
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_einsum("ii", ins, 1, &out, al));
    CHECK(out.rank == 0 && *(float *)out.data == 5);
    fa_rt_tensor_free(&out, al);
    CHECK_ERR(fa_rt_einsum("ijk->i", ins, 1, &out, al), "does not match rank");
    /* TopK: 2 largest of [3, 1, 4, 1, 5] */
    float v[] = {3, 1, 4, 1, 5};
    int64_t d5[] = {5}, k = 2, d2[] = {2};
    fa_rt_tensor tv = rt_view(FA_DT_F32, 1, d5, v), tk = rt_view(FA_DT_I64, 0, NULL, &k), idx;
    CHECK_OK(fa_rt_top_k(&tv, &tk, -1, true, &out, &idx, al));
    float top[] = {5, 4};
    CHECK(f32_is(&out, 1, d2, top));
    CHECK(((int64_t *)idx.data)[0] == 4 && ((int64_t *)idx.data)[1] == 2);
    fa_rt_tensor_free(&out, al);
    fa_rt_tensor_free(&idx, al);
    /* Resize 1x1x1x2 -> 1x1x1x4, linear, half_pixel: [1, 1.25, 1.75, 2] */
    float r[] = {1, 2}, sc[] = {1, 1, 1, 2};
    int64_t dr[] = {1, 1, 1, 2}, d4[] = {4}, dro[] = {1, 1, 1, 4};
    fa_rt_tensor tr = rt_view(FA_DT_F32, 4, dr, r), tsc = rt_view(FA_DT_F32, 1, d4, sc);
    fa_rt_resize_params p = {"linear", "half_pixel", "round_prefer_floor", -0.75, false, 0};
    CHECK_OK(fa_rt_resize(&tr, NULL, &tsc, NULL, &p, &out, al));
    float lin[] = {1, 1.25f, 1.75f, 2};
    CHECK(f32_is(&out, 4, dro, lin));
    fa_rt_tensor_free(&out, al);
    /* ScatterND with add: data [4], indices [[1],[1],[3]], updates [10, 20, 30] */
    float data[] = {1, 2, 3, 4}, upd[] = {10, 20, 30};
    int64_t sidx[] = {1, 1, 3}, dsi[] = {3, 1}, d3[] = {3};
    fa_rt_tensor td = rt_view(FA_DT_F32, 1, d4, data), ti = rt_view(FA_DT_I64, 2, dsi, sidx);
    fa_rt_tensor tu = rt_view(FA_DT_F32, 1, d3, upd);
    CHECK_OK(fa_rt_scatter_nd(&td, &ti, &tu, FA_RT_SCATTER_ADD, &out, al));
    float sn[] = {1, 32, 3, 34};
    CHECK(f32_is(&out, 1, d4, sn));
    fa_rt_tensor_free(&out, al);
    sidx[2] = 4;
    CHECK_ERR(fa_rt_scatter_nd(&td, &ti, &tu, FA_RT_SCATTER_NONE, &out, al), "out of range");
    CHECK(out.data == NULL);
}

int main(void) {
    al = fa_rt_allocator_default();
    test_reshape_family();
    test_concat_split_slice();
    test_gather_expand_tile_pad();
    test_generators();
    test_reduce_softmax_norm();
    test_conv();
    test_conv_f32_vs_f64();
    test_unary_cast();
    test_more();
    return rt_report("test_ops");
}
