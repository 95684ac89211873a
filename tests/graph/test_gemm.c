/* test_gemm.c - the packed GEMM (k_gemm.c) and the Conv paths built on it or on per-node state:
** pn_gemm_run against a double-precision product on random shapes (edges of every block size,
** row and column sub-ranges, bias, Relu and Clip) with each kernel this CPU runs (portable C,
** AVX2, AVX-512), C outside the requested block untouched, and each column's bits independent of
** the width of its panel; the implicit-im2col packer (from the input or from its column phases,
** split by each CPU level's code) against pn_im2col + the row packer, bit for bit; and
** pn_conv_run_fused with a cache (packed GEMM, Winograd, 3x3 depthwise planes; no activation,
** Relu or Clip; outputs of at most 16 positions, one image or batches, each CPU level) against a
** double direct convolution on random 2-D geometries; MatMul by a
** constant B through its cache (pn_matmul_run_cached) against a double product; 3x3 depthwise
** Convs with a cache against the generic loop, bit for bit. Random cases print
** their seed (PN_TEST_SEED replays them). */
#define PN_TEST_NAME "test_gemm"
#include "kernel_harness.h"

#include <omp.h>

#include "graph/k_dense.h"
#include "util/cpu.h"

static float frand(void) { return (float)urand(-1, 1); }

/* The activation on a double reference value. */
static double act_ref(struct pn_act act, double s) {
  if (act.kind == PN_ACT_RELU && s < 0) s = 0;
  if (act.kind == PN_ACT_CLIP) {
    s = s < act.lo ? act.lo : s;
    s = s > act.hi ? act.hi : s;
  }
  return s;
}

static void gemm_case(int level) {
  int64_t m = irand(1, 40), n = irand(1, 600), k = irand(1, 600);
  if (irand(0, 3) == 0) k = irand(1, 8);
  int64_t ldc = n + irand(0, 3);
  /* rows [m0, m1) with m0 a multiple of PN_GEMM_MR, columns [n0, n1) */
  int64_t m0 = irand(0, (m - 1) / PN_GEMM_MR) * PN_GEMM_MR, m1 = irand(m0 + 1, m);
  int64_t n0 = irand(0, n - 1), n1 = irand(n0 + 1, n);
  bool has_bias = irand(0, 1);
  struct pn_act act = {(enum pn_act_kind)irand(0, 2), (float)urand(-1, 0.5), (float)urand(-0.5, 1), NULL, NULL};
  float *a = malloc((size_t)(m * k) * sizeof *a), *b = malloc((size_t)(k * n) * sizeof *b);
  float *bias = malloc((size_t)m * sizeof *bias), *c = malloc((size_t)(m * ldc) * sizeof *c);
  float *ap = malloc(pn_gemm_packed_size(m, k) * sizeof *ap);
  assert_true(a && b && bias && c && ap);
  for (int64_t i = 0; i < m * k; i++) a[i] = frand();
  for (int64_t i = 0; i < k * n; i++) b[i] = frand();
  for (int64_t i = 0; i < m; i++) bias[i] = frand();
  for (int64_t i = 0; i < m * ldc; i++) c[i] = 1234.5f;
  pn_gemm_pack(a, k, m, k, ap);
  struct pn_gemm_rows rows = {b, n};
  pn_cpu_set_level(level);
  assert_int_equal(pn_gemm_run(ap, m, k, m0, m1, n0, n1, pn_gemm_packb_rows, &rows, c + m0 * ldc,
                               ldc, has_bias ? bias : NULL, act),
                   0);
  pn_cpu_set_level(-1);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      float got = c[i * ldc + j];
      if (i < m0 || i >= m1 || j < n0 || j >= n1) {
        if (got != 1234.5f) {
          printf("level %d, m %lld n %lld k %lld: C[%lld][%lld] outside the block written\n", level,
                 (long long)m, (long long)n, (long long)k, (long long)i, (long long)j);
          fail();
        }
        continue;
      }
      double s = has_bias ? bias[i] : 0, mag = has_bias ? fabs(bias[i]) : 0;
      for (int64_t q = 0; q < k; q++) {
        double t = (double)a[i * k + q] * b[q * n + j];
        s += t;
        mag += fabs(t);
      }
      s = act_ref(act, s);
      if (!(fabs(got - s) <= 1e-5 * (1 + mag))) {
        printf("level %d, m %lld n %lld k %lld rows [%lld,%lld) cols [%lld,%lld): C[%lld][%lld] = "
               "%.9g, want %.9g\n",
               level, (long long)m, (long long)n, (long long)k, (long long)m0, (long long)m1,
               (long long)n0, (long long)n1, (long long)i, (long long)j, got, s);
        fail();
      }
    }
  free(a), free(b), free(bias), free(c), free(ap);
}

