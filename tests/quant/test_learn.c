/* Tests of the learned transforms (passes/quant/learn.c, learn_grad.c): finite-difference checks
 * of the straight-through gradients with rounding off (float: relative error per parameter group
 * below 1e-2), exactness of freeact / freeact-ns, learning beating its start and RTN on a site
 * with per-type outliers, determinism. `test_quant_learn --bench` times two full-size sites. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "passes/quant/learn.h"
#include "passes/quant/learn_internal.h"
#include "passes/quant/qmath.h"
#include "tests/test_util.h"

typedef struct site {
    fa_qsite_data data;
    float *x, *w;
    uint8_t *type;
} site;

static void site_free(site *s) { free(s->x), free(s->w), free(s->type); }

/* Random site: rows alternate between two types; |rank| > 0 makes X rank-deficient (rows in a
 * random |rank|-dimensional subspace); channels |out0| / |out1| are outliers (x |big|) of type
 * 0 / 1 (of both types when rank-deficient). */
static site make_site(int64_t d, int64_t n, int64_t rows, int64_t rank, int out0, int out1,
                      float big, uint64_t seed) {
    site s = {0};
    uint64_t rng = seed;
    s.x = malloc((size_t)(rows * d) * sizeof(float));
    s.w = malloc((size_t)(n * d) * sizeof(float));
    s.type = malloc((size_t)rows);
    int64_t kr = rank > 0 ? rank : d;
    float *basis = malloc((size_t)(kr * d) * sizeof(float));
    for (int64_t i = 0; i < kr * d; i++)
        basis[i] = (float)fa_qmath_rng_normal(&rng);
    for (int64_t q = 0; rank > 0 && q < kr; q++) { /* outliers in the basis keep the rank */
        if (out0 >= 0)
            basis[q * d + out0] *= big;
        if (out1 >= 0)
            basis[q * d + out1] *= big * 0.5f;
    }
    for (int64_t r = 0; r < rows; r++) {
        s.type[r] = (uint8_t)(r % 2);
        float *xr = s.x + r * d;
        if (rank > 0) {
            memset(xr, 0, (size_t)d * sizeof(float));
            for (int64_t q = 0; q < kr; q++) {
                float c = (float)fa_qmath_rng_normal(&rng);
                for (int64_t j = 0; j < d; j++)
                    xr[j] += c * basis[q * d + j];
            }
        } else {
            for (int64_t j = 0; j < d; j++)
                xr[j] = (float)fa_qmath_rng_normal(&rng) * (1.0f + 0.5f * (float)(j % 5));
        }
        int oc = s.type[r] ? out1 : out0;
        if (oc >= 0 && rank == 0) {
            xr[oc] *= big;
            xr[(oc + 7) % d] *= big * 0.5f;
        }
    }
    for (int64_t i = 0; i < n * d; i++)
        s.w[i] = (float)fa_qmath_rng_normal(&rng) * 0.1f;
    free(basis);
    s.data = (fa_qsite_data){"test/site", d, rows, s.x, s.type, 2, n, s.w};
    return s;
}

static fa_qsite_result result_alloc(int64_t d, int64_t n, unsigned k) {
    fa_qsite_result r = {0};
    r.d = d, r.n = n, r.num_types = k;
    r.a = malloc((size_t)(k * d * d) * sizeof(float));
    r.m = malloc((size_t)(d * d) * sizeof(float));
    return r;
}

