/* test_mpc_net.c - two parties over sockets: bit-identical to the simulator, TLS PSK, framing
** errors, dropped and stalled peers, the link emulator, and dealer files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpc/dealer.h"
#include "mpc/mpc.h"
#include "mpc/net.h"
#include "mpc/relu.h"
#include "util/util.h"

enum { N = 300, MM = 4, MK = 5, MN = 6 };

static uint8_t master[32];

/* The workload: ReLU full and HB (carry tree, and a dealer table for n = 7), a matrix product and
** an elementwise product. */
struct work {
  uint64_t x[2][N], A[2][MM * MK], B[2][MK * MN];     /* input shares per party */
  uint64_t yf[2][N], yh[2][N], C[2][MM * MN], z[2][N]; /* outputs */
  uint64_t yl[2][N];
  struct pn_mpc_stats st[2];
};

static int run_workload(struct pn_mpc *m, struct work *w) {
  pn_sh x, yf, yh, yl, A, B, C, z;
  for (int v = 0; v < m->nv; v++) {
    int p = m->id[v];
    x[v] = w->x[p];
    yf[v] = w->yf[p];
    yh[v] = w->yh[p];
    yl[v] = w->yl[p];
    A[v] = w->A[p];
    B[v] = w->B[p];
    C[v] = w->C[p];
    z[v] = w->z[p];
  }
  int rc;
  if ((rc = pn_mpc_relu(m, N, x, PN_RELU_FULL, 0, 64, yf))) return rc;
  if ((rc = pn_mpc_relu(m, N, x, PN_RELU_HB, 3, 40, yh))) return rc;
  if ((rc = pn_mpc_relu(m, N, x, PN_RELU_HB, 33, 40, yl))) return rc;
  if ((rc = pn_mpc_matmul(m, MM, MK, MN, A, B, C))) return rc;
  if ((rc = pn_mpc_mul(m, N, yf, yh, z))) return rc;
  for (int v = 0; v < m->nv; v++) w->st[m->id[v]] = m->st;
  return PN_OK;
}

static void make_inputs(struct work *w) {
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(NULL, &prg, 77), PN_OK);
  uint64_t x[N], a[MM * MK], b[MK * MN];
  for (int i = 0; i < N; i++) x[i] = (uint64_t)((int64_t)pn_prg_uniform(&prg, 1u << 30) - (1 << 29));
  pn_prg_bytes(&prg, a, sizeof a);
  pn_prg_bytes(&prg, b, sizeof b);
  memset(w, 0, sizeof *w);
  pn_mpc_split(&prg, N, x, w->x[0], w->x[1]);
  pn_mpc_split(&prg, MM * MK, a, w->A[0], w->A[1]);
  pn_mpc_split(&prg, MK * MN, b, w->B[0], w->B[1]);
  pn_prg_free(&prg);
}

struct party_arg {
  int id, fd, server;
  struct pn_net_opts opts;
  struct work *w;
  struct pn_mpc_dealer *dealer; /* NULL = embedded from master */
  int rc;
  struct pn_ctx ctx;
  double emu, vclock;
};

static void *party_main(void *p) {
  struct party_arg *a = p;
  struct pn_mpc_net *net = NULL;
  struct pn_mpc_dealer *d = a->dealer;
  a->rc = pn_mpc_net_from_fd(&a->ctx, a->fd, a->server, &a->opts, &net);
  if (a->rc) return NULL;
  if (!d && (a->rc = pn_dealer_new_embedded(&a->ctx, master, &d))) goto out;
  struct pn_mpc m;
  pn_mpc_init_party(&m, &a->ctx, a->id, net, d, 16);
  pn_mpc_net_vclock_reset(net);
  a->rc = run_workload(&m, a->w);
  pn_mpc_release(&m);
  a->emu = pn_mpc_net_emu_seconds(net);
  a->vclock = pn_mpc_net_vclock(net);
out:
  if (!a->dealer) pn_dealer_free(d);
  pn_mpc_net_free(net);
  return NULL;
}

static void run_pair(struct work *w, const struct pn_net_opts *o0, const struct pn_net_opts *o1,
                     struct party_arg a[2]) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  pthread_t t[2];
  for (int p = 0; p < 2; p++) {
    a[p].id = p;
    a[p].fd = sv[p];
    a[p].server = p == 0;
    a[p].opts = p ? *o1 : *o0;
    a[p].w = w;
    assert_int_equal(pthread_create(&t[p], NULL, party_main, &a[p]), 0);
  }
  for (int p = 0; p < 2; p++) pthread_join(t[p], NULL);
}

