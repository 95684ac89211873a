/* test_obf.c - Proteus: partition properties, join(split(m)) == m, anonymization, bundle checks.
**
** Properties are checked with the test's own naive code (part-level reachability by repeated
** relaxation, node counting), and reassembly against privnn's executor on random inputs. Seeds
** are printed; PN_TEST_SEED=S replays a run. */
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
#include <dirent.h>
#include <unistd.h>

#include <omp.h>

#include "graph/exec.h"
#include "graph/onnx.h"
#include "graph/passes.h"
#include "graph/zoo.h"
#include "obf/obf.h"
#include "obf/obf_ngram.h"
#include "util/util.h"
#include "pn_test.h"
#include "obf_fixture.h"

static uint64_t g_seed;

/* ---- hand-built graphs ---- */

static void add_init_normal(struct pn_graph *g, struct pn_prg *prg, const char *name, int nd,
                            const int64_t *dims, double mean, double sd, bool positive) {
  struct pn_tensor *t = pn_graph_new_init(g, name, PN_DT_FLOAT, nd, dims);
  assert_non_null(t);
  float *x = t->data;
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) {
    double v = mean + sd * pn_prg_normal(prg);
    x[i] = (float)(positive ? fabs(v) + 0.1 : v);
  }
}

static const char *node1(struct pn_graph *g, const char *op, const char *name, const char *a,
                         const char *b) {
  const char *in[2] = {a, b};
  const char *out[1] = {name};
  assert_non_null(pn_graph_add_node(g, op, name, b ? 2 : 1, in, 1, out));
  return name;
}

static const char *conv_bn_relu(struct pn_graph *g, struct pn_prg *prg, const char *p,
                                const char *x, int64_t cin, int64_t cout, bool relu) {
  char nm[8][64];
  const char *names[8];
  const char *suffix[8] = {".w", ".conv", ".s", ".b", ".m", ".v", ".bn", ".relu"};
  for (int i = 0; i < 8; i++) {
    snprintf(nm[i], sizeof nm[i], "%s%s", p, suffix[i]);
    names[i] = nm[i];
  }
  int64_t wd[4] = {cout, cin, 3, 3}, cd[1] = {cout};
  add_init_normal(g, prg, names[0], 4, wd, 0, 0.3, false);
  const char *in[3] = {x, names[0]};
  const char *o1[1] = {names[1]};
  struct pn_node *c = pn_graph_add_node(g, "Conv", names[1], 2, in, 1, o1);
  assert_non_null(c);
  int64_t pads[4] = {1, 1, 1, 1};
  assert_int_equal(pn_node_set_ints(g, c, "pads", 4, pads), PN_OK);
  add_init_normal(g, prg, names[2], 1, cd, 1, 0.2, false);
  add_init_normal(g, prg, names[3], 1, cd, 0, 0.2, false);
  add_init_normal(g, prg, names[4], 1, cd, 0, 0.2, false);
  add_init_normal(g, prg, names[5], 1, cd, 1, 0.2, true);
  const char *bin[5] = {names[1], names[2], names[3], names[4], names[5]};
  const char *o2[1] = {names[6]};
  assert_non_null(pn_graph_add_node(g, "BatchNormalization", names[6], 5, bin, 1, o2));
  if (!relu) return pn_arena_strdup(g->arena, names[6]);
  return pn_arena_strdup(g->arena, node1(g, "Relu", pn_arena_strdup(g->arena, names[7]), names[6], NULL));
}

/* A small ResNet-like CNN with a Constant, an Identity and a Dropout (removed by prepare). */
static struct pn_graph *tiny_cnn(struct pn_prg *prg, int blocks) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t xd[4] = {1, 3, 8, 8};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
  const char *h = conv_bn_relu(g, prg, "stem", "x", 3, 4, true);
  h = node1(g, "Identity", "stem.id", h, NULL);
  for (int b = 0; b < blocks; b++) {
    char p[32];
    snprintf(p, sizeof p, "b%d.c1", b);
    const char *y = conv_bn_relu(g, prg, p, h, 4, 4, true);
    snprintf(p, sizeof p, "b%d.c2", b);
    y = conv_bn_relu(g, prg, p, y, 4, 4, false);
    snprintf(p, sizeof p, "b%d.add", b);
    y = node1(g, "Add", pn_arena_strdup(g->arena, p), y, h);
    snprintf(p, sizeof p, "b%d.relu", b);
    h = node1(g, "Relu", pn_arena_strdup(g->arena, p), y, NULL);
  }
  h = node1(g, "GlobalAveragePool", "gap", h, NULL);
  /* a Constant node holding the Flatten->Mul scale */
  struct pn_tensor *c = pn_tensor_new(PN_DT_FLOAT, 0, NULL);
  *(float *)c->data = 0.5f;
  const char *co[1] = {"half"};
  struct pn_node *cn = pn_graph_add_node(g, "Constant", "half", 0, NULL, 1, co);
  assert_int_equal(pn_node_set_tensor(g, cn, "value", c), PN_OK);
  pn_tensor_free(c);
  h = node1(g, "Flatten", "flat", h, NULL);
  h = node1(g, "Mul", "scaled", h, "half");
  h = node1(g, "Dropout", "drop", h, NULL);
  int64_t wd[2] = {5, 4}, bd[1] = {5};
  add_init_normal(g, prg, "fc.w", 2, wd, 0, 0.5, false);
  add_init_normal(g, prg, "fc.b", 1, bd, 0, 0.5, false);
  const char *gin[3] = {h, "fc.w", "fc.b"}, *gout[1] = {"logits"};
  struct pn_node *gm = pn_graph_add_node(g, "Gemm", "fc", 3, gin, 1, gout);
  assert_int_equal(pn_node_set_int(g, gm, "transB", 1), PN_OK);
  int64_t od[2] = {1, 5};
  assert_non_null(pn_graph_add_output(g, "logits", PN_DT_FLOAT, 2, od));
  return g;
}

