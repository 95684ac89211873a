/* runner.c - evaluate an ONNX CNN on secret shares: linear layers, pools and HummingBird ReLUs.
**
** The graph is copied and optimised by the model owner's plaintext passes (BatchNormalization
** folded into Conv, constants folded), the batch dim is fixed and shapes are inferred once. Each
** value is then a pair of share arrays; linear ops are local (public weights) or one Beaver matrix
** product (secret weights), each followed by local truncation; ReLU reads its bit range from the
** plan; MaxPool is a tree of secure max over the window; average pools multiply by a public 1/count.
** Shares of a value are freed after its last reader. The ops it evaluates are the rows of mpc_ops
** (indexed by enum pn_op, like the executor's and autograd's tables). */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/window.h"
#include "graph/ops.h"
#include "graph/passes.h"
#include "mpc/relu.h"
#include "mpc/runner.h"
#include "util/fileio.h"
#include "util/status.h"
#include "util/wipe.h"

struct val {
  const char *name;
  int ndim;
  int64_t dims[PN_MAX_DIMS];
  int64_t n;
  pn_sh s;
  int last;        /* index of the last node reading it (n_nodes for graph outputs) */
};

struct pn_mpc_model {
  struct pn_ctx *ctx;
  struct pn_graph *g;
  struct pn_mpc_model_opts o;
  struct pn_mpc_plan plan;
  int nval;
  struct val *vals;
  int *op;                       /* per node: enum pn_op */
  struct pn_mpc_layer *layers;
  int in_val, out_val;
  int ncache;                    /* encoded constants, by (initializer, multiplier) */
  struct enc_cache {
    const char *name;
    double mul;
    int64_t n;
    uint64_t *enc;
    int32_t *enc32;              /* the same words in 32 bits when they all fit, else NULL */
    int16_t *enc16;              /* in 16 bits when they all fit (then enc32 is NULL) */
  } *cache;
};

static int const_enc(struct pn_mpc_model *mm, const struct pn_node *n, const char *name,
                     double mul, int64_t want, uint64_t **out);

/* One op's secure evaluation: y (allocated) from x, the node's first input (NULL when that is a
** constant, allowed only with any_first); counters of ReLU-like work go to ly. */
typedef int (*mpc_run_fn)(struct pn_mpc_model *mm, struct pn_mpc *m, const struct pn_node *n,
                          enum pn_op op, struct pn_mpc_layer *ly, const struct val *x, struct val *y);
struct mpc_op {
  mpc_run_fn run;
  bool any_first;              /* the first input may be a constant (Add) */
};
static const struct mpc_op mpc_ops[PN_OP_COUNT];

static int find_val(const struct pn_mpc_model *mm, const char *name) {
  for (int i = 0; i < mm->nval; i++)
    if (!strcmp(mm->vals[i].name, name)) return i;
  return -1;
}

static int node_err(struct pn_mpc_model *mm, const struct pn_node *n, int code, const char *what) {
  return pn_err(mm->ctx, code, "node '%s' (%s): %s", pn_node_label(n), n->op_type, what);
}

static int add_val(struct pn_mpc_model *mm, const char *name, int ndim, const int64_t *dims) {
  struct val *v = &mm->vals[mm->nval++];
  memset(v, 0, sizeof *v);
  v->name = name;
  v->ndim = ndim;
  v->n = 1;
  for (int i = 0; i < ndim; i++) {
    v->dims[i] = dims[i];
    v->n *= dims[i];
  }
  return mm->nval - 1;
}

void pn_mpc_model_free(struct pn_mpc_model *mm) {
  if (!mm) return;
  pn_graph_free(mm->g);
  pn_mpc_plan_free(&mm->plan);
  free(mm->vals);
  free(mm->op);
  free(mm->layers);
  for (int i = 0; i < mm->ncache; i++) {
    free(mm->cache[i].enc);
    free(mm->cache[i].enc32);
    free(mm->cache[i].enc16);
  }
  free(mm->cache);
  free(mm);
}

