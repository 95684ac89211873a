/* k_elementwise.c - unary and broadcasting binary elementwise kernels (Add..Pow, Relu..Erf, Clip, Cast).
**
** Binary ops walk their output with a pn_iter (k_util.h): same-shape, scalar and per-channel
** operands all reduce to a contiguous inner loop with a vector or a scalar operand. Integer
** arithmetic wraps like numpy (computed in the unsigned type, so no undefined overflow); integer
** division by zero is reported, never executed. Binary and unary kernels from PN_PAR_MIN
** elements up are cut into ranges of their fixed blocks (PN_ITER_CHUNK elements; Erf's 4096) for
** k_par.c's pool on as many threads as OpenMP's setting, which the executor gives them: each
** element is computed by the same operations whichever thread runs its block, so the bits do not
** depend on the threads (BERT/128's Add, Mul, Div and Erf, 9.5 ms of a 117 ms run on one thread,
** ran on one thread at any --threads: the executor kept them off the team because an OpenMP
** region waits for every thread). Clip, Cast and Pow with mixed types stay on OpenMP. */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>

#include "graph/k_dense.h"
#include "graph/k_util.h"
#include "util/cpu.h"

#define PAR_IF "omp parallel for schedule(static) if (n > 65536)"

/* Blocks [b0, b1) of a kernel, the unit a thread takes. */
typedef void range_fn(const void *ctx, int64_t b0, int64_t b1);
struct range_job {
  range_fn *f;
  const void *ctx;
  int64_t nblock, per;
};
static void range_chunk(void *arg, int64_t ch) {
  const struct range_job *j = arg;
  int64_t b0 = ch * j->per, b1 = b0 + j->per < j->nblock ? b0 + j->per : j->nblock;
  j->f(j->ctx, b0, b1);
}
/* f over nblock blocks of a kernel of n elements: in one call below PN_PAR_MIN elements or on one
** thread, else in up to 4 ranges of whole blocks a thread (k_par.c). */
static void run_blocks(range_fn *f, const void *ctx, int64_t nblock, int64_t n) {
  int threads = omp_get_max_threads();
  if (threads < 2 || n < PN_PAR_MIN || nblock < 2) {
    if (nblock > 0) f(ctx, 0, nblock);
    return;
  }
  int64_t want = 4 * (int64_t)threads < nblock ? 4 * (int64_t)threads : nblock;
  struct range_job j = {f, ctx, nblock, (nblock + want - 1) / want};
  pn_par_for(threads, (nblock + j.per - 1) / j.per, range_chunk, &j);
}

/* ---- binary kernels ---- */

typedef void bin_fn(const struct pn_iter *it, const void *pa, const void *pb, void *py);

