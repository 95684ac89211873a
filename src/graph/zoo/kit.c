/* kit.c - the graph-building kit (see kit.h): sticky-status node and initializer helpers, and the
** NCHW layers the zoo's convolutional families are written with. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- sequence layers ---- */

const char *pn_zb_op2(struct pn_zb *b, const char *op, const char *name, const char *x, const char *y) {
  const char *in[2] = {x, y};
  return pn_zb_out(pn_zb_op(b, op, name, 2, in, NULL));
}

const char *pn_zb_transpose(struct pn_zb *b, const char *name, const char *x, int ndim,
                            const int64_t *perm) {
  struct pn_node *n = pn_zb_op(b, "Transpose", name, 1, &x, NULL);
  pn_zb_ints(b, n, "perm", ndim, perm);
  return pn_zb_out(n);
}

const char *pn_zb_dense(struct pn_zb *b, const char *x, const char *p, int64_t in, int64_t out,
                        const char *out_name) {
  int64_t wd[2] = {in, out}, bd[1] = {out};
  const char *mm_in[2] = {x, pn_zb_normal(b, pn_zb_name(b, p, "weight"), 2, wd, 0.0,
                                          sqrt(2.0 / (double)in))};
  const char *mm = pn_zb_out(pn_zb_op(b, "MatMul", p, 2, mm_in, NULL));
  const char *add_in[2] = {mm, pn_zb_normal(b, pn_zb_name(b, p, "bias"), 1, bd, 0.0, 0.02)};
  return pn_zb_out(pn_zb_op(b, "Add", pn_zb_name(b, p, "add"), 2, add_in, out_name));
}

const char *pn_zb_layer_norm(struct pn_zb *b, const char *x, const char *p, int64_t hidden, float eps,
                             const char *out_name) {
  int64_t d[1] = {hidden};
  const char *in[3] = {x, pn_zb_normal(b, pn_zb_name(b, p, "weight"), 1, d, 1.0, 0.1),
                       pn_zb_normal(b, pn_zb_name(b, p, "bias"), 1, d, 0.0, 0.05)};
  struct pn_node *n = pn_zb_op(b, "LayerNormalization", p, 3, in, out_name);
  pn_zb_int(b, n, "axis", -1);
  pn_zb_float(b, n, "epsilon", eps);
  return pn_zb_out(n);
}

const char *pn_zb_token_embeddings(struct pn_zb *b, const char *word, const char *pos, int64_t batch,
                                   int64_t seq, int64_t hidden, int64_t vocab, int64_t n_pos,
                                   int64_t pos0) {
  if (b->status != PN_OK) return NULL;
  if (seq + pos0 > n_pos)
    return pn_zb_fail(b, PN_ERR_INVALID, "seq %lld above the %lld positions", (long long)seq,
                      (long long)(n_pos - pos0)), NULL;
  int64_t id_d[2] = {batch, seq}, wd[2] = {vocab, hidden}, pd[2] = {n_pos, hidden}, sd[1] = {seq};
  if (!pn_graph_add_input(b->g, "input_ids", PN_DT_INT64, 2, id_d))
    return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory"), NULL;
  int64_t *ids = malloc((size_t)seq * sizeof *ids);
  if (!ids) return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory"), NULL;
  for (int64_t i = 0; i < seq; i++) ids[i] = pos0 + i;
  const char *pid = pn_zb_i64(b, pn_zb_name(b, pos, "ids"), 1, sd, ids);
  free(ids);
  const char *w[2] = {pn_zb_normal(b, pn_zb_name(b, word, "weight"), 2, wd, 0.0, 0.02), "input_ids"};
  const char *pe[2] = {pn_zb_normal(b, pn_zb_name(b, pos, "weight"), 2, pd, 0.0, 0.02), pid};
  const char *x = pn_zb_out(pn_zb_op(b, "Gather", word, 2, w, NULL));
  return pn_zb_op2(b, "Add", pn_zb_name(b, word, "add"), x,
                   pn_zb_out(pn_zb_op(b, "Gather", pos, 2, pe, NULL)));
}

const char *pn_zb_scalar(struct pn_zb *b, const char *name, float v) {
  if (b->status != PN_OK) return NULL;
  return pn_graph_find_init(b->g, name) ? name : pn_zb_const(b, name, 0, NULL, &v);
}

/* ---- Transformer pieces ---- */

