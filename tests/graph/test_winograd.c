/* test_winograd.c - Winograd F(2x2, 3x3) convolutions (k_winograd.c) against the plain im2col
** path and a double-precision direct sum, on random geometries: batch, channels, odd and even
** output sizes, every pad combination, bias, fused ReLU, one and two threads, tile blocks and
** output-channel blocks split among threads. Also that pn_conv_run_act takes the Winograd path exactly when given a cache,
** and that the cache follows a change of weights; the AVX-512 transforms against the row ones, to the
** bit; F(4x4, 3x3) against both with its own bound, and the choice between them. Random cases
** print their seed. */
#define PN_TEST_NAME "test_winograd"
#include "kernel_harness.h"

#include <omp.h>

#include "graph/k_dense.h"
#include "util/cpu.h"

struct geo {
  int64_t n, c, m, ih, iw, pads[4];
};

static void random_geo(struct geo *g, int64_t max_hw, int wide) {
  g->n = irand(1, 3);
  g->c = wide == 2 ? irand(64, 96) : irand(1, wide ? 40 : 24);
  g->m = wide == 2 ? irand(128, 170) : wide ? irand(64, 100) : irand(1, 24);
  g->ih = irand(1, max_hw);
  g->iw = irand(1, max_hw);
  for (int i = 0; i < 4; i++) g->pads[i] = irand(0, 2);
  if (g->ih + g->pads[0] + g->pads[2] < 3) g->pads[2] = 3 - g->ih - g->pads[0];
  if (g->iw + g->pads[1] + g->pads[3] < 3) g->pads[3] = 3 - g->iw - g->pads[1];
}

/* The knobs the tests turn (the tile threshold, where F(4x4) starts, the block size) and the
** CPU level: saved before each test and restored after it, whether it passed, failed or skipped. */
static struct {
  int64_t min_tiles, f4_min_out, f4_min_out_any, block_floats;
} saved_knobs;

static int knobs_save(void **state) {
  (void)state;
  saved_knobs.min_tiles = pn_winograd_min_tiles;
  saved_knobs.f4_min_out = pn_winograd_f4_min_out;
  saved_knobs.f4_min_out_any = pn_winograd_f4_min_out_any;
  saved_knobs.block_floats = pn_winograd_block_floats;
  return 0;
}

static int knobs_restore(void **state) {
  (void)state;
  pn_winograd_min_tiles = saved_knobs.min_tiles;
  pn_winograd_f4_min_out = saved_knobs.f4_min_out;
  pn_winograd_f4_min_out_any = saved_knobs.f4_min_out_any;
  pn_winograd_block_floats = saved_knobs.block_floats;
  pn_cpu_set_level(-1);
  return 0;
}

/* Direct convolution in double; *mag gets, per output, the sum of |terms| (error scale). */
static void reference(const struct geo *g, const float *x, const float *w, const float *b,
                      bool relu, int64_t oh, int64_t ow, double *ref, double *mag) {
  for (int64_t n = 0; n < g->n; n++)
    for (int64_t m = 0; m < g->m; m++)
      for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
          double s = b ? b[m] : 0, a = b ? fabs(b[m]) : 0;
          for (int64_t c = 0; c < g->c; c++)
            for (int ky = 0; ky < 3; ky++)
              for (int kx = 0; kx < 3; kx++) {
                int64_t iy = oy + ky - g->pads[0], ix = ox + kx - g->pads[1];
                if (iy < 0 || iy >= g->ih || ix < 0 || ix >= g->iw) continue;
                double t = (double)x[((n * g->c + c) * g->ih + iy) * g->iw + ix] *
                           w[((m * g->c + c) * 3 + ky) * 3 + kx];
                s += t;
                a += fabs(t);
              }
          int64_t i = ((n * g->m + m) * oh + oy) * ow + ox;
          ref[i] = relu && s < 0 ? 0 : s;
          mag[i] = a;
        }
}

