/* Shape rules for the ops of ir/ops.def: result types from operand types and attributes.
 * Rules are conservative: a dim that cannot be known is FA_DIM_UNKNOWN, never a guess. */
#include "ir/shape_rules.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

fa_type fa_shape_unknown_type(fa_dtype dt) {
    fa_type t;
    memset(&t, 0, sizeof t);
    t.dtype = dt;
    t.rank = -1;
    return t;
}

const fa_type *fa_shape_operand_type(const fa_node *n, uint32_t i) {
    return i < n->num_operands && n->operands[i] ? &n->operands[i]->type : NULL;
}

/* One broadcast dim: equal dims stay, 1 yields to the other, unknown wins over a symbol. */
static fa_status broadcast_dim(fa_dim a, fa_dim b, fa_dim *out) {
    if (fa_dim_equal(a, b) || (!b.sym && b.value == 1)) {
        *out = a;
        return FA_OK;
    }
    if (!a.sym && a.value == 1) {
        *out = b;
        return FA_OK;
    }
    if (fa_dim_is_static(a) && fa_dim_is_static(b))
        return fa_status_make(FA_STATUS_VERIFY, "cannot broadcast dims %lld and %lld",
                              (long long)a.value, (long long)b.value);
    /* One is static (not 1) and the other symbolic or unknown: the static one must win at run
     * time if the program is valid. Two different symbols: unknown. */
    if (fa_dim_is_static(a) && a.value != 1) {
        *out = a;
    } else if (fa_dim_is_static(b) && b.value != 1) {
        *out = b;
    } else {
        out->sym = NULL;
        out->value = FA_DIM_UNKNOWN;
    }
    return FA_OK;
}

fa_status fa_shape_broadcast(const fa_type *a, const fa_type *b, fa_type *out) {
    if (a->rank < 0 || b->rank < 0) {
        *out = fa_shape_unknown_type(a->dtype);
        return FA_OK;
    }
    int rank = a->rank > b->rank ? a->rank : b->rank;
    fa_type t = fa_shape_unknown_type(a->dtype);
    t.rank = rank;
    for (int i = 0; i < rank; i++) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        fa_dim one = {1, NULL};
        fa_dim da = ia >= 0 ? a->dims[ia] : one, db = ib >= 0 ? b->dims[ib] : one;
        FA_TRY(broadcast_dim(da, db, &t.dims[i]));
    }
    *out = t;
    return FA_OK;
}

fa_status fa_rule_shape_same(const fa_node *n, fa_type *out) {
    const fa_type *t = fa_shape_operand_type(n, 0);
    out[0] = t ? *t : fa_shape_unknown_type(FA_DT_INVALID);
    return FA_OK;
}

/* Broadcast over every present operand; dtype of operand 0. With |same_dtype|, all operands
 * must share it. */
static fa_status broadcast_all(const fa_node *n, bool same_dtype, fa_type *out) {
    const fa_type *first = fa_shape_operand_type(n, 0);
    if (!first)
        return fa_status_make(FA_STATUS_VERIFY, "operand 0 is missing");
    fa_type acc = *first;
    for (uint32_t i = 1; i < n->num_operands; i++) {
        const fa_type *t = fa_shape_operand_type(n, i);
        if (!t)
            return fa_status_make(FA_STATUS_VERIFY, "operand %u is missing", i);
        if (same_dtype && t->dtype != first->dtype)
            return fa_status_make(FA_STATUS_VERIFY, "operand %u has dtype %s, expected %s", i,
                                  fa_dtype_name(t->dtype), fa_dtype_name(first->dtype));
        FA_TRY(fa_shape_broadcast(&acc, t, &acc));
    }
    out[0] = acc;
    return FA_OK;
}

fa_status fa_rule_shape_broadcast(const fa_node *n, fa_type *out) {
    return broadcast_all(n, true, out);
}

fa_status fa_rule_shape_broadcast_lhs_dtype(const fa_node *n, fa_type *out) {
    return broadcast_all(n, false, out);
}

fa_status fa_rule_shape_compare(const fa_node *n, fa_type *out) {
    FA_TRY(broadcast_all(n, true, out));
    out[0].dtype = FA_DT_BOOL;
    return FA_OK;
}

