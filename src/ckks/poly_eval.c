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

/* Predicted output level of sum a[i] x^i, i <= deg; INT_MAX if only a constant. Counts products. */
static int pred(const struct bsgs *b, const double *a, int deg, int *muls) {
  if (deg < b->k) {
    int l = INT_MAX;
    for (int i = 1; i <= deg; i++)
      if (a[i] != 0) l = imin(l, b->lpw[i] - 1);
    return l;
  }
  int j = 0;
  while (j + 1 < b->ng && (b->k << (j + 1)) <= deg) j++;
  int m = b->k << j;
  int lq = pred(b, a + m, deg - m, muls), lr = pred(b, a, m - 1, muls);
  int lp = INT_MAX;
  if (lq == INT_MAX) {
    if (a[m] != 0) lp = b->lg[j] - 1;
  } else {
    lp = imin(lq, b->lg[j]) - 1;
    if (muls) (*muls)++;
  }
  return imin(lp, lr);
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
    int l = pred(b, a, degree, &muls);
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
  int l = pred(&b, coeffs, degree, NULL);
  return l == INT_MAX ? 0 : 1000 - l;
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
static int eval_rec(struct bsgs *b, const double *a, int deg, double target, struct pn_ckks_ct *out, int *have) {
  int rc = PN_OK;
  *have = 0;
  struct pn_ckks_ct *t = ct_or_null(b);
  if (!t) return PN_ERR_NOMEM;
  if (deg < b->k) {
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
  int j = 0;
  while (j + 1 < b->ng && (b->k << (j + 1)) <= deg) j++;
  const int m = b->k << j;
  const struct pn_ckks_ct *G = b->g[j];
  int lq = pred(b, a + m, deg - m, NULL);
  int haveq = 0, havep = 0, haver = 0;
  if (lq != INT_MAX) {
    int lm = imin(lq, G->level);
    double sq = target * (double)b->c->mod[lm].q / G->scale;
    struct pn_ckks_ct *tq = ct_or_null(b);
    if (!tq) rc = PN_ERR_NOMEM;
    if (!rc) rc = eval_rec(b, a + m, deg - m, sq, tq, &haveq);
    if (!rc && tq->level != lq) rc = pn_err(b->ctx, PN_ERR_INVALID, "ckks poly: level prediction off");
    if (!rc) rc = mul_rescale(b, tq, G, target, t);
    pn_ckks_ct_free(tq);
    havep = 1;
  } else if (a[m] != 0) {
    rc = pn_ckks_mul_const_rescale_to(b->ctx, b->c, G, a[m], target, t);
    if (b->rep) b->rep->scalar_muls++;
    havep = 1;
  }
  if (!rc) rc = eval_rec(b, a, m - 1, target, out, &haver);
  if (!rc && havep) {
    if (!haver && a[0] != 0) rc = pn_ckks_add_const(b->ctx, b->c, t, a[0], t);
    if (!rc) rc = accumulate(b, out, &haver, t);
  }
  *have = haver;
  pn_ckks_ct_free(t);
  return rc;
}

static void bsgs_free(struct bsgs *b) {
  for (int i = 0; i <= MAXK; i++) pn_ckks_ct_free(b->pw[i]);
  for (int j = 1; j < MAXG; j++) pn_ckks_ct_free(b->g[j]); /* g[0] is pw[k] */
}

int pn_ckks_poly_eval(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                      const struct pn_ckks_ct *x, const double *coeffs, int degree, struct pn_ckks_ct *out,
                      struct pn_poly_report *rep) {
  if (degree < 1 || degree > PN_POLY_MAX_DEGREE)
    return pn_err(ctx, PN_ERR_INVALID, "ckks poly: degree %d outside [1, %d]", degree, PN_POLY_MAX_DEGREE);
  for (int i = 0; i <= degree; i++)
    if (!isfinite(coeffs[i])) return pn_err(ctx, PN_ERR_INVALID, "ckks poly: coefficient %d is not finite", i);
  if (x->size != 2) return pn_err(ctx, PN_ERR_INVALID, "ckks poly: relinearise the input first");
  struct bsgs b;
  memset(&b, 0, sizeof b);
  b.ctx = ctx;
  b.c = c;
  b.rk = rk;
  choose_k(&b, coeffs, degree, x->level);
  int lout = pred(&b, coeffs, degree, NULL);
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
  /* powers: x^i = x^(2^t) x^(i - 2^t) with 2^t the largest power of two below i */
  const int npw = b.k < degree ? b.k : degree;
  for (int i = 1; i <= npw && !rc; i++) {
    b.pw[i] = ct_or_null(&b);
    if (!b.pw[i]) {
      rc = PN_ERR_NOMEM;
      break;
    }
    if (i == 1) {
      rc = pn_ckks_ct_copy(ctx, x, b.pw[1]);
    } else {
      int hi = 1 << (ceil_log2(i) - 1), lo = i - hi;
      double want = b.pw[hi]->scale * b.pw[lo]->scale / (double)c->mod[imin(b.pw[hi]->level, b.pw[lo]->level)].q;
      rc = mul_rescale(&b, b.pw[hi], b.pw[lo], want, b.pw[i]);
    }
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
    if (!rc) b.lg[j] = b.g[j]->level;
  }
  int have = 0;
  if (!rc) rc = eval_rec(&b, coeffs, degree, x->scale, out, &have);
  if (!rc && !have) { /* a constant polynomial: 0 * x + a0 */
    rc = pn_ckks_mul_const_rescale_to(ctx, c, x, 0.0, x->scale, out);
    if (!rc) rc = pn_ckks_add_const(ctx, c, out, coeffs[0], out);
  }
  bsgs_free(&b);
  if (!rc) {
    r0.depth = r0.levels_used = x->level - out->level;
    if (rep) *rep = r0;
  }
  return rc;
}

/* ---- odd chains ---- */

double pn_poly_odd_chain_plain(const double *const *odd, const int *nodd, int nstages, double x) {
  for (int s = 0; s < nstages; s++) {
    double x2 = x * x, p = x, acc = 0;
    for (int j = 0; j < nodd[s]; j++) {
      acc += odd[s][j] * p;
      p *= x2;
    }
    x = acc;
  }
  return x;
}

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
