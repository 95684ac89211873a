/* train.c - the training loop, validation, and atomic CRC-checked checkpoints with resume. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "graph/ir.h"
#include "nn/autograd.h"
#include "nn/train.h"
#include "util/util.h"

#define CKPT_MAGIC "PNCKPT01"
#define CKPT_MAX_BYTES ((size_t)1 << 30)

int pn_evaluate(struct pn_ctx *ctx, struct pn_ag *ag, const struct pn_dataset *ds, enum pn_split s,
                int64_t n_limit, int batch, double *loss, double *acc,
                int64_t *conf) {
  int64_t n = ds->n[s];
  const int C = ds->classes;
  if (n_limit > 0 && n_limit < n) n = n_limit;
  if (conf) memset(conf, 0, sizeof(int64_t) * (size_t)C * (size_t)C);
  if (n <= 0) return pn_err(ctx, PN_ERR_INVALID, "evaluate: the %s split is empty", pn_split_name(s));
  float *x = malloc(sizeof(float) * (size_t)batch * (size_t)ds->pixels);
  int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)batch);
  int rc = (!x || !y || !idx) ? pn_err(ctx, PN_ERR_NOMEM, "evaluate: out of memory") : PN_OK;
  double tot_loss = 0;
  int64_t ok = 0;
  for (int64_t b0 = 0; !rc && b0 < n; b0 += batch) {
    int cnt = (int)(n - b0 < batch ? n - b0 : batch);
    for (int i = 0; i < cnt; i++) idx[i] = b0 + i;
    pn_dataset_batch(ds, s, idx, cnt, 0, 0, NULL, x, y);
    const float *z;
    rc = pn_ag_forward(ctx, ag, x, cnt, false, &z);
    if (rc) break;
    const int64_t K = pn_ag_output_size(ag);
    if (K < C) {
      rc = pn_err(ctx, PN_ERR_INVALID, "evaluate: the model has %lld outputs, the dataset %d classes",
                  (long long)K, C);
      break;
    }
    int c;
    tot_loss += pn_ag_softmax_xent(ag, y, &c) * cnt;
    ok += c;
    if (conf)
      for (int i = 0; i < cnt; i++) {
        int64_t arg = 0;
        for (int64_t k = 1; k < K; k++)
          if (z[i * K + k] > z[i * K + arg]) arg = k;
        if (arg < C) conf[(int64_t)y[i] * C + arg]++;
      }
  }
  free(x);
  free(y);
  free(idx);
  if (rc) return rc;
  *loss = tot_loss / (double)n;
  *acc = (double)ok / (double)n;
  return PN_OK;
}

/* ------------------------------------------------------------ checkpoints ---- */

struct wbuf {
  uint8_t *p;
  size_t n, cap;
  int fail;
};

static void put(struct wbuf *w, const void *src, size_t n) {
  if (w->fail) return;
  if (w->n + n > w->cap) {
    size_t nc = (w->cap ? w->cap * 2 : 1 << 20);
    while (nc < w->n + n) nc *= 2;
    uint8_t *np = realloc(w->p, nc);
    if (!np) {
      w->fail = 1;
      return;
    }
    w->p = np;
    w->cap = nc;
  }
  memcpy(w->p + w->n, src, n);
  w->n += n;
}

struct ckpt_head {
  char magic[8];
  char arch[32];
  uint64_t seed;
  int64_t step;
  int32_t epochs_done, opt_kind, n_tensors, n_params;
};

int pn_ckpt_save(struct pn_ctx *ctx, const char *path, const struct pn_train_cfg *cfg,
                 struct pn_graph *g, struct pn_ag *ag, struct pn_optim *opt,
                 const struct pn_train_result *res) {
  struct wbuf w = {0};
  struct ckpt_head h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, CKPT_MAGIC, 8);
  snprintf(h.arch, sizeof h.arch, "%s", cfg->arch ? cfg->arch : "");
  h.seed = cfg->seed;
  h.step = pn_optim_get_step(opt);
  h.epochs_done = res->epochs_done;
  h.opt_kind = cfg->opt.kind;
  for (int i = 0; i < g->n_inits; i++) h.n_tensors += g->inits[i]->dtype == PN_DT_FLOAT;
  h.n_params = pn_ag_n_params(ag);
  put(&w, &h, sizeof h);
  put(&w, res->hist, sizeof res->hist[0] * (size_t)res->epochs_done);
  for (int i = 0; i < g->n_inits; i++) {
    const struct pn_tensor *t = g->inits[i];
    if (t->dtype != PN_DT_FLOAT) continue;
    uint32_t len = (uint32_t)strlen(t->name);
    int64_t ne = pn_tensor_numel(t);
    put(&w, &len, 4);
    put(&w, t->name, len);
    put(&w, &ne, 8);
    put(&w, t->data, sizeof(float) * (size_t)ne);
  }
  for (int i = 0; i < h.n_params; i++)
    for (int s = 0; s < 2; s++) {
      float *st = pn_optim_state(opt, i, s);
      if (st) put(&w, st, sizeof(float) * (size_t)pn_ag_param(ag, i)->numel);
    }
  uint32_t crc = w.fail ? 0 : (uint32_t)crc32(0L, w.p, (uInt)w.n);
  put(&w, &crc, 4);
  int rc = w.fail ? pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path)
                  : pn_write_file_atomic(ctx, path, w.p, w.n, 0644);
  free(w.p);
  return rc;
}

