/* k_misc.c - Min/Max/Sum/Mean, PRelu, Mod, LogSoftmax, Hardmax, Pad, Tile, Range, ConstantOfShape,
** Size, CumSum, GatherElements and Trilu.
**
** The variadic ops copy their first input broadcast into the output, then fold every further
** input in place with a broadcasting DEF_XBIN walk. Data-movement ops (Pad, Tile, GatherElements,
** Trilu) copy elements by size, so they serve every dense dtype; index inputs are checked against
** the shapes before any element is read. Integer arithmetic wraps (done in the unsigned type) and
** integer Mod by zero is reported, never executed. */
#include <stdlib.h>

#include "graph/k_xutil.h"

#define NUMERIC (PN_DT_FLOATS | PN_DT_INTS)

/* ---- Min, Max, Sum, Mean ---- */

enum var_op { VAR_MIN, VAR_MAX, VAR_SUM, VAR_MEAN };

/* NaN propagates through Min/Max like numpy's minimum/maximum. */
#define MINMAX_T(SFX, T)                                                                       \
  DEF_XBIN(min_##SFX, T, T, (x != x || x < z) ? x : z)                                         \
  DEF_XBIN(max_##SFX, T, T, (x != x || x > z) ? x : z)
MINMAX_T(f32, float)
MINMAX_T(f64, double)
MINMAX_T(i32, int32_t)
MINMAX_T(i64, int64_t)
MINMAX_T(i8, int8_t)
MINMAX_T(u8, uint8_t)
DEF_XBIN(sum_f32, float, float, x + z)
DEF_XBIN(sum_f64, double, double, x + z)

static pn_xbin_fn *const var_fns[4][XS_COUNT] = {
  [VAR_MIN] = {min_f32, min_f64, min_i32, min_i64, min_i8, min_u8},
  [VAR_MAX] = {max_f32, max_f64, max_i32, max_i64, max_i8, max_u8},
  [VAR_SUM] = {sum_f32, sum_f64},
  [VAR_MEAN] = {sum_f32, sum_f64},
};

static int infer_var(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                     struct pn_shape *out, enum var_op op) {
  if (pn_xrequire(a, n_in, n_in)) return PN_ERR_INVALID;
  enum pn_dtype dt;
  int rc = pn_xsame_dtype(a, in, n_in, &dt);
  if (rc) return rc;
  if (dt && (pn_xslot(dt) < 0 || !var_fns[op][pn_xslot(dt)]))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "inputs: unsupported dtype %s", pn_dtype_name(dt));
  return pn_xinfer_bcast(a, in, n_in, dt, out);
}

static int run_var(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                   struct pn_tensor *Y, enum var_op op) {
  int s = pn_xslot(Y->dtype);
  if (s < 0 || !var_fns[op][s])
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "inputs: unsupported dtype %s", pn_dtype_name(Y->dtype));
  for (int i = 0; i < n_in; i++)
    if (!in[i] || in[i]->dtype != Y->dtype)
      return pn_op_err(a, PN_ERR_INVALID, "input %d missing or not %s", i, pn_dtype_name(Y->dtype));
  int64_t st[PN_MAX_DIMS];
  pn_bcast_strides(Y->ndim, in[0]->ndim, in[0]->dims, st);
  pn_copy_strided(pn_dtype_size(Y->dtype), Y->ndim, Y->dims, in[0]->data, st, Y->data);
  for (int i = 1; i < n_in; i++) {
    const struct pn_tensor *ops[2] = {Y, in[i]};
    struct pn_iter it;
    pn_xiter(&it, Y, 2, ops);
    var_fns[op][s](&it, Y->data, in[i]->data, Y->data);
  }
  if (op == VAR_MEAN) {
    int64_t n = pn_tensor_numel(Y);
    for (int64_t i = 0; i < n; i++) {
      if (s == XS_F32) ((float *)Y->data)[i] /= (float)n_in;
      else ((double *)Y->data)[i] /= n_in;
    }
  }
  return PN_OK;
}

#define VAR_X(fn, OP)                                                                          \
  int pn_infer_##fn(const struct pn_op_args *a, const struct pn_shape *in, int n_in,         \
                    struct pn_shape *out, int n_out) {                                       \
    return infer_var(a, in, n_in, out, OP);                                                    \
  }                                                                                            \
  int pn_run_##fn(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,   \
                  struct pn_tensor *const *out, int n_out) {                                 \
    return run_var(a, in, n_in, out[0], OP);                                                   \
  }
VAR_X(min, VAR_MIN)
VAR_X(max, VAR_MAX)
VAR_X(sum, VAR_SUM)
VAR_X(mean, VAR_MEAN)

/* ---- PRelu ---- */

DEF_XBIN(prelu_f32, float, float, x < 0 ? x * z : x)
DEF_XBIN(prelu_f64, double, double, x < 0 ? x * z : x)
DEF_XBIN(prelu_i32, int32_t, int32_t, x < 0 ? (uint32_t)x * (uint32_t)z : (uint32_t)x)
DEF_XBIN(prelu_i64, int64_t, int64_t, x < 0 ? (uint64_t)x * (uint64_t)z : (uint64_t)x)
static pn_xbin_fn *const prelu_fns[XS_COUNT] = {prelu_f32, prelu_f64, prelu_i32, prelu_i64};

/* Before opset 7 a 1-D slope of X's channel count applies along axis 1 (not numpy broadcast). */
static bool prelu_channel(const struct pn_op_args *a, int xnd, const int64_t *xd, int snd,
                          const int64_t *sd) {
  return a->opset < 7 && xnd >= 2 && snd == 1 && sd[0] != 1 && sd[0] == xd[1];
}

