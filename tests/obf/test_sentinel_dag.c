/* test_sentinel_dag.c - Proteus on graphs privnn did not write: the property test of issue 17.
**
** Random DAG models (convolutions with and without padding, strides, pools, residual Adds,
** Concat of 2-4 branches, Split, channel shuffles through Reshape/Transpose, BatchNormalization,
** a symbolic batch N or a fixed one, extra outputs), an inception-style model (parallel
** 1x1/3x3/5x5/pool branches joined by Concat, twice, then a MatMul/Softmax head) and the trained
** reference models in models/: every part gets its k sentinels (generated, or copies of the real
** part with the count said), every sentinel is valid, survives an ONNX round trip and runs with the
** declared output shapes, and split -> join reassembles a model equal to the original on random
** inputs. Every zoo model too (all parts generated, none copied). PN_TEST_SEED=S replays a run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/exec.h"
#include "graph/onnx.h"
#include "graph/zoo.h"
#include "obf/obf.h"
#include "obf/obf_ngram.h"
#include "util/util.h"
#include "pn_test.h"
#include "obf/sentinel_check.h"

static uint64_t g_seed;
static struct pn_obf_ngram *g_corpus;
static char g_tmp[256];

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[600];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      struct stat st;
      if (!lstat(p, &st) && S_ISDIR(st.st_mode)) rm_rf(p);
      else unlink(p);
    }
  closedir(d);
  rmdir(dir);
}

/* ---- a random model ---- */

struct rv {
  const char *name;
  int nd;
  int64_t d[5];
  int uses;
};

struct rgen {
  struct pn_graph *g;
  struct pn_prg *prg;
  struct rv v[256];
  int n;
  int id;
  bool sym;                    /* batch is a symbolic N */
};

static int rnd(struct rgen *r, int n) { return (int)pn_prg_uniform(r->prg, (uint64_t)n); }

static const char *nm(struct rgen *r, const char *p) {
  return pn_arena_printf(r->g->arena, "%s%d", p, r->id++);
}

static int add_v(struct rgen *r, const char *name, int nd, const int64_t *d) {
  assert_true(r->n < 256);
  struct rv *v = &r->v[r->n];
  v->name = name;
  v->nd = nd;
  memcpy(v->d, d, (size_t)nd * sizeof *d);
  v->uses = 0;
  return r->n++;
}

static const char *weight(struct rgen *r, int nd, const int64_t *d, double sd) {
  const char *n = nm(r, "w");
  struct pn_tensor *t = pn_graph_new_init(r->g, n, PN_DT_FLOAT, nd, d);
  assert_non_null(t);
  pn_prg_normal_f32(r->prg, t->data, (size_t)pn_tensor_numel(t), 0, (float)sd);
  return n;
}

static const char *ints(struct rgen *r, int n, const int64_t *v) {
  const char *name = nm(r, "i");
  int64_t d[1] = {n};
  struct pn_tensor *t = pn_graph_new_init(r->g, name, PN_DT_INT64, 1, d);
  assert_non_null(t);
  memcpy(t->data, v, (size_t)n * sizeof *v);
  return name;
}

static struct pn_node *node(struct rgen *r, const char *op, int nin, const char **in, int nout,
                            const char **out) {
  struct pn_node *n = pn_graph_add_node(r->g, op, nm(r, "n"), nin, in, nout, out);
  assert_non_null(n);
  return n;
}

/* A recent value (4-D unless any_rank). */
static int pick(struct rgen *r, bool any_rank) {
  for (int t = 0; t < 64; t++) {
    int i = r->n - 1 - rnd(r, r->n < 5 ? r->n : 5);
    if (any_rank || r->v[i].nd == 4) return i;
  }
  for (int i = r->n - 1; i >= 0; i--)
    if (r->v[i].nd == 4) return i;
  return -1;
}

