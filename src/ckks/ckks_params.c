/* ckks_params.c - CKKS parameter presets, validation against the HE standard, and the context.
**
** The HE-standard table (homomorphicencryption.org, 128-bit classical, ternary secret) bounds log2(QP):
** N = 2^12: 109, 2^13: 218, 2^14: 438, 2^15: 881, 2^16: 1772. A context refuses anything above it with
** PN_ERR_INSECURE unless the caller sets allow_insecure (tests with small N). All precomputation lives
** here: prime moduli and NTT tables, rescaling inverses, P mod q_i for key switching, CRT tables per
** level for decoding, the roots exp(2 pi i k / 2N) and the rotation group 5^j for the special FFT. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_impl.h"

int pn_ckks_max_logqp(int logn) {
  switch (logn) {
  case 10: return 27;
  case 11: return 54;
  case 12: return 109;
  case 13: return 218;
  case 14: return 438;
  case 15: return 881;
  case 16: return 1772;
  default: return 0;
  }
}

static void fill(int *dst, int count, int bits) {
  for (int i = 0; i < count; i++) dst[i] = bits;
}

/* 40-bit scaling primes (the scale stays 2^40 through rescaling), a 60-bit base prime and hybrid key
** switching with P >= every digit: the practical chain for deep circuits (SmartPAF). */
static int preset_scale40(struct pn_ctx *ctx, int logn, struct pn_ckks_params *out) {
  int nq, q0, np, pb, alpha;
  switch (logn) {
  case 12: nq = 2, q0 = 40, np = 1, pb = 39, alpha = 1; out->scale_bits = 30; break; /* 40+30+39 = 109 */
  case 13: nq = 3, q0 = 50, np = 2, pb = 44, alpha = 2; break;  /* 50+80+88 = 218 */
  case 14: nq = 8, q0 = 60, np = 2, pb = 49, alpha = 2; break;  /* 60+280+98 = 438 */
  case 15: nq = 18, q0 = 60, np = 3, pb = 47, alpha = 3; break; /* 60+680+141 = 881 */
  case 16: nq = 38, q0 = 60, np = 4, pb = 58, alpha = 4; break; /* 60+1480+232 = 1772 */
  default: return pn_err(ctx, PN_ERR_INVALID, "ckks: no preset for logN = %d (12..16)", logn);
  }
  out->nq = nq;
  out->q_bits[0] = q0;
  fill(out->q_bits + 1, nq - 1, out->scale_bits);
  out->np = np;
  fill(out->p_bits, np, pb);
  out->dnum = (nq + alpha - 1) / alpha;
  return PN_OK;
}

int pn_ckks_params_preset(struct pn_ctx *ctx, const char *name, int logn, struct pn_ckks_params *out) {
  memset(out, 0, sizeof *out);
  out->logn = logn;
  out->scale_bits = 40;
  int seal = !strcmp(name, "seal"), hybrid = !strcmp(name, "hybrid");
  if (!strcmp(name, "scale40")) return preset_scale40(ctx, logn, out);
  if (!seal && !hybrid)
    return pn_err(ctx, PN_ERR_INVALID, "ckks: unknown preset '%s' (seal, hybrid, scale40)", name);
  switch (logn) {
  case 12: /* 109 bits */
    out->scale_bits = 30;
    out->nq = 2;
    fill(out->q_bits, 2, 36);
    out->np = 1;
    out->p_bits[0] = 37;
    break;
  case 13: /* SEAL {43,43,44,44,44} = 218; hybrid 3 q + 2 special, 2 digits */
    out->nq = seal ? 4 : 3;
    out->q_bits[0] = out->q_bits[1] = 43;
    fill(out->q_bits + 2, out->nq - 2, 44);
    out->np = seal ? 1 : 2;
    fill(out->p_bits, out->np, 44);
    break;
  case 14: /* SEAL {48 x3, 49 x6} = 438; hybrid 6 q (288) + 3 x 49 special = 435, 2 digits of 3 */
    out->nq = seal ? 8 : 6;
    fill(out->q_bits, 3, 48);
    fill(out->q_bits + 3, out->nq - 3, seal ? 49 : 48);
    out->np = seal ? 1 : 3;
    fill(out->p_bits, out->np, 49);
    break;
  case 15: /* SEAL 15 x 55 + 56 = 881; hybrid 12 x 55 + 4 x 55 = 880, 3 digits of 4 */
    out->nq = seal ? 15 : 12;
    fill(out->q_bits, out->nq, 55);
    out->np = seal ? 1 : 4;
    fill(out->p_bits, out->np, seal ? 56 : 55);
    break;
  case 16: /* 1772: 31 x 55 + 57 = 1762; hybrid 26 x 55 + 6 x 55 = 1760, 5 digits of 6 */
    out->nq = seal ? 31 : 26;
    fill(out->q_bits, out->nq, 55);
    out->np = seal ? 1 : 6;
    fill(out->p_bits, out->np, seal ? 57 : 55);
    break;
  default:
    return pn_err(ctx, PN_ERR_INVALID, "ckks: no preset for logN = %d (12..16)", logn);
  }
  out->dnum = seal ? out->nq : (out->nq + out->np - 1) / out->np;
  return PN_OK;
}

