/* Reference kernels in plain C, one entry point per ONNX op family. Kernels see only runtime
 * tensors (no fa_graph / fa_node), compute their output shapes from their inputs, and allocate
 * their outputs with the allocator they are given; the caller owns the outputs. On error nothing
 * is left allocated and the message names the ONNX op (the caller adds the node). Unsupported
 * dtypes are errors naming the op and dtype, never wrong answers. */
#ifndef FA_RUNTIME_KERNELS_H
#define FA_RUNTIME_KERNELS_H

#include "runtime/tensor.h"

typedef const fa_rt_tensor *fa_rt_in;
typedef const fa_rt_allocator *fa_rt_al;

/* ---- elementwise.c: binary ops with ONNX multidirectional broadcasting ---- */

typedef enum fa_rt_binop {
    FA_RT_ADD,
    FA_RT_SUB,
    FA_RT_MUL,
    FA_RT_DIV,
    FA_RT_POW,
    FA_RT_MOD,
    FA_RT_FMOD,
    FA_RT_MAX,
    FA_RT_MIN,
    FA_RT_EQUAL,
    FA_RT_LESS,
    FA_RT_LESS_EQUAL,
    FA_RT_GREATER,
    FA_RT_GREATER_EQUAL,
    FA_RT_AND,
    FA_RT_OR,
    FA_RT_XOR,
    FA_RT_PRELU,
    FA_RT_SHIFT_LEFT,
    FA_RT_SHIFT_RIGHT,
} fa_rt_binop;

/* out = a op b. Arithmetic needs equal dtypes (Pow: any numeric exponent, result has a's
 * dtype); comparisons give bool; And/Or/Xor take bool; PRelu is a < 0 ? a * b : a; the shifts
 * (BitShift) take unsigned integers. */
fa_status fa_rt_binary(fa_rt_binop op, fa_rt_in a, fa_rt_in b, fa_rt_tensor *out, fa_rt_al al);
/* Sum (FA_RT_ADD), Max, Min over |n| >= 1 inputs; |mean| divides the sum by n (Mean). */
fa_status fa_rt_variadic(fa_rt_binop op, bool mean, const fa_rt_tensor *const *ins, uint32_t n,
                         fa_rt_tensor *out, fa_rt_al al);
/* Where(cond, x, y) with three-way broadcasting. */
fa_status fa_rt_where(fa_rt_in cond, fa_rt_in x, fa_rt_in y, fa_rt_tensor *out, fa_rt_al al);
/* Output shape of broadcasting |n| tensors (ONNX multidirectional rule); |op| names errors. */
fa_status fa_rt_broadcast_shape(const char *op, const fa_rt_tensor *const *ins, int n,
                                int *out_rank, int64_t *out_dims);

/* ---- unary.c: elementwise unary ops, Clip and Cast ---- */

typedef enum fa_rt_unop {
    FA_RT_IDENTITY,
    FA_RT_NEG,
    FA_RT_ABS,
    FA_RT_SIGN,
    FA_RT_SQRT,
    FA_RT_RECIPROCAL,
    FA_RT_EXP,
    FA_RT_LOG,
    FA_RT_TANH,
    FA_RT_ERF,
    FA_RT_SIGMOID,
    FA_RT_RELU,
    FA_RT_SIN,
    FA_RT_COS,
    FA_RT_FLOOR,
    FA_RT_CEIL,
    FA_RT_ROUND,
    FA_RT_NOT,
    FA_RT_SOFTPLUS,
    FA_RT_LEAKY_RELU,
    FA_RT_ELU,
    FA_RT_HARD_SIGMOID,
    FA_RT_TAN,
    FA_RT_ASIN,
    FA_RT_ACOS,
    FA_RT_ATAN,
    FA_RT_SINH,
    FA_RT_COSH,
    FA_RT_ASINH,
    FA_RT_ACOSH,
    FA_RT_ATANH,
    FA_RT_SOFTSIGN,
    FA_RT_HARD_SWISH,
    FA_RT_CELU,
    FA_RT_SELU,
    FA_RT_THRESHOLDED_RELU,
    FA_RT_SHRINK,
    FA_RT_IS_NAN,
    FA_RT_IS_INF,
} fa_rt_unop;

