/* test_kernels_dense.c - Conv, Gemm, MatMul, pools, BatchNorm, LayerNorm, Softmax vs naive loops.
**
** Every kernel runs through pn_op_defs[op].infer/run on a node of a scratch graph and is compared
** with a slow direct implementation written here from the ONNX spec (nested-loop convolution and
** pooling with explicit padding checks, triple-loop matmul, two-pass statistics) on randomized
** shapes and attributes. The seed is printed; set PN_TEST_SEED=<n> to replay a run. A few
** hand-computed answers and the infer error/unknown-dim cases complete it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "graph/op_def.h"
#include "util/util.h"
#include "pn_test.h"

static struct pn_prg prg;
static uint64_t seed;

static int64_t rnd(int64_t lo, int64_t hi) { /* uniform in [lo, hi] */
  return lo + (int64_t)pn_prg_uniform(&prg, (uint64_t)(hi - lo + 1));
}
static float rndf(void) { return (float)(pn_prg_double(&prg) * 2.0 - 1.0); }

static struct pn_tensor *rand_tensor(int ndim, const int64_t *dims) {
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, ndim, dims);
  assert_non_null(t);
  float *p = t->data;
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) p[i] = rndf();
  return t;
}

/* ---- running one node ---- */

struct op_case {
  struct pn_graph *g;
  struct pn_node *node;
  int64_t opset;
  struct pn_ctx ctx;
};

static void case_init(struct op_case *c, const char *op, int n_in, int n_out, int64_t opset) {
  static const char *const in_names[] = {"i0", "i1", "i2", "i3", "i4"};
  static const char *const out_names[] = {"o0", "o1", "o2"};
  memset(c, 0, sizeof *c);
  c->g = pn_graph_new();
  assert_non_null(c->g);
  c->node = pn_graph_add_node(c->g, op, "n", n_in, in_names, n_out, out_names);
  assert_non_null(c->node);
  c->opset = opset;
}

static void case_free(struct op_case *c) { pn_graph_free(c->g); }

static void set_ints(struct op_case *c, const char *name, int n, const int64_t *v) {
  assert_int_equal(pn_node_set_ints(c->g, c->node, name, n, v), PN_OK);
}
static void set_int(struct op_case *c, const char *name, int64_t v) {
  assert_int_equal(pn_node_set_int(c->g, c->node, name, v), PN_OK);
}
static void set_float(struct op_case *c, const char *name, float v) {
  assert_int_equal(pn_node_set_float(c->g, c->node, name, v), PN_OK);
}

static struct pn_shape shape_of(const struct pn_tensor *t) {
  struct pn_shape s;
  if (t) pn_shape_set(&s, t->dtype, t->ndim, t->dims);
  else pn_shape_set(&s, PN_DT_UNDEFINED, -1, NULL);
  return s;
}

/* infer, allocate outputs (want_out[i] false = omitted optional output), run. */
static int run_op(struct op_case *c, enum pn_op op, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor **out, int n_out, const bool *want_out) {
  struct pn_op_args a = {&c->ctx, c->node, c->opset};
  struct pn_shape si[5], so[3];
  for (int i = 0; i < n_in; i++) si[i] = shape_of(in[i]);
  int rc = pn_op_defs[op].infer(&a, si, n_in, so, n_out);
  if (rc) return rc;
  for (int i = 0; i < n_out; i++) {
    out[i] = NULL;
    if (want_out && !want_out[i]) continue;
    assert_true(so[i].ndim >= 0);
    for (int j = 0; j < so[i].ndim; j++) assert_true(so[i].dims[j] >= 0);
    out[i] = pn_tensor_new(so[i].dtype, so[i].ndim, so[i].dims);
    assert_non_null(out[i]);
  }
  rc = pn_op_defs[op].run(&a, in, n_in, out, n_out);
  if (rc)
    for (int i = 0; i < n_out; i++) pn_tensor_free(out[i]);
  return rc;
}

static void assert_close(const struct pn_tensor *got, const double *want, int64_t n, double tol,
                         const char *what) {
  assert_int_equal(pn_tensor_numel(got), n);
  for (int64_t i = 0; i < n; i++) {
    double g = pn_tensor_get_f64(got, i);
    if (!(fabs(g - want[i]) <= tol * (1 + fabs(want[i])))) {
      print_error("%s: element %lld = %.8g, want %.8g (seed %llu)\n", what, (long long)i, g,
                  want[i], (unsigned long long)seed);
      fail();
    }
  }
}

static void assert_dims(const struct pn_tensor *t, int ndim, const int64_t *dims) {
  assert_int_equal(t->ndim, ndim);
  for (int i = 0; i < ndim; i++) assert_int_equal(t->dims[i], dims[i]);
}

/* ---- reference geometry, straight from the spec text ---- */

static const char *const pad_modes[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

/* Output size and begin pad of one spatial dim. pool_ceil: pool with ceil_mode. */
static int64_t ref_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe,
                       int mode, bool pool_ceil, int64_t *pb_out) {
  int64_t ek = d * (k - 1) + 1;
  if (mode == 0) {
    *pb_out = pb;
    double q = (double)(in + pb + pe - ek) / (double)s;
    int64_t o = (int64_t)(pool_ceil ? ceil(q) : floor(q)) + 1;
    if (pool_ceil && (o - 1) * s >= in + pb) o--;
    return o;
  }
  if (mode == 3) {
    *pb_out = 0;
    return (int64_t)ceil((double)(in - ek + 1) / (double)s);
  }
  int64_t o = (int64_t)ceil((double)in / (double)s);
  int64_t total = (o - 1) * s + ek - in;
  if (total < 0) total = 0;
  *pb_out = mode == 1 ? total / 2 : (total + 1) / 2;
  return o;
}

/* ---- Conv ---- */

struct conv_ref {
  int nsp;
  int64_t n, c, m, group, in[3], k[3], s[3], d[3], pb[3], out[3];
};

static double conv_ref_at(const struct conv_ref *r, const float *x, const float *w, int64_t n,
                          int64_t m, const int64_t *o) {
  int64_t cg = r->c / r->group, mg = r->m / r->group, g = m / mg;
  double acc = 0;
  int64_t kk[3] = {0, 0, 0};
  int64_t kn = 1;
  for (int i = 0; i < r->nsp; i++) kn *= r->k[i];
  for (int64_t ci = 0; ci < cg; ci++) {
    for (int64_t kq = 0; kq < kn; kq++) {
      int64_t rem = kq;
      for (int i = r->nsp - 1; i >= 0; i--) {
        kk[i] = rem % r->k[i];
        rem /= r->k[i];
      }
      int64_t xoff = n * r->c + g * cg + ci, woff = m * cg + ci;
      bool inside = true;
      for (int i = 0; i < r->nsp; i++) {
        int64_t pos = o[i] * r->s[i] - r->pb[i] + kk[i] * r->d[i];
        if (pos < 0 || pos >= r->in[i]) inside = false;
        xoff = xoff * r->in[i] + pos;
        woff = woff * r->k[i] + kk[i];
      }
      if (inside) acc += (double)x[xoff] * w[woff];
    }
  }
  return acc;
}

/* One random Conv case, or the given geometry when fixed is set (mode 0, random values). */
static void conv_case(bool force_1x1, const struct conv_ref *fixed, const int64_t *fixed_pads) {
  struct conv_ref r;
  int mode = 0;
  int64_t pads[6], cg, mg;
  if (fixed) {
    r = *fixed;
    cg = r.c / r.group;
    mg = r.m / r.group;
    for (int i = 0; i < r.nsp; i++) {
      pads[i] = fixed_pads[i];
      pads[r.nsp + i] = fixed_pads[r.nsp + i];
      r.out[i] = ref_out(r.in[i], r.k[i], r.s[i], r.d[i], pads[i], pads[r.nsp + i], 0, false,
                         &r.pb[i]);
    }
  } else {
    r.nsp = (int)rnd(1, 3);
    r.n = rnd(1, 2);
    int gk = (int)rnd(0, 2);
    cg = rnd(1, 3);
    mg = rnd(1, 3);
    r.group = gk == 0 ? 1 : gk == 1 ? 2 : rnd(2, 4);
    if (gk == 2) cg = mg = 1;                       /* depthwise */
    r.c = cg * r.group;
    r.m = mg * r.group;
    mode = force_1x1 ? 0 : (int)rnd(0, 3);
    for (int i = 0; i < r.nsp; i++) {
      r.k[i] = force_1x1 ? 1 : rnd(1, r.nsp == 3 ? 2 : 3);
      r.s[i] = force_1x1 ? 1 : rnd(1, 3);
      r.d[i] = force_1x1 ? 1 : rnd(1, 2);
      pads[i] = force_1x1 ? 0 : rnd(0, 2);
      pads[r.nsp + i] = force_1x1 ? 0 : rnd(0, 2);
      int64_t ek = r.d[i] * (r.k[i] - 1) + 1;
      r.in[i] = ek + rnd(0, r.nsp == 3 ? 3 : 6);
      r.out[i] = ref_out(r.in[i], r.k[i], r.s[i], r.d[i], pads[i], pads[r.nsp + i], mode, false,
                         &r.pb[i]);
    }
  }
  struct op_case c;
  bool bias = rnd(0, 1);
  case_init(&c, "Conv", bias ? 3 : 2, 1, 11);
  set_ints(&c, "strides", r.nsp, r.s);
  set_ints(&c, "dilations", r.nsp, r.d);
  if (rnd(0, 1)) set_ints(&c, "kernel_shape", r.nsp, r.k);
  if (r.group != 1 || rnd(0, 1)) set_int(&c, "group", r.group);
  if (mode == 0) set_ints(&c, "pads", 2 * r.nsp, pads);
  else assert_int_equal(pn_node_set_string(c.g, c.node, "auto_pad", pad_modes[mode]), PN_OK);

  int64_t xd[5] = {r.n, r.c}, wd[5] = {r.m, cg}, bd[1] = {r.m}, yd[5] = {r.n, r.m};
  for (int i = 0; i < r.nsp; i++) {
    xd[2 + i] = r.in[i];
    wd[2 + i] = r.k[i];
    yd[2 + i] = r.out[i];
  }
  struct pn_tensor *x = rand_tensor(r.nsp + 2, xd), *w = rand_tensor(r.nsp + 2, wd),
                   *b = bias ? rand_tensor(1, bd) : NULL, *y;
  const struct pn_tensor *in[3] = {x, w, b};
  assert_int_equal(run_op(&c, PN_OP_CONV, in, bias ? 3 : 2, &y, 1, NULL), PN_OK);
  assert_dims(y, r.nsp + 2, yd);
  int64_t ny = pn_tensor_numel(y), sp = pn_shape_numel(r.nsp, r.out);
  double *want = malloc((size_t)ny * sizeof *want);
  assert_non_null(want);
  int64_t q = 0;
  for (int64_t n = 0; n < r.n; n++)
    for (int64_t m = 0; m < r.m; m++)
      for (int64_t p = 0; p < sp; p++, q++) {
        int64_t o[3], rem = p;
        for (int i = r.nsp - 1; i >= 0; i--) {
          o[i] = rem % r.out[i];
          rem /= r.out[i];
        }
        want[q] = conv_ref_at(&r, x->data, w->data, n, m, o) + (b ? ((float *)b->data)[m] : 0);
      }
  assert_close(y, want, ny, 1e-4, "Conv");
  free(want);
  pn_tensor_free(x);
  pn_tensor_free(w);
  pn_tensor_free(b);
  pn_tensor_free(y);
  case_free(&c);
}

