/* exec.c - the plaintext executor: a validated, sorted graph compiled to slot indices.
**
** pn_exec_new resolves every value name to a slot once and records, per slot, the last node that
** reads it; pn_exec_run then walks the nodes, asks each op's infer function for output shapes (with
** every input's value known), takes outputs from the executor's buffers (the memory plan below:
** graph outputs are allocated for the caller), runs the kernel, and a buffer serves later values
** once its value's last reader has run.
**
** Unless pn_exec_opts.no_fuse or an observer is set, nodes computed from constants alone (Constant
** nodes, and e.g. a Transpose of an initializer) are evaluated once by pn_exec_new, so that fusion
** sees a weight as a constant however it was stored, and then the fusions apply.
**
** Fusion: a BatchNormalization in inference
** mode that is the only reader of a Conv's output is folded into private copies of the Conv's
** weights and bias, and a Relu / Clip / LeakyRelu that is the only reader of a Conv, Gemm, MatMul,
** Add or BatchNormalization output runs on that node's output in place (a Conv applies a Relu,
** or a Clip with float bounds, as it stores its outputs). Fused nodes are skipped, their time is
** counted under the producing op, and the graph itself is not changed. The intermediate must
** not be a graph output.
**
** Residual Add: an Add that is the only reader of a Conv's output (after a folded
** BatchNormalization) and whose other operand (the shortcut) is computed before the Conv runs is
** fused into the Conv, and so is an activation that is the Add's only reader: when the shortcut
** has the Conv output's shape (float), the Conv adds it after its bias and before the activation
** as it stores (k_dense.h's pn_act.res: act((conv + bias) + shortcut), the unfused order, the same
** bits), else the Add runs on its own right after the Conv (broadcasts). The shortcut is read
** until the Conv is done and the Conv's output never takes its buffer.
**
** A Conv with constant weights keeps kernel state across runs (struct pn_conv_cache: filters
** restricted to the taps that see the input on small images, Winograd-transformed filters),
** freed with the executor; a MatMul by a constant 2-D B keeps B packed for k_gemm.c (struct
** pn_matmul_cache). With no_fuse (the reference the differential tests compare against) every
** Conv and MatMul runs the plain kernels, without that state.
**
** Threads: Conv, Gemm, MatMul, MaxPool, Softmax, LayerNormalization and the binary and unary
** elementwise ops (on_team) run multi-threaded, most through k_par.c's pool, which never waits
** for a helper that has not started; the other (memory-bound) kernels run on one thread unless
** their output has over 1M elements: on a loaded machine every OpenMP region waits for its
** slowest thread to be scheduled. */
#include "graph/exec.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_dense.h"
#include "graph/op_def.h"
#include "util/fileio.h"
#include "util/status.h"
#include "util/strmap.h"

enum slot_kind { SLOT_INPUT, SLOT_INIT, SLOT_NODE };

struct xnode {
  const struct pn_node *node;
  int op;
  int64_t opset;
  int *in, *out;               /* slot indices, -1 for omitted */
  int n_in_run;                /* inputs given to run: n_in, or 3 for a Conv with a folded bias */
  bool skip;                   /* fused into an earlier node, or evaluated once by pn_exec_new */
  int act;                     /* fused activation node applied to out[0], or -1 */
  int add;                     /* a Conv's fused residual Add node, or -1 */
  int res;                     /* its other operand's slot (the shortcut), or -1 */
  bool const_w;                /* Conv / MatMul whose weights (in[1]) are a constant: may keep
                               ** cc / mc across runs */
  struct pn_conv_cache *cc;    /* the Conv kernel's state across runs (const_w only) */
  struct pn_matmul_cache *mc;  /* a MatMul by a constant 2-D B: B packed (const_w only) */
  double seconds;              /* wall time of this node (and what was fused into it), all runs */
};

struct pn_exec {
  struct pn_graph *g;
  int n_slots;
  enum slot_kind *kind;
  const struct pn_tensor **init;   /* per slot, initializer tensor (SLOT_INIT) */
  int *last_use;                   /* per slot: index of the last node reading it, -1 if none */
  bool *keep;                      /* per slot: a graph output, never freed during the run */
  struct xnode *nodes;
  struct pn_tensor **priv;         /* folded Conv weights / biases (SLOT_INIT slots we own) */
  int n_priv;
  int n_in, n_out;
  int *in_slot, *out_slot;
  const struct pn_value **in_val, **out_val;
  double op_seconds[PN_OP_COUNT];
  int threads;
  pn_exec_observer observer;
  void *observer_user;
  pn_exec_hook hook;
  void *hook_user;
  /* The run's intermediates (see "Memory plan" below). Values: one per slot, then one per node
  ** (the Conv output a broadcasting residual Add replaces). */
  bool planned;                    /* no observer or hook: intermediates from the plan's buffers */
  int n_vals;
  int *v_from, *v_to;              /* per value: the node making it and the last node during which it
                                   ** is live (inclusive); -1 when it is never a run intermediate */
  size_t *v_need;                  /* the most bytes it has needed in any run */
  int *v_buf;                      /* its buffer in the plan, -1 none */
  struct pn_tensor *v_t;           /* its tensor (heap = false, data in its buffer) */
  void **buf;                      /* the plan's buffers, 64-byte aligned */
  size_t *buf_cap;
  int n_buf;
  bool replan;                     /* a value did not fit its buffer in this run */
  struct pn_exec_mem mem;
};