/* |alpha|, |beta| parameterize LeakyRelu, Elu, Celu, ThresholdedRelu (alpha), HardSigmoid
 * (alpha, beta), Selu (alpha, gamma = beta), Shrink (lambd = alpha, bias = beta), IsInf
 * (detect_negative = alpha, detect_positive = beta; bool output, as IsNaN). */
fa_status fa_rt_unary(fa_rt_unop op, double alpha, double beta, fa_rt_in x, fa_rt_tensor *out,
                      fa_rt_al al);
/* Clip; |lo| / |hi| are scalars of x's dtype or NULL (no bound). */
fa_status fa_rt_clip(fa_rt_in x, fa_rt_in lo, fa_rt_in hi, fa_rt_tensor *out, fa_rt_al al);
/* Cast to |to|. Float -> integer truncates toward zero; out-of-range values saturate (ONNX leaves
 * them undefined); NaN -> 0. */
fa_status fa_rt_cast(fa_rt_in x, fa_dtype to, fa_rt_tensor *out, fa_rt_al al);

/* ---- reduce.c: reductions, ArgMax/ArgMin, CumSum ---- */

typedef enum fa_rt_reduce_op {
    FA_RT_REDUCE_SUM,
    FA_RT_REDUCE_MEAN,
    FA_RT_REDUCE_MAX,
    FA_RT_REDUCE_MIN,
    FA_RT_REDUCE_PROD,
    FA_RT_REDUCE_L1,
    FA_RT_REDUCE_L2,
    FA_RT_REDUCE_LOG_SUM,
    FA_RT_REDUCE_LOG_SUM_EXP,
    FA_RT_REDUCE_SUM_SQUARE,
} fa_rt_reduce_op;

/* Reduces over |axes| (|naxes| entries, negative allowed, duplicates refused). No axes: all
 * axes, or a copy if |noop_with_empty_axes|. */
fa_status fa_rt_reduce(fa_rt_reduce_op op, fa_rt_in x, const int64_t *axes, uint32_t naxes,
                       bool keepdims, bool noop_with_empty_axes, fa_rt_tensor *out, fa_rt_al al);
/* ArgMax (|is_max|) / ArgMin along |axis|, i64 output. */
fa_status fa_rt_arg_reduce(bool is_max, fa_rt_in x, int64_t axis, bool keepdims,
                           bool select_last_index, fa_rt_tensor *out, fa_rt_al al);
/* Hardmax along |axis|: 1 at the first maximum, 0 elsewhere. */
fa_status fa_rt_hardmax(fa_rt_in x, int64_t axis, fa_rt_tensor *out, fa_rt_al al);
/* TopK: the |k| (a one-element integer tensor) largest or smallest along |axis|; values and i64
 * indices. Ties keep the lower index first; |sorted| false still returns sorted order. */
fa_status fa_rt_top_k(fa_rt_in x, fa_rt_in k, int64_t axis, bool largest, fa_rt_tensor *out_values,
                      fa_rt_tensor *out_indices, fa_rt_al al);
/* CumSum along |axis| (a scalar i32/i64 tensor). */
fa_status fa_rt_cum_sum(fa_rt_in x, fa_rt_in axis, bool exclusive, bool reverse, fa_rt_tensor *out,
                        fa_rt_al al);

/* ---- matmul.c ---- */

/* numpy matmul: 1-D operands promoted, batch dims broadcast. f32 uses OpenBLAS. */
fa_status fa_rt_matmul(fa_rt_in a, fa_rt_in b, fa_rt_tensor *out, fa_rt_al al);
/* Gemm: out = alpha * op(A) op(B) + beta * C, C (optional) broadcast to [M, N]. */
fa_status fa_rt_gemm(fa_rt_in a, fa_rt_in b, fa_rt_in c, double alpha, double beta, bool trans_a,
                     bool trans_b, fa_rt_tensor *out, fa_rt_al al);

/* freeact linear: y = x W^T (+ bias), x [..., K], W [N, K], bias [N]. */
fa_status fa_rt_linear(fa_rt_in x, fa_rt_in w, fa_rt_in bias, fa_rt_tensor *out, fa_rt_al al);

/* ---- nn.c ---- */

