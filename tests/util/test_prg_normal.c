/* test_prg_normal.c - bulk float normals (pn_prg_normal_f32): exactness against a double-precision
** Box-Muller of the same keystream, moments, goodness of fit, tails, determinism, block edges.
**
** The seed is printed; PN_TEST_SEED=<u64> replays a run with another seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/prg.h"
#include "util/status.h"
#include "pn_test.h"

#define BIG ((size_t)1 << 21) /* 2,097,152 samples: not a multiple of anything but the block */

static uint64_t g_seed = 20261122;

static void prg_new(struct pn_prg *p, uint64_t seed) {
  assert_int_equal(pn_prg_init_u64(NULL, p, seed), PN_OK);
}

static float *sample(uint64_t seed, size_t n, float mean, float sd) {
  struct pn_prg p;
  prg_new(&p, seed);
  float *x = malloc((n ? n : 1) * sizeof *x);
  assert_non_null(x);
  pn_prg_normal_f32(&p, x, n, mean, sd);
  pn_prg_free(&p);
  return x;
}

/* Normal CDF from erfc (independent of the generator's own polynomials). */
static double phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* The documented construction, in double with libm: block of 512 words, word i (< 256) gives
** u = ((float)(w >> 1) + 1) 2^-31 (float rounding as specified), word 256 + i gives the quadrant
** (top 2 bits) and the offset in it; out[i] = r cos, out[256 + i] = r sin. */
static void reference_block(const uint32_t *w, double *out) {
  const int nh = PN_PRG_NORMAL_BLOCK / 2;
  for (int i = 0; i < nh; i++) {
    float uf = ((float)(int32_t)(w[i] >> 1) + 1.0f) * 0x1p-31f;
    double r = sqrt(-2.0 * log((double)uf));
    uint32_t b = w[nh + i];
    double th = (double)(b >> 30) * (M_PI / 2) +
                ((double)(float)(int32_t)(b & 0x3fffffffu) * 0x1p-30 - 0.5) * (M_PI / 2);
    out[i] = r * cos(th);
    out[nh + i] = r * sin(th);
  }
}

static void test_matches_reference(void **state) {
  (void)state;
  const size_t nb = 2048; /* 1M values */
  struct pn_prg p, q;
  prg_new(&p, g_seed);
  prg_new(&q, g_seed);
  float *x = malloc(PN_PRG_NORMAL_BLOCK * sizeof *x);
  uint32_t *w = malloc(PN_PRG_NORMAL_BLOCK * sizeof *w);
  double *ref = malloc(PN_PRG_NORMAL_BLOCK * sizeof *ref);
  assert_true(x && w && ref);
  double worst = 0;
  for (size_t b = 0; b < nb; b++) {
    pn_prg_normal_f32(&p, x, PN_PRG_NORMAL_BLOCK, 0.0f, 1.0f);
    pn_prg_bytes(&q, w, PN_PRG_NORMAL_BLOCK * sizeof *w);
    reference_block(w, ref);
    for (int i = 0; i < PN_PRG_NORMAL_BLOCK; i++) {
      double e = fabs((double)x[i] - ref[i]) / (1.0 + fabs(ref[i]));
      if (!(e <= worst)) worst = e;
    }
  }
  printf("max relative deviation from double Box-Muller: %.3g\n", worst);
  assert_true(worst < 2e-6);
  pn_prg_free(&p);
  pn_prg_free(&q);
  free(x);
  free(w);
  free(ref);
}

