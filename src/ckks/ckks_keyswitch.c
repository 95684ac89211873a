/* ckks_keyswitch.c - hybrid key switching (Han-Ki "dnum" digits + special primes P) for relin and Galois.
**
** Key for s' -> s: for each digit j (primes [j alpha, (j+1) alpha) of Q), over every prime of QP,
**   b_j = -a_j s + e_j + g_j s',  a_j uniform,  g_j = P mod q_i for q_i in digit j, 0 elsewhere,
** i.e. g_j = P times the CRT idempotent of digit j. a_j is expanded from a 32-byte seed, one stream per
** digit and prime, so that a key can be stored as (b, seed). To switch d (level l, NTT form):
**   1. ModUp: INTT d once; for each digit j, extend its residues [d]_{Q_j}, centred in [-Q_j/2, Q_j/2),
**      to the other primes of Q_l and to P (fast basis extension), NTT them;
**   2. inner product sum_j D_j (b_j, a_j) per limb, one reduction per coefficient (pn_vec_dot_mod: 128-bit
**      sums, or 52-bit multiply-accumulates for the primes below 2^50 on a CPU with AVX-512 IFMA);
**   3. ModDown: subtract the P-part, centred, extended to Q_l and multiply by P^-1 mod q_i: a rounded
**      division. Centring both matters: an uncentred digit or floor has mean Q_j/2 or 1/2 in every
**      coefficient, whose embedding (the all-ones polynomial) reaches N/pi at slots near 1 and costs
**      several bits at N = 2^15.
** Hoisting: k rotations of one ciphertext share step 1 (Galois keys switch to phi^-1(s) and the result is
** permuted afterwards, ckks_keys.c), and step 2 runs for all k keys limb by limb, so the digits are read from
** memory once.
** Noise per coefficient ~ sqrt(dnum N) sigma max|Q_j| / P + the rounding (~ sqrt(N)): take P >= Q_j.
** NTT count at level l with nl = l+1 primes, k special: nl INTT + dnum (nl + k - alpha) NTT + 2 (k INTT +
** nl NTT); SEAL's scheme is dnum = nl, k = 1. Work per prime is independent: OpenMP across limbs. */
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_impl.h"
#include "util/wipe.h"

static const char k_a_label[] = "privnn ckks switching key a";

struct pn_ckks_swk *pn_ckks_swk_alloc_level(const struct pn_ckks_context *c, int lmax) {
  if (lmax < 0 || lmax >= c->nq) return NULL;
  struct pn_ckks_swk *k = calloc(1, sizeof *k);
  if (!k) return NULL;
  k->lmax = lmax;
  k->dnum = pn_ckks_digits_for(c, lmax);
  k->nt = lmax + 1 + c->np;
  k->n = c->n;
  memcpy(k->fp, c->fp, sizeof k->fp);
  size_t words = (size_t)k->dnum * (size_t)k->nt * c->n;
  k->b = malloc(words * sizeof *k->b);
  k->a = malloc(words * sizeof *k->a);
  if (!k->a || !k->b) {
    pn_ckks_swk_free(k);
    return NULL;
  }
  return k;
}

struct pn_ckks_swk *pn_ckks_swk_alloc(const struct pn_ckks_context *c) {
  return pn_ckks_swk_alloc_level(c, c->nq - 1);
}

void pn_ckks_swk_free(struct pn_ckks_swk *k) {
  if (!k) return;
  free(k->b);
  free(k->a);
  free(k);
}

size_t pn_ckks_swk_bytes(const struct pn_ckks_swk *k) {
  return k ? 2 * (size_t)k->dnum * (size_t)k->nt * k->n * sizeof(uint64_t) : 0;
}

size_t pn_ckks_keys_memory_bytes(const struct pn_ckks_swk *k, const struct pn_ckks_gk *gk) {
  size_t t = pn_ckks_swk_bytes(k);
  for (int i = 0; gk && i < gk->count; i++) t += pn_ckks_swk_bytes(gk->keys[i]);
  return t;
}

