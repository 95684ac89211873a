/* test_attack.c - attack metrics on hand-computed cases, the attack evaluation's invariants, and the
** lowering of ONNX Runtime contrib ops checked against independently built standard graphs. */
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
#include "obf/obf.h"
#include "obf/obf_ngram.h"
#include "util/util.h"

static void test_metrics(void **state) {
  /* reals {3, 5}, sentinels {1, 4, 5}: pairs won 3>1, 5>1, 5>4, tie 5=5 -> 3.5 / 6 */
  double s[5] = {3, 5, 1, 4, 5};
  bool r[5] = {true, true, false, false, false};
  assert_true(fabs(pn_obf_auc(s, r, 5) - 3.5 / 6) < 1e-12);
  /* 99% recall of 2 reals keeps both: threshold 3, sentinels below: {1} */
  assert_true(fabs(pn_obf_specificity(s, r, 5, 0.99) - 1.0 / 3) < 1e-12);
  /* 50% recall: threshold 5, sentinels below: {1, 4} */
  assert_true(fabs(pn_obf_specificity(s, r, 5, 0.5) - 2.0 / 3) < 1e-12);
  /* perfect separation */
  double p[4] = {9, 8, 1, 2};
  bool q[4] = {true, true, false, false};
  assert_true(pn_obf_auc(p, q, 4) == 1.0);
  assert_true(pn_obf_specificity(p, q, 4, 0.99) == 1.0);
}

/* An adversary's better orientation, and which way the real parts stood out: reals {3, 5} against
** {1, 4, 5} score higher (AUC 3.5 / 6 as scored); negated they score lower, the oriented figures the
** same, and the reading flips. */
static void test_oriented(void **state) {
  bool r[5] = {true, true, false, false, false};
  double s[5] = {3, 5, 1, 4, 5}, auc, spec, raw;
  pn_obf_oriented(s, r, 5, &auc, &spec, &raw);
  assert_true(fabs(raw - 3.5 / 6) < 1e-12 && fabs(auc - 3.5 / 6) < 1e-12);
  assert_true(fabs(spec - 1.0 / 3) < 1e-12); /* as scored: threshold 3, {1} below */
  double n[5] = {-3, -5, -1, -4, -5}, auc2, spec2, raw2;
  pn_obf_oriented(n, r, 5, &auc2, &spec2, &raw2);
  assert_true(fabs(raw2 - 2.5 / 6) < 1e-12 && fabs(auc2 - auc) < 1e-12);
  /* as scored now, the threshold keeping both reals is -5 and no sentinel lies below it (0); the other
  ** orientation is the first case's 1/3, the better */
  assert_true(fabs(spec2 - 1.0 / 3) < 1e-12);
  assert_string_equal(pn_obf_adversary_reading(PN_OBF_ADV_NEIGHBOUR, raw), "isolated");
  assert_string_equal(pn_obf_adversary_reading(PN_OBF_ADV_NEIGHBOUR, raw2), "paired");
  assert_string_equal(pn_obf_adversary_reading(PN_OBF_ADV_MEDOID, raw2), "outlying");
  assert_string_equal(pn_obf_adversary_reading(PN_OBF_ADV_NGRAM, raw), "more typical");
  assert_string_equal(pn_obf_adversary_reading(PN_OBF_ADV_CLASSIFIER, raw2), "sentinel-like");
  assert_string_equal(pn_obf_adversary_reading(PN_OBF_ADV_CLASSIFIER, 0.5), "even");
  assert_string_equal(pn_obf_adversary_name(PN_OBF_ADV_MEDOID), "medoid");
  assert_string_equal(pn_obf_adversary_name(PN_OBF_ADV_COUNT), "?");
}

/* The bundle-only adversaries on a hand-computed case: one feature, files {0, 1, 3} in part 0 and
** {10, 10} in part 1, standardized by the sample sd over all five (mean 4.8, variance 94.8 / 4). */
static void test_group_scores(void **state) {
  double f[5] = {0, 1, 3, 10, 10}, med[5], nb[5];
  int grp[5] = {0, 0, 0, 1, 1};
  pn_obf_group_scores(f, 1, grp, 5, med, nb);
  double sd = sqrt(94.8 / 4) + 1e-9;
  double want_med[5] = {-2 / sd, -1.5 / sd, -2.5 / sd, 0, 0}, want_nb[5] = {1 / sd, 1 / sd, 2 / sd, 0, 0};
  for (int i = 0; i < 5; i++) {
    assert_true(fabs(med[i] - want_med[i]) < 1e-12);
    assert_true(fabs(nb[i] - want_nb[i]) < 1e-12);
  }
  /* the file of the centre is the medoid's pick; the isolated file is the neighbour's */
  assert_true(med[1] > med[0] && med[0] > med[2] && nb[2] > nb[0]);
  /* a file alone in its part scores 0 */
  int lone[3] = {0, 0, 1};
  pn_obf_group_scores(f, 1, lone, 3, med, nb);
  assert_true(med[2] == 0 && nb[2] == 0);
}

