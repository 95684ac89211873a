/* idx.c - IDX file parsing (unsigned-byte tensors) and gzip decompression with zlib.
**
** An IDX file is: two zero bytes, a type byte (0x08 = unsigned byte), a rank byte, rank big-endian
** uint32 dimensions, then the data. Everything read from outside is checked against that header. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nn/dataset.h"
#include "util/util.h"

#define IDX_MAX_BYTES ((size_t)1 << 30) /* 1 GiB decompressed: far above any real IDX file */

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int pn_idx_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                 struct pn_idx *out) {
  memset(out, 0, sizeof *out);
  if (n < 4) return pn_err(ctx, PN_ERR_CORRUPT, "%s: IDX header truncated (%zu bytes)", name, n);
  if (buf[0] != 0 || buf[1] != 0)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: not an IDX file (bad magic %02x%02x)", name, buf[0],
                  buf[1]);
  if (buf[2] != 0x08)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: IDX data type 0x%02x (only 0x08 unsigned byte)",
                  name, buf[2]);
  int nd = buf[3];
  if (nd < 1 || nd > 4) return pn_err(ctx, PN_ERR_CORRUPT, "%s: IDX rank %d not in 1..4", name, nd);
  size_t hdr = 4 + 4 * (size_t)nd;
  if (n < hdr) return pn_err(ctx, PN_ERR_CORRUPT, "%s: IDX header truncated (%zu bytes)", name, n);
  uint64_t total = 1;
  for (int i = 0; i < nd; i++) {
    out->dims[i] = be32(buf + 4 + 4 * i);
    total *= (uint64_t)out->dims[i];
    if (total > IDX_MAX_BYTES)
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: IDX dims too large", name);
  }
  if (n - hdr != total)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: IDX header says %llu data bytes, file has %zu", name,
                  (unsigned long long)total, n - hdr);
  out->ndim = nd;
  out->data = malloc(total ? total : 1);
  if (!out->data) return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", name);
  memcpy(out->data, buf + hdr, total);
  return PN_OK;
}

/* Inflate a gzip stream (or pass plain data through). *out is malloc'd. */
static int gunzip(struct pn_ctx *ctx, const char *path, const uint8_t *in, size_t n, uint8_t **out,
                  size_t *out_n) {
  if (n < 2 || in[0] != 0x1f || in[1] != 0x8b) { /* not gzip: plain IDX */
    *out = malloc(n ? n : 1);
    if (!*out) return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path);
    memcpy(*out, in, n);
    *out_n = n;
    return PN_OK;
  }
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return pn_err(ctx, PN_ERR_NOMEM, "%s: zlib init failed", path);
  size_t cap = n * 4 + 1024, len = 0;
  if (cap > IDX_MAX_BYTES) cap = IDX_MAX_BYTES;
  uint8_t *buf = malloc(cap);
  int rc = buf ? Z_OK : Z_MEM_ERROR, too_big = 0;
  zs.next_in = (Bytef *)in;
  zs.avail_in = (uInt)n;
  while (rc == Z_OK) {
    if (len == cap) {
      if (cap >= IDX_MAX_BYTES) {
        too_big = 1;
        break;
      }
      size_t nc = cap * 2 > IDX_MAX_BYTES ? IDX_MAX_BYTES : cap * 2;
      uint8_t *nb = realloc(buf, nc);
      if (!nb) {
        rc = Z_MEM_ERROR;
        break;
      }
      buf = nb;
      cap = nc;
    }
    zs.next_out = buf + len;
    zs.avail_out = (uInt)(cap - len);
    rc = inflate(&zs, Z_NO_FLUSH);
    len = cap - zs.avail_out;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break; /* truncated input */
    if (rc == Z_BUF_ERROR && zs.avail_out > 0) break;
    if (rc == Z_BUF_ERROR) rc = Z_OK;
  }
  inflateEnd(&zs);
  if (too_big) {
    free(buf);
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: gzip data inflates to more than %zu bytes, the limit "
                  "for an IDX file (not a dataset, or a decompression bomb)", path, IDX_MAX_BYTES);
  }
  if (rc != Z_STREAM_END) {
    free(buf);
    if (rc == Z_MEM_ERROR) return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path);
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: corrupt or truncated gzip data (%s)", path,
                  zs.msg ? zs.msg : "unexpected end of stream");
  }
  *out = buf;
  *out_n = len;
  return PN_OK;
}

int pn_idx_read_gz(struct pn_ctx *ctx, const char *path, struct pn_idx *out) {
  memset(out, 0, sizeof *out);
  uint8_t *raw = NULL, *plain = NULL;
  size_t n = 0, pn = 0;
  int rc = pn_read_file(ctx, path, 256u << 20, &raw, &n);
  if (rc) return rc;
  rc = gunzip(ctx, path, raw, n, &plain, &pn);
  free(raw);
  if (rc) return rc;
  rc = pn_idx_parse(ctx, path, plain, pn, out);
  free(plain);
  return rc;
}

void pn_idx_free(struct pn_idx *idx) {
  if (!idx) return;
  free(idx->data);
  memset(idx, 0, sizeof *idx);
}
