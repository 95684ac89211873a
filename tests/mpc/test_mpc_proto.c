/* test_mpc_proto.c - ring, sharing, Beaver products, truncation and the ReLU protocols vs plaintext.
**
** Run in the simulator (both parties in one process); test_mpc_net.c checks that the two-party
** run over sockets gives bit-identical shares. Seed: PN_TEST_SEED=N to replay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpc/dealer.h"
#include "mpc/mpc.h"
#include "mpc/relu.h"
#include "util/util.h"
#include "pn_test.h"

static uint64_t test_seed;
static struct pn_prg rng;

static int setup(void **state) {
  test_seed = pn_test_seed("test_mpc_proto", 0x5eed0005);
  return pn_prg_init_u64(NULL, &rng, test_seed);
}
static int teardown(void **state) {
  pn_prg_free(&rng);
  return 0;
}

/* A simulator with an embedded dealer from a seed drawn from rng. */
struct sim {
  struct pn_ctx ctx;
  struct pn_mpc m;
  struct pn_mpc_dealer *d;
};
static void sim_init(struct sim *s) {
  uint8_t master[32];
  pn_prg_bytes(&rng, master, 32);
  memset(s, 0, sizeof *s);
  assert_int_equal(pn_dealer_new_embedded(&s->ctx, master, &s->d), PN_OK);
  pn_mpc_init_sim(&s->m, &s->ctx, s->d, 16);
}
static void sim_free(struct sim *s) {
  pn_mpc_release(&s->m);
  pn_dealer_free(s->d);
}

static void share(struct sim *s, int64_t n, const uint64_t *x, pn_sh out) {
  assert_int_equal(pn_sh_alloc(&s->m, n, out), PN_OK);
  pn_mpc_split(&rng, n, x, out[0], out[1]);
}
static uint64_t rec(const pn_sh x, int64_t i) { return x[0][i] + x[1][i]; }

