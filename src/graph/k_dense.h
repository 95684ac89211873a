/* k_dense.h - private helpers shared by the dense kernels (Conv, pooling): sliding windows, im2col.
**
** A window describes one Conv/pool node's spatial geometry: kernel, strides, dilations, pads and
** the output size, computed once from the attributes (ONNX auto_pad / ceil_mode rules) and the
** input's spatial dims. Unknown input dims (-1) give unknown output dims. */
#ifndef PN_K_DENSE_H
#define PN_K_DENSE_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/ops.h"
#include "graph/window.h"

/* im2col for one image of c channels, output positions [p0, p1): x is c x prod(w->in)
** (row-major); row r of col (at col + r*ld) receives, at index p - p0, the input value that
** output position p sees at kernel offset r (r over c * prod(w->k)), 0 in the padding. All
** window dims must be known. Serial; call it per thread on disjoint blocks. */
void pn_im2col(const float *x, int64_t c, const struct pn_window *w, float *col, int64_t ld,
               int64_t p0, int64_t p1);

/* Make OpenBLAS single-threaded around an OpenMP region whose threads each call sgemm (the
** pthreads OpenBLAS has one global thread count): the first caller in saves the count, the last
** one out restores it. Thread-safe; calls must pair. */
void pn_blas_serial_begin(void);
void pn_blas_serial_end(void);

/* Run fn(arg, c) for every chunk c in [0, nchunk) on up to `threads` threads (the caller and
** persistent helpers, k_par.c). Chunks are claimed dynamically; the call returns when all are
** done and never waits for a helper that has not started, so a preempted helper costs at most
** the chunk it holds. Chunks must not depend on one another. Concurrent or nested calls run
** serially. */
typedef void (*pn_par_fn)(void *arg, int64_t chunk);
void pn_par_for(int threads, int64_t nchunk, pn_par_fn fn, void *arg);

/* Conv with an optional fused ReLU epilogue (the executor's Conv+Relu fusion): in/n_in as for
** pn_run_conv (X, W and an optional bias B), y the output tensor. relu = false is plain Conv.
** cache (may be NULL) is per-node state the caller keeps across runs when W is a constant: on
** images so small that some kernel taps only ever see padding, it holds the filters without
** them; for 3x3 convolutions run by Winograd's algorithm, the transformed filters (created on
** demand, rebuilt if W or the geometry changes; free with pn_conv_cache_free). Without a cache
** the plain paths run (im2col + sgemm, direct depthwise, skinny dot products). */
struct pn_conv_cache;
int pn_conv_run_act(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                    struct pn_tensor *y, bool relu, struct pn_conv_cache **cache);

/* An activation fused into a kernel's store: Relu (v > 0 ? v : 0, so NaN -> 0, as the Relu
** kernel) or Clip to [lo, hi] (v < lo -> lo, then v > hi -> hi, NaN kept, as the Clip kernel).
** res (may be NULL): a residual of the output's shape added after the bias and before the
** activation, the executor's Conv -> Add fusion: the output element at y + i becomes
** act((conv + bias) + res[i]), the unfused graph's operations in its order. Only the Conv paths
** that store straight into y read it (pn_gemm_run, pn_winograd_conv); pn_conv_run_fused adds it
** in a pass after the others. res never aliases y. */
enum pn_act_kind { PN_ACT_NONE, PN_ACT_RELU, PN_ACT_CLIP };
struct pn_act {
  enum pn_act_kind kind;
  float lo, hi;
  const float *res, *y;
};
/* The residual of the output element at p (res must be set). */
static inline const float *pn_act_res(const struct pn_act *a, const float *p) {
  return a->res + (p - a->y);
}
static inline float pn_act_apply(struct pn_act a, float v) {
  if (a.kind == PN_ACT_RELU) return v > 0 ? v : 0.0f;
  if (a.kind == PN_ACT_CLIP) {
    v = v < a.lo ? a.lo : v;
    return v > a.hi ? a.hi : v;
  }
  return v;
}
/* pn_conv_run_act with any fused activation. */
int pn_conv_run_fused(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                      struct pn_tensor *y, struct pn_act act, struct pn_conv_cache **cache);
/* The float bounds a Clip node (opset's attributes or inputs in[1], in[2]) applies; errors as
** its kernel reports them. */
int pn_clip_bounds_f32(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                       float *lo, float *hi);
void pn_conv_cache_free(struct pn_conv_cache *c);
/* Does the cache hold Winograd-transformed filters (the last run took that path)? For tests. */
bool pn_conv_cache_winograd(const struct pn_conv_cache *c);
/* Its transform's tile: 2 for F(2x2, 3x3), 4 for F(4x4, 3x3), 0 without Winograd filters. */
int pn_conv_cache_winograd_tile(const struct pn_conv_cache *c);
/* Does it hold filters packed for pn_gemm_run (the last run took the packed-GEMM path)? */
bool pn_conv_cache_packed(const struct pn_conv_cache *c);
/* Does it hold the tiny-output path's plan (the last run of a 2-D Conv of at most 16 output
** positions of one image or a few, or of up to pn_tiny_max_pos (64) of one image with few
** channels, with AVX-512, took that path: k_conv.c's conv_tiny)? Tests lower the bound to 16 where
** they want Winograd on small maps. */
bool pn_conv_cache_tiny(const struct pn_conv_cache *c);
extern int64_t pn_tiny_max_pos;

