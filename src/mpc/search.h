/* search.h - HummingBird's search engine: a bit range [k, m) for every ReLU and MaxPool of a
** model, error-free (no prediction of the search images changes) or under a budget of average bits
** (the best validation accuracy), and fine-tuning with the reduced ring in the loop.
**
** Three stages, each cheaper per candidate than the next and looking at fewer of them:
**   1. an error model over each layer's histogram of compared words (profile.h) scores every
**      (k, m) in closed form and keeps, per layer and width n = m - k, the k of least expected
**      squared error;
**   2. the plaintext executor with the reduced-ring sign simulated (hbsim.h) measures predictions
**      on the search images: a binary search per layer (error-free) or per-layer loss curves, a
**      knapsack DP under the budget and a greedy refinement of the DP's plan (budget);
**   3. the bit-exact simulator of the two-party protocol confirms the plan on the search images.
** Everything random comes from the seed: the same seed, model and images give the same plan. */
#ifndef PN_MPC_SEARCH_H
#define PN_MPC_SEARCH_H

struct cJSON;
#include <stdbool.h>
#include <stdint.h>

#include "../graph/ir.h"
#include "hbsim.h"
#include "runner.h"
#include "../nn/dataset.h"
#include "../nn/train.h"
#include "../util/api.h"

struct pn_ctx;

/* ---- the error model ---- */
struct pn_hb_err {
  double wrong;      /* expected signs read wrong (X = 0 included: harmless) */
  double changed;    /* expected outputs changed (signs read wrong with X != 0) */
  double l1, l2;     /* expected sums of |output error| and its square, in fixed-point units */
};
/* Expected errors of HummingBird [k, m) (k == m: the identity) over the words of h. Low bits
** (words in [0, 2^k)) and words inside [-2^(m-1), 2^(m-1)) are exact; an octave bin beyond the
** range is read wrong whole when it is the first one past 2^(m-1), half otherwise (exact for words
** spread evenly over the bin). */
PN_API void pn_hb_error_model(const struct pn_hb_hist *h, int k, int m, struct pn_hb_err *out /* OUT */);
/* The k in [0, 64 - n] giving the least expected squared error at width n (ties: fewer outputs
** changed, then the smaller k). */
PN_API int pn_hb_best_k(const struct pn_hb_hist *h, int n, struct pn_hb_err *err /* OUT, may be NULL */);

/* ---- the knapsack under the budget ---- */
/* Choose a width w[i] in 0..nw-1 for each of L layers (elems[i] > 0 comparisons per image)
** minimising sum loss[i * nw + w[i]] subject to sum w[i] * elems[i] <= budget * sum elems[i],
** exactly (integer arithmetic; when the costs need more than 2^22 states they are scaled and
** rounded up, which keeps the bound). loss = +INFINITY excludes a width. Ties prefer more bits.
** *states (may be NULL) gets the DP cells filled. PN_ERR_INVALID when no choice fits. */
PN_API int pn_mpc_search_dp(struct pn_ctx *ctx, int L, const int64_t *elems, int nw, const double *loss,
                     double budget, int *w /* OUT [L] */, int64_t *states);

/* ---- the search ---- */
enum pn_mpc_search_mode { PN_SEARCH_ERROR_FREE = 0, PN_SEARCH_BUDGET = 1 };

struct pn_mpc_search_cfg {
  enum pn_mpc_search_mode mode;
  double budget;             /* budget: average bits per comparison, weighted by comparisons */
  enum pn_split split;       /* the search images (PN_SPLIT_VAL) */
  int64_t count;             /* search images, the first of the split (0 = all) */
  int64_t probe;             /* budget: images of the per-layer loss curves (0 = 1000) */
  int batch;                 /* images per executor run (0 = 250) */
  int draws;                 /* error-free: independent share draws that must all keep every
                             ** prediction (0 = 2) */
  int fragile_draws;         /* error-free: draws for the 2% least confident search images (the
                             ** smallest top-1 minus top-2 logit), checked first (0 = 16) */
  int sim_batch;             /* bit-exact simulator batch (0 = 50) */
  bool no_confirm;           /* skip stage 3 */
  uint8_t seed[PN_SEED_BYTES];
  bool progress;             /* progress bar on stderr (a TTY) */
};

struct pn_mpc_search_layer {
  char *node;
  bool relu;                 /* else MaxPool */
  int64_t elems;             /* comparisons per image */
  double max_abs;
  int cover_m;               /* least m (k = 0) reading every search word right */
  int k, m;                  /* the plan */
  struct pn_hb_err err;      /* the model's expected errors per image at [k, m) */
};

/* What each stage looked at. */
struct pn_mpc_search_stats {
  int64_t model_candidates;  /* (layer, k, m) scored by the error model */
  int64_t emu_candidates;    /* plans run by the executor simulation */
  int64_t emu_images;        /* images those runs took (early stops included) */
  int64_t dp_states;
  int64_t sim_plans, sim_images; /* the bit-exact simulator */
  double seconds[4];         /* profile + model, simulation, DP, bit-exact confirmation */
};

