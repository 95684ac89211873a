/* dealer.c - correlated randomness: Beaver, matrix and AND triples and B2A bits, embedded or filed.
**
** A master seed gives each party a 32-byte seed (pn_seed_derive(master, "party", p)). Request i of
** party p is expanded from pn_seed_derive(seed_p, "req", i): P0 draws all of its share (a0, b0, c0)
** from its seed, P1 draws a1, b1 and receives the correction c1 = (a0+a1)(b0+b1) - c0 explicitly.
** So P0's dealer file is a header with its seed, and P1's is its seed plus the corrections.
**
** File format (little-endian): a 160-byte header
**   "PNMPCDL\0", u32 version (2), u32 party, u32 batch, u32 frac, u64 batches,
**   u8 model_sha256[32], u8 plan_sha256[32], u8 seed[32], u8 session[16],
**   use mark: u32 used (0 = fresh, 1 = used), u32 0, u64 time of use (Unix seconds)
** then (P1 only) records: u32 kind, u32 0, u64 dims[3], dims-determined correction words,
** and finally the SHA-256 of everything before it, with the use mark hashed as zeros. The parties
** check magic, version, party, binding, use mark and checksum before use, and every record's kind
** and dims against the request. Material is single-use: before the first correlation leaves a
** file, its use mark is set in place (and synced), so a second run from the same file is refused.
** Both files of a pair carry one random session id, which the parties compare in their hello. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/bytes.h"
#include "mpc/dealer.h"
#include "mpc/net.h"
#include "mpc/ring64.h"
#include "util/fileio.h"
#include "util/status.h"
#include "util/wipe.h"

#define HDR_BYTES 160
#define MARK_OFF 144 /* the use mark: 16 bytes, hashed as zeros */
#define DEALER_VERSION 2
static const char magic[8] = "PNMPCDL";

struct pn_mpc_dealer {
  struct pn_ctx *ctx;
  int have_master;
  uint8_t seed[2][PN_SEED_BYTES];
  int have_seed[2];
  uint64_t idx[2];
  uint64_t corr_bytes;
  FILE *in;                      /* P1's file being read */
  uint64_t in_left;              /* body bytes left before the checksum */
  const char *in_path;
  int recording;
  struct pn_atomic_file rec[2];
  EVP_MD_CTX *hash[2];
  struct pn_dealer_binding bind;
  struct pn_mpc_net *remote;     /* P1 served online: corrections requested over this link */
  uint8_t session[16];
  int mark_fd;                   /* a dealer file to mark used before its first request, or -1 */
  const char *mark_path;
};


static int dealer_alloc(struct pn_ctx *ctx, struct pn_mpc_dealer **out) {
  *out = calloc(1, sizeof **out);
  if (!*out) return pn_err(ctx, PN_ERR_NOMEM, "dealer: out of memory");
  (*out)->ctx = ctx;
  (*out)->mark_fd = -1;
  return PN_OK;
}

void pn_dealer_session(const struct pn_mpc_dealer *d, uint8_t session[16]) {
  memcpy(session, d->session, 16);
}

void pn_dealer_session_master(const uint8_t master[PN_SEED_BYTES], const uint8_t session[16],
                              uint8_t out[PN_SEED_BYTES]) {
  uint8_t t[PN_SEED_BYTES];
  pn_seed_derive(master, "session-hi", pn_get_le64(session), t);
  pn_seed_derive(t, "session-lo", pn_get_le64(session + 8), out);
  pn_wipe(t, sizeof t);
}

/* A new session: a random id, and an embedded dealer with the seeds it derives from master. */
static int session_new(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                       struct pn_mpc_dealer **out) {
  uint8_t session[16], sm[PN_SEED_BYTES];
  int rc = pn_getrandom(ctx, session, sizeof session);
  if (rc) return rc;
  pn_dealer_session_master(master, session, sm);
  rc = pn_dealer_new_embedded(ctx, sm, out);
  pn_wipe(sm, sizeof sm);
  if (rc == PN_OK) memcpy((*out)->session, session, 16);
  return rc;
}

/* Set the use mark of the file in place and sync it, before any of its material is used. */
static int mark_used(struct pn_mpc_dealer *d) {
  uint8_t m[16] = {0};
  pn_put_le32(m, 1);
  pn_put_le64(m + 8, (uint64_t)time(NULL));
  int ok = pwrite(d->mark_fd, m, sizeof m, MARK_OFF) == (ssize_t)sizeof m && fsync(d->mark_fd) == 0;
  int e = errno;
  close(d->mark_fd);
  d->mark_fd = -1;
  if (!ok)
    return pn_err(d->ctx, PN_ERR_IO, "%s: cannot mark the dealer file used: %s", d->mark_path,
                  strerror(e));
  return PN_OK;
}

int pn_dealer_new_embedded(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                           struct pn_mpc_dealer **out) {
  int rc = dealer_alloc(ctx, out);
  if (rc) return rc;
  (*out)->have_master = 1;
  for (int p = 0; p < 2; p++) {
    pn_seed_derive(master, "party", (uint64_t)p, (*out)->seed[p]);
    (*out)->have_seed[p] = 1;
  }
  return PN_OK;
}

