/* net.c - encrypted inference over TCP: frames, connections, the server's session (see fhe_net.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fhe/fhe_impl.h"
#include "fhe/fhe_net.h"
#include "util/bytes.h"
#include "util/status.h"

#define FRAME_MAGIC 0x53464e50u /* "PNFS" */
#define CHUNK ((size_t)64 << 20)

static const char *const msg_names[PN_FHE_MSG_COUNT] = {"?", "HELLO", "KEYS", "READY", "QUERY", "RESULT", "ERROR",
                                                        "BYE"};
/* The protocol's own bounds (a server tightens KEYS/QUERY to its plan) */
static const uint64_t proto_max[PN_FHE_MSG_COUNT] = {
  0, (uint64_t)1 << 30, (uint64_t)1 << 40, 64, (uint64_t)1 << 34, (uint64_t)1 << 34, 4096, 64,
};

const char *pn_fhe_msg_name(int type) { return type > 0 && type < PN_FHE_MSG_COUNT ? msg_names[type] : "?"; }

void pn_fhe_frame_put_header(uint8_t h[PN_FHE_FRAME_HDR], int type, uint64_t len) {
  pn_put_le32(h, FRAME_MAGIC);
  h[4] = (uint8_t)type, h[5] = h[6] = h[7] = 0;
  pn_put_le64(h + 8, len);
}

int pn_fhe_frame_header(struct pn_ctx *ctx, const uint8_t h[PN_FHE_FRAME_HDR], const uint64_t *max_len, int *type,
                        uint64_t *len) {
  if (pn_get_le32(h) != FRAME_MAGIC)
    return pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: not a privnn fhe frame (bad magic %02x%02x%02x%02x)", h[0], h[1], h[2],
                  h[3]);
  if (h[4] < 1 || h[4] >= PN_FHE_MSG_COUNT || h[5] || h[6] || h[7])
    return pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: unknown frame type %u (or non-zero reserved bytes)", h[4]);
  uint64_t n = pn_get_le64(h + 8), mx = proto_max[h[4]];
  if (max_len && max_len[h[4]] < mx) mx = max_len[h[4]];
  if (n > mx)
    return pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: %s frame of %llu bytes, more than the %llu accepted", msg_names[h[4]],
                  (unsigned long long)n, (unsigned long long)mx);
  *type = h[4];
  *len = n;
  return PN_OK;
}

/* ---- HELLO ---- */

int pn_fhe_hello_make(struct pn_ctx *ctx, const uint8_t *spec, size_t spec_len, double mean, double std, uint8_t **buf,
                      size_t *len) {
  uint8_t *b = malloc(spec_len + 24);
  if (!b) return pn_err(ctx, PN_ERR_NOMEM, "fhe net: out of memory");
  uint64_t u;
  pn_put_le64(b, spec_len);
  memcpy(b + 8, spec, spec_len);
  memcpy(&u, &mean, 8);
  pn_put_le64(b + 8 + spec_len, u);
  memcpy(&u, &std, 8);
  pn_put_le64(b + 16 + spec_len, u);
  *buf = b;
  *len = spec_len + 24;
  return PN_OK;
}

int pn_fhe_hello_parse(struct pn_ctx *ctx, const uint8_t *buf, size_t len, int allow_insecure,
                       struct pn_fhe_spec **spec, double *mean, double *std) {
  *spec = NULL;
  if (len < 24 || pn_get_le64(buf) != len - 24)
    return pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: HELLO of %zu bytes does not hold its spec length", len);
  size_t sl = len - 24;
  uint64_t u = pn_get_le64(buf + 8 + sl), v = pn_get_le64(buf + 16 + sl);
  memcpy(mean, &u, 8);
  memcpy(std, &v, 8);
  if (!isnan(*mean) || !isnan(*std))
    if (!isfinite(*mean) || !isfinite(*std) || !(*std > 0))
      return pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: HELLO normalisation %g %g (finite, std > 0, or both NaN)", *mean,
                    *std);
  int rc = pn_fhe_spec_load(ctx, buf + 8, sl, allow_insecure, spec);
  if (rc) pn_err_prefix(ctx, "fhe net: HELLO");
  return rc;
}

/* ---- connections ---- */

