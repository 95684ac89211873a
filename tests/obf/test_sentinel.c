/* test_sentinel.c - Proteus sentinels and n-gram statistics: every sentinel is a valid ONNX model
** with the real part's boundary (names, dtypes, shapes), survives an ONNX round trip, runs in the
** executor producing the declared shapes; n-gram counts match a hand count; the corpus file
** round-trips. PN_TEST_SEED=S replays a run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/exec.h"
#include "graph/onnx.h"
#include "graph/zoo.h"
#include "obf/obf.h"
#include "obf/obf_ngram.h"
#include "util/util.h"
#include "obf/sentinel_check.h"
#include "obf/sentinel_impl.h"
#include "pn_test.h"

static uint64_t g_seed;
static struct pn_obf_ngram *g_ngram;

/* Mean over the matrix weights (Conv, MatMul, Gemm input 1) of sd * sqrt(fan-in): trained and
** initialised layers keep it near a constant whatever their size, so a sentinel whose weights do
** not follow it is told apart by that alone. Returns the number of tensors seen. */
static int he_scale(const struct pn_graph *g, double *sum) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *nd = g->nodes[i];
    bool conv = !strcmp(nd->op_type, "Conv"), mm = !strcmp(nd->op_type, "MatMul"), gemm = !strcmp(nd->op_type, "Gemm");
    if ((!conv && !mm && !gemm) || nd->n_in < 2) continue;
    const struct pn_tensor *t = pn_graph_find_init(g, nd->in[1]);
    if (!t || t->dtype != PN_DT_FLOAT || t->ndim < 2) continue;
    int64_t m = pn_tensor_numel(t);
    const float *x = t->data;
    double mu = 0, q = 0;
    for (int64_t j = 0; j < m; j++) mu += x[j];
    mu /= (double)m;
    for (int64_t j = 0; j < m; j++) q += (x[j] - mu) * (x[j] - mu);
    const struct pn_attr *tb = pn_node_attr(nd, "transB");
    double fin = conv ? (double)(m / t->dims[0]) : mm ? (double)t->dims[t->ndim - 2]
                                                      : (double)(tb && tb->i ? t->dims[1] : t->dims[0]);
    *sum += sqrt(q / (double)(m - 1)) * sqrt(fin);
    n++;
  }
  return n;
}

/* Whether s has the real part's operator sequence, node for node. */
static bool same_op_sequence(const struct pn_graph *part, const struct pn_graph *s) {
  bool same = s->n_nodes == part->n_nodes;
  for (int j = 0; same && j < part->n_nodes; j++) same = !strcmp(s->nodes[j]->op_type, part->nodes[j]->op_type);
  return same;
}

static void sentinels_for(const char *model, int max_parts, int k) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed), PN_OK);
  struct pn_graph *g = NULL;
  int rc = pn_obf_zoo_model(&ctx, model, true, &g);
  if (rc) fail_msg("%s: %s", model, pn_errmsg(&ctx));
  struct pn_obf_partition p;
  assert_int_equal(pn_obf_partition(&ctx, g, 16, 2, &prg, &p), PN_OK);
  int tested = 0, differs = 0;
  for (int part = 0; part < p.n_parts && tested < max_parts; part++, tested++) {
    struct pn_graph *pg = NULL, *s[8] = {0};
    assert_int_equal(pn_obf_extract(&ctx, g, &p, part, &pg), PN_OK);
    rc = pn_obf_sentinels(&ctx, pg, g_ngram, k, &prg, s, NULL);
    if (rc) fail_msg("%s part %d: %s", model, part, pn_errmsg(&ctx));
    double fr[3], he_real = 0, he_sent = 0;
    pn_obf_graph_features(pg, fr);
    int n_real = he_scale(pg, &he_real), n_sent = 0;
    for (int i = 0; i < k; i++) {
      n_sent += he_scale(s[i], &he_sent);
      check_sentinel(pg, s[i], &prg);
      /* not a copy of the real part: the op sequence differs */
      differs += !same_op_sequence(pg, s[i]);
      double fs[3];
      pn_obf_graph_features(s[i], fs);
      if (i == 0)
        printf("%s part %d: real n=%.0f deg=%.2f diam=%.0f | sentinel n=%.0f deg=%.2f diam=%.0f\n",
               model, part, fr[0], fr[1], fr[2], fs[0], fs[1], fs[2]);
      pn_graph_free(s[i]);
    }
    if (n_real > 0 && n_sent > 0) {
      /* the sentinels' matrices are as wide as the real ones for their fan-in (within 10%; copying the spread of
      ** a matrix with another fan-in misses by 15-25% on mobilenetv2 and bert) */
      double ratio = (he_sent / n_sent) / (he_real / n_real);
      printf("%s part %d: weight sd*sqrt(fan-in) sentinels / real = %.3f\n", model, part, ratio);
      assert_true(ratio > 0.9 && ratio < 1.1);
    }
    pn_graph_free(pg);
  }
  assert_true(differs > 0);
  pn_obf_partition_free(&p);
  pn_graph_free(g);
  pn_prg_free(&prg);
}

static void test_sentinels_cnn(void **state) {
  sentinels_for("resnet18", 3, 4);
  sentinels_for("mobilenetv2", 3, 4);
}

/* at 8 per part the sentinels come from two siblings, 4 each (sentinel.c, SIBLINGS_MIN_K) */
static void test_sentinels_bert(void **state) {
  sentinels_for("bert", 3, 4);
  sentinels_for("bert", 2, 8);
}

