/* Internal to codegen/: the qgemm tile layout shared by the packer (qgemm_pack.c, no LLVM) and
 * the generator (qgemm.c). See qgemm.c's design note. */
#ifndef FA_CODEGEN_QGEMM_LAYOUT_H
#define FA_CODEGEN_QGEMM_LAYOUT_H

#include "codegen/qgemm.h"

enum { NV = 2, LANES = 16, NR = NV * LANES, RB = 64, QDOT_MAX_LEN = 131071 };

/* Static shape of a kernel, derived from its key. */
typedef struct fa_qgemm_shape {
    int64_t k, n, glen, ngroups, tiles;
    int64_t full_steps, rem; /* per group: full 4-steps and the length of a partial last step */
    int64_t blocks;          /* 64-byte blocks per vector per group (steps, or step pairs for i4) */
    bool i4;
} fa_qgemm_shape;

fa_qgemm_shape fa_qgemm_shape_of(const fa_qgemm_key *key);

#endif
