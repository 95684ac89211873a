/* lmap.c - the linear nodes of a model as sparse matrices over one image's elements, and their products.
**
** Each linear node (Conv with any padding/stride/dilation/groups, Gemm, MatMul by a constant,
** BatchNormalization, AveragePool, GlobalAveragePool, Add/Sub/Mul by a constant) becomes y = A x + b
** over row-major elements, batch dimension dropped, built from the same window geometry as the executor
** (graph/window.h). Consecutive linear nodes compose by a sparse product (a dense scatter row per output),
** so a folded stretch costs one CKKS level. Weights are kept in double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhe/fhe_impl.h"
#include "graph/ops.h"
#include "graph/window.h"
#include "util/status.h"

struct fhe_lmap *fhe_lmap_new(int64_t n_out, int64_t n_in, int64_t nnz) {
  struct fhe_lmap *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->n_out = n_out;
  m->n_in = n_in;
  m->nnz = nnz;
  m->rowptr = calloc((size_t)n_out + 1, sizeof *m->rowptr);
  m->col = malloc((size_t)(nnz ? nnz : 1) * sizeof *m->col);
  m->val = malloc((size_t)(nnz ? nnz : 1) * sizeof *m->val);
  m->bias = calloc((size_t)(n_out ? n_out : 1), sizeof *m->bias);
  if (!m->rowptr || !m->col || !m->val || !m->bias) {
    fhe_lmap_free(m);
    return NULL;
  }
  return m;
}

void fhe_lmap_free(struct fhe_lmap *m) {
  if (!m) return;
  free(m->rowptr);
  free(m->col);
  free(m->val);
  free(m->bias);
  free(m);
}

void fhe_lmap_apply(const struct fhe_lmap *m, const double *x, double *y) {
  for (int64_t o = 0; o < m->n_out; o++) {
    double s = m->bias[o];
    for (int64_t e = m->rowptr[o]; e < m->rowptr[o + 1]; e++) s += m->val[e] * x[m->col[e]];
    y[o] = s;
  }
}

static int nomem(struct pn_ctx *ctx, const struct pn_node *n) {
  return pn_err(ctx, PN_ERR_NOMEM, "fhe: node '%s' (%s): out of memory building its matrix", pn_node_label(n),
                n->op_type);
}

static int node_err(struct pn_ctx *ctx, const struct pn_node *n, int code, const char *what) {
  return pn_err(ctx, code, "fhe: node '%s' (%s): %s", pn_node_label(n), n->op_type, what);
}

/* A float initializer input of n, or NULL with an error. */
static const struct pn_tensor *const_input(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_node *n,
                                           int i, const char *what) {
  if (i >= n->n_in || !n->in[i][0]) {
    char b[96];
    snprintf(b, sizeof b, "input %d (%s) is missing", i, what);
    node_err(ctx, n, PN_ERR_INVALID, b);
    return NULL;
  }
  const struct pn_tensor *t = pn_graph_find_init(g, n->in[i]);
  if (!t || t->dtype != PN_DT_FLOAT) {
    char b[160];
    snprintf(b, sizeof b, "input %d (%s, '%s') must be a float initializer: the server's weights are "
             "plaintext constants", i, what, n->in[i]);
    node_err(ctx, n, PN_ERR_UNSUPPORTED, b);
    return NULL;
  }
  return t;
}

static int64_t numel(int ndim, const int64_t *d) {
  int64_t v = 1;
  for (int i = 0; i < ndim; i++) v *= d[i];
  return v;
}

/* (C,H,W) of a rank-4 image tensor [1,C,H,W] (rank 3: H = 1). */
static void chw(int ndim, const int64_t *d, int64_t *c, int64_t *h, int64_t *w) {
  *c = ndim > 1 ? d[1] : 1;
  *h = ndim > 2 ? d[2] : 1;
  *w = ndim > 3 ? d[3] : 1;
}

