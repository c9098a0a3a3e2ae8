/* The rope kernel (runtime/rope.c) against a plain loop over multi-indices on random shapes
 * (odd last dims, 1, broadcasting cos / sin and x), bitwise: both round each product to f32 and
 * then the sum. Through the interpreter against the decomposed Slice/Neg/Concat/Mul/Mul/Add
 * chain fuse-rope replaces (odd d included), bitwise; its errors, allocation failure, and the IR
 * verifier on malformed rope nodes. */
#include <stdlib.h>

#include "runtime/interp.h"
#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_u32(void) { return rt_xorshift(&rng); }

static float rand_f(void) { return (float)(next_u32() % 20001) / 2500.0f - 4.0f; }

static void fill(fa_rt_tensor *t) {
    for (uint64_t i = 0; i < fa_rt_tensor_num_elements(t); i++)
        ((float *)t->data)[i] = rand_f();
}

/* The flat index in |t| of output multi-index |idx| (rank |rank|), right-aligned, broadcast dims
 * at 0; |last| replaces the last coordinate when >= 0. */
static uint64_t flat(const fa_rt_tensor *t, int rank, const int64_t *idx, int64_t last) {
    uint64_t f = 0;
    for (int i = 0; i < t->rank; i++) {
        int64_t d = t->dims[i], k = idx[rank - t->rank + i];
        if (i == t->rank - 1 && last >= 0)
            k = last;
        f = f * (uint64_t)d + (uint64_t)(d == 1 ? 0 : k);
    }
    return f;
}

/* The plain loop: per output element, x, cos, sin and the rotated partner of x by their
 * multi-indices. */
static void naive(const fa_rt_tensor *x, const fa_rt_tensor *c, const fa_rt_tensor *s,
                  bool interleaved, int rank, const int64_t *dims, float *y) {
    int64_t idx[FA_MAX_RANK] = {0};
    int64_t d = x->dims[x->rank - 1];
    const float *xp = x->data, *cp = c->data, *sp = s->data;
    uint64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (uint64_t)dims[i];
    for (uint64_t e = 0; e < n; e++) {
        uint64_t r = e;
        for (int i = rank - 1; i >= 0; i--) {
            idx[i] = (int64_t)(r % (uint64_t)dims[i]);
            r /= (uint64_t)dims[i];
        }
        int64_t j = d == 1 ? 0 : idx[rank - 1]; /* x's own last coordinate */
        float partner;
        if (interleaved) {
            partner = j % 2 ? xp[flat(x, rank, idx, j - 1)] : -xp[flat(x, rank, idx, j + 1)];
        } else {
            int64_t h = d / 2; /* concat(-x[h:], x[:h]) */
            partner =
                j < d - h ? -xp[flat(x, rank, idx, h + j)] : xp[flat(x, rank, idx, j - (d - h))];
        }
        float a = xp[flat(x, rank, idx, -1)] * cp[flat(c, rank, idx, -1)];
        float b = partner * sp[flat(s, rank, idx, -1)];
        y[e] = a + b;
    }
}

static void check(int xr, const int64_t *xd, int cr, const int64_t *cd, int sr, const int64_t *sd,
                  bool interleaved) {
    fa_rt_tensor x, c, s, out;
    CHECK_OK(fa_rt_tensor_alloc(&x, FA_DT_F32, xr, xd, al));
    CHECK_OK(fa_rt_tensor_alloc(&c, FA_DT_F32, cr, cd, al));
    CHECK_OK(fa_rt_tensor_alloc(&s, FA_DT_F32, sr, sd, al));
    fill(&x);
    fill(&c);
    fill(&s);
    const fa_rt_tensor *ins[3] = {&x, &c, &s};
    int rank;
    int64_t dims[FA_MAX_RANK];
    CHECK_OK(fa_rt_broadcast_shape("test", ins, 3, &rank, dims));
    uint64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (uint64_t)dims[i];
    float *want = malloc(sizeof *want * (n ? n : 1));
    naive(&x, &c, &s, interleaved, rank, dims, want);
    CHECK_OK(fa_rt_rope(&x, &c, &s, interleaved, &out, al));
    if (!rt_shape_is(&out, rank, dims) || (n && memcmp(out.data, want, sizeof *want * n) != 0)) {
        fprintf(stderr, "  rope mismatch: x rank %d last %lld, cos rank %d, interleaved %d\n", xr,
                (long long)xd[xr - 1], cr, interleaved);
        rt_failures++;
    }
    fa_rt_tensor_free(&out, al);
    free(want);
    fa_rt_tensor_free(&x, al);
    fa_rt_tensor_free(&c, al);
    fa_rt_tensor_free(&s, al);
}

/* Random shapes: x of rank 1..4 with last dims up to 97 (odd ones included); cos and sin as the
 * models have them ([T, d] against [B, H, T, d]), x's own shape, with leading or trailing ones,
 * or wider than x (x broadcasts). */
