/* ckks_eval.c - homomorphic evaluation: add/sub/negate, plaintext and constant ops, multiply, relinearise,
** rescale, level/scale matching, rotations and conjugation.
**
** All ciphertexts are in NTT form, so additions and products are limb-wise and pointwise; operands at
** different levels are combined at the lower level (the higher one's extra limbs are ignored). Rescaling
** divides by the top prime with rounding (the dropped residue is centred before being subtracted).
** Rotations apply the Galois automorphism as an index permutation of the evaluation form, then key-switch
** the second component back to s. Outputs may alias inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_impl.h"

static int check_ct(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                    const char *op) {
  if (a->n != c->n || a->nq != c->nq || a->level < 0 || a->level >= c->nq || a->size < 2 || a->size > 3 ||
      a->size > a->cap || !pn_ckks_fp_ok(c, a->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks %s: ciphertext of other parameters", op);
  return PN_OK;
}

static int scales_match(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)); }

static int min_i(int a, int b) { return a < b ? a : b; }

static int addsub(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                  const struct pn_ckks_ct *b, struct pn_ckks_ct *out, int sub, const char *op) {
  int rc;
  if ((rc = check_ct(ctx, c, a, op)) || (rc = check_ct(ctx, c, b, op)) || (rc = check_ct(ctx, c, out, op)))
    return rc;
  if (!scales_match(a->scale, b->scale))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks %s: scales differ (2^%.6f vs 2^%.6f)", op, log2(a->scale),
                  log2(b->scale));
  int size = a->size > b->size ? a->size : b->size, l = min_i(a->level, b->level);
  if ((rc = pn_ckks_ct_reserve(ctx, out, size))) return rc;
  const size_t n = c->n;
  for (int j = 0; j < size; j++) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i <= l; i++) {
      const uint64_t q = c->mod[i].q;
      uint64_t *o = ct_limb(out, j, i);
      const uint64_t *x = j < a->size ? ct_limb(a, j, i) : NULL, *y = j < b->size ? ct_limb(b, j, i) : NULL;
      if (x && y) {
        if (sub)
          for (size_t k = 0; k < n; k++) o[k] = pn_mod_sub(x[k], y[k], q);
        else
          for (size_t k = 0; k < n; k++) o[k] = pn_mod_add(x[k], y[k], q);
      } else if (x) {
        if (o != x) memcpy(o, x, n * sizeof *o);
      } else {
        if (sub)
          for (size_t k = 0; k < n; k++) o[k] = pn_mod_neg(y[k], q);
        else if (o != y)
          memcpy(o, y, n * sizeof *o);
      }
    }
  }
  out->size = size;
  out->level = l;
  out->scale = a->scale;
  return PN_OK;
}

int pn_ckks_add(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                const struct pn_ckks_ct *b, struct pn_ckks_ct *out) {
  return addsub(ctx, c, a, b, out, 0, "add");
}

int pn_ckks_sub(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                const struct pn_ckks_ct *b, struct pn_ckks_ct *out) {
  return addsub(ctx, c, a, b, out, 1, "sub");
}

int pn_ckks_negate(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                   struct pn_ckks_ct *out) {
  int rc;
  if ((rc = check_ct(ctx, c, a, "negate")) || (rc = check_ct(ctx, c, out, "negate"))) return rc;
  if ((rc = pn_ckks_ct_reserve(ctx, out, a->size))) return rc;
  for (int j = 0; j < a->size; j++)
    for (int i = 0; i <= a->level; i++) {
      const uint64_t q = c->mod[i].q, *x = ct_limb(a, j, i);
      uint64_t *o = ct_limb(out, j, i);
      for (size_t k = 0; k < c->n; k++) o[k] = pn_mod_neg(x[k], q);
    }
  out->size = a->size;
  out->level = a->level;
  out->scale = a->scale;
  return PN_OK;
}

static int check_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_pt *p,
                    const char *op) {
  if (p->n != c->n || p->nq != c->nq || p->level < 0 || p->level >= c->nq || !pn_ckks_fp_ok(c, p->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks %s: plaintext of other parameters", op);
  return PN_OK;
}

static int op_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                 const struct pn_ckks_pt *b, struct pn_ckks_ct *out, int kind, const char *op) {
  int rc;
  if ((rc = check_ct(ctx, c, a, op)) || (rc = check_ct(ctx, c, out, op)) || (rc = check_pt(ctx, c, b, op)))
    return rc;
  if (kind != 2 && !scales_match(a->scale, b->scale))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks %s: scales differ (2^%.6f vs 2^%.6f)", op, log2(a->scale),
                  log2(b->scale));
  int l = min_i(a->level, b->level);
  if ((rc = pn_ckks_ct_reserve(ctx, out, a->size))) return rc;
  const size_t n = c->n;
  for (int j = 0; j < a->size; j++) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i <= l; i++) {
      const struct pn_mod *m = &c->mod[i];
      const uint64_t q = m->q, *x = ct_limb(a, j, i), *y = b->data + (size_t)i * n;
      uint64_t *o = ct_limb(out, j, i);
      if (kind == 2)
        for (size_t k = 0; k < n; k++) o[k] = pn_mod_mul(m, x[k], y[k]);
      else if (j > 0) {
        if (o != x) memcpy(o, x, n * sizeof *o);
      } else if (kind == 0)
        for (size_t k = 0; k < n; k++) o[k] = pn_mod_add(x[k], y[k], q);
      else
        for (size_t k = 0; k < n; k++) o[k] = pn_mod_sub(x[k], y[k], q);
    }
  }
  out->size = a->size;
  out->level = l;
  out->scale = kind == 2 ? a->scale * b->scale : a->scale;
  return PN_OK;
}

int pn_ckks_add_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                   const struct pn_ckks_pt *b, struct pn_ckks_ct *out) {
  return op_pt(ctx, c, a, b, out, 0, "add_pt");
}
int pn_ckks_sub_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                   const struct pn_ckks_pt *b, struct pn_ckks_ct *out) {
  return op_pt(ctx, c, a, b, out, 1, "sub_pt");
}
int pn_ckks_mul_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                   const struct pn_ckks_pt *b, struct pn_ckks_ct *out) {
  return op_pt(ctx, c, a, b, out, 2, "mul_pt");
}

int pn_ckks_mul_pt_sum(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *const *x,
                       const struct pn_ckks_pt *const *pt, int m, struct pn_ckks_ct *out) {
  static const char op[] = "mul_pt_sum";
  int rc;
  if (m < 1 || m > PN_RING_DOT_MAX)
    return pn_err(ctx, PN_ERR_INVALID, "ckks %s: %d terms (1 to %d)", op, m, PN_RING_DOT_MAX);
  if ((rc = check_ct(ctx, c, out, op))) return rc;
  for (int r = 0; r < m; r++) {
    if ((rc = check_ct(ctx, c, x[r], op)) || (rc = check_pt(ctx, c, pt[r], op))) return rc;
    if (x[r] == out) return pn_err(ctx, PN_ERR_INVALID, "ckks %s: the output is term %d's ciphertext", op, r);
    if (x[r]->size != 2 || x[r]->level != x[0]->level || pt[r]->level < x[0]->level ||
        !scales_match(x[r]->scale, x[0]->scale) || !scales_match(pt[r]->scale, pt[0]->scale))
      return pn_err(ctx, PN_ERR_INVALID, "ckks %s: term %d's size, level or scale differs from term 0's", op, r);
  }
  const int l = x[0]->level;
  const double scale = x[0]->scale * pt[0]->scale;
  if ((rc = pn_ckks_ct_reserve(ctx, out, 2))) return rc;
  const size_t n = c->n;
#pragma omp parallel for schedule(static) collapse(2)
  for (int j = 0; j < 2; j++)
    for (int i = 0; i <= l; i++) {
      const uint64_t *a[PN_RING_DOT_MAX], *b[PN_RING_DOT_MAX];
      for (int r = 0; r < m; r++) {
        a[r] = ct_limb(x[r], j, i);
        b[r] = pt[r]->data + (size_t)i * n;
      }
      pn_vec_dot_mod(&c->mod[i], a, b, NULL, m, n, ct_limb(out, j, i), NULL);
    }
  out->size = 2;
  out->level = l;
  out->scale = scale;
  return PN_OK;
}

/* The constant v (times scale, rounded) as a polynomial re + im X^(N/2) in NTT form, limbs 0..l.
** Returns 1 if it is purely real (then only out[i * n] is set: the same value at every point). */
static int const_poly(const struct pn_ckks_context *c, double complex v, double scale, int l, uint64_t *out,
                      int full) {
  uint64_t re[PN_CKKS_MAX_PRIMES], im[PN_CKKS_MAX_PRIMES];
  double r = round(creal(v) * scale), m = round(cimag(v) * scale);
  pn_ckks_double_to_rns(c, r, l, re);
  if (m == 0 && !full) {
    for (int i = 0; i <= l; i++) out[(size_t)i * c->n] = re[i];
    return 1;
  }
  pn_ckks_double_to_rns(c, m, l, im);
  for (int i = 0; i <= l; i++) {
    uint64_t *o = out + (size_t)i * c->n;
    memset(o, 0, c->n * sizeof *o);
    o[0] = re[i];
    o[c->n / 2] = im[i];
    pn_ntt_fwd(&c->ntt[i], o);
  }
  return 0;
}

