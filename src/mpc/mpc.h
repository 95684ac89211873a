/* mpc.h - two-party secret-shared arithmetic over Z_2^64: the protocol context and Beaver products.
**
** Values are fixed point (frac fractional bits, default 16) in the ring Z_2^64 (ring64.h),
** additively shared between parties P0 and P1: x = x0 + x1 mod 2^64. A dealer (dealer.h) supplies
** correlated randomness; the ReLU, sign and max protocols are in relu.h.
**
** One code path serves the two-party run and the plaintext simulator: a struct pn_mpc holds one
** "view" (the local party of a real run, talking to its peer through a pn_mpc_net) or two views
** (the simulator: both parties in this process, an opening is a memcpy between the views). Every
** protocol below loops over the views, so with the same seeds the simulator computes exactly the
** shares the two parties compute, and counts exactly the bytes and rounds they would send. */
#ifndef PN_MPC_H
#define PN_MPC_H

#include <stddef.h>
#include <stdint.h>

#include "ring64.h"
#include "../util/prg.h"
#include "../util/api.h"

struct pn_ctx;
struct pn_mpc_net;
struct pn_mpc_dealer;

#define PN_MPC_POOL 16                      /* cached scratch arrays per view */
#define PN_MPC_POOL_BYTES ((size_t)1 << 30) /* at most this much cached */

/* Bytes sent by one party and communication rounds. */
struct pn_mpc_stats {
  uint64_t bytes;
  uint64_t rounds;
};

struct pn_mpc {
  struct pn_ctx *ctx;
  int nv;                       /* views held here: 1 = one party of a real run, 2 = simulator */
  int id[2];                    /* party id (0 or 1) of view v */
  struct pn_mpc_net *net;       /* the peer, when nv == 1 */
  struct pn_mpc_dealer *dealer; /* correlated randomness for the views held here */
  int frac;                     /* fractional bits */
  int lut_max;                  /* HB widths PN_HB_LUT_MIN..lut_max take the dealer sign table
                                ** (relu.h; default PN_HB_LUT_MAX, 0 = the carry tree everywhere) */
  struct pn_mpc_stats st;       /* running totals (one party's view) */
  struct {                      /* freed share arrays kept (wiped to zero) for reuse */
    uint64_t *p;
    int64_t cap;
  } pool[2][PN_MPC_POOL];
  size_t pool_bytes;
};

/* A per-view pointer pair: p[v] is view v's array (p[1] unused when nv == 1). */
typedef uint64_t *pn_sh[2];

/* Split x[0..n) into x0 = x + r, x1 = -r with r from prg. */
PN_API void pn_mpc_split(struct pn_prg *prg, int64_t n, const uint64_t *x, uint64_t *x0, uint64_t *x1);

/* Set up m for the simulator (both parties; dealer serves both) or one party. */
PN_API void pn_mpc_init_sim(struct pn_mpc *m, struct pn_ctx *ctx, struct pn_mpc_dealer *d, int frac);
PN_API void pn_mpc_init_party(struct pn_mpc *m, struct pn_ctx *ctx, int id, struct pn_mpc_net *net,
                              struct pn_mpc_dealer *d, int frac);
/* Allocate zeroed per-view share arrays of n words / wipe and release them (kept in m's pool
** for reuse). pn_mpc_release frees the pool: call it when done with m. */
PN_API int pn_sh_alloc(struct pn_mpc *m, int64_t n, pn_sh out);
PN_API void pn_sh_free(struct pn_mpc *m, int64_t n, pn_sh s);
PN_API void pn_mpc_release(struct pn_mpc *m);

/* ---- protocols (proto.c); all return PN_OK or a negative status ---- */
/* Each view sends send[v][0..nbytes), receives the peer's into recv[v]. One round. */
PN_API int pn_mpc_exchange(struct pn_mpc *m, void *const send[2], void *const recv[2], size_t nbytes);
/* Open x: out[v][i] = x0[i] + x1[i] in every view. */
PN_API int pn_mpc_open(struct pn_mpc *m, int64_t n, const pn_sh x, pn_sh out);
/* z = x * y elementwise (ring product, no truncation), Beaver triple; 1 round, 128 bits/elem. */
PN_API int pn_mpc_mul(struct pn_mpc *m, int64_t n, const pn_sh x, const pn_sh y, pn_sh z);
/* Z[M,N] = X[M,K] * Y[K,N] with a matrix triple; 1 round, 64*(MK + KN) bits. */
PN_API int pn_mpc_matmul(struct pn_mpc *m, int64_t M, int64_t K, int64_t N, const pn_sh X,
                         const pn_sh Y, pn_sh Z);
/* Local truncation by f bits (SecureML): P0 x0 >> f, P1 -((-x1) >> f), arithmetic shifts. */
PN_API void pn_mpc_trunc(struct pn_mpc *m, int64_t n, pn_sh x, int f);
/* Add a public constant c[i] (P0 only). */
PN_API void pn_mpc_add_public(struct pn_mpc *m, int64_t n, pn_sh x, const uint64_t *c);

#endif
