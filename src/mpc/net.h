/* net.h - the transport between the two parties: TCP or TLS 1.3, framed, timed out, counted. */
#ifndef PN_MPC_NET_H
#define PN_MPC_NET_H

#include <stddef.h>
#include <stdint.h>
#include "../util/api.h"

struct pn_ctx;
struct pn_mpc_net;

/* Largest frame a party accepts (bigger headers are refused before anything is allocated). */
#define PN_NET_MAX_FRAME ((uint64_t)1 << 32)

enum pn_net_sec { PN_NET_PLAIN = 0, PN_NET_TLS_PSK = 1, PN_NET_TLS_CERT = 2 };

struct pn_net_opts {
  int timeout_ms;              /* every send/receive/accept/connect; 0 = 30000 */
  int connect_wait_ms;         /* connect: keep retrying a refused connection this long
                               ** (0 = timeout_ms), for a peer that starts later */
  enum pn_net_sec sec;
  const uint8_t *psk;          /* PSK mode: the shared key (>= 16 bytes) */
  size_t psk_len;
  const char *link;            /* PSK identity naming the link ("party", "dealer"; NULL = "party"):
                               ** a key made for one link never opens the other */
  const char *cert, *key, *ca; /* CERT mode: own PEM certificate + key, CA to verify the peer */
  const char *peer_name;       /* CERT mode: the peer certificate's DNS SAN (or CN) must match */
  const char *peer_fingerprint; /* CERT mode: SHA-256 of the peer certificate (hex, ':' allowed) */
  double emu_bw;               /* link emulator: bits per second (0 = off) */
  double emu_rtt;              /* link emulator: round-trip time in seconds */
  /* A listening side reports dropped strangers here (NULL = silently). */
  void (*log)(void *user, const char *msg);
  void *log_user;
};

/* Parse "lan" | "wan" | "BW,RTT" (BW in Mbit/s, RTT in ms) | "none" into opts. */
PN_API int pn_net_parse_emu(struct pn_ctx *ctx, const char *spec, struct pn_net_opts *opts);

/* Wrap a connected socket (takes ownership). server selects the TLS role. */
PN_API int pn_mpc_net_from_fd(struct pn_ctx *ctx, int fd, int server, const struct pn_net_opts *opts,
                              struct pn_mpc_net **out /* OUT */);
/* Listen on host:port and accept one peer, within the timeout (strangers dropped, as
** pn_mpc_net_accept_peer without a check). */
PN_API int pn_mpc_net_listen(struct pn_ctx *ctx, const char *hostport, const struct pn_net_opts *opts,
                             struct pn_mpc_net **out /* OUT */);
/* Bind a listening socket; *port gets the bound port. */
PN_API int pn_mpc_net_bind(struct pn_ctx *ctx, const char *host, int port, int *fd_out, int *port_out);
/* Accept one peer on a bound socket (closes the listening socket). */
PN_API int pn_mpc_net_accept(struct pn_ctx *ctx, int lfd, const struct pn_net_opts *opts,
                             struct pn_mpc_net **out /* OUT */);
/* The same, leaving the listening socket open for more peers. */
PN_API int pn_mpc_net_accept_keep(struct pn_ctx *ctx, int lfd, const struct pn_net_opts *opts,
                                  struct pn_mpc_net **out /* OUT */);
/* A listening service: accept peers on lfd until one completes the TLS handshake and, when check
** is given, check(user, net) returns PN_OK; return it in *out (lfd stays open). A connection whose
** handshake fails, or whose check returns PN_ERR_PROTOCOL, PN_ERR_AUTH, PN_ERR_TIMEOUT or PN_ERR_IO
** (a port scan, an HTTP request, a silent client, a wrong key), is logged through opts->log, closed,
** and the service keeps accepting; any other check failure (a real peer refused, e.g.
** PN_ERR_MISMATCH) is returned. Strangers get min(timeout, 10 s) each. No peer before wait_ms:
** PN_ERR_TIMEOUT, saying how many connections were dropped and why the last one was. */
PN_API int pn_mpc_net_accept_peer(struct pn_ctx *ctx, int lfd, const struct pn_net_opts *opts,
                                  int wait_ms,
                                  int (*check)(struct pn_ctx *ctx, struct pn_mpc_net *net, void *user),
                                  void *user, struct pn_mpc_net **out /* OUT */);
/* "HOST:PORT" of the peer, for messages. */
PN_API const char *pn_mpc_net_peer(const struct pn_mpc_net *net);
/* 1 on the TLS server side (the side that sends first in an exchange). */
PN_API int pn_mpc_net_is_server(const struct pn_mpc_net *net);
/* Change the per-operation timeout of an open connection. */
PN_API void pn_mpc_net_set_timeout(struct pn_mpc_net *net, int timeout_ms);
/* Connect to host:port, retrying until the timeout. */
PN_API int pn_mpc_net_connect(struct pn_ctx *ctx, const char *hostport, const struct pn_net_opts *opts,
                              struct pn_mpc_net **out /* OUT */);
PN_API void pn_mpc_net_free(struct pn_mpc_net *n);

/* Send send[0..n) as one frame and receive the peer's frame of exactly n bytes. Party order is
** fixed by the TLS role (the server sends first), so the exchange never deadlocks. A frame with
** a bad header, a wrong sequence number or a length other than n is PN_ERR_PROTOCOL; a closed
** peer PN_ERR_IO; a stalled peer PN_ERR_TIMEOUT. After an error the connection is unusable. */
PN_API int pn_mpc_net_exchange(struct pn_ctx *ctx, struct pn_mpc_net *net, const void *send, void *recv,
                               size_t n);
/* Raw frame I/O (for the control messages of `mpc party`, and for tests). max bounds the size. */
PN_API int pn_mpc_net_send(struct pn_ctx *ctx, struct pn_mpc_net *net, const void *buf, size_t n);
PN_API int pn_mpc_net_recv(struct pn_ctx *ctx, struct pn_mpc_net *net, void *buf, size_t n);
/* Bytes written to the socket (frames included) and emulated seconds spent waiting. */
PN_API uint64_t pn_mpc_net_wire_bytes(const struct pn_mpc_net *net);
PN_API double pn_mpc_net_emu_seconds(const struct pn_mpc_net *net);
/* The emulator's virtual clock (both parties must run the emulator with the same link): starts
** at 0 at pn_mpc_net_vclock_reset, advances by this thread's CPU time, and at each exchange to at
** least the peer's clock when it sent plus RTT/2 + 8 * (bytes + header) / BW. So it is the time
** of the run with each party on its own core and the emulated link between them, whatever else
** runs on this machine. Call both from the thread that does the exchanges. */
PN_API void pn_mpc_net_vclock_reset(struct pn_mpc_net *net);
PN_API double pn_mpc_net_vclock(struct pn_mpc_net *net);

#endif
