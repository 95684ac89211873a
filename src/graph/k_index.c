/* k_index.c - index and rearrangement ops: DepthToSpace, SpaceToDepth, GatherND, ScatterND,
** ScatterElements (and opset-9 Scatter), OneHot, NonZero, TopK, Compress, EyeLike, IsInf, IsNaN.
**
** Elements are moved as bytes, so every dense dtype works (float16 too, by conversion in ops.c);
** only the reductions of ScatterND / ScatterElements (add, mul, max, min) and TopK compare or
** combine values (as double, exact for the 32-bit types and int64 below 2^53). Indices may be
** negative (counted from the end) where ONNX allows it and are checked against the dims: an
** index out of range is PN_ERR_INVALID naming the input, never an out-of-bounds access.
** NonZero and Compress have data-dependent output shapes: known once the input values are. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_xutil.h"

static size_t esz(const struct pn_tensor *t) { return pn_dtype_size(t->dtype); }

/* ---- DepthToSpace / SpaceToDepth ---- */

static int d2s_attrs(const struct pn_op_args *a, int64_t *b, bool *crd) {
  const char *mode = "DCR";
  int rc = pn_node_get_int(a->ctx, a->node, "blocksize", -1, b);
  if (rc || (a->opset >= 11 && !strcmp(a->node->op_type, "DepthToSpace") &&
             (rc = pn_node_get_string(a->ctx, a->node, "mode", "DCR", &mode))))
    return rc;
  if (*b < 1) return pn_op_err(a, PN_ERR_INVALID, "attribute 'blocksize' is required and must be positive");
  if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'mode' = '%s' must be DCR or CRD", mode);
  *crd = !strcmp(mode, "CRD");
  return PN_OK;
}

static int d2s_infer(const struct pn_op_args *a, const struct pn_shape *in, struct pn_shape *out, bool to_space) {
  int64_t b;
  bool crd;
  int rc = d2s_attrs(a, &b, &crd);
  if (rc) return rc;
  if ((rc = pn_check_dtype(a, "input", in[0].dtype, PN_DT_DENSE))) return rc;
  if (in[0].ndim < 0) {
    pn_shape_set(out, in[0].dtype, -1, NULL);
    return PN_OK;
  }
  if (in[0].ndim != 4) return pn_op_err(a, PN_ERR_INVALID, "input has rank %d, expected 4", in[0].ndim);
  int64_t d[4];
  memcpy(d, in[0].dims, sizeof d);
  if (to_space) {
    if (d[1] >= 0 && d[1] % (b * b))
      return pn_op_err(a, PN_ERR_INVALID, "%lld channels are not divisible by blocksize^2 = %lld", (long long)d[1],
                       (long long)(b * b));
    d[1] = d[1] >= 0 ? d[1] / (b * b) : -1;
    d[2] = d[2] >= 0 ? d[2] * b : -1;
    d[3] = d[3] >= 0 ? d[3] * b : -1;
  } else {
    for (int i = 2; i < 4; i++)
      if (d[i] >= 0 && d[i] % b)
        return pn_op_err(a, PN_ERR_INVALID, "dim %d (%lld) is not divisible by blocksize %lld", i, (long long)d[i],
                         (long long)b);
    d[1] = d[1] >= 0 ? d[1] * b * b : -1;
    d[2] = d[2] >= 0 ? d[2] / b : -1;
    d[3] = d[3] >= 0 ? d[3] / b : -1;
  }
  pn_shape_set(out, in[0].dtype, 4, d);
  return PN_OK;
}

