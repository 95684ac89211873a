/* relu.c - secure sign, ReLU and max: CrypTen's full 64-bit adder and HummingBird's reduced ring.
**
** FULL (baseline): the arithmetic shares x0, x1 are the two binary-shared addends (P0 holds x0,
** P1 holds x1); a Kogge-Stone carry-lookahead adder over 64-bit words (one AND for the generate,
** six levels of two ANDs) gives bit 63, which B2A turns into an arithmetic 0/1 with one 64-bit
** opening. 1664 + 64 bits per party per element, 8 rounds, then the Beaver multiply (128, 1).
**
** HB (k, m): each party keeps y_i = (x_i >> k) mod 2^n, n = m - k, locally. The sign of
** (y0 + y1) mod 2^n is bit n-1 of the sum: y0[n-1] ^ y1[n-1] ^ carry into bit n-1. Only that carry
** is computed, by a bit-sliced group-generate tree over the n-1 low bits: L = n-1 leaf ANDs, then
** ceil(log2 L) levels combining (G,P) pairs, where the group holding bit 0 never needs its P.
** ANDs per element: 3L - 2 - ceil(log2 L); every opening is bit-packed (64 elements per word).
** ReLU folds the multiply in: x - a (a from the dealer) is opened in the tree's first round and
** the sign, masked by a dealer bit r, in one more; x * sign follows locally from the dealer's
** shares of r and a*r. Bits per element: 2 ANDs + 64 + 1; rounds: 1 + ceil(log2 L) + 1.
** pn_mpc_ltz (the bare sign) ends with a 1-bit B2A instead.
** For 3 <= n <= 8 the ReLU's sign comes from a dealer table instead (sign_lut): y + r mod 2^n is
** opened (n bits, bit-packed, with x - a in the same round) and each party looks up its share of
** T[y + r] = msb(y); then the masked sign bit as above. n + 64 + 1 bits, 2 rounds; the dealer
** sends P1 2^n table bits per element. The sign is the same function of the shares. */
#include <stdlib.h>
#include <string.h>

#include "mpc/dealer.h"
#include "mpc/relu.h"
#include "util/status.h"
#include "util/wipe.h"

/* Bit-matrix transpose: in a[e] is element e's word; out a[j] holds bit j of every element
** (bit e of a[j] = bit j of the old a[e]). */
static void transpose64(uint64_t a[64]) {
  uint64_t msk = 0x00000000FFFFFFFFull;
  for (int j = 32; j; j >>= 1, msk ^= msk << j)
    for (int k = 0; k < 64; k = ((k | j) + 1) & ~j) {
      uint64_t t = ((a[k] >> j) ^ a[k | j]) & msk;
      a[k] ^= t << j;
      a[k | j] ^= t;
    }
}

static int ceil_log2(int64_t x) {
  int l = 0;
  while (((int64_t)1 << l) < x) l++;
  return l;
}

void pn_relu_cost(enum pn_relu_mode mode, int n, double *bits, int *rounds) {
  pn_relu_cost_ex(mode, n, PN_HB_LUT_MAX, bits, rounds);
}

void pn_relu_cost_ex(enum pn_relu_mode mode, int n, int lut_max, double *bits, int *rounds) {
  if (mode == PN_RELU_FULL) {
    *bits = 128 + 6 * 256 + 64 + 128;
    *rounds = 1 + 6 + 1 + 1;
    return;
  }
  if (n <= 0) {
    *bits = 0;
    *rounds = 0;
    return;
  }
  if (n >= PN_HB_LUT_MIN && n <= lut_max && n <= PN_HB_LUT_MAX) { /* table + folded multiply */
    *bits = n + 64 + 1;
    *rounds = 2;
    return;
  }
  int L = n - 1;
  int ands = L >= 1 ? 3 * L - 2 - ceil_log2(L) : 0;
  *bits = 2.0 * ands + 64 + 1;
  *rounds = (L >= 1 ? 1 + ceil_log2(L) : 0) + 1;
}