/* Central differences against the analytic gradient with rounding off. */
static void check_gradients(fa_qmethod method) {
    site s = make_site(8, 5, 20, method == FA_QMETHOD_FREEACT_NS ? 5 : 0, 1, 6, 4.0f, 11);
    fa_qconfig cfg;
    fa_qconfig_init(&cfg, 4, 4);
    cfg.seed = 3;
    cfg.exclusive = 1;
    fa_qlearn *l = NULL;
    fa_qlearn_no_rounding = true;
    CHECK_OK(fa_qlearn_create(&s.data, method, &cfg, &l));
    if (!l) {
        fa_qlearn_no_rounding = false;
        site_free(&s);
        return;
    }
    int64_t np;
    float *p = fa_qlearn_params(l, &np);
    uint64_t rng = 99;
    const char *name;
    int64_t off, len;
    int groups = fa_qlearn_group(l, 0, &name, &off, &len);
    for (int gi = 0; gi < groups; gi++) { /* move away from the start so every path matters */
        fa_qlearn_group(l, gi, &name, &off, &len);
        if (!strcmp(name, "T")) /* a well-conditioned T: float differences stay accurate */
            CHECK_OK(fa_qmath_random_orthogonal(8, &rng, p + off));
        for (int64_t i = off; i < off + len; i++) {
            double u = fa_qmath_rng_uniform(&rng) - 0.5;
            if (!strncmp(name, "clip", 4))
                p[i] = (float)(1.0 + 2.0 * fa_qmath_rng_uniform(&rng));
            else if (!strcmp(name, "Z"))
                p[i] = (float)(0.3 * u);
            else
                p[i] += (float)(0.1 * u);
        }
    }
    float *g = malloc((size_t)np * sizeof(float));
    double loss;
    CHECK_OK(fa_qlearn_loss_grad(l, &loss, g));
    for (int gi = 0; gi < groups; gi++) {
        fa_qlearn_group(l, gi, &name, &off, &len);
        double num = 0, den = 0;
        for (int64_t i = off; i < off + len; i++) {
            float keep = p[i];
            const float eps = 1e-3f;
            double lp, lm;
            p[i] = keep + eps;
            CHECK_OK(fa_qlearn_loss_grad(l, &lp, NULL));
            p[i] = keep - eps;
            CHECK_OK(fa_qlearn_loss_grad(l, &lm, NULL));
            p[i] = keep;
            double fd = (lp - lm) / (2.0 * eps);
            num += (fd - g[i]) * (fd - g[i]);
            den += fd * fd;
        }
        double rel = sqrt(num / (den > 0 ? den : 1e-300));
        printf("grad %-10s %-7s |g| %.3e  rel err %.2e (float)\n", fa_qmethod_name(method), name,
               sqrt(den), rel);
        CHECK(den > 0);
        CHECK(rel < 1e-2);
    }
    free(g);
    fa_qlearn_destroy(l);
    fa_qlearn_no_rounding = false;
    site_free(&s);
}

/* max over types of ‖X_k A_k M − X_k‖ / ‖X_k‖. */
static double equivalence(const site *s, const fa_qsite_result *r) {
    const int64_t d = s->data.d;
    double worst = 0;
    for (unsigned k = 0; k < 2; k++) {
        double num = 0, den = 0;
        float *z = malloc((size_t)d * sizeof(float));
        for (int64_t row = 0; row < s->data.rows; row++) {
            if (s->type[row] != k)
                continue;
            const float *x = s->x + row * d, *a = r->a + k * d * d;
            for (int64_t j = 0; j < d; j++) {
                double acc = 0;
                for (int64_t i = 0; i < d; i++)
                    acc += (double)x[i] * a[i * d + j];
                z[j] = (float)acc;
            }
            for (int64_t j = 0; j < d; j++) {
                double acc = 0;
                for (int64_t i = 0; i < d; i++)
                    acc += (double)z[i] * r->m[i * d + j];
                num += (acc - x[j]) * (acc - x[j]);
                den += (double)x[j] * x[j];
            }
        }
        free(z);
        worst = fmax(worst, sqrt(num / den));
    }
    return worst;
}

/* freeact on data where each type lives in shared + its own exclusive directions. */
static void check_freeact_exact(void) {
    const int64_t d = 32, n = 16, rows = 400, e = 4;
    site s = make_site(d, n, rows, 0, -1, -1, 1.0f, 5);
    uint64_t rng = 17;
    float *q = malloc((size_t)(d * d) * sizeof(float));
    CHECK_OK(fa_qmath_random_orthogonal(d, &rng, q));
    for (int64_t r = 0; r < rows; r++) { /* type 0: basis 0..27, type 1: 0..23 and 28..31 */
        float *x = s.x + r * d;
        memset(x, 0, (size_t)d * sizeof(float));
        for (int64_t b = 0; b < d; b++) {
            bool own0 = b >= d - 2 * e && b < d - e, own1 = b >= d - e;
            if ((own0 && s.type[r] != 0) || (own1 && s.type[r] != 1))
                continue;
            float c = (float)fa_qmath_rng_normal(&rng) * (own0 || own1 ? 3.0f : 1.0f);
            for (int64_t j = 0; j < d; j++)
                x[j] += c * q[b * d + j];
        }
    }
    fa_qconfig cfg;
    fa_qconfig_init(&cfg, 8, 8);
    cfg.exclusive = (int)e;
    cfg.seed = 1;
    fa_qsite_result r = result_alloc(d, n, 2);
    float *wc = malloc((size_t)n * sizeof(float));
    fa_qlearn_report rep;
    CHECK_OK(fa_qlearn_fit_ex(&s.data, FA_QMETHOD_FREEACT, &cfg, 0, &r, wc, &rep));
    double eq0 = equivalence(&s, &r);
    printf("freeact closed-form start: equivalence %.2e, loss %.4g (random start %.4g), "
           "chosen %d, exclusive %d\n",
           eq0, rep.start_loss, rep.start_loss2, rep.chosen_start, r.exclusive);
    CHECK(rep.chosen_start == 0);
    CHECK(r.exclusive == e);
    CHECK(eq0 < 1e-4);
    CHECK(!strcmp(r.kinds[0], "dense") && !r.identity);
    CHECK_OK(fa_qlearn_fit_ex(&s.data, FA_QMETHOD_FREEACT, &cfg, 60, &r, wc, &rep));
    printf("freeact after 60 steps: equivalence %.2e, loss %.4g -> %.4g\n", equivalence(&s, &r),
           rep.start_loss, rep.final_loss);
    CHECK(rep.final_loss <= rep.start_loss);
    free(q), free(wc);
    fa_qsite_result_deinit(&r);
    site_free(&s);
}

