/* test_paf_grad.c - PafRelu and PafMaxPool in autograd: forward equal to the executor's, gradients
** with respect to the input, every coefficient and the weights around them against central finite
** differences (static scales; the dynamic scale is a constant by definition, checked with
** perturbations that leave the max untouched), the BatchNormalization modes SmartPAF uses (frozen,
** averaged), and gradient masks (frozen groups cost nothing and change nothing).
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
#include "graph/paf.h"
#include "nn/autograd.h"
#include "pn_test.h"
#include "util/util.h"

static struct pn_prg g_prg;

static double urand(double lo, double hi) { return lo + (hi - lo) * pn_prg_double(&g_prg); }

static void rand_init(struct pn_graph *g, const char *name, int ndim, const int64_t *dims, double lo, double hi) {
  struct pn_tensor *t = pn_graph_new_init(g, name, PN_DT_FLOAT, ndim, dims);
  assert_non_null(t);
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) ((float *)t->data)[i] = (float)urand(lo, hi);
}

/* x [N,2,6,6] -> Conv(3x3 pad 1, 3 ch) -> BN -> Relu -> MaxPool(2x2) -> Flatten -> Gemm(27 -> 4),
** with the Relu and MaxPool made PAFs of form f (scale s > 0 static, else dynamic) */
static struct pn_graph *net(enum pn_paf_form f, float s_relu, float s_pool) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, (int64_t[]){-1, 2, 6, 6}));
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 2, (int64_t[]){-1, 4}));
  rand_init(g, "w", 4, (int64_t[]){3, 2, 3, 3}, -0.4, 0.4);
  rand_init(g, "bs", 1, (int64_t[]){3}, 0.8, 1.2);
  rand_init(g, "bb", 1, (int64_t[]){3}, -0.2, 0.2);
  rand_init(g, "bm", 1, (int64_t[]){3}, -0.1, 0.1);
  rand_init(g, "bv", 1, (int64_t[]){3}, 0.8, 1.2);
  rand_init(g, "fw", 2, (int64_t[]){4, 27}, -0.4, 0.4);
  rand_init(g, "fb", 1, (int64_t[]){4}, -0.1, 0.1);
  const char *names[][7] = {{"Conv", "c", "x", "w"}, {"BatchNormalization", "n", "c", "bs", "bb", "bm", "bv"},
                            {"Relu", "r", "n"}, {"MaxPool", "p", "r"}, {"Flatten", "f", "p"}, {"Gemm", "y", "f", "fw", "fb"}};
  const int n_in[] = {2, 5, 1, 1, 1, 3};
  for (int i = 0; i < 6; i++) {
    const char *in[5];
    for (int j = 0; j < n_in[i]; j++) in[j] = names[i][2 + j];
    const char *out = names[i][1];
    struct pn_node *n = pn_graph_add_node(g, names[i][0], out, n_in[i], in, 1, &out);
    assert_non_null(n);
    if (i == 0) {
      assert_int_equal(pn_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){3, 3}), PN_OK);
      assert_int_equal(pn_node_set_ints(g, n, "pads", 4, (int64_t[]){1, 1, 1, 1}), PN_OK);
    }
    if (i == 3) {
      assert_int_equal(pn_node_set_ints(g, n, "kernel_shape", 2, (int64_t[]){2, 2}), PN_OK);
      assert_int_equal(pn_node_set_ints(g, n, "strides", 2, (int64_t[]){2, 2}), PN_OK);
    }
    if (i == 5) assert_int_equal(pn_node_set_int(g, n, "transB", 1), PN_OK);
  }
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  for (int i = 0; i < g->n_nodes; i++) {
    int k = pn_paf_site_kind(g->nodes[i]);
    if (k < 0) continue;
    float c[PN_PAF_MAX_COEFFS];
    for (int j = 0; j < pn_paf_n_coeffs(f); j++) c[j] = (float)(d->base[j] * urand(0.9995, 1.0005));
    assert_int_equal(pn_paf_replace(&ctx, g, g->nodes[i], f, c, k == PN_PAF_RELU ? s_relu : s_pool), PN_OK);
  }
  return g;
}

static struct pn_ag *engine(struct pn_graph *g, bool input_grad) {
  struct pn_ctx ctx = {0};
  struct pn_ag_opts o = {.max_batch = 8, .input_grad = input_grad};
  struct pn_ag *ag = NULL;
  int rc = pn_ag_new(&ctx, g, &o, &ag);
  if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  return ag;
}