static int const_ok(struct pn_ctx *ctx, double complex v, double scale, const char *op) {
  double mx = fmax(fabs(creal(v)), fabs(cimag(v))) * scale;
  if (!isfinite(mx) || !(scale > 0) || mx >= 1.2676506002282294e30)
    return pn_err(ctx, PN_ERR_INVALID, "ckks %s: constant %g at scale %g out of range", op, creal(v), scale);
  return PN_OK;
}

int pn_ckks_add_const(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                      double complex v, struct pn_ckks_ct *out) {
  int rc;
  if ((rc = check_ct(ctx, c, a, "add_const")) || (rc = check_ct(ctx, c, out, "add_const")) ||
      (rc = const_ok(ctx, v, a->scale, "add_const")))
    return rc;
  if ((rc = pn_ckks_ct_copy(ctx, a, out))) return rc;
  const size_t n = c->n;
  uint64_t *cp = malloc((size_t)(a->level + 1) * n * sizeof *cp);
  if (!cp) return pn_err(ctx, PN_ERR_NOMEM, "ckks add_const");
  int real = const_poly(c, v, a->scale, a->level, cp, 0);
#pragma omp parallel for schedule(static)
  for (int i = 0; i <= a->level; i++) {
    const uint64_t q = c->mod[i].q, *y = cp + (size_t)i * n;
    uint64_t *o = ct_limb(out, 0, i);
    if (real)
      for (size_t k = 0; k < n; k++) o[k] = pn_mod_add(o[k], y[0], q);
    else
      for (size_t k = 0; k < n; k++) o[k] = pn_mod_add(o[k], y[k], q);
  }
  free(cp);
  return PN_OK;
}

