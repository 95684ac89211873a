/* k_pool.c - STUB, to be replaced by the real kernels. */
#include "graph/kernels.h"
#include "util/status.h"

int pn_infer_average_pool(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_average_pool(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_global_average_pool(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_global_average_pool(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_global_max_pool(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_global_max_pool(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_max_pool(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_max_pool(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