/* sum(out * R), inference mode (BN running statistics) */
static double objective(struct pn_ag *ag, const float *x, int n, const float *R) {
  struct pn_ctx ctx = {0};
  const float *out;
  assert_int_equal(pn_ag_forward(&ctx, ag, x, n, false, &out), PN_OK);
  double s = 0;
  for (int64_t i = 0; i < n * 4; i++) s += (double)out[i] * R[i];
  return s;
}

static void test_forward_matches_executor(void **state) {
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++) {
    struct pn_graph *g = net(f, f % 2 ? 6.0f : 0, f % 2 ? 0 : 5.0f);
    struct pn_ag *ag = engine(g, false);
    struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, (int64_t[]){5, 2, 6, 6}), *y = NULL;
    for (int64_t i = 0; i < pn_tensor_numel(x); i++) ((float *)x->data)[i] = (float)urand(-1, 1);
    struct pn_ctx ctx = {0};
    const float *z;
    assert_int_equal(pn_ag_forward(&ctx, ag, x->data, 5, false, &z), PN_OK);
    struct pn_exec *ex = NULL;
    assert_int_equal(pn_exec_new(&ctx, g, NULL, &ex), PN_OK);
    const struct pn_tensor *in[1] = {x};
    assert_int_equal(pn_exec_run(&ctx, ex, in, &y), PN_OK);
    double worst = 0;
    for (int i = 0; i < 20; i++) worst = fmax(worst, fabs(z[i] - ((float *)y->data)[i]) / (1 + fabs(z[i])));
    /* the executor folds BN into the conv (other rounding), which minimax27's slope amplifies */
    double tol = f == PN_PAF_MINIMAX27 ? 1e-3 : 1e-5;
    if (!(worst < tol)) printf("  %s: autograd vs executor %.3g\n", pn_paf_form_name(f), worst);
    assert_true(worst < tol);
    pn_exec_free(ex);
    pn_tensor_free(x);
    pn_tensor_free(y);
    pn_ag_free(ag);
    pn_graph_free(g);
  }
}

/* every parameter (coefficients of both PAFs included), and the input */
static void check_grads(enum pn_paf_form f) {
  struct pn_graph *g = net(f, 8.0f, 6.0f);
  struct pn_ag *ag = engine(g, true);
  enum { N = 3 };
  float x[N * 72], R[N * 4];
  for (int i = 0; i < N * 72; i++) x[i] = (float)urand(-1, 1);
  for (int i = 0; i < N * 4; i++) R[i] = (float)urand(-1, 1);
  objective(ag, x, N, R);
  pn_ag_set_output_grad(ag, R);
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_ag_backward(&ctx, ag), PN_OK);
  double worst = 0;
  int checked = 0;
  for (int p = 0; p < pn_ag_n_params(ag); p++) {
    struct pn_ag_param *pp = pn_ag_param(ag, p);
    float *w = pp->t->data;
    float *ga = malloc(sizeof(float) * (size_t)pp->numel);
    memcpy(ga, pp->grad, sizeof(float) * (size_t)pp->numel);
    /* a coefficient moves its stage's output by at most h on [-1, 1]: an absolute step */
    bool coef = strstr(pp->name, ".paf_c") != NULL;
    for (int64_t i = 0; i < pp->numel; i++) {
      float w0 = w[i], h = coef ? 1e-3f : 1e-3f * fmaxf(1.0f, fabsf(w0));
      w[i] = w0 + h;
      double lp = objective(ag, x, N, R);
      w[i] = w0 - h;
      double lm = objective(ag, x, N, R);
      w[i] = w0;
      double num = (lp - lm) / (2.0 * ((double)(w0 + h) - (double)w0));
      double err = fabs(ga[i] - num) / (5e-2 + fabs(num)); /* FD noise: about 1e-3 absolute */
      worst = fmax(worst, err);
      checked++;
      if (err > 2e-2) printf("  %s %s[%lld]: analytic %.6g numeric %.6g\n", pn_paf_form_name(f), pp->name, (long long)i, ga[i], num);
    }
    free(ga);
  }
  const float *gx = pn_ag_input_grad(ag);
  float *gxc = malloc(sizeof x);
  memcpy(gxc, gx, sizeof x);
  for (int i = 0; i < N * 72; i += 7) {
    float x0 = x[i];
    x[i] = x0 + 1e-3f;
    double lp = objective(ag, x, N, R);
    x[i] = x0 - 1e-3f;
    double lm = objective(ag, x, N, R);
    x[i] = x0;
    double num = (lp - lm) / 2e-3;
    worst = fmax(worst, fabs(gxc[i] - num) / (1e-2 + fabs(num)));
    checked++;
  }
  free(gxc);
  printf("  %-10s %d gradients (weights, BN, both PAFs' coefficients, input): worst relative error %.2g\n",
         pn_paf_form_name(f), checked, worst);
  assert_true(worst < 2e-2);
  pn_ag_free(ag);
  pn_graph_free(g);
}

