/* report.c - the SmartPAF report as JSON (for `--json` and for checkpoints), and back. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "paf/paf_impl.h"
#include "util/util.h"

static void add_num_or_null(cJSON *o, const char *k, double v, bool present) {
  if (present) cJSON_AddNumberToObject(o, k, v);
  else cJSON_AddNullToObject(o, k);
}

cJSON *pn_paf_report_json(const struct pn_paf_report *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  char tech[64];
  cJSON_AddStringToObject(o, "form", pn_paf_form_name(r->form));
  cJSON_AddStringToObject(o, "techniques", pn_paf_tech_str(r->tech, tech, sizeof tech));
  cJSON_AddNumberToObject(o, "accuracy_val_original", r->acc_val_original);
  cJSON_AddNumberToObject(o, "accuracy_val", r->acc_val);
  if (r->acc_test >= 0) cJSON_AddNumberToObject(o, "accuracy_test", r->acc_test);
  cJSON_AddNumberToObject(o, "seconds", r->seconds);
  cJSON_AddNumberToObject(o, "cpu_seconds", r->cpu_seconds);
  int depth = 0;
  for (int k = 0; k < r->n_sites; k++)
    if (r->sites[k].depth > depth) depth = r->sites[k].depth;
  cJSON_AddNumberToObject(o, "depth", pn_paf_relu_depth(r->form, true));
  cJSON_AddNumberToObject(o, "depth_max_site", depth);
  cJSON_AddNumberToObject(o, "sign_depth", pn_paf_sign_depth(r->form));
  cJSON_AddNumberToObject(o, "paf_nodes", r->paf_nodes);
  cJSON_AddNumberToObject(o, "folded_unit_scale", r->folded_unit_scale);
  cJSON_AddNumberToObject(o, "folded_unit_gain", r->folded_unit_gain);
  cJSON_AddNumberToObject(o, "max_logit_diff_fold", r->max_logit_diff_fold);
  cJSON_AddNumberToObject(o, "skipped_batches", (double)r->skipped_batches);
  cJSON *st = cJSON_AddArrayToObject(o, "stages");
  for (int i = 0; i < r->n_stages; i++) {
    const struct pn_paf_stage_report *s = &r->stages[i];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", s->name);
    cJSON_AddNumberToObject(e, "accuracy_val", s->acc_val);
    add_num_or_null(e, "accuracy_test", s->acc_test, s->acc_test >= 0);
    cJSON_AddNumberToObject(e, "seconds", s->seconds);
    cJSON_AddItemToArray(st, e);
  }
  cJSON *ov = cJSON_AddObjectToObject(o, "overflow");
  cJSON *ly = cJSON_AddArrayToObject(o, "layers");
  for (int k = 0; k < r->n_sites; k++) {
    const struct pn_paf_site_report *s = &r->sites[k];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", s->name);
    cJSON_AddStringToObject(e, "kind", pn_paf_kind_op(s->kind));
    cJSON_AddNumberToObject(e, "window", s->window);
    cJSON_AddNumberToObject(e, "scale", s->scale);
    add_num_or_null(e, "ct_mse_base", s->ct_mse_base, s->ct_mse_base > 0);
    add_num_or_null(e, "ct_mse", s->ct_mse, s->ct_mse > 0);
    cJSON_AddNumberToObject(e, "at_groups", s->at_groups);
    cJSON_AddNumberToObject(e, "at_epochs", s->at_epochs);
    cJSON_AddNumberToObject(e, "at_accuracy_val", s->at_acc);
    cJSON_AddNumberToObject(e, "overflow_val", s->overflow_val);
    cJSON_AddNumberToObject(e, "sign_inputs_val", (double)s->sign_inputs_val);
    add_num_or_null(e, "overflow_test", s->overflow_test, s->sign_inputs_test > 0);
    cJSON_AddNumberToObject(e, "sign_inputs_test", (double)s->sign_inputs_test);
    cJSON_AddNumberToObject(e, "depth", s->depth);
    cJSON_AddItemToArray(ly, e);
    cJSON *oe = cJSON_AddObjectToObject(ov, s->name);
    cJSON_AddNumberToObject(oe, "val", s->overflow_val);
    add_num_or_null(oe, "test", s->overflow_test, s->sign_inputs_test > 0);
  }
  return o;
}

static double getn(const cJSON *o, const char *k, double def) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(it) && isfinite(it->valuedouble) ? it->valuedouble : def;
}

int pn_paf_report_from_json(struct pn_ctx *ctx, const cJSON *o, struct pn_paf_report *r) {
  if (!cJSON_IsObject(o)) return pn_err(ctx, PN_ERR_CORRUPT, "report missing");
  r->acc_val_original = getn(o, "accuracy_val_original", 0);
  r->skipped_batches = (int64_t)getn(o, "skipped_batches", 0);
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "stages"), *ly = cJSON_GetObjectItemCaseSensitive(o, "layers");
  if (!cJSON_IsArray(st) || cJSON_GetArraySize(st) > PN_PAF_MAX_STAGES_REPORTED || !cJSON_IsArray(ly) ||
      cJSON_GetArraySize(ly) != r->n_sites)
    return pn_err(ctx, PN_ERR_CORRUPT, "report stages or layers out of range");
  r->n_stages = cJSON_GetArraySize(st);
  for (int i = 0; i < r->n_stages; i++) {
    const cJSON *e = cJSON_GetArrayItem(st, i), *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
    struct pn_paf_stage_report *s = &r->stages[i];
    if (!cJSON_IsString(nm)) return pn_err(ctx, PN_ERR_CORRUPT, "report stage %d has no name", i);
    snprintf(s->name, sizeof s->name, "%s", nm->valuestring);
    s->acc_val = getn(e, "accuracy_val", 0);
    s->acc_test = getn(e, "accuracy_test", -1);
    s->seconds = getn(e, "seconds", 0);
  }
  for (int k = 0; k < r->n_sites; k++) {
    const cJSON *e = cJSON_GetArrayItem(ly, k);
    struct pn_paf_site_report *s = &r->sites[k];
    s->scale = (float)getn(e, "scale", 0);
    s->ct_mse_base = getn(e, "ct_mse_base", 0);
    s->ct_mse = getn(e, "ct_mse", 0);
    s->at_groups = (int)getn(e, "at_groups", 0);
    s->at_epochs = (int)getn(e, "at_epochs", 0);
    s->at_acc = getn(e, "at_accuracy_val", 0);
  }
  return PN_OK;
}