/* A file of the dialect test: Convs written with the attribute names of convs[c] in that order (a
** space-separated list), then a Reshape whose constant shape starts with first. */
static struct pn_graph *dialect_file(const char *const *convs, int n_convs, int64_t first) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t d[4] = {1, 4, 8, 8};
  assert_non_null(pn_graph_add_input(g, "x0", PN_DT_FLOAT, 4, d));
  char x[16], y[16];
  for (int c = 0; c < n_convs; c++) {
    snprintf(x, sizeof x, "x%d", c);
    snprintf(y, sizeof y, "x%d", c + 1);
    const char *in[1] = {x}, *out[1] = {y};
    struct pn_node *n = pn_graph_add_node(g, "Conv", "", 1, in, 1, out);
    assert_non_null(n);
    char names[64];
    snprintf(names, sizeof names, "%s", convs[c]);
    for (char *a = strtok(names, " "); a; a = strtok(NULL, " ")) assert_int_equal(pn_node_set_int(g, n, a, 1), PN_OK);
  }
  int64_t two = 2;
  struct pn_tensor *t = pn_graph_new_init(g, "shape", PN_DT_INT64, 1, &two);
  assert_non_null(t);
  ((int64_t *)t->data)[0] = first;
  ((int64_t *)t->data)[1] = -1;
  snprintf(x, sizeof x, "x%d", n_convs);
  const char *in[2] = {x, "shape"}, *out[1] = {"y"};
  assert_non_null(pn_graph_add_node(g, "Reshape", "", 2, in, 1, out));
  return g;
}

/* The dialect adversary on a hand-made bundle of three parts: the model's Conv carries dilations,
** group (in that order) in every part; a Conv without dilations appears in two parts (one of them in
** a file that writes Conv both ways), one with the order swapped in one; the Reshape shapes start
** with 0 except in two files. Each file scores minus the ways it writes otherwise. */
static void test_dialect_scores(void **state) {
  const char *a = "dilations group", *b = "group", *c = "group dilations";
  const char *A[1] = {a}, *B[1] = {b}, *C[1] = {c}, *M[2] = {a, b};
  struct {
    const char *const *convs;
    int n, group;
    int64_t first;
    double want;
  } f[10] = {
      {A, 1, 0, 0, 0},  {A, 1, 0, 0, 0}, {B, 1, 0, 0, -1},  /* part 0: one without dilations */
      {A, 1, 1, 0, 0},  {C, 1, 1, 0, -1}, {A, 1, 1, 0, 0},  /* part 1: one in another order */
      {C, 1, 1, 8, -2},                                   /* both written otherwise */
      {A, 1, 2, 0, 0},  {M, 2, 2, 0, -1}, {A, 1, 2, 8, -1}, /* part 2: Conv two ways; a Reshape of 8 */
  };
  struct pn_graph *g[10];
  int grp[10];
  double sc[10];
  for (int i = 0; i < 10; i++) {
    g[i] = dialect_file(f[i].convs, f[i].n, f[i].first);
    grp[i] = f[i].group;
  }
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_obf_dialect_scores(&ctx, (const struct pn_graph *const *)g, grp, 10, sc), PN_OK);
  for (int i = 0; i < 10; i++) {
    printf("file %d: %g (want %g)\n", i, sc[i], f[i].want);
    assert_true(sc[i] == f[i].want);
  }
  /* the way is the most parts', not the most files': four files of one part writing Conv without
  ** dilations do not make it the model's way while the two others write it with */
  struct pn_graph *h[6] = {g[2], g[2], g[2], g[2], g[0], g[3]};
  int hg[6] = {0, 0, 0, 0, 1, 2};
  assert_int_equal(pn_obf_dialect_scores(&ctx, (const struct pn_graph *const *)h, hg, 6, sc), PN_OK);
  for (int i = 0; i < 6; i++) assert_true(sc[i] == (i < 4 ? -1 : 0));
  /* the real parts written the model's way and their sentinels otherwise: the adversary finds them */
  bool real[6] = {false, true, false, true, false, true};
  double ks[6], auc, spec, raw;
  struct pn_graph *k[6] = {g[2], g[0], g[4], g[0], g[2], g[0]};
  int kg[6] = {0, 0, 1, 1, 2, 2};
  assert_int_equal(pn_obf_dialect_scores(&ctx, (const struct pn_graph *const *)k, kg, 6, ks), PN_OK);
  pn_obf_oriented(ks, real, 6, &auc, &spec, &raw);
  assert_true(auc == 1.0 && raw == 1.0);
  assert_string_equal(pn_obf_adversary_reading(PN_OBF_ADV_DIALECT, raw), "written alike");
  assert_string_equal(pn_obf_adversary_name(PN_OBF_ADV_DIALECT), "dialect");
  for (int i = 0; i < 10; i++) pn_graph_free(g[i]);
}

