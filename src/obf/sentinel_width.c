/* sentinel_width.c - a sentinel's inner widths rescaled (internal to src/obf, see sentinel_impl.h).
**
** A width set is the channel dimension of a group of values that only channel-wise operators pass
** on: produced by weight operators (a Conv's output channels, the columns of a MatMul's or Gemm's
** constant matrix), carried through elementwise operators, BatchNormalization, LayerNormalization
** over that axis, pools and grouped Convs, and consumed by weight operators that contract it (a
** Conv's input channels, a constant matrix's rows). Its width can change without touching the part's
** boundary or anything outside the set: the weights and per-channel constants along it are resized.
** A value leaving the part, a shape operator (Reshape, Transpose, Concat, Split, Flatten, reductions),
** a matrix product of two values or a constant of another shape on the way rules a set out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "obf/obf_ngram.h"
#include "obf/sentinel_impl.h"
#include "util/status.h"

/* operators that map each channel of their one data input to the same channel of their output */
static bool unary_channelwise(const char *op) {
  static const char *const ops[] = {"Relu", "Sigmoid", "Tanh", "Erf", "Clip", "HardSigmoid", "HardSwish",
                                    "LeakyRelu", "Elu", "Selu", "Softplus", "Sqrt", "Exp", "Neg", "Abs",
                                    "Identity", "Gelu", "Softmax", "Reciprocal", "Log", "Sign", "Floor",
                                    "Ceil", "Round", "Cos", "Sin", "Mish", "PRelu", NULL};
  for (int i = 0; ops[i]; i++)
    if (!strcmp(op, ops[i])) return true;
  return false;
}

static bool binary_elementwise(const char *op) {
  return !strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div") ||
         !strcmp(op, "Pow") || !strcmp(op, "Max") || !strcmp(op, "Min");
}

static bool pooling(const char *op) {
  return !strcmp(op, "MaxPool") || !strcmp(op, "AveragePool") || !strcmp(op, "GlobalAveragePool") ||
         !strcmp(op, "GlobalMaxPool");
}

static int64_t attr_int(const struct pn_node *n, const char *name, int64_t dflt) {
  const struct pn_attr *a = pn_node_attr(n, name);
  return a && a->type == PN_ATTR_INT ? a->i : dflt;
}

/* What a set does to a node. */
enum role { R_NONE, R_PRODUCE, R_CONTRACT, R_PASS };

/* One tensor to resize: init index, the axis, and whether it is a contracted weight (its spread
** follows the new fan-in). */
struct resize {
  int init, axis;
  bool contract;
};

/* The sets of one graph, found one after another: every value, resized tensor and regrouped Conv of
** set s is tagged s; those of the set being grown (number n) come after the marks v0, r0, g0 and go
** if it does not close. */
struct plan {
  const struct pn_graph *g;
  enum role *role;             /* [node] in the set being grown */
  signed char *vaxis;          /* [value slot] channel axis of a value in its set */
  const char **vname;          /* [value slot] */
  int *vset, nv, capv, v0;
  int *work, nwork;            /* value slots of the set being grown still to look at */
  struct resize *rs;
  int *rset, nrs, caprs, r0;
  int *regroup;                /* nodes whose group attribute follows the width (grouped Convs) */
  int *gset, nregroup, g0;
  int n;                       /* sets closed */
  int64_t *w;                  /* [set] its new width */
  bool *on;                    /* [set] still to be applied */
  int64_t c;                   /* the width of the set being grown */
  int64_t mult;                /* its new width must be a multiple of this (grouped Convs) */
};

/* The slot of value name in the set being grown, or -1. */
static int value_slot(struct plan *p, const char *name) {
  for (int i = p->v0; i < p->nv; i++)
    if (!strcmp(p->vname[i], name)) return i;
  return -1;
}

