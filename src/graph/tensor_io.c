/* tensor_io.c - tensors and images as files: NumPy .npy (own parser and writer), PNG (libpng's
** simplified API), PGM P2/P5 (own parser and writer), TensorProto (onnx_load.c), by magic or name.
**
** Every reader checks sizes before it allocates: the element count against the bytes present
** (.npy, PGM) or a pixel limit (PNG), so a hostile header cannot ask for more than the file holds. */
#include "tensor_io.h"

#include <ctype.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.h"
#include "../util/fileio.h"
#include "../util/status.h"

#define IO_MAX_BYTES ((size_t)2 << 30)
#define IMG_MAX_SIDE 65536
#define IMG_MAX_PIXELS ((int64_t)1 << 28)

static const char *const fmt_names[PN_TF_COUNT] = {"auto", "pb", "npy", "png", "pgm"};

const char *pn_tensor_format_name(enum pn_tensor_format f) {
  return (unsigned)f < PN_TF_COUNT ? fmt_names[f] : "?";
}

int pn_tensor_format_parse(const char *s) {
  for (int f = PN_TF_PB; f < PN_TF_COUNT; f++)
    if (s && !strcmp(s, fmt_names[f])) return f;
  return -1;
}

enum pn_tensor_format pn_tensor_format_detect(const uint8_t *buf, size_t n) {
  if (!n) return PN_TF_AUTO;
  if (n >= 6 && !memcmp(buf, "\x93NUMPY", 6)) return PN_TF_NPY;
  if (n >= 8 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8)) return PN_TF_PNG;
  if (n >= 3 && buf[0] == 'P' && (buf[1] == '2' || buf[1] == '5') && isspace(buf[2])) return PN_TF_PGM;
  return PN_TF_PB;
}

enum pn_tensor_format pn_tensor_format_of_path(const char *path) {
  const char *dot = path ? strrchr(path, '.') : NULL;
  if (!dot || strchr(dot, '/')) return PN_TF_AUTO;
  if (!strcasecmp(dot, ".pb")) return PN_TF_PB;
  if (!strcasecmp(dot, ".npy")) return PN_TF_NPY;
  if (!strcasecmp(dot, ".png")) return PN_TF_PNG;
  if (!strcasecmp(dot, ".pgm") || !strcasecmp(dot, ".pnm")) return PN_TF_PGM;
  return PN_TF_AUTO;
}

bool pn_tensor_format_is_image(enum pn_tensor_format f) { return f == PN_TF_PNG || f == PN_TF_PGM; }

/* ---- .npy ---- */

/* NumPy's type codes privnn stores: kind letter + item size -> dtype */
static const struct {
  char kind;
  int size;
  enum pn_dtype dt;
} npy_types[] = {
  {'f', 4, PN_DT_FLOAT},  {'f', 8, PN_DT_DOUBLE}, {'f', 2, PN_DT_FLOAT16}, {'u', 1, PN_DT_UINT8},
  {'i', 1, PN_DT_INT8},   {'u', 2, PN_DT_UINT16}, {'i', 2, PN_DT_INT16},   {'i', 4, PN_DT_INT32},
  {'i', 8, PN_DT_INT64},  {'u', 4, PN_DT_UINT32}, {'u', 8, PN_DT_UINT64},  {'b', 1, PN_DT_BOOL},
};

/* A cursor over the header's Python dict literal. */
struct hdr {
  const char *p, *end;
};