/* Of the sentinels of a part, at least PN_OBF_SENTINEL_DIFFER share (at least one) have other
** operators than the real part: on every part of resnet18 over 12 seeds and of mobilenetv2 over 6
** (small parts, where keeping every real operator is likeliest), at 4 sentinels per part. Before, all
** sentinels of the first three resnet18 parts repeated their real part's operators for 3 seeds
** in 30, and without the uniform-operator phase mobilenetv2's Flatten -> Gemm head part (seed 777)
** had no differing sentinel. */
static void test_sentinels_differ(void **state) {
  static const char *const models[2] = {"resnet18", "mobilenetv2"};
  int parts = 0, sentinels = 0, same = 0, need = (int)ceil(PN_OBF_SENTINEL_DIFFER * 4);
  if (need < 1) need = 1;
  for (int mi = 0; mi < 2; mi++) {
    struct pn_ctx ctx = {0};
    struct pn_graph *g = NULL;
    if (pn_obf_zoo_model(&ctx, models[mi], true, &g)) fail_msg("%s: %s", models[mi], pn_errmsg(&ctx));
    for (uint64_t seed = g_seed; seed < g_seed + (mi ? 6 : 12); seed++) {
      struct pn_prg prg;
      assert_int_equal(pn_prg_init_u64(&ctx, &prg, seed), PN_OK);
      struct pn_obf_partition p;
      assert_int_equal(pn_obf_partition(&ctx, g, 16, 2, &prg, &p), PN_OK);
      for (int part = 0; part < p.n_parts; part++) {
        struct pn_graph *pg = NULL, *s[4] = {0};
        assert_int_equal(pn_obf_extract(&ctx, g, &p, part, &pg), PN_OK);
        if (pn_obf_sentinels(&ctx, pg, g_ngram, 4, &prg, s, NULL)) fail_msg("%s: %s", models[mi], pn_errmsg(&ctx));
        int differ = 0;
        for (int i = 0; i < 4; i++) {
          differ += !same_op_sequence(pg, s[i]);
          pn_graph_free(s[i]);
          sentinels++;
        }
        if (differ < need) {
          char ops[256] = "";
          for (int j = 0, o = 0; j < pg->n_nodes && o < (int)sizeof ops - 1; j++)
            o += snprintf(ops + o, sizeof ops - (size_t)o, "%s%s", j ? " " : "", pg->nodes[j]->op_type);
          fail_msg("%s seed %llu part %d (%d nodes: %s): %d of 4 sentinels differ from the real operators (want %d)",
                   models[mi], (unsigned long long)seed, part, pg->n_nodes, ops, differ, need);
        }
        same += 4 - differ;
        parts++;
        pn_graph_free(pg);
      }
      pn_obf_partition_free(&p);
      pn_prg_free(&prg);
    }
    pn_graph_free(g);
  }
  printf("%d parts, %d sentinels, %d repeat their real part's operators\n", parts, sentinels, same);
}

/* Mean of a float tensor. */
static double tmean(const struct pn_tensor *t) {
  double m = 0;
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) m += ((const float *)t->data)[i];
  return m / (double)pn_tensor_numel(t);
}

/* DenseNet's BatchNormalizations after each Concat stay in the prepared model (nothing to fold
** into): the sentinels of a part with one carry BatchNormalizations too, with per-channel scale,
** bias, running mean and a positive running variance whose statistics are the real ones' (without
** them, "non-negative weights" and "|weight mean|" told real parts from sentinels at AUC 1). */
static void test_sentinels_batchnorm(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed), PN_OK);
  struct pn_graph *g = NULL;
  if (pn_obf_zoo_model(&ctx, "densenet121", true, &g)) fail_msg("densenet121: %s", pn_errmsg(&ctx));
  struct pn_obf_partition p;
  assert_int_equal(pn_obf_partition(&ctx, g, 16, 2, &prg, &p), PN_OK);
  int parts_bn = 0, sent_bn = 0, sentinels = 0;
  for (int part = 0; part < p.n_parts && parts_bn < 4; part++) {
    struct pn_graph *pg = NULL, *s[4] = {0};
    assert_int_equal(pn_obf_extract(&ctx, g, &p, part, &pg), PN_OK);
    /* the real normalizations' scale and variance means */
    double rscale = 0, rvar = 0;
    int rbn = 0;
    for (int v = 0; v < pg->n_nodes; v++)
      if (!strcmp(pg->nodes[v]->op_type, "BatchNormalization")) {
        rscale += tmean(pn_graph_find_init(pg, pg->nodes[v]->in[1]));
        rvar += tmean(pn_graph_find_init(pg, pg->nodes[v]->in[4]));
        rbn++;
      }
    if (!rbn) {
      pn_graph_free(pg);
      continue;
    }
    parts_bn++;
    rscale /= rbn;
    rvar /= rbn;
    if (pn_obf_sentinels(&ctx, pg, g_ngram, 4, &prg, s, NULL)) fail_msg("densenet121: %s", pn_errmsg(&ctx));
    for (int i = 0; i < 4; i++) {
      check_sentinel(pg, s[i], &prg);
      assert_int_equal(pn_graph_infer_shapes(&ctx, s[i]), PN_OK);
      int nbn = 0;
      for (int v = 0; v < s[i]->n_nodes; v++) {
        const struct pn_node *nd = s[i]->nodes[v];
        if (strcmp(nd->op_type, "BatchNormalization")) continue;
        nbn++;
        assert_int_equal(nd->n_in, 5);
        const struct pn_value *x = pn_graph_find_value(s[i], nd->in[0]);
        for (int q = 1; q < 5; q++) {
          const struct pn_tensor *t = pn_graph_find_init(s[i], nd->in[q]);
          assert_non_null(t);
          assert_int_equal(t->ndim, 1);
          assert_true(x && x->ndim == 4 && t->dims[0] == x->dims[1]); /* per channel */
        }
        double sc = tmean(pn_graph_find_init(s[i], nd->in[1])), va = tmean(pn_graph_find_init(s[i], nd->in[4]));
        assert_true(fabs(sc - rscale) < 0.1 && fabs(va - rvar) < 0.1);
      }
      sent_bn += nbn > 0;
      sentinels++;
      pn_graph_free(s[i]);
    }
    pn_graph_free(pg);
  }
  printf("densenet121: %d parts with BatchNormalization, %d of %d sentinels carry one\n", parts_bn, sent_bn,
         sentinels);
  assert_true(parts_bn > 0);
  assert_true(sent_bn * 2 >= sentinels); /* most, as most real parts of DenseNet have one */
  pn_obf_partition_free(&p);
  pn_graph_free(g);
  pn_prg_free(&prg);
}

/* Operator count of graph x (op_type), and Splits both of whose first two outputs some node reads. */
static long count_op(const struct pn_graph *x, const char *op, long *split_read2) {
  long c = 0;
  for (int v = 0; v < x->n_nodes; v++) {
    const struct pn_node *nd = x->nodes[v];
    if (strcmp(nd->op_type, op)) continue;
    c++;
    if (!split_read2 || nd->n_out < 2) continue;
    int read = 0;
    for (int o = 0; o < 2; o++) {
      bool r = false;
      for (int w = 0; w < x->n_nodes && !r; w++)
        for (int k = 0; k < x->nodes[w]->n_in && !r; k++) r = !strcmp(x->nodes[w]->in[k], nd->out[o]);
      for (int k = 0; k < x->n_outputs && !r; k++) r = !strcmp(x->outputs[k].name, nd->out[o]);
      read += r;
    }
    *split_read2 += read == 2;
  }
  return c;
}

