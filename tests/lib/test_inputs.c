/* test_inputs.c - a user's files as tensors and as a model's input (graph/tensor_io.h, nn/input.h).
**
** .npy: every dtype and shape (scalar, empty) saved and parsed back bit for bit, the header laid out
** as NumPy's (64-byte aligned, "(5,)" for one dim), a hand-built version-2 header, and the refused
** kinds with the message naming the field. PGM: P2 with comments, P5 8- and 16-bit (big-endian),
** truncated and above-maxval rasters. PNG: grey and RGB written and read back exactly, a flipped
** CRC refused. Resize: bilinear half-pixel on a 2x2 -> 4x4 known answer. As lenet5's input:
** Fashion-MNIST test images as a uint8 .npy and as PNG files give exactly the floats
** pn_dataset_batch gives (the model's normalisation); float arrays pass unchanged; shapes that do not
** fit are refused naming [N,1,28,28]; an RGB PNG of another size needs --resize and then becomes
** the luma image resized. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/ir.h"
#include "graph/onnx.h"
#include "graph/tensor_io.h"
#include "nn/dataset.h"
#include "nn/input.h"
#include "util/status.h"
#include "pn_test.h"

#define MODEL PN_SOURCE_DIR "/models/lenet5.onnx"

static char g_dir[64];

static const char *tmp(const char *name) {
  static char buf[4][128];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
  return buf[k];
}

static void expect_refused(const uint8_t *b, size_t n, int (*parse)(struct pn_ctx *, const char *, const uint8_t *,
                                                                      size_t, struct pn_tensor **),
                           int code, const char *words) {
  struct pn_ctx ctx = {0};
  struct pn_tensor *t = (struct pn_tensor *)1;
  assert_int_equal(parse(&ctx, "x", b, n, &t), code);
  assert_null(t);
  if (!strstr(pn_errmsg(&ctx), words)) fail_msg("'%s' lacks '%s'", pn_errmsg(&ctx), words);
}

static void test_npy_round_trip(void **state) {
  (void)state;
  static const enum pn_dtype dts[] = {PN_DT_FLOAT, PN_DT_DOUBLE, PN_DT_FLOAT16, PN_DT_UINT8, PN_DT_INT8,
                                      PN_DT_UINT16, PN_DT_INT16, PN_DT_INT32, PN_DT_INT64, PN_DT_UINT32,
                                      PN_DT_UINT64, PN_DT_BOOL};
  static const int64_t shapes[][3] = {{5}, {2, 3}, {0, 4}, {2, 1, 3}};
  static const int ndims[] = {1, 2, 2, 3};
  struct pn_ctx ctx = {0};
  for (size_t d = 0; d < sizeof dts / sizeof *dts; d++)
    for (int s = -1; s < 4; s++) {
      struct pn_tensor *t = pn_tensor_new(dts[d], s < 0 ? 0 : ndims[s], s < 0 ? NULL : shapes[s]), *u;
      assert_non_null(t);
      uint8_t *p = t->data;
      for (size_t i = 0; i < pn_tensor_nbytes(t); i++) p[i] = (uint8_t)(i * 37 + 11);
      if (dts[d] == PN_DT_BOOL)
        for (size_t i = 0; i < pn_tensor_nbytes(t); i++) p[i] &= 1;
      uint8_t *buf;
      size_t n;
      assert_int_equal(pn_npy_save(&ctx, t, &buf, &n), PN_OK);
      size_t hl = (size_t)buf[8] | (size_t)buf[9] << 8;
      assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
      assert_int_equal((10 + hl) % 64, 0);
      assert_int_equal(buf[10 + hl - 1], '\n');
      assert_int_equal(n, 10 + hl + pn_tensor_nbytes(t));
      if (s == 0) assert_non_null(strstr((char *)buf + 10, "'shape': (5,)"));
      if (s == 1) assert_non_null(strstr((char *)buf + 10, "'shape': (2, 3)"));
      if (s < 0) assert_non_null(strstr((char *)buf + 10, "'shape': ()"));
      assert_int_equal(pn_npy_parse(&ctx, "rt.npy", buf, n, &u), PN_OK);
      assert_int_equal(u->dtype, t->dtype);
      assert_int_equal(u->ndim, t->ndim);
      assert_memory_equal(u->dims, t->dims, sizeof(int64_t) * (size_t)t->ndim);
      assert_memory_equal(u->data, t->data, pn_tensor_nbytes(t));
      free(buf);
      pn_tensor_free(t);
      pn_tensor_free(u);
    }
}

static void test_npy_hand_built(void **state) {
  (void)state;
  /* version 2.0, keys in another order, a Python-2 long, no trailing comma */
  const char hdr[] = "{'shape': (2L, 1), 'fortran_order': False, 'descr': '<i4'}  \n";
  uint8_t b[256];
  size_t hl = sizeof hdr - 1, n = 12 + hl;
  memcpy(b, "\x93NUMPY\x02\x00", 8);
  b[8] = (uint8_t)hl, b[9] = 0, b[10] = 0, b[11] = 0;
  memcpy(b + 12, hdr, hl);
  int32_t v[2] = {-7, 123456};
  memcpy(b + n, v, sizeof v);
  struct pn_ctx ctx = {0};
  struct pn_tensor *t;
  assert_int_equal(pn_npy_parse(&ctx, "h.npy", b, n + sizeof v, &t), PN_OK);
  assert_int_equal(t->dtype, PN_DT_INT32);
  assert_int_equal(t->ndim, 2);
  assert_int_equal(t->dims[0], 2);
  assert_int_equal(((int32_t *)t->data)[0], -7);
  assert_int_equal(((int32_t *)t->data)[1], 123456);
  pn_tensor_free(t);
  /* one byte short, one byte over */
  expect_refused(b, n + sizeof v - 1, pn_npy_parse, PN_ERR_CORRUPT, "data bytes");
  b[n + sizeof v] = 0;
  expect_refused(b, n + sizeof v + 1, pn_npy_parse, PN_ERR_CORRUPT, "data bytes");
}