static int lmap_conv(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_node *n,
                     const struct pn_op_args *args, int in_ndim, const int64_t *in_dims, int out_ndim,
                     const int64_t *out_dims, struct fhe_lmap **out) {
  if (in_ndim != 4 || out_ndim != 4) return node_err(ctx, n, PN_ERR_UNSUPPORTED, "only 2-D convolutions");
  const struct pn_tensor *W = const_input(ctx, g, n, 1, "W"), *B = NULL;
  if (!W) return ctx->status;
  if (n->n_in > 2 && n->in[2][0] && !(B = const_input(ctx, g, n, 2, "B"))) return ctx->status;
  int64_t group;
  int rc = pn_node_get_int(ctx, n, "group", 1, &group);
  if (rc) return rc;
  int64_t C, H, Wd, M, OH, OW, tmp;
  chw(in_ndim, in_dims, &C, &H, &Wd);
  chw(out_ndim, out_dims, &M, &OH, &OW);
  (void)tmp;
  if (W->ndim != 4 || W->dims[0] != M || group < 1 || C % group || M % group || W->dims[1] != C / group)
    return node_err(ctx, n, PN_ERR_INVALID, "weights W do not match the input channels and group");
  struct pn_window w = {.nsp = 2, .in = {H, Wd}, .k = {W->dims[2], W->dims[3]}};
  if ((rc = pn_window_init(args, PN_WIN_CONV, true, &w))) return rc;
  if (w.out[0] != OH || w.out[1] != OW) return node_err(ctx, n, PN_ERR_INVALID, "output size disagrees");
  const int64_t cg = C / group, mg = M / group, kh = W->dims[2], kw = W->dims[3];
  int64_t nnz = M * OH * OW * cg * kh * kw;
  struct fhe_lmap *m = fhe_lmap_new(M * OH * OW, C * H * Wd, nnz);
  if (!m) return nomem(ctx, n);
  const float *wt = W->data, *bt = B ? B->data : NULL;
  int64_t e = 0;
  for (int64_t co = 0; co < M; co++) {
    int64_t gi = co / mg;
    for (int64_t y = 0; y < OH; y++)
      for (int64_t x = 0; x < OW; x++) {
        int64_t o = (co * OH + y) * OW + x;
        m->rowptr[o] = e;
        for (int64_t ci = 0; ci < cg; ci++)
          for (int64_t ky = 0; ky < kh; ky++) {
            int64_t iy = y * w.s[0] - w.pb[0] + ky * w.d[0];
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < kw; kx++) {
              int64_t ix = x * w.s[1] - w.pb[1] + kx * w.d[1];
              if (ix < 0 || ix >= Wd) continue;
              double v = wt[((co * cg + ci) * kh + ky) * kw + kx];
              if (v == 0) continue;
              m->col[e] = (int32_t)(((gi * cg + ci) * H + iy) * Wd + ix);
              m->val[e++] = v;
            }
          }
        m->bias[o] = bt ? bt[co] : 0;
      }
  }
  m->rowptr[m->n_out] = e;
  m->nnz = e;
  m->mix = cg == 1 && mg == 1 ? FHE_MIX_DEPTHWISE : FHE_MIX_CONV;
  m->stride[0] = w.s[0];
  m->stride[1] = w.s[1];
  snprintf(m->what, sizeof m->what, "Conv");
  *out = m;
  return PN_OK;
}

