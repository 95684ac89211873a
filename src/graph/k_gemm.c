/* k_gemm.c - single-precision GEMM whose left operand (constant weights) is packed once.
**
** C (m x n, row-major) = A (m x k) * B (k x n), with A packed by pn_gemm_pack when the executor
** first runs a node and kept, so no call repacks the weights (OpenBLAS's sgemm has no public
** pre-pack and repacked every filter matrix per call: 14% of resnet18/224 at one thread went to
** sgemm_oncopy). B is packed per call by a caller-given function, in blocks of GEMM_KC rows x
** GEMM_NC columns, so a convolution can pack straight from its input (implicit GEMM, no im2col
** buffer) and a 1x1 convolution from the NCHW input itself.
**
** Blocking: a packed block of B (KC x NC floats, 512 KiB) stays in L2; for each MR-row panel of
** A (MR x KC, 8 KiB, in L1) the microkernel sweeps the block's NR-column panels, accumulating an
** MR x NR tile of C in registers over KC steps, then adds it to C (after the first K block),
** with the bias, a residual (pn_act.res: the executor's Conv -> Add) and a fused activation
** (Relu, Clip) after the last. Kernels: AVX-512 (8 x 32 tile in 16 zmm accumulators, 8 x 16 for
** narrow blocks; FMA), AVX2 (4 x 16 sub-tiles, FMA) and portable C, chosen by pn_cpu_level()
** (PN_CPU caps it). The kernels differ in rounding (FMA or not); the order of the sum over k is
** the same. */
#include <immintrin.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_dense.h"
#include "graph/k_x512.h"
#include "util/cpu.h"

#define MR PN_GEMM_MR
#define NR PN_GEMM_NR
#define KC 256
#define NC 512
/* The kernel's first call on a panel of A prefetches the panel PF_AHEAD panels on (see
** pn_gemm_run). */
#define PF_AHEAD 2

size_t pn_gemm_packed_size(int64_t m, int64_t k) {
  int64_t mp = (m + MR - 1) / MR * MR;
  return (size_t)(mp * k);
}

/* Layout: K blocks of KC rows in order; in each, the MR-row panels in order; in each panel, for
** every k of the block, MR consecutive values of A's column k (rows past m are zero). */
void pn_gemm_pack(const float *a, int64_t lda, int64_t m, int64_t k, float *dst) {
  int64_t mp = (m + MR - 1) / MR * MR;
  for (int64_t k0 = 0; k0 < k; k0 += KC) {
    int64_t kc = k - k0 < KC ? k - k0 : KC;
    for (int64_t i0 = 0; i0 < mp; i0 += MR) {
      float *d = dst + k0 * mp + i0 * kc;
      for (int64_t kk = 0; kk < kc; kk++)
        for (int r = 0; r < MR; r++)
          d[kk * MR + r] = i0 + r < m ? a[(i0 + r) * lda + k0 + kk] : 0.0f;
    }
  }
}

void pn_gemm_packb_rows(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                        float *dst) {
  const struct pn_gemm_rows *b = ctx;
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    int64_t w = nc - j0 < NR ? nc - j0 : NR;
    float *d = dst + j0 * kc;
    const float *s = b->b + k0 * b->ld + n0 + j0;
    if (w == NR) {
      for (int64_t kk = 0; kk < kc; kk++) memcpy(d + kk * NR, s + kk * b->ld, NR * sizeof *d);
    } else {
      for (int64_t kk = 0; kk < kc; kk++) {
        memcpy(d + kk * NR, s + kk * b->ld, (size_t)w * sizeof *d);
        memset(d + kk * NR + w, 0, (size_t)(NR - w) * sizeof *d);
      }
    }
  }
}

enum { F_ACC = 1, F_EPI = 2 };

/* Write tile t (MR x NR, row-major) to C's rows [0, rows) x columns [0, cols): added to C when
** F_ACC, then bias (per row, may be NULL) and the activation when F_EPI. */
static void tile_store(const float *t, float *c, int64_t ldc, int rows, int cols, int flags,
                       const float *bias, const struct pn_act *act) {
  for (int r = 0; r < rows; r++) {
    float *cr = c + r * ldc;
    const float *tr = t + r * NR;
    float bv = (flags & F_EPI) && bias ? bias[r] : 0.0f;
    const float *rr = (flags & F_EPI) && act->res ? pn_act_res(act, cr) : NULL;
    for (int j = 0; j < cols; j++) {
      float v = tr[j];
      if (flags & F_ACC) v += cr[j];
      if (flags & F_EPI) {
        v += bv;
        if (rr) v += rr[j];
        v = pn_act_apply(*act, v);
      }
      cr[j] = v;
    }
  }
}

