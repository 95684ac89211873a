/* sentinel_check.h - what the Proteus tests assert of every sentinel (shared by test_sentinel.c
** and test_sentinel_dag.c; include after cmocka.h). */
#ifndef PN_TEST_SENTINEL_CHECK_H
#define PN_TEST_SENTINEL_CHECK_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/exec.h"
#include "graph/onnx.h"
#include "util/util.h"

/* s is valid, survives an ONNX round trip, has part's boundary and runs (batch 2 for a symbolic
** batch) producing the declared shapes. */
static inline void check_sentinel(const struct pn_graph *part, const struct pn_graph *s, struct pn_prg *prg) {
  struct pn_ctx ctx = {0};
  int rt = 0;
  for (int i = 0; i < part->n_inputs; i++) rt += pn_graph_is_runtime_input(part, i);
  assert_int_equal(s->n_inputs, rt);
  assert_int_equal(s->n_outputs, part->n_outputs);
  for (int i = 0; i < part->n_outputs; i++) {
    const struct pn_value *o = pn_graph_find_value(s, part->outputs[i].name);
    assert_non_null(o);
    assert_int_equal(o->ndim, part->outputs[i].ndim);
    assert_int_equal(o->dtype, part->outputs[i].dtype);
    assert_memory_equal(o->dims, part->outputs[i].dims, (size_t)o->ndim * sizeof(int64_t));
  }
  uint8_t *buf = NULL;
  size_t n = 0;
  assert_int_equal(pn_onnx_save(&ctx, s, &buf, &n), PN_OK);
  struct pn_graph *l = NULL;
  assert_int_equal(pn_onnx_load(&ctx, buf, n, &l), PN_OK);
  free(buf);
  if (pn_graph_validate(&ctx, l)) fail_msg("sentinel invalid: %s", pn_errmsg(&ctx));
  /* float weights are finite; a BatchNormalization's running variance is positive */
  for (int i = 0; i < s->n_inits; i++)
    if (s->inits[i]->dtype == PN_DT_FLOAT)
      for (int64_t j = 0; j < pn_tensor_numel(s->inits[i]); j++) assert_true(isfinite(((const float *)s->inits[i]->data)[j]));
  for (int v = 0; v < s->n_nodes; v++) {
    const struct pn_node *nd = s->nodes[v];
    const struct pn_tensor *var = !strcmp(nd->op_type, "BatchNormalization") && nd->n_in == 5
                                      ? pn_graph_find_init(s, nd->in[4]) : NULL;
    for (int64_t j = 0; var && j < pn_tensor_numel(var); j++) assert_true(((const float *)var->data)[j] > 0);
  }
  /* symbolic dims (the batch N) run as 2 */
  struct pn_graph *b = pn_graph_clone(l);
  assert_non_null(b);
  b->n_vinfo = 0;
  for (int i = 0; i < b->n_inputs; i++)
    for (int k = 0; k < b->inputs[i].ndim; k++)
      if (b->inputs[i].dims[k] < 0) b->inputs[i].dims[k] = 2;
  for (int i = 0; i < b->n_outputs; i++)
    for (int k = 0; k < b->outputs[i].ndim; k++)
      if (b->outputs[i].dims[k] < 0) b->outputs[i].dims[k] = 2;
  assert_non_null(b);
  struct pn_exec *ex = NULL;
  if (pn_exec_new(&ctx, b, NULL, &ex)) fail_msg("sentinel plan: %s", pn_errmsg(&ctx));
  int ni = pn_exec_n_inputs(ex), no = pn_exec_n_outputs(ex);
  struct pn_tensor *in[32] = {0}, *out[32] = {0};
  assert_true(ni <= 32 && no <= 32);
  for (int i = 0; i < ni; i++) {
    const struct pn_value *v = pn_exec_input(ex, i);
    in[i] = pn_tensor_new(v->dtype, v->ndim, v->dims);
    assert_non_null(in[i]);
    if (v->dtype == PN_DT_FLOAT)
      pn_prg_normal_f32(prg, in[i]->data, (size_t)pn_tensor_numel(in[i]), 0, 1);
  }
  if (pn_exec_run(&ctx, ex, (const struct pn_tensor *const *)in, out)) fail_msg("sentinel run: %s", pn_errmsg(&ctx));
  for (int i = 0; i < no; i++) {
    const struct pn_value *v = pn_exec_output(ex, i);
    assert_int_equal(out[i]->ndim, v->ndim);
    assert_memory_equal(out[i]->dims, v->dims, (size_t)v->ndim * sizeof(int64_t));
    pn_tensor_free(out[i]);
  }
  for (int i = 0; i < ni; i++) pn_tensor_free(in[i]);
  pn_exec_free(ex);
  pn_graph_free(b);
  pn_graph_free(l);
}

#endif
