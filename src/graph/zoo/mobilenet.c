/* mobilenet.c - the zoo's MobileNets: V2 (inverted residuals, ReLU6) and V3-Large (hard-swish,
** squeeze-excite), as torchvision builds and names them (mobilenet_v2, mobilenet_v3_large). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/zoo/kit.h"
#include "util/status.h"

int pn_zoo_mobilenetv2(struct pn_zb *b, const struct pn_zoo_opts *o, int unused) {
  (void)unused;
  static const int setting[7][4] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                    {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
  struct pn_zb_act x = pn_zb_input(b, o);
  x = pn_zb_conv_bn_act(b, x, "features.0", 32, 3, 2, 1, "Relu6");
  int idx = 1;
  for (int i = 0; i < 7; i++)
    for (int j = 0; j < setting[i][2]; j++, idx++) {
      int64_t t = setting[i][0], oup = setting[i][1], s = j == 0 ? setting[i][3] : 1;
      int64_t hidden = x.c * t;
      char p[32];
      snprintf(p, sizeof p, "features.%d.conv", idx);
      struct pn_zb_act y = x;
      int li = 0;
      char q[48];
      if (t != 1) {
        snprintf(q, sizeof q, "%s.%d", p, li++);
        y = pn_zb_conv_bn_act(b, y, q, hidden, 1, 1, 1, "Relu6");
      }
      snprintf(q, sizeof q, "%s.%d", p, li++);
      y = pn_zb_conv_bn_act(b, y, q, hidden, 3, s, hidden, "Relu6");
      snprintf(q, sizeof q, "%s.%d", p, li++);
      y = pn_zb_conv(b, y, q, oup, 1, 1, 0, 1, 0);
      snprintf(q, sizeof q, "%s.%d", p, li++);
      y = pn_zb_bn(b, y, q);
      if (s == 1 && x.c == oup) {
        snprintf(q, sizeof q, "features.%d.add", idx);
        y = pn_zb_add(b, y, x, q);
      }
      x = y;
    }
  x = pn_zb_conv_bn_act(b, x, "features.18", 1280, 1, 1, 1, "Relu6");
  x = pn_zb_flatten(b, pn_zb_gap(b, x, "avgpool"), "flatten");
  x = pn_zb_dropout(b, x, "classifier.0");
  return pn_zb_finish(b, pn_zb_linear(b, x, "classifier.1", pn_zb_classes(o), "output"));
}

/* ---- MobileNetV3-Large ---- */

/* torchvision's _make_divisible(v, 8). */
static int64_t divisible8(double v) {
  int64_t n = (int64_t)(v + 4) / 8 * 8;
  if (n < 8) n = 8;
  if ((double)n < 0.9 * v) n += 8;
  return n;
}

/* SqueezeExcitation: x * HardSigmoid(fc2(Relu(fc1(avgpool(x))))), fc1/fc2 1x1 convs with bias. */
static struct pn_zb_act squeeze_excite(struct pn_zb *b, struct pn_zb_act x, const char *p) {
  int64_t sq = divisible8((double)(x.c / 4));
  struct pn_zb_act s = pn_zb_gap(b, x, pn_zb_name(b, p, "avgpool"));
  s = pn_zb_conv(b, s, pn_zb_name(b, p, "fc1"), sq, 1, 1, 0, 1, 1);
  s = pn_zb_unary(b, s, "Relu", pn_zb_name(b, p, "activation"));
  s = pn_zb_conv(b, s, pn_zb_name(b, p, "fc2"), x.c, 1, 1, 0, 1, 1);
  struct pn_node *hs = b->status == PN_OK && s.v ? pn_zb_op(b, "HardSigmoid", pn_zb_name(b, p, "scale_activation"), 1, &s.v, NULL) : NULL;
  pn_zb_float(b, hs, "alpha", 1.0f / 6.0f);
  pn_zb_float(b, hs, "beta", 0.5f);
  s.v = pn_zb_out(hs);
  return pn_zb_binary(b, "Mul", x, s, pn_zb_name(b, p, "mul"));
}

int pn_zoo_mobilenetv3(struct pn_zb *b, const struct pn_zoo_opts *o, int unused) {
  (void)unused;
  /* kernel, expanded, out, squeeze-excite, hard-swish, stride (torchvision's large config) */
  static const int cfg[15][6] = {{3, 16, 16, 0, 0, 1},   {3, 64, 24, 0, 0, 2},   {3, 72, 24, 0, 0, 1},
                                 {5, 72, 40, 1, 0, 2},   {5, 120, 40, 1, 0, 1},  {5, 120, 40, 1, 0, 1},
                                 {3, 240, 80, 0, 1, 2},  {3, 200, 80, 0, 1, 1},  {3, 184, 80, 0, 1, 1},
                                 {3, 184, 80, 0, 1, 1},  {3, 480, 112, 1, 1, 1}, {3, 672, 112, 1, 1, 1},
                                 {5, 672, 160, 1, 1, 2}, {5, 960, 160, 1, 1, 1}, {5, 960, 160, 1, 1, 1}};
  struct pn_zb_act x = pn_zb_input(b, o);
  x = pn_zb_conv_bn_act(b, x, "features.0", 16, 3, 2, 1, "HardSwish");
  for (int i = 0; i < 15; i++) {
    const int *c = cfg[i];
    const char *act = c[4] ? "HardSwish" : "Relu";
    char p[48], q[64];
    snprintf(p, sizeof p, "features.%d.block", i + 1);
    struct pn_zb_act y = x;
    int li = 0;
    if (c[1] != x.c) {
      snprintf(q, sizeof q, "%s.%d", p, li++);
      y = pn_zb_conv_bn_act(b, y, q, c[1], 1, 1, 1, act);
    }
    snprintf(q, sizeof q, "%s.%d", p, li++);
    y = pn_zb_conv_bn_act(b, y, q, c[1], c[0], c[5], c[1], act);
    if (c[3]) {
      snprintf(q, sizeof q, "%s.%d", p, li++);
      y = squeeze_excite(b, y, q);
    }
    snprintf(q, sizeof q, "%s.%d", p, li++);
    y = pn_zb_conv_bn_act(b, y, q, c[2], 1, 1, 1, NULL);
    if (c[5] == 1 && x.c == c[2]) {
      snprintf(q, sizeof q, "features.%d.add", i + 1);
      y = pn_zb_add(b, y, x, q);
    }
    x = y;
  }
  x = pn_zb_conv_bn_act(b, x, "features.16", 960, 1, 1, 1, "HardSwish");
  x = pn_zb_flatten(b, pn_zb_gap(b, x, "avgpool"), "flatten");
  x = pn_zb_unary(b, pn_zb_linear(b, x, "classifier.0", 1280, NULL), "HardSwish", "classifier.1");
  x = pn_zb_dropout(b, x, "classifier.2");
  return pn_zb_finish(b, pn_zb_linear(b, x, "classifier.3", pn_zb_classes(o), "output"));
}