static void header(uint8_t h[HDR_BYTES], int party, const struct pn_dealer_binding *b,
                   const uint8_t seed[PN_SEED_BYTES], const uint8_t session[16]) {
  memset(h, 0, HDR_BYTES);
  memcpy(h, magic, 8);
  pn_put_le32(h + 8, DEALER_VERSION);
  pn_put_le32(h + 12, (uint32_t)party);
  pn_put_le32(h + 16, b->batch);
  pn_put_le32(h + 20, b->frac);
  pn_put_le64(h + 24, b->batches);
  memcpy(h + 32, b->model, 32);
  memcpy(h + 64, b->plan, 32);
  memcpy(h + 96, seed, 32);
  memcpy(h + 128, session, 16);
}

int pn_dealer_new_recorder(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                           const struct pn_dealer_binding *bind, const char *path_p0,
                           const char *path_p1, struct pn_mpc_dealer **out) {
  int rc = session_new(ctx, master, out);
  if (rc) return rc;
  struct pn_mpc_dealer *d = *out;
  d->bind = *bind;
  const char *paths[2] = {path_p0, path_p1};
  for (int p = 0; p < 2; p++) {
    uint8_t h[HDR_BYTES];
    d->hash[p] = EVP_MD_CTX_new();
    if (!d->hash[p] || !EVP_DigestInit_ex(d->hash[p], EVP_sha256(), NULL)) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "dealer: SHA-256 unavailable");
      break;
    }
    if ((rc = pn_atomic_open(ctx, &d->rec[p], paths[p], 0600))) break;
    header(h, p, bind, d->seed[p], d->session);
    EVP_DigestUpdate(d->hash[p], h, HDR_BYTES);
    if (fwrite(h, 1, HDR_BYTES, d->rec[p].f) != HDR_BYTES)
      rc = pn_err(ctx, PN_ERR_IO, "%s: write failed", paths[p]);
    pn_wipe(h, sizeof h);
    if (rc) break;
  }
  d->recording = 1;
  if (rc) {
    pn_dealer_free(d);
    *out = NULL;
  }
  return rc;
}

int pn_dealer_finish(struct pn_ctx *ctx, struct pn_mpc_dealer *d) {
  if (!d->recording) return PN_OK;
  int rc = PN_OK;
  for (int p = 0; p < 2 && rc == PN_OK; p++) {
    uint8_t md[32];
    unsigned mdlen = 0;
    EVP_DigestFinal_ex(d->hash[p], md, &mdlen);
    if (fwrite(md, 1, 32, d->rec[p].f) != 32) rc = pn_err(ctx, PN_ERR_IO, "dealer: write failed");
    if (rc == PN_OK) rc = pn_atomic_commit(ctx, &d->rec[p]);
  }
  d->recording = 0;
  return rc;
}

int pn_dealer_open_file(struct pn_ctx *ctx, const char *path, int party,
                        const struct pn_dealer_binding *bind, struct pn_mpc_dealer **out) {
  *out = NULL;
  int rc = pn_check_regular_file(ctx, path);
  if (rc) return rc;
  /* read-write: the use mark is set in place before the first correlation is used */
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY), mfd = -1;
  if (fd < 0)
    return pn_err(ctx, PN_ERR_IO, "%s: cannot open the dealer file for reading and marking it "
                  "used: %s", path, strerror(errno));
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    close(fd);
    return pn_err(ctx, PN_ERR_IO, "%s: cannot open dealer file", path);
  }
  uint8_t h[HDR_BYTES], md[32], want[32], buf[65536];
  EVP_MD_CTX *hc = EVP_MD_CTX_new();
  if (!hc || fseek(f, 0, SEEK_END) != 0) {
    rc = pn_err(ctx, PN_ERR_IO, "%s: cannot read dealer file", path);
    goto fail;
  }
  long size = ftell(f);
  if (size < HDR_BYTES + 32) {
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: dealer file truncated (%ld bytes)", path, size);
    goto fail;
  }
  rewind(f);
  if (fread(h, 1, HDR_BYTES, f) != HDR_BYTES || memcmp(h, magic, 8) != 0) {
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: not a privnn dealer file (bad magic)", path);
    goto fail;
  }
  if (pn_get_le32(h + 8) != DEALER_VERSION) {
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: dealer file version %u, this privnn reads version %d "
                "(make new files with `mpc dealer`)", path, pn_get_le32(h + 8), DEALER_VERSION);
    goto fail;
  }
  /* checksum over header (use mark as zeros) + body */
  uint8_t mark[16];
  memcpy(mark, h + MARK_OFF, 16);
  memset(h + MARK_OFF, 0, 16);
  EVP_DigestInit_ex(hc, EVP_sha256(), NULL);
  EVP_DigestUpdate(hc, h, HDR_BYTES);
  uint64_t left = (uint64_t)size - HDR_BYTES - 32;
  while (left) {
    size_t c = left < sizeof buf ? (size_t)left : sizeof buf;
    if (fread(buf, 1, c, f) != c) {
      rc = pn_err(ctx, PN_ERR_IO, "%s: read failed", path);
      goto fail;
    }
    EVP_DigestUpdate(hc, buf, c);
    left -= c;
  }
  unsigned mdlen = 0;
  EVP_DigestFinal_ex(hc, md, &mdlen);
  if (fread(want, 1, 32, f) != 32 || memcmp(md, want, 32) != 0) {
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: dealer file checksum mismatch (corrupt file)", path);
    goto fail;
  }
  if ((int)pn_get_le32(h + 12) != party) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: dealer file is for party %u, not party %d", path,
                pn_get_le32(h + 12), party);
    goto fail;
  }
  if (memcmp(h + 32, bind->model, 32) != 0) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: dealer file was made for another model", path);
    goto fail;
  }
  if (memcmp(h + 64, bind->plan, 32) != 0) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: dealer file was made for another plan", path);
    goto fail;
  }
  if (pn_get_le32(h + 16) != bind->batch || pn_get_le32(h + 20) != bind->frac) {
    rc = pn_err(ctx, PN_ERR_MISMATCH,
                "%s: dealer file is for batch size %u with %u fractional bits, not %u/%u", path,
                pn_get_le32(h + 16), pn_get_le32(h + 20), bind->batch, bind->frac);
    goto fail;
  }
  if (pn_get_le64(h + 24) < bind->batches) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: dealer file holds %llu batches, %llu needed", path,
                (unsigned long long)pn_get_le64(h + 24), (unsigned long long)bind->batches);
    goto fail;
  }
  if (pn_get_le32(mark) != 0 || pn_get_le32(mark + 4) != 0) {
    time_t t = (time_t)pn_get_le64(mark + 8);
    struct tm tm;
    char when[64] = "an unknown time";
    if (localtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    rc = pn_err(ctx, PN_ERR_INSECURE, "%s: this dealer file was already used by a run (at %s); "
                "dealer material is single-use (a second run would let a party learn the "
                "difference of two inputs): make new files with `mpc dealer`", path, when);
    goto fail;
  }
  if ((mfd = dup(fd)) < 0) {
    rc = pn_err(ctx, PN_ERR_IO, "%s: %s", path, strerror(errno));
    goto fail;
  }
  if ((rc = dealer_alloc(ctx, out))) {
    close(mfd);
    goto fail;
  }
  memcpy((*out)->seed[party], h + 96, 32);
  memcpy((*out)->session, h + 128, 16);
  (*out)->have_seed[party] = 1;
  (*out)->bind = *bind;
  (*out)->in_path = path;
  (*out)->mark_fd = mfd;
  (*out)->mark_path = path;
  if (party == 1) {
    if (fseek(f, HDR_BYTES, SEEK_SET) != 0) {
      rc = pn_err(ctx, PN_ERR_IO, "%s: seek failed", path);
      goto fail;
    }
    (*out)->in = f;
    (*out)->in_left = (uint64_t)size - HDR_BYTES - 32;
    f = NULL;
  }
fail:
  EVP_MD_CTX_free(hc);
  pn_wipe(h, sizeof h);
  if (f) fclose(f);
  if (rc && *out) {
    pn_dealer_free(*out);
    *out = NULL;
  }
  return rc;
}

