/* k_resize.c - ONNX Resize (opsets 10-18) and Upsample (opsets 7-9).
**
** The output size comes from `sizes` or from floor(in * scale). Each output coordinate x of a
** resized axis maps to a source coordinate x_ori by the coordinate transformation (half_pixel,
** pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize). The
** resized length in align_corners and tf_crop_and_resize is scale * in, as in ONNX's reference
** implementation and its node tests (ONNX Runtime uses the integer output size; the two agree
** when sizes are given or scale * in is whole); pytorch_half_pixel's "length 1" case looks at the
** integer output size, as the spec, PyTorch and ONNX Runtime do. Then, per axis:
**   nearest  the source index by nearest_mode (ties and exact integers as in the reference);
**   linear   taps floor(x_ori), +1 with weights 1-r, r;
**   cubic    taps floor(x_ori)-1 .. +2 with Keys' kernel of parameter cubic_coeff_a,
** where an integer x_ori counts as floor x_ori - 1 with r = 1, indices are clamped to the axis
** (edge padding) unless exclude_outside drops them and renormalises, and tf_crop_and_resize
** writes extrapolation_value where x_ori falls outside [0, in - 1]. An axis of scale 1 and
** unchanged length maps to itself (but under tf_crop_and_resize). The interpolation is
** separable: one pass per resized axis, innermost first, accumulating in double.
**
** Opsets before 11 (Resize-10, Upsample): asymmetric coordinates; nearest takes floor(x_ori) when
** the axis grows and ceil when it shrinks, as ONNX Runtime does. Not supported: antialias = 1
** (opset 18) and linear/cubic on integer tensors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_xutil.h"

enum rz_mode { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC };
enum rz_coord { RZ_HALF_PIXEL, RZ_PYTORCH_HALF_PIXEL, RZ_ALIGN_CORNERS, RZ_ASYMMETRIC, RZ_TF_HALF_PIXEL_NN,
                RZ_TF_CROP_AND_RESIZE };
enum rz_near { RZ_ROUND_PREFER_FLOOR, RZ_ROUND_PREFER_CEIL, RZ_FLOOR, RZ_CEIL, RZ_SIMPLE };

struct rz_geo {
  enum rz_mode mode;
  enum rz_coord coord;
  enum rz_near near;
  float cubic_a, extrapolation;
  bool exclude_outside;
  int rank;
  bool known;                   /* output dims (and scales) known */
  int64_t out[PN_MAX_DIMS];
  double scale[PN_MAX_DIMS];
  double roi[2 * PN_MAX_DIMS];  /* start, end per axis (tf_crop_and_resize) */
};

static int pick(const struct pn_op_args *a, const char *attr, const char *def, const char *const *names, int n,
                int *out) {
  const char *v;
  int rc = pn_node_get_string(a->ctx, a->node, attr, def, &v);
  if (rc) return rc;
  for (int i = 0; i < n; i++)
    if (!strcmp(v, names[i])) {
      *out = i;
      return PN_OK;
    }
  return pn_op_err(a, PN_ERR_UNSUPPORTED, "attribute '%s' = '%s' is not supported", attr, v);
}

static bool is_upsample(const struct pn_op_args *a) { return !strcmp(a->node->op_type, "Upsample"); }