int pn_mpc_model_new(struct pn_ctx *ctx, const struct pn_graph *g0,
                     const struct pn_mpc_model_opts *opts, struct pn_mpc_model **out) {
  *out = NULL;
  int rc;
  struct pn_mpc_model *mm = calloc(1, sizeof *mm);
  if (!mm) return pn_err(ctx, PN_ERR_NOMEM, "mpc: out of memory");
  mm->ctx = ctx;
  mm->o = *opts;
  if (mm->o.frac <= 0) mm->o.frac = PN_MPC_FRAC_DEFAULT;
  if (mm->o.batch <= 0) mm->o.batch = 1;
  if (opts->plan)
    for (int i = 0; i < opts->plan->n; i++)
      if ((rc = pn_mpc_plan_add(&mm->plan, opts->plan->items[i].node, opts->plan->items[i].k,
                                opts->plan->items[i].m))) {
        pn_err(ctx, rc, "mpc: out of memory");
        goto fail;
      }
  mm->o.plan = NULL;
  if (!(mm->g = pn_graph_clone(g0))) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "mpc: out of memory");
    goto fail;
  }
  struct pn_graph *g = mm->g;
  int nin = 0, in_idx = -1;
  for (int i = 0; i < g->n_inputs; i++)
    if (pn_graph_is_runtime_input(g, i)) {
      nin++;
      in_idx = i;
    }
  if (nin != 1 || g->n_outputs != 1) {
    rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "mpc: the model must have one input and one output "
                "(has %d and %d)", nin, g->n_outputs);
    goto fail;
  }
  struct pn_value *iv = &g->inputs[in_idx];
  if (iv->ndim < 1) {
    rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "mpc: input '%s' has no known shape", iv->name);
    goto fail;
  }
  iv->dims[0] = mm->o.batch;
  for (int i = 1; i < iv->ndim; i++)
    if (iv->dims[i] < 0) {
      rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "mpc: input '%s' dim %d is unknown", iv->name, i);
      goto fail;
    }
  g->n_vinfo = 0;
  g->outputs[0].ndim = -1;
  if ((rc = pn_optimize_graph(ctx, g, NULL)) || (rc = pn_graph_infer_shapes(ctx, g))) goto fail;
  mm->vals = calloc((size_t)(g->n_nodes * 4 + 2), sizeof *mm->vals);
  mm->op = calloc((size_t)g->n_nodes + 1, sizeof *mm->op);
  mm->layers = calloc((size_t)g->n_nodes + 1, sizeof *mm->layers);
  if (!mm->vals || !mm->op || !mm->layers) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "mpc: out of memory");
    goto fail;
  }
  mm->in_val = add_val(mm, iv->name, iv->ndim, iv->dims);
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    int op = pn_op_find(n->domain, n->op_type);
    mm->op[i] = op;
    mm->layers[i].name = pn_node_label(n);
    mm->layers[i].op = n->op_type;
    if (op < 0 || !pn_mpc_supports((enum pn_op)op)) {
      rc = node_err(mm, n, PN_ERR_UNSUPPORTED, "operator not supported in MPC inference");
      goto fail;
    }
    /* inputs that are activations get their last use; initializers are read on demand */
    for (int j = 0; j < n->n_in; j++) {
      if (!n->in[j][0]) continue;
      int vi = find_val(mm, n->in[j]);
      if (vi >= 0) mm->vals[vi].last = i;
      else if (!pn_graph_find_init(g, n->in[j])) {
        rc = node_err(mm, n, PN_ERR_UNSUPPORTED, "input is neither an activation nor an "
                      "initializer");
        goto fail;
      }
    }
    if (n->n_out < 1 || !n->out[0][0]) {
      rc = node_err(mm, n, PN_ERR_INVALID, "no output");
      goto fail;
    }
    const struct pn_value *ov = pn_graph_find_vinfo(g, n->out[0]);
    if (!ov && !strcmp(g->outputs[0].name, n->out[0])) ov = &g->outputs[0];
    if (!ov || ov->ndim < 0) {
      rc = node_err(mm, n, PN_ERR_UNSUPPORTED, "output shape unknown after shape inference");
      goto fail;
    }
    for (int d = 0; d < ov->ndim; d++)
      if (ov->dims[d] < 0) {
        rc = node_err(mm, n, PN_ERR_UNSUPPORTED, "output shape unknown after shape inference");
        goto fail;
      }
    add_val(mm, n->out[0], ov->ndim, ov->dims);
  }
  mm->out_val = find_val(mm, g->outputs[0].name);
  if (mm->out_val < 0) {
    rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "mpc: graph output '%s' is not computed by a node",
                g->outputs[0].name);
    goto fail;
  }
  mm->vals[mm->out_val].last = g->n_nodes;
  rc = PN_OK;
  /* every plan entry must name a ReLU or MaxPool of the model: a typo would run full-bit */
  if (mm->plan.n) {
    struct pn_strmap labels = {0};
    for (int i = 0; i < g->n_nodes && rc == PN_OK; i++)
      if (pn_strmap_put(&labels, pn_node_label(g->nodes[i]), i))
        rc = pn_err(ctx, PN_ERR_NOMEM, "mpc: out of memory");
    for (int i = 0; i < mm->plan.n && rc == PN_OK; i++) {
      int ni = pn_strmap_get(&labels, mm->plan.items[i].node, -1);
      if (ni < 0)
        rc = pn_err(ctx, PN_ERR_INVALID, "mpc: plan entry %d names node '%s', which the model "
                    "does not have (a plan for another model?)", i, mm->plan.items[i].node);
      else if (mm->op[ni] != PN_OP_RELU && mm->op[ni] != PN_OP_MAX_POOL)
        rc = pn_err(ctx, PN_ERR_INVALID, "mpc: plan entry %d names node '%s', a %s, not a Relu or "
                    "MaxPool", i, mm->plan.items[i].node, g->nodes[ni]->op_type);
    }
    pn_strmap_free(&labels);
    if (rc) goto fail;
  }
  /* encode the weights now (model preparation), not during the first secure run */
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    uint64_t *e;
    float alpha = 1;
    if (mm->op[i] == PN_OP_GEMM && (rc = pn_node_get_float(ctx, n, "alpha", 1, &alpha))) goto fail;
    if ((mm->op[i] == PN_OP_CONV || mm->op[i] == PN_OP_GEMM || mm->op[i] == PN_OP_MATMUL) &&
        n->n_in > 1 && pn_graph_find_init(g, n->in[1]) &&
        (rc = const_enc(mm, n, n->in[1], mm->op[i] == PN_OP_GEMM ? alpha : 1, -1, &e)))
      goto fail;
  }
  *out = mm;
  return PN_OK;
fail:
  pn_mpc_model_free(mm);
  return rc;
}

int64_t pn_mpc_model_in_numel(const struct pn_mpc_model *mm) { return mm->vals[mm->in_val].n; }
int64_t pn_mpc_model_out_numel(const struct pn_mpc_model *mm) { return mm->vals[mm->out_val].n; }
const struct pn_graph *pn_mpc_model_graph(const struct pn_mpc_model *mm) { return mm->g; }
int pn_mpc_model_n_layers(const struct pn_mpc_model *mm) { return mm->g->n_nodes; }
const struct pn_mpc_layer *pn_mpc_model_layer(const struct pn_mpc_model *mm, int i) {
  return &mm->layers[i];
}
void pn_mpc_model_reset_stats(struct pn_mpc_model *mm) {
  for (int i = 0; i < mm->g->n_nodes; i++) {
    mm->layers[i].bytes = mm->layers[i].rounds = 0;
    mm->layers[i].seconds = 0;
    mm->layers[i].relu_elems = 0;
  }
}
double pn_mpc_model_bits_discarded(const struct pn_mpc_model *mm) {
  double used = 0, all = 0;
  for (int i = 0; i < mm->g->n_nodes; i++) {
    used += (double)mm->layers[i].relu_elems * mm->layers[i].relu_bits;
    all += (double)mm->layers[i].relu_elems * 64;
  }
  return all > 0 ? 1 - used / all : 0;
}

