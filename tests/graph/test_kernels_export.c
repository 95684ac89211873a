/* test_kernels_export.c - the ops added for exported models (issue 11) beyond their ONNX node
** tests: ConvTranspose against a direct scatter-add reference on random geometries, Einsum's sgemm
** path against its general loop, Resize against closed forms, InstanceNormalization against a
** two-pass reference, TopK's tie order, GatherND / ScatterND / ScatterElements round trips and
** their index checks. Random cases print their seed (PN_TEST_SEED replays). */
#define PN_TEST_NAME "test_kernels_export"
#include "kernel_harness.h"

#include "graph/kernels.h"

static void assert_close_t(const struct pn_tensor *got, const double *want, int64_t n, double tol) {
  assert_int_equal(pn_tensor_numel(got), n);
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(get(got, i) - want[i]) <= tol * (1 + fabs(want[i])))) {
      printf("element %" PRId64 ": got %.9g, want %.9g\n", i, get(got, i), want[i]);
      fail();
    }
}

/* ---- ConvTranspose ---- */

static void test_conv_transpose_random(void **state) {
  (void)state;
  for (int rep = 0; rep < 40; rep++) {
    int nsp = (int)irand(1, 3);
    int64_t n = irand(1, 2), group = irand(1, 2), cg = irand(1, 3), mg = irand(1, 3);
    int64_t c = cg * group, m = mg * group;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], op[3], out[3];
    int64_t xd[5] = {n, c}, wd[5] = {c, mg};
    for (int i = 0; i < nsp; i++) {
      in[i] = irand(1, nsp == 3 ? 3 : 5);
      k[i] = irand(1, 3);
      s[i] = irand(1, 3);
      d[i] = irand(1, 2);
      op[i] = irand(0, (s[i] > d[i] ? s[i] : d[i]) - 1);
      int64_t full = s[i] * (in[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1;
      pb[i] = irand(0, (full - 1) / 2);
      pe[i] = irand(0, (full - 1) / 2);
      out[i] = full - pb[i] - pe[i];
      xd[2 + i] = in[i];
      wd[2 + i] = k[i];
    }
    struct call cl;
    call_init(&cl, "ConvTranspose", 3, 1, 17);
    int64_t pads[6];
    for (int i = 0; i < nsp; i++) pads[i] = pb[i], pads[nsp + i] = pe[i];
    pn_node_set_ints(cl.g, cl.n, "strides", nsp, s);
    pn_node_set_ints(cl.g, cl.n, "dilations", nsp, d);
    pn_node_set_ints(cl.g, cl.n, "output_padding", nsp, op);
    pn_node_set_ints(cl.g, cl.n, "pads", 2 * nsp, pads);
    pn_node_set_int(cl.g, cl.n, "group", group);
    struct pn_tensor *X = trand(PN_DT_FLOAT, 2 + nsp, xd), *W = trand(PN_DT_FLOAT, 2 + nsp, wd);
    struct pn_tensor *B = trand(PN_DT_FLOAT, 1, &m);
    const struct pn_tensor *ins[3] = {X, W, B};
    int rc;
    struct pn_tensor *Y = run1(&cl, ins, &rc);
    if (rc) printf("%s\n", pn_errmsg(&cl.ctx));
    assert_int_equal(rc, PN_OK);
    int64_t yd[5] = {n, m};
    for (int i = 0; i < nsp; i++) yd[2 + i] = out[i];
    assert_shape(Y, 2 + nsp, yd);
    /* reference: every input element, through every tap, added where it lands */
    int64_t ny = pn_tensor_numel(Y), pin = 1, kp = 1, pout = 1;
    for (int i = 0; i < nsp; i++) pin *= in[i], kp *= k[i], pout *= out[i];
    double *ref = calloc((size_t)ny, sizeof *ref);
    assert_non_null(ref);
    for (int64_t b = 0; b < n; b++)
      for (int64_t oc = 0; oc < m; oc++)
        for (int64_t q = 0; q < pout; q++) ref[(b * m + oc) * pout + q] = get(B, oc);
    for (int64_t b = 0; b < n; b++)
      for (int64_t ic = 0; ic < c; ic++)
        for (int64_t p = 0; p < pin; p++)
          for (int64_t j = 0; j < mg; j++)
            for (int64_t t = 0; t < kp; t++) {
              int64_t pi[3], ti[3], o = 0;
              bool inside = true;
              unravel(p, nsp, in, pi);
              unravel(t, nsp, k, ti);
              for (int i = 0; i < nsp; i++) {
                int64_t v = pi[i] * s[i] + ti[i] * d[i] - pb[i];
                inside = inside && v >= 0 && v < out[i];
                o = o * out[i] + v;
              }
              if (!inside) continue;
              int64_t oc = ic / cg * mg + j;
              ref[(b * m + oc) * pout + o] += get(X, (b * c + ic) * pin + p) * get(W, (ic * mg + j) * kp + t);
            }
    assert_close_t(Y, ref, ny, 1e-5);
    free(ref);
    pn_tensor_free(X), pn_tensor_free(W), pn_tensor_free(B), pn_tensor_free(Y);
    call_free(&cl);
  }
}

/* ---- Einsum ---- */

static void test_einsum_paths(void **state) {
  (void)state;
  static const char *const eqs[] = {"bij,bjk->bik", "bhqd,bhkd->bhqk", "ij,jk", "bnd,de->bne", "ij,ij->i",
                                    "i,j->ij", "abc,cd->dba", "...ij,jk->...ik", "ij,kj->ik", "bhqk,bhkd->bqhd"};
  for (size_t q = 0; q < sizeof eqs / sizeof *eqs; q++)
    for (int rep = 0; rep < 3; rep++) {
      /* sizes per letter */
      int64_t sz[26];
      for (int i = 0; i < 26; i++) sz[i] = irand(1, 6);
      const char *eq = eqs[q];
      const char *comma = strchr(eq, ','), *arrow = strstr(eq, "->");
      int64_t da[PN_MAX_DIMS], db[PN_MAX_DIMS];
      int na = 0, nb = 0;
      for (const char *p = eq; p < comma; p++)
        if (*p == '.') {
          da[na++] = 2;   /* "..." once: two broadcast dims */
          da[na++] = 3;
          p += 2;
        } else {
          da[na++] = sz[*p - 'a'];
        }
      for (const char *p = comma + 1; *p && (!arrow || p < arrow); p++) db[nb++] = sz[*p - 'a'];
      struct call cl;
      call_init(&cl, "Einsum", 2, 1, 12);
      pn_node_set_string(cl.g, cl.n, "equation", eq);
      struct pn_tensor *A = trand(PN_DT_FLOAT, na, da), *Bt = trand(PN_DT_FLOAT, nb, db);
      const struct pn_tensor *ins[2] = {A, Bt};
      int rc;
      struct pn_tensor *Y = run1(&cl, ins, &rc);
      if (rc) printf("%s: %s\n", eq, pn_errmsg(&cl.ctx));
      assert_int_equal(rc, PN_OK);
      struct pn_tensor *R = pn_tensor_new(PN_DT_FLOAT, Y->ndim, Y->dims);
      assert_non_null(R);
      struct pn_op_args a = {&cl.ctx, cl.n, 12};
      assert_int_equal(pn_einsum_generic(&a, ins, 2, R), PN_OK);
      double *want = malloc((size_t)pn_tensor_numel(R) * sizeof *want + 1);
      for (int64_t i = 0; i < pn_tensor_numel(R); i++) want[i] = get(R, i);
      assert_close_t(Y, want, pn_tensor_numel(R), 1e-5);
      free(want);
      pn_tensor_free(A), pn_tensor_free(Bt), pn_tensor_free(Y), pn_tensor_free(R);
      call_free(&cl);
    }
  /* the general loop itself on a batched product, against the explicit sum */
  struct call cl;
  call_init(&cl, "Einsum", 2, 1, 12);
  pn_node_set_string(cl.g, cl.n, "equation", "bij , bjk -> bik");
  int64_t da[3] = {2, 3, 4}, db[3] = {2, 4, 5};
  struct pn_tensor *A = trand(PN_DT_FLOAT, 3, da), *Bt = trand(PN_DT_FLOAT, 3, db);
  const struct pn_tensor *ins[2] = {A, Bt};
  int64_t yd[3] = {2, 3, 5};
  struct pn_tensor *R = pn_tensor_new(PN_DT_FLOAT, 3, yd);
  struct pn_op_args a = {&cl.ctx, cl.n, 12};
  assert_int_equal(pn_einsum_generic(&a, ins, 2, R), PN_OK);
  double want[30];
  for (int b = 0; b < 2; b++)
    for (int i = 0; i < 3; i++)
      for (int k = 0; k < 5; k++) {
        double s = 0;
        for (int j = 0; j < 4; j++) s += get(A, (b * 3 + i) * 4 + j) * get(Bt, (b * 4 + j) * 5 + k);
        want[(b * 3 + i) * 5 + k] = s;
      }
  assert_close_t(R, want, 30, 1e-6);
  /* errors name the equation */
  pn_node_set_string(cl.g, cl.n, "equation", "bij,bjk->bix");
  int rc;
  assert_null(run1(&cl, ins, &rc));
  assert_int_equal(rc, PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&cl.ctx), "bix"));
  pn_tensor_free(A), pn_tensor_free(Bt), pn_tensor_free(R);
  call_free(&cl);
}