fa_status fa_rt_softmax(bool is_log, fa_rt_in x, int64_t axis, fa_rt_tensor *out, fa_rt_al al);
/* LayerNormalization over axes [axis, rank). |out_mean| / |out_inv_std| may be NULL. */
fa_status fa_rt_layer_norm(fa_rt_in x, fa_rt_in scale, fa_rt_in bias, int64_t axis, double epsilon,
                           fa_rt_tensor *out, fa_rt_tensor *out_mean, fa_rt_tensor *out_inv_std,
                           fa_rt_al al);

typedef struct fa_rt_conv_params {
    const char *auto_pad; /* "NOTSET" (or NULL), "VALID", "SAME_UPPER", "SAME_LOWER" */
    int64_t group;
    int nkernel; /* entries in kernel_shape (0: from W) */
    int64_t kernel_shape[FA_MAX_RANK];
    int npads; /* 0 or 2 * spatial rank */
    int64_t pads[2 * FA_MAX_RANK];
    int nstrides, ndilations; /* 0: all ones */
    int64_t strides[FA_MAX_RANK], dilations[FA_MAX_RANK];
} fa_rt_conv_params;
/* Conv with 1 to 3 spatial dims; |bias| may be NULL. */
fa_status fa_rt_conv(fa_rt_in x, fa_rt_in w, fa_rt_in bias, const fa_rt_conv_params *p,
                     fa_rt_tensor *out, fa_rt_al al);

/* BatchNormalization in inference form. */
fa_status fa_rt_batch_norm(fa_rt_in x, fa_rt_in scale, fa_rt_in bias, fa_rt_in mean, fa_rt_in var,
                           double epsilon, fa_rt_tensor *out, fa_rt_al al);
/* InstanceNormalization (per sample and channel over the spatial dims). */
fa_status fa_rt_instance_norm(fa_rt_in x, fa_rt_in scale, fa_rt_in bias, double epsilon,
                              fa_rt_tensor *out, fa_rt_al al);
/* MeanVarianceNormalization over |axes| (no epsilon besides ONNX's 1e-9). */
fa_status fa_rt_mean_variance_norm(fa_rt_in x, const int64_t *axes, uint32_t naxes,
                                   fa_rt_tensor *out, fa_rt_al al);

/* ---- norm.c: freeact's normalization ops ---- */

typedef enum fa_rt_norm_kind {
    FA_RT_NORM_RMS,   /* rms_norm: y = x / sqrt(mean(x^2) + epsilon) * gamma, last axis only */
    FA_RT_NORM_LAYER, /* layer_norm: y = (x - mean) / sqrt(var + epsilon) * gamma + beta */
} fa_rt_norm_kind;

/* freeact rms_norm / layer_norm over x's dims [axis, rank) (ops.def has the semantics).
 * rms_norm: |axis| must name the last dim, |gamma| is [d] or NULL, |beta| must be NULL.
 * layer_norm: |gamma| / |beta| broadcast unidirectionally to the normalized dims, NULL meaning
 * 1 / 0. Statistics accumulate in double; the output has x's dtype and shape. */
fa_status fa_rt_norm(fa_rt_norm_kind kind, fa_rt_in x, fa_rt_in gamma, fa_rt_in beta,
                     int64_t axis, double epsilon, fa_rt_tensor *out, fa_rt_al al);

/* ---- activation.c: freeact's fused activations ---- */

/* swiglu: y = g * sigmoid(g) * u elementwise; |g| and |u| f32 of one shape (no broadcasting).
 * Computed in double per element; y is f32 of that shape. */
fa_status fa_rt_swiglu(fa_rt_in g, fa_rt_in u, fa_rt_tensor *out, fa_rt_al al);
/* gelu: y = 0.5 x (1 + erf(x / sqrt(2))), or with |tanh_approx| 0.5 x (1 + tanh(sqrt(2 / pi)
 * (x + 0.044715 x^3))); |x| f32. Computed in double per element; y is f32 of x's shape. */
fa_status fa_rt_gelu(fa_rt_in x, bool tanh_approx, fa_rt_tensor *out, fa_rt_al al);

/* ---- rope.c ---- */

/* rope: y = x * cos + rot(x) * sin along x's last axis (ir/ops.def gives rot), each product
 * rounded to f32, then their f32 sum: the decomposed graph's bits. |x|, |cos|, |sin| f32 of rank
 * >= 1, broadcasting multidirectionally; y is f32 of the broadcast shape. |interleaved| needs an
 * even last dim of x. */
