/* exec.c - the plaintext executor: a validated, sorted graph compiled to slot indices.
**
** pn_exec_new resolves every value name to a slot once and records, per slot, the last node that
** reads it; pn_exec_run then walks the nodes, asks each op's infer function for output shapes (with
** every input's value known), allocates outputs, runs the kernel and frees intermediates as soon as
** their last reader has run. */
#include "graph/exec.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/status.h"
#include "util/strmap.h"

enum slot_kind { SLOT_INPUT, SLOT_INIT, SLOT_NODE };

struct xnode {
  const struct pn_node *node;
  int op;
  int64_t opset;
  int *in, *out;               /* slot indices, -1 for omitted */
};

struct pn_exec {
  struct pn_graph *g;
  int n_slots;
  enum slot_kind *kind;
  const struct pn_tensor **init;   /* per slot, initializer tensor (SLOT_INIT) */
  int *last_use;                   /* per slot: index of the last node reading it, -1 if none */
  bool *keep;                      /* per slot: a graph output, never freed during the run */
  struct xnode *nodes;
  int n_in, n_out;
  int *in_slot, *out_slot;
  const struct pn_value **in_val, **out_val;
  double op_seconds[PN_OP_COUNT];
  int threads;
  pn_exec_observer observer;
  void *observer_user;
};

void pn_exec_free(struct pn_exec *ex) {
  if (!ex) return;
  if (ex->nodes)
    for (int i = 0; i < ex->g->n_nodes; i++) {
      free(ex->nodes[i].in);
      free(ex->nodes[i].out);
    }
  free(ex->nodes);
  free(ex->kind);
  free(ex->init);
  free(ex->last_use);
  free(ex->keep);
  free(ex->in_slot);
  free(ex->out_slot);
  free(ex->in_val);
  free(ex->out_val);
  free(ex);
}

int pn_exec_new(struct pn_ctx *ctx, struct pn_graph *g, const struct pn_exec_opts *opts,
                struct pn_exec **out) {
  *out = NULL;
  int rc = pn_graph_validate(ctx, g);
  if (rc) return rc;
  struct pn_exec *ex = calloc(1, sizeof *ex);
  if (!ex) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  ex->g = g;
  if (opts) {
    ex->threads = opts->threads;
    ex->observer = opts->observer;
    ex->observer_user = opts->observer_user;
  }
  int cap = g->n_inputs + g->n_inits;
  for (int i = 0; i < g->n_nodes; i++) cap += g->nodes[i]->n_out;
  struct pn_strmap map = {0};
  ex->kind = calloc((size_t)cap + 1, sizeof *ex->kind);
  ex->init = calloc((size_t)cap + 1, sizeof *ex->init);
  ex->last_use = malloc(((size_t)cap + 1) * sizeof *ex->last_use);
  ex->keep = calloc((size_t)cap + 1, sizeof *ex->keep);
  ex->nodes = calloc((size_t)g->n_nodes + 1, sizeof *ex->nodes);
  ex->in_slot = calloc((size_t)g->n_inputs + 1, sizeof *ex->in_slot);
  ex->in_val = calloc((size_t)g->n_inputs + 1, sizeof *ex->in_val);
  ex->out_slot = calloc((size_t)g->n_outputs + 1, sizeof *ex->out_slot);
  ex->out_val = calloc((size_t)g->n_outputs + 1, sizeof *ex->out_val);
  if (!ex->kind || !ex->init || !ex->last_use || !ex->keep || !ex->nodes || !ex->in_slot ||
      !ex->in_val || !ex->out_slot || !ex->out_val)
    goto nomem;
  for (int i = 0; i < cap; i++) ex->last_use[i] = -1;
  int ns = 0;
  /* initializers first, so a graph input that is also an initializer (old ONNX) is a constant */
  for (int i = 0; i < g->n_inits; i++) {
    ex->kind[ns] = SLOT_INIT;
    ex->init[ns] = g->inits[i];
    if (pn_strmap_put(&map, g->inits[i]->name, ns++)) goto nomem;
  }
  for (int i = 0; i < g->n_inputs; i++) {
    if (!pn_graph_is_runtime_input(g, i)) continue;
    ex->kind[ns] = SLOT_INPUT;
    ex->in_slot[ex->n_in] = ns;
    ex->in_val[ex->n_in++] = &g->inputs[i];
    if (pn_strmap_put(&map, g->inputs[i].name, ns++)) goto nomem;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *n = g->nodes[i];
    struct xnode *x = &ex->nodes[i];
    x->node = n;
    x->op = pn_op_find(n->domain, n->op_type); /* validated: >= 0 */
    x->opset = pn_graph_opset(g, n->domain);
    x->in = malloc(((size_t)n->n_in + 1) * sizeof *x->in);
    x->out = malloc(((size_t)n->n_out + 1) * sizeof *x->out);
    if (!x->in || !x->out) goto nomem;
    for (int j = 0; j < n->n_in; j++) {
      x->in[j] = *n->in[j] ? pn_strmap_get(&map, n->in[j], -1) : -1;
      if (x->in[j] >= 0) ex->last_use[x->in[j]] = i;
    }
    for (int j = 0; j < n->n_out; j++) {
      x->out[j] = -1;
      if (!*n->out[j]) continue;
      ex->kind[ns] = SLOT_NODE;
      x->out[j] = ns;
      if (pn_strmap_put(&map, n->out[j], ns++)) goto nomem;
    }
  }
  for (int i = 0; i < g->n_outputs; i++) {
    int s = pn_strmap_get(&map, g->outputs[i].name, -1);
    if (s < 0) {
      pn_strmap_free(&map);
      pn_exec_free(ex);
      return pn_err(ctx, PN_ERR_INVALID, "graph output '%s' is never produced", g->outputs[i].name);
    }
    ex->out_slot[i] = s;
    ex->out_val[i] = &g->outputs[i];
    ex->keep[s] = true;
  }
  ex->n_out = g->n_outputs;
  ex->n_slots = ns;
  pn_strmap_free(&map);
  *out = ex;
  return PN_OK;
nomem:
  pn_strmap_free(&map);
  pn_exec_free(ex);
  return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
}

