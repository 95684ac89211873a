/* partition.c - Proteus' cut of a model into an acyclic DAG of parts by randomized contraction.
**
** Nodes start as singleton clusters (union-find). Fusible chains are merged first so an optimizer
** still sees every pattern it could fuse: Conv->BatchNormalization->activation, MatMul->Add and the
** decomposed LayerNormalization (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add) and
** GELU (Div, Erf, Add, Mul, Mul) chains. Then, Karger-style, a random node edge between two
** clusters is picked with weight 1/(|A|+|B|) and contracted if the merged cluster stays at most
** 1.5 P nodes and the cluster graph stays acyclic: merging A and B closes a cycle exactly when
** some path of the cluster graph leaves A or B and comes back through other clusters, which a
** forward search over clusters from A∪B decides. Contraction stops at n/P
** clusters or when no edge can be contracted; the try with the smallest size spread is kept. */
#include "obf/obf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "graph/passes.h"
#include "util/prg.h"
#include "util/status.h"
#include "util/strmap.h"

/* ---- node graph: producers, CSR successor/predecessor lists ---- */

struct ngraph {
  int n;
  int *succ_off, *succ;        /* succ[succ_off[i]..succ_off[i+1]) node successors (deduplicated) */
  int *pred_off, *pred;
};

static void ngraph_free(struct ngraph *ng) {
  free(ng->succ_off);
  free(ng->succ);
  free(ng->pred_off);
  free(ng->pred);
  memset(ng, 0, sizeof *ng);
}

/* Edges producer -> consumer. Inputs that are graph inputs or initializers have no producer; any
** other input nothing produces is an error. */
static int ngraph_build(struct pn_ctx *ctx, const struct pn_graph *g, struct ngraph *ng) {
  memset(ng, 0, sizeof *ng);
  int n = g->n_nodes, rc = PN_OK;
  struct pn_strmap prod = {0}, known = {0};
  int ne = 0, *eu = NULL, *ev = NULL;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i]->n_out; k++)
      if (g->nodes[i]->out[k][0]) {
        if (pn_strmap_get(&prod, g->nodes[i]->out[k], -1) >= 0) {
          rc = pn_err(ctx, PN_ERR_INVALID, "node '%s': value '%s' is produced twice",
                      pn_node_label(g->nodes[i]), g->nodes[i]->out[k]);
          goto out;
        }
        if (pn_strmap_put(&prod, g->nodes[i]->out[k], i)) goto nomem;
      }
  for (int i = 0; i < g->n_inputs; i++)
    if (pn_strmap_put(&known, g->inputs[i].name, 1)) goto nomem;
  for (int i = 0; i < g->n_inits; i++)
    if (g->inits[i]->name && pn_strmap_put(&known, g->inits[i]->name, 1)) goto nomem;
  int cap = 0;
  for (int i = 0; i < n; i++) cap += g->nodes[i]->n_in;
  eu = malloc((size_t)(cap + 1) * sizeof *eu);
  ev = malloc((size_t)(cap + 1) * sizeof *ev);
  ng->succ_off = calloc((size_t)n + 1, sizeof(int));
  ng->pred_off = calloc((size_t)n + 1, sizeof(int));
  if (!eu || !ev || !ng->succ_off || !ng->pred_off) goto nomem;
  for (int v = 0; v < n; v++) {
    const struct pn_node *nd = g->nodes[v];
    int first = ne; /* edges into v so far: eu/ev[first..ne) */
    for (int k = 0; k < nd->n_in; k++) {
      if (!nd->in[k][0]) continue;
      int u = pn_strmap_get(&prod, nd->in[k], -1);
      if (u < 0) {
        if (pn_strmap_get(&known, nd->in[k], 0)) continue;
        rc = pn_err(ctx, PN_ERR_INVALID, "node '%s' (%s): input '%s' is produced by no node",
                    pn_node_label(nd), nd->op_type, nd->in[k]);
        goto out;
      }
      bool dup = false;
      for (int j = first; j < ne && !dup; j++) dup = eu[j] == u;
      if (dup) continue;
      eu[ne] = u;
      ev[ne] = v;
      ne++;
      ng->succ_off[u + 1]++;
      ng->pred_off[v + 1]++;
    }
  }
  for (int i = 0; i < n; i++) {
    ng->succ_off[i + 1] += ng->succ_off[i];
    ng->pred_off[i + 1] += ng->pred_off[i];
  }
  ng->succ = malloc((size_t)(ne + 1) * sizeof(int));
  ng->pred = malloc((size_t)(ne + 1) * sizeof(int));
  int *fs = calloc((size_t)n + 1, sizeof(int)), *fp = calloc((size_t)n + 1, sizeof(int));
  if (!ng->succ || !ng->pred || !fs || !fp) {
    free(fs);
    free(fp);
    goto nomem;
  }
  for (int j = 0; j < ne; j++) {
    ng->succ[ng->succ_off[eu[j]] + fs[eu[j]]++] = ev[j];
    ng->pred[ng->pred_off[ev[j]] + fp[ev[j]]++] = eu[j];
  }
  free(fs);
  free(fp);
  ng->n = n;
  goto out;