static void kern_c(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc, int rows,
                   int cols, int flags, const float *bias, const struct pn_act *act,
                   const float *pf, const float *pfb) {
  (void)pf, (void)pfb;
  float t[MR * NR];
  memset(t, 0, sizeof t);
  for (int64_t kk = 0; kk < kc; kk++, ap += MR, bp += NR)
    for (int r = 0; r < MR; r++) {
      float a = ap[r];
      for (int j = 0; j < NR; j++) t[r * NR + j] += a * bp[j];
    }
  tile_store(t, c, ldc, rows, cols, flags, bias, act);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PN_GEMM_X86 1

__attribute__((target("avx2,fma"))) static void kern_avx2(int64_t kc, const float *ap,
                                                          const float *bp, float *c, int64_t ldc,
                                                          int rows, int cols, int flags,
                                                          const float *bias,
                                                          const struct pn_act *act,
                                                          const float *pf, const float *pfb) {
  (void)pfb;
  _Alignas(32) float t[MR * NR];
  for (int h = 0; h < MR / 4; h++)
    for (int q = 0; q < NR / 16; q++) {
      if (4 * h >= rows || 16 * q >= cols) continue;
      __m256 s00 = _mm256_setzero_ps(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00,
             s30 = s00, s31 = s00;
      const float *a = ap + 4 * h, *b = bp + 16 * q, *pa = h == 0 && q == 0 ? pf : NULL;
      for (int64_t kk = 0; kk < kc; kk++, a += MR, b += NR) {
        if (pa && !(kk & 1)) _mm_prefetch((const char *)(pa + kk * MR), _MM_HINT_T0);
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), x;
        x = _mm256_broadcast_ss(a);
        s00 = _mm256_fmadd_ps(x, b0, s00);
        s01 = _mm256_fmadd_ps(x, b1, s01);
        x = _mm256_broadcast_ss(a + 1);
        s10 = _mm256_fmadd_ps(x, b0, s10);
        s11 = _mm256_fmadd_ps(x, b1, s11);
        x = _mm256_broadcast_ss(a + 2);
        s20 = _mm256_fmadd_ps(x, b0, s20);
        s21 = _mm256_fmadd_ps(x, b1, s21);
        x = _mm256_broadcast_ss(a + 3);
        s30 = _mm256_fmadd_ps(x, b0, s30);
        s31 = _mm256_fmadd_ps(x, b1, s31);
      }
      float *d = t + 4 * h * NR + 16 * q;
      _mm256_store_ps(d, s00);
      _mm256_store_ps(d + 8, s01);
      _mm256_store_ps(d + NR, s10);
      _mm256_store_ps(d + NR + 8, s11);
      _mm256_store_ps(d + 2 * NR, s20);
      _mm256_store_ps(d + 2 * NR + 8, s21);
      _mm256_store_ps(d + 3 * NR, s30);
      _mm256_store_ps(d + 3 * NR + 8, s31);
    }
  tile_store(t, c, ldc, rows, cols, flags, bias, act);
}

/* pn_act_apply on 16 lanes: max(v, 0) is 0 for NaN like Relu's v > 0 ? v : 0; Clip's ordered
** compares keep NaN. */
__attribute__((target("avx512f"))) static inline __m512 act512(const struct pn_act *a, __m512 v) {
  if (a->kind == PN_ACT_RELU) return _mm512_max_ps(v, _mm512_setzero_ps());
  if (a->kind == PN_ACT_CLIP) {
    __m512 lo = _mm512_set1_ps(a->lo), hi = _mm512_set1_ps(a->hi);
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, lo, _CMP_LT_OQ), v, lo);
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, hi, _CMP_GT_OQ), v, hi);
  }
  return v;
}

