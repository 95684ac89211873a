/* compile.c - from an ONNX PAF model to a CKKS program: lowering, factors, parameters, levels and scales.
**
** Lowering walks the nodes in order. Linear nodes accumulate into a pending map (composed while a
** value has one reader and the composition does not cost more than it saves, a level counting for a
** fixed number of plaintext products); a pending map becomes one LINEAR instruction when something
** non-linear reads it. PafRelu is x (h + h P(g x)), PafMaxPool a tree of max(a, b) = b + relu(a - b)
** over rotated copies (pads: masked leaves), Add is an addition of registers.
**
** Factors: a register holds `factor` times the model's value. A PAF wants its sign input at 1/s (its
** static scale), so the linear layer before it absorbs 1/s into its weights; the ReLU's gain and the
** max's 1/2 go into the last stage's coefficients (h), any remaining 1/(f s) into the first stage's (g):
** no level is spent on scaling. Factors are decided backwards (what each reader wants) before lowering.
**
** Levels: each instruction consumes a known number of levels; the longest path fixes the depth and so
** the parameters (the smallest ring within the 128-bit table that holds depth primes of scale_bits plus
** a 60-bit base prime and the special primes). Scales are then computed exactly in program order with
** the chosen primes: a LINEAR or MULC lands on a target scale (the default scale, or that of the register
** it will be added to), everything else follows from its inputs, so every sum adds equal scales. */
#include <assert.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/poly.h"
#include "fhe/fhe_impl.h"
#include "graph/ops.h"
#include "graph/passes.h"
#include "util/arena.h"
#include "util/status.h"
#include "util/strmap.h"

/* ---- the FHE compiler's op table (one row per enum pn_op, as every backend has) ---- */
enum fhe_kind { K_NONE = 0, K_LAYOUT, K_LINEAR, K_ADD, K_PAF_RELU, K_PAF_MAXPOOL };
static const uint8_t fhe_ops[PN_OP_COUNT] = {
  [PN_OP_CONV] = K_LINEAR, [PN_OP_GEMM] = K_LINEAR, [PN_OP_MATMUL] = K_LINEAR,
  [PN_OP_BATCH_NORM] = K_LINEAR, [PN_OP_AVERAGE_POOL] = K_LINEAR, [PN_OP_GLOBAL_AVERAGE_POOL] = K_LINEAR,
  [PN_OP_MUL] = K_LINEAR, [PN_OP_SUB] = K_LINEAR, [PN_OP_ADD] = K_ADD,
  [PN_OP_FLATTEN] = K_LAYOUT, [PN_OP_RESHAPE] = K_LAYOUT, [PN_OP_IDENTITY] = K_LAYOUT,
  [PN_OP_DROPOUT] = K_LAYOUT, [PN_OP_SQUEEZE] = K_LAYOUT, [PN_OP_UNSQUEEZE] = K_LAYOUT,
  [PN_OP_PAF_RELU] = K_PAF_RELU, [PN_OP_PAF_MAX_POOL] = K_PAF_MAXPOOL,
};
static_assert(sizeof fhe_ops / sizeof *fhe_ops == PN_OP_COUNT, "fhe_ops out of date");

bool pn_fhe_supports(enum pn_op op) { return (unsigned)op < PN_OP_COUNT && fhe_ops[op] != K_NONE; }

/* Composition: a level is worth this many plaintext products, a rotation this many. */
#define COST_LEVEL 400.0
#define COST_ROT 20.0

/* ---- growing arrays of the plan ---- */
#define GROW(p, arr, n, cap)                                                         \
  ((p)->n < (p)->cap ? 0                                                           \
   : ((p)->cap = (p)->cap ? 2 * (p)->cap : 16,                                     \
      ((p)->arr = realloc_safe((p)->arr, (size_t)(p)->cap * sizeof *(p)->arr)) == NULL))

static void *realloc_safe(void *p, size_t n) {
  void *q = realloc(p, n);
  if (!q) free(p);
  return q;
}

/* ---- values during lowering ---- */
enum vstate { V_NONE, V_REG, V_PENDING };
struct val {
  const char *name;
  enum vstate state;
  int ndim;
  int64_t dims[PN_MAX_DIMS];
  int readers;         /* nodes reading it (+1 if a graph output) */
  double want;         /* factor its readers want (0: any) */
  /* V_REG */
  int reg, layout;
  double factor;
  int scale_default;   /* its scale is exactly the default one (LINEAR/MULC to the default target) */
  /* V_PENDING: m applied to value src */
  struct fhe_lmap *m;
  int src;
  char *nodes;         /* names of the composed nodes (heap) */
};

/* The input's copies (replicate_input): none, one extent apart, or moved (move_copies). */
enum copies {
  COPIES_NONE, COPIES_EXTENT = PN_FHE_COPIES_EXTENT, COPIES_CORNER = PN_FHE_COPIES_CORNER, COPIES_POW2 = PN_FHE_COPIES_POW2,
  COPIES_CORNER_POW2 = PN_FHE_COPIES_CORNER_POW2, COPIES_COUNT
};

struct lower {
  struct pn_ctx *ctx;
  struct pn_fhe_plan *p;
  struct pn_graph *g;
  int64_t opset;
  struct val *v;
  int nv;
  struct pn_strmap map;
  int64_t max_extent;
  int xi, in_layer;    /* the input's value and layer */
  int copies;          /* enum copies: how the input's copies are placed (pn_fhe_compile tries two) */
  int moved;           /* move_copies moved them */
  int *used;           /* levels used per register (from the top) */
  int cap_used;
};

static int lower_err_nomem(struct lower *L) { return pn_err(L->ctx, PN_ERR_NOMEM, "fhe: out of memory compiling"); }

static int val_find(struct lower *L, const char *name) { return pn_strmap_get(&L->map, name, -1); }

static int val_add(struct lower *L, const char *name) {
  struct val *nv = realloc(L->v, (size_t)(L->nv + 1) * sizeof *nv);
  if (!nv) return -1;
  L->v = nv;
  memset(&L->v[L->nv], 0, sizeof *L->v);
  L->v[L->nv].name = name;
  L->v[L->nv].reg = -1;
  L->v[L->nv].src = -1;
  if (pn_strmap_put(&L->map, name, L->nv)) return -1;
  return L->nv++;
}

static int new_layer(struct lower *L, const char *name, const char *op) {
  struct pn_fhe_plan *p = L->p;
  if (GROW(p, layers, n_layer, cap_layer)) return -1;
  struct fhe_layer *ly = &p->layers[p->n_layer];
  memset(ly, 0, sizeof *ly);
  ly->name = pn_arena_strdup(p->arena, name);
  ly->op = pn_arena_strdup(p->arena, op);
  ly->level_in = ly->level_out = -1;
  return p->n_layer++;
}

static int new_reg(struct lower *L, int layout, double factor, int used) {
  struct pn_fhe_plan *p = L->p;
  if (GROW(p, reg, n_reg, cap_reg)) return -1;
  if (p->n_reg >= L->cap_used) {
    L->cap_used = L->cap_used ? 2 * L->cap_used : 64;
    int *u = realloc(L->used, (size_t)L->cap_used * sizeof *u);
    if (!u) return -1;
    L->used = u;
  }
  struct fhe_reg *r = &p->reg[p->n_reg];
  memset(r, 0, sizeof *r);
  r->layout = layout;
  r->factor = factor;
  r->last_use = -1;
  L->used[p->n_reg] = used;
  return p->n_reg++;
}

static int max_i(int a, int b) { return a > b ? a : b; }

/* Append an instruction; its destination register is made here. Returns the register or -1. */
static int emit(struct lower *L, enum fhe_opk kind, int a, int b, int aux, double c, int layer, int layout,
                double factor, int use) {
  struct pn_fhe_plan *p = L->p;
  if (GROW(p, inst, n_inst, cap_inst)) return -1;
  int u = (a >= 0 ? L->used[a] : 0);
  if (b >= 0) u = max_i(u, L->used[b]);
  int dst = new_reg(L, layout, factor, u + use);
  if (dst < 0) return -1;
  struct fhe_inst *in = &p->inst[p->n_inst++];
  memset(in, 0, sizeof *in);
  in->kind = kind;
  in->dst = dst;
  in->a = a;
  in->b = b;
  in->aux = aux;
  in->c = c;
  in->tmode = FHE_TARGET_DEFAULT;
  in->tref = -1;
  in->layer = layer;
  in->use = use;
  return dst;
}

static int add_layout(struct lower *L, const struct fhe_layout *l) {
  struct pn_fhe_plan *p = L->p;
  if (GROW(p, layouts, n_layout, cap_layout)) return -1;
  p->layouts[p->n_layout] = *l;
  return p->n_layout++;
}

static void shape_chw(const struct val *v, int64_t *C, int64_t *H, int64_t *W) {
  int64_t n = 1;
  for (int i = 0; i < v->ndim; i++) n *= v->dims[i];
  if (v->ndim == 4) *C = v->dims[1], *H = v->dims[2], *W = v->dims[3];
  else *C = n, *H = 1, *W = 1;
}

static double lin_cost(int64_t ndiag) { return (double)ndiag + COST_ROT * 2.0 * sqrt((double)ndiag); }

static int ceil_log2_64(int64_t v);

