/* boot_dft.c - the homomorphic DFTs of bootstrapping: SlotToCoeff (U BR) and CoeffToSlot (BR U^-1) as
** products of sparse diagonal matrices, each evaluated baby-step giant-step with hoisted baby rotations.
**
** U is the special FFT of n points (ring Z[Y]/(Y^2n + 1), roots zeta^(5^j) of order 4n) as ckks_encode
** computes it: bit reversal, then log2(n) butterfly layers of spans lenh = 1, 2, .., n/2. A layer is a
** slot-linear map with three diagonals (offsets 0, +lenh, -lenh; one when lenh = n/2 wraps): so U BR is the
** product of the layers, BR U^-1 (1/n) the product of the inverse layers. Consecutive layers are merged
** into nf factors (one level each); merging m layers of smallest span h gives up to 2^(m+1) - 1 diagonals,
** offsets k h, which the split minimises as key switchings: a factor M v = sum_d diag_d (.) rot_d(v) is
** written sum_g rot_g( sum_b rot_-g(diag_(g+b)) (.) rot_b(v) ) with baby steps b < n1 (one shared ModUp:
** pn_ckks_rotate_hoisted) and giant steps g multiples of n1. Products with the diagonals are accumulated in
** 128 bits and reduced once per giant step. Every diagonal entry has modulus 1 (the product of twiddles
** along the unique butterfly path), so factors are encoded at scale q_level * cf with cf a per-factor share
** of the DFT's constant: the encoding keeps ~log2(q cf) bits, the declared scale does not move. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/boot_impl.h"

/* a slot-linear map as diagonals: off[i] in [0, n), v[i] n values (out[p] += v[i][p] in[p + off[i]]) */
struct dmap {
  int cnt;
  int *off;
  double complex **v;
};

static void dmap_free(struct dmap *m) {
  for (int i = 0; i < m->cnt; i++) free(m->v[i]);
  free(m->v);
  free(m->off);
  memset(m, 0, sizeof *m);
}

/* the diagonal of offset o (created zero when absent); NULL when out of memory */
static double complex *dmap_get(struct dmap *m, int o, size_t n, int cap) {
  for (int i = 0; i < m->cnt; i++)
    if (m->off[i] == o) return m->v[i];
  if (m->cnt >= cap) return NULL;
  double complex *v = calloc(n, sizeof *v);
  if (!v) return NULL;
  m->off[m->cnt] = o;
  m->v[m->cnt++] = v;
  return v;
}

static int dmap_alloc(struct dmap *m, int cap) {
  m->cnt = 0;
  m->off = malloc((size_t)cap * sizeof *m->off);
  m->v = calloc((size_t)cap, sizeof *m->v);
  return m->off && m->v ? 0 : -1;
}

/* zeta for butterfly j of the layer of length len (4 len-th roots, as ckks_encode's fft_special) */
static double complex layer_root(const struct pn_ckks_context *c, size_t len, size_t j, int inverse) {
  const size_t m = 2 * c->n, lenq = len << 2, gapr = m / lenq;
  const size_t r = c->rotgroup[j] % lenq;
  return c->ksi[(inverse ? lenq - r : r) * gapr];
}

/* the layer of length len (span lenh = len / 2) as three diagonals */
static int layer(const struct pn_ckks_context *c, size_t n, size_t len, int inverse, struct dmap *out) {
  const size_t lenh = len / 2;
  if (dmap_alloc(out, 3)) return -1;
  double complex *d0 = dmap_get(out, 0, n, 3), *dp = dmap_get(out, (int)lenh, n, 3),
                 *dm = dmap_get(out, (int)((n - lenh) % n), n, 3);
  if (!d0 || !dp || !dm) return -1;
  for (size_t p = 0; p < n; p++) {
    const size_t j = p % len;
    if (j < lenh) { /* first half: out = in[p] + w in[p + lenh] (inverse: in[p] + in[p + lenh]) */
      d0[p] += 1;
      dp[p] += inverse ? 1 : layer_root(c, len, j, 0);
    } else { /* second half: out = in[p - lenh] - w in[p] (inverse: (in[p - lenh] - in[p]) / w) */
      const double complex w = layer_root(c, len, j - lenh, inverse);
      d0[p] += inverse ? -w : -w;
      dm[p] += inverse ? w : 1;
    }
  }
  return 0;
}