/* Rows [0, rows) of a tile's columns [0, cols) from acc[r][0] (columns 0-15) and acc[r][1]
** (16-31): added to C when F_ACC, then bias and the activation when F_EPI. */
__attribute__((target("avx512f"), always_inline)) static inline void
store512(__m512 (*acc)[2], float *c, int64_t ldc, int rows, int cols, int flags, const float *bias,
         const struct pn_act *act) {
  __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
  __mmask16 m1 = cols >= 32 ? 0xffff : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    if (r >= rows) break;
    float *cr = c + r * ldc;
    __m512 v0 = acc[r][0], v1 = acc[r][1];
    if (flags & F_ACC) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
    }
    if (flags & F_EPI) {
      if (bias) {
        __m512 bv = _mm512_set1_ps(bias[r]);
        v0 = _mm512_add_ps(v0, bv);
        v1 = _mm512_add_ps(v1, bv);
      }
      if (act->res) {   /* the residual after the bias, as the unfused Add */
        const float *rr = pn_act_res(act, cr);
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, rr));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, rr + 16));
      }
      v0 = act512(act, v0);
      v1 = act512(act, v1);
    }
    _mm512_mask_storeu_ps(cr, m0, v0);
    _mm512_mask_storeu_ps(cr + 16, m1, v1);
  }
}

/* The two lines of a step of a packed B panel (NR floats). */
__attribute__((target("avx512f"))) static inline void prefetch_b(const float *p) {
  _mm_prefetch((const char *)p, _MM_HINT_T0);
  _mm_prefetch((const char *)(p + 16), _MM_HINT_T0);
}

/* Tiles of 17 to 16 + GEMM_XT columns (a 7x7 map's 49 = 32 + 17): columns 0-15 as in the full
** kernel, each further column j in one 8-lane accumulator over the MR rows (A's packed column k
** times B's value broadcast), instead of a second 16-lane vector per row that is mostly padding:
** per k, MR full and cols - 16 half-width FMAs where the full tile does 2 MR full ones. Each
** output is the same chain of FMAs over k from 0 as in the full tile, and the same store: the
** same bits. */
#define GEMM_XT 4
__attribute__((target("avx512f,fma"), always_inline)) static inline void
kern512_xt(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc, int rows, int cols,
           int flags, const float *bias, const struct pn_act *act, const float *pf,
           const float *pfb, const int xt) {
  __m512 acc[MR][2];
  __m256 ax[GEMM_XT];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) acc[r][0] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int j = 0; j < GEMM_XT; j++) ax[j] = _mm256_setzero_ps();
#pragma GCC unroll 2
  for (int64_t kk = 0; kk < kc; kk++, ap += MR, bp += NR) {
    if (pf && !(kk & 1)) _mm_prefetch((const char *)(pf + kk * MR), _MM_HINT_T0);
    if (pfb) prefetch_b(pfb + kk * NR);
    __m512 b0 = _mm512_load_ps(bp);
    __m256 a8 = _mm256_loadu_ps(ap);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) acc[r][0] = _mm512_fmadd_ps(_mm512_set1_ps(ap[r]), b0, acc[r][0]);
#pragma GCC unroll 4
    for (int j = 0; j < GEMM_XT; j++)
      if (j < xt) ax[j] = _mm256_fmadd_ps(a8, _mm256_set1_ps(bp[16 + j]), ax[j]);
  }
  float t[GEMM_XT][MR];
#pragma GCC unroll 4
  for (int j = 0; j < GEMM_XT; j++)
    if (j < xt) _mm256_storeu_ps(t[j], ax[j]);
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    float row[16] = {0};
    for (int j = 0; j < xt; j++) row[j] = t[j][r];
    acc[r][1] = _mm512_loadu_ps(row);
  }
  store512(acc, c, ldc, rows, cols, flags, bias, act);
}

__attribute__((target("avx512f,fma"))) static void kern512_x(int64_t kc, const float *ap,
                                                                 const float *bp, float *c,
                                                                 int64_t ldc, int rows, int cols,
                                                                 int flags, const float *bias,
                                                                 const struct pn_act *act,
                                                                 const float *pf,
                                                                 const float *pfb) {
  switch (cols - 16) {
  case 1: kern512_xt(kc, ap, bp, c, ldc, rows, cols, flags, bias, act, pf, pfb, 1); break;
  case 2: kern512_xt(kc, ap, bp, c, ldc, rows, cols, flags, bias, act, pf, pfb, 2); break;
  case 3: kern512_xt(kc, ap, bp, c, ldc, rows, cols, flags, bias, act, pf, pfb, 3); break;
  default: kern512_xt(kc, ap, bp, c, ldc, rows, cols, flags, bias, act, pf, pfb, 4); break;
  }
}

