/* The runtime side of AOT-compiled models (see aot_rt.h). */
#include "codegen/aot_rt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/kernels.h"
#include "runtime/plan.h"
#include "runtime/thread_pool.h"

struct fa_aot_model {
    const fa_aot_desc *d;
    fa_graph *g;
    fa_rt_plan *plan;
    fa_rt_thread_pool *pool;
    fa_rt_tensor *outs; /* the last run's outputs, owned */
    uint32_t num_outs;
    bool have_outs;
    char err[1024];
};

/* ---- the kernel table as a kernel source ---------------------------------------------------- */

static fa_status table_get(void *user, fa_cg_kernel_family family, const void *key,
                           const char *signature, uint64_t *out_addr) {
    (void)key;
    const fa_aot_desc *d = user;
    for (uint64_t i = 0; i < d->num_kernels; i++)
        if (strcmp(d->kernels[i].signature, signature) == 0) {
            *out_addr = (uint64_t)(uintptr_t)d->kernels[i].fn;
            return FA_OK;
        }
    return fa_status_make(FA_STATUS_INTERNAL,
                          "the library has no %s kernel '%s' (it was compiled for another plan)",
                          fa_cg_kernel_family_get(family)->name, signature);
}

/* ---- CPU features ---------------------------------------------------------------------------- */

/* Whether this CPU has |f|; features not in the list are not checked (true). The list covers
 * what the generators dispatch on and what LLVM uses for their vector code. */
static bool cpu_has(const char *f) {
    __builtin_cpu_init();
#define FEATURE(name)                                                                          \
    if (strcmp(f, name) == 0)                                                                  \
        return __builtin_cpu_supports(name);
    FEATURE("sse4.1")
    FEATURE("sse4.2")
    FEATURE("avx")
    FEATURE("avx2")
    FEATURE("fma")
    FEATURE("bmi")
    FEATURE("bmi2")
    FEATURE("avx512f")
    FEATURE("avx512bw")
    FEATURE("avx512dq")
    FEATURE("avx512vl")
    FEATURE("avx512vnni")
#undef FEATURE
    return true;
}

/* The first feature "+f" of |features| this CPU lacks, copied into |buf|; false if none. */
static bool missing_feature(const char *features, char *buf, size_t size) {
    for (const char *p = features; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 1 && p[0] == '+' && n - 1 < size) {
            memcpy(buf, p + 1, n - 1);
            buf[n - 1] = '\0';
            if (!cpu_has(buf))
                return true;
        }
        p += n + (end ? 1 : 0);
    }
    return false;
}

/* ---- create, run, destroy -------------------------------------------------------------------- */

static void set_error(char *err, size_t size, const char *name, fa_status s) {
    if (err && size)
        snprintf(err, size, "%s: %s", name, fa_status_message(s));
    fa_status_free(s);
}

