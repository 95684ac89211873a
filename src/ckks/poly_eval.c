/* poly_eval.c - polynomial evaluation on CKKS ciphertexts (baby-step giant-step, odd minimal-depth chains).
**
** BSGS in the power basis: baby powers x^1..x^k (each at depth ceil(log2 i)), giant powers
** x^(k 2^j) by squaring; p = q x^(k 2^j) + r is split recursively on the largest giant power. Scales are
** managed exactly: every term is produced at the scale its parent asks for, by choosing the scale at which
** its constant is encoded (c x^i encoded at target q_l / scale(x^i), then rescaled), and a product
** q * G is asked for at target q_lm / scale(G). So all sums add equal scales and the output has exactly
** the input's scale, whatever the primes. The levels of every sub-polynomial are predicted first (the
** same recursion on levels only) to know q_lm. k is chosen among powers of two: within a budget of
** 2 ceil(sqrt(d+1)) + ceil(log2(d+1)) ciphertext products, the least depth, then the fewest products.
** Odd chains: an odd stage of degree <= 7 is sum c_i x^i with c_i x^i = ((c_i x) x^2) x^4 (factors by the
** bits of (i-1)/2), which reaches the optimal depth ceil(log2(deg + 1)). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_impl.h"
#include "ckks/poly.h"

#define MAXK 64
#define MAXG 16

struct bsgs {
  struct pn_ctx *ctx;
  const struct pn_ckks_context *c;
  const struct pn_ckks_swk *rk;
  int cheb;                           /* Chebyshev basis: pw[i] = T_i(x), g[j] = T_(k 2^j)(x) */
  int k, ng;
  int lpw[MAXK + 1], lg[MAXG];        /* levels of the powers */
  struct pn_ckks_ct *pw[MAXK + 1], *g[MAXG];
  struct pn_poly_report *rep;
};

static int imin(int a, int b) { return a < b ? a : b; }

static int ceil_log2(int v) {
  int r = 0;
  while ((1 << r) < v) r++;
  return r;
}

/* The split p = q G + r on the giant power G = x^m (or T_m): q has deg - m + 1 coefficients, r has m.
** Power basis: q = a[m..deg], r = a[0..m). Chebyshev basis (deg < 2m): T_i = 2 T_m T_(i-m) - T_(2m-i) for
** m < i < 2m, so q = (a_m, 2 a_(m+1), ..., 2 a_deg) and r_i = a_i - a_(2m-i). */
static void split(int cheb, const double *a, int deg, int m, double *q, double *r) {
  for (int i = 0; i < m; i++) r[i] = a[i];
  for (int i = m; i <= deg; i++) q[i - m] = a[i];
  if (!cheb) return;
  for (int i = m + 1; i <= deg; i++) {
    q[i - m] = 2 * a[i];
    r[2 * m - i] -= a[i];
  }
}

/* largest giant index j with k 2^j <= deg */
static int giant_for(const struct bsgs *b, int deg) {
  int j = 0;
  while (j + 1 < b->ng && (b->k << (j + 1)) <= deg) j++;
  return j;
}

static int pred(const struct bsgs *b, const double *a, int deg, int lead, int *muls);

/* level of a leaf sum c_i x^i evaluated directly (constants then one rescale); INT_MAX if constant */
static int leaf_level(const struct bsgs *b, const double *a, int deg) {
  int l = INT_MAX;
  for (int i = 1; i <= deg; i++)
    if (a[i] != 0) l = imin(l, b->lpw[i] - 1);
  return l;
}

/* predicted level of q G + r for the split on G = x^m (or T_m) at level lG */
static int pred_split(const struct bsgs *b, const double *a, int deg, int lead, int m, int lG, int *muls) {
  double *q = malloc((size_t)(deg + 1) * sizeof *q), *r = q ? q + (deg - m + 1) : NULL;
  if (!q) return INT_MIN;
  split(b->cheb, a, deg, m, q, r);
  int lq = pred(b, q, deg - m, lead, muls), lr = pred(b, r, m - 1, 0, muls);
  int lp = INT_MAX;
  if (lq == INT_MAX) {
    if (q[0] != 0) lp = lG - 1;
  } else {
    lp = imin(lq, lG) - 1;
    if (muls) (*muls)++;
  }
  free(q);
  if (lq == INT_MIN || lr == INT_MIN) return INT_MIN;
  return imin(lp, lr);
}

