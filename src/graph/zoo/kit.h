/* kit.h - the graph-building kit: what the zoo's model files (src/graph/zoo/) are written with, and
** what other code inside privnn that builds graphs (SmartPAF's rewriting, Proteus' sentinels, tests)
** can use. Internal to the library: not installed and not exported (no PN_API), like the op tables;
** the public zoo API is graph/zoo.h.
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

#include <stdbool.h>
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

/* ---- sequence layers (kit.c): values named by string, shapes left to the graph ---- */

/* A two-input node op(x, y) named name; returns its output. */
const char *pn_zb_op2(struct pn_zb *b, const char *op, const char *name, const char *x, const char *y);
/* Transpose x with perm[0..ndim). */
const char *pn_zb_transpose(struct pn_zb *b, const char *name, const char *x, int ndim,
                            const int64_t *perm);
/* x [.., in] @ W[in, out] + b (Hugging Face's Linear/Conv1D as MatMul + Add): nodes p (MatMul) and
** p.add, parameters p.weight (He-normal) and p.bias (0.02 N); out_name names the result (NULL:
** the Add node's name). */
const char *pn_zb_dense(struct pn_zb *b, const char *x, const char *p, int64_t in, int64_t out,
                        const char *out_name);
/* LayerNormalization over the last axis with p.weight ~ 1 + 0.1 N, p.bias ~ 0.05 N. */
const char *pn_zb_layer_norm(struct pn_zb *b, const char *x, const char *p, int64_t hidden, float eps,
                             const char *out_name);
/* Token plus position embeddings of the graph input "input_ids" [batch, seq] (int64, added here):
** Gather(word, input_ids) + Gather(pos, pos0 .. pos0 + seq - 1), nodes and parameters named
** word/pos (".weight" appended, both 0.02 N). Returns
** [batch, seq, hidden]; "seq above the positions" when pos0 + seq > n_pos. */
const char *pn_zb_token_embeddings(struct pn_zb *b, const char *word, const char *pos, int64_t batch,
                                   int64_t seq, int64_t hidden, int64_t vocab, int64_t n_pos,
                                   int64_t pos0);

/* A scalar float constant `name` (made on first use, shared after). */
const char *pn_zb_scalar(struct pn_zb *b, const char *name, float v);

/* ---- Transformer pieces (kit.c) ---- */

/* The sizes of a Transformer. */
struct pn_zb_seq {
  int64_t layers, hidden, heads, seq, inter, batch;
};
/* Sizes from the options over the model's defaults def (layers, hidden, heads; seq 128,
** intermediate 4 * hidden, batch 1 when def leaves them 0): input shape BATCHxSEQ, or also
** BATCHxSEQxHIDDEN when hidden_dim. Checks that heads divide hidden, layers <= 1000, and that
** `layers` standard layers (4H^2 + 2HI + 9H + I parameters each) plus embed_rows * hidden stay
** under PN_ZOO_MAX_PARAMS. Then makes the attention constants P.head_shape [0, 0, A, H/A],
** P.merge_shape [0, 0, H] and P.scale (sqrt(H/A)) for attn = "P". Returns the sticky status. */
int pn_zb_seq_dims(struct pn_zb *b, const struct pn_zoo_opts *o, const struct pn_zb_seq *def,
                   bool hidden_dim, int64_t embed_rows, const char *attn, struct pn_zb_seq *d);
/* x [B, S, H] to heads: Reshape by head_shape (p.reshape), Transpose (p.transpose) to [B, A, S, d],
** or to [B, A, d, S] for keys (ready for Q K^T). */
const char *pn_zb_heads(struct pn_zb *b, const char *x, const char *p, const char *head_shape, bool key);
/* Attention over heads q [B, A, S, d], k [B, A, d, S], v: scores = q k (p.scores), / scale (p.scale,
** when scale is not NULL), + mask (p.causal, when mask is not NULL), Softmax (p.softmax), context
** (p.context), back to [B, S, H] (p.context.transpose, p.context.reshape by merge_shape). */
const char *pn_zb_attention(struct pn_zb *b, const char *p, const char *q, const char *k, const char *v,
                            const char *scale, const char *mask, const char *merge_shape);
/* GELU in its erf form, x * (1 + erf(x / sqrt 2)) * 0.5 in standard ops: nodes p.gelu.div, .erf,
** .add, .mul, .mul_1 (BERT's export), scalars gelu.sqrt2, gelu.one, gelu.half. */
const char *pn_zb_gelu_erf(struct pn_zb *b, const char *x, const char *p);

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
int pn_zoo_gpt2(struct pn_zb *b, const struct pn_zoo_opts *o, int unused);
int pn_zoo_xlm(struct pn_zb *b, const struct pn_zoo_opts *o, int unused);

#endif
