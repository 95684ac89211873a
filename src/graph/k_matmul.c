/* k_matmul.c - ONNX Gemm (alpha, beta, transA/B, broadcast C) and MatMul (numpy semantics).
**
** Both end in cblas_sgemm (sgemv for a single row). Gemm writes beta*C broadcast into Y, then
** accumulates alpha*A'B' in blocks fixed by its sizes (sgemm_fixed: the same bits at any thread
** count). MatMul promotes 1-D operands, broadcasts the batch dims and calls sgemm
** per batch (batches in parallel), or once (sgemm_fixed) with the batches stacked when B has a
** single batch and A's batches are all of the output's. BLAS always runs single-threaded: one product is split
** into blocks of rows or columns run by pn_par_for (k_par.c), so OpenBLAS's threads never compete
** with ours, and a run on a loaded machine never waits for a helper that has not started.
** A MatMul by a constant 2-D B in the fused executor (pn_matmul_run_cached: BERT's linear layers)
** runs on k_gemm.c instead, B packed once: OpenBLAS repacks B on every call and, with this
** machine's OPENBLAS_CORETYPE=Haswell, runs 8-wide AVX2 kernels on an AVX-512 CPU. */
#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_dense.h"
#include "graph/kernels.h"
#include "util/status.h"

/* ---- one product, split among threads ---- */

/* C (m x n, ldc) = alpha * op(A) op(B) + beta * C, row-major, as cblas_sgemm. */
struct sg_job {
  bool ta, tb, split_n;
  int64_t m, n, k, lda, ldb, ldc, per;
  float alpha, beta;
  const float *a, *b;
  float *c;
};

static void sg_block(const struct sg_job *j, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const float *a = j->a + (j->ta ? m0 : m0 * j->lda), *b = j->b + (j->tb ? n0 * j->ldb : n0);
  float *c = j->c + m0 * j->ldc + n0;
  int m = (int)(m1 - m0), n = (int)(n1 - n0);
  if (m == 1) {   /* a row vector times B: sgemv over B, read once and not packed */
    int incx = j->ta ? (int)j->lda : 1;
    if (j->tb)   /* B is n x k: c = B a */
      cblas_sgemv(CblasRowMajor, CblasNoTrans, n, (int)j->k, j->alpha, b, (int)j->ldb, a, incx,
                  j->beta, c, 1);
    else         /* B is k x n: c = B' a */
      cblas_sgemv(CblasRowMajor, CblasTrans, (int)j->k, n, j->alpha, b, (int)j->ldb, a, incx,
                  j->beta, c, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans,
              m, n, (int)j->k, j->alpha, a, (int)j->lda, b, (int)j->ldb, j->beta, c, (int)j->ldc);
}

static void sg_chunk(void *arg, int64_t ch) {
  const struct sg_job *j = arg;
  int64_t total = j->split_n ? j->n : j->m, lo = ch * j->per;
  int64_t hi = lo + j->per < total ? lo + j->per : total;
  if (lo >= hi) return;
  if (j->split_n) sg_block(j, 0, j->m, lo, hi);
  else sg_block(j, lo, hi, 0, j->n);
}

/* The product in nchunk blocks of whole 16s of columns (or rows, when there are more rows; chunks
** of at most (total + 15) / 16) run by pn_par_for on `threads`, OpenBLAS single-threaded. */
static void sg_run(int threads, struct sg_job *j, int64_t nchunk) {
  j->split_n = j->n >= j->m;
  int64_t total = j->split_n ? j->n : j->m;
  if (nchunk < 1) nchunk = 1;
  j->per = ((total + nchunk - 1) / nchunk + 15) / 16 * 16;
  pn_blas_serial_begin();
  pn_par_for(threads, (total + j->per - 1) / j->per, sg_chunk, j);
  pn_blas_serial_end();
}

/* A product (Gemm's, or a MatMul's single one) in blocks that depend on its sizes only, never on the
** threads: up to 8 of at least 64 columns (or rows, when there are more rows; 128 when both are over
** 1, so that repacking the other operand per block stays small), from 2^18 multiply-adds. One
** thread runs the same blocks in turn, so each output comes from the same BLAS call at any thread
** count. The blocks used to follow the threads (up to 4 a thread from 1M multiply-adds), and
** OpenBLAS's result for a column depends on the block it is in: resnet18 at 64x3x32x32's fc Gemm
** differed between 1 and 2 threads, as did a MatMul of a non-constant 2-D B (test_matmul_threads).
** A single row (a classifier on one image: 512 or 1280 -> 1000, 2-5 MB of weights read once) is
** split as well. All dims must fit an int (checked by the callers). */
static void sgemm_fixed(int threads, struct sg_job *j) {
  int64_t total = j->n >= j->m ? j->n : j->m, min_w = j->m > 1 && j->n > 1 ? 128 : 64, nchunk = 1;
  if ((double)j->m * (double)j->n * (double)j->k >= (double)(1 << 18))
    nchunk = total / min_w < 8 ? total / min_w : 8;
  sg_run(threads, j, nchunk);
}

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
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s (float32 only)",
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
  struct sg_job job = {g.trans_a != 0, g.trans_b != 0, false, m, n, g.k, at->dims[1], bt->dims[1],
                       n, 0, g.alpha, ct ? 1.0f : 0.0f, at->data, bt->data, yp};
  sgemm_fixed(omp_get_max_threads(), &job);
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

struct mm_job {
  const struct matmul_geo *g;
  const int64_t *sa, *sb;
  const float *a, *b;
  float *y;
  int64_t m, n, k;
};

static void mm_batch(void *arg, int64_t bi) {
  const struct mm_job *j = arg;
  int64_t oa = 0, ob = 0, rem = bi;
  for (int i = j->g->nb - 1; i >= 0; i--) {
    int64_t ix = rem % j->g->batch[i];
    rem /= j->g->batch[i];
    oa += ix * j->sa[i];
    ob += ix * j->sb[i];
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)j->m, (int)j->n, (int)j->k, 1.0f,
              j->a + oa * j->g->m * j->k, (int)j->k, j->b + ob * j->k * j->n, (int)j->n, 0.0f,
              j->y + bi * j->m * j->n, (int)j->n);
}

