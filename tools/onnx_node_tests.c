/* onnx-node-tests: runs ONNX's own node tests (model.onnx + test_data_set_N/{input,output}_M.pb)
 * through the importer and the reference interpreter, with ONNX's tolerances. Each case runs in a
 * child process, so a crash is reported as a failure of that case, not the end of the run. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frontend/onnx.h"
#include "ir/fileio.h"
#include "runtime/interp.h"

#define DEFAULT_DIR "/usr/share/libonnx-testdata/data/node"
#define RTOL 1e-3
#define ATOL 1e-7

static const char usage_text[] =
    "usage: onnx-node-tests [DIR] [--xfail FILE] [--coverage OUT.md] [--filter TEXT] [-v]\n"
    "\n"
    "Runs every ONNX node test case under DIR (default " DEFAULT_DIR ",\n"
    "from Debian's libonnx-testdata): imports model.onnx, feeds test_data_set_*/input_*.pb, and\n"
    "compares the outputs with output_*.pb (rtol 1e-3, atol 1e-7, NaN equals NaN).\n"
    "A case is skipped when its model uses an op freeact does not import.\n"
    "\n"
    "  --xfail FILE      expected failures, one case name per line ('#' comments); the exit\n"
    "                    status is 0 only if the failures are exactly these (an expected failure\n"
    "                    that passes is reported as XPASS and fails the run)\n"
    "  --coverage OUT.md write a per-op table: imported or not, cases passed / total\n"
    "  --filter TEXT     run only cases whose name contains TEXT\n"
    "  -v                also print expected failures and skips\n"
    "\n"
    "The last line is 'N passed, N failed, N skipped'.\n";

typedef enum { R_PASS, R_FAIL, R_SKIP } result_kind;

typedef struct case_result {
    char *name;
    result_kind kind;
    char *reason; /* failure reason or the unsupported op */
    char **ops;
    uint32_t num_ops;
} case_result;

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s)
        return strdup("out of memory");
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Formats a path into |buf| (PATH_SIZE bytes); false if it does not fit. */
#define PATH_SIZE 4096
static bool make_path(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool make_path(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PATH_SIZE, fmt, ap);
    va_end(ap);
    return n >= 0 && n < PATH_SIZE;
}

/* ---- comparing ---- */

static char *compare(const fa_rt_tensor *got, fa_dtype want_dt, const fa_type *want_type,
                     const void *want, uint64_t want_bytes, const char *out_name) {
    if (got->dtype != want_dt)
        return xasprintf("output '%s': dtype %s, expected %s", out_name, fa_dtype_name(got->dtype),
                         fa_dtype_name(want_dt));
    bool shape_ok = got->rank == want_type->rank;
    for (int i = 0; shape_ok && i < got->rank; i++)
        shape_ok = got->dims[i] == want_type->dims[i].value;
    if (!shape_ok) {
        char a[128];
        fa_rt_tensor_describe(got, a, sizeof a);
        return xasprintf("output '%s': shape %s, expected rank %d", out_name, a, want_type->rank);
    }
    if (got->nbytes != want_bytes)
        return xasprintf("output '%s': %llu bytes, expected %llu", out_name,
                         (unsigned long long)got->nbytes, (unsigned long long)want_bytes);
    uint64_t n = fa_rt_tensor_num_elements(got);
    bool is_float = fa_dtype_is_float(want_dt);
    for (uint64_t i = 0; i < n; i++) {
        if (is_float) {
            double a = fa_rt_load_f64(want_dt, got->data, i), e = fa_rt_load_f64(want_dt, want, i);
            if (isnan(e) && isnan(a))
                continue;
            if (isinf(e) && a == e)
                continue;
            if (!(fabs(a - e) <= ATOL + RTOL * fabs(e)))
                return xasprintf("output '%s': element %llu is %.9g, expected %.9g", out_name,
                                 (unsigned long long)i, a, e);
        } else {
            int64_t a = fa_rt_load_i64(want_dt, got->data, i), e = fa_rt_load_i64(want_dt, want, i);
            if (a != e)
                return xasprintf("output '%s': element %llu is %lld, expected %lld", out_name,
                                 (unsigned long long)i, (long long)a, (long long)e);
        }
    }
    return NULL;
}

static int count_files(const char *dir, const char *prefix) {
    int n = 0;
    for (;;) {
        char path[PATH_SIZE];
        if (!make_path(path, "%s/%s_%d.pb", dir, prefix, n) || access(path, R_OK) != 0)
            return n;
        n++;
    }
}

