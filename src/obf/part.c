/* part.c - Proteus parts: export as standalone models, anonymization, reassembly, verification.
**
** A part's boundary is its interface: values it reads from elsewhere become graph inputs, values
** it produces for elsewhere become graph outputs, with the shapes the model's value info gives.
** Anonymization renames everything at random and swaps weights for decoys; join renames the
** boundary back, keeps each part's internals apart with a per-part prefix and restores the real
** weights by name. */
#include "obf/obf.h"
#include "obf/obf_ngram.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/exec.h"
#include "util/arena.h"
#include "util/prg.h"
#include "util/status.h"
#include "util/strmap.h"
#include "util/wipe.h"

static int nomem(struct pn_ctx *ctx) { return pn_err(ctx, PN_ERR_NOMEM, "out of memory"); }

static bool is_output(const struct pn_graph *g, const char *name) {
  for (int i = 0; i < g->n_outputs; i++)
    if (!strcmp(g->outputs[i].name, name)) return true;
  return false;
}

struct pn_node *pn_obf_copy_node(struct pn_graph *d, const struct pn_node *s, const char *nm,
                                 const char *(*rename)(void *, const char *), void *user, bool keep_doc) {
  const char **in = pn_arena_alloc(d->arena, ((size_t)s->n_in + 1) * sizeof *in);
  const char **out = pn_arena_alloc(d->arena, ((size_t)s->n_out + 1) * sizeof *out);
  if (!in || !out) return NULL;
  for (int k = 0; k < s->n_in; k++) in[k] = !s->in[k][0] ? "" : rename ? rename(user, s->in[k]) : s->in[k];
  for (int k = 0; k < s->n_out; k++)
    out[k] = !s->out[k][0] ? "" : rename ? rename(user, s->out[k]) : s->out[k];
  for (int k = 0; k < s->n_in; k++)
    if (!in[k]) return NULL;
  for (int k = 0; k < s->n_out; k++)
    if (!out[k]) return NULL;
  struct pn_node *n = pn_graph_add_node(d, s->op_type, nm, s->n_in, in, s->n_out, out);
  if (!n) return NULL;
  struct pn_arena *a = d->arena;
  n->domain = pn_arena_strdup(a, s->domain ? s->domain : "");
  if (keep_doc && s->doc) n->doc = pn_arena_strdup(a, s->doc);
  if (s->n_attr) {
    n->attr = pn_arena_alloc(a, (size_t)s->n_attr * sizeof *n->attr);
    if (!n->attr) return NULL;
    n->n_attr = s->n_attr;
    for (int k = 0; k < s->n_attr; k++) {
      const struct pn_attr *sa = &s->attr[k];
      struct pn_attr *da = &n->attr[k];
      *da = *sa;
      da->name = pn_arena_strdup(a, sa->name);
      if (sa->s && !(da->s = pn_arena_memdup(a, sa->s, (size_t)sa->s_len))) return NULL;
      if (sa->t) {
        da->t = pn_tensor_new_arena(a, NULL, sa->t->dtype, sa->t->ndim, sa->t->dims);
        if (!da->t) return NULL;
        memcpy(da->t->data, sa->t->data, pn_tensor_nbytes(sa->t));
      }
      if (sa->floats && !(da->floats = pn_arena_memdup(a, sa->floats, (size_t)sa->n * sizeof(float))))
        return NULL;
      if (sa->ints && !(da->ints = pn_arena_memdup(a, sa->ints, (size_t)sa->n * sizeof(int64_t))))
        return NULL;
      if (sa->strings) {
        da->strings = pn_arena_alloc(a, (size_t)(sa->n ? sa->n : 1) * sizeof(char *));
        if (!da->strings) return NULL;
        for (int64_t j = 0; j < sa->n; j++) da->strings[j] = pn_arena_strdup(a, sa->strings[j]);
      }
    }
  }
  return n;
}

static struct pn_value *add_typed(struct pn_graph *d, bool input, const char *name,
                                  const struct pn_value *src) {
  enum pn_dtype dt = src ? src->dtype : PN_DT_UNDEFINED;
  int nd = src ? src->ndim : -1;
  return input ? pn_graph_add_input(d, name, dt, nd, src ? src->dims : NULL)
               : pn_graph_add_output(d, name, dt, nd, src ? src->dims : NULL);
}