/* ---- memory plan: the run's intermediates from buffers the executor owns ----
**
** Every node output that is not a graph output (and, with a broadcasting residual Add, the Conv
** output it replaces) is a value live from the node that makes it to the last node reading it
** (both inclusive: a node's outputs are made before its inputs die). After a run in which some
** value did not fit its buffer (the first run, or a larger input), plan_build packs the values
** into buffers by size, largest first, each into the smallest buffer holding no value whose
** lifetime overlaps its own, or a new buffer; the buffers are allocated once and kept until the
** next plan or pn_exec_free. A value that does not fit (a run at a larger shape) gets a calloc'd
** tensor for that run, and the plan is rebuilt from the larger sizes at its end. So no run after
** the first depends on malloc's state (glibc's dynamic mmap threshold decided whether each output
** above it was mapped, faulted in and unmapped every run: BERT/128's GELU outputs 3-5 ms a run),
** and memory is bounded by the largest run's live intermediates at once, not the model's
** activations. Graph outputs are the caller's: calloc'd each run, as before. Without a plan
** (an observer or a hook may keep or replace tensors) every output is calloc'd.
**
** A kernel receives its planned output as it was left by an earlier value: ops that write every
** element of output 0 (writes_all) get it as it is, every other output is zero-filled first
** (calloc's semantics). */

/* Does the kernel of op write every element of its output 0, whatever its shape and dtype (or fail)?
** Checked in each kernel: elementwise binary ops walk the whole output with a pn_iter, broadcasting
** or not (Pow's mixed types too); unary ops, Clip and Cast run over every element; Conv on every path
** (an empty kernel stores the bias); MatMul and Gemm zero-fill or store beta * C before a product
** with K = 0; Softmax and LayerNormalization compute each row whole, BatchNormalization each plane;
** the pools store one value per window (an empty window stores 0 or -inf); the copies (Reshape,
** Flatten, Squeeze, Unsqueeze, Identity; Transpose, Slice, Expand through pn_copy_strided; Concat's
** and Gather's row copies; Pad's rows and fills) cover the output. test_diff runs every executor on
** another input first so that each compared run gets the buffers a different run left behind. */
static bool writes_all(int op) {
  switch (op) {
  case PN_OP_CONV: case PN_OP_GEMM: case PN_OP_MATMUL:
  case PN_OP_ADD: case PN_OP_SUB: case PN_OP_MUL: case PN_OP_DIV: case PN_OP_POW:
  case PN_OP_ABS: case PN_OP_NEG: case PN_OP_RELU: case PN_OP_LEAKY_RELU: case PN_OP_SQRT:
  case PN_OP_ERF: case PN_OP_EXP: case PN_OP_LOG: case PN_OP_RECIPROCAL: case PN_OP_SIGMOID:
  case PN_OP_TANH: case PN_OP_CLIP: case PN_OP_CAST:
  case PN_OP_SOFTMAX: case PN_OP_LAYER_NORM: case PN_OP_BATCH_NORM:
  case PN_OP_MAX_POOL: case PN_OP_AVERAGE_POOL: case PN_OP_GLOBAL_AVERAGE_POOL:
  case PN_OP_GLOBAL_MAX_POOL:
  case PN_OP_RESHAPE: case PN_OP_FLATTEN: case PN_OP_SQUEEZE: case PN_OP_UNSQUEEZE:
  case PN_OP_IDENTITY: case PN_OP_TRANSPOSE: case PN_OP_SLICE: case PN_OP_EXPAND:
  case PN_OP_CONCAT: case PN_OP_GATHER: case PN_OP_PAD:
    return true;
  default:
    return false;
  }
}

/* Bytes of a tensor of shape s, rounded up to 64 (at least 64); 0 when it has no valid size. */
static size_t value_bytes(const struct pn_shape *s) {
  int64_t numel = pn_shape_numel(s->ndim, s->dims);
  if (numel < 0 || numel > ((int64_t)1 << 40)) return 0;
  size_t bytes = (size_t)numel * pn_dtype_size(s->dtype);
  return bytes ? (bytes + 63) / 64 * 64 : 64;
}

/* The tensor of value v (a slot, or -1 for one outside the plan) of shape s for op's kernel: its
** planned buffer, zero-filled unless op writes all of it (j == 0), or a calloc'd tensor. */
static struct pn_tensor *value_tensor(struct pn_exec *ex, int v, const struct pn_shape *s, int op, int j) {
  if (v < 0 || !ex->planned || ex->v_from[v] < 0) return pn_tensor_new(s->dtype, s->ndim, s->dims);
  size_t bytes = value_bytes(s);
  if (!bytes) return pn_tensor_new(s->dtype, s->ndim, s->dims);   /* fails as before */
  if (bytes > ex->v_need[v]) ex->v_need[v] = bytes;
  int b = ex->v_buf[v];
  if (b < 0 || ex->buf_cap[b] < bytes) {
    ex->replan = true;
    ex->mem.misses++;
    return pn_tensor_new(s->dtype, s->ndim, s->dims);
  }
  struct pn_tensor *t = &ex->v_t[v];
  memset(t, 0, sizeof *t);
  t->dtype = s->dtype;
  t->ndim = s->ndim;
  memcpy(t->dims, s->dims, (size_t)s->ndim * sizeof *s->dims);
  t->data = ex->buf[b];
  if (!(j == 0 && writes_all(op))) memset(t->data, 0, pn_tensor_nbytes(t));
  ex->mem.hits++;
  return t;
}

static void plan_free(struct pn_exec *ex) {
  for (int b = 0; b < ex->n_buf; b++) free(ex->buf[b]);
  free(ex->buf);
  free(ex->buf_cap);
  ex->buf = NULL;
  ex->buf_cap = NULL;
  ex->n_buf = 0;
  if (ex->v_buf)
    for (int v = 0; v < ex->n_vals; v++) ex->v_buf[v] = -1;
  ex->mem.buffers = 0;
  ex->mem.bytes = 0;
}

struct by_need {
  size_t need;
  int v;
};
static int by_need_desc(const void *pa, const void *pb) {
  const struct by_need *a = pa, *b = pb;
  if (a->need != b->need) return a->need < b->need ? 1 : -1;
  return (a->v > b->v) - (a->v < b->v);
}

