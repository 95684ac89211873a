/* run.c - the program's executor: on ciphertexts (the server) or on plain slot vectors (checking).
**
** Both walk the same instructions and check, after every one, that the register has exactly the level
** and scale the compiler planned (on ciphertexts: what CKKS actually produced), so a plan that does not
** match what execution consumes is an error, never a silent wrong answer.
**
** A LINEAR is the diagonal method with baby-step giant-step: the baby rotations of the input are made
** once (the schedule's tree: one key switch each, children of a node hoisted from one decomposition), each
** giant group multiplies them by its (pre-rotated) diagonals and sums the products unreduced (one reduction
** per coefficient and group, pn_ckks_mul_pt_sum), is rescaled once, and the groups are summed up the
** schedule's giant tree (one key switch per edge). Where fhe_giant_ext holds (the special primes a small part
** of Q_l P), the giant rotations stay over Q_l P instead and the groups are not rescaled: one ModDown per
** giant-tree node with children and one rescale per layer (giant_tree_ext). pn_fhe_server_set_rot_chains
** runs the earlier way instead (every rotation on its own, a chain of power-of-two keys where its step has no
** key) for comparison. Weight plaintexts are prepared once when the server starts, within a memory budget:
** every diagonal's integer coefficients (N words), and the NTT form (nothing left to do per query) of the
** layers that fit in the rest; a plaintext not held in NTT form is made from its coefficients (level + 1
** NTTs) at each use. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckks/poly.h"
#include "ckks/ring.h"
#include "fhe/fhe_impl.h"
#include "util/fileio.h"
#include "util/status.h"
#include "util/wipe.h"

/* plaintexts made during an evaluation and summed in one batch (each up to nq N words) */
#define FHE_TMP_PT 8

struct pn_fhe_server {
  const struct pn_fhe_plan *p;
  const struct pn_fhe_evk *evk;
  struct pn_ckks_pt ***pt;       /* [linear][diag], NULL when not cached */
  int64_t ***co;                 /* [linear][diag] integer coefficients, where the NTT form is not cached */
  struct pn_ckks_pt **bias;      /* [linear] */
  size_t cache_bytes;
  double *layer_seconds;         /* [n_layer] wall, then [n_layer] process CPU */
  struct pn_ckks_boot *boot;     /* bootstrapping context (real_boot plans) */
  int rot_chains;                /* 1: every rotation on its own (the schedule before fhe_rot_sched) */
  int giant_mode;                /* PN_FHE_GIANT_*: where the giant sums stay over Q_l P (giant_tree_ext) */
  /* Held across layers and queries (made at their first use, freed with the server): a fresh multi-megabyte
  ** buffer per layer costs its pages' first touch (~12 us per 4 KiB page in a VM) on top of the arithmetic.
  ** A server runs one evaluation at a time. */
  struct pn_ckks_pt *tmp[FHE_TMP_PT]; /* plaintexts made at their use (encoded or from coefficients) */
  double *dbuf;                  /* slots doubles: one diagonal's values */
  size_t pool_bytes;             /* the ciphertext pool's bound, set from the plan (pn_ckks_ct_pool_set) */
};

struct vm {
  struct pn_ctx *ctx;
  const struct pn_fhe_plan *p;
  struct pn_fhe_server *srv;     /* NULL: simulation */
  double **v;                    /* simulation: slot vectors per register */
  int *lvl;
  double *scl;
  struct pn_ckks_ct **ct;        /* ciphertexts per register */
  struct pn_fhe_run_stats st;
  double max_abs, boot_max_abs;
};

/* x repeated over the full slot count when it has fewer (a power of two dividing them) */
static int fill_slots(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double *x, size_t slots, double **r) {
  const size_t full = pn_ckks_slots(c);
  *r = NULL;
  if (slots >= full) return PN_OK;
  if (!(*r = malloc(full * sizeof **r))) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  for (size_t i = 0; i < full; i++) (*r)[i] = x[i % slots];
  return PN_OK;
}

int fhe_encode(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double *x, size_t slots, double scale,
               int level, struct pn_ckks_pt *pt) {
  const size_t full = pn_ckks_slots(c);
  double *r;
  int rc = fill_slots(ctx, c, x, slots, &r);
  if (!rc) rc = pn_ckks_encode_real(ctx, c, r ? r : x, r ? full : slots, scale, level, pt);
  if (r) pn_wipe_free(r, full * sizeof *r);
  return rc;
}

/* fhe_encode's integer coefficients (pn_ckks_encode_coeffs): N words, put at a level by pn_ckks_pt_from_coeffs */
static int fhe_encode_coeffs(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double *x, size_t slots,
                             double scale, int64_t *co) {
  const size_t full = pn_ckks_slots(c), nz = slots >= full ? slots : full;
  double *r;
  int rc = fill_slots(ctx, c, x, slots, &r);
  double complex *z = rc ? NULL : malloc(nz * sizeof *z);
  if (!rc && !z) rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  for (size_t i = 0; !rc && i < nz; i++) z[i] = r ? r[i] : x[i];
  if (!rc) rc = pn_ckks_encode_coeffs(ctx, c, z, nz, scale, co);
  if (z) pn_wipe_free(z, nz * sizeof *z);
  if (r) pn_wipe_free(r, full * sizeof *r);
  return rc;
}


static int nomem(struct vm *m) { return pn_err(m->ctx, PN_ERR_NOMEM, "fhe: out of memory evaluating"); }

static struct fhe_linear *lin_of(const struct pn_fhe_plan *p, int i) { return (struct fhe_linear *)&p->linears[i]; }

