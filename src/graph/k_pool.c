/* k_pool.c - ONNX MaxPool (with Indices), AveragePool, GlobalAveragePool, GlobalMaxPool, N-D.
**
** Pools run over (N*C) planes in parallel. For each output position the window is clipped to the
** input once per spatial dim (the valid kernel-offset range [klo, khi)); padding is skipped by
** MaxPool and counted by AveragePool only with count_include_pad (up to the end padding, as ONNX
** Runtime does when ceil_mode extends the last window past it). MaxPool's Indices are flattened
** over the whole input tensor, row-major (storage_order 0) or with the spatial dims column-major
** (storage_order 1). MaxPool supports float, double, int8 and uint8; the others float and double. */
#include <float.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_dense.h"
#include "graph/kernels.h"
#include "util/cpu.h"
#include "util/status.h"

enum pool_kind { POOL_MAX, POOL_AVG };

static bool pool_dtype_ok(enum pool_kind kind, enum pn_dtype dt) {
  if (dt == PN_DT_FLOAT || dt == PN_DT_DOUBLE || dt == PN_DT_UNDEFINED) return true;
  return kind == POOL_MAX && (dt == PN_DT_INT8 || dt == PN_DT_UINT8);
}

/* Window geometry from X's shape and the attributes; *rank = -1 when unknown. */
static int pool_setup(const struct pn_op_args *a, enum pool_kind kind, const struct pn_shape *xs,
                      struct pn_window *w, int *rank) {
  int rc;
  if (!pool_dtype_ok(kind, xs->dtype))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s of X", pn_dtype_name(xs->dtype));
  if (xs->ndim >= 0 && xs->ndim < 3)
    return pn_op_err(a, PN_ERR_INVALID, "input X has rank %d, expected N x C x spatial (>= 3)",
                     xs->ndim);
  int64_t cnt;
  const int64_t *v;
  if ((rc = pn_node_get_ints(a->ctx, a->node, "kernel_shape", &cnt, &v))) return rc;
  if (cnt < 0) return pn_op_err(a, PN_ERR_INVALID, "attribute 'kernel_shape' is required");
  if (cnt < 1 || cnt > PN_MAX_DIMS - 2)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'kernel_shape' has %lld dims", (long long)cnt);
  *rank = xs->ndim >= 0 ? xs->ndim : (int)cnt + 2;
  w->nsp = *rank - 2;
  for (int i = 0; i < w->nsp; i++) {
    w->in[i] = xs->ndim >= 0 ? xs->dims[2 + i] : -1;
    w->k[i] = -1;
  }
  if ((rc = pn_window_kernel(a, true, w))) return rc;
  if (kind == POOL_MAX) {
    int64_t so;
    if ((rc = pn_node_get_int(a->ctx, a->node, "storage_order", 0, &so))) return rc;
    if (so != 0 && so != 1)
      return pn_op_err(a, PN_ERR_INVALID, "attribute 'storage_order' = %lld must be 0 or 1",
                       (long long)so);
  } else {
    int64_t cip;
    if ((rc = pn_node_get_int(a->ctx, a->node, "count_include_pad", 0, &cip))) return rc;
    if (cip != 0 && cip != 1)
      return pn_op_err(a, PN_ERR_INVALID, "attribute 'count_include_pad' = %lld must be 0 or 1",
                       (long long)cip);
  }
  if ((rc = pn_window_init(a, PN_WIN_POOL, true, w))) return rc;
  /* a window lying wholly in the padding has nothing to pool over (ONNX Runtime refuses it too) */
  for (int i = 0; i < w->nsp; i++) {
    int64_t ek = w->k[i] >= 0 ? (w->k[i] - 1) * w->d[i] + 1 : -1;
    if (ek > 0 && (w->pb[i] >= ek || w->pe[i] >= ek))
      return pn_op_err(a, PN_ERR_INVALID, "attribute 'pads' = %lld/%lld on spatial axis %d is not "
                       "smaller than the kernel extent %lld", (long long)w->pb[i], (long long)w->pe[i],
                       i, (long long)ek);
  }
  return PN_OK;
}

static int pool_infer(const struct pn_op_args *a, enum pool_kind kind, const struct pn_shape *in,
                      struct pn_shape *out, int n_out) {
  struct pn_window w;
  int rank, rc = pool_setup(a, kind, &in[0], &w, &rank);
  if (rc) return rc;
  int64_t dims[PN_MAX_DIMS];
  dims[0] = in[0].ndim >= 0 ? in[0].dims[0] : -1;
  dims[1] = in[0].ndim >= 0 ? in[0].dims[1] : -1;
  for (int i = 0; i < w.nsp; i++) dims[2 + i] = w.out[i];
  pn_shape_set(&out[0], in[0].dtype, rank, dims);
  if (n_out > 1) pn_shape_set(&out[1], PN_DT_INT64, rank, dims);
  return PN_OK;
}

