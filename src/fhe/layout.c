/* layout.c - where each element of a feature map sits in the slots, and the diagonals of a linear layer.
**
** A layout maps every element of a tensor to its own slot. Inputs are dense (c H W + y W + x). The
** output layout of a linear layer is chosen among candidates so that the layer's matrix, seen between
** the input and output slots, has few distinct diagonals (k = input slot - output slot), which is what
** the diagonal method pays for (one plaintext product per diagonal, about 2 sqrt(#diagonals) rotations):
**   multiplexed  a strided convolution writes output (co, y, x) where input (c, s y + a, s x + b) sat,
**                co = c s^2 + a s + b: the strides grow (s sy, s sx) and the gaps left by the stride
**                hold further channels (MPCNN's / Orion's multiplexing), so every output pixel sees its
**                window at the same offsets: #diagonals ~ (input + output channel groups) x window;
**   same channel pooling keeps each channel at its base with grown strides: #diagonals = window size;
**   anchor       an output sits where its first input sat (global pooling: #diagonals = H W);
**   dense        outputs at slots 0, 1, 2, ... (dense layers: #diagonals ~ input span + outputs).
** Candidates that would put two elements in one slot, or exceed the slots, are dropped; correctness
** never depends on the choice, only the cost does (tests compare every candidate with the plain map).
**
** A replicated input (the program's input, copies encoded by the client: compile.c decides) holds every
** element in rep copies rep_stride apart; output slot o reads the copy in its own block of rep_stride slots
** (fhe_layout_copy). A multiplexed convolution whose output channels spill into further blocks then sees
** its window at the same offsets in every block: a 1-channel 28x28 map to 32 channels, 3x3, has 9
** diagonals instead of 32 x 9.
**
** Baby-step giant-step: k = g n1 + b with n1 a power of two chosen for the fewest rotations (counting
** a rotation key the program does not have yet as one more), and diagonal k pre-rotated by -g n1 so that
** y = sum_g rot(sum_b d'_{g,b} * rot(x, b), g n1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhe/fhe_impl.h"
#include "util/arena.h"
#include "util/status.h"

int fhe_layout_dense(struct pn_arena *a, int64_t C, int64_t H, int64_t W, struct fhe_layout *out) {
  memset(out, 0, sizeof *out);
  int64_t n = C * H * W;
  out->slot = pn_arena_alloc(a, (size_t)n * sizeof *out->slot + 1);
  out->base = pn_arena_alloc(a, (size_t)C * sizeof *out->base + 1);
  if (!out->slot || !out->base) return PN_ERR_NOMEM;
  for (int64_t i = 0; i < n; i++) out->slot[i] = (int32_t)i;
  for (int64_t c = 0; c < C; c++) out->base[c] = c * H * W;
  out->n = n;
  out->extent = n;
  out->grid = 1;
  out->C = C;
  out->H = H;
  out->W = W;
  out->sy = W;
  out->sx = 1;
  return PN_OK;
}

void fhe_layout_reshape(struct fhe_layout *l, int ndim, const int64_t *dims) {
  int64_t C = ndim > 1 ? dims[1] : 1, H = ndim > 2 ? dims[2] : 1, W = ndim > 3 ? dims[3] : 1;
  if (ndim > 4) C = l->n, H = W = 1;
  if (!l->grid || C != l->C || H != l->H || W != l->W) l->grid = 0;
}

/* Recognise the grid form of explicit slots for shape (C,H,W). */
void fhe_layout_detect_grid(struct pn_arena *a, struct fhe_layout *l, int64_t C, int64_t H, int64_t W) {
  l->grid = 0;
  if (C * H * W != l->n || C < 1) return;
  int64_t sy = H > 1 ? l->slot[W] - l->slot[0] : 0, sx = W > 1 ? l->slot[1] - l->slot[0] : 0;
  for (int64_t c = 0; c < C; c++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++) {
        int64_t i = (c * H + y) * W + x;
        if (l->slot[i] != l->slot[c * H * W] + y * sy + x * sx) return;
      }
  int64_t *base = pn_arena_alloc(a, (size_t)C * sizeof *base);
  if (!base) return;
  for (int64_t c = 0; c < C; c++) base[c] = l->slot[c * H * W];
  l->grid = 1;
  l->C = C;
  l->H = H;
  l->W = W;
  l->sy = sy;
  l->sx = sx;
  l->base = base;
}

