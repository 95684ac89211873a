/* test_ckks_serial.c - serialization: round trips of every object, and rejection of truncated, corrupted,
** mistyped and other-parameter objects with PN_ERR_CORRUPT (never a crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks.h"

static uint64_t g_seed = 99;

static struct pn_ckks_context *mkctx(int logn, int qb0) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_params p = {.logn = logn, .nq = 3, .q_bits = {qb0, 40, 40}, .np = 2, .p_bits = {45, 45},
                             .dnum = 2, .scale_bits = 40, .allow_insecure = logn < 12};
  struct pn_ckks_context *c = NULL;
  assert_int_equal(pn_ckks_context_new(&ctx, &p, &c), PN_OK);
  return c;
}

struct objs {
  struct pn_ckks_context *c;
  struct pn_prg prg;
  struct pn_ckks_sk *sk;
  struct pn_ckks_pk *pk;
  struct pn_ckks_swk *rk;
  struct pn_ckks_gk *gk;
  struct pn_ckks_pt *pt;
  struct pn_ckks_ct *ct;
  double complex z[4];
};

static void objs_init(struct objs *o, int logn, int qb0) {
  struct pn_ctx ctx = {0};
  o->c = mkctx(logn, qb0);
  assert_int_equal(pn_prg_init_u64(&ctx, &o->prg, g_seed), PN_OK);
  assert_int_equal(pn_ckks_keygen_secret(&ctx, o->c, &o->prg, &o->sk), PN_OK);
  assert_int_equal(pn_ckks_keygen_public(&ctx, o->c, o->sk, &o->prg, &o->pk), PN_OK);
  assert_int_equal(pn_ckks_keygen_relin(&ctx, o->c, o->sk, &o->prg, &o->rk), PN_OK);
  int steps[] = {1, -2};
  assert_int_equal(pn_ckks_keygen_galois(&ctx, o->c, o->sk, steps, 2, 1, &o->prg, &o->gk), PN_OK);
  o->pt = pn_ckks_pt_new(o->c);
  o->ct = pn_ckks_ct_new(o->c);
  o->z[0] = 0.5;
  o->z[1] = -0.25 + 0.5 * I;
  o->z[2] = 0.125;
  o->z[3] = 1;
  assert_int_equal(pn_ckks_encode(&ctx, o->c, o->z, 4, pn_ckks_default_scale(o->c), -1, o->pt), PN_OK);
  assert_int_equal(pn_ckks_encrypt_pk(&ctx, o->c, o->pk, o->pt, &o->prg, o->ct), PN_OK);
}

static void objs_free(struct objs *o) {
  pn_ckks_ct_free(o->ct);
  pn_ckks_pt_free(o->pt);
  pn_ckks_gk_free(o->gk);
  pn_ckks_swk_free(o->rk);
  pn_ckks_pk_free(o->pk);
  pn_ckks_sk_free(o->sk);
  pn_ckks_context_free(o->c);
  pn_prg_free(&o->prg);
}

/* decrypt ct with sk and compare slot 0..3 with z, rotated left by rot */
static void check_dec(struct objs *o, const struct pn_ckks_sk *sk, const struct pn_ckks_ct *ct, int rot) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_pt *pt = pn_ckks_pt_new(o->c);
  size_t h = pn_ckks_slots(o->c);
  double complex *z = malloc(h * sizeof *z);
  assert_int_equal(pn_ckks_decrypt(&ctx, o->c, sk, ct, pt), PN_OK);
  assert_int_equal(pn_ckks_decode(&ctx, o->c, pt, z), PN_OK);
  for (size_t i = 0; i < h; i++) {
    size_t src = (i + h + (size_t)(rot % (int)h + (int)h)) % h;
    double complex want = src < 4 ? o->z[src] : 0;
    assert_true(cabs(z[i] - want) < 1e-4);
  }
  free(z);
  pn_ckks_pt_free(pt);
}