/* The input in copies `in` (stride S, from slot 0) and m's output `out` (blocks of S), moved for L->copies:
** COPIES_CORNER: with padding, outputs read elements before their own slot (negative diagonals: long chains of
** power-of-two keys); moving the input by the most negative diagonal -d within each copy (the client encodes a
** margin of d) adds d to every diagonal: all >= 0, as many. COPIES_POW2 / COPIES_CORNER_POW2: the copies (and the
** output's blocks) a power of two apart, so that the channel blocks of the layers after it are (a channel offset a
** multiple of it: few power-of-two keys; a ring holding a power of two of blocks: offsets that fold together).
** Each output block t moves to t S2 (S2 the new stride): every output stays in the block of its copy; the move is
** kept only if m still has nd diagonals (its count between in and out). *shift = d;
** 0 when the move does not apply or does not fit the ring the program already needs. */
static int move_copies(struct lower *L, const struct fhe_lmap *m, struct fhe_layout *in, struct fhe_layout *out,
                       int64_t nd, int64_t C, int64_t H, int64_t W, int64_t *shift) {
  struct pn_fhe_plan *p = L->p;
  const int64_t S = in->rep_stride;
  int64_t dmin = 0;
  *shift = 0;
  for (int64_t o = 0; o < m->n_out; o++) {
    int64_t so = out->slot[o], si = fhe_layout_copy(in, so) - so;
    if (so / S >= in->rep) return PN_OK;
    for (int64_t e = m->rowptr[o]; e < m->rowptr[o + 1]; e++)
      if (in->slot[m->col[e]] + si < dmin) dmin = in->slot[m->col[e]] + si;
  }
  const int corner = L->copies == COPIES_CORNER || L->copies == COPIES_CORNER_POW2;
  const int64_t d = corner ? -dmin : 0;
  const int64_t S2 = L->copies == COPIES_CORNER ? S + d : (int64_t)1 << ceil_log2_64(S + d);
  if (S2 == S || (int64_t)(in->rep - 1) * S2 + in->extent + d > L->max_extent) return PN_OK;
  struct fhe_layout i2 = *in, o2 = *out;
  i2.slot = pn_arena_alloc(p->arena, (size_t)in->n * sizeof *i2.slot + 1);
  o2.slot = pn_arena_alloc(p->arena, (size_t)out->n * sizeof *o2.slot + 1);
  if (!i2.slot || !o2.slot) return lower_err_nomem(L);
  for (int64_t i = 0; i < in->n; i++) i2.slot[i] = (int32_t)(in->slot[i] + d);
  i2.extent = in->extent + d;
  i2.rep_stride = S2;
  fhe_layout_detect_grid(p->arena, &i2, in->grid ? in->C : in->n, in->grid ? in->H : 1, in->grid ? in->W : 1);
  o2.extent = 0;
  for (int64_t o = 0; o < out->n; o++) {
    int64_t s = out->slot[o] / S * S2 + out->slot[o] % S;
    o2.slot[o] = (int32_t)s;
    if (s + 1 > o2.extent) o2.extent = s + 1;
  }
  fhe_layout_detect_grid(p->arena, &o2, C, H, W);
  int64_t top = fhe_layout_top(&i2) > o2.extent ? fhe_layout_top(&i2) : o2.extent;
  int64_t top0 = fhe_layout_top(in) > out->extent ? fhe_layout_top(in) : out->extent;
  if (ceil_log2_64(top) > ceil_log2_64(top0) || fhe_layout_count_diags(m, &i2, &o2) != nd)
    return PN_OK;
  *in = i2;
  *out = o2;
  *shift = d;
  return PN_OK;
}

/* The program's input (layout li), read by the linear m only: copies of it one extent apart, as many as m's
** output layout has blocks of that extent, when they cut m's diagonals (each output block then reads the copy
** in it; the client encodes the copies, so they cost nothing) and do not need a larger ring than the output.
** On success the input layout gets the copies and *lo, *nd, kind m's output layout with them. */
static int replicate_input(struct lower *L, const struct fhe_lmap *m, int li, int64_t C, int64_t H, int64_t W,
                           struct fhe_layout *lo, int64_t *nd, char *kind, size_t kind_size) {
  struct pn_fhe_plan *p = L->p;
  struct fhe_layout r = p->layouts[li];
  const int64_t S = r.extent, R = S > 0 ? L->max_extent / S : 0;
  if (R < 2 || R > INT32_MAX) return PN_OK;
  r.rep = (int)R;
  r.rep_stride = S;
  struct fhe_layout l2;
  int64_t d2;
  char k2[32];
  struct pn_ctx sub = {0};
  if (fhe_layout_choose(&sub, p->arena, m, &r, C, H, W, L->max_extent, &l2, &d2, k2, sizeof k2) || d2 >= *nd)
    return PN_OK;
  int64_t rep = (l2.extent + S - 1) / S; /* copies beyond the output's blocks are read by no output */
  if (rep < 2 || ceil_log2_64(rep * S) > ceil_log2_64(l2.extent > lo->extent ? l2.extent : lo->extent)) return PN_OK;
  r.rep = (int)rep;
  if (fhe_layout_count_diags(m, &r, &l2) != d2) return PN_OK; /* fewer copies read as many (never otherwise) */
  int64_t shift = 0;
  int rc = L->copies > COPIES_EXTENT ? move_copies(L, m, &r, &l2, d2, C, H, W, &shift) : PN_OK;
  if (rc) return rc;
  L->moved = shift || r.rep_stride != S;
  p->layouts[li] = r;
  *lo = l2;
  *nd = d2;
  snprintf(kind, kind_size, "%s", k2);
  struct fhe_layer *ly = &p->layers[L->in_layer];
  char at[24] = "";
  if (shift) snprintf(at, sizeof at, "+%lld", (long long)shift);
  snprintf(ly->packing, sizeof ly->packing, "dense%s, %lld slots x %d @%lld", at, (long long)r.n, r.rep,
           (long long)r.rep_stride);
  return PN_OK;
}

/* Turn a pending value into a LINEAR instruction: choose its output layout, factor and scale target. */
static int materialize(struct lower *L, int vi, double want, int tref) {
  struct val *v = &L->v[vi];
  if (v->state == V_REG) return PN_OK;
  struct pn_fhe_plan *p = L->p;
  struct val *s = &L->v[v->src];
  int64_t C, H, W, nd;
  shape_chw(v, &C, &H, &W);
  struct fhe_layout lo;
  char kind[32];
  int rc = fhe_layout_choose(L->ctx, p->arena, v->m, &p->layouts[s->layout], C, H, W, L->max_extent, &lo, &nd, kind,
                             sizeof kind);
  if (!rc && v->src == L->xi && s->readers == 1 && p->layouts[s->layout].rep <= 1 && L->copies != COPIES_NONE)
    rc = replicate_input(L, v->m, s->layout, C, H, W, &lo, &nd, kind, sizeof kind);
  if (rc) {
    pn_err_prefix(L->ctx, "node %s", v->nodes);
    return rc;
  }
  int li = add_layout(L, &lo);
  if (li < 0 || GROW(p, linears, n_linear, cap_linear)) return lower_err_nomem(L);
  double f = want > 0 ? want : 1.0;
  /* fold the factors into the map: y' = f (A x / f_src + b) */
  struct fhe_lmap *m = v->m;
  double wmul = f / s->factor;
  if (wmul != 1.0)
    for (int64_t e = 0; e < m->nnz; e++) m->val[e] *= wmul;
  if (f != 1.0)
    for (int64_t o = 0; o < m->n_out; o++) m->bias[o] *= f;
  struct fhe_linear *lin = &p->linears[p->n_linear];
  memset(lin, 0, sizeof *lin);
  lin->m = m;
  lin->in_layout = s->layout;
  lin->out_layout = li;
  lin->ndiag = nd;
  int layer = new_layer(L, v->nodes, m->what);
  if (layer < 0) return lower_err_nomem(L);
  snprintf(lin->kind, sizeof lin->kind, "%s", kind); /* the layer's packing text is written once the plan's
                                                      ** diagonals are indexed */
  int r = emit(L, FHE_OP_LINEAR, s->reg, -1, p->n_linear, 0, layer, li, f, 1);
  if (r < 0) return lower_err_nomem(L);
  p->n_linear++;
  if (tref >= 0) {
    p->inst[p->n_inst - 1].tmode = FHE_TARGET_REG;
    p->inst[p->n_inst - 1].tref = tref;
  }
  v->m = NULL;
  v->state = V_REG;
  v->reg = r;
  v->layout = li;
  v->factor = f;
  v->scale_default = tref < 0;
  return PN_OK;
}

/* Bring register value vi to factor f and/or the scale of register tref (MULC, one level). */
static int refactor(struct lower *L, int vi, double f, int tref, int layer) {
  struct val *v = &L->v[vi];
  int r = emit(L, FHE_OP_MULC, v->reg, -1, 0, f / v->factor, layer, v->layout, f, 1);
  if (r < 0) return lower_err_nomem(L);
  struct fhe_inst *in = &L->p->inst[L->p->n_inst - 1];
  if (tref >= 0) {
    in->tmode = FHE_TARGET_REG;
    in->tref = tref;
  }
  v->reg = r;
  v->factor = f;
  v->scale_default = tref < 0;
  return PN_OK;
}

/* ---- PAF lowering ---- */

struct paf {
  struct pn_paf_node pn;
  int nst;
  int terms[PN_PAF_MAX_STAGES];
  double c[PN_PAF_MAX_STAGES][PN_PAF_MAX_TERMS];
  double s;            /* static scale */
};

