/* inception.c - the zoo's Inception family, inference graphs as torchvision builds them (no
** auxiliary heads, no input transform); BasicConv2d = conv without bias + BatchNorm + ReLU.
** GoogLeNet: modules of four branches (1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 (torchvision's "5x5" branch) |
** 3x3 max pool -> 1x1) joined by Concat, max pools with ceil_mode. Inception-v3: modules A-E with
** factorised 1x7/7x1 and 1x3/3x1 convolutions, average pools counting their padding. */
#include <stdio.h>

#include "graph/zoo/kit.h"
#include "util/status.h"

static struct pn_zb_act basic(struct pn_zb *b, struct pn_zb_act x, const char *p, int64_t cout, int64_t k,
                              int64_t s, int64_t pad) {
  x = pn_zb_conv(b, x, pn_zb_name(b, p, "conv"), cout, k, s, pad, 1, 0);
  return pn_zb_unary(b, pn_zb_bn(b, x, pn_zb_name(b, p, "bn")), "Relu", pn_zb_name(b, p, "relu"));
}

static struct pn_zb_act inception(struct pn_zb *b, struct pn_zb_act x, const char *p, const int c[6]) {
  char q[64];
  struct pn_zb_act br[4];
  snprintf(q, sizeof q, "%s.branch1", p);
  br[0] = basic(b, x, q, c[0], 1, 1, 0);
  snprintf(q, sizeof q, "%s.branch2.0", p);
  br[1] = basic(b, x, q, c[1], 1, 1, 0);
  snprintf(q, sizeof q, "%s.branch2.1", p);
  br[1] = basic(b, br[1], q, c[2], 3, 1, 1);
  snprintf(q, sizeof q, "%s.branch3.0", p);
  br[2] = basic(b, x, q, c[3], 1, 1, 0);
  snprintf(q, sizeof q, "%s.branch3.1", p);
  br[2] = basic(b, br[2], q, c[4], 3, 1, 1);
  snprintf(q, sizeof q, "%s.branch4.0", p);
  br[3] = pn_zb_pool(b, x, "MaxPool", q, 3, 1, 1, 1);
  snprintf(q, sizeof q, "%s.branch4.1", p);
  br[3] = basic(b, br[3], q, c[5], 1, 1, 0);
  snprintf(q, sizeof q, "%s.concat", p);
  return pn_zb_concat(b, br, 4, q);
}

int pn_zoo_googlenet(struct pn_zb *b, const struct pn_zoo_opts *o, int unused) {
  (void)unused;
  /* 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection */
  static const int i3[2][6] = {{64, 96, 128, 16, 32, 32}, {128, 128, 192, 32, 96, 64}};
  static const int i4[5][6] = {{192, 96, 208, 16, 48, 64},
                               {160, 112, 224, 24, 64, 64},
                               {128, 128, 256, 24, 64, 64},
                               {112, 144, 288, 32, 64, 64},
                               {256, 160, 320, 32, 128, 128}};
  static const int i5[2][6] = {{256, 160, 320, 32, 128, 128}, {384, 192, 384, 48, 128, 128}};
  struct pn_zb_act x = pn_zb_input(b, o);
  x = basic(b, x, "conv1", 64, 7, 2, 3);
  x = pn_zb_pool(b, x, "MaxPool", "maxpool1", 3, 2, 0, 1);
  x = basic(b, x, "conv2", 64, 1, 1, 0);
  x = basic(b, x, "conv3", 192, 3, 1, 1);
  x = pn_zb_pool(b, x, "MaxPool", "maxpool2", 3, 2, 0, 1);
  x = inception(b, x, "inception3a", i3[0]);
  x = inception(b, x, "inception3b", i3[1]);
  x = pn_zb_pool(b, x, "MaxPool", "maxpool3", 3, 2, 0, 1);
  for (int i = 0; i < 5; i++) {
    char p[32];
    snprintf(p, sizeof p, "inception4%c", 'a' + i);
    x = inception(b, x, p, i4[i]);
  }
  x = pn_zb_pool(b, x, "MaxPool", "maxpool4", 2, 2, 0, 1);
  x = inception(b, x, "inception5a", i5[0]);
  x = inception(b, x, "inception5b", i5[1]);
  x = pn_zb_flatten(b, pn_zb_gap(b, x, "avgpool"), "flatten");
  x = pn_zb_dropout(b, x, "dropout");
  return pn_zb_finish(b, pn_zb_linear(b, x, "fc", pn_zb_classes(o), "output"));
}

