/* profile.c - HummingBird's range profiler on the executor hook, and the error-free plan.
**
** The hook sees every node of each run with its own input; for a Relu or MaxPool it folds max|x|
** of the input and the histogram of the words compared (hbsim.h) into the node's entry; a MaxPool
** runs the runner's comparison tree exactly to see its differences. Entries are found by the hook's node index (an array sized
** by the graph, filled on first sight), so a run costs no name lookups. */
#include "mpc/profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/exec.h"
#include "graph/window.h"
#include "util/status.h"
#include "util/strmap.h"

struct prof {
  struct pn_mpc_profile *p;
  int cap;
  int *slot;                   /* per node index: entry, -1 not seen, -2 not profiled */
  int n_nodes;
  struct pn_strmap by_label;   /* label -> entry (labels shared by several nodes) */
  int64_t batch;
  int64_t opset;
  float *scratch;              /* a MaxPool's output from the tree */
  int64_t scratch_n;
};

static int new_entry(struct pn_ctx *ctx, struct prof *pr, const struct pn_node *node, bool relu) {
  const char *label = pn_node_label(node);
  int e = pn_strmap_get(&pr->by_label, label, -1);
  if (e >= 0) return e;
  struct pn_mpc_profile *p = pr->p;
  if (p->n == pr->cap) {
    int cap = pr->cap ? 2 * pr->cap : 16;
    struct pn_mpc_range *r = realloc(p->r, (size_t)cap * sizeof *r);
    if (!r) return pn_err(ctx, PN_ERR_NOMEM, "mpc profile: out of memory");
    p->r = r;
    pr->cap = cap;
  }
  struct pn_mpc_range *r = &p->r[p->n];
  memset(r, 0, sizeof *r);
  r->relu = relu;
  if (!(r->node = strdup(label)) || pn_strmap_put(&pr->by_label, r->node, p->n)) {
    free(r->node);
    return pn_err(ctx, PN_ERR_NOMEM, "mpc profile: out of memory");
  }
  return p->n++;
}

static int hook(void *user, struct pn_ctx *ctx, struct pn_exec_step *st) {
  struct prof *pr = user;
  if (st->index < 0 || st->index >= pr->n_nodes || pr->slot[st->index] == -2) return PN_OK;
  bool relu = st->op == PN_OP_RELU;
  if ((!relu && st->op != PN_OP_MAX_POOL) || st->n_in < 1 || !st->in[0] ||
      st->in[0]->dtype != PN_DT_FLOAT) {
    pr->slot[st->index] = -2;
    return PN_OK;
  }
  int e = pr->slot[st->index];
  if (e < 0 && (e = pr->slot[st->index] = new_entry(ctx, pr, st->node, relu)) < 0) return e;
  struct pn_mpc_range *r = &pr->p->r[e];
  const float *f = st->in[0]->data;
  int64_t n = pn_tensor_numel(st->in[0]);
  double mx = r->max_abs;
  for (int64_t k = 0; k < n; k++) {
    double a = fabs((double)f[k]);
    if (a > mx) mx = a;
  }
  r->max_abs = mx;
  if (relu) {
    r->cmp_per_image = n / pr->batch;
#pragma omp parallel
    {
      struct pn_hb_hist h;
      memset(&h, 0, sizeof h);
#pragma omp for schedule(static)
      for (int64_t k = 0; k < n; k++) pn_hb_hist_add(&h, pn_fx_encode(f[k], pr->p->frac));
#pragma omp critical
      pn_hb_hist_merge(&r->hist, &h);
    }
    return PN_OK;
  }
  /* MaxPool: the runner's tree, exactly, image by image */
  const struct pn_tensor *x = st->in[0];
  struct pn_window w;
  if (x->ndim != 4)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "mpc profile: node '%s' (MaxPool): only 2-D images "
                  "(N x C x H x W)", r->node);
  int rc = pn_hb_pool_window(ctx, st->node, pr->opset, x->dims, &w);
  if (rc) return rc;
  int64_t B = x->dims[0], per_in = n / B, per_out = x->dims[1] * w.out[0] * w.out[1];
  if (per_out * B > pr->scratch_n) {
    float *sc = realloc(pr->scratch, sizeof(float) * (size_t)(per_out * B));
    if (!sc) return pn_err(ctx, PN_ERR_NOMEM, "mpc profile: out of memory");
    pr->scratch = sc;
    pr->scratch_n = per_out * B;
  }
  int64_t cmps = 0;
  int fail = 0;
  struct pn_hb_range exact = {-1, -1};
