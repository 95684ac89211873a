/* test_boot.c - CKKS bootstrapping on a small, explicitly insecure ring (N = 2^11, allow_insecure) and, through
** test_boot_n15_slow.c, at N = 2^15: bootstrap of uniform messages in [-1, 1] against plaintext (full and sparse
** slots) within the documented precision; the documented number of multiplications after a bootstrap, then a
** second bootstrap; SlotToCoeff against an O(n^2) special DFT and CoeffToSlot o SlotToCoeff = identity; EvalMod
** against its plaintext function and against t - round(t); seeded keys equal explicit keys; damaged, foreign
** or incomplete bootstrapping keys refused; the same result with 1 and 2 threads; parameter checks.
** ./test_boot SEED [cmocka filter] replays a seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <complex.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/boot.h"
#include "ckks/boot_impl.h" /* key internals: remove a rotation, compare words */
#include "ckks/ckks.h"

#ifndef PN_BOOT_TEST_LOGN /* test_boot_n15_slow.c includes this file with 15 */
#define PN_BOOT_TEST_LOGN 11
#endif
/* Documented precision (docs/ckks.md, "Bootstrapping"): -log2 of the mean and of the largest error over the
** slots, uniform real messages in [-1, 1]; each the worst of a 20-seed sweep less ~2 bits. */
#if PN_BOOT_TEST_LOGN == 15
#define PREC_MEAN 18.5
#define PREC_MIN 15.0
#else
#define PREC_MEAN 29.5
#define PREC_MIN 26.0
#endif

static uint64_t g_seed = 2027;

struct fx {
  struct pn_ckks_context *c;
  struct pn_ckks_boot_params bp;
  struct pn_ckks_sk *sk;
  struct pn_ckks_swk *rk;
  struct pn_ckks_boot_keys *bk;
  struct pn_ckks_boot *b;
  struct pn_ckks_boot_info info;
  struct pn_prg prg;
};

static void fx_init(struct fx *f, int logn, int logslots) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_params p;
  memset(f, 0, sizeof *f);
  assert_int_equal(pn_ckks_boot_preset(&ctx, logn, logslots, &p, &f->bp), PN_OK);
  p.allow_insecure = logn < 15; /* the small ring is explicitly insecure */
  assert_int_equal(pn_ckks_context_new(&ctx, &p, &f->c), PN_OK);
  assert_int_equal(pn_prg_init_u64(&ctx, &f->prg, g_seed + (uint64_t)logslots), PN_OK);
  assert_int_equal(pn_ckks_keygen_secret(&ctx, f->c, &f->prg, &f->sk), PN_OK);
  assert_int_equal(pn_ckks_keygen_relin(&ctx, f->c, f->sk, &f->prg, &f->rk), PN_OK);
  assert_int_equal(pn_ckks_boot_keygen(&ctx, f->c, &f->bp, f->sk, &f->prg, &f->bk), PN_OK);
  int rc = pn_ckks_boot_new(&ctx, f->c, &f->bp, f->rk, f->bk, &f->b);
  if (rc) printf("boot_new: %s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  pn_ckks_boot_get_info(f->b, &f->info);
}

static void fx_free(struct fx *f) {
  pn_ckks_boot_free(f->b);
  pn_ckks_boot_keys_free(f->bk);
  pn_ckks_swk_free(f->rk);
  pn_ckks_sk_free(f->sk);
  pn_ckks_context_free(f->c);
  pn_prg_free(&f->prg);
}

/* n uniform values in [-1, 1] repeated over all slots, encrypted at `level` and the default scale */
static struct pn_ckks_ct *enc_real(struct fx *f, double *z, int level) {
  struct pn_ctx ctx = {0};
  const size_t slots = pn_ckks_slots(f->c), n = f->info.slots;
  for (size_t i = 0; i < slots; i++) z[i] = i < n ? 2 * pn_prg_double(&f->prg) - 1 : z[i % n];
  struct pn_ckks_pt *pt = pn_ckks_pt_new(f->c);
  struct pn_ckks_ct *ct = pn_ckks_ct_new(f->c);
  assert_int_equal(pn_ckks_encode_real(&ctx, f->c, z, slots, pn_ckks_default_scale(f->c), level, pt), PN_OK);
  assert_int_equal(pn_ckks_encrypt_sk(&ctx, f->c, f->sk, pt, &f->prg, ct), PN_OK);
  pn_ckks_pt_free(pt);
  return ct;
}

