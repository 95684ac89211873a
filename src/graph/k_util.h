/* k_util.h - private helpers of the plaintext kernels: strided iteration, input access, int lists.
**
** A pn_iter walks a contiguous output of rank nd while up to PN_ITER_OPS operands are read through
** per-dim strides (0 = broadcast, negative = reversed). pn_iter_init drops size-1 dims and merges
** dims that every operand walks linearly, so [N,C,H,W] + [C,1,1] becomes a 3-dim walk whose inner
** loop runs over H*W contiguous elements. Work is cut into blocks (one outer index, a chunk of the
** inner dim) that OpenMP loops share out. */
#ifndef PN_K_UTIL_H
#define PN_K_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "graph/kernels.h"
#include "util/status.h"

#define PN_ITER_OPS 3
#define PN_PAR_MIN 65536     /* elements below which kernels stay single-threaded */
#define PN_ITER_CHUNK 8192   /* inner elements per parallel block */

struct pn_iter {
  int nd;                               /* merged rank, >= 1 */
  int nops;
  int64_t dims[PN_MAX_DIMS];
  int64_t st[PN_ITER_OPS][PN_MAX_DIMS]; /* element strides of each operand */
  int64_t inner, outer;                 /* dims[nd-1], product of dims[0..nd-1) */
  int64_t nchunk, nblock;               /* chunks per inner run, outer * nchunk */
  int64_t numel;
};

/* Set up a walk over dims[0..nd) with operand k read through strides st[k][0..nd). */
static inline void pn_iter_init(struct pn_iter *it, int nd, const int64_t *dims, int nops,
                                const int64_t st[][PN_MAX_DIMS]) {
  int m = 0;
  it->nops = nops;
  it->numel = 1;
  for (int i = 0; i < nd; i++) it->numel *= dims[i];
  for (int i = 0; i < nd; i++) {
    if (dims[i] == 1) continue;
    bool merge = m > 0;
    for (int k = 0; k < nops && merge; k++)
      if (it->st[k][m - 1] != st[k][i] * dims[i]) merge = false;
    if (merge) {
      it->dims[m - 1] *= dims[i];
      for (int k = 0; k < nops; k++) it->st[k][m - 1] = st[k][i];
    } else {
      it->dims[m] = dims[i];
      for (int k = 0; k < nops; k++) it->st[k][m] = st[k][i];
      m++;
    }
  }
  if (m == 0) {
    it->dims[0] = 1;
    for (int k = 0; k < nops; k++) it->st[k][0] = 0;
    m = 1;
  }
  it->nd = m;
  it->inner = it->dims[m - 1];
  it->outer = 1;
  for (int i = 0; i < m - 1; i++) it->outer *= it->dims[i];
  it->nchunk = it->inner ? (it->inner + PN_ITER_CHUNK - 1) / PN_ITER_CHUNK : 0;
  it->nblock = it->numel ? it->outer * it->nchunk : 0;
}

/* Block b: operand offsets off[k] of its first element, output offset *yo, and run length *len. */
static inline void pn_iter_block(const struct pn_iter *it, int64_t b, int64_t off[PN_ITER_OPS],
                                 int64_t *yo, int64_t *len) {
  int64_t o = b / it->nchunk, c0 = (b % it->nchunk) * PN_ITER_CHUNK;
  int64_t rest = o;
  for (int k = 0; k < it->nops; k++) off[k] = c0 * it->st[k][it->nd - 1];
  for (int i = it->nd - 2; i >= 0; i--) {
    int64_t idx = rest % it->dims[i];
    rest /= it->dims[i];
    for (int k = 0; k < it->nops; k++) off[k] += idx * it->st[k][i];
  }
  *yo = o * it->inner + c0;
  *len = it->inner - c0 < PN_ITER_CHUNK ? it->inner - c0 : PN_ITER_CHUNK;
}

/* Row-major strides of dims[0..nd). */
static inline void pn_strides(int nd, const int64_t *dims, int64_t *st) {
  int64_t s = 1;
  for (int i = nd - 1; i >= 0; i--) {
    st[i] = s;
    s *= dims[i];
  }
}