/* A transformer-like MLP stack with decomposed LayerNorm and GELU chains. */
static struct pn_graph *tiny_mlp(struct pn_prg *prg, int layers) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t xd[2] = {4, 8}, wd[2] = {8, 8}, bd[1] = {8}, sd[1] = {1};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 2, xd));
  struct pn_tensor *t;
  const float consts[5] = {2.0f, 1e-5f, 1.41421356f, 1.0f, 0.5f};
  const char *cn[5] = {"two", "eps", "sqrt2", "one", "half"};
  for (int i = 0; i < 5; i++) {
    t = pn_graph_new_init(g, cn[i], PN_DT_FLOAT, 1, sd);
    *(float *)t->data = consts[i];
  }
  int64_t axes[1] = {-1}; /* opset 17: ReduceMean takes axes as an attribute */
  const char *h = "x";
  for (int l = 0; l < layers; l++) {
    char p[64], q[64];
#define N(fmt) (snprintf(p, sizeof p, "l%d." fmt, l), pn_arena_strdup(g->arena, p))
    const char *w1 = N("w1"), *b1 = N("b1"), *w2 = N("w2"), *b2 = N("b2"), *gm = N("gamma"),
               *bt = N("beta");
    add_init_normal(g, prg, w1, 2, wd, 0, 0.3, false);
    add_init_normal(g, prg, b1, 1, bd, 0, 0.1, false);
    add_init_normal(g, prg, w2, 2, wd, 0, 0.3, false);
    add_init_normal(g, prg, b2, 1, bd, 0, 0.1, false);
    add_init_normal(g, prg, gm, 1, bd, 1, 0.1, false);
    add_init_normal(g, prg, bt, 1, bd, 0, 0.1, false);
    const char *y = node1(g, "MatMul", N("mm1"), h, w1);
    y = node1(g, "Add", N("add1"), y, b1);
    /* LayerNorm: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add */
    const char *m = node1(g, "ReduceMean", N("ln.mean"), y, NULL);
    assert_int_equal(pn_node_set_ints(g, g->nodes[g->n_nodes - 1], "axes", 1, axes), PN_OK);
    const char *d = node1(g, "Sub", N("ln.sub"), y, m);
    const char *pw = node1(g, "Pow", N("ln.pow"), d, "two");
    const char *v = node1(g, "ReduceMean", N("ln.var"), pw, NULL);
    assert_int_equal(pn_node_set_ints(g, g->nodes[g->n_nodes - 1], "axes", 1, axes), PN_OK);
    v = node1(g, "Add", N("ln.addeps"), v, "eps");
    v = node1(g, "Sqrt", N("ln.sqrt"), v, NULL);
    y = node1(g, "Div", N("ln.div"), d, v);
    y = node1(g, "Mul", N("ln.mul"), y, gm);
    y = node1(g, "Add", N("ln.add"), y, bt);
    /* GELU: Div, Erf, Add, Mul, Mul */
    const char *e = node1(g, "Div", N("gelu.div"), y, "sqrt2");
    e = node1(g, "Erf", N("gelu.erf"), e, NULL);
    e = node1(g, "Add", N("gelu.add"), e, "one");
    e = node1(g, "Mul", N("gelu.mul"), y, e);
    e = node1(g, "Mul", N("gelu.half"), e, "half");
    e = node1(g, "MatMul", N("mm2"), e, w2);
    e = node1(g, "Add", N("add2"), e, b2);
    h = node1(g, "Add", N("res"), e, h);
    (void)q;
#undef N
  }
  int64_t od[2] = {4, 8};
  assert_non_null(pn_graph_add_output(g, h, PN_DT_FLOAT, 2, od));
  return g;
}

/* ---- naive checks ---- */

static int producer(const struct pn_graph *g, const char *v) {
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_out; k++)
      if (!strcmp(g->nodes[i]->out[k], v)) return i;
  return -1;
}

/* Every node in one part, and the part graph acyclic (transitive closure by relaxation). */
static void check_partition(const struct pn_graph *g, const struct pn_obf_partition *p) {
  assert_int_equal(p->n_nodes, g->n_nodes);
  int np = p->n_parts, total = 0;
  assert_true(np >= 1);
  for (int k = 0; k < np; k++) {
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += p->part_of[i] == k;
    assert_true(c > 0);
    total += c;
  }
  assert_int_equal(total, g->n_nodes);
  char *reach = calloc((size_t)np * np, 1);
  for (int v = 0; v < g->n_nodes; v++)
    for (int k = 0; k < g->nodes[v]->n_in; k++) {
      int u = producer(g, g->nodes[v]->in[k]);
      if (u >= 0 && p->part_of[u] != p->part_of[v]) reach[p->part_of[u] * np + p->part_of[v]] = 1;
    }
  for (int m = 0; m < np; m++)
    for (int a = 0; a < np; a++)
      if (reach[a * np + m])
        for (int b = 0; b < np; b++)
          if (reach[m * np + b]) reach[a * np + b] = 1;
  for (int a = 0; a < np; a++) assert_int_equal(reach[a * np + a], 0);
  free(reach);
}

