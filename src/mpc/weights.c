/* weights.c - weight share files: the model owner's split of secret weights for `mpc party`.
**
** P0's file holds its share (W - R) of every constant the runner uses, by name; P1's file holds
** only the owner's 32-byte seed, from which it expands R. Format (little-endian): "PNMPCWT\0",
** u32 version 1, u32 party, u32 frac, u32 entries, u8 model_sha256[32], u8 seed[32] (zero for P0);
** then per entry u32 name length, the name, u64 word count, the words; then the SHA-256 of
** everything before it. Readers check magic, version, checksum, party and model. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "mpc/runner.h"
#include "util/fileio.h"
#include "util/status.h"
#include "util/wipe.h"

#define WHDR 88
static const char wmagic[8] = "PNMPCWT";


int pn_mpc_wfile_write(struct pn_ctx *ctx, const char *path, int party,
                       const struct pn_mpc_wtable *t, const uint8_t model[32],
                       const uint8_t seed[32], int frac) {
  size_t n = WHDR + 32;
  if (party == 0)
    for (int i = 0; i < t->n; i++) n += 4 + strlen(t->e[i].name) + 8 + (size_t)t->e[i].n * 8;
  uint8_t *b = calloc(1, n);
  if (!b) return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path);
  memcpy(b, wmagic, 8);
  pn_put_le32(b + 8, 1);
  pn_put_le32(b + 12, (uint32_t)party);
  pn_put_le32(b + 16, (uint32_t)frac);
  pn_put_le32(b + 20, party == 0 ? (uint32_t)t->n : 0);
  memcpy(b + 24, model, 32);
  if (party == 1) memcpy(b + 56, seed, 32);
  size_t o = WHDR;
  for (int i = 0; party == 0 && i < t->n; i++) {
    size_t l = strlen(t->e[i].name);
    pn_put_le32(b + o, (uint32_t)l);
    memcpy(b + o + 4, t->e[i].name, l);
    pn_put_le64(b + o + 4 + l, (uint64_t)t->e[i].n);
    o += 12 + l;
    for (int64_t k = 0; k < t->e[i].n; k++, o += 8) pn_put_le64(b + o, t->e[i].w[k]);
  }
  unsigned len = 0;
  EVP_Digest(b, o, b + o, &len, EVP_sha256(), NULL);
  int rc = pn_write_file_atomic(ctx, path, b, n, 0600);
  pn_wipe_free(b, n);
  return rc;
}

int pn_mpc_wfile_read(struct pn_ctx *ctx, const char *path, int party, const uint8_t model[32],
                      struct pn_mpc_wtable *t, uint8_t seed[32]) {
  memset(t, 0, sizeof *t);
  memset(seed, 0, 32);
  uint8_t *b, md[32];
  size_t n;
  int rc = pn_read_file(ctx, path, 0, &b, &n);
  if (rc) return rc;
  unsigned len = 0;
  if (n < WHDR + 32 || memcmp(b, wmagic, 8) != 0 || pn_get_le32(b + 8) != 1) {
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: not a privnn weight share file (magic/version)", path);
    goto out;
  }
  EVP_Digest(b, n - 32, md, &len, EVP_sha256(), NULL);
  if (memcmp(md, b + n - 32, 32) != 0) {
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: weight share file checksum mismatch", path);
    goto out;
  }
  if ((int)pn_get_le32(b + 12) != party) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: weight shares of party %u, this is party %d", path,
                pn_get_le32(b + 12), party);
    goto out;
  }
  if (memcmp(b + 24, model, 32) != 0) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: weight shares of another model", path);
    goto out;
  }
  memcpy(seed, b + 56, 32);
  uint32_t cnt = pn_get_le32(b + 20);
  size_t o = WHDR, end = n - 32;
  for (uint32_t i = 0; i < cnt && rc == PN_OK; i++) {
    if (end - o < 4 || pn_get_le32(b + o) > 4096 || end - o - 4 < (size_t)pn_get_le32(b + o) + 8) {
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: entry %u truncated", path, i);
      break;
    }
    size_t l = pn_get_le32(b + o);
    uint64_t words = pn_get_le64(b + o + 4 + l);
    if (words > (end - o - 12 - l) / 8) {
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: entry %u truncated", path, i);
      break;
    }
    char name[4097];
    memcpy(name, b + o + 4, l);
    name[l] = 0;
    uint64_t *w = malloc((size_t)(words ? words : 1) * 8);
    if (!w) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path);
      break;
    }
    for (uint64_t k = 0; k < words; k++) w[k] = pn_get_le64(b + o + 12 + l + 8 * k);
    if (pn_mpc_wtable_find(t, name)) rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: '%s' twice", path, name);
    else if (pn_mpc_wtable_add(t, name, (int64_t)words, w)) rc = pn_err(ctx, PN_ERR_NOMEM, "oom");
    pn_wipe_free(w, (size_t)(words ? words : 1) * 8);
    o += 12 + l + words * 8;
  }
  if (rc == PN_OK && o != end) rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: trailing bytes", path);
out:
  pn_wipe_free(b, n);
  if (rc) {
    pn_mpc_wtable_free(t);
    memset(seed, 0, 32);
  }
  return rc;
}
