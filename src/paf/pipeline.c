/* pipeline.c - pn_paf_approximate: the SmartPAF phases in order (baseline | CT, PA + AT), SS, the
** SS-aware tune, folding, with a checkpoint after every unit of work and a report of every stage.
**
** Phases: START (the original model's validation accuracy) -> BASE (the paper's baseline) or CT ->
** AT (progressive approximation with alternate training) -> SS (static scales from a pass over
** training images; overflow on validation and test) -> TUNE (privnn's SS-aware fine-tune) -> DONE
** (scales folded). Every stage's model is evaluated on validation; with cfg->eval_test also once on
** test, and the last stage on the output model itself (after folding). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph/exec.h"
#include "graph/ir.h"
#include "graph/paf.h"
#include "nn/autograd.h"
#include "nn/optim.h"
#include "paf/paf_impl.h"
#include "util/util.h"

static const char *const tech_names[] = {"baseline", "ct", "pa", "at", "ss", "sstune"};

int pn_paf_tech_parse(struct pn_ctx *ctx, const char *s, unsigned *out) {
  unsigned t = 0;
  const char *p = s ? s : "";
  while (*p) {
    size_t len = strcspn(p, ",");
    int k = -1;
    for (int i = 0; i < (int)(sizeof tech_names / sizeof *tech_names); i++)
      if (strlen(tech_names[i]) == len && !strncmp(p, tech_names[i], len)) k = i;
    if (k < 0)
      return pn_err(ctx, PN_ERR_INVALID, "unknown technique '%.*s' (baseline, ct, pa, at, ss, sstune)", (int)len, p);
    t |= 1u << k;
    p += len;
    if (*p == ',') p++;
  }
  if (!t) return pn_err(ctx, PN_ERR_INVALID, "no technique given (baseline, ct, pa, at, ss, sstune)");
  if ((t & PN_PAF_T_BASELINE) && (t & (PN_PAF_T_CT | PN_PAF_T_PA | PN_PAF_T_AT)))
    return pn_err(ctx, PN_ERR_INVALID, "baseline replaces every site at once: it excludes ct, pa and at");
  if (!(t & PN_PAF_T_PA) != !(t & PN_PAF_T_AT))
    return pn_err(ctx, PN_ERR_INVALID, "pa and at go together (each progressive step is trained by alternate training)");
  if ((t & PN_PAF_T_SSTUNE) && !(t & PN_PAF_T_SS))
    return pn_err(ctx, PN_ERR_INVALID, "sstune fine-tunes under the static scales: it needs ss");
  *out = t;
  return PN_OK;
}

char *pn_paf_tech_str(unsigned tech, char *buf, int n) {
  int o = 0;
  buf[0] = 0;
  for (int i = 0; i < (int)(sizeof tech_names / sizeof *tech_names); i++)
    if (tech & (1u << i)) o += snprintf(buf + o, o < n ? (size_t)(n - o) : 0, "%s%s", o ? "," : "", tech_names[i]);
  return buf;
}

void pn_paf_cfg_defaults(struct pn_paf_cfg *c, enum pn_paf_form form) {
  memset(c, 0, sizeof *c);
  c->form = form;
  c->tech = PN_PAF_T_CT | PN_PAF_T_PA | PN_PAF_T_AT | PN_PAF_T_SS | PN_PAF_T_SSTUNE;
  c->seed = 1;
  c->batch = 100;
  c->eval_batch = 250;
  c->ct_images = 5000;
  c->ct_samples = 1 << 17;
  c->ct_epochs = 40;
  c->ct_lr = 0.01f;
  c->ct_cover = 0.01f;
  c->at_images = 5000;
  c->at_epochs = 2;
  c->at_groups = 2;
  c->at_lr_coef = 1e-3f;
  c->at_wd_coef = 0.01f;
  c->at_lr_weight = 1e-4f;
  c->at_wd_weight = 0.1f;
  c->bn_images = 2000;
  c->base_epochs = 2;
  c->base_images = 5000;
  c->base_lr = 1e-6f;
  c->ss_images = 10000;
  c->ss_margin = 1.0f;
  c->tune_epochs = 3;
  c->tune_images = 10000;
  c->tune_lr_coef = 1e-3f;
  c->tune_lr_weight = 1e-4f;
  c->fold = true;
}

int pn_paf_sites(struct pn_ctx *ctx, struct pn_graph *g, int *idx, int cap) {
  int rc = pn_graph_topo_sort(ctx, g), n = 0;
  if (rc) return rc;
  for (int i = 0; i < g->n_nodes; i++)
    if (pn_paf_site_kind(g->nodes[i]) >= 0 || pn_paf_node_kind(g->nodes[i]) >= 0) {
      if (n == cap) return pn_err(ctx, PN_ERR_UNSUPPORTED, "more than %d ReLU/MaxPool sites", cap);
      idx[n++] = i;
    }
  return n;
}

void paf_progress(struct paf_run *run, int steps) {
  if (!run->cfg->progress) return;
  run->bar_done += (uint64_t)steps;
  pn_progress_update(&run->bar, run->bar_done, NULL);
}

void paf_log(struct paf_run *run, const char *fmt, ...) {
  if (!run->cfg->log) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  run->cfg->log(run->cfg->user, line);
}

static double elapsed(const struct paf_run *run) { return run->st.elapsed + pn_now() - run->t0; }

double paf_cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* validation images used (cfg->max_val, or all) */
static int64_t n_val(const struct paf_run *run) {
  int64_t n = run->ds->n[PN_SPLIT_VAL];
  return run->cfg->max_val > 0 && run->cfg->max_val < n ? run->cfg->max_val : n;
}