void pn_dealer_free(struct pn_mpc_dealer *d) {
  if (!d) return;
  if (d->remote) { /* tell the online dealer we are done (best effort) */
    uint8_t bye[32] = {0};
    struct pn_ctx quiet = {0};
    pn_mpc_net_send(&quiet, d->remote, bye, sizeof bye);
  }
  for (int p = 0; p < 2; p++) {
    if (d->recording && d->rec[p].f) pn_atomic_abort(&d->rec[p]);
    EVP_MD_CTX_free(d->hash[p]);
  }
  if (d->in) fclose(d->in);
  if (d->mark_fd >= 0) close(d->mark_fd);
  pn_wipe_free(d, sizeof *d);
}

uint64_t pn_dealer_bytes(const struct pn_mpc_dealer *d) { return d ? d->corr_bytes : 0; }

/* ---- request streams ---- */

static int req_prg(struct pn_mpc_dealer *d, int party, uint64_t idx, struct pn_prg *prg) {
  if (party < 0 || party > 1 || !d->have_seed[party])
    return pn_err(d->ctx, PN_ERR_INVALID, "dealer: no randomness for party %d here", party);
  int rc0;
  if (d->mark_fd >= 0 && (rc0 = mark_used(d))) return rc0;
  uint8_t s[PN_SEED_BYTES];
  pn_seed_derive(d->seed[party], "req", idx, s);
  int rc = pn_prg_init(d->ctx, prg, s);
  pn_wipe(s, sizeof s);
  return rc;
}

/* P1's correction words: from the file, or computed by fn from the master seed (and recorded). */
typedef int (*corr_fn)(struct pn_mpc_dealer *d, uint64_t idx, const uint64_t dims[3],
                       const uint64_t *const mine[3], uint64_t *corr);

