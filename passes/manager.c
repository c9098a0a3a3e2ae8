/* The pass manager: the registry of every pass and the pipeline runner behind `freeact opt
 * --passes=a,b,c` (verification, printing and timing between passes, property tracking). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "passes/pass.h"

extern const fa_pass fa_pass_canonicalize;
extern const fa_pass fa_pass_cse;
extern const fa_pass fa_pass_dce;
extern const fa_pass fa_pass_fuse_activations;
extern const fa_pass fa_pass_fuse_linear;
extern const fa_pass fa_pass_fuse_norms;
extern const fa_pass fa_pass_fuse_rope;
extern const fa_pass fa_pass_fold_norms;

/* Adding a pass: one line here (sorted by name), plus passes/<name>.c and a golden test. */
static const fa_pass *const registry[] = {
    &fa_pass_canonicalize,
    &fa_pass_cse,
    &fa_pass_dce,
    &fa_pass_fold_norms,
    &fa_pass_fuse_activations,
    &fa_pass_fuse_linear,
    &fa_pass_fuse_norms,
    &fa_pass_fuse_rope,
};

#define NUM_PASSES (sizeof registry / sizeof registry[0])

const fa_pass *fa_pass_find(const char *name) {
    for (unsigned i = 0; i < NUM_PASSES; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

unsigned fa_pass_count(void) { return (unsigned)NUM_PASSES; }

const fa_pass *fa_pass_at(unsigned i) { return i < NUM_PASSES ? registry[i] : NULL; }

const char *fa_property_name(unsigned property_bit) {
    switch (property_bit) {
    case FA_PROP_TYPES_INFERRED: return "types-inferred";
    default: return "unknown-property";
    }
}

/* A pipeline split into names: |buf| holds the NUL-separated names, |names| points into it. */
typedef struct name_list {
    char *buf;
    const char **names;
    unsigned count;
} name_list;

static void name_list_free(name_list *l) {
    free(l->buf);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Splits the comma-separated |text| (blanks around names are ignored). An empty name is an
 * error; an empty or all-blank |text| gives an empty list. |what| names the option in errors. */
static fa_status split_names(const char *text, const char *what, name_list *out) {
    memset(out, 0, sizeof *out);
    size_t len = strlen(text);
    const char *p = text;
    while (*p && is_blank(*p))
        p++;
    if (!*p)
        return FA_OK;
    unsigned commas = 0;
    for (const char *q = text; *q; q++)
        commas += *q == ',';
    out->buf = malloc(len + 1);
    out->names = malloc(sizeof *out->names * (commas + 1));
    if (!out->buf || !out->names) {
        name_list_free(out);
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(out->buf, text, len + 1);
    char *s = out->buf;
    for (;;) {
        char *comma = strchr(s, ',');
        char *end = comma ? comma : s + strlen(s);
        while (s < end && is_blank(*s))
            s++;
        while (end > s && is_blank(end[-1]))
            end--;
        if (end == s) {
            fa_status st = fa_status_make(FA_STATUS_INVALID_ARGUMENT, "empty pass name in %s '%s'",
                                          what, text);
            name_list_free(out);
            return st;
        }
        *end = '\0';
        out->names[out->count++] = s;
        if (!comma)
            break;
        s = comma + 1;
    }
    return FA_OK;
}

static fa_status unknown_pass(const char *name, const char *what) {
    return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                          "unknown pass '%s'%s%s; 'freeact opt --list-passes' lists them", name,
                          what ? " in " : "", what ? what : "");
}

static bool list_has(const name_list *l, const char *name) {
    for (unsigned i = 0; i < l->count; i++)
        if (strcmp(l->names[i], name) == 0)
            return true;
    return false;
}

/* The error for running |p| while the property |bit| does not hold; names a pass that
 * establishes it when the registry has one. */
static fa_status missing_property(const fa_pass *p, unsigned bit) {
    for (unsigned i = 0; i < NUM_PASSES; i++)
        if (registry[i]->establishes & bit)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "pass '%s' requires property '%s', which does not hold here; "
                                  "run '%s' before it",
                                  p->name, fa_property_name(bit), registry[i]->name);
    return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                          "pass '%s' requires property '%s', which does not hold here (no "
                          "registered pass establishes it)",
                          p->name, fa_property_name(bit));
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs one pass with the checks, printing and bookkeeping the context asks for. */
static fa_status run_one(fa_graph *g, const fa_pass *p, fa_pass_ctx *ctx,
                         const name_list *print_after, FILE *dump) {
    unsigned missing = p->requires & ~ctx->properties;
    if (missing)
        return missing_property(p, missing & -missing);
    uint32_t nodes_before = fa_graph_num_nodes(g);
    double t0 = now_ms();
    fa_status s = p->run(g, ctx);
    double t1 = now_ms();
    if (s)
        return fa_status_prefix(s, "pass '%s'", p->name);
    ctx->properties = (ctx->properties & ~p->invalidates) | p->establishes;
    /* Erased nodes leave dead entries in the value table; sweep them between passes. */
    fa_graph_compact(g);
    if (ctx->verbose > 0)
        fprintf(dump, "pass %-16s %9.3f ms  %u -> %u nodes\n", p->name, t1 - t0, nodes_before,
                fa_graph_num_nodes(g));
    if (ctx->verify_each) {
        s = fa_graph_verify(g);
        if (s)
            return fa_status_prefix(s, "verifier failed after pass '%s'", p->name);
    }
    if (ctx->print_after_all || list_has(print_after, p->name)) {
        fprintf(dump, "// ----- IR after %s -----\n", p->name);
        FA_TRY(fa_graph_print(g, NULL, dump));
        fflush(dump);
    }
    return FA_OK;
}

fa_status fa_pipeline_run(fa_graph *g, const char *pipeline, fa_pass_ctx *ctx) {
    fa_pass_ctx local;
    if (!ctx) {
        memset(&local, 0, sizeof local);
        ctx = &local;
    }
    if (!pipeline)
        return FA_OK;
    FILE *dump = ctx->dump ? ctx->dump : stderr;
    name_list names, print_after;
    FA_TRY(split_names(pipeline, "pipeline", &names));
    fa_status s =
        split_names(ctx->print_after ? ctx->print_after : "", "--print-after", &print_after);
    if (s) {
        name_list_free(&names);
        return s;
    }
    /* Every name is checked before anything runs, so a typo never leaves a half-run graph. */
    const fa_pass **passes = calloc(names.count + 1, sizeof *passes);
    if (!passes)
        s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    for (unsigned i = 0; i < names.count && !s; i++)
        if (!(passes[i] = fa_pass_find(names.names[i])))
            s = unknown_pass(names.names[i], NULL);
    for (unsigned i = 0; i < print_after.count && !s; i++)
        if (!fa_pass_find(print_after.names[i]))
            s = unknown_pass(print_after.names[i], "--print-after");
    for (unsigned i = 0; i < names.count && !s; i++)
        s = run_one(g, passes[i], ctx, &print_after, dump);
    free(passes);
    name_list_free(&names);
    name_list_free(&print_after);
    return s;
}
