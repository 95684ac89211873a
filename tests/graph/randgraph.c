/* randgraph.c - seeded random valid ONNX graphs (see randgraph.h).
**
** The generator keeps a pool of live float values whose dim 0 is the batch (every pattern keeps
** the batch on axis 0, so a graph drawn at one batch runs at any batch when the batch dim is
** symbolic), picks a pattern that fits a value of the pool, appends its nodes and adds the results
** to the pool. It tracks every shape itself; the executor's own shape inference must agree with
** it (a graph that fails to validate is a failure of the test, not a skipped case). */
#include "randgraph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/prg.h"
#include "util/status.h"

#define POOL_MAX 96
#define WEIGHTS_MAX 128
/* elements per image of any value: graphs stay fast to run (large ones reach the threaded kernels) */
#define MAX_PER_IMAGE 6144
#define MAX_PER_IMAGE_LARGE 65536

struct val {
  const char *name;
  int ndim;
  int64_t d[PN_MAX_DIMS];       /* d[0] is the batch */
  int uses;
  bool is_output;
  bool no_pair;                 /* never the second operand of a binary op (see softmax) */
};

struct wt {                     /* a weight made earlier, for sharing */
  const char *name;
  int ndim;
  int64_t d[PN_MAX_DIMS];
  int kind;
};

struct gen {
  struct pn_graph *g;
  struct rg_graph *rg;
  struct pn_prg prg;
  int64_t opset, batch;
  struct val pool[POOL_MAX];
  int n_pool;
  struct wt w[WEIGHTS_MAX];
  int n_w;
  int counter;
  bool large;                   /* a bigger graph: images and channels that reach the threaded kernels */
  int64_t max_per_image;
  bool fail;                    /* out of memory, or a pattern could not be built */
  int fail_line;                /* where (for the message) */
};

#define FAIL(s) ((s)->fail = true, (s)->fail_line = (s)->fail_line ? (s)->fail_line : __LINE__)

/* ---- randomness ---- */

static int64_t rnd(struct gen *s, int64_t n) { return n > 1 ? (int64_t)pn_prg_uniform(&s->prg, (uint64_t)n) : 0; }
static int64_t rrange(struct gen *s, int64_t lo, int64_t hi) { return lo + rnd(s, hi - lo + 1); }
static bool chance(struct gen *s, double p) { return pn_prg_double(&s->prg) < p; }
static float frange(struct gen *s, double lo, double hi) { return (float)(lo + (hi - lo) * pn_prg_double(&s->prg)); }

static void note(struct gen *s, const char *what) {
  size_t n = strlen(s->rg->desc);
  if (n + strlen(what) + 2 < sizeof s->rg->desc) snprintf(s->rg->desc + n, sizeof s->rg->desc - n, " %s", what);
}

/* ---- names, nodes, attributes ---- */

static const char *fresh(struct gen *s, const char *prefix) {
  const char *n = pn_arena_printf(s->g->arena, "%s_%d", prefix, s->counter++);
  if (!n) FAIL(s);
  return n ? n : "oom";
}

/* A node with one output (named out) or n_out outputs; node names are sometimes empty, as some
** exporters leave them. */
static struct pn_node *add_node(struct gen *s, const char *op, int n_in, const char *const *in, int n_out,
                                const char *const *out) {
  const char *nm = chance(s, 0.2) ? "" : pn_arena_printf(s->g->arena, "n%d_%s", s->counter++, op);
  struct pn_node *n = pn_graph_add_node(s->g, op, nm ? nm : "", n_in, in, n_out, out);
  if (!n) FAIL(s);
  return n;
}

static struct pn_node *node1(struct gen *s, const char *op, const char *out, const char *a, const char *b,
                             const char *c) {
  const char *in[3] = {a, b, c}, *o[1] = {out};
  return add_node(s, op, c ? 3 : b ? 2 : a ? 1 : 0, in, 1, o);
}

static void set_i(struct gen *s, struct pn_node *n, const char *k, int64_t v) {
  if (n && pn_node_set_int(s->g, n, k, v)) FAIL(s);
}
static void set_f(struct gen *s, struct pn_node *n, const char *k, float v) {
  if (n && pn_node_set_float(s->g, n, k, v)) FAIL(s);
}
static void set_is(struct gen *s, struct pn_node *n, const char *k, int cnt, const int64_t *v) {
  if (n && pn_node_set_ints(s->g, n, k, cnt, v)) FAIL(s);
}
static void set_str(struct gen *s, struct pn_node *n, const char *k, const char *v) {
  if (n && pn_node_set_string(s->g, n, k, v)) FAIL(s);
}

/* ---- the pool ---- */

static struct val *push(struct gen *s, const char *name, int ndim, const int64_t *d) {
  if (s->n_pool >= POOL_MAX) {
    FAIL(s);
    return &s->pool[0];
  }
  struct val *v = &s->pool[s->n_pool++];
  memset(v, 0, sizeof *v);
  v->name = name;
  v->ndim = ndim;
  memcpy(v->d, d, (size_t)ndim * sizeof *d);
  return v;
}

static int64_t per_image(const struct val *v) {
  int64_t n = 1;
  for (int i = 1; i < v->ndim; i++) n *= v->d[i];
  return n;
}

/* A live value of rank nd (any rank when nd = 0), preferring recent and unread ones; NULL if none. */
static struct val *pick(struct gen *s, int nd) {
  int cand[POOL_MAX], n = 0;
  for (int i = 0; i < s->n_pool; i++)
    if (nd == 0 || s->pool[i].ndim == nd) cand[n++] = i;
  if (!n) return NULL;
  for (int tries = 0; tries < 4; tries++) {
    /* the newest candidates first: half the time the last one */
    int k = chance(s, 0.5) ? n - 1 : (int)rnd(s, n);
    struct val *v = &s->pool[cand[k]];
    if (v->uses == 0 || chance(s, 0.25)) return v;   /* sometimes a value read twice */
  }
  return &s->pool[cand[n - 1]];
}

static const char *use(struct val *v) {
  v->uses++;
  return v->name;
}

static void mark_output(struct gen *s, const char *name, int ndim, const int64_t *d) {
  for (int i = 0; i < s->g->n_outputs; i++)
    if (!strcmp(s->g->outputs[i].name, name)) return;
  int64_t dims[PN_MAX_DIMS];
  for (int i = 0; i < ndim; i++) dims[i] = d[i];
  /* declared without a shape, with one, or with the batch unknown */
  int r = (int)rnd(s, 3);
  if ((r == 2 || s->rg->symbolic) && ndim > 0) dims[0] = -1;
  if (!pn_graph_add_output(s->g, name, PN_DT_FLOAT, r == 0 ? -1 : ndim, r == 0 ? NULL : dims)) FAIL(s);
}

/* Now and then an intermediate value is also a graph output (it must then survive fusion). */
static struct val *result(struct gen *s, const char *name, int ndim, const int64_t *d) {
  struct val *v = push(s, name, ndim, d);
  if (chance(s, 0.08)) {
    mark_output(s, name, ndim, d);
    v->is_output = true;
  }
  return v;
}

/* ---- constants: every way a weight reaches a node ---- */

enum wkind { W_NORMAL, W_POSITIVE, W_UNIT };   /* N(0, std^2); [0.5, 1.5]; [lo, hi] given */

static void fill(struct gen *s, struct pn_tensor *t, int kind, double a, double b) {
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    double v = kind == W_NORMAL ? a * pn_prg_normal(&s->prg) : kind == W_POSITIVE ? 0.5 + pn_prg_double(&s->prg)
                                                                                 : a + (b - a) * pn_prg_double(&s->prg);
    if (t->dtype == PN_DT_DOUBLE) ((double *)t->data)[i] = v;
    else ((float *)t->data)[i] = (float)v;
  }
}

static const char *const_node(struct gen *s, const char *name, const struct pn_tensor *t) {
  const char *o[1] = {name};
  struct pn_node *n = add_node(s, "Constant", 0, NULL, 1, o);
  if (n && pn_node_set_tensor(s->g, n, "value", t)) FAIL(s);
  return name;
}

/* t (not consumed) as an initializer or a Constant node named name, at random. */
static void either(struct gen *s, const char *name, const struct pn_tensor *t) {
  if (!t) {
    FAIL(s);
  } else if (chance(s, 0.5)) {
    if (!pn_graph_add_init(s->g, t, name)) FAIL(s);
  } else {
    const_node(s, name, t);
  }
}

/* An int64 constant (shapes, axes, pads, starts) as an initializer or a Constant node. */
static const char *ints_const(struct gen *s, const char *prefix, int n, const int64_t *v) {
  const char *name = fresh(s, prefix);
  int64_t d[1] = {n};
  struct pn_tensor *t = pn_tensor_new(PN_DT_INT64, 1, d);
  if (!t) {
    FAIL(s);
    return name;
  }
  memcpy(t->data, v, (size_t)n * sizeof *v);
  either(s, name, t);
  pn_tensor_free(t);
  return name;
}

/* A float scalar constant (Clip bounds, Mul factors). */
static const char *scalar_const(struct gen *s, const char *prefix, float v, bool rank0) {
  const char *name = fresh(s, prefix);
  int64_t d[1] = {1};
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, rank0 ? 0 : 1, d);
  if (!t) {
    FAIL(s);
    return name;
  }
  *(float *)t->data = v;
  either(s, name, t);
  pn_tensor_free(t);
  return name;
}

/* Squeeze, Unsqueeze or ReduceSum with its axes: an input from opset 13, an attribute before. */
static struct pn_node *axes_op(struct gen *s, const char *op, const char *y, const char *x, int n,
                               const int64_t *axes) {
  if (s->opset >= 13) return node1(s, op, y, x, ints_const(s, "axes", n, axes), NULL);
  struct pn_node *nd = node1(s, op, y, x, NULL, NULL);
  set_is(s, nd, "axes", n, axes);
  return nd;
}

