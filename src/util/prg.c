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
