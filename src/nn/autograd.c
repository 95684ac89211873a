/* autograd.c - forward with saved activations and backward over the graph IR, one table of ops.
**
** Every value of the graph gets a buffer sized for max_batch (all activations are kept for the
** backward pass) and, when something upstream is trainable, a gradient buffer. Nodes run in graph
** order; backward walks them in reverse and accumulates (+=) into input gradients, so a value read
** by several nodes (residual connections) sums its gradients. Conv is im2col + cblas_sgemm over a
** chunk of images at once. Conv and pool windows come from graph/window.h, the executor's own
** geometry (auto_pad, asymmetric pads). To make a new op differentiable, add its row to ag_ops
** below (indexed by enum pn_op, so ai.privnn ops are found the same way as ai.onnx ones). */
#include <assert.h>
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph/paf.h"
#include "graph/window.h"
#include "nn/autograd.h"
#include "util/util.h"

#define WS_FLOATS ((int64_t)1 << 22) /* im2col chunk target: 16 MB */

struct ag_val {
  const char *name;
  int ndim;
  int64_t dims[PN_MAX_DIMS];
  float *data;               /* activations: owned; params/consts: the initializer's data */
  float *grad;               /* NULL when no gradient flows here (or none is needed now) */
  float *gbuf;               /* the gradient buffer grad points to when it is needed */
  int64_t cap;               /* floats allocated (activations) */
  bool owned, is_const, is_param, is_state;
  const struct pn_tensor *init; /* initializer, if any */
};

struct ag_node;
struct pn_ag_op {
  int min_in;                /* inputs that must be present */
  /* Parse attributes into nd (called once). */
  int (*setup)(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd);
  /* Output dims from input dims (every call, batch may change). */
  int (*shape)(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd);
  int (*forward)(struct pn_ag *ag, struct ag_node *nd);
  /* Accumulate into the inputs' grads that are non-NULL. */
  void (*backward)(struct pn_ag *ag, struct ag_node *nd);
};

struct ag_node {
  const struct pn_node *node;
  const struct pn_ag_op *op;
  enum pn_op opk;
  int n_in, n_out;
  struct ag_val *in[5], *out[2];
  /* attributes */
  struct pn_window w;        /* Conv, pools: geometry for the input's spatial dims */
  int64_t i0, i1;            /* op-specific ints (transB, count_include_pad, axis) */
  float f0, f1;              /* op-specific floats (epsilon, momentum, ratio) */
  /* saved state */
  int32_t *argmax;
  float *saved;              /* BN: mean[C], invstd[C]; Dropout: mask */
  int64_t saved_cap;
  bool train_stats;          /* BN: last forward used batch statistics */
};

struct pn_ag {
  struct pn_graph *g;
  struct pn_ag_opts opts;
  int n_vals;
  struct ag_val *vals;
  int n_nodes;
  struct ag_node *nodes;
  struct ag_val *input, *output;
  int in_rank;
  int64_t in_dims[PN_MAX_DIMS];
  int n_params;
  struct pn_ag_param *params;
  float *ws, *ws2;           /* conv workspaces */
  int64_t ws_cap, ws2_cap;
  int batch;
  bool train;
  pn_ag_hook hook;           /* may be NULL: see pn_ag_set_hook */
  void *hook_user;
  enum pn_ag_bn bn_mode;
  int64_t bn_count;          /* PN_AG_BN_AVERAGE: training batches averaged so far */
  struct pn_prg prg;         /* dropout */
  double conv_flops, conv_sec, conv_cpu;
};

/* Process CPU seconds (all threads): robust to other processes sharing the machine. */
static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int64_t numel(const struct ag_val *v) { return pn_shape_numel(v->ndim, v->dims); }

static int node_err(struct pn_ctx *ctx, const struct ag_node *nd, int code, const char *what) {
  return pn_err(ctx, code, "node '%s' (%s): %s", pn_node_label(nd->node), nd->node->op_type, what);
}

/* Ints attribute of exactly count entries, or def when absent. */
static int get_ints(struct pn_ctx *ctx, struct ag_node *nd, const char *name, int count,
                    int64_t def, int64_t *dst) {
  int64_t n;
  const int64_t *v;
  int rc = pn_node_get_ints(ctx, nd->node, name, &n, &v);
  if (rc) return rc;
  if (n < 0) {
    for (int i = 0; i < count; i++) dst[i] = def;
    return PN_OK;
  }
  if (n != count)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' must have %d entries",
                  pn_node_label(nd->node), nd->node->op_type, name, count);
  for (int i = 0; i < count; i++) dst[i] = v[i];
  return PN_OK;
}

static int need_rank(struct pn_ctx *ctx, const struct ag_node *nd, int i, int rank) {
  if (nd->in[i]->ndim != rank)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "node '%s' (%s): input %d must have rank %d, has %d",
                  pn_node_label(nd->node), nd->node->op_type, i, rank, nd->in[i]->ndim);
  return PN_OK;
}

static void set_dims(struct ag_val *v, int ndim, const int64_t *dims) {
  v->ndim = ndim;
  memcpy(v->dims, dims, sizeof *dims * (size_t)ndim);
}

static void add_to(float *dst, const float *src, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* ---------------------------------------------------------------- Conv ---- */

/* nd->w for the input's current spatial dims (2-D), by the executor's rules (graph/window.h).
** A Conv's kernel comes from its weight, a pool's from kernel_shape. */
static int window(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd, enum pn_window_kind kind) {
  const struct pn_op_args a = {ctx, nd->node, pn_graph_opset(ag->g, nd->node->domain)};
  struct pn_window *w = &nd->w;
  memset(w, 0, sizeof *w);
  w->nsp = 2;
  for (int i = 0; i < 2; i++) {
    w->in[i] = nd->in[0]->dims[2 + i];
    w->k[i] = kind == PN_WIN_CONV ? nd->in[1]->dims[2 + i] : -1;
  }
  int rc = pn_window_kernel(&a, kind == PN_WIN_POOL, w);
  if (rc == PN_OK) rc = pn_window_init(&a, kind, true, w);
  return rc;
}

static int conv_setup(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  int64_t group;
  int rc = pn_node_get_int(ctx, nd->node, "group", 1, &group);
  if (rc) return rc;
  if (group != 1) return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "only group = 1 is trainable");
  if (need_rank(ctx, nd, 1, 4)) return ctx->status;
  if (nd->n_in > 2 && nd->in[2] && (nd->in[2]->ndim != 1 || nd->in[2]->dims[0] != nd->in[1]->dims[0]))
    return node_err(ctx, nd, PN_ERR_INVALID, "bias must have one entry per output channel");
  return PN_OK;
}

static int conv_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0], *w = nd->in[1];
  if (need_rank(ctx, nd, 0, 4)) return ctx->status;
  if (x->dims[1] != w->dims[1]) return node_err(ctx, nd, PN_ERR_INVALID, "input channels differ from the weight's");
  int rc = window(ctx, ag, nd, PN_WIN_CONV);
  if (rc) return rc;
  int64_t od[4] = {x->dims[0], w->dims[0], nd->w.out[0], nd->w.out[1]};
  set_dims(nd->out[0], 4, od);
  return PN_OK;
}

/* col[k][b*P + p] for images b0..b0+nb */
static void im2col(const struct ag_node *nd, const float *x, int64_t nb, float *col) {
  const struct ag_val *xv = nd->in[0], *yv = nd->out[0];
  int64_t C = xv->dims[1], H = xv->dims[2], W = xv->dims[3];
  const struct pn_window *w = &nd->w;
  int64_t OH = yv->dims[2], OW = yv->dims[3], P = OH * OW, kh = w->k[0], kw = w->k[1];
  int64_t cols = nb * P;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < C * kh * kw; k++) {
    int64_t c = k / (kh * kw), ki = (k / kw) % kh, kj = k % kw;
    float *row = col + k * cols;
    for (int64_t b = 0; b < nb; b++) {
      const float *xc = x + (b * C + c) * H * W;
      for (int64_t oh = 0; oh < OH; oh++) {
        int64_t ih = oh * w->s[0] - w->pb[0] + ki * w->d[0];
        float *r = row + b * P + oh * OW;
        if (ih < 0 || ih >= H) {
          memset(r, 0, sizeof *r * (size_t)OW);
          continue;
        }
        const float *xr = xc + ih * W;
        for (int64_t ow = 0; ow < OW; ow++) {
          int64_t iw = ow * w->s[1] - w->pb[1] + kj * w->d[1];
          r[ow] = (iw >= 0 && iw < W) ? xr[iw] : 0.0f;
        }
      }
    }
  }
}

