/* k_reduce.c - ReduceSum and ReduceMean over any set of axes (keepdims, noop_with_empty_axes).
**
** Axes come from the 'axes' attribute before the opset where they became an input (13 for
** ReduceSum, 18 for ReduceMean). When the reduced axes are the trailing ones (after merging
** neighbours and dropping size-1 dims) every output element sums one contiguous run, in parallel;
** otherwise the input is walked once, adding into a double (or int64) accumulator per output.
** Floats accumulate in double; integers in int64 with wrap-around. */
#include <stdlib.h>

#include "graph/k_util.h"

#define REDUCE_DTYPES (PN_DT_FLOATS | PN_DT_BIT(PN_DT_INT32) | PN_DT_BIT(PN_DT_INT64))

/* Which dims a Reduce* node reduces, and its output shape (dims -1 when the axes or the rank are
** unknown). Axes come from the 'axes' attribute before opset axes_input_from and from the optional
** second input after; noop_with_empty_axes exists from that opset too. Shared by every Reduce op. */
int pn_reduce_plan(const struct pn_op_args *a, const struct pn_shape *in, int n_in, unsigned dtypes,
                   int64_t axes_input_from, struct pn_reduce_plan *p, bool *known) {
  int64_t keep, noop = 0, ax[PN_MAX_DIMS], n = -1;
  int rc, r = in[0].ndim;
  if ((rc = pn_check_dtype(a, "input", in[0].dtype, dtypes)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "keepdims", 1, &keep)))
    return rc;
  *known = true;
  if (a->opset >= axes_input_from) {
    if ((rc = pn_node_get_int(a->ctx, a->node, "noop_with_empty_axes", 0, &noop))) return rc;
    if (pn_has_in(a, n_in, 1)) {
      if (!in[1].value) *known = false;
      else if ((rc = pn_read_ints(a, "input 'axes'", in[1].value, PN_MAX_DIMS, ax, &n))) return rc;
    }
  } else {
    const int64_t *v;
    if (n_in > 1)
      return pn_op_err(a, PN_ERR_INVALID, "takes 1 input before opset %lld", (long long)axes_input_from);
    if ((rc = pn_node_get_ints(a->ctx, a->node, "axes", &n, &v))) return rc;
    if (n > PN_MAX_DIMS)
      return pn_op_err(a, PN_ERR_INVALID, "attribute 'axes' has %lld values", (long long)n);
    for (int64_t i = 0; i < n; i++) ax[i] = v[i];
  }
  if (r < 0 || !*known) {
    *known = false;
    p->out_nd = (keep && r >= 0) ? r : -1;
    for (int i = 0; i < PN_MAX_DIMS; i++) p->out_dims[i] = -1;
    return PN_OK;
  }
  p->noop = n <= 0 && noop;
  for (int i = 0; i < r; i++) p->red[i] = !p->noop && n <= 0;
  for (int64_t i = 0; i < n; i++) {
    int j;
    if ((rc = pn_op_axis(a, "'axes'", ax[i], r, &j))) return rc;
    p->red[j] = true;
  }
  p->out_nd = 0;
  for (int i = 0; i < r; i++) {
    if (!p->red[i]) p->out_dims[p->out_nd++] = in[0].dims[i];
    else if (keep) p->out_dims[p->out_nd++] = 1;
  }
  return PN_OK;
}

int pn_reduce_run_plan(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                       struct pn_tensor *Y, unsigned dtypes, int64_t axes_input_from,
                       struct pn_reduce_plan *p, bool *done) {
  const struct pn_tensor *X = in[0];
  struct pn_shape sh[2];
  bool known;
  int nin = n_in < 2 ? n_in : 2, rc;
  *done = false;
  pn_shapes_of(in, nin, sh);
  if ((rc = pn_reduce_plan(a, sh, nin, dtypes, axes_input_from, p, &known))) return rc;
  if (!known) return pn_op_err(a, PN_ERR_INVALID, "input 'axes' has no value");
  if (Y->dtype != X->dtype || pn_shape_numel(p->out_nd, p->out_dims) != pn_tensor_numel(Y))
    return pn_op_err(a, PN_ERR_INVALID, "output shape mismatch");
  if (p->noop) {
    memcpy(Y->data, X->data, pn_tensor_nbytes(X));
    *done = true;
  }
  return PN_OK;
}

static int reduce_plan(const struct pn_op_args *a, const struct pn_shape *in, int n_in, bool mean,
                       struct pn_reduce_plan *p, bool *known) {
  return pn_reduce_plan(a, in, n_in, REDUCE_DTYPES, mean ? 18 : 13, p, known);
}

static int infer_reduce(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                        struct pn_shape *out, bool mean) {
  struct pn_reduce_plan p;
  bool known;
  int rc = reduce_plan(a, in, n_in, mean, &p, &known);
  if (rc) return rc;
  pn_shape_set(out, in[0].dtype, p.out_nd, p.out_dims);
  return PN_OK;
}

