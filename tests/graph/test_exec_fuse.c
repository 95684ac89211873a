/* test_exec_fuse.c - the executor's fusions (BatchNormalization folded into Conv, activations run
** on their producer's output) against unfused execution; small-image convolutions, threaded Gemm
** and MatMul against naive references; and the k_par.c parallel-for.
**
** The reference is the same graph run with pn_exec_opts.no_fuse, i.e. every node by its own
** kernel (each kernel has its own naive-reference tests in test_kernels_*). Outputs must agree
** within 1e-4 relative to the output's magnitude; op timings show which nodes were fused, and the
** executor's memory statistics that the zoo models' second runs take every intermediate from its
** memory plan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/exec.h"
#include "graph/k_dense.h"
#include "graph/zoo.h"
#include "util/util.h"

/* Deterministic test data (not secret): a fixed mixing function of the index. */
static float val_at(uint64_t seed, int64_t i) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xBF58476D1CE4E5B9ull + 1;
  z = (z ^ (z >> 31)) * 0x94D049BB133111EBull;
  z ^= z >> 29;
  return (float)((double)(z >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

static struct pn_tensor *input_for(const struct pn_value *v, uint64_t seed) {
  int64_t dims[PN_MAX_DIMS];
  for (int k = 0; k < v->ndim; k++) dims[k] = v->dims[k] >= 0 ? v->dims[k] : 1;
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, v->ndim, dims);
  assert_non_null(t);
  float *p = t->data;
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) p[i] = val_at(seed, i);
  return t;
}

struct run_result {
  struct pn_tensor *out[8];
  int n_out;
  double op_s[PN_OP_COUNT];
  struct pn_exec_mem mem;      /* after both runs */
};

static void run_graph(struct pn_graph *g, bool no_fuse, int threads, uint64_t seed,
                      struct run_result *r) {
  struct pn_ctx ctx = {0};
  struct pn_exec_opts eo = {.threads = threads, .no_fuse = no_fuse};
  struct pn_exec *ex = NULL;
  int rc = pn_exec_new(&ctx, g, &eo, &ex);
  if (rc != PN_OK) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  int n_in = pn_exec_n_inputs(ex);
  assert_true(n_in <= 4);
  r->n_out = pn_exec_n_outputs(ex);
  assert_true(r->n_out <= 8);
  struct pn_tensor *in[4] = {0};
  for (int i = 0; i < n_in; i++) in[i] = input_for(pn_exec_input(ex, i), seed + (uint64_t)i);
  /* twice: the second run reuses the executor's state */
  for (int rep = 0; rep < 2; rep++) {
    rc = pn_exec_run(&ctx, ex, (const struct pn_tensor *const *)in, r->out);
    if (rc != PN_OK) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    if (rep == 0)
      for (int i = 0; i < r->n_out; i++) pn_tensor_free(r->out[i]);
  }
  memcpy(r->op_s, pn_exec_op_seconds(ex), sizeof r->op_s);
  pn_exec_mem_stats(ex, &r->mem);
  for (int i = 0; i < n_in; i++) pn_tensor_free(in[i]);
  pn_exec_free(ex);
}

static void free_result(struct run_result *r) {
  for (int i = 0; i < r->n_out; i++) pn_tensor_free(r->out[i]);
}

/* max |a - b| <= tol * max(1, max |b|), same shapes */
static void assert_close(const struct run_result *a, const struct run_result *b, double tol) {
  assert_int_equal(a->n_out, b->n_out);
  for (int i = 0; i < a->n_out; i++) {
    assert_true(pn_tensor_same_shape(a->out[i], b->out[i]));
    assert_int_equal(a->out[i]->dtype, PN_DT_FLOAT);
    const float *x = a->out[i]->data, *y = b->out[i]->data;
    double mag = 1, err = 0;
    for (int64_t k = 0; k < pn_tensor_numel(b->out[i]); k++) {
      if (fabs(y[k]) > mag) mag = fabs(y[k]);
      double d = fabs((double)x[k] - (double)y[k]);
      if (!(d <= err)) err = d;   /* NaN propagates as a failure */
    }
    if (!(err <= tol * mag)) fprintf(stderr, "output %d: max |diff| %.3g, magnitude %.3g\n", i, err, mag);
    assert_true(err <= tol * mag);
  }
}

