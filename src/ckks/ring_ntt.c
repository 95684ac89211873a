/* ring_ntt.c - negacyclic NTT over word-size primes (Harvey lazy butterflies, Shoup twiddles).
**
** Forward: Cooley-Tukey, natural-order coefficients -> bit-reversed evaluations, values kept in [0, 4q)
** between layers (q < 2^61, so 4q < 2^63). Inverse: Gentleman-Sande, values kept in [0, 2q), then one
** pass multiplying by n^-1 that also brings everything into [0, q). Twiddles are the powers of a
** primitive 2n-th root psi in bit-reversed order (Longa-Naehrig layout), each with its Shoup quotient. */
#include <stdlib.h>

#include "ckks/ring_dispatch.h" /* first: built twice, see there */
#include "ckks/ring.h"


static uint32_t bitrev(uint32_t x, int bits) {
  uint32_t r = 0;
  for (int i = 0; i < bits; i++) {
    r = (r << 1) | (x & 1);
    x >>= 1;
  }
  return r;
}

void pn_ntt_free(struct pn_ntt *t) {
  if (!t) return;
  free(t->w);
  free(t->ws);
  free(t->iw);
  free(t->iws);
  free(t->ws52);
  free(t->iws52);
  t->w = t->ws = t->iw = t->iws = t->ws52 = t->iws52 = NULL;
}

int pn_ntt_init(struct pn_ctx *ctx, struct pn_ntt *t, uint64_t q, int logn) {
  size_t n = (size_t)1 << logn;
  t->q = q;
  t->logn = logn;
  t->n = n;
  t->w = malloc(n * sizeof *t->w);
  t->ws = malloc(n * sizeof *t->ws);
  t->iw = malloc(n * sizeof *t->iw);
  t->iws = malloc(n * sizeof *t->iws);
  t->ws52 = t->iws52 = NULL;
  if (q < ((uint64_t)1 << 50)) {
    t->ws52 = malloc(n * sizeof *t->ws52);
    t->iws52 = malloc(n * sizeof *t->iws52);
  }
  if (!t->w || !t->ws || !t->iw || !t->iws || (q < ((uint64_t)1 << 50) && (!t->ws52 || !t->iws52))) {
    pn_ntt_free(t);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks: NTT tables for N = %zu", n);
  }
  if (q >= ((uint64_t)1 << PN_RING_MAX_PRIME_BITS) || (q - 1) % (2 * n) != 0 || !pn_is_prime(q)) {
    pn_ntt_free(t);
    return pn_err(ctx, PN_ERR_INVALID, "ckks: %llu is not an NTT prime below 2^61 for N = %zu",
                  (unsigned long long)q, n);
  }
  struct pn_mod m;
  pn_mod_init(&m, q);
  uint64_t psi = pn_prime_root_2n(q, n);
  uint64_t ipsi = pn_mod_inv(&m, psi);
  t->psi = psi;
  uint64_t p = 1, ip = 1;
  for (size_t i = 0; i < n; i++) {
    uint32_t r = bitrev((uint32_t)i, logn);
    t->w[r] = p;
    t->iw[r] = ip;
    p = pn_mod_mul(&m, p, psi);
    ip = pn_mod_mul(&m, ip, ipsi);
  }
  for (size_t i = 0; i < n; i++) {
    t->ws[i] = pn_shoup(t->w[i], q);
    t->iws[i] = pn_shoup(t->iw[i], q);
    if (t->ws52) {
      t->ws52[i] = (uint64_t)(((pn_u128)t->w[i] << 52) / q);
      t->iws52[i] = (uint64_t)(((pn_u128)t->iw[i] << 52) / q);
    }
  }
  t->ninv = pn_mod_inv(&m, n % q);
  t->ninvs = pn_shoup(t->ninv, q);
  return PN_OK;
}

#if defined(PN_NTT_AVX512) && defined(PN_RING_HAVE_IFMA_VARIANT)
#include "util/cpu.h"
/* ring_ntt_ifma.c: one stage of span tt >= 8 with 52-bit Shoup products (q < 2^50), same bounds as below */
void pn_ntt_stage_ifma(uint64_t *a, size_t m, size_t tt, const uint64_t *w, const uint64_t *ws52, uint64_t q,
                       int inverse);
#define NTT_IFMA(t) ((t)->ws52 && pn_cpu_has_ifma())
#else
#define NTT_IFMA(t) 0
#endif