static int correction(struct pn_mpc_dealer *d, int kind, uint64_t idx, const uint64_t dims[3],
                      const uint64_t *const mine[3], uint64_t *corr, uint64_t nw, corr_fn fn) {
  int rc;
  uint8_t rh[32];
  if (d->remote) {
    memset(rh, 0, sizeof rh);
    pn_put_le32(rh, (uint32_t)kind);
    pn_put_le64(rh + 8, dims[0]);
    pn_put_le64(rh + 16, dims[1]);
    pn_put_le64(rh + 24, dims[2]);
    if ((rc = pn_mpc_net_send(d->ctx, d->remote, rh, 32)) ||
        (rc = pn_mpc_net_recv(d->ctx, d->remote, corr, nw * 8))) {
      pn_err_prefix(d->ctx, "online dealer");
      return rc;
    }
    d->corr_bytes += nw * 8;
    return PN_OK;
  }
  if (d->in) {
    if (d->in_left < 32 + nw * 8)
      return pn_err(d->ctx, PN_ERR_MISMATCH, "%s: dealer file exhausted (more batches, another "
                    "model or plan than it was made for)", d->in_path);
    if (fread(rh, 1, 32, d->in) != 32) return pn_err(d->ctx, PN_ERR_IO, "%s: read failed",
                                                     d->in_path);
    if ((int)pn_get_le32(rh) != kind || pn_get_le64(rh + 8) != dims[0] || pn_get_le64(rh + 16) != dims[1] ||
        pn_get_le64(rh + 24) != dims[2])
      return pn_err(d->ctx, PN_ERR_MISMATCH, "%s: dealer record %llu is kind %u [%llu,%llu,%llu],"
                    " the protocol asks for kind %d [%llu,%llu,%llu]", d->in_path,
                    (unsigned long long)idx, pn_get_le32(rh), (unsigned long long)pn_get_le64(rh + 8),
                    (unsigned long long)pn_get_le64(rh + 16), (unsigned long long)pn_get_le64(rh + 24), kind,
                    (unsigned long long)dims[0], (unsigned long long)dims[1],
                    (unsigned long long)dims[2]);
    if (fread(corr, 8, nw, d->in) != nw) return pn_err(d->ctx, PN_ERR_IO, "%s: read failed",
                                                       d->in_path);
    d->in_left -= 32 + nw * 8;
    return PN_OK;
  }
  if (!d->have_master)
    return pn_err(d->ctx, PN_ERR_INVALID, "dealer: P1's corrections need a dealer file or the "
                  "master seed");
  if ((rc = fn(d, idx, dims, mine, corr))) return rc;
  d->corr_bytes += nw * 8;
  if (d->recording) {
    memset(rh, 0, sizeof rh);
    pn_put_le32(rh, (uint32_t)kind);
    pn_put_le64(rh + 8, dims[0]);
    pn_put_le64(rh + 16, dims[1]);
    pn_put_le64(rh + 24, dims[2]);
    EVP_DigestUpdate(d->hash[1], rh, 32);
    EVP_DigestUpdate(d->hash[1], corr, nw * 8);
    if (fwrite(rh, 1, 32, d->rec[1].f) != 32 || fwrite(corr, 8, nw, d->rec[1].f) != nw)
      return pn_err(d->ctx, PN_ERR_IO, "dealer: write failed");
    pn_atomic_behind(&d->rec[1]);
  }
  return PN_OK;
}

static int corr_triple(struct pn_mpc_dealer *d, uint64_t idx, const uint64_t dims[3],
                       const uint64_t *const mine[3], uint64_t *c1) {
  uint64_t n = dims[0];
  struct pn_prg prg;
  int rc = req_prg(d, 0, idx, &prg);
  if (rc) return rc;
  uint64_t *t = malloc((size_t)(n ? n : 1) * 16);
  if (!t) {
    pn_prg_free(&prg);
    return pn_err(d->ctx, PN_ERR_NOMEM, "dealer: out of memory");
  }
  pn_prg_bytes(&prg, t, (size_t)n * 16); /* a0 | b0 */
  pn_prg_bytes(&prg, c1, (size_t)n * 8); /* c0 */
  for (uint64_t i = 0; i < n; i++)
    c1[i] = (t[i] + mine[0][i]) * (t[n + i] + mine[1][i]) - c1[i];
  pn_wipe_free(t, (size_t)(n ? n : 1) * 16);
  pn_prg_free(&prg);
  return PN_OK;
}

static int corr_matrix(struct pn_mpc_dealer *d, uint64_t idx, const uint64_t dims[3],
                       const uint64_t *const mine[3], uint64_t *C1) {
  int64_t M = (int64_t)dims[0], K = (int64_t)dims[1], N = (int64_t)dims[2];
  struct pn_prg prg;
  int rc = req_prg(d, 0, idx, &prg);
  if (rc) return rc;
  size_t na = (size_t)(M * K), nb = (size_t)(K * N);
  uint64_t *A = malloc((na + nb + 1) * 8);
  if (!A) {
    pn_prg_free(&prg);
    return pn_err(d->ctx, PN_ERR_NOMEM, "dealer: out of memory");
  }
  uint64_t *B = A + na;
  pn_prg_bytes(&prg, A, na * 8);
  pn_prg_bytes(&prg, B, nb * 8);
  uint64_t *C0 = C1; /* reuse: C1 = (A0+A1)(B0+B1) - C0 */
  pn_prg_bytes(&prg, C0, (size_t)(M * N) * 8);
  pn_prg_free(&prg);
  for (size_t i = 0; i < (size_t)(M * N); i++) C1[i] = (uint64_t)0 - C0[i];
  for (size_t i = 0; i < na; i++) A[i] += mine[0][i];
  for (size_t i = 0; i < nb; i++) B[i] += mine[1][i];
  pn_ring64_matmul(M, K, N, A, B, C1, 1);
  pn_wipe_free(A, (na + nb + 1) * 8);
  return PN_OK;
}

static int corr_and(struct pn_mpc_dealer *d, uint64_t idx, const uint64_t dims[3],
                    const uint64_t *const mine[3], uint64_t *w1) {
  uint64_t n = dims[0];
  struct pn_prg prg;
  int rc = req_prg(d, 0, idx, &prg);
  if (rc) return rc;
  uint64_t *t = malloc((size_t)(n ? n : 1) * 16);
  if (!t) {
    pn_prg_free(&prg);
    return pn_err(d->ctx, PN_ERR_NOMEM, "dealer: out of memory");
  }
  pn_prg_bytes(&prg, t, (size_t)n * 16);
  pn_prg_bytes(&prg, w1, (size_t)n * 8);
  for (uint64_t i = 0; i < n; i++) w1[i] ^= (t[i] ^ mine[0][i]) & (t[n + i] ^ mine[1][i]);
  pn_wipe_free(t, (size_t)(n ? n : 1) * 16);
  pn_prg_free(&prg);
  return PN_OK;
}