int pn_infer_prelu(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                   struct pn_shape *out, int n_out) {
  if (pn_xrequire(a, n_in, 2)) return PN_ERR_INVALID;
  enum pn_dtype dt;
  int rc = pn_xsame_dtype(a, in, 2, &dt);
  if (rc) return rc;
  if (dt && (pn_xslot(dt) < 0 || !prelu_fns[pn_xslot(dt)]))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "inputs: unsupported dtype %s", pn_dtype_name(dt));
  if (in[0].ndim >= 0 && in[1].ndim >= 0 &&
      !prelu_channel(a, in[0].ndim, in[0].dims, in[1].ndim, in[1].dims)) {
    struct pn_shape b;
    if ((rc = pn_xinfer_bcast(a, in, 2, dt, &b))) return rc;
    bool ok = b.ndim == in[0].ndim;
    for (int i = 0; ok && i < b.ndim; i++)
      ok = b.dims[i] < 0 || in[0].dims[i] < 0 || b.dims[i] == in[0].dims[i];
    if (!ok) return pn_op_err(a, PN_ERR_INVALID, "slope does not broadcast to X's shape");
  }
  pn_shape_set(out, dt, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_run_prelu(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                 struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0], *S = in[1];
  struct pn_tensor *Y = out[0];
  int s = pn_xslot(X->dtype);
  if (s < 0 || !prelu_fns[s] || S->dtype != X->dtype || Y->dtype != X->dtype ||
      !pn_tensor_same_shape(X, Y))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "inputs: dtypes %s and %s", pn_dtype_name(X->dtype),
                     pn_dtype_name(S->dtype));
  int64_t st[2][PN_MAX_DIMS];
  pn_strides(X->ndim, X->dims, st[0]);
  if (prelu_channel(a, X->ndim, X->dims, S->ndim, S->dims)) {
    for (int i = 0; i < X->ndim; i++) st[1][i] = i == 1 ? 1 : 0;
  } else {
    if (S->ndim > X->ndim) return pn_op_err(a, PN_ERR_INVALID, "slope has a higher rank than X");
    for (int i = 0; i < S->ndim; i++) {
      int64_t sd = S->dims[i], xd = X->dims[i + X->ndim - S->ndim];
      if (sd != 1 && sd != xd) return pn_op_err(a, PN_ERR_INVALID, "slope does not broadcast to X");
    }
    pn_bcast_strides(X->ndim, S->ndim, S->dims, st[1]);
  }
  struct pn_iter it;
  pn_iter_init(&it, X->ndim, X->dims, 2, st);
  prelu_fns[s](&it, X->data, S->data, Y->data);
  return PN_OK;
}

/* ---- Mod ---- */

/* Python-style remainder (sign of the divisor) and C-style (sign of the dividend). z == -1 is
** special-cased so that MIN % -1 is never executed. Divisors were checked for zero. */
#define MOD_S(SFX, T)                                                                          \
  DEF_XBIN(mod_##SFX, T, T, z == -1 ? 0 : (x % z != 0 && ((x % z < 0) != (z < 0))) ? x % z + z : x % z) \
  DEF_XBIN(fmod_##SFX, T, T, z == -1 ? 0 : x % z)
MOD_S(i32, int32_t)
MOD_S(i64, int64_t)
MOD_S(i8, int8_t)
DEF_XBIN(mod_u8, uint8_t, uint8_t, x % z)
DEF_XBIN(fmod_f32, float, float, fmodf(x, z))
DEF_XBIN(fmod_f64, double, double, fmod(x, z))

static pn_xbin_fn *const mod_fns[2][XS_COUNT] = {
  {NULL, NULL, mod_i32, mod_i64, mod_i8, mod_u8},               /* fmod = 0 */
  {fmod_f32, fmod_f64, fmod_i32, fmod_i64, fmod_i8, mod_u8},    /* fmod = 1 */
};

static int mod_setup(const struct pn_op_args *a, enum pn_dtype dt, int64_t *fm) {
  int rc = pn_node_get_int(a->ctx, a->node, "fmod", 0, fm);
  if (rc) return rc;
  if (*fm != 0 && *fm != 1)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'fmod' = %lld must be 0 or 1", (long long)*fm);
  if (dt && (dt == PN_DT_FLOAT || dt == PN_DT_DOUBLE) && !*fm)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'fmod' must be 1 for %s inputs",
                     pn_dtype_name(dt));
  if (dt && (pn_xslot(dt) < 0 || !mod_fns[*fm][pn_xslot(dt)]))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "inputs: unsupported dtype %s", pn_dtype_name(dt));
  return PN_OK;
}

int pn_infer_mod(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                 struct pn_shape *out, int n_out) {
  if (pn_xrequire(a, n_in, 2)) return PN_ERR_INVALID;
  enum pn_dtype dt;
  int64_t fm;
  int rc;
  if ((rc = pn_xsame_dtype(a, in, 2, &dt)) || (rc = mod_setup(a, dt, &fm))) return rc;
  return pn_xinfer_bcast(a, in, 2, dt, out);
}

int pn_run_mod(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
               struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *A = in[0], *B = in[1];
  int64_t fm;
  int rc;
  if (A->dtype != B->dtype || out[0]->dtype != A->dtype)
    return pn_op_err(a, PN_ERR_INVALID, "inputs have dtypes %s and %s", pn_dtype_name(A->dtype),
                     pn_dtype_name(B->dtype));
  if ((rc = mod_setup(a, A->dtype, &fm))) return rc;
  int s = pn_xslot(A->dtype);
  if (s >= XS_I32) {
    int64_t n = pn_tensor_numel(B);
    for (int64_t i = 0; i < n; i++)
      if (pn_tensor_get_i64(B, i) == 0) return pn_op_err(a, PN_ERR_INVALID, "integer modulo by zero");
  }
  struct pn_iter it;
  pn_xiter(&it, out[0], 2, in);
  mod_fns[fm][s](&it, A->data, B->data, out[0]->data);
  return PN_OK;
}

/* ---- LogSoftmax, Hardmax ---- */

