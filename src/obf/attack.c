/* attack.c - how well can an adversary tell real parts from sentinels in a Proteus bundle?
**
** For every model, the bundle is simulated exactly as split makes it (prepare, partition, k
** sentinels per part, anonymization with decoy weights) and each anonymous file becomes a sample:
** a skeleton (ops and the attributes tokens use) and a feature vector the adversary can compute
** from the file alone: opcode histogram, size/degree/diameter, boundary shapes, shape-changing
** nodes, Conv strides/groups/kernels and weight statistics (mean, spread, scale relative to
** He-normal, sign). Two adversaries are trained leave-one-model-family-out: an n-gram likelihood
** ranker over the real parts of the other families, and a class-balanced L2 logistic regression
** over the features; two more use the bundle alone, comparing the files of a group (medoid and
** nearest neighbour), and a fifth reads how the files are written (dialect: the attribute names
** each operator's nodes carry and their order, Reshape constants starting with 0). Per model: AUC,
** specificity at 99% recall of real parts (share of sentinels ranked below the threshold that keeps
** 99% of real parts; sentinels with their real part's
** structure, twins, take no part, nor real parts with no other sentinels) and log10 of the
** candidate count: over parts, 1 + (1 - s) times the distinct sentinel structures other than the
** real part's, with the strongest adversary's s (and, as the Proteus paper counts, times the
** generated sentinels). Each adversary's AUC as scored, before orientation, says which way the real
** parts stand out to it (pn_obf_adversary_reading). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "obf/obf.h"
#include "obf/obf_ngram.h"
#include "util/arena.h"
#include "util/bytes.h"
#include "util/prg.h"
#include "util/status.h"

#define NF_MAX PN_OBF_ATTACK_MAX_FEATURES

/* ---- the dialect adversary ---- */

/* One way a file writes an operator: op a hash of its domain and type, how a hash of the attribute
** names its nodes carry, in their order; for "Reshape:0", whether a constant shape starts with 0. */
struct way {
  uint64_t op, how;
};

static int cmp_way(const void *a, const void *b) {
  const struct way *x = a, *y = b;
  if (x->op != y->op) return x->op < y->op ? -1 : 1;
  return (x->how > y->how) - (x->how < y->how);
}

static int cmp_op(const void *a, const void *b) {
  const struct way *x = a, *y = b;
  return (x->op > y->op) - (x->op < y->op);
}

static uint64_t str_hash(uint64_t h, const char *s) { return pn_fnv1a(h, s, strlen(s) + 1); }

/* The distinct ways g writes its operators, sorted (*out malloc'd, NULL when there are none). A
** file writing one operator two ways lists both. */
static int file_ways(struct pn_ctx *ctx, const struct pn_graph *g, struct way **out, int *n) {
  *out = NULL;
  *n = 0;
  struct way *w = malloc(2 * (size_t)g->n_nodes * sizeof *w + 1);
  if (!w) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  int m = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *nd = g->nodes[i];
    uint64_t op = str_hash(str_hash(PN_FNV1A_OFFSET, nd->domain ? nd->domain : ""), nd->op_type), how = PN_FNV1A_OFFSET;
    for (int a = 0; a < nd->n_attr; a++) how = str_hash(how, nd->attr[a].name);
    w[m++] = (struct way){op, how};
    int z = strcmp(nd->op_type, "Reshape") ? -1 : pn_obf_reshape_zero(g, nd);
    if (z >= 0) w[m++] = (struct way){str_hash(PN_FNV1A_OFFSET, "Reshape:0"), (uint64_t)z};
  }
  qsort(w, (size_t)m, sizeof *w, cmp_way);
  int q = 0;
  for (int i = 0; i < m; i++)
    if (!q || cmp_way(&w[i], &w[q - 1])) w[q++] = w[i];
  if (!q) {
    free(w);
    w = NULL;
  }
  *out = w;
  *n = q;
  return PN_OK;
}

struct way_use {
  struct way w;
  int group;
};

static int cmp_use(const void *a, const void *b) {
  const struct way_use *x = a, *y = b;
  int c = cmp_way(&x->w, &y->w);
  return c ? c : (x->group > y->group) - (x->group < y->group);
}

/* The dialect scores of n files (ways[i][0..nw[i]), group[i]): the model's way of writing an operator
** is the one the most groups use (the smallest hash on a tie), and a file scores minus the ways it
** writes otherwise. */
static int way_scores(struct pn_ctx *ctx, struct way *const *ways, const int *nw, const int *group, int n,
                      double *score) {
  size_t tot = 0;
  for (int i = 0; i < n; i++) tot += (size_t)nw[i];
  struct way_use *u = malloc(tot * sizeof *u + 1);
  struct way *model = malloc(tot * sizeof *model + 1); /* per operator, its model way */
  if (!u || !model) {
    free(u);
    free(model);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  size_t m = 0, nm = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < nw[i]; j++) u[m++] = (struct way_use){ways[i][j], group[i]};
  qsort(u, m, sizeof *u, cmp_use);
  /* u sorted by operator, way, group: count the groups of each way, keep each operator's most used */
  int best = -1;
  for (size_t i = 0; i < m;) {
    size_t j = i;
    int groups = 0;
    for (; j < m && !cmp_way(&u[j].w, &u[i].w); j++) groups += j == i || u[j].group != u[j - 1].group;
    if (!nm || model[nm - 1].op != u[i].w.op) {
      model[nm++] = u[i].w;
      best = groups;
    } else if (groups > best) {
      model[nm - 1] = u[i].w;
      best = groups;
    }
    i = j;
  }
  for (int i = 0; i < n; i++) {
    int off = 0;
    for (int j = 0; j < nw[i]; j++) {
      const struct way *mw = bsearch(&ways[i][j], model, nm, sizeof *model, cmp_op);
      off += !mw || mw->how != ways[i][j].how;
    }
    score[i] = -off;
  }
  free(u);
  free(model);
  return PN_OK;
}

int pn_obf_dialect_scores(struct pn_ctx *ctx, const struct pn_graph *const *files, const int *group, int n,
                          double *score) {
  struct way **w = calloc((size_t)n + 1, sizeof *w);
  int *nw = calloc((size_t)n + 1, sizeof *nw), rc = PN_OK;
  if (!w || !nw) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n && !rc; i++) rc = file_ways(ctx, files[i], &w[i], &nw[i]);
  if (!rc) rc = way_scores(ctx, w, nw, group, n, score);
  for (int i = 0; w && i < n; i++) free(w[i]);
  free(w);
  free(nw);
  return rc;
}

