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

#include "codegen/target.h"
#include "ir/status.h"

/* The host as LLVM detects it (LLVMGetHostCPUName / LLVMGetHostCPUFeatures). */
void fa_jit_target_host(fa_jit_target *out);
/* A module under construction for one target; owns its context until fa_jit_module_finish
 * hands it to the JIT or fa_jit_module_destroy drops it. */

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
/* Verifies the module, runs `default<O3>` for the target and writes it to |path| as a
 * position-independent object file (for AOT libraries; codegen/aot.h). Always consumes |m|. */
fa_status fa_jit_module_write_object(fa_jit_module *m, const char *path);
/* Drops a module that will not be compiled; NULL is a no-op. */
void fa_jit_module_destroy(fa_jit_module *m);

/* Emits a kernel: adds a function named |symbol| to |m| (fa_jit_module_add_function) and its
 * body. Does not finish |m|; the caller does (JIT) or writes it to an object (AOT, aot.h). */
typedef fa_status (*fa_jit_emit_fn)(const void *user, fa_jit_module *m, const char *symbol);

/* Returns the kernel cached under |signature| (op, dtypes, static dims, CPU name and features:
 * whatever determines the code); on a miss makes a module named |name| for |t|, calls |emit|
 * once and finishes it. With FREEACT_KERNEL_CACHE=DIR in the environment a miss first looks
 * for the kernel's object in DIR (named by a hash of its IR and the LLVM version) and writes
 * the object there after compiling it, so later processes skip O3 and codegen. The address
 * stays valid until fa_jit_shutdown. */
fa_status fa_jit_kernel_get(const char *signature, const fa_jit_target *t, const char *name,
                            fa_jit_emit_fn emit, const void *user, uint64_t *out_addr);

/* Compile statistics of the session. */
typedef struct fa_jit_stats {
    uint64_t compiled;  /* kernels built (cache misses that succeeded) */
    uint64_t hits;      /* cache hits */
    double total_ms;    /* wall time of every build: IR, O3, JIT codegen and link */
    double last_ir_ms;  /* the last build: emitting IR (up to fa_jit_module_finish) */
    double last_opt_ms; /* verify + O3 */
    double last_jit_ms; /* adding to the JIT, codegen and link (first lookup) */
    uint64_t disk_hits;   /* kernels loaded from the disk cache (FREEACT_KERNEL_CACHE) */
    uint64_t disk_writes; /* kernels written to it */
} fa_jit_stats;

void fa_jit_stats_get(fa_jit_stats *out);
/* Compile time in ms of the cached kernel |signature|, or a negative value when not cached. */
double fa_jit_kernel_compile_ms(const char *signature);

/* Destroys the JIT, its code and the cache; every kernel address becomes invalid. Registered
 * with atexit when the session is created; a later call creates a fresh session. */
void fa_jit_shutdown(void);

#endif
