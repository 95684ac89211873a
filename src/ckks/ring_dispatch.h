/* ring_dispatch.h - the NTT and basis-extension kernels, built twice and chosen at run time.
**
** ring_ntt.c and ring_rns.c are compiled once for baseline x86-64 and once more, as
** ring_ntt_avx512.c / ring_rns_avx512.c, with -mavx512f -mavx512dq and PN_RING_AVX512_BUILD
** defined. In that second build every public function gets the suffix _avx512 (the list below:
** a public function added to either file needs a line here, or the link reports it twice). The
** baseline build's hot functions start with PN_RING_DISPATCH, which calls the AVX-512 twin when
** pn_cpu_level() says the CPU has it. A build with -march=native on an AVX-512 machine (PN_NATIVE)
** has the kernels inline already and dispatches nothing. Include before ckks/ring.h. */
#ifndef PN_RING_DISPATCH_H
#define PN_RING_DISPATCH_H

#include "util/cpu.h"

#ifdef PN_RING_AVX512_BUILD
/* the twins are internal: libprivnn.so exports the dispatching baseline functions only */
#ifdef PN_API
#error "include ckks/ring_dispatch.h before any privnn header"
#endif
#define PN_API
#define pn_ntt_free pn_ntt_free_avx512
#define pn_ntt_init pn_ntt_init_avx512
#define pn_ntt_fwd_lazy pn_ntt_fwd_lazy_avx512
#define pn_ntt_fwd pn_ntt_fwd_avx512
#define pn_ntt_inv pn_ntt_inv_avx512
#define pn_negacyclic_naive pn_negacyclic_naive_avx512
#define pn_ntt_galois_perm pn_ntt_galois_perm_avx512
#define pn_galois_coeff pn_galois_coeff_avx512
#define pn_vec_sub_mul_shoup pn_vec_sub_mul_shoup_avx512
#define pn_vec_centred_lift pn_vec_centred_lift_avx512
#define pn_rns_extend pn_rns_extend_avx512
#define pn_crt_new pn_crt_new_avx512
#define pn_crt_free pn_crt_free_avx512
#define pn_crt_to_double pn_crt_to_double_avx512
#define pn_crt_to_string pn_crt_to_string_avx512
#endif

#if defined(PN_RING_HAVE_AVX512_VARIANT) && !defined(PN_RING_AVX512_BUILD) && \
    !(defined(__AVX512F__) && defined(__AVX512DQ__))
#include <stddef.h>
#include <stdint.h>
struct pn_ntt;
struct pn_mod;
void pn_ntt_fwd_lazy_avx512(const struct pn_ntt *t, uint64_t *restrict a);
void pn_ntt_fwd_avx512(const struct pn_ntt *t, uint64_t *a);
void pn_ntt_inv_avx512(const struct pn_ntt *t, uint64_t *restrict a);
void pn_vec_sub_mul_shoup_avx512(const uint64_t *x, const uint64_t *t, uint64_t q, uint64_t w,
                                 uint64_t ws, uint64_t *o, size_t n);
void pn_vec_centred_lift_avx512(const uint64_t *v, uint64_t p, const struct pn_mod *m,
                                uint64_t *out, size_t n);
void pn_rns_extend_avx512(const struct pn_mod *B, int nb, const uint64_t *const *src,
                          const struct pn_mod *C, int nc, uint64_t *const *dst, size_t n,
                          uint64_t *tmp, int centred);
#define PN_RING_DISPATCH(fn, ...)                                                                   \
  do {                                                                                              \
    if (pn_cpu_level() >= PN_CPU_AVX512) {                                                          \
      fn##_avx512(__VA_ARGS__);                                                                     \
      return;                                                                                       \
    }                                                                                               \
  } while (0)
#else
#define PN_RING_DISPATCH(fn, ...) ((void)0)
#endif

#endif
