/* test_mpc_model.c - the secure model runner against privnn's plaintext executor, plans, bits
** discarded, unsupported ops, and a two-party model run bit-identical to the simulator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "graph/exec.h"
#include "mpc/dealer.h"
#include "mpc/net.h"
#include "mpc/runner.h"
#include "util/util.h"

enum { B = 2 };
static struct pn_prg rng;

static void fill(struct pn_tensor *t, double scale, double offset) {
  float *f = t->data;
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) f[i] = (float)(pn_prg_normal(&rng) * scale + offset);
}

static struct pn_node *node(struct pn_graph *g, const char *op, const char *name, int n_in,
                            const char *const *in, const char *out) {
  struct pn_node *n = pn_graph_add_node(g, op, name, n_in, in, 1, &out);
  assert_non_null(n);
  return n;
}

/* conv+bn -> relu -> maxpool(3,2,pad 1) -> grouped conv + skip -> relu -> avgpool -> gap -> flatten -> gemm */
static struct pn_graph *small_cnn(const char *extra_op) {
  struct pn_graph *g = pn_graph_new();
  int64_t xd[4] = {B, 2, 8, 8}, w1[4] = {4, 2, 3, 3}, c4[1] = {4}, w2[4] = {4, 2, 3, 3},
          w3[2] = {3, 4}, c3[1] = {3}, yd[2] = {B, 3};
  pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd);
  fill(pn_graph_new_init(g, "W1", PN_DT_FLOAT, 4, w1), 0.4, 0);
  fill(pn_graph_new_init(g, "b1", PN_DT_FLOAT, 1, c4), 0.1, 0);
  fill(pn_graph_new_init(g, "bn_s", PN_DT_FLOAT, 1, c4), 0.1, 1);
  fill(pn_graph_new_init(g, "bn_b", PN_DT_FLOAT, 1, c4), 0.1, 0);
  fill(pn_graph_new_init(g, "bn_m", PN_DT_FLOAT, 1, c4), 0.1, 0);
  struct pn_tensor *var = pn_graph_new_init(g, "bn_v", PN_DT_FLOAT, 1, c4);
  fill(var, 0.1, 1);
  for (int i = 0; i < 4; i++) ((float *)var->data)[i] = fabsf(((float *)var->data)[i]);
  fill(pn_graph_new_init(g, "W2", PN_DT_FLOAT, 4, w2), 0.3, 0);
  fill(pn_graph_new_init(g, "W3", PN_DT_FLOAT, 2, w3), 0.5, 0);
  fill(pn_graph_new_init(g, "b3", PN_DT_FLOAT, 1, c3), 0.1, 0);
  int64_t pads[4] = {1, 1, 1, 1}, k3[2] = {3, 3}, k2[2] = {2, 2}, s2[2] = {2, 2};
  const char *i1[] = {"x", "W1", "b1"};
  pn_node_set_ints(g, node(g, "Conv", "conv1", 3, i1, "c1"), "pads", 4, pads);
  const char *ib[] = {"c1", "bn_s", "bn_b", "bn_m", "bn_v"};
  node(g, "BatchNormalization", "bn1", 5, ib, "n1");
  const char *ir1[] = {"n1"};
  node(g, "Relu", "relu1", 1, ir1, "r1");
  const char *imp[] = {"r1"};
  struct pn_node *mp = node(g, "MaxPool", "pool1", 1, imp, "p1");
  pn_node_set_ints(g, mp, "kernel_shape", 2, k3);
  pn_node_set_ints(g, mp, "strides", 2, s2);
  pn_node_set_ints(g, mp, "pads", 4, pads);
  const char *i2[] = {"p1", "W2"};
  struct pn_node *c2 = node(g, "Conv", "conv2", 2, i2, "c2");
  pn_node_set_ints(g, c2, "pads", 4, pads);
  pn_node_set_int(g, c2, "group", 2); /* grouped convolution */
  const char *ia[] = {"c2", "p1"};
  node(g, "Add", "add", 2, ia, "a2");
  const char *ir2[] = {"a2"};
  node(g, "Relu", "relu2", 1, ir2, "r2");
  const char *iap[] = {"r2"};
  struct pn_node *ap = node(g, "AveragePool", "avg", 1, iap, "ap");
  pn_node_set_ints(g, ap, "kernel_shape", 2, k2);
  pn_node_set_ints(g, ap, "strides", 2, s2);
  const char *ig[] = {"ap"};
  node(g, "GlobalAveragePool", "gap", 1, ig, "gp");
  const char *ifl[] = {"gp"};
  node(g, "Flatten", "flat", 1, ifl, "fl");
  const char *igm[] = {"fl", "W3", "b3"};
  const char *last = "y";
  if (extra_op) last = "g3";
  pn_node_set_int(g, node(g, "Gemm", "fc", 3, igm, last), "transB", 1);
  if (extra_op) {
    const char *ie[] = {"g3"};
    node(g, extra_op, "extra", 1, ie, "y");
  }
  pn_graph_add_output(g, "y", PN_DT_FLOAT, 2, yd);
  return g;
}

