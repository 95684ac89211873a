/* input.c - a model's input from a user's files: shape fitting, pixel normalisation, resizing. */
#include "input.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "../graph/ir.h"
#include "../graph/tensor_io.h"
#include "../util/status.h"

int pn_input_shape(struct pn_ctx *ctx, const struct pn_graph *g, int *ndim, int64_t dims[PN_MAX_DIMS]) {
  int in = -1, n = 0;
  for (int i = 0; i < g->n_inputs; i++)
    if (pn_graph_is_runtime_input(g, i)) in = i, n++;
  if (n != 1)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "the model has %d runtime inputs; an input file feeds a "
                  "model with one", n);
  const struct pn_value *v = &g->inputs[in];
  if (v->dtype != PN_DT_FLOAT)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "the model's input '%s' is %s, not float32", v->name,
                  pn_dtype_name(v->dtype));
  if (v->ndim < 2)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "the model's input '%s' has no batch dim and example shape",
                  v->name);
  for (int d = 1; d < v->ndim; d++)
    if (v->dims[d] <= 0)
      return pn_err(ctx, PN_ERR_UNSUPPORTED, "the model's input '%s': dim %d is unknown", v->name, d);
  *ndim = v->ndim - 1;
  memcpy(dims, v->dims + 1, sizeof(int64_t) * (size_t)*ndim);
  return PN_OK;
}

/* The source sample under output index i of n (input size N, half-pixel centres, clamped):
** neighbours *i0, *i1 and the weight *f of *i1. */
static void src_coord(int64_t i, int64_t n, int64_t N, int64_t *i0, int64_t *i1, double *f) {
  double s = ((double)i + 0.5) * (double)N / (double)n - 0.5;
  if (s < 0) s = 0;
  if (s > (double)(N - 1)) s = (double)(N - 1);
  *i0 = (int64_t)s;
  *i1 = *i0 + 1 < N ? *i0 + 1 : *i0;
  *f = s - (double)*i0;
}

void pn_image_resize(const float *src, int64_t C, int64_t H, int64_t W, float *dst, int64_t h, int64_t w) {
  for (int64_t c = 0; c < C; c++)
    for (int64_t y = 0; y < h; y++) {
      int64_t y0, y1, x0, x1;
      double fy, fx;
      src_coord(y, h, H, &y0, &y1, &fy);
      for (int64_t x = 0; x < w; x++) {
        src_coord(x, w, W, &x0, &x1, &fx);
        const float *p = src + c * H * W;
        double top = p[y0 * W + x0] * (1 - fx) + p[y0 * W + x1] * fx;
        double bot = p[y1 * W + x0] * (1 - fx) + p[y1 * W + x1] * fx;
        dst[(c * h + y) * w + x] = (float)(top * (1 - fy) + bot * fy);
      }
    }
}

