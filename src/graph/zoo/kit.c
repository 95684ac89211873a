/* kit.c - the graph-building kit (see kit.h): sticky-status node and initializer helpers, and the
** NCHW layers the zoo's convolutional families are written with. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graph/zoo/kit.h"
#include "util/arena.h"
#include "util/status.h"

int pn_zb_fail(struct pn_zb *b, int code, const char *fmt, ...) {
  if (b->status != PN_OK) return b->status;
  char msg[PN_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  b->status = code;
  return pn_err(b->ctx, code, "zoo %s: %s", b->model, msg);
}

struct pn_node *pn_zb_op(struct pn_zb *b, const char *op, const char *name, int n_in,
                         const char *const *in, const char *out) {
  if (b->status != PN_OK) return NULL;
  for (int i = 0; i < n_in; i++)
    if (!in[i]) {
      pn_zb_fail(b, PN_ERR_INVALID, "node '%s': input %d missing", name, i);
      return NULL;
    }
  const char *o = out ? out : name;
  struct pn_node *n = pn_graph_add_node(b->g, op, name, n_in, in, 1, &o);
  if (!n) pn_zb_fail(b, PN_ERR_NOMEM, "out of memory adding node '%s'", name);
  return n;
}

const char *pn_zb_out(const struct pn_node *n) { return n ? n->out[0] : NULL; }

static void attr_status(struct pn_zb *b, int rc, const struct pn_node *n, const char *name) {
  if (rc != PN_OK) pn_zb_fail(b, PN_ERR_NOMEM, "out of memory setting %s.%s", n->name, name);
}

void pn_zb_int(struct pn_zb *b, struct pn_node *n, const char *name, int64_t v) {
  if (b->status == PN_OK && n) attr_status(b, pn_node_set_int(b->g, n, name, v), n, name);
}
void pn_zb_float(struct pn_zb *b, struct pn_node *n, const char *name, float v) {
  if (b->status == PN_OK && n) attr_status(b, pn_node_set_float(b->g, n, name, v), n, name);
}
void pn_zb_ints(struct pn_zb *b, struct pn_node *n, const char *name, int64_t count,
                const int64_t *v) {
  if (b->status == PN_OK && n) attr_status(b, pn_node_set_ints(b->g, n, name, count, v), n, name);
}

static struct pn_tensor *new_init(struct pn_zb *b, const char *name, enum pn_dtype dt, int ndim,
                                  const int64_t *dims) {
  if (b->status != PN_OK) return NULL;
  if (!name) {
    pn_zb_fail(b, PN_ERR_INVALID, "unnamed initializer");
    return NULL;
  }
  char s[128];
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    if (__builtin_mul_overflow(n, dims[i], &n)) n = INT64_MAX;
  if (n > PN_ZOO_MAX_PARAMS - b->n_params) {
    pn_zb_fail(b, PN_ERR_INVALID,
               "initializer '%s' %s takes the model above %lld parameters (options too large?)",
               name, pn_shape_str(s, sizeof s, ndim, dims), (long long)PN_ZOO_MAX_PARAMS);
    return NULL;
  }
  b->n_params += n;
  struct pn_tensor *t = pn_graph_new_init(b->g, name, dt, ndim, dims);
  if (!t) {
    pn_zb_fail(b, PN_ERR_NOMEM, "out of memory for initializer '%s' %s", name,
               pn_shape_str(s, sizeof s, ndim, dims));
  }
  return t;
}

const char *pn_zb_normal(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                         double mean, double std) {
  struct pn_tensor *t = new_init(b, name, PN_DT_FLOAT, ndim, dims);
  if (!t) return NULL;
  float *d = t->data;
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) d[i] = (float)(mean + std * pn_prg_normal(&b->prg));
  return t->name;
}

const char *pn_zb_uniform(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                          double lo, double hi) {
  struct pn_tensor *t = new_init(b, name, PN_DT_FLOAT, ndim, dims);
  if (!t) return NULL;
  float *d = t->data;
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) d[i] = (float)(lo + (hi - lo) * pn_prg_double(&b->prg));
  return t->name;
}

const char *pn_zb_const(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                        const float *v) {
  struct pn_tensor *t = new_init(b, name, PN_DT_FLOAT, ndim, dims);
  if (!t) return NULL;
  if (v) memcpy(t->data, v, pn_tensor_nbytes(t));
  return t->name;
}

const char *pn_zb_i64(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                      const int64_t *v) {
  struct pn_tensor *t = new_init(b, name, PN_DT_INT64, ndim, dims);
  if (!t) return NULL;
  memcpy(t->data, v, pn_tensor_nbytes(t));
  return t->name;
}

const char *pn_zb_name(struct pn_zb *b, const char *prefix, const char *suffix) {
  if (b->status != PN_OK || !prefix) return NULL;
  char *s = *prefix ? pn_arena_printf(b->g->arena, "%s.%s", prefix, suffix)
                    : pn_arena_strdup(b->g->arena, suffix);
  if (!s) pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  return s;
}

/* ---- NCHW layers ---- */

