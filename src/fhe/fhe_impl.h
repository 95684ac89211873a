/* fhe_impl.h - internals of src/fhe: linear maps, slot layouts, the CKKS program and its parts.
**
** A model becomes a program over ciphertext registers (struct fhe_inst), each register one ciphertext
** holding a whole feature map. Where each element of a tensor sits is its layout (struct fhe_layout:
** one slot per element). Every linear stretch of the model (Conv, Gemm, BatchNormalization, pooling,
** Flatten/Reshape, composed where that pays) is one matrix over slots, applied by the diagonal method
** with baby-step giant-step rotations in one level (struct fhe_linear). PAF activations are odd-stage
** chains and products. The compiler fixes every register's level and scale; the executor runs the same
** program on ciphertexts or, for checking, on plain slot vectors, and both assert the planned level and
** scale after every instruction. */
#ifndef PN_FHE_IMPL_H
#define PN_FHE_IMPL_H

#include <stdint.h>

#include "ckks/boot.h"
#include "ckks/ckks.h"
#include "fhe/fhe.h"
#include "graph/ir.h"
#include "graph/paf.h"

struct pn_arena;

/* ---- linear maps on logical elements (lmap.c) ----
** y = A x + b over the row-major elements of one image's tensors (batch dim dropped). CSR rows. */
enum fhe_mix {
  FHE_MIX_DENSE,     /* any output reads any input (Gemm, MatMul, GlobalAveragePool, composites) */
  FHE_MIX_CONV,      /* (C,H,W) -> (C',H',W'): output channels read input channels through a window */
  FHE_MIX_DEPTHWISE, /* (C,H,W) -> (C,H',W'): each channel reads only itself (pools, depthwise conv) */
  FHE_MIX_DIAG       /* elementwise (BatchNormalization alone, Mul/Add by a constant) */
};
struct fhe_lmap {
  int64_t n_out, n_in, nnz;
  int64_t *rowptr;      /* n_out + 1 */
  int32_t *col;         /* nnz, input element */
  double *val;          /* nnz */
  double *bias;         /* n_out */
  enum fhe_mix mix;
  int64_t stride[2];    /* CONV / DEPTHWISE: spatial strides (output step in input rows/cols) */
  char what[48];        /* "Conv", "AveragePool+Conv", ... for the plan */
};
struct fhe_lmap *fhe_lmap_new(int64_t n_out, int64_t n_in, int64_t nnz);
void fhe_lmap_free(struct fhe_lmap *m);
/* The map of one linear node (data input in_dims, output out_dims, batch 1), or PN_ERR_UNSUPPORTED. */
int fhe_lmap_node(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_node *n, int64_t opset,
                  int in_ndim, const int64_t *in_dims, int out_ndim, const int64_t *out_dims,
                  struct fhe_lmap **out /* OUT */);
/* b o a (apply a first). */
int fhe_lmap_compose(struct pn_ctx *ctx, const struct fhe_lmap *b, const struct fhe_lmap *a,
                     struct fhe_lmap **out /* OUT */);
/* y = A x + b in double (tests, plaintext checks). */
void fhe_lmap_apply(const struct fhe_lmap *m, const double *x, double *y);

/* ---- layouts (layout.c) ---- */
struct fhe_layout {
  int64_t n;            /* elements */
  int32_t *slot;        /* [n] distinct slots */
  int64_t extent;       /* max slot + 1 (of the first copy) */
  /* grid form, when the tensor is (C,H,W): slot(c,y,x) = base[c] + y sy + x sx */
  int grid;
  int64_t C, H, W, sy, sx;
  int64_t *base;        /* [C] */
  /* replicated (the program's input only): element i also at slot[i] + t rep_stride for 0 < t < rep, with
  ** rep_stride >= extent (0 or 1: one copy). A linear reading it takes, for output slot o, the copy in o's block
  ** of rep_stride slots (the last copy beyond them): fhe_layout_copy. */
  int rep;
  int64_t rep_stride;
};
/* Slots a layout occupies with its copies: max slot + 1. */
static inline int64_t fhe_layout_top(const struct fhe_layout *l) {
  return l->rep > 1 ? (l->rep - 1) * l->rep_stride + l->extent : l->extent;
}
/* The slots of an input as the client encodes them: x[i] * factor at slot[i] and at its copies slot[i] + t stride
** (0 < t < rep); the other slots of v are left as they are. */
static inline void fhe_scatter_input(double *v, const int32_t *slot, int64_t n, int rep, int64_t stride,
                                     double factor, const float *x) {
  for (int64_t i = 0; i < n; i++)
    for (int t = 0; t < (rep > 1 ? rep : 1); t++) v[slot[i] + t * stride] = (double)x[i] * factor;
}
/* The offset of the copy of `in` that a linear's output at slot so reads (0 without copies). */
static inline int64_t fhe_layout_copy(const struct fhe_layout *in, int64_t so) {
  if (in->rep <= 1) return 0;
  int64_t t = so / in->rep_stride;
  return (t < in->rep ? t : in->rep - 1) * in->rep_stride;
}
/* The dense layout of a (C,H,W) tensor (or a vector: C = n, H = W = 1): element i at slot i. */
int fhe_layout_dense(struct pn_arena *a, int64_t C, int64_t H, int64_t W, struct fhe_layout *out);
/* Set l's grid form (and base) from its slots when they form one for shape (C,H,W), else clear it. */
void fhe_layout_detect_grid(struct pn_arena *a, struct fhe_layout *l, int64_t C, int64_t H, int64_t W);
/* Re-read a layout for another shape with the same element count (Flatten, Reshape): the slots stay;
** the grid form is kept only for an equal (C,H,W). */
void fhe_layout_reshape(struct fhe_layout *l, int ndim, const int64_t *dims);

