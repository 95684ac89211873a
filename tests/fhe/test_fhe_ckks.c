/* test_fhe_ckks.c - encrypted inference against the plaintext executor, at small (insecure) test rings.
**
** Every case goes the whole client/server way: compile, spec saved and reloaded by the client, a seeded
** secret key, evaluation keys saved and loaded by the server (checked against the plan), an encrypted
** query, the server's evaluation (which checks every register's level and scale against the plan after
** each instruction), the decrypted result. It must match the executor within 1e-3 relative to the output
** size (CKKS with 40-bit scales is far more precise; the PAF chains amplify the noise a little), and the
** counts of rotations and products must be the plan's. Then the refusals: objects truncated, corrupted,
** made for another model or other parameters, and inputs of the wrong size. */
#define PN_TEST_NAME "test_fhe_ckks"
#include "fhe_test.h"
#include "fhe/fhe_impl.h" /* the evaluation keys' parts (refusal test) */
#include "fhe_sched.h"
#include "fhe/fhe_keys.h"
#include "fhe/fhe_net.h"
#include "util/bytes.h"
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

static const uint8_t g_seed[32] = {7, 1, 6};
static int g_max_keys; /* the key budget of the next compiles (0: none) */
static int g_boot, g_boot_levels, g_logn; /* bootstrapping options of the next compiles */
static int g_replicate; /* the input's copies in the next compiles (pn_fhe_opts.replicate) */

struct e2e {
  struct pn_fhe_plan *plan;
  struct pn_fhe_spec *spec;       /* as the client loaded it */
  struct pn_fhe_client *client;
  struct pn_fhe_evk *evk;         /* as the server loaded it */
  struct pn_fhe_server *server;
};

static void e2e_free(struct e2e *e) {
  pn_fhe_server_free(e->server);
  pn_fhe_evk_free(e->evk);
  pn_fhe_client_free(e->client);
  pn_fhe_spec_free(e->spec);
  pn_fhe_plan_free(e->plan);
  memset(e, 0, sizeof *e);
}

