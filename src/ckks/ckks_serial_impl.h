/* ckks_serial_impl.h - the byte-level reader and writer of ckks_serial.c, shared with boot_serial.c.
**
** Objects: "PNCK" | u16 version | u16 type | 32-byte fingerprint | u64 payload length | payload, all
** little-endian. Writers never fail mid-way (an allocation failure sets oom, reported by pn_ser_w_finish);
** readers return 0 when the bytes run out and never read past the buffer. */
#ifndef PN_CKKS_SERIAL_IMPL_H
#define PN_CKKS_SERIAL_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "ckks/ckks_impl.h"
#include "util/prg.h"

#define PN_CKKS_MAGIC "PNCK"
#define PN_CKKS_VERSION 2 /* 2: switching keys carry their level range, seed form and digest */
#define HDR_BYTES (4 + 2 + 2 + 32 + 8)

enum { T_PARAMS = 1, T_CT, T_PT, T_SK, T_PK, T_SWK, T_GK, T_BOOTKEYS, T_COUNT };

struct pn_wbuf {
  uint8_t *p;
  size_t len, cap;
  int oom;
};
struct pn_rbuf {
  const uint8_t *p;
  size_t len, pos;
};

void pn_ser_w_bytes(struct pn_wbuf *w, const void *src, size_t n);
void pn_ser_w_u8(struct pn_wbuf *w, uint8_t v);
void pn_ser_w_u16(struct pn_wbuf *w, uint16_t v);
void pn_ser_w_u64(struct pn_wbuf *w, uint64_t v);
void pn_ser_w_f64(struct pn_wbuf *w, double d);
void pn_ser_w_words(struct pn_wbuf *w, const uint64_t *a, size_t n);
void pn_ser_w_header(struct pn_wbuf *w, int type, const uint8_t *fp);
/* Patch the payload length and hand the buffer over (*buf owned by the caller, free()). */
int pn_ser_w_finish(struct pn_ctx *ctx, struct pn_wbuf *w, uint8_t **buf, size_t *len);
/* A switching key record (levels, form, b, a or its seed, SHA-256 digest of the record). */
void pn_ser_w_swk(struct pn_wbuf *w, const struct pn_ckks_context *c, const struct pn_ckks_swk *k, int seeded);

/* Streamed writing: the bytes gathered in w go to put (and, when h is set, into the digest from byte `from` of
** the object on: its payload), then w is emptied for the next piece. */
struct pn_wstream {
  struct pn_ctx *ctx;
  pn_ckks_put_fn put;
  void *arg;
  struct pn_sha256_stream *h;
  size_t at, from;
  int rc;
};
void pn_ser_ws_flush(struct pn_wstream *s, struct pn_wbuf *w);
/* A sink into a buffer of exactly n bytes (save_* through the streamed writers: one allocation, no growth). */
struct pn_memsink {
  uint8_t *p;
  size_t len, cap;
};
int pn_ser_mem_put(struct pn_ctx *ctx, void *arg, const void *bytes, size_t n);
/* Allocate the n bytes; hand them over (*buf, *len) when the writer's rc is PN_OK and it filled them all. */
int pn_ser_mem_open(struct pn_ctx *ctx, struct pn_memsink *m, size_t n, const char *what);
int pn_ser_mem_close(struct pn_ctx *ctx, struct pn_memsink *m, int rc, const char *what, uint8_t **buf, size_t *len);
/* Patch the payload length of the header in w (from the known total object length). */
void pn_ser_w_set_length(struct pn_wbuf *w, size_t object_bytes);

int pn_ser_r_bytes(struct pn_rbuf *r, void *dst, size_t n);
int pn_ser_r_u8(struct pn_rbuf *r, uint8_t *v);
int pn_ser_r_u16(struct pn_rbuf *r, uint16_t *v);
int pn_ser_r_u64(struct pn_rbuf *r, uint64_t *v);
int pn_ser_r_f64(struct pn_rbuf *r, double *d);
/* PN_ERR_CORRUPT with "ckks <type>: <what>". */
int pn_ser_corrupt(struct pn_ctx *ctx, int type, const char *what);
/* Check the header (c == NULL: no fingerprint); on success r is at the payload, which is exactly the rest. */
int pn_ser_r_header(struct pn_ctx *ctx, struct pn_rbuf *r, int type, const struct pn_ckks_context *c);
/* nl limbs of N residues into dst, limb i checked against prime primes[i] (NULL: prime i). */
int pn_ser_r_limbs(struct pn_ctx *ctx, struct pn_rbuf *r, const struct pn_ckks_context *c, const int *primes,
                   int nl, uint64_t *dst, int type, const char *field);
int pn_ser_r_end(struct pn_ctx *ctx, struct pn_rbuf *r, int type);
int pn_ser_r_swk(struct pn_ctx *ctx, struct pn_rbuf *r, const struct pn_ckks_context *c, int type,
                 struct pn_ckks_swk **out);
/* An object header's fields checked (magic, version, type, fingerprint when c is set); *payload its length. */
int pn_ser_check_header(struct pn_ctx *ctx, const uint8_t h[HDR_BYTES], int type, const struct pn_ckks_context *c,
                        uint64_t *payload /* OUT */);
/* A switching key record's 4 leading bytes checked against c; *rest: the bytes of the record after them. */
#define PN_SER_SWK_HDR 4
int pn_ser_swk_rest(struct pn_ctx *ctx, const struct pn_ckks_context *c, int type, const uint8_t hdr[PN_SER_SWK_HDR],
                    size_t *rest /* OUT */);

/* Streamed reading (ckks_read.c): an object's bytes pulled from get as they are needed. Every read is checked
** against the payload bytes still due (left, from the header) before get is asked for them; what is read
** goes into the digest h when it is set. buf: the one record buffer (at most one switching key record). */
struct pn_rstream {
  struct pn_ctx *ctx;
  pn_ckks_get_fn get;
  void *arg;
  int type;
  uint64_t left;
  struct pn_sha256_stream *h;
  uint8_t *buf;
  size_t cap;
};
/* n bytes into dst; PN_ERR_CORRUPT naming what when they run past the payload. */
int pn_ser_rs_read(struct pn_rstream *s, void *dst, size_t n, const char *what);
/* The header (checked against c) read; s->left set from it. */
int pn_ser_rs_header(struct pn_rstream *s, const struct pn_ckks_context *c);
/* One switching key record serving at most level lmax_cap (refused before its bytes are read otherwise). */
int pn_ser_rs_swk(struct pn_rstream *s, const struct pn_ckks_context *c, int lmax_cap, struct pn_ckks_swk **out);
/* The payload read to its end (else "trailing bytes"); frees the buffer either way. */
int pn_ser_rs_end(struct pn_rstream *s, int rc);
/* Galois element g for the next key of gk: an odd unit mod 2N other than 1, not already in gk. */
int pn_ser_galois_check(struct pn_ctx *ctx, const struct pn_ckks_context *c, int type, const struct pn_ckks_gk *gk,
                        uint64_t g);
/* A Galois element accepted by want (steps -> elements, levels): its index, or -1. */
int pn_ser_want_find(const struct pn_ckks_context *c, const struct pn_ckks_key_want *want, uint64_t g);

#endif