static int conv(struct rgen *r, int x, int64_t cout, int k, int pad, int stride) {
  struct rv *a = &r->v[x];
  int64_t wd[4] = {cout, a->d[1], k, k}, bd[1] = {cout};
  const char *in[3] = {a->name, weight(r, 4, wd, sqrt(2.0 / (double)(a->d[1] * k * k))), weight(r, 1, bd, 0.05)};
  const char *o = nm(r, "c");
  struct pn_node *n = node(r, "Conv", 3, in, 1, &o);
  int64_t ks[2] = {k, k}, st[2] = {stride, stride}, pd[4] = {pad, pad, pad, pad};
  pn_node_set_ints(r->g, n, "kernel_shape", 2, ks);
  pn_node_set_ints(r->g, n, "strides", 2, st);
  pn_node_set_ints(r->g, n, "pads", 4, pd);
  a->uses++;
  int64_t h = (a->d[2] + 2 * pad - k) / stride + 1, w = (a->d[3] + 2 * pad - k) / stride + 1;
  int64_t od[4] = {a->d[0], cout, h, w};
  return add_v(r, o, 4, od);
}

static int unary(struct rgen *r, int x, const char *op) {
  const char *o = nm(r, "u"), *in[1] = {r->v[x].name};
  node(r, op, 1, in, 1, &o);
  r->v[x].uses++;
  return add_v(r, o, r->v[x].nd, r->v[x].d);
}

static int maxpool(struct rgen *r, int x, int k, int stride, int pad) {
  struct rv *a = &r->v[x];
  const char *o = nm(r, "p"), *in[1] = {a->name};
  struct pn_node *n = node(r, "MaxPool", 1, in, 1, &o);
  int64_t ks[2] = {k, k}, st[2] = {stride, stride}, pd[4] = {pad, pad, pad, pad};
  pn_node_set_ints(r->g, n, "kernel_shape", 2, ks);
  pn_node_set_ints(r->g, n, "strides", 2, st);
  pn_node_set_ints(r->g, n, "pads", 4, pd);
  a->uses++;
  int64_t od[4] = {a->d[0], a->d[1], (a->d[2] + 2 * pad - k) / stride + 1, (a->d[3] + 2 * pad - k) / stride + 1};
  return add_v(r, o, 4, od);
}

static int concat(struct rgen *r, const int *xs, int m) {
  const char *in[4], *o = nm(r, "cat");
  int64_t od[4];
  memcpy(od, r->v[xs[0]].d, sizeof od);
  od[1] = 0;
  for (int i = 0; i < m; i++) {
    in[i] = r->v[xs[i]].name;
    od[1] += r->v[xs[i]].d[1];
    r->v[xs[i]].uses++;
  }
  pn_node_set_int(r->g, node(r, "Concat", m, in, 1, &o), "axis", 1);
  return add_v(r, o, 4, od);
}