static int corr_bit(struct pn_mpc_dealer *d, uint64_t idx, const uint64_t dims[3],
                    const uint64_t *const mine[3], uint64_t *ra1) {
  uint64_t n = dims[0], W = (n + 63) / 64;
  struct pn_prg prg;
  int rc = req_prg(d, 0, idx, &prg);
  if (rc) return rc;
  uint64_t *rb0 = malloc((size_t)(W ? W : 1) * 8);
  if (!rb0) {
    pn_prg_free(&prg);
    return pn_err(d->ctx, PN_ERR_NOMEM, "dealer: out of memory");
  }
  pn_prg_bytes(&prg, rb0, (size_t)W * 8);
  pn_prg_bytes(&prg, ra1, (size_t)n * 8); /* ra0 */
  for (uint64_t i = 0; i < n; i++) {
    uint64_t r = ((rb0[i >> 6] ^ mine[0][i >> 6]) >> (i & 63)) & 1;
    ra1[i] = r - ra1[i];
  }
  pn_wipe_free(rb0, (size_t)(W ? W : 1) * 8);
  pn_prg_free(&prg);
  return PN_OK;
}

/* ReLU mask (kind RELU): a, a bit r (packed XOR shares rb, arithmetic shares ra) and a*r.
** P0 draws a0, rb0, ra0, ar0; P1 draws a1, rb1 and gets ra1 = r - ra0, ar1 = a*r - ar0. */
static int corr_relu(struct pn_mpc_dealer *d, uint64_t idx, const uint64_t dims[3],
                     const uint64_t *const mine[3], uint64_t *corr) {
  uint64_t n = dims[0], W = (n + 63) / 64;
  struct pn_prg prg;
  int rc = req_prg(d, 0, idx, &prg);
  if (rc) return rc;
  size_t words = (size_t)(2 * n + W + 1);
  uint64_t *t = malloc(words * 8);
  if (!t) {
    pn_prg_free(&prg);
    return pn_err(d->ctx, PN_ERR_NOMEM, "dealer: out of memory");
  }
  uint64_t *a0 = t, *rb0 = t + n, *ra0 = corr, *ar0 = corr + n;
  pn_prg_bytes(&prg, a0, (size_t)n * 8);
  pn_prg_bytes(&prg, rb0, (size_t)W * 8);
  pn_prg_bytes(&prg, ra0, (size_t)n * 8);
  pn_prg_bytes(&prg, ar0, (size_t)n * 8);
  pn_prg_free(&prg);
  for (uint64_t i = 0; i < n; i++) {
    uint64_t r = ((rb0[i >> 6] ^ mine[1][i >> 6]) >> (i & 63)) & 1, a = a0[i] + mine[0][i];
    ra0[i] = r - ra0[i];
    ar0[i] = a * r - ar0[i];
  }
  pn_wipe_free(t, words * 8);
  return PN_OK;
}

/* Set bits [lo, hi) of the table t. */
static void set_bits(uint64_t *t, uint64_t lo, uint64_t hi) {
  for (uint64_t j = lo; j < hi;) {
    uint64_t w = j >> 6, b = j & 63, cnt = hi - j < 64 - b ? hi - j : 64 - b;
    t[w] |= (cnt == 64 ? ~(uint64_t)0 : (((uint64_t)1 << cnt) - 1)) << b;
    j += cnt;
  }
}

/* Table mask (kind LUT): P0 draws r0 and T0, P1 draws r1 and gets T1 = T ^ T0 where T is the
** sign table of r = r0 + r1 mod 2^nb: bit j set when (j - r) mod 2^nb has its top bit set, i.e.
** j in the cyclic interval [r + 2^(nb-1), r + 2^nb). */
static int corr_lut(struct pn_mpc_dealer *d, uint64_t idx, const uint64_t dims[3],
                    const uint64_t *const mine[3], uint64_t *corr) {
  uint64_t n = dims[0];
  int nb = (int)dims[1];
  uint64_t N = (uint64_t)1 << nb, half = N / 2, mask = N - 1, tw = (uint64_t)pn_lut_words(nb);
  struct pn_prg prg;
  int rc = req_prg(d, 0, idx, &prg);
  if (rc) return rc;
  uint64_t *r0 = malloc((size_t)(n + 1) * 8);
  if (!r0) {
    pn_prg_free(&prg);
    return pn_err(d->ctx, PN_ERR_NOMEM, "dealer: out of memory");
  }
  pn_prg_bytes(&prg, r0, (size_t)n * 8);
  pn_prg_bytes(&prg, corr, (size_t)(n * tw) * 8); /* T0, turned into T1 below */
  pn_prg_free(&prg);
  uint64_t t[1024];
  for (uint64_t i = 0; i < n; i++) {
    uint64_t r = (r0[i] + mine[0][i]) & mask, s = (r + half) & mask;
    memset(t, 0, (size_t)tw * 8);
    if (s + half <= N) set_bits(t, s, s + half);
    else {
      set_bits(t, s, N);
      set_bits(t, 0, s + half - N);
    }
    for (uint64_t w = 0; w < tw; w++) corr[i * tw + w] ^= t[w];
  }
  pn_wipe(t, sizeof t);
  pn_wipe_free(r0, (size_t)(n + 1) * 8);
  return PN_OK;
}

