/* Model loading (.onnx or .fir) and NAME=FILE.npy input binding for the run and eval commands. */
#include "tools/model_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codegen/plan_jit.h"
#include "frontend/onnx.h"
#include "ir/fileio.h"
#include "runtime/interp.h"
#include "runtime/npy.h"
#include "tools/cli.h"

bool fa_tool_binding_parse(const char *arg, fa_binding *b) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || eq[1] == '\0')
        return false;
    b->arg = arg;
    b->buf = strdup(arg);
    if (!b->buf)
        return false;
    b->buf[eq - arg] = '\0';
    b->name = b->buf;
    b->file = b->buf + (eq - arg) + 1;
    return true;
}

void fa_tool_binding_free(fa_binding *b) {
    free(b->buf);
    memset(b, 0, sizeof *b);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

fa_status fa_tool_model_load(const char *path, fa_graph **out) {
    if (ends_with(path, ".onnx"))
        return fa_onnx_import_file(path, out);
    if (!ends_with(path, ".fir"))
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "%s: unknown model format (expected .onnx or .fir)", path);
    char *text;
    size_t len;
    FA_TRY(fa_file_read_all(path, &text, &len));
    char *dir = fa_path_dirname(path);
    fa_status s = dir ? fa_graph_parse(text, len, path, dir, 0, out)
                      : fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    free(dir);
    free(text);
    return s;
}

fa_status fa_tool_inputs_read(const fa_graph *g, const fa_binding *bindings, int n,
                              const char *flag, fa_rt_tensor *tensors,
                              const fa_rt_allocator *al) {
    uint32_t nin = fa_graph_num_inputs(g);
    for (int k = 0; k < n; k++) {
        const fa_binding *b = &bindings[k];
        uint32_t i = 0;
        while (i < nin && strcmp(fa_graph_input(g, i)->name, b->name) != 0)
            i++;
        if (i == nin)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "%s %s: the model has no input '%s'", flag, b->arg, b->name);
        if (tensors[i].dtype != FA_DT_INVALID)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "%s %s: input '%s' given twice", flag,
                                  b->arg, b->name);
        FA_TRY(fa_status_prefix(fa_rt_npy_read(b->file, &tensors[i], al), "%s %s", flag, b->arg));
        fa_dtype want = fa_graph_input(g, i)->type.dtype;
        if (want != FA_DT_INVALID && tensors[i].dtype != want)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "%s %s: array has dtype %s, input '%s' is %s", flag, b->arg,
                                  fa_dtype_name(tensors[i].dtype), b->name, fa_dtype_name(want));
    }
    for (uint32_t i = 0; i < nin; i++)
        if (tensors[i].dtype == FA_DT_INVALID)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "missing %s for graph input '%s'", flag,
                                  fa_graph_input(g, i)->name);
    return FA_OK;
}

fa_rt_tensor fa_tool_tensor_rows(const fa_rt_tensor *t, int64_t r0, int64_t n) {
    uint64_t row_bytes = t->dims[0] ? t->nbytes / (uint64_t)t->dims[0] : 0;
    int64_t dims[FA_MAX_RANK];
    memcpy(dims, t->dims, sizeof dims);
    dims[0] = n;
    return fa_rt_tensor_view(t->dtype, t->rank, dims, (const char *)t->data + row_bytes * r0,
                             row_bytes * (uint64_t)n);
}

/* ---- the engine ------------------------------------------------------------------------------ */

int fa_tool_engine_option(const char *cmd, int argc, char **argv, int *i,
                          fa_tool_engine_options *o) {
    const char *arg = argv[*i], *v;
    bool missing;
    if (!strcmp(arg, "--no-jit")) {
        o->engine = FA_TOOL_ENGINE_C;
    } else if (!strcmp(arg, "--interp")) {
        o->engine = FA_TOOL_ENGINE_INTERP;
    } else if (!strcmp(arg, "-v")) {
        o->verbose++;
    } else if ((v = fa_cli_option_value("--threads", argc, argv, i, &missing)) || missing) {
        char *end = NULL;
        long long n = missing ? 0 : strtoll(v, &end, 10);
        if (missing || *end || n < 1 || n > 1024) {
            fa_cli_usage_error(cmd, "--threads needs an integer from 1 to 1024");
            return -1;
        }
        o->threads = (uint32_t)n;
    } else {
        return 0;
    }
    return 1;
}