/* Add value name (channel axis ax) to the set; false when it cannot be in it. */
static bool add_value(struct plan *p, const char *name, int ax) {
  int i = value_slot(p, name);
  if (i >= 0) return p->vaxis[i] == ax;
  const struct pn_value *v = pn_graph_find_value(p->g, name);
  if (!v || ax < 0 || ax >= v->ndim || v->dims[ax] != p->c) return false;
  for (int o = 0; o < p->g->n_outputs; o++)
    if (!strcmp(p->g->outputs[o].name, name)) return false; /* the part's boundary */
  if (p->nv == p->capv) return false;
  p->vname[p->nv] = name;
  p->vaxis[p->nv] = (signed char)ax;
  p->vset[p->nv] = p->n;
  p->work[p->nwork++] = p->nv++;
  return true;
}

static bool add_resize(struct plan *p, int init, int axis, bool contract) {
  for (int i = p->r0; i < p->nrs; i++)
    if (p->rs[i].init == init) return p->rs[i].axis == axis && p->rs[i].contract == contract;
  if (p->nrs == p->caprs) return false;
  p->rset[p->nrs] = p->n;
  p->rs[p->nrs++] = (struct resize){init, axis, contract};
  return true;
}

static int init_index(const struct pn_graph *g, const char *name) {
  if (!name || !name[0]) return -1;
  for (int i = 0; i < g->n_inits; i++)
    if (!strcmp(g->inits[i]->name, name)) return i;
  return -1;
}

/* Readers of initializer i (a resized weight must be read by one node only). */
static int init_readers(const struct pn_graph *g, int i) {
  int r = 0;
  for (int v = 0; v < g->n_nodes; v++)
    for (int k = 0; k < g->nodes[v]->n_in; k++) r += !strcmp(g->nodes[v]->in[k], g->inits[i]->name);
  return r;
}

/* Initializer init (-1: none), read by its node alone, resized on axis. */
static bool own(struct plan *p, int init, int axis, bool contract) {
  return init >= 0 && init_readers(p->g, init) == 1 && add_resize(p, init, axis, contract);
}

/* Node n's optional bias (input 2), a vector of the output channels, resized with them. */
static bool bias(struct plan *p, const struct pn_node *n) {
  int b = n->n_in > 2 ? init_index(p->g, n->in[2]) : -1;
  return b < 0 || (p->g->inits[b]->ndim == 1 && own(p, b, 0, false));
}

/* A constant operand of an elementwise node whose value has channel axis ax (rank nd): broadcast
** along the channels (nothing to do), or per channel (resized). */
static bool const_operand(struct plan *p, int init, int ax, int nd) {
  const struct pn_tensor *t = p->g->inits[init];
  if (t->ndim > nd) return false;
  int tax = ax - (nd - t->ndim);
  if (tax < 0 || t->dims[tax] == 1) return true; /* the same constant for every width */
  if (t->dtype != PN_DT_FLOAT) return false;
  for (int k = 0; k < t->ndim; k++)
    if (k != tax && t->dims[k] != 1) return false;
  return t->dims[tax] == p->c && own(p, init, tax, false);
}

/* A grouped Conv with as many output channels as input ones is channel-wise: its groups keep their
** size and their number follows the width. */
static bool take_grouped(struct plan *p, int v) {
  if (p->role[v] == R_PASS) return true;
  if (p->role[v] != R_NONE) return false;
  const struct pn_node *n = p->g->nodes[v];
  int w = n->n_in > 1 ? init_index(p->g, n->in[1]) : -1;
  int64_t grp = attr_int(n, "group", 1);
  if (w < 0 || grp < 2 || p->g->inits[w]->dims[0] != p->c || p->c % grp) return false;
  int64_t per = p->c / grp;
  if (p->g->inits[w]->dims[1] != per || (p->mult > 1 && p->mult != per)) return false; /* one group size a set */
  p->mult = per;
  p->role[v] = R_PASS;
  p->gset[p->nregroup] = p->n;
  p->regroup[p->nregroup++] = v;
  return own(p, w, 0, false) && bias(p, n) && add_value(p, n->in[0], 1) && add_value(p, n->out[0], 1);
}