static int lmap_pool(struct pn_ctx *ctx, const struct pn_node *n, const struct pn_op_args *args, int global,
                     int in_ndim, const int64_t *in_dims, int out_ndim, const int64_t *out_dims,
                     struct fhe_lmap **out) {
  if (in_ndim != 4 || out_ndim != 4) return node_err(ctx, n, PN_ERR_UNSUPPORTED, "only 2-D pooling");
  int64_t C, H, Wd, C2, OH, OW, cip = 0;
  chw(in_ndim, in_dims, &C, &H, &Wd);
  chw(out_ndim, out_dims, &C2, &OH, &OW);
  /* pn_window_kernel reads kernel_shape into an unknown (-1) kernel; a global pool's is the whole map */
  struct pn_window w = {.nsp = 2, .in = {H, Wd}, .k = {-1, -1}, .s = {1, 1}, .d = {1, 1}};
  int rc;
  if (global) {
    w.k[0] = H, w.k[1] = Wd;
    w.out[0] = w.out[1] = 1;
  } else {
    if ((rc = pn_window_kernel(args, true, &w)) || (rc = pn_window_init(args, PN_WIN_POOL, true, &w)))
      return rc;
    if ((rc = pn_node_get_int(ctx, n, "count_include_pad", 0, &cip))) return rc;
  }
  if (C2 != C || w.out[0] != OH || w.out[1] != OW) return node_err(ctx, n, PN_ERR_INVALID, "output size disagrees");
  const int64_t kh = w.k[0], kw = w.k[1];
  struct fhe_lmap *m = fhe_lmap_new(C * OH * OW, C * H * Wd, C * OH * OW * kh * kw);
  if (!m) return nomem(ctx, n);
  int64_t e = 0;
  for (int64_t c = 0; c < C; c++)
    for (int64_t y = 0; y < OH; y++)
      for (int64_t x = 0; x < OW; x++) {
        int64_t o = (c * OH + y) * OW + x, e0 = e, cnt = 0;
        m->rowptr[o] = e;
        for (int64_t ky = 0; ky < kh; ky++)
          for (int64_t kx = 0; kx < kw; kx++) {
            int64_t iy = y * w.s[0] - (global ? 0 : w.pb[0]) + ky * w.d[0];
            int64_t ix = x * w.s[1] - (global ? 0 : w.pb[1]) + kx * w.d[1];
            /* ONNX: count_include_pad counts pad positions inside the padded extent only */
            int inside_pad = iy >= -w.pb[0] && iy < H + w.pe[0] && ix >= -w.pb[1] && ix < Wd + w.pe[1];
            if (iy < 0 || iy >= H || ix < 0 || ix >= Wd) {
              if (cip && inside_pad) cnt++;
              continue;
            }
            cnt++;
            m->col[e] = (int32_t)((c * H + iy) * Wd + ix);
            m->val[e++] = 1;
          }
        for (int64_t t = e0; t < e; t++) m->val[t] = 1.0 / (double)(cnt ? cnt : 1);
      }
  m->rowptr[m->n_out] = e;
  m->nnz = e;
  m->mix = global ? FHE_MIX_DENSE : FHE_MIX_DEPTHWISE;
  m->stride[0] = global ? 1 : w.s[0];
  m->stride[1] = global ? 1 : w.s[1];
  snprintf(m->what, sizeof m->what, "%s", n->op_type);
  *out = m;
  return PN_OK;
}