/* Choose the output layout of m applied to `in` (out_shape: (C,H,W) of the output, or C = n, H = W = 1)
** among the candidates of the map's kind (multiplexed strides for convolutions, same-channel for pools,
** anchors, dense), the one with the fewest diagonals that fits max_extent slots. *ndiag = its count. */
int fhe_layout_choose(struct pn_ctx *ctx, struct pn_arena *a, const struct fhe_lmap *m,
                      const struct fhe_layout *in, int64_t C, int64_t H, int64_t W, int64_t max_extent,
                      struct fhe_layout *out /* OUT */, int64_t *ndiag /* OUT */, char *kind, size_t kind_size);
/* Output layout candidate `cand` (0 <= cand < FHE_LAYOUT_NCAND) of m applied to `in`, as fhe_layout_choose makes
** it (slots in arena a): 1 when it applies and fits max_extent slots, 0 when not, -1 out of memory. */
#define FHE_LAYOUT_NCAND 5
int fhe_layout_candidate(struct pn_arena *a, const struct fhe_lmap *m, const struct fhe_layout *in, int64_t C,
                         int64_t H, int64_t W, int64_t max_extent, int cand, struct fhe_layout *out /* OUT */);
/* Distinct diagonals (i - o) of m between layouts in -> out (a bitmap over [-2^31, 2^31) folded). */
int64_t fhe_layout_count_diags(const struct fhe_lmap *m, const struct fhe_layout *in,
                               const struct fhe_layout *out);

/* ---- the program ---- */
enum fhe_opk {
  FHE_OP_INPUT,   /* dst = the client's ciphertext */
  FHE_OP_LINEAR,  /* dst = M a + bias (one level); aux = linear index */
  FHE_OP_ROT,     /* dst = rotate(a, aux) */
  FHE_OP_ADD,     /* dst = a + b (equal scales) */
  FHE_OP_SUB,     /* dst = a - b */
  FHE_OP_ADDC,    /* dst = a + c */
  FHE_OP_MULC,    /* dst = a * c, rescaled to scale_of(ref) (one level) */
  FHE_OP_MUL,     /* dst = a * b, relinearised, rescaled */
  FHE_OP_STAGE,   /* dst = odd polynomial aux of a (stage levels) */
  FHE_OP_BOOT,    /* dst = bootstrap(a) */
  FHE_OP_COUNT
};

/* How an instruction's output scale is fixed (LINEAR, MULC). */
enum fhe_target { FHE_TARGET_DEFAULT, FHE_TARGET_REG };

struct fhe_inst {
  enum fhe_opk kind;
  int dst, a, b;        /* registers; -1 unused */
  int aux;              /* LINEAR: linear index; ROT: step; STAGE: stage index */
  double c;             /* ADDC, MULC constant */
  enum fhe_target tmode;
  int tref;             /* FHE_TARGET_REG: the register whose scale dst must have */
  int layer;            /* index into plan->layers */
  int use;              /* levels consumed (relative, before placement) */
};

/* Planned state of a register. */
struct fhe_reg {
  int level;
  double scale;
  int last_use;         /* index of the last instruction reading it (-1: an output or unused) */
  int layout;           /* index into plan->layouts (for reports and checks) */
  double factor;        /* the ciphertext holds factor * the model's value */
};

/* One odd polynomial stage sum c[j] z^(2j+1). */
struct fhe_stage {
  int nterms;
  double c[PN_PAF_MAX_TERMS];
  int depth;            /* levels it consumes on CKKS (poly.h's schedule) */
};