/* ---- simulation ---- */

static void rot_vec(const double *x, int64_t k, size_t n, double *y) {
  for (size_t i = 0; i < n; i++) y[i] = x[(i + (size_t)k) % n];
}

static int sim_linear(struct vm *m, const struct fhe_inst *in) {
  const struct pn_fhe_plan *p = m->p;
  struct fhe_linear *L = lin_of(p, in->aux);
  int rc = fhe_linear_build(m->ctx, p, L);
  if (rc) return rc;
  const size_t n = p->slots;
  const double *x = m->v[in->a];
  double *y = calloc(n, sizeof *y), *xb = malloc(n * sizeof *xb), *acc = malloc(n * sizeof *acc),
         *t = malloc(n * sizeof *t);
  if (!y || !xb || !acc || !t) {
    free(y), free(xb), free(acc), free(t);
    return nomem(m);
  }
  for (int64_t j = 0; j < L->ndiag;) {
    int g = L->k[j] / L->n1;
    memset(acc, 0, n * sizeof *acc);
    for (; j < L->ndiag && L->k[j] / L->n1 == g; j++) {
      rot_vec(x, L->k[j] % L->n1, n, xb);
      const float *d = L->diag[j];
      for (size_t i = 0; i < n; i++) acc[i] += (double)d[i] * xb[i];
    }
    rot_vec(acc, (int64_t)g * L->n1, n, t);
    for (size_t i = 0; i < n; i++) y[i] += t[i];
  }
  if (L->bias)
    for (size_t i = 0; i < n; i++) y[i] += L->bias[i];
  free(xb), free(acc), free(t);
  m->v[in->dst] = y;
  m->st.pt_muls += (int)L->ndiag;
  m->st.rotations += L->sched->baby_ks + L->sched->giant_ks;
  m->st.modups += L->sched->baby_modups + L->sched->giant_ks;
  return PN_OK;
}

static int sim_inst(struct vm *m, const struct fhe_inst *in) {
  const struct pn_fhe_plan *p = m->p;
  const size_t n = p->slots;
  if (in->kind == FHE_OP_LINEAR) return sim_linear(m, in);
  double *y = malloc(n * sizeof *y);
  if (!y) return nomem(m);
  const double *a = in->a >= 0 ? m->v[in->a] : NULL, *b = in->b >= 0 ? m->v[in->b] : NULL;
  switch (in->kind) {
  case FHE_OP_ROT:
    rot_vec(a, in->aux, n, y);
    m->st.rotations += fhe_rot_cost(p, in->aux);
    m->st.modups += fhe_rot_cost(p, in->aux);
    break;
  case FHE_OP_ADD: for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i]; break;
  case FHE_OP_SUB: for (size_t i = 0; i < n; i++) y[i] = a[i] - b[i]; break;
  case FHE_OP_ADDC: for (size_t i = 0; i < n; i++) y[i] = a[i] + in->c; break;
  case FHE_OP_MULC: for (size_t i = 0; i < n; i++) y[i] = a[i] * in->c; break;
  case FHE_OP_MUL:
    for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
    m->st.ct_muls++;
    break;
  case FHE_OP_STAGE: {
    const struct fhe_stage *s = &p->stages[in->aux];
    for (size_t i = 0; i < n; i++) {
      double z = a[i], z2 = z * z, pw = z, acc = 0;
      for (int j = 0; j < s->nterms; j++, pw *= z2) acc += s->c[j] * pw;
      y[i] = acc;
    }
    break;
  }
  case FHE_OP_BOOT:
    memcpy(y, a, n * sizeof *y);
    for (size_t i = 0; i < n; i++)
      if (fabs(a[i]) > m->boot_max_abs) m->boot_max_abs = fabs(a[i]);
    m->st.boots++;
    break;
  default:
    free(y);
    return pn_err(m->ctx, PN_ERR_INVALID, "fhe: instruction kind %d in simulation", (int)in->kind);
  }
  m->v[in->dst] = y;
  return PN_OK;
}

/* ---- ciphertexts ---- */

/* Rotate by step with its own key, or as a chain of power-of-two rotations (the plan's key budget). */
static int rotate(struct vm *m, const struct pn_ckks_ct *a, int step, struct pn_ckks_ct *out) {
  const struct pn_fhe_plan *p = m->p;
  const struct pn_ckks_gk *gk = m->srv->evk->gk;
  if (fhe_rot_cost(p, step) == 1) {
    m->st.rotations++, m->st.modups++;
    return pn_ckks_rotate(m->ctx, p->ckks, gk, a, step, out);
  }
  const struct pn_ckks_ct *src = a;
  for (int b = 0; ((size_t)1 << b) < p->slots; b++)
    if ((unsigned)step >> b & 1) {
      int rc = pn_ckks_rotate(m->ctx, p->ckks, gk, src, 1 << b, out);
      if (rc) return rc;
      m->st.rotations++, m->st.modups++;
      src = out;
    }
  return src == out ? PN_OK : pn_ckks_ct_copy(m->ctx, a, out);
}