/* z = x & y on XOR-shared words, with an AND triple; one round, 2*nw words per party. When xw > 0,
** the words xs[v][0..xw) travel in the same round and the peer's arrive in xr[v]. */
static int and_words_x(struct pn_mpc *m, int64_t nw, const pn_sh x, const pn_sh y, pn_sh z,
                       int64_t xw, const pn_sh xs, pn_sh xr) {
  pn_sh u = {0}, v = {0}, w = {0}, snd = {0}, rcv = {0};
  int64_t tot = 2 * nw + xw;
  int rc;
  if ((rc = pn_sh_alloc(m, nw, u)) || (rc = pn_sh_alloc(m, nw, v)) ||
      (rc = pn_sh_alloc(m, nw, w)) || (rc = pn_sh_alloc(m, tot, snd)) ||
      (rc = pn_sh_alloc(m, tot, rcv)))
    goto done;
  for (int vi = 0; vi < m->nv; vi++) {
    if ((rc = pn_dealer_and(m->dealer, m->id[vi], nw, u[vi], v[vi], w[vi]))) goto done;
    for (int64_t i = 0; i < nw; i++) {
      snd[vi][i] = x[vi][i] ^ u[vi][i];
      snd[vi][nw + i] = y[vi][i] ^ v[vi][i];
    }
    if (xw) memcpy(snd[vi] + 2 * nw, xs[vi], (size_t)xw * 8);
  }
  {
    void *s[2] = {snd[0], snd[1]}, *r[2] = {rcv[0], rcv[1]};
    if ((rc = pn_mpc_exchange(m, s, r, (size_t)tot * 8))) goto done;
  }
  for (int vi = 0; vi < m->nv; vi++) {
    int p0 = m->id[vi] == 0;
    for (int64_t i = 0; i < nw; i++) {
      uint64_t d = snd[vi][i] ^ rcv[vi][i], e = snd[vi][nw + i] ^ rcv[vi][nw + i];
      z[vi][i] = w[vi][i] ^ (d & v[vi][i]) ^ (e & u[vi][i]) ^ (p0 ? d & e : 0);
    }
    if (xw) memcpy(xr[vi], rcv[vi] + 2 * nw, (size_t)xw * 8);
  }
done:
  pn_sh_free(m, nw, u);
  pn_sh_free(m, nw, v);
  pn_sh_free(m, nw, w);
  pn_sh_free(m, tot, snd);
  pn_sh_free(m, tot, rcv);
  return rc;
}

static int and_words(struct pn_mpc *m, int64_t nw, const pn_sh x, const pn_sh y, pn_sh z) {
  pn_sh none = {0};
  return and_words_x(m, nw, x, y, z, 0, none, none);
}

/* B2A: bits (packed when packed != 0: W words; else one word 0/1 per element) to arithmetic. */
static int b2a(struct pn_mpc *m, int64_t n, const pn_sh bits, int packed, pn_sh out) {
  int64_t W = (n + 63) / 64, ns = packed ? W : n;
  pn_sh rb = {0}, ra = {0}, snd = {0}, rcv = {0};
  int rc;
  if ((rc = pn_sh_alloc(m, W, rb)) || (rc = pn_sh_alloc(m, n, ra)) ||
      (rc = pn_sh_alloc(m, ns, snd)) || (rc = pn_sh_alloc(m, ns, rcv)))
    goto done;
  for (int v = 0; v < m->nv; v++) {
    if ((rc = pn_dealer_bit(m->dealer, m->id[v], n, rb[v], ra[v]))) goto done;
    if (packed) {
      for (int64_t w = 0; w < W; w++) snd[v][w] = bits[v][w] ^ rb[v][w];
    } else {
      for (int64_t i = 0; i < n; i++) snd[v][i] = (bits[v][i] ^ (rb[v][i >> 6] >> (i & 63))) & 1;
    }
  }
  {
    void *s[2] = {snd[0], snd[1]}, *r[2] = {rcv[0], rcv[1]};
    if ((rc = pn_mpc_exchange(m, s, r, (size_t)ns * 8))) goto done;
  }
  for (int v = 0; v < m->nv; v++) {
    uint64_t one = m->id[v] == 0 ? 1 : 0;
    for (int64_t i = 0; i < n; i++) {
      uint64_t c = packed ? ((snd[v][i >> 6] ^ rcv[v][i >> 6]) >> (i & 63)) & 1
                          : (snd[v][i] ^ rcv[v][i]) & 1;
      out[v][i] = c ? one - ra[v][i] : ra[v][i];
    }
  }
done:
  pn_sh_free(m, W, rb);
  pn_sh_free(m, n, ra);
  pn_sh_free(m, ns, snd);
  pn_sh_free(m, ns, rcv);
  return rc;
}