/* a version-1 .npy of header text h and nbytes zero data bytes */
static size_t npy_v1(uint8_t *b, const char *h, size_t nbytes) {
  size_t hl = strlen(h);
  memcpy(b, "\x93NUMPY\x01\x00", 8);
  b[8] = (uint8_t)hl, b[9] = 0;
  memcpy(b + 10, h, hl);
  memset(b + 10 + hl, 0, nbytes);
  return 10 + hl + nbytes;
}

static void test_npy_refused(void **state) {
  (void)state;
  uint8_t b[512];
  struct {
    const char *hdr;
    size_t data;
    int code;
    const char *words;
  } cases[] = {
    {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", 16, PN_ERR_UNSUPPORTED, "Fortran"},
    {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", 8, PN_ERR_UNSUPPORTED, "big-endian"},
    {"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n", 16, PN_ERR_UNSUPPORTED, "object"},
    {"{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (2,), }\n", 8, PN_ERR_UNSUPPORTED, "structured"},
    {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }\n", 16, PN_ERR_UNSUPPORTED, "'<c8'"},
    {"{'descr': '<f4', 'shape': (2,), }\n", 8, PN_ERR_CORRUPT, "fortran_order"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", 8, PN_ERR_CORRUPT, "'x'"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }\n", 4,
     PN_ERR_UNSUPPORTED, "dimensions"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999, 99999999999), }\n", 4,
     PN_ERR_CORRUPT, "elements"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,a), }\n", 8, PN_ERR_CORRUPT, "shape"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t n = npy_v1(b, cases[i].hdr, cases[i].data);
    expect_refused(b, n, pn_npy_parse, cases[i].code, cases[i].words);
  }
  expect_refused((const uint8_t *)"\x93NUMPX\x01\x00\x00\x00", 10, pn_npy_parse, PN_ERR_CORRUPT, "magic");
  size_t n = npy_v1(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 8);
  b[8] = 200; /* header longer than the file */
  expect_refused(b, n, pn_npy_parse, PN_ERR_CORRUPT, "header");
}

