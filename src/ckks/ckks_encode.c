/* ckks_encode.c - CKKS encoding through the canonical embedding (special FFT), and pt/ct storage.
**
** Slots: z_j = m(zeta^(5^j)) / scale for j < N/2, zeta = exp(i pi / N). Encoding runs the inverse special
** FFT of length N/2 (roots indexed by the rotation group 5^j mod 2N), giving u; the real polynomial is
** m_j = round(scale Re u_j), m_(j + N/2) = round(scale Im u_j). Rotation by k slots is then the
** automorphism X -> X^(5^k) and conjugation X -> X^(-1). Coefficients up to 2^100 are lifted exactly
** into RNS (a double is mantissa 2^e); decoding reconstructs each coefficient exactly by CRT (GMP mpn),
** centres it and divides by the scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_impl.h"

struct pn_ckks_pt *pn_ckks_pt_new(const struct pn_ckks_context *c) {
  struct pn_ckks_pt *pt = c ? calloc(1, sizeof *pt) : NULL;
  if (!pt) return NULL;
  pt->n = c->n;
  pt->nq = c->nq;
  pt->level = c->nq - 1;
  pt->scale = c->scale;
  memcpy(pt->fp, c->fp, sizeof pt->fp);
  pt->data = calloc((size_t)c->nq * c->n, sizeof *pt->data);
  if (!pt->data) {
    free(pt);
    return NULL;
  }
  return pt;
}

void pn_ckks_pt_free(struct pn_ckks_pt *pt) {
  if (!pt) return;
  free(pt->data);
  free(pt);
}

struct pn_ckks_pool *pn_ckks_pool_new(size_t words, int keep) {
  struct pn_ckks_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  atomic_init(&p->refs, 1);
  atomic_flag_clear(&p->lock);
  p->words = words;
  p->keep = keep < 0 ? 0 : keep < PN_CKKS_POOL_MAX ? keep : PN_CKKS_POOL_MAX;
  return p;
}

void pn_ckks_pool_unref(struct pn_ckks_pool *p) {
  if (!p || atomic_fetch_sub(&p->refs, 1) != 1) return;
  for (int i = 0; i < p->count; i++) free(p->bufs[i]);
  free(p->bufs);
  free(p);
}

static void pool_lock(struct pn_ckks_pool *p) {
  while (atomic_flag_test_and_set(&p->lock)) {}
}

static uint64_t *pool_get(struct pn_ckks_pool *p) {
  uint64_t *b = NULL;
  pool_lock(p);
  if (p->count) b = p->bufs[--p->count];
  else p->fresh++;
  atomic_flag_clear(&p->lock);
  return b ? b : malloc(p->words * sizeof *b);
}

static void pool_put(struct pn_ckks_pool *p, uint64_t *b) {
  pool_lock(p);
  if (p->count < p->keep && p->count == p->cap) { /* grow the list (never under the buffers it holds) */
    int cap = p->cap ? 2 * p->cap : 16;
    if (cap > p->keep) cap = p->keep;
    uint64_t **nb = realloc(p->bufs, (size_t)cap * sizeof *nb);
    if (nb) p->bufs = nb, p->cap = cap;
  }
  if (p->count < p->keep && p->count < p->cap) {
    p->bufs[p->count++] = b;
    if (p->count > p->peak) p->peak = p->count;
    b = NULL;
  }
  atomic_flag_clear(&p->lock);
  free(b);
}

size_t pn_ckks_ct_pool_set(const struct pn_ckks_context *c, size_t max_bytes) {
  struct pn_ckks_pool *p = c->pool;
  const size_t one = p->words * sizeof(uint64_t), want = max_bytes / one;
  pool_lock(p);
  p->keep = want < PN_CKKS_POOL_MAX ? (int)want : PN_CKKS_POOL_MAX;
  const int keep = p->keep;
  atomic_flag_clear(&p->lock);
  for (;;) { /* what it holds beyond: freed one at a time, outside the lock */
    uint64_t *b = NULL;
    pool_lock(p);
    if (p->count > p->keep) b = p->bufs[--p->count];
    atomic_flag_clear(&p->lock);
    if (!b) break;
    free(b);
  }
  return (size_t)keep * one;
}

