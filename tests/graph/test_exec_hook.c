/* test_exec_hook.c - the executor hook (exec.h): it sees every node, may replace outputs in place
** or by a tensor of its own, its errors end the run, and the observer sees what it left.
**
** Each replacement is checked against the same graph with the replacement written as ONNX nodes
** (a hook scaling a Relu's output by s must give what Relu -> Mul(s) gives), on random inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/exec.h"
#include "graph/ir.h"
#include "graph/ops.h"
#include "pn_test.h"
#include "util/util.h"

static struct pn_prg prg;

static const int64_t XD[4] = {2, 3, 6, 6};

static void fill(struct pn_tensor *t) {
  float *p = t->data;
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) p[i] = (float)pn_prg_normal(&prg);
}

/* x -> Conv(3x3, pads 1) -> Relu "r" [-> Mul(s) "m"] -> GlobalAveragePool -> Flatten -> y.
** With scale, the Mul node does what the scaling hooks below do. */
static struct pn_graph *net(bool with_mul, float scale) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, XD));
  int64_t wd[4] = {4, 3, 3, 3}, bd[1] = {4}, sd[1] = {1};
  struct pn_tensor *w = pn_graph_new_init(g, "w", PN_DT_FLOAT, 4, wd);
  struct pn_tensor *b = pn_graph_new_init(g, "b", PN_DT_FLOAT, 1, bd);
  assert_non_null(w);
  assert_non_null(b);
  /* the same weights for every graph of a test: from a fixed seed, not the test's stream */
  struct pn_prg wp;
  assert_int_equal(pn_prg_init_u64(NULL, &wp, 7), PN_OK);
  for (int i = 0; i < 108; i++) ((float *)w->data)[i] = (float)(0.3 * pn_prg_normal(&wp));
  for (int i = 0; i < 4; i++) ((float *)b->data)[i] = (float)(0.1 * pn_prg_normal(&wp));
  pn_prg_free(&wp);
  const char *cin[3] = {"x", "w", "b"}, *c = "c", *r = "r", *m = "m", *p = "p", *y = "y";
  struct pn_node *conv = pn_graph_add_node(g, "Conv", "conv", 3, cin, 1, &c);
  int64_t pads[4] = {1, 1, 1, 1};
  assert_int_equal(pn_node_set_ints(g, conv, "pads", 4, pads), PN_OK);
  assert_non_null(pn_graph_add_node(g, "Relu", "relu", 1, &c, 1, &r));
  const char *last = r;
  if (with_mul) {
    struct pn_tensor *s = pn_graph_new_init(g, "s", PN_DT_FLOAT, 1, sd);
    *(float *)s->data = scale;
    const char *min[2] = {"r", "s"};
    assert_non_null(pn_graph_add_node(g, "Mul", "mul", 2, min, 1, &m));
    last = m;
  }
  assert_non_null(pn_graph_add_node(g, "GlobalAveragePool", "gap", 1, &last, 1, &p));
  assert_non_null(pn_graph_add_node(g, "Flatten", "flat", 1, &p, 1, &y));
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  return g;
}

/* Run g once on x with opts; returns y (caller frees) or NULL with *rc set. */
static struct pn_tensor *run(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_exec_opts *o,
                             const struct pn_tensor *x, int *rc) {
  struct pn_exec *ex = NULL;
  struct pn_tensor *y = NULL;
  *rc = pn_exec_new(ctx, g, o, &ex);
  if (*rc == PN_OK) *rc = pn_exec_run(ctx, ex, &x, &y);
  pn_exec_free(ex);
  return y;
}

static void assert_close(const struct pn_tensor *a, const struct pn_tensor *b) {
  assert_int_equal(pn_tensor_numel(a), pn_tensor_numel(b));
  const float *p = a->data, *q = b->data;
  for (int64_t i = 0; i < pn_tensor_numel(a); i++)
    if (!(fabsf(p[i] - q[i]) <= 1e-5f * (1 + fabsf(q[i])))) {
      print_error("element %lld: %g vs %g\n", (long long)i, p[i], q[i]);
      fail();
    }
}