/* Strides that read an operand of shape d[0..n) broadcast (numpy rules) to an output of rank nd. */
static inline void pn_bcast_strides(int nd, int n, const int64_t *d, int64_t *st) {
  int64_t s = 1;
  for (int i = nd - 1; i >= 0; i--) {
    int j = i - (nd - n);
    int64_t di = j >= 0 ? d[j] : 1;
    st[i] = di == 1 ? 0 : s;
    s *= di;
  }
}

/* Copy a strided source (element size es) into a contiguous destination of shape dims[0..nd). */
void pn_copy_strided(size_t es, int nd, const int64_t *dims, const void *src, const int64_t *sst,
                     void *dst);

/* Is optional input i present? (node input named and not ""). */
static inline bool pn_has_in(const struct pn_op_args *a, int n_in, int i) {
  return i < n_in && i < a->node->n_in && a->node->in[i] && a->node->in[i][0];
}

/* pn_shape views of run-time tensors (value set), for run functions that reuse infer logic. */
static inline void pn_shapes_of(const struct pn_tensor *const *in, int n, struct pn_shape *sh) {
  for (int i = 0; i < n; i++) {
    if (!in[i]) {
      sh[i].dtype = PN_DT_UNDEFINED;
      sh[i].ndim = -1;
      sh[i].value = NULL;
      continue;
    }
    pn_shape_set(&sh[i], in[i]->dtype, in[i]->ndim, in[i]->dims);
    sh[i].value = in[i];
  }
}

/* Read an int32/int64 tensor of at most max elements into v; *n gets the count.
** PN_ERR_INVALID naming what when the dtype or size is wrong. */
int pn_read_ints(const struct pn_op_args *a, const char *what, const struct pn_tensor *t,
                 int64_t max, int64_t *v, int64_t *n);

#define PN_DT_BIT(dt) (1u << (dt))
#define PN_DT_FLOATS (PN_DT_BIT(PN_DT_FLOAT) | PN_DT_BIT(PN_DT_DOUBLE))
#define PN_DT_INTS (PN_DT_BIT(PN_DT_INT32) | PN_DT_BIT(PN_DT_INT64) | PN_DT_BIT(PN_DT_INT8) | \
                    PN_DT_BIT(PN_DT_UINT8))
#define PN_DT_DENSE (PN_DT_FLOATS | PN_DT_INTS | PN_DT_BIT(PN_DT_BOOL))

/* PN_ERR_UNSUPPORTED naming the dtype unless dt (when known) is in mask. */
static inline int pn_check_dtype(const struct pn_op_args *a, const char *what, enum pn_dtype dt,
                                 unsigned mask) {
  if (dt == PN_DT_UNDEFINED) return PN_OK;
  if ((unsigned)dt >= 32 || !(mask & PN_DT_BIT(dt)))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "%s: unsupported dtype %s", what, pn_dtype_name(dt));
  return PN_OK;
}

/* Keys' cubic convolution weights of the taps at -1, 0, 1, 2 for a point r in [0, 1] past tap 0
** (Resize's cubic mode, GridSample's bicubic; A = -0.75 in both by default). */
static inline void pn_cubic_coeffs(double r, double A, double *c) {
  double t = r + 1, u = 1 - r, v = 2 - r;
  c[0] = ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
  c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
  c[2] = ((A + 2) * u - (A + 3)) * u * u + 1;
  c[3] = ((A * v - 5 * A) * v + 8 * A) * v - 4 * A;
}

/* ---- reductions (k_reduce.c) ---- */

struct pn_reduce_plan {
  bool noop;                   /* empty axes with noop_with_empty_axes: Y = X */
  bool red[PN_MAX_DIMS];       /* reduced input dims */
  int out_nd;
  int64_t out_dims[PN_MAX_DIMS];
};

int pn_reduce_plan(const struct pn_op_args *a, const struct pn_shape *in, int n_in, unsigned dtypes,
                   int64_t axes_input_from, struct pn_reduce_plan *p, bool *known);
/* The run-time prologue of a Reduce* kernel: the plan from the actual inputs, the output checked
** against it, and the noop case (Y = X) written, with *done set. */
int pn_reduce_run_plan(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                       struct pn_tensor *Y, unsigned dtypes, int64_t axes_input_from,
                       struct pn_reduce_plan *p, bool *done);

#endif