/* The power m a polynomial of degree deg is split on (0: evaluated directly as a leaf), and its level.
** From degree k on, the giant powers. Below, the leading leaf (the end of the chain of quotients, which
** all giant powers multiply: the critical path) is split further on its largest baby power of two when
** that leaves it higher: x^(k-1) is as deep as x^k and its constant costs one more level, so without this
** a dense degree 2^m - 1 would need m + 1 levels instead of m. Other leaves stay direct (fewer products). */
static int split_for(const struct bsgs *b, const double *a, int deg, int lead, int *lG) {
  if (deg >= b->k) {
    const int j = giant_for(b, deg);
    *lG = b->lg[j];
    return b->k << j;
  }
  if (deg < 2 || !lead) return 0;
  int m = 1;
  while (2 * m <= deg) m *= 2;
  int ld = leaf_level(b, a, deg);
  if (ld == INT_MAX) return 0;
  int ls = pred_split(b, a, deg, 1, m, b->lpw[m], NULL);
  if (ls == INT_MIN || ls <= ld) return 0;
  *lG = b->lpw[m];
  return m;
}

/* Predicted output level of sum a[i] x^i (or a[i] T_i), i <= deg; INT_MAX if only a constant. Counts
** products. Returns INT_MIN when out of memory. */
static int pred(const struct bsgs *b, const double *a, int deg, int lead, int *muls) {
  int lG = 0, m = split_for(b, a, deg, lead, &lG);
  if (m == 0) return leaf_level(b, a, deg);
  return pred_split(b, a, deg, lead, m, lG, muls);
}

static void sim_levels(struct bsgs *b, int k, int top, int degree) {
  b->k = k;
  b->ng = 0;
  for (int i = 1; i <= k; i++) b->lpw[i] = top - ceil_log2(i);
  for (int m = k; m <= degree && b->ng < MAXG; m <<= 1) {
    b->lg[b->ng] = top - ceil_log2(m);
    b->ng++;
  }
}

/* choose k: among the splits with at most 2 ceil(sqrt(d+1)) + ceil(log2(d+1)) ciphertext products
** (the O(sqrt d) budget), the least depth, then the fewest products */
static void choose_k(struct bsgs *b, const double *a, int degree, int top) {
  int budget = ceil_log2(degree + 1), r = 1;
  while (r * r < degree + 1) r++;
  budget += 2 * r;
  int best_k = 2, best_depth = INT_MAX, best_muls = INT_MAX, best_in = 0;
  for (int k = 2; k <= MAXK && k <= 2 * degree; k <<= 1) {
    sim_levels(b, k, top, degree);
    int muls = (k < degree ? k : degree) - 1 + (b->ng > 0 ? b->ng - 1 : 0);
    int l = pred(b, a, degree, 1, &muls);
    int depth = l == INT_MAX ? 0 : top - l, in = muls <= budget;
    int better = in > best_in || (in == best_in && in && (depth < best_depth ||
                                                          (depth == best_depth && muls < best_muls))) ||
                 (in == best_in && !in && muls < best_muls);
    if (better) {
      best_depth = depth;
      best_muls = muls;
      best_k = k;
      best_in = in;
    }
  }
  sim_levels(b, best_k, top, degree);
}

int pn_ckks_poly_depth(const double *coeffs, int degree) {
  if (degree < 0 || degree > PN_POLY_MAX_DEGREE) return -1;
  struct bsgs b;
  memset(&b, 0, sizeof b);
  choose_k(&b, coeffs, degree, 1000);
  int l = pred(&b, coeffs, degree, 1, NULL);
  return l == INT_MAX ? 0 : l == INT_MIN ? -1 : 1000 - l;
}

static struct pn_ckks_ct *ct_or_null(struct bsgs *b) {
  struct pn_ckks_ct *t = pn_ckks_ct_new(b->c);
  if (!t) pn_err(b->ctx, PN_ERR_NOMEM, "ckks poly: ciphertext");
  return t;
}

/* product y * f relinearised and rescaled, result forced to scale `want` (equal up to rounding) */
static int mul_rescale(struct bsgs *b, const struct pn_ckks_ct *y, const struct pn_ckks_ct *f, double want,
                       struct pn_ckks_ct *out) {
  int rc = pn_ckks_mul_relin(b->ctx, b->c, b->rk, y, f, out);
  if (!rc) rc = pn_ckks_rescale(b->ctx, b->c, out, out);
  if (rc) return rc;
  if (fabs(out->scale - want) > 1e-6 * want)
    return pn_err(b->ctx, PN_ERR_INVALID, "ckks poly: internal scale mismatch (2^%.4f vs 2^%.4f)",
                  log2(out->scale), log2(want));
  out->scale = want;
  if (b->rep) b->rep->nonscalar_muls++;
  return PN_OK;
}

