/* sentinel_topo.c - the sentinel generator's topology: a part's node DAG, its vertex split and
** contraction mutations and the features (size, degree, diameter) mutants are matched on. */
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "obf/obf_ngram.h"
#include "obf/sentinel_impl.h"
#include "util/status.h"
#include "util/strmap.h"

void pn_stopo_free(struct topo *t) {
  free(t->np);
  free(t->pred);
  free(t->bin);
  free(t->orig);
  free(t->reshape);
  free(t->cat);
  free(t->cbin);
  free(t->ncb);
  free(t->bcast);
  free(t->sq);
  memset(t, 0, sizeof *t);
}

int pn_stopo_init(struct topo *t, int cap) {
  memset(t, 0, sizeof *t);
  t->cap = cap;
  t->np = calloc((size_t)cap, sizeof *t->np);
  t->pred = calloc((size_t)cap, sizeof *t->pred);
  t->bin = calloc((size_t)cap, sizeof *t->bin);
  t->orig = calloc((size_t)cap, sizeof *t->orig);
  t->reshape = calloc((size_t)cap, sizeof *t->reshape);
  t->cat = calloc((size_t)cap, sizeof *t->cat);
  t->cbin = calloc((size_t)cap, sizeof *t->cbin);
  t->ncb = calloc((size_t)cap, sizeof *t->ncb);
  t->bcast = calloc((size_t)cap, sizeof *t->bcast);
  t->sq = calloc((size_t)cap, sizeof *t->sq);
  return t->np && t->pred && t->bin && t->orig && t->reshape && t->cat && t->cbin && t->ncb && t->bcast && t->sq
             ? PN_OK
             : PN_ERR_NOMEM;
}

void pn_stopo_copy(struct topo *d, const struct topo *s) {
  d->n = s->n;
  memcpy(d->np, s->np, (size_t)s->n * sizeof *s->np);
  memcpy(d->pred, s->pred, (size_t)s->n * sizeof *s->pred);
  memcpy(d->bin, s->bin, (size_t)s->n * sizeof *s->bin);
  memcpy(d->orig, s->orig, (size_t)s->n * sizeof *s->orig);
  memcpy(d->reshape, s->reshape, (size_t)s->n * sizeof *s->reshape);
  memcpy(d->cat, s->cat, (size_t)s->n * sizeof *s->cat);
  memcpy(d->cbin, s->cbin, (size_t)s->n * sizeof *s->cbin);
  memcpy(d->ncb, s->ncb, (size_t)s->n * sizeof *s->ncb);
  memcpy(d->bcast, s->bcast, (size_t)s->n * sizeof *s->bcast);
  memcpy(d->sq, s->sq, (size_t)s->n * sizeof *s->sq);
}

/* Split v: a new node right after v reads v; v's readers read the new node instead. */
void pn_stopo_split(struct topo *t, int v) {
  if (t->n >= t->cap) return;
  for (int i = t->n; i > v + 1; i--) {
    t->np[i] = t->np[i - 1];
    t->bin[i] = t->bin[i - 1];
    t->orig[i] = t->orig[i - 1];
    t->reshape[i] = t->reshape[i - 1];
    t->cat[i] = t->cat[i - 1];
    t->ncb[i] = t->ncb[i - 1];
    t->bcast[i] = t->bcast[i - 1];
    t->sq[i] = t->sq[i - 1];
    memcpy(t->cbin[i], t->cbin[i - 1], sizeof t->cbin[i]);
    memcpy(t->pred[i], t->pred[i - 1], sizeof t->pred[i]);
  }
  t->n++;
  for (int i = v + 2; i < t->n; i++)
    for (int k = 0; k < t->np[i]; k++) {
      if (t->pred[i][k] > v) t->pred[i][k]++;
      else if (t->pred[i][k] == v) t->pred[i][k] = v + 1;
    }
  t->np[v + 1] = 1;
  t->pred[v + 1][0] = v;
  t->bin[v + 1] = -1;
  t->orig[v + 1] = -1;
  t->reshape[v + 1] = 0;
  t->cat[v + 1] = -1;
  t->ncb[v + 1] = 0;
  t->bcast[v + 1] = 0;
  t->sq[v + 1] = 0;
}

/* Contract v (exactly one predecessor u) into u; readers of v read u (duplicates dropped, so no
** reader gets more than MAXP inputs). */
bool pn_stopo_contract(struct topo *t, int v) {
  if (t->np[v] != 1 || t->n <= 2) return false;
  int u = t->pred[v][0];
  for (int i = v + 1; i < t->n; i++) {
    int m = 0;
    int np[MAXP];
    for (int k = 0; k < t->np[i]; k++) {
      int p = t->pred[i][k] == v ? u : t->pred[i][k];
      if (p > v) p--;
      bool dup = false;
      for (int j = 0; j < m; j++) dup |= np[j] == p;
      if (!dup) np[m++] = p;
    }
    t->np[i] = m;
    memcpy(t->pred[i], np, (size_t)m * sizeof(int));
  }
  if (t->bin[u] < 0) t->bin[u] = t->bin[v];
  if (t->reshape[v] && !t->reshape[u]) {
    /* Relu -> Conv contracted: the merged node is the Conv (else a weightless node would have to
    ** become a Conv to reach the shape the Conv had, and sentinels would trade Relus for Convs) */
    t->orig[u] = t->orig[v];
    t->reshape[u] = 1;
  }
  for (int i = v; i < t->n - 1; i++) {
    t->np[i] = t->np[i + 1];
    t->bin[i] = t->bin[i + 1];
    t->orig[i] = t->orig[i + 1];
    t->reshape[i] = t->reshape[i + 1];
    t->cat[i] = t->cat[i + 1];
    t->ncb[i] = t->ncb[i + 1];
    t->bcast[i] = t->bcast[i + 1];
    t->sq[i] = t->sq[i + 1];
    memcpy(t->cbin[i], t->cbin[i + 1], sizeof t->cbin[i]);
    memcpy(t->pred[i], t->pred[i + 1], sizeof t->pred[i]);
  }
  t->n--;
  return true;
}

