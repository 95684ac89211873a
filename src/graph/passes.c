/* passes.c - privnn's optimizer passes: constants, BN folding, identity removal, Gemm, pruning.
**
** Passes rewrite the graph in place with standard ONNX ops only (see passes.h). Names created by a
** pass are derived from existing names, so running the same passes on the same model always gives
** the same graph (Proteus' join relies on that to find the real folded weights again). */
#include "graph/passes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/op_def.h"
#include "util/arena.h"
#include "util/status.h"

static void bump(int *count, int k) {
  if (count) *count += k;
}

/* Number of node inputs reading value name (graph outputs not counted). */
static int n_readers(const struct pn_graph *g, const char *name) {
  int k = 0;
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i]->n_in; j++)
      if (!strcmp(g->nodes[i]->in[j], name)) k++;
  return k;
}

static bool is_graph_output(const struct pn_graph *g, const char *name) {
  for (int i = 0; i < g->n_outputs; i++)
    if (!strcmp(g->outputs[i].name, name)) return true;
  return false;
}

static bool is_graph_input(const struct pn_graph *g, const char *name) {
  for (int i = 0; i < g->n_inputs; i++)
    if (!strcmp(g->inputs[i].name, name)) return true;
  return false;
}

static bool name_used(const struct pn_graph *g, const char *name) {
  if (pn_graph_find_init(g, name) || is_graph_input(g, name) || is_graph_output(g, name))
    return true;
  return pn_graph_find_producer(g, name) >= 0;
}

/* base + suffix, with a counter appended until unused. Arena string or NULL. */
static const char *unique_name(struct pn_graph *g, const char *base, const char *suffix) {
  const char *s = pn_arena_printf(g->arena, "%s%s", base, suffix);
  for (int k = 1; s && name_used(g, s); k++) s = pn_arena_printf(g->arena, "%s%s_%d", base, suffix, k);
  return s;
}

static bool is_default_domain(const struct pn_node *n) {
  return !n->domain || !*n->domain || !strcmp(n->domain, "ai.onnx");
}

static bool is_op(const struct pn_node *n, const char *op) {
  return is_default_domain(n) && !strcmp(n->op_type, op);
}

int pn_pass_constants_to_inits(struct pn_ctx *ctx, struct pn_graph *g, int *count) {
  for (int i = 0; i < g->n_nodes; i++) {
    struct pn_node *n = g->nodes[i];
    if (!is_op(n, "Constant") || n->n_out != 1 || !n->out[0][0]) continue;
    /* every form (value, value_float(s), value_int(s)) through the Constant kernel itself, so a
    ** weight exported as value_floats reaches fold_bn like any other */
    struct pn_ctx quiet = {0};
    struct pn_op_args a = {&quiet, n, pn_graph_opset(g, n->domain)};
    struct pn_shape so;
    memset(&so, 0, sizeof so);
    if (pn_op_defs[PN_OP_CONSTANT].infer(&a, NULL, 0, &so, 1) != PN_OK) continue;
    struct pn_tensor *t = pn_tensor_new(so.dtype, so.ndim, so.dims);
    if (!t) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    bool ok = pn_op_defs[PN_OP_CONSTANT].run(&a, NULL, 0, &t, 1) == PN_OK;
    if (ok && !pn_graph_add_init(g, t, n->out[0])) {
      pn_tensor_free(t);
      return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    }
    pn_tensor_free(t);
    if (!ok) continue;
    pn_graph_remove_node(g, i--);
    bump(count, 1);
  }
  return PN_OK;
}