/* Attributes; the rest of g is filled by rz_setup. */
static int rz_attrs(const struct pn_op_args *a, struct rz_geo *g) {
  static const char *const modes[] = {"nearest", "linear", "cubic"};
  static const char *const coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                       "tf_half_pixel_for_nn", "tf_crop_and_resize"};
  static const char *const nears[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  int m = RZ_NEAREST, c = RZ_ASYMMETRIC, n = RZ_SIMPLE, rc;
  int64_t excl = 0, anti = 0;
  memset(g, 0, sizeof *g);
  /* Upsample-7 and Resize-10 also take 'bilinear' for linear */
  static const char *const old_modes[] = {"nearest", "linear", "bilinear"};
  bool old = is_upsample(a) || a->opset < 11;
  if ((rc = old ? pick(a, "mode", "nearest", old_modes, 3, &m) : pick(a, "mode", "nearest", modes, 3, &m))) return rc;
  if (old && m == 2) m = RZ_LINEAR;
  if (!old) {
    if ((rc = pick(a, "coordinate_transformation_mode", "half_pixel", coords, 6, &c)) ||
        (rc = pick(a, "nearest_mode", "round_prefer_floor", nears, 4, &n)) ||
        (rc = pn_node_get_float(a->ctx, a->node, "cubic_coeff_a", -0.75f, &g->cubic_a)) ||
        (rc = pn_node_get_int(a->ctx, a->node, "exclude_outside", 0, &excl)) ||
        (rc = pn_node_get_float(a->ctx, a->node, "extrapolation_value", 0.0f, &g->extrapolation)))
      return rc;
    if (a->opset >= 18 && (rc = pn_node_get_int(a->ctx, a->node, "antialias", 0, &anti))) return rc;
    if (anti) return pn_op_err(a, PN_ERR_UNSUPPORTED, "attribute 'antialias' = %lld", (long long)anti);
  }
  g->mode = (enum rz_mode)m;
  g->coord = (enum rz_coord)c;
  g->near = (enum rz_near)n;
  g->exclude_outside = excl != 0;
  return PN_OK;
}

/* Float values of a scales or roi tensor into v (at most max). */
static int read_floats(const struct pn_op_args *a, const char *what, const struct pn_tensor *t, int64_t max,
                       double *v, int64_t *n) {
  if (t->dtype != PN_DT_FLOAT && t->dtype != PN_DT_DOUBLE && !pn_dtype_is_half(t->dtype))
    return pn_op_err(a, PN_ERR_INVALID, "input '%s' must be a float tensor, not %s", what, pn_dtype_name(t->dtype));
  if (t->ndim > 1) return pn_op_err(a, PN_ERR_INVALID, "input '%s' must be 1-D", what);
  *n = pn_tensor_numel(t);
  if (*n > max) return pn_op_err(a, PN_ERR_INVALID, "input '%s' has %lld values, at most %lld", what,
                                 (long long)*n, (long long)max);
  for (int64_t i = 0; i < *n; i++) v[i] = pn_tensor_get_f64(t, i);
  return PN_OK;
}