void pn_ckks_context_free(struct pn_ckks_context *c) {
  if (!c) return;
  for (int i = 0; i < c->nt; i++) pn_ntt_free(&c->ntt[i]);
  for (int l = 0; l < c->nq; l++) pn_crt_free(c->crt[l]);
  free(c->qlinv);
  free(c->qlinvs);
  free(c->ksi);
  free(c->rotgroup);
  for (int i = 0; i < PN_CKKS_SCRATCH_SLOTS; i++) free(c->scratch[i].p);
  pn_ckks_pool_unref(c->pool);
  free(c);
}

void *pn_ckks_scratch_get(const struct pn_ckks_context *cc, size_t bytes) {
  struct pn_ckks_context *c = (struct pn_ckks_context *)cc;
  for (int i = 0; i < PN_CKKS_SCRATCH_SLOTS; i++) {
    struct pn_ckks_scratch *s = &c->scratch[i];
    if (atomic_flag_test_and_set(&s->busy)) continue;
    if (s->size < bytes) {
      free(s->p);
      s->p = malloc(bytes);
      s->size = s->p ? bytes : 0;
      if (!s->p) {
        atomic_flag_clear(&s->busy);
        return NULL;
      }
    }
    return s->p;
  }
  return malloc(bytes);
}

void pn_ckks_scratch_put(const struct pn_ckks_context *cc, void *p) {
  struct pn_ckks_context *c = (struct pn_ckks_context *)cc;
  if (!p) return;
  for (int i = 0; i < PN_CKKS_SCRATCH_SLOTS; i++)
    if (c->scratch[i].p == p) {
      atomic_flag_clear(&c->scratch[i].busy);
      return;
    }
  free(p);
}

static int check_params(struct pn_ctx *ctx, const struct pn_ckks_params *p) {
  int minlogn = p->allow_insecure ? 3 : PN_CKKS_MIN_LOGN;
  if (p->logn < minlogn || p->logn > PN_CKKS_MAX_LOGN) {
    if (p->logn < PN_CKKS_MIN_LOGN && p->logn >= 3)
      return pn_err(ctx, PN_ERR_INSECURE, "ckks: N = 2^%d is below 2^%d (no 128-bit security); "
                    "set allow_insecure for a test parameter", p->logn, PN_CKKS_MIN_LOGN);
    return pn_err(ctx, PN_ERR_INVALID, "ckks: logN = %d outside [%d, %d]", p->logn, minlogn,
                  PN_CKKS_MAX_LOGN);
  }
  if (p->nq < 1 || p->nq > PN_CKKS_MAX_PRIMES)
    return pn_err(ctx, PN_ERR_INVALID, "ckks: nq = %d outside [1, %d]", p->nq, PN_CKKS_MAX_PRIMES);
  if (p->np < 1 || p->np > PN_CKKS_MAX_PRIMES)
    return pn_err(ctx, PN_ERR_INVALID, "ckks: np = %d outside [1, %d]", p->np, PN_CKKS_MAX_PRIMES);
  for (int i = 0; i < p->nq + p->np; i++) {
    int b = i < p->nq ? p->q_bits[i] : p->p_bits[i - p->nq];
    if (b < PN_RING_MIN_PRIME_BITS || b > PN_RING_MAX_PRIME_BITS)
      return pn_err(ctx, PN_ERR_INVALID, "ckks: %s prime %d has %d bits, outside [%d, %d]",
                    i < p->nq ? "ciphertext" : "special", i < p->nq ? i : i - p->nq, b,
                    PN_RING_MIN_PRIME_BITS, PN_RING_MAX_PRIME_BITS);
  }
  if (p->dnum < 0 || p->dnum > p->nq)
    return pn_err(ctx, PN_ERR_INVALID, "ckks: dnum = %d outside [1, nq = %d]", p->dnum, p->nq);
  if (p->scale_bits < 1 || p->scale_bits > 100)
    return pn_err(ctx, PN_ERR_INVALID, "ckks: scale_bits = %d outside [1, 100]", p->scale_bits);
  return PN_OK;
}

