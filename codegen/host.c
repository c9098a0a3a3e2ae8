/* The host target as LLVM sees it: CPU name, triple and the features kernels dispatch on. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "codegen/codegen.h"

void fa_codegen_describe_host(char *buf, size_t size) {
    char *cpu = LLVMGetHostCPUName();
    char *triple = LLVMGetDefaultTargetTriple();
    char *features = LLVMGetHostCPUFeatures();
    bool vnni = strstr(features, "+avx512vnni") != NULL;
    bool avx2 = strstr(features, "+avx2") != NULL;
    snprintf(buf, size, "%s (%s), avx2 %s, avx512-vnni %s", cpu, triple, avx2 ? "yes" : "no",
             vnni ? "yes" : "no");
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(features);
}
