/* ckks_serial.c - serialization of CKKS parameters, plaintexts, ciphertexts and keys.
**
** Every object is: magic "PNCK" | u16 version (1) | u16 type | 32-byte parameter fingerprint (zero for
** parameters) | u64 payload length | payload, little-endian. Loading checks the magic, version, type,
** fingerprint, exact lengths, every field's range and every residue against its prime, and returns
** PN_ERR_CORRUPT with a message naming the field for anything malformed or made for other parameters
** (a fingerprint mismatch); it never crashes and never reads past the buffer. Secret keys are stored as
** their ternary coefficients (one byte each) and re-expanded; temporary copies are wiped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_impl.h"
#include "ckks/ckks_serial_impl.h"
#include "util/wipe.h"


static const char *type_names[] = {"?", "parameters", "ciphertext", "plaintext", "secret key", "public key",
                                   "switching key", "Galois keys", "bootstrapping keys"};
_Static_assert(sizeof type_names / sizeof *type_names == T_COUNT, "type_names out of date");

/* ---- writer ---- */

void pn_ser_w_bytes(struct pn_wbuf *w, const void *src, size_t n) {
  if (w->oom) return;
  if (w->len + n > w->cap) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n) cap *= 2;
    uint8_t *p = realloc(w->p, cap);
    if (!p) {
      w->oom = 1;
      return;
    }
    w->p = p;
    w->cap = cap;
  }
  memcpy(w->p + w->len, src, n);
  w->len += n;
}
void pn_ser_w_u8(struct pn_wbuf *w, uint8_t v) { pn_ser_w_bytes(w, &v, 1); }
void pn_ser_w_u16(struct pn_wbuf *w, uint16_t v) {
  uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  pn_ser_w_bytes(w, b, 2);
}
void pn_ser_w_u64(struct pn_wbuf *w, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  pn_ser_w_bytes(w, b, 8);
}
void pn_ser_w_f64(struct pn_wbuf *w, double d) {
  uint64_t v;
  memcpy(&v, &d, 8);
  pn_ser_w_u64(w, v);
}
void pn_ser_w_words(struct pn_wbuf *w, const uint64_t *a, size_t n) {
  for (size_t i = 0; i < n; i++) pn_ser_w_u64(w, a[i]);
}

void pn_ser_w_header(struct pn_wbuf *w, int type, const uint8_t *fp) {
  static const uint8_t zero[32];
  pn_ser_w_bytes(w, PN_CKKS_MAGIC, 4);
  pn_ser_w_u16(w, PN_CKKS_VERSION);
  pn_ser_w_u16(w, (uint16_t)type);
  pn_ser_w_bytes(w, fp ? fp : zero, 32);
  pn_ser_w_u64(w, 0); /* payload length, patched by pn_ser_w_finish */
}

int pn_ser_w_finish(struct pn_ctx *ctx, struct pn_wbuf *w, uint8_t **buf, size_t *len) {
  if (w->oom) {
    free(w->p);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks save: out of memory");
  }
  uint64_t pl = w->len - HDR_BYTES;
  for (int i = 0; i < 8; i++) w->p[HDR_BYTES - 8 + i] = (uint8_t)(pl >> (8 * i));
  *buf = w->p;
  *len = w->len;
  return PN_OK;
}

void pn_ser_w_set_length(struct pn_wbuf *w, size_t object_bytes) {
  if (w->oom || w->len < HDR_BYTES) return;
  uint64_t pl = object_bytes - HDR_BYTES;
  for (int i = 0; i < 8; i++) w->p[HDR_BYTES - 8 + i] = (uint8_t)(pl >> (8 * i));
}

void pn_ser_ws_flush(struct pn_wstream *s, struct pn_wbuf *w) {
  if (!s->rc && w->oom) s->rc = pn_err(s->ctx, PN_ERR_NOMEM, "ckks save: out of memory");
  if (!s->rc && w->len) {
    if (s->h) {
      size_t skip = s->at >= s->from ? 0 : s->from - s->at;
      if (skip < w->len) pn_sha256_update(s->h, w->p + skip, w->len - skip);
    }
    s->rc = s->put(s->ctx, s->arg, w->p, w->len);
    s->at += w->len;
  }
  w->len = 0;
}