fa_status fa_rule_shape_where(const fa_node *n, fa_type *out) {
    const fa_type *c = fa_shape_operand_type(n, 0), *x = fa_shape_operand_type(n, 1), *y = fa_shape_operand_type(n, 2);
    if (!c || !x || !y)
        return fa_status_make(FA_STATUS_VERIFY, "where needs three operands");
    if (c->dtype != FA_DT_BOOL)
        return fa_status_make(FA_STATUS_VERIFY, "condition has dtype %s, expected bool",
                              fa_dtype_name(c->dtype));
    if (x->dtype != y->dtype)
        return fa_status_make(FA_STATUS_VERIFY, "branches have dtypes %s and %s",
                              fa_dtype_name(x->dtype), fa_dtype_name(y->dtype));
    fa_type t;
    FA_TRY(fa_shape_broadcast(c, x, &t));
    FA_TRY(fa_shape_broadcast(&t, y, &t));
    t.dtype = x->dtype;
    out[0] = t;
    return FA_OK;
}

fa_status fa_rule_shape_cast(const fa_node *n, fa_type *out) {
    FA_TRY(fa_rule_shape_same(n, out));
    const fa_attr *to = fa_node_attr(n, "to");
    if (!to || to->kind != FA_ATTR_INT)
        return fa_status_make(FA_STATUS_VERIFY, "cast needs an int attribute 'to'");
    /* 'to' holds a freeact dtype (the importer maps ONNX's TensorProto codes). */
    if (to->u.i <= FA_DT_INVALID || to->u.i >= FA_DT_COUNT)
        return fa_status_make(FA_STATUS_VERIFY, "cast 'to' = %lld is not a dtype",
                              (long long)to->u.i);
    out[0].dtype = (fa_dtype)to->u.i;
    return FA_OK;
}

/* numpy matmul: 1-D operands are promoted and the added dim removed afterwards; batch dims
 * broadcast. */
fa_status fa_rule_shape_matmul(const fa_node *n, fa_type *out) {
    const fa_type *a = fa_shape_operand_type(n, 0), *b = fa_shape_operand_type(n, 1);
    if (!a || !b)
        return fa_status_make(FA_STATUS_VERIFY, "matmul needs two operands");
    if (a->dtype != b->dtype)
        return fa_status_make(FA_STATUS_VERIFY, "operands have dtypes %s and %s",
                              fa_dtype_name(a->dtype), fa_dtype_name(b->dtype));
    if (a->rank < 0 || b->rank < 0) {
        out[0] = fa_shape_unknown_type(a->dtype);
        return FA_OK;
    }
    if (a->rank == 0 || b->rank == 0)
        return fa_status_make(FA_STATUS_VERIFY, "matmul operands must have rank >= 1");
    fa_dim one = {1, NULL};
    fa_type ea = *a, eb = *b;
    if (a->rank == 1) {
        ea.rank = 2;
        ea.dims[1] = a->dims[0];
        ea.dims[0] = one;
    }
    if (b->rank == 1) {
        eb.rank = 2;
        eb.dims[0] = b->dims[0];
        eb.dims[1] = one;
    }
    fa_dim k1 = ea.dims[ea.rank - 1], k2 = eb.dims[eb.rank - 2];
    if (fa_dim_is_static(k1) && fa_dim_is_static(k2) && k1.value != k2.value)
        return fa_status_make(FA_STATUS_VERIFY, "inner dims differ: %lld vs %lld",
                              (long long)k1.value, (long long)k2.value);
    fa_type ba = ea, bb = eb, t;
    ba.rank -= 2;
    bb.rank -= 2;
    FA_TRY(fa_shape_broadcast(&ba, &bb, &t));
    if (t.rank + 2 > FA_MAX_RANK)
        return fa_status_make(FA_STATUS_VERIFY, "rank exceeds %d", FA_MAX_RANK);
    t.dims[t.rank++] = ea.dims[ea.rank - 2];
    t.dims[t.rank++] = eb.dims[eb.rank - 1];
    if (b->rank == 1)
        t.rank--;
    if (a->rank == 1) {
        t.dims[t.rank - (b->rank == 1 ? 1 : 2)] = t.dims[t.rank - 1];
        t.rank--;
    }
    t.dtype = a->dtype;
    out[0] = t;
    return FA_OK;
}

