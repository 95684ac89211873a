/* ct.c - Coefficient Tuning: each site's PAF coefficients fitted to its exact op (ReLU or max over
** a window) by mean squared error on inputs sampled from the original model, with the dynamic
** scale on (as SmartPAF's CT.py): the PAF sees t = x / s, and the error counts in units of x, so a
** sample weighs s^2. Adam from the base coefficients, ReduceLROnPlateau on the validation samples'
** loss (patience 2, factor 0.1, floor 1e-4), the best validation loss kept.
**
** privnn adds a cover term: the same error on inputs spread evenly over the whole range the scale
** allows (t in [-1, 1]; pool windows of values in [-1/2, 1/2]), weighted `cover` times the data's
** mean s^2. Sampled inputs crowd near 0 (the scale is a max over a batch), and without the cover a
** fit is free to blow up where samples are rare: a pool's samples from the original model never
** reach |t| > 1/2 (its inputs are >= 0), yet after a PAF ReLU they do, and the stages explode
** there (observed on cnn-s: activations of 1e14 after one PAF MaxPool). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/paf.h"
#include "paf/paf_impl.h"
#include "util/util.h"

#define CT_CHUNK 4096

/* Loss over samples [lo, hi) (mean over the range) and, with grad, its gradient summed into grad. */
static double ct_loss(enum pn_paf_form f, const float *c, const struct paf_samples *S, const int64_t *order,
                      int64_t lo, int64_t hi, double *grad, float *buf) {
  struct pn_paf_eval e;
  pn_paf_eval_init(&e, f, c);
  const int w = S->w;
  float *x = buf, *y = buf + CT_CHUNK * w, *dy = y + CT_CHUNK;
  double loss = 0, inv_n = 1.0 / (double)(hi - lo);
  for (int64_t b0 = lo; b0 < hi; b0 += CT_CHUNK) {
    int64_t cnt = hi - b0 < CT_CHUNK ? hi - b0 : CT_CHUNK;
    for (int64_t i = 0; i < cnt; i++) {
      int64_t k = order ? order[b0 + i] : b0 + i;
      memcpy(x + i * w, S->v + k * w, sizeof(float) * (size_t)w);
    }
    struct pn_paf_pool g = {cnt, S->pool.k[0], S->pool.k[1], 1, 1, S->pool.k[0], S->pool.k[1],
                            S->pool.k[0], S->pool.k[1], 0, 0};
    if (S->kind == PN_PAF_RELU) pn_paf_relu_forward(&e, 1.0f, 0.5f, x, y, cnt);
    else pn_paf_maxpool_forward(&e, &g, 1.0f, x, y);
    for (int64_t i = 0; i < cnt; i++) {
      int64_t k = order ? order[b0 + i] : b0 + i;
      float target = 0;
      if (S->kind == PN_PAF_RELU) {
        target = x[i] > 0 ? x[i] : 0;
      } else {
        target = x[i * w];
        for (int q = 1; q < w; q++) target = fmaxf(target, x[i * w + q]);
      }
      double s2 = (double)S->s[k] * S->s[k], d = (double)y[i] - target;
      loss += s2 * d * d * inv_n;
      dy[i] = (float)(2.0 * s2 * d * inv_n);
    }
    if (grad) {
      if (S->kind == PN_PAF_RELU) pn_paf_relu_backward(&e, 1.0f, 0.5f, x, dy, NULL, grad, cnt);
      else pn_paf_maxpool_backward(&e, &g, 1.0f, x, dy, NULL, grad);
    }
  }
  return loss;
}

/* The cover set: n evenly spread inputs (ReLU) or windows with values from a fixed PRG (pool),
** each with scale 1; the caller weighs them. */
int paf_ct_cover(struct pn_ctx *ctx, const struct paf_samples *like, int64_t n, struct paf_samples *out) {
  memset(out, 0, sizeof *out);
  out->kind = like->kind;
  out->w = like->w;
  out->pool = like->pool;
  out->n = out->cap = n;
  out->v = malloc(sizeof(float) * (size_t)(n * out->w));
  out->s = malloc(sizeof(float) * (size_t)n);
  struct pn_prg prg;
  memset(&prg, 0, sizeof prg);
  int rc = out->v && out->s ? pn_prg_init_u64(ctx, &prg, 0x636f766572ull) : pn_err(ctx, PN_ERR_NOMEM, "CT: out of memory");
  for (int64_t i = 0; !rc && i < n; i++) {
    out->s[i] = 1.0f;
    if (out->kind == PN_PAF_RELU) out->v[i] = (float)(-1.0 + 2.0 * ((double)i + 0.5) / (double)n);
    else
      for (int q = 0; q < out->w; q++) out->v[i * out->w + q] = (float)(pn_prg_double(&prg) - 0.5);
  }
  pn_prg_free(&prg);
  return rc;
}

double paf_ct_mse(enum pn_paf_form f, const float *c, const struct paf_samples *S) {
  float *buf = malloc(sizeof(float) * (size_t)CT_CHUNK * (size_t)(S->w + 2));
  if (!buf || S->n < 1) {
    free(buf);
    return NAN;
  }
  double l = ct_loss(f, c, S, NULL, 0, S->n, NULL, buf);
  free(buf);
  return l;
}