struct seen {
  int calls, relu_calls;
  int order[16];
  float scale;
  bool replace;                /* a new tensor instead of in place */
  int fail_at;                 /* node index whose hook fails, -1 none */
  int drop;                    /* set out[0] = NULL at the Relu */
};

static int scale_relu(void *user, struct pn_ctx *ctx, struct pn_exec_step *st) {
  struct seen *s = user;
  if (s->calls < 16) s->order[s->calls] = st->index;
  s->calls++;
  assert_string_equal(st->node->op_type, pn_op_name(st->op));
  if (st->index == s->fail_at)
    return pn_err(ctx, PN_ERR_INVALID, "node '%s': the test hook refuses it", pn_node_label(st->node));
  if (st->op != PN_OP_RELU) return PN_OK;
  s->relu_calls++;
  assert_int_equal(st->n_in, 1);
  assert_int_equal(st->n_out, 1);
  if (s->drop) { /* the executor still owns the tensor and frees it */
    st->out[0] = NULL;
    return PN_OK;
  }
  struct pn_tensor *o = st->out[0];
  if (s->replace) {
    /* a fresh tensor computed from the input: the executor must free the one it replaces */
    o = pn_tensor_new(PN_DT_FLOAT, st->in[0]->ndim, st->in[0]->dims);
    assert_non_null(o);
    const float *x = st->in[0]->data;
    for (int64_t i = 0; i < pn_tensor_numel(o); i++) ((float *)o->data)[i] = x[i] > 0 ? x[i] : 0;
    st->out[0] = o;
  }
  float *p = o->data;
  for (int64_t i = 0; i < pn_tensor_numel(o); i++) p[i] *= s->scale;
  return PN_OK;
}

struct obs {
  double relu_sum;
};
static void observe(void *user, const struct pn_node *node, const struct pn_tensor *const *in,
                    int n_in, const struct pn_tensor *const *out, int n_out) {
  struct obs *o = user;
  if (strcmp(node->op_type, "Relu")) return;
  for (int64_t i = 0; i < pn_tensor_numel(out[0]); i++) o->relu_sum += ((const float *)out[0]->data)[i];
}

static void test_hook_replaces(void **state) {
  for (int replace = 0; replace < 2; replace++) {
    struct pn_ctx ctx = {0};
    float scale = (float)(0.5 + 2 * pn_prg_double(&prg));
    struct pn_graph *g = net(false, 0), *ref = net(true, scale);
    struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, XD);
    fill(x);
    struct seen s = {.scale = scale, .replace = replace, .fail_at = -1};
    struct obs ob = {0};
    struct pn_exec_opts o = {.hook = scale_relu, .hook_user = &s, .observer = observe,
                             .observer_user = &ob};
    int rc;
    struct pn_tensor *y = run(&ctx, g, &o, x, &rc), *want = run(&ctx, ref, NULL, x, &rc);
    assert_non_null(y);
    assert_non_null(want);
    assert_close(y, want);
    /* every node once, in order, the Relu unfused even though Conv + Relu fuse without a hook */
    assert_int_equal(s.calls, 4);
    assert_int_equal(s.relu_calls, 1);
    for (int i = 0; i < 4; i++) assert_int_equal(s.order[i], i);
    /* the observer saw the hook's output: the Mul's output in the reference graph */
    struct obs ob2 = {0};
    struct pn_exec_opts o2 = {.observer = observe, .observer_user = &ob2};
    pn_tensor_free(run(&ctx, g, &o2, x, &rc));
    assert_true(fabs(ob.relu_sum - scale * ob2.relu_sum) <= 1e-4 * (1 + fabs(ob.relu_sum)));
    pn_tensor_free(y);
    pn_tensor_free(want);
    pn_tensor_free(x);
    pn_graph_free(g);
    pn_graph_free(ref);
  }
}