/* No cut through Conv->Relu, MatMul->Add (MatMul output read once), LN/GELU chain internals. */
static void check_patterns(const struct pn_graph *g, const struct pn_obf_partition *p) {
  for (int v = 0; v < g->n_nodes; v++) {
    const struct pn_node *n = g->nodes[v];
    int u = n->n_in ? producer(g, n->in[0]) : -1;
    if (u < 0) continue;
    const char *a = g->nodes[u]->op_type, *b = n->op_type;
    int readers = 0;
    for (int i = 0; i < g->n_nodes; i++)
      for (int k = 0; k < g->nodes[i]->n_in; k++) readers += !strcmp(g->nodes[i]->in[k], g->nodes[u]->out[0]);
    bool fuse = readers == 1 && ((!strcmp(a, "Conv") && !strcmp(b, "Relu")) ||
                                 (!strcmp(a, "MatMul") && !strcmp(b, "Add")) ||
                                 (!strcmp(a, "Erf") && !strcmp(b, "Add")) ||
                                 (!strcmp(a, "Sqrt") && !strcmp(b, "Div")) ||
                                 (!strcmp(a, "Pow") && !strcmp(b, "ReduceMean")));
    if (fuse && p->part_of[u] != p->part_of[v])
      fail_msg("pattern %s -> %s ('%s' -> '%s') is cut", a, b, pn_node_label(g->nodes[u]),
               pn_node_label(n));
  }
}

/* ---- in-memory split/anonymize/join ---- */

/* Split g (prepared copy), anonymize every part, join with the maps; compare with g. With
** restore false the decoy weights stay in (the result must then differ). */
static double roundtrip(struct pn_graph *orig, int part_size, bool restore, int *n_parts) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed), PN_OK);
  struct pn_graph *g = pn_graph_clone(orig);
  assert_non_null(g);
  int rc = pn_obf_prepare(&ctx, g);
  if (rc) fail_msg("prepare: %s", pn_errmsg(&ctx));
  for (int i = 0; i < g->n_nodes; i++) {
    assert_string_not_equal(g->nodes[i]->op_type, "BatchNormalization");
    assert_string_not_equal(g->nodes[i]->op_type, "Identity");
    assert_string_not_equal(g->nodes[i]->op_type, "Constant");
    /* no node of constant inputs is left for an optimizer to fold inside a part: what it derived
    ** from the decoy weights (a Transformer's position embeddings gathered at constant ids) join
    ** could not restore */
    const struct pn_node *n = g->nodes[i];
    int consts = 0;
    for (int j = 0; j < n->n_in; j++) consts += n->in[j] && n->in[j][0] && pn_graph_find_init(g, n->in[j]);
    if (n->n_in > 0 && consts == n->n_in)
      fail_msg("prepare left '%s' (%s), all of whose inputs are initializers", pn_node_label(n), n->op_type);
  }
  struct pn_obf_partition p;
  rc = pn_obf_partition(&ctx, g, part_size, 4, &prg, &p);
  if (rc) fail_msg("partition: %s", pn_errmsg(&ctx));
  check_partition(g, &p);
  check_patterns(g, &p);
  assert_int_equal(pn_obf_partition_check(&ctx, g, &p), PN_OK);
  *n_parts = p.n_parts;
  struct pn_obf_join_part *jp = calloc((size_t)p.n_parts, sizeof *jp);
  struct pn_graph **anon = calloc((size_t)p.n_parts, sizeof *anon);
  int64_t opset = pn_graph_opset(g, "");
  for (int k = 0; k < p.n_parts; k++) {
    struct pn_graph *part = NULL;
    rc = pn_obf_extract(&ctx, g, &p, k, &part);
    if (rc) fail_msg("extract %d: %s", k, pn_errmsg(&ctx));
    assert_int_equal(part->n_nodes, p.size[k]);
    /* every part is a valid model by itself and runs */
    rc = pn_graph_validate(&ctx, part);
    if (rc) fail_msg("part %d invalid: %s", k, pn_errmsg(&ctx));
    rc = pn_obf_anonymize(&ctx, part, opset, &prg, &anon[k], &jp[k].io, &jp[k].weights);
    if (rc) fail_msg("anonymize %d: %s", k, pn_errmsg(&ctx));
    struct pn_graph *an = anon[k];
    assert_int_equal(an->n_nodes, part->n_nodes);
    assert_int_equal(an->n_opsets, 1);
    assert_int_equal(an->n_meta, 0);
    assert_null(an->doc);
    for (int i = 0; i < an->n_nodes; i++) {
      assert_null(pn_graph_find_init(g, an->nodes[i]->name));
      assert_int_equal(producer(g, an->nodes[i]->name), -1);
      for (int j = 0; j < an->nodes[i]->n_out; j++) assert_int_equal(producer(g, an->nodes[i]->out[j]), -1);
    }
    /* decoy weights: same shape, other values, similar mean */
    for (int w = 0; w < jp[k].weights.n; w++) {
      const struct pn_tensor *real = pn_graph_find_init(part, jp[k].weights.to[w]);
      const struct pn_tensor *fake = pn_graph_find_init(an, jp[k].weights.from[w]);
      assert_non_null(real);
      assert_non_null(fake);
      assert_true(pn_tensor_same_shape(real, fake));
      int64_t n = pn_tensor_numel(real), same = 0;
      for (int64_t i = 0; i < n; i++) same += ((float *)real->data)[i] == ((float *)fake->data)[i];
      assert_true(same < n);
    }
    /* an optimizer may leave nodes unnamed (ONNX Runtime did): part 0's nodes lose their names */
    if (k == 0)
      for (int i = 0; i < an->n_nodes; i++) an->nodes[i]->name = "";
    jp[k].g = an;
    jp[k].n_in = an->n_inputs;
    jp[k].label = "part";
    if (!restore) jp[k].weights.n = 0;
    pn_graph_free(part);
  }
  struct pn_graph *joined = NULL;
  rc = pn_obf_join_parts(&ctx, g, jp, p.n_parts, &joined);
  double err = INFINITY;
  if (!restore) {
    /* without the weight map the decoy floats are refused */
    assert_int_equal(rc, PN_ERR_UNSUPPORTED);
    assert_non_null(strstr(pn_errmsg(&ctx), "decoy"));
  } else {
    if (rc) fail_msg("join: %s", pn_errmsg(&ctx));
    assert_int_equal(joined->n_nodes, g->n_nodes);
    /* the real weights are the model's own, shared and not copied (join's memory): every float
    ** weight of the joined model is a weight of g, same data; the parts may go first (ASan) */
    int shared = 0;
    for (int k = 0; k < p.n_parts; k++) {
      pn_graph_free(anon[k]);
      anon[k] = NULL;
    }
    for (int i = 0; i < joined->n_inits; i++) {
      const struct pn_tensor *t = joined->inits[i];
      if (t->dtype != PN_DT_FLOAT || pn_tensor_numel(t) <= 1) continue;
      bool found = false;
      for (int j = 0; j < g->n_inits && !found; j++) found = g->inits[j]->data == t->data;
      if (!found) fail_msg("joined weight '%s' is a copy, not the model's", t->name);
      shared++;
    }
    assert_true(shared > 0);
    rc = pn_graph_validate(&ctx, joined);
    if (rc) fail_msg("joined model invalid: %s", pn_errmsg(&ctx));
    double ref = 0;
    rc = pn_obf_compare(&ctx, orig, joined, &prg, 2, &err, &ref);
    if (rc) fail_msg("compare: %s", pn_errmsg(&ctx));
    err /= ref > 1 ? ref : 1; /* relative to the output magnitude */
  }
  pn_graph_free(joined);
  for (int k = 0; k < p.n_parts; k++) pn_graph_free(anon[k]);
  free(anon);
  free(jp);
  pn_obf_partition_free(&p);
  pn_graph_free(g);
  pn_prg_free(&prg);
  return err;
}