static struct pn_zb_act fail_act(void) { return (struct pn_zb_act){0}; }

struct pn_zb_act pn_zb_conv_hw(struct pn_zb *b, struct pn_zb_act x, const char *name, int64_t cout,
                               int64_t kh, int64_t kw, int64_t s, int64_t ph, int64_t pw, int64_t groups,
                               int bias) {
  if (b->status != PN_OK || !x.v) return fail_act();
  if (x.h + 2 * ph < kh || x.w + 2 * pw < kw) {
    pn_zb_fail(b, PN_ERR_INVALID,
               "input too small: feature map %lldx%lld reaches '%s' (kernel %lldx%lld, pad %lldx%lld)",
               (long long)x.h, (long long)x.w, name, (long long)kh, (long long)kw, (long long)ph,
               (long long)pw);
    return fail_act();
  }
  int64_t cin_g = x.c / groups, fan_in = cin_g * kh * kw;
  int64_t wd[4] = {cout, cin_g, kh, kw}, bd[1] = {cout};
  const char *in[3] = {x.v, pn_zb_normal(b, pn_zb_name(b, name, "weight"), 4, wd, 0.0,
                                         sqrt(2.0 / (double)fan_in)), NULL};
  if (bias) {
    double r = 1.0 / sqrt((double)fan_in);
    in[2] = pn_zb_uniform(b, pn_zb_name(b, name, "bias"), 1, bd, -r, r);
  }
  struct pn_node *n = pn_zb_op(b, "Conv", name, bias ? 3 : 2, in, NULL);
  int64_t ks[2] = {kh, kw}, st[2] = {s, s}, pads[4] = {ph, pw, ph, pw}, dil[2] = {1, 1};
  pn_zb_ints(b, n, "kernel_shape", 2, ks);
  pn_zb_ints(b, n, "strides", 2, st);
  pn_zb_ints(b, n, "pads", 4, pads);
  pn_zb_ints(b, n, "dilations", 2, dil);
  pn_zb_int(b, n, "group", groups);
  return (struct pn_zb_act){pn_zb_out(n), x.n, cout, (x.h + 2 * ph - kh) / s + 1, (x.w + 2 * pw - kw) / s + 1};
}

struct pn_zb_act pn_zb_conv(struct pn_zb *b, struct pn_zb_act x, const char *name, int64_t cout, int64_t k,
                            int64_t s, int64_t p, int64_t groups, int bias) {
  return pn_zb_conv_hw(b, x, name, cout, k, k, s, p, p, groups, bias);
}

struct pn_zb_act pn_zb_bn(struct pn_zb *b, struct pn_zb_act x, const char *name) {
  if (b->status != PN_OK || !x.v) return fail_act();
  int64_t d[1] = {x.c};
  const char *in[5] = {x.v, pn_zb_normal(b, pn_zb_name(b, name, "weight"), 1, d, 1.0, 0.1),
                       pn_zb_normal(b, pn_zb_name(b, name, "bias"), 1, d, 0.0, 0.05),
                       pn_zb_normal(b, pn_zb_name(b, name, "running_mean"), 1, d, 0.0, 0.05),
                       pn_zb_uniform(b, pn_zb_name(b, name, "running_var"), 1, d, 0.8, 1.2)};
  struct pn_node *n = pn_zb_op(b, "BatchNormalization", name, 5, in, NULL);
  pn_zb_float(b, n, "epsilon", 1e-5f);
  pn_zb_float(b, n, "momentum", 0.9f);
  x.v = pn_zb_out(n);
  return x;
}

