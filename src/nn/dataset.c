/* dataset.c - Fashion-MNIST: load, fixed seeded train/val split, normalisation, augmented batches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "nn/dataset.h"
#include "nn/input.h"
#include "util/util.h"

/* The split is part of the evaluation protocol: never change this seed. */
#define SPLIT_SEED 0x46617368u /* "Fash" */

static const char *const split_names[PN_SPLIT_COUNT] = {"train", "val", "test"};

const char *pn_split_name(enum pn_split s) {
  return (unsigned)s < PN_SPLIT_COUNT ? split_names[s] : "?";
}

int pn_split_parse(const char *s) {
  for (int i = 0; i < PN_SPLIT_COUNT; i++)
    if (s && !strcmp(s, split_names[i])) return i;
  return -1;
}

void pn_shuffle(struct pn_prg *prg, int64_t n, int64_t *perm) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)pn_prg_uniform(prg, (uint64_t)i + 1);
    int64_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

void pn_fmnist_split_perm(int64_t n, int64_t n_val, int64_t *perm) {
  struct pn_prg prg;
  memset(&prg, 0, sizeof prg);
  (void)n_val;
  if (pn_prg_init_u64(NULL, &prg, SPLIT_SEED) != PN_OK) { /* cannot happen with a working libcrypto */
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    return;
  }
  pn_shuffle(&prg, n, perm);
  pn_prg_free(&prg);
}

static void stats(struct pn_dataset *ds) {
  double s = 0, s2 = 0;
  int64_t m = ds->n[PN_SPLIT_TRAIN] * PN_FMNIST_PIXELS;
  const uint8_t *p = ds->images[PN_SPLIT_TRAIN];
  for (int64_t i = 0; i < m; i++) {
    double v = p[i] / 255.0;
    s += v;
    s2 += v * v;
  }
  double mean = m ? s / (double)m : 0, var = m ? s2 / (double)m - mean * mean : 1;
  ds->mean = (float)mean;
  ds->std = var > 1e-12 ? (float)sqrt(var) : 1.0f;
}

static int alloc_split(struct pn_ctx *ctx, struct pn_dataset *ds, int s, int64_t n) {
  ds->n[s] = n;
  ds->images[s] = malloc((size_t)(n ? n : 1) * PN_FMNIST_PIXELS);
  ds->labels[s] = malloc((size_t)(n ? n : 1));
  if (!ds->images[s] || !ds->labels[s]) return pn_err(ctx, PN_ERR_NOMEM, "dataset: out of memory");
  return PN_OK;
}

int pn_dataset_from_arrays(struct pn_ctx *ctx, const int64_t n[PN_SPLIT_COUNT],
                           const uint8_t *const images[PN_SPLIT_COUNT],
                           const uint8_t *const labels[PN_SPLIT_COUNT], struct pn_dataset *ds) {
  memset(ds, 0, sizeof *ds);
  for (int s = 0; s < PN_SPLIT_COUNT; s++) {
    int rc = alloc_split(ctx, ds, s, n[s]);
    if (rc) {
      pn_dataset_free(ds);
      return rc;
    }
    for (int64_t i = 0; i < n[s]; i++)
      if (labels[s][i] >= PN_FMNIST_CLASSES) {
        pn_dataset_free(ds);
        return pn_err(ctx, PN_ERR_CORRUPT, "dataset: %s label %lld is %u (not in 0..9)",
                      split_names[s], (long long)i, labels[s][i]);
      }
    memcpy(ds->images[s], images[s], (size_t)n[s] * PN_FMNIST_PIXELS);
    memcpy(ds->labels[s], labels[s], (size_t)n[s]);
  }
  stats(ds);
  return PN_OK;
}