/* A linear layer in slot space, ready for the diagonal method. */
struct fhe_linear {
  const struct fhe_lmap *m;           /* owned */
  int in_layout, out_layout;
  int64_t ndiag;                      /* after fhe_linear_index: the diagonals that run (those a ring's turn
                                      ** apart folded together) */
  char kind[32];                      /* the layout's packing, for reports ("multiplexed", "diagonal", ...) */
  int32_t *k;                         /* [ndiag] diagonal offsets in [0, slots), ascending */
  int n1;                             /* baby-step width: k = g n1 + b */
  int nbaby, ngiant;                  /* distinct b != 0, distinct g != 0 (rotations) */
  int has_bias;
  /* filled by fhe_linear_build: diagonals pre-rotated for the giant step, and the bias vector */
  float **diag;                       /* [ndiag][slots] */
  double *bias;                       /* [slots] or NULL */
  struct fhe_rot_sched *sched;        /* how its rotations run with the plan's keys (fhe_linear_schedule) */
};

/* The rotation schedule of a LINEAR with the plan's keys (fixed once the key set is final; layout.c). Both
** halves are trees over rotations whose edges are single key switches with a key of the plan; a step with no
** key of its own is reached from the node it is fewest key switches away from (a chain of power-of-two keys,
** whose intermediate rotations become nodes that later steps reuse) instead of by a chain from the root.
** Baby steps fan out from the input (node 0): all children of a node are made together from one
** decomposition of it (hoisting, pn_ckks_rotate_hoisted). Giant steps fan in: each group's sum is added at
** the node of its rotation g n1, every node's sum is rotated by its edge and added to its parent's, leaves
** first, and node 0's sum is the output (a path through the groups is Horner's rule; a star, one rotation
** per group). With every power-of-two key the split n1 is the one whose trees take the fewest key switches. */
#define FHE_HOIST_MAX 4096 /* rotations per hoisted call (pn_ckks_rotate_hoisted's limit) */
struct fhe_rot_sched {
  int nnode;            /* baby tree */
  int32_t *step;        /* [nnode] the rotation of the input a node holds, in [0, slots) */
  int32_t *parent;      /* [nnode] node 0: -1; parents come before their children */
  int32_t *node_of;     /* [n1] the node of baby step b (-1: b not used) */
  int baby_ks;          /* key switches of the baby steps: nnode - 1 */
  int baby_modups;      /* decompositions: one per node with children (per FHE_HOIST_MAX of them) */
  int ngroup;           /* distinct giant indices g (0 included when used), ascending */
  int gnnode;           /* giant tree */
  int32_t *gstep, *gparent;
  int32_t *gnode_of;    /* [ngroup] the node of group q (rotation g n1) */
  int giant_ks;         /* key switches of the giant steps: gnnode - 1 */
  int first_ks;         /* key switches of one chain per rotation at the split chosen for the key count (the
                        ** schedule before this one, for reports) */
};

struct fhe_layer {
  const char *name;     /* node name(s) */
  const char *op;       /* "Conv", "PafRelu f1g2", "bootstrap", ... */
  char packing[96];
  int level_in, level_out;
  int rotations, pt_muls, ct_muls, boots, stages;
  int modups;           /* decompositions of the rotations' key switches (hoisting shares one) */
  int rot_first;        /* key switches with one chain per rotation (fhe_rot_sched.first_ks) */
  int64_t diags;
  double est_ms;
};

struct pn_fhe_plan {
  struct pn_arena *arena;
  struct pn_fhe_opts opts;
  char model_name[128];
  uint8_t model_hash[32];             /* SHA-256 of the compiled program (see spec) */
  /* CKKS */
  struct pn_ckks_params params;
  struct pn_ckks_context *ckks;
  size_t slots;
  int top_level;                      /* level of the fresh input ciphertext */
  int depth;                          /* levels consumed on the longest path (without bootstraps) */
  int boot_in, boot_out;              /* bootstrapping: lowest input level, output level */
  int boots;
  int real_boot;                      /* bootstraps run on ciphertexts with bp (else simulated only) */
  struct pn_ckks_boot_params bp;
  int boot_rot_keys;                  /* rotation keys the bootstrapping circuit needs */
  double boot_key_bytes;              /* their estimated size in memory */
  int log_slots;                      /* slots = 2^log_slots <= N/2; vectors are replicated N/(2 slots) times */
  /* program */
  int n_inst, cap_inst;
  struct fhe_inst *inst;
  int n_reg, cap_reg;
  struct fhe_reg *reg;
  int n_layout, cap_layout;
  struct fhe_layout *layouts;
  int n_linear, cap_linear;
  struct fhe_linear *linears;
  int n_stage, cap_stage;
  struct fhe_stage *stages;
  int n_layer, cap_layer;
  struct fhe_layer *layers;
  int in_reg, out_reg;
  int in_layout, out_layout;
  double in_factor, out_factor;
  int in_ndim, out_ndim;
  int64_t in_dims[PN_MAX_DIMS], out_dims[PN_MAX_DIMS];
  /* rotations the program uses (sorted, distinct, in (0, slots)) */
  int n_rot;
  int *rot;
};