static const char *engine_name(fa_tool_engine e) {
    switch (e) {
    case FA_TOOL_ENGINE_JIT: return "plan+jit";
    case FA_TOOL_ENGINE_C: return "plan+c";
    case FA_TOOL_ENGINE_INTERP: return "interp";
    }
    return "?";
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

fa_status fa_tool_engine_init(fa_tool_engine_state *e, const fa_graph *g,
                              const fa_tool_engine_options *o) {
    memset(e, 0, sizeof *e);
    e->g = g;
    e->opt = *o;
    if (o->engine == FA_TOOL_ENGINE_INTERP)
        return FA_OK;
    if (!e->opt.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        e->opt.threads = n < 1 ? 1 : n > 1024 ? 1024 : (uint32_t)n;
    }
    return fa_rt_thread_pool_create(e->opt.threads, fa_rt_allocator_default(), &e->pool);
}

/* Builds the plan (no shape pass: the first run is it) and installs the engine's kernels. */
static fa_status engine_plan(fa_tool_engine_state *e) {
    FA_TRY(fa_rt_plan_create_lazy(e->g, fa_rt_allocator_default(), &e->plan));
    if (e->opt.engine == FA_TOOL_ENGINE_C) {
        uint32_t fused = 0;
        FA_TRY(fa_rt_plan_fuse_transform_quantize(e->plan, &fused));
        if (e->opt.verbose)
            fprintf(stderr, "engine: plan+c, %u threads, %u transform+quantize pairs fused\n",
                    e->opt.threads, fused);
        return FA_OK;
    }
    fa_cg_plan_jit_stats st;
    FA_TRY(fa_cg_plan_install_jit(e->plan, NULL, &st));
    e->jit = st;
    if (e->opt.verbose)
        fprintf(stderr,
                "engine: plan+jit, %u threads; jit: %u kernels compiled (%u cached, %u from disk) "
                "in %.1f ms, install %.1f ms; steps replaced: %u qlinear, %u transform+quantize "
                "(%u pairs fused), %u left to C kernels; %u row-op steps generated; %.1f MiB "
                "packed\n",
                e->opt.threads, st.kernels_compiled, st.kernels_cached, st.kernels_from_disk,
                st.compile_ms, st.install_ms, st.qlinear_steps, st.tquant_steps, st.fused_pairs,
                st.c_steps, st.rowop_steps, (double)st.packed_bytes / (1 << 20));
    return FA_OK;
}

fa_status fa_tool_engine_run(fa_tool_engine_state *e, const fa_rt_tensor *inputs, uint32_t n,
                             fa_rt_tensor *outputs, const fa_rt_allocator *al) {
    double t0 = now_ms();
    fa_status s;
    if (e->opt.engine == FA_TOOL_ENGINE_INTERP) {
        s = fa_rt_interp_run(e->g, inputs, n, outputs, al);
    } else {
        if (!e->plan)
            FA_TRY(engine_plan(e));
        s = fa_rt_plan_run(e->plan, e->pool, inputs, n, outputs, al);
    }
    double ms = now_ms() - t0;
    if (e->runs++ == 0)
        e->first_run_ms = ms;
    else
        e->run_ms += ms;
    return s;
}

void fa_tool_engine_report(const fa_tool_engine_state *e) {
    if (!e->opt.verbose)
        return;
    fprintf(stderr, "engine: %s, %u runs: first %.1f ms, the others %.1f ms\n",
            engine_name(e->opt.engine), e->runs, e->first_run_ms, e->run_ms);
    if (!e->plan)
        return;
    fa_rt_plan_stats st;
    fa_rt_plan_stats_get(e->plan, &st);
    fprintf(stderr,
            "plan: %u steps, %u plans, arena %.1f MiB (%.1f MiB unplanned), %llu heap "
            "fallbacks\n",
            st.num_steps, st.num_plans, (double)st.arena_bytes / (1 << 20),
            (double)st.naive_bytes / (1 << 20), (unsigned long long)st.heap_fallbacks);
}

void fa_tool_engine_deinit(fa_tool_engine_state *e) {
    fa_rt_plan_destroy(e->plan);
    fa_rt_thread_pool_destroy(e->pool);
    memset(e, 0, sizeof *e);
}

/* Where the rule's tensor comes from: graph input |*out_index|, or binding |*out_extra|. */
static fa_status find_source(const fa_graph *g, const fa_binding *b, int n, const char *flag,
                             const fa_rt_token_rule *rule, const char *rule_text,
                             bool extra_any_rule, int *out_index, int *out_extra) {
    *out_index = *out_extra = -1;
    const char *name = rule ? fa_rt_token_rule_source(rule) : NULL;
    if (!name)
        return FA_OK;
    for (uint32_t i = 0; i < fa_graph_num_inputs(g); i++) {
        const fa_value *v = fa_graph_input(g, i);
        if (strcmp(v->name, name) != 0)
            continue;
        fa_dtype dt = v->type.dtype;
        if (dt != FA_DT_INVALID && !fa_dtype_is_int(dt) && dt != FA_DT_BOOL)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                  "--token-type %s: input '%s' is %s, not integer", rule_text,
                                  name, fa_dtype_name(dt));
        *out_index = (int)i;
        return FA_OK;
    }
    bool may_bind = extra_any_rule || rule->kind == FA_RT_TOKEN_RULE_INPUT;
    for (int k = 0; k < n && may_bind; k++)
        if (!strcmp(b[k].name, name))
            *out_extra = k;
    if (*out_extra < 0)
        return fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                              "--token-type %s: the model has no input '%s'%s%s%s", rule_text,
                              name, may_bind ? " and no " : "", may_bind ? flag : "",
                              may_bind ? " binds it" : "");
    return FA_OK;
}