static void col2im(const struct ag_node *nd, const float *col, int64_t nb, float *dx) {
  const struct ag_val *xv = nd->in[0], *yv = nd->out[0];
  int64_t C = xv->dims[1], H = xv->dims[2], W = xv->dims[3];
  const struct pn_window *w = &nd->w;
  int64_t OH = yv->dims[2], OW = yv->dims[3], P = OH * OW, kh = w->k[0], kw = w->k[1];
  int64_t cols = nb * P;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++)
    for (int64_t ki = 0; ki < kh; ki++)
      for (int64_t kj = 0; kj < kw; kj++) {
        const float *row = col + ((c * kh + ki) * kw + kj) * cols;
        for (int64_t b = 0; b < nb; b++) {
          float *xc = dx + (b * C + c) * H * W;
          for (int64_t oh = 0; oh < OH; oh++) {
            int64_t ih = oh * w->s[0] - w->pb[0] + ki * w->d[0];
            if (ih < 0 || ih >= H) continue;
            const float *r = row + b * P + oh * OW;
            float *xr = xc + ih * W;
            for (int64_t ow = 0; ow < OW; ow++) {
              int64_t iw = ow * w->s[1] - w->pb[1] + kj * w->d[1];
              if (iw >= 0 && iw < W) xr[iw] += r[ow];
            }
          }
        }
      }
}

static int64_t conv_chunk(const struct ag_node *nd) {
  int64_t K = nd->in[1]->dims[1] * nd->w.k[0] * nd->w.k[1];
  int64_t P = nd->out[0]->dims[2] * nd->out[0]->dims[3];
  int64_t nb = WS_FLOATS / (K * P > 0 ? K * P : 1);
  if (nb < 1) nb = 1;
  if (nb > nd->in[0]->dims[0]) nb = nd->in[0]->dims[0];
  return nb;
}

static int conv_forward(struct pn_ag *ag, struct ag_node *nd) {
  double t0 = pn_now(), c0 = cpu_now();
  const struct ag_val *x = nd->in[0], *w = nd->in[1], *b = nd->n_in > 2 ? nd->in[2] : NULL;
  struct ag_val *y = nd->out[0];
  int64_t N = x->dims[0], C = x->dims[1], M = w->dims[0];
  int64_t K = C * nd->w.k[0] * nd->w.k[1], P = y->dims[2] * y->dims[3], nb = conv_chunk(nd);
  for (int64_t b0 = 0; b0 < N; b0 += nb) {
    int64_t cnt = N - b0 < nb ? N - b0 : nb;
    im2col(nd, x->data + b0 * C * x->dims[2] * x->dims[3], cnt, ag->ws);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)(cnt * P), (int)K, 1.0f,
                w->data, (int)K, ag->ws, (int)(cnt * P), 0.0f, ag->ws2, (int)(cnt * P));
    ag->conv_flops += 2.0 * (double)M * (double)K * (double)(cnt * P);
#pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; m++) {
      float bias = b ? b->data[m] : 0.0f;
      for (int64_t i = 0; i < cnt; i++) {
        float *dst = y->data + ((b0 + i) * M + m) * P;
        const float *src = ag->ws2 + m * cnt * P + i * P;
        for (int64_t p = 0; p < P; p++) dst[p] = src[p] + bias;
      }
    }
  }
  ag->conv_sec += pn_now() - t0;
  ag->conv_cpu += cpu_now() - c0;
  return PN_OK;
}

static void conv_backward(struct pn_ag *ag, struct ag_node *nd) {
  double t0 = pn_now(), c0 = cpu_now();
  const struct ag_val *x = nd->in[0], *w = nd->in[1], *b = nd->n_in > 2 ? nd->in[2] : NULL;
  const struct ag_val *y = nd->out[0];
  int64_t N = x->dims[0], C = x->dims[1], M = w->dims[0], HW = x->dims[2] * x->dims[3];
  int64_t K = C * nd->w.k[0] * nd->w.k[1], P = y->dims[2] * y->dims[3], nb = conv_chunk(nd);
  for (int64_t b0 = 0; b0 < N; b0 += nb) {
    int64_t cnt = N - b0 < nb ? N - b0 : nb, cols = cnt * P;
    /* dY chunk as [M, cnt*P] */
#pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; m++)
      for (int64_t i = 0; i < cnt; i++)
        memcpy(ag->ws2 + m * cols + i * P, y->grad + ((b0 + i) * M + m) * P, sizeof(float) * (size_t)P);
    if (b && b->grad)
      for (int64_t m = 0; m < M; m++) {
        double s = 0;
        const float *r = ag->ws2 + m * cols;
        for (int64_t j = 0; j < cols; j++) s += r[j];
        b->grad[m] += (float)s;
      }
    if (w->grad) {
      im2col(nd, x->data + b0 * C * HW, cnt, ag->ws);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)K, (int)cols, 1.0f, ag->ws2,
                  (int)cols, ag->ws, (int)cols, 1.0f, w->grad, (int)K);
      ag->conv_flops += 2.0 * (double)M * (double)K * (double)cols;
    }
    if (x->grad) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)cols, (int)M, 1.0f, w->data,
                  (int)K, ag->ws2, (int)cols, 0.0f, ag->ws, (int)cols);
      ag->conv_flops += 2.0 * (double)M * (double)K * (double)cols;
      col2im(nd, ag->ws, cnt, x->grad + b0 * C * HW);
    }
  }
  ag->conv_sec += pn_now() - t0;
  ag->conv_cpu += cpu_now() - c0;
}

/* ---------------------------------------------------------- Gemm, MatMul ---- */

static int gemm_setup(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  int64_t ta, tb;
  float alpha, beta;
  int rc;
  if ((rc = pn_node_get_int(ctx, nd->node, "transA", 0, &ta)) ||
      (rc = pn_node_get_int(ctx, nd->node, "transB", 0, &tb)) ||
      (rc = pn_node_get_float(ctx, nd->node, "alpha", 1.0f, &alpha)) ||
      (rc = pn_node_get_float(ctx, nd->node, "beta", 1.0f, &beta)))
    return rc;
  if (ta != 0 || alpha != 1.0f || beta != 1.0f)
    return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "only transA = 0, alpha = beta = 1 are trainable");
  nd->i0 = tb;
  return PN_OK;
}

static int gemm_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  if (need_rank(ctx, nd, 0, 2) || need_rank(ctx, nd, 1, 2)) return ctx->status;
  const struct ag_val *a = nd->in[0], *b = nd->in[1];
  int64_t K = nd->i0 ? b->dims[1] : b->dims[0], M = nd->i0 ? b->dims[0] : b->dims[1];
  if (a->dims[1] != K) return node_err(ctx, nd, PN_ERR_INVALID, "inner dimensions differ");
  if (nd->n_in > 2 && nd->in[2] && numel(nd->in[2]) != M)
    return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "bias C must have exactly N entries");
  int64_t od[2] = {a->dims[0], M};
  set_dims(nd->out[0], 2, od);
  return PN_OK;
}

static int gemm_forward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *a = nd->in[0], *b = nd->in[1], *c = nd->n_in > 2 ? nd->in[2] : NULL;
  struct ag_val *y = nd->out[0];
  int64_t n = a->dims[0], K = a->dims[1], M = y->dims[1];
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < M; j++) y->data[i * M + j] = c ? c->data[j] : 0.0f;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, nd->i0 ? CblasTrans : CblasNoTrans, (int)n, (int)M,
              (int)K, 1.0f, a->data, (int)K, b->data, nd->i0 ? (int)K : (int)M, 1.0f, y->data,
              (int)M);
  return PN_OK;
}

