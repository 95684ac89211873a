/* at.c - SmartPAF's training pieces on the autograd engine: epochs of a parameter group with
** BatchNormalization statistics frozen, validation, SWA averages with BN statistics recomputed,
** snapshots of the model's float initializers, and the Alternate Training state machine.
**
** A snapshot is every float initializer of the graph (weights, PAF coefficients and scales, BN
** running statistics) in graph order, so restoring one is exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "nn/autograd.h"
#include "nn/dataset.h"
#include "nn/optim.h"
#include "nn/train.h"
#include "paf/paf_impl.h"
#include "util/util.h"

/* ---- snapshots ---- */

int64_t paf_snap_size(const struct pn_graph *g) {
  int64_t n = 0;
  for (int i = 0; i < g->n_inits; i++)
    if (g->inits[i]->dtype == PN_DT_FLOAT) n += pn_tensor_numel(g->inits[i]);
  return n;
}

void paf_snap_take(const struct pn_graph *g, float *buf) {
  for (int i = 0; i < g->n_inits; i++) {
    const struct pn_tensor *t = g->inits[i];
    if (t->dtype != PN_DT_FLOAT) continue;
    int64_t n = pn_tensor_numel(t);
    memcpy(buf, t->data, sizeof(float) * (size_t)n);
    buf += n;
  }
}

void paf_snap_add(const struct pn_graph *g, float *sum) {
  for (int i = 0; i < g->n_inits; i++) {
    const struct pn_tensor *t = g->inits[i];
    if (t->dtype != PN_DT_FLOAT) continue;
    int64_t n = pn_tensor_numel(t);
    const float *p = t->data;
    for (int64_t j = 0; j < n; j++) sum[j] += p[j];
    sum += n;
  }
}

void paf_snap_restore(struct pn_graph *g, const float *buf) {
  for (int i = 0; i < g->n_inits; i++) {
    struct pn_tensor *t = g->inits[i];
    if (t->dtype != PN_DT_FLOAT) continue;
    int64_t n = pn_tensor_numel(t);
    memcpy(t->data, buf, sizeof(float) * (size_t)n);
    buf += n;
  }
}

/* ---- one epoch ---- */

/* The PRG of one epoch of one phase: (seed, tag, a, b, c) -> a fresh stream, so a resumed run
** draws what the interrupted one would have. */
int paf_epoch_prg(struct pn_ctx *ctx, uint64_t seed, const char *tag, int a, int b, int c,
                  struct pn_prg *prg) {
  uint8_t base[PN_SEED_BYTES] = {0}, s[PN_SEED_BYTES];
  memcpy(base, &seed, sizeof seed);
  uint64_t ctr = ((uint64_t)(uint16_t)a << 40) | ((uint64_t)(uint16_t)b << 20) | (uint64_t)(uint16_t)c;
  pn_seed_derive(base, tag, ctr, s);
  int rc = pn_prg_init(ctx, prg, s);
  pn_wipe(s, sizeof s);
  return rc;
}

int paf_train_epoch(struct pn_ctx *ctx, struct paf_run *run, struct pn_ag *ag, struct pn_optim *const *opts,
                    int n_opt, int64_t images, const char *tag, int a, int b, int c, double *loss_out) {
  const struct pn_paf_cfg *cfg = run->cfg;
  const struct pn_dataset *ds = run->ds;
  int64_t n_train = ds->n[PN_SPLIT_TRAIN], steps = images / cfg->batch;
  if (steps < 1) steps = 1;
  struct pn_prg prg;
  memset(&prg, 0, sizeof prg);
  int rc = paf_epoch_prg(ctx, cfg->seed, tag, a, b, c, &prg);
  if (rc) return rc;
  double sum = 0;
  int64_t counted = 0;
  for (int64_t s = 0; !rc && s < steps; s++) {
    if (cfg->stop && *cfg->stop) {
      rc = pn_err(ctx, PN_ERR_INTERRUPTED, "interrupted; the last checkpoint is intact");
      break;
    }
    for (int i = 0; i < cfg->batch; i++) run->bidx[i] = (int64_t)pn_prg_uniform(&prg, (uint64_t)n_train);
    pn_dataset_batch(ds, PN_SPLIT_TRAIN, run->bidx, cfg->batch, 0, 1, &prg, run->bx, run->by);
    const float *z;
    rc = pn_ag_forward(ctx, ag, run->bx, cfg->batch, true, &z);
    if (rc) break;
    double l = pn_ag_softmax_xent(ag, run->by, NULL);
    if (!isfinite(l) || l > 1e4) {
      /* a batch whose activations left a form's range: its gradient would wreck the optimiser */
      run->rep->skipped_batches++;
      paf_progress(run, 1);
      continue;
    }
    sum += l;
    counted++;
    if ((rc = pn_ag_backward(ctx, ag))) break;
    for (int k = 0; k < n_opt; k++) pn_optim_step(opts[k]);
    paf_progress(run, 1);
  }
  pn_prg_free(&prg);
  if (!rc && loss_out) *loss_out = counted ? sum / (double)counted : NAN;
  return rc;
}