struct rbuf {
  const uint8_t *p;
  size_t n, off;
};

static int get(struct rbuf *r, void *dst, size_t n) {
  if (r->n - r->off < n) return -1;
  memcpy(dst, r->p + r->off, n);
  r->off += n;
  return 0;
}

int pn_ckpt_load(struct pn_ctx *ctx, const char *path, const struct pn_train_cfg *cfg,
                 struct pn_graph *g, struct pn_ag *ag, struct pn_optim *opt,
                 struct pn_train_result *res) {
  uint8_t *buf = NULL;
  size_t n = 0;
  int rc = pn_read_file(ctx, path, CKPT_MAX_BYTES, &buf, &n);
  if (rc) return rc;
  struct rbuf r = {buf, n, 0};
  struct ckpt_head h;
  uint32_t crc;
#define BAD(...) do { rc = pn_err(ctx, PN_ERR_CORRUPT, __VA_ARGS__); goto out; } while (0)
  if (n < sizeof h + 4) BAD("%s: not a privnn checkpoint (too short)", path);
  memcpy(&crc, buf + n - 4, 4);
  if (crc != (uint32_t)crc32(0L, buf, (uInt)(n - 4))) BAD("%s: checkpoint checksum mismatch", path);
  r.n = n - 4;
  get(&r, &h, sizeof h);
  if (memcmp(h.magic, CKPT_MAGIC, 8)) BAD("%s: not a privnn checkpoint (bad magic)", path);
  h.arch[sizeof h.arch - 1] = 0;
  if (cfg->arch && strcmp(h.arch, cfg->arch)) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: checkpoint is for arch '%s', not '%s'", path, h.arch, cfg->arch);
    goto out;
  }
  if (h.opt_kind != (int32_t)cfg->opt.kind) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: checkpoint optimiser is %s, not %s", path,
                pn_opt_name(h.opt_kind), pn_opt_name(cfg->opt.kind));
    goto out;
  }
  if (h.epochs_done < 0 || h.epochs_done > 1024 || h.n_params != pn_ag_n_params(ag))
    BAD("%s: checkpoint header out of range", path);
  if (get(&r, res->hist, sizeof res->hist[0] * (size_t)h.epochs_done)) BAD("%s: truncated history", path);
  for (int k = 0; k < h.n_tensors; k++) {
    uint32_t len;
    int64_t ne;
    char name[512];
    if (get(&r, &len, 4) || len >= sizeof name || get(&r, name, len)) BAD("%s: truncated tensor name", path);
    name[len] = 0;
    if (get(&r, &ne, 8)) BAD("%s: truncated tensor '%s'", path, name);
    struct pn_tensor *t = pn_graph_find_init(g, name);
    if (!t || t->dtype != PN_DT_FLOAT || pn_tensor_numel(t) != ne) {
      rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: tensor '%s' does not match the model", path, name);
      goto out;
    }
    if (get(&r, t->data, sizeof(float) * (size_t)ne)) BAD("%s: truncated tensor '%s'", path, name);
  }
  for (int i = 0; i < h.n_params; i++)
    for (int s = 0; s < 2; s++) {
      float *st = pn_optim_state(opt, i, s);
      if (st && get(&r, st, sizeof(float) * (size_t)pn_ag_param(ag, i)->numel))
        BAD("%s: truncated optimiser state", path);
    }
  if (r.off != r.n) BAD("%s: trailing bytes in checkpoint", path);
  pn_optim_set_step(opt, h.step);
  res->epochs_done = h.epochs_done;
