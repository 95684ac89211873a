/* validate.c - topological order, structural validation and shape inference of a graph.
**
** Structure first (names, producers, op support, arity), then a stable Kahn sort (a min-heap on the
** original index, so an already-sorted graph keeps its order), then shape inference in that order.
** Shape inference keeps, per value, a pn_shape; nodes whose inputs all have known small values are
** evaluated with their kernel (constant folding), so Shape -> Gather -> Concat -> Reshape chains get
** exact shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "graph/op_def.h"
#include "util/status.h"
#include "util/strmap.h"

/* values with at most this many elements are folded when all of a node's inputs are known */
#define FOLD_MAX_ELEMS 4096

static int node_err(struct pn_ctx *ctx, int code, const struct pn_node *n, const char *fmt,
                    const char *a1, const char *a2) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, a1, a2);
  return pn_err(ctx, code, "node '%s' (%s): %s", pn_node_label(n), n->op_type, msg);
}

/* Map every value available before any node runs (graph inputs and initializers) to -1, and every
** node output to its node index. Reports values produced twice. */
static int map_producers(struct pn_ctx *ctx, const struct pn_graph *g, struct pn_strmap *prod) {
  for (int i = 0; i < g->n_inputs; i++) {
    const char *nm = g->inputs[i].name;
    if (!nm || !*nm) return pn_err(ctx, PN_ERR_INVALID, "graph input %d has an empty name", i);
    if (pn_strmap_get(prod, nm, -2) != -2)
      return pn_err(ctx, PN_ERR_INVALID, "graph input '%s' is declared twice", nm);
    if (pn_strmap_put(prod, nm, -1)) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  struct pn_strmap inits = {0};
  for (int i = 0; i < g->n_inits; i++) {
    const char *nm = g->inits[i]->name;
    if (!nm || !*nm) {
      pn_strmap_free(&inits);
      return pn_err(ctx, PN_ERR_INVALID, "initializer %d has an empty name", i);
    }
    if (pn_strmap_get(&inits, nm, 0)) {
      pn_strmap_free(&inits);
      return pn_err(ctx, PN_ERR_INVALID, "initializer '%s' is declared twice", nm);
    }
    if (pn_strmap_put(&inits, nm, 1) || pn_strmap_put(prod, nm, -1)) {
      pn_strmap_free(&inits);
      return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    }
  }
  pn_strmap_free(&inits);
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    for (int j = 0; j < n->n_out; j++) {
      const char *nm = n->out[j];
      if (!*nm) continue;
      int p = pn_strmap_get(prod, nm, -2);
      if (p != -2) {
        if (p == -1)
          return node_err(ctx, PN_ERR_INVALID, n, "output '%s' has the name of a graph input or initializer%s", nm, "");
        return node_err(ctx, PN_ERR_INVALID, n, "output '%s' is also produced by node '%s'", nm,
                        pn_node_label(g->nodes[p]));
      }
      if (pn_strmap_put(prod, nm, i)) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    }
  }
  return PN_OK;
}

/* ---- stable topological sort ---- */

static void heap_push(int *h, int *n, int v) {
  int i = (*n)++;
  h[i] = v;
  while (i > 0 && h[(i - 1) / 2] > h[i]) {
    int p = (i - 1) / 2, t = h[p];
    h[p] = h[i];
    h[i] = t;
    i = p;
  }
}

static int heap_pop(int *h, int *n) {
  int top = h[0];
  h[0] = h[--(*n)];
  for (int i = 0;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < *n && h[l] < h[m]) m = l;
    if (r < *n && h[r] < h[m]) m = r;
    if (m == i) break;
    int t = h[m];
    h[m] = h[i];
    h[i] = t;
    i = m;
  }
  return top;
}