static void skip_ws(struct hdr *h) {
  while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static bool eat(struct hdr *h, char c) {
  skip_ws(h);
  if (h->p < h->end && *h->p == c) {
    h->p++;
    return true;
  }
  return false;
}

/* A quoted string ('...' or "...", no escapes) into buf. */
static bool read_str(struct hdr *h, char *buf, size_t n) {
  skip_ws(h);
  if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return false;
  char q = *h->p++;
  size_t k = 0;
  while (h->p < h->end && *h->p != q) {
    if (*h->p == '\\' || k + 1 >= n) return false;
    buf[k++] = *h->p++;
  }
  if (h->p >= h->end) return false;
  h->p++;
  buf[k] = 0;
  return true;
}

static int npy_header(struct pn_ctx *ctx, const char *name, struct hdr *h, char *descr, size_t dn,
                      int *fortran, int *ndim, int64_t *dims) {
  bool have_d = false, have_f = false, have_s = false;
  if (!eat(h, '{')) return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header is not a dict", name);
  while (!eat(h, '}')) {
    char key[32];
    if (!read_str(h, key, sizeof key) || !eat(h, ':'))
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header: expected a quoted key and ':'", name);
    skip_ws(h);
    if (!strcmp(key, "descr")) {
      if (h->p < h->end && *h->p == '[')
        return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: a structured dtype (descr is a list): privnn "
                      "reads plain numeric arrays", name);
      if (!read_str(h, descr, dn))
        return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header: descr is not a string", name);
      have_d = true;
    } else if (!strcmp(key, "fortran_order")) {
      if ((size_t)(h->end - h->p) >= 4 && !memcmp(h->p, "True", 4)) *fortran = 1, h->p += 4;
      else if ((size_t)(h->end - h->p) >= 5 && !memcmp(h->p, "False", 5)) *fortran = 0, h->p += 5;
      else return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header: fortran_order is not True/False", name);
      have_f = true;
    } else if (!strcmp(key, "shape")) {
      if (!eat(h, '(')) return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header: shape is not a tuple", name);
      *ndim = 0;
      while (!eat(h, ')')) {
        skip_ws(h);
        int64_t v = 0;
        const char *s0 = h->p;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
          if (v > (INT64_MAX - 9) / 10)
            return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header: a dimension is too large", name);
          v = v * 10 + (*h->p++ - '0');
        }
        if (h->p < h->end && *h->p == 'L') h->p++; /* Python 2 long */
        if (h->p == s0)
          return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header: shape holds a non-integer", name);
        if (*ndim == PN_MAX_DIMS)
          return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: more than %d dimensions", name, PN_MAX_DIMS);
        dims[(*ndim)++] = v;
        if (!eat(h, ',')) {
          if (!eat(h, ')'))
            return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header: shape tuple not closed", name);
          break;
        }
      }
      have_s = true;
    } else {
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header: unknown key '%s'", name, key);
    }
    if (!eat(h, ',')) {
      if (!eat(h, '}')) return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header: expected ',' or '}'", name);
      break;
    }
  }
  skip_ws(h);
  if (h->p != h->end)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header: data after the dict", name);
  if (!have_d || !have_f || !have_s)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header lacks '%s'", name,
                  !have_d ? "descr" : !have_f ? "fortran_order" : "shape");
  return PN_OK;
}