int pn_ckks_swk_ok(const struct pn_ckks_context *c, const struct pn_ckks_swk *k) {
  return k && k->n == c->n && k->lmax >= 0 && k->lmax < c->nq && k->nt == k->lmax + 1 + c->np &&
         k->dnum == pn_ckks_digits_for(c, k->lmax) && pn_ckks_fp_ok(c, k->fp);
}

/* prime index of key slot t */
static inline int key_prime(const struct pn_ckks_context *c, const struct pn_ckks_swk *k, int t) {
  return t <= k->lmax ? t : c->nq + (t - k->lmax - 1);
}

int pn_ckks_swk_expand_a(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_ckks_swk *k) {
  const int total = k->dnum * k->nt;
  int bad = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : bad)
  for (int u = 0; u < total; u++) {
    const int j = u / k->nt, t = u % k->nt, p = key_prime(c, k, t);
    uint8_t s[PN_SEED_BYTES];
    struct pn_prg prg;
    struct pn_ctx tctx = {0};
    pn_seed_derive(k->seed, k_a_label, (uint64_t)j * 256 + (uint64_t)p, s);
    if (pn_prg_init(&tctx, &prg, s) == PN_OK)
      pn_sample_uniform(&prg, c->mod[p].q, c->n, k->a + (size_t)u * c->n);
    else
      bad = 1;
    pn_prg_free(&prg);
    pn_wipe(s, sizeof s);
  }
  return bad ? pn_err(ctx, PN_ERR_NOMEM, "ckks: expanding a switching key's seed") : PN_OK;
}

int pn_ckks_swk_gen_level(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint64_t *target,
                          const uint64_t *sp, int lmax, struct pn_prg *prg, struct pn_ckks_swk **out) {
  *out = NULL;
  const size_t n = c->n;
  struct pn_ckks_swk *k = pn_ckks_swk_alloc_level(c, lmax);
  int8_t *e = malloc(n);
  if (!k || !e) {
    pn_ckks_swk_free(k);
    free(e);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks: switching key");
  }
  pn_prg_bytes(prg, k->seed, sizeof k->seed);
  int rc = pn_ckks_swk_expand_a(ctx, c, k);
  if (rc) {
    pn_ckks_swk_free(k);
    free(e);
    return rc;
  }
  for (int j = 0; j < k->dnum; j++) {
    pn_sample_cbd(prg, n, e);
    int lo = j * c->alpha, hi = lo + c->alpha < c->nq ? lo + c->alpha : c->nq;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < k->nt; t++) {
      const int i = key_prime(c, k, t);
      const struct pn_mod *m = &c->mod[i];
      const uint64_t q = m->q;
      uint64_t *b = k->b + ((size_t)j * k->nt + t) * n;
      const uint64_t *a = k->a + ((size_t)j * k->nt + t) * n, *s = target + (size_t)i * n;
      pn_small_to_mod(e, n, q, b);
      pn_ntt_fwd(&c->ntt[i], b);
      for (size_t x = 0; x < n; x++) b[x] = pn_mod_sub(b[x], pn_mod_mul(m, a[x], s[x]), q);
      if (i >= lo && i < hi) {
        const uint64_t g = c->pmodq[i], gs = pn_shoup(g, q), *s2 = sp + (size_t)i * n;
        for (size_t x = 0; x < n; x++) b[x] = pn_mod_add(b[x], pn_mul_shoup(s2[x], g, gs, q), q);
      }
    }
  }
  pn_wipe_free(e, n);
  *out = k;
  return PN_OK;
}

int pn_ckks_swk_gen(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                    const uint64_t *sp, struct pn_prg *prg, struct pn_ckks_swk **out) {
  return pn_ckks_swk_gen_level(ctx, c, sk->ntt, sp, c->nq - 1, prg, out);
}