static void test_roundtrip_tiny(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 1), PN_OK);
  struct pn_graph *cnn = tiny_cnn(&prg, 3), *mlp = tiny_mlp(&prg, 3);
  int rc = pn_graph_validate(&ctx, cnn);
  if (rc) fail_msg("tiny_cnn: %s", pn_errmsg(&ctx));
  rc = pn_graph_validate(&ctx, mlp);
  if (rc) fail_msg("tiny_mlp: %s", pn_errmsg(&ctx));
  int np = 0;
  for (int ps = 3; ps <= 12; ps += 3) {
    double e = roundtrip(cnn, ps, true, &np);
    printf("tiny_cnn P=%d: %d parts, max rel err %.3g\n", ps, np, e);
    assert_true(np > 1);
    assert_true(e < 1e-4);
    e = roundtrip(mlp, ps, true, &np);
    printf("tiny_mlp P=%d: %d parts, max rel err %.3g\n", ps, np, e);
    assert_true(np > 1);
    assert_true(e < 1e-4);
  }
  roundtrip(cnn, 6, false, &np);
  pn_graph_free(cnn);
  pn_graph_free(mlp);
  pn_prg_free(&prg);
}

static struct pn_graph *zoo(const char *name) { return obf_zoo(name, 7); }

static void test_roundtrip_zoo(void **state) {
  const char *names[] = {"resnet18", "resnet50", "vgg11", "mobilenetv2", "bert", "distilbert", "roberta", "gpt2", "xlm"};
  for (int i = 0; i < 9; i++) {
    struct pn_graph *g = zoo(names[i]);
    int np = 0;
    double e = roundtrip(g, 16, true, &np);
    printf("%s: %d nodes, %d parts, max rel err %.3g\n", names[i], g->n_nodes, np, e);
    assert_true(np > 1);
    assert_true(e < 1e-4);
    pn_graph_free(g);
  }
}

/* ---- passes ---- */

static void test_passes(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 2), PN_OK);
  struct pn_graph *cnn = tiny_cnn(&prg, 2), *mlp = tiny_mlp(&prg, 2);
  struct pn_graph *models[2] = {cnn, mlp};
  for (int m = 0; m < 2; m++) {
    struct pn_graph *g = pn_graph_clone(models[m]);
    int counts[6];
    assert_int_equal(pn_graph_infer_shapes(&ctx, g), PN_OK);
    assert_int_equal(pn_optimize_graph(&ctx, g, counts), PN_OK);
    int bn = 0, mm = 0, id = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      bn += !strcmp(g->nodes[i]->op_type, "BatchNormalization");
      mm += !strcmp(g->nodes[i]->op_type, "MatMul");
      id += !strcmp(g->nodes[i]->op_type, "Identity") || !strcmp(g->nodes[i]->op_type, "Dropout");
    }
    assert_int_equal(bn, 0);
    assert_int_equal(id, 0);
    if (m == 0) {
      assert_int_equal(counts[1], 1 + 2 * 2); /* stem + two per block */
      assert_int_equal(counts[0], 1);
    } else {
      assert_int_equal(mm, 0);              /* both MatMul+Add pairs per layer became Gemm */
      assert_int_equal(counts[3], 2 * 2);
    }
    double err = INFINITY;
    assert_int_equal(pn_obf_compare(&ctx, models[m], g, &prg, 2, &err, NULL), PN_OK);
    printf("optimize model %d: %d nodes -> %d, err %.3g\n", m, models[m]->n_nodes, g->n_nodes, err);
    assert_true(err < 1e-4);
    pn_graph_free(g);
  }
  pn_graph_free(cnn);
  pn_graph_free(mlp);
  pn_prg_free(&prg);
}

/* ---- bundle on disk ---- */

static char tmpdir[256];

static void rm_rf(const char *dir) { obf_rm_rf(dir); }

static int list_onnx(const char *dir, char names[][64], int max) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".onnx") && n < max) snprintf(names[n++], 64, "%.63s", e->d_name);
  closedir(d);
  return n;
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

