/* The JIT session (one ORC LLJIT per process), per-module O3 optimisation for a target, and the
 * in-memory kernel cache. See jit.h for the contract and notes/llvm-jit.md for the LLVM 19
 * ownership rules followed here (what each Orc call consumes). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/jit.h"

typedef struct cache_entry {
    struct cache_entry *next;
    char *signature;
    uint64_t addr;
    double compile_ms;
    char code_hash[33]; /* with the disk cache: the hash naming the kernel's object, else "" */
} cache_entry;

/* The process's session. |lock| guards everything below it; it is recursive because a build
 * callback runs under fa_jit_kernel_get's lock and calls fa_jit_module_*. */
static pthread_mutex_t lock;
static pthread_once_t lock_once = PTHREAD_ONCE_INIT;
static LLVMOrcLLJITRef jit;
static char *triple;
static bool atexit_done;
static cache_entry *cache;
static fa_jit_stats stats;
static uint64_t module_count;
static char last_session_error[512];

struct fa_jit_module {
    fa_jit_target target;
    LLVMOrcThreadSafeContextRef tsc;
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    double t_start;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void lock_init(void) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&lock, &a);
    pthread_mutexattr_destroy(&a);
}

static void session_lock(void) {
    pthread_once(&lock_once, lock_init);
    pthread_mutex_lock(&lock);
}

static void session_unlock(void) { pthread_mutex_unlock(&lock); }

/* Turns |err| (consumed) into a status prefixed with |what|. */
static fa_status llvm_error(LLVMErrorRef err, const char *what) {
    char *msg = LLVMGetErrorMessage(err);
    fa_status s = fa_status_make(FA_STATUS_INTERNAL, "jit: %s: %s", what, msg);
    LLVMDisposeErrorMessage(msg);
    return s;
}

/* Session errors (e.g. unresolved symbols while linking) arrive here, not at the call that
 * caused them; keep the last one for the failing lookup's message. */
static void report_session_error(void *ctx, LLVMErrorRef err) {
    (void)ctx;
    char *msg = LLVMGetErrorMessage(err);
    snprintf(last_session_error, sizeof last_session_error, "%s", msg);
    LLVMDisposeErrorMessage(msg);
}

void fa_jit_target_host(fa_jit_target *out) {
    char *cpu = LLVMGetHostCPUName();
    char *features = LLVMGetHostCPUFeatures();
    snprintf(out->cpu, sizeof out->cpu, "%s", cpu);
    snprintf(out->features, sizeof out->features, "%s", features);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
}

/* A target machine for |cpu| and |features|; the caller disposes it. */
static fa_status make_tm_for(const char *cpu, const char *features, LLVMRelocMode reloc,
                             LLVMCodeModel model, LLVMTargetMachineRef *out) {
    LLVMTargetRef target;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
        fa_status s = fa_status_make(FA_STATUS_INTERNAL, "jit: no target for %s: %s", triple, msg);
        LLVMDisposeMessage(msg);
        return s;
    }
    *out = LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelDefault, reloc,
                                   model);
    if (!*out)
        return fa_status_make(FA_STATUS_INTERNAL, "jit: cannot make a target machine for %s", cpu);
    return FA_OK;
}

/* A target machine for JIT code. */
static fa_status make_tm(const char *cpu, const char *features, LLVMTargetMachineRef *out) {
    return make_tm_for(cpu, features, LLVMRelocDefault, LLVMCodeModelJITDefault, out);
}

/* Creates the LLJIT on first use: a JIT target machine for the host CPU and features (kernels
 * for other CPUs carry their own function attributes, which win in codegen). */