static void gemm_backward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *a = nd->in[0], *b = nd->in[1], *c = nd->n_in > 2 ? nd->in[2] : NULL;
  const struct ag_val *y = nd->out[0];
  int64_t n = a->dims[0], K = a->dims[1], M = y->dims[1];
  if (a->grad) /* dA[n,K] = dY[n,M] * B^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, nd->i0 ? CblasNoTrans : CblasTrans, (int)n, (int)K,
                (int)M, 1.0f, y->grad, (int)M, b->data, nd->i0 ? (int)K : (int)M, 1.0f, a->grad,
                (int)K);
  if (b->grad) {
    if (nd->i0) /* dB[M,K] = dY^T A */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)M, (int)K, (int)n, 1.0f, y->grad,
                  (int)M, a->data, (int)K, 1.0f, b->grad, (int)K);
    else /* dB[K,M] = A^T dY */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)M, (int)n, 1.0f, a->data,
                  (int)K, y->grad, (int)M, 1.0f, b->grad, (int)M);
  }
  if (c && c->grad)
    for (int64_t i = 0; i < n; i++) add_to(c->grad, y->grad + i * M, M);
}

static int matmul_setup(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  nd->i0 = 0;
  return PN_OK;
}

static int matmul_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *a = nd->in[0], *b = nd->in[1];
  if (a->ndim < 2 || need_rank(ctx, nd, 1, 2)) {
    if (!ctx->status) node_err(ctx, nd, PN_ERR_UNSUPPORTED, "A must have rank >= 2");
    return ctx->status;
  }
  if (a->dims[a->ndim - 1] != b->dims[0]) return node_err(ctx, nd, PN_ERR_INVALID, "inner dimensions differ");
  int64_t od[PN_MAX_DIMS];
  memcpy(od, a->dims, sizeof od);
  od[a->ndim - 1] = b->dims[1];
  set_dims(nd->out[0], a->ndim, od);
  return PN_OK;
}

static int matmul_forward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *a = nd->in[0], *b = nd->in[1];
  int64_t K = b->dims[0], M = b->dims[1], n = numel(a) / K;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)M, (int)K, 1.0f, a->data,
              (int)K, b->data, (int)M, 0.0f, nd->out[0]->data, (int)M);
  return PN_OK;
}

static void matmul_backward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *a = nd->in[0], *b = nd->in[1], *y = nd->out[0];
  int64_t K = b->dims[0], M = b->dims[1], n = numel(a) / K;
  if (a->grad)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)K, (int)M, 1.0f, y->grad,
                (int)M, b->data, (int)M, 1.0f, a->grad, (int)K);
  if (b->grad)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)M, (int)n, 1.0f, a->data,
                (int)K, y->grad, (int)M, 1.0f, b->grad, (int)M);
}

/* ------------------------------------------------- Add, Mul (broadcast) ---- */

/* Strides of v aligned to an output of rank nd (0 on broadcast dims). */
static void bcast_strides(const struct ag_val *v, int nd, const int64_t *od, int64_t *st) {
  int64_t s = 1;
  for (int i = nd - 1; i >= 0; i--) {
    int j = i - (nd - v->ndim);
    if (j < 0 || v->dims[j] == 1) {
      st[i] = 0;
    } else {
      st[i] = s;
    }
    if (j >= 0) s *= v->dims[j];
  }
  (void)od;
}

static int bin_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *a = nd->in[0], *b = nd->in[1];
  int r = a->ndim > b->ndim ? a->ndim : b->ndim;
  int64_t od[PN_MAX_DIMS];
  for (int i = 0; i < r; i++) {
    int ia = i - (r - a->ndim), ib = i - (r - b->ndim);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1) return node_err(ctx, nd, PN_ERR_INVALID, "shapes do not broadcast");
    od[i] = da == 1 ? db : da;
  }
  set_dims(nd->out[0], r, od);
  return PN_OK;
}

/* Iterate over the output calling f(i, ia, ib). mul selects Mul; back selects the backward pass. */
static void bin_run(struct ag_node *nd, bool mul, bool back) {
  const struct ag_val *a = nd->in[0], *b = nd->in[1], *y = nd->out[0];
  int r = y->ndim;
  int64_t n = numel(y);
  if (!back && numel(a) == n && numel(b) == n) { /* fast path: same shape */
    for (int64_t i = 0; i < n; i++) y->data[i] = mul ? a->data[i] * b->data[i] : a->data[i] + b->data[i];
    return;
  }
  if (back && numel(a) == n && numel(b) == n) {
    for (int64_t i = 0; i < n; i++) {
      float g = y->grad[i];
      if (a->grad) a->grad[i] += mul ? g * b->data[i] : g;
      if (b->grad) b->grad[i] += mul ? g * a->data[i] : g;
    }
    return;
  }
  int64_t sa[PN_MAX_DIMS], sb[PN_MAX_DIMS], idx[PN_MAX_DIMS] = {0};
  bcast_strides(a, r, y->dims, sa);
  bcast_strides(b, r, y->dims, sb);
  int64_t ia = 0, ib = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!back) {
      y->data[i] = mul ? a->data[ia] * b->data[ib] : a->data[ia] + b->data[ib];
    } else {
      float g = y->grad[i];
      if (a->grad) a->grad[ia] += mul ? g * b->data[ib] : g;
      if (b->grad) b->grad[ib] += mul ? g * a->data[ia] : g;
    }
    for (int d = r - 1; d >= 0; d--) { /* odometer */
      idx[d]++;
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < y->dims[d]) break;
      ia -= sa[d] * idx[d];
      ib -= sb[d] * idx[d];
      idx[d] = 0;
    }
  }
}

static int add_forward(struct pn_ag *ag, struct ag_node *nd) {
  bin_run(nd, false, false);
  return PN_OK;
}
static void add_backward(struct pn_ag *ag, struct ag_node *nd) { bin_run(nd, false, true); }
static int mul_forward(struct pn_ag *ag, struct ag_node *nd) {
  bin_run(nd, true, false);
  return PN_OK;
}
static void mul_backward(struct pn_ag *ag, struct ag_node *nd) { bin_run(nd, true, true); }

/* ---------------------------------------------------- BatchNormalization ---- */

static int bn_setup(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  int rc;
  if ((rc = pn_node_get_float(ctx, nd->node, "epsilon", 1e-5f, &nd->f0)) ||
      (rc = pn_node_get_float(ctx, nd->node, "momentum", 0.9f, &nd->f1)))
    return rc;
  if (nd->n_out > 1) return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "only the Y output is supported");
  for (int i = 3; i < 5; i++)
    if (!nd->in[i]->init) return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "mean and var must be initializers");
  return PN_OK;
}

static int bn_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  if (x->ndim < 2) return node_err(ctx, nd, PN_ERR_INVALID, "input must have rank >= 2");
  for (int i = 1; i < 5; i++)
    if (numel(nd->in[i]) != x->dims[1])
      return node_err(ctx, nd, PN_ERR_INVALID, "scale/B/mean/var must have one entry per channel");
  set_dims(nd->out[0], x->ndim, x->dims);
  return PN_OK;
}