/* Node v produces a set value on its output: as a weight operator (its output channels), or as a
** channel-wise operator whose data inputs join the set. */
static bool take_producer(struct plan *p, int v, int ax) {
  const struct pn_node *n = p->g->nodes[v];
  if (p->role[v] == R_PRODUCE || p->role[v] == R_PASS) return true;
  if (p->role[v] == R_CONTRACT) return false;
  const char *op = n->op_type;
  int w = n->n_in > 1 ? init_index(p->g, n->in[1]) : -1;
  if (!strcmp(op, "Conv") && ax == 1 && w >= 0 && attr_int(n, "group", 1) == 1) {
    if (!own(p, w, 0, false) || !bias(p, n)) return false;
    p->role[v] = R_PRODUCE;
    return true;
  }
  const struct pn_value *out = pn_graph_find_value(p->g, n->out[0]);
  bool last = out && ax == out->ndim - 1;
  bool mm = !strcmp(op, "MatMul"), gemm = !strcmp(op, "Gemm");
  if ((mm || gemm) && last && w >= 0 && p->g->inits[w]->ndim == 2) {
    if (!own(p, w, gemm && attr_int(n, "transB", 0) ? 0 : 1, false) || (gemm && !bias(p, n))) return false;
    p->role[v] = R_PRODUCE;
    return true;
  }
  if (!strcmp(op, "Conv")) return ax == 1 && take_grouped(p, v);
  /* channel-wise: its data input is in the set too (its other operands are checked when the node is
  ** taken as that input's reader) */
  if (pooling(op) && ax != 1) return false;
  if (!unary_channelwise(op) && !pooling(op) && !binary_elementwise(op) && strcmp(op, "BatchNormalization") &&
      strcmp(op, "LayerNormalization"))
    return false;
  int k = 0;
  while (k < n->n_in && (!n->in[k][0] || init_index(p->g, n->in[k]) >= 0)) k++;
  if (k == n->n_in) return false;
  p->role[v] = R_PASS;
  return add_value(p, n->in[k], ax);
}