static fa_status session_start(void) {
    if (jit)
        return FA_OK;
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    LLVMInitializeNativeAsmParser();
    triple = LLVMGetDefaultTargetTriple();
    fa_jit_target host;
    fa_jit_target_host(&host);
    LLVMTargetMachineRef tm;
    fa_status s = make_tm(host.cpu, host.features, &tm);
    if (s) {
        LLVMDisposeMessage(triple);
        triple = NULL;
        return s;
    }
    /* Consumes tm; the builder consumes the JTMB; LLVMOrcCreateLLJIT consumes the builder even
     * on error. */
    LLVMOrcJITTargetMachineBuilderRef jtmb =
        LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm);
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
    LLVMErrorRef err = LLVMOrcCreateLLJIT(&jit, builder);
    if (err) {
        jit = NULL;
        LLVMDisposeMessage(triple);
        triple = NULL;
        return llvm_error(err, "creating the LLJIT");
    }
    LLVMOrcExecutionSessionSetErrorReporter(LLVMOrcLLJITGetExecutionSession(jit),
                                            report_session_error, NULL);
    if (!atexit_done) {
        atexit(fa_jit_shutdown);
        atexit_done = true;
    }
    return FA_OK;
}

fa_status fa_jit_module_create(const fa_jit_target *t, const char *name, fa_jit_module **out) {
    *out = NULL;
    session_lock();
    fa_status s = session_start();
    if (s) {
        session_unlock();
        return s;
    }
    fa_jit_module *m = calloc(1, sizeof *m);
    if (!m) {
        session_unlock();
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "jit: out of memory");
    }
    m->t_start = now_ms();
    m->target = *t;
    m->tsc = LLVMOrcCreateNewThreadSafeContext();
    m->ctx = LLVMOrcThreadSafeContextGetContext(m->tsc);
    m->mod = LLVMModuleCreateWithNameInContext(name, m->ctx);
    LLVMSetTarget(m->mod, triple);
    LLVMSetDataLayout(m->mod, LLVMOrcLLJITGetDataLayoutStr(jit));
    session_unlock();
    *out = m;
    return FA_OK;
}

LLVMContextRef fa_jit_module_context(fa_jit_module *m) { return m->ctx; }

LLVMModuleRef fa_jit_module_llvm(fa_jit_module *m) { return m->mod; }

static void add_fn_attr(LLVMContextRef ctx, LLVMValueRef fn, const char *key, const char *value) {
    LLVMAttributeRef a =
        LLVMCreateStringAttribute(ctx, key, (unsigned)strlen(key), value, (unsigned)strlen(value));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

LLVMValueRef fa_jit_module_add_function(fa_jit_module *m, const char *name, LLVMTypeRef fn_type) {
    LLVMValueRef fn = LLVMAddFunction(m->mod, name, fn_type);
    add_fn_attr(m->ctx, fn, "target-cpu", m->target.cpu);
    if (m->target.features[0])
        add_fn_attr(m->ctx, fn, "target-features", m->target.features);
    if (fa_jit_target_has(&m->target, "avx512f")) {
        /* Keep explicit 512-bit vectors in zmm and let the vectorizer use them too, whatever
         * the CPU's tuning prefers (notes/llvm-jit.md, section 2). */
        add_fn_attr(m->ctx, fn, "prefer-vector-width", "512");
        add_fn_attr(m->ctx, fn, "min-legal-vector-width", "512");
    }
    unsigned kind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(m->ctx, kind, 0));
    return fn;
}

void fa_jit_module_destroy(fa_jit_module *m) {
    if (!m)
        return;
    if (m->mod)
        LLVMDisposeModule(m->mod);
    if (m->tsc)
        LLVMOrcDisposeThreadSafeContext(m->tsc);
    free(m);
}

/* With FA_JIT_DUMP=ir or =asm in the environment, prints each optimised module (as IR, or as
 * the target's assembly) to stderr: the way to check which instructions a kernel got. */
static void dump(LLVMModuleRef mod, LLVMTargetMachineRef tm) {
    const char *what = getenv("FA_JIT_DUMP");
    if (!what)
        return;
    if (strcmp(what, "ir") == 0) {
        char *text = LLVMPrintModuleToString(mod);
        fputs(text, stderr);
        LLVMDisposeMessage(text);
        return;
    }
    /* Emission runs codegen passes that change the module: emit from a clone. */
    LLVMModuleRef clone = LLVMCloneModule(mod);
    LLVMMemoryBufferRef buf = NULL;
    char *msg = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, clone, LLVMAssemblyFile, &msg, &buf)) {
        fprintf(stderr, "FA_JIT_DUMP: %s\n", msg);
        LLVMDisposeMessage(msg);
    } else {
        fwrite(LLVMGetBufferStart(buf), 1, LLVMGetBufferSize(buf), stderr);
        LLVMDisposeMemoryBuffer(buf);
    }
    LLVMDisposeModule(clone);
}

