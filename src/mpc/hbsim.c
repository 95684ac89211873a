/* hbsim.c - HummingBird's reduced-ring ReLU and MaxPool tree on floats, and the executor and
** autograd hooks that run a plan inside a plaintext model.
**
** Each image of a batch draws from its own PRG, seeded from (seed, node label, stream, image), so
** a result depends on the images and the seed only: batches, threads and candidates evaluated
** before do not change it, and two candidates differing in one node see the same draws
** everywhere else (common random numbers make their comparison sharper). */
#include "mpc/hbsim.h"

#include "graph/window.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mpc/ring64.h"
#include "util/status.h"
#include "util/strmap.h"
#include "util/wipe.h"

#define DRAW_CHUNK 1024 /* words drawn from the PRG at a time */

void pn_hb_hist_add(struct pn_hb_hist *h, uint64_t X) {
  int neg = (int64_t)X < 0;
  uint64_t a = neg ? (uint64_t)0 - X : X;
  int j = a ? 64 - __builtin_clzll(a) : 0;
  double d = (double)a;
  h->n[neg][j] += 1;
  h->s1[neg][j] += d;
  h->s2[neg][j] += d * d;
  h->s3[neg][j] += d * d * d;
}

void pn_hb_hist_merge(struct pn_hb_hist *dst, const struct pn_hb_hist *src) {
  for (int s = 0; s < 2; s++)
    for (int j = 0; j < PN_HB_BINS; j++) {
      dst->n[s][j] += src->n[s][j];
      dst->s1[s][j] += src->s1[s][j];
      dst->s2[s][j] += src->s2[s][j];
      dst->s3[s][j] += src->s3[s][j];
    }
}

/* Random words for the comparisons, drawn a chunk at a time. */
struct draws {
  struct pn_prg *prg;
  uint64_t w[DRAW_CHUNK];
  int pos;
};

static inline uint64_t next_draw(struct draws *d) {
  if (d->pos == DRAW_CHUNK) {
    pn_prg_bytes(d->prg, d->w, sizeof d->w);
    d->pos = 0;
  }
  return d->w[d->pos++];
}

/* Sign (1 = negative) of X under rg; draws only when the range reduces anything. */
static inline unsigned read_sign(uint64_t X, struct pn_hb_range rg, struct draws *d) {
  if (rg.k < 0) return (unsigned)(X >> 63);
  if (rg.k == rg.m) return 0; /* n = 0: the identity, never negative */
  uint64_t u = rg.k ? next_draw(d) & (((uint64_t)1 << rg.k) - 1) : 0;
  return pn_hb_sign(X, u, rg.k, rg.m);
}

/* pn_fx_encode for a float (exact: x * 2^frac + 0.5 needs at most 24 + frac + 1 bits), inline. */
static inline uint64_t enc(float x, int frac) {
  double s = (double)x * (double)((uint64_t)1 << frac);
  if (!(s == s)) return 0;
  if (s >= 9.2e18) return (uint64_t)INT64_MAX;
  if (s <= -9.2e18) return (uint64_t)INT64_MIN;
  return (uint64_t)(int64_t)(s >= 0 ? s + 0.5 : s - 0.5);
}

/* The float nearest d on the side that keeps a bound: f_down(d) <= d <= f_up(d). */
static float f_down(double d) {
  float f = (float)d;
  return (double)f > d ? nextafterf(f, -INFINITY) : f;
}
static float f_up(double d) {
  float f = (float)d;
  return (double)f < d ? nextafterf(f, INFINITY) : f;
}