/* Rows like Softmax: opset >= 13 along one axis (default -1), before coerced to 2-D at axis
** (default 1). Float32 only. */
static int sm_geo(const struct pn_op_args *a, const struct pn_shape *x, int64_t *outer,
                  int64_t *len, int64_t *inner) {
  int64_t ax;
  int axis, rc;
  if ((rc = pn_check_dtype(a, "input", x->dtype, PN_DT_BIT(PN_DT_FLOAT))) ||
      (rc = pn_node_get_int(a->ctx, a->node, "axis", a->opset >= 13 ? -1 : 1, &ax)))
    return rc;
  if (x->ndim < 0) return PN_OK;
  if (x->ndim == 0) return pn_op_err(a, PN_ERR_INVALID, "input is a scalar; needs rank >= 1");
  if (a->opset < 13 && ax == x->ndim) {   /* coerced to [numel, 1]: rows of one element */
    *outer = pn_shape_numel(x->ndim, x->dims), *len = 1, *inner = 1;
    return PN_OK;
  }
  if ((rc = pn_op_axis(a, "attribute 'axis'", ax, x->ndim, &axis))) return rc;
  *outer = pn_shape_numel(axis, x->dims);
  if (a->opset >= 13) {
    *len = x->dims[axis];
    *inner = pn_shape_numel(x->ndim - axis - 1, x->dims + axis + 1);
  } else {
    *len = pn_shape_numel(x->ndim - axis, x->dims + axis);
    *inner = 1;
  }
  return PN_OK;
}