int pn_graph_topo_sort(struct pn_ctx *ctx, struct pn_graph *g) {
  int nn = g->n_nodes, rc = PN_OK;
  struct pn_strmap prod = {0};
  int *indeg = calloc((size_t)nn + 1, sizeof *indeg);
  int *heap = calloc((size_t)nn + 1, sizeof *heap);
  int *order = calloc((size_t)nn + 1, sizeof *order);
  /* consumers as CSR: for node i, the nodes that read one of its outputs (with multiplicity) */
  int *cstart = calloc((size_t)nn + 2, sizeof *cstart), *clist = NULL;
  if (!indeg || !heap || !order || !cstart) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  if ((rc = map_producers(ctx, g, &prod))) goto out;
  int64_t edges = 0;
  for (int i = 0; i < nn; i++) {
    const struct pn_node *n = g->nodes[i];
    for (int j = 0; j < n->n_in; j++) {
      if (!*n->in[j]) continue;
      int p = pn_strmap_get(&prod, n->in[j], -2);
      if (p == -2) {
        rc = node_err(ctx, PN_ERR_INVALID, n, "input '%s' is not a graph input, initializer or node output%s",
                      n->in[j], "");
        goto out;
      }
      if (p >= 0) {
        indeg[i]++;
        cstart[p + 1]++;
        edges++;
      }
    }
  }
  for (int i = 0; i < nn; i++) cstart[i + 1] += cstart[i];
  clist = malloc((size_t)(edges ? edges : 1) * sizeof *clist);
  int *fill = calloc((size_t)nn + 1, sizeof *fill);
  if (!clist || !fill) {
    free(fill);
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (int i = 0; i < nn; i++) {
    const struct pn_node *n = g->nodes[i];
    for (int j = 0; j < n->n_in; j++) {
      if (!*n->in[j]) continue;
      int p = pn_strmap_get(&prod, n->in[j], -2);
      if (p >= 0) clist[cstart[p] + fill[p]++] = i;
    }
  }
  free(fill);
  int hn = 0, done = 0;
  for (int i = 0; i < nn; i++)
    if (!indeg[i]) heap_push(heap, &hn, i);
  while (hn) {
    int i = heap_pop(heap, &hn);
    order[done++] = i;
    for (int k = cstart[i]; k < cstart[i + 1]; k++)
      if (--indeg[clist[k]] == 0) heap_push(heap, &hn, clist[k]);
  }
  if (done < nn) {
    for (int i = 0; i < nn; i++)
      if (indeg[i]) {
        rc = node_err(ctx, PN_ERR_INVALID, g->nodes[i], "is on a cycle (its inputs depend on its outputs)%s%s", "", "");
        goto out;
      }
  }
  struct pn_node **sorted = malloc((size_t)(nn ? nn : 1) * sizeof *sorted);
  if (!sorted) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (int i = 0; i < nn; i++) sorted[i] = g->nodes[order[i]];
  if (nn) memcpy(g->nodes, sorted, (size_t)nn * sizeof *sorted);
  free(sorted);
out:
  pn_strmap_free(&prod);
  free(indeg);
  free(heap);
  free(order);
  free(cstart);
  free(clist);
  return rc;
}

/* ---- shape inference ---- */

struct infer_state {
  struct pn_strmap idx;        /* value name -> index into shapes */
  struct pn_shape *shapes;
  struct pn_tensor **owned;    /* folded values, freed at the end */
  int n, cap;
};

static int st_add(struct infer_state *s, const char *name) {
  int i = pn_strmap_get(&s->idx, name, -1);
  if (i >= 0) return i;
  if (s->n == s->cap) {
    int nc = s->cap ? 2 * s->cap : 256;
    struct pn_shape *ns = realloc(s->shapes, (size_t)nc * sizeof *ns);
    if (!ns) return -1;
    s->shapes = ns;
    struct pn_tensor **no = realloc(s->owned, (size_t)nc * sizeof *no);
    if (!no) return -1;
    s->owned = no;
    s->cap = nc;
  }
  i = s->n++;
  memset(&s->shapes[i], 0, sizeof s->shapes[i]);
  s->shapes[i].ndim = -1;
  s->owned[i] = NULL;
  if (pn_strmap_put(&s->idx, name, i)) return -1;
  return i;
}

static void st_free(struct infer_state *s) {
  for (int i = 0; i < s->n; i++) pn_tensor_free(s->owned[i]);
  free(s->shapes);
  free(s->owned);
  pn_strmap_free(&s->idx);
}

static void value_to_shape(const struct pn_value *v, struct pn_shape *s) {
  s->dtype = v->dtype;
  s->ndim = v->ndim;
  for (int k = 0; k < v->ndim && k < PN_MAX_DIMS; k++) s->dims[k] = v->dims[k] >= 0 ? v->dims[k] : -1;
  s->value = NULL;
}

static bool shape_known(const struct pn_shape *s) {
  if (s->ndim < 0 || s->dtype == PN_DT_UNDEFINED) return false;
  for (int k = 0; k < s->ndim; k++)
    if (s->dims[k] < 0) return false;
  return true;
}

/* Evaluate node n when every present input has a known value and outputs are small. */
static int try_fold(struct pn_ctx *ctx, const struct pn_op_args *a, int op, struct infer_state *s,
                    const int *in_idx, const struct pn_shape *out_shapes, const int *out_idx) {
  const struct pn_node *n = a->node;
  const struct pn_tensor *ins[64];
  if (n->n_in > 64 || n->n_out > 16) return PN_OK;
  for (int j = 0; j < n->n_in; j++) {
    ins[j] = in_idx[j] >= 0 ? s->shapes[in_idx[j]].value : NULL;
    if (in_idx[j] >= 0 && !ins[j]) return PN_OK;
  }
  struct pn_tensor *outs[16] = {0};
  for (int j = 0; j < n->n_out; j++) {
    if (out_idx[j] < 0) continue;
    if (!shape_known(&out_shapes[j]) || !pn_dtype_supported(out_shapes[j].dtype)) goto skip;
    int64_t ne = pn_shape_numel(out_shapes[j].ndim, out_shapes[j].dims);
    if (ne > FOLD_MAX_ELEMS) goto skip;
    outs[j] = pn_tensor_new(out_shapes[j].dtype, out_shapes[j].ndim, out_shapes[j].dims);
    if (!outs[j]) goto skip;
  }
  struct pn_ctx quiet = {0};
  struct pn_op_args qa = *a;
  qa.ctx = &quiet; /* a kernel that cannot fold (e.g. random Dropout) just leaves the value unknown */
  if (pn_op_run(op, &qa, ins, n->n_in, outs, n->n_out) != PN_OK) goto skip;
  for (int j = 0; j < n->n_out; j++)
    if (outs[j]) {
      s->owned[out_idx[j]] = outs[j];
      s->shapes[out_idx[j]].value = outs[j];
    }
  (void)ctx;
  return PN_OK;
skip:
  for (int j = 0; j < n->n_out; j++) pn_tensor_free(outs[j]);
  return PN_OK;
}

static int check_declared(struct pn_ctx *ctx, const char *what, const struct pn_value *v,
                          const struct pn_shape *s) {
  if (v->dtype != PN_DT_UNDEFINED && s->dtype != PN_DT_UNDEFINED && v->dtype != s->dtype)
    return pn_err(ctx, PN_ERR_INVALID, "%s '%s': declared %s but computed %s", what, v->name,
                  pn_dtype_name(v->dtype), pn_dtype_name(s->dtype));
  if (v->ndim >= 0 && s->ndim >= 0) {
    char a[160], b[160];
    if (v->ndim != s->ndim)
      return pn_err(ctx, PN_ERR_INVALID, "%s '%s': declared shape %s but computed %s", what, v->name,
                    pn_shape_str(a, sizeof a, v->ndim, v->dims), pn_shape_str(b, sizeof b, s->ndim, s->dims));
    for (int k = 0; k < v->ndim; k++)
      if (v->dims[k] >= 0 && s->dims[k] >= 0 && v->dims[k] != s->dims[k])
        return pn_err(ctx, PN_ERR_INVALID, "%s '%s': declared shape %s but computed %s", what,
                      v->name, pn_shape_str(a, sizeof a, v->ndim, v->dims),
                      pn_shape_str(b, sizeof b, s->ndim, s->dims));
  }
  return PN_OK;
}

/* Shape inference over a sorted graph. When write is true, g->vinfo and unknown parts of the graph
** outputs are (re)written. */
static int infer_all(struct pn_ctx *ctx, struct pn_graph *g, bool write) {
  struct infer_state s = {0};
  int rc = PN_OK;
  for (int i = 0; i < g->n_inputs; i++) {
    int k = st_add(&s, g->inputs[i].name);
    if (k < 0) goto nomem;
    value_to_shape(&g->inputs[i], &s.shapes[k]);
  }
  for (int i = 0; i < g->n_inits; i++) {
    const struct pn_tensor *t = g->inits[i];
    int k = st_add(&s, t->name);
    if (k < 0) goto nomem;
    pn_shape_set(&s.shapes[k], t->dtype, t->ndim, t->dims);
    s.shapes[k].value = t;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    int op = pn_op_find(n->domain, n->op_type);
    if (op < 0) {
      rc = node_err(ctx, PN_ERR_UNSUPPORTED, n, "unsupported op '%s' (domain '%s')", n->op_type,
                    n->domain && *n->domain ? n->domain : "ai.onnx");
      goto out;
    }
    int64_t opset = pn_graph_opset(g, n->domain);
    const struct pn_op_domain_def *dom = &pn_op_domains[pn_op_domain(op)];
    if (opset < dom->opset_min || opset > dom->opset_max) {
      rc = pn_err(ctx, opset ? PN_ERR_UNSUPPORTED : PN_ERR_INVALID,
                  "node '%s' (%s): %s%s opset %lld (privnn implements %s opsets %lld..%lld)",
                  pn_node_label(n), n->op_type, opset ? "model imports " : "no import of the ",
                  dom->name, (long long)opset, dom->name, (long long)dom->opset_min,
                  (long long)dom->opset_max);
      goto out;
    }
    const struct pn_op_def *d = &pn_op_defs[op];
    if (n->n_in < d->min_in || n->n_in > d->max_in || n->n_out < d->min_out || n->n_out > d->max_out) {
      rc = pn_err(ctx, PN_ERR_INVALID, "node '%s' (%s): has %d inputs and %d outputs; %s takes %d..%d and %d..%d",
                  pn_node_label(n), n->op_type, n->n_in, n->n_out, n->op_type, d->min_in, d->max_in,
                  d->min_out, d->max_out);
      goto out;
    }
    for (int j = 0; j < n->n_in && j < d->min_in; j++)
      if (!*n->in[j]) {
        rc = pn_err(ctx, PN_ERR_INVALID, "node '%s' (%s): input %d is required but empty",
                    pn_node_label(n), n->op_type, j);
        goto out;
      }
    for (int j = 0; j < n->n_out && j < d->min_out; j++)
      if (!*n->out[j]) {
        rc = pn_err(ctx, PN_ERR_INVALID, "node '%s' (%s): output %d is required but empty",
                    pn_node_label(n), n->op_type, j);
        goto out;
      }
    struct pn_shape *in = calloc((size_t)n->n_in + 1, sizeof *in);
    struct pn_shape *outs = calloc((size_t)n->n_out + 1, sizeof *outs);
    int *in_idx = calloc((size_t)n->n_in + 1, sizeof *in_idx);
    int *out_idx = calloc((size_t)n->n_out + 1, sizeof *out_idx);
    if (!in || !outs || !in_idx || !out_idx) {
      free(in), free(outs), free(in_idx), free(out_idx);
      goto nomem;
    }
    for (int j = 0; j < n->n_in; j++) {
      in_idx[j] = *n->in[j] ? pn_strmap_get(&s.idx, n->in[j], -1) : -1;
      if (in_idx[j] >= 0) in[j] = s.shapes[in_idx[j]];
      else in[j].ndim = -1;
    }
    for (int j = 0; j < n->n_out; j++) outs[j].ndim = -1;
    struct pn_op_args a = {ctx, n, opset};
    rc = pn_op_infer(op, &a, in, n->n_in, outs, n->n_out);
    if (rc == PN_OK) {
      for (int j = 0; j < n->n_out; j++) {
        out_idx[j] = -1;
        if (!*n->out[j]) continue;
        int k = st_add(&s, n->out[j]);
        if (k < 0) {
          rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
          break;
        }
        out_idx[j] = k;
        s.shapes[k] = outs[j];
        s.shapes[k].value = NULL;
      }
      /* Shape's output is known from its input's dims, even when the input's data is not */
      if (rc == PN_OK && op == PN_OP_SHAPE && in_idx[0] >= 0 && shape_known(&in[0]) && out_idx[0] >= 0) {
        struct pn_tensor fake = {0}; /* dims only: Shape never reads data */
        fake.dtype = in[0].dtype;
        fake.ndim = in[0].ndim;
        memcpy(fake.dims, in[0].dims, sizeof fake.dims);
        const struct pn_tensor *ins[1] = {&fake};
        struct pn_tensor *o = pn_tensor_new(PN_DT_INT64, outs[0].ndim, outs[0].dims);
        struct pn_ctx quiet = {0};
        struct pn_op_args qa = {&quiet, n, a.opset};
        if (o && outs[0].ndim == 1 && pn_op_run(op, &qa, ins, 1, &o, 1) == PN_OK) {
          s.owned[out_idx[0]] = o;
          s.shapes[out_idx[0]].value = o;
        } else {
          pn_tensor_free(o);
        }
      } else if (rc == PN_OK) {
        rc = try_fold(ctx, &a, op, &s, in_idx, outs, out_idx);
      }
    }
    free(in), free(outs), free(in_idx), free(out_idx);
    if (rc) goto out;
  }
  /* declared types must agree with the computed ones */
  for (int i = 0; i < g->n_outputs; i++) {
    int k = pn_strmap_get(&s.idx, g->outputs[i].name, -1);
    if (k < 0) {
      rc = pn_err(ctx, PN_ERR_INVALID, "graph output '%s' is not produced by any node", g->outputs[i].name);
      goto out;
    }
    if ((rc = check_declared(ctx, "graph output", &g->outputs[i], &s.shapes[k]))) goto out;
  }
  for (int i = 0; i < g->n_vinfo; i++) {
    int k = pn_strmap_get(&s.idx, g->vinfo[i].name, -1);
    if (k >= 0 && (rc = check_declared(ctx, "value_info", &g->vinfo[i], &s.shapes[k]))) goto out;
  }
  if (write) {
    for (int i = 0; i < g->n_outputs; i++) {
      struct pn_value *v = &g->outputs[i];
      const struct pn_shape *sh = &s.shapes[pn_strmap_get(&s.idx, v->name, -1)];
      if (v->dtype == PN_DT_UNDEFINED) v->dtype = sh->dtype;
      if (v->ndim < 0 && sh->ndim >= 0) {
        v->ndim = sh->ndim;
        for (int k = 0; k < sh->ndim; k++) v->dims[k] = sh->dims[k];
      } else if (v->ndim == sh->ndim) {
        for (int k = 0; k < v->ndim; k++)
          if (v->dims[k] < 0 && !v->dim_param[k]) v->dims[k] = sh->dims[k];
      }
    }
    /* rewrite value_info: every node output that is not a graph output */
    struct pn_strmap is_out = {0};
    for (int i = 0; i < g->n_outputs; i++)
      if (pn_strmap_put(&is_out, g->outputs[i].name, 1)) {
        pn_strmap_free(&is_out);
        goto nomem;
      }
    g->n_vinfo = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      const struct pn_node *n = g->nodes[i];
      for (int j = 0; j < n->n_out; j++) {
        if (!*n->out[j] || pn_strmap_get(&is_out, n->out[j], 0)) continue;
        const struct pn_shape *sh = &s.shapes[pn_strmap_get(&s.idx, n->out[j], -1)];
        if (sh->dtype == PN_DT_UNDEFINED) continue;
        if (!pn_graph_add_vinfo(g, n->out[j], sh->dtype, sh->ndim, sh->ndim > 0 ? sh->dims : NULL)) {
          pn_strmap_free(&is_out);
          goto nomem;
        }
      }
    }
    pn_strmap_free(&is_out);
  }
  goto out;
nomem:
  rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory during shape inference");
out:
  st_free(&s);
  return rc;
}