/* A hook may replace an output by one of another shape: later nodes infer their shapes again. */
static int shrink(void *user, struct pn_ctx *ctx, struct pn_exec_step *st) {
  if (st->op != PN_OP_RELU) return PN_OK;
  const struct pn_tensor *r = st->out[0];
  int64_t d[4] = {r->dims[0], r->dims[1], 1, 1};
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, 4, d);
  if (!t) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  int64_t hw = r->dims[2] * r->dims[3];
  for (int64_t c = 0; c < d[0] * d[1]; c++) {
    double acc = 0;
    for (int64_t i = 0; i < hw; i++) acc += ((const float *)r->data)[c * hw + i];
    ((float *)t->data)[c] = (float)(acc / (double)hw);
  }
  st->out[0] = t; /* the executor frees the one it gave */
  return PN_OK;
}

static void test_hook_changes_shape(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = net(false, 0);
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, XD);
  fill(x);
  int rc;
  struct pn_exec_opts o = {.hook = shrink};
  struct pn_tensor *y = run(&ctx, g, &o, x, &rc), *want = run(&ctx, g, NULL, x, &rc);
  /* GlobalAveragePool of a 1x1 map of the means is the GlobalAveragePool of the map */
  assert_non_null(y);
  assert_int_equal(y->ndim, 2);
  assert_close(y, want);
  pn_tensor_free(y);
  pn_tensor_free(want);
  pn_tensor_free(x);
  pn_graph_free(g);
}

static void test_hook_errors(void **state) {
  struct pn_graph *g = net(false, 0);
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, XD);
  fill(x);
  /* the hook's own error ends the run with its status and message (no leak under ASan) */
  for (int at = 0; at < 4; at++) {
    struct pn_ctx ctx = {0};
    struct seen s = {.scale = 1, .fail_at = at};
    struct pn_exec_opts o = {.hook = scale_relu, .hook_user = &s};
    int rc;
    assert_null(run(&ctx, g, &o, x, &rc));
    assert_int_equal(rc, PN_ERR_INVALID);
    assert_non_null(strstr(pn_errmsg(&ctx), "the test hook refuses it"));
    assert_int_equal(s.calls, at + 1);
  }
  /* dropping an output is refused, naming the node */
  struct pn_ctx ctx = {0};
  struct seen s = {.scale = 1, .fail_at = -1, .drop = 1};
  struct pn_exec_opts o = {.hook = scale_relu, .hook_user = &s};
  int rc;
  assert_null(run(&ctx, g, &o, x, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "'relu'"));
  assert_non_null(strstr(pn_errmsg(&ctx), "dropped output 0"));
  pn_tensor_free(x);
  pn_graph_free(g);
}

/* The index a hook gets is stable across runs and matches g->nodes. */
static int record_index(void *user, struct pn_ctx *ctx, struct pn_exec_step *st) {
  const struct pn_graph *g = user;
  if (g->nodes[st->index] != st->node) return pn_err(ctx, PN_ERR_INVALID, "index %d is not the node", st->index);
  return PN_OK;
}

static void test_hook_index(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = net(true, 2);
  /* reverse the node order: pn_exec_new sorts them, and the index is into the sorted list */
  for (int i = 0; i < g->n_nodes / 2; i++) {
    struct pn_node *t = g->nodes[i];
    g->nodes[i] = g->nodes[g->n_nodes - 1 - i];
    g->nodes[g->n_nodes - 1 - i] = t;
  }
  struct pn_exec_opts o = {.hook = record_index, .hook_user = g};
  struct pn_exec *ex = NULL;
  assert_int_equal(pn_exec_new(&ctx, g, &o, &ex), PN_OK);
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, XD);
  fill(x);
  for (int rep = 0; rep < 2; rep++) {
    struct pn_tensor *y = NULL;
    const struct pn_tensor *in = x;
    int rc = pn_exec_run(&ctx, ex, &in, &y);
    if (rc) print_error("%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    pn_tensor_free(y);
  }
  pn_exec_free(ex);
  pn_tensor_free(x);
  pn_graph_free(g);
}

int main(void) {
  if (pn_prg_init_u64(NULL, &prg, pn_test_seed("test_exec_hook", PN_TEST_SEED_FRESH))) return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hook_replaces),
    cmocka_unit_test(test_hook_changes_shape),
    cmocka_unit_test(test_hook_errors),
    cmocka_unit_test(test_hook_index),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pn_prg_free(&prg);
  return rc;
}