/* ---- Resize ---- */

static void test_resize_closed_forms(void **state) {
  (void)state;
  for (int rep = 0; rep < 10; rep++) {
    int64_t h = irand(1, 6), w = irand(1, 6), xd[4] = {1, 2, h, w};
    struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd);
    /* nearest, asymmetric, floor, scale 2: each pixel repeated in a 2x2 block */
    struct call cl;
    call_init(&cl, "Resize", 3, 1, 13);
    call_omit_input(&cl, 1);
    pn_node_set_string(cl.g, cl.n, "coordinate_transformation_mode", "asymmetric");
    pn_node_set_string(cl.g, cl.n, "nearest_mode", "floor");
    double sv[4] = {1, 1, 2, 2};
    struct pn_tensor *S = tensor(PN_DT_FLOAT, 1, (int64_t[]){4}, sv);
    const struct pn_tensor *ins[3] = {X, NULL, S};
    int rc;
    struct pn_tensor *Y = run1(&cl, ins, &rc);
    assert_int_equal(rc, PN_OK);
    assert_shape(Y, 4, (int64_t[]){1, 2, 2 * h, 2 * w});
    for (int64_t c = 0; c < 2; c++)
      for (int64_t y = 0; y < 2 * h; y++)
        for (int64_t x = 0; x < 2 * w; x++)
          assert_true(get(Y, (c * 2 * h + y) * 2 * w + x) == get(X, (c * h + y / 2) * w + x / 2));
    pn_tensor_free(Y);
    call_free(&cl);
    /* linear, align_corners, sizes: bilinear interpolation on the grid x * (w-1) / (W-1) */
    int64_t oh = irand(1, 8), ow = irand(1, 8);
    call_init(&cl, "Resize", 4, 1, 13);
    call_omit_input(&cl, 1);
    call_omit_input(&cl, 2);
    pn_node_set_string(cl.g, cl.n, "mode", "linear");
    pn_node_set_string(cl.g, cl.n, "coordinate_transformation_mode", "align_corners");
    struct pn_tensor *Z = ints(4, (int64_t[]){1, 2, oh, ow});
    const struct pn_tensor *ins2[4] = {X, NULL, NULL, Z};
    Y = run1(&cl, ins2, &rc);
    assert_int_equal(rc, PN_OK);
    double *want = malloc((size_t)(2 * oh * ow) * sizeof *want);
    for (int64_t c = 0; c < 2; c++)
      for (int64_t y = 0; y < oh; y++)
        for (int64_t x = 0; x < ow; x++) {
          double sy = oh > 1 ? (double)y * (h - 1) / (oh - 1) : 0, sx = ow > 1 ? (double)x * (w - 1) / (ow - 1) : 0;
          int64_t y0 = (int64_t)floor(sy), x0 = (int64_t)floor(sx);
          int64_t y1 = y0 + 1 < h ? y0 + 1 : h - 1, x1 = x0 + 1 < w ? x0 + 1 : w - 1;
          double fy = sy - y0, fx = sx - x0;
          const int64_t base = c * h * w;
          want[(c * oh + y) * ow + x] =
              (1 - fy) * ((1 - fx) * get(X, base + y0 * w + x0) + fx * get(X, base + y0 * w + x1)) +
              fy * ((1 - fx) * get(X, base + y1 * w + x0) + fx * get(X, base + y1 * w + x1));
        }
    assert_close_t(Y, want, 2 * oh * ow, 1e-5);
    free(want);
    pn_tensor_free(Y), pn_tensor_free(Z), pn_tensor_free(S), pn_tensor_free(X);
    call_free(&cl);
  }
  /* Axes left as they are stay with their own image and channel, whatever the transformation:
  ** tf_half_pixel_for_nn + ceil once took batch 0 from image 1 (found by scripts/ort-diff.sh) */
  static const char *const coords[] = {"tf_half_pixel_for_nn", "half_pixel", "asymmetric", "pytorch_half_pixel"};
  for (int ci = 0; ci < 4; ci++)
    for (int mode = 0; mode < 3; mode++) {
      if (ci == 0 && mode) continue;   /* tf_half_pixel_for_nn is for nearest */
      struct call cl;
      call_init(&cl, "Resize", 3, 1, 13);
      call_omit_input(&cl, 1);
      pn_node_set_string(cl.g, cl.n, "coordinate_transformation_mode", coords[ci]);
      pn_node_set_string(cl.g, cl.n, "mode", mode == 0 ? "nearest" : mode == 1 ? "linear" : "cubic");
      pn_node_set_string(cl.g, cl.n, "nearest_mode", "ceil");
      int64_t xd[4] = {3, 2, 3, 4};
      struct pn_tensor *X = pn_tensor_new(PN_DT_FLOAT, 4, xd);
      for (int64_t i = 0; i < 72; i++) ((float *)X->data)[i] = (float)(i / 12);   /* image n, channel c: 2n + c */
      struct pn_tensor *S = tensor(PN_DT_FLOAT, 1, (int64_t[]){4}, (double[]){1, 1, 2, 0.5});
      const struct pn_tensor *ins[3] = {X, NULL, S};
      int rc;
      struct pn_tensor *Y = run1(&cl, ins, &rc);
      assert_int_equal(rc, PN_OK);
      assert_shape(Y, 4, (int64_t[]){3, 2, 6, 2});
      for (int64_t i = 0; i < 72; i++) assert_true(fabs(get(Y, i) - (double)(i / 12)) < 1e-6);
      pn_tensor_free(X), pn_tensor_free(S), pn_tensor_free(Y);
      call_free(&cl);
    }
  /* pytorch_half_pixel with an output of length 1 reads index 0 (the spec, PyTorch and ORT look
  ** at the integer length; scale * in = 1.5 here, which once gave the mean of x[0] and x[1]) */
  {
    struct call cl;
    call_init(&cl, "Resize", 3, 1, 13);
    call_omit_input(&cl, 1);
    pn_node_set_string(cl.g, cl.n, "coordinate_transformation_mode", "pytorch_half_pixel");
    pn_node_set_string(cl.g, cl.n, "mode", "linear");
    struct pn_tensor *X = tensor(PN_DT_FLOAT, 4, (int64_t[]){1, 1, 1, 3}, (double[]){5, 7, 11});
    struct pn_tensor *S = tensor(PN_DT_FLOAT, 1, (int64_t[]){4}, (double[]){1, 1, 1, 0.5});
    const struct pn_tensor *ins[3] = {X, NULL, S};
    int rc;
    struct pn_tensor *Y = run1(&cl, ins, &rc);
    assert_int_equal(rc, PN_OK);
    assert_values(Y, 1, (double[]){5});
    pn_tensor_free(X), pn_tensor_free(S), pn_tensor_free(Y);
    call_free(&cl);
  }
  /* both scales and sizes is an error naming them; antialias is refused, not ignored */
  struct call cl;
  call_init(&cl, "Resize", 4, 1, 18);
  int64_t xd[4] = {1, 1, 2, 2};
  struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd);
  struct pn_tensor *S = tensor(PN_DT_FLOAT, 1, (int64_t[]){4}, (double[]){1, 1, 2, 2}), *Z = ints(4, (int64_t[]){1, 1, 4, 4});
  const struct pn_tensor *ins[4] = {X, NULL, S, Z};
  call_omit_input(&cl, 1);
  int rc;
  assert_null(run1(&cl, ins, &rc));
  assert_non_null(strstr(pn_errmsg(&cl.ctx), "only one of 'scales' and 'sizes'"));
  call_omit_input(&cl, 3);
  pn_node_set_int(cl.g, cl.n, "antialias", 1);
  pn_node_set_string(cl.g, cl.n, "mode", "linear");
  const struct pn_tensor *ins2[4] = {X, NULL, S, NULL};
  assert_null(run1(&cl, ins2, &rc));
  assert_int_equal(rc, PN_ERR_UNSUPPORTED);
  pn_tensor_free(X), pn_tensor_free(S), pn_tensor_free(Z);
  call_free(&cl);
}

