/* k_unary.c - more unary float kernels: Elu, Selu, Celu, HardSigmoid, HardSwish, ThresholdedRelu,
** Shrink, Softplus, Softsign, Floor, Ceil, Round, Sign and the trigonometric/hyperbolic functions.
**
** Each op is one row of a table: its attribute names and defaults (alpha, beta/gamma) and a
** kernel per dtype slot (float32 and float64; Sign and Shrink also int32/int64). All share one infer and one
** run function. Float32 kernels compute in float (libm's f-suffixed functions); Round rounds
** halves to even (rint under the default rounding mode), Softplus uses the overflow-free form. */
#include "graph/k_xutil.h"

typedef void un_fn(const void *px, void *py, int64_t n, float p0, float p1);

#define DEF_UN(name, T, EXPR)                                                                  \
  static void name(const void *px, void *py, int64_t n, float p0, float p1) {                 \
    const T *X = px;                                                                           \
    T *Y = py;                                                                                 \
    (void)p0, (void)p1;                                                                        \
    _Pragma("omp parallel for schedule(static) if (n > 65536)")                                \
    for (int64_t i = 0; i < n; i++) { T x = X[i]; Y[i] = (T)(EXPR); }                          \
  }

static inline float softplusf(float x) { return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
static inline double softplusd(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static inline float clamp01f(float v) { return v < 0 ? 0 : v > 1 ? 1 : v; }
static inline double clamp01d(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/* p0 = alpha; p1 = beta (HardSigmoid) or gamma (Selu). */
DEF_UN(elu_f32, float, x < 0 ? p0 * (expf(x) - 1) : x)
DEF_UN(elu_f64, double, x < 0 ? p0 * (exp(x) - 1) : x)
DEF_UN(selu_f32, float, x <= 0 ? p1 * (p0 * expf(x) - p0) : p1 * x)
DEF_UN(selu_f64, double, x <= 0 ? p1 * ((double)p0 * exp(x) - p0) : p1 * x)
DEF_UN(celu_f32, float, (x > 0 ? x : 0) + (x < 0 ? p0 * expm1f(x / p0) : 0))
DEF_UN(celu_f64, double, (x > 0 ? x : 0) + (x < 0 ? p0 * expm1(x / p0) : 0))
DEF_UN(thrrelu_f32, float, x > p0 ? x : 0)
DEF_UN(thrrelu_f64, double, x > p0 ? x : 0)
/* p0 = lambd, p1 = bias */
DEF_UN(shrink_f32, float, x < -p0 ? x + p1 : x > p0 ? x - p1 : 0)
DEF_UN(shrink_f64, double, x < -p0 ? x + p1 : x > p0 ? x - p1 : 0)
DEF_UN(shrink_i32, int32_t, x < -p0 ? x + p1 : x > p0 ? x - p1 : 0)
DEF_UN(shrink_i64, int64_t, x < -p0 ? x + p1 : x > p0 ? x - p1 : 0)
DEF_UN(hsig_f32, float, clamp01f(p0 * x + p1))
DEF_UN(hsig_f64, double, clamp01d(p0 * x + p1))
DEF_UN(hswish_f32, float, x * clamp01f(x / 6.0f + 0.5f))
DEF_UN(hswish_f64, double, x * clamp01d(x / 6.0 + 0.5))
DEF_UN(softplus_f32, float, softplusf(x))
DEF_UN(softplus_f64, double, softplusd(x))
DEF_UN(softsign_f32, float, x / (1 + fabsf(x)))
DEF_UN(softsign_f64, double, x / (1 + fabs(x)))
DEF_UN(floor_f32, float, floorf(x))
DEF_UN(floor_f64, double, floor(x))
DEF_UN(ceil_f32, float, ceilf(x))
DEF_UN(ceil_f64, double, ceil(x))
DEF_UN(round_f32, float, rintf(x))
DEF_UN(round_f64, double, rint(x))
DEF_UN(sign_f32, float, x > 0 ? 1 : x < 0 ? -1 : x)
DEF_UN(sign_f64, double, x > 0 ? 1 : x < 0 ? -1 : x)
DEF_UN(sign_i32, int32_t, x > 0 ? 1 : x < 0 ? -1 : 0)
DEF_UN(sign_i64, int64_t, x > 0 ? 1 : x < 0 ? -1 : 0)
DEF_UN(sin_f32, float, sinf(x))
DEF_UN(sin_f64, double, sin(x))
DEF_UN(cos_f32, float, cosf(x))
DEF_UN(cos_f64, double, cos(x))
DEF_UN(tan_f32, float, tanf(x))
DEF_UN(tan_f64, double, tan(x))
DEF_UN(asin_f32, float, asinf(x))
DEF_UN(asin_f64, double, asin(x))
DEF_UN(acos_f32, float, acosf(x))
DEF_UN(acos_f64, double, acos(x))
DEF_UN(atan_f32, float, atanf(x))
DEF_UN(atan_f64, double, atan(x))
DEF_UN(sinh_f32, float, sinhf(x))
DEF_UN(sinh_f64, double, sinh(x))
DEF_UN(cosh_f32, float, coshf(x))
DEF_UN(cosh_f64, double, cosh(x))
DEF_UN(asinh_f32, float, asinhf(x))
DEF_UN(asinh_f64, double, asinh(x))
DEF_UN(acosh_f32, float, acoshf(x))
DEF_UN(acosh_f64, double, acosh(x))
DEF_UN(atanh_f32, float, atanhf(x))
DEF_UN(atanh_f64, double, atanh(x))

struct un_def {
  const char *attr[2];         /* float attributes read into p0, p1 (NULL = none) */
  float def[2];
  un_fn *f[4];                 /* by slot: float, double, int32, int64 */
};

enum un_op {
  UN_ELU, UN_SELU, UN_HARD_SIGMOID, UN_HARD_SWISH, UN_SOFTPLUS, UN_SOFTSIGN, UN_FLOOR, UN_CEIL,
  UN_ROUND, UN_SIGN, UN_SIN, UN_COS, UN_TAN, UN_ASIN, UN_ACOS, UN_ATAN, UN_SINH, UN_COSH, UN_ASINH,
  UN_ACOSH, UN_ATANH, UN_CELU, UN_THRESHOLDED_RELU, UN_SHRINK, UN_COUNT
};

#define F2(nm) {nm##_f32, nm##_f64}
static const struct un_def un_defs[UN_COUNT] = {
  [UN_ELU] = {{"alpha", NULL}, {1.0f, 0}, F2(elu)},
  [UN_SELU] = {{"alpha", "gamma"}, {1.67326319217681884765625f, 1.05070102214813232421875f}, F2(selu)},
  [UN_HARD_SIGMOID] = {{"alpha", "beta"}, {0.2f, 0.5f}, F2(hsig)},
  [UN_HARD_SWISH] = {{NULL, NULL}, {0, 0}, F2(hswish)},
  [UN_SOFTPLUS] = {{NULL, NULL}, {0, 0}, F2(softplus)},
  [UN_SOFTSIGN] = {{NULL, NULL}, {0, 0}, F2(softsign)},
  [UN_FLOOR] = {{NULL, NULL}, {0, 0}, F2(floor)},
  [UN_CEIL] = {{NULL, NULL}, {0, 0}, F2(ceil)},
  [UN_ROUND] = {{NULL, NULL}, {0, 0}, F2(round)},
  [UN_SIGN] = {{NULL, NULL}, {0, 0}, {sign_f32, sign_f64, sign_i32, sign_i64}},
  [UN_SIN] = {{NULL, NULL}, {0, 0}, F2(sin)},
  [UN_COS] = {{NULL, NULL}, {0, 0}, F2(cos)},
  [UN_TAN] = {{NULL, NULL}, {0, 0}, F2(tan)},
  [UN_ASIN] = {{NULL, NULL}, {0, 0}, F2(asin)},
  [UN_ACOS] = {{NULL, NULL}, {0, 0}, F2(acos)},
  [UN_ATAN] = {{NULL, NULL}, {0, 0}, F2(atan)},
  [UN_SINH] = {{NULL, NULL}, {0, 0}, F2(sinh)},
  [UN_COSH] = {{NULL, NULL}, {0, 0}, F2(cosh)},
  [UN_ASINH] = {{NULL, NULL}, {0, 0}, F2(asinh)},
  [UN_ACOSH] = {{NULL, NULL}, {0, 0}, F2(acosh)},
  [UN_ATANH] = {{NULL, NULL}, {0, 0}, F2(atanh)},
  [UN_CELU] = {{"alpha", NULL}, {1.0f, 0}, F2(celu)},
  [UN_THRESHOLDED_RELU] = {{"alpha", NULL}, {1.0f, 0}, F2(thrrelu)},
  [UN_SHRINK] = {{"lambd", "bias"}, {0.5f, 0.0f}, {shrink_f32, shrink_f64, shrink_i32, shrink_i64}},
};

static un_fn *un_kernel(const struct un_def *d, enum pn_dtype dt) {
  int s = pn_xslot(dt);
  return s >= 0 && s < 4 ? d->f[s] : NULL;
}

static int un_params(const struct pn_op_args *a, const struct un_def *d, float p[2]) {
  for (int k = 0; k < 2; k++) {
    p[k] = d->def[k];
    int rc = d->attr[k] ? pn_node_get_float(a->ctx, a->node, d->attr[k], d->def[k], &p[k]) : PN_OK;
    if (rc) return rc;
  }
  return PN_OK;
}

static int un_infer(const struct pn_op_args *a, enum un_op op, const struct pn_shape *in,
                    struct pn_shape *out) {
  const struct un_def *d = &un_defs[op];
  float p[2];
  int rc = un_params(a, d, p);
  if (rc) return rc;
  if (in[0].dtype != PN_DT_UNDEFINED && !un_kernel(d, in[0].dtype))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "input: unsupported dtype %s", pn_dtype_name(in[0].dtype));
  pn_shape_set(out, in[0].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

static int un_run(const struct pn_op_args *a, enum un_op op, const struct pn_tensor *X,
                  struct pn_tensor *Y) {
  const struct un_def *d = &un_defs[op];
  float p[2];
  int rc = un_params(a, d, p);
  if (rc) return rc;
  un_fn *f = un_kernel(d, X->dtype);
  if (!f || Y->dtype != X->dtype)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "input: unsupported dtype %s", pn_dtype_name(X->dtype));
  if (pn_tensor_numel(Y) != pn_tensor_numel(X))
    return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  f(X->data, Y->data, pn_tensor_numel(X), p[0], p[1]);
  return PN_OK;
}

#define UNARY_X(fn, OP)                                                                        \
  int pn_infer_##fn(const struct pn_op_args *a, const struct pn_shape *in, int n_in,         \
                    struct pn_shape *out, int n_out) {                                       \
    return un_infer(a, OP, in, out);                                                           \
  }                                                                                            \
  int pn_run_##fn(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,   \
                  struct pn_tensor *const *out, int n_out) {                                 \
    return un_run(a, OP, in[0], out[0]);                                                       \
  }

UNARY_X(elu, UN_ELU)
UNARY_X(selu, UN_SELU)
UNARY_X(hard_sigmoid, UN_HARD_SIGMOID)
UNARY_X(hard_swish, UN_HARD_SWISH)
UNARY_X(softplus, UN_SOFTPLUS)
UNARY_X(softsign, UN_SOFTSIGN)
UNARY_X(floor, UN_FLOOR)
UNARY_X(ceil, UN_CEIL)
UNARY_X(round, UN_ROUND)
UNARY_X(sign, UN_SIGN)
UNARY_X(sin, UN_SIN)
UNARY_X(cos, UN_COS)
UNARY_X(tan, UN_TAN)
UNARY_X(asin, UN_ASIN)
UNARY_X(acos, UN_ACOS)
UNARY_X(atan, UN_ATAN)
UNARY_X(sinh, UN_SINH)
UNARY_X(cosh, UN_COSH)
UNARY_X(asinh, UN_ASINH)
UNARY_X(acosh, UN_ACOSH)
UNARY_X(atanh, UN_ATANH)
UNARY_X(celu, UN_CELU)
UNARY_X(thresholded_relu, UN_THRESHOLDED_RELU)
UNARY_X(shrink, UN_SHRINK)
