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
** private buffers (pn_par_for, single-threaded GEMMs), as conv_chunk does for im2col; a single
** block split by output channels has its input unfolded once, by all threads, first. The
** transforms run on whole rows so that the compiler vectorises them: the input's four rows under
** a tile row are copied into zero-padded rows, combined row-wise (B^T on the left), then column
** pairs (B on the right); the output likewise.
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
/* F(4x4) against F(2x2), one conv, 1 thread, min of 300-400 runs interleaved, load 6-10 (F4/F2):
** 64 channels at 28x28 1.05-1.08, 32x32 1.05, 40x40 0.81, 48x48 0.81, 56x56 0.70-0.73; 32 at
** 28x28 1.22, 56x56 0.82; 128 at 16x16 1.20, 24x24 1.00-1.11, 28x28 0.87-0.88, 32x32 1.00, 56x56
** 0.63; 256 at 16x16 1.50, 20x20 1.19-1.23, 24x24 0.86, 28x28 0.84-0.87; 512 at 7x7 2.2. The
** transforms cost per channel, the products per pair of channels: F(4x4) from 28x28 with at
** least 128 input and output channels, from 40x40 with any. */
int64_t pn_winograd_f4_min_out = 28, pn_winograd_f4_min_out_any = 40;
int64_t pn_winograd_block_floats = (int64_t)1 << 18;

int pn_winograd_tile(const struct pn_window *w, int64_t c, int64_t m) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  int64_t side = w->out[0] < w->out[1] ? w->out[0] : w->out[1];
  if (pn_cpu_level() >= PN_CPU_AVX512 &&
      (side >= pn_winograd_f4_min_out_any ||
       (side >= pn_winograd_f4_min_out && c >= 128 && m >= 128)))
    return 4;
#endif
  (void)w, (void)c, (void)m;
  return 2;
}

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

/* F(4x4, 3x3) from the points 0, 1, -1, 2, -2 and infinity (Lavin & Gray 2016): the filter
** transform G (6 x 3) and, below, B^T (6 x 6) and A^T (4 x 6) as operations. */
static const double wino4_g[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};

float *pn_winograd_filters(const float *w, int64_t m, int64_t c, int tile) {
  int np = tile == 4 ? 36 : 16, a = tile + 2;
  size_t usz = pn_gemm_packed_size(m, c);
  float *u = malloc((size_t)(np * m * c) * sizeof *u), *packed = malloc(np * usz * sizeof *packed);
  if (!u || !packed) {
    free(u);
    free(packed);
    return NULL;
  }
  for (int64_t mi = 0; mi < m; mi++)
    for (int64_t ci = 0; ci < c; ci++) {
      const float *g = w + (mi * c + ci) * 9;
      double t[6][3], r[6][6];   /* t = G g, r = t G^T, in double, rounded once to float */
      if (tile == 4) {
        for (int i = 0; i < 6; i++)
          for (int j = 0; j < 3; j++)
            t[i][j] = wino4_g[i][0] * g[j] + wino4_g[i][1] * g[3 + j] + wino4_g[i][2] * g[6 + j];
        for (int i = 0; i < 6; i++)
          for (int j = 0; j < 6; j++)
            r[i][j] = t[i][0] * wino4_g[j][0] + t[i][1] * wino4_g[j][1] + t[i][2] * wino4_g[j][2];
      } else {   /* G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1] */
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
      }
      for (int xi = 0; xi < np; xi++) u[(xi * m + mi) * c + ci] = (float)r[xi / a][xi % a];
    }
  for (int xi = 0; xi < np; xi++) pn_gemm_pack(u + xi * m * c, c, m, c, packed + xi * usz);
  free(u);
  return packed;
}