static void plain_run(struct pn_graph *g, const float *x, float *y) {
  struct pn_ctx ctx = {0};
  struct pn_exec *ex;
  assert_int_equal(pn_exec_new(&ctx, g, NULL, &ex), PN_OK);
  int64_t xd[4] = {B, 2, 8, 8};
  struct pn_tensor *in = pn_tensor_new(PN_DT_FLOAT, 4, xd), *out = NULL;
  memcpy(in->data, x, sizeof(float) * B * 128);
  const struct pn_tensor *ins[1] = {in};
  assert_int_equal(pn_exec_run(&ctx, ex, ins, &out), PN_OK);
  memcpy(y, out->data, sizeof(float) * B * 3);
  pn_tensor_free(in);
  pn_tensor_free(out);
  pn_exec_free(ex);
}

/* Secure run in the simulator; returns the decoded output. */
static void sim_run(struct pn_graph *g, const float *x, int secret, const struct pn_mpc_plan *plan,
                    double *y, double *bits_discarded) {
  struct pn_ctx ctx = {0};
  struct pn_mpc_model_opts o = {.batch = B, .secret_weights = secret, .plan = plan};
  memset(o.owner_seed, 3, 32);
  struct pn_mpc_model *mm;
  assert_int_equal(pn_mpc_model_new(&ctx, g, &o, &mm), PN_OK);
  uint8_t master[32];
  pn_prg_bytes(&rng, master, 32);
  struct pn_mpc_dealer *d;
  assert_int_equal(pn_dealer_new_embedded(&ctx, master, &d), PN_OK);
  struct pn_mpc m;
  pn_mpc_init_sim(&m, &ctx, d, 16);
  int64_t n = pn_mpc_model_in_numel(mm);
  assert_int_equal(n, B * 128);
  uint64_t enc[B * 128];
  for (int i = 0; i < n; i++) enc[i] = pn_fx_encode(x[i], 16);
  pn_sh xs = {0}, ys = {0};
  assert_int_equal(pn_sh_alloc(&m, n, xs), PN_OK);
  pn_mpc_split(&rng, n, enc, xs[0], xs[1]);
  assert_int_equal(pn_mpc_model_run(mm, &m, xs, ys), PN_OK);
  for (int i = 0; i < B * 3; i++) y[i] = pn_fx_decode(ys[0][i] + ys[1][i], 16);
  if (bits_discarded) *bits_discarded = pn_mpc_model_bits_discarded(mm);
  pn_sh_free(&m, n, xs);
  pn_sh_free(&m, pn_mpc_model_out_numel(mm), ys);
  pn_mpc_release(&m);
  pn_mpc_model_free(mm);
  pn_dealer_free(d);
}