/* Winograd F(2x2, 3x3) for 2-D 3x3 convolutions of stride 1 and dilation 1, group 1
** (k_winograd.c). pn_conv_run_act uses it when given a cache (constant weights, fused executor)
** and pn_winograd_fits: at least pn_winograd_min_tiles (16) 2x2 output tiles over the batch (the
** 16 products then fill the GEMM's narrowest register tile, 16 columns; on 4 tiles, resnet18's
** 4x4 maps at 32x32, they used a quarter of it and read 16/9 the filter bytes: 91-137 us per
** 128-channel conv against 60-66 us on the plain path) and an output at least 2x2; tests set it
** to 1 to reach every shape.
** pn_winograd_filters: the transformed filters (16 m x c matrices packed by
** pn_gemm_pack, each pn_gemm_packed_size(m, c) floats, malloc'd;
** NULL when out of memory) of w (m x c x 3 x 3). pn_winograd_conv: y = conv(x) + bias (may be
** NULL), then act; 0, or -1 when out of memory (y then partly written). */
extern int64_t pn_winograd_min_tiles;
bool pn_winograd_fits(const struct pn_window *w, int64_t group, int64_t n, int64_t c, int64_t m);
/* F(4x4, 3x3) (tile 4: 36 products of m x c x tiles, 4x4 outputs a tile, 1.78x fewer
** multiply-adds than F(2x2)) or F(2x2, 3x3) (tile 2) for a geometry pn_winograd_fits takes:
** 4 with AVX-512 (its transforms exist only there) when both output sides are at least
** pn_winograd_f4_min_out (28) and c, m >= 128, or at least pn_winograd_f4_min_out_any (40) (the
** measurements are in k_winograd.c; tests set both to 1, or to INT64_MAX for F(2x2) only).
** pn_winograd_block_floats: the cap on one block's buffers (2^18). */
extern int64_t pn_winograd_f4_min_out, pn_winograd_f4_min_out_any, pn_winograd_block_floats;
int pn_winograd_tile(const struct pn_window *w, int64_t c, int64_t m);
/* tile 2: 16 matrices, tile 4: 36, in the order of the rows of the (tile + 2)^2 transform */
float *pn_winograd_filters(const float *w, int64_t m, int64_t c, int tile);
int pn_winograd_conv(const float *x, const float *u, int tile, const float *bias,
                     struct pn_act act, float *y, int64_t n, int64_t c, int64_t m,
                     const struct pn_window *w, int threads);

/* GEMM with a packed constant left operand (k_gemm.c): C = act(A * B + bias per row), A m x k
** packed once by pn_gemm_pack into pn_gemm_packed_size(m, k) floats, B (k x n) packed per call,
** block by block, by packb: the rows [k0, k0 + kc) and columns [n0, n0 + nc) of B into dst as
** panels of PN_GEMM_NR columns (panel j at dst + j * PN_GEMM_NR * kc, row kk of it at + kk *
** PN_GEMM_NR; columns past nc zero). pn_gemm_run computes rows [m0, m1) (m0 a multiple of
** PN_GEMM_MR) and columns [n0, n1) of C, single-threaded; c points at row m0 (C's columns are
** absolute, as are bias's rows). packb NULL: ctx is B packed whole, 64-byte aligned, as panels
** of PN_GEMM_NR columns of all k rows (panel j at + j * k * PN_GEMM_NR; n0 a multiple of
** PN_GEMM_NR). 0, or -1 when out of memory (C untouched). */
#define PN_GEMM_MR 8
#define PN_GEMM_NR 32
typedef void (*pn_gemm_packb_fn)(const void *ctx, int64_t k0, int64_t kc, int64_t n0,
                                 int64_t nc, float *dst);