int pn_infer_max_pool(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                      struct pn_shape *out, int n_out) {
  return pool_infer(a, POOL_MAX, in, out, n_out);
}

int pn_infer_average_pool(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                          struct pn_shape *out, int n_out) {
  return pool_infer(a, POOL_AVG, in, out, n_out);
}

/* Per spatial dim and output index: window start, the valid kernel offsets [lo, hi) (inside the
** input) and np, the offsets inside input plus end padding (count_include_pad). */
struct pool_tab {
  int64_t *st[PN_MAX_DIMS], *lo[PN_MAX_DIMS], *hi[PN_MAX_DIMS], *np[PN_MAX_DIMS];
  int64_t *mem;
};

static int pool_tab_init(struct pool_tab *t, const struct pn_window *w) {
  int64_t total = 0;
  for (int i = 0; i < w->nsp; i++) total += w->out[i];
  t->mem = malloc((size_t)(total > 0 ? total : 1) * 4 * sizeof(int64_t));
  if (!t->mem) return PN_ERR_NOMEM;
  int64_t *m = t->mem;
  for (int i = 0; i < w->nsp; i++) {
    int64_t d = w->d[i], k = w->k[i], n = w->out[i];
    t->st[i] = m;
    t->lo[i] = m + n;
    t->hi[i] = m + 2 * n;
    t->np[i] = m + 3 * n;
    m += 4 * n;
    for (int64_t o = 0; o < n; o++) {
      int64_t st = o * w->s[i] - w->pb[i];
      int64_t lo = st >= 0 ? 0 : (-st + d - 1) / d;
      int64_t hi = w->in[i] - st <= 0 ? 0 : (w->in[i] - st + d - 1) / d;
      int64_t hp = w->in[i] + w->pe[i] - st <= 0 ? 0 : (w->in[i] + w->pe[i] - st + d - 1) / d;
      if (hi > k) hi = k;
      if (hp > k) hp = k;
      if (lo > hi) lo = hi;
      t->st[i][o] = st;
      t->lo[i][o] = lo;
      t->hi[i][o] = hi;
      t->np[i][o] = hp;
    }
  }
  return PN_OK;
}

/* Row-major plane offset of kernel position kk of the window at output o. */
static inline int64_t win_offset(const struct pn_window *w, const struct pool_tab *t,
                                 const int64_t *o, const int64_t *kk) {
  int64_t off = 0;
  for (int i = 0; i < w->nsp; i++) off = off * w->in[i] + t->st[i][o[i]] + kk[i] * w->d[i];
  return off;
}

/* Start kk at the first valid kernel position; false when the window is empty. */
static inline bool win_first(const struct pn_window *w, const struct pool_tab *t,
                             const int64_t *o, int64_t *kk) {
  bool any = true;
  for (int i = 0; i < w->nsp; i++) {
    kk[i] = t->lo[i][o[i]];
    if (kk[i] >= t->hi[i][o[i]]) any = false;
  }
  return any;
}

static inline bool win_next(const struct pn_window *w, const struct pool_tab *t,
                            const int64_t *o, int64_t *kk) {
  for (int i = w->nsp - 1; i >= 0; i--) {
    if (++kk[i] < t->hi[i][o[i]]) return true;
    kk[i] = t->lo[i][o[i]];
  }
  return false;
}

static inline void out_next(const struct pn_window *w, int64_t *o) {
  for (int i = w->nsp - 1; i >= 0; i--) {
    if (++o[i] < w->out[i]) return;
    o[i] = 0;
  }
}

/* The Indices value of row-major plane offset off (storage_order 1: spatial dims column-major). */
static int64_t max_index(const struct pn_window *w, int64_t plane, int64_t in_sz, int64_t off,
                         int64_t so) {
  if (!so) return plane * in_sz + off;
  int64_t idx[PN_MAX_DIMS], r = off, col = 0, st = 1;
  for (int i = w->nsp - 1; i >= 0; i--) {
    idx[i] = r % w->in[i];
    r /= w->in[i];
  }
  for (int i = 0; i < w->nsp; i++) {
    col += idx[i] * st;
    st *= w->in[i];
  }
  return plane * in_sz + col;
}

