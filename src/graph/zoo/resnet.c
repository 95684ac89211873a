/* resnet.c - the zoo's ResNet family: ResNet-18, ResNet-50 (v1.5, stride on the 3x3 conv) and
** ResNeXt-50 32x4d, as torchvision builds and names them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/zoo/kit.h"
#include "util/status.h"

/* torchvision's BasicBlock / Bottleneck; groups and width (the 3x3 conv's channels) make the
** ResNeXt bottleneck (32 groups of 4 per 64 planes). */
static struct pn_zb_act resnet_block(struct pn_zb *b, struct pn_zb_act x, const char *p, int64_t planes,
                                     int64_t stride, int bottleneck, int64_t groups, int64_t width) {
  int64_t expansion = bottleneck ? 4 : 1;
  struct pn_zb_act y;
  if (!bottleneck) {
    y = pn_zb_conv(b, x, pn_zb_name(b, p, "conv1"), planes, 3, stride, 1, 1, 0);
    y = pn_zb_unary(b, pn_zb_bn(b, y, pn_zb_name(b, p, "bn1")), "Relu", pn_zb_name(b, p, "relu"));
    y = pn_zb_bn(b, pn_zb_conv(b, y, pn_zb_name(b, p, "conv2"), planes, 3, 1, 1, 1, 0), pn_zb_name(b, p, "bn2"));
  } else {
    y = pn_zb_conv(b, x, pn_zb_name(b, p, "conv1"), width, 1, 1, 0, 1, 0);
    y = pn_zb_unary(b, pn_zb_bn(b, y, pn_zb_name(b, p, "bn1")), "Relu", pn_zb_name(b, p, "relu"));
    y = pn_zb_conv(b, y, pn_zb_name(b, p, "conv2"), width, 3, stride, 1, groups, 0);
    y = pn_zb_unary(b, pn_zb_bn(b, y, pn_zb_name(b, p, "bn2")), "Relu", pn_zb_name(b, p, "relu_1"));
    y = pn_zb_bn(b, pn_zb_conv(b, y, pn_zb_name(b, p, "conv3"), planes * 4, 1, 1, 0, 1, 0),
           pn_zb_name(b, p, "bn3"));
  }
  struct pn_zb_act id = x;
  if (stride != 1 || x.c != planes * expansion) {
    id = pn_zb_conv(b, x, pn_zb_name(b, p, "downsample.0"), planes * expansion, 1, stride, 0, 1, 0);
    id = pn_zb_bn(b, id, pn_zb_name(b, p, "downsample.1"));
  }
  y = pn_zb_add(b, y, id, pn_zb_name(b, p, "add"));
  return pn_zb_unary(b, y, "Relu", pn_zb_name(b, p, bottleneck ? "relu_2" : "relu_1"));
}

static int resnet(struct pn_zb *b, const struct pn_zoo_opts *o, const int blocks[4], int bottleneck,
                  int64_t groups, int64_t width_per_group) {
  struct pn_zb_act x = pn_zb_input(b, o);
  x = pn_zb_conv(b, x, "conv1", 64, 7, 2, 3, 1, 0);
  x = pn_zb_unary(b, pn_zb_bn(b, x, "bn1"), "Relu", "relu");
  x = pn_zb_maxpool(b, x, "maxpool", 3, 2, 1);
  for (int l = 0; l < 4; l++)
    for (int j = 0; j < blocks[l]; j++) {
      char p[32];
      snprintf(p, sizeof p, "layer%d.%d", l + 1, j);
      int64_t planes = (int64_t)64 << l, width = planes * width_per_group / 64 * groups;
      x = resnet_block(b, x, p, planes, (l > 0 && j == 0) ? 2 : 1, bottleneck, groups, width);
    }
  x = pn_zb_flatten(b, pn_zb_gap(b, x, "avgpool"), "flatten");
  return pn_zb_finish(b, pn_zb_linear(b, x, "fc", pn_zb_classes(o), "output"));
}

int pn_zoo_resnet(struct pn_zb *b, const struct pn_zoo_opts *o, int depth) {
  static const int blocks18[4] = {2, 2, 2, 2}, blocks50[4] = {3, 4, 6, 3};
  return depth == 50 ? resnet(b, o, blocks50, 1, 1, 64) : resnet(b, o, blocks18, 0, 1, 64);
}

/* ResNeXt-50 32x4d: ResNet-50 whose bottleneck 3x3 convolutions have 32 groups of 4 channels per
** 64 planes (torchvision resnext50_32x4d). */
int pn_zoo_resnext50(struct pn_zb *b, const struct pn_zoo_opts *o, int unused) {
  (void)unused;
  static const int blocks[4] = {3, 4, 6, 3};
  return resnet(b, o, blocks, 1, 32, 4);
}