/* The baby rotations of x by the schedule's tree (fhe_rot_sched): node by node, all children of a node made
** from one decomposition of it; a node no product reads is freed once its children are made. node[0] = x. */
static int baby_tree(struct vm *m, const struct fhe_linear *L, const struct pn_ckks_ct *x, struct pn_ckks_ct **node) {
  const struct pn_fhe_plan *p = m->p;
  const struct fhe_rot_sched *s = L->sched;
  const int64_t n = (int64_t)p->slots;
  int *steps = malloc((size_t)s->nnode * sizeof *steps);
  struct pn_ckks_ct **outs = malloc((size_t)s->nnode * sizeof *outs);
  uint8_t *keep = calloc((size_t)s->nnode, 1);
  int rc = PN_OK;
  if (!steps || !outs || !keep) rc = nomem(m);
  for (int b = 0; b < L->n1 && !rc; b++)
    if (s->node_of[b] >= 0) keep[s->node_of[b]] = 1;
  node[0] = (struct pn_ckks_ct *)x;
  for (int u = 0; u < s->nnode && !rc; u++) {
    int k = 0;
    for (int c = u + 1; c <= s->nnode && !rc; c++) {
      if (c < s->nnode && s->parent[c] == u) {
        if (!(node[c] = pn_ckks_ct_new(p->ckks))) rc = nomem(m);
        steps[k] = (int)((((int64_t)s->step[c] - s->step[u]) % n + n) % n);
        outs[k++] = node[c];
      }
      if (!rc && k && (k == FHE_HOIST_MAX || c == s->nnode)) {
        rc = pn_ckks_rotate_hoisted(m->ctx, p->ckks, m->srv->evk->gk, node[u], steps, k, outs);
        m->st.rotations += k, m->st.modups++;
        k = 0;
      }
    }
    if (u && !keep[u]) {
      pn_ckks_ct_free(node[u]);
      node[u] = NULL;
    }
  }
  free(steps), free(outs), free(keep);
  return rc;
}

/* The plaintext of diagonal j at level l, scale s: cached, or made now into tmp (from its cached coefficients, or
** encoded). */
static int diag_pt(struct vm *m, const struct fhe_linear *L, int li, int64_t j, int l, double s,
                   struct pn_ckks_pt *tmp, double *dbuf, const struct pn_ckks_pt **out) {
  struct pn_fhe_server *srv = m->srv;
  if (srv->pt[li] && srv->pt[li][j]) {
    *out = srv->pt[li][j];
    return PN_OK;
  }
  *out = tmp;
  if (srv->co[li] && srv->co[li][j]) return pn_ckks_pt_from_coeffs(m->ctx, m->p->ckks, srv->co[li][j], s, l, tmp);
  const size_t n = m->p->slots;
  for (size_t i = 0; i < n; i++) dbuf[i] = L->diag[j][i];
  return fhe_encode(m->ctx, m->p->ckks, dbuf, n, s, l, tmp);
}

/* The sum over group [j0, j1) (one giant index) of diagonal x baby rotation into g, rescaled once if `rescale`. The
** products are summed before any reduction (pn_ckks_mul_pt_sum), up to PN_RING_DOT_MAX at a time, or FHE_TMP_PT when
** the plaintexts are made now (into tmp[]). */
static int giant_group(struct vm *m, const struct fhe_linear *L, int li, int64_t j0, int64_t j1,
                       struct pn_ckks_ct *const *xb, double ps, double target, struct pn_ckks_pt *const *tmp,
                       double *dbuf, struct pn_ckks_ct *y, struct pn_ckks_ct *g, int rescale) {
  const struct pn_ckks_context *c = m->p->ckks;
  const int l = xb[0]->level;
  const struct pn_ckks_ct *xs[PN_RING_DOT_MAX];
  const struct pn_ckks_pt *pts[PN_RING_DOT_MAX];
  int rc = PN_OK, terms = 0, have = 0, ntmp = 0;
  for (int64_t j = j0; j < j1 && !rc; j++) {
    const struct pn_ckks_pt *pt;
    if ((rc = diag_pt(m, L, li, j, l, ps, tmp[ntmp], dbuf, &pt))) break;
    ntmp += pt == tmp[ntmp];
    xs[terms] = xb[L->k[j] % L->n1];
    pts[terms++] = pt;
    m->st.pt_muls++;
    if (terms < PN_RING_DOT_MAX && j + 1 < j1 && ntmp < FHE_TMP_PT) continue;
    rc = pn_ckks_mul_pt_sum(m->ctx, c, xs, pts, terms, have ? y : g);
    if (!rc && have) rc = pn_ckks_add(m->ctx, c, g, y, g);
    have = 1;
    terms = ntmp = 0;
  }
  if (!rc && rescale && !(rc = pn_ckks_rescale(m->ctx, c, g, g))) g->scale = target;
  return rc;
}

static int add_into(struct vm *m, struct pn_ckks_ct **dst, const struct pn_ckks_ct *g) {
  if (*dst) return pn_ckks_add(m->ctx, m->p->ckks, *dst, g, *dst);
  if (!(*dst = pn_ckks_ct_new(m->p->ckks))) return nomem(m);
  return pn_ckks_ct_copy(m->ctx, g, *dst);
}

