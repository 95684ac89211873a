/* k_winograd.c - 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3).
**
** Each 2x2 block of outputs ("tile") of one output channel is A^T [sum_c U_c (.) V_c] A, with
** U_c = G g_c G^T the 4x4 transform of filter channel c and V_c = B^T d_c B that of the 4x4
** input patch under the tile. Written as 16 matrix products, one per position xi of the 4x4
** transforms: M[xi] (m x tiles) = U[xi] (m x c) * V[xi] (c x tiles), 16 x m x c x tiles
** multiply-adds instead of 36 x m x c x tiles: 2.25x fewer. The filter transform U is made once
** per weight tensor and packed for k_gemm.c (the caller keeps it: pn_conv_cache in k_conv.c);
** per run the input is transformed, the 16 products go to pn_gemm_run, and the outputs are
** transformed back with the bias and a fused activation.
**
** Work is cut into blocks of whole tile rows (one image, one row of tiles), and on small images
** of output channels too, each block unfolded, multiplied and folded back by one thread in its
** private buffers (pn_par_for, single-threaded GEMMs), as conv_chunk does for im2col. The transforms run on whole rows so that the compiler
** vectorises them: the input's four rows under a tile row are copied into zero-padded rows,
** combined row-wise (B^T on the left), then column pairs (B on the right); the output likewise.
**
** Rounding: the transforms add and subtract values and halve them (exact in binary), so each
** output differs from the direct sum by a few units in the last place of the largest partial
** sums; tests/graph/test_winograd.c bounds it against the im2col path. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_dense.h"
#include "util/cpu.h"

int64_t pn_winograd_min_tiles = 16;

bool pn_winograd_fits(const struct pn_window *w, int64_t group, int64_t n, int64_t c, int64_t m) {
  if (w->nsp != 2 || group != 1 || c < 1 || m < 1) return false;
  for (int i = 0; i < 2; i++)
    if (w->k[i] != 3 || w->s[i] != 1 || w->d[i] != 1 || w->out[i] < 1) return false;
  /* An output 1 wide (a 1x1 image deep in resnet18 at 32x32): each tile computes 2 or 4 values
  ** to keep 1, and most filter taps see only padding, which the skinny path drops (16 products
  ** per output instead of 1 on a 1x1 image). Tests (min_tiles 1) still reach it. */
  if (pn_winograd_min_tiles > 1 && (w->out[0] < 2 || w->out[1] < 2)) return false;
  int64_t tiles = n * ((w->out[0] + 1) / 2) * ((w->out[1] + 1) / 2);
  return tiles >= pn_winograd_min_tiles && tiles <= INT32_MAX / 16 && c <= INT32_MAX &&
         m <= INT32_MAX;
}

