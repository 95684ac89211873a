/* ir.c - building, querying and copying the graph IR. All strings and data live in the arena. */
#include "graph/ir.h"

#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/status.h"

/* Grow a malloc'd array of elem-sized items so that it can hold need items. */
static int grow(void **arr, int *cap, int need, size_t elem) {
  if (need <= *cap) return PN_OK;
  int nc = *cap ? *cap * 2 : 16;
  while (nc < need) nc *= 2;
  void *p = realloc(*arr, (size_t)nc * elem);
  if (!p) return PN_ERR_NOMEM;
  memset((char *)p + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
  *arr = p;
  *cap = nc;
  return PN_OK;
}

struct pn_graph *pn_graph_new(void) {
  struct pn_graph *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->arena = pn_arena_new();
  if (!g->arena) {
    free(g);
    return NULL;
  }
  g->ir_version = 8;
  g->producer_name = "privnn";
  g->producer_version = PN_VERSION;
  g->name = "graph";
  if (pn_graph_set_opset(g, "", 17) != PN_OK) {
    pn_graph_free(g);
    return NULL;
  }
  return g;
}

void pn_graph_free(struct pn_graph *g) {
  if (!g) return;
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->vinfo);
  free(g->inits);
  pn_arena_free(g->arena);
  free(g);
}

static bool default_domain(const char *d) { return !d || !*d || !strcmp(d, "ai.onnx"); }

int pn_graph_set_opset(struct pn_graph *g, const char *domain, int64_t version) {
  for (int i = 0; i < g->n_opsets; i++) {
    const char *d = g->opsets[i].domain;
    if ((default_domain(d) && default_domain(domain)) || (d && domain && !strcmp(d, domain))) {
      g->opsets[i].version = version;
      return PN_OK;
    }
  }
  struct pn_opset *o = pn_arena_alloc(g->arena, (size_t)(g->n_opsets + 1) * sizeof *o);
  if (!o) return PN_ERR_NOMEM;
  if (g->n_opsets) memcpy(o, g->opsets, (size_t)g->n_opsets * sizeof *o);
  o[g->n_opsets].domain = pn_arena_strdup(g->arena, domain ? domain : "");
  o[g->n_opsets].version = version;
  g->opsets = o;
  g->n_opsets++;
  return PN_OK;
}

int64_t pn_graph_opset(const struct pn_graph *g, const char *domain) {
  for (int i = 0; i < g->n_opsets; i++) {
    const char *d = g->opsets[i].domain;
    if ((default_domain(d) && default_domain(domain)) || (d && domain && !strcmp(d, domain)))
      return g->opsets[i].version;
  }
  return 0;
}

static const char **dup_names(struct pn_arena *a, int n, const char *const *src) {
  const char **v = pn_arena_alloc(a, (size_t)(n ? n : 1) * sizeof *v);
  if (!v) return NULL;
  for (int i = 0; i < n; i++)
    if (!(v[i] = pn_arena_strdup(a, src && src[i] ? src[i] : ""))) return NULL;
  return v;
}

struct pn_node *pn_graph_add_node(struct pn_graph *g, const char *op_type, const char *name,
                                  int n_in, const char *const *in, int n_out,
                                  const char *const *out) {
  if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes)) return NULL;
  struct pn_node *n = pn_arena_alloc(g->arena, sizeof *n);
  if (!n) return NULL;
  n->op_type = pn_arena_strdup(g->arena, op_type ? op_type : "");
  n->name = pn_arena_strdup(g->arena, name ? name : "");
  n->domain = "";
  n->n_in = n_in;
  n->n_out = n_out;
  n->in = dup_names(g->arena, n_in, in);
  n->out = dup_names(g->arena, n_out, out);
  if (!n->op_type || !n->name || !n->in || !n->out) return NULL;
  g->nodes[g->n_nodes++] = n;
  return n;
}

void pn_graph_remove_node(struct pn_graph *g, int i) {
  if (i < 0 || i >= g->n_nodes) return;
  memmove(g->nodes + i, g->nodes + i + 1, (size_t)(g->n_nodes - i - 1) * sizeof *g->nodes);
  g->n_nodes--;
}