struct pn_fhe_conn {
  int fd;
  int timeout_ms;
  char peer[96];
  uint64_t sent, received;
  uint64_t min_rate;     /* bytes per second a frame must arrive at, at least, once armed (0: no bound) */
  double deadline;       /* when the frame being read must be complete (monotonic ms; 0: none) */
  int frame_type;        /* the frame it is for (0: a header), for the message */
  uint64_t frame_len;
  double allow_ms;       /* the time that frame was given (the stall timeout plus its bytes at min_rate) */
  bool late;             /* the last error was a missed deadline (the peer is sending, too slowly) */
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int split_hostport(struct pn_ctx *ctx, const char *hp, char *host, size_t hn, char *port, size_t pn) {
  const char *colon = hp ? strrchr(hp, ':') : NULL;
  if (!colon || colon == hp || !colon[1] || (size_t)(colon - hp) >= hn || strlen(colon + 1) >= pn)
    return pn_err(ctx, PN_ERR_INVALID, "fhe net: '%s' is not HOST:PORT", hp ? hp : "");
  memcpy(host, hp, (size_t)(colon - hp));
  host[colon - hp] = 0;
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = 0;
  }
  char *end;
  long v = strtol(colon + 1, &end, 10);
  if (*end || v < 0 || v > 65535) return pn_err(ctx, PN_ERR_INVALID, "fhe net: port '%s' is not in 0..65535", colon + 1);
  snprintf(port, pn, "%ld", v);
  return PN_OK;
}

static void peer_name(int fd, char *out, size_t n) {
  struct sockaddr_storage sa;
  socklen_t sl = sizeof sa;
  char h[64] = "?", s[16] = "?";
  memset(&sa, 0, sizeof sa);
  if (getpeername(fd, (struct sockaddr *)&sa, &sl) || (sa.ss_family != AF_INET && sa.ss_family != AF_INET6)) {
    snprintf(out, n, "%s", sa.ss_family == AF_UNIX ? "a local socket" : "the peer"); /* socketpair, pipe, ... */
    return;
  }
  if (getnameinfo((struct sockaddr *)&sa, sl, h, sizeof h, s, sizeof s, NI_NUMERICHOST | NI_NUMERICSERV))
    snprintf(h, sizeof h, "?"), snprintf(s, sizeof s, "?");
  snprintf(out, n, "%s:%s", h, s);
}

static int conn_new(struct pn_ctx *ctx, int fd, int timeout_ms, struct pn_fhe_conn **out) {
  struct pn_fhe_conn *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe net: out of memory");
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->timeout_ms = timeout_ms > 0 ? timeout_ms : 120000;
  c->min_rate = PN_FHE_MIN_RATE_DEFAULT;
  peer_name(fd, c->peer, sizeof c->peer);
  *out = c;
  return PN_OK;
}

int pn_fhe_listen(struct pn_ctx *ctx, const char *hostport, int *fd_out, int *port_out) {
  char host[256], port[16];
  int rc = split_hostport(ctx, hostport, host, sizeof host, port, sizeof port);
  if (rc) return rc;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
  if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) || !ai)
    return pn_err(ctx, PN_ERR_IO, "fhe net: cannot resolve '%s'", hostport);
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol), one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 8)) {
    int e = errno;
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return pn_err(ctx, PN_ERR_IO, "fhe net: cannot listen on %s: %s", hostport, strerror(e));
  }
  freeaddrinfo(ai);
  struct sockaddr_storage sa;
  socklen_t sl = sizeof sa;
  char ps[16] = "0";
  if (!getsockname(fd, (struct sockaddr *)&sa, &sl))
    getnameinfo((struct sockaddr *)&sa, sl, NULL, 0, ps, sizeof ps, NI_NUMERICSERV);
  *fd_out = fd;
  if (port_out) *port_out = atoi(ps);
  return PN_OK;
}

int pn_fhe_accept(struct pn_ctx *ctx, int lfd, int wait_ms, int timeout_ms, struct pn_fhe_conn **out) {
  *out = NULL;
  struct pollfd pf = {.fd = lfd, .events = POLLIN};
  int r;
  do r = poll(&pf, 1, wait_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0) return pn_err(ctx, PN_ERR_TIMEOUT, "fhe net: no client within %d ms", wait_ms);
  int fd = r < 0 ? -1 : accept(lfd, NULL, NULL);
  if (fd < 0) return pn_err(ctx, PN_ERR_IO, "fhe net: accept: %s", strerror(errno));
  return conn_new(ctx, fd, timeout_ms, out);
}

