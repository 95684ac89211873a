/* paf_graph.c - PAF nodes in a graph: parsing and checking them, putting them in place of Relu and
** MaxPool, and expanding them back to standard ONNX ops (paf.h gives the semantics).
**
** Expansion writes each PAF node as the same float operations in the same order with Abs,
** ReduceMax, Max, Reciprocal, Mul, Add, Sub, Pad and Slice, so ONNX Runtime reproduces the
** executor's logits; coefficients become scalar initializers named after the node. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "graph/paf.h"
#include "util/arena.h"
#include "util/status.h"

static const char *const kind_ops[PN_PAF_KIND_COUNT] = {"PafRelu", "PafMaxPool"};

int pn_paf_node_kind(const struct pn_node *n) {
  if (!n->domain || strcmp(n->domain, PN_PAF_DOMAIN)) return -1;
  for (int k = 0; k < PN_PAF_KIND_COUNT; k++)
    if (!strcmp(n->op_type, kind_ops[k])) return k;
  return -1;
}

const char *pn_paf_kind_op(enum pn_paf_kind k) { return (unsigned)k < PN_PAF_KIND_COUNT ? kind_ops[k] : "?"; }

static int bad(struct pn_ctx *ctx, const struct pn_node *n, const char *fmt, const char *arg) {
  char msg[256];
  snprintf(msg, sizeof msg, fmt, arg);
  return pn_err(ctx, PN_ERR_INVALID, "node '%s' (%s): %s", pn_node_label(n), n->op_type, msg);
}

/* An INTS attribute of exactly `count` entries (def when absent). */
static int ints_attr(struct pn_ctx *ctx, const struct pn_node *n, const char *name, int count,
                     int64_t def, int64_t *dst) {
  int64_t cnt;
  const int64_t *v;
  int rc = pn_node_get_ints(ctx, n, name, &cnt, &v);
  if (rc) return rc;
  if (cnt < 0) {
    for (int i = 0; i < count; i++) dst[i] = def;
    return PN_OK;
  }
  if (cnt != count) {
    char msg[128];
    snprintf(msg, sizeof msg, "attribute '%s' has %lld entries, must have %d", name, (long long)cnt, count);
    return bad(ctx, n, "%s", msg);
  }
  memcpy(dst, v, sizeof *dst * (size_t)count);
  return PN_OK;
}

int pn_paf_node_attrs(struct pn_ctx *ctx, const struct pn_node *n, struct pn_paf_node *out) {
  memset(out, 0, sizeof *out);
  int kind = pn_paf_node_kind(n);
  if (kind < 0) return bad(ctx, n, "%s", "not an ai.privnn PafRelu / PafMaxPool node");
  out->kind = (enum pn_paf_kind)kind;
  const char *form = NULL;
  int rc = pn_node_get_string(ctx, n, "form", NULL, &form);
  if (rc) return rc;
  if (!form) return bad(ctx, n, "%s", "attribute 'form' is required");
  int f = pn_paf_form_parse(form);
  if (f < 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "unknown form '%.64s' (%s)", form, pn_paf_form_list());
    return bad(ctx, n, "%s", msg);
  }
  out->form = (enum pn_paf_form)f;
  for (int i = 0; i < n->n_attr; i++) {
    const char *a = n->attr[i].name;
    bool known = !strcmp(a, "form") ||
                 (kind == PN_PAF_RELU && !strcmp(a, "gain")) ||
                 (kind == PN_PAF_MAXPOOL && (!strcmp(a, "kernel_shape") || !strcmp(a, "strides") || !strcmp(a, "pads")));
    if (!known) return bad(ctx, n, "unknown attribute '%.64s'", a);
  }
  if (kind == PN_PAF_RELU) {
    if ((rc = pn_node_get_float(ctx, n, "gain", 0.5f, &out->gain))) return rc;
    if (!isfinite(out->gain)) return bad(ctx, n, "%s", "attribute 'gain' must be finite");
    return PN_OK;
  }
  out->gain = 0.5f;
  if (!pn_node_attr(n, "kernel_shape")) return bad(ctx, n, "%s", "attribute 'kernel_shape' is required");
  if ((rc = ints_attr(ctx, n, "kernel_shape", 2, 1, out->k)) || (rc = ints_attr(ctx, n, "strides", 2, 1, out->s)) ||
      (rc = ints_attr(ctx, n, "pads", 4, 0, out->p)))
    return rc;
  for (int i = 0; i < 2; i++) {
    if (out->k[i] < 1 || out->k[i] > PN_PAF_MAX_WINDOW)
      return bad(ctx, n, "%s", "attribute 'kernel_shape' entries must be >= 1");
    if (out->s[i] < 1 || out->s[i] > (1 << 20)) return bad(ctx, n, "%s", "attribute 'strides' entries must be >= 1");
  }
  if (out->k[0] * out->k[1] > PN_PAF_MAX_WINDOW) return bad(ctx, n, "%s", "window larger than 64 elements");
  for (int i = 0; i < 4; i++)
    if (out->p[i] < 0 || out->p[i] >= out->k[i % 2]) return bad(ctx, n, "%s", "attribute 'pads' entries must be in [0, kernel)");
  return PN_OK;
}