static int paf_parse(struct lower *L, const struct pn_node *n, struct paf *out) {
  int rc = pn_paf_node_parse(L->ctx, L->g, n, &out->pn);
  if (rc) return rc;
  if (!out->pn.scale)
    return pn_err(L->ctx, PN_ERR_UNSUPPORTED, "fhe: node '%s' (%s): dynamic scale (max |x| of the tensor) cannot "
                  "be computed on ciphertexts; give it a static scale (privnn paf approximate, technique ss)",
                  pn_node_label(n), n->op_type);
  const struct pn_paf_form_def *d = pn_paf_form_def(out->pn.form);
  out->nst = d->n_stages;
  const float *c = out->pn.coeffs->data;
  for (int st = 0, o = 0; st < d->n_stages; o += d->terms[st], st++) {
    out->terms[st] = d->terms[st];
    for (int j = 0; j < d->terms[st]; j++) out->c[st][j] = c[o + j];
  }
  /* the kernels compute r = 1/s in float */
  out->s = 1.0 / (double)(1.0f / ((const float *)out->pn.scale->data)[0]);
  return PN_OK;
}

static int stage_depth(const double *c, int nterms) {
  if (nterms <= 4) {
    int d = 0;
    while ((1 << d) < 2 * nterms) d++;
    return d;
  }
  double full[2 * PN_PAF_MAX_TERMS];
  memset(full, 0, sizeof full);
  for (int j = 0; j < nterms; j++) full[2 * j + 1] = c[j];
  return pn_ckks_poly_depth(full, 2 * nterms - 1);
}

static int add_stage(struct lower *L, const double *c, int nterms, double gin, double hout) {
  struct pn_fhe_plan *p = L->p;
  if (GROW(p, stages, n_stage, cap_stage)) return -1;
  struct fhe_stage *s = &p->stages[p->n_stage];
  memset(s, 0, sizeof *s); /* the whole coefficient array is hashed */
  s->nterms = nterms;
  for (int j = 0; j < nterms; j++) s->c[j] = c[j] * pow(gin, 2 * j + 1) * hout;
  s->depth = stage_depth(s->c, nterms);
  return p->n_stage++;
}

/* q = h + h P(g x) over register x: the chain with g folded into stage 0 and h into the last. */
static int emit_sign(struct lower *L, const struct paf *pf, int x, double g, double h, int layer, int layout) {
  int r = x;
  for (int st = 0; st < pf->nst; st++) {
    int si = add_stage(L, pf->c[st], pf->terms[st], st == 0 ? g : 1.0, st == pf->nst - 1 ? h : 1.0);
    if (si < 0) return -1;
    r = emit(L, FHE_OP_STAGE, r, -1, si, 0, layer, layout, 0, L->p->stages[si].depth);
    if (r < 0) return -1;
  }
  return emit(L, FHE_OP_ADDC, r, -1, 0, h, layer, layout, 0, 0);
}

static int lower_relu(struct lower *L, const struct pn_node *n, struct val *x, struct val *y) {
  struct paf pf;
  int rc = paf_parse(L, n, &pf);
  if (rc) return rc;
  char op[48];
  snprintf(op, sizeof op, "PafRelu %s", pn_paf_form_name(pf.pn.form));
  int layer = new_layer(L, pn_node_label(n), op);
  if (layer < 0) return lower_err_nomem(L);
  double f = x->factor, F = y->want > 0 ? y->want : 1.0;
  /* y = gain (X + X P(X/s)); the register holds f X: F y = ct (h + h P(g ct)) */
  double g = 1.0 / (f * pf.s), h = F * pf.pn.gain / f;
  int q = emit_sign(L, &pf, x->reg, g, h, layer, x->layout);
  int r = q < 0 ? -1 : emit(L, FHE_OP_MUL, x->reg, q, 0, 0, layer, x->layout, F, 1);
  if (r < 0) return lower_err_nomem(L);
  snprintf(L->p->layers[layer].packing, sizeof L->p->layers[layer].packing, "in place, s=%g g=%.4g h=%.4g", pf.s, g, h);
  y->state = V_REG;
  y->reg = r;
  y->layout = x->layout;
  y->factor = F;
  return PN_OK;
}

/* max(A[p], B[p]) for registers of equal factor f, as F max: b' F/f + d (h + h P(g d)), d = a - b. */
static int emit_max(struct lower *L, const struct paf *pf, int a, int b, double f, double F, int layer, int layout) {
  int d = emit(L, FHE_OP_SUB, a, b, 0, 0, layer, layout, f, 0);
  if (d < 0) return -1;
  int q = emit_sign(L, pf, d, 1.0 / (f * pf->s), F / (2 * f), layer, layout);
  int prod = q < 0 ? -1 : emit(L, FHE_OP_MUL, d, q, 0, 0, layer, layout, F, 1);
  if (prod < 0) return -1;
  int t = emit(L, FHE_OP_MULC, b, -1, 0, F / f, layer, layout, F, 1);
  if (t < 0) return -1;
  L->p->inst[L->p->n_inst - 1].tmode = FHE_TARGET_REG;
  L->p->inst[L->p->n_inst - 1].tref = prod;
  return emit(L, FHE_OP_ADD, t, prod, 0, 0, layer, layout, F, 0);
}

struct node_ref {
  int reg;
  int64_t off;         /* the node's value for output slot p sits at slot p + off */
  int tier;            /* tree level that made it (leaves 0): equal tiers have equal scales */
};

static int lower_maxpool(struct lower *L, const struct pn_node *n, struct val *x, struct val *y) {
  struct paf pf;
  int rc = paf_parse(L, n, &pf);
  if (rc) return rc;
  struct pn_fhe_plan *p = L->p;
  const struct fhe_layout *in = &p->layouts[x->layout];
  if (!in->grid)
    return pn_err(L->ctx, PN_ERR_UNSUPPORTED, "fhe: node '%s' (PafMaxPool): its input is not laid out as a grid",
                  pn_node_label(n));
  int64_t kh = pf.pn.k[0], kw = pf.pn.k[1], sh = pf.pn.s[0], sw = pf.pn.s[1], pt = pf.pn.p[0], pl = pf.pn.p[1];
  int64_t C, OH, OW;
  shape_chw(y, &C, &OH, &OW);
  int pads = pf.pn.p[0] || pf.pn.p[1] || pf.pn.p[2] || pf.pn.p[3];
  char op[48];
  snprintf(op, sizeof op, "PafMaxPool %s %lldx%lld", pn_paf_form_name(pf.pn.form), (long long)kh, (long long)kw);
  int layer = new_layer(L, pn_node_label(n), op);
  if (layer < 0) return lower_err_nomem(L);
  /* output (c, y, x) at the slot of input (c, y sh, x sw) */
  struct fhe_layout lo = {.n = C * OH * OW, .grid = 1, .C = C, .H = OH, .W = OW, .sy = sh * in->sy, .sx = sw * in->sx};
  lo.slot = pn_arena_alloc(p->arena, (size_t)lo.n * sizeof *lo.slot + 1);
  lo.base = pn_arena_alloc(p->arena, (size_t)C * sizeof *lo.base + 1);
  if (!lo.slot || !lo.base) return lower_err_nomem(L);
  for (int64_t c = 0; c < C; c++) {
    lo.base[c] = in->base[c];
    for (int64_t yy = 0; yy < OH; yy++)
      for (int64_t xx = 0; xx < OW; xx++) {
        int64_t s = in->base[c] + yy * lo.sy + xx * lo.sx;
        lo.slot[(c * OH + yy) * OW + xx] = (int32_t)s;
        if (s + 1 > lo.extent) lo.extent = s + 1;
      }
  }
  /* end padding can put the last output row/column past the input's (stride 1, 2x2 pad 1): the strided
  ** slots would then run into the next channel. The leaves are LINEARs whenever there are pads, so any
  ** layout will do: dense. */
  if (pads && ((OH - 1) * sh >= in->H || (OW - 1) * sw >= in->W) && fhe_layout_dense(p->arena, C, OH, OW, &lo))
    return lower_err_nomem(L);
  int li = add_layout(L, &lo);
  if (li < 0) return lower_err_nomem(L);
  int nleaf = (int)(kh * kw);
  struct node_ref nodes[PN_PAF_MAX_WINDOW];
  for (int j = 0; j < nleaf; j++) {
    int64_t ky = j / kw, kx = j % kw, off = (ky - pt) * in->sy + (kx - pl) * in->sx;
    nodes[j].reg = x->reg;
    nodes[j].off = off;
    nodes[j].tier = 0;
    if (!pads) continue;
    /* with padding, leaf j is a one-diagonal LINEAR that reads 0 outside the input */
    struct fhe_lmap *m = fhe_lmap_new(lo.n, in->n, lo.n);
    if (!m || GROW(p, linears, n_linear, cap_linear)) {
      fhe_lmap_free(m);
      return lower_err_nomem(L);
    }
    int64_t e = 0, H = in->H, W = in->W;
    for (int64_t c = 0; c < C; c++)
      for (int64_t yy = 0; yy < OH; yy++)
        for (int64_t xx = 0; xx < OW; xx++) {
          int64_t o = (c * OH + yy) * OW + xx, iy = yy * sh - pt + ky, ix = xx * sw - pl + kx;
          m->rowptr[o] = e;
          if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
          m->col[e] = (int32_t)((c * H + iy) * W + ix);
          m->val[e++] = 1;
        }
    m->rowptr[lo.n] = e;
    m->nnz = e;
    m->mix = FHE_MIX_DEPTHWISE;
    snprintf(m->what, sizeof m->what, "leaf %d", j);
    struct fhe_linear *lin = &p->linears[p->n_linear];
    memset(lin, 0, sizeof *lin);
    lin->m = m;
    lin->in_layout = x->layout;
    lin->out_layout = li;
    lin->ndiag = 1;
    int r = emit(L, FHE_OP_LINEAR, x->reg, -1, p->n_linear++, 0, layer, li, x->factor, 1);
    if (r < 0) return lower_err_nomem(L);
    nodes[j].reg = r;
    nodes[j].off = 0;
  }
  /* the halving tree: (0,1), (2,3), ...; an odd last node moves up */
  double f = x->factor, F = y->want > 0 ? y->want : f;
  struct { int a, b; int64_t delta; int reg; } cache[PN_PAF_MAX_WINDOW];
  int ncache = 0, cnt = nleaf;
  while (cnt > 1) {
    int next = 0;
    for (int i = 0; i + 1 < cnt; i += 2) {
      struct node_ref A = nodes[i], B = nodes[i + 1];
      int64_t delta = B.off - A.off, hit = -1;
      for (int t = 0; t < ncache; t++)
        if (cache[t].a == A.reg && cache[t].b == B.reg && cache[t].delta == delta) hit = cache[t].reg;
      int last = cnt <= 2;
      if (hit < 0 && A.tier != B.tier) {
        /* a node that moved up unpaired meets a max: bring it to the other's scale */
        struct node_ref *lo2 = A.tier < B.tier ? &A : &B, *hi2 = lo2 == &A ? &B : &A;
        int r = emit(L, FHE_OP_MULC, lo2->reg, -1, 0, 1.0, layer, x->layout, f, 1);
        if (r < 0) return lower_err_nomem(L);
        L->p->inst[L->p->n_inst - 1].tmode = FHE_TARGET_REG;
        L->p->inst[L->p->n_inst - 1].tref = hi2->reg;
        lo2->reg = r;
        lo2->tier = hi2->tier;
      }
      if (hit < 0) {
        int bb = B.reg;
        if (delta) {
          int64_t step = delta % (int64_t)L->max_extent;
          bb = emit(L, FHE_OP_ROT, B.reg, -1, (int)step, 0, layer, x->layout, f, 0);
          if (bb < 0) return lower_err_nomem(L);
        }
        hit = emit_max(L, &pf, A.reg, bb, f, last ? F : f, layer, x->layout);
        if (hit < 0) return lower_err_nomem(L);
        cache[ncache].a = A.reg;
        cache[ncache].b = B.reg;
        cache[ncache].delta = delta;
        cache[ncache++].reg = (int)hit;
      }
      nodes[next].reg = (int)hit;
      nodes[next].tier = (A.tier > B.tier ? A.tier : B.tier) + 1;
      nodes[next++].off = A.off;
    }
    if (cnt & 1) nodes[next++] = nodes[cnt - 1];
    cnt = next;
  }
  /* the root's offset moves the output layout (no pads: leaf 0 has offset 0) */
  if (nodes[0].off != 0 || nodes[0].reg == x->reg)
    return pn_err(L->ctx, PN_ERR_UNSUPPORTED, "fhe: node '%s' (PafMaxPool): a window of one element", pn_node_label(n));
  snprintf(p->layers[layer].packing, sizeof p->layers[layer].packing, "tree of %d max, %s", ncache,
           pads ? "masked leaves" : "rotated leaves");
  y->state = V_REG;
  y->reg = nodes[0].reg;
  y->layout = li;
  y->factor = F;
  p->reg[y->reg].layout = li;
  return PN_OK;
}

