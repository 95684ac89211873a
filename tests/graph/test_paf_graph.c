/* test_paf_graph.c - PAF nodes in graphs: Relu/MaxPool replaced in a small residual CNN and run by
** the executor; expansion to standard ops gives the same outputs; static scales and ReLU's 1/2
** folded into linear layers give the same outputs; fused and unfused execution agree; ONNX
** round trip; and malformed ai.privnn nodes refused with errors naming the node and field.
** The seed is printed; PN_TEST_SEED=S replays a run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/exec.h"
#include "graph/ir.h"
#include "graph/onnx.h"
#include "graph/paf.h"
#include "pn_test.h"
#include "util/util.h"

static struct pn_prg g_prg;

static double urand(double lo, double hi) { return lo + (hi - lo) * pn_prg_double(&g_prg); }

static void rand_init(struct pn_graph *g, const char *name, int ndim, const int64_t *dims, double lo, double hi) {
  struct pn_tensor *t = pn_graph_new_init(g, name, PN_DT_FLOAT, ndim, dims);
  assert_non_null(t);
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) ((float *)t->data)[i] = (float)urand(lo, hi);
}

static struct pn_node *node(struct pn_graph *g, const char *op, const char *name, int n_in, const char **in,
                            const char *out) {
  struct pn_node *n = pn_graph_add_node(g, op, name, n_in, in, 1, &out);
  assert_non_null(n);
  return n;
}

static void ints2(struct pn_graph *g, struct pn_node *n, const char *a, int64_t v) {
  int64_t x[2] = {v, v};
  assert_int_equal(pn_node_set_ints(g, n, a, 2, x), PN_OK);
}

/* conv1(2->4, 3x3 pad 1)+bias, BN, Relu, MaxPool 2x2, conv2(4->4, 3x3 pad 1), BN, + shortcut, Relu,
** AveragePool 2x2, Flatten, Gemm(16 -> 3): both kinds of site, a residual Add, every linear kind */
static struct pn_graph *small_cnn(void) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t in_d[4] = {-1, 2, 8, 8}, out_d[2] = {-1, 3};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, in_d));
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 2, out_d));
  rand_init(g, "w1", 4, (int64_t[]){4, 2, 3, 3}, -0.5, 0.5);
  rand_init(g, "b1", 1, (int64_t[]){4}, -0.2, 0.2);
  rand_init(g, "w2", 4, (int64_t[]){4, 4, 3, 3}, -0.4, 0.4);
  const char *bn[2][4] = {{"s1", "o1", "m1", "v1"}, {"s2", "o2", "m2", "v2"}};
  for (int k = 0; k < 2; k++) {
    rand_init(g, bn[k][0], 1, (int64_t[]){4}, 0.5, 1.5);
    rand_init(g, bn[k][1], 1, (int64_t[]){4}, -0.3, 0.3);
    rand_init(g, bn[k][2], 1, (int64_t[]){4}, -0.2, 0.2);
    rand_init(g, bn[k][3], 1, (int64_t[]){4}, 0.5, 2.0);
  }
  rand_init(g, "wf", 2, (int64_t[]){3, 16}, -0.5, 0.5);
  rand_init(g, "bf", 1, (int64_t[]){3}, -0.1, 0.1);
  const char *c1[] = {"x", "w1", "b1"};
  struct pn_node *n = node(g, "Conv", "conv1", 3, c1, "c1");
  ints2(g, n, "kernel_shape", 3);
  assert_int_equal(pn_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}), PN_OK);
  const char *bn1[] = {"c1", "s1", "o1", "m1", "v1"};
  node(g, "BatchNormalization", "bn1", 5, bn1, "n1");
  const char *r1[] = {"n1"};
  node(g, "Relu", "relu1", 1, r1, "r1");
  const char *p1[] = {"r1"};
  n = node(g, "MaxPool", "pool1", 1, p1, "p1");
  ints2(g, n, "kernel_shape", 2);
  ints2(g, n, "strides", 2);
  const char *c2[] = {"p1", "w2"};
  n = node(g, "Conv", "conv2", 2, c2, "c2");
  ints2(g, n, "kernel_shape", 3);
  assert_int_equal(pn_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}), PN_OK);
  const char *bn2[] = {"c2", "s2", "o2", "m2", "v2"};
  node(g, "BatchNormalization", "bn2", 5, bn2, "n2");
  const char *ad[] = {"n2", "p1"};
  node(g, "Add", "add", 2, ad, "a");
  const char *r2[] = {"a"};
  node(g, "Relu", "relu2", 1, r2, "r2");
  const char *ap[] = {"r2"};
  n = node(g, "AveragePool", "avg", 1, ap, "q");
  ints2(g, n, "kernel_shape", 2);
  ints2(g, n, "strides", 2);
  const char *fl[] = {"q"};
  node(g, "Flatten", "flat", 1, fl, "f");
  const char *gm[] = {"f", "wf", "bf"};
  n = node(g, "Gemm", "fc", 3, gm, "y");
  assert_int_equal(pn_node_set_int(g, n, "transB", 1), PN_OK);
  return g;
}