/* One random step; returns false when the chosen op did not apply. */
static bool step(struct rgen *r) {
  int x = pick(r, false), c = rnd(r, 100);
  if (x < 0) return false;
  struct rv a = r->v[x];
  if (c < 28) {
    int k = (int[]){1, 3, 5}[rnd(r, 3)], pad = rnd(r, 2) ? (k - 1) / 2 : 0;
    int stride = a.d[2] >= 8 && rnd(r, 4) == 0 ? 2 : 1;
    if (a.d[2] + 2 * pad < k + 1) pad = (k - 1) / 2;
    conv(r, x, (int64_t[]){4, 6, 8}[rnd(r, 3)], k, pad, stride);
  } else if (c < 46) {
    unary(r, x, rnd(r, 4) ? "Relu" : "Sigmoid");
  } else if (c < 55) {
    int y = -1;
    for (int i = 0; i < r->n && y < 0; i++)
      if (i != x && r->v[i].nd == 4 && !memcmp(r->v[i].d, a.d, sizeof a.d[0] * 4)) y = i;
    if (y < 0) return false;
    const char *in[2] = {a.name, r->v[y].name}, *o = nm(r, "add");
    node(r, rnd(r, 4) ? "Add" : "Mul", 2, in, 1, &o);
    r->v[x].uses++;
    r->v[y].uses++;
    add_v(r, o, 4, a.d);
  } else if (c < 66) {
    /* inception-like: 2-4 branches from x joined by Concat */
    int m = 2 + rnd(r, 3), xs[4];
    for (int i = 0; i < m; i++) {
      int kind = rnd(r, 3);
      if (kind == 0) xs[i] = conv(r, x, 4, 1, 0, 1);
      else if (kind == 1) xs[i] = conv(r, conv(r, x, 4, 1, 0, 1), 4, 3, 1, 1);
      else xs[i] = conv(r, maxpool(r, x, 3, 1, 1), 4, 1, 0, 1);
    }
    concat(r, xs, m);
  } else if (c < 73) {
    if (a.d[1] < 2 || a.d[1] % 2) return false;
    int64_t half = a.d[1] / 2, sp[2] = {half, half};
    const char *in[2] = {a.name, ints(r, 2, sp)}, *o[2] = {nm(r, "s"), nm(r, "s")};
    pn_node_set_int(r->g, node(r, "Split", 2, in, 2, o), "axis", 1);
    r->v[x].uses++;
    int64_t od[4] = {a.d[0], half, a.d[2], a.d[3]};
    add_v(r, o[0], 4, od);
    add_v(r, o[1], 4, od);
  } else if (c < 82) {
    if (a.d[2] >= 4 && a.d[2] % 2 == 0 && a.d[3] % 2 == 0) maxpool(r, x, 2, 2, 0);
    else maxpool(r, x, 3, 1, 1);
  } else if (c < 89) {
    /* channel shuffle: Reshape [0, 2, C/2, H, W] -> Transpose -> Reshape [0, C, H, W] */
    if (a.d[1] < 2 || a.d[1] % 2) return false;
    int64_t s5[5] = {0, 2, a.d[1] / 2, a.d[2], a.d[3]}, s4[4] = {0, a.d[1], a.d[2], a.d[3]};
    int64_t perm[5] = {0, 2, 1, 3, 4};
    const char *i1[2] = {a.name, ints(r, 5, s5)}, *o1 = nm(r, "r");
    node(r, "Reshape", 2, i1, 1, &o1);
    const char *i2[1] = {o1}, *o2 = nm(r, "t");
    pn_node_set_ints(r->g, node(r, "Transpose", 1, i2, 1, &o2), "perm", 5, perm);
    const char *i3[2] = {o2, ints(r, 4, s4)}, *o3 = nm(r, "r");
    node(r, "Reshape", 2, i3, 1, &o3);
    r->v[x].uses++;
    add_v(r, o3, 4, a.d);
  } else if (c < 94) {
    if (a.d[2] != a.d[3]) return false;
    int64_t perm[4] = {0, 1, 3, 2};
    const char *in[1] = {a.name}, *o = nm(r, "t");
    pn_node_set_ints(r->g, node(r, "Transpose", 1, in, 1, &o), "perm", 4, perm);
    r->v[x].uses++;
    add_v(r, o, 4, a.d);
  } else {
    int64_t cd[1] = {a.d[1]};
    const char *in[5] = {a.name, weight(r, 1, cd, 0.1), weight(r, 1, cd, 0.1), weight(r, 1, cd, 0.1), NULL};
    const char *var = nm(r, "var");
    struct pn_tensor *t = pn_graph_new_init(r->g, var, PN_DT_FLOAT, 1, cd);
    for (int64_t i = 0; i < cd[0]; i++) ((float *)t->data)[i] = 0.5f + (float)pn_prg_double(r->prg);
    in[4] = var;
    const char *o = nm(r, "bn");
    node(r, "BatchNormalization", 5, in, 1, &o);
    r->v[x].uses++;
    add_v(r, o, 4, a.d);
  }
  return true;
}

