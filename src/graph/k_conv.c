/* k_conv.c - ONNX Conv (opsets 1 and 11): N-D, groups, dilations, strides, pads, auto_pad, bias.
**
** Per (image, group) the input is unfolded by im2col and multiplied by the group's filters with
** one GEMM (M/group x C/group*prod(kernel) times that x prod(out)); 1x1 stride-1 unpadded
** convolutions use the input directly; 2-D depthwise ones run as direct loops. Large
** convolutions are cut into chunks shared among OpenMP threads (blocks of output positions, or
** of filters when the output is narrow); each chunk unfolds its own block and multiplies it
** with a single-threaded cblas_sgemm. OpenBLAS's own
** threads are switched off meanwhile, so the two thread pools never oversubscribe the cores,
** and the chunks share no buffer, so there is no barrier but the loop's end. */
#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>

#include "graph/k_dense.h"
#include "graph/kernels.h"
#include "util/status.h"

struct conv_geo {
  int ndim;                    /* output rank, -1 unknown */
  int64_t n, c, m, group;      /* -1 unknown */
  struct pn_window w;
};

/* Shape checks shared by infer and run. xs/ws/bs: X, W and (optional, ndim -1 or NULL) B. */
static int conv_setup(const struct pn_op_args *a, const struct pn_shape *xs,
                      const struct pn_shape *ws, const struct pn_shape *bs, struct conv_geo *g) {
  int rc;
  if ((rc = pn_node_get_int(a->ctx, a->node, "group", 1, &g->group))) return rc;
  if (g->group < 1 || g->group > INT32_MAX)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'group' = %lld must be positive",
                     (long long)g->group);
  if (xs->ndim >= 0 && xs->ndim < 3)
    return pn_op_err(a, PN_ERR_INVALID, "input X has rank %d, expected N x C x spatial (>= 3)",
                     xs->ndim);
  if (ws->ndim >= 0 && ws->ndim < 3)
    return pn_op_err(a, PN_ERR_INVALID, "input W has rank %d, expected M x C/group x kernel (>= 3)",
                     ws->ndim);
  if (xs->ndim >= 0 && ws->ndim >= 0 && xs->ndim != ws->ndim)
    return pn_op_err(a, PN_ERR_INVALID, "input X has rank %d but W has rank %d", xs->ndim,
                     ws->ndim);
  int rank = xs->ndim >= 0 ? xs->ndim : ws->ndim;
  if (rank < 0) {               /* rank from kernel_shape, if given */
    int64_t cnt;
    const int64_t *v;
    if ((rc = pn_node_get_ints(a->ctx, a->node, "kernel_shape", &cnt, &v))) return rc;
    if (cnt >= 1 && cnt <= PN_MAX_DIMS - 2) rank = (int)cnt + 2;
  }
  g->ndim = rank;
  g->n = xs->ndim >= 0 ? xs->dims[0] : -1;
  g->c = xs->ndim >= 0 ? xs->dims[1] : -1;
  g->m = ws->ndim >= 0 ? ws->dims[0] : -1;
  int64_t wc = ws->ndim >= 0 ? ws->dims[1] : -1;
  if (g->c >= 0 && wc >= 0 && g->c != wc * g->group)
    return pn_op_err(a, PN_ERR_INVALID,
                     "channel mismatch: X has C = %lld but W has %lld channels x group %lld",
                     (long long)g->c, (long long)wc, (long long)g->group);
  if (g->c >= 0 && g->c % g->group)
    return pn_op_err(a, PN_ERR_INVALID, "X has C = %lld channels, not divisible by group %lld",
                     (long long)g->c, (long long)g->group);
  if (g->m >= 0 && g->m % g->group)
    return pn_op_err(a, PN_ERR_INVALID, "W has M = %lld filters, not divisible by group %lld",
                     (long long)g->m, (long long)g->group);
  if (bs && bs->ndim >= 0) {
    if (bs->ndim != 1)
      return pn_op_err(a, PN_ERR_INVALID, "input B has rank %d, expected 1", bs->ndim);
    if (g->m >= 0 && bs->dims[0] >= 0 && bs->dims[0] != g->m)
      return pn_op_err(a, PN_ERR_INVALID, "input B has %lld values but W has M = %lld filters",
                       (long long)bs->dims[0], (long long)g->m);
  }
  if (rank < 0) return PN_OK;
  if (rank > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "rank %d too large", rank);
  g->w.nsp = rank - 2;
  for (int i = 0; i < g->w.nsp; i++) {
    g->w.in[i] = xs->ndim >= 0 ? xs->dims[2 + i] : -1;
    g->w.k[i] = ws->ndim >= 0 ? ws->dims[2 + i] : -1;
  }
  if ((rc = pn_window_kernel(a, false, &g->w))) return rc;
  return pn_window_init(a, PN_WIN_CONV, true, &g->w);
}

