/* ring_rns.c - RNS helpers: fast basis extension (HPS) and exact CRT reconstruction with GMP's mpn.
**
** Basis extension from B to C: y_i = [x_i (B/b_i)^-1]_{b_i}, then x'_j = sum_i y_i [B/b_i]_{c_j} mod c_j.
** Each term is a Shoup product (the constants [B/b_i]_{c_j} are fixed per call) in [0, 2c_j), the running
** sum kept in [0, 2c_j); with AVX-512 eight coefficients at a time.
** The result is x + u B with 0 <= u < |B|: key switching and rescaling are built to absorb that u.
** CRT: x = sum_i y_i (Q/q_i) - k Q with y_i as above and k estimated from sum y_i / q_i in long double,
** then corrected exactly by comparison; the value is centred and converted to double from its top limbs. */
#include <gmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ring_dispatch.h" /* first: built twice, see there */
#include "ckks/ring.h"

#define RNS_MAX 64

void pn_rns_extend(const struct pn_mod *B, int nb, const uint64_t *const *src, const struct pn_mod *C,
                   int nc, uint64_t *const *dst, size_t n, uint64_t *tmp, int centred) {
  PN_RING_DISPATCH(pn_rns_extend, B, nb, src, C, nc, dst, n, tmp, centred);
  uint64_t inv[RNS_MAX], invs[RNS_MAX];
  uint64_t hat[RNS_MAX * RNS_MAX], hats[RNS_MAX * RNS_MAX]; /* (B / b_i) mod c_j at [j nb + i], Shoup */
  for (int i = 0; i < nb; i++) {
    uint64_t prod = 1;
    for (int k = 0; k < nb; k++)
      if (k != i) prod = pn_mod_mul(&B[i], prod, B[k].q % B[i].q);
    inv[i] = pn_mod_inv(&B[i], prod);
    invs[i] = pn_shoup(inv[i], B[i].q);
  }
  for (int j = 0; j < nc; j++)
    for (int i = 0; i < nb; i++) {
      uint64_t prod = 1;
      for (int k = 0; k < nb; k++)
        if (k != i) prod = pn_mod_mul(&C[j], prod, B[k].q % C[j].q);
      hat[j * nb + i] = prod;
      hats[j * nb + i] = pn_shoup(prod, C[j].q);
    }
  /* centred: u = round(sum_i y_i / b_i) per coefficient, so that sum_i y_i (B/b_i) - u B is the
  ** representative of x in [-B/2, B/2) (the HPS estimate; exact except within ~nb 2^-52 B of +-B/2) */
  uint64_t bmod[2 * RNS_MAX], bmods[2 * RNS_MAX]; /* B mod c_j, Shoup */
  uint64_t *u = tmp + (size_t)nb * n;
  if (centred)
    for (int j = 0; j < nc; j++) {
      uint64_t prod = 1;
      for (int k = 0; k < nb; k++) prod = pn_mod_mul(&C[j], prod, B[k].q % C[j].q);
      bmod[j] = prod;
      bmods[j] = pn_shoup(prod, C[j].q);
    }
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nb; i++) {
    const uint64_t *s = src[i];
    uint64_t *y = tmp + (size_t)i * n, q = B[i].q, w = inv[i], ws = invs[i];
    for (size_t k = 0; k < n; k++) y[k] = pn_mul_shoup(s[k], w, ws, q);
  }
  if (centred) {
    double binv[RNS_MAX];
    for (int i = 0; i < nb; i++) binv[i] = 1.0 / (double)B[i].q;
#pragma omp parallel for schedule(static)
    for (size_t k0 = 0; k0 < n; k0 += 1024) {
      const size_t k1 = k0 + 1024 < n ? k0 + 1024 : n;
      for (size_t k = k0; k < k1; k++) {
        double v = 0;
        for (int i = 0; i < nb; i++) v += (double)tmp[(size_t)i * n + k] * binv[i];
        u[k] = (uint64_t)(v + 0.5);
      }
    }
  }