/* ---- constants: encoded plaintext, and additive shares (secret: owner's split; public: P0) ---- */

/* The fixed-point encoding of initializer `name` times mul (cached in the model; not freed by
** the caller). want >= 0 checks the element count. */
static int const_enc(struct pn_mpc_model *mm, const struct pn_node *n, const char *name,
                     double mul, int64_t want, uint64_t **out) {
  *out = NULL;
  for (int i = 0; i < mm->ncache; i++)
    if (!strcmp(mm->cache[i].name, name) && mm->cache[i].mul == mul) {
      if (want >= 0 && mm->cache[i].n != want)
        return node_err(mm, n, PN_ERR_UNSUPPORTED, "unexpected weight size");
      *out = mm->cache[i].enc;
      return PN_OK;
    }
  const struct pn_tensor *t = pn_graph_find_init(mm->g, name);
  if (!t) return node_err(mm, n, PN_ERR_UNSUPPORTED, "weights must be initializers");
  if (t->dtype != PN_DT_FLOAT && t->dtype != PN_DT_DOUBLE)
    return node_err(mm, n, PN_ERR_UNSUPPORTED, "weights must be float");
  int64_t cnt = pn_tensor_numel(t);
  if (want >= 0 && cnt != want) return node_err(mm, n, PN_ERR_UNSUPPORTED, "unexpected weight size");
  struct enc_cache *c = realloc(mm->cache, (size_t)(mm->ncache + 1) * sizeof *c);
  if (!c) return pn_err(mm->ctx, PN_ERR_NOMEM, "mpc: out of memory");
  mm->cache = c;
  uint64_t *e = malloc((size_t)(cnt ? cnt : 1) * 8);
  if (!e) return pn_err(mm->ctx, PN_ERR_NOMEM, "mpc: out of memory");
  int fits32 = 1, fits16 = 1;
  for (int64_t i = 0; i < cnt; i++) {
    e[i] = pn_fx_encode(pn_tensor_get_f64(t, i) * mul, mm->o.frac);
    fits32 &= (int64_t)e[i] >= INT32_MIN && (int64_t)e[i] <= INT32_MAX;
    fits16 &= (int64_t)e[i] >= INT16_MIN && (int64_t)e[i] <= INT16_MAX;
  }
  int16_t *e16 = fits16 && cnt ? malloc((size_t)cnt * 2) : NULL;
  int32_t *e32 = fits32 && !e16 && cnt ? malloc((size_t)cnt * 4) : NULL;
  for (int64_t i = 0; e16 && i < cnt; i++) e16[i] = (int16_t)(int64_t)e[i];
  for (int64_t i = 0; e32 && i < cnt; i++) e32[i] = (int32_t)(int64_t)e[i];
  c[mm->ncache++] = (struct enc_cache){name, mul, cnt, e, e32, e16};
  *out = e;
  return PN_OK;
}

/* The narrow copy of the cached encoding that contains p: *w32 or *w16 (or neither). */
static void enc_narrow(const struct pn_mpc_model *mm, const uint64_t *p, const int32_t **w32,
                       const int16_t **w16) {
  *w32 = NULL;
  *w16 = NULL;
  for (int i = 0; i < mm->ncache; i++) {
    const struct enc_cache *c = &mm->cache[i];
    if (p >= c->enc && p < c->enc + c->n) {
      if (c->enc32) *w32 = c->enc32 + (p - c->enc);
      if (c->enc16) *w16 = c->enc16 + (p - c->enc);
      return;
    }
  }
}

/* Additive shares of enc[0..cnt) for the views of m. Secret: P1 = PRG(owner, name), P0 = enc - P1.
** Public: P0 = enc, P1 = 0. */
static int const_share(struct pn_mpc_model *mm, struct pn_mpc *m, const char *name,
                       const uint64_t *enc, int64_t cnt, pn_sh out) {
  int rc = pn_sh_alloc(m, cnt, out);
  if (rc) return rc;
  uint64_t *r = NULL;
  struct pn_mpc_wtable *wt = mm->o.secret_weights ? mm->o.wtab : NULL;
  const struct pn_mpc_wshare *have = wt ? pn_mpc_wtable_find(wt, name) : NULL;
  if (have && have->n != cnt) {
    pn_sh_free(m, cnt, out);
    return pn_err(mm->ctx, PN_ERR_MISMATCH, "mpc: weight share '%s' has %lld words, the model "
                  "needs %lld", name, (long long)have->n, (long long)cnt);
  }
  if (wt && !wt->recording && !have)
    for (int v = 0; v < m->nv; v++)
      if (m->id[v] == 0) {
        pn_sh_free(m, cnt, out);
        return pn_err(mm->ctx, PN_ERR_MISMATCH, "mpc: no weight share for '%s'", name);
      }
  if (mm->o.secret_weights) {
    uint8_t s[32];
    struct pn_prg prg;
    pn_seed_derive(mm->o.owner_seed, name, 0, s);
    rc = pn_prg_init(mm->ctx, &prg, s);
    pn_wipe(s, sizeof s);
    r = rc ? NULL : malloc((size_t)(cnt ? cnt : 1) * 8);
    if (!r) {
      if (!rc) pn_prg_free(&prg);
      pn_sh_free(m, cnt, out);
      return rc ? rc : pn_err(mm->ctx, PN_ERR_NOMEM, "mpc: out of memory");
    }
    pn_prg_bytes(&prg, r, (size_t)cnt * 8);
    pn_prg_free(&prg);
  }
  for (int v = 0; v < m->nv; v++) {
    if (have && !wt->recording && m->id[v] == 0) { /* P0's share from the owner's table */
      memcpy(out[v], have->w, (size_t)cnt * 8);
      continue;
    }
    for (int64_t i = 0; i < cnt; i++) {
      if (!mm->o.secret_weights) out[v][i] = m->id[v] == 0 ? enc[i] : 0;
      else out[v][i] = m->id[v] == 0 ? enc[i] - r[i] : r[i];
    }
    if (wt && wt->recording && !have && m->id[v] == 0 &&
        (rc = pn_mpc_wtable_add(wt, name, cnt, out[v]))) {
      pn_sh_free(m, cnt, out);
      pn_wipe_free(r, (size_t)(cnt ? cnt : 1) * 8);
      return pn_err(mm->ctx, rc, "mpc: out of memory");
    }
  }
  if (r) pn_wipe_free(r, (size_t)(cnt ? cnt : 1) * 8);
  return PN_OK;
}

