/* lower.c - rewrite ONNX Runtime's com.microsoft fused ops back into standard ONNX ops.
**
** An optimizer at ONNX Runtime's `extended` level emits contrib ops (FusedConv, FusedGemm,
** FusedMatMul, Gelu, BiasGelu, FastGelu, SkipLayerNormalization). The joined model keeps them for
** ONNX Runtime; join verifies a lowered copy with privnn's executor, which knows standard ops only,
** and `obf join --lower` saves that copy. Every replacement is an op of the model's ai.onnx opset
** (LayerNormalization spelled out before opset 17, Clip bounds as attributes before 11).
** Semantics follow onnxruntime/core/graph/contrib_ops (contrib_defs.cc, bert_defs.cc). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph/ir.h"
#include "obf/obf.h"
#include "util/arena.h"
#include "util/status.h"
#include "util/strmap.h"

struct low {
  struct pn_ctx *ctx;
  struct pn_graph *g;
  const char *base;
  int k;
  const struct pn_strmap *rank; /* value -> rank, from rank_pass */
};

/* Ranks of values without full shape inference (which does not know contrib ops): inputs and
** initializers give theirs; Transpose, Reshape, Gemm, Flatten set theirs; other ops keep the
** largest input rank (elementwise, MatMul, Softmax, normalizations, Conv). Unknown stays absent. */
static int rank_pass(struct pn_ctx *ctx, const struct pn_graph *g, struct pn_strmap *m) {
  for (int i = 0; i < g->n_inputs; i++)
    if (g->inputs[i].ndim >= 0 && pn_strmap_put(m, g->inputs[i].name, g->inputs[i].ndim)) goto oom;
  for (int i = 0; i < g->n_inits; i++)
    if (g->inits[i]->name && pn_strmap_put(m, g->inits[i]->name, g->inits[i]->ndim)) goto oom;
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    const char *op = n->op_type;
    int r = -1;
    if (!strcmp(op, "Transpose")) {
      const struct pn_attr *p = pn_node_attr(n, "perm");
      r = p && p->type == PN_ATTR_INTS ? (int)p->n : pn_strmap_get(m, n->in[0], -1);
    } else if (!strcmp(op, "Reshape")) {
      const struct pn_tensor *s = n->n_in > 1 ? pn_graph_find_init(g, n->in[1]) : NULL;
      r = s ? (int)pn_tensor_numel(s) : -1;
    } else if (!strcmp(op, "Gemm") || !strcmp(op, "FusedGemm") || !strcmp(op, "Flatten")) {
      r = 2;
    } else if (strncmp(op, "Reduce", 6) && strcmp(op, "Squeeze") && strcmp(op, "Unsqueeze") &&
               strcmp(op, "Gather") && strcmp(op, "Shape") && strcmp(op, "Concat") &&
               strcmp(op, "Slice") && strcmp(op, "Expand")) {
      for (int k = 0; k < n->n_in; k++) {
        int rk = n->in[k][0] ? pn_strmap_get(m, n->in[k], -1) : -1;
        if (rk > r) r = rk;
      }
    }
    if (r >= 0 && n->n_out > 0 && n->out[0][0] && pn_strmap_put(m, n->out[0], r)) goto oom;
  }
  return PN_OK;
oom:
  return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
}

static const char *tmp_name(struct low *l) {
  return pn_arena_printf(l->g->arena, "%s/lower%d", l->base, l->k++);
}

static const char *scalar(struct low *l, float v) {
  const char *nm = tmp_name(l);
  struct pn_tensor *t = nm ? pn_graph_new_init(l->g, nm, PN_DT_FLOAT, 0, NULL) : NULL;
  if (!t) return NULL;
  *(float *)t->data = v;
  return nm;
}

/* Append op(in) -> out (out NULL = a fresh name); returns the node or NULL. */
static struct pn_node *emit(struct low *l, const char *op, int n_in, const char *const *in,
                            const char *out) {
  const char *o = out ? out : tmp_name(l);
  if (!o) return NULL;
  for (int i = 0; i < n_in; i++)
    if (!in[i]) return NULL;
  return pn_graph_add_node(l->g, op, tmp_name(l), n_in, in, 1, &o);
}

static const char *emit2(struct low *l, const char *op, const char *a, const char *b, const char *out) {
  const char *in[2] = {a, b};
  struct pn_node *n = emit(l, op, b ? 2 : 1, in, out);
  return n ? n->out[0] : NULL;
}