/* -log2 of the mean and of the largest |decrypt(ct) - want| over the slots */
static void precision(struct fx *f, const struct pn_ckks_ct *ct, const double *want, double *mean, double *min) {
  struct pn_ctx ctx = {0};
  const size_t slots = pn_ckks_slots(f->c);
  struct pn_ckks_pt *pt = pn_ckks_pt_new(f->c);
  double *z = malloc(slots * sizeof *z), sum = 0, mx = 0;
  assert_int_equal(pn_ckks_decrypt(&ctx, f->c, f->sk, ct, pt), PN_OK);
  assert_int_equal(pn_ckks_decode_real(&ctx, f->c, pt, z), PN_OK);
  for (size_t i = 0; i < slots; i++) {
    double e = fabs(z[i] - want[i]);
    sum += e;
    mx = fmax(mx, e);
  }
  *mean = -log2(sum / (double)slots);
  *min = -log2(mx);
  free(z);
  pn_ckks_pt_free(pt);
}

#if PN_BOOT_TEST_LOGN < 15
/* the same ciphertext, word for word (limbs 0..level of each polynomial; those above are unspecified) */
static void assert_ct_equal(const struct pn_ckks_ct *a, const struct pn_ckks_ct *b) {
  assert_int_equal(a->level, b->level);
  assert_int_equal(a->size, b->size);
  for (int j = 0; j < a->size; j++)
    assert_memory_equal(a->data + (size_t)j * a->nq * a->n, b->data + (size_t)j * b->nq * b->n,
                        (size_t)(a->level + 1) * a->n * sizeof(uint64_t));
}

static void check_bootstrap(int logslots) {
  struct fx f;
  struct pn_ctx ctx = {0};
  fx_init(&f, PN_BOOT_TEST_LOGN, logslots);
  const size_t slots = pn_ckks_slots(f.c);
  double *z = malloc(slots * sizeof *z), mean, min;
  struct pn_ckks_ct *ct = enc_real(&f, z, f.info.input_level), *out = pn_ckks_ct_new(f.c);
  assert_int_equal(pn_ckks_bootstrap(&ctx, f.b, ct, out), PN_OK);
  assert_int_equal(out->level, f.info.output_level);
  assert_true(out->scale == pn_ckks_default_scale(f.c));
  assert_true(f.info.levels_after >= 1);
  precision(&f, out, z, &mean, &min);
  printf("  N = 2^%d, 2^%d slots: bootstrap precision %.2f bits mean, %.2f min (documented >= %.1f, %.1f), "
         "level %d -> %d (%d left), %d rotation keys, %.1f MB keys\n", PN_BOOT_TEST_LOGN, logslots, mean, min,
         PREC_MEAN, PREC_MIN, f.info.input_level, f.info.output_level, f.info.levels_after, f.info.rotations,
         (double)f.info.key_bytes / 1e6);
  assert_true(mean >= PREC_MEAN);
  assert_true(min >= PREC_MIN);
  /* below the input level: refused, with the level in the message */
  assert_int_equal(pn_ckks_drop_level(&ctx, f.c, ct, f.info.input_level - 1, ct), PN_OK);
  assert_int_equal(pn_ckks_bootstrap(&ctx, f.b, ct, out), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "level"));
  pn_ckks_ct_free(ct);
  pn_ckks_ct_free(out);
  free(z);
  fx_free(&f);
}

static void test_bootstrap_full(void **state) { check_bootstrap(PN_BOOT_TEST_LOGN - 1); }
static void test_bootstrap_sparse(void **state) { check_bootstrap(PN_BOOT_TEST_LOGN - 5); }

