/* prg.h - AES-128-CTR pseudo-random generator (OpenSSL EVP, AES-NI), seeded by the OS or a seed. */
#ifndef PN_PRG_H
#define PN_PRG_H

#include <stddef.h>
#include <stdint.h>
#include "api.h"

#define PN_SEED_BYTES 32 /* 16-byte AES key || 16-byte initial counter block */
#define PN_PRG_BUF 4096

struct pn_ctx;

/* Embed or allocate; everything inside is owned and wiped by pn_prg_free. */
struct pn_prg {
  void *evp;                       /* EVP_CIPHER_CTX */
  uint8_t buf[PN_PRG_BUF];         /* keystream not yet handed out: buf[pos..PN_PRG_BUF) */
  size_t pos;
  int have_spare;                  /* Box-Muller keeps its second normal */
  double spare;
};

/* Fill buf with n bytes from the OS (getrandom). PN_ERR_IO on failure (message in ctx). */
PN_API int pn_getrandom(struct pn_ctx *ctx, void *buf, size_t n);

/* Seed from seed[0..32). The same seed always gives the same stream. */
PN_API int pn_prg_init(struct pn_ctx *ctx, struct pn_prg *prg, const uint8_t seed[PN_SEED_BYTES]);
/* Seed from getrandom. */
PN_API int pn_prg_init_os(struct pn_ctx *ctx, struct pn_prg *prg);
/* Seed from a 64-bit user seed (`--seed S`): the seed is expanded with SHA-256 over a fixed label. */
PN_API int pn_prg_init_u64(struct pn_ctx *ctx, struct pn_prg *prg, uint64_t seed);
/* Wipe the key and buffered keystream and free the cipher. Safe on a zeroed or freed prg. */
PN_API void pn_prg_free(struct pn_prg *prg);

/* Derive an independent 32-byte seed: SHA-256(seed || label). For per-layer, per-party streams. */
PN_API void pn_seed_derive(const uint8_t seed[PN_SEED_BYTES], const char *label, uint64_t index,
                           uint8_t out[PN_SEED_BYTES]);

/* SHA-256 of data[0..n) (integrity digests of serialized objects). */
PN_API void pn_sha256(const void *data, size_t n, uint8_t out[32]);
/* The same over data given piecewise (objects streamed out without a whole copy in memory):
** pn_sha256_begin (PN_ERR_NOMEM when out of memory), any number of updates, pn_sha256_end (writes the
** digest when out is not NULL and frees the state; safe on a state whose begin failed). */
struct pn_sha256_stream {
  void *md;
};
PN_API int pn_sha256_begin(struct pn_ctx *ctx, struct pn_sha256_stream *h);
PN_API void pn_sha256_update(struct pn_sha256_stream *h, const void *data, size_t n);
PN_API void pn_sha256_end(struct pn_sha256_stream *h, uint8_t out[32]);

PN_API void pn_prg_bytes(struct pn_prg *prg, void *out, size_t n);
PN_API uint64_t pn_prg_u64(struct pn_prg *prg);
PN_API uint32_t pn_prg_u32(struct pn_prg *prg);
/* Uniform in [0, bound), unbiased (rejection). bound > 0. */
PN_API uint64_t pn_prg_uniform(struct pn_prg *prg, uint64_t bound);
/* Uniform double in [0, 1) with 53 random bits. */
PN_API double pn_prg_double(struct pn_prg *prg);
/* Standard normal (Box-Muller). */
PN_API double pn_prg_normal(struct pn_prg *prg);

/* Fill out[0..n) with normals of the given mean and standard deviation, in bulk: out[i] =
** mean + sd * z_i. Keystream is drawn 4 bytes per value in blocks of PN_PRG_NORMAL_BLOCK; each
** pair of 32-bit words gives two values by Box-Muller in float (own polynomial log/sin/cos, written
** to vectorise; |z| < 6.6, relative error of z below 1e-6). Deterministic for a given PRG state and
** n; n = 0 draws nothing. A call consumes 4 * n rounded up to a whole block of keystream, so a call
** with n values is not the same stream as two calls of n/2 values. Independent of pn_prg_normal's
** cached spare. */
#define PN_PRG_NORMAL_BLOCK 512
PN_API void pn_prg_normal_f32(struct pn_prg *prg, float *out, size_t n, float mean, float sd);

#endif
