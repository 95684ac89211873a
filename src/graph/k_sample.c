/* k_sample.c - GridSample (opset 16): X [N, C, H, W] sampled at the points of grid [N, H', W', 2].
**
** The semantics are PyTorch's grid_sample, which ONNX's node tests were generated from. A grid
** point (x, y) in [-1, 1] maps to pixel coordinates ((x + 1) / 2) * (W - 1) with align_corners,
** else ((x + 1) * W - 1) / 2. padding_mode border clamps a coordinate to [0, W - 1]; reflection
** folds it back at the edges (at 0 and W - 1 with align_corners, else at -0.5 and W - 0.5) and then
** clamps; zeros reads 0 outside. bilinear and nearest (halves to even) apply the padding to the
** point; bicubic (Keys, A = -0.75) to each of its 4 x 4 taps. float32 and float64 (float16 by
** conversion in ops.c). */
#include <math.h>
#include <string.h>

#include "graph/k_util.h"

enum gs_mode { GS_BILINEAR, GS_NEAREST, GS_BICUBIC };
enum gs_pad { GS_ZEROS, GS_BORDER, GS_REFLECTION };

struct gs {
  enum gs_mode mode;
  enum gs_pad pad;
  bool align;
};

static int gs_attrs(const struct pn_op_args *a, struct gs *g) {
  const char *m, *p;
  int64_t al;
  int rc;
  memset(g, 0, sizeof *g);
  if ((rc = pn_node_get_string(a->ctx, a->node, "mode", "bilinear", &m)) ||
      (rc = pn_node_get_string(a->ctx, a->node, "padding_mode", "zeros", &p)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "align_corners", 0, &al)))
    return rc;
  if (!strcmp(m, "bilinear")) g->mode = GS_BILINEAR;
  else if (!strcmp(m, "nearest")) g->mode = GS_NEAREST;
  else if (!strcmp(m, "bicubic")) g->mode = GS_BICUBIC;
  else return pn_op_err(a, PN_ERR_INVALID, "attribute 'mode' = '%s' is not valid", m);
  if (!strcmp(p, "zeros")) g->pad = GS_ZEROS;
  else if (!strcmp(p, "border")) g->pad = GS_BORDER;
  else if (!strcmp(p, "reflection")) g->pad = GS_REFLECTION;
  else return pn_op_err(a, PN_ERR_INVALID, "attribute 'padding_mode' = '%s' is not valid", p);
  g->align = al != 0;
  return PN_OK;
}

int pn_infer_grid_sample(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                         int n_out) {
  struct gs g;
  int rc;
  if ((rc = gs_attrs(a, &g)) || (rc = pn_check_dtype(a, "X", in[0].dtype, PN_DT_FLOATS)) ||
      (rc = pn_check_dtype(a, "grid", in[1].dtype, PN_DT_FLOATS)))
    return rc;
  if (in[0].ndim >= 0 && in[0].ndim != 4) return pn_op_err(a, PN_ERR_UNSUPPORTED, "X has rank %d (4-D only)", in[0].ndim);
  if (in[1].ndim >= 0 && (in[1].ndim != 4 || (in[1].dims[3] >= 0 && in[1].dims[3] != 2)))
    return pn_op_err(a, PN_ERR_INVALID, "grid must be [N, H_out, W_out, 2]");
  int64_t d[4] = {in[0].ndim == 4 ? in[0].dims[0] : -1, in[0].ndim == 4 ? in[0].dims[1] : -1,
                  in[1].ndim == 4 ? in[1].dims[1] : -1, in[1].ndim == 4 ? in[1].dims[2] : -1};
  if (in[0].ndim == 4 && in[1].ndim == 4 && d[0] >= 0 && in[1].dims[0] >= 0 && d[0] != in[1].dims[0])
    return pn_op_err(a, PN_ERR_INVALID, "X and grid disagree on the batch");
  pn_shape_set(out, in[0].dtype, 4, d);
  return PN_OK;
}