/* acc += t, both at scale `target`, at the lower level; acc may be empty (*have = 0) */
static int accumulate(struct bsgs *b, struct pn_ckks_ct *acc, int *have, const struct pn_ckks_ct *t) {
  if (!*have) {
    *have = 1;
    return pn_ckks_ct_copy(b->ctx, t, acc);
  }
  int l = imin(acc->level, t->level);
  int rc = pn_ckks_drop_level(b->ctx, b->c, acc, l, acc);
  return rc ? rc : pn_ckks_add(b->ctx, b->c, acc, t, acc);
}

/* out = sum a[i] x^i at scale target. Returns via *have whether out holds a ciphertext (else only a[0]). */
static int eval_rec(struct bsgs *b, const double *a, int deg, int lead, double target, struct pn_ckks_ct *out,
                    int *have) {
  int rc = PN_OK;
  *have = 0;
  struct pn_ckks_ct *t = ct_or_null(b);
  if (!t) return PN_ERR_NOMEM;
  int lG = 0;
  const int m = split_for(b, a, deg, lead, &lG);
  if (m == 0) {
    /* all terms at the lowest level lc of the powers used, each c_i x^i at scale target q_lc, summed,
    ** then one rescale: the output scale is exactly target */
    int lc = INT_MAX;
    for (int i = 1; i <= deg; i++)
      if (a[i] != 0) lc = imin(lc, b->pw[i]->level);
    for (int i = 1; i <= deg && !rc && lc != INT_MAX; i++) {
      if (a[i] == 0) continue;
      rc = pn_ckks_drop_level(b->ctx, b->c, b->pw[i], lc, t);
      double cs = target * (double)b->c->mod[lc].q / b->pw[i]->scale;
      if (!rc) rc = pn_ckks_mul_const(b->ctx, b->c, t, a[i], cs, t);
      if (b->rep) b->rep->scalar_muls++;
      if (!rc) t->scale = target * (double)b->c->mod[lc].q; /* equal to rounding; make it exact */
      if (!rc) rc = accumulate(b, out, have, t);
    }
    if (!rc && *have) {
      if (lc < 1) rc = pn_err(b->ctx, PN_ERR_INVALID, "ckks poly: no level left");
      if (!rc) rc = pn_ckks_rescale(b->ctx, b->c, out, out);
      if (!rc) out->scale = target;
    }
    if (!rc && *have && a[0] != 0) rc = pn_ckks_add_const(b->ctx, b->c, out, a[0], out);
    pn_ckks_ct_free(t);
    return rc;
  }
  const struct pn_ckks_ct *G = deg >= b->k ? b->g[giant_for(b, deg)] : b->pw[m];
  double *q = malloc((size_t)(deg + 1) * sizeof *q), *r = q ? q + (deg - m + 1) : NULL;
  if (!q) {
    pn_ckks_ct_free(t);
    return pn_err(b->ctx, PN_ERR_NOMEM, "ckks poly");
  }
  split(b->cheb, a, deg, m, q, r);
  int lq = pred(b, q, deg - m, lead, NULL);
  int haveq = 0, havep = 0, haver = 0;
  if (lq != INT_MAX) {
    int lm = imin(lq, G->level);
    double sq = target * (double)b->c->mod[lm].q / G->scale;
    struct pn_ckks_ct *tq = ct_or_null(b);
    if (!tq) rc = PN_ERR_NOMEM;
    if (!rc) rc = eval_rec(b, q, deg - m, lead, sq, tq, &haveq);
    if (!rc && tq->level != lq) rc = pn_err(b->ctx, PN_ERR_INVALID, "ckks poly: level prediction off");
    if (!rc) rc = mul_rescale(b, tq, G, target, t);
    pn_ckks_ct_free(tq);
    havep = 1;
  } else if (q[0] != 0) {
    rc = pn_ckks_mul_const_rescale_to(b->ctx, b->c, G, q[0], target, t);
    if (b->rep) b->rep->scalar_muls++;
    havep = 1;
  }
  if (!rc) rc = eval_rec(b, r, m - 1, 0, target, out, &haver);
  if (!rc && havep) {
    if (!haver && r[0] != 0) rc = pn_ckks_add_const(b->ctx, b->c, t, r[0], t);
    if (!rc) rc = accumulate(b, out, &haver, t);
  }
  *have = haver;
  free(q);
  pn_ckks_ct_free(t);
  return rc;
}