/* Max pool of planes x in -> planes x out. 2-D windows (1-D ones are lifted to 2-D) take a direct
** nested loop; other ranks walk the window with an odometer. */
#define DEF_MAX_POOL(T, FN, LOWEST)                                                              \
  static void FN(const T *x, T *y, int64_t *ind, int64_t planes, const struct pn_window *w,      \
                 const struct pool_tab *t, int64_t so) {                                         \
    int64_t in_sz = pn_shape_numel(w->nsp, w->in), out_sz = pn_shape_numel(w->nsp, w->out);    \
    _Pragma("omp parallel for schedule(static) if (planes * out_sz > 16384)")                    \
    for (int64_t pl = 0; pl < planes; pl++) {                                                    \
      const T *xp = x + pl * in_sz;                                                              \
      T *yp = y + pl * out_sz;                                                                   \
      int64_t *ip = ind ? ind + pl * out_sz : NULL;                                              \
      if (w->nsp == 2) {                                                                         \
        int64_t wd = w->in[1], dy = w->d[0], dx = w->d[1], q = 0;                                \
        for (int64_t oy = 0; oy < w->out[0]; oy++) {                                             \
          int64_t sy = t->st[0][oy], ly = t->lo[0][oy], hy = t->hi[0][oy];                      \
          for (int64_t ox = 0; ox < w->out[1]; ox++, q++) {                                      \
            int64_t sx = t->st[1][ox], lx = t->lo[1][ox], hx = t->hi[1][ox], bo = -1;            \
            T best = LOWEST;                                                                     \
            for (int64_t ky = ly; ky < hy; ky++) {                                               \
              int64_t rowo = (sy + ky * dy) * wd + sx;                                           \
              for (int64_t kx = lx; kx < hx; kx++) {                                             \
                T v = xp[rowo + kx * dx];                                                        \
                if (bo < 0 || v > best) {                                                        \
                  best = v;                                                                      \
                  bo = rowo + kx * dx;                                                           \
                }                                                                                \
              }                                                                                  \
            }                                                                                    \
            yp[q] = best;                                                                        \
            if (ip) ip[q] = bo < 0 ? -1 : max_index(w, pl, in_sz, bo, so);                       \
          }                                                                                      \
        }                                                                                        \
        continue;                                                                                \
      }                                                                                          \
      int64_t o[PN_MAX_DIMS] = {0}, kk[PN_MAX_DIMS];                                             \
      for (int64_t q = 0; q < out_sz; q++, out_next(w, o)) {                                     \
        T best = LOWEST;                                                                         \
        int64_t bo = -1;                                                                         \
        if (win_first(w, t, o, kk)) {                                                            \
          do {                                                                                   \
            int64_t off = win_offset(w, t, o, kk);                                               \
            if (bo < 0 || xp[off] > best) {                                                      \
              best = xp[off];                                                                    \
              bo = off;                                                                          \
            }                                                                                    \
          } while (win_next(w, t, o, kk));                                                       \
        }                                                                                        \
        yp[q] = best;                                                                            \
        if (ip) ip[q] = bo < 0 ? -1 : max_index(w, pl, in_sz, bo, so);                           \
      }                                                                                          \
    }                                                                                            \
  }

DEF_MAX_POOL(float, max_pool_f32, -FLT_MAX)
DEF_MAX_POOL(double, max_pool_f64, -DBL_MAX)

/* 2-D float max pool without Indices: the same visiting order and comparison as max_pool_f32
** (the first value of the window, then any greater one: `v > best ? v : best`), without index
** bookkeeping. Outputs whose window lies wholly inside the image (every row but the edges of a
** padded pool) are computed a whole output row at a time, tap by tap, in loops over the outputs
** that vectorise (maxps computes exactly that expression, NaNs included); windows that touch the
** padding take the clipped scalar loop (with AVX-512, mp_planes512 takes every window, the
** clipped ones included, and rows of 4 planes side by side). Planes are shared among threads
** (pn_par_for: resnet's 3x3 stride-2 pool of 64x112x112 took ~1 ms serially, 5-8% of the
** model). */
struct mp_job {
  const float *x;
  float *y;
  int64_t planes, per;
  const struct pn_window *w;
  const struct pool_tab *t;
};