/* ---- the walk ---- */

static int lower_node(struct lower *L, const struct pn_node *n) {
  int op = pn_op_find(n->domain, n->op_type);
  int kind = op >= 0 ? fhe_ops[op] : K_NONE;
  struct pn_ctx *ctx = L->ctx;
  if (kind == K_NONE) {
    if (op == PN_OP_RELU || op == PN_OP_MAX_POOL)
      return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: node '%s' (%s) is not a polynomial: replace it by a PAF first "
                    "(privnn paf approximate)", pn_node_label(n), n->op_type);
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: node '%s' (%s): operator not supported under CKKS", pn_node_label(n),
                  n->op_type);
  }
  if (n->n_out < 1) return pn_err(ctx, PN_ERR_INVALID, "fhe: node '%s' has no output", pn_node_label(n));
  int yi = val_find(L, n->out[0]);
  if (yi < 0) return pn_err(ctx, PN_ERR_INVALID, "fhe: node '%s': output '%s' has no shape", pn_node_label(n), n->out[0]);
  /* the data input: the first input that is not an initializer */
  int xi = -1, nx = 0;
  for (int i = 0; i < n->n_in; i++) {
    if (!n->in[i][0] || pn_graph_find_init(L->g, n->in[i])) continue;
    if (op == PN_OP_RESHAPE && i == 1) continue;
    int vi = val_find(L, n->in[i]);
    if (vi < 0 || L->v[vi].state == V_NONE)
      return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: node '%s' (%s): input '%s' is not computed from the encrypted "
                    "input", pn_node_label(n), n->op_type, n->in[i]);
    if (nx++ == 0) xi = vi;
  }
  if (xi < 0)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: node '%s' (%s) computes on constants only (fold them first)",
                  pn_node_label(n), n->op_type);
  if (kind == K_ADD && nx == 1) kind = K_LINEAR;
  if (kind != K_ADD && nx != 1)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: node '%s' (%s): only constants besides one encrypted input",
                  pn_node_label(n), n->op_type);
  struct val *x = &L->v[xi], *y = &L->v[yi];
  int rc;
  switch (kind) {
  case K_LAYOUT:
    if (x->state == V_PENDING && x->readers > 1 && (rc = materialize(L, xi, x->want, -1))) return rc;
    x = &L->v[xi];
    y = &L->v[yi];
    if (x->state == V_REG) {
      struct fhe_layout lo = L->p->layouts[x->layout];
      fhe_layout_reshape(&lo, y->ndim, y->dims);
      int li = add_layout(L, &lo);
      if (li < 0) return lower_err_nomem(L);
      y->state = V_REG;
      y->reg = x->reg;
      y->layout = li;
      y->factor = x->factor;
      y->scale_default = x->scale_default;
    } else {
      y->state = V_PENDING;
      y->m = x->m;
      x->m = NULL;
      x->state = V_NONE;
      y->src = x->src;
      y->nodes = x->nodes;
      x->nodes = NULL;
    }
    return PN_OK;
  case K_LINEAR: {
    struct fhe_lmap *m;
    if ((rc = fhe_lmap_node(ctx, L->g, n, L->opset, x->ndim, x->dims, y->ndim, y->dims, &m))) return rc;
    if (x->state == V_PENDING && x->readers == 1) {
      /* compose when it costs no more than it saves */
      struct fhe_lmap *cm;
      if ((rc = fhe_lmap_compose(ctx, m, x->m, &cm))) {
        fhe_lmap_free(m);
        return rc;
      }
      int take = m->mix == FHE_MIX_DIAG || x->m->mix == FHE_MIX_DIAG || L->p->opts.compose == 1;
      if (!take && L->p->opts.compose == 0) {
        const struct fhe_layout *src = &L->p->layouts[L->v[x->src].layout];
        int64_t C, H, W, C2, H2, W2, d1, d2, dc;
        shape_chw(x, &C, &H, &W);
        shape_chw(y, &C2, &H2, &W2);
        struct fhe_layout l1, l2, lc;
        struct pn_ctx sub = {0};
        if (!fhe_layout_choose(&sub, L->p->arena, x->m, src, C, H, W, L->max_extent, &l1, &d1, NULL, 0) &&
            !fhe_layout_choose(&sub, L->p->arena, m, &l1, C2, H2, W2, L->max_extent, &l2, &d2, NULL, 0) &&
            !fhe_layout_choose(&sub, L->p->arena, cm, src, C2, H2, W2, L->max_extent, &lc, &dc, NULL, 0))
          take = lin_cost(dc) <= lin_cost(d1) + lin_cost(d2) + COST_LEVEL;
      }
      if (take) {
        fhe_lmap_free(x->m);
        fhe_lmap_free(m);
        y->state = V_PENDING;
        y->m = cm;
        y->src = x->src;
        size_t ln = strlen(x->nodes) + strlen(pn_node_label(n)) + 2;
        y->nodes = malloc(ln);
        if (!y->nodes) return lower_err_nomem(L);
        snprintf(y->nodes, ln, "%s+%s", x->nodes, pn_node_label(n));
        x->m = NULL;
        x->state = V_NONE;
        return PN_OK;
      }
      fhe_lmap_free(cm);
    }
    if (x->state == V_PENDING && (rc = materialize(L, xi, x->want, -1))) {
      fhe_lmap_free(m);
      return rc;
    }
    x = &L->v[xi];
    y = &L->v[yi];
    y->state = V_PENDING;
    y->m = m;
    y->src = xi;
    y->nodes = strdup(pn_node_label(n));
    return y->nodes ? PN_OK : lower_err_nomem(L);
  }
  case K_ADD: {
    int bi = val_find(L, n->in[1]);
    if (n->n_in != 2 || bi < 0) return pn_err(ctx, PN_ERR_INVALID, "fhe: node '%s' (Add): two inputs", pn_node_label(n));
    int ai = val_find(L, n->in[0]);
    double w = y->want > 0 ? y->want : 0;
    /* registers first; a pending input then lands on the other's factor and scale */
    int first = L->v[ai].state == V_REG ? ai : bi, second = first == ai ? bi : ai;
    if (w == 0 && L->v[first].state == V_REG) w = L->v[first].factor;
    if ((rc = materialize(L, first, w, -1))) return rc;
    if (w == 0) w = L->v[first].factor;
    int was_pending = L->v[second].state == V_PENDING;
    if ((rc = materialize(L, second, w, was_pending ? L->v[first].reg : -1))) return rc;
    struct val *A = &L->v[first], *B = &L->v[second];
    int layer = new_layer(L, pn_node_label(n), "Add");
    if (layer < 0) return lower_err_nomem(L);
    if (A->layout != B->layout &&
        memcmp(L->p->layouts[A->layout].slot, L->p->layouts[B->layout].slot,
               (size_t)L->p->layouts[A->layout].n * sizeof(int32_t)) != 0)
      return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: node '%s' (Add): its inputs are laid out differently",
                    pn_node_label(n));
    /* factors or scales that still differ: a MULC on the input with more levels left */
    if (A->factor != B->factor || (!was_pending && !(A->scale_default && B->scale_default))) {
      struct val *hi = L->used[A->reg] <= L->used[B->reg] ? A : B, *lo = hi == A ? B : A;
      if ((rc = refactor(L, (int)(hi - L->v), lo->factor, lo->reg, layer))) return rc;
    }
    int r = emit(L, FHE_OP_ADD, A->reg, B->reg, 0, 0, layer, A->layout, A->factor, 0);
    if (r < 0) return lower_err_nomem(L);
    snprintf(L->p->layers[layer].packing, sizeof L->p->layers[layer].packing, "slot-wise");
    y->state = V_REG;
    y->reg = r;
    y->layout = A->layout;
    y->factor = A->factor;
    return PN_OK;
  }
  case K_PAF_RELU:
  case K_PAF_MAXPOOL: {
    struct paf pf;
    if ((rc = paf_parse(L, n, &pf))) return rc;
    if ((rc = materialize(L, xi, x->want > 0 ? x->want : 1.0 / pf.s, -1))) return rc;
    x = &L->v[xi];
    y = &L->v[yi];
    return kind == K_PAF_RELU ? lower_relu(L, n, x, y) : lower_maxpool(L, n, x, y);
  }
  default: return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: node '%s' (%s)", pn_node_label(n), n->op_type);
  }
}