#ifdef PN_NTT_AVX512
/* Layers with butterfly span tt in {1, 2, 4}: 16 words = 8 butterflies at a time. X/Y lanes are gathered
** from two vectors with a two-source permutation, butterfly lane l belongs to group l / tt, and the
** same permutations put the results back (the pattern is its own transpose). */
static const long long k_lx[3][8] = {{0, 2, 4, 6, 8, 10, 12, 14}, {0, 1, 4, 5, 8, 9, 12, 13}, {0, 1, 2, 3, 8, 9, 10, 11}};
static const long long k_ly[3][8] = {{1, 3, 5, 7, 9, 11, 13, 15}, {2, 3, 6, 7, 10, 11, 14, 15}, {4, 5, 6, 7, 12, 13, 14, 15}};
static const long long k_s0[3][8] = {{0, 8, 1, 9, 2, 10, 3, 11}, {0, 1, 8, 9, 2, 3, 10, 11}, {0, 1, 2, 3, 8, 9, 10, 11}};
static const long long k_s1[3][8] = {{4, 12, 5, 13, 6, 14, 7, 15}, {4, 5, 12, 13, 6, 7, 14, 15}, {4, 5, 6, 7, 12, 13, 14, 15}};
static const long long k_wi[3][8] = {{0, 1, 2, 3, 4, 5, 6, 7}, {0, 0, 1, 1, 2, 2, 3, 3}, {0, 0, 0, 0, 1, 1, 1, 1}};

static void small_stage(uint64_t *a, size_t n, size_t m, size_t tt, const uint64_t *w, const uint64_t *ws,
                        uint64_t q, int inverse) {
  const int s = tt == 1 ? 0 : tt == 2 ? 1 : 2;
  const __m512i lx = _mm512_loadu_si512(k_lx[s]), ly = _mm512_loadu_si512(k_ly[s]);
  const __m512i s0 = _mm512_loadu_si512(k_s0[s]), s1 = _mm512_loadu_si512(k_s1[s]);
  const __m512i wi = _mm512_loadu_si512(k_wi[s]);
  const __mmask8 wm = (__mmask8)((1u << (8 / tt)) - 1);
  const __m512i vq = _mm512_set1_epi64((long long)q), v2q = _mm512_set1_epi64((long long)(2 * q));
  for (size_t base = 0; base < n; base += 16) {
    const size_t i0 = base / (2 * tt);
    __m512i W = _mm512_permutexvar_epi64(wi, _mm512_maskz_loadu_epi64(wm, w + m + i0));
    __m512i Ws = _mm512_permutexvar_epi64(wi, _mm512_maskz_loadu_epi64(wm, ws + m + i0));
    __m512i v0 = _mm512_loadu_si512(a + base), v1 = _mm512_loadu_si512(a + base + 8);
    __m512i X = _mm512_permutex2var_epi64(v0, lx, v1), Y = _mm512_permutex2var_epi64(v0, ly, v1);
    __m512i RX, RY;
    if (!inverse) {
      X = reduce_once8(X, v2q);
      __m512i T = mul_shoup_lazy8(Y, W, Ws, vq);
      RX = _mm512_add_epi64(X, T);
      RY = _mm512_add_epi64(_mm512_sub_epi64(X, T), v2q);
    } else {
      RX = reduce_once8(_mm512_add_epi64(X, Y), v2q);
      RY = mul_shoup_lazy8(_mm512_add_epi64(_mm512_sub_epi64(X, Y), v2q), W, Ws, vq);
    }
    _mm512_storeu_si512(a + base, _mm512_permutex2var_epi64(RX, s0, RY));
    _mm512_storeu_si512(a + base + 8, _mm512_permutex2var_epi64(RX, s1, RY));
  }
}
#endif

