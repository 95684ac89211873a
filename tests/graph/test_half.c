/* test_half.c - float16 and bfloat16: the conversions (exhaustively), Cast, and ops computed by
** converting to float32 (ops.c's pn_op_infer / pn_op_run) inside the executor, fused or not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/exec.h"
#include "graph/tensor.h"
#include "util/status.h"

static bool is_nan_half(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

/* Every half value converts to float exactly and back to itself; the midpoint between two
** neighbours rounds to the even one, and anything past it to the far one. */
static void test_half_conversions(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 0x10000; h++) {
    float f = pn_half_to_float((uint16_t)h);
    if (is_nan_half((uint16_t)h)) {
      assert_true(isnan(f));
      assert_true(is_nan_half(pn_half_from_double(f)));
      continue;
    }
    assert_int_equal(pn_half_from_double(f), h);
    /* the value, recomputed from the bits: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m */
    int e = (int)(h >> 10 & 0x1f), m = (int)(h & 0x3ff);
    double want = e == 31 ? INFINITY : e ? ldexp(1.0 + m / 1024.0, e - 15) : ldexp(m / 1024.0, -14);
    if (h & 0x8000) want = -want;
    assert_true((double)f == want);
    /* midpoint to the next half of larger magnitude (finite, same sign) */
    uint32_t next = h + 1;
    if ((h & 0x7fff) >= 0x7bff) continue;
    double a = f, b = pn_half_to_float((uint16_t)next), mid = (a + b) / 2;
    uint16_t even = (h & 1) ? (uint16_t)next : (uint16_t)h;
    assert_int_equal(pn_half_from_double(mid), even);
    assert_int_equal(pn_half_from_double(mid + (b - a) * 1e-6), next);
    assert_int_equal(pn_half_from_double(mid - (b - a) * 1e-6), h);
  }
  assert_int_equal(pn_half_from_double(65520.0), 0x7c00);        /* rounds past the largest: inf */
  assert_int_equal(pn_half_from_double(65519.99), 0x7bff);
  assert_int_equal(pn_half_from_double(-1e300), 0xfc00);
  assert_int_equal(pn_half_from_double(ldexp(1, -25)), 0);        /* a tie with zero: to even */
  assert_int_equal(pn_half_from_double(ldexp(1.0000001, -25)), 1);
  /* bfloat16: the top half of the float, rounded to nearest even */
  for (uint32_t h = 0; h < 0x10000; h++) {
    float f = pn_bf16_to_float((uint16_t)h);
    if (isnan(f)) continue;
    assert_int_equal(pn_bf16_from_float(f), h);
  }
  float one_and_half_ulp = 1.0f + 0x1p-8f;                       /* between 1 and 1 + 2^-7: tie */
  assert_int_equal(pn_bf16_from_float(one_and_half_ulp), 0x3f80);
  assert_int_equal(pn_bf16_from_float(one_and_half_ulp + 0x1p-20f), 0x3f81);
  assert_true(isnan(pn_bf16_to_float(pn_bf16_from_float(NAN))));
}

static struct pn_node *node(struct pn_graph *g, const char *op, const char *a, const char *b, const char *c,
                            const char *out) {
  const char *in[3] = {a, b, c}, *o[1] = {out};
  struct pn_node *n = pn_graph_add_node(g, op, out, c ? 3 : b ? 2 : 1, in, 1, o);
  assert_non_null(n);
  return n;
}

static uint16_t h_of(double v) { return pn_half_from_double(v); }

/* x (float16) -> Conv (float16 weights and bias) -> Relu -> y (float16), and y cast to float32:
** computed in float32 and rounded once, it is within one half ulp of the exact result; fused and
** node-by-node executions agree to the bit. */
static void test_half_model(void **state) {
  (void)state;
  enum { N = 2, C = 3, H = 5, W = 6, M = 4, K = 3 };
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t xd[4] = {N, C, H, W}, wd[4] = {M, C, K, K}, bd[1] = {M};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT16, 4, xd));
  struct pn_tensor *w = pn_graph_new_init(g, "w", PN_DT_FLOAT16, 4, wd);
  struct pn_tensor *b = pn_graph_new_init(g, "b", PN_DT_FLOAT16, 1, bd);
  assert_true(w && b);
  uint16_t *wp = w->data, *bp = b->data;
  for (int i = 0; i < M * C * K * K; i++) wp[i] = h_of(((i * 37) % 19 - 9) / 16.0);
  for (int i = 0; i < M; i++) bp[i] = h_of((i - 1.5) / 4.0);
  struct pn_node *cv = node(g, "Conv", "x", "w", "b", "conv");
  int64_t pads[4] = {1, 1, 1, 1};
  assert_int_equal(pn_node_set_ints(g, cv, "pads", 4, pads), PN_OK);
  node(g, "Relu", "conv", NULL, NULL, "y");
  struct pn_node *cast = node(g, "Cast", "y", NULL, NULL, "y32");
  assert_int_equal(pn_node_set_int(g, cast, "to", PN_DT_FLOAT), PN_OK);
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT16, -1, NULL));
  assert_non_null(pn_graph_add_output(g, "y32", PN_DT_FLOAT, -1, NULL));
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT16, 4, xd);
  assert_non_null(x);
  uint16_t *xp = x->data;
  for (int i = 0; i < N * C * H * W; i++) xp[i] = h_of(((i * 53) % 23 - 11) / 8.0);
  struct pn_tensor *out[2][2];
  for (int fuse = 0; fuse < 2; fuse++) {
    struct pn_ctx ctx = {0};
    struct pn_exec *ex = NULL;
    struct pn_exec_opts eo = {.no_fuse = !fuse};
    int rc = pn_exec_new(&ctx, g, &eo, &ex);
    if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    rc = pn_exec_run(&ctx, ex, (const struct pn_tensor *const *)&x, out[fuse]);
    if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    pn_exec_free(ex);
    assert_int_equal(out[fuse][0]->dtype, PN_DT_FLOAT16);
    assert_int_equal(out[fuse][1]->dtype, PN_DT_FLOAT);
  }
  assert_memory_equal(out[0][0]->data, out[1][0]->data, pn_tensor_nbytes(out[0][0]));
  const uint16_t *yp = out[1][0]->data;
  const float *y32 = out[1][1]->data;
  int positive = 0;
  for (int n = 0; n < N; n++)
    for (int m = 0; m < M; m++)
      for (int oy = 0; oy < H; oy++)
        for (int ox = 0; ox < W; ox++) {
          double acc = pn_half_to_float(bp[m]);
          for (int c = 0; c < C; c++)
            for (int ky = 0; ky < K; ky++)
              for (int kx = 0; kx < K; kx++) {
                int iy = oy + ky - 1, ix = ox + kx - 1;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += (double)pn_half_to_float(xp[((n * C + c) * H + iy) * W + ix]) *
                       pn_half_to_float(wp[((m * C + c) * K + ky) * K + kx]);
              }
          double want = acc > 0 ? acc : 0;
          positive += want > 0;
          int i = ((n * M + m) * H + oy) * W + ox;
          double got = pn_half_to_float(yp[i]);
          assert_true(fabs(got - want) <= fabs(want) * 0x1p-10 + 0x1p-24);
          assert_true(y32[i] == (float)got);
        }
  assert_true(positive > 0 && positive < N * M * H * W);
  for (int f = 0; f < 2; f++)
    for (int k = 0; k < 2; k++) pn_tensor_free(out[f][k]);
  pn_tensor_free(x);
  pn_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_half_conversions),
      cmocka_unit_test(test_half_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