int pn_ckks_mul_const(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                      double complex v, double const_scale, struct pn_ckks_ct *out) {
  int rc;
  if ((rc = check_ct(ctx, c, a, "mul_const")) || (rc = check_ct(ctx, c, out, "mul_const")) ||
      (rc = const_ok(ctx, v, const_scale, "mul_const")))
    return rc;
  if ((rc = pn_ckks_ct_reserve(ctx, out, a->size))) return rc;
  const size_t n = c->n;
  uint64_t *cp = malloc((size_t)(a->level + 1) * n * sizeof *cp);
  if (!cp) return pn_err(ctx, PN_ERR_NOMEM, "ckks mul_const");
  int real = const_poly(c, v, const_scale, a->level, cp, 0);
  for (int j = 0; j < a->size; j++) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i <= a->level; i++) {
      const struct pn_mod *m = &c->mod[i];
      const uint64_t q = m->q, *y = cp + (size_t)i * n, *x = ct_limb(a, j, i);
      uint64_t *o = ct_limb(out, j, i);
      if (real) {
        const uint64_t w = y[0], ws = pn_shoup(w, q);
        for (size_t k = 0; k < n; k++) o[k] = pn_mul_shoup(x[k], w, ws, q);
      } else {
        for (size_t k = 0; k < n; k++) o[k] = pn_mod_mul(m, x[k], y[k]);
      }
    }
  }
  free(cp);
  out->size = a->size;
  out->level = a->level;
  out->scale = a->scale * const_scale;
  return PN_OK;
}

