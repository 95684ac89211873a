/* k_logic.c - comparisons (Equal, Less, Greater, LessOrEqual, GreaterOrEqual), Not/And/Or/Xor,
** Where, ArgMax and ArgMin.
**
** Comparisons broadcast two operands of one dtype (float, double, int32, int64, int8, uint8; bool
** too for Equal) into a bool output with the typed DEF_XBIN walk; bool values are stored one byte
** each and any non-zero byte reads as true. Where walks a three-operand broadcast and copies
** elements by size, so it works for every dense dtype. ArgMax/ArgMin scan one axis per output in
** the input's own type (no precision lost to double); NaN never wins a comparison. */
#include "graph/k_xutil.h"

/* ---- comparisons ---- */

enum cmp_op { CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE, CMP_COUNT };

#define CMP_T(SFX, T)                                                                          \
  DEF_XBIN(eq_##SFX, T, uint8_t, x == z) DEF_XBIN(lt_##SFX, T, uint8_t, x < z)                 \
  DEF_XBIN(gt_##SFX, T, uint8_t, x > z) DEF_XBIN(le_##SFX, T, uint8_t, x <= z)                 \
  DEF_XBIN(ge_##SFX, T, uint8_t, x >= z)
CMP_T(f32, float)
CMP_T(f64, double)
CMP_T(i32, int32_t)
CMP_T(i64, int64_t)
CMP_T(i8, int8_t)
CMP_T(u8, uint8_t)
DEF_XBIN(eq_b, uint8_t, uint8_t, (x != 0) == (z != 0))

#define CMP_ROW(op) {op##_f32, op##_f64, op##_i32, op##_i64, op##_i8, op##_u8}
static pn_xbin_fn *const cmp_fns[CMP_COUNT][XS_COUNT] = {
  [CMP_EQ] = {eq_f32, eq_f64, eq_i32, eq_i64, eq_i8, eq_u8, eq_b},
  [CMP_LT] = CMP_ROW(lt), [CMP_GT] = CMP_ROW(gt), [CMP_LE] = CMP_ROW(le), [CMP_GE] = CMP_ROW(ge),
};

/* ---- logic ---- */

enum logic_op { LG_AND, LG_OR, LG_XOR, LG_COUNT };
DEF_XBIN(and_b, uint8_t, uint8_t, x && z)
DEF_XBIN(or_b, uint8_t, uint8_t, x || z)
DEF_XBIN(xor_b, uint8_t, uint8_t, (x != 0) != (z != 0))
static pn_xbin_fn *const logic_fns[LG_COUNT] = {and_b, or_b, xor_b};

/* Two same-dtype operands whose slot has a kernel in row[]; bool output of the broadcast shape. */
static int infer_bool_bin(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                          struct pn_shape *out, pn_xbin_fn *const *row) {
  enum pn_dtype dt;
  if (pn_xrequire(a, n_in, 2)) return PN_ERR_INVALID;
  if (a->opset < 7 && pn_node_attr(a->node, "axis"))   /* opset 1's suffix broadcast at an axis */
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "legacy broadcast attribute 'axis' (opset < 7)");
  int rc = pn_xsame_dtype(a, in, 2, &dt);
  if (rc) return rc;
  if (dt && (pn_xslot(dt) < 0 || !row[pn_xslot(dt)]))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "inputs: unsupported dtype %s", pn_dtype_name(dt));
  return pn_xinfer_bcast(a, in, 2, PN_DT_BOOL, out);
}

static int run_bool_bin(const struct pn_op_args *a, const struct pn_tensor *const *in,
                        struct pn_tensor *Y, pn_xbin_fn *const *row) {
  const struct pn_tensor *A = in[0], *B = in[1];
  int s = pn_xslot(A->dtype);
  if (s < 0 || A->dtype != B->dtype || !row[s] || Y->dtype != PN_DT_BOOL)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "inputs: dtypes %s and %s", pn_dtype_name(A->dtype),
                     pn_dtype_name(B->dtype));
  struct pn_iter it;
  pn_xiter(&it, Y, 2, in);
  row[s](&it, A->data, B->data, Y->data);
  return PN_OK;
}

#define CMP_OP(fn, OP)                                                                         \
  int pn_infer_##fn(const struct pn_op_args *a, const struct pn_shape *in, int n_in,         \
                    struct pn_shape *out, int n_out) {                                       \
    return infer_bool_bin(a, in, n_in, out, cmp_fns[OP]);                                            \
  }                                                                                            \
  int pn_run_##fn(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,   \
                  struct pn_tensor *const *out, int n_out) {                                 \
    return run_bool_bin(a, in, out[0], cmp_fns[OP]);                                           \
  }