static void set_out(struct rgen *r, const struct rv *v) {
  struct pn_value *o = pn_graph_add_output(r->g, v->name, PN_DT_FLOAT, v->nd, v->d);
  assert_non_null(o);
  if (r->sym) {
    o->dims[0] = -1;
    o->dim_param[0] = "N";
  }
}

/* A random DAG model of about n_ops steps. */
static struct pn_graph *random_model(struct pn_prg *prg, int n_ops, bool sym) {
  struct rgen r = {.g = pn_graph_new(), .prg = prg, .sym = sym};
  assert_non_null(r.g);
  int64_t hw = rnd(&r, 2) ? 12 : 16, xd[4] = {1, rnd(&r, 2) ? 1 : 3, hw, hw};
  struct pn_value *in = pn_graph_add_input(r.g, "x", PN_DT_FLOAT, 4, xd);
  assert_non_null(in);
  if (sym) {
    in->dims[0] = -1;
    in->dim_param[0] = "N";
  }
  add_v(&r, "x", 4, xd);
  conv(&r, 0, 4, 3, 1, 1);
  for (int i = 0, t = 0; i < n_ops && t < 10 * n_ops; t++) i += step(&r);
  /* head: GlobalAveragePool -> Flatten -> MatMul -> Add -> Softmax on the last 4-D value */
  int x = pick(&r, false);
  struct rv a = r.v[x];
  r.v[x].uses++;
  const char *i1[1] = {a.name}, *o1 = nm(&r, "gap");
  node(&r, "GlobalAveragePool", 1, i1, 1, &o1);
  const char *i2[1] = {o1}, *o2 = nm(&r, "flat");
  pn_node_set_int(r.g, node(&r, "Flatten", 1, i2, 1, &o2), "axis", 1);
  int64_t wd[2] = {a.d[1], 10}, bd[1] = {10};
  const char *i3[2] = {o2, weight(&r, 2, wd, 0.3)}, *o3 = nm(&r, "mm");
  node(&r, "MatMul", 2, i3, 1, &o3);
  const char *i4[2] = {o3, weight(&r, 1, bd, 0.1)}, *o4 = nm(&r, "logit");
  node(&r, "Add", 2, i4, 1, &o4);
  const char *i5[1] = {o4}, *o5 = "probs";
  pn_node_set_int(r.g, node(&r, "Softmax", 1, i5, 1, &o5), "axis", -1);
  int64_t od[2] = {1, 10};
  struct rv out = {.name = "probs", .nd = 2, .d = {1, 10}};
  (void)od;
  set_out(&r, &out);
  /* values nothing reads are outputs too */
  for (int i = 1; i < r.n; i++)
    if (!r.v[i].uses) set_out(&r, &r.v[i]);
  struct pn_ctx ctx = {0};
  if (pn_graph_validate(&ctx, r.g)) fail_msg("random model invalid: %s", pn_errmsg(&ctx));
  return r.g;
}

