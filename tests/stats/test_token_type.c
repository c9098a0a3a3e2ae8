/* Token-type rules (runtime/token_type.h): accepted forms, every parse error with its exact
 * message and column, canonical printing, and evaluation on small grids. */
#include <stdlib.h>

#include "runtime/token_type.h"
#include "tests/test_util.h"

/* Parses |text|, expecting success; returns the rule. */
static fa_rt_token_rule parse_ok(const char *text) {
    fa_rt_token_rule r;
    fa_status s = fa_rt_token_rule_parse(text, &r);
    if (s) {
        fprintf(stderr, "rule '%s' should parse: %s\n", text, fa_status_message(s));
        fa_status_free(s);
        test_failures++;
    }
    return r;
}

/* Expects |text| to fail with exactly |message|. */
static void parse_bad(const char *text, const char *message) {
    fa_rt_token_rule r;
    fa_status s = fa_rt_token_rule_parse(text, &r);
    if (!s || strcmp(fa_status_message(s), message) != 0) {
        fprintf(stderr, "rule '%s':\n  got      %s\n  expected %s\n", text,
                s ? fa_status_message(s) : "ok", message);
        test_failures++;
    }
    CHECK(!s || fa_status_code_of(s) == FA_STATUS_INVALID_ARGUMENT);
    fa_status_free(s);
}

static bool formats_as(const fa_rt_token_rule *r, const char *want) {
    char buf[300];
    return strcmp(fa_rt_token_rule_format(r, buf, sizeof buf), want) == 0;
}

static void test_parse_good(void) {
    fa_rt_token_rule r = parse_ok("input:tt");
    CHECK(r.kind == FA_RT_TOKEN_RULE_INPUT && !strcmp(r.name, "tt"));
    CHECK(!strcmp(fa_rt_token_rule_source(&r), "tt"));
    CHECK(fa_rt_token_rule_num_types(&r) == FA_RT_TOKEN_TYPES_MAX);
    CHECK(formats_as(&r, "input:tt"));

    r = parse_ok("input_ids==256");
    CHECK(r.kind == FA_RT_TOKEN_RULE_EQUALS && !strcmp(r.name, "input_ids") && r.value == 256);
    CHECK(fa_rt_token_rule_num_types(&r) == 2);
    CHECK(formats_as(&r, "input_ids==256"));

    r = parse_ok("  input_ids == 256 ");
    CHECK(r.kind == FA_RT_TOKEN_RULE_EQUALS && r.value == 256 && formats_as(&r, "input_ids==256"));

    r = parse_ok("position<16");
    CHECK(r.kind == FA_RT_TOKEN_RULE_POSITION && r.value == 16);
    CHECK(fa_rt_token_rule_source(&r) == NULL && fa_rt_token_rule_num_types(&r) == 2);
    CHECK(formats_as(&r, "position<16"));

    r = parse_ok("position < 1");
    CHECK(r.kind == FA_RT_TOKEN_RULE_POSITION && r.value == 1);

    r = parse_ok("position==3"); /* an input that happens to be called position */
    CHECK(r.kind == FA_RT_TOKEN_RULE_EQUALS && !strcmp(r.name, "position") && r.value == 3);

    r = parse_ok("a/b.c:0-x==-1");
    CHECK(r.kind == FA_RT_TOKEN_RULE_EQUALS && !strcmp(r.name, "a/b.c:0-x") && r.value == -1);

    r = parse_ok("x==9223372036854775807");
    CHECK(r.value == INT64_MAX);

    r = parse_ok("input: types");
    CHECK(r.kind == FA_RT_TOKEN_RULE_INPUT && !strcmp(r.name, "types"));
}