float *pn_winograd_filters(const float *w, int64_t m, int64_t c) {
  size_t usz = pn_gemm_packed_size(m, c);
  float *u = malloc((size_t)(16 * m * c) * sizeof *u), *packed = malloc(16 * usz * sizeof *packed);
  if (!u || !packed) {
    free(u);
    free(packed);
    return NULL;
  }
  for (int64_t mi = 0; mi < m; mi++)
    for (int64_t ci = 0; ci < c; ci++) {
      const float *g = w + (mi * c + ci) * 9;
      double t[4][3], r[4][4];   /* t = G g, r = t G^T; G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1] */
      for (int j = 0; j < 3; j++) {
        t[0][j] = g[j];
        t[1][j] = 0.5 * ((double)g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = 0.5 * ((double)g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
      }
      for (int i = 0; i < 4; i++) {
        r[i][0] = t[i][0];
        r[i][1] = 0.5 * (t[i][0] + t[i][1] + t[i][2]);
        r[i][2] = 0.5 * (t[i][0] - t[i][1] + t[i][2]);
        r[i][3] = t[i][2];
      }
      for (int xi = 0; xi < 16; xi++) u[(xi * m + mi) * c + ci] = (float)r[xi / 4][xi % 4];
    }
  for (int xi = 0; xi < 16; xi++) pn_gemm_pack(u + xi * m * c, c, m, c, packed + xi * usz);
  free(u);
  return packed;
}

struct wino_job {
  const float *x, *u, *bias;
  struct pn_act act;
  float *y;
  int64_t c, m, ih, iw, oh, ow, pt, pl, th, tw, rows, per, mper, nmb, buf_sz;
  _Atomic int failed;             /* a block could not get its buffer */
};

/* Per-thread scratch kept across calls (the executor's threads are persistent), so that a run
** does not page-fault fresh buffers in for every convolution. Grows, never shrinks. */
static _Thread_local float *tl_buf;
static _Thread_local int64_t tl_cap;

static float *thread_scratch(int64_t n) {
  if (n > tl_cap) {
    free(tl_buf);
    tl_cap = 0;
    size_t bytes = ((size_t)n * sizeof *tl_buf + 63) / 64 * 64;   /* 64-aligned: GEMM panels */
    if (!(tl_buf = aligned_alloc(64, bytes))) return NULL;
    tl_cap = n;
  }
  return tl_buf;
}

/* One row of tiles (image n, tile row ty) of input channel ci (plane xp, ih x iw, of c): writes
** the 16 transformed values of tile tx, the block's tile t0 + tx, straight into the GEMM's packed
** layout (pn_gemm_run's pre-packed B: panels of PN_GEMM_NR tiles, c rows each): element
** v[xi * ldv + (t / NR) * c * NR + ci * NR + t % NR]. pad: 4 scratch rows of 2 * tw + 2 floats. */
PN_TARGET_CLONES static void input_row(const float *xp, int64_t ih, int64_t iw, int64_t iy0,
                                       int64_t pl, int64_t tw, float *pad, float *v,
                                       int64_t ldv, int64_t t0, int64_t ci, int64_t c) {
  int64_t pw = 2 * tw + 2;
  for (int r = 0; r < 4; r++) {   /* padded input rows iy0 .. iy0 + 3, columns -pl .. */
    float *p = pad + r * pw;
    int64_t iy = iy0 + r;
    if (iy < 0 || iy >= ih) {
      memset(p, 0, (size_t)pw * sizeof *p);
      continue;
    }
    const float *xr = xp + iy * iw;
    int64_t lo = pl < pw ? pl : pw, hi = iw + pl < pw ? iw + pl : pw;   /* [lo, hi) from x */
    if (hi < lo) hi = lo;
    memset(p, 0, (size_t)lo * sizeof *p);
    memcpy(p + lo, xr + (lo - pl), (size_t)(hi - lo) * sizeof *p);
    memset(p + hi, 0, (size_t)(pw - hi) * sizeof *p);
  }
  float *d0 = pad, *d1 = d0 + pw, *d2 = d1 + pw, *d3 = d2 + pw;
  /* B^T on the left, in place: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3 */
  for (int64_t k = 0; k < pw; k++) {
    float a = d0[k], b = d1[k], cc = d2[k], e = d3[k];
    d0[k] = a - cc;
    d1[k] = b + cc;
    d2[k] = cc - b;
    d3[k] = b - e;
  }
  /* B on the right: columns 2tx .. 2tx + 3 of each row */
  for (int i = 0; i < 4; i++)
    for (int64_t s0 = 0; s0 < tw;) {   /* runs of tiles within one panel */
      int64_t t = t0 + s0, off = t % PN_GEMM_NR;
      int64_t len = PN_GEMM_NR - off < tw - s0 ? PN_GEMM_NR - off : tw - s0;
      const float *r = pad + i * pw + 2 * s0;
      float *v0 = v + (4 * i) * ldv + (t / PN_GEMM_NR) * c * PN_GEMM_NR + ci * PN_GEMM_NR + off;
      float *v1 = v0 + ldv, *v2 = v1 + ldv, *v3 = v2 + ldv;
      for (int64_t tx = 0; tx < len; tx++) {
        float a = r[2 * tx], b = r[2 * tx + 1], cc = r[2 * tx + 2], e = r[2 * tx + 3];
        v0[tx] = a - cc;
        v1[tx] = b + cc;
        v2[tx] = cc - b;
        v3[tx] = b - e;
      }
      s0 += len;
    }
}

/* The inverse: from the 16 products of a row of tiles (mo[xi * ldm + tx]) to output rows
** 2ty, 2ty + 1 of plane yp (oh x ow), with bias and ReLU. s: 4 * tw + 4 * tw scratch floats. */
PN_TARGET_CLONES static void output_row(const float *mo, int64_t ldm, int64_t tw, float bias,
                                        struct pn_act act, float *yp, int64_t oy, int64_t oh,
                                        int64_t ow, float *s) {
  float *s0 = s, *s1 = s + 4 * tw, *o0 = s1 + 4 * tw, *o1 = o0 + 2 * tw;
  /* A^T on the left: s0 = rows 0 + 1 + 2, s1 = rows 1 - 2 - 3 (per column j of the 4x4) */
  for (int j = 0; j < 4; j++) {
    const float *m0 = mo + j * ldm, *m1 = m0 + 4 * ldm, *m2 = m1 + 4 * ldm, *m3 = m2 + 4 * ldm;
    float *a = s0 + j * tw, *b = s1 + j * tw;
    for (int64_t tx = 0; tx < tw; tx++) {
      a[tx] = m0[tx] + m1[tx] + m2[tx];
      b[tx] = m1[tx] - m2[tx] - m3[tx];
    }
  }
  /* A on the right: columns 0 + 1 + 2 and 1 - 2 - 3, interleaved into output rows */
  for (int r = 0; r < 2; r++) {
    const float *q = r ? s1 : s0;
    const float *q0 = q, *q1 = q + tw, *q2 = q1 + tw, *q3 = q2 + tw;
    float *o = r ? o1 : o0;
    for (int64_t tx = 0; tx < tw; tx++) {
      o[2 * tx] = q0[tx] + q1[tx] + q2[tx] + bias;
      o[2 * tx + 1] = q1[tx] - q2[tx] - q3[tx] + bias;
    }
  }
  for (int r = 0; r < 2 && oy + r < oh; r++) {
    const float *o = r ? o1 : o0;
    float *yr = yp + (oy + r) * ow;
    if (act.kind == PN_ACT_RELU) {
      for (int64_t k = 0; k < ow; k++) yr[k] = o[k] > 0 ? o[k] : 0;
    } else if (act.kind == PN_ACT_CLIP) {
      for (int64_t k = 0; k < ow; k++) {
        float v = o[k] < act.lo ? act.lo : o[k];
        yr[k] = v > act.hi ? act.hi : v;
      }
    } else {
      memcpy(yr, o, (size_t)ow * sizeof *yr);
    }
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WINO_X86 1
#include <immintrin.h>

/* input_row and output_row with AVX-512, 16 tiles a step: the even and odd columns of the padded
** rows come from two-register permutes and the tiles go to the packed layout in masked stores (a
** step that crosses a panel is stored in two parts), the outputs are interleaved in registers and
** stored with the activation straight into the output rows: no scalar tails, no copies (the
** input is read in masked loads, 0 in the padding, instead of copied into padded rows). The
** same operations in the same order as the row versions, so the same bits (test_winograd checks). */
/* 16 input columns [q0, q0 + 16) of row xr (iw wide), 0 outside it; xr NULL: a padding row. The
** address is formed as an integer: lanes outside the row are masked off and never read. */
__attribute__((target("avx512f"))) static inline __m512 load_cols(const float *xr, int64_t iw,
                                                                  int64_t q0) {
  if (!xr) return _mm512_setzero_ps();
  int64_t lo = q0 < 0 ? -q0 : 0, hi = iw - q0 < 16 ? iw - q0 : 16;
  if (hi <= lo) return _mm512_setzero_ps();
  __mmask16 m = (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
  return _mm512_maskz_loadu_ps(m, (const float *)((uintptr_t)xr + (uintptr_t)(q0 * 4)));
}

__attribute__((target("avx512f"))) static void input_row512(const float *xp, int64_t ih,
                                                            int64_t iw, int64_t iy0, int64_t pl,
                                                            int64_t tw, float *v, int64_t ldv,
                                                            int64_t t0, int64_t ci, int64_t c) {
  const float *xr[4];   /* input rows iy0 .. iy0 + 3, NULL in the padding */
  for (int r = 0; r < 4; r++)
    xr[r] = iy0 + r >= 0 && iy0 + r < ih ? xp + (iy0 + r) * iw : NULL;
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  for (int64_t s0 = 0; s0 < tw; s0 += 16) {
    int64_t n = tw - s0 < 16 ? tw - s0 : 16, t = t0 + s0, off = t % PN_GEMM_NR;
    int64_t first = PN_GEMM_NR - off < n ? PN_GEMM_NR - off : n;
    __mmask16 m1 = (__mmask16)((1u << first) - 1), m2 = (__mmask16)(((1u << n) - 1) & ~m1);
    /* padded columns 2 s0 + {0, 16, 2, 18} + lane of the four rows, B^T on the left */
    static const int64_t shift[4] = {0, 16, 2, 18};
    __m512 bt[4][4];   /* [column group][row of B^T d] */
    for (int g = 0; g < 4; g++) {
      int64_t q0 = 2 * s0 + shift[g] - pl;
      __m512 a = load_cols(xr[0], iw, q0), b = load_cols(xr[1], iw, q0),
             cc = load_cols(xr[2], iw, q0), e = load_cols(xr[3], iw, q0);
      bt[g][0] = _mm512_sub_ps(a, cc);
      bt[g][1] = _mm512_add_ps(b, cc);
      bt[g][2] = _mm512_sub_ps(cc, b);
      bt[g][3] = _mm512_sub_ps(b, e);
    }
    float *base = v + (t / PN_GEMM_NR) * c * PN_GEMM_NR + ci * PN_GEMM_NR;
    for (int i = 0; i < 4; i++) {   /* B on the right: columns 2tx .. 2tx + 3 */
      __m512 a = _mm512_permutex2var_ps(bt[0][i], even, bt[1][i]);
      __m512 b = _mm512_permutex2var_ps(bt[0][i], odd, bt[1][i]);
      __m512 cc = _mm512_permutex2var_ps(bt[2][i], even, bt[3][i]);
      __m512 e = _mm512_permutex2var_ps(bt[2][i], odd, bt[3][i]);
      __m512 o[4] = {_mm512_sub_ps(a, cc), _mm512_add_ps(b, cc), _mm512_sub_ps(cc, b),
                     _mm512_sub_ps(b, e)};
      for (int q = 0; q < 4; q++) {
        float *bq = base + (4 * i + q) * ldv;
        _mm512_mask_storeu_ps(bq + off, m1, o[q]);
        /* lanes past the panel: the next panel's first columns (lane L at column L - first) */
        if (m2) _mm512_mask_storeu_ps(bq + c * PN_GEMM_NR - first, m2, o[q]);
      }
    }
  }
}

__attribute__((target("avx512f"))) static inline __m512 act16(struct pn_act act, __m512 v) {
  if (act.kind == PN_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());   /* NaN -> 0 */
  if (act.kind == PN_ACT_CLIP) {   /* ordered compares keep NaN */
    __m512 lo = _mm512_set1_ps(act.lo), hi = _mm512_set1_ps(act.hi);
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), v, lo);
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ), v, hi);
  }
  return v;
}

__attribute__((target("avx512f"))) static void output_row512(const float *mo, int64_t ldm,
                                                             int64_t tw, float bias,
                                                             struct pn_act act, float *yp,
                                                             int64_t oy, int64_t oh, int64_t ow) {
  const __m512i lo_idx = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi_idx =
      _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  __m512 bv = _mm512_set1_ps(bias);
  int rows = oy + 1 < oh ? 2 : 1;
  for (int64_t tx = 0; tx < tw; tx += 16) {
    int64_t n = tw - tx < 16 ? tw - tx : 16, cols = ow - 2 * tx < 32 ? ow - 2 * tx : 32;
    __mmask16 mt = (__mmask16)((1u << n) - 1);
    __m512 a[4], b[4];
    for (int j = 0; j < 4; j++) {   /* A^T on the left */
      __m512 m0 = _mm512_maskz_loadu_ps(mt, mo + j * ldm + tx),
             m1 = _mm512_maskz_loadu_ps(mt, mo + (4 + j) * ldm + tx),
             m2 = _mm512_maskz_loadu_ps(mt, mo + (8 + j) * ldm + tx),
             m3 = _mm512_maskz_loadu_ps(mt, mo + (12 + j) * ldm + tx);
      a[j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
      b[j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    __mmask16 c0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
    __mmask16 c1 = cols >= 32 ? 0xffff : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
    for (int r = 0; r < rows; r++) {   /* A on the right, interleaved into the output row */
      const __m512 *q = r ? b : a;
      __m512 ev = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(q[0], q[1]), q[2]), bv);
      __m512 od = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(q[1], q[2]), q[3]), bv);
      float *yr = yp + (oy + r) * ow + 2 * tx;
      _mm512_mask_storeu_ps(yr, c0, act16(act, _mm512_permutex2var_ps(ev, lo_idx, od)));
      if (c1) _mm512_mask_storeu_ps(yr + 16, c1, act16(act, _mm512_permutex2var_ps(ev, hi_idx, od)));
    }
  }
}
#endif

