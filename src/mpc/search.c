/* search.c - HummingBird's search engine: the error model, the knapsack DP, the error-free and
** budget searches over the executor simulation, and the bit-exact confirmation.
**
** Error-free: every layer starts at the range covering every word it compares (k = 0), then, the
** layers with most comparisons first, a binary search over the width n (the error model picks k
** for each n) keeps the narrowest width whose simulation changes no prediction in any of `draws`
** share draws with every other layer at its current range; a second round tries one bit less per
** layer. Each check stops at the first changed prediction, so a failing candidate costs little.
** Budget: a loss curve per layer (simulation on the probe images with only that layer reduced,
** accuracy and cross-entropy lost against plaintext), a DP for the widths under the budget, then a
** greedy refinement on all search images (one width moved between two layers, or k moved by one)
** while accuracy improves. A budget at or above the error-free plan's width gets that plan (it
** changes no prediction; more bits could only tie it): when the budget is not below the loss
** curves' estimate of that width (each layer alone at its narrowest width changing no probe
** prediction), the error-free search runs first; if its plan fits, it is the answer, otherwise that
** plan narrowed to the budget (by the error model) competes with the DP's as the refinement's start.
** The bit-exact simulator of the protocol then runs the plan; for an error-free plan a prediction
** it changes widens the layer found responsible by one bit (k - 1) and runs it again (in budget
** mode while the budget allows). */
#include <cJSON.h>
#include "mpc/search.h"

#include <float.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/exec.h"
#include "mpc/dealer.h"
#include "mpc/mpc.h"
#include "mpc/profile.h"
#include "mpc/ring64.h"
#include "util/util.h"

#define NW 65                  /* widths 0..64 */
#define MAX_ROUNDS 3           /* budget refinement rounds */
#define REFINE_TRIES 4         /* neighbours simulated per round */
#define MAX_BACKOFFS 8         /* error-free widenings after the bit-exact simulator */
#define CE_WEIGHT 0.1          /* budget loss: accuracy lost + CE_WEIGHT * cross-entropy gained */

/* ------------------------------------------------------------------ error model ---- */

void pn_hb_error_model(const struct pn_hb_hist *h, int k, int m, struct pn_hb_err *o) {
  memset(o, 0, sizeof *o);
  if (k >= m) { /* the identity: every negative passes */
    for (int j = 1; j < PN_HB_BINS; j++) {
      o->wrong += h->n[1][j];
      o->changed += h->n[1][j];
      o->l1 += h->s1[1][j];
      o->l2 += h->s2[1][j];
    }
    return;
  }
  double K = ldexp(1, k);
  for (int s = 0; s < 2; s++)
    for (int j = 0; j < PN_HB_BINS; j++) {
      double n = h->n[s][j];
      if (n == 0) continue;
      if (j >= m) { /* |X| >= 2^(m-1): the sign of X mod 2^m */
        double f = j == m ? 1 : 0.5;
        o->wrong += f * n;
        o->changed += f * n;
        o->l1 += f * h->s1[s][j];
        o->l2 += f * h->s2[s][j];
      } else if (s == 0 && j <= k && k > 0) { /* 0 <= X < 2^k: read negative w.p. (2^k-1-X)/2^k */
        o->wrong += (n * (K - 1) - h->s1[s][j]) / K;
        if (j > 0) {
          o->changed += (n * (K - 1) - h->s1[s][j]) / K;
          o->l1 += ((K - 1) * h->s1[s][j] - h->s2[s][j]) / K;
          o->l2 += ((K - 1) * h->s2[s][j] - h->s3[s][j]) / K;
        }
      }
    }
}

int pn_hb_best_k(const struct pn_hb_hist *h, int n, struct pn_hb_err *err) {
  int best = 0;
  struct pn_hb_err be, e;
  pn_hb_error_model(h, 0, n, &be);
  for (int k = 1; n > 0 && k + n <= 64; k++) {
    pn_hb_error_model(h, k, k + n, &e);
    if (e.l2 < be.l2 || (e.l2 == be.l2 && e.changed < be.changed)) {
      be = e;
      best = k;
    }
  }
  if (err) *err = be;
  return best;
}

/* ----------------------------------------------------------------------- the DP ---- */

static int64_t gcd64(int64_t a, int64_t b) {
  while (b) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

int pn_mpc_search_dp(struct pn_ctx *ctx, int L, const int64_t *elems, int nw, const double *loss,
                     double budget, int *w, int64_t *states) {
  if (L < 1 || nw < 1 || nw > 255 || !(budget >= 0))
    return pn_err(ctx, PN_ERR_INVALID, "search DP: %d layers, %d widths, budget %g", L, nw, budget);
  int64_t E = 0, g = 0;
  for (int i = 0; i < L; i++) {
    if (elems[i] < 1) return pn_err(ctx, PN_ERR_INVALID, "search DP: layer %d has no comparisons", i);
    E += elems[i];
    g = gcd64(g, elems[i]);
  }
  /* sum w_i e_i <= budget * E exactly: an integer bound, then in units of the gcd */
  double capd = floor(budget * (double)E + 1e-9 * budget * (double)E);
  if (capd > (double)E * (nw - 1)) capd = (double)E * (nw - 1);
  int64_t cap = (int64_t)capd / g;
  int64_t *u = malloc(sizeof(int64_t) * (size_t)L);
  if (!u) return pn_err(ctx, PN_ERR_NOMEM, "search DP: out of memory");
  for (int i = 0; i < L; i++) u[i] = elems[i] / g;
  const int64_t max_cells = (int64_t)1 << 22;
  if (cap + 1 > max_cells) { /* scale: u_i <= s * ceil(u_i / s), so the bound still holds */
    int64_t s = (cap + max_cells - 1) / (max_cells - 1);
    for (int i = 0; i < L; i++) u[i] = (u[i] + s - 1) / s;
    cap /= s;
  }
  int64_t C = cap + 1;
  double *dp = malloc(sizeof(double) * (size_t)C), *nx = malloc(sizeof(double) * (size_t)C);
  uint8_t *ch = malloc((size_t)L * (size_t)C);
  int rc = PN_OK;
  if (!dp || !nx || !ch) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "search DP: out of memory");
    goto out;
  }
  for (int64_t c = 0; c < C; c++) dp[c] = c ? INFINITY : 0;
  int64_t cells = 0;
  for (int i = 0; i < L; i++) {
    for (int64_t c = 0; c < C; c++) {
      nx[c] = INFINITY;
      ch[(size_t)i * (size_t)C + (size_t)c] = 0;
    }
    for (int x = 0; x < nw; x++) {
      double l = loss[i * nw + x];
      int64_t cost = (int64_t)x * u[i];
      if (!(l < INFINITY) || cost >= C) continue;
      for (int64_t c = cost; c < C; c++) {
        double v = dp[c - cost] + l;
        if (v < nx[c]) {
          nx[c] = v;
          ch[(size_t)i * (size_t)C + (size_t)c] = (uint8_t)x;
        }
      }
      cells += C - cost;
    }
    double *t = dp;
    dp = nx;
    nx = t;
  }
  /* least loss; among (nearly) equal losses the most bits */
  int64_t best = -1;
  for (int64_t c = 0; c < C; c++)
    if (dp[c] < INFINITY && (best < 0 || dp[c] < dp[best] - 1e-12 ||
                             (fabs(dp[c] - dp[best]) <= 1e-12)))
      best = c;
  if (best < 0) {
    rc = pn_err(ctx, PN_ERR_INVALID, "search DP: no choice of widths fits %.4g bits on average", budget);
    goto out;
  }
  for (int i = L - 1; i >= 0; i--) {
    w[i] = ch[(size_t)i * (size_t)C + (size_t)best];
    best -= (int64_t)w[i] * u[i];
  }
  if (states) *states = cells;