static double reflect(double x, double twice_low, double twice_high) {
  if (twice_low == twice_high) return 0;
  double lo = twice_low / 2, span = (twice_high - twice_low) / 2;
  x = fabs(x - lo);
  double extra = fmod(x, span);
  int64_t flips = (int64_t)floor(x / span);
  return flips % 2 == 0 ? extra + lo : span - extra + lo;
}

/* The padding's coordinate rule for a size-n axis. */
static double pad_coord(const struct gs *g, double x, int64_t n) {
  if (g->pad == GS_BORDER) return fmin(fmax(x, 0), (double)(n - 1));
  if (g->pad == GS_REFLECTION) {
    x = g->align ? reflect(x, 0, 2.0 * (double)(n - 1)) : reflect(x, -1, 2.0 * (double)n - 1);
    return fmin(fmax(x, 0), (double)(n - 1));
  }
  return x;
}

static double unnormalize(const struct gs *g, double c, int64_t n) {
  return g->align ? (c + 1) / 2 * (double)(n - 1) : ((c + 1) * (double)n - 1) / 2;
}

/* Pixel (x, y) of plane p (0 outside). */
static double px(const struct pn_tensor *X, int64_t plane, int64_t h, int64_t w, int64_t y, int64_t x) {
  if (x < 0 || y < 0 || x >= w || y >= h) return 0;
  return pn_tensor_get_f64(X, plane * h * w + y * w + x);
}

int pn_run_grid_sample(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                       struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0], *G = in[1];
  struct pn_tensor *Y = out[0];
  struct gs g;
  int rc = gs_attrs(a, &g);
  if (rc) return rc;
  if (X->ndim != 4 || G->ndim != 4 || G->dims[3] != 2 || G->dims[0] != X->dims[0] || Y->ndim != 4 ||
      Y->dims[2] != G->dims[1] || Y->dims[3] != G->dims[2])
    return pn_op_err(a, PN_ERR_INVALID, "X, grid and Y disagree on their shapes");
  int64_t n = X->dims[0], c = X->dims[1], h = X->dims[2], w = X->dims[3], oh = G->dims[1], ow = G->dims[2];
  for (int64_t b = 0; b < n; b++)
    for (int64_t q = 0; q < oh * ow; q++) {
      double gx = pn_tensor_get_f64(G, (b * oh * ow + q) * 2), gy = pn_tensor_get_f64(G, (b * oh * ow + q) * 2 + 1);
      double x = unnormalize(&g, gx, w), y = unnormalize(&g, gy, h);
      for (int64_t ch = 0; ch < c; ch++) {
        int64_t plane = b * c + ch;
        double v;
        if (g.mode == GS_BICUBIC) {
          double x0 = floor(x), y0 = floor(y), cx[4], cy[4];
          pn_cubic_coeffs(x - x0, -0.75, cx);
          pn_cubic_coeffs(y - y0, -0.75, cy);
          v = 0;
          for (int j = 0; j < 4; j++)
            for (int i = 0; i < 4; i++) {
              double tx = pad_coord(&g, x0 - 1 + i, w), ty = pad_coord(&g, y0 - 1 + j, h);
              v += cx[i] * cy[j] * px(X, plane, h, w, (int64_t)ty, (int64_t)tx);
            }
        } else {
          double xs = pad_coord(&g, x, w), ys = pad_coord(&g, y, h);
          if (g.mode == GS_NEAREST) {
            v = px(X, plane, h, w, (int64_t)nearbyint(ys), (int64_t)nearbyint(xs));
          } else {
            double x0 = floor(xs), y0 = floor(ys), fx = xs - x0, fy = ys - y0;
            int64_t ix = (int64_t)x0, iy = (int64_t)y0;
            v = (1 - fx) * (1 - fy) * px(X, plane, h, w, iy, ix) + fx * (1 - fy) * px(X, plane, h, w, iy, ix + 1) +
                (1 - fx) * fy * px(X, plane, h, w, iy + 1, ix) + fx * fy * px(X, plane, h, w, iy + 1, ix + 1);
          }
        }
        int64_t o = plane * oh * ow + q;
        if (Y->dtype == PN_DT_FLOAT) ((float *)Y->data)[o] = (float)v;
        else ((double *)Y->data)[o] = v;
      }
    }
  return PN_OK;
}
