/* test_grad.c - finite-difference gradient checks of every differentiable op and of the loss. */
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
#include "nn/arch.h"
#include "nn/autograd.h"
#include "util/util.h"
#include "pn_test.h"

static uint64_t g_seed = 12345;
static struct pn_prg g_prg;

static void fill_normal(float *p, int64_t n, double scale) {
  for (int64_t i = 0; i < n; i++) p[i] = (float)(scale * pn_prg_normal(&g_prg));
}

/* A graph with input "x" of the given shape (dims[0] = batch). */
static struct pn_graph *graph_with_input(int ndim, const int64_t *dims) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t d[PN_MAX_DIMS];
  memcpy(d, dims, sizeof(int64_t) * (size_t)ndim);
  d[0] = -1;
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, ndim, d));
  return g;
}

static void add_param(struct pn_graph *g, const char *name, int ndim, const int64_t *dims, double scale,
                      double offset) {
  struct pn_tensor *t = pn_graph_new_init(g, name, PN_DT_FLOAT, ndim, dims);
  assert_non_null(t);
  float *p = t->data;
  int64_t n = pn_tensor_numel(t);
  fill_normal(p, n, scale);
  for (int64_t i = 0; i < n; i++) p[i] += (float)offset;
}

static struct pn_node *add_node(struct pn_graph *g, const char *op, int n_in, const char *const *in,
                                const char *out) {
  struct pn_node *n = pn_graph_add_node(g, op, out, n_in, in, 1, &out);
  assert_non_null(n);
  return n;
}

static void set_ints2(struct pn_graph *g, struct pn_node *n, const char *name, int64_t a, int64_t b) {
  int64_t v[2] = {a, b};
  assert_int_equal(pn_node_set_ints(g, n, name, 2, v), PN_OK);
}

static void set_ints4(struct pn_graph *g, struct pn_node *n, const char *name, int64_t a, int64_t b,
                      int64_t c, int64_t d) {
  int64_t v[4] = {a, b, c, d};
  assert_int_equal(pn_node_set_ints(g, n, name, 4, v), PN_OK);
}

/* sum(out * R) in double */
static double objective(struct pn_ag *ag, const float *x, int n, bool train, const float *R,
                        int64_t m) {
  struct pn_ctx ctx = {0};
  const float *out;
  assert_int_equal(pn_ag_forward(&ctx, ag, x, n, train, &out), PN_OK);
  double s = 0;
  for (int64_t i = 0; i < m; i++) s += (double)out[i] * R[i];
  return s;
}

static int n_checked;

static void compare(const char *what, int64_t i, double analytic, double numeric) {
  double tol = 3e-3 + 3e-2 * fmax(fabs(analytic), fabs(numeric));
  if (fabs(analytic - numeric) > tol) {
    print_error("%s[%lld]: analytic %.6g numeric %.6g (seed %llu)\n", what, (long long)i, analytic,
                numeric, (unsigned long long)g_seed);
    fail();
  }
  n_checked++;
}

