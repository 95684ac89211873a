/* paf_fold.c - static PAF scales and ReLU's gain folded into neighbouring linear layers.
**
** Every value v gets a factor f(v) > 0: after folding the graph computes f(v) times the old value
** at v, and every graph output keeps f = 1, so the logits are the same in real arithmetic.
** Values joined by a positively homogeneous op (Add, Sub, pools, Flatten, Reshape, Identity, Relu,
** MaxPool, PafMaxPool: op(f x) = f op(x)) share one factor (union-find). Linear layers absorb the
** change between their input factor fi and output factor fo:
**   Conv, Gemm, MatMul   W' = W fo / fi, bias' = bias fo
**   BatchNormalization   scale' = scale fo, B' = B fo, mean' = mean fi, var' = var fi^2,
**                        epsilon' = epsilon fi^2
**   PafRelu              s' = s fi (static), gain' = gain fo / fi
**   PafMaxPool           s' = s f (static; homogeneous, one factor)
** A group is pinned to f = 1 when it holds a graph input or output, a value read by any other op,
** or an operand that cannot be scaled (an initializer read by a homogeneous op, a weight shared by
** two nodes). A free group takes f = 1/s of the first static PAF reading it (that PAF then sees
** s' = 1: no scalar product under CKKS); a group no PAF reads, produced by a PafRelu, takes
** f = fi / gain (that PafRelu then has gain' = 1). Other PAFs keep a scale or gain != 1, still
** exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "graph/paf.h"
#include "util/status.h"
#include "util/strmap.h"

enum role { R_OTHER, R_HOMOG, R_LINEAR };

static enum role node_role(const struct pn_node *n) {
  int k = pn_paf_node_kind(n);
  if (k == PN_PAF_RELU) return R_LINEAR;
  if (k == PN_PAF_MAXPOOL) return R_HOMOG;
  if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")) return R_OTHER;
  static const char *const homog[] = {"Add", "Sub", "AveragePool", "GlobalAveragePool", "Flatten",
                                      "Reshape", "Identity", "Relu", "MaxPool", NULL};
  static const char *const linear[] = {"Conv", "Gemm", "MatMul", "BatchNormalization", NULL};
  for (int i = 0; homog[i]; i++)
    if (!strcmp(n->op_type, homog[i])) return R_HOMOG;
  for (int i = 0; linear[i]; i++)
    if (!strcmp(n->op_type, linear[i])) return R_LINEAR;
  return R_OTHER;
}

/* Data inputs of a node (the others are parameters or shapes): */
static int n_data_in(const struct pn_node *n) {
  if (!strcmp(n->op_type, "Add") || !strcmp(n->op_type, "Sub")) return 2;
  return 1;
}

struct fold {
  struct pn_strmap map;        /* value name -> index */
  int n;
  int *parent;
  bool *pinned;
  double *factor;              /* per root; 0 = undecided */
  int *reads;                  /* per value: how many node inputs read it */
};

static int uf_find(struct fold *F, int i) {
  while (F->parent[i] != i) i = F->parent[i] = F->parent[F->parent[i]];
  return i;
}

static void uf_union(struct fold *F, int a, int b) {
  a = uf_find(F, a);
  b = uf_find(F, b);
  if (a == b) return;
  F->parent[b] = a;
  F->pinned[a] |= F->pinned[b];
}

static int val(struct fold *F, const char *name) { return name && *name ? pn_strmap_get(&F->map, name, -1) : -1; }

static void pin(struct fold *F, int v) {
  if (v >= 0) F->pinned[uf_find(F, v)] = true;
}

/* Is every parameter input of linear node n an initializer read by n alone? */
static bool params_private(struct fold *F, const struct pn_graph *g, const struct pn_node *n) {
  for (int j = 1; j < n->n_in; j++) {
    if (!*n->in[j]) continue;
    if (pn_paf_node_kind(n) == PN_PAF_RELU && j == 1) continue; /* coefficients are not scaled */
    int v = val(F, n->in[j]);
    if (!pn_graph_find_init(g, n->in[j]) || v < 0 || F->reads[v] != 1) return false;
  }
  if (!strcmp(n->op_type, "Gemm")) {
    const struct pn_attr *ta = pn_node_attr(n, "transA");
    if (ta && ta->i) return false;
  }
  return true;
}

