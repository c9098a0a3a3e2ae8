/* The planned runtime (runtime/plan.h) against the interpreter on small .fir graphs with random
 * constants and inputs, with 1, 2 and 4 threads: bitwise wherever the split kernels are
 * row-independent (norms, softmax, elementwise, batched matmul, quantize, qlinear), within 1e-5
 * where OpenBLAS sgemm runs on fewer rows (linear, routed_transform); the arena against the naive
 * sum; re-planning for new symbol extents; data-dependent shapes; graph outputs that are inputs,
 * constants or repeated; errors (same messages as the interpreter) and allocation failures
 * without leaks. */
#include <stdarg.h>
#include <stdlib.h>

#include "runtime/kernels.h"
#include "runtime/plan.h"
#include "tests/runtime/rt_test.h"

static const fa_rt_allocator *al;
static uint32_t rng_state = 12345;

static uint32_t next_u32(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static float rand_f(void) { return (float)(next_u32() % 20001) / 10000.0f - 1.0f; }

/* ---- graph text with random constants ---- */

typedef struct text {
    char *s;
    size_t n, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->n + (size_t)k + 1 > t->cap) {
        t->cap = (t->n + (size_t)k + 1) * 2;
        t->s = realloc(t->s, t->cap);
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    t->n += (size_t)k;
}

/* const @name = <type> hex<random bytes>: f32 in [-scale, scale], integers any byte. */
static void put_const(text *t, const char *name, const char *type, uint64_t count, int bits,
                      float scale) {
    put(t, "  const @%s = %s hex<\"", name, type);
    uint64_t bytes = (count * (uint64_t)bits + 7) / 8;
    for (uint64_t i = 0; i < bytes;) {
        if (bits == 32) {
            float f = rand_f() * scale;
            unsigned char b[4];
            memcpy(b, &f, 4);
            put(t, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
            i += 4;
        } else {
            put(t, "%02x", next_u32() & 0xff);
            i++;
        }
    }
    put(t, "\">\n");
}

static fa_graph *parse(const char *src) {
    fa_graph *g = NULL;
    fa_status s = fa_graph_parse(src, strlen(src), "t.fir", NULL, 0, &g);
    if (!s)
        s = fa_graph_verify(g);
    if (s) {
        fprintf(stderr, "parse failed: %s\n", fa_status_message(s));
        fa_status_free(s);
        fa_graph_destroy(g);
        rt_failures++;
        return NULL;
    }
    return g;
}

/* ---- inputs ---- */

typedef struct inputs {
    fa_rt_tensor t[4];
    uint32_t n;
} inputs;

static void add_f32(inputs *in, int rank, const int64_t *dims) {
    uint64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (uint64_t)dims[i];
    float *d = malloc(n * sizeof *d + 1);
    for (uint64_t i = 0; i < n; i++)
        d[i] = 2.0f * rand_f();
    in->t[in->n++] = rt_view(FA_DT_F32, rank, dims, d);
}

/* i64 token ids in [0, 12): about one in twelve is 9 (the token_type rule below) */
static void add_ids(inputs *in, int64_t b, int64_t t) {
    int64_t *d = malloc((size_t)(b * t) * sizeof *d + 1), dims[2] = {b, t};
    for (int64_t i = 0; i < b * t; i++)
        d[i] = next_u32() % 12;
    in->t[in->n++] = rt_view(FA_DT_I64, 2, dims, d);
}

static void inputs_free(inputs *in) {
    for (uint32_t i = 0; i < in->n; i++)
        free(in->t[i].data);
    in->n = 0;
}

/* ---- comparing the plan with the interpreter ---- */

/* Max |a - b| over two outputs (INFINITY if their types or shapes differ or a NaN differs). */
static double max_diff(const fa_rt_tensor *a, const fa_rt_tensor *b, bool *out_bitwise) {
    *out_bitwise = false;
    if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes ||
        memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) != 0)
        return INFINITY;
    *out_bitwise = memcmp(a->data, b->data, (size_t)a->nbytes) == 0;
    if (*out_bitwise)
        return 0;
    if (a->dtype != FA_DT_F32)
        return INFINITY;
    double m = 0;
    for (uint64_t i = 0; i < a->nbytes / 4; i++) {
        double x = ((const float *)a->data)[i], y = ((const float *)b->data)[i];
        double d = fabs(x - y) / (1.0 + fabs(y));
        if (!(d <= m))
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* Plans |g| on |in| and runs it with 1, 2 and 4 threads against the interpreter; |tol| 0 asks
 * for bitwise equality. Returns the number of row-split steps (with the last plan). */
static uint32_t compare(const char *what, const fa_graph *g, const inputs *in, double tol) {
    uint32_t nout = fa_graph_num_outputs(g), split = 0;
    fa_rt_tensor ref[8], got[8];
    CHECK(nout <= 8);
    fa_status s = fa_rt_interp_run(g, in->t, in->n, ref, al);
    if (s) {
        fprintf(stderr, "%s: interpreter failed: %s\n", what, fa_status_message(s));
        fa_status_free(s);
        rt_failures++;
        return 0;
    }
    fa_rt_plan *plan = NULL;
    CHECK_OK(fa_rt_plan_create(g, in->t, in->n, al, &plan));
    static const uint32_t threads[] = {1, 2, 4};
    for (size_t k = 0; plan && k < sizeof threads / sizeof threads[0]; k++) {
        fa_rt_thread_pool *pool = NULL;
        CHECK_OK(fa_rt_thread_pool_create(threads[k], al, &pool));
        for (int rep = 0; rep < 2; rep++) {
            CHECK_OK(fa_rt_plan_run(plan, pool, in->t, in->n, got, al));
            for (uint32_t i = 0; i < nout; i++) {
                bool bitwise;
                double d = max_diff(&got[i], &ref[i], &bitwise);
                if (!(d <= tol)) {
                    fprintf(stderr, "%s: output %u, %u threads: max relative diff %g > %g\n", what,
                            i, threads[k], d, tol);
                    rt_failures++;
                } else if (!bitwise && rep == 0) {
                    printf("  %s: output %u, %u threads: not bitwise, max rel diff %.3g\n", what, i,
                           threads[k], d);
                }
            }
            fa_rt_tensors_free(got, nout, al);
        }
        fa_rt_thread_pool_destroy(pool);
    }
    if (plan) {
        fa_rt_plan_stats st;
        fa_rt_plan_stats_get(plan, &st);
        uint64_t split_calls = 0;
        for (uint32_t k = 0; k < st.num_op_kinds; k++) {
            split += st.ops[k].split_steps;
            split_calls += st.ops[k].split_calls;
        }
        /* 2 runs with 2 threads, 2 with 4: every splittable step ran split */
        CHECK(split_calls == 4 * (uint64_t)split);
        CHECK(st.arena_bytes <= st.naive_bytes);
        CHECK(st.num_plans == 1);
        CHECK(st.heap_fallbacks == 0);
    }
    fa_rt_plan_destroy(plan);
    fa_rt_tensors_free(ref, nout, al);
    return split;
}

/* A float transformer block: every kind of split (linear, norms, broadcast mul, batched matmul,
 * softmax, swiglu, gelu, residual adds). */
static void test_float_block(void) {
    text t = {0};
    put(&t, "graph @blk(%%x: f32[B,16,64]) {\n");
    put_const(&t, "g", "f32[64]", 64, 32, 1.0f);
    put_const(&t, "beta", "f32[64]", 64, 32, 0.5f);
    put_const(&t, "wq", "f32[64,64]", 64 * 64, 32, 0.2f);
    put_const(&t, "w1", "f32[128,64]", 128 * 64, 32, 0.2f);
    put_const(&t, "w2", "f32[128,64]", 128 * 64, 32, 0.2f);
    put_const(&t, "w3", "f32[64,128]", 64 * 128, 32, 0.2f);
    put_const(&t, "cos", "f32[16,16]", 256, 32, 1.0f);
    put(&t, "  const @s4 = i64[4] dense<[0, 16, 4, 16]>\n"
            "  const @s3 = i64[3] dense<[0, 16, 64]>\n"
            "  %%n = rms_norm(%%x, @g) {epsilon = 1e-5} : f32[B,16,64]\n"
            "  %%q = linear(%%n, @wq) : f32[B,16,64]\n"
            "  %%r = reshape(%%q, @s4) : f32[?,?,?,?]\n"
            "  %%h4 = transpose(%%r) {perm = [0, 2, 1, 3]} : f32[?,?,?,?]\n"
            "  %%m = mul(%%h4, @cos) : f32[?,?,?,?]\n"
            "  %%kt = transpose(%%h4) {perm = [0, 1, 3, 2]} : f32[?,?,?,?]\n"
            "  %%sc = matmul(%%m, %%kt) : f32[?,?,?,?]\n"
            "  %%sm = softmax(%%sc) {axis = -1} : f32[?,?,?,?]\n"
            "  %%o = matmul(%%sm, %%h4) : f32[?,?,?,?]\n"
            "  %%ot = transpose(%%o) {perm = [0, 2, 1, 3]} : f32[?,?,?,?]\n"
            "  %%of = reshape(%%ot, @s3) : f32[?,?,?]\n"
            "  %%h = add(%%x, %%of) : f32[B,16,64]\n"
            "  %%n2 = layer_norm(%%h, @g, @beta) {epsilon = 1e-5} : f32[B,16,64]\n"
            "  %%a = linear(%%n2, @w1) : f32[B,16,128]\n"
            "  %%b = linear(%%n2, @w2) : f32[B,16,128]\n"
            "  %%sw = swiglu(%%a, %%b) : f32[B,16,128]\n"
            "  %%ge = gelu(%%sw) : f32[B,16,128]\n"
            "  %%d = linear(%%ge, @w3) : f32[B,16,64]\n"
            "  %%y = add(%%h, %%d) : f32[B,16,64]\n"
            "  %%ln = layer_norm(%%y, @g) {axis = 1, epsilon = 1e-5} : f32[B,16,64]\n"
            "  return %%y, %%ln, %%sm\n}\n");
    fa_graph *g = parse(t.s);
    free(t.s);
    if (!g)
        return;
    inputs in = {0};
    int64_t dx[] = {8, 16, 64};
    add_f32(&in, 3, dx);
    uint32_t split = compare("float block", g, &in, 1e-5);
    CHECK(split >= 10);
    inputs_free(&in);
    fa_graph_destroy(g);
}

/* The same block without the linears (no OpenBLAS row-count effects): bitwise. */
static void test_exact_block(void) {
    text t = {0};
    put(&t, "graph @ex(%%x: f32[B,16,64], %%u: f32[B,16,64]) {\n");
    put_const(&t, "g", "f32[64]", 64, 32, 1.0f);
    put_const(&t, "beta", "f32[64]", 64, 32, 0.5f);
    put_const(&t, "cos", "f32[16,16]", 256, 32, 1.0f);
    put_const(&t, "col", "f32[1,16,1]", 16, 32, 1.0f);
    put_const(&t, "sin", "f32[16,16]", 256, 32, 1.0f);
    put(&t, "  const @s4 = i64[4] dense<[0, 16, 4, 16]>\n"
            "  const @zero = i64[1] dense<[0]>\n"
            "  const @half = i64[1] dense<[8]>\n"
            "  const @end = i64[1] dense<[16]>\n"
            "  const @last = i64[1] dense<[-1]>\n"
            "  const @one = i64[1] dense<[1]>\n"
            "  %%n = rms_norm(%%x, @g) {epsilon = 1e-5} : f32[B,16,64]\n"
            "  %%r = reshape(%%n, @s4) : f32[?,?,?,?]\n"
            "  %%h4 = transpose(%%r) {perm = [0, 2, 1, 3]} : f32[?,?,?,?]\n"
            "  %%m = mul(%%h4, @cos) : f32[?,?,?,?]\n"
            "  %%kt = transpose(%%h4) {perm = [0, 1, 3, 2]} : f32[?,?,?,?]\n"
            "  %%sc = matmul(%%m, %%kt) : f32[?,?,?,?]\n"
            "  %%sm = softmax(%%sc) {axis = -1} : f32[?,?,?,?]\n"
            "  %%ls = log_softmax(%%sc) {axis = 2} : f32[?,?,?,?]\n"
            "  %%o = matmul(%%sm, %%h4) : f32[?,?,?,?]\n"
            "  %%sw = swiglu(%%x, %%u) : f32[B,16,64]\n"
            "  %%ge = gelu(%%sw) {approximate = \"tanh\"} : f32[B,16,64]\n"
            "  %%cm = mul(%%ge, @col) : f32[B,16,64]\n"
            "  %%sub = sub(%%cm, %%u) : f32[B,16,64]\n"
            "  %%ln = layer_norm(%%sub, @g, @beta) {axis = -1, epsilon = 1e-5} : f32[B,16,64]\n"
            "  %%wh = greater(%%ln, %%u) : bool[B,16,64]\n"
            "  %%w = where(%%wh, %%ln, %%x) : f32[B,16,64]\n"
            "  %%e = exp(%%w) : f32[B,16,64]\n"
            "  %%lo = slice(%%h4, @zero, @half, @last) : f32[?,?,?,?]\n"
            "  %%hi = slice(%%h4, @half, @end, @last) : f32[?,?,?,?]\n"
            "  %%rot = concat(%%hi, %%lo) {axis = -1} : f32[?,?,?,?]\n"
            "  %%rs = slice(%%x, @zero, @half, @one) : f32[?,?,?]\n"
            "  %%rp = rope(%%h4, @cos, @sin) : f32[?,?,?,?]\n"
            "  return %%o, %%ls, %%e, %%rot, %%rs, %%rp\n}\n");
    fa_graph *g = parse(t.s);
    free(t.s);
    if (!g)
        return;
    inputs in = {0};
    int64_t dx[] = {8, 16, 64};
    add_f32(&in, 3, dx);
    add_f32(&in, 3, dx);
    uint32_t split = compare("exact block", g, &in, 0);
    CHECK(split >= 13);
    inputs_free(&in);
    fa_graph_destroy(g);
}

/* The quantized pipeline: quantize and qlinear (i8 and grouped i4) are exact; routed_transform
 * goes through sgemm per token type. */
static void test_quantized(void) {
    for (int with_rt = 0; with_rt < 2; with_rt++) {
        text t = {0};
        put(&t, "graph @q(%%ids: i64[B,T], %%x: f32[B,T,64]) {\n");
        put_const(&t, "a", "f32[2,64,64]", 2 * 64 * 64, 32, 0.3f);
        put_const(&t, "wq", "i8[96,64]", 96 * 64, 8, 0);
        put_const(&t, "ws", "f32[96,1]", 96, 32, 0.01f);
        put_const(&t, "bias", "f32[96]", 96, 32, 1.0f);
        put_const(&t, "wq4", "i4[96,64]", 96 * 64, 4, 0);
        put_const(&t, "ws4", "f32[96,2]", 96 * 2, 32, 0.01f);
        put(&t, "  const @clip = f32[2] dense<[1.0, 0.875]>\n"
                "  %%tt = token_type(%%ids) {rule = \"ids==9\"} : u8[B,T]\n");
        if (with_rt)
            put(&t, "  %%y = routed_transform(%%x, %%tt, @a) {kinds = [\"dense\", \"dense\"]} "
                    ": f32[B,T,64]\n");
        else
            put(&t, "  %%y = relu(%%x) : f32[B,T,64]\n");
        put(&t, "  %%c, %%s = quantize(%%y, %%tt, @clip) {bits = 8} : i8[B,T,64], f32[B,T,1]\n"
                "  %%o = qlinear(%%c, %%s, @wq, @ws, @bias) : f32[B,T,96]\n"
                "  %%o4 = qlinear(%%c, %%s, @wq4, @ws4) {group = 32} : f32[B,T,96]\n"
                "  return %%o, %%o4, %%c, %%s\n}\n");
        fa_graph *g = parse(t.s);
        free(t.s);
        if (!g)
            return;
        inputs in = {0};
        int64_t dx[] = {4, 40, 64};
        add_ids(&in, 4, 40);
        add_f32(&in, 3, dx);
        /* routed_transform: a last-bit change in y can move a code by one step */
        uint32_t split =
            compare(with_rt ? "quantized (routed)" : "quantized", g, &in, with_rt ? 0.05 : 0);
        CHECK(split >= 3);
        inputs_free(&in);
        fa_graph_destroy(g);
    }
}

static const char chain_text[] = "graph @chain(%x: f32[B,256]) {\n"
                                 "  %a = neg(%x) : f32[B,256]\n"
                                 "  %b = sigmoid(%a) : f32[B,256]\n"
                                 "  %c = tanh(%b) : f32[B,256]\n"
                                 "  %d = neg(%c) : f32[B,256]\n"
                                 "  %e = abs(%d) : f32[B,256]\n"
                                 "  %f = sqrt(%e) : f32[B,256]\n"
                                 "  %g = neg(%f) : f32[B,256]\n"
                                 "  %h = relu(%g) : f32[B,256]\n"
                                 "  %i = add(%h, %c) : f32[B,256]\n"
                                 "  %j = mul(%i, %i) : f32[B,256]\n"
                                 "  return %j\n}\n";

/* A chain reuses two slots; new symbol extents re-plan; the same ones do not. */
static void test_chain_and_replan(void) {
    fa_graph *g = parse(chain_text);
    if (!g)
        return;
    inputs in = {0};
    int64_t d2[] = {2, 256}, d5[] = {5, 256}, d64[] = {64, 256};
    add_f32(&in, 2, d2);
    fa_rt_plan *plan = NULL;
    CHECK_OK(fa_rt_plan_create(g, in.t, 1, al, &plan));
    if (!plan) {
        inputs_free(&in);
        fa_graph_destroy(g);
        return;
    }
    fa_rt_plan_stats st;
    fa_rt_plan_stats_get(plan, &st);
    /* 9 intermediates of 2 KiB; %c lives until %i, so three slots at most */
    CHECK(st.num_steps == 10 && st.num_arena_buffers == 9);
    CHECK(st.naive_bytes == 9 * 2048);
    CHECK(st.arena_bytes == 3 * 2048);
    printf("  chain: arena %llu bytes, naive %llu\n", (unsigned long long)st.arena_bytes,
           (unsigned long long)st.naive_bytes);
    fa_rt_thread_pool *pool = NULL;
    CHECK_OK(fa_rt_thread_pool_create(2, al, &pool));
    const int64_t *shapes[] = {d2, d5, d5, d64, d2, d64};
    const uint32_t plans[] = {1, 2, 2, 3, 4, 5};
    for (int k = 0; k < 6; k++) {
        inputs one = {0};
        add_f32(&one, 2, shapes[k]);
        fa_rt_tensor ref, got;
        CHECK_OK(fa_rt_interp_run(g, one.t, 1, &ref, al));
        CHECK_OK(fa_rt_plan_run(plan, pool, one.t, 1, &got, al));
        bool bitwise;
        CHECK(max_diff(&got, &ref, &bitwise) == 0 && bitwise);
        fa_rt_plan_stats_get(plan, &st);
        CHECK(st.num_plans == plans[k]);
        CHECK(st.arena_bytes == 3 * round(shapes[k][0] * 1024.0));
        fa_rt_tensor_free(&ref, al);
        fa_rt_tensor_free(&got, al);
        inputs_free(&one);
    }
    fa_rt_thread_pool_destroy(pool);
    fa_rt_plan_destroy(plan);
    inputs_free(&in);
    fa_graph_destroy(g);
}

/* Outputs that are inputs, constants, repeated values or read again later. */
static void test_outputs(void) {
    fa_graph *g = parse("graph @o(%x: f32[B,4]) {\n"
                        "  const @c = f32[2] dense<[1.0, 2.0]>\n"
                        "  %a = neg(%x) : f32[B,4]\n"
                        "  %b = abs(%a) : f32[B,4]\n"
                        "  return %a, %b, %a as \"a2\", %x as \"xin\", @c as \"c\"\n}\n");
    if (!g)
        return;
    inputs in = {0};
    int64_t d[] = {3, 4};
    add_f32(&in, 2, d);
    compare("outputs", g, &in, 0);
    inputs_free(&in);
    fa_graph_destroy(g);
}

/* Shapes that depend on data: NonZero's count and a Reshape to an input shape. Outputs that miss
 * their slot live on the heap; a split planned for other dims is skipped. */
static void test_data_dependent(void) {
    fa_graph *g = parse("graph @dd(%x: f32[N], %s: i64[2]) {\n"
                        "  %nz = non_zero(%x) : i64[1,?]\n"
                        "  %nc = cast(%nz) {to = 1} : f32[1,?]\n"
                        "  %r = reshape(%x, %s) : f32[?,?]\n"
                        "  %t = transpose(%r) {perm = [1, 0]} : f32[?,?]\n"
                        "  %e = exp(%t) : f32[?,?]\n"
                        "  %n = neg(%e) : f32[?,?]\n"
                        "  return %nc, %n\n}\n");
    if (!g)
        return;
    enum { N = 96 * 1024 };
    float *x = calloc(N, sizeof *x);
    int64_t dn[] = {N}, ds[] = {2}, s1[] = {96, 1024}, s2[] = {1024, 96};
    for (int i = 0; i < N; i += 1000)
        x[i] = 1.0f;
    inputs in = {{rt_view(FA_DT_F32, 1, dn, x), rt_view(FA_DT_I64, 1, ds, s1)}, 2};
    fa_rt_plan *plan = NULL;
    CHECK_OK(fa_rt_plan_create(g, in.t, 2, al, &plan));
    fa_rt_thread_pool *pool = NULL;
    CHECK_OK(fa_rt_thread_pool_create(2, al, &pool));
    for (int k = 0; plan && k < 3; k++) {
        for (int i = 0; i < N; i += 700 - 300 * k)
            x[i] = (float)(i % 7) - 3.0f;
        in.t[1] = rt_view(FA_DT_I64, 1, ds, k == 1 ? s2 : s1);
        fa_rt_tensor ref[2], got[2];
        CHECK_OK(fa_rt_interp_run(g, in.t, 2, ref, al));
        CHECK_OK(fa_rt_plan_run(plan, pool, in.t, 2, got, al));
        for (int i = 0; i < 2; i++) {
            bool bitwise;
            CHECK(max_diff(&got[i], &ref[i], &bitwise) == 0 && bitwise);
        }
        fa_rt_tensors_free(ref, 2, al);
        fa_rt_tensors_free(got, 2, al);
    }
    if (plan) {
        fa_rt_plan_stats st;
        fa_rt_plan_stats_get(plan, &st);
        CHECK(st.num_plans == 1);      /* input shapes never changed */
        CHECK(st.heap_fallbacks >= 2); /* %nz and %nc grew */
    }
    fa_rt_thread_pool_destroy(pool);
    fa_rt_plan_destroy(plan);
    free(x);
    fa_graph_destroy(g);
}

/* Runs both engines expecting an error; the messages must be the same and contain |needle|. */
static void same_error(const fa_graph *g, fa_rt_plan *plan, fa_rt_thread_pool *pool,
                       const fa_rt_tensor *ins, uint32_t n, const char *needle) {
    fa_rt_tensor ref[4], got[4];
    fa_status a = fa_rt_interp_run(g, ins, n, ref, al);
    fa_status b = fa_rt_plan_run(plan, pool, ins, n, got, al);
    CHECK(a && b);
    if (a && b) {
        if (strcmp(fa_status_message(a), fa_status_message(b)) != 0) {
            fprintf(stderr, "messages differ:\n  interp: %s\n  plan:   %s\n", fa_status_message(a),
                    fa_status_message(b));
            rt_failures++;
        }
        if (!strstr(fa_status_message(b), needle)) {
            fprintf(stderr, "error '%s' lacks '%s'\n", fa_status_message(b), needle);
            rt_failures++;
        }
    }
    fa_status_free(a);
    fa_status_free(b);
}

static void test_errors(void) {
    text t = {0};
    put(&t, "graph @e(%%x: f32[B,T,64], %%ids: i64[B,T]) {\n");
    put_const(&t, "tab", "f32[5,64]", 5 * 64, 32, 1.0f);
    put(&t, "  %%emb = gather(@tab, %%ids) {axis = 0} : f32[B,T,64] loc(\"embed\")\n"
            "  %%s = add(%%emb, %%x) : f32[B,T,64]\n"
            "  %%c, %%sc = quantize(%%s, none, none) {bits = 8} : i8[B,T,64], f32[B,T,1] "
            "loc(\"q\")\n"
            "  return %%c, %%sc\n}\n");
    fa_graph *g = parse(t.s);
    free(t.s);
    if (!g)
        return;
    enum { B = 4, T = 64 };
    float *x = calloc(B * T * 64, sizeof *x);
    int64_t ids[B * T] = {0}, dx[] = {B, T, 64}, di[] = {B, T}, dbad[] = {B, T, 32},
                    di2[] = {B + 1, T};
    fa_rt_tensor ins[2] = {rt_view(FA_DT_F32, 3, dx, x), rt_view(FA_DT_I64, 2, di, ids)};
    fa_rt_plan *plan = NULL;
    /* creation checks the inputs like the interpreter */
    fa_rt_tensor bad[2] = {rt_view(FA_DT_F32, 3, dbad, x), ins[1]};
    CHECK_ERR(fa_rt_plan_create(g, bad, 2, al, &plan), "input 'x': dim 2 is 32, expected 64");
    CHECK(plan == NULL);
    CHECK_ERR(fa_rt_plan_create(g, ins, 1, al, &plan), "input 'ids' is missing");
    CHECK_OK(fa_rt_plan_create(g, ins, 2, al, &plan));
    if (!plan) {
        free(x);
        fa_graph_destroy(g);
        return;
    }
    fa_rt_thread_pool *pool = NULL;
    CHECK_OK(fa_rt_thread_pool_create(2, al, &pool));
    same_error(g, plan, pool, bad, 2, "input 'x': dim 2 is 32, expected 64");
    fa_rt_tensor mism[2] = {ins[0], rt_view(FA_DT_I64, 2, di2, ids)};
    same_error(g, plan, pool, mism, 2, "input 'ids': dim 0 (B) is 5, but B is 4 in input 'x'");
    fa_rt_tensor wrong[2] = {ins[1], ins[1]};
    same_error(g, plan, pool, wrong, 2, "input 'x': dtype i64, expected f32");
    fa_rt_tensor three[3] = {ins[0], ins[1], ins[1]};
    same_error(g, plan, pool, three, 3, "3 inputs given, the graph has 2");
    /* kernel errors name the node; a failing chunk re-runs whole for the exact message */
    ids[77] = 7;
    same_error(g, plan, pool, ins, 2, "node 'embed' (gather)");
    ids[77] = 1;
    x[64 * 200 + 5] = NAN;
    same_error(g, plan, pool, ins, 2, "node 'q' (quantize): quantize: row 200 holds a non-finite");
    x[64 * 200 + 5] = 0;
    fa_rt_tensor out[2];
    CHECK_OK(fa_rt_plan_run(plan, pool, ins, 2, out, al));
    fa_rt_tensors_free(out, 2, al);
    fa_rt_thread_pool_destroy(pool);
    fa_rt_plan_destroy(plan);
    free(x);
    fa_graph_destroy(g);
}

/* ---- allocation failures: fail the Nth allocation, expect an error and no leak ---- */

typedef struct fail_alloc {
    long countdown; /* allocations left before failing; < 0: never fail */
    long live;
} fail_alloc;

static void *fail_alloc_fn(void *user, size_t size, size_t align) {
    fail_alloc *f = user;
    if (f->countdown == 0)
        return NULL;
    if (f->countdown > 0)
        f->countdown--;
    void *p = fa_rt_allocator_default()->alloc(NULL, size, align);
    if (p)
        f->live++;
    return p;
}

static void fail_free_fn(void *user, void *p) {
    fail_alloc *f = user;
    if (p)
        f->live--;
    free(p);
}

static void test_alloc_failures(void) {
    fa_graph *g = parse(chain_text);
    if (!g)
        return;
    inputs in = {0}, other = {0};
    int64_t d[] = {3, 256}, d2[] = {7, 256};
    add_f32(&in, 2, d);
    add_f32(&other, 2, d2);
    fail_alloc f = {-1, 0};
    fa_rt_allocator fal = {fail_alloc_fn, fail_free_fn, &f};
    int succeeded = 0;
    for (long n = 0; n < 200 && !succeeded; n++) {
        f.countdown = n;
        fa_rt_plan *plan = NULL;
        fa_status s = fa_rt_plan_create(g, in.t, 1, &fal, &plan);
        if (s) {
            CHECK(plan == NULL && f.live == 0);
            fa_status_free(s);
            continue;
        }
        succeeded = 1;
        fa_rt_plan_destroy(plan);
        CHECK(f.live == 0);
    }
    CHECK(succeeded);
    /* runs: same shapes (planned) and new shapes (re-plan), failing each allocation in turn */
    f.countdown = -1;
    fa_rt_plan *plan = NULL;
    CHECK_OK(fa_rt_plan_create(g, in.t, 1, al, &plan));
    for (int k = 0; plan && k < 2; k++) {
        const inputs *use = k ? &other : &in;
        succeeded = 0;
        for (long n = 0; n < 200 && !succeeded; n++) {
            f.countdown = n;
            fa_rt_tensor out;
            fa_status s = fa_rt_plan_run(plan, NULL, use->t, 1, &out, &fal);
            if (s) {
                CHECK(f.live == 0);
                fa_status_free(s);
                continue;
            }
            succeeded = 1;
            fa_rt_tensor_free(&out, &fal);
            CHECK(f.live == 0);
        }
        CHECK(succeeded);
    }
    fa_rt_plan_destroy(plan);
    inputs_free(&in);
    inputs_free(&other);
    fa_graph_destroy(g);
}

static void test_profile_and_data(void) {
    fa_graph *g = parse(chain_text);
    if (!g)
        return;
    inputs in = {0};
    int64_t d[] = {64, 256};
    add_f32(&in, 2, d);
    fa_rt_plan *plan = NULL;
    CHECK_OK(fa_rt_plan_create(g, in.t, 1, al, &plan));
    if (plan) {
        fa_rt_plan_set_profiling(plan, true);
        fa_rt_tensor out;
        CHECK_OK(fa_rt_plan_run(plan, NULL, in.t, 1, &out, al));
        fa_rt_tensor_free(&out, al);
        fa_rt_plan_stats st;
        fa_rt_plan_stats_get(plan, &st);
        uint64_t calls = 0;
        for (uint32_t k = 0; k < st.num_op_kinds; k++) {
            calls += st.ops[k].calls;
            CHECK(st.ops[k].seconds >= 0);
        }
        CHECK(calls == 10 && st.num_op_kinds == 8);
        fa_rt_plan_data pd;
        fa_rt_plan_data_get(plan, &pd);
        CHECK(pd.num_steps == 10 && pd.num_outputs == 1);
        /* every arena buffer lies inside the arena; the output is its own */
        for (uint32_t b = 0; b < pd.num_buffers; b++)
            if (pd.buffers[b].kind == FA_RT_BUFFER_ARENA)
                CHECK(pd.buffers[b].offset % 64 == 0 &&
                      pd.buffers[b].offset + pd.buffers[b].nbytes <= pd.arena_bytes);
        CHECK(pd.buffers[pd.outputs[0]].kind == FA_RT_BUFFER_OUTPUT);
    }
    fa_rt_plan_destroy(plan);
    inputs_free(&in);
    fa_graph_destroy(g);
}

/* ---- the kernel hook: replacing a step's kernel, fusing two steps ---- */

typedef struct counted {
    int calls, frees;
    fa_rt_step_kernel inner;
    const void *inner_params;
} counted;

/* Counts its calls and forwards to the C kernel it replaced. */
static fa_status counting_kernel(const void *params, const fa_rt_tensor *const *ins, uint32_t nin,
                                 fa_rt_tensor *outs, uint32_t nout, const fa_rt_allocator *a) {
    counted *c = (counted *)params;
    __atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
    return c->inner(c->inner_params, ins, nin, outs, nout, a);
}

static void counted_free(void *p) { ((counted *)p)->frees++; }

/* routed_transform + quantize fused (C twin) gives fa_rt_transform_quantize's results bit for
 * bit with 1, 2 and 4 threads and across a re-plan; an installed kernel stays through re-plans
 * and its params are freed once; fusing a transform with a second reader is refused. */
static void test_kernel_hook(void) {
    text t = {0};
    put(&t, "graph @f(%%ids: i64[B,T], %%x: f32[B,T,64]) {\n");
    put_const(&t, "a", "f32[2,64,64]", 2 * 64 * 64, 32, 0.3f);
    put(&t, "  const @clip = f32[2] dense<[1.0, 0.875]>\n"
            "  %%tt = token_type(%%ids) {rule = \"ids==9\"} : u8[B,T]\n"
            "  %%y = routed_transform(%%x, %%tt, @a) : f32[B,T,64]\n"
            "  %%c, %%s = quantize(%%y, %%tt, @clip) {bits = 8} : i8[B,T,64], f32[B,T,1]\n"
            "  %%y2 = routed_transform(%%x, %%tt, @a) : f32[B,T,64]\n"
            "  %%c2, %%s2 = quantize(%%y2, %%tt, @clip) {bits = 4} : i8[B,T,64], f32[B,T,1]\n"
            "  %%r = relu(%%y2) : f32[B,T,64]\n"
            "  return %%c, %%s, %%tt, %%r, %%c2\n}\n");
    fa_graph *g = parse(t.s);
    free(t.s);
    if (!g)
        return;
    const fa_rt_tensor a =
        rt_view(FA_DT_F32, 3, (int64_t[]){2, 64, 64}, fa_graph_const(g, 0)->tensor->data);
    const fa_rt_tensor clip =
        rt_view(FA_DT_F32, 1, (int64_t[]){2}, fa_graph_const(g, 1)->tensor->data);
    int threads[] = {1, 2, 4};
    for (int ti = 0; ti < 3; ti++) {
        fa_rt_plan *plan = NULL;
        fa_rt_thread_pool *pool = NULL;
        CHECK_OK(fa_rt_plan_create_lazy(g, al, &plan));
        CHECK_OK(fa_rt_thread_pool_create((uint32_t)threads[ti], al, &pool));
        uint32_t fused = 0;
        CHECK_OK(fa_rt_plan_fuse_transform_quantize(plan, &fused));
        CHECK(fused == 1); /* %y2 has a second reader (relu) */
        CHECK(fa_rt_plan_step_fused(plan, 1) == 2 &&
              fa_rt_plan_step_fused(plan, 3) == FA_RT_PLAN_NONE);
        /* the refused fusion leaves the plan as it was and frees the params */
        counted refused = {0};
        fa_status s = fa_rt_plan_fuse_steps(plan, 3, 4, counting_kernel, &refused, counted_free);
        CHECK(s && fa_status_code_of(s) == FA_STATUS_INVALID_ARGUMENT && refused.frees == 1);
        fa_status_free(s);
        /* relu (step 5) through a counting wrapper */
        fa_rt_plan_data pd;
        fa_rt_plan_data_get(plan, &pd);
        CHECK(fa_rt_plan_step_node(plan, 5)->op == FA_OP_RELU);
        counted relu = {0, 0, pd.steps[5].kernel, pd.steps[5].params};
        CHECK_OK(fa_rt_plan_set_step_kernel(plan, 5, counting_kernel, &relu, counted_free));
        int64_t shapes[3][2] = {{4, 200}, {4, 200}, {3, 120}}; /* the third run re-plans */
        for (int k = 0; k < 3; k++) {
            inputs in = {0};
            int64_t dx[] = {shapes[k][0], shapes[k][1], 64};
            add_ids(&in, shapes[k][0], shapes[k][1]);
            add_f32(&in, 3, dx);
            fa_rt_tensor got[5] = {0}, codes = {0}, scales = {0};
            CHECK_OK(fa_rt_plan_run(plan, pool, in.t, 2, got, al));
            CHECK_OK(
                fa_rt_transform_quantize(&in.t[1], &got[2], &a, &clip, 8, &codes, &scales, al));
            bool bitwise = false;
            CHECK(max_diff(&got[0], &codes, &bitwise) == 0 && bitwise);
            CHECK(max_diff(&got[1], &scales, &bitwise) == 0 && bitwise);
            CHECK(relu.calls >= k + 1);
            fa_rt_tensors_free(got, 5, al);
            fa_rt_tensor_free(&codes, al);
            fa_rt_tensor_free(&scales, al);
            inputs_free(&in);
        }
        fa_rt_plan_stats st;
        fa_rt_plan_stats_get(plan, &st);
        CHECK(st.num_plans == 2 && st.heap_fallbacks == 0);
        fa_rt_plan_data_get(plan, &pd);
        CHECK(pd.steps[2].kernel == NULL);
        CHECK(pd.buffers[pd.args[pd.steps[2].first_arg]].kind == FA_RT_BUFFER_FUSED);
        fa_rt_plan_destroy(plan);
        fa_rt_thread_pool_destroy(pool);
        CHECK(relu.frees == 1);
    }
    fa_graph_destroy(g);
}

int main(void) {
    al = fa_rt_allocator_default();
    test_float_block();
    test_exact_block();
    test_quantized();
    test_chain_and_replan();
    test_outputs();
    test_data_dependent();
    test_errors();
    test_alloc_failures();
    test_profile_and_data();
    test_kernel_hook();
    return rt_report("test_plan");
}
