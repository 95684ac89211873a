/* share.c - share files: the client's input shares and the parties' output shares.
**
** Format (little-endian), a 96-byte header then the body:
**   "PNMPCSH\0", u32 version (2), u32 party, u32 batch, u32 frac, u64 batches, u64 words per batch,
**   u32 kind (enum pn_mpc_share_kind), u32 0, u8 share_id[16], u8 run_id[16], 16 zero bytes;
**   body: kind INPUT_SEED a 32-byte seed, the other kinds batches * words u64 ring elements.
** share_id names the client's `mpc share` run: P0's and P1's input files carry the same one, and
** the parties refuse to run together otherwise. run_id names the party run that wrote an output
** file, so `mpc reveal` refuses two outputs of different runs. */
#include "mpc/share.h"

#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "util/fileio.h"
#include "util/prg.h"
#include "util/status.h"
#include "util/wipe.h"

#define SH_HDR 96
#define SH_VERSION 2
static const char sh_magic[8] = "PNMPCSH";

/* Body bytes of f, or 0 when the sizes overflow or exceed the limits. */
static size_t body_bytes(uint32_t kind, uint64_t batches, uint64_t words) {
  if (kind == PN_SHARE_INPUT_SEED) return 32;
  uint64_t cnt, bytes;
  if (__builtin_mul_overflow(batches, words, &cnt) || cnt > PN_MPC_SHARE_MAX_WORDS ||
      __builtin_mul_overflow(cnt, (uint64_t)8, &bytes) || bytes > SIZE_MAX - SH_HDR)
    return 0;
  return (size_t)bytes;
}

int pn_mpc_share_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                       struct pn_mpc_share_file *f) {
  memset(f, 0, sizeof *f);
  if (n < SH_HDR || memcmp(buf, sh_magic, 8) != 0)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: not a privnn share file (bad magic or too short)", name);
  uint32_t version = pn_get_le32(buf + 8);
  if (version != SH_VERSION)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: share file version %u, this privnn reads version %d "
                  "(make the shares again with `mpc share`)", name, version, SH_VERSION);
  f->party = pn_get_le32(buf + 12);
  f->batch = pn_get_le32(buf + 16);
  f->frac = pn_get_le32(buf + 20);
  f->batches = pn_get_le64(buf + 24);
  f->words = pn_get_le64(buf + 32);
  f->kind = pn_get_le32(buf + 40);
  memcpy(f->share_id, buf + 48, PN_MPC_ID_BYTES);
  memcpy(f->run_id, buf + 64, PN_MPC_ID_BYTES);
  int rc = PN_OK;
  if (f->party > 1) rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: party %u (expected 0 or 1)", name, f->party);
  else if (f->kind >= PN_SHARE_KIND_COUNT)
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: unknown share kind %u", name, f->kind);
  else if (!f->batch || !f->batches || !f->words || f->frac > 62)
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: batch size, batches, words and fractional bits must be "
                "positive (and frac < 63)", name);
  else if (f->kind == PN_SHARE_INPUT_SEED ? f->party != 1 : f->kind == PN_SHARE_INPUT && f->party != 0)
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: kind %u does not belong to party %u", name, f->kind,
                f->party);
  if (rc) return rc;
  size_t body = body_bytes(f->kind, f->batches, f->words);
  if (!body || n - SH_HDR != body)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: header says %llu batch(es) of %llu words, the file "
                  "holds %zu body bytes", name, (unsigned long long)f->batches,
                  (unsigned long long)f->words, n - SH_HDR);
  if (f->kind == PN_SHARE_INPUT_SEED) {
    memcpy(f->seed, buf + SH_HDR, 32);
    return PN_OK;
  }
  size_t cnt = body / 8;
  f->data = malloc(body);
  if (!f->data) return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", name);
  for (size_t i = 0; i < cnt; i++) f->data[i] = pn_get_le64(buf + SH_HDR + 8 * i);
  return PN_OK;
}

