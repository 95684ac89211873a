/* runner.h - secure evaluation of an ONNX CNN on shares, HummingBird plans, per-layer counters. */
#ifndef PN_MPC_RUNNER_H
#define PN_MPC_RUNNER_H

#include <stdint.h>

#include "../graph/ir.h"
#include "../graph/ops.h"
#include "mpc.h"
#include "../util/strmap.h"
#include "../util/api.h"

struct pn_ctx;

/* ---- plans (plan.c): per ReLU node the bit range [k, m) of the shares its sign uses ---- */
struct pn_mpc_plan_item {
  char *node;
  int k, m;
};
struct pn_mpc_plan {
  int n, cap;
  struct pn_mpc_plan_item *items;
  struct pn_strmap index;       /* node name -> item, so lookups stay O(1) on 100k-entry plans */
};

/* Load {"relus": [{"node": NAME, "k": K, "m": M}, ...]} (a bare array is accepted too).
** 0 <= k <= m <= 64; duplicates and bad fields are PN_ERR_CORRUPT naming the entry. */
PN_API int pn_mpc_plan_load(struct pn_ctx *ctx, const char *path, struct pn_mpc_plan *plan /* OUT */);
/* Write the plan with extra top-level fields from `extra` (may be NULL; not freed). */
PN_API int pn_mpc_plan_save(struct pn_ctx *ctx, const char *path, const struct pn_mpc_plan *plan,
                            const void *extra_cjson);
PN_API int pn_mpc_plan_add(struct pn_mpc_plan *plan, const char *node, int k, int m);
PN_API void pn_mpc_plan_free(struct pn_mpc_plan *plan);
/* The entry for node, or NULL (the node then runs the full-bit ReLU). pn_mpc_model_new refuses a
** plan with an entry naming no ReLU or MaxPool node of the model (a typo would silently fall back
** to the full-bit ReLU). */
PN_API const struct pn_mpc_plan_item *pn_mpc_plan_find(const struct pn_mpc_plan *plan,
                                                       const char *node);
/* SHA-256 of the canonical text "node k m\n"... (NULL plan = the full-bit plan). */
PN_API void pn_mpc_plan_hash(const struct pn_mpc_plan *plan, uint8_t out[32]);

/* ---- the model runner (runner.c) ---- */
struct pn_mpc_model;

/* P0's shares of the secret weights, by the name the runner gives each constant (initializer
** name, "W#gK" for group K of a grouped Conv). The model owner records the table from a dry run
** (recording = 1); P0 then runs from it without the plaintext weights, while P1's shares are
** expanded from the owner's seed. */
struct pn_mpc_wshare {
  char *name;
  int64_t n;
  uint64_t *w;
};
struct pn_mpc_wtable {
  int n;
  struct pn_mpc_wshare *e;
  int recording;
};
PN_API const struct pn_mpc_wshare *pn_mpc_wtable_find(const struct pn_mpc_wtable *t, const char *name);
PN_API int pn_mpc_wtable_add(struct pn_mpc_wtable *t, const char *name, int64_t n, const uint64_t *w);
PN_API void pn_mpc_wtable_free(struct pn_mpc_wtable *t);
/* Weight share files (weights.c): P0's table, or P1's seed, bound to the model file's SHA-256. */
PN_API int pn_mpc_wfile_write(struct pn_ctx *ctx, const char *path, int party,
                              const struct pn_mpc_wtable *t, const uint8_t model[32],
                              const uint8_t seed[32], int frac);
/* Bad magic/version/checksum/entries: PN_ERR_CORRUPT; other party or model: PN_ERR_MISMATCH. */
PN_API int pn_mpc_wfile_read(struct pn_ctx *ctx, const char *path, int party, const uint8_t model[32],
                             struct pn_mpc_wtable *t /* OUT */, uint8_t seed[32] /* OUT */);

struct pn_mpc_model_opts {
  int batch;                    /* images per run (the input's first dim) */
  int frac;                     /* fractional bits (0 = 16) */
  int secret_weights;           /* weights additively shared by the model owner (else public) */
  uint8_t owner_seed[32];       /* the model owner's seed for the weight shares (P1's = PRG) */
  struct pn_mpc_wtable *wtab;   /* secret weights: record P0's shares, or take them from here */
  const struct pn_mpc_plan *plan; /* NULL: full-bit everywhere (copied) */
};

/* Per node, after a run (accumulated over runs until pn_mpc_model_reset_stats). */
struct pn_mpc_layer {
  const char *name, *op;
  uint64_t bytes, rounds;       /* one party */
  double seconds;
  int64_t relu_elems;           /* ReLU / MaxPool comparisons evaluated */
  int relu_bits;                /* bits of each share used (64 full-bit, n = m - k for HB) */
};

/* Does the runner evaluate op on shares (has it a row in the runner's op table)? Today: Conv, Gemm,
** MatMul, Add, BatchNormalization, AveragePool, GlobalAveragePool, MaxPool, Relu, Flatten,
** Reshape, Identity, Dropout. */
PN_API bool pn_mpc_supports(enum pn_op op);

/* Prepare g for secure inference: copies and optimises it (BatchNormalization folded into Conv,
** constants folded), fixes the batch dim, infers shapes, checks every op is supported
** (pn_mpc_supports); otherwise PN_ERR_UNSUPPORTED naming the node. */
PN_API int pn_mpc_model_new(struct pn_ctx *ctx, const struct pn_graph *g,
                            const struct pn_mpc_model_opts *opts, struct pn_mpc_model **out /* OUT */);
PN_API void pn_mpc_model_free(struct pn_mpc_model *mm);
/* Element counts of the (single) input and output. */
PN_API int64_t pn_mpc_model_in_numel(const struct pn_mpc_model *mm);
PN_API int64_t pn_mpc_model_out_numel(const struct pn_mpc_model *mm);
/* The optimised graph the runner evaluates (same ReLU node names as the input). */
PN_API const struct pn_graph *pn_mpc_model_graph(const struct pn_mpc_model *mm);

/* Run on input shares x (per view, in_numel words) into y (allocated here; free with pn_sh_free
** on out_numel words). Counters go to the layers. */
PN_API int pn_mpc_model_run(struct pn_mpc_model *mm, struct pn_mpc *m, const pn_sh x, pn_sh y);
PN_API int pn_mpc_model_n_layers(const struct pn_mpc_model *mm);
PN_API const struct pn_mpc_layer *pn_mpc_model_layer(const struct pn_mpc_model *mm, int i);
PN_API void pn_mpc_model_reset_stats(struct pn_mpc_model *mm);
/* Fraction of ReLU share bits not used: 1 - sum(n_i * elems_i) / sum(64 * elems_i). */
PN_API double pn_mpc_model_bits_discarded(const struct pn_mpc_model *mm);

#endif
