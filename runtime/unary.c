/* Elementwise unary kernels (math, activations, Not), Clip and Cast. Floats compute in float for
 * f32 and in double for f64/f16/bf16; integer dtypes support the ops that make sense on them. */
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"

static const char *const unop_names[] = {
    [FA_RT_IDENTITY] = "Identity",
    [FA_RT_NEG] = "Neg",
    [FA_RT_ABS] = "Abs",
    [FA_RT_SIGN] = "Sign",
    [FA_RT_SQRT] = "Sqrt",
    [FA_RT_RECIPROCAL] = "Reciprocal",
    [FA_RT_EXP] = "Exp",
    [FA_RT_LOG] = "Log",
    [FA_RT_TANH] = "Tanh",
    [FA_RT_ERF] = "Erf",
    [FA_RT_SIGMOID] = "Sigmoid",
    [FA_RT_RELU] = "Relu",
    [FA_RT_SIN] = "Sin",
    [FA_RT_COS] = "Cos",
    [FA_RT_FLOOR] = "Floor",
    [FA_RT_CEIL] = "Ceil",
    [FA_RT_ROUND] = "Round",
    [FA_RT_NOT] = "Not",
    [FA_RT_SOFTPLUS] = "Softplus",
    [FA_RT_LEAKY_RELU] = "LeakyRelu",
    [FA_RT_ELU] = "Elu",
    [FA_RT_HARD_SIGMOID] = "HardSigmoid",
    [FA_RT_TAN] = "Tan",
    [FA_RT_ASIN] = "Asin",
    [FA_RT_ACOS] = "Acos",
    [FA_RT_ATAN] = "Atan",
    [FA_RT_SINH] = "Sinh",
    [FA_RT_COSH] = "Cosh",
    [FA_RT_ASINH] = "Asinh",
    [FA_RT_ACOSH] = "Acosh",
    [FA_RT_ATANH] = "Atanh",
    [FA_RT_SOFTSIGN] = "Softsign",
    [FA_RT_HARD_SWISH] = "HardSwish",
    [FA_RT_CELU] = "Celu",
    [FA_RT_SELU] = "Selu",
    [FA_RT_THRESHOLDED_RELU] = "ThresholdedRelu",
    [FA_RT_SHRINK] = "Shrink",
    [FA_RT_IS_NAN] = "IsNaN",
    [FA_RT_IS_INF] = "IsInf",
};

static float f32_op(fa_rt_unop op, float x, float alpha, float beta) {
    switch (op) {
    case FA_RT_NEG: return -x;
    case FA_RT_ABS: return fabsf(x);
    case FA_RT_SIGN: return x > 0 ? 1.0f : x < 0 ? -1.0f : x; /* keeps 0 and NaN */
    case FA_RT_SQRT: return sqrtf(x);
    case FA_RT_RECIPROCAL: return 1.0f / x;
    case FA_RT_EXP: return expf(x);
    case FA_RT_LOG: return logf(x);
    case FA_RT_TANH: return tanhf(x);
    case FA_RT_ERF: return erff(x);
    case FA_RT_SIGMOID: return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    case FA_RT_RELU: return x > 0 ? x : 0.0f * x + 0.0f;
    case FA_RT_SIN: return sinf(x);
    case FA_RT_COS: return cosf(x);
    case FA_RT_FLOOR: return floorf(x);
    case FA_RT_CEIL: return ceilf(x);
    case FA_RT_ROUND: return nearbyintf(x); /* half to even in the default rounding mode */
    case FA_RT_SOFTPLUS: return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
    case FA_RT_LEAKY_RELU: return x >= 0 ? x : alpha * x;
    case FA_RT_ELU: return x >= 0 ? x : alpha * (expf(x) - 1.0f);
    case FA_RT_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, alpha * x + beta));
    default: return x;
    }
}

/* Ops computed in double even for f32 (rare ones, kept in one place). */
static bool via_double(fa_rt_unop op) { return op >= FA_RT_TAN; }