static void test_conv_random(void **state) {
  for (int i = 0; i < 120; i++) conv_case(false, NULL, NULL);
  for (int i = 0; i < 10; i++) conv_case(true, NULL, NULL);
}

/* Convolutions big enough for the threaded path: output positions split among threads (with
** and without im2col), and a narrow output whose filters are split instead. */
static void test_conv_large(void **state) {
  static const struct {
    struct conv_ref r;
    int64_t pads[6];
  } cases[] = {
    {{.nsp = 2, .n = 1, .c = 16, .m = 32, .group = 1, .in = {37, 41}, .k = {3, 3}, .s = {1, 1},
      .d = {1, 1}}, {1, 1, 1, 1}},
    {{.nsp = 2, .n = 2, .c = 64, .m = 64, .group = 1, .in = {33, 30}, .k = {1, 1}, .s = {1, 1},
      .d = {1, 1}}, {0, 0, 0, 0}},
    {{.nsp = 2, .n = 1, .c = 128, .m = 96, .group = 1, .in = {7, 7}, .k = {3, 3}, .s = {1, 1},
      .d = {1, 1}}, {1, 1, 1, 1}},
    {{.nsp = 2, .n = 1, .c = 32, .m = 64, .group = 2, .in = {45, 44}, .k = {3, 3}, .s = {2, 2},
      .d = {2, 1}}, {2, 1, 0, 2}},
    {{.nsp = 2, .n = 2, .c = 48, .m = 48, .group = 48, .in = {96, 96}, .k = {3, 3}, .s = {1, 1},
      .d = {1, 1}}, {1, 1, 1, 1}},   /* depthwise */
    {{.nsp = 3, .n = 1, .c = 16, .m = 32, .group = 1, .in = {10, 12, 14}, .k = {3, 2, 3},
      .s = {1, 2, 1}, .d = {1, 1, 2}}, {1, 0, 2, 1, 1, 0}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    conv_case(false, &cases[i].r, cases[i].pads);
}

/* ONNX's documented example: 5x5 input 0..24, 3x3 all-ones kernel, with and without padding;
** each output is the sum of a 3x3 neighbourhood (e.g. centre 12: 9 * 12 = 108). */
static void test_conv_known(void **state) {
  int64_t xd[4] = {1, 1, 5, 5}, wd[4] = {1, 1, 3, 3};
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, xd), *w = pn_tensor_new(PN_DT_FLOAT, 4, wd);
  for (int i = 0; i < 25; i++) ((float *)x->data)[i] = (float)i;
  for (int i = 0; i < 9; i++) ((float *)w->data)[i] = 1;
  const struct pn_tensor *in[2] = {x, w};
  struct pn_tensor *y;
  struct op_case c;
  case_init(&c, "Conv", 2, 1, 11);
  assert_int_equal(run_op(&c, PN_OP_CONV, in, 2, &y, 1, NULL), PN_OK);
  const double no_pad[9] = {54, 63, 72, 99, 108, 117, 144, 153, 162};
  assert_close(y, no_pad, 9, 1e-6, "Conv no pad");
  pn_tensor_free(y);
  int64_t pads[4] = {1, 1, 1, 1};
  set_ints(&c, "pads", 4, pads);
  assert_int_equal(run_op(&c, PN_OP_CONV, in, 2, &y, 1, NULL), PN_OK);
  const double with_pad[25] = {12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108,
                               117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84};
  assert_close(y, with_pad, 25, 1e-6, "Conv pads 1");
  pn_tensor_free(y);
  /* strides 2 with pads 1: the corners and centre of the padded result */
  int64_t st[2] = {2, 2};
  set_ints(&c, "strides", 2, st);
  assert_int_equal(run_op(&c, PN_OP_CONV, in, 2, &y, 1, NULL), PN_OK);
  const double strided[9] = {12, 27, 24, 63, 108, 81, 72, 117, 84};
  assert_close(y, strided, 9, 1e-6, "Conv strides 2");
  pn_tensor_free(y);
  case_free(&c);
  pn_tensor_free(x);
  pn_tensor_free(w);
}

/* ---- Gemm / MatMul ---- */

static void gemm_case(void) {
  int64_t m = rnd(1, 9), k = rnd(1, 9), n = rnd(1, 9), ta = rnd(0, 1), tb = rnd(0, 1);
  float alpha = rnd(0, 1) ? 1.0f : rndf() * 2, beta = rnd(0, 1) ? 1.0f : rndf() * 2;
  int ckind = (int)rnd(0, 6); /* none, scalar, [1], [N], [1,N], [M,1], [M,N] */
  int64_t ad[2] = {ta ? k : m, ta ? m : k}, bd[2] = {tb ? n : k, tb ? k : n};
  static const int cnd[7] = {-1, 0, 1, 1, 2, 2, 2};
  int64_t cd[2];
  switch (ckind) {
  case 2: cd[0] = 1; break;
  case 3: cd[0] = n; break;
  case 4: cd[0] = 1, cd[1] = n; break;
  case 5: cd[0] = m, cd[1] = 1; break;
  case 6: cd[0] = m, cd[1] = n; break;
  default: break;
  }
  struct pn_tensor *a = rand_tensor(2, ad), *b = rand_tensor(2, bd),
                   *cc = ckind ? rand_tensor(cnd[ckind], cd) : NULL, *y;
  struct op_case c;
  case_init(&c, "Gemm", ckind ? 3 : 2, 1, 13);
  if (ta || rnd(0, 1)) set_int(&c, "transA", ta);
  if (tb || rnd(0, 1)) set_int(&c, "transB", tb);
  if (alpha != 1.0f) set_float(&c, "alpha", alpha);
  if (beta != 1.0f) set_float(&c, "beta", beta);
  const struct pn_tensor *in[3] = {a, b, cc};
  assert_int_equal(run_op(&c, PN_OP_GEMM, in, ckind ? 3 : 2, &y, 1, NULL), PN_OK);
  int64_t yd[2] = {m, n};
  assert_dims(y, 2, yd);
  double want[81];
  const float *ap = a->data, *bp = b->data, *cp = cc ? cc->data : NULL;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t l = 0; l < k; l++)
        s += (double)ap[ta ? l * m + i : i * k + l] * bp[tb ? j * k + l : l * n + j];
      double cv = 0;
      switch (ckind) {
      case 1: case 2: cv = cp[0]; break;
      case 3: case 4: cv = cp[j]; break;
      case 5: cv = cp[i]; break;
      case 6: cv = cp[i * n + j]; break;
      default: break;
      }
      want[i * n + j] = alpha * s + beta * cv;
    }
  assert_close(y, want, m * n, 1e-4, "Gemm");
  pn_tensor_free(a);
  pn_tensor_free(b);
  pn_tensor_free(cc);
  pn_tensor_free(y);
  case_free(&c);
}

static void test_gemm_random(void **state) {
  for (int i = 0; i < 100; i++) gemm_case();
}