/* |y - ref| within tol * (1 + the terms' magnitude); the largest ratio seen goes to *worst */
static void assert_within(const struct pn_tensor *y, const double *ref, const double *mag,
                          double tol, const char *what, double *worst) {
  int64_t ny = pn_tensor_numel(y);
  const float *yp = y->data;
  for (int64_t i = 0; i < ny; i++) {
    double e = fabs(yp[i] - ref[i]) / (1 + mag[i]);
    if (!(e <= tol)) {
      printf("%s: element %" PRId64 ": got %.9g, want %.9g (terms %.3g)\n", what, i, yp[i], ref[i], mag[i]);
      fail();
    }
    if (worst && e > *worst) *worst = e;
  }
}

/* float32 sums of up to 9 * 24 + 1 terms, im2col or F(2x2, 3x3): within 1e-5 of the terms'
** magnitude */
static void assert_near(const struct pn_tensor *y, const double *ref, const double *mag,
                        const char *what) {
  assert_within(y, ref, mag, 1e-5, what, NULL);
}

static void run_case(const struct geo *g, int threads, bool relu, bool bias) {
  struct call cl;
  call_init(&cl, "Conv", 3, 1, 11);
  pn_node_set_ints(cl.g, cl.n, "pads", 4, g->pads);
  int64_t xd[4] = {g->n, g->c, g->ih, g->iw}, wd[4] = {g->m, g->c, 3, 3};
  int64_t oh = g->ih + g->pads[0] + g->pads[2] - 2, ow = g->iw + g->pads[1] + g->pads[3] - 2;
  int64_t yd[4] = {g->n, g->m, oh, ow};
  struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd), *W = trand(PN_DT_FLOAT, 4, wd);
  struct pn_tensor *B = bias ? trand(PN_DT_FLOAT, 1, &g->m) : NULL;
  struct pn_tensor *Yw = pn_tensor_new(PN_DT_FLOAT, 4, yd), *Yp = pn_tensor_new(PN_DT_FLOAT, 4, yd);
  assert_non_null(Yw);
  assert_non_null(Yp);
  const struct pn_tensor *ins[3] = {X, W, B};
  struct pn_op_args a = {&cl.ctx, cl.n, cl.opset};
  struct pn_conv_cache *cache = NULL;
  omp_set_num_threads(threads);
  assert_int_equal(pn_conv_run_act(&a, ins, bias ? 3 : 2, Yw, relu, &cache), PN_OK);
  assert_true(pn_conv_cache_winograd(cache));
  assert_int_equal(pn_conv_run_act(&a, ins, bias ? 3 : 2, Yp, relu, NULL), PN_OK);
  int64_t ny = pn_tensor_numel(Yw);
  double *ref = malloc((size_t)ny * sizeof *ref), *mag = malloc((size_t)ny * sizeof *mag);
  assert_non_null(ref);
  assert_non_null(mag);
  reference(g, X->data, W->data, B ? B->data : NULL, relu, oh, ow, ref, mag);
  assert_near(Yw, ref, mag, "winograd");
  assert_near(Yp, ref, mag, "im2col");
  /* a second run reuses the transformed filters */
  memset(Yw->data, 0xff, (size_t)ny * sizeof(float));
  assert_int_equal(pn_conv_run_act(&a, ins, bias ? 3 : 2, Yw, relu, &cache), PN_OK);
  assert_near(Yw, ref, mag, "winograd, second run");
  /* other weights: the cache follows them */
  struct pn_tensor *W2 = trand(PN_DT_FLOAT, 4, wd);
  const struct pn_tensor *ins2[3] = {X, W2, B};
  assert_int_equal(pn_conv_run_act(&a, ins2, bias ? 3 : 2, Yw, relu, &cache), PN_OK);
  reference(g, X->data, W2->data, B ? B->data : NULL, relu, oh, ow, ref, mag);
  assert_near(Yw, ref, mag, "winograd, new weights");
  pn_conv_cache_free(cache);
  free(ref);
  free(mag);
  pn_tensor_free(X), pn_tensor_free(W), pn_tensor_free(W2), pn_tensor_free(B);
  pn_tensor_free(Yw), pn_tensor_free(Yp);
  call_free(&cl);
}

