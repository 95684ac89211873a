/* exec.h - the plaintext executor: runs a validated graph with the kernels of ops.h. */
#ifndef PN_EXEC_H
#define PN_EXEC_H

#include "graph/ir.h"
#include "graph/ops.h"

struct pn_ctx;
struct pn_exec;

/* Called after each node runs (profiling, MPC range profiling, debugging). */
typedef void (*pn_exec_observer)(void *user, const struct pn_node *node,
                                 const struct pn_tensor *const *in, int n_in,
                                 const struct pn_tensor *const *out, int n_out);

struct pn_exec_opts {
  int threads;                 /* 0 = leave OpenMP/OpenBLAS defaults */
  pn_exec_observer observer;   /* may be NULL */
  void *observer_user;
  bool no_fuse;                /* run every node as written: no BatchNormalization folding into
                               ** Conv, no fused activations (implied when observer is set, so
                               ** the observer sees every node with its own inputs/outputs) */
};

/* Prepare g for execution: validate, topologically sort, resolve ops and value slots, plan when
** each intermediate can be freed. g must outlive the executor and not change meanwhile.
** On failure *out is NULL and pn_errmsg(ctx) names the node or field. */
int pn_exec_new(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_exec_opts *opts,
                struct pn_exec **out /* OUT */);
void pn_exec_free(struct pn_exec *ex);

/* Inputs the caller must supply (graph inputs that are not initializers), in graph order. */
int pn_exec_n_inputs(const struct pn_exec *ex);
const struct pn_value *pn_exec_input(const struct pn_exec *ex, int i);
int pn_exec_n_outputs(const struct pn_exec *ex);
const struct pn_value *pn_exec_output(const struct pn_exec *ex, int i);

/* Does t fit runtime input i (dtype and fixed dims)? PN_ERR_INVALID naming the input otherwise.
** pn_exec_run checks every input this way; callers use it to name the file a tensor came from. */
int pn_exec_check_input(struct pn_ctx *ctx, const struct pn_exec *ex, int i,
                        const struct pn_tensor *t);

/* Run once. in[0..pn_exec_n_inputs) must match the inputs' dtype and any fixed dims (a mismatch is
** PN_ERR_INVALID naming the input). On success out[0..pn_exec_n_outputs) are new heap tensors the
** caller frees with pn_tensor_free. */
int pn_exec_run(struct pn_ctx *ctx, struct pn_exec *ex, const struct pn_tensor *const *in,
                struct pn_tensor **out /* OUT */);

/* Per-op wall time in seconds, summed over every run since pn_exec_new, indexed by enum pn_op
** (for `privnn run --profile`, which divides by the number of runs). A fused node's time is
** counted under the node it was fused into (Conv for a folded BatchNormalization and its Relu). */
const double *pn_exec_op_seconds(const struct pn_exec *ex);

#endif
