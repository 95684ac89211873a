/* op_def.h - the operator registry: per op, shape inference and a float kernel, in one table.
**
** Internal to libprivnn (not installed). Every supported op has one entry in pn_op_defs
** (ops_table.c), indexed by enum pn_op (ops.h). The same infer function serves static shape
** inference (dims may be -1, input values may be unknown) and the executor (all dims known, every
** input's value known), so shapes are computed in one place. */
#ifndef PN_OP_DEF_H
#define PN_OP_DEF_H

#include "graph/ops.h"

/* What shape inference knows of one value. value, when set, holds the value's contents (an
** initializer, a Constant, or in the executor every input) for ops whose output shape depends on
** an input's data (Reshape, Slice, Expand, Split, Squeeze/Unsqueeze axes, ...). */
struct pn_shape {
  enum pn_dtype dtype;         /* PN_DT_UNDEFINED = unknown */
  int ndim;                    /* -1 = rank unknown */
  int64_t dims[PN_MAX_DIMS];   /* -1 = unknown */
  const struct pn_tensor *value;
};

/* Arguments common to infer and run. in[i] / out[i] follow node->in / node->out; an omitted
** optional input has dtype PN_DT_UNDEFINED and ndim -1 (infer) or a NULL tensor (run).
** Omitted optional outputs get NULL tensors in run. */
struct pn_op_args {
  struct pn_ctx *ctx;
  const struct pn_node *node;
  int64_t opset;               /* version of the node's domain imported by the graph */
};

struct pn_op_def {
  const char *op_type;
  int min_in, max_in, min_out, max_out;
  /* Fill out[0..n_out) from in[0..n_in). Errors name the node and field. */
  int (*infer)(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
               struct pn_shape *out, int n_out);
  /* Compute outputs; out tensors arrive allocated with the shapes infer gave (omitted optional
  ** outputs are NULL). Kernels may use OpenMP and BLAS. */
  int (*run)(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
             struct pn_tensor *const *out, int n_out);
};

extern const struct pn_op_def pn_op_defs[PN_OP_COUNT];

/* Call op's infer / run, computing float16 and bfloat16 by converting: half inputs are shown to the
** op as float32 and its float32 outputs become the (first) half input's type. Cast converts by
** itself. Every caller of pn_op_defs[].infer / run outside the kernels goes through these.
** (An output ONNX types as float32 whatever the input, such as LayerNormalization's Mean, then
** comes out as the half type too.) */
int pn_op_infer(enum pn_op op, const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                struct pn_shape *out, int n_out);
int pn_op_run(enum pn_op op, const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
              struct pn_tensor *const *out, int n_out);

/* Helpers for kernels and infer functions (ops.c). */
/* Error with the standard prefix "node 'NAME' (OP): ...". */
int pn_op_err(const struct pn_op_args *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Numpy-style broadcast of two shapes into out (unknown dims propagate). */
int pn_broadcast_shape(const struct pn_op_args *a, int nd_a, const int64_t *da, int nd_b,
                       const int64_t *db, int *nd_out, int64_t *d_out);
/* Normalise an axis in [-rank, rank) to [0, rank); PN_ERR_INVALID naming the attribute otherwise. */
int pn_op_axis(const struct pn_op_args *a, const char *what, int64_t axis, int rank, int *out);
/* Copy a shape/dtype into an infer output. */
void pn_shape_set(struct pn_shape *s, enum pn_dtype dt, int ndim, const int64_t *dims);

#endif
