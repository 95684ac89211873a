/* test_paf.c - SmartPAF forms and kernels: degrees, depths and errors of every form against values
** computed here independently, the Remez routine against the published minimax tables, the float
** kernels against a double-precision reimplementation of paf.h's semantics, and their gradients
** (input and every coefficient) against central finite differences of that reimplementation.
** The seed is printed; PN_TEST_SEED=S replays a run (tests/pn_test.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/paf.h"
#include "pn_test.h"
#include "util/util.h"

static uint64_t g_seed = 1;
static struct pn_prg g_prg;

static double urand(double lo, double hi) { return lo + (hi - lo) * pn_prg_double(&g_prg); }

/* ---- independent references ---- */

/* Stage k of form f with coefficients c (double), Horner-free: sum c_j z^(2j+1) by powers. */
static double ref_stage(const double *c, int n, double z) {
  double s = 0, p = z;
  for (int j = 0; j < n; j++, p *= z * z) s += c[j] * p;
  return s;
}

static double ref_sign(enum pn_paf_form f, const double *c, double x) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  for (int s = 0, o = 0; s < d->n_stages; o += d->terms[s], s++) x = ref_stage(c + o, d->terms[s], x);
  return x;
}

/* The composite polynomial in the power basis: out[0..deg] (deg returned). */
static int compose(enum pn_paf_form f, double *out, int cap) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  double *cur = calloc((size_t)cap, sizeof *cur), *acc = calloc((size_t)cap, sizeof *acc),
         *pw = calloc((size_t)cap, sizeof *pw), *tmp = calloc((size_t)cap, sizeof *tmp);
  int deg = 1;
  cur[1] = 1; /* x */
  for (int s = 0, o = 0; s < d->n_stages; o += d->terms[s], s++) {
    /* acc = sum_j c_j cur^(2j+1) */
    memset(acc, 0, sizeof *acc * (size_t)cap);
    memcpy(pw, cur, sizeof *pw * (size_t)cap); /* cur^1 */
    int pdeg = deg, ndeg = 0;
    for (int j = 0; j < d->terms[s]; j++) {
      for (int i = 0; i <= pdeg; i++) acc[i] += d->base[o + j] * pw[i];
      if (pdeg > ndeg) ndeg = pdeg;
      /* pw *= cur^2 */
      for (int r = 0; r < 2; r++) {
        memset(tmp, 0, sizeof *tmp * (size_t)cap);
        for (int a = 0; a <= pdeg; a++)
          for (int b = 0; b <= deg; b++)
            if (a + b < cap) tmp[a + b] += pw[a] * cur[b];
        pdeg += deg;
        memcpy(pw, tmp, sizeof *pw * (size_t)cap);
      }
    }
    memcpy(cur, acc, sizeof *cur * (size_t)cap);
    deg = ndeg;
  }
  while (deg > 0 && cur[deg] == 0) deg--;
  memcpy(out, cur, sizeof *out * (size_t)cap);
  free(cur);
  free(acc);
  free(pw);
  free(tmp);
  return deg;
}

