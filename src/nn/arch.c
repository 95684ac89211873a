/* arch.c - builders of lenet5, cnn-s, resnet-s, vgg-s and fhe-s as graph IR with initialised weights.
**
** Layers are appended through a small builder that names values and initializers after the layer
** ("conv2.weight", "bn2.scale", ...), so trained models read well in any ONNX viewer. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "nn/arch.h"
#include "nn/dataset.h"
#include "util/util.h"

const char *const pn_arch_names[] = {"lenet5", "cnn-s", "resnet-s", "vgg-s", "fhe-s", NULL};

struct builder {
  struct pn_graph *g;
  struct pn_prg prg;
  int n_conv, n_bn, n_relu, n_pool, n_fc, n_add, n_misc;
  int fail;
  int64_t h, w;   /* spatial size of the last conv/pool output (of the input at first) */
  int small;      /* a window was larger than its input: min_side is wrong */
  int64_t classes;
};

static const char *vname(struct builder *b, const char *fmt, int i) {
  char *s = pn_arena_printf(b->g->arena, fmt, i);
  if (!s) b->fail = 1;
  return s ? s : "";
}

static struct pn_node *node(struct builder *b, const char *op, const char *name, int n_in,
                            const char *const *in, const char *out) {
  if (b->fail) return NULL;
  const char *outs[1] = {out};
  struct pn_node *n = pn_graph_add_node(b->g, op, name, n_in, in, 1, outs);
  if (!n) b->fail = 1;
  return n;
}

static void set_ints(struct builder *b, struct pn_node *n, const char *name, int64_t v0, int64_t v1,
                     int count, int64_t pad) {
  if (!n) return;
  int64_t v[4] = {v0, v1, pad, pad};
  if (count == 4) v[0] = v[1] = pad;
  if (pn_node_set_ints(b->g, n, name, count, v)) b->fail = 1;
}

static struct pn_tensor *param(struct builder *b, const char *name, int ndim, const int64_t *dims,
                               double std, float fill) {
  if (b->fail) return NULL;
  struct pn_tensor *t = pn_graph_new_init(b->g, name, PN_DT_FLOAT, ndim, dims);
  if (!t) {
    b->fail = 1;
    return NULL;
  }
  float *w = t->data;
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) w[i] = std > 0 ? (float)(std * pn_prg_normal(&b->prg)) : fill;
  return t;
}

static const char *conv(struct builder *b, const char *x, int64_t cin, int64_t cout, int64_t k,
                        int64_t stride, int64_t pad, int bias) {
  int i = ++b->n_conv;
  const char *wn = vname(b, "conv%d.weight", i), *bn = vname(b, "conv%d.bias", i);
  const char *y = vname(b, "conv%d", i);
  int64_t wd[4] = {cout, cin, k, k};
  param(b, wn, 4, wd, sqrt(2.0 / (double)(cin * k * k)), 0);
  if (bias) param(b, bn, 1, &cout, 0, 0.0f);
  const char *in[3] = {x, wn, bn};
  struct pn_node *n = node(b, "Conv", y, bias ? 3 : 2, in, y);
  set_ints(b, n, "kernel_shape", k, k, 2, 0);
  set_ints(b, n, "strides", stride, stride, 2, 0);
  set_ints(b, n, "pads", 0, 0, 4, pad);
  if (b->h + 2 * pad < k || b->w + 2 * pad < k) b->small = 1;
  b->h = (b->h + 2 * pad - k) / stride + 1;
  b->w = (b->w + 2 * pad - k) / stride + 1;
  return y;
}

static const char *bnorm(struct builder *b, const char *x, int64_t c) {
  int i = ++b->n_bn;
  const char *names[4] = {vname(b, "bn%d.scale", i), vname(b, "bn%d.bias", i),
                          vname(b, "bn%d.mean", i), vname(b, "bn%d.var", i)};
  const float fills[4] = {1, 0, 0, 1};
  for (int j = 0; j < 4; j++) param(b, names[j], 1, &c, 0, fills[j]);
  const char *y = vname(b, "bn%d", i);
  const char *in[5] = {x, names[0], names[1], names[2], names[3]};
  struct pn_node *n = node(b, "BatchNormalization", y, 5, in, y);
  if (n && (pn_node_set_float(b->g, n, "epsilon", 1e-5f) || pn_node_set_float(b->g, n, "momentum", 0.9f)))
    b->fail = 1;
  return y;
}

static const char *relu(struct builder *b, const char *x) {
  const char *y = vname(b, "relu%d", ++b->n_relu);
  node(b, "Relu", y, 1, &x, y);
  return y;
}

