/* arch.h - the trainable reference architectures, for 28x28x1 inputs (Fashion-MNIST) or any image
** size, channel count and number of classes. */
#ifndef PN_NN_ARCH_H
#define PN_NN_ARCH_H

#include <stdint.h>
#include "../util/api.h"

struct pn_ctx;
struct pn_graph;

/* Names accepted by pn_arch_build, NULL-terminated: lenet5, cnn-s, resnet-s, vgg-s, fhe-s. */
PN_API extern const char *const pn_arch_names[];

/* Build arch as a graph with input "input" [N,1,28,28] and output "logits" [N,10], parameters
** initialised from seed (Kaiming normal weights, zero biases, BN scale 1 / bias 0 / mean 0 /
** var 1). Unknown arch: PN_ERR_INVALID listing the names. *out is freed with pn_graph_free. */
PN_API int pn_arch_build(struct pn_ctx *ctx, const char *arch, uint64_t seed,
                         struct pn_graph **out /* OUT */);
/* The same for input [N,channels,height,width] and output [N,classes]: the layers are the same, the
** first convolution takes the channels and the first fully connected layer the flattened size the
** images leave. Images smaller than the architecture can take (lenet5 12x12, cnn-s 4x4, resnet-s
** 2x2, vgg-s 8x8, fhe-s 3x3) are PN_ERR_INVALID naming the smallest size. */
PN_API int pn_arch_build_shape(struct pn_ctx *ctx, const char *arch, int channels, int height, int width,
                               int classes, uint64_t seed, struct pn_graph **out /* OUT */);

#endif