int pn_ser_mem_open(struct pn_ctx *ctx, struct pn_memsink *m, size_t n, const char *what) {
  *m = (struct pn_memsink){malloc(n ? n : 1), 0, n};
  return m->p ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "ckks save %s: out of memory", what);
}

int pn_ser_mem_close(struct pn_ctx *ctx, struct pn_memsink *m, int rc, const char *what, uint8_t **buf, size_t *len) {
  if (!rc && m->len != m->cap) rc = pn_err(ctx, PN_ERR_INVALID, "ckks save %s: %zu bytes, computed %zu", what, m->len, m->cap);
  if (rc) {
    free(m->p);
    return rc;
  }
  *buf = m->p;
  *len = m->len;
  return PN_OK;
}

int pn_ser_mem_put(struct pn_ctx *ctx, void *arg, const void *bytes, size_t n) {
  struct pn_memsink *m = arg;
  if (n > m->cap - m->len) return pn_err(ctx, PN_ERR_INVALID, "ckks save: more bytes than the computed length");
  memcpy(m->p + m->len, bytes, n);
  m->len += n;
  return PN_OK;
}

/* ---- reader ---- */

int pn_ser_r_bytes(struct pn_rbuf *r, void *dst, size_t n) {
  if (n > r->len - r->pos) return 0;
  memcpy(dst, r->p + r->pos, n);
  r->pos += n;
  return 1;
}
int pn_ser_r_u8(struct pn_rbuf *r, uint8_t *v) { return pn_ser_r_bytes(r, v, 1); }
int pn_ser_r_u16(struct pn_rbuf *r, uint16_t *v) {
  uint8_t b[2];
  if (!pn_ser_r_bytes(r, b, 2)) return 0;
  *v = (uint16_t)(b[0] | b[1] << 8);
  return 1;
}
int pn_ser_r_u64(struct pn_rbuf *r, uint64_t *v) {
  uint8_t b[8];
  if (!pn_ser_r_bytes(r, b, 8)) return 0;
  *v = 0;
  for (int i = 0; i < 8; i++) *v |= (uint64_t)b[i] << (8 * i);
  return 1;
}
int pn_ser_r_f64(struct pn_rbuf *r, double *d) {
  uint64_t v;
  if (!pn_ser_r_u64(r, &v)) return 0;
  memcpy(d, &v, 8);
  return 1;
}

int pn_ser_corrupt(struct pn_ctx *ctx, int type, const char *what) {
  return pn_err(ctx, PN_ERR_CORRUPT, "ckks %s: %s", type_names[type], what);
}

int pn_ser_check_header(struct pn_ctx *ctx, const uint8_t h[HDR_BYTES], int type, const struct pn_ckks_context *c,
                        uint64_t *payload) {
  const unsigned ver = h[4] | h[5] << 8, ty = h[6] | h[7] << 8;
  uint64_t pl = 0;
  for (int i = 0; i < 8; i++) pl |= (uint64_t)h[40 + i] << (8 * i);
  if (memcmp(h, PN_CKKS_MAGIC, 4)) return pn_ser_corrupt(ctx, type, "bad magic (not a privnn CKKS object)");
  if (ver != PN_CKKS_VERSION)
    return pn_err(ctx, PN_ERR_CORRUPT, "ckks %s: unsupported version %u (expected %d)", type_names[type], ver,
                  PN_CKKS_VERSION);
  if (ty != (unsigned)type)
    return pn_err(ctx, PN_ERR_CORRUPT, "ckks %s: object is a %s", type_names[type],
                  ty > 0 && ty < T_COUNT ? type_names[ty] : "unknown type");
  if (c && memcmp(h + 8, c->fp, 32))
    return pn_ser_corrupt(ctx, type, "parameter fingerprint mismatch (made for other parameters)");
  *payload = pl;
  return PN_OK;
}

/* Check the header; on success r is positioned at the payload, which is exactly the rest. */
int pn_ser_r_header(struct pn_ctx *ctx, struct pn_rbuf *r, int type, const struct pn_ckks_context *c) {
  uint8_t h[HDR_BYTES];
  uint64_t pl;
  if (!pn_ser_r_bytes(r, h, HDR_BYTES)) return pn_ser_corrupt(ctx, type, "truncated header");
  int rc = pn_ser_check_header(ctx, h, type, c, &pl);
  if (rc) return rc;
  if (pl != r->len - r->pos)
    return pn_err(ctx, PN_ERR_CORRUPT, "ckks %s: payload length %llu, but %zu bytes follow", type_names[type],
                  (unsigned long long)pl, r->len - r->pos);
  return PN_OK;
}

