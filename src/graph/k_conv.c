/* k_conv.c - ONNX Conv (opsets 1 and 11): N-D, groups, dilations, strides, pads, auto_pad, bias.
**
** Per (image, group) the input is unfolded by im2col and multiplied by the group's filters with
** one GEMM (M/group x C/group*prod(kernel) times that x prod(out)); 1x1 stride-1 unpadded
** convolutions use the input directly; 2-D depthwise ones run as direct loops. Outputs with at
** most SKINNY_MAX_POUT positions (small images deep in a network) skip sgemm, whose per-call
** packing of the filters costs more than the product there: each output is a dot product of a
** filter row with a transposed column of the unfolded input, and with a per-node cache (the
** executor's, for constant weights) the filters are restricted once to the kernel taps that ever
** see the input (a padded 3x3 convolution on a 1x1 image reads only its centre tap).
** Convolutions worth it are cut into chunks run by pn_par_for (k_par.c): blocks of output
** positions, or of filters when the output is narrow; each chunk unfolds its own block and
** multiplies it with a single-threaded cblas_sgemm (OpenBLAS's own threads are switched off, so
** the two never oversubscribe the cores). Bias and a fused activation (the executor's Conv+Relu
** and Conv+Clip fusions) are applied per block right after its GEMM, while it is in cache. With
** a cache (constant weights in the fused executor): 3x3 stride-1 convolutions over enough output
** tiles run by Winograd's F(2x2, 3x3) (k_winograd.c); other group-1 ones with more than
** SKINNY_MAX_POUT outputs by k_gemm.c's GEMM, filters packed once into the cache, the input
** packed straight into its blocks (no im2col buffer; 1x1 stride-1 ones multiply the input
** itself); 3x3 depthwise ones by dw3x3_cblock512 (AVX-512, maps up to 28x28: 16 channels in the
** lanes), dw3x3_plane512 (AVX-512) or dw3x3_plane; 2-D ones with at most 16 output positions of
** one image (or of a few) by conv_tiny (AVX-512: the filters in the lanes, the padding skipped,
** before the skinny path). Without a cache (the
** executor's no_fuse reference) the plain paths above run, so the differential tester compares
** the two. */
#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_dense.h"
#include "graph/kernels.h"
#include "util/cpu.h"
#include "util/status.h"
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

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
  const float *x, *w, *bias;          /* bias: M values or NULL */
  struct pn_act act;                  /* epilogue: after the bias */
  float *y, *col;                     /* col: nchunk private im2col buffers of col_sz floats */
  const struct pn_window *win;
  bool direct;                        /* 1x1 stride-1 unpadded: X is its own im2col */
  bool split_cols;                    /* chunks are blocks of output positions, else of filters */
  int64_t n, c, m, group, cg, mg, ck, pin, pout, nchunk, per, col_sz;
};

/* Bias and activation epilogue on rows [m0, m1) x columns [p0, p1) of one output image, applied
** right after the GEMM that wrote the block, while it is still in cache. */
PN_TARGET_CLONES static void conv_epilogue(float *y, int64_t ld, const float *bias,
                                           struct pn_act act, int64_t m0, int64_t m1, int64_t p0,
                                           int64_t p1) {
  if (!bias && act.kind == PN_ACT_NONE) return;
  for (int64_t r = m0; r < m1; r++) {
    float bv = bias ? bias[r] : 0.0f, *yr = y + r * ld;
    if (act.kind == PN_ACT_RELU) {
      for (int64_t p = p0; p < p1; p++) {
        float v = yr[p] + bv;
        yr[p] = v > 0 ? v : 0;
      }
    } else if (act.kind == PN_ACT_CLIP) {
      for (int64_t p = p0; p < p1; p++) {
        float v = yr[p] + bv;
        v = v < act.lo ? act.lo : v;
        yr[p] = v > act.hi ? act.hi : v;
      }
    } else {
      for (int64_t p = p0; p < p1; p++) yr[p] += bv;
    }
  }
}

/* Chunk `ch` of the convolution, for every (image, group): Y_g (mg x pout) = W_g (mg x ck) *
** im2col (ck x pout). A column chunk unfolds and multiplies only its block of output positions;
** a filter chunk (outputs too narrow to split) unfolds the whole image into its own buffer and
** multiplies its block of filters. Chunks share nothing, so threads need no barrier. */
static void conv_chunk(void *arg, int64_t ch) {
  const struct conv_job *j = arg;
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
        conv_epilogue(yg, j->pout, j->bias ? j->bias + gi * j->mg : NULL, j->act, 0, j->mg, lo,
                      hi);
      } else {
        const float *src = xg;
        if (!j->direct) {
          pn_im2col(xg, j->cg, j->win, col, j->pout, 0, j->pout);
          src = col;
        }
        if (j->pout == 1)   /* one output position: a matrix-vector product, W read once */
          cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(hi - lo), (int)j->ck, 1.0f,
                      wg + lo * j->ck, (int)j->ck, src, 1, 0.0f, yg + lo, 1);
        else
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo), (int)j->pout,
                      (int)j->ck, 1.0f, wg + lo * j->ck, (int)j->ck, src, (int)j->pout, 0.0f,
                      yg + lo * j->pout, (int)j->pout);
        conv_epilogue(yg, j->pout, j->bias ? j->bias + gi * j->mg : NULL, j->act, lo, hi, 0,
                      j->pout);
      }
    }
  }
}

/* Depthwise 2-D convolution (one input channel per group, any channel multiplier): direct loops,
** output rows accumulated kernel tap by tap so the inner loop runs over contiguous outputs.
** Planes (image, output channel) in parallel. Kernel widths above 64 use the GEMM path. Built for
** AVX-512, AVX2 and baseline x86-64, chosen at load (PN_TARGET_CLONES): each output is the same
** sequence of multiply-adds in every clone, so the results do not depend on the CPU. */
struct dw_job {
  const float *x, *w, *bias;
  struct pn_act act;
  bool fast;                          /* fast: dw3x3_plane where it fits */
  float *y;
  int64_t n, c, m, per;
  const struct pn_window *win;
};

/* 3x3 depthwise planes (dilation 1, horizontal stride 1 or 2, pads up to 2 on each side): the
** input plane is copied once into zero-padded rows (for stride 2 split into even and odd
** columns), so that each output row is one loop of 9 multiply-adds over contiguous vectors,
** with no bounds checks and the output written once (the generic loop above reads and writes
** it once per tap: 39% of mobilenetv2/224 at one thread went there). The taps are added in the
** same order as the generic loop, from 0. */
static bool dw3x3_fits(const struct pn_window *w) {
  return w->k[0] == 3 && w->k[1] == 3 && w->d[0] == 1 && w->d[1] == 1 &&
         (w->s[1] == 1 || w->s[1] == 2) && w->pb[1] <= 2 && w->pe[1] <= 2;
}

/* floats of scratch dw3x3_plane needs */
/* Row geometry of dw3x3_plane: outputs computed per row, rounded up to whole vectors (owp), so
** that narrow rows (7 and 14 wide in mobilenetv2) run vectorised too; padded rows of rw floats,
** for stride 2 split at half. */
struct dw3x3_geo {
  int64_t owp, rw, half;
};

static struct dw3x3_geo dw3x3_geometry(const struct pn_window *w) {
  struct dw3x3_geo g;
  g.owp = (w->out[1] + 15) / 16 * 16;
  int64_t pw = w->in[1] + w->pb[1] + w->pe[1] + 2, need = g.owp * w->s[1] + 2;
  g.rw = (pw > need ? pw : need) + 2;
  g.rw += g.rw & 1;
  g.half = g.rw / 2;
  return g;
}

/* floats of scratch dw3x3_plane needs: the padded plane, a zero row, a row to split, the output
** row */
static int64_t dw3x3_scratch(const struct pn_window *w) {
  return (w->in[0] + 3) * dw3x3_geometry(w).rw;
}