int pn_fhe_connect(struct pn_ctx *ctx, const char *hostport, int wait_ms, int timeout_ms, struct pn_fhe_conn **out) {
  *out = NULL;
  char host[256], port[16];
  int rc = split_hostport(ctx, hostport, host, sizeof host, port, sizeof port);
  if (rc) return rc;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
  if (getaddrinfo(host, port, &hints, &ai) || !ai) return pn_err(ctx, PN_ERR_IO, "fhe net: cannot resolve '%s'", hostport);
  double t0 = now_ms();
  int fd = -1, e = 0;
  for (;;) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd >= 0 && !connect(fd, ai->ai_addr, ai->ai_addrlen)) break;
    e = errno;
    if (fd >= 0) close(fd);
    fd = -1;
    if (now_ms() - t0 >= wait_ms) break;
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
  }
  freeaddrinfo(ai);
  if (fd < 0)
    return pn_err(ctx, PN_ERR_IO, "fhe net: cannot connect to %s within %d ms: %s (is `privnn fhe serve` listening "
                  "there?)", hostport, wait_ms, strerror(e));
  return conn_new(ctx, fd, timeout_ms, out);
}

int pn_fhe_conn_from_fd(struct pn_ctx *ctx, int fd, int timeout_ms, struct pn_fhe_conn **out) {
  *out = NULL;
  return conn_new(ctx, fd, timeout_ms, out);
}

void pn_fhe_conn_free(struct pn_fhe_conn *c) {
  if (!c) return;
  close(c->fd);
  free(c);
}
const char *pn_fhe_conn_peer(const struct pn_fhe_conn *c) { return c->peer; }
uint64_t pn_fhe_conn_bytes_sent(const struct pn_fhe_conn *c) { return c->sent; }
uint64_t pn_fhe_conn_bytes_received(const struct pn_fhe_conn *c) { return c->received; }
void pn_fhe_conn_set_min_rate(struct pn_fhe_conn *c, uint64_t bytes_per_s) { c->min_rate = bytes_per_s; }

/* Arm the deadline of the frame about to be read (type 0: its header): the stall timeout, plus the time its
** len bytes take at the minimum rate. A client that keeps sending, but slower than that, can no longer hold
** the server (which serves one session at a time) for as long as it likes. */
static void arm_deadline(struct pn_fhe_conn *c, int type, uint64_t len) {
  if (!c->min_rate) return;
  c->allow_ms = c->timeout_ms + (double)len * 1e3 / (double)c->min_rate;
  c->deadline = now_ms() + c->allow_ms;
  c->frame_type = type, c->frame_len = len;
}
static void disarm_deadline(struct pn_fhe_conn *c) { c->deadline = 0; }

static int missed_deadline(struct pn_ctx *ctx, struct pn_fhe_conn *c) {
  c->late = true;
  if (!c->frame_type)
    return pn_err(ctx, PN_ERR_TIMEOUT, "fhe net: %s: a frame header took longer than %d ms", c->peer, c->timeout_ms);
  return pn_err(ctx, PN_ERR_TIMEOUT,
                "fhe net: %s: the %s frame of %llu bytes took longer than %.1f s: slower than the %llu bytes/s "
                "this server requires",
                c->peer, msg_names[c->frame_type], (unsigned long long)c->frame_len, c->allow_ms * 1e-3,
                (unsigned long long)c->min_rate);
}

/* Wait until fd is ready for events within the connection's timeout (and the frame's deadline, if armed). */
static int wait_fd(struct pn_ctx *ctx, struct pn_fhe_conn *c, short events, const char *what) {
  struct pollfd pf = {.fd = c->fd, .events = events};
  int r, wait_ms = c->timeout_ms;
  bool by_deadline = false;
  if (c->deadline > 0) {
    const double left = c->deadline - now_ms();
    if (left <= 0) return missed_deadline(ctx, c);
    if (left < wait_ms) wait_ms = (int)ceil(left), by_deadline = true;
  }
  do r = poll(&pf, 1, wait_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0 && by_deadline) return missed_deadline(ctx, c);
  if (r == 0) return pn_err(ctx, PN_ERR_TIMEOUT, "fhe net: %s: %s stalled for %d ms", c->peer, what, c->timeout_ms);
  if (r < 0) return pn_err(ctx, PN_ERR_IO, "fhe net: %s: %s", c->peer, strerror(errno));
  return PN_OK;
}

