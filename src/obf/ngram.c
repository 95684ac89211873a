/* ngram.c - operator n-gram statistics of a model corpus and the realism score built on them.
**
** A node's token is its op type, with the kernel size appended for Conv/MaxPool/AveragePool
** ("Conv3", "MaxPool3") and "g" for grouped convolutions ("Conv3g"), as in the Proteus artifact's
** Conv tagging. Counts: unigrams over nodes, bigrams over edges u->v, trigrams over paths u->v->w.
** The score of a graph is its mean log-probability per n-gram with add-alpha smoothing, so graphs
** of different sizes compare. The corpus is stored as JSON (data/obf/ngram-corpus.json). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/zoo.h"
#include "obf/obf.h"
#include "obf/obf_ngram.h"
#include "util/report.h"
#include "util/status.h"
#include "util/strmap.h"

#define ALPHA 0.5

struct table {
  char **keys;
  double *counts;
  int n, cap;
  struct pn_strmap idx;
  double total;
};

struct pn_obf_ngram {
  struct table t[3];           /* unigram, bigram, trigram */
  int n_models;
  struct pn_graph *style;      /* pn_obf_ngram_for_model's: the model's dialect (model_style), else NULL */
};

static void table_free(struct table *t) {
  for (int i = 0; i < t->n; i++) free(t->keys[i]);
  free(t->keys);
  free(t->counts);
  pn_strmap_free(&t->idx);
  memset(t, 0, sizeof *t);
}

static int table_add(struct table *t, const char *key, double c) {
  int i = pn_strmap_get(&t->idx, key, -1);
  if (i < 0) {
    if (t->n == t->cap) {
      int nc = t->cap ? 2 * t->cap : 64;
      char **k = realloc(t->keys, (size_t)nc * sizeof *k);
      if (!k) return PN_ERR_NOMEM;
      t->keys = k;
      double *cc = realloc(t->counts, (size_t)nc * sizeof *cc);
      if (!cc) return PN_ERR_NOMEM;
      t->counts = cc;
      t->cap = nc;
    }
    char *s = strdup(key);
    if (!s) return PN_ERR_NOMEM;
    t->keys[t->n] = s;
    t->counts[t->n] = 0;
    if (pn_strmap_put(&t->idx, s, t->n)) {
      free(s);
      return PN_ERR_NOMEM;
    }
    i = t->n++;
  }
  t->counts[i] += c;
  t->total += c;
  return PN_OK;
}

static double table_get(const struct table *t, const char *key) {
  int i = pn_strmap_get(&t->idx, key, -1);
  return i < 0 ? 0 : t->counts[i];
}

void pn_obf_node_token(const struct pn_node *n, char *buf, size_t len) {
  const char *op = n->op_type;
  if (!strcmp(op, "Conv") || !strcmp(op, "MaxPool") || !strcmp(op, "AveragePool") ||
      !strcmp(op, "FusedConv")) {
    const struct pn_attr *k = pn_node_attr(n, "kernel_shape");
    const struct pn_attr *g = pn_node_attr(n, "group");
    long ks = k && k->type == PN_ATTR_INTS && k->n > 0 ? (long)k->ints[0] : 0;
    bool grouped = g && g->type == PN_ATTR_INT && g->i > 1;
    snprintf(buf, len, "%s%ld%s", op, ks, grouped ? "g" : "");
  } else {
    snprintf(buf, len, "%s", op);
  }
}

struct pn_obf_ngram *pn_obf_ngram_new(void) { return calloc(1, sizeof(struct pn_obf_ngram)); }

void pn_obf_ngram_free(struct pn_obf_ngram *m) {
  if (!m) return;
  for (int i = 0; i < 3; i++) table_free(&m->t[i]);
  pn_graph_free(m->style);
  free(m);
}

/* Producer index of every node input (-1 for graph inputs/initializers), via a name map. */
static int edges(struct pn_ctx *ctx, const struct pn_graph *g, int **off_out, int **pred_out) {
  struct pn_strmap prod = {0};
  int n = g->n_nodes, *off = calloc((size_t)n + 1, sizeof *off), ne = 0;
  for (int i = 0; i < n; i++) ne += g->nodes[i]->n_in;
  int *pred = malloc(((size_t)ne + 1) * sizeof *pred);
  if (!off || !pred) goto oom;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < g->nodes[i]->n_out; k++)
      if (g->nodes[i]->out[k][0] && pn_strmap_put(&prod, g->nodes[i]->out[k], i)) goto oom;
  int e = 0;
  for (int v = 0; v < n; v++) {
    off[v] = e;
    for (int k = 0; k < g->nodes[v]->n_in; k++) {
      int u = g->nodes[v]->in[k][0] ? pn_strmap_get(&prod, g->nodes[v]->in[k], -1) : -1;
      bool dup = false;
      for (int j = off[v]; j < e && !dup; j++) dup = pred[j] == u;
      if (u >= 0 && !dup) pred[e++] = u;
    }
  }
  off[n] = e;
  pn_strmap_free(&prod);
  *off_out = off;
  *pred_out = pred;
  return PN_OK;
