/* ir.h - the graph IR every privnn layer shares: ONNX's model, nodes, values and initializers.
**
** A pn_graph mirrors an ONNX ModelProto closely enough to round-trip it: nodes refer to values by
** name, "" marks an omitted optional input/output, and initializers are named tensors. Everything
** of one graph (strings, attributes, initializer data) lives in the graph's arena and is freed by
** pn_graph_free; the node/value/initializer pointer arrays grow with malloc. */
#ifndef PN_IR_H
#define PN_IR_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor.h"
#include "../util/api.h"

struct pn_ctx;
struct pn_arena;

/* Values equal ONNX's AttributeProto.AttributeType. */
enum pn_attr_type {
  PN_ATTR_UNDEFINED = 0, PN_ATTR_FLOAT = 1, PN_ATTR_INT = 2, PN_ATTR_STRING = 3,
  PN_ATTR_TENSOR = 4, PN_ATTR_GRAPH = 5, PN_ATTR_FLOATS = 6, PN_ATTR_INTS = 7,
  PN_ATTR_STRINGS = 8, PN_ATTR_TENSORS = 9, PN_ATTR_GRAPHS = 10,
  PN_ATTR_TYPE_COUNT = 11
};

struct pn_attr {
  const char *name;
  enum pn_attr_type type;
  float f;                     /* FLOAT */
  int64_t i;                   /* INT */
  const char *s;               /* STRING: s[0..s_len), NUL-terminated too */
  int64_t s_len;
  struct pn_tensor *t;         /* TENSOR */
  int64_t n;                   /* element count of FLOATS / INTS / STRINGS */
  float *floats;
  int64_t *ints;
  const char **strings;
};

struct pn_node {
  const char *name;            /* may be "" in ONNX; privnn's messages then use the first output */
  const char *op_type;
  const char *domain;          /* "" = the default ai.onnx domain */
  int n_in, n_out;
  const char **in, **out;      /* value names; "" = omitted optional */
  int n_attr;
  struct pn_attr *attr;
  const char *doc;
};

/* A typed value: graph input, graph output or annotated intermediate (ONNX ValueInfoProto). */
struct pn_value {
  const char *name;
  enum pn_dtype dtype;
  int ndim;                    /* -1 = rank unknown */
  int64_t dims[PN_MAX_DIMS];   /* -1 = unknown (dim_param gives a symbolic name, if any) */
  const char *dim_param[PN_MAX_DIMS];
  const char *doc;
};

struct pn_opset {
  const char *domain;          /* "" = ai.onnx */
  int64_t version;
};

struct pn_graph {
  struct pn_arena *arena;
  const char *name, *doc;
  int64_t ir_version, model_version;
  const char *producer_name, *producer_version, *domain, *model_doc;
  int n_opsets;
  struct pn_opset *opsets;
  int n_meta;
  const char **meta_keys, **meta_values;

  int n_nodes, cap_nodes;
  struct pn_node **nodes;
  int n_inputs, cap_inputs;
  struct pn_value *inputs;     /* may include initializer names (old ONNX); see pn_graph_is_runtime_input */
  int n_outputs, cap_outputs;
  struct pn_value *outputs;
  int n_vinfo, cap_vinfo;
  struct pn_value *vinfo;      /* intermediate values with known type/shape */
  int n_inits, cap_inits;
  struct pn_tensor **inits;    /* arena tensors, named */
};

/* ---- building and freeing ---- */

/* An empty graph (ir_version 8, opset ai.onnx 17, producer "privnn"). NULL when out of memory. */
PN_API struct pn_graph *pn_graph_new(void);
PN_API void pn_graph_free(struct pn_graph *g);

/* Set (or add) the version of an operator-set domain. */
PN_API int pn_graph_set_opset(struct pn_graph *g, const char *domain, int64_t version);
/* Version imported for a domain ("" and "ai.onnx" are the same), or 0 when not imported. */
PN_API int64_t pn_graph_opset(const struct pn_graph *g, const char *domain);

/* Append a node; strings are copied into the arena. in/out may contain "" for omitted optionals.
** Returns the node (attributes added with pn_node_set_*) or NULL when out of memory. */
PN_API struct pn_node *pn_graph_add_node(struct pn_graph *g, const char *op_type, const char *name,
                                         int n_in, const char *const *in, int n_out,
                                         const char *const *out);
/* Remove node i, keeping the order of the others. */
PN_API void pn_graph_remove_node(struct pn_graph *g, int i);

/* Attributes (replace an existing one of the same name). Return PN_OK or PN_ERR_NOMEM. */
PN_API int pn_node_set_int(struct pn_graph *g, struct pn_node *n, const char *name, int64_t v);
PN_API int pn_node_set_float(struct pn_graph *g, struct pn_node *n, const char *name, float v);
PN_API int pn_node_set_string(struct pn_graph *g, struct pn_node *n, const char *name, const char *v);
PN_API int pn_node_set_ints(struct pn_graph *g, struct pn_node *n, const char *name, int64_t count,
                            const int64_t *v);
PN_API int pn_node_set_floats(struct pn_graph *g, struct pn_node *n, const char *name, int64_t count,
                              const float *v);
/* t is copied into the graph's arena. */
PN_API int pn_node_set_tensor(struct pn_graph *g, struct pn_node *n, const char *name,
                              const struct pn_tensor *t);
/* Append a raw attribute slot (for the ONNX loader); NULL when out of memory. */
PN_API struct pn_attr *pn_node_add_attr(struct pn_graph *g, struct pn_node *n, const char *name,
                                        enum pn_attr_type type);