/* The one loop of both: y (N, C, H, W) of the depth side vs x of the space side. */
static int d2s_run(const struct pn_op_args *a, const struct pn_tensor *X, struct pn_tensor *Y, bool to_space) {
  int64_t b;
  bool crd;
  int rc = d2s_attrs(a, &b, &crd);
  if (rc) return rc;
  const struct pn_tensor *deep = to_space ? X : Y, *wide = to_space ? Y : X;
  if (deep->ndim != 4 || wide->ndim != 4 || Y->dtype != X->dtype || deep->dims[1] != wide->dims[1] * b * b ||
      wide->dims[2] != deep->dims[2] * b || wide->dims[3] != deep->dims[3] * b)
    return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  int64_t n = deep->dims[0], cs = wide->dims[1], h = deep->dims[2], w = deep->dims[3];
  size_t es = esz(X);
  const uint8_t *src = X->data;
  uint8_t *dst = Y->data;
  for (int64_t in = 0; in < n; in++)
    for (int64_t c = 0; c < cs; c++)
      for (int64_t i = 0; i < b; i++)
        for (int64_t j = 0; j < b; j++) {
          int64_t cd = crd ? c * b * b + i * b + j : (i * b + j) * cs + c;
          for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) {
              int64_t od = ((in * cs * b * b + cd) * h + y) * w + x;
              int64_t ow = ((in * cs + c) * h * b + y * b + i) * w * b + x * b + j;
              if (to_space) memcpy(dst + ow * es, src + od * es, es);
              else memcpy(dst + od * es, src + ow * es, es);
            }
        }
  return PN_OK;
}

int pn_infer_depth_to_space(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                            struct pn_shape *out, int n_out) {
  return d2s_infer(a, in, out, true);
}
int pn_run_depth_to_space(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                          struct pn_tensor *const *out, int n_out) {
  return d2s_run(a, in[0], out[0], true);
}
int pn_infer_space_to_depth(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                            struct pn_shape *out, int n_out) {
  return d2s_infer(a, in, out, false);
}
int pn_run_space_to_depth(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                          struct pn_tensor *const *out, int n_out) {
  return d2s_run(a, in[0], out[0], false);
}

/* ---- IsInf / IsNaN ---- */