PN_TARGET_CLONES static void dw3x3_plane(const float *xp, const float *wp, float bias,
                                         struct pn_act act, float *yp,
                                         const struct pn_window *win, float *pad) {
  int64_t ih = win->in[0], iw = win->in[1], oh = win->out[0], ow = win->out[1];
  int64_t sy = win->s[0], sx = win->s[1], pt = win->pb[0], pl = win->pb[1];
  struct dw3x3_geo g = dw3x3_geometry(win);
  int64_t rw = g.rw, half = g.half, owp = g.owp;
  float *zero = pad + ih * rw, *tmp = zero + rw, *out = tmp + rw;
  for (int64_t k = 0; k < rw; k++) zero[k] = 0.0f;
  for (int64_t iy = 0; iy < ih; iy++) {
    float *r = sx == 1 ? pad + iy * rw : tmp;
    for (int64_t k = 0; k < pl; k++) r[k] = 0.0f;
    memcpy(r + pl, xp + iy * iw, (size_t)iw * sizeof *r);
    for (int64_t k = pl + iw; k < rw; k++) r[k] = 0.0f;
    if (sx == 2) {   /* even padded columns at [0, half), odd ones at [half, 2 half) */
      float *e = pad + iy * rw, *o = e + half;
      for (int64_t k = 0; k < half; k++) {
        e[k] = tmp[2 * k];
        o[k] = tmp[2 * k + 1];
      }
    }
  }
  float w0 = wp[0], w1 = wp[1], w2 = wp[2], w3 = wp[3], w4 = wp[4], w5 = wp[5], w6 = wp[6],
        w7 = wp[7], w8 = wp[8];
  for (int64_t oy = 0; oy < oh; oy++) {
    const float *rows[3];
    for (int ky = 0; ky < 3; ky++) {
      int64_t iy = oy * sy - pt + ky;
      rows[ky] = iy >= 0 && iy < ih ? pad + iy * rw : zero;
    }
    const float *a = rows[0], *b = rows[1], *c = rows[2];
    /* Columns past ow read padding and are dropped: written straight into the plane when the
    ** rows below (written later, by this call) absorb them, else into out and copied. */
    float *dst = (oh - 1 - oy) * ow >= owp - ow ? yp + oy * ow : out;
    if (sx == 1) {
      for (int64_t ox = 0; ox < owp; ox++) {
        float v = 0.0f;
        v += w0 * a[ox];
        v += w1 * a[ox + 1];
        v += w2 * a[ox + 2];
        v += w3 * b[ox];
        v += w4 * b[ox + 1];
        v += w5 * b[ox + 2];
        v += w6 * c[ox];
        v += w7 * c[ox + 1];
        v += w8 * c[ox + 2];
        dst[ox] = pn_act_apply(act, v + bias);
      }
    } else {
      const float *ao = a + half, *bo = b + half, *co = c + half;
      for (int64_t ox = 0; ox < owp; ox++) {
        float v = 0.0f;
        v += w0 * a[ox];
        v += w1 * ao[ox];
        v += w2 * a[ox + 1];
        v += w3 * b[ox];
        v += w4 * bo[ox];
        v += w5 * b[ox + 1];
        v += w6 * c[ox];
        v += w7 * co[ox];
        v += w8 * c[ox + 1];
        dst[ox] = pn_act_apply(act, v + bias);
      }
    }
    if (dst == out) memcpy(yp + oy * ow, out, (size_t)ow * sizeof *out);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DW_X86 1
/* Mask of the lanes of 16 columns [q0, q0 + 16) that lie in a row iw wide. */
static inline __mmask16 dw_mask(int64_t iw, int64_t q0) {
  int64_t lo = q0 < 0 ? -q0 : 0, hi = iw - q0 < 16 ? iw - q0 : 16;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* Columns q0 + [0, 16) of row r under mask m (0 elsewhere). The address is formed as an integer:
** lanes outside the row are masked off and never read. */
#define DW_LOAD(m, r, q0) \
  _mm512_maskz_loadu_ps((m), (const float *)((uintptr_t)(r) + (uintptr_t)((q0) * 4)))

/* The fused activation of 16 outputs, as pn_act_apply computes it (NaN included). */
__attribute__((target("avx512f"))) static inline __m512 dw_act(__m512 v, struct pn_act act,
                                                               __m512 lo, __m512 hi) {
  if (act.kind == PN_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());   /* v > 0 ? v : 0 */
  if (act.kind == PN_ACT_CLIP) return _mm512_min_ps(hi, _mm512_max_ps(lo, v)); /* lo, then hi */
  return v;
}

/* Widest output row dw3x3_plane512 takes (its per-block masks are on the stack). */
#define DW512_MAX_OW 1024

/* dw3x3_plane with AVX-512, 16 outputs of a row a step, straight from the input: the taps come
** from masked loads (0 in the padding; for stride 2 the even and odd columns from two-register
** permutes), so there is no padded copy of the plane and no tail loop, and any pads and vertical
** stride are taken. The load masks of each block of 16 outputs are worked out once per plane.
** Each output is the same sequence of operations as in dw3x3_plane and the generic loop (from 0,
** taps in order, a multiply then an add: no FMA; rows outside the image are skipped, columns
** outside it add w * 0), so the bits are the same. */
__attribute__((target("avx512f"))) static void dw3x3_plane512(const float *xp, const float *wp,
                                                              float bias, struct pn_act act,
                                                              float *yp,
                                                              const struct pn_window *win) {
  int64_t ih = win->in[0], iw = win->in[1], oh = win->out[0], ow = win->out[1];
  int64_t sy = win->s[0], sx = win->s[1], pt = win->pb[0], pl = win->pb[1];
  int64_t nb = (ow + 15) / 16;
  __mmask16 mk[DW512_MAX_OW / 16][5];   /* per block: the loads' masks, then the store's */
  for (int64_t bi = 0; bi < nb; bi++) {
    int64_t ox = 16 * bi, q = sx * ox - pl, left = ow - ox;
    if (sx == 1) {
      for (int k = 0; k < 3; k++) mk[bi][k] = dw_mask(iw, q + k);
      mk[bi][3] = 0;
    } else {
      mk[bi][0] = dw_mask(iw, q);
      mk[bi][1] = dw_mask(iw, q + 16);
      mk[bi][2] = dw_mask(iw, q + 2);
      mk[bi][3] = dw_mask(iw, q + 18);
    }
    mk[bi][4] = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
  }
  __m512 wv[9];
  for (int k = 0; k < 9; k++) wv[k] = _mm512_set1_ps(wp[k]);
  const __m512 w0 = wv[0], w1 = wv[1], w2 = wv[2], w3 = wv[3], w4 = wv[4], w5 = wv[5],
               w6 = wv[6], w7 = wv[7], w8 = wv[8];
  const __m512 vb = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(act.lo),
               vhi = _mm512_set1_ps(act.hi), zero = _mm512_setzero_ps();
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int64_t oy = 0; oy < oh; oy++) {
    const float *rows[3];
    int nr = 0, kys[3];
    for (int ky = 0; ky < 3; ky++) {
      int64_t iy = oy * sy - pt + ky;
      if (iy >= 0 && iy < ih) {
        rows[nr] = xp + iy * iw;
        kys[nr++] = 3 * ky;
      }
    }
    float *yr = yp + oy * ow;
    if (nr == 3 && sx == 1 && sy == 1 && oy + 1 < oh && rows[2] + iw < xp + ih * iw) {
      /* two output rows from four input rows: each row's loads serve both, and the two sums
      ** are independent chains */
      const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = r2 + iw;
      float *yr1 = yr + ow;
      for (int64_t bi = 0; bi < nb; bi++) {
        const __mmask16 *m = mk[bi];
        __mmask16 m0 = m[0], m1 = m[1], m2 = m[2];
        int64_t q = 16 * bi - pl;
        __m512 u = zero, v = zero, t0, t1, t2;
        t0 = DW_LOAD(m0, r0, q), t1 = DW_LOAD(m1, r0, q + 1), t2 = DW_LOAD(m2, r0, q + 2);
        u = _mm512_add_ps(u, _mm512_mul_ps(w0, t0));
        u = _mm512_add_ps(u, _mm512_mul_ps(w1, t1));
        u = _mm512_add_ps(u, _mm512_mul_ps(w2, t2));
        t0 = DW_LOAD(m0, r1, q), t1 = DW_LOAD(m1, r1, q + 1), t2 = DW_LOAD(m2, r1, q + 2);
        u = _mm512_add_ps(u, _mm512_mul_ps(w3, t0));
        v = _mm512_add_ps(v, _mm512_mul_ps(w0, t0));
        u = _mm512_add_ps(u, _mm512_mul_ps(w4, t1));
        v = _mm512_add_ps(v, _mm512_mul_ps(w1, t1));
        u = _mm512_add_ps(u, _mm512_mul_ps(w5, t2));
        v = _mm512_add_ps(v, _mm512_mul_ps(w2, t2));
        t0 = DW_LOAD(m0, r2, q), t1 = DW_LOAD(m1, r2, q + 1), t2 = DW_LOAD(m2, r2, q + 2);
        u = _mm512_add_ps(u, _mm512_mul_ps(w6, t0));
        v = _mm512_add_ps(v, _mm512_mul_ps(w3, t0));
        u = _mm512_add_ps(u, _mm512_mul_ps(w7, t1));
        v = _mm512_add_ps(v, _mm512_mul_ps(w4, t1));
        u = _mm512_add_ps(u, _mm512_mul_ps(w8, t2));
        v = _mm512_add_ps(v, _mm512_mul_ps(w5, t2));
        t0 = DW_LOAD(m0, r3, q), t1 = DW_LOAD(m1, r3, q + 1), t2 = DW_LOAD(m2, r3, q + 2);
        v = _mm512_add_ps(v, _mm512_mul_ps(w6, t0));
        v = _mm512_add_ps(v, _mm512_mul_ps(w7, t1));
        v = _mm512_add_ps(v, _mm512_mul_ps(w8, t2));
        _mm512_mask_storeu_ps(yr + 16 * bi, m[4], dw_act(_mm512_add_ps(u, vb), act, vlo, vhi));
        _mm512_mask_storeu_ps(yr1 + 16 * bi, m[4], dw_act(_mm512_add_ps(v, vb), act, vlo, vhi));
      }
      oy++;
      continue;
    }
    if (nr == 3 && sx == 1) {   /* the common case, unrolled with the taps in registers */
      const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];
      for (int64_t bi = 0; bi < nb; bi++) {
        const __mmask16 *m = mk[bi];
        __mmask16 m0 = m[0], m1 = m[1], m2 = m[2];
        int64_t q = 16 * bi - pl;
        __m512 v = zero;
        v = _mm512_add_ps(v, _mm512_mul_ps(w0, DW_LOAD(m0, r0, q)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w1, DW_LOAD(m1, r0, q + 1)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w2, DW_LOAD(m2, r0, q + 2)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w3, DW_LOAD(m0, r1, q)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w4, DW_LOAD(m1, r1, q + 1)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w5, DW_LOAD(m2, r1, q + 2)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w6, DW_LOAD(m0, r2, q)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w7, DW_LOAD(m1, r2, q + 1)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w8, DW_LOAD(m2, r2, q + 2)));
        _mm512_mask_storeu_ps(yr + 16 * bi, m[4], dw_act(_mm512_add_ps(v, vb), act, vlo, vhi));
      }
      continue;
    }
    if (nr == 3) {
      const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];
      for (int64_t bi = 0; bi < nb; bi++) {
        const __mmask16 *m = mk[bi];
        __mmask16 m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3];
        int64_t q = 32 * bi - pl;
        __m512 v = zero, a0, a1, b0, b1;
        a0 = DW_LOAD(m0, r0, q), a1 = DW_LOAD(m1, r0, q + 16);
        b0 = DW_LOAD(m2, r0, q + 2), b1 = DW_LOAD(m3, r0, q + 18);
        v = _mm512_add_ps(v, _mm512_mul_ps(w0, _mm512_permutex2var_ps(a0, even, a1)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w1, _mm512_permutex2var_ps(a0, odd, a1)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w2, _mm512_permutex2var_ps(b0, even, b1)));
        a0 = DW_LOAD(m0, r1, q), a1 = DW_LOAD(m1, r1, q + 16);
        b0 = DW_LOAD(m2, r1, q + 2), b1 = DW_LOAD(m3, r1, q + 18);
        v = _mm512_add_ps(v, _mm512_mul_ps(w3, _mm512_permutex2var_ps(a0, even, a1)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w4, _mm512_permutex2var_ps(a0, odd, a1)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w5, _mm512_permutex2var_ps(b0, even, b1)));
        a0 = DW_LOAD(m0, r2, q), a1 = DW_LOAD(m1, r2, q + 16);
        b0 = DW_LOAD(m2, r2, q + 2), b1 = DW_LOAD(m3, r2, q + 18);
        v = _mm512_add_ps(v, _mm512_mul_ps(w6, _mm512_permutex2var_ps(a0, even, a1)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w7, _mm512_permutex2var_ps(a0, odd, a1)));
        v = _mm512_add_ps(v, _mm512_mul_ps(w8, _mm512_permutex2var_ps(b0, even, b1)));
        _mm512_mask_storeu_ps(yr + 16 * bi, m[4], dw_act(_mm512_add_ps(v, vb), act, vlo, vhi));
      }
      continue;
    }
    for (int64_t bi = 0; bi < nb; bi++) {   /* rows cut by the padding */
      const __mmask16 *m = mk[bi];
      int64_t q = sx * 16 * bi - pl;
      __m512 v = zero;
      for (int i = 0; i < nr; i++) {
        const float *r = rows[i];
        __m512 t0, t1, t2;
        if (sx == 1) {
          t0 = DW_LOAD(m[0], r, q);
          t1 = DW_LOAD(m[1], r, q + 1);
          t2 = DW_LOAD(m[2], r, q + 2);
        } else {
          __m512 a0 = DW_LOAD(m[0], r, q), a1 = DW_LOAD(m[1], r, q + 16);
          __m512 b0 = DW_LOAD(m[2], r, q + 2), b1 = DW_LOAD(m[3], r, q + 18);
          t0 = _mm512_permutex2var_ps(a0, even, a1);
          t1 = _mm512_permutex2var_ps(a0, odd, a1);
          t2 = _mm512_permutex2var_ps(b0, even, b1);
        }
        const __m512 *wr = wv + kys[i];
        v = _mm512_add_ps(v, _mm512_mul_ps(wr[0], t0));
        v = _mm512_add_ps(v, _mm512_mul_ps(wr[1], t1));
        v = _mm512_add_ps(v, _mm512_mul_ps(wr[2], t2));
      }
      _mm512_mask_storeu_ps(yr + 16 * bi, m[4], dw_act(_mm512_add_ps(v, vb), act, vlo, vhi));
    }
  }
}

