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

/* The payload's leading parameters and key count: they must be bp's; *count within the context's bound. */
#define PARAM_BYTES 11
static int params_parse(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                        const uint8_t b[PARAM_BYTES], struct pn_ckks_boot_params *fb, int *count) {
  memset(fb, 0, sizeof *fb);
  fb->logslots = b[0];
  fb->stc_levels = b[1];
  fb->cts_levels = b[2];
  fb->eph_weight = b[3] | b[4] << 8;
  fb->eph_base_bits = b[5];
  fb->cos_degree = b[6];
  fb->double_angles = b[7];
  fb->arcsine_degree = b[8];
  *count = b[9] | b[10] << 8;
  if (memcmp(fb, bp, sizeof *fb)) return corrupt(ctx, "made for other bootstrapping parameters");
  if ((size_t)*count > 2 * c->slots) return corrupt(ctx, "key count out of range");
  return PN_OK;
}

/* An empty key set for fb with room for count rotation keys. */
static int keys_new(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *fb, int count,
                    struct pn_ckks_boot_keys **out) {
  struct pn_ckks_boot_keys *bk = *out = calloc(1, sizeof *bk);
  if (bk) {
    memcpy(bk->fp, c->fp, sizeof bk->fp);
    bk->bp = *fb;
    if ((bk->gk = calloc(1, sizeof *bk->gk))) {
      memcpy(bk->gk->fp, c->fp, sizeof bk->gk->fp);
      bk->gk->galois = calloc((size_t)count + 1, sizeof *bk->gk->galois);
      bk->gk->keys = calloc((size_t)count + 1, sizeof *bk->gk->keys);
    }
  }
  if (!bk || !bk->gk || !bk->gk->galois || !bk->gk->keys) return pn_err(ctx, PN_ERR_NOMEM, "ckks load bootstrapping keys");
  return PN_OK;
}

/* Room for the dense -> sparse key of nd digits (bp's count, else refused). */
static int d2s_new(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                   struct pn_ckks_boot_keys *bk, int nd) {
  if (nd != pn_boot_eph_digits(c, bp)) return corrupt(ctx, "dense-to-sparse key digits differ from the parameters");
  bk->nd = nd;
  bk->d2s_b = malloc((size_t)nd * c->n * sizeof *bk->d2s_b);
  bk->d2s_a = malloc((size_t)nd * c->n * sizeof *bk->d2s_a);
  if (!bk->d2s_b || !bk->d2s_a) return pn_err(ctx, PN_ERR_NOMEM, "ckks load bootstrapping keys");
  return PN_OK;
}

/* The keys parsed (rc PN_OK): every rotation the circuit needs, at the levels it needs, else refused; *out set or
** bk freed. */
static int keys_finish(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                       struct pn_ckks_boot_keys *bk, int rc, struct pn_ckks_boot_keys **out) {
  if (!rc && (rc = pn_boot_keys_check(ctx, c, bp, bk)) == PN_ERR_MISMATCH) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s", pn_errmsg(ctx));
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s (loading)", msg);
  }
  if (rc) {
    pn_ckks_boot_keys_free(bk);
    return rc;
  }
  *out = bk;
  return PN_OK;
}

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
  uint8_t pb[PARAM_BYTES];
  int count;
  if (!pn_ser_r_bytes(&r, pb, sizeof pb)) return corrupt(ctx, "truncated parameters");
  if ((rc = params_parse(ctx, c, bp, pb, &fb, &count))) return rc;
  struct pn_ckks_boot_keys *bk = NULL;
  rc = keys_new(ctx, c, &fb, count, &bk);
  for (int i = 0; i < count && !rc; i++) {
    uint64_t g;
    if (!pn_ser_r_u64(&r, &g)) {
      rc = corrupt(ctx, "truncated");
      break;
    }
    rc = pn_ser_galois_check(ctx, c, T_BOOTKEYS, bk->gk, g);
    if (!rc) rc = pn_ser_r_swk(ctx, &r, c, T_BOOTKEYS, &bk->gk->keys[bk->gk->count]);
    if (!rc) bk->gk->galois[bk->gk->count++] = g;
  }
  if (!rc) rc = pn_ser_r_swk(ctx, &r, c, T_BOOTKEYS, &bk->s2d);
  if (!rc && bk->s2d->lmax != c->nq - 1) rc = corrupt(ctx, "sparse-to-dense key does not serve every level");
  uint8_t nd = 0;
  if (!rc && !pn_ser_r_u8(&r, &nd)) rc = corrupt(ctx, "truncated");
  if (!rc) rc = d2s_new(ctx, c, bp, bk, nd);
  if (!rc) {
    int primes[64];
    memset(primes, 0, sizeof primes); /* every limb modulo q_0 */
    rc = pn_ser_r_limbs(ctx, &r, c, primes, nd, bk->d2s_b, T_BOOTKEYS, "dense-to-sparse b");
  }
  if (!rc && !pn_ser_r_bytes(&r, bk->d2s_seed, sizeof bk->d2s_seed)) rc = corrupt(ctx, "truncated seed");
  if (!rc) rc = pn_boot_d2s_expand(ctx, c, bk);
  if (!rc) rc = pn_ser_r_end(ctx, &r, T_BOOTKEYS);
  if (!rc) rc = pn_boot_check_params(ctx, c, bp);
  return keys_finish(ctx, c, bp, bk, rc, out);
}

