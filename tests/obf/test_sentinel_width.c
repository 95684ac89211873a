/* test_sentinel_width.c - a sentinel's inner widths rescaled (pn_swidth_apply): on hand-built parts
** the width sets found are exactly the ones that can change without touching the boundary (a Conv
** chain, a grouped Conv, a Transformer FFN), their weights, per-channel constants and group counts
** follow, contracted weights' spreads follow the new fan-in, a set that would add a shape change or
** reaches the boundary is left alone (attention's projections, hidden to hidden), and the result
** validates and runs with the part's boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "util/arena.h"
#include "obf/obf_ngram.h"
#include "obf/sentinel_check.h"
#include "obf/sentinel_impl.h"
#include "pn_test.h"

/* zero blocks handed out by the zeros callback, freed at the end of a test */
struct zpool {
  void *blk[64];
  int n;
};

static const void *zeros(void *ctx, size_t n) {
  struct zpool *z = ctx;
  if (z->n == 64) return NULL;
  return z->blk[z->n++] = calloc(1, n ? n : 1);
}

static void zfree(struct zpool *z) {
  for (int i = 0; i < z->n; i++) free(z->blk[i]);
  z->n = 0;
}

static struct pn_graph *graph(void) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  g->n_opsets = 0;
  assert_int_equal(pn_graph_set_opset(g, "", 17), PN_OK);
  return g;
}

/* a float weight (values 0.01 * i, so that the graph runs) with a spec entry of sd 0.1 */
static const char *wt(struct pn_graph *g, struct pn_obf_wspec *f, const char *name, int nd, const int64_t *dims) {
  struct pn_tensor *t = pn_graph_new_init(g, name, PN_DT_FLOAT, nd, dims);
  assert_non_null(t);
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) ((float *)t->data)[i] = 0.01f * (float)(i % 7);
  if (n > 1) {
    if (f->n == f->cap) {
      f->cap = f->cap ? 2 * f->cap : 16;
      f->init = realloc(f->init, (size_t)f->cap * sizeof *f->init);
      f->mean = realloc(f->mean, (size_t)f->cap * sizeof *f->mean);
      f->sd = realloc(f->sd, (size_t)f->cap * sizeof *f->sd);
      f->mode = realloc(f->mode, (size_t)f->cap);
      assert_true(f->init && f->mean && f->sd && f->mode);
    }
    f->init[f->n] = g->n_inits - 1;
    f->mean[f->n] = 0;
    f->sd[f->n] = 0.1f;
    f->mode[f->n++] = 1;
  }
  return name;
}

static const char *ints(struct pn_graph *g, const char *name, int n, const int64_t *v) {
  int64_t d[1] = {n};
  struct pn_tensor *t = pn_graph_new_init(g, name, PN_DT_INT64, 1, d);
  assert_non_null(t);
  memcpy(t->data, v, (size_t)n * sizeof *v);
  return name;
}

static struct pn_node *node(struct pn_graph *g, const char *op, const char *name, int nin, const char *const *in,
                            const char *out) {
  struct pn_node *n = pn_graph_add_node(g, op, name, nin, in, 1, &out);
  assert_non_null(n);
  return n;
}

static struct pn_node *conv(struct pn_graph *g, struct pn_obf_wspec *f, const char *name, const char *x, const char *y,
                            int64_t cin, int64_t cout, int64_t k, int64_t group) {
  char wn[32], bn[32];
  snprintf(wn, sizeof wn, "%s.w", name);
  snprintf(bn, sizeof bn, "%s.b", name);
  int64_t wd[4] = {cout, cin / group, k, k}, bd[1] = {cout};
  const char *in[3] = {x, pn_arena_printf(g->arena, "%s", wn), pn_arena_printf(g->arena, "%s", bn)};
  wt(g, f, in[1], 4, wd);
  wt(g, f, in[2], 1, bd);
  struct pn_node *n = node(g, "Conv", name, 3, in, y);
  int64_t ks[2] = {k, k}, pads[4] = {k / 2, k / 2, k / 2, k / 2};
  assert_int_equal(pn_node_set_ints(g, n, "kernel_shape", 2, ks), PN_OK);
  assert_int_equal(pn_node_set_ints(g, n, "pads", 4, pads), PN_OK);
  if (group > 1) assert_int_equal(pn_node_set_int(g, n, "group", group), PN_OK);
  return n;
}