static char *shape_str(char *buf, size_t n, const char *lead, int nd, const int64_t *d) {
  size_t k = (size_t)snprintf(buf, n, "[%s", lead);
  for (int i = 0; i < nd && k < n; i++) k += (size_t)snprintf(buf + k, n - k, "%s%lld", i || *lead ? "," : "", (long long)d[i]);
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

/* How t fits the example shape S (k dims): *N examples, or an error naming both shapes. */
static int fit(struct pn_ctx *ctx, const char *path, const struct pn_tensor *t, int k, const int64_t *S,
               int64_t *N) {
  int nd = t->ndim;
  const int64_t *d = t->dims;
  bool one_ch = S[0] == 1 && k >= 2; /* the channel may be left out */
  if (nd == k && !memcmp(d, S, sizeof *S * (size_t)k)) return *N = 1, PN_OK;
  if (nd == k + 1 && !memcmp(d + 1, S, sizeof *S * (size_t)k)) return *N = d[0], PN_OK;
  if (one_ch && nd == k - 1 && !memcmp(d, S + 1, sizeof *S * (size_t)(k - 1))) return *N = 1, PN_OK;
  if (one_ch && nd == k && !memcmp(d + 1, S + 1, sizeof *S * (size_t)(k - 1))) return *N = d[0], PN_OK;
  char got[128], need[128], one[128];
  shape_str(got, sizeof got, "", nd, d);
  shape_str(need, sizeof need, "N", k, S);
  shape_str(one, sizeof one, "", k, S);
  return pn_err(ctx, PN_ERR_INVALID, "%s: shape %s does not fit the model's input %s: give one example "
                "%s%s or a batch %s", path, got, need, one, one_ch ? " (or without its channel)" : "", need);
}

/* The pixels of an image t [C, H, W] fitted to S [C', H', W'] (converted and resized) as floats
** in pixel units (0..255 for uint8, 0..1 for float pixels) into *x (malloc'd, C'*H'*W'). */
static int fit_image(struct pn_ctx *ctx, const char *path, const struct pn_tensor *t, int k, const int64_t *S,
                     bool resize, float **x, bool *changed) {
  *x = NULL;
  *changed = false;
  char got[64], need[64];
  shape_str(got, sizeof got, "", t->ndim, t->dims);
  if (k != 3)
    return pn_err(ctx, PN_ERR_INVALID, "%s: an image (%s), but the model's input %s is not [N,C,H,W]",
                  path, got, shape_str(need, sizeof need, "N", k, S));
  int64_t C = t->dims[0], H = t->dims[1], W = t->dims[2];
  bool same = C == S[0] && H == S[1] && W == S[2];
  if (!same && !resize)
    return pn_err(ctx, PN_ERR_INVALID, "%s: a %lldx%lldx%lld image (CxHxW); the model needs %lldx%lldx%lld "
                  "(resize it, or ask privnn to: --resize)", path, (long long)C, (long long)H, (long long)W,
                  (long long)S[0], (long long)S[1], (long long)S[2]);
  if (!same && S[0] != 1 && S[0] != 3)
    return pn_err(ctx, PN_ERR_INVALID, "%s: the model takes %lld channels; images have 1 or 3", path,
                  (long long)S[0]);
  int64_t hw = H * W;
  float *src = malloc(sizeof(float) * (size_t)(hw * S[0])), *dst = NULL;
  if (!src) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  for (int64_t c = 0; c < S[0]; c++)
    for (int64_t i = 0; i < hw; i++) {
      double v;
      if (C == S[0]) v = pn_tensor_get_f64(t, c * hw + i);
      else if (C == 1) v = pn_tensor_get_f64(t, i);                   /* grey -> RGB */
      else v = 0.299 * pn_tensor_get_f64(t, i) + 0.587 * pn_tensor_get_f64(t, hw + i) +
               0.114 * pn_tensor_get_f64(t, 2 * hw + i);               /* RGB -> grey */
      src[c * hw + i] = (float)v;
    }
  if (H != S[1] || W != S[2]) {
    dst = malloc(sizeof(float) * (size_t)(S[0] * S[1] * S[2]));
    if (!dst) {
      free(src);
      return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    }
    pn_image_resize(src, S[0], H, W, dst, S[1], S[2]);
    free(src);
    src = dst;
  }
  *changed = !same;
  *x = src;
  return PN_OK;
}

int pn_input_load(struct pn_ctx *ctx, const struct pn_graph *g, const char *const *paths, int n_paths,
                  const struct pn_input_opts *o, struct pn_tensor **out, struct pn_input_info *info) {
  *out = NULL;
  struct pn_input_info inf = {.mean = 0, .std = 1};
  int k;
  int64_t S[PN_MAX_DIMS];
  int rc = pn_input_shape(ctx, g, &k, S);
  if (rc) return rc;
  const char *ns = pn_graph_get_meta(g, PN_META_NORMALIZE);
  if (ns) {
    struct pn_dataset tmp = {.mean = 0, .std = 1};
    if ((rc = pn_dataset_use_model_norm(ctx, &tmp, g))) return rc;
    inf.mean = tmp.mean;
    inf.std = tmp.std;
    inf.model_norm = true;
  }
  /* pn_dataset_batch's arithmetic: a uint8 pixel v becomes v * scale + shift */
  const float scale = 1.0f / (255.0f * inf.std), shift = -inf.mean / inf.std;
  int64_t per = pn_shape_numel(k, S);
  float *x = NULL;
  int64_t total = 0;
  for (int f = 0; f < n_paths && !rc; f++) {
    struct pn_tensor *t = NULL;
    enum pn_tensor_format fmt;
    if ((rc = pn_tensor_read_file(ctx, paths[f], PN_TF_AUTO, &t, &fmt))) break;
    bool img = pn_tensor_format_is_image(fmt), pixels = img || t->dtype == PN_DT_UINT8;
    int64_t N = 1;
    float *pix = NULL;
    bool changed = false;
    if (img) rc = fit_image(ctx, paths[f], t, k, S, o && o->resize, &pix, &changed);
    else rc = fit(ctx, paths[f], t, k, S, &N);
    if (!rc && N > ((int64_t)1 << 40) / (per ? per : 1))
      rc = pn_err(ctx, PN_ERR_INVALID, "%s: too many examples", paths[f]);
    float *nx = rc ? NULL : realloc(x, sizeof(float) * (size_t)((total + N) * per));
    if (!rc && !nx) rc = pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", paths[f]);
    if (!rc) {
      x = nx;
      float *dst = x + total * per;
      for (int64_t i = 0; i < N * per; i++) {
        if (!pixels) {
          dst[i] = (float)pn_tensor_get_f64(t, i);
        } else if (t->dtype == PN_DT_UINT8) {
          float v = pix ? pix[i] : (float)((const uint8_t *)t->data)[i];
          dst[i] = v * scale + shift;
        } else { /* float pixels in [0, 1] (a PGM with maxval other than 255) */
          float v = pix ? pix[i] : (float)pn_tensor_get_f64(t, i);
          dst[i] = (v * 255.0f) * scale + shift;
        }
      }
      total += N;
      inf.pixel_files += pixels;
      inf.resized += changed;
    }
    free(pix);
    pn_tensor_free(t);
  }
  if (!rc && total == 0) rc = pn_err(ctx, PN_ERR_INVALID, "no input examples");
  if (rc) {
    free(x);
    return rc;
  }
  int64_t dims[PN_MAX_DIMS + 1];
  dims[0] = total;
  memcpy(dims + 1, S, sizeof *S * (size_t)k);
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, k + 1, dims);
  if (!t) {
    free(x);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  memcpy(t->data, x, sizeof(float) * (size_t)(total * per));
  free(x);
  inf.n = total;
  if (info) *info = inf;
  *out = t;
  return PN_OK;
}
