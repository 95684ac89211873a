/* test_mpc_profile.c - the range profiler (mpc/profile.h) against ranges computed here from the
** inputs themselves, on graphs where a ReLU's and a MaxPool's inputs are known: x -> Relu ->
** MaxPool, a chain longer than any fixed table, nodes sharing a label, and the plans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpc/profile.h"
#include "pn_test.h"
#include "util/util.h"

static struct pn_prg prg;

/* Image i is a deterministic function of (seed, i): the test recomputes any image. */
struct images {
  uint64_t seed;
  int64_t per_image;
  double scale;
  int calls;
  int fail_at;                 /* call number that fails, -1 none */
};

static float pixel(const struct images *im, int64_t i, int64_t j) {
  struct pn_prg p;
  pn_prg_init_u64(NULL, &p, im->seed ^ (uint64_t)(i * 1000003 + 17));
  float v = 0;
  for (int64_t k = 0; k <= j; k++) v = (float)(im->scale * pn_prg_normal(&p));
  pn_prg_free(&p);
  return v;
}

static int images(void *user, struct pn_ctx *ctx, int64_t first, int64_t cnt, float *x) {
  struct images *im = user;
  if (im->calls++ == im->fail_at) return pn_err(ctx, PN_ERR_IO, "images: the test source fails");
  for (int64_t i = 0; i < cnt; i++)
    for (int64_t j = 0; j < im->per_image; j++) x[i * im->per_image + j] = pixel(im, first + i, j);
  return PN_OK;
}

/* x [N,2,4,4] -> Relu "act" -> MaxPool 2x2 stride 2 "pool" -> y */
static struct pn_graph *relu_pool(void) {
  struct pn_graph *g = pn_graph_new();
  int64_t d[4] = {-1, 2, 4, 4};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, d));
  const char *x = "x", *r = "r", *y = "y";
  assert_non_null(pn_graph_add_node(g, "Relu", "act", 1, &x, 1, &r));
  struct pn_node *p = pn_graph_add_node(g, "MaxPool", "pool", 1, &r, 1, &y);
  int64_t k[2] = {2, 2};
  assert_int_equal(pn_node_set_ints(g, p, "kernel_shape", 2, k), PN_OK);
  assert_int_equal(pn_node_set_ints(g, p, "strides", 2, k), PN_OK);
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  return g;
}

/* Bits for v: least b with 2^b > v, computed from the binary exponent (not by the library's loop). */
static int bits_for(double v) {
  if (v < 1) return 0;
  int e;
  frexp(v, &e); /* v = f * 2^e, f in [0.5, 1): 2^(e-1) <= v < 2^e */
  return e;
}

