/* The greedy pattern-rewrite driver: small match_and_rewrite functions applied over a worklist
 * until nothing changes (MLIR's greedy driver, in miniature). */
#ifndef FA_PASSES_REWRITE_H
#define FA_PASSES_REWRITE_H

#include "ir/ir.h"

/* Tries to rewrite at |n|. Returns true if it changed the graph. It may create nodes, replace
 * uses and erase nodes (including |n|) only through the ir.h mutation API; the driver re-queues
 * the users of changed values. Errors go to *out_status (then return true). */
typedef bool (*fa_pattern_fn)(fa_graph *g, fa_node *n, void *user, fa_status *out_status);

typedef struct fa_pattern {
    const char *name;
    fa_pattern_fn match_and_rewrite;
} fa_pattern;

/* Applies |patterns| to a fixpoint (at most |max_iterations| sweeps, 0: default of 32, error if
 * the limit is hit). Sets *out_changed when anything changed. */
fa_status fa_rewrite_greedy(fa_graph *g, const fa_pattern *patterns, unsigned num_patterns,
                            void *user, unsigned max_iterations, bool *out_changed);

/* A constant or value name "<base>.<suffix>", or "<base>.<suffix>1", "<base>.<suffix>2", ... if
 * that name is taken in |g|; malloc'ed, the caller frees it (NULL: out of memory). */
char *fa_rewrite_fresh_name(const fa_graph *g, const char *base, const char *suffix);

#endif