/* Read one image file and its label file and check they agree. */
static int read_pair(struct pn_ctx *ctx, const char *dir, const char *img_name,
                     const char *lab_name, int64_t expect, struct pn_idx *img, struct pn_idx *lab) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, img_name);
  int rc = pn_idx_read_gz(ctx, path, img);
  if (!rc && (img->ndim != 3 || img->dims[0] != expect || img->dims[1] != PN_FMNIST_SIDE ||
              img->dims[2] != PN_FMNIST_SIDE))
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: expected %lld x 28 x 28 images", path, (long long)expect);
  if (!rc) {
    snprintf(path, sizeof path, "%s/%s", dir, lab_name);
    rc = pn_idx_read_gz(ctx, path, lab);
    if (!rc && (lab->ndim != 1 || lab->dims[0] != expect))
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: expected %lld labels", path, (long long)expect);
    for (int64_t i = 0; !rc && i < expect; i++)
      if (lab->data[i] >= PN_FMNIST_CLASSES)
        rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: label %lld is %u (not in 0..9)", path, (long long)i,
                    lab->data[i]);
  }
  if (rc && !strcmp(dir, PN_FMNIST_DIR))
    pn_err_prefix(ctx, "Fashion-MNIST (the Debian package '%s' provides %s/*.gz)",
                  PN_FMNIST_PACKAGE, PN_FMNIST_DIR);
  else if (rc)
    pn_err_prefix(ctx, "IDX folder %s (the Fashion-MNIST layout: train-images-idx3-ubyte.gz, "
                  "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; "
                  "60000 + 10000 images of 28x28, labels 0..9, as the Debian package '%s' installs "
                  "in %s)", dir, PN_FMNIST_PACKAGE, PN_FMNIST_DIR);
  return rc;
}

int pn_dataset_load(struct pn_ctx *ctx, const char *dir, struct pn_dataset *ds) {
  memset(ds, 0, sizeof *ds);
  if (!dir) dir = PN_FMNIST_DIR;
  struct pn_idx ti = {0}, tl = {0}, si = {0}, sl = {0};
  int64_t *perm = NULL;
  int rc = read_pair(ctx, dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                     PN_FMNIST_TRAIN + PN_FMNIST_VAL, &ti, &tl);
  if (!rc)
    rc = read_pair(ctx, dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                   PN_FMNIST_TEST, &si, &sl);
  int64_t total = PN_FMNIST_TRAIN + PN_FMNIST_VAL;
  if (!rc) {
    perm = malloc(sizeof *perm * (size_t)total);
    if (!perm) rc = pn_err(ctx, PN_ERR_NOMEM, "dataset: out of memory");
  }
  if (!rc) rc = alloc_split(ctx, ds, PN_SPLIT_TRAIN, PN_FMNIST_TRAIN);
  if (!rc) rc = alloc_split(ctx, ds, PN_SPLIT_VAL, PN_FMNIST_VAL);
  if (!rc) rc = alloc_split(ctx, ds, PN_SPLIT_TEST, PN_FMNIST_TEST);
  if (!rc) {
    pn_fmnist_split_perm(total, PN_FMNIST_VAL, perm);
    for (int64_t i = 0; i < total; i++) {
      int s = i < PN_FMNIST_VAL ? PN_SPLIT_VAL : PN_SPLIT_TRAIN;
      int64_t j = i < PN_FMNIST_VAL ? i : i - PN_FMNIST_VAL;
      memcpy(ds->images[s] + j * PN_FMNIST_PIXELS, ti.data + perm[i] * PN_FMNIST_PIXELS,
             PN_FMNIST_PIXELS);
      ds->labels[s][j] = tl.data[perm[i]];
    }
    memcpy(ds->images[PN_SPLIT_TEST], si.data, (size_t)PN_FMNIST_TEST * PN_FMNIST_PIXELS);
    memcpy(ds->labels[PN_SPLIT_TEST], sl.data, PN_FMNIST_TEST);
    stats(ds);
  }
  free(perm);
  pn_idx_free(&ti);
  pn_idx_free(&tl);
  pn_idx_free(&si);
  pn_idx_free(&sl);
  if (rc) pn_dataset_free(ds);
  return rc;
}

void pn_dataset_free(struct pn_dataset *ds) {
  if (!ds) return;
  for (int s = 0; s < PN_SPLIT_COUNT; s++) {
    free(ds->images[s]);
    free(ds->labels[s]);
  }
  memset(ds, 0, sizeof *ds);
}