int pn_npy_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                 struct pn_tensor **out) {
  *out = NULL;
  if (n < 10 || memcmp(buf, "\x93NUMPY", 6))
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: not a .npy file (no \\x93NUMPY magic)", name);
  int major = buf[6];
  size_t hl, off;
  if (major == 1) {
    hl = (size_t)buf[8] | (size_t)buf[9] << 8;
    off = 10;
  } else if (major == 2 || major == 3) {
    if (n < 12) return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header truncated", name);
    hl = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    off = 12;
  } else {
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: .npy format version %d.%d (privnn reads 1.0-3.0)",
                  name, major, buf[7]);
  }
  if (hl > n - off) return pn_err(ctx, PN_ERR_CORRUPT, "%s: .npy header of %zu bytes, file ends first", name, hl);
  char descr[32];
  int fortran = 0, ndim = 0;
  int64_t dims[PN_MAX_DIMS];
  struct hdr h = {(const char *)buf + off, (const char *)buf + off + hl};
  int rc = npy_header(ctx, name, &h, descr, sizeof descr, &fortran, &ndim, dims);
  if (rc) return rc;
  if (fortran)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: Fortran-order array: save it in C order "
                  "(numpy.ascontiguousarray)", name);
  size_t dl = strlen(descr);
  char order = dl ? descr[0] : 0, kind = dl > 1 ? descr[1] : 0;
  if (kind == 'O')
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: an object array (dtype '%s') holds Python objects, not "
                  "numbers", name, descr);
  if (dl < 3 || (order != '<' && order != '|' && order != '>' && order != '='))
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: dtype '%s' is not a plain numeric type", name, descr);
  char *end;
  long size = strtol(descr + 2, &end, 10);
  enum pn_dtype dt = PN_DT_UNDEFINED;
  for (size_t i = 0; !*end && i < sizeof npy_types / sizeof *npy_types; i++)
    if (npy_types[i].kind == kind && npy_types[i].size == size) dt = npy_types[i].dt;
  if (dt == PN_DT_UNDEFINED)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: dtype '%s' (privnn reads float16/32/64, int8-64, "
                  "uint8-64, bool)", name, descr);
  if (order == '>' && size > 1)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: big-endian dtype '%s': save it little-endian "
                  "(array.astype('<%c%ld'))", name, descr, kind, size);
  int64_t numel = pn_shape_numel(ndim, dims);
  size_t have = n - off - hl;
  if (numel < 0 || numel == INT64_MAX || (uint64_t)numel > have / (size_t)size || (size_t)numel * (size_t)size != have)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: the shape says %lld elements of %ld bytes, the file holds "
                  "%zu data bytes", name, (long long)numel, size, have);
  struct pn_tensor *t = pn_tensor_new(dt, ndim, dims);
  if (!t) return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", name);
  if (have) memcpy(t->data, buf + off + hl, have);
  if (dt == PN_DT_BOOL)
    for (int64_t i = 0; i < numel; i++) ((uint8_t *)t->data)[i] = ((uint8_t *)t->data)[i] != 0;
  *out = t;
  return PN_OK;
}

int pn_npy_save(struct pn_ctx *ctx, const struct pn_tensor *t, uint8_t **buf, size_t *n) {
  *buf = NULL;
  *n = 0;
  size_t es = pn_dtype_size(t->dtype);
  char kind = 0;
  for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++)
    if (npy_types[i].dt == t->dtype) kind = npy_types[i].kind;
  if (!kind)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, ".npy: privnn does not write %s tensors", pn_dtype_name(t->dtype));
  char hdr[64 + 24 * PN_MAX_DIMS];
  int k = snprintf(hdr, sizeof hdr, "{'descr': '%c%c%zu', 'fortran_order': False, 'shape': (",
                   es == 1 ? '|' : '<', kind, es);
  for (int d = 0; d < t->ndim; d++)
    k += snprintf(hdr + k, sizeof hdr - (size_t)k, "%lld,%s", (long long)t->dims[d],
                  d + 1 < t->ndim ? " " : "");
  if (t->ndim > 1) k--; /* (3, 4) but (5,) */
  k += snprintf(hdr + k, sizeof hdr - (size_t)k, "), }");
  size_t total = 10 + (size_t)k + 1;
  size_t pad = (64 - total % 64) % 64;
  size_t hl = (size_t)k + pad + 1, data = pn_tensor_nbytes(t);
  uint8_t *b = malloc(10 + hl + data);
  if (!b) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  memcpy(b, "\x93NUMPY\x01\x00", 8);
  b[8] = (uint8_t)(hl & 0xff);
  b[9] = (uint8_t)(hl >> 8);
  memcpy(b + 10, hdr, (size_t)k);
  memset(b + 10 + k, ' ', pad);
  b[10 + hl - 1] = '\n';
  if (data) memcpy(b + 10 + hl, t->data, data);
  *buf = b;
  *n = 10 + hl + data;
  return PN_OK;
}

/* ---- PNG ---- */