void pn_hb_relu(const float *x, float *y, int64_t n, int frac, struct pn_hb_range rg,
                struct pn_prg *prg, uint64_t *wrong) {
  struct draws d = {.prg = prg, .pos = DRAW_CHUNK};
  uint64_t bad = 0;
  /* values whose sign the range reads right whatever the draw, decided on the float: positives
  ** with 2^k <= X < 2^(m-1), negatives with -2^(m-1) + 2^k <= X <= -1 (X = enc(x)); the rest go
  ** through the exact share arithmetic. The draws advance for every value, so which values took
  ** the shortcut does not change any other value's draw. */
  double sc = ldexp(1, -frac);
  float pos_lo = INFINITY, pos_hi = -INFINITY, neg_lo = INFINITY, neg_hi = -INFINITY;
  if (rg.k >= 0 && rg.k < rg.m && rg.m >= 2) {
    pos_lo = f_up(ldexp(1, rg.k) * sc);                          /* x >= this: X >= 2^k */
    pos_hi = f_down((ldexp(1, rg.m - 1) - 1) * sc);              /* x < this: X < 2^(m-1) */
    neg_hi = f_down(-0.5 * sc);                                  /* x <= this: X <= -1 */
    neg_lo = f_up((-ldexp(1, rg.m - 1) + ldexp(1, rg.k) + 1) * sc); /* X >= -2^(m-1) + 2^k + 1 */
  }
  for (int64_t i0 = 0; i0 < n; i0 += DRAW_CHUNK) {
    int64_t i1 = i0 + DRAW_CHUNK < n ? i0 + DRAW_CHUNK : n;
    if (rg.k > 0 && rg.k < rg.m) {
      pn_prg_bytes(prg, d.w, sizeof(uint64_t) * (size_t)(i1 - i0));
      d.pos = 0;
    }
    uint8_t need[DRAW_CHUNK];
    for (int64_t i = i0; i < i1; i++) { /* branch-free: the compiler vectorises it */
      float v = x[i];
      int sp = (v >= pos_lo) & (v < pos_hi), sn = (v <= neg_hi) & (v >= neg_lo);
      y[i] = sp ? v : 0.0f;
      need[i - i0] = (uint8_t)!(sp | sn);
    }
    for (int64_t i = i0; i < i1; i++) {
      if (!need[i - i0]) continue;
      float v = x[i];
      uint64_t X = enc(v, frac);
      unsigned s;
      if (rg.k < 0) s = (unsigned)(X >> 63);
      else if (rg.k == rg.m) s = 0;
      else s = pn_hb_sign(X, rg.k ? d.w[i - i0] & (((uint64_t)1 << rg.k) - 1) : 0, rg.k, rg.m);
      bad += s != (unsigned)(X >> 63);
      y[i] = s ? 0.0f : v;
    }
  }
  if (wrong) *wrong += bad;
  pn_wipe(d.w, sizeof d.w);
}

int64_t pn_hb_maxpool(const struct pn_window *w, int64_t planes, const float *x, float *y,
                      int32_t *arg, int frac, struct pn_hb_range rg, struct pn_prg *prg,
                      struct pn_hb_hist *h, uint64_t *wrong) {
  int64_t KW = w->k[0] * w->k[1], H = w->in[0], W = w->in[1], OH = w->out[0], OW = w->out[1];
  if (KW < 1 || KW > 4096) return -1;
  int64_t cand[4096];
  struct draws d = {.prg = prg, .pos = DRAW_CHUNK};
  uint64_t bad = 0;
  int64_t cmps = 0;
  for (int64_t p = 0; p < planes; p++) {
    const float *xp = x + p * H * W;
    for (int64_t oy = 0; oy < OH; oy++)
      for (int64_t ox = 0; ox < OW; ox++) {
        int64_t first = -1;
        for (int64_t ky = 0; ky < w->k[0]; ky++)
          for (int64_t kx = 0; kx < w->k[1]; kx++) {
            int64_t iy = oy * w->s[0] - w->pb[0] + ky * w->d[0], ix = ox * w->s[1] - w->pb[1] + kx * w->d[1];
            int64_t src = iy >= 0 && iy < H && ix >= 0 && ix < W ? iy * W + ix : -1;
            if (src >= 0 && first < 0) first = src;
            cand[ky * w->k[1] + kx] = src;
          }
        if (first < 0) return -1;
        for (int64_t i = 0; i < KW; i++)
          if (cand[i] < 0) cand[i] = first;
        int64_t cnt = KW;
        while (cnt > 1) {
          int64_t half = cnt / 2;
          for (int64_t i = 0; i < half; i++) {
            int64_t a = cand[i], b = cand[half + i];
            uint64_t D = enc(xp[a], frac) - enc(xp[b], frac);
            if (h) pn_hb_hist_add(h, D);
            unsigned s = read_sign(D, rg, &d);
            bad += s != (unsigned)(D >> 63);
            cand[i] = s ? b : a; /* max(a, b) = b + ReLU(a - b) */
          }
          cmps += half;
          if (cnt & 1) cand[half] = cand[cnt - 1];
          cnt = half + (cnt & 1);
        }
        int64_t o = (p * OH + oy) * OW + ox;
        y[o] = xp[cand[0]];
        if (arg) arg[o] = (int32_t)cand[0];
      }
  }
  if (wrong) *wrong += bad;
  pn_wipe(d.w, sizeof d.w);
  return cmps;
}