static void bsgs_free(struct bsgs *b) {
  for (int i = 0; i <= MAXK; i++) pn_ckks_ct_free(b->pw[i]);
  for (int j = 1; j < MAXG; j++) pn_ckks_ct_free(b->g[j]); /* g[0] is pw[k] */
}

/* 2 y - 1 in place (Chebyshev doubling T_2k = 2 T_k^2 - 1 after the square) */
static int twice_minus_one(struct bsgs *b, struct pn_ckks_ct *y) {
  int rc = pn_ckks_add(b->ctx, b->c, y, y, y);
  return rc ? rc : pn_ckks_add_const(b->ctx, b->c, y, -1.0, y);
}

/* power i of the baby steps: x^i = x^hi x^lo; Chebyshev: T_2h = 2 T_h^2 - 1, T_i = 2 T_hi T_lo - T_(hi-lo)
** with hi the largest power of two below i (so T_(hi-lo) is at a higher level and can be matched) */
static int make_power(struct bsgs *b, int i) {
  const struct pn_ckks_context *c = b->c;
  struct pn_ckks_ct **pw = b->pw;
  int hi = 1 << (ceil_log2(i) - 1), lo = i - hi;
  if (b->cheb && !(i & 1)) hi = lo = i / 2;
  double want = pw[hi]->scale * pw[lo]->scale / (double)c->mod[imin(pw[hi]->level, pw[lo]->level)].q;
  int rc = mul_rescale(b, pw[hi], pw[lo], want, pw[i]);
  if (rc || !b->cheb) return rc;
  if (hi == lo) return twice_minus_one(b, pw[i]);
  struct pn_ckks_ct *d = ct_or_null(b);
  if (!d) return PN_ERR_NOMEM;
  rc = pn_ckks_add(b->ctx, c, pw[i], pw[i], pw[i]);
  if (!rc) rc = pn_ckks_match(b->ctx, c, pw[hi - lo], pw[i]->level, pw[i]->scale, d);
  if (!rc) {
    d->scale = pw[i]->scale; /* equal up to rounding */
    rc = pn_ckks_sub(b->ctx, c, pw[i], d, pw[i]);
  }
  pn_ckks_ct_free(d);
  return rc;
}

static int poly_eval(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                     const struct pn_ckks_ct *x, const double *coeffs, int degree, int cheb, double target,
                     struct pn_ckks_ct *out, struct pn_poly_report *rep) {
  if (degree < 1 || degree > PN_POLY_MAX_DEGREE)
    return pn_err(ctx, PN_ERR_INVALID, "ckks poly: degree %d outside [1, %d]", degree, PN_POLY_MAX_DEGREE);
  for (int i = 0; i <= degree; i++)
    if (!isfinite(coeffs[i])) return pn_err(ctx, PN_ERR_INVALID, "ckks poly: coefficient %d is not finite", i);
  if (x->size != 2) return pn_err(ctx, PN_ERR_INVALID, "ckks poly: relinearise the input first");
  if (!(target > 0) || !isfinite(target))
    return pn_err(ctx, PN_ERR_INVALID, "ckks poly: target scale %g", target);
  struct bsgs b;
  memset(&b, 0, sizeof b);
  b.ctx = ctx;
  b.c = c;
  b.rk = rk;
  b.cheb = cheb;
  choose_k(&b, coeffs, degree, x->level);
  int lout = pred(&b, coeffs, degree, 1, NULL);
  if (lout == INT_MIN) return pn_err(ctx, PN_ERR_NOMEM, "ckks poly");
  int depth = lout == INT_MAX ? 0 : x->level - lout;
  if (lout != INT_MAX && lout < 0)
    return pn_err(ctx, PN_ERR_INVALID, "ckks poly: degree %d needs %d levels, the input has %d", degree,
                  depth, x->level);
  struct pn_poly_report r0;
  memset(&r0, 0, sizeof r0);
  b.rep = &r0;
  r0.baby = b.k;
  r0.giant = b.ng;
  int rc = PN_OK;
  const int npw = b.k < degree ? b.k : degree;
  for (int i = 1; i <= npw && !rc; i++) {
    b.pw[i] = ct_or_null(&b);
    if (!b.pw[i]) {
      rc = PN_ERR_NOMEM;
      break;
    }
    rc = i == 1 ? pn_ckks_ct_copy(ctx, x, b.pw[1]) : make_power(&b, i);
    if (!rc) b.lpw[i] = b.pw[i]->level;
  }
  if (!rc && b.ng > 0) {
    b.g[0] = b.pw[b.k]; /* k <= degree whenever there is a giant step */
    b.lg[0] = b.g[0]->level;
  }
  for (int j = 1; j < b.ng && !rc; j++) {
    b.g[j] = ct_or_null(&b);
    if (!b.g[j]) {
      rc = PN_ERR_NOMEM;
      break;
    }
    double want = b.g[j - 1]->scale * b.g[j - 1]->scale / (double)c->mod[b.g[j - 1]->level].q;
    rc = mul_rescale(&b, b.g[j - 1], b.g[j - 1], want, b.g[j]);
    if (!rc && cheb) rc = twice_minus_one(&b, b.g[j]);
    if (!rc) b.lg[j] = b.g[j]->level;
  }
  int have = 0;
  if (!rc) rc = eval_rec(&b, coeffs, degree, 1, target, out, &have);
  if (!rc && !have) { /* a constant polynomial: 0 * x + a0 */
    rc = pn_ckks_mul_const_rescale_to(ctx, c, x, 0.0, target, out);
    if (!rc) rc = pn_ckks_add_const(ctx, c, out, coeffs[0], out);
  }
  bsgs_free(&b);
  if (!rc) {
    r0.depth = r0.levels_used = x->level - out->level;
    if (rep) *rep = r0;
  }
  return rc;
}