/* ---- InstanceNormalization ---- */

static void test_instance_norm(void **state) {
  (void)state;
  int64_t xd[4] = {2, 3, 4, 5}, cd[1] = {3};
  struct pn_tensor *X = trand(PN_DT_FLOAT, 4, xd), *S = trand(PN_DT_FLOAT, 1, cd), *B = trand(PN_DT_FLOAT, 1, cd);
  for (int64_t i = 0; i < 120; i++) ((float *)X->data)[i] += 100.0f;   /* a large mean must not cancel */
  struct call cl;
  call_init(&cl, "InstanceNormalization", 3, 1, 6);
  pn_node_set_float(cl.g, cl.n, "epsilon", 1e-3f);
  const struct pn_tensor *ins[3] = {X, S, B};
  int rc;
  struct pn_tensor *Y = run1(&cl, ins, &rc);
  assert_int_equal(rc, PN_OK);
  double want[120];
  for (int p = 0; p < 6; p++) {
    double mu = 0, var = 0;
    for (int k = 0; k < 20; k++) mu += get(X, p * 20 + k) / 20;
    for (int k = 0; k < 20; k++) var += (get(X, p * 20 + k) - mu) * (get(X, p * 20 + k) - mu) / 20;
    for (int k = 0; k < 20; k++)
      want[p * 20 + k] = get(S, p % 3) * (get(X, p * 20 + k) - mu) / sqrt(var + 1e-3f) + get(B, p % 3);
  }
  assert_close_t(Y, want, 120, 1e-5);
  pn_tensor_free(X), pn_tensor_free(S), pn_tensor_free(B), pn_tensor_free(Y);
  call_free(&cl);
}