static double f64_op(fa_rt_unop op, double x, double alpha, double beta) {
    switch (op) {
    case FA_RT_NEG: return -x;
    case FA_RT_ABS: return fabs(x);
    case FA_RT_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : x;
    case FA_RT_SQRT: return sqrt(x);
    case FA_RT_RECIPROCAL: return 1.0 / x;
    case FA_RT_EXP: return exp(x);
    case FA_RT_LOG: return log(x);
    case FA_RT_TANH: return tanh(x);
    case FA_RT_ERF: return erf(x);
    case FA_RT_SIGMOID: return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
    case FA_RT_RELU: return x > 0 ? x : 0.0;
    case FA_RT_SIN: return sin(x);
    case FA_RT_COS: return cos(x);
    case FA_RT_FLOOR: return floor(x);
    case FA_RT_CEIL: return ceil(x);
    case FA_RT_ROUND: return nearbyint(x);
    case FA_RT_SOFTPLUS: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    case FA_RT_LEAKY_RELU: return x >= 0 ? x : alpha * x;
    case FA_RT_ELU: return x >= 0 ? x : alpha * (exp(x) - 1.0);
    case FA_RT_HARD_SIGMOID: return fmax(0.0, fmin(1.0, alpha * x + beta));
    case FA_RT_TAN: return tan(x);
    case FA_RT_ASIN: return asin(x);
    case FA_RT_ACOS: return acos(x);
    case FA_RT_ATAN: return atan(x);
    case FA_RT_SINH: return sinh(x);
    case FA_RT_COSH: return cosh(x);
    case FA_RT_ASINH: return asinh(x);
    case FA_RT_ACOSH: return acosh(x);
    case FA_RT_ATANH: return atanh(x);
    case FA_RT_SOFTSIGN: return x / (1.0 + fabs(x));
    case FA_RT_HARD_SWISH: return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
    case FA_RT_CELU: return fmax(0.0, x) + fmin(0.0, alpha * (exp(x / alpha) - 1.0));
    case FA_RT_SELU: return x > 0 ? beta * x : beta * (alpha * exp(x) - alpha);
    case FA_RT_THRESHOLDED_RELU: return x > alpha ? x : 0.0;
    case FA_RT_SHRINK: return x < -alpha ? x + beta : x > alpha ? x - beta : 0.0;
    case FA_RT_IS_NAN: return isnan(x) ? 1.0 : 0.0;
    case FA_RT_IS_INF:
        return isinf(x) && ((x > 0 && beta != 0) || (x < 0 && alpha != 0)) ? 1.0 : 0.0;
    default: return x;
    }
}

/* Integer-valued ops on integers; false if |op| has no integer form. */
static bool int_op_ok(fa_rt_unop op) {
    return op == FA_RT_NEG || op == FA_RT_ABS || op == FA_RT_SIGN || op == FA_RT_RELU ||
           op == FA_RT_FLOOR || op == FA_RT_CEIL || op == FA_RT_ROUND || op == FA_RT_SHRINK;
}

static int64_t i64_op(fa_rt_unop op, int64_t x) {
    switch (op) {
    case FA_RT_NEG: return (int64_t)(0 - (uint64_t)x);
    case FA_RT_ABS: return x < 0 ? (int64_t)(0 - (uint64_t)x) : x;
    case FA_RT_SIGN: return (x > 0) - (x < 0);
    case FA_RT_RELU: return x > 0 ? x : 0;
    default: return x; /* Shrink on integers is handled by the caller */
    }
}

fa_status fa_rt_unary(fa_rt_unop op, double alpha, double beta, fa_rt_in x, fa_rt_tensor *out,
                      fa_rt_al al) {
    const char *name = unop_names[op];
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    if (op == FA_RT_IDENTITY)
        return fa_rt_copy(x, out, al);
    if (op == FA_RT_NOT) {
        if (dt != FA_DT_BOOL)
            return fa_rt_err_dtype(name, dt);
    } else if (!fa_rt_is_float(dt) && !(fa_rt_is_plain_int(dt) && int_op_ok(op))) {
        return fa_rt_err_dtype(name, dt);
    }
    bool is_unsigned = dt == FA_DT_U8 || dt == FA_DT_U16 || dt == FA_DT_U32;
    if (is_unsigned && op == FA_RT_NEG)
        return fa_rt_err_dtype(name, dt);
    bool to_bool = op == FA_RT_IS_NAN || op == FA_RT_IS_INF;
    if (to_bool && !fa_rt_is_float(dt))
        return fa_rt_err_dtype(name, dt);
    FA_TRY(fa_rt_alloc_out(name, out, to_bool ? FA_DT_BOOL : dt, x->rank, x->dims, al));
    uint64_t n = fa_rt_tensor_num_elements(x);
    if (to_bool) {
        for (uint64_t i = 0; i < n; i++)
            ((uint8_t *)out->data)[i] =
                f64_op(op, fa_rt_load_f64(dt, x->data, i), alpha, beta) != 0;
    } else if (op == FA_RT_SHRINK && !fa_rt_is_float(dt)) {
        for (uint64_t i = 0; i < n; i++)
            fa_rt_store_f64(dt, out->data, i,
                            f64_op(op, (double)fa_rt_load_i64(dt, x->data, i), alpha, beta));
    } else if (op == FA_RT_NOT) {
        const uint8_t *a = x->data;
        uint8_t *y = out->data;
        for (uint64_t i = 0; i < n; i++)
            y[i] = !a[i];
    } else if (dt == FA_DT_F32 && !via_double(op)) {
        const float *a = x->data;
        float *y = out->data;
        float fa = (float)alpha, fb = (float)beta;
        for (uint64_t i = 0; i < n; i++)
            y[i] = f32_op(op, a[i], fa, fb);
    } else if (fa_rt_is_float(dt)) {
        for (uint64_t i = 0; i < n; i++)
            fa_rt_store_f64(dt, out->data, i,
                            f64_op(op, fa_rt_load_f64(dt, x->data, i), alpha, beta));
    } else {
        for (uint64_t i = 0; i < n; i++)
            fa_rt_store_i64(dt, out->data, i, i64_op(op, fa_rt_load_i64(dt, x->data, i)));
    }
    return FA_OK;
}