static void scale_init(struct pn_graph *g, const char *name, double k) {
  struct pn_tensor *t = pn_graph_find_init(g, name);
  if (!t || t->dtype != PN_DT_FLOAT || k == 1.0) return;
  float *p = t->data;
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) p[i] = (float)(p[i] * k);
}

/* s' = s f; exactly 1 when f was chosen as 1/s */
static void scale_s(struct pn_graph *g, const struct pn_node *n, double f) {
  struct pn_tensor *t = n->n_in > 2 && *n->in[2] ? pn_graph_find_init(g, n->in[2]) : NULL;
  if (!t || f == 1.0) return;
  float *p = t->data;
  double s = p[0] * f;
  p[0] = fabs(s - 1.0) < 1e-6 ? 1.0f : (float)s;
}

int pn_paf_fold_scales(struct pn_ctx *ctx, struct pn_graph *g, struct pn_paf_fold_report *rep) {
  struct fold F;
  memset(&F, 0, sizeof F);
  memset(rep, 0, sizeof *rep);
  int rc = pn_graph_topo_sort(ctx, g);
  if (rc) return rc;
  int cap = g->n_inputs + g->n_inits + 1;
  for (int i = 0; i < g->n_nodes; i++) cap += g->nodes[i]->n_out;
  F.parent = malloc(sizeof *F.parent * (size_t)cap);
  F.pinned = calloc((size_t)cap, sizeof *F.pinned);
  F.factor = calloc((size_t)cap, sizeof *F.factor);
  F.reads = calloc((size_t)cap, sizeof *F.reads);
  if (!F.parent || !F.pinned || !F.factor || !F.reads) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
#define ADD_VAL(nm)                                                       \
  do {                                                                    \
    if (pn_strmap_get(&F.map, (nm), -1) < 0) {                            \
      if (pn_strmap_put(&F.map, (nm), F.n)) goto nomem;                   \
      F.parent[F.n] = F.n;                                                \
      F.n++;                                                              \
    }                                                                     \
  } while (0)
  for (int i = 0; i < g->n_inputs; i++) ADD_VAL(g->inputs[i].name);
  for (int i = 0; i < g->n_inits; i++) ADD_VAL(g->inits[i]->name);
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i]->n_out; j++)
      if (*g->nodes[i]->out[j]) ADD_VAL(g->nodes[i]->out[j]);
