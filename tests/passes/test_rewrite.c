/* Unit tests of the greedy rewrite driver (passes/rewrite.c) and the pass manager API
 * (passes/manager.c): what golden tests cannot reach (custom patterns, non-convergence, pattern
 * errors, the registry, a NULL context). */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "passes/pass.h"
#include "passes/rewrite.h"
#include "tests/test_util.h"

static fa_graph *parse(const char *text) {
    fa_graph *g = NULL;
    CHECK_OK(fa_graph_parse(text, strlen(text), "test.fir", NULL, 0, &g));
    return g;
}

/* neg(neg(v)) -> v: fires at the outer neg and erases it; the inner one is left for dead-node
 * removal, which the driver must reach through re-queued operand producers. */
static bool double_neg(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)out_status;
    fa_value *x = n->operands[0];
    if (n->op != FA_OP_NEG || !x->def || x->def->op != FA_OP_NEG)
        return false;
    fa_value_replace_uses(g, n->results[0], x->def->operands[0]);
    fa_graph_erase_node(g, n);
    ++*(int *)user;
    return true;
}

static bool erase_dead(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)user;
    (void)out_status;
    if (fa_value_has_uses(n->results[0]) || fa_value_is_output(g, n->results[0]))
        return false;
    fa_graph_erase_node(g, n);
    return true;
}

static void test_fixpoint(void) {
    fa_graph *g = parse("graph @g(%x: f32[4]) {\n"
                        "  %a = neg(%x) : f32[4]\n"
                        "  %b = neg(%a) : f32[4]\n"
                        "  %c = neg(%b) : f32[4]\n"
                        "  %d = neg(%c) : f32[4]\n"
                        "  %e = relu(%d) : f32[4]\n"
                        "  return %e\n"
                        "}\n");
    const fa_pattern pats[] = {{"erase-dead", erase_dead}, {"double-neg", double_neg}};
    int fired = 0;
    bool changed = false;
    CHECK_OK(fa_rewrite_greedy(g, pats, 2, &fired, 0, &changed));
    CHECK(changed);
    CHECK(fired == 2);
    CHECK(fa_graph_num_nodes(g) == 1);
    CHECK(fa_graph_first_node(g)->op == FA_OP_RELU);
    CHECK(fa_graph_first_node(g)->operands[0] == fa_graph_input(g, 0));
    CHECK_OK(fa_graph_verify(g));
    /* Nothing left to do: unchanged, and two sweeps are enough. */
    changed = true;
    CHECK_OK(fa_rewrite_greedy(g, pats, 2, &fired, 1, &changed));
    CHECK(!changed);
    fa_graph_destroy(g);
}

/* Replaces relu by abs and abs by relu, forever. */
static bool flip(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)user;
    (void)out_status;
    if (n->op != FA_OP_RELU && n->op != FA_OP_ABS)
        return false;
    fa_node *m = fa_graph_create_node(g, n, n->op == FA_OP_RELU ? FA_OP_ABS : FA_OP_RELU,
                                      n->operands, 1, &n->results[0]->type, 1);
    fa_value_replace_uses(g, n->results[0], m->results[0]);
    fa_graph_erase_node(g, n);
    return true;
}

static void test_no_convergence(void) {
    fa_graph *g = parse("graph @g(%x: f32[4]) {\n  %y = relu(%x) : f32[4]\n  return %y\n}\n");
    const fa_pattern pats[] = {{"flip", flip}};
    bool changed = false;
    CHECK_ERROR(fa_rewrite_greedy(g, pats, 1, NULL, 4, &changed), "converge");
    CHECK(changed);
    fa_graph_destroy(g);
}

static bool fail_on_exp(fa_graph *g, fa_node *n, void *user, fa_status *out_status) {
    (void)g;
    (void)user;
    if (n->op != FA_OP_EXP)
        return false;
    *out_status = fa_status_make(FA_STATUS_UNSUPPORTED, "cannot rewrite exp");
    return true;
}

static void test_pattern_error(void) {
    fa_graph *g = parse("graph @g(%x: f32[4]) {\n  %y = exp(%x) : f32[4]\n  return %y\n}\n");
    const fa_pattern pats[] = {{"fail", fail_on_exp}};
    CHECK_ERROR(fa_rewrite_greedy(g, pats, 1, NULL, 0, NULL), "pattern 'fail': cannot rewrite exp");
    fa_graph_destroy(g);
}

static void test_registry(void) {
    CHECK(fa_pass_count() >= 3);
    for (unsigned i = 0; i < fa_pass_count(); i++) {
        const fa_pass *p = fa_pass_at(i);
        CHECK(p && p->name && p->summary && p->run);
        CHECK(fa_pass_find(p->name) == p);
        if (i > 0)
            CHECK(strcmp(fa_pass_at(i - 1)->name, p->name) < 0);
    }
    CHECK(fa_pass_at(fa_pass_count()) == NULL);
    CHECK(fa_pass_find("dce") && fa_pass_find("cse") && fa_pass_find("canonicalize"));
    CHECK(fa_pass_find("nope") == NULL);
    CHECK(strcmp(fa_property_name(FA_PROP_TYPES_INFERRED), "types-inferred") == 0);
}

static void test_pipeline(void) {
    fa_graph *g = parse("graph @g(%x: f32[4]) {\n"
                        "  %a = exp(%x) : f32[4]\n"
                        "  %b = exp(%x) : f32[4]\n"
                        "  %c = add(%a, %b) : f32[4]\n"
                        "  %d = neg(%c) : f32[4]\n"
                        "  return %c\n"
                        "}\n");
    /* Unknown names are reported before anything runs. */
    CHECK_ERROR(fa_pipeline_run(g, "cse,nope", NULL), "unknown pass 'nope'");
    CHECK(fa_graph_num_nodes(g) == 4);
    CHECK_ERROR(fa_pipeline_run(g, "cse,", NULL), "empty pass name");
    CHECK_OK(fa_pipeline_run(g, "", NULL));
    CHECK_OK(fa_pipeline_run(g, NULL, NULL));
    CHECK(fa_graph_num_nodes(g) == 4);
    /* Properties: canonicalize invalidates inferred types. */
    fa_pass_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.properties = FA_PROP_TYPES_INFERRED;
    ctx.verify_each = true;
    CHECK_OK(fa_pipeline_run(g, " cse , dce ", &ctx));
    CHECK(fa_graph_num_nodes(g) == 2);
    CHECK(ctx.properties == FA_PROP_TYPES_INFERRED);
    CHECK_OK(fa_pipeline_run(g, "canonicalize", &ctx));
    CHECK(ctx.properties == 0);
    fa_graph_destroy(g);
}

int main(void) {
    test_fixpoint();
    test_no_convergence();
    test_pattern_error();
    test_registry();
    test_pipeline();
    TEST_MAIN_END();
}