/* Every correlation kind of the dealer: P0's and P1's shares satisfy the kind's relation, and the
** words of a fixed request sequence from a fixed master seed are the known answer recorded with
** the dealer as it was before its kinds became one table (a change here breaks every dealer file
** and online dealer of an older privnn: it must be deliberate). */
static void test_dealer_kinds(void **state) {
  struct pn_ctx ctx = {0};
  uint8_t master[32];
  for (int i = 0; i < 32; i++) master[i] = (uint8_t)(i * 7 + 1);
  struct pn_mpc_dealer *d = NULL;
  assert_int_equal(pn_dealer_new_embedded(&ctx, master, &d), PN_OK);
  EVP_MD_CTX *h = EVP_MD_CTX_new();
  EVP_DigestInit(h, EVP_sha256());
  enum { CAP = 100000 };
  uint64_t *w[2][4];
  for (int p = 0; p < 2; p++)
    for (int i = 0; i < 4; i++) w[p][i] = calloc(CAP, 8);
#define HASH(p, i, n) EVP_DigestUpdate(h, w[p][i], (size_t)(n) * 8)
#define BIT(v, i) (((v)[(i) >> 6] >> ((i) & 63)) & 1)
  for (int round = 0; round < 3; round++) {
    int64_t n = 37 + round * 100, W = (n + 63) / 64;
    /* the same request index for both parties: request p0, then p1, kind by kind */
    for (int p = 0; p < 2; p++) {
      assert_int_equal(pn_dealer_triple(d, p, n, w[p][0], w[p][1], w[p][2]), PN_OK);
      for (int i = 0; i < 3; i++) HASH(p, i, n);
    }
    for (int64_t i = 0; i < n; i++)
      assert_true((w[0][0][i] + w[1][0][i]) * (w[0][1][i] + w[1][1][i]) == w[0][2][i] + w[1][2][i]);
    for (int p = 0; p < 2; p++) {
      assert_int_equal(pn_dealer_matrix(d, p, 3, n, 5, w[p][0], w[p][1], w[p][2]), PN_OK);
      HASH(p, 0, 3 * n);
      HASH(p, 1, n * 5);
      HASH(p, 2, 15);
    }
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 5; j++) {
        uint64_t acc = 0;
        for (int64_t k = 0; k < n; k++)
          acc += (w[0][0][i * n + k] + w[1][0][i * n + k]) * (w[0][1][k * 5 + j] + w[1][1][k * 5 + j]);
        assert_true(acc == w[0][2][i * 5 + j] + w[1][2][i * 5 + j]);
      }
    for (int p = 0; p < 2; p++) {
      assert_int_equal(pn_dealer_and(d, p, n, w[p][0], w[p][1], w[p][2]), PN_OK);
      for (int i = 0; i < 3; i++) HASH(p, i, n);
    }
    for (int64_t i = 0; i < n; i++)
      assert_true(((w[0][0][i] ^ w[1][0][i]) & (w[0][1][i] ^ w[1][1][i])) == (w[0][2][i] ^ w[1][2][i]));
    for (int p = 0; p < 2; p++) {
      assert_int_equal(pn_dealer_bit(d, p, n, w[p][0], w[p][1]), PN_OK);
      HASH(p, 0, W);
      HASH(p, 1, n);
    }
    for (int64_t i = 0; i < n; i++)
      assert_true((BIT(w[0][0], i) ^ BIT(w[1][0], i)) == w[0][1][i] + w[1][1][i]);
    for (int p = 0; p < 2; p++) {
      assert_int_equal(pn_dealer_relu(d, p, n, w[p][0], w[p][1], w[p][2], w[p][3]), PN_OK);
      HASH(p, 0, n);
      HASH(p, 1, W);
      HASH(p, 2, n);
      HASH(p, 3, n);
    }
    for (int64_t i = 0; i < n; i++) {
      uint64_t r = BIT(w[0][1], i) ^ BIT(w[1][1], i);
      assert_true(w[0][2][i] + w[1][2][i] == r);
      assert_true(w[0][3][i] + w[1][3][i] == (w[0][0][i] + w[1][0][i]) * r);
    }
    for (int nb = 1; nb <= 9; nb += 4) {
      int64_t tw = pn_lut_words(nb);
      for (int p = 0; p < 2; p++) {
        assert_int_equal(pn_dealer_lut(d, p, n, nb, w[p][0], w[p][1]), PN_OK);
        HASH(p, 0, n);
        HASH(p, 1, n * tw);
      }
      uint64_t N = (uint64_t)1 << nb;
      for (int64_t i = 0; i < n; i++) {
        uint64_t r = (w[0][0][i] + w[1][0][i]) & (N - 1);
        for (uint64_t j = 0; j < N; j++)
          assert_true((BIT(w[0][1] + i * tw, j) ^ BIT(w[1][1] + i * tw, j)) == (((j - r) & (N - 1)) >= N / 2));
      }
    }
  }
#undef HASH
#undef BIT
  /* a table width outside 1..16 is refused */
  assert_int_equal(pn_dealer_lut(d, 0, 4, 17, w[0][0], w[0][1]), PN_ERR_INVALID);
  unsigned char md[32];
  unsigned len = 0;
  EVP_DigestFinal(h, md, &len);
  EVP_MD_CTX_free(h);
  char hex[65];
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  assert_string_equal(hex, "3f01aa424cde332ca46dc14ecc1f6a528a57937651b842e2a28ebcd4f2040234");
  for (int p = 0; p < 2; p++)
    for (int i = 0; i < 4; i++) free(w[p][i]);
  pn_dealer_free(d);
}

