/* fhe_test.h - what the FHE tests share: a seeded PRG, a small graph builder (Conv, pools, Gemm, BN, PAF
** nodes with static scales), the plaintext executor as the reference, and PAF versions of the reference
** models with scales measured on the executor. Define PN_TEST_NAME before including. */
#ifndef PN_FHE_TEST_H
#define PN_FHE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhe/fhe.h"
#include "graph/exec.h"
#include "graph/onnx.h"
#include "graph/paf.h"
#include "pn_test.h"
#include "util/util.h"

static struct pn_prg g_prg;

static inline int fhe_test_setup(void **state) {
  (void)state;
  return pn_prg_init_u64(NULL, &g_prg, pn_test_seed(PN_TEST_NAME, 16));
}
static inline int fhe_test_teardown(void **state) {
  (void)state;
  pn_prg_free(&g_prg);
  return 0;
}
static inline double urand(double lo, double hi) { return lo + (hi - lo) * pn_prg_double(&g_prg); }

/* ---- a graph builder: one chain from input "x" ---- */
struct gb {
  struct pn_graph *g;
  const char *cur;
  int k;
  char name[64];
};

static inline const char *gb_name(struct gb *b, const char *what) {
  snprintf(b->name, sizeof b->name, "%s%d", what, b->k++);
  return pn_arena_strdup(b->g->arena, b->name);
}

static inline void gb_init(struct gb *b, int64_t C, int64_t H, int64_t W) {
  memset(b, 0, sizeof *b);
  b->g = pn_graph_new();
  assert_non_null(b->g);
  b->g->name = "test";
  int64_t d[4] = {1, C, H, W};
  assert_non_null(pn_graph_add_input(b->g, "x", PN_DT_FLOAT, 4, d));
  b->cur = "x";
}

static inline const char *gb_rand_init(struct gb *b, const char *what, int ndim, const int64_t *dims, double lo,
                                       double hi) {
  const char *n = gb_name(b, what);
  struct pn_tensor *t = pn_graph_new_init(b->g, n, PN_DT_FLOAT, ndim, dims);
  assert_non_null(t);
  float *v = t->data;
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) v[i] = (float)urand(lo, hi);
  return n;
}

static inline struct pn_node *gb_node(struct gb *b, const char *op, int n_in, const char *const *in) {
  const char *out = gb_name(b, op);
  struct pn_node *n = pn_graph_add_node(b->g, op, out, n_in, in, 1, &out);
  assert_non_null(n);
  b->cur = n->out[0];
  return n;
}

static inline void gb_conv(struct gb *b, int64_t Ci, int64_t M, int64_t kh, int64_t kw, int64_t stride, int64_t pad,
                           int64_t group, int64_t dil) {
  int64_t wd[4] = {M, Ci / group, kh, kw}, bd[1] = {M};
  double r = 1.5 / sqrt((double)(Ci / group * kh * kw));
  const char *in[3] = {b->cur, gb_rand_init(b, "w", 4, wd, -r, r), gb_rand_init(b, "b", 1, bd, -0.2, 0.2)};
  struct pn_node *n = gb_node(b, "Conv", 3, in);
  int64_t s[2] = {stride, stride}, p[4] = {pad, pad, pad, pad}, d[2] = {dil, dil}, k[2] = {kh, kw};
  pn_node_set_ints(b->g, n, "strides", 2, s);
  pn_node_set_ints(b->g, n, "pads", 4, p);
  pn_node_set_ints(b->g, n, "dilations", 2, d);
  pn_node_set_ints(b->g, n, "kernel_shape", 2, k);
  pn_node_set_int(b->g, n, "group", group);
}

static inline void gb_bn(struct gb *b, int64_t C) {
  int64_t d[1] = {C};
  const char *in[5] = {b->cur, gb_rand_init(b, "g", 1, d, 0.5, 1.5), gb_rand_init(b, "be", 1, d, -0.3, 0.3),
                       gb_rand_init(b, "mu", 1, d, -0.3, 0.3), gb_rand_init(b, "var", 1, d, 0.5, 2)};
  gb_node(b, "BatchNormalization", 5, in);
}

