/* test_kernels_extra.c - the extra ONNX ops (k_unary.c, k_logic.c, k_misc.c, k_reduce2.c) against
** naive references.
**
** Each kernel is called through pn_op_defs[op].infer/run on a node of a scratch graph, like the
** executor does. Results are compared with index-by-index references written here (numpy's
** definitions of the ops), plus hand-computed answers (Round halves, Mod signs, reflect padding,
** exclusive reverse CumSum, ...) and error cases. Randomised tests print their seed; set
** PN_TEST_SEED=<n> to replay one. */
#define PN_TEST_NAME "test_kernels_extra"
#include "kernel_harness.h"

static void assert_close(double got, double want, double tol, const char *what, int64_t i) {
  if (isnan(want) && isnan(got)) return;
  if (!(fabs(got - want) <= tol * (1 + fabs(want)))) {
    printf("%s element %" PRId64 ": got %.9g, want %.9g\n", what, i, got, want);
    fail();
  }
}

static void free_all(struct pn_tensor **t, int n) {
  for (int i = 0; i < n; i++) pn_tensor_free(t[i]);
}

/* Run a 1-output node and expect success. */
static struct pn_tensor *must_run(struct call *c, const struct pn_tensor *const *in) {
  int rc;
  struct pn_tensor *y = run1(c, in, &rc);
  if (rc) printf("run failed: %s\n", c->ctx.msg);
  assert_int_equal(rc, PN_OK);
  return y;
}

/* ---- unary ---- */

static double ref_round_half_even(double x) {
  double f = floor(x), d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return fmod(f, 2) == 0 ? f : f + 1;
}

static double ref_unary(const char *op, double x, double p0, double p1) {
  if (!strcmp(op, "Elu")) return x < 0 ? p0 * expm1(x) : x;
  if (!strcmp(op, "Selu")) return x <= 0 ? p1 * p0 * expm1(x) : p1 * x;
  if (!strcmp(op, "HardSigmoid")) return fmax(0, fmin(1, p0 * x + p1));
  if (!strcmp(op, "HardSwish")) return x * fmax(0, fmin(6, x + 3)) / 6;
  if (!strcmp(op, "Softplus")) return log(1 + exp(x));
  if (!strcmp(op, "Softsign")) return x / (1 + fabs(x));
  if (!strcmp(op, "Floor")) return floor(x);
  if (!strcmp(op, "Ceil")) return ceil(x);
  if (!strcmp(op, "Round")) return ref_round_half_even(x);
  if (!strcmp(op, "Sign")) return (x > 0) - (x < 0);
  if (!strcmp(op, "Sin")) return sin(x);
  if (!strcmp(op, "Cos")) return cos(x);
  if (!strcmp(op, "Tan")) return tan(x);
  if (!strcmp(op, "Asin")) return asin(x / 3);
  if (!strcmp(op, "Acos")) return acos(x / 3);
  if (!strcmp(op, "Atan")) return atan(x);
  if (!strcmp(op, "Sinh")) return sinh(x);
  if (!strcmp(op, "Cosh")) return cosh(x);
  if (!strcmp(op, "Asinh")) return log(x + sqrt(x * x + 1));
  if (!strcmp(op, "Acosh")) return log((fabs(x) + 1) + sqrt((fabs(x) + 1) * (fabs(x) + 1) - 1));
  if (!strcmp(op, "Atanh")) return 0.5 * log((1 + x / 3.5) / (1 - x / 3.5));
  fail_msg("no reference for %s", op);
  return 0;
}

/* Inputs in [-3, 3], mapped into each function's domain (x/3 for asin/acos, |x|+1 for acosh,
** x/3.5 for atanh) and with exact halves added for Round. */
static void test_unary_random(void **state) {
  static const char *const ops[] = {"Elu", "Selu", "HardSigmoid", "HardSwish", "Softplus",
                                    "Softsign", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos",
                                    "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh",
                                    "Acosh", "Atanh"};
  const int64_t dims[] = {3, 7, 5};
  for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
    for (int t = 0; t < 2; t++) {
      enum pn_dtype dt = t ? PN_DT_DOUBLE : PN_DT_FLOAT;
      struct call c;
      call_init(&c, ops[k], 1, 1, 13);
      double p0 = 0, p1 = 0;
      if (!strcmp(ops[k], "Elu")) p0 = 1.5, pn_node_set_float(c.g, c.n, "alpha", 1.5f);
      if (!strcmp(ops[k], "Selu")) p0 = 1.67326319217681884765625, p1 = 1.05070102214813232421875;
      if (!strcmp(ops[k], "HardSigmoid")) {
        p0 = 0.25, p1 = 0.375;
        pn_node_set_float(c.g, c.n, "alpha", 0.25f);
        pn_node_set_float(c.g, c.n, "beta", 0.375f);
      }
      struct pn_tensor *x = trand(dt, 3, dims);
      int64_t n = pn_tensor_numel(x);
      for (int64_t i = 0; i < n; i++) {
        double v = get(x, i);
        if (!strcmp(ops[k], "Asin") || !strcmp(ops[k], "Acos")) v /= 3;
        if (!strcmp(ops[k], "Acosh")) v = fabs(v) + 1;
        if (!strcmp(ops[k], "Atanh")) v /= 3.5;
        if (!strcmp(ops[k], "Round") && i % 3 == 0) v = (double)(i / 3 - 5) + 0.5;
        if (dt == PN_DT_FLOAT) ((float *)x->data)[i] = (float)v;
        else ((double *)x->data)[i] = v;
      }
      struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x});
      assert_shape(y, 3, dims);
      assert_int_equal(y->dtype, dt);
      for (int64_t i = 0; i < n; i++) {
        double v = get(x, i);
        /* undo the domain mapping: the reference takes the raw [-3, 3] scale where it maps */
        if (!strcmp(ops[k], "Asin") || !strcmp(ops[k], "Acos")) v *= 3;
        if (!strcmp(ops[k], "Acosh")) v = v - 1;
        if (!strcmp(ops[k], "Atanh")) v *= 3.5;
        assert_close(get(y, i), ref_unary(ops[k], v, p0, p1), dt == PN_DT_FLOAT ? 2e-5 : 1e-12,
                     ops[k], i);
      }
      pn_tensor_free(x);
      pn_tensor_free(y);
      call_free(&c);
    }
}