static void test_parse_bad(void) {
    parse_bad("", "token-type rule '': column 1: empty rule; expected input:NAME, NAME==K or "
                  "position<N");
    parse_bad("   ", "token-type rule '   ': column 4: empty rule; expected input:NAME, NAME==K "
                     "or position<N");
    parse_bad("input_ids=256",
              "token-type rule 'input_ids=256': column 10: '=' is not an operator; write '=='");
    parse_bad("input_ids",
              "token-type rule 'input_ids': column 10: expected '==' or '<' after 'input_ids'");
    parse_bad("input_ids>3", "token-type rule 'input_ids>3': column 10: expected '==' or '<' "
                             "after 'input_ids', found '>'");
    parse_bad("input_ids==",
              "token-type rule 'input_ids==': column 12: expected an integer after '=='");
    parse_bad("input_ids==abc",
              "token-type rule 'input_ids==abc': column 12: expected an integer after '=='");
    parse_bad("input_ids == 25x",
              "token-type rule 'input_ids == 25x': column 16: unexpected 'x' after the rule");
    parse_bad("input_ids==99999999999999999999",
              "token-type rule 'input_ids==99999999999999999999': column 12: integer out of "
              "range");
    parse_bad("input:", "token-type rule 'input:': column 7: expected an input name after "
                        "'input:'");
    parse_bad("input:tt extra",
              "token-type rule 'input:tt extra': column 10: unexpected 'extra' after the rule");
    parse_bad("input:x==3", "token-type rule 'input:x==3': column 8: unexpected '==3' after the "
                            "rule");
    parse_bad("pos<16", "token-type rule 'pos<16': column 4: '<' applies only to position "
                        "(position<N); compare an input with NAME==K");
    parse_bad("position<0", "token-type rule 'position<0': column 10: position<N needs N >= 1");
    parse_bad("position<-3",
              "token-type rule 'position<-3': column 10: expected an integer after '<'");
    parse_bad("position<", "token-type rule 'position<': column 10: expected an integer after "
                           "'<'");
    parse_bad("==3", "token-type rule '==3': column 1: expected input:NAME, NAME==K or "
                     "position<N, found '='");

    char long_rule[300];
    memset(long_rule, 'a', 256);
    strcpy(long_rule + 256, "==1");
    fa_rt_token_rule r;
    CHECK_ERROR(fa_rt_token_rule_parse(long_rule, &r), "column 1: name longer than 255 bytes");
}

static fa_rt_tensor view2(fa_dtype dt, int64_t b, int64_t t, const void *data, uint64_t esize) {
    int64_t dims[2] = {b, t};
    return fa_rt_tensor_view(dt, 2, dims, data, (uint64_t)(b * t) * esize);
}

static void test_eval(void) {
    uint8_t out[8];
    fa_rt_token_rule r = parse_ok("position<2");
    CHECK_OK(fa_rt_token_rule_eval(&r, NULL, 2, 3, out));
    uint8_t want_pos[6] = {1, 1, 0, 1, 1, 0};
    CHECK(!memcmp(out, want_pos, 6));

    int64_t ids[6] = {5, 256, 256, 7, 0, 256};
    fa_rt_tensor src = view2(FA_DT_I64, 2, 3, ids, 8);
    r = parse_ok("input_ids==256");
    CHECK_OK(fa_rt_token_rule_eval(&r, &src, 2, 3, out));
    uint8_t want_eq[6] = {0, 1, 1, 0, 0, 1};
    CHECK(!memcmp(out, want_eq, 6));
    CHECK_ERROR(fa_rt_token_rule_eval(&r, &src, 1, 6, out),
                "token types: 'input_ids' is i64[2,3]; expected [1,6] (batch, tokens)");
    CHECK_ERROR(fa_rt_token_rule_eval(&r, NULL, 2, 3, out),
                "token types: no tensor 'input_ids' given");
    float f[6] = {0};
    fa_rt_tensor fsrc = view2(FA_DT_F32, 2, 3, f, 4);
    CHECK_ERROR(fa_rt_token_rule_eval(&r, &fsrc, 2, 3, out),
                "token types: 'input_ids' is f32; the rule needs integer or bool values");

    uint8_t tt[4] = {0, 3, 7, 2};
    fa_rt_tensor tsrc = view2(FA_DT_U8, 1, 4, tt, 1);
    r = parse_ok("input:tt");
    CHECK_OK(fa_rt_token_rule_eval(&r, &tsrc, 1, 4, out));
    CHECK(!memcmp(out, tt, 4));
    tt[2] = 8;
    CHECK_ERROR(fa_rt_token_rule_eval(&r, &tsrc, 1, 4, out),
                "token types: 'tt' has type 8 at [0,2], outside 0..7");
    int32_t neg[2] = {1, -1};
    fa_rt_tensor nsrc = view2(FA_DT_I32, 2, 1, neg, 4);
    CHECK_ERROR(fa_rt_token_rule_eval(&r, &nsrc, 2, 1, out),
                "token types: 'tt' has type -1 at [1,0], outside 0..7");
}

int main(void) {
    test_parse_good();
    test_parse_bad();
    test_eval();
    TEST_MAIN_END();
}