/* The np transformed inputs (c x nbp each) and the np products (mb x nb each) lie one after the
** other WINO_SKEW floats further apart than their sizes. Their sizes are often multiples of 4
** KiB (64 channels x 128 tiles: 32 KiB), and the transforms write (read) the same element of all
** np matrices in turn: 16 or 36 lines of one L1 set, more than its 12 ways, so every access
** missed. One 64-byte line more apart, each matrix's line falls in the next set. One thread,
** load ~1, median of 200 (2026-12-06): the convs of resnet18 at 64x3x32x32, 64 -> 64 on 8x8
** maps 1.64 -> 1.34 ms and 128 -> 128 on 4x4 maps 2.64 -> 1.49 (ONNX Runtime 1.22 and 1.20);
** the whole model 24.1-24.4 -> 19.1-19.2 ms, resnet18/224 12.1-12.5 -> 10.8-11.4; the same
** bits. Keeps 64-byte alignment, which the GEMM's loads of its packed B need. */
#define WINO_SKEW 16
static int64_t v_ld(int64_t c, int64_t nbp) { return c * nbp + WINO_SKEW; }
static int64_t m_ld(int64_t mb, int64_t nb) { return mb * nb + WINO_SKEW; }

struct wino_job {
  const float *x, *u, *bias;
  struct pn_act act;
  float *y;
  int64_t c, m, ih, iw, oh, ow, pt, pl, th, tw, rows, per, mper, nmb, buf_sz;
  int tile, np;                   /* F(tile x tile, 3x3): 2 or 4; np = (tile + 2)^2 products */
  _Atomic int failed;             /* a block could not get its buffer */
  float *vs;                      /* the one block's input, transformed once for every filter
                                  ** block (wino_input_chunk), or NULL: each chunk its own */
  int64_t cper;                   /* input channels per chunk of wino_input_chunk */
};

/* Floats of a chunk's row scratch for tile rows tw tiles wide: the output rows' 4 tw + 4 tw and
** the input rows' 4 zero-padded rows of 2 tw + 2 (input_row, output_row). */
static int64_t row_scratch(int64_t tw) { return 8 * tw + 4 * (2 * tw + 2); }

/* A 64-aligned buffer of at least n floats in *buf (capacity *cap), kept across calls: grows,
** never shrinks. NULL when out of memory. */
static float *grown(float **buf, int64_t *cap, int64_t n) {
  if (n > *cap) {
    free(*buf);
    *cap = 0;
    size_t bytes = ((size_t)n * sizeof **buf + 63) / 64 * 64;   /* 64-aligned: GEMM panels */
    if (!(*buf = aligned_alloc(64, bytes))) return NULL;
    *cap = n;
  }
  return *buf;
}

/* Per-thread scratch kept across calls (the executor's threads are persistent), so that a run
** does not page-fault fresh buffers in for every convolution. */
static _Thread_local float *tl_buf;
static _Thread_local int64_t tl_cap;

static float *thread_scratch(int64_t n) { return grown(&tl_buf, &tl_cap, n); }

/* The caller's buffer for an input transformed once and read by every thread (wino_input_chunk). */
static _Thread_local float *tl_vs;
static _Thread_local int64_t tl_vs_cap;