/* A column of C does not depend on the width of the panel it falls in (a full 32-column tile,
** 17-20 columns in the AVX-512 narrow-tail kernel, up to 16 in the half tile): C over columns
** [0, n1) and over [0, n2) agree bit for bit on their common columns, bias, Relu/Clip, K blocks,
** each CPU level. */
static void test_gemm_tail_bits(void **state) {
  (void)state;
  pn_cpu_set_level(-1);
  int top = (int)pn_cpu_level();
  for (int rep = 0; rep < 200; rep++) {
    int level = (int)irand(0, top);
    int64_t m = irand(1, 40), k = irand(0, 3) ? irand(1, 300) : irand(257, 600), n = 128;
    int64_t nn[2] = {32 * irand(0, 3) + irand(1, 32), 32 * irand(0, 3) + irand(1, 32)};
    bool has_bias = irand(0, 1);
    struct pn_act act = {(enum pn_act_kind)irand(0, 2), (float)urand(-1, 0.5), (float)urand(-0.5, 1), NULL, NULL};
    float *a = malloc((size_t)(m * k) * sizeof *a), *b = malloc((size_t)(k * n) * sizeof *b);
    float *bias = malloc((size_t)m * sizeof *bias);
    float *ap = malloc(pn_gemm_packed_size(m, k) * sizeof *ap);
    float *c[2] = {malloc((size_t)(m * n) * sizeof(float)),
                   malloc((size_t)(m * n) * sizeof(float))};
    assert_true(a && b && bias && ap && c[0] && c[1]);
    for (int64_t i = 0; i < m * k; i++) a[i] = frand();
    for (int64_t i = 0; i < k * n; i++) b[i] = frand();
    for (int64_t i = 0; i < m; i++) bias[i] = frand();
    pn_gemm_pack(a, k, m, k, ap);
    struct pn_gemm_rows rows = {b, n};
    pn_cpu_set_level(level);
    for (int t = 0; t < 2; t++)
      assert_int_equal(pn_gemm_run(ap, m, k, 0, m, 0, nn[t], pn_gemm_packb_rows, &rows, c[t], n,
                                   has_bias ? bias : NULL, act),
                       0);
    pn_cpu_set_level(-1);
    int64_t w = nn[0] < nn[1] ? nn[0] : nn[1];
    for (int64_t i = 0; i < m; i++)
      if (memcmp(c[0] + i * n, c[1] + i * n, (size_t)w * sizeof(float))) {
        printf("level %d m %lld k %lld: row %lld of C differs over columns [0, %lld) and "
               "[0, %lld)\n",
               level, (long long)m, (long long)k, (long long)i, (long long)nn[0], (long long)nn[1]);
        fail();
      }
    free(a), free(b), free(bias), free(ap), free(c[0]), free(c[1]);
  }
}

static void test_gemm_random(void **state) {
  (void)state;
  pn_cpu_set_level(-1);
  int top = (int)pn_cpu_level();
  for (int level = 0; level <= top; level++)
    for (int rep = 0; rep < 60; rep++) gemm_case(level);
}

/* A random 2-D window over a c x ih x iw input. */
static void random_window(struct pn_window *w, int64_t ih, int64_t iw) {
  memset(w, 0, sizeof *w);
  w->nsp = 2;
  int64_t in[2] = {ih, iw};
  for (int i = 0; i < 2; i++) {
    w->in[i] = in[i];
    w->k[i] = irand(1, 5);
    w->s[i] = irand(1, 3);
    w->d[i] = irand(1, 2);
    w->pb[i] = irand(0, 2);
    w->pe[i] = irand(0, 2);
    int64_t ek = (w->k[i] - 1) * w->d[i] + 1;
    if (in[i] + w->pb[i] + w->pe[i] < ek) w->pe[i] = ek - in[i] - w->pb[i];
    w->out[i] = (in[i] + w->pb[i] + w->pe[i] - ek) / w->s[i] + 1;
  }
}

/* w becomes a 3x3 window with pads 1 (resnet's), dilation 1, strides 1-2, over an input of 1 to
** max_in per side. */
static void padded3x3_window(struct pn_window *w, int64_t max_in) {
  for (int i = 0; i < 2; i++) {
    w->k[i] = 3;
    w->d[i] = 1;
    w->s[i] = irand(1, 2);
    w->pb[i] = w->pe[i] = 1;
    w->in[i] = irand(1, max_in);
    w->out[i] = (w->in[i] + 2 - 3) / w->s[i] + 1;
  }
}