__attribute__((target("avx512f"))) static void kern_avx512(int64_t kc, const float *ap,
                                                          const float *bp, float *c,
                                                          int64_t ldc, int rows, int cols,
                                                          int flags, const float *bias,
                                                          const struct pn_act *act,
                                                          const float *pf, const float *pfb) {
  __m512 zero = _mm512_setzero_ps();
  if (cols <= 16) {   /* narrow blocks (small images, few Winograd tiles): half the work */
    __m512 acc1[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) acc1[r] = zero;
#pragma GCC unroll 2
    for (int64_t kk = 0; kk < kc; kk++, ap += MR, bp += NR) {
      if (pf && !(kk & 1)) _mm_prefetch((const char *)(pf + kk * MR), _MM_HINT_T0);
      if (pfb) prefetch_b(pfb + kk * NR);
      __m512 b0 = _mm512_load_ps(bp);
#pragma GCC unroll 8
      for (int r = 0; r < MR; r++) acc1[r] = _mm512_fmadd_ps(_mm512_set1_ps(ap[r]), b0, acc1[r]);
    }
    __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      if (r >= rows) break;
      float *cr = c + r * ldc;
      __m512 v0 = acc1[r];
      if (flags & F_ACC) v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
      if (flags & F_EPI) {
        if (bias) v0 = _mm512_add_ps(v0, _mm512_set1_ps(bias[r]));
        if (act->res) v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, pn_act_res(act, cr)));
        v0 = act512(act, v0);
      }
      _mm512_mask_storeu_ps(cr, m0, v0);
    }
    return;
  }
  if (cols <= 16 + GEMM_XT) {
    kern512_x(kc, ap, bp, c, ldc, rows, cols, flags, bias, act, pf, pfb);
    return;
  }
  __m512 acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = zero;
#pragma GCC unroll 2
  for (int64_t kk = 0; kk < kc; kk++, ap += MR, bp += NR) {
    if (pf && !(kk & 1)) _mm_prefetch((const char *)(pf + kk * MR), _MM_HINT_T0);
    if (pfb) prefetch_b(pfb + kk * NR);
    __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      __m512 x = _mm512_set1_ps(ap[r]);
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  store512(acc, c, ldc, rows, cols, flags, bias, act);
}
#endif

typedef void (*kern_fn)(int64_t, const float *, const float *, float *, int64_t, int, int, int,
                        const float *, const struct pn_act *, const float *, const float *);

static kern_fn pick_kernel(void) {
#ifdef PN_GEMM_X86
  enum pn_cpu_level l = pn_cpu_level();
  if (l >= PN_CPU_AVX512) return kern_avx512;
  if (l >= PN_CPU_AVX2) return kern_avx2;
#endif
  return kern_c;
}

/* With B packed whole (a constant MatMul weight: BERT's linear layers, 340 MB), the first panel
** of A reads each slice of B from memory and the others from L2; its kernel calls prefetch, two
** lines a k step, the slice it reads next (the slices are a panel's k rows apart, a jump the
** hardware prefetcher does not follow): BERT/128 one thread 125.6-129.6 -> 117.7-120.7 ms
** median (three interleaved pairs, load ~1, 2026-12-06). This is that slice: the block's next
** panel, else the next K block's first, else the next column block's; NULL after the last. */
static const float *next_slice(const float *pre, int64_t k, int64_t n1, int64_t j0, int64_t nc,
                               int64_t k0, int64_t jj) {
  if (jj + NR < nc) return pre + (j0 + jj + NR) / NR * k * NR + k0 * NR;
  if (k0 + KC < k) return pre + j0 / NR * k * NR + (k0 + KC) * NR;
  if (j0 + NC < n1) return pre + (j0 + NC) / NR * k * NR;
  return NULL;
}

/* The packed block of B, per thread, kept across calls (a run would otherwise page-fault a
** fresh one in for every convolution). */
static _Thread_local float *tl_bp;

