/* kernel_harness.h - shared harness of the kernel tests: a seeded PRG (PN_TEST_SEED replays a run),
** random tensors, and calls of one op through pn_op_defs[] infer + run on a scratch graph, the way
** the executor calls kernels. Define PN_TEST_NAME before including. */
#ifndef PN_KERNEL_HARNESS_H
#define PN_KERNEL_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "graph/op_def.h"
#include "util/util.h"
#include "pn_test.h"

/* ---- harness ---- */

static struct pn_prg prg;

static inline int setup_prg(void **state) {
  return pn_prg_init_u64(NULL, &prg, pn_test_seed(PN_TEST_NAME, PN_TEST_SEED_FRESH));
}
static inline int teardown_prg(void **state) {
  pn_prg_free(&prg);
  return 0;
}

static inline int64_t irand(int64_t lo, int64_t hi) { /* [lo, hi] */
  return lo + (int64_t)pn_prg_uniform(&prg, (uint64_t)(hi - lo + 1));
}
static inline double urand(double lo, double hi) { return lo + (hi - lo) * pn_prg_double(&prg); }

/* One node of a scratch graph. Inputs are named i0.., outputs o0..; "" marks omitted ones. */
struct call {
  struct pn_graph *g;
  struct pn_node *n;
  struct pn_ctx ctx;
  int op;
  int64_t opset;
};

static inline void call_init(struct call *c, const char *op, int n_in, int n_out, int64_t opset) {
  char names[2][16][16];
  const char *in[16], *out[16];
  for (int i = 0; i < n_in; i++) snprintf(names[0][i], 16, "i%d", i), in[i] = names[0][i];
  for (int i = 0; i < n_out; i++) snprintf(names[1][i], 16, "o%d", i), out[i] = names[1][i];
  memset(&c->ctx, 0, sizeof c->ctx);
  c->g = pn_graph_new();
  assert_non_null(c->g);
  c->n = pn_graph_add_node(c->g, op, "t", n_in, in, n_out, out);
  assert_non_null(c->n);
  c->op = pn_op_find("", op);
  assert_true(c->op >= 0);
  c->opset = opset;
}

static inline void call_omit_input(struct call *c, int i) { c->n->in[i] = ""; }
static inline void call_omit_output(struct call *c, int i) { c->n->out[i] = ""; }
static inline void call_free(struct call *c) { pn_graph_free(c->g); }

static inline int call_infer(struct call *c, const struct pn_shape *in, struct pn_shape *out) {
  struct pn_op_args a = {&c->ctx, c->n, c->opset};
  for (int j = 0; j < c->n->n_out; j++) {
    memset(&out[j], 0, sizeof out[j]);
    out[j].ndim = -1;
  }
  return pn_op_defs[c->op].infer(&a, in, c->n->n_in, out, c->n->n_out);
}

/* Like the executor: infer with values, allocate outputs, run. in[i] NULL = omitted input. On
** success out[j] are heap tensors (NULL for omitted outputs); on failure all are NULL. */
static inline int call_run(struct call *c, const struct pn_tensor *const *in, struct pn_tensor **out) {
  struct pn_shape sin[16], sout[16];
  struct pn_op_args a = {&c->ctx, c->n, c->opset};
  for (int i = 0; i < c->n->n_in; i++) {
    memset(&sin[i], 0, sizeof sin[i]);
    sin[i].ndim = -1;
    if (in[i]) {
      pn_shape_set(&sin[i], in[i]->dtype, in[i]->ndim, in[i]->dims);
      sin[i].value = in[i];
    }
  }
  int rc = call_infer(c, sin, sout);
  for (int j = 0; j < c->n->n_out; j++) out[j] = NULL;
  if (rc) return rc;
  for (int j = 0; j < c->n->n_out; j++) {
    if (!c->n->out[j][0]) continue;
    assert_true(sout[j].ndim >= 0);
    for (int k = 0; k < sout[j].ndim; k++) assert_true(sout[j].dims[k] >= 0);
    out[j] = pn_tensor_new(sout[j].dtype, sout[j].ndim, sout[j].dims);
    assert_non_null(out[j]);
  }
  rc = pn_op_defs[c->op].run(&a, in, c->n->n_in, out, c->n->n_out);
  if (rc)
    for (int j = 0; j < c->n->n_out; j++) pn_tensor_free(out[j]), out[j] = NULL;
  return rc;
}