static inline void gb_pool(struct gb *b, const char *op, int64_t k, int64_t s, int64_t pad, int64_t cip) {
  const char *in[1] = {b->cur};
  struct pn_node *n = gb_node(b, op, 1, in);
  if (!strcmp(op, "GlobalAveragePool")) return;
  int64_t kk[2] = {k, k}, ss[2] = {s, s}, p[4] = {pad, pad, pad, pad};
  pn_node_set_ints(b->g, n, "kernel_shape", 2, kk);
  pn_node_set_ints(b->g, n, "strides", 2, ss);
  pn_node_set_ints(b->g, n, "pads", 4, p);
  if (cip) pn_node_set_int(b->g, n, "count_include_pad", 1);
}

static inline void gb_flatten(struct gb *b) {
  const char *in[1] = {b->cur};
  pn_node_set_int(b->g, gb_node(b, "Flatten", 1, in), "axis", 1);
}

static inline void gb_gemm(struct gb *b, int64_t K, int64_t M) {
  int64_t wd[2] = {M, K}, bd[1] = {M};
  double r = 1.5 / sqrt((double)K);
  const char *in[3] = {b->cur, gb_rand_init(b, "w", 2, wd, -r, r), gb_rand_init(b, "b", 1, bd, -0.2, 0.2)};
  pn_node_set_int(b->g, gb_node(b, "Gemm", 3, in), "transB", 1);
}

/* PafRelu / PafMaxPool of form f with static scale s (made as Relu / MaxPool and replaced). */
static inline void gb_paf_relu(struct gb *b, enum pn_paf_form f, float s) {
  const char *in[1] = {b->cur};
  struct pn_node *n = gb_node(b, "Relu", 1, in);
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_paf_replace(&ctx, b->g, n, f, NULL, s), PN_OK);
}
static inline void gb_paf_maxpool(struct gb *b, enum pn_paf_form f, float sc, int64_t k, int64_t s, int64_t pad) {
  const char *in[1] = {b->cur};
  struct pn_node *n = gb_node(b, "MaxPool", 1, in);
  int64_t kk[2] = {k, k}, ss[2] = {s, s}, p[4] = {pad, pad, pad, pad};
  pn_node_set_ints(b->g, n, "kernel_shape", 2, kk);
  pn_node_set_ints(b->g, n, "strides", 2, ss);
  pn_node_set_ints(b->g, n, "pads", 4, p);
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_paf_replace(&ctx, b->g, n, f, NULL, sc), PN_OK);
}

/* Add(cur, other). */
static inline void gb_add(struct gb *b, const char *other) {
  const char *in[2] = {b->cur, other};
  gb_node(b, "Add", 2, in);
}

