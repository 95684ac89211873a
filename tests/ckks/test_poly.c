/* test_poly.c - encrypted polynomial evaluation at N = 2^14 against plaintext: a degree-27 polynomial
** (BSGS), other degrees, SmartPAF's f1^2 o g1^2 and f2 o g3 composites, Chebyshev-basis series (the
** bootstrapping cosine) with a chosen output scale, depth and product counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks.h"
#include "ckks/poly.h"
#include "graph/paf.h"

static uint64_t g_seed = 4242;

static struct {
  struct pn_ckks_context *c;
  struct pn_ckks_sk *sk;
  struct pn_ckks_pk *pk;
  struct pn_ckks_swk *rk;
  struct pn_prg prg;
  size_t slots;
  double *x;
  struct pn_ckks_ct *ct;
} F;

/* 45 + 8 x 40 + 60 = 425 <= 438: 8 levels at scale 2^40 */
static int setup(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_params p = {.logn = 14, .nq = 9, .np = 1, .p_bits = {60}, .dnum = 9, .scale_bits = 40};
  p.q_bits[0] = 45;
  for (int i = 1; i < 9; i++) p.q_bits[i] = 40;
  if (pn_ckks_context_new(&ctx, &p, &F.c)) return -1;
  pn_prg_init_u64(&ctx, &F.prg, g_seed);
  pn_ckks_keygen_secret(&ctx, F.c, &F.prg, &F.sk);
  pn_ckks_keygen_public(&ctx, F.c, F.sk, &F.prg, &F.pk);
  pn_ckks_keygen_relin(&ctx, F.c, F.sk, &F.prg, &F.rk);
  F.slots = pn_ckks_slots(F.c);
  F.x = malloc(F.slots * sizeof *F.x);
  for (size_t i = 0; i < F.slots; i++) F.x[i] = 2 * pn_prg_double(&F.prg) - 1;
  F.x[0] = -1;
  F.x[1] = 1;
  F.x[2] = 0;
  struct pn_ckks_pt *pt = pn_ckks_pt_new(F.c);
  F.ct = pn_ckks_ct_new(F.c);
  pn_ckks_encode_real(&ctx, F.c, F.x, F.slots, pn_ckks_default_scale(F.c), -1, pt);
  int rc = pn_ckks_encrypt_pk(&ctx, F.c, F.pk, pt, &F.prg, F.ct);
  pn_ckks_pt_free(pt);
  return rc;
}

static int teardown(void **state) {
  pn_ckks_ct_free(F.ct);
  free(F.x);
  pn_ckks_swk_free(F.rk);
  pn_ckks_pk_free(F.pk);
  pn_ckks_sk_free(F.sk);
  pn_ckks_context_free(F.c);
  pn_prg_free(&F.prg);
  return 0;
}

static double horner(const double *a, int d, double x) {
  double r = a[d];
  for (int i = d - 1; i >= 0; i--) r = r * x + a[i];
  return r;
}

static double max_err_vs(const struct pn_ckks_ct *ct, double (*ref)(double, const void *), const void *arg) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_pt *pt = pn_ckks_pt_new(F.c);
  double *z = malloc(F.slots * sizeof *z), err = 0;
  assert_int_equal(pn_ckks_decrypt(&ctx, F.c, F.sk, ct, pt), PN_OK);
  assert_int_equal(pn_ckks_decode_real(&ctx, F.c, pt, z), PN_OK);
  for (size_t i = 0; i < F.slots; i++) err = fmax(err, fabs(z[i] - ref(F.x[i], arg)));
  free(z);
  pn_ckks_pt_free(pt);
  return err;
}

struct polyarg {
  const double *a;
  int d;
};
static double ref_poly(double x, const void *arg) {
  const struct polyarg *p = arg;
  return horner(p->a, p->d, x);
}

