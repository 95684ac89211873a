/* evaluate.c - a classifier's accuracy, loss and confusion matrix on a split, run by the plaintext
** executor (what `privnn eval` reports and what SmartPAF selects its models on). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/exec.h"
#include "nn/train.h"
#include "util/progress.h"
#include "util/util.h"

/* cross-entropy of logits z[0..K) against label y; *arg = the top-1 class */
static double xent(const float *z, int64_t K, int y, int64_t *arg) {
  float mx = z[0];
  *arg = 0;
  for (int64_t k = 1; k < K; k++)
    if (z[k] > mx) mx = z[k], *arg = k;
  double s = 0;
  for (int64_t k = 0; k < K; k++) s += exp((double)(z[k] - mx));
  return log(s) - (double)(z[y] - mx);
}

int pn_evaluate_exec(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_dataset *ds, enum pn_split s,
                     const struct pn_eval_opts *o, struct pn_eval_result *r) {
  memset(r, 0, sizeof *r);
  const int C = ds->classes;
  if (o->conf) memset(o->conf, 0, sizeof(int64_t) * (size_t)C * (size_t)C);
  int64_t n = o->n > 0 && o->n < ds->n[s] ? o->n : ds->n[s];
  if (o->idx) n = o->n;
  int batch = o->batch > 0 ? o->batch : 250;
  if (n <= 0) return pn_err(ctx, PN_ERR_INVALID, "evaluate: the %s split is empty", pn_split_name(s));
  struct pn_exec *ex = NULL;
  struct pn_exec_opts eo = {.observer = o->observer, .observer_user = o->observer_user};
  int rc = pn_exec_new(ctx, g, &eo, &ex);
  if (rc) return rc;
  if (pn_exec_n_inputs(ex) != 1 || pn_exec_n_outputs(ex) < 1) {
    pn_exec_free(ex);
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "model must have one input [N,%d,%d,%d] and a logits output",
                  ds->channels, ds->height, ds->width);
  }
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)batch);
  int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
  int n_out = pn_exec_n_outputs(ex);
  struct pn_tensor **outs = calloc((size_t)n_out, sizeof *outs);
  double tl = 0;
  int64_t ok = 0;
  if (!idx || !y || !outs) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  struct pn_progress bar;
  if (o->progress) pn_progress_start_unit(&bar, "eval", "images", (uint64_t)n);
  for (int64_t b0 = 0; !rc && b0 < n; b0 += batch) {
    int cnt = (int)(n - b0 < batch ? n - b0 : batch);
    int64_t dims[4] = {cnt, ds->channels, ds->height, ds->width};
    struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, dims);
    if (!x) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      break;
    }
    for (int i = 0; i < cnt; i++) idx[i] = o->idx ? o->idx[b0 + i] : b0 + i;
    pn_dataset_batch(ds, s, idx, cnt, 0, o->flip, o->flip ? o->prg : NULL, x->data, y);
    memset(outs, 0, sizeof *outs * (size_t)n_out);
    const struct pn_tensor *ins[1] = {x};
    rc = pn_exec_run(ctx, ex, ins, outs);
    pn_tensor_free(x);
    if (rc) break;
    struct pn_tensor *z = outs[0];
    int64_t K = z->ndim >= 1 && z->dims[0] == cnt ? pn_tensor_numel(z) / cnt : 0;
    if (z->dtype != PN_DT_FLOAT || K < C) {
      rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "output '%s' must be float [N,>=%d] logits (the dataset's classes)",
                  pn_exec_output(ex, 0)->name, C);
    } else {
      for (int i = 0; i < cnt; i++) {
        int64_t arg;
        tl += xent((const float *)z->data + i * K, K, y[i], &arg);
        ok += arg == y[i];
        if (o->conf && arg < C) o->conf[(int64_t)y[i] * C + arg]++;
      }
    }
    for (int j = 0; j < n_out; j++) pn_tensor_free(outs[j]);
    if (o->progress && !rc) {
      char extra[48];
      snprintf(extra, sizeof extra, "accuracy %.2f%%", 100.0 * (double)ok / (double)(b0 + cnt));
      pn_progress_update(&bar, (uint64_t)(b0 + cnt), extra);
    }
  }
  if (o->progress) pn_progress_end(&bar);
  free(idx);
  free(y);
  free(outs);
  pn_exec_free(ex);
  if (!rc) {
    r->n = n;
    r->loss = tl / (double)n;
    r->acc = (double)ok / (double)n;
  }
  return rc;
}