static inline struct pn_graph *gb_finish(struct gb *b) {
  assert_non_null(pn_graph_add_output(b->g, b->cur, PN_DT_FLOAT, -1, NULL));
  struct pn_ctx ctx = {0};
  int rc = pn_graph_validate(&ctx, b->g);
  if (rc) fprintf(stderr, "validate: %s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  return b->g;
}

/* ---- references ---- */

/* Elements of g's (single) input (its shape is always declared). */
static inline int64_t in_numel(struct pn_graph *g) {
  const struct pn_value *v = &g->inputs[0];
  int64_t n = 1;
  for (int i = 1; i < v->ndim; i++) n *= v->dims[i];
  return n;
}

/* The plaintext executor on x (batch 1); y gets the output, which must have n elements. */
static inline void exec_ref(struct pn_graph *model, const float *x, double *y, int64_t n) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = pn_graph_clone_batch(model, 1);
  assert_non_null(g);
  struct pn_exec *ex;
  int rc = pn_exec_new(&ctx, g, NULL, &ex);
  if (rc) fprintf(stderr, "exec: %s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  const struct pn_value *iv = pn_exec_input(ex, 0);
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, iv->ndim, iv->dims), *out[1] = {NULL};
  assert_non_null(t);
  memcpy(t->data, x, pn_tensor_nbytes(t));
  const struct pn_tensor *in[1] = {t};
  rc = pn_exec_run(&ctx, ex, in, out);
  if (rc) fprintf(stderr, "exec: %s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  assert_int_equal(pn_tensor_numel(out[0]), n);
  for (int64_t i = 0; i < n; i++) y[i] = ((const float *)out[0]->data)[i];
  pn_tensor_free(out[0]);
  pn_tensor_free(t);
  pn_exec_free(ex);
  pn_graph_free(g);
}

/* max |a - b| / (1 + max |b|) */
static inline double rel_err(const double *a, const double *b, int64_t n) {
  double e = 0, m = 0;
  for (int64_t i = 0; i < n; i++) {
    e = fmax(e, fabs(a[i] - b[i]));
    m = fmax(m, fabs(b[i]));
  }
  return e / (1 + m);
}

/* ---- PAF versions of the reference models ---- */
struct scale_obs {
  struct pn_graph *g;
  float *mx;                   /* per node index */
};
static inline void obs_max(void *user, const struct pn_node *node, const struct pn_tensor *const *in, int n_in,
                           const struct pn_tensor *const *out, int n_out) {
  struct scale_obs *o = user;
  (void)n_in, (void)out, (void)n_out;
  for (int k = 0; k < o->g->n_nodes; k++)
    if (o->g->nodes[k] == node && pn_paf_site_kind(node) >= 0) {
      const float *v = in[0]->data;
      for (int64_t i = 0; i < pn_tensor_numel(in[0]); i++) o->mx[k] = fmaxf(o->mx[k], fabsf(v[i]));
    }
}

/* models/NAME.onnx with every Relu/MaxPool replaced by form f, static scales = 1.25 max |x| over `count`
** random normal inputs. */
static inline struct pn_graph *paf_model(const char *name, enum pn_paf_form f, int count) {
  char path[512];
  snprintf(path, sizeof path, "%s/models/%s.onnx", PN_SOURCE_DIR, name);
  struct pn_ctx ctx = {0};
  struct pn_graph *m, *g;
  assert_int_equal(pn_onnx_load_file(&ctx, path, &m), PN_OK);
  g = pn_graph_clone_batch(m, 1);
  pn_graph_free(m);
  assert_non_null(g);
  struct scale_obs o = {g, calloc((size_t)g->n_nodes, sizeof(float))};
  struct pn_exec_opts eo = {.observer = obs_max, .observer_user = &o};
  struct pn_exec *ex;
  assert_int_equal(pn_exec_new(&ctx, g, &eo, &ex), PN_OK);
  const struct pn_value *iv = pn_exec_input(ex, 0);
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, iv->ndim, iv->dims);
  for (int r = 0; r < count; r++) {
    float *v = t->data;
    for (int64_t i = 0; i < pn_tensor_numel(t); i++) v[i] = (float)(pn_prg_normal(&g_prg) * 0.8);
    const struct pn_tensor *in[1] = {t};
    struct pn_tensor *out[1] = {NULL};
    assert_int_equal(pn_exec_run(&ctx, ex, in, out), PN_OK);
    pn_tensor_free(out[0]);
  }
  pn_tensor_free(t);
  pn_exec_free(ex);
  int nn = g->n_nodes;
  struct pn_node **nodes = malloc((size_t)nn * sizeof *nodes);
  memcpy(nodes, g->nodes, (size_t)nn * sizeof *nodes);
  for (int k = 0; k < nn; k++)
    if (pn_paf_site_kind(nodes[k]) >= 0) {
      float s = 1.25f * (o.mx[k] > 0 ? o.mx[k] : 1);
      if (pn_paf_site_kind(nodes[k]) == PN_PAF_MAXPOOL) s *= 2; /* |a - b| <= 2 max |x| */
      int rc = pn_paf_replace(&ctx, g, nodes[k], f, NULL, s);
      if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
      assert_int_equal(rc, PN_OK);
    }
  free(nodes);
  free(o.mx);
  assert_int_equal(pn_graph_validate(&ctx, g), PN_OK);
  return g;
}

#endif
