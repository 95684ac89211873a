/* test_mpc_search.c - HummingBird's search engine (mpc/search.h, mpc/hbsim.h): the simulated sign
** against the two-party protocol on the same shares, the error model's predicted wrong signs
** against the protocol's and the simulation's measured counts on synthetic distributions, the DP
** against exhaustive search and its budget bound, error-free plans checked by the bit-exact
** simulator, determinism for a seed, fine-tuning that recovers a lossy plan, and plans refused for
** another model or out of range. The model is lenet5 (4 ReLU, 2 MaxPool) trained here on a small
** synthetic dataset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/onnx.h"
#include "mpc/dealer.h"
#include "mpc/hbsim.h"
#include "mpc/mpc.h"
#include "mpc/relu.h"
#include <cJSON.h>
#include "mpc/search.h"
#include "nn/arch.h"
#include "nn/train.h"
#include "pn_test.h"
#include "util/util.h"

static uint64_t g_seed;
static struct pn_dataset g_ds;
static struct pn_graph *g_model;   /* lenet5 trained on g_ds */
static char g_dir[256];

/* Class k: a bright 8x4 bar at a position set by k, on noise. */
static void synthetic(struct pn_dataset *ds, int64_t ntr, int64_t nva, int64_t nte) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, 99), PN_OK);
  int64_t n[3] = {ntr, nva, nte};
  uint8_t *im[3], *lb[3];
  for (int s = 0; s < 3; s++) {
    im[s] = malloc((size_t)n[s] * 784);
    lb[s] = malloc((size_t)n[s]);
    for (int64_t i = 0; i < n[s]; i++) {
      int k = (int)pn_prg_uniform(&prg, 10);
      lb[s][i] = (uint8_t)k;
      for (int p = 0; p < 784; p++) im[s][i * 784 + p] = (uint8_t)pn_prg_uniform(&prg, 200);
      int r0 = 2 + (k / 5) * 12 + (int)pn_prg_uniform(&prg, 3), c0 = 2 + (k % 5) * 5;
      for (int r = r0; r < r0 + 8; r++)
        for (int c = c0; c < c0 + 4; c++) im[s][i * 784 + r * 28 + c] = (uint8_t)(90 + pn_prg_uniform(&prg, 120));
    }
  }
  const uint8_t *cim[3] = {im[0], im[1], im[2]}, *clb[3] = {lb[0], lb[1], lb[2]};
  assert_int_equal(pn_dataset_from_arrays(&ctx, n, cim, clb, ds), PN_OK);
  for (int s = 0; s < 3; s++) {
    free(im[s]);
    free(lb[s]);
  }
  pn_prg_free(&prg);
}

static int setup(void **state) {
  (void)state;
  g_seed = pn_test_seed("test_mpc_search", 20261122);
  snprintf(g_dir, sizeof g_dir, "/tmp/pn_search_%d", (int)getpid());
  if (mkdir(g_dir, 0700)) return -1;
  synthetic(&g_ds, 1280, 300, 200);
  struct pn_ctx ctx = {0};
  if (pn_arch_build(&ctx, "lenet5", 3, &g_model)) return -1;
  struct pn_train_cfg c;
  memset(&c, 0, sizeof c);
  c.arch = "lenet5";
  c.epochs = 2;
  c.batch = 32;
  c.seed = 5;
  c.opt = pn_optim_defaults(PN_OPT_SGD);
  c.opt.lr = 0.01f;
  c.opt.warmup_steps = 20;
  struct pn_train_result *r = calloc(1, sizeof *r);
  int rc = pn_train(&ctx, &c, &g_ds, g_model, r);
  if (rc) fprintf(stderr, "setup: %s\n", pn_errmsg(&ctx));
  else
    for (int e = 0; e < r->epochs_done; e++)
      printf("# lenet5 on the synthetic set, epoch %d: train loss %.3f, validation accuracy %.3f\n",
             e + 1, r->hist[e].train_loss, r->hist[e].val_acc);
  free(r);
  return rc;
}

static int teardown(void **state) {
  (void)state;
  pn_graph_free(g_model);
  pn_dataset_free(&g_ds);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
  return system(cmd) ? -1 : 0;
}

