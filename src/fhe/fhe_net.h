/* fhe_net.h - encrypted inference over TCP: privnn fhe serve / fhe query.
**
** One session per connection, the server speaking first:
**   server -> HELLO   the spec object (public: parameters, rotations, slot maps, program hash) and the
**                     input normalisation (mean, std; NaN when the model records none)
**   client -> KEYS    the evaluation keys object (relinearisation, rotations, bootstrapping keys), once
**   server -> READY   (or ERROR with a message)
**   client -> QUERY   a query object ...  server -> RESULT (or ERROR), as many times as the client likes
**   client -> BYE
** The secret key never leaves the client; the server checks every object against its program hash and
** parameter fingerprint (keys.c). Framing as src/mpc/net.c's discipline: a 16-byte header "PNFS" | u8
** type | 3 zero bytes | u64 payload length, checked (magic, type, reserved bytes, a per-type length
** bound) before anything is allocated; payloads grow as bytes arrive (a header that claims gigabytes
** costs nothing until they come), and the server parses the KEYS frame as it arrives, one key record at a
** time (pn_fhe_evk_read: never the frame whole in memory, only the plan's keys accepted); every read and
** write has a timeout. A bad frame ends that session
** with an ERROR frame to the peer and a message; the server goes on accepting. No TLS here (the payload
** is ciphertexts and public keys; confidentiality of the model's answers rests on CKKS, integrity is
** not provided: a tampered result decrypts to garbage, not to a chosen answer). */
#ifndef PN_FHE_NET_H
#define PN_FHE_NET_H

#include <stddef.h>
#include <stdint.h>

#include "fhe/fhe_keys.h"

enum pn_fhe_msg {
  PN_FHE_MSG_HELLO = 1, PN_FHE_MSG_KEYS = 2, PN_FHE_MSG_READY = 3, PN_FHE_MSG_QUERY = 4, PN_FHE_MSG_RESULT = 5,
  PN_FHE_MSG_ERROR = 6, PN_FHE_MSG_BYE = 7, PN_FHE_MSG_COUNT
};
#define PN_FHE_FRAME_HDR 16
const char *pn_fhe_msg_name(int type);

/* Check a frame header: magic, a known type, zero reserved bytes, length <= max_len[type] (max_len NULL:
** the protocol's own bounds only). PN_ERR_PROTOCOL with what is wrong. */
int pn_fhe_frame_header(struct pn_ctx *ctx, const uint8_t hdr[PN_FHE_FRAME_HDR], const uint64_t *max_len,
                        int *type /* OUT */, uint64_t *len /* OUT */);
void pn_fhe_frame_put_header(uint8_t hdr[PN_FHE_FRAME_HDR], int type, uint64_t len);

/* HELLO payload: u64 spec length | spec object | f64 mean | f64 std. */
int pn_fhe_hello_make(struct pn_ctx *ctx, const uint8_t *spec, size_t spec_len, double mean, double std,
                      uint8_t **buf /* OUT */, size_t *len /* OUT */);
int pn_fhe_hello_parse(struct pn_ctx *ctx, const uint8_t *buf, size_t len, int allow_insecure,
                       struct pn_fhe_spec **spec /* OUT */, double *mean /* OUT */, double *std /* OUT */);

/* A framed TCP connection with timeouts. */
struct pn_fhe_conn;
/* Bind and listen on HOST:PORT (port 0: any; *port_out the bound one). */
int pn_fhe_listen(struct pn_ctx *ctx, const char *hostport, int *fd_out /* OUT */, int *port_out /* OUT */);
/* Accept one connection (wait_ms: -1 forever). */
int pn_fhe_accept(struct pn_ctx *ctx, int lfd, int wait_ms, int timeout_ms, struct pn_fhe_conn **out /* OUT */);
/* Connect to HOST:PORT, retrying a refused connection for up to wait_ms. */
int pn_fhe_connect(struct pn_ctx *ctx, const char *hostport, int wait_ms, int timeout_ms,
                   struct pn_fhe_conn **out /* OUT */);
