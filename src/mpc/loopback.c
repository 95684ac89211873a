/* loopback.c - the two-party harness: two threads, loopback TCP, embedded dealers. */
#include "mpc/loopback.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mpc/dealer.h"
#include "mpc/relu.h"
#include "util/status.h"
#include "util/wipe.h"

struct party {
  const struct pn_mpc_loopback_opts *o;
  const struct pn_net_opts *net;
  pn_mpc_party_fn fn;
  void *user;
  int id, lfd, port, rc;
  struct pn_ctx ctx;
};

static void *party_main(void *arg) {
  struct party *p = arg;
  struct pn_ctx *ctx = &p->ctx;
  struct pn_mpc_net *net = NULL;
  struct pn_mpc_dealer *d = NULL;
  int rc;
  if (p->id == 0) {
    rc = pn_mpc_net_accept(ctx, p->lfd, p->net, &net);
  } else {
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", p->port);
    rc = pn_mpc_net_connect(ctx, hp, p->net, &net);
  }
  if (rc == PN_OK) rc = pn_dealer_new_embedded(ctx, p->o->master, &d);
  if (rc == PN_OK) {
    struct pn_mpc m;
    pn_mpc_init_party(&m, ctx, p->id, net, d, p->o->frac > 0 ? p->o->frac : PN_MPC_FRAC_DEFAULT);
    if (p->o->no_table) m.lut_max = 0;
    rc = p->fn(p->user, p->id, ctx, &m);
    pn_mpc_release(&m);
  }
  p->rc = rc;
  pn_dealer_free(d);
  pn_mpc_net_free(net); /* closing makes a peer stuck on us fail fast */
  return NULL;
}

static bool is_transport(int rc) {
  return rc == PN_ERR_IO || rc == PN_ERR_TIMEOUT || rc == PN_ERR_PROTOCOL;
}

int pn_mpc_loopback_run(struct pn_ctx *ctx, const struct pn_mpc_loopback_opts *o, pn_mpc_party_fn fn,
                        void *user) {
  struct pn_net_opts net = o->net;
  uint8_t psk[32];
  int rc, lfd = -1, port = 0;
  if (!net.timeout_ms) net.timeout_ms = 60000;
  if (net.sec == PN_NET_TLS_PSK && !net.psk) {
    if ((rc = pn_getrandom(ctx, psk, sizeof psk))) return rc;
    net.psk = psk;
    net.psk_len = sizeof psk;
  }
  if ((rc = pn_mpc_net_bind(ctx, "127.0.0.1", 0, &lfd, &port))) goto out;
  struct party p[2];
  pthread_t t[2];
  bool started[2] = {false, false};
  for (int i = 0; i < 2; i++) {
    p[i] = (struct party){.o = o, .net = &net, .fn = fn, .user = user, .id = i, .lfd = lfd,
                          .port = port, .rc = PN_OK};
    started[i] = pthread_create(&t[i], NULL, party_main, &p[i]) == 0;
  }
  if (!started[0] && lfd >= 0) close(lfd); /* P0 owns the listening socket once it runs */
  for (int i = 0; i < 2; i++)
    if (started[i]) pthread_join(t[i], NULL);
  if (!started[0] || !started[1]) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "mpc: cannot start the party threads");
    goto out;
  }
  /* the cause, not its echo: a party that failed on its own is reported before one that then
  ** lost its peer (transport errors) */
  int who = -1;
  for (int i = 0; i < 2; i++)
    if (p[i].rc && (who < 0 || (is_transport(p[who].rc) && !is_transport(p[i].rc)))) who = i;
  if (who >= 0) rc = pn_err(ctx, p[who].rc, "party %d: %s", who, pn_errmsg(&p[who].ctx));
out:
  pn_wipe(psk, sizeof psk);
  return rc;
}