static int ltz_full(struct pn_mpc *m, int64_t n, const pn_sh x, pn_sh out) {
  pn_sh A = {0}, B = {0}, G = {0}, P = {0}, X2 = {0}, Y2 = {0}, Z2 = {0};
  int rc;
  if ((rc = pn_sh_alloc(m, n, A)) || (rc = pn_sh_alloc(m, n, B)) || (rc = pn_sh_alloc(m, n, G)) ||
      (rc = pn_sh_alloc(m, n, P)) || (rc = pn_sh_alloc(m, 2 * n, X2)) ||
      (rc = pn_sh_alloc(m, 2 * n, Y2)) || (rc = pn_sh_alloc(m, 2 * n, Z2)))
    goto done;
  for (int v = 0; v < m->nv; v++) {
    memcpy(m->id[v] == 0 ? A[v] : B[v], x[v], (size_t)n * 8);
    memcpy(P[v], x[v], (size_t)n * 8); /* P = A ^ B: each party's share is its own x_i */
  }
  if ((rc = and_words(m, n, A, B, G))) goto done;
  for (int s = 1; s < 64; s <<= 1) {
    for (int v = 0; v < m->nv; v++)
      for (int64_t i = 0; i < n; i++) {
        X2[v][i] = X2[v][n + i] = P[v][i];
        Y2[v][i] = G[v][i] << s;
        Y2[v][n + i] = P[v][i] << s;
      }
    if ((rc = and_words(m, 2 * n, X2, Y2, Z2))) goto done;
    for (int v = 0; v < m->nv; v++)
      for (int64_t i = 0; i < n; i++) {
        G[v][i] ^= Z2[v][i];
        P[v][i] = Z2[v][n + i];
      }
  }
  for (int v = 0; v < m->nv; v++)
    for (int64_t i = 0; i < n; i++) A[v][i] = ((x[v][i] ^ (G[v][i] << 1)) >> 63) & 1;
  rc = b2a(m, n, A, 0, out);
done:
  pn_sh_free(m, n, A);
  pn_sh_free(m, n, B);
  pn_sh_free(m, n, G);
  pn_sh_free(m, n, P);
  pn_sh_free(m, 2 * n, X2);
  pn_sh_free(m, 2 * n, Y2);
  pn_sh_free(m, 2 * n, Z2);
  return rc;
}