out:
  free(u);
  free(dp);
  free(nx);
  free(ch);
  return rc;
}

/* ---------------------------------------------------------- the search state ---- */

/* Images with their labels and plaintext predictions. */
struct imgset {
  int64_t n;
  float *x;                    /* n * per_image */
  int32_t *labels, *pred0;
};

struct search {
  struct pn_ctx *ctx;
  const struct pn_mpc_search_cfg *cfg;
  const struct pn_dataset *ds;
  int64_t count, per_image, K;
  int B;
  struct imgset all;           /* the search images */
  struct imgset fragile;       /* error-free: the least confident of them, checked with more draws */
  struct pn_graph *gb;         /* the model at batch B */
  struct pn_exec *ex;
  struct pn_hb_sim *sim;
  float *xb;                   /* one batch */
  int L;
  struct pn_mpc_search_layer *ly;
  struct pn_hb_hist *hist;     /* per layer */
  int (*bestk)[NW];            /* per layer and width: k of least expected squared error */
  struct pn_hb_err (*err)[NW];
  struct pn_hb_range *cur;     /* the current plan */
  bool errfree;                /* cur must change no prediction (error-free, or a budget it fits) */
  bool from_ef;                /* budget: cur started from the error-free plan */
  double ef_bits;              /* budget: the error-free plan's width (0 = not computed) */
  struct pn_progress bar;
  struct pn_mpc_search_stats *st;
  cJSON *log;
};

static int profile_images(void *user, struct pn_ctx *ctx, int64_t first, int64_t cnt, float *x) {
  struct search *S = user;
  (void)ctx;
  memcpy(x, S->all.x + first * S->per_image, sizeof(float) * (size_t)(cnt * S->per_image));
  return PN_OK;
}

static double cross_entropy(const float *z, int64_t K, int32_t y) {
  float mx = z[0];
  for (int64_t k = 1; k < K; k++)
    if (z[k] > mx) mx = z[k];
  double s = 0;
  for (int64_t k = 0; k < K; k++) s += exp((double)(z[k] - mx));
  return log(s) - (double)(z[y] - mx);
}

static int32_t argmax_f(const float *z, int64_t K) {
  int64_t a = 0;
  for (int64_t k = 1; k < K; k++)
    if (z[k] > z[a]) a = k;
  return (int32_t)a;
}

/* The outcome of a plan on images [0, n). */
struct outcome {
  int64_t n, correct, changed;
  double ce;                   /* summed cross-entropy */
};

/* Run ranges rg (per layer; NULL = all exact) on images [0, n) of set with share stream `draw`;
** stop at the first changed prediction when stop_on_change. pred and margin (may be NULL) get
** each image's prediction and its top-1 minus top-2 logit. */
static int run_plan(struct search *S, const struct imgset *set, const struct pn_hb_range *rg,
                    int draw, int64_t n, bool stop_on_change, struct outcome *o, int32_t *pred,
                    double *margin) {
  memset(o, 0, sizeof *o);
  pn_hb_sim_clear(S->sim);
  for (int i = 0; rg && i < S->L; i++)
    if (pn_hb_sim_set(S->sim, S->ly[i].node, rg[i]))
      return pn_err(S->ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  const struct pn_value *iv = pn_exec_input(S->ex, 0);
  int64_t dims[PN_MAX_DIMS];
  for (int d = 0; d < iv->ndim; d++) dims[d] = iv->dims[d];
  dims[0] = S->B;
  int rc = PN_OK;
  if (rg) S->st->emu_candidates++;
  for (int64_t first = 0; first < n; first += S->B) {
    int64_t cnt = n - first < S->B ? n - first : S->B;
    struct pn_tensor *in = pn_tensor_new(PN_DT_FLOAT, iv->ndim, dims), *out = NULL;
    if (!in) return pn_err(S->ctx, PN_ERR_NOMEM, "mpc search: out of memory");
    memset(in->data, 0, sizeof(float) * (size_t)(S->B * S->per_image));
    memcpy(in->data, set->x + first * S->per_image, sizeof(float) * (size_t)(cnt * S->per_image));
    pn_hb_sim_seek(S->sim, (uint32_t)draw, (uint64_t)first);
    const struct pn_tensor *ins[1] = {in};
    rc = pn_exec_run(S->ctx, S->ex, ins, &out);
    pn_tensor_free(in);
    if (rc) return rc;
    const float *z = out->data;
    for (int64_t i = 0; i < cnt; i++) {
      const float *zi = z + i * S->K;
      int32_t p = argmax_f(zi, S->K);
      if (pred) pred[first + i] = p;
      if (margin) {
        float second = -INFINITY;
        for (int64_t k = 0; k < S->K; k++)
          if (k != p && zi[k] > second) second = zi[k];
        margin[first + i] = (double)zi[p] - (double)second;
      }
      o->correct += p == set->labels[first + i];
      if (set->pred0) o->changed += p != set->pred0[first + i];
      o->ce += cross_entropy(zi, S->K, set->labels[first + i]);
    }
    pn_tensor_free(out);
    o->n += cnt;
    if (rg) S->st->emu_images += cnt;
    pn_progress_update(&S->bar, (uint64_t)S->st->emu_images, NULL);
    if (stop_on_change && o->changed) break;
  }
  return rc;
}

#define FRAGILE_STREAM 1000    /* the fragile set's share streams: FRAGILE_STREAM + draw */

/* Does rg change no prediction: on the fragile images in any of their draws (first: that is where
** a change shows soonest), then on all search images in any of the draws? */
static int passes(struct search *S, const struct pn_hb_range *rg, bool *ok, int64_t *images) {
  int draws = S->cfg->draws > 0 ? S->cfg->draws : 2;
  int fdraws = S->cfg->fragile_draws > 0 ? S->cfg->fragile_draws : 16;
  *ok = true;
  *images = 0;
  for (int d = 0; d < fdraws && *ok && S->fragile.n; d++) {
    struct outcome o;
    int rc = run_plan(S, &S->fragile, rg, FRAGILE_STREAM + d, S->fragile.n, true, &o, NULL, NULL);
    if (rc) return rc;
    *images += o.n;
    *ok = o.changed == 0;
  }
  for (int d = 0; d < draws && *ok; d++) {
    struct outcome o;
    int rc = run_plan(S, &S->all, rg, d, S->count, true, &o, NULL, NULL);
    if (rc) return rc;
    *images += o.n;
    *ok = o.changed == 0;
  }
  return PN_OK;
}

static void log_entry(struct search *S, const char *stage, int layer, struct pn_hb_range rg,
                      const char *key, double value, const char *verdict) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "stage", stage);
  if (layer >= 0) cJSON_AddStringToObject(e, "node", S->ly[layer].node);
  if (rg.k >= 0) {
    cJSON_AddNumberToObject(e, "k", rg.k);
    cJSON_AddNumberToObject(e, "m", rg.m);
  }
  if (key) cJSON_AddNumberToObject(e, key, value);
  if (verdict) cJSON_AddStringToObject(e, "result", verdict);
  cJSON_AddItemToArray(S->log, e);
}

static struct pn_hb_range width_range(const struct search *S, int i, int n) {
  int k = S->bestk[i][n];
  return (struct pn_hb_range){k, k + n};
}

static double avg_bits(const struct search *S, const struct pn_hb_range *rg) {
  double used = 0, all = 0;
  for (int i = 0; i < S->L; i++) {
    used += (double)(rg[i].k < 0 ? 64 : rg[i].m - rg[i].k) * (double)S->ly[i].elems;
    all += (double)S->ly[i].elems;
  }
  return all > 0 ? used / all : 64;
}

/* Comparison bits per image of rg (widths times comparisons; exact in a double). */
static double used_bits(const struct search *S, const struct pn_hb_range *rg) {
  double used = 0;
  for (int i = 0; i < S->L; i++) used += (double)(rg[i].m - rg[i].k) * (double)S->ly[i].elems;
  return used;
}