/* A float weight of the given shape and distribution, arriving one of the ways of randgraph.h. */
static const char *weight(struct gen *s, const char *prefix, int nd, const int64_t *d, int kind, double a, double b) {
  /* share an earlier weight of the same shape and kind (one tensor read by two nodes) */
  if (chance(s, 0.06))
    for (int i = s->n_w - 1; i >= 0; i--)
      if (s->w[i].ndim == nd && s->w[i].kind == kind && !memcmp(s->w[i].d, d, (size_t)nd * sizeof *d)) {
        note(s, "shared-w");
        return s->w[i].name;
      }
  const char *name = fresh(s, prefix);
  int r = (int)rnd(s, 100);
  struct pn_tensor *t = NULL;
  if (r < 40) {                                   /* initializer */
    if (!(t = pn_graph_new_init(s->g, name, PN_DT_FLOAT, nd, d))) FAIL(s);
    else fill(s, t, kind, a, b);
    t = NULL;
  } else if (r < 62) {                            /* Constant node: value, or value_floats for 1-D */
    if (nd == 1 && chance(s, 0.3)) {
      float *v = malloc((size_t)(d[0] + 1) * sizeof *v);
      struct pn_tensor tmp = {.dtype = PN_DT_FLOAT, .ndim = 1, .dims = {d[0]}, .data = v};
      if (!v) FAIL(s);
      else {
        fill(s, &tmp, kind, a, b);
        const char *o[1] = {name};
        struct pn_node *n = add_node(s, "Constant", 0, NULL, 1, o);
        if (n && pn_node_set_floats(s->g, n, "value_floats", d[0], v)) FAIL(s);
        note(s, "w-floats");
      }
      free(v);
    } else {
      if ((t = pn_tensor_new(PN_DT_FLOAT, nd, d))) {
        fill(s, t, kind, a, b);
        const_node(s, name, t);
      }
      note(s, "w-const");
    }
  } else if (r < 70 && nd >= 2) {                 /* Transpose of a constant */
    int64_t perm[PN_MAX_DIMS], sd[PN_MAX_DIMS];
    for (int i = 0; i < nd; i++) perm[i] = i;
    for (int i = nd - 1; i > 0; i--) {
      int j = (int)rnd(s, i + 1);
      int64_t x = perm[i];
      perm[i] = perm[j];
      perm[j] = x;
    }
    /* Transpose: output dim k is input dim perm[k], so the source has d[k] at perm[k] */
    for (int k = 0; k < nd; k++) sd[perm[k]] = d[k];
    const char *src = fresh(s, "wsrc");
    if ((t = pn_tensor_new(PN_DT_FLOAT, nd, sd))) {
      fill(s, t, kind, a, b);
      either(s, src, t);
    }
    struct pn_node *n = node1(s, "Transpose", name, src, NULL, NULL);
    set_is(s, n, "perm", nd, perm);
    note(s, "w-transposed");
  } else if (r < 77) {                            /* Reshape of a flat constant */
    int64_t numel = pn_shape_numel(nd, d);
    int64_t fd[1] = {numel};
    const char *src = fresh(s, "wflat");
    if ((t = pn_tensor_new(PN_DT_FLOAT, 1, fd))) {
      fill(s, t, kind, a, b);
      either(s, src, t);
    }
    node1(s, "Reshape", name, src, ints_const(s, "wshape", nd, d), NULL);
    note(s, "w-reshaped");
  } else if (r < 81) {                            /* Cast of a float64 or float16 constant */
    const char *src = fresh(s, "wcast");
    bool half = chance(s, 0.5);   /* float16 weights cast up, as fp16 converters leave them */
    if ((t = pn_tensor_new(half ? PN_DT_FLOAT : PN_DT_DOUBLE, nd, d))) {
      fill(s, t, kind, a, b);
      if (half) {
        struct pn_tensor *h = pn_tensor_new(PN_DT_FLOAT16, nd, d);
        if (h) pn_tensor_float_to_half(t, h);
        pn_tensor_free(t);
        t = h;
      }
      either(s, src, t);
    }
    struct pn_node *n = node1(s, "Cast", name, src, NULL, NULL);
    set_i(s, n, "to", PN_DT_FLOAT);
    note(s, half ? "w-half" : "w-cast");
  } else if (r < 90 && kind != W_POSITIVE && s->rg->n_in < RG_MAX_INPUTS) {   /* a runtime input */
    if (!pn_graph_add_input(s->g, name, PN_DT_FLOAT, nd, d)) FAIL(s);
    s->rg->batched[s->rg->n_in] = false;
    /* uniform on [-c, c] has the variance of N(0, a^2) for c = a*sqrt(3); [lo,hi] given: max */
    s->rg->scale[s->rg->n_in++] = kind == W_NORMAL ? (float)(a * sqrt(3.0)) : (float)fmax(fabs(a), fabs(b));
    note(s, "w-input");
  } else {                                        /* an initializer also listed as a graph input */
    if (!(t = pn_graph_new_init(s->g, name, PN_DT_FLOAT, nd, d))) FAIL(s);
    else fill(s, t, kind, a, b);
    t = NULL;
    if (!pn_graph_add_input(s->g, name, PN_DT_FLOAT, nd, d)) FAIL(s);
    note(s, "w-init-input");
  }
  pn_tensor_free(t);
  if (chance(s, 0.03)) {
    mark_output(s, name, nd, d);
    note(s, "w-output");
  }
  if (s->n_w < WEIGHTS_MAX) {
    struct wt *w = &s->w[s->n_w++];
    w->name = name;
    w->ndim = nd;
    memcpy(w->d, d, (size_t)nd * sizeof *d);
    w->kind = kind;
  }
  return name;
}

static const char *normal_w(struct gen *s, const char *prefix, int nd, const int64_t *d, double std) {
  return weight(s, prefix, nd, d, W_NORMAL, std, 0);
}

/* ---- patterns ---- */

/* An activation after value v (same shape); returns the new value. */
static struct val *activation(struct gen *s, struct val *v) {
  const char *x = use(v), *y = fresh(s, "act");
  int nd = v->ndim;
  int64_t d[PN_MAX_DIMS];
  memcpy(d, v->d, sizeof d);
  int r = (int)rnd(s, 100);
  struct pn_node *n;
  if (r < 30) {
    node1(s, "Relu", y, x, NULL, NULL);
    note(s, "relu");
  } else if (r < 45) {
    /* Clip: bounds as inputs (opset 11+), each present, omitted ("") or left off */
    float lo = frange(s, -1.0, 0.0), hi = frange(s, 0.1, 6.0);
    int form = (int)rnd(s, 4);
    const char *mn = form == 1 ? "" : scalar_const(s, "clipmin", lo, chance(s, 0.8));
    if (form == 3) node1(s, "Clip", y, x, mn, NULL);
    else node1(s, "Clip", y, x, mn, form == 2 ? "" : scalar_const(s, "clipmax", hi, true));
    note(s, "clip");
  } else if (r < 55) {
    n = node1(s, "LeakyRelu", y, x, NULL, NULL);
    if (chance(s, 0.7)) set_f(s, n, "alpha", frange(s, 0.01, 0.3));
    note(s, "leakyrelu");
  } else if (r < 63) {
    n = node1(s, "HardSigmoid", y, x, NULL, NULL);
    if (chance(s, 0.5)) set_f(s, n, "alpha", 1.0f / 6.0f);
    note(s, "hardsigmoid");
  } else if (r < 71 && s->opset >= 14) {
    node1(s, "HardSwish", y, x, NULL, NULL);
    note(s, "hardswish");
  } else if (r < 75) {
    node1(s, "Sigmoid", y, x, NULL, NULL);
  } else if (r < 79) {
    node1(s, "Tanh", y, x, NULL, NULL);
  } else if (r < 83) {
    n = node1(s, "Elu", y, x, NULL, NULL);
    set_f(s, n, "alpha", frange(s, 0.5, 1.5));
  } else if (r < 87 && nd >= 2) {
    /* PRelu with a slope per channel (broadcast as [C,1,...]) or one slope */
    int64_t sd[PN_MAX_DIMS];
    int snd = 1;
    sd[0] = 1;
    if (chance(s, 0.7)) {
      snd = nd - 1;
      sd[0] = d[1];
      for (int i = 1; i < snd; i++) sd[i] = 1;
    }
    node1(s, "PRelu", y, x, weight(s, "slope", snd, sd, W_UNIT, 0.0, 0.3), NULL);
    note(s, "prelu");
  } else if (r < 94) {
    /* SiLU as exported: x * Sigmoid(x), x read twice */
    const char *sg = fresh(s, "sig");
    node1(s, "Sigmoid", sg, x, NULL, NULL);
    if (chance(s, 0.5)) node1(s, "Mul", y, x, sg, NULL);
    else node1(s, "Mul", y, sg, x, NULL);
    note(s, "silu");
  } else {
    /* GELU as exported by torch (erf form): x * 0.5 * (1 + erf(x / sqrt 2)) */
    const char *a = fresh(s, "g"), *b = fresh(s, "g"), *c = fresh(s, "g"), *e = fresh(s, "g");
    node1(s, "Mul", a, x, scalar_const(s, "rsqrt2", 0.70710678f, true), NULL);
    node1(s, "Erf", b, a, NULL, NULL);
    node1(s, "Add", c, b, scalar_const(s, "one", 1.0f, true), NULL);
    node1(s, "Mul", e, x, c, NULL);
    node1(s, "Mul", y, e, scalar_const(s, "half", 0.5f, true), NULL);
    note(s, "gelu");
  }
  return result(s, y, nd, d);
}

/* Inference BatchNormalization over dim 1 of v. */
static struct val *batchnorm(struct gen *s, struct val *v) {
  int64_t c[1] = {v->d[1]};
  const char *x = use(v), *y = fresh(s, "bn");
  const char *sc = weight(s, "bn_s", 1, c, W_UNIT, -1.5, 1.5), *bi = weight(s, "bn_b", 1, c, W_UNIT, -0.5, 0.5);
  const char *mu = weight(s, "bn_m", 1, c, W_UNIT, -0.5, 0.5), *var = weight(s, "bn_v", 1, c, W_POSITIVE, 0, 0);
  const char *in[5] = {x, sc, bi, mu, var}, *o[1] = {y};
  struct pn_node *n = add_node(s, "BatchNormalization", 5, in, 1, o);
  if (chance(s, 0.5)) set_f(s, n, "epsilon", chance(s, 0.5) ? 1e-3f : 1e-5f);
  if (s->opset >= 14 && chance(s, 0.2)) set_i(s, n, "training_mode", 0);
  note(s, "bn");
  return result(s, y, v->ndim, v->d);
}