#endif

/* A full-slot bootstrap, then levels_after multiplications by fresh ciphertexts (z y_1 .. y_C) down to the
** input level, then a second bootstrap of the product: the cycle a deep circuit runs */
static void test_levels_after(void **state) {
  struct fx f;
  struct pn_ctx ctx = {0};
  fx_init(&f, PN_BOOT_TEST_LOGN, PN_BOOT_TEST_LOGN - 1);
  const size_t slots = pn_ckks_slots(f.c);
  double *z = malloc(slots * sizeof *z), *y = malloc(slots * sizeof *y), mean, min;
  struct pn_ckks_ct *ct = enc_real(&f, z, f.info.input_level), *out = pn_ckks_ct_new(f.c);
  assert_int_equal(pn_ckks_bootstrap(&ctx, f.b, ct, out), PN_OK);
  precision(&f, out, z, &mean, &min);
  printf("  N = 2^%d full slots: bootstrap %.2f bits mean, %.2f min (documented >= %.1f, %.1f), levels %d -> %d\n",
         PN_BOOT_TEST_LOGN, mean, min, PREC_MEAN, PREC_MIN, f.info.input_level, f.info.output_level);
  assert_true(mean >= PREC_MEAN);
  assert_true(min >= PREC_MIN);
  for (int k = 0; k < f.info.levels_after; k++) {
    struct pn_ckks_ct *yc = enc_real(&f, y, pn_ckks_max_level(f.c));
    assert_int_equal(pn_ckks_mul_relin(&ctx, f.c, f.rk, out, yc, out), PN_OK);
    assert_int_equal(pn_ckks_rescale(&ctx, f.c, out, out), PN_OK);
    for (size_t i = 0; i < slots; i++) z[i] *= y[i];
    pn_ckks_ct_free(yc);
  }
  assert_int_equal(out->level, f.info.input_level);
  precision(&f, out, z, &mean, &min);
  printf("  after %d multiplications: %.2f bits mean, %.2f min\n", f.info.levels_after, mean, min);
  assert_true(min >= PREC_MIN - 3);
  assert_int_equal(pn_ckks_bootstrap(&ctx, f.b, out, ct), PN_OK);
  precision(&f, ct, z, &mean, &min);
  printf("  bootstrapped again: %.2f bits mean, %.2f min\n", mean, min);
  assert_true(min >= PREC_MIN - 3);
  assert_int_equal(ct->level, f.info.output_level);
  pn_ckks_ct_free(ct);
  pn_ckks_ct_free(out);
  free(z);
  free(y);
  fx_free(&f);
}

#if PN_BOOT_TEST_LOGN < 15
static size_t bitrev(size_t x, size_t n) {
  size_t r = 0;
  for (size_t b = 1; b < n; b <<= 1) r = (r << 1) | ((x & b) ? 1 : 0);
  return r;
}

/* U w for n slots, directly: (U w)_j = sum_k w_k zeta^(5^j k), zeta = exp(2 pi i / 4n) */
static void special_dft(const double complex *w, size_t n, double complex *out) {
  const size_t m = 4 * n;
  size_t g = 1;
  for (size_t j = 0; j < n; j++) {
    double complex s = 0;
    for (size_t k = 0; k < n; k++) s += w[k] * cexp(2 * M_PI * I * (double)((g * k) % m) / (double)m);
    out[j] = s;
    g = (g * 5) % m;
  }
}

static double complex *dec_complex(struct fx *f, const struct pn_ckks_ct *ct) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_pt *pt = pn_ckks_pt_new(f->c);
  double complex *z = malloc(pn_ckks_slots(f->c) * sizeof *z);
  assert_int_equal(pn_ckks_decrypt(&ctx, f->c, f->sk, ct, pt), PN_OK);
  assert_int_equal(pn_ckks_decode(&ctx, f->c, pt, z), PN_OK);
  pn_ckks_pt_free(pt);
  return z;
}