static void test_fixed_point(void **state) {
  double vals[] = {0, 1, -1, 0.5, -3.25, 1234.5678, -0.0000153, 1e6};
  for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
    uint64_t v = pn_fx_encode(vals[i], 16);
    assert_true(fabs(pn_fx_decode(v, 16) - vals[i]) <= ldexp(1, -17));
  }
  assert_int_equal(pn_fx_encode(-1, 16), (uint64_t)0 - 65536);
  /* ring matmul against a naive triple loop with wrap-around */
  enum { M = 5, K = 7, N = 3 };
  uint64_t A[M * K], B[K * N], C[M * N];
  pn_prg_bytes(&rng, A, sizeof A);
  pn_prg_bytes(&rng, B, sizeof B);
  pn_ring64_matmul(M, K, N, A, B, C, 0);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      uint64_t acc = 0;
      for (int k = 0; k < K; k++) acc += A[i * K + k] * B[k * N + j];
      assert_true(acc == C[i * N + j]);
    }
}

static void test_open_mul_matmul(void **state) {
  struct sim s;
  sim_init(&s);
  enum { n = 300 };
  uint64_t x[n], y[n];
  pn_prg_bytes(&rng, x, sizeof x);
  pn_prg_bytes(&rng, y, sizeof y);
  pn_sh X = {0}, Y = {0}, Z = {0}, O = {0};
  share(&s, n, x, X);
  share(&s, n, y, Y);
  assert_int_equal(pn_sh_alloc(&s.m, n, Z), PN_OK);
  assert_int_equal(pn_sh_alloc(&s.m, n, O), PN_OK);
  assert_int_equal(pn_mpc_open(&s.m, n, X, O), PN_OK);
  for (int i = 0; i < n; i++) assert_true(O[0][i] == x[i] && O[1][i] == x[i]);
  assert_int_equal(pn_mpc_mul(&s.m, n, X, Y, Z), PN_OK);
  for (int i = 0; i < n; i++) assert_true(rec(Z, i) == x[i] * y[i]);
  /* one opening of n words + one of 2n words, two rounds */
  assert_int_equal(s.m.st.rounds, 2);
  assert_int_equal(s.m.st.bytes, n * 8 + n * 16);
  pn_sh_free(&s.m, n, X);
  pn_sh_free(&s.m, n, Y);
  pn_sh_free(&s.m, n, Z);
  pn_sh_free(&s.m, n, O);

  enum { M = 6, K = 9, N = 11 };
  uint64_t a[M * K], b[K * N], c[M * N];
  pn_prg_bytes(&rng, a, sizeof a);
  pn_prg_bytes(&rng, b, sizeof b);
  pn_ring64_matmul(M, K, N, a, b, c, 0);
  pn_sh A = {0}, B = {0}, C = {0};
  share(&s, M * K, a, A);
  share(&s, K * N, b, B);
  assert_int_equal(pn_sh_alloc(&s.m, M * N, C), PN_OK);
  assert_int_equal(pn_mpc_matmul(&s.m, M, K, N, A, B, C), PN_OK);
  for (int i = 0; i < M * N; i++) assert_true(rec(C, i) == c[i]);
  pn_sh_free(&s.m, M * K, A);
  pn_sh_free(&s.m, K * N, B);
  pn_sh_free(&s.m, M * N, C);
  sim_free(&s);
}

