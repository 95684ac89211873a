/* test_graph.c - IR building, cloning, topological sort, validation errors, shape inference, executor. */
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
#include "util/util.h"

static const int64_t D_1x3x8x8[] = {1, 3, 8, 8};

/* x -> Conv(w, b) -> Relu -> Add(skip x') -> y, plus a Reshape fed by a Shape chain. */
static struct pn_graph *small_graph(void) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, D_1x3x8x8));
  int64_t wd[] = {4, 3, 3, 3};
  struct pn_tensor *w = pn_graph_new_init(g, "w", PN_DT_FLOAT, 4, wd);
  assert_non_null(w);
  for (int i = 0; i < 4 * 27; i++) ((float *)w->data)[i] = (float)((i % 7) - 3) * 0.1f;
  int64_t bd[] = {4};
  struct pn_tensor *b = pn_graph_new_init(g, "b", PN_DT_FLOAT, 1, bd);
  for (int i = 0; i < 4; i++) ((float *)b->data)[i] = 0.5f * (float)i - 0.75f;
  const char *cin[] = {"x", "w", "b"}, *cout[] = {"c"};
  struct pn_node *conv = pn_graph_add_node(g, "Conv", "conv1", 3, cin, 1, cout);
  int64_t pads[] = {1, 1, 1, 1}, ks[] = {3, 3};
  assert_int_equal(pn_node_set_ints(g, conv, "pads", 4, pads), PN_OK);
  assert_int_equal(pn_node_set_ints(g, conv, "kernel_shape", 2, ks), PN_OK);
  const char *rin[] = {"c"}, *rout[] = {"r"};
  pn_graph_add_node(g, "Relu", "relu1", 1, rin, 1, rout);
  const char *sin[] = {"r"}, *sout[] = {"s"};
  pn_graph_add_node(g, "Shape", "shape1", 1, sin, 1, sout);
  const char *fin[] = {"r", "s"}, *fout[] = {"y"};
  pn_graph_add_node(g, "Reshape", "reshape1", 2, fin, 1, fout);
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  return g;
}

static void test_build_and_clone(void **state) {
  struct pn_graph *g = small_graph();
  assert_int_equal(g->n_nodes, 4);
  assert_int_equal(pn_graph_opset(g, ""), 17);
  assert_int_equal(pn_graph_opset(g, "ai.onnx"), 17);
  assert_int_equal(pn_graph_opset(g, "com.example"), 0);
  const struct pn_attr *a = pn_node_attr(g->nodes[0], "pads");
  assert_non_null(a);
  assert_int_equal(a->type, PN_ATTR_INTS);
  assert_int_equal(a->n, 4);
  /* replacing an attribute keeps one copy */
  int64_t p2[] = {0, 0, 0, 0};
  pn_node_set_ints(g, g->nodes[0], "pads", 4, p2);
  assert_int_equal(g->nodes[0]->n_attr, 2);
  assert_int_equal(pn_node_attr(g->nodes[0], "pads")->ints[0], 0);
  pn_node_set_ints(g, g->nodes[0], "pads", 4, (int64_t[]){1, 1, 1, 1});
  struct pn_ctx ctx = {0};
  int64_t v;
  assert_int_equal(pn_node_get_int(&ctx, g->nodes[0], "group", 1, &v), PN_OK);
  assert_int_equal(v, 1);
  assert_int_equal(pn_node_get_int(&ctx, g->nodes[0], "pads", 1, &v), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "conv1"));
  assert_non_null(strstr(pn_errmsg(&ctx), "pads"));

  struct pn_graph *c = pn_graph_clone(g);
  assert_non_null(c);
  assert_int_equal(c->n_nodes, g->n_nodes);
  assert_int_equal(c->n_inits, g->n_inits);
  for (int i = 0; i < g->n_nodes; i++) {
    assert_string_equal(c->nodes[i]->op_type, g->nodes[i]->op_type);
    assert_ptr_not_equal(c->nodes[i], g->nodes[i]);
  }
  assert_memory_equal(c->inits[0]->data, g->inits[0]->data, pn_tensor_nbytes(g->inits[0]));
  assert_ptr_not_equal(c->inits[0]->data, g->inits[0]->data);
  /* a shared clone: the initializers' data is g's, their structs and names its own */
  struct pn_graph *sc = pn_graph_clone_shared(g);
  assert_non_null(sc);
  assert_int_equal(sc->n_inits, g->n_inits);
  for (int i = 0; i < g->n_inits; i++) {
    assert_ptr_equal(sc->inits[i]->data, g->inits[i]->data);
    assert_ptr_not_equal(sc->inits[i], g->inits[i]);
    assert_ptr_not_equal(sc->inits[i]->name, g->inits[i]->name);
    assert_string_equal(sc->inits[i]->name, g->inits[i]->name);
    assert_false(sc->inits[i]->heap);
  }
  struct pn_tensor *sh = pn_graph_add_init_shared(sc, g->inits[0], "again");
  assert_non_null(sh);
  assert_ptr_equal(sh->data, g->inits[0]->data);
  assert_string_equal(sh->name, "again");
  assert_string_equal(g->inits[0]->name, c->inits[0]->name); /* the source keeps its name */
  /* removing one from the clone leaves g's; freeing the clone first leaves g intact (ASan) */
  int n0 = g->n_inits;
  pn_graph_remove_init(sc, 0);
  assert_int_equal(g->n_inits, n0);
  pn_graph_free(sc);
  assert_memory_equal(c->inits[0]->data, g->inits[0]->data, pn_tensor_nbytes(g->inits[0]));
  pn_graph_free(g);
  pn_graph_free(c);
}

