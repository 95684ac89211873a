/* paf.c - SmartPAF's forms: coefficient tables, degrees and depths, errors, and a Remez routine.
**
** The f/g stages are Cheon et al.'s (eprint 2019/1234), applied in the SmartPAF paper's order (f
** first). alpha7 and minimax27 are Lee et al.'s minimax composites (arXiv 2105.10879) for precision
** 7 and 10; their coefficients are the published ones, and pn_paf_remez_composite recomputes them
** from the interval alone (tests/graph/test_paf.c checks that both agree). Errors are measured on a
** dense grid refined by golden-section search around the worst points. */
#include "graph/paf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"

/* ---- the tables ---- */

#define F1 1.5, -0.5
#define F2 1.875, -1.25, 0.375
#define G1 2.076171875, -1.3271484375
#define G2 3.255859375, -5.96484375, 3.70703125
#define G3 4.4814453125, -16.1884765625, 25.013671875, -12.55859375

static const double c_f1g2[] = {F1, G2};
static const double c_f2g2[] = {F2, G2};
static const double c_f2g3[] = {F2, G3};
static const double c_f1g1sq[] = {F1, F1, G1, G1};
static const double c_alpha7[] = {
  7.30445164958251, -34.6825871108659, 59.8596518298826, -31.8755225906466,
  2.40085652217597, -2.63125454261783, 1.54912674773593, -0.331172956504304};
static const double c_minimax27[] = {
  10.8541842577442, -62.2833925211098, 114.369227820443, -62.8023496973074,
  4.13976170985111, -5.84997640211679, 2.94376255659280, -0.454530437460152,
  3.29956739043733, -7.84227260291355, 12.8907764115564, -12.4917112584486, 6.94167991428074,
  -2.04298067399942, 0.246407138926031};

#define CHEON "Cheon et al., eprint 2019/1234"
#define LEE "Lee et al., arXiv 2105.10879 (minimax composite)"

static const struct pn_paf_form_def forms[PN_PAF_FORM_COUNT] = {
  [PN_PAF_F1G2] = {"f1g2", 2, {2, 3}, c_f1g2, "f1, g2", CHEON},
  [PN_PAF_F2G2] = {"f2g2", 2, {3, 3}, c_f2g2, "f2, g2", CHEON},
  [PN_PAF_F2G3] = {"f2g3", 2, {3, 4}, c_f2g3, "f2, g3", CHEON},
  [PN_PAF_ALPHA7] = {"alpha7", 2, {4, 4}, c_alpha7, "p1, p2 (alpha = 7)", LEE},
  [PN_PAF_F1G1SQ] = {"f1g1sq", 4, {2, 2, 2, 2}, c_f1g1sq, "f1, f1, g1, g1", CHEON},
  [PN_PAF_MINIMAX27] = {"minimax27", 3, {4, 4, 7}, c_minimax27, "p1, p2, p3 (alpha = 10)", LEE},
};
_Static_assert(sizeof forms / sizeof *forms == PN_PAF_FORM_COUNT, "forms out of date");

const struct pn_paf_form_def *pn_paf_form_def(enum pn_paf_form f) {
  return (unsigned)f < PN_PAF_FORM_COUNT ? &forms[f] : NULL;
}

int pn_paf_form_parse(const char *name) {
  for (int f = 0; name && f < PN_PAF_FORM_COUNT; f++)
    if (!strcmp(name, forms[f].name)) return f;
  return -1;
}

const char *pn_paf_form_name(enum pn_paf_form f) {
  return (unsigned)f < PN_PAF_FORM_COUNT ? forms[f].name : "?";
}

const char *pn_paf_form_list(void) { return "f1g2, f2g2, f2g3, alpha7, f1g1sq, minimax27"; }

/* ---- costs ---- */

int pn_paf_n_coeffs(enum pn_paf_form f) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  int n = 0;
  for (int s = 0; d && s < d->n_stages; s++) n += d->terms[s];
  return n;
}

int pn_paf_stage_degree(enum pn_paf_form f, int stage) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  return d && stage >= 0 && stage < d->n_stages ? 2 * d->terms[stage] - 1 : 0;
}