/* The giant tree with the rotations' ModDowns and the rescale left to the end (where fhe_giant_ext): node k's sum
** is its group's (over Q_l, not rescaled) plus its children's rotations, which stay over Q_l P (x[k], pn_ckks_ext). It
** is rotated by its edge into its parent's x: a node with children pays one ModDown (of its c1, which the
** decomposition reads), a leaf none. Node 0's sum gets the one ModDown of both polynomials and the one rescale.
** Against the eager tree (each group rescaled, each rotation ModDowned): 2 per group + 2 per edge polynomial
** divisions (ModDowns and rescales, ~nl + np NTTs each) become 1 per inner node + 4, and the giant rotations run
** at level l instead of l - 1. */
static int giant_tree_ext(struct vm *m, const struct fhe_linear *L, const struct fhe_inst *in, const int64_t *gs,
                          int ng, int *gq, struct pn_ckks_ct *const *xb, double ps, double target,
                          struct pn_ckks_pt *const *tmp, double *dbuf, struct pn_ckks_ct *y, struct pn_ckks_ct *g) {
  const struct pn_fhe_plan *p = m->p;
  const struct pn_ckks_context *c = p->ckks;
  const struct fhe_rot_sched *s = L->sched;
  struct pn_ckks_ext **x = calloc((size_t)s->gnnode, sizeof *x);
  int rc = x ? PN_OK : nomem(m), have = 0;
  for (int k = 0; k < s->gnnode; k++) gq[k] = -1;
  for (int q = 0; q < ng; q++) gq[s->gnode_of[q]] = q;
  for (int k = s->gnnode - 1; k >= 0 && !rc; k--) {
    have = gq[k] >= 0;
    if (have) rc = giant_group(m, L, in->aux, gs[gq[k]], gs[gq[k] + 1], xb, ps, target, tmp, dbuf, y, g, 0);
    if (rc || !k) break;
    int par = s->gparent[k], d = (int)((((int64_t)s->gstep[k] - s->gstep[par]) % (int64_t)p->slots +
                                        (int64_t)p->slots) % (int64_t)p->slots);
    if (!x[par] && !(x[par] = pn_ckks_ext_new(c))) rc = nomem(m);
    if (!rc) rc = pn_ckks_rotate_ext_acc(m->ctx, c, m->srv->evk->gk, have ? g : NULL, x[k], d, x[par]);
    m->st.rotations++, m->st.modups++;
    pn_ckks_ext_free(x[k]);
    x[k] = NULL;
  }
  /* node 0: its group's sum (in g) plus its children's rotations, divided by P once, then rescaled once */
  struct pn_ckks_ct *out = NULL, *sum = have ? g : NULL;
  if (!rc && !(out = pn_ckks_ct_new(c))) rc = nomem(m);
  if (!rc && !have && !x[0]) rc = pn_err(m->ctx, PN_ERR_INVALID, "fhe: linear layer with no diagonal");
  if (!rc && x[0]) rc = pn_ckks_ext_moddown(m->ctx, c, x[0], have, sum ? sum : (sum = out));
  if (!rc && !(rc = pn_ckks_rescale(m->ctx, c, sum, out))) out->scale = target;
  if (!rc) {
    m->ct[in->dst] = out;
    out = NULL;
  }
  pn_ckks_ct_free(out);
  if (x)
    for (int k = 0; k < s->gnnode; k++) pn_ckks_ext_free(x[k]);
  free(x);
  return rc;
}

static int ckks_linear(struct vm *m, const struct fhe_inst *in) {
  const struct pn_fhe_plan *p = m->p;
  const struct pn_ckks_context *c = p->ckks;
  struct fhe_linear *L = lin_of(p, in->aux);
  const struct fhe_rot_sched *s = L->sched;
  const struct pn_ckks_ct *x = m->ct[in->a];
  const int l = x->level, chains = m->srv->rot_chains;
  const double target = p->reg[in->dst].scale, ps = target * (double)pn_ckks_prime(c, l) / x->scale;
  int rc = PN_OK;
  /* baby rotations of x: xb[b] for every b used (tree nodes, or one chain each) */
  int nx = chains ? L->n1 : s->nnode;
  struct pn_ckks_ct **node = calloc((size_t)nx, sizeof *node), **xb = calloc((size_t)L->n1, sizeof *xb);
  int64_t *gs = malloc((size_t)(L->ndiag + 1) * sizeof *gs); /* group starts, and ndiag */
  struct pn_ckks_ct *g = pn_ckks_ct_new(c), *y = pn_ckks_ct_new(c), **h = NULL;
  int *gq = NULL;
  struct pn_ckks_pt *const *tmp = m->srv->tmp;
  int tmp_ok = 1;
  for (int k = 0; k < FHE_TMP_PT; k++) tmp_ok &= m->srv->tmp[k] || (m->srv->tmp[k] = pn_ckks_pt_new(c));
  double *dbuf = m->srv->dbuf ? m->srv->dbuf : (m->srv->dbuf = malloc(p->slots * sizeof *dbuf));
  if (!node || !xb || !gs || !g || !y || !tmp_ok || !dbuf) {
    rc = nomem(m);
    goto done;
  }
  if (chains) {
    for (int64_t j = 0; j < L->ndiag; j++) {
      int b = L->k[j] % L->n1;
      if (b && !node[b]) {
        if (!(node[b] = pn_ckks_ct_new(c))) rc = nomem(m);
        else rc = rotate(m, x, b, node[b]);
        if (rc) goto done;
      }
    }
    node[0] = (struct pn_ckks_ct *)x;
    for (int b = 0; b < L->n1; b++) xb[b] = node[b];
  } else {
    if ((rc = baby_tree(m, L, x, node))) goto done;
    for (int b = 0; b < L->n1; b++) xb[b] = s->node_of[b] >= 0 ? node[s->node_of[b]] : NULL;
  }
  xb[0] = (struct pn_ckks_ct *)x; /* the level and scale of the products */
  int ng = 0;
  for (int64_t j = 0; j < L->ndiag; j++)
    if (!j || L->k[j] / L->n1 != L->k[j - 1] / L->n1) gs[ng++] = j;
  gs[ng] = L->ndiag;
  if (chains) {
    /* each group rotated by its giant step on its own */
    for (int q = 0; q < ng && !rc; q++) {
      int gi = L->k[gs[q]] / L->n1;
      rc = giant_group(m, L, in->aux, gs[q], gs[q + 1], xb, ps, target, tmp, dbuf, y, g, 1);
      if (!rc && gi) rc = rotate(m, g, gi * L->n1, g);
      if (!rc) rc = add_into(m, &m->ct[in->dst], g);
    }
  } else if (!(gq = malloc((size_t)s->gnnode * sizeof *gq))) {
    rc = nomem(m);
  } else if (m->srv->giant_mode == PN_FHE_GIANT_EXT ||
             (m->srv->giant_mode == PN_FHE_GIANT_AUTO && fhe_giant_ext(p, l))) {
    rc = giant_tree_ext(m, L, in, gs, ng, gq, xb, ps, target, tmp, dbuf, y, g);
  } else if (!(h = (struct pn_ckks_ct **)calloc((size_t)s->gnnode, sizeof *h))) {
    rc = nomem(m);
  } else {
    /* the giant tree, leaves first: node k's sum (its group's, plus its children's rotated to it) is rotated by
    ** its edge and added to its parent's; node 0's is the output */
    for (int k = 0; k < s->gnnode; k++) gq[k] = -1;
    for (int q = 0; q < ng; q++) gq[s->gnode_of[q]] = q;
    for (int k = s->gnnode - 1; k >= 0 && !rc; k--) {
      if (gq[k] >= 0) {
        int q = gq[k];
        rc = giant_group(m, L, in->aux, gs[q], gs[q + 1], xb, ps, target, tmp, dbuf, y, g, 1);
        if (!rc) rc = add_into(m, &h[k], g);
      }
      if (rc || !k) break;
      int par = s->gparent[k], d = (int)((((int64_t)s->gstep[k] - s->gstep[par]) % (int64_t)p->slots +
                                           (int64_t)p->slots) % (int64_t)p->slots);
      rc = pn_ckks_rotate(m->ctx, c, m->srv->evk->gk, h[k], d, h[k]);
      m->st.rotations++, m->st.modups++;
      if (!rc) rc = add_into(m, &h[par], h[k]);
      pn_ckks_ct_free(h[k]);
      h[k] = NULL;
    }
    if (!rc) m->ct[in->dst] = h[0], h[0] = NULL;
  }
  if (!rc && L->has_bias) {
    const struct pn_ckks_pt *bp = m->srv->bias[in->aux];
    if (!bp) {
      rc = fhe_encode(m->ctx, c, L->bias, p->slots, target, l - 1, tmp[0]);
      bp = tmp[0];
    }
    if (!rc) rc = pn_ckks_add_pt(m->ctx, c, m->ct[in->dst], bp, m->ct[in->dst]);
  }
done:
  if (node)
    for (int i = 1; i < nx; i++) pn_ckks_ct_free(node[i]);
  free(node);
  free(xb);
  free(gs);
  pn_ckks_ct_free(g);
  pn_ckks_ct_free(y);
  if (h)
    for (int k = 0; k < s->gnnode; k++) pn_ckks_ct_free(h[k]);
  free(h);
  free(gq);
  return rc;
}