int paf_val_acc(struct pn_ctx *ctx, struct paf_run *run, struct pn_ag *ag, double *acc) {
  double loss;
  return pn_evaluate(ctx, ag, run->ds, PN_SPLIT_VAL, run->cfg->max_val, run->cfg->eval_batch, &loss, acc, NULL);
}

/* BN statistics recomputed as the average of batch statistics over cfg->bn_images training images
** (torch's update_bn for an SWA model). */
int paf_bn_recompute(struct pn_ctx *ctx, struct paf_run *run, struct pn_ag *ag, const char *tag, int a, int b) {
  const struct pn_paf_cfg *cfg = run->cfg;
  struct pn_prg prg;
  memset(&prg, 0, sizeof prg);
  int rc = paf_epoch_prg(ctx, cfg->seed, tag, a, b, 0x7fff, &prg);
  if (rc) return rc;
  pn_ag_set_bn(ag, PN_AG_BN_AVERAGE);
  int64_t n_train = run->ds->n[PN_SPLIT_TRAIN];
  for (int64_t done = 0; !rc && done < cfg->bn_images; done += cfg->batch) {
    for (int i = 0; i < cfg->batch; i++) run->bidx[i] = (int64_t)pn_prg_uniform(&prg, (uint64_t)n_train);
    pn_dataset_batch(run->ds, PN_SPLIT_TRAIN, run->bidx, cfg->batch, 0, 1, &prg, run->bx, run->by);
    const float *z;
    rc = pn_ag_forward(ctx, ag, run->bx, cfg->batch, true, &z);
  }
  pn_ag_set_bn(ag, PN_AG_BN_FROZEN);
  pn_prg_free(&prg);
  return rc;
}

/* ---- parameter groups ---- */

static bool is_linear(const struct pn_node *n) {
  bool onnx = !n->domain || !*n->domain || !strcmp(n->domain, "ai.onnx");
  return onnx && (!strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "MatMul") ||
                  !strcmp(n->op_type, "BatchNormalization"));
}

void paf_group_mask(const struct pn_graph *g, struct pn_ag *ag, int lo_node, int hi_node, const char *coef,
                    bool *mask) {
  int np = pn_ag_n_params(ag);
  for (int i = 0; i < np; i++) {
    const char *name = pn_ag_param(ag, i)->name;
    mask[i] = coef && !strcmp(name, coef);
    for (int k = lo_node + 1; !coef && k < hi_node; k++) {
      const struct pn_node *n = g->nodes[k];
      if (!is_linear(n)) continue;
      for (int j = 1; j < n->n_in; j++)
        if (*n->in[j] && !strcmp(n->in[j], name)) mask[i] = true;
    }
  }
}

int paf_optim(struct pn_ctx *ctx, struct pn_ag *ag, const bool *mask, const bool *is_coef, float lr, float wd,
              struct pn_optim **out) {
  struct pn_optim_cfg oc = pn_optim_defaults(PN_OPT_ADAM);
  oc.lr = lr;
  oc.weight_decay = wd;
  oc.sched = PN_SCHED_CONST;
  int rc = pn_optim_new(ctx, &oc, ag, out);
  if (rc) return rc;
  for (int i = 0; i < pn_ag_n_params(ag); i++) {
    pn_optim_set_trainable(*out, i, mask[i]);
    if (is_coef[i]) pn_ag_param(ag, i)->decay = true;
  }
  return PN_OK;
}

/* ---- PA + AT ---- */

/* The autograd engine for the current model, BN statistics frozen. */
int paf_engine(struct pn_ctx *ctx, struct paf_run *run) {
  pn_ag_free(run->ag);
  run->ag = NULL;
  int mb = run->cfg->batch > run->cfg->eval_batch ? run->cfg->batch : run->cfg->eval_batch;
  struct pn_ag_opts ao = {.max_batch = mb, .dropout_seed = run->cfg->seed};
  int rc = pn_ag_new(ctx, run->g, &ao, &run->ag);
  if (!rc) pn_ag_set_bn(run->ag, PN_AG_BN_FROZEN);
  return rc;
}

void paf_optims_free(struct paf_run *run) {
  for (int k = 0; k < 2; k++) {
    pn_optim_free(run->opt[k]);
    run->opt[k] = NULL;
  }
}