/* input_row and output_row for narrow outputs (at most 2 tiles a row: 4x4 and 2x2 images deep
** in resnet18 at 32x32), tile by tile from the input itself: no padded row copies and no loops
** of one or two iterations, which cost more than the arithmetic there. Same operations in the
** same order as the row versions, so the same bits. */
static void input_small(const float *xp, int64_t ih, int64_t iw, int64_t iy0, int64_t pl,
                        int64_t tw, float *v, int64_t ldv, int64_t t0, int64_t ci, int64_t c) {
  for (int64_t tx = 0; tx < tw; tx++) {
    float d[4][4], e[4][4];
    for (int i = 0; i < 4; i++)
      for (int jj = 0; jj < 4; jj++) {
        int64_t iy = iy0 + i, ix = 2 * tx - pl + jj;
        d[i][jj] = iy >= 0 && iy < ih && ix >= 0 && ix < iw ? xp[iy * iw + ix] : 0.0f;
      }
    for (int jj = 0; jj < 4; jj++) {
      e[0][jj] = d[0][jj] - d[2][jj];
      e[1][jj] = d[1][jj] + d[2][jj];
      e[2][jj] = d[2][jj] - d[1][jj];
      e[3][jj] = d[1][jj] - d[3][jj];
    }
    int64_t t = t0 + tx;
    float *o = v + (t / PN_GEMM_NR) * c * PN_GEMM_NR + ci * PN_GEMM_NR + t % PN_GEMM_NR;
    for (int i = 0; i < 4; i++) {
      o[(4 * i) * ldv] = e[i][0] - e[i][2];
      o[(4 * i + 1) * ldv] = e[i][1] + e[i][2];
      o[(4 * i + 2) * ldv] = e[i][2] - e[i][1];
      o[(4 * i + 3) * ldv] = e[i][1] - e[i][3];
    }
  }
}

