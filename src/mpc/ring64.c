/* ring64.c - the ring Z_2^64: fixed-point encoding and matrix products mod 2^64.
**
** Unsigned 64-bit arithmetic is arithmetic mod 2^64, so a product of shares needs no reduction;
** the matrix products only choose a loop order that vectorises. */
#include "mpc/ring64.h"

#include <stdlib.h>
#include <string.h>

uint64_t pn_fx_encode(double x, int frac) {
  double s = x * (double)((uint64_t)1 << frac); /* exact: a power of two */
  if (!(s == s)) return 0;                     /* NaN */
  if (s >= 9.2e18) return (uint64_t)INT64_MAX;
  if (s <= -9.2e18) return (uint64_t)INT64_MIN;
  return (uint64_t)(int64_t)(s >= 0 ? s + 0.5 : s - 0.5); /* round half away from zero */
}

double pn_fx_decode(uint64_t v, int frac) {
  return (double)(int64_t)v / (double)((uint64_t)1 << frac);
}

/* in: any words; out: C (+)= A B mod 2^64. Row-major; small N uses dot products over a
** transposed B (contiguous, vectorisable), larger N the i-k-j order. */
void pn_ring64_matmul(int64_t M, int64_t K, int64_t N, const uint64_t *A, const uint64_t *B,
                    uint64_t *C, int acc) {
  if (!acc) memset(C, 0, (size_t)(M * N) * sizeof *C);
  if (N < 16) {
    uint64_t *Bt = malloc((size_t)(N * K + 1) * sizeof *Bt);
    if (Bt) {
      for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) Bt[j * K + k] = B[k * N + j];
#pragma omp parallel for schedule(static) if (M * K * N > (1 << 22))
      for (int64_t i = 0; i < M; i++) {
        const uint64_t *a = A + i * K;
        for (int64_t j = 0; j < N; j++) {
          const uint64_t *b = Bt + j * K;
          uint64_t s = 0;
          for (int64_t k = 0; k < K; k++) s += a[k] * b[k];
          C[i * N + j] += s;
        }
      }
      free(Bt);
      return;
    }
  }
#pragma omp parallel for schedule(static) if (M * K * N > (1 << 22))
  for (int64_t i = 0; i < M; i++) {
    uint64_t *c = C + i * N;
    for (int64_t k = 0; k < K; k++) {
      uint64_t a = A[i * K + k];
      if (!a) continue;
      const uint64_t *b = B + k * N;
      for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
    }
  }
}

/* C[M,N] = W[M,K] X[K,N] mod 2^64 with small signed weights (public weights stored in 32 or 16
** bits: less memory traffic for the weights, which dominate at batch 1). */
#define PN_MATMUL_SMALLW(NAME, WT)                                                               \
  void NAME(int64_t M, int64_t K, int64_t N, const WT *W, const uint64_t *X, uint64_t *C) {      \
    memset(C, 0, (size_t)(M * N) * sizeof *C);                                                   \
    uint64_t *Xt = N < 16 ? malloc((size_t)(N * K + 1) * sizeof *Xt) : NULL;                     \
    if (Xt) {                                                                                    \
      for (int64_t k = 0; k < K; k++)                                                            \
        for (int64_t j = 0; j < N; j++) Xt[j * K + k] = X[k * N + j];                            \
      _Pragma("omp parallel for schedule(static) if (M * K * N > (1 << 22))")                    \
      for (int64_t i = 0; i < M; i++) {                                                          \
        const WT *w = W + i * K;                                                                 \
        for (int64_t j = 0; j < N; j++) {                                                        \
          const uint64_t *x = Xt + j * K;                                                        \
          uint64_t s = 0;                                                                        \
          for (int64_t k = 0; k < K; k++) s += (uint64_t)(int64_t)w[k] * x[k];                   \
          C[i * N + j] = s;                                                                      \
        }                                                                                        \
      }                                                                                          \
      free(Xt);                                                                                  \
      return;                                                                                    \
    }                                                                                            \
    _Pragma("omp parallel for schedule(static) if (M * K * N > (1 << 22))")                      \
    for (int64_t i = 0; i < M; i++) {                                                            \
      uint64_t *c = C + i * N;                                                                   \
      for (int64_t k = 0; k < K; k++) {                                                          \
        uint64_t a = (uint64_t)(int64_t)W[i * K + k];                                            \
        if (!a) continue;                                                                        \
        const uint64_t *b = X + k * N;                                                           \
        for (int64_t j = 0; j < N; j++) c[j] += a * b[j];                                        \
      }                                                                                          \
    }                                                                                            \
  }
PN_MATMUL_SMALLW(pn_ring64_matmul_w32, int32_t)
PN_MATMUL_SMALLW(pn_ring64_matmul_w16, int16_t)