/* n interior outputs of one row: y[o] = max over the taps of r[o * sx + tap], r the first
** window's origin. */
PN_TARGET_CLONES static void mp_row(const float *r, float *y, int64_t n, int64_t sx, int64_t iw,
                                    int64_t ky, int64_t kx, int64_t dy, int64_t dx) {
  const int64_t a = 0, b = n;
  if (sx == 1)
    for (int64_t ox = a; ox < b; ox++) y[ox] = r[ox];
  else if (sx == 2)
    for (int64_t ox = a; ox < b; ox++) y[ox] = r[2 * ox];
  else
    for (int64_t ox = a; ox < b; ox++) y[ox] = r[ox * sx];
  for (int64_t i = 0; i < ky; i++)
    for (int64_t k = 0; k < kx; k++) {
      if (i == 0 && k == 0) continue;
      const float *q = r + i * dy * iw + k * dx;
      if (sx == 1)
        for (int64_t ox = a; ox < b; ox++) y[ox] = q[ox] > y[ox] ? q[ox] : y[ox];
      else if (sx == 2)
        for (int64_t ox = a; ox < b; ox++) y[ox] = q[2 * ox] > y[ox] ? q[2 * ox] : y[ox];
      else
        for (int64_t ox = a; ox < b; ox++) y[ox] = q[ox * sx] > y[ox] ? q[ox * sx] : y[ox];
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MP_X86 1
#include "graph/k_x512.h"

/* Values q[l * sx] of lanes l < cnt (sx 1 or 2), read in masked loads: nothing past them. */
__attribute__((target("avx512f"))) static inline __m512 mp_taps(const float *q, int64_t sx,
                                                                int64_t cnt) {
  if (sx == 1) return _mm512_maskz_loadu_ps((__mmask16)((1u << cnt) - 1), q);
  int64_t span = 2 * cnt - 1;   /* floats from q[0] to q[2 (cnt - 1)] */
  __mmask16 m0 = span >= 16 ? 0xffff : (__mmask16)((1u << span) - 1);
  __mmask16 m1 = span > 16 ? (__mmask16)((1u << (span - 16)) - 1) : 0;
  return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0, q), pn_x512_even(),
                                _mm512_maskz_loadu_ps(m1, q + 16));
}

/* mp_row for strides 1 and 2 with AVX-512, 16 outputs a step: the taps in the same order, each
** taken where it is greater (an ordered compare: a NaN tap is skipped, a NaN first tap stays),
** so the same bits. */
__attribute__((target("avx512f"))) static void mp_row512(const float *r, float *y, int64_t n,
                                                         int64_t sx, int64_t iw, int64_t ky,
                                                         int64_t kx, int64_t dy, int64_t dx) {
  for (int64_t o0 = 0; o0 < n; o0 += 16) {
    int64_t cnt = n - o0 < 16 ? n - o0 : 16;
    __m512 acc = mp_taps(r + o0 * sx, sx, cnt);
    for (int64_t i = 0; i < ky; i++)
      for (int64_t k = 0; k < kx; k++) {
        if (i == 0 && k == 0) continue;
        __m512 v = mp_taps(r + i * dy * iw + k * dx + o0 * sx, sx, cnt);
        acc = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, acc, _CMP_GT_OQ), acc, v);
      }
    _mm512_mask_storeu_ps(y + o0, (__mmask16)((1u << cnt) - 1), acc);
  }
}

/* 2-D max pool rows with AVX-512, any padding: per block of 16 outputs of a row and kernel
** column kx, the lanes whose window column kx lies inside the image (mp_cols, worked out once per
** chunk from the pool's table). Each lane takes its first tap inside the image, then any greater
** one (an ordered compare: a NaN tap is skipped, a NaN first tap stays), the taps in the scalar
** loop's order, so the same bits, NaNs included; -FLT_MAX where a window is empty. The loads are
** masked to the lanes inside the image, so the padding is never read. The same row of NP planes
** runs side by side: which lanes have taken a value depends only on the masks, and each tap's
** compare-and-take waits for the previous one, so one plane alone is bound by that latency (a
** row of 8 outputs of resnet18's pool at 32x32: 9 dependent steps). */
#define MP_MAX_OW 1024
#define MP_MAX_KW 16
#define MP_NP 4
struct mp_cols {
  __mmask16 lane[MP_MAX_OW / 16][MP_MAX_KW];   /* lanes whose column kx lies in the image */
  __mmask16 el[MP_MAX_OW / 16][MP_MAX_KW][2];  /* sx 2: their elements in the two loads */
  bool full[MP_MAX_OW / 16];                   /* every lane of the block sees every kx */
};

/* Spread the 8 bits of v to the even bits of 16. */
static inline unsigned mp_even_bits(unsigned v) {
  v &= 0xffu;
  v = (v | v << 4) & 0x0f0fu;
  v = (v | v << 2) & 0x3333u;
  return (v | v << 1) & 0x5555u;
}

static void mp_cols_init(struct mp_cols *mc, const struct pn_window *w, const struct pool_tab *t) {
  int64_t ow = w->out[1], kw = w->k[1];
  for (int64_t b = 0; b < (ow + 15) / 16; b++) {
    int64_t cnt = ow - b * 16 < 16 ? ow - b * 16 : 16;
    mc->full[b] = true;
    for (int64_t kx = 0; kx < kw; kx++) {
      unsigned m = 0;
      for (int64_t l = 0; l < cnt; l++)
        if (t->lo[1][b * 16 + l] <= kx && kx < t->hi[1][b * 16 + l]) m |= 1u << l;
      mc->lane[b][kx] = (__mmask16)m;
      mc->el[b][kx][0] = (__mmask16)mp_even_bits(m);
      mc->el[b][kx][1] = (__mmask16)mp_even_bits(m >> 8);
      if (m != (1u << cnt) - 1) mc->full[b] = false;
    }
  }
}

