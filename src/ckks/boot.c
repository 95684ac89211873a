/* boot.c - CKKS bootstrapping: parameters and presets, keys, the bootstrapping context and the circuit.
**
** The chain is laid out bottom-up as q_0 | S SlotToCoeff primes | C primes for computation | E EvalMod
** primes | T CoeffToSlot primes, with special primes P for hybrid key switching. A ciphertext enters at
** level S, SlotToCoeff takes it to level 0 (its slot values now its coefficients), a gadget key switches the
** secret to the ephemeral sparse s' modulo q_0 alone, ModRaise lifts the centred residues to every prime
** (t = m / q_0 + I, |I| <= K), a full key switches back to s, a trace keeps the 2n coefficients of a sparse
** packing, CoeffToSlot brings the coefficients into the slots (T levels), one conjugation keeps the real
** part and EvalMod removes I (E levels): the result sits at level S + C at the default scale.
** See boot.h for what a caller must know and boot_dft.c / boot_mod.c for the two big steps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckks/boot_impl.h"
#include "util/wipe.h"

static const char k_d2s_label[] = "privnn ckks bootstrapping dense-to-sparse key a";

static void fill(int *dst, int count, int bits) {
  for (int i = 0; i < count; i++) dst[i] = bits;
}

int pn_ckks_boot_preset(struct pn_ctx *ctx, int logn, int logslots, struct pn_ckks_params *p,
                        struct pn_ckks_boot_params *bp) {
  memset(p, 0, sizeof *p);
  memset(bp, 0, sizeof *bp);
  if (logn < 10 || logn > 16)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: no bootstrapping preset for logN = %d (10..16)", logn);
  if (logslots < 1 || logslots > logn - 1)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: logslots = %d outside [1, %d]", logslots, logn - 1);
  bp->logslots = logslots;
  bp->eph_weight = 32;
  bp->eph_base_bits = 4;
  bp->cos_degree = 31;
  bp->double_angles = 2;
  bp->arcsine_degree = 3;
  bp->stc_levels = logslots >= 3 ? 3 : logslots;
  bp->cts_levels = logslots >= 4 ? 4 : logslots;
  /* EvalMod: u (1) + cosine (5) + double angles (2) + arcsine (2) */
  const int E = 10;
  int comp, q0, stcb, compb, modb, ctsb, pb, np, dnum;
  p->logn = logn;
  if (logn >= 16) {
    /* 55 + 3 x 42 + 9 x 45 + 10 x 60 + 4 x 58 = 1418, P = 5 x 61: log QP = 1723 <= 1772; digits of 5 primes */
    q0 = 55, stcb = 42, comp = 9, compb = 45, modb = 60, ctsb = 58, pb = 61, np = 5, dnum = 6;
    p->scale_bits = 45;
  } else if (logn == 15) {
    /* 881 bits: no arcsine (its two levels do not fit next to 2 levels for computation), so the sine's
    ** cubic error asks for q_0 / Delta = 2^13; the noise that ratio amplifies is held down by 61-bit EvalMod
    ** and 60-bit CtS primes, paid for with one special prime (digits of one prime each: more key memory):
    ** 53 + 2 x 38 + 2 x 40 + 8 x 61 + 2 x 60 = 817, P = 61: 878 */
    bp->arcsine_degree = 0;
    bp->stc_levels = logslots >= 2 ? 2 : 1;
    bp->cts_levels = logslots >= 2 ? 2 : 1;
    q0 = 53, stcb = 38, comp = 2, compb = 40, modb = 61, ctsb = 60, pb = 61, np = 1, dnum = 0;
    p->scale_bits = 40;
  } else {
    /* test rings: the N = 2^16 structure, fewer levels for computation (insecure: allow_insecure) */
    q0 = 55, stcb = 42, comp = 3, compb = 45, modb = 60, ctsb = 58, pb = 61, np = 3, dnum = 0;
    p->scale_bits = 45;
  }
  const int e = bp->arcsine_degree ? E : E - 2;
  const int S = bp->stc_levels, T = bp->cts_levels;
  p->nq = 1 + S + comp + e + T;
  if (p->nq > PN_CKKS_MAX_PRIMES) return pn_err(ctx, PN_ERR_INVALID, "ckks boot: preset chain too long");
  p->q_bits[0] = q0;
  fill(p->q_bits + 1, S, stcb);
  fill(p->q_bits + 1 + S, comp, compb);
  fill(p->q_bits + 1 + S + comp, e, modb);
  fill(p->q_bits + 1 + S + comp + e, T, ctsb);
  p->np = np;
  fill(p->p_bits, np, pb);
  /* digits of np primes unless given (P >= every digit: the largest primes are at the top) */
  p->dnum = dnum ? dnum : (p->nq + np - 1) / np;
  return PN_OK;
}