/* Single-input, single-output run; returns the output or NULL (rc in *rc). */
static inline struct pn_tensor *run1(struct call *c, const struct pn_tensor *const *in, int *rc) {
  struct pn_tensor *out[16];
  *rc = call_run(c, in, out);
  return out[0];
}

/* noinline: GCC otherwise warns about compound-literal value arrays it cannot size. */
__attribute__((noinline)) static struct pn_tensor *tensor(enum pn_dtype dt, int nd,
                                                         const int64_t *dims, const double *v) {
  struct pn_tensor *t = pn_tensor_new(dt, nd, dims);
  assert_non_null(t);
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; v && i < n; i++) {
    switch (dt) {
    case PN_DT_FLOAT: ((float *)t->data)[i] = (float)v[i]; break;
    case PN_DT_DOUBLE: ((double *)t->data)[i] = v[i]; break;
    case PN_DT_INT32: ((int32_t *)t->data)[i] = (int32_t)v[i]; break;
    case PN_DT_INT64: ((int64_t *)t->data)[i] = (int64_t)v[i]; break;
    case PN_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)v[i]; break;
    default: ((uint8_t *)t->data)[i] = (uint8_t)v[i]; break;
    }
  }
  return t;
}

static inline struct pn_tensor *ints(int n, const int64_t *v) {
  int64_t d = n;
  struct pn_tensor *t = pn_tensor_new(PN_DT_INT64, 1, &d);
  assert_non_null(t);
  if (n) memcpy(t->data, v, (size_t)n * sizeof *v);
  return t;
}

static inline struct pn_tensor *scalar(enum pn_dtype dt, double v) { return tensor(dt, 0, NULL, &v); }

/* Random contents: floats in [-3, 3], integers over a range that exercises wrap-around. */
static inline struct pn_tensor *trand(enum pn_dtype dt, int nd, const int64_t *dims) {
  struct pn_tensor *t = tensor(dt, nd, dims, NULL);
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    switch (dt) {
    case PN_DT_FLOAT: ((float *)t->data)[i] = (float)urand(-3, 3); break;
    case PN_DT_DOUBLE: ((double *)t->data)[i] = urand(-3, 3); break;
    case PN_DT_INT32: ((int32_t *)t->data)[i] = (int32_t)irand(-100000, 100000); break;
    case PN_DT_INT64: ((int64_t *)t->data)[i] = irand(-(INT64_C(1) << 40), INT64_C(1) << 40); break;
    case PN_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)irand(-128, 127); break;
    case PN_DT_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)irand(0, 1); break;
    default: ((uint8_t *)t->data)[i] = (uint8_t)irand(0, 255); break;
    }
  }
  return t;
}

static inline double get(const struct pn_tensor *t, int64_t i) { return pn_tensor_get_f64(t, i); }

static inline void assert_shape(const struct pn_tensor *t, int nd, const int64_t *dims) {
  assert_non_null(t);
  assert_int_equal(t->ndim, nd);
  for (int i = 0; i < nd; i++) assert_int_equal(t->dims[i], dims[i]);
}

static inline void assert_values(const struct pn_tensor *t, int64_t n, const double *v) {
  assert_int_equal(pn_tensor_numel(t), n);
  for (int64_t i = 0; i < n; i++)
    if (get(t, i) != v[i] && !(isnan(v[i]) && isnan(get(t, i)))) {
      printf("element %" PRId64 ": got %.17g, want %.17g\n", i, get(t, i), v[i]);
      fail();
    }
}

static inline void unravel(int64_t idx, int nd, const int64_t *dims, int64_t *out) {
  for (int i = nd - 1; i >= 0; i--) {
    out[i] = dims[i] ? idx % dims[i] : 0;
    idx = dims[i] ? idx / dims[i] : 0;
  }
}

/* Flat index into an operand of shape d[0..n) broadcast to an output index oi of rank nd. */
static inline int64_t bcast_index(int nd, const int64_t *oi, int n, const int64_t *d) {
  int64_t idx = 0;
  for (int j = 0; j < n; j++) idx = idx * d[j] + (d[j] == 1 ? 0 : oi[j + nd - n]);
  return idx;
}

#endif
