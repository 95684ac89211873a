/* k_matmul.c - ONNX Gemm (alpha, beta, transA/B, broadcast C) and MatMul (numpy semantics).
**
** Both end in cblas_sgemm. Gemm writes beta*C broadcast into Y, then accumulates alpha*A'B'.
** MatMul promotes 1-D operands, broadcasts the batch dims and calls sgemm per batch (batches in
** parallel under OpenMP, each on single-threaded BLAS), or once with the batches stacked when B
** has a single batch and A's batches are all of the output's. */
#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <string.h>

#include "graph/k_dense.h"
#include "graph/kernels.h"
#include "util/status.h"

/* ---- Gemm ---- */

struct gemm_geo {
  int64_t m, k, n, trans_a, trans_b;
  float alpha, beta;
};

static int gemm_setup(const struct pn_op_args *a, const struct pn_shape *as,
                      const struct pn_shape *bs, const struct pn_shape *cs, struct gemm_geo *g) {
  int rc;
  if ((rc = pn_node_get_int(a->ctx, a->node, "transA", 0, &g->trans_a)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "transB", 0, &g->trans_b)) ||
      (rc = pn_node_get_float(a->ctx, a->node, "alpha", 1.0f, &g->alpha)) ||
      (rc = pn_node_get_float(a->ctx, a->node, "beta", 1.0f, &g->beta)))
    return rc;
  if (g->trans_a != 0 && g->trans_a != 1)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'transA' = %lld must be 0 or 1",
                     (long long)g->trans_a);
  if (g->trans_b != 0 && g->trans_b != 1)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'transB' = %lld must be 0 or 1",
                     (long long)g->trans_b);
  if (as->ndim >= 0 && as->ndim != 2)
    return pn_op_err(a, PN_ERR_INVALID, "input A has rank %d, expected 2", as->ndim);
  if (bs->ndim >= 0 && bs->ndim != 2)
    return pn_op_err(a, PN_ERR_INVALID, "input B has rank %d, expected 2", bs->ndim);
  g->m = as->ndim == 2 ? as->dims[g->trans_a ? 1 : 0] : -1;
  g->k = as->ndim == 2 ? as->dims[g->trans_a ? 0 : 1] : -1;
  int64_t kb = bs->ndim == 2 ? bs->dims[g->trans_b ? 1 : 0] : -1;
  g->n = bs->ndim == 2 ? bs->dims[g->trans_b ? 0 : 1] : -1;
  if (g->k >= 0 && kb >= 0 && g->k != kb)
    return pn_op_err(a, PN_ERR_INVALID, "inner dims differ: A' is %lld x %lld but B' is %lld x %lld",
                     (long long)g->m, (long long)g->k, (long long)kb, (long long)g->n);
  if (g->k < 0) g->k = kb;
  if (cs && cs->ndim >= 0) {
    if (cs->ndim > 2)
      return pn_op_err(a, PN_ERR_INVALID, "input C has rank %d, expected at most 2", cs->ndim);
    int64_t want[2] = {g->m, g->n};
    for (int i = 0; i < cs->ndim; i++) {
      int64_t cd = cs->dims[i], wd = want[2 - cs->ndim + i];
      if (cd >= 0 && cd != 1 && wd >= 0 && cd != wd)
        return pn_op_err(a, PN_ERR_INVALID,
                         "input C (dim %d = %lld) does not broadcast to Y = %lld x %lld", i,
                         (long long)cd, (long long)g->m, (long long)g->n);
    }
  }
  return PN_OK;
}

int pn_infer_gemm(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                  struct pn_shape *out, int n_out) {
  int rc;
  const struct pn_shape *cs = pn_dense_has_input(a, n_in, 2) ? &in[2] : NULL;
  if ((rc = pn_dense_check_dtype(a, "A", in[0].dtype)) ||
      (rc = pn_dense_check_dtype(a, "B", in[1].dtype)) ||
      (cs && (rc = pn_dense_check_dtype(a, "C", cs->dtype))))
    return rc;
  struct gemm_geo g;
  if ((rc = gemm_setup(a, &in[0], &in[1], cs, &g))) return rc;
  int64_t dims[2] = {g.m, g.n};
  pn_shape_set(&out[0], in[0].dtype != PN_DT_UNDEFINED ? in[0].dtype : in[1].dtype, 2, dims);
  return PN_OK;
}