static void check_degree(int d, int dense) {
  struct pn_ctx ctx = {0};
  double a[64];
  for (int i = 0; i <= d; i++) a[i] = dense || i % 3 != 1 || i == 1 || i == d ? (2 * pn_prg_double(&F.prg) - 1) / (1 + i / 4.0) : 0;
  struct pn_ckks_ct *out = pn_ckks_ct_new(F.c);
  struct pn_poly_report rep;
  assert_int_equal(pn_ckks_poly_eval(&ctx, F.c, F.rk, F.ct, a, d, out, &rep), PN_OK);
  struct polyarg pa = {a, d};
  double err = max_err_vs(out, ref_poly, &pa);
  int opt = 0;
  while ((1 << opt) < d + 1) opt++;
  printf("  degree %2d: max error %.2e, depth %d (optimal %d), %d ct-ct products, %d scalar, baby %d\n", d, err,
         rep.depth, opt, rep.nonscalar_muls, rep.scalar_muls, rep.baby);
  assert_true(err < 1e-4);
  assert_int_equal(rep.depth, pn_ckks_poly_depth(a, d));
  assert_int_equal(out->level, F.ct->level - rep.depth);
  assert_true(rep.depth <= opt + 1);
  /* O(sqrt d) products: well below the d - 1 of a naive power ladder for larger d */
  assert_true(rep.nonscalar_muls <= 2 * (int)ceil(sqrt(d + 1.0)) + opt);
  assert_true(d < 8 || rep.nonscalar_muls < d - 1);
  assert_true(fabs(out->scale - F.ct->scale) < 1e-9 * F.ct->scale);
  pn_ckks_ct_free(out);
}

static void test_degree27(void **state) { check_degree(27, 1); }

static void test_degrees(void **state) {
  int ds[] = {1, 2, 3, 5, 15, 63};
  for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) check_degree(ds[i], i % 2);
}

struct chainarg {
  const double *const *odd;
  const int *nodd;
  int n;
};
static double ref_chain(double x, const void *arg) {
  const struct chainarg *c = arg;
  return pn_paf_chain_eval(c->odd, c->nodd, c->n, x);
}

/* A SmartPAF form's stages as a chain (graph/paf.h holds the coefficient tables). */
static int form_chain(enum pn_paf_form f, const double **odd, int *nodd) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  for (int s = 0, o = 0; s < d->n_stages; o += d->terms[s], s++) {
    odd[s] = d->base + o;
    nodd[s] = d->terms[s];
  }
  return d->n_stages;
}

static void check_chain(const double *const *odd, const int *nodd, int n, int want_depth, const char *name) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_ct *out = pn_ckks_ct_new(F.c);
  struct pn_poly_report rep;
  assert_int_equal(pn_ckks_poly_eval_odd_chain(&ctx, F.c, F.rk, F.ct, odd, nodd, n, out, &rep), PN_OK);
  struct chainarg ca = {odd, nodd, n};
  double err = max_err_vs(out, ref_chain, &ca);
  printf("  %s: max error %.2e, depth %d, %d ct-ct products\n", name, err, rep.depth, rep.nonscalar_muls);
  assert_true(err < 1e-4);
  assert_int_equal(rep.depth, want_depth);
  pn_ckks_ct_free(out);
}

static void test_f1f1g1g1(void **state) {
  /* row 0 first: g1(g1(f1(f1(x)))) */
  const double *odd[PN_PAF_MAX_STAGES];
  int nodd[PN_PAF_MAX_STAGES];
  assert_int_equal(form_chain(PN_PAF_F1G1SQ, odd, nodd), 4);
  /* plain sanity of the reference: an approximation of sign(x) */
  assert_true(pn_paf_chain_eval(odd, nodd, 4, 0.5) > 0.8);
  assert_true(pn_paf_chain_eval(odd, nodd, 4, -0.5) < -0.8);
  check_chain(odd, nodd, 4, 8, "f1^2 o g1^2");
}

static void test_f2g3(void **state) {
  const double *odd[PN_PAF_MAX_STAGES];
  int nodd[PN_PAF_MAX_STAGES];
  assert_int_equal(form_chain(PN_PAF_F2G3, odd, nodd), 2);
  check_chain(odd, nodd, 2, 6, "f2 o g3");
  /* a degree-9 stage goes through BSGS */
  const double h9[] = {1.0, -0.5, 0.25, -0.125, 0.0625};
  const double *odd2[] = {h9};
  const int n2[] = {5};
  check_chain(odd2, n2, 1, pn_ckks_poly_depth((double[]){0, 1.0, 0, -0.5, 0, 0.25, 0, -0.125, 0, 0.0625}, 9),
              "odd degree 9");
}

/* sum c_i T_i(x) with T_i(cos th) = cos(i th): a reference independent of the recurrences */
static double cheb_direct(const double *c, int d, double x) {
  const double th = acos(fmax(-1.0, fmin(1.0, x)));
  double s = 0;
  for (int i = 0; i <= d; i++) s += c[i] * cos(i * th);
  return s;
}
static double ref_cheb(double x, const void *arg) {
  const struct polyarg *p = arg;
  return cheb_direct(p->a, p->d, x);
}

