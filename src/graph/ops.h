/* ops.h - the operators privnn knows: enum pn_op, their domains, lookup by (domain, op type).
**
** The registry itself (per op, shape inference and a float kernel: pn_op_defs, indexed by enum
** pn_op) is internal to the library, in graph/op_def.h.
**
** An op belongs to one domain: ai.onnx (written "" or "ai.onnx" in a model) or ai.privnn,
** privnn's own ops (SmartPAF's polynomial activations). enum pn_op numbers the ops of both, so
** every backend (executor, autograd, MPC runner, FHE compiler) keys its table by enum pn_op and
** never compares domain strings itself. */
#ifndef PN_OPS_H
#define PN_OPS_H

#include "ir.h"
#include "../util/api.h"

struct pn_ctx;

#define PN_OPS(X) \
  X(ABS, "Abs") X(ACOS, "Acos") X(ACOSH, "Acosh") X(ADD, "Add") X(AND, "And") X(ARG_MAX, "ArgMax") \
  X(ARG_MIN, "ArgMin") X(ASIN, "Asin") X(ASINH, "Asinh") X(ATAN, "Atan") X(ATANH, "Atanh") \
  X(AVERAGE_POOL, "AveragePool") X(BATCH_NORM, "BatchNormalization") X(CAST, "Cast") \
  X(CEIL, "Ceil") X(CLIP, "Clip") X(CONCAT, "Concat") X(CONSTANT, "Constant") \
  X(CONSTANT_OF_SHAPE, "ConstantOfShape") X(CONV, "Conv") X(COS, "Cos") X(COSH, "Cosh") \
  X(CUMSUM, "CumSum") X(DIV, "Div") X(DROPOUT, "Dropout") X(ELU, "Elu") X(EQUAL, "Equal") \
  X(ERF, "Erf") X(EXP, "Exp") X(EXPAND, "Expand") X(FLATTEN, "Flatten") X(FLOOR, "Floor") \
  X(GATHER, "Gather") X(GATHER_ELEMENTS, "GatherElements") X(GEMM, "Gemm") \
  X(GLOBAL_AVERAGE_POOL, "GlobalAveragePool") X(GLOBAL_MAX_POOL, "GlobalMaxPool") \
  X(GREATER, "Greater") X(GREATER_OR_EQUAL, "GreaterOrEqual") X(HARDMAX, "Hardmax") \
  X(HARD_SIGMOID, "HardSigmoid") X(HARD_SWISH, "HardSwish") X(IDENTITY, "Identity") \
  X(LAYER_NORM, "LayerNormalization") X(LEAKY_RELU, "LeakyRelu") X(LESS, "Less") \
  X(LESS_OR_EQUAL, "LessOrEqual") X(LOG, "Log") X(LOG_SOFTMAX, "LogSoftmax") X(MATMUL, "MatMul") \
  X(MAX, "Max") X(MAX_POOL, "MaxPool") X(MEAN, "Mean") X(MIN, "Min") X(MOD, "Mod") X(MUL, "Mul") \
  X(NEG, "Neg") X(NOT, "Not") X(OR, "Or") X(PAD, "Pad") X(POW, "Pow") X(PRELU, "PRelu") \
  X(RANGE, "Range") X(RECIPROCAL, "Reciprocal") X(REDUCE_L1, "ReduceL1") X(REDUCE_L2, "ReduceL2") \
  X(REDUCE_LOG_SUM, "ReduceLogSum") X(REDUCE_LOG_SUM_EXP, "ReduceLogSumExp") \
  X(REDUCE_MAX, "ReduceMax") X(REDUCE_MEAN, "ReduceMean") X(REDUCE_MIN, "ReduceMin") \
  X(REDUCE_PROD, "ReduceProd") X(REDUCE_SUM, "ReduceSum") X(REDUCE_SUM_SQUARE, "ReduceSumSquare") \
  X(RELU, "Relu") X(RESHAPE, "Reshape") X(ROUND, "Round") X(SELU, "Selu") X(SHAPE, "Shape") \
  X(SIGMOID, "Sigmoid") X(SIGN, "Sign") X(SIN, "Sin") X(SINH, "Sinh") X(SIZE, "Size") \
  X(SLICE, "Slice") X(SOFTMAX, "Softmax") X(SOFTPLUS, "Softplus") X(SOFTSIGN, "Softsign") \
  X(SPLIT, "Split") X(SQRT, "Sqrt") X(SQUEEZE, "Squeeze") X(SUB, "Sub") X(SUM, "Sum") X(TAN, "Tan") \
  X(TANH, "Tanh") X(TILE, "Tile") X(TRANSPOSE, "Transpose") X(TRILU, "Trilu") \
  X(UNSQUEEZE, "Unsqueeze") X(WHERE, "Where") X(XOR, "Xor") \
  X(RESIZE, "Resize") X(UPSAMPLE, "Upsample") X(CONV_TRANSPOSE, "ConvTranspose") \
  X(INSTANCE_NORM, "InstanceNormalization") X(MVN, "MeanVarianceNormalization") X(LRN, "LRN") \
  X(CELU, "Celu") X(THRESHOLDED_RELU, "ThresholdedRelu") X(SHRINK, "Shrink") X(CAST_LIKE, "CastLike") \
  X(DEPTH_TO_SPACE, "DepthToSpace") X(SPACE_TO_DEPTH, "SpaceToDepth") X(IS_INF, "IsInf") X(IS_NAN, "IsNaN") \
  X(GATHER_ND, "GatherND") X(SCATTER_ND, "ScatterND") X(SCATTER_ELEMENTS, "ScatterElements") \
  X(SCATTER, "Scatter") X(ONE_HOT, "OneHot") X(NON_ZERO, "NonZero") X(TOP_K, "TopK") X(COMPRESS, "Compress") \
  X(EINSUM, "Einsum") X(EYE_LIKE, "EyeLike") X(NON_MAX_SUPPRESSION, "NonMaxSuppression") \
  X(GRID_SAMPLE, "GridSample")

