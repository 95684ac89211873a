/* paf.h - SmartPAF's polynomial activation functions (PAFs): the forms, the ai.privnn ops that carry
** them in a graph, their exact semantics, and the graph rewrites around them.
**
** A PAF replaces sign(x) by a composition of low-degree odd polynomials ("stages"), so that ReLU
** and max -- hence MaxPool -- become polynomials that CKKS evaluates. The executor (k_paf.c),
** autograd (src/nn) and the encrypted-inference compiler (src/fhe) all read this header; none of
** them depends on the SmartPAF training pipeline (src/paf).
**
** ---- Forms ----
** A form is a list of stages; stage k is P_k(z) = sum_j c[k][j] z^(2j+1), j < terms[k] (degree
** 2 terms[k] - 1). Stage 0 is applied FIRST (the SmartPAF paper's order: f1g2 = g2(f1(x));
** f1g1sq = g1(g1(f1(f1(x))))). The coefficients of all stages are stored flat, stage 0 first:
** c[0][0..terms[0]), c[1][0..terms[1]), ...
**
** ---- The ops (domain "ai.privnn", opset version 1) ----
** PafRelu(X, C [, S]) -> Y
**   X  float tensor, any shape.
**   C  float [n] coefficients of the form, n = pn_paf_n_coeffs(form); a trainable initializer.
**   S  optional float scalar (or [1]) initializer: the static scale s > 0. Without S the scale is
**      dynamic: s = max(max_i |X_i|, PN_PAF_DS_FLOOR) over the WHOLE input tensor (the batch
**      included, as the paper's code does), treated as a constant by the gradient.
**   attributes: form (string, required), gain (float, default 0.5).
**   Y_i = gain * (X_i + X_i * P(t_i)),  t_i = X_i * r,  r = 1/s computed in float,
**   P = P_{K-1} o ... o P_0, each stage by Horner in z^2: u = z*z, a = c[n-1],
**   a = a*u + c[j] for j = n-2..0, P_k(z) = a*z (float arithmetic, in this order).
**   With gain 0.5 and the base coefficients this is ReLU(x) = (x + x sign(x))/2 with only the
**   sign's input divided by s.
**
** PafMaxPool(X, C [, S]) -> Y
**   X  float [N, C, H, W]; C and S as for PafRelu, but the scale bounds the sign's inputs a - b:
**      a dynamic one is s = 2 max(max|X|, PN_PAF_DS_FLOOR) (the paper's max|X| assumes X >= 0, which
**      a PAF ReLU before the pool does not give: its outputs for negative inputs make |a - b| reach
**      2 max|X|, and past 1 a form's stages explode), and a static one is the largest |a - b| seen
**      at any tree level (the SmartPAF pipeline measures it).
**   attributes: form (string, required), kernel_shape (2 ints, required), strides (2, default 1),
**   pads (4: top, left, bottom, right; default 0, each < the kernel). No dilations, ceil_mode or
**   auto_pad. Output dims (H + pad_top + pad_bottom - kh) / sh + 1 (floor), likewise for W.
**   Each output is a halving tree of max over its window's kh*kw leaves taken in row-major order
**   (ki, kj); a leaf in the padding is 0 (not -inf: PAF MaxPool inputs follow a ReLU, >= 0).
**   A tree level pairs leaves (0,1), (2,3), ...; an odd last one moves up unchanged; levels repeat
**   until one value is left: ceil(log2(kh*kw)) levels, kh*kw - 1 max. One max is
**   max(a, b) = ((a + b) + (a - b) * P((a - b) * r)) * 0.5   (float, in this order).
**   Max is positively homogeneous: scaling X and s by the same f > 0 scales Y by f.
**
** ---- Multiplicative depth under CKKS (levels consumed; what the FHE compiler should reach) ----
** stage of degree 3: 2, 5 and 7: 3, 9..15: 4 (ceil(log2(deg+1)), pn_paf_stage_depth); the sign
** P: the sum over stages (pn_paf_sign_depth: f1g2 5, f2g2 6, f2g3 6, alpha7 6, f1g1sq 8,
** minimax27 10).
** PafRelu = sign depth + 1 (the product X * (gain + gain P), where gain multiplies the last
**   stage's coefficients and the constant gain is added: no level), + 1 more when s != 1 (the
**   scalar product X * r before the first stage; folding r into stage 0's coefficients as
**   c/s^(2j+1) would save it but loses precision for large s). pn_paf_relu_depth.
** PafMaxPool = tree levels * (sign depth + 1), + 1 per level when s != 1 (each level's (a-b) * r).
**   The 0.5 of a max is a scalar product beside the ct-ct one (it does not lengthen the path), or
**   is folded into the last stage's coefficients as for gain. pn_paf_maxpool_depth.
** Deployed (static-scale, folded) models have s = 1 and gain = 1 where pn_paf_fold_scales could
** move them into neighbouring linear layers (see there), so a PafRelu costs sign depth + 1.
*/
#ifndef PN_GRAPH_PAF_H
#define PN_GRAPH_PAF_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/ops.h"