/* The null on a case small enough to enumerate: two groups of two ranked files, scores {0, 1} and
** {2, 3}. The four labellings (one real per group) give oriented AUCs 0.75 ({0, 2}: 2 > 1 only, so
** 1/4, oriented 3/4), 0.5, 0.5 and 0.75, each with probability 1/4. */
static void null_run(const double *sc, const int *grp, int n_groups, const bool *ranked, int n, double auc,
                     uint64_t seed, struct pn_obf_null *out) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  int gen[16];
  for (int g = 0; g < n_groups; g++) gen[g] = 20;
  const double *adv[1] = {sc};
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, seed), PN_OK);
  assert_int_equal(pn_obf_null(&ctx, adv, 1, grp, n_groups, ranked, n, gen, auc, 4001, &prg, out), PN_OK);
  pn_prg_free(&prg);
}

static void test_null(void **state) {
  double sc[5] = {0, 1, 2, 3, 100};
  int grp[5] = {0, 0, 1, 1, 1};
  bool ranked[5] = {true, true, true, true, false};
  struct pn_obf_null a, b;
  null_run(sc, grp, 2, ranked, 4, 0.75, 3, &a);
  assert_int_equal(a.draws, 4001);
  assert_true(fabs(a.auc_p - 0.5) < 0.05);           /* AUC >= 0.75 in half the labellings */
  assert_true(fabs(a.auc_over_target - 0.5) < 0.05); /* 0.75 > 0.65 in the same half */
  assert_true(a.auc_q95 == 0.75);
  assert_true(a.auc_median == 0.5 || a.auc_median == 0.75);
  /* the count is the specificity's: the middle draw of both (an odd number of draws) */
  assert_true(fabs(a.log10_files_median - 2 * log10(1 + (1 - a.specificity_median) * 20)) < 1e-12);
  /* an unranked file (a twin) takes no part, however it scores: the same draws, the same figures */
  null_run(sc, grp, 2, ranked, 5, 0.75, 3, &b);
  assert_memory_equal(&a, &b, sizeof a);
  /* ten groups of five whose real file always scores highest: the measured AUC 1 is not chance */
  double s2[50];
  int g2[50];
  bool r2[50];
  for (int i = 0; i < 50; i++) {
    g2[i] = i / 5;
    r2[i] = true;
    s2[i] = i % 5 == 0 ? 10 + i : (double)((i * 37) % 11);
  }
  null_run(s2, g2, 10, r2, 50, 1.0, 4, &a);
  assert_true(a.auc_p < 0.01);
  assert_true(a.auc_median < 0.75 && a.auc_median >= 0.5);
}

/* a graph of the given ops (domain "" unless "dom:" prefixes the op), nodes chained in order */
static struct pn_graph *ops_graph(const char *const *ops, int n) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  char in[16] = "x", out[16];
  for (int i = 0; i < n; i++) {
    snprintf(out, sizeof out, "t%d", i);
    const char *ip = in, *op = out, *colon = strchr(ops[i], ':');
    char dom[32] = "";
    if (colon) snprintf(dom, sizeof dom, "%.*s", (int)(colon - ops[i]), ops[i]);
    struct pn_node *nd = pn_graph_add_node(g, colon ? colon + 1 : ops[i], out, 1, &ip, 1, &op);
    assert_non_null(nd);
    if (colon) nd->domain = pn_arena_strdup(g->arena, dom);
    snprintf(in, sizeof in, "%s", out);
  }
  return g;
}

