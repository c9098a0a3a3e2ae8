/* Textual IR printer (.fir). Deterministic: unnamed values are numbered in print order, attributes
 * are sorted, floats print with enough digits to round-trip. The grammar is in ir/README.md. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "ir/text.h"

typedef struct printer {
    FILE *f;
    const fa_graph *g;
    const fa_print_options *opts;
    uint32_t *numbers; /* value id -> print number for unnamed values, UINT32_MAX if none */
    uint32_t next_number;
    uint64_t data_offset; /* bytes written to opts->data_file so far */
} printer;

bool fa_text_is_bare_name(const char *s) {
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '$'))
            return false;
    return true;
}

void fa_text_print_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void print_name(FILE *f, char sigil, const char *name) {
    fputc(sigil, f);
    if (fa_text_is_bare_name(name))
        fputs(name, f);
    else
        fa_text_print_string(f, name);
}

/* Prints a float so that strtod (or strtof for |is_f32|) gives back the same bits, and so that
 * it always reads as a float (has '.', 'e', or is inf/nan). */
void fa_text_print_float(FILE *f, double v, bool is_f32) {
    if (isnan(v)) {
        fputs("nan", f);
        return;
    }
    if (isinf(v)) {
        fputs(v < 0 ? "-inf" : "inf", f);
        return;
    }
    char buf[40];
    snprintf(buf, sizeof buf, is_f32 ? "%.9g" : "%.17g", v);
    /* Prefer the shortest form that round-trips. */
    for (int prec = 1; prec <= (is_f32 ? 9 : 17); prec++) {
        char t[40];
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (is_f32 ? strtof(t, NULL) == (float)v : strtod(t, NULL) == v) {
            memcpy(buf, t, sizeof t);
            break;
        }
    }
    fputs(buf, f);
    if (!strpbrk(buf, ".en"))
        fputs(".0", f);
}

void fa_text_print_type(FILE *f, const fa_type *t) {
    fprintf(f, "%s[", fa_dtype_name(t->dtype));
    if (t->rank < 0) {
        fputs("*]", f);
        return;
    }
    for (int i = 0; i < t->rank; i++) {
        if (i)
            fputc(',', f);
        if (t->dims[i].sym)
            fputs(t->dims[i].sym, f);
        else if (t->dims[i].value < 0)
            fputc('?', f);
        else
            fprintf(f, "%lld", (long long)t->dims[i].value);
    }
    fputc(']', f);
}

static bool has_nan(const fa_tensor *t) {
    uint64_t n = t->nbytes / (fa_dtype_bits(t->type.dtype) / 8);
    for (uint64_t i = 0; i < n; i++) {
        double v = t->type.dtype == FA_DT_F32 ? ((const float *)t->data)[i]
                                              : ((const double *)t->data)[i];
        if (isnan(v))
            return true;
    }
    return false;
}

static void print_dense(FILE *f, const fa_tensor *t) {
    uint64_t n = 0;
    fa_status s = fa_type_num_elements(&t->type, &n);
    FA_ASSERT(!s);
    fputs("dense<[", f);
    for (uint64_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        const void *d = t->data;
        switch (t->type.dtype) {
        case FA_DT_F32: fa_text_print_float(f, ((const float *)d)[i], true); break;
        case FA_DT_F64: fa_text_print_float(f, ((const double *)d)[i], false); break;
        case FA_DT_I64: fprintf(f, "%lld", (long long)((const int64_t *)d)[i]); break;
        case FA_DT_I32: fprintf(f, "%d", (int)((const int32_t *)d)[i]); break;
        case FA_DT_I16: fprintf(f, "%d", (int)((const int16_t *)d)[i]); break;
        case FA_DT_I8: fprintf(f, "%d", (int)((const int8_t *)d)[i]); break;
        case FA_DT_U64: fprintf(f, "%llu", (unsigned long long)((const uint64_t *)d)[i]); break;
        case FA_DT_U32: fprintf(f, "%u", (unsigned)((const uint32_t *)d)[i]); break;
        case FA_DT_U16: fprintf(f, "%u", (unsigned)((const uint16_t *)d)[i]); break;
        case FA_DT_U8:
        case FA_DT_BOOL: fprintf(f, "%u", (unsigned)((const uint8_t *)d)[i]); break;
        default: FA_UNREACHABLE();
        }
    }
    fputs("]>", f);
}

