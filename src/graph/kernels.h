/* kernels.h - infer/run entry points of every op in ops.h (one pair per op, defined in k_*.c). */
#ifndef PN_KERNELS_H
#define PN_KERNELS_H

#include "graph/op_def.h"

#define PN_MAX_INPUTS 4096
#define PN_MAX_OUTPUTS 4096

#define PN_KERNEL_DECL(fn) \
  int pn_infer_##fn(const struct pn_op_args *a, const struct pn_shape *in, int n_in, \
                    struct pn_shape *out, int n_out); \
  int pn_run_##fn(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, \
                  struct pn_tensor *const *out, int n_out);

/* k_elementwise.c */
PN_KERNEL_DECL(abs)
PN_KERNEL_DECL(add)
PN_KERNEL_DECL(cast)
PN_KERNEL_DECL(cast_like)
PN_KERNEL_DECL(clip)
PN_KERNEL_DECL(div)
PN_KERNEL_DECL(erf)
PN_KERNEL_DECL(exp)
PN_KERNEL_DECL(leaky_relu)
PN_KERNEL_DECL(log)
PN_KERNEL_DECL(mul)
PN_KERNEL_DECL(neg)
PN_KERNEL_DECL(pow)
PN_KERNEL_DECL(reciprocal)
PN_KERNEL_DECL(relu)
PN_KERNEL_DECL(sigmoid)
PN_KERNEL_DECL(sqrt)
PN_KERNEL_DECL(sub)
PN_KERNEL_DECL(tanh)

/* k_paf.c (ai.privnn) */
PN_KERNEL_DECL(paf_max_pool)
PN_KERNEL_DECL(paf_relu)

/* k_pool.c */
PN_KERNEL_DECL(average_pool)
PN_KERNEL_DECL(global_average_pool)
PN_KERNEL_DECL(global_max_pool)
PN_KERNEL_DECL(max_pool)

/* k_norm.c */
PN_KERNEL_DECL(batch_norm)
PN_KERNEL_DECL(layer_norm)
PN_KERNEL_DECL(softmax)

/* k_shape.c */
PN_KERNEL_DECL(concat)
PN_KERNEL_DECL(constant)
PN_KERNEL_DECL(dropout)
PN_KERNEL_DECL(expand)
PN_KERNEL_DECL(flatten)
PN_KERNEL_DECL(gather)
PN_KERNEL_DECL(identity)
PN_KERNEL_DECL(reshape)
PN_KERNEL_DECL(shape)
PN_KERNEL_DECL(slice)
PN_KERNEL_DECL(split)
PN_KERNEL_DECL(squeeze)
PN_KERNEL_DECL(transpose)
PN_KERNEL_DECL(unsqueeze)

/* k_conv.c */
PN_KERNEL_DECL(conv)

/* k_matmul.c */
PN_KERNEL_DECL(gemm)
PN_KERNEL_DECL(matmul)

/* k_reduce.c */
PN_KERNEL_DECL(reduce_mean)
PN_KERNEL_DECL(reduce_sum)

/* k_unary.c */
PN_KERNEL_DECL(acos)
PN_KERNEL_DECL(acosh)
PN_KERNEL_DECL(asin)
PN_KERNEL_DECL(asinh)
PN_KERNEL_DECL(atan)
PN_KERNEL_DECL(atanh)
PN_KERNEL_DECL(ceil)
PN_KERNEL_DECL(celu)
PN_KERNEL_DECL(shrink)
PN_KERNEL_DECL(thresholded_relu)
PN_KERNEL_DECL(cos)
PN_KERNEL_DECL(cosh)
PN_KERNEL_DECL(elu)
PN_KERNEL_DECL(floor)
PN_KERNEL_DECL(hard_sigmoid)
PN_KERNEL_DECL(hard_swish)
PN_KERNEL_DECL(round)
PN_KERNEL_DECL(selu)
PN_KERNEL_DECL(sign)
PN_KERNEL_DECL(sin)
PN_KERNEL_DECL(sinh)
PN_KERNEL_DECL(softplus)
PN_KERNEL_DECL(softsign)
PN_KERNEL_DECL(tan)

/* k_logic.c */
PN_KERNEL_DECL(and)
PN_KERNEL_DECL(arg_max)
PN_KERNEL_DECL(arg_min)
PN_KERNEL_DECL(equal)
PN_KERNEL_DECL(greater)
PN_KERNEL_DECL(greater_or_equal)
PN_KERNEL_DECL(less)
PN_KERNEL_DECL(less_or_equal)
PN_KERNEL_DECL(not)
PN_KERNEL_DECL(or)
PN_KERNEL_DECL(where)
PN_KERNEL_DECL(xor)

/* k_misc.c */
PN_KERNEL_DECL(constant_of_shape)
PN_KERNEL_DECL(cumsum)
PN_KERNEL_DECL(gather_elements)
PN_KERNEL_DECL(hardmax)
PN_KERNEL_DECL(log_softmax)
PN_KERNEL_DECL(max)
PN_KERNEL_DECL(mean)
PN_KERNEL_DECL(min)
PN_KERNEL_DECL(mod)
PN_KERNEL_DECL(pad)
PN_KERNEL_DECL(prelu)
PN_KERNEL_DECL(range)
PN_KERNEL_DECL(size)
PN_KERNEL_DECL(sum)
PN_KERNEL_DECL(tile)
PN_KERNEL_DECL(trilu)

/* k_reduce2.c */
PN_KERNEL_DECL(reduce_l1)
PN_KERNEL_DECL(reduce_l2)
PN_KERNEL_DECL(reduce_log_sum)
PN_KERNEL_DECL(reduce_log_sum_exp)
PN_KERNEL_DECL(reduce_max)
PN_KERNEL_DECL(reduce_min)
PN_KERNEL_DECL(reduce_prod)
PN_KERNEL_DECL(reduce_sum_square)

/* k_resize.c (Resize and Upsample share it) */
PN_KERNEL_DECL(resize)

/* k_convt.c */
PN_KERNEL_DECL(conv_transpose)

/* k_norm2.c */
PN_KERNEL_DECL(instance_norm)
PN_KERNEL_DECL(mvn)
PN_KERNEL_DECL(lrn)

/* k_einsum.c; pn_einsum_generic is the general loop alone (tests check the sgemm path with it) */
PN_KERNEL_DECL(einsum)
int pn_einsum_generic(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                      struct pn_tensor *y);

/* k_sample.c */
PN_KERNEL_DECL(grid_sample)

/* k_detect.c */
PN_KERNEL_DECL(non_max_suppression)

/* k_index.c */
PN_KERNEL_DECL(depth_to_space)
PN_KERNEL_DECL(space_to_depth)
PN_KERNEL_DECL(is_inf)
PN_KERNEL_DECL(is_nan)
PN_KERNEL_DECL(gather_nd)
PN_KERNEL_DECL(scatter_nd)
PN_KERNEL_DECL(scatter_elements)
PN_KERNEL_DECL(one_hot)
PN_KERNEL_DECL(non_zero)
PN_KERNEL_DECL(top_k)
PN_KERNEL_DECL(compress)
PN_KERNEL_DECL(eye_like)

#endif
