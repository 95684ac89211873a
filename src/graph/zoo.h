/* zoo.h - reference architectures built in code (src/graph/zoo/, one file per family): ResNet-18/50,
** ResNeXt-50, VGG-11 (BN), MobileNetV2/V3, ShuffleNetV2, DenseNet-121, GoogLeNet, Inception-v3,
** the BERT encoder, DistilBERT, RoBERTa, GPT-2 and XLM.
**
** Each model is built with torchvision-/Hugging Face-like node and initializer names
** ("layer1.0.conv1", "encoder.layer.0.attention.self.query.weight"), ONNX opset 17, and
** deterministic weights drawn from the AES-CTR PRG seeded by opts->seed (He-normal convolution and
** linear weights; BatchNorm/LayerNorm parameters near the identity with mild randomness). The
** input/output value infos carry full shapes. Every model passes pn_graph_validate. */
#ifndef PN_ZOO_H
#define PN_ZOO_H

#include <stdbool.h>
#include <stdint.h>

#include "ir.h"
#include "../util/api.h"

struct pn_ctx;

struct pn_zoo_opts {
  /* Input shape; ndim 0 = the model's default (1x3x224x224 for the CNNs). CNNs take NxCxHxW;
  ** bert takes [batch, seq] or [batch, seq, hidden] here as an alternative to the fields below. */
  int ndim;
  int64_t dims[PN_MAX_DIMS];
  uint64_t seed;               /* weights are a deterministic function of the seed */
  int64_t num_classes;         /* CNN classifier width; 0 = 1000 */
  /* Transformers only (pn_zoo_is_transformer); 0 = the model's default (bert: 12 layers, hidden
  ** 768, 12 heads, seq 128, intermediate 4*hidden, batch 1; xlm: hidden 2048, 16 heads). */
  int64_t layers, hidden, heads, seq, intermediate, batch;
};

/* Build model `name` (one of pn_zoo_names()). opts may be NULL (all defaults). On success *out is a
** new graph (free with pn_graph_free). Unknown names, shapes too small for the architecture, or
** inconsistent sizes (hidden not divisible by heads) are PN_ERR_INVALID with a message naming
** the option; on failure *out is NULL. */
PN_API int pn_zoo_build(struct pn_ctx *ctx, const char *name, const struct pn_zoo_opts *opts,
                        struct pn_graph **out /* OUT */);

/* NULL-terminated list of the model names pn_zoo_build accepts. */
PN_API const char *const *pn_zoo_names(void);
/* The family of a zoo model ("resnet" for resnet18/50 and resnext50, "mobilenet", "inception" for
** googlenet, "bert", ...); name itself when it is not a zoo model. */
PN_API const char *pn_zoo_family(const char *name);
/* Whether zoo model `name` is a Transformer (bert, distilbert, roberta, gpt2, xlm): built from the
** sequence options (layers, hidden, heads, seq, intermediate, batch) rather than an image shape. */
PN_API bool pn_zoo_is_transformer(const char *name);

#endif