/* Pack the values into buffers from v_need (see above). Out of memory: no plan (every value then
** misses and the next run tries again). */
static void plan_build(struct pn_exec *ex) {
  plan_free(ex);
  ex->replan = false;
  int n = 0;
  for (int v = 0; v < ex->n_vals; v++) n += ex->v_from[v] >= 0 && ex->v_need[v] > 0;
  struct by_need *order = malloc(((size_t)n + 1) * sizeof *order);
  int *next = malloc(((size_t)ex->n_vals + 1) * sizeof *next);   /* members of a buffer, chained */
  int *head = malloc(((size_t)n + 1) * sizeof *head);
  ex->buf = calloc((size_t)n + 1, sizeof *ex->buf);
  ex->buf_cap = calloc((size_t)n + 1, sizeof *ex->buf_cap);
  bool ok = order && next && head && ex->buf && ex->buf_cap;
  if (ok) {
    n = 0;
    for (int v = 0; v < ex->n_vals; v++)
      if (ex->v_from[v] >= 0 && ex->v_need[v] > 0) order[n++] = (struct by_need){ex->v_need[v], v};
    qsort(order, (size_t)n, sizeof *order, by_need_desc);
    int nb = 0;
    for (int k = 0; k < n; k++) {
      int v = order[k].v, best = -1;
      for (int b = 0; b < nb; b++) {   /* every buffer so far holds at least this value's bytes */
        bool free_then = true;
        for (int u = head[b]; u >= 0 && free_then; u = next[u])
          free_then = ex->v_to[u] < ex->v_from[v] || ex->v_to[v] < ex->v_from[u];
        if (free_then && (best < 0 || ex->buf_cap[b] < ex->buf_cap[best])) best = b;
      }
      if (best < 0) {
        best = nb++;
        head[best] = -1;
        ex->buf_cap[best] = order[k].need;
      }
      next[v] = head[best];
      head[best] = v;
      ex->v_buf[v] = best;
    }
    for (int b = 0; b < nb && ok; b++) {
      /* 0xff bytes (NaN, -1) in a fresh buffer: a kernel that misses elements shows, and the
      ** pages are faulted in here rather than in a run */
      if ((ex->buf[b] = aligned_alloc(64, ex->buf_cap[b]))) memset(ex->buf[b], 0xff, ex->buf_cap[b]);
      else ok = false;
      ex->n_buf = b + 1;
      ex->mem.bytes += ex->buf_cap[b];
    }
    ex->mem.buffers = ex->n_buf;
  }
  free(order);
  free(next);
  free(head);
  if (!ok) plan_free(ex);
  else ex->mem.plans++;
}

/* Each value's lifetime (see above), from the fusion plan and last_use. */
static int plan_values(struct pn_exec *ex) {
  int nv = ex->n_slots + ex->g->n_nodes;
  ex->n_vals = nv;
  ex->v_from = malloc(((size_t)nv + 1) * sizeof *ex->v_from);
  ex->v_to = malloc(((size_t)nv + 1) * sizeof *ex->v_to);
  ex->v_need = calloc((size_t)nv + 1, sizeof *ex->v_need);
  ex->v_buf = malloc(((size_t)nv + 1) * sizeof *ex->v_buf);
  ex->v_t = calloc((size_t)nv + 1, sizeof *ex->v_t);
  if (!ex->v_from || !ex->v_to || !ex->v_need || !ex->v_buf || !ex->v_t) return PN_ERR_NOMEM;
  for (int v = 0; v < nv; v++) ex->v_from[v] = ex->v_to[v] = ex->v_buf[v] = -1;
  for (int i = 0; i < ex->g->n_nodes; i++) {
    const struct xnode *x = &ex->nodes[i];
    if (x->skip) continue;
    for (int j = 0; j < x->node->n_out; j++) {
      int s = x->out[j];
      if (s < 0 || ex->keep[s]) continue;
      ex->v_from[s] = i;
      ex->v_to[s] = ex->last_use[s] > i ? ex->last_use[s] : i;
    }
    if (x->add >= 0) ex->v_from[ex->n_slots + i] = ex->v_to[ex->n_slots + i] = i;
  }
  return PN_OK;
}

void pn_exec_mem_stats(const struct pn_exec *ex, struct pn_exec_mem *out) { *out = ex->mem; }