int pn_paf_stage_depth(int degree) {
  int r = 0;
  while ((1 << r) < degree + 1) r++;
  return r;
}

int pn_paf_degree(enum pn_paf_form f) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  int deg = d ? 1 : 0;
  for (int s = 0; d && s < d->n_stages; s++) deg *= pn_paf_stage_degree(f, s);
  return deg;
}

int pn_paf_degree_sum(enum pn_paf_form f) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  int sum = 0;
  for (int s = 0; d && s < d->n_stages; s++) sum += pn_paf_stage_degree(f, s);
  return sum;
}

int pn_paf_sign_depth(enum pn_paf_form f) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  int depth = 0;
  for (int s = 0; d && s < d->n_stages; s++) depth += pn_paf_stage_depth(pn_paf_stage_degree(f, s));
  return depth;
}

int pn_paf_relu_depth(enum pn_paf_form f, bool unit_scale) {
  return pn_paf_sign_depth(f) + 1 + (unit_scale ? 0 : 1);
}

int pn_paf_tree_levels(int window) {
  int levels = 0;
  for (int n = window; n > 1; n = (n + 1) / 2) levels++;
  return levels;
}

int pn_paf_maxpool_depth(enum pn_paf_form f, int window, bool unit_scale) {
  return pn_paf_tree_levels(window) * pn_paf_relu_depth(f, unit_scale);
}

/* ---- plain evaluation ---- */

static double odd_stage(const double *c, int n, double z) {
  double u = z * z, a = c[n - 1];
  for (int j = n - 2; j >= 0; j--) a = a * u + c[j];
  return a * z;
}

double pn_paf_chain_eval(const double *const *odd, const int *nodd, int nstages, double x) {
  for (int s = 0; s < nstages; s++) x = odd_stage(odd[s], nodd[s], x);
  return x;
}

double pn_paf_sign(enum pn_paf_form f, const double *c, double x) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  if (!d) return NAN;
  if (!c) c = d->base;
  for (int s = 0, o = 0; s < d->n_stages; o += d->terms[s], s++) x = odd_stage(c + o, d->terms[s], x);
  return x;
}

/* Max of err(x) over [lo, hi]: a grid, then golden-section search around the best few cells. */
static double grid_max(double (*err)(const void *, double), const void *arg, double lo, double hi,
                       int points) {
  if (points < 1000) points = 1000;
  int n = (int)ceil((hi - lo) * points) + 1;
  double h = (hi - lo) / (n - 1), best = 0;
  for (int i = 0; i < n; i++) {
    double x = i == n - 1 ? hi : lo + i * h, e = err(arg, x);
    if (e > best || isnan(e)) best = e;
    if (isnan(e)) return e;
    /* refine around interior local maxima */
    if (i > 0 && i < n - 1) {
      double el = err(arg, x - h), er = err(arg, x + h);
      if (e >= el && e >= er) {
        double a = x - h, b = x + h;
        const double g = 0.6180339887498949;
        for (int it = 0; it < 60; it++) {
          double c = b - g * (b - a), d = a + g * (b - a);
          if (err(arg, c) > err(arg, d)) b = d;
          else a = c;
        }
        double m = err(arg, 0.5 * (a + b));
        if (m > best) best = m;
      }
    }
  }
  return best;
}

struct errarg {
  enum pn_paf_form f;
  const double *c;
};

static double relu_err(const void *p, double x) {
  const struct errarg *a = p;
  return fabs(0.5 * x * (pn_paf_sign(a->f, a->c, x) - (x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0)));
}

static double sign_err(const void *p, double x) {
  const struct errarg *a = p;
  return fabs(pn_paf_sign(a->f, a->c, x) - 1.0);
}

double pn_paf_relu_max_error(enum pn_paf_form f, const double *c, int points) {
  struct errarg a = {f, c};
  /* the error is even in x (P is odd), so [0, 1] covers [-1, 1] */
  return grid_max(relu_err, &a, 0.0, 1.0, points);
}