static void test_unary_known(void **state) {
  struct call c;
  int rc;
  /* Round: halves to even */
  call_init(&c, "Round", 1, 1, 11);
  struct pn_tensor *x = tensor(PN_DT_FLOAT, 1, (int64_t[]){8},
                               (double[]){0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6, 3.5});
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x});
  assert_values(y, 8, (double[]){0, 2, 2, 0, -2, 2, -3, 4});
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
  /* HardSwish(-3, 0, 3, 1) = 0, 0, 3, 2/3 */
  call_init(&c, "HardSwish", 1, 1, 14);
  x = tensor(PN_DT_FLOAT, 1, (int64_t[]){4}, (double[]){-3, 0, 3, 1});
  y = must_run(&c, (const struct pn_tensor *[]){x});
  const double hs[] = {0, 0, 3, 2.0 / 3};
  for (int i = 0; i < 4; i++) assert_close(get(y, i), hs[i], 1e-6, "HardSwish", i);
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
  /* Softplus does not overflow for large inputs */
  call_init(&c, "Softplus", 1, 1, 1);
  x = tensor(PN_DT_FLOAT, 1, (int64_t[]){3}, (double[]){200, -200, 0});
  y = must_run(&c, (const struct pn_tensor *[]){x});
  assert_close(get(y, 0), 200, 1e-7, "Softplus", 0);
  assert_close(get(y, 1), 0, 1e-7, "Softplus", 1);
  assert_close(get(y, 2), log(2), 1e-7, "Softplus", 2);
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
  /* Sign on int64; Sin on int32 is unsupported */
  call_init(&c, "Sign", 1, 1, 13);
  x = tensor(PN_DT_INT64, 1, (int64_t[]){3}, (double[]){-7, 0, 9});
  y = must_run(&c, (const struct pn_tensor *[]){x});
  assert_values(y, 3, (double[]){-1, 0, 1});
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
  call_init(&c, "Sin", 1, 1, 7);
  x = tensor(PN_DT_INT32, 1, (int64_t[]){3}, NULL);
  y = run1(&c, (const struct pn_tensor *[]){x}, &rc);
  assert_int_equal(rc, PN_ERR_UNSUPPORTED);
  assert_null(y);
  assert_non_null(strstr(c.ctx.msg, "int32"));
  pn_tensor_free(x), call_free(&c);
}

/* ---- comparisons, logic, Where ---- */

static double ref_bin(const char *op, double x, double z) {
  if (!strcmp(op, "Equal")) return x == z;
  if (!strcmp(op, "Less")) return x < z;
  if (!strcmp(op, "Greater")) return x > z;
  if (!strcmp(op, "LessOrEqual")) return x <= z;
  if (!strcmp(op, "GreaterOrEqual")) return x >= z;
  if (!strcmp(op, "And")) return x != 0 && z != 0;
  if (!strcmp(op, "Or")) return x != 0 || z != 0;
  if (!strcmp(op, "Xor")) return (x != 0) != (z != 0);
  if (!strcmp(op, "Max")) return x > z ? x : z;
  if (!strcmp(op, "Min")) return x < z ? x : z;
  fail_msg("no reference for %s", op);
  return 0;
}

/* Broadcast pairs (shapes with 1s and missing leading dims) of small-range values, so equal
** elements occur often. */
static void check_bool_bin(const char *op, enum pn_dtype dt, int nda, const int64_t *da, int ndb,
                           const int64_t *db, int nd, const int64_t *dout) {
  struct call c;
  call_init(&c, op, 2, 1, 16);
  struct pn_tensor *a = tensor(dt, nda, da, NULL), *b = tensor(dt, ndb, db, NULL);
  struct pn_tensor *ab[2] = {a, b};
  for (int k = 0; k < 2; k++) {
    int64_t n = pn_tensor_numel(ab[k]);
    for (int64_t i = 0; i < n; i++) {
      int64_t v = dt == PN_DT_BOOL ? irand(0, 1) : irand(-2, 2);
      switch (dt) {
      case PN_DT_FLOAT: ((float *)ab[k]->data)[i] = (float)v * 0.5f; break;
      case PN_DT_INT32: ((int32_t *)ab[k]->data)[i] = (int32_t)v; break;
      case PN_DT_INT64: ((int64_t *)ab[k]->data)[i] = v + (INT64_C(1) << 60); break;
      case PN_DT_INT8: ((int8_t *)ab[k]->data)[i] = (int8_t)v; break;
      default: ((uint8_t *)ab[k]->data)[i] = (uint8_t)(dt == PN_DT_BOOL ? v : v + 2); break;
      }
    }
  }
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){a, b});
  assert_shape(y, nd, dout);
  bool cmp = strcmp(op, "Max") && strcmp(op, "Min");
  assert_int_equal(y->dtype, cmp ? PN_DT_BOOL : dt);
  int64_t n = pn_tensor_numel(y), oi[PN_MAX_DIMS];
  for (int64_t i = 0; i < n; i++) {
    unravel(i, nd, dout, oi);
    int64_t ia = bcast_index(nd, oi, nda, da), ib = bcast_index(nd, oi, ndb, db);
    /* compare exactly: int64 values near 2^60 differ in their low bits only */
    double want;
    if (dt == PN_DT_INT64) {
      int64_t x = ((int64_t *)a->data)[ia], z = ((int64_t *)b->data)[ib];
      want = ref_bin(op, (double)(x - (INT64_C(1) << 60)), (double)(z - (INT64_C(1) << 60)));
      if (!cmp) want += (double)(INT64_C(1) << 60);
      if (!cmp) {
        assert_int_equal(((int64_t *)y->data)[i], !strcmp(op, "Max") ? (x > z ? x : z) : (x < z ? x : z));
        continue;
      }
    } else {
      want = ref_bin(op, get(a, ia), get(b, ib));
    }
    if (get(y, i) != want) {
      printf("%s %s element %" PRId64 ": got %g want %g\n", op, pn_dtype_name(dt), i, get(y, i), want);
      fail();
    }
  }
  pn_tensor_free(a), pn_tensor_free(b), pn_tensor_free(y), call_free(&c);
}

static void test_compare_logic(void **state) {
  static const char *const cmps[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"};
  static const enum pn_dtype dts[] = {PN_DT_FLOAT, PN_DT_INT32, PN_DT_INT64, PN_DT_INT8, PN_DT_UINT8};
  const int64_t da[] = {3, 1, 5}, db[] = {4, 1}, dout[] = {3, 4, 5};
  for (size_t k = 0; k < 5; k++)
    for (size_t t = 0; t < 5; t++) check_bool_bin(cmps[k], dts[t], 3, da, 2, db, 3, dout);
  check_bool_bin("Equal", PN_DT_BOOL, 3, da, 2, db, 3, dout);
  static const char *const logic[] = {"And", "Or", "Xor"};
  const int64_t d4a[] = {1, 4, 1, 6}, d4b[] = {3, 1, 5, 6}, d4[] = {3, 4, 5, 6};
  for (int k = 0; k < 3; k++) check_bool_bin(logic[k], PN_DT_BOOL, 4, d4a, 4, d4b, 4, d4);
  /* Less on bool and And on float are unsupported; mixed dtypes are invalid */
  struct call c;
  struct pn_shape s[2] = {{PN_DT_BOOL, 1, {3}, NULL}, {PN_DT_BOOL, 1, {3}, NULL}}, o;
  call_init(&c, "Less", 2, 1, 13);
  assert_int_equal(call_infer(&c, s, &o), PN_ERR_UNSUPPORTED);
  call_free(&c);
  s[0].dtype = s[1].dtype = PN_DT_FLOAT;
  call_init(&c, "And", 2, 1, 7);
  assert_int_equal(call_infer(&c, s, &o), PN_ERR_UNSUPPORTED);
  call_free(&c);
  s[1].dtype = PN_DT_INT32;
  call_init(&c, "Equal", 2, 1, 13);
  assert_int_equal(call_infer(&c, s, &o), PN_ERR_INVALID);
  /* unknown dims propagate through broadcasting; the output is bool */
  s[1] = (struct pn_shape){PN_DT_FLOAT, 2, {-1, 1}, NULL};
  assert_int_equal(call_infer(&c, s, &o), PN_OK);
  assert_int_equal(o.dtype, PN_DT_BOOL);
  assert_int_equal(o.ndim, 2);
  assert_int_equal(o.dims[0], -1);
  assert_int_equal(o.dims[1], 3);
  call_free(&c);
  /* Not */
  call_init(&c, "Not", 1, 1, 1);
  struct pn_tensor *x = tensor(PN_DT_BOOL, 1, (int64_t[]){3}, (double[]){1, 0, 1});
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x});
  assert_values(y, 3, (double[]){0, 1, 0});
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
}