int pn_png_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                 struct pn_tensor **out) {
  *out = NULL;
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&im, buf, n)) {
    int rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: not a readable PNG: %s", name, im.message);
    png_image_free(&im);
    return rc;
  }
  if (im.width == 0 || im.height == 0 || im.width > IMG_MAX_SIDE || im.height > IMG_MAX_SIDE ||
      (int64_t)im.width * im.height > IMG_MAX_PIXELS) {
    png_image_free(&im);
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: a %ux%u PNG is beyond privnn's limit (%d per side, "
                  "%lld pixels)", name, im.width, im.height, IMG_MAX_SIDE, (long long)IMG_MAX_PIXELS);
  }
  int color = (im.format & PNG_FORMAT_FLAG_COLOR) != 0, alpha = (im.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  int C = color ? 3 : 1, S = C + alpha;
  im.format = (color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY) | (alpha ? PNG_FORMAT_FLAG_ALPHA : 0);
  size_t bytes = PNG_IMAGE_SIZE(im);
  uint8_t *px = malloc(bytes ? bytes : 1);
  if (!px) {
    png_image_free(&im);
    return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", name);
  }
  if (!png_image_finish_read(&im, NULL, px, 0, NULL)) {
    int rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: PNG data: %s", name, im.message);
    png_image_free(&im);
    free(px);
    return rc;
  }
  int64_t H = im.height, W = im.width, dims[3] = {C, H, W};
  struct pn_tensor *t = pn_tensor_new(PN_DT_UINT8, 3, dims);
  if (!t) {
    free(px);
    return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", name);
  }
  uint8_t *x = t->data;
  for (int c = 0; c < C; c++)
    for (int64_t i = 0; i < H * W; i++) x[c * H * W + i] = px[i * S + c];
  free(px);
  *out = t;
  return PN_OK;
}

/* ---- PGM ---- */

/* The next whitespace-separated decimal of a PGM header or P2 raster ('#' comments skipped). */
static bool pgm_int(const uint8_t *buf, size_t n, size_t *i, int64_t max, int64_t *v) {
  for (;;) {
    while (*i < n && isspace(buf[*i])) (*i)++;
    if (*i < n && buf[*i] == '#') {
      while (*i < n && buf[*i] != '\n' && buf[*i] != '\r') (*i)++;
      continue;
    }
    break;
  }
  if (*i >= n || buf[*i] < '0' || buf[*i] > '9') return false;
  int64_t x = 0;
  while (*i < n && buf[*i] >= '0' && buf[*i] <= '9') {
    x = x * 10 + (buf[(*i)++] - '0');
    if (x > max) return false;
  }
  *v = x;
  return true;
}

int pn_pgm_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                 struct pn_tensor **out) {
  *out = NULL;
  if (n < 3 || buf[0] != 'P' || (buf[1] != '2' && buf[1] != '5') || !isspace(buf[2]))
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: not a PGM file (no P2/P5 magic)", name);
  bool binary = buf[1] == '5';
  size_t i = 2;
  int64_t W, H, maxval;
  if (!pgm_int(buf, n, &i, IMG_MAX_SIDE, &W) || !pgm_int(buf, n, &i, IMG_MAX_SIDE, &H) ||
      !pgm_int(buf, n, &i, 65535, &maxval))
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: PGM header: width, height and maxval must be integers "
                  "(sides up to %d, maxval up to 65535)", name, IMG_MAX_SIDE);
  if (W == 0 || H == 0 || maxval == 0)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: PGM header: %s is 0", name, !W ? "width" : !H ? "height" : "maxval");
  if (W * H > IMG_MAX_PIXELS)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: %lldx%lld pixels is beyond privnn's limit", name,
                  (long long)W, (long long)H);
  int64_t np = W * H;
  int bps = maxval > 255 ? 2 : 1;
  if (binary) {
    if (i >= n || !isspace(buf[i])) return pn_err(ctx, PN_ERR_CORRUPT, "%s: PGM header not ended by whitespace", name);
    i++;
    if ((uint64_t)(n - i) < (uint64_t)np * (uint64_t)bps)
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: PGM raster truncated: %lldx%lld pixels need %lld bytes, "
                    "%zu present", name, (long long)W, (long long)H, (long long)(np * bps), n - i);
  }
  int64_t dims[3] = {1, H, W};
  bool u8 = maxval == 255;
  struct pn_tensor *t = pn_tensor_new(u8 ? PN_DT_UINT8 : PN_DT_FLOAT, 3, dims);
  if (!t) return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", name);
  for (int64_t p = 0; p < np; p++) {
    int64_t v;
    if (binary) {
      v = bps == 1 ? buf[i + (size_t)p] : (int64_t)buf[i + 2 * (size_t)p] << 8 | buf[i + 2 * (size_t)p + 1];
    } else if (!pgm_int(buf, n, &i, 65535, &v)) {
      pn_tensor_free(t);
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: P2 raster: pixel %lld of %lld missing or not an integer",
                    name, (long long)p + 1, (long long)np);
    }
    if (v > maxval) {
      pn_tensor_free(t);
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: pixel %lld is %lld, above maxval %lld", name,
                    (long long)p + 1, (long long)v, (long long)maxval);
    }
    if (u8) ((uint8_t *)t->data)[p] = (uint8_t)v;
    else ((float *)t->data)[p] = (float)((double)v / (double)maxval);
  }
  if (binary) i += (size_t)(np * bps);
  while (i < n && isspace(buf[i])) i++;
  if (i < n) {
    pn_tensor_free(t);
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: data after the image (%zu bytes; privnn reads one image "
                  "per file)", name, n - i);
  }
  *out = t;
  return PN_OK;
}

