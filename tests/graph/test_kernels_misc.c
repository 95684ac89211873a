/* test_kernels_misc.c - elementwise, shape and reduction kernels against naive references.
**
** Each kernel is called through pn_op_defs[op].infer/run on a node of a scratch graph, like the
** executor does (infer with every input's value known, then run into outputs of the inferred
** shapes). Results are compared with naive index-by-index references written here, plus
** hand-computed answers for the tricky ops (Slice with negative steps, Reshape 0/-1, Gather with
** negative indices, Split) and error cases. Randomised tests print their seed; set
** PN_TEST_SEED=<n> to replay one. */
#define PN_TEST_NAME "test_kernels_misc"
#include "kernel_harness.h"

#include "util/cpu.h"

/* A value v of an integer dtype, wrapped like a store into that dtype. */
static double wrap(enum pn_dtype dt, int64_t v) {
  switch (dt) {
  case PN_DT_INT32: return (int32_t)(uint32_t)(uint64_t)v;
  case PN_DT_INT8: return (int8_t)(uint8_t)(uint64_t)v;
  case PN_DT_UINT8: return (uint8_t)(uint64_t)v;
  default: return (double)v;
  }
}

static bool is_float(enum pn_dtype dt) { return dt == PN_DT_FLOAT || dt == PN_DT_DOUBLE; }

static void assert_close(double got, double want, double tol, const char *what, int64_t i) {
  if (isnan(want) && isnan(got)) return;
  if (!(fabs(got - want) <= tol * (1 + fabs(want)))) {
    printf("%s element %" PRId64 ": got %.9g, want %.9g\n", what, i, got, want);
    fail();
  }
}

/* ---- binary elementwise ---- */

/* A random pair of shapes that broadcast: out rank 0..4, each operand a suffix with some 1s. */
static void random_bcast_shapes(int *na, int64_t *da, int *nb, int64_t *db) {
  int nd = (int)irand(0, 4);
  int64_t od[4];
  for (int i = 0; i < nd; i++) od[i] = irand(1, 5);
  int *ns[2] = {na, nb};
  int64_t *ds[2] = {da, db};
  for (int k = 0; k < 2; k++) {
    *ns[k] = (int)irand(0, nd);
    for (int j = 0; j < *ns[k]; j++) ds[k][j] = irand(0, 2) ? od[j + nd - *ns[k]] : 1;
  }
  if (irand(0, 1)) *na = nd, memcpy(da, od, sizeof od);  /* often one side is full */
}

static double ref_binary(const char *op, enum pn_dtype dt, double x, double z) {
  if (!strcmp(op, "Pow")) return pow(x, z);
  if (is_float(dt)) {
    if (!strcmp(op, "Add")) return x + z;
    if (!strcmp(op, "Sub")) return x - z;
    if (!strcmp(op, "Mul")) return x * z;
    return x / z;
  }
  int64_t a = (int64_t)x, b = (int64_t)z, r;
  if (!strcmp(op, "Add")) r = (int64_t)((uint64_t)a + (uint64_t)b);
  else if (!strcmp(op, "Sub")) r = (int64_t)((uint64_t)a - (uint64_t)b);
  else if (!strcmp(op, "Mul")) r = (int64_t)((uint64_t)a * (uint64_t)b);
  else r = b == -1 ? (int64_t)(0 - (uint64_t)a) : a / b;
  return wrap(dt, r);
}

static void check_binary(const char *op, enum pn_dtype dt, int na, const int64_t *da, int nb,
                         const int64_t *db) {
  struct call c;
  call_init(&c, op, 2, 1, 17);
  struct pn_tensor *A = trand(dt, na, da), *B = trand(dt, nb, db);
  int64_t nbn = pn_tensor_numel(B);
  if (!strcmp(op, "Div") && !is_float(dt))  /* no integer division by zero */
    for (int64_t i = 0; i < nbn; i++)
      if (get(B, i) == 0) ((uint8_t *)B->data)[i * (int64_t)pn_dtype_size(dt)] = 3;
  if (!strcmp(op, "Pow")) /* positive bases keep pow real */
    for (int64_t i = 0, n = pn_tensor_numel(A); i < n; i++) {
      if (dt == PN_DT_FLOAT) ((float *)A->data)[i] = fabsf(((float *)A->data)[i]) + 0.1f;
      else ((double *)A->data)[i] = fabs(((double *)A->data)[i]) + 0.1;
    }
  const struct pn_tensor *in[2] = {A, B};
  int rc;
  struct pn_tensor *Y = run1(&c, in, &rc);
  if (rc) printf("%s\n", pn_errmsg(&c.ctx));
  assert_int_equal(rc, PN_OK);
  int nd = na > nb ? na : nb;
  int64_t od[PN_MAX_DIMS], oi[PN_MAX_DIMS];
  for (int i = 0; i < nd; i++) {
    int ia = i - (nd - na), ib = i - (nd - nb);
    int64_t x = ia >= 0 ? da[ia] : 1, z = ib >= 0 ? db[ib] : 1;
    od[i] = x == 1 ? z : x;
  }
  assert_shape(Y, nd, od);
  assert_int_equal(Y->dtype, dt);
  int64_t n = pn_tensor_numel(Y);
  double tol = dt == PN_DT_FLOAT ? 1e-6 : (dt == PN_DT_DOUBLE ? 1e-14 : 0);
  for (int64_t i = 0; i < n; i++) {
    unravel(i, nd, od, oi);
    double x = get(A, bcast_index(nd, oi, na, da)), z = get(B, bcast_index(nd, oi, nb, db));
    if (dt == PN_DT_FLOAT && !strcmp(op, "Pow")) tol = 1e-5;
    assert_close(get(Y, i), ref_binary(op, dt, x, z), tol, op, i);
  }
  pn_tensor_free(A);
  pn_tensor_free(B);
  pn_tensor_free(Y);
  call_free(&c);
}

static void test_binary_random(void **state) {
  static const char *const ops[] = {"Add", "Sub", "Mul", "Div"};
  static const enum pn_dtype dts[] = {PN_DT_FLOAT, PN_DT_DOUBLE, PN_DT_INT32, PN_DT_INT64,
                                      PN_DT_INT8, PN_DT_UINT8};
  for (int trial = 0; trial < 40; trial++)
    for (int o = 0; o < 4; o++)
      for (int t = 0; t < 6; t++) {
        int na, nb;
        int64_t da[4], db[4];
        random_bcast_shapes(&na, da, &nb, db);
        if (irand(0, 1)) check_binary(ops[o], dts[t], na, da, nb, db);
        else check_binary(ops[o], dts[t], nb, db, na, da);
      }
  for (int trial = 0; trial < 20; trial++) {
    int na, nb;
    int64_t da[4], db[4];
    random_bcast_shapes(&na, da, &nb, db);
    check_binary("Pow", trial & 1 ? PN_DT_FLOAT : PN_DT_DOUBLE, na, da, nb, db);
  }
}

/* The common fast paths, large enough to take the OpenMP branch. */
static void test_binary_large(void **state) {
  const int64_t x[] = {2, 16, 64, 64}, bias[] = {16, 1, 1}, row[] = {64}, one[] = {1};
  check_binary("Add", PN_DT_FLOAT, 4, x, 4, x);
  check_binary("Add", PN_DT_FLOAT, 4, x, 3, bias);
  check_binary("Mul", PN_DT_FLOAT, 3, bias, 4, x);
  check_binary("Sub", PN_DT_FLOAT, 4, x, 1, row);
  check_binary("Div", PN_DT_FLOAT, 4, x, 0, one);
  check_binary("Mul", PN_DT_INT64, 0, one, 4, x);
  const int64_t col[] = {300, 1}, rw[] = {1, 400};
  check_binary("Add", PN_DT_DOUBLE, 2, col, 2, rw);
}

static void test_binary_known(void **state) {
  /* integer semantics: truncating division, wrap-around, INT32_MIN / -1 */
  struct call c;
  call_init(&c, "Div", 2, 1, 14);
  const int64_t d[] = {4};
  struct pn_tensor *A = tensor(PN_DT_INT32, 1, d, (double[]){7, -7, INT32_MIN, 9});
  struct pn_tensor *B = tensor(PN_DT_INT32, 1, d, (double[]){2, 2, -1, -4});
  const struct pn_tensor *in[2] = {A, B};
  int rc;
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_int_equal(rc, PN_OK);
  assert_values(Y, 4, (double[]){3, -3, INT32_MIN, -2});
  pn_tensor_free(Y);
  ((int32_t *)B->data)[3] = 0;
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "division by zero"));
  call_free(&c);
  pn_tensor_free(A);
  pn_tensor_free(B);

  call_init(&c, "Add", 2, 1, 14);
  A = tensor(PN_DT_UINT8, 1, d, (double[]){250, 1, 128, 0});
  B = tensor(PN_DT_UINT8, 1, d, (double[]){10, 2, 128, 0});
  in[0] = A, in[1] = B;
  Y = run1(&c, in, &rc);
  assert_values(Y, 4, (double[]){4, 3, 0, 0});
  pn_tensor_free(Y);
  pn_tensor_free(A);
  pn_tensor_free(B);
  call_free(&c);
}

static void test_binary_infer(void **state) {
  struct call c;
  call_init(&c, "Add", 2, 1, 17);
  struct pn_shape in[2] = {{PN_DT_FLOAT, 2, {-1, 3}, NULL}, {PN_DT_FLOAT, 3, {4, 1, 3}, NULL}};
  struct pn_shape out[1];
  assert_int_equal(call_infer(&c, in, out), PN_OK);
  assert_int_equal(out[0].ndim, 3);
  assert_int_equal(out[0].dims[0], 4);
  assert_int_equal(out[0].dims[1], -1);
  assert_int_equal(out[0].dims[2], 3);
  assert_int_equal(out[0].dtype, PN_DT_FLOAT);
  in[1].ndim = -1;  /* unknown rank */
  assert_int_equal(call_infer(&c, in, out), PN_OK);
  assert_int_equal(out[0].ndim, -1);
  /* errors: non-broadcasting, mixed dtypes, unsupported dtype */
  struct pn_shape bad[2] = {{PN_DT_FLOAT, 2, {2, 3}, NULL}, {PN_DT_FLOAT, 2, {4, 3}, NULL}};
  assert_int_equal(call_infer(&c, bad, out), PN_ERR_INVALID);
  bad[1].dims[0] = 2;
  bad[1].dtype = PN_DT_INT32;
  assert_int_equal(call_infer(&c, bad, out), PN_ERR_INVALID);
  bad[0].dtype = bad[1].dtype = PN_DT_STRING;
  assert_int_equal(call_infer(&c, bad, out), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "string"));
  call_free(&c);
}