/* Streamed (boot.h): the rotations the circuit uses, at the levels it uses them, and conjugation at the EvalMod
** start are the only keys accepted, each at most at its level: the keys pn_ckks_boot_keygen makes. */
int pn_ckks_read_boot_keys(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                           pn_ckks_get_fn get, void *arg, struct pn_ckks_boot_keys **out) {
  *out = NULL;
  enum { MAXROT = 512 };
  int steps[MAXROT + 1], levels[MAXROT + 1], lin, lout, lcts, lmod;
  int nrot = pn_ckks_boot_rotations(ctx, c, bp, steps, levels, MAXROT);
  if (nrot < 0) return nrot;
  pn_boot_levels(c, bp, &lin, &lout, &lcts, &lmod);
  steps[nrot] = PN_CKKS_CONJ, levels[nrot] = lmod;
  const struct pn_ckks_key_want want = {steps, levels, nrot + 1};
  struct pn_sha256_stream h;
  int rc = pn_sha256_begin(ctx, &h);
  if (rc) return rc;
  struct pn_rstream s = {ctx, get, arg, T_BOOTKEYS, 0, &h, NULL, 0};
  struct pn_ckks_boot_params fb;
  uint8_t pb[PARAM_BYTES], b8[8];
  int count = 0;
  struct pn_ckks_boot_keys *bk = NULL;
  if (!(rc = pn_ser_rs_header(&s, c)) && !(rc = pn_ser_rs_read(&s, pb, sizeof pb, "parameters")))
    rc = params_parse(ctx, c, bp, pb, &fb, &count);
  if (!rc && count > want.count) {
    char m[96];
    snprintf(m, sizeof m, "%d keys, the circuit uses %d", count, want.count);
    rc = corrupt(ctx, m);
  }
  if (!rc) rc = keys_new(ctx, c, &fb, count, &bk);
  for (int i = 0; i < count && !rc; i++) {
    uint64_t g = 0;
    if ((rc = pn_ser_rs_read(&s, b8, 8, "Galois element"))) break;
    for (int k = 0; k < 8; k++) g |= (uint64_t)b8[k] << (8 * k);
    rc = pn_ser_galois_check(ctx, c, T_BOOTKEYS, bk->gk, g);
    const int w = pn_ser_want_find(c, &want, g);
    if (!rc && w < 0) rc = corrupt(ctx, "a key for a rotation the circuit does not use");
    if (!rc) rc = pn_ser_rs_swk(&s, c, levels[w], &bk->gk->keys[bk->gk->count]);
    if (!rc) bk->gk->galois[bk->gk->count++] = g;
  }
  if (!rc) rc = pn_ser_rs_swk(&s, c, c->nq - 1, &bk->s2d);
  if (!rc && bk->s2d->lmax != c->nq - 1) rc = corrupt(ctx, "sparse-to-dense key does not serve every level");
  uint8_t nd = 0;
  if (!rc) rc = pn_ser_rs_read(&s, &nd, 1, "dense-to-sparse digits");
  if (!rc) rc = d2s_new(ctx, c, bp, bk, nd);
  if (!rc && c->n * 8 > s.cap) { /* one limb at a time through the record buffer */
    free(s.buf);
    s.cap = 0;
    if (!(s.buf = malloc(c->n * 8))) rc = pn_err(ctx, PN_ERR_NOMEM, "ckks read bootstrapping keys");
    else s.cap = c->n * 8;
  }
  for (int i = 0; i < nd && !rc; i++) {
    int prime0 = 0; /* every limb modulo q_0 */
    struct pn_rbuf r = {s.buf, c->n * 8, 0};
    if (!(rc = pn_ser_rs_read(&s, s.buf, c->n * 8, "dense-to-sparse b")))
      rc = pn_ser_r_limbs(ctx, &r, c, &prime0, 1, bk->d2s_b + (size_t)i * c->n, T_BOOTKEYS, "dense-to-sparse b");
  }
  if (!rc) rc = pn_ser_rs_read(&s, bk->d2s_seed, sizeof bk->d2s_seed, "dense-to-sparse seed");
  uint8_t dg[DIGEST], got[DIGEST];
  pn_sha256_end(&h, dg);
  s.h = NULL;
  if (!rc) rc = pn_ser_rs_read(&s, got, DIGEST, "digest");
  if (!rc && memcmp(dg, got, DIGEST)) rc = corrupt(ctx, "digest mismatch (damaged keys)");
  if (!rc) rc = pn_boot_d2s_expand(ctx, c, bk);
  return keys_finish(ctx, c, bp, bk, pn_ser_rs_end(&s, rc), out);
}