/* ---- Inception-v3 ---- */

static struct pn_zb_act bc(struct pn_zb *b, struct pn_zb_act x, const char *p, const char *m, int64_t cout,
                           int64_t kh, int64_t kw, int64_t s, int64_t ph, int64_t pw) {
  char q[64];
  snprintf(q, sizeof q, "%s%s%s", p, *m ? "." : "", m);
  x = pn_zb_conv_hw(b, x, pn_zb_name(b, q, "conv"), cout, kh, kw, s, ph, pw, 1, 0);
  return pn_zb_unary(b, pn_zb_bn(b, x, pn_zb_name(b, q, "bn")), "Relu", pn_zb_name(b, q, "relu"));
}

static struct pn_zb_act pool_branch(struct pn_zb *b, struct pn_zb_act x, const char *p, int64_t cout) {
  char q[64];
  snprintf(q, sizeof q, "%s.avg_pool", p);
  return bc(b, pn_zb_avgpool_pad(b, x, q, 3, 1, 1), p, "branch_pool", cout, 1, 1, 1, 0, 0);
}

static struct pn_zb_act cat(struct pn_zb *b, const struct pn_zb_act *x, int n, const char *p, const char *m) {
  char q[64];
  snprintf(q, sizeof q, "%s.%s", p, m);
  return pn_zb_concat(b, x, n, q);
}

static struct pn_zb_act inc_a(struct pn_zb *b, struct pn_zb_act x, const char *p, int64_t pool) {
  struct pn_zb_act br[4];
  br[0] = bc(b, x, p, "branch1x1", 64, 1, 1, 1, 0, 0);
  br[1] = bc(b, bc(b, x, p, "branch5x5_1", 48, 1, 1, 1, 0, 0), p, "branch5x5_2", 64, 5, 5, 1, 2, 2);
  br[2] = bc(b, x, p, "branch3x3dbl_1", 64, 1, 1, 1, 0, 0);
  br[2] = bc(b, br[2], p, "branch3x3dbl_2", 96, 3, 3, 1, 1, 1);
  br[2] = bc(b, br[2], p, "branch3x3dbl_3", 96, 3, 3, 1, 1, 1);
  br[3] = pool_branch(b, x, p, pool);
  return cat(b, br, 4, p, "concat");
}

static struct pn_zb_act inc_b(struct pn_zb *b, struct pn_zb_act x, const char *p) {
  struct pn_zb_act br[3];
  char q[64];
  br[0] = bc(b, x, p, "branch3x3", 384, 3, 3, 2, 0, 0);
  br[1] = bc(b, x, p, "branch3x3dbl_1", 64, 1, 1, 1, 0, 0);
  br[1] = bc(b, br[1], p, "branch3x3dbl_2", 96, 3, 3, 1, 1, 1);
  br[1] = bc(b, br[1], p, "branch3x3dbl_3", 96, 3, 3, 2, 0, 0);
  snprintf(q, sizeof q, "%s.max_pool", p);
  br[2] = pn_zb_maxpool(b, x, q, 3, 2, 0);
  return cat(b, br, 3, p, "concat");
}

static struct pn_zb_act inc_c(struct pn_zb *b, struct pn_zb_act x, const char *p, int64_t c7) {
  struct pn_zb_act br[4];
  br[0] = bc(b, x, p, "branch1x1", 192, 1, 1, 1, 0, 0);
  br[1] = bc(b, x, p, "branch7x7_1", c7, 1, 1, 1, 0, 0);
  br[1] = bc(b, br[1], p, "branch7x7_2", c7, 1, 7, 1, 0, 3);
  br[1] = bc(b, br[1], p, "branch7x7_3", 192, 7, 1, 1, 3, 0);
  br[2] = bc(b, x, p, "branch7x7dbl_1", c7, 1, 1, 1, 0, 0);
  br[2] = bc(b, br[2], p, "branch7x7dbl_2", c7, 7, 1, 1, 3, 0);
  br[2] = bc(b, br[2], p, "branch7x7dbl_3", c7, 1, 7, 1, 0, 3);
  br[2] = bc(b, br[2], p, "branch7x7dbl_4", c7, 7, 1, 1, 3, 0);
  br[2] = bc(b, br[2], p, "branch7x7dbl_5", 192, 1, 7, 1, 0, 3);
  br[3] = pool_branch(b, x, p, 192);
  return cat(b, br, 4, p, "concat");
}