/* The 16 lanes of a tap (sx 1 or 2) under the lane mask vm (elements e0, e1 for sx 2). */
__attribute__((target("avx512f"), always_inline)) static inline __m512
mp_load(uintptr_t q, int64_t sx, __mmask16 vm, __mmask16 e0, __mmask16 e1) {
  if (sx == 1) return _mm512_maskz_loadu_ps(vm, (const float *)q);
  return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(e0, (const float *)q), pn_x512_even(),
                                _mm512_maskz_loadu_ps(e1, (const float *)(q + 64)));
}

/* Output row oy of NP planes: x the first plane (the others follow every ps floats), y its output
** row (the others every ys floats). */
__attribute__((target("avx512f"), always_inline)) static inline void
mp_rows512(const float *x, int64_t ps, float *y, int64_t ys, int64_t oy, const struct pn_window *w,
           const struct pool_tab *t, const struct mp_cols *mc, const int NP) {
  int64_t ow = w->out[1], iw = w->in[1], kw = w->k[1], sx = w->s[1], dy = w->d[0], dx = w->d[1];
  int64_t ly = t->lo[0][oy], hy = t->hi[0][oy], ry = t->st[0][oy] * iw;
  const __m512 lowest = _mm512_set1_ps(-FLT_MAX);
  for (int64_t b = 0; b < (ow + 15) / 16; b++) {
    int64_t o0 = b * 16, cnt = ow - o0 < 16 ? ow - o0 : 16;
    /* lane 0's window origin in the first plane, as an integer (it may lie outside the plane) */
    uintptr_t org = (uintptr_t)x + (uintptr_t)((ry + t->st[1][o0]) * (int64_t)sizeof(float));
    __m512 acc[MP_NP];
    uintptr_t pstep = (uintptr_t)(ps * (int64_t)sizeof(float));
    if (ly == 0 && hy == w->k[0] && mc->full[b]) {
      /* every window of the block inside the image: the first tap, then any greater one */
      __mmask16 vm = mc->lane[b][0], e0 = mc->el[b][0][0], e1 = mc->el[b][0][1];
      for (int p = 0; p < NP; p++) acc[p] = mp_load(org + p * pstep, sx, vm, e0, e1);
      for (int64_t ky = 0; ky < hy; ky++)
        for (int64_t kx = 0; kx < kw; kx++) {
          if (ky == 0 && kx == 0) continue;
          uintptr_t q = org + (uintptr_t)((ky * dy * iw + kx * dx) * (int64_t)sizeof(float));
          for (int p = 0; p < NP; p++, q += pstep) {
            __m512 v = mp_load(q, sx, vm, e0, e1);
            acc[p] = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, acc[p], _CMP_GT_OQ), acc[p], v);
          }
        }
      for (int p = 0; p < NP; p++) _mm512_mask_storeu_ps(y + p * ys + o0, vm, acc[p]);
      continue;
    }
    for (int p = 0; p < NP; p++) acc[p] = _mm512_setzero_ps();
    __mmask16 seen = 0;
    for (int64_t ky = ly; ky < hy; ky++)
      for (int64_t kx = 0; kx < kw; kx++) {
        __mmask16 vm = mc->lane[b][kx], e0 = mc->el[b][kx][0], e1 = mc->el[b][kx][1];
        if (!vm) continue;
        uintptr_t q = org + (uintptr_t)((ky * dy * iw + kx * dx) * (int64_t)sizeof(float));
        for (int p = 0; p < NP; p++, q += pstep) {
          __m512 v = mp_load(q, sx, vm, e0, e1);
          __mmask16 take = (__mmask16)((vm & ~seen) |
                                       _mm512_mask_cmp_ps_mask((__mmask16)(vm & seen), v, acc[p],
                                                               _CMP_GT_OQ));
          acc[p] = _mm512_mask_mov_ps(acc[p], take, v);
        }
        seen |= vm;
      }
    for (int p = 0; p < NP; p++)
      _mm512_mask_storeu_ps(y + p * ys + o0, (__mmask16)((1u << cnt) - 1),
                            _mm512_mask_mov_ps(lowest, seen, acc[p]));
  }
}