int pn_graph_infer_shapes(struct pn_ctx *ctx, struct pn_graph *g) {
  int rc = pn_graph_topo_sort(ctx, g);
  return rc ? rc : infer_all(ctx, g, true);
}

int pn_graph_validate(struct pn_ctx *ctx, struct pn_graph *g) {
  /* node names, when given, are unique; op support and arity are checked during inference */
  struct pn_strmap names = {0};
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    if (!n->op_type || !*n->op_type) {
      pn_strmap_free(&names);
      return pn_err(ctx, PN_ERR_INVALID, "node %d ('%s') has an empty op_type", i, pn_node_label(n));
    }
    if (!n->name || !*n->name) continue;
    int prev = pn_strmap_get(&names, n->name, -1);
    if (prev >= 0) {
      pn_strmap_free(&names);
      return pn_err(ctx, PN_ERR_INVALID, "node name '%s' is used by nodes %d and %d", n->name, prev, i);
    }
    if (pn_strmap_put(&names, n->name, i)) {
      pn_strmap_free(&names);
      return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    }
  }
  pn_strmap_free(&names);
  for (int i = 0; i < g->n_inits; i++) {
    const struct pn_tensor *t = g->inits[i];
    if (t->dtype == PN_DT_UNDEFINED || t->ndim < 0 || t->ndim > PN_MAX_DIMS)
      return pn_err(ctx, PN_ERR_INVALID, "initializer '%s' has no valid type/shape", t->name);
  }
  for (int i = 0; i < g->n_outputs; i++)
    if (!g->outputs[i].name || !*g->outputs[i].name)
      return pn_err(ctx, PN_ERR_INVALID, "graph output %d has an empty name", i);
  int rc = pn_graph_topo_sort(ctx, g);
  return rc ? rc : infer_all(ctx, g, false);
}