/* SlotToCoeff against the O(n^2) special DFT (U BR x), and CoeffToSlot o SlotToCoeff = cts_const x, for
** complex slot values (both are complex-linear), full and sparse */
static void test_dft(void **state) {
  for (int sparse = 0; sparse < 2; sparse++) {
    struct fx f;
    struct pn_ctx ctx = {0};
    fx_init(&f, PN_BOOT_TEST_LOGN, PN_BOOT_TEST_LOGN - 1 - 4 * sparse);
    const size_t slots = pn_ckks_slots(f.c), n = f.info.slots;
    double complex *x = malloc(slots * sizeof *x), *w = malloc(n * sizeof *w), *u = malloc(n * sizeof *u);
    for (size_t i = 0; i < slots; i++)
      x[i] = i < n ? (2 * pn_prg_double(&f.prg) - 1) + I * (2 * pn_prg_double(&f.prg) - 1) : x[i % n];
    for (size_t k = 0; k < n; k++) w[k] = x[bitrev(k, n)];
    special_dft(w, n, u);
    struct pn_ckks_pt *pt = pn_ckks_pt_new(f.c);
    struct pn_ckks_ct *ct = pn_ckks_ct_new(f.c), *r = pn_ckks_ct_new(f.c);
    /* SlotToCoeff at its own levels */
    assert_int_equal(pn_ckks_encode(&ctx, f.c, x, slots, pn_ckks_default_scale(f.c), f.info.input_level, pt), PN_OK);
    assert_int_equal(pn_ckks_encrypt_sk(&ctx, f.c, f.sk, pt, &f.prg, ct), PN_OK);
    assert_int_equal(pn_ckks_boot_slot_to_coeff(&ctx, f.b, ct, r), PN_OK);
    assert_int_equal(r->level, 0);
    double complex *got = dec_complex(&f, r);
    double err = 0, mag = 0;
    for (size_t j = 0; j < slots; j++) {
      err = fmax(err, cabs(got[j] - u[j % n]));
      mag = fmax(mag, cabs(u[j % n]));
    }
    printf("  2^%zu slots: SlotToCoeff vs O(n^2) DFT: %.2f bits (relative to max |U x| = %.1f)\n", (size_t)log2((double)n),
           -log2(err / mag), mag);
    assert_true(err / mag < ldexp(1, -25));
    free(got);
    /* CoeffToSlot then SlotToCoeff from level S + T */
    const int lv = f.bp.stc_levels + f.bp.cts_levels;
    assert_int_equal(pn_ckks_encode(&ctx, f.c, x, slots, pn_ckks_default_scale(f.c), lv, pt), PN_OK);
    assert_int_equal(pn_ckks_encrypt_sk(&ctx, f.c, f.sk, pt, &f.prg, ct), PN_OK);
    assert_int_equal(pn_ckks_boot_coeff_to_slot(&ctx, f.b, ct, r), PN_OK);
    assert_int_equal(r->level, f.bp.stc_levels);
    assert_int_equal(pn_ckks_boot_slot_to_coeff(&ctx, f.b, r, r), PN_OK);
    got = dec_complex(&f, r);
    err = 0;
    for (size_t j = 0; j < slots; j++) err = fmax(err, cabs(got[j] - f.info.cts_const * x[j]));
    /* the result is cts_const x, small (1 / (2 K' N / 2n)): its error is the noise at scale Delta */
    printf("  2^%zu slots: CoeffToSlot o SlotToCoeff = %.2e x within 2^%.2f\n", (size_t)log2((double)n),
           f.info.cts_const, log2(err));
    assert_true(err < ldexp(1, -28));
    free(got);
    free(x);
    free(w);
    free(u);
    pn_ckks_pt_free(pt);
    pn_ckks_ct_free(ct);
    pn_ckks_ct_free(r);
    fx_free(&f);
  }
}