/* minimax27 is left out: its float32 forward is good to about 1e-4 (slope 148, coefficients to 114),
** below what a finite difference of the whole network resolves; its kernel gradients are checked
** against finite differences in double in tests/graph/test_paf.c, and the autograd wiring is the
** same for every form */
static void test_grads(void **state) {
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++)
    if (f != PN_PAF_MINIMAX27) check_grads(f);
}

/* dynamic scale: the gradient holds s constant, as the paper's DS does; moving an element that is
** not the max leaves s unchanged, so there FD and analytic agree */
static void test_dynamic_scale(void **state) {
  struct pn_graph *g = pn_graph_new();
  struct pn_ctx ctx = {0};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 2, (int64_t[]){-1, 16}));
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 2, (int64_t[]){-1, 16}));
  const char *in[1] = {"x"}, *out = "y";
  struct pn_node *n = pn_graph_add_node(g, "Relu", "r", 1, in, 1, &out);
  assert_int_equal(pn_paf_replace(&ctx, g, n, PN_PAF_F2G2, NULL, 0), PN_OK);
  struct pn_ag *ag = engine(g, true);
  float x[32], R[32];
  for (int i = 0; i < 32; i++) {
    x[i] = (float)urand(-1, 1);
    R[i] = (float)urand(-1, 1);
  }
  x[5] = 3.0f; /* the max, well clear of the others */
  const float *z;
  assert_int_equal(pn_ag_forward(&ctx, ag, x, 2, false, &z), PN_OK);
  /* DS semantics: t = x / max |x| over the whole batch tensor, y = (x + x P(t)) / 2 */
  for (int i = 0; i < 32; i++) {
    double t = x[i] / 3.0, p = pn_paf_sign(PN_PAF_F2G2, NULL, t);
    assert_true(fabs(z[i] - 0.5 * (x[i] + x[i] * p)) < 1e-5);
  }
  pn_ag_set_output_grad(ag, R);
  assert_int_equal(pn_ag_backward(&ctx, ag), PN_OK);
  const float *gx = pn_ag_input_grad(ag);
  for (int i = 0; i < 32; i++) {
    if (i == 5) continue;
    float x0 = x[i];
    double l[2];
    for (int s = 0; s < 2; s++) {
      x[i] = x0 + (s ? -1e-3f : 1e-3f);
      assert_int_equal(pn_ag_forward(&ctx, ag, x, 2, false, &z), PN_OK);
      l[s] = 0;
      for (int k = 0; k < 32; k++) l[s] += (double)z[k] * R[k];
    }
    x[i] = x0;
    double num = (l[0] - l[1]) / 2e-3;
    assert_true(fabs(gx[i] - num) < 2e-3 * (1 + fabs(num)));
  }
  pn_ag_free(ag);
  pn_graph_free(g);
}

