/* test_zoo.c - the model zoo and graph statistics: published parameter counts and MACs, shapes,
** determinism, validation, and a BERT encoder checked against a naive reference implementation.
**
** Reference figures are torchvision's and Hugging Face's published counts (not privnn output):
** resnet18 11,689,512 parameters / 1.814 GMACs, resnet50 25,557,032 / 4.09 G (v1.5),
** vgg11_bn 132,868,840 / 7.61 G, mobilenet_v2 3,504,872, BERT-base encoder 85,054,464. */
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
#include "graph/stats.h"
#include "graph/zoo.h"
#include "util/util.h"
#include "zoo_test.h"

static struct pn_graph *build(const char *name, int64_t n, int64_t c, int64_t h, int64_t w,
                              int64_t classes, uint64_t seed) {
  struct pn_ctx ctx = {0};
  struct pn_zoo_opts o = {.ndim = 4, .dims = {n, c, h, w}, .num_classes = classes, .seed = seed};
  struct pn_graph *g = NULL;
  int rc = pn_zoo_build(&ctx, name, &o, &g);
  if (rc != PN_OK) fprintf(stderr, "%s: %s\n", name, pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  assert_non_null(g);
  rc = pn_graph_validate(&ctx, g);
  if (rc != PN_OK) fprintf(stderr, "%s: %s\n", name, pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  return g;
}

static void test_names_and_errors(void **state) {
  const char *const *names = pn_zoo_names();
  const char *want[] = {"resnet18", "resnet50", "vgg11", "mobilenetv2", "bert"};
  for (size_t i = 0; i < 5; i++) {
    bool found = false;
    for (int j = 0; names[j]; j++) found |= !strcmp(names[j], want[i]);
    assert_true(found);
  }
  struct pn_ctx ctx = {0};
  struct pn_graph *g = (struct pn_graph *)1;
  assert_int_equal(pn_zoo_build(&ctx, "resnet19", NULL, &g), PN_ERR_INVALID);
  assert_null(g);
  assert_non_null(strstr(pn_errmsg(&ctx), "resnet19"));
  /* five 2x2 pools cannot fit in 28x28: VGG must refuse rather than build an empty map */
  struct pn_zoo_opts o = {.ndim = 4, .dims = {1, 1, 28, 28}};
  assert_int_equal(pn_zoo_build(&ctx, "vgg11", &o, &g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "too small"));
  o.dims[2] = 0;
  assert_int_equal(pn_zoo_build(&ctx, "resnet18", &o, &g), PN_ERR_INVALID);
  o = (struct pn_zoo_opts){.ndim = 3, .dims = {3, 32, 32}};
  assert_int_equal(pn_zoo_build(&ctx, "resnet18", &o, &g), PN_ERR_INVALID);
  o = (struct pn_zoo_opts){.hidden = 10, .heads = 3, .layers = 1, .seq = 4};
  assert_int_equal(pn_zoo_build(&ctx, "bert", &o, &g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "heads"));
  /* sizes that would need absurd memory are refused up front, not attempted */
  o = (struct pn_zoo_opts){.layers = 1000, .hidden = 65536, .heads = 1};
  assert_int_equal(pn_zoo_build(&ctx, "bert", &o, &g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "parameters"));
  o = (struct pn_zoo_opts){.ndim = 4, .dims = {1, 3, 16384, 16384}};
  assert_int_equal(pn_zoo_build(&ctx, "vgg11", &o, &g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "classifier.0.weight"));
  o = (struct pn_zoo_opts){.ndim = 4, .dims = {(int64_t)1 << 40, 3, 32, 32}};
  assert_int_equal(pn_zoo_build(&ctx, "resnet18", &o, &g), PN_ERR_INVALID);
  assert_null(g);
}

static void check_output(const struct pn_graph *g, int64_t n, int64_t classes) {
  assert_int_equal(g->n_outputs, 1);
  assert_int_equal(g->outputs[0].ndim, 2);
  assert_int_equal(g->outputs[0].dims[0], n);
  assert_int_equal(g->outputs[0].dims[1], classes);
}

static void test_param_counts(void **state) {
  struct pn_graph *g = build("resnet18", 1, 3, 32, 32, 1000, 1);
  assert_int_equal(trainable(g), 11689512);
  assert_non_null(pn_graph_find_init(g, "layer2.0.downsample.1.running_var"));
  assert_non_null(pn_graph_find_init(g, "fc.weight"));
  assert_null(pn_graph_find_init(g, "layer1.0.downsample.0.weight")); /* no downsample in layer1 */
  check_output(g, 1, 1000);
  /* stats count every initializer: trainable + BN running mean/var (2 per BN channel) */
  struct pn_ctx ctx = {0};
  struct pn_stats s;
  assert_int_equal(pn_graph_stats(&ctx, g, &s), PN_OK);
  int64_t bn_ch = 0;
  for (int i = 0; i < g->n_inits; i++)
    if (ends_with(g->inits[i]->name, ".running_mean")) bn_ch += pn_tensor_numel(g->inits[i]);
  assert_int_equal(s.params, 11689512 + 2 * bn_ch);
  assert_int_equal(s.param_bytes, 4 * s.params);
  pn_stats_free(&s);
  pn_graph_free(g);

  g = build("resnet50", 2, 3, 32, 32, 1000, 1);
  assert_int_equal(trainable(g), 25557032);
  assert_non_null(pn_graph_find_init(g, "layer1.0.downsample.0.weight")); /* 64 -> 256 */
  check_output(g, 2, 1000);
  pn_graph_free(g);

  g = build("mobilenetv2", 1, 3, 32, 32, 1000, 1);
  assert_int_equal(trainable(g), 3504872);
  check_output(g, 1, 1000);
  pn_graph_free(g);

  /* vgg11_bn at 32x32: the classifier sees a 1x1 map, so classifier.0 has 512 instead of
  ** 512*7*7 = 25088 inputs than at 224x224 */
  g = build("vgg11", 1, 3, 32, 32, 1000, 1);
  assert_int_equal(trainable(g), 132868840 - (int64_t)(25088 - 512) * 4096);
  check_output(g, 1, 1000);
  pn_graph_free(g);

  /* BERT-base encoder: 12 layers of hidden 768 (seq does not change the count) */
  struct pn_zoo_opts o = {.seq = 8};
  assert_int_equal(pn_zoo_build(&ctx, "bert", &o, &g), PN_OK);
  assert_int_equal(pn_graph_validate(&ctx, g), PN_OK);
  assert_int_equal(trainable(g), 85054464);
  assert_int_equal(g->outputs[0].ndim, 3);
  assert_int_equal(g->outputs[0].dims[1], 8);
  assert_int_equal(g->outputs[0].dims[2], 768);
  pn_graph_free(g);
}

static void test_small_inputs(void **state) {
  /* Fashion-MNIST-sized input: one channel, 28x28 */
  struct pn_graph *g = build("resnet18", 1, 1, 28, 28, 10, 3);
  const struct pn_tensor *w = pn_graph_find_init(g, "conv1.weight");
  assert_non_null(w);
  assert_int_equal(w->dims[1], 1);
  check_output(g, 1, 10);
  pn_graph_free(g);
  g = build("mobilenetv2", 1, 1, 28, 28, 10, 3);
  check_output(g, 1, 10);
  pn_graph_free(g);
  g = build("vgg11", 4, 3, 64, 48, 10, 3); /* 2x1 final map */
  assert_int_equal(pn_graph_find_init(g, "classifier.0.weight")->dims[1], 512 * 2 * 1);
  check_output(g, 4, 10);
  pn_graph_free(g);
}

static double sum_abs_diff(const struct pn_graph *a, const struct pn_graph *b) {
  assert_int_equal(a->n_inits, b->n_inits);
  double d = 0;
  for (int i = 0; i < a->n_inits; i++) {
    assert_string_equal(a->inits[i]->name, b->inits[i]->name);
    assert_true(pn_tensor_same_shape(a->inits[i], b->inits[i]));
    for (int64_t k = 0; k < pn_tensor_numel(a->inits[i]); k++)
      d += fabs(pn_tensor_get_f64(a->inits[i], k) - pn_tensor_get_f64(b->inits[i], k));
  }
  return d;
}

static void test_determinism_and_init(void **state) {
  struct pn_graph *a = build("resnet18", 1, 3, 32, 32, 10, 7);
  struct pn_graph *b = build("resnet18", 1, 3, 32, 32, 10, 7);
  struct pn_graph *c = build("resnet18", 1, 3, 32, 32, 10, 8);
  assert_true(sum_abs_diff(a, b) == 0.0);
  assert_true(sum_abs_diff(a, c) > 1.0);
  /* He-normal: conv weight std close to sqrt(2 / fan_in), mean close to 0 */
  const struct pn_tensor *w = pn_graph_find_init(a, "layer3.1.conv2.weight"); /* 256x256x3x3 */
  int64_t n = pn_tensor_numel(w);
  double s1 = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = ((const float *)w->data)[i];
    s1 += x;
    s2 += x * x;
  }
  double mean = s1 / (double)n, sd = sqrt(s2 / (double)n - mean * mean), want = sqrt(2.0 / (256 * 9));
  assert_true(fabs(mean) < 0.01 * want * 10);
  assert_true(fabs(sd / want - 1.0) < 0.01);
  /* BatchNorm is not the identity: gamma near 1 but not all 1, var positive */
  const struct pn_tensor *gm = pn_graph_find_init(a, "bn1.weight");
  const struct pn_tensor *var = pn_graph_find_init(a, "bn1.running_var");
  int not_one = 0;
  for (int i = 0; i < 64; i++) {
    double x = ((const float *)gm->data)[i];
    not_one += x != 1.0;
    assert_true(x > 0.4 && x < 1.6);
    assert_true(((const float *)var->data)[i] > 0.5f);
  }
  assert_true(not_one > 60);
  pn_graph_free(a);
  pn_graph_free(b);
  pn_graph_free(c);
}

/* A hand-made graph: grouped conv, Gemm with transA, batched MatMul, and a Relu. */
static void test_stats_macs_by_hand(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = pn_graph_new();
  int64_t xd[4] = {2, 4, 9, 9}, wd[4] = {6, 2, 3, 3};
  pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd);
  pn_graph_new_init(g, "w", PN_DT_FLOAT, 4, wd);
  const char *cin[2] = {"x", "w"}, *cout[1] = {"y"};
  struct pn_node *n = pn_graph_add_node(g, "Conv", "conv", 2, cin, 1, cout);
  int64_t st[2] = {2, 2}, pads[4] = {1, 1, 1, 1}, ks[2] = {3, 3};
  pn_node_set_ints(g, n, "strides", 2, st);
  pn_node_set_ints(g, n, "pads", 4, pads);
  pn_node_set_ints(g, n, "kernel_shape", 2, ks);
  pn_node_set_int(g, n, "group", 2);
  const char *rin[1] = {"y"}, *rout[1] = {"r"};
  pn_graph_add_node(g, "Relu", "relu", 1, rin, 1, rout);
  /* Gemm: A [7, 5] with transA -> M = 5, K = 7; B [7, 3] -> N = 3 */
  int64_t ad[2] = {7, 5}, bd[2] = {7, 3};
  pn_graph_add_input(g, "a", PN_DT_FLOAT, 2, ad);
  pn_graph_new_init(g, "b", PN_DT_FLOAT, 2, bd);
  const char *gin[2] = {"a", "b"}, *gout[1] = {"gm"};
  n = pn_graph_add_node(g, "Gemm", "gemm", 2, gin, 1, gout);
  pn_node_set_int(g, n, "transA", 1);
  /* MatMul: [3, 4, 6] x [6, 2] */
  int64_t pd[3] = {3, 4, 6}, qd[2] = {6, 2};
  pn_graph_add_input(g, "p", PN_DT_FLOAT, 3, pd);
  pn_graph_new_init(g, "q", PN_DT_FLOAT, 2, qd);
  const char *min[2] = {"p", "q"}, *mout[1] = {"mm"};
  pn_graph_add_node(g, "MatMul", "mm", 2, min, 1, mout);
  pn_graph_add_output(g, "r", PN_DT_FLOAT, -1, NULL);
  pn_graph_add_output(g, "gm", PN_DT_FLOAT, -1, NULL);
  pn_graph_add_output(g, "mm", PN_DT_FLOAT, -1, NULL);

  struct pn_stats s;
  assert_int_equal(pn_graph_stats(&ctx, g, &s), PN_OK);
  if (!s.shapes_known) fprintf(stderr, "%s\n", s.shape_error);
  assert_true(s.shapes_known);
  assert_false(s.macs_partial);
  /* naive loop count of the conv's multiply-accumulates */
  int64_t conv = 0;
  int64_t oh = (9 + 2 - 3) / 2 + 1;
  for (int64_t b = 0; b < 2; b++)
    for (int64_t co = 0; co < 6; co++)
      for (int64_t y = 0; y < oh; y++)
        for (int64_t x = 0; x < oh; x++)
          for (int64_t ci = 0; ci < 4 / 2; ci++)
            for (int64_t k = 0; k < 9; k++) conv++;
  int64_t gemm = 5 * 3 * 7, mm = 3 * 4 * 2 * 6;
  assert_int_equal(s.n_nodes, 4);
  assert_int_equal(s.node_macs[0], conv);
  assert_int_equal(s.node_macs[1], 0);
  assert_int_equal(s.node_macs[2], gemm);
  assert_int_equal(s.node_macs[3], mm);
  assert_int_equal(s.macs, conv + gemm + mm);
  assert_int_equal(s.elementwise, 2 * 6 * oh * oh); /* the Relu's output */
  assert_int_equal(s.params, 6 * 2 * 9 + 7 * 3 + 6 * 2);
  assert_int_equal(s.n_ops, 4);
  pn_stats_free(&s);

  /* an unknown op: no shapes, but the histogram and the parameter count still work */
  const char *uin[1] = {"r"}, *uout[1] = {"u"};
  pn_graph_add_node(g, "FancyOp", "fancy", 1, uin, 1, uout);
  pn_graph_add_node(g, "Relu", "relu2", 1, uout, 1, (const char *[]){"v"});
  pn_graph_add_output(g, "v", PN_DT_FLOAT, -1, NULL);
  assert_int_equal(pn_graph_stats(&ctx, g, &s), PN_OK);
  assert_false(s.shapes_known);
  assert_non_null(strstr(s.shape_error, "FancyOp"));
  assert_string_equal(s.ops[0].op_type, "Relu");
  assert_int_equal(s.ops[0].count, 2);
  assert_int_equal(s.params, 6 * 2 * 9 + 7 * 3 + 6 * 2);
  pn_stats_free(&s);
  pn_graph_free(g);
}