CMP_OP(equal, CMP_EQ)
CMP_OP(less, CMP_LT)
CMP_OP(greater, CMP_GT)
CMP_OP(less_or_equal, CMP_LE)
CMP_OP(greater_or_equal, CMP_GE)

static pn_xbin_fn *const *logic_row(enum logic_op op, pn_xbin_fn **row) {
  for (int i = 0; i < XS_COUNT; i++) row[i] = NULL;
  row[XS_BOOL] = logic_fns[op];
  return row;
}

#define LOGIC_OP(fn, OP)                                                                       \
  int pn_infer_##fn(const struct pn_op_args *a, const struct pn_shape *in, int n_in,         \
                    struct pn_shape *out, int n_out) {                                       \
    pn_xbin_fn *row[XS_COUNT];                                                                 \
    return infer_bool_bin(a, in, n_in, out, logic_row(OP, row));                                     \
  }                                                                                            \
  int pn_run_##fn(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,   \
                  struct pn_tensor *const *out, int n_out) {                                 \
    pn_xbin_fn *row[XS_COUNT];                                                                 \
    return run_bool_bin(a, in, out[0], logic_row(OP, row));                                    \
  }
LOGIC_OP(and, LG_AND)
LOGIC_OP(or, LG_OR)
LOGIC_OP(xor, LG_XOR)

int pn_infer_not(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                 struct pn_shape *out, int n_out) {
  int rc = pn_check_dtype(a, "input", in[0].dtype, PN_DT_BIT(PN_DT_BOOL));
  if (rc) return rc;
  pn_shape_set(out, PN_DT_BOOL, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_run_not(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
               struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  if (X->dtype != PN_DT_BOOL || out[0]->dtype != PN_DT_BOOL || !pn_tensor_same_shape(X, out[0]))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "input: unsupported dtype %s (bool only)", pn_dtype_name(X->dtype));
  const uint8_t *x = X->data;
  uint8_t *y = out[0]->data;
  int64_t n = pn_tensor_numel(X);
  for (int64_t i = 0; i < n; i++) y[i] = !x[i];
  return PN_OK;
}

/* ---- Where ---- */

int pn_infer_where(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                   struct pn_shape *out, int n_out) {
  int rc;
  if ((rc = pn_xrequire(a, n_in, 3))) return rc;
  if ((rc = pn_check_dtype(a, "input 'condition'", in[0].dtype, PN_DT_BIT(PN_DT_BOOL))) ||
      (rc = pn_check_dtype(a, "input X", in[1].dtype, PN_DT_DENSE)))
    return rc;
  enum pn_dtype dt;
  if ((rc = pn_xsame_dtype(a, in + 1, 2, &dt))) return rc;
  return pn_xinfer_bcast(a, in, 3, dt, out);
}

#define WHERE_LOOP(T)                                                                          \
  do {                                                                                         \
    const T *xp = (const T *)X->data + off[1], *yp = (const T *)Yv->data + off[2];             \
    T *op = (T *)Z->data + zo;                                                                 \
    for (int64_t i = 0; i < len; i++) op[i] = c[i * sc] ? xp[i * sx] : yp[i * sy];             \
  } while (0)

int pn_run_where(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                 struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *C = in[0], *X = in[1], *Yv = in[2];
  struct pn_tensor *Z = out[0];
  if (C->dtype != PN_DT_BOOL || X->dtype != Yv->dtype || Z->dtype != X->dtype ||
      !pn_dtype_supported(X->dtype))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "dtypes %s, %s, %s", pn_dtype_name(C->dtype),
                     pn_dtype_name(X->dtype), pn_dtype_name(Yv->dtype));
  struct pn_iter it;
  pn_xiter(&it, Z, 3, in);
  size_t es = pn_dtype_size(X->dtype);
  int64_t sc = it.st[0][it.nd - 1], sx = it.st[1][it.nd - 1], sy = it.st[2][it.nd - 1];
  for (int64_t b = 0; b < it.nblock; b++) {
    int64_t off[PN_ITER_OPS], zo, len;
    pn_iter_block(&it, b, off, &zo, &len);
    const uint8_t *c = (const uint8_t *)C->data + off[0];
    switch (es) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 2: WHERE_LOOP(uint16_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    default: WHERE_LOOP(uint64_t); break;
    }
  }
  return PN_OK;
}

/* ---- ArgMax / ArgMin ---- */

struct arg_geo {
  int axis;
  int64_t keep, last;
};