/* The executor's memory plan (exec.c) after run_graph's two runs at one shape: every intermediate
** of the first run allocated (no plan yet), one plan built after it, every one of the second run
** in the plan's buffers. */
static void assert_planned_once(const struct run_result *r) {
  if (r->mem.plans != 1 || r->mem.hits != r->mem.misses || r->mem.hits <= 0)
    fprintf(stderr, "memory plan: %d plans, %lld hits, %lld misses\n", r->mem.plans, r->mem.hits, r->mem.misses);
  assert_int_equal(r->mem.plans, 1);
  assert_true(r->mem.hits > 0);
  assert_true(r->mem.hits == r->mem.misses);
  assert_true(r->mem.buffers > 0 && r->mem.bytes > 0);
}

static struct pn_graph *zoo(const char *name, const struct pn_zoo_opts *o) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  int rc = pn_zoo_build(&ctx, name, o, &g);
  if (rc != PN_OK) fprintf(stderr, "%s: %s\n", name, pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  return g;
}

static void test_zoo_cnns(void **state) {
  (void)state;
  const char *names[] = {"resnet18", "mobilenetv2"};
  for (int m = 0; m < 2; m++) {
    struct pn_zoo_opts o = {.ndim = 4, .dims = {1, 3, 32, 32}, .seed = 7};
    struct pn_graph *g = zoo(names[m], &o);
    struct run_result ref = {0}, f1 = {0}, f2 = {0};
    run_graph(g, true, 1, 3, &ref);
    run_graph(g, false, 1, 3, &f1);
    run_graph(g, false, 2, 3, &f2);
    assert_close(&f1, &ref, 1e-4);
    assert_close(&f2, &ref, 1e-4);
    assert_planned_once(&ref);
    assert_planned_once(&f1);
    assert_planned_once(&f2);
    /* unfused runs execute BatchNormalization and the activations; fused ones never do */
    int act = m == 0 ? PN_OP_RELU : PN_OP_CLIP;
    assert_true(ref.op_s[PN_OP_BATCH_NORM] > 0);
    assert_true(ref.op_s[act] > 0);
    assert_true(f1.op_s[PN_OP_BATCH_NORM] == 0 && f1.op_s[act] == 0);
    assert_true(f2.op_s[PN_OP_BATCH_NORM] == 0 && f2.op_s[act] == 0);
    free_result(&ref);
    free_result(&f1);
    free_result(&f2);
    pn_graph_free(g);
  }
}

static void test_zoo_bert(void **state) {
  (void)state;
  struct pn_zoo_opts o = {.layers = 2, .hidden = 32, .heads = 4, .seq = 8, .intermediate = 64,
                          .batch = 1, .seed = 5};
  struct pn_graph *g = zoo("bert", &o);
  struct run_result ref = {0}, f = {0};
  run_graph(g, true, 1, 11, &ref);
  run_graph(g, false, 2, 11, &f);
  assert_close(&f, &ref, 1e-4);
  assert_planned_once(&ref);
  assert_planned_once(&f);
  free_result(&ref);
  free_result(&f);
  pn_graph_free(g);
}

/* ---- hand-built graphs: what may and may not be fused ---- */

static struct pn_tensor *init(struct pn_graph *g, const char *name, int ndim, const int64_t *dims,
                              uint64_t seed, float lo_pos) {
  struct pn_tensor *t = pn_graph_new_init(g, name, PN_DT_FLOAT, ndim, dims);
  assert_non_null(t);
  float *p = t->data;
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) {
    float v = val_at(seed, i);
    p[i] = lo_pos > 0 ? lo_pos + fabsf(v) : v;   /* lo_pos > 0: strictly positive (variances) */
  }
  return t;
}

static struct pn_node *node(struct pn_graph *g, const char *op, const char *a, const char *b,
                            const char *c, const char *out) {
  const char *in[3] = {a, b, c}, *o[1] = {out};
  int n = c ? 3 : b ? 2 : 1;
  struct pn_node *nd = pn_graph_add_node(g, op, out, n, in, 1, o);
  assert_non_null(nd);
  return nd;
}

