/* test_ring_dispatch.c - the run-time selected AVX-512 kernels (NTT, rescaling steps, basis
** extension) give the baseline kernels' result to the bit, on random inputs; on a CPU without
** AVX-512 both runs take the baseline path and the test still checks the round trip. The sums of products
** (pn_vec_dot_mod, IFMA where present) are checked against reduced products, both paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ring.h"
#include "util/cpu.h"
#include "util/prg.h"
#include "util/status.h"

static uint64_t seed = 20240601;

static void fill(struct pn_prg *g, uint64_t *a, size_t n, uint64_t bound) {
  for (size_t i = 0; i < n; i++) a[i] = pn_prg_uniform(g, bound);
}

static void test_kernels_agree(void **state) {
  (void)state;
  printf("cpu level %s, seed %llu\n", pn_cpu_level_name(pn_cpu_level()), (unsigned long long)seed);
  struct pn_ctx ctx = {0};
  struct pn_prg g;
  assert_int_equal(pn_prg_init_u64(NULL, &g, seed), PN_OK);
  const int logn = 12, nq = 3, nc = 2;
  const size_t n = (size_t)1 << logn;
  uint64_t q[5];
  assert_int_equal(pn_prime_gen(&ctx, 50, n, nq + nc, NULL, 0, q), PN_OK);
  uint64_t *a = malloc(n * 8), *b = malloc(n * 8), *x = malloc(n * 8), *y = malloc(n * 8);
  assert_true(a && b && x && y);
  for (int L = 0; L < nq; L++) {
    struct pn_ntt t;
    assert_int_equal(pn_ntt_init(&ctx, &t, q[L], logn), PN_OK);
    fill(&g, a, n, 4 * q[L]);
    memcpy(b, a, n * 8);
    pn_cpu_set_level(PN_CPU_BASELINE);
    pn_ntt_fwd(&t, a);
    pn_cpu_set_level(-1);
    pn_ntt_fwd(&t, b);
    assert_memory_equal(a, b, n * 8);
    memcpy(x, a, n * 8);
    pn_cpu_set_level(PN_CPU_BASELINE);
    pn_ntt_inv(&t, a);
    pn_cpu_set_level(-1);
    pn_ntt_inv(&t, b);
    assert_memory_equal(a, b, n * 8);
    /* and the round trip is the identity mod q */
    pn_ntt_fwd(&t, b);
    assert_memory_equal(b, x, n * 8);
    fill(&g, x, n, q[L]);
    fill(&g, y, n, 4 * q[L]);
    uint64_t w = pn_prg_uniform(&g, q[L]), ws = pn_shoup(w, q[L]);
    pn_cpu_set_level(PN_CPU_BASELINE);
    pn_vec_sub_mul_shoup(x, y, q[L], w, ws, a, n);
    pn_cpu_set_level(-1);
    pn_vec_sub_mul_shoup(x, y, q[L], w, ws, b, n);
    assert_memory_equal(a, b, n * 8);
    struct pn_mod m;
    pn_mod_init(&m, q[(L + 1) % nq]);
    fill(&g, x, n, q[L]);
    pn_cpu_set_level(PN_CPU_BASELINE);
    pn_vec_centred_lift(x, q[L], &m, a, n);
    pn_cpu_set_level(-1);
    pn_vec_centred_lift(x, q[L], &m, b, n);
    assert_memory_equal(a, b, n * 8);
    pn_ntt_free(&t);
  }
  /* basis extension from three primes to two, both plain and centred */
  struct pn_mod B[3], C[2];
  for (int i = 0; i < nq; i++) pn_mod_init(&B[i], q[i]);
  for (int i = 0; i < nc; i++) pn_mod_init(&C[i], q[nq + i]);
  uint64_t *src[3], *d0[2], *d1[2], *tmp = malloc((size_t)(nq + 1) * n * 8);
  assert_non_null(tmp);
  for (int i = 0; i < nq; i++) {
    src[i] = malloc(n * 8);
    assert_non_null(src[i]);
    fill(&g, src[i], n, q[i]);
  }
  for (int i = 0; i < nc; i++) {
    d0[i] = malloc(n * 8);
    d1[i] = malloc(n * 8);
    assert_true(d0[i] && d1[i]);
  }
  for (int centred = 0; centred < 2; centred++) {
    pn_cpu_set_level(PN_CPU_BASELINE);
    pn_rns_extend(B, nq, (const uint64_t *const *)src, C, nc, d0, n, tmp, centred);
    pn_cpu_set_level(-1);
    pn_rns_extend(B, nq, (const uint64_t *const *)src, C, nc, d1, n, tmp, centred);
    for (int i = 0; i < nc; i++) assert_memory_equal(d0[i], d1[i], n * 8);
  }
  for (int i = 0; i < nq; i++) free(src[i]);
  for (int i = 0; i < nc; i++) {
    free(d0[i]);
    free(d1[i]);
  }
  free(tmp);
  free(a);
  free(b);
  free(x);
  free(y);
  pn_prg_free(&g);
}