static void test_pow_types(void **state) {
  struct call c;
  int rc;
  const int64_t d[] = {3};
  /* float base, int64 exponent */
  call_init(&c, "Pow", 2, 1, 15);
  struct pn_tensor *A = tensor(PN_DT_FLOAT, 1, d, (double[]){1.5, -2, 3});
  struct pn_tensor *B = tensor(PN_DT_INT64, 1, d, (double[]){2, 3, 0});
  const struct pn_tensor *in[2] = {A, B};
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_int_equal(rc, PN_OK);
  assert_int_equal(Y->dtype, PN_DT_FLOAT);
  assert_values(Y, 3, (double[]){2.25, -8, 1});
  pn_tensor_free(Y);
  pn_tensor_free(A);
  pn_tensor_free(B);
  /* int32 base, float exponent: result int32, truncated */
  A = tensor(PN_DT_INT32, 1, d, (double[]){2, 9, -3});
  B = tensor(PN_DT_FLOAT, 1, d, (double[]){0.5, 0.5, 2});
  in[0] = A, in[1] = B;
  Y = run1(&c, in, &rc);
  assert_int_equal(rc, PN_OK);
  assert_int_equal(Y->dtype, PN_DT_INT32);
  assert_values(Y, 3, (double[]){1, 3, 9});
  pn_tensor_free(Y);
  pn_tensor_free(B);
  /* before opset 12 the types must match */
  B = tensor(PN_DT_FLOAT, 1, d, (double[]){1, 1, 1});
  c.opset = 7;
  in[1] = B;
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  pn_tensor_free(A);
  pn_tensor_free(B);
  call_free(&c);
}

/* ---- unary elementwise ---- */

static double ref_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double ref_recip(double x) { return 1 / x; }
static double ref_relu(double x) { return x > 0 ? x : 0; }
static double ref_neg(double x) { return -x; }
static double ref_lrelu(double x) { return x >= 0 ? x : (double)0.01f * x; } /* alpha is a float */

static void test_unary_float(void **state) {
  static const struct {
    const char *op;
    double (*f)(double);
    double lo, hi, tol;
  } cases[] = {
    {"Abs", fabs, -5, 5, 0},          {"Neg", ref_neg, -5, 5, 0},
    {"Relu", ref_relu, -5, 5, 0},     {"Sqrt", sqrt, 0, 100, 1e-6},
    {"Erf", erf, -4, 4, 1e-6},        {"Exp", exp, -20, 20, 1e-6},
    {"Log", log, 1e-3, 1e3, 1e-6},    {"Reciprocal", ref_recip, 0.1, 10, 1e-6},
    {"Sigmoid", ref_sigmoid, -30, 30, 1e-6}, {"Tanh", tanh, -10, 10, 1e-6},
    {"LeakyRelu", ref_lrelu, -5, 5, 1e-7},
  };
  const int64_t dims[] = {70000};   /* above the parallel threshold */
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
    for (int t = 0; t < 2; t++) {
      enum pn_dtype dt = t ? PN_DT_DOUBLE : PN_DT_FLOAT;
      struct call c;
      call_init(&c, cases[k].op, 1, 1, 17);
      struct pn_tensor *X = tensor(dt, 1, dims, NULL);
      for (int64_t i = 0; i < dims[0]; i++) {
        double v = urand(cases[k].lo, cases[k].hi);
        if (dt == PN_DT_FLOAT) ((float *)X->data)[i] = (float)v;
        else ((double *)X->data)[i] = v;
      }
      const struct pn_tensor *in[1] = {X};
      int rc;
      struct pn_tensor *Y = run1(&c, in, &rc);
      assert_int_equal(rc, PN_OK);
      assert_shape(Y, 1, dims);
      assert_int_equal(Y->dtype, dt);
      double tol = dt == PN_DT_DOUBLE ? cases[k].tol * 1e-6 : cases[k].tol;
      for (int64_t i = 0; i < dims[0]; i++)
        assert_close(get(Y, i), cases[k].f(get(X, i)), tol, cases[k].op, i);
      pn_tensor_free(X);
      pn_tensor_free(Y);
      call_free(&c);
    }
}

/* Float Erf at every CPU level (glibc's vector erff on AVX-512 / AVX2 where the build links
** libmvec, scalar erff otherwise, scalar tails): within 4 ulp of the exact value, on an odd length
** over both signs, the tails (|x| > 3.9: +-1) and tiny arguments (erf(x) ~ 2x/sqrt(pi)). */
static void test_erf_levels(void **state) {
  (void)state;
  pn_cpu_set_level(-1);
  int top = (int)pn_cpu_level();
  const int64_t dims[] = {70001};
  for (int level = 0; level <= top; level++) {
    struct call c;
    call_init(&c, "Erf", 1, 1, 13);
    struct pn_tensor *X = tensor(PN_DT_FLOAT, 1, dims, NULL);
    float *x = X->data;
    for (int64_t i = 0; i < dims[0]; i++)
      x[i] = i % 3 == 0 ? (float)(urand(-1, 1) * pow(10, urand(-30, 0))) : (float)urand(-6, 6);
    const struct pn_tensor *in[1] = {X};
    int rc;
    pn_cpu_set_level(level);
    struct pn_tensor *Y = run1(&c, in, &rc);
    pn_cpu_set_level(-1);
    assert_int_equal(rc, PN_OK);
    const float *y = Y->data;
    for (int64_t i = 0; i < dims[0]; i++) {
      float e = (float)erf((double)x[i]);
      double ulp = nextafterf(fabsf(e), INFINITY) - fabsf(e);
      if (!(fabs(y[i] - erf((double)x[i])) <= 4 * ulp)) {
        printf("Erf level %d: erf(%.9g) = %.9g, want %.9g\n", level, x[i], y[i], e);
        fail();
      }
    }
    pn_tensor_free(X);
    pn_tensor_free(Y);
    call_free(&c);
  }
}

static void test_unary_misc(void **state) {
  struct call c;
  int rc;
  const int64_t d[] = {5};
  /* LeakyRelu alpha */
  call_init(&c, "LeakyRelu", 1, 1, 16);
  pn_node_set_float(c.g, c.n, "alpha", 0.5f);
  struct pn_tensor *X = tensor(PN_DT_FLOAT, 1, d, (double[]){-4, -1, 0, 2, 3});
  const struct pn_tensor *in[1] = {X};
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_values(Y, 5, (double[]){-2, -0.5, 0, 2, 3});
  pn_tensor_free(Y);
  pn_tensor_free(X);
  call_free(&c);
  /* integer Abs / Neg / Relu, including the most negative value */
  static const char *const ops[] = {"Abs", "Neg", "Relu"};
  static const int64_t want[3][5] = {{INT64_MIN, 5, 0, 7, INT64_MAX},
                                     {INT64_MIN, 5, 0, -7, -INT64_MAX},
                                     {0, 0, 0, 7, INT64_MAX}};
  for (int k = 0; k < 3; k++) {
    call_init(&c, ops[k], 1, 1, 14);
    X = tensor(PN_DT_INT64, 1, d, NULL);
    int64_t xv[] = {INT64_MIN, -5, 0, 7, INT64_MAX};
    memcpy(X->data, xv, sizeof xv);
    in[0] = X;
    Y = run1(&c, in, &rc);
    assert_int_equal(rc, PN_OK);
    for (int i = 0; i < 5; i++) assert_true(((int64_t *)Y->data)[i] == want[k][i]);
    pn_tensor_free(Y);
    pn_tensor_free(X);
    call_free(&c);
  }
  /* unsupported dtypes are named */
  call_init(&c, "Sqrt", 1, 1, 17);
  X = tensor(PN_DT_INT32, 1, d, (double[]){1, 2, 3, 4, 5});
  in[0] = X;
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "int32"));
  pn_tensor_free(X);
  call_free(&c);
}

/* ---- Clip ---- */