#pragma omp parallel for schedule(static)
  for (int j = 0; j < nc; j++) {
    const uint64_t *h = hat + (size_t)j * nb, *hs = hats + (size_t)j * nb;
    const uint64_t cj = C[j].q, twoc = 2 * cj;
    uint64_t *d = dst[j];
    if (nb == 1) {
      /* a single source prime: x < b_0 is reduced directly (u = 0), or centred: x > b_0/2 is x - b_0 */
      const uint64_t b0 = B[0].q, half = b0 >> 1, negb = cj - b0 % cj;
      size_t k = 0;
#ifdef PN_NTT_AVX512
      if (b0 <= 2 * cj && centred) {
        const __m512i vc = _mm512_set1_epi64((long long)cj), vh = _mm512_set1_epi64((long long)half);
        const __m512i vn = _mm512_set1_epi64((long long)negb);
        for (; k + 8 <= n; k += 8) {
          __m512i x = _mm512_loadu_si512(src[0] + k), r = reduce_once8(x, vc);
          __m512i neg = reduce_once8(_mm512_add_epi64(r, vn), vc);
          _mm512_storeu_si512(d + k, _mm512_mask_blend_epi64(_mm512_cmpgt_epu64_mask(x, vh), r, neg));
        }
        for (; k < n; k++) {
          uint64_t x = src[0][k], r = x - (x >= cj ? cj : 0);
          d[k] = x > half ? pn_mod_add(r, negb, cj) : r;
        }
        continue;
      }
#endif
      (void)k;
      if (b0 <= 2 * cj) /* one conditional subtraction suffices */
        for (size_t k2 = 0; k2 < n; k2++) d[k2] = src[0][k2] - (src[0][k2] >= cj ? cj : 0);
      else
        for (size_t k2 = 0; k2 < n; k2++) d[k2] = pn_mod_red64(&C[j], src[0][k2]);
      if (centred)
        for (size_t k2 = 0; k2 < n; k2++)
          if (src[0][k2] > half) d[k2] = pn_mod_add(d[k2], negb, cj);
      continue;
    }
    /* sum_i y_i hat_i mod c_j: each term by Shoup in [0, 2c), the running sum kept in [0, 2c) */
    size_t k = 0;
#ifdef PN_NTT_AVX512
    const __m512i vc = _mm512_set1_epi64((long long)cj), v2c = _mm512_set1_epi64((long long)twoc);
    for (; k + 8 <= n; k += 8) {
      __m512i acc = _mm512_setzero_si512();
      for (int i = 0; i < nb; i++) {
        __m512i y = _mm512_loadu_si512(tmp + (size_t)i * n + k);
        __m512i t = mul_shoup_lazy8(y, _mm512_set1_epi64((long long)h[i]), _mm512_set1_epi64((long long)hs[i]), vc);
        acc = reduce_once8(_mm512_add_epi64(acc, t), v2c);
      }
      if (centred) { /* acc - u (B mod c) + 2c, in [0, 4c) */
        __m512i t = mul_shoup_lazy8(_mm512_loadu_si512(u + k), _mm512_set1_epi64((long long)bmod[j]),
                                    _mm512_set1_epi64((long long)bmods[j]), vc);
        acc = reduce_once8(_mm512_sub_epi64(_mm512_add_epi64(acc, v2c), t), v2c);
      }
      _mm512_storeu_si512(d + k, reduce_once8(acc, vc));
    }
#endif
    for (; k < n; k++) {
      uint64_t acc = 0;
      for (int i = 0; i < nb; i++) {
        acc += pn_mul_shoup_lazy(tmp[(size_t)i * n + k], h[i], hs[i], cj);
        acc -= acc >= twoc ? twoc : 0;
      }
      if (centred) {
        acc = acc + twoc - pn_mul_shoup_lazy(u[k], bmod[j], bmods[j], cj);
        acc -= acc >= twoc ? twoc : 0;
      }
      d[k] = acc - (acc >= cj ? cj : 0);
    }
  }
}

struct pn_crt {
  int nq;
  mp_size_t nl;        /* limbs of Q */
  uint64_t q[RNS_MAX], inv[RNS_MAX], invs[RNS_MAX];
  long double qinv[RNS_MAX];
  mp_limb_t *Q, *Qhalf, *hat; /* hat: nq rows of nl limbs, Q / q_i */
};