static void shape_of(const struct pn_tensor *t, struct pn_shape *s) {
  if (!t) pn_shape_set(s, PN_DT_UNDEFINED, -1, NULL);
  else pn_shape_set(s, t->dtype, t->ndim, t->dims);
}

int pn_run_gemm(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *at = in[0], *bt = in[1], *ct = n_in > 2 ? in[2] : NULL;
  struct pn_tensor *y = out[0];
  if (!at || !bt || !y) return pn_op_err(a, PN_ERR_INVALID, "missing input A or B");
  if (at->dtype != PN_DT_FLOAT || bt->dtype != PN_DT_FLOAT || (ct && ct->dtype != PN_DT_FLOAT) ||
      y->dtype != PN_DT_FLOAT)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "dtype %s not supported (float32 only)",
                     pn_dtype_name(at->dtype != PN_DT_FLOAT ? at->dtype : bt->dtype));
  struct pn_shape as, bs, cs;
  shape_of(at, &as);
  shape_of(bt, &bs);
  shape_of(ct, &cs);
  struct gemm_geo g;
  int rc = gemm_setup(a, &as, &bs, ct ? &cs : NULL, &g);
  if (rc) return rc;
  if (y->ndim != 2 || y->dims[0] != g.m || y->dims[1] != g.n)
    return pn_op_err(a, PN_ERR_INVALID, "output Y has the wrong shape");
  if (g.m > INT_MAX || g.n > INT_MAX || g.k > INT_MAX)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "GEMM dimensions exceed the BLAS int range");
  float *yp = y->data;
  int64_t m = g.m, n = g.n;
  if (m == 0 || n == 0) return PN_OK;
  if (ct) {
    const float *cp = ct->data;
    int64_t cr = ct->ndim == 2 ? ct->dims[0] : 1, cc = ct->ndim >= 1 ? ct->dims[ct->ndim - 1] : 1;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        yp[i * n + j] = g.beta * cp[(cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j)];
  } else {
    memset(yp, 0, (size_t)(m * n) * sizeof *yp);
  }
  if (g.k == 0) return PN_OK;
  cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans,
              g.trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)g.k, g.alpha, at->data,
              (int)at->dims[1], bt->data, (int)bt->dims[1], ct ? 1.0f : 0.0f, yp, (int)n);
  return PN_OK;
}

/* ---- MatMul ---- */

struct matmul_geo {
  int ndim;                          /* output rank, -1 unknown */
  int64_t dims[PN_MAX_DIMS];
  int nb;                            /* batch rank */
  int64_t batch[PN_MAX_DIMS];
  int64_t m, k, n;
};

static int matmul_setup(const struct pn_op_args *a, const struct pn_shape *as,
                        const struct pn_shape *bs, struct matmul_geo *g) {
  if (as->ndim == 0 || bs->ndim == 0)
    return pn_op_err(a, PN_ERR_INVALID, "input %s is a scalar; MatMul needs rank >= 1",
                     as->ndim == 0 ? "A" : "B");
  g->ndim = -1;
  if (as->ndim < 0 || bs->ndim < 0) return PN_OK;
  int na = as->ndim, nbd = bs->ndim;
  g->m = na == 1 ? 1 : as->dims[na - 2];
  g->k = as->dims[na - 1];
  int64_t kb = nbd == 1 ? bs->dims[0] : bs->dims[nbd - 2];
  g->n = nbd == 1 ? 1 : bs->dims[nbd - 1];
  if (g->k >= 0 && kb >= 0 && g->k != kb)
    return pn_op_err(a, PN_ERR_INVALID, "inner dims differ: A has K = %lld but B has K = %lld",
                     (long long)g->k, (long long)kb);
  if (g->k < 0) g->k = kb;
  int ba = na > 2 ? na - 2 : 0, bb = nbd > 2 ? nbd - 2 : 0;
  int rc = pn_broadcast_shape(a, ba, as->dims, bb, bs->dims, &g->nb, g->batch);
  if (rc) return rc;
  int nd = g->nb + (na > 1) + (nbd > 1);
  if (nd > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "output rank %d too large", nd);
  memcpy(g->dims, g->batch, sizeof(int64_t) * (size_t)g->nb);
  nd = g->nb;
  if (na > 1) g->dims[nd++] = g->m;
  if (nbd > 1) g->dims[nd++] = g->n;
  g->ndim = nd;
  return PN_OK;
}