static void test_two_party_bit_identical_to_sim(void **state) {
  static struct work sim, real;
  make_inputs(&sim);
  make_inputs(&real);
  struct pn_ctx ctx = {0};
  struct pn_mpc_dealer *d;
  assert_int_equal(pn_dealer_new_embedded(&ctx, master, &d), PN_OK);
  struct pn_mpc m;
  pn_mpc_init_sim(&m, &ctx, d, 16);
  assert_int_equal(run_workload(&m, &sim), PN_OK);
  pn_mpc_release(&m);
  pn_dealer_free(d);

  struct pn_net_opts o = {.timeout_ms = 10000};
  struct party_arg a[2] = {0};
  run_pair(&real, &o, &o, a);
  assert_int_equal(a[0].rc, PN_OK);
  assert_int_equal(a[1].rc, PN_OK);
  /* every output share of both parties equals the simulator's, bit for bit */
  assert_memory_equal(sim.yf, real.yf, sizeof sim.yf);
  assert_memory_equal(sim.yh, real.yh, sizeof sim.yh);
  assert_memory_equal(sim.yl, real.yl, sizeof sim.yl);
  assert_memory_equal(sim.C, real.C, sizeof sim.C);
  assert_memory_equal(sim.z, real.z, sizeof sim.z);
  assert_true(sim.st[0].bytes == real.st[0].bytes && sim.st[0].rounds == real.st[0].rounds);
  assert_true(real.st[0].bytes == real.st[1].bytes);
  /* and the results are right: ReLU of the reconstructed input */
  for (int i = 0; i < N; i++) {
    uint64_t x = real.x[0][i] + real.x[1][i], want = (int64_t)x >= 0 ? x : 0;
    assert_true(real.yf[0][i] + real.yf[1][i] == want);
    uint64_t sum = ((real.x[0][i] >> 33) & 127) + ((real.x[1][i] >> 33) & 127);
    assert_true(real.yl[0][i] + real.yl[1][i] == (((sum >> 6) & 1) ? 0 : x));
  }
}

static void test_tls_psk_and_wrong_key(void **state) {
  static struct work w, ref;
  make_inputs(&w);
  make_inputs(&ref);
  uint8_t k1[32], k2[32];
  memset(k1, 0x11, sizeof k1);
  memset(k2, 0x22, sizeof k2);
  struct pn_net_opts o = {.timeout_ms = 10000, .sec = PN_NET_TLS_PSK, .psk = k1, .psk_len = 32};
  struct party_arg a[2] = {0};
  run_pair(&w, &o, &o, a);
  assert_int_equal(a[0].rc, PN_OK);
  assert_int_equal(a[1].rc, PN_OK);
  struct party_arg b[2] = {0};
  struct pn_net_opts plain = {.timeout_ms = 10000};
  run_pair(&ref, &plain, &plain, b);
  assert_memory_equal(w.yh, ref.yh, sizeof w.yh); /* TLS changes nothing but the wire */
  assert_memory_equal(w.yl, ref.yl, sizeof w.yl);

  struct pn_net_opts o2 = o;
  o2.psk = k2;
  struct party_arg c[2] = {0};
  run_pair(&w, &o, &o2, c);
  assert_int_not_equal(c[0].rc, PN_OK);
  assert_int_not_equal(c[1].rc, PN_OK);
  assert_true(c[0].rc == PN_ERR_AUTH || c[1].rc == PN_ERR_AUTH);
  printf("wrong PSK: P0 '%s' / P1 '%s'\n", pn_errmsg(&c[0].ctx), pn_errmsg(&c[1].ctx));
  /* said in words a person understands, not OpenSSL's reason code */
  assert_true(strstr(pn_errmsg(&c[0].ctx), "wrong pre-shared key") ||
              strstr(pn_errmsg(&c[1].ctx), "wrong pre-shared key"));
  /* the right key made for another link (the dealer link) does not open the party link */
  struct pn_net_opts od = o;
  od.link = "dealer";
  struct party_arg cl[2] = {0};
  run_pair(&w, &o, &od, cl);
  assert_int_not_equal(cl[0].rc, PN_OK);
  assert_int_not_equal(cl[1].rc, PN_OK);

  /* HMAC-framed plain TCP with mismatched keys fails authentication */
  struct pn_net_opts h1 = {.timeout_ms = 10000, .psk = k1, .psk_len = 32}, h2 = h1;
  h2.psk = k2;
  struct party_arg e[2] = {0};
  run_pair(&w, &h1, &h2, e);
  assert_true(e[0].rc == PN_ERR_AUTH || e[1].rc == PN_ERR_AUTH);
  /* a short key is refused as insecure */
  struct pn_ctx ctx = {0};
  struct pn_mpc_net *n = NULL;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  struct pn_net_opts shortk = {.psk = k1, .psk_len = 8};
  assert_int_equal(pn_mpc_net_from_fd(&ctx, sv[0], 0, &shortk, &n), PN_ERR_INSECURE);
  close(sv[1]);
}