/* Gemm's blocks are fixed by its sizes (k_matmul.c's sgemm_fixed): 1, 2 and 3 threads give the
** same bits, on one row (a classifier: sgemv over 64-column blocks) and on several (sgemm over
** blocks of columns or rows), with transA/B, alpha, beta and broadcast C; one thread is checked
** against a double product (a skipped block leaves beta * C and fails it). */
static void test_gemm_threads(void **state) {
  (void)state;
  for (int t = 0; t < 16; t++) {
    bool row = t % 2 == 0;
    int64_t m = row ? 1 : rnd(2, 90), k = rnd(100, 700), n = rnd(row ? 300 : 100, row ? 1500 : 700);
    if (t % 4 == 3) {   /* more rows than columns: blocks of rows */
      int64_t sw = m;
      m = n, n = sw;
    }
    int64_t ta = rnd(0, 1), tb = rnd(0, 1), ad[2] = {ta ? k : m, ta ? m : k};
    int64_t bd[2] = {tb ? n : k, tb ? k : n}, cd[2] = {m, n};
    float alpha = rnd(0, 1) ? 1.0f : rndf() * 2, beta = rnd(0, 1) ? 1.0f : rndf() * 2;
    bool cfull = rnd(0, 1);   /* C [M, N] or [N] */
    struct pn_tensor *a = rand_tensor(2, ad), *b = rand_tensor(2, bd);
    struct pn_tensor *cc = cfull ? rand_tensor(2, cd) : rand_tensor(1, &n), *y[3];
    struct op_case c;
    case_init(&c, "Gemm", 3, 1, 13);
    set_int(&c, "transA", ta);
    set_int(&c, "transB", tb);
    set_float(&c, "alpha", alpha);
    set_float(&c, "beta", beta);
    const struct pn_tensor *in[3] = {a, b, cc};
    for (int th = 0; th < 3; th++) {
      omp_set_num_threads(th + 1);
      assert_int_equal(run_op(&c, PN_OP_GEMM, in, 3, &y[th], 1, NULL), PN_OK);
    }
    omp_set_num_threads(1);
    for (int th = 1; th < 3; th++)
      if (memcmp(y[0]->data, y[th]->data, (size_t)(m * n) * sizeof(float)))
        fail_msg("Gemm %lldx%lldx%lld (transA %lld transB %lld): %d threads differ from 1 (seed "
                 "%llu, case %d)", (long long)m, (long long)k, (long long)n, (long long)ta,
                 (long long)tb, th + 1, (unsigned long long)seed, t);
    double *want = malloc((size_t)(m * n) * sizeof *want);
    assert_non_null(want);
    const float *ap = a->data, *bp = b->data, *cp = cc->data;
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double sum = 0;
        for (int64_t l = 0; l < k; l++)
          sum += (double)ap[ta ? l * m + i : i * k + l] * bp[tb ? j * k + l : l * n + j];
        want[i * n + j] = alpha * sum + beta * (double)cp[cfull ? i * n + j : j];
      }
    assert_close(y[0], want, m * n, 1e-4, "Gemm");
    free(want);
    for (int th = 0; th < 3; th++) pn_tensor_free(y[th]);
    pn_tensor_free(a), pn_tensor_free(b), pn_tensor_free(cc);
    case_free(&c);
  }
}

/* MatMul as one product (2-D operands, or A's batches stacked over a single B) off the packed path
** (run_op: no weight cache), as a non-constant B reaches it: 1, 2 and 3 threads give the same bits,
** and the product is right (double reference). */
static void test_matmul_threads(void **state) {
  (void)state;
  for (int t = 0; t < 12; t++) {
    int64_t batch = t % 3 == 2 ? 2 : 1, m = t % 2 ? rnd(1, 4) : rnd(20, 300), k = rnd(60, 400), n = rnd(100, 900);
    if (t % 4 == 1) {   /* more rows than columns */
      int64_t sw = m;
      m = n, n = sw;
    }
    int64_t ad[3] = {batch, m, k}, bd[2] = {k, n};
    struct pn_tensor *a = batch > 1 ? rand_tensor(3, ad) : rand_tensor(2, ad + 1), *b = rand_tensor(2, bd), *y[3];
    struct op_case c;
    case_init(&c, "MatMul", 2, 1, 13);
    const struct pn_tensor *in[2] = {a, b};
    for (int th = 0; th < 3; th++) {
      omp_set_num_threads(th + 1);
      assert_int_equal(run_op(&c, PN_OP_MATMUL, in, 2, &y[th], 1, NULL), PN_OK);
    }
    omp_set_num_threads(1);
    const int64_t rows = batch * m;
    for (int th = 1; th < 3; th++)
      if (memcmp(y[0]->data, y[th]->data, (size_t)(rows * n) * sizeof(float)))
        fail_msg("MatMul %lldx%lldx%lldx%lld: %d threads differ from 1 (seed %llu, case %d)", (long long)batch,
                 (long long)m, (long long)k, (long long)n, th + 1, (unsigned long long)seed, t);
    double *want = malloc((size_t)(rows * n) * sizeof *want);
    assert_non_null(want);
    const float *ap = a->data, *bp = b->data;
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < n; j++) {
        double sum = 0;
        for (int64_t l = 0; l < k; l++) sum += (double)ap[i * k + l] * bp[l * n + j];
        want[i * n + j] = sum;
      }
    assert_close(y[0], want, rows * n, 1e-4, "MatMul");
    free(want);
    for (int th = 0; th < 3; th++) pn_tensor_free(y[th]);
    pn_tensor_free(a), pn_tensor_free(b);
    case_free(&c);
  }
}

static void matmul_case(void) {
  /* batch dims of A and B drawn so that they broadcast: each is 1 or the common size */
  int nb = (int)rnd(0, 3), na = (int)rnd(0, nb), nbb = (int)rnd(0, nb);
  int64_t common[3], m = rnd(1, 5), k = rnd(1, 6), n = rnd(1, 5);
  for (int i = 0; i < nb; i++) common[i] = rnd(1, 3);
  bool a1 = rnd(0, 4) == 0, b1 = rnd(0, 4) == 0;   /* 1-D operands */
  if (a1) na = 0;
  if (b1) nbb = 0;
  int64_t ad[5], bd[5];
  int ar = 0, br = 0;
  for (int i = nb - na; i < nb; i++) ad[ar++] = rnd(0, 2) ? common[i] : 1;
  for (int i = nb - nbb; i < nb; i++) bd[br++] = rnd(0, 2) ? common[i] : 1;
  if (!a1) ad[ar++] = m;
  ad[ar++] = k;
  bd[br++] = k;
  if (!b1) bd[br++] = n;
  if (a1) m = 1;
  if (b1) n = 1;
  struct pn_tensor *a = rand_tensor(ar, ad), *b = rand_tensor(br, bd), *y;
  struct op_case c;
  case_init(&c, "MatMul", 2, 1, 13);
  const struct pn_tensor *in[2] = {a, b};
  assert_int_equal(run_op(&c, PN_OP_MATMUL, in, 2, &y, 1, NULL), PN_OK);
  /* expected shape: broadcast batch (only as many dims as the longer operand has) + M + N */
  int ob = (a1 ? 0 : ar - 2) > (b1 ? 0 : br - 2) ? (a1 ? 0 : ar - 2) : (b1 ? 0 : br - 2);
  int64_t yd[6], obd[3];
  int yr = 0;
  for (int i = 0; i < ob; i++) {
    int ia = i - (ob - (a1 ? 0 : ar - 2)), ib = i - (ob - (b1 ? 0 : br - 2));
    int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
    obd[i] = yd[yr++] = da > db ? da : db;
  }
  if (!a1) yd[yr++] = m;
  if (!b1) yd[yr++] = n;
  assert_dims(y, yr, yd);
  int64_t nbatch = pn_shape_numel(ob, obd);
  double *want = malloc((size_t)(nbatch * m * n) * sizeof *want);
  const float *ap = a->data, *bp = b->data;
  for (int64_t bi = 0; bi < nbatch; bi++) {
    int64_t idx[3], rem = bi, aoff = 0, boff = 0;
    for (int i = ob - 1; i >= 0; i--) {
      idx[i] = rem % obd[i];
      rem /= obd[i];
    }
    int abn = a1 ? 0 : ar - 2, bbn = b1 ? 0 : br - 2;
    for (int i = 0; i < abn; i++) aoff = aoff * ad[i] + (ad[i] == 1 ? 0 : idx[i + ob - abn]);
    for (int i = 0; i < bbn; i++) boff = boff * bd[i] + (bd[i] == 1 ? 0 : idx[i + ob - bbn]);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double s = 0;
        for (int64_t l = 0; l < k; l++)
          s += (double)ap[aoff * m * k + i * k + l] * bp[boff * k * n + l * n + j];
        want[(bi * m + i) * n + j] = s;
      }
  }
  assert_close(y, want, nbatch * m * n, 1e-4, "MatMul");
  free(want);
  pn_tensor_free(a);
  pn_tensor_free(b);
  pn_tensor_free(y);
  case_free(&c);
}

static void test_matmul_random(void **state) {
  for (int i = 0; i < 150; i++) matmul_case();
}

/* Batched with broadcasting, large enough for the parallel-batches path. */
static void test_matmul_large(void **state) {
  int64_t ad[4] = {2, 3, 40, 64}, bd[4] = {1, 3, 64, 80}, yd[4] = {2, 3, 40, 80};
  struct pn_tensor *a = rand_tensor(4, ad), *b = rand_tensor(4, bd), *y;
  struct op_case c;
  case_init(&c, "MatMul", 2, 1, 13);
  const struct pn_tensor *in[2] = {a, b};
  assert_int_equal(run_op(&c, PN_OP_MATMUL, in, 2, &y, 1, NULL), PN_OK);
  assert_dims(y, 4, yd);
  double *want = malloc(6 * 40 * 80 * sizeof *want);
  const float *ap = a->data, *bp = b->data;
  for (int i0 = 0; i0 < 2; i0++)
    for (int i1 = 0; i1 < 3; i1++)
      for (int i = 0; i < 40; i++)
        for (int j = 0; j < 80; j++) {
          double s = 0;
          for (int l = 0; l < 64; l++)
            s += (double)ap[((i0 * 3 + i1) * 40 + i) * 64 + l] * bp[(i1 * 64 + l) * 80 + j];
          want[((i0 * 3 + i1) * 40 + i) * 80 + j] = s;
        }
  assert_close(y, want, 6 * 40 * 80, 1e-4, "MatMul batched");
  free(want);
  pn_tensor_free(a);
  pn_tensor_free(b);
  pn_tensor_free(y);
  case_free(&c);
}