/* read nl limbs of N residues, each checked against its prime */
int pn_ser_r_limbs(struct pn_ctx *ctx, struct pn_rbuf *r, const struct pn_ckks_context *c, const int *primes,
                   int nl, uint64_t *dst, int type, const char *field) {
  const size_t n = c->n;
  if ((size_t)nl * n * 8 > r->len - r->pos)
    return pn_err(ctx, PN_ERR_CORRUPT, "ckks %s: %s truncated", type_names[type], field);
  for (int i = 0; i < nl; i++) {
    const uint64_t q = c->mod[primes ? primes[i] : i].q;
    uint64_t *d = dst + (size_t)i * n;
    const uint8_t *s = r->p + r->pos;
    for (size_t k = 0; k < n; k++) {
      uint64_t v = 0;
      for (int b = 0; b < 8; b++) v |= (uint64_t)s[8 * k + b] << (8 * b);
      if (v >= q)
        return pn_err(ctx, PN_ERR_CORRUPT, "ckks %s: %s limb %d coefficient %zu is not below its prime",
                      type_names[type], field, i, k);
      d[k] = v;
    }
    r->pos += n * 8;
  }
  return PN_OK;
}

int pn_ser_r_end(struct pn_ctx *ctx, struct pn_rbuf *r, int type) {
  if (r->pos != r->len) return pn_ser_corrupt(ctx, type, "trailing bytes after the payload");
  return PN_OK;
}

/* ---- parameters ---- */
int pn_ckks_save_params(struct pn_ctx *ctx, const struct pn_ckks_params *p, uint8_t **buf, size_t *len) {
  if (p->nq < 1 || p->nq > PN_CKKS_MAX_PRIMES || p->np < 1 || p->np > PN_CKKS_MAX_PRIMES)
    return pn_err(ctx, PN_ERR_INVALID, "ckks save parameters: nq/np out of range");
  struct pn_wbuf w = {0};
  pn_ser_w_header(&w, T_PARAMS, NULL);
  pn_ser_w_u8(&w, (uint8_t)p->logn);
  pn_ser_w_u8(&w, (uint8_t)p->nq);
  pn_ser_w_u8(&w, (uint8_t)p->np);
  pn_ser_w_u8(&w, (uint8_t)p->dnum);
  pn_ser_w_u8(&w, (uint8_t)p->scale_bits);
  pn_ser_w_u8(&w, 0); /* reserved (was allow_insecure): security is the loading caller's decision alone */
  for (int i = 0; i < p->nq; i++) pn_ser_w_u8(&w, (uint8_t)p->q_bits[i]);
  for (int i = 0; i < p->np; i++) pn_ser_w_u8(&w, (uint8_t)p->p_bits[i]);
  return pn_ser_w_finish(ctx, &w, buf, len);
}

