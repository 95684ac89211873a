/* randgraph.h - seeded random valid ONNX graphs for differential testing of the executor.
**
** rg_build draws, from one 64-bit seed, a graph of the patterns exporters produce and privnn's
** fusions and passes act on: Conv -> BatchNormalization -> activation (Relu, Clip, LeakyRelu,
** HardSigmoid, HardSwish, ...), Gemm / MatMul -> Add -> activation, squeeze-excite, residual Adds,
** Concat / Split, Reshape / Transpose / Flatten chains, pooling, attention-like MatMul -> Softmax
** -> MatMul, LayerNormalization, Shape-driven Reshapes. Every weight arrives one of the ways
** exporters use: an initializer, a Constant node (`value` or `value_floats`), a small constant
** subgraph (Transpose / Reshape / Cast of a constant), a runtime graph input, an initializer also
** listed as a graph input, a weight shared by two nodes; intermediate values are now and then also
** graph outputs or read by two nodes. The batch dim is 1..3, fixed or symbolic ("N" or unnamed);
** the opset is 11, 13 or 17 (with each opset's attribute or input form of Split, Squeeze, ...).
**
** Values are kept of order 1 (weights scaled by 1/sqrt(fan-in), BatchNormalization variances in
** [0.5, 1.5]) and only continuous, well-conditioned ops are drawn (no Floor, Sign, ArgMax, Div,
** Log, Sqrt), so two correct executions of a graph differ by float rounding only. */
#ifndef PN_TEST_RANDGRAPH_H
#define PN_TEST_RANDGRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/ir.h"

#define RG_MAX_INPUTS 16

struct rg_graph {
  struct pn_graph *g;
  int n_in;                       /* runtime inputs (graph inputs that are not initializers) */
  bool batched[RG_MAX_INPUTS];    /* runtime input i has the batch as dim 0 */
  float scale[RG_MAX_INPUTS];     /* its values are uniform in [-scale, scale] */
  int64_t batch;                  /* the batch the graph was drawn with */
  bool symbolic;                  /* the batch dim is declared unknown: any batch runs */
  char desc[512];                 /* the opset and patterns drawn, for messages */
};

/* Draw graph number `seed`. Returns 0, or -1 when out of memory (nothing to free then). */
int rg_build(uint64_t seed, struct rg_graph *out /* OUT */);
void rg_free(struct rg_graph *rg);

/* A runtime input for rg->g's i-th runtime input (pn_graph_is_runtime_input order) at the given
** batch, filled deterministically from seed. NULL when out of memory. */
struct pn_tensor *rg_input(const struct rg_graph *rg, int i, int64_t batch, uint64_t seed);

#endif