int pn_exec_n_inputs(const struct pn_exec *ex) { return ex->n_in; }
const struct pn_value *pn_exec_input(const struct pn_exec *ex, int i) { return ex->in_val[i]; }
int pn_exec_n_outputs(const struct pn_exec *ex) { return ex->n_out; }
const struct pn_value *pn_exec_output(const struct pn_exec *ex, int i) { return ex->out_val[i]; }
const double *pn_exec_op_seconds(const struct pn_exec *ex) { return ex->op_seconds; }

static int check_input(struct pn_ctx *ctx, const struct pn_value *v, const struct pn_tensor *t) {
  char a[160], b[160];
  if (!t) return pn_err(ctx, PN_ERR_INVALID, "input '%s' is missing", v->name);
  if (v->dtype != PN_DT_UNDEFINED && t->dtype != v->dtype)
    return pn_err(ctx, PN_ERR_INVALID, "input '%s': expected %s, got %s", v->name,
                  pn_dtype_name(v->dtype), pn_dtype_name(t->dtype));
  if (v->ndim < 0) return PN_OK;
  bool ok = v->ndim == t->ndim;
  for (int k = 0; ok && k < v->ndim; k++)
    if (v->dims[k] >= 0 && v->dims[k] != t->dims[k]) ok = false;
  if (!ok)
    return pn_err(ctx, PN_ERR_INVALID, "input '%s': expected shape %s, got %s", v->name,
                  pn_shape_str(a, sizeof a, v->ndim, v->dims), pn_shape_str(b, sizeof b, t->ndim, t->dims));
  return PN_OK;
}

