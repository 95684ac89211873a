/* zoo_cnn.c - the zoo's convolutional networks: ResNet-18/50, VGG-11 with BatchNorm, MobileNetV2.
**
** Structures follow torchvision (resnet18/resnet50 v1.5, vgg11_bn, mobilenet_v2) and so do the
** names: a module path names its node ("layer1.0.conv1") and its parameters ("layer1.0.conv1.weight",
** "layer1.0.bn1.running_var"). Activations are tracked with their NCHW shape so that the graph's
** output value info, VGG's classifier width and "input too small" errors come out of the builder
** itself. Conv weights are He-normal (std sqrt(2 / fan_in)), Gemm biases U(+-1/sqrt(fan_in)),
** BatchNorm gamma ~ 1 + 0.1 N, beta ~ 0.05 N, mean ~ 0.05 N, var ~ U[0.8, 1.2). */
#include <math.h>
#include <stdio.h>

#include "graph/zoo_build.h"
#include "util/status.h"

/* An activation: its value name and NCHW shape (h = w = 1 after flattening, c = features). */
struct act {
  const char *v;
  int64_t n, c, h, w;
};

static struct act fail_act(void) { return (struct act){0}; }

static struct act conv(struct pn_zb *b, struct act x, const char *name, int64_t cout, int64_t k,
                       int64_t s, int64_t p, int64_t groups, int bias) {
  if (b->status != PN_OK || !x.v) return fail_act();
  if (x.h + 2 * p < k || x.w + 2 * p < k) {
    pn_zb_fail(b, PN_ERR_INVALID,
               "input too small: feature map %lldx%lld reaches '%s' (kernel %lldx%lld, pad %lld)",
               (long long)x.h, (long long)x.w, name, (long long)k, (long long)k, (long long)p);
    return fail_act();
  }
  int64_t cin_g = x.c / groups, fan_in = cin_g * k * k;
  int64_t wd[4] = {cout, cin_g, k, k}, bd[1] = {cout};
  const char *in[3] = {x.v, pn_zb_normal(b, pn_zb_name(b, name, "weight"), 4, wd, 0.0,
                                         sqrt(2.0 / (double)fan_in)), NULL};
  if (bias) {
    double r = 1.0 / sqrt((double)fan_in);
    in[2] = pn_zb_uniform(b, pn_zb_name(b, name, "bias"), 1, bd, -r, r);
  }
  struct pn_node *n = pn_zb_op(b, "Conv", name, bias ? 3 : 2, in, NULL);
  int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p}, dil[2] = {1, 1};
  pn_zb_ints(b, n, "kernel_shape", 2, ks);
  pn_zb_ints(b, n, "strides", 2, st);
  pn_zb_ints(b, n, "pads", 4, pads);
  pn_zb_ints(b, n, "dilations", 2, dil);
  pn_zb_int(b, n, "group", groups);
  return (struct act){pn_zb_out(n), x.n, cout, (x.h + 2 * p - k) / s + 1, (x.w + 2 * p - k) / s + 1};
}

static struct act bn(struct pn_zb *b, struct act x, const char *name) {
  if (b->status != PN_OK || !x.v) return fail_act();
  int64_t d[1] = {x.c};
  const char *in[5] = {x.v, pn_zb_normal(b, pn_zb_name(b, name, "weight"), 1, d, 1.0, 0.1),
                       pn_zb_normal(b, pn_zb_name(b, name, "bias"), 1, d, 0.0, 0.05),
                       pn_zb_normal(b, pn_zb_name(b, name, "running_mean"), 1, d, 0.0, 0.05),
                       pn_zb_uniform(b, pn_zb_name(b, name, "running_var"), 1, d, 0.8, 1.2)};
  struct pn_node *n = pn_zb_op(b, "BatchNormalization", name, 5, in, NULL);
  pn_zb_float(b, n, "epsilon", 1e-5f);
  pn_zb_float(b, n, "momentum", 0.9f);
  x.v = pn_zb_out(n);
  return x;
}