/* The budget's cap on used_bits, as the DP and the refinement apply it. */
static double budget_cap(const struct search *S) {
  double E = 0;
  for (int i = 0; i < S->L; i++) E += (double)S->ly[i].elems;
  return floor(S->cfg->budget * E + 1e-9 * S->cfg->budget * E);
}

/* A set of images idx[0..n) of the search images. */
static int subset(struct search *S, const int64_t *idx, int64_t n, struct imgset *out) {
  out->n = n;
  out->x = malloc(sizeof(float) * (size_t)(n * S->per_image + 1));
  out->labels = malloc(sizeof(int32_t) * (size_t)(n + 1));
  out->pred0 = malloc(sizeof(int32_t) * (size_t)(n + 1));
  if (!out->x || !out->labels || !out->pred0) return pn_err(S->ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  for (int64_t i = 0; i < n; i++) {
    memcpy(out->x + i * S->per_image, S->all.x + idx[i] * S->per_image, sizeof(float) * (size_t)S->per_image);
    out->labels[i] = S->all.labels[idx[i]];
    out->pred0[i] = S->all.pred0[idx[i]];
  }
  return PN_OK;
}

struct keyed {
  double key;
  int64_t i;
};
static int by_key(const void *a, const void *b) {
  const struct keyed *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->i < y->i ? -1 : 1;
}

/* The fragile set: the 2% of search images (at least 8) with the smallest plaintext margin
** between the top two logits, where a reduced ring changes a prediction first. */
static int pick_fragile(struct search *S, const double *margin) {
  int64_t n = S->count / 50 > 8 ? S->count / 50 : 8;
  if (n > S->count) n = S->count;
  struct keyed *k = malloc(sizeof *k * (size_t)S->count);
  int64_t *idx = malloc(sizeof *idx * (size_t)n);
  int rc = k && idx ? PN_OK : pn_err(S->ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  if (rc == PN_OK) {
    for (int64_t i = 0; i < S->count; i++) k[i] = (struct keyed){margin[i], i};
    qsort(k, (size_t)S->count, sizeof *k, by_key);
    for (int64_t i = 0; i < n; i++) idx[i] = k[i].i;
    rc = subset(S, idx, n, &S->fragile);
  }
  free(k);
  free(idx);
  return rc;
}

/* --------------------------------------------------------------- error-free ---- */

static int search_error_free(struct search *S) {
  int rc;
  int *order = malloc(sizeof(int) * (size_t)S->L);
  if (!order) return pn_err(S->ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  for (int i = 0; i < S->L; i++) order[i] = i;
  for (int a = 1; a < S->L; a++) /* most comparisons first (stable) */
    for (int b = a; b > 0 && S->ly[order[b]].elems > S->ly[order[b - 1]].elems; b--) {
      int t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  for (int i = 0; i < S->L; i++) S->cur[i] = (struct pn_hb_range){0, S->ly[i].cover_m};
  for (int round = 0; round < 2; round++) {
    for (int oi = 0; oi < S->L; oi++) {
      int i = order[oi];
      int hi = S->cur[i].m - S->cur[i].k, lo = round ? hi - 1 : 0;
      if (lo < 0) continue;
      while (lo < hi) {
        int mid = round ? lo : (lo + hi) / 2;
        struct pn_hb_range save = S->cur[i], c = width_range(S, i, mid);
        bool ok;
        int64_t imgs = 0;
        if (S->err[i][mid].changed == 0) { /* nothing it reads differently: no simulation needed */
          ok = true;
        } else {
          S->cur[i] = c;
          snprintf(S->bar.label, sizeof S->bar.label, "search %s n=%d", S->ly[i].node, mid);
          rc = passes(S, S->cur, &ok, &imgs);
          S->cur[i] = save;
          if (rc) goto out;
        }
        log_entry(S, round ? "refine" : "binary", i, c, "images", (double)imgs, ok ? "pass" : "fail");
        if (ok) {
          hi = mid;
          S->cur[i] = c;
        } else {
          lo = mid + 1;
        }
      }
    }
  }
  rc = PN_OK;
out:
  free(order);
  return rc;
}

/* ------------------------------------------------------------------- budget ---- */

static double loss_of(const struct search *S, const struct outcome *o, const struct outcome *base) {
  (void)S;
  double acc = (double)(base->correct - o->correct) / (double)o->n;
  double ce = (o->ce - base->ce) / (double)o->n;
  double l = acc + CE_WEIGHT * ce;
  return l > 0 ? l : 0;
}

/* A refinement neighbour: layer i to range a (and layer j to b, when j >= 0). */
struct cand {
  struct pn_hb_range a, b;
  int i, j;
  double pred;                 /* predicted change of the loss */
};

/* Narrow rg to the budget's cap one bit at a time (k + 1 or m - 1), each time where the error
** model expects the fewest more changed outputs (then the least more squared error) per bit saved. */
static void narrow_to_cap(const struct search *S, struct pn_hb_range *rg, double cap) {
  while (used_bits(S, rg) > cap) {
    int bi = -1;
    struct pn_hb_range best = {0, 0};
    double bc = 0, bl = 0;
    for (int i = 0; i < S->L; i++) {
      if (rg[i].m - rg[i].k <= 0) continue;
      struct pn_hb_err now, e;
      pn_hb_error_model(&S->hist[i], rg[i].k, rg[i].m, &now);
      for (int side = 0; side < 2; side++) {
        struct pn_hb_range c = side ? (struct pn_hb_range){rg[i].k, rg[i].m - 1}
                                    : (struct pn_hb_range){rg[i].k + 1, rg[i].m};
        pn_hb_error_model(&S->hist[i], c.k, c.m, &e);
        double dc = (e.changed - now.changed) / (double)S->ly[i].elems;
        double dl = (e.l2 - now.l2) / (double)S->ly[i].elems;
        if (bi < 0 || dc < bc || (dc == bc && dl < bl)) {
          bi = i;
          best = c;
          bc = dc;
          bl = dl;
        }
      }
    }
    if (bi < 0) return; /* every width 0 */
    rg[bi] = best;
  }
}

/* Is outcome a better than b: more correct, then fewer predictions changed, then less loss? */
static bool better_outcome(const struct outcome *a, const struct outcome *b) {
  if (a->correct != b->correct) return a->correct > b->correct;
  if (a->changed != b->changed) return a->changed < b->changed;
  return a->ce < b->ce;
}

static int search_budget(struct search *S, double *curve /* L x NW */) {
  struct pn_ctx *ctx = S->ctx;
  int64_t probe = S->cfg->probe > 0 ? S->cfg->probe : 1000;
  if (probe > S->count) probe = S->count;
  struct outcome base, o;
  int rc = run_plan(S, &S->all, NULL, 0, probe, false, &base, NULL, NULL);
  if (rc) return rc;
  double acc0 = (double)base.correct / (double)probe;
  double cap = budget_cap(S), keep = 0, E = 0;
  struct pn_hb_range *efp = NULL; /* the error-free plan narrowed to the budget */
  /* loss curves: each layer alone; keep: comparison bits of every layer at the narrowest width
  ** from which, alone, it changes no probe prediction */
  for (int i = 0; i < S->L; i++) {
    double *lc = curve + i * NW;
    int nsafe = NW - 1;
    for (int n = 0; n < NW; n++) /* the model expects under 0.05 changed outputs on the probe */
      if (S->err[i][n].changed * (double)probe < 0.05) {
        nsafe = n;
        break;
      }
    for (int n = nsafe; n < NW; n++) lc[n] = 0;
    double worst = 0;
    bool collapsed = false;
    int nz = nsafe;
    for (int n = nsafe - 1; n >= 0; n--) {
      if (collapsed) {
        lc[n] = worst;
        continue;
      }
      struct pn_hb_range *rg = S->cur;
      for (int j = 0; j < S->L; j++) rg[j] = (struct pn_hb_range){-1, -1};
      rg[i] = width_range(S, i, n);
      snprintf(S->bar.label, sizeof S->bar.label, "curve %s n=%d", S->ly[i].node, n);
      if ((rc = run_plan(S, &S->all, rg, 0, probe, false, &o, NULL, NULL))) return rc;
      lc[n] = loss_of(S, &o, &base);
      if (o.changed == 0 && nz == n + 1) nz = n;
      if (lc[n] < lc[n + 1]) lc[n] = lc[n + 1]; /* fewer bits never help */
      worst = lc[n];
      log_entry(S, "curve", i, rg[i], "loss", lc[n], NULL);
      /* below chance-level accuracy the curve stays at its worst */
      if ((double)o.correct / (double)probe < 0.25 * acc0 + 0.75 * 0.1) collapsed = true;
    }
    keep += (double)nz * (double)S->ly[i].elems;
    E += (double)S->ly[i].elems;
  }
  /* a budget at or above the error-free plan's width: that plan */
  log_entry(S, "estimate", -1, (struct pn_hb_range){-1, -1}, "error_free_bits_estimate", keep / E, NULL);
  if (keep <= cap) {
    snprintf(S->bar.label, sizeof S->bar.label, "error-free");
    if ((rc = search_error_free(S))) return rc;
    S->ef_bits = avg_bits(S, S->cur);
    bool fits = used_bits(S, S->cur) <= cap;
    log_entry(S, "error-free", -1, (struct pn_hb_range){-1, -1}, "avg_bits", S->ef_bits,
              fits ? "fits the budget" : "over the budget: narrowed, competes with the DP");
    if (fits) {
      S->from_ef = S->errfree = true;
      return PN_OK;
    }
    if (!(efp = malloc(sizeof *efp * (size_t)S->L))) return pn_err(ctx, PN_ERR_NOMEM, "mpc search: out of memory");
    memcpy(efp, S->cur, sizeof *efp * (size_t)S->L);
    narrow_to_cap(S, efp, cap);
  }
  /* the DP; a tiny cost on lost bits breaks ties towards the budget's full use */
  struct cand *cs = NULL;
  int *w = malloc(sizeof(int) * (size_t)S->L);
  int64_t *el = malloc(sizeof(int64_t) * (size_t)S->L);
  if (!w || !el) {
    free(w);
    free(el);
    free(efp);
    return pn_err(ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  }
  for (int i = 0; i < S->L; i++) el[i] = S->ly[i].elems;
  double t0 = pn_now();
  rc = pn_mpc_search_dp(ctx, S->L, el, NW, curve, S->cfg->budget, w, &S->st->dp_states);
  S->st->seconds[2] += pn_now() - t0;
  if (rc) goto done;
  for (int i = 0; i < S->L; i++) {
    S->cur[i] = width_range(S, i, w[i]);
    pn_hb_error_model(&S->hist[i], S->cur[i].k, S->cur[i].m, &S->ly[i].err);
  }
  log_entry(S, "dp", -1, (struct pn_hb_range){-1, -1}, "avg_bits", avg_bits(S, S->cur), NULL);
  /* greedy refinement on all search images */
  struct outcome now;
  snprintf(S->bar.label, sizeof S->bar.label, "refine");
  if ((rc = run_plan(S, &S->all, S->cur, 0, S->count, false, &now, NULL, NULL))) goto done;
  if (efp) { /* the narrowed error-free plan instead, when it does better */
    struct outcome eo;
    snprintf(S->bar.label, sizeof S->bar.label, "error-free narrowed");
    if ((rc = run_plan(S, &S->all, efp, 0, S->count, false, &eo, NULL, NULL))) goto done;
    bool use = better_outcome(&eo, &now);
    log_entry(S, "error-free narrowed", -1, (struct pn_hb_range){-1, -1}, "accuracy",
              (double)eo.correct / (double)S->count, use ? "better than the DP's" : "not better");
    if (use) {
      memcpy(S->cur, efp, sizeof *efp * (size_t)S->L);
      now = eo;
      S->from_ef = true;
      for (int i = 0; i < S->L; i++)
        pn_hb_error_model(&S->hist[i], S->cur[i].k, S->cur[i].m, &S->ly[i].err);
    }
  }
  log_entry(S, "refine", -1, (struct pn_hb_range){-1, -1}, "accuracy",
            (double)now.correct / (double)S->count, "start");
  cs = malloc(sizeof *cs * (size_t)(S->L * (S->L + 2)));
  if (!cs) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "mpc search: out of memory");
    goto done;
  }
  for (int round = 0; round < MAX_ROUNDS; round++) {
    /* neighbours, by predicted loss change */
    int nc = 0;
    for (int i = 0; i < S->L; i++) {
      int ni = S->cur[i].m - S->cur[i].k;
      for (int j = 0; j < S->L; j++) {
        if (j == i || ni >= 64) continue;
        int nj = S->cur[j].m - S->cur[j].k;
        double used = 0;
        for (int t = 0; t < S->L; t++)
          used += (double)((t == i ? ni + 1 : S->cur[t].m - S->cur[t].k)) * (double)S->ly[t].elems;
        int drop = 0;
        while (nj - drop > 0 && used - drop * (double)S->ly[j].elems > cap) drop++;
        if (used - drop * (double)S->ly[j].elems > cap) continue;
        struct cand c = {width_range(S, i, ni + 1), width_range(S, j, nj - drop), i, j, 0};
        c.pred = curve[i * NW + ni + 1] - curve[i * NW + ni] + curve[j * NW + nj - drop] - curve[j * NW + nj];
        cs[nc++] = c;
      }
      for (int dk = -1; dk <= 1; dk += 2) { /* k moved, width kept */
        int k = S->cur[i].k + dk;
        if (k < 0 || k + ni > 64) continue;
        struct pn_hb_err e;
        pn_hb_error_model(&S->hist[i], k, k + ni, &e);
        struct cand c = {{k, k + ni}, {-1, -1}, i, -1, 0};
        /* predicted by the error model's squared error relative to the current k's */
        c.pred = (e.l2 - S->ly[i].err.l2) / (S->ly[i].err.l2 + 1) * 1e-3;
        cs[nc++] = c;
      }
    }
    S->st->model_candidates += nc;
    /* the best REFINE_TRIES by prediction */
    bool moved = false;
    struct outcome best = now;
    struct pn_hb_range *bestp = malloc(sizeof *bestp * (size_t)S->L), *tryp = malloc(sizeof *tryp * (size_t)S->L);
    if (!bestp || !tryp) {
      free(bestp);
      free(tryp);
      rc = pn_err(ctx, PN_ERR_NOMEM, "mpc search: out of memory");
      goto done;
    }
    for (int t = 0; t < REFINE_TRIES && t < nc; t++) {
      int bi = t;
      for (int c = t + 1; c < nc; c++)
        if (cs[c].pred < cs[bi].pred) bi = c;
      struct cand tmp = cs[t];
      cs[t] = cs[bi];
      cs[bi] = tmp;
      memcpy(tryp, S->cur, sizeof *tryp * (size_t)S->L);
      tryp[cs[t].i] = cs[t].a;
      if (cs[t].j >= 0) tryp[cs[t].j] = cs[t].b;
      snprintf(S->bar.label, sizeof S->bar.label, "refine %d/%d", round + 1, MAX_ROUNDS);
      if ((rc = run_plan(S, &S->all, tryp, 0, S->count, false, &o, NULL, NULL))) {
        free(bestp);
        free(tryp);
        goto done;
      }
      bool better = better_outcome(&o, &best);
      log_entry(S, "refine", cs[t].i, cs[t].a, "accuracy", (double)o.correct / (double)S->count,
                better ? "better" : "not better");
      if (better) {
        best = o;
        memcpy(bestp, tryp, sizeof *tryp * (size_t)S->L);
        moved = true;
      }
    }
    if (moved) {
      memcpy(S->cur, bestp, sizeof *bestp * (size_t)S->L);
      now = best;
      for (int i = 0; i < S->L; i++)
        pn_hb_error_model(&S->hist[i], S->cur[i].k, S->cur[i].m, &S->ly[i].err);
    }
    free(bestp);
    free(tryp);
    if (!moved) break;
  }
done:
  free(cs);
  free(w);
  free(el);
  free(efp);
  return rc;
}

/* ---------------------------------------------------------- bit-exact sim ---- */

int pn_mpc_sim_eval(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_mpc_plan *plan,
                    const struct pn_dataset *ds, enum pn_split s, int64_t count, int batch,
                    const uint8_t seed[PN_SEED_BYTES], bool progress, int32_t *pred,
                    struct pn_mpc_sim_eval *out) {
  memset(out, 0, sizeof *out);
  if (count <= 0 || count > ds->n[s]) count = ds->n[s];
  if (batch <= 0) batch = 50;
  if (batch > count) batch = (int)count;
  if (count <= 0) return pn_err(ctx, PN_ERR_INVALID, "mpc simulator: the %s split is empty", pn_split_name(s));
  int frac = PN_MPC_FRAC_DEFAULT;
  uint8_t master[PN_SEED_BYTES], client[PN_SEED_BYTES];
  pn_seed_derive(seed, "sim-eval-dealer", 0, master);
  pn_seed_derive(seed, "sim-eval-client", 0, client);
  struct pn_mpc_dealer *d = NULL;
  struct pn_mpc_model *mm = NULL;
  struct pn_graph *gb = pn_graph_clone_batch(g, batch);
  struct pn_exec *ex = NULL;
  struct pn_mpc_model_opts mo = {.batch = batch, .frac = frac, .plan = plan};
  struct pn_mpc m;
  int minit = 0;
  int64_t per = ds->pixels, K = 0;
  float *x = malloc(sizeof(float) * (size_t)batch * (size_t)per);
  int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)batch);
  pn_sh xs = {0};
  int rc = gb && x && y && idx ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "mpc simulator: out of memory");
  if (rc == PN_OK) rc = pn_exec_new(ctx, gb, NULL, &ex);
  if (rc == PN_OK) rc = pn_dealer_new_embedded(ctx, master, &d);
  if (rc == PN_OK) rc = pn_mpc_model_new(ctx, g, &mo, &mm);
  if (rc == PN_OK && pn_mpc_model_in_numel(mm) != (int64_t)batch * per)
    rc = pn_err(ctx, PN_ERR_INVALID, "mpc simulator: the model's input is not %dx%dx%d like the dataset's images",
                ds->channels, ds->height, ds->width);
  if (rc == PN_OK) {
    pn_mpc_init_sim(&m, ctx, d, frac);
    minit = 1;
    K = pn_mpc_model_out_numel(mm) / batch;
    rc = pn_sh_alloc(&m, (int64_t)batch * per, xs);
  }
  struct pn_progress bar;
  pn_progress_start_unit(&bar, "bit-exact simulator", "images", (uint64_t)count);
  if (!progress) bar.enabled = 0;
  double t0 = pn_now();
  for (int64_t first = 0; rc == PN_OK && first < count; first += batch) {
    int64_t cnt = count - first < batch ? count - first : batch;
    for (int64_t i = 0; i < batch; i++) idx[i] = first + (i < cnt ? i : 0);
    pn_dataset_batch(ds, s, idx, batch, 0, 0, NULL, x, y);
    /* plaintext */
    const struct pn_value *iv = pn_exec_input(ex, 0);
    struct pn_tensor *in = pn_tensor_new(PN_DT_FLOAT, iv->ndim, iv->dims), *o = NULL;
    if (!in) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "mpc simulator: out of memory");
      break;
    }
    memcpy(in->data, x, sizeof(float) * (size_t)batch * (size_t)per);
    const struct pn_tensor *ins[1] = {in};
    rc = pn_exec_run(ctx, ex, ins, &o);
    pn_tensor_free(in);
    if (rc) break;
    /* the client's shares: P0 x + r, P1 -r */
    struct pn_prg prg;
    uint8_t sd[PN_SEED_BYTES];
    pn_seed_derive(client, "batch", (uint64_t)first, sd);
    if ((rc = pn_prg_init(ctx, &prg, sd))) {
      pn_tensor_free(o);
      break;
    }
    pn_prg_bytes(&prg, xs[1], sizeof(uint64_t) * (size_t)batch * (size_t)per);
    pn_prg_free(&prg);
    pn_wipe(sd, sizeof sd);
    for (int64_t i = 0; i < (int64_t)batch * per; i++) {
      xs[0][i] = pn_fx_encode(x[i], frac) + xs[1][i];
      xs[1][i] = (uint64_t)0 - xs[1][i];
    }
    pn_sh ys = {0};
    rc = pn_mpc_model_run(mm, &m, xs, ys);
    if (rc) {
      pn_tensor_free(o);
      break;
    }
    for (int64_t i = 0; i < cnt; i++) {
      int64_t a = 0, b = 0;
      double best = 0;
      for (int64_t k = 0; k < K; k++) {
        double v = pn_fx_decode(ys[0][i * K + k] + ys[1][i * K + k], frac);
        if (k == 0 || v > best) {
          best = v;
          a = k;
        }
        if (pn_tensor_get_f64(o, i * K + k) > pn_tensor_get_f64(o, i * K + b)) b = k;
      }
      if (pred) pred[first + i] = (int32_t)a;
      out->correct += a == y[i];
      out->plain_correct += b == y[i];
      out->agree += a == b;
    }
    pn_sh_free(&m, (int64_t)batch * K, ys);
    pn_tensor_free(o);
    out->n += cnt;
    pn_progress_update(&bar, (uint64_t)out->n, NULL);
  }
  pn_progress_end(&bar);
  out->seconds = pn_now() - t0;
  if (rc == PN_OK) {
    out->bits_discarded = pn_mpc_model_bits_discarded(mm);
    out->bytes_per_image = (double)m.st.bytes / (double)((count + batch - 1) / batch * batch);
  }
  if (minit) {
    pn_sh_free(&m, (int64_t)batch * per, xs);
    pn_mpc_release(&m);
  }
  pn_wipe(master, sizeof master);
  pn_wipe(client, sizeof client);
  pn_mpc_model_free(mm);
  pn_dealer_free(d);
  pn_exec_free(ex);
  pn_graph_free(gb);
  if (x) pn_wipe_free(x, sizeof(float) * (size_t)batch * (size_t)per);
  free(y);
  free(idx);
  return rc;
}