/* For the parts of two partitions of zoo model g (seeds g_seed, g_seed + 1) that want() accepts
** (all when NULL): k sentinels each, handed to visit() with the part, the report and the stream
** (generated sentinels first; copies of the real structure, for a part reading token ids, last),
** then freed. */
typedef bool (*part_want)(const struct pn_graph *part, void *arg);
typedef void (*part_visit)(const struct pn_graph *part, struct pn_graph *const *s, int k,
                           const struct pn_obf_sentinel_report *rep, struct pn_prg *prg, void *arg);
/* for_parts with the sentinels generated from corpus m (split's: pn_obf_ngram_for_model). */
static void for_parts_m(const char *model, const struct pn_graph *g, const struct pn_obf_ngram *m, int k,
                        part_want want, part_visit visit, void *arg) {
  struct pn_ctx ctx = {0};
  struct pn_graph *s[32] = {0};
  assert_true(k <= 32);
  for (uint64_t seed = g_seed; seed < g_seed + 2; seed++) {
    struct pn_prg prg;
    assert_int_equal(pn_prg_init_u64(&ctx, &prg, seed), PN_OK);
    struct pn_obf_partition p;
    assert_int_equal(pn_obf_partition(&ctx, g, 16, 2, &prg, &p), PN_OK);
    for (int part = 0; part < p.n_parts; part++) {
      struct pn_graph *pg = NULL;
      assert_int_equal(pn_obf_extract(&ctx, g, &p, part, &pg), PN_OK);
      if (want && !want(pg, arg)) {
        pn_graph_free(pg);
        continue;
      }
      struct pn_obf_sentinel_report rep = {0};
      if (pn_obf_sentinels(&ctx, pg, m, k, &prg, s, &rep)) fail_msg("%s: %s", model, pn_errmsg(&ctx));
      visit(pg, s, k, &rep, &prg, arg);
      for (int i = 0; i < k; i++) {
        pn_graph_free(s[i]);
        s[i] = NULL;
      }
      pn_graph_free(pg);
    }
    pn_obf_partition_free(&p);
    pn_prg_free(&prg);
  }
}

static void for_parts(const char *model, const struct pn_graph *g, int k, part_want want, part_visit visit,
                      void *arg) {
  for_parts_m(model, g, g_ngram, k, want, visit, arg);
}

struct mix {
  const char *const *ops;
  int n_ops;
  long real[4], sent[4], split2;
};

static bool mix_want(const struct pn_graph *pg, void *arg) {
  const struct mix *x = arg;
  long has = 0;
  for (int o = 0; o < x->n_ops; o++) has += count_op(pg, x->ops[o], NULL);
  return has > 0;
}

/* copies of the real part's structure come last and do not count */
static void mix_visit(const struct pn_graph *pg, struct pn_graph *const *s, int k,
                      const struct pn_obf_sentinel_report *rep, struct pn_prg *prg, void *arg) {
  struct mix *x = arg;
  (void)k;
  for (int o = 0; o < x->n_ops; o++) x->real[o] += (long)rep->generated * count_op(pg, x->ops[o], NULL);
  for (int i = 0; i < rep->generated; i++) {
    check_sentinel(pg, s[i], prg);
    for (int o = 0; o < x->n_ops; o++)
      x->sent[o] += count_op(s[i], x->ops[o], !strcmp(x->ops[o], "Split") ? &x->split2 : NULL);
  }
}

/* Sentinels carry their real part's operators: here, ops of model's parts that have one, summed
** over the generated sentinels (copies of the real structure do not count) against the real
** parts' count times the sentinels made, must reach min_share. Every sentinel is checked (valid,
** round trip, runs). */
static void mix_for(const char *model, const char *const *ops, int n_ops, double min_share) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  if (pn_obf_zoo_model(&ctx, model, true, &g)) fail_msg("%s: %s", model, pn_errmsg(&ctx));
  struct mix x = {.ops = ops, .n_ops = n_ops};
  assert_true(n_ops <= 4);
  for_parts(model, g, 6, mix_want, mix_visit, &x);
  long *real = x.real, *sent = x.sent, split2 = x.split2;
  for (int o = 0; o < n_ops; o++) {
    printf("%s: %s in sentinels %ld of the real parts' %ld (%.1f%%)\n", model, ops[o], sent[o], real[o],
           real[o] ? 100.0 * (double)sent[o] / (double)real[o] : 0.0);
  }
  for (int o = 0; o < n_ops; o++) {
    assert_true(real[o] > 0);
    assert_true((double)sent[o] >= min_share * (double)real[o]);
  }
  if (!strcmp(ops[0], "Split")) {
    printf("%s: %ld sentinel Splits with two outputs read\n", model, split2);
    assert_true(split2 > 0);
  }
  pn_graph_free(g);
}

/* A Split (ShuffleNet's channel split, GPT-2's q/k/v split) is regenerated, its outputs read by
** different nodes: the generator built one output per node, so every sentinel lost its Splits
** (0 of 156 in ShuffleNet's sentinels here before; 147 of 156 after, GPT-2 138 of 138). */
static void test_sentinels_split(void **state) {
  static const char *const ops[] = {"Split"};
  mix_for("shufflenet_v2", ops, 1, 0.5);
  mix_for("gpt2", ops, 1, 0.5);
}

/* Nodes of x reading one value twice (x * x); MatMuls of two values (neither a constant), and of
** those the ones whose first operand is a runtime input of x and whose second is not. */
static void two_reads(const struct pn_graph *x, long *self, long *mm2, long *mm_in_first) {
  for (int v = 0; v < x->n_nodes; v++) {
    const struct pn_node *nd = x->nodes[v];
    if (nd->n_in != 2 || !nd->in[0][0] || !nd->in[1][0]) continue;
    bool c0 = pn_graph_find_init(x, nd->in[0]) != NULL, c1 = pn_graph_find_init(x, nd->in[1]) != NULL;
    *self += !strcmp(nd->in[0], nd->in[1]) && !c0;
    if (strcmp(nd->op_type, "MatMul") || c0 || c1) continue;
    (*mm2)++;
    bool in0 = false, in1 = false;
    for (int i = 0; i < x->n_inputs; i++) {
      if (!pn_graph_is_runtime_input(x, i)) continue;
      in0 |= !strcmp(x->inputs[i].name, nd->in[0]);
      in1 |= !strcmp(x->inputs[i].name, nd->in[1]);
    }
    *mm_in_first += in0 && !in1;
  }
}

struct two_reads_count {
  bool matmul;      /* count MatMuls of two values in parts with one reading a boundary input first,
                    ** else nodes reading one value twice */
  long real, sent;  /* the real parts' (once per generated sentinel), the sentinels' */
};