static const char *pool(struct builder *b, const char *op, const char *x, int64_t k, int64_t s) {
  const char *y = vname(b, "pool%d", ++b->n_pool);
  struct pn_node *n = node(b, op, y, 1, &x, y);
  set_ints(b, n, "kernel_shape", k, k, 2, 0);
  set_ints(b, n, "strides", s, s, 2, 0);
  if (b->h < k || b->w < k) b->small = 1;
  b->h = (b->h - k) / s + 1;
  b->w = (b->w - k) / s + 1;
  return y;
}

static const char *unary(struct builder *b, const char *op, const char *x) {
  const char *y = vname(b, "t%d", ++b->n_misc);
  node(b, op, y, 1, &x, y);
  return y;
}

static const char *gemm(struct builder *b, const char *x, int64_t in, int64_t out, const char *yname,
                        double gain) {
  int i = ++b->n_fc;
  const char *wn = vname(b, "fc%d.weight", i), *bn = vname(b, "fc%d.bias", i);
  int64_t wd[2] = {out, in};
  param(b, wn, 2, wd, sqrt(gain / (double)in), 0);
  param(b, bn, 1, &out, 0, 0.0f);
  const char *y = yname ? yname : vname(b, "fc%d", i);
  const char *ins[3] = {x, wn, bn};
  struct pn_node *n = node(b, "Gemm", vname(b, "fc%d", i), 3, ins, y);
  if (n && pn_node_set_int(b->g, n, "transB", 1)) b->fail = 1;
  return y;
}

static const char *add(struct builder *b, const char *x, const char *y) {
  const char *z = vname(b, "add%d", ++b->n_add);
  const char *in[2] = {x, y};
  node(b, "Add", z, 2, in, z);
  return z;
}

/* conv-BN-ReLU */
static const char *cbr(struct builder *b, const char *x, int64_t cin, int64_t cout, int64_t stride) {
  return relu(b, bnorm(b, conv(b, x, cin, cout, 3, stride, 1, 0), cout));
}

/* A ResNet basic block: conv-BN-ReLU-conv-BN + shortcut (1x1 conv-BN when the shape changes), ReLU. */
static const char *block(struct builder *b, const char *x, int64_t cin, int64_t cout, int64_t stride) {
  int64_t h0 = b->h, w0 = b->w;
  const char *h = cbr(b, x, cin, cout, stride);
  h = bnorm(b, conv(b, h, cout, cout, 3, 1, 1, 0), cout);
  const char *sc = x;
  int64_t h1 = b->h, w1 = b->w;
  b->h = h0, b->w = w0;
  if (stride != 1 || cin != cout) sc = bnorm(b, conv(b, x, cin, cout, 1, stride, 0, 0), cout);
  b->h = h1, b->w = w1; /* the same size by construction (k 3 pad 1 and k 1 pad 0 at one stride) */
  return relu(b, add(b, h, sc));
}

/* The architectures in the order of pn_arch_names, with the smallest image side each can take
** (every conv/pool output at least 1 wide; test_train checks the table by building at the limit
** and one below it). */
static const int min_side[] = {12, 4, 2, 8, 3};
static_assert(sizeof min_side / sizeof *min_side == sizeof pn_arch_names / sizeof *pn_arch_names - 1,
              "min_side out of date");