/* Planes [p0, p1) of the pool, MP_NP at a time. */
__attribute__((target("avx512f"))) static void mp_planes512(const float *x, float *y, int64_t p0,
                                                            int64_t p1, const struct pn_window *w,
                                                            const struct pool_tab *t) {
  struct mp_cols mc;
  mp_cols_init(&mc, w, t);
  int64_t ps = w->in[0] * w->in[1], ys = w->out[0] * w->out[1], ow = w->out[1];
  for (int64_t pl = p0; pl < p1; pl += MP_NP) {
    const float *xp = x + pl * ps;
    float *yp = y + pl * ys;
    for (int64_t oy = 0; oy < w->out[0]; oy++) {
      switch (p1 - pl < MP_NP ? p1 - pl : MP_NP) {
      case 1: mp_rows512(xp, ps, yp + oy * ow, ys, oy, w, t, &mc, 1); break;
      case 2: mp_rows512(xp, ps, yp + oy * ow, ys, oy, w, t, &mc, 2); break;
      case 3: mp_rows512(xp, ps, yp + oy * ow, ys, oy, w, t, &mc, 3); break;
      default: mp_rows512(xp, ps, yp + oy * ow, ys, oy, w, t, &mc, 4); break;
      }
    }
  }
}
#endif

static void mp_chunk(void *arg, int64_t ch) {
  const struct mp_job *j = arg;
  const struct pn_window *w = j->w;
  const struct pool_tab *t = j->t;
  int64_t ih = w->in[0], iw = w->in[1], oh = w->out[0], ow = w->out[1], dy = w->d[0], dx = w->d[1];
  int64_t kh = w->k[0], kw = w->k[1], sx = w->s[1];
#ifdef MP_X86
  bool v512 = sx <= 2 && pn_cpu_level() >= PN_CPU_AVX512;
#endif
  /* interior columns: [ca, cb) (lo 0, hi kw; contiguous, as window starts grow with ox) */
  int64_t ca = 0, cb = 0;
  while (ca < ow && !(t->lo[1][ca] == 0 && t->hi[1][ca] == kw)) ca++;
  cb = ca;
  while (cb < ow && t->lo[1][cb] == 0 && t->hi[1][cb] == kw) cb++;
  int64_t p1 = (ch + 1) * j->per < j->planes ? (ch + 1) * j->per : j->planes;
#ifdef MP_X86
  if (v512 && ow <= MP_MAX_OW && kw <= MP_MAX_KW) {
    mp_planes512(j->x, j->y, ch * j->per, p1, w, t);
    return;
  }
#endif
  for (int64_t pl = ch * j->per; pl < p1; pl++) {
    const float *xp = j->x + pl * ih * iw;
    float *yp = j->y + pl * oh * ow;
    for (int64_t oy = 0; oy < oh; oy++) {
      int64_t ly = t->lo[0][oy], hy = t->hi[0][oy];
      int64_t ry = t->st[0][oy] * iw;   /* window origin (may lie in the padding) */
      bool inner = ly == 0 && hy == kh && ca < cb;
#ifdef MP_X86
      if (inner && v512)
        mp_row512(xp + ry + t->st[1][ca], yp + oy * ow + ca, cb - ca, sx, iw, kh, kw, dy, dx);
      else
#endif
      if (inner) mp_row(xp + ry + t->st[1][ca], yp + oy * ow + ca, cb - ca, sx, iw, kh, kw, dy, dx);
      for (int64_t ox = 0; ox < ow; ox++) {
        if (inner && ox == ca) ox = cb;
        if (ox >= ow) break;
        int64_t lx = t->lo[1][ox], hx = t->hi[1][ox], org = ry + t->st[1][ox];
        float best = -FLT_MAX;
        if (ly < hy && lx < hx) {
          best = xp[org + ly * dy * iw + lx * dx];
          for (int64_t ky = ly; ky < hy; ky++) {
            const float *row = xp + org + ky * dy * iw + lx * dx;
            for (int64_t kx = 0; kx < hx - lx; kx++) {
              float v = row[kx * dx];
              best = v > best ? v : best;
            }
          }
        }
        yp[oy * ow + ox] = best;
      }
    }
  }
}

static void max_pool2d_f32(const float *x, float *y, int64_t planes, const struct pn_window *w,
                           const struct pool_tab *t) {
  int threads = omp_get_max_threads();
  int64_t work = planes * w->out[0] * w->out[1] * w->k[0] * w->k[1];
  if (threads < 1 || work < (1 << 18)) threads = 1;
  int64_t nchunk = threads > 1 ? 4 * (int64_t)threads : 1;
  if (nchunk > planes) nchunk = planes;
  struct mp_job j = {x, y, planes, (planes + nchunk - 1) / nchunk, w, t};
  pn_par_for(threads, (planes + j.per - 1) / j.per, mp_chunk, &j);
}
DEF_MAX_POOL(int8_t, max_pool_i8, INT8_MIN)
DEF_MAX_POOL(uint8_t, max_pool_u8, 0)