int pn_pass_fold_bn(struct pn_ctx *ctx, struct pn_graph *g, int *count) {
  for (int i = 0; i < g->n_nodes; i++) {
    struct pn_node *bn = g->nodes[i];
    if (!is_op(bn, "BatchNormalization") || bn->n_in != 5) continue;
    bool extra_out = false;
    for (int k = 1; k < bn->n_out; k++) extra_out |= bn->out[k][0] != 0;
    if (extra_out) continue;
    int64_t training = 0;
    const struct pn_attr *ta = pn_node_attr(bn, "training_mode");
    if (ta && ta->type == PN_ATTR_INT) training = ta->i;
    if (training) continue;
    int ci = pn_graph_find_producer(g, bn->in[0]);
    if (ci < 0) continue;
    struct pn_node *conv = g->nodes[ci];
    if (!is_op(conv, "Conv") || conv->n_out != 1 || conv->n_in < 2) continue;
    if (n_readers(g, conv->out[0]) != 1 || is_graph_output(g, conv->out[0])) continue;
    const struct pn_tensor *w = pn_graph_find_init(g, conv->in[1]);
    const struct pn_tensor *b = conv->n_in > 2 && conv->in[2][0] ? pn_graph_find_init(g, conv->in[2]) : NULL;
    if (!w || w->dtype != PN_DT_FLOAT || w->ndim < 3) continue;
    if (conv->n_in > 2 && conv->in[2][0] && (!b || b->dtype != PN_DT_FLOAT)) continue;
    int64_t m = w->dims[0];
    const struct pn_tensor *p[4];
    bool ok = true;
    for (int k = 0; k < 4; k++) {
      p[k] = pn_graph_find_init(g, bn->in[1 + k]);
      ok = ok && p[k] && p[k]->dtype == PN_DT_FLOAT && pn_tensor_numel(p[k]) == m;
    }
    if (!ok || (b && pn_tensor_numel(b) != m)) continue;
    float eps = 1e-5f;
    const struct pn_attr *ea = pn_node_attr(bn, "epsilon");
    if (ea && ea->type == PN_ATTR_FLOAT) eps = ea->f;
    const char *wname = unique_name(g, conv->in[1], "_bnfold");
    if (!wname) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    struct pn_tensor *nw = pn_graph_new_init(g, wname, PN_DT_FLOAT, w->ndim, w->dims);
    const char *bname = nw ? unique_name(g, conv->out[0], "_bnfold_b") : NULL;
    int64_t one[1] = {m};
    struct pn_tensor *nb = bname ? pn_graph_new_init(g, bname, PN_DT_FLOAT, 1, one) : NULL;
    if (!nb) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    /* pn_graph_new_init may have moved g->inits but not the tensors: w, b, p stay valid */
    int64_t per = pn_tensor_numel(w) / (m ? m : 1);
    const float *wd = w->data, *sc = p[0]->data, *be = p[1]->data, *mu = p[2]->data, *va = p[3]->data;
    float *nwd = nw->data, *nbd = nb->data;
    for (int64_t o = 0; o < m; o++) {
      double s = (double)sc[o] / sqrt((double)va[o] + (double)eps);
      for (int64_t k = 0; k < per; k++) nwd[o * per + k] = (float)(wd[o * per + k] * s);
      double bias = b ? ((const float *)b->data)[o] : 0.0;
      nbd[o] = (float)((bias - mu[o]) * s + be[o]);
    }
    const char **in3 = pn_arena_alloc(g->arena, 3 * sizeof *in3);
    if (!in3) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    in3[0] = conv->in[0];
    in3[1] = wname;
    in3[2] = bname;
    conv->in = in3;
    conv->n_in = 3;
    conv->out[0] = bn->out[0];
    pn_graph_remove_node(g, i);
    i = -1; /* indices shifted; rescan (graphs are small, passes rare) */
    bump(count, 1);
  }
  return PN_OK;
}

/* Replace every node input reading from by to. */
static void replace_uses(struct pn_graph *g, const char *from, const char *to) {
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i]->n_in; j++)
      if (!strcmp(g->nodes[i]->in[j], from)) g->nodes[i]->in[j] = to;
}