static int infer_sm(const struct pn_op_args *a, const struct pn_shape *in, struct pn_shape *out) {
  int64_t o, l, i;
  int rc = sm_geo(a, &in[0], &o, &l, &i);
  if (rc) return rc;
  pn_shape_set(out, in[0].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

static int run_sm(const struct pn_op_args *a, const struct pn_tensor *X, struct pn_tensor *Y,
                  bool hard) {
  struct pn_shape xs;
  int64_t outer = 0, len = 0, inner = 1;
  pn_shapes_of(&X, 1, &xs);
  if (X->dtype != PN_DT_FLOAT)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "input: unsupported dtype %s (float32 only)", pn_dtype_name(X->dtype));
  int rc = sm_geo(a, &xs, &outer, &len, &inner);
  if (rc) return rc;
  if (!pn_tensor_same_shape(X, Y)) return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  const float *xp = X->data;
  float *yp = Y->data;
  int64_t rows = outer * inner;
#pragma omp parallel for schedule(static) if (rows * len > 65536)
  for (int64_t r = 0; r < rows; r++) {
    int64_t o = r / inner, i = r % inner;
    const float *xr = xp + o * len * inner + i;
    float *yr = yp + o * len * inner + i;
    float mx = -INFINITY;
    int64_t arg = 0;
    for (int64_t j = 0; j < len; j++)
      if (xr[j * inner] > mx || j == 0) mx = xr[j * inner], arg = j;
    if (hard) {
      for (int64_t j = 0; j < len; j++) yr[j * inner] = j == arg ? 1.0f : 0.0f;
      continue;
    }
    double sum = 0;
    for (int64_t j = 0; j < len; j++) sum += exp((double)xr[j * inner] - mx);
    double ls = log(sum);
    for (int64_t j = 0; j < len; j++) yr[j * inner] = (float)((double)xr[j * inner] - mx - ls);
  }
  return PN_OK;
}

int pn_infer_log_softmax(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                         struct pn_shape *out, int n_out) {
  return infer_sm(a, in, out);
}
int pn_run_log_softmax(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                       struct pn_tensor *const *out, int n_out) {
  return run_sm(a, in[0], out[0], false);
}
int pn_infer_hardmax(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                     struct pn_shape *out, int n_out) {
  return infer_sm(a, in, out);
}
int pn_run_hardmax(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                   struct pn_tensor *const *out, int n_out) {
  return run_sm(a, in[0], out[0], true);
}

/* ---- Pad ---- */

enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

struct pad_geo {
  enum pad_mode mode;
  bool known;                  /* pads known */
  int64_t pads[2 * PN_MAX_DIMS];  /* begin[0..r), end[0..r) over all of X's dims */
  float value;                 /* constant before opset 11 */
};

/* Pads from the attribute (before 11: 'paddings' in opset 1, 'pads' after) or input 1, with the
** optional 'axes' input (opset 18) naming which dims they cover. */
static int pad_setup(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                     struct pad_geo *g) {
  const char *mode;
  int rc, r = in[0].ndim;
  if ((rc = pn_node_get_string(a->ctx, a->node, "mode", "constant", &mode))) return rc;
  if (!strcmp(mode, "constant")) g->mode = PAD_CONSTANT;
  else if (!strcmp(mode, "reflect")) g->mode = PAD_REFLECT;
  else if (!strcmp(mode, "edge")) g->mode = PAD_EDGE;
  else return pn_op_err(a, PN_ERR_UNSUPPORTED, "attribute 'mode' = '%s'", mode);
  g->known = true;
  g->value = 0;
  int64_t p[2 * PN_MAX_DIMS], np = -1, ax[PN_MAX_DIMS], nax = -1;
  if (a->opset < 11) {
    const int64_t *v;
    const char *name = a->opset < 2 ? "paddings" : "pads";
    if ((rc = pn_node_get_ints(a->ctx, a->node, name, &np, &v)) ||
        (rc = pn_node_get_float(a->ctx, a->node, "value", 0, &g->value)))
      return rc;
    if (np < 0) return pn_op_err(a, PN_ERR_INVALID, "attribute '%s' is required", name);
    if (np > 2 * PN_MAX_DIMS)
      return pn_op_err(a, PN_ERR_INVALID, "attribute '%s' has %lld values", name, (long long)np);
    memcpy(p, v, (size_t)np * sizeof *v);
  } else {
    if (!pn_has_in(a, n_in, 1)) return pn_op_err(a, PN_ERR_INVALID, "input 'pads' is required");
    if (pn_has_in(a, n_in, 2) && in[2].ndim > 0 && pn_shape_numel(in[2].ndim, in[2].dims) > 1)
      return pn_op_err(a, PN_ERR_INVALID, "input 'constant_value' must be a scalar");
    if (pn_has_in(a, n_in, 2) && in[2].dtype && in[0].dtype && in[2].dtype != in[0].dtype)
      return pn_op_err(a, PN_ERR_INVALID, "input 'constant_value' has dtype %s, data has %s",
                       pn_dtype_name(in[2].dtype), pn_dtype_name(in[0].dtype));
    if (!in[1].value) g->known = false;
    else if ((rc = pn_read_ints(a, "input 'pads'", in[1].value, 2 * PN_MAX_DIMS, p, &np)))
      return rc;
    if (pn_has_in(a, n_in, 3)) {
      if (!in[3].value) g->known = false;
      else if ((rc = pn_read_ints(a, "input 'axes'", in[3].value, PN_MAX_DIMS, ax, &nax)))
        return rc;
    }
  }
  if (r < 0 || !g->known) {
    g->known = false;
    return PN_OK;
  }
  if (nax < 0) {
    if (np != 2 * r)
      return pn_op_err(a, PN_ERR_INVALID, "pads has %lld values, expected 2 x rank = %d",
                       (long long)np, 2 * r);
    memcpy(g->pads, p, (size_t)np * sizeof *p);
    return PN_OK;
  }
  if (np != 2 * nax)
    return pn_op_err(a, PN_ERR_INVALID, "pads has %lld values, expected 2 x %lld axes",
                     (long long)np, (long long)nax);
  memset(g->pads, 0, sizeof g->pads);
  for (int64_t i = 0; i < nax; i++) {
    int d;
    if ((rc = pn_op_axis(a, "input 'axes'", ax[i], r, &d))) return rc;
    g->pads[d] = p[i];
    g->pads[r + d] = p[nax + i];
  }
  return PN_OK;
}

int pn_infer_pad(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                 struct pn_shape *out, int n_out) {
  if (pn_xrequire(a, n_in, 1)) return PN_ERR_INVALID;
  struct pad_geo g;
  int rc, r = in[0].ndim;
  if ((rc = pn_check_dtype(a, "input 'data'", in[0].dtype, PN_DT_DENSE)) ||
      (rc = pad_setup(a, in, n_in, &g)))
    return rc;
  if (r > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "rank %d", r);
  int64_t d[PN_MAX_DIMS];
  for (int i = 0; i < r; i++) {
    d[i] = -1;
    if (!g.known || in[0].dims[i] < 0) continue;
    int64_t n = in[0].dims[i], pb = g.pads[i], pe = g.pads[r + i];
    if (pb > PN_XDIM_MAX || pb < -PN_XDIM_MAX || pe > PN_XDIM_MAX || pe < -PN_XDIM_MAX ||
        n > PN_XDIM_MAX)
      return pn_op_err(a, PN_ERR_INVALID, "pads %lld, %lld of dim %d out of range", (long long)pb,
                       (long long)pe, i);
    d[i] = n + pb + pe;
    if (d[i] < 0)
      return pn_op_err(a, PN_ERR_INVALID, "pads %lld, %lld make dim %d negative", (long long)pb,
                       (long long)pe, i);
    if (g.mode != PAD_CONSTANT && n == 0 && d[i] > 0)
      return pn_op_err(a, PN_ERR_INVALID, "cannot %s-pad dim %d of size 0",
                       g.mode == PAD_EDGE ? "edge" : "reflect", i);
  }
  pn_shape_set(out, in[0].dtype, r, d);
  return PN_OK;
}

/* Source coordinate of output coordinate c (shifted by the begin pad) in a dim of size n, or -1
** for the constant. */
static int64_t pad_src(int64_t c, int64_t n, enum pad_mode m) {
  if (c >= 0 && c < n) return c;
  if (m == PAD_CONSTANT) return -1;
  if (m == PAD_EDGE || n == 1) return c < 0 ? 0 : n - 1;
  int64_t per = 2 * (n - 1);
  c %= per;
  if (c < 0) c += per;
  return c < n ? c : per - c;
}

int pn_run_pad(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
               struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *Y = out[0];
  struct pn_shape sh[4];
  struct pad_geo g;
  int nin = n_in < 4 ? n_in : 4, rc;
  pn_shapes_of(in, nin, sh);
  for (int i = nin; i < 4; i++) sh[i].dtype = PN_DT_UNDEFINED, sh[i].ndim = -1, sh[i].value = NULL;
  if ((rc = pad_setup(a, sh, nin, &g))) return rc;
  if (!g.known) return pn_op_err(a, PN_ERR_INVALID, "pads have no value");
  if (Y->dtype != X->dtype || Y->ndim != X->ndim || !pn_dtype_supported(X->dtype))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s", pn_dtype_name(X->dtype));
  int r = X->ndim;
  for (int i = 0; i < r; i++) {
    if (Y->dims[i] != X->dims[i] + g.pads[i] + g.pads[r + i])
      return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
    if (g.mode != PAD_CONSTANT && X->dims[i] == 0 && Y->dims[i] > 0)
      return pn_op_err(a, PN_ERR_INVALID, "cannot pad dim %d of size 0", i);
  }
  size_t es = pn_dtype_size(X->dtype);
  uint8_t cv[8] = {0};
  if (a->opset >= 11 && pn_has_in(a, n_in, 2) && in[2]) {
    if (in[2]->dtype != X->dtype || pn_tensor_numel(in[2]) != 1)
      return pn_op_err(a, PN_ERR_INVALID, "input 'constant_value' must be a %s scalar",
                       pn_dtype_name(X->dtype));
    memcpy(cv, in[2]->data, es);
  } else if (g.value != 0) {
    double v = g.value;
    switch (X->dtype) {
    case PN_DT_FLOAT: { float f = g.value; memcpy(cv, &f, 4); break; }
    case PN_DT_DOUBLE: memcpy(cv, &v, 8); break;
    case PN_DT_INT32: { int32_t q = (int32_t)v; memcpy(cv, &q, 4); break; }
    case PN_DT_INT64: { int64_t q = (int64_t)v; memcpy(cv, &q, 8); break; }
    default: cv[0] = (uint8_t)(int)v; break;
    }
  }
  int64_t n = pn_tensor_numel(Y);
  if (n == 0) return PN_OK;
  int64_t xst[PN_MAX_DIMS], idx[PN_MAX_DIMS] = {0};
  pn_strides(r, X->dims, xst);
  const uint8_t *xp = X->data;
  uint8_t *yp = Y->data;
  int64_t last = r ? Y->dims[r - 1] : 1, xn = r ? X->dims[r - 1] : 1, pb = r ? g.pads[r - 1] : 0;
  /* One output row (all dims but the last fixed) at a time. */
  for (int64_t row = 0; row < n / last; row++) {
    int64_t base = 0;
    bool fill = false;
    for (int d = 0; d < r - 1; d++) {
      int64_t s = pad_src(idx[d] - g.pads[d], X->dims[d], g.mode);
      if (s < 0) fill = true;
      else base += s * xst[d];
    }
    uint8_t *yr = yp + row * last * (int64_t)es;
    /* the run [j0, j1) reads X contiguously; only the padded ends go element by element */
    int64_t j0 = fill ? last : pb > 0 ? pb : 0, j1 = fill ? last : pb + xn < last ? pb + xn : last;
    if (j1 < j0) j1 = j0;
    if (j1 > j0) memcpy(yr + j0 * (int64_t)es, xp + (base + j0 - pb) * (int64_t)es, (size_t)(j1 - j0) * es);
    for (int64_t j = 0; j < last; j++) {
      if (j == j0) j = j1;
      if (j >= last) break;
      int64_t s = fill ? -1 : r ? pad_src(j - pb, xn, g.mode) : 0;
      memcpy(yr + j * (int64_t)es, s < 0 ? cv : xp + (base + s) * (int64_t)es, es);
    }
    for (int d = r - 2; d >= 0; d--) {
      if (++idx[d] < Y->dims[d]) break;
      idx[d] = 0;
    }
  }
  return PN_OK;
}

/* ---- Tile ---- */

static int tile_reps(const struct pn_op_args *a, const struct pn_shape *in, int64_t *rep,
                     bool *known) {
  int64_t n;
  int rc;
  *known = false;
  if (a->opset < 6) return pn_op_err(a, PN_ERR_UNSUPPORTED, "Tile before opset 6");
  if (in[1].dtype && in[1].dtype != PN_DT_INT64)
    return pn_op_err(a, PN_ERR_INVALID, "input 'repeats' must be int64");
  if (!in[1].value || in[0].ndim < 0) return PN_OK;
  if ((rc = pn_read_ints(a, "input 'repeats'", in[1].value, PN_MAX_DIMS, rep, &n))) return rc;
  if (n != in[0].ndim)
    return pn_op_err(a, PN_ERR_INVALID, "input 'repeats' has %lld values, input has rank %d",
                     (long long)n, in[0].ndim);
  for (int64_t i = 0; i < n; i++) {
    if (rep[i] < 0) return pn_op_err(a, PN_ERR_INVALID, "repeats[%lld] is negative", (long long)i);
    if (rep[i] > 0 && in[0].dims[i] > PN_XDIM_MAX / rep[i])
      return pn_op_err(a, PN_ERR_INVALID, "repeats[%lld] = %lld makes dim %lld too large",
                       (long long)i, (long long)rep[i], (long long)i);
  }
  *known = true;
  return PN_OK;
}

int pn_infer_tile(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                  struct pn_shape *out, int n_out) {
  if (pn_xrequire(a, n_in, 2)) return PN_ERR_INVALID;
  int64_t rep[PN_MAX_DIMS], d[PN_MAX_DIMS];
  bool known;
  int rc;
  if ((rc = pn_check_dtype(a, "input", in[0].dtype, PN_DT_DENSE)) ||
      (rc = tile_reps(a, in, rep, &known)))
    return rc;
  for (int i = 0; i < in[0].ndim && i < PN_MAX_DIMS; i++)
    d[i] = known && in[0].dims[i] >= 0 ? in[0].dims[i] * rep[i] : -1;
  pn_shape_set(out, in[0].dtype, in[0].ndim, d);
  return PN_OK;
}

int pn_run_tile(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *Y = out[0];
  struct pn_shape sh[2];
  int64_t rep[PN_MAX_DIMS];
  bool known;
  pn_shapes_of(in, 2, sh);
  int rc = tile_reps(a, sh, rep, &known);
  if (rc) return rc;
  if (!known || Y->dtype != X->dtype || Y->ndim != X->ndim || !pn_dtype_supported(X->dtype))
    return pn_op_err(a, PN_ERR_INVALID, "bad inputs");
  int r = X->ndim;
  for (int i = 0; i < r; i++)
    if (Y->dims[i] != X->dims[i] * rep[i]) return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  int64_t n = pn_tensor_numel(Y);
  if (n == 0) return PN_OK;
  size_t es = pn_dtype_size(X->dtype);
  int64_t xst[PN_MAX_DIMS], idx[PN_MAX_DIMS] = {0};
  pn_strides(r, X->dims, xst);
  const uint8_t *xp = X->data;
  uint8_t *yp = Y->data;
  int64_t last = r ? Y->dims[r - 1] : 1, xn = r ? X->dims[r - 1] : 1;
  for (int64_t row = 0; row < n / last; row++) {
    int64_t base = 0;
    for (int d = 0; d < r - 1; d++) base += (idx[d] % X->dims[d]) * xst[d];
    uint8_t *yr = yp + row * last * (int64_t)es;
    for (int64_t j = 0; j < last; j += xn)   /* last is a multiple of xn (> 0 here) */
      memcpy(yr + j * (int64_t)es, xp + base * (int64_t)es, (size_t)xn * es);
    for (int d = r - 2; d >= 0; d--) {
      if (++idx[d] < Y->dims[d]) break;
      idx[d] = 0;
    }
  }
  return PN_OK;
}

/* ---- Range ---- */

#define RANGE_MAX (INT64_C(1) << 31)

/* Element count of Range(start, limit, delta), from scalar tensors of one dtype. */
static int range_count(const struct pn_op_args *a, const struct pn_tensor *const *t, int64_t *n) {
  for (int i = 0; i < 3; i++)
    if (t[i]->dtype != t[0]->dtype || pn_tensor_numel(t[i]) != 1)
      return pn_op_err(a, PN_ERR_INVALID, "start, limit and delta must be scalars of one dtype");
  if (t[0]->dtype == PN_DT_FLOAT || t[0]->dtype == PN_DT_DOUBLE) {
    double s = pn_tensor_get_f64(t[0], 0), l = pn_tensor_get_f64(t[1], 0), d = pn_tensor_get_f64(t[2], 0);
    if (d == 0) return pn_op_err(a, PN_ERR_INVALID, "delta is 0");
    double c = ceil((l - s) / d);
    if (c != c) return pn_op_err(a, PN_ERR_INVALID, "start/limit/delta are not finite");
    if (c > (double)RANGE_MAX) return pn_op_err(a, PN_ERR_INVALID, "range too long");
    *n = c > 0 ? (int64_t)c : 0;
    return PN_OK;
  }
  int64_t s = pn_tensor_get_i64(t[0], 0), l = pn_tensor_get_i64(t[1], 0), d = pn_tensor_get_i64(t[2], 0);
  if (d == 0) return pn_op_err(a, PN_ERR_INVALID, "delta is 0");
  if ((d > 0 && l <= s) || (d < 0 && l >= s)) {
    *n = 0;
    return PN_OK;
  }
  uint64_t span = d > 0 ? (uint64_t)l - (uint64_t)s : (uint64_t)s - (uint64_t)l;
  uint64_t step = d > 0 ? (uint64_t)d : (uint64_t)0 - (uint64_t)d;
  uint64_t c = span / step + (span % step != 0);
  if (c > (uint64_t)RANGE_MAX) return pn_op_err(a, PN_ERR_INVALID, "range too long");
  *n = (int64_t)c;
  return PN_OK;
}

#define RANGE_DTYPES (PN_DT_FLOATS | PN_DT_BIT(PN_DT_INT32) | PN_DT_BIT(PN_DT_INT64))

int pn_infer_range(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                   struct pn_shape *out, int n_out) {
  if (pn_xrequire(a, n_in, 3)) return PN_ERR_INVALID;
  enum pn_dtype dt;
  int rc;
  if ((rc = pn_xsame_dtype(a, in, 3, &dt)) || (rc = pn_check_dtype(a, "inputs", dt, RANGE_DTYPES)))
    return rc;
  for (int i = 0; i < 3; i++)
    if (in[i].ndim > 0 && pn_shape_numel(in[i].ndim, in[i].dims) > 1)
      return pn_op_err(a, PN_ERR_INVALID, "input %d must be a scalar", i);
  int64_t n = -1;
  if (in[0].value && in[1].value && in[2].value) {
    const struct pn_tensor *t[3] = {in[0].value, in[1].value, in[2].value};
    if ((rc = range_count(a, t, &n))) return rc;
  }
  pn_shape_set(out, dt, 1, &n);
  return PN_OK;
}

int pn_run_range(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                 struct pn_tensor *const *out, int n_out) {
  int64_t n;
  int rc = range_count(a, in, &n);
  if (rc) return rc;
  struct pn_tensor *Y = out[0];
  if (Y->dtype != in[0]->dtype || pn_tensor_numel(Y) != n)
    return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  switch (Y->dtype) {
  case PN_DT_FLOAT: {
    float s = *(const float *)in[0]->data, d = *(const float *)in[2]->data;
    for (int64_t i = 0; i < n; i++) ((float *)Y->data)[i] = s + (float)i * d;
    break;
  }
  case PN_DT_DOUBLE: {
    double s = *(const double *)in[0]->data, d = *(const double *)in[2]->data;
    for (int64_t i = 0; i < n; i++) ((double *)Y->data)[i] = s + (double)i * d;
    break;
  }
  case PN_DT_INT32: {
    uint32_t s = (uint32_t)*(const int32_t *)in[0]->data, d = (uint32_t)*(const int32_t *)in[2]->data;
    for (int64_t i = 0; i < n; i++) ((int32_t *)Y->data)[i] = (int32_t)(s + (uint32_t)i * d);
    break;
  }
  case PN_DT_INT64: {
    uint64_t s = (uint64_t)*(const int64_t *)in[0]->data, d = (uint64_t)*(const int64_t *)in[2]->data;
    for (int64_t i = 0; i < n; i++) ((int64_t *)Y->data)[i] = (int64_t)(s + (uint64_t)i * d);
    break;
  }
  default: return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s", pn_dtype_name(Y->dtype));
  }
  return PN_OK;
}

/* ---- ConstantOfShape, Size ---- */

/* The fill value: attribute 'value' (a one-element tensor) or float 0. */
static int cos_value(const struct pn_op_args *a, const struct pn_tensor **v) {
  const struct pn_attr *at = pn_node_attr(a->node, "value");
  *v = NULL;
  if (!at) return PN_OK;
  if (at->type != PN_ATTR_TENSOR || !at->t)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'value' must be a tensor");
  if (pn_tensor_numel(at->t) != 1)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'value' must have one element");
  if (!pn_dtype_supported(at->t->dtype))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "attribute 'value': unsupported dtype %s", pn_dtype_name(at->t->dtype));
  *v = at->t;
  return PN_OK;
}