/* 16 x 16 transpose in registers: r[i] lane j -> r[j] lane i. */
__attribute__((target("avx512f"))) static inline void dw_tr16(__m512 *r) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {   /* r[4i + j], 128-bit block L: rows 4i..4i+3 at column 4L + j */
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int j = 0; j < 4; j++) {
    __m512 x0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88),
           x1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);
    __m512 y0 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88),
           y1 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
    t[j] = _mm512_shuffle_f32x4(x0, y0, 0x88);
    t[8 + j] = _mm512_shuffle_f32x4(x0, y0, 0xdd);
    t[4 + j] = _mm512_shuffle_f32x4(x1, y1, 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(x1, y1, 0xdd);
  }
  for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* Largest input plane (positions) dw3x3_cblock512 takes: on small maps a row fills few lanes (7 of
** 16 on 7x7 maps), so there the lanes are channels instead; from 56x56 up the transposes cost more
** than the rows lose (one Conv, one thread, min of 300: 144x56x56 stride 1 121 -> 141 us). */
#define DWC_MAX_IN (28 * 28)

/* Floats of scratch dw3x3_cblock512 needs: the input planes of 16 channels transposed. */
static int64_t dwc_scratch(const struct pn_window *w) {
  return (w->in[0] * w->in[1] + 15) / 16 * 16 * 16;
}

/* 3x3 depthwise Conv of nl <= 16 channels (multiplier 1) with the channels in the lanes: their
** input planes (xp, plane after plane) transposed into t, 16 x 16 at a time, so that each tap of
** an output position is one vector of 16 channels; 16 positions are computed, transposed back and
** stored into the nl output planes (yp). Each output is computed as in the generic loop: from 0,
** the taps inside the image in order, a multiply then an add (no FMA), taps outside it skipped,
** then the bias added and the activation: the same bits. */
__attribute__((target("avx512f"))) static void dw3x3_cblock512(const float *xp, const float *wp,
                                                               const float *bias,
                                                               struct pn_act act, float *yp,
                                                               int nl,
                                                               const struct pn_window *win,
                                                               float *t) {
  int64_t ih = win->in[0], iw = win->in[1], oh = win->out[0], ow = win->out[1];
  int64_t sy = win->s[0], sx = win->s[1], pt = win->pb[0], pl = win->pb[1];
  int64_t np = ih * iw, op = oh * ow;
  const __m512 zero = _mm512_setzero_ps();
  __m512 r[16];
  for (int64_t p0 = 0; p0 < np; p0 += 16) {
    __mmask16 pm = np - p0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (np - p0)) - 1);
    for (int l = 0; l < 16; l++) r[l] = l < nl ? _mm512_maskz_loadu_ps(pm, xp + l * np + p0) : zero;
    dw_tr16(r);
    for (int i = 0; i < 16; i++) _mm512_storeu_ps(t + (p0 + i) * 16, r[i]);
  }
  float wl[9][16], bl[16];
  for (int l = 0; l < 16; l++) {
    for (int k = 0; k < 9; k++) wl[k][l] = l < nl ? wp[9 * l + k] : 0.0f;
    bl[l] = l < nl && bias ? bias[l] : 0.0f;
  }
  __m512 wv[9];
  for (int k = 0; k < 9; k++) wv[k] = _mm512_loadu_ps(wl[k]);
  const __m512 vb = _mm512_loadu_ps(bl), vlo = _mm512_set1_ps(act.lo), vhi = _mm512_set1_ps(act.hi);
  int64_t oy = 0, ox = 0;
  for (int64_t q0 = 0; q0 < op; q0 += 16) {
    int n = op - q0 < 16 ? (int)(op - q0) : 16;
    for (int i = 0; i < 16; i++) {
      if (i >= n) {
        r[i] = zero;
        continue;
      }
      int64_t iy0 = oy * sy - pt, ix0 = ox * sx - pl;
      __m512 v = zero;
      if (iy0 >= 0 && iy0 + 2 < ih && ix0 >= 0 && ix0 + 2 < iw) {
        const float *a = t + (iy0 * iw + ix0) * 16;
        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++)
            v = _mm512_add_ps(v, _mm512_mul_ps(wv[3 * ky + kx],
                                               _mm512_loadu_ps(a + (ky * iw + kx) * 16)));
      } else {
        for (int ky = 0; ky < 3; ky++) {
          int64_t iy = iy0 + ky;
          if (iy < 0 || iy >= ih) continue;
          for (int kx = 0; kx < 3; kx++) {
            int64_t ix = ix0 + kx;
            if (ix < 0 || ix >= iw) continue;
            v = _mm512_add_ps(v, _mm512_mul_ps(wv[3 * ky + kx],
                                               _mm512_loadu_ps(t + (iy * iw + ix) * 16)));
          }
        }
      }
      r[i] = dw_act(_mm512_add_ps(v, vb), act, vlo, vhi);
      if (++ox == ow) ox = 0, oy++;
    }
    dw_tr16(r);
    __mmask16 qm = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
    for (int l = 0; l < nl; l++) _mm512_mask_storeu_ps(yp + l * op + q0, qm, r[l]);
  }
}
#endif

/* dw3x3_cblock512 takes the depthwise Conv (multiplier 1, 3x3, dilation 1, strides 1-2, AVX-512,
** constant weights: fast) */
static bool dwc_fits(bool fast, const struct pn_window *w, int64_t c, int64_t m) {
#ifdef DW_X86
  return fast && c == m && w->k[0] == 3 && w->k[1] == 3 && w->d[0] == 1 && w->d[1] == 1 &&
         w->in[0] * w->in[1] <= DWC_MAX_IN && pn_cpu_level() >= PN_CPU_AVX512;
#else
  (void)fast, (void)w, (void)c, (void)m;
  return false;
#endif
}

static _Thread_local float *dw_buf;
static _Thread_local int64_t dw_cap;

PN_TARGET_CLONES static void dw_chunk(void *arg, int64_t ch) {
  const struct dw_job *j = arg;
  const struct pn_window *win = j->win;
  const float *x = j->x, *w = j->w, *bias = j->bias;
  float *y = j->y;
  struct pn_act act = j->act;
  int64_t c = j->c, m = j->m, planes = j->n * j->m;
  int64_t p0 = ch * j->per, p1 = p0 + j->per < planes ? p0 + j->per : planes;
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
#ifdef DW_X86
  if (dwc_fits(j->fast, win, c, m)) {
    int64_t need = dwc_scratch(win) + 16;   /* + 16: aligned to 64 bytes */
    if (need > dw_cap) {
      free(dw_buf);
      dw_cap = 0;
      if ((dw_buf = malloc((size_t)need * sizeof *dw_buf))) dw_cap = need;
    }
    if (dw_buf) {
      float *t = (float *)(((uintptr_t)dw_buf + 63) & ~(uintptr_t)63);
      for (int64_t pl_i = p0; pl_i < p1;) {   /* blocks of up to 16 channels of one image */
        int64_t oc = pl_i % m, nl = p1 - pl_i;
        if (nl > m - oc) nl = m - oc;
        if (nl > 16) nl = 16;
        dw3x3_cblock512(x + pl_i * ih * iw, w + oc * 9, bias ? bias + oc : NULL, act,
                        y + pl_i * oh * ow, (int)nl, win, t);
        pl_i += nl;
      }
      return;
    }
  }
#endif
  float *pad = NULL;
#ifdef DW_X86
  bool v512 = j->fast && kh == 3 && kw == 3 && dy == 1 && dx == 1 && (sx == 1 || sx == 2) &&
              ow <= DW512_MAX_OW &&
              pn_cpu_level() >= PN_CPU_AVX512;
#else
  bool v512 = false;
#endif
  if (j->fast && !v512 && dw3x3_fits(win)) {
    int64_t need = dw3x3_scratch(win);
    if (need > dw_cap) {
      free(dw_buf);
      dw_cap = 0;
      if ((dw_buf = malloc((size_t)need * sizeof *dw_buf))) dw_cap = need;
    }
    pad = dw_buf;   /* NULL when out of memory: the generic loop below */
  }
  for (int64_t pl_i = p0; pl_i < p1; pl_i++) {
    int64_t b = pl_i / m, oc = pl_i % m;
    const float *xp = x + (b * c + oc / mult) * ih * iw, *wp = w + oc * kh * kw;
    float *yp = y + pl_i * oh * ow;
#ifdef DW_X86
    if (v512) {
      dw3x3_plane512(xp, wp, bias ? bias[oc] : 0.0f, act, yp, win);
      continue;
    }
#endif
    if (pad) {
      dw3x3_plane(xp, wp, bias ? bias[oc] : 0.0f, act, yp, win, pad);
      continue;
    }
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
    conv_epilogue(yp, 0, bias ? bias + oc : NULL, act, 0, 1, 0, oh * ow);
  }
}