/* The narrow-weight ring products against a naive triple loop with 64-bit weights, on both the
** small-N (dot product) and large-N (row update) paths, with negative weights and the extremes. */
static void test_matmul_narrow_weights(void **state) {
  (void)state;
  const int64_t shapes[][3] = {{7, 33, 1}, {5, 20, 4}, {3, 17, 15}, {6, 9, 16}, {4, 40, 37}};
  for (size_t t = 0; t < sizeof shapes / sizeof *shapes; t++) {
    int64_t M = shapes[t][0], K = shapes[t][1], N = shapes[t][2];
    int32_t *w32 = malloc((size_t)(M * K) * 4);
    int16_t *w16 = malloc((size_t)(M * K) * 2);
    uint64_t *w64a = malloc((size_t)(M * K) * 8), *w64b = malloc((size_t)(M * K) * 8);
    uint64_t *X = malloc((size_t)(K * N) * 8), *C = malloc((size_t)(M * N) * 8);
    uint64_t *ref = calloc((size_t)(M * N), 8);
    assert_true(w32 && w16 && w64a && w64b && X && C && ref);
    pn_prg_bytes(&rng, w32, (size_t)(M * K) * 4);
    pn_prg_bytes(&rng, w16, (size_t)(M * K) * 2);
    pn_prg_bytes(&rng, X, (size_t)(K * N) * 8);
    w32[0] = INT32_MIN;
    w32[M * K - 1] = INT32_MAX;
    w16[0] = INT16_MIN;
    w16[M * K - 1] = -1;
    for (int64_t i = 0; i < M * K; i++) {
      w64a[i] = (uint64_t)(int64_t)w32[i];
      w64b[i] = (uint64_t)(int64_t)w16[i];
    }
    for (int pass = 0; pass < 2; pass++) {
      const uint64_t *W = pass ? w64b : w64a;
      for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
          uint64_t acc = 0;
          for (int64_t k = 0; k < K; k++) acc += W[i * K + k] * X[k * N + j];
          ref[i * N + j] = acc;
        }
      memset(C, 0xa5, (size_t)(M * N) * 8); /* the kernel must overwrite, not accumulate */
      if (pass) pn_ring64_matmul_w16(M, K, N, w16, X, C);
      else pn_ring64_matmul_w32(M, K, N, w32, X, C);
      assert_memory_equal(C, ref, (size_t)(M * N) * 8);
    }
    free(w32);
    free(w16);
    free(w64a);
    free(w64b);
    free(X);
    free(C);
    free(ref);
  }
}

static void test_fixed_point_product_trunc(void **state) {
  struct sim s;
  sim_init(&s);
  enum { n = 2000 };
  double xd[n], yd[n];
  uint64_t x[n], y[n];
  for (int i = 0; i < n; i++) {
    xd[i] = (pn_prg_double(&rng) - 0.5) * 200;
    yd[i] = (pn_prg_double(&rng) - 0.5) * 20;
    x[i] = pn_fx_encode(xd[i], 16);
    y[i] = pn_fx_encode(yd[i], 16);
  }
  pn_sh X = {0}, Y = {0}, Z = {0};
  share(&s, n, x, X);
  share(&s, n, y, Y);
  assert_int_equal(pn_sh_alloc(&s.m, n, Z), PN_OK);
  assert_int_equal(pn_mpc_mul(&s.m, n, X, Y, Z), PN_OK);
  pn_mpc_trunc(&s.m, n, Z, 16);
  for (int i = 0; i < n; i++) {
    /* exact product of the encodings, truncated: local truncation is off by at most one ulp
    ** (and wraps with probability ~|x|/2^64, negligible here) */
    int64_t exact = (int64_t)(x[i] * y[i]) >> 16, got = (int64_t)rec(Z, i);
    assert_true(got - exact >= -1 && got - exact <= 1);
    assert_true(fabs(pn_fx_decode(rec(Z, i), 16) - xd[i] * yd[i]) < 3e-3);
  }
  pn_sh_free(&s.m, n, X);
  pn_sh_free(&s.m, n, Y);
  pn_sh_free(&s.m, n, Z);
  sim_free(&s);
}