/* Y[M,N] = W[M,K] X[K,N] where W is an encoded constant (public: local; secret: Beaver). */
static int weight_matmul(struct pn_mpc_model *mm, struct pn_mpc *m, const char *wname,
                         const uint64_t *wenc, int64_t M, int64_t K, int64_t N, const pn_sh X,
                         pn_sh Y, int w_right) {
  int rc = PN_OK;
  if (!mm->o.secret_weights) {
    const int32_t *w32 = NULL;
    const int16_t *w16 = NULL;
    if (!w_right) enc_narrow(mm, wenc, &w32, &w16);
    for (int v = 0; v < m->nv; v++) {
      if (w_right) pn_ring64_matmul(M, K, N, X[v], wenc, Y[v], 0);
      else if (w16) pn_ring64_matmul_w16(M, K, N, w16, X[v], Y[v]);
      else if (w32) pn_ring64_matmul_w32(M, K, N, w32, X[v], Y[v]);
      else pn_ring64_matmul(M, K, N, wenc, X[v], Y[v], 0);
    }
    return PN_OK;
  }
  pn_sh W = {0};
  int64_t nw = w_right ? K * N : M * K;
  if ((rc = const_share(mm, m, wname, wenc, nw, W))) return rc;
  rc = w_right ? pn_mpc_matmul(m, M, K, N, X, W, Y) : pn_mpc_matmul(m, M, K, N, W, X, Y);
  pn_sh_free(m, nw, W);
  return rc;
}

/* x[i] += bias[i / inner % c] (additive shares of an encoded constant). */
static int add_bias(struct pn_mpc_model *mm, struct pn_mpc *m, const struct pn_node *n,
                    const char *bname, int64_t c, int64_t inner, int64_t total, pn_sh x) {
  uint64_t *enc;
  pn_sh b = {0};
  int rc = const_enc(mm, n, bname, 1, c, &enc);
  if (rc) return rc;
  if ((rc = const_share(mm, m, bname, enc, c, b)) == PN_OK) {
    for (int v = 0; v < m->nv; v++)
      for (int64_t i = 0; i < total; i++) x[v][i] += b[v][(i / inner) % c];
    pn_sh_free(m, c, b);
  }
  return rc;
}

static int get_window(struct pn_mpc_model *mm, const struct pn_node *n, const struct val *x,
                      enum pn_window_kind kind, const int64_t *kernel, struct pn_window *w) {
  struct pn_op_args a = {mm->ctx, n, pn_graph_opset(mm->g, "")};
  if (x->ndim != 4) return node_err(mm, n, PN_ERR_UNSUPPORTED, "only 2-D images (N x C x H x W)");
  memset(w, 0, sizeof *w);
  w->nsp = 2;
  w->in[0] = x->dims[2];
  w->in[1] = x->dims[3];
  w->k[0] = kernel ? kernel[0] : -1;
  w->k[1] = kernel ? kernel[1] : -1;
  int rc = pn_window_kernel(&a, kind == PN_WIN_POOL, w);
  if (rc == PN_OK) rc = pn_window_init(&a, kind, kind == PN_WIN_CONV, w);
  if (rc == PN_OK && (w->out[0] <= 0 || w->out[1] <= 0))
    rc = node_err(mm, n, PN_ERR_INVALID, "empty output");
  return rc;
}