/* ---- freeact ops ---- */

/* False only when both dims are static and differ, or are different symbols. */
static bool dims_may_match(fa_dim a, fa_dim b) {
    if (fa_dim_is_static(a) && fa_dim_is_static(b))
        return a.value == b.value;
    if (a.sym && b.sym)
        return a.sym == b.sym;
    return true;
}

static fa_status check_dtype(const fa_type *t, fa_dtype want, const char *what) {
    if (t->dtype != want)
        return fa_status_make(FA_STATUS_VERIFY, "%s has dtype %s, expected %s", what,
                              fa_dtype_name(t->dtype), fa_dtype_name(want));
    return FA_OK;
}

/* linear(x [..., K], w [N, K], [bias [N]]) -> [..., N]. */
fa_status fa_rule_shape_linear(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0), *w = fa_shape_operand_type(n, 1),
                  *b = fa_shape_operand_type(n, 2);
    if (!x || !w)
        return fa_status_make(FA_STATUS_VERIFY, "linear needs x and w");
    FA_TRY(check_dtype(w, x->dtype, "w"));
    if (b)
        FA_TRY(check_dtype(b, x->dtype, "bias"));
    if (x->rank == 0)
        return fa_status_make(FA_STATUS_VERIFY, "x must have rank >= 1");
    if (w->rank >= 0 && w->rank != 2)
        return fa_status_make(FA_STATUS_VERIFY, "w must have rank 2 ([N, K]), not %d", w->rank);
    if (b && b->rank >= 0 && b->rank != 1)
        return fa_status_make(FA_STATUS_VERIFY, "bias must have rank 1 ([N]), not %d", b->rank);
    fa_dim unknown = {FA_DIM_UNKNOWN, NULL};
    fa_dim nd = w->rank == 2 ? w->dims[0] : unknown;
    if (w->rank == 2 && x->rank > 0 && !dims_may_match(x->dims[x->rank - 1], w->dims[1]))
        return fa_status_make(FA_STATUS_VERIFY, "x's last dim does not match w's K");
    if (b && b->rank == 1 && !dims_may_match(b->dims[0], nd))
        return fa_status_make(FA_STATUS_VERIFY, "bias does not match w's N");
    if (x->rank < 0) {
        out[0] = fa_shape_unknown_type(x->dtype);
        return FA_OK;
    }
    out[0] = *x;
    out[0].dims[x->rank - 1] = nd;
    return FA_OK;
}

/* Checks the optional scale/shift operand |i| of a norm: x's dtype, rank at most |tail| (the
 * normalized dims), each dim x's or (with |broadcast|) 1. */
static fa_status check_norm_param(const fa_node *n, uint32_t i, const char *what, int tail,
                                  bool broadcast) {
    const fa_type *x = fa_shape_operand_type(n, 0), *p = fa_shape_operand_type(n, i);
    if (!p)
        return FA_OK;
    FA_TRY(check_dtype(p, x->dtype, what));
    if (p->rank < 0 || x->rank < 0)
        return FA_OK;
    if (p->rank > tail)
        return fa_status_make(FA_STATUS_VERIFY, "%s has rank %d, more than the %d normalized dims",
                              what, p->rank, tail);
    for (int k = 0; k < p->rank; k++) {
        fa_dim d = p->dims[k];
        if (!(broadcast && fa_dim_is_static(d) && d.value == 1) &&
            !dims_may_match(d, x->dims[x->rank - p->rank + k]))
            return fa_status_make(FA_STATUS_VERIFY, "%s does not match the normalized dims", what);
    }
    return FA_OK;
}

/* Normalized axis of a norm in [0, rank), or an error; *out = -1 if the rank is unknown. */
static fa_status norm_first_axis(const fa_node *n, const fa_type *x, int *out) {
    int64_t axis = fa_node_attr_int(n, "axis", -1);
    *out = -1;
    if (x->rank < 0)
        return FA_OK;
    if (axis < -x->rank || axis >= x->rank)
        return fa_status_make(FA_STATUS_VERIFY, "axis %lld is out of range for rank %d",
                              (long long)axis, x->rank);
    *out = (int)(axis < 0 ? axis + x->rank : axis);
    return FA_OK;
}