static void output_small(const float *mo, int64_t ldm, int64_t tw, float bias, struct pn_act act,
                         float *yp, int64_t oy, int64_t oh, int64_t ow) {
  for (int64_t tx = 0; tx < tw; tx++) {
    float s[2][4], o[2][2];
    for (int jj = 0; jj < 4; jj++) {
      float m0 = mo[jj * ldm + tx], m1 = mo[(4 + jj) * ldm + tx], m2 = mo[(8 + jj) * ldm + tx],
            m3 = mo[(12 + jj) * ldm + tx];
      s[0][jj] = m0 + m1 + m2;
      s[1][jj] = m1 - m2 - m3;
    }
    for (int r = 0; r < 2; r++) {
      o[r][0] = s[r][0] + s[r][1] + s[r][2] + bias;
      o[r][1] = s[r][1] - s[r][2] - s[r][3] + bias;
    }
    for (int r = 0; r < 2 && oy + r < oh; r++)
      for (int q = 0; q < 2 && 2 * tx + q < ow; q++) {
        float val = o[r][q];
        if (act.kind == PN_ACT_RELU) {
          val = val > 0 ? val : 0;
        } else if (act.kind == PN_ACT_CLIP) {
          val = val < act.lo ? act.lo : val;
          val = val > act.hi ? act.hi : val;
        }
        yp[(oy + r) * ow + 2 * tx + q] = val;
      }
  }
}