struct pn_crt *pn_crt_new(const struct pn_mod *q, int nq) {
  if (nq < 1 || nq > RNS_MAX) return NULL;
  struct pn_crt *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->nq = nq;
  c->nl = nq + 1;
  c->Q = calloc((size_t)c->nl, sizeof(mp_limb_t));
  c->Qhalf = calloc((size_t)c->nl, sizeof(mp_limb_t));
  c->hat = calloc((size_t)c->nl * (size_t)nq, sizeof(mp_limb_t));
  if (!c->Q || !c->Qhalf || !c->hat) {
    pn_crt_free(c);
    return NULL;
  }
  c->Q[0] = 1;
  for (int i = 0; i < nq; i++) mpn_mul_1(c->Q, c->Q, c->nl, q[i].q);
  mpn_rshift(c->Qhalf, c->Q, c->nl, 1);
  for (int i = 0; i < nq; i++) {
    mp_limb_t *h = c->hat + (size_t)i * c->nl;
    h[0] = 1;
    uint64_t prod = 1;
    for (int k = 0; k < nq; k++)
      if (k != i) {
        mpn_mul_1(h, h, c->nl, q[k].q);
        prod = pn_mod_mul(&q[i], prod, q[k].q % q[i].q);
      }
    c->q[i] = q[i].q;
    c->inv[i] = pn_mod_inv(&q[i], prod);
    c->invs[i] = pn_shoup(c->inv[i], q[i].q);
    c->qinv[i] = 1.0L / (long double)q[i].q;
  }
  return c;
}

void pn_crt_free(struct pn_crt *c) {
  if (!c) return;
  free(c->Q);
  free(c->Qhalf);
  free(c->hat);
  free(c);
}

/* acc (nl limbs) <- exact x in [0, Q) from residues r[i] */
static void crt_one(const struct pn_crt *c, const uint64_t *r, size_t stride, mp_limb_t *acc) {
  mp_size_t nl = c->nl;
  memset(acc, 0, (size_t)nl * sizeof *acc);
  long double v = 0;
  for (int i = 0; i < c->nq; i++) {
    uint64_t y = pn_mul_shoup(r[(size_t)i * stride], c->inv[i], c->invs[i], c->q[i]);
    mpn_addmul_1(acc, c->hat + (size_t)i * nl, nl, y);
    v += (long double)y * c->qinv[i];
  }
  /* sum < nq Q fits nl limbs; subtract floor(v) - 1 copies of Q (never too many), then fix up */
  long double fl = floorl(v);
  mp_limb_t k = fl >= 1 ? (mp_limb_t)fl - 1 : 0;
  if (k) mpn_submul_1(acc, c->Q, nl, k);
  while (mpn_cmp(acc, c->Q, nl) >= 0) mpn_sub_n(acc, acc, c->Q, nl);
}

static double limbs_to_double(const mp_limb_t *a, mp_size_t nl) {
  mp_size_t top = nl;
  while (top > 0 && a[top - 1] == 0) top--;
  if (top == 0) return 0.0;
  double r = 0;
  mp_size_t lo = top >= 3 ? top - 3 : 0;
  for (mp_size_t i = top; i-- > lo;) r = r * 18446744073709551616.0 + (double)a[i];
  return ldexp(r, (int)(64 * lo));
}

void pn_crt_to_double(const struct pn_crt *c, const uint64_t *const *res, size_t n, double mul,
                      double *out) {
  mp_size_t nl = c->nl;
  mp_limb_t acc[RNS_MAX + 1], neg[RNS_MAX + 1];
  uint64_t r[RNS_MAX];
  for (size_t k = 0; k < n; k++) {
    for (int i = 0; i < c->nq; i++) r[i] = res[i][k];
    crt_one(c, r, 1, acc);
    if (mpn_cmp(acc, c->Qhalf, nl) > 0) {
      mpn_sub_n(neg, c->Q, acc, nl);
      out[k] = -limbs_to_double(neg, nl) * mul;
    } else {
      out[k] = limbs_to_double(acc, nl) * mul;
    }
  }
}

void pn_crt_to_string(const struct pn_crt *c, const uint64_t *residues, char *buf, size_t size) {
  mp_size_t nl = c->nl;
  mp_limb_t acc[RNS_MAX + 1], t[RNS_MAX + 1];
  crt_one(c, residues, 1, acc);
  int negative = mpn_cmp(acc, c->Qhalf, nl) > 0;
  if (negative) mpn_sub_n(acc, c->Q, acc, nl);
  mpn_copyi(t, acc, nl);
  mp_size_t top = nl;
  while (top > 0 && t[top - 1] == 0) top--;
  unsigned char digits[20 * RNS_MAX + 24];
  size_t nd = top ? mpn_get_str(digits, 10, t, top) : 0;
  size_t pos = 0;
  if (size < 3) return;
  if (negative) buf[pos++] = '-';
  if (nd == 0) buf[pos++] = '0';
  for (size_t i = 0; i < nd && pos + 1 < size; i++) buf[pos++] = (char)('0' + digits[i]);
  buf[pos] = 0;
}