int pn_pass_remove_identity(struct pn_ctx *ctx, struct pn_graph *g, int *count) {
  for (int i = 0; i < g->n_nodes; i++) {
    struct pn_node *n = g->nodes[i];
    bool id = is_op(n, "Identity") && n->n_in == 1 && n->n_out == 1;
    if (is_op(n, "Dropout") && n->n_in >= 1 && n->n_out >= 1) {
      bool mask = n->n_out > 1 && n->out[1][0];
      int64_t training = 0;
      if (n->n_in >= 3 && n->in[2][0]) {
        const struct pn_tensor *t = pn_graph_find_init(g, n->in[2]);
        if (!t || pn_tensor_numel(t) != 1) continue;
        training = pn_tensor_get_i64(t, 0);
      }
      id = !mask && !training;
    }
    if (!id || !n->in[0][0]) continue;
    const char *x = n->in[0], *y = n->out[0];
    if (!is_graph_output(g, y)) {
      replace_uses(g, y, x);
    } else {
      /* y must keep its name: let x's producer write y directly, if x is a plain intermediate */
      int p = pn_graph_find_producer(g, x);
      if (p < 0 || is_graph_output(g, x) || n_readers(g, x) != 1) continue;
      struct pn_node *pn = g->nodes[p];
      for (int k = 0; k < pn->n_out; k++)
        if (!strcmp(pn->out[k], x)) pn->out[k] = y;
    }
    pn_graph_remove_node(g, i--);
    bump(count, 1);
  }
  (void)ctx;
  return PN_OK;
}

int pn_pass_matmul_add_to_gemm(struct pn_ctx *ctx, struct pn_graph *g, int *count) {
  for (int i = 0; i < g->n_nodes; i++) {
    struct pn_node *add = g->nodes[i];
    if (!is_op(add, "Add") || add->n_in != 2 || add->n_out != 1) continue;
    for (int side = 0; side < 2; side++) {
      int mi = pn_graph_find_producer(g, add->in[side]);
      if (mi < 0) continue;
      struct pn_node *mm = g->nodes[mi];
      if (!is_op(mm, "MatMul") || mm->n_in != 2) continue;
      if (n_readers(g, mm->out[0]) != 1 || is_graph_output(g, mm->out[0])) continue;
      const struct pn_value *av = pn_graph_find_value(g, mm->in[0]);
      const struct pn_tensor *bw = pn_graph_find_init(g, mm->in[1]);
      const struct pn_tensor *c = pn_graph_find_init(g, add->in[1 - side]);
      if (!av || av->ndim != 2 || !bw || bw->ndim != 2 || !c || c->dtype != bw->dtype) continue;
      if (!(c->ndim == 1 && c->dims[0] == bw->dims[1]) &&
          !(c->ndim == 2 && c->dims[0] == 1 && c->dims[1] == bw->dims[1]))
        continue;
      const char *in[3] = {mm->in[0], mm->in[1], add->in[1 - side]};
      const char *out[1] = {add->out[0]};
      const char *nm = unique_name(g, mm->name && *mm->name ? mm->name : add->out[0], "_gemm");
      if (!nm) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      struct pn_node *gm = pn_graph_add_node(g, "Gemm", nm, 3, in, 1, out);
      if (!gm) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      /* the new node is last; move it to the MatMul's slot to keep a topological order */
      g->nodes[mi] = gm;
      g->n_nodes--;
      for (int k = 0; k < g->n_nodes; k++)
        if (g->nodes[k] == add) {
          pn_graph_remove_node(g, k);
          break;
        }
      bump(count, 1);
      i = -1;
      break;
    }
  }
  return PN_OK;
}

