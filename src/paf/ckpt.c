/* ckpt.c - SmartPAF checkpoints: the pipeline's state, the current model and its snapshots, written
** atomically after every unit of work, CRC-checked and validated field by field on resume.
**
** Layout: "PNPAFCK1", then length-prefixed sections (u64 little-endian lengths): the state as JSON,
** the model as ONNX, and four float arrays (the layer-best snapshot, the group-best snapshot, the
** SWA sums, the optimisers' state), then a CRC-32 of everything before it. The state records the
** configuration that shapes the result; resuming with another one is refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "graph/ir.h"
#include "graph/onnx.h"
#include "nn/autograd.h"
#include "nn/optim.h"
#include "paf/paf_impl.h"
#include "util/bytes.h"
#include "util/util.h"

#define MAGIC "PNPAFCK1"
#define CKPT_MAX ((size_t)1 << 31)

/* ---- the configuration fingerprint ---- */

static void put_cfg(cJSON *o, const struct pn_paf_cfg *c) {
  cJSON_AddStringToObject(o, "form", pn_paf_form_name(c->form));
  cJSON_AddNumberToObject(o, "tech", c->tech);
  cJSON_AddNumberToObject(o, "seed", (double)c->seed);
  double v[] = {c->batch, c->eval_batch, c->ct_images, c->ct_samples, c->ct_epochs, c->ct_lr, c->ct_cover, c->at_images,
                c->at_epochs, c->at_groups, c->at_lr_coef, c->at_wd_coef, c->at_lr_weight, c->at_wd_weight,
                c->bn_images, c->base_epochs, c->base_images, c->base_lr, c->ss_images, c->ss_margin,
                c->tune_epochs, c->tune_images, c->tune_lr_coef, c->tune_lr_weight, (double)c->max_val};
  cJSON *a = cJSON_AddArrayToObject(o, "cfg");
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
}

static bool same_cfg(const cJSON *o, const struct pn_paf_cfg *c) {
  cJSON *want = cJSON_CreateObject();
  if (!want) return false;
  put_cfg(want, c);
  bool same = cJSON_Compare(cJSON_GetObjectItemCaseSensitive(o, "cfg"), cJSON_GetObjectItemCaseSensitive(want, "cfg"), 1) &&
              cJSON_Compare(cJSON_GetObjectItemCaseSensitive(o, "form"), cJSON_GetObjectItemCaseSensitive(want, "form"), 1) &&
              cJSON_Compare(cJSON_GetObjectItemCaseSensitive(o, "tech"), cJSON_GetObjectItemCaseSensitive(want, "tech"), 1) &&
              cJSON_Compare(cJSON_GetObjectItemCaseSensitive(o, "seed"), cJSON_GetObjectItemCaseSensitive(want, "seed"), 1);
  cJSON_Delete(want);
  return same;
}

/* ---- save ---- */

struct wbuf {
  uint8_t *p;
  size_t n, cap;
  bool fail;
};

static void put(struct wbuf *w, const void *src, size_t n) {
  if (w->fail) return;
  if (w->n + n > w->cap) {
    size_t nc = w->cap ? w->cap : 1 << 20;
    while (nc < w->n + n) nc *= 2;
    uint8_t *np = realloc(w->p, nc);
    if (!np) {
      w->fail = true;
      return;
    }
    w->p = np;
    w->cap = nc;
  }
  memcpy(w->p + w->n, src, n);
  w->n += n;
}

static void put_u64(struct wbuf *w, uint64_t v) {
  uint8_t b[8];
  pn_put_le64(b, v);
  put(w, b, 8);
}

static void put_floats(struct wbuf *w, const float *a, int64_t n) {
  put_u64(w, (uint64_t)(a ? n : 0));
  if (a && n > 0) put(w, a, sizeof(float) * (size_t)n);
}

static int64_t optim_floats(const struct paf_run *run) {
  int64_t per = 0;
  for (int i = 0; run->ag && i < pn_ag_n_params(run->ag); i++) per += 2 * pn_ag_param(run->ag, i)->numel;
  int k = 0;
  while (k < 2 && run->opt[k]) k++;
  return per * k;
}

