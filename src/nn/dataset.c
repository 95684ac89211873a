/* dataset.c - IDX image folders (Fashion-MNIST and any of its layout): load, fixed seeded
** train/val split, normalisation, augmented batches, the model-fits-the-images check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int64_t pn_dataset_val_count(int64_t n) {
  int64_t v = (n + 6) / 12;
  return v < 1 && n >= 2 ? 1 : v;
}

static void stats(struct pn_dataset *ds) {
  double s = 0, s2 = 0;
  int64_t m = ds->n[PN_SPLIT_TRAIN] * ds->pixels;
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

static void set_shape(struct pn_dataset *ds, int c, int h, int w) {
  ds->channels = c;
  ds->height = h;
  ds->width = w;
  ds->pixels = (int64_t)c * h * w;
}

static int alloc_split(struct pn_ctx *ctx, struct pn_dataset *ds, int s, int64_t n) {
  ds->n[s] = n;
  ds->images[s] = malloc((size_t)(n ? n : 1) * (size_t)ds->pixels);
  ds->labels[s] = malloc((size_t)(n ? n : 1));
  if (!ds->images[s] || !ds->labels[s]) return pn_err(ctx, PN_ERR_NOMEM, "dataset: out of memory");
  return PN_OK;
}

int pn_dataset_from_arrays_chw(struct pn_ctx *ctx, int channels, int height, int width,
                               const int64_t n[PN_SPLIT_COUNT], const uint8_t *const images[PN_SPLIT_COUNT],
                               const uint8_t *const labels[PN_SPLIT_COUNT], struct pn_dataset *ds) {
  memset(ds, 0, sizeof *ds);
  if (channels < 1 || height < 1 || width < 1 || channels > 65535 || height > 65535 || width > 65535)
    return pn_err(ctx, PN_ERR_INVALID, "dataset: image shape %dx%dx%d out of range", height, width, channels);
  set_shape(ds, channels, height, width);
  snprintf(ds->name, sizeof ds->name, "arrays");
  int top = 0;
  for (int s = 0; s < PN_SPLIT_COUNT; s++) {
    int rc = n[s] < 0 ? pn_err(ctx, PN_ERR_INVALID, "dataset: negative count") : alloc_split(ctx, ds, s, n[s]);
    if (rc) {
      pn_dataset_free(ds);
      return rc;
    }
    memcpy(ds->images[s], images[s], (size_t)n[s] * (size_t)ds->pixels);
    memcpy(ds->labels[s], labels[s], (size_t)n[s]);
    for (int64_t i = 0; i < n[s]; i++)
      if (labels[s][i] > top) top = labels[s][i];
  }
  ds->classes = top + 1;
  stats(ds);
  return PN_OK;
}

int pn_dataset_from_arrays(struct pn_ctx *ctx, const int64_t n[PN_SPLIT_COUNT],
                           const uint8_t *const images[PN_SPLIT_COUNT],
                           const uint8_t *const labels[PN_SPLIT_COUNT], struct pn_dataset *ds) {
  for (int s = 0; s < PN_SPLIT_COUNT; s++)
    for (int64_t i = 0; i < n[s]; i++)
      if (labels[s][i] >= PN_FMNIST_CLASSES) {
        memset(ds, 0, sizeof *ds);
        return pn_err(ctx, PN_ERR_CORRUPT, "dataset: %s label %lld is %u (not in 0..9)",
                      split_names[s], (long long)i, labels[s][i]);
      }
  int rc = pn_dataset_from_arrays_chw(ctx, 1, PN_FMNIST_SIDE, PN_FMNIST_SIDE, n, images, labels, ds);
  if (!rc) {
    ds->classes = PN_FMNIST_CLASSES;
    snprintf(ds->name, sizeof ds->name, "fashion-mnist arrays");
  }
  return rc;
}

/* The folder's file named base (+ ".gz" or plain, or with idx4 for idx3 when alt): its path in
** path[]; the .gz name when none exists (so the error names the layout's file). */
static void find_file(const char *dir, const char *base, const char *alt, char *path, size_t cap) {
  const char *names[2] = {base, alt};
  for (int k = 0; k < 2; k++) {
    if (!names[k]) continue;
    snprintf(path, cap, "%s/%s.gz", dir, names[k]);
    if (!access(path, F_OK)) return;
    snprintf(path, cap, "%s/%s", dir, names[k]);
    if (!access(path, F_OK)) return;
  }
  snprintf(path, cap, "%s/%s.gz", dir, base);
}