static void test_pgm(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_tensor *t;
  const char p2[] = "P2\n# made by hand\n3 2 # width height\n10\n0 5 10\n 1 2 3\n";
  assert_int_equal(pn_pgm_parse(&ctx, "a.pgm", (const uint8_t *)p2, sizeof p2 - 1, &t), PN_OK);
  assert_int_equal(t->dtype, PN_DT_FLOAT);
  assert_int_equal(t->ndim, 3);
  assert_int_equal(t->dims[1], 2);
  assert_int_equal(t->dims[2], 3);
  static const float want[6] = {0, 0.5f, 1, 0.1f, 0.2f, 0.3f};
  for (int i = 0; i < 6; i++) assert_float_equal(((float *)t->data)[i], want[i], 1e-7);
  pn_tensor_free(t);
  const uint8_t p5[] = "P5 2 1 255\n\x07\xff";
  assert_int_equal(pn_pgm_parse(&ctx, "b.pgm", p5, sizeof p5 - 1, &t), PN_OK);
  assert_int_equal(t->dtype, PN_DT_UINT8);
  assert_int_equal(((uint8_t *)t->data)[0], 7);
  assert_int_equal(((uint8_t *)t->data)[1], 255);
  pn_tensor_free(t);
  const uint8_t p16[] = "P5 2 1 1000\n\x03\xe8\x01\xf4"; /* 1000, 500: big-endian */
  assert_int_equal(pn_pgm_parse(&ctx, "c.pgm", p16, sizeof p16 - 1, &t), PN_OK);
  assert_float_equal(((float *)t->data)[0], 1.0f, 0);
  assert_float_equal(((float *)t->data)[1], 0.5f, 0);
  pn_tensor_free(t);
  expect_refused((const uint8_t *)"P5 4 4 255\n\1\2\3", 14, pn_pgm_parse, PN_ERR_CORRUPT, "truncated");
  expect_refused((const uint8_t *)"P2 2 1 10 3 11\n", 15, pn_pgm_parse, PN_ERR_CORRUPT, "above maxval");
  expect_refused((const uint8_t *)"P2 2 1 10 3\n", 12, pn_pgm_parse, PN_ERR_CORRUPT, "pixel 2 of 2");
  expect_refused((const uint8_t *)"P5 0 1 255\n", 11, pn_pgm_parse, PN_ERR_CORRUPT, "width");
  expect_refused((const uint8_t *)"P5 1 1 255\n\1\1", 13, pn_pgm_parse, PN_ERR_CORRUPT, "data after");
  expect_refused((const uint8_t *)"P6 1 1 255\n\1\1\1", 14, pn_pgm_parse, PN_ERR_CORRUPT, "P2/P5");
}

static void test_png_round_trip(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  for (int C = 1; C <= 3; C += 2) {
    int64_t dims[3] = {C, 5, 7};
    struct pn_tensor *t = pn_tensor_new(PN_DT_UINT8, 3, dims), *u;
    for (int64_t i = 0; i < pn_tensor_numel(t); i++) ((uint8_t *)t->data)[i] = (uint8_t)(i * 29 + 3);
    const char *path = tmp(C == 1 ? "g.png" : "rgb.png");
    assert_int_equal(pn_tensor_write_file(&ctx, t, path, PN_TF_AUTO), PN_OK);
    enum pn_tensor_format f;
    assert_int_equal(pn_tensor_read_file(&ctx, path, PN_TF_AUTO, &u, &f), PN_OK);
    assert_int_equal(f, PN_TF_PNG);
    assert_int_equal(u->dtype, PN_DT_UINT8);
    assert_memory_equal(u->dims, dims, sizeof dims);
    assert_memory_equal(u->data, t->data, pn_tensor_nbytes(t));
    pn_tensor_free(u);
    /* and as PGM (grey only) */
    if (C == 1) {
      assert_int_equal(pn_tensor_write_file(&ctx, t, tmp("g.pgm"), PN_TF_AUTO), PN_OK);
      assert_int_equal(pn_tensor_read_file(&ctx, tmp("g.pgm"), PN_TF_AUTO, &u, &f), PN_OK);
      assert_int_equal(f, PN_TF_PGM);
      assert_memory_equal(u->data, t->data, pn_tensor_nbytes(t));
      pn_tensor_free(u);
    } else {
      assert_int_equal(pn_tensor_write_file(&ctx, t, tmp("c.pgm"), PN_TF_AUTO), PN_ERR_INVALID);
    }
    pn_tensor_free(t);
  }
  /* a flipped bit in the image data: libpng's CRC check refuses it */
  uint8_t *buf;
  size_t n;
  FILE *f = fopen(tmp("g.png"), "rb");
  assert_non_null(f);
  buf = malloc(4096);
  n = fread(buf, 1, 4096, f);
  fclose(f);
  buf[n - 20] ^= 1;
  expect_refused(buf, n, pn_png_parse, PN_ERR_CORRUPT, "PNG");
  expect_refused(buf, 30, pn_png_parse, PN_ERR_CORRUPT, "PNG");
  free(buf);
}

