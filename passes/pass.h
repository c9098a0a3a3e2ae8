/* The pass manager: named passes in one registry, pipelines given as "a,b,c" (like mlir-opt),
 * with verification and printing between passes. Each pass lives in passes/<name>.c and exports
 * one `const fa_pass`. */
#ifndef FA_PASSES_PASS_H
#define FA_PASSES_PASS_H

#include <stdbool.h>
#include <stdio.h>

#include "ir/ir.h"

/* Facts about a graph that passes establish, require and invalidate. The manager tracks which
 * hold and refuses to run a pass whose requirements are not met, naming what to run first. */
enum fa_graph_property {
    FA_PROP_NONE = 0,
    FA_PROP_TYPES_INFERRED = 1u << 0, /* every result type is as precise as the shape rules give */
};
/* Every property (for |invalidates|). A macro: ISO C limits enumerators to int's range. */
#define FA_PROP_ALL (~0u)

typedef struct fa_pass_ctx {
    bool verify_each;        /* run the verifier after every pass */
    bool print_after_all;    /* print the IR after every pass */
    const char *print_after; /* comma-separated pass names to print after, or NULL */
    FILE *dump;              /* where printing goes (stderr if NULL) */
    int verbose;             /* >0: one line per pass with its time on |dump| */
    unsigned properties;     /* currently valid fa_graph_property bits */
} fa_pass_ctx;

typedef struct fa_pass {
    const char *name;    /* kebab-case, unique */
    const char *summary; /* one line for --list-passes */
    fa_status (*run)(fa_graph *g, fa_pass_ctx *ctx);
    unsigned requires;    /* properties that must hold before */
    unsigned establishes; /* properties that hold after */
    unsigned invalidates; /* properties that may be broken after (FA_PROP_ALL: all) */
} fa_pass;

/* Lent; the registry is static. */
const fa_pass *fa_pass_find(const char *name);
unsigned fa_pass_count(void);
const fa_pass *fa_pass_at(unsigned i);
const char *fa_property_name(unsigned property_bit);

/* Runs the comma-separated |pipeline| on |g| (empty: nothing). Unknown names are reported before
 * anything runs. A failing pass's status is prefixed with "pass 'name'". */
fa_status fa_pipeline_run(fa_graph *g, const char *pipeline, fa_pass_ctx *ctx);

#endif