/* Output size of one spatial dim (ONNX Conv rules). */
static int64_t conv_out(int64_t in, int64_t k, int64_t st, int64_t dil, int64_t pb, int64_t pe, const char *ap) {
  int64_t ke = dil * (k - 1) + 1;
  if (ap && strcmp(ap, "VALID")) return (in + st - 1) / st;
  if (ap) return in >= ke ? (in - ke) / st + 1 : 0;
  int64_t span = in + pb + pe - ke;
  return span >= 0 ? span / st + 1 : 0;
}

/* A Conv on v ([N,C,L] or [N,C,H,W]); same = keep the spatial size and channel count (for
** residuals). */
static struct val *conv(struct gen *s, struct val *v, bool same) {
  int nsp = v->ndim - 2;
  int64_t cin = v->d[1], cout, group, k[2], st[2], dil[2], pads[4], od[4] = {v->d[0], 0, 0, 0};
  const char *ap = NULL;
  int r = (int)rnd(s, 10);
  if (r < 2 && cin > 1) {                      /* depthwise, multiplier 1 or 2 */
    group = cin;
    cout = cin * (same || chance(s, 0.7) ? 1 : 2);
    note(s, "dwconv");
  } else if (r < 3 && cin % 2 == 0 && cin > 2) {
    group = 2;
    cout = same ? cin : 2 * rrange(s, 1, 6);
    note(s, "gconv");
  } else {
    group = 1;
    cout = same ? cin : rrange(s, 1, s->large ? 40 : 16);
  }
  for (int i = 0; i < nsp; i++) {
    int64_t in = v->d[2 + i];
    k[i] = in >= 3 && chance(s, 0.6) ? (in >= 5 && chance(s, 0.2) ? 5 : 3) : 1;
    st[i] = !same && chance(s, 0.25) ? 2 : 1;
    dil[i] = k[i] > 1 && chance(s, 0.15) ? 2 : 1;
    int64_t ke = dil[i] * (k[i] - 1) + 1;
    if (same) {
      pads[i] = pads[i + nsp] = (ke - 1) / 2;
    } else {
      pads[i] = rnd(s, ke);
      pads[i + nsp] = rnd(s, ke);
    }
  }
  if (!same && chance(s, 0.15)) ap = chance(s, 0.4) ? "VALID" : chance(s, 0.5) ? "SAME_UPPER" : "SAME_LOWER";
  bool ok = true;
  for (int i = 0; i < nsp; i++) {
    od[2 + i] = conv_out(v->d[2 + i], k[i], st[i], dil[i], pads[i], pads[i + nsp], ap);
    ok = ok && od[2 + i] >= 1 && !(ap && strcmp(ap, "VALID") && dil[i] > 1);
  }
  if (!ok) {                                  /* fall back to a 1x1 convolution */
    for (int i = 0; i < nsp; i++) {
      k[i] = st[i] = dil[i] = 1;
      pads[i] = pads[i + nsp] = 0;
      od[2 + i] = v->d[2 + i];
    }
    ap = NULL;
  }
  int64_t pout = 1, taps = 1;
  for (int i = 0; i < nsp; i++) {
    pout *= od[2 + i];
    taps *= k[i];
  }
  while (cout * pout > s->max_per_image && cout > group && !same) cout -= group;
  od[1] = cout;
  int64_t wd[4] = {cout, cin / group, k[0], k[1]};
  double std = 1.2 / sqrt((double)(wd[1] * taps));
  const char *x = use(v), *y = fresh(s, "conv");
  const char *W = normal_w(s, "w", 2 + nsp, wd, std);
  int64_t bd[1] = {cout};
  int br = (int)rnd(s, 10);
  struct pn_node *n;
  if (br < 5) n = node1(s, "Conv", y, x, W, weight(s, "b", 1, bd, W_UNIT, -0.3, 0.3));
  else if (br < 6) n = node1(s, "Conv", y, x, W, "");
  else n = node1(s, "Conv", y, x, W, NULL);
  bool any_st = false, any_dil = false, any_pad = false;
  for (int i = 0; i < nsp; i++) {
    any_st |= st[i] > 1;
    any_dil |= dil[i] > 1;
    any_pad |= pads[i] || pads[i + nsp];
  }
  if (group > 1) set_i(s, n, "group", group);
  if (chance(s, 0.6)) set_is(s, n, "kernel_shape", nsp, k);
  if (any_st || chance(s, 0.3)) set_is(s, n, "strides", nsp, st);
  if (any_dil || chance(s, 0.2)) set_is(s, n, "dilations", nsp, dil);
  if (ap) set_str(s, n, "auto_pad", ap);
  else if (any_pad || chance(s, 0.3)) set_is(s, n, "pads", 2 * nsp, pads);
  note(s, nsp == 1 ? "conv1d" : "conv");
  return result(s, y, v->ndim, od);
}

/* Conv [-> BatchNormalization] [-> activation (with probability p_act)]. */
static struct val *conv_block_p(struct gen *s, struct val *v, bool same, double p_act) {
  struct val *y = conv(s, v, same);
  if (chance(s, 0.5)) y = batchnorm(s, y);
  if (chance(s, p_act)) y = activation(s, y);
  return y;
}
static struct val *conv_block(struct gen *s, struct val *v, bool same) {
  return conv_block_p(s, v, same, 0.7);
}

static struct val *se_block(struct gen *s, struct val *v) {
  int64_t c = v->d[1], r = c / 4 > 0 ? c / 4 : 1, n = v->d[0];
  const char *x = use(v), *p = fresh(s, "se_pool");
  if (chance(s, 0.6)) {
    node1(s, "GlobalAveragePool", p, x, NULL, NULL);
  } else {
    struct pn_node *m = node1(s, "ReduceMean", p, x, NULL, NULL);
    int64_t ax[2] = {2, 3};
    set_is(s, m, "axes", 2, ax);
    set_i(s, m, "keepdims", 1);
  }
  int64_t pd[4] = {n, c, 1, 1};
  struct val *pv = push(s, p, 4, pd);
  const char *gate;
  if (chance(s, 0.6)) {                         /* 1x1 convolutions (torchvision, paddle) */
    int64_t w1[4] = {r, c, 1, 1}, w2[4] = {c, r, 1, 1}, b1[1] = {r}, b2[1] = {c};
    const char *h1 = fresh(s, "se_c1"), *a1 = fresh(s, "se_r"), *h2 = fresh(s, "se_c2");
    node1(s, "Conv", h1, use(pv), normal_w(s, "se_w1", 4, w1, 1.2 / sqrt((double)c)),
          weight(s, "se_b1", 1, b1, W_UNIT, -0.3, 0.3));
    node1(s, "Relu", a1, h1, NULL, NULL);
    node1(s, "Conv", h2, a1, normal_w(s, "se_w2", 4, w2, 1.2 / sqrt((double)r)),
          weight(s, "se_b2", 1, b2, W_UNIT, -0.3, 0.3));
    gate = h2;
  } else {                                      /* Flatten -> Gemm -> Relu -> Gemm -> Reshape */
    int64_t w1[2] = {c, r}, w2[2] = {r, c}, b1[1] = {r}, b2[1] = {c};
    const char *f = fresh(s, "se_flat"), *h1 = fresh(s, "se_g1"), *a1 = fresh(s, "se_r"), *h2 = fresh(s, "se_g2");
    const char *h3 = fresh(s, "se_back");
    struct pn_node *fl = node1(s, "Flatten", f, use(pv), NULL, NULL);
    set_i(s, fl, "axis", 1);
    node1(s, "Gemm", h1, f, normal_w(s, "se_w1", 2, w1, 1.2 / sqrt((double)c)), weight(s, "se_b1", 1, b1, W_UNIT, -0.3, 0.3));
    node1(s, "Relu", a1, h1, NULL, NULL);
    node1(s, "Gemm", h2, a1, normal_w(s, "se_w2", 2, w2, 1.2 / sqrt((double)r)), weight(s, "se_b2", 1, b2, W_UNIT, -0.3, 0.3));
    int64_t shp[4] = {0, c, 1, 1};
    node1(s, "Reshape", h3, h2, ints_const(s, "se_shape", 4, shp), NULL);
    gate = h3;
  }
  const char *sg = fresh(s, "se_gate"), *y = fresh(s, "se");
  if (chance(s, 0.5)) node1(s, "Sigmoid", sg, gate, NULL, NULL);
  else node1(s, "HardSigmoid", sg, gate, NULL, NULL);
  if (chance(s, 0.5)) node1(s, "Mul", y, x, sg, NULL);
  else node1(s, "Mul", y, sg, x, NULL);
  note(s, "se");
  return result(s, y, 4, v->d);
}

/* [Conv block ->] Conv [-> BatchNormalization] [-> activation] -> Add(shortcut v) [-> activation]:
** the last Conv mostly feeds the Add itself, as in ResNets (the executor's Conv -> Add fusion). */
static struct val *residual(struct gen *s, struct val *v) {
  struct val *b = v;
  if (chance(s, 0.4)) b = conv_block(s, b, true);
  b = conv_block_p(s, b, true, 0.3);
  const char *y = fresh(s, "res");
  if (chance(s, 0.5)) node1(s, "Add", y, use(v), use(b), NULL);
  else node1(s, "Add", y, use(b), use(v), NULL);
  note(s, "residual");
  struct val *out = result(s, y, v->ndim, v->d);
  return chance(s, 0.6) ? activation(s, out) : out;
}