static void test_roundtrip(void **state) {
  struct pn_ctx ctx = {0};
  struct objs o;
  objs_init(&o, 13, 45);
  uint8_t *buf;
  size_t len;
  /* parameters */
  struct pn_ckks_params p2;
  assert_int_equal(pn_ckks_save_params(&ctx, pn_ckks_params_of(o.c), &buf, &len), PN_OK);
  assert_int_equal(pn_ckks_load_params(&ctx, buf, len, &p2), PN_OK);
  free(buf);
  struct pn_ckks_context *c2;
  assert_int_equal(pn_ckks_context_new(&ctx, &p2, &c2), PN_OK);
  assert_memory_equal(pn_ckks_fingerprint(c2), pn_ckks_fingerprint(o.c), 32);
  pn_ckks_context_free(c2);
  /* secret key, then everything else checked through decryption with the reloaded key */
  struct pn_ckks_sk *sk2;
  assert_int_equal(pn_ckks_save_sk(&ctx, o.c, o.sk, &buf, &len), PN_OK);
  assert_int_equal(pn_ckks_load_sk(&ctx, o.c, buf, len, &sk2), PN_OK);
  free(buf);
  struct pn_ckks_ct *ct2 = pn_ckks_ct_new(o.c);
  assert_int_equal(pn_ckks_save_ct(&ctx, o.c, o.ct, &buf, &len), PN_OK);
  assert_int_equal(pn_ckks_load_ct(&ctx, o.c, buf, len, ct2), PN_OK);
  free(buf);
  check_dec(&o, sk2, ct2, 0);
  struct pn_ckks_pt *pt2 = pn_ckks_pt_new(o.c);
  assert_int_equal(pn_ckks_save_pt(&ctx, o.c, o.pt, &buf, &len), PN_OK);
  assert_int_equal(pn_ckks_load_pt(&ctx, o.c, buf, len, pt2), PN_OK);
  free(buf);
  assert_memory_equal(pt2->data, o.pt->data, 3 * pn_ckks_n(o.c) * 8);
  struct pn_ckks_pk *pk2;
  assert_int_equal(pn_ckks_save_pk(&ctx, o.c, o.pk, &buf, &len), PN_OK);
  assert_int_equal(pn_ckks_load_pk(&ctx, o.c, buf, len, &pk2), PN_OK);
  free(buf);
  assert_int_equal(pn_ckks_encrypt_pk(&ctx, o.c, pk2, o.pt, &o.prg, ct2), PN_OK);
  check_dec(&o, sk2, ct2, 0);
  struct pn_ckks_swk *rk2;
  assert_int_equal(pn_ckks_save_swk(&ctx, o.c, o.rk, &buf, &len), PN_OK);
  assert_int_equal(pn_ckks_load_swk(&ctx, o.c, buf, len, &rk2), PN_OK);
  free(buf);
  struct pn_ckks_gk *gk2;
  assert_int_equal(pn_ckks_save_gk(&ctx, o.c, o.gk, &buf, &len), PN_OK);
  assert_int_equal(pn_ckks_load_gk(&ctx, o.c, buf, len, &gk2), PN_OK);
  free(buf);
  assert_true(pn_ckks_gk_has(o.c, gk2, -2) && pn_ckks_gk_has(o.c, gk2, PN_CKKS_CONJ) && !pn_ckks_gk_has(o.c, gk2, 3));
  assert_int_equal(pn_ckks_rotate(&ctx, o.c, gk2, ct2, -2, ct2), PN_OK);
  check_dec(&o, sk2, ct2, -2);
  /* the relinearisation key works: (ct * 1) relinearised decrypts */
  struct pn_ckks_ct *one = pn_ckks_ct_new(o.c);
  struct pn_ckks_pt *p1 = pn_ckks_pt_new(o.c);
  double complex ones[1] = {1};
  size_t h = pn_ckks_slots(o.c);
  double complex *all = malloc(h * sizeof *all);
  for (size_t i = 0; i < h; i++) all[i] = ones[0];
  assert_int_equal(pn_ckks_encode(&ctx, o.c, all, h, pn_ckks_default_scale(o.c), -1, p1), PN_OK);
  assert_int_equal(pn_ckks_encrypt_pk(&ctx, o.c, o.pk, p1, &o.prg, one), PN_OK);
  assert_int_equal(pn_ckks_mul(&ctx, o.c, o.ct, one, one), PN_OK);
  assert_int_equal(pn_ckks_relin(&ctx, o.c, rk2, one, one), PN_OK);
  assert_int_equal(pn_ckks_rescale(&ctx, o.c, one, one), PN_OK);
  check_dec(&o, sk2, one, 0);
  free(all);
  pn_ckks_pt_free(p1);
  pn_ckks_ct_free(one);
  pn_ckks_gk_free(gk2);
  pn_ckks_swk_free(rk2);
  pn_ckks_pk_free(pk2);
  pn_ckks_pt_free(pt2);
  pn_ckks_ct_free(ct2);
  pn_ckks_sk_free(sk2);
  objs_free(&o);
}