static int ckks_inst(struct vm *m, const struct fhe_inst *in) {
  const struct pn_fhe_plan *p = m->p;
  const struct pn_ckks_context *c = p->ckks;
  struct pn_ctx *ctx = m->ctx;
  if (in->kind == FHE_OP_LINEAR) return ckks_linear(m, in);
  struct pn_ckks_ct *y = pn_ckks_ct_new(c);
  if (!y) return nomem(m);
  const struct pn_ckks_ct *a = in->a >= 0 ? m->ct[in->a] : NULL, *b = in->b >= 0 ? m->ct[in->b] : NULL;
  const struct pn_ckks_swk *rk = m->srv->evk->rk;
  int rc;
  switch (in->kind) {
  case FHE_OP_ROT:
    rc = rotate(m, a, in->aux, y);
    break;
  case FHE_OP_ADD: rc = pn_ckks_add(ctx, c, a, b, y); break;
  case FHE_OP_SUB: rc = pn_ckks_sub(ctx, c, a, b, y); break;
  case FHE_OP_ADDC: rc = pn_ckks_add_const(ctx, c, a, in->c, y); break;
  case FHE_OP_MULC: rc = pn_ckks_mul_const_rescale_to(ctx, c, a, in->c, p->reg[in->dst].scale, y); break;
  case FHE_OP_MUL:
    rc = pn_ckks_mul_relin(ctx, c, rk, a, b, y);
    if (!rc) rc = pn_ckks_rescale(ctx, c, y, y);
    m->st.ct_muls++;
    break;
  case FHE_OP_STAGE: {
    const struct fhe_stage *s = &p->stages[in->aux];
    const double *odd[1] = {s->c};
    int nodd[1] = {s->nterms};
    struct pn_poly_report rep;
    rc = pn_ckks_poly_eval_odd_chain(ctx, c, rk, a, odd, nodd, 1, y, &rep);
    m->st.ct_muls += rep.nonscalar_muls;
    break;
  }
  case FHE_OP_BOOT:
    if (!m->srv->boot) {
      rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: this plan's bootstraps are simulated only (--boot simulate)");
      break;
    }
    rc = pn_ckks_bootstrap(ctx, m->srv->boot, a, y);
    m->st.boots++;
    break;
  default: rc = pn_err(ctx, PN_ERR_INVALID, "fhe: instruction kind %d not available", (int)in->kind);
  }
  if (rc) {
    pn_ckks_ct_free(y);
    return rc;
  }
  m->ct[in->dst] = y;
  return PN_OK;
}