/* ---- any format ---- */

int pn_tensor_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                    enum pn_tensor_format fmt, struct pn_tensor **out, enum pn_tensor_format *fmt_out) {
  *out = NULL;
  if (fmt == PN_TF_AUTO) fmt = pn_tensor_format_detect(buf, n);
  if (fmt_out) *fmt_out = fmt;
  int rc;
  switch (fmt) {
  case PN_TF_NPY: return pn_npy_parse(ctx, name, buf, n, out);
  case PN_TF_PNG: return pn_png_parse(ctx, name, buf, n, out);
  case PN_TF_PGM: return pn_pgm_parse(ctx, name, buf, n, out);
  case PN_TF_PB:
    if ((rc = pn_tensor_load_pb(ctx, buf, n, out))) pn_err_prefix(ctx, "%s", name);
    return rc;
  default: return pn_err(ctx, PN_ERR_CORRUPT, "%s: empty file", name);
  }
}

int pn_tensor_read_file(struct pn_ctx *ctx, const char *path, enum pn_tensor_format fmt,
                        struct pn_tensor **out, enum pn_tensor_format *fmt_out) {
  *out = NULL;
  uint8_t *buf;
  size_t n;
  int rc = pn_read_file(ctx, path, IO_MAX_BYTES, &buf, &n);
  if (rc) return rc;
  rc = pn_tensor_parse(ctx, path, buf, n, fmt, out, fmt_out);
  free(buf);
  return rc;
}

/* ---- writing images ---- */