/* Send the buffers in order, as few system calls as the socket takes: a frame's header and payload go out in
** one sendmsg, so a peer that refuses the frame on its header never sees the header without the payload
** (the payload sent after the peer has hung up would meet EPIPE). */
static int write_iov(struct pn_ctx *ctx, struct pn_fhe_conn *c, struct iovec *iov, int cnt) {
  while (cnt && !iov->iov_len) iov++, cnt--;
  while (cnt) {
    int rc = wait_fd(ctx, c, POLLOUT, "sending");
    if (rc) return rc;
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
    ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w <= 0) return pn_err(ctx, PN_ERR_IO, "fhe net: %s: send: %s", c->peer, strerror(errno));
    c->sent += (uint64_t)w;
    size_t left = (size_t)w; /* drop the buffers sent whole (and empty ones), advance into a part-sent one */
    while (cnt && left >= iov->iov_len) left -= iov->iov_len, iov++, cnt--;
    if (cnt) iov->iov_base = (uint8_t *)iov->iov_base + left, iov->iov_len -= left;
  }
  return PN_OK;
}

static int write_all(struct pn_ctx *ctx, struct pn_fhe_conn *c, const uint8_t *b, size_t n) {
  struct iovec v = {.iov_base = (void *)b, .iov_len = n};
  return write_iov(ctx, c, &v, 1);
}

static int read_all(struct pn_ctx *ctx, struct pn_fhe_conn *c, uint8_t *b, size_t n) {
  while (n) {
    int rc = wait_fd(ctx, c, POLLIN, "receiving");
    if (rc) return rc;
    ssize_t r = recv(c->fd, b, n, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r == 0) return pn_err(ctx, PN_ERR_IO, "fhe net: %s closed the connection", c->peer);
    if (r < 0) return pn_err(ctx, PN_ERR_IO, "fhe net: %s: recv: %s", c->peer, strerror(errno));
    b += r, n -= (size_t)r, c->received += (uint64_t)r;
  }
  return PN_OK;
}

static int conn_put(struct pn_ctx *ctx, void *arg, const void *bytes, size_t n) {
  return write_all(ctx, arg, bytes, n);
}

int pn_fhe_send(struct pn_ctx *ctx, struct pn_fhe_conn *c, int type, const uint8_t *buf, size_t len) {
  uint8_t h[PN_FHE_FRAME_HDR];
  pn_fhe_frame_put_header(h, type, len);
  struct iovec v[2] = {{.iov_base = h, .iov_len = sizeof h}, {.iov_base = (void *)buf, .iov_len = buf ? len : 0}};
  return write_iov(ctx, c, v, 2);
}

/* An ERROR frame's payload (len bytes, within proto_max[ERROR]) read and returned as the peer's message. */
static int peer_says(struct pn_ctx *ctx, struct pn_fhe_conn *c, uint64_t len) {
  uint8_t m[4096]; /* proto_max[ERROR] */
  const int k = (int)(len < 400 ? len : 400);
  int rc = read_all(ctx, c, m, (size_t)len);
  if (rc) return rc;
  for (int i = 0; i < k; i++)
    if (m[i] < 32 || m[i] > 126) m[i] = '?';
  return pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: %s says: %.*s", c->peer, k, (const char *)m);
}

/* A send that failed because the peer hung up (rc PN_ERR_IO): the peer may have said why first, in an ERROR
** frame already on its way; that message replaces "broken pipe" in ctx. Any other outcome leaves rc as is. */
static int peer_reason(struct pn_ctx *ctx, struct pn_fhe_conn *c, int rc) {
  if (rc != PN_ERR_IO) return rc;
  struct pn_ctx sub = {0};
  uint8_t h[PN_FHE_FRAME_HDR];
  const uint64_t mx[PN_FHE_MSG_COUNT] = {0, 0, 0, 0, 0, 0, proto_max[PN_FHE_MSG_ERROR], 0};
  int type;
  uint64_t len;
  if (read_all(&sub, c, h, sizeof h) || pn_fhe_frame_header(&sub, h, mx, &type, &len) || type != PN_FHE_MSG_ERROR)
    return rc;
  return peer_says(ctx, c, len);
}