/* C = A B (B applied first): C_(a+b)[p] += A_a[p] B_b[p + a] */
static int compose(const struct dmap *A, const struct dmap *B, size_t n, struct dmap *C) {
  const int cap = (int)(A->cnt * B->cnt < (int)n ? A->cnt * B->cnt : (int)n);
  if (dmap_alloc(C, cap)) return -1;
  for (int i = 0; i < A->cnt; i++)
    for (int k = 0; k < B->cnt; k++) {
      const int a = A->off[i], o = (int)(((size_t)a + (size_t)B->off[k]) % n);
      double complex *d = dmap_get(C, o, n, cap);
      if (!d) return -1;
      const double complex *x = A->v[i], *y = B->v[k];
      for (size_t p = 0; p < n; p++) d[p] += x[p] * y[(p + (size_t)a) % n];
    }
  return 0;
}

/* offsets of merged layers of spans h, 2h, .., 2^(m-1) h: sums of {0, +-span} mod n, as multiples of h */
static int merged_offsets(size_t n, size_t h, int m, int *ks /* OUT, n / h entries as a set */) {
  const size_t r = n / h;
  memset(ks, 0, r * sizeof *ks);
  ks[0] = 1;
  int *nx = calloc(r, sizeof *nx);
  if (!nx) return -1;
  for (int l = 0; l < m; l++) {
    const size_t s = (size_t)1 << l;
    memset(nx, 0, r * sizeof *nx);
    for (size_t k = 0; k < r; k++)
      if (ks[k]) nx[k] = nx[(k + s) % r] = nx[(k + r - s % r) % r] = 1;
    memcpy(ks, nx, r * sizeof *ks);
  }
  free(nx);
  return 0;
}

/* BSGS of a set of offsets k h (k in [0, r)): signed k, baby = k mod n1, giant = k - baby */
struct plan {
  int n1, nbaby, ngiant, ndiag;
  double cost;
};
static double plan_cost(int nbaby, int ngiant, int ndiag) {
  /* a hoisted baby rotation costs about half a full one (inner product + ModDown, no ModUp); a diagonal
  ** product is ~1% of a key switching */
  return 0.5 * (nbaby - 1) + (ngiant - 1) + 0.01 * ndiag;
}
static int signed_k(size_t k, size_t r) { return k <= r / 2 ? (int)k : (int)k - (int)r; }
static int floor_mod(int a, int m) { return ((a % m) + m) % m; }

static struct plan best_plan(const int *ks, size_t r) {
  struct plan best = {0, 0, 0, 0, 1e300};
  int *seen_b = calloc(2 * r + 2, sizeof *seen_b), *seen_g = calloc(4 * r + 4, sizeof *seen_g);
  if (!seen_b || !seen_g) {
    free(seen_b);
    free(seen_g);
    return best;
  }
  for (int n1 = 1; (size_t)n1 <= r && n1 <= 32; n1 *= 2) {
    int nb = 0, ng = 0, nd = 0;
    memset(seen_b, 0, (2 * r + 2) * sizeof *seen_b);
    memset(seen_g, 0, (4 * r + 4) * sizeof *seen_g);
    for (size_t k = 0; k < r; k++) {
      if (!ks[k]) continue;
      int s = signed_k(k, r), b = floor_mod(s, n1), g = s - b;
      nd++;
      if (!seen_b[b]++) nb++;
      if (!seen_g[g + 2 * (int)r + 1]++) ng++;
    }
    struct plan p = {n1, nb, ng, nd, plan_cost(nb, ng, nd)};
    if (p.cost < best.cost) best = p;
  }
  free(seen_b);
  free(seen_g);
  return best;
}