oom:
  pn_strmap_free(&prod);
  free(off);
  free(pred);
  return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
}

/* Visit every unigram, bigram and trigram of g; fn(user, order, key). */
static int visit(struct pn_ctx *ctx, const struct pn_graph *g,
                 int (*fn)(void *user, int order, const char *key), void *user) {
  int *off = NULL, *pred = NULL, rc;
  if ((rc = edges(ctx, g, &off, &pred))) return rc;
  char a[64], b[64], c[64], key[200];
  for (int w = 0; w < g->n_nodes && !rc; w++) {
    pn_obf_node_token(g->nodes[w], c, sizeof c);
    rc = fn(user, 0, c);
    for (int j = off[w]; j < off[w + 1] && !rc; j++) {
      int v = pred[j];
      pn_obf_node_token(g->nodes[v], b, sizeof b);
      snprintf(key, sizeof key, "%s %s", b, c);
      rc = fn(user, 1, key);
      for (int q = off[v]; q < off[v + 1] && !rc; q++) {
        pn_obf_node_token(g->nodes[pred[q]], a, sizeof a);
        snprintf(key, sizeof key, "%s %s %s", a, b, c);
        rc = fn(user, 2, key);
      }
    }
  }
  free(off);
  free(pred);
  return rc;
}

int pn_obf_ngram_merge(struct pn_ctx *ctx, struct pn_obf_ngram *dst, const struct pn_obf_ngram *src,
                       double weight) {
  for (int o = 0; o < 3; o++)
    for (int i = 0; i < src->t[o].n; i++)
      if (table_add(&dst->t[o], src->t[o].keys[i], weight * src->t[o].counts[i]))
        return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  dst->n_models += src->n_models;
  return PN_OK;
}

static int add_fn(void *user, int order, const char *key) {
  return table_add(&((struct pn_obf_ngram *)user)->t[order], key, 1) ? PN_ERR_NOMEM : PN_OK;
}

int pn_obf_ngram_add(struct pn_ctx *ctx, struct pn_obf_ngram *m, const struct pn_graph *g) {
  int rc = visit(ctx, g, add_fn, m);
  if (rc == PN_ERR_NOMEM) return pn_err(ctx, rc, "out of memory");
  if (!rc) m->n_models++;
  return rc;
}

/* log P(key) for an n-gram of the given order: the count of the full key over the count of its
** prefix (the (order-1)-gram), add-alpha smoothed over the unigram vocabulary. */
static double logp(const struct pn_obf_ngram *m, int order, const char *key) {
  double v = m->t[0].n + 1;
  double c = table_get(&m->t[order], key);
  double ctxc;
  if (order == 0) {
    ctxc = m->t[0].total;
  } else {
    char prefix[200];
    snprintf(prefix, sizeof prefix, "%s", key);
    char *sp = strrchr(prefix, ' ');
    if (sp) *sp = 0;
    ctxc = table_get(&m->t[order - 1], prefix);
  }
  return log((c + ALPHA) / (ctxc + ALPHA * v));
}

struct score_acc {
  const struct pn_obf_ngram *m;
  double sum;
  int n;
};

static int score_fn(void *user, int order, const char *key) {
  struct score_acc *s = user;
  s->sum += logp(s->m, order, key);
  s->n++;
  return PN_OK;
}

int pn_obf_ngram_score(struct pn_ctx *ctx, const struct pn_obf_ngram *m, const struct pn_graph *g,
                       double *score) {
  struct score_acc s = {m, 0, 0};
  int rc = visit(ctx, g, score_fn, &s);
  *score = s.n ? s.sum / s.n : -INFINITY;
  return rc;
}

double pn_obf_ngram_logp_next(const struct pn_obf_ngram *m, const char *prev, const char *tok) {
  char key[200];
  if (!prev) return logp(m, 0, tok);
  const char *sp = strrchr(prev, ' ');
  if (sp && table_get(&m->t[1], prev) > 0) {
    snprintf(key, sizeof key, "%s %s", prev, tok);
    return logp(m, 2, key);
  }
  snprintf(key, sizeof key, "%s %s", sp ? sp + 1 : prev, tok);
  return logp(m, 1, key);
}

