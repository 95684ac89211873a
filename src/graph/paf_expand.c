/* paf_expand.c - PAF nodes rewritten as standard ONNX ops, for runtimes without ai.privnn.
**
** Each PafRelu / PafMaxPool becomes the float operations of its definition (paf.h) in the same
** order: the scale (Abs, ReduceMax, Max with the floor, times 2 for pools, Reciprocal; or 1/s, or nothing
** for s = 1), each stage by Horner in z^2 (Mul, Add with scalar coefficient initializers), then
** gain * (x + x P) for ReLU; for MaxPool a Pad (zeros), one strided Slice per window position and
** the halving tree of ((a + b) + (a - b) P((a - b) r)) * 0.5. New values and initializers are
** named "<node>/..." so that the rewrite is deterministic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "graph/paf.h"
#include "graph/passes.h"
#include "util/arena.h"
#include "util/status.h"

struct emitter {
  struct pn_ctx *ctx;
  struct pn_graph *g;
  const char *base;            /* the PAF node's label */
  int k;                       /* names made so far */
  int fail;
};

static const char *fresh(struct emitter *e, const char *what) {
  const char *s = pn_arena_printf(e->g->arena, "%s/%s%d", e->base, what, e->k++);
  if (!s) e->fail = 1;
  return s ? s : "";
}

/* A node op(ins) -> out (a fresh value when out is NULL); returns the output name. */
static const char *emit(struct emitter *e, const char *op, int n_in, const char *const *in, const char *out) {
  if (e->fail) return "";
  if (!out) out = fresh(e, "v");
  const char *name = fresh(e, op);
  if (!pn_graph_add_node(e->g, op, name, n_in, in, 1, &out)) e->fail = 1;
  return out;
}

static const char *emit2(struct emitter *e, const char *op, const char *a, const char *b, const char *out) {
  const char *in[2] = {a, b};
  return emit(e, op, 2, in, out);
}

static const char *konst(struct emitter *e, float v) {
  if (e->fail) return "";
  const char *name = fresh(e, "k");
  struct pn_tensor *t = pn_graph_new_init(e->g, name, PN_DT_FLOAT, 0, NULL);
  if (!t) {
    e->fail = 1;
    return "";
  }
  ((float *)t->data)[0] = v;
  return name;
}

static const char *konst_i64(struct emitter *e, int n, const int64_t *v) {
  if (e->fail) return "";
  const char *name = fresh(e, "i");
  struct pn_tensor *t = pn_graph_new_init(e->g, name, PN_DT_INT64, 1, (int64_t[]){n});
  if (!t) {
    e->fail = 1;
    return "";
  }
  memcpy(t->data, v, sizeof *v * (size_t)n);
  return name;
}

/* r = 1/s for the node: NULL for a static scale of exactly 1 (t = x), else a value name */
static const char *recip_scale(struct emitter *e, const struct pn_paf_node *pn, const char *x) {
  if (pn->scale) {
    float s = ((const float *)pn->scale->data)[0];
    return s == 1.0f ? NULL : konst(e, 1.0f / s);
  }
  const char *ax = emit(e, "Abs", 1, &x, NULL);
  const char *m = emit(e, "ReduceMax", 1, &ax, NULL);
  struct pn_node *rm = e->fail ? NULL : e->g->nodes[e->g->n_nodes - 1];
  if (rm && pn_node_set_int(e->g, rm, "keepdims", 0)) e->fail = 1;
  const char *mf = emit2(e, "Max", m, konst(e, PN_PAF_DS_FLOOR), NULL);
  if (pn->kind == PN_PAF_MAXPOOL) mf = emit2(e, "Mul", konst(e, 2.0f), mf, NULL); /* pools: 2 max|x| */
  return emit(e, "Reciprocal", 1, &mf, NULL);
}

/* P(t) for the node's coefficients */
static const char *chain(struct emitter *e, const struct pn_paf_node *pn, const char *t) {
  const struct pn_paf_form_def *d = pn_paf_form_def(pn->form);
  const float *c = pn->coeffs->data;
  const char *z = t;
  for (int s = 0, o = 0; s < d->n_stages; o += d->terms[s], s++) {
    int n = d->terms[s];
    if (n == 1) {
      z = emit2(e, "Mul", konst(e, c[o]), z, NULL);
      continue;
    }
    const char *u = emit2(e, "Mul", z, z, NULL);
    const char *a = emit2(e, "Mul", konst(e, c[o + n - 1]), u, NULL);
    for (int j = n - 2; j >= 0; j--) {
      a = emit2(e, "Add", a, konst(e, c[o + j]), NULL);
      if (j > 0) a = emit2(e, "Mul", a, u, NULL);
    }
    z = emit2(e, "Mul", a, z, NULL);
  }
  return z;
}

static void expand_relu(struct emitter *e, const struct pn_node *n, const struct pn_paf_node *pn) {
  const char *x = n->in[0], *r = recip_scale(e, pn, x);
  const char *t = r ? emit2(e, "Mul", x, r, NULL) : x;
  const char *p = chain(e, pn, t);
  const char *sum = emit2(e, "Add", x, emit2(e, "Mul", x, p, NULL), NULL);
  emit2(e, "Mul", konst(e, pn->gain), sum, n->out[0]);
}

