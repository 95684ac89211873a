/* k_x512.h - AVX-512 helpers shared by k_winograd.c, k_pool.c and k_gemm.c (x86-64, GCC or
** Clang only).
**
** pn_x512_even and pn_x512_odd are _mm512_permutex2var_ps index vectors over a pair of registers
** (lanes 0-15 of the first, 16-31 of the second): the even lanes of the pair, then the odd ones,
** i.e. the stride-2 columns starting at 0 and at 1 of 32 consecutive floats.
**
** pn_x512_zip_lo and pn_x512_zip_hi are their inverse: lanes 0-7 (zip_lo) or 8-15 (zip_hi) of the
** first register interleaved with the same lanes of the second (a0 b0 a1 b1 ...). */
#ifndef PN_K_X512_H
#define PN_K_X512_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

__attribute__((target("avx512f"))) static inline __m512i pn_x512_even(void) {
  return _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
}

__attribute__((target("avx512f"))) static inline __m512i pn_x512_odd(void) {
  return _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
}

__attribute__((target("avx512f"))) static inline __m512i pn_x512_zip_lo(void) {
  return _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
}

__attribute__((target("avx512f"))) static inline __m512i pn_x512_zip_hi(void) {
  return _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
}
#endif

#endif
