/* Runs a model compiled ahead of time by `freeact compile ... -o NAME.so` (or .a / .o): the
 * whole of what a program needs is the generated NAME.h and the library.
 *
 * Build (examples/aot/README.md):
 *   cc -O2 -DMODEL=NAME -I DIR examples/aot/run_model.c DIR/NAME.so -Wl,-rpath,DIR -o run_model
 * Usage:
 *   run_model [--threads N] [--batch B] INPUT.npy ... [-o OUTPUT.npy ...]
 *             [--eval TARGETS.npy MASK.npy] [--repeat N]
 * The inputs are the model's, in its order (NAME.h lists them); with --batch they are run B
 * samples (rows of axis 0) at a time and the outputs concatenated. --eval prints the token
 * accuracy of output 0 (logits [N, T, V]): argmax == target where the mask is non-zero, as
 * `freeact eval` computes it. --repeat N times N more runs of the whole input after the first
 * and prints create_ms, first_ms and median_ms as one JSON line (bench/models uses it). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef MODEL
#error "compile with -DMODEL=NAME (the --name the model was compiled with)"
#endif
#define STR2(x) #x
#define STR(x) STR2(x)
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(suffix) CAT(MODEL, suffix)
#include STR(MODEL.h)
#include "npy_io.h"

enum { MAX_IO = 16 };

static int usage(void) {
    fprintf(stderr, "usage: run_model [--threads N] [--batch B] INPUT.npy ... [-o OUTPUT.npy ...]\n"
                    "                 [--eval TARGETS.npy MASK.npy] [--repeat N]\n");
    return 2;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs the whole input once, then |n| more times, and prints the times as JSON. */
static int time_runs(FN(_model) * m, const freeact_tensor *in, int nin, double create_ms, int n) {
    freeact_tensor out[MAX_IO];
    double *t = malloc((size_t)(n + 1) * sizeof *t);
    if (!t)
        return -1;
    for (int r = 0; r <= n; r++) {
        double t0 = now_ms();
        if (FN(_run)(m, in, (size_t)nin, out, FN(_num_outputs)) != 0) {
            fprintf(stderr, "run_model: %s\n", FN(_error)(m));
            free(t);
            return -1;
        }
        t[r] = now_ms() - t0;
    }
    qsort(t + 1, (size_t)n, sizeof *t, cmp_double);
    printf("{\"create_ms\": %.3f, \"first_ms\": %.3f, \"median_ms\": %.3f, \"min_ms\": %.3f, "
           "\"runs\": %d}\n",
           create_ms, t[0], t[1 + n / 2], t[1], n);
    free(t);
    return 0;
}

/* Rows [r0, r0 + n) of |t| along axis 0, as a view. */
static freeact_tensor rows_of(const freeact_tensor *t, int64_t r0, int64_t n) {
    freeact_tensor v = *t;
    size_t row = npy_count(t) / (size_t)(t->dims[0] ? t->dims[0] : 1) * npy_elem_size(t->dtype);
    v.dims[0] = n;
    v.data = (char *)t->data + (size_t)r0 * row;
    return v;
}

/* Appends |part| to |all| along axis 0 (|all| starts zeroed). */
static int append(freeact_tensor *all, const freeact_tensor *part) {
    size_t bytes = npy_count(part) * npy_elem_size(part->dtype);
    size_t have = all->data ? npy_count(all) * npy_elem_size(all->dtype) : 0;
    if (!all->data) { /* the first part: its shape, no data yet (the model owns part's) */
        *all = *part;
        all->data = NULL;
        all->dims[0] = 0;
    }
    char *p = realloc(all->data, have + bytes + 1);
    if (!p)
        return -1;
    memcpy(p + have, part->data, bytes);
    all->data = p;
    all->dims[0] += part->dims[0];
    return 0;
}

typedef struct accuracy {
    long long hits, tokens;
} accuracy;