static int copy_opsets(struct pn_graph *d, const struct pn_graph *s) {
  for (int i = 0; i < s->n_opsets; i++) {
    int64_t have = pn_graph_opset(d, s->opsets[i].domain);
    if (s->opsets[i].version > have && pn_graph_set_opset(d, s->opsets[i].domain, s->opsets[i].version))
      return PN_ERR_NOMEM;
  }
  return PN_OK;
}

static int extract(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_obf_partition *p, int part,
                   bool shared, struct pn_graph **out) {
  *out = NULL;
  if (part < 0 || part >= p->n_parts || p->n_nodes != g->n_nodes)
    return pn_err(ctx, PN_ERR_INVALID, "extract: part %d out of range", part);
  struct pn_graph *d = pn_graph_new();
  if (!d) return nomem(ctx);
  struct pn_strmap produced = {0}, seen = {0};
  int rc = PN_OK;
  d->n_opsets = 0;
  if (copy_opsets(d, g)) goto oom;
  d->name = pn_arena_printf(d->arena, "part%d", part);
  for (int i = 0; i < g->n_nodes; i++) {
    if (p->part_of[i] != part) continue;
    const struct pn_node *s = g->nodes[i];
    for (int k = 0; k < s->n_in; k++) {
      const char *v = s->in[k];
      if (!v[0] || pn_strmap_get(&produced, v, 0) || pn_strmap_get(&seen, v, 0)) continue;
      if (pn_strmap_put(&seen, v, 1)) goto oom;
      const struct pn_tensor *t = pn_graph_find_init(g, v);
      if (t) {
        if (!(shared ? pn_graph_add_init_shared : pn_graph_add_init)(d, t, v)) goto oom;
        continue;
      }
      const struct pn_value *vi = pn_graph_find_value(g, v);
      if (!vi || vi->ndim < 0 || vi->dtype == PN_DT_UNDEFINED) {
        rc = pn_err(ctx, PN_ERR_INVALID, "extract part %d: boundary value '%s' has no known type/shape",
                    part, v);
        goto fail;
      }
      if (!add_typed(d, true, v, vi)) goto oom;
    }
    if (!pn_obf_copy_node(d, s, s->name, NULL, NULL, true)) goto oom;
    for (int k = 0; k < s->n_out; k++)
      if (s->out[k][0] && pn_strmap_put(&produced, s->out[k], 1)) goto oom;
  }
  /* outputs: produced here, read by another part or a model output */
  for (int i = 0; i < g->n_nodes; i++) {
    if (p->part_of[i] != part) continue;
    const struct pn_node *s = g->nodes[i];
    for (int k = 0; k < s->n_out; k++) {
      const char *v = s->out[k];
      if (!v[0]) continue;
      bool needed = is_output(g, v);
      for (int j = 0; j < g->n_nodes && !needed; j++) {
        if (p->part_of[j] == part) continue;
        for (int q = 0; q < g->nodes[j]->n_in && !needed; q++) needed = !strcmp(g->nodes[j]->in[q], v);
      }
      if (!needed) continue;
      const struct pn_value *vi = pn_graph_find_value(g, v);
      if (!vi || vi->ndim < 0 || vi->dtype == PN_DT_UNDEFINED) {
        rc = pn_err(ctx, PN_ERR_INVALID, "extract part %d: boundary value '%s' has no known type/shape",
                    part, v);
        goto fail;
      }
      if (!add_typed(d, false, v, vi)) goto oom;
    }
  }
  if (d->n_outputs == 0) {
    rc = pn_err(ctx, PN_ERR_INVALID, "extract part %d: the part produces nothing used elsewhere", part);
    goto fail;
  }
  pn_strmap_free(&produced);
  pn_strmap_free(&seen);
  *out = d;
  return PN_OK;
oom:
  rc = nomem(ctx);
fail:
  pn_strmap_free(&produced);
  pn_strmap_free(&seen);
  pn_graph_free(d);
  return rc;
}

/* ---- anonymization ---- */

int pn_obf_extract(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_obf_partition *p,
                   int part, struct pn_graph **out) {
  return extract(ctx, g, p, part, false, out);
}

int pn_obf_extract_shared(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_obf_partition *p,
                          int part, struct pn_graph **out) {
  return extract(ctx, g, p, part, true, out);
}

struct anon {
  struct pn_graph *d;
  struct pn_prg *prg;
  struct pn_strmap map;        /* original name -> index into to[] */
  struct pn_strmap used;       /* anonymous names handed out */
  const char **to;
  int n, cap;
  bool oom;
};