static fa_status norm_common(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    if (!x)
        return fa_status_make(FA_STATUS_VERIFY, "operand 0 is missing");
    if (!fa_dtype_is_float(x->dtype))
        return fa_status_make(FA_STATUS_VERIFY, "x has dtype %s, expected a float dtype",
                              fa_dtype_name(x->dtype));
    out[0] = *x;
    return FA_OK;
}

/* rms_norm: the last axis only; gamma exactly [d]. */
fa_status fa_rule_shape_rms_norm(const fa_node *n, fa_type *out) {
    FA_TRY(norm_common(n, out));
    const fa_type *x = fa_shape_operand_type(n, 0), *g = fa_shape_operand_type(n, 1);
    int ax;
    FA_TRY(norm_first_axis(n, x, &ax));
    if (ax >= 0 && ax != x->rank - 1)
        return fa_status_make(FA_STATUS_VERIFY,
                              "rms_norm supports only the last axis (-1), not %lld",
                              (long long)fa_node_attr_int(n, "axis", -1));
    if (ax < 0 && fa_node_attr_int(n, "axis", -1) != -1)
        return fa_status_make(FA_STATUS_VERIFY, "rms_norm supports only the last axis (-1)");
    if (g && g->rank >= 0 && g->rank != 1)
        return fa_status_make(FA_STATUS_VERIFY, "gamma must have rank 1 ([d]), not %d", g->rank);
    return check_norm_param(n, 1, "gamma", 1, false);
}

/* layer_norm: dims [axis, rank); gamma and beta broadcast to them. */
fa_status fa_rule_shape_layer_norm(const fa_node *n, fa_type *out) {
    FA_TRY(norm_common(n, out));
    const fa_type *x = fa_shape_operand_type(n, 0);
    int ax;
    FA_TRY(norm_first_axis(n, x, &ax));
    int tail = ax >= 0 ? x->rank - ax : FA_MAX_RANK;
    FA_TRY(check_norm_param(n, 1, "gamma", tail, true));
    return check_norm_param(n, 2, "beta", tail, true);
}

/* swiglu(g, u): both f32 of one rank, dims that may be equal (no broadcasting); the result takes
 * each dim from whichever side knows more. */
fa_status fa_rule_shape_swiglu(const fa_node *n, fa_type *out) {
    const fa_type *g = fa_shape_operand_type(n, 0), *u = fa_shape_operand_type(n, 1);
    if (!g || !u)
        return fa_status_make(FA_STATUS_VERIFY, "swiglu needs g and u");
    FA_TRY(check_dtype(g, FA_DT_F32, "g"));
    FA_TRY(check_dtype(u, FA_DT_F32, "u"));
    out[0] = *g;
    if (g->rank < 0 || u->rank < 0) {
        if (g->rank < 0)
            out[0] = *u;
        return FA_OK;
    }
    if (g->rank != u->rank)
        return fa_status_make(FA_STATUS_VERIFY, "g and u have ranks %d and %d (no broadcasting)",
                              g->rank, u->rank);
    for (int i = 0; i < g->rank; i++) {
        fa_dim a = g->dims[i], b = u->dims[i];
        if (!dims_may_match(a, b))
            return fa_status_make(FA_STATUS_VERIFY, "g and u differ in dim %d (no broadcasting)",
                                  i);
        if (!fa_dim_is_static(a) && (fa_dim_is_static(b) || (!a.sym && b.sym)))
            out[0].dims[i] = b;
    }
    return FA_OK;
}

/* gelu(x) {approximate}: f32, approximate "none" or "tanh" when present; y has x's type. */
fa_status fa_rule_shape_gelu(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0);
    if (!x)
        return fa_status_make(FA_STATUS_VERIFY, "operand 0 is missing");
    FA_TRY(check_dtype(x, FA_DT_F32, "x"));
    const fa_attr *a = fa_node_attr(n, "approximate");
    bool known = a && a->kind == FA_ATTR_STRING &&
                 (strcmp(a->u.s, "none") == 0 || strcmp(a->u.s, "tanh") == 0);
    if (a && !known)
        return fa_status_make(FA_STATUS_VERIFY, "approximate must be \"none\" or \"tanh\"");
    out[0] = *x;
    return FA_OK;
}