/* Depthwise 2-D convolution in blocks of planes shared among threads. */
static void conv_depthwise2d(const float *x, const float *w, const float *bias, struct pn_act act,
                             bool fast, float *y, int64_t n, int64_t c, int64_t m,
                             const struct pn_window *win, int threads) {
  int64_t planes = n * m, nchunk = threads > 1 ? 4 * (int64_t)threads : 1;
  if (nchunk > planes) nchunk = planes;
  int64_t per = (planes + nchunk - 1) / nchunk;
  if (dwc_fits(fast, win, c, m)) per = (per + 15) / 16 * 16;   /* whole blocks of 16 channels */
  struct dw_job job = {x, w, bias, act, fast, y, n, c, m, per, win};
  pn_par_for(threads, (planes + job.per - 1) / job.per, dw_chunk, &job);
}

/* Convolutions with few output positions (small images deep in a network): OpenBLAS's sgemm
** packs the whole filter matrix for every call, which costs more than the product when the
** output has a handful of columns. Here each output is a dot product of a filter row with a
** column of the unfolded input, transposed once (colT: pout x ck) so both run contiguously;
** the filters are read once, straight from the weights. Rows of filters are split among threads. */
#define SKINNY_MAX_POUT 16
#define SKINNY_BATCH_COLS 2048

struct skinny_job {
  const float *w, *colT, *bias;
  float *y;
  struct pn_act act;
  int64_t mg, ck, pout, per;
  bool fast;                   /* the register-tiled AVX-512 kernel (cached nodes only) */
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SKINNY_X86 1
/* R filter rows x P output positions (R, P <= 4, constants where inlined): R * P dot products
** of length ck in 16-lane FMA accumulators, so each filter vector loaded serves P positions and
** each input vector R filters, and the R * P chains run side by side (a single dot product is
** bound by the latency of its adds); the k tail is masked. y[r * ldy + p] = the sums. */
__attribute__((target("avx512f"), always_inline)) static inline void
sk_tile512(const float *w, const float *colT, int64_t ck, float *y, int64_t ldy, int R, int P,
           const float *pf) {
  __m512 acc[4][4], cv[4];
  for (int r = 0; r < R; r++)
    for (int p = 0; p < P; p++) acc[r][p] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= ck; k += 16) {
    for (int p = 0; p < P; p++) cv[p] = _mm512_loadu_ps(colT + p * ck + k);
    if (pf)
      for (int r = 0; r < 4; r++) _mm_prefetch((const char *)(pf + r * ck + k), _MM_HINT_T0);
    for (int r = 0; r < R; r++) {
      __m512 wv = _mm512_loadu_ps(w + r * ck + k);
      for (int p = 0; p < P; p++) acc[r][p] = _mm512_fmadd_ps(wv, cv[p], acc[r][p]);
    }
  }
  if (k < ck) {
    __mmask16 mk = (__mmask16)((1u << (ck - k)) - 1u);
    for (int p = 0; p < P; p++) cv[p] = _mm512_maskz_loadu_ps(mk, colT + p * ck + k);
    for (int r = 0; r < R; r++) {
      __m512 wv = _mm512_maskz_loadu_ps(mk, w + r * ck + k);
      for (int p = 0; p < P; p++) acc[r][p] = _mm512_fmadd_ps(wv, cv[p], acc[r][p]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int p = 0; p < P; p++) y[r * ldy + p] = _mm512_reduce_add_ps(acc[r][p]);
}

/* Rows [m0, m1) of the skinny product in 4 x 4 tiles (then 4 x 1, 1 x 4, 1 x 1 at the edges). */
__attribute__((target("avx512f"))) static void skinny_rows512(const struct skinny_job *j,
                                                              int64_t m0, int64_t m1) {
  int64_t ck = j->ck, pout = j->pout, m = m0;
  for (; m + 4 <= m1; m += 4) {
    /* the first tile of a row block fetches the next block's 4 filter rows into L1 */
    const float *pf = m + 8 <= m1 ? j->w + (m + 4) * ck : NULL;
    int64_t p = 0;
    for (; p + 4 <= pout; p += 4, pf = NULL)
      sk_tile512(j->w + m * ck, j->colT + p * ck, ck, j->y + m * pout + p, pout, 4, 4, pf);
    for (; p < pout; p++, pf = NULL)
      sk_tile512(j->w + m * ck, j->colT + p * ck, ck, j->y + m * pout + p, pout, 4, 1, pf);
  }
  for (; m < m1; m++) {
    int64_t p = 0;
    for (; p + 4 <= pout; p += 4)
      sk_tile512(j->w + m * ck, j->colT + p * ck, ck, j->y + m * pout + p, pout, 1, 4, NULL);
    for (; p < pout; p++)
      sk_tile512(j->w + m * ck, j->colT + p * ck, ck, j->y + m * pout + p, pout, 1, 1, NULL);
  }
}
#endif

static void skinny_chunk(void *arg, int64_t ch) {
  const struct skinny_job *j = arg;
  int64_t m0 = ch * j->per, m1 = m0 + j->per < j->mg ? m0 + j->per : j->mg, ck = j->ck;
#ifdef SKINNY_X86
  if (j->fast && pn_cpu_level() >= PN_CPU_AVX512) {
    skinny_rows512(j, m0, m1);
    conv_epilogue(j->y, j->pout, j->bias, j->act, m0, m1, 0, j->pout);
    return;
  }
#endif
  for (int64_t m = m0; m < m1; m++) {
    const float *wr = j->w + m * ck;
    float *yr = j->y + m * j->pout;
    int64_t p = 0;
    for (; p + 4 <= j->pout; p += 4) {
      const float *c0 = j->colT + p * ck, *c1 = c0 + ck, *c2 = c1 + ck, *c3 = c2 + ck;
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int64_t k = 0; k < ck; k++) {
        s0 += wr[k] * c0[k];
        s1 += wr[k] * c1[k];
        s2 += wr[k] * c2[k];
        s3 += wr[k] * c3[k];
      }
      yr[p] = s0;
      yr[p + 1] = s1;
      yr[p + 2] = s2;
      yr[p + 3] = s3;
    }
    for (; p < j->pout; p++) {
      const float *c0 = j->colT + p * ck;
      float s0 = 0;
#pragma omp simd reduction(+ : s0)
      for (int64_t k = 0; k < ck; k++) s0 += wr[k] * c0[k];
      yr[p] = s0;
    }
  }
  conv_epilogue(j->y, j->pout, j->bias, j->act, m0, m1, 0, j->pout);
}

/* Outputs of at most TK_MAX_POUT positions of one image (resnet18's 4x4, 2x2 and 1x1 maps at
** 32x32 input) with AVX-512 and constant filters: the filters in the lanes. Each kernel tap
** reaches a rectangle of the output positions (those whose input under that tap lies inside the
** image: the padding is never multiplied, where the skinny path's unfolded input held zeros for
** it, 5/9 of a padded 3x3 Conv's products on a 2x2 map and 11/36 on 4x4). Per tap the input
** values of those positions, 16 channels at a time, are gathered once per call into xg
** ([tap][channel block][position][16 channels]; from the input transposed 16 x 16 in registers),
** and the filters, packed once into the node's cache, are read in one sequential stream: for each
** block of 16 filters and channel c, one vector of the tap's 16 weights, multiplied by each
** position's value (a broadcast) into that position's accumulator: the outputs sit in registers
** (16 filters x up to 16 positions), no horizontal sums, and each weight is loaded once per call.
** Chunks are blocks of TK_SG x 16 filters (the threads split the output channels, never the
** positions); a chunk's accumulators live in TK_MAX_POS x TK_SG x 16 floats on its stack, and
** are transposed back into the output rows with the bias, a residual and the activation. Outputs
** of 17 to TK_MAX_POS positions (one image; tiny_fits says which) run in groups of 16 positions,
** each tap's weights shared by its groups (one filter block at a time). */
#define TK_MAX_POUT 16
#define TK_MAX_POS 64
#define TK_SG 4

struct tk_tap {
  int32_t grp;                        /* its group of 16 output positions */
  int32_t first;                      /* the first entry of its kernel tap (whose weights follow) */
  int32_t q;                          /* output positions of the group the tap reaches (1..16) */
  int32_t mb;                         /* filter blocks its kernel takes at once: 1, 2 or 4 */
  int32_t pos[TK_MAX_POUT];           /* those positions (within the group) */
  int32_t in[TK_MAX_POUT];            /* their input's offset in a channel plane */
  int64_t k;                          /* the tap's im2col row within a channel (ky * kw + kx) */
  int64_t xg;                         /* its gathered inputs' offset in xg */
};

struct tk_plan {
  const void *src;                    /* the weights it was made from */
  struct pn_window win;
  int64_t c, m, ncb, nmb, nsg, ntap, nk, xg_floats;
  struct tk_tap *tap;
  float *w;                           /* packed filters (64-byte aligned) */
};

static void tk_plan_free(struct tk_plan *p) {
  if (!p) return;
  free(p->tap);
  free(p->w);
  free(p);
}

/* Filter blocks a tap reaching q positions takes at once: at least 8 accumulators (the FMA
** latency times the two pipes), at most 16, leaving registers for the weights. */
static inline int tk_mb_for(int q) { return q >= 8 ? 1 : q >= 4 ? 2 : 4; }

/* The next piece of r remaining filter blocks for a tap taking up to mb at once. */
static inline int tk_piece(int mb, int64_t r) { return r >= 4 && mb >= 4 ? 4 : r >= 2 && mb >= 2 ? 2 : 1; }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TK_X86 1
typedef void (*tk_fn)(const float *w, const float *xg, int64_t ncb, float *acc, const int32_t *pos);

/* MB filter blocks x Q positions of one tap over ncb blocks of 16 channels: acc[pos[q]] (rows of
** TK_SG x 16 floats, this piece's blocks at + b * 16) += the tap's weights (w: per channel, MB
** vectors of 16 filters) times the gathered inputs (xg: per channel block, Q x 16 channels). */
__attribute__((target("avx512f"), always_inline)) static inline void
tk_kern(const float *w, const float *xg, int64_t ncb, float *acc0, const int32_t *pos, const int MB,
        const int Q) {
  __m512 acc[4][TK_MAX_POUT];
#pragma GCC unroll 16
  for (int q = 0; q < Q; q++)
#pragma GCC unroll 4
    for (int b = 0; b < MB; b++) acc[b][q] = _mm512_loadu_ps(acc0 + pos[q] * TK_SG * 16 + b * 16);
  for (int64_t cb = 0; cb < ncb; cb++, xg += Q * 16) {
#pragma GCC unroll 2
    for (int j = 0; j < 16; j++, w += MB * 16) {
      __m512 wv[4];
#pragma GCC unroll 4
      for (int b = 0; b < MB; b++) wv[b] = _mm512_load_ps(w + b * 16);
#pragma GCC unroll 16
      for (int q = 0; q < Q; q++) {
        __m512 xv = _mm512_set1_ps(xg[q * 16 + j]);
#pragma GCC unroll 4
        for (int b = 0; b < MB; b++) acc[b][q] = _mm512_fmadd_ps(wv[b], xv, acc[b][q]);
      }
    }
  }
#pragma GCC unroll 16
  for (int q = 0; q < Q; q++)
#pragma GCC unroll 4
    for (int b = 0; b < MB; b++) _mm512_storeu_ps(acc0 + pos[q] * TK_SG * 16 + b * 16, acc[b][q]);
}

#define TK_FN(MB, Q)                                                                          \
  __attribute__((target("avx512f"))) static void tk_##MB##_##Q(                               \
      const float *w, const float *xg, int64_t ncb, float *acc, const int32_t *pos) {         \
    tk_kern(w, xg, ncb, acc, pos, MB, Q);                                                     \
  }