int pn_exec_run(struct pn_ctx *ctx, struct pn_exec *ex, const struct pn_tensor *const *in,
                struct pn_tensor **out) {
  const struct pn_graph *g = ex->g;
  int rc = PN_OK;
  for (int i = 0; i < ex->n_out; i++) out[i] = NULL;
  for (int i = 0; i < ex->n_in; i++)
    if ((rc = check_input(ctx, ex->in_val[i], in[i]))) return rc;
  if (ex->threads > 0) {
    omp_set_num_threads(ex->threads);
    openblas_set_num_threads(ex->threads);
  }
  /* slot -> tensor; `owned` marks tensors this run allocated */
  const struct pn_tensor **val = calloc((size_t)ex->n_slots + 1, sizeof *val);
  bool *owned = calloc((size_t)ex->n_slots + 1, sizeof *owned);
  if (!val || !owned) {
    free(val);
    free(owned);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  for (int s = 0; s < ex->n_slots; s++)
    if (ex->kind[s] == SLOT_INIT) val[s] = ex->init[s];
  for (int i = 0; i < ex->n_in; i++) val[ex->in_slot[i]] = in[i];

  int max_io = 1;
  for (int i = 0; i < g->n_nodes; i++) {
    if (ex->nodes[i].node->n_in > max_io) max_io = ex->nodes[i].node->n_in;
    if (ex->nodes[i].node->n_out > max_io) max_io = ex->nodes[i].node->n_out;
  }
  const struct pn_tensor **tin = calloc((size_t)max_io, sizeof *tin);
  struct pn_tensor **tout = calloc((size_t)max_io, sizeof *tout);
  struct pn_shape *sin = calloc((size_t)max_io, sizeof *sin);
  struct pn_shape *sout = calloc((size_t)max_io, sizeof *sout);
  if (!tin || !tout || !sin || !sout) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    goto done;
  }
  for (int i = 0; i < g->n_nodes && rc == PN_OK; i++) {
    const struct xnode *x = &ex->nodes[i];
    const struct pn_node *n = x->node;
    const struct pn_op_def *d = &pn_op_defs[x->op];
    struct pn_op_args a = {ctx, n, x->opset};
    double t0 = pn_now();
    for (int j = 0; j < n->n_in; j++) {
      tin[j] = x->in[j] >= 0 ? val[x->in[j]] : NULL;
      memset(&sin[j], 0, sizeof sin[j]);
      if (tin[j]) {
        pn_shape_set(&sin[j], tin[j]->dtype, tin[j]->ndim, tin[j]->dims);
        sin[j].value = tin[j];
      } else {
        sin[j].ndim = -1;
      }
    }
    for (int j = 0; j < n->n_out; j++) {
      memset(&sout[j], 0, sizeof sout[j]);
      sout[j].ndim = -1;
      tout[j] = NULL;
    }
    if ((rc = d->infer(&a, sin, n->n_in, sout, n->n_out))) break;
    for (int j = 0; j < n->n_out; j++) {
      if (x->out[j] < 0) continue;
      const struct pn_shape *s = &sout[j];
      bool known = s->ndim >= 0 && s->dtype != PN_DT_UNDEFINED;
      for (int k = 0; known && k < s->ndim; k++) known = s->dims[k] >= 0;
      if (!known) {
        rc = pn_op_err(&a, PN_ERR_INVALID, "cannot determine the shape of output '%s'", n->out[j]);
        break;
      }
      if (!pn_dtype_size(s->dtype)) {
        rc = pn_op_err(&a, PN_ERR_UNSUPPORTED, "output '%s' has dtype %s", n->out[j], pn_dtype_name(s->dtype));
        break;
      }
      if (!(tout[j] = pn_tensor_new(s->dtype, s->ndim, s->dims))) {
        rc = pn_op_err(&a, PN_ERR_NOMEM, "cannot allocate output '%s'", n->out[j]);
        break;
      }
    }
    if (rc == PN_OK) rc = d->run(&a, tin, n->n_in, tout, n->n_out);
    if (rc) {
      for (int j = 0; j < n->n_out; j++) pn_tensor_free(tout[j]);
      break;
    }
    for (int j = 0; j < n->n_out; j++)
      if (x->out[j] >= 0) {
        val[x->out[j]] = tout[j];
        owned[x->out[j]] = true;
      }
    ex->op_seconds[x->op] += pn_now() - t0;
    if (ex->observer)
      ex->observer(ex->observer_user, n, tin, n->n_in, (const struct pn_tensor *const *)tout, n->n_out);
    /* outputs nobody reads (and that are not graph outputs) die at once; inputs after their last use */
    for (int j = 0; j < n->n_out; j++) {
      int s = x->out[j];
      if (s >= 0 && ex->last_use[s] < 0 && !ex->keep[s]) {
        pn_tensor_free((struct pn_tensor *)val[s]);
        val[s] = NULL;
        owned[s] = false;
      }
    }
    for (int j = 0; j < n->n_in; j++) {
      int s = x->in[j];
      if (s >= 0 && ex->last_use[s] == i && owned[s] && !ex->keep[s]) {
        pn_tensor_free((struct pn_tensor *)val[s]);
        val[s] = NULL;
        owned[s] = false;
      }
    }
  }
  if (rc == PN_OK)
    for (int i = 0; i < ex->n_out; i++) {
      int s = ex->out_slot[i];
      if (owned[s] && !out[i]) {
        /* the same slot may be listed twice as a graph output: the second gets a copy */
        bool dup = false;
        for (int k = 0; k < i; k++) dup |= ex->out_slot[k] == s;
        out[i] = dup ? pn_tensor_clone(val[s]) : (struct pn_tensor *)val[s];
      } else {
        out[i] = pn_tensor_clone(val[s]);
      }
      if (!out[i]) {
        rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory copying output '%s'", ex->out_val[i]->name);
        break;
      }
    }
  if (rc == PN_OK) {
    /* outputs handed to the caller are no longer ours */
    for (int i = 0; i < ex->n_out; i++)
      if (owned[ex->out_slot[i]] && out[i] == val[ex->out_slot[i]]) owned[ex->out_slot[i]] = false;
  } else {
    for (int i = 0; i < ex->n_out; i++) {
      if (out[i] && !(owned[ex->out_slot[i]] && out[i] == val[ex->out_slot[i]])) pn_tensor_free(out[i]);
      out[i] = NULL;
    }
  }
done:
  for (int s = 0; s < ex->n_slots; s++)
    if (owned[s]) pn_tensor_free((struct pn_tensor *)val[s]);
  free(val);
  free(owned);
  free(tin);
  free(tout);
  free(sin);
  free(sout);
  return rc;
}
