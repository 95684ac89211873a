/* ckks_keys.c - CKKS key generation (secret, public, relinearisation, Galois) and encrypt / decrypt.
**
** The secret s is uniform ternary; errors are centred binomial CBD(21) (sigma ~ 3.24, the HE-standard
** sigma = 3.2 class). Everything is kept in NTT form: uniform polynomials are sampled directly in the
** evaluation domain (uniform either way), small ones are lifted per limb and transformed. Secret material
** (s, encryption randomness v, errors) is wiped before it is freed. */
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_impl.h"
#include "util/wipe.h"

static int check_sk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk);

void pn_ckks_sk_free(struct pn_ckks_sk *sk) {
  if (!sk) return;
  pn_wipe_free(sk->s, sk->n * sizeof *sk->s);
  pn_wipe_free(sk->ntt, (size_t)sk->nt * sk->n * sizeof *sk->ntt);
  pn_wipe(sk, sizeof *sk);
  free(sk);
}

void pn_ckks_pk_free(struct pn_ckks_pk *pk) {
  if (!pk) return;
  free(pk->b);
  free(pk->a);
  free(pk);
}

/* a small polynomial lifted into limbs [0, nl) of out (stride n), NTT form */
static void small_ntt(const struct pn_ckks_context *c, const int8_t *s, int nl, uint64_t *out) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nl; i++) {
    uint64_t *d = out + (size_t)i * c->n;
    pn_small_to_mod(s, c->n, c->mod[i].q, d);
    pn_ntt_fwd(&c->ntt[i], d);
  }
}

int pn_ckks_keygen_secret(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_prg *prg,
                          struct pn_ckks_sk **out) {
  *out = NULL;
  struct pn_ckks_sk *sk = calloc(1, sizeof *sk);
  if (!sk) return pn_err(ctx, PN_ERR_NOMEM, "ckks keygen");
  sk->n = c->n;
  sk->nt = c->nt;
  memcpy(sk->fp, c->fp, sizeof sk->fp);
  sk->s = malloc(c->n);
  sk->ntt = malloc((size_t)c->nt * c->n * sizeof *sk->ntt);
  if (!sk->s || !sk->ntt) {
    pn_ckks_sk_free(sk);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks keygen");
  }
  pn_sample_ternary(prg, c->n, sk->s);
  small_ntt(c, sk->s, c->nt, sk->ntt);
  *out = sk;
  return PN_OK;
}

int pn_ckks_keygen_public(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                          struct pn_prg *prg, struct pn_ckks_pk **out) {
  *out = NULL;
  int rc0 = check_sk(ctx, c, sk);
  if (rc0) return rc0;
  const size_t n = c->n;
  struct pn_ckks_pk *pk = calloc(1, sizeof *pk);
  int8_t *e = malloc(n);
  if (!pk || !e) goto nomem;
  pk->nq = c->nq;
  memcpy(pk->fp, c->fp, sizeof pk->fp);
  pk->b = malloc((size_t)c->nq * n * sizeof *pk->b);
  pk->a = malloc((size_t)c->nq * n * sizeof *pk->a);
  if (!pk->b || !pk->a) goto nomem;
  for (int i = 0; i < c->nq; i++) pn_sample_uniform(prg, c->mod[i].q, n, pk->a + (size_t)i * n);
  pn_sample_cbd(prg, n, e);
  small_ntt(c, e, c->nq, pk->b);
  pn_wipe_free(e, n);
#pragma omp parallel for schedule(static)
  for (int i = 0; i < c->nq; i++) {
    const struct pn_mod *m = &c->mod[i];
    uint64_t *b = pk->b + (size_t)i * n;
    const uint64_t *a = pk->a + (size_t)i * n, *s = sk->ntt + (size_t)i * n;
    for (size_t k = 0; k < n; k++) b[k] = pn_mod_sub(b[k], pn_mod_mul(m, a[k], s[k]), m->q);
  }
  *out = pk;
  return PN_OK;
nomem:
  free(e);
  pn_ckks_pk_free(pk);
  return pn_err(ctx, PN_ERR_NOMEM, "ckks keygen public");
}