static float *shared_scratch(int64_t n) { return grown(&tl_vs, &tl_vs_cap, n); }

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
    if (act.res) {   /* the residual after the bias (the executor's Conv -> Add) */
      const float *rr = pn_act_res(&act, yr);
      for (int64_t k = 0; k < ow; k++) yr[k] = pn_act_apply(act, o[k] + rr[k]);
    } else if (act.kind == PN_ACT_RELU) {
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
#include "graph/k_x512.h"

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

/* The input rows iy0 .. iy0 + n - 1 under a row of tiles (plane xp, ih x iw): xr[r] the row
** iy0 + r, NULL where it lies in the padding. */
static inline void rows_under(const float *xp, int64_t ih, int64_t iw, int64_t iy0, int n,
                              const float **xr /* OUT: n */) {
  for (int r = 0; r < n; r++) xr[r] = iy0 + r >= 0 && iy0 + r < ih ? xp + (iy0 + r) * iw : NULL;
}

/* A step of 16 tiles from tile s0 of a row of tw (the block's tile t0 + s0 on): its n tiles'
** lanes [0, first) go to the packed panel holding t at column off (mask m1), the rest to the
** next panel's first columns (m2); store_step stores one transform position's values o at row bq
** of that layout. */
struct step {
  int64_t t, off, first;
  __mmask16 m1, m2;
};

__attribute__((target("avx512f"))) static inline struct step step_at(int64_t t0, int64_t s0,
                                                                    int64_t tw) {
  struct step st;
  int64_t n = tw - s0 < 16 ? tw - s0 : 16;
  st.t = t0 + s0;
  st.off = st.t % PN_GEMM_NR;
  st.first = PN_GEMM_NR - st.off < n ? PN_GEMM_NR - st.off : n;
  st.m1 = (__mmask16)((1u << st.first) - 1);
  st.m2 = (__mmask16)(((1u << n) - 1) & ~st.m1);
  return st;
}

__attribute__((target("avx512f"))) static inline void store_step(const struct step *st, float *bq,
                                                                 int64_t c, __m512 o) {
  _mm512_mask_storeu_ps(bq + st->off, st->m1, o);
  /* lanes past the panel: the next panel's first columns (lane L at column L - first) */
  if (st->m2) _mm512_mask_storeu_ps(bq + c * PN_GEMM_NR - st->first, st->m2, o);
}

__attribute__((target("avx512f"))) static void input_row512(const float *xp, int64_t ih,
                                                            int64_t iw, int64_t iy0, int64_t pl,
                                                            int64_t tw, float *v, int64_t ldv,
                                                            int64_t t0, int64_t ci, int64_t c) {
  const float *xr[4];
  rows_under(xp, ih, iw, iy0, 4, xr);
  const __m512i even = pn_x512_even(), odd = pn_x512_odd();
  for (int64_t s0 = 0; s0 < tw; s0 += 16) {
    struct step st = step_at(t0, s0, tw);
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
    float *base = v + (st.t / PN_GEMM_NR) * c * PN_GEMM_NR + ci * PN_GEMM_NR;
    for (int i = 0; i < 4; i++) {   /* B on the right: columns 2tx .. 2tx + 3 */
      __m512 a = _mm512_permutex2var_ps(bt[0][i], even, bt[1][i]);
      __m512 b = _mm512_permutex2var_ps(bt[0][i], odd, bt[1][i]);
      __m512 cc = _mm512_permutex2var_ps(bt[2][i], even, bt[3][i]);
      __m512 e = _mm512_permutex2var_ps(bt[2][i], odd, bt[3][i]);
      __m512 o[4] = {_mm512_sub_ps(a, cc), _mm512_add_ps(b, cc), _mm512_sub_ps(cc, b),
                     _mm512_sub_ps(b, e)};
      for (int q = 0; q < 4; q++) store_step(&st, base + (4 * i + q) * ldv, c, o[q]);
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
  const __m512i lo_idx = pn_x512_zip_lo(), hi_idx = pn_x512_zip_hi();
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
      __m512 v0 = _mm512_permutex2var_ps(ev, lo_idx, od);
      __m512 v1 = _mm512_permutex2var_ps(ev, hi_idx, od);
      if (act.res) {   /* the residual after the bias */
        const float *rr = pn_act_res(&act, yr);
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(c0, rr));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(c1, rr + 16));
      }
      _mm512_mask_storeu_ps(yr, c0, act16(act, v0));
      if (c1) _mm512_mask_storeu_ps(yr + 16, c1, act16(act, v1));
    }
  }
}

/* F(4x4, 3x3): B^T (6 x 6) applied to six vectors d0..d5 (rows of a patch, or its columns),
** o = B^T d: 4d0 - 5d2 + d4, (d3 + d4) - 4(d1 + d2), (d4 - d3) + 4(d1 - d2),
** (d4 - d2) + 2(d3 - d1), (d4 - d2) - 2(d3 - d1), 4d1 - 5d3 + d5. */
__attribute__((target("avx512f"))) static inline void bt6(const __m512 d[6], __m512 o[6]) {
  const __m512 k2 = _mm512_set1_ps(2), k4 = _mm512_set1_ps(4), k5 = _mm512_set1_ps(5);
  __m512 t1 = _mm512_add_ps(d[1], d[2]), t2 = _mm512_add_ps(d[3], d[4]);
  __m512 t3 = _mm512_sub_ps(d[1], d[2]), t4 = _mm512_sub_ps(d[4], d[3]);
  __m512 t5 = _mm512_sub_ps(d[4], d[2]), t6 = _mm512_sub_ps(d[3], d[1]);
  o[0] = _mm512_fmadd_ps(k4, d[0], _mm512_fnmadd_ps(k5, d[2], d[4]));
  o[1] = _mm512_fnmadd_ps(k4, t1, t2);
  o[2] = _mm512_fmadd_ps(k4, t3, t4);
  o[3] = _mm512_fmadd_ps(k2, t6, t5);
  o[4] = _mm512_fnmadd_ps(k2, t6, t5);
  o[5] = _mm512_fmadd_ps(k4, d[1], _mm512_fnmadd_ps(k5, d[3], d[5]));
}

