/* ring64.h - the ring Z_2^64 of MPC shares: fixed-point encoding and matrix products mod 2^64.
**
** (Not src/ckks's ring, which is RNS polynomial arithmetic.) Values are fixed point with frac
** fractional bits (default 16) in two's complement; unsigned 64-bit arithmetic wraps mod 2^64. */
#ifndef PN_MPC_RING64_H
#define PN_MPC_RING64_H

#include <stdint.h>
#include "../util/api.h"

#define PN_MPC_FRAC_DEFAULT 16

/* Nearest fixed-point word of x (round half away from zero; saturates; NaN -> 0). */
PN_API uint64_t pn_fx_encode(double x, int frac);
PN_API double pn_fx_decode(uint64_t v, int frac);
/* C[M,N] = A[M,K] * B[K,N] mod 2^64 (acc != 0: C += ...). */
PN_API void pn_ring64_matmul(int64_t M, int64_t K, int64_t N, const uint64_t *A, const uint64_t *B,
                             uint64_t *C, int acc);
/* C[M,N] = W[M,K] * X[K,N] mod 2^64 with W's words sign-extended from 32 (16) bits. */
PN_API void pn_ring64_matmul_w32(int64_t M, int64_t K, int64_t N, const int32_t *W, const uint64_t *X,
                                 uint64_t *C);
PN_API void pn_ring64_matmul_w16(int64_t M, int64_t K, int64_t N, const int16_t *W, const uint64_t *X,
                                 uint64_t *C);

#endif