#define OKC(call)                                                                                                      \
  do {                                                                                                               \
    int rc_ = (call);                                                                                                \
    if (rc_) fprintf(stderr, "%s: %s\n", #call, pn_errmsg(&ctx));                                                    \
    assert_int_equal(rc_, PN_OK);                                                                                    \
  } while (0)

static void e2e_setup(struct e2e *e, struct pn_graph *g) {
  struct pn_ctx ctx = {0};
  struct pn_fhe_opts o;
  pn_fhe_opts_default(&o);
  o.allow_insecure = 1;
  o.max_keys = g_max_keys;
  o.boot = g_boot;
  o.boot_levels = g_boot_levels;
  o.logn = g_logn;
  o.replicate = g_replicate;
  memset(e, 0, sizeof *e);
  OKC(pn_fhe_compile(&ctx, g, &o, &e->plan));
  struct pn_fhe_spec *s0;
  uint8_t *buf;
  size_t len;
  OKC(pn_fhe_plan_spec(&ctx, e->plan, &s0));
  OKC(pn_fhe_spec_save(&ctx, s0, &buf, &len));
  pn_fhe_spec_free(s0);
  OKC(pn_fhe_spec_load(&ctx, buf, len, 1, &e->spec));
  free(buf);
  OKC(pn_fhe_client_keygen(&ctx, e->spec, g_seed, &e->client));
  struct pn_fhe_evk *k0;
  OKC(pn_fhe_client_evk(&ctx, e->client, &k0));
  OKC(pn_fhe_evk_save(&ctx, e->spec, k0, &buf, &len));
  pn_fhe_evk_free(k0);
  OKC(pn_fhe_evk_load(&ctx, e->plan, buf, len, &e->evk));
  free(buf);
  OKC(pn_fhe_server_new(&ctx, e->plan, e->evk, 64, &e->server));
}

/* Encrypt x, evaluate, decrypt into y (out_elems). */
static void e2e_run(struct e2e *e, const float *x, double *y, struct pn_fhe_run_stats *st) {
  struct pn_ctx ctx = {0};
  uint8_t *q, *r;
  size_t ql, rl;
  OKC(pn_fhe_encrypt(&ctx, e->client, x, e->spec->n_in, &q, &ql));
  OKC(pn_fhe_server_query(&ctx, e->server, q, ql, &r, &rl, st));
  OKC(pn_fhe_decrypt(&ctx, e->client, r, rl, y, e->spec->n_out));
  free(q);
  free(r);
}

/* random input in [lo, hi): encrypted vs executor (and vs the plain simulation of the same program). */
static double enc_vs_exec(struct pn_graph *g, double lo, double hi, double tol) {
  struct e2e e;
  e2e_setup(&e, g);
  struct pn_fhe_plan_info info;
  pn_fhe_plan_get_info(e.plan, &info);
  int64_t ni = in_numel(g), no = info.out_elems;
  assert_int_equal(e.spec->n_in, ni);
  float *x = malloc((size_t)ni * sizeof *x);
  double *y = malloc((size_t)no * sizeof *y), *r = malloc((size_t)no * sizeof *r), *s = malloc((size_t)no * sizeof *s);
  for (int64_t i = 0; i < ni; i++) x[i] = (float)urand(lo, hi);
  struct pn_fhe_run_stats st;
  e2e_run(&e, x, y, &st);
  exec_ref(g, x, r, no);
  struct pn_ctx ctx = {0};
  struct pn_fhe_sim_stats ss;
  OKC(pn_fhe_simulate(&ctx, e.plan, x, s, &ss));
  double err = rel_err(y, r, no), serr = rel_err(y, s, no);
  printf("# N=2^%d depth %d: encrypted vs executor %.2e, vs simulation %.2e; %d rotations, %d bootstraps (inputs "
         "|x| <= %.3g), %.2f s\n", info.logn, info.depth, err, serr, st.rotations, st.boots, ss.boot_max_abs,
         st.seconds);
  if (err > tol) {
    pn_fhe_plan_print(e.plan, stderr);
    for (int64_t i = 0; i < no && i < 12; i++)
      fprintf(stderr, "  %lld: enc %.6f sim %.6f exec %.6f\n", (long long)i, y[i], s[i], r[i]);
  }
  assert_true(err <= tol);
  /* what ran is what the plan counted */
  assert_int_equal(st.rotations, info.rotations);
  assert_int_equal(st.pt_muls, info.pt_muls);
  assert_int_equal(st.boots, info.boots);
  assert_int_equal(info.real_boot, info.boots > 0);
  free(x), free(y), free(r), free(s);
  e2e_free(&e);
  return err;
}

/* The plan's rotation schedule (baby steps as a tree of single key switches sharing decompositions, giant steps
** summed up a tree of single key switches) against the earlier one (each rotation its own chain), same keys, same
** ciphertext input: the decrypted results agree within CKKS noise (and with the executor), each run executed
** exactly the key switches its schedule counts, and the tree needs fewer key switches and fewer decompositions.
** The giant sums forced each way (PN_FHE_GIANT_EAGER / _EXT) agree likewise. Returns the tree's key switches. */
static int sched_vs_chains(struct pn_graph *g, int *chains_ks) {
  struct e2e e;
  e2e_setup(&e, g);
  struct pn_fhe_plan_info info;
  pn_fhe_plan_get_info(e.plan, &info);
  int64_t ni = in_numel(g), no = info.out_elems;
  float *x = malloc((size_t)ni * sizeof *x);
  double *yt = malloc((size_t)no * sizeof *yt), *yc = malloc((size_t)no * sizeof *yc), *r = malloc((size_t)no * sizeof *r);
  for (int64_t i = 0; i < ni; i++) x[i] = (float)urand(-1, 1);
  struct pn_fhe_run_stats st, sc;
  struct pn_ctx ctx = {0};
  uint8_t *q, *res;
  size_t ql, rl;
  OKC(pn_fhe_encrypt(&ctx, e.client, x, e.spec->n_in, &q, &ql));
  OKC(pn_fhe_server_query(&ctx, e.server, q, ql, &res, &rl, &st));
  OKC(pn_fhe_decrypt(&ctx, e.client, res, rl, yt, no));
  free(res);
  /* the giant sums both ways, forced: each group rescaled and each giant rotation ModDowned at once, and summed
  ** over Q_l P with one ModDown per inner node and one rescale (giant_tree_ext): same key switches, results within
  ** CKKS noise of each other and of the executor */
  double *ym[2] = {malloc((size_t)no * sizeof(double)), malloc((size_t)no * sizeof(double))};
  const int modes[2] = {PN_FHE_GIANT_EAGER, PN_FHE_GIANT_EXT};
  for (int k = 0; k < 2; k++) {
    struct pn_fhe_run_stats sm;
    pn_fhe_server_set_giant_mode(e.server, modes[k]);
    OKC(pn_fhe_server_query(&ctx, e.server, q, ql, &res, &rl, &sm));
    OKC(pn_fhe_decrypt(&ctx, e.client, res, rl, ym[k], no));
    free(res);
    assert_int_equal(sm.rotations, info.rotations);
    assert_int_equal(sm.modups, info.modups);
  }
  pn_fhe_server_set_giant_mode(e.server, PN_FHE_GIANT_AUTO);
  pn_fhe_server_set_rot_chains(e.server, 1);
  OKC(pn_fhe_server_query(&ctx, e.server, q, ql, &res, &rl, &sc));
  OKC(pn_fhe_decrypt(&ctx, e.client, res, rl, yc, no));
  free(res);
  free(q);
  exec_ref(g, x, r, no);
  double d = rel_err(yt, yc, no), et = rel_err(yt, r, no), ec = rel_err(yc, r, no);
  *chains_ks = chain_rotations(e.plan);
  printf("# schedule: tree %d key switches / %d decompositions, chains %d / %d; tree vs chains %.2e, vs executor "
         "%.2e (chains %.2e)\n", st.rotations, st.modups, sc.rotations, sc.modups, d, et, ec);
  double r_ex = rel_err(ym[0], ym[1], no), e_eager = rel_err(ym[0], r, no), e_ext = rel_err(ym[1], r, no);
  printf("# giant sums: eager vs over QP %.2e; vs executor eager %.2e, over QP %.2e\n", r_ex, e_eager, e_ext);
  free(ym[0]), free(ym[1]);
  assert_true(d <= 1e-6); /* CKKS noise: the two runs differ only in the rounding of their key switches */
  assert_true(r_ex <= 1e-6);
  assert_true(et <= 1e-3);
  assert_true(ec <= 1e-3);
  assert_true(e_eager <= 1e-3);
  assert_true(e_ext <= 1e-3);
  assert_int_equal(st.rotations, info.rotations);
  assert_int_equal(st.modups, info.modups);
  assert_int_equal(sc.rotations, *chains_ks);
  assert_int_equal(sc.modups, sc.rotations);
  assert_true(st.rotations <= sc.rotations);
  assert_true(st.modups < sc.modups);
  sched_check(e.plan);
  int t = st.rotations;
  free(x), free(yt), free(yc), free(r);
  e2e_free(&e);
  return t;
}

/* The weight plaintexts in each of their forms (NTT form kept, integer coefficients kept and made into plaintexts
** at each use, encoded at each use; budgets 64, 1 and 0 MiB) give the same result ciphertext to the bit: the
** products are summed exactly before their one reduction, whatever the batches. */
static void cache_forms(struct pn_graph *g) {
  struct e2e e;
  e2e_setup(&e, g);
  struct pn_ctx ctx = {0};
  float *x = malloc((size_t)e.spec->n_in * sizeof *x);
  for (int64_t i = 0; i < e.spec->n_in; i++) x[i] = (float)urand(-1, 1);
  uint8_t *q, *r[3];
  size_t ql, rl[3], cache[3];
  const size_t mb[3] = {64, 1, 0};
  OKC(pn_fhe_encrypt(&ctx, e.client, x, e.spec->n_in, &q, &ql));
  for (int k = 0; k < 3; k++) {
    struct pn_fhe_server *srv;
    struct pn_fhe_run_stats st;
    OKC(pn_fhe_server_new(&ctx, e.plan, e.evk, mb[k], &srv));
    cache[k] = pn_fhe_server_cache_bytes(srv);
    OKC(pn_fhe_server_query(&ctx, srv, q, ql, &r[k], &rl[k], &st));
    pn_fhe_server_free(srv);
  }
  printf("# weight cache: %zu / %zu / %zu bytes at 64 / 1 / 0 MiB\n", cache[0], cache[1], cache[2]);
  assert_true(cache[0] > ((size_t)1 << 20) && cache[1] > 0 && cache[1] <= ((size_t)1 << 20) && cache[2] == 0);
  for (int k = 1; k < 3; k++) {
    assert_int_equal(rl[k], rl[0]);
    assert_memory_equal(r[k], r[0], rl[0]);
  }
  for (int k = 0; k < 3; k++) free(r[k]);
  free(q);
  free(x);
  e2e_free(&e);
}

/* Buffers reused across layers and queries give the result fresh ones give, to the bit: the context's
** ciphertext pool emptied (every buffer fresh), then sized by the server from its plan: its first query fills the
** pool, a second one allocates no ciphertext buffer at all (the plan's bound holds the evaluation's peak), and
** the server's temporary plaintexts serve both queries. With the giant sums either way (the bound counts two
** buffers per giant-tree node with children for the sums over Q_l P). */
static void pool_reuse(struct pn_graph *g, int giant_mode) {
  struct e2e e;
  e2e_setup(&e, g);
  struct pn_ctx ctx = {0};
  const struct pn_ckks_context *c = pn_fhe_plan_ckks(e.plan);
  float *x = malloc((size_t)e.spec->n_in * sizeof *x);
  for (int64_t i = 0; i < e.spec->n_in; i++) x[i] = (float)urand(-1, 1);
  uint8_t *q, *r[4];
  size_t ql, rl[4];
  int64_t fresh[4];
  OKC(pn_fhe_encrypt(&ctx, e.client, x, e.spec->n_in, &q, &ql));
  struct pn_ckks_pool_info pi;
  assert_int_equal(pn_ckks_ct_pool_set(c, 0), 0);
  pn_ckks_ct_pool_get(c, &pi);
  assert_int_equal(pi.keep, 0);
  assert_int_equal(pi.held, 0);
  struct pn_fhe_server *srv;
  struct pn_fhe_run_stats st;
  /* 0: no pool (every buffer fresh); 1, 2: the server's bound; 3: emptied again under the same server */
  OKC(pn_fhe_server_new(&ctx, e.plan, e.evk, 0, &srv));
  pn_fhe_server_set_giant_mode(srv, giant_mode);
  const size_t bound = pn_fhe_server_pool_bytes(srv, &pi);
  assert_true(pi.keep > 0 && bound == (size_t)pi.keep * pi.buffer_bytes);
  assert_int_equal(pn_ckks_ct_pool_set(c, 0), 0);
  for (int k = 0; k < 4; k++) {
    if (k == 1 || k == 3) assert_int_equal(pn_ckks_ct_pool_set(c, k == 1 ? bound : 0), k == 1 ? bound : 0);
    OKC(pn_fhe_server_query(&ctx, srv, q, ql, &r[k], &rl[k], &st));
    fresh[k] = st.ct_fresh;
  }
  pn_fhe_server_pool_bytes(srv, &pi);
  printf("# ciphertext pool (giant sums %s): bound %zu bytes (%d buffers), peak held %d; fresh buffers per query "
         "%lld / %lld / %lld / %lld\n", giant_mode == PN_FHE_GIANT_EXT ? "over QP" : "eager", bound,
         (int)(bound / pi.buffer_bytes), pi.peak_held, (long long)fresh[0], (long long)fresh[1], (long long)fresh[2],
         (long long)fresh[3]);
  /* without a pool every ciphertext is fresh; with the bound the second query reuses all */
  assert_true(fresh[0] > 4 && fresh[3] == fresh[0]);
  assert_true(fresh[1] > 0 && fresh[1] <= fresh[0]);
  assert_int_equal(fresh[2], 0);
  assert_true(pi.peak_held > 0 && (size_t)pi.peak_held * pi.buffer_bytes <= bound && pi.keep == 0 && pi.held == 0);
  for (int k = 1; k < 4; k++) {
    assert_int_equal(rl[k], rl[0]);
    assert_memory_equal(r[k], r[0], rl[0]);
  }
  pn_fhe_server_free(srv);
  for (int k = 0; k < 4; k++) free(r[k]);
  free(q);
  free(x);
  e2e_free(&e);
}

static void test_conv(void **state) {
  (void)state;
  /* C, H, W, M, k, stride, pad, group: the reference models' convolutions, scaled down */
  static const int64_t cases[][8] = {
    {1, 8, 8, 3, 5, 1, 2, 1}, {3, 8, 8, 4, 5, 1, 0, 1}, {2, 8, 8, 4, 3, 2, 1, 1},
    {4, 6, 6, 4, 1, 2, 0, 1}, {4, 6, 6, 4, 3, 1, 1, 4}, {4, 6, 6, 6, 3, 1, 1, 2},
  };
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    const int64_t *c = cases[t];
    struct gb b;
    gb_init(&b, c[0], c[1], c[2]);
    gb_conv(&b, c[0], c[3], c[4], c[4], c[5], c[6], c[7], 1);
    struct pn_graph *g = gb_finish(&b);
    enc_vs_exec(g, -1, 1, 1e-3);
    pn_graph_free(g);
  }
}