static void expand_maxpool(struct emitter *e, const struct pn_node *n, const struct pn_paf_node *pn,
                           int64_t h, int64_t w) {
  const char *x = n->in[0], *r = recip_scale(e, pn, x), *xp = x;
  if (pn->p[0] || pn->p[1] || pn->p[2] || pn->p[3]) {
    int64_t pads[8] = {0, 0, pn->p[0], pn->p[1], 0, 0, pn->p[2], pn->p[3]};
    xp = emit2(e, "Pad", x, konst_i64(e, 8, pads), NULL);
  }
  int64_t oh = (h + pn->p[0] + pn->p[2] - pn->k[0]) / pn->s[0] + 1;
  int64_t ow = (w + pn->p[1] + pn->p[3] - pn->k[1]) / pn->s[1] + 1;
  int nl = (int)(pn->k[0] * pn->k[1]);
  const char *v[PN_PAF_MAX_WINDOW];
  const char *axes = konst_i64(e, 2, (int64_t[]){2, 3}), *steps = konst_i64(e, 2, pn->s);
  for (int64_t ki = 0, k = 0; ki < pn->k[0]; ki++)
    for (int64_t kj = 0; kj < pn->k[1]; kj++, k++) {
      int64_t st[2] = {ki, kj}, en[2] = {ki + pn->s[0] * (oh - 1) + 1, kj + pn->s[1] * (ow - 1) + 1};
      const char *in[5] = {xp, konst_i64(e, 2, st), konst_i64(e, 2, en), axes, steps};
      v[k] = emit(e, "Slice", 5, in, nl == 1 ? n->out[0] : NULL);
    }
  /* the halving tree of k_paf.c: pairs (0,1), (2,3), ...; an odd last one moves up */
  for (int cnt = nl; cnt > 1;) {
    int m = 0;
    for (int i = 0; i + 1 < cnt; i += 2) {
      const char *a = v[i], *b = v[i + 1], *d = emit2(e, "Sub", a, b, NULL);
      const char *p = chain(e, pn, r ? emit2(e, "Mul", d, r, NULL) : d);
      const char *sm = emit2(e, "Add", emit2(e, "Add", a, b, NULL), emit2(e, "Mul", d, p, NULL), NULL);
      bool last = cnt == 2;
      v[m++] = emit2(e, "Mul", sm, konst(e, 0.5f), last ? n->out[0] : NULL);
    }
    if (cnt & 1) v[m++] = v[cnt - 1];
    cnt = m;
  }
}

int pn_paf_expand(struct pn_ctx *ctx, struct pn_graph *g, int *count) {
  int done = 0, rc = PN_OK;
  if (count) *count = 0;
  if (pn_graph_opset(g, "") < 11)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "expanding PAF nodes needs ai.onnx opset >= 11 (Pad, Slice inputs); "
                  "the model imports %lld", (long long)pn_graph_opset(g, ""));
  for (int i = 0; i < g->n_nodes; i++) {
    struct pn_node *n = g->nodes[i];
    if (pn_paf_node_kind(n) < 0) continue;
    struct pn_paf_node pn;
    if ((rc = pn_paf_node_parse(ctx, g, n, &pn))) return rc;
    int64_t h = -1, w = -1;
    if (pn.kind == PN_PAF_MAXPOOL) {
      const struct pn_value *xv = pn_graph_find_value(g, n->in[0]);
      if (xv && xv->ndim == 4) {
        h = xv->dims[2];
        w = xv->dims[3];
      }
      if (h < 1 || w < 1)
        return pn_err(ctx, PN_ERR_UNSUPPORTED, "node '%s' (PafMaxPool): the input's height and width must be "
                      "known to expand it (run shape inference first)", pn_node_label(n));
    }
    struct emitter e = {ctx, g, pn_node_label(n), 0, 0};
    e.base = pn_arena_strdup(g->arena, e.base);
    if (!e.base) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    int before = g->n_nodes;
    if (pn.kind == PN_PAF_RELU) expand_relu(&e, n, &pn);
    else expand_maxpool(&e, n, &pn, h, w);
    if (e.fail) return pn_err(ctx, PN_ERR_NOMEM, "out of memory expanding node '%s'", e.base);
    (void)before;
    pn_graph_remove_node(g, i);
    i--;
    done++;
  }
  if (done) {
    /* the expanded nodes were appended: put them in order, drop C/S and the ai.privnn import */
    if ((rc = pn_graph_topo_sort(ctx, g))) return rc;
    if ((rc = pn_pass_prune_inits(ctx, g, NULL))) return rc;
    for (int k = 0; k < g->n_opsets; k++)
      if (g->opsets[k].domain && !strcmp(g->opsets[k].domain, PN_PAF_DOMAIN)) {
        memmove(g->opsets + k, g->opsets + k + 1, sizeof *g->opsets * (size_t)(g->n_opsets - k - 1));
        g->n_opsets--;
        k--;
      }
  }
  if (count) *count = done;
  return PN_OK;
}