int pn_infer_constant_of_shape(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                               struct pn_shape *out, int n_out) {
  if (pn_xrequire(a, n_in, 1)) return PN_ERR_INVALID;
  const struct pn_tensor *v;
  int rc = cos_value(a, &v);
  if (rc) return rc;
  enum pn_dtype dt = v ? v->dtype : PN_DT_FLOAT;
  if (in[0].dtype && in[0].dtype != PN_DT_INT64)
    return pn_op_err(a, PN_ERR_INVALID, "input must be int64, not %s", pn_dtype_name(in[0].dtype));
  if (in[0].ndim > 1) return pn_op_err(a, PN_ERR_INVALID, "input must be 1-D");
  if (in[0].value) {
    int64_t d[PN_MAX_DIMS], n;
    if ((rc = pn_read_ints(a, "input", in[0].value, PN_MAX_DIMS, d, &n))) return rc;
    for (int64_t i = 0; i < n; i++)
      if (d[i] < 0) return pn_op_err(a, PN_ERR_INVALID, "input has a negative dim %lld", (long long)d[i]);
    pn_shape_set(out, dt, (int)n, d);
    return PN_OK;
  }
  int64_t r = in[0].ndim == 1 ? in[0].dims[0] : -1;
  if (r > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "rank %lld", (long long)r);
  pn_shape_set(out, dt, (int)r, NULL);
  return PN_OK;
}