/* the implicit-im2col packer gives exactly what im2col + the row packer give */
static void test_gemm_conv2d_pack(void **state) {
  (void)state;
  for (int rep = 0; rep < 200; rep++) {
    int64_t c = irand(1, 6);
    struct pn_window w;
    random_window(&w, irand(1, 20), irand(1, 40));
    int64_t kr = c * w.k[0] * w.k[1], np = w.out[0] * w.out[1];
    float *x = malloc((size_t)(c * w.in[0] * w.in[1]) * sizeof *x);
    float *col = malloc((size_t)(kr * np) * sizeof *col);
    int64_t k0 = irand(0, kr - 1), kc = irand(1, kr - k0), n0 = irand(0, np - 1),
            nc = irand(1, np - n0);
    int64_t panels = (nc + PN_GEMM_NR - 1) / PN_GEMM_NR;
    float *p1 = malloc((size_t)(panels * PN_GEMM_NR * kc) * sizeof *p1);
    float *p2 = malloc((size_t)(panels * PN_GEMM_NR * kc) * sizeof *p2);
    assert_true(x && col && p1 && p2);
    for (int64_t i = 0; i < c * w.in[0] * w.in[1]; i++) x[i] = frand();
    pn_im2col(x, c, &w, col, np, 0, np);
    struct pn_gemm_rows rows = {col, np};
    /* straight from x, or (strided) from x split into column phases */
    int64_t sx = w.s[1], sw = (w.in[1] + sx - 1) / sx;
    float *xs = malloc((size_t)(c * sx * w.in[0] * sw) * sizeof *xs);
    assert_non_null(xs);
    pn_gemm_conv2d_phases(x, c, &w, xs);
    /* the split of this CPU (AVX-512 at stride 2) equals the portable one, padding included */
    float *xs0 = malloc((size_t)(c * sx * w.in[0] * sw) * sizeof *xs0);
    assert_non_null(xs0);
    pn_cpu_set_level(0);
    pn_gemm_conv2d_phases(x, c, &w, xs0);
    pn_cpu_set_level(-1);
    if (memcmp(xs, xs0, (size_t)(c * sx * w.in[0] * sw) * sizeof *xs)) {
      printf("column phases differ from the portable split: c %lld in %lldx%lld s %lld\n",
             (long long)c, (long long)w.in[0], (long long)w.in[1], (long long)sx);
      fail();
    }
    free(xs0);
    bool phases = sx > 1 && irand(0, 1);
    struct pn_gemm_conv2d cv = {x, &w, phases ? xs : NULL};
    pn_gemm_packb_rows(&rows, k0, kc, n0, nc, p1);
    pn_gemm_packb_conv2d(&cv, k0, kc, n0, nc, p2);
    free(xs);
    if (memcmp(p1, p2, (size_t)(panels * PN_GEMM_NR * kc) * sizeof *p1)) {
      printf("%s: ", phases ? "from phases" : "from x");
      printf("conv2d packer differs: c %lld in %lldx%lld k %lldx%lld s %lldx%lld d %lldx%lld "
             "pads %lld %lld %lld %lld, rows [%lld,+%lld) cols [%lld,+%lld)\n",
             (long long)c, (long long)w.in[0], (long long)w.in[1], (long long)w.k[0],
             (long long)w.k[1], (long long)w.s[0], (long long)w.s[1], (long long)w.d[0],
             (long long)w.d[1], (long long)w.pb[0], (long long)w.pb[1], (long long)w.pe[0],
             (long long)w.pe[1], (long long)k0, (long long)kc, (long long)n0, (long long)nc);
      fail();
    }
    free(x), free(col), free(p1), free(p2);
  }
}

/* A 2-D Conv call (opset 11, inputs X, W, B) with the window's pads, strides and dilations. */
static void conv_call(struct call *cl, const struct pn_window *w, int64_t group) {
  call_init(cl, "Conv", 3, 1, 11);
  int64_t pads[4] = {w->pb[0], w->pb[1], w->pe[0], w->pe[1]};
  pn_node_set_ints(cl->g, cl->n, "pads", 4, pads);
  pn_node_set_ints(cl->g, cl->n, "strides", 2, w->s);
  pn_node_set_ints(cl->g, cl->n, "dilations", 2, w->d);
  pn_node_set_int(cl->g, cl->n, "group", group);
}

/* Y (n x m x out) against a double direct convolution of X by W (+ bias, + act.res when set)
** with act: within
** 1e-5 of (1 + the sum of |terms|) everywhere; else prints the geometry and the first output that
** is not, and returns false. */
static bool conv_matches_direct(const struct pn_window *w_, int64_t n, int64_t c, int64_t m,
                                int64_t group, const struct pn_tensor *X, const struct pn_tensor *W,
                                const struct pn_tensor *B, struct pn_act act,
                                const struct pn_tensor *Y) {
  const struct pn_window w = *w_;
  int64_t cg = c / group, mg = m / group;
  const float *x = X->data, *wt = W->data, *bp = B ? B->data : NULL, *y = Y->data;
  for (int64_t b = 0; b < n; b++)
    for (int64_t o = 0; o < m; o++)
      for (int64_t oy = 0; oy < w.out[0]; oy++)
        for (int64_t ox = 0; ox < w.out[1]; ox++) {
          double s = bp ? bp[o] : 0, mag = bp ? fabs(bp[o]) : 0;
          int64_t g = o / mg;
          for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t ky = 0; ky < w.k[0]; ky++)
              for (int64_t kx = 0; kx < w.k[1]; kx++) {
                int64_t iy = oy * w.s[0] - w.pb[0] + ky * w.d[0];
                int64_t ix = ox * w.s[1] - w.pb[1] + kx * w.d[1];
                if (iy < 0 || iy >= w.in[0] || ix < 0 || ix >= w.in[1]) continue;
                double t = (double)x[((b * c + g * cg + ci) * w.in[0] + iy) * w.in[1] + ix] *
                           wt[((o * cg + ci) * w.k[0] + ky) * w.k[1] + kx];
                s += t;
                mag += fabs(t);
              }
          int64_t yi = ((b * m + o) * w.out[0] + oy) * w.out[1] + ox;
          if (act.res) {   /* a residual: act((conv + bias) + res) */
            s += act.res[yi];
            mag += fabs(act.res[yi]);
          }
          s = act_ref(act, s);
          float got = y[yi];
          if (!(fabs(got - s) <= 1e-5 * (1 + mag))) {
            printf("conv n %lld c %lld m %lld group %lld in %lldx%lld k %lldx%lld s %lldx%lld d "
                   "%lldx%lld pads %lld %lld %lld %lld: y[%lld][%lld][%lld][%lld] = %.9g, want "
                   "%.9g\n",
                   (long long)n, (long long)c, (long long)m, (long long)group, (long long)w.in[0],
                   (long long)w.in[1], (long long)w.k[0], (long long)w.k[1], (long long)w.s[0],
                   (long long)w.s[1], (long long)w.d[0], (long long)w.d[1], (long long)w.pb[0],
                   (long long)w.pb[1], (long long)w.pe[0], (long long)w.pe[1], (long long)b,
                   (long long)o, (long long)oy, (long long)ox, got, s);
            return false;
          }
        }
  return true;
}