/* A candidate's slots: distinct, non-negative, below max_extent? Sets extent. */
static int check_slots(struct fhe_layout *l, int64_t max_extent, uint8_t *mark) {
  int64_t mx = -1;
  for (int64_t i = 0; i < l->n; i++) {
    if (l->slot[i] < 0 || l->slot[i] >= max_extent) return 0;
    if (l->slot[i] > mx) mx = l->slot[i];
  }
  memset(mark, 0, (size_t)mx + 1);
  for (int64_t i = 0; i < l->n; i++) {
    if (mark[l->slot[i]]) return 0;
    mark[l->slot[i]] = 1;
  }
  l->extent = mx + 1;
  return 1;
}

int64_t fhe_layout_count_diags(const struct fhe_lmap *m, const struct fhe_layout *in,
                               const struct fhe_layout *out) {
  int64_t span = fhe_layout_top(in) + out->extent + 1, cnt = 0;
  uint8_t *seen = calloc((size_t)span, 1);
  if (!seen) return INT64_MAX;
  for (int64_t o = 0; o < m->n_out; o++) {
    int64_t so = out->slot[o], si = fhe_layout_copy(in, so) - so + out->extent;
    for (int64_t e = m->rowptr[o]; e < m->rowptr[o + 1]; e++) {
      int64_t k = in->slot[m->col[e]] + si;
      if (!seen[k]) {
        seen[k] = 1;
        cnt++;
      }
    }
  }
  free(seen);
  return cnt;
}

enum cand { CAND_MULTIPLEX, CAND_SAME_CHANNEL, CAND_ANCHOR, CAND_DENSE, CAND_DIAG_ANCHOR, CAND_COUNT };
_Static_assert(CAND_COUNT == FHE_LAYOUT_NCAND, "fhe_impl.h's candidate count");
static const char *const cand_names[CAND_COUNT] = {"multiplexed", "same-channel", "anchor", "dense", "diagonal"};

/* Fill l->slot for candidate c; 0 when the candidate does not apply. */
static int make_cand(enum cand c, const struct fhe_lmap *m, const struct fhe_layout *in, int64_t C, int64_t H,
                     int64_t W, struct fhe_layout *l, uint8_t *mark, int64_t max_extent) {
  int64_t n = m->n_out;
  l->n = n;
  switch (c) {
  case CAND_MULTIPLEX:
  case CAND_SAME_CHANNEL: {
    if (!in->grid || m->mix == FHE_MIX_DENSE || C * H * W != n) return 0;
    if (c == CAND_SAME_CHANNEL && C != in->C) return 0;
    if (c == CAND_MULTIPLEX && m->mix != FHE_MIX_CONV) return 0;
    int64_t s0 = m->stride[0], s1 = m->stride[1], sy = s0 * in->sy, sx = s1 * in->sx;
    for (int64_t co = 0; co < C; co++) {
      int64_t base;
      if (c == CAND_SAME_CHANNEL) {
        base = in->base[co];
      } else {
        int64_t blk = co / (s0 * s1), sub = co % (s0 * s1), a = sub / s1, b = sub % s1;
        /* channels beyond the input's go to copies of its layout shifted by its extent (by the stride of its
        ** copies when it is replicated: block t then reads copy t, and the blocks share their diagonals) */
        int64_t shift = in->rep > 1 ? in->rep_stride : in->extent;
        base = in->base[blk % in->C] + (blk / in->C) * shift + a * in->sy + b * in->sx;
      }
      for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++) {
          int64_t s = base + y * sy + x * sx;
          if (s < 0 || s >= max_extent) return 0;
          l->slot[(co * H + y) * W + x] = (int32_t)s;
        }
    }
    return 1;
  }
  case CAND_ANCHOR: {
    /* rows with inputs first; rows without any (bias only) take free slots afterwards */
    memset(mark, 0, (size_t)max_extent);
    for (int64_t o = 0; o < n; o++) {
      if (m->rowptr[o] == m->rowptr[o + 1]) {
        l->slot[o] = -1;
        continue;
      }
      int32_t s = in->slot[m->col[m->rowptr[o]]];
      if (mark[s]) return 0;
      mark[s] = 1;
      l->slot[o] = s;
    }
    int64_t f = 0;
    for (int64_t o = 0; o < n; o++)
      if (l->slot[o] < 0) {
        while (f < max_extent && mark[f]) f++;
        if (f >= max_extent) return 0;
        mark[f] = 1;
        l->slot[o] = (int32_t)f;
      }
    return 1;
  }
  case CAND_DENSE:
    if (n > max_extent) return 0;
    for (int64_t o = 0; o < n; o++) l->slot[o] = (int32_t)o;
    return 1;
  case CAND_DIAG_ANCHOR:
    if (n > in->n || m->mix != FHE_MIX_DENSE) return 0;
    for (int64_t o = 0; o < n; o++) l->slot[o] = in->slot[o];
    return 1;
  default: return 0;
  }
}

