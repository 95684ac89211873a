/* bench.c - the SmartPAF paper's Table 4 setting: one PAF ReLU on a full ciphertext, per form.
**
** x (uniform in [-1, 1], every slot) is encrypted at the top level; ReLU(x) = x (1/2 + 1/2 P(x)) with P
** the form's composite sign (base coefficients; the 1/2 folded into the last stage, as the compiler does),
** then one product x * q, after one untimed warm-up pass. Timed: the sign chain and the product (what the paper's figure covers); checked:
** the decrypted result against the same polynomial in double (pn_paf_chain_eval). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/poly.h"
#include "fhe/fhe_impl.h"
#include "util/fileio.h"
#include "util/prg.h"
#include "util/status.h"

/* The form's chain with the ReLU's 1/2 folded into the last stage. */
struct chain {
  double coef[PN_PAF_MAX_STAGES][PN_PAF_MAX_TERMS];
  const double *odd[PN_PAF_MAX_STAGES];
  int nodd[PN_PAF_MAX_STAGES], n;
};

/* r = x (1/2 + P(x)/2) for form f; q is scratch. */
static int paf_relu(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                    const struct pn_ckks_ct *x, int f, struct chain *ch, struct pn_ckks_ct *q, struct pn_ckks_ct *r,
                    struct pn_poly_report *rep) {
  const struct pn_paf_form_def *d = pn_paf_form_def((enum pn_paf_form)f);
  ch->n = d->n_stages;
  for (int st = 0, o = 0; st < d->n_stages; o += d->terms[st], st++) {
    for (int j = 0; j < d->terms[st]; j++) ch->coef[st][j] = d->base[o + j] * (st == d->n_stages - 1 ? 0.5 : 1.0);
    ch->odd[st] = ch->coef[st];
    ch->nodd[st] = d->terms[st];
  }
  int rc = pn_ckks_poly_eval_odd_chain(ctx, c, rk, x, ch->odd, ch->nodd, ch->n, q, rep);
  if (!rc) rc = pn_ckks_add_const(ctx, c, q, 0.5, q);
  if (!rc) rc = pn_ckks_mul_relin(ctx, c, rk, x, q, r);
  if (!rc) rc = pn_ckks_rescale(ctx, c, r, r);
  return rc;
}

int pn_fhe_bench_paf(struct pn_ctx *ctx, int logn, int allow_insecure, const uint8_t *seed, int nforms,
                     const int *forms, struct pn_fhe_paf_bench *out) {
  /* 16 primes (a 60-bit base, fifteen 40-bit), three 61-bit special primes: log QP 843 at N = 2^15 */
  struct pn_ckks_params pr = {.logn = logn, .nq = 16, .np = 3, .dnum = 4, .scale_bits = 40,
                              .allow_insecure = allow_insecure};
  pr.q_bits[0] = 60;
  for (int i = 1; i < pr.nq; i++) pr.q_bits[i] = 40;
  for (int i = 0; i < pr.np; i++) pr.p_bits[i] = 61;
  struct pn_ckks_context *c = NULL;
  struct pn_ckks_sk *sk = NULL;
  struct pn_ckks_swk *rk = NULL;
  struct pn_prg prg;
  static const uint8_t zero[32];
  int rc = pn_ckks_context_new(ctx, &pr, &c);
  if (rc) return rc;
  if ((rc = pn_prg_init(ctx, &prg, seed ? seed : zero))) {
    pn_ckks_context_free(c);
    return rc;
  }
  if (!seed) {
    pn_prg_free(&prg);
    if ((rc = pn_prg_init_os(ctx, &prg))) {
      pn_ckks_context_free(c);
      return rc;
    }
  }
  const size_t slots = pn_ckks_slots(c);
  double *x = malloc(slots * sizeof *x), *y = malloc(slots * sizeof *y);
  struct pn_ckks_pt *pt = pn_ckks_pt_new(c);
  struct pn_ckks_ct *ct = pn_ckks_ct_new(c), *q = pn_ckks_ct_new(c), *r = pn_ckks_ct_new(c);
  if (!x || !y || !pt || !ct || !q || !r) rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  if (!rc) rc = pn_ckks_keygen_secret(ctx, c, &prg, &sk);
  if (!rc) rc = pn_ckks_keygen_relin(ctx, c, sk, &prg, &rk);
  for (size_t i = 0; !rc && i < slots; i++) x[i] = 2 * pn_prg_double(&prg) - 1;
  if (!rc) rc = pn_ckks_encode_real(ctx, c, x, slots, pn_ckks_default_scale(c), pn_ckks_max_level(c), pt);
  if (!rc) rc = pn_ckks_encrypt_sk(ctx, c, sk, pt, &prg, ct);
  struct chain ch;
  /* one untimed pass first (the first evaluation pays for page faults and cold caches) */
  if (!rc && nforms > 0) rc = paf_relu(ctx, c, rk, ct, forms[0], &ch, q, r, NULL);
  for (int f = 0; f < nforms && !rc; f++) {
    struct pn_fhe_paf_bench *b = &out[f];
    memset(b, 0, sizeof *b);
    b->form = forms[f];
    struct pn_poly_report rep;
    double t0 = pn_now();
    rc = paf_relu(ctx, c, rk, ct, forms[f], &ch, q, r, &rep);
    b->seconds = pn_now() - t0;
    b->levels = pn_ckks_max_level(c) - r->level;
    b->ct_muls = rep.nonscalar_muls + 1;
    if (!rc) rc = pn_ckks_decrypt(ctx, c, sk, r, pt);
    if (!rc) rc = pn_ckks_decode_real(ctx, c, pt, y);
    for (size_t i = 0; !rc && i < slots; i++) {
      double want = x[i] * (0.5 + pn_paf_chain_eval(ch.odd, ch.nodd, ch.n, x[i]));
      double e = fabs(y[i] - want);
      if (!(e <= b->max_err)) b->max_err = isnan(e) ? INFINITY : fmax(e, b->max_err);
    }
  }
  free(x);
  free(y);
  pn_ckks_pt_free(pt);
  pn_ckks_ct_free(ct);
  pn_ckks_ct_free(q);
  pn_ckks_ct_free(r);
  pn_ckks_swk_free(rk);
  pn_ckks_sk_free(sk);
  pn_prg_free(&prg);
  pn_ckks_context_free(c);
  return rc;
}