static bool same_bytes(const char *p, const char *q) {
  struct pn_ctx ctx = {0};
  uint8_t *a, *b;
  size_t na, nb;
  assert_int_equal(pn_read_file(&ctx, p, 0, &a, &na), PN_OK);
  assert_int_equal(pn_read_file(&ctx, q, 0, &b, &nb), PN_OK);
  bool same = na == nb && !memcmp(a, b, na);
  free(a);
  free(b);
  return same;
}

static bool file_contains(const char *path, const char *s) {
  struct pn_ctx ctx = {0};
  uint8_t *buf;
  size_t n;
  assert_int_equal(pn_read_file(&ctx, path, 0, &buf, &n), PN_OK);
  bool found = memmem(buf, n, s, strlen(s)) != NULL;
  free(buf);
  return found;
}

static void test_bundle(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 3), PN_OK);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/pn_obf_test_%d", (int)getpid());
  rm_rf(tmpdir);
  assert_int_equal(mkdir(tmpdir, 0700), 0);
  char model[300], b1[300], b2[300], s1[300], s2[300], out[300], p[700];
  snprintf(model, sizeof model, "%s/model.onnx", tmpdir);
  snprintf(b1, sizeof b1, "%s/bundle1", tmpdir);
  snprintf(b2, sizeof b2, "%s/bundle2", tmpdir);
  snprintf(s1, sizeof s1, "%s/secret1.json", tmpdir);
  snprintf(s2, sizeof s2, "%s/secret2.json", tmpdir);
  snprintf(out, sizeof out, "%s/joined.onnx", tmpdir);
  struct pn_graph *g = zoo("resnet18");
  assert_int_equal(pn_onnx_save_file(&ctx, g, model), PN_OK);
  struct pn_obf_split_opts so = {.part_size = 16, .tries = 4};
  struct pn_obf_split_stats st;
  int rc = pn_obf_split(&ctx, model, b1, s1, &so, &prg, &st);
  if (rc) fail_msg("split: %s", pn_errmsg(&ctx));
  assert_int_equal(pn_obf_split(&ctx, model, b2, s2, &so, &prg, NULL), PN_OK);
  printf("split resnet18: %d nodes, %d parts, spread %.2f, %.3f s\n", st.n_nodes, st.n_parts,
         st.spread, st.seconds);
  struct stat sst;
  assert_int_equal(stat(s1, &sst), 0);
  assert_int_equal(sst.st_mode & 0777, 0600);
  char files[256][64];
  int nf = list_onnx(b1, files, 256);
  assert_int_equal(nf, st.n_files);
  /* no real name or weight leaves the owner */
  for (int i = 0; i < nf; i++) {
    snprintf(p, sizeof p, "%s/%.63s", b1, files[i]);
    assert_false(file_contains(p, "layer1"));
    assert_false(file_contains(p, "conv1"));
    assert_false(file_contains(p, "privnn"));
    const struct pn_tensor *w = pn_graph_find_init(g, "layer1.0.conv1.weight");
    if (w) {
      uint8_t *buf;
      size_t n;
      assert_int_equal(pn_read_file(&ctx, p, 0, &buf, &n), PN_OK);
      assert_null(memmem(buf, n, w->data, 64));
      free(buf);
    }
  }
  /* the untouched bundle joins back */
  struct pn_obf_join_stats js;
  rc = pn_obf_join(&ctx, s1, b1, out, &(struct pn_obf_join_opts){.tol = 1e-3}, &prg, &js);
  if (rc) fail_msg("join: %s", pn_errmsg(&ctx));
  printf("join: %d parts, max abs err %.3g, %.3f s\n", js.n_parts, js.max_abs_err, js.seconds);
  assert_true(js.max_abs_err < 1e-3);
  /* the joined model equals the original on fresh inputs (independent of join's own check) */
  struct pn_graph *jg = NULL;
  assert_int_equal(pn_onnx_load_file(&ctx, out, &jg), PN_OK);
  double err = INFINITY;
  assert_int_equal(pn_obf_compare(&ctx, g, jg, &prg, 1, &err, NULL), PN_OK);
  assert_true(err < 1e-3);
  pn_graph_free(jg);
  /* a model whose weights are ONNX external data (as PyTorch and privnn write models above 2 GiB) splits
  ** and joins back the same */
  {
    char em[320], eb[320], es[320], eo[320];
    snprintf(em, sizeof em, "%s/ext-model.onnx", tmpdir);
    snprintf(eb, sizeof eb, "%s/ext-bundle", tmpdir);
    snprintf(es, sizeof es, "%s/ext-secret.json", tmpdir);
    snprintf(eo, sizeof eo, "%s/ext-joined.onnx", tmpdir);
    assert_int_equal(pn_onnx_save_file_external(&ctx, g, em, 1), PN_OK);
    rc = pn_obf_split(&ctx, em, eb, es, &so, &prg, NULL);
    if (rc) fail_msg("split of a model with external data: %s", pn_errmsg(&ctx));
    rc = pn_obf_join(&ctx, es, eb, eo, &(struct pn_obf_join_opts){.tol = 1e-3}, &prg, &js);
    if (rc) fail_msg("join of a model with external data: %s", pn_errmsg(&ctx));
    assert_true(js.max_abs_err < 1e-3);
    assert_int_equal(pn_onnx_load_file(&ctx, eo, &jg), PN_OK);
    err = INFINITY;
    assert_int_equal(pn_obf_compare(&ctx, g, jg, &prg, 1, &err, NULL), PN_OK);
    assert_true(err < 1e-3);
    pn_graph_free(jg);
  }
  /* a secret from another split */
  rc = pn_obf_join(&ctx, s2, b1, out, &(struct pn_obf_join_opts){.tol = 1e-3}, &prg, NULL);
  assert_int_equal(rc, PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "missing"));
  /* a boundary shape changed: rewrite one part with a different input dim */
  snprintf(p, sizeof p, "%s/%.63s", b1, files[0]);
  struct pn_graph *pg = NULL;
  assert_int_equal(pn_onnx_load_file(&ctx, p, &pg), PN_OK);
  uint8_t *saved;
  size_t saved_n;
  assert_int_equal(pn_read_file(&ctx, p, 0, &saved, &saved_n), PN_OK);
  assert_true(pg->n_inputs > 0 && pg->inputs[0].ndim > 0);
  pg->inputs[0].dims[pg->inputs[0].ndim - 1] += 1;
  assert_int_equal(pn_onnx_save_file(&ctx, pg, p), PN_OK);
  rc = pn_obf_join(&ctx, s1, b1, out, &(struct pn_obf_join_opts){.tol = 1e-3}, &prg, NULL);
  assert_int_equal(rc, PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "boundary"));
  pn_graph_free(pg);
  /* an altered part: same interface, one Relu turned into a Sigmoid (or an Add into a Sub) */
  assert_int_equal(pn_write_file_atomic(&ctx, p, saved, saved_n, 0644), PN_OK);
  bool altered = false;
  for (int i = 0; i < nf && !altered; i++) {
    snprintf(p, sizeof p, "%s/%.63s", b1, files[i]);
    assert_int_equal(pn_onnx_load_file(&ctx, p, &pg), PN_OK);
    for (int k = 0; k < pg->n_nodes && !altered; k++)
      if (!strcmp(pg->nodes[k]->op_type, "Relu")) {
        pg->nodes[k]->op_type = "Sigmoid";
        altered = true;
      }
    if (altered) assert_int_equal(pn_onnx_save_file(&ctx, pg, p), PN_OK);
    pn_graph_free(pg);
  }
  assert_true(altered);
  rc = pn_obf_join(&ctx, s1, b1, out, &(struct pn_obf_join_opts){.tol = 1e-3}, &prg, NULL);
  assert_int_equal(rc, PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "altered"));
  /* a missing part */
  assert_int_equal(unlink(p), 0);
  rc = pn_obf_join(&ctx, s1, b1, out, &(struct pn_obf_join_opts){.tol = 1e-3}, &prg, NULL);
  assert_int_equal(rc, PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "missing"));
  /* another model than the one split */
  snprintf(p, sizeof p, "%s/other.onnx", tmpdir);
  struct pn_graph *other = zoo("vgg11");
  assert_int_equal(pn_onnx_save_file(&ctx, other, p), PN_OK);
  rc = pn_obf_join(&ctx, s2, b2, out, &(struct pn_obf_join_opts){.model_path = p, .tol = 1e-3}, &prg, NULL);
  assert_int_equal(rc, PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "SHA-256"));
  /* a non-empty bundle folder is refused */
  assert_int_equal(pn_obf_split(&ctx, model, b2, s2, &so, &prg, NULL), PN_ERR_INVALID);
  /* with sentinels: N (K+1) files, every file loads and validates, join takes the real ones */
  char b3[300], s3[300];
  snprintf(b3, sizeof b3, "%s/bundle3", tmpdir);
  snprintf(s3, sizeof s3, "%s/secret3.json", tmpdir);
  struct pn_obf_ngram *ng = NULL;
  assert_int_equal(pn_obf_ngram_from_zoo(&ctx, NULL, &ng), PN_OK);
  struct pn_obf_split_opts sk = {.part_size = 16, .tries = 2, .k = 2, .ngram = ng};
  rc = pn_obf_split(&ctx, model, b3, s3, &sk, &prg, &st);
  if (rc) fail_msg("split k=2: %s", pn_errmsg(&ctx));
  nf = list_onnx(b3, files, 256);
  assert_int_equal(nf, st.n_parts * 3);
  assert_int_equal(st.n_files, nf);
  /* every sentinel is a copy, a twin of its real part, or of a structure counted once in its part */
  printf("split resnet18 k=2: %d distinct sentinel structures, %d twins, %d copies of %d sentinels\n", st.distinct,
         st.twins, st.copies, 2 * st.n_parts);
  assert_true(st.twins >= 0 && st.distinct >= 1);
  assert_true(st.copies + st.twins + st.distinct <= 2 * st.n_parts);
  for (int i = 0; i < nf; i++) {
    snprintf(p, sizeof p, "%s/%.63s", b3, files[i]);
    struct pn_graph *fg = NULL;
    assert_int_equal(pn_onnx_load_file(&ctx, p, &fg), PN_OK);
    rc = pn_graph_validate(&ctx, fg);
    if (rc) fail_msg("%s: %s", files[i], pn_errmsg(&ctx));
    pn_graph_free(fg);
  }
  cJSON *sec = NULL;
  assert_int_equal(pn_json_read(&ctx, s3, 0, &sec), PN_OK);
  int reals = 0;
  const cJSON *fe;
  cJSON_ArrayForEach(fe, cJSON_GetObjectItem(sec, "files")) reals += cJSON_IsTrue(cJSON_GetObjectItem(fe, "real"));
  assert_int_equal(reals, st.n_parts);
  cJSON_Delete(sec);
  rc = pn_obf_join(&ctx, s3, b3, out, &(struct pn_obf_join_opts){.tol = 1e-4}, &prg, &js);
  if (rc) fail_msg("join k=2: %s", pn_errmsg(&ctx));
  /* the bundle depends on the seed alone: split writes a part's files on every thread while the
  ** next part's sentinels are generated; on one thread and on two the files (names and bytes) and the
  ** secret are the same */
  {
    char bd[2][320], sd[2][320], nm[2][256][64];
    int n[2];
    int threads0 = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
      snprintf(bd[t], sizeof bd[t], "%s/bundle-t%d", tmpdir, t + 1);
      snprintf(sd[t], sizeof sd[t], "%s/secret-t%d.json", tmpdir, t + 1);
      struct pn_prg sp;
      assert_int_equal(pn_prg_init_u64(&ctx, &sp, g_seed + 7), PN_OK);
      omp_set_num_threads(t + 1);
      rc = pn_obf_split(&ctx, model, bd[t], sd[t], &sk, &sp, NULL);
      omp_set_num_threads(threads0);
      pn_prg_free(&sp);
      if (rc) fail_msg("split k=2 on %d thread(s): %s", t + 1, pn_errmsg(&ctx));
      n[t] = list_onnx(bd[t], nm[t], 256);
      qsort(nm[t], (size_t)n[t], sizeof nm[t][0], cmp_name);
    }
    assert_int_equal(n[0], n[1]);
    assert_true(n[0] > 3);
    for (int i = 0; i < n[0]; i++) {
      assert_string_equal(nm[0][i], nm[1][i]);
      char p0[400], p1[400];
      snprintf(p0, sizeof p0, "%s/%.63s", bd[0], nm[0][i]);
      snprintf(p1, sizeof p1, "%s/%.63s", bd[1], nm[1][i]);
      assert_true(same_bytes(p0, p1));
    }
    assert_true(same_bytes(sd[0], sd[1]));
  }
  pn_obf_ngram_free(ng);
  free(saved);
  pn_graph_free(other);
  pn_graph_free(g);
  pn_prg_free(&prg);
  rm_rf(tmpdir);
}