fa_status fa_rt_clip(fa_rt_in x, fa_rt_in lo, fa_rt_in hi, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt) && !fa_rt_is_plain_int(dt))
        return fa_rt_err_dtype("Clip", dt);
    const fa_rt_tensor *bounds[2] = {lo, hi};
    for (int k = 0; k < 2; k++) {
        if (!bounds[k])
            continue;
        if (bounds[k]->dtype != dt)
            return fa_rt_err("Clip", "%s has dtype %s, input has %s", k ? "max" : "min",
                             fa_dtype_name(bounds[k]->dtype), fa_dtype_name(dt));
        if (fa_rt_tensor_num_elements(bounds[k]) != 1)
            return fa_rt_err("Clip", "%s must be a scalar", k ? "max" : "min");
    }
    FA_TRY(fa_rt_alloc_out("Clip", out, dt, x->rank, x->dims, al));
    uint64_t n = fa_rt_tensor_num_elements(x);
    if (fa_rt_is_float(dt)) {
        double l = lo ? fa_rt_load_f64(dt, lo->data, 0) : -INFINITY;
        double h = hi ? fa_rt_load_f64(dt, hi->data, 0) : INFINITY;
        for (uint64_t i = 0; i < n; i++) {
            double v = fa_rt_load_f64(dt, x->data, i);
            v = v < l ? l : v;
            v = v > h ? h : v; /* ONNX: min > max gives max */
            fa_rt_store_f64(dt, out->data, i, v);
        }
    } else {
        int64_t l = lo ? fa_rt_load_i64(dt, lo->data, 0) : INT64_MIN;
        int64_t h = hi ? fa_rt_load_i64(dt, hi->data, 0) : INT64_MAX;
        for (uint64_t i = 0; i < n; i++) {
            int64_t v = fa_rt_load_i64(dt, x->data, i);
            v = v < l ? l : v;
            v = v > h ? h : v;
            fa_rt_store_i64(dt, out->data, i, v);
        }
    }
    return FA_OK;
}

static bool castable(fa_dtype dt) {
    return fa_rt_is_float(dt) || fa_rt_is_plain_int(dt) || dt == FA_DT_U64 || dt == FA_DT_BOOL;
}

fa_status fa_rt_cast(fa_rt_in x, fa_dtype to, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (!castable(x->dtype))
        return fa_rt_err_dtype("Cast", x->dtype);
    if (!castable(to))
        return fa_status_make(FA_STATUS_UNSUPPORTED, "Cast: unsupported target dtype %s",
                              fa_dtype_name(to));
    FA_TRY(fa_rt_alloc_out("Cast", out, to, x->rank, x->dims, al));
    uint64_t n = fa_rt_tensor_num_elements(x);
    fa_dtype from = x->dtype;
    if (from == to) {
        memcpy(out->data, x->data, (size_t)x->nbytes);
    } else if (from == FA_DT_F32 && to == FA_DT_F16) {
        for (uint64_t i = 0; i < n; i++)
            ((uint16_t *)out->data)[i] = fa_rt_f32_to_f16(((const float *)x->data)[i]);
    } else if (from == FA_DT_F64 && (to == FA_DT_F16 || to == FA_DT_BF16)) {
        /* through f32: the double rounding this can cause is below f16 resolution in practice */
        for (uint64_t i = 0; i < n; i++)
            fa_rt_store_f64(to, out->data, i, (float)((const double *)x->data)[i]);
    } else if (fa_rt_is_float(from) || fa_rt_is_float(to) || from == FA_DT_U64) {
        if (from == FA_DT_I64 && to == FA_DT_F32) {
            for (uint64_t i = 0; i < n; i++)
                ((float *)out->data)[i] = (float)((const int64_t *)x->data)[i];
        } else {
            for (uint64_t i = 0; i < n; i++)
                fa_rt_store_f64(to, out->data, i, fa_rt_load_f64(from, x->data, i));
        }
        if (from == FA_DT_U64 && !fa_rt_is_float(to)) /* integer target: keep the bits */
            for (uint64_t i = 0; i < n; i++)
                fa_rt_store_i64(to, out->data, i, fa_rt_load_i64(from, x->data, i));
    } else {
        for (uint64_t i = 0; i < n; i++)
            fa_rt_store_i64(to, out->data, i, fa_rt_load_i64(from, x->data, i));
    }
    return FA_OK;
}