int pn_run_constant_of_shape(const struct pn_op_args *a, const struct pn_tensor *const *in,
                             int n_in, struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *v;
  int rc = cos_value(a, &v);
  if (rc) return rc;
  struct pn_tensor *Y = out[0];
  if (Y->dtype != (v ? v->dtype : PN_DT_FLOAT))
    return pn_op_err(a, PN_ERR_INVALID, "output has the wrong dtype");
  if (!v) {
    memset(Y->data, 0, pn_tensor_nbytes(Y));
    return PN_OK;
  }
  size_t es = pn_dtype_size(Y->dtype);
  int64_t n = pn_tensor_numel(Y);
  for (int64_t i = 0; i < n; i++) memcpy((uint8_t *)Y->data + i * (int64_t)es, v->data, es);
  return PN_OK;
}

int pn_infer_size(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                  struct pn_shape *out, int n_out) {
  if (pn_xrequire(a, n_in, 1)) return PN_ERR_INVALID;
  pn_shape_set(out, PN_DT_INT64, 0, NULL);
  return PN_OK;
}

int pn_run_size(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                struct pn_tensor *const *out, int n_out) {
  if (out[0]->dtype != PN_DT_INT64 || pn_tensor_numel(out[0]) != 1)
    return pn_op_err(a, PN_ERR_INVALID, "output must be an int64 scalar");
  *(int64_t *)out[0]->data = pn_tensor_numel(in[0]);
  return PN_OK;
}