double pn_paf_sign_max_error(enum pn_paf_form f, const double *c, double lo, int points) {
  struct errarg a = {f, c};
  return grid_max(sign_err, &a, lo, 1.0, points);
}

static double sign_abs(const void *p, double x) {
  const struct errarg *a = p;
  return fabs(pn_paf_sign(a->f, a->c, x));
}

double pn_paf_sign_max_abs(enum pn_paf_form f, const double *c, double lo, double hi, int points) {
  struct errarg a = {f, c};
  return grid_max(sign_abs, &a, lo, hi, points);
}

void pn_paf_form_stats(enum pn_paf_form f, struct pn_paf_form_stats *st) {
  memset(st, 0, sizeof *st);
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  if (!d) return;
  st->n_coeffs = pn_paf_n_coeffs(f);
  st->degree = pn_paf_degree(f);
  st->degree_sum = pn_paf_degree_sum(f);
  st->sign_depth = pn_paf_sign_depth(f);
  st->relu_depth = pn_paf_relu_depth(f, true);
  st->maxpool2x2_depth = pn_paf_maxpool_depth(f, 4, true);
  for (int s = 0; s < d->n_stages; s++) st->stage_degree[s] = pn_paf_stage_degree(f, s);
  st->relu_err = pn_paf_relu_max_error(f, NULL, 20000);
  st->sign_past1 = pn_paf_sign_max_abs(f, NULL, 1.0, 1.5, 20000);
}

/* ---- Remez exchange for odd polynomials approximating 1 on [a, b] ---- */

/* Solve the (n+1) x (n+1) system m x = rhs in place (partial pivoting); false when singular. */
static bool solve(int n, long double m[][PN_PAF_MAX_TERMS + 2], long double *rhs) {
  for (int k = 0; k < n; k++) {
    int piv = k;
    for (int i = k + 1; i < n; i++)
      if (fabsl(m[i][k]) > fabsl(m[piv][k])) piv = i;
    if (m[piv][k] == 0) return false;
    if (piv != k) {
      for (int j = 0; j < n; j++) {
        long double t = m[k][j];
        m[k][j] = m[piv][j];
        m[piv][j] = t;
      }
      long double t = rhs[k];
      rhs[k] = rhs[piv];
      rhs[piv] = t;
    }
    for (int i = k + 1; i < n; i++) {
      long double f = m[i][k] / m[k][k];
      for (int j = k; j < n; j++) m[i][j] -= f * m[k][j];
      rhs[i] -= f * rhs[k];
    }
  }
  for (int i = n - 1; i >= 0; i--) {
    long double s = rhs[i];
    for (int j = i + 1; j < n; j++) s -= m[i][j] * rhs[j];
    rhs[i] = s / m[i][i];
  }
  return true;
}

static double remez_err(const double *c, int n, double x) { return odd_stage(c, n, x) - 1.0; }

/* Position of the extremum of the signed error near x in [lo, hi] (golden section on sgn * e). */
static double refine(const double *c, int n, double lo, double hi, double sgn) {
  const double g = 0.6180339887498949;
  double a = lo, b = hi;
  for (int it = 0; it < 80; it++) {
    double p = b - g * (b - a), q = a + g * (b - a);
    if (sgn * remez_err(c, n, p) > sgn * remez_err(c, n, q)) b = q;
    else a = p;
  }
  return 0.5 * (a + b);
}