/* Node v reads set value slot s at input j. */
static bool take_consumer(struct plan *p, int v, int j, int s) {
  const struct pn_node *n = p->g->nodes[v];
  const char *op = n->op_type;
  int ax = p->vaxis[s];
  const struct pn_value *vin = pn_graph_find_value(p->g, p->vname[s]);
  int nd = vin ? vin->ndim : -1;
  if (p->role[v] == R_PRODUCE) return false; /* a weight operator reading what it produces */
  if (!strcmp(op, "Conv") && j == 0 && ax == 1) {
    int w = n->n_in > 1 ? init_index(p->g, n->in[1]) : -1;
    if (w < 0 || init_readers(p->g, w) != 1) return false;
    if (attr_int(n, "group", 1) > 1) return take_grouped(p, v);
    if (p->role[v] == R_CONTRACT) return true;
    p->role[v] = R_CONTRACT;
    return add_resize(p, w, 1, true);
  }
  if ((!strcmp(op, "MatMul") || (!strcmp(op, "Gemm") && !attr_int(n, "transA", 0))) && j == 0 && ax == nd - 1) {
    int w = init_index(p->g, n->in[1]);
    if (w < 0 || p->g->inits[w]->ndim != 2 || init_readers(p->g, w) != 1) return false;
    if (p->role[v] == R_CONTRACT) return true;
    p->role[v] = R_CONTRACT;
    return add_resize(p, w, !strcmp(op, "Gemm") && attr_int(n, "transB", 0) ? 1 : 0, true);
  }
  if (p->role[v] == R_CONTRACT) return false;
  if (unary_channelwise(op) || (pooling(op) && ax == 1)) {
    if (!strcmp(op, "Softmax") || !strcmp(op, "PRelu")) {
      if (!strcmp(op, "PRelu")) {
        int sl = n->n_in > 1 ? init_index(p->g, n->in[1]) : -1;
        if (sl < 0 || !const_operand(p, sl, ax, nd)) return false;
      }
    } else if (n->n_in > 1) {
      for (int k = 1; k < n->n_in; k++) /* Clip's bounds: scalars */
        if (n->in[k][0]) {
          int c = init_index(p->g, n->in[k]);
          if (c < 0 || pn_tensor_numel(p->g->inits[c]) != 1) return false;
        }
    }
    p->role[v] = R_PASS;
    return add_value(p, n->out[0], ax);
  }
  if (binary_elementwise(op) && n->n_in == 2) {
    for (int k = 0; k < 2; k++) {
      int c = init_index(p->g, n->in[k]);
      if (c >= 0) {
        if (!const_operand(p, c, ax, nd)) return false;
      } else {
        const struct pn_value *o = pn_graph_find_value(p->g, n->in[k]);
        if (!o || o->ndim > nd) return false;
        int oax = ax - (nd - o->ndim);
        if (oax < 0 || o->dims[oax] == 1) continue; /* broadcast along the channels */
        if (o->ndim != nd || !add_value(p, n->in[k], ax)) return false; /* both in the set */
      }
    }
    p->role[v] = R_PASS;
    return add_value(p, n->out[0], ax);
  }
  if (!strcmp(op, "BatchNormalization") && j == 0 && ax == 1) {
    for (int k = 1; k < n->n_in && k < 5; k++) {
      int c = init_index(p->g, n->in[k]);
      if (c < 0 || p->g->inits[c]->ndim != 1 || !own(p, c, 0, false)) return false;
    }
    p->role[v] = R_PASS;
    return n->n_out == 1 && add_value(p, n->out[0], ax);
  }
  if (!strcmp(op, "LayerNormalization") && j == 0) {
    int64_t a = attr_int(n, "axis", -1);
    if ((a < 0 ? a + nd : a) != nd - 1 || ax != nd - 1) return false;
    for (int k = 1; k < n->n_in && k < 3; k++) {
      if (!n->in[k][0]) continue;
      int c = init_index(p->g, n->in[k]);
      if (c < 0 || p->g->inits[c]->ndim != 1 || !own(p, c, 0, false)) return false;
    }
    p->role[v] = R_PASS;
    return n->n_out == 1 && add_value(p, n->out[0], ax);
  }
  return false;
}

/* Grow the set from producer node v0; true when it closes (every value's producers and readers
** accounted for). */
static bool grow(struct plan *p, int v0) {
  const struct pn_node *n0 = p->g->nodes[v0];
  const struct pn_value *o = pn_graph_find_value(p->g, n0->out[0]);
  if (!o || o->ndim < 2) return false;
  int ax = !strcmp(n0->op_type, "Conv") ? 1 : o->ndim - 1;
  p->c = o->dims[ax];
  if (p->c < 2) return false;
  if (!take_producer(p, v0, ax) || p->role[v0] != R_PRODUCE) return false;
  if (!add_value(p, n0->out[0], ax)) return false;
  while (p->nwork > 0) {
    int s = p->work[--p->nwork];
    const char *name = p->vname[s];
    int pv = pn_graph_find_producer(p->g, name);
    if (pv < 0 || !take_producer(p, pv, p->vaxis[s])) return false; /* a boundary input */
    for (int v = 0; v < p->g->n_nodes; v++)
      for (int j = 0; j < p->g->nodes[v]->n_in; j++)
        if (!strcmp(p->g->nodes[v]->in[j], name) && !take_consumer(p, v, j, s)) return false;
  }
  return true;
}

