/* boot_mod.c - EvalMod, the approximate reduction t -> t - round(t) of bootstrapping.
**
** The raised coefficients are t = m / q_0 + I with |I| <= K (K = (h' + 1) / 2 for an ephemeral secret of
** weight h', a bound that always holds) and |m / q_0| small. With K' = K + 3/4 and x = (t - 1/4) / K' in
** [-1, 1], cos(2 pi (t - 1/4) / 2^r) = f(u) is an even function of x, so a Chebyshev interpolant of degree
** d in u = T_2(x) = 2 x^2 - 1 gives it with depth 1 + ceil(log2(d + 1)). r double angles
** cos(2a) = 2 cos^2(a) - 1 then give cos(2 pi (t - 1/4)) = sin(2 pi t) ~ 2 pi (t - I). The sine's cubic term
** is a relative error (2 pi e)^2 / 6 for e = t - I, so either q_0 / Delta is large, or (arcsine_degree 3)
** y + y^3 / 6 ~ arcsin(y) removes it (two levels) and q_0 / Delta can be small, which divides every noise
** of the circuit by the same factor. Every scale is planned backwards from the output so that each
** rescale lands on the scale the next step needs, the last one on exactly ratio / (2 pi) times the
** requested output scale: no level is spent on constants. The interpolant is computed in long double at
** the Chebyshev nodes; its error is far below the circuit's noise for the degrees used (checked in the
** tests against cos itself). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/boot_impl.h"
#include "ckks/poly.h"

static long double target_fn(const struct pn_boot_mod *m, long double u) {
  long double x2 = (u + 1) / 2;
  if (x2 < 0) x2 = 0;
  const long double pi = 3.141592653589793238462643383279502884L;
  return cosl(2 * pi * (long double)m->kp * sqrtl(x2) / (long double)(1 << m->r));
}

int pn_boot_mod_init(struct pn_ctx *ctx, const struct pn_ckks_boot_params *bp, struct pn_boot_mod *m) {
  memset(m, 0, sizeof *m);
  if (bp->eph_weight < 2 || bp->eph_weight > 1024)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: ephemeral secret weight %d outside [2, 1024]", bp->eph_weight);
  if (bp->cos_degree < 2 || bp->cos_degree > 120 || bp->double_angles < 0 || bp->double_angles > 8)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: cosine degree %d (2..120) or %d double angles (0..8)",
                  bp->cos_degree, bp->double_angles);
  if (bp->arcsine_degree != 0 && bp->arcsine_degree != 3)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: arcsine degree %d (0 or 3)", bp->arcsine_degree);
  m->K = (bp->eph_weight + 1) / 2;
  m->kp = m->K + 0.75;
  m->deg = bp->cos_degree;
  m->r = bp->double_angles;
  m->asin_deg = bp->arcsine_degree;
  const int n = m->deg + 1;
  const long double pi = 3.141592653589793238462643383279502884L;
  long double fv[128];
  for (int j = 0; j < n; j++) fv[j] = target_fn(m, cosl(pi * (j + 0.5L) / n));
  for (int k = 0; k <= m->deg; k++) {
    long double s = 0;
    for (int j = 0; j < n; j++) s += fv[j] * cosl(pi * k * (j + 0.5L) / n);
    m->cheb[k] = (double)((k ? 2.0L : 1.0L) * s / n);
  }
  m->cheb_depth = pn_ckks_poly_cheb_depth(m->cheb, m->deg);
  if (m->cheb_depth < 0) return pn_err(ctx, PN_ERR_INVALID, "ckks boot: cosine interpolant");
  return PN_OK;
}

int pn_boot_mod_levels(const struct pn_boot_mod *m) {
  return 1 + m->cheb_depth + m->r + (m->asin_deg ? 2 : 0);
}

double pn_boot_mod_plain(const struct pn_boot_mod *m, double t, double ratio) {
  const double x = t / m->kp - 0.25 / m->kp, u = 2 * x * x - 1;
  double y = pn_poly_cheb_plain(m->cheb, m->deg, u);
  for (int i = 0; i < m->r; i++) y = 2 * y * y - 1;
  if (m->asin_deg) y = y * (1 + y * y / 6);
  return ratio * y / (2 * M_PI);
}

/* y <- 2 y^2 - 1, the square rescaled onto exactly scale `want` */
static int double_angle(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                        struct pn_ckks_ct *y, double want) {
  int rc = pn_ckks_mul_relin(ctx, c, rk, y, y, y);
  if (!rc) rc = pn_ckks_rescale(ctx, c, y, y);
  if (rc) return rc;
  y->scale = want;
  rc = pn_ckks_add(ctx, c, y, y, y);
  return rc ? rc : pn_ckks_add_const(ctx, c, y, -1.0, y);
}