static void test_winograd_random(void **state) {
  (void)state;
  pn_winograd_min_tiles = 1;
  pn_winograd_f4_min_out = pn_winograd_f4_min_out_any = INT64_MAX;   /* F(2x2) only: F(4x4)
                                                                  ** has its own test and bound */
  for (int rep = 0; rep < 160; rep++) {
    struct geo g;
    /* small, then larger images (several tile blocks), then many output channels on small
    ** images, then at least 128 channels on up to 7 tile rows on two threads and on one tile
    ** row (channel blocks) */
    random_geo(&g, rep < 100 ? 12 : rep < 120 ? 48 : 14, rep < 120 ? 0 : rep < 140 ? 1 : 2);
    if (rep >= 140) g.n = 1;
    if (rep >= 150) {   /* one tile row (2 output rows), wide enough to be threaded */
      g.ih = 2, g.pads[0] = g.pads[2] = 1;
      g.iw = irand(10, 14);
    }
    run_case(&g, rep >= 140 ? 2 : (int)irand(1, 2), irand(0, 1), irand(0, 1));
  }
}

/* The AVX-512 transforms (16 tiles a step, masked loads and stores, steps crossing GEMM panels)
** give the same bits as the row transforms taken below AVX-512 (the GEMM kernels of both levels
** use FMA in the same order): rows of up to 60 tiles, every pad, bias, Relu and Clip, 1-2 threads. */
static void test_winograd_avx512_same_bits(void **state) {
  (void)state;
  pn_cpu_set_level(-1);
  if (pn_cpu_level() < PN_CPU_AVX512) {
    printf("test_winograd: no AVX-512 on this CPU: the AVX-512 transforms are not exercised\n");
    skip();
  }
  pn_winograd_min_tiles = 1;
  pn_winograd_f4_min_out = pn_winograd_f4_min_out_any = INT64_MAX;   /* F(2x2) of both levels */
  struct call cl;
  call_init(&cl, "Conv", 3, 1, 11);
  for (int rep = 0; rep < 80; rep++) {
    struct geo g;
    random_geo(&g, rep < 40 ? 40 : 120, rep % 3 == 0);
    pn_node_set_ints(cl.g, cl.n, "pads", 4, g.pads);
    int64_t xd[4] = {g.n, g.c, g.ih, g.iw}, wd[4] = {g.m, g.c, 3, 3};
    int64_t oh = g.ih + g.pads[0] + g.pads[2] - 2, ow = g.iw + g.pads[1] + g.pads[3] - 2;
    int64_t yd[4] = {g.n, g.m, oh, ow};
    struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd), *W = trand(PN_DT_FLOAT, 4, wd);
    struct pn_tensor *B = trand(PN_DT_FLOAT, 1, &g.m);
    struct pn_tensor *Y[2] = {pn_tensor_new(PN_DT_FLOAT, 4, yd), pn_tensor_new(PN_DT_FLOAT, 4, yd)};
    assert_true(X && W && B && Y[0] && Y[1]);
    const struct pn_tensor *ins[3] = {X, W, B};
    struct pn_op_args a = {&cl.ctx, cl.n, cl.opset};
    int kind = (int)irand(0, 2);
    struct pn_act act = {kind == 0 ? PN_ACT_NONE : kind == 1 ? PN_ACT_RELU : PN_ACT_CLIP, -0.5f,
                         0.75f, NULL, NULL};
    omp_set_num_threads((int)irand(1, 2));
    for (int lv = 0; lv < 2; lv++) {
      pn_cpu_set_level(lv ? PN_CPU_AVX2 : PN_CPU_AVX512);
      struct pn_conv_cache *cache = NULL;
      assert_int_equal(pn_conv_run_fused(&a, ins, 3, Y[lv], act, &cache), PN_OK);
      assert_true(pn_conv_cache_winograd(cache));
      pn_conv_cache_free(cache);
    }
    pn_cpu_set_level(-1);
    int64_t ny = pn_tensor_numel(Y[0]);
    const float *y0 = Y[0]->data, *y1 = Y[1]->data;
    for (int64_t i = 0; i < ny; i++)
      if (memcmp(&y0[i], &y1[i], sizeof *y0)) {
        printf("rep %d: n %" PRId64 " c %" PRId64 " m %" PRId64 " in %" PRId64 "x%" PRId64
               " act %d: element %" PRId64 ": AVX-512 %.9g, rows %.9g\n",
               rep, g.n, g.c, g.m, g.ih, g.iw, kind, i, y0[i], y1[i]);
        fail();
      }
    pn_tensor_free(X), pn_tensor_free(W), pn_tensor_free(B), pn_tensor_free(Y[0]),
        pn_tensor_free(Y[1]);
  }
  call_free(&cl);
}