TK_FN(1, 1) TK_FN(1, 2) TK_FN(1, 3) TK_FN(1, 4) TK_FN(1, 5) TK_FN(1, 6) TK_FN(1, 7) TK_FN(1, 8)
TK_FN(1, 9) TK_FN(1, 10) TK_FN(1, 11) TK_FN(1, 12) TK_FN(1, 13) TK_FN(1, 14) TK_FN(1, 15)
TK_FN(1, 16)
TK_FN(2, 1) TK_FN(2, 2) TK_FN(2, 3) TK_FN(2, 4) TK_FN(2, 5) TK_FN(2, 6) TK_FN(2, 7)
TK_FN(4, 1) TK_FN(4, 2) TK_FN(4, 3)
#undef TK_FN
/* tk_fns[mb / 2][q - 1]: mb 1 takes any q, 2 up to 7, 4 up to 3 (tk_mb_for) */
static const tk_fn tk_fns[3][TK_MAX_POUT] = {
    {tk_1_1, tk_1_2, tk_1_3, tk_1_4, tk_1_5, tk_1_6, tk_1_7, tk_1_8, tk_1_9, tk_1_10, tk_1_11,
     tk_1_12, tk_1_13, tk_1_14, tk_1_15, tk_1_16},
    {tk_2_1, tk_2_2, tk_2_3, tk_2_4, tk_2_5, tk_2_6, tk_2_7},
    {tk_4_1, tk_4_2, tk_4_3},
};
#endif

/* Filters restricted to the kernel taps that see the input at least once (on a 1x1 image a
** padded 3x3 convolution reads only its centre tap): rows[j] is the im2col row of column j of w. */
struct pn_conv_cache {
  const void *w_src;           /* the weights it was made from (a constant of the graph) */
  struct pn_window win;        /* the geometry it was made for */
  int64_t mg, ck, nv;          /* filters, full and kept row count */
  int64_t *rows;
  float *w;                    /* mg x nv */
  const void *wino_src;        /* the weights wino was made from */
  int64_t wino_m, wino_c;
  int wino_tile;               /* 2: F(2x2, 3x3), 16 packed m x c; 4: F(4x4, 3x3), 36 of them */
  float *wino;                 /* Winograd-transformed filters (k_winograd.c) */
  const void *gp_src;          /* the weights gp was made from */
  int64_t gp_m, gp_k;
  float *gp;                   /* the filters (gp_m x gp_k) packed for pn_gemm_run */
  float *sp;                   /* the skinny path's filters (mg x nv) packed for pn_gemm_run */
  struct tk_plan *tk;          /* the tiny-output path's plan and packed filters (conv_tiny) */
};

void pn_conv_cache_free(struct pn_conv_cache *c) {
  if (!c) return;
  free(c->rows);
  free(c->w);
  free(c->wino);
  free(c->gp);
  free(c->sp);
  tk_plan_free(c->tk);
  free(c);
}

bool pn_conv_cache_packed(const struct pn_conv_cache *c) { return c && c->gp; }

/* The packed-GEMM path (k_gemm.c) for group-1 convolutions with constant filters: 1x1 stride-1
** unpadded ones multiply the input itself, 2-D ones pack their im2col blocks straight from the
** input; chunks are blocks of output columns of one image, or of filter rows when the output is
** too narrow to split. */
struct gp_job {
  const float *x, *gp, *bias;
  struct pn_act act;
  bool direct;
  float *y;
  const struct pn_window *win;
  int64_t c, m, k, pin, pout, nb, per, mper, nmb;
  _Atomic int failed;
  const float *xs;                    /* the input split into column phases, or NULL */
  int64_t xs_img;                     /* floats of xs per image */
};

static void gp_chunk(void *arg, int64_t ch) {
  struct gp_job *j = arg;
  int64_t q = ch % j->nmb, rest = ch / j->nmb, b = rest % j->nb, n = rest / j->nb;
  int64_t p0 = b * j->per, p1 = p0 + j->per < j->pout ? p0 + j->per : j->pout;
  int64_t m0 = q * j->mper, m1 = m0 + j->mper < j->m ? m0 + j->mper : j->m;
  if (p0 >= p1 || m0 >= m1) return;
  const float *xn = j->x + n * j->c * j->pin;
  float *yn = j->y + (n * j->m + m0) * j->pout;
  struct pn_gemm_rows rows = {xn, j->pin};
  struct pn_gemm_conv2d cv = {xn, j->win, j->xs ? j->xs + n * j->xs_img : NULL};
  int rc = j->direct ? pn_gemm_run(j->gp, j->m, j->k, m0, m1, p0, p1, pn_gemm_packb_rows, &rows,
                                   yn, j->pout, j->bias, j->act)
                     : pn_gemm_run(j->gp, j->m, j->k, m0, m1, p0, p1, pn_gemm_packb_conv2d, &cv,
                                   yn, j->pout, j->bias, j->act);
  if (rc) j->failed = 1;
}

/* The input split into column phases for strided convolutions (pn_gemm_conv2d_phases), kept per
** thread across calls. */
static _Thread_local float *ph_buf;
static _Thread_local int64_t ph_cap;

/* 0 done, 1 not taken (out of memory: the caller falls back to its own path). */
static int conv_packed(struct pn_conv_cache **cache, const float *x, const float *w,
                       const float *bias, struct pn_act act, float *y, const struct conv_geo *g,
                       int64_t ck, int64_t pin, int64_t pout, bool direct, int threads) {
  struct pn_conv_cache *c = *cache;
  if (!c && !(*cache = c = calloc(1, sizeof *c))) return 1;
  if (c->gp && (c->gp_src != w || c->gp_m != g->m || c->gp_k != ck)) {
    free(c->gp);
    c->gp = NULL;
  }
  if (!c->gp) {
    if (!(c->gp = malloc(pn_gemm_packed_size(g->m, ck) * sizeof *c->gp))) return 1;
    pn_gemm_pack(w, ck, g->m, ck, c->gp);
    c->gp_src = w;
    c->gp_m = g->m;
    c->gp_k = ck;
  }
  struct gp_job j = {x, c->gp, bias, act, direct, y, &g->w, g->c, g->m, ck, pin, pout, 1, pout,
                     g->m, 1, 0, NULL, 0};
  /* strided, with every phase used (1x1 stride-2 convolutions read one in four inputs: the
  ** split would cost more than it saves): else each element of B is gathered with a stride */
  if (!direct && g->w.s[1] > 1 && g->w.k[1] * g->w.d[1] >= g->w.s[1]) {
    int64_t sx = g->w.s[1];
    j.xs_img = g->c * sx * g->w.in[0] * ((g->w.in[1] + sx - 1) / sx);
    if (g->n * j.xs_img > ph_cap) {
      free(ph_buf);
      ph_cap = 0;
      if ((ph_buf = malloc((size_t)(g->n * j.xs_img) * sizeof *ph_buf))) ph_cap = g->n * j.xs_img;
    }
    if (ph_buf) {   /* out of memory: the strided gather */
      for (int64_t n = 0; n < g->n; n++)
        pn_gemm_conv2d_phases(x + n * g->c * pin, g->c, &g->w, ph_buf + n * j.xs_img);
      j.xs = ph_buf;
    }
  }
  if (threads > 1) {
    /* blocks of whole NR-column panels, up to 4 per thread; narrow outputs split the filters:
    ** below 2 blocks a thread (one image's 7x7 map is 32 + 17 columns, which one thread each
    ** left uneven, 1.6 : 1), into as many blocks as make 2 chunks a thread */
    int64_t want = 4 * (int64_t)threads / (g->n < 4 * threads ? g->n : 4 * threads);
    int64_t panels = (pout + PN_GEMM_NR - 1) / PN_GEMM_NR;
    if (want > panels) want = panels;
    if (want < 1) want = 1;
    j.per = (panels + want - 1) / want * PN_GEMM_NR;
    j.nb = (pout + j.per - 1) / j.per;
    if (g->n * j.nb < 2 * threads && g->m >= 2 * PN_GEMM_MR)
      pn_gemm_row_blocks(g->m, g->n * j.nb, threads, &j.mper, &j.nmb);
  }
  pn_par_for(threads, g->n * j.nb * j.nmb, gp_chunk, &j);
  return j.failed ? -1 : 0;
}