void pn_exec_free(struct pn_exec *ex) {
  if (!ex) return;
  if (ex->nodes)
    for (int i = 0; i < ex->g->n_nodes; i++) {
      free(ex->nodes[i].in);
      free(ex->nodes[i].out);
      pn_conv_cache_free(ex->nodes[i].cc);
      pn_matmul_cache_free(ex->nodes[i].mc);
    }
  free(ex->nodes);
  plan_free(ex);
  free(ex->v_from);
  free(ex->v_to);
  free(ex->v_need);
  free(ex->v_buf);
  free(ex->v_t);
  for (int i = 0; i < ex->n_priv; i++) pn_tensor_free(ex->priv[i]);
  free(ex->priv);
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

/* ---- fusion planning (see the header comment) ---- */

/* Attribute value if present with the right type, else def; *bad set when present but mistyped. */
static float attr_f(const struct pn_node *n, const char *name, float def, bool *bad) {
  const struct pn_attr *at = pn_node_attr(n, name);
  if (!at) return def;
  if (at->type != PN_ATTR_FLOAT) *bad = true;
  return at->f;
}
static int64_t attr_i(const struct pn_node *n, const char *name, int64_t def, bool *bad) {
  const struct pn_attr *at = pn_node_attr(n, name);
  if (!at) return def;
  if (at->type != PN_ATTR_INT) *bad = true;
  return at->i;
}

static const struct pn_tensor *init_f32(const struct pn_exec *ex, int slot) {
  if (slot < 0 || ex->kind[slot] != SLOT_INIT) return NULL;
  const struct pn_tensor *t = ex->init[slot];
  return t && t->dtype == PN_DT_FLOAT ? t : NULL;
}

/* The node reading slot s, when exactly one input of one node reads it and it is not a graph
** output; -1 otherwise. */
static int sole_reader(const struct pn_exec *ex, const int *readers, const int *reader, int s) {
  if (s < 0 || ex->keep[s] || readers[s] != 1) return -1;
  return reader[s];
}

static int add_priv(struct pn_exec *ex, struct pn_tensor *t) {
  int s = ex->n_slots++;
  ex->kind[s] = SLOT_INIT;
  ex->init[s] = t;
  ex->priv[ex->n_priv++] = t;
  return s;
}

/* Fold BatchNormalization node b (inference mode, constant parameters) into Conv node c:
** W'[m] = W[m] * k[m], B'[m] = (B[m] - mean[m]) * k[m] + beta[m], k = scale / sqrt(var + eps).
** Returns PN_OK (folded or not applicable) or PN_ERR_NOMEM. */
static int fold_bn(struct pn_exec *ex, struct xnode *c, struct xnode *b) {
  const struct pn_node *bn = b->node;
  if (bn->n_in != 5 || b->in[0] != c->out[0]) return PN_OK;
  for (int j = 1; j < bn->n_out; j++)
    if (b->out[j] >= 0) return PN_OK;
  bool bad = false;
  float eps = attr_f(bn, "epsilon", 1e-5f, &bad);
  int64_t spatial = b->opset < 9 ? attr_i(bn, "spatial", 1, &bad) : 1;
  int64_t training = b->opset >= 14 ? attr_i(bn, "training_mode", 0, &bad) : 0;
  if (bad || spatial != 1 || training != 0 || !(eps >= 0)) return PN_OK;
  const struct pn_tensor *w = init_f32(ex, c->in[1]);
  const struct pn_tensor *bias = c->node->n_in > 2 ? init_f32(ex, c->in[2]) : NULL;
  if (!w || w->ndim < 3 || (c->node->n_in > 2 && c->in[2] >= 0 && !bias)) return PN_OK;
  int64_t m = w->dims[0], per = m > 0 ? pn_tensor_numel(w) / m : 0;
  if (m <= 0 || (bias && (bias->ndim != 1 || bias->dims[0] != m))) return PN_OK;
  const float *prm[4];
  for (int k = 0; k < 4; k++) {
    const struct pn_tensor *t = init_f32(ex, b->in[1 + k]);
    if (!t || t->ndim != 1 || t->dims[0] != m) return PN_OK;
    prm[k] = t->data;
  }
  struct pn_tensor *nw = pn_tensor_new(PN_DT_FLOAT, w->ndim, w->dims);
  struct pn_tensor *nb = pn_tensor_new(PN_DT_FLOAT, 1, &m);
  if (!nw || !nb) {
    pn_tensor_free(nw);
    pn_tensor_free(nb);
    return PN_ERR_NOMEM;
  }
  const float *wp = w->data, *bp = bias ? bias->data : NULL;
  float *nwp = nw->data, *nbp = nb->data;
  for (int64_t i = 0; i < m; i++) {
    /* the same arithmetic as the BatchNormalization kernel: y = x * mul + (beta - mean * mul) */
    float mul = (float)(prm[0][i] / sqrt((double)prm[3][i] + eps));
    for (int64_t k = 0; k < per; k++) nwp[i * per + k] = wp[i * per + k] * mul;
    nbp[i] = (bp ? bp[i] * mul : 0.0f) + (prm[1][i] - prm[2][i] * mul);
  }
  c->in[1] = add_priv(ex, nw);
  c->in[2] = add_priv(ex, nb);
  c->n_in_run = 3;
  c->out[0] = b->out[0];
  b->skip = true;
  return PN_OK;
}

/* Can activation node a run in place on its input, at the time its producer runs? */
static bool act_fusable(const struct pn_exec *ex, const struct xnode *a) {
  const struct pn_node *n = a->node;
  if (n->n_out != 1 || a->out[0] < 0) return false;
  if (a->op == PN_OP_RELU || a->op == PN_OP_LEAKY_RELU) return n->n_in == 1;
  if (a->op != PN_OP_CLIP) return false;
  for (int j = 1; j < n->n_in; j++)   /* bounds known before the producer runs */
    if (a->in[j] >= 0 && ex->kind[a->in[j]] == SLOT_NODE) return false;
  return true;
}

/* Largest output (elements) evaluated once at preparation; a larger constant (an Expand or
** ConstantOfShape of a big shape) is computed per run instead of held for the executor's life. */
#define FOLD_MAX_NUMEL ((int64_t)1 << 24)

/* Evaluate once every node whose inputs are all constants (initializers, Constant nodes and what
** is computed from them alone), so that to fusion a weight is a constant however the exporter
** stored it: as an initializer, a Constant node (paddle2onnx, tf2onnx) or a small constant
** subgraph (a Transpose or Reshape of one). The outputs become executor-owned constant slots and
** the nodes are skipped. Dropout is left alone (in training mode it draws a random mask), and so
** is a node whose kernel fails here: it then runs, and fails, in pn_exec_run with its message.
** Returns PN_OK or PN_ERR_NOMEM. */
/* The shapes of n tensors for pn_op_infer, each with its value (ndim -1 for a missing one). */
static void shapes_of(const struct pn_tensor *const *t, int n, struct pn_shape *s) {
  for (int j = 0; j < n; j++) {
    memset(&s[j], 0, sizeof s[j]);
    s[j].ndim = -1;
    if (t[j]) {
      pn_shape_set(&s[j], t[j]->dtype, t[j]->ndim, t[j]->dims);
      s[j].value = t[j];
    }
  }
}

static int fold_constants(struct pn_exec *ex) {
  const struct pn_graph *g = ex->g;
  int max_io = 1;
  for (int i = 0; i < g->n_nodes; i++) {
    if (g->nodes[i]->n_in > max_io) max_io = g->nodes[i]->n_in;
    if (g->nodes[i]->n_out > max_io) max_io = g->nodes[i]->n_out;
  }
  const struct pn_tensor **tin = calloc((size_t)max_io, sizeof *tin);
  struct pn_tensor **tout = calloc((size_t)max_io, sizeof *tout);
  struct pn_shape *sin = calloc((size_t)max_io, sizeof *sin), *sout = calloc((size_t)max_io, sizeof *sout);
  int rc = tin && tout && sin && sout ? PN_OK : PN_ERR_NOMEM;
  for (int i = 0; i < g->n_nodes && rc == PN_OK; i++) {
    struct xnode *x = &ex->nodes[i];
    const struct pn_node *n = x->node;
    bool all = x->op != PN_OP_DROPOUT;
    for (int j = 0; j < n->n_in && all; j++) all = x->in[j] < 0 || ex->kind[x->in[j]] == SLOT_INIT;
    if (!all) continue;
    struct pn_ctx quiet = {0};
    struct pn_op_args a = {&quiet, n, x->opset};
    for (int j = 0; j < n->n_in; j++) tin[j] = x->in[j] >= 0 ? ex->init[x->in[j]] : NULL;
    shapes_of(tin, n->n_in, sin);
    for (int j = 0; j < n->n_out; j++) {
      memset(&sout[j], 0, sizeof sout[j]);
      sout[j].ndim = -1;
      tout[j] = NULL;
    }
    bool ok = pn_op_infer(x->op, &a, sin, n->n_in, sout, n->n_out) == PN_OK;
    for (int j = 0; j < n->n_out && ok; j++) {
      if (x->out[j] < 0) continue;
      int64_t numel = sout[j].ndim >= 0 ? pn_shape_numel(sout[j].ndim, sout[j].dims) : -1;
      ok = numel >= 0 && numel <= FOLD_MAX_NUMEL && pn_dtype_size(sout[j].dtype) &&
           (tout[j] = pn_tensor_new(sout[j].dtype, sout[j].ndim, sout[j].dims));
    }
    if (ok) ok = pn_op_run(x->op, &a, tin, n->n_in, tout, n->n_out) == PN_OK;
    for (int j = 0; j < n->n_out; j++) {
      if (!ok || x->out[j] < 0) {
        pn_tensor_free(tout[j]);
        continue;
      }
      ex->kind[x->out[j]] = SLOT_INIT;
      ex->init[x->out[j]] = tout[j];
      ex->priv[ex->n_priv++] = tout[j];
    }
    x->skip = ok;
  }
  free(tin);
  free(tout);
  free(sin);
  free(sout);
  return rc;
}

/* Fuse Add node r into Conv node i (see the header comment) if r adds the Conv's output to a
** value that exists before node i runs (prod: per slot, the node that computes it). */
static void fuse_add(struct pn_exec *ex, const int *prod, int i, int r) {
  struct xnode *x = &ex->nodes[i], *ad = &ex->nodes[r];
  const struct pn_node *n = ad->node;
  if (ad->op != PN_OP_ADD || ad->skip || n->n_in != 2 || n->n_out != 1 || ad->out[0] < 0) return;
  int pos = ad->in[0] == x->out[0] ? 0 : 1, o = ad->in[1 - pos];
  if (ad->in[pos] != x->out[0] || o < 0 || o == x->out[0]) return;
  if (ex->kind[o] == SLOT_NODE && !(prod[o] >= 0 && prod[o] < i)) return;
  x->add = r;
  x->res = o;
  x->out[0] = ad->out[0];
  ad->skip = true;
}

static int plan_fusion(struct pn_exec *ex) {
  const struct pn_graph *g = ex->g;
  int *readers = calloc((size_t)ex->n_slots + 1, sizeof *readers);
  int *reader = calloc((size_t)ex->n_slots + 1, sizeof *reader);
  int *prod = malloc(((size_t)ex->n_slots + 1) * sizeof *prod);
  int rc = PN_OK;
  if (!readers || !reader || !prod) {
    rc = PN_ERR_NOMEM;
    goto out;
  }
  for (int s = 0; s < ex->n_slots; s++) prod[s] = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < ex->nodes[i].node->n_out; j++)
      if (ex->nodes[i].out[j] >= 0) prod[ex->nodes[i].out[j]] = i;
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < ex->nodes[i].node->n_in; j++) {
      int s = ex->nodes[i].in[j];
      if (s < 0) continue;
      readers[s]++;
      reader[s] = i;
    }
  for (int i = 0; i < g->n_nodes && rc == PN_OK; i++) {
    struct xnode *x = &ex->nodes[i];
    if (x->skip || x->node->n_out != 1 || x->out[0] < 0) continue;
    if (x->op == PN_OP_CONV && x->node->n_in >= 2) {
      int r = sole_reader(ex, readers, reader, x->out[0]);
      if (r >= 0 && ex->nodes[r].op == PN_OP_BATCH_NORM && (rc = fold_bn(ex, x, &ex->nodes[r])))
        break;
      /* then a residual Add, after which the activation below is the Add's reader */
      if ((r = sole_reader(ex, readers, reader, x->out[0])) >= 0) fuse_add(ex, prod, i, r);
    }
    if (x->op != PN_OP_CONV && x->op != PN_OP_GEMM && x->op != PN_OP_MATMUL &&
        x->op != PN_OP_ADD && x->op != PN_OP_BATCH_NORM)
      continue;
    int r = sole_reader(ex, readers, reader, x->out[0]);
    if (r < 0 || !act_fusable(ex, &ex->nodes[r]) || ex->nodes[r].in[0] != x->out[0]) continue;
    x->act = r;
    x->out[0] = ex->nodes[r].out[0];
    ex->nodes[r].skip = true;
  }