int pn_ckks_mul_const_rescale_to(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                                 const struct pn_ckks_ct *a, double v, double target,
                                 struct pn_ckks_ct *out) {
  int rc;
  if ((rc = check_ct(ctx, c, a, "mul_const_rescale_to"))) return rc;
  if (a->level < 1) return pn_err(ctx, PN_ERR_INVALID, "ckks mul_const_rescale_to: no level left");
  double cs = target * (double)c->mod[a->level].q / a->scale;
  if ((rc = pn_ckks_mul_const(ctx, c, a, v, cs, out))) return rc;
  if ((rc = pn_ckks_rescale(ctx, c, out, out))) return rc;
  out->scale = target;
  return PN_OK;
}

int pn_ckks_mul_int(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                    int64_t k, struct pn_ckks_ct *out) {
  int rc;
  if ((rc = check_ct(ctx, c, a, "mul_int")) || (rc = check_ct(ctx, c, out, "mul_int"))) return rc;
  if ((rc = pn_ckks_ct_reserve(ctx, out, a->size))) return rc;
  for (int j = 0; j < a->size; j++)
    for (int i = 0; i <= a->level; i++) {
      const uint64_t q = c->mod[i].q, w = pn_mod_from_i64(k, q), ws = pn_shoup(w, q), *x = ct_limb(a, j, i);
      uint64_t *o = ct_limb(out, j, i);
      for (size_t t = 0; t < c->n; t++) o[t] = pn_mul_shoup(x[t], w, ws, q);
    }
  out->size = a->size;
  out->level = a->level;
  out->scale = a->scale;
  return PN_OK;
}

int pn_ckks_mul(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                const struct pn_ckks_ct *b, struct pn_ckks_ct *out) {
  int rc;
  if ((rc = check_ct(ctx, c, a, "mul")) || (rc = check_ct(ctx, c, b, "mul")) ||
      (rc = check_ct(ctx, c, out, "mul")))
    return rc;
  if (a->size != 2 || b->size != 2)
    return pn_err(ctx, PN_ERR_INVALID, "ckks mul: operands must be relinearised (size 2)");
  if ((rc = pn_ckks_ct_reserve(ctx, out, 3))) return rc;
  const int l = min_i(a->level, b->level);
  const size_t n = c->n;
  const double scale = a->scale * b->scale;
#pragma omp parallel for schedule(static)
  for (int i = 0; i <= l; i++) {
    const struct pn_mod *m = &c->mod[i];
    const uint64_t q = m->q;
    const uint64_t *a0 = ct_limb(a, 0, i), *a1 = ct_limb(a, 1, i), *b0 = ct_limb(b, 0, i),
                   *b1 = ct_limb(b, 1, i);
    uint64_t *d0 = ct_limb(out, 0, i), *d1 = ct_limb(out, 1, i), *d2 = ct_limb(out, 2, i);
    for (size_t k = 0; k < n; k++) {
      uint64_t x0 = a0[k], x1 = a1[k], y0 = b0[k], y1 = b1[k];
      /* x0 y1 + x1 y0 < 2 q^2 < 2^123: one reduction */
      d1[k] = pn_mod_red128(m, (pn_u128)x0 * y1 + (pn_u128)x1 * y0);
      d0[k] = pn_mod_mul(m, x0, y0);
      d2[k] = pn_mod_mul(m, x1, y1);
      (void)q;
    }
  }
  out->size = 3;
  out->level = l;
  out->scale = scale;
  return PN_OK;
}