/* A frame's header read and checked, the frame of type want: an ERROR frame instead (want not ERROR) is read
** and returned as the peer's message (PN_ERR_PROTOCOL), another type refused before its payload is read. */
static int recv_header(struct pn_ctx *ctx, struct pn_fhe_conn *c, int want, const uint64_t *max_len, uint64_t *len) {
  uint8_t h[PN_FHE_FRAME_HDR];
  int type, rc = read_all(ctx, c, h, sizeof h);
  if (rc || (rc = pn_fhe_frame_header(ctx, h, max_len, &type, len))) return rc;
  if (type == PN_FHE_MSG_ERROR && want != PN_FHE_MSG_ERROR) return peer_says(ctx, c, *len);
  if (type != want)
    return pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: %s sent a %s frame where a %s was due", c->peer, msg_names[type],
                  msg_names[want]);
  return PN_OK;
}

int pn_fhe_recv(struct pn_ctx *ctx, struct pn_fhe_conn *c, int want, const uint64_t *max_len, uint8_t **buf,
                size_t *len) {
  *buf = NULL;
  *len = 0;
  uint64_t n;
  int rc = recv_header(ctx, c, want, max_len, &n);
  if (rc || !n) return rc;
  /* grow as the bytes arrive: a header alone commits no memory */
  uint8_t *b = NULL;
  size_t have = 0;
  while (have < n) {
    size_t next = n - have > CHUNK ? have + CHUNK : (size_t)n;
    uint8_t *b2 = realloc(b, next);
    if (!b2) {
      free(b);
      return pn_err(ctx, PN_ERR_NOMEM, "fhe net: out of memory receiving a %s frame of %llu bytes", msg_names[want],
                    (unsigned long long)n);
    }
    b = b2;
    if ((rc = read_all(ctx, c, b + have, next - have))) {
      free(b);
      return rc;
    }
    have = next;
  }
  *buf = b;
  *len = (size_t)n;
  return PN_OK;
}

/* The KEYS frame's payload as a source for the streamed key reader: never past the frame. */
struct frame_src {
  struct pn_fhe_conn *c;
  uint64_t left;
};
static int frame_get(struct pn_ctx *ctx, void *arg, void *bytes, size_t n) {
  struct frame_src *f = arg;
  if (n > f->left) return pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: %s: the keys run past the KEYS frame", f->c->peer);
  f->left -= n;
  return read_all(ctx, f->c, bytes, n);
}

/* ---- the server's session ---- */

/* The session's last words: an ERROR frame, then no more writes, then the bytes the client had already sent
** read and dropped (at most 64 MiB, until 250 ms pass without any or 2 s in all). A socket closed with unread
** bytes resets the connection, and over TCP the reset can destroy the ERROR frame before the client reads it. */
static void send_error(struct pn_fhe_conn *c, struct pn_ctx *ctx) {
  struct pn_ctx sub = {0};
  const char *m = pn_errmsg(ctx);
  size_t n = strlen(m);
  if (pn_fhe_send(&sub, c, PN_FHE_MSG_ERROR, (const uint8_t *)m, n < 4096 ? n : 4096)) return;
  shutdown(c->fd, SHUT_WR);
  uint8_t junk[65536];
  const double t0 = now_ms();
  for (size_t got = 0; got < ((size_t)64 << 20) && now_ms() - t0 < 2000;) {
    struct pollfd pf = {.fd = c->fd, .events = POLLIN};
    if (poll(&pf, 1, 250) <= 0) break;
    ssize_t r = recv(c->fd, junk, sizeof junk, 0);
    if (r <= 0 && !(r < 0 && errno == EINTR)) break;
    if (r > 0) got += (size_t)r;
  }
}

static double wall(void) { return now_ms() * 1e-3; }