/* x -> MatMul(W) -> a; Relu(a) -> b; Sigmoid(a or, with chain, b) -> c; Add(b, c) -> y. Tensor names
** carry the prefix; reorder adds the nodes in reverse; wide makes W 4x8; fill sets W's values. */
static struct pn_graph *diamond(const char *pre, bool reorder, bool chain, bool wide, float fill) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  char nx[16], nw[16], na[16], nb[16], nc[16], ny[16];
  snprintf(nx, sizeof nx, "%sx", pre), snprintf(nw, sizeof nw, "%sw", pre), snprintf(na, sizeof na, "%sa", pre);
  snprintf(nb, sizeof nb, "%sb", pre), snprintf(nc, sizeof nc, "%sc", pre), snprintf(ny, sizeof ny, "%sy", pre);
  int64_t xd[2] = {1, 4}, wd[2] = {4, wide ? 8 : 4}, yd[2] = {1, wide ? 8 : 4};
  assert_non_null(pn_graph_add_input(g, nx, PN_DT_FLOAT, 2, xd));
  assert_non_null(pn_graph_add_output(g, ny, PN_DT_FLOAT, 2, yd));
  struct pn_tensor *w = pn_graph_new_init(g, nw, PN_DT_FLOAT, 2, wd);
  assert_non_null(w);
  for (int64_t i = 0; i < wd[0] * wd[1]; i++) ((float *)w->data)[i] = fill + (float)i;
  const char *mm_in[2] = {nx, nw}, *add_in[2] = {nb, nc}, *sig_in = chain ? nb : na, *relu_in = na;
  const char *a = na, *b = nb, *c = nc, *y = ny;
  for (int k = 0; k < 4; k++) {
    int q = reorder ? 3 - k : k;
    struct pn_node *nd = q == 0   ? pn_graph_add_node(g, "MatMul", "", 2, mm_in, 1, &a)
                         : q == 1 ? pn_graph_add_node(g, "Relu", "", 1, &relu_in, 1, &b)
                         : q == 2 ? pn_graph_add_node(g, "Sigmoid", "", 1, &sig_in, 1, &c)
                                  : pn_graph_add_node(g, "Add", "", 2, add_in, 1, &y);
    assert_non_null(nd);
  }
  return g;
}

/* A structure is what an adversary could rebuild: operators, attributes, weight shapes and wiring,
** not node order, names or weight values. */
static void test_structure_sig(void **state) {
  struct pn_graph *g[6] = {diamond("", false, false, false, 0), diamond("q_", true, false, false, 0),
                           diamond("", false, false, false, 5), diamond("", false, true, false, 0),
                           diamond("", false, false, true, 0), diamond("r", true, true, false, 9)};
  char *sig[6];
  for (int i = 0; i < 6; i++) assert_non_null(sig[i] = pn_obf_structure_sig(g[i]));
  assert_string_equal(sig[0], sig[1]);      /* other node order and names */
  assert_string_equal(sig[0], sig[2]);      /* other weight values */
  assert_string_not_equal(sig[0], sig[3]);  /* Sigmoid after Relu: same operators, other wiring */
  assert_string_not_equal(sig[0], sig[4]);  /* a wider weight */
  assert_string_equal(sig[3], sig[5]);
  /* real g[0]; sentinels: two twins (g[1], g[2]), g[3] and its twin g[5], g[4]: two structures */
  struct pn_ctx ctx = {0};
  const struct pn_graph *sent[5] = {g[1], g[2], g[3], g[5], g[4]};
  int twins = -1, distinct = -1;
  bool is_twin[5];
  assert_int_equal(pn_obf_distinct_structures(&ctx, g[0], sent, 5, &twins, &distinct, is_twin), PN_OK);
  assert_int_equal(twins, 2);
  assert_int_equal(distinct, 2);
  assert_true(is_twin[0] && is_twin[1] && !is_twin[2] && !is_twin[3] && !is_twin[4]);
  for (int i = 0; i < 6; i++) {
    free(sig[i]);
    pn_graph_free(g[i]);
  }
}

static void test_vote(void **state) {
  /* the multiset forgets the order, keeps counts and domains */
  const char *a1[] = {"Conv", "Relu", "Conv", "Add"}, *a2[] = {"Add", "Conv", "Conv", "Relu"},
             *b[] = {"Conv", "Relu", "Add"}, *c[] = {"Conv", "Relu", "Conv", "com.microsoft:Add"};
  struct pn_graph *A1 = ops_graph(a1, 4), *A2 = ops_graph(a2, 4), *B = ops_graph(b, 3), *C = ops_graph(c, 4);
  char *ka1 = pn_obf_op_multiset(A1), *ka2 = pn_obf_op_multiset(A2), *kb = pn_obf_op_multiset(B),
       *kc = pn_obf_op_multiset(C);
  assert_string_equal(ka1, ":Add*1;:Conv*2;:Relu*1");
  assert_string_equal(ka1, ka2);
  assert_string_equal(kb, ":Add*1;:Conv*1;:Relu*1");
  assert_string_equal(kc, ":Conv*2;:Relu*1;com.microsoft:Add*1");
  free(ka1), free(ka2), free(kb), free(kc);
  struct pn_ctx ctx = {0};
  int leaks = -1;
  /* group 0: A A(real, other order) B -> A wins alone and is real: leaks
  ** group 1: B(real) A A C -> A wins, not real: no leak
  ** group 2: A(real) B -> tie 1-1: no leak
  ** group 3: C(real) C B B -> tie 2-2: no leak
  ** group 4: B(real) alone -> leaks (k = 0) */
  const struct pn_graph *files[] = {A1, A2, B, B, A1, A2, C, A1, B, C, C, B, B, B};
  int group[] = {0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4};
  bool real[] = {false, true, false, true, false, false, false, true, false, true, false, false, false, true};
  assert_int_equal(pn_obf_vote_leaks(&ctx, files, group, real, 14, &leaks), PN_OK);
  assert_int_equal(leaks, 2);
  /* group by group */
  int want[] = {1, 0, 0, 0, 1}, at = 0;
  for (int q = 0; q < 5; q++) {
    int n = 0;
    while (at + n < 14 && group[at + n] == q) n++;
    assert_int_equal(pn_obf_vote_leaks(&ctx, files + at, group + at, real + at, n, &leaks), PN_OK);
    if (leaks != want[q]) fail_msg("group %d: %d leaks, want %d", q, leaks, want[q]);
    at += n;
  }
  /* group 1 with an A as the real file: the vote reveals it */
  bool real1[] = {false, true, false, false};
  assert_int_equal(pn_obf_vote_leaks(&ctx, files + 3, group + 3, real1, 4, &leaks), PN_OK);
  assert_int_equal(leaks, 1);
  /* a group without its real file is refused */
  bool none[] = {false, false};
  assert_int_equal(pn_obf_vote_leaks(&ctx, files, group, none, 2, &leaks), PN_ERR_INVALID);
  pn_graph_free(A1), pn_graph_free(A2), pn_graph_free(B), pn_graph_free(C);
}