int pn_hb_pool_window(struct pn_ctx *ctx, const struct pn_node *node, int64_t opset,
                      const int64_t dims[4], struct pn_window *w) {
  struct pn_op_args a = {ctx, node, opset};
  memset(w, 0, sizeof *w);
  w->nsp = 2;
  w->in[0] = dims[2];
  w->in[1] = dims[3];
  w->k[0] = w->k[1] = -1;
  int rc = pn_window_kernel(&a, true, w);
  if (rc == PN_OK) rc = pn_window_init(&a, PN_WIN_POOL, true, w);
  if (rc == PN_OK && (w->out[0] <= 0 || w->out[1] <= 0 || w->k[0] * w->k[1] > 4096))
    rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "node '%s' (MaxPool): the simulator needs a non-empty "
                "output and at most 4096 window offsets", pn_node_label(node));
  return rc;
}

/* ---------------------------------------------------------------- the simulator ---- */

struct entry {
  char *label;
  struct pn_hb_range rg;
};

struct pn_hb_sim {
  uint8_t seed[PN_SEED_BYTES];
  int frac;
  int64_t opset;
  struct entry *e;
  int n, cap;
  struct pn_strmap by_label;
  /* where the draws of the next forward start */
  uint32_t stream;
  uint64_t image;
  int last_index;              /* the last hooked node's index; -1: the next call starts a forward */
  int64_t last_batch;
  int mode;                    /* autograd: 1 training, 0 inference, -1 none yet */
  uint64_t train_image;        /* where training continues after an inference run */
  uint64_t wrong, compared;
};

#define STREAM_TRAIN 0x7fff0000u /* autograd's streams (a seek's stream is the caller's) */
#define STREAM_EVAL 0x7fff0001u

int pn_hb_sim_new(struct pn_ctx *ctx, const struct pn_graph *g, const uint8_t seed[PN_SEED_BYTES],
                  int frac, struct pn_hb_sim **out) {
  struct pn_hb_sim *s = calloc(1, sizeof *s);
  if (!s) return pn_err(ctx, PN_ERR_NOMEM, "hbsim: out of memory");
  memcpy(s->seed, seed, PN_SEED_BYTES);
  s->frac = frac > 0 ? frac : PN_MPC_FRAC_DEFAULT;
  s->opset = pn_graph_opset(g, "");
  s->last_index = -1;
  s->mode = -1;
  *out = s;
  return PN_OK;
}

void pn_hb_sim_free(struct pn_hb_sim *s) {
  if (!s) return;
  for (int i = 0; i < s->n; i++) free(s->e[i].label);
  free(s->e);
  pn_strmap_free(&s->by_label);
  pn_wipe(s->seed, sizeof s->seed);
  free(s);
}

void pn_hb_sim_clear(struct pn_hb_sim *s) {
  for (int i = 0; i < s->n; i++) s->e[i].rg = (struct pn_hb_range){-1, -1};
}

int pn_hb_sim_set(struct pn_hb_sim *s, const char *label, struct pn_hb_range rg) {
  int i = pn_strmap_get(&s->by_label, label, -1);
  if (i < 0) {
    if (s->n == s->cap) {
      int cap = s->cap ? 2 * s->cap : 16;
      struct entry *e = realloc(s->e, (size_t)cap * sizeof *e);
      if (!e) return PN_ERR_NOMEM;
      s->e = e;
      s->cap = cap;
    }
    char *l = strdup(label);
    if (!l || pn_strmap_put(&s->by_label, l, s->n)) {
      free(l);
      return PN_ERR_NOMEM;
    }
    s->e[s->n].label = l;
    i = s->n++;
  }
  s->e[i].rg = rg;
  return PN_OK;
}

int pn_hb_sim_set_plan(struct pn_hb_sim *s, const struct pn_mpc_plan *plan) {
  pn_hb_sim_clear(s);
  for (int i = 0; plan && i < plan->n; i++) {
    struct pn_hb_range rg = {plan->items[i].k, plan->items[i].m};
    if (pn_hb_sim_set(s, plan->items[i].node, rg)) return PN_ERR_NOMEM;
  }
  return PN_OK;
}

void pn_hb_sim_seek(struct pn_hb_sim *s, uint32_t stream, uint64_t image) {
  s->stream = stream;
  s->image = image;
  s->last_index = -1;
  s->last_batch = 0;
}

void pn_hb_sim_counts(struct pn_hb_sim *s, uint64_t *wrong, uint64_t *compared) {
  if (wrong) *wrong = s->wrong;
  if (compared) *compared = s->compared;
  s->wrong = s->compared = 0;
}