static void test_clip(void **state) {
  struct call c;
  int rc;
  const int64_t d[] = {6};
  double xv[] = {-5, -1, 0, 0.5, 2, NAN};
  /* opset 6: attributes */
  call_init(&c, "Clip", 1, 1, 6);
  pn_node_set_float(c.g, c.n, "min", -1.5f);
  pn_node_set_float(c.g, c.n, "max", 1);
  struct pn_tensor *X = tensor(PN_DT_FLOAT, 1, d, xv);
  const struct pn_tensor *in[3] = {X, NULL, NULL};
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_int_equal(rc, PN_OK);
  assert_values(Y, 6, (double[]){-1.5, -1, 0, 0.5, 1, NAN});
  pn_tensor_free(Y);
  call_free(&c);
  /* opset 13: min input only (max omitted) */
  call_init(&c, "Clip", 3, 1, 13);
  call_omit_input(&c, 2);
  struct pn_tensor *lo = scalar(PN_DT_FLOAT, 0);
  in[1] = lo;
  Y = run1(&c, in, &rc);
  assert_int_equal(rc, PN_OK);
  assert_values(Y, 6, (double[]){0, 0, 0, 0.5, 2, NAN});
  pn_tensor_free(Y);
  /* min > max: everything becomes max */
  struct pn_tensor *hi = scalar(PN_DT_FLOAT, -2);
  c.n->in[2] = "i2";
  in[2] = hi;
  Y = run1(&c, in, &rc);
  assert_values(Y, 6, (double[]){-2, -2, -2, -2, -2, NAN});
  pn_tensor_free(Y);
  /* a min of the wrong dtype */
  pn_tensor_free(lo);
  lo = scalar(PN_DT_DOUBLE, 0);
  in[1] = lo;
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  pn_tensor_free(lo);
  pn_tensor_free(hi);
  pn_tensor_free(X);
  call_free(&c);
  /* int8 without bounds = identity; with bounds */
  call_init(&c, "Clip", 3, 1, 13);
  X = tensor(PN_DT_INT8, 1, d, (double[]){-128, -3, 0, 5, 100, 127});
  lo = scalar(PN_DT_INT8, -4);
  hi = scalar(PN_DT_INT8, 50);
  call_omit_input(&c, 1);
  call_omit_input(&c, 2);
  in[0] = X, in[1] = NULL, in[2] = NULL;
  Y = run1(&c, in, &rc);
  assert_values(Y, 6, (double[]){-128, -3, 0, 5, 100, 127});
  pn_tensor_free(Y);
  c.n->in[1] = "i1", c.n->in[2] = "i2";
  in[1] = lo, in[2] = hi;
  Y = run1(&c, in, &rc);
  assert_values(Y, 6, (double[]){-4, -3, 0, 5, 50, 50});
  pn_tensor_free(Y);
  pn_tensor_free(X);
  pn_tensor_free(lo);
  pn_tensor_free(hi);
  call_free(&c);
}

/* ---- Cast ---- */

static double ref_cast(enum pn_dtype to, double v) {
  switch (to) {
  case PN_DT_FLOAT: return (float)v;
  case PN_DT_DOUBLE: return v;
  case PN_DT_BOOL: return v != 0;
  default: return wrap(to, (int64_t)trunc(v));
  }
}

static void test_cast(void **state) {
  static const enum pn_dtype dts[] = {PN_DT_FLOAT, PN_DT_DOUBLE, PN_DT_INT32, PN_DT_INT64,
                                      PN_DT_INT8, PN_DT_UINT8, PN_DT_BOOL};
  const double fv[] = {-3.75, -1, 0, 0.5, 2.5, 100.25, 300, -129.5};
  const double iv[] = {-3, -1, 0, 1, 2, 100, 300, -129};
  const double bv[] = {1, 0, 1, 1, 0, 0, 1, 0};
  const int64_t d[] = {2, 4};
  for (int s = 0; s < 7; s++)
    for (int t = 0; t < 7; t++) {
      enum pn_dtype from = dts[s], to = dts[t];
      double src[8];
      for (int i = 0; i < 8; i++) {
        src[i] = is_float(from) ? fv[i] : (from == PN_DT_BOOL ? bv[i] : iv[i]);
        if (!is_float(from) && from != PN_DT_BOOL) src[i] = wrap(from, (int64_t)src[i]);
      }
      struct pn_tensor *X = tensor(from, 2, d, src);
      struct call c;
      call_init(&c, "Cast", 1, 1, 13);
      pn_node_set_int(c.g, c.n, "to", to);
      const struct pn_tensor *in[1] = {X};
      int rc;
      struct pn_tensor *Y = run1(&c, in, &rc);
      assert_int_equal(rc, PN_OK);
      assert_int_equal(Y->dtype, to);
      assert_shape(Y, 2, d);
      for (int i = 0; i < 8; i++) {
        double want = ref_cast(to, get(X, i));
        if (get(Y, i) != want) {
          printf("Cast %s->%s element %d (%g): got %g want %g\n", pn_dtype_name(from),
                 pn_dtype_name(to), i, get(X, i), get(Y, i), want);
          fail();
        }
      }
      pn_tensor_free(X);
      pn_tensor_free(Y);
      call_free(&c);
    }
  /* int64 beyond 2^53 survives int64 -> int64 and converts exactly to int32 by wrapping */
  struct call c;
  call_init(&c, "Cast", 1, 1, 13);
  pn_node_set_int(c.g, c.n, "to", PN_DT_INT32);
  struct pn_tensor *X = tensor(PN_DT_INT64, 1, (int64_t[]){1}, NULL);
  ((int64_t *)X->data)[0] = (INT64_C(1) << 60) + 7;
  const struct pn_tensor *in[1] = {X};
  int rc;
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_int_equal(((int32_t *)Y->data)[0], 7);
  pn_tensor_free(Y);
  /* unsupported targets and a missing 'to' */
  pn_node_set_int(c.g, c.n, "to", PN_DT_STRING);
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_UNSUPPORTED);
  pn_node_set_int(c.g, c.n, "to", PN_DT_COMPLEX64);   /* float16 is supported since issue 11 */
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_UNSUPPORTED);
  pn_node_set_int(c.g, c.n, "to", 99);
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  pn_tensor_free(X);
  call_free(&c);
  call_init(&c, "Cast", 1, 1, 13);
  struct pn_shape sin[1] = {{PN_DT_FLOAT, 1, {3}, NULL}}, sout[1];
  assert_int_equal(call_infer(&c, sin, sout), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "'to'"));
  call_free(&c);
}

/* ---- Transpose ---- */

static void test_transpose(void **state) {
  static const enum pn_dtype dts[] = {PN_DT_FLOAT, PN_DT_INT64, PN_DT_UINT8, PN_DT_DOUBLE,
                                      PN_DT_BOOL};
  /* fixed shapes first: large (parallel), and ones taking the tiled path (two dims >= 8) */
  static const struct {
    int r;
    int64_t d[4], perm[4];
  } fixed[] = {
    {2, {70000, 2}, {1, 0}},          {2, {37, 45}, {1, 0}},
    {4, {2, 20, 9, 11}, {0, 2, 3, 1}}, {4, {3, 9, 33, 2}, {2, 0, 3, 1}},
    {3, {300, 7, 250}, {2, 1, 0}},    {3, {16, 16, 16}, {1, 2, 0}},
  };
  const int nfixed = (int)(sizeof fixed / sizeof *fixed);
  for (int trial = 0; trial < 60 + nfixed; trial++) {
    int r = trial < nfixed ? fixed[trial].r : (int)irand(1, 5);
    int64_t d[PN_MAX_DIMS], perm[PN_MAX_DIMS], od[PN_MAX_DIMS], oi[PN_MAX_DIMS], xi[PN_MAX_DIMS];
    for (int i = 0; i < r; i++) d[i] = irand(1, 5), perm[i] = i;
    bool deflt = trial % 5 == 1 && trial >= nfixed;
    for (int i = r - 1; i > 0; i--) {
      int j = (int)irand(0, i);
      int64_t t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
    if (deflt)
      for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    if (trial < nfixed)
      for (int i = 0; i < r; i++) d[i] = fixed[trial].d[i], perm[i] = fixed[trial].perm[i];
    for (int i = 0; i < r; i++) od[i] = d[perm[i]];
    enum pn_dtype dt = dts[trial % 5];
    struct call c;
    call_init(&c, "Transpose", 1, 1, 13);
    if (!deflt) pn_node_set_ints(c.g, c.n, "perm", r, perm);
    struct pn_tensor *X = trand(dt, r, d);
    const struct pn_tensor *in[1] = {X};
    int rc;
    struct pn_tensor *Y = run1(&c, in, &rc);
    assert_int_equal(rc, PN_OK);
    assert_shape(Y, r, od);
    int64_t n = pn_tensor_numel(Y);
    for (int64_t i = 0; i < n; i++) {
      unravel(i, r, od, oi);
      for (int k = 0; k < r; k++) xi[perm[k]] = oi[k];
      int64_t flat = 0;
      for (int k = 0; k < r; k++) flat = flat * d[k] + xi[k];
      assert_true(get(Y, i) == get(X, flat));
    }
    pn_tensor_free(X);
    pn_tensor_free(Y);
    call_free(&c);
  }
  /* bad perms */
  struct call c;
  call_init(&c, "Transpose", 1, 1, 13);
  struct pn_shape sin[1] = {{PN_DT_FLOAT, 3, {2, 3, 4}, NULL}}, sout[1];
  pn_node_set_ints(c.g, c.n, "perm", 3, (int64_t[]){0, 0, 1});
  assert_int_equal(call_infer(&c, sin, sout), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "perm"));
  pn_node_set_ints(c.g, c.n, "perm", 2, (int64_t[]){1, 0});
  assert_int_equal(call_infer(&c, sin, sout), PN_ERR_INVALID);
  pn_node_set_ints(c.g, c.n, "perm", 3, (int64_t[]){2, 0, 1});
  assert_int_equal(call_infer(&c, sin, sout), PN_OK);
  assert_int_equal(sout[0].dims[0], 4);
  assert_int_equal(sout[0].dims[1], 2);
  assert_int_equal(sout[0].dims[2], 3);
  sin[0].ndim = -1;  /* unknown rank: perm's length */
  assert_int_equal(call_infer(&c, sin, sout), PN_OK);
  assert_int_equal(sout[0].ndim, 3);
  call_free(&c);
}

/* ---- Slice ---- */

/* Slice of a 1-D arange(n) at opset 13; want[0..nw). */
static void slice1d(int64_t n, int64_t start, int64_t end, int64_t step, int nw, const double *want) {
  struct call c;
  call_init(&c, "Slice", 5, 1, 13);
  double v[64] = {0};
  for (int i = 0; i < n; i++) v[i] = i;
  struct pn_tensor *X = tensor(PN_DT_FLOAT, 1, &n, v);
  struct pn_tensor *S = ints(1, &start), *E = ints(1, &end), *A = ints(1, (int64_t[]){0});
  struct pn_tensor *P = ints(1, &step);
  const struct pn_tensor *in[5] = {X, S, E, A, P};
  int rc;
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_int_equal(rc, PN_OK);
  assert_int_equal(Y->ndim, 1);
  assert_values(Y, nw, want);
  pn_tensor_free(Y);
  pn_tensor_free(X), pn_tensor_free(S), pn_tensor_free(E), pn_tensor_free(A), pn_tensor_free(P);
  call_free(&c);
}