/* pn_obf_attack on two zoo models at K = 2 with the zoo's corpus, from a PRG seeded with seed. */
static void attack_two(const char *a, const char *b, uint64_t seed, struct pn_obf_attack_result res[2]) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, seed), PN_OK);
  struct pn_obf_ngram *m = NULL;
  assert_int_equal(pn_obf_ngram_from_zoo(&ctx, NULL, &m), PN_OK);
  const char *models[2] = {a, b};
  struct pn_obf_attack_opts o = {.k = 2, .ngram = m};
  if (pn_obf_attack(&ctx, models, 2, &o, &prg, res)) fail_msg("attack: %s", pn_errmsg(&ctx));
  pn_obf_ngram_free(m);
  pn_prg_free(&prg);
}

static void test_attack_smoke(void **state) {
  struct pn_obf_attack_result res[2];
  attack_two("resnet18", "bert", 11, res);
  for (int i = 0; i < 2; i++) {
    printf("%s: parts %d spec %.3f auc %.3f log10 %.2f\n", res[i].model, res[i].parts,
           res[i].specificity, res[i].auc, res[i].log10_candidates);
    assert_true(res[i].parts > 1);
    assert_int_equal(res[i].k, 2);
    assert_true(res[i].trained_on > 0);
    /* oriented rankers are at least as good as chance */
    assert_true(res[i].auc >= 0.5 && res[i].auc <= 1.0);
    assert_true(res[i].specificity >= 0 && res[i].specificity <= 1);
    /* the strongest of the five adversaries decides */
    const double *oriented_auc = res[i].adv_auc, *spec = res[i].adv_specificity;
    for (int a = 0; a < PN_OBF_ADV_COUNT; a++) {
      assert_true(oriented_auc[a] >= 0.5 && oriented_auc[a] <= 1.0);
      assert_true(spec[a] >= 0 && spec[a] <= 1);
      assert_true(res[i].specificity >= spec[a]);
      /* each adversary's AUC is its score's as scored or negated, the better; the strongest is named */
      double x = res[i].auc_as_scored[a];
      assert_true(fabs(oriented_auc[a] - fmax(x, 1 - x)) < 1e-12);
    }
    int st = res[i].strongest;
    assert_true(st >= 0 && st < PN_OBF_ADV_COUNT);
    assert_true(res[i].specificity == spec[st] && res[i].auc == oriented_auc[st]);
    for (int a = 0; a < st; a++) assert_true(spec[a] < spec[st]); /* the first on a tie */
    printf("  strongest: %s, real parts %s\n", pn_obf_adversary_name(st),
           pn_obf_adversary_reading(st, res[i].auc_as_scored[st]));
    assert_true(res[i].vote_leaks >= 0 && res[i].vote_leaks <= res[i].parts);
    assert_true(res[i].ranked >= 0 && res[i].ranked <= res[i].parts);
    /* candidates count distinct structures: at most the k sentinels of every part, fewer with twins of
    ** the real part or sentinels alike; every generated sentinel is a twin or has a structure */
    double most = res[i].parts * log10(1 + (1 - res[i].specificity) * 2);
    assert_true(res[i].log10_candidates >= 0 && res[i].log10_candidates <= most + 1e-9);
    /* counting files (the paper's way), every generated sentinel counts: at least the structures */
    assert_true(res[i].log10_files >= res[i].log10_candidates - 1e-9 && res[i].log10_files <= most + 1e-9);
    if (!res[i].copies) assert_true(fabs(res[i].log10_files - most) < 1e-9);
    assert_true(res[i].twins >= 0 && res[i].distinct >= 0);
    assert_true(res[i].twins + res[i].distinct + res[i].copies <= res[i].parts * 2);
    if (res[i].distinct == res[i].parts * 2 - res[i].copies - res[i].twins && !res[i].copies && !res[i].twins)
      assert_true(fabs(res[i].log10_candidates - most) < 1e-9);
    /* the null: oriented AUCs over its draws, the count no more than every sentinel counted */
    const struct pn_obf_null *nl = &res[i].null;
    printf("  null: AUC median %.3f q95 %.3f p %.3f\n", nl->auc_median, nl->auc_q95, nl->auc_p);
    assert_int_equal(nl->draws, PN_OBF_NULL_DRAWS);
    assert_true(nl->auc_median >= 0.5 && nl->auc_median <= nl->auc_q95 && nl->auc_q95 <= 1.0);
    assert_true(nl->auc_p >= 0 && nl->auc_p <= 1 && nl->auc_over_target >= 0 && nl->auc_over_target <= 1);
    assert_true(nl->specificity_median >= 0 && nl->specificity_median <= 1);
    assert_true(nl->log10_files_median >= 0 && nl->log10_files_median <= res[i].parts * log10(3.0) + 1e-9);
  }
}