static int bn_forward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0], *sc = nd->in[1], *bi = nd->in[2];
  struct ag_val *rm = nd->in[3], *rv = nd->in[4], *y = nd->out[0];
  int64_t N = x->dims[0], C = x->dims[1], S = numel(x) / (N * C);
  float *mean = nd->saved, *inv = nd->saved + C;
  bool batch_stats = ag->train && ag->bn_mode != PN_AG_BN_FROZEN;
  /* ONNX: running = running * momentum + current * (1 - momentum); the average mode makes running
  ** the mean of every batch's statistics since pn_ag_set_bn */
  float mom = ag->bn_mode == PN_AG_BN_AVERAGE ? 1.0f - 1.0f / (float)ag->bn_count : nd->f1;
  nd->train_stats = batch_stats;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++) {
    double mu, var;
    if (batch_stats) {
      double s = 0, s2 = 0;
      for (int64_t b = 0; b < N; b++) {
        const float *p = x->data + (b * C + c) * S;
        for (int64_t i = 0; i < S; i++) s += p[i];
      }
      mu = s / (double)(N * S);
      for (int64_t b = 0; b < N; b++) {
        const float *p = x->data + (b * C + c) * S;
        for (int64_t i = 0; i < S; i++) s2 += (p[i] - mu) * (p[i] - mu);
      }
      var = s2 / (double)(N * S);
      rm->data[c] = rm->data[c] * mom + (float)mu * (1.0f - mom);
      rv->data[c] = rv->data[c] * mom + (float)var * (1.0f - mom);
    } else {
      mu = rm->data[c];
      var = rv->data[c];
    }
    float is = (float)(1.0 / sqrt(var + nd->f0));
    mean[c] = (float)mu;
    inv[c] = is;
    float g = sc->data[c] * is, sh = bi->data[c] - (float)mu * g;
    for (int64_t b = 0; b < N; b++) {
      const float *p = x->data + (b * C + c) * S;
      float *q = y->data + (b * C + c) * S;
      for (int64_t i = 0; i < S; i++) q[i] = p[i] * g + sh;
    }
  }
  return PN_OK;
}

static void bn_backward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0], *sc = nd->in[1], *bi = nd->in[2], *y = nd->out[0];
  int64_t N = x->dims[0], C = x->dims[1], S = numel(x) / (N * C);
  const float *mean = nd->saved, *inv = nd->saved + C;
  double m = (double)(N * S);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; c++) {
    double sdy = 0, sdyx = 0;
    for (int64_t b = 0; b < N; b++) {
      const float *p = x->data + (b * C + c) * S, *dy = y->grad + (b * C + c) * S;
      for (int64_t i = 0; i < S; i++) {
        sdy += dy[i];
        sdyx += dy[i] * (p[i] - mean[c]) * inv[c];
      }
    }
    if (sc->grad) sc->grad[c] += (float)sdyx;
    if (bi->grad) bi->grad[c] += (float)sdy;
    if (!x->grad) continue;
    float g = sc->data[c] * inv[c];
    for (int64_t b = 0; b < N; b++) {
      const float *p = x->data + (b * C + c) * S, *dy = y->grad + (b * C + c) * S;
      float *dx = x->grad + (b * C + c) * S;
      if (nd->train_stats) {
        float a1 = (float)(sdy / m), a2 = (float)(sdyx / m);
        for (int64_t i = 0; i < S; i++) {
          float xh = (p[i] - mean[c]) * inv[c];
          dx[i] += g * (dy[i] - a1 - xh * a2);
        }
      } else {
        for (int64_t i = 0; i < S; i++) dx[i] += g * dy[i];
      }
    }
  }
}

/* ------------------------------------------------------ Relu, Identity ---- */

static int same_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  set_dims(nd->out[0], nd->in[0]->ndim, nd->in[0]->dims);
  return PN_OK;
}

static int relu_forward(struct pn_ag *ag, struct ag_node *nd) {
  const float *x = nd->in[0]->data;
  float *y = nd->out[0]->data;
  int64_t n = numel(nd->out[0]);
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
  return PN_OK;
}

/* The gradient passes where the output is non-zero: x > 0 for the ReLU itself, and the selection
** a forward hook made when it replaced the output (pn_ag_set_hook). */
static void relu_backward(struct pn_ag *ag, struct ag_node *nd) {
  const float *y = nd->out[0]->data, *dy = nd->out[0]->grad;
  float *dx = nd->in[0]->grad;
  if (!dx) return;
  int64_t n = numel(nd->out[0]);
  for (int64_t i = 0; i < n; i++)
    if (y[i] != 0) dx[i] += dy[i];
}

static int copy_forward(struct pn_ag *ag, struct ag_node *nd) {
  memcpy(nd->out[0]->data, nd->in[0]->data, sizeof(float) * (size_t)numel(nd->out[0]));
  return PN_OK;
}

static void copy_backward(struct pn_ag *ag, struct ag_node *nd) {
  if (nd->in[0]->grad) add_to(nd->in[0]->grad, nd->out[0]->grad, numel(nd->out[0]));
}

static int no_setup(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) { return PN_OK; }

/* ---------------------------------------------------------------- Dropout ---- */

static int dropout_setup(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  int rc = pn_node_get_float(ctx, nd->node, "ratio", 0.5f, &nd->f0);
  if (rc) return rc;
  if (nd->n_in > 1 && nd->in[1]) {
    if (!nd->in[1]->init || numel(nd->in[1]) != 1)
      return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "ratio must be a scalar initializer");
    nd->f0 = (float)pn_tensor_get_f64(nd->in[1]->init, 0);
  }
  if (nd->n_out > 1) return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "the mask output is not supported");
  if (!(nd->f0 >= 0.0f && nd->f0 < 1.0f)) return node_err(ctx, nd, PN_ERR_INVALID, "ratio must be in [0, 1)");
  return PN_OK;
}

static int dropout_forward(struct pn_ag *ag, struct ag_node *nd) {
  int64_t n = numel(nd->out[0]);
  const float *x = nd->in[0]->data;
  float *y = nd->out[0]->data, *mask = nd->saved;
  if (!ag->train || nd->f0 == 0.0f) {
    for (int64_t i = 0; i < n; i++) mask[i] = 1.0f;
  } else {
    float keep = 1.0f - nd->f0, scale = 1.0f / keep;
    for (int64_t i = 0; i < n; i++) mask[i] = pn_prg_double(&ag->prg) < keep ? scale : 0.0f;
  }
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
  return PN_OK;
}

static void dropout_backward(struct pn_ag *ag, struct ag_node *nd) {
  if (!nd->in[0]->grad) return;
  int64_t n = numel(nd->out[0]);
  for (int64_t i = 0; i < n; i++) nd->in[0]->grad[i] += nd->out[0]->grad[i] * nd->saved[i];
}

/* ------------------------------------------------------ Flatten, Reshape ---- */

static int flatten_setup(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  return pn_node_get_int(ctx, nd->node, "axis", 1, &nd->i0);
}

static int flatten_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  int64_t ax = nd->i0 < 0 ? nd->i0 + x->ndim : nd->i0;
  if (ax < 0 || ax > x->ndim) return node_err(ctx, nd, PN_ERR_INVALID, "axis out of range");
  int64_t od[2] = {pn_shape_numel((int)ax, x->dims), pn_shape_numel(x->ndim - (int)ax, x->dims + ax)};
  set_dims(nd->out[0], 2, od);
  return PN_OK;
}

static int reshape_setup(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *s = nd->in[1];
  if (!s->init || s->init->dtype != PN_DT_INT64 || s->ndim != 1 || s->dims[0] > PN_MAX_DIMS)
    return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "shape must be an int64 initializer of rank 1");
  int64_t az;
  int rc = pn_node_get_int(ctx, nd->node, "allowzero", 0, &az);
  if (rc) return rc;
  if (az) return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "allowzero = 1 is not supported");
  return PN_OK;
}

static int reshape_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  const int64_t *sh = nd->in[1]->init->data;
  int r = (int)nd->in[1]->dims[0], neg = -1;
  int64_t od[PN_MAX_DIMS], known = 1;
  for (int i = 0; i < r; i++) {
    od[i] = sh[i];
    if (sh[i] == 0) {
      if (i >= x->ndim) return node_err(ctx, nd, PN_ERR_INVALID, "shape 0 beyond the input rank");
      od[i] = x->dims[i];
    }
    if (od[i] == -1) {
      if (neg >= 0) return node_err(ctx, nd, PN_ERR_INVALID, "shape has two -1 entries");
      neg = i;
    } else if (od[i] < 0) {
      return node_err(ctx, nd, PN_ERR_INVALID, "negative shape entry");
    } else {
      known *= od[i];
    }
  }
  int64_t n = numel(x);
  if (neg >= 0) {
    if (known == 0 || n % known) return node_err(ctx, nd, PN_ERR_INVALID, "shape does not divide the input size");
    od[neg] = n / known;
  } else if (known != n) {
    return node_err(ctx, nd, PN_ERR_INVALID, "shape does not match the input size");
  }
  set_dims(nd->out[0], r, od);
  return PN_OK;
}