int pn_gemm_run(const float *ap, int64_t m, int64_t k, int64_t m0, int64_t m1, int64_t n0,
                int64_t n1, pn_gemm_packb_fn packb, const void *ctx, float *c, int64_t ldc,
                const float *bias, struct pn_act act) {
  if (m0 >= m1 || n0 >= n1) return 0;
  if (k <= 0) {   /* C = act(bias (+ res)) */
    for (int64_t i = m0; i < m1; i++)
      for (int64_t j = n0; j < n1; j++) {
        float *cp = c + (i - m0) * ldc + j, v = bias ? bias[i] : 0.0f;
        *cp = pn_act_apply(act, act.res ? v + *pn_act_res(&act, cp) : v);
      }
    return 0;
  }
  const float *pre = packb ? NULL : ctx;   /* B already packed, whole */
  if (!pre && !tl_bp && !(tl_bp = aligned_alloc(64, (size_t)KC * NC * sizeof *tl_bp))) return -1;
  float *bp = tl_bp;
  kern_fn kern = pick_kernel();
  int64_t mp = (m + MR - 1) / MR * MR;
  for (int64_t j0 = n0; j0 < n1; j0 += NC) {
    int64_t nc = n1 - j0 < NC ? n1 - j0 : NC;
    for (int64_t k0 = 0; k0 < k; k0 += KC) {
      int64_t kc = k - k0 < KC ? k - k0 : KC;
      if (!pre) packb(ctx, k0, kc, j0, nc, bp);
      int flags = (k0 > 0 ? F_ACC : 0) | (k0 + kc >= k ? F_EPI : 0);
      /* A's panels are read in order, each once per block from memory (a model's filters do not
      ** stay in L3 between runs: resnet50's are 100 MB) and then from L1 for the block's other
      ** column panels. Where a block has few columns (the 7x7 and 14x14 maps' 49 and 196) each
      ** panel is used for little work and the hardware prefetcher's reach was not enough: a 1x1
      ** Conv 2048 -> 512 on 7x7 ran at 0.44-0.48 ms alone (filters in L3, as ONNX Runtime) but
      ** 0.81 ms inside resnet50. So the first call on a panel prefetches, one line every two k
      ** steps, the panel PF_AHEAD on (the next K block's first panels after the last; nothing
      ** past the packed matrix). One thread, load ~1 (2026-12-06): resnet50/224 35.6-36.1 ->
      ** 30.8-31.2 ms median, resnet18/224 12.9-13.1 -> 11.6-12.0, the outputs the same bits; 1
      ** panel ahead gained about half of that, 4 no more than 2. */
      for (int64_t i0 = m0; i0 < m1; i0 += MR) {
        int64_t pf_off = k0 * mp + i0 * kc;
        const float *a = ap + pf_off;
        int rows = m1 - i0 < MR ? (int)(m1 - i0) : MR;
        const float *bi = bias ? bias + i0 : NULL;
        for (int64_t jj = 0; jj < nc; jj += NR) {
          int cols = nc - jj < NR ? (int)(nc - jj) : NR;
          const float *b = pre ? pre + (j0 + jj) / NR * k * NR + k0 * NR : bp + jj * kc;
          kern(kc, a, b, c + (i0 - m0) * ldc + j0 + jj, ldc, rows, cols, flags, bi, &act,
               jj == 0 && pf_off + PF_AHEAD * MR * kc < mp * k ? a + PF_AHEAD * MR * kc : NULL,
               pre && i0 == m0 ? next_slice(pre, k, n1, j0, nc, k0, jj) : NULL);
        }
      }
    }
  }
  return 0;
}

/* Where row k of the implicit im2col matrix of a 2-D convolution reads: output (oy, ox) sees
** plane[(oy * sy + offy) * rs + ox * step + shift], 0 in the padding; [lo, hi) are the columns ox
** whose input column is inside the image. Worked out once per row of a packed block. */
struct im2col_row {
  const float *plane;
  int64_t rs, step, shift, offy, lo, hi;
};

