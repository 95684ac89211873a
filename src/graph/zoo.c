/* zoo.c - the model zoo's entry point and its graph-building kit (see zoo_build.h).
**
** pn_zoo_build makes an empty opset-17 graph, seeds the weight PRG from opts->seed and hands both
** to the family's builder (zoo_cnn.c, zoo_bert.c); the kit below keeps a sticky status so the
** builders read as straight-line architecture descriptions. */
#include "graph/zoo.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graph/zoo_build.h"
#include "util/arena.h"
#include "util/status.h"

#define PN_ZOO_MAX_DIM ((int64_t)1 << 20)

static const char *const zoo_names[] = {"resnet18", "resnet50", "vgg11", "mobilenetv2", "bert", NULL};

const char *const *pn_zoo_names(void) { return zoo_names; }

int pn_zb_fail(struct pn_zb *b, int code, const char *fmt, ...) {
  if (b->status != PN_OK) return b->status;
  char msg[PN_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  b->status = code;
  return pn_err(b->ctx, code, "zoo %s: %s", b->model, msg);
}

struct pn_node *pn_zb_op(struct pn_zb *b, const char *op, const char *name, int n_in,
                         const char *const *in, const char *out) {
  if (b->status != PN_OK) return NULL;
  for (int i = 0; i < n_in; i++)
    if (!in[i]) {
      pn_zb_fail(b, PN_ERR_INVALID, "node '%s': input %d missing", name, i);
      return NULL;
    }
  const char *o = out ? out : name;
  struct pn_node *n = pn_graph_add_node(b->g, op, name, n_in, in, 1, &o);
  if (!n) pn_zb_fail(b, PN_ERR_NOMEM, "out of memory adding node '%s'", name);
  return n;
}

const char *pn_zb_out(const struct pn_node *n) { return n ? n->out[0] : NULL; }

static void attr_status(struct pn_zb *b, int rc, const struct pn_node *n, const char *name) {
  if (rc != PN_OK) pn_zb_fail(b, PN_ERR_NOMEM, "out of memory setting %s.%s", n->name, name);
}

void pn_zb_int(struct pn_zb *b, struct pn_node *n, const char *name, int64_t v) {
  if (b->status == PN_OK && n) attr_status(b, pn_node_set_int(b->g, n, name, v), n, name);
}
void pn_zb_float(struct pn_zb *b, struct pn_node *n, const char *name, float v) {
  if (b->status == PN_OK && n) attr_status(b, pn_node_set_float(b->g, n, name, v), n, name);
}
void pn_zb_ints(struct pn_zb *b, struct pn_node *n, const char *name, int64_t count,
                const int64_t *v) {
  if (b->status == PN_OK && n) attr_status(b, pn_node_set_ints(b->g, n, name, count, v), n, name);
}

static struct pn_tensor *new_init(struct pn_zb *b, const char *name, enum pn_dtype dt, int ndim,
                                  const int64_t *dims) {
  if (b->status != PN_OK) return NULL;
  if (!name) {
    pn_zb_fail(b, PN_ERR_INVALID, "unnamed initializer");
    return NULL;
  }
  char s[128];
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    if (__builtin_mul_overflow(n, dims[i], &n)) n = INT64_MAX;
  if (n > PN_ZOO_MAX_PARAMS - b->n_params) {
    pn_zb_fail(b, PN_ERR_INVALID,
               "initializer '%s' %s takes the model above %lld parameters (options too large?)",
               name, pn_shape_str(s, sizeof s, ndim, dims), (long long)PN_ZOO_MAX_PARAMS);
    return NULL;
  }
  b->n_params += n;
  struct pn_tensor *t = pn_graph_new_init(b->g, name, dt, ndim, dims);
  if (!t) {
    pn_zb_fail(b, PN_ERR_NOMEM, "out of memory for initializer '%s' %s", name,
               pn_shape_str(s, sizeof s, ndim, dims));
  }
  return t;
}

const char *pn_zb_normal(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                         double mean, double std) {
  struct pn_tensor *t = new_init(b, name, PN_DT_FLOAT, ndim, dims);
  if (!t) return NULL;
  float *d = t->data;
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) d[i] = (float)(mean + std * pn_prg_normal(&b->prg));
  return t->name;
}