int pn_ckks_context_new(struct pn_ctx *ctx, const struct pn_ckks_params *p, struct pn_ckks_context **out) {
  *out = NULL;
  int rc = check_params(ctx, p);
  if (rc) return rc;
  struct pn_ckks_context *c = calloc(1, sizeof *c);
  if (!c) return pn_err(ctx, PN_ERR_NOMEM, "ckks: context");
  c->p = *p;
  c->logn = p->logn;
  c->n = (size_t)1 << p->logn;
  c->slots = c->n / 2;
  c->nq = p->nq;
  c->np = p->np;
  c->nt = p->nq + p->np;
  int dnum = p->dnum ? p->dnum : p->nq;
  c->alpha = (c->nq + dnum - 1) / dnum;
  c->dnum = (c->nq + c->alpha - 1) / c->alpha;
  c->p.dnum = c->dnum;
  c->scale = ldexp(1.0, p->scale_bits);
  /* primes: generated in order, all distinct */
  uint64_t primes[PN_CKKS_MAX_PRIMES * 2];
  for (int i = 0; i < c->nt; i++) {
    int b = i < c->nq ? p->q_bits[i] : p->p_bits[i - c->nq];
    rc = pn_prime_gen(ctx, b, c->n, 1, primes, i, &primes[i]);
    if (rc) goto fail;
  }
  c->logqp = 0;
  for (int i = 0; i < c->nt; i++) c->logqp += log2((double)primes[i]);
  int bound = pn_ckks_max_logqp(p->logn);
  if (!p->allow_insecure && (bound == 0 || c->logqp > bound)) {
    rc = pn_err(ctx, PN_ERR_INSECURE,
                "ckks: log2(QP) = %.1f exceeds the HE-standard 128-bit bound %d for N = 2^%d; "
                "set allow_insecure for a test parameter", c->logqp, bound, p->logn);
    goto fail;
  }
  for (int i = 0; i < c->nt; i++) {
    pn_mod_init(&c->mod[i], primes[i]);
    rc = pn_ntt_init(ctx, &c->ntt[i], primes[i], c->logn);
    if (rc) goto fail; /* zeroed tables free harmlessly */
  }
  size_t nq = (size_t)c->nq;
  c->qlinv = calloc(nq * nq, sizeof *c->qlinv);
  c->qlinvs = calloc(nq * nq, sizeof *c->qlinvs);
  c->ksi = malloc((2 * c->n + 1) * sizeof *c->ksi);
  c->rotgroup = malloc(c->slots * sizeof *c->rotgroup);
  /* keep up to 64 ciphertext buffers, at most ~1 GiB of them */
  {
    const size_t words = 2 * nq * c->n, cap = ((size_t)1 << 30) / (words * sizeof(uint64_t));
    c->pool = pn_ckks_pool_new(words, cap < 4 ? 4 : cap > 64 ? 64 : (int)cap);
  }
  if (!c->qlinv || !c->qlinvs || !c->ksi || !c->rotgroup || !c->pool) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "ckks: context tables");
    goto fail;
  }
  for (int l = 1; l < c->nq; l++)
    for (int i = 0; i < l; i++) {
      uint64_t v = pn_mod_inv(&c->mod[i], primes[l] % primes[i]);
      c->qlinv[l * nq + i] = v;
      c->qlinvs[l * nq + i] = pn_shoup(v, primes[i]);
    }
  for (int i = 0; i < c->nq; i++) {
    uint64_t pm = 1;
    for (int k = 0; k < c->np; k++) pm = pn_mod_mul(&c->mod[i], pm, primes[c->nq + k] % primes[i]);
    c->pmodq[i] = pm;
    c->pinv[i] = pn_mod_inv(&c->mod[i], pm);
    c->pinvs[i] = pn_shoup(c->pinv[i], primes[i]);
  }
  for (int l = 0; l < c->nq; l++) {
    c->crt[l] = pn_crt_new(c->mod, l + 1);
    if (!c->crt[l]) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "ckks: CRT tables");
      goto fail;
    }
  }
  size_t m = 2 * c->n;
  for (size_t k = 0; k <= m; k++) {
    double a = 2 * M_PI * (double)k / (double)m;
    c->ksi[k] = cos(a) + I * sin(a);
  }
  uint64_t g = 1;
  for (size_t j = 0; j < c->slots; j++) {
    c->rotgroup[j] = g;
    g = (g * 5) % m;
  }
  /* fingerprint: SHA-256 over a canonical text of the exact parameters */
  {
    char text[64 * PN_CKKS_MAX_PRIMES * 2 + 128];
    size_t pos = (size_t)snprintf(text, sizeof text, "privnn-ckks-v1 logn=%d nq=%d np=%d dnum=%d scale=%d",
                                  c->logn, c->nq, c->np, c->dnum, p->scale_bits);
    for (int i = 0; i < c->nt && pos < sizeof text; i++)
      pos += (size_t)snprintf(text + pos, sizeof text - pos, " %llu", (unsigned long long)primes[i]);
    static const uint8_t zero[PN_SEED_BYTES];
    pn_seed_derive(zero, text, 0, c->fp);
  }
  *out = c;
  return PN_OK;