#define DEF_AVG_POOL(T, FN)                                                                      \
  static void FN(const T *x, T *y, int64_t planes, const struct pn_window *w,                    \
                 const struct pool_tab *t, bool cip) {                                           \
    int64_t in_sz = pn_shape_numel(w->nsp, w->in), out_sz = pn_shape_numel(w->nsp, w->out);    \
    _Pragma("omp parallel for schedule(static) if (planes * out_sz > 16384)")                    \
    for (int64_t pl = 0; pl < planes; pl++) {                                                    \
      const T *xp = x + pl * in_sz;                                                              \
      T *yp = y + pl * out_sz;                                                                   \
      if (w->nsp == 2) {                                                                         \
        int64_t wd = w->in[1], dy = w->d[0], dx = w->d[1], q = 0;                                \
        for (int64_t oy = 0; oy < w->out[0]; oy++) {                                             \
          int64_t sy = t->st[0][oy], ly = t->lo[0][oy], hy = t->hi[0][oy];                      \
          for (int64_t ox = 0; ox < w->out[1]; ox++, q++) {                                      \
            int64_t sx = t->st[1][ox], lx = t->lo[1][ox], hx = t->hi[1][ox];                     \
            double sum = 0;                                                                      \
            for (int64_t ky = ly; ky < hy; ky++) {                                               \
              const T *row = xp + (sy + ky * dy) * wd + sx;                                      \
              for (int64_t kx = lx; kx < hx; kx++) sum += row[kx * dx];                          \
            }                                                                                    \
            int64_t cnt = cip ? t->np[0][oy] * t->np[1][ox] : (hy - ly) * (hx - lx);             \
            yp[q] = (T)(cnt > 0 ? sum / (double)cnt : 0.0);                                      \
          }                                                                                      \
        }                                                                                        \
        continue;                                                                                \
      }                                                                                          \
      int64_t o[PN_MAX_DIMS] = {0}, kk[PN_MAX_DIMS];                                             \
      for (int64_t q = 0; q < out_sz; q++, out_next(w, o)) {                                     \
        double sum = 0;                                                                          \
        int64_t cnt = 1;                                                                         \
        for (int i = 0; i < w->nsp; i++)                                                         \
          cnt *= cip ? t->np[i][o[i]] : t->hi[i][o[i]] - t->lo[i][o[i]];                         \
        if (win_first(w, t, o, kk)) {                                                            \
          do sum += xp[win_offset(w, t, o, kk)];                                                 \
          while (win_next(w, t, o, kk));                                                         \
        }                                                                                        \
        yp[q] = (T)(cnt > 0 ? sum / (double)cnt : 0.0);                                          \
      }                                                                                          \
    }                                                                                            \
  }

DEF_AVG_POOL(float, avg_pool_f32)
DEF_AVG_POOL(double, avg_pool_f64)

static int pool_run(const struct pn_op_args *a, enum pool_kind kind,
                    const struct pn_tensor *const *in, struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *x = in[0];
  struct pn_tensor *y = out[0], *ind = n_out > 1 ? out[1] : NULL;
  if (!x || !y) return pn_op_err(a, PN_ERR_INVALID, "missing input X or output Y");
  struct pn_shape xs;
  pn_shape_set(&xs, x->dtype, x->ndim, x->dims);
  struct pn_window w;
  int rank, rc = pool_setup(a, kind, &xs, &w, &rank);
  if (rc) return rc;
  bool ok = y->dtype == x->dtype && y->ndim == rank && y->dims[0] == x->dims[0] &&
            y->dims[1] == x->dims[1];
  for (int i = 0; ok && i < w.nsp; i++) ok = y->dims[2 + i] == w.out[i];
  if (ind) ok = ok && ind->dtype == PN_DT_INT64 && pn_tensor_numel(ind) == pn_tensor_numel(y);
  if (!ok) return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape or dtype");
  int64_t planes = x->dims[0] * x->dims[1];
  if (w.nsp == 1) {            /* lift 1-D to 2-D: a leading spatial dim of size 1 */
    for (int j = PN_MAX_DIMS - 1; j > 0; j--) {
      w.in[j] = w.in[j - 1], w.k[j] = w.k[j - 1], w.s[j] = w.s[j - 1], w.d[j] = w.d[j - 1];
      w.pb[j] = w.pb[j - 1], w.pe[j] = w.pe[j - 1], w.out[j] = w.out[j - 1];
    }
    w.in[0] = w.k[0] = w.s[0] = w.d[0] = w.out[0] = 1;
    w.pb[0] = w.pe[0] = 0;
    w.nsp = 2;
  }
  struct pool_tab t;
  if (pool_tab_init(&t, &w)) return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  if (kind == POOL_MAX) {
    int64_t so;
    if ((rc = pn_node_get_int(a->ctx, a->node, "storage_order", 0, &so))) goto done;
    int64_t *ip = ind ? ind->data : NULL;
    switch (x->dtype) {
    case PN_DT_FLOAT:
      if (!ip && w.nsp == 2) max_pool2d_f32(x->data, y->data, planes, &w, &t);
      else max_pool_f32(x->data, y->data, ip, planes, &w, &t, so);
      break;
    case PN_DT_DOUBLE: max_pool_f64(x->data, y->data, ip, planes, &w, &t, so); break;
    case PN_DT_INT8: max_pool_i8(x->data, y->data, ip, planes, &w, &t, so); break;
    default: max_pool_u8(x->data, y->data, ip, planes, &w, &t, so); break;
    }
  } else {
    int64_t cip;
    if ((rc = pn_node_get_int(a->ctx, a->node, "count_include_pad", 0, &cip))) goto done;
    if (x->dtype == PN_DT_FLOAT) avg_pool_f32(x->data, y->data, planes, &w, &t, cip != 0);
    else avg_pool_f64(x->data, y->data, planes, &w, &t, cip != 0);
  }
done:
  free(t.mem);
  return rc;
}

