/* vgg.c - the zoo's VGG-11 with BatchNorm (torchvision vgg11_bn). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/zoo/kit.h"
#include "util/status.h"

int pn_zoo_vgg11(struct pn_zb *b, const struct pn_zoo_opts *o, int unused) {
  (void)unused;
  static const int cfg[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0}; /* 0 = pool */
  struct pn_zb_act x = pn_zb_input(b, o);
  int idx = 0;
  for (size_t i = 0; i < sizeof cfg / sizeof *cfg; i++) {
    char nm[3][32];
    for (int k = 0; k < 3; k++) snprintf(nm[k], sizeof nm[k], "features.%d", idx + k);
    if (cfg[i] == 0) {
      x = pn_zb_maxpool(b, x, nm[0], 2, 2, 0);
      idx += 1;
    } else {
      x = pn_zb_conv(b, x, nm[0], cfg[i], 3, 1, 1, 1, 1);
      x = pn_zb_unary(b, pn_zb_bn(b, x, nm[1]), "Relu", nm[2]);
      idx += 3;
    }
  }
  /* torchvision's AdaptiveAvgPool2d(7) is the identity at 224x224; at other sizes the classifier
  ** takes the feature map as it is (512 * h * w features). */
  x = pn_zb_flatten(b, x, "flatten");
  x = pn_zb_dropout(b, pn_zb_unary(b, pn_zb_linear(b, x, "classifier.0", 4096, NULL), "Relu", "classifier.1"),
              "classifier.2");
  x = pn_zb_dropout(b, pn_zb_unary(b, pn_zb_linear(b, x, "classifier.3", 4096, NULL), "Relu", "classifier.4"),
              "classifier.5");
  return pn_zb_finish(b, pn_zb_linear(b, x, "classifier.6", pn_zb_classes(o), "output"));
}