static struct val *pool(struct gen *s, struct val *v) {
  int nsp = v->ndim - 2;
  const char *x = use(v), *y = fresh(s, "pool");
  int64_t od[4] = {v->d[0], v->d[1], 1, 1};
  int r = (int)rnd(s, 10);
  if (r < 2) {
    node1(s, r ? "GlobalMaxPool" : "GlobalAveragePool", y, x, NULL, NULL);
    note(s, "gpool");
    return result(s, y, v->ndim, od);
  }
  bool maxp = r < 6;
  int64_t k[2], st[2], dil[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
  bool ceil_mode = false, any_dil = false;
  for (int i = 0; i < nsp; i++) {
    int64_t in = v->d[2 + i];
    k[i] = in >= 3 && chance(s, 0.5) ? 3 : in >= 2 ? 2 : 1;
    st[i] = chance(s, 0.6) ? k[i] : 1;
    /* MaxPool dilations (opset 10+) when the dilated window still fits */
    if (maxp && s->opset >= 10 && k[i] > 1 && in >= 2 * k[i] - 1 && chance(s, 0.15)) dil[i] = 2;
    any_dil |= dil[i] > 1;
  }
  if (chance(s, 0.4)) {
    for (int i = 0; i < 2 * nsp; i++) pads[i] = rnd(s, k[i % nsp]);   /* pads below the kernel size */
  } else if (s->opset >= 10 && chance(s, 0.4)) {
    ceil_mode = true;                      /* without pads: no window starts in the padding */
  }
  for (int i = 0; i < nsp; i++) {
    int64_t span = v->d[2 + i] + pads[i] + pads[i + nsp] - (dil[i] * (k[i] - 1) + 1);
    od[2 + i] = (ceil_mode ? (span + st[i] - 1) / st[i] : span / st[i]) + 1;
  }
  struct pn_node *n = node1(s, maxp ? "MaxPool" : "AveragePool", y, x, NULL, NULL);
  set_is(s, n, "kernel_shape", nsp, k);
  set_is(s, n, "strides", nsp, st);
  if (pads[0] || pads[1] || pads[2] || pads[3]) set_is(s, n, "pads", 2 * nsp, pads);
  if (any_dil) set_is(s, n, "dilations", nsp, dil);
  if (ceil_mode) set_i(s, n, "ceil_mode", 1);
  if (!maxp && chance(s, 0.5)) set_i(s, n, "count_include_pad", 1);
  note(s, maxp ? "maxpool" : "avgpool");
  return result(s, y, v->ndim, od);
}

/* Concat two values equal but on one axis (axis 1 of 4-D, or the last of 3-D / 2-D). */
static struct val *concat(struct gen *s, struct val *v) {
  int nd = v->ndim, axis = nd == 4 ? 1 : nd - 1;
  struct val *o = NULL;
  for (int i = s->n_pool - 1; i >= 0 && !o; i--) {
    struct val *c = &s->pool[i];
    if (c == v || c->ndim != nd) continue;
    bool ok = true;
    for (int k = 0; k < nd; k++) ok = ok && (k == axis || c->d[k] == v->d[k]);
    if (ok && chance(s, 0.7)) o = c;
  }
  if (!o) o = v;                                     /* Concat(x, x): one value read twice */
  int64_t d[PN_MAX_DIMS];
  memcpy(d, v->d, sizeof d);
  d[axis] = v->d[axis] + o->d[axis];
  if (per_image(v) + per_image(o) > s->max_per_image) return v;
  const char *y = fresh(s, "cat");
  struct val *parts[3] = {v, o, NULL};
  int np = 2;
  if (chance(s, 0.2) && per_image(v) * 2 + per_image(o) <= s->max_per_image) {
    parts[np++] = v;
    d[axis] += v->d[axis];
  }
  const char *in[3];
  for (int i = 0; i < np; i++) in[i] = use(parts[i]);
  const char *out[1] = {y};
  struct pn_node *n = add_node(s, "Concat", np, in, 1, out);
  set_i(s, n, "axis", chance(s, 0.3) ? axis - nd : axis);
  note(s, "concat");
  return result(s, y, nd, d);
}

static struct val *split(struct gen *s, struct val *v) {
  int nd = v->ndim, axis = nd == 4 ? 1 : nd - 1;
  int64_t len = v->d[axis];
  if (len < 2) return v;
  int parts = len >= 3 && chance(s, 0.4) ? 3 : 2;
  int64_t sz[3];
  bool equal = len % parts == 0 && chance(s, 0.4);
  int64_t left = len;
  for (int i = 0; i < parts; i++) {
    sz[i] = equal ? len / parts : i == parts - 1 ? left : rrange(s, 1, left - (parts - 1 - i));
    left -= sz[i];
  }
  const char *outs[3];
  for (int i = 0; i < parts; i++) outs[i] = fresh(s, "split");
  const char *in[2] = {use(v), NULL};
  int n_in = 1;
  if (!equal && s->opset >= 13) in[n_in++] = ints_const(s, "split_sz", parts, sz);
  struct pn_node *n = add_node(s, "Split", n_in, in, parts, outs);
  if (!equal && s->opset < 13) set_is(s, n, "split", parts, sz);
  set_i(s, n, "axis", chance(s, 0.3) ? axis - nd : axis);
  note(s, "split");
  struct val *last = v;
  for (int i = 0; i < parts; i++) {
    int64_t d[PN_MAX_DIMS];
    memcpy(d, v->d, sizeof d);
    d[axis] = sz[i];
    last = result(s, outs[i], nd, d);
  }
  return last;
}

/* x (op) c with a constant c broadcast from the right, or with another value of the same shape. */
static struct val *binary(struct gen *s, struct val *v) {
  static const char *const ops[] = {"Add", "Mul", "Sub", "Max", "Min"};
  const char *op = ops[rnd(s, 5)];
  int nd = v->ndim;
  const char *x = use(v), *y = fresh(s, "bin"), *other;
  struct val *o = NULL;
  for (int i = s->n_pool - 1; i >= 0 && !o; i--)
    if (&s->pool[i] != v && !s->pool[i].no_pair && !v->no_pair && s->pool[i].ndim == nd &&
        !memcmp(s->pool[i].d, v->d, (size_t)nd * sizeof *v->d) && chance(s, 0.5))
      o = &s->pool[i];
  if (o) {
    other = use(o);
    note(s, "binary");
  } else {
    int64_t cd[PN_MAX_DIMS];
    int cnd = (int)rnd(s, 3);
    if (cnd == 0) {
      cnd = chance(s, 0.5) ? 0 : 1;   /* scalar, or [1] */
      cd[0] = 1;
    } else if (cnd == 1) {            /* per channel: [C,1,..] for 4-D, [D] otherwise */
      if (nd == 4) {
        cnd = 3;
        cd[0] = v->d[1];
        cd[1] = cd[2] = 1;
      } else {
        cnd = 1;
        cd[0] = v->d[nd - 1];
      }
    } else {                          /* the whole image */
      cnd = nd - 1;
      for (int i = 0; i < cnd; i++) cd[i] = v->d[i + 1];
    }
    bool mul = !strcmp(op, "Mul");
    other = weight(s, "k", cnd, cd, W_UNIT, mul ? 0.5 : -0.5, mul ? 1.5 : 0.5);
    note(s, "binary-const");
  }
  if (chance(s, 0.5)) node1(s, op, y, x, other, NULL);
  else node1(s, op, y, other, x, NULL);
  return result(s, y, nd, v->d);
}

/* Reshape / Flatten / Transpose / Squeeze / Unsqueeze between ranks, batch kept on axis 0. */
static struct val *reshape(struct gen *s, struct val *v) {
  int nd = v->ndim;
  const char *x = use(v), *y = fresh(s, "rs");
  int64_t d[PN_MAX_DIMS];
  memcpy(d, v->d, sizeof d);
  int r = (int)rnd(s, 10);
  if (r < 3 && nd >= 3) {                     /* Transpose of the non-batch axes */
    int64_t perm[PN_MAX_DIMS];
    for (int i = 0; i < nd; i++) perm[i] = i;
    for (int i = nd - 1; i > 1; i--) {
      int j = 1 + (int)rnd(s, i);
      int64_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    struct pn_node *n = node1(s, "Transpose", y, x, NULL, NULL);
    set_is(s, n, "perm", nd, perm);
    for (int i = 0; i < nd; i++) d[i] = v->d[perm[i]];
    note(s, "transpose");
    return result(s, y, nd, d);
  }
  if (r < 5 && nd >= 3) {                     /* to 2-D: Flatten, Reshape [0,-1] or a Shape-driven Reshape */
    int64_t f = per_image(v);
    int k = (int)rnd(s, 3);
    if (k == 0) {
      struct pn_node *n = node1(s, "Flatten", y, x, NULL, NULL);
      if (chance(s, 0.5)) set_i(s, n, "axis", 1);
      note(s, "flatten");
    } else if (k == 1) {
      int64_t shp[2] = {0, chance(s, 0.5) ? -1 : f};
      node1(s, "Reshape", y, x, ints_const(s, "shape", 2, shp), NULL);
      note(s, "reshape");
    } else {
      /* Shape(x) -> Slice [0:1] (or Gather 0 -> Unsqueeze) -> Concat with [-1] -> Reshape */
      const char *sh = fresh(s, "shape"), *b = fresh(s, "bdim"), *cat = fresh(s, "newshape");
      node1(s, "Shape", sh, x, NULL, NULL);
      int64_t zero = 0, one = 1, m1 = -1;
      node1(s, "Slice", b, sh, ints_const(s, "st", 1, &zero), ints_const(s, "en", 1, &one));
      const char *in[2] = {b, ints_const(s, "m1", 1, &m1)}, *o[1] = {cat};
      struct pn_node *n = add_node(s, "Concat", 2, in, 1, o);
      set_i(s, n, "axis", 0);
      node1(s, "Reshape", y, x, cat, NULL);
      note(s, "shape-reshape");
    }
    d[1] = f;
    return result(s, y, 2, d);
  }
  if (r < 7 && nd == 2) {                     /* [N,F] -> [N,F,1,1] (Unsqueeze or Reshape) */
    d[2] = d[3] = 1;
    if (chance(s, 0.5)) {
      int64_t ax[2] = {2, 3};
      axes_op(s, "Unsqueeze", y, x, 2, ax);
      note(s, "unsqueeze");
    } else {
      int64_t shp[4] = {0, d[1], 1, 1};
      node1(s, "Reshape", y, x, ints_const(s, "shape", 4, shp), NULL);
      note(s, "reshape");
    }
    return result(s, y, 4, d);
  }
  if (nd == 4 && d[2] == 1 && d[3] == 1 && chance(s, 0.6)) {   /* [N,C,1,1] -> [N,C] */
    int64_t ax[2] = {2, 3};
    axes_op(s, "Squeeze", y, x, 2, ax);
    note(s, "squeeze");
    return result(s, y, 2, d);
  }
  if (nd == 4) {                              /* [N,C,H,W] -> [N,C,H*W] or [N,C*H,W] */
    int64_t shp[3] = {0, d[1], d[2] * d[3]};
    if (chance(s, 0.5)) {
      shp[1] = d[1] * d[2];
      shp[2] = d[3];
    }
    int64_t nd3[3] = {d[0], shp[1], shp[2]};
    if (chance(s, 0.3)) shp[1 + rnd(s, 2)] = -1;
    node1(s, "Reshape", y, x, ints_const(s, "shape", 3, shp), NULL);
    note(s, "reshape");
    return result(s, y, 3, nd3);
  }
  if (nd == 3) {                              /* [N,T,D] -> [N,T,a,D/a] */
    int64_t a = d[2] % 2 == 0 ? 2 : 1;
    int64_t shp[4] = {0, d[1], a, d[2] / a}, nd4[4] = {d[0], d[1], a, d[2] / a};
    node1(s, "Reshape", y, x, ints_const(s, "shape", 4, shp), NULL);
    note(s, "reshape");
    return result(s, y, 4, nd4);
  }
  /* 2-D: Identity or inference Dropout (removed by the passes) */
  if (chance(s, 0.5) || s->opset < 13) {
    node1(s, "Identity", y, x, NULL, NULL);
  } else {
    node1(s, "Dropout", y, x, NULL, NULL);
  }
  note(s, "identity");
  return result(s, y, nd, d);
}

/* Gemm or MatMul -> Add on [N,F]; MatMul -> Add on [N,T,D]; then maybe an activation. */
static struct val *dense(struct gen *s, struct val *v) {
  int nd = v->ndim;
  int64_t f = v->d[nd - 1], m = rrange(s, 1, 24);
  while (m * per_image(v) / f > s->max_per_image && m > 1) m /= 2;
  const char *x = use(v), *y = fresh(s, "fc");
  int64_t d[PN_MAX_DIMS];
  memcpy(d, v->d, sizeof d);
  d[nd - 1] = m;
  double std = 1.2 / sqrt((double)f);
  int64_t bd[2] = {1, m};
  if (nd == 2 && chance(s, 0.5)) {
    bool tb = chance(s, 0.4);
    int64_t wd[2] = {tb ? m : f, tb ? f : m};
    int cr = (int)rnd(s, 4);
    const char *W = normal_w(s, "fc_w", 2, wd, std);
    struct pn_node *n;
    if (cr == 0) n = node1(s, "Gemm", y, x, W, NULL);
    else n = node1(s, "Gemm", y, x, W, weight(s, "fc_b", cr == 1 ? 1 : 2, cr == 1 ? bd + 1 : bd, W_UNIT, -0.3, 0.3));
    if (tb) set_i(s, n, "transB", 1);
    if (chance(s, 0.2)) set_f(s, n, "alpha", frange(s, 0.5, 1.5));
    if (cr && chance(s, 0.2)) set_f(s, n, "beta", frange(s, 0.5, 1.5));
    note(s, "gemm");
  } else {
    int64_t wd[2] = {f, m};
    const char *mm = fresh(s, "mm");
    node1(s, "MatMul", mm, x, normal_w(s, "mm_w", 2, wd, std), NULL);
    if (chance(s, 0.75)) {
      bool flat = chance(s, 0.7);   /* [M] or [1,M] */
      const char *b = weight(s, "mm_b", flat ? 1 : 2, flat ? bd + 1 : bd, W_UNIT, -0.3, 0.3);
      if (chance(s, 0.5)) node1(s, "Add", y, mm, b, NULL);
      else node1(s, "Add", y, b, mm, NULL);
      note(s, "matmul+add");
    } else {
      y = mm;
      note(s, "matmul");
    }
  }
  struct val *out = result(s, y, nd, d);
  return chance(s, 0.6) ? activation(s, out) : out;
}

/* Single-head self-attention on [N,T,D]: softmax(q k^T / sqrt(e)) v, optionally + x. */
static struct val *attention(struct gen *s, struct val *v) {
  int64_t t = v->d[1], dd = v->d[2], e = rrange(s, 2, 12);
  if (t * t > s->max_per_image) return v;
  const char *x = use(v);
  int64_t wd[2] = {dd, e};
  double std = 1.0 / sqrt((double)dd);
  const char *q = fresh(s, "q"), *k = fresh(s, "k"), *vv = fresh(s, "v"), *kt = fresh(s, "kt");
  const char *sc = fresh(s, "scores"), *ss = fresh(s, "scaled"), *p = fresh(s, "probs"), *y = fresh(s, "attn");
  node1(s, "MatMul", q, x, normal_w(s, "wq", 2, wd, std), NULL);
  node1(s, "MatMul", k, x, normal_w(s, "wk", 2, wd, std), NULL);
  node1(s, "MatMul", vv, x, normal_w(s, "wv", 2, wd, std), NULL);
  int64_t perm[3] = {0, 2, 1};
  struct pn_node *n = node1(s, "Transpose", kt, k, NULL, NULL);
  set_is(s, n, "perm", 3, perm);
  node1(s, "MatMul", sc, q, kt, NULL);
  node1(s, "Mul", ss, sc, scalar_const(s, "rsqrt_e", (float)(1.0 / sqrt((double)e)), true), NULL);
  n = node1(s, "Softmax", p, ss, NULL, NULL);
  set_i(s, n, "axis", s->opset >= 13 && chance(s, 0.5) ? -1 : 2);
  node1(s, "MatMul", y, p, vv, NULL);
  note(s, "attention");
  int64_t d[3] = {v->d[0], t, e};
  struct val *out = result(s, y, 3, d);
  if (e == dd && chance(s, 0.6)) {
    const char *r = fresh(s, "attn_res");
    node1(s, "Add", r, use(v), use(out), NULL);
    out = result(s, r, 3, d);
  }
  return out;
}

/* LayerNormalization over the last axis: the opset-17 op, or the decomposition exporters write
** for older opsets (ReduceMean, Sub, Mul, ReduceMean, Add eps, Sqrt, Div, Mul, Add). */
static struct val *layernorm(struct gen *s, struct val *v) {
  int nd = v->ndim;
  int64_t dd = v->d[nd - 1];
  if (dd < 4) return v;
  int64_t sd[1] = {dd};
  const char *x = use(v), *y = fresh(s, "ln");
  const char *sc = weight(s, "ln_s", 1, sd, W_UNIT, 0.5, 1.5), *bi = weight(s, "ln_b", 1, sd, W_UNIT, -0.3, 0.3);
  if (s->opset >= 17 && chance(s, 0.6)) {
    struct pn_node *n = chance(s, 0.8) ? node1(s, "LayerNormalization", y, x, sc, bi)
                                       : node1(s, "LayerNormalization", y, x, sc, NULL);
    set_i(s, n, "axis", chance(s, 0.5) ? -1 : nd - 1);
    if (chance(s, 0.5)) set_f(s, n, "epsilon", 1e-5f);
    note(s, "layernorm");
  } else {
    const char *mu = fresh(s, "ln_mu"), *c = fresh(s, "ln_c"), *c2 = fresh(s, "ln_c2"), *var = fresh(s, "ln_var");
    const char *ve = fresh(s, "ln_ve"), *sd2 = fresh(s, "ln_sd"), *nrm = fresh(s, "ln_n"), *sn = fresh(s, "ln_sn");
    int64_t ax[1] = {-1};
    struct pn_node *n = node1(s, "ReduceMean", mu, x, NULL, NULL);
    set_is(s, n, "axes", 1, ax);
    node1(s, "Sub", c, x, mu, NULL);
    node1(s, "Mul", c2, c, c, NULL);
    n = node1(s, "ReduceMean", var, c2, NULL, NULL);
    set_is(s, n, "axes", 1, ax);
    node1(s, "Add", ve, var, scalar_const(s, "eps", 1e-5f, true), NULL);
    node1(s, "Sqrt", sd2, ve, NULL, NULL);
    node1(s, "Div", nrm, c, sd2, NULL);
    node1(s, "Mul", sn, nrm, sc, NULL);
    node1(s, "Add", y, sn, bi, NULL);
    note(s, "layernorm-decomposed");
  }
  return result(s, y, nd, v->d);
}

static struct val *softmax(struct gen *s, struct val *v) {
  const char *y = fresh(s, "sm");
  bool lsm = chance(s, 0.2);
  struct pn_node *n = node1(s, lsm ? "LogSoftmax" : "Softmax", y, use(v), NULL, NULL);
  if (s->opset >= 13) set_i(s, n, "axis", -1);
  else set_i(s, n, "axis", v->ndim - 1);   /* before 13: coerced to 2-D at axis: the last one only */
  note(s, "softmax");
  struct val *out = result(s, y, v->ndim, v->d);
  /* x - LogSoftmax(x) is constant along the axis up to rounding: a normalization over that axis
  ** would then return amplified rounding noise, which two correct runtimes need not agree on */
  out->no_pair = lsm;
  return out;
}

/* Pad (constant, reflect or edge) or Slice on the spatial axes of a 4-D value. */
static struct val *pad_slice(struct gen *s, struct val *v) {
  const char *x = use(v), *y = fresh(s, "ps");
  int64_t d[4];
  memcpy(d, v->d, sizeof d);
  if (chance(s, 0.5)) {
    int64_t pads[8] = {0};
    const char *mode = chance(s, 0.6) ? "constant" : chance(s, 0.5) ? "reflect" : "edge";
    for (int i = 2; i < 4; i++) {
      int64_t lim = !strcmp(mode, "reflect") ? v->d[i] - 1 : 2;
      if (lim > 2) lim = 2;
      pads[i] = rrange(s, 0, lim);
      pads[i + 4] = rrange(s, 0, lim);
      d[i] += pads[i] + pads[i + 4];
    }
    if (per_image(&(struct val){.ndim = 4, .d = {d[0], d[1], d[2], d[3]}}) > s->max_per_image) return v;
    struct pn_node *n;
    if (!strcmp(mode, "constant") && chance(s, 0.5))
      n = node1(s, "Pad", y, x, ints_const(s, "pads", 8, pads), scalar_const(s, "padv", frange(s, -1, 1), true));
    else
      n = node1(s, "Pad", y, x, ints_const(s, "pads", 8, pads), NULL);
    if (strcmp(mode, "constant") || chance(s, 0.3)) set_str(s, n, "mode", mode);
    note(s, "pad");
  } else {
    int64_t axis = rrange(s, 2, 3), len = v->d[axis];
    int64_t st = rnd(s, len), step = chance(s, 0.3) ? 2 : 1;
    int64_t en = st + rrange(s, 1, len - st);
    bool to_end = en == len && chance(s, 0.5);
    int64_t ax1[1] = {axis}, st1[1] = {st}, en1[1] = {to_end ? INT64_MAX : en}, sp1[1] = {step};
    if (chance(s, 0.5)) ax1[0] -= 4;
    const char *in[5] = {x, ints_const(s, "starts", 1, st1), ints_const(s, "ends", 1, en1),
                         ints_const(s, "axes", 1, ax1), ints_const(s, "steps", 1, sp1)};
    const char *o[1] = {y};
    add_node(s, "Slice", step > 1 || chance(s, 0.5) ? 5 : 4, in, 1, o);
    d[axis] = (en - st + step - 1) / step;
    note(s, "slice");
  }
  return result(s, y, 4, d);
}

/* Resize of the spatial dims (FPN / YOLO upsampling, segmentation heads): nearest, linear or
** cubic, any coordinate transformation, by scales or by sizes, in each opset's input form. */
static struct val *resize(struct gen *s, struct val *v) {
  static const char *const modes[] = {"nearest", "linear", "cubic"};
  static const char *const coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                       "tf_half_pixel_for_nn"};
  static const char *const nears[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  int mode = (int)rnd(s, 3), coord = (int)rnd(s, mode ? 4 : 5);
  int64_t d[4];
  memcpy(d, v->d, sizeof d);
  bool by_sizes = !s->rg->symbolic && chance(s, 0.5);   /* sizes fix the batch */
  /* Where implementations may rightly differ, stay on common ground (docs/engine.md): nearest
  ** only with power-of-two ratios (its source index jumps where a coordinate computed in float32,
  ** as ORT does, and in float64, as ONNX's reference and privnn do, fall on two sides of an
  ** integer), and align_corners only where scale * in is a whole number (ONNX's reference takes
  ** that product as the resized length, ORT the integer output size). */
  bool pow2 = mode == 0, whole = coord == 2;
  float sc[4] = {1, 1, 1, 1};
  for (int i = 2; i < 4; i++) {
    static const float any[] = {2.0f, 0.5f, 1.5f, 3.0f, 0.75f}, p2[] = {2.0f, 4.0f, 0.5f};
    /* whole products: upsampling only, by 2 or 4 (nearest) or 2 or 3 */
    sc[i] = whole ? (rnd(s, 2) ? 2.0f : pow2 ? 4.0f : 3.0f) : pow2 ? p2[rnd(s, 3)] : any[rnd(s, 5)];
    if (by_sizes) {
      d[i] = pow2 ? v->d[i] * (chance(s, 0.5) ? 2 : 4) : rrange(s, 1, 2 * v->d[i] + 2);
      if (pow2 && !whole && v->d[i] % 2 == 0 && chance(s, 0.3)) d[i] = v->d[i] / 2;
    } else {
      d[i] = (int64_t)floor((double)v->d[i] * sc[i]);
    }
    if (d[i] < 1) {
      d[i] = v->d[i];
      sc[i] = 1;
    }
  }
  if (d[1] * d[2] * d[3] > s->max_per_image) return v;
  const char *x = use(v), *y = fresh(s, "resize");
  const char *roi = "", *scales = "", *sizes = NULL;
  if (s->opset < 13) {   /* opset 11: roi and scales are required inputs, empty when unused */
    int64_t zero = 0;
    struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, 1, &zero);
    roi = fresh(s, "roi");
    either(s, roi, t);
    if (by_sizes) {
      scales = fresh(s, "scales");
      either(s, scales, t);
    }
    pn_tensor_free(t);
  }
  if (by_sizes) {
    int64_t sz[4] = {d[0], d[1], d[2], d[3]};
    sizes = ints_const(s, "sizes", 4, sz);
  } else {
    int64_t four = 4;
    struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, 1, &four);
    if (t) memcpy(t->data, sc, sizeof sc);
    scales = fresh(s, "scales");
    either(s, scales, t);
    pn_tensor_free(t);
  }
  const char *in[4] = {x, roi, scales, sizes}, *o[1] = {y};
  struct pn_node *n = add_node(s, "Resize", sizes ? 4 : 3, in, 1, o);
  if (mode || chance(s, 0.5)) set_str(s, n, "mode", modes[mode]);
  set_str(s, n, "coordinate_transformation_mode", coords[coord]);
  if (mode == 0) set_str(s, n, "nearest_mode", nears[rnd(s, 4)]);
  if (mode == 2 && chance(s, 0.5)) set_f(s, n, "cubic_coeff_a", -0.5f);
  if (mode == 2 && chance(s, 0.3)) set_i(s, n, "exclude_outside", 1);
  note(s, mode == 0 ? "resize-nearest" : mode == 1 ? "resize-linear" : "resize-cubic");
  return result(s, y, 4, d);
}