/* F(4x4, 3x3)'s bound, relative to the terms' magnitude as assert_near's. Rounding errors (u =
** 2^-24 each) are scaled by the transforms: an output is sum_ij |A^T_pi A^T_qj| U_ij V_ij with
** A^T's weights up to 8 (64 over both sides), V = B^T d B up to 100 |d| (B^T's row 4 0 -5 0 1 0)
** and U = G g G^T from thirds and 24ths; the worst output's sum of |A^T A^T| |G| |G^T| |B^T| |B|
** over all-ones d and g is 256 x the terms' magnitude 9 |d| |g| for F(4x4), 7.1 x for F(2x2) (a
** ratio of 36). Measured (test_winograd_f4_random prints it): the largest |error| / (1 + terms)
** over 200 random cases (1-170 channels, images up to 60) was 1.2e-5 - 2.7e-5 (4 seeds; <= 1.8 x
** 256 u) for F(4x4), 2.7e-7 - 7.1e-7 for F(2x2) (~38x less, as the ratio says), 3e-7 for im2col.
** The bound is 1e-4: 3.7x the largest measured, 6.5 x 256 u; F(2x2) keeps its own 1e-5. */
#define F4_TOL 1e-4

static void apply_act(struct pn_act act, double *ref, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    if (act.kind == PN_ACT_RELU) ref[i] = ref[i] > 0 ? ref[i] : 0;
    if (act.kind == PN_ACT_CLIP) ref[i] = ref[i] < act.lo ? act.lo : ref[i] > act.hi ? act.hi : ref[i];
  }
}