/* data loss + cover * mean(s^2) * cover loss, with its gradient */
static double objective(enum pn_paf_form f, const float *c, const struct paf_samples *S, const int64_t *order,
                        int64_t lo, int64_t hi, const struct paf_samples *U, double wu, double *grad, float *buf) {
  double l = ct_loss(f, c, S, order, lo, hi, grad, buf);
  if (wu > 0) {
    double gu[PN_PAF_MAX_COEFFS] = {0};
    l += wu * ct_loss(f, c, U, NULL, 0, U->n, grad ? gu : NULL, buf);
    for (int k = 0; grad && k < pn_paf_n_coeffs(f); k++) grad[k] += wu * gu[k];
  }
  return l;
}

static double mean_s2(const struct paf_samples *S) {
  double m = 0;
  for (int64_t i = 0; i < S->n; i++) m += (double)S->s[i] * S->s[i];
  return S->n ? m / (double)S->n : 0;
}

int paf_ct_fit(struct pn_ctx *ctx, enum pn_paf_form f, const struct paf_samples *train,
               const struct paf_samples *val, int epochs, float lr0, float cover, uint64_t seed,
               float *c /* IN/OUT */, double *val_before, double *val_after) {
  const int nc = pn_paf_n_coeffs(f);
  const int64_t mb = 8192; /* samples per Adam step */
  if (train->n < 1 || val->n < 1) return pn_err(ctx, PN_ERR_INVALID, "CT: no samples");
  float *buf = malloc(sizeof(float) * (size_t)CT_CHUNK * (size_t)(train->w + 2));
  int64_t *order = malloc(sizeof *order * (size_t)train->n);
  struct pn_prg prg;
  struct paf_samples U;
  memset(&prg, 0, sizeof prg);
  memset(&U, 0, sizeof U);
  int rc = buf && order ? pn_prg_init_u64(ctx, &prg, seed) : pn_err(ctx, PN_ERR_NOMEM, "CT: out of memory");
  if (!rc && cover > 0) rc = paf_ct_cover(ctx, train, 4096, &U);
  if (rc) {
    free(buf);
    free(order);
    paf_samples_free(&U, 1);
    return rc;
  }
  /* the cover's weight per step: cover * mean s^2 of the data (a step's data loss is a mean too) */
  double wu = cover > 0 ? cover * mean_s2(train) : 0, wv = cover > 0 ? cover * mean_s2(val) : 0;
  double m[PN_PAF_MAX_COEFFS] = {0}, v[PN_PAF_MAX_COEFFS] = {0}, w[PN_PAF_MAX_COEFFS];
  float best[PN_PAF_MAX_COEFFS], cur[PN_PAF_MAX_COEFFS];
  for (int k = 0; k < nc; k++) w[k] = cur[k] = best[k] = c[k];
  double best_val = objective(f, cur, val, NULL, 0, val->n, &U, wv, NULL, buf), lr = lr0;
  *val_before = ct_loss(f, cur, val, NULL, 0, val->n, NULL, buf);
  int bad = 0;
  int64_t step = 0;
  for (int64_t i = 0; i < train->n; i++) order[i] = i;
  for (int ep = 0; ep < epochs; ep++) {
    for (int64_t i = train->n - 1; i > 0; i--) {
      int64_t j = (int64_t)pn_prg_uniform(&prg, (uint64_t)i + 1), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (int64_t b0 = 0; b0 < train->n; b0 += mb) {
      int64_t hi = b0 + mb < train->n ? b0 + mb : train->n;
      double grad[PN_PAF_MAX_COEFFS] = {0};
      objective(f, cur, train, order, b0, hi, &U, wu, grad, buf);
      step++;
      double bc1 = 1 - pow(0.9, (double)step), bc2 = 1 - pow(0.999, (double)step);
      for (int k = 0; k < nc; k++) {
        m[k] = 0.9 * m[k] + 0.1 * grad[k];
        v[k] = 0.999 * v[k] + 0.001 * grad[k] * grad[k];
        w[k] -= lr * (m[k] / bc1) / (sqrt(v[k] / bc2) + 1e-8);
        cur[k] = (float)w[k];
      }
    }
    double lv = objective(f, cur, val, NULL, 0, val->n, &U, wv, NULL, buf);
    if (lv < best_val) {
      bad = lv < best_val * (1 - 1e-4) ? 0 : bad + 1; /* torch's default relative threshold */
      best_val = lv;
      memcpy(best, cur, sizeof(float) * (size_t)nc);
    } else {
      bad++;
    }
    if (bad > 2) { /* ReduceLROnPlateau(patience 2, factor 0.1, min_lr 1e-4) */
      lr = fmax(lr * 0.1, 1e-4);
      bad = 0;
    }
  }
  memcpy(c, best, sizeof(float) * (size_t)nc);
  *val_after = ct_loss(f, c, val, NULL, 0, val->n, NULL, buf);
  free(buf);
  free(order);
  paf_samples_free(&U, 1);
  pn_prg_free(&prg);
  return PN_OK;
}
