/* Ahead-of-time compilation: writes a model as a shared library, a relocatable object or a
 * static archive that any C toolchain links, plus a C header with its create / run / error /
 * destroy functions under a per-model prefix.
 *
 * What goes in: the kernels the model's plan needs, generated for the target CPU with the same
 * generators as the JIT (one PIC object each); a model object holding the quantized IR as text,
 * its weights as one 64-byte aligned blob, the kernel table by signature and the four entry
 * points (see codegen/aot_rt.h for what they call); and the runtime (libraries fa_cgrt,
 * fa_runtime, fa_ir of this build). These are linked into one relocatable object with
 * `cc -r`, in which every symbol but the four entry points is made local (objcopy), so two
 * models link into one program without clashes; the library is `cc -shared` of it (with
 * OpenBLAS, libm and pthreads), the archive `ar` of it. The system C compiler driver, ld,
 * objcopy and ar must be on the machine (they come with the compiler). */
#ifndef FA_CODEGEN_AOT_H
#define FA_CODEGEN_AOT_H

#include <stdbool.h>
#include <stdint.h>

#include "codegen/target.h"
#include "ir/ir.h"

typedef enum fa_aot_emit {
    FA_AOT_EMIT_SHARED, /* model.so */
    FA_AOT_EMIT_OBJ,    /* model.o: link it with -lopenblas -lm -lpthread */
    FA_AOT_EMIT_STATIC, /* libmodel.a: the same object in an archive */
} fa_aot_emit;

typedef struct fa_aot_options {
    fa_aot_emit emit;
    const char *name;             /* the symbol prefix: a C identifier */
    const fa_jit_target *target;  /* NULL: the host */
    const char *header_path;      /* where model.h goes */
    const char *source;           /* the model file it came from, for the header's comment */
} fa_aot_options;

typedef struct fa_aot_stats {
    uint32_t kernels;      /* generated kernels in the library */
    uint64_t ir_bytes, weights_bytes;
    double codegen_ms;     /* IR generation, O3 and object emission of every kernel */
    double link_ms;        /* cc -r, objcopy and the final cc -shared / ar */
} fa_aot_stats;

/* Whether |name| can be a symbol prefix (a C identifier, at most 64 characters). */
bool fa_aot_name_valid(const char *name);

/* Writes |g| (verified; a graph freeact compile produced) to |out_path| as |o->emit| says, and
 * the header to |o->header_path|, each atomically (nothing is left behind on error). The work
 * happens in a temporary folder beside |out_path|, removed afterwards. |st| may be NULL. */
fa_status fa_aot_write(const fa_graph *g, const char *out_path, const fa_aot_options *o,
                       fa_aot_stats *st);

#endif