void pn_ntt_fwd_lazy(const struct pn_ntt *t, uint64_t *restrict a) {
  PN_RING_DISPATCH(pn_ntt_fwd_lazy, t, a);
  const size_t n = t->n;
  const uint64_t q = t->q, twoq = 2 * q;
  size_t tt = n;
  const int ifma = NTT_IFMA(t);
  (void)ifma;
  for (size_t m = 1; m < n; m <<= 1) {
    tt >>= 1;
#if defined(PN_NTT_AVX512) && defined(PN_RING_HAVE_IFMA_VARIANT)
    if (tt >= 8 && ifma) {
      pn_ntt_stage_ifma(a, m, tt, t->w, t->ws52, q, 0);
      continue;
    }
#endif
#ifdef PN_NTT_AVX512
    if (tt >= 8) {
      const __m512i vq = _mm512_set1_epi64((long long)q), v2q = _mm512_set1_epi64((long long)twoq);
      for (size_t i = 0; i < m; i++) {
        const __m512i W = _mm512_set1_epi64((long long)t->w[m + i]), Ws = _mm512_set1_epi64((long long)t->ws[m + i]);
        uint64_t *x = a + 2 * i * tt, *y = x + tt;
        for (size_t j = 0; j < tt; j += 8) {
          __m512i X = reduce_once8(_mm512_loadu_si512(x + j), v2q);
          __m512i T = mul_shoup_lazy8(_mm512_loadu_si512(y + j), W, Ws, vq);
          _mm512_storeu_si512(x + j, _mm512_add_epi64(X, T));
          _mm512_storeu_si512(y + j, _mm512_add_epi64(_mm512_sub_epi64(X, T), v2q));
        }
      }
      continue;
    }
    if (n >= 16) {
      small_stage(a, n, m, tt, t->w, t->ws, q, 0);
      continue;
    }
#endif
    for (size_t i = 0; i < m; i++) {
      const uint64_t W = t->w[m + i], Ws = t->ws[m + i];
      uint64_t *restrict x = a + 2 * i * tt, *restrict y = x + tt;
      for (size_t j = 0; j < tt; j++) {
        uint64_t X = x[j];
        X -= (X >= twoq) ? twoq : 0;
        uint64_t T = pn_mul_shoup_lazy(y[j], W, Ws, q);
        x[j] = X + T;
        y[j] = X - T + twoq;
      }
    }
  }
}

void pn_ntt_fwd(const struct pn_ntt *t, uint64_t *a) {
  PN_RING_DISPATCH(pn_ntt_fwd, t, a);
  pn_ntt_fwd_lazy(t, a);
  const uint64_t q = t->q, twoq = 2 * q;
  size_t i = 0;
#ifdef PN_NTT_AVX512
  const __m512i vq = _mm512_set1_epi64((long long)q), v2q = _mm512_set1_epi64((long long)twoq);
  for (; i + 8 <= t->n; i += 8)
    _mm512_storeu_si512(a + i, reduce_once8(reduce_once8(_mm512_loadu_si512(a + i), v2q), vq));
#endif
  for (; i < t->n; i++) {
    uint64_t x = a[i];
    x -= (x >= twoq) ? twoq : 0;
    x -= (x >= q) ? q : 0;
    a[i] = x;
  }
}

void pn_ntt_inv(const struct pn_ntt *t, uint64_t *restrict a) {
  PN_RING_DISPATCH(pn_ntt_inv, t, a);
  const size_t n = t->n;
  const uint64_t q = t->q, twoq = 2 * q;
  size_t tt = 1;
  const int ifma = NTT_IFMA(t);
  (void)ifma;
  for (size_t m = n >> 1; m >= 1; m >>= 1) {
#if defined(PN_NTT_AVX512) && defined(PN_RING_HAVE_IFMA_VARIANT)
    if (tt >= 8 && ifma) {
      pn_ntt_stage_ifma(a, m, tt, t->iw, t->iws52, q, 1);
      tt <<= 1;
      continue;
    }
#endif
#ifdef PN_NTT_AVX512
    if (tt >= 8) {
      const __m512i vq = _mm512_set1_epi64((long long)q), v2q = _mm512_set1_epi64((long long)twoq);
      for (size_t i = 0; i < m; i++) {
        const __m512i W = _mm512_set1_epi64((long long)t->iw[m + i]),
                      Ws = _mm512_set1_epi64((long long)t->iws[m + i]);
        uint64_t *x = a + 2 * i * tt, *y = x + tt;
        for (size_t j = 0; j < tt; j += 8) {
          __m512i X = _mm512_loadu_si512(x + j), Y = _mm512_loadu_si512(y + j);
          _mm512_storeu_si512(x + j, reduce_once8(_mm512_add_epi64(X, Y), v2q));
          __m512i D = _mm512_add_epi64(_mm512_sub_epi64(X, Y), v2q);
          _mm512_storeu_si512(y + j, mul_shoup_lazy8(D, W, Ws, vq));
        }
      }
      tt <<= 1;
      continue;
    }
    if (n >= 16) {
      small_stage(a, n, m, tt, t->iw, t->iws, q, 1);
      tt <<= 1;
      continue;
    }
#endif
    for (size_t i = 0; i < m; i++) {
      const uint64_t W = t->iw[m + i], Ws = t->iws[m + i];
      uint64_t *restrict x = a + 2 * i * tt, *restrict y = x + tt;
      for (size_t j = 0; j < tt; j++) {
        uint64_t X = x[j], Y = y[j];
        uint64_t S = X + Y;
        S -= (S >= twoq) ? twoq : 0;
        x[j] = S;
        y[j] = pn_mul_shoup_lazy(X - Y + twoq, W, Ws, q);
      }
    }
    tt <<= 1;
  }
  const uint64_t ni = t->ninv, nis = t->ninvs;
  size_t i = 0;
#ifdef PN_NTT_AVX512
  const __m512i vq = _mm512_set1_epi64((long long)q), vn = _mm512_set1_epi64((long long)ni),
                vns = _mm512_set1_epi64((long long)nis);
  for (; i + 8 <= n; i += 8)
    _mm512_storeu_si512(a + i, reduce_once8(mul_shoup_lazy8(_mm512_loadu_si512(a + i), vn, vns, vq), vq));
#endif
  for (; i < n; i++) a[i] = pn_mul_shoup(a[i], ni, nis, q);
}