/* BN frozen: training forwards use and keep the running statistics; BN average: running statistics
** become the mean of the batch statistics */
static void test_bn_modes(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = net(PN_PAF_F1G2, 4.0f, 4.0f);
  struct pn_ag *ag = engine(g, false);
  float x[2][4 * 72];
  for (int b = 0; b < 2; b++)
    for (int i = 0; i < 4 * 72; i++) x[b][i] = (float)urand(-1, 1);
  float *rm = pn_graph_find_init(g, "bm")->data, *rv = pn_graph_find_init(g, "bv")->data;
  float m0[3], v0[3];
  memcpy(m0, rm, sizeof m0);
  memcpy(v0, rv, sizeof v0);
  const float *z;
  float zi[16], zf[16];
  assert_int_equal(pn_ag_forward(&ctx, ag, x[0], 4, false, &z), PN_OK);
  memcpy(zi, z, sizeof zi);
  pn_ag_set_bn(ag, PN_AG_BN_FROZEN);
  assert_int_equal(pn_ag_forward(&ctx, ag, x[0], 4, true, &z), PN_OK);
  memcpy(zf, z, sizeof zf);
  assert_memory_equal(zi, zf, sizeof zi); /* train mode computed with running statistics */
  assert_memory_equal(rm, m0, sizeof m0);
  assert_memory_equal(rv, v0, sizeof v0);
  /* average: the conv outputs' per-channel mean over both batches */
  pn_ag_set_bn(ag, PN_AG_BN_AVERAGE);
  double mean[2][3] = {{0}};
  for (int b = 0; b < 2; b++) {
    assert_int_equal(pn_ag_forward(&ctx, ag, x[b], 4, true, &z), PN_OK);
    /* the conv output of this batch through the executor-free route: run the conv alone */
  }
  /* the running mean after averaging two batches is the mean of two batch means, each the mean of
  ** the conv output: check against a conv-only graph */
  struct pn_graph *c = pn_graph_clone(g);
  while (c->n_nodes > 1) pn_graph_remove_node(c, c->n_nodes - 1);
  c->outputs[0].name = "c";
  c->outputs[0].ndim = -1;
  struct pn_exec *ex = NULL;
  assert_int_equal(pn_exec_new(&ctx, c, NULL, &ex), PN_OK);
  for (int b = 0; b < 2; b++) {
    struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, 4, (int64_t[]){4, 2, 6, 6}), *o = NULL;
    memcpy(t->data, x[b], sizeof x[b]);
    const struct pn_tensor *in[1] = {t};
    assert_int_equal(pn_exec_run(&ctx, ex, in, &o), PN_OK);
    for (int ch = 0; ch < 3; ch++) {
      double s = 0;
      for (int i = 0; i < 4; i++)
        for (int k = 0; k < 36; k++) s += ((float *)o->data)[(i * 3 + ch) * 36 + k];
      mean[b][ch] = s / 144;
    }
    pn_tensor_free(t);
    pn_tensor_free(o);
  }
  for (int ch = 0; ch < 3; ch++) assert_true(fabs(rm[ch] - 0.5 * (mean[0][ch] + mean[1][ch])) < 1e-5);
  pn_exec_free(ex);
  pn_graph_free(c);
  pn_ag_free(ag);
  pn_graph_free(g);
}

/* a gradient mask: the masked-in gradients equal the full ones, the others are not touched */
static void test_need_grad(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = net(PN_PAF_F2G3, 5.0f, 5.0f);
  struct pn_ag *ag = engine(g, false);
  float x[3 * 72], R[12];
  for (int i = 0; i < 3 * 72; i++) x[i] = (float)urand(-1, 1);
  for (int i = 0; i < 12; i++) R[i] = (float)urand(-1, 1);
  int np = pn_ag_n_params(ag);
  float *full[32];
  assert_true(np <= 32);
  objective(ag, x, 3, R);
  pn_ag_set_output_grad(ag, R);
  assert_int_equal(pn_ag_backward(&ctx, ag), PN_OK);
  for (int p = 0; p < np; p++) {
    full[p] = malloc(sizeof(float) * (size_t)pn_ag_param(ag, p)->numel);
    memcpy(full[p], pn_ag_param(ag, p)->grad, sizeof(float) * (size_t)pn_ag_param(ag, p)->numel);
  }
  bool need[32] = {false};
  int picked = -1;
  for (int p = 0; p < np; p++)
    if (strstr(pn_ag_param(ag, p)->name, "p.paf_c")) need[picked = p] = true; /* the pool's coefficients */
  assert_true(picked >= 0);
  for (int p = 0; p < np; p++) /* poison the others */
    for (int64_t i = 0; i < pn_ag_param(ag, p)->numel; i++) pn_ag_param(ag, p)->grad[i] = 1234.5f;
  assert_int_equal(pn_ag_set_need_grad(&ctx, ag, need), PN_OK);
  objective(ag, x, 3, R);
  pn_ag_set_output_grad(ag, R);
  assert_int_equal(pn_ag_backward(&ctx, ag), PN_OK);
  for (int p = 0; p < np; p++)
    for (int64_t i = 0; i < pn_ag_param(ag, p)->numel; i++) {
      float gv = pn_ag_param(ag, p)->grad[i];
      if (p == picked) assert_true(gv == full[p][i]);
      else assert_true(gv == 1234.5f);
    }
  for (int p = 0; p < np; p++) free(full[p]);
  pn_ag_free(ag);
  pn_graph_free(g);
}

int main(void) {
  struct pn_ctx ctx = {0};
  if (pn_prg_init_u64(&ctx, &g_prg, pn_test_seed("test_paf_grad", 3))) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_matches_executor), cmocka_unit_test(test_grads),
      cmocka_unit_test(test_dynamic_scale),            cmocka_unit_test(test_bn_modes),
      cmocka_unit_test(test_need_grad),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pn_prg_free(&g_prg);
  return rc;
}