/* ---- the simulated sign is the protocol's function of the shares ---- */

/* The literal share arithmetic: bit n-1 of ((x0 >> k) mod 2^n + (x1 >> k) mod 2^n) mod 2^n. */
static unsigned literal_sign(uint64_t x0, uint64_t x1, int k, int m) {
  int n = m - k;
  uint64_t mask = n == 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1;
  uint64_t s = ((x0 >> k) & mask) + ((x1 >> k) & mask);
  return (unsigned)((s >> (n - 1)) & 1);
}

static void test_sign_is_the_protocols(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed), PN_OK);
  const int ranges[][2] = {{0, 64}, {0, 20}, {4, 20}, {10, 18}, {12, 16}, {13, 16}, {14, 16},
                           {15, 16}, {20, 40}, {0, 1}, {30, 63}};
  const int64_t N = 4096;
  uint8_t master[32];
  pn_prg_bytes(&prg, master, 32);
  for (size_t ri = 0; ri < sizeof ranges / sizeof *ranges; ri++) {
    int k = ranges[ri][0], m = ranges[ri][1];
    for (int lut = 0; lut <= 1; lut++) {
      struct pn_mpc_dealer *d;
      assert_int_equal(pn_dealer_new_embedded(&ctx, master, &d), PN_OK);
      struct pn_mpc mp;
      pn_mpc_init_sim(&mp, &ctx, d, 16);
      if (!lut) mp.lut_max = 0;
      pn_sh x = {0}, s = {0};
      assert_int_equal(pn_sh_alloc(&mp, N, x), PN_OK);
      assert_int_equal(pn_sh_alloc(&mp, N, s), PN_OK);
      uint64_t *X = malloc(sizeof(uint64_t) * (size_t)N);
      for (int64_t i = 0; i < N; i++) {
        /* values around the interesting places: small, near +-2^(m-1), anywhere */
        int64_t v;
        switch (i % 4) {
        case 0: v = (int64_t)pn_prg_uniform(&prg, (uint64_t)1 << (k + 2 < 62 ? k + 2 : 62)) - ((int64_t)1 << (k + 1 < 61 ? k + 1 : 61)); break;
        case 1: v = (m >= 2 && m <= 62 ? ((int64_t)1 << (m - 1)) : 0) + (int64_t)pn_prg_uniform(&prg, 64) - 32; break;
        case 2: v = (m >= 2 && m <= 62 ? -((int64_t)1 << (m - 1)) : 0) + (int64_t)pn_prg_uniform(&prg, 64) - 32; break;
        default: v = (int64_t)pn_prg_u64(&prg); break;
        }
        X[i] = (uint64_t)v;
        x[1][i] = pn_prg_u64(&prg);
        x[0][i] = X[i] - x[1][i];
      }
      assert_int_equal(pn_mpc_ltz(&mp, N, x, PN_RELU_HB, k, m, s), PN_OK);
      for (int64_t i = 0; i < N; i++) {
        uint64_t u = k ? ((uint64_t)0 - x[1][i]) & (((uint64_t)1 << k) - 1) : 0;
        unsigned sim = pn_hb_sign(X[i], u, k, m);
        assert_int_equal(sim, literal_sign(x[0][i], x[1][i], k, m));
        assert_int_equal((uint64_t)sim, s[0][i] + s[1][i]); /* the protocol's opened sign */
      }
      free(X);
      pn_sh_free(&mp, N, x);
      pn_sh_free(&mp, N, s);
      pn_mpc_release(&mp);
      pn_dealer_free(d);
    }
  }
  pn_prg_free(&prg);
}

/* ---- the error model against measured wrong signs ---- */