int pn_ckks_load_params(struct pn_ctx *ctx, const uint8_t *buf, size_t len, struct pn_ckks_params *out) {
  struct pn_rbuf r = {buf, len, 0};
  int rc = pn_ser_r_header(ctx, &r, T_PARAMS, NULL);
  if (rc) return rc;
  uint8_t v[6];
  for (int i = 0; i < 6; i++)
    if (!pn_ser_r_u8(&r, &v[i])) return pn_ser_corrupt(ctx, T_PARAMS, "truncated");
  struct pn_ckks_params p;
  memset(&p, 0, sizeof p);
  p.logn = v[0];
  p.nq = v[1];
  p.np = v[2];
  p.dnum = v[3];
  p.scale_bits = v[4];
  /* v[5] is the reserved byte older files used for allow_insecure. It is never honoured: like SEAL's and
  ** OpenFHE's parameter files, a file cannot lower the security level. The loaded parameters always have
  ** allow_insecure = 0, so pn_ckks_context_new applies the 128-bit table unless the caller itself sets the
  ** flag after loading (tests with small N). */
  p.allow_insecure = 0;
  if (p.logn < 3 || p.logn > PN_CKKS_MAX_LOGN) return pn_ser_corrupt(ctx, T_PARAMS, "logN out of range");
  if (p.nq < 1 || p.nq > PN_CKKS_MAX_PRIMES || p.np < 1 || p.np > PN_CKKS_MAX_PRIMES)
    return pn_ser_corrupt(ctx, T_PARAMS, "prime count out of range");
  if (p.dnum > p.nq || v[5] > 1 || p.scale_bits < 1 || p.scale_bits > 100)
    return pn_ser_corrupt(ctx, T_PARAMS, "dnum, scale or flag out of range");
  for (int i = 0; i < p.nq + p.np; i++) {
    uint8_t b;
    if (!pn_ser_r_u8(&r, &b)) return pn_ser_corrupt(ctx, T_PARAMS, "truncated prime sizes");
    if (b < PN_RING_MIN_PRIME_BITS || b > PN_RING_MAX_PRIME_BITS) return pn_ser_corrupt(ctx, T_PARAMS, "prime size out of range");
    if (i < p.nq)
      p.q_bits[i] = b;
    else
      p.p_bits[i - p.nq] = b;
  }
  /* Bound the size by what the 128-bit table can ever allow at this N (each prime is below 2^bits, so
  ** log QP < the sum of the sizes): at N >= 2^12 a larger sum can never pass the security check, and its
  ** precomputation tables could be huge (80 primes at N = 2^16 is ~170 MB). N < 2^12 is never secure and
  ** only usable with the caller's opt-in; there N and the prime count (<= 2 * PN_CKKS_MAX_PRIMES) keep the
  ** tables small. */
  if (p.logn >= PN_CKKS_MIN_LOGN) {
    int sum = 0;
    for (int i = 0; i < p.nq; i++) sum += p.q_bits[i];
    for (int i = 0; i < p.np; i++) sum += p.p_bits[i];
    int bound = pn_ckks_max_logqp(p.logn);
    if (sum > bound)
      return pn_err(ctx, PN_ERR_INSECURE, "ckks load parameters: primes of %d bits in total exceed the 128-bit "
                    "bound of %d bits at N = 2^%d", sum, bound, p.logn);
  }
  if ((rc = pn_ser_r_end(ctx, &r, T_PARAMS))) return rc;
  *out = p;
  return PN_OK;
}