static const char *fresh(struct anon *an, char prefix) {
  for (;;) {
    uint8_t r[6];
    pn_prg_bytes(an->prg, r, sizeof r);
    char *s = pn_arena_printf(an->d->arena, "%c%02x%02x%02x%02x%02x%02x", prefix, r[0], r[1], r[2],
                              r[3], r[4], r[5]);
    if (!s) return NULL;
    if (pn_strmap_get(&an->used, s, 0)) continue;
    if (pn_strmap_put(&an->used, s, 1)) return NULL;
    return s;
  }
}

static const char *anon_name(void *user, const char *name) {
  struct anon *an = user;
  int i = pn_strmap_get(&an->map, name, -1);
  if (i >= 0) return an->to[i];
  if (an->n == an->cap) {
    int nc = an->cap ? an->cap * 2 : 64;
    const char **t = realloc(an->to, (size_t)nc * sizeof *t);
    if (!t) return NULL;
    an->to = t;
    an->cap = nc;
  }
  const char *s = fresh(an, 'v');
  if (!s || pn_strmap_put(&an->map, name, an->n)) return NULL;
  an->to[an->n++] = s;
  return s;
}

/* The sums run in DECOY_LANES independent partial sums, so they vectorise without reassociating
** one chain. */
#define DECOY_LANES 16

void pn_obf_weight_stats(const struct pn_tensor *real, double *mean_out, double *sd_out, bool *nonneg_out) {
  int64_t n = pn_tensor_numel(real), i = 0;
  const float *x = real->data;
  double sum[DECOY_LANES] = {0}, sq[DECOY_LANES] = {0};
  for (; i + DECOY_LANES <= n; i += DECOY_LANES)
    for (int l = 0; l < DECOY_LANES; l++) sum[l] += x[i + l];
  for (int l = 0; i < n; i++, l++) sum[l] += x[i];
  double tot = 0;
  for (int l = 0; l < DECOY_LANES; l++) tot += sum[l];
  bool nonneg = true; /* NaN counts as negative, as before; real weights stop at the first one */
  for (i = 0; i < n && nonneg; i++) nonneg = x[i] >= 0;
  double mean = n ? tot / (double)n : 0;
  for (i = 0; i + DECOY_LANES <= n; i += DECOY_LANES)
    for (int l = 0; l < DECOY_LANES; l++) sq[l] += (x[i + l] - mean) * (x[i + l] - mean);
  for (int l = 0; i < n; i++, l++) sq[l] += (x[i] - mean) * (x[i] - mean);
  double var = 0;
  for (int l = 0; l < DECOY_LANES; l++) var += sq[l];
  *mean_out = mean;
  *sd_out = n > 1 ? sqrt(var / (double)(n - 1)) : 0;
  *nonneg_out = nonneg;
}

/* A decoy's bytes [off, off + len) (pn_onnx_gen's fill): normal values with its mean and standard
** deviation (absolute values when nonneg) from a PRG of the decoy's own seed, made in order. */
static int decoy_fill(void *user, void *buf, size_t off, size_t len) {
  struct pn_obf_decoy *d = user;
  if (off == 0) {
    struct pn_ctx c = {0};
    if (d->prg) pn_prg_free(d->prg);
    else if (!(d->prg = malloc(sizeof *d->prg))) return PN_ERR_NOMEM;
    if (pn_prg_init(&c, d->prg, d->seed)) {
      free(d->prg);
      d->prg = NULL;
      return PN_ERR_NOMEM;
    }
  }
  if (!d->prg) return PN_ERR_NOMEM;
  float *y = buf;
  size_t n = len / sizeof *y;
  pn_prg_normal_f32(d->prg, y, n, d->mean, d->sd);
  if (d->nonneg)
    for (size_t i = 0; i < n; i++) y[i] = fabsf(y[i]);
  if (off + len >= pn_tensor_nbytes(d->t)) {
    pn_prg_free(d->prg);
    free(d->prg);
    d->prg = NULL;
  }
  return PN_OK;
}

void pn_obf_decoys_free(struct pn_obf_decoys *dec) {
  for (int i = 0; i < dec->n; i++)
    if (dec->d[i].prg) {
      pn_prg_free(dec->d[i].prg);
      free(dec->d[i].prg);
    }
  if (dec->d) pn_wipe(dec->d, (size_t)dec->n * sizeof *dec->d);
  free(dec->d);
  free(dec->gen);
  memset(dec, 0, sizeof *dec);
}

static void shuffle(struct pn_prg *prg, int *a, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)pn_prg_uniform(prg, (uint64_t)i + 1), t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