struct sample {
  int model;                   /* index into the model list */
  int group;                   /* the real part and its sentinels share a group */
  bool real;
  bool twin;                   /* a generated sentinel or copy with its real part's structure */
  struct pn_graph *skel;       /* nodes only */
  double f[NF_MAX];
  struct way *ways;            /* how the file writes each operator (file_ways) */
  int n_ways;
};

struct samples {
  struct sample *s;
  int n, cap, nf, n_groups;
  struct group {
    int model;
    int generated;             /* sentinels generated (the others copy the real part) */
    int twins;                 /* generated with the real part's structure (pn_obf_structure_sig) */
    int distinct;              /* structures among the generated other than the real part's */
  } *gr;                       /* [group] */
  int gcap;
};

/* Whether sample i is a real part whose sentinels are all twins or copies (none to rank it against). */
static bool bare(const struct samples *ss, int i) { return ss->s[i].real && ss->gr[ss->s[i].group].distinct == 0; }

static void samples_free(struct samples *ss) {
  for (int i = 0; i < ss->n; i++) {
    pn_graph_free(ss->s[i].skel);
    free(ss->s[i].ways);
  }
  free(ss->s);
  free(ss->gr);
  memset(ss, 0, sizeof *ss);
}

/* Nodes with op type, domain and the attributes tokens use; no initializers. */
static struct pn_graph *skeleton(const struct pn_graph *g) {
  struct pn_graph *d = pn_graph_new();
  if (!d) return NULL;
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *s = g->nodes[i];
    struct pn_node *n = pn_graph_add_node(d, s->op_type, "", s->n_in, s->in, s->n_out, s->out);
    if (!n) goto fail;
    const struct pn_attr *k = pn_node_attr(s, "kernel_shape"), *gr = pn_node_attr(s, "group");
    if (k && k->type == PN_ATTR_INTS && pn_node_set_ints(d, n, "kernel_shape", k->n, k->ints)) goto fail;
    if (gr && gr->type == PN_ATTR_INT && pn_node_set_int(d, n, "group", gr->i)) goto fail;
  }
  return d;
fail:
  pn_graph_free(d);
  return NULL;
}

static const char *const vocab[] = {"Conv1", "Conv3", "Conv5", "Conv7", "Conv3g", "Relu", "Clip",
                                    "Add", "Mul", "Sub", "Div", "MatMul", "Gemm", "Reshape",
                                    "Transpose", "Softmax", "LayerNormalization", "Erf",
                                    "MaxPool3", "MaxPool2", "AveragePool3", "GlobalAveragePool",
                                    "Flatten", "Sigmoid", "Tanh", NULL};

static double log10p(double x) { return log10(x > 0 ? x : 1e-30); }

/* Feature names, filled by features() (the same every call). */
static const char *feat_names[NF_MAX + 1];
#define PUT(name, value)                                                                        \
  do {                                                                                          \
    feat_names[nf] = (name);                                                                    \
    f[nf++] = (value);                                                                          \
  } while (0)

/* Feature vector of one anonymous part; returns the number of features. */
static int features(struct pn_ctx *ctx, struct pn_graph *g, double *f) {
  int nf = 0, nv = 0;
  while (vocab[nv]) nv++;
  int n = g->n_nodes;
  char tok[64];
  for (int v = 0; v < nv; v++) {
    f[nf + v] = 0;
    feat_names[nf + v] = vocab[v];
  }
  double other = 0;
  for (int i = 0; i < n; i++) {
    pn_obf_node_token(g->nodes[i], tok, sizeof tok);
    int v = 0;
    while (vocab[v] && strcmp(vocab[v], tok)) v++;
    if (vocab[v]) f[nf + v] += 1.0 / n;
    else other += 1.0 / n;
  }
  nf += nv;
  PUT("other ops", other);
  double feat[3];
  pn_obf_graph_features(g, feat);
  PUT("log10 nodes", log10p(feat[0]));
  PUT("avg degree", feat[1]);
  PUT("diameter/nodes", feat[0] > 0 ? feat[2] / feat[0] : 0);
  int rt = 0;
  double in_sz = 0, out_sz = 0;
  for (int i = 0; i < g->n_inputs; i++)
    if (pn_graph_is_runtime_input(g, i)) {
      rt++;
      in_sz += log10p((double)pn_shape_numel(g->inputs[i].ndim, g->inputs[i].dims));
    }
  for (int i = 0; i < g->n_outputs; i++)
    out_sz += log10p((double)pn_shape_numel(g->outputs[i].ndim, g->outputs[i].dims));
  PUT("runtime inputs", rt);
  PUT("outputs", g->n_outputs);
  PUT("log10 input size", rt ? in_sz / rt : 0);
  PUT("log10 output size", g->n_outputs ? out_sz / g->n_outputs : 0);
  PUT("input rank", g->n_inputs > 0 ? g->inputs[0].ndim : 0);
  /* shape-changing nodes (shapes inferred on the anonymous file, as an adversary would) */
  struct pn_ctx quiet = {0};
  double changes = 0;
  if (pn_graph_infer_shapes(&quiet, g) == PN_OK) {
    for (int i = 0; i < n; i++) {
      if (pn_obf_node_reshapes(g, g->nodes[i])) changes += 1.0 / n;
    }
  }
  (void)ctx;
  PUT("shape changes", changes);
  /* attributes */
  double convs = 0, stride2 = 0, grouped = 0, ksum = 0;
  for (int i = 0; i < n; i++) {
    const struct pn_node *nd = g->nodes[i];
    if (strcmp(nd->op_type, "Conv")) continue;
    convs++;
    const struct pn_attr *s = pn_node_attr(nd, "strides"), *gr = pn_node_attr(nd, "group"),
                         *k = pn_node_attr(nd, "kernel_shape");
    if (s && s->type == PN_ATTR_INTS && s->n > 0 && s->ints[0] > 1) stride2++;
    if (gr && gr->type == PN_ATTR_INT && gr->i > 1) grouped++;
    if (k && k->type == PN_ATTR_INTS && k->n > 0) ksum += (double)k->ints[0];
  }
  PUT("conv stride>1", convs ? stride2 / convs : 0);
  PUT("conv grouped", convs ? grouped / convs : 0);
  PUT("conv kernel", convs ? ksum / convs : 0);
  /* weights */
  double wn = 0, am = 0, sd = 0, he = 0, nonneg = 0, sz = 0;
  for (int i = 0; i < g->n_inits; i++) {
    const struct pn_tensor *t = g->inits[i];
    int64_t m = pn_tensor_numel(t);
    if (t->dtype != PN_DT_FLOAT || m < 2) continue;
    double mean, std;
    bool nn;
    pn_obf_weight_stats(t, &mean, &std, &nn);
    wn++;
    am += fabs(mean);
    sd += std;
    nonneg += nn;
    sz += log10p((double)m);
    if (t->ndim >= 2) he += std * sqrt((double)(m / t->dims[0]));
  }
  PUT("|weight mean|", wn ? am / wn : 0);
  PUT("weight sd", wn ? sd / wn : 0);
  PUT("weight sd*sqrt(fan-in)", wn ? he / wn : 0);
  PUT("nonneg weights", wn ? nonneg / wn : 0);
  PUT("log10 weight size", wn ? sz / wn : 0);
  PUT("weights/nodes", n ? wn / n : 0);
  return nf;
}