/* Backwards: the factor each value's readers want (0: any). */
static void plan_factors(struct lower *L) {
  struct pn_graph *g = L->g;
  for (int i = 0; i < g->n_outputs; i++) {
    int vi = val_find(L, g->outputs[i].name);
    if (vi >= 0) L->v[vi].want = 1.0;
  }
  for (int k = g->n_nodes - 1; k >= 0; k--) {
    const struct pn_node *n = g->nodes[k];
    int op = pn_op_find(n->domain, n->op_type), kind = op >= 0 ? fhe_ops[op] : K_NONE;
    int yi = n->n_out ? val_find(L, n->out[0]) : -1;
    double w = 0;
    if (kind == K_PAF_RELU || kind == K_PAF_MAXPOOL) {
      struct pn_paf_node pn;
      struct pn_ctx sub = {0};
      if (!pn_paf_node_parse(&sub, g, n, &pn) && pn.scale) w = 1.0 / (double)(1.0f / ((const float *)pn.scale->data)[0]);
      w = w > 0 ? 1.0 / w : 0;
    } else if ((kind == K_ADD || kind == K_LAYOUT) && yi >= 0) {
      w = L->v[yi].want;
    }
    if (w == 0) continue;
    for (int i = 0; i < n->n_in; i++) {
      int vi = n->in[i][0] ? val_find(L, n->in[i]) : -1;
      if (vi >= 0 && L->v[vi].want == 0 && !pn_graph_find_init(g, n->in[i])) L->v[vi].want = w;
    }
  }
}

/* ---- parameters ---- */

static int ceil_log2_64(int64_t v) {
  int r = 0;
  while (((int64_t)1 << r) < v) r++;
  return r;
}

/* The smallest ring (>= logn_min) whose 128-bit budget holds a 60-bit base, depth primes of sb bits and
** special primes covering a key-switching digit; the fewest digits that budget allows. */
static int choose_params(struct pn_ctx *ctx, const struct pn_fhe_opts *o, int depth, int logn_min,
                         struct pn_ckks_params *out) {
  int sb = o->scale_bits ? o->scale_bits : 40, q0 = sb + 20 > 60 ? 60 : sb + 20;
  for (int logn = logn_min; logn <= PN_CKKS_MAX_LOGN; logn++) {
    if (o->logn && logn != o->logn) continue;
    int bound = pn_ckks_max_logqp(logn);
    if (o->allow_insecure && logn < PN_CKKS_MIN_LOGN) bound = 1 << 30;
    if (o->allow_insecure && o->logn) bound = 1 << 30;
    int nq = depth + 1, qbits = q0 + depth * sb, rest = bound - qbits;
    if (nq > PN_CKKS_MAX_PRIMES || rest < 61) continue;
    int np = rest / 61 < 4 ? rest / 61 : 4, pb = 61;
    int P = np * pb;
    /* alpha primes per digit: the first digit (base prime + alpha-1 scaling primes) must not exceed P */
    int alpha = 1 + (P - q0) / sb;
    if (alpha < 1) continue;
    if (alpha > nq) alpha = nq;
    memset(out, 0, sizeof *out);
    out->logn = logn;
    out->nq = nq;
    out->q_bits[0] = q0;
    for (int i = 1; i < nq; i++) out->q_bits[i] = sb;
    out->np = np;
    for (int i = 0; i < np; i++) out->p_bits[i] = pb;
    out->dnum = (nq + alpha - 1) / alpha;
    out->scale_bits = sb;
    out->allow_insecure = o->allow_insecure;
    return PN_OK;
  }
  if (o->logn)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: the program needs %d levels, more than N = 2^%d holds at 128-bit "
                  "security with %d-bit scales", depth, o->logn, sb);
  return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: the program needs %d levels, more than N = 2^%d holds at 128-bit "
                "security with %d-bit scales, and bootstrapping is off (--boot never)", depth, PN_CKKS_MAX_LOGN, sb);
}

/* A bootstrappable chain (src/ckks/boot.h's preset for N = 2^logn and 2^logslots slots) with C levels for
** computation between bootstraps: q_0 | SlotToCoeff | C x compute | EvalMod | CoeffToSlot, special primes as
** the preset. C is opts->boot_levels, or as many as the 128-bit bound holds (9 on the insecure test rings); a
** ring whose C is below min_levels (the deepest single instruction) is skipped. */
static int choose_boot_params(struct pn_ctx *ctx, const struct pn_fhe_opts *o, int logn_min, int logslots,
                              int min_levels, struct pn_ckks_params *out, struct pn_ckks_boot_params *bp, int *C_out) {
  int lo = logn_min > 10 ? logn_min : 10, best_c = -1, best_logn = 0;
  for (int logn = lo; logn <= PN_CKKS_MAX_LOGN; logn++) {
    if (o->logn && logn != o->logn) continue;
    if (!o->allow_insecure && logn < 15) continue;
    struct pn_ckks_params pr;
    struct pn_ckks_boot_params b;
    int ls = logslots < 1 ? 1 : logslots;
    if (ls > logn - 1 || pn_ckks_boot_preset(ctx, logn, ls, &pr, &b)) continue;
    const int S = b.stc_levels, T = b.cts_levels, E = pn_ckks_boot_evalmod_levels(&b);
    const int comp0 = pr.nq - 1 - S - E - T, cbits = pr.scale_bits;
    if (E < 0 || comp0 < 0) continue;
    int fixed = 0;
    for (int i = 0; i < pr.nq; i++) fixed += pr.q_bits[i];
    for (int i = 0; i < pr.np; i++) fixed += pr.p_bits[i];
    fixed -= comp0 * cbits;
    int cmax = o->allow_insecure && logn < 15 ? 9 : (pn_ckks_max_logqp(logn) - fixed) / cbits;
    if (cmax > PN_CKKS_MAX_PRIMES - (pr.nq - comp0)) cmax = PN_CKKS_MAX_PRIMES - (pr.nq - comp0);
    int C = o->boot_levels > 0 ? o->boot_levels : cmax;
    if (C > best_c) best_c = C, best_logn = logn;
    if (C > cmax || C < min_levels) continue;
    memset(out, 0, sizeof *out);
    out->logn = logn;
    out->nq = pr.nq - comp0 + C;
    out->q_bits[0] = pr.q_bits[0];
    for (int i = 1; i <= S; i++) out->q_bits[i] = pr.q_bits[i];
    for (int i = 0; i < C; i++) out->q_bits[1 + S + i] = cbits;
    for (int i = 0; i < E + T; i++) out->q_bits[1 + S + C + i] = pr.q_bits[1 + S + comp0 + i];
    out->np = pr.np;
    memcpy(out->p_bits, pr.p_bits, sizeof out->p_bits);
    out->dnum = (out->nq + pr.np - 1) / pr.np; /* digits of np primes: P covers each */
    out->scale_bits = cbits;
    out->allow_insecure = o->allow_insecure;
    *bp = b;
    *C_out = C;
    return PN_OK;
  }
  if (best_c >= 0)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: bootstrapping at N = 2^%d leaves %d levels between bootstraps%s; an "
                  "instruction of the program needs %d", best_logn, best_c,
                  o->boot_levels > 0 ? " (--boot-levels)" : " within the 128-bit bound", min_levels);
  return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: no bootstrappable ring holds %d slots (N = 2^%d at most)",
                1 << logslots, PN_CKKS_MAX_LOGN);
}