int pn_ckks_keygen_relin(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                         struct pn_prg *prg, struct pn_ckks_swk **out) {
  *out = NULL;
  int rc0 = check_sk(ctx, c, sk);
  if (rc0) return rc0;
  const size_t n = c->n;
  uint64_t *s2 = malloc((size_t)c->nt * n * sizeof *s2);
  if (!s2) return pn_err(ctx, PN_ERR_NOMEM, "ckks keygen relin");
  for (int i = 0; i < c->nt; i++) {
    const uint64_t *s = sk->ntt + (size_t)i * n;
    uint64_t *d = s2 + (size_t)i * n;
    for (size_t k = 0; k < n; k++) d[k] = pn_mod_mul(&c->mod[i], s[k], s[k]);
  }
  int rc = pn_ckks_swk_gen(ctx, c, sk, s2, prg, out);
  pn_wipe_free(s2, (size_t)c->nt * n * sizeof *s2);
  return rc;
}

uint64_t pn_ckks_galois_inv(const struct pn_ckks_context *c, uint64_t g) {
  /* g odd: g^-1 mod 2N by Newton's iteration x <- x (2 - g x), exact mod 2^64 after 6 steps */
  uint64_t x = g;
  for (int i = 0; i < 6; i++) x *= 2 - g * x;
  return x & (2 * (uint64_t)c->n - 1);
}

uint64_t pn_ckks_galois_elt(const struct pn_ckks_context *c, int step) {
  const uint64_t m = 2 * (uint64_t)c->n;
  if (step == PN_CKKS_CONJ) return m - 1;
  int64_t s = step % (int64_t)c->slots;
  if (s < 0) s += (int64_t)c->slots;
  return c->rotgroup[s];
}

void pn_ckks_gk_free(struct pn_ckks_gk *gk) {
  if (!gk) return;
  for (int i = 0; i < gk->count; i++) pn_ckks_swk_free(gk->keys[i]);
  free(gk->keys);
  free(gk->galois);
  free(gk);
}

int pn_ckks_gk_has(const struct pn_ckks_context *c, const struct pn_ckks_gk *gk, int step) {
  if (!gk || !pn_ckks_fp_ok(c, gk->fp)) return 0;
  uint64_t g = pn_ckks_galois_elt(c, step);
  for (int i = 0; i < gk->count; i++)
    if (gk->galois[i] == g) return 1;
  return 0;
}

int pn_ckks_keygen_galois(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                          const int *steps, int nsteps, int conj, struct pn_prg *prg,
                          struct pn_ckks_gk **out) {
  return pn_ckks_keygen_galois_level(ctx, c, sk, steps, nsteps, conj, c->nq - 1, prg, out);
}

