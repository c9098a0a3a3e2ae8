/* Activation statistics per linear-layer input ("site") and token type, for freeact stats: finds
 * the sites in the IR, then accumulates streaming moments while the interpreter runs batches. */
#ifndef FA_TOOLS_STATS_H
#define FA_TOOLS_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"
#include "runtime/tensor.h"
#include "runtime/token_type.h"

typedef struct fa_tool_stats fa_tool_stats;

/* One site: a value read as operand 0 by every MatMul whose operand 1 is a rank-2 constant and
 * every Gemm (transA = 0) whose B is a constant. Lent by fa_tool_stats_site_info. */
typedef struct fa_tool_stats_site {
    const char *name; /* the first consumer's node name, "+N" for N more; "site#K" if unnamed */
    int64_t d;        /* channels: the weight's input dimension */
    uint32_t num_consumers;
    const fa_node *const *consumers; /* in program order */
    bool aligned;                    /* false once an activation could not be split into tokens */
    const char *reason;              /* why not aligned ("" while aligned) */
} fa_tool_stats_site;

/* The numbers for one site and one token type (or all together), over the tokens of that type.
 * Undefined ones (no tokens, no energy, no variance) are NaN. */
typedef struct fa_tool_stats_summary {
    uint64_t tokens;
    double max_over_rms;            /* max|x| / RMS(x) over all elements of those tokens */
    double mean_token_max_over_rms; /* mean over tokens with RMS > 0 of max|x_t| / RMS(x_t) */
    double kurtosis;                /* excess kurtosis E[(x-mu)^4] / var^2 - 3 of the elements */
    double top_energy_share;        /* share of sum x^2 held by the |top_k| strongest channels */
    uint32_t top_k;                 /* 1% of the channels: max(1, d / 100) */
    uint32_t num_top;               /* entries of |top_channels| */
    int64_t top_channels[3];        /* strongest channels first; none if there is no energy */
} fa_tool_stats_summary;

/* Finds the sites of |g| (which must outlive the result) for token types given by |rule|. The
 * caller destroys *out with fa_tool_stats_destroy. Fails only when out of memory. */
fa_status fa_tool_stats_create(const fa_graph *g, const fa_rt_token_rule *rule,
                               fa_tool_stats **out);
void fa_tool_stats_destroy(fa_tool_stats *st);

/* Runs the graph once on |inputs| (one per graph input, as for fa_rt_interp_run), a batch of
 * |rows| rows, and adds every site's activations to the statistics. |source| is the rule's
 * tensor for this batch ([rows, T], integer; NULL for a position rule). A site whose activation
 * is not [B,T,d] or [N,d] with N = B*T matching the token types is marked not aligned and no
 * longer counted. Errors come from the run or from the token types (e.g. a type id out of
 * range); the statistics are then unspecified. */
fa_status fa_tool_stats_run(fa_tool_stats *st, const fa_rt_tensor *inputs, uint32_t num_inputs,
                            const fa_rt_tensor *source, int64_t rows, const fa_rt_allocator *al);

uint32_t fa_tool_stats_num_sites(const fa_tool_stats *st);
const fa_tool_stats_site *fa_tool_stats_site_info(const fa_tool_stats *st, uint32_t i);
/* Types to report: 2 for ==/< rules; for input:NAME one more than the largest type seen. */
unsigned fa_tool_stats_num_types(const fa_tool_stats *st);
/* Summarizes site |i| for token type |type| (0..num_types-1), or all types when |type| < 0. */
void fa_tool_stats_summarize(const fa_tool_stats *st, uint32_t i, int type,
                             fa_tool_stats_summary *out);

#endif