static void test_linear_and_pools(void **state) {
  (void)state;
  struct gb b;
  gb_init(&b, 2, 8, 8);
  gb_conv(&b, 2, 4, 3, 3, 1, 1, 1, 1);
  gb_bn(&b, 4);
  gb_pool(&b, "AveragePool", 2, 2, 0, 0);
  gb_conv(&b, 4, 4, 3, 3, 1, 1, 1, 1);
  gb_pool(&b, "GlobalAveragePool", 0, 0, 0, 0);
  gb_flatten(&b);
  gb_gemm(&b, 4, 5);
  struct pn_graph *g = gb_finish(&b);
  enc_vs_exec(g, -1, 1, 1e-3);
  pn_graph_free(g);
}

static void test_paf(void **state) {
  (void)state;
  static const enum pn_paf_form forms[] = {PN_PAF_F1G2, PN_PAF_F2G3, PN_PAF_ALPHA7};
  for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
    struct gb b;
    gb_init(&b, 2, 4, 4);
    gb_paf_relu(&b, forms[f], 1.1f);
    gb_flatten(&b);
    gb_gemm(&b, 32, 4);
    struct pn_graph *g = gb_finish(&b);
    double e = enc_vs_exec(g, -1, 1, 1e-3);
    printf("# PafRelu %s encrypted: rel err %.2e\n", pn_paf_form_name(forms[f]), e);
    pn_graph_free(g);
  }
  /* max pools: 2x2 s2 (rotated leaves), 3x3 s2 pad 1 (masked leaves) */
  static const int64_t pools[][3] = {{2, 2, 0}, {3, 2, 1}};
  for (size_t t = 0; t < sizeof pools / sizeof *pools; t++) {
    struct gb b;
    gb_init(&b, 2, 6, 6);
    gb_conv(&b, 2, 2, 3, 3, 1, 1, 1, 1);
    gb_paf_relu(&b, PN_PAF_F1G2, 3);
    gb_paf_maxpool(&b, PN_PAF_F1G2, 6, pools[t][0], pools[t][1], pools[t][2]);
    gb_flatten(&b);
    int64_t o = (6 + 2 * pools[t][2] - pools[t][0]) / pools[t][1] + 1;
    gb_gemm(&b, 2 * o * o, 3);
    struct pn_graph *g = gb_finish(&b);
    double e = enc_vs_exec(g, -1, 1, 1e-3);
    printf("# PafMaxPool %lldx%lld s%lld p%lld encrypted: rel err %.2e\n", (long long)pools[t][0],
           (long long)pools[t][0], (long long)pools[t][1], (long long)pools[t][2], e);
    pn_graph_free(g);
  }
}

/* A whole small network that fits without bootstrapping: conv-relu-pool, conv-bn-relu with a residual
** add, global pool, dense. */
static void test_small_model(void **state) {
  (void)state;
  struct gb b;
  gb_init(&b, 1, 8, 8);
  gb_conv(&b, 1, 4, 3, 3, 1, 1, 1, 1);
  gb_paf_relu(&b, PN_PAF_F1G2, 4);
  gb_pool(&b, "AveragePool", 2, 2, 0, 0);
  const char *x = b.cur;
  gb_conv(&b, 4, 4, 3, 3, 1, 1, 1, 1);
  gb_bn(&b, 4);
  gb_add(&b, x);
  gb_paf_relu(&b, PN_PAF_F1G2, 6);
  gb_pool(&b, "GlobalAveragePool", 0, 0, 0, 0);
  gb_flatten(&b);
  gb_gemm(&b, 4, 10);
  struct pn_graph *g = gb_finish(&b);
  for (int rep = 0; rep < 2; rep++) enc_vs_exec(g, -1, 1, 1e-3);
  cache_forms(g);
  pool_reuse(g, PN_FHE_GIANT_EAGER);
  pool_reuse(g, PN_FHE_GIANT_EXT);
  /* the program hash is a function of the model and the options: keys made by one compile serve another */
  {
    struct pn_ctx ctx = {0};
    struct pn_fhe_opts o0;
    pn_fhe_opts_default(&o0);
    o0.allow_insecure = 1;
    struct pn_fhe_plan *p1, *p2;
    OKC(pn_fhe_compile(&ctx, g, &o0, &p1));
    OKC(pn_fhe_compile(&ctx, g, &o0, &p2));
    struct pn_fhe_plan_info i1, i2;
    pn_fhe_plan_get_info(p1, &i1);
    pn_fhe_plan_get_info(p2, &i2);
    assert_memory_equal(i1.hash, i2.hash, 32);
    pn_fhe_plan_free(p1);
    pn_fhe_plan_free(p2);
  }
  /* a key budget: only the power-of-two keys (N = 2^9: 8) and two more; the other steps are chains */
  g_max_keys = 10;
  struct pn_ctx ctx = {0};
  struct pn_fhe_opts o;
  pn_fhe_opts_default(&o);
  o.allow_insecure = 1;
  struct pn_fhe_plan *p;
  OKC(pn_fhe_compile(&ctx, g, &o, &p));
  struct pn_fhe_plan_info all, few;
  pn_fhe_plan_get_info(p, &all);
  pn_fhe_plan_free(p);
  o.max_keys = g_max_keys;
  OKC(pn_fhe_compile(&ctx, g, &o, &p));
  pn_fhe_plan_get_info(p, &few);
  pn_fhe_plan_free(p);
  printf("# key budget: %d keys, %d rotations per image; all keys: %d keys, %d rotations\n", few.rotation_keys,
         few.rotations, all.rotation_keys, all.rotations);
  assert_true(all.rotation_keys > g_max_keys);
  assert_int_equal(few.rotation_keys, g_max_keys);
  assert_true(few.rotations > all.rotations);
  enc_vs_exec(g, -1, 1, 1e-3);
  /* the rotation schedule with the power-of-two keys and two more, and with only the powers of two (N = 2^9:
  ** 8): fewer key switches than one chain per rotation */
  int chains;
  int tree = sched_vs_chains(g, &chains);
  assert_true(tree < chains);
  g_max_keys = 8;
  tree = sched_vs_chains(g, &chains);
  assert_true(tree < chains);
  g_max_keys = 0; /* every step its own key: as many key switches, fewer decompositions (hoisted) */
  tree = sched_vs_chains(g, &chains);
  assert_int_equal(tree, chains);
  g_max_keys = 10;
  o.max_keys = 3; /* fewer than the powers of two: refused */
  assert_int_equal(pn_fhe_compile(&ctx, g, &o, &p), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "power-of-two"));
  g_max_keys = 0;
  pn_graph_free(g);
}

/* A sink that keeps the bytes and the largest piece handed to it. */
struct rec_sink {
  uint8_t *p;
  size_t len, cap, max_piece, pieces;
};
static int rec_put(struct pn_ctx *ctx, void *arg, const void *bytes, size_t n) {
  (void)ctx;
  struct rec_sink *r = arg;
  if (r->len + n > r->cap) {
    r->cap = (r->len + n) * 2;
    r->p = realloc(r->p, r->cap);
    assert_non_null(r->p);
  }
  memcpy(r->p + r->len, bytes, n);
  r->len += n;
  r->pieces++;
  if (n > r->max_piece) r->max_piece = n;
  return PN_OK;
}

/* A source over bytes that keeps the largest piece asked of it. */
struct rec_src {
  const uint8_t *p;
  size_t len, at, max_piece, pieces;
};
static int rec_get(struct pn_ctx *ctx, void *arg, void *bytes, size_t n) {
  struct rec_src *r = arg;
  if (n > r->len - r->at) return pn_err(ctx, PN_ERR_IO, "test source: %zu bytes asked, %zu left", n, r->len - r->at);
  memcpy(bytes, r->p + r->at, n);
  r->at += n;
  r->pieces++;
  if (n > r->max_piece) r->max_piece = n;
  return PN_OK;
}

