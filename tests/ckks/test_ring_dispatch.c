/* test_ring_dispatch.c - the run-time selected AVX-512 kernels (NTT, rescaling steps, basis
** extension) give the baseline kernels' result to the bit, on random inputs; on a CPU without
** AVX-512 both runs take the baseline path and the test still checks the round trip. */
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

int main(int argc, char **argv) {
  if (argc > 1) seed = strtoull(argv[1], NULL, 10);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_kernels_agree)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