static void test_slice_known(void **state) {
  slice1d(10, 8, 2, -2, 3, (double[]){8, 6, 4});
  slice1d(10, -1, INT64_MIN, -1, 10, (double[]){9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  slice1d(10, 20, -20, -3, 4, (double[]){9, 6, 3, 0});
  slice1d(10, -3, INT64_MAX, 1, 3, (double[]){7, 8, 9});
  slice1d(10, 1000, 2000, 1, 0, NULL);
  slice1d(10, 2, 9, 3, 3, (double[]){2, 5, 8});
  slice1d(10, 5, 5, 1, 0, NULL);
  slice1d(10, 0, 10, INT64_MAX, 1, (double[]){0});
  slice1d(10, 9, -100, INT64_MIN, 1, (double[]){9});
  slice1d(0, 0, 10, -1, 0, NULL);

  /* the ONNX spec's examples: data [[1,2,3,4],[5,6,7,8]] */
  const int64_t d[] = {2, 4};
  double v[] = {1, 2, 3, 4, 5, 6, 7, 8};
  struct pn_tensor *X = tensor(PN_DT_INT32, 2, d, v);
  struct call c;
  call_init(&c, "Slice", 5, 1, 13);
  struct pn_tensor *S = ints(2, (int64_t[]){1, 0}), *E = ints(2, (int64_t[]){2, 3});
  struct pn_tensor *A = ints(2, (int64_t[]){0, 1}), *P = ints(2, (int64_t[]){1, 2});
  const struct pn_tensor *in[5] = {X, S, E, A, P};
  int rc;
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_shape(Y, 2, (int64_t[]){1, 2});
  assert_values(Y, 2, (double[]){5, 7});
  pn_tensor_free(Y);
  pn_tensor_free(S), pn_tensor_free(E), pn_tensor_free(A), pn_tensor_free(P);
  /* starts [0,1], ends [-1,1000], default axes and steps */
  call_omit_input(&c, 3);
  call_omit_input(&c, 4);
  S = ints(2, (int64_t[]){0, 1}), E = ints(2, (int64_t[]){-1, 1000});
  in[1] = S, in[2] = E, in[3] = NULL, in[4] = NULL;
  Y = run1(&c, in, &rc);
  assert_int_equal(rc, PN_OK);
  assert_shape(Y, 2, (int64_t[]){1, 3});
  assert_values(Y, 3, (double[]){2, 3, 4});
  pn_tensor_free(Y);
  call_free(&c);
  /* the same with opset-1 attributes, negative axis */
  call_init(&c, "Slice", 1, 1, 1);
  pn_node_set_ints(c.g, c.n, "starts", 2, (int64_t[]){1, -3});
  pn_node_set_ints(c.g, c.n, "ends", 2, (int64_t[]){1000, -1});
  pn_node_set_ints(c.g, c.n, "axes", 2, (int64_t[]){0, -1});
  Y = run1(&c, in, &rc);
  assert_int_equal(rc, PN_OK);
  assert_shape(Y, 2, (int64_t[]){1, 2});
  assert_values(Y, 2, (double[]){6, 7});
  pn_tensor_free(Y);
  call_free(&c);
  /* errors: zero step, repeated axes, length mismatch */
  call_init(&c, "Slice", 5, 1, 13);
  struct pn_tensor *A2 = ints(2, (int64_t[]){0, -1}), *P0 = ints(2, (int64_t[]){1, 0});
  in[3] = A2, in[4] = P0;
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "steps"));
  pn_tensor_free(P0);
  ((int64_t *)A2->data)[0] = 1;
  in[4] = NULL;
  call_omit_input(&c, 4);
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "repeats"));
  pn_tensor_free(A2);
  call_omit_input(&c, 3);
  in[3] = NULL;
  pn_tensor_free(E);
  E = ints(1, (int64_t[]){1});
  in[2] = E;
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  /* unknown starts: rank kept, dims unknown */
  struct pn_shape sin[5] = {{PN_DT_FLOAT, 2, {2, 4}, NULL}, {PN_DT_INT64, 1, {2}, NULL},
                            {PN_DT_INT64, 1, {2}, E}, {0, -1, {0}, NULL}, {0, -1, {0}, NULL}};
  struct pn_shape sout[1];
  assert_int_equal(call_infer(&c, sin, sout), PN_OK);
  assert_int_equal(sout[0].ndim, 2);
  assert_int_equal(sout[0].dims[0], -1);
  pn_tensor_free(S), pn_tensor_free(E), pn_tensor_free(X);
  call_free(&c);
}

/* Independent reference: the index list of one axis, following the ONNX spec's clamping. */
static int64_t slice_indices(int64_t d, int64_t s, int64_t e, int64_t step, int64_t *idx) {
  int64_t n = 0;
  if (s < 0) s += d;
  if (e < 0) e += d;
  if (step > 0) {
    if (s < 0) s = 0;
    if (s > d) s = d;
    if (e < 0) e = 0;
    if (e > d) e = d;
    for (int64_t i = s; i < e; i += step) idx[n++] = i;
  } else {
    if (s < 0) s = 0;
    if (s > d - 1) s = d - 1;
    if (e < -1) e = -1;
    if (e > d - 1) e = d - 1;
    for (int64_t i = s; i > e; i += step) idx[n++] = i;
  }
  return n;
}