fail:
  pn_ckks_context_free(c);
  return rc;
}

size_t pn_ckks_n(const struct pn_ckks_context *c) { return c->n; }
size_t pn_ckks_slots(const struct pn_ckks_context *c) { return c->slots; }
int pn_ckks_max_level(const struct pn_ckks_context *c) { return c->nq - 1; }
int pn_ckks_dnum(const struct pn_ckks_context *c) { return c->dnum; }
double pn_ckks_default_scale(const struct pn_ckks_context *c) { return c->scale; }
double pn_ckks_log_qp(const struct pn_ckks_context *c) { return c->logqp; }
uint64_t pn_ckks_prime(const struct pn_ckks_context *c, int i) {
  return (i >= 0 && i < c->nt) ? c->mod[i].q : 0;
}
const struct pn_ckks_params *pn_ckks_params_of(const struct pn_ckks_context *c) { return &c->p; }
const uint8_t *pn_ckks_fingerprint(const struct pn_ckks_context *c) { return c->fp; }

void pn_ckks_describe(const struct pn_ckks_context *c, char *buf, size_t size) {
  size_t pos = (size_t)snprintf(buf, size, "N=%zu logQP=%.1f q=[", c->n, c->logqp);
  for (int i = 0; i < c->nt && pos < size; i++) {
    if (i == c->nq) pos += (size_t)snprintf(buf + pos, size - pos, "] p=[");
    else if (i) pos += (size_t)snprintf(buf + pos, size - pos, ",");
    if (pos < size) pos += (size_t)snprintf(buf + pos, size - pos, "%.1f", log2((double)c->mod[i].q));
  }
  if (pos < size)
    snprintf(buf + pos, size - pos, "] dnum=%d alpha=%d scale=2^%d", c->dnum, c->alpha, c->p.scale_bits);
}