int pn_obf_anonymize_deferred(struct pn_ctx *ctx, const struct pn_graph *part, const struct pn_obf_wspec *spec,
                              int64_t opset, struct pn_prg *prg, struct pn_graph **out,
                              struct pn_obf_names *io, struct pn_obf_names *weights,
                              struct pn_obf_decoys *dec) {
  *out = NULL;
  memset(dec, 0, sizeof *dec);
  memset(io, 0, sizeof *io);
  memset(weights, 0, sizeof *weights);
  int n = part->n_nodes, rc = PN_OK;
  struct anon an = {.prg = prg};
  int *order = malloc(((size_t)n + 1) * sizeof *order);
  int nperm = part->n_inputs > part->n_outputs ? part->n_inputs : part->n_outputs;
  if (part->n_inits > nperm) nperm = part->n_inits;
  int *perm = malloc(((size_t)nperm + 1) * sizeof *perm);
  int *sp = malloc(((size_t)part->n_inits + 1) * sizeof *sp); /* initializer -> spec entry, or -1 */
  dec->d = calloc((size_t)part->n_inits + 1, sizeof *dec->d);
  dec->gen = calloc((size_t)part->n_inits + 1, sizeof *dec->gen);
  an.d = pn_graph_new();
  if (!order || !perm || !sp || !dec->d || !dec->gen || !an.d) goto oom;
  for (int i = 0; i < part->n_inits; i++) sp[i] = -1;
  for (int i = 0; spec && i < spec->n; i++) sp[spec->init[i]] = i;
  struct pn_graph *d = an.d;
  d->n_opsets = 0;
  if (pn_graph_set_opset(d, "", opset)) goto oom;
  for (int i = 0; i < n; i++) {
    const char *dom = part->nodes[i]->domain;
    if (dom && *dom && strcmp(dom, "ai.onnx") && !pn_graph_opset(d, dom) &&
        pn_graph_set_opset(d, dom, pn_graph_opset(part, dom) ? pn_graph_opset(part, dom) : 1))
      goto oom;
  }
  d->name = fresh(&an, 'g');
  d->producer_name = "";
  d->producer_version = "";
  if (!d->name) goto oom;
  if ((rc = pn_obf_topo_order(ctx, part, prg, order))) goto fail;
  for (int i = 0; i < n; i++) {
    const char *nm = fresh(&an, 'n');
    if (!nm || !pn_obf_copy_node(d, part->nodes[order[i]], nm, anon_name, &an, false) || an.oom) goto oom;
  }
  /* runtime inputs, outputs and initializers, each in a random order */
  int n_rt = 0;
  for (int i = 0; i < part->n_inputs; i++)
    if (pn_graph_is_runtime_input(part, i)) perm[n_rt++] = i;
  shuffle(prg, perm, n_rt);
  io->n = n_rt + part->n_outputs;
  io->from = pn_arena_alloc(d->arena, ((size_t)io->n + 1) * sizeof(char *));
  io->to = pn_arena_alloc(d->arena, ((size_t)io->n + 1) * sizeof(char *));
  if (!io->from || !io->to) goto oom;
  for (int i = 0; i < n_rt; i++) {
    const struct pn_value *v = &part->inputs[perm[i]];
    const char *a = anon_name(&an, v->name);
    if (!a || !pn_graph_add_input(d, a, v->dtype, v->ndim, v->dims)) goto oom;
    io->from[i] = a;
    io->to[i] = pn_arena_strdup(d->arena, v->name);
  }
  for (int i = 0; i < part->n_outputs; i++) perm[i] = i;
  shuffle(prg, perm, part->n_outputs);
  for (int i = 0; i < part->n_outputs; i++) {
    const struct pn_value *v = &part->outputs[perm[i]];
    const char *a = anon_name(&an, v->name);
    if (!a || !pn_graph_add_output(d, a, v->dtype, v->ndim, v->dims)) goto oom;
    io->from[n_rt + i] = a;
    io->to[n_rt + i] = pn_arena_strdup(d->arena, v->name);
  }
  for (int i = 0; i < part->n_inits; i++) perm[i] = i;
  shuffle(prg, perm, part->n_inits);
  weights->from = pn_arena_alloc(d->arena, ((size_t)part->n_inits + 1) * sizeof(char *));
  weights->to = pn_arena_alloc(d->arena, ((size_t)part->n_inits + 1) * sizeof(char *));
  if (!weights->from || !weights->to) goto oom;
  for (int i = 0; i < part->n_inits; i++) {
    const struct pn_tensor *t = part->inits[perm[i]];
    const char *a = anon_name(&an, t->name);
    if (!a) goto oom;
    if (t->dtype == PN_DT_FLOAT && pn_tensor_numel(t) > 1) {
      /* no memory: the values are made as the file is written (pn_obf_decoy) */
      struct pn_tensor z = {.dtype = t->dtype, .ndim = t->ndim};
      memcpy(z.dims, t->dims, sizeof z.dims);
      struct pn_tensor *c = pn_graph_add_init_shared(d, &z, a);
      if (!c) goto oom;
      struct pn_obf_decoy *y = &dec->d[dec->n];
      double mean, sd;
      if (sp[perm[i]] >= 0) pn_obf_wspec_stats(spec, sp[perm[i]], pn_tensor_numel(t), &mean, &sd, &y->nonneg);
      else pn_obf_weight_stats(t, &mean, &sd, &y->nonneg);
      y->t = c;
      y->mean = (float)mean;
      y->sd = (float)sd;
      pn_prg_bytes(prg, y->seed, sizeof y->seed);
      dec->gen[dec->n] = (struct pn_onnx_gen){.t = c, .fill = decoy_fill, .user = y};
      dec->n++;
      weights->from[weights->n] = a;
      weights->to[weights->n++] = pn_arena_strdup(d->arena, t->name);
    } else { /* operator constant: shapes, axes, eps */
      struct pn_tensor *c = pn_graph_new_init(d, a, t->dtype, t->ndim, t->dims);
      if (!c) goto oom;
      memcpy(c->data, t->data, pn_tensor_nbytes(t));
    }
  }
  free(order);
  free(perm);
  free(sp);
  free(an.to);
  pn_strmap_free(&an.map);
  pn_strmap_free(&an.used);
  *out = d;
  return PN_OK;
oom:
  rc = nomem(ctx);
fail:
  free(order);
  free(perm);
  free(sp);
  pn_obf_decoys_free(dec);
  free(an.to);
  pn_strmap_free(&an.map);
  pn_strmap_free(&an.used);
  pn_graph_free(an.d);
  memset(io, 0, sizeof *io);
  memset(weights, 0, sizeof *weights);
  return rc;
}