void pn_boot_levels(const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp, int *lin, int *lout,
                    int *lcts, int *lmod) {
  struct pn_ctx ctx = {0};
  struct pn_boot_mod m;
  int E = pn_boot_mod_init(&ctx, bp, &m) ? 0 : pn_boot_mod_levels(&m);
  *lin = bp->stc_levels;
  *lcts = c->nq - 1;
  *lmod = c->nq - 1 - bp->cts_levels;
  *lout = *lmod - E;
}

int pn_ckks_boot_evalmod_levels(const struct pn_ckks_boot_params *bp) {
  struct pn_ctx ctx = {0};
  struct pn_boot_mod m;
  return pn_boot_mod_init(&ctx, bp, &m) ? -1 : pn_boot_mod_levels(&m);
}

int pn_boot_eph_digits(const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp) {
  const int bits = (int)ceil(log2((double)c->mod[0].q));
  return (bits + bp->eph_base_bits - 1) / bp->eph_base_bits + 1;
}

int pn_boot_check_params(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp) {
  if (bp->logslots < 1 || bp->logslots > c->logn - 1)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: logslots = %d outside [1, %d]", bp->logslots, c->logn - 1);
  if (bp->stc_levels < 1 || bp->stc_levels > bp->logslots || bp->cts_levels < 1 || bp->cts_levels > bp->logslots)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: %d SlotToCoeff / %d CoeffToSlot levels for 2^%d slots (1..%d)",
                  bp->stc_levels, bp->cts_levels, bp->logslots, bp->logslots);
  if (bp->eph_base_bits < 1 || bp->eph_base_bits > 20)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: gadget base 2^%d outside [2, 2^20]", bp->eph_base_bits);
  if ((size_t)bp->eph_weight > c->n)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: ephemeral weight %d above N = %zu", bp->eph_weight, c->n);
  struct pn_boot_mod m;
  int rc = pn_boot_mod_init(ctx, bp, &m);
  if (rc) return rc;
  const int E = pn_boot_mod_levels(&m), need = bp->stc_levels + E + bp->cts_levels;
  if (c->nq - 1 < need)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: the chain has %d levels, bootstrapping needs %d "
                  "(%d SlotToCoeff + %d EvalMod + %d CoeffToSlot)", c->nq - 1, need, bp->stc_levels, E,
                  bp->cts_levels);
  /* the ephemeral sparse secret appears only modulo q_0: keep its modulus at the documented bound */
  const double lq0 = log2((double)c->mod[0].q);
  const double bound = c->logn >= 16 ? 121 : c->logn == 15 ? 60.5 : 0;
  if (!c->p.allow_insecure && (bound == 0 || lq0 > bound || bp->eph_weight < 32))
    return pn_err(ctx, PN_ERR_INSECURE, "ckks boot: ephemeral secret of weight %d modulo a %.1f-bit q_0 at N = "
                  "2^%d is outside the documented 128-bit bound (weight >= 32, log q_0 <= %.1f)",
                  bp->eph_weight, lq0, c->logn, bound);
  return PN_OK;
}

/* levels each DFT factor runs at, and the CoeffToSlot gains (its output lands on the EvalMod scale) */
static void place_dfts(const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp, struct pn_boot_dft *stc,
                       struct pn_boot_dft *cts) {
  int lin, lout, lcts, lmod;
  pn_boot_levels(c, bp, &lin, &lout, &lcts, &lmod);
  for (int i = 0; i < stc->nf; i++) stc->f[i].level = lin - i;
  for (int i = 0; i < cts->nf; i++) cts->f[i].level = lcts - i;
  if (cts->nf) cts->f[0].gain = (double)c->mod[lmod].q / (double)c->mod[0].q;
}

