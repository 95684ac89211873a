/* smartpaf.h - the SmartPAF pipeline: replace a model's ReLU and MaxPool by PAFs (graph/paf.h) and
** win the accuracy back with the paper's techniques, each selectable:
**
**   baseline  replace every site at once with the base coefficients (dynamic scale), fine-tune
**             every parameter with Adam at a tiny learning rate (the paper's baseline)
**   ct        Coefficient Tuning: one pass of the ORIGINAL model over training images stores
**             samples of every site's input (with its dynamic scale); each site's coefficients are
**             fitted to the exact op by MSE (Adam, ReduceLROnPlateau on validation samples)
**   pa + at   Progressive Approximation in inference order, each step followed by Alternate
**             Training: a coefficient group (this site's coefficients) and a weight group (the
**             Conv/BN/Gemm between the previous site and this one) take turns, each for a group of
**             epochs with BatchNormalization statistics frozen, keeping the better of the group's
**             best epoch and its SWA average (BN statistics recomputed), if it beats the layer's
**             best; switch group when a group brings nothing or its best epoch fell in its first
**             half; a layer is done when a group right after a switch brings nothing
**   ss        Static Scale: one pass over training images records max |x| of every PAF input,
**             which replaces the dynamic scale (no training under it, as in the paper)
**   sstune    privnn's addition: a last fine-tune with the static scales that will be deployed
**
** Selection and early stopping read the validation split only; the test split is read only with
** cfg.eval_test, once per stage model, for the report. The pipeline checkpoints after every unit
** of work (a CT layer, an epoch); resume with the same configuration continues bit for bit. */
#ifndef PN_PAF_SMARTPAF_H
#define PN_PAF_SMARTPAF_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "graph/paf.h"

struct pn_ctx;
struct pn_graph;
struct pn_dataset;

enum pn_paf_tech {
  PN_PAF_T_BASELINE = 1 << 0,
  PN_PAF_T_CT = 1 << 1,
  PN_PAF_T_PA = 1 << 2,
  PN_PAF_T_AT = 1 << 3,
  PN_PAF_T_SS = 1 << 4,
  PN_PAF_T_SSTUNE = 1 << 5,
};

/* Parse "ct,pa,at,ss" (names: baseline ct pa at ss sstune). Checks the combination: baseline
** excludes ct/pa/at, pa and at go together, sstune needs ss. PN_ERR_INVALID with a sentence. */
int pn_paf_tech_parse(struct pn_ctx *ctx, const char *s, unsigned *out /* OUT */);
/* "ct,pa,at,ss" into buf. */
char *pn_paf_tech_str(unsigned tech, char *buf, int n);

struct pn_paf_cfg {
  enum pn_paf_form form;
  unsigned tech;
  uint64_t seed;
  int batch;                   /* training batch (paper: 100) */
  int eval_batch;              /* validation/test batch (the dynamic scale depends on it) */
  int threads;                 /* 0 = leave the defaults */
  /* CT */
  int ct_images;               /* training images of the capture pass */
  int ct_samples;              /* inputs (or pool windows) kept per site */
  int ct_epochs;
  float ct_lr;
  float ct_cover;              /* privnn: weight of the error on inputs spread over [-1, 1] (0 = paper) */
  /* PA + AT */
  int at_images;               /* training images per AT epoch */
  int at_epochs;               /* epochs per group (paper: 20) */
  int at_groups;               /* at most this many groups per layer */
  float at_lr_coef, at_wd_coef, at_lr_weight, at_wd_weight;
  int bn_images;               /* images to recompute BN statistics of an SWA candidate */
  /* baseline */
  int base_epochs, base_images;
  float base_lr;
  /* SS and the SS-aware tune */
  int ss_images;               /* training images scanned for the static scales */
  float ss_margin;             /* scale = margin * max |x| (paper: 1) */
  int tune_epochs, tune_images;
  float tune_lr_coef, tune_lr_weight;
  bool fold;                   /* fold static scales and ReLU's 1/2 into linear layers (output) */
  bool eval_test;              /* read the test split once per stage model */
  int64_t max_val;             /* use only the first validation images (0 = all): tests */
  const char *ckpt_path;       /* NULL = no checkpoints */
  const char *resume_path;
  volatile sig_atomic_t *stop; /* polled after every batch */
  bool progress;               /* progress bar on stderr */
  void (*log)(void *user, const char *line);   /* one line per event (may be NULL) */
  void *user;
};

