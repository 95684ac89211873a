/* ring.h - ring layer of the CKKS library: word-size NTT primes, modular arithmetic, NTT, RNS, samplers.
**
** Every modulus q is an odd prime below 2^61 with 2N | q-1, so that lazy values up to 4q fit in 64 bits.
** Products use unsigned __int128. Two reductions are used:
**   Barrett (pn_mod_red128): any 128-bit value -> [0, q), with the 128-bit ratio floor(2^128 / q);
**   Shoup (pn_mul_shoup*):   x * w mod q for a fixed w with w' = floor(w 2^64 / q) precomputed.
** Bounds are stated on each kernel as "in: ... out: ...". The NTT is negacyclic (Z_q[X]/(X^N+1)),
** Cooley-Tukey forward / Gentleman-Sande inverse with Harvey's lazy butterflies; the evaluation form
** is in bit-reversed order (slot k holds a(psi^(2 bitrev(k) + 1))). */
#ifndef PN_CKKS_RING_H
#define PN_CKKS_RING_H

#include <stddef.h>
#include <stdint.h>

#include "../util/prg.h"
#include "../util/status.h"
#include "../util/api.h"

typedef unsigned __int128 pn_u128;

#define PN_RING_MAX_PRIME_BITS 61
#define PN_RING_MIN_PRIME_BITS 20

/* A word-size prime modulus with its Barrett ratio floor(2^128 / q) = r1 2^64 + r0. */
struct pn_mod {
  uint64_t q;
  uint64_t r0, r1;
};

PN_API void pn_mod_init(struct pn_mod *m, uint64_t q);

/* in: x < 2^128; out: x mod q in [0, q). */
static inline uint64_t pn_mod_red128(const struct pn_mod *m, pn_u128 x) {
  uint64_t x0 = (uint64_t)x, x1 = (uint64_t)(x >> 64);
  pn_u128 a = ((pn_u128)x0 * m->r0) >> 64;
  pn_u128 b = (pn_u128)x0 * m->r1;
  pn_u128 c = (pn_u128)x1 * m->r0;
  pn_u128 mid = a + (uint64_t)b + (uint64_t)c;
  uint64_t qh = x1 * m->r1 + (uint64_t)(b >> 64) + (uint64_t)(c >> 64) + (uint64_t)(mid >> 64);
  uint64_t r = x0 - qh * m->q; /* the quotient estimate is short by at most 2: r < 3q */
  if (r >= m->q) r -= m->q;
  if (r >= m->q) r -= m->q;
  return r;
}

/* in: x < 2^64; out: x mod q. */
static inline uint64_t pn_mod_red64(const struct pn_mod *m, uint64_t x) {
  return pn_mod_red128(m, (pn_u128)x);
}

/* in: a, b < 2^64 with a b < 2^128; out: a b mod q. */
static inline uint64_t pn_mod_mul(const struct pn_mod *m, uint64_t a, uint64_t b) {
  return pn_mod_red128(m, (pn_u128)a * b);
}

/* in: a, b < q; out: < q. */
static inline uint64_t pn_mod_add(uint64_t a, uint64_t b, uint64_t q) {
  uint64_t s = a + b;
  return s >= q ? s - q : s;
}
static inline uint64_t pn_mod_sub(uint64_t a, uint64_t b, uint64_t q) {
  return a >= b ? a - b : a + q - b;
}
static inline uint64_t pn_mod_neg(uint64_t a, uint64_t q) { return a ? q - a : 0; }