/* ---- ciphertexts and plaintexts ---- */
int pn_ckks_save_ct(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *ct,
                    uint8_t **buf, size_t *len) {
  if (ct->n != c->n || ct->nq != c->nq || ct->level < 0 || ct->level >= c->nq || ct->size < 2 || ct->size > 3 ||
      !pn_ckks_fp_ok(c, ct->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks save ciphertext: other parameters");
  struct pn_wbuf w = {0};
  pn_ser_w_header(&w, T_CT, c->fp);
  pn_ser_w_u8(&w, (uint8_t)ct->size);
  pn_ser_w_u8(&w, (uint8_t)ct->level);
  pn_ser_w_f64(&w, ct->scale);
  for (int j = 0; j < ct->size; j++) pn_ser_w_words(&w, ct_limb(ct, j, 0), (size_t)(ct->level + 1) * c->n);
  return pn_ser_w_finish(ctx, &w, buf, len);
}

static int r_scale(struct pn_ctx *ctx, struct pn_rbuf *r, double *scale, int type) {
  if (!pn_ser_r_f64(r, scale)) return pn_ser_corrupt(ctx, type, "truncated");
  if (!isfinite(*scale) || !(*scale >= 1.0) || *scale > 1e300) return pn_ser_corrupt(ctx, type, "scale out of range");
  return PN_OK;
}

int pn_ckks_load_ct(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf, size_t len,
                    struct pn_ckks_ct *out) {
  struct pn_rbuf r = {buf, len, 0};
  int rc = pn_ser_r_header(ctx, &r, T_CT, c);
  if (rc) return rc;
  if (out->n != c->n || out->nq != c->nq || !pn_ckks_fp_ok(c, out->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks load ciphertext: output of other parameters");
  uint8_t size, level;
  double scale;
  if (!pn_ser_r_u8(&r, &size) || !pn_ser_r_u8(&r, &level)) return pn_ser_corrupt(ctx, T_CT, "truncated");
  if (size < 2 || size > 3) return pn_ser_corrupt(ctx, T_CT, "size must be 2 or 3");
  if (level >= c->nq) return pn_ser_corrupt(ctx, T_CT, "level above the top level");
  if ((rc = r_scale(ctx, &r, &scale, T_CT))) return rc;
  if ((size_t)size * (level + 1) * c->n * 8 != r.len - r.pos) return pn_ser_corrupt(ctx, T_CT, "payload length");
  if ((rc = pn_ckks_ct_reserve(ctx, out, size))) return rc;
  for (int j = 0; j < size; j++)
    if ((rc = pn_ser_r_limbs(ctx, &r, c, NULL, level + 1, ct_limb(out, j, 0), T_CT, "polynomial"))) return rc;
  out->size = size;
  out->level = level;
  out->scale = scale;
  return pn_ser_r_end(ctx, &r, T_CT);
}

int pn_ckks_save_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_pt *pt,
                    uint8_t **buf, size_t *len) {
  if (pt->n != c->n || pt->nq != c->nq || pt->level < 0 || pt->level >= c->nq || !pn_ckks_fp_ok(c, pt->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks save plaintext: other parameters");
  struct pn_wbuf w = {0};
  pn_ser_w_header(&w, T_PT, c->fp);
  pn_ser_w_u8(&w, (uint8_t)pt->level);
  pn_ser_w_f64(&w, pt->scale);
  pn_ser_w_words(&w, pt->data, (size_t)(pt->level + 1) * c->n);
  return pn_ser_w_finish(ctx, &w, buf, len);
}

int pn_ckks_load_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf, size_t len,
                    struct pn_ckks_pt *out) {
  struct pn_rbuf r = {buf, len, 0};
  int rc = pn_ser_r_header(ctx, &r, T_PT, c);
  if (rc) return rc;
  if (out->n != c->n || out->nq != c->nq || !pn_ckks_fp_ok(c, out->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks load plaintext: output of other parameters");
  uint8_t level;
  double scale;
  if (!pn_ser_r_u8(&r, &level)) return pn_ser_corrupt(ctx, T_PT, "truncated");
  if (level >= c->nq) return pn_ser_corrupt(ctx, T_PT, "level above the top level");
  if ((rc = r_scale(ctx, &r, &scale, T_PT))) return rc;
  if ((size_t)(level + 1) * c->n * 8 != r.len - r.pos) return pn_ser_corrupt(ctx, T_PT, "payload length");
  if ((rc = pn_ser_r_limbs(ctx, &r, c, NULL, level + 1, out->data, T_PT, "polynomial"))) return rc;
  out->level = level;
  out->scale = scale;
  return pn_ser_r_end(ctx, &r, T_PT);
}

/* ---- keys ---- */
int pn_ckks_save_sk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                    uint8_t **buf, size_t *len) {
  if (sk->n != c->n || sk->nt != c->nt || !pn_ckks_fp_ok(c, sk->fp)) return pn_err(ctx, PN_ERR_MISMATCH, "ckks save secret key: other parameters");
  struct pn_wbuf w = {0};
  pn_ser_w_header(&w, T_SK, c->fp);
  pn_ser_w_bytes(&w, sk->s, c->n);
  if (w.oom) pn_wipe(w.p, w.cap);
  return pn_ser_w_finish(ctx, &w, buf, len);
}

int pn_ckks_load_sk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf, size_t len,
                    struct pn_ckks_sk **out) {
  *out = NULL;
  struct pn_rbuf r = {buf, len, 0};
  int rc = pn_ser_r_header(ctx, &r, T_SK, c);
  if (rc) return rc;
  if (r.len - r.pos != c->n) return pn_ser_corrupt(ctx, T_SK, "payload length");
  const int8_t *s = (const int8_t *)(r.p + r.pos);
  for (size_t i = 0; i < c->n; i++)
    if (s[i] < -1 || s[i] > 1) return pn_ser_corrupt(ctx, T_SK, "coefficient outside {-1, 0, 1}");
  struct pn_ckks_sk *sk = calloc(1, sizeof *sk);
  if (!sk) return pn_err(ctx, PN_ERR_NOMEM, "ckks load secret key");
  sk->n = c->n;
  sk->nt = c->nt;
  memcpy(sk->fp, c->fp, sizeof sk->fp);
  sk->s = malloc(c->n);
  sk->ntt = malloc((size_t)c->nt * c->n * sizeof *sk->ntt);
  if (!sk->s || !sk->ntt) {
    pn_ckks_sk_free(sk);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks load secret key");
  }
  memcpy(sk->s, s, c->n);
  for (int i = 0; i < c->nt; i++) {
    uint64_t *d = sk->ntt + (size_t)i * c->n;
    pn_small_to_mod(sk->s, c->n, c->mod[i].q, d);
    pn_ntt_fwd(&c->ntt[i], d);
  }
  *out = sk;
  return PN_OK;
}

int pn_ckks_save_pk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_pk *pk,
                    uint8_t **buf, size_t *len) {
  if (pk->nq != c->nq || !pn_ckks_fp_ok(c, pk->fp)) return pn_err(ctx, PN_ERR_MISMATCH, "ckks save public key: other parameters");
  struct pn_wbuf w = {0};
  pn_ser_w_header(&w, T_PK, c->fp);
  pn_ser_w_words(&w, pk->b, (size_t)c->nq * c->n);
  pn_ser_w_words(&w, pk->a, (size_t)c->nq * c->n);
  return pn_ser_w_finish(ctx, &w, buf, len);
}

int pn_ckks_load_pk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf, size_t len,
                    struct pn_ckks_pk **out) {
  *out = NULL;
  struct pn_rbuf r = {buf, len, 0};
  int rc = pn_ser_r_header(ctx, &r, T_PK, c);
  if (rc) return rc;
  if (r.len - r.pos != 2 * (size_t)c->nq * c->n * 8) return pn_ser_corrupt(ctx, T_PK, "payload length");
  struct pn_ckks_pk *pk = calloc(1, sizeof *pk);
  if (!pk) return pn_err(ctx, PN_ERR_NOMEM, "ckks load public key");
  pk->nq = c->nq;
  memcpy(pk->fp, c->fp, sizeof pk->fp);
  pk->b = malloc((size_t)c->nq * c->n * sizeof *pk->b);
  pk->a = malloc((size_t)c->nq * c->n * sizeof *pk->a);
  if (!pk->a || !pk->b) rc = pn_err(ctx, PN_ERR_NOMEM, "ckks load public key");
  if (!rc) rc = pn_ser_r_limbs(ctx, &r, c, NULL, c->nq, pk->b, T_PK, "b");
  if (!rc) rc = pn_ser_r_limbs(ctx, &r, c, NULL, c->nq, pk->a, T_PK, "a");
  if (!rc) rc = pn_ser_r_end(ctx, &r, T_PK);
  if (rc) {
    pn_ckks_pk_free(pk);
    return rc;
  }
  *out = pk;
  return PN_OK;
}

/* A switching key record: u8 digits | u8 limbs per digit | u8 lmax | u8 form (0: a written out, 1: a
** given by its 32-byte seed) | b words | a words or the seed | SHA-256 of the record before it. The digest
** makes any damage to the seed (which no range check could see) or to the words a refusal. */
#define SWK_HDR PN_SER_SWK_HDR
#define SWK_DIGEST 32
void pn_ser_w_swk(struct pn_wbuf *w, const struct pn_ckks_context *c, const struct pn_ckks_swk *k, int seeded) {
  const size_t start = w->len, words = (size_t)k->dnum * k->nt * c->n;
  pn_ser_w_u8(w, (uint8_t)k->dnum);
  pn_ser_w_u8(w, (uint8_t)k->nt);
  pn_ser_w_u8(w, (uint8_t)k->lmax);
  pn_ser_w_u8(w, seeded ? 1 : 0);
  pn_ser_w_words(w, k->b, words);
  if (seeded)
    pn_ser_w_bytes(w, k->seed, sizeof k->seed);
  else
    pn_ser_w_words(w, k->a, words);
  if (w->oom) return;
  uint8_t dg[SWK_DIGEST];
  pn_sha256(w->p + start, w->len - start, dg);
  pn_ser_w_bytes(w, dg, sizeof dg);
}

size_t pn_ckks_swk_record_bytes(const struct pn_ckks_context *c, const struct pn_ckks_swk *k, int seeded) {
  const size_t words = (size_t)k->dnum * k->nt * c->n;
  return SWK_HDR + words * 8 + (seeded ? 32 : words * 8) + SWK_DIGEST;
}

int pn_ser_swk_rest(struct pn_ctx *ctx, const struct pn_ckks_context *c, int type, const uint8_t hdr[PN_SER_SWK_HDR],
                    size_t *rest) {
  const int dnum = hdr[0], nt = hdr[1], lmax = hdr[2], form = hdr[3];
  if (lmax >= c->nq) return pn_ser_corrupt(ctx, type, "switching key level above the top level");
  if (nt != lmax + 1 + c->np || dnum != pn_ckks_digits_for(c, lmax))
    return pn_ser_corrupt(ctx, type, "digit or prime count differs from the context");
  if (form > 1) return pn_ser_corrupt(ctx, type, "switching key form must be 0 (explicit) or 1 (seeded)");
  const size_t words = (size_t)dnum * nt * c->n;
  *rest = words * 8 + (form ? 32 : words * 8) + SWK_DIGEST;
  return PN_OK;
}

int pn_ser_r_swk(struct pn_ctx *ctx, struct pn_rbuf *r, const struct pn_ckks_context *c, int type,
                 struct pn_ckks_swk **out) {
  *out = NULL;
  const size_t start = r->pos;
  uint8_t h[SWK_HDR];
  size_t rest;
  if (!pn_ser_r_bytes(r, h, SWK_HDR)) return pn_ser_corrupt(ctx, type, "truncated switching key");
  int rc = pn_ser_swk_rest(ctx, c, type, h, &rest);
  if (rc) return rc;
  const int dnum = h[0], nt = h[1], lmax = h[2], form = h[3];
  if (rest > r->len - r->pos) return pn_ser_corrupt(ctx, type, "switching key truncated");
  uint8_t dg[SWK_DIGEST];
  pn_sha256(r->p + start, SWK_HDR + rest - SWK_DIGEST, dg);
  if (memcmp(dg, r->p + start + SWK_HDR + rest - SWK_DIGEST, SWK_DIGEST))
    return pn_ser_corrupt(ctx, type, "switching key digest mismatch (damaged key)");
  struct pn_ckks_swk *k = pn_ckks_swk_alloc_level(c, lmax);
  if (!k) return pn_err(ctx, PN_ERR_NOMEM, "ckks load switching key");
  int primes[2 * PN_CKKS_MAX_PRIMES];
  for (int t = 0; t < nt; t++) primes[t] = t <= lmax ? t : c->nq + (t - lmax - 1);
  for (int j = 0; j < dnum && !rc; j++)
    rc = pn_ser_r_limbs(ctx, r, c, primes, nt, k->b + (size_t)j * nt * c->n, type, "b");
  if (!rc && form) {
    if (!pn_ser_r_bytes(r, k->seed, sizeof k->seed)) rc = pn_ser_corrupt(ctx, type, "truncated seed");
    if (!rc) rc = pn_ckks_swk_expand_a(ctx, c, k);
  } else {
    for (int j = 0; j < dnum && !rc; j++)
      rc = pn_ser_r_limbs(ctx, r, c, primes, nt, k->a + (size_t)j * nt * c->n, type, "a");
  }
  if (!rc) r->pos += SWK_DIGEST;
  if (rc) {
    pn_ckks_swk_free(k);
    return rc;
  }
  *out = k;
  return PN_OK;
}

int pn_ckks_save_swk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *k,
                     uint8_t **buf, size_t *len) {
  if (!pn_ckks_swk_ok(c, k)) return pn_err(ctx, PN_ERR_MISMATCH, "ckks save switching key: other parameters");
  struct pn_wbuf w = {0};
  pn_ser_w_header(&w, T_SWK, c->fp);
  pn_ser_w_swk(&w, c, k, 1);
  return pn_ser_w_finish(ctx, &w, buf, len);
}

int pn_ckks_load_swk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf, size_t len,
                     struct pn_ckks_swk **out) {
  *out = NULL;
  struct pn_rbuf r = {buf, len, 0};
  int rc = pn_ser_r_header(ctx, &r, T_SWK, c);
  if (rc) return rc;
  struct pn_ckks_swk *k;
  if ((rc = pn_ser_r_swk(ctx, &r, c, T_SWK, &k))) return rc;
  if ((rc = pn_ser_r_end(ctx, &r, T_SWK))) {
    pn_ckks_swk_free(k);
    return rc;
  }
  *out = k;
  return PN_OK;
}