static void test_relu_pool_ranges(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = relu_pool();
  struct images im = {.seed = pn_prg_u64(&prg), .per_image = 32, .scale = 3, .fail_at = -1};
  int64_t count = 23, batch = 5; /* 4 batches: images 0..19; the last 3 are not run */
  struct pn_mpc_profile p;
  int rc = pn_mpc_profile_run(&ctx, g, count, batch, images, &im, &p);
  if (rc) print_error("%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  assert_int_equal(p.images, 20);
  assert_int_equal(im.calls, 4);
  double mx = 0, mpos = 0;
  for (int64_t i = 0; i < 20; i++)
    for (int64_t j = 0; j < 32; j++) {
      double v = pixel(&im, i, j);
      mx = fmax(mx, fabs(v));
      mpos = fmax(mpos, v);
    }
  assert_int_equal(p.n, 2);
  assert_string_equal(p.r[0].node, "act");
  assert_true(p.r[0].relu);
  assert_true(p.r[0].max_abs == mx);
  assert_int_equal(p.r[0].cmp_per_image, 32);
  assert_string_equal(p.r[1].node, "pool");
  assert_false(p.r[1].relu);
  assert_true(p.r[1].max_abs == mpos);
  assert_int_equal(p.r[1].cmp_per_image, 8 * 3); /* 8 outputs, 3 comparisons each */

  /* the error-free plan and a uniform one */
  for (int uniform = 0; uniform <= 6; uniform += 6) {
    struct pn_mpc_plan plan;
    double bd;
    assert_int_equal(pn_mpc_profile_plan(&ctx, &p, 16, 1, uniform, &plan, &bd), PN_OK);
    assert_int_equal(plan.n, 2);
    int m0 = bits_for(2 * mx * 65536) + 1, m1 = bits_for(2 * 2 * mpos * 65536) + 1;
    assert_string_equal(plan.items[0].node, "act");
    assert_int_equal(plan.items[0].m, m0);
    assert_int_equal(plan.items[1].m, m1);
    int k0 = uniform && m0 > uniform ? m0 - uniform : 0, k1 = uniform && m1 > uniform ? m1 - uniform : 0;
    assert_int_equal(plan.items[0].k, k0);
    assert_int_equal(plan.items[1].k, k1);
    double used = (m0 - k0) * 32.0 + (m1 - k1) * 24.0, all = 64.0 * (32 + 24);
    assert_true(fabs(bd - (1 - used / all)) < 1e-12);
    pn_mpc_plan_free(&plan);
  }
  pn_mpc_profile_free(&p);
  assert_int_equal(p.n, 0);
  pn_graph_free(g);
}

/* More ReLUs than the CLI's old fixed table held (4096), and two nodes with one label (one plan
** entry, as the runner looks the label up). */
static void test_long_chain_and_shared_labels(void **state) {
  struct pn_ctx ctx = {0};
  enum { N = 5000 };
  struct pn_graph *g = pn_graph_new();
  int64_t d[2] = {-1, 3};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 2, d));
  char in[32] = "x", out[32], name[32];
  for (int i = 0; i < N; i++) {
    /* nodes 10 and 11 share the label "twin": node 10's name, and node 11 has no name and its
    ** output is called "twin" (names of nodes and of values are separate in ONNX) */
    snprintf(out, sizeof out, i == 11 ? "twin" : "v%d", i);
    snprintf(name, sizeof name, i == 10 ? "twin" : i == 11 ? "" : "r%d", i);
    const char *pi = in, *po = out;
    assert_non_null(pn_graph_add_node(g, "Relu", name, 1, &pi, 1, &po));
    memcpy(in, out, sizeof in);
  }
  assert_non_null(pn_graph_add_output(g, in, PN_DT_FLOAT, -1, NULL));
  struct images im = {.seed = 5, .per_image = 3, .scale = 1, .fail_at = -1};
  struct pn_mpc_profile p;
  int rc = pn_mpc_profile_run(&ctx, g, 4, 2, images, &im, &p);
  if (rc) print_error("%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  assert_int_equal(p.n, N - 1);
  double mx = 0, mpos = 0;
  for (int64_t i = 0; i < 4; i++)
    for (int64_t j = 0; j < 3; j++) {
      mx = fmax(mx, fabs(pixel(&im, i, j)));
      mpos = fmax(mpos, pixel(&im, i, j));
    }
  assert_true(p.r[0].max_abs == mx);           /* the first ReLU sees x */
  assert_true(p.r[N - 2].max_abs == mpos);     /* the last sees ReLU(x) */
  assert_string_equal(p.r[10].node, "twin");
  assert_string_equal(p.r[11].node, "r12");
  assert_string_equal(p.r[N - 2].node, "r4999");
  struct pn_mpc_plan plan;
  assert_int_equal(pn_mpc_profile_plan(&ctx, &p, 16, 0, 0, &plan, NULL), PN_OK);
  assert_int_equal(plan.n, N - 1);
  pn_mpc_plan_free(&plan);
  pn_mpc_profile_free(&p);
  pn_graph_free(g);
}

static void test_errors(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = relu_pool();
  struct images im = {.seed = 1, .per_image = 32, .scale = 1, .fail_at = 2};
  struct pn_mpc_profile p;
  assert_int_equal(pn_mpc_profile_run(&ctx, g, 10, 2, images, &im, &p), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), "the test source fails"));
  assert_int_equal(p.n, 0);
  assert_null(p.r);
  assert_int_equal(pn_mpc_profile_run(&ctx, g, 0, 2, images, &im, &p), PN_ERR_INVALID);
  pn_graph_free(g);
}

int main(void) {
  if (pn_prg_init_u64(NULL, &prg, pn_test_seed("test_mpc_profile", PN_TEST_SEED_FRESH))) return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_relu_pool_ranges),
    cmocka_unit_test(test_long_chain_and_shared_labels),
    cmocka_unit_test(test_errors),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pn_prg_free(&prg);
  return rc;
}