int pn_boot_mod_eval(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                     const struct pn_boot_mod *m, const struct pn_ckks_ct *in, double ratio, double scale,
                     struct pn_ckks_ct *out) {
  const int need = pn_boot_mod_levels(m), l0 = in->level;
  if (l0 < need)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: EvalMod needs %d levels, the input is at level %d", need, l0);
  if (!(ratio > 0) || !(scale > 0) || !isfinite(ratio) || !isfinite(scale))
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: EvalMod ratio %g / scale %g", ratio, scale);
  /* levels: u at l0 - 1, y_0 at L0 = l0 - 1 - depth, y_i at L0 - i, the arcsine two below y_r */
  const int L0 = l0 - 1 - m->cheb_depth, Lr = L0 - m->r;
  double q[PN_CKKS_MAX_PRIMES];
  for (int i = 0; i < c->nq; i++) q[i] = (double)c->mod[i].q;
  /* backwards: the final product must have scale S = scale * ratio / (2 pi) (its message is 2 pi f) */
  const double S = scale * ratio / (2 * M_PI);
  double s[16];
  s[m->r] = m->asin_deg ? cbrt(S * q[Lr] * q[Lr - 1] / 6) : S;
  for (int i = m->r; i >= 1; i--) s[i - 1] = sqrt(s[i] * q[L0 - i + 1]);
  struct pn_ckks_ct *y = pn_ckks_ct_new(c), *w = pn_ckks_ct_new(c);
  int rc = y && w ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "ckks boot: EvalMod");
  /* x = t / K' - 1 / (4 K'), u = 2 x^2 - 1 */
  if (!rc) rc = pn_ckks_add_const(ctx, c, in, -0.25 / m->kp, w);
  if (!rc) rc = pn_ckks_mul_relin(ctx, c, rk, w, w, w);
  if (!rc) rc = pn_ckks_rescale(ctx, c, w, w);
  if (!rc) rc = pn_ckks_add(ctx, c, w, w, w);
  if (!rc) rc = pn_ckks_add_const(ctx, c, w, -1.0, w);
  /* y_0 = cos(2 pi (t - 1/4) / 2^r) */
  if (!rc) rc = pn_ckks_poly_eval_cheb(ctx, c, rk, w, m->cheb, m->deg, s[0], y, NULL);
  if (!rc && y->level != L0) rc = pn_err(ctx, PN_ERR_INVALID, "ckks boot: EvalMod level plan off (%d != %d)", y->level, L0);
  for (int i = 1; i <= m->r && !rc; i++) rc = double_angle(ctx, c, rk, y, s[i]);
  if (!rc && m->asin_deg) { /* y (1 + y^2 / 6): w = y^2 declared at 6 times its scale is y^2 / 6 */
    rc = pn_ckks_mul_relin(ctx, c, rk, y, y, w);
    if (!rc) rc = pn_ckks_rescale(ctx, c, w, w);
    if (!rc) {
      w->scale = 6 * s[m->r] * s[m->r] / q[Lr];
      rc = pn_ckks_add_const(ctx, c, w, 1.0, w);
    }
    if (!rc) rc = pn_ckks_mul_relin(ctx, c, rk, w, y, y);
    if (!rc) rc = pn_ckks_rescale(ctx, c, y, y);
  }
  if (!rc && fabs(y->scale - S) > 1e-6 * S)
    rc = pn_err(ctx, PN_ERR_INVALID, "ckks boot: EvalMod scale plan off (2^%.4f != 2^%.4f)", log2(y->scale), log2(S));
  if (!rc) {
    y->scale = scale; /* the data is S * 2 pi f = scale * ratio * f */
    rc = pn_ckks_ct_copy(ctx, y, out);
  }
  pn_ckks_ct_free(y);
  pn_ckks_ct_free(w);
  return rc;
}