/* x * 0.5 * (1 + erf(x / sqrt 2)) into out. */
static const char *gelu(struct low *l, const char *x, const char *out) {
  const char *d = emit2(l, "Div", x, scalar(l, 1.41421356237f), NULL);
  const char *e = emit2(l, "Erf", d, NULL, NULL);
  const char *a = emit2(l, "Add", e, scalar(l, 1.0f), NULL);
  const char *m = emit2(l, "Mul", x, a, NULL);
  return emit2(l, "Mul", m, scalar(l, 0.5f), out);
}

/* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) into out. */
static const char *fast_gelu(struct low *l, const char *x, const char *out) {
  const char *x3 = emit2(l, "Mul", emit2(l, "Mul", x, x, NULL), x, NULL);
  const char *in = emit2(l, "Add", x, emit2(l, "Mul", x3, scalar(l, 0.044715f), NULL), NULL);
  const char *t = emit2(l, "Tanh", emit2(l, "Mul", in, scalar(l, 0.7978845608f), NULL), NULL, NULL);
  const char *h = emit2(l, "Mul", x, emit2(l, "Add", t, scalar(l, 1.0f), NULL), NULL);
  return emit2(l, "Mul", h, scalar(l, 0.5f), out);
}

/* ReduceMean over the last axis, kept (axes an attribute: opsets before 18). */
static const char *mean_last(struct low *l, const char *x) {
  struct pn_node *m = emit(l, "ReduceMean", 1, &x, NULL);
  int64_t ax = -1;
  if (!m || pn_node_set_ints(l->g, m, "axes", 1, &ax) || pn_node_set_int(l->g, m, "keepdims", 1))
    return NULL;
  return m->out[0];
}

/* LayerNormalization over the last axis for opsets before 17, which lack the op:
** (x - mean) / sqrt(var + eps) * gamma (+ beta) into out. */
static int layer_norm(struct low *l, const char *x, const char *gamma, const char *beta, float eps,
                      const char *out) {
  const char *d = x ? emit2(l, "Sub", x, mean_last(l, x), NULL) : NULL;
  const char *var = d ? mean_last(l, emit2(l, "Mul", d, d, NULL)) : NULL;
  const char *sd = emit2(l, "Sqrt", emit2(l, "Add", var, scalar(l, eps), NULL), NULL, NULL);
  const char *y = emit2(l, "Div", d, sd, NULL);
  y = emit2(l, "Mul", y, gamma, beta ? NULL : out);
  if (y && beta) y = emit2(l, "Add", y, beta, out);
  return y ? PN_OK : pn_err(l->ctx, PN_ERR_NOMEM, "out of memory");
}

/* The activation named by a FusedConv/FusedGemm `activation` attribute, applied to x into out. */
static int activation(struct low *l, const struct pn_node *n, const char *x, const char *out) {
  const struct pn_attr *a = pn_node_attr(n, "activation");
  const struct pn_attr *p = pn_node_attr(n, "activation_params");
  const struct pn_attr *alpha = pn_node_attr(n, "activation_alpha");
  const char *act = a && a->type == PN_ATTR_STRING ? a->s : "";
  struct pn_node *m = NULL;
  if (!*act || !strcmp(act, "Identity")) {
    m = emit(l, "Identity", 1, &x, out);
  } else if (!strcmp(act, "Relu") || !strcmp(act, "Sigmoid") || !strcmp(act, "Tanh")) {
    m = emit(l, act, 1, &x, out);
  } else if (!strcmp(act, "LeakyRelu")) {
    m = emit(l, act, 1, &x, out);
    float al = p && p->type == PN_ATTR_FLOATS && p->n >= 1 ? p->floats[0]
               : alpha && alpha->type == PN_ATTR_FLOAT ? alpha->f : 0.01f;
    if (m && pn_node_set_float(l->g, m, "alpha", al)) m = NULL;
  } else if (!strcmp(act, "HardSigmoid")) { /* MobileNetV3's squeeze-excite gate */
    m = emit(l, act, 1, &x, out);
    float al = p && p->type == PN_ATTR_FLOATS && p->n >= 2 ? p->floats[0] : 0.2f;
    float be = p && p->type == PN_ATTR_FLOATS && p->n >= 2 ? p->floats[1] : 0.5f;
    if (m && (pn_node_set_float(l->g, m, "alpha", al) || pn_node_set_float(l->g, m, "beta", be))) m = NULL;
  } else if (!strcmp(act, "Clip")) {
    if (!p || p->type != PN_ATTR_FLOATS || p->n < 2)
      return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "node '%s' (%s): Clip activation without bounds",
                    pn_node_label(n), n->op_type);
    if (pn_graph_opset(l->g, "") >= 11) {
      const char *in[3] = {x, scalar(l, p->floats[0]), scalar(l, p->floats[1])};
      m = emit(l, "Clip", 3, in, out);
    } else { /* bounds were attributes before opset 11 */
      m = emit(l, "Clip", 1, &x, out);
      if (m && (pn_node_set_float(l->g, m, "min", p->floats[0]) ||
                pn_node_set_float(l->g, m, "max", p->floats[1])))
        m = NULL;
    }
  } else {
    return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "node '%s' (%s): activation '%s' cannot be lowered",
                  pn_node_label(n), n->op_type, act);
  }
  return m ? PN_OK : pn_err(l->ctx, PN_ERR_NOMEM, "out of memory");
}