static struct pn_node *bn(struct pn_graph *g, const char *x, const char *out, int64_t c,
                          uint64_t seed) {
  char nm[4][32];
  const char *suffix[4] = {"s", "b", "m", "v"};
  for (int k = 0; k < 4; k++) {
    snprintf(nm[k], sizeof nm[k], "%s_%s", out, suffix[k]);
    init(g, nm[k], 1, &c, seed + (uint64_t)k, k == 3 ? 0.5f : 0);
  }
  const char *in[5] = {x, nm[0], nm[1], nm[2], nm[3]}, *o[1] = {out};
  struct pn_node *nd = pn_graph_add_node(g, "BatchNormalization", out, 5, in, 1, o);
  assert_non_null(nd);
  assert_int_equal(pn_node_set_float(g, nd, "epsilon", 1e-3f), PN_OK);
  return nd;
}

/* x[1,4,6,6] -> Conv(no bias) -> BN -> Relu -> c1 -> Conv(bias) -> BN -> Clip(min, max) -> c2;
** c2 -> Add(c2, c1) -> LeakyRelu -> y; also Gemm -> Relu, a Conv -> BN whose Conv output is a graph
** output (not foldable), a Relu whose input has two readers (not fusable), and a
** BatchNormalization in training mode (never folded). */
static struct pn_graph *mixed_graph(void) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t xd[] = {1, 4, 6, 6}, w1d[] = {8, 4, 3, 3}, w2d[] = {4, 8, 1, 1}, b2d[] = {4};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
  init(g, "w1", 4, w1d, 21, 0);
  init(g, "w2", 4, w2d, 22, 0);
  init(g, "b2", 1, b2d, 23, 0);
  struct pn_tensor *mn = pn_graph_new_init(g, "mn", PN_DT_FLOAT, 0, NULL);
  struct pn_tensor *mx = pn_graph_new_init(g, "mx", PN_DT_FLOAT, 0, NULL);
  *(float *)mn->data = -0.25f;
  *(float *)mx->data = 0.5f;
  struct pn_node *c = node(g, "Conv", "x", "w1", NULL, "conv1");
  int64_t pads[] = {1, 1, 1, 1};
  assert_int_equal(pn_node_set_ints(g, c, "pads", 4, pads), PN_OK);
  bn(g, "conv1", "bn1", 8, 31);
  node(g, "Relu", "bn1", NULL, NULL, "c1");
  node(g, "Conv", "c1", "w2", "b2", "conv2");
  bn(g, "conv2", "bn2", 4, 41);
  node(g, "Clip", "bn2", "mn", "mx", "c2");
  /* a second reader of c1, added to the clipped branch; the sum goes through LeakyRelu */
  node(g, "Conv", "c1", "w2", NULL, "c1b");
  node(g, "Add", "c2", "c1b", NULL, "sum");
  struct pn_node *lr = node(g, "LeakyRelu", "sum", NULL, NULL, "y");
  assert_int_equal(pn_node_set_float(g, lr, "alpha", 0.2f), PN_OK);
  /* Gemm -> Relu on the flattened y */
  int64_t wgd[] = {144, 5};
  init(g, "wg", 2, wgd, 51, 0);
  node(g, "Flatten", "y", NULL, NULL, "flat");
  node(g, "Gemm", "flat", "wg", NULL, "gemm");
  node(g, "Relu", "gemm", NULL, NULL, "g_out");
  /* Conv -> BN where the Conv output is itself a graph output */
  node(g, "Conv", "x", "w1", NULL, "conv3");
  bn(g, "conv3", "bn3", 8, 61);
  /* Relu whose input is also read by a Neg: the Relu stays a node of its own */
  node(g, "Conv", "x", "w1", NULL, "conv4");
  node(g, "Relu", "conv4", NULL, NULL, "r4");
  node(g, "Neg", "conv4", NULL, NULL, "n4");
  node(g, "Add", "r4", "n4", NULL, "o4");
  /* training-mode BatchNormalization after a Conv: computes batch statistics, never folded */
  node(g, "Conv", "x", "w1", NULL, "conv5");
  struct pn_node *t = bn(g, "conv5", "bn5", 8, 71);
  assert_int_equal(pn_node_set_int(g, t, "training_mode", 1), PN_OK);
  const char *outs[] = {"g_out", "conv3", "bn3", "o4", "bn5"};
  for (int i = 0; i < 5; i++) assert_non_null(pn_graph_add_output(g, outs[i], PN_DT_FLOAT, -1, NULL));
  return g;
}