out:
  free(readers);
  free(reader);
  free(prod);
  return rc;
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
    ex->hook = opts->hook;
    ex->hook_user = opts->hook_user;
  }
  ex->planned = !(opts && (opts->observer || opts->hook));
  bool fuse = !(opts && (opts->no_fuse || opts->observer || opts->hook));
  int cap = g->n_inputs + g->n_inits + 2 * g->n_nodes;   /* + folded Conv weights and biases */
  int n_node_out = 0;
  for (int i = 0; i < g->n_nodes; i++) n_node_out += g->nodes[i]->n_out;
  cap += n_node_out;
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
  ex->priv = calloc(2 * (size_t)g->n_nodes + (size_t)n_node_out + 1, sizeof *ex->priv);
  if (!ex->priv || !ex->kind || !ex->init || !ex->last_use || !ex->keep || !ex->nodes || !ex->in_slot ||
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
    x->n_in_run = n->n_in;
    x->act = -1;
    x->add = -1;
    x->res = -1;
    x->in = malloc(((size_t)n->n_in + 3) * sizeof *x->in);
    x->out = malloc(((size_t)n->n_out + 1) * sizeof *x->out);
    if (!x->in || !x->out) goto nomem;
    for (int j = 0; j < n->n_in; j++) x->in[j] = *n->in[j] ? pn_strmap_get(&map, n->in[j], -1) : -1;
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
  if (fuse && ((rc = fold_constants(ex)) != PN_OK || (rc = plan_fusion(ex)) != PN_OK)) {
    pn_exec_free(ex);
    return pn_err(ctx, rc, "out of memory");
  }
  for (int i = 0; i < g->n_nodes; i++) {
    struct xnode *x = &ex->nodes[i];
    if (x->skip) continue;
    x->const_w = fuse && (x->op == PN_OP_CONV || x->op == PN_OP_MATMUL) && x->n_in_run > 1 &&
                 x->in[1] >= 0 && ex->kind[x->in[1]] == SLOT_INIT;
    for (int j = 0; j < x->n_in_run; j++)
      if (x->in[j] >= 0) ex->last_use[x->in[j]] = i;
    if (x->res >= 0) ex->last_use[x->res] = i;   /* the shortcut: read by the Conv's stores */
    if (x->act >= 0) {   /* the activation's extra inputs (Clip bounds) are read here */
      const struct xnode *y = &ex->nodes[x->act];
      for (int j = 1; j < y->n_in_run; j++)
        if (y->in[j] >= 0) ex->last_use[y->in[j]] = i;
    }
  }
  if (plan_values(ex)) goto nomem;
  *out = ex;
  return PN_OK;
nomem:
  pn_strmap_free(&map);
  pn_exec_free(ex);
  return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
}

