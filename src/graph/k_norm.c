/* k_norm.c - STUB, to be replaced by the real kernels. */
#include "graph/kernels.h"
#include "util/status.h"

int pn_infer_batch_norm(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_batch_norm(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_layer_norm(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_layer_norm(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_softmax(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_softmax(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