static void test_where(void **state) {
  const int64_t dc[] = {3, 1, 5}, dx[] = {4, 1}, dy[] = {1}, dout[] = {3, 4, 5};
  enum pn_dtype dts[] = {PN_DT_FLOAT, PN_DT_INT64, PN_DT_UINT8, PN_DT_DOUBLE};
  for (int t = 0; t < 4; t++) {
    struct call c;
    call_init(&c, "Where", 3, 1, 16);
    struct pn_tensor *C = trand(PN_DT_BOOL, 3, dc), *X = trand(dts[t], 2, dx), *Y = trand(dts[t], 1, dy);
    struct pn_tensor *z = must_run(&c, (const struct pn_tensor *[]){C, X, Y});
    assert_shape(z, 3, dout);
    assert_int_equal(z->dtype, dts[t]);
    int64_t oi[3];
    for (int64_t i = 0; i < 60; i++) {
      unravel(i, 3, dout, oi);
      bool cond = ((uint8_t *)C->data)[bcast_index(3, oi, 3, dc)];
      int64_t want = cond ? pn_tensor_get_i64(X, bcast_index(3, oi, 2, dx)) : pn_tensor_get_i64(Y, 0);
      double wantf = cond ? get(X, bcast_index(3, oi, 2, dx)) : get(Y, 0);
      assert_true(get(z, i) == wantf);
      assert_true(pn_tensor_get_i64(z, i) == want);
    }
    pn_tensor_free(C), pn_tensor_free(X), pn_tensor_free(Y), pn_tensor_free(z), call_free(&c);
  }
  /* condition must be bool */
  struct call c;
  call_init(&c, "Where", 3, 1, 16);
  struct pn_shape s[3] = {{PN_DT_FLOAT, 1, {2}, NULL}, {PN_DT_FLOAT, 1, {2}, NULL},
                          {PN_DT_FLOAT, 1, {2}, NULL}}, o;
  assert_int_equal(call_infer(&c, s, &o), PN_ERR_UNSUPPORTED);
  call_free(&c);
}

/* ---- ArgMax / ArgMin ---- */

static void test_argmax(void **state) {
  const int64_t dims[] = {3, 4, 5};
  for (int op = 0; op < 2; op++)
    for (int axis = -3; axis < 3; axis++)
      for (int keep = 0; keep < 2; keep++)
        for (int last = 0; last < 2; last++) {
          enum pn_dtype dt = (axis + 3) % 2 ? PN_DT_INT32 : PN_DT_FLOAT;
          struct call c;
          call_init(&c, op ? "ArgMin" : "ArgMax", 1, 1, 13);
          pn_node_set_int(c.g, c.n, "axis", axis);
          pn_node_set_int(c.g, c.n, "keepdims", keep);
          pn_node_set_int(c.g, c.n, "select_last_index", last);
          struct pn_tensor *x = tensor(dt, 3, dims, NULL);
          for (int64_t i = 0; i < 60; i++) {   /* few distinct values: many ties */
            if (dt == PN_DT_FLOAT) ((float *)x->data)[i] = (float)irand(-2, 2);
            else ((int32_t *)x->data)[i] = (int32_t)irand(-2, 2);
          }
          struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x});
          assert_int_equal(y->dtype, PN_DT_INT64);
          int ax = axis < 0 ? axis + 3 : axis;
          int64_t od[3];
          int ond = 0;
          for (int d = 0; d < 3; d++)
            if (d != ax) od[ond++] = dims[d];
            else if (keep) od[ond++] = 1;
          assert_shape(y, ond, od);
          /* reference: scan every input element, per output position */
          int64_t kd[3] = {dims[0], dims[1], dims[2]};
          kd[ax] = 1;
          for (int64_t o = 0; o < 60 / dims[ax]; o++) {
            int64_t oi[3], best = -1;
            unravel(o, 3, kd, oi);
            double bv = 0;
            for (int64_t j = 0; j < dims[ax]; j++) {
              oi[ax] = j;
              double v = get(x, (oi[0] * dims[1] + oi[1]) * dims[2] + oi[2]);
              bool better = best < 0 || (op ? v < bv : v > bv) || (last && v == bv);
              if (better) bv = v, best = j;
            }
            assert_int_equal(pn_tensor_get_i64(y, o), best);
          }
          pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
        }
  /* hand example (ONNX's): [[2, 1], [3, 10]] argmax axis 1 -> [[0], [1]] */
  struct call c;
  call_init(&c, "ArgMax", 1, 1, 13);
  pn_node_set_int(c.g, c.n, "axis", 1);
  struct pn_tensor *x = tensor(PN_DT_FLOAT, 2, (int64_t[]){2, 2}, (double[]){2, 1, 3, 10});
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x});
  assert_shape(y, 2, (int64_t[]){2, 1});
  assert_values(y, 2, (double[]){0, 1});
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
}

/* ---- Min, Max, Sum, Mean ---- */

static void test_variadic(void **state) {
  const int64_t d0[] = {2, 1, 4}, d1[] = {3, 1}, d2[] = {1}, dout[] = {2, 3, 4};
  static const char *const ops[] = {"Min", "Max", "Sum", "Mean"};
  for (int k = 0; k < 4; k++)
    for (int t = 0; t < 2; t++) {
      enum pn_dtype dt = k < 2 ? (t ? PN_DT_INT8 : PN_DT_FLOAT) : (t ? PN_DT_DOUBLE : PN_DT_FLOAT);
      struct call c;
      call_init(&c, ops[k], 3, 1, 13);
      struct pn_tensor *x[3] = {trand(dt, 3, d0), trand(dt, 2, d1), trand(dt, 1, d2)};
      struct pn_tensor *y = must_run(&c, (const struct pn_tensor *const *)x);
      assert_shape(y, 3, dout);
      assert_int_equal(y->dtype, dt);
      int64_t oi[3];
      for (int64_t i = 0; i < 24; i++) {
        unravel(i, 3, dout, oi);
        double v[3] = {get(x[0], bcast_index(3, oi, 3, d0)), get(x[1], bcast_index(3, oi, 2, d1)),
                       get(x[2], 0)};
        double want = v[0];
        for (int j = 1; j < 3; j++)
          want = k == 0 ? fmin(want, v[j]) : k == 1 ? fmax(want, v[j]) : want + v[j];
        if (k == 3) want /= 3;
        assert_close(get(y, i), want, dt == PN_DT_FLOAT ? 1e-6 : 1e-14, ops[k], i);
      }
      free_all(x, 3), pn_tensor_free(y), call_free(&c);
    }
  /* one input: a copy; NaN propagates through Max */
  struct call c;
  call_init(&c, "Max", 2, 1, 13);
  struct pn_tensor *a = tensor(PN_DT_FLOAT, 1, (int64_t[]){3}, (double[]){1, NAN, 5});
  struct pn_tensor *b = tensor(PN_DT_FLOAT, 1, (int64_t[]){3}, (double[]){NAN, 2, 3});
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){a, b});
  assert_values(y, 3, (double[]){NAN, NAN, 5});
  pn_tensor_free(y), call_free(&c);
  call_init(&c, "Sum", 1, 1, 13);
  y = must_run(&c, (const struct pn_tensor *[]){b});
  assert_values(y, 3, (double[]){NAN, 2, 3});
  pn_tensor_free(y), call_free(&c);
  pn_tensor_free(a), pn_tensor_free(b);
  /* Sum of int32 is unsupported (float types only) */
  struct pn_shape s[2] = {{PN_DT_INT32, 1, {2}, NULL}, {PN_DT_INT32, 1, {2}, NULL}}, o;
  call_init(&c, "Sum", 2, 1, 13);
  assert_int_equal(call_infer(&c, s, &o), PN_ERR_UNSUPPORTED);
  call_free(&c);
}