/* cnt values of a row from output position (oy, ox) on, into d. */
static void conv_row(const struct im2col_row *r, const struct pn_window *w, int64_t oy,
                     int64_t ox, int64_t cnt, float *d) {
  int64_t ow = w->out[1], ih = w->in[0], sy = w->s[0];
  while (cnt > 0) {
    int64_t seg = ow - ox < cnt ? ow - ox : cnt, iy = oy * sy + r->offy, e = ox + seg;
    if (iy < 0 || iy >= ih) {
      memset(d, 0, (size_t)seg * sizeof *d);
    } else {
      const float *xr = r->plane + iy * r->rs;
      int64_t sh = r->shift;
      int64_t vlo = r->lo > ox ? r->lo : ox, vhi = r->hi < e ? r->hi : e;
      if (vhi < ox) vhi = ox;
      if (vlo > vhi) vlo = vhi;
      if (r->step == 1 && vlo == ox && vhi == e && seg == NR) {
        memcpy(d, xr + ox + sh, NR * sizeof *d);   /* a whole panel row inside the image */
      } else {
        for (int64_t q = ox; q < vlo; q++) d[q - ox] = 0.0f;
        if (r->step == 1)
          memcpy(d + (vlo - ox), xr + vlo + sh, (size_t)(vhi - vlo) * sizeof *d);
        else
          for (int64_t q = vlo; q < vhi; q++) d[q - ox] = xr[q * r->step + sh];
        for (int64_t q = vhi; q < e; q++) d[q - ox] = 0.0f;
      }
    }
    d += seg;
    cnt -= seg;
    ox = 0;
    oy++;
  }
}

#ifdef PN_GEMM_X86
/* One row of pn_gemm_conv2d_phases at stride 2 with AVX-512: 32 columns in two masked loads (0
** past the row), their even and odd lanes by two-register permutes, 16 into each phase's row. */
__attribute__((target("avx512f"))) static void phases2_row512(const float *xr, int64_t iw,
                                                              float *d0, float *d1, int64_t sw) {
  const __m512i ev = pn_x512_even(), od = pn_x512_odd();
  for (int64_t j = 0; j < sw; j += 16) {
    int64_t q = 2 * j, n0 = iw - q, n1 = iw - q - 16, nw = sw - j;
    __mmask16 m0 = n0 >= 16 ? 0xffff : (__mmask16)((1u << n0) - 1);
    __mmask16 m1 = n1 >= 16 ? 0xffff : n1 > 0 ? (__mmask16)((1u << n1) - 1) : 0;
    __mmask16 ms = nw >= 16 ? 0xffff : (__mmask16)((1u << nw) - 1);
    __m512 a = _mm512_maskz_loadu_ps(m0, xr + q);
    __m512 b = m1 ? _mm512_maskz_loadu_ps(m1, xr + q + 16) : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(d0 + j, ms, _mm512_permutex2var_ps(a, ev, b));
    _mm512_mask_storeu_ps(d1 + j, ms, _mm512_permutex2var_ps(a, od, b));
  }
}
#endif

void pn_gemm_conv2d_phases(const float *x, int64_t c, const struct pn_window *w, float *xs) {
  int64_t ih = w->in[0], iw = w->in[1], sx = w->s[1], sw = (iw + sx - 1) / sx;
#ifdef PN_GEMM_X86
  if (sx == 2 && pn_cpu_level() >= PN_CPU_AVX512) {
    for (int64_t ch = 0; ch < c; ch++)
      for (int64_t iy = 0; iy < ih; iy++)
        phases2_row512(x + (ch * ih + iy) * iw, iw, xs + (2 * ch * ih + iy) * sw,
                       xs + ((2 * ch + 1) * ih + iy) * sw, sw);
    return;
  }
#endif
  for (int64_t ch = 0; ch < c; ch++)
    for (int64_t ph = 0; ph < sx; ph++)
      for (int64_t iy = 0; iy < ih; iy++) {
        const float *xr = x + (ch * ih + iy) * iw;
        float *d = xs + ((ch * sx + ph) * ih + iy) * sw;
        int64_t j = 0;
        for (; j * sx + ph < iw; j++) d[j] = xr[j * sx + ph];
        for (; j < sw; j++) d[j] = 0.0f;
      }
}

