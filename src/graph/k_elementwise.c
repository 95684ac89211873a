/* k_elementwise.c - STUB, to be replaced by the real kernels. */
#include "graph/kernels.h"
#include "util/status.h"

int pn_infer_abs(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_abs(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_add(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_add(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_cast(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_cast(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_clip(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_clip(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_div(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_div(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_erf(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_erf(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_exp(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_exp(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_leaky_relu(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_leaky_relu(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_log(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_log(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_mul(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_mul(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_neg(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_neg(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_pow(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_pow(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_reciprocal(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_reciprocal(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_relu(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_relu(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_sigmoid(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_sigmoid(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_sqrt(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_sqrt(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_sub(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_sub(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_infer_tanh(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
int pn_run_tanh(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *const *out, int n_out) { return pn_op_err(a, PN_ERR_UNSUPPORTED, "not implemented"); }