/* ---- stages ---- */

static int stage(struct pn_ctx *ctx, struct paf_run *run, struct pn_graph *g, const char *name, bool test_now) {
  struct pn_paf_report *rep = run->rep;
  if (rep->n_stages >= PN_PAF_MAX_STAGES_REPORTED) return pn_err(ctx, PN_ERR_INVALID, "too many stages");
  struct pn_paf_stage_report *s = &rep->stages[rep->n_stages];
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "%s", name);
  s->acc_test = -1;
  int rc = paf_run_split(ctx, g, run->ds, PN_SPLIT_VAL, NULL, n_val(run), run->cfg->eval_batch, false, NULL, NULL, NULL,
                         &s->acc_val);
  if (!rc && test_now && run->cfg->eval_test)
    rc = paf_run_split(ctx, g, run->ds, PN_SPLIT_TEST, NULL, run->ds->n[PN_SPLIT_TEST], run->cfg->eval_batch, false,
                       NULL, NULL, NULL, &s->acc_test);
  if (rc) return rc;
  s->seconds = elapsed(run);
  rep->n_stages++;
  if (s->acc_test >= 0)
    paf_log(run, "stage %s: val accuracy %.4f, test accuracy %.4f (%.0f s)", name, s->acc_val, s->acc_test, s->seconds);
  else
    paf_log(run, "stage %s: val accuracy %.4f (%.0f s)", name, s->acc_val, s->seconds);
  return PN_OK;
}

static int replace_all(struct pn_ctx *ctx, struct paf_run *run, struct pn_graph *g, bool use_ct) {
  for (int k = 0; k < run->n_sites; k++) {
    struct pn_node *n = g->nodes[run->site_node[k]];
    if (pn_paf_node_kind(n) >= 0) continue;
    int rc = pn_paf_replace(ctx, g, n, run->cfg->form, use_ct ? run->st.ct_coef[k] : NULL, 0);
    if (rc) return rc;
  }
  return PN_OK;
}

/* ---- CT ---- */