/* The inception-style model of issue 17: stem, two blocks of 1x1 / 1x1->3x3 / 1x1->5x5 /
** maxpool->1x1 branches joined by Concat, then Flatten -> MatMul -> Add -> Softmax. */
static struct pn_graph *inception_model(struct pn_prg *prg) {
  struct rgen r = {.g = pn_graph_new(), .prg = prg, .sym = true};
  int64_t xd[4] = {1, 3, 16, 16};
  struct pn_value *in = pn_graph_add_input(r.g, "x", PN_DT_FLOAT, 4, xd);
  in->dims[0] = -1;
  in->dim_param[0] = "N";
  add_v(&r, "x", 4, xd);
  int x = unary(&r, conv(&r, 0, 8, 3, 1, 1), "Relu");
  x = maxpool(&r, x, 2, 2, 0);
  for (int b = 0; b < 2; b++) {
    int br[4];
    br[0] = unary(&r, conv(&r, x, 4, 1, 0, 1), "Relu");
    br[1] = unary(&r, conv(&r, unary(&r, conv(&r, x, 4, 1, 0, 1), "Relu"), 6, 3, 1, 1), "Relu");
    br[2] = unary(&r, conv(&r, unary(&r, conv(&r, x, 2, 1, 0, 1), "Relu"), 4, 5, 2, 1), "Relu");
    br[3] = unary(&r, conv(&r, maxpool(&r, x, 3, 1, 1), 4, 1, 0, 1), "Relu");
    x = concat(&r, br, 4);
  }
  struct rv a = r.v[x];
  const char *i2[1] = {a.name}, *o2 = nm(&r, "flat");
  pn_node_set_int(r.g, node(&r, "Flatten", 1, i2, 1, &o2), "axis", 1);
  int64_t wd[2] = {a.d[1] * a.d[2] * a.d[3], 10}, bd[1] = {10};
  const char *i3[2] = {o2, weight(&r, 2, wd, 0.05)}, *o3 = nm(&r, "mm");
  node(&r, "MatMul", 2, i3, 1, &o3);
  const char *i4[2] = {o3, weight(&r, 1, bd, 0.1)}, *o4 = nm(&r, "logit");
  node(&r, "Add", 2, i4, 1, &o4);
  const char *i5[1] = {o4}, *o5 = "probs";
  pn_node_set_int(r.g, node(&r, "Softmax", 1, i5, 1, &o5), "axis", -1);
  struct rv out = {.name = "probs", .nd = 2, .d = {1, 10}};
  set_out(&r, &out);
  struct pn_ctx ctx = {0};
  if (pn_graph_validate(&ctx, r.g)) fail_msg("inception model invalid: %s", pn_errmsg(&ctx));
  return r.g;
}

/* ---- checks ---- */

struct tally {
  int parts, generated, copies;
  int copies_float;            /* copies in parts whose boundary is all float */
};