int pn_pass_fold_constants(struct pn_ctx *ctx, struct pn_graph *g, int *count) {
  for (int i = 0; i < g->n_nodes; i++) {
    struct pn_node *n = g->nodes[i];
    int op = pn_op_find(n->domain, n->op_type);
    /* Dropout in training mode draws a new mask each run: never a constant */
    if (op < 0 || op == PN_OP_CONSTANT || op == PN_OP_DROPOUT || !pn_op_defs[op].run || n->n_in == 0) continue;
    if (n->n_out > 4 || n->n_in > 16) continue;
    const struct pn_tensor *in[16];
    struct pn_shape sin[16], sout[4];
    bool all = true;
    for (int k = 0; k < n->n_in && all; k++) {
      in[k] = n->in[k][0] ? pn_graph_find_init(g, n->in[k]) : NULL;
      if (n->in[k][0] && !in[k]) all = false;
      if (n->in[k][0] && is_graph_input(g, n->in[k])) all = false; /* overridable initializer */
      memset(&sin[k], 0, sizeof sin[k]);
      if (in[k]) {
        pn_shape_set(&sin[k], in[k]->dtype, in[k]->ndim, in[k]->dims);
        sin[k].value = in[k];
      } else {
        sin[k].ndim = -1;
      }
    }
    bool out_used = false;
    for (int k = 0; k < n->n_out; k++) out_used |= is_graph_output(g, n->out[k]);
    if (!all || out_used) continue;
    struct pn_op_args a = {ctx, n, pn_graph_opset(g, n->domain)};
    memset(sout, 0, sizeof sout);
    struct pn_ctx quiet = {0};
    a.ctx = &quiet; /* an op that cannot fold is left alone, not an error */
    if (pn_op_infer(op, &a, sin, n->n_in, sout, n->n_out) != PN_OK) continue;
    struct pn_tensor *out[4] = {0};
    bool ok = true;
    for (int k = 0; k < n->n_out && ok; k++) {
      if (!n->out[k][0]) continue;
      if (sout[k].ndim < 0 || pn_shape_numel(sout[k].ndim, sout[k].dims) < 0 ||
          !pn_dtype_supported(sout[k].dtype) || pn_shape_numel(sout[k].ndim, sout[k].dims) > (1 << 24))
        ok = false;
      else if (!(out[k] = pn_tensor_new(sout[k].dtype, sout[k].ndim, sout[k].dims)))
        ok = false;
    }
    if (ok) ok = pn_op_run(op, &a, in, n->n_in, out, n->n_out) == PN_OK;
    for (int k = 0; k < n->n_out && ok; k++)
      if (out[k] && !pn_graph_add_init(g, out[k], n->out[k])) {
        for (int j = 0; j < n->n_out; j++) pn_tensor_free(out[j]);
        return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      }
    for (int k = 0; k < n->n_out; k++) pn_tensor_free(out[k]);
    if (!ok) continue;
    pn_graph_remove_node(g, i--);
    bump(count, 1);
  }
  return PN_OK;
}

int pn_pass_prune_inits(struct pn_ctx *ctx, struct pn_graph *g, int *count) {
  (void)ctx;
  for (int i = 0; i < g->n_inits; i++) {
    const char *nm = g->inits[i]->name;
    if (!nm || n_readers(g, nm) > 0 || is_graph_output(g, nm)) continue;
    /* an initializer listed as a graph input is part of the interface: drop both */
    for (int k = 0; k < g->n_inputs; k++)
      if (!strcmp(g->inputs[k].name, nm)) {
        memmove(g->inputs + k, g->inputs + k + 1, (size_t)(g->n_inputs - k - 1) * sizeof *g->inputs);
        g->n_inputs--;
        break;
      }
    pn_graph_remove_init(g, i--);
    bump(count, 1);
  }
  return PN_OK;
}

int pn_optimize_graph(struct pn_ctx *ctx, struct pn_graph *g, int counts[6]) {
  int c[6] = {0};
  for (int round = 0; round < 8; round++) {
    int before = c[0] + c[1] + c[2] + c[3] + c[4] + c[5];
    int rc;
    if ((rc = pn_pass_constants_to_inits(ctx, g, &c[0])) || (rc = pn_pass_fold_bn(ctx, g, &c[1])) ||
        (rc = pn_pass_remove_identity(ctx, g, &c[2])) ||
        (rc = pn_pass_matmul_add_to_gemm(ctx, g, &c[3])) ||
        (rc = pn_pass_fold_constants(ctx, g, &c[4])) || (rc = pn_pass_prune_inits(ctx, g, &c[5])))
      return rc;
    if (c[0] + c[1] + c[2] + c[3] + c[4] + c[5] == before) break;
  }
  if (counts) memcpy(counts, c, sizeof c);
  return PN_OK;
}
