/* session.h - the hello on the P0-P1 link: both parties check they run the same job as each other. */
#ifndef PN_MPC_SESSION_H
#define PN_MPC_SESSION_H

#include <stdint.h>

#include "share.h"
#include "../util/api.h"

struct pn_ctx;
struct pn_mpc_net;

/* What a party runs; the peer's must agree field by field (party: the other one). */
struct pn_mpc_hello {
  uint32_t party, batch, frac, lut_max, emu;
  uint64_t batches, words;               /* input words per batch */
  uint8_t model[32], plan[32];           /* SHA-256 of the model file and of the plan */
  uint8_t share_id[PN_MPC_ID_BYTES];     /* the client's `mpc share` run */
  uint8_t dealer_id[PN_MPC_ID_BYTES];    /* the dealer session (file pair or online session) */
};

/* Exchange hellos over net (the TLS server sends first) and compare. Every difference is
** PN_ERR_MISMATCH naming the field, on both sides (each checks what it received); a peer that
** sends no hello at all, or garbage, is PN_ERR_PROTOCOL (or the transport's error). */
PN_API int pn_mpc_hello_exchange(struct pn_ctx *ctx, struct pn_mpc_net *net,
                                 const struct pn_mpc_hello *mine);

/* The id of the party run, the same on both sides after a successful hello: derived from the
** client's share id and the dealer session id, written into both output files. */
PN_API void pn_mpc_run_id(const struct pn_mpc_hello *h, uint8_t run_id[PN_MPC_ID_BYTES] /* OUT */);

#endif