size_t pn_gemm_packed_size(int64_t m, int64_t k);
void pn_gemm_pack(const float *a, int64_t lda, int64_t m, int64_t k, float *dst);
int pn_gemm_run(const float *ap, int64_t m, int64_t k, int64_t m0, int64_t m1, int64_t n0,
                int64_t n1, pn_gemm_packb_fn packb, const void *ctx, float *c, int64_t ldc,
                const float *bias, struct pn_act act);
/* Row blocks for a GEMM whose nb column blocks are fewer than 2 a thread: as many blocks of whole
** PN_GEMM_MR-row panels of m rows as make 2 chunks a thread (at most one a panel); *mper rows each,
** *nmb blocks. */
static inline void pn_gemm_row_blocks(int64_t m, int64_t nb, int threads, int64_t *mper, int64_t *nmb) {
  int64_t mpan = (m + PN_GEMM_MR - 1) / PN_GEMM_MR, mw = (2 * (int64_t)threads + nb - 1) / nb;
  if (mw > mpan) mw = mpan;
  *mper = (mpan + mw - 1) / mw * PN_GEMM_MR;
  *nmb = (m + *mper - 1) / *mper;
}
/* All rows and columns [0, n) of C by pn_gemm_run, in column blocks of whole panels (up to 4 per
** thread; below 2 a thread, times blocks of rows) run by pn_par_for on `threads`. 0, or -1 when
** out of memory. */
int pn_gemm_run_cols(const float *ap, int64_t m, int64_t k, int64_t n, pn_gemm_packb_fn packb,
                     const void *ctx, float *c, int64_t ldc, const float *bias, struct pn_act act,
                     int threads);
/* B row-major in memory (ctx: struct pn_gemm_rows). */
struct pn_gemm_rows {
  const float *b;
  int64_t ld;
};
void pn_gemm_packb_rows(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                        float *dst);
/* B = the im2col matrix of one image of a 2-D convolution, read straight from the input x
** (C x H x W, ctx: struct pn_gemm_conv2d): row c * kh * kw + ky * kw + kx, column oy * ow + ox.
** With a horizontal stride s > 1, xs (may be NULL) is x split by pn_gemm_conv2d_phases into s
** planes per channel (phase p holds columns p, p + s, ...; C x s x H x ceil(W / s) floats), so
** that each row of B is copied from contiguous runs. */
struct pn_gemm_conv2d {
  const float *x;
  const struct pn_window *win;
  const float *xs;
};
void pn_gemm_conv2d_phases(const float *x, int64_t c, const struct pn_window *w, float *xs);
void pn_gemm_packb_conv2d(const void *ctx, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                          float *dst);

/* MatMul whose B is a constant 2-D matrix (the fused executor's; k_matmul.c): B packed once into
** the cache (created on demand, repacked if B changes; free with pn_matmul_cache_free) for
** pn_gemm_run, A's batches stacked into rows and packed per call. Other MatMuls, and cache NULL
** (pn_run_matmul, the no_fuse reference), run on OpenBLAS. Arguments and errors as pn_run_matmul. */
struct pn_matmul_cache;
int pn_matmul_run_cached(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                         struct pn_tensor *y, struct pn_matmul_cache **cache);
void pn_matmul_cache_free(struct pn_matmul_cache *c);
/* Does it hold a packed B (the last run took the packed path)? For tests. */
bool pn_matmul_cache_packed(const struct pn_matmul_cache *c);

/* Check that a float input of a kernel is present with the expected dtype. */
int pn_dense_check_dtype(const struct pn_op_args *a, const char *what, enum pn_dtype dt);

/* Is optional input i of the node present (given and not "")? */
bool pn_dense_has_input(const struct pn_op_args *a, int n_in, int i);

#endif