/* ---- mutual certificates: a CA, two party certificates it signs, and one from another CA ---- */
static EVP_PKEY *make_cert(const char *cn, EVP_PKEY *issuer_key, X509 *issuer, int ca, long serial,
                           X509 **out) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  assert_non_null(k);
  assert_non_null(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, k);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                                          ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  assert_true(X509_sign(x, issuer_key ? issuer_key : k, EVP_sha256()) > 0);
  *out = x;
  return k;
}

static void write_pem(const char *path, X509 *x, EVP_PKEY *k) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  if (x) PEM_write_X509(f, x);
  if (k) PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
  fclose(f);
}

static void test_tls_certificates(void **state) {
  char dir[] = "/tmp/pn_mpc_certXXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[8][300];
  const char *names[8] = {"ca.pem", "p0.pem", "p0.key", "p1.pem", "p1.key", "rogue.pem",
                          "rogue.key", "rogueca.pem"};
  for (int i = 0; i < 8; i++) snprintf(path[i], sizeof path[i], "%s/%s", dir, names[i]);
  char dpath[2][300];
  snprintf(dpath[0], sizeof dpath[0], "%s/dealer.pem", dir);
  snprintf(dpath[1], sizeof dpath[1], "%s/dealer.key", dir);
  X509 *ca, *c0, *c1, *rca, *rc;
  EVP_PKEY *kca = make_cert("privnn test CA", NULL, NULL, 1, 1, &ca);
  EVP_PKEY *k0 = make_cert("P0", kca, ca, 0, 2, &c0);
  EVP_PKEY *k1 = make_cert("P1", kca, ca, 0, 3, &c1);
  EVP_PKEY *krca = make_cert("rogue CA", NULL, NULL, 1, 4, &rca);
  EVP_PKEY *kr = make_cert("P1", krca, rca, 0, 5, &rc);
  X509 *cd;
  EVP_PKEY *kd = make_cert("dealer", kca, ca, 0, 6, &cd); /* the same CA's dealer certificate */
  write_pem(dpath[0], cd, NULL);
  write_pem(dpath[1], NULL, kd);
  write_pem(path[0], ca, NULL);
  write_pem(path[1], c0, NULL);
  write_pem(path[2], NULL, k0);
  write_pem(path[3], c1, NULL);
  write_pem(path[4], NULL, k1);
  write_pem(path[5], rc, NULL);
  write_pem(path[6], NULL, kr);
  write_pem(path[7], rca, NULL);
  static struct work w, ref;
  make_inputs(&w);
  make_inputs(&ref);
  struct pn_net_opts o0 = {.timeout_ms = 10000, .sec = PN_NET_TLS_CERT, .cert = path[1],
                           .key = path[2], .ca = path[0], .peer_name = "P1"};
  struct pn_net_opts o1 = o0;
  o1.cert = path[3];
  o1.key = path[4];
  o1.peer_name = "P0";
  struct party_arg a[2] = {0};
  run_pair(&w, &o0, &o1, a);
  assert_int_equal(a[0].rc, PN_OK);
  assert_int_equal(a[1].rc, PN_OK);
  struct pn_net_opts plain = {.timeout_ms = 10000};
  struct party_arg b[2] = {0};
  run_pair(&ref, &plain, &plain, b);
  assert_memory_equal(w.yh, ref.yh, sizeof w.yh);
  assert_memory_equal(w.yl, ref.yl, sizeof w.yl);
  /* P1 presents a certificate from another CA: both sides fail */
  struct pn_net_opts bad = o1;
  bad.cert = path[5];
  bad.key = path[6];
  struct party_arg c[2] = {0};
  run_pair(&w, &o0, &bad, c);
  assert_int_not_equal(c[0].rc, PN_OK);
  assert_int_not_equal(c[1].rc, PN_OK);
  assert_true(c[0].rc == PN_ERR_AUTH || c[1].rc == PN_ERR_AUTH);
  printf("rogue certificate: P0 '%s' / P1 '%s'\n", pn_errmsg(&c[0].ctx), pn_errmsg(&c[1].ctx));
  /* the CA's certificates of other names are refused by name, on the side that checks it:
  ** the dealer's certificate posing as P1, P1 expecting someone else */
  struct pn_net_opts dealer_as_p1 = o1;
  dealer_as_p1.cert = dpath[0];
  dealer_as_p1.key = dpath[1];
  struct party_arg nd[2] = {0};
  run_pair(&w, &o0, &dealer_as_p1, nd);
  assert_int_equal(nd[0].rc, PN_ERR_AUTH);
  assert_non_null(strstr(pn_errmsg(&nd[0].ctx), "'P1'"));
  assert_int_not_equal(nd[1].rc, PN_OK);
  printf("dealer certificate as P1: P0 '%s'\n", pn_errmsg(&nd[0].ctx));
  struct pn_net_opts wrong_name = o1;
  wrong_name.peer_name = "P7";
  struct party_arg wn[2] = {0};
  run_pair(&w, &o0, &wrong_name, wn);
  assert_int_equal(wn[1].rc, PN_ERR_AUTH);
  assert_int_not_equal(wn[0].rc, PN_OK);
  /* the same certificate on both sides: each refuses to talk to itself */
  struct pn_net_opts self0 = o0, self1 = o0;
  self0.peer_name = self1.peer_name = "P0";
  struct party_arg sf[2] = {0};
  run_pair(&w, &self0, &self1, sf);
  assert_int_equal(sf[0].rc, PN_ERR_AUTH);
  assert_non_null(strstr(pn_errmsg(&sf[0].ctx), "our own certificate"));
  assert_int_not_equal(sf[1].rc, PN_OK);
  /* pinning by fingerprint: P1's real SHA-256 passes, one flipped digit fails */
  uint8_t md[32];
  unsigned mdl = 0;
  assert_int_equal(X509_digest(c1, EVP_sha256(), md, &mdl), 1);
  char fp[100];
  for (int i = 0; i < 32; i++) snprintf(fp + 3 * i, 4, i < 31 ? "%02X:" : "%02X", md[i]);
  struct pn_net_opts pin = o0;
  pin.peer_name = NULL;
  pin.peer_fingerprint = fp;
  struct party_arg pf[2] = {0};
  run_pair(&w, &pin, &o1, pf);
  assert_int_equal(pf[0].rc, PN_OK);
  assert_int_equal(pf[1].rc, PN_OK);
  fp[0] = fp[0] == '0' ? '1' : '0';
  struct party_arg pb[2] = {0};
  run_pair(&w, &pin, &o1, pb);
  assert_int_equal(pb[0].rc, PN_ERR_AUTH);
  assert_non_null(strstr(pn_errmsg(&pb[0].ctx), "pinned"));
  X509_free(cd);
  EVP_PKEY_free(kd);
  unlink(dpath[0]);
  unlink(dpath[1]);
  /* a missing key file is a clean error */
  struct pn_net_opts missing = o1;
  missing.key = "/nonexistent/key.pem";
  struct party_arg d[2] = {0};
  run_pair(&w, &o0, &missing, d);
  assert_int_equal(d[1].rc, PN_ERR_INVALID);
  assert_int_not_equal(d[0].rc, PN_OK);
  X509 *xs[] = {ca, c0, c1, rca, rc};
  EVP_PKEY *ks[] = {kca, k0, k1, krca, kr};
  for (int i = 0; i < 5; i++) {
    X509_free(xs[i]);
    EVP_PKEY_free(ks[i]);
  }
  for (int i = 0; i < 8; i++) unlink(path[i]);
  rmdir(dir);
}