static void test_form_table(void **state) {
  /* the depths the SmartPAF paper and Lee et al. give for the sign composites */
  static const int paper_depth[PN_PAF_FORM_COUNT] = {5, 6, 6, 6, 8, 10};
  /* max ReLU error of the base coefficients on [-1, 1], from the reference notes */
  static const double ref_err[PN_PAF_FORM_COUNT] = {0.086, 0.072, 0.126, 0.0076, 0.048, -1};
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++) {
    const struct pn_paf_form_def *d = pn_paf_form_def(f);
    assert_non_null(d);
    assert_int_equal(pn_paf_form_parse(d->name), f);
    int n = 0, prod = 1, depth = 0;
    for (int s = 0; s < d->n_stages; s++) {
      int deg = 2 * d->terms[s] - 1, lv = 0;
      while ((1 << lv) < deg + 1) lv++;
      n += d->terms[s];
      prod *= deg;
      depth += lv;
    }
    assert_int_equal(pn_paf_n_coeffs(f), n);
    assert_int_equal(pn_paf_degree(f), prod);
    assert_int_equal(pn_paf_sign_depth(f), depth);
    assert_int_equal(pn_paf_sign_depth(f), paper_depth[f]);
    assert_int_equal(pn_paf_relu_depth(f, true), depth + 1);
    assert_int_equal(pn_paf_relu_depth(f, false), depth + 2);
    /* the degree of the composite polynomial itself, and its values against the stage chain */
    static double poly[700];
    int deg = compose(f, poly, 700);
    assert_int_equal(deg, pn_paf_degree(f));
    for (int i = 0; i <= deg; i += 2) assert_true(poly[i] == 0); /* odd */
    if (f != PN_PAF_MINIMAX27) /* degree 637 in the power basis is too ill-conditioned to evaluate */
      for (double x = -1; x <= 1; x += 0.125) {
        double v = 0, mag = 0; /* mag: the size of the terms, for the rounding bound */
        for (int i = deg; i >= 0; i--) {
          v = v * x + poly[i];
          mag += fabs(poly[i] * pow(x, i));
        }
        assert_true(fabs(v - pn_paf_sign(f, NULL, x)) <= 1e-12 * (1 + mag));
      }
    /* error on [-1, 1]: our grid of 400001 points against the library's refined search */
    double e = 0;
    for (int i = 0; i <= 400000; i++) {
      double x = -1 + i * 5e-6, r = x > 0 ? x : 0;
      e = fmax(e, fabs(0.5 * (x + x * ref_sign(f, d->base, x)) - r));
    }
    double lib = pn_paf_relu_max_error(f, NULL, 20000);
    printf("  %-10s degree %3d (sum %2d), depth %2d, ReLU max error on [-1,1] %.5f (grid %.5f)\n", d->name,
           pn_paf_degree(f), pn_paf_degree_sum(f), depth, lib, e);
    assert_true(lib >= e - 1e-12 && lib - e < 1e-6);
    if (ref_err[f] > 0) assert_true(fabs(lib - ref_err[f]) < 6e-4);
  }
  assert_int_equal(pn_paf_form_parse("relu"), -1);
  assert_int_equal(pn_paf_form_parse(NULL), -1);
  assert_null(pn_paf_form_def(PN_PAF_FORM_COUNT));
  /* max trees: the reference notes' 2x2 -> depth 2, 3x3 -> depth 4 (8 max) */
  assert_int_equal(pn_paf_tree_levels(4), 2);
  assert_int_equal(pn_paf_tree_levels(9), 4);
  assert_int_equal(pn_paf_tree_levels(1), 0);
  assert_int_equal(pn_paf_maxpool_depth(PN_PAF_F1G2, 4, true), 2 * 6);
}

/* The published alpha = 7 and alpha = 10 composites are the stage-wise minimax ones: recover the
** interval from stage 1 (its error equioscillates down to eps: p1(eps) = p1(1)) and recompute. */
static void check_minimax(enum pn_paf_form f) {
  struct pn_ctx ctx = {0};
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  double low = ref_stage(d->base, d->terms[0], 1.0), lo = 0, hi = 0.2;
  for (int it = 0; it < 200; it++) {
    double m = 0.5 * (lo + hi);
    if (ref_stage(d->base, d->terms[0], m) < low) lo = m;
    else hi = m;
  }
  double c[PN_PAF_MAX_COEFFS], err;
  assert_int_equal(pn_paf_remez_composite(&ctx, d->n_stages, d->terms, lo, c, &err), PN_OK);
  double worst = 0;
  for (int i = 0; i < pn_paf_n_coeffs(f); i++) worst = fmax(worst, fabs(c[i] - d->base[i]) / fabs(d->base[i]));
  double sign_err = pn_paf_sign_max_error(f, NULL, lo, 20000);
  printf("  %-10s eps %.6f: Remez coefficients within %.1e (relative) of the table; sign error on "
         "[eps, 1] %.2e = 2^%.2f (Remez %.2e)\n", d->name, lo, worst, sign_err, log2(sign_err), err);
  assert_true(worst < 1e-5);
  assert_true(fabs(sign_err - err) < 1e-6);
}