struct pn_attr *pn_node_add_attr(struct pn_graph *g, struct pn_node *n, const char *name,
                                 enum pn_attr_type type) {
  for (int i = 0; i < n->n_attr; i++)
    if (!strcmp(n->attr[i].name, name)) {
      memset(&n->attr[i], 0, sizeof n->attr[i]);
      n->attr[i].name = pn_arena_strdup(g->arena, name);
      n->attr[i].type = type;
      return n->attr[i].name ? &n->attr[i] : NULL;
    }
  struct pn_attr *v = pn_arena_alloc(g->arena, (size_t)(n->n_attr + 1) * sizeof *v);
  if (!v) return NULL;
  if (n->n_attr) memcpy(v, n->attr, (size_t)n->n_attr * sizeof *v);
  n->attr = v;
  struct pn_attr *a = &v[n->n_attr++];
  a->name = pn_arena_strdup(g->arena, name);
  a->type = type;
  return a->name ? a : NULL;
}

int pn_node_set_int(struct pn_graph *g, struct pn_node *n, const char *name, int64_t v) {
  struct pn_attr *a = pn_node_add_attr(g, n, name, PN_ATTR_INT);
  if (!a) return PN_ERR_NOMEM;
  a->i = v;
  return PN_OK;
}

int pn_node_set_float(struct pn_graph *g, struct pn_node *n, const char *name, float v) {
  struct pn_attr *a = pn_node_add_attr(g, n, name, PN_ATTR_FLOAT);
  if (!a) return PN_ERR_NOMEM;
  a->f = v;
  return PN_OK;
}

int pn_node_set_string(struct pn_graph *g, struct pn_node *n, const char *name, const char *v) {
  struct pn_attr *a = pn_node_add_attr(g, n, name, PN_ATTR_STRING);
  if (!a || !(a->s = pn_arena_strdup(g->arena, v))) return PN_ERR_NOMEM;
  a->s_len = (int64_t)strlen(v);
  return PN_OK;
}

int pn_node_set_ints(struct pn_graph *g, struct pn_node *n, const char *name, int64_t count,
                     const int64_t *v) {
  struct pn_attr *a = pn_node_add_attr(g, n, name, PN_ATTR_INTS);
  if (!a) return PN_ERR_NOMEM;
  a->n = count;
  a->ints = pn_arena_memdup(g->arena, v, (size_t)count * sizeof *v);
  return a->ints ? PN_OK : PN_ERR_NOMEM;
}

int pn_node_set_floats(struct pn_graph *g, struct pn_node *n, const char *name, int64_t count,
                       const float *v) {
  struct pn_attr *a = pn_node_add_attr(g, n, name, PN_ATTR_FLOATS);
  if (!a) return PN_ERR_NOMEM;
  a->n = count;
  a->floats = pn_arena_memdup(g->arena, v, (size_t)count * sizeof *v);
  return a->floats ? PN_OK : PN_ERR_NOMEM;
}

static struct pn_tensor *arena_copy(struct pn_arena *ar, const struct pn_tensor *src,
                                    const char *name) {
  struct pn_tensor *t = pn_tensor_new_arena(ar, name, src->dtype, src->ndim, src->dims);
  if (t) memcpy(t->data, src->data, pn_tensor_nbytes(src));
  return t;
}

int pn_node_set_tensor(struct pn_graph *g, struct pn_node *n, const char *name,
                       const struct pn_tensor *t) {
  struct pn_attr *a = pn_node_add_attr(g, n, name, PN_ATTR_TENSOR);
  if (!a) return PN_ERR_NOMEM;
  a->t = arena_copy(g->arena, t, t->name);
  return a->t ? PN_OK : PN_ERR_NOMEM;
}

const struct pn_attr *pn_node_attr(const struct pn_node *n, const char *name) {
  for (int i = 0; i < n->n_attr; i++)
    if (n->attr[i].name && !strcmp(n->attr[i].name, name)) return &n->attr[i];
  return NULL;
}

const char *pn_node_label(const struct pn_node *n) {
  if (n->name && *n->name) return n->name;
  if (n->n_out > 0 && n->out[0] && *n->out[0]) return n->out[0];
  return "(unnamed)";
}

static int wrong_type(struct pn_ctx *ctx, const struct pn_node *n, const char *name,
                      const char *want) {
  return pn_err(ctx, PN_ERR_INVALID, "node '%s' (%s): attribute '%s' must be %s", pn_node_label(n),
                n->op_type, name, want);
}

int pn_node_get_int(struct pn_ctx *ctx, const struct pn_node *n, const char *name, int64_t def,
                    int64_t *out) {
  const struct pn_attr *a = pn_node_attr(n, name);
  *out = def;
  if (!a) return PN_OK;
  if (a->type != PN_ATTR_INT) return wrong_type(ctx, n, name, "an int");
  *out = a->i;
  return PN_OK;
}