struct pn_ctx;
struct pn_graph;
struct pn_node;
struct pn_tensor;

#define PN_PAF_DOMAIN PN_PRIVNN_DOMAIN /* "ai.privnn", graph/ops.h */
#define PN_PAF_OPSET 1
#define PN_PAF_MAX_STAGES 4
#define PN_PAF_MAX_TERMS 7          /* odd coefficients of one stage: degree 13 */
#define PN_PAF_MAX_COEFFS 28
#define PN_PAF_MAX_WINDOW 64        /* kh * kw of a PafMaxPool */
#define PN_PAF_DS_FLOOR 1e-30f      /* dynamic scale floor: an all-zero input gives t = 0 */

enum pn_paf_form {
  PN_PAF_F1G2, PN_PAF_F2G2, PN_PAF_F2G3, PN_PAF_ALPHA7, PN_PAF_F1G1SQ, PN_PAF_MINIMAX27,
  PN_PAF_FORM_COUNT
};

enum pn_paf_kind { PN_PAF_RELU, PN_PAF_MAXPOOL, PN_PAF_KIND_COUNT };

struct pn_paf_form_def {
  const char *name;                 /* "f1g2", ... as the CLI and the form attribute spell it */
  int n_stages;
  int terms[PN_PAF_MAX_STAGES];     /* odd coefficients per stage */
  const double *base;               /* the base (untuned) coefficients, flat, stage 0 first */
  const char *stages;               /* the stages by name, application order: "f1, g2" */
  const char *source;               /* where the coefficients come from */
};

/* The form's definition; NULL for an out-of-range value. */
const struct pn_paf_form_def *pn_paf_form_def(enum pn_paf_form f);
/* Parse a form name; -1 when unknown (pn_paf_form_list names the valid ones). */
int pn_paf_form_parse(const char *name);
const char *pn_paf_form_name(enum pn_paf_form f);
/* "f1g2, f2g2, f2g3, alpha7, f1g1sq, minimax27" */
const char *pn_paf_form_list(void);

/* ---- what a form costs and how good it is ---- */
int pn_paf_n_coeffs(enum pn_paf_form f);
int pn_paf_stage_degree(enum pn_paf_form f, int stage);
/* Levels one stage of degree d costs: ceil(log2(d + 1)). */
int pn_paf_stage_depth(int degree);
/* Degree of the composite sign polynomial (product of stage degrees) and the sum of the stage
** degrees (the paper's tables print the latter for some forms). */
int pn_paf_degree(enum pn_paf_form f);
int pn_paf_degree_sum(enum pn_paf_form f);
int pn_paf_sign_depth(enum pn_paf_form f);
/* Levels of one PafRelu / one PafMaxPool window under CKKS (see the header comment). */
int pn_paf_relu_depth(enum pn_paf_form f, bool unit_scale);
int pn_paf_maxpool_depth(enum pn_paf_form f, int window, bool unit_scale);
/* Tree levels and max count of a window of `window` leaves. */
int pn_paf_tree_levels(int window);

/* P(x) in double for flat coefficients c of form f (c = NULL: the base coefficients). */
double pn_paf_sign(enum pn_paf_form f, const double *c, double x);
/* The same for any chain: stage k has nodd[k] odd coefficients odd[k][0..nodd[k]). Stage 0 first.
** (The plaintext reference of the CKKS odd-chain evaluator.) */
double pn_paf_chain_eval(const double *const *odd, const int *nodd, int nstages, double x);

