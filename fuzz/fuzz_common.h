/* fuzz_common.h - what the file-format fuzz targets share: a scratch file for parsers that read a
** path, trailers recomputed so that mutations reach the checks behind a checksum, and the rule
** every target enforces: a failure carries a negative code and a message. */
#ifndef PN_FUZZ_COMMON_H
#define PN_FUZZ_COMMON_H

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failure must carry a code and a sentence; anything else is a finding. PN_FUZZ_VERBOSE=1 prints
** each outcome (to see which checks a seed corpus reaches). */
static inline void fz_check(const struct pn_ctx *ctx, int rc) {
  static int verbose = -1;
  if (verbose < 0) verbose = getenv("PN_FUZZ_VERBOSE") != NULL;
  if (verbose) fprintf(stderr, "  %s\n", rc == PN_OK ? "ok" : ctx->msg);
  if (rc == PN_OK) return;
  if (rc > 0 || ctx->status >= 0 || !ctx->msg[0]) abort();
}

/* Folder for scratch files: tmpfs when there is one (20x the executions of a disk-backed /tmp). */
static inline const char *fz_dir(void) { return access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm"; }

/* The scratch file of this process (made once, rewritten per input). */
static inline const char *fz_write(const void *data, size_t size) {
  static char path[64];
  if (!path[0]) {
    snprintf(path, sizeof path, "%s/pn-fuzz-%d.XXXXXX", fz_dir(), (int)getpid());
    int fd = mkstemp(path);
    if (fd < 0) abort();
    close(fd);
  }
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  return path;
}

/* Recompute a trailing SHA-256 of everything before it (dealer and weight-share files). */
static inline void fz_fix_sha256(uint8_t *b, size_t n) {
  if (n < 32) return;
  unsigned len = 0;
  EVP_Digest(b, n - 32, b + n - 32, &len, EVP_sha256(), NULL);
}

/* Recompute a trailing little-endian CRC-32 of everything before it (training checkpoints). */
static inline void fz_fix_crc32(uint8_t *b, size_t n) {
  if (n < 4) return;
  uint32_t c = (uint32_t)crc32(0L, b, (uInt)(n - 4));
  memcpy(b + n - 4, &c, 4);
}

/* Apply edits to base[0..*n): the fuzz input read as (u16 offset, u8 value) triples after a u16
** giving the new length (cut or zero-extended, at most 2x + 64). Returns a malloc'd buffer. */
static inline uint8_t *fz_edit(const uint8_t *base, size_t *n, const uint8_t *data, size_t size) {
  size_t len = *n;
  if (size >= 2) {
    size_t want = (size_t)data[0] | (size_t)data[1] << 8;
    if (want != 0xffff && want <= 2 * *n + 64) len = want;
    data += 2;
    size -= 2;
  }
  uint8_t *b = calloc(len + 1, 1);
  if (!b) abort();
  memcpy(b, base, len < *n ? len : *n);
  for (; size >= 3 && len; data += 3, size -= 3) b[((size_t)data[0] | (size_t)data[1] << 8) % len] = data[2];
  *n = len;
  return b;
}

/* The file a checksummed-format target parses: with bit 0 of data[0] clear, data[1..) as it is;
** set, data[1..) edits (fz_edit) base and fix recomputes the trailer. *own (freed by the caller)
** holds an edited copy. */
static inline const uint8_t *fz_file(const uint8_t *data, size_t size, const uint8_t *base,
                                     size_t base_n, void (*fix)(uint8_t *, size_t), uint8_t **own,
                                     size_t *n) {
  *own = NULL;
  *n = size - 1;
  if (!(data[0] & 1)) return data + 1;
  *n = base_n;
  *own = fz_edit(base, n, data + 1, size - 1);
  fix(*own, *n);
  return *own;
}

#endif
