/* The greedy pattern-rewrite driver (see rewrite.h): a worklist of live nodes, seeded in program
 * order, re-fed with the nodes a rewrite may have made matchable, swept until nothing changes.
 *
 * Design note. The worklist is a stack seeded in reverse, so nodes pop in program order and
 * producers are simplified before their users. After a pattern fires at n the driver queues n
 * (if still alive), the nodes that used n's results before the rewrite (they now read the
 * replacements), the producers of n's operands (they may have lost their last use), and every
 * node that defines or uses a value created by the rewrite. Erased nodes stay in arena memory
 * marked dead, so stale worklist entries are skipped, never dereferenced after free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/rewrite.h"

#define DEFAULT_MAX_SWEEPS 32

typedef struct worklist {
    fa_node **items;
    uint32_t count, cap;
    unsigned char *queued; /* by node id */
    uint32_t queued_cap;
} worklist;

static void *xrealloc(void *p, size_t size) {
    void *q = realloc(p, size ? size : 1);
    if (!q)
        fa_fatal(__FILE__, __LINE__, "out of memory");
    return q;
}

static void wl_push(worklist *w, fa_node *n) {
    if (!n || n->dead)
        return;
    if (n->id >= w->queued_cap) {
        uint32_t ncap = w->queued_cap ? w->queued_cap : 64;
        while (ncap <= n->id)
            ncap *= 2;
        w->queued = xrealloc(w->queued, ncap);
        memset(w->queued + w->queued_cap, 0, ncap - w->queued_cap);
        w->queued_cap = ncap;
    }
    if (w->queued[n->id])
        return;
    if (w->count == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->items = xrealloc(w->items, sizeof *w->items * w->cap);
    }
    w->queued[n->id] = 1;
    w->items[w->count++] = n;
}

static fa_node *wl_pop(worklist *w) {
    fa_node *n = w->items[--w->count];
    w->queued[n->id] = 0;
    return n;
}

/* Nodes to revisit after a rewrite at some node; collected before the pattern runs because the
 * pattern may drop the edges that lead to them. */
typedef struct node_vec {
    fa_node **v;
    uint32_t n, cap;
} node_vec;

static void vec_push(node_vec *s, fa_node *n) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, sizeof *s->v * s->cap);
    }
    s->v[s->n++] = n;
}

static void collect_neighbours(const fa_node *n, node_vec *out) {
    out->n = 0;
    for (uint32_t i = 0; i < n->num_operands; i++)
        if (n->operands[i] && n->operands[i]->def)
            vec_push(out, n->operands[i]->def);
    for (uint32_t i = 0; i < n->num_results; i++) {
        const fa_value *r = n->results[i];
        for (uint32_t k = 0; k < r->num_uses; k++)
            vec_push(out, r->uses[k].node);
    }
}

/* Queues what a rewrite at |n| may have affected: |n| itself, its old neighbours, and the
 * definers and users of values created since the value table had |old_num_values| entries. */
static void requeue(const fa_graph *g, worklist *w, fa_node *n, const node_vec *neighbours,
                    uint32_t old_num_values) {
    for (uint32_t i = 0; i < neighbours->n; i++)
        wl_push(w, neighbours->v[i]);
    for (uint32_t id = old_num_values; id < fa_graph_num_values(g); id++) {
        fa_value *v = fa_graph_value(g, id);
        if (v->def)
            wl_push(w, v->def);
        for (uint32_t k = 0; k < v->num_uses; k++)
            wl_push(w, v->uses[k].node);
    }
    wl_push(w, n); /* last, so it is tried again first */
}

fa_status fa_rewrite_greedy(fa_graph *g, const fa_pattern *patterns, unsigned num_patterns,
                            void *user, unsigned max_iterations, bool *out_changed) {
    unsigned max_sweeps = max_iterations ? max_iterations : DEFAULT_MAX_SWEEPS;
    worklist w;
    node_vec neighbours;
    memset(&w, 0, sizeof w);
    memset(&neighbours, 0, sizeof neighbours);
    fa_status status = FA_OK;
    bool changed_any = false, converged = false;
    const char *last_pattern = "";
    for (unsigned sweep = 0; sweep < max_sweeps && !status && !converged; sweep++) {
        bool changed = false;
        /* Bounds the rewrites of one sweep so patterns that undo each other cannot loop. */
        uint64_t budget = 64 * ((uint64_t)fa_graph_num_nodes(g) + 64);
        for (fa_node *n = fa_graph_last_node(g); n; n = n->prev)
            wl_push(&w, n);
        while (w.count > 0 && !status) {
            fa_node *n = wl_pop(&w);
            if (n->dead)
                continue;
            /* A pattern that does not fire leaves the graph alone, so one snapshot serves all. */
            uint32_t old_num_values = fa_graph_num_values(g);
            collect_neighbours(n, &neighbours);
            for (unsigned p = 0; p < num_patterns; p++) {
                bool fired = patterns[p].match_and_rewrite(g, n, user, &status);
                if (status) {
                    status = fa_status_prefix(status, "pattern '%s'", patterns[p].name);
                    break;
                }
                if (!fired)
                    continue;
                changed = true;
                last_pattern = patterns[p].name;
                if (budget-- == 0) {
                    status = fa_status_make(FA_STATUS_INTERNAL,
                                            "pattern rewriting does not converge: too many "
                                            "rewrites in one sweep (last pattern '%s')",
                                            last_pattern);
                    break;
                }
                requeue(g, &w, n, &neighbours, old_num_values);
                break;
            }
        }
        changed_any |= changed;
        converged = !changed;
    }
    if (!status && !converged)
        status = fa_status_make(FA_STATUS_INTERNAL,
                                "pattern rewriting did not converge in %u sweeps (last pattern "
                                "'%s')",
                                max_sweeps, last_pattern);
    free(w.items);
    free(w.queued);
    free(neighbours.v);
    if (out_changed)
        *out_changed = changed_any;
    return status;
}

char *fa_rewrite_fresh_name(const fa_graph *g, const char *base, const char *suffix) {
    size_t size = strlen(base) + strlen(suffix) + 16;
    char *name = malloc(size);
    if (!name)
        return NULL;
    snprintf(name, size, "%s.%s", base, suffix);
    for (unsigned k = 1; fa_graph_find_value(g, name); k++)
        snprintf(name, size, "%s.%s%u", base, suffix, k);
    return name;
}