/* Values for distribution `dist` at range (k, m): 0 uniform over [-2^(k+3), 2^(k+3)) (low bits),
** 1 uniform over [-2^(m+1), 2^(m+1)) (overflow, evenly spread in every bin), 2 normal with
** sd 2^(m-3) (low bits and a thin tail). */
static int64_t draw_value(struct pn_prg *prg, int dist, int k, int m) {
  switch (dist) {
  case 0: return (int64_t)pn_prg_uniform(prg, (uint64_t)1 << (k + 4)) - ((int64_t)1 << (k + 3));
  case 1: return (int64_t)pn_prg_uniform(prg, (uint64_t)1 << (m + 2)) - ((int64_t)1 << (m + 1));
  default: return (int64_t)llround(pn_prg_normal(prg) * ldexp(1, m - 3));
  }
}

static void test_error_model_vs_measured(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 1), PN_OK);
  const int cases[][3] = {{0, 6, 20}, {0, 12, 24}, {1, 2, 12}, {1, 0, 10}, {1, 5, 14},
                          {2, 10, 18}, {2, 14, 22}, {2, 3, 9}};
  const int64_t N = 60000;
  uint8_t master[32];
  pn_prg_bytes(&prg, master, 32);
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    int dist = cases[c][0], k = cases[c][1], m = cases[c][2];
    struct pn_hb_hist h;
    memset(&h, 0, sizeof h);
    struct pn_mpc_dealer *d;
    assert_int_equal(pn_dealer_new_embedded(&ctx, master, &d), PN_OK);
    struct pn_mpc mp;
    pn_mpc_init_sim(&mp, &ctx, d, 16);
    pn_sh x = {0}, s = {0};
    assert_int_equal(pn_sh_alloc(&mp, N, x), PN_OK);
    assert_int_equal(pn_sh_alloc(&mp, N, s), PN_OK);
    float *f = malloc(sizeof(float) * (size_t)N), *y = malloc(sizeof(float) * (size_t)N);
    double var_draws = 0, var_bins = 0;
    for (int64_t i = 0; i < N; i++) {
      int64_t v = draw_value(&prg, dist, k, m);
      f[i] = (float)ldexp((double)v, -16);
      uint64_t X = pn_fx_encode(f[i], 16); /* = v: |v| < 2^24 here */
      assert_true(X == (uint64_t)v);
      pn_hb_hist_add(&h, X);
      x[1][i] = pn_prg_u64(&prg);
      x[0][i] = X - x[1][i];
      if (v >= 0 && v < ((int64_t)1 << k)) { /* Bernoulli over the share draw */
        double p = (ldexp(1, k) - 1 - (double)v) / ldexp(1, k);
        var_draws += p * (1 - p);
      }
    }
    for (int sg = 0; sg < 2; sg++) /* octaves past 2^m: half read wrong on average over the bin */
      for (int j = m + 1; j < PN_HB_BINS; j++) var_bins += h.n[sg][j] / 4;
    struct pn_hb_err e;
    pn_hb_error_model(&h, k, m, &e);
    assert_int_equal(pn_mpc_ltz(&mp, N, x, PN_RELU_HB, k, m, s), PN_OK);
    int64_t proto = 0;
    for (int64_t i = 0; i < N; i++)
      proto += (s[0][i] + s[1][i]) != (uint64_t)(((int64_t)x[0][i] + (int64_t)x[1][i]) < 0);
    uint64_t emu = 0;
    struct pn_prg p2;
    assert_int_equal(pn_prg_init_u64(&ctx, &p2, g_seed + 2 + c), PN_OK);
    pn_hb_relu(f, y, N, 16, (struct pn_hb_range){k, m}, &p2, &emu);
    pn_prg_free(&p2);
    /* 5 standard deviations of the draws and of the spread within bins, plus the values at the
    ** range's edge the octave bins cannot place (X = -2^(m-1) and the carry just above it) */
    double edge = h.n[1][m] > 0 ? 2 + h.n[1][m] * ldexp(1, k - m + 1) : 2;
    double tol = 5 * sqrt(var_draws + var_bins) + edge;
    printf("# dist %d, k %d, m %d: predicted %.1f wrong signs, protocol %lld, simulation %llu "
           "(tolerance %.1f)\n", dist, k, m, e.wrong, (long long)proto, (unsigned long long)emu, tol);
    assert_true(e.wrong > 10); /* each case exercises the model */
    assert_true(fabs((double)proto - e.wrong) <= tol);
    assert_true(fabs((double)emu - e.wrong) <= tol);
    free(f);
    free(y);
    pn_sh_free(&mp, N, x);
    pn_sh_free(&mp, N, s);
    pn_mpc_release(&mp);
    pn_dealer_free(d);
  }
  pn_prg_free(&prg);
}