static void test_remez(void **state) {
  check_minimax(PN_PAF_ALPHA7);
  check_minimax(PN_PAF_MINIMAX27);
  /* alpha = 7 reaches 2^-6 on [eps, 1], alpha = 10 reaches 2^-9 */
  struct pn_ctx ctx = {0};
  double c[8], err;
  /* degree 1 on [a, b]: c x with c = 2/(a+b), error (b-a)/(b+a) */
  assert_int_equal(pn_paf_remez_odd(&ctx, 1, 0.25, 1.0, c, &err), PN_OK);
  assert_true(fabs(c[0] - 2 / 1.25) < 1e-12 && fabs(err - 0.75 / 1.25) < 1e-12);
  assert_int_equal(pn_paf_remez_odd(&ctx, 0, 0.1, 1, c, &err), PN_ERR_INVALID);
  assert_int_equal(pn_paf_remez_odd(&ctx, 3, 0.5, 0.4, c, &err), PN_ERR_INVALID);
  assert_int_equal(pn_paf_remez_odd(&ctx, 9, 0.1, 1, c, &err), PN_ERR_INVALID);
}

/* ---- kernels against a double reimplementation ----
** Float32 evaluation of a composite loses accuracy with the size of its coefficients and slopes:
** alpha7 (coefficients up to 60, slope 17.5 at 0) about one digit more than the f/g forms,
** minimax27 (up to 114, slope 148, a degree-13 last stage) about two. The tolerances scale so
** (measured worst over 60 seeds: 2.4e-5, 3.6e-4 and 5.4e-3 for the coefficient gradients); a wrong
** derivative term gives O(1) errors. */
static double tol(enum pn_paf_form f, double base) {
  return f == PN_PAF_MINIMAX27 ? 100 * base : f == PN_PAF_ALPHA7 ? 10 * base : base;
}

struct ref_pool {
  int64_t nc, h, w, kh, kw, sh, sw, pt, pl, pb, pr, oh, ow;
};

static double ref_relu(enum pn_paf_form f, const double *c, double s, double gain, double x) {
  return gain * (x + x * ref_sign(f, c, x / s));
}

static double ref_max(enum pn_paf_form f, const double *c, double s, double a, double b) {
  return 0.5 * ((a + b) + (a - b) * ref_sign(f, c, (a - b) / s));
}

/* one window's halving tree, written again here */
static double ref_tree(enum pn_paf_form f, const double *c, double s, double *v, int n) {
  while (n > 1) {
    int m = 0;
    for (int i = 0; i + 1 < n; i += 2) v[m++] = ref_max(f, c, s, v[i], v[i + 1]);
    if (n & 1) v[m++] = v[n - 1];
    n = m;
  }
  return v[0];
}

static void ref_pool_fwd(enum pn_paf_form f, const double *c, double s, const struct ref_pool *p,
                         const double *x, double *y) {
  for (int64_t pl = 0; pl < p->nc; pl++)
    for (int64_t oh = 0; oh < p->oh; oh++)
      for (int64_t ow = 0; ow < p->ow; ow++) {
        double v[64];
        int n = 0;
        for (int64_t i = 0; i < p->kh; i++)
          for (int64_t j = 0; j < p->kw; j++) {
            int64_t ih = oh * p->sh - p->pt + i, iw = ow * p->sw - p->pl + j;
            v[n++] = ih >= 0 && ih < p->h && iw >= 0 && iw < p->w ? x[(pl * p->h + ih) * p->w + iw] : 0.0;
          }
        y[(pl * p->oh + oh) * p->ow + ow] = ref_tree(f, c, s, v, n);
      }
}

/* The base coefficients moved at random by at most 0.02 / sum |c| (relative) per stage, so a stage
** moves by at most 0.02 on [-1, 1]: alpha7 and minimax27 explode when moved further (minimax27's
** stage 1 sums coefficients of size 250). */
static void random_coeffs(enum pn_paf_form f, double *c, float *cf) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  for (int s = 0, o = 0; s < d->n_stages; o += d->terms[s], s++) {
    double sum = 0;
    for (int j = 0; j < d->terms[s]; j++) sum += fabs(d->base[o + j]);
    for (int j = 0; j < d->terms[s]; j++) {
      cf[o + j] = (float)(d->base[o + j] * (1 + urand(-0.02, 0.02) / sum));
      c[o + j] = cf[o + j];
    }
  }
}

