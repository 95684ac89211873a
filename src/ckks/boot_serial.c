/* boot_serial.c - serialization of bootstrapping keys.
**
** Payload: the bootstrapping parameters (u8 logslots, stc, cts, u16 eph_weight, u8 eph_base_bits,
** cos_degree, double_angles, arcsine_degree) | u16 key count, then per key u64 Galois element and a
** switching key record (ckks_serial.c: levels, b, the seed of a, digest) | the sparse -> dense key record |
** u8 digits of the dense -> sparse key, its b limbs modulo q_0, the 32-byte seed of its a | SHA-256 of all
** the payload before it. The uniform halves travel as seeds, which halves the file; the digest refuses any
** damage (a flipped seed bit would otherwise load as a valid but wrong key). Loading also refuses keys of
** another context (fingerprint), made for other bootstrapping parameters, or missing a rotation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/boot_impl.h"
#include "ckks/ckks_serial_impl.h"

#define DIGEST 32

size_t pn_ckks_boot_keys_saved_bytes(const struct pn_ckks_context *c, const struct pn_ckks_boot_keys *bk) {
  if (!bk || !bk->gk || !bk->s2d) return 0;
  size_t t = HDR_BYTES + 9 + 2; /* parameters, key count */
  for (int i = 0; i < bk->gk->count; i++) t += 8 + pn_ckks_swk_record_bytes(c, bk->gk->keys[i], 1);
  t += pn_ckks_swk_record_bytes(c, bk->s2d, 1);
  t += 1 + (size_t)bk->nd * c->n * 8 + sizeof bk->d2s_seed;
  return t + DIGEST;
}

int pn_ckks_write_boot_keys(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_keys *bk,
                            pn_ckks_put_fn put, void *arg) {
  if (!bk || !pn_ckks_fp_ok(c, bk->fp) || !bk->gk || !bk->s2d)
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks save bootstrapping keys: other parameters");
  const struct pn_ckks_boot_params *bp = &bk->bp;
  struct pn_sha256_stream h;
  int rc = pn_sha256_begin(ctx, &h);
  if (rc) return rc;
  struct pn_wbuf w = {0};
  struct pn_wstream st = {ctx, put, arg, &h, 0, HDR_BYTES, PN_OK}; /* the digest covers the payload */
  pn_ser_w_header(&w, T_BOOTKEYS, c->fp);
  pn_ser_w_set_length(&w, pn_ckks_boot_keys_saved_bytes(c, bk));
  pn_ser_w_u8(&w, (uint8_t)bp->logslots);
  pn_ser_w_u8(&w, (uint8_t)bp->stc_levels);
  pn_ser_w_u8(&w, (uint8_t)bp->cts_levels);
  pn_ser_w_u16(&w, (uint16_t)bp->eph_weight);
  pn_ser_w_u8(&w, (uint8_t)bp->eph_base_bits);
  pn_ser_w_u8(&w, (uint8_t)bp->cos_degree);
  pn_ser_w_u8(&w, (uint8_t)bp->double_angles);
  pn_ser_w_u8(&w, (uint8_t)bp->arcsine_degree);
  pn_ser_w_u16(&w, (uint16_t)bk->gk->count);
  pn_ser_ws_flush(&st, &w);
  for (int i = 0; i < bk->gk->count && !st.rc; i++) { /* one key record at a time */
    pn_ser_w_u64(&w, bk->gk->galois[i]);
    pn_ser_w_swk(&w, c, bk->gk->keys[i], 1);
    pn_ser_ws_flush(&st, &w);
  }
  pn_ser_w_swk(&w, c, bk->s2d, 1);
  pn_ser_ws_flush(&st, &w);
  pn_ser_w_u8(&w, (uint8_t)bk->nd);
  pn_ser_w_words(&w, bk->d2s_b, (size_t)bk->nd * c->n);
  pn_ser_w_bytes(&w, bk->d2s_seed, sizeof bk->d2s_seed);
  pn_ser_ws_flush(&st, &w);
  uint8_t dg[DIGEST];
  pn_sha256_end(&h, dg);
  if (!st.rc) {
    pn_ser_w_bytes(&w, dg, sizeof dg);
    pn_ser_ws_flush(&st, &w);
  }
  free(w.p);
  return st.rc;
}

int pn_ckks_save_boot_keys(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_keys *bk,
                           uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  const size_t n = pn_ckks_boot_keys_saved_bytes(c, bk);
  if (!n) return pn_err(ctx, PN_ERR_MISMATCH, "ckks save bootstrapping keys: other parameters");
  struct pn_memsink m;
  int rc = pn_ser_mem_open(ctx, &m, n, "bootstrapping keys");
  if (rc) return rc;
  rc = pn_ckks_write_boot_keys(ctx, c, bk, pn_ser_mem_put, &m);
  return pn_ser_mem_close(ctx, &m, rc, "bootstrapping keys", buf, len);
}

static int corrupt(struct pn_ctx *ctx, const char *what) { return pn_ser_corrupt(ctx, T_BOOTKEYS, what); }