static int phase_ct(struct pn_ctx *ctx, struct paf_run *run) {
  const struct pn_paf_cfg *cfg = run->cfg;
  struct paf_samples *tr = calloc((size_t)run->n_sites, sizeof *tr), *va = calloc((size_t)run->n_sites, sizeof *va);
  int rc = tr && va ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  int64_t nval = run->ds->n[PN_SPLIT_VAL] < 2000 ? run->ds->n[PN_SPLIT_VAL] : 2000;
  paf_log(run, "ct: sampling the inputs of %d sites over %d training and %lld validation images", run->n_sites,
          cfg->ct_images, (long long)nval);
  if (!rc) rc = paf_capture(ctx, run->g, run->ds, PN_SPLIT_TRAIN, run->site_node, run->n_sites, cfg->ct_images,
                            cfg->batch, cfg->ct_samples, cfg->seed ^ 0x43540001u, tr);
  if (!rc) rc = paf_capture(ctx, run->g, run->ds, PN_SPLIT_VAL, run->site_node, run->n_sites, nval, cfg->batch,
                            cfg->ct_samples / 4, cfg->seed ^ 0x43540002u, va);
  const struct pn_paf_form_def *fd = pn_paf_form_def(cfg->form);
  for (int k = 0; !rc && k < run->n_sites; k++) {
    float *c = run->st.ct_coef[k];
    for (int i = 0; i < pn_paf_n_coeffs(cfg->form); i++) c[i] = (float)fd->base[i];
    struct pn_paf_site_report *sr = &run->rep->sites[k];
    rc = paf_ct_fit(ctx, cfg->form, &tr[k], &va[k], cfg->ct_epochs, cfg->ct_lr, cfg->ct_cover, cfg->seed + (uint64_t)k, c,
                    &sr->ct_mse_base, &sr->ct_mse);
    if (!rc) {
      char cs[320] = "";
      for (int i = 0, o = 0; i < pn_paf_n_coeffs(cfg->form) && o < (int)sizeof cs - 16; i++)
        o += snprintf(cs + o, sizeof cs - (size_t)o, "%s%.4g", i ? " " : "", c[i]);
      paf_log(run, "ct: site %d/%d '%s': validation MSE %.3g with the base coefficients, %.3g tuned [%s]", k + 1,
              run->n_sites, sr->name, sr->ct_mse_base, sr->ct_mse, cs);
    }
  }
  if (tr) paf_samples_free(tr, run->n_sites);
  if (va) paf_samples_free(va, run->n_sites);
  free(tr);
  free(va);
  if (rc) return rc;
  run->st.have_ct = true;
  /* the +CT+DS row: every site replaced with its tuned coefficients, no training */
  struct pn_graph *c = pn_graph_clone(run->g);
  if (!c) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  rc = replace_all(ctx, run, c, true);
  bool last = !(cfg->tech & (PN_PAF_T_PA | PN_PAF_T_SS));
  if (!rc) rc = stage(ctx, run, c, "ct+ds", !last);
  pn_graph_free(c);
  return rc;
}

/* ---- epochs with the best kept (baseline, SS-aware tune) ---- */