/* Gemm(A, B[, C]) with A the data [1,K]; MatMul(A, B) with B a constant [K,M]. */
static int lmap_gemm(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_node *n, int matmul,
                     int in_ndim, const int64_t *in_dims, int out_ndim, const int64_t *out_dims,
                     struct fhe_lmap **out) {
  int64_t ta = 0, tb = 0;
  float alpha = 1, beta = 1;
  int rc;
  if (!matmul && ((rc = pn_node_get_int(ctx, n, "transA", 0, &ta)) || (rc = pn_node_get_int(ctx, n, "transB", 0, &tb)) ||
                  (rc = pn_node_get_float(ctx, n, "alpha", 1, &alpha)) || (rc = pn_node_get_float(ctx, n, "beta", 1, &beta))))
    return rc;
  if (ta) return node_err(ctx, n, PN_ERR_UNSUPPORTED, "transA = 1 (the data must be the row vector A)");
  if (pn_graph_find_init(g, n->in[0]))
    return node_err(ctx, n, PN_ERR_UNSUPPORTED, "the data must be the first input");
  const struct pn_tensor *B = const_input(ctx, g, n, 1, "B"), *Cb = NULL;
  if (!B) return ctx->status;
  if (!matmul && n->n_in > 2 && n->in[2][0] && !(Cb = const_input(ctx, g, n, 2, "C"))) return ctx->status;
  int64_t K = in_dims[in_ndim - 1], M = out_dims[out_ndim - 1];
  if (numel(in_ndim, in_dims) != K || numel(out_ndim, out_dims) != M || B->ndim != 2)
    return node_err(ctx, n, PN_ERR_UNSUPPORTED, "only a single row of data times a constant matrix");
  if ((tb ? B->dims[1] : B->dims[0]) != K || (tb ? B->dims[0] : B->dims[1]) != M)
    return node_err(ctx, n, PN_ERR_INVALID, "B does not match the data");
  int64_t cn = Cb ? pn_tensor_numel(Cb) : 0;
  if (Cb && cn != 1 && cn != M) return node_err(ctx, n, PN_ERR_UNSUPPORTED, "bias C must have 1 or N entries");
  struct fhe_lmap *m = fhe_lmap_new(M, K, M * K);
  if (!m) return nomem(ctx, n);
  const float *b = B->data;
  int64_t e = 0;
  for (int64_t o = 0; o < M; o++) {
    m->rowptr[o] = e;
    for (int64_t i = 0; i < K; i++) {
      double v = (double)alpha * b[tb ? o * K + i : i * M + o];
      if (v == 0) continue;
      m->col[e] = (int32_t)i;
      m->val[e++] = v;
    }
    m->bias[o] = Cb ? (double)beta * ((const float *)Cb->data)[cn == 1 ? 0 : o] : 0;
  }
  m->rowptr[M] = e;
  m->nnz = e;
  m->mix = FHE_MIX_DENSE;
  m->stride[0] = m->stride[1] = 1;
  snprintf(m->what, sizeof m->what, "%s", n->op_type);
  *out = m;
  return PN_OK;
}

/* The per-channel or per-element affine map diag(s) x + t, from broadcast constants. */
static int lmap_diag(struct pn_ctx *ctx, const struct pn_node *n, const char *what, int ndim, const int64_t *dims,
                     const double *s, const double *t, int64_t per /* elements per value: channel plane or 1 */,
                     int64_t nval, struct fhe_lmap **out) {
  int64_t N = numel(ndim, dims);
  struct fhe_lmap *m = fhe_lmap_new(N, N, N);
  if (!m) return nomem(ctx, n);
  for (int64_t o = 0; o < N; o++) {
    int64_t v = (o / per) % nval;
    m->rowptr[o] = o;
    m->col[o] = (int32_t)o;
    m->val[o] = s ? s[v] : 1;
    m->bias[o] = t ? t[v] : 0;
  }
  m->rowptr[N] = N;
  m->mix = FHE_MIX_DIAG;
  m->stride[0] = m->stride[1] = 1;
  snprintf(m->what, sizeof m->what, "%s", what);
  *out = m;
  return PN_OK;
}

static int lmap_bn(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_node *n, int ndim,
                   const int64_t *dims, struct fhe_lmap **out) {
  const struct pn_tensor *sc = const_input(ctx, g, n, 1, "scale"), *bi = sc ? const_input(ctx, g, n, 2, "B") : NULL,
                         *mu = bi ? const_input(ctx, g, n, 3, "mean") : NULL,
                         *va = mu ? const_input(ctx, g, n, 4, "var") : NULL;
  if (!va) return ctx->status;
  float eps = 1e-5f;
  int rc = pn_node_get_float(ctx, n, "epsilon", 1e-5f, &eps);
  if (rc) return rc;
  int64_t C = ndim > 1 ? dims[1] : 1, plane = numel(ndim, dims) / (C ? C : 1);
  if (pn_tensor_numel(sc) != C || pn_tensor_numel(bi) != C || pn_tensor_numel(mu) != C || pn_tensor_numel(va) != C)
    return node_err(ctx, n, PN_ERR_INVALID, "parameters do not have one entry per channel");
  double *s = malloc((size_t)C * 2 * sizeof *s);
  if (!s) return nomem(ctx, n);
  for (int64_t c = 0; c < C; c++) {
    /* the executor's float formula, evaluated in double */
    double k = ((const float *)sc->data)[c] / sqrt((double)((const float *)va->data)[c] + eps);
    s[c] = k;
    s[C + c] = ((const float *)bi->data)[c] - ((const float *)mu->data)[c] * k;
  }
  rc = lmap_diag(ctx, n, "BatchNormalization", ndim, dims, s, s + C, plane, C, out);
  free(s);
  return rc;
}