static void test_mixed_graph(void **state) {
  (void)state;
  struct pn_graph *g = mixed_graph();
  struct pn_ctx ctx = {0};
  int rc = pn_graph_validate(&ctx, g);
  if (rc != PN_OK) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  struct run_result ref = {0}, f = {0}, f2 = {0};
  run_graph(g, true, 1, 9, &ref);
  run_graph(g, false, 1, 9, &f);
  run_graph(g, false, 2, 9, &f2);
  assert_close(&f, &ref, 1e-5);
  assert_close(&f2, &ref, 1e-5);
  /* Clip, LeakyRelu and Neg: Clip and LeakyRelu fused, Neg (not an activation after a
  ** producer) and one Relu (two readers) still run; BN3 (conv output kept) and BN5 (training)
  ** still run */
  assert_true(f.op_s[PN_OP_CLIP] == 0 && f.op_s[PN_OP_LEAKY_RELU] == 0);
  assert_true(ref.op_s[PN_OP_CLIP] > 0 && ref.op_s[PN_OP_LEAKY_RELU] > 0);
  assert_true(f.op_s[PN_OP_RELU] > 0);
  assert_true(f.op_s[PN_OP_BATCH_NORM] > 0);
  free_result(&ref);
  free_result(&f);
  free_result(&f2);
  pn_graph_free(g);
}

/* A Constant node holding t (copied into the graph). */
static void constant_node(struct pn_graph *g, const char *out, const struct pn_tensor *t) {
  const char *o[1] = {out};
  struct pn_node *nd = pn_graph_add_node(g, "Constant", out, 0, NULL, 1, o);
  assert_non_null(nd);
  assert_int_equal(pn_node_set_tensor(g, nd, "value", t), PN_OK);
}

/* Issue 11's reduced case (a paddle2onnx OCR classifier gave 0.36 off on a 2-class softmax):
** x[1,8,12,96] -> GlobalAveragePool -> Conv 1x1 (W and B from Constant nodes) -> Relu -> y.
** The executor planned the Relu into the Conv's epilogue but ran a Conv whose weights are not an
** initializer through the plain kernel, so the Relu was dropped and y had negative values. */
static void test_conv_relu_constant_weights(void **state) {
  (void)state;
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t xd[] = {1, 8, 12, 96}, wd[] = {6, 8, 1, 1}, bd[] = {6};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
  struct pn_tensor *w = pn_tensor_new(PN_DT_FLOAT, 4, wd), *b = pn_tensor_new(PN_DT_FLOAT, 1, bd);
  assert_non_null(w);
  assert_non_null(b);
  for (int64_t i = 0; i < pn_tensor_numel(w); i++) ((float *)w->data)[i] = val_at(501, i);
  for (int64_t i = 0; i < pn_tensor_numel(b); i++) ((float *)b->data)[i] = val_at(502, i);
  constant_node(g, "w", w);
  constant_node(g, "b", b);
  node(g, "GlobalAveragePool", "x", NULL, NULL, "gap");
  node(g, "Conv", "gap", "w", "b", "conv");
  node(g, "Relu", "conv", NULL, NULL, "y");
  node(g, "Conv", "gap", "w", "b", "pre");   /* the same Conv without Relu, as a second output */
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  assert_non_null(pn_graph_add_output(g, "pre", PN_DT_FLOAT, -1, NULL));
  struct run_result ref = {0}, f = {0};
  run_graph(g, true, 1, 503, &ref);
  run_graph(g, false, 2, 503, &f);
  /* the case has teeth: some pre-activations are negative */
  const float *pre = ref.out[1]->data, *y = f.out[0]->data;
  int neg = 0;
  for (int k = 0; k < 6; k++) {
    neg += pre[k] < 0;
    assert_true(y[k] >= 0);
    assert_true(fabsf(y[k] - (pre[k] > 0 ? pre[k] : 0)) <= 1e-6f);
  }
  assert_true(neg > 0);
  assert_close(&f, &ref, 1e-6);
  /* the Constant nodes are evaluated once, when the executor is made, and the Relu is fused */
  assert_true(ref.op_s[PN_OP_CONSTANT] > 0 && ref.op_s[PN_OP_RELU] > 0);
  assert_true(f.op_s[PN_OP_CONSTANT] == 0 && f.op_s[PN_OP_RELU] == 0);
  free_result(&ref);
  free_result(&f);
  pn_tensor_free(w);
  pn_tensor_free(b);
  pn_graph_free(g);
}

