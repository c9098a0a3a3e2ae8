/* Whole models through the planned runtime: runs a .fir model (the example dllm, float or
 * quantized) on the first rows of an input_ids .npy with the interpreter and with the plan on 1
 * and 2 threads, prints the max abs difference per output, the memory plan (arena vs the naive
 * sum) and wall times, and fails if a difference exceeds --tol (default 0: bitwise).
 *   test_plan_models MODEL.fir IDS.npy [--rows N] [--tol T] [--reps R] [--profile]
 * tests/runtime/plan-models.sh prepares the models (freeact opt / compile) and calls this. */
#include <stdlib.h>
#include <time.h>

#include "ir/fileio.h"
#include "runtime/npy.h"
#include "runtime/plan.h"
#include "tests/runtime/rt_test.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static fa_status load(const char *path, fa_graph **out) {
    char *text = NULL;
    size_t len = 0;
    FA_TRY(fa_file_read_all(path, &text, &len));
    char *dir = fa_path_dirname(path);
    fa_status s = fa_graph_parse(text, len, path, dir, 0, out);
    free(dir);
    free(text);
    return s;
}

/* Max |a - b| (INFINITY for a type or shape mismatch); *out_bitwise if the bytes are equal. */
static double max_abs_diff(const fa_rt_tensor *a, const fa_rt_tensor *b, bool *out_bitwise) {
    *out_bitwise = false;
    if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes ||
        memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) != 0)
        return INFINITY;
    *out_bitwise = memcmp(a->data, b->data, (size_t)a->nbytes) == 0;
    if (*out_bitwise)
        return 0;
    double m = 0;
    uint64_t n = fa_rt_tensor_num_elements(a);
    for (uint64_t i = 0; i < n; i++) {
        double d =
            fabs(fa_rt_load_f64(a->dtype, a->data, i) - fa_rt_load_f64(b->dtype, b->data, i));
        if (!(d <= m))
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr,
                "usage: %s MODEL.fir IDS.npy [--rows N] [--tol T] [--reps R] "
                "[--profile]\n",
                argv[0]);
        return 2;
    }
    int64_t rows = 4;
    double tol = 0;
    int reps = 3;
    bool profile = false;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--tol") && i + 1 < argc)
            tol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--profile"))
            profile = true;
        else {
            fprintf(stderr, "unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    const fa_rt_allocator *al = fa_rt_allocator_default();
    fa_graph *g = NULL;
    fa_rt_tensor ids = {0};
    CHECK_OK(load(argv[1], &g));
    CHECK_OK(fa_rt_npy_read(argv[2], &ids, al));
    if (!g || !ids.data || ids.rank != 2 || rows < 1 || reps < 1) {
        CHECK(!"bad model, ids or options");
        fa_graph_destroy(g);
        fa_rt_tensor_free(&ids, al);
        return rt_report("test_plan_models");
    }
    rows = rows < ids.dims[0] ? rows : ids.dims[0];
    int64_t dims[2] = {rows, ids.dims[1]};
    fa_rt_tensor in = rt_view(ids.dtype, 2, dims, ids.data);
    uint32_t nout = fa_graph_num_outputs(g);
    fa_rt_tensor *ref = calloc(nout, sizeof *ref), *got = calloc(nout, sizeof *got);

    double t_interp = INFINITY;
    for (int r = 0; r < reps && !rt_failures; r++) {
        if (r)
            fa_rt_tensors_free(ref, nout, al);
        double t0 = now_s();
        CHECK_OK(fa_rt_interp_run(g, &in, 1, ref, al));
        double t = now_s() - t0;
        t_interp = t < t_interp ? t : t_interp;
    }
    fa_rt_plan *plan = NULL;
    double t0 = now_s();
    CHECK_OK(fa_rt_plan_create(g, &in, 1, al, &plan));
    double t_create = now_s() - t0;
    printf("%s: %lld rows x %lld tokens\n", argv[1], (long long)rows, (long long)ids.dims[1]);
    printf("  interpreter: %.1f ms (best of %d)\n", 1e3 * t_interp, reps);
    printf("  plan create (shape pass + memory plan): %.1f ms\n", 1e3 * t_create);
    for (uint32_t threads = 1; plan && threads <= 2; threads++) {
        fa_rt_thread_pool *pool = NULL;
        CHECK_OK(fa_rt_thread_pool_create(threads, al, &pool));
        fa_rt_plan_set_profiling(plan, profile && threads == 2);
        double best = INFINITY;
        for (int r = 0; r < reps && !rt_failures; r++) {
            t0 = now_s();
            CHECK_OK(fa_rt_plan_run(plan, pool, &in, 1, got, al));
            double t = now_s() - t0;
            best = t < best ? t : best;
            if (r + 1 < reps)
                fa_rt_tensors_free(got, nout, al);
        }
        printf("  plan, %u thread%s: %.1f ms (best of %d)\n", threads, threads > 1 ? "s" : "",
               1e3 * best, reps);
        for (uint32_t i = 0; i < nout && !rt_failures; i++) {
            bool bitwise;
            double d = max_abs_diff(&got[i], &ref[i], &bitwise);
            printf("    output %u (%s): max abs diff %g%s\n", i, fa_graph_output(g, i)->name, d,
                   bitwise ? " (bitwise equal)" : "");
            if (!(d <= tol)) {
                fprintf(stderr, "output %u: max abs diff %g exceeds %g\n", i, d, tol);
                rt_failures++;
            }
        }
        fa_rt_tensors_free(got, nout, al);
        fa_rt_thread_pool_destroy(pool);
    }
    if (plan) {
        fa_rt_plan_stats st;
        fa_rt_plan_stats_get(plan, &st);
        uint32_t split = 0;
        for (uint32_t k = 0; k < st.num_op_kinds; k++)
            split += st.ops[k].split_steps;
        printf("  steps %u (%u row-split with 2 threads), buffers %u (%u in the arena)\n",
               st.num_steps, split, st.num_buffers, st.num_arena_buffers);
        printf("  arena %.2f MiB vs naive sum %.2f MiB (%.1f%%); heap fallbacks %llu\n",
               (double)st.arena_bytes / 1048576.0, (double)st.naive_bytes / 1048576.0,
               st.naive_bytes ? 100.0 * (double)st.arena_bytes / (double)st.naive_bytes : 0.0,
               (unsigned long long)st.heap_fallbacks);
        CHECK(st.arena_bytes < st.naive_bytes && st.num_plans == 1);
        if (profile) {
            printf("  per op kind (2 threads, %d runs):\n", reps);
            for (uint32_t k = 0; k < st.num_op_kinds; k++)
                printf("    %-20s steps %4u split %4u  %8.2f ms\n", st.ops[k].op, st.ops[k].steps,
                       st.ops[k].split_steps, 1e3 * st.ops[k].seconds);
        }
    }
    fa_rt_plan_destroy(plan);
    fa_rt_tensors_free(ref, nout, al);
    free(ref);
    free(got);
    fa_rt_tensor_free(&ids, al);
    fa_graph_destroy(g);
    return rt_report("test_plan_models");
}