/* Shoup precomputation for a fixed w < q: floor(w 2^64 / q). */
static inline uint64_t pn_shoup(uint64_t w, uint64_t q) {
  return (uint64_t)(((pn_u128)w << 64) / q);
}
/* in: any x < 2^64, w < q, ws = pn_shoup(w); out: x w mod q in [0, 2q). */
static inline uint64_t pn_mul_shoup_lazy(uint64_t x, uint64_t w, uint64_t ws, uint64_t q) {
  uint64_t qh = (uint64_t)(((pn_u128)x * ws) >> 64);
  return x * w - qh * q;
}
/* in: any x < 2^64; out: x w mod q in [0, q). */
static inline uint64_t pn_mul_shoup(uint64_t x, uint64_t w, uint64_t ws, uint64_t q) {
  uint64_t r = pn_mul_shoup_lazy(x, w, ws, q);
  return r >= q ? r - q : r;
}

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#define PN_NTT_AVX512 1 /* 8-lane kernels for the NTT and basis extension */
/* high 64 bits of the 64x64 product, lane-wise, from four 32x32 products */
static inline __m512i mulhi64(__m512i a, __m512i b) {
  const __m512i lo32 = _mm512_set1_epi64(0xffffffffLL);
  __m512i ah = _mm512_srli_epi64(a, 32), bh = _mm512_srli_epi64(b, 32);
  __m512i ll = _mm512_mul_epu32(a, b), lh = _mm512_mul_epu32(a, bh);
  __m512i hl = _mm512_mul_epu32(ah, b), hh = _mm512_mul_epu32(ah, bh);
  __m512i mid = _mm512_add_epi64(_mm512_srli_epi64(ll, 32), _mm512_and_si512(lh, lo32));
  mid = _mm512_add_epi64(mid, _mm512_and_si512(hl, lo32));
  __m512i hi = _mm512_add_epi64(hh, _mm512_srli_epi64(lh, 32));
  hi = _mm512_add_epi64(hi, _mm512_srli_epi64(hl, 32));
  return _mm512_add_epi64(hi, _mm512_srli_epi64(mid, 32));
}
/* Shoup, lazy: x w mod q in [0, 2q) */
static inline __m512i mul_shoup_lazy8(__m512i x, __m512i w, __m512i ws, __m512i q) {
  __m512i qh = mulhi64(x, ws);
  return _mm512_sub_epi64(_mm512_mullo_epi64(x, w), _mm512_mullo_epi64(qh, q));
}
/* x in [0, 2m) -> [0, m) for unsigned lanes: min(x, x - m) */
static inline __m512i reduce_once8(__m512i x, __m512i m) {
  return _mm512_min_epu64(x, _mm512_sub_epi64(x, m));
}
#endif

PN_API uint64_t pn_mod_pow(const struct pn_mod *m, uint64_t a, uint64_t e);
/* Inverse of a (a != 0 mod q) by Fermat. */
PN_API uint64_t pn_mod_inv(const struct pn_mod *m, uint64_t a);
/* Reduce a signed value into [0, q). */
static inline uint64_t pn_mod_from_i64(int64_t v, uint64_t q) {
  if (v >= 0) return (uint64_t)v % q;
  uint64_t r = (uint64_t)(-(v + 1)) % q; /* -(v+1) avoids overflow at INT64_MIN */
  return q - 1 - r;
}

/* ---- primes (ring_prime.c) ---- */
/* Deterministic Miller-Rabin for 64-bit n (bases 2..37): 1 if prime. */
PN_API int pn_is_prime(uint64_t n);
/* Find count distinct primes q = 1 mod 2n of bit size exactly `bits` (2^(bits-1) < q < 2^bits),
** the largest first, skipping any already in avoid[0..navoid). PN_ERR_INVALID if there are not enough. */
PN_API int pn_prime_gen(struct pn_ctx *ctx, int bits, size_t n, int count, const uint64_t *avoid,
                        int navoid,
                        uint64_t *out /* OUT count */);
/* A primitive 2n-th root of unity mod q (2n | q-1), the smallest in a deterministic search. */
PN_API uint64_t pn_prime_root_2n(uint64_t q, size_t n);

/* ---- NTT (ring_ntt.c) ---- */
struct pn_ntt {
  uint64_t q;
  int logn;
  size_t n;
  uint64_t psi;                   /* the primitive 2n-th root used */
  uint64_t *w, *ws;               /* psi^bitrev(k), Shoup */
  uint64_t *iw, *iws;             /* psi^-bitrev(k) in the layout of the inverse, Shoup */
  uint64_t ninv, ninvs;           /* n^-1 mod q, Shoup */
  uint64_t *ws52, *iws52;         /* q < 2^50: floor(w 2^52 / q) of w and iw, for the IFMA stages; else NULL */
};
PN_API int pn_ntt_init(struct pn_ctx *ctx, struct pn_ntt *t, uint64_t q, int logn);
PN_API void pn_ntt_free(struct pn_ntt *t);
/* Forward negacyclic NTT in place. in: a[i] < 4q (coefficients); out: < q (bit-reversed evaluations). */
PN_API void pn_ntt_fwd(const struct pn_ntt *t, uint64_t *a);
/* Same, output left lazy in [0, 4q). */
PN_API void pn_ntt_fwd_lazy(const struct pn_ntt *t, uint64_t *a);
/* Inverse negacyclic NTT in place, including the 1/n. in: a[i] < 2q; out: < q. */
PN_API void pn_ntt_inv(const struct pn_ntt *t, uint64_t *a);
/* o[k] = (x[k] + 4q - t[k]) w mod q for x < q, t < 4q: the last step of rescaling and ModDown. */
PN_API void pn_vec_sub_mul_shoup(const uint64_t *x, const uint64_t *t, uint64_t q, uint64_t w,
                                 uint64_t ws,
                                 uint64_t *o, size_t n);
/* out[k] = the centred value of v[k] mod p (v < p, v > p/2 stands for v - p), reduced mod q. */
PN_API void pn_vec_centred_lift(const uint64_t *v, uint64_t p, const struct pn_mod *q, uint64_t *out,
                                size_t n);