/* loss = sum w_i y_i; FD of the double reference against the float kernel's gradient */
static void test_relu_grad(void **state) {
  enum { N = 300 };
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++) {
    for (int mode = 0; mode < 2; mode++) { /* 0 static, 1 dynamic */
      double c[PN_PAF_MAX_COEFFS];
      float cf[PN_PAF_MAX_COEFFS], x[N], y[N], w[N], dx[N];
      double dc[PN_PAF_MAX_COEFFS] = {0}, xd[N];
      random_coeffs(f, c, cf);
      float gain = (float)urand(0.3, 1.5);
      for (int i = 0; i < N; i++) {
        x[i] = (float)urand(-3, 3);
        /* minimax27 is steep below |t| = 0.02 (slope 25..148), where float32 cannot resolve the
        ** second derivatives a finite difference sees: keep the test inputs outside it */
        if (f == PN_PAF_MINIMAX27 && fabsf(x[i]) < 0.15f) x[i] = x[i] < 0 ? -0.15f - x[i] : 0.15f + x[i];
        xd[i] = x[i];
        w[i] = (float)urand(-1, 1);
        dx[i] = 0.25f; /* backward accumulates */
      }
      float s = mode ? pn_paf_dynamic_scale(x, N) : (float)urand(3, 4);
      if (mode) { /* the dynamic scale is max |x| */
        double m = 0;
        for (int i = 0; i < N; i++) m = fmax(m, fabs(xd[i]));
        assert_true((float)m == s);
      }
      struct pn_paf_eval e;
      pn_paf_eval_init(&e, f, cf);
      pn_paf_relu_forward(&e, s, gain, x, y, N);
      double worst = 0;
      for (int i = 0; i < N; i++) {
        double r = ref_relu(f, c, s, gain, xd[i]);
        worst = fmax(worst, fabs(y[i] - r) / (1 + fabs(r)));
      }
      assert_true(worst < tol(f, 1e-5));
      pn_paf_relu_backward(&e, s, gain, x, w, dx, dc, N);
      /* input: central differences per element (s held constant, as the kernel defines) */
      double gworst = 0;
      for (int i = 0; i < N; i++) {
        double h = 1e-5 * fmax(1, fabs(xd[i]));
        double g = w[i] * (ref_relu(f, c, s, gain, xd[i] + h) - ref_relu(f, c, s, gain, xd[i] - h)) / (2 * h);
        gworst = fmax(gworst, fabs((dx[i] - 0.25) - g) / (1 + fabs(g)));
      }
      /* coefficients */
      double cworst = 0;
      for (int k = 0; k < pn_paf_n_coeffs(f); k++) {
        double h = 1e-6 * fmax(1, fabs(c[k])), lp = 0, lm = 0, ck = c[k];
        c[k] = ck + h;
        for (int i = 0; i < N; i++) lp += w[i] * ref_relu(f, c, s, gain, xd[i]);
        c[k] = ck - h;
        for (int i = 0; i < N; i++) lm += w[i] * ref_relu(f, c, s, gain, xd[i]);
        c[k] = ck;
        double g = (lp - lm) / (2 * h);
        cworst = fmax(cworst, fabs(dc[k] - g) / (1 + fabs(g)));
      }
      if (gworst > tol(f, 2e-4) || cworst > tol(f, 2e-4))
        printf("  %s %s: forward %.1e, d/dx %.1e, d/dc %.1e\n", pn_paf_form_name(f), mode ? "dynamic" : "static",
               worst, gworst, cworst);
      assert_true(gworst < tol(f, 2e-4));
      assert_true(cworst < tol(f, 2e-4));
    }
  }
}