int pn_obf_anonymize_spec(struct pn_ctx *ctx, const struct pn_graph *part, const struct pn_obf_wspec *spec,
                          int64_t opset, struct pn_prg *prg, struct pn_graph **out, struct pn_obf_names *io,
                          struct pn_obf_names *weights) {
  struct pn_obf_decoys dec;
  int rc = pn_obf_anonymize_deferred(ctx, part, spec, opset, prg, out, io, weights, &dec);
  if (rc) return rc;
  /* the decoys made in memory, as split makes them into its files */
  for (int i = 0; i < dec.n && !rc; i++) {
    struct pn_tensor *t = (struct pn_tensor *)dec.d[i].t; /* an initializer of *out */
    size_t nb = pn_tensor_nbytes(t);
    if (!(t->data = pn_arena_alloc((*out)->arena, nb)) || decoy_fill(&dec.d[i], t->data, 0, nb)) rc = nomem(ctx);
  }
  pn_obf_decoys_free(&dec);
  if (rc) {
    pn_graph_free(*out);
    *out = NULL;
    memset(io, 0, sizeof *io);
    memset(weights, 0, sizeof *weights);
  }
  return rc;
}

int pn_obf_anonymize(struct pn_ctx *ctx, const struct pn_graph *part, int64_t opset,
                     struct pn_prg *prg, struct pn_graph **out, struct pn_obf_names *io,
                     struct pn_obf_names *weights) {
  return pn_obf_anonymize_spec(ctx, part, NULL, opset, prg, out, io, weights);
}

/* ---- reassembly ---- */

struct rename_join {
  struct pn_graph *d;
  const struct pn_obf_names *io;
  struct pn_strmap iomap;      /* anonymous boundary name -> index */
  int part;
};

static const char *join_name(void *user, const char *name) {
  struct rename_join *r = user;
  int i = pn_strmap_get(&r->iomap, name, -1);
  if (i >= 0) return r->io->to[i];
  return pn_arena_printf(r->d->arena, "obf%d/%s", r->part, name);
}

static int shape_mismatch(struct pn_ctx *ctx, const char *label, const char *what, const char *anon,
                          const struct pn_value *got, const struct pn_value *want) {
  char a[128], b[128];
  return pn_err(ctx, PN_ERR_MISMATCH,
                "%s: boundary %s '%s' (model value '%s') is %s %s, the model needs %s %s", label,
                what, anon, want->name, pn_dtype_name(got->dtype),
                pn_shape_str(a, sizeof a, got->ndim, got->dims), pn_dtype_name(want->dtype),
                pn_shape_str(b, sizeof b, want->ndim, want->dims));
}