bool pn_exec_supports(enum pn_op op) { return (unsigned)op < PN_OP_COUNT && pn_op_defs[op].run; }

int pn_exec_n_inputs(const struct pn_exec *ex) { return ex->n_in; }
const struct pn_value *pn_exec_input(const struct pn_exec *ex, int i) { return ex->in_val[i]; }
int pn_exec_n_outputs(const struct pn_exec *ex) { return ex->n_out; }
const struct pn_value *pn_exec_output(const struct pn_exec *ex, int i) { return ex->out_val[i]; }
const double *pn_exec_op_seconds(const struct pn_exec *ex) { return ex->op_seconds; }

double pn_exec_node_seconds(const struct pn_exec *ex, int i) {
  return i >= 0 && i < ex->g->n_nodes ? ex->nodes[i].seconds : -1.0;
}

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

int pn_exec_check_input(struct pn_ctx *ctx, const struct pn_exec *ex, int i,
                        const struct pn_tensor *t) {
  if (i < 0 || i >= ex->n_in) return pn_err(ctx, PN_ERR_INVALID, "input %d: the model has %d inputs", i, ex->n_in);
  return check_input(ctx, ex->in_val[i], t);
}

/* The hook of node i (see pn_exec_hook): tout[j] may come back replaced; the replaced tensor is
** freed here. A hook that hands back NULL for a given output, or a tensor for an omitted one, is
** a programming error reported as PN_ERR_INVALID rather than a crash later. given: scratch of
** n_out entries. */
static int run_hook(struct pn_ctx *ctx, struct pn_exec *ex, int i, const struct pn_tensor **tin,
                    struct pn_tensor **tout, struct pn_tensor **given) {
  const struct xnode *x = &ex->nodes[i];
  const struct pn_node *n = x->node;
  memcpy(given, tout, (size_t)n->n_out * sizeof *given);
  struct pn_exec_step st = {n, i, (enum pn_op)x->op, tin, n->n_in, tout, n->n_out};
  int rc = ex->hook(ex->hook_user, ctx, &st);
  if (rc && ctx && ctx->status != rc)
    pn_err(ctx, rc, "node '%s' (%s): the executor hook failed", pn_node_label(n), n->op_type);
  for (int j = 0; j < n->n_out; j++) {
    if (tout[j] == given[j]) continue;
    if (!given[j] || !tout[j]) {
      if (rc == PN_OK)
        rc = pn_err(ctx, PN_ERR_INVALID, "node '%s' (%s): the executor hook %s output %d",
                    pn_node_label(n), n->op_type, given[j] ? "dropped" : "filled omitted", j);
      if (!given[j]) pn_tensor_free(tout[j]);
      tout[j] = given[j];
      continue;
    }
    pn_tensor_free(given[j]);
  }
  return rc;
}

