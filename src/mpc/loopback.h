/* loopback.h - both parties of a two-party run on this machine, each in its own thread, over
** loopback TCP (TLS 1.3 PSK by default), each with the embedded dealer: for the commands that
** measure the protocol end to end (`mpc infer`, `mpc bench-relu`) and for tests. */
#ifndef PN_MPC_LOOPBACK_H
#define PN_MPC_LOOPBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "mpc.h"
#include "net.h"
#include "../util/api.h"

struct pn_ctx;

/* One party's side: m is ready (party `party`, its peer on m->net, the embedded dealer on
** m->dealer, frac and sign-table setting applied). Runs in the party's own thread with its own ctx;
** anything it measures it reads from m (m->st, m->net's clocks) before returning. m is released
** by the harness. */
typedef int (*pn_mpc_party_fn)(void *user, int party, struct pn_ctx *ctx, struct pn_mpc *m);

struct pn_mpc_loopback_opts {
  struct pn_net_opts net;            /* transport; TLS PSK without a key gets a fresh random one;
                                     ** timeout_ms 0 = 60 s */
  uint8_t master[PN_SEED_BYTES];     /* the embedded dealer's master seed */
  int frac;                          /* fractional bits; 0 = PN_MPC_FRAC_DEFAULT */
  bool no_table;                     /* HB widths use the carry tree, not the dealer's sign table */
};

/* Run fn as P0 (listening on an ephemeral port of 127.0.0.1) and P1 (connecting) concurrently.
** Returns PN_OK when both parties returned PN_OK; otherwise a party's failure, its message
** prefixed with the party ("party 1: ...") in ctx: the party that failed on its own rather than
** the one that then lost its peer (a transport error), P0 when both or neither did. */
PN_API int pn_mpc_loopback_run(struct pn_ctx *ctx, const struct pn_mpc_loopback_opts *o,
                               pn_mpc_party_fn fn,
                               void *user);

#endif