static bool dense_printable(const fa_tensor *t) {
    switch (t->type.dtype) {
    case FA_DT_F32:
    case FA_DT_F64: return !has_nan(t);
    case FA_DT_F16:
    case FA_DT_BF16:
    case FA_DT_I4:
    case FA_DT_U4:
    case FA_DT_INVALID:
    case FA_DT_COUNT: return false;
    default: return true;
    }
}

/* Tensor literal: TYPE DATA, DATA one of dense<[...]>, hex<"...">, file<"path", offset>. */
static void print_tensor(printer *p, const fa_tensor *t) {
    FILE *f = p->f;
    fa_text_print_type(f, &t->type);
    fputc(' ', f);
    if (p->opts->data_file && t->nbytes > p->opts->inline_limit) {
        FILE *df = p->opts->data_file;
        static const char zeros[64];
        uint64_t pad = (64 - p->data_offset % 64) % 64;
        fwrite(zeros, 1, (size_t)pad, df);
        uint64_t off = p->data_offset + pad;
        fwrite(t->data, 1, (size_t)t->nbytes, df);
        p->data_offset = off + t->nbytes;
        fputs("file<", f);
        fa_text_print_string(f, p->opts->data_file_name);
        fprintf(f, ", %llu>", (unsigned long long)off);
        return;
    }
    if (t->storage == FA_STORAGE_MAPPED && t->file) {
        fputs("file<", f);
        fa_text_print_string(f, t->file);
        fprintf(f, ", %llu>", (unsigned long long)t->offset);
        return;
    }
    if (p->opts->elide_large && t->nbytes > p->opts->inline_limit) {
        fprintf(f, "elided<%llu>", (unsigned long long)t->nbytes);
        return;
    }
    uint64_t n = 0;
    fa_status s = fa_type_num_elements(&t->type, &n);
    FA_ASSERT(!s);
    if (dense_printable(t) && n <= 4096) {
        print_dense(f, t);
        return;
    }
    fputs("hex<\"", f);
    const unsigned char *b = t->data;
    for (uint64_t i = 0; i < t->nbytes; i++)
        fprintf(f, "%02x", b[i]);
    fputs("\">", f);
}

static void print_value(printer *p, const fa_value *v) {
    if (!v) {
        fputs("none", p->f);
        return;
    }
    if (v->kind == FA_VALUE_CONST) {
        print_name(p->f, '@', v->name);
        return;
    }
    if (v->name) {
        print_name(p->f, '%', v->name);
        return;
    }
    if (p->numbers[v->id] == UINT32_MAX)
        p->numbers[v->id] = p->next_number++;
    fprintf(p->f, "%%%u", p->numbers[v->id]);
}

static void print_attr(printer *p, const fa_attr *a) {
    FILE *f = p->f;
    if (fa_text_is_bare_name(a->name))
        fputs(a->name, f);
    else
        fa_text_print_string(f, a->name);
    fputs(" = ", f);
    switch (a->kind) {
    case FA_ATTR_INT: fprintf(f, "%lld", (long long)a->u.i); break;
    case FA_ATTR_FLOAT: fa_text_print_float(f, a->u.f, false); break;
    case FA_ATTR_STRING: fa_text_print_string(f, a->u.s); break;
    case FA_ATTR_INTS:
        fputs(a->u.ints.n ? "[" : "ints[", f);
        for (uint32_t i = 0; i < a->u.ints.n; i++)
            fprintf(f, "%s%lld", i ? ", " : "", (long long)a->u.ints.v[i]);
        fputc(']', f);
        break;
    case FA_ATTR_FLOATS:
        fputs(a->u.floats.n ? "[" : "floats[", f);
        for (uint32_t i = 0; i < a->u.floats.n; i++) {
            if (i)
                fputs(", ", f);
            fa_text_print_float(f, a->u.floats.v[i], false);
        }
        fputc(']', f);
        break;
    case FA_ATTR_STRINGS:
        fputs(a->u.strings.n ? "[" : "strings[", f);
        for (uint32_t i = 0; i < a->u.strings.n; i++) {
            if (i)
                fputs(", ", f);
            fa_text_print_string(f, a->u.strings.v[i]);
        }
        fputc(']', f);
        break;
    case FA_ATTR_TENSOR: print_tensor(p, a->u.t); break;
    }
}