/* rope(x, cos, sin) {interleaved}: f32, the broadcast of the three; interleaved 0 or 1, and with
 * interleaved 1 a static last dim of x must be even. */
fa_status fa_rule_shape_rope(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0), *c = fa_shape_operand_type(n, 1),
                  *s = fa_shape_operand_type(n, 2);
    if (!x || !c || !s)
        return fa_status_make(FA_STATUS_VERIFY, "rope needs x, cos and sin");
    FA_TRY(check_dtype(x, FA_DT_F32, "x"));
    FA_TRY(check_dtype(c, FA_DT_F32, "cos"));
    FA_TRY(check_dtype(s, FA_DT_F32, "sin"));
    const fa_attr *a = fa_node_attr(n, "interleaved");
    int64_t il = fa_node_attr_int(n, "interleaved", 0);
    if (a && (a->kind != FA_ATTR_INT || (il != 0 && il != 1)))
        return fa_status_make(FA_STATUS_VERIFY, "interleaved must be 0 or 1");
    if (il && x->rank >= 1 && fa_dim_is_static(x->dims[x->rank - 1]) &&
        x->dims[x->rank - 1].value % 2 != 0)
        return fa_status_make(FA_STATUS_VERIFY, "interleaved rope needs an even last dim, not %lld",
                              (long long)x->dims[x->rank - 1].value);
    if (x->rank == 0)
        return fa_status_make(FA_STATUS_VERIFY, "x must have rank >= 1");
    fa_type t;
    FA_TRY(fa_shape_broadcast(x, c, &t));
    FA_TRY(fa_shape_broadcast(&t, s, &t));
    out[0] = t;
    return FA_OK;
}

/* ---- quantized graph: token_type, routed_transform, quantize, qlinear, dequantize ---- */

static bool is_rule_space(char c) { return c == ' ' || c == '\t'; }

static bool is_rule_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '/' || c == '-' || c == ':';
}

/* Skips a decimal integer (a leading '-' if |negative_ok|) that fits int64; NULL if none. */
static const char *skip_rule_int(const char *p, bool negative_ok) {
    const char *start = p;
    if (*p == '-' && negative_ok)
        p++;
    if (*p < '0' || *p > '9')
        return NULL;
    while (*p >= '0' && *p <= '9')
        p++;
    char buf[32];
    size_t len = (size_t)(p - start);
    if (len >= sizeof buf)
        return NULL;
    memcpy(buf, start, len);
    buf[len] = '\0';
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE || (!negative_ok && v < 1))
        return NULL;
    return p;
}

/* Whether |text| is a token-type rule, with the grammar of fa_rt_token_rule_parse
 * (runtime/token_type.h, which the IR cannot link; tests/runtime/test_qops.c checks that the two
 * agree): "input:NAME", "NAME==K" or "position<N" (N >= 1), spaces around operators and at the
 * ends. |*out_position| tells whether it is a position rule. */
static bool token_rule_is_valid(const char *text, bool *out_position) {
    const char *p = text;
    *out_position = false;
    while (is_rule_space(*p))
        p++;
    bool input = strncmp(p, "input:", 6) == 0;
    if (input)
        for (p += 6; is_rule_space(*p);)
            p++;
    const char *name = p;
    while (is_rule_name_char(*p))
        p++;
    size_t len = (size_t)(p - name);
    if (len == 0 || len > 255)
        return false;
    if (!input) {
        while (is_rule_space(*p))
            p++;
        if (p[0] == '=' && p[1] == '=') {
            for (p += 2; is_rule_space(*p);)
                p++;
            p = skip_rule_int(p, true);
        } else if (p[0] == '<' && len == 8 && strncmp(name, "position", 8) == 0) {
            for (p += 1; is_rule_space(*p);)
                p++;
            p = skip_rule_int(p, false);
            *out_position = true;
        } else {
            return false;
        }
        if (!p)
            return false;
    }
    while (is_rule_space(*p))
        p++;
    return *p == '\0';
}