static int run_conv(struct pn_mpc_model *mm, struct pn_mpc *m, const struct pn_node *n,
                    enum pn_op op, struct pn_mpc_layer *ly, const struct val *x, struct val *y) {
  const struct pn_tensor *W = pn_graph_find_init(mm->g, n->in[1]);
  if (!W || W->ndim != 4) return node_err(mm, n, PN_ERR_UNSUPPORTED, "W must be a 4-D initializer");
  int64_t group;
  int rc = pn_node_get_int(mm->ctx, n, "group", 1, &group);
  if (rc) return rc;
  int64_t B = x->dims[0], C = x->dims[1], Co = W->dims[0], kk[2] = {W->dims[2], W->dims[3]};
  if (group < 1 || C % group || Co % group || W->dims[1] != C / group)
    return node_err(mm, n, PN_ERR_INVALID, "channels do not match W and group");
  struct pn_window w;
  if ((rc = get_window(mm, n, x, PN_WIN_CONV, kk, &w))) return rc;
  int64_t Cg = C / group, Cog = Co / group, K = Cg * kk[0] * kk[1], HW = x->dims[2] * x->dims[3];
  int64_t P = w.out[0] * w.out[1], N = B * P;
  uint64_t *wenc = NULL;
  pn_sh col = {0}, out = {0};
  if ((rc = const_enc(mm, n, n->in[1], 1, Co * K, &wenc)) || (rc = pn_sh_alloc(m, K * N, col)) ||
      (rc = pn_sh_alloc(m, Cog * N, out)))
    goto done;
  for (int64_t gi = 0; gi < group; gi++) {
    for (int v = 0; v < m->nv; v++) {
      uint64_t *cv = col[v];
      for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < Cg; c++) {
          const uint64_t *xc = x->s[v] + (b * C + gi * Cg + c) * HW;
          for (int64_t ky = 0; ky < kk[0]; ky++)
            for (int64_t kx = 0; kx < kk[1]; kx++) {
              uint64_t *row = cv + ((c * kk[0] + ky) * kk[1] + kx) * N + b * P;
              for (int64_t oy = 0; oy < w.out[0]; oy++) {
                int64_t iy = oy * w.s[0] - w.pb[0] + ky * w.d[0];
                for (int64_t ox = 0; ox < w.out[1]; ox++) {
                  int64_t ix = ox * w.s[1] - w.pb[1] + kx * w.d[1];
                  row[oy * w.out[1] + ox] = (iy >= 0 && iy < w.in[0] && ix >= 0 && ix < w.in[1])
                                                ? xc[iy * w.in[1] + ix] : 0;
                }
              }
            }
        }
    }
    char wname[512];
    snprintf(wname, sizeof wname, "%s#g%lld", n->in[1], (long long)gi);
    if ((rc = weight_matmul(mm, m, group > 1 ? wname : n->in[1], wenc + gi * Cog * K, Cog, K, N,
                            col, out, 0)))
      goto done;
    for (int v = 0; v < m->nv; v++)
      for (int64_t co = 0; co < Cog; co++)
        for (int64_t b = 0; b < B; b++)
          memcpy(y->s[v] + (b * Co + gi * Cog + co) * P, out[v] + co * N + b * P, (size_t)P * 8);
  }
  pn_mpc_trunc(m, y->n, y->s, mm->o.frac);
  if (n->n_in > 2 && n->in[2][0]) rc = add_bias(mm, m, n, n->in[2], Co, P, y->n, y->s);
done:
  pn_sh_free(m, K * N, col);
  pn_sh_free(m, Cog * N, out);
  return rc;
}

/* Gemm (A activation [M,K], B initializer, optional bias C) and MatMul with a constant right side. */
static int run_gemm(struct pn_mpc_model *mm, struct pn_mpc *m, const struct pn_node *n,
                    enum pn_op op, struct pn_mpc_layer *ly, const struct val *x, struct val *y) {
  int is_gemm = op == PN_OP_GEMM;
  int64_t ta = 0, tb = 0;
  float alpha = 1, beta = 1;
  int rc;
  if (is_gemm && ((rc = pn_node_get_int(mm->ctx, n, "transA", 0, &ta)) ||
                  (rc = pn_node_get_int(mm->ctx, n, "transB", 0, &tb)) ||
                  (rc = pn_node_get_float(mm->ctx, n, "alpha", 1, &alpha)) ||
                  (rc = pn_node_get_float(mm->ctx, n, "beta", 1, &beta))))
    return rc;
  if (ta) return node_err(mm, n, PN_ERR_UNSUPPORTED, "transA = 1");
  const struct pn_tensor *Bt = pn_graph_find_init(mm->g, n->in[1]);
  if (!Bt || Bt->ndim != 2)
    return node_err(mm, n, PN_ERR_UNSUPPORTED, "the right operand must be a 2-D initializer");
  int64_t K = tb ? Bt->dims[1] : Bt->dims[0], N = tb ? Bt->dims[0] : Bt->dims[1];
  int64_t M = x->n / K;
  if (M * K != x->n || y->n != M * N) return node_err(mm, n, PN_ERR_INVALID, "shape mismatch");
  uint64_t *enc = NULL;
  if ((rc = const_enc(mm, n, n->in[1], alpha, K * N, &enc))) return rc;
  uint64_t *t = NULL;
  if (tb) { /* to [K, N] */
    if (!(t = malloc((size_t)(K * N) * 8))) return pn_err(mm->ctx, PN_ERR_NOMEM, "mpc: out of memory");
    for (int64_t i = 0; i < N; i++)
      for (int64_t k = 0; k < K; k++) t[k * N + i] = enc[i * K + k];
    enc = t;
  }
  rc = weight_matmul(mm, m, n->in[1], enc, M, K, N, x->s, y->s, 1);
  free(t);
  if (rc) return rc;
  pn_mpc_trunc(m, y->n, y->s, mm->o.frac);
  if (is_gemm && n->n_in > 2 && n->in[2][0]) {
    const struct pn_tensor *Ct = pn_graph_find_init(mm->g, n->in[2]);
    if (!Ct) return node_err(mm, n, PN_ERR_UNSUPPORTED, "C must be an initializer");
    int64_t cn = pn_tensor_numel(Ct);
    if (cn != N && cn != 1) return node_err(mm, n, PN_ERR_UNSUPPORTED, "C must have N or 1 values");
    uint64_t *ce;
    pn_sh cs = {0};
    if ((rc = const_enc(mm, n, n->in[2], beta, cn, &ce))) return rc;
    if ((rc = const_share(mm, m, n->in[2], ce, cn, cs)) == PN_OK) {
      for (int v = 0; v < m->nv; v++)
        for (int64_t i = 0; i < y->n; i++) y->s[v][i] += cs[v][cn == 1 ? 0 : i % N];
      pn_sh_free(m, cn, cs);
    }
  }
  return rc;
}