int pn_infer_matmul(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                    struct pn_shape *out, int n_out) {
  int rc;
  if ((rc = pn_dense_check_dtype(a, "A", in[0].dtype)) ||
      (rc = pn_dense_check_dtype(a, "B", in[1].dtype)))
    return rc;
  struct matmul_geo g;
  if ((rc = matmul_setup(a, &in[0], &in[1], &g))) return rc;
  pn_shape_set(&out[0], in[0].dtype != PN_DT_UNDEFINED ? in[0].dtype : in[1].dtype, g.ndim,
               g.dims);
  return PN_OK;
}

/* Matrix-count strides of an operand's batch dims aligned to the output batch (0 = broadcast). */
static void batch_strides(const struct pn_tensor *t, const struct matmul_geo *g, int64_t *st) {
  int tb = t->ndim > 2 ? t->ndim - 2 : 0;
  int64_t s = 1;
  for (int i = g->nb - 1; i >= 0; i--) {
    int ti = i - (g->nb - tb);
    if (ti < 0 || t->dims[ti] == 1) {
      st[i] = 0;
    } else {
      st[i] = s;
    }
    if (ti >= 0) s *= t->dims[ti];
  }
}

int pn_run_matmul(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *at = in[0], *bt = in[1];
  struct pn_tensor *y = out[0];
  if (!at || !bt || !y) return pn_op_err(a, PN_ERR_INVALID, "missing input A or B");
  if (at->dtype != PN_DT_FLOAT || bt->dtype != PN_DT_FLOAT || y->dtype != PN_DT_FLOAT)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "dtype %s not supported (float32 only)",
                     pn_dtype_name(at->dtype != PN_DT_FLOAT ? at->dtype : bt->dtype));
  struct pn_shape as, bs;
  shape_of(at, &as);
  shape_of(bt, &bs);
  struct matmul_geo g;
  int rc = matmul_setup(a, &as, &bs, &g);
  if (rc) return rc;
  bool ok = y->ndim == g.ndim;
  for (int i = 0; ok && i < g.ndim; i++) ok = y->dims[i] == g.dims[i];
  if (!ok) return pn_op_err(a, PN_ERR_INVALID, "output Y has the wrong shape");
  int64_t m = g.m, k = g.k, n = g.n, nbatch = pn_shape_numel(g.nb, g.batch);
  float *yp = y->data;
  const float *ap = at->data, *bp = bt->data;
  if (m == 0 || n == 0 || nbatch == 0) return PN_OK;
  if (k == 0) {
    memset(yp, 0, (size_t)(nbatch * m * n) * sizeof *yp);
    return PN_OK;
  }
  int64_t sa[PN_MAX_DIMS], sb[PN_MAX_DIMS];
  batch_strides(at, &g, sa);
  batch_strides(bt, &g, sb);
  bool b_single = true, a_full = true;
  for (int i = 0; i < g.nb; i++) {
    if (sb[i]) b_single = false;
    if (!sa[i] && g.batch[i] != 1) a_full = false;
  }
  if (b_single && a_full) {   /* stack A's batches into the rows of one GEMM */
    m *= nbatch;
    nbatch = 1;
  }
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "GEMM dimensions exceed the BLAS int range");
  /* Many small products (attention heads): batches in parallel, each on single-threaded BLAS.
  ** Otherwise one product at a time on OpenBLAS's own threads. */
  int threads = omp_get_max_threads();
  bool par = threads > 1 && nbatch >= 2 && (double)nbatch * (double)m * (double)n * (double)k > 1e6;
  if (par) pn_blas_serial_begin();
#pragma omp parallel for schedule(dynamic) if (par)
  for (int64_t bi = 0; bi < nbatch; bi++) {
    int64_t oa = 0, ob = 0, rem = bi;
    for (int i = g.nb - 1; i >= 0; i--) {
      int64_t ix = rem % g.batch[i];
      rem /= g.batch[i];
      oa += ix * sa[i];
      ob += ix * sb[i];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f,
                ap + oa * g.m * k, (int)k, bp + ob * k * n, (int)n, 0.0f, yp + bi * m * n, (int)n);
  }
  if (par) pn_blas_serial_end();
  return PN_OK;
}
