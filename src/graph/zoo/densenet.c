/* densenet.c - the zoo's DenseNet-121 (torchvision densenet121): growth rate 32, blocks of 6, 12,
** 24 and 16 layers (BN-ReLU-1x1 conv to 128, BN-ReLU-3x3 conv to 32), each layer reading the
** Concat of its block's input and every earlier layer's output; transitions halve the channels
** (1x1 conv) and the size (2x2 average pool). */
#include <stdio.h>

#include "graph/zoo/kit.h"
#include "util/status.h"

int pn_zoo_densenet121(struct pn_zb *b, const struct pn_zoo_opts *o, int unused) {
  (void)unused;
  static const int layers[4] = {6, 12, 24, 16};
  const int64_t growth = 32, bottleneck = 4 * 32;
  struct pn_zb_act x = pn_zb_input(b, o);
  x = pn_zb_conv(b, x, "features.conv0", 64, 7, 2, 3, 1, 0);
  x = pn_zb_unary(b, pn_zb_bn(b, x, "features.norm0"), "Relu", "features.relu0");
  x = pn_zb_maxpool(b, x, "features.pool0", 3, 2, 1);
  for (int blk = 0; blk < 4; blk++) {
    struct pn_zb_act feats[64];
    int nf = 0;
    feats[nf++] = x;
    for (int l = 0; l < layers[blk]; l++) {
      char p[64], q[80];
      snprintf(p, sizeof p, "features.denseblock%d.denselayer%d", blk + 1, l + 1);
      snprintf(q, sizeof q, "%s.concat", p);
      struct pn_zb_act y = nf == 1 ? feats[0] : pn_zb_concat(b, feats, nf, q);
      y = pn_zb_unary(b, pn_zb_bn(b, y, pn_zb_name(b, p, "norm1")), "Relu", pn_zb_name(b, p, "relu1"));
      y = pn_zb_conv(b, y, pn_zb_name(b, p, "conv1"), bottleneck, 1, 1, 0, 1, 0);
      y = pn_zb_unary(b, pn_zb_bn(b, y, pn_zb_name(b, p, "norm2")), "Relu", pn_zb_name(b, p, "relu2"));
      feats[nf++] = pn_zb_conv(b, y, pn_zb_name(b, p, "conv2"), growth, 3, 1, 1, 1, 0);
    }
    char p[64];
    snprintf(p, sizeof p, "features.denseblock%d.concat", blk + 1);
    x = pn_zb_concat(b, feats, nf, p);
    if (blk < 3) {
      snprintf(p, sizeof p, "features.transition%d", blk + 1);
      x = pn_zb_unary(b, pn_zb_bn(b, x, pn_zb_name(b, p, "norm")), "Relu", pn_zb_name(b, p, "relu"));
      x = pn_zb_conv(b, x, pn_zb_name(b, p, "conv"), x.c / 2, 1, 1, 0, 1, 0);
      x = pn_zb_pool(b, x, "AveragePool", pn_zb_name(b, p, "pool"), 2, 2, 0, 0);
    }
  }
  x = pn_zb_unary(b, pn_zb_bn(b, x, "features.norm5"), "Relu", "relu");
  x = pn_zb_flatten(b, pn_zb_gap(b, x, "avgpool"), "flatten");
  return pn_zb_finish(b, pn_zb_linear(b, x, "classifier", pn_zb_classes(o), "output"));
}