/* Max |PAF-ReLU(x) - ReLU(x)| over [-1, 1] (gain 1/2, s = 1) for coefficients c (NULL = base),
** on a grid of `points` points per unit (>= 1000) refined around the worst one. */
double pn_paf_relu_max_error(enum pn_paf_form f, const double *c, int points);
/* Max |P(x) - 1| over [lo, 1], 0 < lo < 1 (the sign error away from 0). */
double pn_paf_sign_max_error(enum pn_paf_form f, const double *c, double lo, int points);

/* Max |P(x)| over [lo, hi] (how a form behaves past [-1, 1], where static scales let inputs go). */
double pn_paf_sign_max_abs(enum pn_paf_form f, const double *c, double lo, double hi, int points);

/* Everything `privnn paf forms` prints about a form (base coefficients). */
struct pn_paf_form_stats {
  int n_coeffs, degree, degree_sum, sign_depth, relu_depth, maxpool2x2_depth;
  int stage_degree[PN_PAF_MAX_STAGES];
  double relu_err;             /* max |PAF-ReLU - ReLU| on [-1, 1] */
  double sign_past1;           /* max |P| on [1, 1.5] (1 = bounded; large = explodes) */
};
void pn_paf_form_stats(enum pn_paf_form f, struct pn_paf_form_stats *st /* OUT */);

/* ---- minimax (Remez) ---- */
/* The odd polynomial of n terms (degree 2n-1) closest to 1 in max norm on [a, b], 0 < a < b:
** coefficients into c[0..n), the equioscillation error into *err. n in 1..PN_PAF_MAX_TERMS.
** PN_ERR_INVALID for bad arguments, PN_ERR_UNSUPPORTED when the exchange does not converge. */
int pn_paf_remez_odd(struct pn_ctx *ctx, int n, double a, double b, double *c /* OUT n */,
                     double *err /* OUT */);
/* Lee et al.'s composite minimax sign: stage 1 the minimax of sign on [eps, 1] with terms[0]
** terms, stage k+1 on [1 - e_k, 1 + e_k] where e_k is stage k's error. Flat coefficients into c,
** the final error into *err. */
int pn_paf_remez_composite(struct pn_ctx *ctx, int n_stages, const int *terms, double eps,
                           double *c /* OUT */, double *err /* OUT */);

/* ---- float kernels on arrays (the executor's and autograd's single implementation) ---- */

/* A form with float coefficients, ready for the kernels. */
struct pn_paf_eval {
  int n_stages;
  int terms[PN_PAF_MAX_STAGES];
  int offset[PN_PAF_MAX_STAGES];    /* of each stage in c */
  const float *c;
  int n_coeffs;
};
void pn_paf_eval_init(struct pn_paf_eval *e, enum pn_paf_form f, const float *coeffs);

/* P(t) in float, in the order of the header comment. */
float pn_paf_p(const struct pn_paf_eval *e, float t);
/* The dynamic scale of x[0..n): max(max |x|, PN_PAF_DS_FLOOR); a PafMaxPool's is twice that. */
float pn_paf_dynamic_scale(const float *x, int64_t n);
float pn_paf_kind_dynamic_scale(enum pn_paf_kind kind, const float *x, int64_t n);

/* y = gain (x + x P(x r)), r = 1 / s. */
void pn_paf_relu_forward(const struct pn_paf_eval *e, float s, float gain, const float *x,
                         float *y, int64_t n);
/* Accumulate dL/dx into dx (may be NULL) and dL/dc into dc[n_coeffs] (double, may be NULL) from
** dL/dy, with s a constant. */
void pn_paf_relu_backward(const struct pn_paf_eval *e, float s, float gain, const float *x,
                          const float *dy, float *dx, double *dc, int64_t n);

/* Window geometry of a PafMaxPool over x [nc planes of h x w] -> y [nc planes of oh x ow]. */
struct pn_paf_pool {
  int64_t nc, h, w, oh, ow;
  int64_t kh, kw, sh, sw, pt, pl;   /* kernel, strides, top/left pads */
};
void pn_paf_maxpool_forward(const struct pn_paf_eval *e, const struct pn_paf_pool *g, float s,
                            const float *x, float *y);
void pn_paf_maxpool_backward(const struct pn_paf_eval *e, const struct pn_paf_pool *g, float s,
                             const float *x, const float *dy, float *dx, double *dc);