static void run_pool_case(enum pn_paf_form f, const struct ref_pool *p, bool dyn) {
  int64_t nx = p->nc * p->h * p->w, ny = p->nc * p->oh * p->ow;
  float *x = malloc(sizeof *x * (size_t)nx), *y = malloc(sizeof *y * (size_t)ny);
  float *w = malloc(sizeof *w * (size_t)ny), *dx = calloc((size_t)nx, sizeof *dx);
  double *xd = malloc(sizeof *xd * (size_t)nx), *yd = malloc(sizeof *yd * (size_t)ny);
  double c[PN_PAF_MAX_COEFFS], dc[PN_PAF_MAX_COEFFS] = {0};
  float cf[PN_PAF_MAX_COEFFS];
  random_coeffs(f, c, cf);
  /* inputs after a ReLU (> 0), distinct within a plane (gaps of 2/(hw+1)): near-ties put a steep
  ** form (minimax27's slope at 0 is 148) where float32 cannot resolve what a finite difference in
  ** double sees */
  int64_t hw = p->h * p->w, *perm = malloc(sizeof *perm * (size_t)hw);
  for (int64_t pl = 0; pl < p->nc; pl++) {
    for (int64_t i = 0; i < hw; i++) perm[i] = i;
    for (int64_t i = hw - 1; i > 0; i--) {
      int64_t j = (int64_t)(pn_prg_double(&g_prg) * (double)(i + 1)), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    for (int64_t i = 0; i < hw; i++) xd[pl * hw + i] = x[pl * hw + i] = (float)(2.0 * ((double)perm[i] + 1) / (double)(hw + 1));
  }
  free(perm);
  for (int64_t i = 0; i < ny; i++) w[i] = (float)urand(-1, 1);
  /* a tree's later levels compare approximate maxima, which may exceed max |x| by the form's
  ** error: alpha7 and minimax27 turn wrong just past t = 1, so they get a static scale with margin */
  if (f == PN_PAF_ALPHA7 || f == PN_PAF_MINIMAX27) dyn = false;
  float s = dyn ? pn_paf_dynamic_scale(x, nx) : 2.5f;
  struct pn_paf_eval e;
  pn_paf_eval_init(&e, f, cf);
  struct pn_paf_pool g = {p->nc, p->h, p->w, p->oh, p->ow, p->kh, p->kw, p->sh, p->sw, p->pt, p->pl};
  pn_paf_maxpool_forward(&e, &g, s, x, y);
  ref_pool_fwd(f, c, s, p, xd, yd);
  double worst = 0;
  for (int64_t i = 0; i < ny; i++) worst = fmax(worst, fabs(y[i] - yd[i]) / (1 + fabs(yd[i])));
  assert_true(worst < tol(f, 1e-5));
  pn_paf_maxpool_backward(&e, &g, s, x, w, dx, dc);
  /* central differences of loss = sum w y, moving one input (*v = xd[i]) or one coefficient */
  double gworst = 0, cworst = 0;
  for (int64_t i = 0; i < nx + pn_paf_n_coeffs(f); i++) {
    bool is_x = i < nx;
    double *v = is_x ? &xd[i] : &c[i - nx], v0 = *v, h = is_x ? 1e-5 : 1e-6 * fmax(1, fabs(v0)), l[2] = {0, 0};
    for (int side = 0; side < 2; side++) {
      *v = v0 + (side ? -h : h);
      ref_pool_fwd(f, c, s, p, xd, yd);
      for (int64_t k = 0; k < ny; k++) l[side] += w[k] * yd[k];
    }
    *v = v0;
    double gr = (l[0] - l[1]) / (2 * h), an = is_x ? dx[i] : dc[i - nx];
    double *worstp = is_x ? &gworst : &cworst;
    *worstp = fmax(*worstp, fabs(an - gr) / (1 + fabs(gr)));
  }
  if (gworst > tol(f, 5e-4) || cworst > tol(f, 5e-4))
    printf("  %s pool %lldx%lld/%lld pads %lld: d/dx %.1e, d/dc %.1e\n", pn_paf_form_name(f), (long long)p->kh,
           (long long)p->kw, (long long)p->sh, (long long)p->pt, gworst, cworst);
  assert_true(gworst < tol(f, 5e-4));
  assert_true(cworst < tol(f, 5e-4));
  free(x);
  free(y);
  free(w);
  free(dx);
  free(xd);
  free(yd);
}

static void set_out(struct ref_pool *p) {
  p->oh = (p->h + p->pt + p->pb - p->kh) / p->sh + 1;
  p->ow = (p->w + p->pl + p->pr - p->kw) / p->sw + 1;
}

static void test_pool_grad(void **state) {
  struct ref_pool cases[] = {
      {.nc = 3, .h = 6, .w = 6, .kh = 2, .kw = 2, .sh = 2, .sw = 2},             /* the models' pool */
      {.nc = 2, .h = 7, .w = 5, .kh = 3, .kw = 3, .sh = 2, .sw = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 2},
      {.nc = 2, .h = 5, .w = 6, .kh = 3, .kw = 2, .sh = 1, .sw = 2, .pt = 0, .pl = 1, .pb = 2, .pr = 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    set_out(&cases[i]);
    for (int f = 0; f < PN_PAF_FORM_COUNT; f++) run_pool_case(f, &cases[i], (f + i) % 2);
  }
}

/* max and MaxPool via sign against the exact ones within the form's error bound. One max:
** max(a, b) = ((a+b) + |a-b|)/2, so |approx - exact| = s |t| |P(t) - sign t| / 2 with t = (a-b)/s,
** at most s * E where E is the form's ReLU error on [-1, 1] (pn_paf_relu_max_error). A tree of L
** levels errs by at most L s E as long as every difference stays in [-s, s] (exact max is
** 1-Lipschitz in the max norm): inputs in [0, 0.7] keep the second level's inputs within
** [-E, 0.7 + E] for E <= 0.15, which every form satisfies. */
static void test_pool_exact(void **state) {
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++) {
    double err = pn_paf_relu_max_error(f, NULL, 20000);
    assert_true(err < 0.15);
    const struct pn_paf_form_def *d = pn_paf_form_def(f);
    float cf[PN_PAF_MAX_COEFFS];
    for (int i = 0; i < pn_paf_n_coeffs(f); i++) cf[i] = (float)d->base[i];
    struct pn_paf_eval e;
    pn_paf_eval_init(&e, f, cf);
    double worst1 = 0, worst2 = 0;
    for (int i = 0; i < 20000; i++) {
      float a = (float)urand(0, 1), b = (float)urand(0, 1), x[2] = {a, b}, y;
      struct pn_paf_pool g = {1, 1, 2, 1, 1, 1, 2, 1, 1, 0, 0};
      pn_paf_maxpool_forward(&e, &g, 1.0f, x, &y);
      worst1 = fmax(worst1, fabs(y - fmax(a, b)));
    }
    for (int i = 0; i < 20000; i++) {
      float x[4], y;
      for (int k = 0; k < 4; k++) x[k] = (float)urand(0, 0.7);
      struct pn_paf_pool g = {1, 2, 2, 1, 1, 2, 2, 2, 2, 0, 0};
      pn_paf_maxpool_forward(&e, &g, 1.0f, x, &y);
      worst2 = fmax(worst2, fabs(y - fmax(fmax(x[0], x[1]), fmax(x[2], x[3]))));
    }
    printf("  %-10s max: error %.4f (bound %.4f); 2x2 MaxPool: error %.4f (bound %.4f)\n", d->name, worst1, err,
           worst2, 2 * err);
    assert_true(worst1 <= err + 1e-6);
    assert_true(worst2 <= 2 * err + 1e-6);
    /* and the bound is not slack: the worst single max comes close to it */
    assert_true(worst1 > 0.5 * err);
  }
}

int main(void) {
  g_seed = pn_test_seed("test_paf", 1);
  struct pn_ctx ctx = {0};
  if (pn_prg_init_u64(&ctx, &g_prg, g_seed)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_form_table), cmocka_unit_test(test_remez),      cmocka_unit_test(test_relu_grad),
      cmocka_unit_test(test_pool_grad),  cmocka_unit_test(test_pool_exact),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pn_prg_free(&g_prg);
  return rc;
}