/* prime index of ModUp slot t at nl active ciphertext primes */
static inline int slot_prime(const struct pn_ckks_context *c, int nl, int t) {
  return t < nl ? t : c->nq + (t - nl);
}

size_t pn_ckks_modup_words(const struct pn_ckks_context *c, int level) {
  const int nl = level + 1;
  return (size_t)pn_ckks_digits_for(c, level) * (size_t)(nl + c->np) * c->n;
}

int pn_ckks_modup(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint64_t *d, int level, uint64_t *D) {
  const size_t n = c->n;
  const int nl = level + 1, ns = nl + c->np, alpha = c->alpha, nd = pn_ckks_digits_for(c, level);
  /* dc: d in coefficient form (nl limbs) | tmp for the extension (alpha + 1 limbs) */
  uint64_t *dc = pn_ckks_scratch_get(c, ((size_t)nl + (size_t)alpha + 1) * n * sizeof *dc);
  if (!dc) return pn_err(ctx, PN_ERR_NOMEM, "ckks: key switching buffers");
  uint64_t *tmp = dc + (size_t)nl * n;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nl; i++) {
    memcpy(dc + (size_t)i * n, d + (size_t)i * n, n * sizeof *dc);
    pn_ntt_inv(&c->ntt[i], dc + (size_t)i * n);
  }
  for (int j = 0; j < nd; j++) {
    const int lo = j * alpha, hi = lo + alpha < nl ? lo + alpha : nl, nb = hi - lo;
    uint64_t *Dj = D + (size_t)j * ns * n;
    struct pn_mod C[2 * PN_CKKS_MAX_PRIMES];
    uint64_t *dst[2 * PN_CKKS_MAX_PRIMES];
    const uint64_t *src[PN_CKKS_MAX_PRIMES];
    int nc = 0;
    for (int t = 0; t < ns; t++) {
      if (t >= lo && t < hi) continue;
      C[nc] = c->mod[slot_prime(c, nl, t)];
      dst[nc++] = Dj + (size_t)t * n;
    }
    for (int i = 0; i < nb; i++) src[i] = dc + (size_t)(lo + i) * n;
    pn_rns_extend(&c->mod[lo], nb, src, C, nc, dst, n, tmp, 1);
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < ns; t++) {
      if (t >= lo && t < hi)
        memcpy(Dj + (size_t)t * n, d + (size_t)t * n, n * sizeof *Dj);
      else
        pn_ntt_fwd(&c->ntt[slot_prime(c, nl, t)], Dj + (size_t)t * n);
    }
  }
  pn_ckks_scratch_put(c, dc);
  return PN_OK;
}

int pn_ckks_ks_inner(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *const *keys,
                     int m, const uint64_t *D, int level, uint64_t *const *acc) {
  for (int r = 0; r < m; r++) {
    if (!pn_ckks_swk_ok(c, keys[r]))
      return pn_err(ctx, PN_ERR_MISMATCH, "ckks: switching key of other parameters");
    if (level > keys[r]->lmax)
      return pn_err(ctx, PN_ERR_INVALID, "ckks: switching key for levels <= %d used at level %d", keys[r]->lmax,
                    level);
  }
  const size_t n = c->n;
  const int nl = level + 1, ns = nl + c->np, nd = pn_ckks_digits_for(c, level);
  /* blocks of one limb and CH coefficients: the digits' block (nd CH words) stays in L2 while every key of
  ** the batch reads it */
  enum { CH = 2048 };
  const int nch = (int)((n + CH - 1) / CH);
#pragma omp parallel for schedule(static)
  for (int u = 0; u < ns * nch; u++) {
    const int t = u / nch;
    const size_t x0 = (size_t)(u % nch) * CH, x1 = x0 + CH < n ? x0 + CH : n;
    const int p = slot_prime(c, nl, t);
    const struct pn_mod *md = &c->mod[p];
    const uint64_t *dj[PN_CKKS_MAX_PRIMES];
    for (int j = 0; j < nd; j++) dj[j] = D + ((size_t)j * ns + t) * n + x0;
    for (int r = 0; r < m; r++) {
      const struct pn_ckks_swk *k = keys[r];
      const int kt = pn_ckks_swk_slot(c, k, p);
      const uint64_t *kb[PN_CKKS_MAX_PRIMES], *ka[PN_CKKS_MAX_PRIMES];
      for (int j = 0; j < nd; j++) {
        kb[j] = k->b + ((size_t)j * k->nt + kt) * n + x0;
        ka[j] = k->a + ((size_t)j * k->nt + kt) * n + x0;
      }
      pn_vec_dot_mod(md, dj, kb, ka, nd, x1 - x0, acc[r] + (size_t)t * n + x0, acc[r] + (size_t)(ns + t) * n + x0);
    }
  }
  return PN_OK;
}