/* An image file: N images of H x W (rank 3) or with channels (rank 4, NHWC when the last dim is
** 1..4, else NCHW when dim 1 is); *hwc says which. Shape checks name the file and the field. */
static int image_shape(struct pn_ctx *ctx, const char *path, const struct pn_idx *img, int dims[3],
                       int *hwc) {
  *hwc = 0;
  if (img->ndim == 3) {
    dims[0] = 1, dims[1] = (int)img->dims[1], dims[2] = (int)img->dims[2];
  } else if (img->ndim == 4 && img->dims[3] >= 1 && img->dims[3] <= 4) {
    dims[0] = (int)img->dims[3], dims[1] = (int)img->dims[1], dims[2] = (int)img->dims[2];
    *hwc = 1;
  } else if (img->ndim == 4 && img->dims[1] >= 1 && img->dims[1] <= 4) {
    dims[0] = (int)img->dims[1], dims[1] = (int)img->dims[2], dims[2] = (int)img->dims[3];
  } else if (img->ndim == 4) {
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: dims %lldx%lldx%lldx%lld: neither dim 1 nor dim 3 is a "
                  "channel count (1..4), so the channel axis is unknown", path, (long long)img->dims[0],
                  (long long)img->dims[1], (long long)img->dims[2], (long long)img->dims[3]);
  } else {
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: rank %d: images are N x H x W (rank 3) or have a channel "
                  "axis (rank 4)", path, img->ndim);
  }
  for (int d = 1; d < img->ndim; d++)
    if (img->dims[d] < 1 || img->dims[d] > 65535)
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: dim %d is %lld (an image side or channel count is 1..65535)",
                    path, d, (long long)img->dims[d]);
  return PN_OK;
}

/* Read one image file and its label file and check they agree with each other (and, with want
** non-NULL, that the images are want[0] x want[1] x want[2] like the training file's). The images
** are returned in CHW order; *top is raised to the largest label. */
static int read_pair(struct pn_ctx *ctx, const char *dir, const char *img_name, const char *alt,
                     const char *lab_name, const int *want, int shape[3], struct pn_idx *img,
                     struct pn_idx *lab, int *top) {
  char path[4096];
  find_file(dir, img_name, alt, path, sizeof path);
  int hwc = 0, rc = pn_idx_read_gz(ctx, path, img);
  if (!rc) rc = image_shape(ctx, path, img, shape, &hwc);
  if (!rc && img->dims[0] < (want ? 1 : 2))
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: %lld images (dim 0): the %s", path, (long long)img->dims[0],
                want ? "test split needs at least 1" : "train and validation splits need at least 2");
  if (!rc && want && (shape[0] != want[0] || shape[1] != want[1] || shape[2] != want[2]))
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: images are %dx%dx%d (HxWxC), the training images %dx%dx%d",
                path, shape[1], shape[2], shape[0], want[1], want[2], want[0]);
  if (!rc && hwc && shape[0] > 1) { /* N x H x W x C -> N x C x H x W */
    int64_t hw = (int64_t)shape[1] * shape[2], per = hw * shape[0];
    uint8_t *t = malloc((size_t)per);
    if (!t) rc = pn_err(ctx, PN_ERR_NOMEM, "dataset: out of memory");
    for (int64_t i = 0; !rc && i < img->dims[0]; i++) {
      uint8_t *im = img->data + i * per;
      for (int64_t p = 0; p < hw; p++)
        for (int c = 0; c < shape[0]; c++) t[c * hw + p] = im[p * shape[0] + c];
      memcpy(im, t, (size_t)per);
    }
    free(t);
  }
  if (!rc) {
    find_file(dir, lab_name, NULL, path, sizeof path);
    rc = pn_idx_read_gz(ctx, path, lab);
    if (!rc && lab->ndim != 1)
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: rank %d: labels are one dim (N)", path, lab->ndim);
    else if (!rc && lab->dims[0] != img->dims[0])
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: %lld labels (dim 0) for %lld images", path,
                  (long long)lab->dims[0], (long long)img->dims[0]);
    for (int64_t i = 0; !rc && i < lab->dims[0]; i++)
      if (lab->data[i] > *top) *top = lab->data[i];
  }
  return rc;
}

