/* optim.h - optimisers (SGD momentum/Nesterov, Adam/AdamW), weight decay, LR schedules, freezing.
**
** An optimiser updates the parameters of an autograd engine in place from their gradients. Each
** parameter can be frozen (SmartPAF's alternate training trains one group at a time). The learning
** rate follows a schedule of the global step: linear warm-up, then constant, cosine or step decay. */
#ifndef PN_NN_OPTIM_H
#define PN_NN_OPTIM_H

#include <stdbool.h>
#include <stdint.h>
#include "../util/api.h"

struct pn_ctx;
struct pn_ag;

enum pn_opt_kind { PN_OPT_SGD = 0, PN_OPT_ADAM = 1, PN_OPT_ADAMW = 2, PN_OPT_KIND_COUNT = 3 };
enum pn_sched_kind { PN_SCHED_CONST = 0, PN_SCHED_COSINE = 1, PN_SCHED_STEP = 2, PN_SCHED_COUNT = 3 };

struct pn_optim_cfg {
  enum pn_opt_kind kind;
  float lr;                  /* peak learning rate */
  float momentum;            /* SGD */
  bool nesterov;             /* SGD */
  float beta1, beta2, eps;   /* Adam/AdamW */
  float weight_decay;        /* SGD, Adam: L2 added to the gradient; AdamW: decoupled */
  enum pn_sched_kind sched;
  int64_t warmup_steps;      /* linear warm-up from 0 */
  int64_t total_steps;       /* cosine: decays to min_lr_frac * lr at total_steps */
  float min_lr_frac;
  int64_t step_size;         /* step: lr *= gamma every step_size steps (after warm-up) */
  float gamma;
};

/* Defaults: SGD momentum 0.9 Nesterov, lr 0.05, wd 5e-4, cosine; betas (0.9, 0.999), eps 1e-8. */
PN_API struct pn_optim_cfg pn_optim_defaults(enum pn_opt_kind kind);
/* "sgd" / "adam" / "adamw" → kind; -1 when unknown. */
PN_API int pn_opt_parse(const char *s);
PN_API const char *pn_opt_name(enum pn_opt_kind k);

struct pn_optim;

/* An optimiser over every parameter of ag (all trainable). NULL → PN_ERR_NOMEM. */
PN_API int pn_optim_new(struct pn_ctx *ctx, const struct pn_optim_cfg *cfg, struct pn_ag *ag,
                        struct pn_optim **out /* OUT */);
PN_API void pn_optim_free(struct pn_optim *o);

/* Freeze (false) or unfreeze parameter i; frozen parameters and their state are left untouched. */
PN_API void pn_optim_set_trainable(struct pn_optim *o, int i, bool trainable);
PN_API bool pn_optim_trainable(const struct pn_optim *o, int i);
/* Set trainable for every parameter whose name contains substr; returns how many matched. */
PN_API int pn_optim_set_trainable_matching(struct pn_optim *o, const char *substr, bool trainable);

/* The learning rate at a step (0-based). */
PN_API float pn_optim_lr_at(const struct pn_optim_cfg *cfg, int64_t step);
/* One update from the current gradients; advances the step counter. */
PN_API void pn_optim_step(struct pn_optim *o);
PN_API int64_t pn_optim_get_step(const struct pn_optim *o);
PN_API void pn_optim_set_step(struct pn_optim *o, int64_t step);

/* Per-parameter optimiser state for checkpoints: slot 0 = momentum / Adam m, slot 1 = Adam v
** (NULL for SGD). numel floats each, same order as pn_ag_param. */
PN_API float *pn_optim_state(struct pn_optim *o, int param, int slot);

#endif
