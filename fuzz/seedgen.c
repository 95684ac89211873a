/* seedgen.c - writes valid inputs for the CKKS and FHE fuzz targets, whose objects are made with keys and
** randomness and so cannot be committed as fixed files that stay valid: `seedgen DIR` writes
** DIR/<target>/valid-*.bin for ckks_{params,ct,pt,sk,pk,swk,gk,bootkeys}, fhe_objects and fhe_net, made for
** the same tiny contexts and plan the targets set up, and checks that each one is accepted by the reader
** its target calls (a seed that its target only refuses would test nothing). ctest runs it before the
** targets' replays (fixture fuzzseeds); point libFuzzer at the same folders. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckks_fuzz_common.h"
#include "fhe/fhe.h"
#include "fhe/fhe_keys.h"
#include "fhe/fhe_net.h"
#include "fhe_fuzz_common.h"

static const char *g_dir;

static void die(const char *what, const struct pn_ctx *ctx) {
  fprintf(stderr, "seedgen: %s%s%s\n", what, ctx ? ": " : "", ctx ? pn_errmsg(ctx) : "");
  exit(1);
}

/* DIR/target/name = prefix bytes (np of them) followed by b[0..n) */
static void put(const char *target, const char *name, const uint8_t *prefix, size_t np, const uint8_t *b, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", g_dir, target);
  if (mkdir(g_dir, 0755) && errno != EEXIST) die(g_dir, NULL);
  if (mkdir(path, 0755) && errno != EEXIST) die(path, NULL);
  snprintf(path, sizeof path, "%s/%s/%s", g_dir, target, name);
  FILE *f = fopen(path, "wb");
  if (!f || (np && fwrite(prefix, 1, np, f) != np) || (n && fwrite(b, 1, n, f) != n) || fclose(f)) die(path, NULL);
}