int pn_obf_ngram_save(struct pn_ctx *ctx, const struct pn_obf_ngram *m, const char *path,
                      const char *rebuild) {
  cJSON *r = cJSON_CreateObject();
  if (!r) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  cJSON_AddStringToObject(r, "format", "privnn-ngram");
  cJSON_AddNumberToObject(r, "version", 1);
  cJSON_AddStringToObject(r, "rebuild", rebuild ? rebuild : "");
  cJSON_AddNumberToObject(r, "models", m->n_models);
  static const char *names[3] = {"unigram", "bigram", "trigram"};
  for (int o = 0; o < 3; o++) {
    cJSON *t = cJSON_AddObjectToObject(r, names[o]);
    for (int i = 0; i < m->t[o].n; i++) cJSON_AddNumberToObject(t, m->t[o].keys[i], m->t[o].counts[i]);
  }
  int rc = pn_json_write(ctx, path, r, 0644);
  cJSON_Delete(r);
  return rc;
}

#ifndef PN_BIN_TO_DATA
#define PN_BIN_TO_DATA "../share/privnn"
#endif

bool pn_obf_corpus_path(char *buf, size_t n) {
  static const char *const rel = "data/obf/" PN_OBF_CORPUS_FILE;
  if (n == 0) return false;
  buf[0] = 0;
  if (access(rel, R_OK) == 0) {
    snprintf(buf, n, "%s", rel);
    return true;
  }
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len > 0) {
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    /* installed (bin/ -> share/privnn/), then a build folder inside the source tree */
    const char *const beside[2] = {PN_BIN_TO_DATA, "../data/obf"};
    for (int i = 0; i < 2; i++) {
      int w = snprintf(buf, n, "%s/%s/%s", exe, beside[i], PN_OBF_CORPUS_FILE);
      if (w > 0 && (size_t)w < n && access(buf, R_OK) == 0) return true;
    }
    snprintf(buf, n, "%s, %s/%s/%s, %s/../data/obf/%s", rel, exe, PN_BIN_TO_DATA, PN_OBF_CORPUS_FILE, exe,
             PN_OBF_CORPUS_FILE);
  } else {
    snprintf(buf, n, "%s", rel);
  }
  return false;
}

int pn_obf_ngram_load(struct pn_ctx *ctx, const char *path, struct pn_obf_ngram **out) {
  *out = NULL;
  cJSON *r = NULL;
  int rc = pn_json_read(ctx, path, 16u << 20, &r);
  if (rc) return rc;
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(r, "format");
  struct pn_obf_ngram *m = pn_obf_ngram_new();
  if (!m) {
    cJSON_Delete(r);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "privnn-ngram")) {
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: not a privnn n-gram corpus (format)", path);
    goto out;
  }
  static const char *names[3] = {"unigram", "bigram", "trigram"};
  for (int o = 0; o < 3 && !rc; o++) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, names[o]), *e;
    if (!cJSON_IsObject(t)) {
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: field '%s' must be an object", path, names[o]);
      break;
    }
    cJSON_ArrayForEach(e, t) {
      if (!cJSON_IsNumber(e) || e->valuedouble < 0 || !e->string) {
        rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: %s['%s'] must be a non-negative count", path, names[o],
                    e->string ? e->string : "");
        break;
      }
      if (table_add(&m->t[o], e->string, e->valuedouble)) {
        rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
        break;
      }
    }
  }
  const cJSON *nm = cJSON_GetObjectItemCaseSensitive(r, "models");
  m->n_models = cJSON_IsNumber(nm) ? nm->valueint : 0;
out:
  cJSON_Delete(r);
  if (rc) pn_obf_ngram_free(m);
  else *out = m;
  return rc;
}

int pn_obf_ngram_vocab(const struct pn_obf_ngram *m, const char ***tokens, const double **counts) {
  *tokens = (const char **)m->t[0].keys;
  *counts = m->t[0].counts;
  return m->t[0].n;
}

/* ---- the zoo corpus ---- */

const char *pn_obf_zoo_family(const char *model) { return pn_zoo_family(model); }

int pn_obf_zoo_model(struct pn_ctx *ctx, const char *name, bool small, struct pn_graph **out) {
  struct pn_zoo_opts o = {.seed = 1};
  if (pn_zoo_is_transformer(name)) {
    if (small) {
      /* the layer count is the architecture (12 for BERT-base, GPT-2, XLM): only widths shrink */
      o.hidden = 64;
      o.heads = 4;
      o.seq = 16;
    }
  } else if (small) {
    o.ndim = 4;
    o.dims[0] = 1;
    o.dims[1] = 3;
    o.dims[2] = o.dims[3] = strcmp(name, "inception_v3") ? 64 : 96; /* v3 needs >= 75x75 */
    o.num_classes = 10;
  }
  int rc = pn_zoo_build(ctx, name, &o, out);
  if (!rc && (rc = pn_obf_prepare(ctx, *out))) {
    pn_graph_free(*out);
    *out = NULL;
  }
  return rc;
}