/* ---- PRelu, Mod ---- */

static void test_prelu_mod(void **state) {
  /* numpy broadcast slope [5] on [3,4,5]; opset 6 channel slope [4] on [3,4,5] */
  const int64_t dx[] = {3, 4, 5};
  for (int legacy = 0; legacy < 2; legacy++) {
    struct call c;
    call_init(&c, "PRelu", 2, 1, legacy ? 6 : 16);
    int64_t ds = legacy ? 4 : 5;
    struct pn_tensor *x = trand(PN_DT_FLOAT, 3, dx), *s = trand(PN_DT_FLOAT, 1, &ds);
    struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, s});
    assert_shape(y, 3, dx);
    int64_t oi[3];
    for (int64_t i = 0; i < 60; i++) {
      unravel(i, 3, dx, oi);
      double v = get(x, i), sl = get(s, legacy ? oi[1] : oi[2]);
      assert_close(get(y, i), v < 0 ? v * sl : v, 1e-6, "PRelu", i);
    }
    pn_tensor_free(x), pn_tensor_free(s), pn_tensor_free(y), call_free(&c);
  }
  /* slope [4] on [3,4,5] does not broadcast from opset 7 */
  struct call c;
  struct pn_shape sh[2] = {{PN_DT_FLOAT, 3, {3, 4, 5}, NULL}, {PN_DT_FLOAT, 1, {4}, NULL}}, o;
  call_init(&c, "PRelu", 2, 1, 9);
  assert_int_equal(call_infer(&c, sh, &o), PN_ERR_INVALID);
  call_free(&c);

  /* Mod: ONNX's mixed-sign example, Python-style and fmod */
  const double xv[] = {-4, 7, 5, 4, -7, 8}, yv[] = {2, -3, 8, -2, 3, 5};
  const double want_mod[] = {0, -2, 5, 0, 2, 3}, want_fmod[] = {-0.0, 1, 5, 0, -1, 3};
  enum pn_dtype dts[] = {PN_DT_INT32, PN_DT_INT64, PN_DT_INT8, PN_DT_FLOAT, PN_DT_DOUBLE};
  for (int t = 0; t < 5; t++)
    for (int fm = 0; fm < 2; fm++) {
      bool isf = dts[t] == PN_DT_FLOAT || dts[t] == PN_DT_DOUBLE;
      call_init(&c, "Mod", 2, 1, 13);
      pn_node_set_int(c.g, c.n, "fmod", fm);
      int64_t d = 6;
      struct pn_tensor *x = tensor(dts[t], 1, &d, xv), *y = tensor(dts[t], 1, &d, yv);
      int rc;
      struct pn_tensor *z = run1(&c, (const struct pn_tensor *[]){x, y}, &rc);
      if (isf && !fm) {
        assert_int_equal(rc, PN_ERR_INVALID);   /* floats need fmod=1 */
      } else {
        assert_int_equal(rc, PN_OK);
        assert_values(z, 6, fm ? want_fmod : want_mod);
      }
      pn_tensor_free(x), pn_tensor_free(y), pn_tensor_free(z), call_free(&c);
    }
  /* random int32 Python-style mod against floor division; INT_MIN % -1; division by zero */
  call_init(&c, "Mod", 2, 1, 13);
  int64_t d = 64;
  struct pn_tensor *x = trand(PN_DT_INT32, 1, &d), *y = trand(PN_DT_INT32, 1, &d);
  ((int32_t *)x->data)[0] = INT32_MIN, ((int32_t *)y->data)[0] = -1;
  for (int64_t i = 1; i < d; i++)
    if (((int32_t *)y->data)[i] == 0) ((int32_t *)y->data)[i] = 3;
  struct pn_tensor *z = must_run(&c, (const struct pn_tensor *[]){x, y});
  for (int64_t i = 0; i < d; i++) {
    int64_t a = ((int32_t *)x->data)[i], b = ((int32_t *)y->data)[i];
    int64_t q = (int64_t)floor((double)a / (double)b);
    assert_int_equal(((int32_t *)z->data)[i], a - q * b);
  }
  ((int32_t *)y->data)[5] = 0;
  int rc;
  pn_tensor_free(z);
  z = run1(&c, (const struct pn_tensor *[]){x, y}, &rc);
  assert_int_equal(rc, PN_ERR_INVALID);
  assert_null(z);
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
}

/* ---- LogSoftmax, Hardmax ---- */