/* ---- CumSum ---- */

#define CUMSUM_DTYPES (PN_DT_FLOATS | PN_DT_BIT(PN_DT_INT32) | PN_DT_BIT(PN_DT_INT64))

int pn_infer_cumsum(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                    struct pn_shape *out, int n_out) {
  if (pn_xrequire(a, n_in, 2)) return PN_ERR_INVALID;
  int rc;
  if ((rc = pn_check_dtype(a, "input x", in[0].dtype, CUMSUM_DTYPES))) return rc;
  if (in[1].dtype && in[1].dtype != PN_DT_INT32 && in[1].dtype != PN_DT_INT64)
    return pn_op_err(a, PN_ERR_INVALID, "input 'axis' must be int32 or int64");
  if (in[1].value && in[0].ndim >= 0) {
    int64_t ax;
    int axis;
    if ((rc = pn_xscalar_int(a, "input 'axis'", in[1].value, &ax)) ||
        (rc = pn_op_axis(a, "input 'axis'", ax, in[0].ndim, &axis)))
      return rc;
  }
  pn_shape_set(out, in[0].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

#define CUMSUM_LOOP(T, ACC)                                                                    \
  do {                                                                                         \
    const T *x = X->data;                                                                      \
    T *y = Y->data;                                                                            \
    for (int64_t o = 0; o < outer; o++)                                                        \
      for (int64_t i = 0; i < inner; i++) {                                                    \
        ACC acc = 0;                                                                           \
        for (int64_t k = 0; k < len; k++) {                                                    \
          int64_t j = rev ? len - 1 - k : k, p = (o * len + j) * inner + i;                    \
          if (excl) y[p] = (T)acc, acc += (ACC)x[p];                                           \
          else acc += (ACC)x[p], y[p] = (T)acc;                                                \
        }                                                                                      \
      }                                                                                        \
  } while (0)

int pn_run_cumsum(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *Y = out[0];
  int64_t ax, excl, rev;
  int axis, rc;
  if ((rc = pn_xscalar_int(a, "input 'axis'", in[1], &ax)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "exclusive", 0, &excl)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "reverse", 0, &rev)))
    return rc;
  if (X->ndim == 0) return pn_op_err(a, PN_ERR_INVALID, "input x is a scalar");
  if ((rc = pn_op_axis(a, "input 'axis'", ax, X->ndim, &axis))) return rc;
  if (!pn_tensor_same_shape(X, Y)) return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  int64_t outer = pn_shape_numel(axis, X->dims), len = X->dims[axis];
  int64_t inner = pn_shape_numel(X->ndim - axis - 1, X->dims + axis + 1);
  switch (X->dtype) {
  case PN_DT_FLOAT: CUMSUM_LOOP(float, double); break;
  case PN_DT_DOUBLE: CUMSUM_LOOP(double, double); break;
  case PN_DT_INT32: CUMSUM_LOOP(int32_t, uint32_t); break;
  case PN_DT_INT64: CUMSUM_LOOP(int64_t, uint64_t); break;
  default: return pn_op_err(a, PN_ERR_UNSUPPORTED, "input x: unsupported dtype %s", pn_dtype_name(X->dtype));
  }
  return PN_OK;
}

/* ---- GatherElements ---- */