/* ReLU on random ring values, values near 0 and the extremes: FULL and HB(0,64) are exact. */
static void test_relu_full_and_hb64_exact(void **state) {
  struct sim s;
  sim_init(&s);
  enum { n = 1000 };
  uint64_t x[n];
  pn_prg_bytes(&rng, x, sizeof x);
  int64_t special[] = {0, 1, -1, 2, -2, INT64_MAX, INT64_MIN, INT64_MIN + 1, 65536, -65536};
  for (size_t i = 0; i < sizeof special / sizeof *special; i++) x[i] = (uint64_t)special[i];
  for (int i = 20; i < 200; i++) x[i] = (uint64_t)((int64_t)(x[i] % 2001) - 1000);
  pn_sh X = {0}, Yf = {0}, Yh = {0};
  share(&s, n, x, X);
  assert_int_equal(pn_sh_alloc(&s.m, n, Yf), PN_OK);
  assert_int_equal(pn_sh_alloc(&s.m, n, Yh), PN_OK);
  assert_int_equal(pn_mpc_relu(&s.m, n, X, PN_RELU_FULL, 0, 64, Yf), PN_OK);
  assert_int_equal(pn_mpc_relu(&s.m, n, X, PN_RELU_HB, 0, 64, Yh), PN_OK);
  for (int i = 0; i < n; i++) {
    uint64_t want = (int64_t)x[i] >= 0 ? x[i] : 0;
    assert_true(rec(Yf, i) == want);
    assert_true(rec(Yh, i) == want);
  }
  pn_sh_free(&s.m, n, X);
  pn_sh_free(&s.m, n, Yf);
  pn_sh_free(&s.m, n, Yh);
  sim_free(&s);
}

/* HB sign equals bit n-1 of ((x0 >> k) mod 2^n + (x1 >> k) mod 2^n), for every (k, n). */
static void test_hb_sign_matches_share_formula(void **state) {
  struct sim s;
  sim_init(&s);
  enum { n = 130 };
  uint64_t x[n];
  int ranges[][2] = {{0, 1}, {0, 2}, {0, 3}, {3, 7}, {0, 8}, {5, 23}, {12, 30}, {0, 33},
                     {16, 64}, {1, 64}, {63, 64}, {20, 38}, {0, 4}, {2, 7}, {9, 15}, {56, 64},
                     {0, 9}};
  for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++) {
    int k = ranges[r][0], m = ranges[r][1], nb = m - k;
    for (int i = 0; i < n; i++) x[i] = (uint64_t)((int64_t)pn_prg_u64(&rng) >> (pn_prg_u32(&rng) % 64));
    pn_sh X = {0}, S = {0};
    share(&s, n, x, X);
    assert_int_equal(pn_sh_alloc(&s.m, n, S), PN_OK);
    assert_int_equal(pn_mpc_ltz(&s.m, n, X, PN_RELU_HB, k, m, S), PN_OK);
    uint64_t mask = nb == 64 ? ~(uint64_t)0 : ((uint64_t)1 << nb) - 1;
    for (int i = 0; i < n; i++) {
      uint64_t sum = ((X[0][i] >> k) & mask) + ((X[1][i] >> k) & mask);
      uint64_t want = (sum >> (nb - 1)) & 1;
      assert_true(rec(S, i) == want);
    }
    /* the ReLU (carry tree, or the dealer table for 3 <= n <= 8) uses the same sign */
    for (int tree = 0; tree < 2; tree++) {
      s.m.lut_max = tree ? 0 : PN_HB_LUT_MAX;
      assert_int_equal(pn_mpc_relu(&s.m, n, X, PN_RELU_HB, k, m, S), PN_OK);
      for (int i = 0; i < n; i++) {
        uint64_t sum = ((X[0][i] >> k) & mask) + ((X[1][i] >> k) & mask);
        uint64_t neg = (sum >> (nb - 1)) & 1;
        assert_true(rec(S, i) == (neg ? 0 : x[i]));
      }
    }
    s.m.lut_max = PN_HB_LUT_MAX;
    pn_sh_free(&s.m, n, X);
    pn_sh_free(&s.m, n, S);
  }
  /* an empty or out-of-range bit range is refused, n = 0 ReLU is the identity */
  pn_sh X = {0}, S = {0};
  share(&s, 4, x, X);
  assert_int_equal(pn_sh_alloc(&s.m, 4, S), PN_OK);
  assert_int_equal(pn_mpc_ltz(&s.m, 4, X, PN_RELU_HB, 5, 5, S), PN_ERR_INVALID);
  assert_int_equal(pn_mpc_ltz(&s.m, 4, X, PN_RELU_HB, 0, 65, S), PN_ERR_INVALID);
  uint64_t r0 = s.m.st.rounds;
  assert_int_equal(pn_mpc_relu(&s.m, 4, X, PN_RELU_HB, 7, 7, S), PN_OK);
  assert_int_equal(s.m.st.rounds, r0);
  for (int i = 0; i < 4; i++) assert_true(rec(S, i) == x[i]);
  pn_sh_free(&s.m, 4, X);
  pn_sh_free(&s.m, 4, S);
  sim_free(&s);
}