int paf_ckpt_save(struct pn_ctx *ctx, struct paf_run *run) {
  const struct pn_paf_cfg *cfg = run->cfg;
  if (!cfg->ckpt_path) return PN_OK;
  const struct paf_state *st = &run->st;
  cJSON *o = cJSON_CreateObject();
  if (!o) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  cJSON_AddNumberToObject(o, "version", 1);
  put_cfg(o, cfg);
  cJSON_AddNumberToObject(o, "phase", st->phase);
  cJSON_AddNumberToObject(o, "site", st->site);
  cJSON_AddNumberToObject(o, "group", st->group);
  cJSON_AddNumberToObject(o, "n_groups", st->n_groups);
  cJSON_AddBoolToObject(o, "switched", st->switched);
  cJSON_AddBoolToObject(o, "layer_started", st->layer_started);
  cJSON_AddNumberToObject(o, "epoch", st->epoch);
  cJSON_AddNumberToObject(o, "layer_best", st->layer_best);
  cJSON_AddNumberToObject(o, "group_best", st->group_best);
  cJSON_AddNumberToObject(o, "group_best_epoch", st->group_best_epoch);
  cJSON_AddNumberToObject(o, "swa_count", st->swa_count);
  cJSON_AddNumberToObject(o, "at_epochs_site", st->at_epochs_site);
  cJSON_AddBoolToObject(o, "have_ct", st->have_ct);
  cJSON_AddNumberToObject(o, "elapsed", st->elapsed + pn_now() - run->t0);
  cJSON_AddNumberToObject(o, "cpu_elapsed", st->cpu_elapsed + paf_cpu_now() - run->cpu0);
  int n_opt = 0;
  while (n_opt < 2 && run->opt[n_opt]) n_opt++;
  cJSON_AddNumberToObject(o, "n_opt", n_opt);
  cJSON *steps = cJSON_AddArrayToObject(o, "opt_step");
  for (int k = 0; k < n_opt; k++) cJSON_AddItemToArray(steps, cJSON_CreateNumber((double)pn_optim_get_step(run->opt[k])));
  cJSON *ct = cJSON_AddArrayToObject(o, "ct_coef");
  for (int s = 0; st->have_ct && s < run->n_sites; s++) {
    cJSON *row = cJSON_CreateArray();
    for (int i = 0; i < pn_paf_n_coeffs(cfg->form); i++) cJSON_AddItemToArray(row, cJSON_CreateNumber(st->ct_coef[s][i]));
    cJSON_AddItemToArray(ct, row);
  }
  cJSON_AddItemToObject(o, "report", pn_paf_report_json(run->rep));
  char *js = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  uint8_t *model = NULL;
  size_t model_n = 0;
  int rc = js ? pn_onnx_save(ctx, run->g, &model, &model_n) : pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  struct wbuf w = {0};
  if (!rc) {
    put(&w, MAGIC, 8);
    put_u64(&w, strlen(js));
    put(&w, js, strlen(js));
    put_u64(&w, model_n);
    put(&w, model, model_n);
    bool in_group = st->phase == PH_AT && st->layer_started;
    /* a baseline/tune phase at epoch 0 takes its snapshot afresh (SS may just have added scales) */
    bool in_train = (st->phase == PH_BASE || st->phase == PH_TUNE) && st->epoch > 0;
    put_floats(&w, in_group || in_train ? run->snap_layer : NULL, run->snap_n);
    put_floats(&w, in_group && st->epoch > 0 ? run->snap_group : NULL, run->snap_n);
    put_floats(&w, in_group && st->epoch > 0 ? run->swa : NULL, run->snap_n);
    int64_t no = optim_floats(run);
    put_u64(&w, (uint64_t)no);
    for (int k = 0; k < n_opt; k++)
      for (int i = 0; i < pn_ag_n_params(run->ag); i++)
        for (int slot = 0; slot < 2; slot++)
          put(&w, pn_optim_state(run->opt[k], i, slot), sizeof(float) * (size_t)pn_ag_param(run->ag, i)->numel);
    uint8_t crc[4];
    pn_put_le32(crc, w.fail ? 0 : (uint32_t)crc32(0L, w.p, (uInt)w.n));
    put(&w, crc, 4);
    rc = w.fail ? pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", cfg->ckpt_path)
                : pn_write_file_atomic(ctx, cfg->ckpt_path, w.p, w.n, 0644);
  }
  free(w.p);
  free(model);
  cJSON_free(js);
  return rc;
}

/* ---- parse ---- */

static int get_u64(const uint8_t *buf, size_t n, size_t *off, uint64_t *v) {
  if (n - *off < 8) return -1;
  *v = pn_get_le64(buf + *off);
  *off += 8;
  return 0;
}