/* ---- MatMul by a constant 2-D B: B packed once for k_gemm.c ---- */

struct pn_matmul_cache {
  const void *src;             /* the B it was packed from (a constant of the graph) */
  int64_t k, n;
  float *bp;                   /* B as pn_gemm_run's pre-packed panels, 64-byte aligned */
};

void pn_matmul_cache_free(struct pn_matmul_cache *c) {
  if (!c) return;
  free(c->bp);
  free(c);
}

bool pn_matmul_cache_packed(const struct pn_matmul_cache *c) { return c && c->bp; }

/* A's rows, packed per call, kept per thread across calls. */
static _Thread_local float *tl_ap;
static _Thread_local size_t tl_ap_cap;

/* Y (m x n) = A (m x k, A's batches stacked into rows) * B (k x n, constant): B packed into the
** cache once (NR-column panels of all k rows), A into MR-row panels per call, then column blocks
** of whole panels among the threads. 0 done, 1 not taken (out of memory: the BLAS path). */
static int matmul_packed(struct pn_matmul_cache **cache, const float *ap, const float *bp,
                         float *yp, int64_t m, int64_t k, int64_t n) {
  struct pn_matmul_cache *c = *cache;
  if (!c && !(*cache = c = calloc(1, sizeof *c))) return 1;
  if (c->bp && (c->src != bp || c->k != k || c->n != n)) {
    free(c->bp);
    c->bp = NULL;
  }
  if (!c->bp) {
    int64_t panels = (n + PN_GEMM_NR - 1) / PN_GEMM_NR;
    size_t bytes = ((size_t)(panels * PN_GEMM_NR * k) * sizeof(float) + 63) / 64 * 64;
    if (!(c->bp = aligned_alloc(64, bytes))) return 1;
    struct pn_gemm_rows rows = {bp, n};
    pn_gemm_packb_rows(&rows, 0, k, 0, n, c->bp);
    c->src = bp;
    c->k = k;
    c->n = n;
  }
  size_t need = pn_gemm_packed_size(m, k);
  if (need > tl_ap_cap) {
    free(tl_ap);
    tl_ap_cap = 0;
    if (!(tl_ap = malloc(need * sizeof *tl_ap))) return 1;
    tl_ap_cap = need;
  }
  pn_gemm_pack(ap, k, m, k, tl_ap);
  int threads = omp_get_max_threads();
  if (threads < 1 || (double)m * (double)n * (double)k < 1e6) threads = 1;
  return pn_gemm_run_cols(tl_ap, m, k, n, NULL, c->bp, yp, n, NULL,
                          (struct pn_act){PN_ACT_NONE, 0, 0, NULL, NULL}, threads);
}

int pn_run_matmul(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor *const *out, int n_out) {
  (void)n_out;
  return pn_matmul_run_cached(a, in, n_in, out[0], NULL);
}

int pn_matmul_run_cached(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                         struct pn_tensor *y, struct pn_matmul_cache **cache) {
  (void)n_in;
  const struct pn_tensor *at = in[0], *bt = in[1];
  if (!at || !bt || !y) return pn_op_err(a, PN_ERR_INVALID, "missing input A or B");
  if (at->dtype != PN_DT_FLOAT || bt->dtype != PN_DT_FLOAT || y->dtype != PN_DT_FLOAT)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s (float32 only)",
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
  if (cache && nbatch == 1 && bt->ndim == 2) {
    int prc = matmul_packed(cache, ap, bp, yp, m, k, n);
    if (prc < 0) return pn_op_err(a, PN_ERR_NOMEM, "out of memory for the packed GEMM's buffer");
    if (prc == 0) return PN_OK;
  }
  int threads = omp_get_max_threads();
  if (nbatch == 1) {   /* one product, in blocks fixed by its sizes (the same bits at any thread count) */
    struct sg_job job = {false, false, false, m, n, k, k, n, n, 0, 1.0f, 0.0f, ap, bp, yp};
    sgemm_fixed(threads, &job);
    return PN_OK;
  }
  /* Many products (attention heads): batches in parallel, each on single-threaded BLAS. */
  struct mm_job job = {&g, sa, sb, ap, bp, yp, m, n, k};
  if ((double)nbatch * (double)m * (double)n * (double)k < 1e6) threads = 1;
  pn_blas_serial_begin();
  pn_par_for(threads, nbatch, mm_batch, &job);
  pn_blas_serial_end();
  return PN_OK;
}