/* The residual Add fused into a Conv's stores (exec.c): Conv -> Add(conv, s) -> Relu / Clip
** against the same Conv whose output is also a graph output (so its Add and activation run as
** nodes of their own) in one fused executor: both Convs take the same path (Winograd F(2x2) and
** F(4x4), the packed GEMM from the input and by implicit im2col, and the paths that add the
** shortcut in a pass of their own: small images, depthwise), and (conv + bias) + s, then the
** activation, is the same float operations in the same order, so the outputs must be the same
** bits. A shortcut that broadcasts ([1,M,1,1], or [2,M,H,W] onto the Conv's one image) runs the
** Add kernel after the Conv (the Conv then writes a buffer of its own in the executor's memory
** plan: the second run would otherwise read and write one buffer). */
static void test_conv_add_bits(void **state) {
  (void)state;
  static const struct {
    int64_t c, m, hw, k, stride, group;
    int64_t sd;   /* 1: the shortcut has the output's shape; 0: [1,M,1,1]; 2: [2,M,H,W] */
  } cases[] = {
      {8, 8, 16, 3, 1, 1, 1},  {8, 8, 40, 3, 1, 1, 1},  {16, 24, 14, 1, 1, 1, 1},
      {8, 16, 15, 3, 2, 1, 1}, {8, 8, 4, 1, 1, 1, 1},   {8, 8, 12, 3, 1, 8, 1},
      {8, 8, 16, 3, 1, 1, 0},  {6, 10, 9, 1, 1, 1, 1},  {8, 8, 12, 3, 1, 1, 2},
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++)
    for (int form = 0; form < 4; form++) {   /* Add(conv, s) or Add(s, conv); Relu or Clip */
      struct pn_graph *g = pn_graph_new();
      assert_non_null(g);
      int64_t c = cases[ci].c, m = cases[ci].m, hw = cases[ci].hw, k = cases[ci].k;
      int64_t st = cases[ci].stride, grp = cases[ci].group, pad = (k - 1) / 2;
      int64_t oh = (hw + 2 * pad - k) / st + 1;
      int64_t xd[] = {1, c, hw, hw}, wd[] = {m, c / grp, k, k}, bd[] = {m};
      int64_t sn = cases[ci].sd == 2 ? 2 : 1, sd[] = {sn, m, cases[ci].sd ? oh : 1, cases[ci].sd ? oh : 1};
      assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
      assert_non_null(pn_graph_add_input(g, "s", PN_DT_FLOAT, 4, sd));
      init(g, "w", 4, wd, 601 + ci, 0);
      init(g, "b", 1, bd, 651 + ci, 0);
      struct pn_tensor *mn = pn_graph_new_init(g, "mn", PN_DT_FLOAT, 0, NULL);
      struct pn_tensor *mx = pn_graph_new_init(g, "mx", PN_DT_FLOAT, 0, NULL);
      *(float *)mn->data = -0.25f;
      *(float *)mx->data = 0.5f;
      int64_t pads[] = {pad, pad, pad, pad}, strides[] = {st, st};
      const char *conv_out[2] = {"conv", "pre"}, *sum[2] = {"sum", "sum2"}, *y[2] = {"y", "y2"},
                 *yo[2] = {"yo", "y2o"};
      for (int v = 0; v < 2; v++) {
        struct pn_node *cv = node(g, "Conv", "x", "w", "b", conv_out[v]);
        assert_int_equal(pn_node_set_ints(g, cv, "pads", 4, pads), PN_OK);
        assert_int_equal(pn_node_set_ints(g, cv, "strides", 2, strides), PN_OK);
        if (grp > 1) assert_int_equal(pn_node_set_int(g, cv, "group", grp), PN_OK);
        if (form & 1) node(g, "Add", "s", conv_out[v], NULL, sum[v]);
        else node(g, "Add", conv_out[v], "s", NULL, sum[v]);
        if (form & 2) node(g, "Clip", sum[v], "mn", "mx", y[v]);
        else node(g, "Relu", sum[v], NULL, NULL, y[v]);
        node(g, "Identity", y[v], NULL, NULL, yo[v]);   /* y: a planned intermediate */
      }
      const char *outs[] = {"yo", "y2o", "pre"};
      for (int i = 0; i < 3; i++)
        assert_non_null(pn_graph_add_output(g, outs[i], PN_DT_FLOAT, -1, NULL));
      for (int threads = 1; threads <= 2; threads++) {
        struct run_result f = {0};
        run_graph(g, false, threads, 700 + ci, &f);
        assert_int_equal(f.n_out, 3);
        assert_int_equal(pn_tensor_numel(f.out[0]), pn_tensor_numel(f.out[1]));
        assert_int_equal(pn_tensor_numel(f.out[0]), sn * m * oh * oh);
        bool same = !memcmp(f.out[0]->data, f.out[1]->data, pn_tensor_nbytes(f.out[0]));
        if (!same)
          fprintf(stderr, "case %zu form %d threads %d: fused Conv -> Add differs\n", ci, form,
                  threads);
        assert_true(same);
        /* the activation has teeth: some sums are clipped or zeroed */
        const float *yp = f.out[0]->data;
        int hit = 0;
        for (int64_t i = 0; i < pn_tensor_numel(f.out[0]); i++) hit += yp[i] == 0 || yp[i] == 0.5f;
        assert_true(hit > 0);
        free_result(&f);
      }
      pn_graph_free(g);
    }
}