#pragma omp parallel reduction(+ : cmps) reduction(| : fail)
  {
    struct pn_hb_hist h;
    memset(&h, 0, sizeof h);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < B; b++) {
      int64_t c = pn_hb_maxpool(&w, x->dims[1], f + b * per_in, pr->scratch + b * per_out, NULL,
                                pr->p->frac, exact, NULL, &h, NULL);
      if (c < 0) fail = 1;
      else cmps += c;
    }
#pragma omp critical
    pn_hb_hist_merge(&r->hist, &h);
  }
  if (fail)
    return pn_err(ctx, PN_ERR_INVALID, "mpc profile: node '%s' (MaxPool): a window without valid "
                  "elements", r->node);
  r->cmp_per_image = cmps / B;
  return PN_OK;
}

void pn_mpc_profile_free(struct pn_mpc_profile *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) free(p->r[i].node);
  free(p->r);
  memset(p, 0, sizeof *p);
}

int pn_mpc_profile_run(struct pn_ctx *ctx, const struct pn_graph *g0, int64_t count, int64_t batch,
                       pn_mpc_images_fn images, void *user, struct pn_mpc_profile *p) {
  memset(p, 0, sizeof *p);
  if (count < 1 || batch < 1)
    return pn_err(ctx, PN_ERR_INVALID, "mpc profile: count %lld and batch %lld must be positive",
                  (long long)count, (long long)batch);
  if (batch > count) batch = count;
  struct prof pr = {.p = p, .batch = batch, .opset = pn_graph_opset(g0, "")};
  p->frac = PN_MPC_FRAC_DEFAULT;
  struct pn_graph *g = pn_graph_clone_batch(g0, batch);
  struct pn_exec *ex = NULL;
  struct pn_tensor *in = NULL;
  int rc = g ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "mpc profile: out of memory");
  struct pn_exec_opts eo = {.hook = hook, .hook_user = &pr};
  if (rc == PN_OK) rc = pn_exec_new(ctx, g, &eo, &ex);
  if (rc == PN_OK && (pn_exec_n_inputs(ex) != 1 || pn_exec_input(ex, 0)->dtype != PN_DT_FLOAT))
    rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "mpc profile: the model must have one float input");
  if (rc == PN_OK) {
    const struct pn_value *iv = pn_exec_input(ex, 0);
    pr.n_nodes = g->n_nodes;
    pr.slot = malloc(((size_t)g->n_nodes + 1) * sizeof *pr.slot);
    in = pn_tensor_new(PN_DT_FLOAT, iv->ndim, iv->dims);
    if (!pr.slot || !in) rc = pn_err(ctx, PN_ERR_NOMEM, "mpc profile: out of memory");
    for (int i = 0; pr.slot && i < g->n_nodes; i++) pr.slot[i] = -1;
  }
  for (int64_t first = 0; rc == PN_OK && first + batch <= count; first += batch) {
    if ((rc = images(user, ctx, first, batch, in->data))) break;
    struct pn_tensor *out = NULL;
    const struct pn_tensor *ins[1] = {in};
    rc = pn_exec_run(ctx, ex, ins, &out);
    pn_tensor_free(out);
    p->images += batch;
  }
  pn_tensor_free(in);
  free(pr.slot);
  free(pr.scratch);
  pn_strmap_free(&pr.by_label);
  pn_exec_free(ex);
  pn_graph_free(g);
  if (rc) pn_mpc_profile_free(p);
  return rc;
}

/* Bits needed for v: the least b with 2^b > v. */
static int bitlen(double v) {
  int b = 0;
  while (b < 64 && ldexp(1, b) <= v) b++;
  return b;
}

int pn_mpc_profile_plan(struct pn_ctx *ctx, const struct pn_mpc_profile *p, int frac, int margin,
                        int uniform, struct pn_mpc_plan *plan, double *bits_discarded) {
  double used = 0, all = 0;
  memset(plan, 0, sizeof *plan);
  for (int i = 0; i < p->n; i++) {
    const struct pn_mpc_range *r = &p->r[i];
    /* ReLU input x, or MaxPool differences a - b with |a - b| <= 2 max|x| */
    double range = r->max_abs * (r->relu ? 1 : 2);
    int m = bitlen(2 * range * ldexp(1, frac)) + margin;
    if (m > 64) m = 64;
    if (m < 2) m = 2;
    int k = uniform > 0 && m > uniform ? m - uniform : 0;
    if (pn_mpc_plan_add(plan, r->node, k, m)) {
      pn_mpc_plan_free(plan);
      return pn_err(ctx, PN_ERR_NOMEM, "mpc profile: out of memory");
    }
    used += (double)(m - k) * (double)r->cmp_per_image;
    all += 64.0 * (double)r->cmp_per_image;
  }
  if (bits_discarded) *bits_discarded = all > 0 ? 1 - used / all : 0;
  return PN_OK;
}