static void test_published_macs(void **state) {
  struct { const char *name; double gmacs, tol; } ref[] = {
    {"resnet18", 1.814, 0.01}, {"resnet50", 4.09, 0.01}, {"mobilenetv2", 0.30, 0.05}};
  for (size_t i = 0; i < sizeof ref / sizeof *ref; i++) {
    struct pn_graph *g = build(ref[i].name, 1, 3, 224, 224, 1000, 1);
    struct pn_ctx ctx = {0};
    struct pn_stats s;
    assert_int_equal(pn_graph_stats(&ctx, g, &s), PN_OK);
    assert_true(s.shapes_known);
    double gm = (double)s.macs / 1e9;
    fprintf(stderr, "%s: %.4f GMACs (published %.3f)\n", ref[i].name, gm, ref[i].gmacs);
    assert_true(fabs(gm / ref[i].gmacs - 1.0) < ref[i].tol);
    pn_stats_free(&s);
    pn_graph_free(g);
  }
  /* BERT: per layer seq*(4 H^2 + 2 H I) for the dense layers + 2 seq^2 H for attention */
  struct pn_zoo_opts o = {.layers = 2, .hidden = 64, .heads = 4, .seq = 16, .intermediate = 96,
                          .batch = 3};
  struct pn_graph *g = NULL;
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_zoo_build(&ctx, "bert", &o, &g), PN_OK);
  struct pn_stats s;
  assert_int_equal(pn_graph_stats(&ctx, g, &s), PN_OK);
  assert_true(s.shapes_known);
  int64_t H = 64, I = 96, S = 16, B = 3;
  assert_int_equal(s.macs, 2 * B * (S * (4 * H * H + 2 * H * I) + 2 * S * S * H));
  pn_stats_free(&s);
  pn_graph_free(g);
}