/* t as 8-bit pixels, C x H x W: accepts [H, W], [C, H, W] and [1, C, H, W] with C allowed. */
static int image_pixels(struct pn_ctx *ctx, const struct pn_tensor *t, const char *path, int max_c,
                        int *C, int64_t *H, int64_t *W, uint8_t **px) {
  int nd = t->ndim;
  const int64_t *d = t->dims;
  if (nd == 4 && d[0] == 1) nd = 3, d++;
  *C = nd == 3 ? (int)d[0] : 1;
  if ((nd != 2 && nd != 3) || (*C != 1 && *C != max_c) || d[nd - 1] < 1 || d[nd - 2] < 1 ||
      d[nd - 1] > IMG_MAX_SIDE || d[nd - 2] > IMG_MAX_SIDE)
    return pn_err(ctx, PN_ERR_INVALID, "%s: an image needs a tensor [H, W] or [C, H, W] with C = 1%s "
                  "(sides up to %d)", path, max_c == 3 ? " or 3" : "", IMG_MAX_SIDE);
  if (t->dtype != PN_DT_FLOAT && t->dtype != PN_DT_DOUBLE && t->dtype != PN_DT_UINT8)
    return pn_err(ctx, PN_ERR_INVALID, "%s: an image is written from float values in [0, 1] or uint8, "
                  "not %s", path, pn_dtype_name(t->dtype));
  *H = d[nd - 2];
  *W = d[nd - 1];
  int64_t hw = *H * *W;
  uint8_t *p = malloc((size_t)(hw * *C));
  if (!p) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  for (int c = 0; c < *C; c++)
    for (int64_t i = 0; i < hw; i++) {
      double v = pn_tensor_get_f64(t, c * hw + i);
      if (t->dtype != PN_DT_UINT8) v = isnan(v) ? 0 : nearbyint((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
      p[i * *C + c] = (uint8_t)v;
    }
  *px = p;
  return PN_OK;
}

/* t as a PNG (grey or RGB) or a binary PGM (grey), 8-bit, into *buf (malloc'd). */
static int image_save(struct pn_ctx *ctx, const struct pn_tensor *t, const char *path, enum pn_tensor_format fmt,
                      uint8_t **buf, size_t *n) {
  int C = 1;
  int64_t H = 0, W = 0;
  uint8_t *px = NULL, *b = NULL;
  int rc = image_pixels(ctx, t, path, fmt == PN_TF_PNG ? 3 : 1, &C, &H, &W, &px);
  if (rc) return rc;
  if (fmt == PN_TF_PGM) {
    char hdr[64];
    int k = snprintf(hdr, sizeof hdr, "P5\n%lld %lld\n255\n", (long long)W, (long long)H);
    if ((b = malloc((size_t)k + (size_t)(H * W)))) {
      memcpy(b, hdr, (size_t)k);
      memcpy(b + k, px, (size_t)(H * W));
      *buf = b;
      *n = (size_t)k + (size_t)(H * W);
    } else {
      rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    }
    free(px);
    return rc;
  }
  png_image im;
  memset(&im, 0, sizeof im);
  im.version = PNG_IMAGE_VERSION;
  im.width = (png_uint_32)W;
  im.height = (png_uint_32)H;
  im.format = C == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (png_image_write_get_memory_size(im, size, 0, px, 0, NULL) && (b = malloc(size)) &&
      png_image_write_to_memory(&im, b, &size, 0, px, 0, NULL)) {
    *buf = b;
    *n = size;
  } else {
    rc = pn_err(ctx, b ? PN_ERR_IO : PN_ERR_NOMEM, "%s: PNG: %s", path, im.message[0] ? im.message : "out of memory");
    free(b);
  }
  png_image_free(&im);
  free(px);
  return rc;
}

int pn_tensor_write_file(struct pn_ctx *ctx, const struct pn_tensor *t, const char *path,
                         enum pn_tensor_format fmt) {
  if (fmt == PN_TF_AUTO) fmt = pn_tensor_format_of_path(path);
  uint8_t *buf = NULL;
  size_t n = 0;
  int rc;
  switch (fmt) {
  case PN_TF_PB: return pn_tensor_save_pb_file(ctx, t, path);
  case PN_TF_NPY:
    if ((rc = pn_npy_save(ctx, t, &buf, &n))) pn_err_prefix(ctx, "%s", path);
    break;
  case PN_TF_PNG:
  case PN_TF_PGM: rc = image_save(ctx, t, path, fmt, &buf, &n); break;
  default:
    return pn_err(ctx, PN_ERR_INVALID, "%s: no format given and none known by the extension (.pb, "
                  ".npy, .png, .pgm)", path);
  }
  if (!rc) rc = pn_write_file_atomic(ctx, path, buf, n, 0644);
  free(buf);
  return rc;
}

/* ---- statistics ---- */

void pn_tensor_stats(const struct pn_tensor *t, struct pn_tensor_stats *st) {
  memset(st, 0, sizeof *st);
  int64_t n = pn_tensor_numel(t), k = 0;
  st->n = n;
  double mean = 0, m2 = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = pn_tensor_get_f64(t, i);
    if (isnan(v)) {
      st->nan++;
      continue;
    }
    if (isinf(v)) {
      st->inf++;
      continue;
    }
    if (!k || v < st->min) st->min = v;
    if (!k || v > st->max) st->max = v;
    k++;
    double d = v - mean; /* Welford */
    mean += d / (double)k;
    m2 += d * (v - mean);
  }
  st->mean = mean;
  st->std = k ? sqrt(m2 / (double)k) : 0;
}
