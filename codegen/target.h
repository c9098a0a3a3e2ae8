/* The CPU a generated kernel is made for, as plain data (no LLVM): shared by the code generators
 * (codegen/jit.h) and by the LLVM-free part that installs kernels into a plan and runs inside AOT
 * libraries (codegen/kernels.h). */
#ifndef FA_CODEGEN_TARGET_H
#define FA_CODEGEN_TARGET_H

#include <stdbool.h>

#include "ir/status.h"

/* The CPU a kernel is generated for: an LLVM CPU name and a feature string ("+avx2,-avx512f,...").
 * Path selection (fa_jit_target_has) reads the feature string only, so a named CPU must spell
 * out the features a generator dispatches on. */
typedef struct fa_jit_target {
    char cpu[64];
    char features[4096];
} fa_jit_target;

/* A named target: |cpu| (e.g. "x86-64-v3", "x86-64") and |features| (may be "" or NULL).
 * FA_STATUS_INVALID_ARGUMENT if either does not fit. */
fa_status fa_jit_target_init(fa_jit_target *out, const char *cpu, const char *features);
/* Whether the feature string enables |feature| (without the '+', e.g. "avx512vnni"). */
bool fa_jit_target_has(const fa_jit_target *t, const char *feature);

/* A module under construction (codegen/jit.h); declared here so that kernel headers can name
 * their emit functions without including LLVM. */
typedef struct fa_jit_module fa_jit_module;

/* Marks a function that calls generated code through a pointer. clang's -fsanitize=function
 * (part of -fsanitize=undefined) checks a type hash stored just before every instrumented
 * function; generated code has none, and at the start of a page the read faults. */
#if defined(__clang__)
#define FA_JIT_CALLER __attribute__((no_sanitize("function")))
#else
#define FA_JIT_CALLER
#endif

#endif