static int add_sample(struct pn_ctx *ctx, struct samples *ss, int model, int group, bool real, bool twin,
                      struct pn_graph *anon) {
  if (ss->n == ss->cap) {
    int nc = ss->cap ? 2 * ss->cap : 256;
    struct sample *s = realloc(ss->s, (size_t)nc * sizeof *s);
    if (!s) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    ss->s = s;
    ss->cap = nc;
  }
  struct sample *s = &ss->s[ss->n];
  memset(s, 0, sizeof *s);
  s->model = model;
  s->group = group;
  s->real = real;
  s->twin = twin;
  int rc = file_ways(ctx, anon, &s->ways, &s->n_ways);
  if (rc) return rc;
  if (!(s->skel = skeleton(anon))) {
    free(s->ways);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  ss->nf = features(ctx, anon, s->f); /* f[nf] is left for the per-fold n-gram score */
  ss->n++;
  return PN_OK;
}

/* ---- structure leak: a vote over each part's operator multisets ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

char *pn_obf_op_multiset(const struct pn_graph *g) {
  int n = g->n_nodes;
  char **ops = calloc((size_t)n + 1, sizeof *ops), *out = NULL;
  size_t len = 1;
  if (!ops) return NULL;
  for (int i = 0; i < n; i++) {
    const struct pn_node *nd = g->nodes[i];
    const char *dom = nd->domain ? nd->domain : "";
    size_t l = strlen(dom) + strlen(nd->op_type) + 2;
    if (!(ops[i] = malloc(l))) goto out;
    snprintf(ops[i], l, "%s:%s", dom, nd->op_type);
    len += l + 12; /* "*count;" */
  }
  qsort(ops, (size_t)n, sizeof *ops, cmp_str);
  if (!(out = malloc(len))) goto out;
  size_t at = 0;
  out[0] = 0;
  for (int i = 0; i < n;) {
    int j = i;
    while (j < n && !strcmp(ops[j], ops[i])) j++;
    at += (size_t)snprintf(out + at, len - at, "%s%s*%d", at ? ";" : "", ops[i], j - i);
    i = j;
  }
out:
  for (int i = 0; i < n; i++) free(ops[i]);
  free(ops);
  return out;
}

/* ---- structural twins ---- */

/* h extended with the text printf would write (pieces are a token, a number or a short name) */
__attribute__((format(printf, 2, 3))) static uint64_t fnv_printf(uint64_t h, const char *fmt, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return pn_fnv1a(h, buf, w < 0 ? 0 : (size_t)w < sizeof buf ? (size_t)w : sizeof buf - 1);
}

/* One node by itself, hashed: its token, output count, integer and float attributes, and per input
** a weight's dtype and shape, a runtime input's shape, or "p" (fed by node prod[j]; refined by the
** rounds below). */
static uint64_t node_hash(const struct pn_graph *g, const struct pn_node *nd, const int *prod) {
  char tok[64];
  pn_obf_node_token(nd, tok, sizeof tok);
  uint64_t h = fnv_printf(PN_FNV1A_OFFSET, "%s/%d{", tok, nd->n_out);
  for (int a = 0; a < nd->n_attr; a++) {
    const struct pn_attr *at = &nd->attr[a];
    if (at->type != PN_ATTR_INT && at->type != PN_ATTR_FLOAT && at->type != PN_ATTR_INTS) continue;
    h = pn_fnv1a(pn_fnv1a(h, at->name, strlen(at->name)), "=", 1);
    if (at->type == PN_ATTR_INT) h = fnv_printf(h, "%lld", (long long)at->i);
    else if (at->type == PN_ATTR_FLOAT) h = fnv_printf(h, "%.9g", (double)at->f);
    else
      for (int64_t k = 0; k < at->n; k++) h = fnv_printf(h, "%lld.", (long long)at->ints[k]);
    h = pn_fnv1a(h, ",", 1);
  }
  h = pn_fnv1a(h, "}(", 2);
  for (int j = 0; j < nd->n_in; j++) {
    const char *in = nd->in[j];
    const struct pn_tensor *t = in && in[0] ? pn_graph_find_init(g, in) : NULL;
    const struct pn_value *v = in && in[0] && !t && prod[j] < 0 ? pn_graph_find_value(g, in) : NULL;
    if (!in || !in[0]) {
      h = pn_fnv1a(h, "-;", 2);
    } else if (t || v) {
      int rank = t ? t->ndim : v->ndim;
      h = fnv_printf(h, "%c%d:", t ? 'w' : 'x', t ? (int)t->dtype : (int)v->dtype);
      for (int k = 0; k < rank; k++) h = fnv_printf(h, "%lld.", (long long)(t ? t->dims[k] : v->dims[k]));
      h = pn_fnv1a(h, ";", 1);
    } else {
      h = pn_fnv1a(h, "p;", 2);
    }
  }
  h = pn_fnv1a(h, ")", 1);
  for (int k = 0; k < nd->n_out; k++)
    for (int o = 0; o < g->n_outputs; o++)
      if (!strcmp(nd->out[k], g->outputs[o].name)) h = fnv_printf(h, "o%d", k);
  return h;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Weisfeiler-Lehman colour refinement over the node DAG: each round a node's colour takes in its
** producers' colours (in input order) and its consumers' (sorted). */
char *pn_obf_structure_sig(const struct pn_graph *g) {
  int n = g->n_nodes, ne = 0;
  for (int i = 0; i < n; i++) ne += g->nodes[i]->n_in;
  uint64_t *h = calloc((size_t)n + 1, sizeof *h), *h2 = calloc((size_t)n + 1, sizeof *h2),
           *tmp = calloc((size_t)ne + 1, sizeof *tmp);
  /* prod[off[i] + j]: the node feeding node i's input j (-1: none); cons[coff[p] .. coff[p + 1]): the
  ** nodes p feeds, once per input it feeds */
  int *prod = malloc(((size_t)ne + 1) * sizeof *prod), *off = calloc((size_t)n + 1, sizeof *off),
      *cons = malloc(((size_t)ne + 1) * sizeof *cons), *coff = calloc((size_t)n + 2, sizeof *coff);
  char *out = NULL;
  if (!h || !h2 || !tmp || !prod || !off || !cons || !coff) goto done;
  for (int i = 0, e = 0; i < n; i++) {
    off[i] = e;
    for (int j = 0; j < g->nodes[i]->n_in; j++, e++) {
      const char *in = g->nodes[i]->in[j];
      prod[e] = in && in[0] ? pn_graph_find_producer(g, in) : -1;
      if (prod[e] >= 0) coff[prod[e] + 2]++;
    }
    h[i] = node_hash(g, g->nodes[i], prod + off[i]);
  }
  for (int p = 0; p < n; p++) coff[p + 2] += coff[p + 1];
  for (int i = 0; i < n; i++)
    for (int j = 0; j < g->nodes[i]->n_in; j++)
      if (prod[off[i] + j] >= 0) cons[coff[prod[off[i] + j] + 1]++] = i;
  int rounds = n < 8 ? n : 8;
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < n; i++) {
      uint64_t x = pn_fnv1a(PN_FNV1A_OFFSET, &h[i], sizeof h[i]);
      for (int j = 0; j < g->nodes[i]->n_in; j++) {
        int p = prod[off[i] + j];
        uint64_t c = p >= 0 ? h[p] : 0;
        x = pn_fnv1a(x, &c, sizeof c);
      }
      int nc = 0;
      for (int k = coff[i]; k < coff[i + 1]; k++) tmp[nc++] = h[cons[k]];
      qsort(tmp, (size_t)nc, sizeof *tmp, cmp_u64);
      x = pn_fnv1a(x, "|", 1);
      for (int k = 0; k < nc; k++) x = pn_fnv1a(x, &tmp[k], sizeof tmp[k]);
      h2[i] = x;
    }
    memcpy(h, h2, (size_t)n * sizeof *h);
  }
  qsort(h, (size_t)n, sizeof *h, cmp_u64);
  if (!(out = malloc(24 + 17 * (size_t)n))) goto done;
  int at = snprintf(out, 24, "%d>", n);
  for (int i = 0; i < n; i++) at += snprintf(out + at, 18, "%016llx", (unsigned long long)h[i]);