/* Per-channel affine y = x * s + t (BatchNormalization not folded into a Conv). */
static int run_bn(struct pn_mpc_model *mm, struct pn_mpc *m, const struct pn_node *n,
                  enum pn_op op, struct pn_mpc_layer *ly, const struct val *x, struct val *y) {
  float eps;
  int rc = pn_node_get_float(mm->ctx, n, "epsilon", 1e-5f, &eps);
  if (rc) return rc;
  if (n->n_in < 5 || x->ndim < 2) return node_err(mm, n, PN_ERR_INVALID, "needs 5 inputs");
  const struct pn_tensor *t[4];
  for (int i = 0; i < 4; i++)
    if (!(t[i] = pn_graph_find_init(mm->g, n->in[1 + i])))
      return node_err(mm, n, PN_ERR_UNSUPPORTED, "parameters must be initializers");
  int64_t C = x->dims[1], inner = x->n / (x->dims[0] * C);
  uint64_t *se = malloc((size_t)C * 8), *te = malloc((size_t)C * 8);
  pn_sh S = {0}, T = {0};
  if (!se || !te) {
    rc = pn_err(mm->ctx, PN_ERR_NOMEM, "mpc: out of memory");
    goto done;
  }
  for (int64_t c = 0; c < C; c++) {
    double s = pn_tensor_get_f64(t[0], c) / sqrt(pn_tensor_get_f64(t[3], c) + eps);
    se[c] = pn_fx_encode(s, mm->o.frac);
    te[c] = pn_fx_encode(pn_tensor_get_f64(t[1], c) - pn_tensor_get_f64(t[2], c) * s, mm->o.frac);
  }
  if ((rc = const_share(mm, m, n->in[1], te, C, T))) goto done;
  if (!mm->o.secret_weights) {
    for (int v = 0; v < m->nv; v++)
      for (int64_t i = 0; i < x->n; i++) y->s[v][i] = x->s[v][i] * se[(i / inner) % C];
  } else {
    uint64_t *full = malloc((size_t)x->n * 8);
    pn_sh Sc = {0};
    if (!full) {
      rc = pn_err(mm->ctx, PN_ERR_NOMEM, "mpc: out of memory");
      goto done;
    }
    if ((rc = const_share(mm, m, n->in[2], se, C, S)) == PN_OK &&
        (rc = pn_sh_alloc(m, x->n, Sc)) == PN_OK) {
      for (int v = 0; v < m->nv; v++)
        for (int64_t i = 0; i < x->n; i++) Sc[v][i] = S[v][(i / inner) % C];
      rc = pn_mpc_mul(m, x->n, x->s, Sc, y->s);
    }
    pn_sh_free(m, x->n, Sc);
    free(full);
    if (rc) goto done;
  }
  pn_mpc_trunc(m, y->n, y->s, mm->o.frac);
  for (int v = 0; v < m->nv; v++)
    for (int64_t i = 0; i < y->n; i++) y->s[v][i] += T[v][(i / inner) % C];
done:
  free(se);
  free(te);
  pn_sh_free(m, C, S);
  pn_sh_free(m, C, T);
  return rc;
}

static int run_add(struct pn_mpc_model *mm, struct pn_mpc *m, const struct pn_node *n,
                   enum pn_op op, struct pn_mpc_layer *ly, const struct val *x, struct val *y) {
  int a = find_val(mm, n->in[0]), b = find_val(mm, n->in[1]);
  if (a >= 0 && b >= 0) {
    const struct val *va = &mm->vals[a], *vb = &mm->vals[b];
    if (va->n != y->n || vb->n != y->n)
      return node_err(mm, n, PN_ERR_UNSUPPORTED, "broadcasting Add of two activations");
    for (int v = 0; v < m->nv; v++)
      for (int64_t i = 0; i < y->n; i++) y->s[v][i] = va->s[v][i] + vb->s[v][i];
    return PN_OK;
  }
  int act = a >= 0 ? a : b;
  const char *cname = a >= 0 ? n->in[1] : n->in[0];
  const struct val *vx = &mm->vals[act];
  const struct pn_tensor *t = pn_graph_find_init(mm->g, cname);
  if (!t || vx->n != y->n) return node_err(mm, n, PN_ERR_UNSUPPORTED, "unsupported Add operands");
  /* broadcast the constant over y's shape (numpy rules, right-aligned) */
  int64_t cn = pn_tensor_numel(t);
  int off = y->ndim - t->ndim;
  if (off < 0) return node_err(mm, n, PN_ERR_UNSUPPORTED, "constant of higher rank");
  uint64_t *enc;
  pn_sh cs = {0};
  int rc = const_enc(mm, n, cname, 1, cn, &enc);
  if (rc) return rc;
  if ((rc = const_share(mm, m, cname, enc, cn, cs)) == PN_OK) {
    for (int64_t i = 0; i < y->n; i++) {
      int64_t rem = i, ci = 0, cstride = 1;
      for (int d = y->ndim - 1; d >= 0; d--) {
        int64_t idx = rem % y->dims[d];
        rem /= y->dims[d];
        int td = d - off;
        if (td >= 0) {
          if (t->dims[td] != 1) ci += idx * cstride;
          cstride *= t->dims[td];
        }
      }
      for (int v = 0; v < m->nv; v++) y->s[v][i] = vx->s[v][i] + cs[v][ci];
    }
    pn_sh_free(m, cn, cs);
  }
  return rc;
}

static void relu_range(struct pn_mpc_model *mm, const struct pn_node *n, enum pn_relu_mode *mode,
                       int *k, int *mb) {
  const struct pn_mpc_plan_item *it = pn_mpc_plan_find(&mm->plan, pn_node_label(n));
  if (!it) {
    *mode = PN_RELU_FULL;
    *k = 0;
    *mb = 64;
  } else {
    *mode = PN_RELU_HB;
    *k = it->k;
    *mb = it->m;
  }
}