/* max |input| of every Relu/MaxPool over a run (an observer), for static scales that cover it */
struct site_max {
  float m[8];
  const struct pn_graph *g;
};

static void observe(void *user, const struct pn_node *node, const struct pn_tensor *const *in, int n_in,
                    const struct pn_tensor *const *out, int n_out) {
  struct site_max *sm = user;
  for (int i = 0, k = 0; i < sm->g->n_nodes; i++) {
    if (pn_paf_site_kind(sm->g->nodes[i]) < 0) continue;
    if (sm->g->nodes[i] == node) sm->m[k] = fmaxf(sm->m[k], pn_paf_dynamic_scale(in[0]->data, pn_tensor_numel(in[0])));
    k++;
  }
}

static struct pn_tensor *input(int64_t n);

/* Replace every Relu/MaxPool of g by form f (coefficients moved a little, so that folding and
** expansion see non-base values); static scales 2-3 times the largest input of a run over 8
** images (minimax27 turns to inf just past 1: the margin keeps other inputs inside), else dynamic. */
static void pafify(struct pn_graph *g, enum pn_paf_form f, bool statics) {
  struct pn_ctx ctx = {0};
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  struct site_max sm = {{0}, g};
  if (statics) {
    struct pn_exec_opts eo = {.observer = observe, .observer_user = &sm};
    struct pn_exec *ex = NULL;
    assert_int_equal(pn_exec_new(&ctx, g, &eo, &ex), PN_OK);
    struct pn_tensor *x = input(8), *out = NULL;
    const struct pn_tensor *in[1] = {x};
    assert_int_equal(pn_exec_run(&ctx, ex, in, &out), PN_OK);
    pn_tensor_free(x);
    pn_tensor_free(out);
    pn_exec_free(ex);
  }
  for (int i = 0, k = 0; i < g->n_nodes; i++) {
    if (pn_paf_site_kind(g->nodes[i]) < 0) continue;
    float c[PN_PAF_MAX_COEFFS];
    for (int j = 0; j < pn_paf_n_coeffs(f); j++) c[j] = (float)(d->base[j] * urand(0.9999, 1.0001));
    float s = statics ? sm.m[k] * (float)urand(2, 3) : 0;
    assert_int_equal(pn_paf_replace(&ctx, g, g->nodes[i], f, c, s), PN_OK);
    k++;
  }
}

static struct pn_tensor *input(int64_t n) {
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, 4, (int64_t[]){n, 2, 8, 8});
  assert_non_null(t);
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) ((float *)t->data)[i] = (float)urand(-1.5, 1.5);
  return t;
}

static struct pn_tensor *run(struct pn_graph *g, const struct pn_tensor *x, bool no_fuse) {
  struct pn_ctx ctx = {0};
  struct pn_exec_opts eo = {.no_fuse = no_fuse};
  struct pn_exec *ex = NULL;
  int rc = pn_exec_new(&ctx, g, &eo, &ex);
  if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  struct pn_tensor *out = NULL;
  const struct pn_tensor *in[1] = {x};
  rc = pn_exec_run(&ctx, ex, in, &out);
  if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  pn_exec_free(ex);
  return out;
}