void pn_ckks_ct_pool_get(const struct pn_ckks_context *c, struct pn_ckks_pool_info *out) {
  struct pn_ckks_pool *p = c->pool;
  pool_lock(p);
  out->buffer_bytes = p->words * sizeof(uint64_t);
  out->keep = p->keep;
  out->held = p->count;
  out->peak_held = p->peak;
  out->fresh = p->fresh;
  atomic_flag_clear(&p->lock);
}

struct pn_ckks_ct *pn_ckks_ct_new(const struct pn_ckks_context *c) {
  struct pn_ckks_ct *ct = c ? calloc(1, sizeof *ct) : NULL;
  if (!ct) return NULL;
  ct->n = c->n;
  ct->nq = c->nq;
  ct->size = 2;
  ct->cap = 2;
  ct->level = c->nq - 1;
  ct->scale = c->scale;
  memcpy(ct->fp, c->fp, sizeof ct->fp);
  ct->pool = c->pool;
  ct->data = pool_get(ct->pool);
  if (!ct->data) {
    free(ct);
    return NULL;
  }
  atomic_fetch_add(&ct->pool->refs, 1);
  return ct;
}

void pn_ckks_ct_free(struct pn_ckks_ct *ct) {
  if (!ct) return;
  if (ct->cap == 2)
    pool_put(ct->pool, ct->data);
  else
    free(ct->data);
  pn_ckks_pool_unref(ct->pool);
  free(ct);
}

int pn_ckks_pt_create(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_ckks_pt **out) {
  if (!c) {
    *out = NULL;
    return pn_err(ctx, PN_ERR_INVALID, "ckks plaintext: no context (did pn_ckks_context_new fail?)");
  }
  if (!(*out = pn_ckks_pt_new(c)))
    return pn_err(ctx, PN_ERR_NOMEM, "ckks plaintext: out of memory allocating %zu bytes",
                  (size_t)c->nq * c->n * sizeof(uint64_t));
  return PN_OK;
}

int pn_ckks_ct_create(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_ckks_ct **out) {
  if (!c) {
    *out = NULL;
    return pn_err(ctx, PN_ERR_INVALID, "ckks ciphertext: no context (did pn_ckks_context_new fail?)");
  }
  if (!(*out = pn_ckks_ct_new(c)))
    return pn_err(ctx, PN_ERR_NOMEM, "ckks ciphertext: out of memory allocating %zu bytes",
                  c->pool->words * sizeof(uint64_t));
  return PN_OK;
}

int pn_ckks_ct_reserve(struct pn_ctx *ctx, struct pn_ckks_ct *ct, int size) {
  if (ct->cap >= size) return PN_OK;
  const size_t poly = (size_t)ct->nq * ct->n;
  uint64_t *d = malloc((size_t)size * poly * sizeof *d);
  if (!d) return pn_err(ctx, PN_ERR_NOMEM, "ckks: ciphertext of %d polynomials", size);
  memcpy(d, ct->data, (size_t)ct->cap * poly * sizeof *d);
  if (ct->cap == 2)
    pool_put(ct->pool, ct->data);
  else
    free(ct->data);
  ct->data = d;
  ct->cap = size;
  return PN_OK;
}

int pn_ckks_ct_copy(struct pn_ctx *ctx, const struct pn_ckks_ct *src, struct pn_ckks_ct *dst) {
  if (src == dst) return PN_OK;
  if (src->n != dst->n || src->nq != dst->nq || memcmp(src->fp, dst->fp, sizeof src->fp) != 0)
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks: copy between ciphertexts of different parameters");
  int rc = pn_ckks_ct_reserve(ctx, dst, src->size);
  if (rc) return rc;
  for (int j = 0; j < src->size; j++)
    memcpy(ct_limb(dst, j, 0), ct_limb(src, j, 0), (size_t)(src->level + 1) * src->n * sizeof *dst->data);
  dst->size = src->size;
  dst->level = src->level;
  dst->scale = src->scale;
  return PN_OK;
}