static const struct pn_tensor *init(const struct pn_graph *g, const char *name) {
  const struct pn_tensor *t = pn_graph_find_init(g, name);
  assert_non_null(t);
  return t;
}

static float spec_sd(const struct pn_graph *g, const struct pn_obf_wspec *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (!strcmp(g->inits[f->init[i]]->name, name)) return f->sd[i];
  fail_msg("no spec for %s", name);
  return 0;
}

static void dims_are(const struct pn_graph *g, const char *name, int nd, const int64_t *want) {
  const struct pn_tensor *t = init(g, name);
  assert_int_equal(t->ndim, nd);
  for (int i = 0; i < nd; i++)
    if (t->dims[i] != want[i]) fail_msg("%s dim %d: %lld, want %lld", name, i, (long long)t->dims[i], (long long)want[i]);
}

/* apply, then the result validates, keeps the boundary and runs */
static int apply(struct pn_graph *g, struct pn_obf_wspec *f, double factor, struct zpool *z) {
  struct pn_graph *before = pn_graph_clone(g);
  assert_non_null(before);
  int r = pn_swidth_apply(g, f, factor, zeros, z);
  assert_true(r >= 0);
  /* values for the weights (the generator draws them from the specs): positive, small */
  for (int i = 0; i < g->n_inits; i++) {
    struct pn_tensor *t = g->inits[i];
    if (t->dtype != PN_DT_FLOAT || pn_tensor_numel(t) < 2) continue;
    float *x = pn_arena_alloc(g->arena, pn_tensor_nbytes(t));
    assert_non_null(x);
    for (int64_t j = 0; j < pn_tensor_numel(t); j++) x[j] = 0.05f + 0.01f * (float)(j % 7);
    t->data = x;
  }
  struct pn_prg prg;
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, 7), PN_OK);
  check_sentinel(before, g, &prg);
  pn_prg_free(&prg);
  pn_graph_free(before);
  return r;
}

/* x [1,8,6,6] -> Conv 3x3 8->16 -> BatchNormalization -> Relu -> Conv 1x1 16->8 -> Add x: the 16 wide
** set takes 24 (factor 1.5, a multiple of 8), its Conv, bias, BatchNormalization parameters and the
** contracting Conv's input channels with it; the contracted kernel's spread by sqrt(16 / 24). */
static void test_width_conv_chain(void **state) {
  (void)state;
  struct pn_graph *g = graph();
  struct pn_obf_wspec f = {0};
  struct zpool z = {0};
  int64_t xd[4] = {1, 8, 6, 6}, c16[1] = {16};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
  conv(g, &f, "c1", "x", "a", 8, 16, 3, 1);
  const char *bn[5] = {"a", wt(g, &f, "s", 1, c16), wt(g, &f, "b", 1, c16), wt(g, &f, "m", 1, c16),
                       wt(g, &f, "v", 1, c16)};
  node(g, "BatchNormalization", "bn", 5, bn, "b1");
  const char *r[1] = {"b1"};
  node(g, "Relu", "relu", 1, r, "r1");
  conv(g, &f, "c2", "r1", "c", 16, 8, 1, 1);
  const char *ad[2] = {"c", "x"};
  node(g, "Add", "add", 2, ad, "y");
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 4, xd));
  assert_int_equal(apply(g, &f, 1.5, &z), 1);
  int64_t w1[4] = {24, 8, 3, 3}, w2[4] = {8, 24, 1, 1}, c24[1] = {24}, c8[1] = {8};
  dims_are(g, "c1.w", 4, w1);
  dims_are(g, "c1.b", 1, c24);
  for (int i = 1; i < 5; i++) dims_are(g, bn[i], 1, c24);
  dims_are(g, "c2.w", 4, w2);
  dims_are(g, "c2.b", 1, c8);
  assert_float_equal(spec_sd(g, &f, "c2.w"), 0.1 * sqrt(16.0 / 24.0), 1e-6);
  assert_float_equal(spec_sd(g, &f, "c1.w"), 0.1, 1e-6);
  pn_obf_wspec_free(&f);
  pn_graph_free(g);
  zfree(&z);
}

