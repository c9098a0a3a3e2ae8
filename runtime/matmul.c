/* MatMul (numpy semantics, broadcast batch dims) and Gemm. f32 and f64 go to OpenBLAS
 * (cblas_sgemm / cblas_dgemm); other dtypes use plain loops (double or wrapping int64
 * accumulation). */
#include <cblas.h>
#include <string.h>

#include "runtime/kernel_util.h"

static bool mm_dtype_ok(fa_dtype dt) { return fa_rt_is_float(dt) || fa_rt_is_plain_int(dt); }

/* C[m][n] (+)= sum_k A[m][k] B[k][n] with element strides; generic dtypes. */
static void gemm_loop(fa_dtype dt, const void *a, uint64_t a_off, int64_t a_rs, int64_t a_cs,
                      const void *b, uint64_t b_off, int64_t b_rs, int64_t b_cs, void *c,
                      uint64_t c_off, int64_t m, int64_t n, int64_t k, double alpha,
                      bool accumulate) {
    bool is_f = fa_rt_is_float(dt);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            uint64_t ci = c_off + (uint64_t)(i * n + j);
            if (is_f) {
                double s = 0;
                for (int64_t p = 0; p < k; p++)
                    s += fa_rt_load_f64(dt, a, a_off + (uint64_t)(i * a_rs + p * a_cs)) *
                         fa_rt_load_f64(dt, b, b_off + (uint64_t)(p * b_rs + j * b_cs));
                s *= alpha;
                if (accumulate)
                    s += fa_rt_load_f64(dt, c, ci);
                fa_rt_store_f64(dt, c, ci, s);
            } else {
                uint64_t s = 0;
                for (int64_t p = 0; p < k; p++)
                    s += (uint64_t)fa_rt_load_i64(dt, a, a_off + (uint64_t)(i * a_rs + p * a_cs)) *
                         (uint64_t)fa_rt_load_i64(dt, b, b_off + (uint64_t)(p * b_rs + j * b_cs));
                if (alpha != 1.0)
                    s = (uint64_t)(int64_t)((double)(int64_t)s * alpha);
                if (accumulate)
                    s += (uint64_t)fa_rt_load_i64(dt, c, ci);
                fa_rt_store_i64(dt, c, ci, (int64_t)s);
            }
        }
}

/* One row-major product block: C = alpha * op(A) op(B) + (accumulate ? C : 0). */
static void gemm_block(fa_dtype dt, const void *a, uint64_t a_off, bool ta, const void *b,
                       uint64_t b_off, bool tb, void *c, uint64_t c_off, int64_t m, int64_t n,
                       int64_t k, double alpha, bool accumulate) {
    if (m == 0 || n == 0)
        return;
    int64_t lda = ta ? m : k, ldb = tb ? k : n;
    if (dt == FA_DT_F32 && k > 0) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    (blasint)m, (blasint)n, (blasint)k, (float)alpha, (const float *)a + a_off,
                    (blasint)lda, (const float *)b + b_off, (blasint)ldb, accumulate ? 1.0f : 0.0f,
                    (float *)c + c_off, (blasint)n);
    } else if (dt == FA_DT_F64 && k > 0) {
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    (blasint)m, (blasint)n, (blasint)k, alpha, (const double *)a + a_off,
                    (blasint)lda, (const double *)b + b_off, (blasint)ldb, accumulate ? 1.0 : 0.0,
                    (double *)c + c_off, (blasint)n);
    } else {
        gemm_loop(dt, a, a_off, ta ? 1 : lda, ta ? lda : 1, b, b_off, tb ? 1 : ldb, tb ? ldb : 1, c,
                  c_off, m, n, k, alpha, accumulate);
    }
}

/* BLAS takes int dims; refuse anything larger. */
static fa_status check_blas_dims(const char *op, int64_t m, int64_t n, int64_t k) {
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
        return fa_rt_err(op, "matrix dimension too large");
    return FA_OK;
}

