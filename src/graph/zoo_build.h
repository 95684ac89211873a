/* zoo_build.h - the small graph-building kit shared by the zoo's model files (internal to zoo*.c).
**
** A pn_zb carries the graph under construction, the weight PRG and a sticky status: after the
** first failure every helper returns NULL and does nothing, so model code can chain calls and check
** once at the end. */
#ifndef PN_ZOO_BUILD_H
#define PN_ZOO_BUILD_H

#include <stdint.h>

#include "graph/ir.h"
#include "graph/zoo.h"
#include "util/prg.h"

struct pn_zb {
  struct pn_ctx *ctx;
  struct pn_graph *g;
  struct pn_prg prg;
  const char *model;           /* model name, prefixes messages */
  int status;                  /* PN_OK until the first failure */
  int64_t n_params;            /* initializer elements so far (bounded by PN_ZOO_MAX_PARAMS) */
};

/* The most initializer elements a zoo model may have (4 GiB of float32). */
#define PN_ZOO_MAX_PARAMS ((int64_t)1 << 30)

/* Record the first failure ("MODEL: message"); returns code. */
int pn_zb_fail(struct pn_zb *b, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Add node `name` of type op with inputs in[0..n_in) and one output, named out (NULL = the node's
** name). Returns the node, or NULL after a failure. */
struct pn_node *pn_zb_op(struct pn_zb *b, const char *op, const char *name, int n_in,
                         const char *const *in, const char *out);
/* The node's (first) output name, NULL for NULL. */
const char *pn_zb_out(const struct pn_node *n);
/* Attributes with the sticky status (n may be NULL). */
void pn_zb_int(struct pn_zb *b, struct pn_node *n, const char *name, int64_t v);
void pn_zb_float(struct pn_zb *b, struct pn_node *n, const char *name, float v);
void pn_zb_ints(struct pn_zb *b, struct pn_node *n, const char *name, int64_t count, const int64_t *v);

/* Initializers. _normal: mean + std * N(0,1); _uniform: U[lo, hi); _const: float values copied
** from v (NULL = zeros); _i64: int64 values copied from v. Return the name, NULL after failure. */
const char *pn_zb_normal(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                         double mean, double std);
const char *pn_zb_uniform(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                          double lo, double hi);
const char *pn_zb_const(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                        const float *v);
const char *pn_zb_i64(struct pn_zb *b, const char *name, int ndim, const int64_t *dims,
                      const int64_t *v);
/* An arena string "prefix.suffix" (NULL after failure). */
const char *pn_zb_name(struct pn_zb *b, const char *prefix, const char *suffix);

/* The model files' entry points (b->g is a fresh graph; they add everything else). */
int pn_zoo_resnet(struct pn_zb *b, const struct pn_zoo_opts *o, int depth);
int pn_zoo_vgg11(struct pn_zb *b, const struct pn_zoo_opts *o);
int pn_zoo_mobilenetv2(struct pn_zb *b, const struct pn_zoo_opts *o);
int pn_zoo_bert(struct pn_zb *b, const struct pn_zoo_opts *o);

#endif