/* Split writes decoy weights as the file is written, a chunk at a time (pn_obf_anonymize_deferred +
** pn_onnx_save_file_gen_nosync): the file is byte for byte the one pn_obf_anonymize's in-memory decoys
** give, also for a weight of several chunks whose last chunk ends inside a block of normal draws;
** nothing generated stays in memory (the deferred graph's weights have no data). */
static void test_streamed_decoys(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 5), PN_OK);
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  /* W: 600 x 701 floats = 1.6 MiB, 420,600 values (not a multiple of the 512-value draw block) */
  int64_t xd[2] = {2, 600}, wd[2] = {600, 701}, bd[1] = {701}, od[2] = {2, 701};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 2, xd));
  add_init_normal(g, &prg, "w", 2, wd, 0.01, 0.05, false);
  add_init_normal(g, &prg, "b", 1, bd, 0.5, 0.1, true);
  const char *y = node1(g, "MatMul", "mm", "x", "w");
  y = node1(g, "Add", "add", y, "b");
  assert_non_null(pn_graph_add_output(g, y, PN_DT_FLOAT, 2, od));
  assert_int_equal(pn_graph_validate(&ctx, g), PN_OK);
  char dir[64], f1[96], f2[96];
  snprintf(dir, sizeof dir, "/tmp/pn_obf_stream_%d", (int)getpid());
  rm_rf(dir);
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(f1, sizeof f1, "%s/streamed.onnx", dir);
  snprintf(f2, sizeof f2, "%s/memory.onnx", dir);
  uint8_t seed[PN_SEED_BYTES];
  pn_prg_bytes(&prg, seed, sizeof seed);
  struct pn_prg p1, p2;
  assert_int_equal(pn_prg_init(&ctx, &p1, seed), PN_OK);
  assert_int_equal(pn_prg_init(&ctx, &p2, seed), PN_OK);
  struct pn_graph *a1 = NULL, *a2 = NULL;
  struct pn_obf_names io1, w1, io2, w2;
  struct pn_obf_decoys dec;
  assert_int_equal(pn_obf_anonymize_deferred(&ctx, g, NULL, 17, &p1, &a1, &io1, &w1, &dec), PN_OK);
  assert_int_equal(dec.n, 2);
  for (int i = 0; i < dec.n; i++) assert_null(dec.d[i].t->data);
  int rc = pn_onnx_save_file_gen_nosync(&ctx, a1, f1, dec.gen, dec.n);
  if (rc) fail_msg("streamed save: %s", pn_errmsg(&ctx));
  /* the same graph without its generators cannot be saved: no data is made up */
  assert_int_equal(pn_onnx_save_file_nosync(&ctx, a1, f2), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "no data"));
  pn_obf_decoys_free(&dec);
  assert_int_equal(pn_obf_anonymize(&ctx, g, 17, &p2, &a2, &io2, &w2), PN_OK);
  assert_int_equal(pn_onnx_save_file(&ctx, a2, f2), PN_OK);
  assert_true(same_bytes(f1, f2));
  /* and the decoys have the weights' statistics (W's sd 0.05, b non-negative) */
  const struct pn_tensor *dw = pn_graph_find_init(a2, w2.from[0]), *db = pn_graph_find_init(a2, w2.from[1]);
  if (pn_tensor_numel(dw) < pn_tensor_numel(db)) {
    const struct pn_tensor *t = dw;
    dw = db;
    db = t;
  }
  double m, sd;
  bool nonneg;
  pn_obf_weight_stats(dw, &m, &sd, &nonneg);
  assert_true(fabs(m - 0.01) < 0.001 && fabs(sd - 0.05) < 0.001 && !nonneg);
  pn_obf_weight_stats(db, &m, &sd, &nonneg);
  assert_true(nonneg);
  pn_graph_free(a1);
  pn_graph_free(a2);
  pn_prg_free(&p1);
  pn_prg_free(&p2);
  pn_graph_free(g);
  pn_prg_free(&prg);
  rm_rf(dir);
}