/* ---- the walk ---- */

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void free_reg(struct vm *m, int r) {
  if (r == m->p->out_reg) return;
  if (m->v) {
    free(m->v[r]);
    m->v[r] = NULL;
  }
  if (m->ct) {
    pn_ckks_ct_free(m->ct[r]);
    m->ct[r] = NULL;
  }
}

static int run(struct vm *m, double *layer_seconds) {
  const struct pn_fhe_plan *p = m->p;
  double t0 = pn_now(), c0 = cpu_now();
  for (int i = 0; i < p->n_inst; i++) {
    const struct fhe_inst *in = &p->inst[i];
    double ti = pn_now(), ci = layer_seconds ? cpu_now() : 0;
    int rc = PN_OK;
    if (in->kind != FHE_OP_INPUT) rc = m->srv ? ckks_inst(m, in) : sim_inst(m, in);
    if (rc) {
      pn_err_prefix(m->ctx, "layer '%s' (%s)", p->layers[in->layer].name, p->layers[in->layer].op);
      return rc;
    }
    /* what execution produced must be what the compiler planned */
    int lv;
    double sc;
    if (m->srv) {
      lv = m->ct[in->dst]->level;
      sc = m->ct[in->dst]->scale;
    } else {
      if ((rc = fhe_inst_apply(m->ctx, p, in, &lv, &sc))) return rc;
      const double *v = m->v[in->dst];
      for (size_t s = 0; s < p->slots; s++)
        if (fabs(v[s]) > m->max_abs) m->max_abs = fabs(v[s]);
    }
    const struct fhe_reg *want = &p->reg[in->dst];
    if (lv != want->level || fabs(sc - want->scale) > 1e-9 * want->scale)
      return pn_err(m->ctx, PN_ERR_INVALID, "fhe: layer '%s' (%s), instruction %d: execution gave level %d scale 2^%.9f, "
                    "the plan says level %d scale 2^%.9f", p->layers[in->layer].name, p->layers[in->layer].op, i, lv,
                    log2(sc), want->level, log2(want->scale));
    if (layer_seconds) {
      layer_seconds[in->layer] += pn_now() - ti;
      layer_seconds[p->n_layer + in->layer] += cpu_now() - ci;
    }
    if (in->a >= 0 && p->reg[in->a].last_use == i) free_reg(m, in->a);
    if (in->b >= 0 && in->b != in->a && p->reg[in->b].last_use == i) free_reg(m, in->b);
  }
  m->st.seconds = pn_now() - t0;
  m->st.cpu_seconds = cpu_now() - c0;
  return PN_OK;
}

int pn_fhe_simulate(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const float *x, double *y,
                    struct pn_fhe_sim_stats *st) {
  struct vm m = {.ctx = ctx, .p = p};
  m.v = calloc((size_t)p->n_reg, sizeof *m.v);
  double *in = calloc(p->slots, sizeof *in);
  int rc = PN_OK;
  if (!m.v || !in) {
    free(m.v);
    free(in);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  }
  const struct fhe_layout *li = &p->layouts[p->in_layout], *lo = &p->layouts[p->out_layout];
  fhe_scatter_input(in, li->slot, li->n, li->rep, li->rep_stride, p->in_factor, x);
  m.v[p->in_reg] = in;
  rc = run(&m, NULL);
  if (!rc) {
    const double *v = m.v[p->out_reg];
    for (int64_t o = 0; o < lo->n; o++) y[o] = v[lo->slot[o]] / p->out_factor;
    if (st) st->max_abs = m.max_abs, st->boot_max_abs = m.boot_max_abs;
  }
  for (int r = 0; r < p->n_reg; r++) free(m.v[r]);
  free(m.v);
  return rc;
}

/* ---- server ---- */

size_t pn_fhe_server_cache_bytes(const struct pn_fhe_server *s) { return s->cache_bytes; }

size_t pn_fhe_server_pool_bytes(const struct pn_fhe_server *s, struct pn_ckks_pool_info *info) {
  if (info) pn_ckks_ct_pool_get(s->p->ckks, info);
  return s->pool_bytes;
}

void pn_fhe_server_set_rot_chains(struct pn_fhe_server *s, int chains) { s->rot_chains = chains != 0; }
void pn_fhe_server_set_giant_mode(struct pn_fhe_server *s, int mode) {
  s->giant_mode = mode == PN_FHE_GIANT_EAGER || mode == PN_FHE_GIANT_EXT ? mode : PN_FHE_GIANT_AUTO;
}

void pn_fhe_server_free(struct pn_fhe_server *s) {
  if (!s) return;
  const struct pn_fhe_plan *p = s->p;
  for (int i = 0; i < p->n_linear; i++) {
    if (s->pt && s->pt[i]) {
      for (int64_t j = 0; j < p->linears[i].ndiag; j++) pn_ckks_pt_free(s->pt[i][j]);
      free(s->pt[i]);
    }
    if (s->co && s->co[i]) {
      for (int64_t j = 0; j < p->linears[i].ndiag; j++) free(s->co[i][j]);
      free(s->co[i]);
    }
    if (s->bias) pn_ckks_pt_free(s->bias[i]);
  }
  free(s->pt);
  free(s->co);
  free(s->bias);
  free(s->layer_seconds);
  for (int k = 0; k < FHE_TMP_PT; k++) pn_ckks_pt_free(s->tmp[k]);
  free(s->dbuf);
  pn_ckks_boot_free(s->boot);
  free(s);
}