int pn_ckks_load_boot_keys(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                           const uint8_t *buf, size_t len, struct pn_ckks_boot_keys **out) {
  *out = NULL;
  struct pn_rbuf r = {buf, len, 0};
  int rc = pn_ser_r_header(ctx, &r, T_BOOTKEYS, c);
  if (rc) return rc;
  if (r.len - r.pos < DIGEST) return corrupt(ctx, "truncated");
  uint8_t dg[DIGEST];
  pn_sha256(r.p + r.pos, r.len - r.pos - DIGEST, dg);
  if (memcmp(dg, r.p + r.len - DIGEST, DIGEST)) return corrupt(ctx, "digest mismatch (damaged keys)");
  r.len -= DIGEST; /* the digest is checked; parse what it covers */
  struct pn_ckks_boot_params fb;
  memset(&fb, 0, sizeof fb);
  uint8_t v8[7];
  uint16_t hw, count;
  if (!pn_ser_r_u8(&r, &v8[0]) || !pn_ser_r_u8(&r, &v8[1]) || !pn_ser_r_u8(&r, &v8[2]) || !pn_ser_r_u16(&r, &hw) ||
      !pn_ser_r_u8(&r, &v8[3]) || !pn_ser_r_u8(&r, &v8[4]) || !pn_ser_r_u8(&r, &v8[5]) || !pn_ser_r_u8(&r, &v8[6]) ||
      !pn_ser_r_u16(&r, &count))
    return corrupt(ctx, "truncated parameters");
  fb.logslots = v8[0];
  fb.stc_levels = v8[1];
  fb.cts_levels = v8[2];
  fb.eph_weight = hw;
  fb.eph_base_bits = v8[3];
  fb.cos_degree = v8[4];
  fb.double_angles = v8[5];
  fb.arcsine_degree = v8[6];
  if (memcmp(&fb, bp, sizeof fb)) return corrupt(ctx, "made for other bootstrapping parameters");
  if ((size_t)count > 2 * c->slots) return corrupt(ctx, "key count out of range");
  struct pn_ckks_boot_keys *bk = calloc(1, sizeof *bk);
  if (!bk) return pn_err(ctx, PN_ERR_NOMEM, "ckks load bootstrapping keys");
  memcpy(bk->fp, c->fp, sizeof bk->fp);
  bk->bp = fb;
  bk->gk = calloc(1, sizeof *bk->gk);
  if (bk->gk) {
    memcpy(bk->gk->fp, c->fp, sizeof bk->gk->fp);
    bk->gk->galois = calloc((size_t)count + 1, sizeof *bk->gk->galois);
    bk->gk->keys = calloc((size_t)count + 1, sizeof *bk->gk->keys);
  }
  if (!bk->gk || !bk->gk->galois || !bk->gk->keys) rc = pn_err(ctx, PN_ERR_NOMEM, "ckks load bootstrapping keys");
  const uint64_t m2 = 2 * (uint64_t)c->n;
  for (int i = 0; i < count && !rc; i++) {
    uint64_t g;
    if (!pn_ser_r_u64(&r, &g)) {
      rc = corrupt(ctx, "truncated");
      break;
    }
    if (g >= m2 || !(g & 1) || g == 1) rc = corrupt(ctx, "Galois element is not an odd unit mod 2N other than 1");
    for (int t = 0; t < bk->gk->count && !rc; t++)
      if (bk->gk->galois[t] == g) rc = corrupt(ctx, "duplicate Galois element");
    if (!rc) rc = pn_ser_r_swk(ctx, &r, c, T_BOOTKEYS, &bk->gk->keys[bk->gk->count]);
    if (!rc) bk->gk->galois[bk->gk->count++] = g;
  }
  if (!rc) rc = pn_ser_r_swk(ctx, &r, c, T_BOOTKEYS, &bk->s2d);
  if (!rc && bk->s2d->lmax != c->nq - 1) rc = corrupt(ctx, "sparse-to-dense key does not serve every level");
  uint8_t nd = 0;
  if (!rc && !pn_ser_r_u8(&r, &nd)) rc = corrupt(ctx, "truncated");
  if (!rc && nd != pn_boot_eph_digits(c, bp)) rc = corrupt(ctx, "dense-to-sparse key digits differ from the parameters");
  if (!rc) {
    bk->nd = nd;
    bk->d2s_b = malloc((size_t)nd * c->n * sizeof *bk->d2s_b);
    bk->d2s_a = malloc((size_t)nd * c->n * sizeof *bk->d2s_a);
    if (!bk->d2s_b || !bk->d2s_a) rc = pn_err(ctx, PN_ERR_NOMEM, "ckks load bootstrapping keys");
  }
  if (!rc) {
    int primes[64];
    memset(primes, 0, sizeof primes); /* every limb modulo q_0 */
    rc = pn_ser_r_limbs(ctx, &r, c, primes, nd, bk->d2s_b, T_BOOTKEYS, "dense-to-sparse b");
  }
  if (!rc && !pn_ser_r_bytes(&r, bk->d2s_seed, sizeof bk->d2s_seed)) rc = corrupt(ctx, "truncated seed");
  if (!rc) rc = pn_boot_d2s_expand(ctx, c, bk);
  if (!rc) rc = pn_ser_r_end(ctx, &r, T_BOOTKEYS);
  if (!rc) { /* every rotation the circuit needs, at the levels it needs */
    rc = pn_boot_check_params(ctx, c, bp);
    if (!rc) rc = pn_boot_keys_check(ctx, c, bp, bk);
    if (rc == PN_ERR_MISMATCH) {
      char msg[256];
      snprintf(msg, sizeof msg, "%s", pn_errmsg(ctx));
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s (loading)", msg);
    }
  }
  if (rc) {
    pn_ckks_boot_keys_free(bk);
    return rc;
  }
  *out = bk;
  return PN_OK;
}