/* Copy the attributes of s named in keep[] onto d. */
static int copy_attrs(struct pn_graph *g, struct pn_node *d, const struct pn_node *s,
                      const char *const *keep) {
  for (int i = 0; i < s->n_attr; i++) {
    bool ok = false;
    for (int k = 0; keep[k] && !ok; k++) ok = !strcmp(keep[k], s->attr[i].name);
    if (!ok) continue;
    struct pn_attr *a = pn_node_add_attr(g, d, s->attr[i].name, s->attr[i].type);
    if (!a) return PN_ERR_NOMEM;
    const char *nm = a->name;
    *a = s->attr[i];
    a->name = nm;
  }
  return PN_OK;
}

static const char *out_or_null(const struct pn_node *n, int i) {
  return i < n->n_out && n->out[i][0] ? n->out[i] : NULL;
}

static int lower_node(struct low *l, const struct pn_node *n) {
  static const char *const conv_attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                           "pads", "strides", NULL};
  static const char *const gemm_attrs[] = {"alpha", "beta", "transA", "transB", NULL};
  const char *op = n->op_type, *y = n->out[0];
  if (!strcmp(op, "FusedConv") || !strcmp(op, "FusedGemm")) {
    bool conv = !strcmp(op, "FusedConv");
    int nin = n->n_in > 3 ? 3 : n->n_in;
    struct pn_node *c = emit(l, conv ? "Conv" : "Gemm", nin, n->in, NULL);
    if (!c || copy_attrs(l->g, c, n, conv ? conv_attrs : gemm_attrs)) goto oom;
    const char *x = c->out[0];
    if (conv && n->n_in > 3 && n->in[3][0]) x = emit2(l, "Add", x, n->in[3], NULL);
    return x ? activation(l, n, x, y) : pn_err(l->ctx, PN_ERR_NOMEM, "out of memory");
  }
  if (!strcmp(op, "FusedMatMul")) {
    const char *ab[2] = {n->in[0], n->in[1]};
    const char *names[2] = {"transA", "transB"};
    for (int s = 0; s < 2; s++) {
      const struct pn_attr *t = pn_node_attr(n, names[s]);
      char bn[16];
      snprintf(bn, sizeof bn, "transBatch%c", s ? 'B' : 'A');
      const struct pn_attr *tb = pn_node_attr(n, bn);
      if (tb && tb->type == PN_ATTR_INT && tb->i)
        return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "node '%s' (FusedMatMul): %s cannot be lowered",
                      pn_node_label(n), bn);
      if (!t || t->type != PN_ATTR_INT || !t->i) continue;
      /* transpose the last two axes */
      int rank = pn_strmap_get(l->rank, ab[s], -1);
      if (rank < 2)
        return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "node '%s' (FusedMatMul): rank of '%s' unknown",
                      pn_node_label(n), ab[s]);
      int64_t perm[PN_MAX_DIMS];
      for (int i = 0; i < rank; i++) perm[i] = i;
      perm[rank - 2] = rank - 1;
      perm[rank - 1] = rank - 2;
      struct pn_node *tr = emit(l, "Transpose", 1, &ab[s], NULL);
      if (!tr || pn_node_set_ints(l->g, tr, "perm", rank, perm)) goto oom;
      ab[s] = tr->out[0];
    }
    const struct pn_attr *al = pn_node_attr(n, "alpha");
    float alpha = al && al->type == PN_ATTR_FLOAT ? al->f : 1.0f;
    if (alpha == 1.0f) return emit(l, "MatMul", 2, ab, y) ? PN_OK : pn_err(l->ctx, PN_ERR_NOMEM, "out of memory");
    struct pn_node *mm = emit(l, "MatMul", 2, ab, NULL);
    return mm && emit2(l, "Mul", mm->out[0], scalar(l, alpha), y) ? PN_OK
                                                                  : pn_err(l->ctx, PN_ERR_NOMEM, "out of memory");
  }
  if (!strcmp(op, "Gelu") || !strcmp(op, "BiasGelu") || !strcmp(op, "FastGelu")) {
    const char *x = n->in[0];
    if (n->n_in > 1 && n->in[1][0]) x = emit2(l, "Add", x, n->in[1], NULL);
    const char *r = !strcmp(op, "FastGelu") ? fast_gelu(l, x, y) : gelu(l, x, y);
    return r ? PN_OK : pn_err(l->ctx, PN_ERR_NOMEM, "out of memory");
  }
  if (!strcmp(op, "SkipLayerNormalization")) {
    if (n->n_in < 3 || out_or_null(n, 1) || out_or_null(n, 2))
      return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "node '%s' (SkipLayerNormalization): mean/inv_std "
                    "outputs cannot be lowered", pn_node_label(n));
    const char *s = emit2(l, "Add", n->in[0], n->in[1], NULL);
    if (s && n->n_in > 4 && n->in[4][0]) s = emit2(l, "Add", s, n->in[4], NULL);
    if (s && out_or_null(n, 3)) s = emit2(l, "Identity", s, NULL, n->out[3]);
    const char *in[3] = {s, n->in[2], n->n_in > 3 && n->in[3][0] ? n->in[3] : NULL};
    const struct pn_attr *e = pn_node_attr(n, "epsilon");
    float eps = e && e->type == PN_ATTR_FLOAT ? e->f : 1e-12f;
    if (pn_graph_opset(l->g, "") < 17) return layer_norm(l, s, in[1], in[2], eps, y);
    struct pn_node *ln = emit(l, "LayerNormalization", in[2] ? 3 : 2, in, y);
    if (!ln || pn_node_set_int(l->g, ln, "axis", -1) || pn_node_set_float(l->g, ln, "epsilon", eps))
      goto oom;
    return PN_OK;
  }
  return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "node '%s': contrib op com.microsoft.%s cannot be lowered",
                pn_node_label(n), op);