static int is_infer(const struct pn_op_args *a, const struct pn_shape *in, struct pn_shape *out) {
  int rc = pn_check_dtype(a, "X", in[0].dtype, PN_DT_FLOATS);
  if (rc) return rc;
  pn_shape_set(out, PN_DT_BOOL, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_infer_is_inf(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                    int n_out) {
  return is_infer(a, in, out);
}
int pn_infer_is_nan(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                    int n_out) {
  return is_infer(a, in, out);
}

int pn_run_is_inf(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor *const *out, int n_out) {
  int64_t neg, pos;
  int rc;
  if ((rc = pn_node_get_int(a->ctx, a->node, "detect_negative", 1, &neg)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "detect_positive", 1, &pos)))
    return rc;
  int64_t n = pn_tensor_numel(in[0]);
  uint8_t *y = out[0]->data;
  for (int64_t i = 0; i < n; i++) {
    double v = pn_tensor_get_f64(in[0], i);
    y[i] = isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
  }
  return PN_OK;
}

int pn_run_is_nan(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor *const *out, int n_out) {
  int64_t n = pn_tensor_numel(in[0]);
  uint8_t *y = out[0]->data;
  for (int64_t i = 0; i < n; i++) y[i] = isnan(pn_tensor_get_f64(in[0], i));
  return PN_OK;
}

/* ---- GatherND ---- */

struct gnd {
  int64_t b, k, batch, tuples, slice;   /* batch dims, tuple length, batch count, tuples per batch, slice elements */
};

static int gnd_setup(const struct pn_op_args *a, const struct pn_shape *data, const struct pn_shape *idx,
                     struct pn_shape *out, struct gnd *g) {
  int rc;
  if ((rc = pn_node_get_int(a->ctx, a->node, "batch_dims", 0, &g->b))) return rc;
  if ((rc = pn_check_dtype(a, "indices", idx->dtype, PN_DT_BIT(PN_DT_INT64)))) return rc;
  if (data->ndim < 0 || idx->ndim < 0) {
    pn_shape_set(out, data->dtype, -1, NULL);
    return PN_OK;
  }
  int r = data->ndim, q = idx->ndim;
  if (q < 1 || r < 1) return pn_op_err(a, PN_ERR_INVALID, "data and indices must have rank >= 1");
  if (g->b < 0 || g->b >= q || g->b >= r) return pn_op_err(a, PN_ERR_INVALID, "batch_dims = %lld out of range", (long long)g->b);
  g->k = idx->dims[q - 1];
  if (g->k < 0) {
    pn_shape_set(out, data->dtype, -1, NULL);
    return PN_OK;
  }
  if (g->k < 1 || g->k > r - g->b)
    return pn_op_err(a, PN_ERR_INVALID, "indices' last dim %lld is out of range for data rank %d", (long long)g->k, r);
  int64_t d[PN_MAX_DIMS];
  int nd = 0;
  for (int i = 0; i < q - 1; i++) d[nd++] = idx->dims[i];
  for (int i = (int)(g->b + g->k); i < r; i++) d[nd++] = data->dims[i];
  if (nd > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "output rank %d above %d", nd, PN_MAX_DIMS);
  for (int i = 0; i < g->b; i++)
    if (data->dims[i] >= 0 && idx->dims[i] >= 0 && data->dims[i] != idx->dims[i])
      return pn_op_err(a, PN_ERR_INVALID, "batch dim %d differs between data and indices", i);
  pn_shape_set(out, data->dtype, nd, d);
  return PN_OK;
}

int pn_infer_gather_nd(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                       int n_out) {
  struct gnd g;
  int rc = pn_check_dtype(a, "data", in[0].dtype, PN_DT_DENSE);
  return rc ? rc : gnd_setup(a, &in[0], &in[1], out, &g);
}

/* Offset (in elements) of the slice tuple t of batch bt, or -1 after an error. */
static int64_t nd_offset(const struct pn_op_args *a, const struct pn_tensor *data, const int64_t *tuple, int64_t b,
                         int64_t k, int64_t bt, const char *what) {
  int64_t off = 0, st[PN_MAX_DIMS];
  pn_strides(data->ndim, data->dims, st);
  /* the batch part of the offset */
  int64_t rem = bt;
  for (int i = (int)b - 1; i >= 0; i--) {
    off += rem % data->dims[i] * st[i];
    rem /= data->dims[i];
  }
  for (int64_t j = 0; j < k; j++) {
    int64_t v = tuple[j], dim = data->dims[b + j];
    if (v < 0) v += dim;
    if (v < 0 || v >= dim) {
      pn_op_err(a, PN_ERR_INVALID, "%s value %lld is out of range for dim %lld of size %lld", what, (long long)tuple[j],
                (long long)(b + j), (long long)dim);
      return -1;
    }
    off += v * st[b + j];
  }
  return off;
}

int pn_run_gather_nd(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                     struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *D = in[0], *I = in[1];
  struct pn_shape sh[2], os;
  struct gnd g;
  pn_shapes_of(in, 2, sh);
  int rc = gnd_setup(a, &sh[0], &sh[1], &os, &g);
  if (rc) return rc;
  if (os.ndim != out[0]->ndim || out[0]->dtype != D->dtype) return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  g.batch = 1;
  for (int i = 0; i < g.b; i++) g.batch *= D->dims[i];
  g.slice = 1;
  for (int i = (int)(g.b + g.k); i < D->ndim; i++) g.slice *= D->dims[i];
  int64_t ntup = pn_tensor_numel(I) / (g.k ? g.k : 1);
  g.tuples = g.batch ? ntup / g.batch : 0;
  size_t es = esz(D);
  const int64_t *ip = I->data;
  uint8_t *y = out[0]->data;
  for (int64_t t = 0; t < ntup; t++) {
    int64_t off = nd_offset(a, D, ip + t * g.k, g.b, g.k, g.tuples ? t / g.tuples : 0, "indices");
    if (off < 0) return PN_ERR_INVALID;
    memcpy(y + (size_t)(t * g.slice) * es, (const uint8_t *)D->data + (size_t)off * es, (size_t)g.slice * es);
  }
  return PN_OK;
}

/* ---- ScatterND / ScatterElements / Scatter ---- */

enum red { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int reduction(const struct pn_op_args *a, enum red *r) {
  const char *v = "none";
  *r = RED_NONE;
  if (a->opset >= 16 && strcmp(a->node->op_type, "Scatter")) {
    int rc = pn_node_get_string(a->ctx, a->node, "reduction", "none", &v);
    if (rc) return rc;
  }
  static const char *const names[] = {"none", "add", "mul", "max", "min"};
  for (int i = 0; i < 5; i++)
    if (!strcmp(v, names[i]) && (i < 3 || a->opset >= 18)) {
      *r = (enum red)i;
      return PN_OK;
    }
  return pn_op_err(a, PN_ERR_INVALID, "attribute 'reduction' = '%s' is not valid at opset %lld", v, (long long)a->opset);
}

/* dst[di] (op)= src[si], one element of dtype dt. */
static void put(enum pn_dtype dt, void *dst, int64_t di, const void *src, int64_t si, enum red r) {
  size_t es = pn_dtype_size(dt);
  uint8_t *d = (uint8_t *)dst + (size_t)di * es;
  const uint8_t *s = (const uint8_t *)src + (size_t)si * es;
  if (r == RED_NONE) {
    memcpy(d, s, es);
    return;
  }
#define RED(T)                                                                                 \
  do {                                                                                         \
    T x = *(T *)d, y = *(const T *)s;                                                          \
    *(T *)d = r == RED_ADD ? (T)(x + y) : r == RED_MUL ? (T)(x * y) : r == RED_MAX ? (x > y ? x : y) : (x < y ? x : y); \
  } while (0)
  switch (dt) {
  case PN_DT_FLOAT: RED(float); break;
  case PN_DT_DOUBLE: RED(double); break;
  case PN_DT_INT32: RED(int32_t); break;
  case PN_DT_INT64: RED(int64_t); break;
  case PN_DT_INT8: RED(int8_t); break;
  default: RED(uint8_t); break;   /* uint8, bool */
  }
#undef RED
}

static int same_shape_out(const struct pn_op_args *a, const struct pn_shape *in, struct pn_shape *out) {
  int rc = pn_check_dtype(a, "data", in[0].dtype, PN_DT_DENSE);
  if (rc) return rc;
  if (in[2].dtype && in[0].dtype && in[2].dtype != in[0].dtype)
    return pn_op_err(a, PN_ERR_INVALID, "updates have dtype %s, data %s", pn_dtype_name(in[2].dtype),
                     pn_dtype_name(in[0].dtype));
  if ((rc = pn_check_dtype(a, "indices", in[1].dtype, PN_DT_BIT(PN_DT_INT64) | PN_DT_BIT(PN_DT_INT32)))) return rc;
  enum red r;
  if ((rc = reduction(a, &r))) return rc;
  pn_shape_set(out, in[0].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_infer_scatter_nd(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                        int n_out) {
  return same_shape_out(a, in, out);
}

int pn_run_scatter_nd(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                      struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *D = in[0], *I = in[1], *U = in[2];
  struct pn_tensor *Y = out[0];
  enum red r;
  int rc = reduction(a, &r);
  if (rc) return rc;
  if (I->dtype != PN_DT_INT64 || I->ndim < 1 || U->dtype != D->dtype)
    return pn_op_err(a, PN_ERR_INVALID, "indices must be int64 of rank >= 1 and updates of data's dtype");
  int64_t k = I->dims[I->ndim - 1];
  if (k < 1 || k > D->ndim) return pn_op_err(a, PN_ERR_INVALID, "indices' last dim %lld is out of range", (long long)k);
  int64_t slice = 1, ntup = pn_tensor_numel(I) / k;
  for (int i = (int)k; i < D->ndim; i++) slice *= D->dims[i];
  if (pn_tensor_numel(U) != ntup * slice) return pn_op_err(a, PN_ERR_INVALID, "updates have the wrong shape");
  memcpy(Y->data, D->data, pn_tensor_nbytes(D));
  const int64_t *ip = I->data;
  for (int64_t t = 0; t < ntup; t++) {
    int64_t off = nd_offset(a, D, ip + t * k, 0, k, 0, "indices");
    if (off < 0) return PN_ERR_INVALID;
    for (int64_t e = 0; e < slice; e++) put(D->dtype, Y->data, off + e, U->data, t * slice + e, r);
  }
  return PN_OK;
}

int pn_infer_scatter_elements(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                              struct pn_shape *out, int n_out) {
  return same_shape_out(a, in, out);
}

int pn_run_scatter_elements(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                            struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *D = in[0], *I = in[1], *U = in[2];
  struct pn_tensor *Y = out[0];
  enum red r;
  int64_t axis;
  int ax, rc;
  if ((rc = reduction(a, &r)) || (rc = pn_node_get_int(a->ctx, a->node, "axis", 0, &axis)) ||
      (rc = pn_op_axis(a, "axis", axis, D->ndim, &ax)))
    return rc;
  bool ok = I->ndim == D->ndim && U->ndim == I->ndim && U->dtype == D->dtype;
  for (int i = 0; ok && i < I->ndim; i++) ok = U->dims[i] == I->dims[i];
  if (!ok) return pn_op_err(a, PN_ERR_INVALID, "indices and updates must have one shape, of data's rank");
  memcpy(Y->data, D->data, pn_tensor_nbytes(D));
  int64_t dst[PN_MAX_DIMS], n = pn_tensor_numel(I), idx[PN_MAX_DIMS] = {0};
  pn_strides(D->ndim, D->dims, dst);
  for (int64_t e = 0; e < n; e++) {
    int64_t v = pn_tensor_get_i64(I, e), dim = D->dims[ax];
    if (v < 0) v += dim;
    if (v < 0 || v >= dim)
      return pn_op_err(a, PN_ERR_INVALID, "indices value %lld is out of range for axis %d of size %lld",
                       (long long)pn_tensor_get_i64(I, e), ax, (long long)dim);
    int64_t off = 0;
    for (int i = 0; i < D->ndim; i++) {
      if (i != ax && idx[i] >= D->dims[i])
        return pn_op_err(a, PN_ERR_INVALID, "indices dim %d exceeds data's", i);
      off += (i == ax ? v : idx[i]) * dst[i];
    }
    put(D->dtype, Y->data, off, U->data, e, r);
    for (int i = I->ndim - 1; i >= 0; i--) {
      if (++idx[i] < I->dims[i]) break;
      idx[i] = 0;
    }
  }
  return PN_OK;
}

/* ---- OneHot ---- */

static int onehot_depth(const struct pn_op_args *a, const struct pn_tensor *t, int64_t *depth) {
  if (pn_tensor_numel(t) != 1) return pn_op_err(a, PN_ERR_INVALID, "input 'depth' must have one value");
  double v = pn_tensor_get_f64(t, 0);
  if (!(v >= 1) || v > (double)PN_XDIM_MAX) return pn_op_err(a, PN_ERR_INVALID, "input 'depth' = %g is out of range", v);
  *depth = (int64_t)v;
  return PN_OK;
}

int pn_infer_one_hot(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                     int n_out) {
  int64_t axis, depth = -1;
  int ax, rc;
  if ((rc = pn_node_get_int(a->ctx, a->node, "axis", -1, &axis))) return rc;
  if (in[2].ndim >= 0 && (in[2].ndim != 1 || (in[2].dims[0] >= 0 && in[2].dims[0] != 2)))
    return pn_op_err(a, PN_ERR_INVALID, "input 'values' must hold [off, on]");
  if (in[1].value && (rc = onehot_depth(a, in[1].value, &depth))) return rc;
  if (in[0].ndim < 0) {
    pn_shape_set(out, in[2].dtype, -1, NULL);
    return PN_OK;
  }
  int r = in[0].ndim + 1;
  if (r > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "output rank %d above %d", r, PN_MAX_DIMS);
  if ((rc = pn_op_axis(a, "axis", axis, r, &ax))) return rc;
  int64_t d[PN_MAX_DIMS];
  for (int i = 0, j = 0; i < r; i++) d[i] = i == ax ? depth : in[0].dims[j++];
  pn_shape_set(out, in[2].dtype, r, d);
  return PN_OK;
}

int pn_run_one_hot(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                   struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *I = in[0], *V = in[2];
  struct pn_tensor *Y = out[0];
  int64_t axis, depth = 0;
  int ax, rc;
  if ((rc = pn_node_get_int(a->ctx, a->node, "axis", -1, &axis)) || (rc = onehot_depth(a, in[1], &depth)) ||
      (rc = pn_op_axis(a, "axis", axis, I->ndim + 1, &ax)))
    return rc;
  if (pn_tensor_numel(V) != 2 || V->dtype != Y->dtype) return pn_op_err(a, PN_ERR_INVALID, "input 'values' must hold [off, on]");
  size_t es = esz(Y);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; i++) outer *= I->dims[i];
  for (int i = ax; i < I->ndim; i++) inner *= I->dims[i];
  uint8_t *y = Y->data;
  const uint8_t *off = V->data, *on = off + es;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < depth; k++)
      for (int64_t i = 0; i < inner; i++) {
        double v = pn_tensor_get_f64(I, o * inner + i);
        if (v < 0) v += (double)depth;
        memcpy(y + (size_t)((o * depth + k) * inner + i) * es, (int64_t)v == k && v >= 0 ? on : off, es);
      }
  return PN_OK;
}

/* ---- NonZero ---- */

static int64_t count_nonzero(const struct pn_tensor *t) {
  int64_t n = pn_tensor_numel(t), k = 0;
  size_t es = esz(t);
  static const uint8_t zero[16];
  for (int64_t i = 0; i < n; i++) {
    if (t->dtype == PN_DT_FLOAT || t->dtype == PN_DT_DOUBLE) k += pn_tensor_get_f64(t, i) != 0;
    else k += memcmp((const uint8_t *)t->data + (size_t)i * es, zero, es) != 0;
  }
  return k;
}

int pn_infer_non_zero(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                      int n_out) {
  int rc = pn_check_dtype(a, "X", in[0].dtype, PN_DT_DENSE);
  if (rc) return rc;
  int64_t d[2] = {in[0].ndim, in[0].value ? count_nonzero(in[0].value) : -1};
  pn_shape_set(out, PN_DT_INT64, 2, d);
  return PN_OK;
}

int pn_run_non_zero(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                    struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  int64_t nz = count_nonzero(X), n = pn_tensor_numel(X), r = X->ndim;
  if (out[0]->ndim != 2 || out[0]->dims[0] != r || out[0]->dims[1] != nz)
    return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  int64_t *y = out[0]->data, k = 0, idx[PN_MAX_DIMS] = {0};
  size_t es = esz(X);
  static const uint8_t zero[16];
  for (int64_t i = 0; i < n; i++) {
    bool z = X->dtype == PN_DT_FLOAT || X->dtype == PN_DT_DOUBLE ? pn_tensor_get_f64(X, i) == 0
                                                                  : !memcmp((const uint8_t *)X->data + (size_t)i * es, zero, es);
    if (!z) {
      for (int64_t d = 0; d < r; d++) y[d * nz + k] = idx[d];
      k++;
    }
    for (int64_t d = r - 1; d >= 0; d--) {
      if (++idx[d] < X->dims[d]) break;
      idx[d] = 0;
    }
  }
  return PN_OK;
}

/* ---- TopK ---- */

static int topk_k(const struct pn_op_args *a, const struct pn_shape *kin, int n_in, int64_t *k, bool *known) {
  *known = true;
  if (a->opset < 10) return pn_node_get_int(a->ctx, a->node, "k", -1, k);
  if (n_in < 2 || !kin->value) {
    *known = false;
    return PN_OK;
  }
  if (kin->value->dtype != PN_DT_INT64 || pn_tensor_numel(kin->value) != 1)
    return pn_op_err(a, PN_ERR_INVALID, "input 'K' must be a 1-element int64 tensor");
  *k = pn_tensor_get_i64(kin->value, 0);
  return PN_OK;
}

int pn_infer_top_k(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                   int n_out) {
  int64_t axis, k = -1;
  int ax, rc;
  bool known;
  if ((rc = pn_check_dtype(a, "X", in[0].dtype, PN_DT_FLOATS | PN_DT_INTS)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "axis", -1, &axis)) || (rc = topk_k(a, &in[1], n_in, &k, &known)))
    return rc;
  if (known && k < 0) return pn_op_err(a, PN_ERR_INVALID, "K = %lld is negative", (long long)k);
  if (in[0].ndim < 0) {
    pn_shape_set(&out[0], in[0].dtype, -1, NULL);
    if (n_out > 1) pn_shape_set(&out[1], PN_DT_INT64, -1, NULL);
    return PN_OK;
  }
  if ((rc = pn_op_axis(a, "axis", axis, in[0].ndim, &ax))) return rc;
  int64_t d[PN_MAX_DIMS];
  memcpy(d, in[0].dims, sizeof d);
  if (known && d[ax] >= 0 && k > d[ax])
    return pn_op_err(a, PN_ERR_INVALID, "K = %lld exceeds axis %d of size %lld", (long long)k, ax, (long long)d[ax]);
  d[ax] = known ? k : -1;
  pn_shape_set(&out[0], in[0].dtype, in[0].ndim, d);
  if (n_out > 1) pn_shape_set(&out[1], PN_DT_INT64, in[0].ndim, d);
  return PN_OK;
}

struct topk_ctx {
  const double *v;
  bool largest;
};
static _Thread_local struct topk_ctx tk;

/* Larger (or smaller) value first; equal values by index, the lower first; NaN as the largest. */
static int topk_cmp(const void *pa, const void *pb) {
  int64_t i = *(const int64_t *)pa, j = *(const int64_t *)pb;
  double x = tk.v[i], y = tk.v[j];
  int c;
  if (isnan(x) || isnan(y)) c = isnan(x) && isnan(y) ? 0 : isnan(x) ? 1 : -1;
  else c = x < y ? -1 : x > y ? 1 : 0;
  if (tk.largest) c = -c;
  return c ? c : (i < j ? -1 : i > j);
}

int pn_run_top_k(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                 struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *V = out[0], *I = n_out > 1 ? out[1] : NULL;
  struct pn_shape ks;
  int64_t axis, k = -1, largest = 1, sorted = 1;
  int ax, rc;
  bool known;
  pn_shapes_of(in + 1, n_in > 1 ? 1 : 0, &ks);
  if ((rc = pn_node_get_int(a->ctx, a->node, "axis", -1, &axis)) || (rc = topk_k(a, &ks, n_in, &k, &known)) ||
      (rc = pn_op_axis(a, "axis", axis, X->ndim, &ax)))
    return rc;
  if (a->opset >= 11 && ((rc = pn_node_get_int(a->ctx, a->node, "largest", 1, &largest)) ||
                         (rc = pn_node_get_int(a->ctx, a->node, "sorted", 1, &sorted))))
    return rc;
  int64_t len = X->dims[ax];
  if (k < 0 || k > len) return pn_op_err(a, PN_ERR_INVALID, "K = %lld is out of range for axis %d of size %lld",
                                         (long long)k, ax, (long long)len);
  if (V->dims[ax] != k || V->dtype != X->dtype) return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; i++) outer *= X->dims[i];
  for (int i = ax + 1; i < X->ndim; i++) inner *= X->dims[i];
  double *v = malloc((size_t)(len + 1) * sizeof *v);
  int64_t *ord = malloc((size_t)(len + 1) * sizeof *ord);
  if (!v || !ord) {
    free(v), free(ord);
    return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  }
  size_t es = esz(X);
  tk.v = v;
  tk.largest = largest != 0;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      for (int64_t j = 0; j < len; j++) {
        v[j] = pn_tensor_get_f64(X, (o * len + j) * inner + i);
        ord[j] = j;
      }
      qsort(ord, (size_t)len, sizeof *ord, topk_cmp);   /* sorted or not: the first k, in order */
      for (int64_t j = 0; j < k; j++) {
        int64_t src = (o * len + ord[j]) * inner + i, dst = (o * k + j) * inner + i;
        memcpy((uint8_t *)V->data + (size_t)dst * es, (const uint8_t *)X->data + (size_t)src * es, es);
        if (I) ((int64_t *)I->data)[dst] = ord[j];
      }
    }
  free(v);
  free(ord);
  return PN_OK;
}