static void test_slice_random(void **state) {
  for (int trial = 0; trial < 200; trial++) {
    int r = (int)irand(1, 4), na = (int)irand(1, r);
    int64_t d[4], ax[4], st[4], en[4], sp[4], perm[4] = {0, 1, 2, 3};
    for (int i = 0; i < r; i++) d[i] = irand(0, 6);
    for (int i = r - 1; i > 0; i--) {
      int j = (int)irand(0, i);
      int64_t t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
    for (int i = 0; i < na; i++) {
      ax[i] = irand(0, 1) ? perm[i] : perm[i] - r;
      st[i] = irand(-9, 9);
      en[i] = irand(0, 5) ? irand(-9, 9) : (irand(0, 1) ? INT64_MAX : INT64_MIN);
      sp[i] = irand(1, 3) * (irand(0, 1) ? 1 : -1);
    }
    struct call c;
    call_init(&c, "Slice", 5, 1, 13);
    struct pn_tensor *X = trand(PN_DT_INT64, r, d);
    struct pn_tensor *S = ints(na, st), *E = ints(na, en), *A = ints(na, ax), *P = ints(na, sp);
    const struct pn_tensor *in[5] = {X, S, E, A, P};
    int rc;
    struct pn_tensor *Y = run1(&c, in, &rc);
    assert_int_equal(rc, PN_OK);
    int64_t idx[4][16], cnt[4], oi[4];
    for (int i = 0; i < r; i++) {
      cnt[i] = d[i];
      for (int64_t k = 0; k < d[i]; k++) idx[i][k] = k;
    }
    for (int i = 0; i < na; i++) {
      int axis = (int)(ax[i] < 0 ? ax[i] + r : ax[i]);
      cnt[axis] = slice_indices(d[axis], st[i], en[i], sp[i], idx[axis]);
    }
    assert_shape(Y, r, cnt);
    int64_t n = pn_tensor_numel(Y);
    for (int64_t i = 0; i < n; i++) {
      unravel(i, r, cnt, oi);
      int64_t flat = 0;
      for (int k = 0; k < r; k++) flat = flat * d[k] + idx[k][oi[k]];
      assert_true(((int64_t *)Y->data)[i] == ((int64_t *)X->data)[flat]);
    }
    pn_tensor_free(Y);
    pn_tensor_free(X), pn_tensor_free(S), pn_tensor_free(E), pn_tensor_free(A), pn_tensor_free(P);
    call_free(&c);
  }
}

/* ---- Reshape / Flatten / Squeeze / Unsqueeze ---- */

/* Reshape X of dims d to shape s (opset 14, allowzero az); checks the data is unchanged. */
static int reshape(int nd, const int64_t *d, int ns, const int64_t *s, int64_t az, int want_nd,
                   const int64_t *want) {
  struct call c;
  call_init(&c, "Reshape", 2, 1, 14);
  if (az) pn_node_set_int(c.g, c.n, "allowzero", az);
  struct pn_tensor *X = trand(PN_DT_FLOAT, nd, d), *S = ints(ns, s);
  const struct pn_tensor *in[2] = {X, S};
  int rc;
  struct pn_tensor *Y = run1(&c, in, &rc);
  if (!rc) {
    assert_shape(Y, want_nd, want);
    assert_memory_equal(Y->data, X->data, pn_tensor_nbytes(X));
  }
  pn_tensor_free(Y), pn_tensor_free(X), pn_tensor_free(S);
  call_free(&c);
  return rc;
}

static void test_reshape(void **state) {
  const int64_t d[] = {2, 3, 4};
  assert_int_equal(reshape(3, d, 2, (int64_t[]){0, -1}, 0, 2, (int64_t[]){2, 12}), PN_OK);
  assert_int_equal(reshape(3, d, 3, (int64_t[]){4, 0, 2}, 0, 3, (int64_t[]){4, 3, 2}), PN_OK);
  assert_int_equal(reshape(3, d, 1, (int64_t[]){-1}, 0, 1, (int64_t[]){24}), PN_OK);
  assert_int_equal(reshape(3, d, 4, (int64_t[]){2, 0, 0, -1}, 0, 4, (int64_t[]){2, 3, 4, 1}), PN_OK);
  assert_int_equal(reshape(3, d, 4, (int64_t[]){-1, 1, 1, 6}, 0, 4, (int64_t[]){4, 1, 1, 6}), PN_OK);
  /* allowzero: a 0 is a real 0 */
  const int64_t z[] = {0, 3, 4};
  assert_int_equal(reshape(3, z, 3, (int64_t[]){3, 4, 0}, 1, 3, (int64_t[]){3, 4, 0}), PN_OK);
  assert_int_equal(reshape(3, z, 2, (int64_t[]){0, -1}, 1, 0, NULL), PN_ERR_INVALID);
  /* errors */
  assert_int_equal(reshape(3, d, 2, (int64_t[]){-1, -1}, 0, 0, NULL), PN_ERR_INVALID);
  assert_int_equal(reshape(3, d, 2, (int64_t[]){5, -1}, 0, 0, NULL), PN_ERR_INVALID);
  assert_int_equal(reshape(3, d, 2, (int64_t[]){5, 5}, 0, 0, NULL), PN_ERR_INVALID);
  assert_int_equal(reshape(3, d, 2, (int64_t[]){-2, 12}, 0, 0, NULL), PN_ERR_INVALID);
  assert_int_equal(reshape(3, d, 4, (int64_t[]){2, 3, 4, 0}, 0, 0, NULL), PN_ERR_INVALID);
  /* static inference: unknown shape value, unknown input dims */
  struct call c;
  call_init(&c, "Reshape", 2, 1, 14);
  struct pn_shape sin[2] = {{PN_DT_FLOAT, 3, {-1, 3, 4}, NULL}, {PN_DT_INT64, 1, {3}, NULL}};
  struct pn_shape sout[1];
  assert_int_equal(call_infer(&c, sin, sout), PN_OK);
  assert_int_equal(sout[0].ndim, 3);
  assert_int_equal(sout[0].dims[1], -1);
  struct pn_tensor *S = ints(3, (int64_t[]){0, -1, 2});
  sin[1].value = S;
  assert_int_equal(call_infer(&c, sin, sout), PN_OK);
  assert_int_equal(sout[0].ndim, 3);
  assert_int_equal(sout[0].dims[0], -1);
  assert_int_equal(sout[0].dims[1], -1);
  assert_int_equal(sout[0].dims[2], 2);
  sin[1].value = NULL;
  sin[1].ndim = -1;
  assert_int_equal(call_infer(&c, sin, sout), PN_OK);
  assert_int_equal(sout[0].ndim, -1);
  pn_tensor_free(S);
  call_free(&c);
  /* opset 1: the shape attribute */
  call_init(&c, "Reshape", 1, 1, 1);
  pn_node_set_ints(c.g, c.n, "shape", 2, (int64_t[]){6, -1});
  struct pn_shape s1[1] = {{PN_DT_FLOAT, 3, {2, 3, 4}, NULL}};
  assert_int_equal(call_infer(&c, s1, sout), PN_OK);
  assert_int_equal(sout[0].ndim, 2);
  assert_int_equal(sout[0].dims[1], 4);
  call_free(&c);
}

static void infer1(const char *op, int64_t opset, int n_in, const struct pn_shape *in,
                   const char *attr, int na, const int64_t *av, int want_rc, int want_nd,
                   const int64_t *want) {
  struct call c;
  call_init(&c, op, n_in, 1, opset);
  if (attr) pn_node_set_ints(c.g, c.n, attr, na, av);
  struct pn_shape out[1];
  int rc = call_infer(&c, in, out);
  if (rc != want_rc) printf("%s: %s\n", op, pn_errmsg(&c.ctx));
  assert_int_equal(rc, want_rc);
  if (!rc) {
    assert_int_equal(out[0].ndim, want_nd);
    for (int i = 0; i < want_nd; i++) assert_int_equal(out[0].dims[i], want[i]);
  }
  call_free(&c);
}

static void test_flatten_squeeze(void **state) {
  struct call c;
  struct pn_shape x[1] = {{PN_DT_FLOAT, 4, {2, 3, 4, 5}, NULL}};
  static const struct {
    int64_t axis;
    int rc;
    int64_t d0, d1;
  } fl[] = {{0, PN_OK, 1, 120}, {1, PN_OK, 2, 60}, {-1, PN_OK, 24, 5}, {4, PN_OK, 120, 1},
            {-4, PN_OK, 1, 120}, {5, PN_ERR_INVALID, 0, 0}, {-5, PN_ERR_INVALID, 0, 0}};
  for (size_t k = 0; k < sizeof fl / sizeof *fl; k++) {
    call_init(&c, "Flatten", 1, 1, 13);
    pn_node_set_int(c.g, c.n, "axis", fl[k].axis);
    struct pn_shape out[1];
    assert_int_equal(call_infer(&c, x, out), fl[k].rc);
    if (!fl[k].rc) {
      assert_int_equal(out[0].ndim, 2);
      assert_int_equal(out[0].dims[0], fl[k].d0);
      assert_int_equal(out[0].dims[1], fl[k].d1);
    }
    call_free(&c);
  }
  /* Flatten runs: data unchanged, int8 */
  call_init(&c, "Flatten", 1, 1, 13);
  struct pn_tensor *X = trand(PN_DT_INT8, 4, x[0].dims);
  const struct pn_tensor *in[2] = {X, NULL};
  int rc;
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_shape(Y, 2, (int64_t[]){2, 60});
  assert_memory_equal(Y->data, X->data, 120);
  pn_tensor_free(Y);
  pn_tensor_free(X);
  call_free(&c);

  /* Squeeze: opset 11 attribute, opset 13 input, all ones, negative axes, errors */
  struct pn_shape s[2] = {{PN_DT_FLOAT, 4, {1, 3, 1, 5}, NULL}, {PN_DT_INT64, 1, {1}, NULL}};
  infer1("Squeeze", 11, 1, s, "axes", 1, (int64_t[]){-2}, PN_OK, 3, (int64_t[]){1, 3, 5});
  infer1("Squeeze", 11, 1, s, NULL, 0, NULL, PN_OK, 2, (int64_t[]){3, 5});
  infer1("Squeeze", 11, 1, s, "axes", 1, (int64_t[]){1}, PN_ERR_INVALID, 0, NULL);
  infer1("Squeeze", 11, 1, s, "axes", 2, (int64_t[]){0, -4}, PN_ERR_INVALID, 0, NULL);
  infer1("Squeeze", 11, 1, s, "axes", 1, (int64_t[]){4}, PN_ERR_INVALID, 0, NULL);
  infer1("Squeeze", 13, 2, s, NULL, 0, NULL, PN_OK, 3, (int64_t[]){-1, -1, -1});
  struct pn_tensor *ax = ints(2, (int64_t[]){0, 2});
  s[1].value = ax;
  s[1].dims[0] = 2;
  infer1("Squeeze", 13, 2, s, NULL, 0, NULL, PN_OK, 2, (int64_t[]){3, 5});
  s[0].dims[1] = -1;  /* unknown dims, no axes: rank unknown */
  infer1("Squeeze", 13, 1, s, NULL, 0, NULL, PN_OK, -1, NULL);
  s[0].dims[1] = 3;
  call_init(&c, "Squeeze", 2, 1, 13);
  X = trand(PN_DT_DOUBLE, 4, s[0].dims);
  in[0] = X, in[1] = ax;
  Y = run1(&c, in, &rc);
  assert_shape(Y, 2, (int64_t[]){3, 5});
  assert_memory_equal(Y->data, X->data, 15 * sizeof(double));
  pn_tensor_free(Y);
  pn_tensor_free(ax);
  call_free(&c);

  /* Unsqueeze */
  struct pn_shape u[2] = {{PN_DT_FLOAT, 2, {3, 4}, NULL}, {PN_DT_INT64, 1, {2}, NULL}};
  infer1("Unsqueeze", 11, 1, u, "axes", 2, (int64_t[]){0, 3}, PN_OK, 4, (int64_t[]){1, 3, 4, 1});
  infer1("Unsqueeze", 11, 1, u, "axes", 2, (int64_t[]){-1, 0}, PN_OK, 4, (int64_t[]){1, 3, 4, 1});
  infer1("Unsqueeze", 11, 1, u, "axes", 3, (int64_t[]){2, 0, 4}, PN_OK, 5,
         (int64_t[]){1, 3, 1, 4, 1});
  infer1("Unsqueeze", 11, 1, u, "axes", 2, (int64_t[]){1, 1}, PN_ERR_INVALID, 0, NULL);
  infer1("Unsqueeze", 11, 1, u, "axes", 1, (int64_t[]){4}, PN_ERR_INVALID, 0, NULL);
  infer1("Unsqueeze", 11, 1, u, NULL, 0, NULL, PN_ERR_INVALID, 0, NULL);
  infer1("Unsqueeze", 13, 2, u, NULL, 0, NULL, PN_OK, 4, (int64_t[]){-1, -1, -1, -1});
  ax = ints(2, (int64_t[]){1, -1});
  u[1].value = ax;
  infer1("Unsqueeze", 13, 2, u, NULL, 0, NULL, PN_OK, 4, (int64_t[]){3, 1, 4, 1});
  pn_tensor_free(ax);
  pn_tensor_free(X);
}

/* ---- Concat / Split ---- */

static void test_concat_split(void **state) {
  static const enum pn_dtype dts[] = {PN_DT_FLOAT, PN_DT_INT64, PN_DT_UINT8, PN_DT_BOOL};
  for (int trial = 0; trial < 60; trial++) {
    int r = (int)irand(1, 4), axis = (int)irand(0, r - 1), parts = (int)irand(1, 4);
    int64_t d[4], sizes[4], pd[4][4];
    for (int i = 0; i < r; i++) d[i] = irand(1, 4);
    d[axis] = 0;
    for (int p = 0; p < parts; p++) d[axis] += sizes[p] = irand(trial % 7 ? 1 : 0, 3);
    enum pn_dtype dt = dts[trial % 4];
    struct pn_tensor *X = trand(dt, r, d);
    /* Split (opset 13, sizes as input) */
    struct call c;
    call_init(&c, "Split", 2, parts, 13);
    pn_node_set_int(c.g, c.n, "axis", irand(0, 1) ? axis : axis - r);
    struct pn_tensor *S = ints(parts, sizes);
    const struct pn_tensor *in[4] = {X, S};
    struct pn_tensor *Y[4];
    assert_int_equal(call_run(&c, in, Y), PN_OK);
    int64_t off = 0;
    for (int p = 0; p < parts; p++) {
      memcpy(pd[p], d, sizeof d);
      pd[p][axis] = sizes[p];
      assert_shape(Y[p], r, pd[p]);
      int64_t n = pn_tensor_numel(Y[p]), oi[4];
      for (int64_t i = 0; i < n; i++) {
        unravel(i, r, pd[p], oi);
        oi[axis] += off;
        int64_t flat = 0;
        for (int k = 0; k < r; k++) flat = flat * d[k] + oi[k];
        assert_true(get(Y[p], i) == get(X, flat));
      }
      off += sizes[p];
    }
    call_free(&c);
    /* Concat of the parts gives X back */
    call_init(&c, "Concat", parts, 1, 13);
    pn_node_set_int(c.g, c.n, "axis", irand(0, 1) ? axis : axis - r);
    int rc;
    struct pn_tensor *Z = run1(&c, (const struct pn_tensor *const *)Y, &rc);
    assert_int_equal(rc, PN_OK);
    assert_shape(Z, r, d);
    assert_memory_equal(Z->data, X->data, pn_tensor_nbytes(X));
    pn_tensor_free(Z);
    for (int p = 0; p < parts; p++) pn_tensor_free(Y[p]);
    pn_tensor_free(S);
    pn_tensor_free(X);
    call_free(&c);
  }
}

static void test_split_known(void **state) {
  /* [[1..6],[7..12]] split on axis 1 */
  const int64_t d[] = {2, 6};
  double v[12] = {0};
  for (int i = 0; i < 12; i++) v[i] = i + 1;
  struct pn_tensor *X = tensor(PN_DT_FLOAT, 2, d, v), *Y[4];
  const struct pn_tensor *in[2] = {X, NULL};
  struct call c;
  /* opset 11 attribute [2, 4] */
  call_init(&c, "Split", 1, 2, 11);
  pn_node_set_int(c.g, c.n, "axis", 1);
  pn_node_set_ints(c.g, c.n, "split", 2, (int64_t[]){2, 4});
  assert_int_equal(call_run(&c, in, Y), PN_OK);
  assert_values(Y[0], 4, (double[]){1, 2, 7, 8});
  assert_values(Y[1], 8, (double[]){3, 4, 5, 6, 9, 10, 11, 12});
  pn_tensor_free(Y[0]), pn_tensor_free(Y[1]);
  call_free(&c);
  /* opset 13 equal parts, middle output omitted */
  call_init(&c, "Split", 1, 3, 13);
  pn_node_set_int(c.g, c.n, "axis", -1);
  call_omit_output(&c, 1);
  assert_int_equal(call_run(&c, in, Y), PN_OK);
  assert_null(Y[1]);
  assert_values(Y[0], 4, (double[]){1, 2, 7, 8});
  assert_values(Y[2], 4, (double[]){5, 6, 11, 12});
  pn_tensor_free(Y[0]), pn_tensor_free(Y[2]);
  call_free(&c);
  /* 6 into 4 equal parts: invalid before opset 18, ceil-sized from 18 */
  call_init(&c, "Split", 1, 4, 13);
  pn_node_set_int(c.g, c.n, "axis", 1);
  assert_int_equal(call_run(&c, in, Y), PN_ERR_INVALID);
  c.opset = 18;
  assert_int_equal(call_run(&c, in, Y), PN_OK);
  assert_values(Y[0], 4, (double[]){1, 2, 7, 8});
  assert_values(Y[2], 4, (double[]){5, 6, 11, 12});
  assert_int_equal(pn_tensor_numel(Y[3]), 0);
  for (int i = 0; i < 4; i++) pn_tensor_free(Y[i]);
  call_free(&c);
  /* split sizes that do not add up, negative, wrong count */
  call_init(&c, "Split", 2, 2, 13);
  struct pn_tensor *S = ints(2, (int64_t[]){2, 3});
  in[1] = S;
  assert_int_equal(call_run(&c, in, Y), PN_ERR_INVALID);  /* axis 0 has 2 */
  pn_node_set_int(c.g, c.n, "axis", 1);
  assert_int_equal(call_run(&c, in, Y), PN_ERR_INVALID);  /* 5 != 6 */
  pn_tensor_free(S);
  S = ints(2, (int64_t[]){7, -1});
  in[1] = S;
  assert_int_equal(call_run(&c, in, Y), PN_ERR_INVALID);
  pn_tensor_free(S);
  S = ints(3, (int64_t[]){2, 2, 2});
  in[1] = S;
  assert_int_equal(call_run(&c, in, Y), PN_ERR_INVALID);
  pn_tensor_free(S);
  call_free(&c);
  /* Concat errors: mismatched dims, bad axis, missing axis */
  call_init(&c, "Concat", 2, 1, 13);
  struct pn_shape s[2] = {{PN_DT_FLOAT, 2, {2, 3}, NULL}, {PN_DT_FLOAT, 2, {3, 3}, NULL}}, out[1];
  assert_int_equal(call_infer(&c, s, out), PN_ERR_INVALID);
  pn_node_set_int(c.g, c.n, "axis", 0);
  assert_int_equal(call_infer(&c, s, out), PN_OK);
  assert_int_equal(out[0].dims[0], 5);
  s[1].dims[0] = -1;
  assert_int_equal(call_infer(&c, s, out), PN_OK);
  assert_int_equal(out[0].dims[0], -1);
  assert_int_equal(out[0].dims[1], 3);
  pn_node_set_int(c.g, c.n, "axis", 1);
  assert_int_equal(call_infer(&c, s, out), PN_OK);
  assert_int_equal(out[0].dims[0], 2);
  assert_int_equal(out[0].dims[1], 6);
  pn_node_set_int(c.g, c.n, "axis", -3);
  assert_int_equal(call_infer(&c, s, out), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "axis"));
  s[1].dtype = PN_DT_INT32;
  pn_node_set_int(c.g, c.n, "axis", 0);
  assert_int_equal(call_infer(&c, s, out), PN_ERR_INVALID);
  call_free(&c);
  pn_tensor_free(X);
}