/* ConvTranspose (decoders, segmentation): stride 1 or 2, pads, output_padding, groups. */
static struct val *conv_transpose(struct gen *s, struct val *v) {
  int nsp = v->ndim - 2;
  int64_t cin = v->d[1], group = cin % 2 == 0 && chance(s, 0.2) ? 2 : 1, mg = rrange(s, 1, 8);
  int64_t k[2], st[2], pads[4], op[2], od[4] = {v->d[0], mg * group};
  for (int i = 0; i < nsp; i++) {
    k[i] = rrange(s, 1, 4);
    st[i] = rrange(s, 1, 2);
    op[i] = st[i] > 1 && chance(s, 0.3) ? 1 : 0;
    int64_t full = st[i] * (v->d[2 + i] - 1) + op[i] + k[i];
    pads[i] = rnd(s, k[i]);
    pads[i + nsp] = rnd(s, k[i]);
    if (full - pads[i] - pads[i + nsp] < 1) pads[i] = pads[i + nsp] = 0;
    od[2 + i] = full - pads[i] - pads[i + nsp];
  }
  int64_t per = od[1];
  for (int i = 0; i < nsp; i++) per *= od[2 + i];
  if (per > s->max_per_image) return v;
  int64_t wd[4] = {cin, mg, k[0], k[1]}, bd[1] = {mg * group};
  const char *x = use(v), *y = fresh(s, "convt");
  const char *W = normal_w(s, "wt", 2 + nsp, wd, 1.0 / sqrt((double)(cin / group * k[0] * (nsp > 1 ? k[1] : 1))));
  struct pn_node *n = chance(s, 0.6) ? node1(s, "ConvTranspose", y, x, W, weight(s, "bt", 1, bd, W_UNIT, -0.3, 0.3))
                                     : node1(s, "ConvTranspose", y, x, W, NULL);
  set_is(s, n, "strides", nsp, st);
  if (chance(s, 0.5)) set_is(s, n, "kernel_shape", nsp, k);
  set_is(s, n, "pads", 2 * nsp, pads);
  if (op[0] || (nsp > 1 && op[1])) set_is(s, n, "output_padding", nsp, op);
  if (group > 1) set_i(s, n, "group", group);
  note(s, "convtranspose");
  return result(s, y, v->ndim, od);
}

