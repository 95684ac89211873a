/* ckks_keyswitch.c - hybrid key switching (Han-Ki "dnum" digits + special primes P) for relin and Galois.
**
** Key for s' -> s: for each digit j (primes [j alpha, (j+1) alpha) of Q), over every prime of QP,
**   b_j = -a_j s + e_j + g_j s',  a_j uniform,  g_j = P mod q_i for q_i in digit j, 0 elsewhere,
** i.e. g_j = P times the CRT idempotent of digit j. To switch d (level l, NTT form):
**   1. INTT d once; for each digit j, extend its residues [d]_{Q_j}, centred in [-Q_j/2, Q_j/2), to the
**      other primes of Q_l and to P (fast basis extension), NTT them;
**   2. accumulate sum_j ext_j (b_j, a_j) in 128-bit lanes right after each digit's NTT (while it is
**      in cache), one Barrett reduction at the end;
**   3. ModDown: subtract the P-part, centred, extended to Q_l and multiply by P^-1 mod q_i: a rounded
**      division. Centring both matters: an uncentred digit or floor has mean Q_j/2 or 1/2 in every
**      coefficient, whose embedding (the all-ones polynomial) reaches N/pi at slots near 1 and costs
**      several bits at N = 2^15.
** Noise per coefficient ~ sqrt(dnum N) sigma max|Q_j| / P + the rounding (~ sqrt(N)): take P >= Q_j.
** NTT count at level l with nl = l+1 primes, k special: nl INTT + dnum (nl + k - alpha) NTT + 2 (k INTT +
** nl NTT); SEAL's scheme is dnum = nl, k = 1. Work per prime is independent: OpenMP across limbs. */
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_impl.h"
#include "util/wipe.h"

struct pn_ckks_swk *pn_ckks_swk_alloc(const struct pn_ckks_context *c) {
  struct pn_ckks_swk *k = calloc(1, sizeof *k);
  if (!k) return NULL;
  k->dnum = c->dnum;
  k->nt = c->nt;
  k->n = c->n;
  memcpy(k->fp, c->fp, sizeof k->fp);
  size_t words = (size_t)c->dnum * (size_t)c->nt * c->n;
  k->b = malloc(words * sizeof *k->b);
  k->a = malloc(words * sizeof *k->a);
  if (!k->a || !k->b) {
    pn_ckks_swk_free(k);
    return NULL;
  }
  return k;
}

void pn_ckks_swk_free(struct pn_ckks_swk *k) {
  if (!k) return;
  free(k->b);
  free(k->a);
  free(k);
}