void pn_boot_dft_free(struct pn_boot_dft *d) {
  for (int i = 0; i < d->nf; i++) {
    struct pn_boot_lt *f = &d->f[i];
    for (int u = 0; u < f->nbaby * f->ngiant; u++) {
      if (f->diag) free(f->diag[u]);
      if (f->pt) free(f->pt[u]);
    }
    f->nbaby = f->ngiant = 0;
    free(f->diag);
    free(f->pt);
    free(f->baby);
    free(f->giant);
  }
  memset(d, 0, sizeof *d);
}

/* factor from a composed map: BSGS plan with n1, diagonals pre-rotated by -g */
static int make_factor(const struct dmap *M, size_t n, struct pn_boot_lt *f) {
  size_t h = n;
  for (int i = 0; i < M->cnt; i++)
    while (M->off[i] % (int)h) h /= 2;
  const size_t r = n / h;
  int *ks = calloc(r, sizeof *ks);
  if (!ks) return -1;
  for (int i = 0; i < M->cnt; i++) ks[M->off[i] / (int)h] = 1;
  struct plan p = best_plan(ks, r);
  free(ks);
  if (!p.n1) return -1;
  const int cap = M->cnt;
  int *bi = malloc((size_t)cap * sizeof *bi), *gi = malloc((size_t)cap * sizeof *gi);
  f->baby = malloc((size_t)cap * sizeof *f->baby);
  f->giant = malloc((size_t)cap * sizeof *f->giant);
  if (!bi || !gi || !f->baby || !f->giant) {
    free(bi);
    free(gi);
    return -1;
  }
  f->nbaby = f->ngiant = 0;
  for (int i = 0; i < M->cnt; i++) { /* baby and giant steps in order of first use */
    int s = signed_k((size_t)M->off[i] / h, r), b = floor_mod(s, p.n1), g = s - b;
    const int bs = (int)(((size_t)b * h) % n), gs = (int)(((size_t)floor_mod(g, (int)r)) * h % n);
    bi[i] = gi[i] = -1;
    for (int t = 0; t < f->nbaby; t++)
      if (f->baby[t] == bs) bi[i] = t;
    for (int t = 0; t < f->ngiant; t++)
      if (f->giant[t] == gs) gi[i] = t;
    if (bi[i] < 0) f->baby[bi[i] = f->nbaby++] = bs;
    if (gi[i] < 0) f->giant[gi[i] = f->ngiant++] = gs;
  }
  f->diag = calloc((size_t)f->nbaby * (size_t)f->ngiant, sizeof *f->diag);
  int rc = f->diag ? 0 : -1;
  for (int i = 0; i < M->cnt && !rc; i++) {
    const size_t gs = (size_t)f->giant[gi[i]];
    double complex *v = malloc(n * sizeof *v);
    if (!v) {
      rc = -1;
      break;
    }
    for (size_t q = 0; q < n; q++) v[q] = M->v[i][(q + n - gs) % n]; /* rot_-g */
    f->diag[(size_t)gi[i] * (size_t)f->nbaby + (size_t)bi[i]] = v;
  }
  free(bi);
  free(gi);
  return rc;
}