/* InstanceNormalization, LRN, DepthToSpace / SpaceToDepth, ScatterND of a slice, Einsum. */
static struct val *vision_misc(struct gen *s, struct val *v) {
  int nd = v->ndim;
  const char *x, *y;
  int64_t d[PN_MAX_DIMS];
  memcpy(d, v->d, sizeof d);
  int r = (int)rnd(s, 5);
  if (r == 0 && nd >= 3) {
    int64_t sp = 1, c[1] = {d[1]};
    for (int i = 2; i < nd; i++) sp *= d[i];
    if (sp < 4) return v;   /* the variance of fewer values is too often near zero */
    x = use(v), y = fresh(s, "inorm");
    struct pn_node *n = node1(s, "InstanceNormalization", y, x, weight(s, "in_s", 1, c, W_UNIT, 0.5, 1.5),
                              weight(s, "in_b", 1, c, W_UNIT, -0.3, 0.3));
    if (chance(s, 0.5)) set_f(s, n, "epsilon", 1e-3f);
    note(s, "instancenorm");
  } else if (r == 1 && nd == 4) {
    x = use(v), y = fresh(s, "lrn");
    struct pn_node *n = node1(s, "LRN", y, x, NULL, NULL);
    set_i(s, n, "size", 2 * rrange(s, 0, 2) + 1);   /* odd: ORT refuses even sizes */
    if (chance(s, 0.5)) set_f(s, n, "alpha", 1e-3f);
    note(s, "lrn");
  } else if (r == 2 && nd == 4) {
    int64_t b = 2;
    bool to_space = chance(s, 0.5);
    if (to_space ? d[1] % 4 : d[2] % 2 || d[3] % 2) return v;
    x = use(v), y = fresh(s, "d2s");
    struct pn_node *n = node1(s, to_space ? "DepthToSpace" : "SpaceToDepth", y, x, NULL, NULL);
    set_i(s, n, "blocksize", b);
    if (to_space && chance(s, 0.5)) set_str(s, n, "mode", "CRD");
    if (to_space) d[1] /= 4, d[2] *= 2, d[3] *= 2;
    else d[1] *= 4, d[2] /= 2, d[3] /= 2;
    note(s, to_space ? "depthtospace" : "spacetodepth");
  } else if (r == 3 && nd >= 2) {
    /* x[:, j] = w, as torch exports an indexed assignment: ScatterND over the batch rows */
    if (s->rg->symbolic) return v;
    int64_t j = rnd(s, d[1]), nt = d[0], iv[2 * 24];   /* batch <= 24 */
    for (int64_t b = 0; b < nt; b++) iv[2 * b] = b, iv[2 * b + 1] = j;
    int64_t idims[2] = {nt, 2}, ud[PN_MAX_DIMS];
    const char *idx = fresh(s, "sidx");
    struct pn_tensor *t = pn_tensor_new(PN_DT_INT64, 2, idims);
    if (t) memcpy(t->data, iv, (size_t)(2 * nt) * sizeof *iv);
    either(s, idx, t);
    pn_tensor_free(t);
    ud[0] = nt;
    for (int i = 2; i < nd; i++) ud[i - 1] = d[i];
    x = use(v), y = fresh(s, "scatter");
    node1(s, "ScatterND", y, x, idx, weight(s, "upd", nd - 1, ud, W_UNIT, -1, 1));
    note(s, "scatternd");
  } else if (nd == 3 && s->opset >= 12) {
    /* Einsum (opset 12): a projection "bnd,de->bne", or scores "bqd,bkd->bqk" of a value with itself */
    x = use(v), y = fresh(s, "einsum");
    struct pn_node *n;
    if (chance(s, 0.5)) {
      int64_t e = rrange(s, 1, 16), wd[2] = {d[2], e};
      n = node1(s, "Einsum", y, x, normal_w(s, "ew", 2, wd, 1.0 / sqrt((double)d[2])), NULL);
      set_str(s, n, "equation", "bnd,de->bne");
      d[2] = e;
    } else {
      if (d[1] * d[1] > s->max_per_image) return v;
      n = node1(s, "Einsum", y, x, x, NULL);
      set_str(s, n, "equation", "bqd,bkd->bqk");
      d[2] = d[1];
    }
    note(s, "einsum");
  } else {
    return v;
  }
  return result(s, y, nd, d);
}