done:
  free(h);
  free(h2);
  free(tmp);
  free(prod);
  free(off);
  free(cons);
  free(coff);
  return out;
}

int pn_obf_distinct_structures(struct pn_ctx *ctx, const struct pn_graph *real, const struct pn_graph *const *sent,
                               int n, int *twins, int *distinct, bool *is_twin) {
  char **sig = calloc((size_t)n + 2, sizeof *sig);
  int rc = PN_OK;
  *twins = *distinct = 0;
  if (!sig) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  for (int i = 0; i <= n && !rc; i++)
    if (!(sig[i] = pn_obf_structure_sig(i ? sent[i - 1] : real))) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  for (int i = 1; i <= n && !rc; i++) {
    bool twin = !strcmp(sig[i], sig[0]);
    if (is_twin) is_twin[i - 1] = twin;
    if (twin) {
      (*twins)++;
      continue;
    }
    int j = 1;
    while (j < i && strcmp(sig[j], sig[i])) j++;
    *distinct += j == i; /* the first of its structure */
  }
  for (int i = 0; i <= n; i++) free(sig[i]);
  free(sig);
  return rc;
}

int pn_obf_vote_leaks(struct pn_ctx *ctx, const struct pn_graph *const *files, const int *group,
                      const bool *real, int n, int *leaks) {
  char **key = calloc((size_t)n + 1, sizeof *key);
  int rc = PN_OK;
  *leaks = 0;
  if (!key) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n; i++)
    if (!(key[i] = pn_obf_op_multiset(files[i]))) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      goto out;
    }
  for (int a = 0; a < n;) {
    int b = a, r = -1;
    while (b < n && group[b] == group[a]) {
      if (real[b]) r = b;
      b++;
    }
    if (r < 0) {
      rc = pn_err(ctx, PN_ERR_INVALID, "vote: group %d has no real file", group[a]);
      goto out;
    }
    /* the count of each file's multiset; the vote's winner must be unique */
    int best = 0, n_best = 0, best_at = -1;
    for (int i = a; i < b; i++) {
      int c = 0;
      for (int j = a; j < b; j++) c += !strcmp(key[i], key[j]);
      if (c > best) {
        best = c;
        n_best = 1;
        best_at = i;
      } else if (c == best && strcmp(key[i], key[best_at])) {
        /* another multiset as frequent (each tied multiset is seen c times; count it once) */
        bool seen = false;
        for (int j = a; j < i && !seen; j++) seen = !strcmp(key[j], key[i]);
        n_best += !seen;
      }
    }
    *leaks += n_best == 1 && !strcmp(key[best_at], key[r]);
    a = b;
  }
out:
  for (int i = 0; i < n; i++) free(key[i]);
  free(key);
  return rc;
}

/* ---- metrics ---- */

