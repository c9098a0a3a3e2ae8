/* The quantization pipeline (DESIGN.md, "Quantization math"): linear-site discovery and
 * token-type analysis, calibration on the float graph, one solver per site (passes/quant), and
 * the lowering of each site to token_type / routed_transform / quantize / qlinear. It runs after
 * fuse-norms, fuse-linear and fold-norms; `freeact compile` drives it. */
#ifndef FA_PASSES_QUANTIZE_H
#define FA_PASSES_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"
#include "passes/quant/qsite.h"
#include "runtime/tensor.h"
#include "runtime/token_type.h"

/* A linear site: the linears that read one activation |x| (q, k, v share one). */
typedef struct fa_quant_site {
    char name[160];      /* from the first linear's node name, e.g. "layers.0.self_attn.q_proj+2" */
    fa_value *x;         /* the activation, [B, T, d] when token-aligned */
    fa_node **linears;   /* program order */
    uint32_t num_linears;
    int64_t d, n;        /* channels; outputs of all linears together */
    bool aligned;        /* token types apply: x is [B, T, d] with the rule's [B, T] */
    const char *reason;  /* why not aligned ("" if aligned) */
    /* calibration, filled by fa_quant_calibrate */
    float *cx;           /* [rows, d] */
    uint8_t *ctype;      /* [rows] */
    int32_t *cseq;       /* [rows] the calibration sample each row comes from */
    int64_t rows, cap;
} fa_quant_site;

typedef struct fa_quant_sites {
    fa_quant_site *v;
    uint32_t count;
    unsigned num_types;  /* K of the rule (INPUT rules: one more than the largest type seen) */
} fa_quant_sites;

/* Finds the sites of |g|: every `linear` with a static f32 [n, d] constant weight, grouped by
 * operand 0. A linear whose result is a graph output (an LM head) is left in f32 unless
 * |with_head|. Fails with FA_STATUS_INVALID_ARGUMENT (naming the graph) when there is no
 * linear layer to quantize. Free with fa_quant_sites_deinit. */
fa_status fa_quant_sites_compute(fa_graph *g, bool with_head, fa_quant_sites *out);
void fa_quant_sites_deinit(fa_quant_sites *s);

/* Calibration data: one tensor per graph input (graph order), each with the same extent (at
 * least |samples|, the number used) along axis 0, and the tensor the token-type rule reads (NULL for a position rule;
 * [samples, T] integer otherwise). */
typedef struct fa_quant_calib {
    const fa_rt_tensor *inputs;
    uint32_t num_inputs;
    const fa_rt_tensor *source;
    int64_t samples;
} fa_quant_calib;

/* Runs the graph on the calibration data in batches of |batch| samples and records the
 * activation rows of site |only| (or of every site when |only| < 0) with their token types
 * (|rule|; NULL: one type), replacing what the sites held. A site whose activation is not
 * [B, T, d] with the rule's [B, T] is marked not aligned and gets type 0. At most |max_rows| rows
 * are kept per site (the first ones). With |only| >= 0 each run stops once that site's input is
 * recorded. |progress|: a line on stderr per batch. Sets sites->num_types: the rule's K (for
 * input:NAME rules one more than the largest type in |c->source|). */
fa_status fa_quant_calibrate(const fa_graph *g, fa_quant_sites *sites, const fa_quant_calib *c,
                             const fa_rt_token_rule *rule, int64_t batch, int64_t max_rows,
                             int32_t only, bool progress);

/* What the compile did at one site, for the summary printed by `freeact compile` (the same
 * numbers are stored in the quantized graph for `freeact report`). */
typedef struct fa_quant_site_report {
    char name[160];
    int64_t d, n;
    unsigned num_types;
    bool aligned;
    char kinds[FA_QSITE_TYPES_MAX][16];
    float act_clip[FA_QSITE_TYPES_MAX];
    double equiv[FA_QSITE_TYPES_MAX], qerr[FA_QSITE_TYPES_MAX];
    int64_t tokens[FA_QSITE_TYPES_MAX]; /* held-out tokens per type the errors were measured on */
    int exclusive;
    double seconds;
} fa_quant_site_report;

typedef struct fa_quant_options {
    fa_qmethod method;
    fa_qconfig cfg;
    const fa_rt_token_rule *rule; /* NULL: one token type */
    bool sequential;  /* calibrate each site on the outputs of the sites quantized before it */
    int64_t batch;    /* calibration samples per interpreter run */
    int64_t max_rows; /* calibration rows kept per site */
    bool progress;
} fa_quant_options;

/* Calibrates, solves and lowers every site. Sequential (the default of freeact compile): in
 * program order, each site is calibrated on the graph as quantized so far, so it sees the
 * quantization error of the sites before it (layer-wise, as FlatQuant and FreeAct train);
 * otherwise all sites are calibrated once on the float graph. Each site is solved on three of
 * every four calibration samples; the fourth is held out for the errors in |reports|. Each site's
 * linears become qlinear (or linear of dequantized weights when activations stay f32) behind one
 * routed_transform and one quantize. |reports| gets one entry per site (malloc'ed, sites->count
 * entries; the caller frees it); |calib_seconds| the time spent running the calibration graph. */
fa_status fa_quantize_sites(fa_graph *g, fa_quant_sites *sites, const fa_quant_calib *calib,
                            const fa_quant_options *opt, fa_quant_site_report **reports,
                            double *calib_seconds);

#endif