int paf_ckpt_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n, struct paf_ckpt_view *v) {
  memset(v, 0, sizeof *v);
  if (n < 8 + 4 || memcmp(buf, MAGIC, 8)) return pn_err(ctx, PN_ERR_CORRUPT, "%s: not a privnn PAF checkpoint", name);
  uint32_t crc = pn_get_le32(buf + n - 4);
  if (crc != (uint32_t)crc32(0L, buf, (uInt)(n - 4))) return pn_err(ctx, PN_ERR_CORRUPT, "%s: checkpoint checksum mismatch", name);
  size_t off = 8, end = n - 4;
  uint64_t len;
  if (get_u64(buf, end, &off, &len) || len > end - off || len == 0)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: truncated state", name);
  v->state_json = (const char *)buf + off;
  v->state_len = (size_t)len;
  off += len;
  if (get_u64(buf, end, &off, &len) || len > end - off) return pn_err(ctx, PN_ERR_CORRUPT, "%s: truncated model", name);
  v->model = buf + off;
  v->model_len = (size_t)len;
  off += len;
  for (int a = 0; a < 4; a++) {
    if (get_u64(buf, end, &off, &len) || len > (end - off) / sizeof(float))
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: truncated array %d", name, a);
    v->arr[a] = len ? (const float *)(buf + off) : NULL;
    v->arr_len[a] = (int64_t)len;
    off += len * sizeof(float);
  }
  if (off != end) return pn_err(ctx, PN_ERR_CORRUPT, "%s: trailing bytes in checkpoint", name);
  return PN_OK;
}

/* ---- load ---- */

static int num(const cJSON *o, const char *k, double lo, double hi, double *out) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(it) || !(it->valuedouble >= lo && it->valuedouble <= hi)) return -1;
  *out = it->valuedouble;
  return 0;
}

static int flag(const cJSON *o, const char *k, bool *out) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsBool(it)) return -1;
  *out = cJSON_IsTrue(it);
  return 0;
}

int paf_ckpt_state(struct pn_ctx *ctx, const char *path, const char *json, size_t len, const struct pn_paf_cfg *cfg,
                   int n_sites, struct paf_state *st, struct pn_paf_report *rep, int *n_opt_out) {
  int rc = PN_OK;
  cJSON *o = cJSON_ParseWithLength(json, len);
#define BAD(what) do { rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: checkpoint field '%s' missing or out of range", path, what); goto out; } while (0)
  if (!o) BAD("state");
  double d;
  if (num(o, "version", 1, 1, &d)) BAD("version");
  if (!same_cfg(o, cfg)) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: checkpoint of another configuration (form, techniques, seed or numbers "
                "differ); resume with the options of the interrupted run", path);
    goto out;
  }
  memset(st, 0, sizeof *st);
  if (num(o, "phase", PH_START, PH_DONE, &d)) BAD("phase");
  st->phase = (enum paf_phase)d;
  if (num(o, "site", 0, n_sites, &d)) BAD("site");
  st->site = (int)d;
  if (num(o, "group", 0, 1, &d)) BAD("group");
  st->group = (int)d;
  if (num(o, "n_groups", 0, 1e6, &d)) BAD("n_groups");
  st->n_groups = (int)d;
  if (num(o, "epoch", 0, 1e6, &d)) BAD("epoch");
  st->epoch = (int)d;
  if (num(o, "layer_best", -1, 1, &st->layer_best)) BAD("layer_best");
  if (num(o, "group_best", -1, 1, &st->group_best)) BAD("group_best");
  if (num(o, "group_best_epoch", -1, 1e6, &d)) BAD("group_best_epoch");
  st->group_best_epoch = (int)d;
  if (num(o, "swa_count", 0, 1e6, &d)) BAD("swa_count");
  st->swa_count = (int)d;
  if (num(o, "at_epochs_site", 0, 1e6, &d)) BAD("at_epochs_site");
  st->at_epochs_site = (int)d;
  if (num(o, "elapsed", 0, 1e9, &st->elapsed)) BAD("elapsed");
  if (num(o, "cpu_elapsed", 0, 1e10, &st->cpu_elapsed)) BAD("cpu_elapsed");
  if (flag(o, "switched", &st->switched) || flag(o, "layer_started", &st->layer_started) ||
      flag(o, "have_ct", &st->have_ct))
    BAD("flags");
  double n_opt;
  if (num(o, "n_opt", 0, 2, &n_opt)) BAD("n_opt");
  const cJSON *steps = cJSON_GetObjectItemCaseSensitive(o, "opt_step");
  if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) != (int)n_opt) BAD("opt_step");
  for (int k = 0; k < (int)n_opt; k++) {
    const cJSON *it = cJSON_GetArrayItem(steps, k);
    if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e12) BAD("opt_step");
    st->opt_step[k] = (int64_t)it->valuedouble;
  }
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(o, "ct_coef");
  int nc = pn_paf_n_coeffs(cfg->form);
  if (!cJSON_IsArray(ct) || cJSON_GetArraySize(ct) != (st->have_ct ? n_sites : 0)) BAD("ct_coef");
  for (int s = 0; st->have_ct && s < n_sites; s++) {
    const cJSON *row = cJSON_GetArrayItem(ct, s);
    if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != nc) BAD("ct_coef");
    for (int i = 0; i < nc; i++) {
      const cJSON *it = cJSON_GetArrayItem(row, i);
      if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) BAD("ct_coef");
      st->ct_coef[s][i] = (float)it->valuedouble;
    }
  }
  if ((rc = pn_paf_report_from_json(ctx, cJSON_GetObjectItemCaseSensitive(o, "report"), rep))) {
    pn_err_prefix(ctx, "%s", path);
    goto out;
  }
  *n_opt_out = (int)n_opt;
