/* ring_prime.c - NTT-friendly word-size primes: Miller-Rabin, generation with 2N | q-1, roots of unity.
**
** Primes are searched on the arithmetic progression q = 1 + k 2N downward from 2^bits, so that a chain
** of scaling primes stays just below the scale 2^bits and rescaling keeps the scale nearly constant. */
#include "ckks/ring.h"

void pn_mod_init(struct pn_mod *m, uint64_t q) {
  m->q = q;
  /* floor(2^128 / q) = floor((2^128 - 1) / q) for q not a power of two */
  pn_u128 all = ~(pn_u128)0;
  pn_u128 r = all / q;
  m->r0 = (uint64_t)r;
  m->r1 = (uint64_t)(r >> 64);
}

uint64_t pn_mod_pow(const struct pn_mod *m, uint64_t a, uint64_t e) {
  uint64_t r = 1 % m->q;
  a %= m->q;
  while (e) {
    if (e & 1) r = pn_mod_mul(m, r, a);
    a = pn_mod_mul(m, a, a);
    e >>= 1;
  }
  return r;
}

uint64_t pn_mod_inv(const struct pn_mod *m, uint64_t a) { return pn_mod_pow(m, a, m->q - 2); }

static uint64_t mulmod_plain(uint64_t a, uint64_t b, uint64_t n) {
  return (uint64_t)(((pn_u128)a * b) % n);
}

static uint64_t powmod_plain(uint64_t a, uint64_t e, uint64_t n) {
  uint64_t r = 1 % n;
  a %= n;
  while (e) {
    if (e & 1) r = mulmod_plain(r, a, n);
    a = mulmod_plain(a, a, n);
    e >>= 1;
  }
  return r;
}

int pn_is_prime(uint64_t n) {
  static const uint64_t bases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
  if (n < 2) return 0;
  for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
    if (n == bases[i]) return 1;
    if (n % bases[i] == 0) return 0;
  }
  uint64_t d = n - 1;
  int s = 0;
  while (!(d & 1)) {
    d >>= 1;
    s++;
  }
  /* these 12 bases are a deterministic witness set for all n < 3.3e24 */
  for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
    uint64_t x = powmod_plain(bases[i], d, n);
    if (x == 1 || x == n - 1) continue;
    int comp = 1;
    for (int r = 1; r < s; r++) {
      x = mulmod_plain(x, x, n);
      if (x == n - 1) {
        comp = 0;
        break;
      }
    }
    if (comp) return 0;
  }
  return 1;
}

static int in_list(uint64_t q, const uint64_t *l, int n) {
  for (int i = 0; i < n; i++)
    if (l[i] == q) return 1;
  return 0;
}

int pn_prime_gen(struct pn_ctx *ctx, int bits, size_t n, int count, const uint64_t *avoid, int navoid,
                 uint64_t *out) {
  if (bits < PN_RING_MIN_PRIME_BITS || bits > PN_RING_MAX_PRIME_BITS)
    return pn_err(ctx, PN_ERR_INVALID, "ckks: prime size %d bits outside [%d, %d]", bits,
                  PN_RING_MIN_PRIME_BITS, PN_RING_MAX_PRIME_BITS);
  uint64_t m = 2 * (uint64_t)n;
  uint64_t lo = (uint64_t)1 << (bits - 1), hi = (bits == 64) ? UINT64_MAX : ((uint64_t)1 << bits);
  /* candidates 1 + k m: below = largest <= 2^bits, going down; above not allowed past 2^bits,
  ** so the search walks downward from 2^bits, which keeps every prime of the chain just below 2^bits. */
  uint64_t k = (hi - 1) / m;
  int found = 0;
  while (found < count) {
    if (k == 0) break;
    uint64_t q = 1 + k * m;
    if (q <= lo) break;
    if (pn_is_prime(q) && !in_list(q, avoid, navoid) && !in_list(q, out, found)) out[found++] = q;
    k--;
  }
  if (found < count)
    return pn_err(ctx, PN_ERR_INVALID, "ckks: only %d of %d primes of %d bits with 2N | q-1 (N = %zu)",
                  found, count, bits, n);
  return PN_OK;
}

uint64_t pn_prime_root_2n(uint64_t q, size_t n) {
  struct pn_mod m;
  pn_mod_init(&m, q);
  uint64_t order = 2 * (uint64_t)n;
  uint64_t e = (q - 1) / order;
  for (uint64_t g = 2; g < q; g++) {
    uint64_t r = pn_mod_pow(&m, g, e);
    /* r has order dividing 2n; it is primitive iff r^n = -1 */
    if (pn_mod_pow(&m, r, n) == q - 1) {
      /* take the smallest primitive root in the cyclic group for determinism */
      uint64_t best = r, cur = r, r2 = pn_mod_mul(&m, r, r);
      for (uint64_t i = 1; i < n; i++) {
        cur = pn_mod_mul(&m, cur, r2); /* odd powers r^(2i+1) are exactly the primitive 2n-th roots */
        if (cur < best) best = cur;
      }
      return best;
    }
  }
  return 0;
}