int fhe_layout_candidate(struct pn_arena *a, const struct fhe_lmap *m, const struct fhe_layout *in, int64_t C,
                         int64_t H, int64_t W, int64_t max_extent, int cand, struct fhe_layout *out) {
  memset(out, 0, sizeof *out);
  if (cand < 0 || cand >= CAND_COUNT) return 0;
  int32_t *slots = pn_arena_alloc(a, (size_t)m->n_out * sizeof *slots + 1);
  uint8_t *mark = malloc((size_t)max_extent + 1);
  if (!slots || !mark) {
    free(mark);
    return -1;
  }
  out->slot = slots;
  int ok = make_cand((enum cand)cand, m, in, C, H, W, out, mark, max_extent) && check_slots(out, max_extent, mark);
  free(mark);
  if (ok) fhe_layout_detect_grid(a, out, C, H, W);
  return ok;
}

int fhe_layout_choose(struct pn_ctx *ctx, struct pn_arena *a, const struct fhe_lmap *m,
                      const struct fhe_layout *in, int64_t C, int64_t H, int64_t W, int64_t max_extent,
                      struct fhe_layout *out, int64_t *ndiag, char *kind, size_t kind_size) {
  memset(out, 0, sizeof *out);
  int32_t *slots = pn_arena_alloc(a, (size_t)m->n_out * sizeof *slots + 1);
  int32_t *best = pn_arena_alloc(a, (size_t)m->n_out * sizeof *best + 1);
  uint8_t *mark = malloc((size_t)max_extent + 1);
  if (!slots || !best || !mark) {
    free(mark);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory choosing a layout");
  }
  int64_t best_d = INT64_MAX, best_ext = 0;
  int best_c = -1;
  for (int c = 0; c < CAND_COUNT; c++) {
    struct fhe_layout l = {.slot = slots};
    if (!make_cand((enum cand)c, m, in, C, H, W, &l, mark, max_extent) || !check_slots(&l, max_extent, mark))
      continue;
    int64_t d = fhe_layout_count_diags(m, in, &l);
    if (d < best_d || (d == best_d && l.extent < best_ext)) {
      best_d = d;
      best_ext = l.extent;
      best_c = c;
      memcpy(best, slots, (size_t)m->n_out * sizeof *best);
    }
  }
  free(mark);
  if (best_c < 0)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: %s: %lld outputs do not fit one ciphertext of %lld slots",
                  m->what, (long long)m->n_out, (long long)max_extent);
  out->n = m->n_out;
  out->slot = best;
  out->extent = best_ext;
  fhe_layout_detect_grid(a, out, C, H, W);
  *ndiag = best_d;
  if (kind) snprintf(kind, kind_size, "%s", cand_names[best_c]);
  return PN_OK;
}

/* ---- diagonals in a ring of `slots` slots ---- */

static int cmp_i32(const void *x, const void *y) {
  int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
  return (a > b) - (a < b);
}