/* token_type(src) {rule} -> u8 [src.dims[0], src.dims[1]]. */
fa_status fa_rule_shape_token_type(const fa_node *n, fa_type *out) {
    const fa_type *src = fa_shape_operand_type(n, 0);
    const char *rule = fa_node_attr_string(n, "rule", NULL);
    if (!src)
        return fa_status_make(FA_STATUS_VERIFY, "token_type needs a source operand");
    if (!rule)
        return fa_status_make(FA_STATUS_VERIFY, "token_type needs a string attribute 'rule'");
    bool position;
    if (!token_rule_is_valid(rule, &position))
        return fa_status_make(FA_STATUS_VERIFY,
                              "rule '%s' is not a token-type rule (input:NAME, NAME==K or "
                              "position<N)",
                              rule);
    if (src->rank >= 0 && src->rank < 2)
        return fa_status_make(FA_STATUS_VERIFY, "source has rank %d, expected >= 2 ([B, T, ...])",
                              src->rank);
    if (!position) {
        if (!fa_dtype_is_int(src->dtype) && src->dtype != FA_DT_BOOL)
            return fa_status_make(FA_STATUS_VERIFY,
                                  "source has dtype %s, rule '%s' needs an integer or bool [B, T]",
                                  fa_dtype_name(src->dtype), rule);
        if (src->rank > 2)
            return fa_status_make(FA_STATUS_VERIFY, "source has rank %d, rule '%s' needs [B, T]",
                                  src->rank, rule);
    }
    fa_type t = fa_shape_unknown_type(FA_DT_U8);
    t.rank = 2;
    for (int i = 0; i < 2; i++) {
        t.dims[i].sym = src->rank >= 2 ? src->dims[i].sym : NULL;
        t.dims[i].value = src->rank >= 2 ? src->dims[i].value : FA_DIM_UNKNOWN;
    }
    out[0] = t;
    return FA_OK;
}

/* Checks that the optional per-token operand |i| (u8 token types) has x's dims but the last. */
static fa_status check_token_operand(const fa_node *n, uint32_t i, const fa_type *x) {
    const fa_type *tt = fa_shape_operand_type(n, i);
    if (!tt)
        return FA_OK;
    FA_TRY(check_dtype(tt, FA_DT_U8, "tt"));
    if (tt->rank < 0 || x->rank < 0)
        return FA_OK;
    bool ok = tt->rank == x->rank - 1;
    for (int k = 0; ok && k < tt->rank; k++)
        ok = dims_may_match(tt->dims[k], x->dims[k]);
    if (!ok) {
        char a[128], b[128];
        fa_type_format(tt, a, sizeof a);
        fa_type_format(x, b, sizeof b);
        return fa_status_make(FA_STATUS_VERIFY, "tt %s does not match x %s without its last dim", a,
                              b);
    }
    return FA_OK;
}

/* Number of token types |k| (a static dim) must be in 1..8. */
static fa_status check_num_types(fa_dim k, const char *what) {
    if (fa_dim_is_static(k) && (k.value < 1 || k.value > 8))
        return fa_status_make(FA_STATUS_VERIFY, "%s holds %lld token types, expected 1 to 8", what,
                              (long long)k.value);
    return FA_OK;
}

