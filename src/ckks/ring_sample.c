/* ring_sample.c - samplers for the RLWE ring, all drawn from the AES-CTR PRG (util/prg.h).
**
** Uniform mod q by masked rejection on 64-bit words; ternary by rejection on 2-bit pairs; the centred
** binomial CBD(21) as the difference of two 21-bit popcounts (sigma ~ 3.24); a rounded Gaussian with
** sigma = 3.2 cut at 6 sigma for callers that ask for it. */
#include <math.h>

#include "ckks/ring.h"

void pn_sample_uniform(struct pn_prg *prg, uint64_t q, size_t n, uint64_t *out) {
  uint64_t mask = q - 1;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  uint64_t buf[256];
  size_t have = 0, used = 0;
  for (size_t i = 0; i < n;) {
    if (used == have) {
      pn_prg_bytes(prg, buf, sizeof buf);
      have = sizeof buf / sizeof *buf;
      used = 0;
    }
    uint64_t v = buf[used++] & mask;
    if (v < q) out[i++] = v;
  }
}

void pn_sample_ternary(struct pn_prg *prg, size_t n, int8_t *out) {
  uint8_t buf[512];
  size_t have = 0, used = 0;
  for (size_t i = 0; i < n;) {
    if (used == have) {
      pn_prg_bytes(prg, buf, sizeof buf);
      have = sizeof buf;
      used = 0;
    }
    uint8_t b = buf[used++];
    for (int s = 0; s < 8 && i < n; s += 2) {
      int v = (b >> s) & 3;
      if (v == 3) continue; /* rejection keeps {-1, 0, 1} uniform */
      out[i++] = (int8_t)(v - 1);
    }
  }
}

void pn_sample_cbd(struct pn_prg *prg, size_t n, int8_t *out) {
  uint64_t buf[256];
  size_t have = 0, used = 0;
  for (size_t i = 0; i < n; i++) {
    if (used == have) {
      pn_prg_bytes(prg, buf, sizeof buf);
      have = sizeof buf / sizeof *buf;
      used = 0;
    }
    uint64_t w = buf[used++];
    int a = __builtin_popcountll(w & 0x1fffff), b = __builtin_popcountll((w >> 21) & 0x1fffff);
    out[i] = (int8_t)(a - b);
  }
}

void pn_sample_gauss(struct pn_prg *prg, double sigma, size_t n, int8_t *out) {
  double bound = 6 * sigma;
  if (bound > 127) bound = 127;
  for (size_t i = 0; i < n;) {
    double v = pn_prg_normal(prg) * sigma;
    if (fabs(v) > bound) continue;
    out[i++] = (int8_t)lround(v);
  }
}

void pn_small_to_mod(const int8_t *a, size_t n, uint64_t q, uint64_t *out) {
  for (size_t i = 0; i < n; i++) out[i] = a[i] < 0 ? q - (uint64_t)(-a[i]) : (uint64_t)a[i];
}