fa_aot_model *fa_aot_create(const fa_aot_desc *d, int32_t threads, char *err, size_t err_size) {
    if (err && err_size)
        err[0] = '\0';
    const char *name = d && d->name ? d->name : "model";
    if (!d || d->abi != FA_AOT_ABI) {
        set_error(err, err_size, name,
                  fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                                 "the model object (ABI %llu) does not match its runtime (ABI %d)",
                                 d ? (unsigned long long)d->abi : 0ULL, (int)FA_AOT_ABI));
        return NULL;
    }
    char feature[64];
    if (missing_feature(d->features, feature, sizeof feature)) {
        set_error(err, err_size, name,
                  fa_status_make(FA_STATUS_UNSUPPORTED,
                                 "compiled for CPU '%s', but this CPU lacks %s (compile with "
                                 "--target-cpu for an older one)",
                                 d->cpu, feature));
        return NULL;
    }
    fa_aot_model *m = calloc(1, sizeof *m);
    if (!m) {
        set_error(err, err_size, name, fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory"));
        return NULL;
    }
    m->d = d;
    fa_jit_target target;
    fa_status s = fa_jit_target_init(&target, d->cpu, d->features);
    if (!s)
        s = fa_graph_parse_blob(d->ir, (size_t)d->ir_len, name, d->weights, d->weights_len,
                                &m->g);
    if (!s)
        s = fa_rt_plan_create_lazy(m->g, fa_rt_allocator_default(), &m->plan);
    if (!s) {
        fa_cg_kernel_source src = {table_get, (void *)d};
        s = fa_cg_plan_install(m->plan, &target, &src, NULL);
    }
    if (!s) {
        long n = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);
        uint32_t nt = n < 1 ? 1 : n > 1024 ? 1024 : (uint32_t)n;
        s = fa_rt_thread_pool_create(nt, fa_rt_allocator_default(), &m->pool);
    }
    if (!s) {
        m->num_outs = fa_rt_plan_num_outputs(m->plan);
        m->outs = calloc(m->num_outs ? m->num_outs : 1, sizeof *m->outs);
        if (!m->outs)
            s = fa_status_make(FA_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    if (s) {
        set_error(err, err_size, name, s);
        fa_aot_destroy(m);
        return NULL;
    }
    return m;
}

static void free_outputs(fa_aot_model *m) {
    if (!m->have_outs)
        return;
    for (uint32_t i = 0; i < m->num_outs; i++)
        fa_rt_tensor_free(&m->outs[i], fa_rt_allocator_default());
    m->have_outs = false;
}

/* Views of the caller's inputs, checked. */
static fa_status bind_inputs(const fa_graph *g, const fa_aot_tensor *in, size_t n,
                             fa_rt_tensor *views) {
    for (size_t i = 0; i < n; i++) {
        const char *iname = fa_graph_input(g, (uint32_t)i)->name;
        if (in[i].dtype <= FA_DT_INVALID || in[i].dtype >= FA_DT_COUNT)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "input %zu ('%s'): bad dtype %d",
                                  i, iname, (int)in[i].dtype);
        if (in[i].rank < 0 || in[i].rank > FA_MAX_RANK)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "input %zu ('%s'): bad rank %d", i,
                                  iname, (int)in[i].rank);
        uint64_t count, bytes;
        fa_status s = fa_rt_shape_num_elements(in[i].rank, in[i].dims, &count);
        if (!s)
            s = fa_rt_dtype_num_bytes((fa_dtype)in[i].dtype, count, &bytes);
        if (s)
            return fa_status_prefix(s, "input %zu ('%s')", i, iname);
        if (bytes && !in[i].data)
            return fa_status_make(FA_STATUS_INVALID_ARGUMENT, "input %zu ('%s'): no data", i,
                                  iname);
        views[i] = fa_rt_tensor_view((fa_dtype)in[i].dtype, in[i].rank, in[i].dims, in[i].data,
                                     bytes);
    }
    return FA_OK;
}

int32_t fa_aot_run(fa_aot_model *m, const fa_aot_tensor *inputs, size_t num_inputs,
                   fa_aot_tensor *outputs, size_t num_outputs) {
    m->err[0] = '\0';
    if (outputs)
        memset(outputs, 0, num_outputs * sizeof *outputs);
    free_outputs(m);
    uint32_t nin = fa_graph_num_inputs(m->g);
    fa_status s = FA_OK;
    if (num_inputs != nin || num_outputs != m->num_outs || (nin && !inputs) ||
        (m->num_outs && !outputs))
        s = fa_status_make(FA_STATUS_INVALID_ARGUMENT,
                           "run: the model takes %u inputs and gives %u outputs (called with %zu "
                           "and %zu)",
                           nin, m->num_outs, num_inputs, num_outputs);
    fa_rt_tensor views[64];
    if (!s && nin > sizeof views / sizeof *views)
        s = fa_status_make(FA_STATUS_UNSUPPORTED, "run: more than 64 inputs");
    if (!s)
        s = bind_inputs(m->g, inputs, num_inputs, views);
    if (!s)
        s = fa_rt_plan_run(m->plan, m->pool, views, nin, m->outs, fa_rt_allocator_default());
    if (s) {
        snprintf(m->err, sizeof m->err, "%s: %s", m->d->name, fa_status_message(s));
        fa_status_free(s);
        return -1;
    }
    m->have_outs = true;
    for (uint32_t i = 0; i < m->num_outs; i++) {
        const fa_rt_tensor *t = &m->outs[i];
        outputs[i].dtype = (int32_t)t->dtype;
        outputs[i].rank = t->rank;
        memcpy(outputs[i].dims, t->dims, sizeof outputs[i].dims);
        outputs[i].data = t->data;
    }
    return 0;
}

const char *fa_aot_error(const fa_aot_model *m) { return m ? m->err : "no model"; }

void fa_aot_destroy(fa_aot_model *m) {
    if (!m)
        return;
    if (m->outs)
        free_outputs(m);
    free(m->outs);
    fa_rt_thread_pool_destroy(m->pool);
    fa_rt_plan_destroy(m->plan);
    fa_graph_destroy(m->g);
    free(m);
}