static struct act unary(struct pn_zb *b, struct act x, const char *op, const char *name) {
  if (b->status != PN_OK || !x.v) return fail_act();
  x.v = pn_zb_out(pn_zb_op(b, op, name, 1, &x.v, NULL));
  return x;
}

/* ReLU6 as Clip(x, 0, 6) with min/max as (shared, scalar) inputs, as opset 11+ requires. */
static struct act relu6(struct pn_zb *b, struct act x, const char *name) {
  if (b->status != PN_OK || !x.v) return fail_act();
  if (!pn_graph_find_init(b->g, "relu6.min")) {
    float lo = 0.0f, hi = 6.0f;
    pn_zb_const(b, "relu6.min", 0, NULL, &lo);
    pn_zb_const(b, "relu6.max", 0, NULL, &hi);
  }
  const char *in[3] = {x.v, "relu6.min", "relu6.max"};
  x.v = pn_zb_out(pn_zb_op(b, "Clip", name, 3, in, NULL));
  return x;
}

static struct act maxpool(struct pn_zb *b, struct act x, const char *name, int64_t k, int64_t s,
                          int64_t p) {
  if (b->status != PN_OK || !x.v) return fail_act();
  if (x.h + 2 * p < k || x.w + 2 * p < k) {
    pn_zb_fail(b, PN_ERR_INVALID, "input too small: feature map %lldx%lld reaches '%s' (%lldx%lld pool)",
               (long long)x.h, (long long)x.w, name, (long long)k, (long long)k);
    return fail_act();
  }
  struct pn_node *n = pn_zb_op(b, "MaxPool", name, 1, &x.v, NULL);
  int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p};
  pn_zb_ints(b, n, "kernel_shape", 2, ks);
  pn_zb_ints(b, n, "strides", 2, st);
  pn_zb_ints(b, n, "pads", 4, pads);
  return (struct act){pn_zb_out(n), x.n, x.c, (x.h + 2 * p - k) / s + 1, (x.w + 2 * p - k) / s + 1};
}

static struct act add(struct pn_zb *b, struct act x, struct act y, const char *name) {
  if (b->status != PN_OK || !x.v || !y.v) return fail_act();
  const char *in[2] = {x.v, y.v};
  x.v = pn_zb_out(pn_zb_op(b, "Add", name, 2, in, NULL));
  return x;
}

static struct act flatten(struct pn_zb *b, struct act x, const char *name) {
  if (b->status != PN_OK || !x.v) return fail_act();
  struct pn_node *n = pn_zb_op(b, "Flatten", name, 1, &x.v, NULL);
  pn_zb_int(b, n, "axis", 1);
  return (struct act){pn_zb_out(n), x.n, x.c * x.h * x.w, 1, 1};
}

/* torchvision Linear as Gemm(x, W[out, in], b) with transB = 1. */
static struct act linear(struct pn_zb *b, struct act x, const char *name, int64_t nout,
                         const char *out) {
  if (b->status != PN_OK || !x.v) return fail_act();
  int64_t wd[2] = {nout, x.c}, bd[1] = {nout};
  double r = 1.0 / sqrt((double)x.c);
  const char *in[3] = {x.v, pn_zb_normal(b, pn_zb_name(b, name, "weight"), 2, wd, 0.0,
                                         sqrt(2.0 / (double)x.c)),
                       pn_zb_uniform(b, pn_zb_name(b, name, "bias"), 1, bd, -r, r)};
  struct pn_node *n = pn_zb_op(b, "Gemm", name, 3, in, out);
  pn_zb_float(b, n, "alpha", 1.0f);
  pn_zb_float(b, n, "beta", 1.0f);
  pn_zb_int(b, n, "transB", 1);
  return (struct act){pn_zb_out(n), x.n, nout, 1, 1};
}

static struct act global_avgpool(struct pn_zb *b, struct act x, const char *name) {
  x = unary(b, x, "GlobalAveragePool", name);
  x.h = x.w = 1;
  return x;
}

static struct act dropout(struct pn_zb *b, struct act x, const char *name) {
  return unary(b, x, "Dropout", name);
}

