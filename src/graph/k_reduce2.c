/* k_reduce2.c - ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum
** and ReduceLogSumExp over any set of axes (keepdims, noop_with_empty_axes).
**
** Axes are the 'axes' attribute up to opset 17 and an optional input from opset 18. The input is
** walked once in order with a pn_iter whose one operand is the output offset (stride 0 on reduced
** dims), combining into one accumulator per output: double for float inputs (ReduceLogSumExp
** makes a first pass for the maximum so large values do not overflow), int64 with wrap-around for
** integer inputs (Max, Min, Prod, L1, SumSquare). An empty reduction gives the identity: -inf /
** +inf for Max / Min of floats, 1 for Prod, 0 for the sums (so -inf for the logs). */
#include <stdlib.h>

#include "graph/k_xutil.h"

enum red_op { R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_SUMSQ, R_LOGSUM, R_LOGSUMEXP };

#define INT_RED (PN_DT_BIT(PN_DT_INT32) | PN_DT_BIT(PN_DT_INT64) | PN_DT_BIT(PN_DT_INT8) | \
                 PN_DT_BIT(PN_DT_UINT8))

static unsigned red_dtypes(enum red_op op) {
  return op == R_L2 || op == R_LOGSUM || op == R_LOGSUMEXP ? PN_DT_FLOATS
         : op == R_MAX || op == R_MIN                     ? PN_DT_FLOATS | INT_RED
                                                          : PN_DT_FLOATS | PN_DT_BIT(PN_DT_INT32) |
                                                                PN_DT_BIT(PN_DT_INT64);
}

/* Which dims are reduced, and the output shape: the plan shared with ReduceSum/ReduceMean. */
static int red_plan(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                    enum red_op op, struct pn_reduce_plan *p, bool *known) {
  return pn_reduce_plan(a, in, n_in, red_dtypes(op), 18, p, known);
}

static int infer_red(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                     struct pn_shape *out, enum red_op op) {
  struct pn_reduce_plan p;
  bool known;
  int rc = red_plan(a, in, n_in, op, &p, &known);
  if (rc) return rc;
  pn_shape_set(out, in[0].dtype, p.out_nd, p.out_dims);
  return PN_OK;
}

static double ld_f(const struct pn_tensor *t, int64_t i) {
  return t->dtype == PN_DT_FLOAT ? ((const float *)t->data)[i] : ((const double *)t->data)[i];
}

/* Per-element combine of an accumulator with x (floats). */
static inline double comb_f(enum red_op op, double acc, double x, double shift) {
  switch (op) {
  case R_MAX: return (x > acc || x != x) ? x : acc;
  case R_MIN: return (x < acc || x != x) ? x : acc;
  case R_PROD: return acc * x;
  case R_L1: return acc + fabs(x);
  case R_L2: case R_SUMSQ: return acc + x * x;
  case R_LOGSUM: return acc + x;
  default: return acc + exp(x - shift);
  }
}

static inline uint64_t comb_i(enum red_op op, uint64_t acc, int64_t x) {
  switch (op) {
  case R_MAX: return x > (int64_t)acc ? (uint64_t)x : acc;
  case R_MIN: return x < (int64_t)acc ? (uint64_t)x : acc;
  case R_PROD: return acc * (uint64_t)x;
  case R_L1: return acc + (x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x);
  default: return acc + (uint64_t)x * (uint64_t)x;
  }
}

static double init_f(enum red_op op) {
  return op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : op == R_PROD ? 1 : 0;
}

static uint64_t init_i(enum red_op op, enum pn_dtype dt) {
  int64_t lo = dt == PN_DT_INT32 ? INT32_MIN : dt == PN_DT_INT8 ? INT8_MIN : dt == PN_DT_UINT8 ? 0 : INT64_MIN;
  int64_t hi = dt == PN_DT_INT32 ? INT32_MAX : dt == PN_DT_INT8 ? INT8_MAX : dt == PN_DT_UINT8 ? UINT8_MAX : INT64_MAX;
  return op == R_MAX ? (uint64_t)lo : op == R_MIN ? (uint64_t)hi : op == R_PROD ? 1 : 0;
}

static double final_f(enum red_op op, double acc, double shift) {
  switch (op) {
  case R_L2: return sqrt(acc);
  case R_LOGSUM: return log(acc);
  case R_LOGSUMEXP: return log(acc) + shift;
  default: return acc;
  }
}