static bool two_reads_want(const struct pn_graph *pg, void *arg) {
  const struct two_reads_count *a = arg;
  long self = 0, mm2 = 0, mm_in_first = 0;
  two_reads(pg, &self, &mm2, &mm_in_first);
  return a->matmul ? mm_in_first > 0 : self > 0;
}

static void two_reads_visit(const struct pn_graph *pg, struct pn_graph *const *s, int k,
                            const struct pn_obf_sentinel_report *rep, struct pn_prg *prg, void *arg) {
  struct two_reads_count *a = arg;
  long self = 0, mm2 = 0, mm_in_first = 0;
  (void)k;
  two_reads(pg, &self, &mm2, &mm_in_first);
  a->real += (long)rep->generated * (a->matmul ? mm2 : self);
  for (int i = 0; i < rep->generated; i++) {
    self = mm2 = mm_in_first = 0;
    check_sentinel(pg, s[i], prg);
    two_reads(s[i], &self, &mm2, &mm_in_first);
    a->sent += a->matmul ? mm2 : self;
  }
}

/* Two-value reads survive in the sentinels. A real node reading one value twice (GPT-2's GELU cubes
** its input: x * x, then * x): the generator's topology keeps a node's distinct predecessors, so it
** came out reading one value and a new weight, and every sentinel of the part had one weight tensor
** more and one edge less than its real part (gpt2 with heads of 8, K = 20, seed 1: the real part
** the highest average degree of its 21 files in 13 of 27 parts). A MatMul of two values whose
** first operand is the part's input (attention probabilities x values where a part begins): the
** topology lists the node's predecessor before the input it reads, the reversed product does not
** fit unless heads are as wide as the sequence is long, and only candidates that had turned it into
** a MatMul by a weight survived. Summed over the parts of two partitions that have such a node,
** K = 6: the sentinels' count at least half the real parts' (PN_TEST_SEED 777: 0 of 144 before, and
** 6 of 30 without the operand swap; now 142 of 144 and 24 of 30). */
static void test_sentinels_two_reads(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  /* heads of 8 over 16 tokens: the reversed product of probabilities and values does not fit (with
  ** the attack's heads of 16 over 16 it does, and goes unnoticed) */
  struct pn_zoo_opts o = {.seed = 1, .hidden = 96, .heads = 12, .seq = 16};
  if (pn_zoo_build(&ctx, "gpt2", &o, &g) || pn_obf_prepare(&ctx, g)) fail_msg("gpt2: %s", pn_errmsg(&ctx));
  for (int matmul = 0; matmul < 2; matmul++) {
    struct two_reads_count a = {.matmul = matmul};
    for_parts("gpt2", g, 6, two_reads_want, two_reads_visit, &a);
    printf("gpt2: %s: %ld in the sentinels, %ld in their real parts (x sentinels)\n",
           matmul ? "MatMuls of two values, parts with one reading its input first" : "nodes reading one value twice",
           a.sent, a.real);
    assert_true(a.real > 0);
    assert_true(2 * a.sent >= a.real);
  }
  pn_graph_free(g);
}

/* The sentinels are written in their real part's dialect. An exporter writes every node of an operator
** the same way (PyTorch: a Conv's dilations and group, a Gemm's alpha and beta, a BatchNormalization's
** momentum, a Reshape's kept leading dims as 0); generated nodes that left them out made the real part
** the only file of its group written one way (densenet121, shufflenet_v2, mobilenet_v3: every part).
** Counted over the generated sentinels of three zoo models and two of models/ (whose exporter leaves
** defaults out; K = 6, two partitions): nodes lacking an attribute every real node of their operator in
** the part carries, nodes carrying one no real node of their operator does, and Reshapes keeping their
** input's first dim but spelling it out where every real Reshape of the part writes a 0. Before the
** generator took the real part's dialect (checked, PN_TEST_SEED 777): densenet121 1652 of 4414 nodes
** lacking, shufflenet_v2 575 of 2080 and 273 of 384 Reshapes, bert 205 of 4766 and 429 of 576; with the
** missing ones taken but defaults still written, vgg-s 22 of 228 nodes and resnet-s 12 of 199 carrying
** one (MaxPool pads of zero, Flatten's axis); now none. */
struct dialect_count {
  long nodes, missing, extra, order, reshapes, spelled;
  const struct pn_graph *model; /* for operators (and Reshapes) the part lacks */
};

/* Whether the attributes node a shares with node b come in b's order. */
static bool same_order(const struct pn_node *a, const struct pn_node *b) {
  int at = -1;
  for (int i = 0; i < a->n_attr; i++) {
    int j = 0;
    while (j < b->n_attr && strcmp(b->attr[j].name, a->attr[i].name)) j++;
    if (j == b->n_attr) continue;
    if (j < at) return false;
    at = j;
  }
  return true;
}

static const struct pn_tensor *reshape_const(const struct pn_graph *g, const struct pn_node *nd) {
  const struct pn_tensor *t = nd->n_in > 1 ? pn_graph_find_init(g, nd->in[1]) : NULL;
  return t && t->dtype == PN_DT_INT64 && pn_tensor_numel(t) > 0 ? t : NULL;
}

static bool has_op(const struct pn_graph *g, const char *op) {
  for (int v = 0; g && v < g->n_nodes; v++)
    if (!strcmp(g->nodes[v]->op_type, op)) return true;
  return false;
}

/* Whether every Reshape of g with a constant shape starts it with 0; *n: how many there are. */
static bool reshapes_zero(const struct pn_graph *g, int *n) {
  bool zero = true;
  *n = 0;
  for (int v = 0; g && v < g->n_nodes; v++) {
    const struct pn_tensor *t = strcmp(g->nodes[v]->op_type, "Reshape") ? NULL : reshape_const(g, g->nodes[v]);
    if (!t) continue;
    (*n)++;
    zero &= ((const int64_t *)t->data)[0] == 0;
  }
  return zero;
}