/* Check d(sum(out*R))/d(input and every parameter) by central differences at up to `samples`
** coordinates of each tensor. The graph's output must be "y". */
static void check_graph(struct pn_graph *g, int n, bool train, int samples) {
  struct pn_ctx ctx = {0};
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  struct pn_ag *ag = NULL;
  struct pn_ag_opts o = {.max_batch = n, .input_grad = true, .dropout_seed = 1};
  int rc = pn_ag_new(&ctx, g, &o, &ag);
  if (rc) print_error("pn_ag_new: %s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  int64_t in_n = n * pn_shape_numel(pn_ag_input_rank(ag), pn_ag_input_dims(ag));
  int64_t out_n = n * pn_ag_output_size(ag);
  float *x = malloc(sizeof(float) * (size_t)in_n), *R = malloc(sizeof(float) * (size_t)out_n);
  fill_normal(x, in_n, 1.0);
  fill_normal(R, out_n, 1.0);
  const float *out;
  assert_int_equal(pn_ag_forward(&ctx, ag, x, n, train, &out), PN_OK);
  pn_ag_set_output_grad(ag, R);
  assert_int_equal(pn_ag_backward(&ctx, ag), PN_OK);
  /* copy the analytic gradients (the finite-difference forwards do not touch them, but be safe) */
  float *gx = malloc(sizeof(float) * (size_t)in_n);
  memcpy(gx, pn_ag_input_grad(ag), sizeof(float) * (size_t)in_n);
  int np = pn_ag_n_params(ag);
  float **gp = calloc((size_t)np + 1, sizeof *gp);
  for (int p = 0; p < np; p++) {
    struct pn_ag_param *pa = pn_ag_param(ag, p);
    gp[p] = malloc(sizeof(float) * (size_t)pa->numel);
    memcpy(gp[p], pa->grad, sizeof(float) * (size_t)pa->numel);
  }
  /* BN running statistics change in training-mode forwards but do not affect the output. */
  const double h = 1e-2;
  for (int s = 0; s < samples && s < in_n; s++) {
    int64_t i = in_n <= samples ? s : (int64_t)pn_prg_uniform(&g_prg, (uint64_t)in_n);
    float keep = x[i];
    x[i] = keep + (float)h;
    double up = objective(ag, x, n, train, R, out_n);
    x[i] = keep - (float)h;
    double dn = objective(ag, x, n, train, R, out_n);
    x[i] = keep;
    compare("input", i, gx[i], (up - dn) / (2 * h));
  }
  for (int p = 0; p < np; p++) {
    struct pn_ag_param *pa = pn_ag_param(ag, p);
    float *w = pa->t->data;
    for (int s = 0; s < samples && s < pa->numel; s++) {
      int64_t i = pa->numel <= samples ? s : (int64_t)pn_prg_uniform(&g_prg, (uint64_t)pa->numel);
      float keep = w[i];
      w[i] = keep + (float)h;
      double up = objective(ag, x, n, train, R, out_n);
      w[i] = keep - (float)h;
      double dn = objective(ag, x, n, train, R, out_n);
      w[i] = keep;
      compare(pa->name, i, gp[p][i], (up - dn) / (2 * h));
    }
    free(gp[p]);
  }
  free(gp);
  free(gx);
  free(x);
  free(R);
  pn_ag_free(ag);
  pn_graph_free(g);
}

static void test_conv(void **state) {
  int64_t xd[4] = {2, 3, 7, 6};
  struct pn_graph *g = graph_with_input(4, xd);
  int64_t wd[4] = {4, 3, 3, 2}, bd[1] = {4};
  add_param(g, "w", 4, wd, 0.5, 0);
  add_param(g, "b", 1, bd, 0.5, 0);
  const char *in[3] = {"x", "w", "b"};
  struct pn_node *n = add_node(g, "Conv", 3, in, "y");
  set_ints2(g, n, "strides", 2, 1);
  set_ints4(g, n, "pads", 1, 0, 2, 1);
  check_graph(g, 2, false, 40);
}

static void test_conv_dilated_nobias(void **state) {
  int64_t xd[4] = {2, 2, 8, 8};
  struct pn_graph *g = graph_with_input(4, xd);
  int64_t wd[4] = {3, 2, 3, 3};
  add_param(g, "w", 4, wd, 0.5, 0);
  const char *in[2] = {"x", "w"};
  struct pn_node *n = add_node(g, "Conv", 2, in, "y");
  set_ints2(g, n, "dilations", 2, 2);
  set_ints4(g, n, "pads", 1, 1, 1, 1);
  check_graph(g, 2, false, 40);
}

/* Conv and the pools take the executor's window geometry (graph/window.h): with auto_pad the
** forward pass equals the executor's output, and the gradients check. */
static struct pn_graph *window_graph(const char *op, const char *auto_pad) {
  int64_t xd[4] = {2, 3, 7, 6};
  struct pn_graph *g = graph_with_input(4, xd);
  const char *in[3] = {"x", "w", "b"};
  struct pn_node *n;
  if (!strcmp(op, "Conv")) {
    int64_t wd[4] = {4, 3, 3, 2}, bd[1] = {4};
    add_param(g, "w", 4, wd, 0.5, 0);
    add_param(g, "b", 1, bd, 0.5, 0);
    n = add_node(g, op, 3, in, "y");
    set_ints2(g, n, "strides", 2, 1);
  } else {
    n = add_node(g, op, 1, in, "y");
    set_ints2(g, n, "kernel_shape", 3, 2);
    set_ints2(g, n, "strides", 2, 2);
  }
  assert_int_equal(pn_node_set_string(g, n, "auto_pad", auto_pad), PN_OK);
  return g;
}

static void test_window_geometry(void **state) {
  static const char *ops[] = {"Conv", "MaxPool", "AveragePool"};
  static const char *modes[] = {"SAME_UPPER", "SAME_LOWER", "VALID"};
  for (int o = 0; o < 3; o++)
    for (int m = 0; m < 3; m++) {
      struct pn_ctx ctx = {0};
      struct pn_graph *g = window_graph(ops[o], modes[m]);
      assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
      struct pn_ag *ag = NULL;
      struct pn_ag_opts ao = {.max_batch = 2};
      int rc = pn_ag_new(&ctx, g, &ao, &ag);
      if (rc) print_error("%s %s: %s\n", ops[o], modes[m], pn_errmsg(&ctx));
      assert_int_equal(rc, PN_OK);
      int64_t xd[4] = {2, 3, 7, 6};
      struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, xd), *y = NULL;
      fill_normal(x->data, pn_tensor_numel(x), 1.0);
      const float *out;
      assert_int_equal(pn_ag_forward(&ctx, ag, x->data, 2, false, &out), PN_OK);
      struct pn_exec *ex = NULL;
      struct pn_exec_opts eo = {.no_fuse = true};
      const struct pn_tensor *in = x;
      assert_int_equal(pn_exec_new(&ctx, g, &eo, &ex), PN_OK);
      assert_int_equal(pn_exec_run(&ctx, ex, &in, &y), PN_OK);
      assert_int_equal(2 * pn_ag_output_size(ag), pn_tensor_numel(y));
      for (int64_t i = 0; i < pn_tensor_numel(y); i++)
        assert_true(fabsf(out[i] - ((float *)y->data)[i]) <= 1e-4f * (1 + fabsf(out[i])));
      pn_tensor_free(x);
      pn_tensor_free(y);
      pn_exec_free(ex);
      pn_ag_free(ag);
      pn_graph_free(g);
      check_graph(window_graph(ops[o], modes[m]), 2, false, 30);
    }
}