/* A RESULT for query q from e's server holding keys k (its encoded weights and bootstrapping plaintexts kept). */
static void result_with(struct e2e *e, struct pn_fhe_evk *k, const uint8_t *q, size_t ql, uint8_t **r, size_t *rl) {
  struct pn_ctx ctx = {0};
  OKC(pn_fhe_server_set_keys(&ctx, e->server, k));
  OKC(pn_fhe_server_query(&ctx, e->server, q, ql, r, rl, NULL));
  OKC(pn_fhe_server_set_keys(&ctx, e->server, e->evk));
}

/* The keys read streamed, as fhe serve reads a KEYS frame (pn_fhe_evk_read): the keys the buffered loader gives
** for the same bytes (re-serialized byte for byte, the same memory, the same RESULT bytes for one query, which
** runs the bootstraps), while the reader never asked for (nor held) a piece larger than one top-level switching
** key record; then the same bytes damaged in each way a hostile client could, each refused with its reason, and
** a key set with one rotation more than the plan's: the buffered loader takes it, the streamed one refuses to
** allocate it. */
static void keys_read_streamed(struct e2e *e, const uint8_t *buf, size_t len) {
  struct pn_ctx ctx = {0};
  const struct pn_ckks_context *ck = e->spec->ckks;
  struct rec_src src = {buf, len, 0, 0, 0};
  struct pn_fhe_evk *ks, *kb;
  OKC(pn_fhe_evk_read(&ctx, e->plan, rec_get, &src, len, &ks));
  OKC(pn_fhe_evk_load(&ctx, e->plan, buf, len, &kb));
  assert_int_equal(src.at, len);
  assert_non_null(ks->bk);
  uint8_t *b1, *b2, *q, *r1, *r2;
  size_t l1, l2, ql, rl1, rl2;
  OKC(pn_fhe_evk_save(&ctx, e->spec, ks, &b1, &l1));
  OKC(pn_fhe_evk_save(&ctx, e->spec, kb, &b2, &l2));
  assert_int_equal(l1, len);
  assert_int_equal(l2, len);
  assert_memory_equal(b1, b2, len);
  assert_memory_equal(b1, buf, len);
  assert_int_equal(pn_fhe_evk_memory_bytes(e->spec, ks), pn_fhe_evk_memory_bytes(e->spec, kb));
  float x[64];
  for (int i = 0; i < 64 && i < e->spec->n_in; i++) x[i] = (float)urand(-1, 1);
  assert_true(e->spec->n_in <= 64);
  OKC(pn_fhe_encrypt(&ctx, e->client, x, e->spec->n_in, &q, &ql));
  result_with(e, ks, q, ql, &r1, &rl1);
  result_with(e, kb, q, ql, &r2, &rl2);
  assert_int_equal(rl1, rl2);
  assert_memory_equal(r1, r2, rl1); /* evaluation is deterministic: equal keys, equal bytes */
  const size_t one = pn_ckks_swk_saved_bytes(ck, e->evk->rk) - 48, bound = pn_ckks_swk_record_max(ck);
  printf("# keys read streamed: %zu bytes in %zu pieces, the largest %zu (one top-level key record %zu, the reader's "
         "bound %zu)\n", len, src.pieces, src.max_piece, one, bound);
  assert_true(src.max_piece <= one);
  assert_true(one <= bound);
  assert_true(src.pieces > (size_t)e->spec->n_rot);
  assert_true(src.max_piece * 4 < len);
  free(b1), free(b2), free(q), free(r1), free(r2);
  pn_fhe_evk_free(ks);
  pn_fhe_evk_free(kb);
  /* damaged: each refused streamed (and buffered), with its reason */
  const size_t al = (size_t)pn_get_le64(buf + 48), gk = 48 + 8 + al; /* the Galois keys' length field */
  const size_t gl = (size_t)pn_get_le64(buf + gk);
  struct {
    const char *what, *msg;
    size_t at, n;   /* bytes given: the object cut to n (0: whole) */
    int xor_at;     /* byte flipped (-1: none) */
    uint64_t set;   /* or a u64 field at `at` set to this (when n == 1) */
  } cases[] = {
    {"the bootstrapping keys' digest", "digest mismatch", 0, 0, (int)(len - 1), 0},
    {"a Galois key record", "digest mismatch", 0, 0, (int)(gk + 8 + 48 + 8 + 8 + 100), 0},
    {"the relinearisation key's fingerprint", "fingerprint mismatch", 0, 0, 48 + 8 + 10, 0},
    {"the program hash", "another model", 0, 0, 9, 0},
    {"the Galois key count", "more than the", gk + 8 + 48, 1, -1, (uint64_t)1 << 40},
    {"the Galois keys' length, longer", "end 16 bytes before", gk, 1, -1, gl + 16},
    {"the Galois keys' length, shorter", "run past their declared length", gk, 1, -1, gl - 16},
    {"the relinearisation key's length", "bytes declared", 48, 1, -1, len},
    {"the object cut short", "payload of", 0, len - 1000, -1, 0},
  };
  uint8_t *d = malloc(len);
  assert_non_null(d);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    memcpy(d, buf, len);
    size_t n = cases[i].n > 1 ? cases[i].n : len;
    if (cases[i].xor_at >= 0) d[cases[i].xor_at] ^= 0x21;
    if (cases[i].n == 1) pn_put_le64(d + cases[i].at, cases[i].set);
    struct rec_src s2 = {d, n, 0, 0, 0};
    struct pn_fhe_evk *k = NULL;
    int rc = pn_fhe_evk_read(&ctx, e->plan, rec_get, &s2, n, &k);
    printf("# streamed keys, %s: %s\n", cases[i].what, pn_errmsg(&ctx));
    assert_true(rc == PN_ERR_CORRUPT || rc == PN_ERR_MISMATCH);
    assert_null(k);
    assert_non_null(strstr(pn_errmsg(&ctx), cases[i].msg));
    assert_true(s2.max_piece <= one);
    assert_int_not_equal(pn_fhe_evk_load(&ctx, e->plan, d, n, &k), PN_OK);
  }
  /* the object whole, the source shorter: the source's error */
  struct rec_src s3 = {buf, len - 1, 0, 0, 0};
  struct pn_fhe_evk *k = NULL;
  assert_int_equal(pn_fhe_evk_read(&ctx, e->plan, rec_get, &s3, len, &k), PN_ERR_IO);
  assert_null(k);
  free(d);
  /* one rotation more than the plan's: the streamed reader does not allocate it */
  {
    int *steps = malloc((size_t)(e->spec->n_rot + 1) * sizeof *steps), extra = 0;
    memcpy(steps, e->spec->rot, (size_t)e->spec->n_rot * sizeof *steps);
    for (int st = 1; !extra; st++) {
      int in = 0;
      for (int j = 0; j < e->spec->n_rot; j++) in |= e->spec->rot[j] == st;
      if (!in) extra = st;
    }
    steps[e->spec->n_rot] = extra;
    struct pn_ckks_gk *g2, *g0 = e->evk->gk;
    OKC(pn_ckks_keygen_galois(&ctx, ck, e->client->sk, steps, e->spec->n_rot + 1, 0, &e->client->prg, &g2));
    e->evk->gk = g2;
    uint8_t *b3;
    size_t l3;
    OKC(pn_fhe_evk_save(&ctx, e->spec, e->evk, &b3, &l3));
    e->evk->gk = g0;
    pn_ckks_gk_free(g2);
    OKC(pn_fhe_evk_load(&ctx, e->plan, b3, l3, &k));
    pn_fhe_evk_free(k);
    struct rec_src s4 = {b3, l3, 0, 0, 0};
    assert_int_equal(pn_fhe_evk_read(&ctx, e->plan, rec_get, &s4, l3, &k), PN_ERR_CORRUPT);
    printf("# streamed keys, one rotation more than the plan's (by %d): %s\n", extra, pn_errmsg(&ctx));
    assert_non_null(strstr(pn_errmsg(&ctx), "wanted"));
    assert_null(k);
    free(b3);
    free(steps);
  }
}