/* pn_conv_run_act with a cache against a double direct convolution: group 1 (the packed GEMM,
** implicit im2col or 1x1 direct) and depthwise with a channel multiplier (3x3 planes). */
static void conv_case(bool depthwise, bool skinny, int threads) {
  int64_t n = irand(1, 2), c = depthwise ? irand(1, 12) : irand(1, 40);
  int64_t m = depthwise ? c * irand(1, 2) : irand(1, 40), group = depthwise ? c : 1;
  struct pn_window w;
  random_window(&w, irand(1, 24), irand(1, 40));
  if (skinny) {
    /* at most 16 output positions (the skinny path): one image or a few (the register-tiled
    ** kernel), or batches whose positions fill GEMM panels (one GEMM over the images, cut into
    ** groups past 2048 columns); padded 3x3 kernels on 1x1-4x4 images leave taps that never
    ** see the input */
    n = irand(0, 2) ? irand(1, 3) : irand(2, 140);
    c = n > 20 ? irand(1, 12) : irand(1, 70);
    m = irand(1, 40);
    do {
      random_window(&w, irand(1, 8), irand(1, 8));
      if (irand(0, 1)) padded3x3_window(&w, 4);
    } while (w.out[0] * w.out[1] > 16);
  }
  if (depthwise && irand(0, 3)) {   /* mostly the 3x3 shapes the fast planes take */
    w.k[0] = w.k[1] = 3;
    w.d[0] = w.d[1] = 1;
    w.s[1] = irand(1, 2);
    for (int i = 0; i < 2; i++) {
      if (w.in[i] + w.pb[i] + w.pe[i] < 3) w.pe[i] = 3 - w.in[i] - w.pb[i];
      w.out[i] = (w.in[i] + w.pb[i] + w.pe[i] - 3) / w.s[i] + 1;
    }
  }
  if (!depthwise && irand(0, 3) == 0) {   /* 1x1 stride 1 unpadded: the input is B itself */
    for (int i = 0; i < 2; i++) {
      w.k[i] = w.s[i] = w.d[i] = 1;
      w.pb[i] = w.pe[i] = 0;
      w.out[i] = w.in[i];
    }
  }
  struct call cl;
  conv_call(&cl, &w, group);
  int64_t cg = c / group;
  int64_t xd[4] = {n, c, w.in[0], w.in[1]}, wd[4] = {m, cg, w.k[0], w.k[1]};
  int64_t yd[4] = {n, m, w.out[0], w.out[1]};
  struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd), *W = trand(PN_DT_FLOAT, 4, wd);
  struct pn_tensor *B = trand(PN_DT_FLOAT, 1, &m), *Y = pn_tensor_new(PN_DT_FLOAT, 4, yd);
  assert_non_null(Y);
  bool bias = irand(0, 1);
  /* none, Relu, or Clip (bounds sometimes crossed: every value becomes hi) */
  struct pn_act act = {(enum pn_act_kind)irand(0, 2), (float)urand(-1, 0.5), (float)urand(-0.5, 1), NULL, NULL};
  const struct pn_tensor *ins[3] = {X, W, B};
  struct pn_op_args a = {&cl.ctx, cl.n, cl.opset};
  struct pn_conv_cache *cache = NULL;
  omp_set_num_threads(threads);
  for (int run = 0; run < 2; run++) {   /* the second run reuses the cache */
    memset(Y->data, 0xff, pn_tensor_nbytes(Y));
    assert_int_equal(pn_conv_run_fused(&a, ins, bias ? 3 : 2, Y, act, &cache), PN_OK);
    if (!conv_matches_direct(&w, n, c, m, group, X, W, bias ? B : NULL, act, Y)) {
      printf("%s conv, run %d\n", depthwise ? "depthwise" : "group-1", run);
      fail();
    }
    /* group 1 over more than 16 output positions, not by Winograd nor the tiny-output path (up
    ** to 64 positions of few channels): the packed GEMM took it */
    if (!depthwise && w.out[0] * w.out[1] > 16 && !pn_conv_cache_winograd(cache) &&
        !pn_conv_cache_tiny(cache))
      assert_true(pn_conv_cache_packed(cache));
  }
  pn_conv_cache_free(cache);
  pn_tensor_free(X), pn_tensor_free(W), pn_tensor_free(B), pn_tensor_free(Y);
  call_free(&cl);
}

