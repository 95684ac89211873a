/* fhe_fuzz_common.h - shared set-up of the FHE fuzzers: the tiny model they compile (x [1,1,2,2] ->
** Flatten -> Gemm 4 -> 2, at an insecure test ring), and a server session fed bytes over a socketpair. */
#ifndef PN_FHE_FUZZ_COMMON_H
#define PN_FHE_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fhe/fhe.h"
#include "fhe/fhe_net.h"
#include "graph/ir.h"
#include "util/status.h"

static struct pn_fhe_plan *fuzz_fhe_plan(void) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = pn_graph_new();
  int64_t d[4] = {1, 1, 2, 2}, wd[2] = {2, 4}, bd[1] = {2};
  if (!g || !pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, d)) abort();
  struct pn_tensor *w = pn_graph_new_init(g, "w", PN_DT_FLOAT, 2, wd), *b = pn_graph_new_init(g, "b", PN_DT_FLOAT, 1, bd);
  if (!w || !b) abort();
  for (int i = 0; i < 8; i++) ((float *)w->data)[i] = (float)(i % 3) - 1;
  ((float *)b->data)[0] = 0.5f, ((float *)b->data)[1] = -0.25f;
  const char *x = "x", *f = "f", *in[3] = {"f", "w", "b"}, *y = "y";
  struct pn_node *fl = pn_graph_add_node(g, "Flatten", "flat", 1, &x, 1, &f);
  struct pn_node *gm = pn_graph_add_node(g, "Gemm", "gemm", 3, in, 1, &y);
  if (!fl || !gm || pn_node_set_int(g, gm, "transB", 1) || !pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL)) abort();
  struct pn_fhe_opts o;
  pn_fhe_opts_default(&o);
  o.allow_insecure = 1;
  struct pn_fhe_plan *p;
  if (pn_fhe_compile(&ctx, g, &o, &p)) abort();
  pn_graph_free(g);
  return p;
}

/* B (its first MiB at most) as the client's side of a server session that sent HELLO: written into a socketpair
** whose write end is then shut, read by pn_fhe_serve_session; returns the session's status. */
static inline int fuzz_fhe_session(struct pn_ctx *ctx, struct pn_fhe_server *srv, const uint8_t *hello, size_t hl,
                                   const uint8_t *b, size_t n, struct pn_fhe_serve_stats *st) {
  int sv[2], big = 1 << 22;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) abort();
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  for (size_t put = 0; put < n && put < ((size_t)1 << 20);) {
    ssize_t w = write(sv[1], b + put, n - put);
    if (w <= 0) break;
    put += (size_t)w;
  }
  shutdown(sv[1], SHUT_WR);
  struct pn_fhe_conn *c;
  if (pn_fhe_conn_from_fd(ctx, sv[0], 2000, &c)) abort();
  int rc = pn_fhe_serve_session(ctx, c, srv, hello, hl, st);
  pn_fhe_conn_free(c);
  close(sv[1]);
  return rc;
}

#endif