static int have_rot(const struct pn_fhe_plan *p, int step) {
  int lo = 0, hi = p->n_rot - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (p->rot[mid] == step) return 1;
    if (p->rot[mid] < step) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

static int add_rot(struct pn_fhe_plan *p, int step) {
  if (step == 0 || have_rot(p, step)) return PN_OK;
  int *r = realloc(p->rot, (size_t)(p->n_rot + 1) * sizeof *r);
  if (!r) return PN_ERR_NOMEM;
  p->rot = r;
  int i = p->n_rot++;
  while (i > 0 && r[i - 1] > step) {
    r[i] = r[i - 1];
    i--;
  }
  r[i] = step;
  return PN_OK;
}

/* Rotations of split n1 (baby b != 0 and giant g n1 != 0), and how many of those have no key yet. */
static void split_cost(const struct pn_fhe_plan *p, const int32_t *k, int64_t nk, int n1, int *nb, int *ng,
                       int *newkeys, uint8_t *mark) {
  int slots = (int)p->slots, ngc = (slots + n1 - 1) / n1;
  *nb = *ng = *newkeys = 0;
  memset(mark, 0, (size_t)(n1 > ngc ? n1 : ngc));
  for (int64_t t = 0; t < nk; t++) {
    int b = k[t] % n1;
    if (b && !mark[b]) {
      mark[b] = 1;
      (*nb)++;
      *newkeys += !have_rot(p, b);
    }
  }
  memset(mark, 0, (size_t)(n1 > ngc ? n1 : ngc));
  for (int64_t t = 0; t < nk; t++) {
    int g = k[t] / n1;
    if (g && !mark[g]) {
      mark[g] = 1;
      (*ng)++;
      *newkeys += !have_rot(p, g * n1);
    }
  }
}

int fhe_linear_index(struct pn_ctx *ctx, struct pn_fhe_plan *p, struct fhe_linear *L) {
  const struct fhe_lmap *m = L->m;
  const struct fhe_layout *in = &p->layouts[L->in_layout], *out = &p->layouts[L->out_layout];
  const int64_t n = (int64_t)p->slots;
  uint8_t *seen = calloc((size_t)n, 1);
  if (!seen) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory indexing diagonals");
  int64_t cnt = 0;
  for (int64_t o = 0; o < m->n_out; o++)
    for (int64_t e = m->rowptr[o]; e < m->rowptr[o + 1]; e++) {
      int64_t k = ((int64_t)in->slot[m->col[e]] + fhe_layout_copy(in, out->slot[o]) - out->slot[o]) % n;
      if (k < 0) k += n;
      if (!seen[k]) seen[k] = 1, cnt++;
    }
  L->k = pn_arena_alloc(p->arena, (size_t)(cnt ? cnt : 1) * sizeof *L->k);
  if (!L->k) {
    free(seen);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory indexing diagonals");
  }
  int64_t j = 0;
  for (int64_t k = 0; k < n; k++)
    if (seen[k]) L->k[j++] = (int32_t)k;
  L->ndiag = cnt;
  qsort(L->k, (size_t)cnt, sizeof *L->k, cmp_i32);
  /* n1: the fewest rotations, a rotation key not yet in the program counting as one more */
  int best = 1, bnb = 0, bng = 0, bcost = -1;
  for (int n1 = 1; n1 <= n; n1 *= 2) {
    int nb, ng, nk;
    split_cost(p, L->k, cnt, n1, &nb, &ng, &nk, seen);
    int cost = nb + ng + nk;
    if (bcost < 0 || cost < bcost) {
      bcost = cost;
      best = n1;
      bnb = nb;
      bng = ng;
    }
  }
  free(seen);
  L->n1 = best;
  L->nbaby = bnb;
  L->ngiant = bng;
  for (int64_t t = 0; t < cnt; t++) {
    int b = L->k[t] % best, g = L->k[t] / best;
    if (add_rot(p, b) || add_rot(p, g * best)) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  }
  L->has_bias = 0;
  for (int64_t o = 0; o < m->n_out; o++) L->has_bias |= m->bias[o] != 0;
  return PN_OK;
}

void fhe_linear_release(struct fhe_linear *L) {
  if (L->diag)
    for (int64_t j = 0; j < L->ndiag; j++) free(L->diag[j]);
  free(L->diag);
  free(L->bias);
  L->diag = NULL;
  L->bias = NULL;
}

static int64_t diag_pos(const struct fhe_linear *L, int32_t k) {
  int64_t lo = 0, hi = L->ndiag - 1;
  while (lo <= hi) {
    int64_t mid = (lo + hi) / 2;
    if (L->k[mid] == k) return mid;
    if (L->k[mid] < k) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

int fhe_linear_build(struct pn_ctx *ctx, const struct pn_fhe_plan *p, struct fhe_linear *L) {
  if (L->diag) return PN_OK;
  const struct fhe_lmap *m = L->m;
  const struct fhe_layout *in = &p->layouts[L->in_layout], *out = &p->layouts[L->out_layout];
  const int64_t n = (int64_t)p->slots;
  L->diag = calloc((size_t)(L->ndiag ? L->ndiag : 1), sizeof *L->diag);
  if (!L->diag) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory building diagonals");
  for (int64_t j = 0; j < L->ndiag; j++)
    if (!(L->diag[j] = calloc((size_t)n, sizeof **L->diag))) {
      fhe_linear_release(L);
      return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory building the diagonals of %s (%lld x %lld slots)",
                    m->what, (long long)L->ndiag, (long long)n);
    }
  for (int64_t o = 0; o < m->n_out; o++) {
    int64_t so = out->slot[o], si = fhe_layout_copy(in, so) - so;
    for (int64_t e = m->rowptr[o]; e < m->rowptr[o + 1]; e++) {
      int64_t k = ((int64_t)in->slot[m->col[e]] + si) % n;
      if (k < 0) k += n;
      int64_t j = diag_pos(L, (int32_t)k), g = k / L->n1;
      L->diag[j][(so + g * L->n1) % n] += (float)m->val[e];
    }
  }
  if (L->has_bias) {
    if (!(L->bias = calloc((size_t)n, sizeof *L->bias))) {
      fhe_linear_release(L);
      return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
    }
    for (int64_t o = 0; o < m->n_out; o++) L->bias[out->slot[o]] = m->bias[o];
  }
  return PN_OK;
}

/* ---- the key budget ---- */

int fhe_rot_cost(const struct pn_fhe_plan *p, int step) {
  int64_t n = (int64_t)p->slots, k = ((int64_t)step % n + n) % n;
  if (!k) return 0;
  if (have_rot(p, (int)k)) return 1;
  return __builtin_popcountll((unsigned long long)k);
}

/* Calls f(user, step) once per distinct baby step and once per distinct giant step of L (baby != 0 first). */
static void linear_steps(const struct pn_fhe_plan *p, const struct fhe_linear *L, void (*f)(void *, int, int),
                         void *user) {
  int ng = (int)((p->slots + (size_t)L->n1 - 1) / (size_t)L->n1) + 1;
  int sz = L->n1 > ng ? L->n1 : ng;
  uint8_t *mark = calloc((size_t)sz, 1);
  if (!mark) return;
  for (int64_t t = 0; t < L->ndiag; t++) {
    int b = L->k[t] % L->n1;
    if (b && !mark[b]) mark[b] = 1, f(user, b, 0);
  }
  memset(mark, 0, (size_t)sz);
  for (int64_t t = 0; t < L->ndiag; t++) {
    int g = L->k[t] / L->n1;
    if (g && !mark[g]) mark[g] = 1, f(user, g * L->n1, 1);
  }
  free(mark);
}

struct rc_acc {
  const struct pn_fhe_plan *p;
  int cost[2];
};
static void add_cost(void *u, int step, int giant) {
  struct rc_acc *a = u;
  a->cost[giant] += fhe_rot_cost(a->p, step);
}

void fhe_linear_rot_cost(const struct pn_fhe_plan *p, const struct fhe_linear *L, int *baby, int *giant) {
  struct rc_acc a = {p, {0, 0}};
  linear_steps(p, L, add_cost, &a);
  *baby = a.cost[0];
  *giant = a.cost[1];
}

double fhe_key_bytes(const struct pn_fhe_plan *p) {
  return (double)pn_ckks_dnum(p->ckks) * 2.0 * (p->params.nq + p->params.np) * (double)pn_ckks_n(p->ckks) * 8.0;
}

static void count_use(void *u, int step, int giant) {
  (void)giant;
  ((int64_t *)u)[step]++;
}

int fhe_pow_key_count(const struct pn_fhe_plan *p) {
  int npow = 0;
  while (((size_t)1 << npow) < p->slots) npow++;
  return npow;
}

int fhe_restrict_keys(struct pn_ctx *ctx, struct pn_fhe_plan *p, int max_keys, bool soft) {
  const int64_t n = (int64_t)p->slots;
  const int npow = fhe_pow_key_count(p);
  if (soft && max_keys < npow) max_keys = npow;
  if (p->n_rot <= max_keys) return PN_OK;
  if (max_keys < npow)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: %d rotation keys do not fit the key budget of %d keys (%.0f MiB each); "
                  "even the %d power-of-two keys do not", p->n_rot, max_keys, fhe_key_bytes(p) / (1 << 20), npow);
  /* per image uses of every step */
  int64_t *use = calloc((size_t)n, sizeof *use);
  int *keep = malloc((size_t)(max_keys + 1) * sizeof *keep);
  if (!use || !keep) {
    free(use), free(keep);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  }
  for (int i = 0; i < p->n_inst; i++)
    if (p->inst[i].kind == FHE_OP_ROT && p->inst[i].aux) use[p->inst[i].aux]++;
    else if (p->inst[i].kind == FHE_OP_LINEAR) linear_steps(p, &p->linears[p->inst[i].aux], count_use, use);
  int nk = 0;
  for (int b = 0; b < npow; b++) keep[nk++] = 1 << b;
  /* the others by key switchings saved per image: uses x (popcount - 1), largest first */
  while (nk < max_keys) {
    int best = -1;
    int64_t bsave = 0;
    for (int i = 0; i < p->n_rot; i++) {
      int st = p->rot[i];
      int64_t save = use[st] * (__builtin_popcount((unsigned)st) - 1);
      if (save > bsave) bsave = save, best = st;
    }
    if (best < 0) break;
    keep[nk++] = best;
    use[best] = 0;
  }
  free(use);
  qsort(keep, (size_t)nk, sizeof *keep, cmp_i32);
  free(p->rot);
  p->rot = keep;
  p->n_rot = nk;
  return PN_OK;
}

/* ---- the rotation schedule of a linear (fhe_rot_sched) ---- */

/* The power-of-two steps that have keys, as a bit mask. */
static uint64_t pow_keys(const struct pn_fhe_plan *p) {
  uint64_t m = 0;
  for (int b = 0; ((size_t)1 << b) < p->slots && b < 63; b++)
    if (have_rot(p, 1 << b)) m |= (uint64_t)1 << b;
  return m;
}

static int hop_cost(const struct pn_fhe_plan *p, uint64_t pow, int64_t d) {
  int64_t n = (int64_t)p->slots;
  d = (d % n + n) % n;
  if (!d) return 0;
  if (have_rot(p, (int)d)) return 1;
  return ((uint64_t)d & ~pow) ? -1 : __builtin_popcountll((unsigned long long)d);
}

int fhe_hop_cost(const struct pn_fhe_plan *p, int64_t d) { return hop_cost(p, pow_keys(p), d); }

/* A rotation tree under construction (fhe_rot_sched's baby or giant tree). */
struct tree {
  int n, cap, modups;
  int32_t *step, *parent;
  int *nchild;
};

/* What tree_build looks up for every node and target: the node of each step (-1: none yet) and whether a
** step has a key of its own, both by step in [0, slots). */
struct tree_index {
  int32_t *node;
  uint8_t *key;
};

static int32_t add_node(struct tree *t, struct tree_index *ix, int32_t step, int32_t parent) {
  int32_t i = t->n++;
  t->step[i] = step;
  t->parent[i] = parent;
  t->nchild[i] = 0;
  if (ix->node[step] < 0) ix->node[step] = i;
  if (parent >= 0 && t->nchild[parent]++ % FHE_HOIST_MAX == 0) t->modups++;
  return i;
}

/* Bits set in x, without a library call (__builtin_popcountll is one on a plain x86-64 target). */
static inline int popcount64(uint64_t x) {
  x = x - (x >> 1 & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + (x >> 2 & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (int)((x * 0x0101010101010101ull) >> 56);
}

/* hop_cost of d in [0, n) with the keys looked up in ix */
static inline int hop_cost_ix(const struct tree_index *ix, uint64_t pow, int64_t d) {
  if (!d) return 0;
  if (ix->key[d]) return 1;
  return ((uint64_t)d & ~pow) ? -1 : popcount64((uint64_t)d);
}

/* The tree reaching targets tg[0..nt) (rotations in [0, slots), any order; 0 is the root) by single-key hops:
** each target, in the order given, from the node fewest key switches away (ties: a node that already has
** children, whose decomposition it shares when fanning out; then the earliest), a chain of power-of-two keys
** through new nodes when there is no single key. node[i] = the node of tg[i]. 1 when built, 0 when a target has
** no key path, -1 out of memory. A target one key away from some node is found by looking up target - key for
** each key when there are fewer keys than nodes; otherwise, and when no node is one key away, every node is
** tried (the same choice either way). */
static int tree_build(const struct pn_fhe_plan *p, uint64_t pow, const int64_t *tg, int nt, struct tree *t,
                      int32_t *node) {
  const int64_t n = (int64_t)p->slots;
  memset(t, 0, sizeof *t);
  int64_t cap = 1;
  for (int i = 0; i < nt; i++) {
    int c = hop_cost(p, pow, tg[i]);
    if (c < 0) return 0;
    cap += c;
  }
  struct tree_index ix = {malloc((size_t)n * sizeof *ix.node), calloc((size_t)n, 1)};
  t->step = malloc((size_t)cap * sizeof *t->step);
  t->parent = malloc((size_t)cap * sizeof *t->parent);
  t->nchild = malloc((size_t)cap * sizeof *t->nchild);
  if (!t->step || !t->parent || !t->nchild || !ix.node || !ix.key) {
    free(ix.node), free(ix.key);
    return -1;
  }
  for (int64_t s = 0; s < n; s++) ix.node[s] = -1;
  for (int r = 0; r < p->n_rot; r++)
    if (p->rot[r] > 0 && p->rot[r] < n) ix.key[p->rot[r]] = 1;
  add_node(t, &ix, 0, -1);
  for (int i = 0; i < nt; i++) {
    int32_t have = ix.node[tg[i]];
    if (have >= 0) {
      node[i] = have;
      continue;
    }
    /* the node with the least (key switches, no children yet, index) */
    int32_t bu = -1;
    int bc = INT32_MAX;
    if (p->n_rot < t->n)
      for (int r = 0; r < p->n_rot; r++) {
        int64_t s = ((tg[i] - p->rot[r]) % n + n) % n;
        int32_t u = ix.node[s];
        if (u < 0) continue;
        if (bu < 0 || (!t->nchild[u] != !t->nchild[bu] ? t->nchild[u] != 0 : u < bu)) bu = u;
      }
    if (bu >= 0) {
      bc = 1;
    } else {
      for (int32_t u = 0; u < t->n; u++) {
        int c = hop_cost_ix(&ix, pow, ((tg[i] - t->step[u]) % n + n) % n);
        if (c < 0) continue;
        if (c < bc || (c == bc && t->nchild[u] && !t->nchild[bu])) bc = c, bu = u;
        if (bc == 1 && t->nchild[bu]) break;
      }
    }
    int64_t d = ((tg[i] - t->step[bu]) % n + n) % n;
    int32_t cur = bu;
    if (bc == 1) {
      cur = add_node(t, &ix, (int32_t)tg[i], bu);
    } else {
      /* the chain, low bits first (as a rotation on its own runs it); nodes on the way are kept */
      for (int k = 0; ((int64_t)1 << k) < n; k++)
        if (d >> k & 1) {
          int32_t st = (int32_t)((t->step[cur] + ((int64_t)1 << k)) % n), e = ix.node[st];
          cur = e >= 0 ? e : add_node(t, &ix, st, cur);
        }
    }
    node[i] = cur;
  }
  free(ix.node), free(ix.key);
  return 1;
}

static void sched_free(struct fhe_rot_sched *s) {
  free(s->step), free(s->parent), free(s->node_of), free(s->gstep), free(s->gparent), free(s->gnode_of);
  memset(s, 0, sizeof *s);
}

/* The schedule of L's diagonals split at n1 into s (malloc'd arrays). 1 when built, 0 when a step has no key
** path, -1 out of memory. */
static int sched_build(const struct pn_fhe_plan *p, const struct fhe_linear *L, int n1, uint64_t pow,
                       struct fhe_rot_sched *s) {
  memset(s, 0, sizeof *s);
  uint8_t *used = calloc((size_t)n1, 1);
  int64_t *tg = calloc((size_t)(L->ndiag + n1 + 1), sizeof *tg);
  int32_t *tn = malloc((size_t)(L->ndiag + n1 + 1) * sizeof *tn);
  s->node_of = malloc((size_t)n1 * sizeof *s->node_of);
  struct tree bt = {0}, gt = {0};
  int rc = -1, nt = 0;
  if (!used || !tg || !tn || !s->node_of) goto out;
  /* baby steps ascending */
  for (int64_t t = 0; t < L->ndiag; t++) used[L->k[t] % n1] = 1;
  for (int b = 1; b < n1; b++)
    if (used[b]) tg[nt++] = b;
  if ((rc = tree_build(p, pow, tg, nt, &bt, tn)) <= 0) goto out;
  for (int b = 0; b < n1; b++) s->node_of[b] = b ? -1 : 0;
  for (int i = 0; i < nt; i++) s->node_of[tg[i]] = tn[i];
  /* giant steps: the groups' rotations g n1, ascending (a tree the group sums flow up, leaves first) */
  nt = 0;
  for (int64_t t = 0; t < L->ndiag; t++)
    if (!t || L->k[t] / n1 != L->k[t - 1] / n1) tg[nt++] = (int64_t)(L->k[t] / n1) * n1;
  s->ngroup = nt;
  if (!(s->gnode_of = malloc((size_t)(nt + 1) * sizeof *s->gnode_of))) {
    rc = -1;
    goto out;
  }
  if ((rc = tree_build(p, pow, tg, nt, &gt, s->gnode_of)) <= 0) goto out;
  s->nnode = bt.n, s->step = bt.step, s->parent = bt.parent, bt.step = bt.parent = NULL;
  s->baby_ks = bt.n - 1, s->baby_modups = bt.modups;
  s->gnnode = gt.n, s->gstep = gt.step, s->gparent = gt.parent, gt.step = gt.parent = NULL;
  s->giant_ks = gt.n - 1;
out:
  free(bt.step), free(bt.parent), free(bt.nchild), free(gt.step), free(gt.parent), free(gt.nchild);
  free(used), free(tg), free(tn);
  if (rc <= 0) sched_free(s);
  return rc;
}

/* What a schedule costs, in key switches (a group's rescale and sum: about a twentieth of one). */
static double sched_cost(const struct fhe_rot_sched *s) { return s->baby_ks + s->giant_ks + s->ngroup / 20.0; }

static int32_t *arena_dup(struct pn_fhe_plan *p, const int32_t *x, int64_t n) {
  int32_t *y = pn_arena_alloc(p->arena, (size_t)(n ? n : 1) * sizeof *y);
  if (y && n) memcpy(y, x, (size_t)n * sizeof *y);
  return y;
}

int fhe_linear_schedule(struct pn_ctx *ctx, struct pn_fhe_plan *p, struct fhe_linear *L) {
  const uint64_t pow = pow_keys(p);
  const int npow = fhe_pow_key_count(p);
  const int any = pow == ((uint64_t)1 << npow) - 1; /* every power of two has its key: any split runs */
  struct fhe_rot_sched best, s;
  int nb0, ng0;
  fhe_linear_rot_cost(p, L, &nb0, &ng0);
  int rc = sched_build(p, L, L->n1, pow, &best);
  if (rc <= 0) {
    if (rc < 0) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory scheduling rotations");
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: %s: a rotation of its split has no key path", L->m->what);
  }
  int bn1 = L->n1;
  /* with every power of two, the split chosen for the key count may not be the cheapest: try the others */
  for (int n1 = 1; any && n1 <= (int)p->slots; n1 *= 2) {
    if (n1 == L->n1) continue;
    if ((rc = sched_build(p, L, n1, pow, &s)) < 0) {
      sched_free(&best);
      return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory scheduling rotations");
    }
    if (rc && sched_cost(&s) < sched_cost(&best)) {
      sched_free(&best);
      best = s, bn1 = n1;
    } else if (rc) {
      sched_free(&s);
    }
  }
  best.first_ks = nb0 + ng0;
  struct fhe_rot_sched *a = pn_arena_alloc(p->arena, sizeof *a);
  if (a) *a = best;
  if (!a || !(a->step = arena_dup(p, best.step, best.nnode)) || !(a->parent = arena_dup(p, best.parent, best.nnode)) ||
      !(a->node_of = arena_dup(p, best.node_of, bn1)) || !(a->gstep = arena_dup(p, best.gstep, best.gnnode)) ||
      !(a->gparent = arena_dup(p, best.gparent, best.gnnode)) ||
      !(a->gnode_of = arena_dup(p, best.gnode_of, best.ngroup))) {
    sched_free(&best);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory scheduling rotations");
  }
  sched_free(&best);
  if (bn1 != L->n1) { /* the diagonals are built later (fhe_linear_build) for this split */
    uint8_t *mark = calloc((size_t)(p->slots + 1), 1);
    if (!mark) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory scheduling rotations");
    int nb, ng, nk;
    split_cost(p, L->k, L->ndiag, bn1, &nb, &ng, &nk, mark);
    free(mark);
    L->n1 = bn1, L->nbaby = nb, L->ngiant = ng;
  }
  L->sched = a;
  return PN_OK;
}