/* ---- Gather ---- */

static void test_gather(void **state) {
  /* the spec's example, with a negative index */
  const int64_t d[] = {3, 2};
  struct pn_tensor *X = tensor(PN_DT_FLOAT, 2, d, (double[]){1, 1.25, 2.5, 3.5, 4.5, 5.75});
  struct pn_tensor *I = tensor(PN_DT_INT32, 2, (int64_t[]){2, 2}, (double[]){0, 1, -2, -1});
  struct call c;
  call_init(&c, "Gather", 2, 1, 13);
  const struct pn_tensor *in[2] = {X, I};
  int rc;
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_int_equal(rc, PN_OK);
  assert_shape(Y, 3, (int64_t[]){2, 2, 2});
  assert_values(Y, 8, (double[]){1, 1.25, 2.5, 3.5, 2.5, 3.5, 4.5, 5.75});
  pn_tensor_free(Y);
  /* out of range */
  ((int32_t *)I->data)[3] = 3;
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "index 3"));
  ((int32_t *)I->data)[3] = -4;
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  pn_tensor_free(I);
  call_free(&c);
  pn_tensor_free(X);

  for (int trial = 0; trial < 80; trial++) {
    int r = (int)irand(1, 3), q = (int)irand(0, 2);
    int64_t xd[3], id[2], od[5], oi[5];
    for (int i = 0; i < r; i++) xd[i] = irand(1, 4);
    for (int i = 0; i < q; i++) id[i] = irand(0, 3);
    int axis = (int)irand(0, r - 1);
    enum pn_dtype idt = trial & 1 ? PN_DT_INT64 : PN_DT_INT32;
    X = trand(trial & 2 ? PN_DT_DOUBLE : PN_DT_INT8, r, xd);
    I = tensor(idt, q, id, NULL);
    int64_t ni = pn_tensor_numel(I);
    for (int64_t j = 0; j < ni; j++) {
      int64_t k = irand(-xd[axis], xd[axis] - 1);
      if (idt == PN_DT_INT32) ((int32_t *)I->data)[j] = (int32_t)k;
      else ((int64_t *)I->data)[j] = k;
    }
    call_init(&c, "Gather", 2, 1, 13);
    pn_node_set_int(c.g, c.n, "axis", irand(0, 1) ? axis : axis - r);
    in[0] = X, in[1] = I;
    Y = run1(&c, in, &rc);
    assert_int_equal(rc, PN_OK);
    int nd = 0;
    for (int i = 0; i < axis; i++) od[nd++] = xd[i];
    for (int i = 0; i < q; i++) od[nd++] = id[i];
    for (int i = axis + 1; i < r; i++) od[nd++] = xd[i];
    assert_shape(Y, nd, od);
    int64_t n = pn_tensor_numel(Y);
    for (int64_t i = 0; i < n; i++) {
      unravel(i, nd, od, oi);
      int64_t ii = 0;
      for (int k = 0; k < q; k++) ii = ii * id[k] + oi[axis + k];
      int64_t k = pn_tensor_get_i64(I, ii);
      if (k < 0) k += xd[axis];
      int64_t flat = 0;
      for (int j = 0; j < r; j++) {
        int64_t x = j < axis ? oi[j] : (j == axis ? k : oi[j - 1 + q]);
        flat = flat * xd[j] + x;
      }
      assert_true(get(Y, i) == get(X, flat));
    }
    pn_tensor_free(Y), pn_tensor_free(X), pn_tensor_free(I);
    call_free(&c);
  }
  /* infer errors */
  struct pn_shape s[2] = {{PN_DT_FLOAT, 2, {3, 2}, NULL}, {PN_DT_FLOAT, 1, {2}, NULL}};
  infer1("Gather", 13, 2, s, NULL, 0, NULL, PN_ERR_INVALID, 0, NULL);
  s[1].dtype = PN_DT_INT64;
  infer1("Gather", 13, 2, s, NULL, 0, NULL, PN_OK, 2, (int64_t[]){2, 2});
  call_init(&c, "Gather", 2, 1, 13);
  pn_node_set_int(c.g, c.n, "axis", 2);
  struct pn_shape out[1];
  assert_int_equal(call_infer(&c, s, out), PN_ERR_INVALID);
  call_free(&c);
}