fa_status fa_rt_rope(fa_rt_in x, fa_rt_in cos, fa_rt_in sin, bool interleaved, fa_rt_tensor *out,
                     fa_rt_al al);

/* ---- pool.c ---- */

typedef struct fa_rt_pool_params {
    bool is_max;
    bool ceil_mode, count_include_pad;
    fa_rt_conv_params geo; /* auto_pad, kernel_shape (required), pads, strides, dilations */
} fa_rt_pool_params;
/* MaxPool / AveragePool over 1 to 3 spatial dims. */
fa_status fa_rt_pool(fa_rt_in x, const fa_rt_pool_params *p, fa_rt_tensor *out, fa_rt_al al);
/* GlobalMaxPool / GlobalAveragePool. */
fa_status fa_rt_global_pool(bool is_max, fa_rt_in x, fa_rt_tensor *out, fa_rt_al al);

/* ---- shape_ops.c: shape and layout ---- */

fa_status fa_rt_reshape(fa_rt_in x, fa_rt_in shape, bool allowzero, fa_rt_tensor *out, fa_rt_al al);
/* |perm| NULL (|nperm| 0): reverse the axes. */
fa_status fa_rt_transpose(fa_rt_in x, const int64_t *perm, int nperm, fa_rt_tensor *out,
                          fa_rt_al al);
fa_status fa_rt_unsqueeze(fa_rt_in x, const int64_t *axes, uint32_t naxes, fa_rt_tensor *out,
                          fa_rt_al al);
/* |axes| NULL: every dim of extent 1. */
fa_status fa_rt_squeeze(fa_rt_in x, const int64_t *axes, uint32_t naxes, fa_rt_tensor *out,
                        fa_rt_al al);
fa_status fa_rt_flatten(fa_rt_in x, int64_t axis, fa_rt_tensor *out, fa_rt_al al);
/* Shape(x)[start:end] with Python slice clamping; |has_end| false: to the end. */
fa_status fa_rt_shape(fa_rt_in x, int64_t start, int64_t end, bool has_end, fa_rt_tensor *out,
                      fa_rt_al al);
fa_status fa_rt_size(fa_rt_in x, fa_rt_tensor *out, fa_rt_al al);
/* Expand: bidirectional broadcast of x against |shape| (i64). */
fa_status fa_rt_expand(fa_rt_in x, fa_rt_in shape, fa_rt_tensor *out, fa_rt_al al);
fa_status fa_rt_tile(fa_rt_in x, fa_rt_in repeats, fa_rt_tensor *out, fa_rt_al al);
/* |value| a one-element tensor or NULL (f32 0). */
fa_status fa_rt_constant_of_shape(fa_rt_in shape, fa_rt_in value, fa_rt_tensor *out, fa_rt_al al);
fa_status fa_rt_range(fa_rt_in start, fa_rt_in limit, fa_rt_in delta, fa_rt_tensor *out,
                      fa_rt_al al);
/* DepthToSpace (|crd| false: DCR mode) and SpaceToDepth on NCHW tensors. */
fa_status fa_rt_depth_to_space(fa_rt_in x, int64_t blocksize, bool crd, fa_rt_tensor *out,
                               fa_rt_al al);
fa_status fa_rt_space_to_depth(fa_rt_in x, int64_t blocksize, fa_rt_tensor *out, fa_rt_al al);
/* Copies |x| (Identity, and the data of Reshape-like ops). */
fa_status fa_rt_copy(fa_rt_in x, fa_rt_tensor *out, fa_rt_al al);

/* ---- index_ops.c: data movement by index ---- */

fa_status fa_rt_concat(const fa_rt_tensor *const *ins, uint32_t n, int64_t axis, fa_rt_tensor *out,
                       fa_rt_al al);
/* Splits into |nout| outputs: sizes from |split| (i64 tensor) if given, else equal parts
 * (the last smaller, as opset 18's num_outputs). On error no output is held. */
fa_status fa_rt_split(fa_rt_in x, int64_t axis, fa_rt_in split, fa_rt_tensor *outs, uint32_t nout,
                      fa_rt_al al);
/* Slice; |axes| and |steps| may be NULL. */
fa_status fa_rt_slice(fa_rt_in x, fa_rt_in starts, fa_rt_in ends, fa_rt_in axes, fa_rt_in steps,
                      fa_rt_tensor *out, fa_rt_al al);