double pn_obf_auc(const double *score, const bool *real, int n) {
  /* Mann-Whitney: P(score real > score sentinel) + half the ties */
  double num = 0, np = 0, nn = 0;
  for (int i = 0; i < n; i++) {
    if (!real[i]) continue;
    np++;
    for (int j = 0; j < n; j++) {
      if (real[j]) continue;
      num += score[i] > score[j] ? 1 : score[i] == score[j] ? 0.5 : 0;
    }
  }
  for (int j = 0; j < n; j++) nn += !real[j];
  return np && nn ? num / (np * nn) : 0.5;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double pn_obf_specificity(const double *score, const bool *real, int n, double recall) {
  int np = 0;
  for (int i = 0; i < n; i++) np += real[i];
  if (!np) return 0;
  double *r = malloc((size_t)np * sizeof *r);
  if (!r) return 0;
  for (int i = 0, j = 0; i < n; i++)
    if (real[i]) r[j++] = score[i];
  qsort(r, (size_t)np, sizeof *r, cmp_d);
  /* the largest threshold keeping >= recall of the real parts at or above it */
  int drop = (int)floor((1 - recall) * np + 1e-9);
  double thr = r[drop < np ? drop : np - 1];
  free(r);
  int neg = 0, below = 0;
  for (int i = 0; i < n; i++)
    if (!real[i]) {
      neg++;
      below += score[i] < thr;
    }
  return neg ? (double)below / neg : 0;
}

void pn_obf_oriented(double *score, const bool *real, int n, double *auc, double *spec, double *as_scored) {
  double a = pn_obf_auc(score, real, n), s = pn_obf_specificity(score, real, n, 0.99);
  for (int i = 0; i < n; i++) score[i] = -score[i];
  double b = pn_obf_auc(score, real, n), t = pn_obf_specificity(score, real, n, 0.99);
  *auc = a > b ? a : b;
  *spec = s > t ? s : t;
  if (as_scored) *as_scored = a;
}

static const char *const adv_names[PN_OBF_ADV_COUNT] = {"n-gram", "classifier", "medoid", "neighbour", "dialect"};
/* [adversary][real parts scored higher]: see pn_obf_adversary_reading */
static const char *const adv_reading[PN_OBF_ADV_COUNT][2] = {
  {"less typical", "more typical"}, {"sentinel-like", "real-like"}, {"outlying", "central"}, {"paired", "isolated"},
  {"written apart", "written alike"}};

const char *pn_obf_adversary_name(int adv) {
  return adv >= 0 && adv < PN_OBF_ADV_COUNT ? adv_names[adv] : "?";
}

const char *pn_obf_adversary_reading(int adv, double auc_as_scored) {
  if (adv < 0 || adv >= PN_OBF_ADV_COUNT) return "?";
  if (auc_as_scored == 0.5) return "even";
  return adv_reading[adv][auc_as_scored > 0.5];
}

/* The model's files without the twins of real parts (twin[i]), in place; returns how many are
** left. A twin is its real part as far as structure goes: neither a decoy to find nor a miss when an
** adversary ranks it with the real ones, so it enters no AUC or specificity. Nor does a real part
** whose sentinels are all twins or copies (a part reading token ids): with its decoys gone it would
** be ranked only against other parts' sentinels, found for what it is (an embedding lookup) rather
** than picked out of its group; that its structure is exposed is in the candidate count (a factor 1). */
static int drop_twins(double *score, const bool *twin, int n) {
  int q = 0;
  for (int i = 0; i < n; i++)
    if (!twin[i]) score[q++] = score[i];
  return q;
}

/* ---- the null: files that cannot be told apart ---- */

/* The q-quantile of n sorted values (nearest rank). */
static double quantile(const double *v, int n, double q) {
  int i = (int)ceil(q * n) - 1;
  return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

int pn_obf_null(struct pn_ctx *ctx, const double *const *score, int n_adv, const int *group, int n_groups,
                const bool *ranked, int n, const int *generated, double auc, int draws, struct pn_prg *prg,
                struct pn_obf_null *out) {
  memset(out, 0, sizeof *out);
  if (draws <= 0 || n <= 0 || n_groups <= 0) return PN_OK;
  int rc = PN_OK, *first = calloc((size_t)n_groups + 1, sizeof *first), *cnt = calloc((size_t)n_groups + 1, sizeof *cnt);
  int *idx = malloc((size_t)n * sizeof *idx), *ord = malloc((size_t)n * sizeof *ord);
  double *sc = malloc((size_t)n * sizeof *sc), *a = malloc((size_t)draws * sizeof *a);
  double *sp = malloc((size_t)draws * sizeof *sp), *fl = malloc((size_t)draws * sizeof *fl);
  bool *lab = malloc((size_t)n * sizeof *lab);
  if (!first || !cnt || !idx || !ord || !sc || !a || !sp || !fl || !lab) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  /* the ranked files, grouped: ord[first[g] .. first[g] + cnt[g]) are group g's */
  int m = 0;
  for (int i = 0; i < n; i++)
    if (ranked[i] && group[i] >= 0 && group[i] < n_groups) cnt[group[i]]++;
  for (int g = 0, at = 0; g < n_groups; g++) {
    first[g] = at;
    at += cnt[g];
  }
  for (int g = 0; g < n_groups; g++) cnt[g] = 0;
  for (int i = 0; i < n; i++)
    if (ranked[i] && group[i] >= 0 && group[i] < n_groups) {
      ord[first[group[i]] + cnt[group[i]]++] = m;
      idx[m++] = i;
    }
  for (int d = 0; d < draws; d++) {
    for (int j = 0; j < m; j++) lab[j] = false;
    for (int g = 0; g < n_groups; g++)
      if (cnt[g]) lab[ord[first[g] + (int)pn_prg_uniform(prg, (uint64_t)cnt[g])]] = true;
    /* the strongest adversary, as pn_obf_attack picks it: the highest specificity, the first on a tie */
    double best_auc = 0.5, best_spec = -1;
    for (int k = 0; k < n_adv; k++) {
      double x, spec;
      for (int j = 0; j < m; j++) sc[j] = score[k][idx[j]];
      pn_obf_oriented(sc, lab, m, &x, &spec, NULL); /* as the attack orients each adversary */
      if (spec > best_spec) {
        best_spec = spec;
        best_auc = x;
      }
    }
    a[d] = best_auc;
    sp[d] = best_spec;
    fl[d] = 0;
    for (int g = 0; g < n_groups; g++) fl[d] += log10(1 + (1 - best_spec) * generated[g]);
    out->auc_p += best_auc >= auc - 1e-12;
    out->auc_over_target += best_auc > PN_OBF_TARGET_AUC;
    out->files_at_target += fl[d] >= PN_OBF_TARGET_LOG10_FILES;
  }
  qsort(a, (size_t)draws, sizeof *a, cmp_d);
  qsort(sp, (size_t)draws, sizeof *sp, cmp_d);
  qsort(fl, (size_t)draws, sizeof *fl, cmp_d);
  out->draws = draws;
  out->auc_median = quantile(a, draws, 0.5);
  out->auc_q95 = quantile(a, draws, 0.95);
  out->specificity_median = quantile(sp, draws, 0.5);
  out->log10_files_median = quantile(fl, draws, 0.5);
  out->auc_p /= draws;
  out->auc_over_target /= draws;
  out->files_at_target /= draws;
out:
  free(first);
  free(cnt);
  free(idx);
  free(ord);
  free(sc);
  free(a);
  free(sp);
  free(fl);
  free(lab);
  return rc;
}

/* ---- logistic regression ---- */

/* Mean and standard deviation (+1e-9) of the first nf features over the samples with use[i] set.
** Returns how many samples that is. */
static double moments(const struct samples *ss, const bool *use, int nf, double *mu, double *sd) {
  double cnt = 0;
  for (int j = 0; j < nf; j++) mu[j] = sd[j] = 0;
  for (int i = 0; i < ss->n; i++)
    if (use[i]) {
      cnt++;
      for (int j = 0; j < nf; j++) mu[j] += ss->s[i].f[j];
    }
  for (int j = 0; j < nf; j++) mu[j] /= cnt > 0 ? cnt : 1;
  for (int i = 0; i < ss->n; i++)
    if (use[i])
      for (int j = 0; j < nf; j++) sd[j] += (ss->s[i].f[j] - mu[j]) * (ss->s[i].f[j] - mu[j]);
  for (int j = 0; j < nf; j++) sd[j] = sqrt(sd[j] / (cnt > 1 ? cnt - 1 : 1)) + 1e-9;
  return cnt;
}

static void logreg(const struct samples *ss, const bool *train, double *w, double *mu, double *sdv) {
  int nf = ss->nf;
  double cnt = moments(ss, train, nf, mu, sdv), pos = 0;
  for (int i = 0; i < ss->n; i++) pos += train[i] && ss->s[i].real;
  double wp = pos > 0 ? 0.5 / pos : 0, wn = cnt - pos > 0 ? 0.5 / (cnt - pos) : 0;
  for (int j = 0; j <= nf; j++) w[j] = 0;
  double grad[NF_MAX + 1];
  for (int it = 0; it < 500; it++) {
    for (int j = 0; j <= nf; j++) grad[j] = 0;
    for (int i = 0; i < ss->n; i++) {
      if (!train[i]) continue;
      double z = w[nf];
      for (int j = 0; j < nf; j++) z += w[j] * (ss->s[i].f[j] - mu[j]) / sdv[j];
      double p = 1 / (1 + exp(-z)), y = ss->s[i].real, cw = y ? wp : wn;
      for (int j = 0; j < nf; j++) grad[j] += cw * (p - y) * (ss->s[i].f[j] - mu[j]) / sdv[j];
      grad[nf] += cw * (p - y);
    }
    for (int j = 0; j < nf; j++) w[j] -= 0.5 * (grad[j] + 1e-3 * w[j]);
    w[nf] -= 0.5 * grad[nf];
  }
}

static double logreg_score(const double *w, const double *mu, const double *sdv, int nf, const double *f) {
  double z = w[nf];
  for (int j = 0; j < nf; j++) z += w[j] * (f[j] - mu[j]) / sdv[j];
  return z;
}

/* ---- the medoid and neighbour adversaries ---- */

void pn_obf_group_scores(const double *f, int nf, const int *group, int n, double *medoid, double *neighbour) {
  double mu[NF_MAX] = {0}, sd[NF_MAX] = {0};
  if (nf > NF_MAX) nf = NF_MAX;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < nf; j++) mu[j] += f[(size_t)i * nf + j];
  for (int j = 0; j < nf; j++) mu[j] /= n > 0 ? n : 1;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < nf; j++) sd[j] += (f[(size_t)i * nf + j] - mu[j]) * (f[(size_t)i * nf + j] - mu[j]);
  for (int j = 0; j < nf; j++) sd[j] = sqrt(sd[j] / (n > 1 ? n - 1 : 1)) + 1e-9;
  for (int i = 0; i < n; i++) {
    double tot = 0, near = INFINITY;
    int m = 0;
    for (int o = 0; o < n; o++) {
      if (o == i || group[o] != group[i]) continue;
      double d = 0;
      for (int j = 0; j < nf; j++) {
        double z = (f[(size_t)i * nf + j] - f[(size_t)o * nf + j]) / sd[j];
        d += z * z;
      }
      d = sqrt(d);
      tot += d;
      if (d < near) near = d;
      m++;
    }
    medoid[i] = m ? -tot / m : 0;
    neighbour[i] = m ? near : 0;
  }
}