/* ---- Expand / Shape / Identity ---- */

static void test_expand(void **state) {
  static const struct {
    int nx;
    int64_t xd[3];
    int ns;
    int64_t s[4];
    int rc;
    int no;
    int64_t od[4];
  } cases[] = {
    {2, {3, 1}, 3, {2, 1, 6}, PN_OK, 3, {2, 3, 6}},
    {2, {3, 4}, 2, {1, 1}, PN_OK, 2, {3, 4}},
    {1, {1}, 0, {0}, PN_OK, 1, {1}},
    {0, {0}, 2, {2, 3}, PN_OK, 2, {2, 3}},
    {3, {1, 3, 1}, 4, {2, 1, 1, 5}, PN_OK, 4, {2, 1, 3, 5}},
    {2, {3, 4}, 1, {5}, PN_ERR_INVALID, 0, {0}},
    {2, {3, 4}, 2, {3, -1}, PN_ERR_INVALID, 0, {0}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    struct call c;
    call_init(&c, "Expand", 2, 1, 13);
    struct pn_tensor *X = trand(k & 1 ? PN_DT_INT32 : PN_DT_FLOAT, cases[k].nx, cases[k].xd);
    struct pn_tensor *S = ints(cases[k].ns, cases[k].s);
    const struct pn_tensor *in[2] = {X, S};
    int rc;
    struct pn_tensor *Y = run1(&c, in, &rc);
    assert_int_equal(rc, cases[k].rc);
    if (!rc) {
      assert_shape(Y, cases[k].no, cases[k].od);
      int64_t n = pn_tensor_numel(Y), oi[4];
      for (int64_t i = 0; i < n; i++) {
        unravel(i, cases[k].no, cases[k].od, oi);
        assert_true(get(Y, i) == get(X, bcast_index(cases[k].no, oi, cases[k].nx, cases[k].xd)));
      }
    }
    pn_tensor_free(Y), pn_tensor_free(X), pn_tensor_free(S);
    call_free(&c);
  }
  /* unknown shape value: rank from the shape input's length */
  struct pn_shape s[2] = {{PN_DT_FLOAT, 2, {3, 1}, NULL}, {PN_DT_INT64, 1, {3}, NULL}};
  infer1("Expand", 13, 2, s, NULL, 0, NULL, PN_OK, 3, (int64_t[]){-1, 3, -1});
}

static void test_shape_identity(void **state) {
  const int64_t d[] = {2, 3, 4, 5};
  struct pn_tensor *X = trand(PN_DT_UINT8, 4, d);
  static const struct {
    int64_t opset, start, end;
    bool has_start, has_end;
    int n;
    int64_t want[4];
  } cases[] = {
    {13, 1, 0, true, false, 4, {2, 3, 4, 5}},   /* opset 13 ignores start/end */
    {15, 0, 0, false, false, 4, {2, 3, 4, 5}},
    {15, 1, 0, true, false, 3, {3, 4, 5}},
    {15, 0, -1, false, true, 3, {2, 3, 4}},
    {15, -10, 0, true, false, 4, {2, 3, 4, 5}},
    {15, 1, 10, true, true, 3, {3, 4, 5}},
    {15, 3, 1, true, true, 0, {0}},
    {15, -1, 0, true, false, 1, {5}},
    {15, 1, 2, true, true, 1, {3}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    struct call c;
    call_init(&c, "Shape", 1, 1, cases[k].opset);
    if (cases[k].has_start) pn_node_set_int(c.g, c.n, "start", cases[k].start);
    if (cases[k].has_end) pn_node_set_int(c.g, c.n, "end", cases[k].end);
    const struct pn_tensor *in[1] = {X};
    int rc;
    struct pn_tensor *Y = run1(&c, in, &rc);
    assert_int_equal(rc, PN_OK);
    assert_int_equal(Y->dtype, PN_DT_INT64);
    assert_int_equal(Y->ndim, 1);
    assert_int_equal(Y->dims[0], cases[k].n);
    for (int i = 0; i < cases[k].n; i++) assert_int_equal(((int64_t *)Y->data)[i], cases[k].want[i]);
    pn_tensor_free(Y);
    call_free(&c);
  }
  struct pn_shape s[1] = {{PN_DT_FLOAT, -1, {0}, NULL}};
  infer1("Shape", 15, 1, s, NULL, 0, NULL, PN_OK, 1, (int64_t[]){-1});
  /* Identity: bool data copied */
  struct call c;
  call_init(&c, "Identity", 1, 1, 14);
  struct pn_tensor *B = trand(PN_DT_BOOL, 4, d);
  const struct pn_tensor *in[1] = {B};
  int rc;
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_int_equal(Y->dtype, PN_DT_BOOL);
  assert_shape(Y, 4, d);
  assert_memory_equal(Y->data, B->data, 120);
  pn_tensor_free(Y), pn_tensor_free(B), pn_tensor_free(X);
  call_free(&c);
}

/* ---- Dropout / Constant ---- */

static void test_dropout(void **state) {
  const int64_t d[] = {3, 4};
  struct pn_tensor *X = trand(PN_DT_FLOAT, 2, d), *Y[2];
  struct pn_tensor *R = scalar(PN_DT_FLOAT, 0.3), *R0 = scalar(PN_DT_FLOAT, 0);
  struct pn_tensor *T = tensor(PN_DT_BOOL, 0, NULL, (double[]){1});
  struct pn_tensor *F = tensor(PN_DT_BOOL, 0, NULL, (double[]){0});
  struct call c;
  /* opset 13 inference: identity, all-true bool mask */
  call_init(&c, "Dropout", 3, 2, 13);
  const struct pn_tensor *in[3] = {X, R, F};
  assert_int_equal(call_run(&c, in, Y), PN_OK);
  assert_memory_equal(Y[0]->data, X->data, 48);
  assert_int_equal(Y[1]->dtype, PN_DT_BOOL);
  assert_shape(Y[1], 2, d);
  for (int i = 0; i < 12; i++) assert_int_equal(((uint8_t *)Y[1]->data)[i], 1);
  pn_tensor_free(Y[0]), pn_tensor_free(Y[1]);
  /* training mode, seed 0, ratio 0.55: numpy's RandomState(0) draws 0.5488135, 0.7151894,
  ** 0.6027634, 0.5448832, 0.4236548, 0.6458941, ... so elements 1, 2, 5 are kept (scaled by 1/0.45) */
  in[2] = T;
  pn_node_set_int(c.g, c.n, "seed", 0);
  struct pn_tensor *R55 = scalar(PN_DT_FLOAT, 0.55);
  in[1] = R55;
  assert_int_equal(call_run(&c, in, Y), PN_OK);
  static const int keep[6] = {0, 1, 1, 0, 0, 1};
  const float ratio55 = 0.55f; /* the scalar is float32, compared as a double like numpy does */
  for (int i = 0; i < 6; i++) {
    assert_int_equal(((uint8_t *)Y[1]->data)[i], keep[i]);
    float want = keep[i] ? (float)(((float *)X->data)[i] / (1.0 - (double)ratio55)) : 0.0f;
    assert_true(fabsf(((float *)Y[0]->data)[i] - want) <= 1e-6f * (1 + fabsf(want)));
  }
  pn_tensor_free(Y[0]), pn_tensor_free(Y[1]);
  pn_tensor_free(R55);
  /* the same seed gives the same mask; every output is 0 or x/(1-r) */
  in[1] = R;
  struct pn_tensor *Y2[2];
  assert_int_equal(call_run(&c, in, Y), PN_OK);
  assert_int_equal(call_run(&c, in, Y2), PN_OK);
  assert_memory_equal(Y[1]->data, Y2[1]->data, 12);
  for (int i = 0; i < 12; i++) {
    float x = ((float *)X->data)[i], y = ((float *)Y[0]->data)[i];
    if (((uint8_t *)Y[1]->data)[i]) assert_true(fabsf(y - x / 0.7f) <= 1e-5f * (1 + fabsf(y)));
    else assert_true(y == 0.0f);
  }
  pn_tensor_free(Y[0]), pn_tensor_free(Y[1]), pn_tensor_free(Y2[0]), pn_tensor_free(Y2[1]);
  /* ratio 0 in training mode is the identity */
  in[1] = R0;
  assert_int_equal(call_run(&c, in, Y), PN_OK);
  assert_memory_equal(Y[0]->data, X->data, 48);
  pn_tensor_free(Y[0]), pn_tensor_free(Y[1]);
  /* ratio must be in [0, 1) */
  struct pn_tensor *R1 = scalar(PN_DT_FLOAT, 1.0);
  in[1] = R1;
  assert_int_equal(call_run(&c, in, Y), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "ratio"));
  pn_tensor_free(R1);
  call_free(&c);
  /* opset 7: ratio attribute, mask of the data's type */
  call_init(&c, "Dropout", 1, 2, 7);
  pn_node_set_float(c.g, c.n, "ratio", 0.2f);
  in[1] = in[2] = NULL;
  assert_int_equal(call_run(&c, in, Y), PN_OK);
  assert_int_equal(Y[1]->dtype, PN_DT_FLOAT);
  for (int i = 0; i < 12; i++) assert_true(((float *)Y[1]->data)[i] == 1.0f);
  pn_tensor_free(Y[0]), pn_tensor_free(Y[1]);
  pn_node_set_float(c.g, c.n, "ratio", 1.5f);
  assert_int_equal(call_run(&c, in, Y), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "ratio"));
  call_free(&c);
  pn_tensor_free(X), pn_tensor_free(R), pn_tensor_free(R0), pn_tensor_free(T), pn_tensor_free(F);
}