/* Sentinels for every part of g (prepared here), each checked; then split -> join end to end. */
static void proteus_on_files(const char *label, const struct pn_graph *model, int part_size, int k,
                             struct pn_prg *prg, struct tally *t, bool files) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = pn_graph_clone(model);
  assert_non_null(g);
  if (pn_obf_prepare(&ctx, g)) fail_msg("%s: prepare: %s", label, pn_errmsg(&ctx));
  struct pn_obf_ngram *gen = NULL;
  assert_int_equal(pn_obf_ngram_for_model(&ctx, g_corpus, g, &gen), PN_OK);
  struct pn_obf_partition p;
  if (pn_obf_partition(&ctx, g, part_size, 2, prg, &p)) fail_msg("%s: partition: %s", label, pn_errmsg(&ctx));
  int gen_m = 0, copies_m = 0;
  for (int q = 0; q < p.n_parts; q++) {
    struct pn_graph *pg = NULL, *s[8] = {0};
    assert_int_equal(pn_obf_extract(&ctx, g, &p, q, &pg), PN_OK);
    struct pn_obf_sentinel_report rep;
    if (pn_obf_sentinels(&ctx, pg, gen, k, prg, s, &rep)) fail_msg("%s part %d: %s", label, q, pn_errmsg(&ctx));
    assert_int_equal(rep.generated + rep.copies, k);
    assert_true(rep.copies == 0 || rep.why != NULL);
    if (rep.copies) printf("  %s part %d (%d nodes): %d copies (%s)\n", label, q, pg->n_nodes, rep.copies, rep.why);
    for (int i = 0; i < k; i++) {
      assert_non_null(s[i]);
      check_sentinel(pg, s[i], prg);
      pn_graph_free(s[i]);
    }
    gen_m += rep.generated;
    copies_m += rep.copies;
    bool float_io = true;
    for (int i = 0; i < pg->n_inputs; i++)
      float_io &= !pn_graph_is_runtime_input(pg, i) || pg->inputs[i].dtype == PN_DT_FLOAT;
    for (int i = 0; i < pg->n_outputs; i++) float_io &= pg->outputs[i].dtype == PN_DT_FLOAT;
    if (float_io) t->copies_float += rep.copies;
    pn_graph_free(pg);
  }
  t->parts += p.n_parts;
  t->generated += gen_m;
  t->copies += copies_m;
  if (!files) {
    printf("%s: %d nodes, %d parts of <= %d: %d sentinels generated, %d copies\n", label, g->n_nodes,
           p.n_parts, part_size, gen_m, copies_m);
    pn_obf_partition_free(&p);
    pn_obf_ngram_free(gen);
    pn_graph_free(g);
    return;
  }
  /* end to end through the files, as `privnn obf split` / `obf join` do */
  char mpath[300], bdir[300], spath[300], jpath[300];
  snprintf(mpath, sizeof mpath, "%s/m.onnx", g_tmp);
  snprintf(bdir, sizeof bdir, "%s/bundle", g_tmp);
  snprintf(spath, sizeof spath, "%s/secret.json", g_tmp);
  snprintf(jpath, sizeof jpath, "%s/joined.onnx", g_tmp);
  rm_rf(bdir);
  assert_int_equal(pn_onnx_save_file(&ctx, model, mpath), PN_OK);
  struct pn_obf_split_opts so = {.part_size = part_size, .tries = 2, .k = 1, .ngram = g_corpus};
  struct pn_obf_split_stats st;
  if (pn_obf_split(&ctx, mpath, bdir, spath, &so, prg, &st)) fail_msg("%s: split: %s", label, pn_errmsg(&ctx));
  assert_int_equal(st.n_files, st.n_parts * 2);
  struct pn_obf_join_stats js;
  if (pn_obf_join(&ctx, spath, bdir, jpath, &(struct pn_obf_join_opts){.tol = 1e-3}, prg, &js)) fail_msg("%s: join: %s", label, pn_errmsg(&ctx));
  assert_int_equal(js.n_parts, st.n_parts);
  printf("%s: %d nodes, %d parts of <= %d: %d sentinels generated, %d copies; split/join max abs err %.2g\n",
         label, g->n_nodes, p.n_parts, part_size, gen_m, copies_m, js.max_abs_err);
  pn_obf_partition_free(&p);
  pn_obf_ngram_free(gen);
  pn_graph_free(g);
}

static void proteus_on(const char *label, const struct pn_graph *model, int part_size, int k,
                       struct pn_prg *prg, struct tally *t) {
  proteus_on_files(label, model, part_size, k, prg, t, true);
}

/* Every zoo model (reduced input size, full depth and widths; BERT-family at hidden 64 with their
** layers): every part with a float boundary gets generated sentinels, none copies (the part reading
** DistilBERT/RoBERTa's int64 token ids gets copies, counted); split -> join verifies for the models
** under 12 M parameters (the larger ones write hundreds of MB per bundle; bench/proteus.sh joins
** them at full size). */
static void test_zoo_models(void **state) {
  (void)state;
#ifdef __SANITIZE_ADDRESS__
  printf("zoo models: skipped under AddressSanitizer (minutes of generation; the plain build runs them)\n");
  return;
#endif
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 5), PN_OK);
  for (const char *const *z = pn_zoo_names(); *z; z++) {
    struct pn_graph *g = NULL;
    if (pn_obf_zoo_model(&ctx, *z, true, &g)) fail_msg("%s: %s", *z, pn_errmsg(&ctx));
    int64_t params = 0;
    for (int i = 0; i < g->n_inits; i++) params += pn_tensor_numel(g->inits[i]);
    struct tally t = {0};
    proteus_on_files(*z, g, 16, 2, &prg, &t, params < 12000000);
    assert_int_equal(t.copies_float, 0); /* DistilBERT/RoBERTa's token ids: copies in that part only */
    pn_graph_free(g);
  }
  pn_prg_free(&prg);
}