static void test_softmax_family(void **state) {
  const int64_t dims[] = {2, 3, 4};
  /* (opset, axis, row length, stride) : opset 13 = one axis; opset 11 = coerced 2-D */
  const struct { int64_t opset, axis, len, inner; } cfg[] = {
      {13, 1, 3, 4}, {13, -1, 4, 1}, {13, 0, 2, 12}, {11, 1, 12, 1}, {11, 0, 24, 1}, {11, 2, 4, 1}};
  for (int k = 0; k < 6; k++)
    for (int hard = 0; hard < 2; hard++) {
      struct call c;
      call_init(&c, hard ? "Hardmax" : "LogSoftmax", 1, 1, cfg[k].opset);
      pn_node_set_int(c.g, c.n, "axis", cfg[k].axis);
      struct pn_tensor *x = trand(PN_DT_FLOAT, 3, dims);
      if (hard) ((float *)x->data)[1] = ((float *)x->data)[0] = 5;   /* a tie: the first wins */
      struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x});
      assert_shape(y, 3, dims);
      int64_t len = cfg[k].len, inner = cfg[k].inner;
      for (int64_t r = 0; r < 24 / len; r++) {
        int64_t o = r / inner, i = r % inner, base = o * len * inner + i;
        double mx = -INFINITY, sum = 0;
        int64_t arg = -1;
        for (int64_t j = 0; j < len; j++)
          if (get(x, base + j * inner) > mx) mx = get(x, base + j * inner), arg = j;
        for (int64_t j = 0; j < len; j++) sum += exp(get(x, base + j * inner));
        for (int64_t j = 0; j < len; j++) {
          double want = hard ? (j == arg) : get(x, base + j * inner) - log(sum);
          assert_close(get(y, base + j * inner), want, 1e-6, hard ? "Hardmax" : "LogSoftmax", j);
        }
      }
      pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
    }
  /* opset < 13 coerces a 1-D input at the default axis 1 to [n, 1]: every row is one element */
  struct call c;
  call_init(&c, "Hardmax", 1, 1, 11);
  struct pn_tensor *x1 = tensor(PN_DT_FLOAT, 1, (int64_t[]){3}, (double[]){1, 5, 2});
  struct pn_tensor *y1 = must_run(&c, (const struct pn_tensor *[]){x1});
  assert_values(y1, 3, (double[]){1, 1, 1});
  pn_tensor_free(x1), pn_tensor_free(y1), call_free(&c);
  /* large inputs do not overflow */
  call_init(&c, "LogSoftmax", 1, 1, 13);
  struct pn_tensor *x = tensor(PN_DT_FLOAT, 1, (int64_t[]){2}, (double[]){1000, 1000});
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x});
  assert_close(get(y, 0), -log(2), 1e-6, "LogSoftmax", 0);
  assert_close(get(y, 1), -log(2), 1e-6, "LogSoftmax", 1);
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
}

/* ---- Pad ---- */

/* numpy.pad's index map for one dim. */
static int64_t ref_pad_src(int64_t c, int64_t n, int mode) {
  while (c < 0 || c >= n) {
    if (mode == 0) return -1;
    if (mode == 2) return c < 0 ? 0 : n - 1;
    if (n == 1) return 0;
    c = c < 0 ? -c : 2 * (n - 1) - c;    /* reflect about the edge element, repeatedly */
  }
  return c;
}

static void test_pad(void **state) {
  static const char *const modes[] = {"constant", "reflect", "edge"};
  const int64_t dims[] = {3, 4, 5};
  for (int m = 0; m < 3; m++)
    for (int trial = 0; trial < 6; trial++) {
      /* negative pads crop, but never past the whole dim (over-cropping is an error, checked
      ** below): redraw a dim's pair when it would */
      int64_t pads[6];
      for (int i = 0; i < 3; i++)
        do {
          pads[i] = irand(m == 0 ? -2 : -1, m == 1 ? 9 : 4);
          pads[3 + i] = irand(m == 0 ? -2 : -1, m == 1 ? 9 : 4);
        } while (dims[i] + pads[i] + pads[3 + i] < 0);
      enum pn_dtype dt = trial % 2 ? PN_DT_INT32 : PN_DT_FLOAT;
      int64_t opset = trial < 4 ? 13 : 2;
      struct call c;
      call_init(&c, "Pad", opset >= 11 ? 3 : 1, 1, opset);
      pn_node_set_string(c.g, c.n, "mode", modes[m]);
      struct pn_tensor *x = trand(dt, 3, dims), *p = ints(6, pads), *v = scalar(dt, 7);
      if (opset < 11) {
        pn_node_set_ints(c.g, c.n, "pads", 6, pads);
        pn_node_set_float(c.g, c.n, "value", 7);
      }
      int64_t od[3];
      for (int i = 0; i < 3; i++) od[i] = dims[i] + pads[i] + pads[3 + i];
      struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, p, v});
      assert_shape(y, 3, od);
      int64_t n = pn_tensor_numel(y), oi[3];
      for (int64_t i = 0; i < n; i++) {
        unravel(i, 3, od, oi);
        int64_t src = 0;
        for (int d = 0; d < 3 && src >= 0; d++) {
          int64_t s = ref_pad_src(oi[d] - pads[d], dims[d], m);
          src = s < 0 ? -1 : src * dims[d] + s;
        }
        double want = src < 0 ? 7 : get(x, src);
        if (get(y, i) != want) {
          printf("Pad %s element %" PRId64 ": got %g want %g\n", modes[m], i, get(y, i), want);
          fail();
        }
      }
      pn_tensor_free(x), pn_tensor_free(p), pn_tensor_free(v), pn_tensor_free(y), call_free(&c);
    }
  /* hand-computed: reflect [1,2,3] by 2 each side; edge; constant with omitted value = 0 */
  const double want[3][7] = {{0, 0, 1, 2, 3, 0, 0}, {3, 2, 1, 2, 3, 2, 1}, {1, 1, 1, 2, 3, 3, 3}};
  for (int m = 0; m < 3; m++) {
    struct call c;
    call_init(&c, "Pad", 2, 1, 18);
    pn_node_set_string(c.g, c.n, "mode", modes[m]);
    struct pn_tensor *x = tensor(PN_DT_FLOAT, 1, (int64_t[]){3}, (double[]){1, 2, 3});
    struct pn_tensor *p = ints(2, (int64_t[]){2, 2});
    struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, p});
    assert_values(y, 7, want[m]);
    pn_tensor_free(x), pn_tensor_free(p), pn_tensor_free(y), call_free(&c);
  }
  /* opset 18 axes input: pad only the last dim of [2,2] */
  struct call c;
  call_init(&c, "Pad", 4, 1, 18);
  call_omit_input(&c, 2);
  struct pn_tensor *x = tensor(PN_DT_FLOAT, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4});
  struct pn_tensor *p = ints(2, (int64_t[]){1, 0}), *ax = ints(1, (int64_t[]){-1});
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, p, NULL, ax});
  assert_shape(y, 2, (int64_t[]){2, 3});
  assert_values(y, 6, (double[]){0, 1, 2, 0, 3, 4});
  pn_tensor_free(y), call_free(&c);
  /* unknown pads: rank kept, dims unknown; wrong pad count and over-cropping are errors */
  struct pn_shape s[2] = {{PN_DT_FLOAT, 2, {2, 2}, NULL}, {PN_DT_INT64, 1, {4}, NULL}}, o;
  call_init(&c, "Pad", 2, 1, 13);
  assert_int_equal(call_infer(&c, s, &o), PN_OK);
  assert_int_equal(o.ndim, 2);
  assert_int_equal(o.dims[0], -1);
  s[1].value = p;
  assert_int_equal(call_infer(&c, s, &o), PN_ERR_INVALID);
  struct pn_tensor *crop = ints(4, (int64_t[]){0, -3, 0, 0});
  s[1].value = crop;
  assert_int_equal(call_infer(&c, s, &o), PN_ERR_INVALID);
  call_free(&c);
  pn_tensor_free(x), pn_tensor_free(p), pn_tensor_free(ax), pn_tensor_free(crop);
}

/* ---- Tile, Range, ConstantOfShape, Size ---- */

