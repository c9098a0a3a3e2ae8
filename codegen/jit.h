/* The JIT session of generated kernels: one ORC LLJIT per process, target descriptions (the host
 * or a named CPU), module building helpers, the O3 pipeline, and a kernel cache keyed by a
 * signature string so that the same kernel compiles once per process.
 *
 * Design: every kernel module is built in its own LLVMContext (a ThreadSafeContext), gets the
 * JIT's data layout, carries "target-cpu"/"target-features" on each function (so one host JIT
 * can run code made for a smaller CPU, e.g. x86-64-v3 to exercise an AVX2 path) and is optimised
 * with `default<O3>` by a target machine for the same CPU and features, so that the cost model
 * and vectorizer are real. Floating point is never contracted into FMA: kernels emit no
 * `contract` flags and the target machines keep LLVM's default FP fusion (only fmuladd). A
 * mutex serialises every entry point, so callers may use them from any thread. */
#ifndef FA_CODEGEN_JIT_H
#define FA_CODEGEN_JIT_H

#include <stdbool.h>
#include <stdint.h>

#include <llvm-c/Core.h>

#include "ir/status.h"

/* The CPU a kernel is generated for: an LLVM CPU name and a feature string ("+avx2,-avx512f,...").
 * Path selection (fa_jit_target_has) reads the feature string only, so a named CPU must spell
 * out the features a generator dispatches on. */
typedef struct fa_jit_target {
    char cpu[64];
    char features[4096];
} fa_jit_target;

/* The host as LLVM detects it (LLVMGetHostCPUName / LLVMGetHostCPUFeatures). */
void fa_jit_target_host(fa_jit_target *out);
/* A named target: |cpu| (e.g. "x86-64-v3", "x86-64") and |features| (may be "" or NULL).
 * FA_STATUS_INVALID_ARGUMENT if either does not fit. */
fa_status fa_jit_target_init(fa_jit_target *out, const char *cpu, const char *features);
/* Whether the feature string enables |feature| (without the '+', e.g. "avx512vnni"). */
bool fa_jit_target_has(const fa_jit_target *t, const char *feature);

/* A module under construction for one target; owns its context until fa_jit_module_finish
 * hands it to the JIT or fa_jit_module_destroy drops it. */
typedef struct fa_jit_module fa_jit_module;

/* Creates the JIT session if needed and an empty module named |name| for |t|, with the JIT's
 * data layout and triple. The caller owns |*out|. */
fa_status fa_jit_module_create(const fa_jit_target *t, const char *name, fa_jit_module **out);
/* The module's context and LLVM module, lent until finish / destroy. */
LLVMContextRef fa_jit_module_context(fa_jit_module *m);
LLVMModuleRef fa_jit_module_llvm(fa_jit_module *m);
/* Adds a function |name| of type |fn_type| with the target's "target-cpu", "target-features"
 * (and, on AVX-512 targets, 512-bit vector width preferences) and nounwind. */
LLVMValueRef fa_jit_module_add_function(fa_jit_module *m, const char *name, LLVMTypeRef fn_type);
/* Verifies the module, runs `default<O3>` for the target, adds it to the JIT and looks up
 * |symbol| into |*out_addr|. Always consumes |m|. */
fa_status fa_jit_module_finish(fa_jit_module *m, const char *symbol, uint64_t *out_addr);
/* Drops a module that will not be compiled; NULL is a no-op. */
void fa_jit_module_destroy(fa_jit_module *m);

/* Builds the kernel for a cache miss: makes a module, emits a function named |symbol| and
 * finishes it into |*out_addr|. */
typedef fa_status (*fa_jit_build_fn)(void *user, const char *symbol, uint64_t *out_addr);

/* Returns the kernel cached under |signature| (op, dtypes, static dims, CPU name and features:
 * whatever determines the code), calling |build| once on a miss. The address stays valid until
 * fa_jit_shutdown. */
fa_status fa_jit_kernel_get(const char *signature, fa_jit_build_fn build, void *user,
                            uint64_t *out_addr);

/* Compile statistics of the session. */
typedef struct fa_jit_stats {
    uint64_t compiled;  /* kernels built (cache misses that succeeded) */
    uint64_t hits;      /* cache hits */
    double total_ms;    /* wall time of every build: IR, O3, JIT codegen and link */
    double last_ir_ms;  /* the last build: emitting IR (up to fa_jit_module_finish) */
    double last_opt_ms; /* verify + O3 */
    double last_jit_ms; /* adding to the JIT, codegen and link (first lookup) */
} fa_jit_stats;

void fa_jit_stats_get(fa_jit_stats *out);
/* Compile time in ms of the cached kernel |signature|, or a negative value when not cached. */
double fa_jit_kernel_compile_ms(const char *signature);

/* Marks a function that calls JIT code through a pointer. clang's -fsanitize=function (part of
 * -fsanitize=undefined) checks a type hash stored just before every instrumented function; JIT
 * code has none, and at the start of a page the read faults. */
#if defined(__clang__)
#define FA_JIT_CALLER __attribute__((no_sanitize("function")))
#else
#define FA_JIT_CALLER
#endif

/* Destroys the JIT, its code and the cache; every kernel address becomes invalid. Registered
 * with atexit when the session is created; a later call creates a fresh session. */
void fa_jit_shutdown(void);

#endif
