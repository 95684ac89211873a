/* k_detect.c - NonMaxSuppression, the post-processing of exported detection models.
**
** Per image and class: boxes with a score above score_threshold (strictly), in decreasing score
** (equal scores: lower box index first), are kept greedily unless their IoU with a box already
** kept exceeds iou_threshold, up to max_output_boxes_per_class (0 = none kept). Boxes are corners
** [y1, x1, y2, x2] in either order (center_point_box = 0) or [x_center, y_center, width, height]
** (center_point_box = 1). The output [kept, 3] lists (image, class, box), image and class
** ascending, each class in selection order; its length depends on the values, so shape inference
** knows it only when boxes, scores and thresholds are known. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_xutil.h"

struct nms_in {
  const struct pn_tensor *boxes, *scores;
  int64_t max_out;
  double iou, score_thr;
  int64_t center;
};

static int nms_scalars(const struct pn_op_args *a, const struct pn_tensor *const *v, int n_in, struct nms_in *p) {
  int rc = pn_node_get_int(a->ctx, a->node, "center_point_box", 0, &p->center);
  if (rc) return rc;
  if (p->center != 0 && p->center != 1)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'center_point_box' = %lld must be 0 or 1", (long long)p->center);
  p->max_out = 0;
  p->iou = 0;
  p->score_thr = -INFINITY;
  if (pn_has_in(a, n_in, 2) && v[2]) {
    if (pn_tensor_numel(v[2]) != 1 || v[2]->dtype != PN_DT_INT64)
      return pn_op_err(a, PN_ERR_INVALID, "input 'max_output_boxes_per_class' must be one int64");
    p->max_out = pn_tensor_get_i64(v[2], 0);
  }
  if (pn_has_in(a, n_in, 3) && v[3]) {
    if (pn_tensor_numel(v[3]) != 1) return pn_op_err(a, PN_ERR_INVALID, "input 'iou_threshold' must be one value");
    p->iou = pn_tensor_get_f64(v[3], 0);
    if (!(p->iou >= 0 && p->iou <= 1))
      return pn_op_err(a, PN_ERR_INVALID, "input 'iou_threshold' = %g is outside [0, 1]", p->iou);
  }
  if (pn_has_in(a, n_in, 4) && v[4]) {
    if (pn_tensor_numel(v[4]) != 1) return pn_op_err(a, PN_ERR_INVALID, "input 'score_threshold' must be one value");
    p->score_thr = pn_tensor_get_f64(v[4], 0);
  }
  if (p->max_out < 0) p->max_out = 0;
  return PN_OK;
}

struct box {
  double y1, x1, y2, x2;
};

static struct box box_at(const struct nms_in *p, int64_t b, int64_t i, int64_t n) {
  const struct pn_tensor *t = p->boxes;
  double v[4];
  for (int k = 0; k < 4; k++) v[k] = pn_tensor_get_f64(t, (b * n + i) * 4 + k);
  struct box r;
  if (p->center) {
    r.x1 = v[0] - v[2] / 2, r.x2 = v[0] + v[2] / 2, r.y1 = v[1] - v[3] / 2, r.y2 = v[1] + v[3] / 2;
  } else {
    r.y1 = fmin(v[0], v[2]), r.y2 = fmax(v[0], v[2]), r.x1 = fmin(v[1], v[3]), r.x2 = fmax(v[1], v[3]);
  }
  return r;
}

static bool overlaps(const struct box *a, const struct box *b, double thr) {
  double ih = fmin(a->y2, b->y2) - fmax(a->y1, b->y1), iw = fmin(a->x2, b->x2) - fmax(a->x1, b->x1);
  if (ih <= 0 || iw <= 0) return false;
  double inter = ih * iw, area_a = (a->y2 - a->y1) * (a->x2 - a->x1), area_b = (b->y2 - b->y1) * (b->x2 - b->x1);
  double uni = area_a + area_b - inter;
  return uni > 0 && inter / uni > thr;
}

static _Thread_local const double *nms_score;
static int by_score(const void *pa, const void *pb) {
  int64_t i = *(const int64_t *)pa, j = *(const int64_t *)pb;
  if (nms_score[i] != nms_score[j]) return nms_score[i] > nms_score[j] ? -1 : 1;
  return i < j ? -1 : i > j;
}

/* The selection; out (when not NULL) receives 3 int64 per kept box. Returns the count, or -1 when
** out of memory. */
static int64_t nms(const struct nms_in *p, int64_t *out) {
  const struct pn_tensor *S = p->scores;
  int64_t nb = S->dims[0], nc = S->dims[1], n = S->dims[2], kept = 0;
  double *sc = malloc((size_t)(n + 1) * sizeof *sc);
  int64_t *ord = malloc((size_t)(n + 1) * sizeof *ord), *sel = malloc((size_t)(n + 1) * sizeof *sel);
  struct box *bx = malloc((size_t)(n + 1) * sizeof *bx);
  if (!sc || !ord || !sel || !bx) {
    free(sc), free(ord), free(sel), free(bx);
    return -1;
  }
  for (int64_t b = 0; b < nb; b++) {
    for (int64_t i = 0; i < n; i++) bx[i] = box_at(p, b, i, n);
    for (int64_t c = 0; c < nc; c++) {
      int64_t m = 0, ns = 0;
      for (int64_t i = 0; i < n; i++) {
        sc[i] = pn_tensor_get_f64(S, (b * nc + c) * n + i);
        if (sc[i] > p->score_thr) ord[m++] = i;
      }
      nms_score = sc;
      qsort(ord, (size_t)m, sizeof *ord, by_score);
      for (int64_t k = 0; k < m && ns < p->max_out; k++) {
        bool keep = true;
        for (int64_t j = 0; j < ns && keep; j++) keep = !overlaps(&bx[ord[k]], &bx[sel[j]], p->iou);
        if (!keep) continue;
        sel[ns++] = ord[k];
        if (out) {
          out[3 * kept] = b;
          out[3 * kept + 1] = c;
          out[3 * kept + 2] = ord[k];
        }
        kept++;
      }
    }
  }
  free(sc), free(ord), free(sel), free(bx);
  return kept;
}