#undef BAD
out:
  free(buf);
  return rc;
}

/* ------------------------------------------------------------ the loop ---- */

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int epoch_prg(struct pn_ctx *ctx, uint64_t seed, int epoch, struct pn_prg *prg) {
  uint8_t base[PN_SEED_BYTES] = {0}, s[PN_SEED_BYTES];
  memcpy(base, &seed, sizeof seed);
  pn_seed_derive(base, "privnn.train.epoch", (uint64_t)epoch, s);
  int rc = pn_prg_init(ctx, prg, s);
  pn_wipe(s, sizeof s);
  return rc;
}

/* The float initializers of a graph, in init order (keep_best). */
struct snap {
  float *data;
};

/* restore = 0: graph -> snapshot; 1: snapshot -> graph. */
static void snap_copy(struct snap *s, struct pn_graph *g, int restore) {
  size_t off = 0;
  for (int i = 0; i < g->n_inits; i++) {
    struct pn_tensor *t = g->inits[i];
    if (t->dtype != PN_DT_FLOAT) continue;
    size_t n = (size_t)pn_tensor_numel(t);
    if (restore) memcpy(t->data, s->data + off, sizeof(float) * n);
    else memcpy(s->data + off, t->data, sizeof(float) * n);
    off += n;
  }
}

static int snap_take(struct pn_ctx *ctx, struct snap *s, struct pn_graph *g) {
  size_t n = 0;
  for (int i = 0; i < g->n_inits; i++)
    if (g->inits[i]->dtype == PN_DT_FLOAT) n += (size_t)pn_tensor_numel(g->inits[i]);
  if (!(s->data = malloc(sizeof(float) * (n ? n : 1)))) return pn_err(ctx, PN_ERR_NOMEM, "train: out of memory");
  snap_copy(s, g, 0);
  return PN_OK;
}