/* 4-D value into 2-D or 3-D by the usual exporter tails (GlobalAveragePool + Flatten etc.). */
static struct val *to_features(struct gen *s, struct val *v) {
  if (chance(s, 0.5)) {
    struct val *p = pool(s, v);   /* may be global */
    return reshape(s, p);
  }
  return reshape(s, v);
}

/* Reductions, scans, broadcasts, gathers, multi-input elementwise ops, dtype round trips and
** the training-mode forms that must not be folded, on any value (batch kept on axis 0). */
static struct val *misc(struct gen *s, struct val *v) {
  int nd = v->ndim;
  const char *x = use(v), *y = fresh(s, "m");
  int64_t d[PN_MAX_DIMS];
  memcpy(d, v->d, sizeof d);
  int ax = nd > 1 ? (int)rrange(s, 1, nd - 1) : 0;
  struct pn_node *n;
  int r = (int)rnd(s, 14);
  if (r == 0 && nd > 1) {                     /* ReduceSum / Max / Min / Mean over one axis */
    static const char *const ops[] = {"ReduceSum", "ReduceMax", "ReduceMin", "ReduceMean"};
    const char *op = ops[rnd(s, 4)];
    int64_t keep = chance(s, 0.6), axis[1] = {chance(s, 0.3) ? ax - nd : ax};
    if (!strcmp(op, "ReduceSum")) {
      n = axes_op(s, op, y, x, 1, axis);
    } else {   /* the other reductions take axes as an input only from opset 18 */
      n = node1(s, op, y, x, NULL, NULL);
      set_is(s, n, "axes", 1, axis);
    }
    if (!keep || chance(s, 0.5)) set_i(s, n, "keepdims", keep);
    if (keep) d[ax] = 1;
    else {
      for (int i = ax; i < nd - 1; i++) d[i] = d[i + 1];
      nd--;
    }
    note(s, op);
  } else if (r == 1 && nd > 1) {              /* CumSum along an axis */
    int64_t axis = ax;
    int64_t one[1] = {1};
    const char *an = fresh(s, "cs_axis");
    struct pn_tensor *t = pn_tensor_new(PN_DT_INT64, chance(s, 0.5) ? 0 : 1, one);
    if (t) {
      *(int64_t *)t->data = axis;
      if (!pn_graph_add_init(s->g, t, an)) FAIL(s);
      pn_tensor_free(t);
    }
    n = node1(s, "CumSum", y, x, an, NULL);
    if (chance(s, 0.3)) set_i(s, n, "exclusive", 1);
    if (chance(s, 0.3)) set_i(s, n, "reverse", 1);
    note(s, "cumsum");
  } else if (r == 2 && nd > 1) {              /* Expand the dims that are 1 (batch kept) */
    int64_t shp[PN_MAX_DIMS];
    int64_t grow = 1;
    shp[0] = 1;
    for (int i = 1; i < nd; i++) {
      shp[i] = d[i] == 1 && chance(s, 0.7) ? rrange(s, 2, 3) : 1;
      grow *= shp[i] > 1 ? shp[i] : 1;
    }
    if (per_image(v) * grow > s->max_per_image) return v;
    for (int i = 1; i < nd; i++) d[i] = d[i] > shp[i] ? d[i] : shp[i];
    node1(s, "Expand", y, x, ints_const(s, "eshape", nd, shp), NULL);
    note(s, "expand");
  } else if (r == 3 && nd > 1) {              /* Tile */
    int64_t rep[PN_MAX_DIMS], grow = 1;
    rep[0] = 1;
    for (int i = 1; i < nd; i++) {
      rep[i] = chance(s, 0.3) ? 2 : 1;
      grow *= rep[i];
    }
    if (per_image(v) * grow > s->max_per_image) return v;
    for (int i = 1; i < nd; i++) d[i] *= rep[i];
    node1(s, "Tile", y, x, ints_const(s, "reps", nd, rep), NULL);
    note(s, "tile");
  } else if (r == 4 && nd > 1) {              /* Where with a constant mask broadcast over the batch */
    int64_t md[PN_MAX_DIMS];
    for (int i = 1; i < nd; i++) md[i - 1] = chance(s, 0.3) ? 1 : d[i];
    const char *mn = fresh(s, "mask");
    struct pn_tensor *t = pn_tensor_new(PN_DT_BOOL, nd - 1, md);
    if (t) {
      for (int64_t i = 0; i < pn_tensor_numel(t); i++) ((uint8_t *)t->data)[i] = chance(s, 0.5);
      either(s, mn, t);
      pn_tensor_free(t);
    }
    int64_t od[PN_MAX_DIMS];
    for (int i = 1; i < nd; i++) od[i - 1] = d[i];
    const char *other = weight(s, "wh", nd - 1, od, W_UNIT, -1, 1);
    if (chance(s, 0.5)) node1(s, "Where", y, mn, x, other);
    else node1(s, "Where", y, mn, other, x);
    note(s, "where");
  } else if (r == 5 && nd > 1) {              /* Gather on a non-batch axis with constant indices */
    int64_t len = d[ax], cnt = rrange(s, 1, 4), idx[4];
    for (int i = 0; i < cnt; i++) idx[i] = rrange(s, -len, len - 1);
    bool scalar = chance(s, 0.25);
    const char *in;
    if (scalar) {
      in = fresh(s, "gidx");
      struct pn_tensor *t = pn_tensor_new(PN_DT_INT64, 0, NULL);
      if (t) {
        *(int64_t *)t->data = idx[0];
        if (!pn_graph_add_init(s->g, t, in)) FAIL(s);
        pn_tensor_free(t);
      }
    } else {
      in = ints_const(s, "gidx", (int)cnt, idx);
    }
    n = node1(s, "Gather", y, x, in, NULL);
    set_i(s, n, "axis", chance(s, 0.3) ? ax - nd : ax);
    if (scalar) {
      for (int i = ax; i < nd - 1; i++) d[i] = d[i + 1];
      nd--;
    } else {
      d[ax] = cnt;
    }
    note(s, "gather");
  } else if (r == 6) {                        /* Sum / Mean / Max / Min of three */
    static const char *const ops[] = {"Sum", "Mean", "Max", "Min"};
    const char *op = ops[rnd(s, 4)];
    const char *a = fresh(s, "m_act");
    node1(s, "Tanh", a, x, NULL, NULL);
    int64_t cd[PN_MAX_DIMS];
    for (int i = 1; i < nd; i++) cd[i - 1] = d[i];
    const char *in[3] = {x, a, weight(s, "mk", nd - 1, cd, W_UNIT, -1, 1)}, *o[1] = {y};
    add_node(s, op, 3, in, 1, o);
    note(s, op);
  } else if (r == 7) {                        /* float -> double -> (Neg) -> float */
    const char *a = fresh(s, "f64"), *b = fresh(s, "f64n");
    n = node1(s, "Cast", a, x, NULL, NULL);
    set_i(s, n, "to", PN_DT_DOUBLE);
    node1(s, chance(s, 0.5) ? "Neg" : "Abs", b, a, NULL, NULL);
    n = node1(s, "Cast", y, b, NULL, NULL);
    set_i(s, n, "to", PN_DT_FLOAT);
    note(s, "cast");
  } else if (r == 8 && nd >= 3 && s->opset >= 14) {   /* Trilu on the last two dims */
    if (chance(s, 0.5)) {
      int64_t k = rrange(s, -2, 2);
      n = node1(s, "Trilu", y, x, ints_const(s, "k", 1, &k), NULL);
      /* k is a scalar in ONNX, though 1-element tensors are accepted by common runtimes */
    } else {
      n = node1(s, "Trilu", y, x, NULL, NULL);
    }
    if (chance(s, 0.5)) set_i(s, n, "upper", 0);
    note(s, "trilu");
  } else if (r == 9 && nd >= 2) {             /* Slice with a negative step: reversal */
    int64_t st[1] = {-1}, en[1] = {INT64_MIN}, axes[1] = {ax}, sp[1] = {-1};
    const char *in[5] = {x, ints_const(s, "starts", 1, st), ints_const(s, "ends", 1, en), ints_const(s, "axes", 1, axes),
                         ints_const(s, "steps", 1, sp)};
    const char *o[1] = {y};
    add_node(s, "Slice", 5, in, 1, o);
    note(s, "reverse");
  } else if (r == 10 && nd == 4 && s->opset >= 14 && v->d[0] * v->d[2] * v->d[3] > 1) {
    /* BatchNormalization in training mode: batch statistics, never folded into a Conv */
    int64_t c[1] = {d[1]};
    const char *in[5] = {x, weight(s, "bnt_s", 1, c, W_UNIT, 0.5, 1.5), weight(s, "bnt_b", 1, c, W_UNIT, -0.5, 0.5),
                         weight(s, "bnt_m", 1, c, W_UNIT, -0.5, 0.5), weight(s, "bnt_v", 1, c, W_POSITIVE, 0, 0)};
    /* ONNX wants the running mean and variance outputs in training mode. They are graph outputs
    ** here: ORT 1.31 (level disabled) normalises differently when they are left unread, which
    ** privnn does not copy (it follows the spec's population variance either way). */
    const char *o[3] = {y, fresh(s, "bnt_rm"), fresh(s, "bnt_rv")};
    n = add_node(s, "BatchNormalization", 5, in, 3, o);
    set_i(s, n, "training_mode", 1);
    if (chance(s, 0.5)) set_f(s, n, "momentum", 0.8f);
    mark_output(s, o[1], 1, c);
    mark_output(s, o[2], 1, c);
    set_f(s, n, "epsilon", 1e-2f);
    note(s, "bn-training");
  } else if (r == 11 && s->opset >= 13) {     /* Dropout with ratio and training_mode inputs (false) */
    int64_t none[1] = {0};
    const char *tm = fresh(s, "train");
    struct pn_tensor *t = pn_tensor_new(PN_DT_BOOL, 0, none);
    if (t) {
      either(s, tm, t);
      pn_tensor_free(t);
    }
    node1(s, "Dropout", y, x, scalar_const(s, "ratio", 0.3f, true), tm);
    note(s, "dropout");
  } else if (r == 12) {                       /* Identity chain, the middle value maybe an output */
    const char *mid = fresh(s, "id");
    node1(s, "Identity", mid, x, NULL, NULL);
    node1(s, "Identity", y, mid, NULL, NULL);
    if (chance(s, 0.5)) mark_output(s, mid, nd, d);
    note(s, "identity2");
  } else {
    static const char *const ops[] = {"Abs", "Neg", "Softsign", "Softplus"};
    node1(s, ops[rnd(s, 4)], y, x, NULL, NULL);
    note(s, "unary");
  }
  return result(s, y, nd, d);
}

