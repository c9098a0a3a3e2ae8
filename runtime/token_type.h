/* Token-type rules (DESIGN.md, "Token types"): the small language of --token-type that says which
 * type (0..K-1, K <= 8) each token has, its parser, and its evaluation on a [B, T] token grid.
 * No IR dependency: the rule names a tensor, the caller finds it. */
#ifndef FA_RUNTIME_TOKEN_TYPE_H
#define FA_RUNTIME_TOKEN_TYPE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/tensor.h"

/* The most token types a rule may produce. */
#define FA_RT_TOKEN_TYPES_MAX 8
/* Longest input name a rule may hold, in bytes (the NUL excluded). */
#define FA_RT_TOKEN_RULE_NAME_MAX 255

typedef enum fa_rt_token_rule_kind {
    FA_RT_TOKEN_RULE_INPUT,    /* input:NAME  the tensor NAME [B,T] holds the type ids */
    FA_RT_TOKEN_RULE_EQUALS,   /* NAME==K     type 1 where NAME [B,T] equals K, else 0 */
    FA_RT_TOKEN_RULE_POSITION, /* position<N  type 1 at token positions t < N, else 0 */
} fa_rt_token_rule_kind;

/* A parsed rule; plain data, no ownership. */
typedef struct fa_rt_token_rule {
    fa_rt_token_rule_kind kind;
    char name[FA_RT_TOKEN_RULE_NAME_MAX + 1]; /* INPUT and EQUALS: the source tensor's name */
    int64_t value;                            /* EQUALS: K; POSITION: N (>= 1) */
} fa_rt_token_rule;

/* Parses |text| into |*out|. The grammar (spaces allowed around operators and at the ends):
 *   input:NAME    NAME: any non-empty text without spaces
 *   NAME==K       NAME: letters, digits, '_', '.', '/', '-', ':'; K: a decimal int64
 *   position<N    N: a decimal integer >= 1
 * ("position==K" names an input called "position"). On error the message has the form
 * "token-type rule 'TEXT': column C: WHAT", C counting bytes of |text| from 1, and |*out| is
 * unspecified. */
fa_status fa_rt_token_rule_parse(const char *text, fa_rt_token_rule *out);

/* Writes the rule in canonical form ("input:tt", "input_ids==256", "position<16") into |buf|
 * (truncated to |size|) and returns |buf|. */
const char *fa_rt_token_rule_format(const fa_rt_token_rule *r, char *buf, size_t size);

/* The name of the tensor the rule reads (lent from |r|), or NULL for a position rule. */
const char *fa_rt_token_rule_source(const fa_rt_token_rule *r);

/* How many types the rule can produce: 2 for EQUALS and POSITION, FA_RT_TOKEN_TYPES_MAX for
 * INPUT (the data decides which of them occur). */
unsigned fa_rt_token_rule_num_types(const fa_rt_token_rule *r);

/* Fills |out_types| (|batch| * |tokens| bytes, row-major [batch, tokens]) with each token's type.
 * |source| is the tensor named by the rule (ignored, may be NULL, for a position rule); it must be
 * an integer or bool tensor of shape exactly [batch, tokens]. Errors (FA_STATUS_INVALID_ARGUMENT)
 * name the tensor: missing source, wrong dtype or shape, and for INPUT a type id outside
 * 0..FA_RT_TOKEN_TYPES_MAX-1 (with its [b,t] position). |out_types| is unspecified on error. */
fa_status fa_rt_token_rule_eval(const fa_rt_token_rule *r, const fa_rt_tensor *source,
                                int64_t batch, int64_t tokens, uint8_t *out_types);

#endif