/* The defaults (a whole pipeline for a small model in about 30 minutes on two cores). */
void pn_paf_cfg_defaults(struct pn_paf_cfg *cfg, enum pn_paf_form form);

#define PN_PAF_MAX_SITES 64
#define PN_PAF_MAX_STAGES_REPORTED 8

struct pn_paf_site_report {
  char name[96];               /* the node */
  enum pn_paf_kind kind;
  int window;                  /* MaxPool kh*kw, 1 for ReLU */
  double ct_mse_base, ct_mse;  /* CT: validation-sample MSE with the base and tuned coefficients */
  int at_groups, at_epochs;    /* AT: groups and epochs trained */
  double at_acc;               /* validation accuracy when this site's AT ended */
  float scale;                 /* SS: the static scale (0 = dynamic) */
  double overflow_val, overflow_test; /* fraction of sign inputs outside [-1, 1] under SS */
  int64_t sign_inputs_val, sign_inputs_test;
  int depth;                   /* CKKS levels of this activation as deployed */
};

struct pn_paf_stage_report {
  char name[32];               /* what was done + the scale: "baseline+ds", "ct+ds", "ct+pa+at+ds",
                               ** "ct+pa+at+ss" (SmartPAF), "ct+pa+at+ss+tune" (privnn) */
  double acc_val, acc_test;    /* acc_test < 0 when not measured */
  double seconds;              /* cumulative wall time when the stage ended */
};

struct pn_paf_report {
  enum pn_paf_form form;
  unsigned tech;
  int n_sites;
  struct pn_paf_site_report sites[PN_PAF_MAX_SITES];
  int n_stages;
  struct pn_paf_stage_report stages[PN_PAF_MAX_STAGES_REPORTED];
  double acc_val_original;     /* the model before replacement */
  double acc_val, acc_test;    /* of the output model (acc_test < 0 unless eval_test) */
  double max_logit_diff_fold;  /* folded vs unfolded output model, on validation images */
  int folded_unit_scale, folded_unit_gain, paf_nodes;
  double seconds;              /* wall time (a resumed run adds the checkpoint's) */
  double cpu_seconds;          /* process CPU time, all threads (likewise): what a busy machine does
                               ** not inflate */
  int64_t skipped_batches;     /* training batches left out: non-finite or exploding loss */
  bool resumed;
};

/* Run the pipeline on g (a model with ReLU and/or MaxPool; it is changed in place into the output
** model). Data normalisation follows the model's privnn.normalize metadata. Errors:
** PN_ERR_INVALID for a model without ReLU/MaxPool or a bad configuration, PN_ERR_INTERRUPTED when
** *stop was set (the last checkpoint is intact), checkpoint errors name the file. */
int pn_paf_approximate(struct pn_ctx *ctx, const struct pn_paf_cfg *cfg, const struct pn_dataset *ds,
                       struct pn_graph *g, struct pn_paf_report *rep /* OUT */);

/* The report as JSON (keys: form, techniques, accuracy_val, accuracy_test (only when measured),
** overflow, seconds, depth, stages, layers with per-layer scale, ...), and back (for resuming). */
struct cJSON;
struct cJSON *pn_paf_report_json(const struct pn_paf_report *rep);
int pn_paf_report_from_json(struct pn_ctx *ctx, const struct cJSON *o, struct pn_paf_report *rep);

/* The sites of g: its Relu and MaxPool nodes in topological (inference) order, node indices into
** idx[0..cap). Sorts g. Returns the count, or a negative status. */
int pn_paf_sites(struct pn_ctx *ctx, struct pn_graph *g, int *idx, int cap);

#endif