/* Schoolbook negacyclic product c = a b mod (X^n + 1, q), for tests. in/out < q; c may not alias. */
PN_API void pn_negacyclic_naive(const struct pn_mod *m, size_t n, const uint64_t *a, const uint64_t *b,
                                uint64_t *c);
/* Index map of the automorphism X -> X^g (g odd) in the bit-reversed evaluation form:
** out[k] = in[perm[k]]. perm has n entries. */
PN_API void pn_ntt_galois_perm(int logn, uint64_t g, uint32_t *perm /* OUT n */);
/* Automorphism X -> X^g on coefficients: out = a(X^g) mod (X^n+1, q). out may not alias a. */
PN_API void pn_galois_coeff(size_t n, uint64_t g, uint64_t q, const uint64_t *a, uint64_t *out);

/* ---- sums of products (ring_dot.c) ---- */
/* At most this many terms per pn_vec_dot_mod call: m products below (2^61)^2 fit a 128-bit sum. */
#define PN_RING_DOT_MAX 64
/* Pointwise sums of products, one reduction per coefficient (lazy: the terms are summed unreduced):
**   o0[k] = sum_{j < m} a[j][k] b0[j][k] mod q,  and, when b1 is not NULL, o1[k] = sum_j a[j][k] b1[j][k] mod q,
** for k in [0, n). in: every a[j][k], b0[j][k], b1[j][k] < q, 1 <= m <= PN_RING_DOT_MAX; out: < q. The key-switch
** inner product (b0, b1 = a key's two halves) and a BSGS group's plaintext products. For q < 2^50, on a CPU
** with AVX-512 IFMA (pn_cpu_has_ifma), eight coefficients at a time with 52-bit multiply-accumulates; the
** result is the same to the bit. Outputs may not alias inputs. */
PN_API void pn_vec_dot_mod(const struct pn_mod *md, const uint64_t *const *a, const uint64_t *const *b0,
                           const uint64_t *const *b1, int m, size_t n, uint64_t *o0, uint64_t *o1);

/* ---- RNS (ring_rns.c) ---- */
/* Fast basis extension from B = {b_0..b_{nb-1}} to C = {c_0..c_{nc-1}} (HPS): for x given by its
** residues src[i][0..n) < b_i, writes dst[j][k] = x' mod c_j where, if centred is 0, x' = x + u B with
** 0 <= u < nb (no correction), and if centred is 1, x' is the representative of x in [-B/2, B/2)
** (u estimated in double precision; exact unless x is within ~nb 2^-52 B of +-B/2). Precomputation is
** done per call (O(nb (nb + nc)) words); tmp must hold (nb + 1) * n words. */
PN_API void pn_rns_extend(const struct pn_mod *B, int nb, const uint64_t *const *src,
                          const struct pn_mod *C,
                          int nc, uint64_t *const *dst, size_t n, uint64_t *tmp, int centred);

/* Exact CRT: the residues x_i < q_i of m coefficients over Q = q_0 ... q_{nq-1} are reconstructed,
** centred into (-Q/2, Q/2], and returned as doubles times `mul` (e.g. 1/scale). Uses GMP's mpn layer. */
struct pn_crt;
PN_API struct pn_crt *pn_crt_new(const struct pn_mod *q, int nq);
PN_API void pn_crt_free(struct pn_crt *c);
/* res[i] points at the n residues modulo q_i. */
PN_API void pn_crt_to_double(const struct pn_crt *c, const uint64_t *const *res, size_t n, double mul,
                             double *out /* OUT n */);
/* Exact value of one coefficient as a signed decimal string (tests): buf of size >= 20 * nq + 3. */
PN_API void pn_crt_to_string(const struct pn_crt *c, const uint64_t *residues, char *buf, size_t size);

/* ---- samplers (ring_sample.c): all randomness from the PRG ---- */
/* Uniform in [0, q) for n values. */
PN_API void pn_sample_uniform(struct pn_prg *prg, uint64_t q, size_t n, uint64_t *out);
/* Uniform ternary {-1, 0, 1}. */
PN_API void pn_sample_ternary(struct pn_prg *prg, size_t n, int8_t *out);
/* Centred binomial with eta = 21 (sigma = sqrt(10.5) ~ 3.24): values in [-21, 21]. */
PN_API void pn_sample_cbd(struct pn_prg *prg, size_t n, int8_t *out);
/* Rounded Gaussian, sigma = 3.2, tail cut at 6 sigma: values in [-19, 19]. */
PN_API void pn_sample_gauss(struct pn_prg *prg, double sigma, size_t n, int8_t *out);
/* Lift a small signed polynomial into residues mod q. */
PN_API void pn_small_to_mod(const int8_t *a, size_t n, uint64_t q, uint64_t *out);

#endif