/* A deferred sentinel weight's statistics (pn_obf_wspec_stats, from its distribution) against
** those of values drawn as the generator would draw them (mode 1 normal, 2 |normal|, 3 moved out of
** (-0.5, 0.5), 4 |normal| at least 1e-3). */
/* A part reading token ids gets copies of its structure (generated sentinels are float-in/float-out):
** split's copies (pn_obf_sentinels_deferred) share the part's weights instead of copying them (xlm's
** token-embedding part made 20 copies of its table: 8.3 GB peak), pn_obf_sentinels' own are deep
** copies; both kinds have the part's values and are freed independently (ASan). */
static void test_sentinel_copies_share(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 9), PN_OK);
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  assert_int_equal(pn_graph_set_opset(g, "", 17), PN_OK);
  const int64_t idd[2] = {1, 4}, td[2] = {32, 8}, od[3] = {1, 4, 8};
  assert_non_null(pn_graph_add_input(g, "ids", PN_DT_INT64, 2, idd));
  add_init_normal(g, &prg, "table", 2, td, 0, 0.05, false);
  const char *in[2] = {"table", "ids"}, *out[1] = {"emb"};
  assert_non_null(pn_graph_add_node(g, "Gather", "gather", 2, in, 1, out));
  node1(g, "Relu", "y", "emb", NULL);
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 3, od));
  struct pn_obf_ngram *ng = NULL;
  assert_int_equal(pn_obf_ngram_from_zoo(&ctx, NULL, &ng), PN_OK);
  enum { K = 3 };
  struct pn_graph *dc[K] = {0}, *cc[K] = {0};
  struct pn_obf_wspec specs[K];
  struct pn_obf_sentinel_report rep;
  if (pn_obf_sentinels_deferred(&ctx, g, ng, K, &prg, dc, &rep, specs)) fail_msg("%s", pn_errmsg(&ctx));
  assert_int_equal(rep.generated, 0);
  assert_int_equal(rep.copies, K);
  if (pn_obf_sentinels(&ctx, g, ng, K, &prg, cc, &rep)) fail_msg("%s", pn_errmsg(&ctx));
  assert_int_equal(rep.copies, K);
  const struct pn_tensor *t = g->inits[0];
  for (int i = 0; i < K; i++) {
    assert_int_equal(dc[i]->n_inits, 1);
    assert_int_equal(cc[i]->n_inits, 1);
    assert_ptr_equal(dc[i]->inits[0]->data, t->data); /* shared */
    assert_ptr_not_equal(cc[i]->inits[0]->data, t->data); /* a copy */
    assert_memory_equal(cc[i]->inits[0]->data, t->data, pn_tensor_nbytes(t));
    assert_int_equal(pn_graph_validate(&ctx, dc[i]), PN_OK);
    pn_obf_wspec_free(&specs[i]);
  }
  for (int i = 0; i < K; i++) { /* the deep copies outlive the part; the shared ones go first */
    pn_graph_free(dc[i]);
  }
  pn_graph_free(g);
  for (int i = 0; i < K; i++) pn_graph_free(cc[i]);
  pn_obf_ngram_free(ng);
  pn_prg_free(&prg);
}