static int train_phase(struct pn_ctx *ctx, struct paf_run *run, const char *tag, int epochs, int images,
                       float lr_coef, float lr_weight, float wd, bool bn_candidate) {
  struct paf_state *st = &run->st;
  int rc = paf_engine(ctx, run);
  int np = rc ? 0 : pn_ag_n_params(run->ag);
  bool *coef = calloc((size_t)np + 1, sizeof *coef), *mc = calloc((size_t)np + 1, sizeof *mc),
       *mw = calloc((size_t)np + 1, sizeof *mw), *all = calloc((size_t)np + 1, sizeof *all);
  if (!rc && (!coef || !mc || !mw || !all)) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc) {
    paf_coef_mask(run->g, run->ag, coef);
    for (int i = 0; i < np; i++) {
      mc[i] = coef[i];
      mw[i] = !coef[i];
      all[i] = true;
    }
    bool fresh = st->epoch == 0;
    run->snap_n = paf_snap_size(run->g);
    if (fresh) {
      free(run->snap_layer);
      run->snap_layer = malloc(sizeof(float) * (size_t)run->snap_n);
      if (!run->snap_layer) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      else paf_snap_take(run->g, run->snap_layer);
      if (!rc) rc = paf_val_acc(ctx, run, run->ag, &st->layer_best);
      st->group_best_epoch = -1;
    }
    paf_optims_free(run);
    if (!rc) rc = paf_optim(ctx, run->ag, mc, coef, lr_coef, wd, &run->opt[0]);
    if (!rc) rc = paf_optim(ctx, run->ag, mw, coef, lr_weight, wd, &run->opt[1]);
    if (!rc) rc = pn_ag_set_need_grad(ctx, run->ag, all);
    if (!rc && !fresh) rc = paf_ckpt_optim_restore(ctx, run);
  }
  for (; !rc && st->epoch < epochs; st->epoch++) {
    double loss, acc;
    if (run->cfg->progress) {
      pn_progress_start_unit(&run->bar, tag, "batches", (uint64_t)(images / run->cfg->batch));
      run->bar_done = 0;
    }
    rc = paf_train_epoch(ctx, run, run->ag, run->opt, 2, images, tag, 0, 0, st->epoch, &loss);
    if (run->cfg->progress) pn_progress_end(&run->bar);
    if (!rc) rc = paf_val_acc(ctx, run, run->ag, &acc);
    if (rc) break;
    paf_log(run, "%s: epoch %d/%d: train loss %.4f, val accuracy %.4f (best %.4f)", tag, st->epoch + 1, epochs,
            loss, acc, st->layer_best);
    if (acc > st->layer_best) {
      st->layer_best = acc;
      st->group_best_epoch = st->epoch;
      paf_snap_take(run->g, run->snap_layer);
    }
    st->epoch++;
    rc = paf_ckpt_save(ctx, run);
    st->epoch--;
  }
  if (!rc) paf_snap_restore(run->g, run->snap_layer); /* the best epoch (or none) */
  if (!rc && bn_candidate) {
    /* as for an SWA candidate in AT: BN statistics recomputed under the new activations */
    double acc;
    rc = paf_bn_recompute(ctx, run, run->ag, tag, 1, 0);
    if (!rc) rc = paf_val_acc(ctx, run, run->ag, &acc);
    if (!rc) {
      paf_log(run, "%s: BN statistics recomputed: val accuracy %.4f (%s)", tag, acc,
              acc > st->layer_best ? "kept" : "not kept");
      if (acc > st->layer_best) st->layer_best = acc;
      else paf_snap_restore(run->g, run->snap_layer);
    }
  }
  paf_optims_free(run);
  free(coef);
  free(mc);
  free(mw);
  free(all);
  return rc;
}

/* ---- SS ---- */

static int phase_ss(struct pn_ctx *ctx, struct paf_run *run) {
  const struct pn_paf_cfg *cfg = run->cfg;
  float maxabs[PN_PAF_MAX_SITES];
  /* the scan reads random training images without augmentation */
  int64_t n = cfg->ss_images < run->ds->n[PN_SPLIT_TRAIN] ? cfg->ss_images : run->ds->n[PN_SPLIT_TRAIN];
  int64_t *idx = malloc(sizeof *idx * (size_t)(n > 0 ? n : 1));
  struct pn_prg prg;
  memset(&prg, 0, sizeof prg);
  int rc = idx ? paf_epoch_prg(ctx, cfg->seed, "privnn.paf.ss", 0, 0, 0, &prg) : pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; !rc && i < n; i++) idx[i] = (int64_t)pn_prg_uniform(&prg, (uint64_t)run->ds->n[PN_SPLIT_TRAIN]);
  if (!rc) rc = paf_scan(ctx, run->g, run->ds, PN_SPLIT_TRAIN, idx, n, cfg->eval_batch, run->site_node, run->n_sites,
                         maxabs, NULL, NULL, NULL);
  free(idx);
  pn_prg_free(&prg);
  for (int k = 0; !rc && k < run->n_sites; k++) {
    float s = maxabs[k] * cfg->ss_margin;
    if (!(s > 0) || !isfinite(s)) s = 1.0f;
    run->rep->sites[k].scale = s;
    rc = pn_paf_set_scale(ctx, run->g, run->g->nodes[run->site_node[k]], s);
    if (!rc) paf_log(run, "ss: site %d/%d '%s': static scale %.4g", k + 1, run->n_sites, run->rep->sites[k].name, s);
  }
  return rc;
}