int pn_fhe_serve_session(struct pn_ctx *ctx, struct pn_fhe_conn *c, struct pn_fhe_server *srv, const uint8_t *hello,
                         size_t hello_len, struct pn_fhe_serve_stats *st) {
  memset(st, 0, sizeof *st);
  const struct pn_fhe_plan *p = fhe_server_plan(srv);
  struct pn_fhe_plan_info in;
  pn_fhe_plan_get_info(p, &in);
  /* bounds from the plan: the keys (in memory >= serialized, with room), a ciphertext at the top level */
  uint64_t mx[PN_FHE_MSG_COUNT];
  memcpy(mx, proto_max, sizeof mx);
  const double ct = 2.0 * (p->params.nq + 1) * (double)pn_ckks_n(p->ckks) * 8.0 + 65536;
  mx[PN_FHE_MSG_KEYS] = (uint64_t)(in.key_bytes * 1.25 + (64 << 20));
  mx[PN_FHE_MSG_QUERY] = (uint64_t)ct;
  struct pn_fhe_evk *k = NULL;
  uint8_t *b = NULL, *r = NULL;
  size_t rl = 0;
  int rc = pn_fhe_send(ctx, c, PN_FHE_MSG_HELLO, hello, hello_len);
  if (rc) return rc;
  double t0 = wall();
  uint64_t kn = 0;
  arm_deadline(c, 0, PN_FHE_FRAME_HDR);
  if (!(rc = recv_header(ctx, c, PN_FHE_MSG_KEYS, mx, &kn))) {
    /* the keys parsed as they arrive, one record at a time (never the frame whole in memory), then put on the
    ** server's encoded weights (encoded once per model, not per session) */
    struct frame_src fs = {c, kn};
    st->key_bytes = (size_t)kn;
    arm_deadline(c, PN_FHE_MSG_KEYS, kn);
    rc = pn_fhe_evk_read(ctx, p, frame_get, &fs, kn, &k);
    if (!rc) rc = pn_fhe_server_set_keys(ctx, srv, k);
    if (rc) pn_err_prefix(ctx, "fhe net: %s: KEYS", c->peer);
  }
  disarm_deadline(c);
  st->setup_s = wall() - t0;
  if (!rc) rc = pn_fhe_send(ctx, c, PN_FHE_MSG_READY, NULL, 0);
  while (!rc) {
    /* QUERY or BYE */
    uint8_t h[PN_FHE_FRAME_HDR];
    int type;
    uint64_t len;
    arm_deadline(c, 0, sizeof h);
    if ((rc = read_all(ctx, c, h, sizeof h)) || (rc = pn_fhe_frame_header(ctx, h, mx, &type, &len))) break;
    if (type == PN_FHE_MSG_BYE && len == 0) break;
    if (type != PN_FHE_MSG_QUERY) {
      rc = pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: %s sent a %s frame where a QUERY or BYE was due", c->peer,
                  msg_names[type]);
      break;
    }
    if (!(b = malloc(len ? (size_t)len : 1))) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "fhe net: out of memory");
      break;
    }
    arm_deadline(c, PN_FHE_MSG_QUERY, len);
    if ((rc = read_all(ctx, c, b, (size_t)len))) break;
    disarm_deadline(c);
    t0 = wall();
    struct pn_fhe_run_stats rs;
    if ((rc = pn_fhe_server_query(ctx, srv, b, (size_t)len, &r, &rl, &rs))) {
      pn_err_prefix(ctx, "fhe net: %s: QUERY", c->peer);
      break;
    }
    st->eval_s += wall() - t0;
    free(b), b = NULL;
    rc = pn_fhe_send(ctx, c, PN_FHE_MSG_RESULT, r, rl);
    free(r), r = NULL;
    if (!rc) st->queries++;
  }
  disarm_deadline(c);
  /* a stalled peer is not told (the ERROR frame could wait on it for another timeout); one that sends too
  ** slowly is, and is reading nothing the server sent unread, so the frame goes out at once */
  if (rc && rc != PN_ERR_IO && (rc != PN_ERR_TIMEOUT || c->late)) send_error(c, ctx);
  free(b);
  free(r);
  struct pn_ctx sub = {0};
  pn_fhe_server_set_keys(&sub, srv, NULL); /* the keys go with the session */
  pn_fhe_evk_free(k);
  return rc;
}

/* ---- the client's session ---- */

int pn_fhe_session_open(struct pn_ctx *ctx, struct pn_fhe_conn *conn, int allow_insecure, struct pn_fhe_session **out) {
  *out = NULL;
  struct pn_fhe_session *s = calloc(1, sizeof *s);
  if (!s) {
    pn_fhe_conn_free(conn);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe net: out of memory");
  }
  s->conn = conn;
  uint8_t *b = NULL;
  size_t n = 0;
  int rc = pn_fhe_recv(ctx, conn, PN_FHE_MSG_HELLO, NULL, &b, &n);
  if (!rc) rc = pn_fhe_hello_parse(ctx, b, n, allow_insecure, &s->spec, &s->mean, &s->std);
  free(b);
  if (rc) {
    pn_fhe_session_close(s);
    return rc;
  }
  *out = s;
  return PN_OK;
}