static void ckks_seeds(void) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  setup(); /* C, SK, PK as the ckks targets make them */
  if (pn_prg_init_u64(&ctx, &prg, 7)) die("prg", &ctx);
  uint8_t *b;
  size_t n;
  struct pn_ckks_params p = {.logn = 5, .nq = 3, .q_bits = {45, 40, 40}, .np = 2, .p_bits = {45, 45},
                             .dnum = 2, .scale_bits = 40};
  struct pn_ckks_params lp;
  if (pn_ckks_save_params(&ctx, &p, &b, &n) || pn_ckks_load_params(&ctx, b, n, &lp)) die("params", &ctx);
  put("ckks_params", "valid.bin", NULL, 0, b, n);
  free(b);
  /* a plaintext and its encryption (0.25 + 0.5i, -1, ...) */
  double complex z[16];
  for (int i = 0; i < 16; i++) z[i] = (i % 3 - 1) * 0.5 + 0.25 * I * (i % 2);
  struct pn_ckks_pt *pt = pn_ckks_pt_new(C), *pt2 = pn_ckks_pt_new(C);
  struct pn_ckks_ct *ct = pn_ckks_ct_new(C);
  if (!pt || !pt2 || !ct || pn_ckks_encode(&ctx, C, z, 16, 0x1p40, -1, pt)) die("encode", &ctx);
  if (pn_ckks_save_pt(&ctx, C, pt, &b, &n) || pn_ckks_load_pt(&ctx, C, b, n, pt2)) die("pt", &ctx);
  put("ckks_pt", "valid.bin", NULL, 0, b, n);
  free(b);
  if (pn_ckks_encrypt_sk(&ctx, C, SK, pt, &prg, ct) || pn_ckks_save_ct(&ctx, C, ct, &b, &n) ||
      pn_ckks_load_ct(&ctx, C, b, n, ct))
    die("ct", &ctx);
  put("ckks_ct", "valid.bin", NULL, 0, b, n);
  free(b);
  pn_ckks_pt_free(pt), pn_ckks_pt_free(pt2), pn_ckks_ct_free(ct);
  struct pn_ckks_sk *sk;
  if (pn_ckks_save_sk(&ctx, C, SK, &b, &n) || pn_ckks_load_sk(&ctx, C, b, n, &sk)) die("sk", &ctx);
  put("ckks_sk", "valid.bin", NULL, 0, b, n);
  pn_ckks_sk_free(sk);
  memset(b, 0, n); /* a secret, even a test's */
  free(b);
  struct pn_ckks_pk *pk;
  if (pn_ckks_save_pk(&ctx, C, PK, &b, &n) || pn_ckks_load_pk(&ctx, C, b, n, &pk)) die("pk", &ctx);
  put("ckks_pk", "valid.bin", NULL, 0, b, n);
  pn_ckks_pk_free(pk);
  free(b);
  struct pn_ckks_swk *rk, *rk2;
  if (pn_ckks_keygen_relin(&ctx, C, SK, &prg, &rk) || pn_ckks_save_swk(&ctx, C, rk, &b, &n) ||
      pn_ckks_load_swk(&ctx, C, b, n, &rk2))
    die("swk", &ctx);
  put("ckks_swk", "valid.bin", NULL, 0, b, n);
  pn_ckks_swk_free(rk), pn_ckks_swk_free(rk2);
  free(b);
  struct pn_ckks_gk *gk, *gk2;
  const int steps[3] = {1, -2, 4};
  if (pn_ckks_keygen_galois(&ctx, C, SK, steps, 3, 1, &prg, &gk) || pn_ckks_save_gk(&ctx, C, gk, &b, &n) ||
      pn_ckks_load_gk(&ctx, C, b, n, &gk2))
    die("gk", &ctx);
  put("ckks_gk", "valid.bin", NULL, 0, b, n);
  pn_ckks_gk_free(gk), pn_ckks_gk_free(gk2);
  free(b);
  pn_prg_free(&prg);
  /* fuzz_ckks_bootkeys builds its valid object itself: modes 2 and 3 with nothing flipped load it whole */
  static const uint8_t m2[3] = {2, 0, 0}, m3[3] = {3, 0, 0};
  put("ckks_bootkeys", "valid-mode2.bin", m2, 3, NULL, 0);
  put("ckks_bootkeys", "valid-mode3.bin", m3, 3, NULL, 0);
}