int pn_node_get_float(struct pn_ctx *ctx, const struct pn_node *n, const char *name, float def,
                      float *out) {
  const struct pn_attr *a = pn_node_attr(n, name);
  *out = def;
  if (!a) return PN_OK;
  if (a->type != PN_ATTR_FLOAT) return wrong_type(ctx, n, name, "a float");
  *out = a->f;
  return PN_OK;
}

int pn_node_get_string(struct pn_ctx *ctx, const struct pn_node *n, const char *name,
                       const char *def, const char **out) {
  const struct pn_attr *a = pn_node_attr(n, name);
  *out = def;
  if (!a) return PN_OK;
  if (a->type != PN_ATTR_STRING) return wrong_type(ctx, n, name, "a string");
  *out = a->s;
  return PN_OK;
}

int pn_node_get_ints(struct pn_ctx *ctx, const struct pn_node *n, const char *name,
                     int64_t *count, const int64_t **v) {
  const struct pn_attr *a = pn_node_attr(n, name);
  *count = -1;
  *v = NULL;
  if (!a) return PN_OK;
  if (a->type != PN_ATTR_INTS) return wrong_type(ctx, n, name, "a list of ints");
  *count = a->n;
  *v = a->ints;
  return PN_OK;
}

int pn_node_get_floats(struct pn_ctx *ctx, const struct pn_node *n, const char *name,
                       int64_t *count, const float **v) {
  const struct pn_attr *a = pn_node_attr(n, name);
  *count = -1;
  *v = NULL;
  if (!a) return PN_OK;
  if (a->type != PN_ATTR_FLOATS) return wrong_type(ctx, n, name, "a list of floats");
  *count = a->n;
  *v = a->floats;
  return PN_OK;
}

static struct pn_value *add_value(struct pn_graph *g, struct pn_value **arr, int *n, int *cap,
                                  const char *name, enum pn_dtype dt, int ndim,
                                  const int64_t *dims) {
  if (ndim > PN_MAX_DIMS) return NULL;
  if (grow((void **)arr, cap, *n + 1, sizeof **arr)) return NULL;
  struct pn_value *v = &(*arr)[(*n)++];
  memset(v, 0, sizeof *v);
  v->name = pn_arena_strdup(g->arena, name);
  v->dtype = dt;
  v->ndim = ndim;
  for (int i = 0; i < ndim && i < PN_MAX_DIMS; i++) v->dims[i] = dims ? dims[i] : -1;
  return v->name ? v : NULL;
}

struct pn_value *pn_graph_add_input(struct pn_graph *g, const char *name, enum pn_dtype dt,
                                    int ndim, const int64_t *dims) {
  return add_value(g, &g->inputs, &g->n_inputs, &g->cap_inputs, name, dt, ndim, dims);
}
struct pn_value *pn_graph_add_output(struct pn_graph *g, const char *name, enum pn_dtype dt,
                                     int ndim, const int64_t *dims) {
  return add_value(g, &g->outputs, &g->n_outputs, &g->cap_outputs, name, dt, ndim, dims);
}
struct pn_value *pn_graph_add_vinfo(struct pn_graph *g, const char *name, enum pn_dtype dt,
                                    int ndim, const int64_t *dims) {
  return add_value(g, &g->vinfo, &g->n_vinfo, &g->cap_vinfo, name, dt, ndim, dims);
}

struct pn_tensor *pn_graph_new_init(struct pn_graph *g, const char *name, enum pn_dtype dt,
                                    int ndim, const int64_t *dims) {
  if (grow((void **)&g->inits, &g->cap_inits, g->n_inits + 1, sizeof *g->inits)) return NULL;
  struct pn_tensor *t = pn_tensor_new_arena(g->arena, name, dt, ndim, dims);
  if (!t) return NULL;
  g->inits[g->n_inits++] = t;
  return t;
}

struct pn_tensor *pn_graph_add_init(struct pn_graph *g, const struct pn_tensor *src,
                                    const char *name) {
  struct pn_tensor *t = pn_graph_new_init(g, name ? name : src->name, src->dtype, src->ndim, src->dims);
  if (t) memcpy(t->data, src->data, pn_tensor_nbytes(src));
  return t;
}