fa_status fa_rt_matmul(fa_rt_in a, fa_rt_in b, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (a->dtype != b->dtype)
        return fa_rt_err("MatMul", "operand dtypes differ (%s and %s)", fa_dtype_name(a->dtype),
                         fa_dtype_name(b->dtype));
    if (!mm_dtype_ok(a->dtype))
        return fa_rt_err_dtype("MatMul", a->dtype);
    if (a->rank < 1 || b->rank < 1)
        return fa_rt_err("MatMul", "operands must have rank >= 1");
    /* promote 1-D operands */
    int64_t m = a->rank == 1 ? 1 : a->dims[a->rank - 2], k = a->dims[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    int64_t n = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    if (k != kb) {
        char b1[96], b2[96];
        return fa_rt_err("MatMul", "inner dimensions differ: %s and %s",
                         fa_rt_tensor_describe(a, b1, sizeof b1),
                         fa_rt_tensor_describe(b, b2, sizeof b2));
    }
    FA_TRY(check_blas_dims("MatMul", m, n, k));
    int ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
    int brank = ba > bb ? ba : bb;
    int64_t bdims[FA_MAX_RANK], sa[FA_MAX_RANK], sb[FA_MAX_RANK];
    int64_t stride_a = m * k, stride_b = k * n;
    for (int i = brank - 1; i >= 0; i--) {
        int ia = i - (brank - ba), ib = i - (brank - bb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return fa_rt_err("MatMul", "batch dimensions %lld and %lld do not broadcast",
                             (long long)da, (long long)db);
        bdims[i] = da == 1 ? db : da;
        sa[i] = da == 1 ? 0 : stride_a;
        sb[i] = db == 1 ? 0 : stride_b;
        stride_a *= da;
        stride_b *= db;
    }
    int64_t odims[FA_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < brank; i++)
        odims[orank++] = bdims[i];
    if (a->rank > 1)
        odims[orank++] = m;
    if (b->rank > 1)
        odims[orank++] = n;
    FA_TRY(fa_rt_alloc_out("MatMul", out, a->dtype, orank, odims, al));
    uint64_t nbatch = 1;
    bool b_shared = true;
    for (int i = 0; i < brank; i++) {
        nbatch *= (uint64_t)bdims[i];
        b_shared = b_shared && sb[i] == 0;
    }
    if (nbatch == 0)
        return FA_OK;
    bool a_full = true; /* a's batch dims all present (no broadcast on a) */
    for (int i = 0; i < brank; i++)
        a_full = a_full && (sa[i] != 0 || bdims[i] == 1);
    if (b_shared && a_full && (uint64_t)m * nbatch <= INT32_MAX) {
        /* fold the batch into M: one big product against the shared B */
        gemm_block(a->dtype, a->data, 0, false, b->data, 0, false, out->data, 0,
                   (int64_t)nbatch * m, n, k, 1.0, false);
        return FA_OK;
    }
    int64_t idx[FA_MAX_RANK] = {0};
    uint64_t off_a = 0, off_b = 0, off_c = 0;
    for (uint64_t t = 0; t < nbatch; t++) {
        gemm_block(a->dtype, a->data, off_a, false, b->data, off_b, false, out->data, off_c, m, n,
                   k, 1.0, false);
        off_c += (uint64_t)(m * n);
        for (int d = brank - 1; d >= 0; d--) {
            off_a += (uint64_t)sa[d];
            off_b += (uint64_t)sb[d];
            if (++idx[d] < bdims[d])
                break;
            off_a -= (uint64_t)(sa[d] * bdims[d]);
            off_b -= (uint64_t)(sb[d] * bdims[d]);
            idx[d] = 0;
        }
    }
    return FA_OK;
}

fa_status fa_rt_gemm(fa_rt_in a, fa_rt_in b, fa_rt_in c, double alpha, double beta, bool trans_a,
                     bool trans_b, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (a->dtype != b->dtype || (c && c->dtype != a->dtype))
        return fa_rt_err("Gemm", "operand dtypes differ");
    if (!mm_dtype_ok(a->dtype))
        return fa_rt_err_dtype("Gemm", a->dtype);
    if (a->rank != 2 || b->rank != 2)
        return fa_rt_err("Gemm", "A and B must be 2-D");
    int64_t m = trans_a ? a->dims[1] : a->dims[0], k = trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = trans_b ? b->dims[1] : b->dims[0], n = trans_b ? b->dims[0] : b->dims[1];
    if (k != kb)
        return fa_rt_err("Gemm", "inner dimensions differ (%lld and %lld)", (long long)k,
                         (long long)kb);
    FA_TRY(check_blas_dims("Gemm", m, n, k));
    int64_t cs[2] = {0, 0};
    if (c) {
        if (c->rank > 2)
            return fa_rt_err("Gemm", "C must have rank <= 2");
        int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        if ((cm != 1 && cm != m) || (cn != 1 && cn != n))
            return fa_rt_err("Gemm", "C does not broadcast to [%lld, %lld]", (long long)m,
                             (long long)n);
        cs[0] = cm == 1 ? 0 : cn;
        cs[1] = cn == 1 ? 0 : 1;
    }
    int64_t odims[2] = {m, n};
    FA_TRY(fa_rt_alloc_out("Gemm", out, a->dtype, 2, odims, al));
    bool accumulate = c && beta != 0;
    if (accumulate)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                uint64_t src = (uint64_t)(i * cs[0] + j * cs[1]), dst = (uint64_t)(i * n + j);
                if (fa_rt_is_float(a->dtype))
                    fa_rt_store_f64(a->dtype, out->data, dst,
                                    beta * fa_rt_load_f64(a->dtype, c->data, src));
                else
                    fa_rt_store_i64(
                        a->dtype, out->data, dst,
                        (int64_t)(beta * (double)fa_rt_load_i64(a->dtype, c->data, src)));
            }
    gemm_block(a->dtype, a->data, 0, trans_a, b->data, 0, trans_b, out->data, 0, m, n, k, alpha,
               accumulate);
    return FA_OK;
}

fa_status fa_rt_linear(fa_rt_in x, fa_rt_in w, fa_rt_in bias, fa_rt_tensor *out, fa_rt_al al) {
    memset(out, 0, sizeof *out);
    if (x->dtype != w->dtype || (bias && bias->dtype != x->dtype))
        return fa_rt_err("linear", "operand dtypes differ");
    if (!mm_dtype_ok(x->dtype))
        return fa_rt_err_dtype("linear", x->dtype);
    if (x->rank < 1 || w->rank != 2 || x->dims[x->rank - 1] != w->dims[1])
        return fa_rt_err("linear", "x [..., K] and W [N, K] do not match");
    int64_t k = w->dims[1], n = w->dims[0];
    if (bias && (bias->rank != 1 || bias->dims[0] != n))
        return fa_rt_err("linear", "bias must have shape [%lld]", (long long)n);
    uint64_t m = 1;
    for (int i = 0; i < x->rank - 1; i++)
        m *= (uint64_t)x->dims[i];
    FA_TRY(check_blas_dims("linear", (int64_t)m, n, k));
    int64_t dims[FA_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[x->rank - 1] = n;
    FA_TRY(fa_rt_alloc_out("linear", out, x->dtype, x->rank, dims, al));
    bool accumulate = bias != NULL;
    if (bias)
        for (uint64_t i = 0; i < m; i++)
            memcpy((char *)out->data + i * bias->nbytes, bias->data, (size_t)bias->nbytes);
    gemm_block(x->dtype, x->data, 0, false, w->data, 0, true, out->data, 0, (int64_t)m, n, k, 1.0,
               accumulate);
    return FA_OK;
}