int pn_train(struct pn_ctx *ctx, const struct pn_train_cfg *cfg, const struct pn_dataset *ds,
             struct pn_graph *g, struct pn_train_result *res) {
  memset(res, 0, sizeof *res);
  if (cfg->epochs < 1 || cfg->epochs > 1024 || cfg->batch < 1)
    return pn_err(ctx, PN_ERR_INVALID, "train: epochs must be in 1..1024 and batch >= 1");
  int64_t n_train = ds->n[PN_SPLIT_TRAIN];
  if (cfg->max_train > 0 && cfg->max_train < n_train) n_train = cfg->max_train;
  if (n_train < cfg->batch) return pn_err(ctx, PN_ERR_INVALID, "train: fewer training images than one batch");
  int64_t steps_per_epoch = n_train / cfg->batch; /* drop the last partial batch */
  struct pn_optim_cfg oc = cfg->opt;
  if (!oc.total_steps) oc.total_steps = steps_per_epoch * cfg->epochs;

  struct pn_ag_opts ao = {.max_batch = cfg->batch, .input_grad = false, .dropout_seed = cfg->seed};
  struct pn_ag *ag = NULL;
  struct pn_optim *opt = NULL;
  float *x = malloc(sizeof(float) * (size_t)cfg->batch * (size_t)ds->pixels);
  int32_t *y = malloc(sizeof(int32_t) * (size_t)cfg->batch);
  int64_t *perm = malloc(sizeof(int64_t) * (size_t)n_train);
  int rc = (!x || !y || !perm) ? pn_err(ctx, PN_ERR_NOMEM, "train: out of memory") : PN_OK;
  if (!rc) rc = pn_ag_new(ctx, g, &ao, &ag);
  if (!rc) rc = pn_optim_new(ctx, &oc, ag, &opt);
  if (!rc && cfg->resume_path) rc = pn_ckpt_load(ctx, cfg->resume_path, cfg, g, ag, opt, res);
  if (!rc && cfg->hook) pn_ag_set_hook(ag, cfg->hook, cfg->hook_user);
  /* keep_best: a copy of every float initializer (parameters and BN statistics) at the best
  ** validation accuracy */
  struct snap best = {0};
  double best_acc = -1;
  if (!rc && cfg->keep_best) {
    rc = snap_take(ctx, &best, g);
    if (!rc) rc = pn_evaluate(ctx, ag, ds, PN_SPLIT_VAL, cfg->max_val, cfg->batch,
                              &res->start_val_loss, &res->start_val_acc, NULL);
    best_acc = res->start_val_acc;
    res->best_epoch = res->epochs_done;
  }
  double t_start = pn_now();
  /* one bar for the whole run (steps), so its ETA is the training's; relabelled every epoch */
  struct pn_progress bar;
  if (cfg->progress)
    pn_progress_start_unit(&bar, "train", "batches", (uint64_t)(steps_per_epoch * (cfg->epochs - res->epochs_done)));
  uint64_t bar_done = 0;
  for (int e = res->epochs_done; !rc && e < cfg->epochs; e++) {
    struct pn_prg prg;
    memset(&prg, 0, sizeof prg);
    rc = epoch_prg(ctx, cfg->seed, e, &prg);
    if (rc) break;
    pn_shuffle(&prg, n_train, perm);
    char extra[160];
    if (cfg->progress) snprintf(bar.label, sizeof bar.label, "epoch %d/%d", e + 1, cfg->epochs);
    double t0 = pn_now(), c0 = cpu_now(), sum_loss = 0;
    int64_t ok = 0, seen = 0;
    float lr = 0;
    for (int64_t s = 0; !rc && s < steps_per_epoch; s++) {
      if (cfg->stop && *cfg->stop) {
        rc = pn_err(ctx, PN_ERR_INTERRUPTED, "interrupted in epoch %d; the checkpoint of epoch %d is intact",
                    e + 1, e);
        break;
      }
      pn_dataset_batch(ds, PN_SPLIT_TRAIN, perm + s * cfg->batch, cfg->batch, cfg->pad, cfg->flip,
                       (cfg->pad > 0 || cfg->flip) ? &prg : NULL, x, y);
      const float *z;
      rc = pn_ag_forward(ctx, ag, x, cfg->batch, true, &z);
      if (rc) break;
      if (pn_ag_output_size(ag) < ds->classes) { /* labels beyond the logits: no loss to follow */
        rc = pn_err(ctx, PN_ERR_INVALID, "train: the model has %lld outputs, the dataset %d classes",
                    (long long)pn_ag_output_size(ag), ds->classes);
        break;
      }
      int c;
      double l = pn_ag_softmax_xent(ag, y, &c);
      rc = pn_ag_backward(ctx, ag);
      if (rc) break;
      lr = pn_optim_lr_at(&oc, pn_optim_get_step(opt));
      pn_optim_step(opt);
      sum_loss += l * cfg->batch;
      ok += c;
      seen += cfg->batch;
      if (cfg->progress) {
        double dt = pn_now() - t0;
        snprintf(extra, sizeof extra, "loss %.4f acc %.4f  %.0f img/s", sum_loss / (double)seen,
                 (double)ok / (double)seen, dt > 0 ? (double)seen / dt : 0.0);
        pn_progress_update(&bar, ++bar_done, extra);
      }
    }
    pn_prg_free(&prg);
    if (cfg->progress) pn_progress_end(&bar);
    if (rc) break;
    double dt = pn_now() - t0;
    res->cpu_seconds += cpu_now() - c0;
    res->images += seen;
    struct pn_epoch_stats *st = &res->hist[e];
    st->epoch = e + 1;
    st->train_loss = sum_loss / (double)seen;
    st->train_acc = (double)ok / (double)seen;
    st->lr = lr;
    st->seconds = dt;
    st->images_per_s = dt > 0 ? (double)seen / dt : 0;
    rc = pn_evaluate(ctx, ag, ds, PN_SPLIT_VAL, cfg->max_val, cfg->batch, &st->val_loss, &st->val_acc, NULL);
    if (rc) break;
    res->epochs_done = e + 1;
    if (cfg->keep_best && st->val_acc > best_acc) {
      best_acc = st->val_acc;
      res->best_epoch = e + 1;
      snap_copy(&best, g, 0);
    }
    if (cfg->ckpt_path) rc = pn_ckpt_save(ctx, cfg->ckpt_path, cfg, g, ag, opt, res);
    if (cfg->on_epoch) cfg->on_epoch(cfg->user, st);
  }
  if (!rc && cfg->keep_best) snap_copy(&best, g, 1);
  free(best.data);
  res->seconds = pn_now() - t_start;
  if (ag) {
    res->conv_seconds = pn_ag_conv_seconds(ag);
    res->conv_cpu_seconds = pn_ag_conv_cpu_seconds(ag);
    res->conv_flops = pn_ag_conv_flops(ag);
  }
  pn_optim_free(opt);
  pn_ag_free(ag);
  free(x);
  free(y);
  free(perm);
  return rc;
}