/* The two scores over one model's files, in sample order (f and grp: scratch for them). */
static void group_scores(const struct samples *ss, int model, int nf, double *f, int *grp, double *medoid,
                         double *neighbour) {
  int q = 0;
  for (int i = 0; i < ss->n; i++) {
    if (ss->s[i].model != model) continue;
    memcpy(f + (size_t)q * nf, ss->s[i].f, (size_t)nf * sizeof *f);
    grp[q++] = ss->s[i].group;
  }
  pn_obf_group_scores(f, nf, grp, q, medoid, neighbour);
}

/* ---- the evaluation ---- */

static int simulate(struct pn_ctx *ctx, const char *name, int model, const struct pn_obf_attack_opts *o,
                    struct pn_prg *prg, struct samples *ss, int *n_parts) {
  struct pn_graph *g = NULL, **items = calloc((size_t)o->k + 1, sizeof *items);
  struct pn_obf_wspec *specs = calloc((size_t)o->k, sizeof *specs); /* the sentinels' deferred weights */
  bool *twin = calloc((size_t)o->k + 1, sizeof *twin); /* [i]: items[i] has the real part's structure */
  struct pn_obf_partition p = {0};
  if (!items || !specs || !twin) {
    free(items);
    free(specs);
    free(twin);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  struct pn_obf_ngram *gen = NULL;
  int rc = pn_obf_zoo_model(ctx, name, true, &g);
  if (!rc) rc = pn_obf_ngram_for_model(ctx, o->ngram, g, &gen);
  if (!rc) rc = pn_obf_partition(ctx, g, o->part_size, 4, prg, &p);
  int64_t opset = g ? pn_graph_opset(g, "") : 17;
  for (int k = 0; k < p.n_parts && !rc; k++) {
    if ((rc = pn_obf_extract(ctx, g, &p, k, &items[0]))) break;
    struct pn_obf_sentinel_report rep;
    /* as split makes them: generated weights deferred, their decoys' statistics from the distribution */
    if ((rc = pn_obf_sentinels_deferred(ctx, items[0], gen, o->k, prg, items + 1, &rep, specs))) {
      pn_err_prefix(ctx, "%s part %d", name, k);
      break;
    }
    if (ss->n_groups == ss->gcap) {
      int nc = ss->gcap ? 2 * ss->gcap : 64;
      struct group *a = realloc(ss->gr, (size_t)nc * sizeof *a);
      if (a) ss->gr = a;
      if (!a) {
        rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
        break;
      }
      ss->gcap = nc;
    }
    struct group *gq = &ss->gr[ss->n_groups];
    gq->model = model;
    gq->generated = rep.generated;
    if ((rc = pn_obf_distinct_structures(ctx, items[0], (const struct pn_graph *const *)items + 1, o->k, &gq->twins,
                                         &gq->distinct, twin + 1)))
      break;
    /* copies have the real part's structure by construction: counted apart */
    for (int i = 1 + rep.generated; i <= o->k; i++) gq->twins -= twin[i];
    for (int i = 0; i <= o->k && !rc; i++) {
      struct pn_graph *an = NULL;
      struct pn_obf_names io, w;
      if (!(rc = pn_obf_anonymize_spec(ctx, items[i], i ? &specs[i - 1] : NULL, opset, prg, &an, &io, &w)))
        rc = add_sample(ctx, ss, model, ss->n_groups, i == 0, twin[i], an);
      pn_graph_free(an);
    }
    ss->n_groups++;
    for (int i = 0; i <= o->k; i++) {
      pn_graph_free(items[i]);
      items[i] = NULL;
      if (i < o->k) pn_obf_wspec_free(&specs[i]);
    }
  }
  *n_parts = p.n_parts;
  for (int i = 0; i <= o->k; i++) pn_graph_free(items[i]);
  for (int i = 0; i < o->k; i++) pn_obf_wspec_free(&specs[i]);
  free(items);
  free(specs);
  free(twin);
  pn_obf_ngram_free(gen);
  pn_obf_partition_free(&p);
  pn_graph_free(g);
  return rc;
}

int pn_obf_attack(struct pn_ctx *ctx, const char *const *models, int n_models,
                  const struct pn_obf_attack_opts *opts, struct pn_prg *prg,
                  struct pn_obf_attack_result *res) {
  struct pn_obf_attack_opts o = *opts;
  if (o.part_size <= 0) o.part_size = PN_OBF_DEFAULT_PART_SIZE;
  if (o.k <= 0 || !o.ngram) return pn_err(ctx, PN_ERR_INVALID, "attack: needs k > 0 and an n-gram corpus");
  struct samples ss = {0};
  int rc = PN_OK;
  bool *train = NULL, *lab = NULL;
  double *sc1 = NULL, *sc2 = NULL, *fv = NULL; /* fv, gv: one model's features and groups */
  int *gv = NULL, *nwv = NULL; /* nwv, wv: one model's files' ways */
  struct way **wv = NULL;
  bool *twk = NULL; /* twin flags of one model's files */
  double *nsc = NULL; /* the adversaries' scores of one model's files, for the null */
  int *ngrp = NULL, *ngen = NULL;
  bool *nrk = NULL;
  /* each model's bundle from a stream of its own (derived from prg and its name): a model's sentinels
  ** then depend on the seed and its own generation only, not on what the models simulated before it
  ** drew (with one stream through all, a change to one model's generation redrew every later model's
  ** bundle, and bert's figure moved by more than most changes did: issue 17) */
  uint8_t base[PN_SEED_BYTES];
  pn_prg_bytes(prg, base, sizeof base);
  for (int m = 0; m < n_models && !rc; m++) {
    res[m].model = models[m];
    res[m].k = o.k;
    uint8_t seed[PN_SEED_BYTES];
    struct pn_prg mp;
    pn_seed_derive(base, models[m], 0, seed);
    if (!(rc = pn_prg_init(ctx, &mp, seed))) {
      rc = simulate(ctx, models[m], m, &o, &mp, &ss, &res[m].parts);
      pn_prg_free(&mp);
    }
    if (o.progress) o.progress(o.progress_user, m + 1, n_models);
  }
  if (rc) goto out;
  train = calloc((size_t)ss.n + 1, sizeof *train);
  lab = calloc((size_t)ss.n + 1, sizeof *lab);
  sc1 = calloc((size_t)ss.n + 1, sizeof *sc1);
  sc2 = calloc(2 * (size_t)ss.n + 1, sizeof *sc2); /* scores, then one feature at a time */
  fv = calloc((size_t)ss.n * NF_MAX + 1, sizeof *fv);
  gv = calloc((size_t)ss.n + 1, sizeof *gv);
  twk = calloc((size_t)ss.n + 1, sizeof *twk);
  nsc = calloc(PN_OBF_ADV_COUNT * (size_t)ss.n + 1, sizeof *nsc);
  ngrp = calloc((size_t)ss.n + 1, sizeof *ngrp);
  ngen = calloc((size_t)ss.n_groups + 1, sizeof *ngen);
  nrk = calloc((size_t)ss.n + 1, sizeof *nrk);
  wv = calloc((size_t)ss.n + 1, sizeof *wv);
  nwv = calloc((size_t)ss.n + 1, sizeof *nwv);
  if (!wv || !nwv || !train || !lab || !sc1 || !sc2 || !fv || !gv || !twk || !nsc || !ngrp || !ngen || !nrk) {
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (int m = 0; m < n_models && !rc; m++) {
    const char *fam = pn_obf_zoo_family(models[m]);
    struct pn_obf_ngram *adv = pn_obf_ngram_new();
    if (!adv) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      break;
    }
    int n_train = 0;
    for (int i = 0; i < ss.n; i++) {
      train[i] = strcmp(pn_obf_zoo_family(models[ss.s[i].model]), fam) != 0 && !ss.s[i].twin;
      n_train += train[i];
      if (train[i] && ss.s[i].real && (rc = pn_obf_ngram_add(ctx, adv, ss.s[i].skel))) break;
    }
    /* the n-gram score under the adversary's corpus, for every sample: a ranker by itself
    ** (oriented on the training families: sentinels may look too typical rather than too
    ** odd) and one more classifier feature */
    int nf = ss.nf;
    for (int i = 0; i < ss.n && !rc; i++) rc = pn_obf_ngram_score(ctx, adv, ss.s[i].skel, &ss.s[i].f[nf]);
    pn_obf_ngram_free(adv);
    if (rc) break;
    int ntr = 0;
    for (int i = 0; i < ss.n; i++)
      if (train[i]) {
        sc1[ntr] = ss.s[i].f[nf];
        lab[ntr++] = ss.s[i].real;
      }
    double orient = 1; /* see pn_obf_oriented() */
    (void)ntr;
    double w[NF_MAX + 1], mu[NF_MAX], sdv[NF_MAX];
    ss.nf = nf + 1;
    if (n_train) logreg(&ss, train, w, mu, sdv);
    int nt = 0, nk = 0;
    for (int i = 0; i < ss.n; i++) {
      if (ss.s[i].model != m) continue;
      twk[nt] = ss.s[i].twin || bare(&ss, i);
      if (!twk[nt]) lab[nk++] = ss.s[i].real;
      sc1[nt] = orient * ss.s[i].f[nf];
      sc2[nt] = n_train ? logreg_score(w, mu, sdv, ss.nf, ss.s[i].f) : 0;
      nt++;
    }
    struct pn_obf_attack_result *r = &res[m];
    feat_names[nf] = "n-gram score";
    r->n_features = ss.nf;
    for (int j = 0; j < ss.nf; j++) {
      int q = 0;
      for (int i = 0; i < ss.n; i++)
        if (ss.s[i].model == m) sc2[nt + q++] = ss.s[i].f[j];
      double spec;
      r->feature[j] = feat_names[j];
      pn_obf_oriented(sc2 + nt, lab, drop_twins(sc2 + nt, twk, q), &r->feature_auc[j], &spec, NULL);
    }
    ss.nf = nf;
    /* the scores as measured, kept for the null (pn_obf_oriented and drop_twins rewrite them) */
    memcpy(nsc, sc1, (size_t)nt * sizeof *nsc);
    memcpy(nsc + ss.n, sc2, (size_t)nt * sizeof *nsc);
    pn_obf_oriented(sc1, lab, drop_twins(sc1, twk, nt), &r->adv_auc[PN_OBF_ADV_NGRAM],
                    &r->adv_specificity[PN_OBF_ADV_NGRAM], &r->auc_as_scored[PN_OBF_ADV_NGRAM]);
    pn_obf_oriented(sc2, lab, drop_twins(sc2, twk, nt), &r->adv_auc[PN_OBF_ADV_CLASSIFIER],
                    &r->adv_specificity[PN_OBF_ADV_CLASSIFIER], &r->auc_as_scored[PN_OBF_ADV_CLASSIFIER]);
    /* the bundle-only adversaries see every file, twins too */
    group_scores(&ss, m, nf, fv, gv, sc1, sc2);
    memcpy(nsc + 2 * (size_t)ss.n, sc1, (size_t)nt * sizeof *nsc);
    memcpy(nsc + 3 * (size_t)ss.n, sc2, (size_t)nt * sizeof *nsc);
    pn_obf_oriented(sc1, lab, drop_twins(sc1, twk, nt), &r->adv_auc[PN_OBF_ADV_MEDOID],
                    &r->adv_specificity[PN_OBF_ADV_MEDOID], &r->auc_as_scored[PN_OBF_ADV_MEDOID]);
    pn_obf_oriented(sc2, lab, drop_twins(sc2, twk, nt), &r->adv_auc[PN_OBF_ADV_NEIGHBOUR],
                    &r->adv_specificity[PN_OBF_ADV_NEIGHBOUR], &r->auc_as_scored[PN_OBF_ADV_NEIGHBOUR]);
    /* the dialect adversary reads every file of the model too */
    int nd = 0;
    for (int i = 0; i < ss.n; i++)
      if (ss.s[i].model == m) {
        wv[nd] = ss.s[i].ways;
        nwv[nd] = ss.s[i].n_ways;
        gv[nd++] = ss.s[i].group;
      }
    if ((rc = way_scores(ctx, wv, nwv, gv, nd, sc1))) break;
    memcpy(nsc + PN_OBF_ADV_DIALECT * (size_t)ss.n, sc1, (size_t)nt * sizeof *nsc);
    pn_obf_oriented(sc1, lab, drop_twins(sc1, twk, nt), &r->adv_auc[PN_OBF_ADV_DIALECT],
                    &r->adv_specificity[PN_OBF_ADV_DIALECT], &r->auc_as_scored[PN_OBF_ADV_DIALECT]);
    r->trained_on = n_train;
    r->ranked = 0;
    for (int i = 0; i < ss.n; i++) r->ranked += ss.s[i].model == m && ss.s[i].real && !bare(&ss, i);
    /* the strongest adversary (highest specificity, the first on a tie) decides the candidate count */
    r->strongest = PN_OBF_ADV_NGRAM;
    for (int a = 1; a < PN_OBF_ADV_COUNT; a++)
      if (r->adv_specificity[a] > r->adv_specificity[r->strongest]) r->strongest = a;
    r->specificity = r->adv_specificity[r->strongest];
    r->auc = r->adv_auc[r->strongest];
    {
      /* the null: the same figures had the real part been any ranked file of its group */
      int g0 = -1, ng = 0, q = 0;
      for (int g = 0; g < ss.n_groups; g++)
        if (ss.gr[g].model == m) {
          if (g0 < 0) g0 = g;
          ngen[ng++] = ss.gr[g].generated;
        }
      for (int i = 0; i < ss.n; i++)
        if (ss.s[i].model == m) {
          ngrp[q] = ss.s[i].group - g0;
          nrk[q] = !twk[q];
          q++;
        }
      const double *scores[PN_OBF_ADV_COUNT];
      for (int a = 0; a < PN_OBF_ADV_COUNT; a++) scores[a] = nsc + a * (size_t)ss.n;
      uint8_t seed[PN_SEED_BYTES];
      struct pn_prg np;
      pn_seed_derive(base, models[m], 1, seed);
      if (!(rc = pn_prg_init(ctx, &np, seed))) {
        rc = pn_obf_null(ctx, scores, PN_OBF_ADV_COUNT, ngrp, ng, nrk, nt, ngen, r->auc, PN_OBF_NULL_DRAWS, &np, &r->null);
        pn_prg_free(&np);
      }
      if (rc) break;
    }
    {
      /* the structure-leak vote over this model's parts */
      const struct pn_graph **files = calloc((size_t)ss.n + 1, sizeof *files);
      int *grp = calloc((size_t)ss.n + 1, sizeof *grp), nm = 0;
      if (!files || !grp) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
      for (int i = 0; i < ss.n && !rc; i++)
        if (ss.s[i].model == m) {
          files[nm] = ss.s[i].skel;
          grp[nm] = ss.s[i].group;
          lab[nm++] = ss.s[i].real;
        }
      if (!rc) rc = pn_obf_vote_leaks(ctx, files, grp, lab, nm, &r->vote_leaks);
      free(files);
      free(grp);
      if (rc) break;
    }
    /* candidates are structures: a copy of the real part, or a generated sentinel with its structure
    ** (a twin), hides nothing of it, and sentinels sharing a structure make one candidate */
    r->log10_candidates = r->log10_files = 0;
    r->copies = r->twins = r->distinct = 0;
    for (int q = 0; q < ss.n_groups; q++)
      if (ss.gr[q].model == m) {
        r->log10_candidates += log10(1 + (1 - r->specificity) * ss.gr[q].distinct);
        r->log10_files += log10(1 + (1 - r->specificity) * ss.gr[q].generated);
        r->copies += o.k - ss.gr[q].generated;
        r->twins += ss.gr[q].twins;
        r->distinct += ss.gr[q].distinct;
      }
  }
out:
  free(train);
  free(lab);
  free(sc1);
  free(sc2);
  free(fv);
  free(gv);
  free(twk);
  free(nsc);
  free(ngrp);
  free(ngen);
  free(nrk);
  free(wv);
  free(nwv);
  samples_free(&ss);
  return rc;
}