static int arg_setup(const struct pn_op_args *a, const struct pn_shape *x, struct arg_geo *g) {
  int64_t ax;
  int rc;
  if ((rc = pn_check_dtype(a, "input", x->dtype, PN_DT_FLOATS | PN_DT_INTS)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "axis", 0, &ax)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "keepdims", 1, &g->keep)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "select_last_index", 0, &g->last)))
    return rc;
  g->axis = -1;
  if (x->ndim < 0) return PN_OK;
  if (x->ndim == 0) return pn_op_err(a, PN_ERR_INVALID, "input is a scalar; needs rank >= 1");
  return pn_op_axis(a, "attribute 'axis'", ax, x->ndim, &g->axis);
}

static int infer_arg(const struct pn_op_args *a, const struct pn_shape *in, struct pn_shape *out) {
  struct arg_geo g;
  int rc = arg_setup(a, &in[0], &g);
  if (rc) return rc;
  if (in[0].ndim < 0) {
    pn_shape_set(out, PN_DT_INT64, -1, NULL);
    return PN_OK;
  }
  int64_t d[PN_MAX_DIMS];
  int nd = 0;
  for (int i = 0; i < in[0].ndim; i++) {
    if (i != g.axis) d[nd++] = in[0].dims[i];
    else if (g.keep) d[nd++] = 1;
  }
  pn_shape_set(out, PN_DT_INT64, nd, d);
  return PN_OK;
}

/* Index of the max (want_max) or min along len values spaced inner apart. */
#define DEF_ARG(name, T)                                                                       \
  static void name(const void *px, int64_t *y, int64_t outer, int64_t len, int64_t inner,     \
                   bool want_max, bool last) {                                                 \
    const T *X = px;                                                                           \
    for (int64_t o = 0; o < outer; o++)                                                        \
      for (int64_t i = 0; i < inner; i++) {                                                    \
        const T *x = X + o * len * inner + i;                                                  \
        int64_t best = 0;                                                                      \
        T bv = x[0];                                                                           \
        for (int64_t j = 1; j < len; j++) {                                                    \
          T v = x[j * inner];                                                                  \
          bool better = want_max ? (v > bv || (last && v == bv))                               \
                                 : (v < bv || (last && v == bv));                              \
          if (better || bv != bv) bv = v, best = j;                                            \
        }                                                                                      \
        y[o * inner + i] = best;                                                               \
      }                                                                                        \
  }
DEF_ARG(arg_f32, float)
DEF_ARG(arg_f64, double)
DEF_ARG(arg_i32, int32_t)
DEF_ARG(arg_i64, int64_t)
DEF_ARG(arg_i8, int8_t)
DEF_ARG(arg_u8, uint8_t)

static int run_arg(const struct pn_op_args *a, const struct pn_tensor *X, struct pn_tensor *Y,
                   bool want_max) {
  static void (*const fns[])(const void *, int64_t *, int64_t, int64_t, int64_t, bool, bool) = {
      arg_f32, arg_f64, arg_i32, arg_i64, arg_i8, arg_u8};
  struct pn_shape xs;
  struct arg_geo g;
  pn_shapes_of(&X, 1, &xs);
  int rc = arg_setup(a, &xs, &g), s = pn_xslot(X->dtype);
  if (rc) return rc;
  if (s < 0 || s >= XS_BOOL || Y->dtype != PN_DT_INT64)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "input: unsupported dtype %s", pn_dtype_name(X->dtype));
  int64_t outer = pn_shape_numel(g.axis, X->dims), len = X->dims[g.axis];
  int64_t inner = pn_shape_numel(X->ndim - g.axis - 1, X->dims + g.axis + 1);
  if (pn_tensor_numel(Y) != outer * inner)
    return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  if (len == 0 && outer * inner > 0)
    return pn_op_err(a, PN_ERR_INVALID, "reduced axis %d has size 0", g.axis);
  fns[s](X->data, Y->data, outer, len, inner, want_max, g.last != 0);
  return PN_OK;
}

int pn_infer_arg_max(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                     struct pn_shape *out, int n_out) {
  return infer_arg(a, in, out);
}
int pn_run_arg_max(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                   struct pn_tensor *const *out, int n_out) {
  return run_arg(a, in[0], out[0], true);
}
int pn_infer_arg_min(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                     struct pn_shape *out, int n_out) {
  return infer_arg(a, in, out);
}
int pn_run_arg_min(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                   struct pn_tensor *const *out, int n_out) {
  return run_arg(a, in[0], out[0], false);
}