/* x [1,8,6,6] -> Conv 8->8 -> Relu -> Conv 8->8 -> y: each set reaches the boundary or would make a
** Conv from 8 to 8 channels change its shape (the 8 -> 8 pattern is the real part's): nothing moves.
** And a set whose value leaves the part (Conv 8 -> 16 -> y) stays too. */
static void test_width_left_alone(void **state) {
  (void)state;
  for (int variant = 0; variant < 2; variant++) {
    struct pn_graph *g = graph();
    struct pn_obf_wspec f = {0};
    struct zpool z = {0};
    int64_t xd[4] = {1, 8, 6, 6}, yd[4] = {1, variant ? 16 : 8, 6, 6};
    assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
    conv(g, &f, "c1", "x", "a", 8, 8, 3, 1);
    const char *r[1] = {"a"};
    node(g, "Relu", "relu", 1, r, "r1");
    conv(g, &f, "c2", "r1", "y", 8, variant ? 16 : 8, 3, 1);
    assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 4, yd));
    assert_int_equal(apply(g, &f, 1.5, &z), 0);
    int64_t w1[4] = {8, 8, 3, 3};
    dims_are(g, "c1.w", 4, w1);
    pn_obf_wspec_free(&f);
    pn_graph_free(g);
    zfree(&z);
  }
}

/* x [1,8,6,6] -> Conv 1x1 8->16 -> Relu -> Conv 3x3 16->16 group 4 -> Relu -> Conv 1x1 16->8 -> Add x:
** the grouped Conv passes the set on, its groups keep 4 channels: 24 wide, 6 groups. */
static void test_width_grouped(void **state) {
  (void)state;
  struct pn_graph *g = graph();
  struct pn_obf_wspec f = {0};
  struct zpool z = {0};
  int64_t xd[4] = {1, 8, 6, 6};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
  conv(g, &f, "c1", "x", "a", 8, 16, 1, 1);
  const char *r1[1] = {"a"}, *r2[1] = {"b"};
  node(g, "Relu", "relu1", 1, r1, "ar");
  struct pn_node *gc = conv(g, &f, "c2", "ar", "b", 16, 16, 3, 4);
  node(g, "Relu", "relu2", 1, r2, "br");
  conv(g, &f, "c3", "br", "c", 16, 8, 1, 1);
  const char *ad[2] = {"c", "x"};
  node(g, "Add", "add", 2, ad, "y");
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 4, xd));
  assert_int_equal(apply(g, &f, 1.5, &z), 1);
  int64_t w2[4] = {24, 4, 3, 3}, w3[4] = {8, 24, 1, 1};
  dims_are(g, "c2.w", 4, w2);
  dims_are(g, "c3.w", 4, w3);
  assert_int_equal(pn_node_attr(gc, "group")->i, 6);
  pn_obf_wspec_free(&f);
  pn_graph_free(g);
  zfree(&z);
}