/* A real part whose sentinels are all copies (DistilBERT's token-id part: integer boundary, copies
** only) has nothing of its group to be ranked against and enters no AUC; without the rule it was
** ranked against the other parts' sentinels, where an embedding lookup is found for what it is. */
static void test_attack_bare(void **state) {
  struct pn_obf_attack_result res[2];
  attack_two("resnet18", "distilbert", 3, res);
  const struct pn_obf_attack_result *d = &res[1];
  printf("distilbert: parts %d ranked %d copies %d twins %d\n", d->parts, d->ranked, d->copies, d->twins);
  assert_true(d->copies >= d->k);
  assert_true(d->ranked < d->parts && d->ranked > 0);
}

/* A model's simulated bundle depends on the seed and its own generation only, not on the models
** listed before it (each model draws from a stream of its own): vgg11's per-feature AUCs (sentinels
** against real parts of its own bundle, whatever the adversaries learned) are the same after resnet18
** as after mobilenetv2. With one stream through all models they differed, and a change to one
** model's generation moved every later model's figures (issue 17). */
static void test_attack_model_streams(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_obf_ngram *m = NULL;
  assert_int_equal(pn_obf_ngram_from_zoo(&ctx, NULL, &m), PN_OK);
  const char *lists[2][2] = {{"resnet18", "vgg11"}, {"mobilenetv2", "vgg11"}};
  struct pn_obf_attack_result res[2][2];
  struct pn_obf_attack_opts o = {.k = 3, .ngram = m};
  for (int l = 0; l < 2; l++) {
    struct pn_prg prg;
    assert_int_equal(pn_prg_init_u64(&ctx, &prg, 5), PN_OK);
    if (pn_obf_attack(&ctx, lists[l], 2, &o, &prg, res[l])) fail_msg("attack: %s", pn_errmsg(&ctx));
    pn_prg_free(&prg);
  }
  const struct pn_obf_attack_result *a = &res[0][1], *b = &res[1][1];
  assert_int_equal(a->parts, b->parts);
  assert_int_equal(a->vote_leaks, b->vote_leaks);
  assert_int_equal(a->n_features, b->n_features);
  assert_true(a->n_features > 10);
  /* the last feature, the n-gram score, is under the other models' real parts: not compared */
  int differ = 0, nf = a->n_features - 1;
  for (int j = 0; j < nf; j++) differ += a->feature_auc[j] != b->feature_auc[j];
  printf("vgg11 after resnet18 and after mobilenetv2: %d of %d feature AUCs differ\n", differ, nf);
  assert_int_equal(differ, 0);
  pn_obf_ngram_free(m);
}

/* ---- lowering ---- */

static void rnd(struct pn_prg *prg, struct pn_tensor *t, double sd) {
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) ((float *)t->data)[i] = (float)(sd * pn_prg_normal(prg));
}

static struct pn_node *op(struct pn_graph *g, const char *type, const char *dom, int n_in,
                          const char *const *in, const char *out) {
  struct pn_node *n = pn_graph_add_node(g, type, out, n_in, in, 1, &out);
  assert_non_null(n);
  if (dom) {
    n->domain = dom;
    if (!pn_graph_opset(g, dom)) pn_graph_set_opset(g, dom, 1);
  }
  return n;
}