static void put_hdr(uint8_t h[16], uint32_t magic, uint32_t seq, uint64_t len) {
  for (int i = 0; i < 4; i++) h[i] = (uint8_t)(magic >> (8 * i));
  for (int i = 0; i < 4; i++) h[4 + i] = (uint8_t)(seq >> (8 * i));
  for (int i = 0; i < 8; i++) h[8 + i] = (uint8_t)(len >> (8 * i));
}

/* Feed raw bytes from a fake peer; the receiver must fail with the given code. */
static void expect_recv_error(const uint8_t *raw, size_t n, int close_after, int want) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  struct pn_ctx ctx = {0};
  struct pn_mpc_net *net = NULL;
  struct pn_net_opts o = {.timeout_ms = 300};
  assert_int_equal(pn_mpc_net_from_fd(&ctx, sv[0], 0, &o, &net), PN_OK);
  if (n) assert_int_equal(write(sv[1], raw, n), (ssize_t)n);
  if (close_after) close(sv[1]);
  uint64_t buf[8];
  assert_int_equal(pn_mpc_net_recv(&ctx, net, buf, 64), want);
  printf("  -> %s\n", pn_errmsg(&ctx));
  /* the connection is dead afterwards */
  assert_int_not_equal(pn_mpc_net_recv(&ctx, net, buf, 64), PN_OK);
  pn_mpc_net_free(net);
  if (!close_after) close(sv[1]);
}