/* Verifies and optimises |m->mod| with `default<O3>` for the module's target. */
static fa_status optimize(fa_jit_module *m) {
    char *msg = NULL;
    if (LLVMVerifyModule(m->mod, LLVMReturnStatusAction, &msg)) {
        fa_status s = fa_status_make(FA_STATUS_INTERNAL, "jit: invalid generated IR: %s", msg);
        LLVMDisposeMessage(msg);
        return s;
    }
    LLVMDisposeMessage(msg);
    LLVMTargetMachineRef tm;
    FA_TRY(make_tm(m->target.cpu, m->target.features, &tm));
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(opts, 1);
    LLVMPassBuilderOptionsSetSLPVectorization(opts, 1);
    LLVMPassBuilderOptionsSetLoopUnrolling(opts, 1);
    LLVMPassBuilderOptionsSetLoopInterleaving(opts, 1);
    LLVMErrorRef err = LLVMRunPasses(m->mod, "default<O3>", tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (!err)
        dump(m->mod, tm);
    LLVMDisposeTargetMachine(tm);
    return err ? llvm_error(err, "running default<O3>") : FA_OK;
}

fa_status fa_jit_module_finish(fa_jit_module *m, const char *symbol, uint64_t *out_addr) {
    session_lock();
    double t0 = now_ms();
    fa_status s = optimize(m);
    if (s) {
        fa_jit_module_destroy(m);
        session_unlock();
        return s;
    }
    double t1 = now_ms();
    /* The TSM takes the module; AddLLVMIRModule takes the TSM unconditionally. The TSC stays
     * alive through the modules that use it, so it is released right after. */
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m->mod, m->tsc);
    m->mod = NULL;
    LLVMErrorRef err = LLVMOrcLLJITAddLLVMIRModule(jit, LLVMOrcLLJITGetMainJITDylib(jit), tsm);
    double t_start = m->t_start;
    fa_jit_module_destroy(m);
    if (err) {
        session_unlock();
        return llvm_error(err, "adding a module");
    }
    last_session_error[0] = '\0';
    LLVMOrcExecutorAddress addr = 0;
    err = LLVMOrcLLJITLookup(jit, &addr, symbol);
    if (err) {
        s = llvm_error(err, "looking up a kernel");
        if (last_session_error[0])
            s = fa_status_prefix(s, "%s", last_session_error);
        session_unlock();
        return s;
    }
    double t2 = now_ms();
    stats.last_ir_ms = t0 - t_start;
    stats.last_opt_ms = t1 - t0;
    stats.last_jit_ms = t2 - t1;
    *out_addr = addr;
    session_unlock();
    return FA_OK;
}

/* ---- the disk cache ----------------------------------------------------------------------
 * With FREEACT_KERNEL_CACHE=DIR, a built kernel's object file is kept as DIR/<hash>.o, where
 * <hash> (128 bits, two FNV-1a 64 hashes) covers the kernel's unoptimised IR as printed
 * (generator output, target CPU and features, data layout) and the LLVM version: a change in
 * any of them gives another file, so a stale object is never reused. A later process finds the
 * file and adds the object to its JIT, skipping O3 and codegen. Best effort: a file that cannot
 * be read, loaded or written only means the kernel is compiled as without the cache. */

static const char *disk_dir(void) {
    const char *d = getenv("FREEACT_KERNEL_CACHE");
    return d && *d ? d : NULL;
}

static uint64_t fnv1a(const char *p, uint64_t h) {
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return h;
}