static double cts_constant(const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp) {
  struct pn_ctx ctx = {0};
  struct pn_boot_mod m;
  pn_boot_mod_init(&ctx, bp, &m);
  const double gap = (double)c->slots / (double)((size_t)1 << bp->logslots);
  return 1.0 / (2.0 * m.kp * gap);
}

static int build_dfts(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                      struct pn_boot_dft *stc, struct pn_boot_dft *cts) {
  const size_t n = (size_t)1 << bp->logslots;
  int rc = pn_boot_dft_build(ctx, c, n, bp->stc_levels, 0, 1.0, stc);
  if (!rc) rc = pn_boot_dft_build(ctx, c, n, bp->cts_levels, 1, cts_constant(c, bp), cts);
  if (rc) {
    pn_boot_dft_free(stc);
    pn_boot_dft_free(cts);
    return rc;
  }
  place_dfts(c, bp, stc, cts);
  return PN_OK;
}

/* the rotations of the trace onto the subring of a sparse packing: n 2^k, k < log2(N / 2n) */
static int subsum_steps(const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp, int *steps) {
  int cnt = 0;
  for (size_t s = (size_t)1 << bp->logslots; s < c->slots; s *= 2) steps[cnt++] = (int)s;
  return cnt;
}

static int rotations(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                     int *steps, int *levels, int max) {
  struct pn_boot_dft stc, cts;
  int rc = build_dfts(ctx, c, bp, &stc, &cts);
  if (rc) return rc;
  int count = 0, sub[32];
  pn_boot_dft_steps(&stc, c->nq - 1, steps, levels, &count, max);
  pn_boot_dft_steps(&cts, c->nq - 1, steps, levels, &count, max);
  const int ns = subsum_steps(c, bp, sub);
  for (int i = 0; i < ns; i++) {
    int k = 0;
    while (k < count && steps[k] != sub[i]) k++;
    if (k == count && count < max) {
      steps[count] = sub[i];
      if (levels) levels[count] = c->nq - 1;
      count++;
    } else if (k < count && levels) {
      levels[k] = c->nq - 1;
    }
  }
  pn_boot_dft_free(&stc);
  pn_boot_dft_free(&cts);
  return count;
}

int pn_ckks_boot_rotations(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                           int *steps, int *levels, int max) {
  int rc = pn_boot_check_params(ctx, c, bp);
  return rc ? rc : rotations(ctx, c, bp, steps, levels, max);
}

/* ---- keys ---- */

void pn_ckks_boot_keys_free(struct pn_ckks_boot_keys *bk) {
  if (!bk) return;
  pn_ckks_gk_free(bk->gk);
  pn_ckks_swk_free(bk->s2d);
  free(bk->d2s_b);
  free(bk->d2s_a);
  free(bk);
}

int pn_boot_d2s_expand(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_ckks_boot_keys *bk) {
  for (int i = 0; i < bk->nd; i++) {
    uint8_t s[PN_SEED_BYTES];
    struct pn_prg prg;
    pn_seed_derive(bk->d2s_seed, k_d2s_label, (uint64_t)i, s);
    int rc = pn_prg_init(ctx, &prg, s);
    pn_wipe(s, sizeof s);
    if (rc) return rc;
    pn_sample_uniform(&prg, c->mod[0].q, c->n, bk->d2s_a + (size_t)i * c->n);
    pn_prg_free(&prg);
  }
  return PN_OK;
}

/* move the keys of src into dst (both of context c) */
static int gk_merge(struct pn_ckks_gk *dst, struct pn_ckks_gk *src) {
  uint64_t *g = realloc(dst->galois, (size_t)(dst->count + src->count + 1) * sizeof *g);
  if (!g) return -1;
  dst->galois = g;
  struct pn_ckks_swk **k = realloc(dst->keys, (size_t)(dst->count + src->count + 1) * sizeof *k);
  if (!k) return -1;
  dst->keys = k;
  for (int i = 0; i < src->count; i++) {
    dst->galois[dst->count] = src->galois[i];
    dst->keys[dst->count++] = src->keys[i];
    src->keys[i] = NULL;
  }
  src->count = 0;
  return 0;
}

