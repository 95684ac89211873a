/* shufflenet.c - the zoo's ShuffleNetV2 1.0x (torchvision shufflenet_v2_x1_0): channel split
** (Split), two branches joined by Concat, and the channel shuffle spelled Reshape [N, 2, C/2, H, W]
** -> Transpose -> Reshape [N, C, H, W], as torchvision's ONNX export spells it. */
#include <stdio.h>

#include "graph/zoo/kit.h"
#include "util/status.h"

static struct pn_zb_act shuffle(struct pn_zb *b, struct pn_zb_act x, const char *p) {
  if (b->status != PN_OK || !x.v) return (struct pn_zb_act){0};
  int64_t d5[1] = {5}, d4[1] = {4}, s5[5] = {0, 2, x.c / 2, x.h, x.w}, s4[4] = {0, x.c, x.h, x.w};
  int64_t perm[5] = {0, 2, 1, 3, 4};
  const char *i1[2] = {x.v, pn_zb_i64(b, pn_zb_name(b, p, "shape5"), 1, d5, s5)};
  const char *r = pn_zb_out(pn_zb_op(b, "Reshape", pn_zb_name(b, p, "reshape"), 2, i1, NULL));
  struct pn_node *t = r ? pn_zb_op(b, "Transpose", pn_zb_name(b, p, "transpose"), 1, &r, NULL) : NULL;
  pn_zb_ints(b, t, "perm", 5, perm);
  const char *i2[2] = {pn_zb_out(t), pn_zb_i64(b, pn_zb_name(b, p, "shape4"), 1, d4, s4)};
  x.v = i2[0] ? pn_zb_out(pn_zb_op(b, "Reshape", pn_zb_name(b, p, "reshape_1"), 2, i2, NULL)) : NULL;
  return x;
}

/* torchvision's InvertedResidual: stride 1 splits the channels in two halves and transforms the
** second; stride 2 transforms the whole input in two branches. */
static struct pn_zb_act unit(struct pn_zb *b, struct pn_zb_act x, const char *p, int64_t oup, int64_t stride) {
  if (b->status != PN_OK || !x.v) return (struct pn_zb_act){0};
  int64_t bf = oup / 2;
  char q[64];
  struct pn_zb_act br[2], in2 = x;
  if (stride == 1) {
    int64_t d[1] = {2}, sp[2] = {x.c / 2, x.c / 2};
    const char *in[2] = {x.v, pn_zb_i64(b, pn_zb_name(b, p, "split_sizes"), 1, d, sp)};
    const char *out[2] = {pn_zb_name(b, p, "split_0"), pn_zb_name(b, p, "split_1")};
    struct pn_node *n = in[1] && out[0] && out[1] ? pn_graph_add_node(b->g, "Split", pn_zb_name(b, p, "split"), 2, in, 2, out) : NULL;
    if (!n) {
      pn_zb_fail(b, PN_ERR_NOMEM, "out of memory adding '%s.split'", p);
      return (struct pn_zb_act){0};
    }
    pn_zb_int(b, n, "axis", 1);
    br[0] = (struct pn_zb_act){out[0], x.n, x.c / 2, x.h, x.w};
    in2 = (struct pn_zb_act){out[1], x.n, x.c / 2, x.h, x.w};
  } else {
    snprintf(q, sizeof q, "%s.branch1", p);
    struct pn_zb_act y = pn_zb_conv(b, x, pn_zb_name(b, q, "0"), x.c, 3, stride, 1, x.c, 0);
    y = pn_zb_bn(b, y, pn_zb_name(b, q, "1"));
    y = pn_zb_conv(b, y, pn_zb_name(b, q, "2"), bf, 1, 1, 0, 1, 0);
    br[0] = pn_zb_unary(b, pn_zb_bn(b, y, pn_zb_name(b, q, "3")), "Relu", pn_zb_name(b, q, "4"));
  }
  snprintf(q, sizeof q, "%s.branch2", p);
  struct pn_zb_act y = pn_zb_conv(b, in2, pn_zb_name(b, q, "0"), bf, 1, 1, 0, 1, 0);
  y = pn_zb_unary(b, pn_zb_bn(b, y, pn_zb_name(b, q, "1")), "Relu", pn_zb_name(b, q, "2"));
  y = pn_zb_conv(b, y, pn_zb_name(b, q, "3"), bf, 3, stride, 1, bf, 0);
  y = pn_zb_bn(b, y, pn_zb_name(b, q, "4"));
  y = pn_zb_conv(b, y, pn_zb_name(b, q, "5"), bf, 1, 1, 0, 1, 0);
  br[1] = pn_zb_unary(b, pn_zb_bn(b, y, pn_zb_name(b, q, "6")), "Relu", pn_zb_name(b, q, "7"));
  return shuffle(b, pn_zb_concat(b, br, 2, pn_zb_name(b, p, "concat")), p);
}

int pn_zoo_shufflenetv2(struct pn_zb *b, const struct pn_zoo_opts *o, int unused) {
  (void)unused;
  static const int repeats[3] = {4, 8, 4}, outs[3] = {116, 232, 464};
  struct pn_zb_act x = pn_zb_input(b, o);
  x = pn_zb_conv(b, x, "conv1.0", 24, 3, 2, 1, 1, 0);
  x = pn_zb_unary(b, pn_zb_bn(b, x, "conv1.1"), "Relu", "conv1.2");
  x = pn_zb_maxpool(b, x, "maxpool", 3, 2, 1);
  for (int s = 0; s < 3; s++)
    for (int i = 0; i < repeats[s]; i++) {
      char p[32];
      snprintf(p, sizeof p, "stage%d.%d", s + 2, i);
      x = unit(b, x, p, outs[s], i == 0 ? 2 : 1);
    }
  x = pn_zb_conv(b, x, "conv5.0", 1024, 1, 1, 0, 1, 0);
  x = pn_zb_unary(b, pn_zb_bn(b, x, "conv5.1"), "Relu", "conv5.2");
  x = pn_zb_flatten(b, pn_zb_gap(b, x, "mean"), "flatten");
  return pn_zb_finish(b, pn_zb_linear(b, x, "fc", pn_zb_classes(o), "output"));
}