/* A fused Add whose shortcut does not have the Conv output's shape: the Add kernel on the Conv's
** output *y and the shortcut, in the node's operand order, into a new tensor that replaces *y. */
static int run_add(struct pn_ctx *ctx, struct pn_exec *ex, const struct xnode *x,
                   const struct pn_tensor *res, struct pn_tensor **y) {
  const struct xnode *ad = &ex->nodes[x->add];
  struct pn_op_args aa = {ctx, ad->node, ad->opset};
  int pos = ad->in[0] == x->res ? 1 : 0;
  const struct pn_tensor *ain[2];
  ain[pos] = *y;
  ain[1 - pos] = res;
  struct pn_shape as[2], ao;
  shapes_of(ain, 2, as);
  memset(&ao, 0, sizeof ao);
  ao.ndim = -1;
  int rc = pn_op_infer(ad->op, &aa, as, 2, &ao, 1);
  if (rc) return rc;
  struct pn_tensor *t = NULL;
  if (ao.ndim >= 0 && pn_dtype_size(ao.dtype)) t = value_tensor(ex, x->out[0], &ao, ad->op, 0);
  if (!t) return pn_op_err(&aa, PN_ERR_NOMEM, "cannot allocate output '%s'", ad->node->out[0]);
  if ((rc = pn_op_run(ad->op, &aa, ain, 2, &t, 1))) {
    pn_tensor_free(t);
    return rc;
  }
  pn_tensor_free(*y);
  *y = t;
  return PN_OK;
}

/* Does a Conv's fused residual Add go into its stores (the shortcut has the Conv output's float
** shape s), rather than run after it (run_add)? */
static bool res_fits(const struct xnode *x, const struct pn_tensor *const *val, const struct pn_shape *s) {
  const struct pn_tensor *res = x->add >= 0 ? val[x->res] : NULL;
  return res && x->op == PN_OP_CONV && s->dtype == PN_DT_FLOAT && res->dtype == PN_DT_FLOAT &&
         res->ndim == s->ndim && !memcmp(res->dims, s->dims, (size_t)res->ndim * sizeof *res->dims);
}