/* A^T (4 x 6): m0 + (m1 + m2) + (m3 + m4), (m1 - m2) + 2(m3 - m4), (m1 + m2) + 4(m3 + m4),
** (m1 - m2) + 8(m3 - m4) + m5. */
__attribute__((target("avx512f"))) static inline void at6(const __m512 mv[6], __m512 o[4]) {
  __m512 a = _mm512_add_ps(mv[1], mv[2]), b = _mm512_sub_ps(mv[1], mv[2]);
  __m512 cc = _mm512_add_ps(mv[3], mv[4]), d = _mm512_sub_ps(mv[3], mv[4]);
  o[0] = _mm512_add_ps(_mm512_add_ps(mv[0], a), cc);
  o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2), d, b);
  o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4), cc, a);
  o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8), d, b), mv[5]);
}

/* The F(4x4) input transform of one row of tiles (tiles t0 .. t0 + tw - 1 of the block, input
** rows iy0 .. iy0 + 5, columns 4tx - pl ..) into the packed layout, as input_row512: per step of
** 16 tiles, the six rows' 80 columns from 4 s0 - pl in five masked loads each, B^T on the left,
** then per row the columns 4tx + j (j < 4) split out in two rounds of even/odd permutes and
** 4tx + 4, 4tx + 5 as those of j = 0, 1 moved one tile on; B on the right; 36 masked stores. */
__attribute__((target("avx512f"))) static void input_row4_512(const float *xp, int64_t ih,
                                                              int64_t iw, int64_t iy0, int64_t pl,
                                                              int64_t tw, float *v, int64_t ldv,
                                                              int64_t t0, int64_t ci, int64_t c) {
  const float *xr[6];
  rows_under(xp, ih, iw, iy0, 6, xr);
  const __m512i even = pn_x512_even(), odd = pn_x512_odd();
  const __m512i next0 = _mm512_set_epi32(16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
  const __m512i next1 = _mm512_set_epi32(17, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
  for (int64_t s0 = 0; s0 < tw; s0 += 16) {
    struct step st = step_at(t0, s0, tw);
    /* columns 4 s0 - pl + 16 g + lane of the six rows (g = 4: only its lanes 0, 1 are used) */
    __m512 bt[6][5];   /* [row of B^T d][column group] */
    int ng = tw - s0 >= 16 ? 5 : 4;   /* 4tx + 5 < 64 for tx < 15 */
    for (int g = 0; g < ng; g++) {
      int64_t q0 = 4 * s0 + 16 * g - pl;
      __m512 d[6], o[6];
      for (int r = 0; r < 6; r++) d[r] = load_cols(xr[r], iw, q0);
      bt6(d, o);
      for (int r = 0; r < 6; r++) bt[r][g] = o[r];
    }
    if (ng == 4)
      for (int r = 0; r < 6; r++) bt[r][4] = _mm512_setzero_ps();
    float *base = v + (st.t / PN_GEMM_NR) * c * PN_GEMM_NR + ci * PN_GEMM_NR;
    for (int i = 0; i < 6; i++) {   /* B on the right: columns 4tx .. 4tx + 5 */
      __m512 e01 = _mm512_permutex2var_ps(bt[i][0], even, bt[i][1]);
      __m512 o01 = _mm512_permutex2var_ps(bt[i][0], odd, bt[i][1]);
      __m512 e23 = _mm512_permutex2var_ps(bt[i][2], even, bt[i][3]);
      __m512 o23 = _mm512_permutex2var_ps(bt[i][2], odd, bt[i][3]);
      __m512 d[6], o[6];
      d[0] = _mm512_permutex2var_ps(e01, even, e23);
      d[1] = _mm512_permutex2var_ps(o01, even, o23);
      d[2] = _mm512_permutex2var_ps(e01, odd, e23);
      d[3] = _mm512_permutex2var_ps(o01, odd, o23);
      d[4] = _mm512_permutex2var_ps(d[0], next0, bt[i][4]);
      d[5] = _mm512_permutex2var_ps(d[1], next1, bt[i][4]);
      bt6(d, o);
      for (int q = 0; q < 6; q++) store_step(&st, base + (6 * i + q) * ldv, c, o[q]);
    }
  }
}

/* The F(4x4) output transform: from the 36 products of a row of tiles (mo[xi * ldm + tx]) to
** output rows oy .. oy + 3 of plane yp (oh x ow), with bias and the activation, 16 tiles a step:
** A^T on the left, A on the right, the four columns of each tile interleaved in two rounds of
** permutes and stored in masked stores straight into the output rows. */
__attribute__((target("avx512f"))) static void output_row4_512(const float *mo, int64_t ldm,
                                                               int64_t tw, float bias,
                                                               struct pn_act act, float *yp,
                                                               int64_t oy, int64_t oh, int64_t ow) {
  const __m512i lo_idx = pn_x512_zip_lo(), hi_idx = pn_x512_zip_hi();
  __m512 bv = _mm512_set1_ps(bias);
  int rows = oh - oy < 4 ? (int)(oh - oy) : 4;
  for (int64_t tx = 0; tx < tw; tx += 16) {
    int64_t n = tw - tx < 16 ? tw - tx : 16, cols = ow - 4 * tx < 64 ? ow - 4 * tx : 64;
    __mmask16 mt = (__mmask16)((1u << n) - 1);
    __m512 s[4][6];   /* [row of A^T M][column] */
    for (int j = 0; j < 6; j++) {   /* A^T on the left */
      __m512 mv[6], o[4];
      for (int k = 0; k < 6; k++) mv[k] = _mm512_maskz_loadu_ps(mt, mo + (6 * k + j) * ldm + tx);
      at6(mv, o);
      for (int r = 0; r < 4; r++) s[r][j] = o[r];
    }
    for (int r = 0; r < rows; r++) {   /* A on the right, interleaved into the output row */
      __m512 y[4];
      at6(s[r], y);
      for (int k = 0; k < 4; k++) y[k] = _mm512_add_ps(y[k], bv);
      __m512 p = _mm512_permutex2var_ps(y[0], lo_idx, y[2]),
             ph = _mm512_permutex2var_ps(y[0], hi_idx, y[2]),
             q = _mm512_permutex2var_ps(y[1], lo_idx, y[3]),
             qh = _mm512_permutex2var_ps(y[1], hi_idx, y[3]);
      __m512 out[4] = {_mm512_permutex2var_ps(p, lo_idx, q), _mm512_permutex2var_ps(p, hi_idx, q),
                       _mm512_permutex2var_ps(ph, lo_idx, qh),
                       _mm512_permutex2var_ps(ph, hi_idx, qh)};
      float *yr = yp + (oy + r) * ow + 4 * tx;
      for (int k = 0; k < 4 && 16 * k < cols; k++) {
        int64_t left = cols - 16 * k;
        __mmask16 cm = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
        __m512 v = out[k];
        if (act.res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(cm, pn_act_res(&act, yr + 16 * k)));
        _mm512_mask_storeu_ps(yr + 16 * k, cm, act16(act, v));
      }
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
        if (act.res) val += *pn_act_res(&act, yp + (oy + r) * ow + 2 * tx + q);
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

/* The input of tile rows [r0, r1), channels [c0, c1), transformed into v (the GEMM's packed
** panels of np matrices c x nbp; columns past nb of the last panel zeroed). */
static void wino_input(const struct wino_job *j, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                       float *v, float *scratch) {
  int64_t c = j->c, tw = j->tw, nb = (r1 - r0) * tw, np = j->np, tile = j->tile;
  int64_t nbp = (nb + PN_GEMM_NR - 1) / PN_GEMM_NR * PN_GEMM_NR, ldv = v_ld(c, nbp);
#ifdef WINO_X86
  bool v512 = pn_cpu_level() >= PN_CPU_AVX512;
#endif
  if (nbp > nb)   /* the last panel's columns past nb: zero, so the GEMM reads defined values */
    for (int64_t xi = 0; xi < np; xi++)
      for (int64_t ci = c0; ci < c1; ci++)
        memset(v + xi * ldv + (nbp - PN_GEMM_NR) * c + ci * PN_GEMM_NR + nb % PN_GEMM_NR, 0,
               (size_t)(nbp - nb) * sizeof *v);
  for (int64_t r = r0; r < r1; r++) {
    int64_t n = r / j->th, ty = r % j->th;
    for (int64_t ci = c0; ci < c1; ci++) {
      const float *xp = j->x + (n * c + ci) * j->ih * j->iw;
      int64_t iy0 = tile * ty - j->pt, t0 = (r - r0) * tw;
#ifdef WINO_X86
      if (tile == 4) {   /* taken only with AVX-512 (pn_winograd_tile) */
        input_row4_512(xp, j->ih, j->iw, iy0, j->pl, tw, v, ldv, t0, ci, c);
        continue;
      }
#endif
      if (tw <= 2)
        input_small(xp, j->ih, j->iw, iy0, j->pl, tw, v, ldv, t0, ci, c);
#ifdef WINO_X86
      else if (v512)
        input_row512(xp, j->ih, j->iw, iy0, j->pl, tw, v, ldv, t0, ci, c);
#endif
      else
        input_row(xp, j->ih, j->iw, iy0, j->pl, tw, scratch, v, ldv, t0, ci, c);
    }
  }
}

/* The first step of a shared transform: channels [ch * cper, ...) of the one block into j->vs. */
static void wino_input_chunk(void *arg, int64_t ch) {
  struct wino_job *j = arg;
  int64_t c0 = ch * j->cper, c1 = c0 + j->cper < j->c ? c0 + j->cper : j->c;
  float *scratch = thread_scratch(row_scratch(j->tw));
  if (!scratch) {
    j->failed = 1;
    return;
  }
  if (c0 < c1) wino_input(j, 0, j->rows, c0, c1, j->vs, scratch);
}

/* Chunk ch: tile rows [b * per, ...) of the whole batch (b = ch / nmb), output channels
** [q * mper, ...) (q = ch % nmb). With several channel blocks each unfolds the same tiles, unless
** the input was transformed once already (j->vs). */
static void wino_chunk(void *arg, int64_t ch) {
  struct wino_job *j = arg;
  int64_t b = ch / j->nmb, q = ch % j->nmb;
  int64_t r0 = b * j->per, r1 = r0 + j->per < j->rows ? r0 + j->per : j->rows;
  int64_t m0 = q * j->mper, m1 = m0 + j->mper < j->m ? m0 + j->mper : j->m;
  if (r0 >= r1 || m0 >= m1) return;
  int64_t c = j->c, m = j->m, mb = m1 - m0, tw = j->tw, nb = (r1 - r0) * tw, np = j->np;
  int64_t nbp = (nb + PN_GEMM_NR - 1) / PN_GEMM_NR * PN_GEMM_NR, tile = j->tile;
  /* with j->vs the input is transformed already: only the products and the scratch here */
  float *v = thread_scratch(j->vs ? np * m_ld(mb, nb) + row_scratch(tw) : j->buf_sz);
  if (!v) {
    j->failed = 1;
    return;
  }
  int64_t ldv = v_ld(c, nbp), ldm = m_ld(mb, nb);
  float *mo = j->vs ? v : v + np * ldv, *scratch = mo + np * ldm;
#ifdef WINO_X86
  bool v512 = pn_cpu_level() >= PN_CPU_AVX512;
#endif
  if (j->vs) v = j->vs;
  else wino_input(j, r0, r1, 0, c, v, scratch);
  size_t usz = pn_gemm_packed_size(m, c);
  for (int64_t xi = 0; xi < np; xi++) {
    if (pn_gemm_run(j->u + xi * usz, m, c, m0, m1, 0, nb, NULL, v + xi * ldv, mo + xi * ldm, nb,
                    NULL, (struct pn_act){PN_ACT_NONE, 0, 0, NULL, NULL})) {
      j->failed = 1;
      return;
    }
  }
  for (int64_t r = r0; r < r1; r++) {
    int64_t n = r / j->th, ty = r % j->th;
    for (int64_t mi = m0; mi < m1; mi++) {
      const float *mr = mo + (mi - m0) * nb + (r - r0) * tw;
      float bias = j->bias ? j->bias[mi] : 0.0f, *yp = j->y + (n * m + mi) * j->oh * j->ow;
#ifdef WINO_X86
      if (tile == 4) {
        output_row4_512(mr, ldm, tw, bias, j->act, yp, 4 * ty, j->oh, j->ow);
        continue;
      }
#endif
      if (tw <= 2)
        output_small(mr, ldm, tw, bias, j->act, yp, 2 * ty, j->oh, j->ow);
#ifdef WINO_X86
      else if (v512)
        output_row512(mr, ldm, tw, bias, j->act, yp, 2 * ty, j->oh, j->ow);
#endif
      else
        output_row(mr, ldm, tw, bias, j->act, yp, 2 * ty, j->oh, j->ow, scratch);
    }
  }
}

int pn_winograd_conv(const float *x, const float *u, int tile, const float *bias,
                     struct pn_act act, float *y, int64_t n, int64_t c, int64_t m,
                     const struct pn_window *w, int threads) {
#ifndef WINO_X86
  if (tile == 4) return -1;
#endif
  if (tile != 2 && tile != 4) return -1;
  struct wino_job j = {x, u, bias, act, y, c, m, w->in[0], w->in[1], w->out[0], w->out[1],
                       w->pb[0], w->pb[1], (w->out[0] + tile - 1) / tile,
                       (w->out[1] + tile - 1) / tile, 0, 0, m, 1, 0, tile, (tile + 2) * (tile + 2),
                       0, NULL, 0};
  j.rows = n * j.th;
  /* Blocks of whole tile rows: up to 4 per thread of at least ~128 tiles, and at most 2^18
  ** floats (1 MiB) of buffers each, so that the transformed input and the products stay in L2
  ** between the transforms and the GEMMs (on one thread, 2^24-float blocks made a 56x56x64
  ** convolution 1.25x slower). When that leaves fewer blocks than threads (small images), the
  ** output channels are split too, in blocks of at least 32. */
  int64_t min_rows = (128 + j.tw - 1) / j.tw, nblk = threads > 1 ? 4 * (int64_t)threads : 1;
  if (nblk > j.rows / min_rows) nblk = j.rows / min_rows > 0 ? j.rows / min_rows : 1;
  int64_t per_row = j.np * (c + m) * j.tw, cap_rows = pn_winograd_block_floats / per_row;
  j.per = (j.rows + nblk - 1) / nblk;
  if (j.per > cap_rows) j.per = cap_rows > 0 ? cap_rows : 1;
  nblk = (j.rows + j.per - 1) / j.per;
  /* F(4x4): rows of few tiles (8 at 32x32) left a last block of a row or two, a GEMM on a sliver
  ** of a panel (64x64 at 32x32: 1.16x F(2x2)'s time); blocks of equal rows instead */
  if (tile == 4) j.per = (j.rows + nblk - 1) / nblk;
  if (nblk < threads && m >= 64) {
    int64_t want = (threads + nblk - 1) / nblk;
    if (want > m / 32) want = m / 32;
    j.mper = ((m + want - 1) / want + PN_GEMM_MR - 1) / PN_GEMM_MR * PN_GEMM_MR;
    j.nmb = (m + j.mper - 1) / j.mper;
  }
  j.buf_sz = per_row * j.per + j.np * (c * PN_GEMM_NR + 2 * WINO_SKEW) + row_scratch(j.tw);
  /* One block of tiles split by filters (a small image: resnet18's 8x8 maps at 1x3x32x32 are 16
  ** tiles): each filter block transformed the whole input again, 11 of the 25 us of the 64 ->
  ** 64 convolution, so two threads took 18 us each. The input is transformed once instead, its
  ** channels shared among the threads, and then the filter blocks read it: the same values in
  ** the same places, so the same bits. */
  if (nblk == 1 && j.nmb > 1) {
    int64_t nbp = (j.rows * j.tw + PN_GEMM_NR - 1) / PN_GEMM_NR * PN_GEMM_NR;
    if ((j.vs = shared_scratch(j.np * v_ld(c, nbp)))) {   /* out of memory: per block, as before */
      int64_t want = 2 * (int64_t)threads < c ? 2 * (int64_t)threads : c;
      j.cper = (c + want - 1) / want;
      pn_par_for(threads, (c + j.cper - 1) / j.cper, wino_input_chunk, &j);
      if (j.failed) return -1;
    }
  }
  pn_par_for(threads, nblk * j.nmb, wino_chunk, &j);
  return j.failed ? -1 : 0;
}