/* EvalMod on t = I + e, |I| <= K, |e| <= 2^-10 (a message ratio 2^10): against its plaintext function (the
** same interpolant, double angles and arcsine in double precision) and against ratio (t - round(t)) */
static void test_evalmod(void **state) {
  struct fx f;
  struct pn_ctx ctx = {0};
  fx_init(&f, PN_BOOT_TEST_LOGN, PN_BOOT_TEST_LOGN - 1);
  const size_t slots = pn_ckks_slots(f.c);
  const double kp = f.info.K + 0.75, ratio = 1024;
  const int lmod = f.info.output_level + f.info.evalmod_levels;
  double *t = malloc(slots * sizeof *t), *x = malloc(slots * sizeof *x), *want = malloc(slots * sizeof *want);
  double ideal = 0;
  for (size_t i = 0; i < slots; i++) {
    int in = (int)pn_prg_uniform(&f.prg, 2 * (uint64_t)f.info.K + 1) - f.info.K;
    t[i] = in + (2 * pn_prg_double(&f.prg) - 1) / ratio;
    if (i < 4) t[i] = (i & 1 ? -1 : 1) * (f.info.K + 1.0 / ratio); /* the interval's ends */
    x[i] = t[i] / kp;
    want[i] = pn_ckks_boot_eval_mod_plain(f.b, t[i], ratio);
    ideal = fmax(ideal, fabs(want[i] - ratio * (t[i] - round(t[i]))));
  }
  struct pn_ckks_pt *pt = pn_ckks_pt_new(f.c);
  struct pn_ckks_ct *ct = pn_ckks_ct_new(f.c), *out = pn_ckks_ct_new(f.c);
  /* at the EvalMod start level, the scale CoeffToSlot hands over (that level's prime) */
  assert_int_equal(pn_ckks_encode_real(&ctx, f.c, x, slots, (double)pn_ckks_prime(f.c, lmod), lmod, pt), PN_OK);
  assert_int_equal(pn_ckks_encrypt_sk(&ctx, f.c, f.sk, pt, &f.prg, ct), PN_OK);
  assert_int_equal(pn_ckks_boot_eval_mod(&ctx, f.b, ct, ratio, pn_ckks_default_scale(f.c), out), PN_OK);
  assert_int_equal(out->level, f.info.output_level);
  double mean, min;
  precision(&f, out, want, &mean, &min);
  printf("  EvalMod vs its plaintext function: %.2f bits mean, %.2f min; plaintext function vs ratio (t - round t): "
         "%.2f bits\n", mean, min, -log2(ideal));
  assert_true(min >= PREC_MIN);
  assert_true(ideal < ldexp(1, -30)); /* the approximation itself is far below the noise */
  /* too few levels: refused */
  assert_int_equal(pn_ckks_drop_level(&ctx, f.c, ct, f.info.evalmod_levels - 1, ct), PN_OK);
  assert_int_equal(pn_ckks_boot_eval_mod(&ctx, f.b, ct, ratio, pn_ckks_default_scale(f.c), out), PN_ERR_INVALID);
  pn_ckks_pt_free(pt);
  pn_ckks_ct_free(ct);
  pn_ckks_ct_free(out);
  free(t);
  free(x);
  free(want);
  fx_free(&f);
}

static int keys_equal(const struct pn_ckks_context *c, const struct pn_ckks_swk *a, const struct pn_ckks_swk *b) {
  (void)c;
  const size_t w = (size_t)a->dnum * a->nt * a->n * sizeof(uint64_t);
  return a->lmax == b->lmax && a->dnum == b->dnum && a->nt == b->nt && !memcmp(a->b, b->b, w) &&
         !memcmp(a->a, b->a, w);
}