/* max |a - b| / max(1, max |b|) */
static double rel_diff(const struct pn_tensor *a, const struct pn_tensor *b) {
  assert_true(pn_tensor_same_shape(a, b));
  double mag = 1, err = 0;
  for (int64_t i = 0; i < pn_tensor_numel(a); i++) {
    double x = ((const float *)a->data)[i], y = ((const float *)b->data)[i];
    mag = fmax(mag, fabs(y));
    double d = fabs(x - y);
    if (!(d <= err)) err = d;
  }
  return err / mag;
}

static struct pn_graph *clone(const struct pn_graph *g) {
  struct pn_graph *c = pn_graph_clone(g);
  assert_non_null(c);
  return c;
}

/* the PAF model against the original: close (the forms approximate ReLU and max), not equal */
static void test_replace_and_run(void **state) {
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++) {
    struct pn_graph *g = small_cnn(), *p = clone(g);
    pafify(p, f, true);
    struct pn_tensor *x = input(3), *y0 = run(g, x, false), *y1 = run(p, x, false), *y2 = run(p, x, true);
    double d_fuse = rel_diff(y1, y2), d_orig = rel_diff(y1, y0);
    printf("  %-10s PAF vs original %.3g, fused vs unfused %.2g\n", pn_paf_form_name(f), d_orig, d_fuse);
    assert_true(d_fuse < 1e-5);
    assert_true(d_orig > 1e-4 && isfinite(d_orig)); /* a different model, not a broken one */
    int n_paf = 0;
    for (int i = 0; i < p->n_nodes; i++) n_paf += pn_paf_node_kind(p->nodes[i]) >= 0;
    assert_int_equal(n_paf, 3);
    assert_int_equal(pn_graph_opset(p, PN_PAF_DOMAIN), 1);
    pn_tensor_free(x);
    pn_tensor_free(y0);
    pn_tensor_free(y1);
    pn_tensor_free(y2);
    pn_graph_free(g);
    pn_graph_free(p);
  }
}

static void test_expand(void **state) {
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++)
    for (int statics = 0; statics < 2; statics++) {
      struct pn_ctx ctx = {0};
      struct pn_graph *p = small_cnn();
      pafify(p, f, statics);
      assert_int_equal(pn_graph_infer_shapes(&ctx, p), PN_OK);
      struct pn_graph *e = clone(p);
      int count = 0;
      int rc = pn_paf_expand(&ctx, e, &count);
      if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
      assert_int_equal(rc, PN_OK);
      assert_int_equal(count, 3);
      for (int i = 0; i < e->n_nodes; i++) {
        const char *dom = e->nodes[i]->domain;
        assert_true(!dom || !*dom || !strcmp(dom, "ai.onnx"));
      }
      assert_int_equal(pn_graph_opset(e, PN_PAF_DOMAIN), 0);
      /* a batch of several images: the dynamic scale spans the whole batch in both */
      struct pn_tensor *x = input(4), *y1 = run(p, x, false), *y2 = run(e, x, false);
      double d = rel_diff(y2, y1);
      if (!(d <= 1e-5)) printf("  %s %s: expanded vs PAF nodes %.3g\n", pn_paf_form_name(f), statics ? "static" : "dynamic", d);
      assert_true(d < 1e-5);
      /* and through ONNX bytes */
      uint8_t *buf = NULL;
      size_t n = 0;
      struct pn_graph *back = NULL;
      assert_int_equal(pn_onnx_save(&ctx, e, &buf, &n), PN_OK);
      assert_int_equal(pn_onnx_load(&ctx, buf, n, &back), PN_OK);
      struct pn_tensor *y3 = run(back, x, false);
      assert_true(rel_diff(y3, y2) == 0);
      free(buf);
      pn_graph_free(back);
      pn_tensor_free(x);
      pn_tensor_free(y1);
      pn_tensor_free(y2);
      pn_tensor_free(y3);
      pn_graph_free(p);
      pn_graph_free(e);
    }
}