void pn_dataset_batch(const struct pn_dataset *ds, enum pn_split s, const int64_t *idx,
                      int64_t count, int pad, int flip_p, struct pn_prg *prg, float *x, int32_t *y) {
  const float scale = 1.0f / (255.0f * ds->std), shift = -ds->mean / ds->std;
  const int S = PN_FMNIST_SIDE;
  for (int64_t b = 0; b < count; b++) {
    const uint8_t *src = ds->images[s] + idx[b] * PN_FMNIST_PIXELS;
    float *dst = x + b * PN_FMNIST_PIXELS;
    y[b] = ds->labels[s][idx[b]];
    int dy = 0, dx = 0, flip = 0;
    if (prg) {
      if (pad > 0) {
        dy = (int)pn_prg_uniform(prg, 2 * (uint64_t)pad + 1) - pad;
        dx = (int)pn_prg_uniform(prg, 2 * (uint64_t)pad + 1) - pad;
      }
      if (flip_p) flip = (int)(pn_prg_u32(prg) & 1);
    }
    for (int r = 0; r < S; r++)
      for (int c = 0; c < S; c++) {
        int sr = r + dy, sc = (flip ? S - 1 - c : c) + dx;
        uint8_t v = (sr >= 0 && sr < S && sc >= 0 && sc < S) ? src[sr * S + sc] : 0;
        dst[r * S + c] = v * scale + shift;
      }
  }
}

int pn_dataset_use_model_norm(struct pn_ctx *ctx, struct pn_dataset *ds, const struct pn_graph *g) {
  const char *s = pn_graph_get_meta(g, PN_META_NORMALIZE);
  if (!s) return PN_OK;
  float m, sd;
  int end = 0;
  if (sscanf(s, "%f %f %n", &m, &sd, &end) != 2 || s[end] || !isfinite(m) || !isfinite(sd) || !(sd > 0))
    return pn_err(ctx, PN_ERR_CORRUPT, "metadata '%s' = '%.64s': expected 'MEAN STD' (finite, STD > 0)",
                  PN_META_NORMALIZE, s);
  ds->mean = m;
  ds->std = sd;
  return PN_OK;
}

int pn_dataset_record_norm(struct pn_ctx *ctx, const struct pn_dataset *ds, struct pn_graph *g) {
  char norm[64];
  snprintf(norm, sizeof norm, "%.8g %.8g", ds->mean, ds->std);
  if (pn_graph_set_meta(g, PN_META_NORMALIZE, norm) || pn_graph_set_meta(g, "privnn.dataset", "fashion-mnist"))
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  return PN_OK;
}

int pn_dataset_check_model(struct pn_ctx *ctx, const struct pn_graph *g) {
  int k;
  int64_t S[PN_MAX_DIMS];
  struct pn_ctx sub = {0};
  if (pn_input_shape(&sub, g, &k, S) == PN_OK &&
      ((k == 3 && S[0] == 1 && S[1] == PN_FMNIST_SIDE && S[2] == PN_FMNIST_SIDE) ||
       (k == 2 && S[0] == PN_FMNIST_SIDE && S[1] == PN_FMNIST_SIDE)))
    return PN_OK;
  char need[160] = "";
  if (pn_input_shape(&sub, g, &k, S) == PN_OK) {
    size_t n = (size_t)snprintf(need, sizeof need, "[N");
    for (int i = 0; i < k && n < sizeof need; i++) n += (size_t)snprintf(need + n, sizeof need - n, ",%lld", (long long)S[i]);
    if (n < sizeof need) snprintf(need + n, sizeof need - n, "]");
  } else {
    snprintf(need, sizeof need, "an input it describes so: %s", pn_errmsg(&sub));
  }
  return pn_err(ctx, PN_ERR_INVALID, "the model takes %s; the dataset's images are 1x28x28 "
                "([N,1,28,28] batches): give it images of its own shape with privnn run --input, or "
                "a model made for 28x28 grey images", need);
}