/* ---- the correlation kinds: one table, one request path ----
** A request of kind k is parts of words, in the order they are drawn. Parts [0, n_shared) both
** parties draw from their own request stream; the others P0 draws after them, and P1 receives
** them as corrections (computed by fn from P0's stream and P1's shared parts, in the same order,
** contiguous in the file record and on the wire). */
struct corr_kind {
  int n_shared, n_parts;
  /* Words of part i for dims; 0 dims where the kind has fewer. */
  uint64_t (*words)(const uint64_t dims[3], int i);
  corr_fn fn;
};

static uint64_t words_n(const uint64_t d[3], int i) { return d[0]; }
static uint64_t words_matrix(const uint64_t d[3], int i) {
  return i == 0 ? d[0] * d[1] : i == 1 ? d[1] * d[2] : d[0] * d[2];
}
static uint64_t words_bit(const uint64_t d[3], int i) { return i == 0 ? (d[0] + 63) / 64 : d[0]; }
static uint64_t words_relu(const uint64_t d[3], int i) { return i == 1 ? (d[0] + 63) / 64 : d[0]; }
static uint64_t words_lut(const uint64_t d[3], int i) {
  return i == 0 ? d[0] : d[0] * (uint64_t)pn_lut_words((int)d[1]);
}

static const struct corr_kind kinds[PN_DEALER_KIND_COUNT] = {
  [PN_DEALER_TRIPLE] = {2, 3, words_n, corr_triple},      /* a, b | c */
  [PN_DEALER_MATRIX] = {2, 3, words_matrix, corr_matrix}, /* A, B | C */
  [PN_DEALER_AND] = {2, 3, words_n, corr_and},            /* u, v | w */
  [PN_DEALER_BIT] = {1, 2, words_bit, corr_bit},          /* rb | ra */
  [PN_DEALER_RELU] = {2, 4, words_relu, corr_relu},       /* a, rb | ra, ar */
  [PN_DEALER_LUT] = {1, 2, words_lut, corr_lut},          /* r | T */
};
static_assert(sizeof kinds / sizeof *kinds == PN_DEALER_KIND_COUNT, "kinds out of date");

/* Are dims a request of kind that fits the limits (every part at most 2^30 words)? */
static bool kind_dims_ok(int kind, const uint64_t dims[3]) {
  uint64_t lim = (uint64_t)1 << 30;
  if (kind <= 0 || kind >= PN_DEALER_KIND_COUNT || dims[0] > lim || dims[1] > lim || dims[2] > lim)
    return false;
  if (kind == PN_DEALER_LUT && (dims[1] < 1 || dims[1] > 16)) return false;
  for (int i = 0; i < kinds[kind].n_parts; i++)
    if (kinds[kind].words(dims, i) > lim) return false;
  return true;
}

/* Party `party`'s share of the next request: part[i] gets words(dims, i) words. */
static int request(struct pn_mpc_dealer *d, int party, int kind, const uint64_t dims[3],
                   uint64_t *const part[4]) {
  const struct corr_kind *k = &kinds[kind];
  if (!kind_dims_ok(kind, dims))
    return pn_err(d->ctx, PN_ERR_INVALID, "dealer: request of kind %d [%llu,%llu,%llu] out of range",
                  kind, (unsigned long long)dims[0], (unsigned long long)dims[1],
                  (unsigned long long)dims[2]);
  struct pn_prg prg;
  uint64_t idx = d->idx[party & 1]++;
  int rc = req_prg(d, party, idx, &prg);
  if (rc) return rc;
  for (int i = 0; i < (party == 0 ? k->n_parts : k->n_shared); i++)
    pn_prg_bytes(&prg, part[i], (size_t)k->words(dims, i) * 8);
  pn_prg_free(&prg);
  if (party == 0) return PN_OK;
  const uint64_t *mine[3] = {NULL, NULL, NULL};
  for (int i = 0; i < k->n_shared; i++) mine[i] = part[i];
  uint64_t nw = 0;
  for (int i = k->n_shared; i < k->n_parts; i++) nw += k->words(dims, i);
  if (k->n_parts - k->n_shared == 1)
    return correction(d, kind, idx, dims, mine, part[k->n_shared], nw, k->fn);
  uint64_t *corr = malloc((size_t)(nw + 1) * 8);
  if (!corr) return pn_err(d->ctx, PN_ERR_NOMEM, "dealer: out of memory");
  rc = correction(d, kind, idx, dims, mine, corr, nw, k->fn);
  uint64_t off = 0;
  for (int i = k->n_shared; rc == PN_OK && i < k->n_parts; i++) {
    memcpy(part[i], corr + off, (size_t)k->words(dims, i) * 8);
    off += k->words(dims, i);
  }
  pn_wipe_free(corr, (size_t)(nw + 1) * 8);
  return rc;
}

int pn_dealer_triple(struct pn_mpc_dealer *d, int party, int64_t n, uint64_t *a, uint64_t *b,
                     uint64_t *c) {
  const uint64_t dims[3] = {(uint64_t)n, 0, 0};
  return request(d, party, PN_DEALER_TRIPLE, dims, (uint64_t *const[4]){a, b, c, NULL});
}