int pn_zb_seq_dims(struct pn_zb *b, const struct pn_zoo_opts *o, const struct pn_zb_seq *def,
                   bool hidden_dim, int64_t embed_rows, const char *attn, struct pn_zb_seq *d) {
  *d = (struct pn_zb_seq){o->layers > 0 ? o->layers : def->layers, o->hidden > 0 ? o->hidden : def->hidden,
                          o->heads > 0 ? o->heads : def->heads,
                          o->seq > 0 ? o->seq : def->seq > 0 ? def->seq : 128, 0,
                          o->batch > 0 ? o->batch : 1};
  if (o->ndim == 2 || (hidden_dim && o->ndim == 3)) {
    d->batch = o->dims[0];
    d->seq = o->dims[1];
    if (o->ndim == 3) {
      if (o->hidden > 0 && o->hidden != o->dims[2])
        return pn_zb_fail(b, PN_ERR_INVALID, "input shape hidden %lld differs from hidden %lld",
                          (long long)o->dims[2], (long long)o->hidden);
      d->hidden = o->dims[2];
    }
  } else if (o->ndim != 0) {
    return pn_zb_fail(b, PN_ERR_INVALID, "input shape must be BATCHxSEQ%s, got %d dims",
                      hidden_dim ? " or BATCHxSEQxHIDDEN" : " (token ids)", o->ndim);
  }
  d->inter = o->intermediate > 0 ? o->intermediate : def->inter > 0 ? def->inter : 4 * d->hidden;
  if (d->hidden % d->heads != 0)
    return pn_zb_fail(b, PN_ERR_INVALID, "hidden %lld is not divisible by heads %lld",
                      (long long)d->hidden, (long long)d->heads);
  if (d->layers > 1000)
    return pn_zb_fail(b, PN_ERR_INVALID, "layers %lld above 1000", (long long)d->layers);
  double H = (double)d->hidden, I = (double)d->inter;
  double params = (double)d->layers * (4 * H * H + 2 * H * I + 9 * H + I) + (double)embed_rows * H;
  if (params > (double)PN_ZOO_MAX_PARAMS)
    return pn_zb_fail(b, PN_ERR_INVALID, "%.3g parameters above the limit of %lld (fewer layers or "
                      "a smaller hidden size?)", params, (long long)PN_ZOO_MAX_PARAMS);
  int64_t four = 4, three = 3;
  int64_t head_shape[4] = {0, 0, d->heads, d->hidden / d->heads}, merge_shape[3] = {0, 0, d->hidden};
  pn_zb_i64(b, pn_zb_name(b, attn, "head_shape"), 1, &four, head_shape);
  pn_zb_i64(b, pn_zb_name(b, attn, "merge_shape"), 1, &three, merge_shape);
  float scale = (float)sqrt((double)(d->hidden / d->heads));
  pn_zb_const(b, pn_zb_name(b, attn, "scale"), 0, NULL, &scale);
  return b->status;
}

const char *pn_zb_heads(struct pn_zb *b, const char *x, const char *p, const char *head_shape, bool key) {
  static const int64_t perm_qv[4] = {0, 2, 1, 3}, perm_k[4] = {0, 2, 3, 1};
  const char *y = pn_zb_op2(b, "Reshape", pn_zb_name(b, p, "reshape"), x, head_shape);
  return pn_zb_transpose(b, pn_zb_name(b, p, "transpose"), y, 4, key ? perm_k : perm_qv);
}

const char *pn_zb_attention(struct pn_zb *b, const char *p, const char *q, const char *k, const char *v,
                            const char *scale, const char *mask, const char *merge_shape) {
  static const int64_t perm_qv[4] = {0, 2, 1, 3};
  const char *s = pn_zb_op2(b, "MatMul", pn_zb_name(b, p, "scores"), q, k);
  if (scale) s = pn_zb_op2(b, "Div", pn_zb_name(b, p, "scale"), s, scale);
  if (mask) s = pn_zb_op2(b, "Add", pn_zb_name(b, p, "causal"), s, mask);
  struct pn_node *sm = pn_zb_op(b, "Softmax", pn_zb_name(b, p, "softmax"), 1, &s, NULL);
  pn_zb_int(b, sm, "axis", -1);
  const char *c = pn_zb_op2(b, "MatMul", pn_zb_name(b, p, "context"), pn_zb_out(sm), v);
  c = pn_zb_transpose(b, pn_zb_name(b, p, "context.transpose"), c, 4, perm_qv);
  return pn_zb_op2(b, "Reshape", pn_zb_name(b, p, "context.reshape"), c, merge_shape);
}

const char *pn_zb_gelu_erf(struct pn_zb *b, const char *x, const char *p) {
  const char *g = pn_zb_op2(b, "Div", pn_zb_name(b, p, "gelu.div"), x,
                            pn_zb_scalar(b, "gelu.sqrt2", (float)sqrt(2.0)));
  g = pn_zb_out(pn_zb_op(b, "Erf", pn_zb_name(b, p, "gelu.erf"), 1, &g, NULL));
  g = pn_zb_op2(b, "Add", pn_zb_name(b, p, "gelu.add"), g, pn_zb_scalar(b, "gelu.one", 1.0f));
  g = pn_zb_op2(b, "Mul", pn_zb_name(b, p, "gelu.mul"), x, g);
  return pn_zb_op2(b, "Mul", pn_zb_name(b, p, "gelu.mul_1"), g, pn_zb_scalar(b, "gelu.half", 0.5f));
}