fa_status fa_rt_gather(fa_rt_in data, fa_rt_in indices, int64_t axis, fa_rt_tensor *out,
                       fa_rt_al al);
fa_status fa_rt_gather_elements(fa_rt_in data, fa_rt_in indices, int64_t axis, fa_rt_tensor *out,
                                fa_rt_al al);
/* Pad; |mode| "constant" (or NULL), "reflect", "edge", "wrap"; |value|, |axes| may be NULL. */
fa_status fa_rt_pad(fa_rt_in x, fa_rt_in pads, fa_rt_in value, fa_rt_in axes, const char *mode,
                    fa_rt_tensor *out, fa_rt_al al);
/* Trilu on the last two dims; |k| a scalar i64 tensor or NULL. */
fa_status fa_rt_trilu(fa_rt_in x, fa_rt_in k, bool upper, fa_rt_tensor *out, fa_rt_al al);

/* ---- scatter.c: scatter and index-building ops ---- */

typedef enum fa_rt_scatter_reduction {
    FA_RT_SCATTER_NONE,
    FA_RT_SCATTER_ADD,
    FA_RT_SCATTER_MUL,
    FA_RT_SCATTER_MAX,
    FA_RT_SCATTER_MIN,
} fa_rt_scatter_reduction;
fa_status fa_rt_scatter_elements(fa_rt_in data, fa_rt_in indices, fa_rt_in updates, int64_t axis,
                                 fa_rt_scatter_reduction red, fa_rt_tensor *out, fa_rt_al al);
fa_status fa_rt_scatter_nd(fa_rt_in data, fa_rt_in indices, fa_rt_in updates,
                           fa_rt_scatter_reduction red, fa_rt_tensor *out, fa_rt_al al);
fa_status fa_rt_gather_nd(fa_rt_in data, fa_rt_in indices, int64_t batch_dims, fa_rt_tensor *out,
                          fa_rt_al al);
/* OneHot: |values| = [off, on]; output dtype of |values|, new axis at |axis|. */
fa_status fa_rt_one_hot(fa_rt_in indices, fa_rt_in depth, fa_rt_in values, int64_t axis,
                        fa_rt_tensor *out, fa_rt_al al);
/* NonZero: i64 [rank, count] coordinates in row-major order. */
fa_status fa_rt_non_zero(fa_rt_in x, fa_rt_tensor *out, fa_rt_al al);

/* ---- resize.c ---- */

typedef struct fa_rt_resize_params {
    const char *mode;         /* "nearest" (default), "linear", "cubic" */
    const char *coord_mode;   /* coordinate_transformation_mode, default "half_pixel" */
    const char *nearest_mode; /* default "round_prefer_floor" */
    double cubic_coeff_a;     /* default -0.75 */
    bool exclude_outside;
    double extrapolation_value; /* for tf_crop_and_resize */
} fa_rt_resize_params;
/* Resize (opset 11-18 without axes); exactly one of |scales| (f32) and |sizes| (i64); |roi|
 * only for tf_crop_and_resize. */
fa_status fa_rt_resize(fa_rt_in x, fa_rt_in roi, fa_rt_in scales, fa_rt_in sizes,
                       const fa_rt_resize_params *p, fa_rt_tensor *out, fa_rt_al al);

/* ---- einsum.c ---- */

/* Einsum with explicit or implicit output ("ij,jk->ik", "ii", "...ij->...ji"). */
fa_status fa_rt_einsum(const char *equation, const fa_rt_tensor *const *ins, uint32_t n,
                       fa_rt_tensor *out, fa_rt_al al);

/* ---- quant.c ---- */

/* QuantizeLinear; |zero_point| NULL gives u8 output with zero point 0. */
fa_status fa_rt_quantize_linear(fa_rt_in x, fa_rt_in scale, fa_rt_in zero_point, int64_t axis,
                                fa_rt_tensor *out, fa_rt_al al);
fa_status fa_rt_dequantize_linear(fa_rt_in x, fa_rt_in scale, fa_rt_in zero_point, int64_t axis,
                                  fa_rt_tensor *out, fa_rt_al al);