/* layout.c: diagonals of a linear after the slot count is fixed; BSGS split. */
int fhe_linear_index(struct pn_ctx *ctx, struct pn_fhe_plan *p, struct fhe_linear *L);
int fhe_linear_build(struct pn_ctx *ctx, const struct pn_fhe_plan *p, struct fhe_linear *L);
void fhe_linear_release(struct fhe_linear *L);

/* Key switchings a rotation by step costs: 1 with its own key, else one per set bit (power-of-two keys). */
int fhe_rot_cost(const struct pn_fhe_plan *p, int step);
/* Key switchings of a LINEAR's baby and giant rotations, each rotation on its own (a chain of power-of-two
** keys where its step has no key): the schedule before fhe_rot_sched (kept for comparison). */
void fhe_linear_rot_cost(const struct pn_fhe_plan *p, const struct fhe_linear *L, int *baby, int *giant);
/* L->sched for the plan's final key set (arena memory). PN_ERR_UNSUPPORTED when a step cannot be reached
** with the keys (a key budget always keeps the powers of two, so only a damaged plan). */
int fhe_linear_schedule(struct pn_ctx *ctx, struct pn_fhe_plan *p, struct fhe_linear *L);
/* Key switchings of a rotation by d (mod slots): 0 for none, 1 with its own key, the popcount as a chain of
** power-of-two keys when the plan has all of them, else -1. */
int fhe_hop_cost(const struct pn_fhe_plan *p, int64_t d);
/* The number of power-of-two rotation steps below the slot count: the fewest keys any program runs with. */
int fhe_pow_key_count(const struct pn_fhe_plan *p);
/* Keep at most max_keys Galois keys (every power of two below the slot count, then the steps that save the
** most key switchings per image). A soft budget (the default one) is raised to the powers of two; a hard one
** that cannot hold them is PN_ERR_UNSUPPORTED. */
int fhe_restrict_keys(struct pn_ctx *ctx, struct pn_fhe_plan *p, int max_keys, bool soft);
/* Bytes of one switching key in memory. */
double fhe_key_bytes(const struct pn_fhe_plan *p);

/* Evaluation keys (keys.c). */
struct pn_fhe_evk {
  uint8_t hash[32];                   /* the program they were made for */
  struct pn_ckks_swk *rk;
  struct pn_ckks_gk *gk;
  struct pn_ckks_boot_keys *bk;       /* bootstrapping keys (NULL when the program has no bootstraps) */
};
/* Encode x[0..slots) (a program vector of `slots` <= N/2 values) replicated over all N/2 slots: with a
** sparse packing every vector is slots-periodic, so rotations by steps below `slots` act on it as on the
** short vector (run.c). */
int fhe_encode(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double *x, size_t slots, double scale,
               int level, struct pn_ckks_pt *pt);
int fhe_evk_check(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const struct pn_fhe_evk *k);
int pn_fhe_ct_fp_ok(const struct pn_fhe_plan *p, const struct pn_ckks_ct *ct);
const struct pn_fhe_plan *fhe_server_plan(const struct pn_fhe_server *s);
/* plan.c: per-layer counts and the estimated time (cost model). */
void fhe_plan_estimate(struct pn_fhe_plan *p);
/* Whether a LINEAR whose input is at `level` sums its giant rotations over Q_l P with one ModDown per inner node
** of the giant tree and one rescale (run.c, giant_tree_ext), rather than rescaling every group and ModDowning every
** giant rotation: where the special primes are a small part of the extended basis (measured, docs/fhe.md). */
int fhe_giant_ext(const struct pn_fhe_plan *p, int level);
/* Giant-tree nodes other than node 0 that have children (each one ModDown of c1 in giant_tree_ext). */
int fhe_giant_inner(const struct fhe_rot_sched *s);

/* Level and scale of an instruction's output from its inputs (the one rule compiler and executor share). */
int fhe_inst_apply(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const struct fhe_inst *in, int *level,
                   double *scale);

#endif