int pn_paf_node_parse(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_node *n,
                      struct pn_paf_node *out) {
  int rc = pn_paf_node_attrs(ctx, n, out);
  if (rc) return rc;
  if (n->n_in < 2 || n->n_in > 3 || n->n_out != 1 || !*n->in[0] || !*n->in[1])
    return bad(ctx, n, "%s", "takes inputs X, C [, S] and one output");
  struct pn_tensor *c = pn_graph_find_init(g, n->in[1]);
  if (!c) return bad(ctx, n, "coefficients '%.128s' must be an initializer", n->in[1]);
  if (c->dtype != PN_DT_FLOAT || c->ndim != 1 || c->dims[0] != pn_paf_n_coeffs(out->form)) {
    char msg[200];
    snprintf(msg, sizeof msg, "coefficients '%.64s' must be float [%d] for form '%s'", n->in[1],
             pn_paf_n_coeffs(out->form), pn_paf_form_name(out->form));
    return bad(ctx, n, "%s", msg);
  }
  for (int i = 0; i < c->dims[0]; i++)
    if (!isfinite(((const float *)c->data)[i])) return bad(ctx, n, "coefficients '%.128s' must be finite", n->in[1]);
  out->coeffs = c;
  if (n->n_in == 3 && *n->in[2]) {
    struct pn_tensor *s = pn_graph_find_init(g, n->in[2]);
    if (!s || s->dtype != PN_DT_FLOAT || pn_tensor_numel(s) != 1 || s->ndim > 1)
      return bad(ctx, n, "scale '%.128s' must be a float scalar initializer", n->in[2]);
    float v = ((const float *)s->data)[0];
    if (!(v > 0) || !isfinite(v)) return bad(ctx, n, "scale '%.128s' must be positive and finite", n->in[2]);
    out->scale = s;
  }
  return PN_OK;
}

/* ---- replacing Relu / MaxPool ---- */

int pn_paf_site_kind(const struct pn_node *n) {
  bool onnx = !n->domain || !*n->domain || !strcmp(n->domain, "ai.onnx");
  if (onnx && !strcmp(n->op_type, "Relu")) return PN_PAF_RELU;
  if (onnx && !strcmp(n->op_type, "MaxPool")) return PN_PAF_MAXPOOL;
  return -1;
}

/* A unique initializer name "<base><suffix>" (numbered if taken). */
static const char *unique_init(struct pn_graph *g, const char *base, const char *suffix) {
  const char *name = pn_arena_printf(g->arena, "%s%s", base, suffix);
  for (int k = 2; name && pn_graph_find_init(g, name); k++)
    name = pn_arena_printf(g->arena, "%s%s%d", base, suffix, k);
  return name;
}

int pn_paf_set_scale(struct pn_ctx *ctx, struct pn_graph *g, struct pn_node *n, float s) {
  if (pn_paf_node_kind(n) < 0) return bad(ctx, n, "%s", "not a PAF node");
  if (s <= 0) { /* dynamic */
    if (n->n_in == 3) n->n_in = 2;
    return PN_OK;
  }
  if (!isfinite(s)) return bad(ctx, n, "%s", "scale must be finite");
  struct pn_tensor *t = n->n_in == 3 && *n->in[2] ? pn_graph_find_init(g, n->in[2]) : NULL;
  if (!t) {
    const char *name = unique_init(g, pn_node_label(n), ".paf_s");
    t = name ? pn_graph_new_init(g, name, PN_DT_FLOAT, 0, NULL) : NULL;
    const char **in = pn_arena_alloc(g->arena, 3 * sizeof *in);
    if (!t || !in) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    in[0] = n->in[0];
    in[1] = n->in[1];
    in[2] = t->name;
    n->in = in;
    n->n_in = 3;
  }
  if (t->dtype != PN_DT_FLOAT || pn_tensor_numel(t) != 1) return bad(ctx, n, "%s", "scale input is not a float scalar");
  ((float *)t->data)[0] = s;
  return PN_OK;
}

