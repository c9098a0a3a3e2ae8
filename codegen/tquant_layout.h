/* Internal to codegen/: the packed-transform layout shared by the packer (tquant_pack.c, no
 * LLVM) and the generator (tquant.c). See tquant.c's design note. */
#ifndef FA_CODEGEN_TQUANT_LAYOUT_H
#define FA_CODEGEN_TQUANT_LAYOUT_H

#include "codegen/tquant.h"

/* d rounded up to 64 (a multiple of every path's dense tile width): the padded column count of
 * packed dense matrices and the row stride of the stack z rows. */
int64_t fa_tquant_padded(int64_t d);
/* Lanes and dense tile vectors of |path|. */
int fa_tquant_path_lanes(fa_tquant_path path);
int fa_tquant_path_tile_vectors(fa_tquant_path path);
/* Section offsets (floats, multiples of 16) of |key|'s types; returns the total. */
uint64_t fa_tquant_section_offsets(const fa_tquant_key *key, uint64_t *off);

#endif