/* ---- TopK, GatherND / ScatterND / ScatterElements ---- */

static void test_topk_ties(void **state) {
  (void)state;
  struct call cl;
  call_init(&cl, "TopK", 2, 2, 11);
  struct pn_tensor *X = tensor(PN_DT_FLOAT, 2, (int64_t[]){2, 5}, (double[]){3, 1, 3, 2, 3, 0, 5, 5, 1, 0});
  struct pn_tensor *K = ints(1, (int64_t[]){3});
  const struct pn_tensor *ins[2] = {X, K};
  struct pn_tensor *out[2];
  assert_int_equal(call_run(&cl, ins, out), PN_OK);
  assert_values(out[0], 6, (double[]){3, 3, 3, 5, 5, 1});
  assert_values(out[1], 6, (double[]){0, 2, 4, 1, 2, 3});   /* equal values: lower index first */
  pn_tensor_free(out[0]), pn_tensor_free(out[1]);
  pn_node_set_int(cl.g, cl.n, "largest", 0);
  assert_int_equal(call_run(&cl, ins, out), PN_OK);
  assert_values(out[0], 6, (double[]){1, 2, 3, 0, 0, 1});
  assert_values(out[1], 6, (double[]){1, 3, 0, 0, 4, 3});
  pn_tensor_free(out[0]), pn_tensor_free(out[1]);
  pn_tensor_free(X), pn_tensor_free(K);
  call_free(&cl);
}