/* Each generated node against the real nodes of its operator: the part's, or the model's where the
** part has none (what an exporter writes for the operator anywhere in the model). */
static void dialect_visit(const struct pn_graph *pg, struct pn_graph *const *s, int k,
                          const struct pn_obf_sentinel_report *rep, struct pn_prg *prg, void *arg) {
  struct dialect_count *c = arg;
  struct pn_ctx ctx = {0};
  (void)k;
  (void)prg;
  int nres;
  bool zero = reshapes_zero(pg, &nres); /* every real Reshape writes its first dim as 0 */
  if (!nres) zero = reshapes_zero(c->model, &nres);
  for (int i = 0; i < rep->generated; i++) {
    assert_int_equal(pn_graph_infer_shapes(&ctx, s[i]), PN_OK);
    for (int v = 0; v < s[i]->n_nodes; v++) {
      const struct pn_node *nd = s[i]->nodes[v];
      const struct pn_graph *ref = has_op(pg, nd->op_type) ? pg : has_op(c->model, nd->op_type) ? c->model : NULL;
      int nreal = 0;
      bool miss = false;
      for (int a = 0; ref && a < ref->n_nodes; a++) {
        const struct pn_node *r = ref->nodes[a];
        if (strcmp(r->op_type, nd->op_type)) continue;
        nreal++;
        for (int q = 0; q < r->n_attr && !miss; q++) {
          bool all = true; /* carried by every real node of the operator */
          for (int b = 0; b < ref->n_nodes && all; b++)
            if (!strcmp(ref->nodes[b]->op_type, nd->op_type)) all = pn_node_attr(ref->nodes[b], r->attr[q].name) != NULL;
          if (all && !pn_node_attr(nd, r->attr[q].name)) {
            miss = true;
            printf("# %s without %s%s\n", nd->op_type, r->attr[q].name, ref == pg ? "" : " (the model's)");
          }
        }
      }
      /* and the other way: an attribute no real node of the operator writes */
      bool more = false;
      for (int q = 0; q < nd->n_attr && nreal && !more; q++) {
        bool any = false;
        for (int b = 0; b < ref->n_nodes && !any; b++)
          any = !strcmp(ref->nodes[b]->op_type, nd->op_type) && pn_node_attr(ref->nodes[b], nd->attr[q].name);
        if (!any) {
          more = true;
          printf("# %s with %s%s\n", nd->op_type, nd->attr[q].name, ref == pg ? "" : " (the model's)");
        }
      }
      /* in the order every real node of the operator writes them, when they agree on one */
      bool agree = nreal > 0, ordered = true;
      for (int a = 0, first = -1; ref && a < ref->n_nodes; a++) {
        if (strcmp(ref->nodes[a]->op_type, nd->op_type)) continue;
        if (first < 0) first = a;
        else agree &= same_order(ref->nodes[a], ref->nodes[first]) && same_order(ref->nodes[first], ref->nodes[a]);
        ordered &= same_order(nd, ref->nodes[a]);
      }
      c->nodes += nreal > 0;
      c->missing += miss;
      c->extra += more;
      c->order += agree && !ordered;
      const struct pn_tensor *t = strcmp(nd->op_type, "Reshape") ? NULL : reshape_const(s[i], nd);
      const struct pn_value *x = t ? pn_graph_find_value(s[i], nd->in[0]) : NULL, *y = t ? pn_graph_find_value(s[i], nd->out[0]) : NULL;
      if (t && x && y && nres && zero && x->ndim > 0 && y->ndim > 0 && x->dims[0] == y->dims[0]) {
        c->reshapes++;
        c->spelled += ((const int64_t *)t->data)[0] != 0;
      }
    }
  }
}

static void test_sentinels_dialect(void **state) {
  (void)state;
  /* the zoo writes optional attributes out (googlenet's pools round up: ceil_mode); privnn's own models
  ** (models/) leave defaults unwritten */
  static const char *const models[] = {"densenet121", "shufflenet_v2", "googlenet", "bert", "models/vgg-s", "models/resnet-s"};
  struct dialect_count all = {0};
  for (int m = 0; m < 6; m++) {
    struct pn_ctx ctx = {0};
    struct pn_graph *g = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/%s.onnx", PN_SOURCE_DIR, models[m]);
    if (strncmp(models[m], "models/", 7) ? pn_obf_zoo_model(&ctx, models[m], true, &g)
                                         : pn_onnx_load_file(&ctx, path, &g) || pn_obf_prepare(&ctx, g))
      fail_msg("%s: %s", models[m], pn_errmsg(&ctx));
    /* with split's corpus, which carries the model's dialect for operators a part lacks */
    struct pn_obf_ngram *gen = NULL;
    if (pn_obf_ngram_for_model(&ctx, g_ngram, g, &gen)) fail_msg("%s: %s", models[m], pn_errmsg(&ctx));
    struct dialect_count c = {.model = g};
    for_parts_m(models[m], g, gen, 6, NULL, dialect_visit, &c);
    pn_obf_ngram_free(gen);
    printf("%s: of %ld sentinel nodes, %ld lack an attribute their operator's real nodes all carry, %ld carry one "
           "none of them does, %ld write them in another order; %ld of %ld Reshapes keeping their first dim spell it "
           "where the real ones write 0\n",
           models[m], c.nodes, c.missing, c.extra, c.order, c.spelled, c.reshapes);
    all.nodes += c.nodes, all.missing += c.missing, all.extra += c.extra, all.order += c.order,
        all.reshapes += c.reshapes, all.spelled += c.spelled;
    pn_graph_free(g);
  }
  assert_true(all.nodes > 1000);
  assert_true(all.reshapes > 20); /* bert's heads and shufflenet's channel shuffles */
  assert_int_equal(all.missing, 0);
  assert_int_equal(all.extra, 0);
  assert_int_equal(all.order, 0);
  assert_int_equal(all.spelled, 0);
}

/* GPT-2's causal mask (an additive constant of -1e10 above the diagonal) dominates any weight statistic
** of the file that carries it, so a sentinel of a part with one carries one of the same size: of the
** generated sentinels of gpt2's parts with such constants (|mean| or sd >= 1e4), the share whose extreme
** constants have the real part's sizes (K = 10, two partitions). Without the generator's term for it
** (EXTREME_COST 0) 55.8-63.0% over PN_TEST_SEED 777 and 1-3; with it 96.2-100% (bound MASK_SHARE). */
#define MASK_SHARE 0.85
static int extremes(const struct pn_graph *g, int64_t *sz, int cap) {
  int n = 0;
  for (int i = 0; i < g->n_inits && n < cap; i++) {
    const struct pn_tensor *t = g->inits[i];
    int64_t m = pn_tensor_numel(t);
    if (t->dtype != PN_DT_FLOAT || m < 2) continue;
    double mean, sd;
    bool nonneg;
    pn_obf_weight_stats(t, &mean, &sd, &nonneg); /* of the drawn values */
    if (fabs(mean) >= 1e4 || sd >= 1e4) sz[n++] = m;
  }
  /* sorted, to compare as multisets */
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && sz[j - 1] > sz[j]; j--) {
      int64_t t = sz[j];
      sz[j] = sz[j - 1];
      sz[j - 1] = t;
    }
  return n;
}

struct mask_count {
  long sentinels, same;
};