/* Overflow of the static scales on validation (and test with eval_test, which also gives its
** accuracy: the caller counts that as the stage's one read of the test split). */
static int overflow(struct pn_ctx *ctx, struct paf_run *run, struct pn_graph *g, bool test) {
  int64_t over[PN_PAF_MAX_SITES], total[PN_PAF_MAX_SITES];
  int rc = paf_scan(ctx, g, run->ds, PN_SPLIT_VAL, NULL, n_val(run), run->cfg->eval_batch, run->site_node, run->n_sites,
                    NULL, over, total, NULL);
  for (int k = 0; !rc && k < run->n_sites; k++) {
    run->rep->sites[k].overflow_val = total[k] ? (double)over[k] / (double)total[k] : 0;
    run->rep->sites[k].sign_inputs_val = total[k];
  }
  if (!rc && test) {
    double acc;
    rc = paf_scan(ctx, g, run->ds, PN_SPLIT_TEST, NULL, run->ds->n[PN_SPLIT_TEST], run->cfg->eval_batch, run->site_node,
                  run->n_sites, NULL, over, total, &acc);
    for (int k = 0; !rc && k < run->n_sites; k++) {
      run->rep->sites[k].overflow_test = total[k] ? (double)over[k] / (double)total[k] : 0;
      run->rep->sites[k].sign_inputs_test = total[k];
    }
    if (!rc) run->rep->acc_test = acc;
  }
  return rc;
}

/* ---- the whole run ---- */

static int check_cfg(struct pn_ctx *ctx, const struct pn_paf_cfg *c) {
  if (!pn_paf_form_def(c->form)) return pn_err(ctx, PN_ERR_INVALID, "unknown PAF form (%s)", pn_paf_form_list());
  if (c->batch < 1 || c->eval_batch < 1 || c->batch > 4096 || c->eval_batch > 4096)
    return pn_err(ctx, PN_ERR_INVALID, "batch sizes must be in 1..4096");
  if (c->ct_images < 1 || c->ct_samples < 16 || c->ct_epochs < 1 || c->at_images < c->batch || c->at_epochs < 1 ||
      c->at_groups < 1 || c->bn_images < 1 || c->base_epochs < 0 || c->base_images < c->batch || c->ss_images < 1 ||
      c->tune_epochs < 0 || c->tune_images < c->batch || !(c->ss_margin > 0))
    return pn_err(ctx, PN_ERR_INVALID, "image counts and epochs must be positive (AT, baseline and tune epochs "
                  "at least one batch)");
  return PN_OK;
}

static void run_free(struct paf_run *run) {
  paf_optims_free(run);
  pn_ag_free(run->ag);
  free(run->snap_layer);
  free(run->snap_group);
  free(run->swa);
  free(run->bidx);
  free(run->bx);
  free(run->by);
}

/* Stage names: what was done, then the scale: "ct+pa+at+ds", "ct+pa+at+ss", "ct+pa+at+ss+tune". */
static void stage_name(unsigned t, const char *suffix, char *buf, size_t n) {
  const char *what = t & PN_PAF_T_BASELINE ? "baseline"
                     : (t & PN_PAF_T_CT) && (t & PN_PAF_T_PA) ? "ct+pa+at"
                     : t & PN_PAF_T_PA ? "pa+at" : t & PN_PAF_T_CT ? "ct" : "replaced";
  snprintf(buf, n, "%s+%s", what, suffix);
}

/* Move to phase ph (epoch 0) and checkpoint. */
static int next_phase(struct pn_ctx *ctx, struct paf_run *run, enum paf_phase ph) {
  run->st.phase = ph;
  run->st.epoch = 0;
  return paf_ckpt_save(ctx, run);
}