int fhe_inst_apply(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const struct fhe_inst *in, int *level,
                   double *scale) {
  const struct fhe_reg *a = in->a >= 0 ? &p->reg[in->a] : NULL, *b = in->b >= 0 ? &p->reg[in->b] : NULL;
  double dflt = pn_ckks_default_scale(p->ckks);
  double target = in->tmode == FHE_TARGET_REG ? p->reg[in->tref].scale : dflt;
  switch (in->kind) {
  case FHE_OP_INPUT: *level = p->top_level, *scale = dflt; break;
  case FHE_OP_LINEAR:
  case FHE_OP_MULC: *level = a->level - 1, *scale = target; break;
  case FHE_OP_ROT:
  case FHE_OP_ADDC: *level = a->level, *scale = a->scale; break;
  case FHE_OP_ADD:
  case FHE_OP_SUB:
    if (fabs(a->scale - b->scale) > 1e-9 * fmax(a->scale, b->scale))
      return pn_err(ctx, PN_ERR_INVALID, "fhe: instruction %d adds scales 2^%.9f and 2^%.9f", (int)(in - p->inst),
                    log2(a->scale), log2(b->scale));
    *level = a->level < b->level ? a->level : b->level, *scale = a->scale;
    break;
  case FHE_OP_MUL: {
    int l = a->level < b->level ? a->level : b->level;
    *level = l - 1;
    *scale = a->scale * b->scale / (double)pn_ckks_prime(p->ckks, l);
    break;
  }
  case FHE_OP_STAGE: *level = a->level - p->stages[in->aux].depth, *scale = a->scale; break;
  case FHE_OP_BOOT: *level = p->boot_out, *scale = dflt; break;
  default: return pn_err(ctx, PN_ERR_INVALID, "fhe: unknown instruction %d", (int)in->kind);
  }
  if (*level < 0)
    return pn_err(ctx, PN_ERR_INVALID, "fhe: instruction %d (layer '%s') runs out of levels", (int)(in - p->inst),
                  p->layers[in->layer].name);
  return PN_OK;
}

/* Levels and scales of every register, last uses, per-layer levels. */
static int plan_scales(struct pn_ctx *ctx, struct pn_fhe_plan *p) {
  for (int i = 0; i < p->n_inst; i++) {
    struct fhe_inst *in = &p->inst[i];
    struct fhe_reg *d = &p->reg[in->dst];
    int rc = fhe_inst_apply(ctx, p, in, &d->level, &d->scale);
    if (rc) return rc;
    if (in->a >= 0) p->reg[in->a].last_use = i;
    if (in->b >= 0) p->reg[in->b].last_use = i;
    struct fhe_layer *ly = &p->layers[in->layer];
    int lin = in->a >= 0 ? p->reg[in->a].level : d->level;
    if (in->b >= 0 && p->reg[in->b].level > lin) lin = p->reg[in->b].level;
    if (ly->level_in < lin) ly->level_in = lin;
    ly->level_out = d->level;
  }
  p->reg[p->out_reg].last_use = -1;
  return PN_OK;
}

static void hash_program(struct pn_fhe_plan *p) {
  EVP_MD_CTX *h = EVP_MD_CTX_new();
  if (!h) return;
  EVP_DigestInit_ex(h, EVP_sha256(), NULL);
  EVP_DigestUpdate(h, "privnn-fhe-program-1", 20);
  size_t len;
  struct pn_ctx sub = {0};
  uint8_t *pb = NULL;
  if (!pn_ckks_save_params(&sub, &p->params, &pb, &len)) EVP_DigestUpdate(h, pb, len);
  free(pb);
  int32_t bw[11] = {p->log_slots, p->real_boot, p->bp.logslots, p->bp.stc_levels, p->bp.cts_levels, p->bp.eph_weight,
                    p->bp.eph_base_bits, p->bp.cos_degree, p->bp.double_angles, p->bp.arcsine_degree, p->boot_out};
  EVP_DigestUpdate(h, bw, sizeof bw);
  for (int i = 0; i < p->n_inst; i++) {
    const struct fhe_inst *in = &p->inst[i];
    int32_t w[6] = {(int32_t)in->kind, in->dst, in->a, in->b, in->aux, in->tmode == FHE_TARGET_REG ? in->tref : -1};
    EVP_DigestUpdate(h, w, sizeof w);
    EVP_DigestUpdate(h, &in->c, sizeof in->c);
  }
  for (int i = 0; i < p->n_linear; i++) {
    const struct fhe_lmap *m = p->linears[i].m;
    EVP_DigestUpdate(h, m->rowptr, (size_t)(m->n_out + 1) * sizeof *m->rowptr);
    EVP_DigestUpdate(h, m->col, (size_t)m->nnz * sizeof *m->col);
    EVP_DigestUpdate(h, m->val, (size_t)m->nnz * sizeof *m->val);
    EVP_DigestUpdate(h, m->bias, (size_t)m->n_out * sizeof *m->bias);
    const struct fhe_layout *lo = &p->layouts[p->linears[i].out_layout];
    EVP_DigestUpdate(h, lo->slot, (size_t)lo->n * sizeof *lo->slot);
  }
  for (int i = 0; i < p->n_stage; i++) EVP_DigestUpdate(h, p->stages[i].c, sizeof p->stages[i].c);
  EVP_DigestUpdate(h, p->rot, (size_t)p->n_rot * sizeof *p->rot); /* the key set (a key budget changes it) */
  const struct fhe_layout *li = &p->layouts[p->in_layout], *lo = &p->layouts[p->out_layout];
  EVP_DigestUpdate(h, li->slot, (size_t)li->n * sizeof *li->slot);
  int64_t copies[2] = {li->rep > 1 ? li->rep : 1, li->rep > 1 ? li->rep_stride : 0};
  EVP_DigestUpdate(h, copies, sizeof copies);
  EVP_DigestUpdate(h, lo->slot, (size_t)lo->n * sizeof *lo->slot);
  EVP_DigestUpdate(h, &p->in_factor, sizeof p->in_factor);
  EVP_DigestUpdate(h, &p->out_factor, sizeof p->out_factor);
  unsigned int dl = 0;
  EVP_DigestFinal_ex(h, p->model_hash, &dl);
  EVP_MD_CTX_free(h);
}

void pn_fhe_plan_free(struct pn_fhe_plan *p) {
  if (!p) return;
  for (int i = 0; i < p->n_linear; i++) {
    fhe_linear_release(&p->linears[i]);
    fhe_lmap_free((struct fhe_lmap *)p->linears[i].m);
  }
  free(p->linears);
  free(p->inst);
  free(p->reg);
  free(p->layouts);
  free(p->stages);
  free(p->layers);
  free(p->rot);
  pn_ckks_context_free(p->ckks);
  pn_arena_free(p->arena);
  free(p);
}

void pn_fhe_opts_default(struct pn_fhe_opts *o) {
  memset(o, 0, sizeof *o);
  o->scale_bits = 40;
}

static int lower_graph(struct lower *L) {
  struct pn_ctx *ctx = L->ctx;
  struct pn_graph *g = L->g;
  struct pn_fhe_plan *p = L->p;
  int nin = 0, in_i = -1;
  for (int i = 0; i < g->n_inputs; i++)
    if (pn_graph_is_runtime_input(g, i)) nin++, in_i = i;
  if (nin != 1 || g->n_outputs != 1)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: the model must have one input and one output (it has %d and %d)", nin,
                  g->n_outputs);
  /* every value with a known shape */
  for (int i = -1; i < g->n_vinfo + g->n_outputs; i++) {
    const struct pn_value *pv = i < 0 ? &g->inputs[in_i] : i < g->n_vinfo ? &g->vinfo[i] : &g->outputs[i - g->n_vinfo];
    if (val_find(L, pv->name) >= 0) continue;
    if (pv->dtype != PN_DT_FLOAT || pv->ndim < 1)
      continue;
    int vi = val_add(L, pv->name);
    if (vi < 0) return lower_err_nomem(L);
    L->v[vi].ndim = pv->ndim;
    for (int d = 0; d < pv->ndim; d++) {
      if (pv->dims[d] < 1) return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: value '%s' has an unknown dimension", pv->name);
      L->v[vi].dims[d] = pv->dims[d];
    }
  }
  for (int k = 0; k < g->n_nodes; k++)
    for (int i = 0; i < g->nodes[k]->n_in; i++) {
      int vi = g->nodes[k]->in[i][0] ? val_find(L, g->nodes[k]->in[i]) : -1;
      if (vi >= 0) L->v[vi].readers++;
    }
  int oi = val_find(L, g->outputs[0].name);
  if (oi < 0) return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: the output '%s' is not a float tensor", g->outputs[0].name);
  L->v[oi].readers++;
  plan_factors(L);
  /* the input: dense (c H W + y W + x) at the factor its readers want */
  int xi = val_find(L, g->inputs[in_i].name);
  struct val *x = &L->v[xi];
  if (x->ndim < 1 || x->dims[0] != 1)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: input '%s' must have batch size 1", x->name);
  int64_t C, H, W;
  shape_chw(x, &C, &H, &W);
  struct fhe_layout lo;
  if (fhe_layout_dense(p->arena, C, H, W, &lo)) return lower_err_nomem(L);
  if ((x->layout = add_layout(L, &lo)) < 0) return lower_err_nomem(L);
  int layer = new_layer(L, x->name, "input");
  if (layer < 0) return lower_err_nomem(L);
  L->xi = xi;
  L->in_layer = layer;
  snprintf(p->layers[layer].packing, sizeof p->layers[layer].packing, "dense, %lld slots", (long long)lo.n);
  x->factor = x->want > 0 ? x->want : 1.0;
  x->reg = emit(L, FHE_OP_INPUT, -1, -1, 0, 0, layer, x->layout, x->factor, 0);
  if (x->reg < 0) return lower_err_nomem(L);
  x->state = V_REG;
  x->scale_default = 1;
  p->in_reg = x->reg;
  p->in_layout = x->layout;
  p->in_factor = x->factor;
  p->in_ndim = x->ndim;
  memcpy(p->in_dims, x->dims, sizeof p->in_dims);
  for (int k = 0; k < g->n_nodes; k++) {
    int rc = lower_node(L, g->nodes[k]);
    if (rc) return rc;
  }
  struct val *y = &L->v[oi];
  if (y->state == V_NONE) return pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: the output does not depend on the input");
  int rc = materialize(L, oi, 1.0, -1);
  if (rc) return rc;
  y = &L->v[oi];
  p->out_reg = y->reg;
  p->out_layout = y->layout;
  p->out_factor = y->factor;
  p->out_ndim = y->ndim;
  memcpy(p->out_dims, y->dims, sizeof p->out_dims);
  return PN_OK;
}