/* An observer sees every node, fused or not: fusion is off when one is set. */
struct obs_count {
  int nodes, relus;
};

static void count_nodes(void *user, const struct pn_node *n, const struct pn_tensor *const *in,
                        int n_in, const struct pn_tensor *const *out, int n_out) {
  struct obs_count *c = user;
  (void)in;
  (void)n_in;
  (void)out;
  (void)n_out;
  c->nodes++;
  c->relus += !strcmp(n->op_type, "Relu");
}

static void test_observer_disables_fusion(void **state) {
  (void)state;
  struct pn_zoo_opts o = {.ndim = 4, .dims = {1, 3, 32, 32}, .seed = 7};
  struct pn_graph *g = zoo("resnet18", &o);
  int relus = 0;
  for (int i = 0; i < g->n_nodes; i++) relus += !strcmp(g->nodes[i]->op_type, "Relu");
  assert_true(relus > 0);
  struct obs_count cnt = {0};
  struct pn_exec_opts eo = {.observer = count_nodes, .observer_user = &cnt};
  struct pn_ctx ctx = {0};
  struct pn_exec *ex = NULL;
  assert_int_equal(pn_exec_new(&ctx, g, &eo, &ex), PN_OK);
  struct pn_tensor *in = input_for(pn_exec_input(ex, 0), 1), *out = NULL;
  assert_int_equal(pn_exec_run(&ctx, ex, (const struct pn_tensor *const *)&in, &out), PN_OK);
  assert_int_equal(cnt.nodes, g->n_nodes);
  assert_int_equal(cnt.relus, relus);
  pn_tensor_free(out);
  pn_tensor_free(in);
  pn_exec_free(ex);
  pn_graph_free(g);
}

/* ---- small images: kernel taps that only see padding are dropped (k_conv.c's cache) ---- */

/* Naive Conv 2-D (group 1) reference. */
static void naive_conv(const float *x, const float *w, const float *b, float *y, int64_t c,
                       int64_t h, int64_t wd, int64_t m, int64_t kh, int64_t kw, const int64_t *s,
                       const int64_t *d, const int64_t *pads, int64_t oh, int64_t ow) {
  for (int64_t o = 0; o < m; o++)
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++) {
        double acc = b[o];
        for (int64_t ci = 0; ci < c; ci++)
          for (int64_t ky = 0; ky < kh; ky++)
            for (int64_t kx = 0; kx < kw; kx++) {
              int64_t iy = oy * s[0] - pads[0] + ky * d[0], ix = ox * s[1] - pads[1] + kx * d[1];
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              acc += (double)x[(ci * h + iy) * wd + ix] * w[((o * c + ci) * kh + ky) * kw + kx];
            }
        y[(o * oh + oy) * ow + ox] = (float)acc;
      }
}