#undef ADD_VAL
  /* PAF nodes are well formed (the S and C the rewrite touches) */
  for (int i = 0; i < g->n_nodes; i++) {
    struct pn_paf_node pn;
    if (pn_paf_node_kind(g->nodes[i]) >= 0 && (rc = pn_paf_node_parse(ctx, g, g->nodes[i], &pn))) goto out;
    for (int j = 0; j < g->nodes[i]->n_in; j++) {
      int v = val(&F, g->nodes[i]->in[j]);
      if (v >= 0) F.reads[v]++;
    }
  }
  /* groups and pins */
  for (int i = 0; i < g->n_inputs; i++) pin(&F, val(&F, g->inputs[i].name));
  for (int i = 0; i < g->n_outputs; i++) pin(&F, val(&F, g->outputs[i].name));
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    enum role r = node_role(n);
    int y = val(&F, n->out[0]);
    bool single_out = n->n_out == 1 || (n->n_out > 1 && !*n->out[1]);
    if (r == R_HOMOG && single_out) {
      for (int j = 0; j < n_data_in(n) && j < n->n_in; j++) {
        int v = val(&F, n->in[j]);
        if (pn_graph_find_init(g, n->in[j])) pin(&F, y); /* a constant operand cannot follow */
        if (v >= 0) uf_union(&F, v, y);
      }
    } else if (r == R_LINEAR && single_out && params_private(&F, g, n)) {
      /* input and output groups are independent */
    } else {
      for (int j = 0; j < n->n_in; j++) pin(&F, val(&F, n->in[j]));
      for (int j = 0; j < n->n_out; j++) pin(&F, val(&F, n->out[j]));
    }
    /* a data input that is an initializer (Conv on a constant) stays as it is */
    if (r != R_OTHER && n->n_in > 0 && pn_graph_find_init(g, n->in[0])) pin(&F, val(&F, n->in[0]));
  }
  /* factors, in node order (a group's producer comes before its readers) */
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    for (int o = 0; o < n->n_out; o++) {
      int y = val(&F, n->out[o]);
      if (y < 0) continue;
      int root = uf_find(&F, y);
      if (F.factor[root] != 0) continue;
      if (F.pinned[root]) {
        F.factor[root] = 1;
        continue;
      }
      /* the first static PAF reading the group */
      double f = 0;
      for (int k = i + 1; k < g->n_nodes && f == 0; k++) {
        const struct pn_node *m = g->nodes[k];
        if (pn_paf_node_kind(m) < 0 || m->n_in < 3 || !*m->in[2]) continue;
        int x = val(&F, m->in[0]);
        if (x >= 0 && uf_find(&F, x) == root) f = 1.0 / ((const float *)pn_graph_find_init(g, m->in[2])->data)[0];
      }
      if (f == 0 && pn_paf_node_kind(n) == PN_PAF_RELU) {
        struct pn_paf_node pn;
        pn_paf_node_attrs(ctx, n, &pn);
        int x = val(&F, n->in[0]);
        double fi = x >= 0 ? F.factor[uf_find(&F, x)] : 1;
        if (fi == 0) fi = 1;
        if (pn.gain > 0) f = fi / pn.gain;
      }
      F.factor[root] = f > 0 && isfinite(f) ? f : 1;
    }
  }
  for (int i = 0; i < g->n_inputs; i++) {
    int v = val(&F, g->inputs[i].name);
    if (v >= 0 && F.factor[uf_find(&F, v)] == 0) F.factor[uf_find(&F, v)] = 1;
  }
  /* apply */
  for (int i = 0; i < g->n_nodes; i++) {
    struct pn_node *n = g->nodes[i];
    enum role r = node_role(n);
    int x = n->n_in > 0 ? val(&F, n->in[0]) : -1, y = val(&F, n->out[0]);
    double fi = x >= 0 && F.factor[uf_find(&F, x)] > 0 ? F.factor[uf_find(&F, x)] : 1;
    double fo = y >= 0 && F.factor[uf_find(&F, y)] > 0 ? F.factor[uf_find(&F, y)] : 1;
    int kind = pn_paf_node_kind(n);
    if (kind == PN_PAF_MAXPOOL) {
      scale_s(g, n, fi);
    } else if (kind == PN_PAF_RELU) {
      struct pn_paf_node pn;
      pn_paf_node_attrs(ctx, n, &pn);
      scale_s(g, n, fi);
      double gain = pn.gain * fo / fi;
      if (fabs(gain - 1.0) < 1e-6) gain = 1.0;
      if (gain != pn.gain && pn_node_set_float(g, n, "gain", (float)gain)) goto nomem;
    } else if (r == R_LINEAR && (fi != 1 || fo != 1)) {
      if (!strcmp(n->op_type, "BatchNormalization")) {
        scale_init(g, n->in[1], fo);
        scale_init(g, n->in[2], fo);
        scale_init(g, n->in[3], fi);
        scale_init(g, n->in[4], fi * fi);
        float eps;
        if ((rc = pn_node_get_float(ctx, n, "epsilon", 1e-5f, &eps))) goto out;
        if (fi != 1 && pn_node_set_float(g, n, "epsilon", (float)(eps * fi * fi))) goto nomem;
      } else {
        scale_init(g, n->in[1], fo / fi);
        if (n->n_in > 2 && *n->in[2]) scale_init(g, n->in[2], fo);
      }
    }
  }
  for (int i = 0; i < g->n_nodes; i++) {
    struct pn_paf_node pn;
    if (pn_paf_node_kind(g->nodes[i]) < 0) continue;
    if ((rc = pn_paf_node_parse(ctx, g, g->nodes[i], &pn))) goto out;
    rep->paf_nodes++;
    if (pn.scale && ((const float *)pn.scale->data)[0] == 1.0f) rep->unit_scale++;
    if (pn.kind == PN_PAF_RELU && pn.gain == 1.0f) rep->unit_gain++;
  }
  goto out;
nomem:
  rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
out:
  pn_strmap_free(&F.map);
  free(F.parent);
  free(F.pinned);
  free(F.factor);
  free(F.reads);
  return rc;
}