static bool mask_want(const struct pn_graph *pg, void *arg) {
  int64_t sz[8];
  (void)arg;
  return extremes(pg, sz, 8) > 0;
}

static void mask_visit(const struct pn_graph *pg, struct pn_graph *const *s, int k,
                       const struct pn_obf_sentinel_report *rep, struct pn_prg *prg, void *arg) {
  struct mask_count *c = arg;
  int64_t a[8], b[8];
  int na = extremes(pg, a, 8);
  (void)k;
  (void)prg;
  for (int i = 0; i < rep->generated; i++) {
    int nb = extremes(s[i], b, 8);
    c->sentinels++;
    c->same += nb == na && !memcmp(a, b, (size_t)na * sizeof *a);
  }
}

static void test_sentinels_mask(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  if (pn_obf_zoo_model(&ctx, "gpt2", true, &g)) fail_msg("gpt2: %s", pn_errmsg(&ctx));
  struct mask_count c = {0};
  for_parts("gpt2", g, 10, mask_want, mask_visit, &c);
  printf("gpt2: %ld of %ld generated sentinels of parts with a mask carry the real part's (%.1f%%)\n", c.same,
         c.sentinels, c.sentinels ? 100.0 * (double)c.same / (double)c.sentinels : 0.0);
  assert_true(c.sentinels > 0);
  assert_true((double)c.same >= MASK_SHARE * (double)c.sentinels);
  pn_graph_free(g);
}

/* Sentinels as typical as their real part: nearly every candidate the generator builds scores below
** the real part under the operator n-gram statistics (mutation makes a part less typical), so the
** sentinels kept are the most typical of a pool, and the pool's size sets how far below the real part
** they sit (an adversary's n-gram ranker and classifier read that gap). Over BERT's 25 parts at
** K = 20 the mean score of the sentinels other than twins (a twin scores as its real part, and the
** attack does not rank it) is within GAP_MAX of the real part's on average, every fifth sentinel
** checked valid and runnable. Until stop 46 the mean took the twins in, and the bound was 0.08
** (measured 0.015-0.034 with 12 candidates per sibling and 6 per sentinel): over the sentinels the
** adversaries rank, that generator sat 0.068-0.172 below (PN_TEST_SEED 1-5 and 777, 0.172 at 777);
** with 12 per sentinel 0.027-0.118. */
#define GAP_MAX 0.13
static void test_sentinels_realism(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed), PN_OK);
  struct pn_graph *g = NULL;
  struct pn_obf_ngram *m = NULL;
  if (pn_obf_zoo_model(&ctx, "bert", true, &g) || pn_obf_ngram_for_model(&ctx, g_ngram, g, &m))
    fail_msg("bert: %s", pn_errmsg(&ctx));
  struct pn_obf_partition p;
  assert_int_equal(pn_obf_partition(&ctx, g, 16, 4, &prg, &p), PN_OK);
  enum { K = 20 };
  double gap = 0, worst = 0;
  int parts = 0;
  for (int part = 0; part < p.n_parts; part++) {
    struct pn_graph *pg = NULL, *s[K] = {0};
    struct pn_obf_sentinel_report rep;
    assert_int_equal(pn_obf_extract(&ctx, g, &p, part, &pg), PN_OK);
    if (pn_obf_sentinels(&ctx, pg, m, K, &prg, s, &rep)) fail_msg("bert part %d: %s", part, pn_errmsg(&ctx));
    double real, sum = 0;
    int nt = 0;
    char *rsig = pn_obf_structure_sig(pg);
    assert_non_null(rsig);
    assert_int_equal(pn_obf_ngram_score(&ctx, m, pg, &real), PN_OK);
    for (int i = 0; i < K; i++) {
      double sc;
      assert_int_equal(pn_obf_ngram_score(&ctx, m, s[i], &sc), PN_OK);
      char *sig = pn_obf_structure_sig(s[i]);
      assert_non_null(sig);
      if (strcmp(sig, rsig)) { /* a twin scores as the real part and is not ranked: not counted */
        sum += sc;
        nt++;
      }
      free(sig);
      if (i % 5 == 0) check_sentinel(pg, s[i], &prg);
      pn_graph_free(s[i]);
    }
    if (rep.generated == K && nt) { /* part 0 reads token ids: copies */
      double d = real - sum / nt;
      gap += d;
      if (d > worst) worst = d;
      parts++;
    }
    free(rsig);
    pn_graph_free(pg);
  }
  gap /= parts > 0 ? parts : 1;
  printf("bert, K = %d, seed %llu: %d parts, sentinels' (other than twins) n-gram score below the real part's by "
         "%.3f on average, "
         "%.3f at most\n", K, (unsigned long long)g_seed, parts, gap, worst);
  assert_true(parts >= 20);
  assert_true(gap < GAP_MAX);
  pn_obf_partition_free(&p);
  pn_obf_ngram_free(m);
  pn_graph_free(g);
  pn_prg_free(&prg);
}

/* Float weight tensors (more than one element: what an adversary's "weights per node" counts) and
** nodes of x; Convs and those of them with a bias. */
static void weight_count(const struct pn_graph *x, long *tensors, long *nodes, long *convs, long *biased) {
  for (int i = 0; i < x->n_inits; i++)
    *tensors += x->inits[i]->dtype == PN_DT_FLOAT && pn_tensor_numel(x->inits[i]) > 1;
  *nodes += x->n_nodes;
  for (int v = 0; v < x->n_nodes; v++) {
    const struct pn_node *nd = x->nodes[v];
    if (strcmp(nd->op_type, "Conv")) continue;
    (*convs)++;
    *biased += nd->n_in > 2 && nd->in[2][0];
  }
}

/* the real part counted once per sentinel, as the sentinels are */
static void bias_visit(const struct pn_graph *pg, struct pn_graph *const *s, int k,
                       const struct pn_obf_sentinel_report *rep, struct pn_prg *prg, void *arg) {
  long *c = arg; /* real tensors, nodes, Convs, biased; then the sentinels' */
  assert_int_equal(rep->generated, k);
  for (int i = 0; i < k; i++) {
    weight_count(pg, &c[0], &c[1], &c[2], &c[3]);
    weight_count(s[i], &c[4], &c[5], &c[6], &c[7]);
    check_sentinel(pg, s[i], prg);
  }
}