/* Evaluation keys (relinearisation, rotations, bootstrapping) streamed: the same bytes as pn_fhe_evk_save,
** as many as pn_fhe_evk_bytes computes without serializing, handed over one key record at a time (never a
** piece larger than one top-level switching key: a writer that built the whole object, or a whole key set,
** in memory first would hand over more); written to a file and mapped back, they serve the plan. */
static void keys_streamed(struct e2e *e) {
  struct pn_ctx ctx = {0};
  uint8_t *buf;
  size_t len;
  OKC(pn_fhe_evk_save(&ctx, e->spec, e->evk, &buf, &len));
  struct rec_sink r = {0};
  OKC(pn_fhe_evk_write(&ctx, e->spec, e->evk, rec_put, &r));
  assert_int_equal(r.len, len);
  assert_memory_equal(r.p, buf, len);
  assert_int_equal(pn_fhe_evk_bytes(e->spec, e->evk), len);
  const size_t one = pn_ckks_swk_saved_bytes(e->spec->ckks, e->evk->rk); /* the relinearisation key: top level */
  printf("# keys streamed: %zu bytes in %zu pieces, the largest %zu (one top-level key %zu); %zu bytes in memory\n",
         len, r.pieces, r.max_piece, one, pn_fhe_evk_memory_bytes(e->spec, e->evk));
  assert_true(r.max_piece <= one + 64);
  assert_true(r.pieces > (size_t)e->spec->n_rot);
  assert_true(r.max_piece * 4 < len);
  /* seeded uniform halves: the bytes are about half the memory */
  assert_true((double)len < 0.6 * (double)pn_fhe_evk_memory_bytes(e->spec, e->evk));
  keys_read_streamed(e, buf, len);
  /* through a file, mapped back */
  char dir[] = "/tmp/pn_fhe_keysXXXXXX", path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/eval.keys", dir);
  size_t fl = 0;
  OKC(pn_fhe_evk_save_file(&ctx, e->spec, e->evk, path, &fl));
  assert_int_equal(fl, len);
  struct pn_fhe_evk *k;
  OKC(pn_fhe_evk_load_file(&ctx, e->plan, path, &k));
  struct pn_fhe_server *srv;
  OKC(pn_fhe_server_new(&ctx, e->plan, k, 0, &srv));
  pn_fhe_server_free(srv);
  pn_fhe_evk_free(k);
  /* damaged on disk: refused, naming the file */
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  fseek(f, (long)(len / 2), SEEK_SET);
  int ch = fgetc(f);
  fseek(f, (long)(len / 2), SEEK_SET);
  fputc(ch ^ 0x5a, f);
  fclose(f);
  assert_int_equal(pn_fhe_evk_load_file(&ctx, e->plan, path, &k), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), path));
  unlink(path);
  assert_int_equal(pn_fhe_evk_load_file(&ctx, e->plan, path, &k), PN_ERR_IO);
  rmdir(dir);
  free(r.p);
  free(buf);
}

/* Real bootstrapping inside the program (N = 2^10, insecure): a network deeper than the levels between
** bootstraps (conv, PAF ReLU, a 2x2 PAF max pool, dense), packed sparsely (2^7 of 512 slots), with the
** bootstraps the compiler placed run on the ciphertexts; the decrypted logits against the executor. Then
** fewer levels between bootstraps (more of them), and the keys: a spec for bootstrapping gives evaluation
** keys that hold the bootstrapping keys, and keys without them are refused by the server. */
static void test_bootstrap(void **state) {
  (void)state;
  struct gb b;
  gb_init(&b, 1, 8, 8);
  gb_conv(&b, 1, 2, 3, 3, 1, 1, 1, 1);
  gb_paf_relu(&b, PN_PAF_F1G2, 4);
  gb_paf_maxpool(&b, PN_PAF_F1G2, 4, 2, 2, 0);
  gb_flatten(&b);
  gb_gemm(&b, 2 * 4 * 4, 5);
  struct pn_graph *g = gb_finish(&b);
  g_boot = PN_FHE_BOOT_FORCE;
  g_logn = 10;
  const int levels[2] = {9, 7};
  for (int t = 0; t < 2; t++) {
    g_boot_levels = levels[t];
    struct pn_ctx ctx = {0};
    struct pn_fhe_opts o;
    pn_fhe_opts_default(&o);
    o.allow_insecure = 1, o.boot = g_boot, o.boot_levels = g_boot_levels, o.logn = g_logn;
    struct pn_fhe_plan *p;
    OKC(pn_fhe_compile(&ctx, g, &o, &p));
    struct pn_fhe_plan_info in;
    pn_fhe_plan_get_info(p, &in);
    printf("# %d levels between bootstraps: %d bootstraps, 2^%d slots of %zu, %d + %d rotation keys\n", g_boot_levels,
           in.boots, in.log_slots, pn_ckks_slots(pn_fhe_plan_ckks(p)), in.rotation_keys, in.boot_rotation_keys);
    assert_true(in.boots >= 1);
    assert_int_equal(in.real_boot, 1);
    assert_int_equal(in.log_slots, 7);
    assert_true(in.boot_key_bytes > 0);
    pn_fhe_plan_free(p);
    enc_vs_exec(g, -1, 1, 1e-3);
  }
  /* evaluation keys without the bootstrapping keys: the server refuses them */
  {
    struct pn_ctx ctx = {0};
    struct e2e e;
    e2e_setup(&e, g);
    assert_non_null(e.evk->bk);
    struct pn_ckks_boot_keys *bk = e.evk->bk;
    e.evk->bk = NULL;
    struct pn_fhe_server *srv;
    assert_int_equal(pn_fhe_server_new(&ctx, e.plan, e.evk, 0, &srv), PN_ERR_MISMATCH);
    assert_non_null(strstr(pn_errmsg(&ctx), "bootstrapping keys"));
    uint8_t *buf;
    size_t len;
    assert_int_equal(pn_fhe_evk_save(&ctx, e.spec, e.evk, &buf, &len), PN_ERR_INVALID);
    e.evk->bk = bk;
    keys_streamed(&e);
    e2e_free(&e);
  }
  g_boot = g_boot_levels = g_logn = 0;
  pn_graph_free(g);
}

static struct pn_graph *tiny_model(int64_t M) {
  struct gb b;
  gb_init(&b, 1, 4, 4);
  gb_conv(&b, 1, M, 3, 3, 1, 1, 1, 1);
  gb_paf_relu(&b, PN_PAF_F1G2, 3);
  gb_flatten(&b);
  gb_gemm(&b, M * 16, 3);
  return gb_finish(&b);
}

/* The input in copies (a one-channel image to 4 channels): the spec carries them (round trip to the byte), the
** client encodes them and the encrypted result agrees with the executor; a spec whose copies are out of range, overlap,
** or contradict each other, and an object of the version before copies, are refused. */
static void test_spec_copies(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct gb b;
  gb_init(&b, 1, 6, 6);
  gb_conv(&b, 1, 4, 3, 3, 1, 1, 1, 1);
  gb_paf_relu(&b, PN_PAF_F1G2, 4);
  struct pn_graph *g = gb_finish(&b);
  for (int r = 0; r <= PN_FHE_COPIES_CORNER_POW2; r++) { /* auto and each placement: the client encodes them */
    g_replicate = r;
    double err = enc_vs_exec(g, -1, 1, 1e-3);
    printf("# one channel to 4 in copies (replicate %d), encrypted: rel err %.2e\n", r, err);
  }
  g_replicate = 0;
  struct e2e e;
  e2e_setup(&e, g);
  assert_int_equal(e.spec->in_rep, 4);
  assert_true(e.spec->in_rep_stride >= 36); /* one extent apart, or moved (a margin, a power of two) */
  const int64_t stride = e.spec->in_rep_stride;
  uint8_t *sb, *sb2;
  size_t sl, sl2;
  struct pn_fhe_spec *sp;
  OKC(pn_fhe_spec_save(&ctx, e.spec, &sb, &sl));
  OKC(pn_fhe_spec_load(&ctx, sb, sl, 1, &sp));
  assert_int_equal(sp->in_rep, 4);
  assert_int_equal(sp->in_rep_stride, stride);
  OKC(pn_fhe_spec_save(&ctx, sp, &sb2, &sl2));
  assert_int_equal(sl2, sl);
  assert_memory_equal(sb2, sb, sl);
  pn_fhe_spec_free(sp);
  free(sb2);
  /* the copies are the payload's last 12 bytes: u32 count, u64 stride */
  const struct { uint32_t rep; uint64_t stride; const char *what; } bad[] = {
    {0, 36, "input copies"}, {1u << 20, 36, "input copies"}, {4, (uint64_t)1 << 40, "input copy stride"},
    {4, 35, "copy"}, {4, 0, "apart"}, {1, 36, "apart"}, {4, 1u << 12, "apart"}, {1u << 12, 36, "apart"}, {8, 36, "copy"},
  };
  uint8_t *c = malloc(sl);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    memcpy(c, sb, sl);
    pn_put_le32(c + sl - 12, bad[i].rep);
    pn_put_le64(c + sl - 8, bad[i].stride);
    int rc = pn_fhe_spec_load(&ctx, c, sl, 1, &sp);
    if (rc != PN_ERR_CORRUPT || !strstr(pn_errmsg(&ctx), bad[i].what))
      fprintf(stderr, "copies %u, stride %llu: %d %s\n", bad[i].rep, (unsigned long long)bad[i].stride, rc,
              pn_errmsg(&ctx));
    assert_int_equal(rc, PN_ERR_CORRUPT);
    assert_non_null(strstr(pn_errmsg(&ctx), bad[i].what));
  }
  /* an object of version 2 (a spec without copies): refused, never read as one */
  memcpy(c, sb, sl);
  c[4] = 2;
  assert_int_equal(pn_fhe_spec_load(&ctx, c, sl, 1, &sp), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "version"));
  free(c);
  free(sb);
  e2e_free(&e);
  pn_graph_free(g);
}

