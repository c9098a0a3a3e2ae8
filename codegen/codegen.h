/* Code generation with the LLVM C API: host target description now; JIT kernels and AOT objects
 * arrive with the codegen issue. */
#ifndef FA_CODEGEN_CODEGEN_H
#define FA_CODEGEN_CODEGEN_H

#include <stddef.h>

/* Writes "<cpu> (<triple>)" for the host as LLVM sees it, e.g. "znver4 (x86_64-pc-linux-gnu)",
 * into |buf|, plus whether AVX512-VNNI and AVX2 are present. */
void fa_codegen_describe_host(char *buf, size_t size);

#endif
