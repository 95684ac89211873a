/* k_xutil.h - private helpers shared by k_unary.c, k_logic.c, k_misc.c and k_reduce2.c.
**
** Per-dtype kernel tables are indexed by pn_xslot (float, double, int32, int64, int8, uint8,
** bool). DEF_XBIN defines a broadcasting binary kernel (operand types TA, result type TY) walked
** with a 2-operand pn_iter over a contiguous output; pn_xinfer_bcast is the numpy-broadcast shape
** inference of any number of inputs with unknown dims and ranks. */
#ifndef PN_K_XUTIL_H
#define PN_K_XUTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "graph/k_util.h"

/* Largest dim the shape-growing ops (Pad, Tile) produce: sums and products stay in int64. */
#define PN_XDIM_MAX (INT64_C(1) << 40)

enum { XS_F32, XS_F64, XS_I32, XS_I64, XS_I8, XS_U8, XS_BOOL, XS_COUNT };

static inline int pn_xslot(enum pn_dtype dt) {
  switch (dt) {
  case PN_DT_FLOAT: return XS_F32;
  case PN_DT_DOUBLE: return XS_F64;
  case PN_DT_INT32: return XS_I32;
  case PN_DT_INT64: return XS_I64;
  case PN_DT_INT8: return XS_I8;
  case PN_DT_UINT8: return XS_U8;
  case PN_DT_BOOL: return XS_BOOL;
  default: return -1;
  }
}

typedef void pn_xbin_fn(const struct pn_iter *it, const void *pa, const void *pb, void *py);

/* y[i] = EXPR(x = a[.], z = b[.]) over the broadcast walk it (operands 0 and 1). */
#define DEF_XBIN(name, TA, TY, EXPR)                                                           \
  static void name(const struct pn_iter *it, const void *pa, const void *pb, void *py) {      \
    const TA *A = pa, *B = pb;                                                                 \
    TY *Y = py;                                                                                \
    int64_t n = it->numel, sa = it->st[0][it->nd - 1], sb = it->st[1][it->nd - 1];             \
    (void)n;                                                                                   \
    _Pragma("omp parallel for schedule(static) if (n > 65536)")                                \
    for (int64_t blk = 0; blk < it->nblock; blk++) {                                           \
      int64_t off[PN_ITER_OPS], yo, len;                                                       \
      pn_iter_block(it, blk, off, &yo, &len);                                                  \
      const TA *a = A + off[0], *b = B + off[1];                                               \
      TY *y = Y + yo;                                                                          \
      for (int64_t i = 0; i < len; i++) {                                                      \
        TA x = a[i * sa], z = b[i * sb];                                                       \
        y[i] = (TY)(EXPR);                                                                     \
      }                                                                                        \
    }                                                                                          \
  }

/* Walk of output Y with operands ops[0..nops) broadcast to it. */
static inline void pn_xiter(struct pn_iter *it, const struct pn_tensor *Y, int nops,
                            const struct pn_tensor *const *ops) {
  int64_t st[PN_ITER_OPS][PN_MAX_DIMS];
  for (int k = 0; k < nops; k++) pn_bcast_strides(Y->ndim, ops[k]->ndim, ops[k]->dims, st[k]);
  pn_iter_init(it, Y->ndim, Y->dims, nops, st);
}

/* Numpy broadcast of in[0..n) into out (dtype dt). A rank unknown anywhere gives rank unknown. */
static inline int pn_xinfer_bcast(const struct pn_op_args *a, const struct pn_shape *in, int n,
                                  enum pn_dtype dt, struct pn_shape *out) {
  int nd = 0, rc;
  int64_t d[PN_MAX_DIMS];
  for (int i = 0; i < n; i++)
    if (in[i].ndim < 0) {
      pn_shape_set(out, dt, -1, NULL);
      return PN_OK;
    }
  for (int i = 0; i < n; i++) {
    int64_t tmp[PN_MAX_DIMS];
    int ndt;
    if (in[i].ndim > PN_MAX_DIMS)
      return pn_op_err(a, PN_ERR_UNSUPPORTED, "input %d has rank %d above %d", i, in[i].ndim,
                       PN_MAX_DIMS);
    if ((rc = pn_broadcast_shape(a, nd, d, in[i].ndim, in[i].dims, &ndt, tmp))) return rc;
    nd = ndt;
    memcpy(d, tmp, sizeof tmp);
  }
  pn_shape_set(out, dt, nd, d);
  return PN_OK;
}

/* All known dtypes of in[0..n) equal; *dt gets the first known one (UNDEFINED if none). */
static inline int pn_xsame_dtype(const struct pn_op_args *a, const struct pn_shape *in, int n,
                                 enum pn_dtype *dt) {
  *dt = PN_DT_UNDEFINED;
  for (int i = 0; i < n; i++) {
    if (!in[i].dtype) continue;
    if (*dt && in[i].dtype != *dt)
      return pn_op_err(a, PN_ERR_INVALID, "input %d has dtype %s, input 0 has %s", i,
                       pn_dtype_name(in[i].dtype), pn_dtype_name(*dt));
    *dt = in[i].dtype;
  }
  return PN_OK;
}

/* PN_ERR_INVALID unless inputs 0..count) are all present (not omitted with ""). */
static inline int pn_xrequire(const struct pn_op_args *a, int n_in, int count) {
  for (int i = 0; i < count; i++)
    if (!pn_has_in(a, n_in, i)) return pn_op_err(a, PN_ERR_INVALID, "input %d is required", i);
  return PN_OK;
}

/* Scalar (or one-element) int tensor value; PN_ERR_INVALID naming what otherwise. */
static inline int pn_xscalar_int(const struct pn_op_args *a, const char *what,
                                 const struct pn_tensor *t, int64_t *v) {
  *v = 0;
  if ((t->dtype != PN_DT_INT64 && t->dtype != PN_DT_INT32) || pn_tensor_numel(t) != 1 || t->ndim > 1)
    return pn_op_err(a, PN_ERR_INVALID, "%s must be an int32/int64 scalar", what);
  *v = pn_tensor_get_i64(t, 0);
  return PN_OK;
}

#endif