static void test_refusals(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_graph *g = tiny_model(2), *g2 = tiny_model(3);
  struct e2e e, f;
  e2e_setup(&e, g);
  e2e_setup(&f, g2);
  float x[16];
  for (int i = 0; i < 16; i++) x[i] = (float)urand(-1, 1);
  uint8_t *q, *r, *fq, *out = NULL;
  size_t ql, rl, fql, ol;
  double y[3];
  /* wrong-size input */
  assert_int_equal(pn_fhe_encrypt(&ctx, e.client, x, 15, &q, &ql), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "elements"));
  float bad[16];
  memcpy(bad, x, sizeof bad);
  bad[3] = NAN;
  assert_int_equal(pn_fhe_encrypt(&ctx, e.client, bad, 16, &q, &ql), PN_ERR_INVALID);
  OKC(pn_fhe_encrypt(&ctx, e.client, x, 16, &q, &ql));
  OKC(pn_fhe_encrypt(&ctx, f.client, x, 16, &fq, &fql));
  /* truncated, padded, corrupted header, wrong object type */
  assert_int_equal(pn_fhe_server_query(&ctx, e.server, q, ql - 1, &out, &ol, NULL), PN_ERR_CORRUPT);
  assert_int_equal(pn_fhe_server_query(&ctx, e.server, q, 20, &out, &ol, NULL), PN_ERR_CORRUPT);
  uint8_t *q2 = malloc(ql + 1);
  memcpy(q2, q, ql);
  q2[ql] = 0;
  assert_int_equal(pn_fhe_server_query(&ctx, e.server, q2, ql + 1, &out, &ol, NULL), PN_ERR_CORRUPT);
  q2[0] ^= 1;
  assert_int_equal(pn_fhe_server_query(&ctx, e.server, q2, ql, &out, &ol, NULL), PN_ERR_CORRUPT);
  q2[0] ^= 1;
  q2[6] = PN_FHE_OBJ_RESULT;
  assert_int_equal(pn_fhe_server_query(&ctx, e.server, q2, ql, &out, &ol, NULL), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "expected a query"));
  q2[6] = PN_FHE_OBJ_QUERY;
  /* a query made for another model */
  assert_int_equal(pn_fhe_server_query(&ctx, e.server, fq, fql, &out, &ol, NULL), PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "another model"));
  /* another model's ciphertext relabelled with this model's hash: other parameters (fingerprint) */
  uint8_t *fq2;
  size_t fq2l;
  OKC(pn_fhe_obj_wrap(&ctx, PN_FHE_OBJ_QUERY, e.spec->hash, fq + 48, fql - 48, &fq2, &fq2l));
  int rc = pn_fhe_server_query(&ctx, e.server, fq2, fq2l, &out, &ol, NULL);
  assert_true(rc == PN_ERR_MISMATCH || rc == PN_ERR_CORRUPT);
  printf("# relabelled query: %s\n", pn_errmsg(&ctx));
  /* corrupted ciphertext body: a coefficient beyond its prime is refused by the loader */
  memset(q2 + ql - 64, 0xff, 64);
  assert_int_equal(pn_fhe_server_query(&ctx, e.server, q2, ql, &out, &ol, NULL), PN_ERR_CORRUPT);
  /* the good query still works; its result cannot be read by the other client, nor as a query */
  OKC(pn_fhe_server_query(&ctx, e.server, q, ql, &r, &rl, NULL));
  assert_int_equal(pn_fhe_decrypt(&ctx, f.client, r, rl, y, 3), PN_ERR_MISMATCH);
  assert_int_equal(pn_fhe_decrypt(&ctx, e.client, q, ql, y, 3), PN_ERR_CORRUPT);
  assert_int_equal(pn_fhe_decrypt(&ctx, e.client, r, rl, y, 2), PN_ERR_INVALID);
  OKC(pn_fhe_decrypt(&ctx, e.client, r, rl, y, 3));
  double ref[3];
  exec_ref(g, x, ref, 3);
  assert_true(rel_err(y, ref, 3) <= 1e-3);
  /* evaluation keys of another model; a spec cut short; a secret key for another model */
  uint8_t *kb, *sb;
  size_t kl, sl;
  struct pn_fhe_evk *k;
  OKC(pn_fhe_evk_save(&ctx, f.spec, f.evk, &kb, &kl));
  assert_int_equal(pn_fhe_evk_load(&ctx, e.plan, kb, kl, &k), PN_ERR_MISMATCH);
  assert_int_equal(pn_fhe_evk_load(&ctx, f.plan, kb, kl - 8, &k), PN_ERR_CORRUPT);
  struct pn_fhe_server *srv;
  assert_int_equal(pn_fhe_server_new(&ctx, e.plan, f.evk, 0, &srv), PN_ERR_MISMATCH);
  struct pn_fhe_spec *sp;
  OKC(pn_fhe_spec_save(&ctx, e.spec, &sb, &sl));
  for (size_t cut = 48; cut < sl; cut += (sl - 48) / 7 + 1)
    assert_int_equal(pn_fhe_spec_load(&ctx, sb, cut, 1, &sp), PN_ERR_CORRUPT);
  uint8_t *skb;
  size_t skl;
  struct pn_fhe_client *c2;
  OKC(pn_fhe_client_save_secret(&ctx, f.client, &skb, &skl));
  assert_int_equal(pn_fhe_client_load(&ctx, e.spec, skb, skl, &c2), PN_ERR_MISMATCH);
  OKC(pn_fhe_client_load(&ctx, f.spec, skb, skl, &c2));
  pn_fhe_client_free(c2);
  free(skb);
  free(sb);
  free(kb);
  free(q), free(q2), free(fq), free(fq2), free(r);
  e2e_free(&e);
  e2e_free(&f);
  pn_graph_free(g);
  pn_graph_free(g2);
}

/* The PAF ReLU microbenchmark's kernel: every form on a full ciphertext, against the same polynomial in
** double, and the levels it consumes (the sign chain's depth + the product). */
/* ---- over a socket: frames and sessions (fhe serve / query) ---- */

struct srv_arg {
  struct pn_fhe_conn *c;
  struct pn_fhe_server *srv;
  const uint8_t *hello;
  size_t hl;
  int rc;
  char msg[512];
  struct pn_fhe_serve_stats st;
};

static void *srv_main(void *u) {
  struct srv_arg *a = u;
  struct pn_ctx ctx = {0};
  a->rc = pn_fhe_serve_session(&ctx, a->c, a->srv, a->hello, a->hl, &a->st);
  snprintf(a->msg, sizeof a->msg, "%s", a->rc ? pn_errmsg(&ctx) : "");
  pn_fhe_conn_free(a->c); /* as fhe serve does: a client still sending gets EPIPE, not a stall */
  a->c = NULL;
  return NULL;
}

/* A server that refuses the keys on the KEYS frame's header and hangs up while the client is still sending. */
struct hangup_arg {
  int fd;
  const uint8_t *hello;
  size_t hl;
};
static void *hangup_main(void *u) {
  struct hangup_arg *a = u;
  struct pn_ctx ctx = {0};
  struct pn_fhe_conn *c;
  uint8_t h[PN_FHE_FRAME_HDR];
  static const char why[] = "keys refused: over this server's quota";
  OKC(pn_fhe_conn_from_fd(&ctx, a->fd, 20000, &c));
  OKC(pn_fhe_send(&ctx, c, PN_FHE_MSG_HELLO, a->hello, a->hl));
  for (size_t at = 0; at < sizeof h;) {
    ssize_t r = read(a->fd, h + at, sizeof h - at);
    assert_true(r > 0);
    at += (size_t)r;
  }
  OKC(pn_fhe_send(&ctx, c, PN_FHE_MSG_ERROR, (const uint8_t *)why, sizeof why - 1));
  pn_fhe_conn_free(c); /* the keys' bytes unread */
  return NULL;
}