static void store_out(struct pn_tensor *y, int64_t i, double vf, uint64_t vi) {
  switch (y->dtype) {
  case PN_DT_FLOAT: ((float *)y->data)[i] = (float)vf; break;
  case PN_DT_DOUBLE: ((double *)y->data)[i] = vf; break;
  case PN_DT_INT32: ((int32_t *)y->data)[i] = (int32_t)(uint32_t)vi; break;
  case PN_DT_INT8: ((int8_t *)y->data)[i] = (int8_t)(uint8_t)vi; break;
  case PN_DT_UINT8: ((uint8_t *)y->data)[i] = (uint8_t)vi; break;
  default: ((int64_t *)y->data)[i] = (int64_t)vi; break;
  }
}

static int run_red(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                   struct pn_tensor *const *out, enum red_op op) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *Y = out[0];
  struct pn_reduce_plan p;
  bool done;
  int rc = pn_reduce_run_plan(a, in, n_in, Y, red_dtypes(op), 18, &p, &done);
  if (rc || done) return rc;
  int r = X->ndim;
  int64_t nout = pn_tensor_numel(Y);
  bool isf = X->dtype == PN_DT_FLOAT || X->dtype == PN_DT_DOUBLE;
  int64_t ost[PN_MAX_DIMS], kd[PN_MAX_DIMS], st[1][PN_MAX_DIMS];
  for (int i = 0; i < r; i++) kd[i] = p.red[i] ? 1 : X->dims[i];
  pn_strides(r, kd, ost);
  for (int i = 0; i < r; i++) st[0][i] = p.red[i] ? 0 : ost[i];
  struct pn_iter it;
  pn_iter_init(&it, r, X->dims, 1, st);
  if (nout == 0) return PN_OK;
  double *accf = isf ? malloc((size_t)nout * sizeof *accf) : NULL;
  double *shift = isf && op == R_LOGSUMEXP ? malloc((size_t)nout * sizeof *shift) : NULL;
  uint64_t *acci = isf ? NULL : malloc((size_t)nout * sizeof *acci);
  if ((isf && !accf) || (!isf && !acci) || (op == R_LOGSUMEXP && !shift)) {
    free(accf), free(shift), free(acci);
    return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  }
  int64_t s = it.st[0][it.nd - 1];
  if (shift) { /* first pass: per-output maximum (0 when empty or infinite) */
    for (int64_t o = 0; o < nout; o++) shift[o] = -INFINITY;
    for (int64_t b = 0; b < it.nblock; b++) {
      int64_t off[PN_ITER_OPS], xo, len;
      pn_iter_block(&it, b, off, &xo, &len);
      for (int64_t i = 0; i < len; i++) {
        double x = ld_f(X, xo + i);
        if (x > shift[off[0] + i * s]) shift[off[0] + i * s] = x;
      }
    }
    for (int64_t o = 0; o < nout; o++)
      if (isinf(shift[o])) shift[o] = 0;
  }
  for (int64_t o = 0; o < nout; o++) {
    if (isf) accf[o] = init_f(op);
    else acci[o] = init_i(op, X->dtype);
  }
  for (int64_t b = 0; b < it.nblock; b++) {
    int64_t off[PN_ITER_OPS], xo, len;
    pn_iter_block(&it, b, off, &xo, &len);
    for (int64_t i = 0; i < len; i++) {
      int64_t o = off[0] + i * s;
      if (isf) accf[o] = comb_f(op, accf[o], ld_f(X, xo + i), shift ? shift[o] : 0);
      else acci[o] = comb_i(op, acci[o], pn_tensor_get_i64(X, xo + i));
    }
  }
  for (int64_t o = 0; o < nout; o++)
    store_out(Y, o, isf ? final_f(op, accf[o], shift ? shift[o] : 0) : 0, isf ? 0 : acci[o]);
  free(accf);
  free(shift);
  free(acci);
  return PN_OK;
}

#define RED_X(fn, OP)                                                                          \
  int pn_infer_##fn(const struct pn_op_args *a, const struct pn_shape *in, int n_in,         \
                    struct pn_shape *out, int n_out) {                                       \
    return infer_red(a, in, n_in, out, OP);                                                    \
  }                                                                                            \
  int pn_run_##fn(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,   \
                  struct pn_tensor *const *out, int n_out) {                                 \
    return run_red(a, in, n_in, out, OP);                                                      \
  }
RED_X(reduce_max, R_MAX)
RED_X(reduce_min, R_MIN)
RED_X(reduce_prod, R_PROD)
RED_X(reduce_l1, R_L1)
RED_X(reduce_l2, R_L2)
RED_X(reduce_sum_square, R_SUMSQ)
RED_X(reduce_log_sum, R_LOGSUM)
RED_X(reduce_log_sum_exp, R_LOGSUMEXP)