static void test_matmul_known(void **state) {
  /* [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]; 1-D [1,2] x same = [19,22]... of row 0 */
  int64_t d2[2] = {2, 2}, d1[1] = {2};
  struct pn_tensor *a = pn_tensor_new(PN_DT_FLOAT, 2, d2), *b = pn_tensor_new(PN_DT_FLOAT, 2, d2);
  struct pn_tensor *v = pn_tensor_new(PN_DT_FLOAT, 1, d1), *y;
  const float av[4] = {1, 2, 3, 4}, bv[4] = {5, 6, 7, 8}, vv[2] = {1, 2};
  memcpy(a->data, av, sizeof av);
  memcpy(b->data, bv, sizeof bv);
  memcpy(v->data, vv, sizeof vv);
  struct op_case c;
  case_init(&c, "MatMul", 2, 1, 13);
  const struct pn_tensor *in[2] = {a, b};
  assert_int_equal(run_op(&c, PN_OP_MATMUL, in, 2, &y, 1, NULL), PN_OK);
  const double w1[4] = {19, 22, 43, 50};
  assert_close(y, w1, 4, 1e-6, "MatMul 2x2");
  pn_tensor_free(y);
  in[0] = v;
  assert_int_equal(run_op(&c, PN_OP_MATMUL, in, 2, &y, 1, NULL), PN_OK);
  assert_int_equal(y->ndim, 1);
  assert_close(y, w1, 2, 1e-6, "MatMul 1-D x 2-D");
  pn_tensor_free(y);
  in[0] = a;
  in[1] = v;   /* [[1,2],[3,4]] x [1,2] = [5, 11] */
  assert_int_equal(run_op(&c, PN_OP_MATMUL, in, 2, &y, 1, NULL), PN_OK);
  const double w2[2] = {5, 11};
  assert_int_equal(y->ndim, 1);
  assert_close(y, w2, 2, 1e-6, "MatMul 2-D x 1-D");
  pn_tensor_free(y);
  in[0] = v;   /* dot product: scalar 5 */
  assert_int_equal(run_op(&c, PN_OP_MATMUL, in, 2, &y, 1, NULL), PN_OK);
  assert_int_equal(y->ndim, 0);
  const double w3[1] = {5};
  assert_close(y, w3, 1, 1e-6, "MatMul dot");
  pn_tensor_free(y);
  case_free(&c);
  pn_tensor_free(a);
  pn_tensor_free(b);
  pn_tensor_free(v);
}

/* ---- pooling ---- */

static void pool_case(bool is_max) {
  int nsp = (int)rnd(1, 3), mode = (int)rnd(0, 3);
  int64_t n = rnd(1, 2), ch = rnd(1, 3), in[3], k[3], s[3], d[3], pads[6], pb[3], out[3];
  bool ceil_mode = rnd(0, 1), cip = rnd(0, 1), so = is_max && rnd(0, 1);
  bool use_dil = rnd(0, 1);
  for (int i = 0; i < nsp; i++) {
    k[i] = rnd(1, 3);
    s[i] = rnd(1, 3);
    d[i] = use_dil ? rnd(1, 2) : 1;
    int64_t ek = d[i] * (k[i] - 1) + 1;
    pads[i] = rnd(0, k[i] - 1);
    pads[nsp + i] = rnd(0, k[i] - 1);
    in[i] = ek + rnd(0, nsp == 3 ? 3 : 6);
    out[i] = ref_out(in[i], k[i], s[i], d[i], pads[i], pads[nsp + i], mode, ceil_mode, &pb[i]);
  }
  int64_t pe[3];
  for (int i = 0; i < nsp; i++) { /* the end pad the reference counts (count_include_pad) */
    int64_t ek = d[i] * (k[i] - 1) + 1;
    if (mode == 0) pe[i] = pads[nsp + i];
    else if (mode == 3) pe[i] = 0;
    else {
      int64_t total = (out[i] - 1) * s[i] + ek - in[i];
      pe[i] = (total < 0 ? 0 : total) - pb[i];
    }
  }
  struct op_case c;
  case_init(&c, is_max ? "MaxPool" : "AveragePool", 1, is_max ? 2 : 1, is_max ? 12 : 11);
  set_ints(&c, "kernel_shape", nsp, k);
  bool unit = true;
  for (int i = 0; i < nsp; i++) unit = unit && s[i] == 1;
  if (!unit || rnd(0, 1)) set_ints(&c, "strides", nsp, s);
  if (use_dil) set_ints(&c, "dilations", nsp, d);
  if (mode == 0) set_ints(&c, "pads", 2 * nsp, pads);
  else assert_int_equal(pn_node_set_string(c.g, c.node, "auto_pad", pad_modes[mode]), PN_OK);
  if (ceil_mode) set_int(&c, "ceil_mode", 1);
  if (!is_max && cip) set_int(&c, "count_include_pad", 1);
  if (so) set_int(&c, "storage_order", 1);
  int64_t xd[5] = {n, ch}, yd[5] = {n, ch};
  for (int i = 0; i < nsp; i++) {
    xd[2 + i] = in[i];
    yd[2 + i] = out[i];
  }
  struct pn_tensor *x = rand_tensor(nsp + 2, xd), *y[2];
  const struct pn_tensor *inp[1] = {x};
  bool want_out[2] = {true, is_max && rnd(0, 1)};
  assert_int_equal(run_op(&c, is_max ? PN_OP_MAX_POOL : PN_OP_AVERAGE_POOL, inp, 1, y,
                          is_max ? 2 : 1, want_out), PN_OK);
  assert_dims(y[0], nsp + 2, yd);
  int64_t sp = pn_shape_numel(nsp, out), insp = pn_shape_numel(nsp, in), ny = n * ch * sp;
  double *want = malloc((size_t)ny * sizeof *want);
  int64_t *want_idx = malloc((size_t)ny * sizeof *want_idx);
  const float *xp = x->data;
  int64_t kn = pn_shape_numel(nsp, k);
  for (int64_t pl = 0; pl < n * ch; pl++)
    for (int64_t p = 0; p < sp; p++) {
      int64_t o[3], rem = p;
      for (int i = nsp - 1; i >= 0; i--) {
        o[i] = rem % out[i];
        rem /= out[i];
      }
      double best = -INFINITY, sum = 0;
      int64_t cnt_valid = 0, cnt_pad = 0, best_idx = -1;
      for (int64_t kq = 0; kq < kn; kq++) {
        int64_t kk[3], r2 = kq, off = 0, col = 0, cs = 1;
        for (int i = nsp - 1; i >= 0; i--) {
          kk[i] = r2 % k[i];
          r2 /= k[i];
        }
        bool inside = true, in_pad = true;
        for (int i = 0; i < nsp; i++) {
          int64_t pos = o[i] * s[i] - pb[i] + kk[i] * d[i];
          if (pos < 0 || pos >= in[i]) inside = false;
          if (pos < -pb[i] || pos >= in[i] + pe[i]) in_pad = false;
          off = off * in[i] + pos;
          col += pos * cs;
          cs *= in[i];
        }
        if (in_pad) cnt_pad++;
        if (!inside) continue;
        cnt_valid++;
        double v = xp[pl * insp + off];
        sum += v;
        if (v > best) {
          best = v;
          best_idx = pl * insp + (so ? col : off);
        }
      }
      want[pl * sp + p] = is_max ? best : sum / (double)(cip ? cnt_pad : cnt_valid);
      want_idx[pl * sp + p] = best_idx;
    }
  assert_close(y[0], want, ny, 1e-5, is_max ? "MaxPool" : "AveragePool");
  if (is_max && want_out[1]) {
    assert_int_equal(y[1]->dtype, PN_DT_INT64);
    assert_dims(y[1], nsp + 2, yd);
    for (int64_t i = 0; i < ny; i++) assert_int_equal(((int64_t *)y[1]->data)[i], want_idx[i]);
  }
  free(want);
  free(want_idx);
  pn_tensor_free(x);
  pn_tensor_free(y[0]);
  if (is_max) pn_tensor_free(y[1]);
  case_free(&c);
}

static void test_pool_random(void **state) {
  for (int i = 0; i < 150; i++) pool_case(true);
  for (int i = 0; i < 150; i++) pool_case(false);
}

/* 2-D float MaxPool without Indices (vectorised rows, windows clipped by the padding included,
** planes shared among threads) against the same node with Indices (the generic loop):
** bit-identical outputs, NaNs and infinities included, on planes from 7x7 up (and large enough
** for the threaded path), dilations 1-2 both ways, at 1 and 2 threads. A window order or NaN
** rule that differed, a skipped edge column or a plane left unwritten fails. */
static void test_maxpool_fast_path(void **state) {
  (void)state;
  for (int it = 0; it < 80; it++) {
    int64_t k[2] = {rnd(1, 4), rnd(1, 4)}, s[2] = {rnd(1, 3), rnd(1, 3)};
    int64_t d[2] = {rnd(1, 2), rnd(1, 2)};
    int64_t pads[4] = {rnd(0, k[0] - 1), rnd(0, k[1] - 1), rnd(0, k[0] - 1), rnd(0, k[1] - 1)};
    /* small planes too (resnet18 at 32x32 pools 16x16 with pads 1: every row's first window and
    ** the first row clipped) */
    int64_t xd[4] = {rnd(1, 2), rnd(1, 40), rnd(0, 2) ? rnd(8, 70) : rnd(7, 20), rnd(7, 70)};
    bool ceil_mode = rnd(0, 1);
    struct pn_tensor *x = rand_tensor(4, xd), *y1[2], *y2[2];
    float *xp = x->data;
    for (int64_t i = 0; i < pn_tensor_numel(x); i += rnd(1, 200)) {
      int kind = (int)rnd(0, 2);
      xp[i] = kind == 0 ? NAN : kind == 1 ? -INFINITY : INFINITY;
    }
    struct op_case c;
    case_init(&c, "MaxPool", 1, 2, 12);
    set_ints(&c, "kernel_shape", 2, k);
    set_ints(&c, "strides", 2, s);
    set_ints(&c, "dilations", 2, d);
    set_ints(&c, "pads", 4, pads);
    if (ceil_mode) set_int(&c, "ceil_mode", 1);
    const struct pn_tensor *in[1] = {x};
    const bool both[2] = {true, true}, first[2] = {true, false};
    assert_int_equal(run_op(&c, PN_OP_MAX_POOL, in, 1, y1, 2, both), PN_OK);
    for (int t = 1; t <= 2; t++) {
      omp_set_num_threads(t);
      assert_int_equal(run_op(&c, PN_OP_MAX_POOL, in, 1, y2, 2, first), PN_OK);
      assert_int_equal(pn_tensor_numel(y2[0]), pn_tensor_numel(y1[0]));
      if (memcmp(y1[0]->data, y2[0]->data, (size_t)pn_tensor_numel(y1[0]) * sizeof(float)))
        fail_msg("MaxPool fast path differs (seed %llu, case %d, %d threads)",
                 (unsigned long long)seed, it, t);
      pn_tensor_free(y2[0]);
    }
    pn_tensor_free(y1[0]);
    pn_tensor_free(y1[1]);
    pn_tensor_free(x);
    case_free(&c);
  }
}