static void check_ns_exact(void) {
    const int64_t d = 32, n = 16, rows = 300;
    site s = make_site(d, n, rows, 12, 2, 9, 6.0f, 8);
    fa_qconfig cfg;
    fa_qconfig_init(&cfg, 4, 4);
    cfg.seed = 4;
    fa_qsite_result r = result_alloc(d, n, 2);
    float *wc = malloc((size_t)n * sizeof(float));
    fa_qlearn_report rep;
    CHECK_OK(fa_qlearn_fit_ex(&s.data, FA_QMETHOD_FREEACT_NS, &cfg, 80, &r, wc, &rep));
    double eq = equivalence(&s, &r);
    printf("freeact-ns: rank %d, equivalence %.2e, loss %.4g -> %.4g, kind %s, clips %.3f %.3f\n",
           r.exclusive, eq, rep.start_loss, rep.final_loss, r.kinds[0], r.act_clip[0],
           r.act_clip[1]);
    CHECK(r.exclusive == 12);
    CHECK(eq < 1e-5);
    CHECK(rep.final_loss <= rep.start_loss);
    for (int64_t i = 0; i < n; i++)
        CHECK(wc[i] > 0.0f && wc[i] <= 1.0f);
    free(wc);
    fa_qsite_result_deinit(&r);
    site_free(&s);
}

/* w4a4 site with different outlier channels per type: learning beats its start and RTN. */
static void check_learning_helps(void) {
    const int64_t d = 64, n = 96, rows = 1024;
    site s = make_site(d, n, rows, 0, 3, 40, 20.0f, 21);
    fa_qconfig cfg;
    fa_qconfig_init(&cfg, 4, 4);
    cfg.seed = 7;
    float *eye = calloc((size_t)(2 * d * d), sizeof(float)), clip1[2] = {1.0f, 1.0f};
    for (int64_t i = 0; i < d; i++)
        eye[i * d + i] = eye[d * d + i * d + i] = 1.0f;
    double rtn;
    CHECK_OK(fa_qlearn_evaluate(&s.data, &cfg, eye, eye, clip1, NULL, &rtn));
    double final[2] = {0, 0};
    fa_qmethod ms[2] = {FA_QMETHOD_FLATQUANT, FA_QMETHOD_FREEACT};
    for (int i = 0; i < 2; i++) {
        fa_qsite_result r = result_alloc(d, n, 2);
        float *wc = malloc((size_t)n * sizeof(float));
        fa_qlearn_report rep;
        CHECK_OK(fa_qlearn_fit_ex(&s.data, ms[i], &cfg, 150, &r, wc, &rep));
        CHECK_OK(fa_qlearn_evaluate(&s.data, &cfg, r.a, r.m, r.act_clip, wc, &final[i]));
        printf("w4a4 %-9s: rtn %.4g, start %.4g -> final %.4g (evaluated %.4g)",
               fa_qmethod_name(ms[i]), rtn, rep.start_loss, rep.final_loss, final[i]);
        if (ms[i] == FA_QMETHOD_FREEACT)
            printf("; closed-form start %.4g -> %.4g, random start %.4g -> %.4g, chosen %d",
                   rep.start_loss1, rep.final_loss1, rep.start_loss2, rep.final_loss2,
                   rep.chosen_start);
        printf("\n");
        CHECK(rep.final_loss < rep.start_loss);
        CHECK(final[i] < rtn);
        /* The reported loss is the returned transform's, unless freeact dropped exclusive
         * channels that were not exact on the data (then exclusive is 0 and the transform is
         * exact: x A M = x). */
        if (ms[i] == FA_QMETHOD_FREEACT && r.exclusive == 0) {
            double eq[2], qe[2];
            int64_t nrows[2];
            r.wq = calloc((size_t)(n * d), 1);
            r.w_scale = calloc((size_t)n, sizeof(float));
            r.groups = 1;
            CHECK_OK(fa_qsite_evaluate(&s.data, &r, cfg.a_bits, eq, qe, nrows));
            CHECK(eq[0] < 1e-4 && eq[1] < 1e-4);
        } else {
            CHECK(fabs(final[i] - rep.final_loss) <= 1e-6 * rep.final_loss + 1e-12);
        }
        free(wc);
        fa_qsite_result_deinit(&r);
    }
    CHECK(final[1] <= final[0] * 1.05);
    free(eye);
    site_free(&s);
}