/* Output dims and per-axis scales from X's shape and the scales / sizes / roi inputs (or Upsample-7's
** attribute). g->known is false when a needed value or dim is unknown. */
static int rz_setup(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct rz_geo *g) {
  int rc = rz_attrs(a, g);
  if (rc) return rc;
  g->rank = in[0].ndim;
  g->known = false;
  if (g->rank < 0) return PN_OK;
  int r = g->rank;
  for (int i = 0; i < r; i++) {
    g->scale[i] = 1;
    g->roi[i] = 0;
    g->roi[r + i] = 1;
  }
  /* which input holds what */
  int i_roi = -1, i_scales = 1, i_sizes = -1;
  if (!is_upsample(a) && a->opset >= 11) i_roi = 1, i_scales = 2, i_sizes = 3;
  double sv[PN_MAX_DIMS];
  int64_t zv[PN_MAX_DIMS], ns = -1, nz = -1;
  if (is_upsample(a) && a->opset < 9) {
    const float *f;
    int64_t k;
    if ((rc = pn_node_get_floats(a->ctx, a->node, "scales", &k, &f))) return rc;
    if (k < 0) return pn_op_err(a, PN_ERR_INVALID, "attribute 'scales' is required");
    if (k > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_INVALID, "attribute 'scales' has %lld values", (long long)k);
    for (int64_t i = 0; i < k; i++) sv[i] = f[i];
    ns = k;
  } else {
    bool has_s = pn_has_in(a, n_in, i_scales), has_z = i_sizes >= 0 && pn_has_in(a, n_in, i_sizes);
    /* an empty scales tensor (opsets 11-12 require the input) means "use sizes" */
    if (has_s && in[i_scales].ndim == 1 && in[i_scales].dims[0] == 0) has_s = false;
    if (has_z && in[i_sizes].ndim == 1 && in[i_sizes].dims[0] == 0) has_z = false;
    if (has_s && has_z) return pn_op_err(a, PN_ERR_INVALID, "only one of 'scales' and 'sizes' may be given");
    if (!has_s && !has_z) return pn_op_err(a, PN_ERR_INVALID, "one of 'scales' and 'sizes' is required");
    if (has_s && !in[i_scales].value) return PN_OK;
    if (has_z && !in[i_sizes].value) return PN_OK;
    if (has_s && (rc = read_floats(a, "scales", in[i_scales].value, PN_MAX_DIMS, sv, &ns))) return rc;
    if (has_z && (rc = pn_read_ints(a, "input 'sizes'", in[i_sizes].value, PN_MAX_DIMS, zv, &nz))) return rc;
  }
  /* axes (opset 18): scales / sizes name these axes only */
  int64_t axes[PN_MAX_DIMS], na = r;
  const int64_t *ap = NULL;
  if (!is_upsample(a) && a->opset >= 18) {
    int64_t k;
    if ((rc = pn_node_get_ints(a->ctx, a->node, "axes", &k, &ap))) return rc;
    if (k >= 0) na = k;
  }
  if (na > r) return pn_op_err(a, PN_ERR_INVALID, "attribute 'axes' has %lld values for rank %d", (long long)na, r);
  bool seen[PN_MAX_DIMS] = {false};
  for (int64_t i = 0; i < na; i++) {
    int ax = (int)i;
    if (ap && (rc = pn_op_axis(a, "axes", ap[i], r, &ax))) return rc;
    if (seen[ax]) return pn_op_err(a, PN_ERR_INVALID, "attribute 'axes' repeats axis %d", ax);
    seen[ax] = true;
    axes[i] = ax;
  }
  int64_t have = ns >= 0 ? ns : nz;
  if (have != na)
    return pn_op_err(a, PN_ERR_INVALID, "'%s' has %lld values, expected %lld", ns >= 0 ? "scales" : "sizes",
                     (long long)have, (long long)na);
  if (g->coord == RZ_TF_CROP_AND_RESIZE) {
    if (!pn_has_in(a, n_in, i_roi) || i_roi < 0)
      return pn_op_err(a, PN_ERR_INVALID, "input 'roi' is required by tf_crop_and_resize");
    if (!in[i_roi].value) return PN_OK;
    double rv[2 * PN_MAX_DIMS];
    int64_t nr;
    if ((rc = read_floats(a, "roi", in[i_roi].value, 2 * PN_MAX_DIMS, rv, &nr))) return rc;
    if (nr != 2 * na) return pn_op_err(a, PN_ERR_INVALID, "input 'roi' has %lld values, expected %lld", (long long)nr,
                                       (long long)(2 * na));
    for (int64_t i = 0; i < na; i++) {
      g->roi[axes[i]] = rv[i];
      g->roi[r + axes[i]] = rv[na + i];
    }
  }
  for (int i = 0; i < r; i++)
    if (in[0].dims[i] < 0) return PN_OK;
  for (int i = 0; i < r; i++) g->out[i] = in[0].dims[i];
  if (ns >= 0) {
    for (int64_t i = 0; i < na; i++) {
      int ax = (int)axes[i];
      if (!(sv[i] > 0) || !isfinite(sv[i]))
        return pn_op_err(a, PN_ERR_INVALID, "scale %g of axis %d is not positive", sv[i], ax);
      double o = floor((double)in[0].dims[ax] * sv[i]);
      if (o > (double)PN_XDIM_MAX) return pn_op_err(a, PN_ERR_INVALID, "scale %g of axis %d is too large", sv[i], ax);
      g->out[ax] = (int64_t)o;
      g->scale[ax] = sv[i];
    }
  } else {
    const char *kp = "stretch";
    static const char *const pols[] = {"stretch", "not_larger", "not_smaller"};
    int pol = 0;
    if (a->opset >= 18 && (rc = pick(a, "keep_aspect_ratio_policy", kp, pols, 3, &pol))) return rc;
    double common = pol == 1 ? INFINITY : 0;
    for (int64_t i = 0; i < na; i++) {
      int ax = (int)axes[i];
      if (zv[i] < 0 || zv[i] > PN_XDIM_MAX)
        return pn_op_err(a, PN_ERR_INVALID, "size %lld of axis %d is out of range", (long long)zv[i], ax);
      if (in[0].dims[ax] == 0) return pn_op_err(a, PN_ERR_INVALID, "axis %d of X is empty", ax);
      double s = (double)zv[i] / (double)in[0].dims[ax];
      g->out[ax] = zv[i];
      g->scale[ax] = s;
      if (pol == 1 && s < common) common = s;
      if (pol == 2 && s > common) common = s;
    }
    if (pol)
      for (int64_t i = 0; i < na; i++) {
        int ax = (int)axes[i];
        g->scale[ax] = common;
        g->out[ax] = (int64_t)floor(common * (double)in[0].dims[ax] + 0.5);
      }
  }
  g->known = true;
  return PN_OK;
}

