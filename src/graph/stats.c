/* stats.c - parameter count, MACs and op histogram of a graph, shapes from pn_graph_infer_shapes.
**
** MACs count multiply-accumulates of the linear ops only (Conv, Gemm, MatMul); every other node
** contributes its output element count to `elementwise` instead. */
#include "graph/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/tensor.h"
#include "util/status.h"
#include "util/strmap.h"

/* Known shapes by value name: graph inputs, value info, outputs and initializers, indexed once
** so that the per-node lookups below stay O(1) (a 200k-node chain was quadratic). */
struct shape_index {
  struct pn_strmap map; /* name -> 1 + index into values (>= 0) or -(1 + index into inits) */
  const struct pn_value **values;
  int nvalues;
};

static int index_add(struct shape_index *x, const char *name, int val) {
  if (!name || !*name || pn_strmap_get(&x->map, name, 0) != 0) return 0; /* first one wins */
  return pn_strmap_put(&x->map, name, val);
}

static int shape_index_build(struct shape_index *x, const struct pn_graph *g) {
  memset(x, 0, sizeof *x);
  x->values = malloc(((size_t)g->n_inputs + g->n_vinfo + g->n_outputs + 1) * sizeof *x->values);
  if (!x->values) return -1;
  /* the order of pn_graph_find_value: inputs, value info, outputs; then initializers */
  for (int i = 0; i < g->n_inputs; i++) x->values[x->nvalues++] = &g->inputs[i];
  for (int i = 0; i < g->n_vinfo; i++) x->values[x->nvalues++] = &g->vinfo[i];
  for (int i = 0; i < g->n_outputs; i++) x->values[x->nvalues++] = &g->outputs[i];
  for (int i = 0; i < x->nvalues; i++)
    if (index_add(x, x->values[i]->name, 1 + i)) return -1;
  for (int i = 0; i < g->n_inits; i++)
    if (index_add(x, g->inits[i]->name, -(1 + i))) return -1;
  return 0;
}

static void shape_index_free(struct shape_index *x) {
  pn_strmap_free(&x->map);
  free(x->values);
}

/* The known shape of a value: value info, graph input/output, or initializer. false if none. */
static bool value_shape(const struct pn_graph *g, const struct shape_index *x, const char *name,
                        int *ndim, const int64_t **dims) {
  if (!name || !*name) return false;
  int k = pn_strmap_get(&x->map, name, 0);
  if (k > 0) {
    const struct pn_value *v = x->values[k - 1];
    if (v->ndim < 0) return false;
    *ndim = v->ndim;
    *dims = v->dims;
    return true;
  }
  if (k == 0) return false;
  const struct pn_tensor *t = g->inits[-k - 1];
  *ndim = t->ndim;
  *dims = t->dims;
  return true;
}

/* Product of dims; -1 when a dim is unknown or the product overflows. */
static int64_t prod(int n, const int64_t *d) {
  int64_t p = 1;
  for (int i = 0; i < n; i++)
    if (d[i] < 0 || __builtin_mul_overflow(p, d[i], &p)) return -1;
  return p;
}

static int64_t mul(int64_t a, int64_t b) {
  int64_t r;
  return (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) ? -1 : r;
}

/* a + b, saturating at INT64_MAX (both non-negative). */
static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

int64_t pn_node_macs(const struct pn_node *n, int nd0, const int64_t *d0, int nd1,
                     const int64_t *d1, int ndo, const int64_t *dout) {
  if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx") != 0) return 0;
  int64_t out = ndo >= 0 ? prod(ndo, dout) : -1;
  if (!strcmp(n->op_type, "Conv")) {
    /* W [Cout, Cin/group, k...]: each output element costs Cin/group * prod(k) MACs */
    if (out < 0 || nd1 < 2) return -1;
    return mul(out, prod(nd1 - 1, d1 + 1));
  }
  if (!strcmp(n->op_type, "Gemm")) {
    if (out < 0 || nd0 != 2) return -1;
    const struct pn_attr *ta = pn_node_attr(n, "transA");
    int64_t k = (ta && ta->type == PN_ATTR_INT && ta->i) ? d0[0] : d0[1];
    return mul(out, k);
  }
  if (!strcmp(n->op_type, "MatMul")) {
    if (out < 0 || nd0 < 1) return -1;
    return mul(out, d0[nd0 - 1]);
  }
  return 0;
}

static int cmp_hist(const void *a, const void *b) {
  const struct pn_op_hist *x = a, *y = b;
  if (x->count != y->count) return y->count - x->count;
  return strcmp(x->op_type, y->op_type);
}

