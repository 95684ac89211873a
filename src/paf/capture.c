/* capture.c - what SmartPAF measures with the plaintext executor: accuracy on a split, samples of
** every site's inputs in the original model (for CT), max |x| of every PAF input (for SS), and the
** fraction of PAF sign inputs outside [-1, 1] (the overflow report).
**
** Everything runs the model in the executor over batches of a split, with a read-only observer
** that sees each node's inputs; the model is not changed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/exec.h"
#include "graph/ir.h"
#include "graph/paf.h"
#include "nn/dataset.h"
#include "nn/train.h"
#include "paf/paf_impl.h"
#include "util/util.h"

/* ---- running a split ---- */

int paf_run_split(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_dataset *ds, enum pn_split split,
                  const int64_t *idx, int64_t n, int batch, bool flip, struct pn_prg *prg,
                  pn_exec_observer obs, void *user, double *acc) {
  struct pn_eval_opts eo = {.idx = idx, .n = n, .batch = batch, .flip = flip, .prg = prg, .observer = obs,
                            .observer_user = user};
  struct pn_eval_result *r = calloc(1, sizeof *r);
  int rc = r ? pn_evaluate_exec(ctx, g, ds, split, &eo, r) : pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc && acc) *acc = r->acc;
  free(r);
  return rc;
}

/* ---- CT samples ---- */

struct capture {
  const struct pn_graph *g;
  struct paf_samples *S;       /* per site */
  const int *site_node;        /* node index per site */
  int n_sites;
  int per_batch;
  struct pn_prg *prg;
};

static int site_of(const struct capture *c, const struct pn_node *n) {
  for (int s = 0; s < c->n_sites; s++)
    if (c->g->nodes[c->site_node[s]] == n) return s;
  return -1;
}

static void on_node(void *user, const struct pn_node *node, const struct pn_tensor *const *in, int n_in,
                    const struct pn_tensor *const *out, int n_out) {
  struct capture *c = user;
  int s = site_of(c, node);
  if (s < 0 || !in[0] || in[0]->dtype != PN_DT_FLOAT) return;
  struct paf_samples *S = &c->S[s];
  const struct pn_tensor *x = in[0];
  int64_t nx = pn_tensor_numel(x);
  float sc = pn_paf_kind_dynamic_scale(S->kind, x->data, nx), r = 1.0f / sc;
  const float *xp = x->data;
  for (int k = 0; k < c->per_batch && S->n < S->cap; k++) {
    float *dst = S->v + S->n * S->w;
    if (S->kind == PN_PAF_RELU) {
      dst[0] = xp[pn_prg_uniform(c->prg, (uint64_t)nx)] * r;
    } else {
      /* a random window of a random plane (zeros in the padding) */
      const struct paf_pool_geom *pg = &S->pool;
      int64_t nc = x->dims[0] * x->dims[1], h = x->dims[2], w = x->dims[3];
      int64_t oh = (h + pg->p[0] + pg->p[2] - pg->k[0]) / pg->s[0] + 1;
      int64_t ow = (w + pg->p[1] + pg->p[3] - pg->k[1]) / pg->s[1] + 1;
      int64_t pl = (int64_t)pn_prg_uniform(c->prg, (uint64_t)nc);
      int64_t i = (int64_t)pn_prg_uniform(c->prg, (uint64_t)oh), j = (int64_t)pn_prg_uniform(c->prg, (uint64_t)ow);
      int q = 0;
      for (int64_t a = 0; a < pg->k[0]; a++)
        for (int64_t b = 0; b < pg->k[1]; b++, q++) {
          int64_t ih = i * pg->s[0] - pg->p[0] + a, iw = j * pg->s[1] - pg->p[1] + b;
          dst[q] = ih >= 0 && ih < h && iw >= 0 && iw < w ? xp[(pl * h + ih) * w + iw] * r : 0.0f;
        }
    }
    S->s[S->n++] = sc;
  }
}

