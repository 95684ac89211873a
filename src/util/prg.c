/* prg.c - AES-128-CTR keystream as a PRG: the seed is key || IV, output = E_k(IV + i).
**
** Keystream is produced PN_PRG_BUF bytes at a time by encrypting zeros; large requests are encrypted
** straight into the caller's buffer. Everything derived from the seed is wiped on free. */
#include "util/prg.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>

#include "util/cpu.h"
#include "util/status.h"
#include "util/wipe.h"

int pn_getrandom(struct pn_ctx *ctx, void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return pn_err(ctx, PN_ERR_IO, "getrandom: %s", strerror(errno));
    }
    p += r;
    n -= (size_t)r;
  }
  return PN_OK;
}

static void refill(struct pn_prg *prg) {
  int len = 0;
  memset(prg->buf, 0, sizeof prg->buf);
  EVP_EncryptUpdate(prg->evp, prg->buf, &len, prg->buf, (int)sizeof prg->buf);
  prg->pos = 0;
}

int pn_prg_init(struct pn_ctx *ctx, struct pn_prg *prg, const uint8_t seed[PN_SEED_BYTES]) {
  memset(prg, 0, sizeof *prg);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (!c) return pn_err(ctx, PN_ERR_NOMEM, "prg: cannot allocate cipher context");
  if (EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, seed, seed + 16) != 1) {
    EVP_CIPHER_CTX_free(c);
    return pn_err(ctx, PN_ERR_INVALID, "prg: AES-128-CTR initialisation failed");
  }
  prg->evp = c;
  prg->pos = PN_PRG_BUF;
  return PN_OK;
}

int pn_prg_init_os(struct pn_ctx *ctx, struct pn_prg *prg) {
  uint8_t seed[PN_SEED_BYTES];
  int rc = pn_getrandom(ctx, seed, sizeof seed);
  if (rc == PN_OK) rc = pn_prg_init(ctx, prg, seed);
  pn_wipe(seed, sizeof seed);
  return rc;
}

int pn_prg_init_u64(struct pn_ctx *ctx, struct pn_prg *prg, uint64_t seed) {
  uint8_t base[PN_SEED_BYTES] = {0}, out[PN_SEED_BYTES];
  for (int i = 0; i < 8; i++) base[i] = (uint8_t)(seed >> (8 * i));
  pn_seed_derive(base, "privnn user seed", 0, out);
  int rc = pn_prg_init(ctx, prg, out);
  pn_wipe(out, sizeof out);
  return rc;
}

void pn_prg_free(struct pn_prg *prg) {
  if (!prg) return;
  if (prg->evp) EVP_CIPHER_CTX_free(prg->evp); /* OpenSSL cleanses the key schedule */
  pn_wipe(prg, sizeof *prg);
}

void pn_seed_derive(const uint8_t seed[PN_SEED_BYTES], const char *label, uint64_t index,
                    uint8_t out[PN_SEED_BYTES]) {
  uint8_t idx[8];
  for (int i = 0; i < 8; i++) idx[i] = (uint8_t)(index >> (8 * i));
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned len = 0;
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  EVP_DigestUpdate(md, seed, PN_SEED_BYTES);
  EVP_DigestUpdate(md, label, strlen(label) + 1);
  EVP_DigestUpdate(md, idx, sizeof idx);
  EVP_DigestFinal_ex(md, out, &len);
  EVP_MD_CTX_free(md);
}

void pn_sha256(const void *data, size_t n, uint8_t out[32]) {
  unsigned len = 0;
  EVP_Digest(data, n, out, &len, EVP_sha256(), NULL);
}

int pn_sha256_begin(struct pn_ctx *ctx, struct pn_sha256_stream *h) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  h->md = md;
  if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
    EVP_MD_CTX_free(md);
    h->md = NULL;
    return pn_err(ctx, PN_ERR_NOMEM, "sha256: out of memory");
  }
  return PN_OK;
}