int pn_boot_dft_build(struct pn_ctx *ctx, const struct pn_ckks_context *c, size_t n, int nf, int inverse,
                      double total_const, struct pn_boot_dft *d) {
  memset(d, 0, sizeof *d);
  int logn = 0;
  while (((size_t)1 << logn) < n) logn++;
  if (n < 2 || ((size_t)1 << logn) != n || n > c->slots || nf < 1 || nf > logn || nf > 16)
    return pn_err(ctx, PN_ERR_INVALID, "ckks boot: %d DFT factors for %zu slots (1..log2 slots, at most 16)", nf, n);
  /* layers in order of application: spans 1, 2, .., n/2 (StC) or n/2, .., 1 (CtS); choose the split into
  ** nf consecutive groups with the least estimated key switching (brute force over C(logn - 1, nf - 1)) */
  int best_cut[17] = {0}, cut[17];
  double best = 1e300;
  int *ks = malloc(n * sizeof *ks);
  if (!ks) return pn_err(ctx, PN_ERR_NOMEM, "ckks boot: DFT");
  cut[0] = 0;
  cut[nf] = logn;
  /* enumerate increasing cut[1..nf-1] in (0, logn) */
  for (int i = 1; i < nf; i++) cut[i] = i;
  for (;;) {
    double cost = 0;
    for (int g = 0; g < nf && cost < 1e299; g++) {
      const int a = cut[g], b = cut[g + 1], m = b - a;
      /* group layers a..b-1 in application order: StC spans 2^a..; CtS spans n/2^(a+1).. downward */
      const size_t h = inverse ? (n >> b) : ((size_t)1 << a);
      if (merged_offsets(n, h, m, ks)) {
        cost = 1e300;
        break;
      }
      struct plan p = best_plan(ks, n / h);
      /* factors later in the circuit run at lower levels: weight by (nf - position) roughly as limbs */
      cost += p.cost * (1.0 + 0.05 * (nf - g));
    }
    if (cost < best) {
      best = cost;
      memcpy(best_cut, cut, sizeof cut);
    }
    int i = nf - 1;
    while (i >= 1 && cut[i] == logn - (nf - i)) i--;
    if (i < 1) break;
    cut[i]++;
    for (int k = i + 1; k < nf; k++) cut[k] = cut[k - 1] + 1;
  }
  free(ks);
  if (!(total_const > 0)) return pn_err(ctx, PN_ERR_INVALID, "ckks boot: DFT constant %g", total_const);
  d->n = n;
  const double cf = pow(total_const / (inverse ? (double)n : 1.0), 1.0 / nf);
  int rc = PN_OK;
  for (int g = 0; g < nf && !rc; g++) {
    const int a = best_cut[g], b = best_cut[g + 1];
    struct dmap acc = {0}, lay = {0}, tmp = {0};
    for (int l = a; l < b && !rc; l++) {
      const size_t len = inverse ? (n >> l) : ((size_t)2 << l);
      if (layer(c, n, len, inverse, &lay)) rc = PN_ERR_NOMEM;
      else if (l == a) {
        acc = lay;
        memset(&lay, 0, sizeof lay);
      } else if (compose(&lay, &acc, n, &tmp)) { /* the new layer is applied after acc */
        rc = PN_ERR_NOMEM;
      } else {
        dmap_free(&acc);
        acc = tmp;
        memset(&tmp, 0, sizeof tmp);
      }
      dmap_free(&lay);
      dmap_free(&tmp);
    }
    struct pn_boot_lt *f = &d->f[g];
    f->level = -1;
    f->gain = 1;
    f->cf = cf;
    d->nf = g + 1;
    if (!rc && make_factor(&acc, n, f)) rc = PN_ERR_NOMEM;
    dmap_free(&acc);
  }
  if (rc) {
    pn_boot_dft_free(d);
    return pn_err(ctx, rc, "ckks boot: DFT factors for %zu slots", n);
  }
  return PN_OK;
}

/* encode the n values of v (repeated over all slots) at scale and level into limbs (NTT form) */
static int encode_diag(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double complex *v, size_t n,
                       double scale, int level, uint64_t *dst) {
  struct pn_ckks_pt *pt = pn_ckks_pt_new(c);
  double complex *z = malloc(c->slots * sizeof *z);
  int rc = pt && z ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "ckks boot: diagonal");
  if (!rc) {
    for (size_t i = 0; i < c->slots; i++) z[i] = v[i % n];
    rc = pn_ckks_encode(ctx, c, z, c->slots, scale, level, pt);
  }
  if (!rc) memcpy(dst, pt->data, (size_t)(level + 1) * c->n * sizeof *dst);
  free(z);
  pn_ckks_pt_free(pt);
  return rc;
}