/* ---- the DP ---- */

static void test_dp_budget_exact(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 3), PN_OK);
  for (int trial = 0; trial < 60; trial++) {
    int L = 1 + (int)pn_prg_uniform(&prg, 4), nw = 2 + (int)pn_prg_uniform(&prg, 8);
    int64_t el[4];
    double loss[4 * 10];
    bool huge = trial % 5 == 4; /* costs that need the scaled DP */
    for (int i = 0; i < L; i++) {
      el[i] = huge ? (int64_t)(1 + pn_prg_uniform(&prg, (uint64_t)1 << 30)) : (int64_t)(1 + pn_prg_uniform(&prg, 50));
      for (int w = 0; w < nw; w++) loss[i * nw + w] = (double)pn_prg_uniform(&prg, 1000) / 100.0;
    }
    double E = 0;
    for (int i = 0; i < L; i++) E += (double)el[i];
    double budget = (double)pn_prg_uniform(&prg, (uint64_t)(nw - 1) * 100) / 100.0;
    int w[4];
    int64_t states = 0;
    int rc = pn_mpc_search_dp(&ctx, L, el, nw, loss, budget, w, &states);
    assert_int_equal(rc, PN_OK);
    assert_true(states > 0);
    /* the bound, in exact integers: sum w e <= floor(budget * E) */
    int64_t used = 0;
    for (int i = 0; i < L; i++) {
      assert_true(w[i] >= 0 && w[i] < nw);
      used += (int64_t)w[i] * el[i];
    }
    assert_true((double)used <= floor(budget * E + 1e-9 * budget * E));
    assert_true((double)used / E <= budget + 1e-12);
    /* exhaustive: nothing within the budget has a smaller loss (exact DP only) */
    double got = 0;
    for (int i = 0; i < L; i++) got += loss[i * nw + w[i]];
    int tot = 1;
    for (int i = 0; i < L; i++) tot *= nw;
    double best = INFINITY;
    for (int c = 0; c < tot; c++) {
      int t = c;
      int64_t u = 0;
      double l = 0;
      for (int i = 0; i < L; i++) {
        u += (int64_t)(t % nw) * el[i];
        l += loss[i * nw + t % nw];
        t /= nw;
      }
      if ((double)u <= floor(budget * E + 1e-9 * budget * E) && l < best) best = l;
    }
    if (!huge) assert_true(fabs(got - best) < 1e-9);
    else assert_true(got >= best - 1e-9);
  }
  /* an excluded width everywhere: no choice fits */
  int64_t el1[1] = {5};
  double ls[2] = {INFINITY, INFINITY};
  int w1[1];
  assert_int_equal(pn_mpc_search_dp(&ctx, 1, el1, 2, ls, 1, w1, NULL), PN_ERR_INVALID);
  pn_prg_free(&prg);
}

/* ---- the searches ---- */

static struct pn_mpc_search_cfg cfg_for(enum pn_mpc_search_mode mode, double budget, uint64_t seed) {
  struct pn_mpc_search_cfg c;
  memset(&c, 0, sizeof c);
  c.mode = mode;
  c.budget = budget;
  c.split = PN_SPLIT_VAL;
  c.count = 300;
  c.probe = 150;
  c.batch = 50;
  c.sim_batch = 50;
  struct pn_prg prg;
  pn_prg_init_u64(NULL, &prg, seed);
  pn_prg_bytes(&prg, c.seed, sizeof c.seed);
  pn_prg_free(&prg);
  return c;
}

static double plan_avg_bits(const struct pn_mpc_search_result *r) {
  double used = 0, all = 0;
  for (int i = 0; i < r->n; i++) {
    const struct pn_mpc_plan_item *it = pn_mpc_plan_find(&r->plan, r->layers[i].node);
    assert_non_null(it);
    used += (double)(it->m - it->k) * (double)r->layers[i].elems;
    all += (double)r->layers[i].elems;
  }
  return used / all;
}