int pn_dealer_matrix(struct pn_mpc_dealer *d, int party, int64_t M, int64_t K, int64_t N,
                     uint64_t *A, uint64_t *B, uint64_t *C) {
  const uint64_t dims[3] = {(uint64_t)M, (uint64_t)K, (uint64_t)N};
  return request(d, party, PN_DEALER_MATRIX, dims, (uint64_t *const[4]){A, B, C, NULL});
}

int pn_dealer_and(struct pn_mpc_dealer *d, int party, int64_t nw, uint64_t *u, uint64_t *v,
                  uint64_t *w) {
  const uint64_t dims[3] = {(uint64_t)nw, 0, 0};
  return request(d, party, PN_DEALER_AND, dims, (uint64_t *const[4]){u, v, w, NULL});
}

int pn_dealer_bit(struct pn_mpc_dealer *d, int party, int64_t n, uint64_t *rb, uint64_t *ra) {
  const uint64_t dims[3] = {(uint64_t)n, 0, 0};
  return request(d, party, PN_DEALER_BIT, dims, (uint64_t *const[4]){rb, ra, NULL, NULL});
}

int pn_dealer_relu(struct pn_mpc_dealer *d, int party, int64_t n, uint64_t *a, uint64_t *rb,
                   uint64_t *ra, uint64_t *ar) {
  const uint64_t dims[3] = {(uint64_t)n, 0, 0};
  return request(d, party, PN_DEALER_RELU, dims, (uint64_t *const[4]){a, rb, ra, ar});
}

int pn_dealer_lut(struct pn_mpc_dealer *d, int party, int64_t n, int nb, uint64_t *r, uint64_t *T) {
  const uint64_t dims[3] = {(uint64_t)n, (uint64_t)(nb > 0 ? nb : 0), 0};
  if (nb < 1 || nb > 16)
    return pn_err(d->ctx, PN_ERR_INVALID, "dealer: table of %d bits not supported", nb);
  return request(d, party, PN_DEALER_LUT, dims, (uint64_t *const[4]){r, T, NULL, NULL});
}

/* ---- the online dealer (CrypTen's TTP mode over TLS) ----
** Each party sends a hello (u32 "PNDH", u32 party, u32 batch, u32 frac, model[32], plan[32]); the
** dealer answers (u32 status, seed[32], session[16]) with status 0 when the binding equals its
** own. P1 then sends requests (u32 kind, u32 0, u64 dims[3]) and receives the correction words of
** each; kind 0 ends the session. Every session draws a random id from which the seeds are
** derived: a dealer never hands out the same material twice, and the parties compare the id. */
#define HELLO_MAGIC 0x48444e50u /* "PNDH" */
#define HELLO_BYTES 80
#define WELCOME_BYTES 52

int pn_dealer_connect(struct pn_ctx *ctx, struct pn_mpc_net *net, int party,
                      const struct pn_dealer_binding *bind, struct pn_mpc_dealer **out) {
  *out = NULL;
  uint8_t h[HELLO_BYTES] = {0}, w[WELCOME_BYTES];
  pn_put_le32(h, HELLO_MAGIC);
  pn_put_le32(h + 4, (uint32_t)party);
  pn_put_le32(h + 8, bind->batch);
  pn_put_le32(h + 12, bind->frac);
  memcpy(h + 16, bind->model, 32);
  memcpy(h + 48, bind->plan, 32);
  int rc;
  if ((rc = pn_mpc_net_send(ctx, net, h, sizeof h)) || (rc = pn_mpc_net_recv(ctx, net, w, sizeof w))) {
    pn_err_prefix(ctx, "online dealer");
    return rc;
  }
  if (pn_get_le32(w) != 0) {
    pn_wipe(w, sizeof w);
    return pn_err(ctx, PN_ERR_MISMATCH, "online dealer: refused (it serves another model, plan, "
                  "batch size or party)");
  }
  if ((rc = dealer_alloc(ctx, out))) return rc;
  memcpy((*out)->seed[party], w + 4, 32);
  memcpy((*out)->session, w + 36, 16);
  (*out)->have_seed[party] = 1;
  (*out)->bind = *bind;
  if (party == 1) (*out)->remote = net;
  pn_wipe(w, sizeof w);
  return PN_OK;
}

/* Serve one P1 request: regenerate P1's share from its seed, send the correction words. */
static int serve_request(struct pn_ctx *ctx, struct pn_mpc_dealer *e, struct pn_mpc_net *net,
                         int kind, const uint64_t dims[3], uint64_t *bytes) {
  if (kind <= 0 || kind >= PN_DEALER_KIND_COUNT)
    return pn_err(ctx, PN_ERR_PROTOCOL, "online dealer: unknown request kind %d", kind);
  if (!kind_dims_ok(kind, dims))
    return pn_err(ctx, PN_ERR_PROTOCOL, "online dealer: request of kind %d out of range", kind);
  const struct corr_kind *k = &kinds[kind];
  uint64_t words = 1, off = 0, o = 0;
  for (int i = 0; i < k->n_parts; i++) words += k->words(dims, i);
  uint64_t *buf = calloc((size_t)words, 8), *part[4] = {NULL, NULL, NULL, NULL};
  if (!buf) return pn_err(ctx, PN_ERR_NOMEM, "online dealer: out of memory");
  for (int i = 0; i < k->n_parts; o += k->words(dims, i), i++) {
    part[i] = buf + o;
    if (i == k->n_shared) off = o;
  }
  uint64_t send = o - off;   /* the corrections: the parts after the shared ones, contiguous */
  int rc = request(e, 1, kind, dims, part);
  if (rc == PN_OK) rc = pn_mpc_net_send(ctx, net, buf + off, (size_t)send * 8);
  if (rc == PN_OK) *bytes += send * 8;
  pn_wipe_free(buf, (size_t)words * 8);
  return rc;
}

