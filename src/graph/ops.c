/* ops.c - op and domain lookup, and the helpers shared by infer functions and kernels. */
#include "graph/op_def.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- float16 / bfloat16 by conversion to float32 ---- */

/* The half type among the (known) input dtypes, PN_DT_UNDEFINED when none or when op converts
** half types itself. */
static enum pn_dtype half_of(enum pn_op op, const enum pn_dtype *dt, int n) {
  if (op == PN_OP_CAST || op == PN_OP_CAST_LIKE) return PN_DT_UNDEFINED;
  for (int i = 0; i < n; i++)
    if (pn_dtype_is_half(dt[i])) return dt[i];
  return PN_DT_UNDEFINED;
}

int pn_op_infer(enum pn_op op, const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                struct pn_shape *out, int n_out) {
  const struct pn_op_def *d = &pn_op_defs[op];
  enum pn_dtype half = PN_DT_UNDEFINED;
  for (int i = 0; i < n_in && !half; i++) half = half_of(op, &in[i].dtype, 1);
  if (!half) return d->infer(a, in, n_in, out, n_out);
  struct pn_shape *fin = malloc(((size_t)n_in + 1) * sizeof *fin);
  struct pn_tensor **tmp = calloc((size_t)n_in + 1, sizeof *tmp);
  int rc = fin && tmp ? PN_OK : pn_err(a->ctx, PN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n_in && !rc; i++) {
    fin[i] = in[i];
    if (!pn_dtype_is_half(in[i].dtype)) continue;
    fin[i].dtype = PN_DT_FLOAT;
    if (in[i].value && !(fin[i].value = tmp[i] = pn_tensor_half_to_float(in[i].value)))
      rc = pn_err(a->ctx, PN_ERR_NOMEM, "out of memory");
  }
  if (!rc) rc = d->infer(a, fin, n_in, out, n_out);
  for (int j = 0; j < n_out && !rc; j++)
    if (out[j].dtype == PN_DT_FLOAT) out[j].dtype = half;
  for (int i = 0; tmp && i < n_in; i++) pn_tensor_free(tmp[i]);
  free(tmp);
  free(fin);
  return rc;
}

int pn_op_run(enum pn_op op, const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
              struct pn_tensor *const *out, int n_out) {
  const struct pn_op_def *d = &pn_op_defs[op];
  enum pn_dtype half = PN_DT_UNDEFINED;
  /* from the inputs only: an op making half values from none (Constant, ConstantOfShape) copies
  ** them as they are */
  for (int i = 0; i < n_in && !half; i++)
    if (in[i]) half = half_of(op, &in[i]->dtype, 1);
  if (!half) return d->run(a, in, n_in, out, n_out);
  const struct pn_tensor **fin = calloc((size_t)n_in + 1, sizeof *fin);
  struct pn_tensor **tin = calloc((size_t)n_in + 1, sizeof *tin);
  struct pn_tensor **fout = calloc((size_t)n_out + 1, sizeof *fout);
  bool *conv = calloc((size_t)n_out + 1, sizeof *conv);
  int rc = fin && tin && fout && conv ? PN_OK : pn_err(a->ctx, PN_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n_in && !rc; i++) {
    fin[i] = in[i];
    if (in[i] && pn_dtype_is_half(in[i]->dtype) && !(fin[i] = tin[i] = pn_tensor_half_to_float(in[i])))
      rc = pn_err(a->ctx, PN_ERR_NOMEM, "out of memory");
  }
  for (int j = 0; j < n_out && !rc; j++) {
    fout[j] = out[j];
    if (!out[j] || !pn_dtype_is_half(out[j]->dtype)) continue;
    conv[j] = true;
    if (!(fout[j] = pn_tensor_new(PN_DT_FLOAT, out[j]->ndim, out[j]->dims)))
      rc = pn_err(a->ctx, PN_ERR_NOMEM, "out of memory");
  }
  if (!rc) rc = d->run(a, fin, n_in, fout, n_out);
  for (int j = 0; j < n_out && fout && conv; j++) {
    if (!conv[j]) continue;
    if (!rc) pn_tensor_float_to_half(fout[j], out[j]);
    pn_tensor_free(fout[j]);
  }
  for (int i = 0; tin && i < n_in; i++) pn_tensor_free(tin[i]);
  free(fin);
  free(tin);
  free(fout);
  free(conv);
  return rc;
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
