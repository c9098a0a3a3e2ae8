/* Ahead-of-time compilation of a model into a library (see aot.h).
 *
 * Design note.
 * - Which kernels: the plan of the graph is built (lazily: no shape pass, nothing runs) and
 *   fa_cg_plan_install walks it with a recording kernel source, so the library holds exactly
 *   the kernels the same walk asks for when the library creates its model (codegen/aot_rt.c).
 * - Symbols: kernels are "<name>_k<i>" with hidden visibility; the model object's data are
 *   private; the entry points "<name>_create/_run/_error/_destroy" call fa_aot_* in the runtime.
 *   After `cc -r` every symbol but those four is localized, so nothing else is exported from the
 *   .so nor visible to a program that links the object or archive.
 * - The tools: the C compiler driver this freeact was built with (FA_AOT_CC), its libraries'
 *   folder (FA_AOT_LIB_DIR, overridden by $FREEACT_LIB_DIR), OpenBLAS (FA_AOT_BLAS) and the
 *   build's sanitizer link flags (FA_AOT_LDFLAGS), all from CMake. */
#include "codegen/aot.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <llvm-c/Core.h>

#include "codegen/aot_rt.h"
#include "codegen/jit.h"
#include "codegen/kernels.h"
#include "codegen/plan_jit.h"
#include "ir/fileio.h" /* fa_path_dirname */

#ifndef FA_AOT_CC
#define FA_AOT_CC "cc"
#endif
#ifndef FA_AOT_LIB_DIR
#define FA_AOT_LIB_DIR "."
#endif
#ifndef FA_AOT_BLAS
#define FA_AOT_BLAS "-lopenblas"
#endif
#ifndef FA_AOT_LDFLAGS
#define FA_AOT_LDFLAGS ""
#endif

extern char **environ;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

bool fa_aot_name_valid(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64 || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_')
            return false;
    return true;
}

/* ---- the kernels a plan needs ------------------------------------------------------------ */

typedef struct recorded {
    fa_cg_kernel_family family;
    void *key; /* a copy of the family's key */
    char *signature;
} recorded;

typedef struct recorder {
    recorded *k;
    uint32_t n, cap;
} recorder;

/* Records each distinct kernel once and hands out a placeholder address (the plan built for
 * recording never runs). */