#undef BAD
out:
  cJSON_Delete(o);
  return rc;
}

int paf_ckpt_load(struct pn_ctx *ctx, struct paf_run *run) {
  const char *path = run->cfg->resume_path;
  uint8_t *buf = NULL;
  size_t n = 0;
  int rc = pn_read_file(ctx, path, CKPT_MAX, &buf, &n);
  if (rc) return rc;
  struct paf_ckpt_view v;
  struct pn_graph *g = NULL;
  int n_opt = 0;
  if ((rc = paf_ckpt_parse(ctx, path, buf, n, &v))) goto out;
  if ((rc = paf_ckpt_state(ctx, path, v.state_json, v.state_len, run->cfg, run->n_sites, &run->st, run->rep, &n_opt)))
    goto out;
  /* the model: the same sites, then it replaces the caller's */
  if ((rc = pn_onnx_load(ctx, v.model, v.model_len, &g)) || (rc = pn_graph_validate(ctx, g))) {
    pn_err_prefix(ctx, "%s: model", path);
    goto out;
  }
  int idx[PN_PAF_MAX_SITES];
  int ns = pn_paf_sites(ctx, g, idx, PN_PAF_MAX_SITES);
  bool same = ns == run->n_sites;
  for (int s = 0; same && s < ns; s++)
    same = idx[s] == run->site_node[s] && !strcmp(pn_node_label(g->nodes[idx[s]]), run->rep->sites[s].name);
  if (!same) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: checkpoint of another model (its ReLU/MaxPool sites differ)", path);
    goto out;
  }
  paf_graph_swap(run->g, g);
  run->snap_n = paf_snap_size(run->g);
  float **dst[3] = {&run->snap_layer, &run->snap_group, &run->swa};
  for (int a = 0; a < 3; a++) {
    free(*dst[a]);
    *dst[a] = calloc((size_t)(run->snap_n > 0 ? run->snap_n : 1), sizeof(float));
    if (!*dst[a]) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      goto out;
    }
    if (v.arr_len[a] && v.arr_len[a] != run->snap_n) {
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: checkpoint snapshot %d has %lld floats, the model %lld", path, a,
                  (long long)v.arr_len[a], (long long)run->snap_n);
      goto out;
    }
    if (v.arr_len[a]) memcpy(*dst[a], v.arr[a], sizeof(float) * (size_t)run->snap_n);
  }
  free(run->opt_saved);
  run->opt_saved = NULL;
  run->opt_saved_n = v.arr_len[3];
  if (v.arr_len[3]) {
    run->opt_saved = malloc(sizeof(float) * (size_t)v.arr_len[3]);
    if (!run->opt_saved) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      goto out;
    }
    memcpy(run->opt_saved, v.arr[3], sizeof(float) * (size_t)v.arr_len[3]);
  }
  run->opt_saved_count = n_opt;
out:
  pn_graph_free(g);
  free(buf);
  return rc;
}

int paf_ckpt_optim_restore(struct pn_ctx *ctx, struct paf_run *run) {
  if (!run->opt_saved) return PN_OK;
  int n_opt = 0;
  while (n_opt < 2 && run->opt[n_opt]) n_opt++;
  if (n_opt != run->opt_saved_count || optim_floats(run) != run->opt_saved_n)
    return pn_err(ctx, PN_ERR_MISMATCH, "%s: optimiser state does not match the model", run->cfg->resume_path);
  const float *p = run->opt_saved;
  for (int k = 0; k < n_opt; k++) {
    for (int i = 0; i < pn_ag_n_params(run->ag); i++)
      for (int slot = 0; slot < 2; slot++) {
        int64_t ne = pn_ag_param(run->ag, i)->numel;
        memcpy(pn_optim_state(run->opt[k], i, slot), p, sizeof(float) * (size_t)ne);
        p += ne;
      }
    pn_optim_set_step(run->opt[k], run->st.opt_step[k]);
  }
  free(run->opt_saved);
  run->opt_saved = NULL;
  run->opt_saved_n = 0;
  return PN_OK;
}