/* A Transformer layer's inside, x [1,4,16]: attention with 2 heads of 8 (Q, K, V MatMul + bias,
** Reshape (0,0,2,8), Transpose, scores, Div, Softmax, context, Transpose, Reshape (0,0,16), output
** MatMul) and the FFN (MatMul 16->64, bias, Relu, MatMul 64->16), each added to x. Factor 1.5: the
** FFN goes to 96; the attention set (Q, K, V to the output MatMul) stays, since its projections map
** 16 to 16 channels and at another width would change shapes where the real part does not. */
static void test_width_transformer(void **state) {
  (void)state;
  struct pn_graph *g = graph();
  struct pn_obf_wspec f = {0};
  struct zpool z = {0};
  int64_t xd[3] = {1, 4, 16}, hh[2] = {16, 16}, h1[1] = {16}, fi[2] = {16, 64}, fo[2] = {64, 16}, f1[1] = {64};
  int64_t split[4] = {0, 0, 2, 8}, merge[3] = {0, 0, 16}, pq[4] = {0, 2, 1, 3}, pk[4] = {0, 2, 3, 1};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 3, xd));
  const char *qkv[3] = {"q", "k", "v"}, *hv[3];
  for (int i = 0; i < 3; i++) {
    /* names "q.w", "q.mm", ... in the graph's arena */
#define NAME(suffix) pn_arena_printf(g->arena, "%s." suffix, qkv[i])
    const char *mi[2] = {"x", wt(g, &f, NAME("w"), 2, hh)};
    node(g, "MatMul", NAME("mm"), 2, mi, NAME("mm"));
    const char *ai[2] = {NAME("mm"), wt(g, &f, NAME("b"), 1, h1)};
    node(g, "Add", NAME("add"), 2, ai, NAME("add"));
    const char *ri[2] = {NAME("add"), ints(g, NAME("shape"), 4, split)};
    node(g, "Reshape", NAME("rs"), 2, ri, NAME("rs"));
    const char *ti[1] = {NAME("rs")};
    struct pn_node *tp = node(g, "Transpose", NAME("tn"), 1, ti, NAME("t"));
    assert_int_equal(pn_node_set_ints(g, tp, "perm", 4, i == 1 ? pk : pq), PN_OK);
    hv[i] = NAME("t");
#undef NAME
  }
  const char *sc[2] = {hv[0], hv[1]};
  node(g, "MatMul", "scores", 2, sc, "scores");
  const char *dv[2] = {"scores", wt(g, &f, "scale", 0, NULL)};
  node(g, "Div", "div", 2, dv, "scaled");
  const char *sm[1] = {"scaled"};
  struct pn_node *smx = node(g, "Softmax", "softmax", 1, sm, "probs");
  assert_int_equal(pn_node_set_int(g, smx, "axis", -1), PN_OK);
  const char *cx[2] = {"probs", hv[2]};
  node(g, "MatMul", "context", 2, cx, "context");
  const char *ct[1] = {"context"};
  struct pn_node *ctp = node(g, "Transpose", "ctx.t", 1, ct, "ctx_t");
  assert_int_equal(pn_node_set_ints(g, ctp, "perm", 4, pq), PN_OK);
  const char *cr[2] = {"ctx_t", ints(g, "merge", 3, merge)};
  node(g, "Reshape", "ctx.rs", 2, cr, "ctx_m");
  const char *om[2] = {"ctx_m", wt(g, &f, "o.w", 2, hh)};
  node(g, "MatMul", "o.mm", 2, om, "o");
  const char *oa[2] = {"o", "x"};
  node(g, "Add", "res1", 2, oa, "h");
  const char *f1m[2] = {"h", wt(g, &f, "f1.w", 2, fi)};
  node(g, "MatMul", "f1.mm", 2, f1m, "f1");
  const char *f1a[2] = {"f1", wt(g, &f, "f1.b", 1, f1)};
  node(g, "Add", "f1.add", 2, f1a, "f1b");
  const char *fr[1] = {"f1b"};
  node(g, "Relu", "f.relu", 1, fr, "f1r");
  const char *f2m[2] = {"f1r", wt(g, &f, "f2.w", 2, fo)};
  node(g, "MatMul", "f2.mm", 2, f2m, "f2");
  const char *f2a[2] = {"f2", "h"};
  node(g, "Add", "res2", 2, f2a, "y");
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 3, xd));
  assert_int_equal(apply(g, &f, 1.5, &z), 1);
  int64_t f1w[2] = {16, 96}, f1b[1] = {96}, f2w[2] = {96, 16};
  for (int i = 0; i < 3; i++) {
    dims_are(g, pn_arena_printf(g->arena, "%s.w", qkv[i]), 2, hh);
    const int64_t *e = init(g, pn_arena_printf(g->arena, "%s.shape", qkv[i]))->data;
    assert_int_equal(e[2], 2);
  }
  dims_are(g, "o.w", 2, hh);
  dims_are(g, "f1.w", 2, f1w);
  dims_are(g, "f1.b", 1, f1b);
  dims_are(g, "f2.w", 2, f2w);
  assert_float_equal(spec_sd(g, &f, "f2.w"), 0.1 * sqrt(64.0 / 96.0), 1e-6);
  pn_obf_wspec_free(&f);
  pn_graph_free(g);
  zfree(&z);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_width_conv_chain),
      cmocka_unit_test(test_width_left_alone),
      cmocka_unit_test(test_width_grouped),
      cmocka_unit_test(test_width_transformer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