static void test_topo_sort(void **state) {
  struct pn_graph *g = small_graph();
  /* reverse the node order; sorting must restore a valid order */
  for (int i = 0; i < g->n_nodes / 2; i++) {
    struct pn_node *t = g->nodes[i];
    g->nodes[i] = g->nodes[g->n_nodes - 1 - i];
    g->nodes[g->n_nodes - 1 - i] = t;
  }
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_graph_topo_sort(&ctx, g), PN_OK);
  assert_string_equal(g->nodes[0]->name, "conv1");
  assert_string_equal(g->nodes[1]->name, "relu1");
  assert_string_equal(g->nodes[2]->name, "shape1");
  assert_string_equal(g->nodes[3]->name, "reshape1");
  /* a sorted graph keeps its order */
  assert_int_equal(pn_graph_topo_sort(&ctx, g), PN_OK);
  assert_string_equal(g->nodes[2]->name, "shape1");
  pn_graph_free(g);
}

static void test_validate_errors(void **state) {
  struct pn_ctx ctx = {0};
  /* dangling input */
  struct pn_graph *g = small_graph();
  g->nodes[1]->in[0] = "nowhere";
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "relu1"));
  assert_non_null(strstr(pn_errmsg(&ctx), "nowhere"));
  pn_graph_free(g);
  /* cycle: relu reads reshape's output */
  g = small_graph();
  g->nodes[1]->in[0] = "y";
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "cycle"));
  pn_graph_free(g);
  /* a value produced twice */
  g = small_graph();
  g->nodes[2]->out[0] = "r";
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "'r'"));
  pn_graph_free(g);
  /* duplicate node names */
  g = small_graph();
  g->nodes[1]->name = "conv1";
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "conv1"));
  pn_graph_free(g);
  /* unknown op */
  g = small_graph();
  g->nodes[1]->op_type = "FancyRelu";
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "FancyRelu"));
  pn_graph_free(g);
  /* an op from another domain, and an opset newer than privnn implements */
  g = small_graph();
  g->nodes[1]->domain = "com.evil";
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "com.evil"));
  pn_graph_free(g);
  g = small_graph();
  pn_graph_set_opset(g, "", PN_OPSET_MAX + 1);
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "opset"));
  pn_graph_free(g);
  /* wrong arity */
  g = small_graph();
  g->nodes[1]->n_in = 0;
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "relu1"));
  pn_graph_free(g);
  /* a graph output nobody produces */
  g = small_graph();
  pn_graph_add_output(g, "ghost", PN_DT_FLOAT, -1, NULL);
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "ghost"));
  pn_graph_free(g);
}

static void test_shape_inference(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = small_graph();
  int rc = pn_graph_infer_shapes(&ctx, g);
  assert_int_equal(rc, PN_OK);
  const struct pn_value *c = pn_graph_find_vinfo(g, "c");
  assert_non_null(c);
  assert_int_equal(c->dtype, PN_DT_FLOAT);
  assert_int_equal(c->ndim, 4);
  int64_t want[] = {1, 4, 8, 8};
  for (int k = 0; k < 4; k++) assert_int_equal(c->dims[k], want[k]);
  /* Reshape by a Shape chain: exact output shape through constant folding */
  assert_int_equal(g->outputs[0].ndim, 4);
  for (int k = 0; k < 4; k++) assert_int_equal(g->outputs[0].dims[k], want[k]);
  pn_graph_free(g);

  /* a declared output shape that disagrees is an error naming the value */
  g = small_graph();
  g->outputs[0].ndim = 2;
  g->outputs[0].dims[0] = 1;
  g->outputs[0].dims[1] = 256;
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "'y'"));
  pn_graph_free(g);

  /* channel mismatch: weights for 5 input channels */
  g = small_graph();
  g->inits[0]->dims[1] = 5;
  g->inits[0]->dims[0] = 4;
  g->inits[0]->dims[2] = 3;
  g->inits[0]->dims[3] = 1; /* 4*5*3*1 = 60 <= allocated 108 */
  assert_int_not_equal(pn_graph_validate(&ctx, g), PN_OK);
  assert_non_null(strstr(pn_errmsg(&ctx), "conv1"));
  pn_graph_free(g);

  /* unknown batch dimension propagates as -1 */
  g = small_graph();
  g->inputs[0].dims[0] = -1;
  assert_int_equal(pn_graph_infer_shapes(&ctx, g), PN_OK);
  c = pn_graph_find_vinfo(g, "r");
  assert_non_null(c);
  assert_int_equal(c->dims[0], -1);
  assert_int_equal(c->dims[1], 4);
  pn_graph_free(g);
}