int pn_paf_approximate(struct pn_ctx *ctx, const struct pn_paf_cfg *cfg, const struct pn_dataset *ds,
                       struct pn_graph *g, struct pn_paf_report *rep) {
  memset(rep, 0, sizeof *rep);
  rep->acc_test = -1;
  int rc = check_cfg(ctx, cfg);
  if (rc) return rc;
  struct paf_run run;
  memset(&run, 0, sizeof run);
  run.cfg = cfg;
  run.dsn = *ds;
  if ((rc = pn_dataset_use_model_norm(ctx, &run.dsn, g))) return rc;
  run.ds = &run.dsn;
  run.g = g;
  run.rep = rep;
  run.t0 = pn_now();
  run.cpu0 = paf_cpu_now();
  rep->form = cfg->form;
  rep->tech = cfg->tech;
  int n = pn_paf_sites(ctx, g, run.site_node, PN_PAF_MAX_SITES);
  if (n < 0) return n;
  if (n == 0) return pn_err(ctx, PN_ERR_INVALID, "the model has no Relu or MaxPool to replace");
  /* the data must fit the model before any work, not at the first batch */
  if ((rc = pn_dataset_check_model(ctx, g, ds))) return rc;
  run.n_sites = rep->n_sites = n;
  for (int k = 0; k < n; k++) {
    const struct pn_node *node = g->nodes[run.site_node[k]];
    struct pn_paf_site_report *sr = &rep->sites[k];
    snprintf(sr->name, sizeof sr->name, "%s", pn_node_label(node));
    int kind = pn_paf_site_kind(node) >= 0 ? pn_paf_site_kind(node) : pn_paf_node_kind(node);
    sr->kind = (enum pn_paf_kind)kind;
    sr->window = 1;
    if (kind == PN_PAF_MAXPOOL) {
      struct paf_pool_geom pg;
      if ((rc = paf_pool_geom_of(ctx, node, &pg))) return rc;
      sr->window = (int)(pg.k[0] * pg.k[1]);
    }
    if (pn_paf_node_kind(node) >= 0 && !cfg->resume_path)
      return pn_err(ctx, PN_ERR_INVALID, "node '%s' is already a PAF: give the original model", sr->name);
  }
  run.bidx = malloc(sizeof *run.bidx * (size_t)cfg->batch);
  run.bx = malloc(sizeof *run.bx * (size_t)cfg->batch * (size_t)ds->pixels);
  run.by = malloc(sizeof *run.by * (size_t)cfg->batch);
  if (!run.bidx || !run.bx || !run.by) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc && cfg->resume_path) {
    rc = paf_ckpt_load(ctx, &run);
    rep->resumed = true;
  }
  if (!rc && run.st.phase == PH_START) {
    rc = paf_run_split(ctx, g, run.ds, PN_SPLIT_VAL, NULL, n_val(&run), cfg->eval_batch, false, NULL, NULL, NULL,
                       &rep->acc_val_original);
    if (!rc) paf_log(&run, "original model: val accuracy %.4f, %d sites", rep->acc_val_original, n);
    if (!rc && (cfg->tech & PN_PAF_T_BASELINE)) {
      rc = replace_all(ctx, &run, g, false);
      run.st.phase = PH_BASE;
    } else if (!rc) {
      run.st.phase = cfg->tech & PN_PAF_T_CT ? PH_CT : cfg->tech & PN_PAF_T_PA ? PH_AT : PH_SS;
      if (!(cfg->tech & (PN_PAF_T_CT | PN_PAF_T_PA))) rc = replace_all(ctx, &run, g, false);
    }
    if (!rc) rc = paf_ckpt_save(ctx, &run);
  }
  bool has_ss = cfg->tech & PN_PAF_T_SS;
  char name[32];
  if (!rc && run.st.phase == PH_BASE) {
    rc = train_phase(ctx, &run, "baseline", cfg->base_epochs, cfg->base_images, cfg->base_lr, cfg->base_lr, 0, false);
    stage_name(cfg->tech, "ds", name, sizeof name);
    if (!rc) rc = stage(ctx, &run, g, name, has_ss);
    if (!rc) rc = next_phase(ctx, &run, PH_SS);
  }
  if (!rc && run.st.phase == PH_CT) {
    rc = phase_ct(ctx, &run);
    if (!rc && !(cfg->tech & PN_PAF_T_PA)) rc = replace_all(ctx, &run, g, true);
    if (!rc) rc = next_phase(ctx, &run, cfg->tech & PN_PAF_T_PA ? PH_AT : PH_SS);
  }
  if (!rc && run.st.phase == PH_AT) {
    rc = paf_pa_at(ctx, &run);
    stage_name(cfg->tech, "ds", name, sizeof name);
    if (!rc) rc = stage(ctx, &run, g, name, has_ss);
    if (!rc) rc = next_phase(ctx, &run, PH_SS);
  }
  if (!rc && run.st.phase == PH_SS) {
    if (has_ss) {
      rc = phase_ss(ctx, &run);
      stage_name(cfg->tech, "ss", name, sizeof name);
      if (!rc) rc = stage(ctx, &run, g, name, cfg->tech & PN_PAF_T_SSTUNE);
    } else if (!(cfg->tech & (PN_PAF_T_BASELINE | PN_PAF_T_PA | PN_PAF_T_CT))) {
      stage_name(cfg->tech, "ds", name, sizeof name);
      rc = stage(ctx, &run, g, name, false);
    }
    if (!rc) rc = next_phase(ctx, &run, cfg->tech & PN_PAF_T_SSTUNE ? PH_TUNE : PH_DONE);
  }
  if (!rc && run.st.phase == PH_TUNE) {
    rc = train_phase(ctx, &run, "sstune", cfg->tune_epochs, cfg->tune_images, cfg->tune_lr_coef, cfg->tune_lr_weight,
                     0, true);
    stage_name(cfg->tech, "ss+tune", name, sizeof name);
    if (!rc) rc = stage(ctx, &run, g, name, false);
    if (!rc) rc = next_phase(ctx, &run, PH_DONE);
  }
  if (!rc && run.st.phase == PH_DONE) {
    /* fold, check the folded model against the unfolded one, measure the output */
    if (has_ss && cfg->fold) {
      struct pn_graph *f = pn_graph_clone(g);
      struct pn_paf_fold_report fr;
      rc = f ? pn_paf_fold_scales(ctx, f, &fr) : pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      if (!rc) rc = paf_max_logit_diff(ctx, g, f, run.ds, 500, &rep->max_logit_diff_fold);
      if (!rc) {
        rep->folded_unit_scale = fr.unit_scale;
        rep->folded_unit_gain = fr.unit_gain;
        paf_log(&run, "fold: %d of %d PAF nodes at scale 1, %d ReLUs at gain 1; max |logit difference| %.3g on 500 "
                "validation images", fr.unit_scale, fr.paf_nodes, fr.unit_gain, rep->max_logit_diff_fold);
        paf_graph_swap(g, f);
      }
      pn_graph_free(f);
    }
    if (!rc && has_ss) rc = overflow(ctx, &run, g, cfg->eval_test);
    if (!rc) rc = paf_run_split(ctx, g, run.ds, PN_SPLIT_VAL, NULL, n_val(&run), cfg->eval_batch, false, NULL, NULL, NULL,
                                &rep->acc_val);
    if (!rc && cfg->eval_test && !has_ss)
      rc = paf_run_split(ctx, g, run.ds, PN_SPLIT_TEST, NULL, run.ds->n[PN_SPLIT_TEST], cfg->eval_batch, false, NULL,
                         NULL, NULL, &rep->acc_test);
    if (!rc && rep->n_stages > 0 && rep->acc_test >= 0) rep->stages[rep->n_stages - 1].acc_test = rep->acc_test;
    for (int k = 0; !rc && k < n; k++) {
      struct pn_paf_node pn;
      const struct pn_node *node = g->nodes[run.site_node[k]];
      if ((rc = pn_paf_node_parse(ctx, g, node, &pn))) break;
      bool unit = pn.scale && ((const float *)pn.scale->data)[0] == 1.0f;
      rep->sites[k].depth = pn.kind == PN_PAF_RELU ? pn_paf_relu_depth(cfg->form, unit)
                                                   : pn_paf_maxpool_depth(cfg->form, rep->sites[k].window, unit);
      rep->paf_nodes++;
    }
  }
  rep->seconds = elapsed(&run);
  rep->cpu_seconds = run.st.cpu_elapsed + paf_cpu_now() - run.cpu0;
  run_free(&run);
  return rc;
}