/* Seeded = explicit: the keys loaded from the seeded file (uniform halves as 32-byte seeds, expanded on
** load) are word for word the keys keygen made, and bootstrap to the same bits; the file is about half of
** the keys' memory. */
static void test_seeded_keys(void **state) {
  struct fx f;
  struct pn_ctx ctx = {0};
  fx_init(&f, PN_BOOT_TEST_LOGN, PN_BOOT_TEST_LOGN - 4);
  uint8_t *buf;
  size_t len;
  assert_int_equal(pn_ckks_save_boot_keys(&ctx, f.c, f.bk, &buf, &len), PN_OK);
  struct pn_ckks_boot_keys *bk2 = NULL;
  assert_int_equal(pn_ckks_load_boot_keys(&ctx, f.c, &f.bp, buf, len, &bk2), PN_OK);
  assert_int_equal(bk2->gk->count, f.bk->gk->count);
  for (int i = 0; i < f.bk->gk->count; i++) {
    assert_true(bk2->gk->galois[i] == f.bk->gk->galois[i]);
    assert_true(keys_equal(f.c, bk2->gk->keys[i], f.bk->gk->keys[i]));
  }
  assert_true(keys_equal(f.c, bk2->s2d, f.bk->s2d));
  assert_int_equal(bk2->nd, f.bk->nd);
  assert_memory_equal(bk2->d2s_a, f.bk->d2s_a, (size_t)f.bk->nd * pn_ckks_n(f.c) * sizeof(uint64_t));
  assert_memory_equal(bk2->d2s_b, f.bk->d2s_b, (size_t)f.bk->nd * pn_ckks_n(f.c) * sizeof(uint64_t));
  printf("  bootstrapping keys: %zu bytes serialized (seeded), %zu in memory\n", len, f.info.key_bytes);
  assert_true(len < f.info.key_bytes / 2 + f.info.key_bytes / 20);
  assert_true(len <= f.info.key_bytes_serialized + 4096);
  /* the same bootstrap with the loaded keys, to the bit */
  struct pn_ckks_boot *b2;
  assert_int_equal(pn_ckks_boot_new(&ctx, f.c, &f.bp, f.rk, bk2, &b2), PN_OK);
  const size_t slots = pn_ckks_slots(f.c);
  double *z = malloc(slots * sizeof *z);
  struct pn_ckks_ct *ct = enc_real(&f, z, f.info.input_level), *o1 = pn_ckks_ct_new(f.c), *o2 = pn_ckks_ct_new(f.c);
  assert_int_equal(pn_ckks_bootstrap(&ctx, f.b, ct, o1), PN_OK);
  assert_int_equal(pn_ckks_bootstrap(&ctx, b2, ct, o2), PN_OK);
  assert_ct_equal(o1, o2);
  /* and a plain switching key: its seeded record reloads to the same words */
  uint8_t *kb;
  size_t kl;
  struct pn_ckks_swk *rk2;
  assert_int_equal(pn_ckks_save_swk(&ctx, f.c, f.rk, &kb, &kl), PN_OK);
  assert_int_equal(pn_ckks_load_swk(&ctx, f.c, kb, kl, &rk2), PN_OK);
  assert_true(keys_equal(f.c, rk2, f.rk));
  assert_true(kl < pn_ckks_swk_bytes(f.rk) / 2 + 4096);
  free(kb);
  pn_ckks_swk_free(rk2);
  pn_ckks_boot_free(b2);
  pn_ckks_boot_keys_free(bk2);
  pn_ckks_ct_free(ct);
  pn_ckks_ct_free(o1);
  pn_ckks_ct_free(o2);
  free(z);
  free(buf);
  fx_free(&f);
}

static void expect_refused(struct fx *f, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                           const uint8_t *b, size_t n, const char *what) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_boot_keys *k = NULL;
  int rc = pn_ckks_load_boot_keys(&ctx, c, bp, b, n, &k);
  if (rc != PN_ERR_CORRUPT) printf("  %s: rc %d (%s)\n", what, rc, pn_errmsg(&ctx));
  assert_int_equal(rc, PN_ERR_CORRUPT);
  assert_null(k);
  assert_true(pn_errmsg(&ctx)[0] != 0);
  (void)f;
}