fa_status fa_tool_dataset_read(const fa_graph *g, const fa_binding *bindings, int n,
                               const char *flag, const fa_rt_token_rule *rule,
                               const char *rule_text, bool extra_any_rule, const char *unit,
                               fa_tool_dataset *out, const fa_rt_allocator *al) {
    memset(out, 0, sizeof *out);
    uint32_t nin = fa_graph_num_inputs(g);
    out->num_inputs = nin;
    out->inputs = calloc(nin + 1, sizeof *out->inputs);
    fa_binding *bind = calloc((size_t)n + 1, sizeof *bind);
    int src_index = -1, src_extra = -1, nbind = 0;
    fa_status s = out->inputs && bind
                      ? FA_OK
                      : fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!s)
        s = find_source(g, bindings, n, flag, rule, rule_text, extra_any_rule, &src_index,
                        &src_extra);
    for (int k = 0; !s && k < n; k++)
        if (k != src_extra)
            bind[nbind++] = bindings[k];
    if (!s)
        s = fa_tool_inputs_read(g, bind, nbind, flag, out->inputs, al);
    free(bind);
    if (!s && src_extra >= 0) {
        out->source_binding = &bindings[src_extra];
        s = fa_status_prefix(fa_rt_npy_read(bindings[src_extra].file, &out->extra, al), "%s %s",
                             flag, bindings[src_extra].arg);
    }
    if (!s && nin == 0)
        s = fa_status_make(FA_STATUS_INVALID_ARGUMENT, "the model has no inputs to take %s from",
                           unit);
    int64_t rows = !s ? out->inputs[0].dims[0] : 0;
    for (uint32_t i = 0; !s && i < nin; i++)
        if (out->inputs[i].rank < 1 || out->inputs[i].dims[0] != rows)
            s = fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                               "input '%s': every input needs the same number of %s (axis 0), "
                               "%lld",
                               fa_graph_input(g, i)->name, unit, (long long)rows);
    const fa_rt_tensor *src =
        src_extra >= 0 ? &out->extra : src_index >= 0 ? &out->inputs[src_index] : NULL;
    if (!s && src &&
        (src->rank != 2 || src->dims[0] != rows ||
         !(fa_dtype_is_int(src->dtype) || src->dtype == FA_DT_BOOL))) {
        char d[128];
        s = fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                           "--token-type %s: '%s' is %s; token types need integer or bool [N,T] "
                           "with N = %lld %s",
                           rule_text, fa_rt_token_rule_source(rule),
                           fa_rt_tensor_describe(src, d, sizeof d), (long long)rows, unit);
    }
    out->source = src;
    out->rows = rows;
    return s;
}

void fa_tool_dataset_free(fa_tool_dataset *d, const fa_rt_allocator *al) {
    if (d->inputs)
        fa_rt_tensors_free(d->inputs, d->num_inputs, al);
    fa_rt_tensor_free(&d->extra, al);
    free(d->inputs);
    memset(d, 0, sizeof *d);
}