static void test_random_dags(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed), PN_OK);
  struct tally t = {0};
  for (int m = 0; m < 10; m++) {
    struct pn_graph *g = random_model(&prg, 10 + (int)pn_prg_uniform(&prg, 25), m % 2 == 0);
    char label[64];
    snprintf(label, sizeof label, "random DAG %d", m);
    proteus_on(label, g, (int[]){4, 6, 8, 12}[pn_prg_uniform(&prg, 4)], 4, &prg, &t);
    pn_graph_free(g);
  }
  printf("random DAGs: %d parts, %d sentinels generated, %d copies (%.1f%%)\n", t.parts, t.generated, t.copies,
         100.0 * t.copies / (t.generated + t.copies));
  /* the weaker fallback stays the exception */
  assert_true(t.copies * 10 <= t.generated + t.copies);
  pn_prg_free(&prg);
}

static void test_inception(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 1), PN_OK);
  struct pn_graph *g = inception_model(&prg);
  int sizes[3] = {8, 16, 24};
  for (int i = 0; i < 3; i++) {
    struct tally t = {0};
    proteus_on("inception", g, sizes[i], 4, &prg, &t);
    assert_int_equal(t.copies, 0);
  }
  pn_graph_free(g);
  pn_prg_free(&prg);
}

/* privnn's own trained models: one input channel, 28x28, 5x5 convolutions without padding, a
** symbolic batch N. */
static void test_reference_models(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 2), PN_OK);
  const char *models[4] = {"lenet5", "cnn-s", "resnet-s", "vgg-s"};
  for (int i = 0; i < 4; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/models/%s.onnx", PN_SOURCE_DIR, models[i]);
    struct pn_graph *g = NULL;
    if (pn_onnx_load_file(&ctx, path, &g)) fail_msg("%s", pn_errmsg(&ctx));
    for (int ps = 4; ps <= 16; ps *= 2) {
      struct tally t = {0};
      proteus_on(models[i], g, ps, 4, &prg, &t);
      assert_int_equal(t.copies, 0);
    }
    pn_graph_free(g);
  }
  pn_prg_free(&prg);
}

/* A part whose boundary carries an integer tensor (a Shape result read by a Reshape in another
** part: read by two Reshapes, one of them lands in another part) gets no generated sentinels: it
** gets copies, counted and explained, and still joins. */
static void test_copies_fallback(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 4), PN_OK);
  struct rgen r = {.g = pn_graph_new(), .prg = &prg, .sym = true};
  int64_t xd[4] = {1, 4, 8, 8};
  struct pn_value *in = pn_graph_add_input(r.g, "x", PN_DT_FLOAT, 4, xd);
  in->dims[0] = -1;
  in->dim_param[0] = "N";
  add_v(&r, "x", 4, xd);
  int a = unary(&r, conv(&r, 0, 4, 3, 1, 1), "Relu");
  const char *i1[1] = {r.v[a].name}, *shp = "shp";
  node(&r, "Shape", 1, i1, 1, &shp);
  int b = unary(&r, unary(&r, conv(&r, a, 4, 3, 1, 1), "Relu"), "Sigmoid");
  const char *i2[2] = {r.v[b].name, shp}, *o2 = "y";
  node(&r, "Reshape", 2, i2, 1, &o2);
  int c = unary(&r, conv(&r, a, 4, 1, 0, 1), "Tanh");
  const char *i3[2] = {r.v[c].name, shp}, *o3 = "y2";
  node(&r, "Reshape", 2, i3, 1, &o3);
  struct rv out = {.name = "y", .nd = 4, .d = {1, 4, 8, 8}}, out2 = {.name = "y2", .nd = 4, .d = {1, 4, 8, 8}};
  set_out(&r, &out);
  set_out(&r, &out2);
  if (pn_graph_validate(&ctx, r.g)) fail_msg("%s", pn_errmsg(&ctx));
  struct pn_graph *g = pn_graph_clone(r.g);
  assert_int_equal(pn_obf_prepare(&ctx, g), PN_OK);
  int with_int = 0;
  for (int tries = 0; tries < 50 && !with_int; tries++) { /* until a partition cuts the int edge */
    struct pn_obf_partition p;
    assert_int_equal(pn_obf_partition(&ctx, g, 2, 1, &prg, &p), PN_OK);
    for (int q = 0; q < p.n_parts; q++) {
      struct pn_graph *pg = NULL, *s[3] = {0};
      assert_int_equal(pn_obf_extract(&ctx, g, &p, q, &pg), PN_OK);
      bool int_edge = false;
      for (int i = 0; i < pg->n_inputs; i++) int_edge |= pg->inputs[i].dtype != PN_DT_FLOAT;
      for (int i = 0; i < pg->n_outputs; i++) int_edge |= pg->outputs[i].dtype != PN_DT_FLOAT;
      struct pn_obf_sentinel_report rep;
      assert_int_equal(pn_obf_sentinels(&ctx, pg, g_corpus, 3, &prg, s, &rep), PN_OK);
      assert_int_equal(rep.generated + rep.copies, 3);
      if (int_edge) {
        with_int++;
        assert_int_equal(rep.copies, 3);
        assert_non_null(strstr(rep.why, "not float"));
      }
      for (int i = 0; i < 3; i++) {
        check_sentinel(pg, s[i], &prg);
        pn_graph_free(s[i]);
      }
      pn_graph_free(pg);
    }
    pn_obf_partition_free(&p);
  }
  assert_true(with_int > 0);
  struct tally t = {0};
  proteus_on("shape-passing model", r.g, 2, 3, &prg, &t);
  assert_int_equal(t.generated + t.copies, 3 * t.parts);
  pn_graph_free(g);
  pn_graph_free(r.g);
  pn_prg_free(&prg);
}

