/* Einsum by direct summation over every label combination: slow but exact, the reference the
 * optimized lowering (to MatMul/Transpose) can be checked against. Labels are letters; "..."
 * stands for broadcast leading dims. */
#include <string.h>

#include "runtime/kernel_util.h"

enum { NLETTERS = 52, MAX_LABELS = NLETTERS + FA_MAX_RANK, MAX_INPUTS = 16 };

static int letter_id(char c) {
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + c - 'A';
    return -1;
}

/* Parses one term (up to |end|) for a tensor of rank |rank| (-1: output, ellipsis of |nell|
 * dims). Writes label ids to |labels|; ellipsis dims get ids NLETTERS + k, right-aligned to
 * |nell|. Returns the number of labels or -1. */
static int parse_term(const char *s, const char *end, int rank, int nell, int *labels,
                      bool *has_ell) {
    int explicit_n = 0;
    *has_ell = false;
    for (const char *p = s; p < end; p++)
        if (letter_id(*p) >= 0)
            explicit_n++;
    int ell = 0;
    if (rank >= 0)
        ell = rank - explicit_n;
    else
        ell = nell;
    int n = 0;
    for (const char *p = s; p < end; p++) {
        if (*p == ' ')
            continue;
        if (*p == '.') {
            if (end - p < 3 || p[1] != '.' || p[2] != '.' || *has_ell || ell < 0)
                return -1;
            *has_ell = true;
            for (int k = 0; k < ell; k++)
                labels[n++] = NLETTERS + (nell - ell) + k;
            p += 2;
            continue;
        }
        int id = letter_id(*p);
        if (id < 0 || n >= FA_MAX_RANK)
            return -1;
        labels[n++] = id;
    }
    if (rank >= 0 && n != rank)
        return -1;
    return n;
}

