/* relu.h - secure sign, ReLU and max: CrypTen's full-bit adder and HummingBird's reduced ring.
**
** HummingBird keeps bits [k, m) of each share (n = m - k of them) and computes the sign of their
** sum; an error-free range makes that the sign of x. Costs are per element and per party. */
#ifndef PN_MPC_RELU_H
#define PN_MPC_RELU_H

#include "mpc.h"
#include "../util/api.h"

/* HummingBird widths PN_HB_LUT_MIN <= n <= PN_HB_LUT_MAX take their sign from a dealer table (one
** round for the sign, 2^n table bits per element from the dealer) instead of the carry tree. */
#define PN_HB_LUT_MIN 3
#define PN_HB_LUT_MAX 8

/* ReLU modes. */
enum pn_relu_mode { PN_RELU_FULL = 0, PN_RELU_HB = 1 };
/* Secret sign bit of x, arithmetic shares of 0/1 in out (1 when negative):
**   FULL: A2B + 64-bit Kogge-Stone adder on 64-bit words, B2A of bit 63 (CrypTen).
**   HB:   bits [k, m) of each share, bit-sliced sign-only carry tree on n = m - k bits, bit-packed
**         openings, 1-bit B2A. n = 0 is refused (the ReLU is then the identity). */
PN_API int pn_mpc_ltz(struct pn_mpc *m, int64_t n, const pn_sh x, enum pn_relu_mode mode, int k,
                      int mm, pn_sh out);
/* y = ReLU(x). FULL: x * (1 - ltz(x)) with B2A and a Beaver multiply (CrypTen; 1856 bits, 9
** rounds). HB: the multiply is folded into the sign protocol (x - a opened in the carry tree's
** first round, one masked sign bit at the end): 2*ANDs + 65 bits, carry-tree rounds + 1; for
** PN_HB_LUT_MIN <= n <= PN_HB_LUT_MAX the sign comes from a dealer table: n + 65 bits, 2 rounds.
** HB with k == mm is the identity (no communication). */
PN_API int pn_mpc_relu(struct pn_mpc *m, int64_t n, const pn_sh x, enum pn_relu_mode mode, int k,
                       int mm, pn_sh y);
/* y = max(a, b) = b + ReLU(a - b) (reduced ring as for ReLU). */
PN_API int pn_mpc_max(struct pn_mpc *m, int64_t n, const pn_sh a, const pn_sh b, enum pn_relu_mode mode,
                      int k, int mm, pn_sh y);

/* Costs per element per party from the formulas (bits, rounds) of one ReLU (default lut_max;
** _ex: with the given lut_max, 0 for the carry tree everywhere). */
PN_API void pn_relu_cost(enum pn_relu_mode mode, int n, double *bits, int *rounds);
PN_API void pn_relu_cost_ex(enum pn_relu_mode mode, int n, int lut_max, double *bits, int *rounds);

#endif
