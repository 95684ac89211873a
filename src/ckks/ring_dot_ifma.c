/* ring_dot_ifma.c - pn_vec_dot_mod for q < 2^50 with AVX-512 IFMA (built with -mavx512ifma, called only when
** pn_cpu_has_ifma() says the CPU has it; ring_dot.c dispatches).
**
** Each product x y (x, y < q < 2^50, so x y < 2^100) is added as its low 52 bits to L and its high bits to H
** (vpmadd52luq / vpmadd52huq); with m <= 64 terms L < 2^58 and H < 2^54, and the sum is H 2^52 + L. Reduction,
** per lane: L's bits above 52 are carried into H, H is split at 52 bits, so the sum is D2 2^104 + D1 2^52 + D0
** with D0, D1 < 2^52 and D2 < 2^3, and each digit times 2^(52 i) mod q is a 52-bit Shoup product in [0, 2q)
** (w' = floor(w 2^52 / q), valid for x < 2^52 and q < 2^51); the three add to < 6q, brought into [0, q). */
#include "ckks/ring.h"

#if defined(__AVX512F__) && defined(__AVX512IFMA__)
#include <immintrin.h>

/* the first n - n % 8 coefficients (ring_dot.c does the rest) */
void pn_vec_dot_mod_ifma(const struct pn_mod *md, const uint64_t *const *a, const uint64_t *const *b0,
                         const uint64_t *const *b1, int m, size_t n, uint64_t *o0, uint64_t *o1);

#define M52 ((((uint64_t)1) << 52) - 1)

/* x w mod q in [0, 2q) for x < 2^52, w < q < 2^51, ws = floor(w 2^52 / q) */
static inline __m512i shoup52(__m512i x, __m512i w, __m512i ws, __m512i q, __m512i m52) {
  const __m512i z = _mm512_setzero_si512();
  __m512i qh = _mm512_madd52hi_epu64(z, x, ws);
  __m512i r = _mm512_sub_epi64(_mm512_madd52lo_epu64(z, x, w), _mm512_madd52lo_epu64(z, qh, q));
  return _mm512_and_si512(r, m52);
}

static inline __m512i min_sub(__m512i x, __m512i m) { return _mm512_min_epu64(x, _mm512_sub_epi64(x, m)); }

struct red52 {
  __m512i q, q2, q4, m52, w[3], ws[3];
};

static void red52_init(struct red52 *r, const struct pn_mod *md) {
  const uint64_t q = md->q;
  uint64_t w[3];
  w[0] = 1;
  w[1] = (uint64_t)((((pn_u128)1) << 52) % q);
  w[2] = pn_mod_mul(md, w[1], w[1]);
  r->q = _mm512_set1_epi64((long long)q);
  r->q2 = _mm512_set1_epi64((long long)(2 * q));
  r->q4 = _mm512_set1_epi64((long long)(4 * q));
  r->m52 = _mm512_set1_epi64((long long)M52);
  for (int i = 0; i < 3; i++) {
    r->w[i] = _mm512_set1_epi64((long long)w[i]);
    r->ws[i] = _mm512_set1_epi64((long long)(uint64_t)((((pn_u128)w[i]) << 52) / q));
  }
}

/* (H 2^52 + L) mod q, H < 2^60, L < 2^64 - 2^52 */
static inline __m512i red52(const struct red52 *r, __m512i L, __m512i H) {
  H = _mm512_add_epi64(H, _mm512_srli_epi64(L, 52));
  __m512i d0 = _mm512_and_si512(L, r->m52), d1 = _mm512_and_si512(H, r->m52), d2 = _mm512_srli_epi64(H, 52);
  __m512i s = _mm512_add_epi64(shoup52(d0, r->w[0], r->ws[0], r->q, r->m52), shoup52(d1, r->w[1], r->ws[1], r->q, r->m52));
  s = _mm512_add_epi64(s, shoup52(d2, r->w[2], r->ws[2], r->q, r->m52));
  return min_sub(min_sub(min_sub(s, r->q4), r->q2), r->q);
}

void pn_vec_dot_mod_ifma(const struct pn_mod *md, const uint64_t *const *a, const uint64_t *const *b0,
                         const uint64_t *const *b1, int m, size_t n, uint64_t *o0, uint64_t *o1) {
  struct red52 r;
  red52_init(&r, md);
  const __m512i z = _mm512_setzero_si512();
  size_t k = 0;
  if (b1)
    for (; k + 8 <= n; k += 8) {
      __m512i l0 = z, h0 = z, l1 = z, h1 = z;
      for (int j = 0; j < m; j++) {
        const __m512i x = _mm512_loadu_si512(a[j] + k), y0 = _mm512_loadu_si512(b0[j] + k),
                      y1 = _mm512_loadu_si512(b1[j] + k);
        l0 = _mm512_madd52lo_epu64(l0, x, y0);
        h0 = _mm512_madd52hi_epu64(h0, x, y0);
        l1 = _mm512_madd52lo_epu64(l1, x, y1);
        h1 = _mm512_madd52hi_epu64(h1, x, y1);
      }
      _mm512_storeu_si512(o0 + k, red52(&r, l0, h0));
      _mm512_storeu_si512(o1 + k, red52(&r, l1, h1));
    }
  else
    for (; k + 8 <= n; k += 8) {
      __m512i l0 = z, h0 = z;
      for (int j = 0; j < m; j++) {
        const __m512i x = _mm512_loadu_si512(a[j] + k), y0 = _mm512_loadu_si512(b0[j] + k);
        l0 = _mm512_madd52lo_epu64(l0, x, y0);
        h0 = _mm512_madd52hi_epu64(h0, x, y0);
      }
      _mm512_storeu_si512(o0 + k, red52(&r, l0, h0));
    }
}
#else
typedef int pn_ring_dot_ifma_unused; /* this compiler or target has no AVX-512 IFMA: ring_dot.c never calls it */
#endif