struct bin_ctx {
  const struct pn_iter *it;
  const void *a, *b;
  void *y;
};
#define DEF_BIN(name, T, EXPR)                                                                 \
  static void name##_blocks(const void *ctx, int64_t b0, int64_t b1) {                        \
    const struct bin_ctx *c = ctx;                                                             \
    const struct pn_iter *it = c->it;                                                          \
    const T *A = c->a, *B = c->b;                                                              \
    T *Y = c->y;                                                                               \
    int64_t sa = it->st[0][it->nd - 1], sb = it->st[1][it->nd - 1];                           \
    for (int64_t blk = b0; blk < b1; blk++) {                                                  \
      int64_t off[PN_ITER_OPS], yo, len;                                                       \
      pn_iter_block(it, blk, off, &yo, &len);                                                  \
      const T *a = A + off[0], *b = B + off[1];                                                \
      T *y = Y + yo;                                                                           \
      if (sa && sb) {                                                                          \
        for (int64_t i = 0; i < len; i++) { T x = a[i], z = b[i]; y[i] = (T)(EXPR); }          \
      } else if (sa) {                                                                         \
        T z = b[0];                                                                            \
        for (int64_t i = 0; i < len; i++) { T x = a[i]; y[i] = (T)(EXPR); }                    \
      } else if (sb) {                                                                         \
        T x = a[0];                                                                            \
        for (int64_t i = 0; i < len; i++) { T z = b[i]; y[i] = (T)(EXPR); }                    \
      } else {                                                                                 \
        T x = a[0], z = b[0], v = (T)(EXPR);                                                   \
        for (int64_t i = 0; i < len; i++) y[i] = v;                                            \
      }                                                                                        \
    }                                                                                          \
  }                                                                                            \
  static void name(const struct pn_iter *it, const void *pa, const void *pb, void *py) {      \
    struct bin_ctx c = {it, pa, pb, py};                                                       \
    run_blocks(name##_blocks, &c, it->nblock, it->numel);                                      \
  }

/* Floats: plain IEEE arithmetic. */
#define BIN_F(T, SFX)                                                                          \
  DEF_BIN(add_##SFX, T, x + z) DEF_BIN(sub_##SFX, T, x - z) DEF_BIN(mul_##SFX, T, x * z)       \
  DEF_BIN(div_##SFX, T, x / z)
/* Signed integers: wrap through U; MIN / -1 wraps to MIN (divisors checked for 0 first). */
#define BIN_S(T, U, SFX)                                                                       \
  DEF_BIN(add_##SFX, T, (U)x + (U)z) DEF_BIN(sub_##SFX, T, (U)x - (U)z)                        \
  DEF_BIN(mul_##SFX, T, (U)x * (U)z) DEF_BIN(div_##SFX, T, z == -1 ? (U)0 - (U)x : (U)(x / z))
#define BIN_U(T, SFX)                                                                          \
  DEF_BIN(add_##SFX, T, x + z) DEF_BIN(sub_##SFX, T, x - z) DEF_BIN(mul_##SFX, T, x * z)       \
  DEF_BIN(div_##SFX, T, x / z)

BIN_F(float, f32)
BIN_F(double, f64)
BIN_S(int32_t, uint32_t, i32)
BIN_S(int64_t, uint64_t, i64)
BIN_S(int8_t, uint32_t, i8)
BIN_U(uint8_t, u8)
DEF_BIN(pow_f32, float, powf(x, z))
DEF_BIN(pow_f64, double, pow(x, z))

enum bin_op { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_POW };

static bin_fn *const bin_fns[][6] = {
  /*            float    double   int32    int64    int8    uint8 */
  [BIN_ADD] = {add_f32, add_f64, add_i32, add_i64, add_i8, add_u8},
  [BIN_SUB] = {sub_f32, sub_f64, sub_i32, sub_i64, sub_i8, sub_u8},
  [BIN_MUL] = {mul_f32, mul_f64, mul_i32, mul_i64, mul_i8, mul_u8},
  [BIN_DIV] = {div_f32, div_f64, div_i32, div_i64, div_i8, div_u8},
  [BIN_POW] = {pow_f32, pow_f64, NULL, NULL, NULL, NULL},
};

static int dtype_slot(enum pn_dtype dt) {
  switch (dt) {
  case PN_DT_FLOAT: return 0;
  case PN_DT_DOUBLE: return 1;
  case PN_DT_INT32: return 2;
  case PN_DT_INT64: return 3;
  case PN_DT_INT8: return 4;
  case PN_DT_UINT8: return 5;
  default: return -1;
  }
}

#define NUMERIC (PN_DT_FLOATS | PN_DT_INTS)
#define SIGNED (PN_DT_FLOATS | PN_DT_BIT(PN_DT_INT32) | PN_DT_BIT(PN_DT_INT64) | PN_DT_BIT(PN_DT_INT8))

static const char *const bin_names[] = {"Add", "Sub", "Mul", "Div", "Pow"};

static int infer_binary(const struct pn_op_args *a, const struct pn_shape *in, struct pn_shape *out,
                        unsigned mask, bool same_type) {
  int rc;
  if ((rc = pn_check_dtype(a, "input A", in[0].dtype, mask)) ||
      (rc = pn_check_dtype(a, "input B", in[1].dtype, mask)))
    return rc;
  if (same_type && in[0].dtype && in[1].dtype && in[0].dtype != in[1].dtype)
    return pn_op_err(a, PN_ERR_INVALID, "inputs have different dtypes %s and %s",
                     pn_dtype_name(in[0].dtype), pn_dtype_name(in[1].dtype));
  enum pn_dtype dt = in[0].dtype ? in[0].dtype : (same_type ? in[1].dtype : PN_DT_UNDEFINED);
  if (in[0].ndim < 0 || in[1].ndim < 0) {
    pn_shape_set(out, dt, -1, NULL);
    return PN_OK;
  }
  int nd;
  int64_t d[PN_MAX_DIMS];
  if ((rc = pn_broadcast_shape(a, in[0].ndim, in[0].dims, in[1].ndim, in[1].dims, &nd, d)))
    return rc;
  pn_shape_set(out, dt, nd, d);
  return PN_OK;
}

static void iter_binary(struct pn_iter *it, const struct pn_tensor *A, const struct pn_tensor *B,
                        const struct pn_tensor *Y) {
  int64_t st[2][PN_MAX_DIMS];
  pn_bcast_strides(Y->ndim, A->ndim, A->dims, st[0]);
  pn_bcast_strides(Y->ndim, B->ndim, B->dims, st[1]);
  pn_iter_init(it, Y->ndim, Y->dims, 2, st);
}

static bool has_zero(const struct pn_tensor *t) {
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++)
    if (pn_tensor_get_i64(t, i) == 0) return true;
  return false;
}

static int run_binary(const struct pn_op_args *a, enum bin_op op,
                      const struct pn_tensor *const *in, struct pn_tensor *const *out) {
  const struct pn_tensor *A = in[0], *B = in[1];
  struct pn_tensor *Y = out[0];
  int s = dtype_slot(A->dtype);
  if (s < 0 || A->dtype != B->dtype || Y->dtype != A->dtype || !bin_fns[op][s])
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "%s on dtypes %s and %s", bin_names[op],
                     pn_dtype_name(A->dtype), pn_dtype_name(B->dtype));
  if (op == BIN_DIV && s >= 2 && has_zero(B))
    return pn_op_err(a, PN_ERR_INVALID, "integer division by zero");
  struct pn_iter it;
  iter_binary(&it, A, B, Y);
  bin_fns[op][s](&it, A->data, B->data, Y->data);
  return PN_OK;
}

#define BINARY_OP(fn, OP, MASK)                                                                \
  int pn_infer_##fn(const struct pn_op_args *a, const struct pn_shape *in, int n_in,         \
                    struct pn_shape *out, int n_out) {                                       \
    return infer_binary(a, in, out, MASK, true);                                               \
  }                                                                                            \
  int pn_run_##fn(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,   \
                  struct pn_tensor *const *out, int n_out) {                                 \
    return run_binary(a, OP, in, out);                                                         \
  }

BINARY_OP(add, BIN_ADD, NUMERIC)
BINARY_OP(sub, BIN_SUB, NUMERIC)
BINARY_OP(mul, BIN_MUL, NUMERIC)
BINARY_OP(div, BIN_DIV, NUMERIC)

/* Pow: base T (float, double, int32, int64), exponent of any numeric type; Y has the base's type. */
#define POW_BASE (PN_DT_FLOATS | PN_DT_BIT(PN_DT_INT32) | PN_DT_BIT(PN_DT_INT64))

int pn_infer_pow(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                 struct pn_shape *out, int n_out) {
  int rc = pn_check_dtype(a, "base X", in[0].dtype, POW_BASE);
  if (rc) return rc;
  return infer_binary(a, in, out, NUMERIC, a->opset < 12);
}

static double load_f64(const void *p, enum pn_dtype dt, int64_t i) {
  switch (dt) {
  case PN_DT_FLOAT: return ((const float *)p)[i];
  case PN_DT_DOUBLE: return ((const double *)p)[i];
  case PN_DT_INT32: return ((const int32_t *)p)[i];
  case PN_DT_INT64: return (double)((const int64_t *)p)[i];
  case PN_DT_INT8: return ((const int8_t *)p)[i];
  case PN_DT_FLOAT16: return pn_half_to_float(((const uint16_t *)p)[i]);
  case PN_DT_BFLOAT16: return pn_bf16_to_float(((const uint16_t *)p)[i]);
  default: return ((const uint8_t *)p)[i];
  }
}

/* double -> int64, saturating (NaN -> 0), so float-to-int conversions are always defined. */
static int64_t sat_i64(double x) {
  if (!(x == x)) return 0;
  if (x >= 9223372036854775807.0) return INT64_MAX;
  if (x <= -9223372036854775808.0) return INT64_MIN;
  return (int64_t)x;
}

/* Integer base, or mixed types: through double (exact for |results| < 2^53, like numpy's float
** path; integer results are truncated toward zero). */
static int run_pow_mixed(const struct pn_iter *it, const struct pn_tensor *A,
                         const struct pn_tensor *B, struct pn_tensor *Y) {
  int64_t n = it->numel, sa = it->st[0][it->nd - 1], sb = it->st[1][it->nd - 1];
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t blk = 0; blk < it->nblock; blk++) {
    int64_t off[PN_ITER_OPS], yo, len;
    pn_iter_block(it, blk, off, &yo, &len);
    for (int64_t i = 0; i < len; i++) {
      double r = pow(load_f64(A->data, A->dtype, off[0] + i * sa),
                     load_f64(B->data, B->dtype, off[1] + i * sb));
      switch (Y->dtype) {
      case PN_DT_FLOAT: ((float *)Y->data)[yo + i] = (float)r; break;
      case PN_DT_DOUBLE: ((double *)Y->data)[yo + i] = r; break;
      case PN_DT_INT32: ((int32_t *)Y->data)[yo + i] = (int32_t)sat_i64(r); break;
      default: ((int64_t *)Y->data)[yo + i] = sat_i64(r); break;
      }
    }
  }
  return PN_OK;
}

int pn_run_pow(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
               struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *A = in[0], *B = in[1];
  if (!(POW_BASE & PN_DT_BIT(A->dtype)) || dtype_slot(B->dtype) < 0 || out[0]->dtype != A->dtype)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "Pow on dtypes %s and %s", pn_dtype_name(A->dtype),
                     pn_dtype_name(B->dtype));
  if (A->dtype == B->dtype && (A->dtype == PN_DT_FLOAT || A->dtype == PN_DT_DOUBLE))
    return run_binary(a, BIN_POW, in, out);
  struct pn_iter it;
  iter_binary(&it, A, B, out[0]);
  return run_pow_mixed(&it, A, B, out[0]);
}

/* ---- unary kernels ---- */

typedef void un_fn(const void *px, void *py, int64_t n, float alpha);

struct un_ctx {
  const void *x;
  void *y;
  int64_t n;
  float alpha;
};
/* elements [b0 * PN_ITER_CHUNK, b1 * PN_ITER_CHUNK) of c->n */
static void un_span(const struct un_ctx *c, int64_t b0, int64_t b1, int64_t *i0, int64_t *i1) {
  *i0 = b0 * PN_ITER_CHUNK;
  *i1 = b1 * PN_ITER_CHUNK < c->n ? b1 * PN_ITER_CHUNK : c->n;
}
#define DEF_UN(name, T, EXPR)                                                                  \
  static void name##_blocks(const void *ctx, int64_t b0, int64_t b1) {                        \
    const struct un_ctx *c = ctx;                                                              \
    const T *X = c->x;                                                                         \
    T *Y = c->y;                                                                               \
    float alpha = c->alpha;                                                                    \
    int64_t i0, i1;                                                                            \
    (void)alpha;                                                                               \
    un_span(c, b0, b1, &i0, &i1);                                                              \
    for (int64_t i = i0; i < i1; i++) { T x = X[i]; Y[i] = (T)(EXPR); }                        \
  }                                                                                            \
  static void name(const void *px, void *py, int64_t n, float alpha) {                        \
    struct un_ctx c = {px, py, n, alpha};                                                      \
    run_blocks(name##_blocks, &c, (n + PN_ITER_CHUNK - 1) / PN_ITER_CHUNK, n);                 \
  }

/* 1 / (1 + e^-x) is exact enough everywhere: e^-x overflows to inf for x < -88 and gives 0. */
static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline double sigmoidd(double x) { return 1.0 / (1.0 + exp(-x)); }

DEF_UN(abs_f32, float, fabsf(x)) DEF_UN(abs_f64, double, fabs(x))
DEF_UN(abs_i32, int32_t, x < 0 ? 0u - (uint32_t)x : (uint32_t)x)
DEF_UN(abs_i64, int64_t, x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x)
DEF_UN(abs_i8, int8_t, x < 0 ? -x : x)
DEF_UN(abs_u8, uint8_t, x)
DEF_UN(neg_f32, float, -x) DEF_UN(neg_f64, double, -x)
DEF_UN(neg_i32, int32_t, 0u - (uint32_t)x) DEF_UN(neg_i64, int64_t, (uint64_t)0 - (uint64_t)x)
DEF_UN(neg_i8, int8_t, -x)
DEF_UN(relu_f32, float, x > 0 ? x : 0) DEF_UN(relu_f64, double, x > 0 ? x : 0)
DEF_UN(relu_i32, int32_t, x > 0 ? x : 0) DEF_UN(relu_i64, int64_t, x > 0 ? x : 0)
DEF_UN(relu_i8, int8_t, x > 0 ? x : 0)
DEF_UN(sqrt_f32, float, sqrtf(x)) DEF_UN(sqrt_f64, double, sqrt(x))
DEF_UN(erf_f64, double, erf(x))

/* Erf on float (BERT's GELU: scalar erff was, after the GEMMs, the largest cost of a run): glibc's
** vector erff from libmvec where the build found it (PN_HAVE_MVEC), 16 or 8 lanes by
** pn_cpu_level, at most 4 ulp from the exact value (erff: 1), the tail and other CPUs scalar. */
#if defined(PN_HAVE_MVEC) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
__attribute__((target("avx512f"))) __m512 _ZGVeN16v_erff(__m512);
__attribute__((target("avx2"))) __m256 _ZGVdN8v_erff(__m256);
__attribute__((target("avx512f"))) static int64_t erf16(const float *x, float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _ZGVeN16v_erff(_mm512_loadu_ps(x + i)));
  return i;
}
__attribute__((target("avx2"))) static int64_t erf8(const float *x, float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _ZGVdN8v_erff(_mm256_loadu_ps(x + i)));
  return i;
}
#define ERF_VECTOR 1
#endif