static void test_tile_range(void **state) {
  const int64_t dims[] = {2, 3, 4}, reps[] = {2, 1, 3};
  struct call c;
  call_init(&c, "Tile", 2, 1, 13);
  struct pn_tensor *x = trand(PN_DT_INT64, 3, dims), *r = ints(3, reps);
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, r});
  const int64_t od[] = {4, 3, 12};
  assert_shape(y, 3, od);
  for (int64_t i = 0, oi[3]; i < pn_tensor_numel(y); i++) {
    unravel(i, 3, od, oi);
    int64_t src = ((oi[0] % 2) * 3 + oi[1] % 3) * 4 + oi[2] % 4;
    assert_int_equal(((int64_t *)y->data)[i], ((int64_t *)x->data)[src]);
  }
  pn_tensor_free(y), pn_tensor_free(r);
  r = ints(2, (int64_t[]){1, 1});   /* wrong count */
  int rc;
  y = run1(&c, (const struct pn_tensor *[]){x, r}, &rc);
  assert_int_equal(rc, PN_ERR_INVALID);
  pn_tensor_free(x), pn_tensor_free(r), call_free(&c);

  /* Range: hand-computed (ONNX's examples) and the count formula on random arguments */
  call_init(&c, "Range", 3, 1, 11);
  struct pn_tensor *a[3] = {scalar(PN_DT_FLOAT, 1), scalar(PN_DT_FLOAT, 5), scalar(PN_DT_FLOAT, 2)};
  y = must_run(&c, (const struct pn_tensor *const *)a);
  assert_shape(y, 1, (int64_t[]){2});
  assert_values(y, 2, (double[]){1, 3});
  pn_tensor_free(y), free_all(a, 3);
  a[0] = scalar(PN_DT_INT32, 10), a[1] = scalar(PN_DT_INT32, 6), a[2] = scalar(PN_DT_INT32, -3);
  y = must_run(&c, (const struct pn_tensor *const *)a);
  assert_values(y, 2, (double[]){10, 7});
  pn_tensor_free(y), free_all(a, 3);
  for (int t = 0; t < 50; t++) {
    int64_t s = irand(-20, 20), l = irand(-20, 20), d = irand(-5, 5);
    if (!d) d = 1;
    a[0] = scalar(PN_DT_INT64, (double)s), a[1] = scalar(PN_DT_INT64, (double)l);
    a[2] = scalar(PN_DT_INT64, (double)d);
    y = must_run(&c, (const struct pn_tensor *const *)a);
    int64_t n = 0;
    for (int64_t v = s; d > 0 ? v < l : v > l; v += d) {
      assert_int_equal(((int64_t *)y->data)[n], v);
      n++;
    }
    assert_int_equal(pn_tensor_numel(y), n);
    pn_tensor_free(y), free_all(a, 3);
  }
  a[0] = scalar(PN_DT_INT64, 0), a[1] = scalar(PN_DT_INT64, 3), a[2] = scalar(PN_DT_INT64, 0);
  y = run1(&c, (const struct pn_tensor *const *)a, &rc);
  assert_int_equal(rc, PN_ERR_INVALID);   /* delta 0 */
  free_all(a, 3);
  /* unknown values: a 1-D output of unknown length */
  struct pn_shape s3[3] = {{PN_DT_FLOAT, 0, {0}, NULL}, {PN_DT_FLOAT, 0, {0}, NULL},
                           {PN_DT_FLOAT, 0, {0}, NULL}}, o;
  assert_int_equal(call_infer(&c, s3, &o), PN_OK);
  assert_int_equal(o.ndim, 1);
  assert_int_equal(o.dims[0], -1);
  call_free(&c);

  /* ConstantOfShape: int32 value; default float 0; unknown shape value keeps the rank */
  call_init(&c, "ConstantOfShape", 1, 1, 9);
  struct pn_tensor *v = scalar(PN_DT_INT32, -4), *shp = ints(2, (int64_t[]){2, 3});
  v->ndim = 1, v->dims[0] = 1;
  pn_node_set_tensor(c.g, c.n, "value", v);
  y = must_run(&c, (const struct pn_tensor *[]){shp});
  assert_int_equal(y->dtype, PN_DT_INT32);
  assert_shape(y, 2, (int64_t[]){2, 3});
  assert_values(y, 6, (double[]){-4, -4, -4, -4, -4, -4});
  pn_tensor_free(y);
  struct pn_shape s1 = {PN_DT_INT64, 1, {3}, NULL};
  assert_int_equal(call_infer(&c, &s1, &o), PN_OK);
  assert_int_equal(o.ndim, 3);
  assert_int_equal(o.dims[2], -1);
  call_free(&c);
  call_init(&c, "ConstantOfShape", 1, 1, 9);
  y = must_run(&c, (const struct pn_tensor *[]){shp});
  assert_int_equal(y->dtype, PN_DT_FLOAT);
  assert_values(y, 6, (double[]){0, 0, 0, 0, 0, 0});
  pn_tensor_free(y), pn_tensor_free(v), pn_tensor_free(shp), call_free(&c);
  /* Size */
  call_init(&c, "Size", 1, 1, 13);
  x = tensor(PN_DT_FLOAT, 3, dims, NULL);
  y = must_run(&c, (const struct pn_tensor *[]){x});
  assert_int_equal(y->ndim, 0);
  assert_int_equal(((int64_t *)y->data)[0], 24);
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
  /* a required input omitted with "" is an error at inference, never a NULL in run */
  static const char *const req[] = {"Size", "PRelu", "CumSum", "GatherElements", "Where"};
  for (int k = 0; k < 5; k++) {
    struct pn_shape sh[3] = {{PN_DT_FLOAT, 1, {4}, NULL}, {PN_DT_UNDEFINED, -1, {0}, NULL},
                             {PN_DT_FLOAT, 1, {4}, NULL}};
    call_init(&c, req[k], k == 4 ? 3 : 2 - (k == 0), 1, 14);
    call_omit_input(&c, k == 0 ? 0 : 1);
    if (k == 0) sh[0] = sh[1];
    assert_int_equal(call_infer(&c, sh, &o), PN_ERR_INVALID);
    call_free(&c);
  }
  /* Tile repeats whose product would overflow a dim */
  call_init(&c, "Tile", 2, 1, 13);
  struct pn_tensor *huge = ints(1, (int64_t[]){INT64_C(1) << 62});
  struct pn_shape st[2] = {{PN_DT_FLOAT, 1, {8}, NULL}, {PN_DT_INT64, 1, {1}, huge}};
  assert_int_equal(call_infer(&c, st, &o), PN_ERR_INVALID);
  pn_tensor_free(huge), call_free(&c);
}

/* ---- CumSum, GatherElements, Trilu ---- */