/* Chunk ch: tile rows [b * per, ...) of the whole batch (b = ch / nmb), output channels
** [q * mper, ...) (q = ch % nmb). With several channel blocks each unfolds the same tiles. */
static void wino_chunk(void *arg, int64_t ch) {
  struct wino_job *j = arg;
  int64_t b = ch / j->nmb, q = ch % j->nmb;
  int64_t r0 = b * j->per, r1 = r0 + j->per < j->rows ? r0 + j->per : j->rows;
  int64_t m0 = q * j->mper, m1 = m0 + j->mper < j->m ? m0 + j->mper : j->m;
  if (r0 >= r1 || m0 >= m1) return;
  int64_t c = j->c, m = j->m, mb = m1 - m0, tw = j->tw, nb = (r1 - r0) * tw;
  int64_t nbp = (nb + PN_GEMM_NR - 1) / PN_GEMM_NR * PN_GEMM_NR;
  float *v = thread_scratch(j->buf_sz);
  if (!v) {
    j->failed = 1;
    return;
  }
  float *mo = v + 16 * c * nbp, *scratch = mo + 16 * mb * nb;
#ifdef WINO_X86
  bool v512 = pn_cpu_level() >= PN_CPU_AVX512;
#endif
  if (nbp > nb)   /* the last panel's columns past nb: zero, so the GEMM reads defined values */
    for (int64_t xi = 0; xi < 16; xi++)
      for (int64_t ci = 0; ci < c; ci++)
        memset(v + xi * c * nbp + (nbp - PN_GEMM_NR) * c + ci * PN_GEMM_NR + nb % PN_GEMM_NR, 0,
               (size_t)(nbp - nb) * sizeof *v);
  for (int64_t r = r0; r < r1; r++) {
    int64_t n = r / j->th, ty = r % j->th;
    for (int64_t ci = 0; ci < c; ci++)
      if (tw <= 2)
        input_small(j->x + (n * c + ci) * j->ih * j->iw, j->ih, j->iw, 2 * ty - j->pt, j->pl, tw,
                    v, c * nbp, (r - r0) * tw, ci, c);
#ifdef WINO_X86
      else if (v512)
        input_row512(j->x + (n * c + ci) * j->ih * j->iw, j->ih, j->iw, 2 * ty - j->pt, j->pl, tw,
                     v, c * nbp, (r - r0) * tw, ci, c);
#endif
      else
        input_row(j->x + (n * c + ci) * j->ih * j->iw, j->ih, j->iw, 2 * ty - j->pt, j->pl, tw,
                  scratch, v, c * nbp, (r - r0) * tw, ci, c);
  }
  size_t usz = pn_gemm_packed_size(m, c);
  for (int xi = 0; xi < 16; xi++) {
    if (pn_gemm_run(j->u + xi * usz, m, c, m0, m1, 0, nb, NULL, v + xi * c * nbp,
                    mo + xi * mb * nb, nb, NULL, (struct pn_act){PN_ACT_NONE, 0, 0})) {
      j->failed = 1;
      return;
    }
  }
  for (int64_t r = r0; r < r1; r++) {
    int64_t n = r / j->th, ty = r % j->th;
    for (int64_t mi = m0; mi < m1; mi++)
      if (tw <= 2)
        output_small(mo + (mi - m0) * nb + (r - r0) * tw, mb * nb, tw,
                     j->bias ? j->bias[mi] : 0.0f, j->act, j->y + (n * m + mi) * j->oh * j->ow,
                     2 * ty, j->oh, j->ow);
#ifdef WINO_X86
      else if (v512)
        output_row512(mo + (mi - m0) * nb + (r - r0) * tw, mb * nb, tw,
                      j->bias ? j->bias[mi] : 0.0f, j->act, j->y + (n * m + mi) * j->oh * j->ow,
                      2 * ty, j->oh, j->ow);
#endif
      else
        output_row(mo + (mi - m0) * nb + (r - r0) * tw, mb * nb, tw, j->bias ? j->bias[mi] : 0.0f,
                   j->act, j->y + (n * m + mi) * j->oh * j->ow, 2 * ty, j->oh, j->ow, scratch);
  }
}