/* KEYS frames a hostile or broken client sends (real keys for the session's spec, then damaged). */
enum { BAD_TRUNCATED, BAD_OVERLONG, BAD_LENGTH, BAD_FINGERPRINT, BAD_DIGEST, BAD_HASH, BAD_COUNT };
static const char *const bad_keys_msg[BAD_COUNT] = {
  "closed the connection", "payload of", "Galois keys end 8 bytes before", "fingerprint mismatch",
  "digest mismatch", "another model"};

/* The client's side of a session that uploads a damaged KEYS frame; what the server said comes back in a. */
static void bad_keys_client(struct pn_fhe_conn *cc, int fd, int kind, const uint8_t seed[32]) {
  struct pn_ctx ctx = {0}, sub = {0};
  uint8_t *b, *kb;
  size_t n, kl;
  struct pn_fhe_spec *sp;
  double m, sd;
  struct pn_fhe_client *cl;
  struct pn_fhe_evk *k;
  OKC(pn_fhe_recv(&ctx, cc, PN_FHE_MSG_HELLO, NULL, &b, &n));
  OKC(pn_fhe_hello_parse(&ctx, b, n, 1, &sp, &m, &sd));
  free(b);
  OKC(pn_fhe_client_keygen(&ctx, sp, seed, &cl));
  OKC(pn_fhe_client_evk(&ctx, cl, &k));
  OKC(pn_fhe_evk_save(&ctx, sp, k, &kb, &kl));
  const size_t al = (size_t)pn_get_le64(kb + 48), gk = 48 + 8 + al;
  uint8_t *f = calloc(kl + 8, 1);
  assert_non_null(f);
  memcpy(f, kb, kl);
  size_t fl = kl;
  switch (kind) {
  case BAD_OVERLONG: fl = kl + 8; break; /* 8 bytes past the object */
  case BAD_LENGTH: pn_put_le64(f + gk, pn_get_le64(f + gk) + 8); break; /* taking the next field's bytes */
  case BAD_FINGERPRINT: f[gk + 8 + 12] ^= 0x10; break; /* the Galois keys' CKKS fingerprint */
  case BAD_DIGEST: f[gk + 8 + 48 + 8 + 8 + 64] ^= 0x01; break; /* a word of the first Galois key record */
  case BAD_HASH: f[20] ^= 0x80; break;
  default: break;
  }
  uint8_t h[PN_FHE_FRAME_HDR];
  pn_fhe_frame_put_header(h, PN_FHE_MSG_KEYS, fl);
  if (kind == BAD_TRUNCATED) { /* the header promises fl bytes, half come, then the client hangs up */
    assert_int_equal(write(fd, h, sizeof h), (ssize_t)sizeof h);
    for (size_t at = 0; at < fl / 2;) {
      ssize_t w = write(fd, f + at, fl / 2 - at);
      assert_true(w > 0);
      at += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
  } else {
    pn_fhe_send(&sub, cc, PN_FHE_MSG_KEYS, f, fl); /* the server may hang up before it has all */
    assert_int_equal(pn_fhe_recv(&ctx, cc, PN_FHE_MSG_READY, NULL, &b, &n), PN_ERR_PROTOCOL);
    printf("# bad KEYS frame %d, the client told: %s\n", kind, pn_errmsg(&ctx));
    assert_non_null(strstr(pn_errmsg(&ctx), "KEYS"));
    assert_non_null(strstr(pn_errmsg(&ctx), bad_keys_msg[kind]));
  }
  free(f);
  free(kb);
  pn_fhe_evk_free(k);
  pn_fhe_client_free(cl);
  pn_fhe_spec_free(sp);
}

static void test_net(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  /* frame headers: each field checked before anything is allocated */
  uint8_t h[PN_FHE_FRAME_HDR];
  int type;
  uint64_t len;
  pn_fhe_frame_put_header(h, PN_FHE_MSG_QUERY, 1000);
  assert_int_equal(pn_fhe_frame_header(&ctx, h, NULL, &type, &len), PN_OK);
  assert_int_equal(type, PN_FHE_MSG_QUERY);
  assert_int_equal(len, 1000);
  uint64_t mx[PN_FHE_MSG_COUNT] = {0, 0, 0, 0, 999, 0, 0, 0};
  assert_int_equal(pn_fhe_frame_header(&ctx, h, mx, &type, &len), PN_ERR_PROTOCOL);
  assert_non_null(strstr(pn_errmsg(&ctx), "more than the 999"));
  pn_fhe_frame_put_header(h, PN_FHE_MSG_READY, 1 << 20); /* READY carries nothing */
  assert_int_equal(pn_fhe_frame_header(&ctx, h, NULL, &type, &len), PN_ERR_PROTOCOL);
  pn_fhe_frame_put_header(h, PN_FHE_MSG_COUNT, 0);
  assert_int_equal(pn_fhe_frame_header(&ctx, h, NULL, &type, &len), PN_ERR_PROTOCOL);
  pn_fhe_frame_put_header(h, PN_FHE_MSG_BYE, 0);
  h[6] = 1;
  assert_int_equal(pn_fhe_frame_header(&ctx, h, NULL, &type, &len), PN_ERR_PROTOCOL);
  h[6] = 0, h[0] = 'X';
  assert_int_equal(pn_fhe_frame_header(&ctx, h, NULL, &type, &len), PN_ERR_PROTOCOL);
  assert_non_null(strstr(pn_errmsg(&ctx), "bad magic"));
  /* sessions on one server, its weights encoded once (no keys yet: evaluation refused): HELLO, keys uploaded
  ** once, two queries against the executor, BYE; then a client that breaks the protocol; then another client
  ** (other keys) on the same encoded weights */
  struct pn_graph *g = tiny_model(2);
  struct e2e e;
  e2e_setup(&e, g);
  struct pn_fhe_spec *s0;
  uint8_t *sb, *hello;
  size_t sl, hl;
  OKC(pn_fhe_plan_spec(&ctx, e.plan, &s0));
  OKC(pn_fhe_spec_save(&ctx, s0, &sb, &sl));
  OKC(pn_fhe_hello_make(&ctx, sb, sl, 0.25, 0.5, &hello, &hl));
  pn_fhe_spec_free(s0);
  free(sb);
  struct pn_fhe_server *srv;
  OKC(pn_fhe_server_new(&ctx, e.plan, NULL, 16, &srv));
  const size_t cached = pn_fhe_server_cache_bytes(srv);
  assert_true(cached > 0);
  {
    struct pn_ckks_ct *ct = pn_ckks_ct_new(pn_fhe_plan_ckks(e.plan)), *o = pn_ckks_ct_new(pn_fhe_plan_ckks(e.plan));
    assert_int_equal(pn_fhe_server_eval(&ctx, srv, ct, o, NULL), PN_ERR_INVALID);
    assert_non_null(strstr(pn_errmsg(&ctx), "no evaluation keys"));
    pn_ckks_ct_free(ct);
    pn_ckks_ct_free(o);
  }
  /* sessions: a good client, one that sends a query before its keys, one per damaged KEYS frame, a good one */
  const int nsess = 3 + BAD_COUNT;
  for (int sess = 0; sess < nsess; sess++) {
    const int bad = sess > 0 && sess < nsess - 1, kind = sess - 2;
    uint8_t seed[32];
    memcpy(seed, g_seed, 32);
    seed[31] = (uint8_t)sess; /* each client its own keys */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct srv_arg a = {.srv = srv, .hello = hello, .hl = hl};
    struct pn_fhe_conn *cc;
    OKC(pn_fhe_conn_from_fd(&ctx, sv[0], 20000, &a.c));
    OKC(pn_fhe_conn_from_fd(&ctx, sv[1], 20000, &cc));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, srv_main, &a), 0);
    if (!bad) {
      struct pn_fhe_session *ss;
      OKC(pn_fhe_session_open(&ctx, cc, 1, &ss));
      assert_true(ss->mean == 0.25 && ss->std == 0.5);
      assert_memory_equal(ss->spec->hash, e.spec->hash, 32);
      OKC(pn_fhe_session_keys(&ctx, ss, seed));
      assert_true(ss->key_bytes > 0);
      for (int q = 0; q < 2; q++) {
        float x[16];
        double y[3], r[3];
        for (int i = 0; i < 16; i++) x[i] = (float)urand(-1, 1);
        size_t up, down;
        OKC(pn_fhe_session_query(&ctx, ss, x, y, &up, &down));
        exec_ref(g, x, r, 3);
        printf("# over a socket: session %d query %d rel err %.2e, %zu bytes up, %zu down\n", sess, q, rel_err(y, r, 3),
               up, down);
        assert_true(rel_err(y, r, 3) < 1e-3);
        assert_true(up > down && down > PN_FHE_FRAME_HDR);
      }
      pn_fhe_session_close(ss);
      pthread_join(t, NULL);
      assert_int_equal(a.rc, PN_OK);
      assert_int_equal(a.st.queries, 2);
      assert_int_equal(pn_fhe_server_cache_bytes(srv), cached); /* the same weights, not encoded again */
    } else if (kind >= 0) {
      /* a damaged KEYS frame: refused as it is read, that session ended, the keys read so far freed (ASan) */
      bad_keys_client(cc, sv[1], kind, seed);
      pthread_join(t, NULL);
      printf("# bad KEYS frame %d, the server: %s\n", kind, a.msg);
      assert_int_equal(a.rc, kind == BAD_TRUNCATED ? PN_ERR_IO : kind == BAD_HASH ? PN_ERR_MISMATCH : PN_ERR_CORRUPT);
      assert_non_null(strstr(a.msg, bad_keys_msg[kind]));
      assert_int_equal(a.st.queries, 0);
      pn_fhe_conn_free(cc);
    } else {
      /* a client that sends a query before its keys: the server ends the session with an ERROR frame */
      uint8_t *b;
      size_t n;
      OKC(pn_fhe_recv(&ctx, cc, PN_FHE_MSG_HELLO, NULL, &b, &n));
      free(b);
      OKC(pn_fhe_send(&ctx, cc, PN_FHE_MSG_QUERY, (const uint8_t *)"junk", 4));
      assert_int_equal(pn_fhe_recv(&ctx, cc, PN_FHE_MSG_READY, NULL, &b, &n), PN_ERR_PROTOCOL);
      printf("# client told: %s\n", pn_errmsg(&ctx));
      assert_non_null(strstr(pn_errmsg(&ctx), "QUERY frame where a KEYS was due"));
      pthread_join(t, NULL);
      assert_int_equal(a.rc, PN_ERR_PROTOCOL);
      pn_fhe_conn_free(cc);
    }
  }
  /* a client that keeps sending its keys, but slower than the server's minimum rate (each piece well within
  ** the stall timeout): the server gives up at the frame's deadline (stall timeout + length / rate) and says
  ** why, instead of being held for as long as the client likes */
  {
    struct pn_fhe_client *cl;
    struct pn_fhe_evk *k;
    uint8_t *kb, *b;
    size_t kl, n;
    OKC(pn_fhe_client_keygen(&ctx, e.spec, g_seed, &cl)); /* before the session: its stall timeout is short */
    OKC(pn_fhe_client_evk(&ctx, cl, &k));
    OKC(pn_fhe_evk_save(&ctx, e.spec, k, &kb, &kl));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct srv_arg a = {.srv = srv, .hello = hello, .hl = hl};
    struct pn_fhe_conn *cc;
    OKC(pn_fhe_conn_from_fd(&ctx, sv[0], 500, &a.c));
    const uint64_t rate = 1 << 20;
    pn_fhe_conn_set_min_rate(a.c, rate);
    OKC(pn_fhe_conn_from_fd(&ctx, sv[1], 20000, &cc));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, srv_main, &a), 0);
    OKC(pn_fhe_recv(&ctx, cc, PN_FHE_MSG_HELLO, NULL, &b, &n));
    free(b);
    pn_fhe_frame_put_header(h, PN_FHE_MSG_KEYS, kl);
    assert_int_equal(send(sv[1], h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h);
    size_t at = 0;
    int told = 0;
    for (int step = 0; step < 1200 && at < kl && !told; step++) { /* 256 bytes per 50 ms: 5 KiB/s */
      const size_t m = kl - at < 256 ? kl - at : 256;
      ssize_t w = send(sv[1], kb + at, m, MSG_NOSIGNAL);
      if (w <= 0) break;
      at += (size_t)w;
      struct pollfd pf = {.fd = sv[1], .events = POLLIN};
      told = poll(&pf, 1, 50) > 0;
    }
    assert_true(at < kl); /* cut off long before the keys were all sent */
    assert_int_equal(pn_fhe_recv(&ctx, cc, PN_FHE_MSG_READY, NULL, &b, &n), PN_ERR_PROTOCOL);
    printf("# keys sent at 5 KiB/s (%zu of %zu bytes when cut), the client told: %s\n", at, kl, pn_errmsg(&ctx));
    assert_non_null(strstr(pn_errmsg(&ctx), "slower than the 1048576 bytes/s"));
    pthread_join(t, NULL);
    assert_int_equal(a.rc, PN_ERR_TIMEOUT);
    assert_non_null(strstr(a.msg, "KEYS frame of"));
    assert_int_equal(a.st.queries, 0);
    pn_fhe_conn_free(cc);
    free(kb);
    pn_fhe_evk_free(k);
    pn_fhe_client_free(cl);
  }
  pn_fhe_server_free(srv);
  /* a server that hangs up on the keys after saying why: the client reports the server's reason, not the
  ** broken pipe its send met (the keys are larger than the socket's send buffer, so the send is cut) */
  {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct hangup_arg ha = {sv[0], hello, hl};
    struct pn_fhe_conn *cc;
    struct pn_fhe_session *ss;
    OKC(pn_fhe_conn_from_fd(&ctx, sv[1], 20000, &cc));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hangup_main, &ha), 0);
    OKC(pn_fhe_session_open(&ctx, cc, 1, &ss));
    int sndbuf = 8192; /* the kernel doubles it */
    assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    socklen_t sl2 = sizeof sndbuf;
    assert_int_equal(getsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl2), 0);
    assert_int_equal(pn_fhe_session_keys(&ctx, ss, g_seed), PN_ERR_PROTOCOL);
    printf("# keys (%zu bytes, send buffer %d) refused, the client told: %s\n", ss->key_bytes, sndbuf,
           pn_errmsg(&ctx));
    assert_true(ss->key_bytes > 4 * (size_t)sndbuf);
    assert_non_null(strstr(pn_errmsg(&ctx), "says: keys refused: over this server's quota"));
    pthread_join(t, NULL);
    pn_fhe_session_close(ss);
  }
  /* the stream checker the fuzz target drives: a HELLO and a BYE pass, a cut frame does not */
  {
    uint8_t *st = malloc(hl + 2 * PN_FHE_FRAME_HDR);
    pn_fhe_frame_put_header(st, PN_FHE_MSG_HELLO, hl);
    memcpy(st + PN_FHE_FRAME_HDR, hello, hl);
    pn_fhe_frame_put_header(st + PN_FHE_FRAME_HDR + hl, PN_FHE_MSG_BYE, 0);
    OKC(pn_fhe_frames_check(&ctx, st, hl + 2 * PN_FHE_FRAME_HDR));
    assert_int_equal(pn_fhe_frames_check(&ctx, st, hl + PN_FHE_FRAME_HDR - 1), PN_ERR_PROTOCOL);
    st[PN_FHE_FRAME_HDR + 8 + 4] ^= 0x40; /* the spec object's version */
    assert_int_not_equal(pn_fhe_frames_check(&ctx, st, hl + 2 * PN_FHE_FRAME_HDR), PN_OK);
    free(st);
  }
  free(hello);
  e2e_free(&e);
  pn_graph_free(g);
}