/* New width for c: c * factor on a grid (multiples of 8 for a width that is one, of mult always),
** other than c. */
static int64_t new_width(int64_t c, int64_t mult, double factor) {
  int64_t base = c % 8 == 0 && c >= 16 ? 8 : 1, step = base;
  while (step % mult) step += base; /* the least common multiple */
  int64_t w = (int64_t)llround(c * factor / (double)step) * step;
  if (w < step) w = step;
  if (w == c) w = factor >= 1 ? c + step : c - step > 0 ? c - step : c + step;
  return w;
}

/* The set value name belongs to (its slot in *slot), or -1; among the closed sets. */
static int set_of(const struct plan *p, const char *name, int *slot) {
  for (int i = 0; i < p->v0; i++)
    if (!strcmp(p->vname[i], name)) {
      if (slot) *slot = i;
      return p->vset[i];
    }
  return -1;
}

/* The dims of value name with the sets still on at their new widths. */
static bool cur_dims(const struct plan *p, const char *name, int64_t *dims, int *nd) {
  const struct pn_value *v = pn_graph_find_value(p->g, name);
  if (!v) return false;
  *nd = v->ndim;
  memcpy(dims, v->dims, (size_t)(v->ndim > 0 ? v->ndim : 0) * sizeof *dims);
  int i, s = set_of(p, name, &i);
  if (s >= 0 && p->on[s]) dims[p->vaxis[i]] = p->w[s];
  return true;
}

/* Sets are dropped until every node changes its first input's shape or not as the part's node did
** (was[v]): a Conv from 64 to 64 channels rescaled to 64 -> 80 would add a shape change the real part
** does not have, which an adversary counts. Sets of one width take one new width, so the two sets
** around a 3x3 Conv from 64 to 64 channels move together. */
static void keep_changes(struct plan *p, const bool *was) {
  for (bool changed = true; changed;) {
    changed = false;
    for (int v = 0; v < p->g->n_nodes; v++) {
      const struct pn_node *n = p->g->nodes[v];
      if (n->n_in < 1 || n->n_out < 1) continue;
      int64_t a[PN_MAX_DIMS], b[PN_MAX_DIMS];
      int na, nb;
      if (!cur_dims(p, n->in[0], a, &na) || !cur_dims(p, n->out[0], b, &nb)) continue;
      bool now = na != nb || memcmp(a, b, (size_t)(na > 0 ? na : 0) * sizeof *a);
      if (now == was[v]) continue;
      int si = set_of(p, n->in[0], NULL), so = set_of(p, n->out[0], NULL);
      if (si >= 0) p->on[si] = false;
      if (so >= 0) p->on[so] = false;
      changed = true;
    }
  }
}