int pn_ckks_relin(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                  const struct pn_ckks_ct *a, struct pn_ckks_ct *out) {
  int rc;
  if ((rc = check_ct(ctx, c, a, "relin")) || (rc = check_ct(ctx, c, out, "relin"))) return rc;
  if (!rk || !pn_ckks_fp_ok(c, rk->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks relin: relinearisation key of other parameters");
  if (a->size == 2) return pn_ckks_ct_copy(ctx, a, out);
  const size_t n = c->n;
  const int nl = a->level + 1;
  uint64_t *k = pn_ckks_scratch_get(c, 2 * (size_t)nl * n * sizeof *k);
  if (!k) return pn_err(ctx, PN_ERR_NOMEM, "ckks relin");
  rc = pn_ckks_keyswitch(ctx, c, rk, ct_limb(a, 2, 0), n, a->level, k, k + (size_t)nl * n);
  if (!rc) rc = pn_ckks_ct_reserve(ctx, out, 2);
  if (rc) {
    pn_ckks_scratch_put(c, k);
    return rc;
  }
  for (int j = 0; j < 2; j++) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < nl; i++) {
      const uint64_t q = c->mod[i].q, *x = ct_limb(a, j, i), *y = k + ((size_t)j * nl + i) * n;
      uint64_t *o = ct_limb(out, j, i);
      for (size_t t = 0; t < n; t++) o[t] = pn_mod_add(x[t], y[t], q);
    }
  }
  pn_ckks_scratch_put(c, k);
  out->size = 2;
  out->level = a->level;
  out->scale = a->scale;
  return PN_OK;
}

int pn_ckks_mul_relin(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                      const struct pn_ckks_ct *a, const struct pn_ckks_ct *b, struct pn_ckks_ct *out) {
  int rc;
  if (!rk || !pn_ckks_fp_ok(c, rk->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks mul_relin: relinearisation key of other parameters");
  if ((rc = check_ct(ctx, c, a, "mul_relin")) || (rc = check_ct(ctx, c, b, "mul_relin")) ||
      (rc = check_ct(ctx, c, out, "mul_relin")))
    return rc;
  if (a->size != 2 || b->size != 2)
    return pn_err(ctx, PN_ERR_INVALID, "ckks mul_relin: operands must be relinearised (size 2)");
  /* the tensor's third polynomial a1 b1 goes to a buffer and is switched from there: out only ever holds
  ** two polynomials (no size-3 intermediate to allocate and copy) */
  const int l = min_i(a->level, b->level), nl = l + 1;
  const size_t n = c->n;
  const double scale = a->scale * b->scale;
  uint64_t *buf = pn_ckks_scratch_get(c, 3 * (size_t)nl * n * sizeof *buf);
  if (!buf) return pn_err(ctx, PN_ERR_NOMEM, "ckks mul_relin");
  uint64_t *d2 = buf, *k0 = buf + (size_t)nl * n, *k1 = k0 + (size_t)nl * n;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nl; i++) {
    const struct pn_mod *m = &c->mod[i];
    const uint64_t *a1 = ct_limb(a, 1, i), *b1 = ct_limb(b, 1, i);
    uint64_t *e = d2 + (size_t)i * n;
    for (size_t k = 0; k < n; k++) e[k] = pn_mod_mul(m, a1[k], b1[k]);
  }
  rc = pn_ckks_keyswitch(ctx, c, rk, d2, n, l, k0, k1);
  if (!rc) rc = pn_ckks_ct_reserve(ctx, out, 2);
  if (!rc) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < nl; i++) {
      const struct pn_mod *m = &c->mod[i];
      const uint64_t q = m->q;
      const uint64_t *a0 = ct_limb(a, 0, i), *a1 = ct_limb(a, 1, i), *b0 = ct_limb(b, 0, i),
                     *b1 = ct_limb(b, 1, i), *x0 = k0 + (size_t)i * n, *x1 = k1 + (size_t)i * n;
      uint64_t *o0 = ct_limb(out, 0, i), *o1 = ct_limb(out, 1, i);
      for (size_t k = 0; k < n; k++) {
        /* a0 b1 + a1 b0 < 2 q^2 < 2^123: one reduction (out may alias a or b: read before writing) */
        const uint64_t u0 = a0[k], u1 = a1[k], v0 = b0[k], v1 = b1[k];
        o1[k] = pn_mod_add(pn_mod_red128(m, (pn_u128)u0 * v1 + (pn_u128)u1 * v0), x1[k], q);
        o0[k] = pn_mod_add(pn_mod_mul(m, u0, v0), x0[k], q);
      }
    }
  }
  pn_ckks_scratch_put(c, buf);
  if (rc) return rc;
  out->size = 2;
  out->level = l;
  out->scale = scale;
  return PN_OK;
}