/* The hash of |m|'s IR and the LLVM version into |out| (32 hex digits). */
static void code_hash(fa_jit_module *m, char out[33]) {
    char *text = LLVMPrintModuleToString(m->mod);
    unsigned major, minor, patch;
    LLVMGetVersion(&major, &minor, &patch);
    char ver[64];
    snprintf(ver, sizeof ver, "llvm %u.%u.%u", major, minor, patch);
    uint64_t a = fnv1a(ver, fnv1a(text, 0xcbf29ce484222325ULL));
    uint64_t b = fnv1a(ver, fnv1a(text, 0x84222325cbf29ce4ULL ^ 0x5bd1e995ULL));
    LLVMDisposeMessage(text);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

/* Adds object |buf| (consumed) to the JIT and looks up |symbol|. */
static fa_status add_object(LLVMMemoryBufferRef buf, const char *symbol, uint64_t *out_addr) {
    LLVMErrorRef err = LLVMOrcLLJITAddObjectFile(jit, LLVMOrcLLJITGetMainJITDylib(jit), buf);
    if (err)
        return llvm_error(err, "adding a cached object");
    LLVMOrcExecutorAddress addr = 0;
    last_session_error[0] = '\0';
    err = LLVMOrcLLJITLookup(jit, &addr, symbol);
    if (err) {
        fa_status s = llvm_error(err, "looking up a cached kernel");
        return last_session_error[0] ? fa_status_prefix(s, "%s", last_session_error) : s;
    }
    *out_addr = addr;
    return FA_OK;
}

/* Optimises |m|, emits its object, writes it to |path| (atomically; failures ignored) and adds
 * it to the JIT. Consumes |m|. */
static fa_status compile_to_disk(fa_jit_module *m, const char *symbol, const char *path,
                                 uint64_t *out_addr) {
    fa_status s = optimize(m);
    LLVMTargetMachineRef tm = NULL;
    if (!s)
        s = make_tm(m->target.cpu, m->target.features, &tm);
    LLVMMemoryBufferRef buf = NULL;
    if (!s) {
        char *msg = NULL;
        if (LLVMTargetMachineEmitToMemoryBuffer(tm, m->mod, LLVMObjectFile, &msg, &buf)) {
            s = fa_status_make(FA_STATUS_INTERNAL, "jit: emitting an object: %s", msg);
            LLVMDisposeMessage(msg);
        }
        LLVMDisposeTargetMachine(tm);
    }
    fa_jit_module_destroy(m);
    if (s)
        return s;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f) {
        size_t n = LLVMGetBufferSize(buf);
        bool ok = fwrite(LLVMGetBufferStart(buf), 1, n, f) == n;
        if (fclose(f) == 0 && ok && rename(tmp, path) == 0)
            stats.disk_writes++;
        else
            remove(tmp);
    }
    return add_object(buf, symbol, out_addr);
}

/* Makes the module, emits into it and finishes it: through the disk cache when it is on, in
 * which case the kernel's symbol becomes "fa_kc_<hash>" and |hash| gets the hash. */
static fa_status build(const fa_jit_target *t, const char *name, fa_jit_emit_fn emit,
                       const void *user, const char *symbol, uint64_t *out_addr, char hash[33]) {
    hash[0] = '\0';
    fa_jit_module *m;
    FA_TRY(fa_jit_module_create(t, name, &m));
    fa_status s = emit(user, m, symbol);
    if (s) {
        fa_jit_module_destroy(m);
        return s;
    }
    const char *dir = disk_dir();
    LLVMValueRef fn = dir ? LLVMGetNamedFunction(m->mod, symbol) : NULL;
    if (!fn)
        return fa_jit_module_finish(m, symbol, out_addr);
    /* Hashed under a fixed name, so equal code gets one name in every process. */
    LLVMSetValueName2(fn, "fa_kc", 5);
    code_hash(m, hash);
    char sym[48];
    snprintf(sym, sizeof sym, "fa_kc_%s", hash);
    LLVMSetValueName2(fn, sym, strlen(sym));
    for (cache_entry *e = cache; e; e = e->next)
        if (!strcmp(e->code_hash, hash)) { /* the same code under another signature */
            fa_jit_module_destroy(m);
            *out_addr = e->addr;
            return FA_OK;
        }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.o", dir, hash);
    LLVMMemoryBufferRef buf = NULL;
    char *msg = NULL;
    if (LLVMCreateMemoryBufferWithContentsOfFile(path, &buf, &msg) == 0) {
        s = add_object(buf, sym, out_addr);
        if (!s) {
            fa_jit_module_destroy(m);
            stats.disk_hits++;
            return FA_OK;
        }
        fa_status_free(s); /* unusable (truncated, foreign): compile and replace it */
    } else {
        LLVMDisposeMessage(msg);
    }
    return compile_to_disk(m, sym, path, out_addr);
}