static void test_gemm(void **state) {
  for (int tb = 0; tb < 2; tb++) {
    int64_t xd[2] = {3, 5};
    struct pn_graph *g = graph_with_input(2, xd);
    int64_t wd[2] = {tb ? 4 : 5, tb ? 5 : 4}, bd[1] = {4};
    add_param(g, "w", 2, wd, 0.5, 0);
    add_param(g, "c", 1, bd, 0.5, 0);
    const char *in[3] = {"x", "w", "c"};
    struct pn_node *n = add_node(g, "Gemm", 3, in, "y");
    assert_int_equal(pn_node_set_int(g, n, "transB", tb), PN_OK);
    check_graph(g, 3, false, 30);
  }
}

static void test_matmul(void **state) {
  int64_t xd[3] = {2, 3, 5};
  struct pn_graph *g = graph_with_input(3, xd);
  int64_t wd[2] = {5, 4};
  add_param(g, "w", 2, wd, 0.5, 0);
  const char *in[2] = {"x", "w"};
  add_node(g, "MatMul", 2, in, "y");
  check_graph(g, 2, false, 30);
}

/* Add and Mul, with an activation on both sides (x + x*x) and a broadcast parameter. */
static void test_add_mul_broadcast(void **state) {
  int64_t xd[4] = {2, 3, 4, 2};
  struct pn_graph *g = graph_with_input(4, xd);
  int64_t cd[3] = {3, 1, 1}, rd[1] = {2};
  add_param(g, "c", 3, cd, 1.0, 0);
  add_param(g, "r", 1, rd, 1.0, 0);
  const char *a1[2] = {"x", "x"}, *a2[2] = {"xx", "c"}, *a3[2] = {"r", "m"}, *a4[2] = {"x", "s"};
  add_node(g, "Mul", 2, a1, "xx");     /* same-shape, both inputs the same value */
  add_node(g, "Mul", 2, a2, "m");      /* per-channel broadcast */
  add_node(g, "Add", 2, a3, "s");      /* broadcast on the left, lower rank */
  add_node(g, "Add", 2, a4, "y");      /* residual */
  check_graph(g, 2, false, 40);
}