static void test_random_shapes(void) {
    for (int t = 0; t < 300; t++) {
        int xr = 1 + (int)(next_u32() % 4);
        int64_t xd[4], cd[4], sd[4];
        for (int i = 0; i < xr; i++)
            xd[i] = 1 + next_u32() % (i == xr - 1 ? 97 : 6);
        bool interleaved = next_u32() % 4 == 0;
        if (interleaved && xd[xr - 1] % 2)
            xd[xr - 1]++;
        int cr = 1 + (int)(next_u32() % (uint32_t)xr);
        int kind = (int)(next_u32() % 4);
        for (int i = 0; i < cr; i++) {
            int64_t dx = xd[xr - cr + i];
            cd[i] = kind == 1 && next_u32() % 2 ? 1 : dx; /* kind 1: some ones */
        }
        if (kind == 2) /* cos constant along the row */
            cd[cr - 1] = 1;
        int sr = cr;
        memcpy(sd, cd, sizeof cd);
        if (kind == 3 && xr >= 2) { /* x [1, .., d] against wider cos / sin */
            xd[0] = 1;
            cr = sr = xr;
            for (int i = 0; i < xr; i++)
                cd[i] = sd[i] = i == 0 ? 3 : xd[i];
        }
        check(xr, xd, cr, cd, sr, sd, interleaved);
    }
    /* fixed cases: the models' layout, d = 1, odd d, a wide row, an empty tensor */
    int64_t x4[] = {2, 4, 5, 64}, c2[] = {5, 64}, x1[] = {3, 1}, c1[] = {3, 9}, odd[] = {7, 33},
            wide[] = {2, 4099}, empty[] = {0, 6}, c6[] = {6};
    check(4, x4, 2, c2, 2, c2, false);
    check(4, x4, 2, c2, 2, c2, true);
    check(2, x1, 2, c1, 2, c1, false); /* x's last dim broadcasts: rot(x) = -x */
    check(2, odd, 2, odd, 2, odd, false);
    check(2, wide, 1, wide + 1, 1, wide + 1, false);
    check(2, empty, 1, c6, 1, c6, false);
}

/* Hand-checked: d = 4, cos 1 and sin 0 give x; cos 0 and sin 1 give rot(x). */
static void test_values(void) {
    float x[] = {1, 2, 3, 4}, one[] = {1, 1, 1, 1}, zero[] = {0, 0, 0, 0};
    int64_t d[] = {4};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 1, d, x), t1 = rt_view(FA_DT_F32, 1, d, one);
    fa_rt_tensor t0 = rt_view(FA_DT_F32, 1, d, zero), out;
    CHECK_OK(fa_rt_rope(&tx, &t1, &t0, false, &out, al));
    CHECK(out.data && memcmp(out.data, x, sizeof x) == 0);
    fa_rt_tensor_free(&out, al);
    float half[] = {-3, -4, 1, 2}, pairs[] = {-2, 1, -4, 3};
    CHECK_OK(fa_rt_rope(&tx, &t0, &t1, false, &out, al));
    CHECK(out.data && memcmp(out.data, half, sizeof half) == 0);
    fa_rt_tensor_free(&out, al);
    CHECK_OK(fa_rt_rope(&tx, &t0, &t1, true, &out, al));
    CHECK(out.data && memcmp(out.data, pairs, sizeof pairs) == 0);
    fa_rt_tensor_free(&out, al);
    /* d = 5 (h = 2): concat(-x[2:], x[:2]) */
    float x5[] = {1, 2, 3, 4, 5}, one5[] = {0, 0, 0, 0, 0}, rot5[] = {-3, -4, -5, 1, 2};
    float s5[] = {1, 1, 1, 1, 1};
    int64_t d5[] = {5};
    fa_rt_tensor a = rt_view(FA_DT_F32, 1, d5, x5), c = rt_view(FA_DT_F32, 1, d5, one5);
    fa_rt_tensor s = rt_view(FA_DT_F32, 1, d5, s5);
    CHECK_OK(fa_rt_rope(&a, &c, &s, false, &out, al));
    CHECK(out.data && memcmp(out.data, rot5, sizeof rot5) == 0);
    fa_rt_tensor_free(&out, al);
}

static void test_errors(void) {
    float x[12] = {0};
    double xd[12] = {0};
    int64_t d34[] = {3, 4}, d23[] = {2, 3}, d3[] = {3};
    fa_rt_tensor a = rt_view(FA_DT_F32, 2, d34, x), b = rt_view(FA_DT_F32, 2, d23, x);
    fa_rt_tensor o = rt_view(FA_DT_F32, 1, d3, x), f64 = rt_view(FA_DT_F64, 2, d34, xd);
    fa_rt_tensor sc = rt_view(FA_DT_F32, 0, d3, x), out;
    CHECK_ERR(fa_rt_rope(&a, &b, &a, false, &out, al), "rope: shapes");
    CHECK_ERR(fa_rt_rope(&f64, &a, &a, false, &out, al), "f64");
    CHECK_ERR(fa_rt_rope(&a, &a, &f64, false, &out, al), "f64");
    CHECK_ERR(fa_rt_rope(&o, &o, &o, true, &out, al), "even last dim");
    CHECK_ERR(fa_rt_rope(&a, &sc, &a, false, &out, al), "cos must have rank >= 1");
    CHECK(out.data == NULL);
}

