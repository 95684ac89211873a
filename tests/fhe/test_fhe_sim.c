/* test_fhe_sim.c - the compiled program's packing against the plaintext executor, without encryption.
**
** pn_fhe_simulate runs the program (layouts, diagonals with their giant-step pre-rotation, rotations of
** the max-pool tree, PAF stages with folded factors, level and scale plan) on plain slot vectors; it must
** give the executor's outputs to float precision (the executor computes in float: 1e-4 relative). Each
** layer kind and every padding/stride/group of the reference models, every candidate layout, composed
** linear stretches, residual adds, PAF ReLU and MaxPool (rotated and masked leaves, odd trees), and the
** four reference models with PAFs in place. */
#define PN_TEST_NAME "test_fhe_sim"
#include "fhe_test.h"
#include "fhe_sched.h"
#include <unistd.h>

static int g_boot = PN_FHE_BOOT_AUTO;
static int g_max_keys; /* key budget of the next compiles (0: none) */
static int g_replicate; /* the input's copies in the next compiles (pn_fhe_opts.replicate) */

static struct pn_fhe_plan *compile_ok(struct pn_graph *g, int compose) {
  struct pn_ctx ctx = {0};
  struct pn_fhe_opts o;
  pn_fhe_opts_default(&o);
  o.compose = compose;
  o.boot = g_boot;
  o.max_keys = g_max_keys;
  o.replicate = g_replicate;
  struct pn_fhe_plan *p;
  int rc = pn_fhe_compile(&ctx, g, &o, &p);
  if (rc) fprintf(stderr, "compile: %s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  return p;
}

/* random input in [lo, hi), simulate, compare; returns the error */
static double sim_vs_exec(struct pn_graph *g, int compose, double lo, double hi, double tol) {
  struct pn_fhe_plan *p = compile_ok(g, compose);
  struct pn_fhe_plan_info info;
  pn_fhe_plan_get_info(p, &info);
  int64_t ni = in_numel(g), no = info.out_elems;
  assert_int_equal(info.in_elems, ni);
  float *x = malloc((size_t)ni * sizeof *x);
  double *y = malloc((size_t)no * sizeof *y), *r = malloc((size_t)no * sizeof *r);
  for (int64_t i = 0; i < ni; i++) x[i] = (float)urand(lo, hi);
  struct pn_ctx ctx = {0};
  struct pn_fhe_sim_stats st;
  int rc = pn_fhe_simulate(&ctx, p, x, y, &st);
  if (rc) fprintf(stderr, "simulate: %s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  exec_ref(g, x, r, no);
  double e = rel_err(y, r, no);
  if (e > tol) {
    pn_fhe_plan_print(p, stderr);
    for (int64_t i = 0; i < no && i < 12; i++) fprintf(stderr, "  %lld: fhe %.6f exec %.6f\n", (long long)i, y[i], r[i]);
  }
  assert_true(e <= tol);
  free(x), free(y), free(r);
  pn_fhe_plan_free(p);
  return e;
}

static void test_conv(void **state) {
  (void)state;
  /* C, H, W, M, k, stride, pad, group, dilation: the models' (5x5 pad 2, 5x5 valid, 3x3 pad 1, 3x3 stride 2,
  ** 1x1 stride 2 shortcut) and more (depthwise, 2 groups, dilation, stride 3, channels beyond the input's) */
  static const int64_t cases[][9] = {
    {1, 12, 12, 6, 5, 1, 2, 1, 1}, {6, 10, 10, 16, 5, 1, 0, 1, 1}, {4, 9, 9, 4, 3, 1, 1, 1, 1},
    {4, 10, 10, 8, 3, 2, 1, 1, 1}, {4, 10, 10, 8, 1, 2, 0, 1, 1},  {4, 8, 8, 4, 3, 1, 1, 4, 1},
    {4, 8, 8, 6, 3, 1, 1, 2, 1},   {3, 11, 11, 5, 3, 1, 2, 1, 2},  {2, 12, 12, 20, 3, 3, 1, 1, 1},
    {3, 7, 7, 40, 3, 2, 1, 1, 1},  {2, 9, 13, 3, 2, 2, 0, 1, 1},
  };
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    const int64_t *c = cases[t];
    struct gb b;
    gb_init(&b, c[0], c[1], c[2]);
    gb_conv(&b, c[0], c[3], c[4], c[4], c[5], c[6], c[7], c[8]);
    struct pn_graph *g = gb_finish(&b);
    double e = sim_vs_exec(g, 0, -1, 1, 1e-4);
    printf("# conv case %zu: rel err %.2e\n", t, e);
    pn_graph_free(g);
  }
}

/* m (input (C,H,W) laid out as `in`, copies included) -> `out` by the diagonal method in a ring of `slots` slots, as
** the executor runs it (baby rotations, pre-rotated diagonals, giant rotations), against the plain map. */
static void diag_vs_map(const struct fhe_lmap *m, struct pn_arena *a, const struct fhe_layout *in,
                        const struct fhe_layout *out, int64_t slots) {
  struct pn_ctx ctx = {0};
  struct fhe_layout lay[2] = {*in, *out};
  struct pn_fhe_plan p = {.arena = a, .slots = (size_t)slots, .layouts = lay, .n_layout = 2};
  struct fhe_linear L = {.m = m, .in_layout = 0, .out_layout = 1};
  assert_int_equal(fhe_linear_index(&ctx, &p, &L), PN_OK);
  assert_int_equal(fhe_linear_build(&ctx, &p, &L), PN_OK);
  assert_true(L.ndiag <= fhe_layout_count_diags(m, in, out));
  double *x = malloc((size_t)m->n_in * sizeof *x), *ref = malloc((size_t)m->n_out * sizeof *ref);
  double *xs = calloc((size_t)slots, sizeof *xs), *y = calloc((size_t)slots, sizeof *y);
  double *acc = malloc((size_t)slots * sizeof *acc);
  assert_true(x && ref && xs && y && acc);
  for (int64_t i = 0; i < m->n_in; i++) {
    x[i] = urand(-1, 1);
    for (int t = 0; t < (in->rep > 1 ? in->rep : 1); t++) {
      int64_t sl = in->slot[i] + t * in->rep_stride;
      assert_true(sl < slots && xs[sl] == 0);
      xs[sl] = x[i];
    }
  }
  fhe_lmap_apply(m, x, ref);
  for (int64_t j = 0; j < L.ndiag;) {
    int g = L.k[j] / L.n1;
    memset(acc, 0, (size_t)slots * sizeof *acc);
    for (; j < L.ndiag && L.k[j] / L.n1 == g; j++)
      for (int64_t i = 0; i < slots; i++) acc[i] += (double)L.diag[j][i] * xs[(i + L.k[j] % L.n1) % slots];
    for (int64_t i = 0; i < slots; i++) y[i] += acc[(i + (int64_t)g * L.n1) % slots];
  }
  for (int64_t o = 0; o < m->n_out; o++) {
    double yo = y[out->slot[o]] + (L.bias ? L.bias[out->slot[o]] : 0);
    if (fabs(yo - ref[o]) > 1e-5 * (1 + fabs(ref[o]))) {
      fprintf(stderr, "%s: output %lld: diagonals %.6f, map %.6f (%d copies %lld apart)\n", m->what, (long long)o, yo,
              ref[o], in->rep, (long long)in->rep_stride);
      fail();
    }
  }
  fhe_linear_release(&L);
  free(p.rot);
  free(x), free(ref), free(xs), free(y), free(acc);
}

/* Layouts from a replicated input (the program's input in copies, each output block reading its own): random
** convolutions and average pools (padding, stride, groups), 1..6 copies at random strides >= the input's extent
** and random margins,
** every candidate output layout that applies, run by the diagonal method on a slot vector holding every copy,
** give the plain map. The copies cut the multiplexed candidate's diagonals when one channel goes to several. */
static void test_layout_copies(void **state) {
  (void)state;
  int cut = 0;
  for (int t = 0; t < 80; t++) {
    int pool = t % 5 == 4;
    int64_t C = 1 + (int64_t)urand(0, 4), H = 3 + (int64_t)urand(0, 8), W = 3 + (int64_t)urand(0, 8);
    int64_t k = 1 + (int64_t)urand(0, 3), s = 1 + (int64_t)urand(0, 3), pad = (int64_t)urand(0, (double)k);
    int64_t grp = urand(0, 1) < 0.3 ? C : 1, M = pool ? C : grp * (1 + (int64_t)urand(0, 6 / (double)grp + 1));
    if (t < 8) pool = 0, C = 1, grp = 1, k = 3, pad = t % 2, s = t < 6 ? 1 : 2, M = 3 + t; /* one channel to many */
    if (H + 2 * pad < k || W + 2 * pad < k) pad = k;
    int64_t OH = (H + 2 * pad - k) / s + 1, OW = (W + 2 * pad - k) / s + 1;
    struct gb b;
    gb_init(&b, C, H, W);
    if (pool) gb_pool(&b, "AveragePool", k, s, pad, t % 2);
    else gb_conv(&b, C, M, k, k, s, pad, grp, 1);
    struct pn_graph *g = gb_finish(&b);
    struct pn_ctx ctx = {0};
    struct fhe_lmap *m;
    const int64_t ind[4] = {1, C, H, W}, outd[4] = {1, M, OH, OW};
    int rc = fhe_lmap_node(&ctx, g, g->nodes[0], pn_graph_opset(g, ""), 4, ind, 4, outd, &m);
    if (rc) fprintf(stderr, "lmap: %s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    struct pn_arena *a = pn_arena_new();
    struct fhe_layout in, one;
    assert_int_equal(fhe_layout_dense(a, C, H, W, &in), PN_OK);
    int64_t margin = t % 3 ? (int64_t)urand(0, 2.0 * (double)W) : 0; /* the client's margin (moved copies) */
    for (int64_t i = 0; i < in.n; i++) in.slot[i] += (int32_t)margin;
    for (int64_t c = 0; c < C; c++) in.base[c] += margin;
    in.extent += margin;
    one = in;
    in.rep = 1 + (int)urand(0, 6);
    if (t < 8) in.rep = 2 + t % 5;
    in.rep_stride = in.rep > 1 ? in.extent + (int64_t)urand(0, 4) : 0;
    int64_t slots = 8;
    while (slots < 4 * (fhe_layout_top(&in) + M * OH * OW * s * s)) slots *= 2;
    int64_t dr = -1, d1 = -1;
    for (int c = 0; c < FHE_LAYOUT_NCAND; c++) {
      struct fhe_layout out, out1;
      int ok = fhe_layout_candidate(a, m, &in, M, OH, OW, slots, c, &out);
      assert_true(ok >= 0);
      if (!ok) continue;
      diag_vs_map(m, a, &in, &out, slots);
      if (c == 0 && fhe_layout_candidate(a, m, &one, M, OH, OW, slots, c, &out1) == 1) { /* multiplexed */
        dr = fhe_layout_count_diags(m, &in, &out);
        d1 = fhe_layout_count_diags(m, &one, &out1);
        /* an output inside the input's extent reads the copy of its block: the window at the same offsets in
        ** every block (outputs beyond it, as strides can place them, may read another copy: the compiler takes
        ** the copies only where they cut the diagonals) */
        if (in.rep > 1 && M > 1 && C == 1 && s == 1 && 2 * pad <= k - 1 && !pool) assert_true(dr < d1), cut++;
      }
    }
    if (t < 8)
      printf("# %lldx%lldx%lld -> %lld channels, %lldx%lld stride %lld, %d copies: multiplexed %lld diagonals (%lld "
             "without copies)\n", (long long)C, (long long)H, (long long)W, (long long)M, (long long)k, (long long)k,
             (long long)s, in.rep, (long long)dr, (long long)d1);
    pn_arena_free(a);
    fhe_lmap_free(m);
    pn_graph_free(g);
  }
  printf("# copies cut the multiplexed diagonals in %d cases\n", cut);
  assert_true(cut >= 6);
}

/* The program's input replicated where that cuts the first linear's diagonals: a one-channel image to 8
** channels, with and without copies, both agree with the executor; with them the input is held 8 times and conv1
** has 9 diagonals (a 3x3 window) instead of 8 x 9; an input read by two nodes, or by a layer the copies do not
** help, stays one copy. */
static void test_input_copies(void **state) {
  (void)state;
  struct gb b;
  gb_init(&b, 1, 10, 10);
  gb_conv(&b, 1, 8, 3, 3, 1, 1, 1, 1);
  gb_paf_relu(&b, PN_PAF_F1G2, 4);
  gb_conv(&b, 8, 4, 3, 3, 2, 1, 1, 1);
  gb_pool(&b, "GlobalAveragePool", 0, 0, 0, 0);
  gb_flatten(&b);
  gb_gemm(&b, 4, 3);
  struct pn_graph *g = gb_finish(&b);
  /* never, auto, and each placement of the copies */
  for (int r = -1; r <= PN_FHE_COPIES_CORNER_POW2; r++) {
    g_replicate = r;
    struct pn_fhe_plan *p = compile_ok(g, 0);
    const struct fhe_layout *li = &p->layouts[p->in_layout];
    assert_int_equal(li->rep > 1 ? li->rep : 1, r < 0 ? 1 : 8);
    printf("# one channel to 8, replicate %d: input %s, conv1 %lld diagonals\n", r, p->layers[0].packing,
           (long long)p->linears[0].ndiag);
    assert_int_equal(p->linears[0].ndiag, r < 0 ? 8 * 9 : 9);
    if (r == PN_FHE_COPIES_CORNER || r == PN_FHE_COPIES_CORNER_POW2) { /* a margin: no negative diagonal */
      assert_int_equal(li->slot[0], 11);
      assert_true(li->rep_stride >= li->extent);
      assert_true(r == PN_FHE_COPIES_CORNER ? li->rep_stride == 111 : li->rep_stride == 128);
    }
    pn_fhe_plan_free(p);
    sim_vs_exec(g, 0, -1, 1, 1e-4);
  }
  g_replicate = 0;
  pn_graph_free(g);
  /* two readers of the input (a residual): one copy */
  gb_init(&b, 1, 6, 6);
  gb_conv(&b, 1, 1, 3, 3, 1, 1, 1, 1);
  gb_add(&b, "x");
  g = gb_finish(&b);
  struct pn_fhe_plan *p = compile_ok(g, 0);
  assert_true(p->layouts[p->in_layout].rep <= 1);
  pn_fhe_plan_free(p);
  sim_vs_exec(g, 0, -1, 1, 1e-4);
  pn_graph_free(g);
}

static void test_linear_stretches(void **state) {
  (void)state;
  for (int compose = -1; compose <= 1; compose++) {
    struct gb b;
    /* conv-bn (composed), avgpool 2 (+ conv after it), gap, gemm */
    gb_init(&b, 2, 12, 12);
    gb_conv(&b, 2, 4, 3, 3, 1, 1, 1, 1);
    gb_bn(&b, 4);
    gb_pool(&b, "AveragePool", 2, 2, 0, 0);
    gb_conv(&b, 4, 6, 3, 3, 1, 1, 1, 1);
    gb_pool(&b, "GlobalAveragePool", 0, 0, 0, 0);
    gb_flatten(&b);
    gb_gemm(&b, 6, 5);
    struct pn_graph *g = gb_finish(&b);
    sim_vs_exec(g, compose, -1, 1, 1e-4);
    pn_graph_free(g);
    /* average pools with padding, both count_include_pad */
    for (int cip = 0; cip <= 1; cip++) {
      gb_init(&b, 3, 9, 9);
      gb_pool(&b, "AveragePool", 3, 1, 1, cip);
      gb_pool(&b, "AveragePool", 3, 2, 1, cip);
      gb_flatten(&b);
      gb_gemm(&b, 3 * 5 * 5, 7);
      g = gb_finish(&b);
      sim_vs_exec(g, compose, -1, 1, 1e-4);
      pn_graph_free(g);
    }
  }
}

static void test_residual(void **state) {
  (void)state;
  /* a basic block: x -> conv-bn-relu-conv-bn + x -> relu; and one with a strided 1x1 shortcut */
  for (int down = 0; down <= 1; down++) {
    struct gb b;
    gb_init(&b, 4, 8, 8);
    gb_conv(&b, 4, 4, 3, 3, 1, 1, 1, 1);
    gb_paf_relu(&b, PN_PAF_F1G2, 4);
    const char *x = b.cur;
    gb_conv(&b, 4, down ? 8 : 4, 3, 3, down ? 2 : 1, 1, 1, 1);
    gb_bn(&b, down ? 8 : 4);
    gb_paf_relu(&b, PN_PAF_F2G2, 4);
    gb_conv(&b, down ? 8 : 4, down ? 8 : 4, 3, 3, 1, 1, 1, 1);
    gb_bn(&b, down ? 8 : 4);
    const char *main = b.cur;
    if (down) {
      b.cur = x;
      gb_conv(&b, 4, 8, 1, 1, 2, 0, 1, 1);
      gb_bn(&b, 8);
      x = b.cur;
      b.cur = main;
    }
    gb_add(&b, x);
    gb_paf_relu(&b, PN_PAF_F1G2, 6);
    gb_pool(&b, "GlobalAveragePool", 0, 0, 0, 0);
    gb_flatten(&b);
    gb_gemm(&b, down ? 8 : 4, 3);
    struct pn_graph *g = gb_finish(&b);
    sim_vs_exec(g, 0, -1, 1, 1e-4);
    pn_graph_free(g);
  }
}

static void test_paf(void **state) {
  (void)state;
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++) {
    struct gb b;
    gb_init(&b, 2, 6, 6);
    gb_paf_relu(&b, (enum pn_paf_form)f, 1.1f);
    gb_flatten(&b);
    gb_gemm(&b, 72, 4);
    struct pn_graph *g = gb_finish(&b);
    /* inputs within the scale, where every form is tame */
    double e = sim_vs_exec(g, 0, -1, 1, 1e-4);
    printf("# PafRelu %s: rel err %.2e\n", pn_paf_form_name((enum pn_paf_form)f), e);
    pn_graph_free(g);
  }
  /* max pools: 2x2 s2 (rotated leaves), 3x3 s2 pad 1 (masked leaves), 3x3 s1 (a leaf moves up unpaired) */
  static const int64_t pools[][3] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 0}, {2, 1, 1}};
  for (size_t t = 0; t < sizeof pools / sizeof *pools; t++) {
    struct gb b;
    gb_init(&b, 3, 8, 8);
    gb_conv(&b, 3, 4, 3, 3, 1, 1, 1, 1);
    gb_paf_relu(&b, PN_PAF_F1G2, 3);
    gb_paf_maxpool(&b, PN_PAF_F1G2, 6, pools[t][0], pools[t][1], pools[t][2]);
    gb_flatten(&b);
    int64_t o = (8 + 2 * pools[t][2] - pools[t][0]) / pools[t][1] + 1;
    gb_gemm(&b, 4 * o * o, 5);
    struct pn_graph *g = gb_finish(&b);
    double e = sim_vs_exec(g, 0, -1, 1, 1e-4);
    printf("# PafMaxPool %lldx%lld s%lld p%lld: rel err %.2e\n", (long long)pools[t][0], (long long)pools[t][0],
           (long long)pools[t][1], (long long)pools[t][2], e);
    pn_graph_free(g);
  }
}