/* ceil_mode's last-window rule and count_include_pad, by hand: 1-D input [1,2,3,4,5], kernel 2,
** stride 2, pads [1,1]. Windows start at -1, 1 and 3; ceil_mode would add one starting at 5, in
** the end padding, which the rule drops: 3 outputs. */
static void test_pool_known(void **state) {
  int64_t xd[3] = {1, 1, 5}, k[1] = {2}, s[1] = {2}, pads[2] = {1, 1};
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 3, xd), *y[2];
  for (int i = 0; i < 5; i++) ((float *)x->data)[i] = (float)(i + 1);
  const struct pn_tensor *in[1] = {x};
  struct op_case c;
  case_init(&c, "AveragePool", 1, 1, 11);
  set_ints(&c, "kernel_shape", 1, k);
  set_ints(&c, "strides", 1, s);
  set_ints(&c, "pads", 2, pads);
  set_int(&c, "ceil_mode", 1);
  assert_int_equal(run_op(&c, PN_OP_AVERAGE_POOL, in, 1, y, 1, NULL), PN_OK);
  const double avg[3] = {1, 2.5, 4.5};   /* [pad,1] [2,3] [4,5] */
  assert_close(y[0], avg, 3, 1e-6, "AveragePool ceil");
  pn_tensor_free(y[0]);
  set_int(&c, "count_include_pad", 1);
  assert_int_equal(run_op(&c, PN_OP_AVERAGE_POOL, in, 1, y, 1, NULL), PN_OK);
  const double avg_pad[3] = {0.5, 2.5, 4.5};
  assert_close(y[0], avg_pad, 3, 1e-6, "AveragePool count_include_pad");
  pn_tensor_free(y[0]);
  case_free(&c);
  /* MaxPool 2x2 stride 1 on [[1,9],[3,4]] with Indices: 9 at flat index 1 */
  int64_t xd2[4] = {1, 1, 2, 2}, k2[2] = {2, 2};
  struct pn_tensor *x2 = pn_tensor_new(PN_DT_FLOAT, 4, xd2);
  const float xv[4] = {1, 9, 3, 4};
  memcpy(x2->data, xv, sizeof xv);
  in[0] = x2;
  case_init(&c, "MaxPool", 1, 2, 12);
  set_ints(&c, "kernel_shape", 2, k2);
  assert_int_equal(run_op(&c, PN_OP_MAX_POOL, in, 1, y, 2, NULL), PN_OK);
  const double mx[1] = {9};
  assert_close(y[0], mx, 1, 0, "MaxPool");
  assert_int_equal(((int64_t *)y[1]->data)[0], 1);
  pn_tensor_free(y[0]);
  pn_tensor_free(y[1]);
  set_int(&c, "storage_order", 1);     /* column-major: (h=0, w=1) -> 0 + 1 * 2 = 2 */
  assert_int_equal(run_op(&c, PN_OP_MAX_POOL, in, 1, y, 2, NULL), PN_OK);
  assert_int_equal(((int64_t *)y[1]->data)[0], 2);
  pn_tensor_free(y[0]);
  pn_tensor_free(y[1]);
  case_free(&c);
  pn_tensor_free(x);
  pn_tensor_free(x2);
}

static void test_global_pools(void **state) {
  for (int t = 0; t < 20; t++) {
    int nsp = (int)rnd(1, 3);
    int64_t d[5] = {rnd(1, 2), rnd(1, 4)};
    for (int i = 0; i < nsp; i++) d[2 + i] = rnd(1, 5);
    struct pn_tensor *x = rand_tensor(nsp + 2, d), *y;
    const struct pn_tensor *in[1] = {x};
    int64_t planes = d[0] * d[1], sp = pn_shape_numel(nsp, d + 2);
    double want_avg[8], want_max[8];
    for (int64_t p = 0; p < planes; p++) {
      double s = 0, m = -INFINITY;
      for (int64_t i = 0; i < sp; i++) {
        double v = ((float *)x->data)[p * sp + i];
        s += v;
        m = v > m ? v : m;
      }
      want_avg[p] = s / (double)sp;
      want_max[p] = m;
    }
    int64_t yd[5] = {d[0], d[1], 1, 1, 1};
    for (int op = 0; op < 2; op++) {
      struct op_case c;
      case_init(&c, op ? "GlobalMaxPool" : "GlobalAveragePool", 1, 1, 13);
      assert_int_equal(run_op(&c, op ? PN_OP_GLOBAL_MAX_POOL : PN_OP_GLOBAL_AVERAGE_POOL, in, 1,
                              &y, 1, NULL), PN_OK);
      assert_dims(y, nsp + 2, yd);
      assert_close(y, op ? want_max : want_avg, planes, 1e-5, "global pool");
      pn_tensor_free(y);
      case_free(&c);
    }
    pn_tensor_free(x);
  }
}

/* ---- BatchNormalization ---- */

static void test_batch_norm(void **state) {
  for (int t = 0; t < 30; t++) {
    int nsp = (int)rnd(0, 2);
    int64_t d[4] = {rnd(1, 3), rnd(1, 4), rnd(1, 4), rnd(1, 4)}, cd[1] = {d[1]};
    int nd = nsp + 2;
    bool training = t % 3 == 2;
    float eps = (float)rnd(1, 100) * 1e-4f, mom = (float)pn_prg_double(&prg);
    struct pn_tensor *x = rand_tensor(nd, d), *p[4], *y[3];
    for (int i = 0; i < 4; i++) p[i] = rand_tensor(1, cd);
    for (int64_t i = 0; i < d[1]; i++) ((float *)p[3]->data)[i] += 1.5f;   /* var > 0 */
    struct op_case c;
    case_init(&c, "BatchNormalization", 5, training ? 3 : 1, training ? 15 : (t % 2 ? 9 : 7));
    set_float(&c, "epsilon", eps);
    set_float(&c, "momentum", mom);
    if (training) set_int(&c, "training_mode", 1);
    else if (c.opset == 7) set_int(&c, "spatial", 1);
    const struct pn_tensor *in[5] = {x, p[0], p[1], p[2], p[3]};
    assert_int_equal(run_op(&c, PN_OP_BATCH_NORM, in, 5, y, training ? 3 : 1, NULL), PN_OK);
    int64_t sp = pn_shape_numel(nsp, d + 2), nx = pn_tensor_numel(x);
    double *want = malloc((size_t)nx * sizeof *want), rm[4], rv[4];
    const float *xp = x->data, *sc = p[0]->data, *bb = p[1]->data, *mu = p[2]->data,
                *var = p[3]->data;
    for (int64_t ch = 0; ch < d[1]; ch++) {
      double m = mu[ch], v = var[ch];
      if (training) {
        double s = 0, q = 0;
        for (int64_t b = 0; b < d[0]; b++)
          for (int64_t i = 0; i < sp; i++) s += xp[(b * d[1] + ch) * sp + i];
        m = s / (double)(d[0] * sp);
        for (int64_t b = 0; b < d[0]; b++)
          for (int64_t i = 0; i < sp; i++) {
            double e = xp[(b * d[1] + ch) * sp + i] - m;
            q += e * e;
          }
        v = q / (double)(d[0] * sp);
        rm[ch] = mu[ch] * mom + m * (1 - mom);
        rv[ch] = var[ch] * mom + v * (1 - mom);
      }
      for (int64_t b = 0; b < d[0]; b++)
        for (int64_t i = 0; i < sp; i++) {
          int64_t o = (b * d[1] + ch) * sp + i;
          want[o] = (xp[o] - m) / sqrt(v + eps) * sc[ch] + bb[ch];
        }
    }
    assert_close(y[0], want, nx, 1e-4, "BatchNormalization");
    if (training) {
      assert_close(y[1], rm, d[1], 1e-5, "running_mean");
      assert_close(y[2], rv, d[1], 1e-5, "running_var");
    }
    for (int i = 0; i < (training ? 3 : 1); i++) pn_tensor_free(y[i]);
    for (int i = 0; i < 4; i++) pn_tensor_free(p[i]);
    pn_tensor_free(x);
    free(want);
    case_free(&c);
  }
}

/* ---- LayerNormalization ---- */