/* Damaged, foreign and incomplete bootstrapping keys are refused: every truncation class, byte flips
** anywhere (the digest), another context (same N and chain sizes, other primes), other bootstrapping
** parameters, a key set without one of its rotations (on load, and by pn_ckks_boot_new). */
static void test_corrupt_keys(void **state) {
  struct fx f;
  struct pn_ctx ctx = {0};
  fx_init(&f, PN_BOOT_TEST_LOGN, PN_BOOT_TEST_LOGN - 4);
  uint8_t *buf;
  size_t len;
  assert_int_equal(pn_ckks_save_boot_keys(&ctx, f.c, f.bk, &buf, &len), PN_OK);
  uint8_t *e = malloc(len + 1);
  for (size_t cut = 0; cut < len; cut += 1 + len / 97) expect_refused(&f, f.c, &f.bp, buf, cut, "truncated");
  memcpy(e, buf, len);
  e[len] = 0;
  expect_refused(&f, f.c, &f.bp, e, len + 1, "extra byte");
  for (int k = 0; k < 60; k++) {
    memcpy(e, buf, len);
    size_t at = 48 + (size_t)pn_prg_uniform(&f.prg, len - 48);
    e[at] ^= (uint8_t)(1 + pn_prg_uniform(&f.prg, 255));
    expect_refused(&f, f.c, &f.bp, e, len, "byte flip");
  }
  /* the seed of the last key's a: any flip there would load as a wrong key without the digest */
  memcpy(e, buf, len);
  e[len - 32 - 1] ^= 1;
  expect_refused(&f, f.c, &f.bp, e, len, "seed flip");
  /* other bootstrapping parameters */
  struct pn_ckks_boot_params bp2 = f.bp;
  bp2.logslots--;
  expect_refused(&f, f.c, &bp2, buf, len, "other slots");
  /* another context: one prime size differs */
  struct pn_ckks_params p = *pn_ckks_params_of(f.c);
  p.q_bits[1]--;
  struct pn_ckks_context *c2;
  assert_int_equal(pn_ckks_context_new(&ctx, &p, &c2), PN_OK);
  expect_refused(&f, c2, &f.bp, buf, len, "other context");
  struct pn_ckks_boot *b2 = NULL;
  assert_int_equal(pn_ckks_boot_new(&ctx, c2, &f.bp, f.rk, f.bk, &b2), PN_ERR_MISMATCH);
  pn_ckks_context_free(c2);
  /* a key set without its last rotation key: refused on load and by boot_new */
  struct pn_ckks_gk *gk = f.bk->gk;
  gk->count--;
  uint8_t *buf2;
  size_t len2;
  assert_int_equal(pn_ckks_save_boot_keys(&ctx, f.c, f.bk, &buf2, &len2), PN_OK);
  expect_refused(&f, f.c, &f.bp, buf2, len2, "missing rotation");
  assert_int_equal(pn_ckks_boot_new(&ctx, f.c, &f.bp, f.rk, f.bk, &b2), PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "no key"));
  gk->count++;
  /* keys for other bootstrapping parameters given to boot_new */
  assert_int_equal(pn_ckks_boot_new(&ctx, f.c, &bp2, f.rk, f.bk, &b2), PN_ERR_MISMATCH);
  free(buf2);
  free(e);
  free(buf);
  fx_free(&f);
}

/* the result does not depend on the thread count */
static void test_threads(void **state) {
  struct fx f;
  struct pn_ctx ctx = {0};
  fx_init(&f, PN_BOOT_TEST_LOGN, PN_BOOT_TEST_LOGN - 3);
  const size_t slots = pn_ckks_slots(f.c);
  double *z = malloc(slots * sizeof *z);
  struct pn_ckks_ct *ct = enc_real(&f, z, f.info.input_level), *o[2];
  const int saved = omp_get_max_threads();
  for (int t = 0; t < 2; t++) {
    omp_set_num_threads(t + 1);
    o[t] = pn_ckks_ct_new(f.c);
    assert_int_equal(pn_ckks_bootstrap(&ctx, f.b, ct, o[t]), PN_OK);
  }
  omp_set_num_threads(saved);
  assert_ct_equal(o[0], o[1]);
  pn_ckks_ct_free(o[0]);
  pn_ckks_ct_free(o[1]);
  pn_ckks_ct_free(ct);
  free(z);
  fx_free(&f);
}
#endif