/* ----------------------------------------------------------------- Pools ---- */

static int pool_setup(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  int rc;
  int64_t ceil_mode, d[2] = {1, 1};
  if ((rc = get_ints(ctx, nd, "dilations", 2, 1, d)) ||
      (rc = pn_node_get_int(ctx, nd->node, "ceil_mode", 0, &ceil_mode)) ||
      (rc = pn_node_get_int(ctx, nd->node, "count_include_pad", 0, &nd->i0)))
    return rc;
  if (ceil_mode || d[0] != 1 || d[1] != 1)
    return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "ceil_mode and dilations are not trainable");
  if (nd->n_out > 1) return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "the Indices output is not supported");
  return PN_OK;
}

static int pool_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  if (need_rank(ctx, nd, 0, 4)) return ctx->status;
  int rc = window(ctx, ag, nd, PN_WIN_POOL);
  if (rc) return rc;
  for (int i = 0; i < 2; i++)
    if (nd->w.pb[i] >= nd->w.k[i] || nd->w.pe[i] >= nd->w.k[i])
      return node_err(ctx, nd, PN_ERR_INVALID, "pads must be in [0, kernel)");
  int64_t od[4] = {x->dims[0], x->dims[1], nd->w.out[0], nd->w.out[1]};
  set_dims(nd->out[0], 4, od);
  return PN_OK;
}

/* Visit the window of output (oh, ow): calls body with the flat input offset ih*W+iw. */
#define POOL_WINDOW(nd, H, W, oh, ow, body)                                    \
  for (int64_t ki = 0; ki < (nd)->w.k[0]; ki++) {                              \
    int64_t ih = (oh) * (nd)->w.s[0] - (nd)->w.pb[0] + ki;                     \
    if (ih < 0 || ih >= (H)) continue;                                         \
    for (int64_t kj = 0; kj < (nd)->w.k[1]; kj++) {                            \
      int64_t iw = (ow) * (nd)->w.s[1] - (nd)->w.pb[1] + kj;                   \
      if (iw < 0 || iw >= (W)) continue;                                       \
      int64_t off = ih * (W) + iw;                                             \
      body                                                                     \
    }                                                                          \
  }

static int maxpool_forward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  struct ag_val *y = nd->out[0];
  int64_t NC = x->dims[0] * x->dims[1], H = x->dims[2], W = x->dims[3], OH = y->dims[2], OW = y->dims[3];
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < NC; c++) {
    const float *xc = x->data + c * H * W;
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        float best = -FLT_MAX;
        int32_t arg = -1;
        POOL_WINDOW(nd, H, W, oh, ow, if (arg < 0 || xc[off] > best) { best = xc[off]; arg = (int32_t)off; })
        int64_t o = (c * OH + oh) * OW + ow;
        y->data[o] = arg < 0 ? 0.0f : best;
        nd->argmax[o] = arg;
      }
  }
  return PN_OK;
}

/* After a hook replaced a MaxPool's output: route the gradient to the first window element equal
** to each output, bit for bit (the forward's own choice when nothing was replaced). */
static int maxpool_reselect(struct pn_ctx *ctx, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0], *y = nd->out[0];
  int64_t NC = x->dims[0] * x->dims[1], H = x->dims[2], W = x->dims[3], OH = y->dims[2], OW = y->dims[3];
  int64_t bad = -1;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < NC; c++) {
    const float *xc = x->data + c * H * W;
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        int64_t o = (c * OH + oh) * OW + ow;
        int32_t arg = -1;
        float v = y->data[o];
        POOL_WINDOW(nd, H, W, oh, ow, if (arg < 0 && !memcmp(&xc[off], &v, sizeof v)) arg = (int32_t)off;)
        if (arg < 0 && nd->argmax[o] >= 0) {
#pragma omp atomic write
          bad = o;
        }
        nd->argmax[o] = arg;
      }
  }
  if (bad >= 0)
    return node_err(ctx, nd, PN_ERR_INVALID, "a forward hook set a MaxPool output to a value that is "
                    "no element of its window");
  return PN_OK;
}

static void maxpool_backward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0], *y = nd->out[0];
  if (!x->grad) return;
  int64_t NC = x->dims[0] * x->dims[1], HW = x->dims[2] * x->dims[3], P = y->dims[2] * y->dims[3];
  for (int64_t c = 0; c < NC; c++)
    for (int64_t p = 0; p < P; p++) {
      int32_t a = nd->argmax[c * P + p];
      if (a >= 0) x->grad[c * HW + a] += y->grad[c * P + p];
    }
}

static float avg_count(const struct ag_node *nd, int64_t H, int64_t W, int64_t oh, int64_t ow) {
  if (nd->i0) { /* count_include_pad: the window clipped to the padded input */
    const struct pn_window *w = &nd->w;
    int64_t h0 = oh * w->s[0] - w->pb[0], w0 = ow * w->s[1] - w->pb[1];
    int64_t h1 = h0 + w->k[0], w1 = w0 + w->k[1];
    if (h1 > H + w->pe[0]) h1 = H + w->pe[0];
    if (w1 > W + w->pe[1]) w1 = W + w->pe[1];
    return (float)((h1 - h0) * (w1 - w0));
  }
  int64_t cnt = 0;
  POOL_WINDOW(nd, H, W, oh, ow, (void)off; cnt++;)
  return (float)cnt;
}

static int avgpool_forward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  struct ag_val *y = nd->out[0];
  int64_t NC = x->dims[0] * x->dims[1], H = x->dims[2], W = x->dims[3], OH = y->dims[2], OW = y->dims[3];
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < NC; c++) {
    const float *xc = x->data + c * H * W;
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        float s = 0, cnt = avg_count(nd, H, W, oh, ow);
        POOL_WINDOW(nd, H, W, oh, ow, s += xc[off];)
        y->data[(c * OH + oh) * OW + ow] = cnt > 0 ? s / cnt : 0.0f;
      }
  }
  return PN_OK;
}

static void avgpool_backward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0], *y = nd->out[0];
  if (!x->grad) return;
  int64_t NC = x->dims[0] * x->dims[1], H = x->dims[2], W = x->dims[3], OH = y->dims[2], OW = y->dims[3];
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < NC; c++) {
    float *dx = x->grad + c * H * W;
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        float cnt = avg_count(nd, H, W, oh, ow);
        if (cnt <= 0) continue;
        float g = y->grad[(c * OH + oh) * OW + ow] / cnt;
        POOL_WINDOW(nd, H, W, oh, ow, dx[off] += g;)
      }
  }
}

static int gap_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  if (x->ndim < 3) return node_err(ctx, nd, PN_ERR_INVALID, "input must have rank >= 3");
  int64_t od[PN_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) od[i] = i < 2 ? x->dims[i] : 1;
  set_dims(nd->out[0], x->ndim, od);
  return PN_OK;
}

static int gap_forward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  int64_t NC = x->dims[0] * x->dims[1], S = numel(x) / NC;
  for (int64_t c = 0; c < NC; c++) {
    double s = 0;
    for (int64_t i = 0; i < S; i++) s += x->data[c * S + i];
    nd->out[0]->data[c] = (float)(s / (double)S);
  }
  return PN_OK;
}

static void gap_backward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  if (!x->grad) return;
  int64_t NC = x->dims[0] * x->dims[1], S = numel(x) / NC;
  for (int64_t c = 0; c < NC; c++) {
    float g = nd->out[0]->grad[c] / (float)S;
    for (int64_t i = 0; i < S; i++) x->grad[c * S + i] += g;
  }
}

/* --------------------------------------------- PafRelu, PafMaxPool (ai.privnn) ---- */

