/* passes.h - privnn's own graph optimizer passes (`privnn optimize`), all ONNX-standard rewrites.
**
** Every pass keeps the graph a valid standard ONNX model that privnn's executor and ONNX Runtime
** both run: fused operators are expressed with standard ops only (BatchNormalization folded into
** Conv weights, MatMul+Add into Gemm), never with vendor ops such as com.microsoft FusedConv.
** Conv+Relu therefore stays two nodes: ONNX has no standard fused form, and a private domain op
** would make the result unrunnable elsewhere. Each pass returns PN_OK and adds the number of
** rewrites it made to *count (count may be NULL). */
#ifndef PN_PASSES_H
#define PN_PASSES_H

#include "ir.h"
#include "../util/api.h"

struct pn_ctx;

/* Constant nodes (any of value, value_float(s), value_int(s)) become initializers of the same
** name. */
PN_API int pn_pass_constants_to_inits(struct pn_ctx *ctx, struct pn_graph *g, int *count);
/* Conv -> BatchNormalization (the Conv output read by the BN only, inference-mode BN, every
** parameter an initializer) becomes one Conv with W' = W*s, b' = (b-mean)*s + beta,
** s = scale/sqrt(var+eps). New initializers are named "<W>_bnfold" / "<conv output>_bnfold_b"
** (made unique), so the rewrite is deterministic. */
PN_API int pn_pass_fold_bn(struct pn_ctx *ctx, struct pn_graph *g, int *count);
/* Identity and inference Dropout (mask output unused) are removed, rewiring their consumers. */
PN_API int pn_pass_remove_identity(struct pn_ctx *ctx, struct pn_graph *g, int *count);
/* MatMul(A, B) -> Add(., C) with A of rank 2 (known from value info), B and C initializers, C of
** shape [N] or [1,N], and the MatMul output read only by the Add, becomes Gemm(A, B, C). */
PN_API int pn_pass_matmul_add_to_gemm(struct pn_ctx *ctx, struct pn_graph *g, int *count);
/* Nodes whose inputs are all initializers are evaluated with privnn's kernels and replaced by
** initializers (ops the registry lacks, and Dropout, which may draw a random mask, are left
** alone). */
PN_API int pn_pass_fold_constants(struct pn_ctx *ctx, struct pn_graph *g, int *count);
/* Initializers that no node reads and no graph output names are removed. */
PN_API int pn_pass_prune_inits(struct pn_ctx *ctx, struct pn_graph *g, int *count);

/* All of the above in a sensible order until nothing changes; per-pass counts go to counts[6]
** (same order as the declarations) when counts is not NULL. */
PN_API int pn_optimize_graph(struct pn_ctx *ctx, struct pn_graph *g, int counts[6]);

#endif