/* ------------------------------------------------------------------ driver ---- */

void pn_mpc_search_result_free(struct pn_mpc_search_result *r) {
  if (!r) return;
  pn_mpc_plan_free(&r->plan);
  for (int i = 0; i < r->n; i++) free(r->layers[i].node);
  free(r->layers);
  cJSON_Delete(r->log);
  memset(r, 0, sizeof *r);
}

#define CULPRIT_DRAWS 16

/* The layer to widen after the bit-exact simulator changed predictions (pred against plaintext):
** the changed images run CULPRIT_DRAWS times with the plan and with each layer exact in turn; the
** layer whose exactness removes most changes (ties, or no change seen at all: the most expected
** changed outputs). -1 when every layer is full width already. */
static int culprit(struct search *S, const int32_t *pred, int *layer) {
  int64_t n = 0, *idx = malloc(sizeof(int64_t) * 64);
  int64_t *cnt = calloc((size_t)S->L + 1, sizeof(int64_t));
  struct pn_hb_range *rg = malloc(sizeof *rg * (size_t)S->L);
  struct imgset set = {0};
  int rc = idx && cnt && rg ? PN_OK : pn_err(S->ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  for (int64_t i = 0; rc == PN_OK && i < S->count && n < 64; i++)
    if (pred[i] != S->all.pred0[i]) idx[n++] = i;
  if (rc == PN_OK && n) rc = subset(S, idx, n, &set);
  /* cnt[i]: changes with layer i exact; cnt[L]: with the plan as it is */
  for (int i = 0; rc == PN_OK && n && i <= S->L; i++) {
    memcpy(rg, S->cur, sizeof *rg * (size_t)S->L);
    if (i < S->L) {
      if (rg[i].m - rg[i].k >= 64) {
        cnt[i] = INT64_MAX;
        continue;
      }
      rg[i] = (struct pn_hb_range){-1, -1};
    }
    for (int d = 0; rc == PN_OK && d < CULPRIT_DRAWS; d++) {
      struct outcome o;
      rc = run_plan(S, &set, rg, FRAGILE_STREAM + 500 + d, n, false, &o, NULL, NULL);
      cnt[i] += o.changed;
    }
  }
  *layer = -1;
  for (int i = 0; rc == PN_OK && i < S->L; i++) {
    if (S->cur[i].m - S->cur[i].k >= 64) continue;
    if (*layer < 0 || cnt[i] < cnt[*layer] ||
        (cnt[i] == cnt[*layer] && S->ly[i].err.changed > S->ly[*layer].err.changed))
      *layer = i;
  }
  free(set.x);
  free(set.labels);
  free(set.pred0);
  free(idx);
  free(cnt);
  free(rg);
  return rc;
}

static int confirm(struct search *S, const struct pn_graph *g, struct pn_mpc_search_result *res) {
  struct pn_mpc_sim_eval ev;
  int32_t *pred = malloc(sizeof(int32_t) * (size_t)S->count);
  if (!pred) return pn_err(S->ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  int rc;
  for (;;) {
    pn_mpc_plan_free(&res->plan);
    for (int i = 0; i < S->L; i++)
      if (pn_mpc_plan_add(&res->plan, S->ly[i].node, S->cur[i].k, S->cur[i].m)) {
        rc = pn_err(S->ctx, PN_ERR_NOMEM, "mpc search: out of memory");
        goto out;
      }
    double t0 = pn_now();
    rc = pn_mpc_sim_eval(S->ctx, g, &res->plan, S->ds, S->cfg->split, S->count, S->cfg->sim_batch,
                         S->cfg->seed, S->cfg->progress, pred, &ev);
    S->st->seconds[3] += pn_now() - t0;
    if (rc) goto out;
    S->st->sim_plans++;
    S->st->sim_images += ev.n;
    res->confirmed = true;
    res->sim_acc = (double)ev.correct / (double)ev.n;
    res->sim_changed = 0;
    for (int64_t i = 0; i < S->count; i++) res->sim_changed += pred[i] != S->all.pred0[i];
    log_entry(S, "simulator", -1, (struct pn_hb_range){-1, -1}, "changed",
              (double)res->sim_changed, NULL);
    if (!S->errfree || !res->sim_changed || res->backoffs >= MAX_BACKOFFS) break;
    /* widen by one bit (k - 1; m + 1 when k = 0) the layer found responsible (under a budget:
    ** while it fits) */
    int wi;
    if ((rc = culprit(S, pred, &wi))) goto out;
    if (wi < 0) break;
    if (S->cfg->mode == PN_SEARCH_BUDGET && used_bits(S, S->cur) + (double)S->ly[wi].elems > budget_cap(S))
      break;
    if (S->cur[wi].k > 0) S->cur[wi].k--;
    else S->cur[wi].m++;
    pn_hb_error_model(&S->hist[wi], S->cur[wi].k, S->cur[wi].m, &S->ly[wi].err);
    log_entry(S, "widen", wi, S->cur[wi], NULL, 0, NULL);
    res->backoffs++;
  }
  if (S->cfg->mode == PN_SEARCH_ERROR_FREE && res->sim_changed)
    rc = pn_err(S->ctx, PN_ERR_INVALID, "mpc search: no error-free plan found: after %d widenings "
                "the bit-exact simulator still changes %lld prediction(s) of the %s split (try "
                "more --draws)", res->backoffs, (long long)res->sim_changed,
                pn_split_name(S->cfg->split));
out:
  free(pred);
  return rc;
}

int pn_mpc_search(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_dataset *ds,
                  const struct pn_mpc_search_cfg *cfg, struct pn_mpc_search_result *res) {
  memset(res, 0, sizeof *res);
  struct search S;
  memset(&S, 0, sizeof S);
  S.ctx = ctx;
  S.cfg = cfg;
  S.ds = ds;
  S.st = &res->st;
  S.per_image = ds->pixels;
  S.count = cfg->count > 0 && cfg->count < ds->n[cfg->split] ? cfg->count : ds->n[cfg->split];
  S.B = cfg->batch > 0 ? cfg->batch : 250;
  if (S.B > S.count) S.B = (int)S.count;
  if (cfg->mode == PN_SEARCH_BUDGET && !(cfg->budget >= 0 && cfg->budget <= 64))
    return pn_err(ctx, PN_ERR_INVALID, "mpc search: budget %g bits is not in [0, 64]", cfg->budget);
  if (S.count < 1)
    return pn_err(ctx, PN_ERR_INVALID, "mpc search: no images in the %s split", pn_split_name(cfg->split));
  double t0 = pn_now();
  S.log = res->log = cJSON_CreateArray();
  S.all.n = S.count;
  S.all.x = malloc(sizeof(float) * (size_t)(S.count * S.per_image));
  S.all.labels = malloc(sizeof(int32_t) * (size_t)S.count);
  int32_t *pred0 = malloc(sizeof(int32_t) * (size_t)S.count);
  double *margin = malloc(sizeof(double) * (size_t)S.count);
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)S.count);
  struct pn_mpc_profile prof = {0};
  double *curve = NULL;
  int rc = S.log && S.all.x && S.all.labels && pred0 && margin && idx
               ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  if (rc == PN_OK) {
    for (int64_t i = 0; i < S.count; i++) idx[i] = i;
    pn_dataset_batch(ds, cfg->split, idx, S.count, 0, 0, NULL, S.all.x, S.all.labels);
  }
  pn_progress_start_unit(&S.bar, "search", "images", 0);
  if (!cfg->progress) S.bar.enabled = 0;
  /* stage 1: profile and error model */
  if (rc == PN_OK) {
    snprintf(S.bar.label, sizeof S.bar.label, "profile");
    rc = pn_mpc_profile_run(ctx, g, S.count, S.B, profile_images, &S, &prof);
  }
  if (rc == PN_OK && prof.n == 0)
    rc = pn_err(ctx, PN_ERR_INVALID, "mpc search: the model has no Relu or MaxPool to search");
  if (rc == PN_OK) {
    S.L = prof.n;
    S.ly = calloc((size_t)S.L, sizeof *S.ly);
    S.hist = calloc((size_t)S.L, sizeof *S.hist);
    S.bestk = calloc((size_t)S.L, sizeof *S.bestk);
    S.err = calloc((size_t)S.L, sizeof *S.err);
    S.cur = calloc((size_t)S.L, sizeof *S.cur);
    curve = calloc((size_t)S.L * NW, sizeof *curve);
    if (!S.ly || !S.hist || !S.bestk || !S.err || !S.cur || !curve)
      rc = pn_err(ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  }
  for (int i = 0; rc == PN_OK && i < S.L; i++) {
    const struct pn_mpc_range *r = &prof.r[i];
    struct pn_mpc_search_layer *l = &S.ly[i];
    if (!(l->node = strdup(r->node))) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "mpc search: out of memory");
      break;
    }
    l->relu = r->relu;
    l->elems = r->cmp_per_image;
    l->max_abs = r->max_abs;
    S.hist[i] = r->hist;
    /* per-image expectations: the histogram covers every search image */
    for (int s = 0; s < 2; s++)
      for (int j = 0; j < PN_HB_BINS; j++) {
        double f = 1.0 / (double)prof.images;
        S.hist[i].n[s][j] *= f;
        S.hist[i].s1[s][j] *= f;
        S.hist[i].s2[s][j] *= f;
        S.hist[i].s3[s][j] *= f;
      }
    int top = 0;
    for (int s = 0; s < 2; s++)
      for (int j = 1; j < PN_HB_BINS; j++)
        if (r->hist.n[s][j] > 0 && j > top) top = j;
    l->cover_m = top + 1 > 64 ? 64 : top + 1;
    for (int n = 0; n < NW; n++) {
      S.bestk[i][n] = pn_hb_best_k(&S.hist[i], n, &S.err[i][n]);
      res->st.model_candidates += n ? 65 - n : 1;
    }
  }
  if (rc == PN_OK && !(S.gb = pn_graph_clone_batch(g, S.B)))
    rc = pn_err(ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  if (rc == PN_OK) {
    struct pn_exec_opts eo = {.hook = pn_hb_sim_exec_hook};
    rc = pn_hb_sim_new(ctx, g, cfg->seed, PN_MPC_FRAC_DEFAULT, &S.sim);
    eo.hook_user = S.sim;
    if (rc == PN_OK) rc = pn_exec_new(ctx, S.gb, &eo, &S.ex);
  }
  res->st.seconds[0] = pn_now() - t0;
  /* the plaintext reference (every node exact, same executor) */
  struct outcome base = {0};
  if (rc == PN_OK) {
    S.K = 0;
    const struct pn_value *ov = pn_exec_output(S.ex, 0);
    S.K = ov->ndim == 2 && ov->dims[1] > 0 ? ov->dims[1] : 0;
    if (S.K < 2) rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "mpc search: the model's output must be [N, classes]");
  }
  if (rc == PN_OK) rc = run_plan(&S, &S.all, NULL, 0, S.count, false, &base, pred0, margin);
  if (rc == PN_OK) {
    S.all.pred0 = pred0;
    res->plain_acc = (double)base.correct / (double)S.count;
  }
  S.errfree = cfg->mode == PN_SEARCH_ERROR_FREE;
  if (rc == PN_OK) rc = pick_fragile(&S, margin); /* budget: for the error-free plan, if it runs */
  /* stage 2 */
  double t1 = pn_now();
  if (rc == PN_OK)
    rc = cfg->mode == PN_SEARCH_ERROR_FREE ? search_error_free(&S) : search_budget(&S, curve);
  res->st.seconds[1] = pn_now() - t1 - res->st.seconds[2];
  for (int i = 0; rc == PN_OK && i < S.L; i++)
    pn_hb_error_model(&S.hist[i], S.cur[i].k, S.cur[i].m, &S.ly[i].err);
  struct outcome fin;
  if (rc == PN_OK) rc = run_plan(&S, &S.all, S.cur, 0, S.count, false, &fin, NULL, NULL);
  if (rc == PN_OK) {
    res->emu_acc = (double)fin.correct / (double)S.count;
    res->emu_changed = fin.changed;
  }
  pn_progress_end(&S.bar);
  /* stage 3 */
  if (rc == PN_OK && !cfg->no_confirm) rc = confirm(&S, g, res);
  if (rc == PN_OK && !res->plan.n) {
    for (int i = 0; i < S.L; i++)
      if (pn_mpc_plan_add(&res->plan, S.ly[i].node, S.cur[i].k, S.cur[i].m))
        rc = pn_err(ctx, PN_ERR_NOMEM, "mpc search: out of memory");
  }
  if (rc == PN_OK) {
    for (int i = 0; i < S.L; i++) {
      S.ly[i].k = S.cur[i].k;
      S.ly[i].m = S.cur[i].m;
    }
    res->avg_bits = avg_bits(&S, S.cur);
    res->n = S.L;
    res->layers = S.ly;
    S.ly = NULL;
    res->images = S.count;
    res->bits_discarded = 1 - res->avg_bits / 64;
    res->errfree_bits = S.ef_bits;
    res->from_errfree = S.from_ef;
  }
  if (S.ly)
    for (int i = 0; i < S.L; i++) free(S.ly[i].node);
  free(S.ly);
  free(S.hist);
  free(S.bestk);
  free(S.err);
  free(S.cur);
  free(curve);
  free(S.all.x);
  free(S.all.labels);
  free(S.fragile.x);
  free(S.fragile.labels);
  free(S.fragile.pred0);
  free(pred0);
  free(margin);
  free(idx);
  pn_mpc_profile_free(&prof);
  pn_exec_free(S.ex);
  pn_graph_free(S.gb);
  pn_hb_sim_free(S.sim);
  if (rc) pn_mpc_search_result_free(res);
  return rc;
}