const char *pn_zb_uniform(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                          double lo, double hi) {
  struct pn_tensor *t = new_init(b, name, PN_DT_FLOAT, ndim, dims);
  if (!t) return NULL;
  float *d = t->data;
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) d[i] = (float)(lo + (hi - lo) * pn_prg_double(&b->prg));
  return t->name;
}

const char *pn_zb_const(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                        const float *v) {
  struct pn_tensor *t = new_init(b, name, PN_DT_FLOAT, ndim, dims);
  if (!t) return NULL;
  if (v) memcpy(t->data, v, pn_tensor_nbytes(t));
  return t->name;
}

const char *pn_zb_i64(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                      const int64_t *v) {
  struct pn_tensor *t = new_init(b, name, PN_DT_INT64, ndim, dims);
  if (!t) return NULL;
  memcpy(t->data, v, pn_tensor_nbytes(t));
  return t->name;
}

const char *pn_zb_name(struct pn_zb *b, const char *prefix, const char *suffix) {
  if (b->status != PN_OK || !prefix) return NULL;
  char *s = *prefix ? pn_arena_printf(b->g->arena, "%s.%s", prefix, suffix)
                    : pn_arena_strdup(b->g->arena, suffix);
  if (!s) pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  return s;
}

int pn_zoo_build(struct pn_ctx *ctx, const char *name, const struct pn_zoo_opts *opts,
                 struct pn_graph **out) {
  *out = NULL;
  struct pn_zoo_opts defaults = {0};
  if (!opts) opts = &defaults;
  if (!name) return pn_err(ctx, PN_ERR_INVALID, "no model name");
  int which = -1;
  for (int i = 0; zoo_names[i]; i++)
    if (!strcmp(name, zoo_names[i])) which = i;
  if (which < 0) {
    char list[256] = "";
    for (int i = 0; zoo_names[i]; i++) {
      strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
      strncat(list, zoo_names[i], sizeof list - strlen(list) - 1);
    }
    return pn_err(ctx, PN_ERR_INVALID, "unknown model '%s' (known: %s)", name, list);
  }
  if (opts->ndim < 0 || opts->ndim > PN_MAX_DIMS)
    return pn_err(ctx, PN_ERR_INVALID, "zoo %s: input shape has %d dims", name, opts->ndim);
  double numel = 1;
  for (int i = 0; i < opts->ndim; i++) {
    if (opts->dims[i] <= 0 || opts->dims[i] > PN_ZOO_MAX_DIM)
      return pn_err(ctx, PN_ERR_INVALID, "zoo %s: input shape dim %d is %lld (must be in [1, %lld])",
                    name, i, (long long)opts->dims[i], (long long)PN_ZOO_MAX_DIM);
    numel *= (double)opts->dims[i];
  }
  if (numel > (double)PN_ZOO_MAX_PARAMS)
    return pn_err(ctx, PN_ERR_INVALID, "zoo %s: input shape has %.3g elements (at most %lld)", name,
                  numel, (long long)PN_ZOO_MAX_PARAMS);

  struct pn_zb b = {.ctx = ctx, .model = zoo_names[which], .status = PN_OK};
  b.g = pn_graph_new();
  if (!b.g) return pn_err(ctx, PN_ERR_NOMEM, "zoo %s: out of memory", name);
  int rc = pn_prg_init_u64(ctx, &b.prg, opts->seed);
  if (rc != PN_OK) {
    pn_graph_free(b.g);
    return rc;
  }
  b.g->name = pn_arena_strdup(b.g->arena, zoo_names[which]);
  b.g->model_doc = pn_arena_printf(b.g->arena, "privnn zoo %s, weights from seed %llu",
                                   zoo_names[which], (unsigned long long)opts->seed);
  pn_graph_set_opset(b.g, "", 17);
  switch (which) {
  case 0: rc = pn_zoo_resnet(&b, opts, 18); break;
  case 1: rc = pn_zoo_resnet(&b, opts, 50); break;
  case 2: rc = pn_zoo_vgg11(&b, opts); break;
  case 3: rc = pn_zoo_mobilenetv2(&b, opts); break;
  default: rc = pn_zoo_bert(&b, opts); break;
  }
  if (rc == PN_OK && b.status != PN_OK) rc = b.status;
  pn_prg_free(&b.prg);
  if (rc != PN_OK) {
    pn_graph_free(b.g);
    return rc;
  }
  *out = b.g;
  return PN_OK;
}