typedef int (*loader)(struct pn_ctx *, struct objs *, const uint8_t *, size_t);

static int ld_params(struct pn_ctx *ctx, struct objs *o, const uint8_t *b, size_t n) {
  struct pn_ckks_params p;
  return pn_ckks_load_params(ctx, b, n, &p);
}
static int ld_ct(struct pn_ctx *ctx, struct objs *o, const uint8_t *b, size_t n) {
  struct pn_ckks_ct *ct = pn_ckks_ct_new(o->c);
  int rc = pn_ckks_load_ct(ctx, o->c, b, n, ct);
  pn_ckks_ct_free(ct);
  return rc;
}
static int ld_pt(struct pn_ctx *ctx, struct objs *o, const uint8_t *b, size_t n) {
  struct pn_ckks_pt *pt = pn_ckks_pt_new(o->c);
  int rc = pn_ckks_load_pt(ctx, o->c, b, n, pt);
  pn_ckks_pt_free(pt);
  return rc;
}
static int ld_sk(struct pn_ctx *ctx, struct objs *o, const uint8_t *b, size_t n) {
  struct pn_ckks_sk *k;
  int rc = pn_ckks_load_sk(ctx, o->c, b, n, &k);
  pn_ckks_sk_free(k);
  return rc;
}
static int ld_pk(struct pn_ctx *ctx, struct objs *o, const uint8_t *b, size_t n) {
  struct pn_ckks_pk *k;
  int rc = pn_ckks_load_pk(ctx, o->c, b, n, &k);
  pn_ckks_pk_free(k);
  return rc;
}
static int ld_swk(struct pn_ctx *ctx, struct objs *o, const uint8_t *b, size_t n) {
  struct pn_ckks_swk *k;
  int rc = pn_ckks_load_swk(ctx, o->c, b, n, &k);
  pn_ckks_swk_free(k);
  return rc;
}
static int ld_gk(struct pn_ctx *ctx, struct objs *o, const uint8_t *b, size_t n) {
  struct pn_ckks_gk *k;
  int rc = pn_ckks_load_gk(ctx, o->c, b, n, &k);
  pn_ckks_gk_free(k);
  return rc;
}