static void test_model_vs_plaintext(void **state) {
  struct pn_graph *g = small_cnn(NULL);
  float x[B * 128], yp[B * 3];
  for (int i = 0; i < B * 128; i++) x[i] = (float)(pn_prg_double(&rng) * 2 - 1);
  plain_run(g, x, yp);
  double y[B * 3], bd;
  for (int secret = 0; secret < 2; secret++) {
    sim_run(g, x, secret, NULL, y, &bd);
    for (int i = 0; i < B * 3; i++) assert_true(fabs(y[i] - yp[i]) < 2e-3 * (1 + fabs(yp[i])));
    assert_true(bd == 0);
  }
  /* an error-free HB plan (values are far below 2^(24-1-16) = 128) */
  struct pn_mpc_plan plan = {0};
  pn_mpc_plan_add(&plan, "relu1", 0, 24);
  pn_mpc_plan_add(&plan, "relu2", 0, 24);
  pn_mpc_plan_add(&plan, "pool1", 0, 32);
  sim_run(g, x, 1, &plan, y, &bd);
  for (int i = 0; i < B * 3; i++) assert_true(fabs(y[i] - yp[i]) < 2e-3 * (1 + fabs(yp[i])));
  double e1 = B * 4 * 64, e2 = B * 4 * 16, emp = 8.0 * B * 4 * 16;
  double want = 1 - (24 * e1 + 24 * e2 + 32 * emp) / (64 * (e1 + e2 + emp));
  assert_true(fabs(bd - want) < 1e-12);
  /* n = 0 for relu2 makes it the identity: the output changes to the no-ReLU network's */
  pn_mpc_plan_free(&plan);
  pn_mpc_plan_add(&plan, "relu2", 5, 5);
  sim_run(g, x, 0, &plan, y, &bd);
  struct pn_graph *g2 = pn_graph_clone(g);
  for (int i = 0; i < g2->n_nodes; i++)
    if (!strcmp(g2->nodes[i]->name, "relu2")) g2->nodes[i]->op_type = "Identity";
  float yi[B * 3];
  plain_run(g2, x, yi);
  for (int i = 0; i < B * 3; i++) assert_true(fabs(y[i] - yi[i]) < 2e-3 * (1 + fabs(yi[i])));
  pn_mpc_plan_free(&plan);
  pn_graph_free(g2);
  pn_graph_free(g);
}

static void test_unsupported(void **state) {
  struct pn_graph *g = small_cnn("Sigmoid");
  struct pn_ctx ctx = {0};
  struct pn_mpc_model_opts o = {.batch = B};
  struct pn_mpc_model *mm = NULL;
  assert_int_equal(pn_mpc_model_new(&ctx, g, &o, &mm), PN_ERR_UNSUPPORTED);
  assert_null(mm);
  assert_non_null(strstr(pn_errmsg(&ctx), "extra"));
  pn_graph_free(g);
}

/* two parties over a socketpair, each with its own model object and embedded dealer */
struct party {
  int id, fd;
  struct pn_graph *g;
  const struct pn_mpc_plan *plan;
  struct pn_mpc_wtable *wtab;   /* P0: its weight shares (then it has no plaintext weights) */
  int no_owner_seed;            /* P0 without the owner's seed */
  uint64_t *x, *y;
  int rc;
};
static uint8_t master[32];

static void *party_main(void *p) {
  struct party *a = p;
  struct pn_ctx ctx = {0};
  struct pn_net_opts no = {.timeout_ms = 10000};
  struct pn_mpc_net *net = NULL;
  struct pn_mpc_dealer *d = NULL;
  struct pn_mpc_model *mm = NULL;
  struct pn_mpc_model_opts o = {.batch = B, .secret_weights = 1, .plan = a->plan, .wtab = a->wtab};
  memset(o.owner_seed, a->no_owner_seed ? 0 : 3, 32);
  if ((a->rc = pn_mpc_net_from_fd(&ctx, a->fd, a->id == 0, &no, &net)) ||
      (a->rc = pn_dealer_new_embedded(&ctx, master, &d)) ||
      (a->rc = pn_mpc_model_new(&ctx, a->g, &o, &mm)))
    goto out;
  struct pn_mpc m;
  pn_mpc_init_party(&m, &ctx, a->id, net, d, 16);
  pn_sh xs = {a->x, NULL}, ys = {0};
  if ((a->rc = pn_mpc_model_run(mm, &m, xs, ys)) == PN_OK) {
    memcpy(a->y, ys[0], sizeof(uint64_t) * B * 3);
    pn_sh_free(&m, B * 3, ys);
  }
  pn_mpc_release(&m);
out:
  pn_mpc_model_free(mm);
  pn_dealer_free(d);
  pn_mpc_net_free(net);
  return NULL;
}