int pn_infer_resize(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                    int n_out) {
  struct rz_geo g;
  int rc;
  if ((rc = pn_check_dtype(a, "X", in[0].dtype, PN_DT_DENSE)) || (rc = rz_setup(a, in, n_in, &g))) return rc;
  if (g.mode != RZ_NEAREST && in[0].dtype && in[0].dtype != PN_DT_FLOAT && in[0].dtype != PN_DT_DOUBLE)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "mode linear/cubic on dtype %s", pn_dtype_name(in[0].dtype));
  if (g.rank < 0) {
    pn_shape_set(out, in[0].dtype, -1, NULL);
    return PN_OK;
  }
  int64_t d[PN_MAX_DIMS];
  for (int i = 0; i < g.rank; i++) d[i] = g.known ? g.out[i] : -1;
  pn_shape_set(out, in[0].dtype, g.rank, d);
  return PN_OK;
}

/* ---- one axis ---- */

#define RZ_TAPS 4

/* Taps of output coordinate x along an axis of length len resized to out: indices into the
** axis and weights (count taps; 0 taps = extrapolation_value). */
struct rz_taps {
  int n;
  int64_t idx[RZ_TAPS];
  double w[RZ_TAPS];
};

/* An axis Resize leaves as it is (scale 1, same length) maps every index to itself, whatever the
** coordinate transformation: tf_half_pixel_for_nn's half-pixel shift would otherwise move a
** nearest lookup to the next image of the batch (as ONNX Runtime, which skips such axes, does
** not). tf_crop_and_resize keeps its roi on every axis. */
static bool identity_axis(const struct rz_geo *g, int ax, int64_t len) {
  return g->scale[ax] == 1 && g->out[ax] == len && g->coord != RZ_TF_CROP_AND_RESIZE;
}