static void test_conv_cached_random(void **state) {
  (void)state;
  for (int rep = 0; rep < 150; rep++) conv_case(rep % 2, false, (int)irand(1, 2));
  omp_set_num_threads(1);
}

/* Small outputs (one image or a few: the tiny-output path with AVX-512, the skinny path's
** dot products below it; batches: one packed GEMM over the images) with each kernel this CPU
** runs. */
static void test_conv_skinny_random(void **state) {
  (void)state;
  pn_cpu_set_level(-1);
  int top = (int)pn_cpu_level();
  for (int level = 0; level <= top; level++) {
    pn_cpu_set_level(level);
    for (int rep = 0; rep < 40; rep++) conv_case(false, true, (int)irand(1, 2));
  }
  pn_cpu_set_level(-1);
  omp_set_num_threads(1);
}

/* The tiny-output path (k_conv.c's conv_tiny, AVX-512: at most 16 output positions of one image
** or of a few; 17-64 positions of one image in groups of 16, with at most 64 channels and
** filters and a kernel larger than 1x1) against the double direct sum: random 2-D geometries
** (padded 3x3 kernels on 1x1 to 8x8 maps at strides 1 and 2, resnet's; any kernel, stride,
** dilation and pads), channel and filter counts across the 16-lane blocks and the 64-filter
** chunks (odd ones included), bias or none, no activation, Relu or Clip, a residual or none, 1-3
** threads; the cache holds its plan, and a second run reuses it. */
static void test_conv_tiny_random(void **state) {
  (void)state;
  pn_cpu_set_level(-1);
  if (pn_cpu_level() < PN_CPU_AVX512) skip();
  for (int rep = 0; rep < 300; rep++) {
    bool groups = irand(0, 2) == 0;   /* 17-64 positions */
    int64_t n = irand(0, 3) || groups ? 1 : irand(2, 3);
    int64_t c = groups ? irand(1, 64) : irand(0, 3) ? irand(1, 70) : irand(100, 300);
    int64_t m = groups ? irand(1, 64) : irand(0, 3) ? irand(1, 150) : irand(150, 300);
    struct pn_window w;
    for (;;) {
      random_window(&w, irand(1, groups ? 14 : 10), irand(1, groups ? 14 : 10));
      if (irand(0, 1)) padded3x3_window(&w, groups ? 9 : 8);
      int64_t pout = w.out[0] * w.out[1];
      if (groups ? pout > 16 && pout <= 64 && w.k[0] * w.k[1] > 1
                 : pout <= 16 && n * pout < 32)
        break;
    }
    struct call cl;
    conv_call(&cl, &w, 1);
    int64_t xd[4] = {n, c, w.in[0], w.in[1]}, wd[4] = {m, c, w.k[0], w.k[1]};
    int64_t yd[4] = {n, m, w.out[0], w.out[1]};
    struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd), *W = trand(PN_DT_FLOAT, 4, wd);
    struct pn_tensor *B = trand(PN_DT_FLOAT, 1, &m), *R = trand(PN_DT_FLOAT, 4, yd);
    struct pn_tensor *Y = pn_tensor_new(PN_DT_FLOAT, 4, yd);
    assert_non_null(Y);
    bool bias = irand(0, 1);
    struct pn_act act = {(enum pn_act_kind)irand(0, 2), (float)urand(-1, 0.5), (float)urand(-0.5, 1),
                         irand(0, 1) ? R->data : NULL, Y->data};
    const struct pn_tensor *ins[3] = {X, W, B};
    struct pn_op_args a = {&cl.ctx, cl.n, cl.opset};
    struct pn_conv_cache *cache = NULL;
    omp_set_num_threads((int)irand(1, 3));
    for (int run = 0; run < 2; run++) {   /* the second run reuses the cache */
      memset(Y->data, 0xff, pn_tensor_nbytes(Y));
      assert_int_equal(pn_conv_run_fused(&a, ins, bias ? 3 : 2, Y, act, &cache), PN_OK);
      assert_true(pn_conv_cache_tiny(cache));
      if (!conv_matches_direct(&w, n, c, m, 1, X, W, bias ? B : NULL, act, Y)) {
        printf("tiny conv, run %d, residual %d\n", run, act.res != NULL);
        fail();
      }
    }
    pn_conv_cache_free(cache);
    pn_tensor_free(X), pn_tensor_free(W), pn_tensor_free(B), pn_tensor_free(R), pn_tensor_free(Y);
    call_free(&cl);
  }
  omp_set_num_threads(1);
}

