/* k_im2col.c - sliding-window geometry (ONNX pads / auto_pad / ceil_mode), im2col, BLAS threads.
**
** im2col lays out, for one image, every (channel, kernel offset) pair as a row holding the input
** value seen at that offset by each output position, so a convolution becomes one GEMM. A call
** fills a range of output positions (columns), so threads can each unfold their own block; the
** innermost spatial dim is copied as one contiguous run (memcpy at stride 1) with zeros for the
** padding on either side. */
#include "graph/k_dense.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "util/status.h"

/* OpenBLAS (pthreads build) keeps one global thread count. Inside an OpenMP region every thread
** calls sgemm on its own block, so BLAS must run single-threaded meanwhile; the first caller in
** saves the count and the last one out restores it. */
static pthread_mutex_t blas_mu = PTHREAD_MUTEX_INITIALIZER;
static int blas_users, blas_saved;

void pn_blas_serial_begin(void) {
  pthread_mutex_lock(&blas_mu);
  if (blas_users++ == 0) {
    blas_saved = openblas_get_num_threads();
    if (blas_saved != 1) openblas_set_num_threads(1);
  }
  pthread_mutex_unlock(&blas_mu);
}

void pn_blas_serial_end(void) {
  pthread_mutex_lock(&blas_mu);
  if (--blas_users == 0 && blas_saved != 1) openblas_set_num_threads(blas_saved);
  pthread_mutex_unlock(&blas_mu);
}

#define WIN_MAX_VALUE ((int64_t)INT32_MAX) /* attribute values above this are rejected */

bool pn_dense_has_input(const struct pn_op_args *a, int n_in, int i) {
  return i < n_in && i < a->node->n_in && a->node->in[i] && a->node->in[i][0];
}

int pn_dense_check_dtype(const struct pn_op_args *a, const char *what, enum pn_dtype dt) {
  if (dt == PN_DT_FLOAT || dt == PN_DT_UNDEFINED) return PN_OK;
  return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s of %s (float32 only)",
                   pn_dtype_name(dt), what);
}

/* Read an optional INTS attribute of exactly n values, each in [lo, WIN_MAX_VALUE]. */
static int read_ints(const struct pn_op_args *a, const char *name, int n, int64_t lo,
                     int64_t *dst, bool *present) {
  int64_t cnt;
  const int64_t *v;
  int rc = pn_node_get_ints(a->ctx, a->node, name, &cnt, &v);
  if (rc) return rc;
  *present = cnt >= 0;
  if (cnt < 0) return PN_OK;
  if (cnt != n)
    return pn_op_err(a, PN_ERR_INVALID, "attribute '%s' has %lld values, expected %d", name,
                     (long long)cnt, n);
  for (int i = 0; i < n; i++) {
    if (v[i] < lo || v[i] > WIN_MAX_VALUE)
      return pn_op_err(a, PN_ERR_INVALID, "attribute '%s'[%d] = %lld out of range (%s)", name, i,
                       (long long)v[i], lo > 0 ? "must be positive" : "must be >= 0");
    dst[i] = v[i];
  }
  return PN_OK;
}

int pn_window_kernel(const struct pn_op_args *a, bool required, struct pn_window *w) {
  int64_t cnt;
  const int64_t *v;
  int rc = pn_node_get_ints(a->ctx, a->node, "kernel_shape", &cnt, &v);
  if (rc) return rc;
  if (cnt < 0) {
    if (required) return pn_op_err(a, PN_ERR_INVALID, "attribute 'kernel_shape' is required");
    return PN_OK;
  }
  if (cnt != w->nsp)
    return pn_op_err(a, PN_ERR_INVALID,
                     "attribute 'kernel_shape' has %lld dims but the input has %d spatial dims",
                     (long long)cnt, w->nsp);
  for (int i = 0; i < w->nsp; i++) {
    if (v[i] < 1 || v[i] > WIN_MAX_VALUE)
      return pn_op_err(a, PN_ERR_INVALID, "attribute 'kernel_shape'[%d] = %lld must be positive", i,
                       (long long)v[i]);
    if (w->k[i] >= 0 && w->k[i] != v[i])
      return pn_op_err(a, PN_ERR_INVALID, "attribute 'kernel_shape'[%d] = %lld but W has %lld", i,
                       (long long)v[i], (long long)w->k[i]);
    w->k[i] = v[i];
  }
  return PN_OK;
}