static void axis_taps(const struct rz_geo *g, int ax, int64_t len, int64_t x, bool grows, struct rz_taps *t) {
  double s = g->scale[ax], lr = s * (double)len, xo;
  if (identity_axis(g, ax, len)) {
    t->n = 1;
    t->idx[0] = x;
    t->w[0] = 1;
    return;
  }
  double r0 = g->roi[ax], r1 = g->roi[g->rank + ax];
  switch (g->coord) {
  case RZ_HALF_PIXEL: xo = (x + 0.5) / s - 0.5; break;
  case RZ_PYTORCH_HALF_PIXEL: xo = g->out[ax] > 1 ? (x + 0.5) / s - 0.5 : 0; break;   /* the integer length */
  case RZ_ALIGN_CORNERS: xo = lr == 1 ? 0 : x * (double)(len - 1) / (lr - 1); break;
  case RZ_TF_HALF_PIXEL_NN: xo = (x + 0.5) / s; break;
  case RZ_TF_CROP_AND_RESIZE:
    xo = lr == 1 ? (r1 - r0) * (double)(len - 1) / 2 : x * (r1 - r0) * (double)(len - 1) / (lr - 1);
    xo += r0 * (double)(len - 1);
    if (xo < 0 || xo > (double)(len - 1)) {
      t->n = 0;
      return;
    }
    break;
  default: xo = x / s; break;
  }
  double fl = floor(xo), r = xo - fl;
  bool integral = r == 0;
  if (integral) {              /* as the reference: the pixel on the left, ratio 1 */
    fl -= 1;
    r = 1;
  }
  int64_t f = (int64_t)fl;
  if (g->mode == RZ_NEAREST) {
    bool up;
    switch (g->near) {
    case RZ_ROUND_PREFER_FLOOR: up = integral || r > 0.5; break;
    case RZ_ROUND_PREFER_CEIL: up = integral || r >= 0.5; break;
    case RZ_FLOOR: up = integral; break;
    case RZ_CEIL: up = true; break;
    default: up = integral || !grows; break;   /* before opset 11: floor growing, ceil shrinking */
    }
    int64_t i = f + up;
    t->n = 1;
    t->idx[0] = i < 0 ? 0 : i >= len ? len - 1 : i;
    t->w[0] = 1;
    return;
  }
  double c[RZ_TAPS];
  int64_t first;
  if (g->mode == RZ_LINEAR) {
    t->n = 2;
    c[0] = 1 - r;
    c[1] = r;
    first = f;
  } else {
    t->n = 4;
    pn_cubic_coeffs(r, g->cubic_a, c);
    first = f - 1;
  }
  double sum = 0;
  for (int k = 0; k < t->n; k++) {
    int64_t i = first + k;
    if (g->exclude_outside && (i < 0 || i >= len)) c[k] = 0;
    sum += c[k];
  }
  for (int k = 0; k < t->n; k++) {
    int64_t i = first + k;
    t->idx[k] = i < 0 ? 0 : i >= len ? len - 1 : i;
    t->w[k] = g->exclude_outside ? c[k] / sum : c[k];
  }
}

/* One pass: src (dims sd, double) -> dst (dims sd with sd[ax] = out), along axis ax. */
static int resize_axis(const struct rz_geo *g, int ax, const double *src, const int64_t *sd, int64_t out,
                       double *dst) {
  int r = g->rank;
  int64_t len = sd[ax], outer = 1, inner = 1;
  for (int i = 0; i < ax; i++) outer *= sd[i];
  for (int i = ax + 1; i < r; i++) inner *= sd[i];
  struct rz_taps *tp = malloc((size_t)(out > 0 ? out : 1) * sizeof *tp);
  if (!tp) return PN_ERR_NOMEM;
  for (int64_t x = 0; x < out; x++) axis_taps(g, ax, len, x, out >= len, &tp[x]);
  double ev = g->extrapolation;
  #pragma omp parallel for schedule(static) if (outer * out * inner > 65536)
  for (int64_t o = 0; o < outer; o++)
    for (int64_t x = 0; x < out; x++) {
      const struct rz_taps *t = &tp[x];
      double *y = dst + (o * out + x) * inner;
      if (t->n == 0) {
        for (int64_t k = 0; k < inner; k++) y[k] = ev;
        continue;
      }
      const double *s0 = src + (o * len + t->idx[0]) * inner;
      for (int64_t k = 0; k < inner; k++) y[k] = t->w[0] * s0[k];
      for (int j = 1; j < t->n; j++) {
        if (t->w[j] == 0) continue;
        const double *sj = src + (o * len + t->idx[j]) * inner;
        for (int64_t k = 0; k < inner; k++) y[k] += t->w[j] * sj[k];
      }
    }
  free(tp);
  return PN_OK;
}