/* routed_transform(x, tt | none, a [K, d, d]) -> x's type. */
fa_status fa_rule_shape_routed_transform(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0), *a = fa_shape_operand_type(n, 2);
    if (n->num_operands != 3 || !x || !a)
        return fa_status_make(FA_STATUS_VERIFY,
                              "routed_transform needs 3 operands (x, tt or none, a)");
    FA_TRY(check_dtype(x, FA_DT_F32, "x"));
    FA_TRY(check_dtype(a, FA_DT_F32, "a"));
    if (x->rank >= 0 && x->rank < 2)
        return fa_status_make(FA_STATUS_VERIFY, "x has rank %d, expected >= 2", x->rank);
    FA_TRY(check_token_operand(n, 1, x));
    if (a->rank >= 0 && a->rank != 3)
        return fa_status_make(FA_STATUS_VERIFY, "a must have rank 3 ([K, d, d]), not %d", a->rank);
    if (a->rank == 3) {
        FA_TRY(check_num_types(a->dims[0], "a"));
        if (!dims_may_match(a->dims[1], a->dims[2]) ||
            (x->rank > 0 && !dims_may_match(a->dims[1], x->dims[x->rank - 1])))
            return fa_status_make(FA_STATUS_VERIFY, "a must be [K, d, d] with d x's last dim");
        const fa_attr *kinds = fa_node_attr(n, "kinds");
        if (kinds && kinds->kind == FA_ATTR_STRINGS && fa_dim_is_static(a->dims[0]) &&
            kinds->u.strings.n != a->dims[0].value)
            return fa_status_make(FA_STATUS_VERIFY, "kinds has %u entries, a holds %lld transforms",
                                  kinds->u.strings.n, (long long)a->dims[0].value);
    }
    out[0] = *x;
    return FA_OK;
}

/* codes, scales = quantize(x, [tt], [clip [K]]) {bits}. */
fa_status fa_rule_shape_quantize(const fa_node *n, fa_type *out) {
    const fa_type *x = fa_shape_operand_type(n, 0), *clip = fa_shape_operand_type(n, 2);
    if (!x)
        return fa_status_make(FA_STATUS_VERIFY, "operand 0 is missing");
    FA_TRY(check_dtype(x, FA_DT_F32, "x"));
    int64_t bits = fa_node_attr_int(n, "bits", 0);
    if (bits != 4 && bits != 8)
        return fa_status_make(FA_STATUS_VERIFY, "bits = %lld, expected 4 or 8", (long long)bits);
    if (x->rank == 0)
        return fa_status_make(FA_STATUS_VERIFY, "x must have rank >= 1");
    FA_TRY(check_token_operand(n, 1, x));
    if (clip) {
        FA_TRY(check_dtype(clip, FA_DT_F32, "clip"));
        if (clip->rank >= 0 && clip->rank != 1)
            return fa_status_make(FA_STATUS_VERIFY, "clip must have rank 1 ([K]), not %d",
                                  clip->rank);
        if (clip->rank == 1)
            FA_TRY(check_num_types(clip->dims[0], "clip"));
    }
    out[0] = *x;
    out[0].dtype = FA_DT_I8;
    out[1] = *x;
    if (x->rank > 0) {
        out[1].dims[x->rank - 1].sym = NULL;
        out[1].dims[x->rank - 1].value = 1;
    }
    return FA_OK;
}

/* Weight operands of qlinear / dequantize: wq i8 or i4 [N, K], wscale f32 [N, G] as |group|
 * says; K must match |k| (unknown if NULL). Sets *out_n to N (or unknown). */