/* Graph input "input" [N, C, H, W] from the options (default 1x3x224x224). */
static struct act cnn_input(struct pn_zb *b, const struct pn_zoo_opts *o) {
  int64_t d[4] = {1, 3, 224, 224};
  if (o->ndim != 0 && o->ndim != 4) {
    pn_zb_fail(b, PN_ERR_INVALID, "input shape must be NxCxHxW (4 dims), got %d dims", o->ndim);
    return fail_act();
  }
  for (int i = 0; i < o->ndim; i++) d[i] = o->dims[i];
  if (!pn_graph_add_input(b->g, "input", PN_DT_FLOAT, 4, d)) {
    pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
    return fail_act();
  }
  return (struct act){"input", d[0], d[1], d[2], d[3]};
}

static int64_t num_classes(const struct pn_zoo_opts *o) {
  return o->num_classes > 0 ? o->num_classes : 1000;
}

static int finish(struct pn_zb *b, struct act y) {
  if (b->status != PN_OK) return b->status;
  int64_t d[2] = {y.n, y.c};
  if (!pn_graph_add_output(b->g, y.v, PN_DT_FLOAT, 2, d))
    return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  return PN_OK;
}

/* ---- ResNet ---- */

static struct act resnet_block(struct pn_zb *b, struct act x, const char *p, int64_t planes,
                               int64_t stride, int bottleneck) {
  int64_t expansion = bottleneck ? 4 : 1;
  struct act y;
  if (!bottleneck) {
    y = conv(b, x, pn_zb_name(b, p, "conv1"), planes, 3, stride, 1, 1, 0);
    y = unary(b, bn(b, y, pn_zb_name(b, p, "bn1")), "Relu", pn_zb_name(b, p, "relu"));
    y = bn(b, conv(b, y, pn_zb_name(b, p, "conv2"), planes, 3, 1, 1, 1, 0), pn_zb_name(b, p, "bn2"));
  } else {
    y = conv(b, x, pn_zb_name(b, p, "conv1"), planes, 1, 1, 0, 1, 0);
    y = unary(b, bn(b, y, pn_zb_name(b, p, "bn1")), "Relu", pn_zb_name(b, p, "relu"));
    y = conv(b, y, pn_zb_name(b, p, "conv2"), planes, 3, stride, 1, 1, 0);
    y = unary(b, bn(b, y, pn_zb_name(b, p, "bn2")), "Relu", pn_zb_name(b, p, "relu_1"));
    y = bn(b, conv(b, y, pn_zb_name(b, p, "conv3"), planes * 4, 1, 1, 0, 1, 0),
           pn_zb_name(b, p, "bn3"));
  }
  struct act id = x;
  if (stride != 1 || x.c != planes * expansion) {
    id = conv(b, x, pn_zb_name(b, p, "downsample.0"), planes * expansion, 1, stride, 0, 1, 0);
    id = bn(b, id, pn_zb_name(b, p, "downsample.1"));
  }
  y = add(b, y, id, pn_zb_name(b, p, "add"));
  return unary(b, y, "Relu", pn_zb_name(b, p, bottleneck ? "relu_2" : "relu_1"));
}

int pn_zoo_resnet(struct pn_zb *b, const struct pn_zoo_opts *o, int depth) {
  static const int blocks18[4] = {2, 2, 2, 2}, blocks50[4] = {3, 4, 6, 3};
  const int *blocks = depth == 50 ? blocks50 : blocks18;
  int bottleneck = depth == 50;
  struct act x = cnn_input(b, o);
  x = conv(b, x, "conv1", 64, 7, 2, 3, 1, 0);
  x = unary(b, bn(b, x, "bn1"), "Relu", "relu");
  x = maxpool(b, x, "maxpool", 3, 2, 1);
  for (int l = 0; l < 4; l++)
    for (int j = 0; j < blocks[l]; j++) {
      char p[32];
      snprintf(p, sizeof p, "layer%d.%d", l + 1, j);
      x = resnet_block(b, x, p, (int64_t)64 << l, (l > 0 && j == 0) ? 2 : 1, bottleneck);
    }
  x = flatten(b, global_avgpool(b, x, "avgpool"), "flatten");
  return finish(b, linear(b, x, "fc", num_classes(o), "output"));
}