static void test_two_party_model_bit_identical(void **state) {
  struct pn_graph *g = small_cnn(NULL);
  struct pn_mpc_plan plan = {0};
  pn_mpc_plan_add(&plan, "relu1", 2, 26);
  pn_prg_bytes(&rng, master, 32);
  uint64_t x[2][B * 128], yreal[2][B * 3];
  uint64_t enc[B * 128];
  for (int i = 0; i < B * 128; i++) enc[i] = pn_fx_encode(pn_prg_double(&rng) * 2 - 1, 16);
  pn_mpc_split(&rng, B * 128, enc, x[0], x[1]);
  /* simulator */
  struct pn_ctx ctx = {0};
  struct pn_mpc_model_opts o = {.batch = B, .secret_weights = 1, .plan = &plan};
  memset(o.owner_seed, 3, 32);
  struct pn_mpc_model *mm;
  struct pn_mpc_dealer *d;
  assert_int_equal(pn_mpc_model_new(&ctx, g, &o, &mm), PN_OK);
  assert_int_equal(pn_dealer_new_embedded(&ctx, master, &d), PN_OK);
  struct pn_mpc m;
  pn_mpc_init_sim(&m, &ctx, d, 16);
  pn_sh xs = {x[0], x[1]}, ys = {0};
  assert_int_equal(pn_mpc_model_run(mm, &m, xs, ys), PN_OK);
  /* two parties */
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  struct party p[2];
  pthread_t t[2];
  for (int i = 0; i < 2; i++) {
    p[i] = (struct party){.id = i, .fd = sv[i], .g = g, .plan = &plan, .x = x[i], .y = yreal[i]};
    assert_int_equal(pthread_create(&t[i], NULL, party_main, &p[i]), 0);
  }
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  assert_int_equal(p[0].rc, PN_OK);
  assert_int_equal(p[1].rc, PN_OK);
  assert_memory_equal(ys[0], yreal[0], sizeof yreal[0]);
  assert_memory_equal(ys[1], yreal[1], sizeof yreal[1]);
  pn_sh_free(&m, B * 3, ys);
  pn_mpc_release(&m);
  pn_mpc_model_free(mm);
  pn_dealer_free(d);
  pn_mpc_plan_free(&plan);
  pn_graph_free(g);
}

