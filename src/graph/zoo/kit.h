/* kit.h - the graph-building kit: what the zoo's model files (src/graph/zoo/) are written with, and
** what other code that builds graphs (SmartPAF's rewriting, Proteus' sentinels, tests) can use.
**
** A pn_zb carries the graph under construction, the weight PRG and a sticky status: after the
** first failure every helper returns NULL (or an empty pn_zb_act) and does nothing, so model code
** chains calls and checks once at the end. Layer helpers follow torchvision's modules and names
** (a module path names its node, "layer1.0.conv1", and its parameters, "layer1.0.conv1.weight") and
** track the NCHW shape of what they produce. Initial weights: Conv/Linear He-normal
** (std sqrt(2 / fan_in)), Linear biases U(+-1/sqrt(fan_in)), BatchNorm gamma ~ 1 + 0.1 N,
** beta ~ 0.05 N, mean ~ 0.05 N, var ~ U[0.8, 1.2). */
#ifndef PN_ZOO_KIT_H
#define PN_ZOO_KIT_H

#include <stdint.h>

#include "graph/ir.h"
#include "graph/zoo.h"
#include "util/prg.h"

struct pn_zb {
  struct pn_ctx *ctx;
  struct pn_graph *g;
  struct pn_prg prg;
  const char *model;           /* model name, prefixes messages */
  int status;                  /* PN_OK until the first failure */
  int64_t n_params;            /* initializer elements so far (bounded by PN_ZOO_MAX_PARAMS) */
};

/* The most initializer elements a zoo model may have (4 GiB of float32). */
#define PN_ZOO_MAX_PARAMS ((int64_t)1 << 30)