/* Same inputs and weights in both graphs. */
static void common(struct pn_graph *g, struct pn_prg *prg) {
  int64_t xd[4] = {1, 3, 5, 5}, wd[4] = {4, 3, 3, 3}, bd[1] = {4}, md[2] = {4, 25};
  int64_t pd[1] = {25};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
  rnd(prg, pn_graph_new_init(g, "w", PN_DT_FLOAT, 4, wd), 0.3);
  rnd(prg, pn_graph_new_init(g, "b", PN_DT_FLOAT, 1, bd), 0.3);
  rnd(prg, pn_graph_new_init(g, "m", PN_DT_FLOAT, 2, md), 0.3);
  rnd(prg, pn_graph_new_init(g, "gam", PN_DT_FLOAT, 1, pd), 0.3);
  rnd(prg, pn_graph_new_init(g, "bet", PN_DT_FLOAT, 1, pd), 0.3);
  int64_t sh[2] = {4, 25};
  memcpy(pn_graph_new_init(g, "shape", PN_DT_INT64, 1, (int64_t[]){2})->data, sh, sizeof sh);
}

/* FusedConv with ORT's HardSigmoid activation (MobileNetV3's squeeze-excite gate; alpha and beta
** from activation_params) lowers to Conv -> HardSigmoid with those constants */
static void test_lower_hardsigmoid(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg p1, p2, pin;
  pn_prg_init_u64(&ctx, &p1, 7);
  pn_prg_init_u64(&ctx, &p2, 7);
  pn_prg_init_u64(&ctx, &pin, 8);
  struct pn_graph *a = pn_graph_new(), *b = pn_graph_new();
  common(a, &p1);
  common(b, &p2);
  int64_t pads[4] = {1, 1, 1, 1}, yd[4] = {1, 4, 5, 5};
  const char *c_in[3] = {"x", "w", "b"};
  struct pn_node *fc = op(a, "FusedConv", "com.microsoft", 3, c_in, "y");
  pn_node_set_ints(a, fc, "pads", 4, pads);
  pn_node_set_string(a, fc, "activation", "HardSigmoid");
  pn_node_set_floats(a, fc, "activation_params", 2, (float[]){0.25f, 0.4f});
  pn_graph_add_output(a, "y", PN_DT_FLOAT, 4, yd);
  struct pn_node *cv = op(b, "Conv", NULL, 3, c_in, "c0");
  pn_node_set_ints(b, cv, "pads", 4, pads);
  struct pn_node *hs = op(b, "HardSigmoid", NULL, 1, (const char *[]){"c0"}, "y");
  pn_node_set_float(b, hs, "alpha", 0.25f);
  pn_node_set_float(b, hs, "beta", 0.4f);
  pn_graph_add_output(b, "y", PN_DT_FLOAT, 4, yd);
  int count = 0;
  int rc = pn_obf_lower_contrib(&ctx, a, &count);
  if (rc) fail_msg("lower: %s", pn_errmsg(&ctx));
  assert_int_equal(count, 1);
  double err = INFINITY, ref = 0;
  assert_int_equal(pn_obf_compare(&ctx, b, a, &pin, 2, &err, &ref), PN_OK);
  printf("FusedConv(HardSigmoid) lowered: max abs err %.3g (outputs up to %.3g)\n", err, ref);
  assert_true(err < 1e-6);
  /* (with the default constants 0.2, 0.5, as when activation_params were ignored, err would be ~0.1) */
  assert_true(ref > 0);
  pn_graph_free(a);
  pn_graph_free(b);
  pn_prg_free(&p1);
  pn_prg_free(&p2);
  pn_prg_free(&pin);
}