static int run_pool(struct pn_mpc_model *mm, struct pn_mpc *m, const struct pn_node *n,
                    enum pn_op op, struct pn_mpc_layer *ly, const struct val *x, struct val *y) {
  struct pn_window w;
  int rc;
  int64_t B = x->dims[0], C = x->dims[1];
  if (op == PN_OP_GLOBAL_AVERAGE_POOL) {
    int64_t HW = x->n / (B * C);
    uint64_t inv = pn_fx_encode(1.0 / (double)HW, mm->o.frac);
    for (int v = 0; v < m->nv; v++)
      for (int64_t i = 0; i < B * C; i++) {
        uint64_t s = 0;
        for (int64_t j = 0; j < HW; j++) s += x->s[v][i * HW + j];
        y->s[v][i] = s * inv;
      }
    pn_mpc_trunc(m, y->n, y->s, mm->o.frac);
    return PN_OK;
  }
  if ((rc = get_window(mm, n, x, PN_WIN_POOL, NULL, &w))) return rc;
  int64_t KW = w.k[0] * w.k[1], P = w.out[0] * w.out[1], nout = B * C * P;
  if (op == PN_OP_AVERAGE_POOL) {
    int64_t cip;
    if ((rc = pn_node_get_int(mm->ctx, n, "count_include_pad", 0, &cip))) return rc;
    for (int64_t bc = 0; bc < B * C; bc++)
      for (int64_t oy = 0; oy < w.out[0]; oy++)
        for (int64_t ox = 0; ox < w.out[1]; ox++) {
          int64_t cnt = 0;
          uint64_t s[2] = {0, 0};
          for (int64_t ky = 0; ky < w.k[0]; ky++)
            for (int64_t kx = 0; kx < w.k[1]; kx++) {
              int64_t iy = oy * w.s[0] - w.pb[0] + ky * w.d[0], ix = ox * w.s[1] - w.pb[1] + kx * w.d[1];
              if (iy < 0 || iy >= w.in[0] || ix < 0 || ix >= w.in[1]) continue;
              cnt++;
              for (int v = 0; v < m->nv; v++) s[v] += x->s[v][(bc * w.in[0] + iy) * w.in[1] + ix];
            }
          uint64_t inv = pn_fx_encode(1.0 / (double)(cip ? KW : (cnt ? cnt : 1)), mm->o.frac);
          for (int v = 0; v < m->nv; v++) y->s[v][bc * P + oy * w.out[1] + ox] = s[v] * inv;
        }
    pn_mpc_trunc(m, y->n, y->s, mm->o.frac);
    return PN_OK;
  }
  /* MaxPool: candidates per window offset (a padded offset repeats the window's first valid
  ** element, which leaves the max unchanged), then a tree of secure max. */
  pn_sh cand = {0}, tmp = {0};
  if ((rc = pn_sh_alloc(m, KW * nout, cand)) || (rc = pn_sh_alloc(m, (KW / 2 + 1) * nout, tmp)))
    goto done;
  for (int64_t bc = 0; bc < B * C; bc++)
    for (int64_t oy = 0; oy < w.out[0]; oy++)
      for (int64_t ox = 0; ox < w.out[1]; ox++) {
        int64_t o = bc * P + oy * w.out[1] + ox, first = -1;
        for (int pass = 0; pass < 2; pass++)
          for (int64_t ky = 0; ky < w.k[0]; ky++)
            for (int64_t kx = 0; kx < w.k[1]; kx++) {
              int64_t iy = oy * w.s[0] - w.pb[0] + ky * w.d[0], ix = ox * w.s[1] - w.pb[1] + kx * w.d[1];
              int ok = iy >= 0 && iy < w.in[0] && ix >= 0 && ix < w.in[1];
              int64_t src = ok ? (bc * w.in[0] + iy) * w.in[1] + ix : first;
              if (pass == 0) {
                if (ok && first < 0) first = src;
                continue;
              }
              if (src < 0) src = 0;
              for (int v = 0; v < m->nv; v++) cand[v][(ky * w.k[1] + kx) * nout + o] = x->s[v][src];
            }
      }
  enum pn_relu_mode mode;
  int k, mb;
  relu_range(mm, n, &mode, &k, &mb);
  int64_t cnt = KW;
  while (cnt > 1) {
    int64_t half = cnt / 2;
    pn_sh a, b;
    for (int v = 0; v < m->nv; v++) {
      /* pairs (i, half + i): both halves are contiguous */
      a[v] = cand[v];
      b[v] = cand[v] + half * nout;
    }
    if ((rc = pn_mpc_max(m, half * nout, a, b, mode, k, mb, tmp))) goto done;
    ly->relu_elems += half * nout;
    ly->relu_bits = mode == PN_RELU_FULL ? 64 : mb - k;
    for (int v = 0; v < m->nv; v++) {
      memcpy(cand[v], tmp[v], (size_t)(half * nout) * 8);
      if (cnt & 1) memmove(cand[v] + half * nout, cand[v] + (cnt - 1) * nout, (size_t)nout * 8);
    }
    cnt = half + (cnt & 1);
  }
  for (int v = 0; v < m->nv; v++) memcpy(y->s[v], cand[v], (size_t)nout * 8);
done:
  pn_sh_free(m, KW * nout, cand);
  pn_sh_free(m, (KW / 2 + 1) * nout, tmp);
  return rc;
}