/* Forms, scales and kernels are graph/paf.h's; C (coefficients) is a parameter, S (a static scale)
** is state, and a dynamic scale is a constant for the gradient. i0 = form, f0 = gain, f1 = the
** scale of the last forward. */
static int paf_setup(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  struct pn_paf_node pn;
  int rc = pn_paf_node_attrs(ctx, nd->node, &pn);
  if (rc) return rc;
  nd->i0 = pn.form;
  nd->f0 = pn.gain;
  const struct ag_val *c = nd->in[1];
  if (!c->init || c->init->dtype != PN_DT_FLOAT || c->ndim != 1 || c->dims[0] != pn_paf_n_coeffs(pn.form))
    return node_err(ctx, nd, PN_ERR_INVALID, "coefficients C must be a float initializer of the form's length");
  if (nd->n_in > 2 && nd->in[2] &&
      (!nd->in[2]->init || nd->in[2]->init->dtype != PN_DT_FLOAT || numel(nd->in[2]) != 1 ||
       !(nd->in[2]->data[0] > 0) || !isfinite(nd->in[2]->data[0])))
    return node_err(ctx, nd, PN_ERR_INVALID, "scale S must be a positive finite float scalar initializer");
  if (nd->opk == PN_OP_PAF_MAX_POOL) {
    for (int i = 0; i < 2; i++) {
      nd->w.k[i] = pn.k[i];
      nd->w.s[i] = pn.s[i];
      nd->w.pb[i] = pn.p[i];
      nd->w.pe[i] = pn.p[i + 2];
    }
  }
  return PN_OK;
}

static int paf_pool_shape(struct pn_ctx *ctx, struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  if (need_rank(ctx, nd, 0, 4)) return ctx->status;
  int64_t od[4] = {x->dims[0], x->dims[1], 0, 0};
  for (int i = 0; i < 2; i++) {
    int64_t padded = x->dims[2 + i] + nd->w.pb[i] + nd->w.pe[i];
    if (padded < nd->w.k[i]) return node_err(ctx, nd, PN_ERR_INVALID, "kernel larger than the padded input");
    od[2 + i] = (padded - nd->w.k[i]) / nd->w.s[i] + 1;
  }
  set_dims(nd->out[0], 4, od);
  return PN_OK;
}

static struct pn_paf_pool paf_geom(const struct ag_node *nd) {
  const struct ag_val *x = nd->in[0], *y = nd->out[0];
  struct pn_paf_pool g = {x->dims[0] * x->dims[1], x->dims[2], x->dims[3], y->dims[2], y->dims[3],
                          nd->w.k[0], nd->w.k[1], nd->w.s[0], nd->w.s[1], nd->w.pb[0], nd->w.pb[1]};
  return g;
}

static int paf_forward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0];
  struct pn_paf_eval e;
  pn_paf_eval_init(&e, (enum pn_paf_form)nd->i0, nd->in[1]->data);
  enum pn_paf_kind kind = nd->opk == PN_OP_PAF_RELU ? PN_PAF_RELU : PN_PAF_MAXPOOL;
  float s = nd->n_in > 2 && nd->in[2] ? nd->in[2]->data[0] : pn_paf_kind_dynamic_scale(kind, x->data, numel(x));
  nd->f1 = s;
  if (nd->opk == PN_OP_PAF_RELU) {
    pn_paf_relu_forward(&e, s, nd->f0, x->data, nd->out[0]->data, numel(x));
  } else {
    struct pn_paf_pool g = paf_geom(nd);
    pn_paf_maxpool_forward(&e, &g, s, x->data, nd->out[0]->data);
  }
  return PN_OK;
}

static void paf_backward(struct pn_ag *ag, struct ag_node *nd) {
  const struct ag_val *x = nd->in[0], *c = nd->in[1];
  struct pn_paf_eval e;
  pn_paf_eval_init(&e, (enum pn_paf_form)nd->i0, c->data);
  double dc[PN_PAF_MAX_COEFFS] = {0};
  if (nd->opk == PN_OP_PAF_RELU) {
    pn_paf_relu_backward(&e, nd->f1, nd->f0, x->data, nd->out[0]->grad, x->grad, c->grad ? dc : NULL, numel(x));
  } else {
    struct pn_paf_pool g = paf_geom(nd);
    pn_paf_maxpool_backward(&e, &g, nd->f1, x->data, nd->out[0]->grad, x->grad, c->grad ? dc : NULL);
  }
  if (c->grad)
    for (int k = 0; k < e.n_coeffs; k++) c->grad[k] += (float)dc[k];
}

/* ------------------------------------------------- the differentiable ops ---- */

static const struct pn_ag_op ag_ops[PN_OP_COUNT] = {
  [PN_OP_CONV] = {2, conv_setup, conv_shape, conv_forward, conv_backward},
  [PN_OP_GEMM] = {2, gemm_setup, gemm_shape, gemm_forward, gemm_backward},
  [PN_OP_MATMUL] = {2, matmul_setup, matmul_shape, matmul_forward, matmul_backward},
  [PN_OP_ADD] = {2, no_setup, bin_shape, add_forward, add_backward},
  [PN_OP_MUL] = {2, no_setup, bin_shape, mul_forward, mul_backward},
  [PN_OP_BATCH_NORM] = {5, bn_setup, bn_shape, bn_forward, bn_backward},
  [PN_OP_RELU] = {1, no_setup, same_shape, relu_forward, relu_backward},
  [PN_OP_MAX_POOL] = {1, pool_setup, pool_shape, maxpool_forward, maxpool_backward},
  [PN_OP_AVERAGE_POOL] = {1, pool_setup, pool_shape, avgpool_forward, avgpool_backward},
  [PN_OP_GLOBAL_AVERAGE_POOL] = {1, no_setup, gap_shape, gap_forward, gap_backward},
  [PN_OP_FLATTEN] = {1, flatten_setup, flatten_shape, copy_forward, copy_backward},
  [PN_OP_RESHAPE] = {2, reshape_setup, reshape_shape, copy_forward, copy_backward},
  [PN_OP_DROPOUT] = {1, dropout_setup, same_shape, dropout_forward, dropout_backward},
  [PN_OP_IDENTITY] = {1, no_setup, same_shape, copy_forward, copy_backward},
  [PN_OP_PAF_RELU] = {2, paf_setup, same_shape, paf_forward, paf_backward},
  [PN_OP_PAF_MAX_POOL] = {2, paf_setup, paf_pool_shape, paf_forward, paf_backward},
};
static_assert(sizeof ag_ops / sizeof *ag_ops == PN_OP_COUNT, "ag_ops out of date");

bool pn_ag_supports(enum pn_op op) { return (unsigned)op < PN_OP_COUNT && ag_ops[op].forward; }

/* ---------------------------------------------------------------- engine ---- */

static struct ag_val *find_val(struct pn_ag *ag, const char *name) {
  for (int i = 0; i < ag->n_vals; i++)
    if (!strcmp(ag->vals[i].name, name)) return &ag->vals[i];
  return NULL;
}

static struct ag_val *new_val(struct pn_ag *ag, const char *name) {
  struct ag_val *v = &ag->vals[ag->n_vals++];
  memset(v, 0, sizeof *v);
  v->name = name;
  return v;
}

/* Run every node's shape function for batch n; check (or, at setup, record) capacities. */
static int shapes(struct pn_ctx *ctx, struct pn_ag *ag, int n, bool setup) {
  struct ag_val *in = ag->input;
  in->dims[0] = n;
  for (int i = 0; i < ag->n_nodes; i++) {
    struct ag_node *nd = &ag->nodes[i];
    int rc = nd->op->shape(ctx, ag, nd);
    if (rc) return rc;
    for (int j = 0; j < nd->n_out; j++) {
      int64_t m = numel(nd->out[j]);
      if (setup) {
        if (m > nd->out[j]->cap) nd->out[j]->cap = m;
      } else if (m > nd->out[j]->cap) {
        return node_err(ctx, nd, PN_ERR_INVALID, "output larger than planned for max_batch");
      }
    }
  }
  return PN_OK;
}