/* Runs every data set of one case in this process; returns NULL on success or the reason. */
static char *run_case(const char *case_dir, const fa_graph *g) {
    const fa_rt_allocator *al = fa_rt_allocator_default();
    int sets = 0;
    for (;; sets++) {
        char set_dir[PATH_SIZE];
        struct stat st;
        if (!make_path(set_dir, "%s/test_data_set_%d", case_dir, sets) || stat(set_dir, &st) != 0)
            break;
        int nin = count_files(set_dir, "input"), nout = count_files(set_dir, "output");
        if ((uint32_t)nin != fa_graph_num_inputs(g))
            return xasprintf("data set %d has %d inputs, the graph %u", sets, nin,
                             fa_graph_num_inputs(g));
        if ((uint32_t)nout != fa_graph_num_outputs(g))
            return xasprintf("data set %d has %d outputs, the graph %u", sets, nout,
                             fa_graph_num_outputs(g));
        fa_rt_tensor *ins = calloc((size_t)nin + 1, sizeof *ins);
        void **bufs = calloc((size_t)nin + 1, sizeof *bufs);
        fa_rt_tensor *outs = calloc((size_t)nout + 1, sizeof *outs);
        char *err = NULL;
        for (int i = 0; i < nin && !err; i++) {
            char path[PATH_SIZE], *name = NULL;
            fa_type t;
            uint64_t nbytes;
            make_path(path, "%s/input_%d.pb", set_dir, i); /* count_files checked it fits */
            fa_status s = fa_onnx_read_tensor_file(path, &name, &t, &bufs[i], &nbytes);
            free(name);
            if (s) {
                err = xasprintf("input %d: %s", i, fa_status_message(s));
                fa_status_free(s);
                break;
            }
            int64_t dims[FA_MAX_RANK];
            for (int d = 0; d < t.rank; d++)
                dims[d] = t.dims[d].value;
            ins[i] = fa_rt_tensor_view(t.dtype, t.rank, dims, bufs[i], nbytes);
        }
        if (!err) {
            fa_status s = fa_rt_interp_run(g, ins, (uint32_t)nin, outs, al);
            if (s) {
                err = xasprintf("run: %s", fa_status_message(s));
                fa_status_free(s);
            } else {
                for (int i = 0; i < nout && !err; i++) {
                    char path[PATH_SIZE], *name = NULL;
                    fa_type t;
                    uint64_t nbytes;
                    void *want = NULL;
                    make_path(path, "%s/output_%d.pb", set_dir, i); /* checked by count_files */
                    s = fa_onnx_read_tensor_file(path, &name, &t, &want, &nbytes);
                    if (s) {
                        err = xasprintf("output %d: %s", i, fa_status_message(s));
                        fa_status_free(s);
                    } else {
                        err = compare(&outs[i], t.dtype, &t, want, nbytes,
                                      fa_graph_output(g, (uint32_t)i)->name);
                    }
                    free(name);
                    free(want);
                }
                fa_rt_tensors_free(outs, (uint32_t)nout, al);
            }
        }
        for (int i = 0; i < nin; i++)
            free(bufs[i]);
        free(bufs);
        free(ins);
        free(outs);
        if (err)
            return err;
    }
    return sets ? NULL : xasprintf("no test_data_set_N folders");
}

/* Child side: import and run, write the reason (if any) to |fd|; exit 0 pass, 1 fail. */
static int child_main(const char *case_dir, int fd) {
    char model[PATH_SIZE];
    if (!make_path(model, "%s/model.onnx", case_dir)) {
        fprintf(stderr, "path too long: %s\n", case_dir);
        return 1;
    }
    fa_graph *g = NULL;
    fa_status s = fa_onnx_import_file(model, &g);
    char *err = NULL;
    if (s) {
        err = xasprintf("import: %s", fa_status_message(s));
        fa_status_free(s);
    } else {
        err = run_case(case_dir, g);
        fa_graph_destroy(g);
    }
    if (err) {
        size_t len = strlen(err);
        while (len > 0) {
            ssize_t w = write(fd, err, len);
            if (w <= 0)
                break;
            len -= (size_t)w;
        }
        free(err);
        return 1;
    }
    return 0;
}