static void test_malformed_dropped_stalled(void **state) {
  uint8_t raw[16 + 64];
  memset(raw, 0xab, sizeof raw);
  put_hdr(raw, 0xdeadbeef, 0, 64);
  expect_recv_error(raw, 16, 0, PN_ERR_PROTOCOL);     /* bad magic */
  put_hdr(raw, 0x464d4e50u, 5, 64);
  expect_recv_error(raw, 16, 0, PN_ERR_PROTOCOL);     /* out of sequence */
  put_hdr(raw, 0x464d4e50u, 0, (uint64_t)1 << 40);
  expect_recv_error(raw, 16, 0, PN_ERR_PROTOCOL);     /* oversized */
  put_hdr(raw, 0x464d4e50u, 0, 63);
  expect_recv_error(raw, 16, 0, PN_ERR_PROTOCOL);     /* wrong length */
  put_hdr(raw, 0x464d4e50u, 0, 64);
  expect_recv_error(raw, 16 + 10, 1, PN_ERR_IO);      /* peer drops mid-frame */
  expect_recv_error(raw, 0, 1, PN_ERR_IO);            /* peer gone */
  expect_recv_error(raw, 7, 0, PN_ERR_TIMEOUT);       /* peer stalls mid-header */
  expect_recv_error(raw, 0, 0, PN_ERR_TIMEOUT);       /* peer never speaks */

  /* a two-party run whose peer disappears stops with an error on the survivor */
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  static struct work w;
  make_inputs(&w);
  struct party_arg a = {.id = 0, .fd = sv[0], .server = 1, .w = &w,
                        .opts = {.timeout_ms = 2000}};
  close(sv[1]);
  party_main(&a);
  assert_int_equal(a.rc, PN_ERR_IO);
}

static void test_link_emulator(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_net_opts o = {0};
  assert_int_equal(pn_net_parse_emu(&ctx, "lan", &o), PN_OK);
  assert_true(o.emu_bw == 1e9 && o.emu_rtt == 0.5e-3);
  assert_int_equal(pn_net_parse_emu(&ctx, "wan", &o), PN_OK);
  assert_true(o.emu_bw == 100e6 && o.emu_rtt == 40e-3);
  assert_int_equal(pn_net_parse_emu(&ctx, "200,10", &o), PN_OK);
  assert_true(o.emu_bw == 200e6 && o.emu_rtt == 10e-3);
  assert_int_equal(pn_net_parse_emu(&ctx, "fast", &o), PN_ERR_INVALID);
  assert_int_equal(pn_net_parse_emu(&ctx, "-1,3", &o), PN_ERR_INVALID);
  static struct work w;
  make_inputs(&w);
  struct pn_net_opts e = {.timeout_ms = 10000, .emu_bw = 1e9, .emu_rtt = 2e-3};
  struct party_arg a[2] = {0};
  struct timespec c0, c1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  run_pair(&w, &e, &e, a);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  assert_int_equal(a[0].rc, PN_OK);
  assert_int_equal(a[1].rc, PN_OK);
  /* every exchange is charged at least RTT/2 + 8 bytes / BW of emulated time */
  double floor = w.st[0].rounds * 1e-3 + 8.0 * (double)w.st[0].bytes / 1e9;
  assert_true(a[0].emu >= floor && a[1].emu >= floor);
  /* the virtual clock: the rounds are sequential, so it is at least the link's time, and the
  ** rest is compute, at most the CPU time both parties used (the sleeps do not count) */
  double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
  for (int p = 0; p < 2; p++) {
    assert_true(a[p].vclock >= floor);
    assert_true(a[p].vclock <= a[p].emu + cpu + 1e-6);
  }
  /* one side emulating and the other not: a clean protocol error, no hang */
  struct pn_net_opts plain = {.timeout_ms = 3000};
  struct party_arg b[2] = {0};
  run_pair(&w, &e, &plain, b);
  assert_true(b[0].rc != PN_OK && b[1].rc != PN_OK);
  assert_true(b[0].rc == PN_ERR_PROTOCOL || b[1].rc == PN_ERR_PROTOCOL);
}