/* The paper's error model: for |x| < 2^(m-1), ReLU is exact except for 0 <= x < 2^k, which is
** read as negative with probability (2^k - 1 - x) / 2^k; negatives are never misread. */
static void test_hb_error_theory(void **state) {
  struct sim s;
  sim_init(&s);
  enum { n = 4096 };
  const int k = 6, m = 30;
  static uint64_t x[n];
  /* exactness outside [0, 2^k) */
  for (int i = 0; i < n; i++) {
    int64_t v;
    do v = (int64_t)pn_prg_uniform(&rng, (uint64_t)1 << 30) - ((int64_t)1 << 29);
    while (v >= 0 && v < (1 << k));
    x[i] = (uint64_t)v;
  }
  pn_sh X = {0}, Y = {0};
  share(&s, n, x, X);
  assert_int_equal(pn_sh_alloc(&s.m, n, Y), PN_OK);
  assert_int_equal(pn_mpc_relu(&s.m, n, X, PN_RELU_HB, k, m, Y), PN_OK);
  for (int i = 0; i < n; i++) assert_true(rec(Y, i) == ((int64_t)x[i] >= 0 ? x[i] : 0));
  pn_sh_free(&s.m, n, X);
  /* misclassification rate of each x in [0, 2^k) over fresh shares */
  const int xs[] = {0, 1, 7, 20, 32, 50, 63};
  for (size_t t = 0; t < sizeof xs / sizeof *xs; t++) {
    for (int i = 0; i < n; i++) x[i] = (uint64_t)xs[t];
    share(&s, n, x, X);
    assert_int_equal(pn_mpc_relu(&s.m, n, X, PN_RELU_HB, k, m, Y), PN_OK);
    int wrong = 0;
    for (int i = 0; i < n; i++) {
      uint64_t r = rec(Y, i);
      assert_true(r == x[i] || r == 0);
      wrong += r != x[i];
    }
    double p = (double)((1 << k) - 1 - xs[t]) / (1 << k), rate = (double)wrong / n;
    double sd = sqrt(p * (1 - p) / n);
    if (xs[t] == 0) assert_int_equal(wrong, 0); /* ReLU(0) = 0 either way */
    else assert_true(fabs(rate - p) <= 4.5 * sd + 1e-12);
    pn_sh_free(&s.m, n, X);
  }
  pn_sh_free(&s.m, n, Y);
  sim_free(&s);
}