int pn_ckks_keygen_galois_level(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                                const int *steps, int nsteps, int conj, int lmax, struct pn_prg *prg,
                                struct pn_ckks_gk **out) {
  *out = NULL;
  int rc0 = check_sk(ctx, c, sk);
  if (rc0) return rc0;
  if (lmax < 0 || lmax >= c->nq)
    return pn_err(ctx, PN_ERR_INVALID, "ckks keygen galois: level %d outside [0, %d]", lmax, c->nq - 1);
  const size_t n = c->n;
  if (nsteps < 0 || (nsteps > 0 && !steps)) return pn_err(ctx, PN_ERR_INVALID, "ckks keygen galois: nsteps %d", nsteps);
  int total = nsteps + (conj ? 1 : 0);
  struct pn_ckks_gk *gk = calloc(1, sizeof *gk);
  uint64_t *sp = malloc((size_t)c->nt * n * sizeof *sp);
  uint32_t *perm = malloc(n * sizeof *perm);
  if (gk) {
    memcpy(gk->fp, c->fp, sizeof gk->fp);
    gk->galois = calloc((size_t)total + 1, sizeof *gk->galois);
    gk->keys = calloc((size_t)total + 1, sizeof *gk->keys);
  }
  if (!gk || !sp || !perm || !gk->galois || !gk->keys) {
    free(sp);
    free(perm);
    pn_ckks_gk_free(gk);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks keygen galois");
  }
  int rc = PN_OK;
  for (int t = 0; t < total; t++) {
    uint64_t g = pn_ckks_galois_elt(c, t < nsteps ? steps[t] : PN_CKKS_CONJ);
    int dup = 0;
    for (int i = 0; i < gk->count; i++)
      if (gk->galois[i] == g) dup = 1;
    if (dup || g == 1) continue; /* rotation by 0 (mod slots) needs no key */
    /* the key's secret is phi_g^-1(s): the permutation of the inverse element */
    pn_ntt_galois_perm(c->logn, pn_ckks_galois_inv(c, g), perm);
    for (int i = 0; i < c->nt; i++) {
      const uint64_t *s = sk->ntt + (size_t)i * n;
      uint64_t *d = sp + (size_t)i * n;
      for (size_t k = 0; k < n; k++) d[k] = s[perm[k]];
    }
    rc = pn_ckks_swk_gen_level(ctx, c, sp, sk->ntt, lmax, prg, &gk->keys[gk->count]);
    if (rc) break;
    gk->galois[gk->count++] = g;
  }
  pn_wipe_free(sp, (size_t)c->nt * n * sizeof *sp);
  free(perm);
  if (rc) {
    pn_ckks_gk_free(gk);
    return rc;
  }
  *out = gk;
  return PN_OK;
}