int pn_ckks_rescale(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                    struct pn_ckks_ct *out) {
  int rc;
  if ((rc = check_ct(ctx, c, a, "rescale")) || (rc = check_ct(ctx, c, out, "rescale"))) return rc;
  const int l = a->level;
  if (l < 1) return pn_err(ctx, PN_ERR_INVALID, "ckks rescale: ciphertext at level 0");
  if ((rc = pn_ckks_ct_reserve(ctx, out, a->size))) return rc;
  const size_t n = c->n, nq = (size_t)c->nq;
  const uint64_t ql = c->mod[l].q;
  uint64_t *buf = pn_ckks_scratch_get(c, (size_t)(l + 1) * n * sizeof *buf);
  if (!buf) return pn_err(ctx, PN_ERR_NOMEM, "ckks rescale");
  uint64_t *last = buf + (size_t)l * n;
  for (int j = 0; j < a->size; j++) {
    memcpy(last, ct_limb(a, j, l), n * sizeof *last);
    pn_ntt_inv(&c->ntt[l], last);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < l; i++) {
      const struct pn_mod *m = &c->mod[i];
      const uint64_t q = m->q, w = c->qlinv[(size_t)l * nq + i],
                     ws = c->qlinvs[(size_t)l * nq + i];
      uint64_t *t = buf + (size_t)i * n, *o = ct_limb(out, j, i);
      const uint64_t *x = ct_limb(a, j, i);
      pn_vec_centred_lift(last, ql, m, t, n); /* v > ql/2 stands for v - ql: rounding, not flooring */
      pn_ntt_fwd_lazy(&c->ntt[i], t);
      pn_vec_sub_mul_shoup(x, t, q, w, ws, o, n);
    }
  }
  pn_ckks_scratch_put(c, buf);
  out->size = a->size;
  out->level = l - 1;
  out->scale = a->scale / (double)ql;
  return PN_OK;
}

int pn_ckks_drop_level(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                       int level, struct pn_ckks_ct *out) {
  int rc;
  if ((rc = check_ct(ctx, c, a, "drop_level")) || (rc = check_ct(ctx, c, out, "drop_level"))) return rc;
  if (level < 0 || level > a->level)
    return pn_err(ctx, PN_ERR_INVALID, "ckks drop_level: level %d not in [0, %d]", level, a->level);
  if (a != out) {
    if ((rc = pn_ckks_ct_reserve(ctx, out, a->size))) return rc;
    for (int j = 0; j < a->size; j++)
      memcpy(ct_limb(out, j, 0), ct_limb(a, j, 0), (size_t)(level + 1) * c->n * sizeof *out->data);
    out->size = a->size;
    out->scale = a->scale;
  }
  out->level = level;
  return PN_OK;
}