/* Direct convolution + ReLU in the test, to compare with the executor's result. */
static void reference(const struct pn_graph *g, const float *x, float *y) {
  const float *w = g->inits[0]->data, *b = g->inits[1]->data;
  for (int o = 0; o < 4; o++)
    for (int i = 0; i < 8; i++)
      for (int j = 0; j < 8; j++) {
        double acc = b[o];
        for (int c = 0; c < 3; c++)
          for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++) {
              int ii = i + ki - 1, jj = j + kj - 1;
              if (ii < 0 || jj < 0 || ii >= 8 || jj >= 8) continue;
              acc += (double)w[((o * 3 + c) * 3 + ki) * 3 + kj] * x[(c * 8 + ii) * 8 + jj];
            }
        y[(o * 8 + i) * 8 + j] = acc > 0 ? (float)acc : 0.0f;
      }
}

struct obs_count {
  int nodes;
  int relu_seen;
};

static void observer(void *user, const struct pn_node *node, const struct pn_tensor *const *in,
                     int n_in, const struct pn_tensor *const *out, int n_out) {
  struct obs_count *c = user;
  c->nodes++;
  if (!strcmp(node->op_type, "Relu")) {
    c->relu_seen = 1;
    assert_int_equal(n_in, 1);
    assert_int_equal(n_out, 1);
    assert_int_equal(pn_tensor_numel(in[0]), pn_tensor_numel(out[0]));
  }
}

static void test_exec(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = small_graph();
  struct obs_count oc = {0};
  struct pn_exec_opts opts = {.observer = observer, .observer_user = &oc};
  struct pn_exec *ex;
  int rc = pn_exec_new(&ctx, g, &opts, &ex);
  if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  assert_int_equal(pn_exec_n_inputs(ex), 1);
  assert_int_equal(pn_exec_n_outputs(ex), 1);
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, D_1x3x8x8);
  struct pn_prg prg;
  uint8_t seed[PN_SEED_BYTES] = {9};
  pn_prg_init(&ctx, &prg, seed);
  for (int i = 0; i < 192; i++) ((float *)x->data)[i] = (float)pn_prg_normal(&prg);
  pn_prg_free(&prg);
  struct pn_tensor *y = NULL;
  const struct pn_tensor *ins[] = {x};
  for (int rep = 0; rep < 2; rep++) { /* the executor is reusable */
    rc = pn_exec_run(&ctx, ex, ins, &y);
    if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    assert_int_equal(y->ndim, 4);
    float want[256];
    reference(g, x->data, want);
    for (int i = 0; i < 256; i++) assert_true(fabsf(((float *)y->data)[i] - want[i]) < 1e-4f);
    pn_tensor_free(y);
  }
  assert_int_equal(oc.nodes, 8);
  assert_true(oc.relu_seen);
  /* wrong input shape / dtype name the input */
  int64_t bad[] = {1, 3, 9, 8};
  struct pn_tensor *xb = pn_tensor_new(PN_DT_FLOAT, 4, bad);
  const struct pn_tensor *bins[] = {xb};
  assert_int_equal(pn_exec_run(&ctx, ex, bins, &y), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "'x'"));
  pn_tensor_free(xb);
  xb = pn_tensor_new(PN_DT_INT64, 4, D_1x3x8x8);
  bins[0] = xb;
  assert_int_equal(pn_exec_run(&ctx, ex, bins, &y), PN_ERR_INVALID);
  pn_tensor_free(xb);
  pn_tensor_free(x);
  pn_exec_free(ex);
  pn_exec_free(NULL);
  pn_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_build_and_clone), cmocka_unit_test(test_topo_sort),
    cmocka_unit_test(test_validate_errors), cmocka_unit_test(test_shape_inference),
    cmocka_unit_test(test_exec),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