nomem:
  rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
out:
  free(eu);
  free(ev);
  pn_strmap_free(&prod);
  pn_strmap_free(&known);
  if (rc) ngraph_free(ng);
  return rc;
}

static int kahn(struct pn_ctx *ctx, const struct pn_graph *g, const struct ngraph *ng,
                struct pn_prg *prg, int *order) {
  int n = ng->n, *indeg = calloc((size_t)n + 1, sizeof(int)), *ready = malloc(((size_t)n + 1) * sizeof(int));
  if (!indeg || !ready) {
    free(indeg);
    free(ready);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  for (int v = 0; v < n; v++) indeg[v] = ng->pred_off[v + 1] - ng->pred_off[v];
  int nr = 0, no = 0;
  /* stable variant: ready is a min-heap by index would be ideal; a sorted scan is enough here */
  for (int v = 0; v < n; v++)
    if (!indeg[v]) ready[nr++] = v;
  while (nr) {
    int pick = 0;
    if (prg) {
      pick = (int)pn_prg_uniform(prg, (uint64_t)nr);
    } else {
      for (int i = 1; i < nr; i++)
        if (ready[i] < ready[pick]) pick = i;
    }
    int u = ready[pick];
    ready[pick] = ready[--nr];
    order[no++] = u;
    for (int j = ng->succ_off[u]; j < ng->succ_off[u + 1]; j++)
      if (--indeg[ng->succ[j]] == 0) ready[nr++] = ng->succ[j];
  }
  int rc = PN_OK;
  if (no != n) {
    for (int v = 0; v < n; v++)
      if (indeg[v] > 0) {
        rc = pn_err(ctx, PN_ERR_INVALID, "node '%s' (%s) is on a cycle", pn_node_label(g->nodes[v]),
                    g->nodes[v]->op_type);
        break;
      }
  }
  free(indeg);
  free(ready);
  return rc;
}

int pn_obf_topo_order(struct pn_ctx *ctx, const struct pn_graph *g, struct pn_prg *prg, int *order) {
  struct ngraph ng;
  int rc = ngraph_build(ctx, g, &ng);
  if (rc) return rc;
  rc = kahn(ctx, g, &ng, prg, order);
  ngraph_free(&ng);
  return rc;
}

int pn_obf_topo_sort(struct pn_ctx *ctx, struct pn_graph *g, struct pn_prg *prg) {
  int n = g->n_nodes;
  int *order = malloc(((size_t)n + 1) * sizeof *order);
  struct pn_node **tmp = malloc(((size_t)n + 1) * sizeof *tmp);
  if (!order || !tmp) {
    free(order);
    free(tmp);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  int rc = pn_obf_topo_order(ctx, g, prg, order);
  if (!rc) {
    for (int i = 0; i < n; i++) tmp[i] = g->nodes[order[i]];
    memcpy(g->nodes, tmp, (size_t)n * sizeof *tmp);
  }
  free(order);
  free(tmp);
  return rc;
}

int pn_obf_prepare(struct pn_ctx *ctx, struct pn_graph *g) {
  int rc;
  if ((rc = pn_pass_constants_to_inits(ctx, g, NULL)) || (rc = pn_pass_fold_bn(ctx, g, NULL)) ||
      (rc = pn_pass_fold_constants(ctx, g, NULL)) || (rc = pn_pass_remove_identity(ctx, g, NULL)) ||
      (rc = pn_pass_prune_inits(ctx, g, NULL)) || (rc = pn_obf_topo_sort(ctx, g, NULL)))
    return rc;
  return pn_graph_infer_shapes(ctx, g);
}

void pn_obf_partition_free(struct pn_obf_partition *p) {
  if (!p) return;
  free(p->part_of);
  free(p->size);
  memset(p, 0, sizeof *p);
}

/* ---- clusters ---- */

struct clus {
  const struct pn_graph *g;
  const struct ngraph *ng;
  int n;
  int *parent, *size, *next;   /* union-find; next: circular member list */
  int *pos;                    /* topological position of each node */
  int *maxpos;                 /* per root: last position of a member */
  int *mark, stamp;            /* search marks */
  int *stack;
};

static int find(struct clus *c, int x) {
  while (c->parent[x] != x) {
    c->parent[x] = c->parent[c->parent[x]];
    x = c->parent[x];
  }
  return x;
}

/* Push every member of cluster root r. */
static int push_cluster(struct clus *c, int r, int sp) {
  int x = r;
  do {
    c->stack[sp++] = x;
    x = c->next[x];
  } while (x != r);
  return sp;
}

/* Would merging the clusters of roots a and b close a cycle in the cluster graph? The search runs
** over clusters, not nodes: entering a cluster reaches all of its members, since a path of the
** cluster graph may enter a cluster at one node and leave it from another (a node-level search,
** bounded by topological position, missed such cycles). */
static bool merge_cycles(struct clus *c, int a, int b) {
  int sp = 0;
  c->stamp++;
  c->mark[a] = c->mark[b] = c->stamp;
  sp = push_cluster(c, a, sp);
  sp = push_cluster(c, b, sp);
  while (sp) {
    int x = c->stack[--sp], rx = find(c, x);
    for (int j = c->ng->succ_off[x]; j < c->ng->succ_off[x + 1]; j++) {
      int ry = find(c, c->ng->succ[j]);
      if (ry == a || ry == b) {
        if (rx != a && rx != b) return true;
        continue;
      }
      if (c->mark[ry] == c->stamp) continue;
      c->mark[ry] = c->stamp;
      sp = push_cluster(c, ry, sp);
    }
  }
  return false;
}

/* Merge the clusters of nodes x and y if that keeps the cluster graph acyclic. */
static bool try_merge(struct clus *c, int x, int y) {
  int a = find(c, x), b = find(c, y);
  if (a == b) return true;
  if (merge_cycles(c, a, b)) return false;
  if (c->size[a] < c->size[b]) {
    int t = a;
    a = b;
    b = t;
  }
  c->parent[b] = a;
  c->size[a] += c->size[b];
  if (c->maxpos[b] > c->maxpos[a]) c->maxpos[a] = c->maxpos[b];
  int t = c->next[a];
  c->next[a] = c->next[b];
  c->next[b] = t;
  return true;
}

static bool op_is(const struct pn_node *n, const char *op) {
  return (!n->domain || !*n->domain || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, op);
}

/* The only node reading node u's first output (and only through that output), or -1. */
static int sole_reader(const struct clus *c, int u) {
  const struct pn_node *nu = c->g->nodes[u];
  if (nu->n_out < 1 || c->ng->succ_off[u + 1] - c->ng->succ_off[u] != 1) return -1;
  int v = c->ng->succ[c->ng->succ_off[u]];
  for (int i = 0; i < c->g->n_outputs; i++)
    if (!strcmp(c->g->outputs[i].name, nu->out[0])) return -1;
  return v;
}

/* A successor of u with op `op` reading u's first output, or -1. */
static int reader_op(const struct clus *c, int u, const char *op) {
  const struct pn_node *nu = c->g->nodes[u];
  for (int j = c->ng->succ_off[u]; j < c->ng->succ_off[u + 1]; j++) {
    int v = c->ng->succ[j];
    const struct pn_node *nv = c->g->nodes[v];
    if (!op_is(nv, op)) continue;
    for (int k = 0; k < nv->n_in; k++)
      if (!strcmp(nv->in[k], nu->out[0])) return v;
  }
  return -1;
}

static void merge_chain(struct clus *c, const int *ids, int n) {
  for (int i = 1; i < n; i++)
    if (ids[i] >= 0 && ids[0] >= 0) try_merge(c, ids[0], ids[i]);
}

static void merge_patterns(struct clus *c) {
  const struct pn_graph *g = c->g;
  for (int u = 0; u < c->n; u++) {
    const struct pn_node *nu = g->nodes[u];
    int v = sole_reader(c, u);
    const struct pn_node *nv = v >= 0 ? g->nodes[v] : NULL;
    /* Conv -> BN, Conv/BN -> activation, MatMul -> Add, Gemm -> activation */
    if (nv && !strcmp(nv->in[0], nu->out[0]) &&
        ((op_is(nu, "Conv") && op_is(nv, "BatchNormalization")) ||
         ((op_is(nu, "Conv") || op_is(nu, "BatchNormalization") || op_is(nu, "Gemm")) &&
          (op_is(nv, "Relu") || op_is(nv, "Clip") || op_is(nv, "LeakyRelu")))))
      try_merge(c, u, v);
    if (nv && op_is(nu, "MatMul") && op_is(nv, "Add")) try_merge(c, u, v);
    /* decomposed LayerNormalization: x -> ReduceMean -> Sub(x, mean) -> Pow -> ReduceMean -> Add
    ** -> Sqrt -> Div(sub, sqrt) [-> Mul -> Add] */
    if (op_is(nu, "ReduceMean")) {
      int s = reader_op(c, u, "Sub");
      if (s >= 0 && !strcmp(g->nodes[s]->in[0], nu->in[0])) {
        int p = reader_op(c, s, "Pow"), d = reader_op(c, s, "Div");
        int r2 = p >= 0 ? reader_op(c, p, "ReduceMean") : -1;
        int a = r2 >= 0 ? reader_op(c, r2, "Add") : -1;
        int q = a >= 0 ? reader_op(c, a, "Sqrt") : -1;
        if (d >= 0 && q >= 0 && reader_op(c, q, "Div") == d) {
          int m = sole_reader(c, d);
          if (m >= 0 && !op_is(g->nodes[m], "Mul")) m = -1;
          int b = m >= 0 ? sole_reader(c, m) : -1;
          if (b >= 0 && !op_is(g->nodes[b], "Add")) b = -1;
          int ids[9] = {u, s, p, r2, a, q, d, m, b};
          merge_chain(c, ids, 9);
        }
      }
    }
    /* GELU: x -> Div|Mul(const) -> Erf -> Add(1) -> Mul(x, .) [-> Mul(0.5)] */
    if (op_is(nu, "Erf")) {
      int pre = -1;
      for (int j = c->ng->pred_off[u]; j < c->ng->pred_off[u + 1]; j++) {
        const struct pn_node *np = g->nodes[c->ng->pred[j]];
        if (op_is(np, "Div") || op_is(np, "Mul")) pre = c->ng->pred[j];
      }
      int a = sole_reader(c, u);
      if (a >= 0 && !op_is(g->nodes[a], "Add")) a = -1;
      int m1 = a >= 0 ? sole_reader(c, a) : -1;
      if (m1 >= 0 && !op_is(g->nodes[m1], "Mul")) m1 = -1;
      int m2 = m1 >= 0 ? sole_reader(c, m1) : -1;
      if (m2 >= 0 && !op_is(g->nodes[m2], "Mul")) m2 = -1;
      int ids[5] = {u, pre, a, m1, m2};
      if (a >= 0 && m1 >= 0) merge_chain(c, ids, 5);
    }
  }
}

/* One randomized contraction into *part_of (roots), returning the number of clusters. */
static int contract_once(struct clus *c, int part_size, struct pn_prg *prg, int *eu, int *ev,
                         double *ew) {
  int n = c->n;
  for (int i = 0; i < n; i++) {
    c->parent[i] = i;
    c->size[i] = 1;
    c->next[i] = i;
    c->maxpos[i] = c->pos[i];
  }
  merge_patterns(c);
  int clusters = 0;
  for (int i = 0; i < n; i++) clusters += find(c, i) == i;
  int target = (n + part_size / 2) / part_size;
  if (target < 1) target = 1;
  int cap = part_size + part_size / 2;
  while (clusters > target) {
    int ne = 0;
    double total = 0;
    for (int u = 0; u < n; u++)
      for (int j = c->ng->succ_off[u]; j < c->ng->succ_off[u + 1]; j++) {
        int v = c->ng->succ[j], a = find(c, u), b = find(c, v);
        if (a == b || c->size[a] + c->size[b] > cap) continue;
        eu[ne] = u;
        ev[ne] = v;
        ew[ne] = 1.0 / (c->size[a] + c->size[b]);
        total += ew[ne++];
      }
    bool merged = false;
    while (ne > 0 && !merged) {
      double r = pn_prg_double(prg) * total;
      int e = 0;
      while (e < ne - 1 && r >= ew[e]) r -= ew[e++];
      if (try_merge(c, eu[e], ev[e])) {
        merged = true;
      } else {
        total -= ew[e];
        eu[e] = eu[ne - 1];
        ev[e] = ev[ne - 1];
        ew[e] = ew[ne - 1];
        ne--;
      }
    }
    if (!merged) break;
    clusters--;
  }
  return clusters;
}

/* Number clusters in a topological order of the cluster DAG; fills part_of and size. */
static int number_parts(struct pn_ctx *ctx, struct clus *c, int n_parts, int *part_of, int *size) {
  int n = c->n, rc = PN_OK;
  size_t sz = n > 0 ? (size_t)n : 1;
  int *id = malloc(sz * sizeof *id), *indeg = calloc(sz, sizeof *indeg);
  int *ready = malloc(sz * sizeof *ready);
  if (!id || !indeg || !ready) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  /* indegree of a root counts node edges entering its cluster from other clusters */
  for (int u = 0; u < n; u++)
    for (int j = c->ng->succ_off[u]; j < c->ng->succ_off[u + 1]; j++) {
      int a = find(c, u), b = find(c, c->ng->succ[j]);
      if (a != b) indeg[b]++;
    }
  int nr = 0, next_id = 0;
  for (int u = 0; u < n; u++)
    if (find(c, u) == u && !indeg[u]) ready[nr++] = u;
  while (nr) {
    int pick = 0;
    for (int i = 1; i < nr; i++)
      if (c->maxpos[ready[i]] < c->maxpos[ready[pick]]) pick = i;
    int r = ready[pick];
    ready[pick] = ready[--nr];
    size[next_id] = c->size[r];
    id[r] = next_id++;
    int x = r;
    do {
      for (int j = c->ng->succ_off[x]; j < c->ng->succ_off[x + 1]; j++) {
        int b = find(c, c->ng->succ[j]);
        if (b != r && --indeg[b] == 0) ready[nr++] = b;
      }
      x = c->next[x];
    } while (x != r);
  }
  if (next_id != n_parts) {
    rc = pn_err(ctx, PN_ERR_INVALID, "partition: the part graph has a cycle (internal error)");
    goto out;
  }
  for (int u = 0; u < n; u++) part_of[u] = id[find(c, u)];
out:
  free(id);
  free(indeg);
  free(ready);
  return rc;
}

int pn_obf_partition(struct pn_ctx *ctx, const struct pn_graph *g, int part_size, int tries,
                     struct pn_prg *prg, struct pn_obf_partition *out) {
  memset(out, 0, sizeof *out);
  if (part_size < 1) part_size = PN_OBF_DEFAULT_PART_SIZE;
  if (tries < 1) tries = PN_OBF_DEFAULT_TRIES;
  int n = g->n_nodes;
  if (n == 0) return pn_err(ctx, PN_ERR_INVALID, "partition: the graph has no nodes");
  struct ngraph ng;
  int rc = ngraph_build(ctx, g, &ng);
  if (rc) return rc;
  struct clus c = {.g = g, .ng = &ng, .n = n};
  size_t sz = (size_t)n + 1;
  int ne_max = ng.succ_off[n] + 1;
  int *order = malloc(sz * sizeof(int)), *eu = malloc((size_t)ne_max * sizeof(int));
  int *ev = malloc((size_t)ne_max * sizeof(int));
  double *ew = malloc((size_t)ne_max * sizeof(double));
  int *best_part = malloc(sz * sizeof(int)), *best_size = malloc(sz * sizeof(int));
  int *cur_part = malloc(sz * sizeof(int)), *cur_size = malloc(sz * sizeof(int));
  c.parent = malloc(sz * sizeof(int));
  c.size = malloc(sz * sizeof(int));
  c.next = malloc(sz * sizeof(int));
  c.pos = malloc(sz * sizeof(int));
  c.maxpos = malloc(sz * sizeof(int));
  c.mark = calloc(sz, sizeof(int));
  c.stack = malloc(sz * sizeof(int));
  if (!order || !eu || !ev || !ew || !best_part || !best_size || !cur_part || !cur_size ||
      !c.parent || !c.size || !c.next || !c.pos || !c.maxpos || !c.mark || !c.stack) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    goto done;
  }
  if ((rc = kahn(ctx, g, &ng, NULL, order))) goto done;
  for (int i = 0; i < n; i++) c.pos[order[i]] = i;
  double best = INFINITY;
  int best_n = 0;
  for (int t = 0; t < tries; t++) {
    int np = contract_once(&c, part_size, prg, eu, ev, ew);
    if ((rc = number_parts(ctx, &c, np, cur_part, cur_size))) goto done;
    double mean = (double)n / np, var = 0;
    for (int i = 0; i < np; i++) var += (cur_size[i] - mean) * (cur_size[i] - mean);
    double spread = sqrt(var / np);
    /* prefer the part count closest to n/P, then the smallest spread */
    int target = (n + part_size / 2) / part_size;
    double score = spread + 4.0 * fabs((double)np - (target < 1 ? 1 : target));
    if (score < best) {
      best = score;
      best_n = np;
      out->spread = spread;
      memcpy(best_part, cur_part, (size_t)n * sizeof(int));
      memcpy(best_size, cur_size, (size_t)np * sizeof(int));
    }
  }
  out->n_nodes = n;
  out->n_parts = best_n;
  out->part_of = best_part;
  out->size = best_size;
  best_part = best_size = NULL;
done:
  free(order);
  free(eu);
  free(ev);
  free(ew);
  free(best_part);
  free(best_size);
  free(cur_part);
  free(cur_size);
  free(c.parent);
  free(c.size);
  free(c.next);
  free(c.pos);
  free(c.maxpos);
  free(c.mark);
  free(c.stack);
  ngraph_free(&ng);
  return rc;
}

int pn_obf_partition_check(struct pn_ctx *ctx, const struct pn_graph *g,
                           const struct pn_obf_partition *p) {
  if (p->n_nodes != g->n_nodes)
    return pn_err(ctx, PN_ERR_INVALID, "partition covers %d nodes, graph has %d", p->n_nodes,
                  g->n_nodes);
  int *cnt = calloc((size_t)p->n_parts + 1, sizeof *cnt);
  if (!cnt) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  int rc = PN_OK;
  for (int i = 0; i < g->n_nodes && !rc; i++) {
    if (p->part_of[i] < 0 || p->part_of[i] >= p->n_parts)
      rc = pn_err(ctx, PN_ERR_INVALID, "node '%s' is in no part", pn_node_label(g->nodes[i]));
    else
      cnt[p->part_of[i]]++;
  }
  for (int k = 0; k < p->n_parts && !rc; k++)
    if (cnt[k] != p->size[k] || cnt[k] == 0)
      rc = pn_err(ctx, PN_ERR_INVALID, "part %d has %d nodes, recorded %d", k, cnt[k], p->size[k]);
  free(cnt);
  if (rc) return rc;
  struct ngraph ng;
  if ((rc = ngraph_build(ctx, g, &ng))) return rc;
  for (int u = 0; u < ng.n && !rc; u++)
    for (int j = ng.succ_off[u]; j < ng.succ_off[u + 1] && !rc; j++)
      if (p->part_of[ng.succ[j]] < p->part_of[u])
        rc = pn_err(ctx, PN_ERR_INVALID, "edge '%s' (part %d) -> '%s' (part %d) goes backwards",
                    pn_node_label(g->nodes[u]), p->part_of[u], pn_node_label(g->nodes[ng.succ[j]]),
                    p->part_of[ng.succ[j]]);
  ngraph_free(&ng);
  return rc;
}