/* The packed XOR-shared sign bits (W words) of bits [k, k+nb) of x. When xw > 0 and the carry
** tree has a first round (nb >= 2), xs travels in it (the peer's words land in xr) and *sent = 1. */
static int sign_hb(struct pn_mpc *m, int64_t n, const pn_sh x, int k, int nb, pn_sh sign,
                   int64_t xw, const pn_sh xs, pn_sh xr, int *sent) {
  int64_t W = (n + 63) / 64;
  int L = nb - 1;
  int64_t np = (int64_t)nb * W;               /* words of all planes */
  int64_t nl = (int64_t)(L > 0 ? L : 1) * W;  /* words of the leaf planes */
  pn_sh own = {0}, zero = {0}, g = {0}, p = {0}, X = {0}, Y = {0}, Z = {0};
  int rc;
  *sent = 0;
  if ((rc = pn_sh_alloc(m, np, own)) || (rc = pn_sh_alloc(m, nl, zero)) ||
      (rc = pn_sh_alloc(m, nl, g)) || (rc = pn_sh_alloc(m, nl, p)) ||
      (rc = pn_sh_alloc(m, nl, X)) || (rc = pn_sh_alloc(m, nl, Y)) ||
      (rc = pn_sh_alloc(m, nl, Z)))
    goto done;
  uint64_t mask = nb >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << nb) - 1);
  for (int v = 0; v < m->nv; v++) {
    uint64_t *o = own[v], t[64];
    for (int64_t w = 0; w < W; w++) {
      for (int e = 0; e < 64; e++) {
        int64_t i = w * 64 + e;
        t[e] = i < n ? (x[v][i] >> k) & mask : 0;
      }
      transpose64(t);
      for (int j = 0; j < nb; j++) o[(int64_t)j * W + w] = t[j];
    }
    pn_wipe(t, sizeof t);
  }
  if (L >= 1) {
    /* leaves: G_j = A_j & B_j (P0 holds A = its planes, P1 holds B); P_j = own_j */
    pn_sh xa = {0}, yb = {0};
    for (int v = 0; v < m->nv; v++) {
      xa[v] = m->id[v] == 0 ? own[v] : zero[v];
      yb[v] = m->id[v] == 0 ? zero[v] : own[v];
      memcpy(p[v], own[v], (size_t)L * W * 8);
    }
    if ((rc = and_words_x(m, (int64_t)L * W, xa, yb, g, xw, xs, xr))) goto done;
    *sent = xw > 0;
    int cnt = L;
    while (cnt > 1) {
      int npair = cnt / 2, nand = 2 * npair - 1;
      for (int v = 0; v < m->nv; v++) {
        int slot = 0;
        for (int t = 0; t < npair; t++) {
          int lo = 2 * t, hi = 2 * t + 1;
          memcpy(X[v] + (int64_t)slot * W, p[v] + (int64_t)hi * W, (size_t)W * 8);
          memcpy(Y[v] + (int64_t)slot * W, g[v] + (int64_t)lo * W, (size_t)W * 8);
          slot++;
          if (t > 0) {
            memcpy(X[v] + (int64_t)slot * W, p[v] + (int64_t)hi * W, (size_t)W * 8);
            memcpy(Y[v] + (int64_t)slot * W, p[v] + (int64_t)lo * W, (size_t)W * 8);
            slot++;
          }
        }
      }
      if ((rc = and_words(m, (int64_t)nand * W, X, Y, Z))) goto done;
      for (int v = 0; v < m->nv; v++) {
        int slot = 0;
        for (int t = 0; t < npair; t++) {
          int hi = 2 * t + 1;
          uint64_t *gt = g[v] + (int64_t)t * W, *gh = g[v] + (int64_t)hi * W;
          const uint64_t *z1 = Z[v] + (int64_t)slot * W;
          for (int64_t w = 0; w < W; w++) gt[w] = gh[w] ^ z1[w];
          slot++;
          if (t > 0) {
            memcpy(p[v] + (int64_t)t * W, Z[v] + (int64_t)slot * W, (size_t)W * 8);
            slot++;
          }
        }
        if (cnt & 1) {
          memmove(g[v] + (int64_t)npair * W, g[v] + (int64_t)(cnt - 1) * W, (size_t)W * 8);
          memmove(p[v] + (int64_t)npair * W, p[v] + (int64_t)(cnt - 1) * W, (size_t)W * 8);
        }
      }
      cnt = npair + (cnt & 1);
    }
  }
  for (int v = 0; v < m->nv; v++) {
    const uint64_t *top = own[v] + (int64_t)(nb - 1) * W;
    for (int64_t w = 0; w < W; w++) sign[v][w] = top[w] ^ (L >= 1 ? g[v][w] : 0);
  }
done:
  pn_sh_free(m, np, own);
  pn_sh_free(m, nl, zero);
  pn_sh_free(m, nl, g);
  pn_sh_free(m, nl, p);
  pn_sh_free(m, nl, X);
  pn_sh_free(m, nl, Y);
  pn_sh_free(m, nl, Z);
  return rc;
}