/* Outputs y (u8), y_scale (f32 scalar), y_zero_point (u8 scalar). */
fa_status fa_rt_dynamic_quantize_linear(fa_rt_in x, fa_rt_tensor *out_y, fa_rt_tensor *out_scale,
                                        fa_rt_tensor *out_zero_point, fa_rt_al al);
/* MatMulInteger (u8/i8 operands, i32 output); zero points may be NULL. */
fa_status fa_rt_matmul_integer(fa_rt_in a, fa_rt_in b, fa_rt_in a_zero_point, fa_rt_in b_zero_point,
                               fa_rt_tensor *out, fa_rt_al al);
/* com.microsoft MatMulNBits: A[..., K] times dequantized B^T ([N, K] from blocks). */
fa_status fa_rt_matmul_nbits(fa_rt_in a, fa_rt_in b, fa_rt_in scales, fa_rt_in zero_points,
                             fa_rt_in bias, int64_t k, int64_t n, int64_t bits, int64_t block_size,
                             fa_rt_tensor *out, fa_rt_al al);

/* ---- qops.c: the quantized graph's ops (ir/ops.def has the exact semantics) ---- */

/* token_type: parses |rule| (runtime/token_type.h) and evaluates it into u8 [B, T], B and T the
 * first two dims of |src| (rank >= 2; for input / == rules exactly [B, T], integer or bool). */
fa_status fa_rt_token_type(const char *rule, fa_rt_in src, fa_rt_tensor *out, fa_rt_al al);
/* routed_transform: y[r, :] = x[r, :] a[tt[r]] over the rows r of x [..., d] (f32); |tt| u8 with
 * x's dims but the last, or NULL (type 0); a f32 [K, d, d], 1 <= K <= 8. A type >= K is an error
 * naming the token (flat row index). */
fa_status fa_rt_routed_transform(fa_rt_in x, fa_rt_in tt, fa_rt_in a, fa_rt_tensor *out,
                                 fa_rt_al al);
/* quantize: per-row symmetric |bits| (4 or 8) quantization of x f32 [..., d] into
 * |out_codes| i8 [..., d] and |out_scales| f32 [..., 1]; |tt| (NULL: type 0) picks each row's
 * ratio in |clip| f32 [K] (NULL: 1.0). Non-finite inputs are errors naming the row. */
fa_status fa_rt_quantize(fa_rt_in x, fa_rt_in tt, fa_rt_in clip, int64_t bits,
                         fa_rt_tensor *out_codes, fa_rt_tensor *out_scales, fa_rt_al al);
/* qlinear: codes i8 [..., K], scales f32 [..., 1], wq i8 / i4 [N, K], wscale f32 [N, G] (G = K /
 * |group|, or 1 when |group| is 0), bias f32 [N] or NULL -> f32 [..., N]. */
fa_status fa_rt_qlinear(fa_rt_in codes, fa_rt_in scales, fa_rt_in wq, fa_rt_in wscale,
                        fa_rt_in bias, int64_t group, fa_rt_tensor *out, fa_rt_al al);
/* dequantize: wq i8 / i4 [N, K] times wscale f32 [N, G] per group -> f32 [N, K]. */
fa_status fa_rt_dequantize(fa_rt_in wq, fa_rt_in wscale, int64_t group, fa_rt_tensor *out,
                           fa_rt_al al);

/* ---- tquant.c: routed_transform + quantize fused (the twin of codegen/tquant.c) ---- */

/* transform_quantize: quantize(routed_transform(x, tt, a), tt, clip) {bits} in one pass, without
 * the f32 intermediate: per row r of x f32 [..., d] with type k = tt[r] (|tt| NULL: 0),
 * z_j = sum_i x_i a[k, i, j] summed in f32 for i = 0, 1, ... in order (each product rounded,
 * never fused), then fa_rt_quantize's rule with ratio clip[k] (|clip| NULL: 1.0) and |bits| 4 or
 * 8 into |out_codes| i8 [..., d] and |out_scales| f32 [..., 1]. a f32 [K, d, d], 1 <= K <= 8;
 * a type without a transform or a ratio, and a non-finite z, are errors naming the row. */
fa_status fa_rt_transform_quantize(fa_rt_in x, fa_rt_in tt, fa_rt_in a, fa_rt_in clip, int64_t bits,
                                   fa_rt_tensor *out_codes, fa_rt_tensor *out_scales, fa_rt_al al);

#endif