int pn_winograd_conv(const float *x, const float *u, const float *bias, struct pn_act act,
                     float *y, int64_t n, int64_t c, int64_t m, const struct pn_window *w,
                     int threads) {
  struct wino_job j = {x, u, bias, act, y, c, m, w->in[0], w->in[1], w->out[0], w->out[1],
                       w->pb[0], w->pb[1], (w->out[0] + 1) / 2, (w->out[1] + 1) / 2, 0, 0, m, 1,
                       0, 0};
  j.rows = n * j.th;
  /* Blocks of whole tile rows: up to 4 per thread of at least ~128 tiles, and at most 2^18
  ** floats (1 MiB) of buffers each, so that the transformed input and the products stay in L2
  ** between the transforms and the GEMMs (on one thread, 2^24-float blocks made a 56x56x64
  ** convolution 1.25x slower). When that leaves fewer blocks than threads (small images), the
  ** output channels are split too, in blocks of at least 32. */
  int64_t min_rows = (128 + j.tw - 1) / j.tw, nblk = threads > 1 ? 4 * (int64_t)threads : 1;
  if (nblk > j.rows / min_rows) nblk = j.rows / min_rows > 0 ? j.rows / min_rows : 1;
  int64_t per_row = 16 * (c + m) * j.tw, cap_rows = ((int64_t)1 << 18) / per_row;
  j.per = (j.rows + nblk - 1) / nblk;
  if (j.per > cap_rows) j.per = cap_rows > 0 ? cap_rows : 1;
  nblk = (j.rows + j.per - 1) / j.per;
  if (nblk < threads && m >= 64) {
    int64_t want = (threads + nblk - 1) / nblk;
    if (want > m / 32) want = m / 32;
    j.mper = ((m + want - 1) / want + PN_GEMM_MR - 1) / PN_GEMM_MR * PN_GEMM_MR;
    j.nmb = (m + j.mper - 1) / j.mper;
  }
  j.buf_sz = per_row * j.per + 16 * c * PN_GEMM_NR + 8 * j.tw + 4 * (2 * j.tw + 2);
  pn_par_for(threads, nblk * j.nmb, wino_chunk, &j);
  return j.failed ? -1 : 0;
}