static void test_fold(void **state) {
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++) {
    struct pn_ctx ctx = {0};
    struct pn_graph *p = small_cnn();
    pafify(p, f, true);
    struct pn_graph *q = clone(p);
    struct pn_paf_fold_report fr;
    int rc = pn_paf_fold_scales(&ctx, q, &fr);
    if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    /* relu1 reads BN1 (free), pool1 reads relu1's output (free: relu1's gain takes the rest),
    ** relu2 reads Add(bn2, pool1): that group is pool1's output group, fixed by pool1's scale */
    assert_int_equal(fr.paf_nodes, 3);
    assert_true(fr.unit_scale >= 2);
    struct pn_tensor *x = input(5), *y1 = run(p, x, false), *y2 = run(q, x, false);
    double d = rel_diff(y2, y1);
    printf("  %-10s folded: %d of 3 at scale 1, %d ReLU at gain 1; logits differ by %.2g\n", pn_paf_form_name(f),
           fr.unit_scale, fr.unit_gain, d);
    assert_true(d < 1e-4);
    /* something did move: the BN and conv parameters are not the same any more */
    assert_true(memcmp(pn_graph_find_init(p, "s1")->data, pn_graph_find_init(q, "s1")->data, 16) != 0);
    pn_tensor_free(x);
    pn_tensor_free(y1);
    pn_tensor_free(y2);
    pn_graph_free(p);
    pn_graph_free(q);
  }
  /* dynamic scales are left alone: nothing to fold, outputs unchanged */
  struct pn_ctx ctx = {0};
  struct pn_graph *p = small_cnn();
  pafify(p, PN_PAF_F1G2, false);
  struct pn_graph *q = clone(p);
  struct pn_paf_fold_report fr;
  assert_int_equal(pn_paf_fold_scales(&ctx, q, &fr), PN_OK);
  assert_int_equal(fr.unit_scale, 0);
  struct pn_tensor *x = input(2), *y1 = run(p, x, false), *y2 = run(q, x, false);
  assert_true(rel_diff(y2, y1) < 1e-4);
  pn_tensor_free(x);
  pn_tensor_free(y1);
  pn_tensor_free(y2);
  pn_graph_free(p);
  pn_graph_free(q);
}

/* a PAF node whose attribute/input is broken must be refused naming the node */
static void expect_invalid(struct pn_graph *g, const char *needle) {
  struct pn_ctx ctx = {0};
  struct pn_exec *ex = NULL;
  int rc = pn_exec_new(&ctx, g, NULL, &ex);
  if (rc == PN_OK) {
    struct pn_tensor *x = input(1), *out = NULL;
    const struct pn_tensor *in[1] = {x};
    rc = pn_exec_run(&ctx, ex, in, &out);
    pn_tensor_free(x);
    pn_tensor_free(out);
    pn_exec_free(ex);
  }
  printf("  refused: %s\n", pn_errmsg(&ctx));
  assert_true(rc != PN_OK);
  assert_non_null(strstr(pn_errmsg(&ctx), needle));
}

static struct pn_node *find(struct pn_graph *g, const char *name) {
  for (int i = 0; i < g->n_nodes; i++)
    if (!strcmp(g->nodes[i]->name, name)) return g->nodes[i];
  fail();
  return NULL;
}

