/* ops.h - the operator registry: per op, shape inference and a float kernel, in one table.
**
** Every supported op has one entry in pn_op_defs (ops_table.c), indexed by enum pn_op. The same
** infer function serves static shape inference (dims may be -1, input values may be unknown) and
** the executor (all dims known, every input's value known), so shapes are computed in one place.
**
** An op belongs to one domain: ai.onnx (written "" or "ai.onnx" in a model) or ai.privnn,
** privnn's own ops (SmartPAF's polynomial activations). enum pn_op numbers the ops of both, so
** every backend (executor, autograd, MPC runner, FHE compiler) keys its table by enum pn_op and
** never compares domain strings itself. */
#ifndef PN_OPS_H
#define PN_OPS_H

#include "graph/ir.h"

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
extern const struct pn_op_domain_def pn_op_domains[PN_DOMAIN_COUNT];

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

/* The ai.onnx opsets whose semantics the kernels implement. A model importing a newer opset is
** refused (PN_ERR_UNSUPPORTED) rather than run with rules that may have changed. ai.privnn has
** one version so far. */
#define PN_OPSET_MIN 1
#define PN_OPSET_MAX 18
#define PN_PRIVNN_OPSET_MIN 1
#define PN_PRIVNN_OPSET_MAX 1

/* The domain of a name ("" and NULL mean ai.onnx); -1 when privnn implements no op of it. */
int pn_op_domain_find(const char *domain);
/* The op for a (domain, op_type); -1 when unsupported. An ai.onnx op type under another domain
** (ai.privnn's "Relu") is not that op. */
int pn_op_find(const char *domain, const char *op_type);
const char *pn_op_name(enum pn_op op);
/* The domain an op belongs to. */
enum pn_op_domain pn_op_domain(enum pn_op op);

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