static void test_dealer_files(void **state) {
  char dir[] = "/tmp/pn_mpc_dealerXXXXXX";
  assert_non_null(mkdtemp(dir));
  char p0[256], p1[256];
  snprintf(p0, sizeof p0, "%s/p0.dealer", dir);
  snprintf(p1, sizeof p1, "%s/p1.dealer", dir);
  struct pn_dealer_binding bind = {.batch = 1, .frac = 16, .batches = 1};
  memset(bind.model, 1, 32);
  memset(bind.plan, 2, 32);
  struct pn_ctx ctx = {0};
  static struct work sim, real;
  make_inputs(&sim);
  make_inputs(&real);
  /* record by running the simulator with a recording dealer */
  struct pn_mpc_dealer *rec = NULL;
  assert_int_equal(pn_dealer_new_recorder(&ctx, master, &bind, p0, p1, &rec), PN_OK);
  struct pn_mpc m;
  pn_mpc_init_sim(&m, &ctx, rec, 16);
  assert_int_equal(run_workload(&m, &sim), PN_OK);
  pn_mpc_release(&m);
  assert_true(pn_dealer_bytes(rec) > 0);
  assert_int_equal(pn_dealer_finish(&ctx, rec), PN_OK);
  pn_dealer_free(rec);
  /* the parties run from their files and reproduce the simulator exactly */
  struct pn_mpc_dealer *d0 = NULL, *d1 = NULL;
  assert_int_equal(pn_dealer_open_file(&ctx, p0, 0, &bind, &d0), PN_OK);
  assert_int_equal(pn_dealer_open_file(&ctx, p1, 1, &bind, &d1), PN_OK);
  struct pn_net_opts o = {.timeout_ms = 10000};
  struct party_arg a[2] = {{.dealer = d0}, {.dealer = d1}};
  run_pair(&real, &o, &o, a);
  assert_int_equal(a[0].rc, PN_OK);
  assert_int_equal(a[1].rc, PN_OK);
  assert_memory_equal(sim.yh, real.yh, sizeof sim.yh);
  assert_memory_equal(sim.yl, real.yl, sizeof sim.yl);
  assert_memory_equal(sim.C, real.C, sizeof sim.C);
  assert_memory_equal(sim.z, real.z, sizeof sim.z);
  /* both files of the pair carry one session id */
  uint8_t s0[16], s1[16], zero[16] = {0};
  pn_dealer_session(d0, s0);
  pn_dealer_session(d1, s1);
  assert_memory_equal(s0, s1, 16);
  assert_memory_not_equal(s0, zero, 16);
  pn_dealer_free(d0);
  pn_dealer_free(d1);
  /* single use: both files were marked when the run took their first correlation, and a
  ** second run from them is refused before any material is handed out */
  assert_int_equal(pn_dealer_open_file(&ctx, p1, 1, &bind, &d1), PN_ERR_INSECURE);
  assert_non_null(strstr(pn_errmsg(&ctx), "already used"));
  assert_null(d1);
  assert_int_equal(pn_dealer_open_file(&ctx, p0, 0, &bind, &d0), PN_ERR_INSECURE);
  /* a file opened but never asked for material (the peer never came) stays usable */
  char q0[256], q1[256];
  snprintf(q0, sizeof q0, "%s/q0.dealer", dir);
  snprintf(q1, sizeof q1, "%s/q1.dealer", dir);
  assert_int_equal(pn_dealer_new_recorder(&ctx, master, &bind, q0, q1, &rec), PN_OK);
  pn_mpc_init_sim(&m, &ctx, rec, 16);
  assert_int_equal(run_workload(&m, &sim), PN_OK);
  pn_mpc_release(&m);
  assert_int_equal(pn_dealer_finish(&ctx, rec), PN_OK);
  uint8_t s2[16];
  pn_dealer_session(rec, s2);
  assert_memory_not_equal(s2, s0, 16); /* every recording is a new session */
  pn_dealer_free(rec);
  assert_int_equal(pn_dealer_open_file(&ctx, q1, 1, &bind, &d1), PN_OK);
  pn_dealer_free(d1);
  /* exhausted: a second pass over the workload needs records the file does not have */
  assert_int_equal(pn_dealer_open_file(&ctx, q1, 1, &bind, &d1), PN_OK);
  assert_int_equal(pn_dealer_open_file(&ctx, q0, 0, &bind, &d0), PN_OK);
  struct party_arg b[2] = {{.dealer = d0}, {.dealer = d1}};
  run_pair(&real, &o, &o, b);
  assert_int_equal(b[1].rc, PN_OK);
  struct party_arg c[2] = {{.dealer = d0}, {.dealer = d1}};
  run_pair(&real, &o, &o, c);
  assert_int_equal(c[1].rc, PN_ERR_MISMATCH);
  pn_dealer_free(d0);
  pn_dealer_free(d1);
  unlink(q0);
  unlink(q1);
  /* mismatched bindings and party */
  struct pn_dealer_binding other = bind;
  other.model[0] ^= 1;
  assert_int_equal(pn_dealer_open_file(&ctx, p1, 1, &other, &d1), PN_ERR_MISMATCH);
  other = bind;
  other.plan[5] ^= 1;
  assert_int_equal(pn_dealer_open_file(&ctx, p1, 1, &other, &d1), PN_ERR_MISMATCH);
  other = bind;
  other.batch = 8;
  assert_int_equal(pn_dealer_open_file(&ctx, p1, 1, &other, &d1), PN_ERR_MISMATCH);
  other = bind;
  other.batches = 2;
  assert_int_equal(pn_dealer_open_file(&ctx, p1, 1, &other, &d1), PN_ERR_MISMATCH);
  assert_int_equal(pn_dealer_open_file(&ctx, p1, 0, &bind, &d1), PN_ERR_MISMATCH);
  assert_null(d1);
  /* a flipped byte anywhere, a truncated file, a missing file */
  uint8_t *buf;
  size_t n;
  assert_int_equal(pn_read_file(&ctx, p1, 0, &buf, &n), PN_OK);
  size_t spots[] = {0, 9, 40, 130, 200, n / 2, n - 1};
  for (size_t i = 0; i < sizeof spots / sizeof *spots; i++) {
    buf[spots[i]] ^= 0x40;
    assert_int_equal(pn_write_file_atomic(&ctx, p1, buf, n, 0600), PN_OK);
    assert_int_equal(pn_dealer_open_file(&ctx, p1, 1, &bind, &d1), PN_ERR_CORRUPT);
    buf[spots[i]] ^= 0x40;
  }
  assert_int_equal(pn_write_file_atomic(&ctx, p1, buf, 100, 0600), PN_OK);
  assert_int_equal(pn_dealer_open_file(&ctx, p1, 1, &bind, &d1), PN_ERR_CORRUPT);
  free(buf);
  unlink(p0);
  unlink(p1);
  assert_int_equal(pn_dealer_open_file(&ctx, p1, 1, &bind, &d1), PN_ERR_IO);
  rmdir(dir);
}