static void test_bench_paf(void **state) {
  (void)state;
  int forms[PN_PAF_FORM_COUNT];
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++) forms[f] = f;
  struct pn_fhe_paf_bench r[PN_PAF_FORM_COUNT];
  struct pn_ctx ctx = {0};
  OKC(pn_fhe_bench_paf(&ctx, 9, 1, g_seed, PN_PAF_FORM_COUNT, forms, r));
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++) {
    printf("# bench paf %s: %d levels, %d ct products, max err %.2e\n", pn_paf_form_name((enum pn_paf_form)f),
           r[f].levels, r[f].ct_muls, r[f].max_err);
    assert_int_equal(r[f].form, f);
    assert_true(r[f].max_err < 1e-4);
    assert_int_equal(r[f].levels, pn_paf_sign_depth((enum pn_paf_form)f) + 1);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_conv),        cmocka_unit_test(test_linear_and_pools), cmocka_unit_test(test_paf),
    cmocka_unit_test(test_small_model), cmocka_unit_test(test_bootstrap), cmocka_unit_test(test_spec_copies), cmocka_unit_test(test_refusals), cmocka_unit_test(test_net),     cmocka_unit_test(test_bench_paf),
  };
  return cmocka_run_group_tests(tests, fhe_test_setup, fhe_test_teardown);
}
