/* train.h - the training loop: epochs of shuffled augmented batches, validation, checkpoints.
**
** Training only ever reads the train split; each epoch ends with an evaluation on the validation
** split. A checkpoint (every float initializer, optimiser state, step, per-epoch history) is written
** atomically after every epoch, so an interrupted run (Ctrl-C sets *stop) leaves the last complete
** checkpoint intact and --resume continues bit-for-bit: epoch e's shuffle and augmentation come
** from a PRG derived from (seed, e). */
#ifndef PN_NN_TRAIN_H
#define PN_NN_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "../graph/exec.h"
#include "autograd.h"
#include "dataset.h"
#include "optim.h"
#include "../util/api.h"

struct pn_ctx;
struct pn_graph;
struct pn_ag;

struct pn_epoch_stats {
  int epoch;                 /* 1-based */
  double train_loss, train_acc, val_loss, val_acc, lr, seconds, images_per_s;
};

struct pn_train_cfg {
  const char *arch;          /* recorded in the checkpoint and checked on resume */
  int epochs, batch;
  uint64_t seed;
  struct pn_optim_cfg opt;   /* total_steps/warmup are filled from epochs when 0 */
  int pad;                   /* augmentation: random shift in [-pad, pad]; 0 = none */
  bool flip;                 /* augmentation: horizontal flip */
  int64_t max_train, max_val; /* use only the first images of a split (0 = all): tests */
  const char *ckpt_path;     /* NULL = no checkpoints */
  const char *resume_path;   /* NULL = start fresh */
  volatile sig_atomic_t *stop; /* polled after every batch; may be NULL */
  bool progress;             /* draw a progress bar on stderr */
  pn_ag_hook hook;           /* forward hook set on the engine, for training and validation
                             ** (pn_ag_set_hook; NULL = none) */
  void *hook_user;
  bool keep_best;            /* validation-selected: also evaluate before the first epoch, and end
                             ** with the float initializers of the best validation accuracy so far
                             ** in this run (the starting point included; ties keep the earlier) */
  /* Called after each epoch (e.g. to print a line); may be NULL. */
  void (*on_epoch)(void *user, const struct pn_epoch_stats *st);
  void *user;
};

struct pn_train_result {
  int epochs_done;
  int best_epoch;            /* keep_best: the epoch restored (0 = the starting point) */
  double start_val_loss, start_val_acc; /* keep_best: validation before the first epoch */
  struct pn_epoch_stats hist[1024];
  double seconds;            /* training time of this run (excluding resumed epochs) */
  double cpu_seconds;        /* process CPU time of this run's training steps (all threads) */
  int64_t images;            /* training images processed by this run */
  double conv_seconds, conv_cpu_seconds, conv_flops; /* Conv fwd+bwd: wall, CPU time, sgemm flops */
};

/* Train g (built by pn_arch_build or loaded) in place on ds. Returns PN_ERR_INTERRUPTED when *stop
** was set (the checkpoint of the last complete epoch is intact). */
PN_API int pn_train(struct pn_ctx *ctx, const struct pn_train_cfg *cfg, const struct pn_dataset *ds,
                    struct pn_graph *g, struct pn_train_result *res /* OUT */);

/* Evaluate a trained engine on a split in inference mode: mean loss, top-1 accuracy and the
** confusion matrix conf[true * ds->classes + pred] (ds->classes^2 counts, zeroed here; may be NULL;
** a prediction >= ds->classes, from a model with more outputs than the dataset has classes, is
** counted wrong and left out of it). n_limit = 0 for the whole split. The model must have at least
** ds->classes outputs (else PN_ERR_INVALID). */
PN_API int pn_evaluate(struct pn_ctx *ctx, struct pn_ag *ag, const struct pn_dataset *ds,
                       enum pn_split s,
                       int64_t n_limit, int batch, double *loss, double *acc,
                       int64_t *conf /* OUT, may be NULL */);

/* Evaluate a model with the plaintext executor (how `privnn eval` and SmartPAF measure): the first
** n images of split s (idx: these images instead, n of them), in batches, optionally flipped at
** random from prg; observer sees every node (may be NULL). */
struct pn_eval_opts {
  const int64_t *idx;
  int64_t n;                 /* 0 = the whole split (without idx) */
  int batch;                 /* 0 = 250 */
  int flip;
  struct pn_prg *prg;
  pn_exec_observer observer;
  void *observer_user;
  bool progress;             /* a bar on stderr (TTY only; PN_NO_PROGRESS turns it off) */
  int64_t *conf;             /* NULL, or ds->classes^2 counts filled as pn_evaluate's */
};
struct pn_eval_result {
  int64_t n;
  double loss, acc;
};
PN_API int pn_evaluate_exec(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_dataset *ds, enum pn_split s,
                     const struct pn_eval_opts *o, struct pn_eval_result *r /* OUT */);

/* Checkpoints: the graph's float initializers + optimiser state + progress, CRC-protected. */
PN_API int pn_ckpt_save(struct pn_ctx *ctx, const char *path, const struct pn_train_cfg *cfg,
                        struct pn_graph *g, struct pn_ag *ag, struct pn_optim *opt,
                        const struct pn_train_result *res);
/* Restore into g/opt (which must be the same architecture); fills res->hist and epochs_done. */
PN_API int pn_ckpt_load(struct pn_ctx *ctx, const char *path, const struct pn_train_cfg *cfg,
                        struct pn_graph *g, struct pn_ag *ag, struct pn_optim *opt,
                        struct pn_train_result *res);

#endif