int pn_ckks_poly_eval(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                      const struct pn_ckks_ct *x, const double *coeffs, int degree, struct pn_ckks_ct *out,
                      struct pn_poly_report *rep) {
  return poly_eval(ctx, c, rk, x, coeffs, degree, 0, x->scale, out, rep);
}

int pn_ckks_poly_eval_cheb(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                           const struct pn_ckks_ct *x, const double *coeffs, int degree, double target,
                           struct pn_ckks_ct *out, struct pn_poly_report *rep) {
  return poly_eval(ctx, c, rk, x, coeffs, degree, 1, target > 0 ? target : x->scale, out, rep);
}

double pn_poly_cheb_plain(const double *c, int d, double x) {
  double b1 = 0, b2 = 0;
  for (int i = d; i >= 1; i--) {
    double t = 2 * x * b1 - b2 + c[i];
    b2 = b1;
    b1 = t;
  }
  return x * b1 - b2 + c[0];
}

int pn_ckks_poly_cheb_depth(const double *coeffs, int degree) {
  if (degree < 0 || degree > PN_POLY_MAX_DEGREE) return -1;
  struct bsgs b;
  memset(&b, 0, sizeof b);
  b.cheb = 1;
  choose_k(&b, coeffs, degree, 1000);
  int l = pred(&b, coeffs, degree, 1, NULL);
  return l == INT_MAX ? 0 : l == INT_MIN ? -1 : 1000 - l;
}

/* ---- odd chains ---- */

/* one odd stage of degree <= 7 at exactly scale target */
static int eval_odd_small(struct bsgs *b, const struct pn_ckks_ct *x, const double *co, int n, double target,
                          struct pn_ckks_ct *out) {
  const struct pn_ckks_context *c = b->c;
  struct pn_ckks_ct *x2 = NULL, *x4 = NULL, *y = ct_or_null(b);
  int rc = y ? PN_OK : PN_ERR_NOMEM, have = 0;
  if (!rc && n >= 2) {
    x2 = ct_or_null(b);
    if (!x2) rc = PN_ERR_NOMEM;
    else rc = mul_rescale(b, x, x, x->scale * x->scale / (double)c->mod[x->level].q, x2);
  }
  if (!rc && n >= 3) {
    x4 = ct_or_null(b);
    if (!x4) rc = PN_ERR_NOMEM;
    else rc = mul_rescale(b, x2, x2, x2->scale * x2->scale / (double)c->mod[x2->level].q, x4);
  }
  for (int j = 0; j < n && !rc; j++) {
    if (co[j] == 0) continue;
    const struct pn_ckks_ct *f[2];
    int nf = 0;
    if (j & 1) f[nf++] = x2;
    if (j & 2) f[nf++] = x4;
    /* forward levels, backward scales */
    int lvl = x->level - 1, ml[2];
    for (int i = 0; i < nf; i++) {
      ml[i] = imin(lvl, f[i]->level);
      lvl = ml[i] - 1;
    }
    double s[3];
    s[nf] = target;
    for (int i = nf - 1; i >= 0; i--) s[i] = s[i + 1] * (double)c->mod[ml[i]].q / f[i]->scale;
    rc = pn_ckks_mul_const_rescale_to(b->ctx, c, x, co[j], s[0], y);
    if (b->rep) b->rep->scalar_muls++;
    for (int i = 0; i < nf && !rc; i++) rc = mul_rescale(b, y, f[i], s[i + 1], y);
    if (!rc) rc = accumulate(b, out, &have, y);
  }
  if (!rc && !have) rc = pn_ckks_mul_const_rescale_to(b->ctx, c, x, 0.0, target, out);
  pn_ckks_ct_free(x2);
  pn_ckks_ct_free(x4);
  pn_ckks_ct_free(y);
  return rc;
}