/* Blocks of 4096 whatever the threads: the vector and scalar parts of a block (4 and 1 ulp) fall on
** the same elements. */
static void erf_f32_blocks(const void *ctx, int64_t b0, int64_t b1) {
  const struct un_ctx *c = ctx;
  const float *X = c->x;
  float *Y = c->y;
  int64_t n = c->n;
#ifdef ERF_VECTOR
  enum pn_cpu_level lvl = pn_cpu_level();
#endif
  for (int64_t b = b0; b < b1; b++) {
    const float *x = X + b * 4096;
    float *y = Y + b * 4096;
    int64_t len = n - b * 4096 < 4096 ? n - b * 4096 : 4096, i = 0;
#ifdef ERF_VECTOR
    if (lvl >= PN_CPU_AVX512) i = erf16(x, y, len);
    else if (lvl >= PN_CPU_AVX2) i = erf8(x, y, len);
#endif
    for (; i < len; i++) y[i] = erff(x[i]);
  }
}
static void erf_f32(const void *px, void *py, int64_t n, float alpha) {
  struct un_ctx c = {px, py, n, alpha};
  run_blocks(erf_f32_blocks, &c, (n + 4095) / 4096, n);
}
DEF_UN(exp_f32, float, expf(x)) DEF_UN(exp_f64, double, exp(x))
DEF_UN(log_f32, float, logf(x)) DEF_UN(log_f64, double, log(x))
DEF_UN(recip_f32, float, 1.0f / x) DEF_UN(recip_f64, double, 1.0 / x)
DEF_UN(sigmoid_f32, float, sigmoidf(x)) DEF_UN(sigmoid_f64, double, sigmoidd(x))
DEF_UN(tanh_f32, float, tanhf(x)) DEF_UN(tanh_f64, double, tanh(x))
DEF_UN(lrelu_f32, float, x >= 0 ? x : alpha * x) DEF_UN(lrelu_f64, double, x >= 0 ? x : alpha * x)