/* Record the first failure ("MODEL: message"); returns code. */
int pn_zb_fail(struct pn_zb *b, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Add node `name` of type op with inputs in[0..n_in) and one output, named out (NULL = the node's
** name). Returns the node, or NULL after a failure. */
struct pn_node *pn_zb_op(struct pn_zb *b, const char *op, const char *name, int n_in,
                         const char *const *in, const char *out);
/* The node's (first) output name, NULL for NULL. */
const char *pn_zb_out(const struct pn_node *n);
/* Attributes with the sticky status (n may be NULL). */
void pn_zb_int(struct pn_zb *b, struct pn_node *n, const char *name, int64_t v);
void pn_zb_float(struct pn_zb *b, struct pn_node *n, const char *name, float v);
void pn_zb_ints(struct pn_zb *b, struct pn_node *n, const char *name, int64_t count, const int64_t *v);

/* Initializers. _normal: mean + std * N(0,1); _uniform: U[lo, hi); _const: float values copied
** from v (NULL = zeros); _i64: int64 values copied from v. Return the name, NULL after failure. */
const char *pn_zb_normal(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                         double mean, double std);
const char *pn_zb_uniform(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                          double lo, double hi);
const char *pn_zb_const(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                        const float *v);
const char *pn_zb_i64(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                      const int64_t *v);
/* An arena string "prefix.suffix" (NULL after failure). */
const char *pn_zb_name(struct pn_zb *b, const char *prefix, const char *suffix);

/* ---- NCHW layers (kit.c) ---- */

/* An activation: its value name and NCHW shape (h = w = 1 after flattening, c = features). An
** empty one (v NULL) after a failure. */
struct pn_zb_act {
  const char *v;
  int64_t n, c, h, w;
};

/* Graph input "input" [N, C, H, W] from the options (default 1x3x224x224). */
struct pn_zb_act pn_zb_input(struct pn_zb *b, const struct pn_zoo_opts *o);
/* Classifier width from the options (default 1000). */
int64_t pn_zb_classes(const struct pn_zoo_opts *o);
/* Declare y [N, C] the graph output; returns the sticky status. */
int pn_zb_finish(struct pn_zb *b, struct pn_zb_act y);
/* Conv (He-normal weight, bias U(+-1/sqrt(fan_in)) if bias), "input too small" when the kernel
** does not fit. */
struct pn_zb_act pn_zb_conv(struct pn_zb *b, struct pn_zb_act x, const char *name, int64_t cout,
                            int64_t k, int64_t s, int64_t p, int64_t groups, int bias);
/* Conv with a kh x kw kernel and pads ph (top/bottom), pw (left/right). */
struct pn_zb_act pn_zb_conv_hw(struct pn_zb *b, struct pn_zb_act x, const char *name, int64_t cout,
                               int64_t kh, int64_t kw, int64_t s, int64_t ph, int64_t pw, int64_t groups,
                               int bias);
struct pn_zb_act pn_zb_bn(struct pn_zb *b, struct pn_zb_act x, const char *name);
/* A one-input op that keeps the shape (Relu, Sigmoid, Dropout, HardSigmoid, ...). */
struct pn_zb_act pn_zb_unary(struct pn_zb *b, struct pn_zb_act x, const char *op, const char *name);
/* ReLU6 as Clip(x, 0, 6) with min/max as (shared, scalar) inputs. */
struct pn_zb_act pn_zb_relu6(struct pn_zb *b, struct pn_zb_act x, const char *name);
/* MaxPool / AveragePool (count_include_pad 0) with square kernel k, stride s, pad p; ceil_mode
** as torchvision's (GoogLeNet and Inception pool with ceil_mode). */
struct pn_zb_act pn_zb_pool(struct pn_zb *b, struct pn_zb_act x, const char *op, const char *name,
                            int64_t k, int64_t s, int64_t p, int ceil_mode);
struct pn_zb_act pn_zb_maxpool(struct pn_zb *b, struct pn_zb_act x, const char *name, int64_t k,
                               int64_t s, int64_t p);
/* AveragePool counting the padding (torch's AvgPool2d default, count_include_pad = 1). */
struct pn_zb_act pn_zb_avgpool_pad(struct pn_zb *b, struct pn_zb_act x, const char *name, int64_t k,
                                  int64_t s, int64_t p);
/* Elementwise x op y (Add, Mul; y broadcast when it is [N, C, 1, 1]). */
struct pn_zb_act pn_zb_binary(struct pn_zb *b, const char *op, struct pn_zb_act x, struct pn_zb_act y,
                              const char *name);
struct pn_zb_act pn_zb_add(struct pn_zb *b, struct pn_zb_act x, struct pn_zb_act y, const char *name);
/* Concatenation along channels of x[0..n), n <= 64. */
struct pn_zb_act pn_zb_concat(struct pn_zb *b, const struct pn_zb_act *x, int n, const char *name);
struct pn_zb_act pn_zb_flatten(struct pn_zb *b, struct pn_zb_act x, const char *name);
/* torchvision Linear as Gemm(x, W[out, in], b) with transB = 1; out names the output (NULL: node). */
struct pn_zb_act pn_zb_linear(struct pn_zb *b, struct pn_zb_act x, const char *name, int64_t nout,
                              const char *out);
struct pn_zb_act pn_zb_gap(struct pn_zb *b, struct pn_zb_act x, const char *name);
struct pn_zb_act pn_zb_dropout(struct pn_zb *b, struct pn_zb_act x, const char *name);
/* Conv (no bias) + BatchNorm + activation (act NULL = none; "Relu6" = Clip(0, 6)) named p.0,
** p.1, p.2 (torchvision's Conv2dNormActivation); padding (k - 1) / 2. */
struct pn_zb_act pn_zb_conv_bn_act(struct pn_zb *b, struct pn_zb_act x, const char *p, int64_t cout,
                                   int64_t k, int64_t s, int64_t groups, const char *act);

/* ---- the families (one file each in src/graph/zoo/) ---- */
int pn_zoo_resnet(struct pn_zb *b, const struct pn_zoo_opts *o, int depth);
int pn_zoo_resnext50(struct pn_zb *b, const struct pn_zoo_opts *o, int unused);
int pn_zoo_vgg11(struct pn_zb *b, const struct pn_zoo_opts *o, int unused);
int pn_zoo_mobilenetv2(struct pn_zb *b, const struct pn_zoo_opts *o, int unused);
int pn_zoo_mobilenetv3(struct pn_zb *b, const struct pn_zoo_opts *o, int unused);
int pn_zoo_shufflenetv2(struct pn_zb *b, const struct pn_zoo_opts *o, int unused);
int pn_zoo_densenet121(struct pn_zb *b, const struct pn_zoo_opts *o, int unused);
int pn_zoo_googlenet(struct pn_zb *b, const struct pn_zoo_opts *o, int unused);
int pn_zoo_inception_v3(struct pn_zb *b, const struct pn_zoo_opts *o, int unused);
int pn_zoo_bert(struct pn_zb *b, const struct pn_zoo_opts *o, int variant);

#endif