static void test_models(void **state) {
  (void)state;
  static const char *const names[] = {"lenet5", "cnn-s", "resnet-s", "vgg-s"};
  g_boot = PN_FHE_BOOT_SIMULATE; /* they need bootstrapping: simulated here */
  for (size_t t = 0; t < sizeof names / sizeof *names; t++) {
    struct pn_graph *g = paf_model(names[t], PN_PAF_F1G2, 4);
    struct pn_fhe_plan *p = compile_ok(g, 0);
    struct pn_fhe_plan_info in;
    pn_fhe_plan_get_info(p, &in);
    printf("# %s: depth %d, %d rotation keys, %d rotations, %lld pt products, est %.1f s\n", names[t], in.depth,
           in.rotation_keys, in.rotations, (long long)in.pt_muls, in.est_seconds);
    pn_fhe_plan_free(p);
    double e = sim_vs_exec(g, 0, -1.5, 1.5, 1e-4);
    printf("# %s: rel err %.2e\n", names[t], e);
    pn_graph_free(g);
  }
  g_boot = PN_FHE_BOOT_AUTO;
}

/* The rotation schedule of the reference models: with every key, as many key switches as one rotation each
** (fewer decompositions: hoisted); with the power-of-two keys only, fewer key switches than one chain per
** rotation (the trees reuse intermediate rotations), every layer at most as many; at the budget (where splits are
** chosen for the trees) resnet-s's program still computes the model. */
static void test_rot_schedule(void **state) {
  (void)state;
  static const char *const names[] = {"lenet5", "cnn-s", "resnet-s", "vgg-s"};
  g_boot = PN_FHE_BOOT_SIMULATE;
  for (size_t t = 0; t < sizeof names / sizeof *names; t++) {
    struct pn_graph *g = paf_model(names[t], PN_PAF_F1G2, 4);
    for (int budget = 0; budget < 2; budget++) {
      g_max_keys = 0;
      struct pn_fhe_plan *p = compile_ok(g, 0);
      struct pn_fhe_plan_info in;
      pn_fhe_plan_get_info(p, &in);
      if (budget) { /* only the powers of two below the slot count */
        pn_fhe_plan_free(p);
        g_max_keys = in.log_slots;
        p = compile_ok(g, 0);
        pn_fhe_plan_get_info(p, &in);
        assert_int_equal(in.rotation_keys, in.log_slots);
      }
      sched_check(p);
      int chains = chain_rotations(p), own = 1; /* own: every rotation of a linear has its key */
      printf("# %s, %d keys: %d key switches (%d decompositions), one chain per rotation %d; est %.1f s\n", names[t],
             in.rotation_keys, in.rotations, in.modups, chains, in.est_seconds);
      for (int i = 0; i < p->n_linear; i++) {
        int nb, ng;
        const struct fhe_linear *L = &p->linears[i];
        fhe_linear_rot_cost(p, L, &nb, &ng);
        assert_true(L->sched->baby_ks <= nb);
        assert_true(L->sched->giant_ks <= ng);
        if (nb == L->nbaby && ng == L->ngiant) assert_int_equal(L->sched->baby_ks + L->sched->giant_ks, nb + ng);
        else own = 0;
      }
      if (budget) assert_true(in.rotations < chains);
      else if (own) assert_int_equal(in.rotations, chains);
      assert_true(in.modups < in.rotations);
      pn_fhe_plan_free(p);
    }
    if (!strcmp(names[t], "resnet-s")) { /* at the budget: splits chosen for the trees, diagonals built for them */
      double e = sim_vs_exec(g, 0, -1.5, 1.5, 1e-4);
      printf("# %s: rel err %.2e\n", names[t], e);
    }
    g_max_keys = 0;
    pn_graph_free(g);
  }
  g_boot = PN_FHE_BOOT_AUTO;
}

