/* test_passes.c - privnn's optimizer passes (passes.c) on hand-built graphs: what each pass may
** and may not rewrite, and that the rewritten graph computes what the original did.
**
** The random graphs of test_diff.c check the passes at large; these cases pin the findings of
** issue 11 that a random graph rarely draws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/exec.h"
#include "graph/passes.h"
#include "util/status.h"

static int count_op(const struct pn_graph *g, const char *op) {
  int k = 0;
  for (int i = 0; i < g->n_nodes; i++) k += !strcmp(g->nodes[i]->op_type, op);
  return k;
}

static struct pn_node *node(struct pn_graph *g, const char *op, const char *a, const char *b, const char *c,
                            const char *out) {
  const char *in[3] = {a, b, c}, *o[1] = {out};
  struct pn_node *n = pn_graph_add_node(g, op, out, c ? 3 : b ? 2 : a ? 1 : 0, in, 1, o);
  assert_non_null(n);
  return n;
}

/* Run g once on input x (one float runtime input); returns the first output. */
static struct pn_tensor *run_opt(struct pn_graph *g, const struct pn_tensor *x, bool fuse) {
  struct pn_ctx ctx = {0};
  struct pn_exec *ex = NULL;
  struct pn_exec_opts eo = {.no_fuse = !fuse};
  int rc = pn_exec_new(&ctx, g, &eo, &ex);
  if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  struct pn_tensor *out[4] = {0};
  rc = pn_exec_run(&ctx, ex, &x, out);
  if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  for (int i = 1; i < pn_exec_n_outputs(ex); i++) pn_tensor_free(out[i]);
  pn_exec_free(ex);
  return out[0];
}

static struct pn_tensor *run1(struct pn_graph *g, const struct pn_tensor *x) { return run_opt(g, x, false); }

/* A training-mode Dropout of constants draws a new mask on every run; constant folding froze one
** mask into an initializer (found while hunting issue 11's siblings). */
static void test_dropout_training_not_folded(void **state) {
  (void)state;
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  pn_graph_set_opset(g, "", 13);
  int64_t d[1] = {64};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 1, d));
  struct pn_tensor *c = pn_graph_new_init(g, "c", PN_DT_FLOAT, 1, d);
  struct pn_tensor *ratio = pn_graph_new_init(g, "ratio", PN_DT_FLOAT, 0, NULL);
  struct pn_tensor *train = pn_graph_new_init(g, "train", PN_DT_BOOL, 0, NULL);
  assert_true(c && ratio && train);
  for (int i = 0; i < 64; i++) ((float *)c->data)[i] = 1.0f;
  *(float *)ratio->data = 0.5f;
  *(uint8_t *)train->data = 1;
  node(g, "Dropout", "c", "ratio", "train", "dc");
  node(g, "Add", "x", "dc", NULL, "y");
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 1, d));
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_graph_validate(&ctx, g), PN_OK);
  int counts[6];
  assert_int_equal(pn_optimize_graph(&ctx, g, counts), PN_OK);
  assert_int_equal(count_op(g, "Dropout"), 1);
  /* and two runs still draw two masks (an unseeded Dropout: equal with probability 2^-64), with
  ** or without the executor's own evaluation of constant subgraphs */
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 1, d);
  assert_non_null(x);
  for (int fuse = 0; fuse < 2; fuse++) {
    struct pn_tensor *y1 = run_opt(g, x, fuse), *y2 = run_opt(g, x, fuse);
    assert_memory_not_equal(y1->data, y2->data, pn_tensor_nbytes(y1));
    pn_tensor_free(y1);
    pn_tensor_free(y2);
  }
  pn_tensor_free(x);
  pn_graph_free(g);
}

/* Constant nodes of every form become initializers, so BatchNormalization parameters exported as
** value_floats (and a bias as value) fold into the Conv like initializers do. */
static void test_constant_forms_fold(void **state) {
  (void)state;
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t xd[4] = {1, 2, 3, 3}, wd[4] = {2, 2, 1, 1}, bd[1] = {2};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xd));
  struct pn_tensor *w = pn_graph_new_init(g, "w", PN_DT_FLOAT, 4, wd);
  assert_non_null(w);
  const float wv[4] = {0.5f, -1.0f, 0.25f, 2.0f};
  memcpy(w->data, wv, sizeof wv);
  struct pn_tensor *b = pn_tensor_new(PN_DT_FLOAT, 1, bd);
  assert_non_null(b);
  ((float *)b->data)[0] = 0.1f;
  ((float *)b->data)[1] = -0.2f;
  assert_int_equal(pn_node_set_tensor(g, node(g, "Constant", NULL, NULL, NULL, "b"), "value", b), PN_OK);
  const char *prm[4] = {"s", "beta", "mean", "var"};
  const float pv[4][2] = {{1.5f, -0.5f}, {0.3f, 0.0f}, {0.2f, -0.1f}, {0.8f, 1.2f}};
  for (int k = 0; k < 4; k++)
    assert_int_equal(pn_node_set_floats(g, node(g, "Constant", NULL, NULL, NULL, prm[k]), "value_floats", 2, pv[k]),
                     PN_OK);
  node(g, "Conv", "x", "w", "b", "conv");
  const char *in[5] = {"conv", "s", "beta", "mean", "var"}, *o[1] = {"y"};
  assert_non_null(pn_graph_add_node(g, "BatchNormalization", "bn", 5, in, 1, o));
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 4, xd));
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, xd);
  assert_non_null(x);
  for (int i = 0; i < 18; i++) ((float *)x->data)[i] = (float)(i % 7) * 0.3f - 1.0f;
  struct pn_tensor *want = run1(g, x);
  struct pn_ctx ctx = {0};
  int counts[6];
  assert_int_equal(pn_optimize_graph(&ctx, g, counts), PN_OK);
  assert_int_equal(counts[0], 5);                    /* all five Constant nodes */
  assert_int_equal(counts[1], 1);                    /* and the BatchNormalization folded */
  assert_int_equal(g->n_nodes, 1);
  struct pn_tensor *got = run1(g, x);
  for (int i = 0; i < 18; i++) assert_true(fabsf(((float *)got->data)[i] - ((float *)want->data)[i]) <= 1e-5f);
  pn_tensor_free(got);
  pn_tensor_free(want);
  pn_tensor_free(x);
  pn_tensor_free(b);
  pn_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dropout_training_not_folded),
      cmocka_unit_test(test_constant_forms_fold),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