static void test_error_free_search(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_mpc_search_cfg c = cfg_for(PN_SEARCH_ERROR_FREE, 0, g_seed);
  struct pn_mpc_search_result r;
  int rc = pn_mpc_search(&ctx, g_model, &g_ds, &c, &r);
  if (rc) print_error("%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  assert_int_equal(r.n, 6); /* 4 ReLU, 2 MaxPool */
  assert_int_equal(r.plan.n, 6);
  assert_true(r.confirmed);
  assert_int_equal(r.emu_changed, 0);
  assert_int_equal(r.sim_changed, 0);
  /* it discards more than the covering ranges (k = 0, m = cover): low bits or top bits went */
  double cover = 0, all = 0;
  for (int i = 0; i < r.n; i++) {
    cover += (double)r.layers[i].cover_m * (double)r.layers[i].elems;
    all += (double)r.layers[i].elems;
  }
  double avg = plan_avg_bits(&r);
  printf("# error-free: %.3f bits on average (covering ranges %.3f), %.2f%% discarded\n", avg,
         cover / all, 100 * r.bits_discarded);
  assert_true(avg < cover / all - 1);
  assert_true(fabs(r.bits_discarded - (1 - avg / 64)) < 1e-12);
  /* the bit-exact simulator, run again here on the search images: every prediction kept */
  struct pn_mpc_sim_eval ev;
  int32_t *pred = malloc(sizeof(int32_t) * 300);
  rc = pn_mpc_sim_eval(&ctx, g_model, &r.plan, &g_ds, PN_SPLIT_VAL, 300, 50, c.seed, false, pred, &ev);
  assert_int_equal(rc, PN_OK);
  assert_int_equal(ev.n, 300);
  assert_int_equal(ev.agree, 300);
  assert_true(fabs(ev.bits_discarded - r.bits_discarded) < 1e-9);
  /* and the stages said what they looked at */
  assert_true(r.st.model_candidates >= 6 * 2000);
  assert_true(r.st.emu_candidates > 0 && r.st.emu_images >= r.st.emu_candidates);
  assert_int_equal(r.st.sim_plans, 1 + r.backoffs);

  /* a budget at or above the error-free plan's width: a plan that changes no prediction either
  ** (not the DP's pick among plans its probe images cannot tell apart) */
  struct pn_mpc_search_cfg cb = cfg_for(PN_SEARCH_BUDGET, ceil(avg * 4) / 4 + 0.25, g_seed);
  struct pn_mpc_search_result rb;
  rc = pn_mpc_search(&ctx, g_model, &g_ds, &cb, &rb);
  if (rc) print_error("%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  printf("# budget %.2f >= error-free %.3f: %.3f bits, error-free plan %.3f bits, %lld changed\n",
         cb.budget, avg, plan_avg_bits(&rb), rb.errfree_bits, (long long)rb.sim_changed);
  assert_true(rb.from_errfree);
  assert_true(rb.errfree_bits > 0 && rb.errfree_bits <= cb.budget);
  assert_true(plan_avg_bits(&rb) <= cb.budget);
  assert_int_equal(rb.emu_changed, 0);
  assert_true(rb.confirmed);
  assert_int_equal(rb.sim_changed, 0);
  rc = pn_mpc_sim_eval(&ctx, g_model, &rb.plan, &g_ds, PN_SPLIT_VAL, 300, 50, cb.seed, false, pred, &ev);
  assert_int_equal(rc, PN_OK);
  assert_int_equal(ev.agree, 300);
  /* the same seed and images: the error-free search's own plan */
  assert_true(fabs(rb.errfree_bits - avg) < 1e-12 || r.backoffs > 0);
  assert_int_equal(rb.plan.n, r.plan.n);
  for (int i = 0; i < r.plan.n; i++) {
    assert_string_equal(rb.plan.items[i].node, r.plan.items[i].node);
    assert_int_equal(rb.plan.items[i].k, r.plan.items[i].k);
    assert_int_equal(rb.plan.items[i].m, r.plan.items[i].m);
  }
  pn_mpc_search_result_free(&rb);
  free(pred);
  pn_mpc_search_result_free(&r);
}

static void test_budget_search_deterministic(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_mpc_search_result r[2];
  cJSON *rep[2];
  for (int t = 0; t < 2; t++) {
    struct pn_mpc_search_cfg c = cfg_for(PN_SEARCH_BUDGET, 5.5, g_seed + 7);
    int rc = pn_mpc_search(&ctx, g_model, &g_ds, &c, &r[t]);
    if (rc) print_error("%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    rep[t] = pn_mpc_search_report(&r[t]);
    assert_non_null(rep[t]);
    cJSON_DeleteItemFromObject(rep[t], "stages"); /* seconds differ */
  }
  /* within the budget, exactly */
  double used = 0, all = 0;
  for (int i = 0; i < r[0].n; i++) {
    const struct pn_mpc_plan_item *it = &r[0].plan.items[i];
    assert_true(it->k >= 0 && it->k <= it->m && it->m <= 64);
    used += (double)(it->m - it->k) * (double)r[0].layers[i].elems;
    all += (double)r[0].layers[i].elems;
  }
  assert_true(used <= floor(5.5 * all));
  printf("# budget 5.5: %.3f bits, accuracy %.3f simulated, %.3f bit-exact (plaintext %.3f)\n",
         used / all, r[0].emu_acc, r[0].sim_acc, r[0].plain_acc);
  /* the same seed: the same plan and figures */
  assert_int_equal(r[0].plan.n, r[1].plan.n);
  for (int i = 0; i < r[0].plan.n; i++) {
    assert_string_equal(r[0].plan.items[i].node, r[1].plan.items[i].node);
    assert_int_equal(r[0].plan.items[i].k, r[1].plan.items[i].k);
    assert_int_equal(r[0].plan.items[i].m, r[1].plan.items[i].m);
  }
  assert_true(r[0].emu_acc == r[1].emu_acc && r[0].sim_acc == r[1].sim_acc);
  char *a = cJSON_PrintUnformatted(rep[0]), *b = cJSON_PrintUnformatted(rep[1]);
  assert_string_equal(a, b);
  free(a);
  free(b);
  for (int t = 0; t < 2; t++) {
    cJSON_Delete(rep[t]);
    pn_mpc_search_result_free(&r[t]);
  }
}

/* ---- fine-tuning ---- */

static void test_finetune_recovers(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_graph *g = pn_graph_clone(g_model);
  assert_non_null(g);
  /* a harsh plan: 3 bits everywhere, the top at 2^(m-1) = 2 (values 1/8 .. 2 kept) */
  struct pn_mpc_search_cfg sc = cfg_for(PN_SEARCH_BUDGET, 0, 1);
  struct pn_mpc_search_result sr;
  sc.no_confirm = true;
  sc.budget = 3;
  assert_int_equal(pn_mpc_search(&ctx, g, &g_ds, &sc, &sr), PN_OK);
  struct pn_mpc_finetune_cfg fc = {.epochs = 2, .batch = 32, .lr = 0.01f, .seed = 3};
  struct pn_train_result *res = calloc(1, sizeof *res);
  int rc = pn_mpc_finetune(&ctx, &fc, &g_ds, g, &sr.plan, res);
  if (rc) print_error("%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  printf("# fine-tuning a 3-bit plan: validation %.3f before, %.3f %.3f after epochs 1, 2 (kept %d)\n",
         res->start_val_acc, res->hist[0].val_acc, res->hist[1].val_acc, res->best_epoch);
  assert_true(res->best_epoch >= 1);
  double best = res->hist[res->best_epoch - 1].val_acc;
  assert_true(best > res->start_val_acc);
  /* the kept weights are the best epoch's: evaluated again under the plan, the same accuracy */
  struct pn_mpc_sim_eval ev;
  assert_int_equal(pn_mpc_sim_eval(&ctx, g, &sr.plan, &g_ds, PN_SPLIT_VAL, 0, 50, sc.seed, false,
                                   NULL, &ev), PN_OK);
  printf("# bit-exact simulator on the fine-tuned model: %.3f\n", (double)ev.correct / (double)ev.n);
  assert_true(fabs((double)ev.correct / (double)ev.n - best) < 0.05);
  free(res);
  pn_mpc_search_result_free(&sr);
  pn_graph_free(g);
}

/* ---- plans for another model, or out of range ---- */

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_plan_refused(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  char p[512];
  struct pn_mpc_plan plan;
  snprintf(p, sizeof p, "%s/p.json", g_dir);
  /* lenet5's labels are fine */
  struct pn_mpc_search_cfg c = cfg_for(PN_SEARCH_BUDGET, 8, 2);
  c.no_confirm = true;
  c.count = 60;
  c.probe = 60;
  struct pn_mpc_search_result r;
  assert_int_equal(pn_mpc_search(&ctx, g_model, &g_ds, &c, &r), PN_OK);
  cJSON *rep = pn_mpc_search_report(&r);
  cJSON_AddStringToObject(rep, "model_sha256", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  assert_int_equal(pn_mpc_plan_save(&ctx, p, &r.plan, rep), PN_OK);
  assert_int_equal(pn_mpc_plan_load(&ctx, p, &plan), PN_OK);
  assert_int_equal(pn_mpc_plan_check(&ctx, p, &plan, g_model, NULL), PN_OK);
  /* the model's hash differs */
  assert_int_equal(pn_mpc_plan_check(&ctx, p, &plan, g_model,
                                     "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"), PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "another model"));
  assert_non_null(strstr(pn_errmsg(&ctx), "p.json"));
  pn_mpc_plan_free(&plan);
  /* a plan of resnet-s (other nodes) */
  struct pn_graph *other;
  assert_int_equal(pn_arch_build(&ctx, "resnet-s", 1, &other), PN_OK);
  assert_int_equal(pn_mpc_plan_load(&ctx, p, &plan), PN_OK);
  pn_err_clear(&ctx);
  int rc = pn_mpc_plan_check(&ctx, p, &plan, other, NULL);
  printf("# %s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "another model"));
  pn_mpc_plan_free(&plan);
  pn_graph_free(other);
  /* the same names, other comparisons per image */
  cJSON *ly = cJSON_GetObjectItemCaseSensitive(rep, "layers");
  cJSON *e0 = cJSON_GetArrayItem(ly, 0);
  cJSON_ReplaceItemInObject(e0, "comparisons_per_image", cJSON_CreateNumber(7));
  cJSON_DeleteItemFromObject(rep, "model_sha256");
  assert_int_equal(pn_mpc_plan_save(&ctx, p, &r.plan, rep), PN_OK);
  assert_int_equal(pn_mpc_plan_load(&ctx, p, &plan), PN_OK);
  assert_int_equal(pn_mpc_plan_check(&ctx, p, &plan, g_model, NULL), PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "comparisons per image"));
  /* out of range in memory (the loader refuses it in a file) */
  plan.items[0].k = 30;
  plan.items[0].m = 20;
  assert_int_equal(pn_mpc_plan_check(&ctx, p, &plan, g_model, NULL), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "0 <= k <= m <= 64"));
  pn_mpc_plan_free(&plan);
  write_text(p, "{\"relus\": [{\"node\": \"relu1\", \"k\": 3, \"m\": 65}]}");
  assert_int_equal(pn_mpc_plan_load(&ctx, p, &plan), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "0 <= k <= m <= 64"));
  write_text(p, "{\"relus\": [{\"node\": \"relu1\", \"k\": -1, \"m\": 10}]}");
  assert_int_equal(pn_mpc_plan_load(&ctx, p, &plan), PN_ERR_CORRUPT);
  cJSON_Delete(rep);
  pn_mpc_search_result_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sign_is_the_protocols),
    cmocka_unit_test(test_error_model_vs_measured),
    cmocka_unit_test(test_dp_budget_exact),
    cmocka_unit_test(test_error_free_search),
    cmocka_unit_test(test_budget_search_deterministic),
    cmocka_unit_test(test_finetune_recovers),
    cmocka_unit_test(test_plan_refused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
