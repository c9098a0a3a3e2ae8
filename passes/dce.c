/* dce: dead-code elimination. Erases every node none of whose results is used by a live node or
 * read by a graph output, then every constant nothing reads. Inputs stay: they are the graph's
 * interface. */
#include <stdlib.h>

#include "passes/pass.h"

static bool is_dead(const fa_node *n, const unsigned char *is_output) {
    for (uint32_t i = 0; i < n->num_results; i++) {
        const fa_value *r = n->results[i];
        if (fa_value_has_uses(r) || is_output[r->id])
            return false;
    }
    return true;
}

/* One backward walk reaches the fixpoint: every user of a node comes after it in program order,
 * so by the time a node is visited all of its dead users are already gone. */
static fa_status run_dce(fa_graph *g, fa_pass_ctx *ctx) {
    (void)ctx;
    uint32_t nv = fa_graph_num_values(g);
    unsigned char *is_output = calloc(nv + 1, 1);
    if (!is_output)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory in dce");
    for (uint32_t i = 0; i < fa_graph_num_outputs(g); i++)
        is_output[fa_graph_output(g, i)->value->id] = 1;
    for (fa_node *n = fa_graph_last_node(g), *prev; n; n = prev) {
        prev = n->prev;
        if (is_dead(n, is_output))
            fa_graph_erase_node(g, n);
    }
    for (uint32_t i = fa_graph_num_consts(g); i-- > 0;) {
        fa_value *c = fa_graph_const(g, i);
        if (!fa_value_has_uses(c) && !is_output[c->id])
            fa_graph_erase_const(g, c);
    }
    free(is_output);
    return FA_OK;
}

const fa_pass fa_pass_dce = {
    .name = "dce",
    .summary = "erase nodes and constants whose values are unused and not graph outputs",
    .run = run_dce,
    .requires = FA_PROP_NONE,
    .establishes = FA_PROP_NONE,
    .invalidates = FA_PROP_NONE,
};