static void test_wspec_stats(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 6), PN_OK);
  const struct { float mean, sd; int mode; } cases[] = {
      {0, 1, 1}, {0.02f, 0.3f, 1}, {1.0f, 0.02f, 1}, {0.3f, 0.2f, 2}, {-0.1f, 0.05f, 2},
      {0.1f, 0.4f, 3}, {-0.2f, 1.5f, 3}, {0.9f, 0.3f, 3}, {0.5f, 0.5f, 4}, {0.25f, 0, 3}};
  enum { N = 400000 };
  float *x = malloc(N * sizeof *x);
  assert_non_null(x);
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    float mu = cases[c].mean, s = cases[c].sd;
    int mode = cases[c].mode;
    pn_prg_normal_f32(&prg, x, N, mu, s);
    for (int j = 0; j < N; j++) {
      if (mode == 2) x[j] = fabsf(x[j]);
      if (mode == 3 && fabsf(x[j]) < 0.5f) x[j] = x[j] < 0 ? -0.5f + x[j] : 0.5f + x[j];
      if (mode == 4) x[j] = fmaxf(fabsf(x[j]), 1e-3f);
    }
    struct pn_tensor t = {.dtype = PN_DT_FLOAT, .ndim = 1, .dims = {N}, .data = x};
    double sm, ssd, am, asd;
    bool sneg, aneg;
    pn_obf_weight_stats(&t, &sm, &ssd, &sneg);
    unsigned char md = (unsigned char)mode;
    int init = 0;
    struct pn_obf_wspec sp = {.n = 1, .init = &init, .mean = &mu, .sd = &s, .mode = &md};
    pn_obf_wspec_stats(&sp, 0, N, &am, &asd, &aneg);
    printf("mode %d normal(%g, %g): drawn mean %.5f sd %.5f %s, from the distribution %.5f %.5f %s\n", mode,
           mu, s, sm, ssd, sneg ? "non-negative" : "signed", am, asd, aneg ? "non-negative" : "signed");
    assert_true(fabs(sm - am) < 5 * ssd / sqrt(N) + 1e-6);
    assert_true(fabs(ssd - asd) < 0.01 * asd + 1e-6);
    assert_int_equal(sneg, aneg);
  }
  free(x);
  pn_prg_free(&prg);
}

int main(void) {
  g_seed = pn_test_seed("test_obf", 20240417);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_tiny),
      cmocka_unit_test(test_passes),
      cmocka_unit_test(test_roundtrip_zoo),
      cmocka_unit_test(test_bundle),
      cmocka_unit_test(test_streamed_decoys),
      cmocka_unit_test(test_wspec_stats),
      cmocka_unit_test(test_sentinel_copies_share),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