void pn_ckks_double_to_rns(const struct pn_ckks_context *c, double v, int level, uint64_t *res) {
  if (fabs(v) < 9.2e18) {
    int64_t x = (int64_t)v;
    for (int i = 0; i <= level; i++) res[i] = pn_mod_from_i64(x, c->mod[i].q);
    return;
  }
  int e;
  double f = frexp(fabs(v), &e); /* |v| = f 2^e, f in [0.5, 1), e >= 64 here */
  uint64_t mant = (uint64_t)ldexp(f, 53);
  for (int i = 0; i <= level; i++) {
    const struct pn_mod *m = &c->mod[i];
    uint64_t r = pn_mod_mul(m, mant % m->q, pn_mod_pow(m, 2, (uint64_t)(e - 53)));
    res[i] = v < 0 ? pn_mod_neg(r, m->q) : r;
  }
}

static void bitrev_complex(double complex *a, size_t n) {
  for (size_t i = 1, j = 0; i < n; i++) {
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      double complex t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }
}

/* u -> slot values: vals_j = sum_k u_k zeta^(5^j k) (coefficients -> evaluations) */
static void fft_special(const struct pn_ckks_context *c, double complex *v, size_t size) {
  const size_t m = 2 * c->n;
  bitrev_complex(v, size);
  for (size_t len = 2; len <= size; len <<= 1) {
    size_t lenh = len >> 1, lenq = len << 2, gap = m / lenq;
    for (size_t i = 0; i < size; i += len)
      for (size_t j = 0; j < lenh; j++) {
        size_t idx = (c->rotgroup[j] & (lenq - 1)) * gap; /* lenq is a power of two */
        double complex u = v[i + j], w = v[i + j + lenh] * c->ksi[idx];
        v[i + j] = u + w;
        v[i + j + lenh] = u - w;
      }
  }
}

static void fft_special_inv(const struct pn_ckks_context *c, double complex *v, size_t size) {
  const size_t m = 2 * c->n;
  for (size_t len = size; len >= 2; len >>= 1) {
    size_t lenh = len >> 1, lenq = len << 2, gap = m / lenq;
    for (size_t i = 0; i < size; i += len)
      for (size_t j = 0; j < lenh; j++) {
        size_t idx = (lenq - (c->rotgroup[j] & (lenq - 1))) * gap;
        double complex u = v[i + j] + v[i + j + lenh];
        double complex w = (v[i + j] - v[i + j + lenh]) * c->ksi[idx];
        v[i + j] = u;
        v[i + j + lenh] = w;
      }
  }
  bitrev_complex(v, size);
  double inv = 1.0 / (double)size;
  for (size_t i = 0; i < size; i++) v[i] *= inv;
}

#define PN_CKKS_MAX_COEFF 1.2676506002282294e30 /* 2^100 */

/* x mod q for |x| < 2^63, by Barrett (pn_mod_from_i64's division is the slow part of encoding) */
static inline uint64_t mod_i64(const struct pn_mod *m, int64_t x) {
  if (x >= 0) return pn_mod_red64(m, (uint64_t)x);
  uint64_t r = pn_mod_red64(m, (uint64_t)(-x));
  return r ? m->q - r : 0;
}