enum auto_pad { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };

int pn_window_init(const struct pn_op_args *a, enum pn_window_kind kind, bool has_dilations,
                   struct pn_window *w) {
  int nsp = w->nsp, rc;
  bool present;
  int64_t pads[2 * PN_MAX_DIMS];
  for (int i = 0; i < nsp; i++) {
    w->s[i] = 1;
    w->d[i] = 1;
    pads[i] = pads[nsp + i] = 0;
  }
  if ((rc = read_ints(a, "strides", nsp, 1, w->s, &present))) return rc;
  if (has_dilations && (rc = read_ints(a, "dilations", nsp, 1, w->d, &present))) return rc;
  if ((rc = read_ints(a, "pads", 2 * nsp, 0, pads, &present))) return rc;
  const char *ap;
  if ((rc = pn_node_get_string(a->ctx, a->node, "auto_pad", "NOTSET", &ap))) return rc;
  enum auto_pad mode;
  if (!strcmp(ap, "NOTSET") || !*ap) mode = PAD_NOTSET;
  else if (!strcmp(ap, "SAME_UPPER")) mode = PAD_SAME_UPPER;
  else if (!strcmp(ap, "SAME_LOWER")) mode = PAD_SAME_LOWER;
  else if (!strcmp(ap, "VALID")) mode = PAD_VALID;
  else return pn_op_err(a, PN_ERR_INVALID, "attribute 'auto_pad' has unknown value '%s'", ap);
  int64_t ceil_mode = 0;
  if (kind == PN_WIN_POOL) {
    if ((rc = pn_node_get_int(a->ctx, a->node, "ceil_mode", 0, &ceil_mode))) return rc;
    if (ceil_mode != 0 && ceil_mode != 1)
      return pn_op_err(a, PN_ERR_INVALID, "attribute 'ceil_mode' = %lld must be 0 or 1",
                       (long long)ceil_mode);
  }
  for (int i = 0; i < nsp; i++) {
    int64_t in = w->in[i], k = w->k[i], s = w->s[i];
    if (in > ((int64_t)1 << 48))
      return pn_op_err(a, PN_ERR_INVALID, "spatial dim %d of the input (%lld) is too large", i,
                       (long long)in);
    w->pb[i] = mode == PAD_NOTSET ? pads[i] : 0;
    w->pe[i] = mode == PAD_NOTSET ? pads[nsp + i] : 0;
    if (mode == PAD_SAME_UPPER || mode == PAD_SAME_LOWER) {
      if (in < 0) {
        w->out[i] = -1;
        w->pb[i] = w->pe[i] = -1;
        continue;
      }
      w->out[i] = (in + s - 1) / s;
      if (k < 0) {
        w->pb[i] = w->pe[i] = -1;
        continue;
      }
      int64_t ek = (k - 1) * w->d[i] + 1;
      int64_t total = (w->out[i] - 1) * s + ek - in;
      if (total < 0) total = 0;
      int64_t half = total / 2;
      w->pb[i] = mode == PAD_SAME_UPPER ? half : total - half;
      w->pe[i] = total - w->pb[i];
      continue;
    }
    if (in < 0 || k < 0) {
      w->out[i] = -1;
      continue;
    }
    int64_t ek = (k - 1) * w->d[i] + 1;
    int64_t span = in + w->pb[i] + w->pe[i];
    if (span < ek)
      return pn_op_err(a, PN_ERR_INVALID,
                       "spatial dim %d: input %lld (padded %lld) is smaller than the kernel "
                       "(kernel_shape %lld, dilation %lld)",
                       i, (long long)in, (long long)span, (long long)k, (long long)w->d[i]);
    if (ceil_mode && mode == PAD_NOTSET) {
      int64_t o = (span - ek + s - 1) / s + 1;
      if ((o - 1) * s >= in + w->pb[i]) o--;   /* the last window must start inside the input */
      w->out[i] = o;
    } else {
      w->out[i] = (span - ek) / s + 1;
    }
  }
  return PN_OK;
}