static int check_sk_boot(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk) {
  if (!sk || sk->n != c->n || sk->nt != c->nt || !pn_ckks_fp_ok(c, sk->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks boot: secret key of other parameters");
  return PN_OK;
}

int pn_ckks_boot_keygen(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                        const struct pn_ckks_sk *sk, struct pn_prg *prg, struct pn_ckks_boot_keys **out) {
  *out = NULL;
  int rc = pn_boot_check_params(ctx, c, bp);
  if (!rc) rc = check_sk_boot(ctx, c, sk);
  if (rc) return rc;
  const size_t n = c->n;
  const int max = 512;
  int *steps = malloc(max * sizeof *steps), *levels = malloc(max * sizeof *levels);
  int8_t *sp = calloc(n, 1);
  uint64_t *spn = malloc((size_t)c->nt * n * sizeof *spn);
  struct pn_ckks_boot_keys *bk = calloc(1, sizeof *bk);
  int8_t *e = malloc(n);
  if (!steps || !levels || !sp || !spn || !bk || !e) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "ckks boot keygen");
    goto done;
  }
  memcpy(bk->fp, c->fp, sizeof bk->fp);
  bk->bp = *bp;
  const int count = rotations(ctx, c, bp, steps, levels, max);
  if (count < 0) {
    rc = count;
    goto done;
  }
  /* rotation keys, grouped by the highest level they serve; conjugation at the EvalMod start */
  int lin, lout, lcts, lmod;
  pn_boot_levels(c, bp, &lin, &lout, &lcts, &lmod);
  if (!(bk->gk = calloc(1, sizeof *bk->gk))) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "ckks boot keygen");
    goto done;
  }
  memcpy(bk->gk->fp, c->fp, sizeof bk->gk->fp);
  for (int lv = 0; lv < c->nq && !rc; lv++) {
    int grp[512], ng = 0;
    for (int i = 0; i < count; i++)
      if (levels[i] == lv) grp[ng++] = steps[i];
    const int conj = lv == lmod;
    if (!ng && !conj) continue;
    struct pn_ckks_gk *g = NULL;
    rc = pn_ckks_keygen_galois_level(ctx, c, sk, grp, ng, conj, lv, prg, &g);
    if (!rc && gk_merge(bk->gk, g)) rc = pn_err(ctx, PN_ERR_NOMEM, "ckks boot keygen");
    pn_ckks_gk_free(g);
  }
  if (rc) goto done;
  /* the ephemeral secret: eph_weight distinct positions, random signs */
  for (int h = 0; h < bp->eph_weight;) {
    size_t pos = (size_t)pn_prg_uniform(prg, n);
    if (sp[pos]) continue;
    sp[pos] = (pn_prg_u64(prg) & 1) ? 1 : -1;
    h++;
  }
#pragma omp parallel for schedule(static)
  for (int i = 0; i < c->nt; i++) {
    pn_small_to_mod(sp, n, c->mod[i].q, spn + (size_t)i * n);
    pn_ntt_fwd(&c->ntt[i], spn + (size_t)i * n);
  }
  /* sparse -> dense: a full key with secret s for the source s' */
  rc = pn_ckks_swk_gen(ctx, c, sk, spn, prg, &bk->s2d);
  if (rc) goto done;
  /* dense -> sparse modulo q_0 alone: b_i = -a_i s' + e_i + B^i s, i < nd */
  bk->nd = pn_boot_eph_digits(c, bp);
  bk->d2s_b = malloc((size_t)bk->nd * n * sizeof *bk->d2s_b);
  bk->d2s_a = malloc((size_t)bk->nd * n * sizeof *bk->d2s_a);
  if (!bk->d2s_b || !bk->d2s_a) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "ckks boot keygen");
    goto done;
  }
  pn_prg_bytes(prg, bk->d2s_seed, sizeof bk->d2s_seed);
  if ((rc = pn_boot_d2s_expand(ctx, c, bk))) goto done;
  {
    const struct pn_mod *m = &c->mod[0];
    const uint64_t q = m->q, *s = sk->ntt, *s1 = spn;
    uint64_t pw = 1 % q;
    for (int i = 0; i < bk->nd; i++) {
      uint64_t *b = bk->d2s_b + (size_t)i * n;
      const uint64_t *a = bk->d2s_a + (size_t)i * n, pws = pn_shoup(pw, q);
      pn_sample_cbd(prg, n, e);
      pn_small_to_mod(e, n, q, b);
      pn_ntt_fwd(&c->ntt[0], b);
      for (size_t k = 0; k < n; k++) {
        uint64_t v = pn_mod_sub(b[k], pn_mod_mul(m, a[k], s1[k]), q);
        b[k] = pn_mod_add(v, pn_mul_shoup(s[k], pw, pws, q), q);
      }
      pw = pn_mod_mul(m, pw, (uint64_t)1 << bp->eph_base_bits);
    }
  }