int pn_ckks_swk_gen(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                    const uint64_t *sp, struct pn_prg *prg, struct pn_ckks_swk **out) {
  *out = NULL;
  const size_t n = c->n;
  struct pn_ckks_swk *k = pn_ckks_swk_alloc(c);
  int8_t *e = malloc(n);
  if (!k || !e) {
    pn_ckks_swk_free(k);
    free(e);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks: switching key");
  }
  for (int j = 0; j < c->dnum; j++) {
    for (int i = 0; i < c->nt; i++)
      pn_sample_uniform(prg, c->mod[i].q, n, k->a + ((size_t)j * c->nt + i) * n);
    pn_sample_cbd(prg, n, e);
    int lo = j * c->alpha, hi = lo + c->alpha < c->nq ? lo + c->alpha : c->nq;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < c->nt; i++) {
      const struct pn_mod *m = &c->mod[i];
      const uint64_t q = m->q;
      uint64_t *b = k->b + ((size_t)j * c->nt + i) * n;
      const uint64_t *a = k->a + ((size_t)j * c->nt + i) * n, *s = sk->ntt + (size_t)i * n;
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

/* prime index of accumulator slot t at nl active ciphertext primes */
static inline int slot_prime(const struct pn_ckks_context *c, int nl, int t) {
  return t < nl ? t : c->nq + (t - nl);
}

int pn_ckks_keyswitch(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *k,
                      const uint64_t *d, size_t d_stride_limbs, int level, uint64_t *out0, uint64_t *out1) {
  (void)d_stride_limbs;
  if (!k || k->nt != c->nt || k->dnum != c->dnum || k->n != c->n || !pn_ckks_fp_ok(c, k->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks: switching key of other parameters");
  const size_t n = c->n;
  const int nl = level + 1, K = c->np, ns = nl + K, alpha = c->alpha;
  const size_t ntmp = (size_t)(alpha > K ? alpha : K) + 1;
  /* one block: acc (2 ns n u128) | dc (nl n) | ext (ns n) | tmp | r (ns n) */
  const size_t words = 4 * (size_t)ns * n + (size_t)nl * n + (size_t)ns * n + ntmp * n + (size_t)ns * n;
  uint64_t *blk = pn_ckks_scratch_get(c, words * sizeof *blk);
  if (!blk) return pn_err(ctx, PN_ERR_NOMEM, "ckks: key switching buffers");
  pn_u128 *acc = (pn_u128 *)blk;
  uint64_t *dc = blk + 4 * (size_t)ns * n, *ext = dc + (size_t)nl * n, *tmp = ext + (size_t)ns * n,
           *r = tmp + ntmp * n;
  pn_u128 *acc0 = acc, *acc1 = acc + (size_t)ns * n;
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nl; i++) {
    memcpy(dc + (size_t)i * n, d + (size_t)i * n, n * sizeof *dc);
    pn_ntt_inv(&c->ntt[i], dc + (size_t)i * n);
  }
  /* 1-2. per digit: extend to the slots outside it, NTT, multiply-accumulate with the key in 128 bits
  ** (each product < 2^122, at most 40 digits); the digit's own slots use d as it is (NTT form) */
  for (int j = 0; j < c->dnum; j++) {
    const int lo = j * alpha;
    if (lo >= nl) break;
    const int hi = lo + alpha < nl ? lo + alpha : nl, nb = hi - lo;
    struct pn_mod C[2 * PN_CKKS_MAX_PRIMES];
    uint64_t *dst[2 * PN_CKKS_MAX_PRIMES];
    const uint64_t *src[PN_CKKS_MAX_PRIMES];
    int nc = 0;
    for (int t = 0; t < ns; t++) {
      if (t >= lo && t < hi) continue;
      C[nc] = c->mod[slot_prime(c, nl, t)];
      dst[nc++] = ext + (size_t)t * n;
    }
    for (int i = 0; i < nb; i++) src[i] = dc + (size_t)(lo + i) * n;
    pn_rns_extend(&c->mod[lo], nb, src, C, nc, dst, n, tmp, 1);
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < ns; t++) {
      const int p = slot_prime(c, nl, t);
      const uint64_t *e;
      if (t >= lo && t < hi) {
        e = d + (size_t)t * n;
      } else {
        pn_ntt_fwd(&c->ntt[p], ext + (size_t)t * n);
        e = ext + (size_t)t * n;
      }
      const uint64_t *kb = k->b + ((size_t)j * c->nt + p) * n, *ka = k->a + ((size_t)j * c->nt + p) * n;
      pn_u128 *a0 = acc0 + (size_t)t * n, *a1 = acc1 + (size_t)t * n;
      if (j == 0) {
        for (size_t x = 0; x < n; x++) {
          a0[x] = (pn_u128)e[x] * kb[x];
          a1[x] = (pn_u128)e[x] * ka[x];
        }
      } else {
        for (size_t x = 0; x < n; x++) {
          a0[x] += (pn_u128)e[x] * kb[x];
          a1[x] += (pn_u128)e[x] * ka[x];
        }
      }
    }
  }
  /* 3. reduce, then ModDown each half: subtract the P part extended to Q_l, times P^-1 */
  for (int h = 0; h < 2; h++) {
    pn_u128 *a = h ? acc1 : acc0;
    uint64_t *outp = h ? out1 : out0;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < ns; t++) {
      const struct pn_mod *m = &c->mod[slot_prime(c, nl, t)];
      const pn_u128 *at = a + (size_t)t * n;
      uint64_t *rt = r + (size_t)t * n;
      for (size_t x = 0; x < n; x++) rt[x] = pn_mod_red128(m, at[x]);
    }
#pragma omp parallel for schedule(static)
    for (int t = nl; t < ns; t++) pn_ntt_inv(&c->ntt[c->nq + t - nl], r + (size_t)t * n);
    const uint64_t *src[PN_CKKS_MAX_PRIMES];
    uint64_t *dst[PN_CKKS_MAX_PRIMES];
    for (int t = 0; t < K; t++) src[t] = r + (size_t)(nl + t) * n;
    for (int i = 0; i < nl; i++) dst[i] = ext + (size_t)i * n;
    pn_rns_extend(&c->mod[c->nq], K, src, c->mod, nl, dst, n, tmp, 1);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < nl; i++) {
      const uint64_t q = c->mod[i].q, w = c->pinv[i], ws = c->pinvs[i];
      uint64_t *e = ext + (size_t)i * n, *o = outp + (size_t)i * n;
      pn_ntt_fwd_lazy(&c->ntt[i], e);
      pn_vec_sub_mul_shoup(r + (size_t)i * n, e, q, w, ws, o, n);
    }
  }
  pn_ckks_scratch_put(c, blk);
  return PN_OK;
}