int pn_mpc_share_read(struct pn_ctx *ctx, const char *path, struct pn_mpc_share_file *f) {
  memset(f, 0, sizeof *f);
  uint8_t *buf;
  size_t n;
  int rc = pn_read_file(ctx, path, 0, &buf, &n);
  if (rc) return rc;
  rc = pn_mpc_share_parse(ctx, path, buf, n, f);
  pn_wipe_free(buf, n);
  return rc;
}

int pn_mpc_share_write(struct pn_ctx *ctx, const char *path, const struct pn_mpc_share_file *f) {
  size_t body = body_bytes(f->kind, f->batches, f->words);
  if (!body || f->kind >= PN_SHARE_KIND_COUNT)
    return pn_err(ctx, PN_ERR_INVALID, "%s: share of %llu x %llu words is too large", path,
                  (unsigned long long)f->batches, (unsigned long long)f->words);
  uint8_t *buf = calloc(1, SH_HDR + body);
  if (!buf) return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path);
  memcpy(buf, sh_magic, 8);
  pn_put_le32(buf + 8, SH_VERSION);
  pn_put_le32(buf + 12, f->party);
  pn_put_le32(buf + 16, f->batch);
  pn_put_le32(buf + 20, f->frac);
  pn_put_le64(buf + 24, f->batches);
  pn_put_le64(buf + 32, f->words);
  pn_put_le32(buf + 40, f->kind);
  memcpy(buf + 48, f->share_id, PN_MPC_ID_BYTES);
  memcpy(buf + 64, f->run_id, PN_MPC_ID_BYTES);
  if (f->kind == PN_SHARE_INPUT_SEED) memcpy(buf + SH_HDR, f->seed, 32);
  else
    for (size_t i = 0; i < body / 8; i++) pn_put_le64(buf + SH_HDR + 8 * i, f->data[i]);
  int rc = pn_write_file_atomic(ctx, path, buf, SH_HDR + body, 0600);
  pn_wipe_free(buf, SH_HDR + body);
  return rc;
}

void pn_mpc_share_free(struct pn_mpc_share_file *f) {
  if (!f) return;
  if (f->data) pn_wipe_free(f->data, (size_t)(f->batches * f->words) * 8);
  pn_wipe(f, sizeof *f);
}

int pn_mpc_share_client_r(const uint8_t seed[32], uint64_t b, uint64_t *r, int64_t n) {
  uint8_t sd[32];
  struct pn_prg prg;
  pn_seed_derive(seed, "client-share", b, sd);
  int rc = pn_prg_init(NULL, &prg, sd);
  pn_wipe(sd, sizeof sd);
  if (rc) return rc;
  pn_prg_bytes(&prg, r, (size_t)n * 8);
  pn_prg_free(&prg);
  return PN_OK;
}

void pn_mpc_id_hex(const uint8_t id[PN_MPC_ID_BYTES], char hex[2 * PN_MPC_ID_BYTES + 1]) {
  static const char d[] = "0123456789abcdef";
  for (int i = 0; i < PN_MPC_ID_BYTES; i++) {
    hex[2 * i] = d[id[i] >> 4];
    hex[2 * i + 1] = d[id[i] & 15];
  }
  hex[2 * PN_MPC_ID_BYTES] = 0;
}

int pn_mpc_id_parse(struct pn_ctx *ctx, const char *hex, uint8_t id[PN_MPC_ID_BYTES]) {
  if (!hex || strlen(hex) != 2 * PN_MPC_ID_BYTES)
    return pn_err(ctx, PN_ERR_CORRUPT, "run id '%s': expected %d hex digits", hex ? hex : "",
                  2 * PN_MPC_ID_BYTES);
  for (int i = 0; i < 2 * PN_MPC_ID_BYTES; i++) {
    char c = hex[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (v < 0) return pn_err(ctx, PN_ERR_CORRUPT, "run id '%s': not hex", hex);
    if (i & 1) id[i / 2] = (uint8_t)(id[i / 2] | v);
    else id[i / 2] = (uint8_t)(v << 4);
  }
  return PN_OK;
}
