/* share.h - the client's input shares and the parties' output shares of `mpc share|party|reveal`. */
#ifndef PN_MPC_SHARE_H
#define PN_MPC_SHARE_H

#include <stddef.h>
#include <stdint.h>
#include "../util/api.h"

struct pn_ctx;

/* Random run identifiers: a client's `mpc share` run, a dealer session, a party run. */
#define PN_MPC_ID_BYTES 16

enum pn_mpc_share_kind {
  PN_SHARE_INPUT = 0,      /* P0's input: batches * words ring elements (x + r) */
  PN_SHARE_INPUT_SEED = 1, /* P1's input: the 32-byte seed of r (its share is -r) */
  PN_SHARE_OUTPUT = 2,     /* a party's share of the outputs: batches * words ring elements */
  PN_SHARE_KIND_COUNT
};

struct pn_mpc_share_file {
  uint32_t party, batch, frac, kind;
  uint64_t batches, words;          /* words per batch */
  uint8_t share_id[PN_MPC_ID_BYTES]; /* the client's `mpc share` run (same in both parties' files) */
  uint8_t run_id[PN_MPC_ID_BYTES];   /* outputs: the party run both parties agreed on; else 0 */
  uint8_t seed[32];                  /* PN_SHARE_INPUT_SEED */
  uint64_t *data;                    /* the other kinds: batches * words, owned */
};

/* Largest batches * words a share file may hold (2^32 ring elements, 32 GiB). */
#define PN_MPC_SHARE_MAX_WORDS ((uint64_t)1 << 32)

/* Parse a share file image buf[0..n) (name labels messages). Every field and every size product
** is checked before use: bad magic/version/fields/sizes are PN_ERR_CORRUPT. On success f->data is
** owned by f (pn_mpc_share_free). */
PN_API int pn_mpc_share_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                              struct pn_mpc_share_file *f /* OUT */);
PN_API int pn_mpc_share_read(struct pn_ctx *ctx, const char *path,
                             struct pn_mpc_share_file *f /* OUT */);
/* Write f to path (0600, atomically). */
PN_API int pn_mpc_share_write(struct pn_ctx *ctx, const char *path, const struct pn_mpc_share_file *f);
/* Wipe and free f's data; f may be zeroed or already freed. */
PN_API void pn_mpc_share_free(struct pn_mpc_share_file *f);
/* r of batch b (n words) from the client's seed: P0 holds x + r, P1 computes its share -r. */
PN_API int pn_mpc_share_client_r(const uint8_t seed[32], uint64_t b, uint64_t *r, int64_t n);
/* Lower-case hex of an id (2 * PN_MPC_ID_BYTES + 1 bytes). */
PN_API void pn_mpc_id_hex(const uint8_t id[PN_MPC_ID_BYTES], char hex[2 * PN_MPC_ID_BYTES + 1]);
/* Parse such hex back; PN_ERR_CORRUPT unless exactly 32 hex digits. */
PN_API int pn_mpc_id_parse(struct pn_ctx *ctx, const char *hex, uint8_t id[PN_MPC_ID_BYTES] /* OUT */);

#endif
