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
/* Section offsets (floats, multiples of 16) of |key|'s types on |path| (resolved, not AUTO);
 * returns the total. */
uint64_t fa_tquant_section_offsets(const fa_tquant_key *key, fa_tquant_path path, uint64_t *off);

/* The kernel's stack scratch (floats): every kind's z rows and a KRON row's Y and z fit. */
enum { FA_TQUANT_SCRATCH_FLOATS = 32768 };

/* KRON with A1 [p, p], A2 [q, q]: the lanes of the vectors along the contiguous q axis (the
 * path's lanes, or the power of two >= q when q is smaller) and qp, q rounded up to them (the
 * row stride of packed A2 and of the stack Y [p][qp]). */
int fa_tquant_kron_lanes(fa_tquant_path path, int64_t q);
int64_t fa_tquant_kron_qp(fa_tquant_path path, int64_t q);
/* Floats of A1's part of a KRON section (a multiple of 16), then of the whole section. */
uint64_t fa_tquant_kron_a1_floats(int64_t p, bool hadamard);
uint64_t fa_tquant_kron_section_floats(fa_tquant_path path, int64_t d, int64_t p, bool hadamard);
/* The stack floats a KRON row needs on |path|: Y [p][qp], and for a dense A1 also z [d + qp]
 * after it (a Hadamard A1 transforms Y in place and compacts it into z). */
uint64_t fa_tquant_kron_scratch(fa_tquant_path path, int64_t d, int64_t p, bool hadamard);

#endif
