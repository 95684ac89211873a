/* test_ring.c - ring layer: primes, Barrett/Shoup, NTT vs naive negacyclic product, RNS vs GMP, samplers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ring.h"

static uint64_t g_seed = 12345;

static void init_prg(struct pn_prg *p, uint64_t salt) {
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_prg_init_u64(&ctx, p, g_seed + salt), PN_OK);
}

static void test_primes(void **state) {
  struct pn_ctx ctx = {0};
  /* Miller-Rabin against trial division on a range, and known values */
  for (uint64_t n = 0; n < 5000; n++) {
    int p = n >= 2;
    for (uint64_t d = 2; d * d <= n; d++)
      if (n % d == 0) p = 0;
    assert_int_equal(pn_is_prime(n), p);
  }
  assert_true(pn_is_prime(0x1fffffffffffffffULL)); /* 2^61 - 1 (Mersenne prime) */
  assert_false(pn_is_prime(3215031751ULL));        /* strong pseudoprime to bases 2,3,5,7 */
  assert_false(pn_is_prime(0x1fffffffffffffffULL * 1ULL - 2));
  for (int bits = 30; bits <= 61; bits += 31) {
    uint64_t q[6];
    size_t n = 1 << 13;
    assert_int_equal(pn_prime_gen(&ctx, bits, n, 6, NULL, 0, q), PN_OK);
    for (int i = 0; i < 6; i++) {
      assert_true(pn_is_prime(q[i]));
      assert_int_equal((q[i] - 1) % (2 * n), 0);
      assert_true(q[i] < ((uint64_t)1 << bits) && q[i] > ((uint64_t)1 << (bits - 1)));
      for (int j = 0; j < i; j++) assert_true(q[i] != q[j]);
      uint64_t psi = pn_prime_root_2n(q[i], n);
      struct pn_mod m;
      pn_mod_init(&m, q[i]);
      assert_int_equal(pn_mod_pow(&m, psi, n), q[i] - 1);
    }
  }
  assert_int_equal(pn_prime_gen(&ctx, 62, 8, 1, NULL, 0, (uint64_t[1]){0}), PN_ERR_INVALID);
}

static void test_modarith(void **state) {
  struct pn_prg prg;
  init_prg(&prg, 1);
  uint64_t qs[3];
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_prime_gen(&ctx, 61, 1024, 1, NULL, 0, qs), PN_OK);
  assert_int_equal(pn_prime_gen(&ctx, 40, 1024, 1, NULL, 0, qs + 1), PN_OK);
  assert_int_equal(pn_prime_gen(&ctx, 20, 1024, 1, NULL, 0, qs + 2), PN_OK);
  for (int t = 0; t < 3; t++) {
    struct pn_mod m;
    pn_mod_init(&m, qs[t]);
    for (int i = 0; i < 20000; i++) {
      pn_u128 x = ((pn_u128)pn_prg_u64(&prg) << 64) | pn_prg_u64(&prg);
      if (i < 4) x = ~(pn_u128)0 - (pn_u128)i;
      assert_true(pn_mod_red128(&m, x) == (uint64_t)(x % qs[t]));
      uint64_t w = pn_prg_uniform(&prg, qs[t]), y = pn_prg_u64(&prg);
      uint64_t ws = pn_shoup(w, qs[t]);
      uint64_t lazy = pn_mul_shoup_lazy(y, w, ws, qs[t]);
      assert_true(lazy < 2 * qs[t]);
      assert_true(lazy % qs[t] == (uint64_t)(((pn_u128)y * w) % qs[t]));
      uint64_t a = pn_prg_uniform(&prg, qs[t] - 1) + 1;
      assert_int_equal(pn_mod_mul(&m, a, pn_mod_inv(&m, a)), 1);
    }
  }
  pn_prg_free(&prg);
}