void pn_stopo_features(const struct topo *t, double f[3]) {
  int e = 0, diam = 0;
  int *depth = calloc((size_t)t->n + 1, sizeof *depth);
  for (int i = 0; i < t->n; i++) {
    e += t->np[i];
    if (depth)
      for (int k = 0; k < t->np[i]; k++)
        if (depth[t->pred[i][k]] + 1 > depth[i]) depth[i] = depth[t->pred[i][k]] + 1;
    if (depth && depth[i] > diam) diam = depth[i];
  }
  free(depth);
  f[0] = t->n;
  f[1] = t->n ? 2.0 * e / t->n : 0;
  f[2] = diam;
}

/* The real part's DAG as a topo (nodes in the part's order, at most MAXP predecessors kept). */
int pn_stopo_from_part(const struct pn_graph *p, struct topo *t) {
  struct pn_strmap prod = {0};
  for (int v = 0; v < p->n_nodes; v++) {
    const struct pn_node *n = p->nodes[v];
    t->np[v] = 0;
    t->bin[v] = -1;
    t->orig[v] = v;
    t->reshape[v] = pn_obf_node_reshapes(p, n);
    t->cat[v] = -1;
    if (!strcmp(n->op_type, "Concat")) {
      const struct pn_attr *ax = pn_node_attr(n, "axis");
      const struct pn_value *o = pn_graph_find_value(p, n->out[0]);
      int64_t a = ax && ax->type == PN_ATTR_INT ? ax->i : 0;
      if (o && o->ndim > 0 && a < 0) a += o->ndim;
      if (o && a >= 0 && a < o->ndim) t->cat[v] = (signed char)a;
    }
    for (int k = 0; k < n->n_in && t->bin[v] < 0; k++)
      for (int i = 0, r = 0; i < p->n_inputs; i++) {
        if (!pn_graph_is_runtime_input(p, i)) continue;
        if (!strcmp(p->inputs[i].name, n->in[k])) t->bin[v] = r;
        r++;
      }
    for (int k = 0; k < n->n_in && t->np[v] < lim(t, v); k++) {
      int u = n->in[k][0] ? pn_strmap_get(&prod, n->in[k], -1) : -1;
      bool dup = false;
      for (int j = 0; j < t->np[v]; j++) dup |= t->pred[v][j] == u;
      if (u >= 0 && !dup) t->pred[v][t->np[v]++] = u;
    }
    /* a Concat keeps every boundary input it reads */
    t->ncb[v] = 0;
    for (int k = 0; k < n->n_in && t->cat[v] >= 0; k++)
      for (int i = 0, r = 0; i < p->n_inputs && t->np[v] + t->ncb[v] < MAXP; i++) {
        if (!pn_graph_is_runtime_input(p, i)) continue;
        if (!strcmp(p->inputs[i].name, n->in[k])) t->cbin[v][t->ncb[v]++] = r;
        r++;
      }
    /* an elementwise op whose two data inputs differ in shape (x * scale[N, C, 1, 1]) */
    t->bcast[v] = 0;
    if (n->n_in == 2 && (!strcmp(n->op_type, "Add") || !strcmp(n->op_type, "Mul") ||
                         !strcmp(n->op_type, "Sub") || !strcmp(n->op_type, "Div"))) {
      const struct pn_value *a = pn_graph_find_value(p, n->in[0]), *b = pn_graph_find_value(p, n->in[1]);
      t->bcast[v] = a && b && !pn_graph_find_init(p, n->in[0]) && !pn_graph_find_init(p, n->in[1]) &&
                    (a->ndim != b->ndim || memcmp(a->dims, b->dims, (size_t)(a->ndim > 0 ? a->ndim : 0) * sizeof(int64_t)));
    }
    /* x * x: one value read twice, which the predecessors above keep once */
    t->sq[v] = n->n_in == 2 && n->in[0][0] && !strcmp(n->in[0], n->in[1]) && !pn_graph_find_init(p, n->in[0]) &&
               (!strcmp(n->op_type, "Add") || !strcmp(n->op_type, "Mul"));
    for (int k = 0; k < n->n_out; k++)
      if (n->out[k][0] && pn_strmap_put(&prod, n->out[k], v)) {
        pn_strmap_free(&prod);
        return PN_ERR_NOMEM;
      }
  }
  t->n = p->n_nodes;
  pn_strmap_free(&prod);
  return PN_OK;
}