void pn_im2col(const float *x, int64_t c, const struct pn_window *w, float *col, int64_t ld,
               int64_t p0, int64_t p1) {
  int nsp = w->nsp, last = nsp - 1;
  int64_t kprod = 1, in_sz = 1;
  for (int i = 0; i < nsp; i++) {
    kprod *= w->k[i];
    in_sz *= w->in[i];
  }
  if (p0 >= p1 || c == 0) return;
  int64_t rows = c * kprod, ol = w->out[last], il = w->in[last], sl = w->s[last];
  int64_t q0 = p0 / ol, q1 = (p1 - 1) / ol;
  for (int64_t r = 0; r < rows; r++) {
    int64_t ch = r / kprod, kr = r % kprod, ko[PN_MAX_DIMS], oidx[PN_MAX_DIMS];
    for (int i = last; i >= 0; i--) {
      ko[i] = kr % w->k[i];
      kr /= w->k[i];
    }
    for (int64_t i = last - 1, q = q0; i >= 0; i--) {   /* outer output index of row q0 */
      oidx[i] = q % w->out[i];
      q /= w->out[i];
    }
    const float *xc = x + ch * in_sz;
    float *dst = col + r * ld;          /* dst[p - p0] holds output position p */
    int64_t offl = ko[last] * w->d[last] - w->pb[last];
    /* output positions ox whose input index ox*sl + offl lies in [0, il) */
    int64_t lo = offl >= 0 ? 0 : (-offl + sl - 1) / sl;
    int64_t hi = il - offl <= 0 ? 0 : (il - offl + sl - 1) / sl;
    if (hi > ol) hi = ol;
    if (lo > hi) lo = hi;
    for (int64_t q = q0; q <= q1; q++) {
      int64_t a = q * ol < p0 ? p0 - q * ol : 0, b = p1 - q * ol < ol ? p1 - q * ol : ol;
      int64_t base = q * ol - p0;          /* dst[base + ox] for ox in [a, b); base + a >= 0 */
      int64_t off = 0;
      bool valid = true;
      for (int i = 0; i < last; i++) {
        int64_t ii = oidx[i] * w->s[i] + ko[i] * w->d[i] - w->pb[i];
        if (ii < 0 || ii >= w->in[i]) {
          valid = false;
          break;
        }
        off = off * w->in[i] + ii;
      }
      int64_t vlo = lo > a ? lo : a, vhi = hi < b ? hi : b;
      if (!valid || vlo >= vhi) {
        memset(dst + base + a, 0, (size_t)(b - a) * sizeof *dst);
      } else {
        const float *xr = xc + off * il;
        if (vlo > a) memset(dst + base + a, 0, (size_t)(vlo - a) * sizeof *dst);
        if (sl == 1) {
          memcpy(dst + base + vlo, xr + vlo + offl, (size_t)(vhi - vlo) * sizeof *dst);
        } else {
          for (int64_t ox = vlo; ox < vhi; ox++) dst[base + ox] = xr[ox * sl + offl];
        }
        if (vhi < b) memset(dst + base + vhi, 0, (size_t)(b - vhi) * sizeof *dst);
      }
      for (int i = last - 1; i >= 0; i--) {
        if (++oidx[i] < w->out[i]) break;
        oidx[i] = 0;
      }
    }
  }
}