/* A split that fails after making its folder leaves no folder behind. */
static void test_failed_split_cleans_up(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 3), PN_OK);
  char mpath[300], bdir[300], spath[300];
  snprintf(mpath, sizeof mpath, "%s/models/lenet5.onnx", PN_SOURCE_DIR);
  snprintf(bdir, sizeof bdir, "%s/fail-bundle", g_tmp);
  snprintf(spath, sizeof spath, "%s/no-such-dir/secret.json", g_tmp);
  struct pn_obf_split_opts so = {.part_size = 6, .k = 2, .ngram = g_corpus};
  assert_int_not_equal(pn_obf_split(&ctx, mpath, bdir, spath, &so, &prg, NULL), PN_OK);
  struct stat st;
  assert_int_not_equal(stat(bdir, &st), 0);
  /* an existing empty folder is emptied again but kept */
  assert_int_equal(mkdir(bdir, 0700), 0);
  assert_int_not_equal(pn_obf_split(&ctx, mpath, bdir, spath, &so, &prg, NULL), PN_OK);
  assert_int_equal(stat(bdir, &st), 0);
  DIR *d = opendir(bdir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  assert_int_equal(n, 0);
  pn_prg_free(&prg);
}

int main(void) {
  g_seed = pn_test_seed("test_sentinel_dag", 1717);
  struct pn_ctx ctx = {0};
  if (pn_obf_ngram_from_zoo(&ctx, NULL, &g_corpus)) {
    fprintf(stderr, "corpus: %s\n", pn_errmsg(&ctx));
    return 1;
  }
  snprintf(g_tmp, sizeof g_tmp, "/tmp/pn_sentinel_dag_%d", (int)getpid());
  rm_rf(g_tmp);
  if (mkdir(g_tmp, 0700)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_models),
      cmocka_unit_test(test_inception),
      cmocka_unit_test(test_random_dags),
      cmocka_unit_test(test_zoo_models),
      cmocka_unit_test(test_copies_fallback),
      cmocka_unit_test(test_failed_split_cleans_up),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  rm_rf(g_tmp);
  pn_obf_ngram_free(g_corpus);
  return rc;
}
