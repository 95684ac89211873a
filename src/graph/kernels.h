/* kernels.h - infer/run entry points of every op in ops.h (one pair per op, defined in k_*.c). */
#ifndef PN_KERNELS_H
#define PN_KERNELS_H

#include "graph/ops.h"

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

#endif