static bool same_type(const struct pn_value *x, const struct pn_value *y) {
  if (x->dtype != y->dtype || x->ndim != y->ndim) return false;
  for (int k = 0; k < x->ndim && k < PN_MAX_DIMS; k++)
    if (x->dims[k] != y->dims[k] && x->dims[k] >= 0 && y->dims[k] >= 0) return false;
  return true;
}

static int join_one(struct pn_ctx *ctx, struct pn_graph *d, const struct pn_graph *real,
                    const struct pn_obf_join_part *jp, int part, int n_in) {
  const struct pn_graph *g = jp->g;
  const char *label = jp->label ? jp->label : "part";
  struct rename_join r = {.d = d, .io = &jp->io, .part = part};
  struct pn_strmap wmap = {0};
  int rc = PN_OK;
  for (int i = 0; i < jp->io.n; i++)
    if (pn_strmap_put(&r.iomap, jp->io.from[i], i)) goto oom;
  for (int i = 0; i < jp->weights.n; i++)
    if (pn_strmap_put(&wmap, jp->weights.from[i], i)) goto oom;
  /* interface: every boundary input/output present with the model's type */
  for (int i = 0; i < jp->io.n; i++) {
    bool input = i < n_in;
    const struct pn_value *got = NULL;
    if (input) {
      for (int k = 0; k < g->n_inputs && !got; k++)
        if (!strcmp(g->inputs[k].name, jp->io.from[i])) got = &g->inputs[k];
    } else {
      for (int k = 0; k < g->n_outputs && !got; k++)
        if (!strcmp(g->outputs[k].name, jp->io.from[i])) got = &g->outputs[k];
    }
    if (!got) {
      rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: boundary %s '%s' is missing (part altered, or the secret "
                  "belongs to another split)", label, input ? "input" : "output", jp->io.from[i]);
      goto out;
    }
    const struct pn_value *want = pn_graph_find_value(real, jp->io.to[i]);
    if (!want) {
      rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: boundary value '%s' is not a value of the model", label,
                  jp->io.to[i]);
      goto out;
    }
    if (!same_type(got, want)) {
      rc = shape_mismatch(ctx, label, input ? "input" : "output", jp->io.from[i], got, want);
      goto out;
    }
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *s = g->nodes[i];
    /* an optimizer may leave nodes unnamed (ORT did in MobileNetV3's parts): number them */
    const char *nm = s->name && *s->name ? pn_arena_printf(d->arena, "obf%d/%s", part, s->name)
                                         : pn_arena_printf(d->arena, "obf%d/#%d", part, i);
    if (!nm || !pn_obf_copy_node(d, s, nm, join_name, &r, false)) goto oom;
  }
  for (int i = 0; i < g->n_inits; i++) {
    const struct pn_tensor *t = g->inits[i];
    if (!t->name) continue;
    const char *nm = join_name(&r, t->name);
    if (!nm) goto oom;
    int w = pn_strmap_get(&wmap, t->name, -1);
    const struct pn_tensor *src = t;
    if (w >= 0) {
      src = pn_graph_find_init(real, jp->weights.to[w]);
      if (!src) {
        rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: initializer '%s' maps to '%s', which the model lacks",
                    label, t->name, jp->weights.to[w]);
        goto out;
      }
      if (!pn_tensor_same_shape(src, t)) {
        char a[128], b[128];
        rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: initializer '%s' has shape %s, the real weight '%s' %s",
                    label, t->name, pn_shape_str(a, sizeof a, t->ndim, t->dims), src->name,
                    pn_shape_str(b, sizeof b, src->ndim, src->dims));
        goto out;
      }
    } else if (t->dtype == PN_DT_FLOAT && pn_tensor_numel(t) > 1) {
      rc = pn_err(ctx, PN_ERR_UNSUPPORTED,
                  "%s: initializer '%s' is not in the secret: the optimizer derived it from decoy "
                  "weights, and its real value cannot be restored", label, t->name);
      goto out;
    }
    /* a real weight is shared with the model, not copied (see pn_obf_join_parts); the part's own
    ** small constants are copied, as the part may be freed once added */
    if (!(w >= 0 ? pn_graph_add_init_shared(d, src, nm) : pn_graph_add_init(d, src, nm))) goto oom;
  }
  if (copy_opsets(d, g)) goto oom;
  goto out;