static void ag_free_bufs(struct pn_ag *ag) {
  for (int i = 0; i < ag->n_vals; i++) {
    if (ag->vals[i].owned) free(ag->vals[i].data);
    free(ag->vals[i].gbuf);
  }
  for (int i = 0; i < ag->n_nodes; i++) {
    free(ag->nodes[i].argmax);
    free(ag->nodes[i].saved);
  }
}

void pn_ag_free(struct pn_ag *ag) {
  if (!ag) return;
  ag_free_bufs(ag);
  free(ag->vals);
  free(ag->nodes);
  free(ag->params);
  free(ag->ws);
  free(ag->ws2);
  pn_prg_free(&ag->prg);
  free(ag);
}

static int bind_nodes(struct pn_ctx *ctx, struct pn_ag *ag) {
  struct pn_graph *g = ag->g;
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    struct ag_node *nd = &ag->nodes[ag->n_nodes++];
    nd->node = n;
    int op = pn_op_find(n->domain, n->op_type);
    if (op < 0 || !pn_ag_supports((enum pn_op)op))
      return pn_err(ctx, PN_ERR_UNSUPPORTED, "node '%s' (%s): op is not differentiable by privnn",
                    pn_node_label(n), n->op_type);
    nd->opk = (enum pn_op)op;
    nd->op = &ag_ops[op];
    if (n->n_in > 5 || n->n_out > 2 || n->n_out < 1)
      return node_err(ctx, nd, PN_ERR_UNSUPPORTED, "too many inputs/outputs");
    if (n->n_in < nd->op->min_in) return node_err(ctx, nd, PN_ERR_INVALID, "missing inputs");
    nd->n_in = n->n_in;
    nd->n_out = n->n_out;
    for (int j = 0; j < n->n_in; j++) {
      if (!n->in[j][0]) {
        if (j < nd->op->min_in) return node_err(ctx, nd, PN_ERR_INVALID, "a required input is empty");
        nd->in[j] = NULL;
        continue;
      }
      nd->in[j] = find_val(ag, n->in[j]);
      if (!nd->in[j])
        return pn_err(ctx, PN_ERR_INVALID, "node '%s' (%s): input '%s' is not produced before it "
                      "(graph not in topological order?)", pn_node_label(n), n->op_type, n->in[j]);
    }
    while (nd->n_in > nd->op->min_in && !nd->in[nd->n_in - 1]) nd->n_in--; /* trailing omitted */
    for (int j = 0; j < n->n_out; j++) {
      if (!n->out[j][0] && j > 0) {
        nd->n_out = j;
        break;
      }
      if (find_val(ag, n->out[j]))
        return pn_err(ctx, PN_ERR_INVALID, "node '%s' (%s): value '%s' produced twice",
                      pn_node_label(n), n->op_type, n->out[j]);
      nd->out[j] = new_val(ag, n->out[j]);
      nd->out[j]->owned = true;
    }
    int first_state = nd->opk == PN_OP_BATCH_NORM ? 3 : nd->opk == PN_OP_PAF_RELU || nd->opk == PN_OP_PAF_MAX_POOL ? 2 : 5;
    for (int j = first_state; j < nd->n_in; j++) /* BN mean/var, a PAF's static scale */
      if (nd->in[j] && nd->in[j]->is_param) {
        nd->in[j]->is_param = false;
        nd->in[j]->is_state = true;
      }
    int rc = nd->op->setup(ctx, ag, nd);
    if (rc) return rc;
  }
  return PN_OK;
}

int pn_ag_new(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_ag_opts *opts,
              struct pn_ag **out) {
  *out = NULL;
  if (!opts || opts->max_batch < 1) return pn_err(ctx, PN_ERR_INVALID, "autograd: max_batch must be >= 1");
  struct pn_ag *ag = calloc(1, sizeof *ag);
  if (!ag) return pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory");
  ag->g = g;
  ag->opts = *opts;
  int nv = g->n_inits + g->n_inputs + 2 * g->n_nodes + 1;
  ag->vals = calloc((size_t)nv, sizeof *ag->vals);
  ag->nodes = calloc((size_t)g->n_nodes + 1, sizeof *ag->nodes);
  int rc = (!ag->vals || !ag->nodes) ? pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory") : PN_OK;
  if (!rc) rc = pn_prg_init_u64(ctx, &ag->prg, opts->dropout_seed);
  /* initializers */
  for (int i = 0; !rc && i < g->n_inits; i++) {
    struct pn_tensor *t = g->inits[i];
    if (!t->name || find_val(ag, t->name)) {
      rc = pn_err(ctx, PN_ERR_INVALID, "initializer #%d: missing or duplicate name", i);
      break;
    }
    struct ag_val *v = new_val(ag, t->name);
    set_dims(v, t->ndim, t->dims);
    v->init = t;
    if (t->dtype == PN_DT_FLOAT) {
      v->data = t->data;
      v->is_param = true;
    } else {
      v->is_const = true;
    }
  }
  /* the runtime input */
  for (int i = 0; !rc && i < g->n_inputs; i++) {
    if (!pn_graph_is_runtime_input(g, i)) continue;
    const struct pn_value *in = &g->inputs[i];
    if (ag->input) {
      rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "graph input '%s': only one runtime input is trainable", in->name);
      break;
    }
    if (in->dtype != PN_DT_FLOAT || in->ndim < 2) {
      rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "graph input '%s': must be float of rank >= 2 [N, ...]", in->name);
      break;
    }
    for (int d = 1; d < in->ndim; d++)
      if (in->dims[d] < 1) rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "graph input '%s': dim %d must be fixed", in->name, d);
    ag->input = new_val(ag, in->name);
    set_dims(ag->input, in->ndim, in->dims);
    ag->input->owned = true;
    ag->in_rank = in->ndim - 1;
    memcpy(ag->in_dims, in->dims + 1, sizeof(int64_t) * (size_t)ag->in_rank);
  }
  if (!rc && !ag->input) rc = pn_err(ctx, PN_ERR_INVALID, "autograd: the graph has no runtime input");
  if (!rc) rc = bind_nodes(ctx, ag);
  if (!rc && g->n_outputs < 1) rc = pn_err(ctx, PN_ERR_INVALID, "autograd: the graph has no output");
  if (!rc && !(ag->output = find_val(ag, g->outputs[0].name)))
    rc = pn_err(ctx, PN_ERR_INVALID, "graph output '%s' is not produced", g->outputs[0].name);
  if (!rc && (ag->output->is_const || ag->output->is_param || ag->output == ag->input))
    rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "graph output '%s' must be computed", g->outputs[0].name);
  if (!rc) ag->input->cap = (int64_t)opts->max_batch * pn_shape_numel(ag->in_rank, ag->in_dims);
  if (!rc) rc = shapes(ctx, ag, opts->max_batch, true);
  /* gradient flow: params and (optionally) the input, then forward through the nodes */
  bool *flow = rc ? NULL : calloc((size_t)ag->n_vals, sizeof *flow);
  if (!rc && !flow) rc = pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory");
  if (!rc) {
    for (int i = 0; i < ag->n_vals; i++) flow[i] = ag->vals[i].is_param;
    flow[ag->input - ag->vals] = opts->input_grad;
    for (int i = 0; i < ag->n_nodes; i++) {
      struct ag_node *nd = &ag->nodes[i];
      bool f = false;
      for (int j = 0; j < nd->n_in; j++) f |= nd->in[j] && flow[nd->in[j] - ag->vals];
      for (int j = 0; j < nd->n_out; j++) flow[nd->out[j] - ag->vals] = f;
    }
  }
  for (int i = 0; !rc && i < ag->n_vals; i++) {
    struct ag_val *v = &ag->vals[i];
    int64_t m = v->owned ? v->cap : numel(v);
    if (v->owned) {
      v->data = malloc(sizeof(float) * (size_t)(m ? m : 1));
      if (!v->data) rc = pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory for '%s'", v->name);
    }
    if (!rc && flow[i]) {
      v->grad = v->gbuf = calloc((size_t)(m ? m : 1), sizeof(float));
      if (!v->grad) rc = pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory for '%s'", v->name);
    }
    if (!rc && v->is_param) ag->n_params++;
  }
  free(flow);
  /* per-node saved state and conv workspaces */
  for (int i = 0; !rc && i < ag->n_nodes; i++) {
    struct ag_node *nd = &ag->nodes[i];
    enum pn_op op = nd->opk;
    int64_t cap = nd->out[0]->cap;
    if (op == PN_OP_MAX_POOL && !(nd->argmax = malloc(sizeof(int32_t) * (size_t)cap)))
      rc = pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory");
    if (op == PN_OP_DROPOUT && !(nd->saved = malloc(sizeof(float) * (size_t)cap)))
      rc = pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory");
    if (op == PN_OP_BATCH_NORM && !(nd->saved = calloc(2 * (size_t)nd->in[0]->dims[1], sizeof(float))))
      rc = pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory");
    if (op == PN_OP_CONV) {
      int64_t K = nd->in[1]->dims[1] * nd->w.k[0] * nd->w.k[1], M = nd->in[1]->dims[0];
      int64_t P = nd->out[0]->dims[2] * nd->out[0]->dims[3], nb = conv_chunk(nd);
      if (K * nb * P > ag->ws_cap) ag->ws_cap = K * nb * P;
      if (M * nb * P > ag->ws2_cap) ag->ws2_cap = M * nb * P;
    }
  }
  if (!rc && ag->ws_cap) {
    ag->ws = malloc(sizeof(float) * (size_t)ag->ws_cap);
    ag->ws2 = malloc(sizeof(float) * (size_t)ag->ws2_cap);
    if (!ag->ws || !ag->ws2) rc = pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory for workspaces");
  }
  if (!rc) {
    ag->params = calloc((size_t)ag->n_params + 1, sizeof *ag->params);
    if (!ag->params) rc = pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory");
    int k = 0;
    for (int i = 0; !rc && i < ag->n_vals; i++) {
      struct ag_val *v = &ag->vals[i];
      if (!v->is_param) continue;
      struct pn_ag_param *p = &ag->params[k++];
      p->name = v->name;
      p->t = (struct pn_tensor *)v->init;
      p->grad = v->grad;
      p->numel = numel(v);
      p->decay = v->ndim >= 2;
    }
  }
  if (rc) {
    pn_ag_free(ag);
    return rc;
  }
  *out = ag;
  return PN_OK;
}