struct un_row {
  un_fn *f[6];   /* by dtype_slot */
};

static int infer_unary(const struct pn_op_args *a, const struct pn_shape *in, struct pn_shape *out,
                       const struct un_row *row) {
  enum pn_dtype dt = in[0].dtype;
  if (dt != PN_DT_UNDEFINED && (dtype_slot(dt) < 0 || !row->f[dtype_slot(dt)]))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s", pn_dtype_name(dt));
  pn_shape_set(out, dt, in[0].ndim, in[0].dims);
  return PN_OK;
}

static int run_unary(const struct pn_op_args *a, const struct pn_tensor *X, struct pn_tensor *Y,
                     const struct un_row *row, float alpha) {
  int s = dtype_slot(X->dtype);
  if (s < 0 || !row->f[s] || Y->dtype != X->dtype)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s", pn_dtype_name(X->dtype));
  row->f[s](X->data, Y->data, pn_tensor_numel(X), alpha);
  return PN_OK;
}

#define UNARY_OP(fn, ...)                                                                      \
  static const struct un_row fn##_row = {{__VA_ARGS__}};                                       \
  int pn_infer_##fn(const struct pn_op_args *a, const struct pn_shape *in, int n_in,         \
                    struct pn_shape *out, int n_out) {                                       \
    return infer_unary(a, in, out, &fn##_row);                                                 \
  }                                                                                            \
  int pn_run_##fn(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,   \
                  struct pn_tensor *const *out, int n_out) {                                 \
    return run_unary(a, in[0], out[0], &fn##_row, 0);                                          \
  }

UNARY_OP(abs, abs_f32, abs_f64, abs_i32, abs_i64, abs_i8, abs_u8)
UNARY_OP(neg, neg_f32, neg_f64, neg_i32, neg_i64, neg_i8, NULL)
UNARY_OP(relu, relu_f32, relu_f64, relu_i32, relu_i64, relu_i8, NULL)
UNARY_OP(sqrt, sqrt_f32, sqrt_f64)
UNARY_OP(erf, erf_f32, erf_f64)
UNARY_OP(exp, exp_f32, exp_f64)
UNARY_OP(log, log_f32, log_f64)
UNARY_OP(reciprocal, recip_f32, recip_f64)
UNARY_OP(sigmoid, sigmoid_f32, sigmoid_f64)
UNARY_OP(tanh, tanh_f32, tanh_f64)

static const struct un_row lrelu_row = {{lrelu_f32, lrelu_f64}};

int pn_infer_leaky_relu(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                        struct pn_shape *out, int n_out) {
  float alpha;
  int rc = pn_node_get_float(a->ctx, a->node, "alpha", 0.01f, &alpha);
  if (rc) return rc;
  return infer_unary(a, in, out, &lrelu_row);
}

int pn_run_leaky_relu(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                      struct pn_tensor *const *out, int n_out) {
  float alpha;
  int rc = pn_node_get_float(a->ctx, a->node, "alpha", 0.01f, &alpha);
  if (rc) return rc;
  return run_unary(a, in[0], out[0], &lrelu_row, alpha);
}

/* ---- Clip ---- */

/* Bounds: attributes min/max before opset 11, optional scalar inputs from 11 on. */
static int clip_check_bound(const struct pn_op_args *a, const struct pn_shape *in, int n_in, int i,
                            const char *what) {
  if (!pn_has_in(a, n_in, i)) return PN_OK;
  if (in[i].dtype && in[0].dtype && in[i].dtype != in[0].dtype)
    return pn_op_err(a, PN_ERR_INVALID, "input '%s' has dtype %s, input has %s", what,
                     pn_dtype_name(in[i].dtype), pn_dtype_name(in[0].dtype));
  if (in[i].ndim > 0 && pn_shape_numel(in[i].ndim, in[i].dims) > 1)
    return pn_op_err(a, PN_ERR_INVALID, "input '%s' must be a scalar", what);
  return PN_OK;
}

int pn_infer_clip(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                  struct pn_shape *out, int n_out) {
  int rc;
  if ((rc = pn_check_dtype(a, "input", in[0].dtype, NUMERIC))) return rc;
  if (a->opset < 11) {
    float f;
    if (n_in > 1) return pn_op_err(a, PN_ERR_INVALID, "takes 1 input before opset 11");
    if ((rc = pn_node_get_float(a->ctx, a->node, "min", 0, &f)) ||
        (rc = pn_node_get_float(a->ctx, a->node, "max", 0, &f)))
      return rc;
    if (in[0].dtype && in[0].dtype != PN_DT_FLOAT && in[0].dtype != PN_DT_DOUBLE)
      return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s before opset 11", pn_dtype_name(in[0].dtype));
  } else if ((rc = clip_check_bound(a, in, n_in, 1, "min")) ||
             (rc = clip_check_bound(a, in, n_in, 2, "max"))) {
    return rc;
  }
  pn_shape_set(out, in[0].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

#define DEF_CLIP(name, T)                                                                      \
  static void name(const void *px, void *py, int64_t n, const void *plo, const void *phi) {   \
    const T *X = px;                                                                           \
    T *Y = py;                                                                                 \
    T lo = *(const T *)plo, hi = *(const T *)phi;                                              \
    _Pragma(PAR_IF)                                                                            \
    for (int64_t i = 0; i < n; i++) {                                                          \
      T x = X[i];                                                                              \
      x = x < lo ? lo : x;                                                                     \
      Y[i] = x > hi ? hi : x;                                                                  \
    }                                                                                          \
  }
DEF_CLIP(clip_f32, float)
DEF_CLIP(clip_f64, double)
DEF_CLIP(clip_i32, int32_t)
DEF_CLIP(clip_i64, int64_t)
DEF_CLIP(clip_i8, int8_t)
DEF_CLIP(clip_u8, uint8_t)

int pn_clip_bounds_f32(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                       float *lo, float *hi) {
  float b[2] = {-INFINITY, INFINITY};
  for (int k = 0; k < 2; k++) {
    const struct pn_tensor *t = (a->opset >= 11 && pn_has_in(a, n_in, k + 1)) ? in[k + 1] : NULL;
    if (t) {
      if (t->dtype != PN_DT_FLOAT || pn_tensor_numel(t) != 1)
        return pn_op_err(a, PN_ERR_INVALID, "input '%s' must be a float scalar", k ? "max" : "min");
      b[k] = *(const float *)t->data;
    } else if (a->opset < 11) {
      const struct pn_attr *at = pn_node_attr(a->node, k ? "max" : "min");
      if (at && at->type != PN_ATTR_FLOAT)
        return pn_op_err(a, PN_ERR_INVALID, "attribute '%s' must be a float", at->name);
      if (at) b[k] = at->f;
    }
  }
  *lo = b[0];
  *hi = b[1];
  return PN_OK;
}

int pn_run_clip(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  int s = dtype_slot(X->dtype);
  if (s < 0 || out[0]->dtype != X->dtype)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s", pn_dtype_name(X->dtype));
  union { float f; double d; int32_t i32; int64_t i64; int8_t i8; uint8_t u8; } b[2];
  static const struct { float f; double d; int32_t i32; int64_t i64; int8_t i8; uint8_t u8; }
      lim[2] = {{-INFINITY, -INFINITY, INT32_MIN, INT64_MIN, INT8_MIN, 0},
                {INFINITY, INFINITY, INT32_MAX, INT64_MAX, INT8_MAX, UINT8_MAX}};
  size_t es = pn_dtype_size(X->dtype);
  for (int k = 0; k < 2; k++) {
    const struct pn_tensor *t = (a->opset >= 11 && pn_has_in(a, n_in, k + 1)) ? in[k + 1] : NULL;
    switch (s) {
    case 0: b[k].f = lim[k].f; break;
    case 1: b[k].d = lim[k].d; break;
    case 2: b[k].i32 = lim[k].i32; break;
    case 3: b[k].i64 = lim[k].i64; break;
    case 4: b[k].i8 = lim[k].i8; break;
    default: b[k].u8 = lim[k].u8; break;
    }
    if (t) {
      if (t->dtype != X->dtype || pn_tensor_numel(t) != 1)
        return pn_op_err(a, PN_ERR_INVALID, "input '%s' must be a %s scalar", k ? "max" : "min",
                         pn_dtype_name(X->dtype));
      memcpy(&b[k], t->data, es);
    } else if (a->opset < 11) {
      const struct pn_attr *at = pn_node_attr(a->node, k ? "max" : "min");
      if (at) {
        if (at->type != PN_ATTR_FLOAT)
          return pn_op_err(a, PN_ERR_INVALID, "attribute '%s' must be a float", at->name);
        if (s == 0) b[k].f = at->f;
        else if (s == 1) b[k].d = at->f;
        else return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s", pn_dtype_name(X->dtype));
      }
    }
  }
  static void (*const fns[6])(const void *, void *, int64_t, const void *, const void *) = {
      clip_f32, clip_f64, clip_i32, clip_i64, clip_i8, clip_u8};
  fns[s](X->data, out[0]->data, pn_tensor_numel(X), &b[0], &b[1]);
  return PN_OK;
}

/* ---- Cast ---- */

#define CAST_DTYPES (PN_DT_DENSE | PN_DT_BIT(PN_DT_FLOAT16) | PN_DT_BIT(PN_DT_BFLOAT16))

static int cast_to(const struct pn_op_args *a, enum pn_dtype *to) {
  int64_t v;
  int rc = pn_node_get_int(a->ctx, a->node, "to", -1, &v);
  if (rc) return rc;
  if (v == -1) return pn_op_err(a, PN_ERR_INVALID, "attribute 'to' is required");
  if (v <= 0 || v >= PN_DT_COUNT)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'to' = %lld is not a data type", (long long)v);
  *to = (enum pn_dtype)v;
  return pn_check_dtype(a, "attribute 'to'", *to, CAST_DTYPES);
}

int pn_infer_cast(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                  struct pn_shape *out, int n_out) {
  enum pn_dtype to = PN_DT_UNDEFINED;
  int rc;
  if ((rc = cast_to(a, &to)) || (rc = pn_check_dtype(a, "input", in[0].dtype, CAST_DTYPES)))
    return rc;
  pn_shape_set(out, to, in[0].ndim, in[0].dims);
  return PN_OK;
}

/* Source element as double (exact for float/double/int8/uint8/int32) or int64 (exact for int64). */
#define CAST_LOOP(TD, EXPR)                                                                    \
  do {                                                                                         \
    TD *Y = out[0]->data;                                                                      \
    _Pragma(PAR_IF)                                                                            \
    for (int64_t i = 0; i < n; i++) {                                                          \
      if (src_float) {                                                                         \
        double x = load_f64(X->data, X->dtype, i);                                             \
        (void)x;                                                                               \
        Y[i] = (TD)(EXPR);                                                                     \
      } else {                                                                                 \
        int64_t k = X->dtype == PN_DT_INT64 ? ((const int64_t *)X->data)[i]                    \
                                            : (int64_t)load_f64(X->data, X->dtype, i);         \
        double x = (double)k;                                                                  \
        (void)x;                                                                               \
        Y[i] = (TD)(EXPR##_I);                                                                 \
      }                                                                                        \
    }                                                                                          \
  } while (0)

static int cast_run(const struct pn_op_args *a, const struct pn_tensor *X, enum pn_dtype to,
                    struct pn_tensor *const *out);

int pn_run_cast(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                struct pn_tensor *const *out, int n_out) {
  enum pn_dtype to = PN_DT_UNDEFINED;
  int rc = cast_to(a, &to);
  return rc ? rc : cast_run(a, in[0], to, out);
}

/* CastLike (opset 15): Cast to the dtype of input 1. */
int pn_infer_cast_like(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                       struct pn_shape *out, int n_out) {
  int rc;
  if ((rc = pn_check_dtype(a, "input", in[0].dtype, CAST_DTYPES)) ||
      (rc = pn_check_dtype(a, "target_type", in[1].dtype, CAST_DTYPES)))
    return rc;
  pn_shape_set(out, in[1].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_run_cast_like(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                     struct pn_tensor *const *out, int n_out) {
  int rc = pn_check_dtype(a, "target_type", in[1]->dtype, CAST_DTYPES);
  return rc ? rc : cast_run(a, in[0], in[1]->dtype, out);
}

static int cast_run(const struct pn_op_args *a, const struct pn_tensor *X, enum pn_dtype to,
                    struct pn_tensor *const *out) {
  int rc;
  if ((rc = pn_check_dtype(a, "input", X->dtype, CAST_DTYPES))) return rc;
  if (X->dtype == PN_DT_UNDEFINED || out[0]->dtype != to)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s", pn_dtype_name(X->dtype));
  int64_t n = pn_tensor_numel(X);
  bool src_float = X->dtype == PN_DT_FLOAT || X->dtype == PN_DT_DOUBLE || pn_dtype_is_half(X->dtype);
  if (X->dtype == to) {
    memcpy(out[0]->data, X->data, pn_tensor_nbytes(X));
    return PN_OK;
  }
  /* to float: direct; to bool: nonzero; to integers: floats saturate to int64 then wrap (numpy's
  ** x86 behaviour for in-range values), integers wrap. */
#define TO_FLT x
#define TO_FLT_I k
#define TO_BOOL x != 0
#define TO_BOOL_I k != 0
#define TO_INT sat_i64(x)
#define TO_INT_I k
#define TO_F16 pn_half_from_double(x)           /* directly from double: one rounding */
#define TO_F16_I pn_half_from_double((double)k)
#define TO_BF16 pn_bf16_from_float((float)x)
#define TO_BF16_I pn_bf16_from_float((float)k)
  switch (to) {
  case PN_DT_FLOAT: CAST_LOOP(float, TO_FLT); break;
  case PN_DT_DOUBLE: CAST_LOOP(double, TO_FLT); break;
  case PN_DT_BOOL: CAST_LOOP(uint8_t, TO_BOOL); break;
  case PN_DT_INT32: CAST_LOOP(int32_t, TO_INT); break;
  case PN_DT_INT64: CAST_LOOP(int64_t, TO_INT); break;
  case PN_DT_INT8: CAST_LOOP(int8_t, TO_INT); break;
  case PN_DT_UINT8: CAST_LOOP(uint8_t, TO_INT); break;
  case PN_DT_FLOAT16: CAST_LOOP(uint16_t, TO_F16); break;
  case PN_DT_BFLOAT16: CAST_LOOP(uint16_t, TO_BF16); break;
  default: return pn_op_err(a, PN_ERR_UNSUPPORTED, "Cast to %s", pn_dtype_name(to));
  }
  return PN_OK;
}
