/* Resize: nearest, (multi)linear and cubic interpolation over any dims, separably: each output
 * coordinate maps to a few (input index, weight) taps per dim, and an output element sums the
 * product of its taps. Out-of-range taps read the edge value (or are excluded). */
#include <math.h>
#include <string.h>

#include "runtime/kernel_util.h"

enum { MAX_TAPS = 4 };

typedef struct tap {
    int64_t idx;
    double w;
} tap;

static double nearest_index(const char *mode, double x) {
    if (!strcmp(mode, "floor"))
        return floor(x);
    if (!strcmp(mode, "ceil"))
        return ceil(x);
    double f = floor(x);
    if (x - f == 0.5)
        return !strcmp(mode, "round_prefer_ceil") ? f + 1 : f;
    return floor(x + 0.5);
}

static void cubic_coeffs(double t, double a, double *c) {
    double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
    c[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
    c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    c[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
    c[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

/* Taps of output coordinate |o| in one dim; returns the count, or -1 when the point falls
 * outside a tf_crop_and_resize box (extrapolation). */
static int dim_taps(const fa_rt_resize_params *p, int64_t o, int64_t in, double out, double scale,
                    double roi_start, double roi_end, tap *taps) {
    const char *cm = p->coord_mode;
    double x;
    if (!strcmp(cm, "align_corners"))
        x = out == 1 ? 0 : (double)o * (double)(in - 1) / (out - 1);
    else if (!strcmp(cm, "asymmetric"))
        x = (double)o / scale;
    else if (!strcmp(cm, "tf_half_pixel_for_nn"))
        x = ((double)o + 0.5) / scale;
    else if (!strcmp(cm, "pytorch_half_pixel"))
        x = out > 1 ? ((double)o + 0.5) / scale - 0.5 : 0;
    else if (!strcmp(cm, "tf_crop_and_resize")) {
        x = out > 1 ? roi_start * (double)(in - 1) +
                          (double)o * (roi_end - roi_start) * (double)(in - 1) / (out - 1)
                    : 0.5 * (roi_start + roi_end) * (double)(in - 1);
        if (x < 0 || x > (double)(in - 1))
            return -1;
    } else /* half_pixel */
        x = ((double)o + 0.5) / scale - 0.5;
    const char *mode = p->mode;
    int n = 0;
    if (!strcmp(mode, "nearest")) {
        double r = nearest_index(p->nearest_mode, x);
        taps[n++] = (tap){(int64_t)(r < 0 ? 0 : r > (double)(in - 1) ? (double)(in - 1) : r), 1};
        return n;
    }
    double f = floor(x), t = x - f;
    int64_t base = (int64_t)f;
    double w[MAX_TAPS];
    int64_t first;
    int count;
    if (!strcmp(mode, "linear")) {
        w[0] = 1 - t;
        w[1] = t;
        first = base;
        count = 2;
    } else {
        cubic_coeffs(t, p->cubic_coeff_a, w);
        first = base - 1;
        count = 4;
    }
    double sum = 0;
    for (int k = 0; k < count; k++) {
        int64_t i = first + k;
        bool outside = i < 0 || i >= in;
        if (outside && p->exclude_outside)
            continue;
        if (w[k] == 0)
            continue;
        taps[n++] = (tap){i < 0 ? 0 : i >= in ? in - 1 : i, w[k]};
        sum += w[k];
    }
    if (p->exclude_outside && sum != 0)
        for (int k = 0; k < n; k++)
            taps[k].w /= sum;
    return n;
}

fa_status fa_rt_resize(fa_rt_in x, fa_rt_in roi, fa_rt_in scales, fa_rt_in sizes,
                       const fa_rt_resize_params *p, fa_rt_tensor *out, fa_rt_al al) {
    const char *op = "Resize";
    memset(out, 0, sizeof *out);
    fa_dtype dt = x->dtype;
    if (!fa_rt_is_float(dt) && dt != FA_DT_U8 && dt != FA_DT_I8)
        return fa_rt_err_dtype(op, dt);
    if (strcmp(p->mode, "nearest") && strcmp(p->mode, "linear") && strcmp(p->mode, "cubic"))
        return fa_status_make(FA_STATUS_UNSUPPORTED, "%s: unsupported mode '%s'", op, p->mode);
    static const char *const cms[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                      "asymmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn"};
    bool cm_ok = false;
    for (size_t i = 0; i < sizeof cms / sizeof cms[0]; i++)
        cm_ok = cm_ok || !strcmp(p->coord_mode, cms[i]);
    if (!cm_ok)
        return fa_status_make(FA_STATUS_UNSUPPORTED,
                              "%s: unsupported coordinate_transformation_mode '%s'", op,
                              p->coord_mode);
    int r = x->rank;
    double sc[FA_MAX_RANK], rs[FA_MAX_RANK], re[FA_MAX_RANK];
    int64_t odims[FA_MAX_RANK];
    bool have_sizes = sizes && fa_rt_tensor_num_elements(sizes) > 0;
    bool have_scales = scales && fa_rt_tensor_num_elements(scales) > 0;
    if (have_sizes == have_scales)
        return fa_rt_err(op, "exactly one of scales and sizes must be given");
    if (have_sizes) {
        uint32_t n;
        FA_TRY(fa_rt_read_ints(op, "sizes", sizes, odims, FA_MAX_RANK, &n));
        if ((int)n != r)
            return fa_rt_err(op, "sizes has %u entries for rank %d", n, r);
        for (int i = 0; i < r; i++) {
            if (odims[i] < 0 || odims[i] > ((int64_t)1 << 31))
                return fa_rt_err(op, "bad size %lld", (long long)odims[i]);
            sc[i] = x->dims[i] ? (double)odims[i] / (double)x->dims[i] : 1;
        }
    } else {
        if (!fa_rt_is_float(scales->dtype) || fa_rt_tensor_num_elements(scales) != (uint64_t)r)
            return fa_rt_err(op, "scales must hold %d floats", r);
        for (int i = 0; i < r; i++) {
            sc[i] = fa_rt_load_f64(scales->dtype, scales->data, (uint64_t)i);
            double d = floor((double)x->dims[i] * sc[i]);
            if (!(sc[i] > 0) || d > (double)((int64_t)1 << 31))
                return fa_rt_err(op, "bad scale %g", sc[i]);
            odims[i] = (int64_t)d;
        }
    }
    bool crop = !strcmp(p->coord_mode, "tf_crop_and_resize");
    for (int i = 0; i < r; i++) {
        rs[i] = 0;
        re[i] = 1;
    }
    if (crop) {
        if (!roi || !fa_rt_is_float(roi->dtype) ||
            fa_rt_tensor_num_elements(roi) != (uint64_t)(2 * r))
            return fa_rt_err(op, "tf_crop_and_resize needs roi of %d floats", 2 * r);
        for (int i = 0; i < r; i++) {
            rs[i] = fa_rt_load_f64(roi->dtype, roi->data, (uint64_t)i);
            re[i] = fa_rt_load_f64(roi->dtype, roi->data, (uint64_t)(i + r));
        }
    }
    FA_TRY(fa_rt_alloc_out(op, out, dt, r, odims, al));
    uint64_t n = fa_rt_tensor_num_elements(out);
    if (n == 0)
        return FA_OK;
    for (int i = 0; i < r; i++)
        if (x->dims[i] == 0) {
            fa_rt_tensor_free(out, al);
            return fa_rt_err(op, "cannot resize an empty input");
        }
    int64_t idx[FA_MAX_RANK] = {0}, xs[FA_MAX_RANK];
    fa_rt_strides(r, x->dims, xs);
    for (uint64_t o = 0; o < n; o++) {
        tap taps[FA_MAX_RANK][MAX_TAPS];
        int nt[FA_MAX_RANK];
        bool extrapolate = false;
        for (int d = 0; d < r && !extrapolate; d++) {
            /* with scales, ONNX maps coordinates with the unrounded length in * scale */
            double olen = have_sizes ? (double)odims[d] : (double)x->dims[d] * sc[d];
            nt[d] = dim_taps(p, idx[d], x->dims[d], olen, sc[d], rs[d], re[d], taps[d]);
            extrapolate = nt[d] < 0;
        }
        double acc = 0;
        if (extrapolate) {
            acc = p->extrapolation_value;
        } else {
            int k[FA_MAX_RANK] = {0};
            for (;;) {
                double w = 1;
                uint64_t off = 0;
                for (int d = 0; d < r; d++) {
                    w *= taps[d][k[d]].w;
                    off += (uint64_t)(taps[d][k[d]].idx * xs[d]);
                }
                acc += w * fa_rt_load_f64(dt, x->data, off);
                int d = r - 1;
                for (; d >= 0; d--) {
                    if (++k[d] < nt[d])
                        break;
                    k[d] = 0;
                }
                if (d < 0)
                    break;
            }
        }
        if (!fa_rt_is_float(dt))
            acc = nearbyint(acc);
        fa_rt_store_f64(dt, out->data, o, acc);
        fa_rt_index_next(r, odims, idx);
    }
    return FA_OK;
}