static void check_determinism(void) {
    const int64_t d = 24, n = 12, rows = 3000; /* > one batch: the sampler runs */
    site s = make_site(d, n, rows, 0, 1, 5, 8.0f, 31);
    fa_qconfig cfg;
    fa_qconfig_init(&cfg, 4, 8);
    cfg.seed = 12;
    cfg.steps = 15;
    cfg.exclusive = 2;
    fa_qmethod ms[3] = {FA_QMETHOD_FLATQUANT, FA_QMETHOD_FREEACT, FA_QMETHOD_FREEACT_NS};
    for (int i = 0; i < 3; i++) {
        fa_qsite_result r1 = result_alloc(d, n, 2), r2 = result_alloc(d, n, 2);
        float *w1 = malloc((size_t)n * sizeof(float)), *w2 = malloc((size_t)n * sizeof(float));
        CHECK_OK(fa_qlearn_fit(&s.data, ms[i], &cfg, &r1, w1));
        CHECK_OK(fa_qlearn_fit(&s.data, ms[i], &cfg, &r2, w2));
        CHECK(!memcmp(r1.a, r2.a, (size_t)(2 * d * d) * sizeof(float)));
        CHECK(!memcmp(r1.m, r2.m, (size_t)(d * d) * sizeof(float)));
        CHECK(!memcmp(r1.act_clip, r2.act_clip, sizeof r1.act_clip));
        CHECK(!memcmp(w1, w2, (size_t)n * sizeof(float)));
        free(w1), free(w2);
        fa_qsite_result_deinit(&r1);
        fa_qsite_result_deinit(&r2);
    }
    site_free(&s);
}

static void check_errors(void) {
    site s = make_site(8, 4, 20, 0, -1, -1, 1.0f, 2);
    fa_qconfig cfg;
    fa_qconfig_init(&cfg, 4, 4);
    fa_qsite_result r = result_alloc(8, 4, 2);
    float wc[4];
    CHECK_ERROR(fa_qlearn_fit(&s.data, FA_QMETHOD_RTN, &cfg, &r, wc), "test/site");
    cfg.exclusive = 4; /* 2 types x 4 = d */
    CHECK_ERROR(fa_qlearn_fit(&s.data, FA_QMETHOD_FREEACT, &cfg, &r, wc), "test/site: 2 types");
    fa_qsite_result_deinit(&r);
    site_free(&s);
}

/* Timing of full-size sites (not part of the test). */
static void bench(int64_t d, int64_t n, int64_t rows, fa_qmethod m) {
    site s = make_site(d, n, rows, 0, 3, 40, 20.0f, 1);
    fa_qconfig cfg;
    fa_qconfig_init(&cfg, 4, 4);
    cfg.verbose = 1;
    fa_qsite_result r = result_alloc(d, n, 2);
    float *wc = malloc((size_t)n * sizeof(float));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_OK(fa_qlearn_fit(&s.data, m, &cfg, &r, wc));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("bench %s d=%lld n=%lld rows=%lld: %.2f s\n", fa_qmethod_name(m), (long long)d,
           (long long)n, (long long)rows,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    free(wc);
    fa_qsite_result_deinit(&r);
    site_free(&s);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--bench")) {
        int64_t d = argc > 2 ? atoll(argv[2]) : 256, n = argc > 3 ? atoll(argv[3]) : 768;
        int64_t rows = argc > 4 ? atoll(argv[4]) : 8192;
        fa_qmethod m = FA_QMETHOD_FLATQUANT;
        if (argc > 5 && !fa_qmethod_parse(argv[5], &m))
            return 2;
        bench(d, n, rows, m);
        TEST_MAIN_END();
    }
    check_gradients(FA_QMETHOD_FLATQUANT);
    check_gradients(FA_QMETHOD_FREEACT);
    check_gradients(FA_QMETHOD_FREEACT_NS);
    check_freeact_exact();
    check_ns_exact();
    check_learning_helps();
    check_determinism();
    check_errors();
    TEST_MAIN_END();
}