/* The model owner records P0's weight shares; the parties then run on a copy of the graph whose
** float weights are all zero (P0 with the table, P1 with the owner's seed) and reproduce the
** simulator's shares with the real weights bit for bit. */
static void test_secret_weight_shares(void **state) {
  struct pn_graph *g = small_cnn(NULL);
  pn_prg_bytes(&rng, master, 32);
  uint64_t x[2][B * 128], yreal[2][B * 3], enc[B * 128];
  for (int i = 0; i < B * 128; i++) enc[i] = pn_fx_encode(pn_prg_double(&rng) * 2 - 1, 16);
  pn_mpc_split(&rng, B * 128, enc, x[0], x[1]);
  struct pn_ctx ctx = {0};
  struct pn_mpc_wtable wt = {.recording = 1};
  struct pn_mpc_model_opts o = {.batch = B, .secret_weights = 1, .wtab = &wt};
  memset(o.owner_seed, 3, 32);
  struct pn_mpc_model *mm;
  struct pn_mpc_dealer *d;
  assert_int_equal(pn_mpc_model_new(&ctx, g, &o, &mm), PN_OK);
  assert_int_equal(pn_dealer_new_embedded(&ctx, master, &d), PN_OK);
  struct pn_mpc m;
  pn_mpc_init_sim(&m, &ctx, d, 16);
  pn_sh xs = {x[0], x[1]}, ys = {0};
  assert_int_equal(pn_mpc_model_run(mm, &m, xs, ys), PN_OK);
  assert_true(wt.n >= 5); /* conv1 (folded W, b), conv2 (2 groups), fc W, fc b */
  wt.recording = 0;
  /* the weight share files round-trip, and refuse corruption, the other party, another model */
  {
    char path[] = "/tmp/pn_mpc_wXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uint8_t model[32], other[32], seed[32], owner[32];
    memset(model, 9, 32);
    memset(other, 8, 32);
    memset(owner, 3, 32);
    struct pn_mpc_wtable back;
    assert_int_equal(pn_mpc_wfile_write(&ctx, path, 0, &wt, model, owner, 16), PN_OK);
    assert_int_equal(pn_mpc_wfile_read(&ctx, path, 0, model, &back, seed), PN_OK);
    assert_int_equal(back.n, wt.n);
    for (int i = 0; i < wt.n; i++) {
      const struct pn_mpc_wshare *e = pn_mpc_wtable_find(&back, wt.e[i].name);
      assert_non_null(e);
      assert_int_equal(e->n, wt.e[i].n);
      assert_memory_equal(e->w, wt.e[i].w, (size_t)e->n * 8);
    }
    pn_mpc_wtable_free(&back);
    assert_int_equal(pn_mpc_wfile_read(&ctx, path, 1, model, &back, seed), PN_ERR_MISMATCH);
    assert_int_equal(pn_mpc_wfile_read(&ctx, path, 0, other, &back, seed), PN_ERR_MISMATCH);
    uint8_t *buf;
    size_t n;
    assert_int_equal(pn_read_file(&ctx, path, 0, &buf, &n), PN_OK);
    size_t spots[] = {0, 8, 30, 100, n / 2, n - 1};
    for (size_t i = 0; i < sizeof spots / sizeof *spots; i++) {
      buf[spots[i]] ^= 1;
      assert_int_equal(pn_write_file_atomic(&ctx, path, buf, n, 0600), PN_OK);
      assert_int_equal(pn_mpc_wfile_read(&ctx, path, 0, model, &back, seed), PN_ERR_CORRUPT);
      assert_int_equal(back.n, 0);
      buf[spots[i]] ^= 1;
    }
    free(buf);
    assert_int_equal(pn_mpc_wfile_write(&ctx, path, 1, &wt, model, owner, 16), PN_OK);
    assert_int_equal(pn_mpc_wfile_read(&ctx, path, 1, model, &back, seed), PN_OK);
    assert_int_equal(back.n, 0);
    assert_memory_equal(seed, owner, 32);
    unlink(path);
  }
  struct pn_graph *gz = pn_graph_clone(g);
  for (int i = 0; i < gz->n_inits; i++)
    if (gz->inits[i]->dtype == PN_DT_FLOAT)
      memset(gz->inits[i]->data, 0, pn_tensor_nbytes(gz->inits[i]));
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  struct party p[2];
  pthread_t t[2];
  for (int i = 0; i < 2; i++) {
    p[i] = (struct party){.id = i, .fd = sv[i], .g = gz, .x = x[i], .y = yreal[i],
                          .wtab = i == 0 ? &wt : NULL, .no_owner_seed = i == 0};
    assert_int_equal(pthread_create(&t[i], NULL, party_main, &p[i]), 0);
  }
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  assert_int_equal(p[0].rc, PN_OK);
  assert_int_equal(p[1].rc, PN_OK);
  assert_memory_equal(ys[0], yreal[0], sizeof yreal[0]);
  assert_memory_equal(ys[1], yreal[1], sizeof yreal[1]);
  /* a table missing a weight, or with a wrong size, is refused */
  free(wt.e[0].name);
  wt.e[0].name = strdup("not-a-weight");
  struct pn_mpc_model_opts o2 = {.batch = B, .secret_weights = 1, .wtab = &wt};
  struct pn_mpc_model *mz;
  assert_int_equal(pn_mpc_model_new(&ctx, gz, &o2, &mz), PN_OK);
  struct pn_mpc m0;
  pn_mpc_init_party(&m0, &ctx, 0, NULL, d, 16);
  pn_sh x0 = {x[0], NULL}, y0 = {0};
  assert_int_equal(pn_mpc_model_run(mz, &m0, x0, y0), PN_ERR_MISMATCH);
  pn_mpc_release(&m0);
  pn_mpc_model_free(mz);
  pn_sh_free(&m, B * 3, ys);
  pn_mpc_release(&m);
  pn_mpc_model_free(mm);
  pn_dealer_free(d);
  pn_mpc_wtable_free(&wt);
  pn_graph_free(gz);
  pn_graph_free(g);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_plan_files(void **state) {
  char path[] = "/tmp/pn_mpc_planXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  struct pn_ctx ctx = {0};
  struct pn_mpc_plan p = {0};
  write_text(path, "{\"relus\": [{\"node\": \"relu1\", \"k\": 2, \"m\": 20}, "
                   "{\"node\": \"relu2\", \"k\": 0, \"m\": 0}]}");
  assert_int_equal(pn_mpc_plan_load(&ctx, path, &p), PN_OK);
  assert_int_equal(p.n, 2);
  const struct pn_mpc_plan_item *it = pn_mpc_plan_find(&p, "relu1");
  assert_non_null(it);
  assert_true(it->k == 2 && it->m == 20);
  assert_null(pn_mpc_plan_find(&p, "relu3"));
  uint8_t h1[32], h2[32], h0[32];
  pn_mpc_plan_hash(&p, h1);
  pn_mpc_plan_hash(NULL, h0);
  /* save and reload: same plan, same hash */
  assert_int_equal(pn_mpc_plan_save(&ctx, path, &p, NULL), PN_OK);
  pn_mpc_plan_free(&p);
  assert_int_equal(pn_mpc_plan_load(&ctx, path, &p), PN_OK);
  pn_mpc_plan_hash(&p, h2);
  assert_memory_equal(h1, h2, 32);
  assert_memory_not_equal(h1, h0, 32);
  p.items[0].m = 21; /* any change changes the hash */
  pn_mpc_plan_hash(&p, h2);
  assert_memory_not_equal(h1, h2, 32);
  pn_mpc_plan_free(&p);
  const char *bad[] = {
      "{\"relus\": [{\"node\": \"a\", \"k\": 5, \"m\": 4}]}",     /* k > m */
      "{\"relus\": [{\"node\": \"a\", \"k\": 0, \"m\": 65}]}",    /* m > 64 */
      "{\"relus\": [{\"node\": \"a\", \"k\": -1, \"m\": 4}]}",    /* k < 0 */
      "{\"relus\": [{\"node\": \"a\", \"k\": 0.5, \"m\": 4}]}",   /* not an integer */
      "{\"relus\": [{\"k\": 0, \"m\": 4}]}",                      /* no node */
      "{\"relus\": [{\"node\": \"a\", \"k\": 0, \"m\": 4}, {\"node\": \"a\", \"k\": 0, \"m\": 5}]}",
      "{\"relus\": 3}", "{\"relus\": [", "[1, 2]"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    write_text(path, bad[i]);
    assert_int_not_equal(pn_mpc_plan_load(&ctx, path, &p), PN_OK);
    assert_int_equal(p.n, 0);
  }
  unlink(path);
}

int main(void) {
  pn_prg_init_u64(NULL, &rng, 0x6d6f64656c);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model_vs_plaintext),
      cmocka_unit_test(test_unsupported),
      cmocka_unit_test(test_plan_files),
      cmocka_unit_test(test_two_party_model_bit_identical),
      cmocka_unit_test(test_secret_weight_shares),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pn_prg_free(&rng);
  return rc;
}
