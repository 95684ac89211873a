/* ring_ntt_ifma.c - the NTT's stages of span >= 8 for q < 2^50 with AVX-512 IFMA (built with -mavx512ifma; the
** AVX-512 build of ring_ntt.c calls them when pn_cpu_has_ifma() and the tables have their 52-bit Shoup quotients).
**
** A Shoup product y w mod q needs the high half of y w' (w' = floor(w 2^52 / q)): with 52-bit lanes that is one
** vpmadd52huq, where the 64-bit form takes four 32-bit products and their carries. Lazy values stay below 4q <
** 2^52, so every operand is a 52-bit one; the results keep ring_ntt.c's bounds ([0, 4q) forward, [0, 2q)
** inverse), so stages of either kind mix. */
#include "ckks/ring.h"

#if defined(__AVX512F__) && defined(__AVX512IFMA__)
#include <immintrin.h>

void pn_ntt_stage_ifma(uint64_t *a, size_t m, size_t tt, const uint64_t *w, const uint64_t *ws52, uint64_t q,
                       int inverse);

/* y w mod q in [0, 2q) for y < 2^52, w < q < 2^50 */
static inline __m512i shoup52(__m512i y, __m512i w, __m512i ws, __m512i q, __m512i m52) {
  const __m512i z = _mm512_setzero_si512();
  __m512i qh = _mm512_madd52hi_epu64(z, y, ws);
  return _mm512_and_si512(_mm512_sub_epi64(_mm512_madd52lo_epu64(z, y, w), _mm512_madd52lo_epu64(z, qh, q)), m52);
}

static inline __m512i min_sub(__m512i x, __m512i m) { return _mm512_min_epu64(x, _mm512_sub_epi64(x, m)); }

/* forward (Cooley-Tukey): in [0, 4q), out [0, 4q); inverse (Gentleman-Sande): in [0, 2q), out [0, 2q) */
void pn_ntt_stage_ifma(uint64_t *a, size_t m, size_t tt, const uint64_t *w, const uint64_t *ws52, uint64_t q,
                       int inverse) {
  const __m512i vq = _mm512_set1_epi64((long long)q), v2q = _mm512_set1_epi64((long long)(2 * q));
  const __m512i m52 = _mm512_set1_epi64((long long)((((uint64_t)1) << 52) - 1));
  for (size_t i = 0; i < m; i++) {
    const __m512i W = _mm512_set1_epi64((long long)w[m + i]), Ws = _mm512_set1_epi64((long long)ws52[m + i]);
    uint64_t *x = a + 2 * i * tt, *y = x + tt;
    for (size_t j = 0; j < tt; j += 8) {
      __m512i X = _mm512_loadu_si512(x + j), Y = _mm512_loadu_si512(y + j);
      if (!inverse) {
        X = min_sub(X, v2q);
        __m512i T = shoup52(Y, W, Ws, vq, m52);
        _mm512_storeu_si512(x + j, _mm512_add_epi64(X, T));
        _mm512_storeu_si512(y + j, _mm512_add_epi64(_mm512_sub_epi64(X, T), v2q));
      } else {
        _mm512_storeu_si512(x + j, min_sub(_mm512_add_epi64(X, Y), v2q));
        _mm512_storeu_si512(y + j, shoup52(_mm512_add_epi64(_mm512_sub_epi64(X, Y), v2q), W, Ws, vq, m52));
      }
    }
  }
}
#else
typedef int pn_ring_ntt_ifma_unused; /* no AVX-512 IFMA here: ring_ntt.c never calls it */
#endif