int paf_pool_geom_of(struct pn_ctx *ctx, const struct pn_node *n, struct paf_pool_geom *pg) {
  int64_t cnt;
  const int64_t *v;
  int rc;
  for (int i = 0; i < 2; i++) pg->k[i] = pg->s[i] = 1;
  for (int i = 0; i < 4; i++) pg->p[i] = 0;
  if ((rc = pn_node_get_ints(ctx, n, "kernel_shape", &cnt, &v))) return rc;
  if (cnt != 2) return pn_err(ctx, PN_ERR_UNSUPPORTED, "node '%s' (%s): needs a 2-D kernel_shape", pn_node_label(n), n->op_type);
  memcpy(pg->k, v, sizeof pg->k);
  if ((rc = pn_node_get_ints(ctx, n, "strides", &cnt, &v))) return rc;
  if (cnt == 2) memcpy(pg->s, v, sizeof pg->s);
  if ((rc = pn_node_get_ints(ctx, n, "pads", &cnt, &v))) return rc;
  if (cnt == 4) memcpy(pg->p, v, sizeof pg->p);
  if (pg->k[0] < 1 || pg->k[1] < 1 || pg->k[0] * pg->k[1] > PN_PAF_MAX_WINDOW)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "node '%s' (%s): window must have 1..%d elements", pn_node_label(n),
                  n->op_type, PN_PAF_MAX_WINDOW);
  return PN_OK;
}