static void bn_graph(bool train) {
  int64_t xd[4] = {4, 3, 3, 2};
  struct pn_graph *g = graph_with_input(4, xd);
  int64_t cd[1] = {3};
  add_param(g, "scale", 1, cd, 0.5, 1.0);
  add_param(g, "bias", 1, cd, 0.5, 0);
  add_param(g, "mean", 1, cd, 0.3, 0);
  add_param(g, "var", 1, cd, 0.1, 1.0);
  const char *in[5] = {"x", "scale", "bias", "mean", "var"};
  /* a nonlinearity after BN so that sum(out*R) is not trivially affine in the batch statistics */
  const char *in2[2] = {"bn", "bn"};
  add_node(g, "BatchNormalization", 5, in, "bn");
  add_node(g, "Mul", 2, in2, "y");
  check_graph(g, 4, train, 40);
}

static void test_batchnorm_train(void **state) { bn_graph(true); }
static void test_batchnorm_eval(void **state) { bn_graph(false); }

static void test_bn_running_stats(void **state) {
  /* ONNX: running = running * momentum + batch * (1 - momentum), batch var is the population var */
  struct pn_ctx ctx = {0};
  int64_t xd[4] = {2, 1, 1, 2};
  struct pn_graph *g = graph_with_input(4, xd);
  int64_t cd[1] = {1};
  add_param(g, "scale", 1, cd, 0, 1.0);
  add_param(g, "bias", 1, cd, 0, 0);
  add_param(g, "mean", 1, cd, 0, 1.0);
  add_param(g, "var", 1, cd, 0, 2.0);
  const char *in[5] = {"x", "scale", "bias", "mean", "var"};
  struct pn_node *n = add_node(g, "BatchNormalization", 5, in, "y");
  assert_int_equal(pn_node_set_float(g, n, "momentum", 0.75f), PN_OK);
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  struct pn_ag *ag;
  struct pn_ag_opts o = {.max_batch = 2};
  assert_int_equal(pn_ag_new(&ctx, g, &o, &ag), PN_OK);
  assert_int_equal(pn_ag_n_params(ag), 2); /* mean/var are state, not parameters */
  const float x[4] = {1, 2, 3, 6};         /* mean 3, population var 3.5 */
  const float *y;
  assert_int_equal(pn_ag_forward(&ctx, ag, x, 2, true, &y), PN_OK);
  float *mean = pn_graph_find_init(g, "mean")->data, *var = pn_graph_find_init(g, "var")->data;
  assert_float_equal(mean[0], 0.75 * 1.0 + 0.25 * 3.0, 1e-6);
  assert_float_equal(var[0], 0.75 * 2.0 + 0.25 * 3.5, 1e-6);
  assert_float_equal(y[0], (1 - 3) / sqrt(3.5 + 1e-5), 1e-5);
  /* inference mode uses the running statistics and leaves them alone */
  assert_int_equal(pn_ag_forward(&ctx, ag, x, 2, false, &y), PN_OK);
  assert_float_equal(y[3], (6 - mean[0]) / sqrt(var[0] + 1e-5), 1e-5);
  assert_float_equal(mean[0], 1.5, 1e-6);
  pn_ag_free(ag);
  pn_graph_free(g);
}