/* The splits among threads of the cached Conv paths give the bits of one thread: 1, 2 and 3
** threads on geometries each cut differently (a 7x7 map's 32 + 17 columns times blocks of
** filters, one panel of 25 columns, 1x1 and strided 3x3; the filters of a batch's one-panel
** skinny GEMM over 1x1 and 2x2 maps; the tiny-output path's chunks of 64 filters on 4x4, 2x2
** and 1x1 maps, with filter and channel tails; depthwise layers over the 200k multiply-add threshold,
** channels in lanes and planes; Winograd's one block of tiles transformed once, in channel
** chunks, for every filter block), every output written (Y starts as NaN, so a skipped chunk
** fails), and one thread against the double direct sum. */
static void test_conv_threads_bits(void **state) {
  (void)state;
  static const struct {
    int64_t n, c, m, group, in, k, s, pad;
  } cases[] = {
      {1, 192, 160, 1, 7, 1, 1, 0},    /* 7x7: 32 + 17 columns x filter blocks */
      {1, 40, 72, 1, 14, 3, 2, 1},     /* 7x7 from 14x14, stride 2: implicit im2col */
      {1, 400, 112, 1, 5, 1, 1, 0},    /* 25 columns: one panel, filter blocks only */
      {40, 64, 96, 1, 1, 3, 1, 1},     /* skinny batch: 40 columns, the centre tap */
      {8, 256, 136, 1, 2, 3, 1, 1},    /* skinny batch: 32 columns over 2x2 maps */
      {1, 480, 480, 480, 7, 3, 1, 1},  /* depthwise 7x7: channels in lanes, 30 blocks */
      {1, 576, 576, 576, 14, 3, 2, 1}, /* depthwise stride 2 to 7x7 */
      {1, 24, 24, 24, 96, 3, 1, 1},    /* depthwise planes (wider than the lanes' bound) */
      {1, 64, 72, 1, 8, 3, 1, 1},      /* Winograd, one block of 16 tiles: input shared */
      {1, 40, 80, 1, 7, 3, 1, 1},      /* the same, 7x7 (tiles past the edge) */
      {2, 24, 96, 1, 6, 3, 1, 1},      /* the same over 2 images of 3x3 tiles */
      {1, 128, 128, 1, 4, 3, 1, 1},    /* tiny outputs: 4x4, 2 chunks of 64 filters */
      {1, 256, 200, 1, 2, 3, 1, 1},    /* 2x2, 4 chunks, the last of one 16-filter block */
      {1, 100, 72, 1, 8, 3, 2, 1},     /* 8x8 stride 2 to 4x4, channel and filter tails */
      {1, 512, 520, 1, 1, 3, 1, 1},    /* 1x1: the centre tap, 9 chunks */
      {2, 160, 144, 1, 4, 3, 2, 1},    /* 2 images of 2x2 from 4x4, stride 2 */
      {1, 64, 64, 1, 8, 3, 1, 1},      /* tiny, 8x8 in 4 groups: the one chunk in parts */
      {1, 48, 56, 1, 7, 3, 1, 1},      /* 7x7: groups of 16, 16, 16 and 1 positions */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t n = cases[i].n, c = cases[i].c, m = cases[i].m, group = cases[i].group;
    struct pn_window w;
    memset(&w, 0, sizeof w);
    w.nsp = 2;
    for (int d = 0; d < 2; d++) {
      w.in[d] = cases[i].in;
      w.k[d] = cases[i].k;
      w.s[d] = cases[i].s;
      w.d[d] = 1;
      w.pb[d] = w.pe[d] = cases[i].pad;
      w.out[d] = (w.in[d] + 2 * cases[i].pad - w.k[d]) / w.s[d] + 1;
    }
    struct call cl;
    conv_call(&cl, &w, group);
    int64_t xd[4] = {n, c, w.in[0], w.in[1]}, wd[4] = {m, c / group, w.k[0], w.k[1]};
    int64_t yd[4] = {n, m, w.out[0], w.out[1]};
    struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd), *W = trand(PN_DT_FLOAT, 4, wd);
    struct pn_tensor *B = trand(PN_DT_FLOAT, 1, &m), *Y1 = pn_tensor_new(PN_DT_FLOAT, 4, yd);
    struct pn_tensor *Y = pn_tensor_new(PN_DT_FLOAT, 4, yd);
    assert_true(Y && Y1);
    struct pn_act act = {(enum pn_act_kind)(i % 3), -0.5f, 0.75f, NULL, NULL};
    struct pn_tensor *X2 = trand(PN_DT_FLOAT, 4, xd);
    const struct pn_tensor *ins[3] = {X, W, B}, *ins2[3] = {X2, W, B};
    struct pn_op_args a = {&cl.ctx, cl.n, cl.opset};
    for (int threads = 1; threads <= 3; threads++) {
      struct pn_conv_cache *cache = NULL;
      for (int run = 0; run < 2; run++) {   /* the second run reuses the cache */
        struct pn_tensor *out = threads == 1 && run == 0 ? Y1 : Y;
        /* another input first, on one thread, so that buffers kept across calls hold other
        ** values in full (a skipped chunk of the skinny batch's GEMM would otherwise copy what
        ** the last call left there) */
        omp_set_num_threads(1);
        assert_int_equal(pn_conv_run_fused(&a, ins2, 3, Y, act, &cache), PN_OK);
        omp_set_num_threads(threads);
        memset(out->data, 0xff, pn_tensor_nbytes(out));
        assert_int_equal(pn_conv_run_fused(&a, ins, 3, out, act, &cache), PN_OK);
        if (out == Y1) {
          if (!conv_matches_direct(&w, n, c, m, group, X, W, B, act, Y1)) fail();
        } else if (memcmp(Y->data, Y1->data, pn_tensor_nbytes(Y))) {
          printf("case %zu (n %lld c %lld m %lld group %lld %lldx%lld k %lld s %lld), %d threads, "
                 "run %d: not the bits of one thread\n",
                 i, (long long)n, (long long)c, (long long)m, (long long)group,
                 (long long)w.in[0], (long long)w.in[1], (long long)w.k[0], (long long)w.s[0],
                 threads, run);
          fail();
        }
      }
      pn_conv_cache_free(cache);
    }
    pn_tensor_free(X), pn_tensor_free(X2), pn_tensor_free(W), pn_tensor_free(B);
    pn_tensor_free(Y), pn_tensor_free(Y1);
    call_free(&cl);
  }
  omp_set_num_threads(1);
}