/* Read one party's hello on net and answer it; *party gets its id when accepted. A refused party
** (other binding, or a party already served) is PN_ERR_MISMATCH after the refusal is sent. */
static int hello_one(struct pn_ctx *ctx, struct pn_mpc_dealer *e, const struct pn_dealer_binding *bind,
                     struct pn_mpc_net *net, struct pn_mpc_net *const by_party[2], int *party_out) {
  uint8_t h[HELLO_BYTES], w[WELCOME_BYTES];
  int rc = pn_mpc_net_recv(ctx, net, h, sizeof h);
  if (rc) return rc;
  if (pn_get_le32(h) != HELLO_MAGIC)
    return pn_err(ctx, PN_ERR_PROTOCOL, "online dealer: not a party's hello");
  uint32_t party = pn_get_le32(h + 4);
  int ok = party <= 1 && !by_party[party] && pn_get_le32(h + 8) == bind->batch &&
           pn_get_le32(h + 12) == bind->frac && !memcmp(h + 16, bind->model, 32) &&
           !memcmp(h + 48, bind->plan, 32);
  memset(w, 0, sizeof w);
  pn_put_le32(w, ok ? 0 : 1);
  if (ok) {
    memcpy(w + 4, e->seed[party], 32);
    memcpy(w + 36, e->session, 16);
  }
  rc = pn_mpc_net_send(ctx, net, w, sizeof w);
  pn_wipe(w, sizeof w);
  if (rc) return rc;
  if (!ok)
    return pn_err(ctx, PN_ERR_MISMATCH, "online dealer: refused %s: %s", pn_mpc_net_peer(net),
                  party <= 1 && by_party[party] ? "a second connection as the same party"
                  : "it asked for another model, plan, batch size or party");
  *party_out = (int)party;
  return PN_OK;
}

/* Serve P1's requests until it ends the session. */
static int serve_session(struct pn_ctx *ctx, struct pn_mpc_dealer *e, struct pn_mpc_net *p1,
                         uint64_t *bytes) {
  int rc = PN_OK;
  while (rc == PN_OK) {
    uint8_t rq[32];
    if ((rc = pn_mpc_net_recv(ctx, p1, rq, sizeof rq))) break;
    int kind = (int)pn_get_le32(rq);
    if (kind == 0) break;
    uint64_t dims[3] = {pn_get_le64(rq + 8), pn_get_le64(rq + 16), pn_get_le64(rq + 24)};
    rc = serve_request(ctx, e, p1, kind, dims, bytes);
  }
  return rc;
}

int pn_dealer_serve(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                    const struct pn_dealer_binding *bind, struct pn_mpc_net *a,
                    struct pn_mpc_net *b, uint64_t *bytes) {
  struct pn_mpc_net *net[2] = {a, b}, *by_party[2] = {NULL, NULL};
  struct pn_mpc_dealer *e = NULL;
  int rc = session_new(ctx, master, &e);
  *bytes = 0;
  for (int i = 0; i < 2 && rc == PN_OK; i++) {
    int party = -1;
    if ((rc = hello_one(ctx, e, bind, net[i], by_party, &party)) == PN_OK) by_party[party] = net[i];
  }
  if (rc == PN_OK) rc = serve_session(ctx, e, by_party[1], bytes);
  pn_dealer_free(e);
  return rc;
}

struct listen_state {
  struct pn_mpc_dealer *e;
  const struct pn_dealer_binding *bind;
  struct pn_mpc_net *by_party[2];
  int party;
  const struct pn_net_opts *opts;
};

/* accept check: a party's hello; a refused party is logged and dropped like a stranger */
static int listen_check(struct pn_ctx *ctx, struct pn_mpc_net *net, void *user) {
  struct listen_state *st = user;
  int rc = hello_one(ctx, st->e, st->bind, net, st->by_party, &st->party);
  if (rc == PN_ERR_MISMATCH) return PN_ERR_AUTH; /* the party got the refusal; keep serving */
  return rc;
}

int pn_dealer_serve_listen(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                           const struct pn_dealer_binding *bind, int lfd,
                           const struct pn_net_opts *opts, int wait_ms, uint64_t *bytes) {
  struct listen_state st = {.bind = bind, .opts = opts};
  *bytes = 0;
  int rc = session_new(ctx, master, &st.e);
  double deadline = pn_now() + wait_ms / 1000.0;
  while (rc == PN_OK && (!st.by_party[0] || !st.by_party[1])) {
    struct pn_mpc_net *n = NULL;
    int left = (int)((deadline - pn_now()) * 1000);
    rc = pn_mpc_net_accept_peer(ctx, lfd, opts, left > 0 ? left : 0, listen_check, &st, &n);
    if (rc == PN_OK) {
      st.by_party[st.party] = n;
      if (opts->log) {
        char msg[160];
        snprintf(msg, sizeof msg, "party %d connected from %s", st.party, pn_mpc_net_peer(n));
        opts->log(opts->log_user, msg);
      }
    }
  }
  if (rc == PN_OK) rc = serve_session(ctx, st.e, st.by_party[1], bytes);
  pn_dealer_free(st.e);
  pn_mpc_net_free(st.by_party[0]);
  pn_mpc_net_free(st.by_party[1]);
  return rc;
}