static void test_resize(void **state) {
  (void)state;
  const float src[4] = {0, 1, 2, 3};
  float dst[16];
  pn_image_resize(src, 1, 2, 2, dst, 4, 4);
  static const float want[16] = {0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f,
                                 1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3};
  for (int i = 0; i < 16; i++) assert_float_equal(dst[i], want[i], 1e-6);
  float same[4];
  pn_image_resize(src, 1, 2, 2, same, 2, 2);
  assert_memory_equal(same, src, sizeof src);
}

static void test_model_input(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_dataset ds;
  assert_int_equal(pn_onnx_load_file(&ctx, MODEL, &g), PN_OK);
  assert_int_equal(pn_dataset_load(&ctx, NULL, &ds), PN_OK);
  assert_int_equal(pn_dataset_use_model_norm(&ctx, &ds, g), PN_OK);
  assert_non_null(pn_graph_get_meta(g, PN_META_NORMALIZE));
  /* the reference: test images 0..2 through the dataset path */
  int64_t idx[3] = {0, 1, 2};
  float ref[3 * 784];
  int32_t y[3];
  pn_dataset_batch(&ds, PN_SPLIT_TEST, idx, 3, 0, 0, NULL, ref, y);
  /* a uint8 .npy [3,28,28] (channel left out) and PNG files of the same pixels */
  int64_t d3[3] = {3, 28, 28}, d1[3] = {1, 28, 28};
  struct pn_tensor *u8 = pn_tensor_new(PN_DT_UINT8, 3, d3), *x;
  memcpy(u8->data, ds.images[PN_SPLIT_TEST], 3 * 784);
  assert_int_equal(pn_tensor_write_file(&ctx, u8, tmp("imgs.npy"), PN_TF_AUTO), PN_OK);
  const char *pngs[3];
  for (int i = 0; i < 3; i++) {
    struct pn_tensor *one = pn_tensor_new(PN_DT_UINT8, 3, d1);
    memcpy(one->data, ds.images[PN_SPLIT_TEST] + i * 784, 784);
    char name[16];
    snprintf(name, sizeof name, "i%d.png", i);
    pngs[i] = strdup(tmp(name));
    assert_int_equal(pn_tensor_write_file(&ctx, one, pngs[i], PN_TF_AUTO), PN_OK);
    pn_tensor_free(one);
  }
  struct pn_input_info info;
  const char *npy = tmp("imgs.npy");
  assert_int_equal(pn_input_load(&ctx, g, &npy, 1, NULL, &x, &info), PN_OK);
  assert_int_equal(x->ndim, 4);
  assert_int_equal(x->dims[0], 3);
  assert_int_equal(x->dims[1], 1);
  assert_true(info.model_norm);
  assert_int_equal(info.pixel_files, 1);
  assert_memory_equal(x->data, ref, sizeof ref);
  pn_tensor_free(x);
  assert_int_equal(pn_input_load(&ctx, g, pngs, 3, NULL, &x, &info), PN_OK);
  assert_int_equal(x->dims[0], 3);
  assert_memory_equal(x->data, ref, sizeof ref);
  pn_tensor_free(x);
  /* float arrays are the input as they are: [1,28,28] and [2,1,28,28] */
  struct pn_tensor *f = pn_tensor_new(PN_DT_FLOAT, 3, d1);
  for (int i = 0; i < 784; i++) ((float *)f->data)[i] = (float)i / 100 - 3;
  assert_int_equal(pn_tensor_write_file(&ctx, f, tmp("f.npy"), PN_TF_AUTO), PN_OK);
  const char *fp = tmp("f.npy");
  assert_int_equal(pn_input_load(&ctx, g, &fp, 1, NULL, &x, &info), PN_OK);
  assert_int_equal(info.pixel_files, 0);
  assert_memory_equal(x->data, f->data, 784 * sizeof(float));
  pn_tensor_free(x);
  /* shapes that do not fit */
  int64_t bad[3] = {3, 32, 32};
  struct pn_tensor *b = pn_tensor_new(PN_DT_FLOAT, 3, bad);
  assert_int_equal(pn_tensor_write_file(&ctx, b, tmp("bad.npy"), PN_TF_AUTO), PN_OK);
  const char *bp = tmp("bad.npy");
  assert_int_equal(pn_input_load(&ctx, g, &bp, 1, NULL, &x, &info), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "[N,1,28,28]"));
  assert_non_null(strstr(pn_errmsg(&ctx), "bad.npy"));
  /* an RGB PNG 3x32x32 of one colour: refused, then with resize the luma image */
  struct pn_tensor *rgb = pn_tensor_new(PN_DT_UINT8, 3, bad);
  uint8_t *p = rgb->data;
  for (int i = 0; i < 1024; i++) p[i] = 200, p[1024 + i] = 100, p[2048 + i] = 50;
  assert_int_equal(pn_tensor_write_file(&ctx, rgb, tmp("rgb.png"), PN_TF_AUTO), PN_OK);
  const char *rp = tmp("rgb.png");
  assert_int_equal(pn_input_load(&ctx, g, &rp, 1, NULL, &x, &info), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "--resize"));
  struct pn_input_opts ro = {.resize = true};
  assert_int_equal(pn_input_load(&ctx, g, &rp, 1, &ro, &x, &info), PN_OK);
  assert_int_equal(info.resized, 1);
  assert_int_equal(x->dims[2], 28);
  float luma = (float)(0.299 * 200 + 0.587 * 100 + 0.114 * 50);
  float want = luma * (1.0f / (255.0f * ds.std)) + (-ds.mean / ds.std);
  for (int i = 0; i < 784; i++) assert_float_equal(((float *)x->data)[i], want, 1e-5);
  pn_tensor_free(x);
  for (int i = 0; i < 3; i++) free((void *)pngs[i]);
  pn_tensor_free(rgb);
  pn_tensor_free(b);
  pn_tensor_free(f);
  pn_tensor_free(u8);
  pn_dataset_free(&ds);
  pn_graph_free(g);
}

static void test_stats(void **state) {
  (void)state;
  int64_t d = 5;
  struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, 1, &d);
  float v[5] = {1, 3, NAN, INFINITY, 5};
  memcpy(t->data, v, sizeof v);
  struct pn_tensor_stats st;
  pn_tensor_stats(t, &st);
  assert_int_equal(st.n, 5);
  assert_int_equal(st.nan, 1);
  assert_int_equal(st.inf, 1);
  assert_float_equal(st.min, 1, 0);
  assert_float_equal(st.max, 5, 0);
  assert_float_equal(st.mean, 3, 1e-12);
  assert_float_equal(st.std, sqrt(8.0 / 3), 1e-12);
  pn_tensor_free(t);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/pn-inputs.XXXXXX");
  if (!mkdtemp(g_dir)) return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_npy_round_trip), cmocka_unit_test(test_npy_hand_built),
    cmocka_unit_test(test_npy_refused),    cmocka_unit_test(test_pgm),
    cmocka_unit_test(test_png_round_trip), cmocka_unit_test(test_resize),
    cmocka_unit_test(test_model_input),    cmocka_unit_test(test_stats),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
  if (system(cmd)) rc = rc ? rc : 1;
  return rc;
}