static void print_node(printer *p, const fa_node *n) {
    FILE *f = p->f;
    fputs("  ", f);
    for (uint32_t i = 0; i < n->num_results; i++) {
        if (i)
            fputs(", ", f);
        print_value(p, n->results[i]);
    }
    fprintf(f, " = %s(", fa_op_get(n->op)->name);
    for (uint32_t i = 0; i < n->num_operands; i++) {
        if (i)
            fputs(", ", f);
        print_value(p, n->operands[i]);
    }
    fputc(')', f);
    if (n->num_attrs) {
        fputs(" {", f);
        for (uint32_t i = 0; i < n->num_attrs; i++) {
            if (i)
                fputs(", ", f);
            print_attr(p, &n->attrs[i]);
        }
        fputc('}', f);
    }
    fputs(" : ", f);
    for (uint32_t i = 0; i < n->num_results; i++) {
        if (i)
            fputs(", ", f);
        fa_text_print_type(f, &n->results[i]->type);
    }
    if (n->name) {
        fputs(" loc(", f);
        fa_text_print_string(f, n->name);
        fputc(')', f);
    }
    fputc('\n', f);
}

fa_status fa_graph_print(const fa_graph *g, const fa_print_options *opts, void *file) {
    static const fa_print_options defaults = {4096, false, NULL, NULL};
    printer p = {file, g, opts ? opts : &defaults, NULL, 0, 0};
    uint32_t nv = fa_graph_num_values(g);
    p.numbers = malloc(sizeof *p.numbers * (nv + 1));
    if (!p.numbers)
        return fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory while printing");
    for (uint32_t i = 0; i < nv; i++)
        p.numbers[i] = UINT32_MAX;
    FILE *f = p.f;
    fputs("graph ", f);
    print_name(f, '@', fa_graph_name(g));
    fputc('(', f);
    for (uint32_t i = 0; i < fa_graph_num_inputs(g); i++) {
        const fa_value *v = fa_graph_input(g, i);
        if (i)
            fputs(", ", f);
        print_value(&p, v);
        fputs(": ", f);
        fa_text_print_type(f, &v->type);
    }
    fputs(") {\n", f);
    for (uint32_t i = 0; i < fa_graph_num_consts(g); i++) {
        const fa_value *v = fa_graph_const(g, i);
        fputs("  const ", f);
        print_name(f, '@', v->name);
        fputs(" = ", f);
        print_tensor(&p, v->tensor);
        fputc('\n', f);
    }
    for (const fa_node *n = fa_graph_first_node(g); n; n = n->next)
        print_node(&p, n);
    fputs("  return", f);
    for (uint32_t i = 0; i < fa_graph_num_outputs(g); i++) {
        const fa_output *o = fa_graph_output(g, i);
        fputs(i ? ", " : " ", f);
        print_value(&p, o->value);
        if (!o->value->name || strcmp(o->value->name, o->name) != 0) {
            fputs(" as ", f);
            fa_text_print_string(f, o->name);
        }
    }
    fputs("\n}\n", f);
    free(p.numbers);
    if (p.opts->data_file && (fflush(p.opts->data_file) || ferror(p.opts->data_file)))
        return fa_status_make(FA_STATUS_IO, "write error on the data file %s",
                              p.opts->data_file_name);
    return ferror(f) ? fa_status_make(FA_STATUS_IO, "write error while printing IR") : FA_OK;
}

char *fa_graph_print_to_string(const fa_graph *g, const fa_print_options *opts) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        fa_fatal(__FILE__, __LINE__, "out of memory");
    fa_status s = fa_graph_print(g, opts, f);
    fclose(f);
    if (s) {
        fa_status_free(s);
        free(buf);
        return NULL;
    }
    return buf;
}
