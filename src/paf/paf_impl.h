/* paf_impl.h - the SmartPAF pipeline's pieces, shared by its files (not installed). */
#ifndef PN_PAF_IMPL_H
#define PN_PAF_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "graph/exec.h"
#include "graph/paf.h"
#include "nn/dataset.h"
#include "paf/smartpaf.h"
#include "util/progress.h"
#include "util/report.h"

struct pn_ag;
struct pn_optim;
struct pn_prg;

/* ---- capture.c ---- */

struct paf_pool_geom {
  int64_t k[2], s[2], p[4];
};

/* Samples of one site's inputs: n samples of w values (one element, or a pool window with zeros in
** the padding), each divided by its batch's dynamic scale s[i]. */
struct paf_samples {
  enum pn_paf_kind kind;
  int w;
  struct paf_pool_geom pool;
  int64_t n, cap;
  float *v, *s;
};

int paf_pool_geom_of(struct pn_ctx *ctx, const struct pn_node *n, struct paf_pool_geom *pg);
/* Run g over n images of split (idx = their indices, NULL = the first n; flip: random horizontal
** flips from prg), top-1 accuracy into *acc (may be NULL), obs called after every node. */
int paf_run_split(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_dataset *ds, enum pn_split split,
                  const int64_t *idx, int64_t n, int batch, bool flip, struct pn_prg *prg,
                  pn_exec_observer obs, void *user, double *acc);
/* One pass of g over `images` random images of split: `samples` samples of each site's input. */
int paf_capture(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_dataset *ds, enum pn_split split,
                const int *site_node, int n_sites, int64_t images, int batch, int64_t samples, uint64_t seed,
                struct paf_samples *S /* OUT [n_sites] */);
void paf_samples_free(struct paf_samples *S, int n);
/* One pass of g (with PAF nodes at paf_node[]) over n images: per site the largest sign input a
** static scale must cover (max |x| for a ReLU, max |a - b| at any tree level for a MaxPool, with
** the node's current coefficients and scale; maxabs may be NULL), sign inputs outside [-1, 1] and
** their total (over/total may be NULL), accuracy. */
int paf_scan(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_dataset *ds, enum pn_split split,
             const int64_t *idx, int64_t n, int batch, const int *paf_node, int n_sites, float *maxabs,
             int64_t *over, int64_t *total, double *acc);

/* ---- ct.c ---- */

/* MSE of form f with coefficients c on the samples (units of x). NAN without samples. */
double paf_ct_mse(enum pn_paf_form f, const float *c, const struct paf_samples *S);
/* Fit c (in: the start, out: the best on val) by Adam on train, `epochs` epochs, with the cover
** term weighted `cover` (0: the paper's CT). val_before/after: the validation data MSE. */
int paf_ct_fit(struct pn_ctx *ctx, enum pn_paf_form f, const struct paf_samples *train,
               const struct paf_samples *val, int epochs, float lr, float cover, uint64_t seed, float *c,
               double *val_before /* OUT */, double *val_after /* OUT */);
/* n cover inputs shaped like `like` (see ct.c). */
int paf_ct_cover(struct pn_ctx *ctx, const struct paf_samples *like, int64_t n, struct paf_samples *out);

/* ---- the run (pipeline.c) ---- */

enum paf_phase { PH_START, PH_BASE, PH_CT, PH_AT, PH_SS, PH_TUNE, PH_DONE, PH_COUNT };

/* Everything a checkpoint holds besides the model. */
struct paf_state {
  enum paf_phase phase;
  int site;                    /* AT: the site being trained */
  int group;                   /* AT: 0 coefficients, 1 weights */
  int n_groups;                /* AT: groups done for this site */
  bool switched;               /* AT: this group started after a switch */
  bool layer_started;          /* AT: site replaced and its baseline measured */
  int epoch;                   /* epochs done in the current group / phase */
  double layer_best, group_best;
  int group_best_epoch, swa_count;
  int at_epochs_site;          /* epochs trained on this site so far */
  bool have_ct;
  float ct_coef[PN_PAF_MAX_SITES][PN_PAF_MAX_COEFFS];
  int64_t opt_step[2];
  double elapsed;              /* seconds of earlier runs */
  double cpu_elapsed;          /* CPU seconds of earlier runs */
};