static void test_relu_flatten_reshape(void **state) {
  int64_t xd[4] = {2, 2, 3, 3};
  struct pn_graph *g = graph_with_input(4, xd);
  int64_t sd[1] = {2};
  struct pn_tensor *s = pn_graph_new_init(g, "shape", PN_DT_INT64, 1, sd);
  ((int64_t *)s->data)[0] = 0;
  ((int64_t *)s->data)[1] = -1;
  int64_t wd[2] = {18, 3};
  add_param(g, "w", 2, wd, 0.5, 0);
  const char *r[1] = {"x"}, *f[1] = {"r"}, *rs[2] = {"f", "shape"}, *mm[2] = {"rs", "w"};
  add_node(g, "Relu", 1, r, "r");
  add_node(g, "Flatten", 1, f, "f");
  add_node(g, "Reshape", 2, rs, "rs");
  add_node(g, "MatMul", 2, mm, "y");
  check_graph(g, 2, false, 36);
}

static void test_maxpool(void **state) {
  int64_t xd[4] = {2, 2, 7, 7};
  struct pn_graph *g = graph_with_input(4, xd);
  const char *in[1] = {"x"};
  struct pn_node *n = add_node(g, "MaxPool", 1, in, "y");
  set_ints2(g, n, "kernel_shape", 3, 3);
  set_ints2(g, n, "strides", 2, 2);
  set_ints4(g, n, "pads", 1, 1, 1, 1);
  check_graph(g, 2, false, 60);
}

static void test_avgpool(void **state) {
  for (int cip = 0; cip < 2; cip++) {
    int64_t xd[4] = {2, 2, 6, 5};
    struct pn_graph *g = graph_with_input(4, xd);
    const char *in[1] = {"x"};
    struct pn_node *n = add_node(g, "AveragePool", 1, in, "y");
    set_ints2(g, n, "kernel_shape", 3, 2);
    set_ints2(g, n, "strides", 2, 2);
    set_ints4(g, n, "pads", 1, 1, 1, 0);
    assert_int_equal(pn_node_set_int(g, n, "count_include_pad", cip), PN_OK);
    check_graph(g, 2, false, 60);
  }
}

static void test_global_avgpool(void **state) {
  int64_t xd[4] = {2, 3, 4, 3};
  struct pn_graph *g = graph_with_input(4, xd);
  const char *in[1] = {"x"};
  add_node(g, "GlobalAveragePool", 1, in, "y");
  check_graph(g, 2, false, 60);
}

static void test_dropout(void **state) {
  struct pn_ctx ctx = {0};
  int64_t xd[2] = {4, 50};
  struct pn_graph *g = graph_with_input(2, xd);
  const char *in[1] = {"x"};
  struct pn_node *n = add_node(g, "Dropout", 1, in, "y");
  assert_int_equal(pn_node_set_float(g, n, "ratio", 0.25f), PN_OK);
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  struct pn_ag *ag;
  struct pn_ag_opts o = {.max_batch = 4, .input_grad = true, .dropout_seed = 7};
  assert_int_equal(pn_ag_new(&ctx, g, &o, &ag), PN_OK);
  float x[200], R[200];
  fill_normal(x, 200, 1.0);
  fill_normal(R, 200, 1.0);
  const float *y;
  /* inference: identity, gradient R */
  assert_int_equal(pn_ag_forward(&ctx, ag, x, 4, false, &y), PN_OK);
  for (int i = 0; i < 200; i++) assert_float_equal(y[i], x[i], 0);
  /* training: each element is dropped or scaled by 1/(1-ratio); the gradient uses the same mask */
  assert_int_equal(pn_ag_forward(&ctx, ag, x, 4, true, &y), PN_OK);
  float ycopy[200];
  memcpy(ycopy, y, sizeof ycopy);
  pn_ag_set_output_grad(ag, R);
  assert_int_equal(pn_ag_backward(&ctx, ag), PN_OK);
  const float *gx = pn_ag_input_grad(ag);
  int dropped = 0;
  for (int i = 0; i < 200; i++) {
    if (ycopy[i] == 0.0f) {
      dropped++;
      assert_float_equal(gx[i], 0, 0);
    } else {
      assert_float_equal(ycopy[i], x[i] / 0.75f, 1e-5);
      assert_float_equal(gx[i], R[i] / 0.75f, 1e-5);
    }
  }
  assert_in_range(dropped, 20, 85); /* expected 50 of 200 */
  pn_ag_free(ag);
  pn_graph_free(g);
}

