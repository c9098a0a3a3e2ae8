/* Per-site quantization solvers: given one linear site's calibration activations (with token
 * types) and its weights, choose the activation transform of each token type, the one weight
 * transform, the clip ratios and the quantized weights (DESIGN.md, "Quantization math"). Plain
 * numerical C on OpenBLAS / LAPACKE, no IR: the passes gather the data and write the result
 * into the graph.
 *
 * Conventions: activations are row vectors. A token x of type k is transformed to z = x A_k,
 * quantized per token, and multiplied by the quantized weights Q(W Mᵀ)ᵀ, so x A_k M ≈ x keeps the
 * layer's meaning. Matrices are row-major f32 unless said otherwise. */
#ifndef FA_PASSES_QUANT_QSITE_H
#define FA_PASSES_QUANT_QSITE_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/status.h"

#define FA_QSITE_TYPES_MAX 8

typedef enum fa_qmethod {
    FA_QMETHOD_RTN,         /* A_k = M = I */
    FA_QMETHOD_SMOOTHQUANT, /* A = diag(1/s), M = diag(s), s_c = max|X_c|^α / max|W_c|^(1-α) */
    FA_QMETHOD_QUAROT,      /* A = H (randomized Hadamard), M = Hᵀ */
    FA_QMETHOD_FLATQUANT,   /* A = diag(1/s) (T1⊗T2), M = (T1⊗T2)⁻¹ diag(s), learned, shared */
    FA_QMETHOD_FREEACT,     /* A_k = diag(1/s) T D_k, M = T⁻¹ diag(s), learned, exclusive channels */
    FA_QMETHOD_FREEACT_NS,  /* M = Hᵀ U Uᵀ (rank r), A_k = (I + Z_k P⊥) H */
    FA_QMETHOD_COUNT
} fa_qmethod;

/* "rtn", "smoothquant", "quarot", "flatquant", "freeact", "freeact-ns". */
const char *fa_qmethod_name(fa_qmethod m);
/* Parses a method name; false if unknown. */
bool fa_qmethod_parse(const char *name, fa_qmethod *out);

typedef struct fa_qconfig {
    int w_bits;        /* 4 or 8 */
    int a_bits;        /* 4 or 8; 16 = activations stay f32 (no activation quantization) */
    int group;         /* weight scale groups along K: 0 = one scale per output row, else 32/64/128 */
    bool gptq;         /* GPTQ instead of RTN for the final weights */
    uint64_t seed;     /* all randomness (Hadamard signs, orthogonal starts, minibatches) */
    int steps;         /* optimizer steps for the learned methods (0: the method's default) */
    float lr;          /* AdamW learning rate (0: default) */
    int exclusive;     /* freeact: exclusive channels per type (0: default d/32) */
    double ns_energy;  /* freeact-ns: energy kept in the span S, e.g. 1 - 1e-4 (0: default) */
    float sq_alpha;    /* smoothquant migration strength α (0: default 0.5) */
    int verbose;       /* >0: progress lines on stderr */
} fa_qconfig;

/* Sets every field to its default for |w_bits| / |a_bits|. */
void fa_qconfig_init(fa_qconfig *c, int w_bits, int a_bits);

/* One site's calibration data, lent. Rows of |x| are tokens; |w| stacks the weights of every
 * linear that reads the site (q, k, v for an attention input), n rows in all. */
typedef struct fa_qsite_data {
    const char *name;     /* for messages */
    int64_t d;            /* channels (K of the GEMM) */
    int64_t rows;         /* calibration tokens */
    const float *x;       /* [rows, d] */
    const uint8_t *type;  /* [rows], each < num_types; NULL: all type 0 */
    unsigned num_types;   /* K, 1..FA_QSITE_TYPES_MAX */
    int64_t n;            /* output rows of all weights together */
    const float *w;       /* [n, d] */
} fa_qsite_data;

/* What a solver produces; owned by the caller after fa_qsite_solve, freed by
 * fa_qsite_result_deinit. */
typedef struct fa_qsite_result {
    int64_t d, n;
    unsigned num_types;
    bool identity;        /* A_k = M = I for every k: no transform needed */
    float *a;             /* [num_types, d, d] A_k */
    float *m;             /* [d, d] M */
    float act_clip[FA_QSITE_TYPES_MAX]; /* per-type activation clip ratio in (0, 1] */
    char kinds[FA_QSITE_TYPES_MAX][16]; /* per type: "identity", "diag", "hadamard", "kron",
                                           "dense" (what A_k is, for codegen and reports) */
    int8_t *wq;           /* [n, d] weight codes, in [-8, 7] (4 bits) or [-128, 127] (8 bits) */
    float *w_scale;       /* [n, groups] (groups = d / group, or 1 per row) */
    int64_t groups;
    int exclusive;        /* freeact: exclusive channels per type; freeact-ns: rank r of U */
    double seconds;       /* time spent solving */
} fa_qsite_result;

void fa_qsite_result_deinit(fa_qsite_result *r);

/* Solves one site with |method| and |cfg|. Errors: invalid data (sizes, non-finite values,
 * group not dividing d), out of memory, LAPACK failures; the message starts with the site name.
 * On error |*out| holds nothing to free. */
fa_status fa_qsite_solve(const fa_qsite_data *data, fa_qmethod method, const fa_qconfig *cfg,
                         fa_qsite_result *out);

/* Per-type errors of a solved site on (held-out) data |data|, for reports:
 *   equiv[k]  = ‖X_k A_k M − X_k‖_F / ‖X_k‖_F          (0 for a type with no rows)
 *   qerr[k]   = ‖Q_a(X_k A_k) Q_w(W Mᵀ)ᵀ − X_k Wᵀ‖_F / ‖X_k Wᵀ‖_F, with the result's own
 *               codes and clip ratios (the quantization error of the whole site)
 *   rows[k]   = tokens of type k. */
fa_status fa_qsite_evaluate(const fa_qsite_data *data, const fa_qsite_result *r, int a_bits,
                            double *equiv, double *qerr, int64_t *rows);

#endif