static void test_constant(void **state) {
  struct call c;
  int rc;
  const struct pn_tensor *in[1] = {NULL};
  /* value: an int32 tensor */
  call_init(&c, "Constant", 0, 1, 13);
  struct pn_tensor *V = tensor(PN_DT_INT32, 2, (int64_t[]){2, 2}, (double[]){1, -2, 3, -4});
  pn_node_set_tensor(c.g, c.n, "value", V);
  struct pn_tensor *Y = run1(&c, in, &rc);
  assert_int_equal(rc, PN_OK);
  assert_int_equal(Y->dtype, PN_DT_INT32);
  assert_shape(Y, 2, V->dims);
  assert_values(Y, 4, (double[]){1, -2, 3, -4});
  pn_tensor_free(Y);
  /* two values at once */
  pn_node_set_float(c.g, c.n, "value_float", 1);
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  call_free(&c);
  pn_tensor_free(V);
  call_init(&c, "Constant", 0, 1, 13);
  pn_node_set_float(c.g, c.n, "value_float", 2.5f);
  Y = run1(&c, in, &rc);
  assert_int_equal(Y->dtype, PN_DT_FLOAT);
  assert_int_equal(Y->ndim, 0);
  assert_values(Y, 1, (double[]){2.5});
  pn_tensor_free(Y);
  call_free(&c);
  call_init(&c, "Constant", 0, 1, 13);
  pn_node_set_floats(c.g, c.n, "value_floats", 3, (float[]){1, 2, 3.5f});
  Y = run1(&c, in, &rc);
  assert_int_equal(Y->dtype, PN_DT_FLOAT);
  assert_shape(Y, 1, (int64_t[]){3});
  assert_values(Y, 3, (double[]){1, 2, 3.5});
  pn_tensor_free(Y);
  call_free(&c);
  call_init(&c, "Constant", 0, 1, 13);
  pn_node_set_int(c.g, c.n, "value_int", -7);
  Y = run1(&c, in, &rc);
  assert_int_equal(Y->dtype, PN_DT_INT64);
  assert_int_equal(Y->ndim, 0);
  assert_values(Y, 1, (double[]){-7});
  pn_tensor_free(Y);
  call_free(&c);
  call_init(&c, "Constant", 0, 1, 13);
  pn_node_set_ints(c.g, c.n, "value_ints", 2, (int64_t[]){INT64_C(1) << 40, 5});
  Y = run1(&c, in, &rc);
  assert_int_equal(Y->dtype, PN_DT_INT64);
  assert_true(((int64_t *)Y->data)[0] == INT64_C(1) << 40);
  assert_true(((int64_t *)Y->data)[1] == 5);
  pn_tensor_free(Y);
  call_free(&c);
  call_init(&c, "Constant", 0, 1, 13);
  pn_node_set_string(c.g, c.n, "value_string", "hello");
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_UNSUPPORTED);
  call_free(&c);
  call_init(&c, "Constant", 0, 1, 13);
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&c.ctx), "value"));
  pn_node_set_int(c.g, c.n, "value_float", 3);  /* wrong attribute type */
  assert_null(run1(&c, in, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  call_free(&c);
}

/* ---- ReduceSum / ReduceMean ---- */

static void check_reduce(const char *op, int64_t opset, enum pn_dtype dt, int r, const int64_t *d,
                         int na, const int64_t *axes, int64_t keep, int64_t noop) {
  bool mean = !strcmp(op, "ReduceMean");
  bool axes_input = opset >= (mean ? 18 : 13);
  struct call c;
  call_init(&c, op, axes_input ? 2 : 1, 1, opset);
  if (keep != 1) pn_node_set_int(c.g, c.n, "keepdims", keep);
  if (noop) pn_node_set_int(c.g, c.n, "noop_with_empty_axes", noop);
  struct pn_tensor *A = NULL;
  if (axes_input && na >= 0) A = ints(na, axes);
  else if (axes_input) call_omit_input(&c, 1);
  else if (na >= 0) pn_node_set_ints(c.g, c.n, "axes", na, axes);
  struct pn_tensor *X = trand(dt, r, d);
  const struct pn_tensor *in[2] = {X, A};
  int rc;
  struct pn_tensor *Y = run1(&c, in, &rc);
  if (rc) printf("%s\n", pn_errmsg(&c.ctx));
  assert_int_equal(rc, PN_OK);
  bool red[8] = {false};
  /* noop_with_empty_axes exists only from the opset where axes became an input */
  if (!axes_input) noop = 0;
  bool identity = na <= 0 && noop;
  for (int i = 0; i < r; i++) red[i] = na <= 0 && !noop;
  for (int i = 0; i < na; i++) red[axes[i] < 0 ? axes[i] + r : axes[i]] = true;
  int64_t kd[8], od[8], xi[8];
  int no = 0;
  for (int i = 0; i < r; i++) {
    kd[i] = red[i] ? 1 : d[i];
    if (!red[i] || keep) od[no++] = kd[i];
  }
  if (identity) {
    assert_shape(Y, r, d);
    assert_memory_equal(Y->data, X->data, pn_tensor_nbytes(X));
  } else {
    assert_shape(Y, no, od);
    int64_t nout = pn_tensor_numel(Y), nx = pn_tensor_numel(X);
    double *sum = calloc((size_t)nout + 1, sizeof *sum);
    int64_t *cnt = calloc((size_t)nout + 1, sizeof *cnt);
    for (int64_t i = 0; i < nx; i++) {
      unravel(i, r, d, xi);
      int64_t o = 0;
      for (int k = 0; k < r; k++) o = o * kd[k] + (red[k] ? 0 : xi[k]);
      sum[o] += get(X, i);
      cnt[o]++;
    }
    for (int64_t o = 0; o < nout; o++) {
      double want = sum[o];
      if (mean) want = is_float(dt) ? want / (double)cnt[o] : trunc(want / (double)cnt[o]);
      assert_close(get(Y, o), want, is_float(dt) ? 1e-5 : 0, op, o);
    }
    free(sum);
    free(cnt);
  }
  pn_tensor_free(Y), pn_tensor_free(X), pn_tensor_free(A);
  call_free(&c);
}

static void test_reduce(void **state) {
  static const enum pn_dtype dts[] = {PN_DT_FLOAT, PN_DT_DOUBLE, PN_DT_INT32, PN_DT_INT64};
  for (int trial = 0; trial < 120; trial++) {
    int r = (int)irand(1, 4), na = (int)irand(-1, r);
    int64_t d[4], axes[4], perm[4] = {0, 1, 2, 3};
    for (int i = 0; i < r; i++) d[i] = irand(1, 4);
    for (int i = r - 1; i > 0; i--) {
      int j = (int)irand(0, i);
      int64_t t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
    for (int i = 0; i < na; i++) axes[i] = irand(0, 1) ? perm[i] : perm[i] - r;
    static const int64_t opsets[] = {11, 13, 18};
    bool mean = trial & 1;
    check_reduce(mean ? "ReduceMean" : "ReduceSum", opsets[irand(0, 2)], dts[irand(0, 3)], r, d,
                 na, axes, irand(0, 1), irand(0, 3) == 0 ? 1 : 0);
  }
  /* the parallel row path and the general path on large inputs */
  const int64_t big[] = {64, 2048}, big3[] = {32, 64, 40};
  check_reduce("ReduceMean", 13, PN_DT_FLOAT, 2, big, 1, (int64_t[]){-1}, 1, 0);
  check_reduce("ReduceSum", 13, PN_DT_FLOAT, 2, big, 1, (int64_t[]){0}, 0, 0);
  check_reduce("ReduceSum", 13, PN_DT_FLOAT, 3, big3, 2, (int64_t[]){0, 2}, 1, 0);
  /* errors: repeated/out-of-range axes, unsupported dtype */
  struct pn_shape s[2] = {{PN_DT_FLOAT, 2, {2, 3}, NULL}, {PN_DT_INT64, 1, {1}, NULL}};
  infer1("ReduceMean", 13, 1, s, "axes", 1, (int64_t[]){2}, PN_ERR_INVALID, 0, NULL);
  infer1("ReduceMean", 13, 1, s, "axes", 1, (int64_t[]){-1}, PN_OK, 2, (int64_t[]){2, 1});
  /* before opset 18 ReduceMean's axes are an attribute: a second input is an error, not ignored */
  infer1("ReduceMean", 13, 2, s, NULL, 0, NULL, PN_ERR_INVALID, 0, NULL);
  /* unknown axes input: keepdims keeps the rank, otherwise it is unknown */
  infer1("ReduceSum", 13, 2, s, NULL, 0, NULL, PN_OK, 2, (int64_t[]){-1, -1});
  s[0].dtype = PN_DT_BOOL;
  infer1("ReduceSum", 13, 1, s, NULL, 0, NULL, PN_ERR_UNSUPPORTED, 0, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_binary_random),  cmocka_unit_test(test_binary_large),
    cmocka_unit_test(test_binary_known),   cmocka_unit_test(test_binary_infer),
    cmocka_unit_test(test_pow_types),      cmocka_unit_test(test_unary_float), cmocka_unit_test(test_erf_levels),
    cmocka_unit_test(test_unary_misc),     cmocka_unit_test(test_clip),
    cmocka_unit_test(test_cast),           cmocka_unit_test(test_transpose),
    cmocka_unit_test(test_slice_known),    cmocka_unit_test(test_slice_random),
    cmocka_unit_test(test_reshape),        cmocka_unit_test(test_flatten_squeeze),
    cmocka_unit_test(test_concat_split),   cmocka_unit_test(test_split_known),
    cmocka_unit_test(test_gather),         cmocka_unit_test(test_expand),
    cmocka_unit_test(test_shape_identity), cmocka_unit_test(test_dropout),
    cmocka_unit_test(test_constant),       cmocka_unit_test(test_reduce),
  };
  return cmocka_run_group_tests(tests, setup_prg, teardown_prg);
}