/* Sentinels carry their real part's weight tensors per node: DenseNet's 3x3 Convs before each
** Concat and its transitions' 1x1 Convs have no bias (no BatchNormalization after them for prepare
** to fold), and a generated Conv always had one, so its sentinels had 1.28 weight tensors per node
** against the real parts' 1.17 (the attack's strongest single feature for densenet121, AUC 0.82,
** issue 17). A new Conv now gets a bias as its real node, or the real part's Convs of its kernel,
** have one. Over the parts of two partitions at K = 6: the sentinels' tensors per node within 0.04
** of the real parts' and their share of Convs with a bias within 0.08 (the generator before: 0.10
** and 0.26-0.33 off over PN_TEST_SEED 1, 2 and 777; now 0.011-0.023 and 0.022-0.029 over 1-5 and
** 777), every sentinel checked valid and runnable. */
static void test_sentinels_bias(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  if (pn_obf_zoo_model(&ctx, "densenet121", true, &g)) fail_msg("densenet121: %s", pn_errmsg(&ctx));
  enum { K = 6 };
  long c[8] = {0};
  for_parts("densenet121", g, K, NULL, bias_visit, c);
  long rt = c[0], rn = c[1], rc = c[2], rb = c[3], st = c[4], sn = c[5], sc = c[6], sb = c[7];
  double rw = (double)rt / (double)rn, sw = (double)st / (double)sn;
  double rbias = (double)rb / (double)rc, sbias = (double)sb / (double)sc;
  printf("densenet121, K = %d, seed %llu: weight tensors per node %.3f in the real parts, %.3f in the "
         "sentinels; Convs with a bias %.3f and %.3f\n", K, (unsigned long long)g_seed, rw, sw, rbias, sbias);
  assert_true(rbias > 0.2 && rbias < 0.8); /* the model still has both kinds */
  assert_true(fabs(sw - rw) < 0.04);
  assert_true(fabs(sbias - rbias) < 0.08);
  pn_graph_free(g);
}

/* Conv weight statistics of x into c: Convs, depthwise ones (one input channel a group), grouped
** ones; sum of the kernels' standard deviations; kernels and biases seen, and the sum of their squared
** standardized means (mean * sqrt(n) / sd: about 1 for values drawn around 0). */
struct convw {
  long convs, depthwise, grouped, tensors;
  double sd, z2;
};

static void convw_add(const struct pn_graph *x, struct convw *c) {
  for (int v = 0; v < x->n_nodes; v++) {
    const struct pn_node *nd = x->nodes[v];
    if (strcmp(nd->op_type, "Conv")) continue;
    const struct pn_attr *ga = pn_node_attr(nd, "group");
    const struct pn_tensor *w = pn_graph_find_init(x, nd->in[1]);
    assert_non_null(w);
    c->convs++;
    c->grouped += ga && ga->i > 1;
    c->depthwise += ga && ga->i > 1 && w->dims[1] == 1;
    for (int k = 1; k < nd->n_in && k < 3; k++) {
      const struct pn_tensor *t = nd->in[k][0] ? pn_graph_find_init(x, nd->in[k]) : NULL;
      if (!t || pn_tensor_numel(t) < 2) continue;
      double mean, sd;
      bool nn;
      pn_obf_weight_stats(t, &mean, &sd, &nn);
      assert_true(sd > 0);
      if (k == 1) c->sd += sd;
      double z = mean * sqrt((double)pn_tensor_numel(t)) / sd;
      c->z2 += z * z;
      c->tensors++;
    }
  }
}

static bool grouped_want(const struct pn_graph *pg, void *arg) {
  (void)arg;
  for (int v = 0; v < pg->n_nodes; v++) {
    const struct pn_attr *ga = pn_node_attr(pg->nodes[v], "group");
    if (!strcmp(pg->nodes[v]->op_type, "Conv") && ga && ga->i > 1) return true;
  }
  return false;
}

/* the real part counted once per sentinel, as the sentinels are */
static void grouped_visit(const struct pn_graph *pg, struct pn_graph *const *s, int k,
                          const struct pn_obf_sentinel_report *rep, struct pn_prg *prg, void *arg) {
  struct convw *c = arg; /* the real parts', the sentinels' */
  assert_int_equal(rep->generated, k);
  for (int i = 0; i < k; i++) {
    convw_add(pg, &c[0]);
    convw_add(s[i], &c[1]);
    check_sentinel(pg, s[i], prg);
  }
}

/* Sentinels of ResNeXt's parts carry its Conv weights' statistics (issue 17: the attack's classifier
** told resnext50's sentinels apart by weight sd and |weight mean| alone, AUC 0.79 each, seed 2):
** - a new grouped Conv takes the real part's 32 groups, not depthwise (one input channel a group):
**   depthwise kernels have a fan-in of 9 against 36-288, so weights sqrt(4-32) times as wide;
** - a weight's mean keeps its size in units of sd / sqrt(n) (sampling noise of a kernel drawn around
**   0), and a sibling's weights are drawn with exactly their statistics: borrowed from a drawn
**   sibling, whose own sampling noise was added, the sentinels' standardized means were larger.
** Over the parts with grouped Convs of two partitions, K = 6: no depthwise Conv in the sentinels (the
** generator before: 107-113 of their 624-647 Convs over PN_TEST_SEED 1, 2 and 777), their mean
** kernel sd within 10% of the real parts' (before 1.58-1.68 times, now 0.99-1.04 over 1-5 and 777)
** and the root mean square standardized mean of kernels and biases within 25% (before 1.80-4.28
** times; 1.83-1.89 with the groups alone; now 0.95-1.01), every sentinel checked valid and runnable. */
static void test_sentinels_grouped(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  if (pn_obf_zoo_model(&ctx, "resnext50", true, &g)) fail_msg("resnext50: %s", pn_errmsg(&ctx));
  enum { K = 6 };
  struct convw c[2] = {0};
  for_parts("resnext50", g, K, grouped_want, grouped_visit, c);
  double rsd = c[0].sd / (double)c[0].convs, ssd = c[1].sd / (double)c[1].convs;
  double rz = sqrt(c[0].z2 / (double)c[0].tensors), sz = sqrt(c[1].z2 / (double)c[1].tensors);
  printf("resnext50, K = %d, seed %llu: Convs %ld (grouped %ld, depthwise %ld) in the real parts, %ld (%ld, %ld) "
         "in the sentinels; kernel sd %.4f and %.4f (x%.3f); rms standardized mean %.3f and %.3f (x%.3f)\n", K,
         (unsigned long long)g_seed, c[0].convs, c[0].grouped, c[0].depthwise, c[1].convs, c[1].grouped,
         c[1].depthwise, rsd, ssd, ssd / rsd, rz, sz, sz / rz);
  assert_true(c[0].grouped > 0 && c[0].depthwise == 0);
  assert_true(c[1].grouped > 0);
  assert_int_equal(c[1].depthwise, 0);
  assert_true(fabs(ssd / rsd - 1) < 0.10);
  assert_true(fabs(sz / rz - 1) < 0.25);
  pn_graph_free(g);
}