static void test_small_images(void **state) {
  (void)state;
  enum { C = 3, M = 20, KH = 3, KW = 3 };
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t xd[] = {1, C, -1, -1}, wd[] = {M, C, KH, KW}, bd[] = {M};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
  const float *w = init(g, "w", 4, wd, 81, 0)->data, *b = init(g, "b", 1, bd, 82, 0)->data;
  struct pn_node *cv = node(g, "Conv", "x", "w", "b", "y");
  int64_t pads[] = {1, 1, 2, 1}, strides[] = {1, 2}, dil[] = {2, 1};
  assert_int_equal(pn_node_set_ints(g, cv, "pads", 4, pads), PN_OK);
  assert_int_equal(pn_node_set_ints(g, cv, "strides", 2, strides), PN_OK);
  assert_int_equal(pn_node_set_ints(g, cv, "dilations", 2, dil), PN_OK);
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  struct pn_ctx ctx = {0};
  struct pn_exec *ex = NULL;
  struct pn_exec_opts eo = {.threads = 2};
  assert_int_equal(pn_exec_new(&ctx, g, &eo, &ex), PN_OK);
  /* the same executor over changing sizes: the cached filters must follow the geometry */
  const int64_t sizes[][2] = {{2, 1}, {2, 3}, {3, 5}, {2, 1}, {5, 4}, {3, 1}};
  for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
    int64_t h = sizes[t][0], wdt = sizes[t][1], dims[] = {1, C, h, wdt};
    int64_t oh = (h + pads[0] + pads[2] - ((KH - 1) * dil[0] + 1)) / strides[0] + 1;
    int64_t ow = (wdt + pads[1] + pads[3] - ((KW - 1) * dil[1] + 1)) / strides[1] + 1;
    struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, dims), *y = NULL;
    assert_non_null(x);
    for (int64_t i = 0; i < pn_tensor_numel(x); i++) ((float *)x->data)[i] = val_at(90 + t, i);
    int rc = pn_exec_run(&ctx, ex, (const struct pn_tensor *const *)&x, &y);
    if (rc != PN_OK) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    assert_int_equal(y->dims[2], oh);
    assert_int_equal(y->dims[3], ow);
    float *ref = malloc((size_t)(M * oh * ow) * sizeof *ref);
    assert_non_null(ref);
    naive_conv(x->data, w, b, ref, C, h, wdt, M, KH, KW, strides, dil, pads, oh, ow);
    const float *yp = y->data;
    for (int64_t i = 0; i < M * oh * ow; i++) assert_true(fabsf(yp[i] - ref[i]) <= 1e-5f * (1 + fabsf(ref[i])));
    free(ref);
    pn_tensor_free(x);
    pn_tensor_free(y);
  }
  pn_exec_free(ex);
  pn_graph_free(g);
}

/* ---- Gemm / MatMul split among threads (k_matmul.c) against a naive product ---- */

static float a_at(const float *a, bool ta, int64_t m, int64_t k, int64_t i, int64_t kk) {
  return ta ? a[kk * m + i] : a[i * k + kk];
}

static void test_gemm_split(void **state) {
  (void)state;
  /* (m, n, k): a single row (sgemv), more rows than columns with a last block of one row, and
  ** plain blocks of columns / rows; all large enough to be split on 2 threads */
  const int64_t shapes[][3] = {{1, 300, 4000}, {33, 5, 8000}, {40, 70, 600}, {100, 17, 700}};
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        int64_t m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
        struct pn_graph *g = pn_graph_new();
        assert_non_null(g);
        int64_t ad[2] = {ta ? k : m, ta ? m : k}, bd[2] = {tb ? n : k, tb ? k : n}, cd[1] = {n};
        assert_non_null(pn_graph_add_input(g, "A", PN_DT_FLOAT, 2, ad));
        const float *bp = init(g, "B", 2, bd, 100 + si, 0)->data;
        const float *cp = init(g, "C", 1, cd, 200 + si, 0)->data;
        struct pn_node *gm = node(g, "Gemm", "A", "B", "C", "Y");
        assert_int_equal(pn_node_set_int(g, gm, "transA", ta), PN_OK);
        assert_int_equal(pn_node_set_int(g, gm, "transB", tb), PN_OK);
        assert_int_equal(pn_node_set_float(g, gm, "alpha", 0.5f), PN_OK);
        assert_int_equal(pn_node_set_float(g, gm, "beta", 2.0f), PN_OK);
        assert_non_null(pn_graph_add_output(g, "Y", PN_DT_FLOAT, -1, NULL));
        struct run_result r = {0};
        run_graph(g, false, 2, 300 + si, &r);
        struct pn_tensor *at = input_for(&g->inputs[0], 300 + si);
        const float *ap = at->data, *yp = r.out[0]->data;
        assert_int_equal(r.out[0]->dims[0], m);
        assert_int_equal(r.out[0]->dims[1], n);
        for (int64_t i = 0; i < m; i++)
          for (int64_t j = 0; j < n; j++) {
            double acc = 0, mag = 0;
            for (int64_t kk = 0; kk < k; kk++) {
              double t = (double)a_at(ap, ta, m, k, i, kk) * (tb ? bp[j * k + kk] : bp[kk * n + j]);
              acc += t;
              mag += fabs(t);
            }
            double want = 0.5 * acc + 2.0 * cp[j];
            assert_true(fabs(yp[i * n + j] - want) <= 1e-5 * (mag + 2.0 * fabs(cp[j]) + 1));
          }
        pn_tensor_free(at);
        free_result(&r);
        pn_graph_free(g);
      }
}