static void test_ntt(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  init_prg(&prg, 2);
  for (int logn = 1; logn <= 10; logn++) {
    size_t n = (size_t)1 << logn;
    uint64_t q;
    assert_int_equal(pn_prime_gen(&ctx, logn % 2 ? 61 : 45, n, 1, NULL, 0, &q), PN_OK);
    struct pn_ntt t;
    struct pn_mod m;
    pn_mod_init(&m, q);
    assert_int_equal(pn_ntt_init(&ctx, &t, q, logn), PN_OK);
    uint64_t *a = malloc(n * 8), *b = malloc(n * 8), *c = malloc(n * 8), *a0 = malloc(n * 8);
    pn_sample_uniform(&prg, q, n, a);
    pn_sample_uniform(&prg, q, n, b);
    if (logn == 3) a[0] = a[n - 1] = q - 1; /* extremes */
    memcpy(a0, a, n * 8);
    pn_negacyclic_naive(&m, n, a, b, c);
    pn_ntt_fwd(&t, a);
    pn_ntt_fwd(&t, b);
    /* evaluation form really is evaluation at psi^(2 bitrev(k) + 1): check slot 0 = a(psi) */
    uint64_t ev = 0, pw = 1;
    for (size_t i = 0; i < n; i++) {
      ev = pn_mod_add(ev, pn_mod_mul(&m, a0[i], pw), q);
      pw = pn_mod_mul(&m, pw, t.psi);
    }
    assert_true(ev == a[0]);
    for (size_t i = 0; i < n; i++) {
      assert_true(a[i] < q);
      a[i] = pn_mod_mul(&m, a[i], b[i]);
    }
    pn_ntt_inv(&t, a);
    for (size_t i = 0; i < n; i++) assert_true(a[i] == c[i]);
    /* lazy input up to 4q */
    for (size_t i = 0; i < n; i++) b[i] = a0[i] + (i % 4) * q;
    pn_ntt_fwd(&t, b);
    pn_ntt_inv(&t, b);
    for (size_t i = 0; i < n; i++) assert_true(b[i] == a0[i]);
    /* Galois permutation in NTT form = automorphism on coefficients */
    uint64_t g = 5;
    if (n >= 2) {
      uint32_t *perm = malloc(n * sizeof *perm);
      pn_ntt_galois_perm(logn, g, perm);
      pn_galois_coeff(n, g, q, a0, c);
      memcpy(b, a0, n * 8);
      pn_ntt_fwd(&t, b);
      pn_ntt_fwd(&t, c);
      for (size_t i = 0; i < n; i++) assert_true(c[i] == b[perm[i]]);
      free(perm);
    }
    pn_ntt_free(&t);
    free(a);
    free(b);
    free(c);
    free(a0);
  }
  /* refuses a non-NTT prime */
  struct pn_ntt t;
  assert_int_equal(pn_ntt_init(&ctx, &t, 1000003, 10), PN_ERR_INVALID);
  pn_prg_free(&prg);
}

/* the exact integer with residues r (centred), via mpz */
static void mpz_crt(mpz_t out, const uint64_t *q, int nq, const uint64_t *r) {
  mpz_t Q, t, qi, inv;
  mpz_inits(Q, t, qi, inv, NULL);
  mpz_set_ui(Q, 1);
  for (int i = 0; i < nq; i++) mpz_mul_ui(Q, Q, q[i]);
  mpz_set_ui(out, 0);
  for (int i = 0; i < nq; i++) {
    mpz_set_ui(qi, q[i]);
    mpz_divexact_ui(t, Q, q[i]);
    mpz_invert(inv, t, qi);
    mpz_mul_ui(inv, inv, r[i]);
    mpz_mod(inv, inv, qi);
    mpz_mul(t, t, inv);
    mpz_add(out, out, t);
  }
  mpz_mod(out, out, Q);
  mpz_tdiv_q_2exp(t, Q, 1);
  if (mpz_cmp(out, t) > 0) mpz_sub(out, out, Q);
  mpz_clears(Q, t, qi, inv, NULL);
}