oom:
  return pn_err(l->ctx, PN_ERR_NOMEM, "out of memory");
}

int pn_obf_lower_contrib(struct pn_ctx *ctx, struct pn_graph *g, int *count) {
  int n0 = g->n_nodes, lowered = 0, rc;
  struct pn_strmap ranks = {0};
  if ((rc = pn_obf_topo_sort(ctx, g, NULL)) || (rc = rank_pass(ctx, g, &ranks))) {
    pn_strmap_free(&ranks);
    return rc;
  }
  for (int i = 0; i < n0; i++) {
    const struct pn_node *n = g->nodes[i];
    if (!n->domain || strcmp(n->domain, "com.microsoft")) continue;
    struct low l = {ctx, g, pn_node_label(n), 0, &ranks};
    if ((rc = lower_node(&l, n))) {
      pn_strmap_free(&ranks);
      return rc;
    }
    lowered++;
  }
  pn_strmap_free(&ranks);
  /* drop the lowered nodes (the replacements were appended) */
  for (int i = 0; i < n0 && lowered; i++) {
    const struct pn_node *n = g->nodes[i];
    if (n->domain && !strcmp(n->domain, "com.microsoft")) {
      pn_graph_remove_node(g, i--);
      n0--;
    }
  }
  if (count) *count = lowered;
  /* imports of domains no node uses go (ONNX Runtime imports a dozen; com.microsoft has no node
  ** left), so the model reads as the standard ONNX it is */
  for (int i = 0; i < g->n_opsets; i++) {
    const char *d = g->opsets[i].domain;
    bool used = !d || !*d || !strcmp(d, "ai.onnx");
    for (int k = 0; k < g->n_nodes && !used; k++) used = g->nodes[k]->domain && !strcmp(g->nodes[k]->domain, d);
    if (used) continue;
    memmove(&g->opsets[i], &g->opsets[i + 1], (size_t)(g->n_opsets - i - 1) * sizeof *g->opsets);
    g->n_opsets--;
    i--;
  }
  if (!lowered) return PN_OK;
  return pn_obf_topo_sort(ctx, g, NULL);
}