static void test_layer_norm(void **state) {
  for (int t = 0; t < 40; t++) {
    int nd = (int)rnd(1, 4);
    int64_t d[4];
    for (int i = 0; i < nd; i++) d[i] = rnd(1, 4);
    int64_t ax = rnd(-nd, nd - 1);
    int axis = (int)(ax < 0 ? ax + nd : ax), nn = nd - axis;
    /* Scale full-shaped or broadcasting (trailing dims only, some of them 1) */
    int64_t sd[4];
    int sr = rnd(0, 1) ? nn : (int)rnd(1, nn);
    for (int i = 0; i < sr; i++) sd[i] = rnd(0, 2) ? d[nd - sr + i] : 1;
    bool has_b = rnd(0, 1);
    float eps = (float)rnd(1, 100) * 1e-4f;
    struct pn_tensor *x = rand_tensor(nd, d), *sc = rand_tensor(sr, sd),
                     *b = has_b ? rand_tensor(sr, sd) : NULL, *y[3];
    struct op_case c;
    case_init(&c, "LayerNormalization", has_b ? 3 : 2, 3, 17);
    if (ax != -1 || rnd(0, 1)) set_int(&c, "axis", ax);
    set_float(&c, "epsilon", eps);
    const struct pn_tensor *in[3] = {x, sc, b};
    bool want_out[3] = {true, rnd(0, 1), rnd(0, 1)};
    assert_int_equal(run_op(&c, PN_OP_LAYER_NORM, in, has_b ? 3 : 2, y, 3, want_out), PN_OK);
    int64_t outer = pn_shape_numel(axis, d), inner = pn_shape_numel(nn, d + axis);
    int64_t nx = outer * inner;
    double *want = malloc((size_t)nx * sizeof *want), wm[256], wi[256];
    const float *xp = x->data;
    for (int64_t o = 0; o < outer; o++) {
      double s = 0, q = 0;
      for (int64_t i = 0; i < inner; i++) s += xp[o * inner + i];
      double m = s / (double)inner;
      for (int64_t i = 0; i < inner; i++) q += (xp[o * inner + i] - m) * (xp[o * inner + i] - m);
      double inv = 1 / sqrt(q / (double)inner + eps);
      wm[o] = m;
      wi[o] = inv;
      for (int64_t i = 0; i < inner; i++) {
        /* scale index: the trailing sr dims of the normalised index, 1-dims broadcast */
        int64_t rem = i, si = 0, mul = 1;
        for (int j = nd - 1; j >= axis; j--) {
          int64_t id = rem % d[j];
          rem /= d[j];
          int sj = j - (nd - sr);
          if (sj >= 0) {
            si += (sd[sj] == 1 ? 0 : id) * mul;
            mul *= sd[sj];
          }
        }
        double bv = b ? ((float *)b->data)[si] : 0;
        want[o * inner + i] = (xp[o * inner + i] - m) * inv * ((float *)sc->data)[si] + bv;
      }
    }
    assert_close(y[0], want, nx, 1e-4, "LayerNormalization");
    int64_t md[4];
    for (int i = 0; i < nd; i++) md[i] = i < axis ? d[i] : 1;
    if (y[1]) {
      assert_dims(y[1], nd, md);
      assert_close(y[1], wm, outer, 1e-5, "LayerNormalization Mean");
    }
    if (y[2]) {
      assert_dims(y[2], nd, md);
      assert_close(y[2], wi, outer, 1e-4, "LayerNormalization InvStdDev");
    }
    for (int i = 0; i < 3; i++) pn_tensor_free(y[i]);
    pn_tensor_free(x);
    pn_tensor_free(sc);
    pn_tensor_free(b);
    free(want);
    case_free(&c);
  }
}

/* ---- Softmax ---- */

static void test_softmax(void **state) {
  for (int t = 0; t < 60; t++) {
    int nd = (int)rnd(1, 4);
    int64_t d[4];
    for (int i = 0; i < nd; i++) d[i] = rnd(1, 5);
    int64_t opset = t % 2 ? 13 : 11, ax = rnd(-nd, nd - 1);
    bool dflt = rnd(0, 3) == 0;
    if (dflt) ax = opset >= 13 ? -1 : (nd > 1 ? 1 : 0);
    int axis = (int)(ax < 0 ? ax + nd : ax);
    struct pn_tensor *x = rand_tensor(nd, d), *y;
    float *xp = x->data;
    float shift = t % 5 == 0 ? 1000.0f : 0.0f;   /* stability: large logits */
    for (int64_t i = 0; i < pn_tensor_numel(x); i++) xp[i] = xp[i] * 4 + shift;
    struct op_case c;
    case_init(&c, "Softmax", 1, 1, opset);
    if (!dflt || (opset < 13 && nd == 1)) set_int(&c, "axis", ax);
    const struct pn_tensor *in[1] = {x};
    assert_int_equal(run_op(&c, PN_OP_SOFTMAX, in, 1, &y, 1, NULL), PN_OK);
    int64_t outer = pn_shape_numel(axis, d), nx = pn_tensor_numel(x);
    /* opset 13: groups along one axis; opset 11: the whole flattened tail [axis:] */
    int64_t len = opset >= 13 ? d[axis] : pn_shape_numel(nd - axis, d + axis);
    int64_t inner = opset >= 13 ? pn_shape_numel(nd - axis - 1, d + axis + 1) : 1;
    double *want = malloc((size_t)nx * sizeof *want);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < inner; i++) {
        double mx = -INFINITY, s = 0;
        for (int64_t j = 0; j < len; j++) mx = fmax(mx, xp[(o * len + j) * inner + i]);
        for (int64_t j = 0; j < len; j++) s += exp(xp[(o * len + j) * inner + i] - mx);
        for (int64_t j = 0; j < len; j++)
          want[(o * len + j) * inner + i] = exp(xp[(o * len + j) * inner + i] - mx) / s;
      }
    assert_close(y, want, nx, 1e-5, "Softmax");
    free(want);
    pn_tensor_free(x);
    pn_tensor_free(y);
    case_free(&c);
  }
}

/* Softmax along a contiguous last axis of every length from 1 to 70 and some longer ones (with
** AVX-512, k_norm.c's vector path: whole vectors and a masked last one): each element within 1e-6
** of the double-precision value relative to it (libmvec's expf is within 4 ulp), exact zeros
** where the input is -inf (masked attention) and every element NaN in a row with a NaN, as the
** scalar loop gives. Row 0 plain, row 1 with a -inf, row 2 with a NaN; every third case shifted
** by 500 (the maximum must be subtracted). */
static void test_softmax_rows(void **state) {
  (void)state;
  static const int64_t longer[] = {127, 128, 129, 255, 1000};
  for (int t = 0; t < 75; t++) {
    int64_t len = t < 70 ? t + 1 : longer[t - 70], d[2] = {3, len};
    struct pn_tensor *x = rand_tensor(2, d), *y;
    float *xp = x->data;
    for (int64_t i = 0; i < 3 * len; i++) xp[i] = xp[i] * 8 + (t % 3 == 0 ? 500.0f : 0.0f);
    if (len > 1) xp[len + rnd(0, len - 1)] = -INFINITY;
    xp[2 * len + rnd(0, len - 1)] = NAN;
    struct op_case c;
    case_init(&c, "Softmax", 1, 1, 13);
    const struct pn_tensor *in[1] = {x};
    assert_int_equal(run_op(&c, PN_OP_SOFTMAX, in, 1, &y, 1, NULL), PN_OK);
    const float *yp = y->data;
    for (int r = 0; r < 2; r++) {
      const float *xr = xp + r * len;
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < len; j++) mx = fmax(mx, xr[j]);
      for (int64_t j = 0; j < len; j++) sum += exp((double)xr[j] - mx);
      for (int64_t j = 0; j < len; j++) {
        double want = exp((double)xr[j] - mx) / sum, got = yp[r * len + j];
        if (!(fabs(got - want) <= 1e-6 * want) && !(want == 0 && got == 0))
          fail_msg("Softmax of %lld: row %d element %lld = %.9g, want %.9g (seed %llu)",
                   (long long)len, r, (long long)j, got, want, (unsigned long long)seed);
      }
    }
    for (int64_t j = 0; j < len; j++)
      if (!isnan(yp[2 * len + j]))
        fail_msg("Softmax of %lld with a NaN: element %lld = %g (seed %llu)", (long long)len,
                 (long long)j, yp[2 * len + j], (unsigned long long)seed);
    pn_tensor_free(x);
    pn_tensor_free(y);
    case_free(&c);
  }
}

/* LayerNormalization and Softmax on enough rows to be cut into chunks (k_norm.c's par_rows: at
** least 2^14 values a chunk, up to 4 chunks a thread): 1, 2 and 3 threads give the same bits (each
** row is computed whole by one thread), row counts that do not divide into the chunks, Softmax
** along the last axis and along a middle one (rows spaced apart), LayerNorm with its Mean and
** InvStdDev outputs. The outputs are filled with NaN bytes first, so a chunk skipped fails the
** comparison, and a chunk's rows taken from the wrong place give other values. */
static void test_norm_rows_threads(void **state) {
  (void)state;
  for (int t = 0; t < 12; t++) {
    int64_t d[3] = {rnd(1, 3), rnd(20, 90), rnd(200, 1100)};
    if (t % 3 == 2) d[1] = 1;   /* one row a batch item: the chunks cut across the batch */
    struct pn_tensor *x = rand_tensor(3, d), *y[3][3];
    const struct pn_tensor *in[3] = {x, NULL, NULL};
    struct op_case c;
    bool ln = t % 2;
    struct pn_tensor *sc = NULL, *b = NULL;
    if (ln) {
      case_init(&c, "LayerNormalization", 3, 3, 17);
      set_int(&c, "axis", -1);
      sc = rand_tensor(1, &d[2]);
      b = rand_tensor(1, &d[2]);
      in[1] = sc, in[2] = b;
    } else {
      case_init(&c, "Softmax", 1, 1, 13);
      set_int(&c, "axis", t % 4 == 0 ? 1 : -1);
    }
    int nout = ln ? 3 : 1;
    for (int k = 0; k < 3; k++) {
      omp_set_num_threads(k + 1);
      struct pn_op_args a = {&c.ctx, c.node, c.opset};
      struct pn_shape si[3], so[3];
      for (int i = 0; i < (ln ? 3 : 1); i++) si[i] = shape_of(in[i]);
      assert_int_equal(pn_op_defs[ln ? PN_OP_LAYER_NORM : PN_OP_SOFTMAX].infer(&a, si, ln ? 3 : 1,
                                                                               so, nout),
                       PN_OK);
      for (int i = 0; i < nout; i++) {
        y[k][i] = pn_tensor_new(so[i].dtype, so[i].ndim, so[i].dims);
        assert_non_null(y[k][i]);
        memset(y[k][i]->data, 0xff, (size_t)pn_tensor_numel(y[k][i]) * sizeof(float));
      }
      assert_int_equal(pn_op_defs[ln ? PN_OP_LAYER_NORM : PN_OP_SOFTMAX].run(&a, in, ln ? 3 : 1,
                                                                             y[k], nout),
                       PN_OK);
    }
    omp_set_num_threads(1);
    for (int k = 1; k < 3; k++)
      for (int i = 0; i < nout; i++)
        if (memcmp(y[0][i]->data, y[k][i]->data,
                   (size_t)pn_tensor_numel(y[0][i]) * sizeof(float)))
          fail_msg("%s output %d: %d threads differ from 1 (seed %llu, case %d, x %lldx%lldx%lld)",
                   ln ? "LayerNormalization" : "Softmax", i, k + 1, (unsigned long long)seed, t,
                   (long long)d[0], (long long)d[1], (long long)d[2]);
    const float *y0 = y[0][0]->data;   /* and no NaN left behind on one thread either */
    for (int64_t i = 0; i < pn_tensor_numel(y[0][0]); i++) assert_false(isnan(y0[i]));
    for (int k = 0; k < 3; k++)
      for (int i = 0; i < nout; i++) pn_tensor_free(y[k][i]);
    pn_tensor_free(x), pn_tensor_free(sc), pn_tensor_free(b);
    case_free(&c);
  }
}

