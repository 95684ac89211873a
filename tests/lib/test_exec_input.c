/* test_exec_input.c - pn_exec_input_new: an input tensor for a model whose batch dim is symbolic.
**
** models/lenet5.onnx has input [N,1,28,28]. A tensor made for batch 3 has that shape, is zeroed, and
** runs: each row of the batch-3 logits equals the logits of the same image run alone (batch 1), on
** seeded random images. Errors name the input: batch < 1, an index past the inputs, an unknown dim
** other than the first. A graph with a fixed batch keeps its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "graph/exec.h"
#include "graph/ir.h"
#include "graph/onnx.h"
#include "util/prg.h"
#include "util/status.h"
#include "pn_test.h"

#define MODEL PN_SOURCE_DIR "/models/lenet5.onnx"

static void test_symbolic_batch(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  struct pn_exec *ex = NULL;
  assert_int_equal(pn_onnx_load_file(&ctx, MODEL, &g), PN_OK);
  assert_int_equal(pn_exec_new(&ctx, g, NULL, &ex), PN_OK);
  struct pn_tensor *x = NULL, *x1 = NULL;
  assert_int_equal(pn_exec_input_new(&ctx, ex, 0, 3, &x), PN_OK);
  assert_int_equal(x->dtype, PN_DT_FLOAT);
  assert_int_equal(x->ndim, 4);
  int64_t want[4] = {3, 1, 28, 28};
  assert_memory_equal(x->dims, want, sizeof want);
  float *xf = x->data;
  for (int64_t i = 0; i < pn_tensor_numel(x); i++) assert_true(xf[i] == 0.0f);
  struct pn_prg prg;
  pn_prg_init_u64(NULL, &prg, pn_test_seed("test_exec_input", 7));
  for (int64_t i = 0; i < pn_tensor_numel(x); i++) xf[i] = (float)pn_prg_normal(&prg);
  pn_prg_free(&prg);
  struct pn_tensor *out[1] = {NULL}, *out1[1] = {NULL};
  const struct pn_tensor *in[1] = {x};
  assert_int_equal(pn_exec_run(&ctx, ex, in, out), PN_OK);
  assert_int_equal(out[0]->dims[0], 3);
  assert_int_equal(out[0]->dims[1], 10);
  /* each image alone, batch 1, gives the same row */
  for (int b = 0; b < 3; b++) {
    assert_int_equal(pn_exec_input_new(&ctx, ex, 0, 1, &x1), PN_OK);
    assert_int_equal(x1->dims[0], 1);
    memcpy(x1->data, xf + b * 784, 784 * sizeof(float));
    const struct pn_tensor *in1[1] = {x1};
    assert_int_equal(pn_exec_run(&ctx, ex, in1, out1), PN_OK);
    const float *z = out[0]->data, *z1 = out1[0]->data;
    for (int k = 0; k < 10; k++) assert_float_equal(z[b * 10 + k], z1[k], 1e-5 * (1 + (z1[k] < 0 ? -z1[k] : z1[k])));
    pn_tensor_free(out1[0]);
    pn_tensor_free(x1);
  }
  pn_tensor_free(out[0]);
  pn_tensor_free(x);
  /* errors name the input */
  assert_int_equal(pn_exec_input_new(&ctx, ex, 0, 0, &x), PN_ERR_INVALID);
  assert_null(x);
  assert_non_null(strstr(pn_errmsg(&ctx), "input 'input'"));
  assert_non_null(strstr(pn_errmsg(&ctx), "(N)"));
  assert_int_equal(pn_exec_input_new(&ctx, ex, 1, 1, &x), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "no runtime input 1"));
  pn_exec_free(ex);
  /* an unknown dim that is not the batch */
  g->inputs[0].dims[2] = -1;
  g->inputs[0].dim_param[2] = "H";
  struct pn_exec *ex2 = NULL;
  assert_int_equal(pn_exec_new(&ctx, g, NULL, &ex2), PN_OK);
  assert_int_equal(pn_exec_input_new(&ctx, ex2, 0, 1, &x), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "dim 2 (H) is unknown"));
  pn_exec_free(ex2);
  g->inputs[0].dims[2] = 28;
  g->inputs[0].dim_param[2] = NULL;
  /* a fixed batch stays */
  struct pn_graph *g5 = pn_graph_clone_batch(g, 5);
  assert_non_null(g5);
  assert_int_equal(pn_exec_new(&ctx, g5, NULL, &ex), PN_OK);
  assert_int_equal(pn_exec_input_new(&ctx, ex, 0, 3, &x), PN_OK);
  assert_int_equal(x->dims[0], 5);
  pn_tensor_free(x);
  pn_exec_free(ex);
  pn_graph_free(g5);
  pn_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_symbolic_batch)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