/* co = round(scale * the inverse embedding of z): the real polynomial of N coefficients, as doubles. *big is
** set when one is >= 2^63 in magnitude. */
static int encode_round(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double complex *z, size_t nz,
                        double scale, double *co, int *big) {
  if (nz > c->slots) return pn_err(ctx, PN_ERR_INVALID, "ckks encode: %zu values > %zu slots", nz, c->slots);
  if (!(scale >= 1.0) || !isfinite(scale))
    return pn_err(ctx, PN_ERR_INVALID, "ckks encode: scale %g must be >= 1", scale);
  const size_t n = c->n, h = c->slots;
  double complex *u = malloc(h * sizeof *u);
  if (!u) return pn_err(ctx, PN_ERR_NOMEM, "ckks encode");
  for (size_t j = 0; j < h; j++) u[j] = j < nz ? z[j] : 0;
  fft_special_inv(c, u, h);
  int bad = 0;
  *big = 0;
  for (size_t j = 0; j < h; j++) {
    co[j] = round(creal(u[j]) * scale);
    co[j + h] = round(cimag(u[j]) * scale);
  }
  for (size_t j = 0; j < n; j++) {
    if (!(fabs(co[j]) < PN_CKKS_MAX_COEFF)) bad = 1;
    if (fabs(co[j]) >= 9.2e18) *big = 1;
  }
  free(u);
  if (bad)
    return pn_err(ctx, PN_ERR_INVALID, "ckks encode: value times scale %g exceeds 2^100 (or is not finite)", scale);
  return PN_OK;
}