/* s->macs_per_image: the MACs of a copy of g whose runtime inputs with an unknown dim 0 (the
** batch) have batch 1. PN_OK or PN_ERR_NOMEM. */
static int count_per_image(struct pn_ctx *ctx, const struct pn_graph *g, struct pn_stats *s) {
  struct pn_graph *one = pn_graph_clone(g);
  if (!one) return pn_err(ctx, PN_ERR_NOMEM, "stats: out of memory");
  for (int i = 0; i < one->n_inputs; i++) {
    struct pn_value *v = &one->inputs[i];
    if (!pn_graph_is_runtime_input(one, i) || v->ndim < 1 || v->dims[0] >= 0) continue;
    v->dims[0] = 1;
    v->dim_param[0] = NULL;
    s->batch_symbolic = true;
  }
  for (int i = 0; i < one->n_outputs; i++) one->outputs[i].ndim = -1;   /* declared with the batch */
  struct pn_stats t;
  int rc = s->batch_symbolic ? pn_graph_stats(ctx, one, &t) : PN_OK;   /* no symbolic batch left */
  if (s->batch_symbolic && rc == PN_OK) {
    s->macs_per_image = t.macs;
    s->per_image_partial = t.macs_partial;
    pn_stats_free(&t);
  }
  pn_graph_free(one);
  return rc;
}

int pn_graph_stats(struct pn_ctx *ctx, struct pn_graph *g, struct pn_stats *s) {
  memset(s, 0, sizeof *s);
  s->n_nodes = g->n_nodes;
  s->n_inits = g->n_inits;
  for (int i = 0; i < g->n_inits; i++) {
    s->params = sat_add(s->params, pn_tensor_numel(g->inits[i]));
    s->param_bytes = sat_add(s->param_bytes, (int64_t)pn_tensor_nbytes(g->inits[i]));
  }
  s->ops = calloc((size_t)g->n_nodes + 1, sizeof *s->ops);
  s->node_macs = calloc((size_t)g->n_nodes + 1, sizeof *s->node_macs);
  if (!s->ops || !s->node_macs) {
    pn_stats_free(s);
    return pn_err(ctx, PN_ERR_NOMEM, "stats: out of memory");
  }
  struct pn_strmap opm = {0};
  for (int i = 0; i < g->n_nodes; i++) {
    const char *op = g->nodes[i]->op_type;
    int j = pn_strmap_get(&opm, op, -1);
    if (j < 0) {
      j = s->n_ops++;
      s->ops[j].op_type = op;
      if (pn_strmap_put(&opm, op, j)) {
        pn_strmap_free(&opm);
        pn_stats_free(s);
        return pn_err(ctx, PN_ERR_NOMEM, "stats: out of memory");
      }
    }
    s->ops[j].count++;
  }
  pn_strmap_free(&opm);
  qsort(s->ops, (size_t)s->n_ops, sizeof *s->ops, cmp_hist);

  struct pn_ctx sub = {0};
  if (pn_graph_infer_shapes(&sub, g) != PN_OK) {
    if (sub.status == PN_ERR_NOMEM) {
      pn_stats_free(s);
      return pn_err(ctx, PN_ERR_NOMEM, "%s", pn_errmsg(&sub));
    }
    snprintf(s->shape_error, sizeof s->shape_error, "%s", pn_errmsg(&sub));
    for (int i = 0; i < g->n_nodes; i++) s->node_macs[i] = -1;
    s->macs_partial = true;
    return PN_OK;
  }
  s->shapes_known = true;
  struct shape_index x;
  if (shape_index_build(&x, g)) {
    shape_index_free(&x);
    pn_stats_free(s);
    return pn_err(ctx, PN_ERR_NOMEM, "stats: out of memory");
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    int nd[2] = {-1, -1}, ndo = -1;
    const int64_t *d[2] = {NULL, NULL}, *dout = NULL;
    for (int k = 0; k < 2 && k < n->n_in; k++)
      if (!value_shape(g, &x, n->in[k], &nd[k], &d[k])) nd[k] = -1;
    if (n->n_out < 1 || !value_shape(g, &x, n->out[0], &ndo, &dout)) ndo = -1;
    int64_t m = pn_node_macs(n, nd[0], d[0], nd[1], d[1], ndo, dout);
    s->node_macs[i] = m;
    if (m < 0) s->macs_partial = true;
    else s->macs = sat_add(s->macs, m);
    if (m == 0 && ndo >= 0) {
      int64_t e = prod(ndo, dout);
      if (e > 0) s->elementwise = sat_add(s->elementwise, e);
    }
  }
  shape_index_free(&x);
  if (s->macs_partial && count_per_image(ctx, g, s)) {
    pn_stats_free(s);
    return PN_ERR_NOMEM;
  }
  return PN_OK;
}

void pn_stats_free(struct pn_stats *s) {
  if (!s) return;
  free(s->ops);
  free(s->node_macs);
  s->ops = NULL;
  s->node_macs = NULL;
  s->n_ops = 0;
}