/* d(mean softmax cross-entropy)/d logits by finite differences, through a Gemm. */
static void test_softmax_xent(void **state) {
  struct pn_ctx ctx = {0};
  int64_t xd[2] = {3, 4};
  struct pn_graph *g = graph_with_input(2, xd);
  int64_t wd[2] = {4, 5};
  add_param(g, "w", 2, wd, 1.0, 0);
  const char *in[2] = {"x", "w"};
  add_node(g, "MatMul", 2, in, "y");
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  struct pn_ag *ag;
  struct pn_ag_opts o = {.max_batch = 3, .input_grad = true};
  assert_int_equal(pn_ag_new(&ctx, g, &o, &ag), PN_OK);
  float x[12];
  fill_normal(x, 12, 1.0);
  int32_t lab[3] = {0, 4, 2};
  const float *z;
  assert_int_equal(pn_ag_forward(&ctx, ag, x, 3, true, &z), PN_OK);
  /* the loss against a direct computation */
  double ref = 0;
  for (int i = 0; i < 3; i++) {
    double s = 0;
    for (int k = 0; k < 5; k++) s += exp(z[i * 5 + k]);
    ref += -(z[i * 5 + lab[i]] - log(s));
  }
  int correct;
  double loss = pn_ag_softmax_xent(ag, lab, &correct);
  assert_float_equal(loss, ref / 3, 1e-5);
  assert_int_equal(pn_ag_backward(&ctx, ag), PN_OK);
  float gx[12];
  memcpy(gx, pn_ag_input_grad(ag), sizeof gx);
  for (int i = 0; i < 12; i++) {
    float keep = x[i];
    double l[2];
    for (int s = 0; s < 2; s++) {
      x[i] = keep + (s ? -1e-2f : 1e-2f);
      assert_int_equal(pn_ag_forward(&ctx, ag, x, 3, true, &z), PN_OK);
      l[s] = pn_ag_softmax_xent(ag, lab, NULL);
    }
    x[i] = keep;
    compare("xent/x", i, gx[i], (l[0] - l[1]) / 2e-2);
  }
  pn_ag_free(ag);
  pn_graph_free(g);
}

/* Whole reference architectures, BN in training mode. Finite differences of single coordinates
** are unreliable through thousands of ReLU/MaxPool kinks, so this checks the directional
** derivative along the gradient itself: d/dt L(theta + t g/|g|) = |g|. */
static void test_archs(void **state) {
  for (int a = 0; pn_arch_names[a]; a++) {
    struct pn_ctx ctx = {0};
    struct pn_graph *g;
    assert_int_equal(pn_arch_build(&ctx, pn_arch_names[a], 3, &g), PN_OK);
    struct pn_ag *ag;
    struct pn_ag_opts o = {.max_batch = 4, .input_grad = true};
    assert_int_equal(pn_ag_new(&ctx, g, &o, &ag), PN_OK);
    int n = 4;
    int64_t in_n = n * 784, out_n = n * 10;
    float *x = malloc(sizeof(float) * (size_t)in_n), R[40];
    fill_normal(x, in_n, 1.0);
    fill_normal(R, out_n, 1.0);
    const float *out;
    assert_int_equal(pn_ag_forward(&ctx, ag, x, n, true, &out), PN_OK);
    pn_ag_set_output_grad(ag, R);
    assert_int_equal(pn_ag_backward(&ctx, ag), PN_OK);
    int np = pn_ag_n_params(ag);
    float **dir = calloc((size_t)np + 1, sizeof *dir), *dx = malloc(sizeof(float) * (size_t)in_n);
    double norm2 = 0;
    memcpy(dx, pn_ag_input_grad(ag), sizeof(float) * (size_t)in_n);
    for (int64_t i = 0; i < in_n; i++) norm2 += (double)dx[i] * dx[i];
    for (int p = 0; p < np; p++) {
      struct pn_ag_param *pa = pn_ag_param(ag, p);
      dir[p] = malloc(sizeof(float) * (size_t)pa->numel);
      memcpy(dir[p], pa->grad, sizeof(float) * (size_t)pa->numel);
      for (int64_t i = 0; i < pa->numel; i++) norm2 += (double)dir[p][i] * dir[p][i];
    }
    double norm = sqrt(norm2), h = 1e-3, l[2];
    for (int s = 0; s < 2; s++) {
      double t = (s ? -h : h) / norm;
      float *xs = malloc(sizeof(float) * (size_t)in_n);
      for (int64_t i = 0; i < in_n; i++) xs[i] = x[i] + (float)(t * dx[i]);
      float **keep = calloc((size_t)np + 1, sizeof *keep);
      for (int p = 0; p < np; p++) {
        struct pn_ag_param *pa = pn_ag_param(ag, p);
        float *w = pa->t->data;
        keep[p] = malloc(sizeof(float) * (size_t)pa->numel);
        memcpy(keep[p], w, sizeof(float) * (size_t)pa->numel);
        for (int64_t i = 0; i < pa->numel; i++) w[i] += (float)(t * dir[p][i]);
      }
      l[s] = objective(ag, xs, n, true, R, out_n);
      for (int p = 0; p < np; p++) {
        struct pn_ag_param *pa = pn_ag_param(ag, p);
        memcpy(pa->t->data, keep[p], sizeof(float) * (size_t)pa->numel);
        free(keep[p]);
      }
      free(keep);
      free(xs);
    }
    double numeric = (l[0] - l[1]) / (2 * h);
    printf("arch %-8s |grad| %.5g, directional derivative %.5g\n", pn_arch_names[a], norm, numeric);
    assert_true(fabs(numeric - norm) <= 0.05 * norm);
    n_checked++;
    for (int p = 0; p < np; p++) free(dir[p]);
    free(dir);
    free(dx);
    free(x);
    pn_ag_free(ag);
    pn_graph_free(g);
  }
}