static void test_refusals(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_fhe_plan *p;
  struct gb b;
  /* a plain Relu */
  gb_init(&b, 1, 4, 4);
  const char *in[1] = {b.cur};
  gb_node(&b, "Relu", 1, in);
  struct pn_graph *g = gb_finish(&b);
  assert_int_equal(pn_fhe_compile(&ctx, g, NULL, &p), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "PAF"));
  pn_graph_free(g);
  /* a dynamic PAF scale */
  gb_init(&b, 1, 4, 4);
  gb_paf_relu(&b, PN_PAF_F1G2, 0);
  g = gb_finish(&b);
  assert_int_equal(pn_fhe_compile(&ctx, g, NULL, &p), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "dynamic scale"));
  pn_graph_free(g);
  /* too many levels for 128-bit parameters: 8 f1g1sq ReLUs (9 levels each): refused without bootstrapping,
  ** bootstrapped at N = 2^16 otherwise (each ReLU fits the 10 levels between bootstraps) */
  gb_init(&b, 1, 4, 4);
  for (int i = 0; i < 8; i++) gb_paf_relu(&b, PN_PAF_F1G1SQ, 2);
  g = gb_finish(&b);
  struct pn_fhe_opts o;
  pn_fhe_opts_default(&o);
  o.boot = PN_FHE_BOOT_NEVER;
  assert_int_equal(pn_fhe_compile(&ctx, g, &o, &p), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "levels"));
  assert_int_equal(pn_fhe_compile(&ctx, g, NULL, &p), PN_OK);
  struct pn_fhe_plan_info pi;
  pn_fhe_plan_get_info(p, &pi);
  assert_int_equal(pi.logn, 16);
  assert_true(pi.real_boot && pi.boots >= 7 && pi.log_slots == 4);
  pn_fhe_plan_free(p);
  /* 2 levels between bootstraps: an f1g1sq stage alone (2 levels) plus its bootstrap input no longer fit */
  o.boot = PN_FHE_BOOT_FORCE;
  o.boot_levels = 2;
  assert_int_equal(pn_fhe_compile(&ctx, g, &o, &p), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "levels between bootstraps"));
  pn_graph_free(g);
  /* an op without a CKKS form */
  gb_init(&b, 1, 4, 4);
  gb_node(&b, "Sigmoid", 1, in);
  g = gb_finish(&b);
  assert_int_equal(pn_fhe_compile(&ctx, g, NULL, &p), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "Sigmoid"));
  pn_graph_free(g);
}