static double load(const struct pn_tensor *t, int64_t i) {
  return t->dtype == PN_DT_FLOAT ? ((const float *)t->data)[i] : ((const double *)t->data)[i];
}
static int64_t load_i(const struct pn_tensor *t, int64_t i) {
  return t->dtype == PN_DT_INT32 ? ((const int32_t *)t->data)[i] : ((const int64_t *)t->data)[i];
}

static void store(struct pn_tensor *y, int64_t i, double vf, int64_t vi) {
  switch (y->dtype) {
  case PN_DT_FLOAT: ((float *)y->data)[i] = (float)vf; break;
  case PN_DT_DOUBLE: ((double *)y->data)[i] = vf; break;
  case PN_DT_INT32: ((int32_t *)y->data)[i] = (int32_t)vi; break;
  default: ((int64_t *)y->data)[i] = vi; break;
  }
}

static int run_reduce(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                      struct pn_tensor *const *out, bool mean) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *Y = out[0];
  struct pn_reduce_plan p;
  bool done;
  int rc = pn_reduce_run_plan(a, in, n_in, Y, REDUCE_DTYPES, mean ? 18 : 13, &p, &done);
  if (rc || done) return rc;
  int r = X->ndim;
  int64_t nout = pn_tensor_numel(Y), nx = pn_tensor_numel(X), count = 1;
  for (int i = 0; i < r; i++)
    if (p.red[i]) count *= X->dims[i];
  bool isf = X->dtype == PN_DT_FLOAT || X->dtype == PN_DT_DOUBLE;
  /* Output strides over the input's dims (0 on reduced dims), then merged. */
  int64_t ost[PN_MAX_DIMS], kd[PN_MAX_DIMS], st[1][PN_MAX_DIMS];
  for (int i = 0; i < r; i++) kd[i] = p.red[i] ? 1 : X->dims[i];
  pn_strides(r, kd, ost);
  for (int i = 0; i < r; i++) st[0][i] = p.red[i] ? 0 : ost[i];
  struct pn_iter it;
  pn_iter_init(&it, r, X->dims, 1, st);
  if (nout == 0) return PN_OK;
  bool suffix = it.st[0][it.nd - 1] == 0 && (it.nd == 1 || it.st[0][it.nd - 2] != 0);
  if (nx == 0 || (suffix && it.inner == count)) {
    /* each output sums the contiguous run X[o*count .. (o+1)*count) */
#pragma omp parallel for schedule(static) if (nx > 65536)
    for (int64_t o = 0; o < nout; o++) {
      double sf = 0;
      uint64_t si = 0;
      if (isf)
        for (int64_t i = 0; i < count; i++) sf += load(X, o * count + i);
      else
        for (int64_t i = 0; i < count; i++) si += (uint64_t)load_i(X, o * count + i);
      int64_t vi = (int64_t)si;
      if (mean) sf /= (double)count, vi = count ? vi / count : 0;
      store(Y, o, sf, vi);
    }
    return PN_OK;
  }
  double *accf = isf ? calloc((size_t)nout, sizeof *accf) : NULL;
  uint64_t *acci = isf ? NULL : calloc((size_t)nout, sizeof *acci);
  if (!accf && !acci) return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  int64_t s = it.st[0][it.nd - 1];
  for (int64_t b = 0; b < it.nblock; b++) {
    int64_t off[PN_ITER_OPS], xo, len;
    pn_iter_block(&it, b, off, &xo, &len);
    if (isf)
      for (int64_t i = 0; i < len; i++) accf[off[0] + i * s] += load(X, xo + i);
    else
      for (int64_t i = 0; i < len; i++) acci[off[0] + i * s] += (uint64_t)load_i(X, xo + i);
  }
  for (int64_t o = 0; o < nout; o++) {
    double sf = isf ? accf[o] : 0;
    int64_t vi = isf ? 0 : (int64_t)acci[o];
    if (mean) sf /= (double)count, vi = count ? vi / count : 0;
    store(Y, o, sf, vi);
  }
  free(accf);
  free(acci);
  return PN_OK;
}

int pn_infer_reduce_mean(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                         struct pn_shape *out, int n_out) {
  return infer_reduce(a, in, n_in, out, true);
}
int pn_run_reduce_mean(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                       struct pn_tensor *const *out, int n_out) {
  return run_reduce(a, in, n_in, out, true);
}
int pn_infer_reduce_sum(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                        struct pn_shape *out, int n_out) {
  return infer_reduce(a, in, n_in, out, false);
}
int pn_run_reduce_sum(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                      struct pn_tensor *const *out, int n_out) {
  return run_reduce(a, in, n_in, out, false);
}