int pn_ckks_moddown(struct pn_ctx *ctx, const struct pn_ckks_context *c, uint64_t *x, int level, uint64_t *out,
                    int add) {
  const size_t n = c->n;
  const int nl = level + 1, K = c->np;
  uint64_t *ext = pn_ckks_scratch_get(c, ((size_t)nl + (size_t)K + 1) * n * sizeof *ext);
  if (!ext) return pn_err(ctx, PN_ERR_NOMEM, "ckks: key switching buffers");
  uint64_t *tmp = ext + (size_t)nl * n;
#pragma omp parallel for schedule(static)
  for (int t = nl; t < nl + K; t++) pn_ntt_inv(&c->ntt[c->nq + t - nl], x + (size_t)t * n);
  const uint64_t *src[PN_CKKS_MAX_PRIMES];
  uint64_t *dst[PN_CKKS_MAX_PRIMES];
  for (int t = 0; t < K; t++) src[t] = x + (size_t)(nl + t) * n;
  for (int i = 0; i < nl; i++) dst[i] = ext + (size_t)i * n;
  pn_rns_extend(&c->mod[c->nq], K, src, c->mod, nl, dst, n, tmp, 1);
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nl; i++) {
    const uint64_t q = c->mod[i].q, w = c->pinv[i], ws = c->pinvs[i];
    uint64_t *e = ext + (size_t)i * n, *o = out + (size_t)i * n;
    pn_ntt_fwd_lazy(&c->ntt[i], e);
    if (!add) {
      pn_vec_sub_mul_shoup(x + (size_t)i * n, e, q, w, ws, o, n);
    } else {
      pn_vec_sub_mul_shoup(x + (size_t)i * n, e, q, w, ws, e, n);
      for (size_t k = 0; k < n; k++) o[k] = pn_mod_add(o[k], e[k], q);
    }
  }
  pn_ckks_scratch_put(c, ext);
  return PN_OK;
}

int pn_ckks_keyswitch(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *k,
                      const uint64_t *d, size_t d_stride_limbs, int level, uint64_t *out0, uint64_t *out1) {
  (void)d_stride_limbs;
  if (!pn_ckks_swk_ok(c, k))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks: switching key of other parameters");
  const size_t n = c->n;
  const int ns = level + 1 + c->np;
  const size_t dw = pn_ckks_modup_words(c, level);
  uint64_t *D = pn_ckks_scratch_get(c, (dw + 2 * (size_t)ns * n) * sizeof *D);
  if (!D) return pn_err(ctx, PN_ERR_NOMEM, "ckks: key switching buffers");
  uint64_t *acc = D + dw;
  int rc = pn_ckks_modup(ctx, c, d, level, D);
  if (!rc) rc = pn_ckks_ks_inner(ctx, c, &k, 1, D, level, &acc);
  if (!rc) rc = pn_ckks_moddown(ctx, c, acc, level, out0, 0);
  if (!rc) rc = pn_ckks_moddown(ctx, c, acc + (size_t)ns * n, level, out1, 0);
  pn_ckks_scratch_put(c, D);
  return rc;
}