int paf_capture(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_dataset *ds, enum pn_split split,
                const int *site_node, int n_sites, int64_t images, int batch, int64_t samples, uint64_t seed,
                struct paf_samples *S) {
  struct pn_prg prg;
  memset(&prg, 0, sizeof prg);
  int64_t n = images < ds->n[split] ? images : ds->n[split];
  int64_t *idx = malloc(sizeof *idx * (size_t)(ds->n[split] > 0 ? ds->n[split] : 1));
  int rc = idx ? pn_prg_init_u64(ctx, &prg, seed) : pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  for (int s = 0; !rc && s < n_sites; s++) {
    const struct pn_node *node = g->nodes[site_node[s]];
    memset(&S[s], 0, sizeof S[s]);
    S[s].kind = (enum pn_paf_kind)pn_paf_site_kind(node);
    S[s].w = 1;
    if (S[s].kind == PN_PAF_MAXPOOL) {
      if ((rc = paf_pool_geom_of(ctx, node, &S[s].pool))) break;
      S[s].w = (int)(S[s].pool.k[0] * S[s].pool.k[1]);
    }
    S[s].cap = samples;
    S[s].v = malloc(sizeof(float) * (size_t)(samples * S[s].w));
    S[s].s = malloc(sizeof(float) * (size_t)samples);
    if (!S[s].v || !S[s].s) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory for CT samples");
  }
  if (!rc) {
    /* a random subset of the split, in random order */
    for (int64_t i = 0; i < ds->n[split]; i++) idx[i] = i;
    for (int64_t i = ds->n[split] - 1; i > 0; i--) {
      int64_t j = (int64_t)pn_prg_uniform(&prg, (uint64_t)i + 1), t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    int64_t nb = (n + batch - 1) / batch;
    struct capture c = {g, S, site_node, n_sites, (int)((samples + nb - 1) / nb), &prg};
    rc = paf_run_split(ctx, g, ds, split, idx, n, batch, split == PN_SPLIT_TRAIN, &prg, on_node, &c, NULL);
  }
  free(idx);
  pn_prg_free(&prg);
  return rc;
}

void paf_samples_free(struct paf_samples *S, int n) {
  for (int i = 0; S && i < n; i++) {
    free(S[i].v);
    free(S[i].s);
    memset(&S[i], 0, sizeof S[i]);
  }
}

/* ---- SS scales and overflow ---- */

struct scan {
  const struct pn_graph *g;
  const int *paf_node;         /* node index per site (PAF nodes) */
  int n_sites;
  float *maxabs;               /* per site, or NULL */
  int64_t *over, *total;       /* per site, or NULL */
};

static void on_paf(void *user, const struct pn_node *node, const struct pn_tensor *const *in, int n_in,
                   const struct pn_tensor *const *out, int n_out) {
  struct scan *c = user;
  int s = -1;
  for (int k = 0; k < c->n_sites && s < 0; k++)
    if (c->g->nodes[c->paf_node[k]] == node) s = k;
  if (s < 0 || !in[0]) return;
  const struct pn_tensor *x = in[0];
  int64_t nx = pn_tensor_numel(x);
  struct pn_paf_node pn;
  struct pn_ctx ctx = {0};
  if (pn_paf_node_attrs(&ctx, node, &pn)) return;
  float sc = n_in > 2 && in[2] ? ((const float *)in[2]->data)[0] : pn_paf_kind_dynamic_scale(pn.kind, x->data, nx);
  struct pn_paf_eval e;
  pn_paf_eval_init(&e, pn.form, in[1]->data);
  struct pn_paf_pool g = {0};
  if (pn.kind == PN_PAF_MAXPOOL)
    g = (struct pn_paf_pool){x->dims[0] * x->dims[1], x->dims[2], x->dims[3], out[0]->dims[2], out[0]->dims[3],
                             pn.k[0], pn.k[1], pn.s[0], pn.s[1], pn.p[0], pn.p[1]};
  if (c->maxabs) { /* what a static scale must cover: |x| for a ReLU, |a - b| at any level for a pool */
    float m = pn.kind == PN_PAF_RELU ? pn_paf_dynamic_scale(x->data, nx) : pn_paf_maxpool_max_diff(&e, &g, sc, x->data);
    if (m > c->maxabs[s] || isnan(m)) c->maxabs[s] = m;
  }
  if (c->over) {
    if (pn.kind == PN_PAF_RELU) {
      c->over[s] += pn_paf_relu_overflow(sc, x->data, nx);
      c->total[s] += nx;
    } else {
      c->over[s] += pn_paf_maxpool_overflow(&e, &g, sc, x->data);
      c->total[s] += g.nc * g.oh * g.ow * (pn.k[0] * pn.k[1] - 1);
    }
  }
}

int paf_scan(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_dataset *ds, enum pn_split split,
             const int64_t *idx, int64_t n, int batch, const int *paf_node, int n_sites, float *maxabs,
             int64_t *over, int64_t *total, double *acc) {
  for (int s = 0; s < n_sites; s++) {
    if (maxabs) maxabs[s] = 0;
    if (over) over[s] = total[s] = 0;
  }
  struct scan c = {g, paf_node, n_sites, maxabs, over, total};
  return paf_run_split(ctx, g, ds, split, idx, n, batch, false, NULL, on_paf, &c, acc);
}

void paf_graph_swap(struct pn_graph *a, struct pn_graph *b) {
  struct pn_graph t = *a;
  *a = *b;
  *b = t;
}

/* The logits of g for the first n validation images, into *out (n x K floats, malloc'd). */
static int logits(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_dataset *ds, int64_t n, float **out,
                  int64_t *K) {
  struct pn_exec *ex = NULL;
  int rc = pn_exec_new(ctx, g, NULL, &ex);
  if (rc) return rc;
  int64_t dims[4] = {n, ds->channels, ds->height, ds->width};
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, dims), *z = NULL;
  int64_t *idx = malloc(sizeof *idx * (size_t)n);
  int32_t *y = malloc(sizeof *y * (size_t)n);
  if (!x || !idx || !y) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc) {
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    pn_dataset_batch(ds, PN_SPLIT_VAL, idx, n, 0, 0, NULL, x->data, y);
    const struct pn_tensor *in[1] = {x};
    rc = pn_exec_run(ctx, ex, in, &z);
  }
  if (!rc) {
    *K = pn_tensor_numel(z) / n;
    *out = z->data;
    z->data = NULL; /* keep the buffer */
    z->heap = true;
  }
  pn_tensor_free(z);
  pn_tensor_free(x);
  free(idx);
  free(y);
  pn_exec_free(ex);
  return rc;
}

int paf_max_logit_diff(struct pn_ctx *ctx, struct pn_graph *a, struct pn_graph *b, const struct pn_dataset *ds,
                       int64_t n, double *out) {
  if (n > ds->n[PN_SPLIT_VAL]) n = ds->n[PN_SPLIT_VAL];
  float *za = NULL, *zb = NULL;
  int64_t ka = 0, kb = 0;
  int rc = logits(ctx, a, ds, n, &za, &ka);
  if (!rc) rc = logits(ctx, b, ds, n, &zb, &kb);
  if (!rc && ka != kb) rc = pn_err(ctx, PN_ERR_INVALID, "folded model has another output shape");
  double m = 0;
  for (int64_t i = 0; !rc && i < n * ka; i++) {
    double d = fabs((double)za[i] - (double)zb[i]);
    if (!(d <= m)) m = d;
  }
  *out = m;
  free(za);
  free(zb);
  return rc;
}