/* F(4x4, 3x3) on random geometries (every pad, odd and even sizes, partial tiles at both edges,
** rows of tiles crossing 16-tile steps and GEMM panels, batch, bias, Relu and Clip, 1-2 threads,
** several tile blocks) against the double direct sum and the im2col path, within F4_TOL; the
** cache knows its filters' transform: the same cache switched to F(2x2) and back stays right. */
static void test_winograd_f4_random(void **state) {
  (void)state;
  pn_cpu_set_level(-1);
  if (pn_cpu_level() < PN_CPU_AVX512) {
    printf("test_winograd: no AVX-512 on this CPU: F(4x4, 3x3) is not taken\n");
    skip();
  }
  pn_winograd_min_tiles = 1;
  pn_winograd_f4_min_out = pn_winograd_f4_min_out_any = 1;
  struct call cl;
  call_init(&cl, "Conv", 3, 1, 11);
  double worst[3] = {0, 0, 0};   /* F(4x4), im2col, F(2x2) */
  for (int rep = 0; rep < 200; rep++) {
    struct geo g;
    random_geo(&g, rep < 100 ? 24 : 60, rep < 100 ? 0 : rep < 180 ? 1 : 2);
    if (rep >= 180) g.ih = irand(8, 20), g.iw = irand(8, 20);
    /* small blocks every third case: many blocks per image, a block ending mid-panel */
    pn_winograd_block_floats = rep % 3 == 0 ? 1 : (int64_t)1 << 18;
    pn_node_set_ints(cl.g, cl.n, "pads", 4, g.pads);
    int64_t xd[4] = {g.n, g.c, g.ih, g.iw}, wd[4] = {g.m, g.c, 3, 3};
    int64_t oh = g.ih + g.pads[0] + g.pads[2] - 2, ow = g.iw + g.pads[1] + g.pads[3] - 2;
    int64_t yd[4] = {g.n, g.m, oh, ow};
    bool bias = irand(0, 1);
    struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd), *W = trand(PN_DT_FLOAT, 4, wd);
    struct pn_tensor *B = bias ? trand(PN_DT_FLOAT, 1, &g.m) : NULL;
    struct pn_tensor *Yw = pn_tensor_new(PN_DT_FLOAT, 4, yd), *Yp = pn_tensor_new(PN_DT_FLOAT, 4, yd);
    assert_true(X && W && Yw && Yp);
    const struct pn_tensor *ins[3] = {X, W, B};
    struct pn_op_args a = {&cl.ctx, cl.n, cl.opset};
    int kind = (int)irand(0, 2);
    struct pn_act act = {kind == 0 ? PN_ACT_NONE : kind == 1 ? PN_ACT_RELU : PN_ACT_CLIP, -2.5f,
                         4.0f, NULL, NULL};
    omp_set_num_threads((int)irand(1, 2));
    int64_t ny = pn_tensor_numel(Yw);
    double *ref = malloc((size_t)ny * sizeof *ref), *mag = malloc((size_t)ny * sizeof *mag);
    assert_true(ref && mag);
    reference(&g, X->data, W->data, B ? B->data : NULL, false, oh, ow, ref, mag);
    apply_act(act, ref, ny);
    struct pn_conv_cache *cache = NULL;
    memset(Yw->data, 0xff, (size_t)ny * sizeof(float));
    assert_int_equal(pn_conv_run_fused(&a, ins, bias ? 3 : 2, Yw, act, &cache), PN_OK);
    assert_int_equal(pn_conv_cache_winograd_tile(cache), 4);
    assert_int_equal(pn_conv_run_fused(&a, ins, bias ? 3 : 2, Yp, act, NULL), PN_OK);
    char what[96];
    snprintf(what, sizeof what, "rep %d: F(4x4) n %d c %d m %d in %dx%d act %d", rep, (int)g.n,
             (int)g.c, (int)g.m, (int)g.ih, (int)g.iw, kind);
    assert_within(Yw, ref, mag, F4_TOL, what, &worst[0]);
    assert_within(Yp, ref, mag, 1e-5, "im2col", &worst[1]);
    if (rep % 4 == 0) {   /* the cache switched to F(2x2) and back: rebuilt each time */
      pn_winograd_f4_min_out = pn_winograd_f4_min_out_any = INT64_MAX;
      memset(Yw->data, 0xff, (size_t)ny * sizeof(float));
      assert_int_equal(pn_conv_run_fused(&a, ins, bias ? 3 : 2, Yw, act, &cache), PN_OK);
      assert_int_equal(pn_conv_cache_winograd_tile(cache), 2);
      assert_within(Yw, ref, mag, 1e-5, "F(2x2) after F(4x4)", &worst[2]);
      pn_winograd_f4_min_out = pn_winograd_f4_min_out_any = 1;
      memset(Yw->data, 0xff, (size_t)ny * sizeof(float));
      assert_int_equal(pn_conv_run_fused(&a, ins, bias ? 3 : 2, Yw, act, &cache), PN_OK);
      assert_int_equal(pn_conv_cache_winograd_tile(cache), 4);
      assert_within(Yw, ref, mag, F4_TOL, "F(4x4) after F(2x2)", NULL);
    }
    pn_conv_cache_free(cache);
    free(ref);
    free(mag);
    pn_tensor_free(X), pn_tensor_free(W), pn_tensor_free(B);
    pn_tensor_free(Yw), pn_tensor_free(Yp);
  }
  printf("test_winograd: largest |error| / (1 + terms): F(4x4) %.3g (bound %g), im2col %.3g, "
         "F(2x2) %.3g\n", worst[0], F4_TOL, worst[1], worst[2]);
  call_free(&cl);
}

