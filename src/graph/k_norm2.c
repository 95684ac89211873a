/* k_norm2.c - InstanceNormalization, MeanVarianceNormalization and LRN.
**
** InstanceNormalization: y = scale[c] * (x - mean) / sqrt(var + epsilon) + B[c], mean and
** (population) variance over the spatial dims of each image and channel. MeanVarianceNormalization:
** y = (x - mean) / (sqrt(var) + 1e-9) with mean and variance over `axes` (default 0, 2, 3), as the
** ONNX function body. LRN: y = x / (bias + alpha / size * sum of x^2 over the channels
** c - floor((size-1)/2) .. c + ceil((size-1)/2))^beta. Statistics are accumulated in double, two
** passes (mean, then squared deviations), so a large mean does not cancel the variance away.
** float32 and float64 (float16 by conversion in ops.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_util.h"

#define NORM_DTYPES PN_DT_FLOATS

static double ld(const struct pn_tensor *t, int64_t i) {
  return t->dtype == PN_DT_FLOAT ? ((const float *)t->data)[i] : ((const double *)t->data)[i];
}
static void st(struct pn_tensor *t, int64_t i, double v) {
  if (t->dtype == PN_DT_FLOAT) ((float *)t->data)[i] = (float)v;
  else ((double *)t->data)[i] = v;
}

/* ---- InstanceNormalization ---- */