cJSON *pn_mpc_search_report(const struct pn_mpc_search_result *r) {
  cJSON *o = cJSON_CreateObject(), *ls = cJSON_CreateArray(), *st = cJSON_CreateObject();
  if (!o || !ls || !st) {
    cJSON_Delete(o);
    cJSON_Delete(ls);
    cJSON_Delete(st);
    return NULL;
  }
  cJSON_AddNumberToObject(o, "search_images", (double)r->images);
  cJSON_AddNumberToObject(o, "avg_bits", r->avg_bits);
  cJSON_AddNumberToObject(o, "bits_discarded", r->bits_discarded);
  cJSON_AddNumberToObject(o, "plaintext_accuracy", r->plain_acc);
  cJSON_AddNumberToObject(o, "simulated_accuracy", r->emu_acc);
  cJSON_AddNumberToObject(o, "simulated_changed", (double)r->emu_changed);
  if (r->confirmed) {
    cJSON_AddNumberToObject(o, "bit_exact_accuracy", r->sim_acc);
    cJSON_AddNumberToObject(o, "bit_exact_changed", (double)r->sim_changed);
    cJSON_AddNumberToObject(o, "widenings", r->backoffs);
  }
  if (r->errfree_bits > 0) { /* budget mode, the error-free plan computed */
    cJSON_AddNumberToObject(o, "error_free_bits", r->errfree_bits);
    cJSON_AddBoolToObject(o, "from_error_free_plan", r->from_errfree);
  }
  for (int i = 0; i < r->n; i++) {
    const struct pn_mpc_search_layer *l = &r->layers[i];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "node", l->node);
    cJSON_AddStringToObject(e, "op", l->relu ? "Relu" : "MaxPool");
    cJSON_AddNumberToObject(e, "comparisons_per_image", (double)l->elems);
    cJSON_AddNumberToObject(e, "max_abs", l->max_abs);
    cJSON_AddNumberToObject(e, "cover_m", l->cover_m);
    cJSON_AddNumberToObject(e, "k", l->k);
    cJSON_AddNumberToObject(e, "m", l->m);
    cJSON_AddNumberToObject(e, "expected_wrong_signs_per_image", l->err.wrong);
    cJSON_AddNumberToObject(e, "expected_changed_outputs_per_image", l->err.changed);
    cJSON_AddItemToArray(ls, e);
  }
  cJSON_AddItemToObject(o, "layers", ls);
  cJSON_AddNumberToObject(st, "error_model_candidates", (double)r->st.model_candidates);
  cJSON_AddNumberToObject(st, "simulated_candidates", (double)r->st.emu_candidates);
  cJSON_AddNumberToObject(st, "simulated_images", (double)r->st.emu_images);
  cJSON_AddNumberToObject(st, "dp_states", (double)r->st.dp_states);
  cJSON_AddNumberToObject(st, "bit_exact_plans", (double)r->st.sim_plans);
  cJSON_AddNumberToObject(st, "bit_exact_images", (double)r->st.sim_images);
  cJSON_AddNumberToObject(st, "seconds_profile_model", r->st.seconds[0]);
  cJSON_AddNumberToObject(st, "seconds_simulation", r->st.seconds[1]);
  cJSON_AddNumberToObject(st, "seconds_dp", r->st.seconds[2]);
  cJSON_AddNumberToObject(st, "seconds_bit_exact", r->st.seconds[3]);
  cJSON_AddItemToObject(o, "stages", st);
  if (r->log) cJSON_AddItemToObject(o, "candidates", cJSON_Duplicate(r->log, 1));
  return o;
}