void pn_negacyclic_naive(const struct pn_mod *m, size_t n, const uint64_t *a, const uint64_t *b,
                         uint64_t *c) {
  const uint64_t q = m->q;
  for (size_t k = 0; k < n; k++) c[k] = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      uint64_t p = pn_mod_mul(m, a[i], b[j]);
      size_t k = i + j;
      if (k < n)
        c[k] = pn_mod_add(c[k], p, q);
      else
        c[k - n] = pn_mod_sub(c[k - n], p, q);
    }
}

void pn_ntt_galois_perm(int logn, uint64_t g, uint32_t *perm) {
  size_t n = (size_t)1 << logn;
  uint64_t mask = 2 * (uint64_t)n - 1;
  for (size_t k = 0; k < n; k++) {
    uint64_t e = (g * (2 * (uint64_t)bitrev((uint32_t)k, logn) + 1)) & mask;
    perm[k] = bitrev((uint32_t)((e - 1) >> 1), logn);
  }
}

void pn_galois_coeff(size_t n, uint64_t g, uint64_t q, const uint64_t *a, uint64_t *out) {
  uint64_t mask = 2 * (uint64_t)n - 1;
  for (size_t i = 0; i < n; i++) {
    uint64_t e = (i * g) & mask;
    if (e < n)
      out[e] = a[i];
    else
      out[e - n] = pn_mod_neg(a[i], q);
  }
}

void pn_vec_sub_mul_shoup(const uint64_t *x, const uint64_t *t, uint64_t q, uint64_t w, uint64_t ws,
                          uint64_t *o, size_t n) {
  PN_RING_DISPATCH(pn_vec_sub_mul_shoup, x, t, q, w, ws, o, n);
  size_t k = 0;
#ifdef PN_NTT_AVX512
  const __m512i vq = _mm512_set1_epi64((long long)q), v4q = _mm512_set1_epi64((long long)(4 * q));
  const __m512i vw = _mm512_set1_epi64((long long)w), vws = _mm512_set1_epi64((long long)ws);
  for (; k + 8 <= n; k += 8) {
    __m512i d = _mm512_sub_epi64(_mm512_add_epi64(_mm512_loadu_si512(x + k), v4q), _mm512_loadu_si512(t + k));
    _mm512_storeu_si512(o + k, reduce_once8(mul_shoup_lazy8(d, vw, vws, vq), vq));
  }
#endif
  for (; k < n; k++) o[k] = pn_mul_shoup(x[k] + 4 * q - t[k], w, ws, q);
}

void pn_vec_centred_lift(const uint64_t *v, uint64_t p, const struct pn_mod *m, uint64_t *out, size_t n) {
  PN_RING_DISPATCH(pn_vec_centred_lift, v, p, m, out, n);
  const uint64_t q = m->q, half = p >> 1, pmodq = p % q;
  size_t k = 0;
#ifdef PN_NTT_AVX512
  if (p < 2 * q) {
    const __m512i vq = _mm512_set1_epi64((long long)q), vh = _mm512_set1_epi64((long long)half);
    const __m512i vc = _mm512_set1_epi64((long long)(q - pmodq));
    for (; k + 8 <= n; k += 8) {
      __m512i x = _mm512_loadu_si512(v + k);
      __m512i r = reduce_once8(x, vq);
      __m512i neg = reduce_once8(_mm512_add_epi64(r, vc), vq); /* r - p mod q */
      __mmask8 big = _mm512_cmpgt_epu64_mask(x, vh);
      _mm512_storeu_si512(out + k, _mm512_mask_blend_epi64(big, r, neg));
    }
  }
#endif
  for (; k < n; k++) {
    uint64_t x = v[k], r = x >= q ? pn_mod_red64(m, x) : x;
    out[k] = x > half ? pn_mod_sub(r, pmodq, q) : r;
  }
}