/* ---- bootstrapping placement ----
** Walk the program with absolute levels; before an instruction whose result would fall below the
** bootstrapping input level (level 0 for the program's output), bootstrap its lowest input and use the
** fresh copy from then on (every later reader shares it). Bootstrapping as late as possible gives the
** fewest bootstraps on a chain; a value read by several branches is refreshed once. */
static int out_level_of(const struct pn_fhe_plan *p, const struct fhe_inst *in, const int *lv, int boot_out) {
  int la = in->a >= 0 ? lv[in->a] : p->top_level, lb = in->b >= 0 ? lv[in->b] : la, m = la < lb ? la : lb;
  switch (in->kind) {
  case FHE_OP_INPUT: return p->top_level;
  case FHE_OP_BOOT: return boot_out;
  case FHE_OP_STAGE: return la - p->stages[in->aux].depth;
  case FHE_OP_LINEAR:
  case FHE_OP_MULC: return la - 1;
  case FHE_OP_MUL: return m - 1;
  case FHE_OP_ADD:
  case FHE_OP_SUB: return m;
  default: return la;
  }
}

/* The one register that x is computed from by level-free instructions (ROT, ADD, SUB, ADDC) within
** out[0..n) at x's level, as max(a, b) computes d = a - rot(a): -1 when there is none (or two). */
static int single_source(const struct fhe_inst *out, int n, int x, const int *lv, int depth) {
  int j = n - 1;
  while (j >= 0 && out[j].dst != x) j--;
  if (j < 0 || depth > 4) return -1;
  const struct fhe_inst *in = &out[j];
  if (in->kind != FHE_OP_ROT && in->kind != FHE_OP_ADD && in->kind != FHE_OP_SUB && in->kind != FHE_OP_ADDC) return -1;
  int s[2] = {in->a, in->b};
  for (int k = 0; k < 2; k++) {
    if (s[k] < 0) continue;
    if (lv[s[k]] != lv[x]) return -1;
    int t = single_source(out, j, s[k], lv, depth + 1);
    if (t >= 0) s[k] = t;
  }
  if (s[1] >= 0 && s[1] != s[0]) return -1;
  return s[0];
}

/* Insert at position `at` of out (what follows moves up one) a bootstrap of register src, in a new layer
** named `name`; its result, a new register at level boot_out, is returned in *reg. */
static int insert_boot(struct lower *L, struct fhe_inst **out, int *n, int *cap, int at, int src, const char *name,
                       int boot_out, int *lv, int *reg) {
  struct pn_fhe_plan *p = L->p;
  int layer = new_layer(L, name, "bootstrap");
  int r = layer < 0 ? -1 : new_reg(L, p->reg[src].layout, p->reg[src].factor, 0);
  if (r < 0) return lower_err_nomem(L);
  if (*n + 2 > *cap) {
    struct fhe_inst *o2 = realloc(*out, (size_t)*cap * 2 * sizeof *o2);
    if (!o2) return lower_err_nomem(L);
    *out = o2;
    *cap *= 2;
  }
  snprintf(p->layers[layer].packing, sizeof p->layers[layer].packing, "refresh to level %d", boot_out);
  memmove(*out + at + 1, *out + at, (size_t)(*n - at) * sizeof **out);
  (*n)++;
  struct fhe_inst *b = &(*out)[at];
  memset(b, 0, sizeof *b);
  b->kind = FHE_OP_BOOT;
  b->dst = r;
  b->a = src;
  b->b = -1;
  b->tref = -1;
  b->layer = layer;
  lv[r] = boot_out;
  *reg = r;
  return PN_OK;
}

static int place_boots(struct lower *L, int boot_in, int boot_out) {
  struct pn_fhe_plan *p = L->p;
  int n0 = p->n_inst, cap = n0 * 2 + 16, n = 0, rc = PN_OK;
  struct fhe_inst *old = p->inst, *out = malloc((size_t)cap * sizeof *out);
  int *remap = NULL, *lv = NULL, *origin = NULL, cap_r = 0, n_reg0 = p->n_reg;
  if (!out) return lower_err_nomem(L);
  for (int i = 0; i < n0 && !rc; i++) {
    if (p->n_reg + 8 > cap_r) {
      cap_r = 2 * (p->n_reg + 8);
      int *r2 = realloc(remap, (size_t)cap_r * sizeof *r2), *l2 = r2 ? realloc(lv, (size_t)cap_r * sizeof *l2) : NULL;
      int *o2 = l2 ? realloc(origin, (size_t)cap_r * sizeof *o2) : NULL;
      if (r2) remap = r2;
      if (l2) lv = l2;
      if (!o2) {
        rc = lower_err_nomem(L);
        break;
      }
      origin = o2;
    }
    if (i == 0)
      for (int r = 0; r < n_reg0; r++) remap[r] = origin[r] = r;
    struct fhe_inst in = old[i];
    if (in.a >= 0) in.a = remap[in.a];
    if (in.b >= 0) in.b = remap[in.b];
    if (in.tref >= 0) in.tref = remap[in.tref];
    int need = in.dst == p->out_reg ? 0 : boot_in;
    for (int tries = 0;; tries++) {
      int l = out_level_of(p, &in, lv, boot_out);
      if (l >= need) {
        lv[in.dst] = l;
        break;
      }
      int x = in.a;
      if (in.b >= 0 && (x < 0 || lv[in.b] < lv[x])) x = in.b;
      if (x < 0 || lv[x] >= boot_out || tries > 2) {
        rc = pn_err(L->ctx, PN_ERR_UNSUPPORTED, "fhe: layer '%s' (%s) needs more levels than a bootstrap gives (%d)",
                    p->layers[in.layer].name, p->layers[in.layer].op, boot_out - boot_in);
        break;
      }
      /* x made from one register by level-free steps (a max's difference and rotation): refresh that
      ** register where it is first read, so that its other readers (the max's other operand) share it */
      int src = single_source(out, n, x, lv, 0), r;
      if (src >= 0 && src != x) {
        int at = 0;
        while (at < n && out[at].a != src && out[at].b != src) at++;
        if ((rc = insert_boot(L, &out, &n, &cap, at, src, p->layers[out[at].layer].name, boot_out, lv, &r))) break;
        for (int k = at + 1; k < n; k++) {
          struct fhe_inst *o = &out[k];
          if (o->a == src) o->a = r;
          if (o->b == src) o->b = r;
          if (o->tref == src) o->tref = r;
          lv[o->dst] = out_level_of(p, o, lv, boot_out);
        }
        x = src;
      } else if ((rc = insert_boot(L, &out, &n, &cap, n, x, p->layers[in.layer].name, boot_out, lv, &r))) {
        break;
      }
      origin[r] = origin[x];
      remap[origin[x]] = r;
      if (in.a == x) in.a = r;
      if (in.b == x) in.b = r;
      if (in.tref == x) in.tref = r;
    }
    if (rc) break;
    if (n + 1 > cap) {
      struct fhe_inst *o2 = realloc(out, (size_t)(cap *= 2) * sizeof *o2);
      if (!o2) {
        rc = lower_err_nomem(L);
        break;
      }
      out = o2;
    }
    out[n++] = in;
  }
  free(remap);
  free(lv);
  free(origin);
  if (rc) {
    free(out);
    return rc;
  }
  free(old);
  p->inst = out;
  p->n_inst = n;
  p->cap_inst = cap;
  return PN_OK;
}

/* The bootstrapping keys' size in memory from their rotations and the levels each is used at (a key for
** level l: digits of l + 1 limbs, 2 polynomials over l + 1 + np primes), plus the conjugation key. */
static int boot_key_estimate(struct pn_ctx *ctx, struct pn_fhe_plan *p) {
  const int max = 1 << 15;
  int *steps = malloc((size_t)max * sizeof *steps), *lv = malloc((size_t)max * sizeof *lv);
  if (!steps || !lv) {
    free(steps), free(lv);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  }
  int nr = pn_ckks_boot_rotations(ctx, p->ckks, &p->bp, steps, lv, max);
  if (nr >= 0) {
    const int np = p->params.np, alpha = (p->params.nq + pn_ckks_dnum(p->ckks) - 1) / pn_ckks_dnum(p->ckks);
    const double n = (double)pn_ckks_n(p->ckks);
    p->boot_rot_keys = nr;
    p->boot_key_bytes = 0;
    for (int i = 0; i <= nr; i++) {
      int l = i < nr ? lv[i] : p->params.nq - 1, digits = (l + alpha) / alpha;
      p->boot_key_bytes += (double)digits * 2.0 * (l + 1 + np) * n * 8.0;
    }
  }
  free(steps), free(lv);
  return nr < 0 ? nr : PN_OK;
}

