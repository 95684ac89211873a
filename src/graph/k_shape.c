/* k_shape.c - STUB, to be replaced by the real kernels. */
#include "graph/kernels.h"
#include "util/status.h"

int pn_infer_concat(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_concat(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_constant(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_constant(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_dropout(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_dropout(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_expand(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_expand(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_flatten(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_flatten(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_gather(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_gather(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_identity(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_identity(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_reshape(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_reshape(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_shape(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_shape(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_slice(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_slice(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_split(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_split(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_squeeze(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_squeeze(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_transpose(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_transpose(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_unsqueeze(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_unsqueeze(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