/* The default thread count: OMP_NUM_THREADS set decides (0: left to OpenMP); otherwise the idle cores, as
** the load average says, never fewer than 1 nor more than the cores. */
static void test_default_threads(void **state) {
  (void)state;
  const char *old = getenv("OMP_NUM_THREADS");
  char *keep = old ? strdup(old) : NULL;
  setenv("OMP_NUM_THREADS", "3", 1);
  assert_int_equal(pn_fhe_default_threads(), 0);
  unsetenv("OMP_NUM_THREADS");
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  double before[1], after[1];
  assert_int_equal(getloadavg(before, 1), 1);
  const int t = pn_fhe_default_threads();
  assert_int_equal(getloadavg(after, 1), 1);
  printf("# %ld cores, load %.2f: %d threads\n", cores, after[0], t);
  assert_true(t >= 1 && t <= cores);
  if (before[0] >= (double)cores && after[0] >= (double)cores) assert_int_equal(t, 1); /* busy: one thread */
  if (before[0] < 0.5 && after[0] < 0.5) assert_int_equal(t, cores); /* idle: every core */
  if (keep) setenv("OMP_NUM_THREADS", keep, 1);
  free(keep);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_conv),     cmocka_unit_test(test_layout_copies), cmocka_unit_test(test_input_copies),
    cmocka_unit_test(test_linear_stretches), cmocka_unit_test(test_residual),
    cmocka_unit_test(test_paf),      cmocka_unit_test(test_models),           cmocka_unit_test(test_rot_schedule), cmocka_unit_test(test_refusals),
    cmocka_unit_test(test_default_threads),
  };
  return cmocka_run_group_tests(tests, fhe_test_setup, fhe_test_teardown);
}