/* ---- Compress ---- */

static int64_t count_true(const struct pn_tensor *c, int64_t limit) {
  int64_t n = pn_tensor_numel(c), k = 0;
  for (int64_t i = 0; i < n && i < limit; i++) k += ((const uint8_t *)c->data)[i] != 0;
  return k;
}

int pn_infer_compress(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                      int n_out) {
  int rc;
  if ((rc = pn_check_dtype(a, "input", in[0].dtype, PN_DT_DENSE)) ||
      (rc = pn_check_dtype(a, "condition", in[1].dtype, PN_DT_BIT(PN_DT_BOOL))))
    return rc;
  const struct pn_attr *at = pn_node_attr(a->node, "axis");
  if (in[1].ndim >= 0 && in[1].ndim != 1) return pn_op_err(a, PN_ERR_INVALID, "condition must be 1-D");
  if (in[0].ndim < 0) {
    pn_shape_set(out, in[0].dtype, at ? -1 : 1, NULL);
    return PN_OK;
  }
  int64_t d[PN_MAX_DIMS];
  int nd = 1, ax = -1;
  int64_t len = pn_shape_numel(in[0].ndim, in[0].dims);
  if (at) {
    int64_t axis;
    if ((rc = pn_node_get_int(a->ctx, a->node, "axis", 0, &axis)) || (rc = pn_op_axis(a, "axis", axis, in[0].ndim, &ax)))
      return rc;
    nd = in[0].ndim;
    memcpy(d, in[0].dims, sizeof d);
    len = d[ax];
  }
  int64_t k = in[1].value && len >= 0 ? count_true(in[1].value, len) : -1;
  if (ax >= 0) d[ax] = k;
  else d[0] = k;
  pn_shape_set(out, in[0].dtype, nd, d);
  return PN_OK;
}