/* The ai.privnn ops, numbered after the ai.onnx ones: X(ID, "OpType") as above. */
#define PN_OPS_PRIVNN(X) X(PAF_MAX_POOL, "PafMaxPool") X(PAF_RELU, "PafRelu")

enum pn_op {
#define X(id, name) PN_OP_##id,
  PN_OPS(X)
  PN_OPS_PRIVNN(X)
#undef X
  PN_OP_COUNT
};

/* Operator-set domains privnn implements, and the opset versions of each it accepts. */
enum pn_op_domain { PN_DOMAIN_ONNX, PN_DOMAIN_PRIVNN, PN_DOMAIN_COUNT };
#define PN_PRIVNN_DOMAIN "ai.privnn"

struct pn_op_domain_def {
  const char *name;            /* canonical name: "ai.onnx", "ai.privnn" */
  int64_t opset_min, opset_max;
};
PN_API extern const struct pn_op_domain_def pn_op_domains[PN_DOMAIN_COUNT];

/* The ai.onnx opsets whose semantics the kernels implement. A model importing a newer opset is
** refused (PN_ERR_UNSUPPORTED) rather than run with rules that may have changed. ai.privnn has
** one version so far. */
#define PN_OPSET_MIN 1
#define PN_OPSET_MAX 18
#define PN_PRIVNN_OPSET_MIN 1
#define PN_PRIVNN_OPSET_MAX 1

/* The domain of a name ("" and NULL mean ai.onnx); -1 when privnn implements no op of it. */
PN_API int pn_op_domain_find(const char *domain);
/* The op for a (domain, op_type); -1 when unsupported. An ai.onnx op type under another domain
** (ai.privnn's "Relu") is not that op. */
PN_API int pn_op_find(const char *domain, const char *op_type);
PN_API const char *pn_op_name(enum pn_op op);
/* The domain an op belongs to. */
PN_API enum pn_op_domain pn_op_domain(enum pn_op op);

#endif