static bool all_finite(const struct pn_tensor *t) {
  for (int64_t i = 0; i < pn_tensor_numel(t); i++)
    if (!isfinite(((const float *)t->data)[i])) return false;
  return true;
}

static struct pn_tensor *random_input(const struct pn_value *v, uint64_t seed) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, seed), PN_OK);
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, v->ndim, v->dims);
  assert_non_null(t);
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) ((float *)t->data)[i] = (float)pn_prg_normal(&prg);
  pn_prg_free(&prg);
  return t;
}

static void test_run_cnns(void **state) {
  const char *names[] = {"resnet18", "mobilenetv2", "vgg11", "resnet50"};
  for (size_t m = 0; m < 4; m++) {
    struct pn_graph *g = build(names[m], 2, 3, 32, 32, 10, 5);
    struct pn_ctx ctx = {0};
    struct pn_exec *ex = NULL;
    int rc = pn_exec_new(&ctx, g, NULL, &ex);
    if (rc != PN_OK) fprintf(stderr, "%s: %s\n", names[m], pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    assert_int_equal(pn_exec_n_inputs(ex), 1);
    struct pn_tensor *x = random_input(pn_exec_input(ex, 0), 11);
    struct pn_tensor *y = NULL;
    rc = pn_exec_run(&ctx, ex, (const struct pn_tensor *const *)&x, &y);
    if (rc != PN_OK) fprintf(stderr, "%s: %s\n", names[m], pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    assert_int_equal(y->ndim, 2);
    assert_int_equal(y->dims[0], 2);
    assert_int_equal(y->dims[1], 10);
    assert_true(all_finite(y));
    /* the two images differ, so must their logits (the network is not constant) */
    const float *p = y->data;
    double d = 0;
    for (int i = 0; i < 10; i++) d += fabs(p[i] - p[10 + i]);
    assert_true(d > 1e-4);
    pn_tensor_free(x);
    pn_tensor_free(y);
    pn_exec_free(ex);
    pn_graph_free(g);
  }
}

/* ---- BERT against a naive double-precision reference read from the initializers ---- */

static const float *W(const struct pn_graph *g, const char *prefix, int l, const char *suffix) {
  char name[160];
  snprintf(name, sizeof name, "encoder.layer.%d.%s.%s", l, prefix, suffix);
  const struct pn_tensor *t = pn_graph_find_init(g, name);
  if (!t) fprintf(stderr, "missing initializer %s\n", name);
  assert_non_null(t);
  return t->data;
}

/* y[r, o] = x[r, :] @ w[:, o] + b[o] for r < rows */
static void ref_dense(const double *x, int rows, int in, int out, const float *w, const float *b,
                      double *y) {
  for (int r = 0; r < rows; r++)
    for (int o = 0; o < out; o++) {
      double s = b[o];
      for (int i = 0; i < in; i++) s += x[r * in + i] * w[i * out + o];
      y[r * out + o] = s;
    }
}

static void ref_layernorm(double *x, int rows, int h, const float *gm, const float *bt) {
  for (int r = 0; r < rows; r++) {
    double m = 0, v = 0;
    for (int i = 0; i < h; i++) m += x[r * h + i];
    m /= h;
    for (int i = 0; i < h; i++) v += (x[r * h + i] - m) * (x[r * h + i] - m);
    v /= h;
    for (int i = 0; i < h; i++) x[r * h + i] = (x[r * h + i] - m) / sqrt(v + 1e-12) * gm[i] + bt[i];
  }
}

static void test_bert_reference(void **state) {
  enum { L = 2, B = 2, S = 5, H = 12, A = 3, D = H / A, I = 20 };
  struct pn_zoo_opts o = {.layers = L, .hidden = H, .heads = A, .seq = S, .intermediate = I,
                          .batch = B, .seed = 99};
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  assert_int_equal(pn_zoo_build(&ctx, "bert", &o, &g), PN_OK);
  int rc = pn_graph_validate(&ctx, g);
  if (rc != PN_OK) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  struct pn_exec *ex = NULL;
  rc = pn_exec_new(&ctx, g, NULL, &ex);
  if (rc != PN_OK) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  struct pn_tensor *x = random_input(pn_exec_input(ex, 0), 5);
  assert_int_equal(x->dims[0], B);
  assert_int_equal(x->dims[1], S);
  assert_int_equal(x->dims[2], H);
  struct pn_tensor *y = NULL;
  rc = pn_exec_run(&ctx, ex, (const struct pn_tensor *const *)&x, &y);
  if (rc != PN_OK) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);

  static double h[B * S * H], q[B * S * H], k[B * S * H], v[B * S * H], c[B * S * H], t[B * S * H],
      f[B * S * I];
  for (int i = 0; i < B * S * H; i++) h[i] = ((const float *)x->data)[i];
  for (int l = 0; l < L; l++) {
    ref_dense(h, B * S, H, H, W(g, "attention.self.query", l, "weight"),
              W(g, "attention.self.query", l, "bias"), q);
    ref_dense(h, B * S, H, H, W(g, "attention.self.key", l, "weight"),
              W(g, "attention.self.key", l, "bias"), k);
    ref_dense(h, B * S, H, H, W(g, "attention.self.value", l, "weight"),
              W(g, "attention.self.value", l, "bias"), v);
    for (int b = 0; b < B; b++)
      for (int a = 0; a < A; a++)
        for (int i = 0; i < S; i++) {
          double sc[S], mx = -1e300, z = 0;
          for (int j = 0; j < S; j++) {
            double s = 0;
            for (int d = 0; d < D; d++) s += q[(b * S + i) * H + a * D + d] * k[(b * S + j) * H + a * D + d];
            sc[j] = s / sqrt((double)D);
            if (sc[j] > mx) mx = sc[j];
          }
          for (int j = 0; j < S; j++) z += (sc[j] = exp(sc[j] - mx));
          for (int d = 0; d < D; d++) {
            double s = 0;
            for (int j = 0; j < S; j++) s += sc[j] / z * v[(b * S + j) * H + a * D + d];
            c[(b * S + i) * H + a * D + d] = s;
          }
        }
    ref_dense(c, B * S, H, H, W(g, "attention.output.dense", l, "weight"),
              W(g, "attention.output.dense", l, "bias"), t);
    for (int i = 0; i < B * S * H; i++) t[i] += h[i];
    ref_layernorm(t, B * S, H, W(g, "attention.output.LayerNorm", l, "weight"),
                  W(g, "attention.output.LayerNorm", l, "bias"));
    ref_dense(t, B * S, H, I, W(g, "intermediate.dense", l, "weight"),
              W(g, "intermediate.dense", l, "bias"), f);
    for (int i = 0; i < B * S * I; i++) f[i] = 0.5 * f[i] * (1.0 + erf(f[i] / sqrt(2.0)));
    ref_dense(f, B * S, I, H, W(g, "output.dense", l, "weight"), W(g, "output.dense", l, "bias"), h);
    for (int i = 0; i < B * S * H; i++) h[i] += t[i];
    ref_layernorm(h, B * S, H, W(g, "output.LayerNorm", l, "weight"),
                  W(g, "output.LayerNorm", l, "bias"));
  }
  assert_int_equal(pn_tensor_numel(y), B * S * H);
  double maxerr = 0;
  for (int i = 0; i < B * S * H; i++) {
    double e = fabs(((const float *)y->data)[i] - h[i]);
    if (e > maxerr) maxerr = e;
  }
  fprintf(stderr, "bert vs reference: max abs error %.3g\n", maxerr);
  assert_true(maxerr < 1e-3);
  pn_tensor_free(x);
  pn_tensor_free(y);
  pn_exec_free(ex);
  pn_graph_free(g);
}

/* A symbolic batch: MACs per image are those of the batch-1 model (issue 11: `privnn info` said
** "0.0000 G or more"), and twice as many at batch 2. */
static void test_stats_symbolic_batch(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_stats one, two, sym;
  struct pn_graph *g1 = build("mobilenetv2", 1, 3, 32, 32, 10, 1), *g2 = build("mobilenetv2", 2, 3, 32, 32, 10, 1);
  assert_int_equal(pn_graph_stats(&ctx, g1, &one), PN_OK);
  assert_int_equal(pn_graph_stats(&ctx, g2, &two), PN_OK);
  assert_false(one.macs_partial || one.batch_symbolic);
  assert_true(one.macs > 0);
  assert_int_equal(two.macs, 2 * one.macs);
  g2->inputs[0].dims[0] = -1;
  g2->inputs[0].dim_param[0] = "N";
  for (int i = 0; i < g2->n_outputs; i++) g2->outputs[i].dims[0] = -1;
  assert_int_equal(pn_graph_stats(&ctx, g2, &sym), PN_OK);
  assert_true(sym.shapes_known && sym.macs_partial && sym.batch_symbolic);
  assert_false(sym.per_image_partial);
  assert_int_equal(sym.macs_per_image, one.macs);
  assert_int_equal(g2->inputs[0].dims[0], -1);   /* the model itself is left as it was */
  pn_stats_free(&one);
  pn_stats_free(&two);
  pn_stats_free(&sym);
  pn_graph_free(g1);
  pn_graph_free(g2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_and_errors),     cmocka_unit_test(test_param_counts),
      cmocka_unit_test(test_small_inputs),         cmocka_unit_test(test_determinism_and_init),
      cmocka_unit_test(test_stats_macs_by_hand),   cmocka_unit_test(test_published_macs),
      cmocka_unit_test(test_run_cnns),             cmocka_unit_test(test_bert_reference),
      cmocka_unit_test(test_stats_symbolic_batch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