/* ------------------------------------------------------------ plan binding ---- */

int pn_mpc_file_sha256(struct pn_ctx *ctx, const char *path, char hex[65]) {
  uint8_t *buf = NULL, md[32];
  size_t n = 0;
  unsigned len = 0;
  int rc = pn_read_file(ctx, path, 0, &buf, &n);
  if (rc) return rc;
  EVP_Digest(buf, n, md, &len, EVP_sha256(), NULL);
  free(buf);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return PN_OK;
}

/* A blank image of *(int64_t *)user elements per image. */
static int blank_images(void *user, struct pn_ctx *ctx, int64_t first, int64_t cnt, float *x) {
  (void)ctx;
  (void)first;
  memset(x, 0, sizeof(float) * (size_t)cnt * (size_t)*(const int64_t *)user);
  return PN_OK;
}

int pn_mpc_plan_check(struct pn_ctx *ctx, const char *path, const struct pn_mpc_plan *plan,
                      const struct pn_graph *g, const char *model_sha256) {
  cJSON *root = NULL;
  int rc = pn_json_read(ctx, path, 16u << 20, &root);
  if (rc) return rc;
  const cJSON *sha = cJSON_GetObjectItemCaseSensitive(root, "model_sha256");
  if (model_sha256 && cJSON_IsString(sha) && strcmp(sha->valuestring, model_sha256)) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: the plan was made for the model with SHA-256 %.16s..., "
                "this model's is %.16s... (a plan for another model? remove \"model_sha256\" from "
                "the plan to use it anyway)", path, sha->valuestring, model_sha256);
    goto out;
  }
  struct pn_mpc_profile p = {0};
  /* the ReLU/MaxPool nodes and their comparisons per image, from one run on a blank image */
  int64_t in_numel = 1;
  for (int i = 0; i < g->n_inputs; i++)
    if (pn_graph_is_runtime_input(g, i))
      for (int d = 1; d < g->inputs[i].ndim; d++) {
        if (g->inputs[i].dims[d] <= 0 || g->inputs[i].dims[d] > (1 << 24)) {
          rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: the plan check needs the model's input shape "
                      "(dimension %d of '%s' is %lld)", path, d, g->inputs[i].name,
                      (long long)g->inputs[i].dims[d]);
          goto out;
        }
        in_numel *= g->inputs[i].dims[d];
        if (in_numel > ((int64_t)1 << 30)) {
          rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: the model's input '%s' is too large for the "
                      "plan check", path, g->inputs[i].name);
          goto out;
        }
      }
  if ((rc = pn_mpc_profile_run(ctx, g, 1, 1, blank_images, &in_numel, &p))) goto out;
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
  for (int i = 0; i < plan->n && rc == PN_OK; i++) {
    const struct pn_mpc_plan_item *it = &plan->items[i];
    int at = -1;
    for (int j = 0; j < p.n; j++)
      if (!strcmp(p.r[j].node, it->node)) at = j;
    if (at < 0) {
      rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: entry %d names node '%s', which is no Relu or MaxPool "
                  "of the model (a plan for another model?)", path, i, it->node);
      break;
    }
    if (it->k < 0 || it->m > 64 || it->k > it->m) {
      rc = pn_err(ctx, PN_ERR_INVALID, "%s: entry %d '%s': k = %d, m = %d: need 0 <= k <= m <= 64",
                  path, i, it->node, it->k, it->m);
      break;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, layers) {
      const cJSON *nd = cJSON_GetObjectItemCaseSensitive(e, "node");
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "comparisons_per_image");
      if (cJSON_IsString(nd) && !strcmp(nd->valuestring, it->node) && cJSON_IsNumber(c) &&
          c->valuedouble != (double)p.r[at].cmp_per_image) {
        rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: node '%s' makes %.0f comparisons per image in the "
                    "plan's model, %lld in this one (a plan for another model?)", path, it->node,
                    c->valuedouble, (long long)p.r[at].cmp_per_image);
        break;
      }
    }
  }
  pn_mpc_profile_free(&p);