static void test_rns(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  init_prg(&prg, 3);
  enum { NB = 5, NC = 4, N = 64 };
  uint64_t q[NB + NC];
  assert_int_equal(pn_prime_gen(&ctx, 55, 1024, NB, NULL, 0, q), PN_OK);
  assert_int_equal(pn_prime_gen(&ctx, 50, 1024, NC, NULL, 0, q + NB), PN_OK);
  struct pn_mod B[NB], C[NC];
  for (int i = 0; i < NB; i++) pn_mod_init(&B[i], q[i]);
  for (int j = 0; j < NC; j++) pn_mod_init(&C[j], q[NB + j]);
  uint64_t src[NB][N], dst[NC][N], dstc[NC][N], tmp[(NB + 1) * N];
  const uint64_t *sp[NB];
  uint64_t *dp[NC];
  for (int i = 0; i < NB; i++) {
    pn_sample_uniform(&prg, q[i], N, src[i]);
    sp[i] = src[i];
  }
  for (int j = 0; j < NC; j++) dp[j] = dst[j];
  pn_rns_extend(B, NB, sp, C, NC, dp, N, tmp, 0);
  uint64_t *dpc[NC];
  for (int j = 0; j < NC; j++) dpc[j] = dstc[j];
  pn_rns_extend(B, NB, sp, C, NC, dpc, N, tmp, 1);
  mpz_t x, Bm, y, d;
  mpz_inits(x, Bm, y, d, NULL);
  mpz_set_ui(Bm, 1);
  for (int i = 0; i < NB; i++) mpz_mul_ui(Bm, Bm, q[i]);
  struct pn_crt *crt = pn_crt_new(B, NB);
  assert_non_null(crt);
  double dv[N];
  pn_crt_to_double(crt, sp, N, 1.0, dv);
  for (int k = 0; k < N; k++) {
    uint64_t r[NB];
    for (int i = 0; i < NB; i++) r[i] = src[i][k];
    mpz_crt(x, q, NB, r); /* centred */
    /* CRT reconstruction: exact decimal and double */
    char buf[20 * NB + 3], *ref = mpz_get_str(NULL, 10, x);
    pn_crt_to_string(crt, r, buf, sizeof buf);
    assert_string_equal(buf, ref);
    free(ref);
    assert_true(fabs(dv[k] - mpz_get_d(x)) <= fabs(mpz_get_d(x)) * 1e-15);
    /* centred extension: exactly the centred x mod c_j */
    for (int j = 0; j < NC; j++) {
      mpz_fdiv_r_ui(y, x, q[NB + j]);
      assert_true(mpz_get_ui(y) == dstc[j][k]);
    }
    /* basis extension: dst_j = (x mod B + u B) mod c_j, 0 <= u < NB */
    if (mpz_sgn(x) < 0) mpz_add(x, x, Bm);
    int ok_u = -1;
    for (int u = 0; u < NB && ok_u < 0; u++) {
      mpz_mul_ui(y, Bm, (unsigned long)u);
      mpz_add(y, y, x);
      int all = 1;
      for (int j = 0; j < NC; j++)
        if (mpz_fdiv_ui(y, q[NB + j]) != dst[j][k]) all = 0;
      if (all) ok_u = u;
    }
    assert_true(ok_u >= 0);
  }
  /* one source prime, centred: x > b/2 stands for x - b */
  {
    uint64_t one[N], out[NC][N], t1[2 * N];
    const uint64_t *s1[1] = {one};
    uint64_t *o1[NC];
    for (int j = 0; j < NC; j++) o1[j] = out[j];
    pn_sample_uniform(&prg, q[0], N, one);
    one[0] = q[0] / 2;
    one[1] = q[0] / 2 + 1;
    pn_rns_extend(B, 1, s1, C, NC, o1, N, t1, 1);
    for (int k = 0; k < N; k++)
      for (int j = 0; j < NC; j++) {
        int64_t v = one[k] > q[0] / 2 ? -(int64_t)(q[0] - one[k]) : (int64_t)one[k];
        assert_true(out[j][k] == pn_mod_from_i64(v, q[NB + j]));
      }
  }
  /* small values (as from a decryption) reconstruct exactly, both signs */
  for (int v = -3; v <= 3; v++) {
    uint64_t r[NB];
    for (int i = 0; i < NB; i++) r[i] = pn_mod_from_i64((int64_t)v * 1000000007LL, q[i]);
    char buf[20 * NB + 3], want[40];
    pn_crt_to_string(crt, r, buf, sizeof buf);
    snprintf(want, sizeof want, "%lld", (long long)v * 1000000007LL);
    assert_string_equal(buf, want);
  }
  pn_crt_free(crt);
  mpz_clears(x, Bm, y, d, NULL);
  pn_prg_free(&prg);
}

static void test_samplers(void **state) {
  struct pn_prg prg;
  init_prg(&prg, 4);
  enum { N = 1 << 16 };
  static int8_t s[N];
  static uint64_t u[N];
  /* ternary: each value ~ N/3 */
  pn_sample_ternary(&prg, N, s);
  int cnt[3] = {0};
  for (int i = 0; i < N; i++) {
    assert_true(s[i] >= -1 && s[i] <= 1);
    cnt[s[i] + 1]++;
  }
  for (int i = 0; i < 3; i++) assert_true(abs(cnt[i] - N / 3) < 800);
  /* CBD(21): mean 0, variance 10.5 */
  double m = 0, v = 0;
  pn_sample_cbd(&prg, N, s);
  for (int i = 0; i < N; i++) m += s[i];
  m /= N;
  for (int i = 0; i < N; i++) v += (s[i] - m) * (s[i] - m);
  v /= N;
  assert_true(fabs(m) < 0.1 && fabs(v - 10.5) < 0.4);
  /* Gaussian sigma 3.2 (rounding adds 1/12 to the variance) */
  m = v = 0;
  pn_sample_gauss(&prg, 3.2, N, s);
  for (int i = 0; i < N; i++) m += s[i];
  m /= N;
  for (int i = 0; i < N; i++) v += (s[i] - m) * (s[i] - m);
  v /= N;
  assert_true(fabs(m) < 0.1 && fabs(v - (10.24 + 1.0 / 12)) < 0.4);
  /* uniform mod q: below q, mean ~ q/2, top bit used */
  uint64_t q = 0x1ffffffffe00001ULL;
  pn_sample_uniform(&prg, q, N, u);
  long double mu = 0;
  for (int i = 0; i < N; i++) {
    assert_true(u[i] < q);
    mu += (long double)u[i] / q;
  }
  mu /= N;
  assert_true(fabsl(mu - 0.5L) < 0.01L);
  pn_prg_free(&prg);
}

int main(int argc, char **argv) {
  if (argc > 1) g_seed = strtoull(argv[1], NULL, 10);
  printf("test_ring seed %llu\n", (unsigned long long)g_seed);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_primes),  cmocka_unit_test(test_modarith), cmocka_unit_test(test_ntt),
      cmocka_unit_test(test_rns),     cmocka_unit_test(test_samplers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