/* Add/Sub/Mul of the data and a constant that broadcasts onto it: scalar, or one value per channel
** ([C,1,1] / [1,C,1,1]), or the whole tensor. */
static int lmap_binary(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_node *n, enum pn_op op,
                       int ndim, const int64_t *dims, struct fhe_lmap **out) {
  int ci = pn_graph_find_init(g, n->in[1]) ? 1 : 0;
  const struct pn_tensor *k = const_input(ctx, g, n, ci, "constant");
  if (!k) return ctx->status;
  if (op == PN_OP_SUB && ci == 0)
    return node_err(ctx, n, PN_ERR_UNSUPPORTED, "constant minus data (negate first)");
  int64_t N = numel(ndim, dims), kn = pn_tensor_numel(k), C = ndim > 1 ? dims[1] : 1, per, nval;
  if (kn == 1) per = N, nval = 1;
  else if (kn == C && (k->ndim == 1 ? ndim == 2 : k->dims[k->ndim - 1] == 1 || k->ndim == 1)) per = N / C, nval = C;
  else if (kn == N) per = 1, nval = N;
  else return node_err(ctx, n, PN_ERR_UNSUPPORTED, "a constant operand that broadcasts otherwise than scalar, "
                       "per channel or whole");
  double *v = malloc((size_t)kn * sizeof *v);
  if (!v) return nomem(ctx, n);
  for (int64_t i = 0; i < kn; i++)
    v[i] = op == PN_OP_SUB ? -(double)((const float *)k->data)[i] : ((const float *)k->data)[i];
  int rc = op == PN_OP_MUL ? lmap_diag(ctx, n, "Mul", ndim, dims, v, NULL, per, nval, out)
                           : lmap_diag(ctx, n, op == PN_OP_SUB ? "Sub" : "Add", ndim, dims, NULL, v, per, nval, out);
  free(v);
  return rc;
}

int fhe_lmap_node(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_node *n, int64_t opset,
                  int in_ndim, const int64_t *in_dims, int out_ndim, const int64_t *out_dims,
                  struct fhe_lmap **out) {
  *out = NULL;
  struct pn_op_args args = {ctx, n, opset};
  int op = pn_op_find(n->domain, n->op_type);
  if (numel(in_ndim, in_dims) > INT32_MAX || numel(out_ndim, out_dims) > INT32_MAX)
    return node_err(ctx, n, PN_ERR_UNSUPPORTED, "tensor too large");
  switch (op) {
  case PN_OP_CONV: return lmap_conv(ctx, g, n, &args, in_ndim, in_dims, out_ndim, out_dims, out);
  case PN_OP_AVERAGE_POOL: return lmap_pool(ctx, n, &args, 0, in_ndim, in_dims, out_ndim, out_dims, out);
  case PN_OP_GLOBAL_AVERAGE_POOL: return lmap_pool(ctx, n, &args, 1, in_ndim, in_dims, out_ndim, out_dims, out);
  case PN_OP_GEMM: return lmap_gemm(ctx, g, n, 0, in_ndim, in_dims, out_ndim, out_dims, out);
  case PN_OP_MATMUL: return lmap_gemm(ctx, g, n, 1, in_ndim, in_dims, out_ndim, out_dims, out);
  case PN_OP_BATCH_NORM: return lmap_bn(ctx, g, n, in_ndim, in_dims, out);
  case PN_OP_ADD:
  case PN_OP_SUB:
  case PN_OP_MUL: return lmap_binary(ctx, g, n, (enum pn_op)op, in_ndim, in_dims, out);
  default: return node_err(ctx, n, PN_ERR_UNSUPPORTED, "not a linear operator the FHE compiler knows");
  }
}

