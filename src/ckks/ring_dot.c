/* ring_dot.c - pointwise sums of products with one reduction per coefficient (pn_vec_dot_mod).
**
** The straightforward form: each product below q^2 < 2^122 is added to a 128-bit sum, at most
** PN_RING_DOT_MAX = 64 of them (< 2^128), and the sum is reduced once (Barrett). For q < 2^50 on a CPU with
** AVX-512 IFMA, ring_dot_ifma.c does the same with 52-bit multiply-accumulates eight lanes at a time. */
#include "ckks/ring.h"
#include "util/cpu.h"

#ifdef PN_RING_HAVE_IFMA_VARIANT
void pn_vec_dot_mod_ifma(const struct pn_mod *md, const uint64_t *const *a, const uint64_t *const *b0,
                         const uint64_t *const *b1, int m, size_t n, uint64_t *o0, uint64_t *o1);
#endif

void pn_vec_dot_mod(const struct pn_mod *md, const uint64_t *const *a, const uint64_t *const *b0,
                    const uint64_t *const *b1, int m, size_t n, uint64_t *o0, uint64_t *o1) {
  size_t k = 0;
#ifdef PN_RING_HAVE_IFMA_VARIANT
  if (md->q < ((uint64_t)1 << 50) && pn_cpu_has_ifma()) {
    pn_vec_dot_mod_ifma(md, a, b0, b1, m, n, o0, o1);
    k = n - n % 8;
  }
#endif
  if (!b1) {
    for (; k < n; k++) {
      pn_u128 s = 0;
      for (int j = 0; j < m; j++) s += (pn_u128)a[j][k] * b0[j][k];
      o0[k] = pn_mod_red128(md, s);
    }
    return;
  }
  for (; k < n; k++) {
    pn_u128 s0 = 0, s1 = 0;
    for (int j = 0; j < m; j++) {
      const uint64_t e = a[j][k];
      s0 += (pn_u128)e * b0[j][k];
      s1 += (pn_u128)e * b1[j][k];
    }
    o0[k] = pn_mod_red128(md, s0);
    o1[k] = pn_mod_red128(md, s1);
  }
}