static void run_isolated(const char *case_dir, case_result *r) {
    int fds[2];
    if (pipe(fds) != 0) {
        r->kind = R_FAIL;
        r->reason = xasprintf("cannot create a pipe");
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(child_main(case_dir, fds[1]));
    }
    close(fds[1]);
    char buf[1024];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0 && len < sizeof buf - 1)
        len += (size_t)n;
    while (n > 0) /* drain */
        n = read(fds[0], buf, sizeof buf);
    buf[len] = '\0';
    close(fds[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        r->kind = R_FAIL;
        r->reason = xasprintf("cannot run the case in a child process");
    } else if (WIFSIGNALED(status)) {
        r->kind = R_FAIL;
        r->reason = xasprintf("CRASHED with signal %d", WTERMSIG(status));
    } else if (WEXITSTATUS(status) == 0) {
        r->kind = R_PASS;
    } else {
        r->kind = R_FAIL;
        r->reason = len ? strdup(buf) : xasprintf("exit status %d", WEXITSTATUS(status));
    }
}

/* ---- the expected-failure list ---- */

typedef struct name_list {
    char **names;
    uint32_t n;
    bool *seen_failing;
} name_list;

static fa_status read_xfail(const char *path, name_list *l) {
    char *text;
    size_t len;
    FA_TRY(fa_file_read_all(path, &text, &len));
    uint32_t cap = 64;
    l->names = malloc(cap * sizeof *l->names);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *end = line + strlen(line);
        while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line)
            continue;
        if (l->n == cap) {
            cap *= 2;
            l->names = realloc(l->names, cap * sizeof *l->names);
        }
        l->names[l->n++] = strdup(line);
    }
    free(text);
    l->seen_failing = calloc(l->n + 1, sizeof *l->seen_failing);
    return FA_OK;
}

static int find_name(const name_list *l, const char *name) {
    for (uint32_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return (int)i;
    return -1;
}

/* ---- coverage ---- */

typedef struct op_stat {
    char *op;
    bool imported;
    int passed, total;
} op_stat;

static int cmp_op_stat(const void *a, const void *b) {
    return strcmp(((const op_stat *)a)->op, ((const op_stat *)b)->op);
}

static bool op_imported(const char *op) {
    const char *sep = strstr(op, "::");
    char domain[128] = "";
    const char *type = op;
    if (sep) {
        snprintf(domain, sizeof domain, "%.*s", (int)(sep - op), op);
        type = sep + 2;
    }
    fa_op dummy;
    return fa_op_from_onnx(domain, type, &dummy);
}

static fa_status write_coverage(const char *path, const case_result *rs, uint32_t n, int passed,
                                int failed, int skipped) {
    op_stat *stats = NULL;
    uint32_t ns = 0, cap = 0;
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t k = 0; k < rs[i].num_ops; k++) {
            uint32_t j = 0;
            while (j < ns && strcmp(stats[j].op, rs[i].ops[k]) != 0)
                j++;
            if (j == ns) {
                if (ns == cap) {
                    cap = cap ? cap * 2 : 128;
                    stats = realloc(stats, cap * sizeof *stats);
                }
                stats[ns].op = rs[i].ops[k];
                stats[ns].imported = op_imported(rs[i].ops[k]);
                stats[ns].passed = stats[ns].total = 0;
                ns++;
            }
            stats[j].total++;
            stats[j].passed += rs[i].kind == R_PASS;
        }
    }
    qsort(stats, ns, sizeof *stats, cmp_op_stat);
    fa_atomic_file af;
    fa_status s = fa_atomic_file_open(&af, path);
    if (s) {
        free(stats);
        return s;
    }
    FILE *f = af.f;
    int total = passed + failed + skipped, runnable = passed + failed;
    fprintf(f, "# ONNX node test coverage\n\n"
               "Generated by `build/bin/onnx-node-tests --coverage docs/onnx-coverage.md` over "
               "Debian's `libonnx-testdata` (ONNX 1.12 node tests); do not edit by hand.\n\n");
    fprintf(f, "| | cases |\n|---|---|\n| total | %d |\n| passed | %d |\n| failed | %d |\n"
               "| skipped (uses an op freeact does not import) | %d |\n"
               "| passed / cases whose ops are all imported | %.1f%% (target 95%%) |\n"
               "| passed / all cases | %.1f%% (target 60%%) |\n\n",
            total, passed, failed, skipped, runnable ? 100.0 * passed / runnable : 0.0,
            total ? 100.0 * passed / total : 0.0);
    fprintf(f, "A case counts for every op its model uses.\n\n"
               "| op | imported | cases passed / total |\n|---|---|---|\n");
    for (uint32_t j = 0; j < ns; j++)
        fprintf(f, "| %s | %s | %d / %d |\n", stats[j].op, stats[j].imported ? "yes" : "no",
                stats[j].passed, stats[j].total);
    free(stats);
    return fa_atomic_file_commit(&af);
}

/* ---- main ---- */

static int filter_dirs(const struct dirent *e) { return e->d_name[0] != '.'; }