/* MatMul by a constant 2-D B through its cache (the packed GEMM): A of rank 1-4 (batches stacked
** into rows), K and N across the GEMM's block and panel edges, 1-2 threads, each CPU level; a
** second run with another B of the same shape (the cache must repack it) against a double
** product. */
static void matmul_case(int level, int threads) {
  int na = (int)irand(1, 4);
  int64_t ad[4], k = irand(1, 600), n = irand(1, 700), rows = 1;
  if (irand(0, 3) == 0) k = irand(1, 8);
  for (int i = 0; i < na - 1; i++) rows *= ad[i] = irand(1, i == na - 2 ? 40 : 3);
  ad[na - 1] = k;
  while (rows * k * n > 4000000) n = n / 2 + 1;   /* keeps the double product quick */
  int64_t bd[2] = {k, n}, yd[4];
  for (int i = 0; i < na - 1; i++) yd[i] = ad[i];
  yd[na - 1] = n;
  struct call cl;
  call_init(&cl, "MatMul", 2, 1, 13);
  struct pn_tensor *A = trand(PN_DT_FLOAT, na, ad), *Y = pn_tensor_new(PN_DT_FLOAT, na, yd);
  struct pn_tensor *Bs[2] = {trand(PN_DT_FLOAT, 2, bd), trand(PN_DT_FLOAT, 2, bd)};
  assert_non_null(Y);
  struct pn_op_args a = {&cl.ctx, cl.n, cl.opset};
  struct pn_matmul_cache *cache = NULL;
  omp_set_num_threads(threads);
  pn_cpu_set_level(level);
  for (int run = 0; run < 3; run++) {   /* B0, B0 again (cached), then B1 (repacked) */
    const struct pn_tensor *B = Bs[run == 2], *ins[2] = {A, B};
    memset(Y->data, 0xff, pn_tensor_nbytes(Y));
    assert_int_equal(pn_matmul_run_cached(&a, ins, 2, Y, &cache), PN_OK);
    assert_true(pn_matmul_cache_packed(cache));
    const float *x = A->data, *w = B->data, *y = Y->data;
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0, mag = 0;
        for (int64_t q = 0; q < k; q++) {
          double t = (double)x[i * k + q] * w[q * n + j];
          s += t;
          mag += fabs(t);
        }
        if (!(fabs(y[i * n + j] - s) <= 1e-5 * (1 + mag))) {
          printf("matmul level %d threads %d rank %d rows %lld k %lld n %lld run %d: Y[%lld][%lld]"
                 " = %.9g, want %.9g\n",
                 level, threads, na, (long long)rows, (long long)k, (long long)n, run,
                 (long long)i, (long long)j, y[i * n + j], s);
          fail();
        }
      }
  }
  pn_cpu_set_level(-1);
  pn_matmul_cache_free(cache);
  pn_tensor_free(A), pn_tensor_free(Bs[0]), pn_tensor_free(Bs[1]), pn_tensor_free(Y);
  call_free(&cl);
}

static void test_matmul_cached_random(void **state) {
  (void)state;
  pn_cpu_set_level(-1);
  int top = (int)pn_cpu_level();
  for (int level = 0; level <= top; level++)
    for (int rep = 0; rep < 12; rep++) matmul_case(level, (int)irand(1, 2));
  omp_set_num_threads(1);
}