/* Lookup: NULL when absent. */
PN_API const struct pn_attr *pn_node_attr(const struct pn_node *n, const char *name);
/* Typed getters for kernels: absent → def and PN_OK; present with the wrong type → PN_ERR_INVALID
** with "node 'NAME' (OP): attribute 'a' must be an int". */
PN_API int pn_node_get_int(struct pn_ctx *ctx, const struct pn_node *n, const char *name, int64_t def,
                           int64_t *out);
PN_API int pn_node_get_float(struct pn_ctx *ctx, const struct pn_node *n, const char *name, float def,
                             float *out);
PN_API int pn_node_get_string(struct pn_ctx *ctx, const struct pn_node *n, const char *name,
                              const char *def, const char **out);
/* INTS: *count = -1 when absent (so "absent" differs from "empty"); *v points into the node. */
PN_API int pn_node_get_ints(struct pn_ctx *ctx, const struct pn_node *n, const char *name,
                            int64_t *count, const int64_t **v);
PN_API int pn_node_get_floats(struct pn_ctx *ctx, const struct pn_node *n, const char *name,
                              int64_t *count, const float **v);

/* A printable name for messages: the node's name, else its first output, else "#index". */
PN_API const char *pn_node_label(const struct pn_node *n);

/* Graph inputs/outputs/value-info. dims may be NULL when ndim <= 0. Return the value or NULL. */
PN_API struct pn_value *pn_graph_add_input(struct pn_graph *g, const char *name, enum pn_dtype dt,
                                           int ndim, const int64_t *dims);
PN_API struct pn_value *pn_graph_add_output(struct pn_graph *g, const char *name, enum pn_dtype dt,
                                            int ndim, const int64_t *dims);
PN_API struct pn_value *pn_graph_add_vinfo(struct pn_graph *g, const char *name, enum pn_dtype dt,
                                           int ndim, const int64_t *dims);
/* Initializers: a new zeroed arena tensor (fill t->data), or an arena copy of src. */
PN_API struct pn_tensor *pn_graph_new_init(struct pn_graph *g, const char *name, enum pn_dtype dt,
                                           int ndim, const int64_t *dims);
PN_API struct pn_tensor *pn_graph_add_init(struct pn_graph *g, const struct pn_tensor *src,
                                           const char *name);
/* An initializer that shares src's data instead of copying it (its struct and name are g's own): valid
** while src's owner lives, and neither graph may write that data in place. For large weights that
** several graphs hold at once (join: the model, its prepared copy, the reassembled model). */
PN_API struct pn_tensor *pn_graph_add_init_shared(struct pn_graph *g, const struct pn_tensor *src,
                                                  const char *name);
PN_API void pn_graph_remove_init(struct pn_graph *g, int i);

/* Lookups by name (linear; callers that loop build their own maps). */
PN_API struct pn_tensor *pn_graph_find_init(const struct pn_graph *g, const char *name);
PN_API struct pn_value *pn_graph_find_vinfo(const struct pn_graph *g, const char *name);
/* The declared type of a value: a graph input, value info or a graph output (searched in that
** order); NULL when none names it. */
PN_API const struct pn_value *pn_graph_find_value(const struct pn_graph *g, const char *name);
PN_API int pn_graph_find_producer(const struct pn_graph *g,
                                  const char *value_name); /* node index or -1 */
/* True if graph input i is not also an initializer (i.e. must be supplied at run time). */
PN_API bool pn_graph_is_runtime_input(const struct pn_graph *g, int i);

/* Set (or add) a metadata_props entry (copied into the arena). PN_OK or PN_ERR_NOMEM. */
PN_API int pn_graph_set_meta(struct pn_graph *g, const char *key, const char *value);
/* A metadata value, or NULL. */
PN_API const char *pn_graph_get_meta(const struct pn_graph *g, const char *key);

/* A deep copy (new arena). NULL when out of memory. */
PN_API struct pn_graph *pn_graph_clone(const struct pn_graph *g);
/* A copy whose initializers share g's data (pn_graph_add_init_shared): free it before g; passes that
** replace initializers (pn_obf_prepare's) are fine, writing an initializer's data in place is not. */
PN_API struct pn_graph *pn_graph_clone_shared(const struct pn_graph *g);
/* A copy of g for batch size `batch`: dim 0 of every runtime input and of every output set to it,
** value infos dropped (shape inference recomputes them). NULL when out of memory. */
PN_API struct pn_graph *pn_graph_clone_batch(const struct pn_graph *g, int64_t batch);

/* ---- checking (validate.c) ---- */

/* Order nodes topologically (stable for already-sorted graphs). PN_ERR_INVALID naming a node on
** the cycle, or a node whose input nothing produces. */
PN_API int pn_graph_topo_sort(struct pn_ctx *ctx, struct pn_graph *g);

/* Full validation: empty/duplicate names, dangling inputs, values produced twice, cycles, unknown
** ops (PN_ERR_UNSUPPORTED), attribute types/values, and type/shape consistency via shape
** inference. Messages name the node and field. Sorts nodes topologically as a side effect. */
PN_API int pn_graph_validate(struct pn_ctx *ctx, struct pn_graph *g);

/* Infer dtype and shape of every value and (re)write g->vinfo and unknown output shapes.
** Unknown dims stay -1. Fails like pn_graph_validate on inconsistent shapes. */
PN_API int pn_graph_infer_shapes(struct pn_ctx *ctx, struct pn_graph *g);

#endif