int pn_swidth_apply(struct pn_graph *d, struct pn_obf_wspec *fill, double factor,
                    const void *(*zeros)(void *ctx, size_t n), void *zctx) {
  int n = d->n_nodes, rc = 0;
  struct pn_ctx quiet = {0};
  d->n_vinfo = 0;
  if (pn_graph_infer_shapes(&quiet, d)) return 0;
  int capv = 4 * n + 8;
  /* a closed set's tensors are its nodes' alone, so closed sets and the one being grown hold at most
  ** twice the part's initializers */
  struct plan p = {.g = d, .capv = capv, .caprs = 2 * d->n_inits + 8};
  int *used = malloc(((size_t)n + 1) * sizeof *used); /* [node] the set it is in, or -1 */
  bool *was = calloc((size_t)n + 1, sizeof *was);
  p.role = calloc((size_t)n + 1, sizeof *p.role);
  p.vaxis = malloc((size_t)capv);
  p.vname = malloc((size_t)capv * sizeof *p.vname);
  p.vset = malloc((size_t)capv * sizeof *p.vset);
  p.work = malloc((size_t)capv * sizeof *p.work);
  p.rs = malloc((size_t)p.caprs * sizeof *p.rs);
  p.rset = malloc((size_t)p.caprs * sizeof *p.rset);
  p.regroup = malloc(((size_t)n + 1) * sizeof *p.regroup);
  p.gset = malloc(((size_t)n + 1) * sizeof *p.gset);
  p.w = malloc(((size_t)n + 1) * sizeof *p.w);
  p.on = malloc(((size_t)n + 1) * sizeof *p.on);
  if (!used || !was || !p.role || !p.vaxis || !p.vname || !p.vset || !p.work || !p.rs || !p.rset || !p.regroup ||
      !p.gset || !p.w || !p.on) {
    rc = -1;
    goto out;
  }
  for (int v = 0; v < n; v++) {
    was[v] = pn_obf_node_reshapes(d, d->nodes[v]);
    used[v] = -1;
  }
  /* the sets, disjoint */
  for (int v0 = 0; v0 < n; v0++) {
    if (used[v0] >= 0) continue;
    memset(p.role, 0, (size_t)n * sizeof *p.role);
    p.nwork = 0;
    p.mult = 1;
    bool ok = grow(&p, v0);
    for (int v = 0; v < n && ok; v++) ok = p.role[v] == R_NONE || used[v] < 0;
    for (int i = p.v0; i < p.nv && ok; i++) ok = set_of(&p, p.vname[i], NULL) < 0;
    if (!ok) { /* the set does not close, or meets a closed one: its entries go */
      p.nv = p.v0;
      p.nrs = p.r0;
      p.nregroup = p.g0;
      continue;
    }
    p.w[p.n] = new_width(p.c, p.mult, factor);
    p.on[p.n] = true;
    for (int v = 0; v < n; v++)
      if (p.role[v] != R_NONE) used[v] = p.n;
    p.n++;
    p.v0 = p.nv;
    p.r0 = p.nrs;
    p.g0 = p.nregroup;
  }
  keep_changes(&p, was);
  for (int i = 0; i < p.nrs; i++) {
    int s = p.rset[i];
    if (!p.on[s]) continue;
    struct pn_tensor *t = d->inits[p.rs[i].init];
    int64_t old = pn_tensor_numel(t), c = t->dims[p.rs[i].axis], w = p.w[s];
    t->dims[p.rs[i].axis] = w;
    int64_t nn = pn_tensor_numel(t);
    const void *z = zeros(zctx, pn_tensor_nbytes(t));
    if (!z) {
      rc = -1;
      goto out;
    }
    t->data = (void *)z;
    for (int q = 0; q < fill->n; q++) {
      if (fill->init[q] != p.rs[i].init) continue;
      double sd = fill->sd[q], mean = fill->mean[q];
      if (p.rs[i].contract) sd *= sqrt((double)c / (double)w);
      /* a mean at the level of sampling noise keeps its size in units of sd / sqrt(n) */
      if (fill->mode[q] == 1 && fill->sd[q] > 0 && fabs(mean) * sqrt((double)old) / fill->sd[q] <= 4.0)
        mean *= (sd / fill->sd[q]) * sqrt((double)old / (double)nn);
      fill->sd[q] = (float)sd;
      fill->mean[q] = (float)mean;
    }
  }
  for (int i = 0; i < p.nregroup; i++) {
    if (!p.on[p.gset[i]]) continue;
    struct pn_node *nd = d->nodes[p.regroup[i]];
    const struct pn_tensor *wt = pn_graph_find_init(d, nd->in[1]); /* resized: [w, per, ...] */
    for (int a = 0; a < nd->n_attr && wt; a++)
      if (!strcmp(nd->attr[a].name, "group")) nd->attr[a].i = wt->dims[0] / wt->dims[1];
  }
  int resized = 0;
  for (int s = 0; s < p.n; s++) resized += p.on[s];
  d->n_vinfo = 0;
  rc = resized && pn_graph_validate(&quiet, d) ? -2 : resized;
out:
  free(used);
  free(was);
  free(p.role);
  free(p.vaxis);
  free(p.vname);
  free(p.vset);
  free(p.work);
  free(p.rs);
  free(p.rset);
  free(p.regroup);
  free(p.gset);
  free(p.w);
  free(p.on);
  return rc;
}