/* Nearest on any dtype: a gather of whole elements, index per output coordinate and axis. */
static int resize_nearest(const struct rz_geo *g, const struct pn_tensor *X, struct pn_tensor *Y) {
  int r = g->rank;
  int64_t *map[PN_MAX_DIMS] = {0}, xst[PN_MAX_DIMS];
  int rc = PN_OK;
  pn_strides(r, X->dims, xst);
  for (int ax = 0; ax < r && !rc; ax++) {
    if (!(map[ax] = malloc((size_t)(Y->dims[ax] > 0 ? Y->dims[ax] : 1) * sizeof **map))) {
      rc = PN_ERR_NOMEM;
      break;
    }
    for (int64_t x = 0; x < Y->dims[ax]; x++) {
      struct rz_taps t;
      axis_taps(g, ax, X->dims[ax], x, Y->dims[ax] >= X->dims[ax], &t);
      map[ax][x] = t.n ? t.idx[0] * xst[ax] : -1;   /* -1: extrapolation */
    }
  }
  if (!rc) {
    size_t es = pn_dtype_size(X->dtype);
    int64_t n = pn_tensor_numel(Y);
    const uint8_t *xp = X->data;
    uint8_t *yp = Y->data;
    uint8_t ev[8] = {0};
    if (X->dtype == PN_DT_FLOAT) {
      float f = g->extrapolation;
      memcpy(ev, &f, 4);
    } else if (X->dtype == PN_DT_DOUBLE) {
      double f = g->extrapolation;
      memcpy(ev, &f, 8);
    }
    #pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
      int64_t rem = i, off = 0;
      bool outside = false;
      for (int ax = r - 1; ax >= 0; ax--) {
        int64_t m = map[ax][rem % Y->dims[ax]];
        rem /= Y->dims[ax];
        if (m < 0) outside = true;
        off += m;
      }
      memcpy(yp + (size_t)i * es, outside ? ev : xp + (size_t)off * es, es);
    }
  }
  for (int ax = 0; ax < r; ax++) free(map[ax]);
  return rc;
}

int pn_run_resize(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *Y = out[0];
  struct pn_shape sh[4];
  struct rz_geo g;
  int nin = n_in < 4 ? n_in : 4, rc;
  pn_shapes_of(in, nin, sh);
  if ((rc = rz_setup(a, sh, nin, &g))) return rc;
  if (!g.known) return pn_op_err(a, PN_ERR_INVALID, "the output size is not known");
  bool ok = Y->dtype == X->dtype && Y->ndim == X->ndim;
  for (int i = 0; ok && i < g.rank; i++) ok = Y->dims[i] == g.out[i];
  if (!ok) return pn_op_err(a, PN_ERR_INVALID, "output Y has the wrong shape");
  if (pn_tensor_numel(Y) == 0) return PN_OK;
  for (int i = 0; i < g.rank; i++)
    if (X->dims[i] == 0) return pn_op_err(a, PN_ERR_INVALID, "axis %d of X is empty", i);
  if (g.mode == RZ_NEAREST) {
    if ((rc = resize_nearest(&g, X, Y))) return pn_op_err(a, rc, "out of memory");
    return PN_OK;
  }
  if (X->dtype != PN_DT_FLOAT && X->dtype != PN_DT_DOUBLE)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "mode linear/cubic on dtype %s", pn_dtype_name(X->dtype));
  /* separable passes in double, innermost axis first, axes left as they are skipped */
  int64_t cur[PN_MAX_DIMS], n = pn_tensor_numel(X);
  memcpy(cur, X->dims, sizeof cur);
  double *buf = malloc((size_t)n * sizeof *buf);
  if (!buf) return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < n; i++) buf[i] = pn_tensor_get_f64(X, i);
  for (int ax = g.rank - 1; ax >= 0 && !rc; ax--) {
    if (identity_axis(&g, ax, cur[ax])) continue;
    int64_t nd[PN_MAX_DIMS];
    memcpy(nd, cur, sizeof nd);
    nd[ax] = g.out[ax];
    int64_t m = pn_shape_numel(g.rank, nd);
    double *next = malloc((size_t)(m > 0 ? m : 1) * sizeof *next);
    if (!next || resize_axis(&g, ax, buf, cur, g.out[ax], next)) rc = pn_op_err(a, PN_ERR_NOMEM, "out of memory");
    free(buf);
    buf = next;
    memcpy(cur, nd, sizeof cur);
  }
  if (!rc) {
    int64_t m = pn_tensor_numel(Y);
    if (Y->dtype == PN_DT_FLOAT)
      for (int64_t i = 0; i < m; i++) ((float *)Y->data)[i] = (float)buf[i];
    else
      memcpy(Y->data, buf, (size_t)m * sizeof *buf);
  }
  free(buf);
  return rc;
}