int pn_paf_replace(struct pn_ctx *ctx, struct pn_graph *g, struct pn_node *n, enum pn_paf_form f,
                   const float *coeffs, float scale) {
  const struct pn_paf_form_def *fd = pn_paf_form_def(f);
  int kind = pn_paf_site_kind(n);
  if (!fd) return pn_err(ctx, PN_ERR_INVALID, "unknown PAF form %d", (int)f);
  if (kind < 0) return bad(ctx, n, "%s", "only Relu and MaxPool nodes are replaced by PAFs");
  if (n->n_in != 1 || !*n->in[0] || n->n_out < 1 || !*n->out[0]) return bad(ctx, n, "%s", "must have one input and output");
  for (int j = 1; j < n->n_out; j++)
    if (*n->out[j]) return bad(ctx, n, "%s", "the Indices output of MaxPool has no PAF form");
  int64_t k[2], s[2] = {1, 1}, p[4] = {0, 0, 0, 0};
  if (kind == PN_PAF_MAXPOOL) {
    int64_t d[2], ceil_mode, storage;
    const char *ap;
    int rc;
    if (!pn_node_attr(n, "kernel_shape")) return bad(ctx, n, "%s", "attribute 'kernel_shape' is required");
    if ((rc = ints_attr(ctx, n, "kernel_shape", 2, 1, k)) || (rc = ints_attr(ctx, n, "strides", 2, 1, s)) ||
        (rc = ints_attr(ctx, n, "pads", 4, 0, p)) || (rc = ints_attr(ctx, n, "dilations", 2, 1, d)) ||
        (rc = pn_node_get_int(ctx, n, "ceil_mode", 0, &ceil_mode)) ||
        (rc = pn_node_get_int(ctx, n, "storage_order", 0, &storage)) ||
        (rc = pn_node_get_string(ctx, n, "auto_pad", "NOTSET", &ap)))
      return rc;
    if (d[0] != 1 || d[1] != 1 || ceil_mode || strcmp(ap, "NOTSET"))
      return pn_err(ctx, PN_ERR_UNSUPPORTED, "node '%s' (MaxPool): dilations, ceil_mode and auto_pad have no PAF form",
                    pn_node_label(n));
    if (k[0] < 1 || k[1] < 1 || k[0] * k[1] > PN_PAF_MAX_WINDOW)
      return bad(ctx, n, "%s", "window must have 1..64 elements for a PAF MaxPool");
    for (int i = 0; i < 4; i++)
      if (p[i] < 0 || p[i] >= k[i % 2]) return bad(ctx, n, "%s", "pads must be in [0, kernel)");
  }
  int nc = pn_paf_n_coeffs(f);
  const char *cname = unique_init(g, pn_node_label(n), ".paf_c");
  struct pn_tensor *ct = cname ? pn_graph_new_init(g, cname, PN_DT_FLOAT, 1, (int64_t[]){nc}) : NULL;
  const char **in = pn_arena_alloc(g->arena, 3 * sizeof *in);
  if (!ct || !in) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < nc; i++) ((float *)ct->data)[i] = coeffs ? coeffs[i] : (float)fd->base[i];
  in[0] = n->in[0];
  in[1] = ct->name;
  in[2] = "";
  n->in = in;
  n->n_in = 2;
  n->n_out = 1;
  n->op_type = kind_ops[kind];
  n->domain = PN_PAF_DOMAIN;
  n->n_attr = 0;
  n->attr = NULL;
  int rc = pn_node_set_string(g, n, "form", fd->name);
  if (!rc && kind == PN_PAF_RELU) rc = pn_node_set_float(g, n, "gain", 0.5f);
  if (!rc && kind == PN_PAF_MAXPOOL)
    rc = pn_node_set_ints(g, n, "kernel_shape", 2, k) || pn_node_set_ints(g, n, "strides", 2, s) ||
         pn_node_set_ints(g, n, "pads", 4, p) ? PN_ERR_NOMEM : PN_OK;
  if (!rc && pn_graph_set_opset(g, PN_PAF_DOMAIN, PN_PAF_OPSET)) rc = PN_ERR_NOMEM;
  if (rc) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  return scale > 0 ? pn_paf_set_scale(ctx, g, n, scale) : PN_OK;
}