/* ---- the online dealer: a server thread, each party connected to it over its own socketpair ---- */
struct online_party {
  int id, peer_fd, dealer_fd;
  struct work *w;
  struct pn_dealer_binding bind;
  int rc;
  struct pn_ctx ctx;
  uint64_t dealer_bytes;
  uint8_t session[16];
};

static void *online_party_main(void *p) {
  struct online_party *a = p;
  struct pn_net_opts o = {.timeout_ms = 10000};
  struct pn_mpc_net *peer = NULL, *dn = NULL;
  struct pn_mpc_dealer *d = NULL;
  if ((a->rc = pn_mpc_net_from_fd(&a->ctx, a->dealer_fd, 0, &o, &dn)) ||
      (a->rc = pn_dealer_connect(&a->ctx, dn, a->id, &a->bind, &d)) ||
      (a->rc = pn_mpc_net_from_fd(&a->ctx, a->peer_fd, a->id == 0, &o, &peer)))
    goto out;
  pn_dealer_session(d, a->session);
  struct pn_mpc m;
  pn_mpc_init_party(&m, &a->ctx, a->id, peer, d, 16);
  a->rc = run_workload(&m, a->w);
  pn_mpc_release(&m);
  a->dealer_bytes = pn_dealer_bytes(d);
out:
  pn_dealer_free(d); /* before its link: ends the session */
  pn_mpc_net_free(dn);
  pn_mpc_net_free(peer);
  return NULL;
}

struct server_arg {
  int fd[2];
  struct pn_dealer_binding bind;
  int rc;
  uint64_t bytes;
  struct pn_ctx ctx;
};

static void *server_main(void *p) {
  struct server_arg *s = p;
  struct pn_net_opts o = {.timeout_ms = 10000};
  struct pn_mpc_net *n[2] = {NULL, NULL};
  s->rc = pn_mpc_net_from_fd(&s->ctx, s->fd[0], 1, &o, &n[0]);
  if (s->rc == PN_OK) s->rc = pn_mpc_net_from_fd(&s->ctx, s->fd[1], 1, &o, &n[1]);
  if (s->rc == PN_OK) s->rc = pn_dealer_serve(&s->ctx, master, &s->bind, n[0], n[1], &s->bytes);
  pn_mpc_net_free(n[0]);
  pn_mpc_net_free(n[1]);
  return NULL;
}