struct paf_run {
  const struct pn_paf_cfg *cfg;
  struct pn_dataset dsn;       /* the dataset with the model's normalisation */
  const struct pn_dataset *ds;
  struct pn_graph *g;
  struct pn_paf_report *rep;
  int n_sites;
  int site_node[PN_PAF_MAX_SITES];
  struct paf_state st;
  int64_t snap_n;
  float *snap_layer, *snap_group, *swa;
  int64_t *bidx;
  float *bx;
  int32_t *by;
  struct pn_progress bar;
  uint64_t bar_done;
  double t0, cpu0;
  struct pn_optim *opt[2];     /* the live optimisers (their state is checkpointed) */
  struct pn_ag *ag;
  float *opt_saved;            /* optimiser state read from a checkpoint, until restored */
  int64_t opt_saved_n;
  int opt_saved_count;
};

void paf_progress(struct paf_run *run, int steps);
/* Process CPU seconds (all threads). */
double paf_cpu_now(void);
/* Exchange the contents of two graphs (the pipeline's output replaces the caller's graph). */
void paf_graph_swap(struct pn_graph *a, struct pn_graph *b);
/* Max |logit difference| of a and b over the first n validation images. */
int paf_max_logit_diff(struct pn_ctx *ctx, struct pn_graph *a, struct pn_graph *b, const struct pn_dataset *ds,
                       int64_t n, double *out);
void paf_log(struct paf_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- at.c ---- */

int64_t paf_snap_size(const struct pn_graph *g);
void paf_snap_take(const struct pn_graph *g, float *buf);
void paf_snap_restore(struct pn_graph *g, const float *buf);
/* sum += the current float initializers (SWA) */
void paf_snap_add(const struct pn_graph *g, float *sum);
int paf_epoch_prg(struct pn_ctx *ctx, uint64_t seed, const char *tag, int a, int b, int c, struct pn_prg *prg);
/* One epoch of `images` training images (flip augmentation) stepping every optimiser in opts. */
int paf_train_epoch(struct pn_ctx *ctx, struct paf_run *run, struct pn_ag *ag, struct pn_optim *const *opts,
                    int n_opt, int64_t images, const char *tag, int a, int b, int c, double *loss);
int paf_val_acc(struct pn_ctx *ctx, struct paf_run *run, struct pn_ag *ag, double *acc);
int paf_bn_recompute(struct pn_ctx *ctx, struct paf_run *run, struct pn_ag *ag, const char *tag, int a, int b);
/* mask[i] for autograd parameter i: the PAF coefficients named coef, or (coef NULL) the parameters
** of linear nodes strictly between node indices lo and hi. */
void paf_group_mask(const struct pn_graph *g, struct pn_ag *ag, int lo_node, int hi_node, const char *coef,
                    bool *mask);
/* Adam (lr, wd) over ag training mask[] only; PAF coefficient parameters (is_coef) decay too. */
int paf_optim(struct pn_ctx *ctx, struct pn_ag *ag, const bool *mask, const bool *is_coef, float lr, float wd,
              struct pn_optim **out);
/* The autograd engine for run->g (BN statistics frozen) into run->ag. */
int paf_engine(struct pn_ctx *ctx, struct paf_run *run);
void paf_optims_free(struct paf_run *run);
/* is_coef[i]: autograd parameter i is a PAF node's coefficient input. */
void paf_coef_mask(const struct pn_graph *g, struct pn_ag *ag, bool *is_coef);
/* PA + AT over every site, from the state in run->st (resumable). */
int paf_pa_at(struct pn_ctx *ctx, struct paf_run *run);

/* ---- ckpt.c ---- */

int paf_ckpt_save(struct pn_ctx *ctx, struct paf_run *run);
/* Restore run->st, the model (into run->g), snapshots and optimiser state from cfg->resume_path. */
int paf_ckpt_load(struct pn_ctx *ctx, struct paf_run *run);
/* Put the checkpoint's optimiser state into run->opt[] (nothing if it held none). */
int paf_ckpt_optim_restore(struct pn_ctx *ctx, struct paf_run *run);
/* Parse a checkpoint image (the fuzzer's entry point): the state JSON, the model bytes and the
** float arrays, validated for structure and CRC. Pointers point into buf. */
struct paf_ckpt_view {
  const char *state_json;
  size_t state_len;
  const uint8_t *model;
  size_t model_len;
  const float *arr[4];         /* snap_layer, snap_group, swa, optimiser state */
  int64_t arr_len[4];
};
int paf_ckpt_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n, struct paf_ckpt_view *v);
/* The state JSON of a checkpoint, validated field by field against cfg and n_sites (the report's
** sites must be named already). PN_ERR_CORRUPT names the field, PN_ERR_MISMATCH another config. */
int paf_ckpt_state(struct pn_ctx *ctx, const char *path, const char *json, size_t len, const struct pn_paf_cfg *cfg,
                   int n_sites, struct paf_state *st, struct pn_paf_report *rep, int *n_opt);

#endif