/* ---- the graph ---- */

static void add_data_input(struct gen *s, int nd, const int64_t *d) {
  int64_t dims[PN_MAX_DIMS];
  memcpy(dims, d, (size_t)nd * sizeof *d);
  if (s->rg->symbolic) dims[0] = -1;
  const char *name = fresh(s, "x");
  struct pn_value *iv = pn_graph_add_input(s->g, name, PN_DT_FLOAT, nd, dims);
  if (!iv) {
    FAIL(s);
    return;
  }
  if (s->rg->symbolic && chance(s, 0.6)) iv->dim_param[0] = "N";
  s->rg->batched[s->rg->n_in] = true;
  s->rg->scale[s->rg->n_in++] = 1.0f;
  push(s, name, nd, d);
}

static void step(struct gen *s) {
  struct val *v4 = pick(s, 4), *v3 = pick(s, 3), *v2 = pick(s, 2);
  int r = (int)rnd(s, 100);
  if (v4) {
    if (r < 20) conv_block(s, v4, false);
    else if (r < 27) residual(s, v4);
    else if (r < 33) se_block(s, v4);
    else if (r < 39) pool(s, v4);
    else if (r < 44) concat(s, v4);
    else if (r < 48) split(s, v4);
    else if (r < 52) batchnorm(s, v4);
    else if (r < 54) activation(s, batchnorm(s, v4));
    else if (r < 59) binary(s, v4);
    else if (r < 64) pad_slice(s, v4);
    else if (r < 68) to_features(s, v4);
    else if (r < 72) reshape(s, v4);
    else if (r < 75) activation(s, v4);
    else if (r < 80) misc(s, v4);
    else if (r < 84) resize(s, v4);
    else if (r < 86) conv_transpose(s, v4);
    else if (r < 89) vision_misc(s, v4);
    else r = 89 + (int)rnd(s, 11);
    if (r < 89) return;
  }
  struct val *v = v3 && (!v2 || chance(s, 0.5)) ? v3 : v2;
  if (!v) {
    conv_block(s, v4, false);
    return;
  }
  r = (int)rnd(s, 100);
  if (r < 22) dense(s, v);
  else if (r < 30 && v->ndim == 3) attention(s, v);
  else if (r < 37 && v->ndim == 3) conv_block(s, v, chance(s, 0.3));
  else if (r < 40 && v->ndim == 3) pool(s, v);
  else if (r < 47) layernorm(s, v);
  else if (r < 52) softmax(s, v);
  else if (r < 58) concat(s, v);
  else if (r < 62) split(s, v);
  else if (r < 68) binary(s, v);
  else if (r < 72 && v->ndim >= 2 && v->d[1] > 1) batchnorm(s, v);
  else if (r < 80) reshape(s, v);
  else if (r < 88) misc(s, v);
  else if (r < 93) vision_misc(s, v);
  else activation(s, v);
}

int rg_build(uint64_t seed, struct rg_graph *rg) {
  memset(rg, 0, sizeof *rg);
  struct gen *s = calloc(1, sizeof *s);
  if (!s) return -1;
  s->rg = rg;
  struct pn_ctx ctx = {0};
  if (pn_prg_init_u64(&ctx, &s->prg, seed) || !(s->g = pn_graph_new())) {
    pn_prg_free(&s->prg);
    free(s);
    return -1;
  }
  static const int64_t opsets[] = {11, 13, 17};
  s->opset = opsets[rnd(s, 3)];
  pn_graph_set_opset(s->g, "", s->opset);
  s->batch = rrange(s, 1, 3);
  /* one graph in 8 at batch 8-24 (without a draw, so the other graphs stay as they were): the
  ** executor folds small images' positions of a whole batch into one GEMM */
  if (seed % 8 == 5) s->batch *= 8;
  rg->batch = s->batch;
  rg->symbolic = chance(s, 0.4);
  snprintf(rg->desc, sizeof rg->desc, "opset %lld, batch %lld%s:", (long long)s->opset, (long long)s->batch,
           rg->symbolic ? " (symbolic)" : "");
  s->large = chance(s, 0.08);
  s->max_per_image = s->large ? MAX_PER_IMAGE_LARGE : MAX_PER_IMAGE;
  int kind = (int)rnd(s, 10);
  int64_t d[4] = {s->batch, 0, 0, 0};
  int nd;
  if (kind < 6) {
    nd = 4;
    d[1] = rrange(s, 1, s->large ? 32 : 12);
    d[2] = rrange(s, s->large ? 16 : 1, s->large ? 40 : 14);
    d[3] = rrange(s, s->large ? 16 : 1, s->large ? 40 : 14);
  } else if (kind < 8) {
    nd = 3;
    d[1] = rrange(s, 1, s->large ? 64 : 10);
    d[2] = rrange(s, 1, s->large ? 256 : 32);
  } else {
    nd = 2;
    d[1] = rrange(s, 1, s->large ? 2048 : 64);
  }
  if (s->large) note(s, "large");
  add_data_input(s, nd, d);
  if (chance(s, 0.2)) add_data_input(s, nd, d);   /* a second input of the same shape */
  if (chance(s, 0.04)) mark_output(s, s->pool[0].name, nd, d);   /* an input that is also an output */
  int steps = (int)rrange(s, 2, s->large ? 6 : 12);
  for (int i = 0; i < steps && !s->fail; i++) step(s);
  /* graph outputs: the values nobody reads (at most 4, the newest first), else the last one */
  int n_out = 0;
  for (int i = s->n_pool - 1; i >= 0 && n_out < 4; i--) {
    struct val *v = &s->pool[i];
    if (v->uses || v->is_output) continue;
    bool is_input = false;
    for (int k = 0; k < s->g->n_inputs; k++) is_input |= !strcmp(s->g->inputs[k].name, v->name);
    if (is_input) continue;
    mark_output(s, v->name, v->ndim, v->d);
    n_out++;
  }
  if (s->g->n_outputs == 0) {
    struct val *v = &s->pool[s->n_pool - 1];
    mark_output(s, v->name, v->ndim, v->d);
  }
  bool fail = s->fail;
  int fail_line = s->fail_line;
  rg->g = s->g;
  pn_prg_free(&s->prg);
  free(s);
  if (fail) {
    fprintf(stderr, "randgraph: graph %llu failed at randgraph.c:%d\n", (unsigned long long)seed, fail_line);
    rg_free(rg);
    return -1;
  }
  return 0;
}

void rg_free(struct rg_graph *rg) {
  if (!rg) return;
  pn_graph_free(rg->g);
  rg->g = NULL;
}

struct pn_tensor *rg_input(const struct rg_graph *rg, int i, int64_t batch, uint64_t seed) {
  const struct pn_graph *g = rg->g;
  int k = -1;
  for (int j = 0, n = 0; j < g->n_inputs; j++)
    if (pn_graph_is_runtime_input(g, j) && n++ == i) k = j;
  if (k < 0) return NULL;
  const struct pn_value *v = &g->inputs[k];
  int64_t d[PN_MAX_DIMS];
  for (int j = 0; j < v->ndim; j++) d[j] = v->dims[j];
  if (rg->batched[i]) d[0] = batch;
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, v->ndim, d);
  struct pn_prg prg;
  struct pn_ctx ctx = {0};
  if (!t || pn_prg_init_u64(&ctx, &prg, seed * 1315423911u + (uint64_t)i)) {
    pn_tensor_free(t);
    return NULL;
  }
  float *p = t->data;
  for (int64_t j = 0; j < pn_tensor_numel(t); j++) p[j] = rg->scale[i] * (float)(2 * pn_prg_double(&prg) - 1);
  pn_prg_free(&prg);
  return t;
}
