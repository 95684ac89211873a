/* ckks_ext.c - rotations left over the extended basis Q_l P (a lazy ModDown), summed before one ModDown.
**
** A key switch ends with a ModDown per polynomial (INTT of the P limbs, a basis extension to Q_l, NTT of every
** limb: ~nl + np NTTs). A sum of rotations needs only one: the rotations' outputs are kept over Q_l P, scaled
** by P (P c0 + d0, d1 before the division), added there, and divided by P once. An accumulator (struct
** pn_ckks_ext) holds such a sum: two polynomials of nl + np limbs in NTT form, each in one buffer of the
** context's ciphertext pool (2 nq N words >= (nl + np) N when np <= nq). To rotate a sum (a + ax / P) further, only its c1
** needs a ModDown (the decomposition reads Q_l); its c0 enters the next accumulator over Q_l P as it is.
** This is the giant-step half of Bossuat et al.'s double hoisting (2021); the baby-step half (rotations and
** plaintext products over Q_l P) needs the plaintexts' P limbs too and does not pay with resnet-s's baby trees
** (docs/fhe.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_impl.h"

struct pn_ckks_ext {
  int level; /* -1: empty (the sum of nothing) */
  double scale;
  struct pn_ckks_ct *buf[2]; /* polynomial j's limb t (t < nl: q_t, then the special primes) at buf[j]->data + t N */
};

struct pn_ckks_ext *pn_ckks_ext_new(const struct pn_ckks_context *c) {
  struct pn_ckks_ext *e = c ? calloc(1, sizeof *e) : NULL;
  if (!e) return NULL;
  e->level = -1;
  /* nl + np limbs: one pooled buffer (2 nq) unless the chain has fewer primes than special ones (test rings) */
  const int cap = (c->nq + c->np + c->nq - 1) / c->nq;
  struct pn_ctx tctx = {0};
  for (int j = 0; j < 2; j++)
    if (!(e->buf[j] = pn_ckks_ct_new(c)) || pn_ckks_ct_reserve(&tctx, e->buf[j], cap)) {
      pn_ckks_ext_free(e);
      return NULL;
    }
  return e;
}

void pn_ckks_ext_free(struct pn_ckks_ext *e) {
  if (!e) return;
  pn_ckks_ct_free(e->buf[0]);
  pn_ckks_ct_free(e->buf[1]);
  free(e);
}

int pn_ckks_ext_level(const struct pn_ckks_ext *e) { return e ? e->level : -1; }

static uint64_t *ext_poly(const struct pn_ckks_ext *e, int j) { return e->buf[j]->data; }

static int check_in(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a, const char *op) {
  if (a->n != c->n || a->nq != c->nq || a->level < 0 || a->level >= c->nq || a->size != 2 || !pn_ckks_fp_ok(c, a->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks %s: ciphertext of other parameters or of size %d (want 2)", op, a->size);
  return PN_OK;
}

static int ext_ok(const struct pn_ckks_context *c, const struct pn_ckks_ext *e) {
  return e && e->buf[0] && e->buf[1] && e->buf[0]->n == c->n && e->buf[0]->nq == c->nq &&
         pn_ckks_fp_ok(c, e->buf[0]->fp) && e->buf[0]->cap * c->nq >= c->nq + c->np &&
         e->buf[1]->cap * c->nq >= c->nq + c->np;
}

static int scales_eq(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)); }