int pn_ser_galois_check(struct pn_ctx *ctx, const struct pn_ckks_context *c, int type, const struct pn_ckks_gk *gk,
                        uint64_t g) {
  if (g >= 2 * (uint64_t)c->n || !(g & 1) || g == 1)
    return pn_ser_corrupt(ctx, type, "Galois element is not an odd unit mod 2N other than 1");
  for (int t = 0; t < gk->count; t++)
    if (gk->galois[t] == g) return pn_ser_corrupt(ctx, type, "duplicate Galois element");
  return PN_OK;
}

size_t pn_ckks_swk_saved_bytes(const struct pn_ckks_context *c, const struct pn_ckks_swk *k) {
  return HDR_BYTES + pn_ckks_swk_record_bytes(c, k, 1);
}

size_t pn_ckks_gk_saved_bytes(const struct pn_ckks_context *c, const struct pn_ckks_gk *gk) {
  size_t t = HDR_BYTES + 8;
  for (int i = 0; i < gk->count; i++) t += 8 + pn_ckks_swk_record_bytes(c, gk->keys[i], 1);
  return t;
}

int pn_ckks_write_gk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                     pn_ckks_put_fn put, void *arg) {
  for (int i = 0; i < gk->count; i++)
    if (!pn_ckks_swk_ok(c, gk->keys[i]) || !pn_ckks_fp_ok(c, gk->fp))
      return pn_err(ctx, PN_ERR_MISMATCH, "ckks save Galois keys: other parameters");
  struct pn_wbuf w = {0};
  struct pn_wstream st = {ctx, put, arg, NULL, 0, 0, PN_OK};
  pn_ser_w_header(&w, T_GK, c->fp);
  pn_ser_w_set_length(&w, pn_ckks_gk_saved_bytes(c, gk));
  pn_ser_w_u64(&w, (uint64_t)gk->count);
  pn_ser_ws_flush(&st, &w);
  for (int i = 0; i < gk->count && !st.rc; i++) { /* one key record at a time */
    pn_ser_w_u64(&w, gk->galois[i]);
    pn_ser_w_swk(&w, c, gk->keys[i], 1);
    pn_ser_ws_flush(&st, &w);
  }
  free(w.p);
  return st.rc;
}