oom:
  rc = nomem(ctx);
out:
  pn_strmap_free(&r.iomap);
  pn_strmap_free(&wmap);
  return rc;
}

int pn_obf_join_begin(struct pn_ctx *ctx, const struct pn_graph *real, struct pn_graph **out) {
  *out = NULL;
  struct pn_graph *d = pn_graph_new();
  if (!d) return nomem(ctx);
  d->n_opsets = 0;
  d->name = pn_arena_strdup(d->arena, real->name);
  if (copy_opsets(d, real)) goto oom;
  for (int i = 0; i < real->n_inputs; i++)
    if (pn_graph_is_runtime_input(real, i) && !add_typed(d, true, real->inputs[i].name, &real->inputs[i]))
      goto oom;
  for (int i = 0; i < real->n_outputs; i++)
    if (!add_typed(d, false, real->outputs[i].name, &real->outputs[i])) goto oom;
  *out = d;
  return PN_OK;
oom:
  pn_graph_free(d);
  return nomem(ctx);
}

int pn_obf_join_add(struct pn_ctx *ctx, struct pn_graph *d, const struct pn_graph *real,
                    const struct pn_obf_join_part *part, int index) {
  int n_in = part->n_in < 0 || part->n_in > part->io.n ? part->io.n : part->n_in;
  return join_one(ctx, d, real, part, index, n_in);
}

int pn_obf_join_end(struct pn_ctx *ctx, struct pn_graph *d) {
  /* every model output must now be produced */
  for (int i = 0; i < d->n_outputs; i++)
    if (pn_graph_find_producer(d, d->outputs[i].name) < 0 && !pn_graph_find_init(d, d->outputs[i].name)) {
      bool passthrough = false;
      for (int k = 0; k < d->n_inputs; k++) passthrough |= !strcmp(d->inputs[k].name, d->outputs[i].name);
      if (!passthrough)
        return pn_err(ctx, PN_ERR_MISMATCH, "join: model output '%s' is produced by no real part",
                      d->outputs[i].name);
    }
  int rc = pn_obf_topo_sort(ctx, d, NULL);
  if (rc) pn_err_prefix(ctx, "join");
  return rc;
}

int pn_obf_join_parts(struct pn_ctx *ctx, const struct pn_graph *real,
                      const struct pn_obf_join_part *parts, int n_parts, struct pn_graph **out) {
  struct pn_graph *d = NULL;
  int rc = pn_obf_join_begin(ctx, real, &d);
  for (int p = 0; p < n_parts && !rc; p++) rc = pn_obf_join_add(ctx, d, real, &parts[p], p);
  if (!rc) rc = pn_obf_join_end(ctx, d);
  if (rc) pn_graph_free(d);
  else *out = d;
  return rc;
}

/* ---- verification ---- */

static struct pn_tensor *random_input(struct pn_prg *prg, const struct pn_value *v) {
  int64_t dims[PN_MAX_DIMS];
  int nd = v->ndim < 0 ? 0 : v->ndim;
  for (int k = 0; k < nd; k++) dims[k] = v->dims[k] > 0 ? v->dims[k] : 1;
  struct pn_tensor *t = pn_tensor_new(v->dtype, nd, dims);
  if (!t) return NULL;
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    switch (v->dtype) {
    case PN_DT_FLOAT: ((float *)t->data)[i] = (float)pn_prg_normal(prg); break;
    case PN_DT_DOUBLE: ((double *)t->data)[i] = pn_prg_normal(prg); break;
    case PN_DT_INT64: ((int64_t *)t->data)[i] = (int64_t)pn_prg_uniform(prg, 2); break;
    case PN_DT_INT32: ((int32_t *)t->data)[i] = (int32_t)pn_prg_uniform(prg, 2); break;
    case PN_DT_BOOL:
    case PN_DT_UINT8:
    case PN_DT_INT8: ((uint8_t *)t->data)[i] = (uint8_t)pn_prg_uniform(prg, 2); break;
    default: break;
    }
  }
  return t;
}