struct pn_mpc_search_result {
  struct pn_mpc_plan plan;   /* one entry per layer */
  int n;
  struct pn_mpc_search_layer *layers;
  double avg_bits, bits_discarded; /* weighted by comparisons per image */
  int64_t images;            /* search images */
  double plain_acc;          /* plaintext top-1 on them */
  double emu_acc;            /* the plan in the executor simulation (draw 0) */
  int64_t emu_changed;       /* predictions it changed */
  bool confirmed;            /* stage 3 ran */
  double sim_acc;            /* the bit-exact simulator */
  int64_t sim_changed;
  int backoffs;              /* error-free: widenings after the simulator saw a change */
  double errfree_bits;       /* budget: the error-free plan's average width when the search
                             ** computed it (the budget was not below the per-layer estimate), else 0 */
  bool from_errfree;         /* budget: the plan is the error-free one (it fits the budget) or that
                             ** plan narrowed to the budget (it did better than the DP's) */
  struct pn_mpc_search_stats st;
  struct cJSON *log;                /* per stage and candidate, for the report (owned) */
};

/* Search g (one float input [N,1,28,28] normalised as ds is) on images of cfg->split. On success
** *res owns its arrays (pn_mpc_search_result_free). Error-free with stage 3: a plan is only
** returned when the bit-exact simulator changes no prediction of the search images (up to 8
** one-bit widenings are tried); otherwise PN_ERR_INVALID saying how many still change. */
PN_API int pn_mpc_search(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_dataset *ds,
                  const struct pn_mpc_search_cfg *cfg, struct pn_mpc_search_result *res /* OUT */);
PN_API void pn_mpc_search_result_free(struct pn_mpc_search_result *res);
/* The report (a new object: the caller deletes it) and the plan's extra fields. */
PN_API struct cJSON *pn_mpc_search_report(const struct pn_mpc_search_result *res);

/* ---- the bit-exact simulator of the protocol on a split ---- */
struct pn_mpc_sim_eval {
  int64_t n;                 /* images */
  int64_t correct, plain_correct, agree;
  double bits_discarded;
  double bytes_per_image;    /* one party */
  double seconds;
};
/* Run images [0, count) of split s (count 0 = all) through the two-party protocol in one process
** (weights public; shares, dealer from seed) with plan (NULL = full-bit), and compare with the
** plaintext model. pred (may be NULL) gets each image's secure prediction. */
PN_API int pn_mpc_sim_eval(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_mpc_plan *plan,
                    const struct pn_dataset *ds, enum pn_split s, int64_t count, int batch,
                    const uint8_t seed[PN_SEED_BYTES], bool progress, int32_t *pred,
                    struct pn_mpc_sim_eval *out /* OUT */);

/* ---- plans bound to their model ---- */
/* Does plan fit g: every entry names a Relu or MaxPool of g, with 0 <= k <= m <= 64, and, when the
** plan file (path, as written by the search) records them, the model's SHA-256 (model_sha256 may
** be NULL: not checked) and each layer's comparisons per image? PN_ERR_MISMATCH naming the plan,
** the entry and what differs. */
PN_API int pn_mpc_plan_check(struct pn_ctx *ctx, const char *path, const struct pn_mpc_plan *plan,
                      const struct pn_graph *g, const char *model_sha256);
/* The SHA-256 of a file as 64 hex digits. */
PN_API int pn_mpc_file_sha256(struct pn_ctx *ctx, const char *path, char hex[65] /* OUT */);

/* ---- fine-tuning with the reduced ring in the loop ---- */
struct pn_mpc_finetune_cfg {
  int epochs;                /* 0 = 10 (the paper's recipe) */
  int batch;                 /* 0 = 128 */
  float lr;                  /* 0 = 1e-3, SGD momentum 0.9 Nesterov, weight decay 5e-4 */
  float weight_decay;        /* < 0: none; 0 = 5e-4 */
  float warmup_frac;         /* 0 = 0.3 of the steps, then cosine to 0 */
  int pad, flip;             /* augmentation of the training images */
  int64_t max_train, max_val; /* 0 = the whole split */
  uint64_t seed;
  const char *ckpt_path;     /* NULL = none */
  bool progress;
  void (*on_epoch)(void *user, const struct pn_epoch_stats *st);
  void *user;
};
/* Train g in place on ds's train split with plan simulated in every forward (straight-through
** gradient: what the reduced-ring ReLU and max select carries the gradient), each epoch
** evaluated on the validation split under the plan; g ends with the best epoch's weights (the
** starting point included). res as pn_train's (best_epoch, start_val_acc). */
PN_API int pn_mpc_finetune(struct pn_ctx *ctx, const struct pn_mpc_finetune_cfg *cfg,
                    const struct pn_dataset *ds, struct pn_graph *g, const struct pn_mpc_plan *plan,
                    struct pn_train_result *res /* OUT */);

#endif