struct pn_zb_act pn_zb_unary(struct pn_zb *b, struct pn_zb_act x, const char *op, const char *name) {
  if (b->status != PN_OK || !x.v) return fail_act();
  x.v = pn_zb_out(pn_zb_op(b, op, name, 1, &x.v, NULL));
  return x;
}

/* ReLU6 as Clip(x, 0, 6) with min/max as (shared, scalar) inputs, as opset 11+ requires. */
struct pn_zb_act pn_zb_relu6(struct pn_zb *b, struct pn_zb_act x, const char *name) {
  if (b->status != PN_OK || !x.v) return fail_act();
  if (!pn_graph_find_init(b->g, "relu6.min")) {
    float lo = 0.0f, hi = 6.0f;
    pn_zb_const(b, "relu6.min", 0, NULL, &lo);
    pn_zb_const(b, "relu6.max", 0, NULL, &hi);
  }
  const char *in[3] = {x.v, "relu6.min", "relu6.max"};
  x.v = pn_zb_out(pn_zb_op(b, "Clip", name, 3, in, NULL));
  return x;
}

static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int ceil_mode) {
  if (!ceil_mode) return (in + 2 * p - k) / s + 1;
  int64_t o = (in + 2 * p - k + s - 1) / s + 1;
  if ((o - 1) * s >= in + p) o--; /* the last window starts inside the input */
  return o;
}

struct pn_zb_act pn_zb_pool(struct pn_zb *b, struct pn_zb_act x, const char *op, const char *name,
                            int64_t k, int64_t s, int64_t p, int ceil_mode) {
  if (b->status != PN_OK || !x.v) return fail_act();
  if (x.h + 2 * p < k || x.w + 2 * p < k) {
    pn_zb_fail(b, PN_ERR_INVALID, "input too small: feature map %lldx%lld reaches '%s' (%lldx%lld pool)",
               (long long)x.h, (long long)x.w, name, (long long)k, (long long)k);
    return fail_act();
  }
  struct pn_node *n = pn_zb_op(b, op, name, 1, &x.v, NULL);
  int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p};
  pn_zb_ints(b, n, "kernel_shape", 2, ks);
  pn_zb_ints(b, n, "strides", 2, st);
  pn_zb_ints(b, n, "pads", 4, pads);
  if (ceil_mode) pn_zb_int(b, n, "ceil_mode", 1);
  return (struct pn_zb_act){pn_zb_out(n), x.n, x.c, pool_out(x.h, k, s, p, ceil_mode),
                            pool_out(x.w, k, s, p, ceil_mode)};
}

struct pn_zb_act pn_zb_avgpool_pad(struct pn_zb *b, struct pn_zb_act x, const char *name, int64_t k,
                                  int64_t s, int64_t p) {
  struct pn_zb_act y = pn_zb_pool(b, x, "AveragePool", name, k, s, p, 0);
  if (y.v) pn_zb_int(b, b->g->nodes[b->g->n_nodes - 1], "count_include_pad", 1);
  return y;
}

struct pn_zb_act pn_zb_maxpool(struct pn_zb *b, struct pn_zb_act x, const char *name, int64_t k,
                               int64_t s, int64_t p) {
  return pn_zb_pool(b, x, "MaxPool", name, k, s, p, 0);
}

struct pn_zb_act pn_zb_binary(struct pn_zb *b, const char *op, struct pn_zb_act x, struct pn_zb_act y,
                              const char *name) {
  if (b->status != PN_OK || !x.v || !y.v) return fail_act();
  const char *in[2] = {x.v, y.v};
  x.v = pn_zb_out(pn_zb_op(b, op, name, 2, in, NULL));
  return x;
}

struct pn_zb_act pn_zb_add(struct pn_zb *b, struct pn_zb_act x, struct pn_zb_act y, const char *name) {
  return pn_zb_binary(b, "Add", x, y, name);
}

struct pn_zb_act pn_zb_concat(struct pn_zb *b, const struct pn_zb_act *x, int n, const char *name) {
  const char *in[64];
  if (b->status != PN_OK || n < 1 || n > 64) return fail_act();
  struct pn_zb_act y = x[0];
  y.c = 0;
  for (int i = 0; i < n; i++) {
    if (!x[i].v) return fail_act();
    if (x[i].h != x[0].h || x[i].w != x[0].w) {
      pn_zb_fail(b, PN_ERR_INVALID, "'%s': branch %d is %lldx%lld, branch 0 %lldx%lld", name, i,
                 (long long)x[i].h, (long long)x[i].w, (long long)x[0].h, (long long)x[0].w);
      return fail_act();
    }
    in[i] = x[i].v;
    y.c += x[i].c;
  }
  struct pn_node *nd = pn_zb_op(b, "Concat", name, n, in, NULL);
  pn_zb_int(b, nd, "axis", 1);
  y.v = pn_zb_out(nd);
  return y;
}