int pn_boot_dft_precompute(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_boot_dft *d, size_t *bytes) {
  for (int i = 0; i < d->nf; i++) {
    struct pn_boot_lt *f = &d->f[i];
    if (f->level < 0) continue;
    const int u = f->nbaby * f->ngiant;
    const size_t words = (size_t)(f->level + 1) * c->n;
    f->pt = calloc((size_t)u, sizeof *f->pt);
    if (!f->pt) return pn_err(ctx, PN_ERR_NOMEM, "ckks boot: DFT plaintexts");
    const double scale = (double)c->mod[f->level].q * f->cf * f->gain;
    for (int k = 0; k < u; k++) {
      if (!f->diag[k]) continue;
      f->pt[k] = malloc(words * sizeof *f->pt[k]);
      if (!f->pt[k]) return pn_err(ctx, PN_ERR_NOMEM, "ckks boot: DFT plaintexts");
      int rc = encode_diag(ctx, c, f->diag[k], d->n, scale, f->level, f->pt[k]);
      if (rc) return rc;
      *bytes += words * sizeof *f->pt[k];
    }
  }
  return PN_OK;
}

/* For every giant g: acc[g] (2 polynomials, limbs 0..l, values < q) = sum_b pt[g nb + b] (.) baby[b], in
** 128-bit lanes (at most 32 terms). In blocks of one limb and CH coefficients: the babies' block stays in
** L2 for all giants. */
static void mac_diag(const struct pn_ckks_context *c, int l, uint64_t *const *pt, int ng, int nb,
                     struct pn_ckks_ct *const *baby, struct pn_ckks_ct *const *acc) {
  enum { CH = 2048 };
  const size_t n = c->n;
  const int nch = (int)((n + CH - 1) / CH);
#pragma omp parallel for schedule(static)
  for (int u = 0; u < (l + 1) * nch; u++) {
    const int i = u / nch;
    const size_t k0 = (size_t)(u % nch) * CH, k1 = k0 + CH < n ? k0 + CH : n;
    const struct pn_mod *md = &c->mod[i];
    for (int g = 0; g < ng; g++) {
      if (!acc[g]) continue;
      const uint64_t *p[32], *a0[32], *a1[32];
      int m = 0;
      for (int b = 0; b < nb; b++) {
        if (!pt[g * nb + b]) continue;
        p[m] = pt[g * nb + b] + (size_t)i * n;
        a0[m] = ct_limb(baby[b], 0, i);
        a1[m++] = ct_limb(baby[b], 1, i);
      }
      uint64_t *o0 = ct_limb(acc[g], 0, i), *o1 = ct_limb(acc[g], 1, i);
      for (size_t k = k0; k < k1; k++) {
        pn_u128 s0 = 0, s1 = 0;
        for (int b = 0; b < m; b++) {
          s0 += (pn_u128)p[b][k] * a0[b][k];
          s1 += (pn_u128)p[b][k] * a1[b][k];
        }
        o0[k] = pn_mod_red128(md, s0);
        o1[k] = pn_mod_red128(md, s1);
      }
    }
  }
}