/* Structures as often as the real part's (sentinel.c, equalize): in a part whose sentinels include
** twins of the real part (its structure, other weights), no other structure has fewer files than the
** real part's (1 + twins), so the file nearest another of its group is no longer the real one
** (bert, K = 20 at the attack's sizes: 10 twins a part and singletons before). */
struct mult {
  int parts, with_twins, short_parts;
};

static void mult_visit(const struct pn_graph *pg, struct pn_graph *const *s, int k,
                       const struct pn_obf_sentinel_report *rep, struct pn_prg *prg, void *arg) {
  struct mult *x = arg;
  (void)k;
  (void)prg;
  char *r = pn_obf_structure_sig(pg), *sig[32] = {0};
  assert_non_null(r);
  int n = rep->generated, twins = 0;
  for (int i = 0; i < n; i++) {
    assert_non_null(sig[i] = pn_obf_structure_sig(s[i]));
    twins += !strcmp(sig[i], r);
  }
  bool short_ = false;
  for (int i = 0; i < n && twins; i++) {
    if (!strcmp(sig[i], r)) continue;
    int c = 0;
    for (int j = 0; j < n; j++) c += !strcmp(sig[j], sig[i]);
    short_ |= c < 1 + twins;
  }
  x->parts++;
  x->with_twins += twins > 0;
  x->short_parts += short_;
  for (int i = 0; i < n; i++) free(sig[i]);
  free(r);
}

static void test_sentinels_multiplicity(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  if (pn_obf_zoo_model(&ctx, "bert", true, &g)) fail_msg("bert: %s", pn_errmsg(&ctx));
  struct mult x = {0};
  for_parts("bert", g, 12, NULL, mult_visit, &x);
  printf("bert, K = 12, seed %llu: %d parts, %d with twins of the real part, %d of them with a structure less "
         "frequent than the real part's\n", (unsigned long long)g_seed, x.parts, x.with_twins, x.short_parts);
  assert_true(x.with_twins > 0);
  assert_int_equal(x.short_parts, 0);
  pn_graph_free(g);
}

/* n-gram counts of a 4-node graph by hand: Conv3 -> Relu -> Add <- Conv1 (x feeds both convs). */
static void test_ngram_counts(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = pn_graph_new();
  int64_t xd[4] = {1, 2, 4, 4}, k3[2] = {3, 3}, k1[2] = {1, 1};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
  const char *i1[2] = {"x", "w3"}, *o1[1] = {"a"}, *i2[1] = {"a"}, *o2[1] = {"b"};
  const char *i3[2] = {"x", "w1"}, *o3[1] = {"c"}, *i4[2] = {"b", "c"}, *o4[1] = {"y"};
  pn_node_set_ints(g, pn_graph_add_node(g, "Conv", "c3", 2, i1, 1, o1), "kernel_shape", 2, k3);
  pn_graph_add_node(g, "Relu", "r", 1, i2, 1, o2);
  pn_node_set_ints(g, pn_graph_add_node(g, "Conv", "c1", 2, i3, 1, o3), "kernel_shape", 2, k1);
  pn_graph_add_node(g, "Add", "add", 2, i4, 1, o4);
  struct pn_obf_ngram *m = pn_obf_ngram_new();
  assert_int_equal(pn_obf_ngram_add(&ctx, m, g), PN_OK);
  const char **tok;
  const double *cnt;
  int nv = pn_obf_ngram_vocab(m, &tok, &cnt);
  assert_int_equal(nv, 4); /* Conv3, Relu, Conv1, Add */
  for (int i = 0; i < nv; i++) assert_true(cnt[i] == 1);
  /* P(Relu | Conv3): count 1 of context 1, add-0.5 smoothing over V+1 = 5 tokens */
  double lp = pn_obf_ngram_logp_next(m, "Conv3", "Relu");
  assert_true(fabs(lp - log(1.5 / (1 + 0.5 * 5))) < 1e-12);
  double lq = pn_obf_ngram_logp_next(m, "Conv3", "Add");
  assert_true(fabs(lq - log(0.5 / 3.5)) < 1e-12);
  /* save / load keeps the score */
  char path[128];
  snprintf(path, sizeof path, "/tmp/pn_ngram_%d.json", (int)getpid());
  assert_int_equal(pn_obf_ngram_save(&ctx, m, path, "test"), PN_OK);
  struct pn_obf_ngram *l = NULL;
  assert_int_equal(pn_obf_ngram_load(&ctx, path, &l), PN_OK);
  double s1, s2;
  assert_int_equal(pn_obf_ngram_score(&ctx, m, g, &s1), PN_OK);
  assert_int_equal(pn_obf_ngram_score(&ctx, l, g, &s2), PN_OK);
  assert_true(fabs(s1 - s2) < 1e-12);
  pn_obf_ngram_free(l);
  l = NULL;
  /* a corrupt corpus is refused */
  FILE *f = fopen(path, "w");
  fputs("{\"format\":\"privnn-ngram\",\"unigram\":{\"Relu\":-1},\"bigram\":{},\"trigram\":{}}", f);
  fclose(f);
  assert_int_equal(pn_obf_ngram_load(&ctx, path, &l), PN_ERR_CORRUPT);
  assert_null(l);
  unlink(path);
  pn_obf_ngram_free(m);
  pn_obf_ngram_free(l);
  pn_graph_free(g);
}

int main(void) {
  g_seed = pn_test_seed("test_sentinel", 777);
  struct pn_ctx ctx = {0};
  if (pn_obf_ngram_from_zoo(&ctx, NULL, &g_ngram)) {
    fprintf(stderr, "corpus: %s\n", pn_errmsg(&ctx));
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ngram_counts),
      cmocka_unit_test(test_sentinels_cnn),
      cmocka_unit_test(test_sentinels_bert),
      cmocka_unit_test(test_sentinels_differ),
      cmocka_unit_test(test_sentinels_batchnorm),
      cmocka_unit_test(test_sentinels_split),
      cmocka_unit_test(test_sentinels_two_reads),
      cmocka_unit_test(test_sentinels_dialect),
      cmocka_unit_test(test_sentinels_mask),
      cmocka_unit_test(test_sentinels_realism),
      cmocka_unit_test(test_sentinels_bias),
      cmocka_unit_test(test_sentinels_grouped),
      cmocka_unit_test(test_sentinels_multiplicity),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pn_obf_ngram_free(g_ngram);
  return rc;
}