bool pn_conv_cache_winograd(const struct pn_conv_cache *c) { return c && c->wino; }
int pn_conv_cache_winograd_tile(const struct pn_conv_cache *c) {
  return c && c->wino ? c->wino_tile : 0;
}

/* Rows of the im2col matrix that hold an input value for some output position, in order;
** returns their count (ck when every tap is used), -1 when out of memory (*rows_out NULL). */
static int64_t live_rows(const struct pn_window *w, int64_t cg, int64_t **rows_out) {
  int64_t kp = 1;
  for (int i = 0; i < w->nsp; i++) kp *= w->k[i];
  int64_t *rows = malloc((size_t)(cg * kp + kp + 1) * sizeof *rows), nv = 0;
  *rows_out = rows;
  if (!rows) return -1;
  int64_t *live = rows + cg * kp;   /* per tap: 1 if some output position sees the input */
  for (int64_t kr = 0; kr < kp; kr++) {
    live[kr] = 1;
    int64_t div = 1;
    for (int i = w->nsp - 1; i >= 0; div *= w->k[i], i--) {
      int64_t ko = kr / div % w->k[i], off = ko * w->d[i] - w->pb[i];
      /* some output o in [0, out) with 0 <= o * s + off < in */
      int64_t lo = off >= 0 ? 0 : (-off + w->s[i] - 1) / w->s[i];
      int64_t hi = w->in[i] - off <= 0 ? 0 : (w->in[i] - off + w->s[i] - 1) / w->s[i];
      if (hi > w->out[i]) hi = w->out[i];
      if (lo >= hi) live[kr] = 0;
    }
  }
  for (int64_t c = 0; c < cg; c++)
    for (int64_t kr = 0; kr < kp; kr++)
      if (live[kr]) rows[nv++] = c * kp + kr;
  return nv;
}

static bool same_window(const struct pn_window *a, const struct pn_window *b) {
  if (a->nsp != b->nsp) return false;
  for (int i = 0; i < a->nsp; i++)
    if (a->in[i] != b->in[i] || a->k[i] != b->k[i] || a->s[i] != b->s[i] || a->d[i] != b->d[i] ||
        a->pb[i] != b->pb[i] || a->out[i] != b->out[i])
      return false;
  return true;
}

/* ---- the tiny-output path (see TK_MAX_POUT) ---- */

/* Largest input plane conv_tiny transposes whole (a larger one with few outputs is a strided or
** wide-kernel Conv the skinny path reads more sparsely). */
#define TK_MAX_PIN 4096

/* The plan of a geometry: the taps that reach some output position, their positions and input
** offsets, and w (m x c x kh x kw) packed per block of TK_SG x 16 filters, tap after tap, in the
** pieces of filter blocks its kernel takes (tk_piece), per channel one 16-lane vector a block
** (filters past m and channels past c zero). NULL when out of memory. */
static struct tk_plan *tk_plan_new(const float *w, int64_t c, int64_t m,
                                   const struct pn_window *win) {
  int64_t kh = win->k[0], kw = win->k[1], oh = win->out[0], ow = win->out[1];
  struct tk_plan *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->src = w;
  p->win = *win;
  p->c = c;
  p->m = m;
  p->ncb = (c + 15) / 16;
  p->nmb = (m + 15) / 16;
  p->nsg = (p->nmb + TK_SG - 1) / TK_SG;
  int64_t ngrp = (oh * ow + TK_MAX_POUT - 1) / TK_MAX_POUT;
  if (!(p->tap = malloc((size_t)(kh * kw * ngrp > 0 ? kh * kw * ngrp : 1) * sizeof *p->tap))) {
    tk_plan_free(p);
    return NULL;
  }
  for (int64_t ky = 0; ky < kh; ky++)
    for (int64_t kx = 0; kx < kw; kx++) {
      int64_t e0 = p->ntap;
      for (int64_t gi = 0; gi < ngrp; gi++) {
        struct tk_tap *t = &p->tap[p->ntap];
        int q = 0;
        for (int64_t o = gi * TK_MAX_POUT; o < oh * ow && o < (gi + 1) * TK_MAX_POUT; o++) {
          int64_t iy = o / ow * win->s[0] - win->pb[0] + ky * win->d[0];
          int64_t ix = o % ow * win->s[1] - win->pb[1] + kx * win->d[1];
          if (iy < 0 || iy >= win->in[0] || ix < 0 || ix >= win->in[1]) continue;
          t->pos[q] = (int32_t)(o - gi * TK_MAX_POUT);
          t->in[q++] = (int32_t)(iy * win->in[1] + ix);
        }
        if (!q) continue;
        t->grp = (int32_t)gi;
        t->first = p->ntap == e0;
        t->q = q;
        /* with several groups the tap's weights are shared by their entries: one block at once */
        t->mb = ngrp > 1 ? 1 : tk_mb_for(q);
        t->k = ky * kw + kx;
        t->xg = p->xg_floats;
        p->xg_floats += p->ncb * 16 * q;
        p->ntap++;
      }
      if (p->ntap > e0) p->nk++;
    }
  size_t nw = (size_t)(p->nk * p->ncb * 16 * p->nmb * 16);
  if (!(p->w = aligned_alloc(64, (nw > 16 ? nw : 16) * sizeof *p->w))) {
    tk_plan_free(p);
    return NULL;
  }
  float *d = p->w;
  for (int64_t sg = 0; sg < p->nsg; sg++)
    for (int64_t ti = 0; ti < p->ntap; ti++) {
      const struct tk_tap *t = &p->tap[ti];
      if (!t->first) continue;
      int64_t b0 = sg * TK_SG, r = p->nmb - b0 < TK_SG ? p->nmb - b0 : TK_SG;
      while (r > 0) {
        int pc = tk_piece(t->mb, r);
        for (int64_t ch = 0; ch < p->ncb * 16; ch++)
          for (int b = 0; b < pc; b++)
            for (int l = 0; l < 16; l++) {
              int64_t f = (b0 + b) * 16 + l;
              *d++ = f < m && ch < c ? w[(f * c + ch) * kh * kw + t->k] : 0.0f;
            }
        b0 += pc;
        r -= pc;
      }
    }
  return p;
}

#ifdef TK_X86
struct tk_job {
  const struct tk_plan *p;
  const float *xg, *bias;
  struct pn_act act;
  float *y;
  int64_t pout, nsub;                 /* nsub: parts of a chunk of filter blocks (several groups) */
};

/* Chunk ch: image ch / nsg, filter blocks of group ch % nsg: every tap's pieces into the
** accumulators, then per block of 16 filters the accumulators transposed (positions x filters ->
** filters x positions) and stored with act((sum + bias) + residual). */
__attribute__((target("avx512f"))) static void tk_chunk(void *arg, int64_t ch) {
  const struct tk_job *j = arg;
  const struct tk_plan *p = j->p;
  int64_t sub = ch % j->nsub, n = ch / j->nsub / p->nsg, sg = ch / j->nsub % p->nsg, pout = j->pout;
  int64_t nmb = p->nmb - sg * TK_SG < TK_SG ? p->nmb - sg * TK_SG : TK_SG;
  /* this part's filter blocks [bs, be) of the chunk's (one block at a time when nsub > 1) */
  int64_t per = (nmb + j->nsub - 1) / j->nsub, bs = sub * per, be = bs + per < nmb ? bs + per : nmb;
  if (bs >= be) return;
  _Alignas(64) float acc[TK_MAX_POS * TK_SG * 16];
  memset(acc, 0, (size_t)pout * TK_SG * 16 * sizeof *acc);
  const float *wp = p->w + sg * TK_SG * 16 * p->ncb * 16 * p->nk;
  const float *xg = j->xg + n * p->xg_floats;
  for (int64_t t0 = 0, t1; t0 < p->ntap; t0 = t1) {
    /* the entries [t0, t1) of one kernel tap (one a group of positions) share its weights */
    for (t1 = t0 + 1; t1 < p->ntap && !p->tap[t1].first; t1++) {}
    int64_t b0 = 0, r = nmb;
    while (r > 0) {
      int pc = tk_piece(p->tap[t0].mb, r);
      for (int64_t ti = t0; ti < t1 && b0 >= bs && b0 < be; ti++) {
        const struct tk_tap *t = &p->tap[ti];
        tk_fns[pc / 2][t->q - 1](wp, xg + t->xg, p->ncb,
                                 acc + (t->grp * TK_MAX_POUT * TK_SG + b0) * 16, t->pos);
      }
      wp += p->ncb * 16 * pc * 16;
      b0 += pc;
      r -= pc;
    }
  }
  const __m512 zero = _mm512_setzero_ps(), vlo = _mm512_set1_ps(j->act.lo),
               vhi = _mm512_set1_ps(j->act.hi);
  for (int64_t o0 = 0; o0 < pout; o0 += TK_MAX_POUT)
  for (int64_t b = bs; b < be; b++) {
    int64_t np = pout - o0 < 16 ? pout - o0 : 16;
    const __mmask16 pm = (__mmask16)((1u << np) - 1);
    __m512 r[16];
    for (int64_t q = 0; q < 16; q++)
      r[q] = q < np ? _mm512_load_ps(acc + ((o0 + q) * TK_SG + b) * 16) : zero;
    dw_tr16(r);   /* r[l] lane q: filter l of the block at position o0 + q */
    int64_t f0 = (sg * TK_SG + b) * 16, nl = p->m - f0 < 16 ? p->m - f0 : 16;
    for (int64_t l = 0; l < nl; l++) {
      float *yr = j->y + (n * p->m + f0 + l) * pout + o0;
      __m512 v = r[l];
      if (j->bias) v = _mm512_add_ps(v, _mm512_set1_ps(j->bias[f0 + l]));
      if (j->act.res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(pm, pn_act_res(&j->act, yr)));
      _mm512_mask_storeu_ps(yr, pm, dw_act(v, j->act, vlo, vhi));
    }
  }
}

