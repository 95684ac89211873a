/* stats.h - model statistics: parameter count, MACs per node and in total, op histogram. */
#ifndef PN_STATS_H
#define PN_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "ir.h"
#include "../util/api.h"

struct pn_ctx;

struct pn_op_hist {
  const char *op_type;         /* points into the graph */
  int count;
};

struct pn_stats {
  int n_nodes;
  int64_t params;              /* sum of initializer elements (BatchNorm running stats included) */
  int64_t param_bytes;         /* their storage */
  int n_inits;
  /* MACs: Conv = N*Cout*prod(out spatial)*Cin/group*prod(kernel), Gemm/MatMul = batch*M*N*K. */
  int64_t macs;                /* sum over nodes whose MACs are known */
  int64_t *node_macs;          /* [n_nodes], in g->nodes order; 0 for other ops, -1 unknown */
  int64_t elementwise;         /* output elements of every other node (a rough cost of the rest) */
  bool shapes_known;           /* shape inference succeeded */
  bool macs_partial;           /* some Conv/Gemm/MatMul had unknown dims: macs is a lower bound */
  /* A model whose batch (dim 0 of a runtime input) is symbolic has its MACs counted again with
  ** batch 1: per image. per_image_partial when other unknown dims remain (a symbolic sequence
  ** length, say). */
  bool batch_symbolic;
  int64_t macs_per_image;
  bool per_image_partial;
  char shape_error[256];       /* why shape inference failed, when it did */
  int n_ops;
  struct pn_op_hist *ops;      /* [n_ops], most frequent first (ties by name) */
};

/* Compute statistics of g. Runs pn_graph_infer_shapes (which rewrites g->vinfo); when that fails,
** the counts that need no shapes are still filled in, shapes_known is false, shape_error says why
** and the call still returns PN_OK. Fails with PN_ERR_NOMEM only. Free with pn_stats_free. */
PN_API int pn_graph_stats(struct pn_ctx *ctx, struct pn_graph *g, struct pn_stats *out /* OUT */);
PN_API void pn_stats_free(struct pn_stats *s);

/* MACs of node n given the shapes of its first two inputs and first output (ndim -1 = unknown).
** Returns -1 when a needed dim is unknown, 0 for ops without MACs. */
PN_API int64_t pn_node_macs(const struct pn_node *n, int in_ndim0, const int64_t *in_dims0,
                            int in_ndim1,
                            const int64_t *in_dims1, int out_ndim, const int64_t *out_dims);

#endif