static int run_relu(struct pn_mpc_model *mm, struct pn_mpc *m, const struct pn_node *n,
                    enum pn_op op, struct pn_mpc_layer *ly, const struct val *x, struct val *y) {
  enum pn_relu_mode mode;
  int k, mb;
  relu_range(mm, n, &mode, &k, &mb);
  int rc = pn_mpc_relu(m, y->n, x->s, mode, k, mb, y->s);
  ly->relu_elems += y->n;
  ly->relu_bits = mode == PN_RELU_FULL ? 64 : mb - k;
  return rc;
}

/* Flatten, Reshape, Identity, Dropout (inference): the same elements. */
static int run_copy(struct pn_mpc_model *mm, struct pn_mpc *m, const struct pn_node *n,
                    enum pn_op op, struct pn_mpc_layer *ly, const struct val *x, struct val *y) {
  if (x->n != y->n) return node_err(mm, n, PN_ERR_INVALID, "element count changes");
  for (int v = 0; v < m->nv; v++) memcpy(y->s[v], x->s[v], (size_t)y->n * 8);
  return PN_OK;
}

static const struct mpc_op mpc_ops[PN_OP_COUNT] = {
  [PN_OP_CONV] = {run_conv, false},
  [PN_OP_GEMM] = {run_gemm, false},
  [PN_OP_MATMUL] = {run_gemm, false},
  [PN_OP_ADD] = {run_add, true},
  [PN_OP_BATCH_NORM] = {run_bn, false},
  [PN_OP_AVERAGE_POOL] = {run_pool, false},
  [PN_OP_GLOBAL_AVERAGE_POOL] = {run_pool, false},
  [PN_OP_MAX_POOL] = {run_pool, false},
  [PN_OP_RELU] = {run_relu, false},
  [PN_OP_FLATTEN] = {run_copy, false},
  [PN_OP_RESHAPE] = {run_copy, false},
  [PN_OP_IDENTITY] = {run_copy, false},
  [PN_OP_DROPOUT] = {run_copy, false},
};
static_assert(sizeof mpc_ops / sizeof *mpc_ops == PN_OP_COUNT, "mpc_ops out of date");

bool pn_mpc_supports(enum pn_op op) { return (unsigned)op < PN_OP_COUNT && mpc_ops[op].run; }

int pn_mpc_model_run(struct pn_mpc_model *mm, struct pn_mpc *m, const pn_sh x, pn_sh yout) {
  struct pn_graph *g = mm->g;
  int rc = PN_OK;
  struct val *in = &mm->vals[mm->in_val];
  yout[0] = yout[1] = NULL;
  if (m->ctx) mm->ctx = m->ctx;
  if ((rc = pn_sh_alloc(m, in->n, in->s))) return rc;
  for (int v = 0; v < m->nv; v++) memcpy(in->s[v], x[v], (size_t)in->n * 8);
  for (int i = 0; i < g->n_nodes && rc == PN_OK; i++) {
    const struct pn_node *n = g->nodes[i];
    struct pn_mpc_layer *ly = &mm->layers[i];
    struct val *y = &mm->vals[mm->in_val + 1 + i];
    int xi = find_val(mm, n->in[0]);
    struct pn_mpc_stats st0 = m->st;
    double t0 = pn_now();
    if ((rc = pn_sh_alloc(m, y->n, y->s))) break;
    const struct mpc_op *op = &mpc_ops[mm->op[i]];
    if (xi < 0 && !op->any_first) {
      rc = node_err(mm, n, PN_ERR_UNSUPPORTED, "first input must be an activation");
      break;
    }
    rc = op->run(mm, m, n, (enum pn_op)mm->op[i], ly, xi >= 0 ? &mm->vals[xi] : NULL, y);
    ly->bytes += m->st.bytes - st0.bytes;
    ly->rounds += m->st.rounds - st0.rounds;
    ly->seconds += pn_now() - t0;
    /* free values whose last reader was this node */
    for (int j = 0; j <= mm->in_val + i; j++)
      if (mm->vals[j].s[0] && mm->vals[j].last <= i) pn_sh_free(m, mm->vals[j].n, mm->vals[j].s);
  }
  struct val *o = &mm->vals[mm->out_val];
  if (rc == PN_OK) {
    yout[0] = o->s[0];
    yout[1] = o->s[1];
    o->s[0] = o->s[1] = NULL;
  }
  for (int j = 0; j < mm->nval; j++) pn_sh_free(m, mm->vals[j].n, mm->vals[j].s);
  return rc;
}

/* ---- weight share tables ---- */
const struct pn_mpc_wshare *pn_mpc_wtable_find(const struct pn_mpc_wtable *t, const char *name) {
  for (int i = 0; t && i < t->n; i++)
    if (!strcmp(t->e[i].name, name)) return &t->e[i];
  return NULL;
}

int pn_mpc_wtable_add(struct pn_mpc_wtable *t, const char *name, int64_t n, const uint64_t *w) {
  struct pn_mpc_wshare *e = realloc(t->e, (size_t)(t->n + 1) * sizeof *e);
  if (!e) return PN_ERR_NOMEM;
  t->e = e;
  char *nm = strdup(name);
  uint64_t *c = malloc((size_t)(n ? n : 1) * 8);
  if (!nm || !c) {
    free(nm);
    free(c);
    return PN_ERR_NOMEM;
  }
  memcpy(c, w, (size_t)n * 8);
  e[t->n++] = (struct pn_mpc_wshare){nm, n, c};
  return PN_OK;
}

void pn_mpc_wtable_free(struct pn_mpc_wtable *t) {
  for (int i = 0; t && i < t->n; i++) {
    free(t->e[i].name);
    pn_wipe_free(t->e[i].w, (size_t)(t->e[i].n ? t->e[i].n : 1) * 8);
  }
  if (t) {
    free(t->e);
    t->e = NULL;
    t->n = 0;
  }
}