/* is_coef[i]: autograd parameter i is the coefficient input of a PAF node. */
void paf_coef_mask(const struct pn_graph *g, struct pn_ag *ag, bool *is_coef) {
  for (int i = 0; i < pn_ag_n_params(ag); i++) {
    is_coef[i] = false;
    for (int k = 0; k < g->n_nodes; k++)
      if (pn_paf_node_kind(g->nodes[k]) >= 0 && g->nodes[k]->n_in > 1 && !strcmp(g->nodes[k]->in[1], pn_ag_param(ag, i)->name))
        is_coef[i] = true;
  }
}

/* The optimiser of site k's current group (a fresh one, or restored state on resume). */
static int group_optim(struct pn_ctx *ctx, struct paf_run *run, int k, bool fresh) {
  const struct pn_paf_cfg *cfg = run->cfg;
  struct paf_state *st = &run->st;
  int np = pn_ag_n_params(run->ag);
  bool *mask = calloc((size_t)np + 1, sizeof *mask), *coef = calloc((size_t)np + 1, sizeof *coef);
  int rc = mask && coef ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc) {
    const struct pn_node *n = run->g->nodes[run->site_node[k]];
    int lo = k > 0 ? run->site_node[k - 1] : -1;
    paf_group_mask(run->g, run->ag, lo, run->site_node[k], st->group == 0 ? n->in[1] : NULL, mask);
    paf_coef_mask(run->g, run->ag, coef);
    paf_optims_free(run);
    rc = paf_optim(ctx, run->ag, mask, coef, st->group == 0 ? cfg->at_lr_coef : cfg->at_lr_weight,
                   st->group == 0 ? cfg->at_wd_coef : cfg->at_wd_weight, &run->opt[0]);
  }
  if (!rc) rc = pn_ag_set_need_grad(ctx, run->ag, mask);
  if (!rc && !fresh) rc = paf_ckpt_optim_restore(ctx, run);
  free(mask);
  free(coef);
  return rc;
}

/* Replace site k by its PAF (CT or base coefficients, dynamic scale), measure, start its AT. */
static int layer_start(struct pn_ctx *ctx, struct paf_run *run, int k) {
  struct paf_state *st = &run->st;
  struct pn_node *n = run->g->nodes[run->site_node[k]];
  int rc = pn_paf_replace(ctx, run->g, n, run->cfg->form, st->have_ct ? st->ct_coef[k] : NULL, 0);
  if (rc) return rc;
  if ((rc = paf_engine(ctx, run))) return rc;
  double acc;
  if ((rc = paf_val_acc(ctx, run, run->ag, &acc))) return rc;
  st->layer_best = acc;
  st->group = 0;
  st->n_groups = 0;
  st->switched = false;
  st->epoch = 0;
  st->at_epochs_site = 0;
  st->layer_started = true;
  /* the snapshot size changes with the new coefficient initializer */
  run->snap_n = paf_snap_size(run->g);
  free(run->snap_layer);
  free(run->snap_group);
  free(run->swa);
  run->snap_layer = malloc(sizeof(float) * (size_t)run->snap_n);
  run->snap_group = malloc(sizeof(float) * (size_t)run->snap_n);
  run->swa = calloc((size_t)run->snap_n, sizeof(float));
  if (!run->snap_layer || !run->snap_group || !run->swa) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  paf_snap_take(run->g, run->snap_layer);
  paf_log(run, "pa: site %d/%d '%s' replaced by %s: val accuracy %.4f", k + 1, run->n_sites,
          run->rep->sites[k].name, pn_paf_form_name(run->cfg->form), acc);
  return PN_OK;
}

/* The end of a group: the better of its best epoch and its SWA average, if it beats the layer's
** best; then the switching rule. Sets *done when the layer is finished. */
static int group_end(struct pn_ctx *ctx, struct paf_run *run, int k, bool *done) {
  const struct pn_paf_cfg *cfg = run->cfg;
  struct paf_state *st = &run->st;
  int rc = PN_OK;
  double swa_acc = -1;
  if (st->swa_count > 0) {
    float *avg = malloc(sizeof(float) * (size_t)run->snap_n);
    if (!avg) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < run->snap_n; i++) avg[i] = run->swa[i] / (float)st->swa_count;
    paf_snap_restore(run->g, avg);
    free(avg);
    rc = paf_bn_recompute(ctx, run, run->ag, "privnn.paf.swa-bn", k, st->n_groups);
    if (!rc) rc = paf_val_acc(ctx, run, run->ag, &swa_acc);
    if (rc) return rc;
  }
  bool swa_wins = swa_acc > st->group_best;
  double cand = swa_wins ? swa_acc : st->group_best;
  bool improved = cand > st->layer_best;
  if (improved) {
    if (!swa_wins) paf_snap_restore(run->g, run->snap_group);
    paf_snap_take(run->g, run->snap_layer);
    st->layer_best = cand;
  } else {
    paf_snap_restore(run->g, run->snap_layer);
  }
  bool early = st->group_best_epoch < cfg->at_epochs / 2 && !swa_wins;
  paf_log(run, "at: site %d/%d group %d (%s): best epoch %.4f (epoch %d), SWA %.4f -> %s; layer best %.4f", k + 1,
          run->n_sites, st->n_groups + 1, st->group ? "weights" : "coefficients", st->group_best,
          st->group_best_epoch + 1, swa_acc, improved ? (swa_wins ? "SWA kept" : "best epoch kept") : "no gain",
          st->layer_best);
  st->n_groups++;
  st->epoch = 0;
  *done = false;
  if (!improved && st->switched) {
    *done = true;
  } else if (!improved || early) {
    st->group ^= 1;
    st->switched = true;
  } else {
    st->switched = false;
  }
  if (st->n_groups >= cfg->at_groups) *done = true;
  return PN_OK;
}