int pn_obf_ngram_from_zoo(struct pn_ctx *ctx, const char *exclude_family, struct pn_obf_ngram **out) {
  *out = pn_obf_ngram_new();
  if (!*out) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  int rc = PN_OK;
  for (const char *const *n = pn_zoo_names(); *n && !rc; n++) {
    if (exclude_family && !strcmp(pn_obf_zoo_family(*n), exclude_family)) continue;
    struct pn_graph *g = NULL;
    if (!(rc = pn_obf_zoo_model(ctx, *n, true, &g))) rc = pn_obf_ngram_add(ctx, *out, g);
    pn_graph_free(g);
  }
  if (rc) {
    pn_obf_ngram_free(*out);
    *out = NULL;
  }
  return rc;
}

int pn_obf_reshape_zero(const struct pn_graph *g, const struct pn_node *n) {
  const struct pn_tensor *t = n->n_in > 1 ? pn_graph_find_init(g, n->in[1]) : NULL;
  if (!t || t->dtype != PN_DT_INT64 || !t->data || pn_tensor_numel(t) < 1) return -1;
  return ((const int64_t *)t->data)[0] == 0;
}

/* Whether nodes a (of graph ga) and b (of gb) are written the same way: operator, attribute names in
** their order, and for a Reshape whether its constant shape starts with 0. */
static bool same_way(const struct pn_graph *ga, const struct pn_node *a, const struct pn_graph *gb,
                     const struct pn_node *b) {
  if (strcmp(a->op_type, b->op_type) || strcmp(a->domain ? a->domain : "", b->domain ? b->domain : "") ||
      a->n_attr != b->n_attr)
    return false;
  for (int i = 0; i < a->n_attr; i++)
    if (strcmp(a->attr[i].name, b->attr[i].name)) return false;
  return strcmp(a->op_type, "Reshape") || pn_obf_reshape_zero(ga, a) == pn_obf_reshape_zero(gb, b);
}

/* The model's dialect, for the sentinels of a part that lacks an operator they generate (a MaxPool in
** a googlenet part without one rounds up like every real one): each way the model writes an operator,
** by its first node written that way (its attributes, and for a Reshape its constant shape; no
** weights), under the model's opset. */
static int model_style(struct pn_ctx *ctx, const struct pn_graph *model, struct pn_graph **out) {
  struct pn_graph *d = pn_graph_new();
  int rc = d ? pn_graph_set_opset(d, "", pn_graph_opset(model, "")) : PN_ERR_NOMEM;
  for (int i = 0; i < model->n_nodes && !rc; i++) {
    const struct pn_node *s = model->nodes[i];
    bool seen = false;
    for (int j = 0; j < d->n_nodes && !seen; j++) seen = same_way(model, s, d, d->nodes[j]);
    if (seen) continue;
    if (!pn_obf_copy_node(d, s, "", NULL, NULL, false)) {
      rc = PN_ERR_NOMEM;
      break;
    }
    bool shape = !strcmp(s->op_type, "Reshape") && pn_obf_reshape_zero(model, s) >= 0;
    const struct pn_tensor *t = shape ? pn_graph_find_init(model, s->in[1]) : NULL;
    if (!rc && t && !pn_graph_find_init(d, s->in[1]) && !pn_graph_add_init(d, t, s->in[1])) rc = PN_ERR_NOMEM;
  }
  if (rc) {
    pn_graph_free(d);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  *out = d;
  return PN_OK;
}

const struct pn_graph *pn_obf_ngram_style(const struct pn_obf_ngram *m) { return m ? m->style : NULL; }

int pn_obf_ngram_for_model(struct pn_ctx *ctx, const struct pn_obf_ngram *corpus,
                           const struct pn_graph *model, struct pn_obf_ngram **out) {
  *out = pn_obf_ngram_new();
  if (!*out) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  int rc = pn_obf_ngram_add(ctx, *out, model);
  if (!rc && corpus) rc = pn_obf_ngram_merge(ctx, *out, corpus, PN_OBF_CORPUS_WEIGHT);
  if (!rc) rc = model_style(ctx, model, &(*out)->style);
  if (rc) {
    pn_obf_ngram_free(*out);
    *out = NULL;
  }
  return rc;
}