/* The packed XOR-shared sign bits of bits [k, k+nb) of x from a dealer table (3 <= nb <= 8):
** each party opens z_i = y_i + r_i mod 2^nb (nb bits per element, bit-packed), with xs in the same
** round; then z = y + r and its share of T[z] = msb(z - r) = msb(y) is a local lookup. One round. */
static int sign_lut(struct pn_mpc *m, int64_t n, const pn_sh x, int k, int nb, pn_sh sign,
                    int64_t xw, const pn_sh xs, pn_sh xr) {
  int64_t W = (n + 63) / 64, tw = pn_lut_words(nb), pw = (n * nb + 63) / 64, tot = pw + xw;
  uint64_t mask = ((uint64_t)1 << nb) - 1;
  pn_sh r = {0}, T = {0}, snd = {0}, rcv = {0};
  int rc;
  if ((rc = pn_sh_alloc(m, n, r)) || (rc = pn_sh_alloc(m, n * tw, T)) ||
      (rc = pn_sh_alloc(m, tot, snd)) || (rc = pn_sh_alloc(m, tot, rcv)))
    goto done;
  for (int v = 0; v < m->nv; v++) {
    if ((rc = pn_dealer_lut(m->dealer, m->id[v], n, nb, r[v], T[v]))) goto done;
    uint64_t *p = snd[v]; /* zeroed by pn_sh_alloc */
    for (int64_t i = 0; i < n; i++) {
      uint64_t z = ((x[v][i] >> k) + r[v][i]) & mask;
      int64_t bit = i * nb, w = bit >> 6, b = bit & 63;
      p[w] |= z << b;
      if (b + nb > 64) p[w + 1] |= z >> (64 - b);
    }
    if (xw) memcpy(snd[v] + pw, xs[v], (size_t)xw * 8);
  }
  {
    void *s[2] = {snd[0], snd[1]}, *rv[2] = {rcv[0], rcv[1]};
    if ((rc = pn_mpc_exchange(m, s, rv, (size_t)tot * 8))) goto done;
  }
  for (int v = 0; v < m->nv; v++) {
    const uint64_t *p0 = snd[v], *p1 = rcv[v];
    memset(sign[v], 0, (size_t)W * 8);
    for (int64_t i = 0; i < n; i++) {
      int64_t bit = i * nb, w = bit >> 6, b = bit & 63;
      uint64_t z0 = p0[w] >> b, z1 = p1[w] >> b;
      if (b + nb > 64) {
        z0 |= p0[w + 1] << (64 - b);
        z1 |= p1[w + 1] << (64 - b);
      }
      uint64_t z = (z0 + z1) & mask;
      uint64_t t = (T[v][i * tw + (int64_t)(z >> 6)] >> (z & 63)) & 1;
      sign[v][i >> 6] |= t << (i & 63);
    }
    if (xw) memcpy(xr[v], rcv[v] + pw, (size_t)xw * 8);
  }
done:
  pn_sh_free(m, n, r);
  pn_sh_free(m, n * tw, T);
  pn_sh_free(m, tot, snd);
  pn_sh_free(m, tot, rcv);
  return rc;
}

static int ltz_hb(struct pn_mpc *m, int64_t n, const pn_sh x, int k, int nb, pn_sh out) {
  pn_sh sign = {0}, none = {0};
  int sent, rc = pn_sh_alloc(m, (n + 63) / 64, sign);
  if (rc == PN_OK && (rc = sign_hb(m, n, x, k, nb, sign, 0, none, none, &sent)) == PN_OK)
    rc = b2a(m, n, sign, 1, out);
  pn_sh_free(m, (n + 63) / 64, sign);
  return rc;
}

/* HummingBird ReLU with the multiply folded in: the dealer's mask gives a, a bit r (XOR and
** arithmetic shares) and a*r; e = x - a is opened in the carry tree's first round and c = s ^ r
** in the last, then x*s = c*x + (1-2c)(e*[r] + [a*r]) and ReLU(x) = x - x*s locally.
** Rounds: carry tree + 1; bits: 2 * ANDs + 64 + 1 per element. */
static int relu_hb(struct pn_mpc *m, int64_t n, const pn_sh x, int k, int nb, pn_sh y) {
  int64_t W = (n + 63) / 64;
  pn_sh a = {0}, rb = {0}, ra = {0}, ar = {0}, e = {0}, ep = {0}, sign = {0}, snd = {0}, rcv = {0};
  int rc, sent = 0;
  if ((rc = pn_sh_alloc(m, n, a)) || (rc = pn_sh_alloc(m, W, rb)) || (rc = pn_sh_alloc(m, n, ra)) ||
      (rc = pn_sh_alloc(m, n, ar)) || (rc = pn_sh_alloc(m, n, e)) || (rc = pn_sh_alloc(m, n, ep)) ||
      (rc = pn_sh_alloc(m, W, sign)) || (rc = pn_sh_alloc(m, W + n, snd)) ||
      (rc = pn_sh_alloc(m, W + n, rcv)))
    goto done;
  for (int v = 0; v < m->nv; v++) {
    if ((rc = pn_dealer_relu(m->dealer, m->id[v], n, a[v], rb[v], ra[v], ar[v]))) goto done;
    for (int64_t i = 0; i < n; i++) e[v][i] = x[v][i] - a[v][i];
  }
  if (nb >= PN_HB_LUT_MIN && nb <= m->lut_max && nb <= PN_HB_LUT_MAX) {
    if ((rc = sign_lut(m, n, x, k, nb, sign, n, e, ep))) goto done;
    sent = 1;
  } else if ((rc = sign_hb(m, n, x, k, nb, sign, n, e, ep, &sent))) {
    goto done;
  }
  int64_t ns = W + (sent ? 0 : n);
  for (int v = 0; v < m->nv; v++) {
    for (int64_t w = 0; w < W; w++) snd[v][w] = sign[v][w] ^ rb[v][w];
    if (!sent) memcpy(snd[v] + W, e[v], (size_t)n * 8);
  }
  {
    void *s[2] = {snd[0], snd[1]}, *r[2] = {rcv[0], rcv[1]};
    if ((rc = pn_mpc_exchange(m, s, r, (size_t)ns * 8))) goto done;
  }
  for (int v = 0; v < m->nv; v++) {
    const uint64_t *epeer = sent ? ep[v] : rcv[v] + W;
    for (int64_t i = 0; i < n; i++) {
      uint64_t c = ((snd[v][i >> 6] ^ rcv[v][i >> 6]) >> (i & 63)) & 1;
      uint64_t ev = e[v][i] + epeer[i];                     /* x - a, opened */
      uint64_t xr = ev * ra[v][i] + ar[v][i];               /* [x * r] */
      uint64_t xs = c ? x[v][i] - xr : xr;                  /* [x * s], s = c ^ r */
      y[v][i] = x[v][i] - xs;
    }
  }
done:
  pn_sh_free(m, n, a);
  pn_sh_free(m, W, rb);
  pn_sh_free(m, n, ra);
  pn_sh_free(m, n, ar);
  pn_sh_free(m, n, e);
  pn_sh_free(m, n, ep);
  pn_sh_free(m, W, sign);
  pn_sh_free(m, W + n, snd);
  pn_sh_free(m, W + n, rcv);
  return rc;
}