static void run_online(struct work *w, const struct pn_dealer_binding *sb,
                       const struct pn_dealer_binding *pb, struct online_party p[2],
                       struct server_arg *srv) {
  int peer[2], d0[2], d1[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, peer), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, d0), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, d1), 0);
  /* the server sees P1's connection first: the order must not matter */
  *srv = (struct server_arg){.fd = {d1[0], d0[0]}, .bind = *sb};
  pthread_t t[3];
  assert_int_equal(pthread_create(&t[2], NULL, server_main, srv), 0);
  for (int i = 0; i < 2; i++) {
    p[i] = (struct online_party){.id = i, .peer_fd = peer[i], .dealer_fd = i ? d1[1] : d0[1],
                                 .w = w, .bind = *pb};
    assert_int_equal(pthread_create(&t[i], NULL, online_party_main, &p[i]), 0);
  }
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
}

static void test_online_dealer(void **state) {
  static struct work sim, real, again;
  make_inputs(&sim);
  make_inputs(&real);
  make_inputs(&again);
  struct pn_ctx ctx = {0};
  struct pn_dealer_binding bind = {.batch = 4, .frac = 16, .batches = 1};
  memset(bind.model, 7, 32);
  struct online_party p[2];
  struct server_arg srv;
  run_online(&real, &bind, &bind, p, &srv);
  assert_int_equal(p[0].rc, PN_OK);
  assert_int_equal(p[1].rc, PN_OK);
  assert_int_equal(srv.rc, PN_OK);
  assert_memory_equal(p[0].session, p[1].session, 16);
  /* the session's material is the embedded dealer's for the session's seed */
  uint8_t sm[32];
  pn_dealer_session_master(master, p[0].session, sm);
  struct pn_mpc_dealer *d;
  assert_int_equal(pn_dealer_new_embedded(&ctx, sm, &d), PN_OK);
  struct pn_mpc m;
  pn_mpc_init_sim(&m, &ctx, d, 16);
  assert_int_equal(run_workload(&m, &sim), PN_OK);
  pn_mpc_release(&m);
  uint64_t embedded_bytes = pn_dealer_bytes(d);
  pn_dealer_free(d);
  assert_memory_equal(sim.yf, real.yf, sizeof sim.yf);
  assert_memory_equal(sim.yh, real.yh, sizeof sim.yh);
  assert_memory_equal(sim.yl, real.yl, sizeof sim.yl);
  assert_memory_equal(sim.C, real.C, sizeof sim.C);
  assert_memory_equal(sim.z, real.z, sizeof sim.z);
  /* P1 received exactly the corrections the embedded dealer computes; P0 nothing but its seed */
  assert_true(srv.bytes == embedded_bytes && p[1].dealer_bytes == embedded_bytes);
  assert_int_equal(p[0].dealer_bytes, 0);
  /* a second session of the same dealer (same master) serves other material: another session id,
  ** and the same inputs give the same results through different openings */
  uint8_t first[16];
  memcpy(first, p[0].session, 16);
  run_online(&again, &bind, &bind, p, &srv);
  assert_int_equal(srv.rc, PN_OK);
  assert_memory_not_equal(first, p[0].session, 16);
  int shares_differ = 0;
  for (int i = 0; i < N; i++) {
    assert_true(again.yf[0][i] + again.yf[1][i] == real.yf[0][i] + real.yf[1][i]);
    shares_differ |= again.yf[0][i] != real.yf[0][i];
  }
  for (int i = 0; i < MM * MN; i++) assert_true(again.C[0][i] + again.C[1][i] == real.C[0][i] + real.C[1][i]);
  assert_true(shares_differ);

  /* a party bound to another plan is refused, and everyone stops */
  struct pn_dealer_binding other = bind;
  other.plan[0] ^= 1;
  run_online(&real, &bind, &other, p, &srv);
  assert_int_equal(srv.rc, PN_ERR_MISMATCH);
  assert_int_not_equal(p[0].rc, PN_OK);
  assert_int_not_equal(p[1].rc, PN_OK);
}

int main(void) {
  memset(master, 0x5a, sizeof master);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_two_party_bit_identical_to_sim),
      cmocka_unit_test(test_tls_psk_and_wrong_key),
      cmocka_unit_test(test_tls_certificates),
      cmocka_unit_test(test_malformed_dropped_stalled),
      cmocka_unit_test(test_link_emulator),
      cmocka_unit_test(test_dealer_files),
      cmocka_unit_test(test_online_dealer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