int pn_ckks_save_gk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                    uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  struct pn_memsink m;
  int rc = pn_ser_mem_open(ctx, &m, pn_ckks_gk_saved_bytes(c, gk), "Galois keys");
  if (rc) return rc;
  rc = pn_ckks_write_gk(ctx, c, gk, pn_ser_mem_put, &m);
  return pn_ser_mem_close(ctx, &m, rc, "Galois keys", buf, len);
}

int pn_ckks_load_gk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf, size_t len,
                    struct pn_ckks_gk **out) {
  *out = NULL;
  struct pn_rbuf r = {buf, len, 0};
  int rc = pn_ser_r_header(ctx, &r, T_GK, c);
  if (rc) return rc;
  uint64_t count;
  if (!pn_ser_r_u64(&r, &count)) return pn_ser_corrupt(ctx, T_GK, "truncated");
  /* each key needs at least its element and a seeded level-0 switching key */
  size_t per = 8 + SWK_HDR + (size_t)pn_ckks_digits_for(c, 0) * (1 + c->np) * c->n * 8 + 32 + SWK_DIGEST;
  if (count > c->slots + 1 || count > (r.len - r.pos) / per) return pn_ser_corrupt(ctx, T_GK, "key count larger than the data");
  struct pn_ckks_gk *gk = calloc(1, sizeof *gk);
  if (!gk) return pn_err(ctx, PN_ERR_NOMEM, "ckks load Galois keys");
  memcpy(gk->fp, c->fp, sizeof gk->fp);
  gk->galois = calloc(count + 1, sizeof *gk->galois);
  gk->keys = calloc(count + 1, sizeof *gk->keys);
  if (!gk->galois || !gk->keys) rc = pn_err(ctx, PN_ERR_NOMEM, "ckks load Galois keys");
  for (uint64_t i = 0; i < count && !rc; i++) {
    uint64_t g;
    if (!pn_ser_r_u64(&r, &g)) {
      rc = pn_ser_corrupt(ctx, T_GK, "truncated");
      break;
    }
    if ((rc = pn_ser_galois_check(ctx, c, T_GK, gk, g))) break;
    rc = pn_ser_r_swk(ctx, &r, c, T_GK, &gk->keys[gk->count]);
    if (!rc) gk->galois[gk->count++] = g;
  }
  if (!rc) rc = pn_ser_r_end(ctx, &r, T_GK);
  if (rc) {
    pn_ckks_gk_free(gk);
    return rc;
  }
  *out = gk;
  return PN_OK;
}