/* Ops that run on the team: compute-bound kernels, the row kernels that pn_par_for cuts (Softmax,
** LayerNormalization: 11 and 5 ms of BERT/128's 128 ms on 2 threads ran on one thread) and the
** binary and unary elementwise kernels it cuts (k_elementwise.c; Add, Mul, Div and Erf, 9.5 ms of
** BERT/128's 117 on one thread, ran on one at any thread count). The rest run on one thread
** (OpenMP regions, which wait for every thread) unless they are large. */
static bool on_team(int op) {
  switch (op) {
  case PN_OP_CONV: case PN_OP_GEMM: case PN_OP_MATMUL: case PN_OP_MAX_POOL: case PN_OP_SOFTMAX:
  case PN_OP_LAYER_NORM: case PN_OP_ADD: case PN_OP_SUB: case PN_OP_MUL: case PN_OP_DIV:
  case PN_OP_ABS: case PN_OP_NEG: case PN_OP_RELU: case PN_OP_LEAKY_RELU: case PN_OP_SQRT:
  case PN_OP_ERF: case PN_OP_EXP: case PN_OP_LOG: case PN_OP_RECIPROCAL: case PN_OP_SIGMOID:
  case PN_OP_TANH:
    return true;
  default:
    return false;
  }
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

  int max_io = 3;
  for (int i = 0; i < g->n_nodes; i++) {
    if (ex->nodes[i].node->n_in > max_io) max_io = ex->nodes[i].node->n_in;
    if (ex->nodes[i].node->n_out > max_io) max_io = ex->nodes[i].node->n_out;
  }
  const struct pn_tensor **tin = calloc((size_t)max_io, sizeof *tin);
  struct pn_tensor **tout = calloc((size_t)max_io, sizeof *tout);
  struct pn_tensor **tgiven = calloc((size_t)max_io, sizeof *tgiven);
  struct pn_shape *sin = calloc((size_t)max_io, sizeof *sin);
  struct pn_shape *sout = calloc((size_t)max_io, sizeof *sout);
  if (!tin || !tout || !tgiven || !sin || !sout) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    goto done;
  }
  int team = omp_get_max_threads(), cur_threads = team;
  for (int i = 0; i < g->n_nodes && rc == PN_OK; i++) {
    struct xnode *x = &ex->nodes[i];
    if (x->skip) continue;
    const struct pn_node *n = x->node;
    struct pn_op_args a = {ctx, n, x->opset};
    double t0 = pn_now();
    for (int j = 0; j < x->n_in_run; j++) tin[j] = x->in[j] >= 0 ? val[x->in[j]] : NULL;
    shapes_of(tin, n->n_in, sin);
    for (int j = 0; j < n->n_out; j++) {
      memset(&sout[j], 0, sizeof sout[j]);
      sout[j].ndim = -1;
      tout[j] = NULL;
    }
    if ((rc = pn_op_infer(x->op, &a, sin, n->n_in, sout, n->n_out))) break;
    int64_t numel = 0;
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
        rc = pn_op_err(&a, PN_ERR_UNSUPPORTED, "output '%s': unsupported dtype %s", n->out[j], pn_dtype_name(s->dtype));
        break;
      }
      /* a Conv whose broadcasting residual Add runs after it writes the node's temporary value;
      ** the Add then writes the slot's (run_add) */
      int v = x->out[j];
      if (j == 0 && x->add >= 0 && !res_fits(x, val, s)) v = ex->n_slots + i;
      if (!(tout[j] = value_tensor(ex, v, s, x->op, j))) {
        rc = pn_op_err(&a, PN_ERR_NOMEM, "cannot allocate output '%s'", n->out[j]);
        break;
      }
      numel += pn_tensor_numel(tout[j]);
    }
    int want = on_team(x->op) || numel > (1 << 20) ? team : 1;
    if (want != cur_threads) omp_set_num_threads(cur_threads = want);
    /* A fused Relu or float Clip after a Conv runs in the Conv's epilogue; every other fused
    ** activation runs below. Both are decided here, in one place, from x->act alone: whatever
    ** path the Conv takes, a fused activation is applied exactly once. */
    bool conv_f32 = x->op == PN_OP_CONV && tout[0] && tout[0]->dtype == PN_DT_FLOAT;
    /* A fused residual Add: in the Conv's stores when the shortcut has the output's shape, else
    ** (broadcasts) run below, and then the activation after it. */
    const struct pn_tensor *res = x->add >= 0 ? val[x->res] : NULL;
    bool res_in = conv_f32 && res_fits(x, val, &sout[0]);
    bool ep_ok = conv_f32 && (x->add < 0 || res_in);
    struct pn_act act = {PN_ACT_NONE, 0, 0, res_in ? res->data : NULL, NULL};
    if (ep_ok && x->act >= 0 && ex->nodes[x->act].op == PN_OP_RELU) act.kind = PN_ACT_RELU;
    if (ep_ok && x->act >= 0 && ex->nodes[x->act].op == PN_OP_CLIP) {
      /* float bounds: in the Conv's stores; anything else (an error included) runs below */
      const struct xnode *y = &ex->nodes[x->act];
      struct pn_op_args ya = {ctx, y->node, y->opset};
      const struct pn_tensor *yin[3] = {tout[0], NULL, NULL};
      for (int j = 1; j < y->n_in_run && j < 3; j++) yin[j] = y->in[j] >= 0 ? val[y->in[j]] : NULL;
      float lo, hi;
      if (pn_clip_bounds_f32(&ya, yin, y->n_in_run < 3 ? y->n_in_run : 3, &lo, &hi) == PN_OK) {
        act.kind = PN_ACT_CLIP;
        act.lo = lo;
        act.hi = hi;
      }
    }
    bool epilogue = act.kind != PN_ACT_NONE;
    if (rc == PN_OK)
      rc = conv_f32 ? pn_conv_run_fused(&a, tin, x->n_in_run, tout[0], act,
                                        x->const_w ? &x->cc : NULL)
               : x->op == PN_OP_MATMUL && x->const_w
                    ? pn_matmul_run_cached(&a, tin, x->n_in_run, tout[0], &x->mc)
                    : pn_op_run(x->op, &a, tin, x->n_in_run, tout, n->n_out);
    if (rc == PN_OK && x->add >= 0 && !res_in) rc = run_add(ctx, ex, x, res, &tout[0]);
    if (rc == PN_OK && x->act >= 0 && !epilogue) {
      /* the fused activation, in place on the output (elementwise kernels allow it) */
      const struct xnode *y = &ex->nodes[x->act];
      struct pn_op_args ya = {ctx, y->node, y->opset};
      const struct pn_tensor *yin[3] = {tout[0], NULL, NULL};
      for (int j = 1; j < y->n_in_run && j < 3; j++) yin[j] = y->in[j] >= 0 ? val[y->in[j]] : NULL;
      struct pn_shape ysin[3], ysout;
      memset(ysin, 0, sizeof ysin);
      shapes_of(yin, y->n_in_run < 3 ? y->n_in_run : 3, ysin);
      memset(&ysout, 0, sizeof ysout);
      ysout.ndim = -1;
      rc = pn_op_infer(y->op, &ya, ysin, y->n_in_run, &ysout, 1);
      if (rc == PN_OK && (ysout.dtype != tout[0]->dtype || ysout.ndim != tout[0]->ndim ||
                          memcmp(ysout.dims, tout[0]->dims, (size_t)ysout.ndim * sizeof *ysout.dims)))
        rc = pn_op_err(&ya, PN_ERR_INVALID, "fused activation changes the shape of its input");
      if (rc == PN_OK) rc = pn_op_run(y->op, &ya, yin, y->n_in_run, tout, 1);
    }
    if (rc == PN_OK) {
      double dt = pn_now() - t0;
      ex->op_seconds[x->op] += dt;
      x->seconds += dt;
    }
    if (rc == PN_OK && ex->hook) rc = run_hook(ctx, ex, i, tin, tout, tgiven);
    if (rc) {
      for (int j = 0; j < n->n_out; j++) pn_tensor_free(tout[j]);
      break;
    }
    for (int j = 0; j < n->n_out; j++)
      if (x->out[j] >= 0) {
        val[x->out[j]] = tout[j];
        owned[x->out[j]] = true;
      }
    if (ex->observer)
      ex->observer(ex->observer_user, n, tin, n->n_in, (const struct pn_tensor *const *)tout, n->n_out);
    /* outputs nobody reads (and that are not graph outputs) die at once; inputs after their last use
    ** (pn_tensor_free ignores planned tensors, heap = false: they stay with their buffer) */
    for (int j = 0; j < n->n_out; j++) {
      int s = x->out[j];
      if (s >= 0 && ex->last_use[s] < 0 && !ex->keep[s]) {
        pn_tensor_free((struct pn_tensor *)val[s]);
        val[s] = NULL;
        owned[s] = false;
      }
    }
    const struct xnode *y = x->act >= 0 ? &ex->nodes[x->act] : NULL;
    int n_read = x->n_in_run + (y ? y->n_in_run - 1 : 0) + (x->res >= 0);
    for (int j = 0; j < n_read; j++) {
      int s = j < x->n_in_run                          ? x->in[j]
              : y && j < x->n_in_run + y->n_in_run - 1 ? y->in[j - x->n_in_run + 1]
                                                       : x->res;
      if (s >= 0 && ex->last_use[s] == i && owned[s] && !ex->keep[s]) {
        pn_tensor_free((struct pn_tensor *)val[s]);
        val[s] = NULL;
        owned[s] = false;
      }
    }
  }
  if (cur_threads != team) omp_set_num_threads(team);
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
  /* every planned tensor is free again: the plan may change */
  if (ex->replan) plan_build(ex);
  free(val);
  free(owned);
  free(tin);
  free(tout);
  free(tgiven);
  free(sin);
  free(sout);
  return rc;
}