/* Bits and rounds per ReLU, as counted by the protocol, against the closed-form costs. */
static void test_relu_costs(void **state) {
  struct sim s;
  sim_init(&s);
  enum { n = 640 };
  uint64_t x[n];
  pn_prg_bytes(&rng, x, sizeof x);
  pn_sh X = {0}, Y = {0};
  share(&s, n, x, X);
  assert_int_equal(pn_sh_alloc(&s.m, n, Y), PN_OK);
  double bits;
  int rounds;
  s.m.st = (struct pn_mpc_stats){0};
  assert_int_equal(pn_mpc_relu(&s.m, n, X, PN_RELU_FULL, 0, 64, Y), PN_OK);
  pn_relu_cost(PN_RELU_FULL, 64, &bits, &rounds);
  assert_true(bits == 1856 && rounds == 9);
  assert_true((double)s.m.st.bytes * 8 / n == bits);
  assert_int_equal(s.m.st.rounds, rounds);
  const int ns[] = {64, 32, 18, 12, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  /* independent count: leaf ANDs n-1, tree combines 2 ANDs except one per level */
  for (size_t it = 0; it < 2 * sizeof ns / sizeof *ns; it++) {
    size_t i = it % (sizeof ns / sizeof *ns);
    int tree = it >= sizeof ns / sizeof *ns; /* second pass: the carry tree for every width */
    s.m.lut_max = tree ? 0 : PN_HB_LUT_MAX;
    s.m.st = (struct pn_mpc_stats){0};
    assert_int_equal(pn_mpc_relu(&s.m, n, X, PN_RELU_HB, 0, ns[i], Y), PN_OK);
    if (tree) pn_relu_cost_ex(PN_RELU_HB, ns[i], 0, &bits, &rounds);
    else pn_relu_cost(PN_RELU_HB, ns[i], &bits, &rounds);
    int L = ns[i] - 1, ands = L, cnt = L, levels = 0;
    while (cnt > 1) {
      ands += 2 * (cnt / 2) - 1;
      cnt = (cnt + 1) / 2;
      levels++;
    }
    /* + 64 bits for x - a and 1 for the masked sign bit (the folded multiply) */
    if (!tree && ns[i] >= 3 && ns[i] <= 8) { /* dealer table: y + r (n bits) with x - a, c */
      assert_true(bits == ns[i] + 64 + 1);
      assert_int_equal(rounds, 2);
    } else {
      assert_true(bits == 2.0 * ands + 64 + 1);
      assert_int_equal(rounds, (L ? 1 + levels : 0) + 1);
    }
    assert_true((double)s.m.st.bytes * 8 / n == bits);
    assert_int_equal((int)s.m.st.rounds, rounds);
  }
  s.m.lut_max = PN_HB_LUT_MAX;
  pn_relu_cost(PN_RELU_HB, 18, &bits, &rounds);
  assert_true(bits == 153 && rounds == 7); /* 44 ANDs, vs 525 bits for the paper's full adder */
  pn_sh_free(&s.m, n, X);
  pn_sh_free(&s.m, n, Y);
  sim_free(&s);
}

static void test_max(void **state) {
  struct sim s;
  sim_init(&s);
  enum { n = 257 };
  uint64_t a[n], b[n];
  for (int i = 0; i < n; i++) {
    a[i] = pn_fx_encode((pn_prg_double(&rng) - 0.5) * 100, 16);
    b[i] = pn_fx_encode((pn_prg_double(&rng) - 0.5) * 100, 16);
  }
  b[0] = a[0];
  pn_sh A = {0}, B = {0}, Y = {0};
  share(&s, n, a, A);
  share(&s, n, b, B);
  assert_int_equal(pn_sh_alloc(&s.m, n, Y), PN_OK);
  assert_int_equal(pn_mpc_max(&s.m, n, A, B, PN_RELU_HB, 0, 40, Y), PN_OK);
  for (int i = 0; i < n; i++)
    assert_true(rec(Y, i) == ((int64_t)a[i] > (int64_t)b[i] ? a[i] : b[i]));
  pn_sh_free(&s.m, n, A);
  pn_sh_free(&s.m, n, B);
  pn_sh_free(&s.m, n, Y);
  sim_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_point),
      cmocka_unit_test(test_dealer_kinds),
      cmocka_unit_test(test_open_mul_matmul),
      cmocka_unit_test(test_matmul_narrow_weights),
      cmocka_unit_test(test_fixed_point_product_trunc),
      cmocka_unit_test(test_relu_full_and_hb64_exact),
      cmocka_unit_test(test_hb_sign_matches_share_formula),
      cmocka_unit_test(test_hb_error_theory),
      cmocka_unit_test(test_relu_costs),
      cmocka_unit_test(test_max),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