int pn_mpc_ltz(struct pn_mpc *m, int64_t n, const pn_sh x, enum pn_relu_mode mode, int k,
               int mm, pn_sh out) {
  if (n <= 0) return PN_OK;
  if (mode == PN_RELU_FULL) return ltz_full(m, n, x, out);
  if (k < 0 || mm > 64 || mm <= k)
    return pn_err(m->ctx, PN_ERR_INVALID, "mpc: bit range [%d, %d) is not within [0, 64) "
                  "or is empty", k, mm);
  return ltz_hb(m, n, x, k, mm - k, out);
}

int pn_mpc_relu(struct pn_mpc *m, int64_t n, const pn_sh x, enum pn_relu_mode mode, int k,
                int mm, pn_sh y) {
  if (n <= 0) return PN_OK;
  if (mode == PN_RELU_HB && k == mm) {
    for (int v = 0; v < m->nv; v++)
      if (y[v] != x[v]) memcpy(y[v], x[v], (size_t)n * 8);
    return PN_OK;
  }
  if (mode == PN_RELU_HB) {
    if (k < 0 || mm > 64 || mm <= k)
      return pn_err(m->ctx, PN_ERR_INVALID, "mpc: bit range [%d, %d) is not within [0, 64)", k, mm);
    return relu_hb(m, n, x, k, mm - k, y);
  }
  pn_sh s = {0};
  int rc = pn_sh_alloc(m, n, s);
  if (rc) return rc;
  if ((rc = pn_mpc_ltz(m, n, x, mode, k, mm, s)) == PN_OK) {
    for (int v = 0; v < m->nv; v++) {
      uint64_t one = m->id[v] == 0 ? 1 : 0;
      for (int64_t i = 0; i < n; i++) s[v][i] = one - s[v][i];
    }
    rc = pn_mpc_mul(m, n, x, s, y);
  }
  pn_sh_free(m, n, s);
  return rc;
}

int pn_mpc_max(struct pn_mpc *m, int64_t n, const pn_sh a, const pn_sh b, enum pn_relu_mode mode,
               int k, int mm, pn_sh y) {
  pn_sh d = {0};
  int rc = pn_sh_alloc(m, n, d);
  if (rc) return rc;
  for (int v = 0; v < m->nv; v++)
    for (int64_t i = 0; i < n; i++) d[v][i] = a[v][i] - b[v][i];
  if ((rc = pn_mpc_relu(m, n, d, mode, k, mm, d)) == PN_OK)
    for (int v = 0; v < m->nv; v++)
      for (int64_t i = 0; i < n; i++) y[v][i] = b[v][i] + d[v][i];
  pn_sh_free(m, n, d);
  return rc;
}