/* Sign inputs outside [-1, 1]: |x r| > 1 for a ReLU; every tree level's |(a - b) r| > 1 for a
** MaxPool (total: nc * oh * ow * (kh * kw - 1) inputs). */
int64_t pn_paf_relu_overflow(float s, const float *x, int64_t n);
int64_t pn_paf_maxpool_overflow(const struct pn_paf_eval *e, const struct pn_paf_pool *g, float s, const float *x);
/* The largest |a - b| at any tree level of a PafMaxPool over x (its static scale's measure). */
float pn_paf_maxpool_max_diff(const struct pn_paf_eval *e, const struct pn_paf_pool *g, float s, const float *x);

/* ---- PAF nodes in a graph (paf_graph.c) ---- */

/* A parsed, validated PafRelu / PafMaxPool node. */
struct pn_paf_node {
  enum pn_paf_kind kind;
  enum pn_paf_form form;
  struct pn_tensor *coeffs;         /* the C initializer (float [n]), NULL if C is not one */
  struct pn_tensor *scale;          /* the S initializer, NULL for a dynamic scale */
  float gain;                       /* PafRelu */
  int64_t k[2], s[2], p[4];         /* PafMaxPool: kernel, strides, pads (t, l, b, r) */
};

/* Is n a PafRelu / PafMaxPool node (domain ai.privnn)? Which kind (or -1)? */
int pn_paf_node_kind(const struct pn_node *n);
/* Parse and check node n of g: the form is known, C is a float initializer of the form's length,
** S (if given) a positive finite scalar initializer, the pool attributes well formed. Errors
** (PN_ERR_INVALID) name the node and the attribute or input at fault. */
int pn_paf_node_parse(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_node *n,
                      struct pn_paf_node *out /* OUT */);
/* Check attributes only (shape inference and kernels, which get C and S as tensors). */
int pn_paf_node_attrs(struct pn_ctx *ctx, const struct pn_node *n, struct pn_paf_node *out /* OUT */);
/* "PafRelu" / "PafMaxPool". */
const char *pn_paf_kind_op(enum pn_paf_kind k);

/* Which PAF a default-domain node would become: PN_PAF_RELU for Relu, PN_PAF_MAXPOOL for MaxPool,
** -1 for anything else. */
int pn_paf_site_kind(const struct pn_node *n);
/* Turn Relu / MaxPool node n of g into PafRelu / PafMaxPool of form f, in place (same name, input
** and output): coefficients from coeffs (NULL = the form's base ones) in a new initializer
** "<node>.paf_c", gain 0.5, and a static scale when scale > 0 (else dynamic). Imports ai.privnn
** opset 1. PN_ERR_UNSUPPORTED for a MaxPool with dilations, ceil_mode, auto_pad or an Indices
** output. */
int pn_paf_replace(struct pn_ctx *ctx, struct pn_graph *g, struct pn_node *n, enum pn_paf_form f,
                   const float *coeffs, float scale);
/* Give PAF node n a static scale s (> 0; its S initializer "<node>.paf_s" is made or updated), or
** make it dynamic (s <= 0: the S input is dropped). */
int pn_paf_set_scale(struct pn_ctx *ctx, struct pn_graph *g, struct pn_node *n, float s);

/* Rewrite every PAF node of g as standard ONNX ops computing the same floats (paf_expand.c); g's
** shapes must be inferred (PafMaxPool needs its input's H and W). Drops the ai.privnn import.
** *count (may be NULL) = nodes expanded. PN_ERR_UNSUPPORTED when ai.onnx's opset is below 11. */
int pn_paf_expand(struct pn_ctx *ctx, struct pn_graph *g, int *count);

/* Fold static scales and ReLU's gain into neighbouring linear layers, exactly (paf_fold.c: each
** value gets a positive factor; linear layers absorb the change of factor; positively homogeneous
** ops pass it through; graph inputs, outputs and values read by anything else keep factor 1).
** A PAF whose input group is free ends with s = 1; a ReLU whose output group is free, gain = 1. */
struct pn_paf_fold_report {
  int paf_nodes;               /* PAF nodes in the graph */
  int unit_scale;              /* ... with a static scale of exactly 1 after folding */
  int unit_gain;               /* PafRelu with gain exactly 1 after folding */
};
int pn_paf_fold_scales(struct pn_ctx *ctx, struct pn_graph *g, struct pn_paf_fold_report *rep /* OUT */);

#endif