struct conv_job {
  const float *x, *w;
  float *y, *col;                     /* col: nchunk private im2col buffers of col_sz floats */
  const struct pn_window *win;
  bool direct;                        /* 1x1 stride-1 unpadded: X is its own im2col */
  bool split_cols;                    /* chunks are blocks of output positions, else of filters */
  int64_t n, c, m, group, cg, mg, ck, pin, pout, nchunk, per, col_sz;
};

/* Chunk `ch` of the convolution, for every (image, group): Y_g (mg x pout) = W_g (mg x ck) *
** im2col (ck x pout). A column chunk unfolds and multiplies only its block of output positions;
** a filter chunk (outputs too narrow to split) unfolds the whole image into its own buffer and
** multiplies its block of filters. Chunks share nothing, so threads need no barrier. */
static void conv_chunk(const struct conv_job *j, int64_t ch) {
  int64_t total = j->split_cols ? j->pout : j->mg;
  int64_t lo = ch * j->per, hi = lo + j->per > total ? total : lo + j->per;
  if (lo >= hi) return;
  float *col = j->col ? j->col + ch * j->col_sz : NULL;
  for (int64_t n = 0; n < j->n; n++) {
    for (int64_t gi = 0; gi < j->group; gi++) {
      const float *xg = j->x + (n * j->c + gi * j->cg) * j->pin;
      const float *wg = j->w + gi * j->mg * j->ck;
      float *yg = j->y + (n * j->m + gi * j->mg) * j->pout;
      if (j->split_cols) {
        const float *src = xg + lo;
        int ld = (int)j->pout;
        if (!j->direct) {
          pn_im2col(xg, j->cg, j->win, col, hi - lo, lo, hi);
          src = col;
          ld = (int)(hi - lo);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)j->mg, (int)(hi - lo),
                    (int)j->ck, 1.0f, wg, (int)j->ck, src, ld, 0.0f, yg + lo, (int)j->pout);
      } else {
        const float *src = xg;
        if (!j->direct) {
          pn_im2col(xg, j->cg, j->win, col, j->pout, 0, j->pout);
          src = col;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo), (int)j->pout,
                    (int)j->ck, 1.0f, wg + lo * j->ck, (int)j->ck, src, (int)j->pout, 0.0f,
                    yg + lo * j->pout, (int)j->pout);
      }
    }
  }
}