void pn_gemm_packb_conv2d(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                          float *dst) {
  const struct pn_gemm_conv2d *cv = ctx;
  const struct pn_window *w = cv->win;
  int64_t kh = w->k[0], kw = w->k[1], kp = kh * kw, ih = w->in[0], iw = w->in[1];
  int64_t sx = w->s[1], sw = (iw + sx - 1) / sx, ow = w->out[1];
  /* the block's rows, worked out once for all its panels (kc <= KC) */
  struct im2col_row rows[KC];
  int64_t k = k0, ch = k / kp, t = k % kp, ky = t / kw, kx = t % kw;
  for (int64_t kk = 0; kk < kc; kk++, k++) {
    struct im2col_row *r = &rows[kk];
    int64_t offx = kx * w->d[1] - w->pb[1];
    r->offy = ky * w->d[0] - w->pb[0];
    /* output columns ox with 0 <= ox * sx + offx < iw */
    r->lo = offx >= 0 ? 0 : (-offx + sx - 1) / sx;
    r->hi = iw - offx <= 0 ? 0 : (iw - offx + sx - 1) / sx;
    if (r->hi > ow) r->hi = ow;
    if (r->lo > r->hi) r->lo = r->hi;
    if (cv->xs) {   /* column ox * sx + offx is column ox + shift of phase ph */
      int64_t ph = ((offx % sx) + sx) % sx;
      *r = (struct im2col_row){cv->xs + (ch * sx + ph) * ih * sw, sw, 1, (offx - ph) / sx, r->offy,
                               r->lo, r->hi};
    } else {
      r->plane = cv->x + ch * ih * iw;
      r->rs = iw;
      r->step = sx;
      r->shift = offx;
    }
    if (++kx == kw) {
      kx = 0;
      if (++ky == kh) {
        ky = 0;
        ch++;
      }
    }
  }
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    int64_t cnt = nc - j0 < NR ? nc - j0 : NR, oy = (n0 + j0) / ow, ox = (n0 + j0) % ow;
    float *d = dst + j0 * kc;
    for (int64_t kk = 0; kk < kc; kk++) {
      conv_row(&rows[kk], w, oy, ox, cnt, d + kk * NR);
      if (cnt < NR) memset(d + kk * NR + cnt, 0, (size_t)(NR - cnt) * sizeof *d);
    }
  }
}

struct cols_job {
  const float *ap;
  int64_t m, k, n, ldc, per, mper, nmb;
  pn_gemm_packb_fn packb;
  const void *ctx;
  float *c;
  const float *bias;
  struct pn_act act;
  _Atomic int failed;
};

static void cols_chunk(void *arg, int64_t ch) {
  struct cols_job *j = arg;
  int64_t b = ch / j->nmb, q = ch % j->nmb;
  int64_t n0 = b * j->per, n1 = n0 + j->per < j->n ? n0 + j->per : j->n;
  int64_t m0 = q * j->mper, m1 = m0 + j->mper < j->m ? m0 + j->mper : j->m;
  if (n0 < n1 && m0 < m1 &&
      pn_gemm_run(j->ap, j->m, j->k, m0, m1, n0, n1, j->packb, j->ctx, j->c + m0 * j->ldc, j->ldc,
                  j->bias, j->act))
    j->failed = 1;
}

int pn_gemm_run_cols(const float *ap, int64_t m, int64_t k, int64_t n, pn_gemm_packb_fn packb,
                     const void *ctx, float *c, int64_t ldc, const float *bias, struct pn_act act,
                     int threads) {
  int64_t panels = (n + NR - 1) / NR, nchunk = 4 * (int64_t)threads;
  if (threads <= 1 || nchunk > panels) nchunk = threads <= 1 ? 1 : panels;
  struct cols_job j = {ap, m, k, n, ldc, (panels + nchunk - 1) / nchunk * NR, m, 1, packb, ctx,
                       c, bias, act, 0};
  /* Below 2 column blocks a thread (a batch of 1x1 or 2x2 maps: 64 columns, 2 panels), the rows
  ** are split too, into as many blocks as make 2 chunks a thread: each column block read every
  ** row of A, i.e. every thread streamed all the filters (resnet18 at 64x3x32x32, 256 -> 512
  ** 3x3 stride 2 onto 1x1 maps: 230 + 127 us a chunk, the second reading what the first brought
  ** into L3). */
  int64_t nb = (n + j.per - 1) / j.per, mpan = (m + MR - 1) / MR;
  if (threads > 1 && nb < 2 * threads && mpan >= 2)
    pn_gemm_row_blocks(m, nb, threads, &j.mper, &j.nmb);
  pn_par_for(threads, nb * j.nmb, cols_chunk, &j);
  return j.failed ? -1 : 0;
}
