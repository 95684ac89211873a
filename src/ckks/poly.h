/* poly.h - polynomial evaluation on CKKS ciphertexts: baby-step giant-step for any degree, minimal-depth
** chains of low-degree odd polynomials (the f o g compositions of SmartPAF's PAFs). */
#ifndef PN_CKKS_POLY_H
#define PN_CKKS_POLY_H

#include "ckks.h"
#include "../util/api.h"

#define PN_POLY_MAX_DEGREE 1023

/* What an evaluation cost. depth = levels consumed (input level - output level). */
struct pn_poly_report {
  int depth;
  int levels_used;       /* = depth; kept separate for callers that print both names */
  int nonscalar_muls;    /* ciphertext x ciphertext products (each relinearised) */
  int scalar_muls;       /* products by constants */
  int baby, giant;       /* BSGS split: baby steps x^1..x^baby, giant powers x^(baby 2^j) */
};

/* out = sum_{i=0}^{degree} coeffs[i] x^i, evaluated with baby-step giant-step in the power basis:
** at most 2 ceil(sqrt(d+1)) + ceil(log2(d+1)) ciphertext products where such a split exists (always for
** d >= 3), and among those the least depth (ceil(log2(d+1)) for every d <= 31 tried in the tests). The output has exactly
** the input's scale. PN_ERR_INVALID if x has too few levels (the message says how many are needed). */
PN_API int pn_ckks_poly_eval(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                             const struct pn_ckks_swk *rk,
                             const struct pn_ckks_ct *x, const double *coeffs, int degree, struct pn_ckks_ct *out,
                             struct pn_poly_report *rep /* OUT, may be NULL */);

/* Levels pn_ckks_poly_eval needs for this polynomial (without evaluating). */
PN_API int pn_ckks_poly_depth(const double *coeffs, int degree);

/* out = sum_{i=0}^{degree} coeffs[i] T_i(x) in the Chebyshev basis, for x in [-1, 1] (the caller maps its
** interval there): the same baby-step giant-step split as the power basis (baby T_1..T_k, giant T_(k 2^j),
** division p = q T_m + r with T_m T_j = (T_(m+j) + T_(m-j)) / 2), which keeps every intermediate bounded
** where power-basis coefficients of a wide-interval interpolant would cancel catastrophically. The output
** has exactly scale `target` (<= 0: x's scale). Errors as pn_ckks_poly_eval. */
PN_API int pn_ckks_poly_eval_cheb(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                           const struct pn_ckks_ct *x, const double *coeffs, int degree, double target,
                           struct pn_ckks_ct *out, struct pn_poly_report *rep /* OUT, may be NULL */);
/* Levels pn_ckks_poly_eval_cheb needs (-1 for a bad degree). */
PN_API int pn_ckks_poly_cheb_depth(const double *coeffs, int degree);
/* Plain sum coeffs[i] T_i(x) (Clenshaw's recurrence), for checking and for plaintext references. */
PN_API double pn_poly_cheb_plain(const double *coeffs, int degree, double x);

/* Composite of odd polynomials: stage k is sum_j odd[k][j] x^(2j+1), j < nodd[k]; stage 0 is applied
** first (SmartPAF's f1^2 o g1^2 = g1(g1(f1(f1(x))))). Stages of degree <= 7 use a minimal-depth schedule
** (degree 3: 2 levels, 5 and 7: 3 levels); higher stages fall back to pn_ckks_poly_eval. The plaintext
** reference of the same chain, and SmartPAF's coefficient tables, are in graph/paf.h. */
PN_API int pn_ckks_poly_eval_odd_chain(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                                const struct pn_ckks_swk *rk, const struct pn_ckks_ct *x,
                                const double *const *odd, const int *nodd, int nstages,
                                struct pn_ckks_ct *out, struct pn_poly_report *rep /* OUT, may be NULL */);

#endif