/* Depthwise 2-D convolution (one input channel per group, any channel multiplier): direct loops,
** output rows accumulated kernel tap by tap so the inner loop runs over contiguous outputs.
** Planes (image, output channel) in parallel. Kernel widths above 64 use the GEMM path. */
static void conv_depthwise2d(const float *x, const float *w, float *y, int64_t n, int64_t c,
                             int64_t m, const struct pn_window *win) {
  int64_t mult = m / c, ih = win->in[0], iw = win->in[1], oh = win->out[0], ow = win->out[1];
  int64_t kh = win->k[0], kw = win->k[1], sy = win->s[0], sx = win->s[1];
  int64_t dy = win->d[0], dx = win->d[1], pt = win->pb[0], pl = win->pb[1];
  int64_t lo[64], hi[64];
  for (int64_t kx = 0; kx < kw; kx++) {   /* outputs ox with 0 <= ox*sx + kx*dx - pl < iw */
    int64_t off = kx * dx - pl;
    lo[kx] = off >= 0 ? 0 : (-off + sx - 1) / sx;
    hi[kx] = iw - off <= 0 ? 0 : (iw - off + sx - 1) / sx;
    if (hi[kx] > ow) hi[kx] = ow;
    if (lo[kx] > hi[kx]) lo[kx] = hi[kx];
  }
  int64_t planes = n * m;
#pragma omp parallel for schedule(static) if (planes * oh * ow * kh * kw > 200000)
  for (int64_t pl_i = 0; pl_i < planes; pl_i++) {
    int64_t b = pl_i / m, oc = pl_i % m;
    const float *xp = x + (b * c + oc / mult) * ih * iw, *wp = w + oc * kh * kw;
    float *yp = y + pl_i * oh * ow;
    for (int64_t oy = 0; oy < oh; oy++) {
      float *yr = yp + oy * ow;
      for (int64_t ox = 0; ox < ow; ox++) yr[ox] = 0;
      for (int64_t ky = 0; ky < kh; ky++) {
        int64_t iy = oy * sy - pt + ky * dy;
        if (iy < 0 || iy >= ih) continue;
        const float *xr = xp + iy * iw;
        for (int64_t kx = 0; kx < kw; kx++) {
          float wv = wp[ky * kw + kx];
          int64_t off = kx * dx - pl;
          if (sx == 1) {
            for (int64_t ox = lo[kx]; ox < hi[kx]; ox++) yr[ox] += wv * xr[ox + off];
          } else {
            for (int64_t ox = lo[kx]; ox < hi[kx]; ox++) yr[ox] += wv * xr[ox * sx + off];
          }
        }
      }
    }
  }
}

int pn_infer_conv(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                  struct pn_shape *out, int n_out) {
  int rc;
  enum pn_dtype dt = in[0].dtype != PN_DT_UNDEFINED ? in[0].dtype : in[1].dtype;
  if ((rc = pn_dense_check_dtype(a, "X", in[0].dtype)) ||
      (rc = pn_dense_check_dtype(a, "W", in[1].dtype)))
    return rc;
  const struct pn_shape *bs = pn_dense_has_input(a, n_in, 2) ? &in[2] : NULL;
  if (bs && (rc = pn_dense_check_dtype(a, "B", bs->dtype))) return rc;
  struct conv_geo g;
  if ((rc = conv_setup(a, &in[0], &in[1], bs, &g))) return rc;
  if (g.ndim < 0) {
    pn_shape_set(&out[0], dt, -1, NULL);
    return PN_OK;
  }
  int64_t dims[PN_MAX_DIMS];
  dims[0] = g.n;
  dims[1] = g.m;
  for (int i = 0; i < g.w.nsp; i++) dims[2 + i] = g.w.out[i];
  pn_shape_set(&out[0], dt, g.ndim, dims);
  return PN_OK;
}

static void shape_of(const struct pn_tensor *t, struct pn_shape *s) {
  if (!t) {
    pn_shape_set(s, PN_DT_UNDEFINED, -1, NULL);
    return;
  }
  pn_shape_set(s, t->dtype, t->ndim, t->dims);
}

