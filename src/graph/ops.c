/* ops.c - op and domain lookup, and the helpers shared by infer functions and kernels. */
#include "graph/ops.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/status.h"

const struct pn_op_domain_def pn_op_domains[PN_DOMAIN_COUNT] = {
  [PN_DOMAIN_ONNX] = {"ai.onnx", PN_OPSET_MIN, PN_OPSET_MAX},
  [PN_DOMAIN_PRIVNN] = {PN_PRIVNN_DOMAIN, PN_PRIVNN_OPSET_MIN, PN_PRIVNN_OPSET_MAX},
};
static_assert(sizeof pn_op_domains / sizeof *pn_op_domains == PN_DOMAIN_COUNT, "pn_op_domains out of date");

/* Each op's domain follows from the list that declares it (ops.h). */
static const unsigned char op_domain[PN_OP_COUNT] = {
#define X(id, name) [PN_OP_##id] = PN_DOMAIN_ONNX,
  PN_OPS(X)
#undef X
#define X(id, name) [PN_OP_##id] = PN_DOMAIN_PRIVNN,
  PN_OPS_PRIVNN(X)
#undef X
};
static_assert(sizeof op_domain / sizeof *op_domain == PN_OP_COUNT, "op_domain out of date");

int pn_op_domain_find(const char *domain) {
  if (!domain || !*domain) return PN_DOMAIN_ONNX;
  for (int d = 0; d < PN_DOMAIN_COUNT; d++)
    if (!strcmp(domain, pn_op_domains[d].name)) return d;
  return -1;
}

int pn_op_find(const char *domain, const char *op_type) {
  int d = pn_op_domain_find(domain);
  if (d < 0 || !op_type) return -1;
  for (int i = 0; i < PN_OP_COUNT; i++)
    if (op_domain[i] == d && !strcmp(pn_op_defs[i].op_type, op_type)) return i;
  return -1;
}

const char *pn_op_name(enum pn_op op) {
  return (unsigned)op < PN_OP_COUNT ? pn_op_defs[op].op_type : "?";
}

enum pn_op_domain pn_op_domain(enum pn_op op) {
  return (unsigned)op < PN_OP_COUNT ? (enum pn_op_domain)op_domain[op] : PN_DOMAIN_ONNX;
}

int pn_op_err(const struct pn_op_args *a, int code, const char *fmt, ...) {
  char msg[PN_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return pn_err(a->ctx, code, "node '%s' (%s): %s", pn_node_label(a->node), a->node->op_type, msg);
}

int pn_broadcast_shape(const struct pn_op_args *a, int nd_a, const int64_t *da, int nd_b,
                       const int64_t *db, int *nd_out, int64_t *d_out) {
  int nd = nd_a > nd_b ? nd_a : nd_b;
  if (nd > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "rank %d above %d", nd, PN_MAX_DIMS);
  for (int i = 0; i < nd; i++) {
    int ia = i - (nd - nd_a), ib = i - (nd - nd_b);
    int64_t x = ia >= 0 ? da[ia] : 1, y = ib >= 0 ? db[ib] : 1;
    if (x == 1) d_out[i] = y;
    else if (y == 1) d_out[i] = x;
    else if (x < 0 || y < 0) d_out[i] = x < 0 ? y : x;   /* unknown: trust the known one */
    else if (x == y) d_out[i] = x;
    else {
      char sa[128], sb[128];
      return pn_op_err(a, PN_ERR_INVALID, "shapes %s and %s do not broadcast (dim %d: %lld vs %lld)",
                       pn_shape_str(sa, sizeof sa, nd_a, da), pn_shape_str(sb, sizeof sb, nd_b, db), i,
                       (long long)x, (long long)y);
    }
  }
  *nd_out = nd;
  return PN_OK;
}

int pn_op_axis(const struct pn_op_args *a, const char *what, int64_t axis, int rank, int *out) {
  if (axis < -rank || axis >= rank)
    return pn_op_err(a, PN_ERR_INVALID, "%s %lld out of range for rank %d", what, (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return PN_OK;
}

void pn_shape_set(struct pn_shape *s, enum pn_dtype dt, int ndim, const int64_t *dims) {
  s->dtype = dt;
  s->ndim = ndim;
  s->value = NULL;
  for (int i = 0; i < ndim && i < PN_MAX_DIMS; i++) s->dims[i] = dims ? dims[i] : -1;
}