/* Where Winograd applies, and that without a cache (the executor's no_fuse reference) or below
** the tile threshold the plain path runs. */
static void test_winograd_dispatch(void **state) {
  (void)state;
  struct pn_window w = {.nsp = 2, .in = {16, 16}, .k = {3, 3}, .s = {1, 1}, .d = {1, 1},
                        .pb = {1, 1}, .pe = {1, 1}, .out = {16, 16}};
  assert_true(pn_winograd_fits(&w, 1, 1, 8, 8));
  assert_false(pn_winograd_fits(&w, 2, 1, 8, 8));       /* grouped */
  w.out[0] = w.out[1] = 2;
  assert_false(pn_winograd_fits(&w, 1, 1, 8, 8));       /* 1 tile */
  assert_false(pn_winograd_fits(&w, 1, 15, 8, 8));      /* 15 over the batch */
  assert_true(pn_winograd_fits(&w, 1, 16, 8, 8));       /* 16 over the batch */
  w.out[0] = w.out[1] = 4;
  assert_false(pn_winograd_fits(&w, 1, 1, 8, 8));       /* 4: resnet18's 4x4 maps at 32x32 */
  w.out[0] = 1;
  assert_false(pn_winograd_fits(&w, 1, 32, 8, 8));      /* 1 wide: the skinny path */
  w.out[0] = w.out[1] = 7;
  assert_true(pn_winograd_fits(&w, 1, 1, 8, 8));        /* 16, partly outside the output */
  w.s[0] = 2;
  assert_false(pn_winograd_fits(&w, 1, 4, 8, 8));       /* stride 2 */
  w.s[0] = 1, w.d[1] = 2;
  assert_false(pn_winograd_fits(&w, 1, 4, 8, 8));       /* dilated */
  w.d[1] = 1, w.k[1] = 5;
  assert_false(pn_winograd_fits(&w, 1, 4, 8, 8));       /* 3x5 */
  /* F(4x4) with AVX-512 only, from 28x28 outputs with >= 128 channels each side, from 40x40 */
  w.k[1] = 3, w.out[0] = w.out[1] = 28;
  pn_cpu_set_level(-1);
  int f4 = pn_cpu_level() >= PN_CPU_AVX512 ? 4 : 2;
  assert_int_equal(pn_winograd_tile(&w, 128, 128), f4);   /* resnet18's layer2 */
  assert_int_equal(pn_winograd_tile(&w, 64, 128), 2);
  assert_int_equal(pn_winograd_tile(&w, 128, 64), 2);
  w.out[1] = 27;
  assert_int_equal(pn_winograd_tile(&w, 128, 128), 2);
  w.out[0] = w.out[1] = 14;
  assert_int_equal(pn_winograd_tile(&w, 256, 256), 2);    /* layer3 */
  w.out[0] = w.out[1] = 56;
  assert_int_equal(pn_winograd_tile(&w, 64, 64), f4);     /* layer1 */
  w.out[0] = 39;
  assert_int_equal(pn_winograd_tile(&w, 64, 64), 2);
  w.out[0] = 40;
  assert_int_equal(pn_winograd_tile(&w, 8, 8), f4);
  pn_cpu_set_level(PN_CPU_AVX2);
  assert_int_equal(pn_winograd_tile(&w, 128, 128), 2);
  pn_cpu_set_level(-1);

  struct call cl;
  call_init(&cl, "Conv", 2, 1, 11);
  int64_t pads[4] = {1, 1, 1, 1}, xd[4] = {1, 4, 2, 2}, wd[4] = {5, 4, 3, 3}, yd[4] = {1, 5, 2, 2};
  pn_node_set_ints(cl.g, cl.n, "pads", 4, pads);
  struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd), *W = trand(PN_DT_FLOAT, 4, wd);
  struct pn_tensor *Y = pn_tensor_new(PN_DT_FLOAT, 4, yd);
  const struct pn_tensor *ins[2] = {X, W};
  struct pn_op_args a = {&cl.ctx, cl.n, cl.opset};
  struct pn_conv_cache *cache = NULL;
  assert_int_equal(pn_conv_run_act(&a, ins, 2, Y, false, &cache), PN_OK);   /* 1 tile */
  assert_false(pn_conv_cache_winograd(cache));
  pn_winograd_min_tiles = 1;
  assert_int_equal(pn_conv_run_act(&a, ins, 2, Y, false, &cache), PN_OK);
  assert_true(pn_conv_cache_winograd(cache));
  pn_conv_cache_free(cache);
  pn_tensor_free(X), pn_tensor_free(W), pn_tensor_free(Y);
  call_free(&cl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_winograd_random, knobs_save, knobs_restore),
      cmocka_unit_test_setup_teardown(test_winograd_dispatch, knobs_save, knobs_restore),
      cmocka_unit_test_setup_teardown(test_winograd_avx512_same_bits, knobs_save, knobs_restore),
      cmocka_unit_test_setup_teardown(test_winograd_f4_random, knobs_save, knobs_restore),
  };
  pn_tiny_max_pos = 16;   /* small maps of few channels would take the tiny-output path first */
  return cmocka_run_group_tests(tests, setup_prg, teardown_prg);
}