void pn_sha256_update(struct pn_sha256_stream *h, const void *data, size_t n) {
  if (h->md && n) EVP_DigestUpdate(h->md, data, n);
}

void pn_sha256_end(struct pn_sha256_stream *h, uint8_t out[32]) {
  unsigned len = 0;
  if (h->md && out) EVP_DigestFinal_ex(h->md, out, &len);
  EVP_MD_CTX_free(h->md);
  h->md = NULL;
}

void pn_prg_bytes(struct pn_prg *prg, void *out, size_t n) {
  unsigned char *p = out;
  size_t avail = PN_PRG_BUF - prg->pos;
  if (n <= avail) {
    memcpy(p, prg->buf + prg->pos, n);
    prg->pos += n;
    return;
  }
  memcpy(p, prg->buf + prg->pos, avail);
  p += avail;
  n -= avail;
  prg->pos = PN_PRG_BUF;
  /* Whole chunks straight into the output, the tail through the buffer. */
  while (n >= PN_PRG_BUF) {
    size_t chunk = n > (1u << 30) ? (1u << 30) : (n / PN_PRG_BUF) * PN_PRG_BUF;
    int len = 0;
    memset(p, 0, chunk);
    EVP_EncryptUpdate(prg->evp, p, &len, p, (int)chunk);
    p += chunk;
    n -= chunk;
  }
  if (n) {
    refill(prg);
    memcpy(p, prg->buf, n);
    prg->pos = n;
  }
}

uint64_t pn_prg_u64(struct pn_prg *prg) {
  uint64_t v;
  pn_prg_bytes(prg, &v, sizeof v);
  return v;
}

uint32_t pn_prg_u32(struct pn_prg *prg) {
  uint32_t v;
  pn_prg_bytes(prg, &v, sizeof v);
  return v;
}

uint64_t pn_prg_uniform(struct pn_prg *prg, uint64_t bound) {
  if (bound <= 1) return 0;
  /* accept v < limit, the largest multiple of bound that fits: no modulo bias */
  uint64_t limit = (UINT64_MAX / bound) * bound;
  uint64_t v;
  do v = pn_prg_u64(prg);
  while (v >= limit);
  return v % bound;
}

double pn_prg_double(struct pn_prg *prg) { return (double)(pn_prg_u64(prg) >> 11) * 0x1p-53; }

double pn_prg_normal(struct pn_prg *prg) {
  if (prg->have_spare) {
    prg->have_spare = 0;
    return prg->spare;
  }
  double u1, u2;
  do u1 = pn_prg_double(prg);
  while (u1 <= 0.0);
  u2 = pn_prg_double(prg);
  double r = sqrt(-2.0 * log(u1));
  prg->spare = r * sin(2.0 * M_PI * u2);
  prg->have_spare = 1;
  return r * cos(2.0 * M_PI * u2);
}

/* ---- bulk float normals ----
**
** Box-Muller over a block of 32-bit keystream words: word a gives u1 in (0, 1], word b an angle.
** The angle is split as quadrant q = b >> 30 plus a = (low 30 bits) mapped to [-pi/4, pi/4), so
** theta = q pi/2 + a is uniform on the circle and sin/cos only need short Taylor polynomials on
** [-pi/4, pi/4]; the quadrant is applied by swapping and sign flips. ln(u1) = e ln 2 + ln(m) with
** m in [sqrt(1/2), sqrt(2)), ln(m) = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172, odd series to s^9
** (truncation < 1e-9). Every loop is branch-free over plain arrays so the compiler vectorises it. */

#define NB PN_PRG_NORMAL_BLOCK
#define NH (PN_PRG_NORMAL_BLOCK / 2)