/* The inputs of n images gathered per tap into xg (tk_plan), through xt (p->ncb * pin * 16 floats):
** each image's input, 16 channels x 16 positions transposed at a time, xt[cb][pos][16]. */
__attribute__((target("avx512f"))) static void tk_gather(const struct tk_plan *p, const float *x,
                                                         int64_t nimg, int64_t pin, float *xg,
                                                         float *xt) {
  for (int64_t n = 0; n < nimg; n++) {
    const float *xn = x + n * p->c * pin;
    for (int64_t cb = 0; cb < p->ncb; cb++) {
      int64_t nl = p->c - cb * 16 < 16 ? p->c - cb * 16 : 16;
      for (int64_t p0 = 0; p0 < pin; p0 += 16) {
        int64_t np = pin - p0 < 16 ? pin - p0 : 16;
        __mmask16 pm = (__mmask16)((1u << np) - 1);
        __m512 r[16];
        for (int64_t l = 0; l < 16; l++)
          r[l] = l < nl ? _mm512_maskz_loadu_ps(pm, xn + (cb * 16 + l) * pin + p0)
                        : _mm512_setzero_ps();
        dw_tr16(r);
        for (int64_t i = 0; i < np; i++) _mm512_store_ps(xt + (cb * pin + p0 + i) * 16, r[i]);
      }
    }
    float *xgn = xg + n * p->xg_floats;
    for (int64_t ti = 0; ti < p->ntap; ti++) {
      const struct tk_tap *t = &p->tap[ti];
      float *d = xgn + t->xg;
      for (int64_t cb = 0; cb < p->ncb; cb++)
        for (int q = 0; q < t->q; q++, d += 16)
          _mm512_store_ps(d, _mm512_load_ps(xt + (cb * pin + t->in[q]) * 16));
    }
  }
}

static _Thread_local float *tk_buf;   /* conv_tiny's transposed input and gathered taps */
static _Thread_local int64_t tk_cap;
#endif

int64_t pn_tiny_max_pos = TK_MAX_POS;

/* Does conv_tiny take the convolution (its caller has a cache)? Up to 16 output positions, any
** (one image or a few). Above that, in groups of 16 positions of one image, only where it was
** measured faster: 3x3 Convs of at most 64 channels and filters on 8x8 maps, resnet18's layer1 at
** 32x32 (one thread, per node, ~31 -> ~22 us against Winograd's F(2x2); two threads 17-18 -> 14-15
** us); not with 128 (82 -> 104 us), nor 1x1 ones (mobilenetv2's on 7x7 maps, 102-255 -> 112-270
** us against the packed GEMM; resnet18's 64 -> 128 stride 2 at 8x8, 8.3 -> 11.4 us). */
static bool tiny_fits(const struct conv_geo *g, int64_t pin, int64_t pout, int64_t kp) {
#ifdef TK_X86
  bool size_ok = pout <= TK_MAX_POUT
                     ? g->n * pout < PN_GEMM_NR
                     : g->n == 1 && pout <= pn_tiny_max_pos && pout <= TK_MAX_POS && kp > 1 &&
                           g->c <= 64 && g->m <= 64;
  return g->group == 1 && g->w.nsp == 2 && size_ok && pin <= TK_MAX_PIN &&
         pn_cpu_level() >= PN_CPU_AVX512;
#else
  (void)g, (void)pin, (void)pout, (void)kp;
  return false;
#endif
}

/* The convolution by the tiny-output path (tiny_fits), act (its residual included) in the
** stores: 0, or -1 when out of memory (nothing written). */
static int conv_tiny(struct pn_conv_cache **cache, const float *x, const float *w,
                     const float *bias, struct pn_act act, float *y, const struct conv_geo *g,
                     int64_t pin, int64_t pout, int threads) {
#ifdef TK_X86
  struct pn_conv_cache *c = *cache;
  if (!c && !(*cache = c = calloc(1, sizeof *c))) return -1;
  struct tk_plan *p = c->tk;
  if (p && (p->src != w || p->c != g->c || p->m != g->m || !same_window(&p->win, &g->w))) {
    tk_plan_free(p);
    c->tk = p = NULL;
  }
  if (!p && !(c->tk = p = tk_plan_new(w, g->c, g->m, &g->w))) return -1;
  int64_t xt_floats = p->ncb * pin * 16, need = g->n * p->xg_floats + xt_floats + 16;
  if (need > tk_cap) {   /* kept per thread across calls */
    free(tk_buf);
    tk_cap = 0;
    if (!(tk_buf = aligned_alloc(64, (size_t)(need + 15) / 16 * 16 * sizeof *tk_buf))) return -1;
    tk_cap = need;
  }
  float *xg = tk_buf;
  tk_gather(p, x, g->n, pin, xg, tk_buf + g->n * p->xg_floats);
  struct tk_job j = {p, xg, bias, act, y, pout, 1};
  /* several groups of positions (one filter block at a time): with fewer chunks of TK_SG blocks
  ** than 2 a thread, each is cut into parts of whole blocks (layer1 of resnet18 at 32x32: 64
  ** filters, one chunk). Every output is the same sum whichever part computes it. */
  if (pout > TK_MAX_POUT && g->n * p->nsg < 2 * threads) {
    j.nsub = (2 * threads + g->n * p->nsg - 1) / (g->n * p->nsg);
    if (j.nsub > TK_SG) j.nsub = TK_SG;
  }
  pn_par_for(threads, g->n * p->nsg * j.nsub, tk_chunk, &j);
  return 0;
#else
  (void)cache, (void)x, (void)w, (void)bias, (void)act, (void)y, (void)g, (void)pin, (void)pout,
      (void)threads;
  return -1;
#endif
}

bool pn_conv_cache_tiny(const struct pn_conv_cache *c) { return c && c->tk; }

static _Thread_local float *sk_buf;   /* conv_skinny's colT, or B and C */
static _Thread_local int64_t sk_cap;

/* The whole convolution on the skinny path; returns PN_ERR_NOMEM (unset message) on failure.
** cache (may be NULL; only for constant weights and group 1) keeps the filters restricted to
** the live taps between runs; with it, batches of at least PN_GEMM_NR output positions in all
** run as one packed GEMM over the images (B: nv x positions, every image's live im2col rows side
** by side; C: mg x positions, scattered to Y; the filters read once per call, not per image),
** smaller ones on the register-tiled kernel. Without it (the no_fuse reference) the plain loop
** runs image by image. */
static int conv_skinny(const float *x, const float *w, const float *bias, struct pn_act act,
                       float *y, const struct conv_geo *g, int64_t cg, int64_t mg, int64_t ck,
                       int64_t pin, int64_t pout, bool direct, int threads,
                       struct pn_conv_cache **cache) {
  const int64_t *rows = NULL;
  int64_t nv = ck;
  const float *wk = w;
  struct pn_conv_cache *c = NULL;
  if (cache && g->group == 1) {
    c = *cache;
    if (!c || c->w_src != w || c->mg != mg || c->ck != ck || !same_window(&c->win, &g->w)) {
      pn_conv_cache_free(c);
      *cache = c = calloc(1, sizeof *c);
      if (!c) return PN_ERR_NOMEM;
      c->w_src = w;
      c->win = g->w;
      c->mg = mg;
      c->ck = ck;
      if ((c->nv = live_rows(&g->w, cg, &c->rows)) < 0) {
        pn_conv_cache_free(c);
        *cache = NULL;
        return PN_ERR_NOMEM;
      }
      if (c->nv < ck) {
        if (!(c->w = malloc((size_t)(mg * (c->nv > 0 ? c->nv : 1)) * sizeof *c->w))) {
          pn_conv_cache_free(c);
          *cache = NULL;
          return PN_ERR_NOMEM;
        }
        for (int64_t m = 0; m < mg; m++)
          for (int64_t j = 0; j < c->nv; j++) c->w[m * c->nv + j] = w[m * ck + c->rows[j]];
      }
    }
    if (c->w) {
      rows = c->rows;
      nv = c->nv;
      wk = c->w;
    }
  }
  /* batched: images in groups of up to SKINNY_BATCH_COLS output positions */
  int64_t gimg = SKINNY_BATCH_COLS / pout < g->n ? SKINNY_BATCH_COLS / pout : g->n;
  if (gimg < 1) gimg = 1;
  int64_t ncol = gimg * pout;
  bool batched = c && nv > 0 && g->n * pout >= PN_GEMM_NR;
  if (batched && !c->sp) {
    if (!(c->sp = malloc(pn_gemm_packed_size(mg, nv) * sizeof *c->sp))) return PN_ERR_NOMEM;
    pn_gemm_pack(wk, nv, mg, nv, c->sp);
  }
  int64_t kp = ck / (cg > 0 ? cg : 1);
  /* batched: B (nv x ncol) and C (mg x ncol); else colT (pout x nv), one image at a time */
  int64_t need = batched ? (nv + mg) * ncol : nv * pout + 1;
  if (need > sk_cap) {   /* kept per thread across calls: no fresh pages to fault in per run */
    free(sk_buf);
    sk_cap = 0;
    if (!(sk_buf = malloc((size_t)need * sizeof *sk_buf))) return PN_ERR_NOMEM;
    sk_cap = need;
  }
  float *buf = sk_buf;
  int64_t *tap = direct ? NULL : malloc((size_t)(kp * pout + 1) * sizeof *tap);
  if (!direct && !tap) return PN_ERR_NOMEM;
  if (tap) {
    /* tap[kr * pout + p]: offset in a channel plane of the input value that output position p
    ** sees at kernel offset kr, -1 in the padding */
    const struct pn_window *w_ = &g->w;
    for (int64_t kr = 0; kr < kp; kr++)
      for (int64_t p = 0; p < pout; p++) {
        int64_t off = 0, rk = kr, rp = p, st = 1;
        for (int i = w_->nsp - 1; i >= 0 && off >= 0; i--) {
          int64_t ko = rk % w_->k[i], o = rp % w_->out[i];
          rk /= w_->k[i];
          rp /= w_->out[i];
          int64_t ii = o * w_->s[i] - w_->pb[i] + ko * w_->d[i];
          if (ii < 0 || ii >= w_->in[i]) off = -1;
          else off += ii * st;
          st *= w_->in[i];
        }
        tap[kr * pout + p] = off;
      }
  }
  /* live im2col rows of image n, group gi: value (k, p) to dst[k * sk + p * sp] */
#define SKINNY_GATHER(n, gi, dst, sk, sp)                                                     \
  do {                                                                                       \
    const float *xg = x + ((n) * g->c + (gi) * cg) * pin;                                    \
    for (int64_t k = 0; k < nv; k++) {                                                       \
      int64_t r = rows ? rows[k] : k;                                                        \
      float *d = (dst) + k * (sk);                                                           \
      if (direct) {                                                                          \
        for (int64_t p = 0; p < pout; p++) d[p * (sp)] = xg[r * pin + p];                    \
      } else {                                                                               \
        const float *xc = xg + r / kp * pin;                                                 \
        const int64_t *tp = tap + r % kp * pout;                                             \
        for (int64_t p = 0; p < pout; p++) d[p * (sp)] = tp[p] >= 0 ? xc[tp[p]] : 0.0f;      \
      }                                                                                      \
    }                                                                                        \
  } while (0)
  if (batched) {
    float *bm = buf, *cm = buf + nv * ncol;
    int failed = 0;
    for (int64_t n0 = 0; n0 < g->n && !failed; n0 += gimg) {
      int64_t nn = g->n - n0 < gimg ? g->n - n0 : gimg, nc = nn * pout;
      for (int64_t i = 0; i < nn; i++) SKINNY_GATHER(n0 + i, 0, bm + i * pout, nc, 1);
      struct pn_gemm_rows b = {bm, nc};
      failed = pn_gemm_run_cols(c->sp, mg, nv, nc, pn_gemm_packb_rows, &b, cm, nc, bias, act,
                                threads);
      if (!failed)
        for (int64_t i = 0; i < nn; i++)
          for (int64_t m = 0; m < mg; m++)
            memcpy(y + ((n0 + i) * g->m + m) * pout, cm + m * nc + i * pout,
                   (size_t)pout * sizeof *y);
    }
    free(tap);
    return failed ? PN_ERR_NOMEM : PN_OK;
  }
  float *colT = buf;
  int64_t nchunk = threads > 1 ? 4 * (int64_t)threads : 1;
  if (nchunk > mg / 8) nchunk = mg / 8 > 0 ? mg / 8 : 1;
  struct skinny_job job = {NULL, colT, NULL, NULL, act, mg, nv, pout, (mg + nchunk - 1) / nchunk,
                           c != NULL};
  if (job.fast) job.per = (job.per + 3) / 4 * 4;   /* whole 4-row tiles per chunk */
  for (int64_t n = 0; n < g->n; n++)
    for (int64_t gi = 0; gi < g->group; gi++) {
      SKINNY_GATHER(n, gi, colT, 1, nv);   /* colT = the live rows of im2col, transposed */
      job.w = wk + gi * mg * nv;
      job.bias = bias ? bias + gi * mg : NULL;
      job.y = y + (n * g->m + gi * mg) * pout;
      pn_par_for(threads, (mg + job.per - 1) / job.per, skinny_chunk, &job);
    }
#undef SKINNY_GATHER
  free(tap);
  return PN_OK;
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
  return pn_conv_run_act(a, in, n_in, out[0], false, NULL);
}