int pn_ckks_poly_eval_odd_chain(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                                const struct pn_ckks_swk *rk, const struct pn_ckks_ct *x,
                                const double *const *odd, const int *nodd, int nstages,
                                struct pn_ckks_ct *out, struct pn_poly_report *rep) {
  if (nstages < 1) return pn_err(ctx, PN_ERR_INVALID, "ckks poly: empty chain");
  if (x->size != 2) return pn_err(ctx, PN_ERR_INVALID, "ckks poly: relinearise the input first");
  struct pn_poly_report r0;
  memset(&r0, 0, sizeof r0);
  struct bsgs b;
  memset(&b, 0, sizeof b);
  b.ctx = ctx;
  b.c = c;
  b.rk = rk;
  b.rep = &r0;
  /* depth check up front */
  int need = 0;
  for (int s = 0; s < nstages; s++) {
    if (nodd[s] < 1 || nodd[s] > (PN_POLY_MAX_DEGREE + 1) / 2)
      return pn_err(ctx, PN_ERR_INVALID, "ckks poly: stage %d has %d odd coefficients", s, nodd[s]);
    if (nodd[s] <= 4) {
      need += ceil_log2(2 * nodd[s]); /* degree 2n-1: ceil(log2(2n)) levels */
    } else {
      int deg = 2 * nodd[s] - 1;
      double *full = calloc((size_t)deg + 1, sizeof *full);
      if (!full) return pn_err(ctx, PN_ERR_NOMEM, "ckks poly");
      for (int j = 0; j < nodd[s]; j++) full[2 * j + 1] = odd[s][j];
      need += pn_ckks_poly_depth(full, deg);
      free(full);
    }
  }
  if (need > x->level)
    return pn_err(ctx, PN_ERR_INVALID, "ckks poly: the chain needs %d levels, the input has %d", need, x->level);
  struct pn_ckks_ct *cur = ct_or_null(&b), *nxt = ct_or_null(&b);
  int rc = (cur && nxt) ? pn_ckks_ct_copy(ctx, x, cur) : PN_ERR_NOMEM;
  for (int s = 0; s < nstages && !rc; s++) {
    if (nodd[s] <= 4) {
      rc = eval_odd_small(&b, cur, odd[s], nodd[s], x->scale, nxt);
    } else {
      int deg = 2 * nodd[s] - 1;
      double *full = calloc((size_t)deg + 1, sizeof *full);
      if (!full) {
        rc = pn_err(ctx, PN_ERR_NOMEM, "ckks poly");
        break;
      }
      for (int j = 0; j < nodd[s]; j++) full[2 * j + 1] = odd[s][j];
      struct pn_poly_report sub;
      rc = pn_ckks_poly_eval(ctx, c, rk, cur, full, deg, nxt, &sub);
      free(full);
      if (!rc) {
        r0.nonscalar_muls += sub.nonscalar_muls;
        r0.scalar_muls += sub.scalar_muls;
      }
    }
    struct pn_ckks_ct *t = cur;
    cur = nxt;
    nxt = t;
  }
  if (!rc) rc = pn_ckks_ct_copy(ctx, cur, out);
  pn_ckks_ct_free(cur);
  pn_ckks_ct_free(nxt);
  if (!rc) {
    r0.depth = r0.levels_used = x->level - out->level;
    if (rep) *rep = r0;
  }
  return rc;
}