static struct pn_zb_act inc_d(struct pn_zb *b, struct pn_zb_act x, const char *p) {
  struct pn_zb_act br[3];
  char q[64];
  br[0] = bc(b, bc(b, x, p, "branch3x3_1", 192, 1, 1, 1, 0, 0), p, "branch3x3_2", 320, 3, 3, 2, 0, 0);
  br[1] = bc(b, x, p, "branch7x7x3_1", 192, 1, 1, 1, 0, 0);
  br[1] = bc(b, br[1], p, "branch7x7x3_2", 192, 1, 7, 1, 0, 3);
  br[1] = bc(b, br[1], p, "branch7x7x3_3", 192, 7, 1, 1, 3, 0);
  br[1] = bc(b, br[1], p, "branch7x7x3_4", 192, 3, 3, 2, 0, 0);
  snprintf(q, sizeof q, "%s.max_pool", p);
  br[2] = pn_zb_maxpool(b, x, q, 3, 2, 0);
  return cat(b, br, 3, p, "concat");
}

static struct pn_zb_act inc_e(struct pn_zb *b, struct pn_zb_act x, const char *p) {
  struct pn_zb_act br[4], two[2];
  br[0] = bc(b, x, p, "branch1x1", 320, 1, 1, 1, 0, 0);
  struct pn_zb_act y = bc(b, x, p, "branch3x3_1", 384, 1, 1, 1, 0, 0);
  two[0] = bc(b, y, p, "branch3x3_2a", 384, 1, 3, 1, 0, 1);
  two[1] = bc(b, y, p, "branch3x3_2b", 384, 3, 1, 1, 1, 0);
  br[1] = cat(b, two, 2, p, "branch3x3_concat");
  y = bc(b, bc(b, x, p, "branch3x3dbl_1", 448, 1, 1, 1, 0, 0), p, "branch3x3dbl_2", 384, 3, 3, 1, 1, 1);
  two[0] = bc(b, y, p, "branch3x3dbl_3a", 384, 1, 3, 1, 0, 1);
  two[1] = bc(b, y, p, "branch3x3dbl_3b", 384, 3, 1, 1, 1, 0);
  br[2] = cat(b, two, 2, p, "branch3x3dbl_concat");
  br[3] = pool_branch(b, x, p, 192);
  return cat(b, br, 4, p, "concat");
}

int pn_zoo_inception_v3(struct pn_zb *b, const struct pn_zoo_opts *o, int unused) {
  (void)unused;
  struct pn_zoo_opts o299 = *o; /* Inception-v3's own input size unless one is given */
  if (!o299.ndim) {
    o299.ndim = 4;
    o299.dims[0] = 1;
    o299.dims[1] = 3;
    o299.dims[2] = o299.dims[3] = 299;
  }
  struct pn_zb_act x = pn_zb_input(b, &o299);
  x = bc(b, x, "Conv2d_1a_3x3", "", 32, 3, 3, 2, 0, 0);
  x = bc(b, x, "Conv2d_2a_3x3", "", 32, 3, 3, 1, 0, 0);
  x = bc(b, x, "Conv2d_2b_3x3", "", 64, 3, 3, 1, 1, 1);
  x = pn_zb_maxpool(b, x, "maxpool1", 3, 2, 0);
  x = bc(b, x, "Conv2d_3b_1x1", "", 80, 1, 1, 1, 0, 0);
  x = bc(b, x, "Conv2d_4a_3x3", "", 192, 3, 3, 1, 0, 0);
  x = pn_zb_maxpool(b, x, "maxpool2", 3, 2, 0);
  x = inc_a(b, x, "Mixed_5b", 32);
  x = inc_a(b, x, "Mixed_5c", 64);
  x = inc_a(b, x, "Mixed_5d", 64);
  x = inc_b(b, x, "Mixed_6a");
  x = inc_c(b, x, "Mixed_6b", 128);
  x = inc_c(b, x, "Mixed_6c", 160);
  x = inc_c(b, x, "Mixed_6d", 160);
  x = inc_c(b, x, "Mixed_6e", 192);
  x = inc_d(b, x, "Mixed_7a");
  x = inc_e(b, x, "Mixed_7b");
  x = inc_e(b, x, "Mixed_7c");
  x = pn_zb_flatten(b, pn_zb_gap(b, x, "avgpool"), "flatten");
  x = pn_zb_dropout(b, x, "dropout");
  return pn_zb_finish(b, pn_zb_linear(b, x, "fc", pn_zb_classes(o), "output"));
}