static int cmp_i32(const void *x, const void *y) {
  int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
  return (a > b) - (a < b);
}

int fhe_lmap_compose(struct pn_ctx *ctx, const struct fhe_lmap *b, const struct fhe_lmap *a, struct fhe_lmap **out) {
  *out = NULL;
  if (b->n_in != a->n_out) return pn_err(ctx, PN_ERR_INVALID, "fhe: composing maps of %lld and %lld elements",
                                         (long long)b->n_in, (long long)a->n_out);
  double *acc = calloc((size_t)a->n_in, sizeof *acc);
  int32_t *seen = malloc((size_t)a->n_in * sizeof *seen), *list = malloc((size_t)a->n_in * sizeof *list);
  int64_t cap = b->nnz + a->nnz + 16, e = 0;
  struct fhe_lmap *m = fhe_lmap_new(b->n_out, a->n_in, cap);
  int rc = PN_OK;
  if (!acc || !seen || !list || !m) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory composing linear maps");
    goto done;
  }
  for (int64_t i = 0; i < a->n_in; i++) seen[i] = -1;
  for (int64_t o = 0; o < b->n_out; o++) {
    int64_t nl = 0;
    double bias = b->bias[o];
    for (int64_t t = b->rowptr[o]; t < b->rowptr[o + 1]; t++) {
      int64_t j = b->col[t];
      double w = b->val[t];
      bias += w * a->bias[j];
      for (int64_t s = a->rowptr[j]; s < a->rowptr[j + 1]; s++) {
        int32_t i = a->col[s];
        if (seen[i] != (int32_t)o) {
          seen[i] = (int32_t)o;
          acc[i] = 0;
          list[nl++] = i;
        }
        acc[i] += w * a->val[s];
      }
    }
    if (e + nl > cap) {
      int64_t nc = (e + nl) * 2;
      int32_t *c2 = realloc(m->col, (size_t)nc * sizeof *c2);
      if (c2) m->col = c2;
      double *v2 = c2 ? realloc(m->val, (size_t)nc * sizeof *v2) : NULL;
      if (!c2 || !v2) {
        rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory composing linear maps");
        goto done;
      }
      m->val = v2;
      cap = nc;
    }
    m->rowptr[o] = e;
    /* columns in ascending order: deterministic sums downstream */
    qsort(list, (size_t)nl, sizeof *list, cmp_i32);
    for (int64_t t = 0; t < nl; t++)
      if (acc[list[t]] != 0) {
        m->col[e] = list[t];
        m->val[e++] = acc[list[t]];
      }
    m->bias[o] = bias;
  }
  m->rowptr[b->n_out] = e;
  m->nnz = e;
  /* the kind of the product: a dense factor makes it dense; else the mixing one */
  if (a->mix == FHE_MIX_DENSE || b->mix == FHE_MIX_DENSE) m->mix = FHE_MIX_DENSE;
  else if (a->mix == FHE_MIX_CONV || b->mix == FHE_MIX_CONV) m->mix = FHE_MIX_CONV;
  else if (a->mix == FHE_MIX_DEPTHWISE || b->mix == FHE_MIX_DEPTHWISE) m->mix = FHE_MIX_DEPTHWISE;
  else m->mix = FHE_MIX_DIAG;
  m->stride[0] = a->stride[0] * b->stride[0];
  m->stride[1] = a->stride[1] * b->stride[1];
  snprintf(m->what, sizeof m->what, "%.23s+%.23s", a->what, b->what);
  *out = m;
  m = NULL;
done:
  fhe_lmap_free(m);
  free(acc);
  free(seen);
  free(list);
  return rc;
}