fa_status fa_rt_einsum(const char *eq, const fa_rt_tensor *const *ins, uint32_t nin,
                       fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "Einsum";
    memset(out, 0, sizeof *out);
    if (nin == 0 || nin > MAX_INPUTS)
        return fa_rt_err(op, "needs 1 to %d inputs", MAX_INPUTS);
    fa_dtype dt = ins[0]->dtype;
    if (!fa_rt_is_float(dt) && !fa_rt_is_plain_int(dt))
        return fa_rt_err_dtype(op, dt);
    int labels[MAX_INPUTS][FA_MAX_RANK], nlab[MAX_INPUTS], nell = 0;
    int64_t extent[MAX_LABELS];
    int count[MAX_LABELS] = {0};
    for (int i = 0; i < MAX_LABELS; i++)
        extent[i] = -1;
    const char *arrow = strstr(eq, "->"), *end = arrow ? arrow : eq + strlen(eq), *p = eq;
    for (uint32_t t = 0; t < nin; t++) {
        if (ins[t]->dtype != dt)
            return fa_rt_err(op, "inputs must have one dtype");
        const char *q = memchr(p, ',', (size_t)(end - p));
        const char *term_end = q ? q : end;
        if ((t + 1 < nin) != (q != NULL))
            return fa_rt_err(op, "equation '%s' does not have %u input terms", eq, nin);
        bool has_ell;
        int explicit_n = 0;
        for (const char *c = p; c < term_end; c++)
            explicit_n += letter_id(*c) >= 0;
        int ell = ins[t]->rank - explicit_n;
        nell = ell > nell ? ell : nell;
        nlab[t] = parse_term(p, term_end, ins[t]->rank, ell > 0 ? ell : 0, labels[t], &has_ell);
        if (nlab[t] < 0 || (!has_ell && ell != 0))
            return fa_rt_err(op, "term %u of '%s' does not match rank %d", t, eq, ins[t]->rank);
        p = term_end + 1;
    }
    /* ellipsis labels were numbered per input from 0; re-align them to the right of nell */
    for (uint32_t t = 0; t < nin; t++) {
        int ell = 0;
        for (int j = 0; j < nlab[t]; j++)
            ell += labels[t][j] >= NLETTERS;
        for (int j = 0; j < nlab[t]; j++)
            if (labels[t][j] >= NLETTERS)
                labels[t][j] += nell - ell;
        for (int j = 0; j < nlab[t]; j++) {
            int l = labels[t][j];
            int64_t d = ins[t]->dims[j];
            count[l]++;
            if (extent[l] < 0 || extent[l] == 1)
                extent[l] = d;
            else if (d != extent[l] && !(l >= NLETTERS && d == 1))
                return fa_rt_err(op, "label extents disagree (%lld and %lld)", (long long)extent[l],
                                 (long long)d);
        }
    }
    int olab[MAX_LABELS], no = 0;
    if (arrow) {
        bool has_ell;
        no = parse_term(arrow + 2, arrow + strlen(arrow), -1, nell, olab, &has_ell);
        if (no < 0)
            return fa_rt_err(op, "bad output term in '%s'", eq);
        for (int j = 0; j < no; j++)
            if (olab[j] < NLETTERS && !count[olab[j]])
                return fa_rt_err(op, "output label not among the inputs");
    } else {
        for (int k = 0; k < nell; k++)
            olab[no++] = NLETTERS + k;
        for (int l = 0; l < NLETTERS; l++)
            if (count[l] == 1)
                olab[no++] = l;
    }
    if (no > FA_MAX_RANK)
        return fa_rt_err(op, "result rank too large");
    /* loop order: output labels, then the summed ones */
    int order[MAX_LABELS], nloop = 0;
    bool in_out[MAX_LABELS] = {false};
    int64_t odims[FA_MAX_RANK], ldims[MAX_LABELS];
    for (int j = 0; j < no; j++) {
        order[nloop++] = olab[j];
        in_out[olab[j]] = true;
        odims[j] = extent[olab[j]] < 0 ? 1 : extent[olab[j]];
    }
    for (int l = 0; l < MAX_LABELS; l++)
        if (count[l] && !in_out[l])
            order[nloop++] = l;
    for (int j = 0; j < nloop; j++)
        ldims[j] = extent[order[j]];
    FA_TRY(fa_rt_alloc_out(op, out, dt, no, odims, al));
    uint64_t total = 1;
    for (int j = 0; j < nloop; j++)
        total *= (uint64_t)ldims[j];
    if (total > ((uint64_t)1 << 40)) {
        fa_rt_tensor_free(out, al);
        return fa_rt_err(op, "too much work for the reference einsum");
    }
    int64_t val[MAX_LABELS] = {0}, ist[MAX_INPUTS][FA_MAX_RANK], ost[FA_MAX_RANK];
    fa_rt_strides(no, odims, ost);
    for (uint32_t t = 0; t < nin; t++)
        fa_rt_strides(ins[t]->rank, ins[t]->dims, ist[t]);
    int64_t cur[MAX_LABELS] = {0}; /* current value per loop position */
    bool is_f = fa_rt_is_float(dt);
    for (uint64_t it = 0; it < total; it++) {
        for (int j = 0; j < nloop; j++)
            val[order[j]] = cur[j];
        double prod = 1;
        int64_t iprod = 1;
        for (uint32_t t = 0; t < nin; t++) {
            uint64_t off = 0;
            for (int j = 0; j < nlab[t]; j++)
                off += ins[t]->dims[j] == 1 ? 0 : (uint64_t)(val[labels[t][j]] * ist[t][j]);
            if (is_f)
                prod *= fa_rt_load_f64(dt, ins[t]->data, off);
            else
                iprod =
                    (int64_t)((uint64_t)iprod * (uint64_t)fa_rt_load_i64(dt, ins[t]->data, off));
        }
        uint64_t o = 0;
        for (int j = 0; j < no; j++)
            o += (uint64_t)(val[olab[j]] * ost[j]);
        if (is_f)
            fa_rt_store_f64(dt, out->data, o, fa_rt_load_f64(dt, out->data, o) + prod);
        else
            fa_rt_store_i64(dt, out->data, o, fa_rt_load_i64(dt, out->data, o) + iprod);
        for (int j = nloop - 1; j >= 0; j--) {
            if (++cur[j] < ldims[j])
                break;
            cur[j] = 0;
        }
    }
    return FA_OK;
}