int pn_run_compress(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                    struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0], *C = in[1];
  const struct pn_attr *at = pn_node_attr(a->node, "axis");
  int64_t outer = 1, len = pn_tensor_numel(X), inner = 1;
  int rc;
  if (at) {
    int64_t axis;
    int ax;
    if ((rc = pn_node_get_int(a->ctx, a->node, "axis", 0, &axis)) || (rc = pn_op_axis(a, "axis", axis, X->ndim, &ax)))
      return rc;
    len = X->dims[ax];
    for (int i = 0; i < ax; i++) outer *= X->dims[i];
    for (int i = ax + 1; i < X->ndim; i++) inner *= X->dims[i];
  }
  int64_t k = count_true(C, len);
  if (pn_tensor_numel(out[0]) != outer * k * inner) return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  size_t es = esz(X);
  const uint8_t *c = C->data, *x = X->data;
  uint8_t *y = out[0]->data;
  int64_t nc = pn_tensor_numel(C);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0, q = 0; j < len && j < nc; j++)
      if (c[j]) {
        memcpy(y + (size_t)((o * k + q) * inner) * es, x + (size_t)((o * len + j) * inner) * es, (size_t)inner * es);
        q++;
      }
  return PN_OK;
}

/* ---- EyeLike ---- */

static int eye_dtype(const struct pn_op_args *a, enum pn_dtype in, enum pn_dtype *dt) {
  int64_t v;
  int rc = pn_node_get_int(a->ctx, a->node, "dtype", -1, &v);
  if (rc) return rc;
  if (v == -1) {
    *dt = in;
    return PN_OK;
  }
  if (v <= 0 || v >= PN_DT_COUNT) return pn_op_err(a, PN_ERR_INVALID, "attribute 'dtype' = %lld is not a data type", (long long)v);
  *dt = (enum pn_dtype)v;
  return pn_check_dtype(a, "attribute 'dtype'", *dt, PN_DT_DENSE);
}