static void test_scatter_gather(void **state) {
  (void)state;
  for (int rep = 0; rep < 10; rep++) {
    int64_t dd[3] = {irand(1, 4), irand(1, 4), irand(1, 4)};
    struct pn_tensor *D = trand(PN_DT_FLOAT, 3, dd);
    /* distinct random tuples of length 2 (negative ones too) */
    int64_t nt = irand(1, dd[0] * dd[1]), iv[64], used[16][16] = {{0}};
    int64_t t = 0;
    while (t < nt) {
      int64_t i = irand(0, dd[0] - 1), j = irand(0, dd[1] - 1);
      if (used[i][j]) continue;
      used[i][j] = 1;
      iv[2 * t] = irand(0, 1) ? i : i - dd[0];
      iv[2 * t + 1] = j;
      t++;
    }
    struct pn_tensor *I = pn_tensor_new(PN_DT_INT64, 2, (int64_t[]){nt, 2});
    memcpy(I->data, iv, (size_t)(2 * nt) * sizeof *iv);
    int64_t ud[2] = {nt, dd[2]};
    struct pn_tensor *U = trand(PN_DT_FLOAT, 2, ud);
    struct call sc, ga;
    call_init(&sc, "ScatterND", 3, 1, 13);
    call_init(&ga, "GatherND", 2, 1, 13);
    const struct pn_tensor *sin[3] = {D, I, U};
    int rc;
    struct pn_tensor *Y = run1(&sc, sin, &rc);
    assert_int_equal(rc, PN_OK);
    const struct pn_tensor *gin[2] = {Y, I};
    struct pn_tensor *G = run1(&ga, gin, &rc);
    assert_int_equal(rc, PN_OK);
    double want[64 * 4];
    for (int64_t k = 0; k < nt * dd[2]; k++) want[k] = get(U, k);
    assert_close_t(G, want, nt * dd[2], 0);
    /* untouched elements keep data's value */
    for (int64_t i = 0; i < dd[0]; i++)
      for (int64_t j = 0; j < dd[1]; j++)
        if (!used[i][j])
          for (int64_t k = 0; k < dd[2]; k++)
            assert_true(get(Y, (i * dd[1] + j) * dd[2] + k) == get(D, (i * dd[1] + j) * dd[2] + k));
    /* an index out of range is an error naming it, not a write out of bounds */
    ((int64_t *)I->data)[0] = dd[0];
    assert_null(run1(&sc, sin, &rc));
    assert_int_equal(rc, PN_ERR_INVALID);
    assert_null(run1(&ga, gin, &rc));
    assert_int_equal(rc, PN_ERR_INVALID);
    pn_tensor_free(D), pn_tensor_free(I), pn_tensor_free(U), pn_tensor_free(Y), pn_tensor_free(G);
    call_free(&sc), call_free(&ga);
  }
  /* ScatterElements with reduction add: duplicates accumulate */
  struct call cl;
  call_init(&cl, "ScatterElements", 3, 1, 16);
  pn_node_set_string(cl.g, cl.n, "reduction", "add");
  pn_node_set_int(cl.g, cl.n, "axis", 1);
  struct pn_tensor *D = tensor(PN_DT_FLOAT, 2, (int64_t[]){1, 4}, (double[]){1, 2, 3, 4});
  struct pn_tensor *I = tensor(PN_DT_INT64, 2, (int64_t[]){1, 3}, (double[]){1, 1, -1});
  struct pn_tensor *U = tensor(PN_DT_FLOAT, 2, (int64_t[]){1, 3}, (double[]){10, 20, 30});
  const struct pn_tensor *ins[3] = {D, I, U};
  int rc;
  struct pn_tensor *Y = run1(&cl, ins, &rc);
  assert_int_equal(rc, PN_OK);
  assert_values(Y, 4, (double[]){1, 32, 3, 34});
  pn_tensor_free(D), pn_tensor_free(I), pn_tensor_free(U), pn_tensor_free(Y);
  call_free(&cl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_transpose_random), cmocka_unit_test(test_einsum_paths),
      cmocka_unit_test(test_resize_closed_forms),   cmocka_unit_test(test_instance_norm),
      cmocka_unit_test(test_topk_ties),             cmocka_unit_test(test_scatter_gather),
  };
  return cmocka_run_group_tests(tests, setup_prg, teardown_prg);
}