struct pn_tensor *pn_graph_add_init_shared(struct pn_graph *g, const struct pn_tensor *src,
                                           const char *name) {
  if (grow((void **)&g->inits, &g->cap_inits, g->n_inits + 1, sizeof *g->inits)) return NULL;
  struct pn_tensor *t = pn_arena_alloc(g->arena, sizeof *t);
  if (!t) return NULL;
  *t = *src;
  t->heap = false;
  if (!(t->name = pn_arena_strdup(g->arena, name ? name : src->name))) return NULL;
  g->inits[g->n_inits++] = t;
  return t;
}

void pn_graph_remove_init(struct pn_graph *g, int i) {
  if (i < 0 || i >= g->n_inits) return;
  memmove(g->inits + i, g->inits + i + 1, (size_t)(g->n_inits - i - 1) * sizeof *g->inits);
  g->n_inits--;
}

struct pn_tensor *pn_graph_find_init(const struct pn_graph *g, const char *name) {
  for (int i = 0; i < g->n_inits; i++)
    if (g->inits[i]->name && !strcmp(g->inits[i]->name, name)) return g->inits[i];
  return NULL;
}

struct pn_value *pn_graph_find_vinfo(const struct pn_graph *g, const char *name) {
  for (int i = 0; i < g->n_vinfo; i++)
    if (!strcmp(g->vinfo[i].name, name)) return &g->vinfo[i];
  return NULL;
}

const struct pn_value *pn_graph_find_value(const struct pn_graph *g, const char *name) {
  for (int i = 0; i < g->n_inputs; i++)
    if (!strcmp(g->inputs[i].name, name)) return &g->inputs[i];
  const struct pn_value *v = pn_graph_find_vinfo(g, name);
  if (v) return v;
  for (int i = 0; i < g->n_outputs; i++)
    if (!strcmp(g->outputs[i].name, name)) return &g->outputs[i];
  return NULL;
}

int pn_graph_find_producer(const struct pn_graph *g, const char *value_name) {
  if (!value_name || !*value_name) return -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i]->n_out; j++)
      if (!strcmp(g->nodes[i]->out[j], value_name)) return i;
  return -1;
}

bool pn_graph_is_runtime_input(const struct pn_graph *g, int i) {
  return pn_graph_find_init(g, g->inputs[i].name) == NULL;
}

static int copy_values(struct pn_graph *d, const struct pn_value *src, int n,
                       struct pn_value *(*add)(struct pn_graph *, const char *, enum pn_dtype, int,
                                               const int64_t *)) {
  for (int i = 0; i < n; i++) {
    struct pn_value *v = add(d, src[i].name, src[i].dtype, src[i].ndim, src[i].dims);
    if (!v) return PN_ERR_NOMEM;
    for (int k = 0; k < src[i].ndim && k < PN_MAX_DIMS; k++)
      v->dim_param[k] = pn_arena_strdup(d->arena, src[i].dim_param[k]);
    v->doc = pn_arena_strdup(d->arena, src[i].doc);
  }
  return PN_OK;
}