/* Spatial sizes follow b->h, b->w, so the flattened widths fit any input at least min_side wide. */
static void build(struct builder *b, const char *arch, int64_t cin) {
  const char *x = "input", *h;
  const int64_t K = b->classes;
  if (!strcmp(arch, "lenet5")) {
    h = pool(b, "MaxPool", relu(b, conv(b, x, cin, 6, 5, 1, 2, 1)), 2, 2);   /* 6x14x14 at 28x28 */
    h = pool(b, "MaxPool", relu(b, conv(b, h, 6, 16, 5, 1, 0, 1)), 2, 2);    /* 16x5x5 */
    h = unary(b, "Flatten", h);
    h = relu(b, gemm(b, h, 16 * b->h * b->w, 120, NULL, 2.0));
    h = relu(b, gemm(b, h, 120, 84, NULL, 2.0));
    gemm(b, h, 84, K, "logits", 1.0);
  } else if (!strcmp(arch, "cnn-s")) {
    h = pool(b, "MaxPool", cbr(b, x, cin, 32, 1), 2, 2);   /* 32x14x14 */
    h = pool(b, "MaxPool", cbr(b, h, 32, 64, 1), 2, 2);    /* 64x7x7 */
    h = unary(b, "Flatten", h);
    h = relu(b, gemm(b, h, 64 * b->h * b->w, 128, NULL, 2.0));
    gemm(b, h, 128, K, "logits", 1.0);
  } else if (!strcmp(arch, "resnet-s")) {
    h = cbr(b, x, cin, 32, 1);                             /* 32x28x28 */
    h = pool(b, "AveragePool", h, 2, 2);                   /* 32x14x14 */
    h = block(b, h, 32, 32, 1);
    h = block(b, h, 32, 64, 2);                            /* 64x7x7 */
    h = unary(b, "GlobalAveragePool", h);
    h = unary(b, "Flatten", h);
    gemm(b, h, 64, K, "logits", 1.0);
  } else if (!strcmp(arch, "fhe-s")) {
    /* one ReLU, few maps: as a SmartPAF model it fits a 128-bit CKKS ring without bootstrapping */
    h = pool(b, "AveragePool", relu(b, bnorm(b, conv(b, x, cin, 8, 5, 2, 2, 0), 8)), 2, 2);  /* 8x7x7 */
    h = unary(b, "Flatten", h);
    gemm(b, h, 8 * b->h * b->w, K, "logits", 1.0);
  } else { /* vgg-s: three stages of two 3x3 conv-BN-ReLU and a MaxPool (16, 32, 64 ch) */
    h = cbr(b, x, cin, 16, 1);
    h = pool(b, "MaxPool", cbr(b, h, 16, 16, 1), 2, 2);   /* 16x14x14 */
    h = cbr(b, h, 16, 32, 1);
    h = pool(b, "MaxPool", cbr(b, h, 32, 32, 1), 2, 2);   /* 32x7x7 */
    h = cbr(b, h, 32, 64, 1);
    h = pool(b, "MaxPool", cbr(b, h, 64, 64, 1), 2, 2);   /* 64x3x3 */
    h = unary(b, "Flatten", h);
    h = relu(b, gemm(b, h, 64 * b->h * b->w, 128, NULL, 2.0));
    gemm(b, h, 128, K, "logits", 1.0);
  }
}

int pn_arch_build_shape(struct pn_ctx *ctx, const char *arch, int channels, int height, int width,
                        int classes, uint64_t seed, struct pn_graph **out) {
  *out = NULL;
  int known = -1;
  for (int i = 0; pn_arch_names[i]; i++)
    if (arch && !strcmp(arch, pn_arch_names[i])) known = i;
  if (known < 0)
    return pn_err(ctx, PN_ERR_INVALID, "unknown architecture '%s' (lenet5, cnn-s, resnet-s, vgg-s, fhe-s)",
                  arch ? arch : "");
  if (channels < 1 || channels > 65535 || classes < 1 || classes > 65535)
    return pn_err(ctx, PN_ERR_INVALID, "arch %s: %d channels, %d classes (each 1..65535)", arch, channels,
                  classes);
  if (height < min_side[known] || width < min_side[known] || height > 65535 || width > 65535)
    return pn_err(ctx, PN_ERR_INVALID, "%s needs images of at least %dx%d (at most 65535 a side), not %dx%d",
                  arch, min_side[known], min_side[known], height, width);
  struct builder b;
  memset(&b, 0, sizeof b);
  b.h = height;
  b.w = width;
  b.classes = classes;
  b.g = pn_graph_new();
  if (!b.g) return pn_err(ctx, PN_ERR_NOMEM, "arch: out of memory");
  int rc = pn_prg_init_u64(ctx, &b.prg, seed);
  if (rc) {
    pn_graph_free(b.g);
    return rc;
  }
  b.g->name = pn_arena_strdup(b.g->arena, arch);
  int64_t in_dims[4] = {-1, channels, height, width}, out_dims[2] = {-1, classes};
  struct pn_value *vi = pn_graph_add_input(b.g, "input", PN_DT_FLOAT, 4, in_dims);
  struct pn_value *vo = pn_graph_add_output(b.g, "logits", PN_DT_FLOAT, 2, out_dims);
  if (!vi || !vo) b.fail = 1;
  else vi->dim_param[0] = vo->dim_param[0] = "N";
  build(&b, arch, channels);
  if (!b.fail && pn_graph_set_meta(b.g, "privnn.arch", arch)) b.fail = 1;
  pn_prg_free(&b.prg);
  if (!b.fail && b.small) {
    pn_graph_free(b.g);
    return pn_err(ctx, PN_ERR_INVALID, "arch %s: a window is larger than its input at %dx%d", arch,
                  height, width);
  }
  if (b.fail) {
    pn_graph_free(b.g);
    return pn_err(ctx, PN_ERR_NOMEM, "arch %s: out of memory", arch);
  }
  *out = b.g;
  return PN_OK;
}

int pn_arch_build(struct pn_ctx *ctx, const char *arch, uint64_t seed, struct pn_graph **out) {
  return pn_arch_build_shape(ctx, arch, 1, PN_FMNIST_SIDE, PN_FMNIST_SIDE, PN_FMNIST_CLASSES, seed, out);
}