static inline float f32_from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static inline uint32_t f32_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* -2 ln(u) for u in (0, 1] given as a normal positive float. */
static inline float neg2log(float u) {
  uint32_t b = f32_bits(u);
  /* u = 2^e m with m in [sqrt(1/2), sqrt(2)): offsetting the bits moves the exponent boundary from
  ** 1.0 (0x3f800000) to sqrt(1/2) (0x3f3504f3) */
  uint32_t bb = b + (0x3f800000u - 0x3f3504f3u);
  int32_t e = (int32_t)(bb >> 23) - 127;
  float m = f32_from_bits((bb & 0x007fffffu) + 0x3f3504f3u);
  float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  float p = 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  float lnm = 2.0f * s * p;
  return -2.0f * ((float)e * 0.693147180559945f + lnm);
}

/* sqrt(x) for x in [0, 64): bit-trick guess of 1/sqrt(x) (error < 3.5%), three Newton steps
** (error < 1e-7), times x. Used instead of sqrtf, whose errno path keeps loops scalar. */
static inline float sqrt_nonneg(float x) {
  float y = f32_from_bits(0x5f3759dfu - (f32_bits(x) >> 1)), h = 0.5f * x;
  y = y * (1.5f - h * y * y);
  y = y * (1.5f - h * y * y);
  y = y * (1.5f - h * y * y);
  return x * y;
}

/* vectorised by the compiler; one clone per CPU level (util/cpu.h) */
PN_TARGET_CLONES static void normal_block(const uint32_t w[NB], float out[NB]) {
  float r[NH], c[NH], s[NH];
  for (int i = 0; i < NH; i++) {
    /* 31 bits -> float in (0, 1]: exact for small values, rounded (possibly to 1) near 1 */
    float u = ((float)(int32_t)(w[i] >> 1) + 1.0f) * 0x1p-31f;
    r[i] = sqrt_nonneg(neg2log(u));
  }
  for (int i = 0; i < NH; i++) {
    uint32_t b = w[NH + i];
    float a = ((float)(int32_t)(b & 0x3fffffffu) * 0x1p-30f - 0.5f) * 1.5707963267948966f;
    float a2 = a * a;
    float sp = -1.0f / 362880.0f;
    sp = sp * a2 + 1.0f / 5040.0f;
    sp = sp * a2 - 1.0f / 120.0f;
    sp = sp * a2 + 1.0f / 6.0f;
    float sn = a - a * a2 * sp;    /* a - a^3/3! + a^5/5! - a^7/7! + a^9/9! */
    float cp = 1.0f / 3628800.0f;
    cp = cp * a2 - 1.0f / 40320.0f;
    cp = cp * a2 + 1.0f / 720.0f;
    cp = cp * a2 - 1.0f / 24.0f;
    cp = cp * a2 + 0.5f;
    float cs = 1.0f - a2 * cp;     /* 1 - a^2/2! + a^4/4! - a^6/6! + a^8/8! - a^10/10! */
    uint32_t q = b >> 30;
    uint32_t swap = q & 1u;
    float x = swap ? sn : cs, y = swap ? cs : sn;
    uint32_t xneg = ((q + 1u) & 2u) << 30, yneg = (q & 2u) << 30;
    c[i] = f32_from_bits(f32_bits(x) ^ xneg);
    s[i] = f32_from_bits(f32_bits(y) ^ yneg);
  }
  for (int i = 0; i < NH; i++) {
    out[i] = r[i] * c[i];
    out[NH + i] = r[i] * s[i];
  }
}

void pn_prg_normal_f32(struct pn_prg *prg, float *out, size_t n, float mean, float sd) {
  uint32_t w[NB];
  float z[NB];
  while (n > 0) {
    size_t m = n < NB ? n : NB;
    pn_prg_bytes(prg, w, sizeof w);
    if (m == NB) {
      normal_block(w, out);
      for (size_t i = 0; i < NB; i++) out[i] = mean + sd * out[i];
    } else {
      normal_block(w, z);
      for (size_t i = 0; i < m; i++) out[i] = mean + sd * z[i];
    }
    out += m;
    n -= m;
  }
  pn_wipe(w, sizeof w);
  pn_wipe(z, sizeof z);
}