#if PN_BOOT_TEST_LOGN < 15
/* The presets: within the 128-bit table at N = 2^15 and 2^16 without allow_insecure, the documented levels
** after a bootstrap, and the checks that refuse a chain too short or an ephemeral modulus too large. */
static void test_params(void **state) {
  struct pn_ctx ctx = {0};
  for (int logn = 15; logn <= 16; logn++) {
    struct pn_ckks_params p;
    struct pn_ckks_boot_params bp;
    struct pn_ckks_context *c;
    assert_int_equal(pn_ckks_boot_preset(&ctx, logn, logn - 1, &p, &bp), PN_OK);
    assert_int_equal(p.allow_insecure, 0);
    assert_int_equal(pn_ckks_context_new(&ctx, &p, &c), PN_OK);
    assert_true(pn_ckks_log_qp(c) <= pn_ckks_max_logqp(logn));
    int steps[512], levels[512];
    int nrot = pn_ckks_boot_rotations(&ctx, c, &bp, steps, levels, 512);
    assert_true(nrot > 0);
    const int after = pn_ckks_max_level(c) - bp.cts_levels - pn_ckks_boot_evalmod_levels(&bp) - bp.stc_levels;
    printf("  N = 2^%d: log QP %.1f, %d levels after bootstrapping, %d rotation keys\n", logn, pn_ckks_log_qp(c),
           after, nrot);
    assert_true(after >= (logn == 16 ? 9 : 2));
    /* SlotToCoeff keys serve only the bottom levels */
    for (int i = 0; i < nrot; i++) assert_true(levels[i] <= bp.stc_levels || levels[i] >= pn_ckks_max_level(c) - bp.cts_levels);
    pn_ckks_context_free(c);
    /* a q_0 above the documented bound for the ephemeral secret: refused as insecure */
    p.q_bits[0] = 61;
    p.q_bits[1] -= 10; /* stay within the table */
    assert_int_equal(pn_ckks_context_new(&ctx, &p, &c), PN_OK);
    if (logn == 15) assert_int_equal(pn_ckks_boot_rotations(&ctx, c, &bp, steps, levels, 512), PN_ERR_INSECURE);
    pn_ckks_context_free(c);
    /* a chain too short */
    assert_int_equal(pn_ckks_boot_preset(&ctx, logn, logn - 1, &p, &bp), PN_OK);
    p.nq = bp.stc_levels + pn_ckks_boot_evalmod_levels(&bp) + bp.cts_levels; /* one level short */
    p.dnum = 0;
    assert_int_equal(pn_ckks_context_new(&ctx, &p, &c), PN_OK);
    assert_int_equal(pn_ckks_boot_rotations(&ctx, c, &bp, steps, levels, 512), PN_ERR_INVALID);
    assert_non_null(strstr(pn_errmsg(&ctx), "levels"));
    pn_ckks_context_free(c);
  }
  struct pn_ckks_params p;
  struct pn_ckks_boot_params bp;
  assert_int_equal(pn_ckks_boot_preset(&ctx, 17, 16, &p, &bp), PN_ERR_INVALID);
  assert_int_equal(pn_ckks_boot_preset(&ctx, 16, 16, &p, &bp), PN_ERR_INVALID);
}
#endif

int main(int argc, char **argv) {
  if (argc > 1) g_seed = strtoull(argv[1], NULL, 10);
  if (argc > 2) cmocka_set_test_filter(argv[2]);
  printf("test_boot N = 2^%d seed %llu\n", PN_BOOT_TEST_LOGN, (unsigned long long)g_seed);
  /* one thread (test_threads compares with two): on a shared machine a second OpenMP thread mostly waits */
  omp_set_num_threads(1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_levels_after),
#if PN_BOOT_TEST_LOGN < 15
      cmocka_unit_test(test_bootstrap_full),
      cmocka_unit_test(test_bootstrap_sparse),
      cmocka_unit_test(test_dft),
      cmocka_unit_test(test_evalmod),
      cmocka_unit_test(test_seeded_keys),
      cmocka_unit_test(test_corrupt_keys),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_params),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
