/* ckks_read.c - streamed loading of switching and Galois keys: the bytes pulled as they arrive (a socket).
**
** The buffered loaders (ckks_serial.c) parse an object held whole in memory; for a key set of gigabytes that
** copy is as large as the keys. Here the object is read piece by piece from a pn_ckks_get_fn: the header
** (checked, and its payload length kept as the bytes still due), then per key its element and the record's
** 4 leading bytes, which fix the record's size from the context; only then is the record read, into one
** buffer reused for every record, and parsed by the buffered loader's own record parser (pn_ser_r_swk: the
** same checks, the same keys). Nothing is allocated from a length the peer chose without checking it first
** against the context, the caller's want and the bytes still due. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_impl.h"
#include "ckks/ckks_serial_impl.h"

int pn_ser_rs_read(struct pn_rstream *s, void *dst, size_t n, const char *what) {
  if (n > s->left) {
    char m[160];
    snprintf(m, sizeof m, "%s runs past the payload length (%zu bytes, %llu left)", what, n,
             (unsigned long long)s->left);
    return pn_ser_corrupt(s->ctx, s->type, m);
  }
  int rc = n ? s->get(s->ctx, s->arg, dst, n) : PN_OK;
  if (rc) return rc;
  if (s->h) pn_sha256_update(s->h, dst, n);
  s->left -= n;
  return PN_OK;
}

int pn_ser_rs_header(struct pn_rstream *s, const struct pn_ckks_context *c) {
  uint8_t h[HDR_BYTES];
  s->left = HDR_BYTES;
  struct pn_sha256_stream *hs = s->h;
  s->h = NULL; /* digests cover payloads only */
  int rc = pn_ser_rs_read(s, h, HDR_BYTES, "header");
  s->h = hs;
  if (!rc) rc = pn_ser_check_header(s->ctx, h, s->type, c, &s->left);
  return rc;
}

size_t pn_ckks_swk_record_max(const struct pn_ckks_context *c) {
  const size_t words = (size_t)pn_ckks_digits_for(c, c->nq - 1) * (size_t)(c->nq + c->np) * c->n;
  return PN_SER_SWK_HDR + 2 * words * 8 + 32;
}

int pn_ser_rs_swk(struct pn_rstream *s, const struct pn_ckks_context *c, int lmax_cap, struct pn_ckks_swk **out) {
  *out = NULL;
  uint8_t h[PN_SER_SWK_HDR];
  size_t rest;
  int rc = pn_ser_rs_read(s, h, sizeof h, "switching key");
  if (!rc) rc = pn_ser_swk_rest(s->ctx, c, s->type, h, &rest);
  if (rc) return rc;
  if (h[2] > lmax_cap) {
    char m[128];
    snprintf(m, sizeof m, "a switching key for levels up to %d, where at most %d is wanted", h[2], lmax_cap);
    return pn_ser_corrupt(s->ctx, s->type, m);
  }
  if (rest > s->left) return pn_ser_corrupt(s->ctx, s->type, "switching key runs past the payload length");
  const size_t need = sizeof h + rest;
  if (need > s->cap) { /* free first: never two buffers */
    free(s->buf);
    s->cap = 0;
    if (!(s->buf = malloc(need))) return pn_err(s->ctx, PN_ERR_NOMEM, "ckks read keys: out of memory (%zu bytes)", need);
    s->cap = need;
  }
  memcpy(s->buf, h, sizeof h);
  if ((rc = pn_ser_rs_read(s, s->buf + sizeof h, rest, "switching key"))) return rc;
  struct pn_rbuf r = {s->buf, need, 0};
  return pn_ser_r_swk(s->ctx, &r, c, s->type, out);
}

int pn_ser_rs_end(struct pn_rstream *s, int rc) {
  if (!rc && s->left)
    rc = pn_err(s->ctx, PN_ERR_CORRUPT, "ckks read: %llu trailing bytes after the keys the payload holds",
                (unsigned long long)s->left);
  free(s->buf);
  s->buf = NULL;
  s->cap = 0;
  return rc;
}

int pn_ser_want_find(const struct pn_ckks_context *c, const struct pn_ckks_key_want *want, uint64_t g) {
  for (int i = 0; i < want->count; i++)
    if (pn_ckks_galois_elt(c, want->steps[i]) == g) return i;
  return -1;
}

int pn_ckks_read_swk(struct pn_ctx *ctx, const struct pn_ckks_context *c, pn_ckks_get_fn get, void *arg, int lmax,
                     struct pn_ckks_swk **out) {
  *out = NULL;
  struct pn_rstream s = {ctx, get, arg, T_SWK, 0, NULL, NULL, 0};
  int rc = pn_ser_rs_header(&s, c);
  if (!rc) rc = pn_ser_rs_swk(&s, c, lmax < c->nq - 1 ? lmax : c->nq - 1, out);
  if ((rc = pn_ser_rs_end(&s, rc))) {
    pn_ckks_swk_free(*out);
    *out = NULL;
  }
  return rc;
}

int pn_ckks_read_gk(struct pn_ctx *ctx, const struct pn_ckks_context *c, pn_ckks_get_fn get, void *arg,
                    const struct pn_ckks_key_want *want, struct pn_ckks_gk **out) {
  *out = NULL;
  struct pn_rstream s = {ctx, get, arg, T_GK, 0, NULL, NULL, 0};
  uint8_t b[8];
  uint64_t count = 0;
  int rc = pn_ser_rs_header(&s, c);
  if (!rc && !(rc = pn_ser_rs_read(&s, b, 8, "key count")))
    for (int i = 0; i < 8; i++) count |= (uint64_t)b[i] << (8 * i);
  if (!rc && (count > c->slots + 1 || (want && count > (uint64_t)want->count))) {
    char m[128];
    snprintf(m, sizeof m, "%llu keys, more than the %d wanted", (unsigned long long)count,
             want ? want->count : (int)c->slots + 1);
    rc = pn_ser_corrupt(ctx, T_GK, m);
  }
  struct pn_ckks_gk *gk = rc ? NULL : calloc(1, sizeof *gk);
  if (!rc && gk) {
    memcpy(gk->fp, c->fp, sizeof gk->fp);
    gk->galois = calloc(count + 1, sizeof *gk->galois);
    gk->keys = calloc(count + 1, sizeof *gk->keys);
  }
  if (!rc && (!gk || !gk->galois || !gk->keys)) rc = pn_err(ctx, PN_ERR_NOMEM, "ckks read Galois keys");
  for (uint64_t i = 0; i < count && !rc; i++) {
    uint64_t g = 0;
    if ((rc = pn_ser_rs_read(&s, b, 8, "Galois element"))) break;
    for (int k = 0; k < 8; k++) g |= (uint64_t)b[k] << (8 * k);
    rc = pn_ser_galois_check(ctx, c, T_GK, gk, g);
    int lmax = c->nq - 1, w = want ? pn_ser_want_find(c, want, g) : 0;
    if (!rc && w < 0) rc = pn_ser_corrupt(ctx, T_GK, "a key for a rotation that is not wanted");
    if (!rc && want && want->lmax) lmax = want->lmax[w];
    if (!rc) rc = pn_ser_rs_swk(&s, c, lmax, &gk->keys[gk->count]);
    if (!rc) gk->galois[gk->count++] = g;
  }
  if ((rc = pn_ser_rs_end(&s, rc))) {
    pn_ckks_gk_free(gk);
    return rc;
  }
  *out = gk;
  return PN_OK;
}