static int ge_check(const struct pn_op_args *a, const struct pn_shape *in, int *axis) {
  int64_t ax;
  int rc;
  if ((rc = pn_check_dtype(a, "input 'data'", in[0].dtype, PN_DT_DENSE)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "axis", 0, &ax)))
    return rc;
  if (in[1].dtype && in[1].dtype != PN_DT_INT32 && in[1].dtype != PN_DT_INT64)
    return pn_op_err(a, PN_ERR_INVALID, "input 'indices' must be int32 or int64");
  *axis = -1;
  if (in[0].ndim < 0) return PN_OK;
  if (in[0].ndim == 0) return pn_op_err(a, PN_ERR_INVALID, "input 'data' is a scalar");
  if ((rc = pn_op_axis(a, "attribute 'axis'", ax, in[0].ndim, axis))) return rc;
  if (in[1].ndim < 0) return PN_OK;
  if (in[1].ndim != in[0].ndim)
    return pn_op_err(a, PN_ERR_INVALID, "indices have rank %d, data has %d", in[1].ndim, in[0].ndim);
  for (int i = 0; i < in[0].ndim; i++)
    if (i != *axis && in[0].dims[i] >= 0 && in[1].dims[i] > in[0].dims[i])
      return pn_op_err(a, PN_ERR_INVALID, "indices dim %d (%lld) exceeds data's (%lld)", i,
                       (long long)in[1].dims[i], (long long)in[0].dims[i]);
  return PN_OK;
}

int pn_infer_gather_elements(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                             struct pn_shape *out, int n_out) {
  if (pn_xrequire(a, n_in, 2)) return PN_ERR_INVALID;
  int axis, rc = ge_check(a, in, &axis);
  if (rc) return rc;
  pn_shape_set(out, in[0].dtype, in[1].ndim, in[1].dims);
  return PN_OK;
}

int pn_run_gather_elements(const struct pn_op_args *a, const struct pn_tensor *const *in,
                           int n_in, struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *D = in[0], *I = in[1];
  struct pn_tensor *Y = out[0];
  struct pn_shape sh[2];
  int axis;
  pn_shapes_of(in, 2, sh);
  int rc = ge_check(a, sh, &axis);
  if (rc) return rc;
  if (Y->dtype != D->dtype || !pn_dtype_supported(D->dtype) || Y->ndim != I->ndim ||
      pn_tensor_numel(Y) != pn_tensor_numel(I))
    return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  int r = D->ndim;
  size_t es = pn_dtype_size(D->dtype);
  int64_t dst[PN_MAX_DIMS], idx[PN_MAX_DIMS] = {0}, n = pn_tensor_numel(I), len = D->dims[axis];
  pn_strides(r, D->dims, dst);
  for (int64_t e = 0; e < n; e++) {
    int64_t k = pn_tensor_get_i64(I, e);
    if (k < -len || k >= len)
      return pn_op_err(a, PN_ERR_INVALID, "index %lld out of range for axis %d of size %lld",
                       (long long)k, axis, (long long)len);
    if (k < 0) k += len;
    int64_t off = 0;
    for (int d = 0; d < r; d++) off += (d == axis ? k : idx[d]) * dst[d];
    memcpy((uint8_t *)Y->data + e * (int64_t)es, (const uint8_t *)D->data + off * (int64_t)es, es);
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < I->dims[d]) break;
      idx[d] = 0;
    }
  }
  return PN_OK;
}

/* ---- Trilu ---- */

static int trilu_k(const struct pn_op_args *a, const struct pn_shape *in, int n_in, int64_t *k,
                   int64_t *upper) {
  int rc;
  *k = 0;
  if ((rc = pn_check_dtype(a, "input", in[0].dtype, PN_DT_DENSE)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "upper", 1, upper)))
    return rc;
  if (in[0].ndim >= 0 && in[0].ndim < 2)
    return pn_op_err(a, PN_ERR_INVALID, "input has rank %d, needs >= 2", in[0].ndim);
  if (pn_has_in(a, n_in, 1)) {
    if (in[1].dtype && in[1].dtype != PN_DT_INT64)
      return pn_op_err(a, PN_ERR_INVALID, "input 'k' must be int64");
    if (in[1].value && (rc = pn_xscalar_int(a, "input 'k'", in[1].value, k))) return rc;
  }
  return PN_OK;
}

int pn_infer_trilu(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                   struct pn_shape *out, int n_out) {
  if (pn_xrequire(a, n_in, 1)) return PN_ERR_INVALID;
  int64_t k, upper;
  int rc = trilu_k(a, in, n_in, &k, &upper);
  if (rc) return rc;
  pn_shape_set(out, in[0].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_run_trilu(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                 struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *Y = out[0];
  struct pn_shape sh[2];
  int64_t k, upper;
  int nin = n_in < 2 ? n_in : 2;
  pn_shapes_of(in, nin, sh);
  if (nin < 2) sh[1].dtype = PN_DT_UNDEFINED, sh[1].ndim = -1, sh[1].value = NULL;
  int rc = trilu_k(a, sh, nin, &k, &upper);
  if (rc) return rc;
  if (!pn_tensor_same_shape(X, Y) || !pn_dtype_supported(X->dtype))
    return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  size_t es = pn_dtype_size(X->dtype);
  int64_t rows = X->dims[X->ndim - 2], cols = X->dims[X->ndim - 1];
  int64_t mats = pn_shape_numel(X->ndim - 2, X->dims);
  /* clamp k so that j - i comparisons cannot overflow */
  if (k > cols) k = cols + 1;
  if (k < -rows) k = -rows - 1;
  const uint8_t *xp = X->data;
  uint8_t *yp = Y->data;
  for (int64_t m = 0; m < mats; m++)
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) {
        int64_t p = ((m * rows + i) * cols + j) * (int64_t)es;
        bool keep = upper ? j - i >= k : j - i <= k;
        if (keep) memcpy(yp + p, xp + p, es);
        else memset(yp + p, 0, es);
      }
  return PN_OK;
}