int pn_dataset_load(struct pn_ctx *ctx, const char *dir, struct pn_dataset *ds) {
  memset(ds, 0, sizeof *ds);
  const int fmnist = !dir || !strcmp(dir, PN_FMNIST_DIR);
  if (!dir) dir = PN_FMNIST_DIR;
  struct pn_idx ti = {0}, tl = {0}, si = {0}, sl = {0};
  int64_t *perm = NULL;
  int shape[3], tshape[3], top = 0;
  int rc = read_pair(ctx, dir, "train-images-idx3-ubyte", "train-images-idx4-ubyte",
                     "train-labels-idx1-ubyte", NULL, shape, &ti, &tl, &top);
  if (!rc)
    rc = read_pair(ctx, dir, "t10k-images-idx3-ubyte", "t10k-images-idx4-ubyte",
                   "t10k-labels-idx1-ubyte", shape, tshape, &si, &sl, &top);
  if (rc && fmnist)
    pn_err_prefix(ctx, "Fashion-MNIST (the Debian package '%s' provides %s/*.gz)",
                  PN_FMNIST_PACKAGE, PN_FMNIST_DIR);
  else if (rc)
    pn_err_prefix(ctx, "IDX folder %s (the Fashion-MNIST layout: train-images-idx3-ubyte.gz, "
                  "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz, "
                  "gzipped or not: uint8 images N x H x W [x C] and N labels, as the Debian package "
                  "'%s' installs in %s)", dir, PN_FMNIST_PACKAGE, PN_FMNIST_DIR);
  int64_t total = rc ? 0 : ti.dims[0], n_val = pn_dataset_val_count(total);
  if (!rc) {
    set_shape(ds, shape[0], shape[1], shape[2]);
    ds->classes = top + 1;
    snprintf(ds->name, sizeof ds->name, "%s", fmnist ? "fashion-mnist" : dir);
    perm = malloc(sizeof *perm * (size_t)total);
    if (!perm) rc = pn_err(ctx, PN_ERR_NOMEM, "dataset: out of memory");
  }
  if (!rc) rc = alloc_split(ctx, ds, PN_SPLIT_TRAIN, total - n_val);
  if (!rc) rc = alloc_split(ctx, ds, PN_SPLIT_VAL, n_val);
  if (!rc) rc = alloc_split(ctx, ds, PN_SPLIT_TEST, si.dims[0]);
  if (!rc) {
    const size_t P = (size_t)ds->pixels;
    pn_fmnist_split_perm(total, n_val, perm);
    for (int64_t i = 0; i < total; i++) {
      int s = i < n_val ? PN_SPLIT_VAL : PN_SPLIT_TRAIN;
      int64_t j = i < n_val ? i : i - n_val;
      memcpy(ds->images[s] + (size_t)j * P, ti.data + (size_t)perm[i] * P, P);
      ds->labels[s][j] = tl.data[perm[i]];
    }
    memcpy(ds->images[PN_SPLIT_TEST], si.data, (size_t)si.dims[0] * P);
    memcpy(ds->labels[PN_SPLIT_TEST], sl.data, (size_t)si.dims[0]);
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
  const int C = ds->channels, H = ds->height, W = ds->width;
  const int64_t P = ds->pixels, HW = (int64_t)H * W;
  for (int64_t b = 0; b < count; b++) {
    const uint8_t *src = ds->images[s] + idx[b] * P;
    float *dst = x + b * P;
    y[b] = ds->labels[s][idx[b]];
    int dy = 0, dx = 0, flip = 0;
    if (prg) {
      if (pad > 0) {
        dy = (int)pn_prg_uniform(prg, 2 * (uint64_t)pad + 1) - pad;
        dx = (int)pn_prg_uniform(prg, 2 * (uint64_t)pad + 1) - pad;
      }
      if (flip_p) flip = (int)(pn_prg_u32(prg) & 1);
    }
    for (int c = 0; c < C; c++)
      for (int r = 0; r < H; r++)
        for (int q = 0; q < W; q++) {
          int sr = r + dy, sc = (flip ? W - 1 - q : q) + dx;
          uint8_t v = (sr >= 0 && sr < H && sc >= 0 && sc < W) ? src[c * HW + (int64_t)sr * W + sc] : 0;
          dst[c * HW + (int64_t)r * W + q] = v * scale + shift;
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
  /* the folder's last component, not its path (a model file need not carry the trainer's paths) */
  const char *name = ds->name[0] ? ds->name : "fashion-mnist";
  char base[256];
  size_t n = strlen(name);
  while (n > 1 && name[n - 1] == '/') n--;
  size_t b = n;
  while (b > 0 && name[b - 1] != '/') b--;
  snprintf(base, sizeof base, "%.*s", (int)(n - b), name + b);
  if (pn_graph_set_meta(g, PN_META_NORMALIZE, norm) || pn_graph_set_meta(g, "privnn.dataset", base))
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  return PN_OK;
}

/* "[N,d1,...]" of a model input or output */
static void shape_str(char *buf, size_t cap, int k, const int64_t *S) {
  size_t n = (size_t)snprintf(buf, cap, "[N");
  for (int i = 0; i < k && n < cap; i++)
    n += (size_t)(S[i] > 0 ? snprintf(buf + n, cap - n, ",%lld", (long long)S[i]) : snprintf(buf + n, cap - n, ",?"));
  if (n < cap) snprintf(buf + n, cap - n, "]");
}

int pn_dataset_check_model(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_dataset *ds) {
  int k;
  int64_t S[PN_MAX_DIMS];
  struct pn_ctx sub = {0};
  char need[160] = "", have[320];
  const int C = ds->channels, H = ds->height, W = ds->width;
  if (!strcmp(ds->name, "fashion-mnist"))
    snprintf(have, sizeof have, "Fashion-MNIST has %dx%dx%d images", H, W, C);
  else
    snprintf(have, sizeof have, "the dataset %s has %dx%dx%d images", ds->name, H, W, C);
  int rc = pn_input_shape(&sub, g, &k, S);
  if (rc == PN_OK &&
      ((k == 3 && S[0] == C && S[1] == H && S[2] == W) || (k == 2 && C == 1 && S[0] == H && S[1] == W))) {
    /* the logits: [N,K] (or any rank with K last) when the output's width is known */
    const struct pn_value *o = g->n_outputs > 0 ? &g->outputs[0] : NULL;
    int64_t K = o && o->ndim >= 2 ? o->dims[o->ndim - 1] : -1;
    if (K > 0 && K < ds->classes)
      return pn_err(ctx, PN_ERR_INVALID, "the model's output '%s' has %lld logits; %s and labels 0..%d "
                    "(%d classes): use a model with at least %d outputs", o->name, (long long)K,
                    have, ds->classes - 1, ds->classes, ds->classes);
    return PN_OK;
  }
  if (rc == PN_OK) shape_str(need, sizeof need, k, S);
  else snprintf(need, sizeof need, "an input it describes so: %s", pn_errmsg(&sub));
  return pn_err(ctx, PN_ERR_INVALID, "the model expects %s; %s ([N,%d,%d,%d] batches): give it images "
                "of its own shape (privnn run --input, or an IDX folder of that size), or a model made "
                "for %dx%dx%d images", need, have, C, H, W, H, W, C);
}