/* pn_vec_dot_mod (dispatched: IFMA for q < 2^50 when the CPU has it; and forced baseline) against the sum of
** fully reduced products, at moduli near 2^40, 2^50 (the IFMA limit), 2^60 and 2^61 (the ring's limit), for
** 1 to 64 terms (the maximum), random inputs and the extreme ones (every input q - 1: the largest sum), with
** and without the second output, on a length that is not a multiple of 8. */
static void test_dot_mod(void **state) {
  (void)state;
  printf("avx-512 ifma %s\n", pn_cpu_has_ifma() ? "in use" : "absent");
  struct pn_ctx ctx = {0};
  struct pn_prg g;
  assert_int_equal(pn_prg_init_u64(NULL, &g, seed + 7), PN_OK);
  const size_t n = 1003;
  const int bits[5] = {40, 49, 50, 60, 61}, terms[6] = {1, 2, 7, 33, 63, PN_RING_DOT_MAX};
  uint64_t *a[PN_RING_DOT_MAX], *b0[PN_RING_DOT_MAX], *b1[PN_RING_DOT_MAX];
  for (int j = 0; j < PN_RING_DOT_MAX; j++) {
    a[j] = malloc(n * 8), b0[j] = malloc(n * 8), b1[j] = malloc(n * 8);
    assert_true(a[j] && b0[j] && b1[j]);
  }
  uint64_t *r0 = malloc(n * 8), *r1 = malloc(n * 8), *o0 = malloc(n * 8), *o1 = malloc(n * 8);
  assert_true(r0 && r1 && o0 && o1);
  for (int bi = 0; bi < 5; bi++) {
    uint64_t q;
    assert_int_equal(pn_prime_gen(&ctx, bits[bi], 1024, 1, NULL, 0, &q), PN_OK);
    struct pn_mod md;
    pn_mod_init(&md, q);
    for (int ti = 0; ti < 6; ti++)
      for (int extreme = 0; extreme < 2; extreme++) {
        const int m = terms[ti];
        for (int j = 0; j < m; j++) {
          fill(&g, a[j], n, q), fill(&g, b0[j], n, q), fill(&g, b1[j], n, q);
          if (extreme) /* every input q - 1 in the first 500 coefficients, 0 and 1 mixed in after */
            for (size_t k = 0; k < n; k++) {
              uint64_t v = k < 500 ? q - 1 : k % 3 == 0 ? 0 : k % 3 == 1 ? 1 : q - 1;
              a[j][k] = b0[j][k] = v;
              b1[j][k] = k < 500 ? q - 1 : b1[j][k];
            }
        }
        for (size_t k = 0; k < n; k++) {
          uint64_t s0 = 0, s1 = 0;
          for (int j = 0; j < m; j++) {
            s0 = pn_mod_add(s0, pn_mod_mul(&md, a[j][k], b0[j][k]), q);
            s1 = pn_mod_add(s1, pn_mod_mul(&md, a[j][k], b1[j][k]), q);
          }
          r0[k] = s0, r1[k] = s1;
        }
        for (int level = 0; level < 2; level++) {
          pn_cpu_set_level(level ? -1 : PN_CPU_BASELINE);
          memset(o0, 0xff, n * 8), memset(o1, 0xff, n * 8);
          pn_vec_dot_mod(&md, (const uint64_t *const *)a, (const uint64_t *const *)b0,
                         (const uint64_t *const *)b1, m, n, o0, o1);
          assert_memory_equal(o0, r0, n * 8);
          assert_memory_equal(o1, r1, n * 8);
          memset(o0, 0xff, n * 8);
          pn_vec_dot_mod(&md, (const uint64_t *const *)a, (const uint64_t *const *)b1, NULL, m, n, o0, NULL);
          assert_memory_equal(o0, r1, n * 8);
        }
        pn_cpu_set_level(-1);
      }
  }
  for (int j = 0; j < PN_RING_DOT_MAX; j++) free(a[j]), free(b0[j]), free(b1[j]);
  free(r0), free(r1), free(o0), free(o1);
  pn_prg_free(&g);
}

int main(int argc, char **argv) {
  if (argc > 1) seed = strtoull(argv[1], NULL, 10);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_kernels_agree),
                                     cmocka_unit_test(test_dot_mod)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