/* all objects of a small insecure context: every truncation, header damage, residues >= q, byte flips */
static void test_corrupt(void **state) {
  struct pn_ctx ctx = {0};
  struct objs o;
  objs_init(&o, 5, 45);
  uint8_t *bufs[7];
  size_t lens[7];
  assert_int_equal(pn_ckks_save_params(&ctx, pn_ckks_params_of(o.c), &bufs[0], &lens[0]), PN_OK);
  assert_int_equal(pn_ckks_save_ct(&ctx, o.c, o.ct, &bufs[1], &lens[1]), PN_OK);
  assert_int_equal(pn_ckks_save_pt(&ctx, o.c, o.pt, &bufs[2], &lens[2]), PN_OK);
  assert_int_equal(pn_ckks_save_sk(&ctx, o.c, o.sk, &bufs[3], &lens[3]), PN_OK);
  assert_int_equal(pn_ckks_save_pk(&ctx, o.c, o.pk, &bufs[4], &lens[4]), PN_OK);
  assert_int_equal(pn_ckks_save_swk(&ctx, o.c, o.rk, &bufs[5], &lens[5]), PN_OK);
  assert_int_equal(pn_ckks_save_gk(&ctx, o.c, o.gk, &bufs[6], &lens[6]), PN_OK);
  loader ld[7] = {ld_params, ld_ct, ld_pt, ld_sk, ld_pk, ld_swk, ld_gk};
  for (int t = 0; t < 7; t++) {
    uint8_t *b = bufs[t];
    size_t n = lens[t];
    assert_int_equal(ld[t](&ctx, &o, b, n), PN_OK);
    /* every truncation */
    for (size_t cut = 0; cut < n; cut += (n > 4000 ? 7 : 1)) assert_int_equal(ld[t](&ctx, &o, b, cut), PN_ERR_CORRUPT);
    /* an extra byte */
    uint8_t *e = malloc(n + 1);
    memcpy(e, b, n);
    e[n] = 0;
    assert_int_equal(ld[t](&ctx, &o, e, n + 1), PN_ERR_CORRUPT);
    /* header fields: magic, version, type, fingerprint (not for parameters), payload length */
    size_t offs[] = {0, 4, 6, 8, 40};
    for (size_t k = 0; k < 5; k++) {
      if (t == 0 && offs[k] == 8) continue;
      memcpy(e, b, n);
      e[offs[k]] ^= 0x5a;
      assert_int_equal(ld[t](&ctx, &o, e, n), PN_ERR_CORRUPT);
    }
    /* each type is refused by every other loader */
    for (int u = 0; u < 7; u++)
      if (u != t) assert_int_equal(ld[u](&ctx, &o, b, n), PN_ERR_CORRUPT);
    /* random byte flips: a result either loads or is refused, never crashes (ASan checks) */
    for (int k = 0; k < 300; k++) {
      memcpy(e, b, n);
      size_t at = pn_prg_uniform(&o.prg, n);
      e[at] ^= (uint8_t)(1 + pn_prg_uniform(&o.prg, 255));
      int rc = ld[t](&ctx, &o, e, n);
      assert_true(rc == PN_OK || rc == PN_ERR_CORRUPT);
    }
    free(e);
  }
  /* a residue equal to its prime (payload of the ct starts at 48 + 10 bytes) */
  {
    uint8_t *e = malloc(lens[1]);
    memcpy(e, bufs[1], lens[1]);
    uint64_t q = pn_ckks_prime(o.c, 0);
    for (int i = 0; i < 8; i++) e[58 + i] = (uint8_t)(q >> (8 * i));
    assert_int_equal(ld_ct(&ctx, &o, e, lens[1]), PN_ERR_CORRUPT);
    assert_non_null(strstr(pn_errmsg(&ctx), "prime"));
    /* a non-ternary secret coefficient */
    memcpy(e, bufs[3], lens[3]);
    e[48] = 2;
    assert_int_equal(ld_sk(&ctx, &o, e, lens[3]), PN_ERR_CORRUPT);
    free(e);
  }
  /* objects of other parameters (same N, another first prime) are refused by fingerprint */
  struct objs o2;
  objs_init(&o2, 5, 44);
  for (int t = 1; t < 7; t++) {
    assert_int_equal(ld[t](&ctx, &o2, bufs[t], lens[t]), PN_ERR_CORRUPT);
    assert_non_null(strstr(pn_errmsg(&ctx), "fingerprint"));
  }
  objs_free(&o2);
  for (int t = 0; t < 7; t++) free(bufs[t]);
  objs_free(&o);
}

static int save_load_params(struct pn_ctx *ctx, const struct pn_ckks_params *p, struct pn_ckks_params *out) {
  uint8_t *buf;
  size_t len;
  assert_int_equal(pn_ckks_save_params(ctx, p, &buf, &len), PN_OK);
  memset(out, 0x55, sizeof *out);
  int rc = pn_ckks_load_params(ctx, buf, len, out);
  free(buf);
  return rc;
}