static void test_matmul_batched(void **state) {
  (void)state;
  enum { NB = 3, M = 20, K = 150, N = 200 };
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t ad[] = {NB, M, K}, bd[] = {NB, K, N};
  assert_non_null(pn_graph_add_input(g, "A", PN_DT_FLOAT, 3, ad));
  const float *bp = init(g, "B", 3, bd, 400, 0)->data;
  node(g, "MatMul", "A", "B", NULL, "Y");
  assert_non_null(pn_graph_add_output(g, "Y", PN_DT_FLOAT, -1, NULL));
  struct run_result r = {0};
  run_graph(g, false, 2, 401, &r);
  struct pn_tensor *at = input_for(&g->inputs[0], 401);
  const float *ap = at->data, *yp = r.out[0]->data;
  for (int64_t b = 0; b < NB; b++)
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double acc = 0, mag = 0;
        for (int64_t kk = 0; kk < K; kk++) {
          double t = (double)ap[(b * M + i) * K + kk] * bp[(b * K + kk) * N + j];
          acc += t;
          mag += fabs(t);
        }
        assert_true(fabs(yp[(b * M + i) * N + j] - acc) <= 1e-5 * (mag + 1));
      }
  pn_tensor_free(at);
  free_result(&r);
  pn_graph_free(g);
}

/* ---- pn_par_for ---- */

struct par_check {
  _Atomic int *hits;
  int nested_threads;
};

static void mark(void *arg, int64_t c) {
  struct par_check *p = arg;
  atomic_fetch_add(&p->hits[c], 1);
}

static void mark_nested(void *arg, int64_t c) {
  struct par_check *p = arg;
  atomic_fetch_add(&p->hits[c], 1);
  /* a call from inside a chunk runs serially and still covers its chunks */
  _Atomic int inner[3] = {0, 0, 0};
  struct par_check q = {inner, 0};
  pn_par_for(p->nested_threads, 3, mark, &q);
  for (int i = 0; i < 3; i++) assert_int_equal(atomic_load(&inner[i]), 1);
}

static void test_par_for(void **state) {
  (void)state;
  enum { MAXC = 97 };
  _Atomic int hits[MAXC];
  for (int threads = 1; threads <= 4; threads++)
    for (int n = 0; n <= MAXC; n += (n < 8 ? 1 : 17)) {
      for (int i = 0; i < MAXC; i++) atomic_store(&hits[i], 0);
      struct par_check p = {hits, threads};
      pn_par_for(threads, n, n % 2 ? mark_nested : mark, &p);
      for (int i = 0; i < MAXC; i++) assert_int_equal(atomic_load(&hits[i]), i < n ? 1 : 0);
    }
  /* more chunks than one job holds (65535): folded into runs of consecutive chunks */
  enum { BIG = 200003 };
  _Atomic int *big = malloc(BIG * sizeof *big);
  assert_non_null(big);
  static const int ns[] = {65535, 65536, 131071, BIG};
  for (int threads = 1; threads <= 3; threads++)
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
      for (int i = 0; i < BIG; i++) atomic_store(&big[i], 0);
      struct par_check p = {big, threads};
      pn_par_for(threads, ns[k], mark, &p);
      for (int i = 0; i < BIG; i++) assert_int_equal(atomic_load(&big[i]), i < ns[k] ? 1 : 0);
    }
  free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zoo_cnns),       cmocka_unit_test(test_zoo_bert),
      cmocka_unit_test(test_mixed_graph),    cmocka_unit_test(test_observer_disables_fusion),
      cmocka_unit_test(test_conv_relu_constant_weights),
      cmocka_unit_test(test_small_images),   cmocka_unit_test(test_gemm_split),
      cmocka_unit_test(test_matmul_batched), cmocka_unit_test(test_par_for),
      cmocka_unit_test(test_conv_add_bits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