/* The binary and unary elementwise kernels cut into ranges of blocks for k_par.c's pool
** (k_elementwise.c's run_blocks, from PN_PAR_MIN elements): 1, 2 and 3 threads give the same bits,
** on same-shape, per-row, last-dim and scalar operands (either side) and on sizes that leave a
** short last block and uneven ranges. Outputs start as NaN bytes, so a skipped range fails, and
** Add / Sub / Mul / Div are checked against the float expression element by element. */
static void test_elementwise_threads(void **state) {
  (void)state;
  static const enum pn_op bin[] = {PN_OP_ADD, PN_OP_SUB, PN_OP_MUL, PN_OP_DIV};
  static const char *const bin_name[] = {"Add", "Sub", "Mul", "Div"};
  static const enum pn_op un[] = {PN_OP_ERF, PN_OP_RELU, PN_OP_EXP, PN_OP_SIGMOID, PN_OP_TANH,
                                  PN_OP_LEAKY_RELU, PN_OP_NEG, PN_OP_ABS};
  static const char *const un_name[] = {"Erf", "Relu", "Exp", "Sigmoid", "Tanh", "LeakyRelu",
                                        "Neg", "Abs"};
  for (int t = 0; t < 24; t++) {
    int64_t d[3] = {rnd(1, 3), rnd(20, 90), rnd(600, 3000)};
    struct pn_tensor *x = rand_tensor(3, d), *b = NULL, *y[3];
    bool binary = t % 2 == 0;
    int op = binary ? (t / 2) % 4 : (t / 2) % 8, form = (t / 8) % 4;
    struct op_case c;
    case_init(&c, binary ? bin_name[op] : un_name[op], binary ? 2 : 1, 1, 13);
    if (!binary && un[op] == PN_OP_LEAKY_RELU) set_float(&c, "alpha", 0.3f);
    const struct pn_tensor *in[2] = {x, NULL};
    bool b_first = binary && t % 3 == 0;
    if (binary) {   /* B: same shape, per row [d1, 1], last dim [d2], or a scalar */
      int64_t bd[3] = {d[0], d[1], d[2]}, row[2] = {d[1], 1}, one = 1;
      b = form == 0 ? rand_tensor(3, bd) : form == 1 ? rand_tensor(2, row)
          : form == 2 ? rand_tensor(1, &d[2]) : rand_tensor(1, &one);
      in[b_first ? 0 : 1] = b;
      in[b_first ? 1 : 0] = x;
    }
    enum pn_op id = binary ? bin[op] : un[op];
    for (int k = 0; k < 3; k++) {
      omp_set_num_threads(k + 1);
      struct pn_op_args a = {&c.ctx, c.node, c.opset};
      struct pn_shape si[2], so;
      for (int i = 0; i < (binary ? 2 : 1); i++) si[i] = shape_of(in[i]);
      assert_int_equal(pn_op_defs[id].infer(&a, si, binary ? 2 : 1, &so, 1), PN_OK);
      y[k] = pn_tensor_new(so.dtype, so.ndim, so.dims);
      assert_non_null(y[k]);
      memset(y[k]->data, 0xff, (size_t)pn_tensor_numel(y[k]) * sizeof(float));
      assert_int_equal(pn_op_defs[id].run(&a, in, binary ? 2 : 1, &y[k], 1), PN_OK);
    }
    omp_set_num_threads(1);
    int64_t n = pn_tensor_numel(y[0]);
    assert_int_equal(n, pn_tensor_numel(x));
    for (int k = 1; k < 3; k++)
      if (memcmp(y[0]->data, y[k]->data, (size_t)n * sizeof(float)))
        fail_msg("%s: %d threads differ from 1 (seed %llu, case %d, x %lldx%lldx%lld, form %d)",
                 binary ? bin_name[op] : un_name[op], k + 1, (unsigned long long)seed, t,
                 (long long)d[0], (long long)d[1], (long long)d[2], binary ? form : -1);
    const float *y0 = y[0]->data, *xp = x->data, *bp = b ? b->data : NULL;
    for (int64_t i = 0; i < n; i++) {
      assert_false(isnan(y0[i]));
      if (!binary) continue;
      int64_t j = form == 0 ? i : form == 1 ? i / d[2] % d[1] : form == 2 ? i % d[2] : 0;
      float u = b_first ? bp[j] : xp[i], v = b_first ? xp[i] : bp[j];
      float want = op == 0 ? u + v : op == 1 ? u - v : op == 2 ? u * v : u / v;
      if (memcmp(&want, &y0[i], sizeof want))
        fail_msg("%s: element %lld = %.9g, want %.9g (seed %llu, case %d)", bin_name[op],
                 (long long)i, y0[i], want, (unsigned long long)seed, t);
    }
    for (int k = 0; k < 3; k++) pn_tensor_free(y[k]);
    pn_tensor_free(x), pn_tensor_free(b);
    case_free(&c);
  }
}

/* ---- infer: errors name the attribute; unknown dims propagate ---- */

static int infer(struct op_case *c, enum pn_op op, const struct pn_shape *in, int n_in,
                 struct pn_shape *out, int n_out) {
  struct pn_op_args a = {&c->ctx, c->node, c->opset};
  return pn_op_defs[op].infer(&a, in, n_in, out, n_out);
}

static struct pn_shape shp(enum pn_dtype dt, int nd, int64_t d0, int64_t d1, int64_t d2,
                           int64_t d3) {
  struct pn_shape s;
  int64_t d[4] = {d0, d1, d2, d3};
  pn_shape_set(&s, dt, nd, d);
  return s;
}

#define F PN_DT_FLOAT

static void expect_err(struct op_case *c, enum pn_op op, const struct pn_shape *in, int n_in,
                       int code, const char *needle) {
  struct pn_shape out[3];
  pn_err_clear(&c->ctx);
  assert_int_equal(infer(c, op, in, n_in, out, 1), code);
  if (!strstr(pn_errmsg(&c->ctx), needle)) {
    print_error("message '%s' lacks '%s'\n", pn_errmsg(&c->ctx), needle);
    fail();
  }
}