done:
  pn_wipe_free(sp, n);
  if (spn) pn_wipe_free(spn, (size_t)c->nt * n * sizeof *spn);
  if (e) pn_wipe_free(e, n);
  free(steps);
  free(levels);
  if (rc) {
    pn_ckks_boot_keys_free(bk);
    return rc;
  }
  *out = bk;
  return PN_OK;
}

size_t pn_ckks_boot_keys_bytes(const struct pn_ckks_context *c, const struct pn_ckks_boot_keys *bk, int serialized) {
  if (!bk) return 0;
  size_t total = 0;
  for (int i = 0; bk->gk && i < bk->gk->count; i++)
    total += serialized ? pn_ckks_swk_record_bytes(c, bk->gk->keys[i], 1) : pn_ckks_swk_bytes(bk->gk->keys[i]);
  total += serialized ? pn_ckks_swk_record_bytes(c, bk->s2d, 1) : pn_ckks_swk_bytes(bk->s2d);
  total += (size_t)bk->nd * c->n * 8 * (serialized ? 1 : 2);
  return total;
}

/* ---- the context ---- */

void pn_ckks_boot_free(struct pn_ckks_boot *b) {
  if (!b) return;
  pn_boot_dft_free(&b->stc);
  pn_boot_dft_free(&b->cts);
  free(b);
}