static fa_status record_get(void *user, fa_cg_kernel_family family, const void *key,
                            const char *signature, uint64_t *out_addr) {
    recorder *r = user;
    for (uint32_t i = 0; i < r->n; i++)
        if (strcmp(r->k[i].signature, signature) == 0) {
            *out_addr = i + 1;
            return FA_OK;
        }
    if (r->n == r->cap) {
        uint32_t cap = r->cap ? 2 * r->cap : 16;
        recorded *k = realloc(r->k, cap * sizeof *k);
        if (!k)
            return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
        r->k = k;
        r->cap = cap;
    }
    size_t ks = fa_cg_kernel_family_get(family)->key_size;
    recorded *e = &r->k[r->n];
    e->family = family;
    e->key = malloc(ks);
    e->signature = strdup(signature);
    if (!e->key || !e->signature) {
        free(e->key);
        free(e->signature);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(e->key, key, ks);
    *out_addr = ++r->n;
    return FA_OK;
}

static void recorder_free(recorder *r) {
    for (uint32_t i = 0; i < r->n; i++) {
        free(r->k[i].key);
        free(r->k[i].signature);
    }
    free(r->k);
}

static fa_status record_kernels(const fa_graph *g, const fa_jit_target *target, recorder *r) {
    fa_rt_plan *plan;
    FA_TRY(fa_rt_plan_create_lazy(g, fa_rt_allocator_default(), &plan));
    fa_cg_kernel_source src = {record_get, r};
    fa_status s = fa_cg_plan_install(plan, target, &src, NULL);
    fa_rt_plan_destroy(plan);
    return s;
}

/* ---- the temporary folder ----------------------------------------------------------------- */

typedef struct workdir {
    char *dir;
} workdir;

static fa_status workdir_make(workdir *w, const char *out_path) {
    char *dir = fa_path_dirname(out_path);
    const char *base = strrchr(out_path, '/');
    base = base ? base + 1 : out_path;
    size_t len = strlen(dir) + strlen(base) + 32;
    w->dir = malloc(len);
    if (!dir || !w->dir) {
        free(dir);
        free(w->dir);
        w->dir = NULL;
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    snprintf(w->dir, len, "%s/.%s.XXXXXX", dir, base);
    free(dir);
    if (!mkdtemp(w->dir)) {
        fa_status s = fa_status_make(FA_STATUS_IO, "%s: cannot make a temporary folder: %s",
                                     w->dir, strerror(errno));
        free(w->dir);
        w->dir = NULL;
        return s;
    }
    return FA_OK;
}

/* |w|'s folder joined with |name|, malloc'ed. */
static char *workdir_path(const workdir *w, const char *name) {
    size_t len = strlen(w->dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", w->dir, name);
    return p;
}

static void workdir_remove(workdir *w) {
    if (!w->dir)
        return;
    DIR *d = opendir(w->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *p = workdir_path(w, e->d_name);
            if (p)
                unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(w->dir);
    free(w->dir);
    w->dir = NULL;
}

/* ---- objects ------------------------------------------------------------------------------ */

static fa_status write_kernel(const recorded *k, const char *name, uint32_t i, const char *path) {
    const fa_cg_kernel_family_info *info = fa_cg_kernel_family_get(k->family);
    const fa_jit_target *t = (const fa_jit_target *)((const char *)k->key + info->target_offset);
    char symbol[96];
    snprintf(symbol, sizeof symbol, "%s_k%u", name, i);
    fa_jit_module *m;
    FA_TRY(fa_jit_module_create(t, info->name, &m));
    fa_status s = fa_cg_kernel_emit_fn(k->family)(k->key, m, symbol);
    if (s) {
        fa_jit_module_destroy(m);
        return s;
    }
    LLVMValueRef fn = LLVMGetNamedFunction(fa_jit_module_llvm(m), symbol);
    if (fn)
        LLVMSetVisibility(fn, LLVMHiddenVisibility);
    return fa_jit_module_write_object(m, path);
}

/* A private constant global holding |len| bytes of |data| (plus a NUL when |nul|). */
static LLVMValueRef const_bytes(LLVMModuleRef mod, LLVMContextRef ctx, const char *gname,
                                const void *data, uint64_t len, bool nul, unsigned align) {
    LLVMValueRef init = LLVMConstStringInContext2(ctx, data, (size_t)len, !nul);
    LLVMValueRef g = LLVMAddGlobal(mod, LLVMTypeOf(init), gname);
    LLVMSetInitializer(g, init);
    LLVMSetGlobalConstant(g, 1);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    LLVMSetAlignment(g, align);
    return g;
}

static LLVMValueRef const_cstr(LLVMModuleRef mod, LLVMContextRef ctx, const char *s) {
    return const_bytes(mod, ctx, "str", s, strlen(s), true, 1);
}

/* Defines |symbol|(params) as a call of |callee|(desc?, params) returning its value. */
static void entry(LLVMModuleRef mod, LLVMContextRef ctx, const char *name, const char *suffix,
                  const char *callee, LLVMTypeRef ret, LLVMTypeRef *params, unsigned np,
                  LLVMValueRef desc) {
    char symbol[96];
    snprintf(symbol, sizeof symbol, "%s_%s", name, suffix);
    LLVMTypeRef fty = LLVMFunctionType(ret, params, np, 0);
    LLVMValueRef fn = LLVMAddFunction(mod, symbol, fty);
    LLVMTypeRef cparams[8];
    unsigned nc = 0;
    if (desc)
        cparams[nc++] = LLVMPointerTypeInContext(ctx, 0);
    for (unsigned i = 0; i < np; i++)
        cparams[nc++] = params[i];
    LLVMTypeRef cty = LLVMFunctionType(ret, cparams, nc, 0);
    LLVMValueRef cf = LLVMGetNamedFunction(mod, callee);
    if (!cf)
        cf = LLVMAddFunction(mod, callee, cty);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
    LLVMValueRef args[8];
    unsigned na = 0;
    if (desc)
        args[na++] = desc;
    for (unsigned i = 0; i < np; i++)
        args[na++] = LLVMGetParam(fn, i);
    LLVMValueRef r = LLVMBuildCall2(b, cty, cf, args, na, "");
    if (LLVMGetTypeKind(ret) == LLVMVoidTypeKind)
        LLVMBuildRetVoid(b);
    else
        LLVMBuildRet(b, r);
    LLVMDisposeBuilder(b);
}

/* The model object: IR text, weights, kernel table, descriptor and entry points. */
static fa_status write_model(const char *name, const fa_jit_target *t, const char *ir,
                             size_t ir_len, const void *weights, uint64_t weights_len,
                             const recorder *r, const char *path) {
    fa_jit_module *m;
    FA_TRY(fa_jit_module_create(t, "model", &m));
    LLVMContextRef ctx = fa_jit_module_context(m);
    LLVMModuleRef mod = fa_jit_module_llvm(m);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0), i64 = LLVMInt64TypeInContext(ctx);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx), vd = LLVMVoidTypeInContext(ctx);

    LLVMValueRef irg = const_bytes(mod, ctx, "ir", ir, ir_len, true, 1);
    static const char empty = 0;
    LLVMValueRef wg = const_bytes(mod, ctx, "weights", weights_len ? weights : &empty,
                                  weights_len ? weights_len : 1, false, 64);

    LLVMTypeRef kty = LLVMStructTypeInContext(ctx, (LLVMTypeRef[]){ptr, ptr}, 2, 0);
    LLVMValueRef *rows = calloc(r->n ? r->n : 1, sizeof *rows);
    if (!rows) {
        fa_jit_module_destroy(m);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    LLVMTypeRef kfty = LLVMFunctionType(vd, NULL, 0, 0);
    for (uint32_t i = 0; i < r->n; i++) {
        char symbol[96];
        snprintf(symbol, sizeof symbol, "%s_k%u", name, i);
        LLVMValueRef f = LLVMAddFunction(mod, symbol, kfty);
        LLVMSetVisibility(f, LLVMHiddenVisibility);
        LLVMValueRef fields[2] = {const_cstr(mod, ctx, r->k[i].signature), f};
        rows[i] = LLVMConstStructInContext(ctx, fields, 2, 0);
    }
    LLVMValueRef ktab = LLVMConstArray2(kty, rows, r->n);
    free(rows);
    LLVMValueRef kg = LLVMAddGlobal(mod, LLVMTypeOf(ktab), "kernels");
    LLVMSetInitializer(kg, ktab);
    LLVMSetGlobalConstant(kg, 1);
    LLVMSetLinkage(kg, LLVMPrivateLinkage);

    LLVMValueRef dfields[10] = {
        LLVMConstInt(i64, FA_AOT_ABI, 0),        const_cstr(mod, ctx, name),
        irg,                                     LLVMConstInt(i64, ir_len, 0),
        wg,                                      LLVMConstInt(i64, weights_len, 0),
        const_cstr(mod, ctx, t->cpu),            const_cstr(mod, ctx, t->features),
        kg,                                      LLVMConstInt(i64, r->n, 0)};
    LLVMValueRef dinit = LLVMConstStructInContext(ctx, dfields, 10, 0);
    LLVMValueRef dg = LLVMAddGlobal(mod, LLVMTypeOf(dinit), "desc");
    LLVMSetInitializer(dg, dinit);
    LLVMSetGlobalConstant(dg, 1);
    LLVMSetLinkage(dg, LLVMPrivateLinkage);
    LLVMSetAlignment(dg, 8);

    entry(mod, ctx, name, "create", "fa_aot_create", ptr, (LLVMTypeRef[]){i32, ptr, i64}, 3, dg);
    entry(mod, ctx, name, "run", "fa_aot_run", i32, (LLVMTypeRef[]){ptr, ptr, i64, ptr, i64}, 5,
          NULL);
    entry(mod, ctx, name, "error", "fa_aot_error", ptr, (LLVMTypeRef[]){ptr}, 1, NULL);
    entry(mod, ctx, name, "destroy", "fa_aot_destroy", vd, (LLVMTypeRef[]){ptr}, 1, NULL);
    return fa_jit_module_write_object(m, path);
}

/* ---- tools --------------------------------------------------------------------------------- */

/* Runs |argv| with stdout and stderr into |log|; an error quoting the log's first lines when the
 * command fails. */
static fa_status run_tool(char *const *argv, const char *log) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return fa_status_make(FA_STATUS_IO, "cannot run '%s': %s", argv[0], strerror(rc));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return fa_status_make(FA_STATUS_IO, "waiting for '%s': %s", argv[0],
                                  strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return FA_OK;
    char text[1024] = "";
    FILE *f = fopen(log, "r");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    char cmd[512] = "";
    for (int i = 0; argv[i] && strlen(cmd) + strlen(argv[i]) + 2 < sizeof cmd; i++) {
        strcat(cmd, i ? " " : "");
        strcat(cmd, argv[i]);
    }
    return fa_status_make(FA_STATUS_IO, "'%s' failed (%s %d): %s", cmd,
                          WIFEXITED(status) ? "exit status" : "signal",
                          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), text);
}

/* argv under construction: up to 64 owned strings. */
typedef struct args {
    char *v[64];
    int n;
    bool oom;
} args;

static void arg(args *a, const char *s) {
    char *c = a->oom || a->n + 2 > (int)(sizeof a->v / sizeof *a->v) ? NULL : strdup(s);
    if (!c) {
        a->oom = true;
        return;
    }
    a->v[a->n++] = c;
    a->v[a->n] = NULL;
}

/* Appends the space-separated words of |s|. */
static void arg_words(args *a, const char *s) {
    char word[256];
    while (*s) {
        while (*s == ' ')
            s++;
        size_t n = strcspn(s, " ");
        if (n && n < sizeof word) {
            memcpy(word, s, n);
            word[n] = '\0';
            arg(a, word);
        }
        s += n;
    }
}

static void args_free(args *a) {
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    a->n = 0;
}

static fa_status run_args(args *a, const char *log) {
    fa_status s = a->oom ? fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory")
                         : run_tool(a->v, log);
    args_free(a);
    return s;
}

static const char *lib_dir(void) {
    const char *d = getenv("FREEACT_LIB_DIR");
    return d && *d ? d : FA_AOT_LIB_DIR;
}

/* ---- the header ---------------------------------------------------------------------------- */

static void upper(const char *s, char *buf, size_t size) {
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        buf[i] = (char)toupper((unsigned char)s[i]);
    buf[i] = '\0';
}

static void header_values(FILE *f, const fa_graph *g, bool inputs) {
    uint32_t n = inputs ? fa_graph_num_inputs(g) : fa_graph_num_outputs(g);
    for (uint32_t i = 0; i < n; i++) {
        const fa_value *v = inputs ? fa_graph_input(g, i) : fa_graph_output(g, i)->value;
        const char *vname = inputs ? v->name : fa_graph_output(g, i)->name;
        char type[256];
        fa_type_format(&v->type, type, sizeof type);
        fprintf(f, " *   %-8s %-2u %-20s %s\n", inputs ? "input" : "output", i, vname, type);
    }
}

/* Writes the header to |path| (in the work folder; renamed into place with the library). */
static fa_status write_header(const fa_graph *g, const fa_aot_options *o, const fa_jit_target *t,
                              const char *out_path, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f)
        return fa_status_make(FA_STATUS_IO, "%s: %s", path, strerror(errno));
    char up[80];
    upper(o->name, up, sizeof up);
    const char *n = o->name;
    const char *base = strrchr(out_path, '/');
    base = base ? base + 1 : out_path;
    fprintf(f,
            "/* %s.h: the C interface of %s, written by `freeact compile`%s%s.\n"
            " * Do not edit.\n"
            " *\n"
            " * Kernels for CPU %s. Link: cc app.c %s%s\n"
            " *\n"
            " * Inputs and outputs, in the order %s_run takes them (symbolic dims are set by\n"
            " * the caller's inputs):\n",
            o->name, base, o->source ? " from " : "", o->source ? o->source : "", t->cpu,
            base,
            o->emit == FA_AOT_EMIT_SHARED ? " (and -Wl,-rpath,<its folder> or LD_LIBRARY_PATH)"
                                          : " -lopenblas -lm -lpthread",
            n);
    header_values(f, g, true);
    header_values(f, g, false);
    fprintf(f, " */\n#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n",
            up, up);
    fprintf(f, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    fprintf(f, "#ifndef FREEACT_TENSOR_DEFINED\n#define FREEACT_TENSOR_DEFINED\n"
               "/* Element types (f32 is what float models take and give). */\nenum {\n");
    for (int dt = FA_DT_INVALID + 1; dt < FA_DT_COUNT; dt++) {
        char dn[16];
        upper(fa_dtype_name((fa_dtype)dt), dn, sizeof dn);
        fprintf(f, "    FREEACT_%s = %d,\n", dn, dt);
    }
    fprintf(f,
            "};\nenum { FREEACT_MAX_RANK = %d };\n"
            "/* A tensor: dense, row-major. Inputs are read, never kept; outputs point into the\n"
            " * model and stay valid until its next run or destroy. */\n"
            "typedef struct freeact_tensor {\n    int32_t dtype; /* FREEACT_F32, ... */\n"
            "    int32_t rank;\n    int64_t dims[FREEACT_MAX_RANK];\n    void *data;\n"
            "} freeact_tensor;\n#endif\n\n",
            FA_MAX_RANK);
    fprintf(f, "enum { %s_num_inputs = %u, %s_num_outputs = %u };\n\n", n,
            fa_graph_num_inputs(g), n, fa_graph_num_outputs(g));
    fprintf(f,
            "typedef struct %s_model %s_model;\n\n"
            "/* Creates the model on |threads| threads (0: all cores). NULL on error, with the\n"
            " * message in |err| (|err_size| bytes; may be NULL and 0). */\n"
            "%s_model *%s_create(int threads, char *err, size_t err_size);\n\n"
            "/* Runs the model: %s_num_inputs inputs in, %s_num_outputs outputs filled. 0 on\n"
            " * success, -1 with the message in %s_error. One run at a time per model. */\n"
            "int %s_run(%s_model *m, const freeact_tensor *inputs, size_t num_inputs,\n"
            "        freeact_tensor *outputs, size_t num_outputs);\n\n"
            "/* The last error message (\"\" if none). */\n"
            "const char *%s_error(const %s_model *m);\n\n"
            "/* Frees the model and its outputs; NULL is a no-op. */\n"
            "void %s_destroy(%s_model *m);\n\n",
            n, n, n, n, n, n, n, n, n, n, n, n, n);
    fprintf(f, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad)
        return fa_status_make(FA_STATUS_IO, "%s: write error", path);
    return FA_OK;
}

/* ---- the whole ------------------------------------------------------------------------------ */

/* Prints |g| with every big constant in one in-memory blob. */
static fa_status graph_text(const fa_graph *g, char **ir, size_t *ir_len, char **blob,
                            size_t *blob_len) {
    *ir = *blob = NULL;
    FILE *bf = open_memstream(blob, blob_len);
    if (!bf)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    fa_print_options opts = {.inline_limit = 1024, .data_file = bf, .data_file_name = "weights"};
    *ir = fa_graph_print_to_string(g, &opts);
    bool bad = ferror(bf) != 0;
    fclose(bf);
    if (!*ir || bad) {
        free(*ir);
        free(*blob);
        *ir = *blob = NULL;
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory printing the model");
    }
    *ir_len = strlen(*ir);
    return FA_OK;
}

/* Links the objects in |w| into |final| (relocatable, only the entry points global). */
static fa_status link_relocatable(const workdir *w, const char *name, uint32_t nkernels,
                                  const char *final) {
    char *all = workdir_path(w, "all.o"), *log = workdir_path(w, "link.log");
    if (!all || !log) {
        free(all);
        free(log);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    args a = {.n = 0};
    arg(&a, FA_AOT_CC);
    arg(&a, "-r");
    arg(&a, "-nostdlib");
    arg(&a, "-o");
    arg(&a, all);
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/model.o", w->dir);
    arg(&a, buf);
    /* The kernels go through a response file: a model may have hundreds. */
    snprintf(buf, sizeof buf, "%s/kernels.rsp", w->dir);
    FILE *rsp = fopen(buf, "w");
    if (!rsp) {
        args_free(&a);
        free(all);
        free(log);
        return fa_status_make(FA_STATUS_IO, "%s: %s", buf, strerror(errno));
    }
    for (uint32_t i = 0; i < nkernels; i++)
        fprintf(rsp, "%s/k%u.o\n", w->dir, i);
    bool bad = fclose(rsp) != 0;
    char rarg[4200];
    snprintf(rarg, sizeof rarg, "@%s", buf);
    arg(&a, rarg);
    arg(&a, "-Wl,--start-group");
    const char *libs[] = {"fa_cgrt", "fa_runtime", "fa_ir"};
    for (int i = 0; i < 3; i++) {
        snprintf(buf, sizeof buf, "%s/lib%s.a", lib_dir(), libs[i]);
        arg(&a, buf);
    }
    arg(&a, "-Wl,--end-group");
    fa_status s = bad ? fa_status_make(FA_STATUS_IO, "cannot write the response file")
                      : run_args(&a, log);
    args_free(&a);
    if (!s) {
        arg(&a, "objcopy");
        const char *entries[] = {"create", "run", "error", "destroy"};
        for (int i = 0; i < 4; i++) {
            snprintf(buf, sizeof buf, "--keep-global-symbol=%s_%s", name, entries[i]);
            arg(&a, buf);
        }
        arg(&a, all);
        arg(&a, final);
        s = run_args(&a, log);
    }
    free(all);
    free(log);
    return s;
}

fa_status fa_aot_write(const fa_graph *g, const char *out_path, const fa_aot_options *o,
                       fa_aot_stats *st) {
    fa_aot_stats stats;
    memset(&stats, 0, sizeof stats);
    if (!fa_aot_name_valid(o->name))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "--name '%s' is not a C identifier of at most 64 characters",
                              o->name ? o->name : "");
    fa_jit_target host;
    const fa_jit_target *t = o->target;
    if (!t) {
        fa_jit_target_host(&host);
        t = &host;
    }
    recorder rec = {0};
    workdir w = {0};
    char *ir = NULL, *blob = NULL;
    size_t ir_len = 0, blob_len = 0;
    fa_status s = record_kernels(g, t, &rec);
    if (!s)
        s = graph_text(g, &ir, &ir_len, &blob, &blob_len);
    if (!s)
        s = workdir_make(&w, out_path);
    double t0 = now_ms();
    for (uint32_t i = 0; !s && i < rec.n; i++) {
        char obj[32];
        snprintf(obj, sizeof obj, "k%u.o", i);
        char *p = workdir_path(&w, obj);
        s = p ? write_kernel(&rec.k[i], o->name, i, p)
              : fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
        if (s)
            s = fa_status_prefix(s, "kernel %s", rec.k[i].signature);
        free(p);
    }
    if (!s) {
        char *p = workdir_path(&w, "model.o");
        s = p ? write_model(o->name, t, ir, ir_len, blob, blob_len, &rec, p)
              : fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
        free(p);
    }
    double t1 = now_ms();
    char *final = s ? NULL : workdir_path(&w, "final.o");
    char *result = s ? NULL : workdir_path(&w, "result");
    char *log = s ? NULL : workdir_path(&w, "link.log");
    if (!s && (!final || !result || !log))
        s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!s)
        s = link_relocatable(&w, o->name, rec.n, final);
    if (!s && o->emit == FA_AOT_EMIT_SHARED) {
        args a = {.n = 0};
        arg(&a, FA_AOT_CC);
        arg(&a, "-shared");
        arg(&a, "-o");
        arg(&a, result);
        arg(&a, final);
        arg_words(&a, FA_AOT_BLAS);
        arg(&a, "-lm");
        arg(&a, "-lpthread");
        arg_words(&a, FA_AOT_LDFLAGS);
        s = run_args(&a, log);
    } else if (!s && o->emit == FA_AOT_EMIT_STATIC) {
        args a = {.n = 0};
        arg(&a, "ar");
        arg(&a, "rcs");
        arg(&a, result);
        arg(&a, final);
        s = run_args(&a, log);
    } else if (!s && rename(final, result) != 0) {
        s = fa_status_make(FA_STATUS_IO, "%s: %s", result, strerror(errno));
    }
    char *header = s || !o->header_path ? NULL : workdir_path(&w, "model.h");
    if (!s && o->header_path)
        s = header ? write_header(g, o, t, out_path, header)
                   : fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!s) {
        mode_t mask = umask(0);
        umask(mask);
        chmod(result, (o->emit == FA_AOT_EMIT_SHARED ? 0777 : 0666) & ~mask);
        if (header)
            chmod(header, 0666 & ~mask);
    }
    if (!s && rename(result, out_path) != 0)
        s = fa_status_make(FA_STATUS_IO, "%s: cannot write: %s", out_path, strerror(errno));
    if (!s && header && rename(header, o->header_path) != 0) {
        s = fa_status_make(FA_STATUS_IO, "%s: cannot write: %s", o->header_path,
                           strerror(errno));
        unlink(out_path); /* never one without the other */
    }
    free(header);
    stats.kernels = rec.n;
    stats.ir_bytes = ir_len;
    stats.weights_bytes = blob_len;
    stats.codegen_ms = t1 - t0;
    stats.link_ms = now_ms() - t1;
    free(final);
    free(result);
    free(log);
    free(ir);
    free(blob);
    recorder_free(&rec);
    workdir_remove(&w);
    if (st)
        *st = stats;
    return s;
}