int paf_pa_at(struct pn_ctx *ctx, struct paf_run *run) {
  const struct pn_paf_cfg *cfg = run->cfg;
  struct paf_state *st = &run->st;
  int rc = PN_OK;
  /* resumed in the middle of a group: its optimiser state, SWA sums and best epoch come from the
  ** checkpoint */
  bool resumed_group = st->layer_started && st->epoch > 0;
  for (; !rc && st->site < run->n_sites; st->site++) {
    int k = st->site;
    if (!st->layer_started) {
      if ((rc = layer_start(ctx, run, k))) break;
      if ((rc = paf_ckpt_save(ctx, run))) break;
    } else if (!run->ag && (rc = paf_engine(ctx, run))) {
      break;
    }
    bool done = st->n_groups >= cfg->at_groups;
    while (!rc && !done) {
      bool fresh = st->epoch == 0 && !resumed_group;
      if (st->epoch == 0 && !resumed_group) {
        st->group_best = -1;
        st->group_best_epoch = 0;
        st->swa_count = 0;
        memset(run->swa, 0, sizeof(float) * (size_t)run->snap_n);
      }
      if ((rc = group_optim(ctx, run, k, fresh))) break;
      resumed_group = false;
      int64_t steps = cfg->at_images / cfg->batch;
      if (cfg->progress) {
        pn_progress_start_unit(&run->bar, "at", "batches", (uint64_t)(steps * (cfg->at_epochs - st->epoch)));
        snprintf(run->bar.label, sizeof run->bar.label, "at %d/%d %s g%d", k + 1, run->n_sites,
                 st->group ? "w" : "c", st->n_groups + 1);
        run->bar_done = 0;
      }
      for (; !rc && st->epoch < cfg->at_epochs; st->epoch++) {
        double loss, acc;
        rc = paf_train_epoch(ctx, run, run->ag, run->opt, 1, cfg->at_images, "privnn.paf.at", k,
                             st->n_groups, st->epoch, &loss);
        if (!rc) rc = paf_val_acc(ctx, run, run->ag, &acc);
        if (rc) break;
        if (acc > st->group_best) {
          st->group_best = acc;
          st->group_best_epoch = st->epoch;
          paf_snap_take(run->g, run->snap_group);
        }
        /* SWA sums every epoch's parameters (BN statistics are frozen, so they stay equal) */
        paf_snap_add(run->g, run->swa);
        st->swa_count++;
        st->at_epochs_site++;
        if (cfg->progress) pn_progress_end(&run->bar);
        paf_log(run, "at: site %d/%d group %d (%s) epoch %d/%d: train loss %.4f, val accuracy %.4f", k + 1,
                run->n_sites, st->n_groups + 1, st->group ? "weights" : "coefficients", st->epoch + 1,
                cfg->at_epochs, loss, acc);
        st->epoch++;
        rc = paf_ckpt_save(ctx, run);
        st->epoch--;
      }
      if (cfg->progress) pn_progress_end(&run->bar);
      if (rc) break;
      if ((rc = group_end(ctx, run, k, &done))) break;
      paf_optims_free(run);
      if (!done && (rc = paf_ckpt_save(ctx, run))) break;
    }
    if (rc) break;
    struct pn_paf_site_report *sr = &run->rep->sites[k];
    sr->at_groups = st->n_groups;
    sr->at_epochs = st->at_epochs_site;
    sr->at_acc = st->layer_best;
    st->layer_started = false;
    if (st->site + 1 < run->n_sites) {
      st->site++;
      rc = paf_ckpt_save(ctx, run);
      st->site--;
    }
  }
  paf_optims_free(run);
  return rc;
}