static fa_status check_qweight(const fa_node *n, uint32_t iw, const fa_dim *k, fa_dim *out_n) {
    const fa_type *wq = fa_shape_operand_type(n, iw), *ws = fa_shape_operand_type(n, iw + 1);
    out_n->sym = NULL;
    out_n->value = FA_DIM_UNKNOWN;
    if (!wq || !ws)
        return fa_status_make(FA_STATUS_VERIFY, "wq and wscale are required");
    if (wq->dtype != FA_DT_I8 && wq->dtype != FA_DT_I4)
        return fa_status_make(FA_STATUS_VERIFY, "wq has dtype %s, expected i8 or i4",
                              fa_dtype_name(wq->dtype));
    FA_TRY(check_dtype(ws, FA_DT_F32, "wscale"));
    if (wq->rank >= 0 && wq->rank != 2)
        return fa_status_make(FA_STATUS_VERIFY, "wq must have rank 2 ([N, K]), not %d", wq->rank);
    if (ws->rank >= 0 && ws->rank != 2)
        return fa_status_make(FA_STATUS_VERIFY, "wscale must have rank 2 ([N, G]), not %d",
                              ws->rank);
    int64_t group = fa_node_attr_int(n, "group", 0);
    if (group < 0)
        return fa_status_make(FA_STATUS_VERIFY, "group = %lld, expected >= 0", (long long)group);
    if (wq->rank != 2)
        return FA_OK;
    *out_n = wq->dims[0];
    fa_dim kd = wq->dims[1];
    if (k && !dims_may_match(*k, kd))
        return fa_status_make(FA_STATUS_VERIFY, "codes' last dim does not match wq's K");
    if (group > 0 && fa_dim_is_static(kd) && kd.value % group != 0)
        return fa_status_make(FA_STATUS_VERIFY, "group %lld does not divide K = %lld",
                              (long long)group, (long long)kd.value);
    if (ws->rank != 2)
        return FA_OK;
    if (!dims_may_match(ws->dims[0], wq->dims[0]))
        return fa_status_make(FA_STATUS_VERIFY, "wscale's N does not match wq's");
    fa_dim g = ws->dims[1];
    if (fa_dim_is_static(g)) {
        if (group == 0 && g.value != 1)
            return fa_status_make(FA_STATUS_VERIFY,
                                  "wscale has %lld groups, expected 1 (per output channel)",
                                  (long long)g.value);
        if (group > 0 && fa_dim_is_static(kd) && g.value != kd.value / group)
            return fa_status_make(FA_STATUS_VERIFY,
                                  "wscale has %lld groups, expected K / group = %lld",
                                  (long long)g.value, (long long)(kd.value / group));
    }
    return FA_OK;
}

/* qlinear(codes [..., K], scales [..., 1], wq, wscale, [bias [N]]) -> f32 [..., N]. */
fa_status fa_rule_shape_qlinear(const fa_node *n, fa_type *out) {
    const fa_type *c = fa_shape_operand_type(n, 0), *s = fa_shape_operand_type(n, 1),
                  *b = fa_shape_operand_type(n, 4);
    if (!c || !s)
        return fa_status_make(FA_STATUS_VERIFY, "qlinear needs codes and scales");
    FA_TRY(check_dtype(c, FA_DT_I8, "codes"));
    FA_TRY(check_dtype(s, FA_DT_F32, "scales"));
    if (c->rank == 0)
        return fa_status_make(FA_STATUS_VERIFY, "codes must have rank >= 1");
    if (c->rank > 0 && s->rank >= 0) {
        bool ok = s->rank == c->rank;
        for (int k = 0; ok && k + 1 < c->rank; k++)
            ok = dims_may_match(s->dims[k], c->dims[k]);
        fa_dim one = {1, NULL};
        if (!ok || !dims_may_match(s->dims[s->rank - 1], one))
            return fa_status_make(FA_STATUS_VERIFY, "scales must be codes' shape with last dim 1");
    }
    fa_dim nd;
    FA_TRY(check_qweight(n, 2, c->rank > 0 ? &c->dims[c->rank - 1] : NULL, &nd));
    if (b) {
        FA_TRY(check_dtype(b, FA_DT_F32, "bias"));
        if (b->rank >= 0 && (b->rank != 1 || !dims_may_match(b->dims[0], nd)))
            return fa_status_make(FA_STATUS_VERIFY, "bias must be [N], N wq's first dim");
    }
    if (c->rank < 0) {
        out[0] = fa_shape_unknown_type(FA_DT_F32);
        return FA_OK;
    }
    out[0] = *c;
    out[0].dtype = FA_DT_F32;
    out[0].dims[c->rank - 1] = nd;
    return FA_OK;
}

/* dequantize(wq [N, K], wscale [N, G]) {group} -> f32 [N, K]. */
fa_status fa_rule_shape_dequantize(const fa_node *n, fa_type *out) {
    fa_dim nd;
    FA_TRY(check_qweight(n, 0, NULL, &nd));
    const fa_type *wq = fa_shape_operand_type(n, 0);
    out[0] = *wq;
    out[0].dtype = FA_DT_F32;
    return FA_OK;
}

fa_status fa_node_infer_types(const fa_node *n, fa_type *out, bool *out_has_rule) {
    fa_shape_fn fn = fa_op_get(n->op)->shape;
    *out_has_rule = fn != NULL;
    if (!fn)
        return FA_OK;
    return fn(n, out);
}