static int nms_check(const struct pn_op_args *a, const struct pn_shape *in) {
  int rc;
  if ((rc = pn_check_dtype(a, "boxes", in[0].dtype, PN_DT_FLOATS)) ||
      (rc = pn_check_dtype(a, "scores", in[1].dtype, PN_DT_FLOATS)))
    return rc;
  if (in[0].ndim >= 0 && (in[0].ndim != 3 || (in[0].dims[2] >= 0 && in[0].dims[2] != 4)))
    return pn_op_err(a, PN_ERR_INVALID, "boxes must be [batch, boxes, 4]");
  if (in[1].ndim >= 0 && in[1].ndim != 3) return pn_op_err(a, PN_ERR_INVALID, "scores must be [batch, classes, boxes]");
  if (in[0].ndim == 3 && in[1].ndim == 3)
    for (int k = 0; k < 2; k++) {
      int64_t x = in[0].dims[k ? 1 : 0], y = in[1].dims[k ? 2 : 0];
      if (x >= 0 && y >= 0 && x != y)
        return pn_op_err(a, PN_ERR_INVALID, "boxes and scores disagree on the %s", k ? "box count" : "batch");
    }
  return PN_OK;
}

int pn_infer_non_max_suppression(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                                 struct pn_shape *out, int n_out) {
  int rc = nms_check(a, in);
  if (rc) return rc;
  int64_t d[2] = {-1, 3};
  bool known = in[0].value && in[1].value;
  for (int i = 2; i < n_in && known; i++) known = !pn_has_in(a, n_in, i) || in[i].value;
  if (known) {
    const struct pn_tensor *v[5] = {in[0].value, in[1].value, NULL, NULL, NULL};
    for (int i = 2; i < n_in && i < 5; i++) v[i] = in[i].value;
    struct nms_in p;
    if ((rc = nms_scalars(a, v, n_in, &p))) return rc;
    p.boxes = v[0];
    p.scores = v[1];
    if ((d[0] = nms(&p, NULL)) < 0) return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  }
  pn_shape_set(out, PN_DT_INT64, 2, d);
  return PN_OK;
}

int pn_run_non_max_suppression(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                               struct pn_tensor *const *out, int n_out) {
  struct pn_shape sh[5] = {0};
  int nin = n_in < 5 ? n_in : 5, rc;
  pn_shapes_of(in, nin, sh);
  if ((rc = nms_check(a, sh))) return rc;
  struct nms_in p;
  if ((rc = nms_scalars(a, in, nin, &p))) return rc;
  p.boxes = in[0];
  p.scores = in[1];
  int64_t k = nms(&p, NULL);
  if (k < 0) return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  if (out[0]->ndim != 2 || out[0]->dims[0] != k || out[0]->dims[1] != 3)
    return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  if (nms(&p, out[0]->data) < 0) return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  return PN_OK;
}