int pn_ckks_match(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                  int level, double scale, struct pn_ckks_ct *out) {
  int rc;
  if ((rc = check_ct(ctx, c, a, "match"))) return rc;
  if (scales_match(a->scale, scale)) {
    if (level > a->level)
      return pn_err(ctx, PN_ERR_INVALID, "ckks match: level %d above the ciphertext's %d", level, a->level);
    return pn_ckks_drop_level(ctx, c, a, level, out);
  }
  if (level > a->level - 1)
    return pn_err(ctx, PN_ERR_INVALID, "ckks match: changing the scale needs one level (at %d, want %d)",
                  a->level, level);
  if ((rc = pn_ckks_mul_const_rescale_to(ctx, c, a, 1.0, scale, out))) return rc;
  return pn_ckks_drop_level(ctx, c, out, level, out);
}

static int galois_key(const struct pn_ckks_gk *gk, uint64_t g) {
  for (int i = 0; i < gk->count; i++)
    if (gk->galois[i] == g) return i;
  return -1;
}

/* out_i = phi_{g_i}(a) for the Galois elements g[0..m): one ModUp of a's second polynomial shared by all
** (hoisting), then per element the inner product with its key (which switches s to phi^-1(s)), two
** ModDowns, and the permutation phi applied to the result: phi(a0 + d0) + phi(d1) s = phi(a0 + a1 s). */
static int apply_galois_many(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                             const struct pn_ckks_ct *a, const uint64_t *g, int m, struct pn_ckks_ct *const *out,
                             const char *op) {
  int rc;
  if ((rc = check_ct(ctx, c, a, op))) return rc;
  for (int i = 0; i < m; i++)
    if ((rc = check_ct(ctx, c, out[i], op))) return rc;
  if (a->size != 2) return pn_err(ctx, PN_ERR_INVALID, "ckks %s: relinearise first", op);
  if (!gk || !pn_ckks_fp_ok(c, gk->fp)) return pn_err(ctx, PN_ERR_MISMATCH, "ckks %s: Galois keys of other parameters", op);
  for (int i = 0; i < m; i++)
    if (g[i] != 1 && galois_key(gk, g[i]) < 0)
      return pn_err(ctx, PN_ERR_INVALID, "ckks %s: no Galois key for element %llu", op, (unsigned long long)g[i]);
  const size_t n = c->n;
  /* keys per inner-product batch: one. Batching 8 (the digits read once for all) measured ~10% slower at
  ** N = 2^15: the batch's accumulators (33 MB each) leave the cache before their ModDowns read them. */
  const int nl = a->level + 1, ns = nl + c->np, B = 1;
  const size_t dw = pn_ckks_modup_words(c, a->level), cw = 2 * (size_t)nl * n, aw = 2 * (size_t)ns * n;
  uint32_t *perm = malloc(n * sizeof *perm);
  uint64_t *buf = pn_ckks_scratch_get(c, (2 * cw + dw + (size_t)B * aw) * sizeof *buf);
  if (!perm || !buf) {
    free(perm);
    pn_ckks_scratch_put(c, buf);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks %s", op);
  }
  /* a's polynomials are copied first: outputs may alias a */
  uint64_t *a0 = buf, *a1 = buf + (size_t)nl * n, *t0 = buf + cw, *t1 = t0 + (size_t)nl * n, *D = buf + 2 * cw,
           *accb = D + dw;
  const int level = a->level;
  const double scale = a->scale;
  memcpy(a0, ct_limb(a, 0, 0), (size_t)nl * n * sizeof *a0);
  memcpy(a1, ct_limb(a, 1, 0), (size_t)nl * n * sizeof *a1);
  int need = 0;
  for (int i = 0; i < m; i++) need |= g[i] != 1;
  rc = need ? pn_ckks_modup(ctx, c, a1, level, D) : PN_OK;
  for (int r0 = 0; r0 < m && !rc; r0 += B) {
    /* the batch's inner products together (the digits read once), then per element two ModDowns and phi */
    const struct pn_ckks_swk *keys[1];
    uint64_t *acc[1];
    int nk = 0;
    for (int r = r0; r < m && r < r0 + B; r++)
      if (g[r] != 1) {
        acc[nk] = accb + (size_t)nk * aw;
        keys[nk++] = gk->keys[galois_key(gk, g[r])];
      }
    if (nk && (rc = pn_ckks_ks_inner(ctx, c, keys, nk, D, level, acc))) break;
    for (int r = r0, k = 0; r < m && r < r0 + B && !rc; r++) {
      struct pn_ckks_ct *o = out[r];
      if ((rc = pn_ckks_ct_reserve(ctx, o, 2))) break;
      o->size = 2;
      o->level = level;
      o->scale = scale;
      if (g[r] == 1) {
        memcpy(ct_limb(o, 0, 0), a0, (size_t)nl * n * sizeof *a0);
        memcpy(ct_limb(o, 1, 0), a1, (size_t)nl * n * sizeof *a1);
        continue;
      }
      uint64_t *ac = acc[k++];
      memcpy(t0, a0, (size_t)nl * n * sizeof *t0);
      rc = pn_ckks_moddown(ctx, c, ac, level, t0, 1);
      if (!rc) rc = pn_ckks_moddown(ctx, c, ac + (size_t)ns * n, level, t1, 0);
      if (rc) break;
      pn_ntt_galois_perm(c->logn, g[r], perm);
#pragma omp parallel for schedule(static)
      for (int i = 0; i < nl; i++) {
        const uint64_t *x0 = t0 + (size_t)i * n, *x1 = t1 + (size_t)i * n;
        uint64_t *y0 = ct_limb(o, 0, i), *y1 = ct_limb(o, 1, i);
        for (size_t q = 0; q < n; q++) {
          y0[q] = x0[perm[q]];
          y1[q] = x1[perm[q]];
        }
      }
    }
  }
  free(perm);
  pn_ckks_scratch_put(c, buf);
  return rc;
}