/* Counts argmax hits of |logits| [b, T, V] f32 against rows [r0, r0 + b) of the targets. */
static int score(const freeact_tensor *logits, const freeact_tensor *targets,
                 const freeact_tensor *mask, int64_t r0, accuracy *acc) {
    if (logits->dtype != FREEACT_F32 || logits->rank != 3 || targets->dtype != FREEACT_I64 ||
        targets->rank != 2 || targets->dims[1] != logits->dims[1] || mask->rank != 2 ||
        mask->dims[0] != targets->dims[0] || mask->dims[1] != targets->dims[1] ||
        npy_elem_size(mask->dtype) != 1) {
        fprintf(stderr, "--eval: expected logits f32 [N,T,V], targets i64 [N,T] and a 1-byte "
                        "mask [N,T]\n");
        return -1;
    }
    int64_t T = logits->dims[1], V = logits->dims[2];
    const float *l = logits->data;
    const int64_t *tg = targets->data;
    const uint8_t *mk = mask->data;
    for (int64_t b = 0; b < logits->dims[0]; b++)
        for (int64_t t = 0; t < T; t++) {
            int64_t at = (r0 + b) * T + t;
            if (!mk[at])
                continue;
            const float *row = l + (b * T + t) * V;
            int64_t best = 0;
            for (int64_t v = 1; v < V; v++)
                if (row[v] > row[best])
                    best = v;
            acc->hits += best == tg[at];
            acc->tokens++;
        }
    return 0;
}

int main(int argc, char **argv) {
    const char *in_paths[MAX_IO], *out_paths[MAX_IO], *eval_t = NULL, *eval_m = NULL;
    int nin = 0, nout = 0, threads = 0, repeat = 0;
    long long batch = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoll(argv[++i]);
        else if (!strcmp(argv[i], "-o") && i + 1 < argc && nout < MAX_IO)
            out_paths[nout++] = argv[++i];
        else if (!strcmp(argv[i], "--eval") && i + 2 < argc) {
            eval_t = argv[++i];
            eval_m = argv[++i];
        } else if (argv[i][0] != '-' && nin < MAX_IO)
            in_paths[nin++] = argv[i];
        else
            return usage();
    }
    if (nin != FN(_num_inputs) || nout > FN(_num_outputs) || batch < 0 || repeat < 0) {
        fprintf(stderr, "run_model: %s takes %d inputs and gives %d outputs\n", STR(MODEL),
                FN(_num_inputs), FN(_num_outputs));
        return usage();
    }
    freeact_tensor in[MAX_IO], out[MAX_IO], all[MAX_IO], targets = {0}, mask = {0};
    memset(in, 0, sizeof in);
    memset(all, 0, sizeof all);
    int rc = 1;
    char err[1024];
    double t0 = now_ms();
    FN(_model) *m = FN(_create)(threads, err, sizeof err);
    double create_ms = now_ms() - t0;
    if (!m) {
        fprintf(stderr, "run_model: %s\n", err);
        return 1;
    }
    for (int i = 0; i < nin; i++)
        if (npy_read(in_paths[i], &in[i]) != 0)
            goto done;
    if (eval_t && (npy_read(eval_t, &targets) != 0 || npy_read(eval_m, &mask) != 0))
        goto done;
    if (repeat) {
        rc = time_runs(m, in, nin, create_ms, repeat) == 0 ? 0 : 1;
        goto done;
    }
    int64_t rows = in[0].rank ? in[0].dims[0] : 1, step = batch ? batch : rows;
    accuracy acc = {0, 0};
    for (int64_t r0 = 0; r0 < rows; r0 += step) {
        int64_t n = rows - r0 < step ? rows - r0 : step;
        freeact_tensor views[MAX_IO];
        for (int i = 0; i < nin; i++)
            views[i] = in[i].rank ? rows_of(&in[i], r0, n) : in[i];
        if (FN(_run)(m, views, (size_t)nin, out, FN(_num_outputs)) != 0) {
            fprintf(stderr, "run_model: %s\n", FN(_error)(m));
            goto done;
        }
        if (eval_t && score(&out[0], &targets, &mask, r0, &acc) != 0)
            goto done;
        for (int i = 0; i < nout; i++)
            if (append(&all[i], &out[i]) != 0) {
                fprintf(stderr, "run_model: out of memory\n");
                goto done;
            }
    }
    for (int i = 0; i < nout; i++)
        if (npy_write(out_paths[i], &all[i]) != 0)
            goto done;
    if (eval_t)
        printf("token_accuracy %.4f  tokens %lld\n",
               acc.tokens ? (double)acc.hits / (double)acc.tokens : 0.0, acc.tokens);
    rc = 0;
done:
    for (int i = 0; i < MAX_IO; i++) {
        free(in[i].data);
        free(all[i].data);
    }
    free(targets.data);
    free(mask.data);
    FN(_destroy)(m);
    return rc;
}