/* ---- VGG-11 with BatchNorm ---- */

int pn_zoo_vgg11(struct pn_zb *b, const struct pn_zoo_opts *o) {
  static const int cfg[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0}; /* 0 = pool */
  struct act x = cnn_input(b, o);
  int idx = 0;
  for (size_t i = 0; i < sizeof cfg / sizeof *cfg; i++) {
    char nm[3][32];
    for (int k = 0; k < 3; k++) snprintf(nm[k], sizeof nm[k], "features.%d", idx + k);
    if (cfg[i] == 0) {
      x = maxpool(b, x, nm[0], 2, 2, 0);
      idx += 1;
    } else {
      x = conv(b, x, nm[0], cfg[i], 3, 1, 1, 1, 1);
      x = unary(b, bn(b, x, nm[1]), "Relu", nm[2]);
      idx += 3;
    }
  }
  /* torchvision's AdaptiveAvgPool2d(7) is the identity at 224x224; at other sizes the classifier
  ** takes the feature map as it is (512 * h * w features). */
  x = flatten(b, x, "flatten");
  x = dropout(b, unary(b, linear(b, x, "classifier.0", 4096, NULL), "Relu", "classifier.1"),
              "classifier.2");
  x = dropout(b, unary(b, linear(b, x, "classifier.3", 4096, NULL), "Relu", "classifier.4"),
              "classifier.5");
  return finish(b, linear(b, x, "classifier.6", num_classes(o), "output"));
}

/* ---- MobileNetV2 ---- */

/* Conv + BN + ReLU6 named p.0, p.1, p.2 (torchvision's Conv2dNormActivation). */
static struct act conv_bn_relu6(struct pn_zb *b, struct act x, const char *p, int64_t cout,
                                int64_t k, int64_t s, int64_t groups) {
  x = conv(b, x, pn_zb_name(b, p, "0"), cout, k, s, (k - 1) / 2, groups, 0);
  x = bn(b, x, pn_zb_name(b, p, "1"));
  return relu6(b, x, pn_zb_name(b, p, "2"));
}

int pn_zoo_mobilenetv2(struct pn_zb *b, const struct pn_zoo_opts *o) {
  static const int setting[7][4] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                    {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
  struct act x = cnn_input(b, o);
  x = conv_bn_relu6(b, x, "features.0", 32, 3, 2, 1);
  int idx = 1;
  for (int i = 0; i < 7; i++)
    for (int j = 0; j < setting[i][2]; j++, idx++) {
      int64_t t = setting[i][0], oup = setting[i][1], s = j == 0 ? setting[i][3] : 1;
      int64_t hidden = x.c * t;
      char p[32];
      snprintf(p, sizeof p, "features.%d.conv", idx);
      struct act y = x;
      int li = 0;
      char q[48];
      if (t != 1) {
        snprintf(q, sizeof q, "%s.%d", p, li++);
        y = conv_bn_relu6(b, y, q, hidden, 1, 1, 1);
      }
      snprintf(q, sizeof q, "%s.%d", p, li++);
      y = conv_bn_relu6(b, y, q, hidden, 3, s, hidden);
      snprintf(q, sizeof q, "%s.%d", p, li++);
      y = conv(b, y, q, oup, 1, 1, 0, 1, 0);
      snprintf(q, sizeof q, "%s.%d", p, li++);
      y = bn(b, y, q);
      if (s == 1 && x.c == oup) {
        snprintf(q, sizeof q, "features.%d.add", idx);
        y = add(b, y, x, q);
      }
      x = y;
    }
  x = conv_bn_relu6(b, x, "features.18", 1280, 1, 1, 1);
  x = flatten(b, global_avgpool(b, x, "avgpool"), "flatten");
  x = dropout(b, x, "classifier.0");
  return finish(b, linear(b, x, "classifier.1", num_classes(o), "output"));
}