struct pn_zb_act pn_zb_conv_bn_act(struct pn_zb *b, struct pn_zb_act x, const char *p, int64_t cout,
                                   int64_t k, int64_t s, int64_t groups, const char *act) {
  x = pn_zb_conv(b, x, pn_zb_name(b, p, "0"), cout, k, s, (k - 1) / 2, groups, 0);
  x = pn_zb_bn(b, x, pn_zb_name(b, p, "1"));
  if (!act) return x;
  if (!strcmp(act, "Relu6")) return pn_zb_relu6(b, x, pn_zb_name(b, p, "2"));
  return pn_zb_unary(b, x, act, pn_zb_name(b, p, "2"));
}

struct pn_zb_act pn_zb_flatten(struct pn_zb *b, struct pn_zb_act x, const char *name) {
  if (b->status != PN_OK || !x.v) return fail_act();
  struct pn_node *n = pn_zb_op(b, "Flatten", name, 1, &x.v, NULL);
  pn_zb_int(b, n, "axis", 1);
  return (struct pn_zb_act){pn_zb_out(n), x.n, x.c * x.h * x.w, 1, 1};
}

/* torchvision Linear as Gemm(x, W[out, in], b) with transB = 1. */
struct pn_zb_act pn_zb_linear(struct pn_zb *b, struct pn_zb_act x, const char *name, int64_t nout,
                         const char *out) {
  if (b->status != PN_OK || !x.v) return fail_act();
  int64_t wd[2] = {nout, x.c}, bd[1] = {nout};
  double r = 1.0 / sqrt((double)x.c);
  const char *in[3] = {x.v, pn_zb_normal(b, pn_zb_name(b, name, "weight"), 2, wd, 0.0,
                                         sqrt(2.0 / (double)x.c)),
                       pn_zb_uniform(b, pn_zb_name(b, name, "bias"), 1, bd, -r, r)};
  struct pn_node *n = pn_zb_op(b, "Gemm", name, 3, in, out);
  pn_zb_float(b, n, "alpha", 1.0f);
  pn_zb_float(b, n, "beta", 1.0f);
  pn_zb_int(b, n, "transB", 1);
  return (struct pn_zb_act){pn_zb_out(n), x.n, nout, 1, 1};
}

struct pn_zb_act pn_zb_gap(struct pn_zb *b, struct pn_zb_act x, const char *name) {
  x = pn_zb_unary(b, x, "GlobalAveragePool", name);
  x.h = x.w = 1;
  return x;
}

struct pn_zb_act pn_zb_dropout(struct pn_zb *b, struct pn_zb_act x, const char *name) {
  return pn_zb_unary(b, x, "Dropout", name);
}

/* Graph input "input" [N, C, H, W] from the options (default 1x3x224x224). */
struct pn_zb_act pn_zb_input(struct pn_zb *b, const struct pn_zoo_opts *o) {
  int64_t d[4] = {1, 3, 224, 224};
  if (o->ndim != 0 && o->ndim != 4) {
    pn_zb_fail(b, PN_ERR_INVALID, "input shape must be NxCxHxW (4 dims), got %d dims", o->ndim);
    return fail_act();
  }
  for (int i = 0; i < o->ndim; i++) d[i] = o->dims[i];
  if (!pn_graph_add_input(b->g, "input", PN_DT_FLOAT, 4, d)) {
    pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
    return fail_act();
  }
  return (struct pn_zb_act){"input", d[0], d[1], d[2], d[3]};
}

int64_t pn_zb_classes(const struct pn_zoo_opts *o) {
  return o->num_classes > 0 ? o->num_classes : 1000;
}

int pn_zb_finish(struct pn_zb *b, struct pn_zb_act y) {
  if (b->status != PN_OK) return b->status;
  int64_t d[2] = {y.n, y.c};
  if (!pn_graph_add_output(b->g, y.v, PN_DT_FLOAT, 2, d))
    return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  return PN_OK;
}