int main(int argc, char **argv) {
    const char *dir = DEFAULT_DIR, *xfail_path = NULL, *coverage = NULL, *filter = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--xfail") && i + 1 < argc) {
            xfail_path = argv[++i];
        } else if (!strcmp(argv[i], "--coverage") && i + 1 < argc) {
            coverage = argv[++i];
        } else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
            filter = argv[++i];
        } else if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "onnx-node-tests: unknown or incomplete option '%s'\n%s", argv[i],
                    usage_text);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    name_list xfail = {0};
    if (xfail_path) {
        fa_status s = read_xfail(xfail_path, &xfail);
        if (s) {
            fprintf(stderr, "onnx-node-tests: error: %s\n", fa_status_message(s));
            fa_status_free(s);
            return 1;
        }
    }
    struct dirent **entries;
    int ne = scandir(dir, &entries, filter_dirs, alphasort);
    if (ne < 0) {
        fprintf(stderr, "onnx-node-tests: error: %s: cannot read the folder\n", dir);
        return 1;
    }
    case_result *rs = calloc((size_t)ne + 1, sizeof *rs);
    uint32_t nr = 0;
    int passed = 0, failed = 0, skipped = 0, unexpected = 0;
    for (int e = 0; e < ne; e++) {
        const char *name = entries[e]->d_name;
        char case_dir[PATH_SIZE], model[PATH_SIZE];
        if ((filter && !strstr(name, filter)) || !make_path(case_dir, "%s/%s", dir, name) ||
            !make_path(model, "%s/model.onnx", case_dir) || access(model, R_OK) != 0)
            continue;
        case_result *r = &rs[nr++];
        r->name = strdup(name);
        fa_status s = fa_onnx_list_op_types(model, &r->ops, &r->num_ops);
        if (s) {
            r->kind = R_FAIL;
            r->reason = xasprintf("%s", fa_status_message(s));
            fa_status_free(s);
        } else {
            for (uint32_t k = 0; k < r->num_ops && !r->reason; k++)
                if (!op_imported(r->ops[k])) {
                    r->kind = R_SKIP;
                    r->reason = strdup(r->ops[k]);
                }
            if (!r->reason)
                run_isolated(case_dir, r);
        }
        int x = find_name(&xfail, name);
        if (r->kind == R_PASS) {
            passed++;
            if (x >= 0) {
                printf("XPASS %s: listed as an expected failure but passes; remove it from %s\n",
                       name, xfail_path);
                unexpected++;
            }
        } else if (r->kind == R_SKIP) {
            skipped++;
            if (verbose)
                printf("SKIP %s: uses %s\n", name, r->reason);
            if (x >= 0) {
                printf("XSKIP %s: listed as an expected failure but skipped; remove it from %s\n",
                       name, xfail_path);
                unexpected++;
            }
        } else {
            failed++;
            if (x >= 0) {
                xfail.seen_failing[x] = true;
                if (verbose)
                    printf("XFAIL %s: %s\n", name, r->reason);
            } else {
                printf("FAIL %s: %s\n", name, r->reason);
                unexpected++;
            }
        }
        fflush(stdout);
    }
    for (uint32_t i = 0; i < xfail.n; i++) {
        bool present = false;
        for (uint32_t k = 0; k < nr && !present; k++)
            present = strcmp(rs[k].name, xfail.names[i]) == 0;
        if (!present && !filter) {
            printf("STALE %s: listed as an expected failure but there is no such case\n",
                   xfail.names[i]);
            unexpected++;
        }
    }
    int rc = 0;
    if (coverage) {
        fa_status s = write_coverage(coverage, rs, nr, passed, failed, skipped);
        if (s) {
            fprintf(stderr, "onnx-node-tests: error: %s\n", fa_status_message(s));
            fa_status_free(s);
            rc = 1;
        }
    }
    if (xfail_path && unexpected)
        printf("%d result(s) differ from the expected-failure list %s\n", unexpected, xfail_path);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    for (uint32_t k = 0; k < nr; k++) {
        for (uint32_t j = 0; j < rs[k].num_ops; j++)
            free(rs[k].ops[j]);
        free(rs[k].ops);
        free(rs[k].name);
        free(rs[k].reason);
    }
    free(rs);
    for (int e = 0; e < ne; e++)
        free(entries[e]);
    free(entries);
    for (uint32_t i = 0; i < xfail.n; i++)
        free(xfail.names[i]);
    free(xfail.names);
    free(xfail.seen_failing);
    if (rc)
        return rc;
    /* With an expected-failure list, success means the results match it exactly; without one,
     * any failure fails. */
    return xfail_path ? unexpected != 0 : failed != 0;
}