int pn_paf_remez_odd(struct pn_ctx *ctx, int n, double a, double b, double *c, double *err) {
  if (n < 1 || n > PN_PAF_MAX_TERMS || !(a > 0) || !(b > a) || !isfinite(b))
    return pn_err(ctx, PN_ERR_INVALID, "remez: need 1 <= terms <= %d and 0 < a < b (got %d, [%g, %g])",
                  PN_PAF_MAX_TERMS, n, a, b);
  enum { GRID = 20000 };
  double x[PN_PAF_MAX_TERMS + 1];
  for (int i = 0; i <= n; i++) x[i] = 0.5 * (a + b) - 0.5 * (b - a) * cos(M_PI * i / n);
  if (n == 0) x[0] = b;
  double E = 0, emax = 0;
  for (int iter = 0; iter < 100; iter++) {
    long double m[PN_PAF_MAX_TERMS + 1][PN_PAF_MAX_TERMS + 2], rhs[PN_PAF_MAX_TERMS + 2];
    for (int i = 0; i <= n; i++) {
      long double xi = x[i], p = xi;
      for (int j = 0; j < n; j++) {
        m[i][j] = p;
        p *= xi * xi;
      }
      m[i][n] = (i & 1) ? -1.0L : 1.0L;
      rhs[i] = 1.0L;
    }
    if (!solve(n + 1, m, rhs))
      return pn_err(ctx, PN_ERR_UNSUPPORTED, "remez: singular system on [%g, %g]", a, b);
    for (int j = 0; j < n; j++) c[j] = (double)rhs[j];
    E = fabs((double)rhs[n]);
    /* the extrema of the error: endpoints and interior local extrema, one per sign run */
    double ext[GRID / 2 + 2], val[GRID / 2 + 2];
    int ne = 0;
    double h = (b - a) / GRID, prev = remez_err(c, n, a);
    ext[ne] = a;
    val[ne++] = prev;
    for (int i = 1; i <= GRID; i++) {
      double xi = i == GRID ? b : a + i * h, ei = remez_err(c, n, xi);
      double xn = a + (i + 1) * h, en = i < GRID ? remez_err(c, n, xn) : 0;
      bool local = i == GRID || (fabs(ei) >= fabs(prev) && fabs(ei) >= fabs(en) && (ei > 0) == (prev > 0) &&
                                 (ei > 0) == (en > 0));
      if (local && i < GRID) {
        xi = refine(c, n, xi - h, xn, ei > 0 ? 1 : -1);
        ei = remez_err(c, n, xi);
      }
      if (local) {
        if (ne > 0 && (ei > 0) == (val[ne - 1] > 0)) {
          if (fabs(ei) > fabs(val[ne - 1])) ext[ne - 1] = xi, val[ne - 1] = ei;
        } else if (ne < GRID / 2 + 2) {
          ext[ne] = xi;
          val[ne++] = ei;
        }
      }
      prev = ei;
    }
    /* keep n+1 alternating points, dropping the smaller end */
    int lo = 0, hi = ne - 1;
    while (hi - lo + 1 > n + 1) {
      if (fabs(val[lo]) < fabs(val[hi])) lo++;
      else hi--;
    }
    if (hi - lo + 1 < n + 1)
      return pn_err(ctx, PN_ERR_UNSUPPORTED, "remez: lost alternation on [%g, %g] (%d terms)", a, b, n);
    emax = 0;
    for (int i = lo; i <= hi; i++) emax = fmax(emax, fabs(val[i]));
    for (int i = 0; i <= n; i++) x[i] = ext[lo + i];
    if (emax - E <= 1e-13 * emax) break;
  }
  *err = emax;
  if (!(emax - E <= 1e-6 * emax))
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "remez: no convergence on [%g, %g] (%d terms)", a, b, n);
  return PN_OK;
}

int pn_paf_remez_composite(struct pn_ctx *ctx, int n_stages, const int *terms, double eps, double *c,
                           double *err) {
  if (n_stages < 1 || n_stages > PN_PAF_MAX_STAGES || !(eps > 0 && eps < 1))
    return pn_err(ctx, PN_ERR_INVALID, "remez: need 1..%d stages and 0 < eps < 1", PN_PAF_MAX_STAGES);
  double a = eps, b = 1.0, e = 0;
  for (int s = 0, o = 0; s < n_stages; o += terms[s], s++) {
    int rc = pn_paf_remez_odd(ctx, terms[s], a, b, c + o, &e);
    if (rc) return rc;
    a = 1.0 - e;
    b = 1.0 + e;
    if (!(a > 0)) return pn_err(ctx, PN_ERR_UNSUPPORTED, "remez: stage %d error %g leaves no margin", s, e);
  }
  *err = e;
  return PN_OK;
}