static void test_cumsum(void **state) {
  const int64_t dims[] = {3, 4, 5};
  for (int axis = -3; axis < 3; axis++)
    for (int fl = 0; fl < 4; fl++) {
      int excl = fl & 1, rev = fl >> 1;
      enum pn_dtype dt = axis % 2 ? PN_DT_INT32 : PN_DT_DOUBLE;
      struct call c;
      call_init(&c, "CumSum", 2, 1, 14);
      pn_node_set_int(c.g, c.n, "exclusive", excl);
      pn_node_set_int(c.g, c.n, "reverse", rev);
      struct pn_tensor *x = trand(dt, 3, dims), *ax = scalar(PN_DT_INT64, axis);
      struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, ax});
      assert_shape(y, 3, dims);
      int a = axis < 0 ? axis + 3 : axis;
      for (int64_t i = 0, oi[3]; i < 60; i++) {
        unravel(i, 3, dims, oi);
        double want = 0;
        int64_t ki[3] = {oi[0], oi[1], oi[2]};
        for (int64_t j = 0; j < dims[a]; j++) {
          bool in = rev ? (excl ? j > oi[a] : j >= oi[a]) : (excl ? j < oi[a] : j <= oi[a]);
          ki[a] = j;
          if (in) want += get(x, (ki[0] * 4 + ki[1]) * 5 + ki[2]);
        }
        assert_close(get(y, i), want, 1e-12, "CumSum", i);
      }
      pn_tensor_free(x), pn_tensor_free(ax), pn_tensor_free(y), call_free(&c);
    }
  /* hand-computed: [1..5] exclusive reverse = [14, 12, 9, 5, 0] */
  struct call c;
  call_init(&c, "CumSum", 2, 1, 14);
  pn_node_set_int(c.g, c.n, "exclusive", 1);
  pn_node_set_int(c.g, c.n, "reverse", 1);
  struct pn_tensor *x = tensor(PN_DT_FLOAT, 1, (int64_t[]){5}, (double[]){1, 2, 3, 4, 5});
  struct pn_tensor *ax = scalar(PN_DT_INT32, 0);
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, ax});
  assert_values(y, 5, (double[]){14, 12, 9, 5, 0});
  pn_tensor_free(y), pn_tensor_free(ax);
  ax = scalar(PN_DT_INT32, 1);   /* out of range */
  int rc;
  y = run1(&c, (const struct pn_tensor *[]){x, ax}, &rc);
  assert_int_equal(rc, PN_ERR_INVALID);
  pn_tensor_free(x), pn_tensor_free(ax), call_free(&c);
}

static void test_gather_elements(void **state) {
  const int64_t dd[] = {3, 4, 5}, di[] = {2, 6, 3};
  for (int axis = 0; axis < 3; axis++) {
    int64_t id[3] = {di[0], di[1], di[2]};
    for (int d = 0; d < 3; d++)
      if (d != axis && id[d] > dd[d]) id[d] = dd[d];
    struct call c;
    call_init(&c, "GatherElements", 2, 1, 13);
    pn_node_set_int(c.g, c.n, "axis", axis - 3 * (axis == 2));   /* axis 2 given as -1 */
    struct pn_tensor *x = trand(PN_DT_FLOAT, 3, dd), *ix = tensor(PN_DT_INT64, 3, id, NULL);
    int64_t n = pn_tensor_numel(ix);
    for (int64_t i = 0; i < n; i++) ((int64_t *)ix->data)[i] = irand(-dd[axis], dd[axis] - 1);
    struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, ix});
    assert_shape(y, 3, id);
    for (int64_t i = 0, oi[3]; i < n; i++) {
      unravel(i, 3, id, oi);
      int64_t k = ((int64_t *)ix->data)[i];
      oi[axis] = k < 0 ? k + dd[axis] : k;
      assert_true(get(y, i) == get(x, (oi[0] * 4 + oi[1]) * 5 + oi[2]));
    }
    ((int64_t *)ix->data)[n - 1] = dd[axis];   /* out of range */
    pn_tensor_free(y);
    int rc;
    y = run1(&c, (const struct pn_tensor *[]){x, ix}, &rc);
    assert_int_equal(rc, PN_ERR_INVALID);
    pn_tensor_free(x), pn_tensor_free(ix), call_free(&c);
  }
  /* hand example (ONNX's): data [[1,2],[3,4]], indices [[0,0],[1,0]], axis 1 -> [[1,1],[4,3]] */
  struct call c;
  call_init(&c, "GatherElements", 2, 1, 13);
  pn_node_set_int(c.g, c.n, "axis", 1);
  struct pn_tensor *x = tensor(PN_DT_INT32, 2, (int64_t[]){2, 2}, (double[]){1, 2, 3, 4});
  struct pn_tensor *ix = tensor(PN_DT_INT32, 2, (int64_t[]){2, 2}, (double[]){0, 0, 1, 0});
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, ix});
  assert_values(y, 4, (double[]){1, 1, 4, 3});
  pn_tensor_free(x), pn_tensor_free(ix), pn_tensor_free(y), call_free(&c);
}

static void test_trilu(void **state) {
  const int64_t dims[] = {2, 4, 5};
  for (int upper = 0; upper < 2; upper++)
    for (int64_t k = -6; k <= 6; k += 2) {
      struct call c;
      call_init(&c, "Trilu", 2, 1, 14);
      pn_node_set_int(c.g, c.n, "upper", upper);
      struct pn_tensor *x = trand(PN_DT_INT64, 3, dims), *kt = scalar(PN_DT_INT64, (double)k);
      struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, kt});
      for (int64_t i = 0, oi[3]; i < 40; i++) {
        unravel(i, 3, dims, oi);
        bool keep = upper ? oi[2] >= oi[1] + k : oi[2] <= oi[1] + k;
        assert_int_equal(((int64_t *)y->data)[i], keep ? ((int64_t *)x->data)[i] : 0);
      }
      pn_tensor_free(x), pn_tensor_free(kt), pn_tensor_free(y), call_free(&c);
    }
  /* hand: upper of a 3x3 of ones without k */
  struct call c;
  call_init(&c, "Trilu", 1, 1, 14);
  struct pn_tensor *x = tensor(PN_DT_FLOAT, 2, (int64_t[]){3, 3}, (double[]){1, 1, 1, 1, 1, 1, 1, 1, 1});
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x});
  assert_values(y, 9, (double[]){1, 1, 1, 0, 1, 1, 0, 0, 1});
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
  struct pn_shape s = {PN_DT_FLOAT, 1, {3}, NULL}, o;
  call_init(&c, "Trilu", 1, 1, 14);
  assert_int_equal(call_infer(&c, &s, &o), PN_ERR_INVALID);   /* rank 1 */
  call_free(&c);
}

/* ---- reductions ---- */

static double ref_reduce(const char *op, const double *v, int64_t n) {
  double acc = !strcmp(op, "ReduceMax") ? -INFINITY : !strcmp(op, "ReduceMin") ? INFINITY
             : !strcmp(op, "ReduceProd") ? 1 : 0;
  for (int64_t i = 0; i < n; i++) {
    if (!strcmp(op, "ReduceMax")) acc = fmax(acc, v[i]);
    else if (!strcmp(op, "ReduceMin")) acc = fmin(acc, v[i]);
    else if (!strcmp(op, "ReduceProd")) acc *= v[i];
    else if (!strcmp(op, "ReduceL1")) acc += fabs(v[i]);
    else if (!strcmp(op, "ReduceL2") || !strcmp(op, "ReduceSumSquare")) acc += v[i] * v[i];
    else if (!strcmp(op, "ReduceLogSum")) acc += v[i];
    else acc += exp(v[i]);
  }
  if (!strcmp(op, "ReduceL2")) return sqrt(acc);
  if (!strcmp(op, "ReduceLogSum") || !strcmp(op, "ReduceLogSumExp")) return log(acc);
  return acc;
}