fa_status fa_jit_module_write_object(fa_jit_module *m, const char *path) {
    session_lock();
    fa_status s = optimize(m);
    LLVMTargetMachineRef tm = NULL;
    if (!s)
        s = make_tm_for(m->target.cpu, m->target.features, LLVMRelocPIC, LLVMCodeModelDefault,
                        &tm);
    if (!s) {
        char *msg = NULL;
        /* The C API takes a non-const file name. */
        char *name = strdup(path);
        if (!name)
            s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "jit: out of memory");
        else if (LLVMTargetMachineEmitToFile(tm, m->mod, name, LLVMObjectFile, &msg)) {
            s = fa_status_make(FA_STATUS_IO, "%s: cannot write the object: %s", path, msg);
            LLVMDisposeMessage(msg);
        }
        free(name);
        LLVMDisposeTargetMachine(tm);
    }
    fa_jit_module_destroy(m);
    session_unlock();
    return s;
}

fa_status fa_jit_kernel_get(const char *signature, const fa_jit_target *t, const char *name,
                            fa_jit_emit_fn emit, const void *user, uint64_t *out_addr) {
    session_lock();
    for (cache_entry *e = cache; e; e = e->next)
        if (strcmp(e->signature, signature) == 0) {
            stats.hits++;
            *out_addr = e->addr;
            session_unlock();
            return FA_OK;
        }
    cache_entry *e = calloc(1, sizeof *e);
    size_t len = strlen(signature);
    char *sig = malloc(len + 1);
    if (!e || !sig) {
        free(e);
        free(sig);
        session_unlock();
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "jit: out of memory");
    }
    memcpy(sig, signature, len + 1);
    /* Symbols are unique per session: the signature may be long and hold any character. */
    char symbol[32];
    snprintf(symbol, sizeof symbol, "fa_kernel_%llu", (unsigned long long)module_count++);
    double t0 = now_ms();
    uint64_t addr = 0;
    fa_status s = build(t, name, emit, user, symbol, &addr, e->code_hash);
    if (s) {
        free(e);
        free(sig);
        session_unlock();
        return s;
    }
    e->signature = sig;
    e->addr = addr;
    e->compile_ms = now_ms() - t0;
    e->next = cache;
    cache = e;
    stats.compiled++;
    stats.total_ms += e->compile_ms;
    *out_addr = addr;
    session_unlock();
    return FA_OK;
}

void fa_jit_stats_get(fa_jit_stats *out) {
    session_lock();
    *out = stats;
    session_unlock();
}

double fa_jit_kernel_compile_ms(const char *signature) {
    double ms = -1.0;
    session_lock();
    for (cache_entry *e = cache; e; e = e->next)
        if (strcmp(e->signature, signature) == 0)
            ms = e->compile_ms;
    session_unlock();
    return ms;
}

void fa_jit_shutdown(void) {
    session_lock();
    while (cache) {
        cache_entry *next = cache->next;
        free(cache->signature);
        free(cache);
        cache = next;
    }
    if (jit) {
        LLVMErrorRef err = LLVMOrcDisposeLLJIT(jit);
        if (err)
            LLVMConsumeError(err);
        jit = NULL;
    }
    if (triple) {
        LLVMDisposeMessage(triple);
        triple = NULL;
    }
    memset(&stats, 0, sizeof stats);
    session_unlock();
}
