/* exec.h - the plaintext executor: runs a validated graph with the kernels of ops.h. */
#ifndef PN_EXEC_H
#define PN_EXEC_H

#include "ir.h"
#include "ops.h"
#include "../util/api.h"

struct pn_ctx;
struct pn_exec;

/* Called after each node runs, read-only (timing, debugging). */
typedef void (*pn_exec_observer)(void *user, const struct pn_node *node,
                                 const struct pn_tensor *const *in, int n_in,
                                 const struct pn_tensor *const *out, int n_out);

/* One node of a run, as a hook sees it. New fields may be added at the end; hooks read the ones
** they need by name. */
struct pn_exec_step {
  const struct pn_node *node;
  int index;                           /* the node's index in g->nodes (pn_exec_new sorts them
                                       ** topologically); the same node has the same index in
                                       ** every run of one executor */
  enum pn_op op;
  const struct pn_tensor *const *in;   /* [n_in]; NULL for an omitted optional input */
  int n_in;
  struct pn_tensor **out;              /* [n_out]; NULL for an omitted optional output */
  int n_out;
};

/* The executor hook: called after each node's kernel, before any later node reads its outputs,
** with the right to change them (activation capture, HummingBird range profiling, simulated
** reduced-ring ReLU, PAF experiments). What a hook may rely on:
**   - it sees every node of the graph once per run, in execution order, with the node's own
**     inputs and outputs: setting a hook turns fusion off (as no_fuse does);
**   - it may overwrite out[j]->data in place, or store in out[j] a tensor it made (any dtype and
**     shape; later nodes see it, shape inference runs again per node); the executor then frees the
**     tensor it replaced and owns the new one. An omitted output (NULL) stays NULL;
**   - in[] and the node are read-only; a tensor in[] may be freed once the hook returns;
**   - a non-zero return ends the run with that status; the hook sets the message (pn_err on ctx),
**     naming the node.
** The hook runs before the observer, which then sees the replaced outputs. Per-op seconds
** (pn_exec_op_seconds) do not include the hook's time. */
typedef int (*pn_exec_hook)(void *user, struct pn_ctx *ctx, struct pn_exec_step *step);

struct pn_exec_opts {
  int threads;                 /* 0 = leave OpenMP/OpenBLAS defaults */
  pn_exec_observer observer;   /* may be NULL */
  void *observer_user;
  pn_exec_hook hook;           /* may be NULL; see pn_exec_hook */
  void *hook_user;
  bool no_fuse;                /* run every node as written: no BatchNormalization folding into
                               ** Conv, no fused activations (implied when an observer or a hook
                               ** is set, so they see every node with its own inputs/outputs) */
};

/* Does the executor run op (has it a kernel in pn_op_defs)? Every op of enum pn_op today; the
** op x backend matrix test (tests/lib/test_op_matrix.c) prints what each backend lacks. */
PN_API bool pn_exec_supports(enum pn_op op);

/* Prepare g for execution: validate, topologically sort, resolve ops and value slots, plan when
** each intermediate can be freed. g must outlive the executor and not change meanwhile.
** On failure *out is NULL and pn_errmsg(ctx) names the node or field. */
PN_API int pn_exec_new(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_exec_opts *opts,
                       struct pn_exec **out /* OUT */);
PN_API void pn_exec_free(struct pn_exec *ex);

/* Inputs the caller must supply (graph inputs that are not initializers), in graph order. */
PN_API int pn_exec_n_inputs(const struct pn_exec *ex);
PN_API const struct pn_value *pn_exec_input(const struct pn_exec *ex, int i);
PN_API int pn_exec_n_outputs(const struct pn_exec *ex);
PN_API const struct pn_value *pn_exec_output(const struct pn_exec *ex, int i);

/* A new zeroed tensor that fits runtime input i, for the caller to fill and pass to pn_exec_run:
** its dtype and fixed dims, with an unknown or symbolic first dim (a batch dim such as "N") set to
** `batch`. PN_ERR_INVALID naming the input when batch < 1 or another dim (or the rank) is unknown;
** PN_ERR_NOMEM. On failure *out is NULL. Free it with pn_tensor_free. */
PN_API int pn_exec_input_new(struct pn_ctx *ctx, const struct pn_exec *ex, int i, int64_t batch,
                             struct pn_tensor **out /* OUT */);

/* Does t fit runtime input i (dtype and fixed dims)? PN_ERR_INVALID naming the input otherwise.
** pn_exec_run checks every input this way; callers use it to name the file a tensor came from. */
PN_API int pn_exec_check_input(struct pn_ctx *ctx, const struct pn_exec *ex, int i,
                               const struct pn_tensor *t);

/* Run once. in[0..pn_exec_n_inputs) must match the inputs' dtype and any fixed dims (a mismatch is
** PN_ERR_INVALID naming the input). On success out[0..pn_exec_n_outputs) are new heap tensors the
** caller frees with pn_tensor_free. */
PN_API int pn_exec_run(struct pn_ctx *ctx, struct pn_exec *ex, const struct pn_tensor *const *in,
                       struct pn_tensor **out /* OUT */);

/* Per-op wall time in seconds, summed over every run since pn_exec_new, indexed by enum pn_op
** (for `privnn run --profile`, which divides by the number of runs). A fused node's time is
** counted under the node it was fused into (Conv for a folded BatchNormalization, a residual Add
** and its Relu). */
PN_API const double *pn_exec_op_seconds(const struct pn_exec *ex);

/* The same per node: wall seconds of node i of the graph the executor was built on, summed over
** every run since pn_exec_new. A node fused into another (a folded BatchNormalization, a
** residual Add, an activation run in a Conv's epilogue) or evaluated once by pn_exec_new reads 0, its time counted
** in the node it was fused into; -1 when i is not a node index. */
PN_API double pn_exec_node_seconds(const struct pn_exec *ex, int i);

/* The buffers of a run's intermediates (node outputs that are not graph outputs). After a run, the
** executor keeps them in a plan sized from that run's shapes and reuses them in later runs; an
** intermediate that does not fit (the first run, a larger input) is allocated for that run only
** and the plan is rebuilt after it. With an observer or a hook there is no plan (every output is
** allocated). Counts since pn_exec_new. */
struct pn_exec_mem {
  long long hits;              /* intermediates given a planned buffer */
  long long misses;            /* intermediates allocated outside the plan */
  int plans;                   /* times the plan was built */
  int buffers;                 /* buffers of the current plan */
  size_t bytes;                /* and their bytes */
};
PN_API void pn_exec_mem_stats(const struct pn_exec *ex, struct pn_exec_mem *out /* OUT */);

#endif