int pn_run_conv(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *x = in[0], *wt = in[1], *b = n_in > 2 ? in[2] : NULL;
  struct pn_tensor *y = out[0];
  if (!x || !wt || !y) return pn_op_err(a, PN_ERR_INVALID, "missing input X or W");
  if (x->dtype != PN_DT_FLOAT || wt->dtype != PN_DT_FLOAT || (b && b->dtype != PN_DT_FLOAT) ||
      y->dtype != PN_DT_FLOAT)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "dtype %s not supported (float32 only)",
                     pn_dtype_name(x->dtype != PN_DT_FLOAT ? x->dtype : wt->dtype));
  struct pn_shape xs, ws, bs;
  shape_of(x, &xs);
  shape_of(wt, &ws);
  shape_of(b, &bs);
  struct conv_geo g;
  int rc = conv_setup(a, &xs, &ws, &bs, &g);
  if (rc) return rc;
  const struct pn_window *w = &g.w;
  bool ok = y->ndim == g.ndim && y->dims[0] == g.n && y->dims[1] == g.m;
  for (int i = 0; ok && i < w->nsp; i++) ok = y->dims[2 + i] == w->out[i];
  if (!ok) return pn_op_err(a, PN_ERR_INVALID, "output Y has the wrong shape");

  int64_t cg = g.c / g.group, mg = g.m / g.group, kp = 1, pin = 1, pout = 1;
  bool direct = true;
  for (int i = 0; i < w->nsp; i++) {
    kp *= w->k[i];
    pin *= w->in[i];
    pout *= w->out[i];
    if (w->k[i] != 1 || w->s[i] != 1 || w->pb[i] || w->pe[i]) direct = false;
  }
  int64_t ck = cg * kp;
  const float *xp = x->data, *wp = wt->data, *bp = b ? b->data : NULL;
  float *yp = y->data;
  int64_t ny = g.n * g.m;
  if (pout == 0 || ny == 0) return PN_OK;
  if (mg > INT_MAX || pout > INT_MAX || ck > INT_MAX)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "GEMM dimensions exceed the BLAS int range");
  if (ck == 0) {
    for (int64_t i = 0; i < ny * pout; i++) yp[i] = 0;
  } else if (cg == 1 && g.group > 1 && w->nsp == 2 && w->k[1] <= 64) {
    conv_depthwise2d(xp, wp, yp, g.n, g.c, g.m, w);
  } else {
    /* Threads (OpenMP) for convolutions worth it, each chunk on a single-threaded sgemm;
    ** small ones run as one chunk with OpenBLAS's default threading. */
    int threads = omp_get_max_threads();
    double flops = (double)mg * (double)ck * (double)pout * (double)(g.n * g.group);
    if (threads < 1 || flops < 4e6) threads = 1;
    struct conv_job job = {xp, wp, yp, NULL, w, direct, true, g.n, g.c, g.m, g.group,
                           cg, mg, ck, pin, pout, 1, pout, 0};
    if (threads > 1) {
      /* Column blocks of >= 64 positions, up to 4 per thread so that a thread the OS preempts
      ** holds back little; filter blocks (narrow outputs) one per thread, as each unfolds the
      ** whole image. */
      job.split_cols = pout >= 32 * threads || mg < threads;
      int64_t nchunk = threads;
      if (job.split_cols && pout / 64 > threads)
        nchunk = pout / 64 < 4 * threads ? pout / 64 : 4 * threads;
      int64_t total = job.split_cols ? pout : mg, align = job.split_cols ? 16 : 1;
      job.per = ((total + nchunk - 1) / nchunk + align - 1) / align * align;
      job.nchunk = (total + job.per - 1) / job.per;
    }
    if (!direct) {
      job.col_sz = ck * (job.split_cols ? job.per : pout);
      if ((uint64_t)job.col_sz * (uint64_t)job.nchunk > SIZE_MAX / sizeof(float) / 2)
        return pn_op_err(a, PN_ERR_NOMEM, "im2col buffer too large");
      job.col = malloc((size_t)job.col_sz * (size_t)job.nchunk * sizeof *job.col);
      if (!job.col)
        return pn_op_err(a, PN_ERR_NOMEM, "out of memory for the im2col buffer (%lld floats)",
                         (long long)(job.col_sz * job.nchunk));
    }
    if (threads > 1) {
      pn_blas_serial_begin();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
      for (int64_t ch = 0; ch < job.nchunk; ch++) conv_chunk(&job, ch);
      pn_blas_serial_end();
    } else {
      conv_chunk(&job, 0);
    }
    float *col = job.col;
    free(col);
  }
  if (bp) {
#pragma omp parallel for schedule(static) if (ny * pout > 65536)
    for (int64_t r = 0; r < ny; r++) {
      float bv = bp[r % g.m], *yr = yp + r * pout;
      for (int64_t p = 0; p < pout; p++) yr[p] += bv;
    }
  }
  return PN_OK;
}