static int check_keys(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const struct pn_fhe_evk *evk) {
  int rc = fhe_evk_check(ctx, p, evk);
  if (!rc && p->real_boot && !evk->bk)
    rc = pn_err(ctx, PN_ERR_MISMATCH, "fhe: the evaluation keys lack the bootstrapping keys the model needs");
  return rc;
}

int pn_fhe_server_set_keys(struct pn_ctx *ctx, struct pn_fhe_server *s, const struct pn_fhe_evk *evk) {
  const struct pn_fhe_plan *p = s->p;
  if (!evk) { /* the bootstrapping context keeps pointers to the old keys, unused until the next keys replace them */
    s->evk = NULL;
    return PN_OK;
  }
  int rc = check_keys(ctx, p, evk);
  if (rc || !p->real_boot) {
    if (!rc) s->evk = evk;
    return rc;
  }
  if (s->boot) { /* its plaintexts depend on no key: kept */
    if (!(rc = pn_ckks_boot_set_keys(ctx, s->boot, evk->rk, evk->bk))) s->evk = evk;
    return rc;
  }
  /* the bootstrapping context: its chain must give the plan's levels */
  struct pn_ckks_boot_info bi;
  if (!(rc = pn_ckks_boot_new(ctx, p->ckks, &p->bp, evk->rk, evk->bk, &s->boot))) {
    pn_ckks_boot_get_info(s->boot, &bi);
    if (bi.input_level != p->boot_in || bi.output_level != p->boot_out || bi.slots != p->slots)
      rc = pn_err(ctx, PN_ERR_INVALID, "fhe: bootstrapping takes level %d -> %d on %zu slots, the plan says %d -> %d "
                  "on %zu", bi.input_level, bi.output_level, bi.slots, p->boot_in, p->boot_out, p->slots);
  }
  if (rc) {
    pn_ckks_boot_free(s->boot);
    s->boot = NULL;
    return rc;
  }
  s->evk = evk;
  return PN_OK;
}

/* The ciphertext pool of the plan's context sized for the evaluation's peak: a linear layer holds its baby
** rotations, its giant tree's sums, two work ciphertexts and its output, besides the live registers (bounded by
** their count). Ciphertexts beyond the pool's bound are freed and their successors allocated afresh, which costs
** every page's first touch again (resnet-s: 5.09M minor faults with the context's default of 26 buffers). The
** pool never holds more buffers than were in use at once: the bound costs memory only between peaks. Only
** raised (another user of the context keeps its room). Returns the bound in bytes. */
static size_t fhe_pool_reserve(const struct pn_fhe_plan *p) {
  int need = 0, live = 1; /* live: registers held while instruction i runs (the input from the start) */
  for (int i = 0; i < p->n_inst; i++) {
    const struct fhe_inst *in = &p->inst[i];
    int k = 1; /* the output */
    if (in->kind == FHE_OP_LINEAR) {
      const struct fhe_linear *L = lin_of(p, in->aux);
      const struct fhe_rot_sched *rs = L->sched;
      int used = 0; /* baby steps some diagonal reads: the chains' nodes */
      for (int b = 0; rs && b < L->n1; b++) used += rs->node_of[b] >= 0;
      /* the giant tree's sums: one buffer per node, or (giant_tree_ext) two per node with children */
      int gk = rs ? (rs->gnnode > 2 * (fhe_giant_inner(rs) + 1) ? rs->gnnode : 2 * (fhe_giant_inner(rs) + 1)) : 0;
      k = (rs ? (rs->nnode > used ? rs->nnode : used) + gk : L->n1) + 3;
    } else if (in->kind == FHE_OP_STAGE) {
      k = 32; /* the polynomial's power basis and partial sums (poly_eval.c; a PAF stage has degree <= 31) */
    } else if (in->kind == FHE_OP_BOOT) {
      k = 72; /* a DFT factor's babies (at most 32, boot_dft.c) and giant sums, the modular reduction's few */
    }
    if (live + k > need) need = live + k;
    live++; /* its output; the registers it reads for the last time are freed after it (as eval frees them) */
    live -= (in->a >= 0 && p->reg[in->a].last_use == i) + (in->b >= 0 && in->b != in->a && p->reg[in->b].last_use == i);
  }
  struct pn_ckks_pool_info pi;
  pn_ckks_ct_pool_get(p->ckks, &pi);
  if (need <= pi.keep) return (size_t)pi.keep * pi.buffer_bytes;
  return pn_ckks_ct_pool_set(p->ckks, (size_t)need * pi.buffer_bytes);
}