static void test_lower(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg p1, p2, pin;
  pn_prg_init_u64(&ctx, &p1, 5);
  pn_prg_init_u64(&ctx, &p2, 5);
  pn_prg_init_u64(&ctx, &pin, 6);
  struct pn_graph *a = pn_graph_new(), *b = pn_graph_new();
  common(a, &p1);
  common(b, &p2);
  int64_t pads[4] = {1, 1, 1, 1};
  /* a: FusedConv(Relu) -> Reshape [4,25] -> FusedMatMul(m, r, transB=1, alpha=0.5) -> Gelu
  **    -> SkipLayerNormalization(skip = reshaped, gamma, beta) */
  const char *c_in[3] = {"x", "w", "b"};
  struct pn_node *fc = op(a, "FusedConv", "com.microsoft", 3, c_in, "c");
  pn_node_set_ints(a, fc, "pads", 4, pads);
  pn_node_set_string(a, fc, "activation", "Relu");
  const char *r_in[2] = {"c", "shape"};
  op(a, "Reshape", NULL, 2, r_in, "r");
  const char *m_in[2] = {"r", "m"};
  struct pn_node *fm = op(a, "FusedMatMul", "com.microsoft", 2, m_in, "mm");
  pn_node_set_int(a, fm, "transB", 1);
  pn_node_set_float(a, fm, "alpha", 0.5f);
  /* mm: [4,25] x [25,4] = [4,4] ... bring back to [4,25] with a second MatMul by m */
  const char *m2_in[2] = {"mm", "m"};
  op(a, "MatMul", NULL, 2, m2_in, "mm2");
  const char *g_in[1] = {"mm2"};
  op(a, "Gelu", "com.microsoft", 1, g_in, "ge");
  const char *s_in[4] = {"ge", "r", "gam", "bet"};
  struct pn_node *sl = op(a, "SkipLayerNormalization", "com.microsoft", 4, s_in, "y");
  pn_node_set_float(a, sl, "epsilon", 1e-5f);
  int64_t yd[2] = {4, 25};
  pn_graph_add_output(a, "y", PN_DT_FLOAT, 2, yd);
  /* b: the same with standard ops, written out by hand */
  struct pn_node *cv = op(b, "Conv", NULL, 3, c_in, "c0");
  pn_node_set_ints(b, cv, "pads", 4, pads);
  const char *rl[1] = {"c0"};
  op(b, "Relu", NULL, 1, rl, "c");
  op(b, "Reshape", NULL, 2, r_in, "r");
  const char *tm[1] = {"m"};
  struct pn_node *tr = op(b, "Transpose", NULL, 1, tm, "mt");
  pn_node_set_ints(b, tr, "perm", 2, (int64_t[]){1, 0});
  const char *mm_in[2] = {"r", "mt"};
  op(b, "MatMul", NULL, 2, mm_in, "mm0");
  struct pn_tensor *half = pn_graph_new_init(b, "half", PN_DT_FLOAT, 0, NULL);
  *(float *)half->data = 0.5f;
  struct pn_tensor *one = pn_graph_new_init(b, "one", PN_DT_FLOAT, 0, NULL);
  *(float *)one->data = 1.0f;
  struct pn_tensor *s2 = pn_graph_new_init(b, "s2", PN_DT_FLOAT, 0, NULL);
  *(float *)s2->data = sqrtf(2.0f);
  const char *sc[2] = {"mm0", "half"};
  op(b, "Mul", NULL, 2, sc, "mm");
  op(b, "MatMul", NULL, 2, m2_in, "mm2");
  op(b, "Div", NULL, 2, (const char *[]){"mm2", "s2"}, "g1");
  op(b, "Erf", NULL, 1, (const char *[]){"g1"}, "g2");
  op(b, "Add", NULL, 2, (const char *[]){"g2", "one"}, "g3");
  op(b, "Mul", NULL, 2, (const char *[]){"mm2", "g3"}, "g4");
  op(b, "Mul", NULL, 2, (const char *[]){"g4", "half"}, "ge");
  op(b, "Add", NULL, 2, (const char *[]){"ge", "r"}, "sum");
  struct pn_node *ln = op(b, "LayerNormalization", NULL, 3, (const char *[]){"sum", "gam", "bet"}, "y");
  pn_node_set_int(b, ln, "axis", -1);
  pn_node_set_float(b, ln, "epsilon", 1e-5f);
  pn_graph_add_output(b, "y", PN_DT_FLOAT, 2, yd);
  assert_int_equal(pn_graph_validate(&ctx, b), PN_OK);
  int count = 0;
  int rc = pn_obf_lower_contrib(&ctx, a, &count);
  if (rc) fail_msg("lower: %s", pn_errmsg(&ctx));
  assert_int_equal(count, 4);
  for (int i = 0; i < a->n_nodes; i++) assert_true(!a->nodes[i]->domain || !*a->nodes[i]->domain);
  rc = pn_graph_validate(&ctx, a);
  if (rc) fail_msg("lowered invalid: %s", pn_errmsg(&ctx));
  double err = INFINITY;
  assert_int_equal(pn_obf_compare(&ctx, b, a, &pin, 2, &err, NULL), PN_OK);
  printf("lowered contrib ops: max abs err %.3g\n", err);
  assert_true(err < 1e-5);
  /* an unknown contrib op is refused by name */
  struct pn_graph *c = pn_graph_new();
  common(c, &p1);
  op(c, "Attention", "com.microsoft", 1, (const char *[]){"x"}, "y");
  assert_int_equal(pn_obf_lower_contrib(&ctx, c, NULL), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "Attention"));
  pn_graph_free(a);
  pn_graph_free(b);
  pn_graph_free(c);
  pn_prg_free(&p1);
  pn_prg_free(&p2);
  pn_prg_free(&pin);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metrics),
      cmocka_unit_test(test_oriented),
      cmocka_unit_test(test_group_scores),
      cmocka_unit_test(test_dialect_scores),
      cmocka_unit_test(test_null),
      cmocka_unit_test(test_structure_sig),
      cmocka_unit_test(test_vote),
      cmocka_unit_test(test_lower),
      cmocka_unit_test(test_lower_hardsigmoid),
      cmocka_unit_test(test_attack_smoke),
      cmocka_unit_test(test_attack_bare),
      cmocka_unit_test(test_attack_model_streams),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