int pn_conv_run_act(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                    struct pn_tensor *y, bool relu, struct pn_conv_cache **cache) {
  struct pn_act act = {relu ? PN_ACT_RELU : PN_ACT_NONE, 0, 0, NULL, NULL};
  return pn_conv_run_fused(a, in, n_in, y, act, cache);
}

/* The convolution with full (its residual included) on the paths that store straight into Y
** (Winograd, the packed GEMM: *res_done set), with act elsewhere. */
static int conv_run(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                    struct pn_tensor *y, struct pn_act full, struct pn_act act,
                    struct pn_conv_cache **cache, bool *res_done) {
  const struct pn_tensor *x = in[0], *wt = in[1], *b = n_in > 2 ? in[2] : NULL;
  if (!x || !wt || !y) return pn_op_err(a, PN_ERR_INVALID, "missing input X or W");
  if (x->dtype != PN_DT_FLOAT || wt->dtype != PN_DT_FLOAT || (b && b->dtype != PN_DT_FLOAT) ||
      y->dtype != PN_DT_FLOAT)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s (float32 only)",
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
  /* Threads (as many as OpenMP's current setting, which the executor and --threads control)
  ** only from 1M multiply-adds (some 30 us of one core) up: below that a hand-off costs more than
  ** it saves. Depthwise Convs do fewer multiply-adds a microsecond (about 20 us for 1M over
  ** small maps), so they take threads from 200k up: mobilenetv2/224's 960x7x7, 384x14x14 and
  ** stride-2 192x28x28 and 576x14x14 layers (15-23 us each on one thread) ran on one. Every
  ** sgemm is single-threaded, so OpenBLAS's own threads never compete with ours (nor spin after
  ** a call while the next node runs). */
  int threads = omp_get_max_threads();
  double flops = (double)mg * (double)ck * (double)pout * (double)(g.n * g.group);
  bool dw = cg == 1 && g.group > 1 && w->nsp == 2 && w->k[1] <= 64;
  if (threads < 1 || flops < (dw ? 2e5 : 1e6)) threads = 1;
  if (ck == 0) {
    for (int64_t r = 0; r < ny; r++) {
      float bv = bp ? bp[r % g.m] : 0.0f, *yr = yp + r * pout;
      for (int64_t p = 0; p < pout; p++) yr[p] = pn_act_apply(act, bv);
    }
    return PN_OK;
  }
  if (dw) {
    conv_depthwise2d(xp, wp, bp, act, cache != NULL, yp, g.n, g.c, g.m, w, threads);
    return PN_OK;
  }
  /* the tiny-output path: above 16 positions before Winograd, up to 16 where Winograd does not
  ** take them (it does only when tests lower its tile threshold) */
  bool tiny = cache && tiny_fits(&g, pin, pout, kp);
  if (tiny && pout > TK_MAX_POUT) {
    if (conv_tiny(cache, xp, wp, bp, full, yp, &g, pin, pout, threads))
      return pn_op_err(a, PN_ERR_NOMEM, "out of memory for the tiny-output path");
    *res_done = true;
    return PN_OK;
  }
  if (cache && pn_winograd_fits(w, g.group, g.n, g.c, g.m)) {
    struct pn_conv_cache *c = *cache;
    int tile = pn_winograd_tile(w, g.c, g.m);
    if (!c) *cache = c = calloc(1, sizeof *c);
    if (c && c->wino &&
        (c->wino_src != wp || c->wino_m != g.m || c->wino_c != g.c || c->wino_tile != tile)) {
      free(c->wino);
      c->wino = NULL;
    }
    if (c && !c->wino && (c->wino = pn_winograd_filters(wp, g.m, g.c, tile))) {
      c->wino_src = wp;
      c->wino_m = g.m;
      c->wino_c = g.c;
      c->wino_tile = tile;
    }
    /* out of memory: the im2col path below, which reports it if it fails as well */
    if (c && c->wino &&
        pn_winograd_conv(xp, c->wino, c->wino_tile, bp, full, yp, g.n, g.c, g.m, w, threads) == 0) {
      *res_done = true;
      return PN_OK;
    }
  }
  if (cache && g.group == 1 && (direct || w->nsp == 2) && pout > SKINNY_MAX_POUT) {
    int prc = conv_packed(cache, xp, wp, bp, full, yp, &g, ck, pin, pout, direct, threads);
    if (prc < 0) return pn_op_err(a, PN_ERR_NOMEM, "out of memory for the packed GEMM's buffer");
    if (prc == 0) {
      *res_done = true;
      return PN_OK;
    }
  }
  if (tiny) {
    if (conv_tiny(cache, xp, wp, bp, full, yp, &g, pin, pout, threads))
      return pn_op_err(a, PN_ERR_NOMEM, "out of memory for the tiny-output path");
    *res_done = true;
    return PN_OK;
  }
  if (pout <= SKINNY_MAX_POUT) {
    if (conv_skinny(xp, wp, bp, act, yp, &g, cg, mg, ck, pin, pout, direct, threads, cache))
      return pn_op_err(a, PN_ERR_NOMEM, "out of memory for the unfolded input");
    return PN_OK;
  }
  struct conv_job job = {xp, wp, bp, act, yp, NULL, w, direct, true, g.n, g.c, g.m, g.group,
                         cg, mg, ck, pin, pout, 1, pout, 0};
  if (threads > 1) {
    /* Column blocks of >= 64 positions, up to 4 per thread so that a thread the OS preempts
    ** holds back little; filter blocks (narrow outputs) one per thread, as each unfolds the
    ** whole image. */
    job.split_cols = pout >= 32 * threads || mg < threads;
    if (pout == 1) job.split_cols = false;
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
  pn_blas_serial_begin();
  pn_par_for(threads, job.nchunk, conv_chunk, &job);
  pn_blas_serial_end();
  free(job.col);
  return PN_OK;
}

int pn_conv_run_fused(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                      struct pn_tensor *y, struct pn_act act, struct pn_conv_cache **cache) {
  if (!act.res || !y) return conv_run(a, in, n_in, y, act, act, cache, &(bool){false});
  /* the residual: in the stores of the paths that take it, else the plain convolution and then
  ** act(y + res) over the output, the same operations in the same order */
  act.y = y->data;
  struct pn_act bare = {PN_ACT_NONE, 0, 0, NULL, NULL};
  bool done = false;
  int rc = conv_run(a, in, n_in, y, act, bare, cache, &done);
  if (rc == PN_OK && !done) {
    float *yp = y->data;
    int64_t n = pn_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) yp[i] = pn_act_apply(act, yp[i] + act.res[i]);
  }
  return rc;
}