static struct pn_graph *clone(const struct pn_graph *g, bool shared) {
  struct pn_graph *d = pn_graph_new();
  if (!d) return NULL;
  struct pn_arena *a = d->arena;
  d->name = pn_arena_strdup(a, g->name);
  d->doc = pn_arena_strdup(a, g->doc);
  d->ir_version = g->ir_version;
  d->model_version = g->model_version;
  d->producer_name = pn_arena_strdup(a, g->producer_name);
  d->producer_version = pn_arena_strdup(a, g->producer_version);
  d->domain = pn_arena_strdup(a, g->domain);
  d->model_doc = pn_arena_strdup(a, g->model_doc);
  d->n_opsets = 0;
  for (int i = 0; i < g->n_opsets; i++)
    if (pn_graph_set_opset(d, g->opsets[i].domain, g->opsets[i].version)) goto fail;
  if (g->n_meta) {
    d->meta_keys = pn_arena_alloc(a, (size_t)g->n_meta * sizeof(char *));
    d->meta_values = pn_arena_alloc(a, (size_t)g->n_meta * sizeof(char *));
    if (!d->meta_keys || !d->meta_values) goto fail;
    for (int i = 0; i < g->n_meta; i++) {
      d->meta_keys[i] = pn_arena_strdup(a, g->meta_keys[i]);
      d->meta_values[i] = pn_arena_strdup(a, g->meta_values[i]);
    }
    d->n_meta = g->n_meta;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const struct pn_node *s = g->nodes[i];
    struct pn_node *n = pn_graph_add_node(d, s->op_type, s->name, s->n_in, s->in, s->n_out, s->out);
    if (!n) goto fail;
    n->domain = pn_arena_strdup(a, s->domain ? s->domain : "");
    n->doc = pn_arena_strdup(a, s->doc);
    if (s->n_attr) {
      n->attr = pn_arena_alloc(a, (size_t)s->n_attr * sizeof *n->attr);
      if (!n->attr) goto fail;
      n->n_attr = s->n_attr;
      for (int k = 0; k < s->n_attr; k++) {
        const struct pn_attr *sa = &s->attr[k];
        struct pn_attr *da = &n->attr[k];
        *da = *sa;
        da->name = pn_arena_strdup(a, sa->name);
        if (sa->s) da->s = pn_arena_memdup(a, sa->s, (size_t)sa->s_len);
        if (sa->t && !(da->t = arena_copy(a, sa->t, sa->t->name))) goto fail;
        if (sa->floats) da->floats = pn_arena_memdup(a, sa->floats, (size_t)sa->n * sizeof(float));
        if (sa->ints) da->ints = pn_arena_memdup(a, sa->ints, (size_t)sa->n * sizeof(int64_t));
        if (sa->strings) {
          da->strings = pn_arena_alloc(a, (size_t)(sa->n ? sa->n : 1) * sizeof(char *));
          if (!da->strings) goto fail;
          for (int64_t j = 0; j < sa->n; j++) da->strings[j] = pn_arena_strdup(a, sa->strings[j]);
        }
      }
    }
  }
  if (copy_values(d, g->inputs, g->n_inputs, pn_graph_add_input) ||
      copy_values(d, g->outputs, g->n_outputs, pn_graph_add_output) ||
      copy_values(d, g->vinfo, g->n_vinfo, pn_graph_add_vinfo))
    goto fail;
  for (int i = 0; i < g->n_inits; i++)
    if (!(shared ? pn_graph_add_init_shared : pn_graph_add_init)(d, g->inits[i], g->inits[i]->name)) goto fail;
  return d;
fail:
  pn_graph_free(d);
  return NULL;
}

struct pn_graph *pn_graph_clone(const struct pn_graph *g) { return clone(g, false); }
struct pn_graph *pn_graph_clone_shared(const struct pn_graph *g) { return clone(g, true); }

struct pn_graph *pn_graph_clone_batch(const struct pn_graph *g, int64_t batch) {
  struct pn_graph *d = pn_graph_clone(g);
  if (!d) return NULL;
  for (int i = 0; i < d->n_inputs; i++)
    if (pn_graph_is_runtime_input(d, i) && d->inputs[i].ndim > 0) d->inputs[i].dims[0] = batch;
  for (int i = 0; i < d->n_outputs; i++)
    if (d->outputs[i].ndim > 0) d->outputs[i].dims[0] = batch;
  d->n_vinfo = 0;
  return d;
}

int pn_graph_set_meta(struct pn_graph *g, const char *key, const char *value) {
  for (int i = 0; i < g->n_meta; i++)
    if (!strcmp(g->meta_keys[i], key)) {
      g->meta_values[i] = pn_arena_strdup(g->arena, value);
      return g->meta_values[i] ? PN_OK : PN_ERR_NOMEM;
    }
  const char **k = pn_arena_alloc(g->arena, sizeof *k * (size_t)(g->n_meta + 1));
  const char **v = pn_arena_alloc(g->arena, sizeof *v * (size_t)(g->n_meta + 1));
  if (!k || !v) return PN_ERR_NOMEM;
  if (g->n_meta) {
    memcpy(k, g->meta_keys, sizeof *k * (size_t)g->n_meta);
    memcpy(v, g->meta_values, sizeof *v * (size_t)g->n_meta);
  }
  k[g->n_meta] = pn_arena_strdup(g->arena, key);
  v[g->n_meta] = pn_arena_strdup(g->arena, value);
  if (!k[g->n_meta] || !v[g->n_meta]) return PN_ERR_NOMEM;
  g->meta_keys = k;
  g->meta_values = v;
  g->n_meta++;
  return PN_OK;
}

const char *pn_graph_get_meta(const struct pn_graph *g, const char *key) {
  for (int i = 0; i < g->n_meta; i++)
    if (!strcmp(g->meta_keys[i], key)) return g->meta_values[i];
  return NULL;
}