static void test_infer_errors(void **state) {
  struct op_case c;
  struct pn_shape in[3] = {shp(F, 4, 1, 4, 8, 8), shp(F, 4, 6, 2, 3, 3), shp(F, 1, 6, 0, 0, 0)};
  case_init(&c, "Conv", 3, 1, 11);
  expect_err(&c, PN_OP_CONV, in, 3, PN_ERR_INVALID, "channel");     /* C=4 vs 2 x group 1 */
  set_int(&c, "group", 2);
  struct pn_shape out[3];
  assert_int_equal(infer(&c, PN_OP_CONV, in, 3, out, 1), PN_OK);
  int64_t k3[3] = {3, 3, 3}, k2[2] = {3, 3}, neg[4] = {0, -1, 0, 0}, z2[2] = {0, 1};
  set_ints(&c, "kernel_shape", 3, k3);
  expect_err(&c, PN_OP_CONV, in, 3, PN_ERR_INVALID, "kernel_shape");
  set_ints(&c, "kernel_shape", 2, k2);
  set_ints(&c, "pads", 4, neg);
  expect_err(&c, PN_OP_CONV, in, 3, PN_ERR_INVALID, "pads");
  set_ints(&c, "pads", 2, z2);
  expect_err(&c, PN_OP_CONV, in, 3, PN_ERR_INVALID, "pads");
  case_free(&c);
  case_init(&c, "Conv", 3, 1, 11);
  set_int(&c, "group", 2);
  assert_int_equal(pn_node_set_string(c.g, c.node, "auto_pad", "SAME"), PN_OK);
  expect_err(&c, PN_OP_CONV, in, 3, PN_ERR_INVALID, "auto_pad");
  case_free(&c);
  case_init(&c, "Conv", 3, 1, 11);
  set_int(&c, "group", 2);
  set_ints(&c, "strides", 2, z2);
  expect_err(&c, PN_OP_CONV, in, 3, PN_ERR_INVALID, "strides");
  case_free(&c);
  case_init(&c, "Conv", 3, 1, 11);
  set_int(&c, "group", 4);   /* M = 6 not divisible by 4 (and C = 4 != 2 x 4) */
  expect_err(&c, PN_OP_CONV, in, 3, PN_ERR_INVALID, "group");
  set_int(&c, "group", 2);
  in[2] = shp(F, 1, 5, 0, 0, 0);
  expect_err(&c, PN_OP_CONV, in, 3, PN_ERR_INVALID, "B");
  in[0] = shp(PN_DT_INT32, 4, 1, 4, 8, 8);
  expect_err(&c, PN_OP_CONV, in, 2, PN_ERR_UNSUPPORTED, "dtype");
  in[0] = shp(F, 4, 1, 4, 2, 2);     /* 2x2 input, 3x3 kernel, no padding */
  expect_err(&c, PN_OP_CONV, in, 2, PN_ERR_INVALID, "kernel");
  case_free(&c);

  case_init(&c, "MaxPool", 1, 1, 12);
  in[0] = shp(F, 4, 1, 4, 8, 8);
  expect_err(&c, PN_OP_MAX_POOL, in, 1, PN_ERR_INVALID, "kernel_shape");
  set_ints(&c, "kernel_shape", 3, k3);
  expect_err(&c, PN_OP_MAX_POOL, in, 1, PN_ERR_INVALID, "kernel_shape");
  set_ints(&c, "kernel_shape", 2, k2);
  set_int(&c, "storage_order", 2);
  expect_err(&c, PN_OP_MAX_POOL, in, 1, PN_ERR_INVALID, "storage_order");
  case_free(&c);
  case_init(&c, "AveragePool", 1, 1, 11);
  set_ints(&c, "kernel_shape", 2, k2);
  set_int(&c, "ceil_mode", 3);
  expect_err(&c, PN_OP_AVERAGE_POOL, in, 1, PN_ERR_INVALID, "ceil_mode");
  set_int(&c, "ceil_mode", 0);
  set_ints(&c, "pads", 4, (const int64_t[]){3, 0, 0, 0}); /* a 3-wide window can't start 3 pads out */
  expect_err(&c, PN_OP_AVERAGE_POOL, in, 1, PN_ERR_INVALID, "pads");
  case_free(&c);

  case_init(&c, "Gemm", 2, 1, 13);
  in[0] = shp(F, 2, 3, 4, 0, 0);
  in[1] = shp(F, 2, 5, 6, 0, 0);
  expect_err(&c, PN_OP_GEMM, in, 2, PN_ERR_INVALID, "inner");
  set_int(&c, "transB", 1);     /* B' = 6 x 5: still K 4 vs 6 */
  expect_err(&c, PN_OP_GEMM, in, 2, PN_ERR_INVALID, "inner");
  in[1] = shp(F, 2, 5, 4, 0, 0);
  in[2] = shp(F, 1, 3, 0, 0, 0);   /* C [3] does not broadcast to 3 x 5 */
  case_free(&c);
  case_init(&c, "Gemm", 3, 1, 13);
  set_int(&c, "transB", 1);
  expect_err(&c, PN_OP_GEMM, in, 3, PN_ERR_INVALID, "C");
  case_free(&c);
  case_init(&c, "MatMul", 2, 1, 13);
  in[0] = shp(F, 3, 2, 3, 4, 0);
  in[1] = shp(F, 2, 5, 6, 0, 0);
  expect_err(&c, PN_OP_MATMUL, in, 2, PN_ERR_INVALID, "inner");
  in[1] = shp(F, 3, 3, 4, 6, 0);   /* batch 2 vs 3 */
  expect_err(&c, PN_OP_MATMUL, in, 2, PN_ERR_INVALID, "broadcast");
  case_free(&c);
  case_init(&c, "LayerNormalization", 2, 1, 17);
  set_int(&c, "axis", 3);
  in[0] = shp(F, 3, 2, 3, 4, 0);
  in[1] = shp(F, 1, 4, 0, 0, 0);
  expect_err(&c, PN_OP_LAYER_NORM, in, 2, PN_ERR_INVALID, "axis");
  set_int(&c, "axis", 1);
  in[1] = shp(F, 1, 3, 0, 0, 0);   /* [3] does not broadcast to the normalised dims [3,4] */
  expect_err(&c, PN_OP_LAYER_NORM, in, 2, PN_ERR_INVALID, "Scale");
  case_free(&c);
  case_init(&c, "Softmax", 1, 1, 13);
  set_int(&c, "axis", -4);
  expect_err(&c, PN_OP_SOFTMAX, in, 1, PN_ERR_INVALID, "axis");
  case_free(&c);
  case_init(&c, "BatchNormalization", 5, 1, 15);
  in[0] = shp(F, 4, 2, 3, 4, 4);
  struct pn_shape bn[5] = {in[0], shp(F, 1, 3, 0, 0, 0), shp(F, 1, 3, 0, 0, 0),
                           shp(F, 1, 4, 0, 0, 0), shp(F, 1, 3, 0, 0, 0)};
  expect_err(&c, PN_OP_BATCH_NORM, bn, 5, PN_ERR_INVALID, "input_mean");
  case_free(&c);
}

static void test_infer_unknown(void **state) {
  struct op_case c;
  struct pn_shape in[3], out[3];
  case_init(&c, "Conv", 2, 1, 11);
  int64_t st[2] = {2, 2}, k2[2] = {3, 3};
  set_ints(&c, "strides", 2, st);
  in[0] = shp(F, 4, -1, 3, -1, 9);
  in[1] = shp(F, 4, 8, 3, 3, 3);
  assert_int_equal(infer(&c, PN_OP_CONV, in, 2, out, 1), PN_OK);
  assert_int_equal(out[0].ndim, 4);
  assert_int_equal(out[0].dims[0], -1);
  assert_int_equal(out[0].dims[1], 8);
  assert_int_equal(out[0].dims[2], -1);
  assert_int_equal(out[0].dims[3], 4);   /* (9 - 3) / 2 + 1 */
  in[0] = shp(F, -1, 0, 0, 0, 0);
  in[1] = shp(F, -1, 0, 0, 0, 0);
  assert_int_equal(infer(&c, PN_OP_CONV, in, 2, out, 1), PN_OK);
  assert_int_equal(out[0].ndim, -1);
  set_ints(&c, "kernel_shape", 2, k2);   /* rank follows from kernel_shape */
  assert_int_equal(infer(&c, PN_OP_CONV, in, 2, out, 1), PN_OK);
  assert_int_equal(out[0].ndim, 4);
  assert_int_equal(out[0].dims[1], -1);
  case_free(&c);
  case_init(&c, "MaxPool", 1, 2, 12);
  set_ints(&c, "kernel_shape", 2, k2);
  assert_int_equal(pn_node_set_string(c.g, c.node, "auto_pad", "SAME_UPPER"), PN_OK);
  in[0] = shp(F, 4, 1, 2, -1, 7);
  assert_int_equal(infer(&c, PN_OP_MAX_POOL, in, 1, out, 2), PN_OK);
  assert_int_equal(out[0].dims[2], -1);
  assert_int_equal(out[0].dims[3], 7);
  assert_int_equal(out[1].dtype, PN_DT_INT64);
  case_free(&c);
  case_init(&c, "MatMul", 2, 1, 13);
  in[0] = shp(F, -1, 0, 0, 0, 0);
  in[1] = shp(F, 2, 3, 4, 0, 0);
  assert_int_equal(infer(&c, PN_OP_MATMUL, in, 2, out, 1), PN_OK);
  assert_int_equal(out[0].ndim, -1);
  in[0] = shp(F, 3, -1, 5, -1, 0);
  assert_int_equal(infer(&c, PN_OP_MATMUL, in, 2, out, 1), PN_OK);
  assert_int_equal(out[0].ndim, 3);
  assert_int_equal(out[0].dims[0], -1);
  assert_int_equal(out[0].dims[1], 5);
  assert_int_equal(out[0].dims[2], 4);
  case_free(&c);
  case_init(&c, "Gemm", 2, 1, 13);
  in[0] = shp(F, 2, -1, 3, 0, 0);
  in[1] = shp(F, 2, 3, -1, 0, 0);
  assert_int_equal(infer(&c, PN_OP_GEMM, in, 2, out, 1), PN_OK);
  assert_int_equal(out[0].dims[0], -1);
  assert_int_equal(out[0].dims[1], -1);
  case_free(&c);
  case_init(&c, "LayerNormalization", 2, 3, 17);
  in[0] = shp(F, 3, -1, 6, 8, 0);
  in[1] = shp(F, 1, 8, 0, 0, 0);
  assert_int_equal(infer(&c, PN_OP_LAYER_NORM, in, 2, out, 3), PN_OK);
  assert_int_equal(out[1].ndim, 3);
  assert_int_equal(out[1].dims[0], -1);
  assert_int_equal(out[1].dims[1], 6);
  assert_int_equal(out[1].dims[2], 1);
  case_free(&c);
}

int main(void) {
  struct pn_ctx ctx = {0};
  seed = pn_test_seed("test_kernels_dense", PN_TEST_SEED_FRESH);
  if (pn_prg_init_u64(&ctx, &prg, seed)) return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_conv_known),    cmocka_unit_test(test_conv_random),
    cmocka_unit_test(test_conv_large),
    cmocka_unit_test(test_gemm_random),   cmocka_unit_test(test_gemm_threads),   cmocka_unit_test(test_matmul_known),
    cmocka_unit_test(test_matmul_random), cmocka_unit_test(test_matmul_large),
    cmocka_unit_test(test_matmul_threads),
    cmocka_unit_test(test_pool_known),
    cmocka_unit_test(test_pool_random),   cmocka_unit_test(test_maxpool_fast_path),   cmocka_unit_test(test_global_pools),
    cmocka_unit_test(test_batch_norm),    cmocka_unit_test(test_layer_norm),
    cmocka_unit_test(test_softmax),       cmocka_unit_test(test_softmax_rows),
    cmocka_unit_test(test_norm_rows_threads),
    cmocka_unit_test(test_elementwise_threads),
    cmocka_unit_test(test_infer_errors),
    cmocka_unit_test(test_infer_unknown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  pn_prg_free(&prg);
  return rc;
}
