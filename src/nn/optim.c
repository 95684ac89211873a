/* optim.c - SGD (momentum, Nesterov), Adam, AdamW; warm-up + cosine/step schedules; frozen params. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/autograd.h"
#include "nn/optim.h"
#include "util/util.h"

struct pn_optim {
  struct pn_optim_cfg cfg;
  struct pn_ag *ag;
  int n;
  bool *trainable;
  float **m, **v;
  int64_t step;
};

static const char *const opt_names[PN_OPT_KIND_COUNT] = {"sgd", "adam", "adamw"};

const char *pn_opt_name(enum pn_opt_kind k) { return (unsigned)k < PN_OPT_KIND_COUNT ? opt_names[k] : "?"; }

int pn_opt_parse(const char *s) {
  for (int i = 0; i < PN_OPT_KIND_COUNT; i++)
    if (s && !strcmp(s, opt_names[i])) return i;
  return -1;
}

struct pn_optim_cfg pn_optim_defaults(enum pn_opt_kind kind) {
  struct pn_optim_cfg c;
  memset(&c, 0, sizeof c);
  c.kind = kind;
  c.lr = kind == PN_OPT_SGD ? 0.05f : 2e-3f;
  c.momentum = 0.9f;
  c.nesterov = true;
  c.beta1 = 0.9f;
  c.beta2 = 0.999f;
  c.eps = 1e-8f;
  c.weight_decay = kind == PN_OPT_SGD ? 5e-4f : (kind == PN_OPT_ADAMW ? 0.05f : 0.0f);
  c.sched = PN_SCHED_COSINE;
  c.min_lr_frac = 0.0f;
  c.gamma = 0.1f;
  return c;
}

int pn_optim_new(struct pn_ctx *ctx, const struct pn_optim_cfg *cfg, struct pn_ag *ag,
                 struct pn_optim **out) {
  *out = NULL;
  struct pn_optim *o = calloc(1, sizeof *o);
  if (!o) return pn_err(ctx, PN_ERR_NOMEM, "optimiser: out of memory");
  o->cfg = *cfg;
  o->ag = ag;
  o->n = pn_ag_n_params(ag);
  o->trainable = calloc((size_t)o->n + 1, sizeof *o->trainable);
  o->m = calloc((size_t)o->n + 1, sizeof *o->m);
  o->v = calloc((size_t)o->n + 1, sizeof *o->v);
  int rc = (!o->trainable || !o->m || !o->v) ? PN_ERR_NOMEM : PN_OK;
  for (int i = 0; !rc && i < o->n; i++) {
    size_t ne = (size_t)pn_ag_param(ag, i)->numel;
    o->trainable[i] = true;
    o->m[i] = calloc(ne ? ne : 1, sizeof(float));
    if (!o->m[i]) rc = PN_ERR_NOMEM;
    if (cfg->kind != PN_OPT_SGD && !rc && !(o->v[i] = calloc(ne ? ne : 1, sizeof(float))))
      rc = PN_ERR_NOMEM;
  }
  if (rc) {
    pn_optim_free(o);
    return pn_err(ctx, PN_ERR_NOMEM, "optimiser: out of memory");
  }
  *out = o;
  return PN_OK;
}

void pn_optim_free(struct pn_optim *o) {
  if (!o) return;
  for (int i = 0; i < o->n; i++) {
    if (o->m) free(o->m[i]);
    if (o->v) free(o->v[i]);
  }
  free(o->m);
  free(o->v);
  free(o->trainable);
  free(o);
}

void pn_optim_set_trainable(struct pn_optim *o, int i, bool trainable) {
  if (i >= 0 && i < o->n) o->trainable[i] = trainable;
}
bool pn_optim_trainable(const struct pn_optim *o, int i) { return i >= 0 && i < o->n && o->trainable[i]; }

int pn_optim_set_trainable_matching(struct pn_optim *o, const char *substr, bool trainable) {
  int k = 0;
  for (int i = 0; i < o->n; i++)
    if (strstr(pn_ag_param(o->ag, i)->name, substr)) {
      o->trainable[i] = trainable;
      k++;
    }
  return k;
}

float pn_optim_lr_at(const struct pn_optim_cfg *c, int64_t step) {
  if (c->warmup_steps > 0 && step < c->warmup_steps)
    return c->lr * (float)(step + 1) / (float)c->warmup_steps;
  int64_t t = step - c->warmup_steps;
  switch (c->sched) {
  case PN_SCHED_COSINE: {
    int64_t span = c->total_steps - c->warmup_steps;
    if (span <= 0) return c->lr;
    double f = (double)t / (double)span;
    if (f > 1) f = 1;
    double lo = c->min_lr_frac;
    return (float)(c->lr * (lo + (1 - lo) * 0.5 * (1 + cos(M_PI * f))));
  }
  case PN_SCHED_STEP:
    if (c->step_size <= 0) return c->lr;
    return c->lr * powf(c->gamma, (float)(t / c->step_size));
  default:
    return c->lr;
  }
}

void pn_optim_step(struct pn_optim *o) {
  const struct pn_optim_cfg *c = &o->cfg;
  float lr = pn_optim_lr_at(c, o->step);
  o->step++;
  double bc1 = 1 - pow(c->beta1, (double)o->step), bc2 = 1 - pow(c->beta2, (double)o->step);
  for (int i = 0; i < o->n; i++) {
    if (!o->trainable[i]) continue;
    struct pn_ag_param *p = pn_ag_param(o->ag, i);
    float *w = p->t->data, *g = p->grad, *m = o->m[i], *v = o->v[i];
    float wd = p->decay ? c->weight_decay : 0.0f;
    if (!g) continue;
    if (c->kind == PN_OPT_SGD) {
      for (int64_t j = 0; j < p->numel; j++) {
        float gj = g[j] + wd * w[j];
        m[j] = c->momentum * m[j] + gj;
        w[j] -= lr * (c->nesterov ? gj + c->momentum * m[j] : m[j]);
      }
    } else {
      bool decoupled = c->kind == PN_OPT_ADAMW;
      float a = (float)(lr / bc1);
      float s2 = (float)(1.0 / sqrt(bc2));
      for (int64_t j = 0; j < p->numel; j++) {
        float gj = g[j] + (decoupled ? 0.0f : wd * w[j]);
        m[j] = c->beta1 * m[j] + (1 - c->beta1) * gj;
        v[j] = c->beta2 * v[j] + (1 - c->beta2) * gj * gj;
        if (decoupled) w[j] -= lr * wd * w[j];
        w[j] -= a * m[j] / (sqrtf(v[j]) * s2 + c->eps);
      }
    }
  }
}

int64_t pn_optim_get_step(const struct pn_optim *o) { return o->step; }
void pn_optim_set_step(struct pn_optim *o, int64_t step) { o->step = step; }

float *pn_optim_state(struct pn_optim *o, int param, int slot) {
  if (param < 0 || param >= o->n) return NULL;
  return slot == 0 ? o->m[param] : slot == 1 ? o->v[param] : NULL;
}