static void fhe_seeds(void) {
  struct pn_ctx ctx = {0};
  struct pn_fhe_plan *p = fuzz_fhe_plan();
  struct pn_fhe_spec *s, *s2;
  struct pn_fhe_client *cl, *cl2;
  struct pn_fhe_evk *k, *k2;
  struct pn_fhe_server *srv;
  uint8_t *sb, *kb, *sec, *q, *r, *hello;
  size_t sl, kl, secl, ql, rl, hl;
  static const uint8_t seed[32] = {9};
  const float x[4] = {0.5f, -0.25f, 1.0f, 0.125f};
  double y[2];
  if (pn_fhe_plan_spec(&ctx, p, &s) || pn_fhe_spec_save(&ctx, s, &sb, &sl) || pn_fhe_spec_load(&ctx, sb, sl, 1, &s2))
    die("spec", &ctx);
  pn_fhe_spec_free(s2);
  if (pn_fhe_client_keygen(&ctx, s, seed, &cl) || pn_fhe_client_evk(&ctx, cl, &k) ||
      pn_fhe_evk_save(&ctx, s, k, &kb, &kl) || pn_fhe_evk_load(&ctx, p, kb, kl, &k2))
    die("eval keys", &ctx);
  pn_fhe_evk_free(k2);
  if (pn_fhe_client_save_secret(&ctx, cl, &sec, &secl) || pn_fhe_client_load(&ctx, s, sec, secl, &cl2))
    die("secret", &ctx);
  pn_fhe_client_free(cl2);
  if (pn_fhe_server_new(&ctx, p, k, 0, &srv) || pn_fhe_encrypt(&ctx, cl, x, 4, &q, &ql) ||
      pn_fhe_server_query(&ctx, srv, q, ql, &r, &rl, NULL) || pn_fhe_decrypt(&ctx, cl, r, rl, y, 2))
    die("query", &ctx);
  pn_fhe_server_free(srv);
  /* fuzz_fhe_objects: the first byte (low bit clear) picks spec, eval, secret, query, result */
  const uint8_t t[5] = {0, 2, 4, 6, 8};
  put("fhe_objects", "valid-spec.bin", t + 0, 1, sb, sl);
  put("fhe_objects", "valid-eval.bin", t + 1, 1, kb, kl);
  put("fhe_objects", "valid-secret.bin", t + 2, 1, sec, secl);
  put("fhe_objects", "valid-query.bin", t + 3, 1, q, ql);
  put("fhe_objects", "valid-result.bin", t + 4, 1, r, rl);
  /* fuzz_fhe_net: a HELLO + BYE stream (stream checker), an EVAL object read streamed (bit 2), and a whole
  ** client side of a session (bit 1): KEYS, QUERY, BYE, checked here against a real session */
  if (pn_fhe_hello_make(&ctx, sb, sl, 0.5, 0.25, &hello, &hl)) die("hello", &ctx);
  const size_t sess = 3 * PN_FHE_FRAME_HDR + kl + ql, hs = 2 * PN_FHE_FRAME_HDR + hl;
  uint8_t *st = malloc(sess > hs ? sess : hs);
  if (!st) die("out of memory", NULL);
  pn_fhe_frame_put_header(st, PN_FHE_MSG_HELLO, hl);
  memcpy(st + PN_FHE_FRAME_HDR, hello, hl);
  pn_fhe_frame_put_header(st + PN_FHE_FRAME_HDR + hl, PN_FHE_MSG_BYE, 0);
  if (pn_fhe_frames_check(&ctx, st, hs)) die("hello stream", &ctx);
  static const uint8_t m0 = 0, m2 = 2, m4 = 4;
  put("fhe_net", "valid-stream.bin", &m0, 1, st, hs);
  put("fhe_net", "valid-eval.bin", &m4, 1, kb, kl);
  uint8_t *w = st;
  pn_fhe_frame_put_header(w, PN_FHE_MSG_KEYS, kl);
  memcpy(w += PN_FHE_FRAME_HDR, kb, kl);
  pn_fhe_frame_put_header(w += kl, PN_FHE_MSG_QUERY, ql);
  memcpy(w += PN_FHE_FRAME_HDR, q, ql);
  pn_fhe_frame_put_header(w + ql, PN_FHE_MSG_BYE, 0);
  if (sess > ((size_t)1 << 20)) die("the session's keys outgrew the 1 MiB the fuzz target feeds", NULL);
  {
    struct pn_fhe_serve_stats ss;
    if (pn_fhe_server_new(&ctx, p, NULL, 16, &srv)) die("server", &ctx);
    if (fuzz_fhe_session(&ctx, srv, hello, hl, st, sess, &ss) || ss.queries != 1) die("session", &ctx);
    pn_fhe_server_free(srv);
  }
  put("fhe_net", "valid-session.bin", &m2, 1, st, sess);
  free(st), free(hello), free(sb), free(kb), free(q), free(r);
  memset(sec, 0, secl);
  free(sec);
  pn_fhe_evk_free(k);
  pn_fhe_client_free(cl);
  pn_fhe_spec_free(s);
  pn_fhe_plan_free(p);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: seedgen DIR\n");
    return 2;
  }
  g_dir = argv[1];
  ckks_seeds();
  fhe_seeds();
  pn_ckks_sk_free(SK), pn_ckks_pk_free(PK), pn_ckks_context_free(C);
  printf("seedgen: valid seeds for 10 targets in %s\n", g_dir);
  return 0;
}