static void test_moments(void **state) {
  (void)state;
  float *x = sample(g_seed, BIG, 0.0f, 1.0f);
  double n = (double)BIG, m = 0, m2 = 0, m3 = 0, m4 = 0;
  for (size_t i = 0; i < BIG; i++) {
    assert_true(isfinite(x[i]));
    m += x[i];
  }
  m /= n;
  for (size_t i = 0; i < BIG; i++) {
    double d = x[i] - m, d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  m2 /= n;
  m3 /= n;
  m4 /= n;
  double skew = m3 / pow(m2, 1.5), kurt = m4 / (m2 * m2) - 3.0;
  printf("mean %.5f var %.5f skew %.5f excess kurtosis %.5f (n = %zu)\n", m, m2, skew, kurt, BIG);
  /* 5 standard errors of each estimator under N(0, 1) */
  assert_true(fabs(m) < 5 * sqrt(1 / n));
  assert_true(fabs(m2 - 1) < 5 * sqrt(2 / n));
  assert_true(fabs(skew) < 5 * sqrt(6 / n));
  assert_true(fabs(kurt) < 5 * sqrt(24 / n));
  free(x);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static void test_kolmogorov_smirnov(void **state) {
  (void)state;
  size_t n = 1000003;
  float *x = sample(g_seed + 1, n, 0.0f, 1.0f);
  qsort(x, n, sizeof *x, cmp_float);
  double d = 0;
  for (size_t i = 0; i < n; i++) {
    double f = phi(x[i]), lo = f - (double)i / (double)n, hi = (double)(i + 1) / (double)n - f;
    if (lo > d) d = lo;
    if (hi > d) d = hi;
  }
  printf("KS D = %.3g, sqrt(n) D = %.3f (1.95 is p = 0.001)\n", d, d * sqrt((double)n));
  assert_true(d * sqrt((double)n) < 1.95);
  free(x);
}

/* Chi-square over 120 bins of width 0.1 on [-6, 6) plus the two tails, expected counts from erfc. */
static void test_chi_square_and_tails(void **state) {
  (void)state;
  size_t n = (size_t)1 << 22;
  float *x = malloc(n * sizeof *x);
  assert_non_null(x);
  struct pn_prg p;
  prg_new(&p, g_seed + 2);
  pn_prg_normal_f32(&p, x, n, 0.0f, 1.0f);
  pn_prg_free(&p);
  enum { NBIN = 122 };
  double cnt[NBIN] = {0}, beyond3 = 0, beyond4 = 0;
  for (size_t i = 0; i < n; i++) {
    double v = x[i];
    int b = v < -6 ? 0 : v >= 6 ? NBIN - 1 : 1 + (int)floor((v + 6) * 10);
    if (b > NBIN - 2 && v < 6) b = NBIN - 2;
    cnt[b]++;
    beyond3 += fabs(v) > 3;
    beyond4 += fabs(v) > 4;
  }
  double chi = 0, pend = 0, oend = 0;
  int df = -1;
  for (int b = 0; b < NBIN; b++) {
    double lo = b == 0 ? -INFINITY : -6 + (b - 1) * 0.1, hi = b == NBIN - 1 ? INFINITY : -6 + b * 0.1;
    double e = (phi(hi) - phi(lo)) * (double)n;
    /* pool sparse bins (expected < 20) with their neighbours toward the centre */
    pend += e;
    oend += cnt[b];
    if (pend < 20 && b != NBIN - 1) continue;
    chi += (oend - pend) * (oend - pend) / pend;
    df++;
    pend = oend = 0;
  }
  double crit = df + 5 * sqrt(2.0 * df);
  printf("chi-square %.1f with %d df (limit %.1f)\n", chi, df, crit);
  assert_true(chi < crit);
  double p3 = erfc(3 / sqrt(2.0)), p4 = erfc(4 / sqrt(2.0));
  double e3 = p3 * (double)n, e4 = p4 * (double)n;
  printf("|z| > 3: %.0f (expected %.1f), |z| > 4: %.0f (expected %.1f)\n", beyond3, e3, beyond4, e4);
  assert_true(fabs(beyond3 - e3) < 5 * sqrt(e3));
  assert_true(fabs(beyond4 - e4) < 5 * sqrt(e4));
  free(x);
}

static void test_determinism_and_scaling(void **state) {
  (void)state;
  size_t n = 100000;
  float *a = sample(g_seed, n, 0.0f, 1.0f), *b = sample(g_seed, n, 0.0f, 1.0f);
  float *c = sample(g_seed + 7, n, 0.0f, 1.0f), *s = sample(g_seed, n, 3.0f, 0.25f);
  assert_memory_equal(a, b, n * sizeof *a);
  size_t same = 0;
  for (size_t i = 0; i < n; i++) {
    same += a[i] == c[i];
    assert_true(fabsf(s[i] - (3.0f + 0.25f * a[i])) <= 1e-6f * (1.0f + fabsf(s[i])));
  }
  assert_true(same < 10); /* another seed, another stream */
  float *z = sample(g_seed, n, -2.0f, 0.0f); /* sd 0: every value is the mean */
  for (size_t i = 0; i < n; i++) assert_true(z[i] == -2.0f);
  free(a);
  free(b);
  free(c);
  free(s);
  free(z);
}

/* n of any size gives the prefix of the same block stream; n = 0 draws no keystream. */
static void test_block_edges(void **state) {
  (void)state;
  const size_t sizes[] = {1, 2, 3, 255, 256, 257, 511, 513, 1000, 1537};
  float *full = sample(g_seed, 2048, 0.0f, 1.0f);
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    float *x = malloc((sizes[k] + 1) * sizeof *x);
    assert_non_null(x);
    x[sizes[k]] = 12345.0f; /* guard: nothing written past n */
    struct pn_prg p;
    prg_new(&p, g_seed);
    pn_prg_normal_f32(&p, x, sizes[k], 0.0f, 1.0f);
    assert_memory_equal(x, full, sizes[k] * sizeof *x);
    assert_true(x[sizes[k]] == 12345.0f);
    pn_prg_free(&p);
    free(x);
  }
  struct pn_prg p, q;
  prg_new(&p, g_seed);
  prg_new(&q, g_seed);
  float dummy = 7.0f;
  pn_prg_normal_f32(&p, &dummy, 0, 0.0f, 1.0f);
  assert_true(dummy == 7.0f);
  assert_int_equal(pn_prg_u64(&p), pn_prg_u64(&q));
  pn_prg_free(&p);
  pn_prg_free(&q);
  free(full);
}

int main(void) {
  g_seed = pn_test_seed("test_prg_normal", g_seed);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_matches_reference), cmocka_unit_test(test_moments),
    cmocka_unit_test(test_kolmogorov_smirnov), cmocka_unit_test(test_chi_square_and_tails),
    cmocka_unit_test(test_determinism_and_scaling), cmocka_unit_test(test_block_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
