/* net.c - party-to-party transport: TCP or TLS 1.3 (PSK or certificates), framed and timed out.
**
** A frame is a 16-byte header (u32 magic "PNMF", u32 sequence number, u64 payload length, all
** little-endian) and the payload; in plain TCP with a key, an HMAC-SHA256 tag over header and
** payload follows (TLS authenticates frames itself). The receiver always knows how many bytes it
** expects, and refuses a frame with another length, a bad magic or sequence number, or a length
** above PN_NET_MAX_FRAME before reading it. Every socket operation has a deadline
** (SO_RCVTIMEO/SO_SNDTIMEO plus a per-frame clock), so a stalled peer is PN_ERR_TIMEOUT.
**
** Exchanges are half-duplex in a fixed order (the server sends first), which cannot deadlock on
** full socket buffers. The link emulator makes each exchange last at least RTT/2 + 8·bytes/BW,
** the time of the same exchange on a full-duplex link of that bandwidth and round-trip time, and
** keeps a virtual clock: thread CPU time (compute) plus the link's delays along the critical path
** of the two parties, a measure that does not depend on how loaded this machine is.
**
** Identity: with a PSK, the TLS PSK identity names the link ("privnn-mpc-party", "-dealer"), so a
** key never opens a link it was not made for; with certificates, the peer must chain to the CA and
** match the expected name (DNS SAN or CN) or SHA-256 fingerprint, and never present our own
** certificate. A listening side survives strangers: a connection that fails the handshake or the
** caller's check is logged and dropped, and accepting goes on until the deadline. SIGPIPE from a
** vanished peer is held back around every OpenSSL call (reads write alerts and key updates too),
** so a dropped peer is an error return, never a dead process. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/bytes.h"
#include "mpc/net.h"
#include "util/fileio.h"
#include "util/status.h"
#include "util/wipe.h"

#define FRAME_MAGIC 0x464d4e50u /* "PNMF" */
#define HDR 16

struct pn_mpc_net {
  int fd;
  SSL_CTX *sctx;
  SSL *ssl;
  int server;
  int timeout_ms;
  int hmac;
  uint8_t key[64];
  size_t key_len;
  uint32_t seq_out, seq_in;
  double bw, rtt;
  uint64_t wire;
  double emu;
  double vt, cpu_mark;        /* virtual clock (link emulator): seconds, thread CPU time mark */
  uint8_t *sbuf;              /* small frames are assembled here and written at once */
  size_t scap;
  int broken;
  char ident[40];             /* PSK identity: "privnn-mpc-" + link */
  char peer[80];              /* "HOST:PORT" of the peer */
};

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int pn_net_parse_emu(struct pn_ctx *ctx, const char *spec, struct pn_net_opts *o) {
  if (!spec || !strcmp(spec, "none") || !*spec) {
    o->emu_bw = 0;
    o->emu_rtt = 0;
  } else if (!strcmp(spec, "lan")) {
    o->emu_bw = 1e9;
    o->emu_rtt = 0.5e-3;
  } else if (!strcmp(spec, "wan")) {
    o->emu_bw = 100e6;
    o->emu_rtt = 40e-3;
  } else {
    double bw, rtt;
    char extra;
    if (sscanf(spec, "%lf,%lf%c", &bw, &rtt, &extra) != 2 || !(bw > 0) || !(rtt >= 0))
      return pn_err(ctx, PN_ERR_INVALID, "--net '%s': expected lan, wan, none or BW,RTT "
                    "(Mbit/s,ms)", spec);
    o->emu_bw = bw * 1e6;
    o->emu_rtt = rtt * 1e-3;
  }
  return PN_OK;
}