static void test_bad_nodes(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = small_cnn();
  pafify(g, PN_PAF_F1G2, true);
  struct pn_node *r1 = find(g, "relu1"), *p1 = find(g, "pool1");
  /* unknown form */
  assert_int_equal(pn_node_set_string(g, r1, "form", "f9g9"), PN_OK);
  expect_invalid(g, "'relu1' (PafRelu): unknown form 'f9g9'");
  assert_int_equal(pn_node_set_string(g, r1, "form", "f1g2"), PN_OK);
  /* coefficients of another form's length */
  assert_int_equal(pn_node_set_string(g, r1, "form", "f2g3"), PN_OK);
  expect_invalid(g, "'relu1' (PafRelu): coefficients C must be a vector of 7 floats");
  assert_int_equal(pn_node_set_string(g, r1, "form", "f1g2"), PN_OK);
  /* kernel_shape of the wrong length, pads as wide as the kernel, an unknown attribute */
  assert_int_equal(pn_node_set_ints(g, p1, "kernel_shape", 3, (int64_t[]){2, 2, 2}), PN_OK);
  expect_invalid(g, "'pool1' (PafMaxPool): attribute 'kernel_shape' has 3 entries, must have 2");
  assert_int_equal(pn_node_set_ints(g, p1, "kernel_shape", 2, (int64_t[]){2, 2}), PN_OK);
  assert_int_equal(pn_node_set_ints(g, p1, "pads", 4, (int64_t[]){2, 0, 0, 0}), PN_OK);
  expect_invalid(g, "'pool1' (PafMaxPool): attribute 'pads'");
  assert_int_equal(pn_node_set_ints(g, p1, "pads", 4, (int64_t[]){0, 0, 0, 0}), PN_OK);
  assert_int_equal(pn_node_set_int(g, p1, "ceil_mode", 1), PN_OK);
  expect_invalid(g, "'pool1' (PafMaxPool): unknown attribute 'ceil_mode'");
  p1->n_attr--; /* drop it again */
  /* a non-positive static scale */
  ((float *)pn_graph_find_init(g, r1->in[2])->data)[0] = -2;
  expect_invalid(g, "'relu1' (PafRelu): scale S must be positive");
  ((float *)pn_graph_find_init(g, r1->in[2])->data)[0] = 2;
  /* the graph is good again */
  struct pn_tensor *x = input(1), *y = run(g, x, false);
  pn_tensor_free(x);
  pn_tensor_free(y);
  /* parse: C must be an initializer of the right length */
  struct pn_paf_node pn;
  assert_int_equal(pn_paf_node_parse(&ctx, g, r1, &pn), PN_OK);
  assert_int_equal(pn.form, PN_PAF_F1G2);
  assert_true(pn.scale && pn.coeffs && pn.gain == 0.5f);
  r1->in[1] = "r1"; /* a node output, not an initializer */
  assert_int_equal(pn_paf_node_parse(&ctx, g, r1, &pn), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "'relu1' (PafRelu): coefficients 'r1' must be an initializer"));
  pn_graph_free(g);
  /* replace refuses what has no PAF form */
  g = small_cnn();
  struct pn_node *mp = find(g, "pool1");
  assert_int_equal(pn_node_set_ints(g, mp, "dilations", 2, (int64_t[]){2, 2}), PN_OK);
  assert_int_equal(pn_paf_replace(&ctx, g, mp, PN_PAF_F1G2, NULL, 0), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "'pool1' (MaxPool): dilations"));
  assert_int_equal(pn_paf_replace(&ctx, g, find(g, "conv1"), PN_PAF_F1G2, NULL, 0), PN_ERR_INVALID);
  pn_graph_free(g);
}

/* ONNX round trip keeps the domain, the attributes, C and S; outputs identical */
static void test_onnx_roundtrip(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = small_cnn();
  pafify(g, PN_PAF_ALPHA7, true);
  uint8_t *buf = NULL;
  size_t n = 0;
  struct pn_graph *back = NULL;
  assert_int_equal(pn_onnx_save(&ctx, g, &buf, &n), PN_OK);
  assert_int_equal(pn_onnx_load(&ctx, buf, n, &back), PN_OK);
  struct pn_node *r = find(back, "relu2");
  assert_string_equal(r->domain, "ai.privnn");
  assert_string_equal(r->op_type, "PafRelu");
  struct pn_paf_node pn;
  assert_int_equal(pn_paf_node_parse(&ctx, back, r, &pn), PN_OK);
  assert_int_equal(pn.form, PN_PAF_ALPHA7);
  struct pn_tensor *x = input(2), *y1 = run(g, x, false), *y2 = run(back, x, false);
  assert_true(rel_diff(y2, y1) == 0);
  pn_tensor_free(x);
  pn_tensor_free(y1);
  pn_tensor_free(y2);
  free(buf);
  pn_graph_free(back);
  pn_graph_free(g);
}

int main(void) {
  struct pn_ctx ctx = {0};
  if (pn_prg_init_u64(&ctx, &g_prg, pn_test_seed("test_paf_graph", 1))) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_replace_and_run), cmocka_unit_test(test_expand),   cmocka_unit_test(test_fold),
      cmocka_unit_test(test_bad_nodes),       cmocka_unit_test(test_onnx_roundtrip),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pn_prg_free(&g_prg);
  return rc;
}