int pn_ckks_rotate(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                   const struct pn_ckks_ct *a, int step, struct pn_ckks_ct *out) {
  uint64_t g = pn_ckks_galois_elt(c, step);
  return apply_galois_many(ctx, c, gk, a, &g, 1, &out, "rotate");
}

int pn_ckks_rotate_hoisted(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                           const struct pn_ckks_ct *a, const int *steps, int nsteps, struct pn_ckks_ct *const *out) {
  if (nsteps < 0 || nsteps > 4096 || (nsteps && (!steps || !out)))
    return pn_err(ctx, PN_ERR_INVALID, "ckks rotate_hoisted: %d steps", nsteps);
  uint64_t *g = malloc((size_t)(nsteps ? nsteps : 1) * sizeof *g);
  if (!g) return pn_err(ctx, PN_ERR_NOMEM, "ckks rotate_hoisted");
  for (int i = 0; i < nsteps; i++) g[i] = pn_ckks_galois_elt(c, steps[i]);
  int rc = apply_galois_many(ctx, c, gk, a, g, nsteps, out, "rotate_hoisted");
  free(g);
  return rc;
}

int pn_ckks_conjugate(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                      const struct pn_ckks_ct *a, struct pn_ckks_ct *out) {
  uint64_t g = pn_ckks_galois_elt(c, PN_CKKS_CONJ);
  return apply_galois_many(ctx, c, gk, a, &g, 1, &out, "conjugate");
}