int pn_infer_instance_norm(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                           struct pn_shape *out, int n_out) {
  int rc;
  for (int i = 0; i < 3; i++)
    if ((rc = pn_check_dtype(a, i == 0 ? "input" : i == 1 ? "scale" : "B", in[i].dtype, NORM_DTYPES))) return rc;
  if (in[0].ndim >= 0 && in[0].ndim < 3) return pn_op_err(a, PN_ERR_INVALID, "input has rank %d, expected >= 3", in[0].ndim);
  int64_t c = in[0].ndim >= 0 ? in[0].dims[1] : -1;
  for (int i = 1; i < 3; i++)
    if (in[i].ndim >= 0 && (in[i].ndim != 1 || (c >= 0 && in[i].dims[0] >= 0 && in[i].dims[0] != c)))
      return pn_op_err(a, PN_ERR_INVALID, "%s must be 1-D of the %lld channels", i == 1 ? "scale" : "B", (long long)c);
  pn_shape_set(out, in[0].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_run_instance_norm(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                         struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0], *S = in[1], *B = in[2];
  struct pn_tensor *Y = out[0];
  float eps;
  int rc = pn_node_get_float(a->ctx, a->node, "epsilon", 1e-5f, &eps);
  if (rc) return rc;
  if (X->dtype != Y->dtype || S->dtype != X->dtype || B->dtype != X->dtype || X->ndim < 3)
    return pn_op_err(a, PN_ERR_INVALID, "inputs have mismatched dtypes or X has rank below 3");
  int64_t n = X->dims[0], c = X->dims[1], sp = 1;
  for (int i = 2; i < X->ndim; i++) sp *= X->dims[i];
  if (pn_tensor_numel(S) != c || pn_tensor_numel(B) != c)
    return pn_op_err(a, PN_ERR_INVALID, "scale and B must have %lld values", (long long)c);
  #pragma omp parallel for schedule(static) if (n * c * sp > 65536)
  for (int64_t p = 0; p < n * c; p++) {
    int64_t base = p * sp, ch = p % c;
    double mean = 0, var = 0;
    for (int64_t k = 0; k < sp; k++) mean += ld(X, base + k);
    mean /= (double)(sp ? sp : 1);
    for (int64_t k = 0; k < sp; k++) {
      double d = ld(X, base + k) - mean;
      var += d * d;
    }
    var /= (double)(sp ? sp : 1);
    double mul = ld(S, ch) / sqrt(var + eps), add = ld(B, ch);
    for (int64_t k = 0; k < sp; k++) st(Y, base + k, (ld(X, base + k) - mean) * mul + add);
  }
  return PN_OK;
}

/* ---- MeanVarianceNormalization ---- */

/* Reduced dims of a rank-r input from the axes attribute (default 0, 2, 3). */
static int mvn_axes(const struct pn_op_args *a, int r, bool *red) {
  const int64_t *p;
  int64_t k;
  int rc = pn_node_get_ints(a->ctx, a->node, "axes", &k, &p);
  if (rc) return rc;
  static const int64_t def[3] = {0, 2, 3};
  if (k < 0) {
    k = 3;
    p = def;
  }
  for (int i = 0; i < r; i++) red[i] = false;
  for (int64_t i = 0; i < k; i++) {
    int ax;
    if ((rc = pn_op_axis(a, "axes", p[i], r, &ax))) return rc;
    red[ax] = true;
  }
  return PN_OK;
}

int pn_infer_mvn(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                 int n_out) {
  int rc;
  bool red[PN_MAX_DIMS];
  if ((rc = pn_check_dtype(a, "X", in[0].dtype, NORM_DTYPES))) return rc;
  if (in[0].ndim >= 0 && (rc = mvn_axes(a, in[0].ndim, red))) return rc;
  pn_shape_set(out, in[0].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_run_mvn(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
               struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *Y = out[0];
  int r = X->ndim, rc;
  bool red[PN_MAX_DIMS];
  if ((rc = mvn_axes(a, r, red))) return rc;
  /* each element's group: its index with the reduced dims dropped */
  int64_t gst[PN_MAX_DIMS], groups = 1, n = pn_tensor_numel(X);
  for (int i = r - 1; i >= 0; i--) {
    gst[i] = red[i] ? 0 : groups;
    if (!red[i]) groups *= X->dims[i];
  }
  double *sum = calloc((size_t)groups + 1, sizeof *sum), *sq = calloc((size_t)groups + 1, sizeof *sq);
  int64_t *cnt = calloc((size_t)groups + 1, sizeof *cnt), *grp = malloc(((size_t)n + 1) * sizeof *grp);
  if (!sum || !sq || !cnt || !grp) {
    free(sum), free(sq), free(cnt), free(grp);
    return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  }
  int64_t idx[PN_MAX_DIMS] = {0};
  for (int64_t i = 0; i < n; i++) {
    int64_t gi = 0;
    for (int d = 0; d < r; d++) gi += idx[d] * gst[d];
    grp[i] = gi;
    sum[gi] += ld(X, i);
    cnt[gi]++;
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < X->dims[d]) break;
      idx[d] = 0;
    }
  }
  for (int64_t g = 0; g < groups; g++) sum[g] /= (double)(cnt[g] ? cnt[g] : 1);
  for (int64_t i = 0; i < n; i++) {
    double d = ld(X, i) - sum[grp[i]];
    sq[grp[i]] += d * d;
  }
  for (int64_t g = 0; g < groups; g++) sq[g] = sqrt(sq[g] / (double)(cnt[g] ? cnt[g] : 1)) + 1e-9;
  for (int64_t i = 0; i < n; i++) st(Y, i, (ld(X, i) - sum[grp[i]]) / sq[grp[i]]);
  free(sum), free(sq), free(cnt), free(grp);
  return PN_OK;
}

/* ---- LRN ---- */

int pn_infer_lrn(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                 int n_out) {
  int rc;
  int64_t size;
  if ((rc = pn_check_dtype(a, "X", in[0].dtype, NORM_DTYPES)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "size", -1, &size)))
    return rc;
  if (size < 1) return pn_op_err(a, PN_ERR_INVALID, "attribute 'size' is required and must be positive");
  if (in[0].ndim >= 0 && in[0].ndim < 3) return pn_op_err(a, PN_ERR_INVALID, "X has rank %d, expected >= 3", in[0].ndim);
  pn_shape_set(out, in[0].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_run_lrn(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
               struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *Y = out[0];
  float alpha, beta, bias;
  int64_t size;
  int rc;
  if ((rc = pn_node_get_float(a->ctx, a->node, "alpha", 1e-4f, &alpha)) ||
      (rc = pn_node_get_float(a->ctx, a->node, "beta", 0.75f, &beta)) ||
      (rc = pn_node_get_float(a->ctx, a->node, "bias", 1.0f, &bias)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "size", -1, &size)))
    return rc;
  if (size < 1) return pn_op_err(a, PN_ERR_INVALID, "attribute 'size' is required and must be positive");
  int64_t n = X->dims[0], c = X->dims[1], sp = 1, lo = (size - 1) / 2, hi = size - 1 - lo;
  for (int i = 2; i < X->ndim; i++) sp *= X->dims[i];
  #pragma omp parallel for schedule(static) if (n * c * sp > 65536)
  for (int64_t p = 0; p < n * c; p++) {
    int64_t img = p / c, ch = p % c;
    int64_t c0 = ch - lo < 0 ? 0 : ch - lo, c1 = ch + hi >= c ? c - 1 : ch + hi;
    for (int64_t k = 0; k < sp; k++) {
      double s = 0;
      for (int64_t j = c0; j <= c1; j++) {
        double v = ld(X, (img * c + j) * sp + k);
        s += v * v;
      }
      int64_t i = p * sp + k;
      st(Y, i, ld(X, i) / pow(bias + alpha / (double)size * s, beta));
    }
  }
  return PN_OK;
}