/* Chebyshev series: the degree-31 interpolant of cos(12 x) (whose power-basis coefficients reach ~1e3 and
** cancel) and random degrees, each at an output scale other than the input's; against the plain sum
** sum c_i cos(i acos x), at the optimal depth ceil(log2(d + 1)) for the dense series. */
static void test_chebyshev(void **state) {
  struct pn_ctx ctx = {0};
  int ds[] = {31, 5, 12, 31};
  for (int t = 0; t < 4; t++) {
    const int d = ds[t], n = d + 1;
    double c[64];
    if (t == 0) { /* interpolation at the Chebyshev nodes */
      for (int k = 0; k <= d; k++) {
        double sum = 0;
        for (int j = 0; j < n; j++) sum += cos(12 * cos(M_PI * (j + 0.5) / n)) * cos(M_PI * k * (j + 0.5) / n);
        c[k] = (k ? 2.0 : 1.0) * sum / n;
      }
    } else {
      for (int k = 0; k <= d; k++) c[k] = (2 * pn_prg_double(&F.prg) - 1) / (1 + k / 8.0);
    }
    struct pn_ckks_ct *out = pn_ckks_ct_new(F.c);
    struct pn_poly_report rep;
    const double target = ldexp(1.0, 38 + t);
    assert_int_equal(pn_ckks_poly_eval_cheb(&ctx, F.c, F.rk, F.ct, c, d, target, out, &rep), PN_OK);
    struct polyarg pa = {c, d};
    double err = max_err_vs(out, ref_cheb, &pa);
    int opt = 0;
    while ((1 << opt) < d + 1) opt++;
    printf("  chebyshev degree %2d: max error %.2e, depth %d (optimal %d), %d ct-ct products, baby %d\n", d, err,
           rep.depth, opt, rep.nonscalar_muls, rep.baby);
    if (t == 0) {
      double e2 = 0;
      for (int i = 0; i < 2001; i++) e2 = fmax(e2, fabs(cheb_direct(c, d, -1 + i / 1000.0) - cos(12 * (-1 + i / 1000.0))));
      assert_true(e2 < 1e-9); /* the interpolant itself */
      assert_true(fabs(pn_poly_cheb_plain(c, d, 0.3) - cheb_direct(c, d, 0.3)) < 1e-12);
    }
    assert_true(err < 1e-4);
    assert_int_equal(rep.depth, opt);
    assert_int_equal(rep.depth, pn_ckks_poly_cheb_depth(c, d));
    assert_true(out->scale == target);
    pn_ckks_ct_free(out);
  }
}

static void test_errors(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_ct *low = pn_ckks_ct_new(F.c), *out = pn_ckks_ct_new(F.c);
  assert_int_equal(pn_ckks_drop_level(&ctx, F.c, F.ct, 3, low), PN_OK);
  double a[28];
  for (int i = 0; i < 28; i++) a[i] = 1.0 / (i + 1);
  assert_int_equal(pn_ckks_poly_eval(&ctx, F.c, F.rk, low, a, 27, out, NULL), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "levels"));
  const double *odd[PN_PAF_MAX_STAGES];
  int nodd[PN_PAF_MAX_STAGES];
  form_chain(PN_PAF_F1G1SQ, odd, nodd);
  assert_int_equal(pn_ckks_poly_eval_odd_chain(&ctx, F.c, F.rk, low, odd, nodd, 4, out, NULL), PN_ERR_INVALID);
  assert_int_equal(pn_ckks_poly_eval(&ctx, F.c, F.rk, F.ct, a, 0, out, NULL), PN_ERR_INVALID);
  a[3] = NAN;
  assert_int_equal(pn_ckks_poly_eval(&ctx, F.c, F.rk, F.ct, a, 5, out, NULL), PN_ERR_INVALID);
  assert_int_equal(pn_ckks_poly_depth((double[]){0, 1}, 1), 1);
  /* dense degree 7 reaches the optimum ceil(log2 8) = 3 (k = 2: ((c x) x^2 + ..) x^4 + ...) */
  assert_int_equal(pn_ckks_poly_depth((double[]){1, 1, 1, 1, 1, 1, 1, 1}, 7), 3);
  pn_ckks_ct_free(low);
  pn_ckks_ct_free(out);
}

int main(int argc, char **argv) {
  if (argc > 1) g_seed = strtoull(argv[1], NULL, 10);
  printf("test_poly seed %llu\n", (unsigned long long)g_seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_degree27), cmocka_unit_test(test_degrees), cmocka_unit_test(test_f1f1g1g1),
      cmocka_unit_test(test_f2g3),     cmocka_unit_test(test_chebyshev), cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
