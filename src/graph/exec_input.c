/* exec_input.c - tensors shaped for an executor's runtime inputs (pn_exec_input_new). */
#include "graph/exec.h"

#include <string.h>

#include "util/status.h"

int pn_exec_input_new(struct pn_ctx *ctx, const struct pn_exec *ex, int i, int64_t batch,
                      struct pn_tensor **out) {
  *out = NULL;
  if (i < 0 || i >= pn_exec_n_inputs(ex))
    return pn_err(ctx, PN_ERR_INVALID, "no runtime input %d (the model has %d)", i, pn_exec_n_inputs(ex));
  const struct pn_value *v = pn_exec_input(ex, i);
  if (v->ndim < 0)
    return pn_err(ctx, PN_ERR_INVALID, "input '%s': rank unknown; make the tensor with pn_tensor_new",
                  v->name);
  int64_t dims[PN_MAX_DIMS];
  for (int d = 0; d < v->ndim; d++) {
    dims[d] = v->dims[d];
    if (dims[d] > 0) continue;
    if (d > 0)
      return pn_err(ctx, PN_ERR_INVALID, "input '%s': dim %d (%s) is unknown; only the first (batch) "
                    "dim can be chosen here", v->name, d, v->dim_param[d] ? v->dim_param[d] : "?");
    if (batch < 1)
      return pn_err(ctx, PN_ERR_INVALID, "input '%s': batch %lld for its dim 0 (%s); give >= 1",
                    v->name, (long long)batch, v->dim_param[0] ? v->dim_param[0] : "unknown");
    dims[d] = batch;
  }
  if (!(*out = pn_tensor_new(v->dtype, v->ndim, dims)))
    return pn_err(ctx, PN_ERR_NOMEM, "input '%s': out of memory", v->name);
  return PN_OK;
}