/* 3x3 depthwise Convs with a cache (dw3x3_plane512 with AVX-512, dw3x3_cblock512 on maps of up
** to 28x28 with multiplier 1, dw3x3_plane below AVX-512) give the bits of the generic loop (no
** cache) on random geometries: widths across several 16-output blocks and both edges, every pad
** from 0 to 4 on each side, vertical strides 1-3, horizontal 1-2, channel multipliers 1-2, 2-40
** channels, batch, bias, no activation / Relu / Clip, 1-2 threads, each CPU level. */
static void test_dw3x3_same_bits(void **state) {
  (void)state;
  pn_cpu_set_level(-1);
  int top = (int)pn_cpu_level();
  for (int rep = 0; rep < 240; rep++) {
    int level = (int)irand(0, top);
    /* c 1 is not depthwise; up to 40 channels: blocks of 16 with a tail in dw3x3_cblock512 */
    int64_t n = irand(1, 2), c = irand(0, 2) ? irand(2, 6) : irand(7, 40), m = c * irand(1, 2);
    struct pn_window w;
    memset(&w, 0, sizeof w);
    w.nsp = 2;
    int64_t in[2] = {irand(1, 20), irand(0, 2) ? irand(1, 70) : irand(1, 8)};
    for (int i = 0; i < 2; i++) {
      w.in[i] = in[i];
      w.k[i] = 3;
      w.d[i] = 1;
      w.s[i] = i == 0 ? irand(1, 3) : irand(1, 2);
      w.pb[i] = irand(0, 4);
      w.pe[i] = irand(0, 4);
      if (in[i] + w.pb[i] + w.pe[i] < 3) w.pe[i] = 3 - in[i] - w.pb[i];
      w.out[i] = (in[i] + w.pb[i] + w.pe[i] - 3) / w.s[i] + 1;
    }
    struct call cl;
    conv_call(&cl, &w, c);
    int64_t pads[4] = {w.pb[0], w.pb[1], w.pe[0], w.pe[1]};
    int64_t xd[4] = {n, c, w.in[0], w.in[1]}, wd[4] = {m, 1, 3, 3};
    int64_t yd[4] = {n, m, w.out[0], w.out[1]};
    struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd), *W = trand(PN_DT_FLOAT, 4, wd);
    struct pn_tensor *B = trand(PN_DT_FLOAT, 1, &m), *Y0 = pn_tensor_new(PN_DT_FLOAT, 4, yd);
    struct pn_tensor *Y1 = pn_tensor_new(PN_DT_FLOAT, 4, yd);
    assert_true(Y0 && Y1);
    int nin = irand(0, 1) ? 3 : 2;
    struct pn_act act = {(enum pn_act_kind)irand(0, 2), (float)urand(-1, 0.5), (float)urand(-0.5, 1), NULL, NULL};
    const struct pn_tensor *ins[3] = {X, W, B};
    struct pn_op_args a = {&cl.ctx, cl.n, cl.opset};
    struct pn_conv_cache *cache = NULL;
    omp_set_num_threads((int)irand(1, 2));
    memset(Y0->data, 0xff, pn_tensor_nbytes(Y0));
    memset(Y1->data, 0xff, pn_tensor_nbytes(Y1));
    assert_int_equal(pn_conv_run_fused(&a, ins, nin, Y0, act, NULL), PN_OK);
    pn_cpu_set_level(level);
    assert_int_equal(pn_conv_run_fused(&a, ins, nin, Y1, act, &cache), PN_OK);
    pn_cpu_set_level(-1);
    if (memcmp(Y0->data, Y1->data, pn_tensor_nbytes(Y0))) {
      printf("depthwise 3x3 level %d n %lld c %lld m %lld in %lldx%lld s %lldx%lld pads %lld %lld "
             "%lld %lld act %d bias %d: cached path differs from the generic loop\n",
             level, (long long)n, (long long)c, (long long)m, (long long)w.in[0],
             (long long)w.in[1], (long long)w.s[0], (long long)w.s[1], (long long)pads[0],
             (long long)pads[1], (long long)pads[2], (long long)pads[3], (int)act.kind, nin == 3);
      fail();
    }
    pn_conv_cache_free(cache);
    pn_tensor_free(X), pn_tensor_free(W), pn_tensor_free(B), pn_tensor_free(Y0);
    pn_tensor_free(Y1);
    call_free(&cl);
  }
  omp_set_num_threads(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_random),
      cmocka_unit_test(test_gemm_tail_bits),
      cmocka_unit_test(test_gemm_conv2d_pack),
      cmocka_unit_test(test_conv_cached_random),
      cmocka_unit_test(test_conv_skinny_random),
      cmocka_unit_test(test_conv_tiny_random),
      cmocka_unit_test(test_conv_threads_bits),
      cmocka_unit_test(test_dw3x3_same_bits),
      cmocka_unit_test(test_matmul_cached_random),
  };
  return cmocka_run_group_tests(tests, setup_prg, teardown_prg);
}