static void test_unsupported(void **state) {
  struct pn_ctx ctx = {0};
  int64_t xd[2] = {2, 3};
  struct pn_graph *g = graph_with_input(2, xd);
  const char *in[1] = {"x"};
  add_node(g, "Softsign", 1, in, "y");
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  struct pn_ag *ag = NULL;
  struct pn_ag_opts o = {.max_batch = 2};
  assert_int_equal(pn_ag_new(&ctx, g, &o, &ag), PN_ERR_UNSUPPORTED);
  assert_null(ag);
  assert_non_null(strstr(pn_errmsg(&ctx), "Softsign"));
  pn_graph_free(g);
  /* the op table decides, by (domain, op type): ai.privnn's "Relu" is not ai.onnx's */
  g = graph_with_input(2, xd);
  struct pn_node *n = add_node(g, "Relu", 1, in, "y");
  n->domain = "ai.privnn";
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  assert_int_equal(pn_ag_new(&ctx, g, &o, &ag), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "not differentiable"));
  n->domain = "ai.onnx";
  assert_int_equal(pn_ag_new(&ctx, g, &o, &ag), PN_OK);
  pn_ag_free(ag);
  pn_graph_free(g);
}

int main(void) {
  g_seed = pn_test_seed("test_grad", g_seed);
  if (pn_prg_init_u64(NULL, &g_prg, g_seed)) return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_conv),
    cmocka_unit_test(test_conv_dilated_nobias),
    cmocka_unit_test(test_window_geometry),
    cmocka_unit_test(test_gemm),
    cmocka_unit_test(test_matmul),
    cmocka_unit_test(test_add_mul_broadcast),
    cmocka_unit_test(test_batchnorm_train),
    cmocka_unit_test(test_batchnorm_eval),
    cmocka_unit_test(test_bn_running_stats),
    cmocka_unit_test(test_relu_flatten_reshape),
    cmocka_unit_test(test_maxpool),
    cmocka_unit_test(test_avgpool),
    cmocka_unit_test(test_global_avgpool),
    cmocka_unit_test(test_dropout),
    cmocka_unit_test(test_softmax_xent),
    cmocka_unit_test(test_archs),
    cmocka_unit_test(test_unsupported),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pn_prg_free(&g_prg);
  printf("test_grad: %d gradient coordinates checked\n", n_checked);
  return rc;
}