/* Wrap a connected socket (taken over; tests and the fuzz target use a socketpair). */
int pn_fhe_conn_from_fd(struct pn_ctx *ctx, int fd, int timeout_ms, struct pn_fhe_conn **out /* OUT */);
void pn_fhe_conn_free(struct pn_fhe_conn *c);
const char *pn_fhe_conn_peer(const struct pn_fhe_conn *c);
uint64_t pn_fhe_conn_bytes_sent(const struct pn_fhe_conn *c);
uint64_t pn_fhe_conn_bytes_received(const struct pn_fhe_conn *c);
/* The server's bound on a slow sender: each frame it reads (a header, KEYS, QUERY) must be complete within
** the stall timeout plus its length at this many bytes per second (0: only the stall timeout). A new conn
** has PN_FHE_MIN_RATE_DEFAULT; clients never arm it (they wait for evaluations). */
#define PN_FHE_MIN_RATE_DEFAULT ((uint64_t)256 << 10)
void pn_fhe_conn_set_min_rate(struct pn_fhe_conn *c, uint64_t bytes_per_s);
int pn_fhe_send(struct pn_ctx *ctx, struct pn_fhe_conn *c, int type, const uint8_t *buf, size_t len);
/* Receive one frame; want: the expected type (an ERROR frame instead gives PN_ERR_PROTOCOL with the peer's
** message; another type PN_ERR_PROTOCOL). *buf: malloc'd payload (NULL when empty). */
int pn_fhe_recv(struct pn_ctx *ctx, struct pn_fhe_conn *c, int want, const uint64_t *max_len, uint8_t **buf /* OUT */,
                size_t *len /* OUT */);

/* The server's side of one session on c: HELLO (hello bytes), KEYS -> the client's keys on srv (a server of
** the model, its weights encoded once for every session: pn_fhe_server_new with no keys), then QUERY ->
** RESULT until BYE; the keys are dropped at the end. On a protocol or object error it sends ERROR (best
** effort) and returns it. */
struct pn_fhe_serve_stats {
  int queries;
  double setup_s, eval_s;   /* keys received and loaded, evaluations */
  size_t key_bytes;
};
int pn_fhe_serve_session(struct pn_ctx *ctx, struct pn_fhe_conn *c, struct pn_fhe_server *srv, const uint8_t *hello,
                         size_t hello_len, struct pn_fhe_serve_stats *st /* OUT */);

/* The client's side: HELLO received (spec and normalisation), keys made and uploaded once, queries. */
struct pn_fhe_session {
  struct pn_fhe_conn *conn;
  struct pn_fhe_spec *spec;
  struct pn_fhe_client *client;
  double mean, std;         /* the model's input normalisation (NaN: none recorded) */
  size_t key_bytes;         /* evaluation keys uploaded */
  double keygen_s, upload_s;
};
/* Receive HELLO on a connected conn (taken over by the session). */
int pn_fhe_session_open(struct pn_ctx *ctx, struct pn_fhe_conn *conn, int allow_insecure,
                        struct pn_fhe_session **out /* OUT */);
/* A fresh secret key (seed: 32 bytes for tests, NULL = the OS), the evaluation keys sent, READY awaited. */
int pn_fhe_session_keys(struct pn_ctx *ctx, struct pn_fhe_session *s, const uint8_t *seed);
/* x[0..spec->n_in) -> y[0..spec->n_out); *up / *down: the frames' bytes (may be NULL). */
int pn_fhe_session_query(struct pn_ctx *ctx, struct pn_fhe_session *s, const float *x, double *y, size_t *up,
                         size_t *down);
/* BYE (best effort) and free. */
void pn_fhe_session_close(struct pn_fhe_session *s);

/* Split buf[0..len) into frames and check each as a peer would (header, then HELLO parsed, the objects'
** headers peeked): the fuzz target's entry. PN_OK when every frame is well formed. */
int pn_fhe_frames_check(struct pn_ctx *ctx, const uint8_t *buf, size_t len);

#endif
