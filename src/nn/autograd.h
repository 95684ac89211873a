/* autograd.h - training engine over the graph IR: forward with saved activations, backward, loss.
**
** pn_ag_new binds an engine to a graph with one float input [N, ...] and one float output. Every
** node must be a differentiable op of the table in autograd.c (ag_ops): adding an op there (its
** setup, shape, forward and backward) is all it takes to train through it. Float initializers are
** the parameters and are trained IN PLACE in the graph (so exporting the trained model is saving
** the graph); BatchNormalization's running mean/var are updated in place in training mode and are
** not trained by gradient. Non-float initializers (Reshape shapes) are constants. */
#ifndef PN_NN_AUTOGRAD_H
#define PN_NN_AUTOGRAD_H

#include <stdbool.h>
#include <stdint.h>

#include "../graph/ir.h"
#include "../graph/ops.h"
#include "../util/api.h"

struct pn_ctx;
struct pn_ag;

/* Does autograd differentiate op (has it a row in its op table)? */
PN_API bool pn_ag_supports(enum pn_op op);

/* A trainable parameter: a float initializer of the graph and its gradient. */
struct pn_ag_param {
  const char *name;
  struct pn_tensor *t;     /* the graph's initializer: data is updated in place by the optimiser */
  float *grad;             /* numel floats, written by pn_ag_backward */
  int64_t numel;
  bool decay;              /* weight decay applies (rank >= 2: conv/FC weights, not biases/BN) */
};

struct pn_ag_opts {
  int max_batch;           /* largest batch forward will be called with (> 0) */
  bool input_grad;         /* also compute d loss / d input (gradient checks) */
  uint64_t dropout_seed;   /* seed of Dropout masks */
};

/* Bind an engine to g (which must outlive it and keep its structure). Checks every node's op and
** attributes and the shapes for max_batch. Errors name the node: PN_ERR_UNSUPPORTED for an op or
** attribute value the engine cannot differentiate. */
PN_API int pn_ag_new(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_ag_opts *opts,
                     struct pn_ag **out /* OUT */);
PN_API void pn_ag_free(struct pn_ag *ag);

PN_API int pn_ag_n_params(const struct pn_ag *ag);
PN_API struct pn_ag_param *pn_ag_param(struct pn_ag *ag, int i);

/* Shape of one input sample (dims after the batch dim), from the graph input. */
PN_API int pn_ag_input_rank(const struct pn_ag *ag);
PN_API const int64_t *pn_ag_input_dims(const struct pn_ag *ag);
/* Number of floats per sample of the output (e.g. the number of classes). */
PN_API int64_t pn_ag_output_size(const struct pn_ag *ag);

/* Forward a batch x (n samples, row-major). train selects BatchNormalization batch statistics
** (and running-statistics updates) and active Dropout. *out points to the n x output_size output
** (valid until the next call). */
PN_API int pn_ag_forward(struct pn_ctx *ctx, struct pn_ag *ag, const float *x, int n, bool train,
                         const float **out /* OUT */);

/* Softmax cross-entropy of the last forward's output (logits) against labels y[0..n): returns the
** mean loss, counts correct top-1 predictions into *correct (may be NULL) and stores d loss/d logits
** for pn_ag_backward. */
PN_API double pn_ag_softmax_xent(struct pn_ag *ag, const int32_t *y, int *correct);
/* Use dout (n x output_size) as d loss / d output instead (gradient checks, custom losses). */
PN_API void pn_ag_set_output_grad(struct pn_ag *ag, const float *dout);

/* One node of a forward as a hook sees it: its first input and first output (shapes for the
** batch of this forward). */
struct pn_ag_step {
  const struct pn_node *node;
  int index;               /* the node's position in the engine's order: the same every forward */
  enum pn_op op;
  bool train;              /* the forward's mode */
  const float *in;
  int in_ndim;
  const int64_t *in_dims;
  float *out;              /* may be overwritten in place (same shape) */
  int out_ndim;
  const int64_t *out_dims;
};
/* A forward hook puts a simulated operator in the training loop (HummingBird's reduced-ring ReLU):
** called after each node's forward, it may overwrite the node's output in place; a non-zero return
** ends the forward with that status (the hook sets the message). The backward stays each node's
** own (straight-through), except that what ReLU and MaxPool select follows the replaced output:
** ReLU passes the gradient where its output is non-zero, MaxPool to the first window element
** equal to its output (an output equal to no element of its window is PN_ERR_INVALID). Without a
** hook these are the ordinary gradients. hook = NULL removes it. */
typedef int (*pn_ag_hook)(void *user, struct pn_ctx *ctx, const struct pn_ag_step *st);
PN_API void pn_ag_set_hook(struct pn_ag *ag, pn_ag_hook hook, void *user);
/* BatchNormalization in a training forward (train = true): */
enum pn_ag_bn {
  PN_AG_BN_BATCH,    /* batch statistics; running statistics updated with the node's momentum (ONNX) */
  PN_AG_BN_FROZEN,   /* running statistics, left unchanged (SmartPAF's alternate training) */
  PN_AG_BN_AVERAGE,  /* batch statistics; running statistics become the mean of the batch statistics
                     ** of every training forward since this call (an SWA model's BN update) */
};
/* Set the mode (default PN_AG_BN_BATCH); inference forwards always use running statistics. */
PN_API void pn_ag_set_bn(struct pn_ag *ag, enum pn_ag_bn mode);

/* Which parameters need a gradient: need[i] for parameter i (NULL: all). Backward then skips every
** node no needed gradient flows through and leaves the other parameters' grad untouched (frozen
** groups cost nothing). The input gradient (opts.input_grad) is always computed. */
PN_API int pn_ag_set_need_grad(struct pn_ctx *ctx, struct pn_ag *ag, const bool *need);

/* Backward through the last forward (same batch, same mode): fills every parameter's grad (and the
** input grad when opts.input_grad). */
PN_API int pn_ag_backward(struct pn_ctx *ctx, struct pn_ag *ag);
/* d loss / d input of the last backward (n x input size), or NULL without opts.input_grad. */
PN_API const float *pn_ag_input_grad(const struct pn_ag *ag);

/* Floating-point operations done by Conv's sgemm calls (forward and backward), and seconds spent
** in Conv forward+backward (im2col included) since the engine was made (throughput benchmark). */
PN_API double pn_ag_conv_flops(const struct pn_ag *ag);
PN_API double pn_ag_conv_seconds(const struct pn_ag *ag);
/* The same in process CPU seconds (all threads), which other processes on the machine do not inflate. */
PN_API double pn_ag_conv_cpu_seconds(const struct pn_ag *ag);

#endif