static void set_timeouts(int fd, int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int fail(struct pn_ctx *ctx, struct pn_mpc_net *n, int code, const char *what) {
  n->broken = 1;
  return pn_err(ctx, code, "mpc net: %s", what);
}

static int io_err(struct pn_ctx *ctx, struct pn_mpc_net *n, int err, const char *dir) {
  char b[160];
  if (err == EAGAIN || err == EWOULDBLOCK || err == ETIMEDOUT) {
    snprintf(b, sizeof b, "peer stalled: %s timed out after %d ms", dir, n->timeout_ms);
    return fail(ctx, n, PN_ERR_TIMEOUT, b);
  }
  if (err == 0 || err == EPIPE || err == ECONNRESET) {
    snprintf(b, sizeof b, "peer closed the connection during %s", dir);
    return fail(ctx, n, PN_ERR_IO, b);
  }
  snprintf(b, sizeof b, "%s failed: %s", dir, strerror(err));
  return fail(ctx, n, PN_ERR_IO, b);
}

/* OpenSSL writes with write(2): keep SIGPIPE from a closed peer pending, blocked in this
** thread only, then discard it, so a dropped peer is an error return rather than a dead process. */
struct sigpipe_guard {
  sigset_t old;
  int pending_before;
};
static void sigpipe_block(struct sigpipe_guard *g) {
  sigset_t set, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigpending(&pend);
  g->pending_before = sigismember(&pend, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, &g->old);
}
static void sigpipe_unblock(struct sigpipe_guard *g) {
  sigset_t set, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigpending(&pend);
  if (!g->pending_before && sigismember(&pend, SIGPIPE)) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static int io_write(struct pn_ctx *ctx, struct pn_mpc_net *n, const void *buf, size_t len,
                    double deadline) {
  const uint8_t *p = buf;
  while (len) {
    if (pn_now() > deadline) return io_err(ctx, n, ETIMEDOUT, "send");
    size_t chunk = len > (1u << 30) ? (1u << 30) : len;
    if (n->ssl) {
      size_t w = 0;
      struct sigpipe_guard g;
      ERR_clear_error();
      sigpipe_block(&g);
      int ok = SSL_write_ex(n->ssl, p, chunk, &w);
      sigpipe_unblock(&g);
      if (ok <= 0) {
        int e = SSL_get_error(n->ssl, 0);
        int err = (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? EAGAIN
                  : (errno ? errno : EPIPE);
        return io_err(ctx, n, err, "send");
      }
      p += w;
      len -= w;
    } else {
      ssize_t w = send(n->fd, p, chunk, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return io_err(ctx, n, errno, "send");
      }
      p += w;
      len -= (size_t)w;
    }
  }
  return PN_OK;
}

static int io_read(struct pn_ctx *ctx, struct pn_mpc_net *n, void *buf, size_t len,
                   double deadline) {
  uint8_t *p = buf;
  while (len) {
    if (pn_now() > deadline) return io_err(ctx, n, ETIMEDOUT, "receive");
    size_t chunk = len > (1u << 30) ? (1u << 30) : len;
    if (n->ssl) {
      size_t r = 0;
      struct sigpipe_guard g;
      ERR_clear_error();
      errno = 0;
      sigpipe_block(&g);
      int ok = SSL_read_ex(n->ssl, p, chunk, &r);
      int saved = errno;
      sigpipe_unblock(&g);
      errno = saved;
      if (ok <= 0) {
        int e = SSL_get_error(n->ssl, 0);
        int err = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN
                  : (e == SSL_ERROR_ZERO_RETURN || errno == 0) ? 0 : errno;
        if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) err = EAGAIN;
        return io_err(ctx, n, err, "receive");
      }
      p += r;
      len -= r;
    } else {
      ssize_t r = recv(n->fd, p, chunk, 0);
      if (r == 0) return io_err(ctx, n, 0, "receive");
      if (r < 0) {
        if (errno == EINTR) continue;
        return io_err(ctx, n, errno, "receive");
      }
      p += r;
      len -= (size_t)r;
    }
  }
  return PN_OK;
}

static void frame_tag(struct pn_mpc_net *n, const uint8_t *hdr, const void *buf, size_t len,
                      uint8_t tag[32]) {
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *h = mac ? EVP_MAC_CTX_new(mac) : NULL;
  char dig[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, dig, 0),
                         OSSL_PARAM_construct_end()};
  size_t tl = 0;
  memset(tag, 0, 32);
  if (h && EVP_MAC_init(h, n->key, n->key_len, params) == 1) {
    EVP_MAC_update(h, hdr, HDR);
    if (len) EVP_MAC_update(h, buf, len);
    EVP_MAC_final(h, tag, &tl, 32);
  }
  EVP_MAC_CTX_free(h);
  EVP_MAC_free(mac);
}

#define COALESCE_MAX ((size_t)1 << 18) /* frames up to this size go out in one write */

/* Frame header (and HMAC tag) of payload buf[0..len) with the next sequence number. */
static void frame_head(struct pn_mpc_net *n, uint8_t hdr[HDR], size_t len) {
  pn_put_le32(hdr, FRAME_MAGIC);
  pn_put_le32(hdr + 4, n->seq_out++);
  pn_put_le64(hdr + 8, (uint64_t)len);
}

/* Send frame a (when have_a) then frame b. Small frames are assembled in one buffer and written
** with one call (one TLS record, one packet), larger ones piece by piece. */
static int send_frames(struct pn_ctx *ctx, struct pn_mpc_net *n, int have_a, const void *a,
                       size_t la, const void *b, size_t lb) {
  if (n->broken) return pn_err(ctx, PN_ERR_IO, "mpc net: connection unusable after an error");
  size_t tag = n->hmac ? 32 : 0;
  size_t total = (have_a ? HDR + la + tag : 0) + HDR + lb + tag;
  double deadline = pn_now() + n->timeout_ms / 1000.0 + (double)total / 50e6;
  uint8_t hdr[HDR], t[32];
  int rc = PN_OK;
  if (total <= COALESCE_MAX) {
    if (n->scap < total) {
      uint8_t *nb = realloc(n->sbuf, COALESCE_MAX);
      if (!nb) return pn_err(ctx, PN_ERR_NOMEM, "mpc net: out of memory");
      n->sbuf = nb;
      n->scap = COALESCE_MAX;
    }
    size_t off = 0;
    for (int f = have_a ? 0 : 1; f < 2; f++) {
      const void *p = f ? b : a;
      size_t l = f ? lb : la;
      frame_head(n, hdr, l);
      memcpy(n->sbuf + off, hdr, HDR);
      if (l) memcpy(n->sbuf + off + HDR, p, l);
      off += HDR + l;
      if (n->hmac) {
        frame_tag(n, hdr, p, l, t);
        memcpy(n->sbuf + off, t, 32);
        off += 32;
      }
    }
    rc = io_write(ctx, n, n->sbuf, off, deadline);
  } else {
    for (int f = have_a ? 0 : 1; f < 2 && rc == PN_OK; f++) {
      const void *p = f ? b : a;
      size_t l = f ? lb : la;
      frame_head(n, hdr, l);
      rc = io_write(ctx, n, hdr, HDR, deadline);
      if (rc == PN_OK && l) rc = io_write(ctx, n, p, l, deadline);
      if (rc == PN_OK && n->hmac) {
        frame_tag(n, hdr, p, l, t);
        rc = io_write(ctx, n, t, 32, deadline);
      }
    }
  }
  if (rc == PN_OK) n->wire += total;
  return rc;
}

int pn_mpc_net_send(struct pn_ctx *ctx, struct pn_mpc_net *n, const void *buf, size_t len) {
  return send_frames(ctx, n, 0, NULL, 0, buf, len);
}

int pn_mpc_net_recv(struct pn_ctx *ctx, struct pn_mpc_net *n, void *buf, size_t len) {
  if (n->broken) return pn_err(ctx, PN_ERR_IO, "mpc net: connection unusable after an error");
  uint8_t hdr[HDR], tag[32], want[32];
  double deadline = pn_now() + n->timeout_ms / 1000.0 + (double)len / 50e6;
  int rc = io_read(ctx, n, hdr, HDR, deadline);
  if (rc) return rc;
  if (pn_get_le32(hdr) != FRAME_MAGIC) return fail(ctx, n, PN_ERR_PROTOCOL, "malformed frame (bad magic)");
  if (pn_get_le32(hdr + 4) != n->seq_in) {
    char b[96];
    snprintf(b, sizeof b, "frame out of sequence (got %u, expected %u)", pn_get_le32(hdr + 4), n->seq_in);
    return fail(ctx, n, PN_ERR_PROTOCOL, b);
  }
  uint64_t flen = pn_get_le64(hdr + 8);
  if (flen > PN_NET_MAX_FRAME) {
    char b[96];
    snprintf(b, sizeof b, "oversized frame (%llu bytes, limit %llu)", (unsigned long long)flen,
             (unsigned long long)PN_NET_MAX_FRAME);
    return fail(ctx, n, PN_ERR_PROTOCOL, b);
  }
  if (flen != len) {
    char b[96];
    snprintf(b, sizeof b, "frame of %llu bytes where the protocol expects %zu",
             (unsigned long long)flen, len);
    return fail(ctx, n, PN_ERR_PROTOCOL, b);
  }
  n->seq_in++;
  if (len && (rc = io_read(ctx, n, buf, len, deadline))) return rc;
  if (n->hmac) {
    if ((rc = io_read(ctx, n, tag, 32, deadline))) return rc;
    frame_tag(n, hdr, buf, len, want);
    if (CRYPTO_memcmp(tag, want, 32) != 0)
      return fail(ctx, n, PN_ERR_AUTH, "frame authentication failed (wrong key or tampering)");
  }
  return PN_OK;
}

/* With the emulator on, each side first sends its virtual clock (8 bytes, a frame of its own)
** and then the payload; the virtual clock advances by the thread's CPU time between exchanges
** and, at an exchange, to the peer's send time plus the link's one-way delay. */
int pn_mpc_net_exchange(struct pn_ctx *ctx, struct pn_mpc_net *n, const void *send, void *recv,
                        size_t len) {
  double t0 = pn_now();
  int rc;
  uint8_t vme[8], vpeer[8];
  int emu = n->bw > 0;
  if (emu) {
    double c = thread_cpu();
    n->vt += c - n->cpu_mark;
    n->cpu_mark = c;
    uint64_t bits;
    memcpy(&bits, &n->vt, 8);
    pn_put_le64(vme, bits);
  }
  if (n->server) {
    if ((rc = send_frames(ctx, n, emu, vme, 8, send, len))) return rc;
    if (emu && (rc = pn_mpc_net_recv(ctx, n, vpeer, 8))) return rc;
    rc = pn_mpc_net_recv(ctx, n, recv, len);
  } else {
    if (emu && (rc = pn_mpc_net_recv(ctx, n, vpeer, 8))) return rc;
    if ((rc = pn_mpc_net_recv(ctx, n, recv, len))) return rc;
    rc = send_frames(ctx, n, emu, vme, 8, send, len);
  }
  if (rc == PN_OK && emu) {
    double want = n->rtt / 2 + 8.0 * (double)(len + HDR) / n->bw, el = pn_now() - t0;
    uint64_t bits = pn_get_le64(vpeer);
    double peer;
    memcpy(&peer, &bits, 8);
    if (!(peer >= 0 && peer < 1e9)) return fail(ctx, n, PN_ERR_PROTOCOL, "bad virtual clock");
    if (peer + want > n->vt) n->vt = peer + want;
    if (el < want) {
      double s = want - el;
      struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
    n->emu += want;
  }
  return rc;
}

void pn_mpc_net_vclock_reset(struct pn_mpc_net *n) {
  n->vt = 0;
  n->cpu_mark = thread_cpu();
}

double pn_mpc_net_vclock(struct pn_mpc_net *n) { return n->vt + (thread_cpu() - n->cpu_mark); }

uint64_t pn_mpc_net_wire_bytes(const struct pn_mpc_net *n) { return n->wire; }
double pn_mpc_net_emu_seconds(const struct pn_mpc_net *n) { return n->emu; }

static unsigned psk_server_cb(SSL *ssl, const char *identity, unsigned char *psk,
                              unsigned max_len) {
  struct pn_mpc_net *n = SSL_get_app_data(ssl);
  if (!n || !identity || strcmp(identity, n->ident) != 0 || n->key_len > max_len) return 0;
  memcpy(psk, n->key, n->key_len);
  return (unsigned)n->key_len;
}

static unsigned psk_client_cb(SSL *ssl, const char *hint, char *identity, unsigned max_id,
                              unsigned char *psk, unsigned max_len) {
  struct pn_mpc_net *n = SSL_get_app_data(ssl);
  if (!n || strlen(n->ident) >= max_id || n->key_len > max_len) return 0;
  strcpy(identity, n->ident);
  memcpy(psk, n->key, n->key_len);
  return (unsigned)n->key_len;
}

/* SHA-256 of a certificate's DER encoding. */
static int cert_sha256(X509 *x, uint8_t md[32]) {
  unsigned len = 0;
  return x && X509_digest(x, EVP_sha256(), md, &len) == 1 && len == 32;
}

/* Parse a fingerprint: 64 hex digits, ':' and spaces ignored. */
static int parse_fingerprint(const char *s, uint8_t md[32]) {
  int nd = 0;
  for (; *s; s++) {
    if (*s == ':' || *s == ' ') continue;
    int v = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
            : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10 : -1;
    if (v < 0 || nd >= 64) return 0;
    if (nd & 1) md[nd / 2] = (uint8_t)(md[nd / 2] | v);
    else md[nd / 2] = (uint8_t)(v << 4);
    nd++;
  }
  return nd == 64;
}

/* After a certificate handshake: the peer is not us, and matches the pinned fingerprint. */
static int check_peer_cert(struct pn_ctx *ctx, struct pn_mpc_net *n, const struct pn_net_opts *o) {
  X509 *peer = SSL_get1_peer_certificate(n->ssl);
  uint8_t pmd[32], mine[32], want[32];
  int rc = PN_OK;
  if (!cert_sha256(peer, pmd))
    rc = pn_err(ctx, PN_ERR_AUTH, "mpc net: %s presented no certificate", n->peer);
  else if (cert_sha256(SSL_get_certificate(n->ssl), mine) && !memcmp(pmd, mine, 32))
    rc = pn_err(ctx, PN_ERR_AUTH, "mpc net: %s presented our own certificate (each party needs "
                "its own)", n->peer);
  else if (o->peer_fingerprint && !parse_fingerprint(o->peer_fingerprint, want))
    rc = pn_err(ctx, PN_ERR_INVALID, "mpc net: --peer-fingerprint '%s': expected 64 hex digits "
                "(SHA-256)", o->peer_fingerprint);
  else if (o->peer_fingerprint && memcmp(pmd, want, 32) != 0) {
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", pmd[i]);
    rc = pn_err(ctx, PN_ERR_AUTH, "mpc net: %s presented certificate sha256 %s, not the pinned "
                "one (--peer-fingerprint)", n->peer, hex);
  }
  X509_free(peer);
  return rc;
}

static int tls_setup(struct pn_ctx *ctx, struct pn_mpc_net *n, const struct pn_net_opts *o) {
  char eb[256];
  n->sctx = SSL_CTX_new(n->server ? TLS_server_method() : TLS_client_method());
  if (!n->sctx) return pn_err(ctx, PN_ERR_NOMEM, "mpc net: TLS context failed");
  SSL_CTX_set_min_proto_version(n->sctx, TLS1_3_VERSION);
  SSL_CTX_set_mode(n->sctx, SSL_MODE_AUTO_RETRY);
  if (o->sec == PN_NET_TLS_PSK) {
    if (n->server) SSL_CTX_set_psk_server_callback(n->sctx, psk_server_cb);
    else SSL_CTX_set_psk_client_callback(n->sctx, psk_client_cb);
    SSL_CTX_set_ciphersuites(n->sctx, "TLS_AES_128_GCM_SHA256");
  } else {
    if (!o->cert || !o->key || !o->ca)
      return pn_err(ctx, PN_ERR_INVALID, "mpc net: certificate mode needs --cert, --key and --ca");
    if (SSL_CTX_use_certificate_chain_file(n->sctx, o->cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(n->sctx, o->key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(n->sctx, o->ca, NULL) != 1) {
      ERR_error_string_n(ERR_get_error(), eb, sizeof eb);
      /* INVALID, not IO: our own configuration, never a stranger's doing (a listener stops) */
      return pn_err(ctx, PN_ERR_INVALID, "mpc net: loading %s / %s / %s: %s", o->cert, o->key,
                    o->ca, eb);
    }
    SSL_CTX_set_verify(n->sctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  }
  n->ssl = SSL_new(n->sctx);
  if (!n->ssl) return pn_err(ctx, PN_ERR_NOMEM, "mpc net: TLS session failed");
  SSL_set_app_data(n->ssl, n);
  SSL_set_fd(n->ssl, n->fd);
  if (o->sec == PN_NET_TLS_CERT && o->peer_name) {
    /* checked during chain verification, on either side of the handshake */
    X509_VERIFY_PARAM *vp = SSL_get0_param(n->ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(vp, o->peer_name, 0) != 1)
      return pn_err(ctx, PN_ERR_INVALID, "mpc net: bad peer name '%s'", o->peer_name);
  }
  ERR_clear_error();
  struct sigpipe_guard g;
  sigpipe_block(&g);
  int r = n->server ? SSL_accept(n->ssl) : SSL_connect(n->ssl);
  sigpipe_unblock(&g);
  if (r != 1) {
    int e = SSL_get_error(n->ssl, r);
    unsigned long le = ERR_get_error();
    if (le) ERR_error_string_n(le, eb, sizeof eb);
    else snprintf(eb, sizeof eb, "%s", e == SSL_ERROR_SYSCALL || e == SSL_ERROR_WANT_READ
                                           ? "peer closed or stalled" : "handshake error");
    long vr = SSL_get_verify_result(n->ssl);
    int reason = ERR_GET_REASON(le);
    SSL_free(n->ssl);
    n->ssl = NULL;
    if (o->sec == PN_NET_TLS_PSK &&
        (reason == SSL_R_BINDER_DOES_NOT_VERIFY || reason == SSL_R_TLSV1_ALERT_DECRYPT_ERROR ||
         reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE || reason == SSL_R_NO_SHARED_CIPHER ||
         reason == SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER ||
         reason == SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM))
      return pn_err(ctx, PN_ERR_AUTH, "mpc net: wrong pre-shared key: %s holds another key (or a "
                    "key for another link than the %s link)", n->peer, n->ident + 11);
    if (o->sec == PN_NET_TLS_CERT && vr == X509_V_ERR_HOSTNAME_MISMATCH)
      return pn_err(ctx, PN_ERR_AUTH, "mpc net: %s presented a certificate not issued to '%s' "
                    "(--peer-name)", n->peer, o->peer_name);
    if (o->sec == PN_NET_TLS_CERT && vr != X509_V_OK)
      return pn_err(ctx, PN_ERR_AUTH, "mpc net: certificate of %s refused: %s", n->peer,
                    X509_verify_cert_error_string(vr));
    return pn_err(ctx, (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? PN_ERR_TIMEOUT
                       : PN_ERR_AUTH, "mpc net: TLS 1.3 handshake with %s failed: %s", n->peer, eb);
  }
  if (o->sec == PN_NET_TLS_CERT) return check_peer_cert(ctx, n, o);
  return PN_OK;
}

static void describe_peer(int fd, char *buf, size_t n) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char host[64] = "?", port[16] = "?";
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 ||
      (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
      getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(buf, n, "the peer");
    return;
  }
  snprintf(buf, n, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

const char *pn_mpc_net_peer(const struct pn_mpc_net *n) { return n->peer; }
int pn_mpc_net_is_server(const struct pn_mpc_net *n) { return n->server; }
void pn_mpc_net_set_timeout(struct pn_mpc_net *n, int ms) {
  n->timeout_ms = ms > 0 ? ms : 30000;
  set_timeouts(n->fd, n->timeout_ms);
}

int pn_mpc_net_from_fd(struct pn_ctx *ctx, int fd, int server, const struct pn_net_opts *o,
                       struct pn_mpc_net **out) {
  *out = NULL;
  struct pn_mpc_net *n = calloc(1, sizeof *n);
  if (!n) {
    close(fd);
    return pn_err(ctx, PN_ERR_NOMEM, "mpc net: out of memory");
  }
  n->fd = fd;
  n->server = server;
  n->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
  n->bw = o->emu_bw;
  n->rtt = o->emu_rtt;
  n->cpu_mark = thread_cpu();
  snprintf(n->ident, sizeof n->ident, "privnn-mpc-%.20s", o->link ? o->link : "party");
  describe_peer(fd, n->peer, sizeof n->peer);
  set_timeouts(fd, n->timeout_ms);
  if (o->psk) {
    if (o->psk_len < 16 || o->psk_len > sizeof n->key) {
      pn_mpc_net_free(n);
      return pn_err(ctx, PN_ERR_INSECURE, "mpc net: the pre-shared key must be 16 to 64 bytes");
    }
    memcpy(n->key, o->psk, o->psk_len);
    n->key_len = o->psk_len;
  }
  int rc = PN_OK;
  if (o->sec == PN_NET_PLAIN) n->hmac = o->psk != NULL;
  else if (o->sec == PN_NET_TLS_PSK && !o->psk)
    rc = pn_err(ctx, PN_ERR_INVALID, "mpc net: TLS PSK mode needs a key");
  else rc = tls_setup(ctx, n, o);
  if (rc) {
    pn_mpc_net_free(n);
    return rc;
  }
  *out = n;
  return PN_OK;
}

static int split_hostport(struct pn_ctx *ctx, const char *hp, char *host, size_t hn, char *port,
                          size_t pn) {
  const char *c = strrchr(hp, ':');
  if (!c || c == hp || !c[1] || (size_t)(c - hp) >= hn || strlen(c + 1) >= pn)
    return pn_err(ctx, PN_ERR_INVALID, "'%s': expected HOST:PORT", hp);
  memcpy(host, hp, (size_t)(c - hp));
  host[c - hp] = 0;
  strcpy(port, c + 1);
  return PN_OK;
}

int pn_mpc_net_bind(struct pn_ctx *ctx, const char *host, int port, int *fd_out, int *port_out) {
  struct addrinfo hints = {0}, *ai = NULL;
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
    return pn_err(ctx, PN_ERR_IO, "mpc net: cannot resolve '%s'", host);
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0) {
    freeaddrinfo(ai);
    return pn_err(ctx, PN_ERR_IO, "mpc net: socket: %s", strerror(errno));
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
    int e = errno;
    freeaddrinfo(ai);
    close(fd);
    return pn_err(ctx, PN_ERR_IO, "mpc net: listen on %s:%d: %s", host, port, strerror(e));
  }
  freeaddrinfo(ai);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  if (port_out)
    *port_out = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
  *fd_out = fd;
  return PN_OK;
}

int pn_mpc_net_accept_keep(struct pn_ctx *ctx, int lfd, const struct pn_net_opts *o,
                           struct pn_mpc_net **out) {
  return pn_mpc_net_accept_peer(ctx, lfd, o, o->timeout_ms > 0 ? o->timeout_ms : 30000, NULL,
                                NULL, out);
}

int pn_mpc_net_accept(struct pn_ctx *ctx, int lfd, const struct pn_net_opts *o,
                      struct pn_mpc_net **out) {
  int rc = pn_mpc_net_accept_peer(ctx, lfd, o, o->timeout_ms > 0 ? o->timeout_ms : 30000, NULL,
                                  NULL, out);
  close(lfd);
  return rc;
}

/* A failure a stranger can cause (dropped and logged) rather than a refused real peer. */
static int stranger_failure(int rc) {
  return rc == PN_ERR_PROTOCOL || rc == PN_ERR_AUTH || rc == PN_ERR_TIMEOUT || rc == PN_ERR_IO;
}

int pn_mpc_net_accept_peer(struct pn_ctx *ctx, int lfd, const struct pn_net_opts *o, int wait_ms,
                           int (*check)(struct pn_ctx *, struct pn_mpc_net *, void *), void *user,
                           struct pn_mpc_net **out) {
  *out = NULL;
  int full = o->timeout_ms > 0 ? o->timeout_ms : 30000, dropped = 0;
  double deadline = pn_now() + wait_ms / 1000.0;
  char last[PN_ERRMSG_MAX] = "";
  struct pn_net_opts so = *o;
  so.timeout_ms = full < 10000 ? full : 10000; /* a stranger holds the service this long at most */
  for (;;) {
    int left = (int)((deadline - pn_now()) * 1000);
    struct pollfd p = {lfd, POLLIN, 0};
    int r = left > 0 ? poll(&p, 1, left) : 0;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (!dropped)
        return pn_err(ctx, PN_ERR_TIMEOUT, "mpc net: no peer connected within %d ms", wait_ms);
      return pn_err(ctx, PN_ERR_TIMEOUT, "mpc net: no peer completed the handshake within %d ms "
                    "(%d connection(s) dropped; the last: %s)", wait_ms, dropped, last);
    }
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
      return pn_err(ctx, PN_ERR_IO, "mpc net: accept: %s", strerror(errno));
    }
    char who[80];
    describe_peer(fd, who, sizeof who);
    struct pn_ctx sub = {0};
    struct pn_mpc_net *n = NULL;
    int rc = pn_mpc_net_from_fd(&sub, fd, 1, &so, &n);
    if (rc == PN_OK && check) rc = check(&sub, n, user);
    if (rc == PN_OK) {
      pn_mpc_net_set_timeout(n, full);
      *out = n;
      return PN_OK;
    }
    pn_mpc_net_free(n);
    if (!stranger_failure(rc)) {
      pn_err(ctx, rc, "%s", pn_errmsg(&sub));
      return rc;
    }
    dropped++;
    snprintf(last, sizeof last, "%s", pn_errmsg(&sub));
    if (o->log) {
      char msg[PN_ERRMSG_MAX + 128];
      snprintf(msg, sizeof msg, "dropped a connection from %s: %s", who, last);
      o->log(o->log_user, msg);
    }
  }
}

int pn_mpc_net_listen(struct pn_ctx *ctx, const char *hostport, const struct pn_net_opts *o,
                      struct pn_mpc_net **out) {
  char host[256], port[16];
  int rc = split_hostport(ctx, hostport, host, sizeof host, port, sizeof port), lfd;
  if (rc) return rc;
  if ((rc = pn_mpc_net_bind(ctx, host, atoi(port), &lfd, NULL))) return rc;
  return pn_mpc_net_accept(ctx, lfd, o, out);
}

int pn_mpc_net_connect(struct pn_ctx *ctx, const char *hostport, const struct pn_net_opts *o,
                       struct pn_mpc_net **out) {
  char host[256], port[16];
  int rc = split_hostport(ctx, hostport, host, sizeof host, port, sizeof port);
  if (rc) return rc;
  int ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
  int wait = o->connect_wait_ms > 0 ? o->connect_wait_ms : ms;
  double deadline = pn_now() + wait / 1000.0;
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
    return pn_err(ctx, PN_ERR_IO, "mpc net: cannot resolve '%s'", hostport);
  int err = 0;
  for (;;) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      break;
    }
    set_timeouts(fd, ms);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      freeaddrinfo(ai);
      return pn_mpc_net_from_fd(ctx, fd, 0, o, out);
    }
    err = errno;
    close(fd);
    if (pn_now() > deadline) break;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  freeaddrinfo(ai);
  if (err == EINPROGRESS || err == EAGAIN || err == ETIMEDOUT)
    return pn_err(ctx, PN_ERR_TIMEOUT, "mpc net: connect to %s: no answer within %d ms (is the "
                  "host up, and is no firewall dropping the port?)", hostport, wait);
  if (err == ECONNREFUSED)
    return pn_err(ctx, PN_ERR_IO, "mpc net: connect to %s: connection refused for %d ms (nothing "
                  "listening on that port yet?)", hostport, wait);
  return pn_err(ctx, PN_ERR_IO, "mpc net: connect to %s: %s", hostport, strerror(err));
}

void pn_mpc_net_free(struct pn_mpc_net *n) {
  if (!n) return;
  if (n->ssl) {
    if (!n->broken) {
      struct sigpipe_guard g;
      sigpipe_block(&g);
      SSL_shutdown(n->ssl);
      sigpipe_unblock(&g);
    }
    SSL_free(n->ssl);
  }
  SSL_CTX_free(n->sctx);
  if (n->fd >= 0) close(n->fd);
  if (n->sbuf) pn_wipe_free(n->sbuf, n->scap);
  pn_wipe_free(n, sizeof *n);
}