int pn_obf_compare(struct pn_ctx *ctx, struct pn_graph *a, struct pn_graph *b, struct pn_prg *prg,
                   int runs, double *max_abs_err, double *max_abs_ref) {
  /* one executor at a time, each running every node as written: a fused executor keeps a packed
  ** copy of every constant MatMul operand and Conv kernel, another model's worth of weights. a
  ** runs on every input set and its outputs are kept, then b runs on the same inputs */
  const struct pn_exec_opts xo = {.no_fuse = true};
  *max_abs_err = 0;
  double ref = 0;
  struct pn_exec *ea = NULL, *eb = NULL;
  int rc, na = 0, oa = 0, nr = runs > 0 ? runs : 0;
  const char **in_name = NULL, **out_name = NULL;
  struct pn_tensor **ia = NULL, **ra = NULL, **ib = NULL, **rb = NULL; /* ia, ra: [run][i] */
  if ((rc = pn_exec_new(ctx, a, &xo, &ea))) return rc;
  na = pn_exec_n_inputs(ea);
  oa = pn_exec_n_outputs(ea);
  in_name = calloc((size_t)na + 1, sizeof *in_name);
  out_name = calloc((size_t)oa + 1, sizeof *out_name);
  ia = calloc((size_t)nr * (size_t)na + 1, sizeof *ia);
  ra = calloc((size_t)nr * (size_t)oa + 1, sizeof *ra);
  if (!in_name || !out_name || !ia || !ra) {
    rc = nomem(ctx);
    goto out;
  }
  /* names point into a, which outlives its executor */
  for (int i = 0; i < na; i++) in_name[i] = pn_exec_input(ea, i)->name;
  for (int i = 0; i < oa; i++) out_name[i] = pn_exec_output(ea, i)->name;
  for (int r = 0; r < nr; r++) {
    for (int i = 0; i < na; i++)
      if (!(ia[r * na + i] = random_input(prg, pn_exec_input(ea, i)))) {
        rc = nomem(ctx);
        goto out;
      }
    if ((rc = pn_exec_run(ctx, ea, (const struct pn_tensor *const *)&ia[r * na], &ra[r * oa]))) goto out;
  }
  pn_exec_free(ea);
  ea = NULL;
  if ((rc = pn_exec_new(ctx, b, &xo, &eb))) goto out;
  int nb = pn_exec_n_inputs(eb), ob = pn_exec_n_outputs(eb);
  if (na != nb || oa != ob) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "compare: %d/%d inputs and %d/%d outputs differ", na, nb, oa, ob);
    goto out;
  }
  ib = calloc((size_t)nb + 1, sizeof *ib);
  rb = calloc((size_t)ob + 1, sizeof *rb);
  if (!ib || !rb) {
    rc = nomem(ctx);
    goto out;
  }
  for (int r = 0; r < nr && !rc; r++) {
    for (int i = 0; i < na; i++) {
      int j = 0;
      while (j < nb && strcmp(pn_exec_input(eb, j)->name, in_name[i])) j++;
      if (j == nb) {
        rc = pn_err(ctx, PN_ERR_MISMATCH, "compare: input '%s' missing from the second model", in_name[i]);
        goto out;
      }
      ib[j] = ia[r * na + i];
    }
    if ((rc = pn_exec_run(ctx, eb, (const struct pn_tensor *const *)ib, rb))) goto out;
    for (int i = 0; i < oa && !rc; i++) {
      const struct pn_tensor *x_ = ra[r * oa + i];
      int j = 0;
      while (j < ob && strcmp(pn_exec_output(eb, j)->name, out_name[i])) j++;
      if (j == ob || !pn_tensor_same_shape(x_, rb[j])) {
        rc = pn_err(ctx, PN_ERR_MISMATCH, "compare: output '%s' missing or of another shape", out_name[i]);
        break;
      }
      int64_t n = pn_tensor_numel(x_);
      for (int64_t e = 0; e < n; e++) {
        double x = pn_tensor_get_f64(x_, e), y = pn_tensor_get_f64(rb[j], e);
        double dd = fabs(x - y);
        if (fabs(x) > ref) ref = fabs(x);
        if (!(dd <= *max_abs_err)) *max_abs_err = isnan(dd) ? INFINITY : dd;
      }
    }
    for (int i = 0; i < ob; i++) {
      pn_tensor_free(rb[i]);
      rb[i] = NULL;
    }
  }
out:
  if (max_abs_ref) *max_abs_ref = ref;
  if (ia)
    for (int i = 0; i < nr * na; i++) pn_tensor_free(ia[i]);
  if (ra)
    for (int i = 0; i < nr * oa; i++) pn_tensor_free(ra[i]);
  if (rb)
    for (int i = 0; eb && i < pn_exec_n_outputs(eb); i++) pn_tensor_free(rb[i]);
  free(in_name);
  free(out_name);
  free(ia);
  free(ra);
  free(ib);
  free(rb);
  pn_exec_free(ea);
  pn_exec_free(eb);
  return rc;
}