int pn_boot_keys_check(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                   const struct pn_ckks_boot_keys *bk) {
  if (!bk || !pn_ckks_fp_ok(c, bk->fp) || !bk->gk || !pn_ckks_fp_ok(c, bk->gk->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks boot: bootstrapping keys of other parameters");
  if (memcmp(&bk->bp, bp, sizeof *bp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks boot: bootstrapping keys made for other bootstrapping parameters");
  if (!pn_ckks_swk_ok(c, bk->s2d) || bk->s2d->lmax != c->nq - 1 || bk->nd != pn_boot_eph_digits(c, bp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks boot: encapsulation keys of other parameters");
  int steps[512], levels[512];
  const int count = rotations(ctx, c, bp, steps, levels, 512);
  if (count < 0) return count;
  int lin, lout, lcts, lmod;
  pn_boot_levels(c, bp, &lin, &lout, &lcts, &lmod);
  for (int i = 0; i <= count; i++) {
    const uint64_t g = pn_ckks_galois_elt(c, i < count ? steps[i] : PN_CKKS_CONJ);
    const int lv = i < count ? levels[i] : lmod;
    int found = 0;
    for (int k = 0; k < bk->gk->count; k++)
      if (bk->gk->galois[k] == g && pn_ckks_swk_ok(c, bk->gk->keys[k]) && bk->gk->keys[k]->lmax >= lv) found = 1;
    if (!found)
      return pn_err(ctx, PN_ERR_MISMATCH, "ckks boot: no key for %s %d at level %d",
                    i < count ? "rotation by" : "conjugation", i < count ? steps[i] : 0, lv);
  }
  return PN_OK;
}

int pn_ckks_boot_new(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                     const struct pn_ckks_swk *rk, const struct pn_ckks_boot_keys *bk, struct pn_ckks_boot **out) {
  *out = NULL;
  int rc = pn_boot_check_params(ctx, c, bp);
  if (rc) return rc;
  if (!pn_ckks_swk_ok(c, rk) || rk->lmax != c->nq - 1)
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks boot: relinearisation key of other parameters");
  if ((rc = pn_boot_keys_check(ctx, c, bp, bk))) return rc;
  struct pn_ckks_boot *b = calloc(1, sizeof *b);
  if (!b) return pn_err(ctx, PN_ERR_NOMEM, "ckks boot");
  b->c = c;
  b->bp = *bp;
  b->rk = rk;
  b->bk = bk;
  b->n = (size_t)1 << bp->logslots;
  b->gap = (int)(c->slots / b->n);
  pn_boot_levels(c, bp, &b->lin, &b->lout, &b->lcts, &b->lmod);
  b->cts_const = cts_constant(c, bp);
  rc = pn_boot_mod_init(ctx, bp, &b->mod);
  if (!rc) rc = build_dfts(ctx, c, bp, &b->stc, &b->cts);
  if (!rc) rc = pn_boot_dft_precompute(ctx, c, &b->stc, &b->pt_bytes);
  if (!rc) rc = pn_boot_dft_precompute(ctx, c, &b->cts, &b->pt_bytes);
  if (rc) {
    pn_ckks_boot_free(b);
    return rc;
  }
  int sub[32];
  b->keyswitches = pn_boot_dft_keyswitches(&b->stc) + pn_boot_dft_keyswitches(&b->cts) + subsum_steps(c, bp, sub) + 2;
  *out = b;
  return PN_OK;
}

int pn_ckks_boot_set_keys(struct pn_ctx *ctx, struct pn_ckks_boot *b, const struct pn_ckks_swk *rk,
                          const struct pn_ckks_boot_keys *bk) {
  const struct pn_ckks_context *c = b->c;
  if (!pn_ckks_swk_ok(c, rk) || rk->lmax != c->nq - 1)
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks boot: relinearisation key of other parameters");
  int rc = pn_boot_keys_check(ctx, c, &b->bp, bk);
  if (rc) return rc;
  b->rk = rk;
  b->bk = bk;
  return PN_OK;
}

void pn_ckks_boot_get_info(const struct pn_ckks_boot *b, struct pn_ckks_boot_info *o) {
  memset(o, 0, sizeof *o);
  const struct pn_ckks_context *c = b->c;
  o->slots = b->n;
  o->input_level = b->lin;
  o->output_level = b->lout;
  o->levels_after = b->lout - b->lin;
  o->evalmod_levels = pn_boot_mod_levels(&b->mod);
  o->stc_levels = b->bp.stc_levels;
  o->cts_levels = b->bp.cts_levels;
  o->scale = c->scale;
  o->log_ratio = log2((double)c->mod[0].q) - log2(c->scale);
  o->K = b->mod.K;
  o->rotations = b->bk->gk->count;
  o->keyswitches = b->keyswitches;
  o->key_bytes = pn_ckks_boot_keys_bytes(c, b->bk, 0);
  o->key_bytes_serialized = pn_ckks_boot_keys_bytes(c, b->bk, 1);
  o->plaintext_bytes = b->pt_bytes;
  o->cts_const = b->cts_const;
}

/* ---- the circuit ---- */

static int check_in(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in, int level) {
  const struct pn_ckks_context *c = b->c;
  if (in->n != c->n || in->nq != c->nq || in->size != 2 || in->level < 0 || in->level >= c->nq ||
      !pn_ckks_fp_ok(c, in->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks boot: ciphertext of other parameters (or not relinearised)");
  if (in->level < level)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: the ciphertext is at level %d, below the %d this step needs",
                  in->level, level);
  return PN_OK;
}

int pn_ckks_boot_slot_to_coeff(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in,
                               struct pn_ckks_ct *out) {
  int ks = 0, rc = check_in(ctx, b, in, b->stc.nf);
  return rc ? rc : pn_boot_dft_apply(ctx, b->c, b->bk->gk, &b->stc, in, out, &ks);
}

int pn_ckks_boot_coeff_to_slot(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in,
                               struct pn_ckks_ct *out) {
  int ks = 0, rc = check_in(ctx, b, in, b->cts.nf);
  if (rc) return rc;
  /* the factors' gains are for the bootstrap circuit (scale q_0 in, EvalMod scale out): undo them here */
  struct pn_boot_dft d = b->cts;
  struct pn_boot_lt f[16];
  for (int i = 0; i < d.nf; i++) {
    f[i] = d.f[i];
    f[i].gain = 1;
    if (f[i].pt && b->cts.f[i].gain != 1) f[i].pt = NULL; /* encoded with the gain: encode on the fly */
    d.f[i] = f[i];
  }
  return pn_boot_dft_apply(ctx, b->c, b->bk->gk, &d, in, out, &ks);
}

int pn_ckks_boot_eval_mod(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in, double ratio,
                          double scale, struct pn_ckks_ct *out) {
  int rc = check_in(ctx, b, in, pn_boot_mod_levels(&b->mod));
  return rc ? rc : pn_boot_mod_eval(ctx, b->c, b->rk, &b->mod, in, ratio, scale, out);
}

double pn_ckks_boot_eval_mod_plain(const struct pn_ckks_boot *b, double t, double ratio) {
  return pn_boot_mod_plain(&b->mod, t, ratio);
}

/* At level 0: switch s -> s' with the gadget key (balanced base-2^w digits of c1 mod q_0), then lift the
** centred residues of both polynomials to every prime (ModRaise), NTT form, out at the top level. */
static int encapsulate_raise(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in,
                             struct pn_ckks_ct *out) {
  const struct pn_ckks_context *c = b->c;
  const struct pn_ckks_boot_keys *bk = b->bk;
  const size_t n = c->n;
  const struct pn_mod *m0 = &c->mod[0];
  const uint64_t q0 = m0->q, half = q0 / 2;
  const int nd = bk->nd, w = b->bp.eph_base_bits, L = c->nq - 1;
  const int64_t B = (int64_t)1 << w;
  int8_t *dig = malloc((size_t)nd * n);
  uint64_t *buf = malloc(3 * n * sizeof *buf);
  pn_u128 *acc = malloc(2 * n * sizeof *acc);
  int rc = dig && buf && acc ? pn_ckks_ct_reserve(ctx, out, 2) : pn_err(ctx, PN_ERR_NOMEM, "ckks boot");
  if (rc) goto done;
  uint64_t *c0 = buf, *c1 = buf + n, *t = buf + 2 * n;
  memcpy(c1, ct_limb(in, 1, 0), n * sizeof *c1);
  pn_ntt_inv(&c->ntt[0], c1);
  for (size_t k = 0; k < n; k++) { /* balanced digits: v = sum_i d_i B^i, |d_i| <= B / 2 */
    int64_t v = c1[k] > half ? (int64_t)c1[k] - (int64_t)q0 : (int64_t)c1[k];
    for (int i = 0; i < nd; i++) {
      int64_t d = ((v % B) + B) % B;
      if (d >= B / 2) d -= B;
      dig[(size_t)i * n + k] = (int8_t)d;
      v = (v - d) / B;
    }
  }
  memset(acc, 0, 2 * n * sizeof *acc);
  for (int i = 0; i < nd; i++) { /* nd <= 61: each product < 2^122, the sum < 2^128 */
    pn_small_to_mod(dig + (size_t)i * n, n, q0, t);
    pn_ntt_fwd(&c->ntt[0], t);
    const uint64_t *kb = bk->d2s_b + (size_t)i * n, *ka = bk->d2s_a + (size_t)i * n;
    for (size_t k = 0; k < n; k++) {
      acc[k] += (pn_u128)t[k] * kb[k];
      acc[n + k] += (pn_u128)t[k] * ka[k];
    }
  }
  const uint64_t *in0 = ct_limb(in, 0, 0);
  for (size_t k = 0; k < n; k++) {
    c0[k] = pn_mod_add(in0[k], pn_mod_red128(m0, acc[k]), q0);
    c1[k] = pn_mod_red128(m0, acc[n + k]);
  }
  pn_ntt_inv(&c->ntt[0], c0);
  pn_ntt_inv(&c->ntt[0], c1);
#pragma omp parallel for schedule(static)
  for (int i = 0; i <= L; i++) {
    for (int j = 0; j < 2; j++) {
      const uint64_t *src = j ? c1 : c0;
      uint64_t *d = ct_limb(out, j, i);
      pn_vec_centred_lift(src, q0, &c->mod[i], d, n);
      pn_ntt_fwd(&c->ntt[i], d);
    }
  }
  out->size = 2;
  out->level = L;
  out->scale = (double)q0; /* slots: U (m / q_0 + I), the raised coefficients t */
done:
  free(dig);
  free(buf);
  free(acc);
  return rc;
}

static double clock_ms(int clk) {
  struct timespec t;
  clock_gettime(clk, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int pn_ckks_bootstrap_timed(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in,
                            struct pn_ckks_ct *out, int clock_id, double ms[PN_BOOT_STAGES]) {
  const struct pn_ckks_context *c = b->c;
  int rc = check_in(ctx, b, in, b->lin);
  if (rc) return rc;
  if (out->n != c->n || out->nq != c->nq || !pn_ckks_fp_ok(c, out->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks boot: output ciphertext of other parameters");
  const size_t n = c->n;
  const int L = c->nq - 1;
  const double din = in->scale;
  int ks = 0, st = 0;
  double t = ms ? clock_ms(clock_id) : 0;
#define STAGE()                                   \
  do {                                            \
    if (ms) {                                     \
      const double t1 = clock_ms(clock_id);       \
      ms[st++] = t1 - t;                          \
      t = t1;                                     \
    }                                             \
  } while (0)
  struct pn_ckks_ct *x = pn_ckks_ct_new(c), *y = pn_ckks_ct_new(c);
  uint64_t *k = pn_ckks_scratch_get(c, 2 * (size_t)(L + 1) * n * sizeof *k);
  if (!x || !y || !k) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "ckks boot");
    goto done;
  }
  /* 1. SlotToCoeff at the bottom of the chain */
  rc = pn_ckks_drop_level(ctx, c, in, b->lin, x);
  if (!rc) rc = pn_boot_dft_apply(ctx, c, b->bk->gk, &b->stc, x, x, &ks);
  if (!rc) rc = pn_ckks_drop_level(ctx, c, x, 0, x);
  STAGE();
  /* 2-3. to the ephemeral secret modulo q_0, ModRaise, and back to s at the top */
  if (!rc) rc = encapsulate_raise(ctx, b, x, y);
  if (!rc) rc = pn_ckks_keyswitch(ctx, c, b->bk->s2d, ct_limb(y, 1, 0), n, L, k, k + (size_t)(L + 1) * n);
  if (!rc) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i <= L; i++) {
      const uint64_t q = c->mod[i].q, *a = k + (size_t)i * n;
      uint64_t *o0 = ct_limb(y, 0, i);
      for (size_t u = 0; u < n; u++) o0[u] = pn_mod_add(o0[u], a[u], q);
      memcpy(ct_limb(y, 1, i), k + (size_t)(L + 1 + i) * n, n * sizeof *k);
    }
  }
  /* 4. sparse packing: the trace onto the subring (sum of the rotations by n 2^k) */
  for (size_t s = b->n; s < c->slots && !rc; s *= 2) {
    rc = pn_ckks_rotate(ctx, c, b->bk->gk, y, (int)s, x);
    if (!rc) rc = pn_ckks_add(ctx, c, y, x, y);
  }
  STAGE();
  /* 5. CoeffToSlot, then the real part: t / K' */
  if (!rc) rc = pn_boot_dft_apply(ctx, c, b->bk->gk, &b->cts, y, y, &ks);
  if (!rc) rc = pn_ckks_conjugate(ctx, c, b->bk->gk, y, x);
  if (!rc) rc = pn_ckks_add(ctx, c, y, x, y);
  STAGE();
  /* 6. EvalMod: ratio q_0 / Delta_in brings t - I = m / q_0 back to the message */
  if (!rc) rc = pn_boot_mod_eval(ctx, c, b->rk, &b->mod, y, (double)c->mod[0].q / din, c->scale, out);
  STAGE();
#undef STAGE
done:
  pn_ckks_scratch_put(c, k);
  pn_ckks_ct_free(x);
  pn_ckks_ct_free(y);
  return rc;
}

int pn_ckks_bootstrap(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in,
                      struct pn_ckks_ct *out) {
  return pn_ckks_bootstrap_timed(ctx, b, in, out, 0, NULL);
}