static void test_alloc_failure(void) {
    float x[6] = {1, 2, 3, 4, 5, 6};
    int64_t d[] = {2, 3};
    fa_rt_tensor tx = rt_view(FA_DT_F32, 2, d, x), out;
    fa_rt_allocator fal = {rt_no_alloc, rt_no_free, NULL};
    CHECK_ERR(fa_rt_rope(&tx, &tx, &tx, false, &out, &fal), "out of memory");
    CHECK(out.data == NULL);
}

/* The chain as the example models have it (x [B, H, T, d], cos / sin [T, d], the halves sliced
 * at d / 2 on the last axis) next to the fused op: the interpreter's results are bitwise equal,
 * for even and odd d. */
static void check_interp(int64_t d) {
    char text[2048];
    snprintf(text, sizeof text,
             "graph @chain(%%x: f32[2,3,5,%lld], %%c: f32[5,%lld], %%s: f32[5,%lld]) {\n"
             "  const @h = i64[1] dense<[%lld]>\n"
             "  const @zero = i64[1] dense<[0]>\n"
             "  const @end = i64[1] dense<[9223372036854775807]>\n"
             "  const @axis = i64[1] dense<[3]>\n"
             "  const @step = i64[1] dense<[1]>\n"
             "  %%m = mul(%%x, %%c) : f32[2,3,5,%lld]\n"
             "  %%x2 = slice(%%x, @h, @end, @axis, @step) : f32[?,?,?,?]\n"
             "  %%n = neg(%%x2) : f32[?,?,?,?]\n"
             "  %%x1 = slice(%%x, @zero, @h, @axis, @step) : f32[?,?,?,?]\n"
             "  %%r = concat(%%n, %%x1) {axis = -1} : f32[?,?,?,?]\n"
             "  %%m1 = mul(%%r, %%s) : f32[?,?,?,?]\n"
             "  %%y = add(%%m, %%m1) : f32[?,?,?,?]\n"
             "  %%f = rope(%%x, %%c, %%s) : f32[2,3,5,%lld]\n"
             "  return %%y, %%f\n}\n",
             (long long)d, (long long)d, (long long)d, (long long)(d / 2), (long long)d,
             (long long)d);
    fa_graph *g = NULL;
    fa_status st = fa_graph_parse(text, strlen(text), "chain.fir", NULL, 0, &g);
    CHECK_OK(st);
    if (st)
        return;
    int64_t dx[] = {2, 3, 5, d}, dc[] = {5, d};
    fa_rt_tensor ins[3], outs[2];
    CHECK_OK(fa_rt_tensor_alloc(&ins[0], FA_DT_F32, 4, dx, al));
    CHECK_OK(fa_rt_tensor_alloc(&ins[1], FA_DT_F32, 2, dc, al));
    CHECK_OK(fa_rt_tensor_alloc(&ins[2], FA_DT_F32, 2, dc, al));
    for (int i = 0; i < 3; i++)
        fill(&ins[i]);
    CHECK_OK(fa_rt_interp_run(g, ins, 3, outs, al));
    CHECK(outs[0].nbytes == outs[1].nbytes && rt_shape_is(&outs[1], 4, dx));
    CHECK(memcmp(outs[0].data, outs[1].data, (size_t)outs[0].nbytes) == 0);
    fa_rt_tensors_free(outs, 2, al);
    for (int i = 0; i < 3; i++)
        fa_rt_tensor_free(&ins[i], al);
    fa_graph_destroy(g);
}

static void check_bad_graph(const char *body, const char *needle) {
    char text[512];
    snprintf(text, sizeof text,
             "graph @bad(%%a: f32[2,4], %%b: f32[3,4], %%c: f32[4], %%d: f64[2,4], %%o: f32[2,3]) "
             "{\n  %s\n  return %%y\n}\n",
             body);
    fa_graph *g = NULL;
    CHECK_ERR(fa_graph_parse(text, strlen(text), "bad.fir", NULL, 0, &g), needle);
    fa_graph_destroy(g);
}

static void test_verify(void) {
    check_bad_graph("%y = rope(%a, %b, %c) : f32[2,4]", "broadcast");
    check_bad_graph("%y = rope(%d, %c, %c) : f64[2,4]", "x has dtype f64, expected f32");
    check_bad_graph("%y = rope(%a, %d, %c) : f32[2,4]", "cos has dtype f64");
    check_bad_graph("%y = rope(%a, %c) : f32[2,4]", "rope");
    check_bad_graph("%y = rope(%a, %c, %c) {interleaved = 2} : f32[2,4]",
                    "interleaved must be 0 or 1");
    check_bad_graph("%y = rope(%o, %o, %o) {interleaved = 1} : f32[2,3]", "even last dim");
    check_bad_graph("%y = rope(%a, %c, %c) : f32[4,2]", "result 0 has type");
}

int main(void) {
    al = fa_rt_allocator_default();
    test_random_shapes();
    test_values();
    test_errors();
    test_alloc_failure();
    check_interp(64);
    check_interp(7);
    check_interp(1);
    test_verify();
    return rt_report("test_rope");
}