static int check_sk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk) {
  if (!sk || sk->n != c->n || sk->nt != c->nt || !pn_ckks_fp_ok(c, sk->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks: secret key of other parameters");
  return PN_OK;
}

static int check_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_pt *pt) {
  if (pt->n != c->n || pt->nq != c->nq || pt->level < 0 || pt->level >= c->nq || !pn_ckks_fp_ok(c, pt->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks: plaintext of other parameters");
  return PN_OK;
}

int pn_ckks_encrypt_pk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_pk *pk,
                       const struct pn_ckks_pt *pt, struct pn_prg *prg, struct pn_ckks_ct *out) {
  int rc = check_pt(ctx, c, pt);
  if (rc) return rc;
  if (out->n != c->n || out->nq != c->nq || !pn_ckks_fp_ok(c, out->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks encrypt: ciphertext of other parameters");
  if (!pk || pk->nq != c->nq || !pn_ckks_fp_ok(c, pk->fp)) return pn_err(ctx, PN_ERR_MISMATCH, "ckks encrypt: public key of other parameters");
  const size_t n = c->n;
  const int nl = pt->level + 1;
  int8_t *small = malloc(3 * n);
  uint64_t *tmp = malloc(3 * (size_t)nl * n * sizeof *tmp);
  if (!small || !tmp) {
    free(small);
    free(tmp);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks encrypt");
  }
  pn_sample_ternary(prg, n, small);
  pn_sample_cbd(prg, n, small + n);
  pn_sample_cbd(prg, n, small + 2 * n);
  out->size = 2;
  out->level = pt->level;
  out->scale = pt->scale;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nl; i++) {
    const struct pn_mod *m = &c->mod[i];
    const uint64_t q = m->q;
    uint64_t *v = tmp + (size_t)(3 * i) * n, *e0 = v + n, *e1 = e0 + n;
    pn_small_to_mod(small, n, q, v);
    pn_small_to_mod(small + n, n, q, e0);
    pn_small_to_mod(small + 2 * n, n, q, e1);
    pn_ntt_fwd(&c->ntt[i], v);
    pn_ntt_fwd(&c->ntt[i], e0);
    pn_ntt_fwd(&c->ntt[i], e1);
    const uint64_t *b = pk->b + (size_t)i * n, *a = pk->a + (size_t)i * n, *mm = pt->data + (size_t)i * n;
    uint64_t *c0 = ct_limb(out, 0, i), *c1 = ct_limb(out, 1, i);
    for (size_t k = 0; k < n; k++) {
      c0[k] = pn_mod_add(pn_mod_add(pn_mod_mul(m, v[k], b[k]), e0[k], q), mm[k], q);
      c1[k] = pn_mod_add(pn_mod_mul(m, v[k], a[k]), e1[k], q);
    }
  }
  pn_wipe_free(small, 3 * n);
  pn_wipe_free(tmp, 3 * (size_t)nl * n * sizeof *tmp);
  return PN_OK;
}

int pn_ckks_encrypt_sk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                       const struct pn_ckks_pt *pt, struct pn_prg *prg, struct pn_ckks_ct *out) {
  int rc = check_pt(ctx, c, pt);
  if (!rc) rc = check_sk(ctx, c, sk);
  if (rc) return rc;
  if (out->n != c->n || out->nq != c->nq || !pn_ckks_fp_ok(c, out->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks encrypt: ciphertext of other parameters");
  const size_t n = c->n;
  const int nl = pt->level + 1;
  int8_t *e = malloc(n);
  uint64_t *tmp = malloc((size_t)nl * n * sizeof *tmp);
  if (!e || !tmp) {
    free(e);
    free(tmp);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks encrypt");
  }
  pn_sample_cbd(prg, n, e);
  out->size = 2;
  out->level = pt->level;
  out->scale = pt->scale;
  for (int i = 0; i < nl; i++) pn_sample_uniform(prg, c->mod[i].q, n, ct_limb(out, 1, i));
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nl; i++) {
    const struct pn_mod *m = &c->mod[i];
    const uint64_t q = m->q;
    uint64_t *ee = tmp + (size_t)i * n;
    pn_small_to_mod(e, n, q, ee);
    pn_ntt_fwd(&c->ntt[i], ee);
    const uint64_t *s = sk->ntt + (size_t)i * n, *mm = pt->data + (size_t)i * n, *a = ct_limb(out, 1, i);
    uint64_t *c0 = ct_limb(out, 0, i);
    for (size_t k = 0; k < n; k++)
      c0[k] = pn_mod_add(pn_mod_sub(ee[k], pn_mod_mul(m, a[k], s[k]), q), mm[k], q);
  }
  pn_wipe_free(e, n);
  pn_wipe_free(tmp, (size_t)nl * n * sizeof *tmp);
  return PN_OK;
}

int pn_ckks_decrypt(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                    const struct pn_ckks_ct *ct, struct pn_ckks_pt *out) {
  if (ct->n != c->n || ct->nq != c->nq || ct->level < 0 || ct->level >= c->nq || ct->size < 2 ||
      ct->size > 3 || !pn_ckks_fp_ok(c, ct->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks decrypt: ciphertext of other parameters");
  if (out->n != c->n || out->nq != c->nq || !pn_ckks_fp_ok(c, out->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks decrypt: plaintext of other parameters");
  int rc = check_sk(ctx, c, sk);
  if (rc) return rc;
  const size_t n = c->n;
  const int nl = ct->level + 1;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nl; i++) {
    const struct pn_mod *m = &c->mod[i];
    const uint64_t q = m->q;
    const uint64_t *s = sk->ntt + (size_t)i * n, *c0 = ct_limb(ct, 0, i), *c1 = ct_limb(ct, 1, i);
    const uint64_t *c2 = ct->size == 3 ? ct_limb(ct, 2, i) : NULL;
    uint64_t *d = out->data + (size_t)i * n;
    for (size_t k = 0; k < n; k++) {
      uint64_t acc = pn_mod_add(c0[k], pn_mod_mul(m, c1[k], s[k]), q);
      if (c2) acc = pn_mod_add(acc, pn_mod_mul(m, pn_mod_mul(m, c2[k], s[k]), s[k]), q);
      d[k] = acc;
    }
  }
  out->level = ct->level;
  out->scale = ct->scale;
  return PN_OK;
}