int pn_fhe_session_keys(struct pn_ctx *ctx, struct pn_fhe_session *s, const uint8_t *seed) {
  struct pn_fhe_evk *k = NULL;
  uint8_t *b = NULL;
  size_t n = 0;
  double t0 = wall();
  int rc = pn_fhe_client_keygen(ctx, s->spec, seed, &s->client);
  if (!rc) rc = pn_fhe_client_evk(ctx, s->client, &k);
  s->keygen_s = wall() - t0;
  t0 = wall();
  /* the KEYS frame streamed one key record at a time: the keys are never held twice */
  if (!rc && !(n = pn_fhe_evk_bytes(s->spec, k))) rc = pn_err(ctx, PN_ERR_INVALID, "fhe net: keys do not fit the spec");
  if (!rc) {
    uint8_t h[PN_FHE_FRAME_HDR];
    pn_fhe_frame_put_header(h, PN_FHE_MSG_KEYS, n);
    rc = write_all(ctx, s->conn, h, sizeof h);
  }
  if (!rc) rc = peer_reason(ctx, s->conn, pn_fhe_evk_write(ctx, s->spec, k, conn_put, s->conn));
  pn_fhe_evk_free(k);
  s->key_bytes = n;
  if (!rc) rc = pn_fhe_recv(ctx, s->conn, PN_FHE_MSG_READY, NULL, &b, &n);
  free(b);
  s->upload_s = wall() - t0;
  return rc;
}

int pn_fhe_session_query(struct pn_ctx *ctx, struct pn_fhe_session *s, const float *x, double *y, size_t *up,
                         size_t *down) {
  if (!s->client) return pn_err(ctx, PN_ERR_INVALID, "fhe net: no keys uploaded in this session");
  uint8_t *q = NULL, *r = NULL;
  size_t ql = 0, rl = 0;
  const uint64_t mx[PN_FHE_MSG_COUNT] = {0, 0, 0, 0, 0, proto_max[PN_FHE_MSG_RESULT], proto_max[PN_FHE_MSG_ERROR], 0};
  int rc = pn_fhe_encrypt(ctx, s->client, x, s->spec->n_in, &q, &ql);
  if (!rc) rc = peer_reason(ctx, s->conn, pn_fhe_send(ctx, s->conn, PN_FHE_MSG_QUERY, q, ql));
  if (!rc) rc = pn_fhe_recv(ctx, s->conn, PN_FHE_MSG_RESULT, mx, &r, &rl);
  if (!rc) rc = pn_fhe_decrypt(ctx, s->client, r, rl, y, s->spec->n_out);
  if (up) *up = ql + PN_FHE_FRAME_HDR;
  if (down) *down = rl + PN_FHE_FRAME_HDR;
  free(q);
  free(r);
  return rc;
}

void pn_fhe_session_close(struct pn_fhe_session *s) {
  if (!s) return;
  if (s->conn && s->client) {
    struct pn_ctx sub = {0};
    pn_fhe_send(&sub, s->conn, PN_FHE_MSG_BYE, NULL, 0);
  }
  pn_fhe_conn_free(s->conn);
  pn_fhe_client_free(s->client);
  pn_fhe_spec_free(s->spec);
  free(s);
}

/* ---- the fuzz target's entry ---- */

int pn_fhe_frames_check(struct pn_ctx *ctx, const uint8_t *buf, size_t len) {
  size_t at = 0;
  while (at < len) {
    int type = 0, rc;
    uint64_t n = 0;
    if (len - at < PN_FHE_FRAME_HDR)
      return pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: %zu bytes left, less than a frame header", len - at);
    if ((rc = pn_fhe_frame_header(ctx, buf + at, NULL, &type, &n))) return rc;
    at += PN_FHE_FRAME_HDR;
    if (n > len - at) return pn_err(ctx, PN_ERR_PROTOCOL, "fhe net: a %s frame runs past the input", msg_names[type]);
    const uint8_t *pl = buf + at;
    at += (size_t)n;
    if (type == PN_FHE_MSG_HELLO) {
      struct pn_fhe_spec *s = NULL;
      double m, sd;
      rc = pn_fhe_hello_parse(ctx, pl, (size_t)n, 1, &s, &m, &sd);
      pn_fhe_spec_free(s);
      if (rc) return rc;
    } else if (type == PN_FHE_MSG_KEYS || type == PN_FHE_MSG_QUERY || type == PN_FHE_MSG_RESULT) {
      int ot;
      if ((rc = pn_fhe_obj_peek(ctx, pl, (size_t)n, &ot, NULL))) return rc;
    }
  }
  return PN_OK;
}