/* need_move: stop after lowering (PN_ERR_UNSUPPORTED) when the copies were not moved (the plan would be the one
** with COPIES_EXTENT). */
static int compile_once(struct pn_ctx *ctx, const struct pn_graph *model, const struct pn_fhe_opts *opts, int copies,
                        int need_move, struct pn_fhe_plan **out) {
  *out = NULL;
  struct pn_fhe_plan *p = calloc(1, sizeof *p);
  struct lower L = {.ctx = ctx, .p = p, .xi = -1, .copies = copies};
  int rc = PN_OK;
  if (!p || !(p->arena = pn_arena_new())) {
    free(p);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  }
  if (opts) p->opts = *opts;
  else pn_fhe_opts_default(&p->opts);
  snprintf(p->model_name, sizeof p->model_name, "%s", model->name ? model->name : "model");
  L.g = pn_graph_clone_batch(model, 1);
  if (!L.g) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
    goto done;
  }
  if ((rc = pn_optimize_graph(ctx, L.g, NULL)) || (rc = pn_graph_validate(ctx, L.g)) ||
      (rc = pn_graph_infer_shapes(ctx, L.g)))
    goto done;
  L.opset = pn_graph_opset(L.g, "");
  L.max_extent = (int64_t)1 << (PN_CKKS_MAX_LOGN - 1);
  if (p->opts.logn) L.max_extent = (int64_t)1 << (p->opts.logn - 1);
  if ((rc = lower_graph(&L))) goto done;
  if (need_move && !L.moved) {
    rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "fhe: the input's copies stay where they are");
    goto done;
  }
  /* depth, extent -> parameters */
  int depth = 0;
  int64_t extent = 1;
  for (int r = 0; r < p->n_reg; r++) {
    if (L.used[r] > depth) depth = L.used[r];
    if (fhe_layout_top(&p->layouts[p->reg[r].layout]) > extent) extent = fhe_layout_top(&p->layouts[p->reg[r].layout]);
  }
  p->depth = depth;
  int logn_min = ceil_log2_64(extent) + 1;
  if (logn_min < PN_CKKS_MIN_LOGN && !p->opts.allow_insecure) logn_min = PN_CKKS_MIN_LOGN;
  if (logn_min < 2) logn_min = 2;
  int real_boot = p->opts.boot == PN_FHE_BOOT_FORCE;
  if (p->opts.boot == PN_FHE_BOOT_AUTO) {
    struct pn_ctx sub = {0};
    struct pn_ckks_params tmp;
    real_boot = choose_params(&sub, &p->opts, depth, logn_min, &tmp) != PN_OK;
  }
  if (real_boot) {
    /* real bootstrapping: the program runs in the C levels between bootstraps, on 2^logslots slots (sparse
    ** when the packed maps need fewer than N/2) */
    int min_levels = 1, C = 0;
    for (int i = 0; i < p->n_inst; i++)
      if (p->inst[i].use + 1 > min_levels) min_levels = p->inst[i].use + 1;
    int logslots = ceil_log2_64(extent);
    if ((rc = choose_boot_params(ctx, &p->opts, logn_min, logslots, min_levels, &p->params, &p->bp, &C))) goto done;
    if ((rc = pn_ckks_context_new(ctx, &p->params, &p->ckks))) goto done;
    p->real_boot = 1;
    p->log_slots = p->bp.logslots;
    p->boot_in = p->bp.stc_levels;
    p->boot_out = p->boot_in + C;
    p->top_level = p->boot_out; /* the query arrives where a bootstrap leaves: the levels above are EvalMod's */
    if ((rc = place_boots(&L, p->boot_in, p->boot_out))) goto done;
  } else if (p->opts.boot == PN_FHE_BOOT_SIMULATE) {
    /* bootstrapping that only the simulation can run: levels as a bootstrapped chain would give */
    int after = p->opts.boot_levels > 0 ? p->opts.boot_levels : 9, bin = 2;
    struct pn_fhe_opts o2 = p->opts;
    o2.allow_insecure = 1;
    if ((rc = choose_params(ctx, &o2, bin + after, logn_min, &p->params))) goto done;
    if ((rc = pn_ckks_context_new(ctx, &p->params, &p->ckks))) goto done;
    p->top_level = pn_ckks_max_level(p->ckks);
    p->boot_in = bin;
    p->boot_out = p->top_level;
    if (depth > p->top_level && (rc = place_boots(&L, bin, p->boot_out))) goto done;
  } else {
    if ((rc = choose_params(ctx, &p->opts, depth, logn_min, &p->params))) goto done;
    if ((rc = pn_ckks_context_new(ctx, &p->params, &p->ckks))) goto done;
    p->top_level = pn_ckks_max_level(p->ckks);
  }
  if (!p->real_boot) {
    size_t full = pn_ckks_slots(p->ckks);
    while (((size_t)1 << p->log_slots) < full) p->log_slots++;
  }
  p->slots = (size_t)1 << p->log_slots;
  /* rotations: max-pool steps into [0, slots); linear layers' diagonals and BSGS splits */
  for (int i = 0; i < p->n_inst; i++)
    if (p->inst[i].kind == FHE_OP_ROT) {
      int64_t s = p->inst[i].aux % (int64_t)p->slots;
      if (s < 0) s += (int64_t)p->slots;
      p->inst[i].aux = (int)s;
    }
  for (int i = 0; i < p->n_inst; i++)
    if (p->inst[i].kind == FHE_OP_ROT && p->inst[i].aux) {
      int have = 0;
      for (int k = 0; k < p->n_rot; k++) have |= p->rot[k] == p->inst[i].aux;
      if (have) continue;
      int *r = realloc(p->rot, (size_t)(p->n_rot + 1) * sizeof *r);
      if (!r) {
        rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
        goto done;
      }
      p->rot = r;
      int j = p->n_rot++;
      while (j > 0 && r[j - 1] > p->inst[i].aux) r[j] = r[j - 1], j--;
      r[j] = p->inst[i].aux;
    }
  for (int i = 0; i < p->n_linear; i++)
    if ((rc = fhe_linear_index(ctx, p, &p->linears[i]))) goto done;
  for (int i = 0; i < p->n_inst; i++) /* each linear's layer: its packing and the diagonals that run */
    if (p->inst[i].kind == FHE_OP_LINEAR) {
      const struct fhe_linear *lin = &p->linears[p->inst[i].aux];
      struct fhe_layer *ly = &p->layers[p->inst[i].layer];
      snprintf(ly->packing, sizeof ly->packing, "%s, %lld diagonals", lin->kind, (long long)lin->ndiag);
    }
  if (p->real_boot && (rc = boot_key_estimate(ctx, p))) goto done;
  {
    /* the key budget: keys beyond it become chains of power-of-two rotations */
    int max_keys = p->opts.max_keys;
    if (max_keys <= 0) {
      double budget = (double)(p->opts.key_mb > 0 ? p->opts.key_mb : 6144) * (1 << 20);
      double k = budget / fhe_key_bytes(p) - 1; /* the relinearisation key */
      max_keys = k > 1e6 ? 1000000 : (int)k;
    }
    /* the default budget is not a hard limit: the power-of-two keys, the fewest any program runs with, are
    ** kept even when they exceed it (resnet-s at N = 2^16: 15 keys of 420 MiB); --max-keys or --key-mb is */
    const bool soft = p->opts.max_keys <= 0 && p->opts.key_mb <= 0;
    if ((rc = fhe_restrict_keys(ctx, p, max_keys, soft))) goto done;
  }
  for (int i = 0; i < p->n_linear; i++) /* how the rotations run with the final key set */
    if ((rc = fhe_linear_schedule(ctx, p, &p->linears[i]))) goto done;
  if ((rc = plan_scales(ctx, p))) goto done;
  hash_program(p);
  fhe_plan_estimate(p);
done:
  for (int i = 0; i < L.nv; i++) {
    fhe_lmap_free(L.v[i].m);
    free(L.v[i].nodes);
  }
  free(L.v);
  free(L.used);
  pn_strmap_free(&L.map);
  pn_graph_free(L.g);
  if (rc) {
    pn_fhe_plan_free(p);
    return rc;
  }
  *out = p;
  return PN_OK;
}

/* With copies of the input allowed (replicate 0), they are placed one extent apart and, compiled again, moved by a
** margin and to a power-of-two stride (COPIES_CORNER_POW2; when that moves nothing, the second compile stops after
** lowering), and the plan the cost model estimates fastest is kept (ties: the first). The margin alone and the
** power-of-two stride alone are not tried (never the fastest on the reference models, docs/fhe.md): a model whose
** input gets copies compiles at most twice. */
int pn_fhe_compile(struct pn_ctx *ctx, const struct pn_graph *model, const struct pn_fhe_opts *opts,
                   struct pn_fhe_plan **out) {
  const int r = opts ? opts->replicate : 0;
  if (r < 0 || r >= COPIES_COUNT) return compile_once(ctx, model, opts, COPIES_NONE, 0, out);
  int rc = compile_once(ctx, model, opts, r ? r : COPIES_EXTENT, 0, out);
  if (rc || r || (*out)->layouts[(*out)->in_layout].rep <= 1) return rc;
  struct pn_fhe_plan_info best, in;
  pn_fhe_plan_get_info(*out, &best);
  struct pn_ctx sub = {0};
  struct pn_fhe_plan *q;
  if (compile_once(&sub, model, opts, COPIES_CORNER_POW2, 1, &q)) return PN_OK; /* not moved, or does not compile */
  pn_fhe_plan_get_info(q, &in);
  if (in.est_seconds < best.est_seconds) {
    pn_fhe_plan_free(*out);
    *out = q;
  } else {
    pn_fhe_plan_free(q);
  }
  return PN_OK;
}