/* A parameter file can neither switch off the 128-bit check nor ask for tables larger than the security
** table could ever allow at its N: only the caller opts into insecure parameters. */
static void test_params_security(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_params p, back;
  /* logN = 13 with 11 x 60-bit primes (log QP ~ 660 > 218), even though the saving caller allowed it */
  memset(&p, 0, sizeof p);
  p.logn = 13;
  p.nq = 10;
  p.np = 1;
  for (int i = 0; i < 10; i++) p.q_bits[i] = 60;
  p.p_bits[0] = 60;
  p.scale_bits = 40;
  p.allow_insecure = 1;
  assert_int_equal(save_load_params(&ctx, &p, &back), PN_ERR_INSECURE);
  assert_non_null(strstr(pn_errmsg(&ctx), "218"));
  /* 80 primes at N = 2^16 */
  p.logn = 16;
  p.nq = p.np = PN_CKKS_MAX_PRIMES;
  for (int i = 0; i < PN_CKKS_MAX_PRIMES; i++) p.q_bits[i] = p.p_bits[i] = 60;
  assert_int_equal(save_load_params(&ctx, &p, &back), PN_ERR_INSECURE);
  /* a file with the old allow_insecure byte set: the byte is ignored, the loaded flag is 0 */
  struct pn_ckks_params ok;
  assert_int_equal(pn_ckks_params_preset(&ctx, "hybrid", 13, &ok), PN_OK);
  uint8_t *buf;
  size_t len;
  assert_int_equal(pn_ckks_save_params(&ctx, &ok, &buf, &len), PN_OK);
  assert_int_equal(buf[48 + 5], 0); /* header (48 bytes), logn nq np dnum scale, then the reserved byte */
  buf[48 + 5] = 1;
  assert_int_equal(pn_ckks_load_params(&ctx, buf, len, &back), PN_OK);
  assert_int_equal(back.allow_insecure, 0);
  free(buf);
  /* a small test parameter loads, but a context needs the caller's own opt-in */
  struct objs o;
  objs_init(&o, 5, 45);
  assert_int_equal(save_load_params(&ctx, pn_ckks_params_of(o.c), &back), PN_OK);
  assert_int_equal(back.allow_insecure, 0);
  struct pn_ckks_context *c2 = NULL;
  assert_int_equal(pn_ckks_context_new(&ctx, &back, &c2), PN_ERR_INSECURE);
  assert_null(c2);
  back.allow_insecure = 1;
  assert_int_equal(pn_ckks_context_new(&ctx, &back, &c2), PN_OK);
  assert_memory_equal(pn_ckks_fingerprint(c2), pn_ckks_fingerprint(o.c), 32);
  pn_ckks_context_free(c2);
  objs_free(&o);
  /* every preset (all at the bound) round-trips */
  const char *names[] = {"seal", "hybrid", "scale40"};
  for (int logn = PN_CKKS_MIN_LOGN; logn <= PN_CKKS_MAX_LOGN; logn++)
    for (int k = 0; k < 3; k++) {
      assert_int_equal(pn_ckks_params_preset(&ctx, names[k], logn, &p), PN_OK);
      assert_int_equal(save_load_params(&ctx, &p, &back), PN_OK);
      assert_int_equal(back.logn, p.logn);
      assert_int_equal(back.nq, p.nq);
      assert_memory_equal(back.q_bits, p.q_bits, sizeof p.q_bits[0] * (size_t)p.nq);
      assert_memory_equal(back.p_bits, p.p_bits, sizeof p.p_bits[0] * (size_t)p.np);
    }
}

int main(int argc, char **argv) {
  if (argc > 1) g_seed = strtoull(argv[1], NULL, 10);
  printf("test_ckks_serial seed %llu\n", (unsigned long long)g_seed);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_corrupt),
                                     cmocka_unit_test(test_params_security)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