int pn_fhe_server_new(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const struct pn_fhe_evk *evk, size_t cache_mb,
                      struct pn_fhe_server **out) {
  *out = NULL;
  int rc = evk ? check_keys(ctx, p, evk) : PN_OK; /* before the weights: refused keys cost no encoding */
  if (rc) return rc;
  struct pn_fhe_server *s = calloc(1, sizeof *s);
  if (!s) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  s->p = p;
  s->pt = calloc((size_t)p->n_linear + 1, sizeof *s->pt);
  s->co = calloc((size_t)p->n_linear + 1, sizeof *s->co);
  s->bias = calloc((size_t)p->n_linear + 1, sizeof *s->bias);
  s->layer_seconds = calloc(2 * (size_t)p->n_layer + 1, sizeof *s->layer_seconds);
  double *dbuf = malloc(p->slots * sizeof *dbuf);
  if (!s->pt || !s->co || !s->bias || !s->layer_seconds || !dbuf) {
    free(dbuf);
    pn_fhe_server_free(s);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  }
  /* The weights' plaintexts, in the budget: first every diagonal's integer coefficients (N words; made into a
  ** plaintext, level + 1 limbs, with level + 1 NTTs and no FFT at each use), then, in what those leave, the NTT
  ** form of whole layers that fit (nothing to do at each use), which replaces their coefficients. */
  const size_t budget = cache_mb << 20, n = pn_ckks_n(p->ckks), cw = n * sizeof(int64_t);
  size_t coef_all = 0, room = 0, used = 0;
  for (int pass = 0; pass < 3 && !rc; pass++) {
    if (pass == 1) room = budget > coef_all ? budget - coef_all : 0;
    /* the LINEAR instructions give each layer's input level and scale */
    for (int i = 0; i < p->n_inst && !rc; i++) {
      const struct fhe_inst *in = &p->inst[i];
      if (in->kind != FHE_OP_LINEAR) continue;
      struct fhe_linear *L = lin_of(p, in->aux);
      const struct fhe_reg *x = &p->reg[in->a], *y = &p->reg[in->dst];
      const int l = x->level, li = in->aux;
      const double ps = y->scale * (double)pn_ckks_prime(p->ckks, l) / x->scale;
      const size_t one = (size_t)(l + 1) * n * sizeof(uint64_t);
      if (pass == 0) {
        if ((rc = fhe_linear_build(ctx, p, L))) break;
        coef_all += cw * (size_t)L->ndiag;
        if (L->has_bias) {
          if (!(s->bias[li] = pn_ckks_pt_new(p->ckks))) rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
          else rc = fhe_encode(ctx, p->ckks, L->bias, p->slots, y->scale, l - 1, s->bias[li]);
        }
        continue;
      }
      if (pass == 1 ? used + one * (size_t)L->ndiag > room
                    : s->pt[li] || s->cache_bytes + cw * (size_t)L->ndiag > budget)
        continue;
      if (pass == 1 ? !(s->pt[li] = calloc((size_t)L->ndiag, sizeof **s->pt))
                    : !(s->co[li] = calloc((size_t)L->ndiag, sizeof **s->co))) {
        rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
        break;
      }
      for (int64_t j = 0; j < L->ndiag && !rc; j++) {
        for (size_t t = 0; t < p->slots; t++) dbuf[t] = L->diag[j][t];
        if (pass == 1) {
          if (!(s->pt[li][j] = pn_ckks_pt_new(p->ckks)))
            rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory encoding weights");
          else
            rc = fhe_encode(ctx, p->ckks, dbuf, p->slots, ps, l, s->pt[li][j]);
          s->cache_bytes += one, used += one;
        } else {
          if (!(s->co[li][j] = malloc(cw)))
            rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory encoding weights");
          else
            rc = fhe_encode_coeffs(ctx, p->ckks, dbuf, p->slots, ps, s->co[li][j]);
          s->cache_bytes += cw;
        }
      }
    }
  }
  free(dbuf);
  if (!rc) s->pool_bytes = fhe_pool_reserve(p);
  if (!rc && evk) rc = pn_fhe_server_set_keys(ctx, s, evk);
  if (rc) {
    pn_fhe_server_free(s);
    return rc;
  }
  *out = s;
  return PN_OK;
}

int pn_fhe_server_eval(struct pn_ctx *ctx, struct pn_fhe_server *s, const struct pn_ckks_ct *in,
                       struct pn_ckks_ct *out, struct pn_fhe_run_stats *st) {
  const struct pn_fhe_plan *p = s->p;
  const struct fhe_reg *r0 = &p->reg[p->in_reg];
  if (!s->evk) return pn_err(ctx, PN_ERR_INVALID, "fhe: the server holds no evaluation keys (pn_fhe_server_set_keys)");
  if (in->n != pn_ckks_n(p->ckks) || !pn_fhe_ct_fp_ok(p, in))
    return pn_err(ctx, PN_ERR_MISMATCH, "fhe: the query ciphertext was made for other parameters");
  if (in->size != 2 || in->level != r0->level || fabs(in->scale - r0->scale) > 1e-9 * r0->scale)
    return pn_err(ctx, PN_ERR_MISMATCH, "fhe: the query ciphertext is at level %d scale 2^%.3f; the model takes level "
                  "%d scale 2^%.3f", in->level, log2(in->scale), r0->level, log2(r0->scale));
  struct vm m = {.ctx = ctx, .p = p, .srv = s};
  m.ct = calloc((size_t)p->n_reg, sizeof *m.ct);
  if (!m.ct) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  memset(s->layer_seconds, 0, 2 * (size_t)p->n_layer * sizeof *s->layer_seconds);
  struct pn_ckks_pool_info pi0, pi1;
  pn_ckks_ct_pool_get(p->ckks, &pi0);
  int rc = (m.ct[p->in_reg] = pn_ckks_ct_new(p->ckks)) ? pn_ckks_ct_copy(ctx, in, m.ct[p->in_reg])
                                                      : pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  if (!rc) rc = run(&m, s->layer_seconds);
  if (!rc) rc = pn_ckks_ct_copy(ctx, m.ct[p->out_reg], out);
  for (int r = 0; r < p->n_reg; r++) pn_ckks_ct_free(m.ct[r]);
  free(m.ct);
  pn_ckks_ct_pool_get(p->ckks, &pi1);
  if (!rc && st) {
    *st = m.st;
    st->ct_fresh = pi1.fresh - pi0.fresh;
    st->n_layer = p->n_layer;
    st->layer_seconds = s->layer_seconds;
    st->layer_cpu_seconds = s->layer_seconds + p->n_layer;
  }
  return rc;
}
const struct pn_fhe_plan *fhe_server_plan(const struct pn_fhe_server *s) { return s->p; }