int pn_run_max_pool(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                    struct pn_tensor *const *out, int n_out) {
  return pool_run(a, POOL_MAX, in, out, n_out);
}

int pn_run_average_pool(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                        struct pn_tensor *const *out, int n_out) {
  return pool_run(a, POOL_AVG, in, out, n_out);
}

/* ---- global pools ---- */

static int global_infer(const struct pn_op_args *a, const struct pn_shape *in,
                        struct pn_shape *out) {
  const struct pn_shape *xs = &in[0];
  if (xs->dtype != PN_DT_UNDEFINED && xs->dtype != PN_DT_FLOAT && xs->dtype != PN_DT_DOUBLE)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s of X", pn_dtype_name(xs->dtype));
  if (xs->ndim >= 0 && xs->ndim < 3)
    return pn_op_err(a, PN_ERR_INVALID, "input X has rank %d, expected N x C x spatial (>= 3)",
                     xs->ndim);
  int64_t dims[PN_MAX_DIMS];
  for (int i = 0; i < xs->ndim; i++) dims[i] = i < 2 ? xs->dims[i] : 1;
  pn_shape_set(out, xs->dtype, xs->ndim, dims);
  return PN_OK;
}

int pn_infer_global_average_pool(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                                 struct pn_shape *out, int n_out) {
  return global_infer(a, in, out);
}

int pn_infer_global_max_pool(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                             struct pn_shape *out, int n_out) {
  return global_infer(a, in, out);
}

static int global_run(const struct pn_op_args *a, bool is_max, const struct pn_tensor *const *in,
                      struct pn_tensor *const *out) {
  const struct pn_tensor *x = in[0];
  struct pn_tensor *y = out[0];
  if (!x || !y) return pn_op_err(a, PN_ERR_INVALID, "missing input X or output Y");
  struct pn_shape xs, ys;
  pn_shape_set(&xs, x->dtype, x->ndim, x->dims);
  int rc = global_infer(a, &xs, &ys);
  if (rc) return rc;
  if (y->dtype != x->dtype || y->ndim != x->ndim || pn_tensor_numel(y) != x->dims[0] * x->dims[1])
    return pn_op_err(a, PN_ERR_INVALID, "output Y has the wrong shape or dtype");
  int64_t planes = x->dims[0] * x->dims[1], sp = pn_shape_numel(x->ndim - 2, x->dims + 2);
  bool dbl = x->dtype == PN_DT_DOUBLE;
#pragma omp parallel for schedule(static) if (planes * sp > 65536)
  for (int64_t pl = 0; pl < planes; pl++) {
    double acc = 0;
    if (dbl) {
      const double *xp = (const double *)x->data + pl * sp;
      acc = sp > 0 && is_max ? xp[0] : 0;
      for (int64_t i = 0; i < sp; i++) {
        if (is_max) acc = xp[i] > acc ? xp[i] : acc;
        else acc += xp[i];
      }
    } else {
      const float *xp = (const float *)x->data + pl * sp;
      acc = sp > 0 && is_max ? xp[0] : 0;
      for (int64_t i = 0; i < sp; i++) {
        if (is_max) acc = xp[i] > acc ? xp[i] : acc;
        else acc += xp[i];
      }
    }
    if (!is_max && sp > 0) acc /= (double)sp;
    if (dbl) ((double *)y->data)[pl] = acc;
    else ((float *)y->data)[pl] = (float)acc;
  }
  return PN_OK;
}

int pn_run_global_average_pool(const struct pn_op_args *a, const struct pn_tensor *const *in,
                               int n_in, struct pn_tensor *const *out, int n_out) {
  return global_run(a, false, in, out);
}

int pn_run_global_max_pool(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                           struct pn_tensor *const *out, int n_out) {
  return global_run(a, true, in, out);
}