int pn_ckks_rotate_ext_acc(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                           const struct pn_ckks_ct *a, struct pn_ckks_ext *ax, int step, struct pn_ckks_ext *acc) {
  static const char op[] = "rotate_ext_acc";
  int rc;
  if (!ext_ok(c, acc) || (ax && !ext_ok(c, ax)))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks %s: accumulator of other parameters", op);
  if (ax == acc) return pn_err(ctx, PN_ERR_INVALID, "ckks %s: the input sum is the accumulator", op);
  if (ax && ax->level < 0) ax = NULL;
  if (!a && !ax) return pn_err(ctx, PN_ERR_INVALID, "ckks %s: nothing to rotate", op);
  if (a && (rc = check_in(ctx, c, a, op))) return rc;
  const int level = a ? a->level : ax->level;
  const double scale = a ? a->scale : ax->scale;
  if (ax && (ax->level != level || !scales_eq(ax->scale, scale)))
    return pn_err(ctx, PN_ERR_INVALID, "ckks %s: the two parts' levels or scales differ (%d vs %d)", op, level,
                  ax->level);
  if (acc->level >= 0 && (acc->level != level || !scales_eq(acc->scale, scale)))
    return pn_err(ctx, PN_ERR_INVALID, "ckks %s: the accumulator holds level %d, the rotation is at %d (or scales "
                  "differ)", op, acc->level, level);
  if (!gk || !pn_ckks_fp_ok(c, gk->fp)) return pn_err(ctx, PN_ERR_MISMATCH, "ckks %s: Galois keys of other parameters", op);
  const uint64_t g = pn_ckks_galois_elt(c, step);
  int key = -1;
  for (int i = 0; i < gk->count; i++)
    if (gk->galois[i] == g) key = i;
  if (g == 1) return pn_err(ctx, PN_ERR_INVALID, "ckks %s: step %d is no rotation (add instead)", op, step);
  if (key < 0) return pn_err(ctx, PN_ERR_INVALID, "ckks %s: no Galois key for step %d", op, step);
  const size_t n = c->n;
  const int nl = level + 1, ns = nl + c->np;
  const size_t dw = pn_ckks_modup_words(c, level), aw = 2 * (size_t)ns * n;
  uint32_t *perm = malloc(n * sizeof *perm);
  /* u1: the sum's c1 over Q_l (when ax is there) | D: its decomposition | d: the inner product (2 ns limbs) */
  uint64_t *buf = pn_ckks_scratch_get(c, ((ax ? (size_t)nl * n : 0) + dw + aw) * sizeof *buf);
  if (!perm || !buf) {
    free(perm);
    pn_ckks_scratch_put(c, buf);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks %s", op);
  }
  uint64_t *u1 = ax ? buf : NULL, *D = buf + (ax ? (size_t)nl * n : 0), *d = D + dw;
  const uint64_t *c1 = a ? ct_limb(a, 1, 0) : NULL;
  rc = PN_OK;
  if (ax) { /* c1 = a1 + ax1 / P: ax's c1 is consumed (ModDown works in place on its P limbs) */
    if (a) memcpy(u1, c1, (size_t)nl * n * sizeof *u1);
    rc = pn_ckks_moddown(ctx, c, ext_poly(ax, 1), level, u1, a != NULL);
    c1 = u1;
  }
  if (!rc) rc = pn_ckks_modup(ctx, c, c1, level, D);
  uint64_t *accp = d;
  const struct pn_ckks_swk *kk = gk->keys[key];
  if (!rc) rc = pn_ckks_ks_inner(ctx, c, &kk, 1, D, level, &accp);
  if (!rc) {
    pn_ntt_galois_perm(c->logn, g, perm);
    const int first = acc->level < 0;
    uint64_t *y0 = ext_poly(acc, 0), *y1 = ext_poly(acc, 1);
    const uint64_t *x0 = ax ? ext_poly(ax, 0) : NULL;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < ns; t++) {
      const int p = t < nl ? t : c->nq + (t - nl);
      const uint64_t q = c->mod[p].q;
      const uint64_t *d0 = d + (size_t)t * n, *d1 = d + (size_t)(ns + t) * n;
      const uint64_t *e0 = x0 ? x0 + (size_t)t * n : NULL, *a0 = a && t < nl ? ct_limb(a, 0, t) : NULL;
      const uint64_t w = t < nl ? c->pmodq[t] : 0, ws = t < nl ? pn_shoup(w, q) : 0;
      uint64_t *o0 = y0 + (size_t)t * n, *o1 = y1 + (size_t)t * n;
      for (size_t k = 0; k < n; k++) {
        const uint32_t s = perm[k];
        uint64_t v0 = d0[s], v1 = d1[s];
        if (a0) v0 = pn_mod_add(v0, pn_mul_shoup(a0[s], w, ws, q), q); /* P a0: zero modulo the special primes */
        if (e0) v0 = pn_mod_add(v0, e0[s], q);
        o0[k] = first ? v0 : pn_mod_add(o0[k], v0, q);
        o1[k] = first ? v1 : pn_mod_add(o1[k], v1, q);
      }
    }
    acc->level = level;
    acc->scale = scale;
  }
  if (ax) ax->level = -1; /* consumed */
  free(perm);
  pn_ckks_scratch_put(c, buf);
  return rc;
}

int pn_ckks_ext_moddown(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_ckks_ext *x, int add,
                        struct pn_ckks_ct *out) {
  static const char op[] = "ext_moddown";
  int rc;
  if (!ext_ok(c, x)) return pn_err(ctx, PN_ERR_MISMATCH, "ckks %s: accumulator of other parameters", op);
  if (x->level < 0) return pn_err(ctx, PN_ERR_INVALID, "ckks %s: empty accumulator", op);
  if (add) {
    if ((rc = check_in(ctx, c, out, op))) return rc;
    if (out->level != x->level || !scales_eq(out->scale, x->scale))
      return pn_err(ctx, PN_ERR_INVALID, "ckks %s: adding level %d to a ciphertext at level %d (or scales differ)",
                    op, x->level, out->level);
  } else {
    if (out->n != c->n || out->nq != c->nq || !pn_ckks_fp_ok(c, out->fp))
      return pn_err(ctx, PN_ERR_MISMATCH, "ckks %s: ciphertext of other parameters", op);
    if ((rc = pn_ckks_ct_reserve(ctx, out, 2))) return rc;
  }
  const int level = x->level;
  for (int j = 0; j < 2 && !rc; j++) rc = pn_ckks_moddown(ctx, c, ext_poly(x, j), level, ct_limb(out, j, 0), add);
  if (!rc) {
    out->size = 2;
    out->level = level;
    out->scale = x->scale;
  }
  x->level = -1; /* consumed */
  return rc;
}