static int pt_ok(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_pt *pt, int level) {
  if (level >= c->nq) return pn_err(ctx, PN_ERR_INVALID, "ckks encode: level %d > top %d", level, c->nq - 1);
  if (pt->n != c->n || pt->nq != c->nq || !pn_ckks_fp_ok(c, pt->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks encode: plaintext of other parameters");
  return PN_OK;
}

int pn_ckks_encode(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double complex *z, size_t nz,
                   double scale, int level, struct pn_ckks_pt *pt) {
  if (level < 0) level = c->nq - 1;
  int rc, big;
  if ((rc = pt_ok(ctx, c, pt, level))) return rc;
  const size_t n = c->n;
  double *co = malloc(n * sizeof *co);
  if (!co) return pn_err(ctx, PN_ERR_NOMEM, "ckks encode");
  if ((rc = encode_round(ctx, c, z, nz, scale, co, &big))) {
    free(co);
    return rc;
  }
#pragma omp parallel for schedule(static)
  for (int i = 0; i <= level; i++) {
    uint64_t *d = pt->data + (size_t)i * n;
    if (!big) {
      for (size_t j = 0; j < n; j++) d[j] = mod_i64(&c->mod[i], (int64_t)co[j]);
    } else {
      uint64_t res[PN_CKKS_MAX_PRIMES];
      for (size_t j = 0; j < n; j++) {
        pn_ckks_double_to_rns(c, co[j], i, res);
        d[j] = res[i];
      }
    }
    pn_ntt_fwd(&c->ntt[i], d);
  }
  free(co);
  pt->level = level;
  pt->scale = scale;
  return PN_OK;
}

int pn_ckks_encode_coeffs(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double complex *z, size_t nz,
                          double scale, int64_t *co) {
  const size_t n = c->n;
  double *d = malloc(n * sizeof *d);
  int big, rc;
  if (!d) return pn_err(ctx, PN_ERR_NOMEM, "ckks encode");
  if (!(rc = encode_round(ctx, c, z, nz, scale, d, &big)) && big)
    rc = pn_err(ctx, PN_ERR_INVALID, "ckks encode: a coefficient of value times scale %g reaches 2^63", scale);
  for (size_t j = 0; j < n && !rc; j++) co[j] = (int64_t)d[j];
  free(d);
  return rc;
}

int pn_ckks_pt_from_coeffs(struct pn_ctx *ctx, const struct pn_ckks_context *c, const int64_t *co, double scale,
                           int level, struct pn_ckks_pt *pt) {
  if (level < 0) level = c->nq - 1;
  int rc;
  if ((rc = pt_ok(ctx, c, pt, level))) return rc;
  if (!(scale >= 1.0) || !isfinite(scale))
    return pn_err(ctx, PN_ERR_INVALID, "ckks encode: scale %g must be >= 1", scale);
  const size_t n = c->n;
  for (size_t j = 0; j < n; j++)
    if (co[j] == INT64_MIN) return pn_err(ctx, PN_ERR_INVALID, "ckks encode: coefficient -2^63");
#pragma omp parallel for schedule(static)
  for (int i = 0; i <= level; i++) {
    uint64_t *d = pt->data + (size_t)i * n;
    for (size_t j = 0; j < n; j++) d[j] = mod_i64(&c->mod[i], co[j]);
    pn_ntt_fwd(&c->ntt[i], d);
  }
  pt->level = level;
  pt->scale = scale;
  return PN_OK;
}

int pn_ckks_encode_real(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double *x, size_t nx,
                        double scale, int level, struct pn_ckks_pt *pt) {
  if (nx > c->slots) return pn_err(ctx, PN_ERR_INVALID, "ckks encode: %zu values > %zu slots", nx, c->slots);
  double complex *z = malloc((nx ? nx : 1) * sizeof *z);
  if (!z) return pn_err(ctx, PN_ERR_NOMEM, "ckks encode");
  for (size_t i = 0; i < nx; i++) z[i] = x[i];
  int rc = pn_ckks_encode(ctx, c, z, nx, scale, level, pt);
  free(z);
  return rc;
}

int pn_ckks_decode(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_pt *pt,
                   double complex *out) {
  if (pt->n != c->n || pt->nq != c->nq || pt->level < 0 || pt->level >= c->nq || !pn_ckks_fp_ok(c, pt->fp))
    return pn_err(ctx, PN_ERR_MISMATCH, "ckks decode: plaintext of other parameters");
  if (!(pt->scale > 0) || !isfinite(pt->scale))
    return pn_err(ctx, PN_ERR_INVALID, "ckks decode: scale %g", pt->scale);
  const size_t n = c->n, h = c->slots;
  int nl = pt->level + 1;
  uint64_t *tmp = pn_ckks_scratch_get(c, (size_t)nl * n * sizeof *tmp);
  double *co = malloc(n * sizeof *co);
  if (!tmp || !co) {
    pn_ckks_scratch_put(c, tmp);
    free(co);
    return pn_err(ctx, PN_ERR_NOMEM, "ckks decode");
  }
  const uint64_t *res[PN_CKKS_MAX_PRIMES];
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nl; i++) {
    memcpy(tmp + (size_t)i * n, pt->data + (size_t)i * n, n * sizeof *tmp);
    pn_ntt_inv(&c->ntt[i], tmp + (size_t)i * n);
  }
  for (int i = 0; i < nl; i++) res[i] = tmp + (size_t)i * n;
  /* CRT in parallel chunks of coefficients */
  const size_t chunk = 1024;
  const int nchunks = (int)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
  for (int b = 0; b < nchunks; b++) {
    const uint64_t *rb[PN_CKKS_MAX_PRIMES];
    size_t off = (size_t)b * chunk, len = n - off < chunk ? n - off : chunk;
    for (int i = 0; i < nl; i++) rb[i] = res[i] + off;
    pn_crt_to_double(c->crt[pt->level], rb, len, 1.0 / pt->scale, co + off);
  }
  pn_ckks_scratch_put(c, tmp);
  for (size_t j = 0; j < h; j++) out[j] = co[j] + I * co[j + h];
  free(co);
  fft_special(c, out, h);
  return PN_OK;
}

int pn_ckks_decode_real(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_pt *pt,
                        double *out) {
  double complex *z = malloc(c->slots * sizeof *z);
  if (!z) return pn_err(ctx, PN_ERR_NOMEM, "ckks decode");
  int rc = pn_ckks_decode(ctx, c, pt, z);
  if (rc == PN_OK)
    for (size_t i = 0; i < c->slots; i++) out[i] = creal(z[i]);
  free(z);
  return rc;
}