static void test_reduce_extra(void **state) {
  static const char *const ops[] = {"ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                                    "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
                                    "ReduceLogSumExp"};
  const int64_t dims[] = {3, 4, 5};
  const struct { int n; int64_t ax[3]; } axsets[] = {{0, {0}}, {1, {1}}, {2, {0, 2}}, {1, {-1}},
                                                     {3, {0, 1, 2}}};
  for (int k = 0; k < 8; k++)
    for (int s = 0; s < 5; s++)
      for (int keep = 0; keep < 2; keep++)
        for (int v18 = 0; v18 < 2; v18++) {
          bool ints_ok = k < 4 || k == 5;
          enum pn_dtype dt = (s % 2 && ints_ok) ? PN_DT_INT64 : (s % 3 ? PN_DT_DOUBLE : PN_DT_FLOAT);
          struct call c;
          call_init(&c, ops[k], v18 ? 2 : 1, 1, v18 ? 18 : 13);
          pn_node_set_int(c.g, c.n, "keepdims", keep);
          if (!v18 && axsets[s].n) pn_node_set_ints(c.g, c.n, "axes", axsets[s].n, axsets[s].ax);
          struct pn_tensor *x = trand(dt, 3, dims);
          if (dt == PN_DT_INT64)
            for (int64_t i = 0; i < 60; i++) ((int64_t *)x->data)[i] = irand(-9, 9);
          if (k == 6)   /* logs of positive sums */
            for (int64_t i = 0; i < 60; i++)
              ((dt == PN_DT_FLOAT) ? (void)(((float *)x->data)[i] = fabsf(((float *)x->data)[i]) + 0.1f)
                                   : (void)(((double *)x->data)[i] = fabs(((double *)x->data)[i]) + 0.1));
          struct pn_tensor *axt = v18 && axsets[s].n ? ints(axsets[s].n, axsets[s].ax) : NULL;
          if (v18 && !axt) call_omit_input(&c, 1);
          struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, axt});
          bool red[3] = {axsets[s].n == 0, axsets[s].n == 0, axsets[s].n == 0};
          for (int j = 0; j < axsets[s].n; j++) red[(axsets[s].ax[j] + 3) % 3] = true;
          int64_t od[3], kd[3];
          int ond = 0;
          for (int d = 0; d < 3; d++) {
            kd[d] = red[d] ? 1 : dims[d];
            if (!red[d]) od[ond++] = dims[d];
            else if (keep) od[ond++] = 1;
          }
          assert_shape(y, ond, od);
          assert_int_equal(y->dtype, dt);
          int64_t nout = kd[0] * kd[1] * kd[2];
          for (int64_t o = 0; o < nout; o++) {
            int64_t oi[3], xi[3];
            double vals[60];
            int64_t nv = 0;
            unravel(o, 3, kd, oi);
            for (int64_t i = 0; i < 60; i++) {
              unravel(i, 3, dims, xi);
              bool match = true;
              for (int d = 0; d < 3; d++) match = match && (red[d] || xi[d] == oi[d]);
              if (match) vals[nv++] = get(x, i);
            }
            double want = ref_reduce(ops[k], vals, nv);
            if (dt == PN_DT_INT64) assert_int_equal(pn_tensor_get_i64(y, o), (int64_t)want);
            else assert_close(get(y, o), want, dt == PN_DT_FLOAT ? 1e-5 : 1e-12, ops[k], o);
          }
          pn_tensor_free(x), pn_tensor_free(axt), pn_tensor_free(y), call_free(&c);
        }
  /* opset 18: empty axes with noop_with_empty_axes returns the input unchanged (L2 of -2 is -2) */
  struct call c;
  call_init(&c, "ReduceL2", 2, 1, 18);
  pn_node_set_int(c.g, c.n, "noop_with_empty_axes", 1);
  call_omit_input(&c, 1);
  struct pn_tensor *x = tensor(PN_DT_FLOAT, 1, (int64_t[]){2}, (double[]){-2, 3});
  struct pn_tensor *y = must_run(&c, (const struct pn_tensor *[]){x, NULL});
  assert_values(y, 2, (double[]){-2, 3});
  pn_tensor_free(y), call_free(&c);
  /* LogSumExp of large values does not overflow; empty Max is -inf */
  call_init(&c, "ReduceLogSumExp", 1, 1, 13);
  pn_tensor_free(x);
  x = tensor(PN_DT_FLOAT, 1, (int64_t[]){2}, (double[]){1000, 1000});
  y = must_run(&c, (const struct pn_tensor *[]){x});
  assert_close(get(y, 0), 1000 + log(2), 1e-6, "ReduceLogSumExp", 0);
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
  call_init(&c, "ReduceMax", 1, 1, 13);
  pn_node_set_ints(c.g, c.n, "axes", 1, (int64_t[]){1});
  x = tensor(PN_DT_FLOAT, 2, (int64_t[]){2, 0}, NULL);
  y = must_run(&c, (const struct pn_tensor *[]){x});
  assert_shape(y, 2, (int64_t[]){2, 1});
  assert_values(y, 2, (double[]){-INFINITY, -INFINITY});
  pn_tensor_free(x), pn_tensor_free(y), call_free(&c);
  /* errors: L2 of int32 unsupported; duplicate-free but out-of-range axis; axes input before 18 */
  struct pn_shape s[2] = {{PN_DT_INT32, 2, {2, 3}, NULL}, {PN_DT_INT64, 1, {1}, NULL}}, o;
  call_init(&c, "ReduceL2", 1, 1, 13);
  assert_int_equal(call_infer(&c, s, &o), PN_ERR_UNSUPPORTED);
  call_free(&c);
  s[0].dtype = PN_DT_FLOAT;
  call_init(&c, "ReduceMin", 1, 1, 13);
  pn_node_set_ints(c.g, c.n, "axes", 1, (int64_t[]){2});
  assert_int_equal(call_infer(&c, s, &o), PN_ERR_INVALID);
  call_free(&c);
  call_init(&c, "ReduceProd", 2, 1, 13);
  assert_int_equal(call_infer(&c, s, &o), PN_ERR_INVALID);
  call_free(&c);
  /* unknown axes input at opset 18: keepdims keeps the rank with unknown dims */
  call_init(&c, "ReduceMax", 2, 1, 18);
  assert_int_equal(call_infer(&c, s, &o), PN_OK);
  assert_int_equal(o.ndim, 2);
  assert_int_equal(o.dims[0], -1);
  call_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_unary_random),   cmocka_unit_test(test_unary_known),
    cmocka_unit_test(test_compare_logic),  cmocka_unit_test(test_where),
    cmocka_unit_test(test_argmax),         cmocka_unit_test(test_variadic),
    cmocka_unit_test(test_prelu_mod),      cmocka_unit_test(test_softmax_family),
    cmocka_unit_test(test_pad),            cmocka_unit_test(test_tile_range),
    cmocka_unit_test(test_cumsum),         cmocka_unit_test(test_gather_elements),
    cmocka_unit_test(test_trilu),          cmocka_unit_test(test_reduce_extra),
  };
  return cmocka_run_group_tests(tests, setup_prg, teardown_prg);
}