int pn_ag_n_params(const struct pn_ag *ag) { return ag->n_params; }
struct pn_ag_param *pn_ag_param(struct pn_ag *ag, int i) { return &ag->params[i]; }
int pn_ag_input_rank(const struct pn_ag *ag) { return ag->in_rank; }
const int64_t *pn_ag_input_dims(const struct pn_ag *ag) { return ag->in_dims; }
int64_t pn_ag_output_size(const struct pn_ag *ag) {
  return ag->output->dims[0] > 0 ? numel(ag->output) / ag->output->dims[0] : 0;
}
double pn_ag_conv_flops(const struct pn_ag *ag) { return ag->conv_flops; }
double pn_ag_conv_seconds(const struct pn_ag *ag) { return ag->conv_sec; }
double pn_ag_conv_cpu_seconds(const struct pn_ag *ag) { return ag->conv_cpu; }

void pn_ag_set_bn(struct pn_ag *ag, enum pn_ag_bn mode) {
  ag->bn_mode = mode;
  ag->bn_count = 0;
}

int pn_ag_set_need_grad(struct pn_ctx *ctx, struct pn_ag *ag, const bool *need) {
  bool *live = calloc((size_t)ag->n_vals + 1, sizeof *live);
  if (!live) return pn_err(ctx, PN_ERR_NOMEM, "autograd: out of memory");
  for (int i = 0, k = 0; i < ag->n_vals; i++)
    if (ag->vals[i].is_param) {
      live[i] = ag->vals[i].gbuf && (!need || need[k]);
      k++;
    }
  live[ag->input - ag->vals] = ag->input->gbuf != NULL;
  for (int i = 0; i < ag->n_nodes; i++) {
    struct ag_node *nd = &ag->nodes[i];
    bool f = false;
    for (int j = 0; j < nd->n_in; j++) f |= nd->in[j] && live[nd->in[j] - ag->vals];
    for (int j = 0; j < nd->n_out; j++) live[nd->out[j] - ag->vals] = f && nd->out[j]->gbuf;
  }
  for (int i = 0; i < ag->n_vals; i++) ag->vals[i].grad = live[i] ? ag->vals[i].gbuf : NULL;
  free(live);
  return PN_OK;
}

int pn_ag_forward(struct pn_ctx *ctx, struct pn_ag *ag, const float *x, int n, bool train,
                  const float **out) {
  if (n < 1 || n > ag->opts.max_batch)
    return pn_err(ctx, PN_ERR_INVALID, "autograd: batch %d not in 1..%d", n, ag->opts.max_batch);
  int rc = shapes(ctx, ag, n, false);
  if (rc) return rc;
  memcpy(ag->input->data, x, sizeof(float) * (size_t)numel(ag->input));
  ag->batch = n;
  ag->train = train;
  if (train && ag->bn_mode == PN_AG_BN_AVERAGE) ag->bn_count++;
  for (int i = 0; i < ag->n_nodes; i++) {
    struct ag_node *nd = &ag->nodes[i];
    rc = nd->op->forward(ag, nd);
    if (rc == PN_OK && ag->hook) {
      struct pn_ag_step st = {nd->node, i, nd->opk, train, nd->in[0]->data, nd->in[0]->ndim,
                              nd->in[0]->dims, nd->out[0]->data, nd->out[0]->ndim,
                              nd->out[0]->dims};
      rc = ag->hook(ag->hook_user, ctx, &st);
      if (rc == PN_OK && nd->opk == PN_OP_MAX_POOL) rc = maxpool_reselect(ctx, nd);
    }
    if (rc) return rc;
  }
  *out = ag->output->data;
  return PN_OK;
}

double pn_ag_softmax_xent(struct pn_ag *ag, const int32_t *y, int *correct) {
  int n = ag->batch;
  int64_t K = pn_ag_output_size(ag);
  const float *z = ag->output->data;
  float *dz = ag->output->grad;
  double loss = 0;
  int ok = 0;
  for (int i = 0; i < n; i++) {
    const float *zi = z + i * K;
    float mx = zi[0];
    int64_t arg = 0;
    for (int64_t k = 1; k < K; k++)
      if (zi[k] > mx) mx = zi[k], arg = k;
    double s = 0;
    for (int64_t k = 0; k < K; k++) s += exp((double)(zi[k] - mx));
    int64_t lbl = y[i] >= 0 && y[i] < K ? y[i] : 0;
    loss += log(s) - (double)(zi[lbl] - mx);
    ok += arg == lbl;
    if (dz)
      for (int64_t k = 0; k < K; k++)
        dz[i * K + k] = (float)((exp((double)(zi[k] - mx)) / s - (k == lbl)) / n);
  }
  if (correct) *correct = ok;
  return loss / n;
}

void pn_ag_set_output_grad(struct pn_ag *ag, const float *dout) {
  if (ag->output->grad) memcpy(ag->output->grad, dout, sizeof(float) * (size_t)numel(ag->output));
}

int pn_ag_backward(struct pn_ctx *ctx, struct pn_ag *ag) {
  if (!ag->batch) return pn_err(ctx, PN_ERR_INVALID, "autograd: backward before forward");
  for (int i = 0; i < ag->n_vals; i++) {
    struct ag_val *v = &ag->vals[i];
    if (v->grad && v != ag->output) memset(v->grad, 0, sizeof(float) * (size_t)numel(v));
  }
  for (int i = ag->n_nodes - 1; i >= 0; i--) {
    struct ag_node *nd = &ag->nodes[i];
    if (nd->out[0]->grad) nd->op->backward(ag, nd);
  }
  return PN_OK;
}

const float *pn_ag_input_grad(const struct pn_ag *ag) { return ag->input->grad; }

void pn_ag_set_hook(struct pn_ag *ag, pn_ag_hook hook, void *user) {
  ag->hook = hook;
  ag->hook_user = user;
}