/* Keep track of forwards: a node index not above the last one starts a new forward, whose draws
** continue after the last forward's images. */
static void next_node(struct pn_hb_sim *s, int index, int64_t batch, int mode) {
  if (s->last_index >= 0 && index <= s->last_index) {
    s->image += (uint64_t)s->last_batch;
    s->last_batch = 0;
  }
  if (mode >= 0 && mode != s->mode && (s->last_index < 0 || index <= s->last_index)) {
    if (mode == 0) { /* inference after training (or first): the evaluation stream from 0 */
      if (s->mode == 1) s->train_image = s->image;
      s->stream = STREAM_EVAL;
      s->image = 0;
    } else {
      s->stream = STREAM_TRAIN;
      s->image = s->train_image;
    }
    s->mode = mode;
  }
  s->last_index = index;
  s->last_batch = batch;
}

/* One node on a batch: in/out floats with dims (4-D for MaxPool). */
static int run_node(struct pn_hb_sim *s, struct pn_ctx *ctx, const struct pn_node *node,
                    enum pn_op op, int index, int mode, const float *x, int in_ndim,
                    const int64_t *in_dims, float *y, int64_t out_numel) {
  if (op != PN_OP_RELU && op != PN_OP_MAX_POOL) return PN_OK;
  const char *label = pn_node_label(node);
  int ei = pn_strmap_get(&s->by_label, label, -1);
  if (in_ndim < 1 || in_dims[0] < 1) return PN_OK;
  int64_t B = in_dims[0];
  next_node(s, index, B, mode);
  if (ei < 0 || s->e[ei].rg.k < 0) return PN_OK;
  struct pn_hb_range rg = s->e[ei].rg;
  int64_t in_numel = 1;
  for (int d = 0; d < in_ndim; d++) in_numel *= in_dims[d];
  int64_t per_in = in_numel / B, per_out = out_numel / B;
  struct pn_window w;
  if (op == PN_OP_MAX_POOL) {
    if (in_ndim != 4)
      return pn_err(ctx, PN_ERR_UNSUPPORTED, "node '%s' (MaxPool): the simulator takes 2-D images "
                    "(N x C x H x W)", label);
    int rc = pn_hb_pool_window(ctx, node, s->opset, in_dims, &w);
    if (rc) return rc;
    if (w.out[0] * w.out[1] * in_dims[1] != per_out)
      return pn_err(ctx, PN_ERR_INVALID, "node '%s' (MaxPool): output size disagrees with its window",
                    label);
  } else if (per_in != per_out) {
    return pn_err(ctx, PN_ERR_INVALID, "node '%s' (Relu): output size differs from the input's", label);
  }
  uint64_t wrong = 0, compared = 0;
  int fail = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : wrong, compared) reduction(| : fail)
  for (int64_t b = 0; b < B; b++) {
    uint8_t sd[PN_SEED_BYTES];
    struct pn_prg prg;
    pn_seed_derive(s->seed, label, ((uint64_t)s->stream << 40) ^ (s->image + (uint64_t)b), sd);
    if (pn_prg_init(NULL, &prg, sd)) {
      fail = 1;
      continue;
    }
    if (op == PN_OP_RELU) {
      pn_hb_relu(x + b * per_in, y + b * per_out, per_in, s->frac, rg, &prg, &wrong);
      compared += (uint64_t)per_in;
    } else {
      int64_t c = pn_hb_maxpool(&w, in_dims[1], x + b * per_in, y + b * per_out, NULL, s->frac, rg,
                                &prg, NULL, &wrong);
      if (c < 0) fail = 1;
      else compared += (uint64_t)c;
    }
    pn_prg_free(&prg);
    pn_wipe(sd, sizeof sd);
  }
  if (fail) return pn_err(ctx, PN_ERR_INVALID, "node '%s': the simulator could not run it (PRG, or "
                          "a window without valid elements)", label);
  s->wrong += wrong;
  s->compared += compared;
  return PN_OK;
}

int pn_hb_sim_exec_hook(void *user, struct pn_ctx *ctx, struct pn_exec_step *st) {
  if (st->n_in < 1 || !st->in[0] || st->n_out < 1 || !st->out[0]) return PN_OK;
  if (st->op != PN_OP_RELU && st->op != PN_OP_MAX_POOL) return PN_OK;
  const struct pn_tensor *x = st->in[0];
  struct pn_tensor *y = st->out[0];
  if (x->dtype != PN_DT_FLOAT || y->dtype != PN_DT_FLOAT) return PN_OK;
  return run_node(user, ctx, st->node, st->op, st->index, -1, x->data, x->ndim, x->dims, y->data,
                  pn_tensor_numel(y));
}

int pn_hb_sim_ag_hook(void *user, struct pn_ctx *ctx, const struct pn_ag_step *st) {
  int64_t on = 1;
  for (int d = 0; d < st->out_ndim; d++) on *= st->out_dims[d];
  return run_node(user, ctx, st->node, st->op, st->index, st->train ? 1 : 0, st->in, st->in_ndim,
                  st->in_dims, st->out, on);
}