int pn_infer_eye_like(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                      int n_out) {
  enum pn_dtype dt = PN_DT_UNDEFINED;
  int rc = eye_dtype(a, in[0].dtype, &dt);
  if (rc) return rc;
  if (in[0].ndim >= 0 && in[0].ndim != 2) return pn_op_err(a, PN_ERR_INVALID, "input has rank %d, expected 2", in[0].ndim);
  pn_shape_set(out, dt, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_run_eye_like(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                    struct pn_tensor *const *out, int n_out) {
  int64_t k;
  int rc = pn_node_get_int(a->ctx, a->node, "k", 0, &k);
  if (rc) return rc;
  struct pn_tensor *Y = out[0];
  if (Y->ndim != 2) return pn_op_err(a, PN_ERR_INVALID, "output must have rank 2");
  memset(Y->data, 0, pn_tensor_nbytes(Y));
  int64_t r = Y->dims[0], c = Y->dims[1];
  size_t es = esz(Y);
  uint8_t one[8] = {0};
  switch (Y->dtype) {
  case PN_DT_FLOAT: { float f = 1; memcpy(one, &f, 4); break; }
  case PN_DT_DOUBLE: { double f = 1; memcpy(one, &f, 8); break; }
  case PN_DT_INT32: { int32_t f = 1; memcpy(one, &f, 4); break; }
  case PN_DT_INT64: { int64_t f = 1; memcpy(one, &f, 8); break; }
  default: one[0] = 1; break;
  }
  for (int64_t i = 0; i < r; i++)
    if (i + k >= 0 && i + k < c) memcpy((uint8_t *)Y->data + (size_t)(i * c + i + k) * es, one, es);
  return PN_OK;
}