/* one factor: out = M in, one level lower; declared scale in->scale * gain */
static int apply_factor(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                        const struct pn_boot_lt *f, size_t nslots, const struct pn_ckks_ct *in,
                        struct pn_ckks_ct *out, int *ks) {
  const int l = in->level, nb = f->nbaby, ng = f->ngiant, u = nb * ng;
  const double s_in = in->scale; /* in may alias out */
  if (l < 1) return pn_err(ctx, PN_ERR_INVALID, "ckks boot: DFT factor needs a level, the input is at 0");
  const size_t words = (size_t)(l + 1) * c->n;
  const int onfly = !(f->pt && l == f->level);
  const double scale = (double)c->mod[l].q * f->cf * f->gain;
  struct pn_ckks_ct *baby[32] = {0}, **acc = calloc((size_t)ng, sizeof *acc);
  uint64_t **pt = calloc((size_t)u, sizeof *pt);
  int rc = acc && pt ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "ckks boot: DFT");
  for (int b = 0; b < nb && !rc; b++)
    if (!(baby[b] = pn_ckks_ct_new(c))) rc = pn_err(ctx, PN_ERR_NOMEM, "ckks boot: DFT");
  /* the diagonals at this level: precomputed, or encoded now (a level the circuit does not use) */
  for (int k = 0; k < u && !rc; k++) {
    if (!f->diag[k]) continue;
    if (!onfly) {
      pt[k] = f->pt[k];
    } else if (!(pt[k] = malloc(words * sizeof *pt[k]))) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "ckks boot: DFT");
    } else {
      rc = encode_diag(ctx, c, f->diag[k], nslots, scale, l, pt[k]);
    }
  }
  for (int g = 0; g < ng && !rc; g++) {
    int any = 0;
    for (int b = 0; b < nb; b++) any |= f->diag[g * nb + b] != NULL;
    if (any && !(acc[g] = pn_ckks_ct_new(c))) rc = pn_err(ctx, PN_ERR_NOMEM, "ckks boot: DFT");
    if (acc[g]) {
      acc[g]->size = 2;
      acc[g]->level = l;
      acc[g]->scale = s_in * scale;
    }
  }
  if (!rc) rc = pn_ckks_rotate_hoisted(ctx, c, gk, in, f->baby, nb, baby);
  for (int b = 0; b < nb; b++) *ks += f->baby[b] != 0;
  if (!rc) mac_diag(c, l, pt, ng, nb, baby, acc);
  for (int b = 0; b < nb; b++) { /* the babies are done with: back to the pool before the giant steps */
    pn_ckks_ct_free(baby[b]);
    baby[b] = NULL;
  }
  struct pn_ckks_ct *res = NULL;
  for (int g = 0; g < ng && !rc; g++) {
    if (!acc[g]) continue;
    if (f->giant[g] != 0) {
      rc = pn_ckks_rotate(ctx, c, gk, acc[g], f->giant[g], acc[g]);
      (*ks)++;
    }
    if (rc) break;
    if (!res) {
      res = acc[g];
      acc[g] = NULL;
    } else {
      rc = pn_ckks_add(ctx, c, res, acc[g], res);
    }
  }
  if (!rc && !res) rc = pn_err(ctx, PN_ERR_INVALID, "ckks boot: empty DFT factor");
  if (!rc) rc = pn_ckks_rescale(ctx, c, res, out);
  if (!rc) out->scale = s_in * f->gain; /* the factor's constant cf went into the message */
  for (int g = 0; g < ng; g++) pn_ckks_ct_free(acc[g]);
  pn_ckks_ct_free(res);
  if (onfly)
    for (int k = 0; k < u; k++) free(pt ? pt[k] : NULL);
  free(pt);
  free(acc);
  return rc;
}

int pn_boot_dft_apply(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                      const struct pn_boot_dft *d, const struct pn_ckks_ct *in, struct pn_ckks_ct *out, int *ks) {
  int rc = pn_ckks_ct_copy(ctx, in, out);
  for (int i = 0; i < d->nf && !rc; i++) rc = apply_factor(ctx, c, gk, &d->f[i], d->n, out, out, ks);
  return rc;
}

void pn_boot_dft_steps(const struct pn_boot_dft *d, int top_level, int *steps, int *levels, int *count, int max) {
  for (int i = 0; i < d->nf; i++) {
    const struct pn_boot_lt *f = &d->f[i];
    const int lv = f->level >= 0 ? f->level : top_level;
    for (int t = 0; t < f->nbaby + f->ngiant; t++) {
      const int s = t < f->nbaby ? f->baby[t] : f->giant[t - f->nbaby];
      if (s == 0) continue;
      int k = 0;
      while (k < *count && steps[k] != s) k++;
      if (k == *count) {
        if (*count >= max) continue;
        steps[k] = s;
        if (levels) levels[k] = lv;
        (*count)++;
      } else if (levels && levels[k] < lv) {
        levels[k] = lv;
      }
    }
  }
}

int pn_boot_dft_keyswitches(const struct pn_boot_dft *d) {
  int ks = 0;
  for (int i = 0; i < d->nf; i++) {
    const struct pn_boot_lt *f = &d->f[i];
    for (int b = 0; b < f->nbaby; b++) ks += f->baby[b] != 0;
    for (int g = 0; g < f->ngiant; g++) ks += f->giant[g] != 0;
  }
  return ks;
}
