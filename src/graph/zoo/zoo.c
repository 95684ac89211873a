/* zoo.c - the model zoo's table and entry point: one {name, family, builder} row per model, each
** family's builder in its own file of this folder, all written with the kit (kit.h).
**
** pn_zoo_build makes an empty opset-17 graph, seeds the weight PRG from opts->seed and hands both
** to the model's builder. */
#include "graph/zoo.h"

#include <stdio.h>
#include <string.h>

#include "graph/zoo/kit.h"
#include "util/arena.h"
#include "util/status.h"

#define PN_ZOO_MAX_DIM ((int64_t)1 << 20)

struct zoo_model {
  const char *name;
  const char *family;          /* models of one family share their design (leave-one-family-out) */
  int (*build)(struct pn_zb *b, const struct pn_zoo_opts *o, int arg);
  int arg;
};

/* name, family, builder, builder argument */
#define ZOO_MODELS(X)                                                                              \
  X("resnet18", "resnet", pn_zoo_resnet, 18)                                                       \
  X("resnet50", "resnet", pn_zoo_resnet, 50)                                                       \
  X("resnext50", "resnet", pn_zoo_resnext50, 0)                                                    \
  X("vgg11", "vgg", pn_zoo_vgg11, 0)                                                               \
  X("mobilenetv2", "mobilenet", pn_zoo_mobilenetv2, 0)                                             \
  X("mobilenet_v3", "mobilenet", pn_zoo_mobilenetv3, 0)                                            \
  X("shufflenet_v2", "shufflenet", pn_zoo_shufflenetv2, 0)                                         \
  X("densenet121", "densenet", pn_zoo_densenet121, 0)                                              \
  X("googlenet", "inception", pn_zoo_googlenet, 0)                                                 \
  X("inception_v3", "inception", pn_zoo_inception_v3, 0)                                           \
  X("bert", "bert", pn_zoo_bert, 0)                                                                \
  X("distilbert", "bert", pn_zoo_bert, 1)                                                          \
  X("roberta", "bert", pn_zoo_bert, 2)                                                             \
  X("gpt2", "gpt2", pn_zoo_gpt2, 0)                                                                \
  X("xlm", "xlm", pn_zoo_xlm, 0)
#define ZOO_ROW(name, family, build, arg) {name, family, build, arg},
#define ZOO_NAME(name, family, build, arg) name,

static const struct zoo_model zoo[] = {ZOO_MODELS(ZOO_ROW){NULL, NULL, NULL, 0}};
static const char *const zoo_names[] = {ZOO_MODELS(ZOO_NAME) NULL};

const char *const *pn_zoo_names(void) { return zoo_names; }

static const struct zoo_model *find(const char *name) {
  for (int i = 0; name && zoo[i].name; i++)
    if (!strcmp(name, zoo[i].name)) return &zoo[i];
  return NULL;
}

const char *pn_zoo_family(const char *name) {
  const struct zoo_model *m = find(name);
  return m ? m->family : name;
}

bool pn_zoo_is_transformer(const char *name) {
  const struct zoo_model *m = find(name);
  return m && (m->build == pn_zoo_bert || m->build == pn_zoo_gpt2 || m->build == pn_zoo_xlm);
}

int pn_zoo_build(struct pn_ctx *ctx, const char *name, const struct pn_zoo_opts *opts,
                 struct pn_graph **out) {
  *out = NULL;
  struct pn_zoo_opts defaults = {0};
  if (!opts) opts = &defaults;
  if (!name) return pn_err(ctx, PN_ERR_INVALID, "no model name");
  const struct zoo_model *m = find(name);
  if (!m) {
    char list[512] = "";
    for (int i = 0; zoo[i].name; i++) {
      strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
      strncat(list, zoo[i].name, sizeof list - strlen(list) - 1);
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

  struct pn_zb b = {.ctx = ctx, .model = m->name, .status = PN_OK};
  b.g = pn_graph_new();
  if (!b.g) return pn_err(ctx, PN_ERR_NOMEM, "zoo %s: out of memory", name);
  int rc = pn_prg_init_u64(ctx, &b.prg, opts->seed);
  if (rc != PN_OK) {
    pn_graph_free(b.g);
    return rc;
  }
  b.g->name = pn_arena_strdup(b.g->arena, m->name);
  b.g->model_doc = pn_arena_printf(b.g->arena, "privnn zoo %s, weights from seed %llu",
                                   m->name, (unsigned long long)opts->seed);
  pn_graph_set_opset(b.g, "", 17);
  rc = m->build(&b, opts, m->arg);
  if (rc == PN_OK && b.status != PN_OK) rc = b.status;
  pn_prg_free(&b.prg);
  if (rc != PN_OK) {
    pn_graph_free(b.g);
    return rc;
  }
  *out = b.g;
  return PN_OK;
}