out:
  cJSON_Delete(root);
  return rc;
}

/* ------------------------------------------------------------- fine-tuning ---- */

int pn_mpc_finetune(struct pn_ctx *ctx, const struct pn_mpc_finetune_cfg *cfg,
                    const struct pn_dataset *ds, struct pn_graph *g, const struct pn_mpc_plan *plan,
                    struct pn_train_result *res) {
  uint8_t seed[PN_SEED_BYTES] = {0}, sd[PN_SEED_BYTES];
  memcpy(seed, &cfg->seed, sizeof cfg->seed);
  pn_seed_derive(seed, "privnn.mpc.finetune", 0, sd);
  struct pn_hb_sim *sim = NULL;
  int rc = pn_hb_sim_new(ctx, g, sd, PN_MPC_FRAC_DEFAULT, &sim);
  pn_wipe(sd, sizeof sd);
  if (rc) return rc;
  if (pn_hb_sim_set_plan(sim, plan)) {
    pn_hb_sim_free(sim);
    return pn_err(ctx, PN_ERR_NOMEM, "mpc finetune: out of memory");
  }
  struct pn_train_cfg tc = {0};
  tc.epochs = cfg->epochs > 0 ? cfg->epochs : 10;
  tc.batch = cfg->batch > 0 ? cfg->batch : 128;
  tc.seed = cfg->seed;
  tc.opt = pn_optim_defaults(PN_OPT_SGD);
  tc.opt.lr = cfg->lr > 0 ? cfg->lr : 1e-3f;
  tc.opt.momentum = 0.9f;
  tc.opt.nesterov = true;
  tc.opt.weight_decay = cfg->weight_decay < 0 ? 0 : cfg->weight_decay > 0 ? cfg->weight_decay : 5e-4f;
  tc.opt.sched = PN_SCHED_COSINE;
  int64_t n_train = ds->n[PN_SPLIT_TRAIN];
  if (cfg->max_train > 0 && cfg->max_train < n_train) n_train = cfg->max_train;
  int64_t steps = n_train / tc.batch * tc.epochs;
  tc.opt.total_steps = steps;
  tc.opt.warmup_steps = (int64_t)((cfg->warmup_frac > 0 ? cfg->warmup_frac : 0.3f) * (float)steps);
  tc.opt.min_lr_frac = 0;
  tc.pad = cfg->pad;
  tc.flip = cfg->flip;
  tc.max_train = cfg->max_train;
  tc.max_val = cfg->max_val;
  tc.ckpt_path = cfg->ckpt_path;
  tc.progress = cfg->progress;
  tc.on_epoch = cfg->on_epoch;
  tc.user = cfg->user;
  tc.hook = pn_hb_sim_ag_hook;
  tc.hook_user = sim;
  tc.keep_best = true;
  tc.arch = "mpc-finetune";
  rc = pn_train(ctx, &tc, ds, g, res);
  pn_hb_sim_free(sim);
  return rc;
}
