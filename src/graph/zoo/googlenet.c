/* googlenet.c - the zoo's GoogLeNet (torchvision googlenet, inference graph: no auxiliary heads,
** no input transform): BasicConv2d = conv without bias + BatchNorm + ReLU; Inception modules of
** four branches (1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 (torchvision's "5x5" branch) | 3x3 max pool -> 1x1)
** joined by Concat; max pools with ceil_mode. */
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
