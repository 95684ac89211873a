/* k_shape.c - dtype-generic shape kernels: Reshape, Flatten, Transpose, Concat, Split, Slice, Gather,
** Squeeze, Unsqueeze, Expand, Shape, Identity, Dropout, Constant.
**
** Every op computes its output shapes and copy parameters in one "plan" function over pn_shape
** views, used by infer (dims may be -1, values may be unknown) and by run (through pn_shapes_of,
** so everything is known). Data moves by element size only: memcpy for contiguous runs, a strided
** walk (pn_copy_strided) for Transpose, Slice and Expand, tiled when a transposition would read
** one element per cache line. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "graph/k_util.h"
#include "util/prg.h"

/* ---- shared helpers ---- */

#define TILE 32

/* Copy of a tile of a transposition: dst[jj*dj + ii] = src[jj + ii*si] for jj < nj, ii < ni. */
#define TILE_COPY(T)                                                                           \
  do {                                                                                         \
    const T *S_ = (const T *)s0;                                                               \
    T *D_ = (T *)d0;                                                                           \
    for (int64_t jj = 0; jj < nj; jj++)                                                        \
      for (int64_t ii = 0; ii < ni; ii++) D_[jj * dj + ii] = S_[jj + ii * si];                 \
  } while (0)

/* The strided walk of a transposition reads one element per cache line when the inner output dim
** has a large source stride. Here merged dim j has source stride 1: copy dims (j, inner) in
** TILE x TILE blocks so both sides stay in cache. */
static void copy_tiled(size_t es, const struct pn_iter *it, int j, const char *S, char *D) {
  int nd = it->nd;
  int64_t ost[PN_MAX_DIMS], J = it->dims[j], I = it->inner, si = it->st[0][nd - 1];
  pn_strides(nd, it->dims, ost);
  int64_t nouter = it->numel / (J * I), dj = ost[j];
  int64_t jt = (J + TILE - 1) / TILE, nblk = nouter * jt;
#pragma omp parallel for schedule(static) if (it->numel > 65536)
  for (int64_t b = 0; b < nblk; b++) {
    int64_t o = b / jt, jb = (b % jt) * TILE, so = 0, dof = 0, rest = o;
    for (int k = nd - 2; k >= 0; k--) {
      if (k == j) continue;
      int64_t idx = rest % it->dims[k];
      rest /= it->dims[k];
      so += idx * it->st[0][k];
      dof += idx * ost[k];
    }
    int64_t nj = J - jb < TILE ? J - jb : TILE;
    for (int64_t ib = 0; ib < I; ib += TILE) {
      int64_t ni = I - ib < TILE ? I - ib : TILE;
      const char *s0 = S + (so + jb + ib * si) * (int64_t)es;
      char *d0 = D + (dof + jb * dj + ib) * (int64_t)es;
      switch (es) {
      case 1: TILE_COPY(uint8_t); break;
      case 2: TILE_COPY(uint16_t); break;
      case 4: TILE_COPY(uint32_t); break;
      case 8: TILE_COPY(uint64_t); break;
      default:
        for (int64_t jj = 0; jj < nj; jj++)
          for (int64_t ii = 0; ii < ni; ii++)
            memcpy(d0 + (jj * dj + ii) * (int64_t)es, s0 + (jj + ii * si) * (int64_t)es, es);
      }
    }
  }
}

void pn_copy_strided(size_t es, int nd, const int64_t *dims, const void *src, const int64_t *sst,
                     void *dst) {
  struct pn_iter it;
  int64_t st[1][PN_MAX_DIMS];
  for (int i = 0; i < nd; i++) st[0][i] = sst[i];
  pn_iter_init(&it, nd, dims, 1, st);
  if (it.numel == 0) return;
  if (it.nd >= 2 && it.inner >= 8 && it.st[0][it.nd - 1] > 1) {
    for (int j = 0; j < it.nd - 1; j++)
      if (it.st[0][j] == 1 && it.dims[j] >= 8) {
        copy_tiled(es, &it, j, src, dst);
        return;
      }
  }
  int64_t n = it.numel, s = it.st[0][it.nd - 1];
  const char *S = src;
  char *D = dst;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t b = 0; b < it.nblock; b++) {
    int64_t off[PN_ITER_OPS], yo, len;
    pn_iter_block(&it, b, off, &yo, &len);
    const char *p = S + off[0] * (int64_t)es;
    char *q = D + yo * (int64_t)es;
    if (s == 1) {
      memcpy(q, p, (size_t)len * es);
      continue;
    }
    switch (es) {
    case 1: for (int64_t i = 0; i < len; i++) q[i] = p[i * s]; break;
    case 4:
      for (int64_t i = 0; i < len; i++) memcpy(q + 4 * i, p + 4 * i * s, 4);
      break;
    case 8:
      for (int64_t i = 0; i < len; i++) memcpy(q + 8 * i, p + 8 * i * s, 8);
      break;
    default:
      for (int64_t i = 0; i < len; i++) memcpy(q + (int64_t)es * i, p + (int64_t)es * i * s, es);
      break;
    }
  }
}

int pn_read_ints(const struct pn_op_args *a, const char *what, const struct pn_tensor *t,
                 int64_t max, int64_t *v, int64_t *n) {
  if (t->dtype != PN_DT_INT64 && t->dtype != PN_DT_INT32)
    return pn_op_err(a, PN_ERR_INVALID, "%s must be int64 or int32, not %s", what,
                     pn_dtype_name(t->dtype));
  if (t->ndim > 1) return pn_op_err(a, PN_ERR_INVALID, "%s must be 1-D, has rank %d", what, t->ndim);
  int64_t k = pn_tensor_numel(t);
  if (k > max) return pn_op_err(a, PN_ERR_INVALID, "%s has %lld values, at most %lld allowed", what,
                                (long long)k, (long long)max);
  for (int64_t i = 0; i < k; i++) v[i] = pn_tensor_get_i64(t, i);
  *n = k;
  return PN_OK;
}

/* An int list from input i (opset >= from) or attribute attr (opset < from).
** *n = -1 when absent; *known = false when the input exists but its value is not known. */
static int int_list(const struct pn_op_args *a, const struct pn_shape *in, int n_in, int i,
                    const char *attr, int64_t from, int64_t max, int64_t *v, int64_t *n,
                    bool *known) {
  *known = true;
  *n = -1;
  if (a->opset >= from) {
    if (!pn_has_in(a, n_in, i)) return PN_OK;
    if (!in[i].value) {
      *known = false;
      if (in[i].dtype && in[i].dtype != PN_DT_INT64 && in[i].dtype != PN_DT_INT32)
        return pn_op_err(a, PN_ERR_INVALID, "input '%s' must be int64, not %s", attr,
                         pn_dtype_name(in[i].dtype));
      return PN_OK;
    }
    char what[64];
    snprintf(what, sizeof what, "input '%s'", attr);
    return pn_read_ints(a, what, in[i].value, max, v, n);
  }
  const int64_t *p;
  int64_t k;
  int rc = pn_node_get_ints(a->ctx, a->node, attr, &k, &p);
  if (rc) return rc;
  if (k > max) return pn_op_err(a, PN_ERR_INVALID, "attribute '%s' has %lld values, at most %lld",
                                attr, (long long)k, (long long)max);
  for (int64_t j = 0; j < k; j++) v[j] = p[j];
  *n = k;
  return PN_OK;
}

static int64_t prod(const int64_t *d, int from, int to) {
  return pn_shape_numel(to - from, d + from);
}

static int check_dense(const struct pn_op_args *a, enum pn_dtype dt) {
  return pn_check_dtype(a, "input", dt, PN_DT_DENSE);
}

/* Normalise axes v[0..n) for a rank; duplicates are an error naming what. */
static int norm_axes(const struct pn_op_args *a, const char *what, int64_t *v, int64_t n, int rank) {
  bool seen[PN_MAX_DIMS] = {false};
  for (int64_t i = 0; i < n; i++) {
    int ax;
    int rc = pn_op_axis(a, what, v[i], rank, &ax);
    if (rc) return rc;
    if (seen[ax]) return pn_op_err(a, PN_ERR_INVALID, "%s repeats axis %d", what, ax);
    seen[ax] = true;
    v[i] = ax;
  }
  return PN_OK;
}

static int copy_input(const struct pn_op_args *a, const struct pn_tensor *X, struct pn_tensor *Y) {
  if (X->dtype != Y->dtype || pn_tensor_numel(X) != pn_tensor_numel(Y))
    return pn_op_err(a, PN_ERR_INVALID, "output does not match the input's size/dtype");
  if (X->data != Y->data) memcpy(Y->data, X->data, pn_tensor_nbytes(X));
  return PN_OK;
}

/* ---- Identity ---- */

int pn_infer_identity(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                      struct pn_shape *out, int n_out) {
  int rc = check_dense(a, in[0].dtype);
  if (rc) return rc;
  pn_shape_set(out, in[0].dtype, in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_run_identity(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                    struct pn_tensor *const *out, int n_out) {
  return copy_input(a, in[0], out[0]);
}

/* ---- Flatten ---- */

int pn_infer_flatten(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                     struct pn_shape *out, int n_out) {
  int64_t axis;
  int rc;
  if ((rc = check_dense(a, in[0].dtype)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "axis", 1, &axis)))
    return rc;
  int r = in[0].ndim;
  int64_t d[2] = {-1, -1};
  if (r >= 0) {
    if (axis < -r || axis > r)
      return pn_op_err(a, PN_ERR_INVALID, "attribute 'axis' %lld out of range for rank %d",
                       (long long)axis, r);
    if (axis < 0) axis += r;
    d[0] = prod(in[0].dims, 0, (int)axis);
    d[1] = prod(in[0].dims, (int)axis, r);
  } else if (axis == 0) {
    d[0] = 1;
  }
  pn_shape_set(out, in[0].dtype, 2, d);
  return PN_OK;
}

int pn_run_flatten(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                   struct pn_tensor *const *out, int n_out) {
  return copy_input(a, in[0], out[0]);
}

/* ---- Reshape ---- */

int pn_infer_reshape(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                     struct pn_shape *out, int n_out) {
  int64_t s[PN_MAX_DIMS], n, allowzero;
  bool known;
  int rc;
  if ((rc = check_dense(a, in[0].dtype)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "allowzero", 0, &allowzero)))
    return rc;
  if (a->opset >= 5 && !pn_has_in(a, n_in, 1))
    return pn_op_err(a, PN_ERR_INVALID, "input 'shape' is required");
  if ((rc = int_list(a, in, n_in, 1, "shape", 5, PN_MAX_DIMS, s, &n, &known))) return rc;
  if (!known) {
    if (in[1].ndim == 1 && in[1].dims[0] > PN_MAX_DIMS)
      return pn_op_err(a, PN_ERR_UNSUPPORTED, "rank %lld above %d", (long long)in[1].dims[0],
                       PN_MAX_DIMS);
    pn_shape_set(out, in[0].dtype, in[1].ndim == 1 ? (int)in[1].dims[0] : -1, NULL);
    return PN_OK;
  }
  if (n < 0) return pn_op_err(a, PN_ERR_INVALID, "attribute 'shape' is required");
  int r = in[0].ndim, neg = -1;
  bool has_zero = false, unknown = false;
  int64_t d[PN_MAX_DIMS], known_prod = 1;
  for (int i = 0; i < n; i++) {
    if (s[i] < -1) return pn_op_err(a, PN_ERR_INVALID, "shape[%d] = %lld", i, (long long)s[i]);
    if (s[i] == -1) {
      if (neg >= 0) return pn_op_err(a, PN_ERR_INVALID, "shape has more than one -1");
      neg = i;
      d[i] = -1;
      continue;
    }
    d[i] = s[i];
    if (s[i] == 0) {
      has_zero = true;
      if (!allowzero) {
        if (r >= 0 && i >= r)
          return pn_op_err(a, PN_ERR_INVALID, "shape[%d] = 0 copies a dim the rank-%d input lacks",
                           i, r);
        d[i] = r >= 0 ? in[0].dims[i] : -1;
      }
    }
    if (d[i] < 0) unknown = true;
    else if (__builtin_mul_overflow(known_prod, d[i], &known_prod))
      return pn_op_err(a, PN_ERR_INVALID, "shape input multiplies past 2^63 elements");
  }
  if (allowzero && has_zero && neg >= 0)
    return pn_op_err(a, PN_ERR_INVALID, "shape has both 0 and -1 with allowzero");
  int64_t total = r >= 0 ? pn_shape_numel(r, in[0].dims) : -1;
  if (neg >= 0 && !unknown && total >= 0) {
    if (known_prod == 0 || total % known_prod)
      return pn_op_err(a, PN_ERR_INVALID, "cannot reshape %lld elements with a -1 dim (other dims "
                       "multiply to %lld)", (long long)total, (long long)known_prod);
    d[neg] = total / known_prod;
  } else if (neg < 0 && !unknown && total >= 0 && total != known_prod) {
    char sa[128], sb[128];
    return pn_op_err(a, PN_ERR_INVALID, "cannot reshape %s to %s",
                     pn_shape_str(sa, sizeof sa, r, in[0].dims),
                     pn_shape_str(sb, sizeof sb, (int)n, d));
  }
  pn_shape_set(out, in[0].dtype, (int)n, d);
  return PN_OK;
}

int pn_run_reshape(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                   struct pn_tensor *const *out, int n_out) {
  return copy_input(a, in[0], out[0]);
}

/* ---- Transpose ---- */

static int transpose_perm(const struct pn_op_args *a, int r, int *perm) {
  const int64_t *p;
  int64_t n;
  int rc = pn_node_get_ints(a->ctx, a->node, "perm", &n, &p);
  if (rc) return rc;
  if (n < 0) {
    for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    return PN_OK;
  }
  if (n != r)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'perm' has %lld entries, input has rank %d",
                     (long long)n, r);
  bool seen[PN_MAX_DIMS] = {false};
  for (int i = 0; i < r; i++) {
    if (p[i] < 0 || p[i] >= r || seen[p[i]])
      return pn_op_err(a, PN_ERR_INVALID, "attribute 'perm' is not a permutation of 0..%d", r - 1);
    seen[p[i]] = true;
    perm[i] = (int)p[i];
  }
  return PN_OK;
}

int pn_infer_transpose(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                       struct pn_shape *out, int n_out) {
  int rc = check_dense(a, in[0].dtype), perm[PN_MAX_DIMS];
  if (rc) return rc;
  int r = in[0].ndim;
  if (r < 0) {
    const int64_t *p;
    int64_t n;
    if ((rc = pn_node_get_ints(a->ctx, a->node, "perm", &n, &p))) return rc;
    pn_shape_set(out, in[0].dtype, n >= 0 && n <= PN_MAX_DIMS ? (int)n : -1, NULL);
    return PN_OK;
  }
  if ((rc = transpose_perm(a, r, perm))) return rc;
  int64_t d[PN_MAX_DIMS];
  for (int i = 0; i < r; i++) d[i] = in[0].dims[perm[i]];
  pn_shape_set(out, in[0].dtype, r, d);
  return PN_OK;
}

int pn_run_transpose(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                     struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  int perm[PN_MAX_DIMS], rc = transpose_perm(a, X->ndim, perm);
  if (rc) return rc;
  int64_t st[PN_MAX_DIMS], sst[PN_MAX_DIMS], d[PN_MAX_DIMS];
  pn_strides(X->ndim, X->dims, st);
  for (int i = 0; i < X->ndim; i++) {
    sst[i] = st[perm[i]];
    d[i] = X->dims[perm[i]];
    if (d[i] != out[0]->dims[i]) return pn_op_err(a, PN_ERR_INVALID, "output shape mismatch");
  }
  pn_copy_strided(pn_dtype_size(X->dtype), X->ndim, d, X->data, sst, out[0]->data);
  return PN_OK;
}

/* ---- Concat ---- */

static int concat_axis(const struct pn_op_args *a, int r, int *axis) {
  int64_t v;
  int rc = pn_node_get_int(a->ctx, a->node, "axis", a->opset < 4 ? 1 : INT64_MIN, &v);
  if (rc) return rc;
  if (v == INT64_MIN) return pn_op_err(a, PN_ERR_INVALID, "attribute 'axis' is required");
  return pn_op_axis(a, "attribute 'axis'", v, r, axis);
}

int pn_infer_concat(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                    struct pn_shape *out, int n_out) {
  int r = -1, rc;
  enum pn_dtype dt = PN_DT_UNDEFINED;
  for (int i = 0; i < n_in; i++) {
    if ((rc = check_dense(a, in[i].dtype))) return rc;
    if (in[i].dtype) {
      if (dt && in[i].dtype != dt)
        return pn_op_err(a, PN_ERR_INVALID, "input %d has dtype %s, input 0 has %s", i,
                         pn_dtype_name(in[i].dtype), pn_dtype_name(dt));
      dt = in[i].dtype;
    }
    if (in[i].ndim >= 0) {
      if (r >= 0 && in[i].ndim != r)
        return pn_op_err(a, PN_ERR_INVALID, "input %d has rank %d, others %d", i, in[i].ndim, r);
      r = in[i].ndim;
    }
  }
  if (r < 0) {
    pn_shape_set(out, dt, -1, NULL);
    return PN_OK;
  }
  if (r == 0) return pn_op_err(a, PN_ERR_INVALID, "cannot concatenate scalars");
  int axis;
  if ((rc = concat_axis(a, r, &axis))) return rc;
  int64_t d[PN_MAX_DIMS];
  for (int j = 0; j < r; j++) d[j] = j == axis ? 0 : -1;
  for (int i = 0; i < n_in; i++) {
    if (in[i].ndim < 0) {
      d[axis] = -1;
      continue;
    }
    for (int j = 0; j < r; j++) {
      int64_t x = in[i].dims[j];
      if (j == axis) {
        d[j] = (d[j] < 0 || x < 0) ? -1 : d[j] + x;
      } else if (x >= 0) {
        if (d[j] >= 0 && d[j] != x)
          return pn_op_err(a, PN_ERR_INVALID, "input %d has dim %d = %lld, expected %lld", i, j,
                           (long long)x, (long long)d[j]);
        d[j] = x;
      }
    }
  }
  pn_shape_set(out, dt, r, d);
  return PN_OK;
}

int pn_run_concat(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor *const *out, int n_out) {
  struct pn_tensor *Y = out[0];
  int axis, rc = concat_axis(a, Y->ndim, &axis);
  if (rc) return rc;
  size_t es = pn_dtype_size(Y->dtype);
  int64_t outer = prod(Y->dims, 0, axis), inner = prod(Y->dims, axis + 1, Y->ndim);
  int64_t row = Y->dims[axis] * inner * (int64_t)es, pos = 0;
  for (int i = 0; i < n_in; i++) {
    const struct pn_tensor *X = in[i];
    if (X->dtype != Y->dtype || X->ndim != Y->ndim)
      return pn_op_err(a, PN_ERR_INVALID, "input %d does not match the output", i);
    int64_t chunk = X->dims[axis] * inner * (int64_t)es;
    if ((int64_t)pn_tensor_nbytes(X) != outer * chunk || pos + chunk > row) return pn_op_err(a, PN_ERR_INVALID, "inputs exceed the output");
    for (int64_t o = 0; o < outer; o++)
      memcpy((char *)Y->data + o * row + pos, (const char *)X->data + o * chunk, (size_t)chunk);
    pos += chunk;
  }
  return PN_OK;
}

/* ---- Split ---- */

/* Sizes of the n_out parts along *axis; sizes[i] = -1 when unknown. */
static int split_plan(const struct pn_op_args *a, const struct pn_shape *in, int n_in, int n_out,
                      int *axis, int64_t *sizes) {
  int64_t v, n, nout_attr;
  bool known;
  int rc;
  int r = in[0].ndim;
  if ((rc = pn_node_get_int(a->ctx, a->node, "axis", 0, &v)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "num_outputs", -1, &nout_attr)) ||
      (rc = pn_op_axis(a, "attribute 'axis'", v, r, axis)))
    return rc;
  if ((rc = int_list(a, in, n_in, 1, "split", 13, n_out, sizes, &n, &known))) return rc;
  int64_t dim = in[0].dims[*axis];
  if (!known) {
    for (int i = 0; i < n_out; i++) sizes[i] = -1;
    return PN_OK;
  }
  if (n >= 0) {
    if (n != n_out)
      return pn_op_err(a, PN_ERR_INVALID, "'split' has %lld sizes for %d outputs", (long long)n,
                       n_out);
    int64_t sum = 0;
    for (int i = 0; i < n_out; i++) {
      if (sizes[i] < 0)
        return pn_op_err(a, PN_ERR_INVALID, "'split'[%d] = %lld is negative", i, (long long)sizes[i]);
      sum += sizes[i];
    }
    if (dim >= 0 && sum != dim)
      return pn_op_err(a, PN_ERR_INVALID, "'split' sums to %lld, axis %d has %lld", (long long)sum,
                       *axis, (long long)dim);
    return PN_OK;
  }
  if (a->opset >= 18 && nout_attr >= 0 && nout_attr != n_out)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'num_outputs' = %lld but the node has %d outputs",
                     (long long)nout_attr, n_out);
  for (int i = 0; i < n_out; i++) sizes[i] = -1;
  if (dim < 0) return PN_OK;
  if (a->opset >= 18) {   /* ceil-sized chunks, a smaller last one */
    int64_t c = (dim + n_out - 1) / n_out;
    for (int i = 0; i < n_out; i++) {
      int64_t left = dim - c * i;
      sizes[i] = left < 0 ? 0 : (left < c ? left : c);
    }
    return PN_OK;
  }
  if (dim % n_out)
    return pn_op_err(a, PN_ERR_INVALID, "axis %d of size %lld does not split into %d equal parts",
                     *axis, (long long)dim, n_out);
  for (int i = 0; i < n_out; i++) sizes[i] = dim / n_out;
  return PN_OK;
}

int pn_infer_split(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                   struct pn_shape *out, int n_out) {
  int rc = check_dense(a, in[0].dtype), axis;
  if (rc) return rc;
  if (in[0].ndim < 0) {
    for (int i = 0; i < n_out; i++) pn_shape_set(&out[i], in[0].dtype, -1, NULL);
    return PN_OK;
  }
  int64_t *sizes = malloc(sizeof *sizes * (size_t)n_out);
  if (!sizes) return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  if (!(rc = split_plan(a, in, n_in, n_out, &axis, sizes))) {
    for (int i = 0; i < n_out; i++) {
      pn_shape_set(&out[i], in[0].dtype, in[0].ndim, in[0].dims);
      out[i].dims[axis] = sizes[i];
    }
  }
  free(sizes);
  return rc;
}

int pn_run_split(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                 struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_shape sh[2];
  int axis, rc;
  pn_shapes_of(in, n_in < 2 ? n_in : 2, sh);
  int64_t *sizes = malloc(sizeof *sizes * (size_t)n_out);
  if (!sizes) return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  if ((rc = split_plan(a, sh, n_in < 2 ? n_in : 2, n_out, &axis, sizes))) goto done;
  size_t es = pn_dtype_size(X->dtype);
  int64_t outer = prod(X->dims, 0, axis), inner = prod(X->dims, axis + 1, X->ndim) * (int64_t)es;
  int64_t row = X->dims[axis] * inner, pos = 0;
  for (int i = 0; i < n_out; i++) {
    if (sizes[i] < 0) {
      rc = pn_op_err(a, PN_ERR_INVALID, "input 'split' has no value");
      goto done;
    }
    int64_t chunk = sizes[i] * inner;
    struct pn_tensor *Y = out[i];
    if (Y) {
      if (Y->dtype != X->dtype || pn_tensor_nbytes(Y) != (size_t)(outer * chunk)) {
        rc = pn_op_err(a, PN_ERR_INVALID, "output %d does not match its split", i);
        goto done;
      }
      for (int64_t o = 0; o < outer; o++)
        memcpy((char *)Y->data + o * chunk, (const char *)X->data + o * row + pos, (size_t)chunk);
    }
    pos += chunk;
  }
done:
  free(sizes);
  return rc;
}

/* ---- Slice ---- */

struct slice_plan {
  int r;
  int64_t dims[PN_MAX_DIMS];   /* output dims, -1 unknown */
  int64_t start[PN_MAX_DIMS], step[PN_MAX_DIMS];
};

static int slice_plan(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                      struct slice_plan *p) {
  int64_t st[PN_MAX_DIMS], en[PN_MAX_DIMS], ax[PN_MAX_DIMS], sp[PN_MAX_DIMS];
  int64_t ns, ne, na, nsp;
  bool k1, k2, k3, k4 = true;
  int rc, r = p->r = in[0].ndim;
  if (a->opset >= 10 && (!pn_has_in(a, n_in, 1) || !pn_has_in(a, n_in, 2)))
    return pn_op_err(a, PN_ERR_INVALID, "inputs 'starts' and 'ends' are required");
  if ((rc = int_list(a, in, n_in, 1, "starts", 10, PN_MAX_DIMS, st, &ns, &k1)) ||
      (rc = int_list(a, in, n_in, 2, "ends", 10, PN_MAX_DIMS, en, &ne, &k2)) ||
      (rc = int_list(a, in, n_in, 3, "axes", 10, PN_MAX_DIMS, ax, &na, &k3)))
    return rc;
  nsp = -1;
  if (a->opset >= 10 && (rc = int_list(a, in, n_in, 4, "steps", 10, PN_MAX_DIMS, sp, &nsp, &k4)))
    return rc;
  for (int i = 0; i < r; i++) {
    p->dims[i] = in[0].dims[i];
    p->start[i] = 0;
    p->step[i] = 1;
  }
  if (!k1 || !k2 || !k3 || !k4) {   /* unknown parameters: the rank survives, the dims may not */
    for (int i = 0; i < r; i++) p->dims[i] = -1;
    return PN_OK;
  }
  if (ns < 0 || ne < 0) return pn_op_err(a, PN_ERR_INVALID, "'starts' and 'ends' are required");
  if (ns != ne) return pn_op_err(a, PN_ERR_INVALID, "'starts' has %lld values, 'ends' %lld",
                                 (long long)ns, (long long)ne);
  if (na >= 0 && na != ns)
    return pn_op_err(a, PN_ERR_INVALID, "'axes' has %lld values, 'starts' %lld", (long long)na,
                     (long long)ns);
  if (nsp >= 0 && nsp != ns)
    return pn_op_err(a, PN_ERR_INVALID, "'steps' has %lld values, 'starts' %lld", (long long)nsp,
                     (long long)ns);
  if (na < 0)
    for (int i = 0; i < ns; i++) ax[i] = i;
  if ((rc = norm_axes(a, "'axes'", ax, ns, r))) return rc;
  for (int i = 0; i < ns; i++) {
    int j = (int)ax[i];
    int64_t step = nsp >= 0 ? sp[i] : 1, d = in[0].dims[j], s = st[i], e = en[i];
    if (step == 0) return pn_op_err(a, PN_ERR_INVALID, "'steps'[%d] is 0", i);
    p->step[j] = step;
    if (d < 0) {
      p->dims[j] = -1;
      continue;
    }
    if (s < 0) s += d;   /* no overflow: s >= INT64_MIN and d >= 0 */
    if (e < 0) e += d;
    if (step > 0) {
      s = s < 0 ? 0 : (s > d ? d : s);
      e = e < 0 ? 0 : (e > d ? d : e);
      p->dims[j] = e > s ? (e - s - 1) / step + 1 : 0;
    } else {
      int64_t k = step == INT64_MIN ? INT64_MAX : -step;
      s = s < 0 ? 0 : (s > d - 1 ? d - 1 : s);
      e = e < -1 ? -1 : (e > d - 1 ? d - 1 : e);
      p->dims[j] = (s > e && d > 0) ? (s - e - 1) / k + 1 : 0;
    }
    p->start[j] = p->dims[j] > 0 ? s : 0;
    if (p->dims[j] <= 1) p->step[j] = 1;   /* keeps stride products small */
  }
  return PN_OK;
}

int pn_infer_slice(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                   struct pn_shape *out, int n_out) {
  int rc = check_dense(a, in[0].dtype);
  if (rc) return rc;
  if (in[0].ndim < 0) {
    pn_shape_set(out, in[0].dtype, -1, NULL);
    return PN_OK;
  }
  struct slice_plan p;
  if ((rc = slice_plan(a, in, n_in, &p))) return rc;
  pn_shape_set(out, in[0].dtype, p.r, p.dims);
  return PN_OK;
}

int pn_run_slice(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                 struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_shape sh[5];
  struct slice_plan p;
  int rc;
  pn_shapes_of(in, n_in, sh);
  if ((rc = slice_plan(a, sh, n_in, &p))) return rc;
  int64_t st[PN_MAX_DIMS], sst[PN_MAX_DIMS], off = 0;
  pn_strides(X->ndim, X->dims, st);
  for (int i = 0; i < p.r; i++) {
    if (p.dims[i] != out[0]->dims[i]) return pn_op_err(a, PN_ERR_INVALID, "output shape mismatch");
    off += p.start[i] * st[i];
    sst[i] = st[i] * p.step[i];
  }
  if (pn_tensor_numel(out[0]) == 0) return PN_OK;
  size_t es = pn_dtype_size(X->dtype);
  pn_copy_strided(es, p.r, p.dims, (const char *)X->data + off * (int64_t)es, sst, out[0]->data);
  return PN_OK;
}

/* ---- Gather ---- */

static int gather_axis(const struct pn_op_args *a, int r, int *axis) {
  int64_t v;
  int rc = pn_node_get_int(a->ctx, a->node, "axis", 0, &v);
  if (rc) return rc;
  if (r == 0) return pn_op_err(a, PN_ERR_INVALID, "input 'data' must have rank >= 1");
  return pn_op_axis(a, "attribute 'axis'", v, r, axis);
}

int pn_infer_gather(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                    struct pn_shape *out, int n_out) {
  int rc, axis;
  if ((rc = check_dense(a, in[0].dtype))) return rc;
  if (in[1].dtype && in[1].dtype != PN_DT_INT32 && in[1].dtype != PN_DT_INT64)
    return pn_op_err(a, PN_ERR_INVALID, "input 'indices' must be int32 or int64, not %s",
                     pn_dtype_name(in[1].dtype));
  int r = in[0].ndim, q = in[1].ndim;
  if (r < 0 || q < 0) {
    pn_shape_set(out, in[0].dtype, -1, NULL);
    return PN_OK;
  }
  if ((rc = gather_axis(a, r, &axis))) return rc;
  if (q + r - 1 > PN_MAX_DIMS)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "output rank %d above %d", q + r - 1, PN_MAX_DIMS);
  int64_t d[PN_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < axis; i++) d[k++] = in[0].dims[i];
  for (int i = 0; i < q; i++) d[k++] = in[1].dims[i];
  for (int i = axis + 1; i < r; i++) d[k++] = in[0].dims[i];
  pn_shape_set(out, in[0].dtype, k, d);
  return PN_OK;
}

int pn_run_gather(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0], *I = in[1];
  int axis, rc = gather_axis(a, X->ndim, &axis);
  if (rc) return rc;
  if (I->dtype != PN_DT_INT32 && I->dtype != PN_DT_INT64)
    return pn_op_err(a, PN_ERR_INVALID, "input 'indices' must be int32 or int64");
  int64_t ni = pn_tensor_numel(I), d = X->dims[axis];
  size_t es = pn_dtype_size(X->dtype);
  int64_t outer = prod(X->dims, 0, axis), inner = prod(X->dims, axis + 1, X->ndim) * (int64_t)es;
  if (pn_tensor_nbytes(out[0]) != (size_t)(outer * ni * inner) || out[0]->dtype != X->dtype)
    return pn_op_err(a, PN_ERR_INVALID, "output shape mismatch");
  for (int64_t j = 0; j < ni; j++) {
    int64_t k = pn_tensor_get_i64(I, j);
    if (k < -d || k >= d)
      return pn_op_err(a, PN_ERR_INVALID, "index %lld out of range [-%lld, %lld) on axis %d",
                       (long long)k, (long long)d, (long long)d, axis);
  }
  char *Y = out[0]->data;
  const char *S = X->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < ni; j++) {
      int64_t k = pn_tensor_get_i64(I, j);
      if (k < 0) k += d;
      memcpy(Y + (o * ni + j) * inner, S + (o * d + k) * inner, (size_t)inner);
    }
  return PN_OK;
}

/* ---- Squeeze / Unsqueeze ---- */

int pn_infer_squeeze(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                     struct pn_shape *out, int n_out) {
  int64_t ax[PN_MAX_DIMS], n;
  bool known;
  int rc, r = in[0].ndim;
  if ((rc = check_dense(a, in[0].dtype)) ||
      (rc = int_list(a, in, n_in, 1, "axes", 13, PN_MAX_DIMS, ax, &n, &known)))
    return rc;
  if (r < 0 || !known) {
    int nd = -1;
    if (r >= 0 && in[1].ndim == 1 && in[1].dims[0] >= 0 && in[1].dims[0] <= r)
      nd = r - (int)in[1].dims[0];
    pn_shape_set(out, in[0].dtype, nd, NULL);
    return PN_OK;
  }
  bool drop[PN_MAX_DIMS] = {false};
  if (n < 0) {
    for (int i = 0; i < r; i++) {
      if (in[0].dims[i] < 0) {
        pn_shape_set(out, in[0].dtype, -1, NULL);
        return PN_OK;
      }
      drop[i] = in[0].dims[i] == 1;
    }
  } else {
    if ((rc = norm_axes(a, "'axes'", ax, n, r))) return rc;
    for (int i = 0; i < n; i++) {
      int64_t d = in[0].dims[ax[i]];
      if (d >= 0 && d != 1)
        return pn_op_err(a, PN_ERR_INVALID, "cannot squeeze axis %lld of size %lld",
                         (long long)ax[i], (long long)d);
      drop[ax[i]] = true;
    }
  }
  int64_t d[PN_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < r; i++)
    if (!drop[i]) d[k++] = in[0].dims[i];
  pn_shape_set(out, in[0].dtype, k, d);
  return PN_OK;
}

int pn_run_squeeze(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                   struct pn_tensor *const *out, int n_out) {
  return copy_input(a, in[0], out[0]);
}

int pn_infer_unsqueeze(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                       struct pn_shape *out, int n_out) {
  int64_t ax[PN_MAX_DIMS], n;
  bool known;
  int rc, r = in[0].ndim;
  if ((rc = check_dense(a, in[0].dtype)) ||
      (rc = int_list(a, in, n_in, 1, "axes", 13, PN_MAX_DIMS, ax, &n, &known)))
    return rc;
  if (known && n < 0) return pn_op_err(a, PN_ERR_INVALID, "'axes' is required");
  if (r < 0 || !known) {
    int nd = -1;
    if (r >= 0 && known) nd = r + (int)n;
    else if (r >= 0 && in[1].ndim == 1 && in[1].dims[0] >= 0) nd = r + (int)in[1].dims[0];
    if (nd > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "rank %d above %d", nd, PN_MAX_DIMS);
    pn_shape_set(out, in[0].dtype, nd, NULL);
    return PN_OK;
  }
  int R = r + (int)n;
  if (R > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "rank %d above %d", R, PN_MAX_DIMS);
  if ((rc = norm_axes(a, "'axes'", ax, n, R))) return rc;
  bool ins[PN_MAX_DIMS] = {false};
  for (int i = 0; i < n; i++) ins[ax[i]] = true;
  int64_t d[PN_MAX_DIMS];
  for (int i = 0, k = 0; i < R; i++) d[i] = ins[i] ? 1 : in[0].dims[k++];
  pn_shape_set(out, in[0].dtype, R, d);
  return PN_OK;
}

int pn_run_unsqueeze(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                     struct pn_tensor *const *out, int n_out) {
  return copy_input(a, in[0], out[0]);
}

/* ---- Expand ---- */

int pn_infer_expand(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                    struct pn_shape *out, int n_out) {
  int64_t s[PN_MAX_DIMS], n;
  bool known;
  int rc;
  if ((rc = check_dense(a, in[0].dtype)) ||
      (rc = int_list(a, in, n_in, 1, "shape", 0, PN_MAX_DIMS, s, &n, &known)))
    return rc;
  if (known && n < 0) return pn_op_err(a, PN_ERR_INVALID, "input 'shape' is required");
  if (!known) {
    if (in[1].ndim == 1 && in[1].dims[0] >= 0 && in[1].dims[0] <= PN_MAX_DIMS && in[0].ndim >= 0) {
      n = in[1].dims[0];
      for (int i = 0; i < n; i++) s[i] = -1;
    } else {
      pn_shape_set(out, in[0].dtype, -1, NULL);
      return PN_OK;
    }
  }
  for (int i = 0; i < n; i++)
    if (known && s[i] < 0)
      return pn_op_err(a, PN_ERR_INVALID, "input 'shape'[%d] = %lld is negative", i, (long long)s[i]);
  if (in[0].ndim < 0) {
    pn_shape_set(out, in[0].dtype, -1, NULL);
    return PN_OK;
  }
  int nd;
  int64_t d[PN_MAX_DIMS];
  if ((rc = pn_broadcast_shape(a, in[0].ndim, in[0].dims, (int)n, s, &nd, d))) return rc;
  pn_shape_set(out, in[0].dtype, nd, d);
  return PN_OK;
}

int pn_run_expand(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  struct pn_tensor *Y = out[0];
  if (Y->dtype != X->dtype || Y->ndim < X->ndim)
    return pn_op_err(a, PN_ERR_INVALID, "output shape mismatch");
  for (int i = 0; i < X->ndim; i++) {
    int64_t dx = X->dims[i], dy = Y->dims[Y->ndim - X->ndim + i];
    if (dx != 1 && dx != dy) return pn_op_err(a, PN_ERR_INVALID, "output shape mismatch");
  }
  int64_t sst[PN_MAX_DIMS];
  pn_bcast_strides(Y->ndim, X->ndim, X->dims, sst);
  if (pn_tensor_numel(Y) == 0) return PN_OK;
  pn_copy_strided(pn_dtype_size(X->dtype), Y->ndim, Y->dims, X->data, sst, Y->data);
  return PN_OK;
}

/* ---- Shape ---- */

static int shape_range(const struct pn_op_args *a, int r, int64_t *s, int64_t *e) {
  int rc;
  if ((rc = pn_node_get_int(a->ctx, a->node, "start", 0, s)) ||
      (rc = pn_node_get_int(a->ctx, a->node, "end", INT64_MAX, e)))
    return rc;
  if (a->opset < 15) *s = 0, *e = INT64_MAX;
  if (*s < 0) *s += r;
  if (*e < 0) *e += r;
  *s = *s < 0 ? 0 : (*s > r ? r : *s);
  *e = *e < 0 ? 0 : (*e > r ? r : *e);
  if (*e < *s) *e = *s;
  return PN_OK;
}

int pn_infer_shape(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                   struct pn_shape *out, int n_out) {
  int64_t s, e, d = -1;
  if (in[0].ndim >= 0) {
    int rc = shape_range(a, in[0].ndim, &s, &e);
    if (rc) return rc;
    d = e - s;
  }
  pn_shape_set(out, PN_DT_INT64, 1, &d);
  return PN_OK;
}

int pn_run_shape(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                 struct pn_tensor *const *out, int n_out) {
  int64_t s, e;
  int rc = shape_range(a, in[0]->ndim, &s, &e);
  if (rc) return rc;
  if (out[0]->dtype != PN_DT_INT64 || pn_tensor_numel(out[0]) != e - s)
    return pn_op_err(a, PN_ERR_INVALID, "output shape mismatch");
  for (int64_t i = s; i < e; i++) ((int64_t *)out[0]->data)[i - s] = in[0]->dims[i];
  return PN_OK;
}

/* ---- Dropout ---- */

/* Training-mode Dropout draws its mask from MT19937 seeded with the node's 'seed' attribute, the
** generator and seeding of numpy's RandomState (init_genrand; doubles from two 32-bit draws,
** 53 bits), which the ONNX reference uses: a seeded Dropout gives the reference's mask exactly.
** Without a seed the generator is seeded from the OS. Dropout masks are not secrets. */
struct mt19937 {
  uint32_t mt[624];
  int pos;
};

static void mt_seed(struct mt19937 *m, uint32_t s) {
  m->mt[0] = s;
  for (int i = 1; i < 624; i++) m->mt[i] = 1812433253u * (m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) + (uint32_t)i;
  m->pos = 624;
}

static uint32_t mt_next(struct mt19937 *m) {
  if (m->pos >= 624) {
    for (int i = 0; i < 624; i++) {
      uint32_t y = (m->mt[i] & 0x80000000u) | (m->mt[(i + 1) % 624] & 0x7fffffffu);
      m->mt[i] = m->mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    m->pos = 0;
  }
  uint32_t y = m->mt[m->pos++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  return y ^ (y >> 18);
}

static double mt_double(struct mt19937 *m) {
  uint32_t a = mt_next(m) >> 5, b = mt_next(m) >> 6;
  return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

/* y = mask * x / (1 - ratio), mask = u >= ratio with u uniform in [0, 1). */
static int dropout_train(const struct pn_op_args *a, const struct pn_tensor *X, double ratio,
                         struct pn_tensor *Y, struct pn_tensor *M) {
  int64_t seed;
  int rc = pn_node_get_int(a->ctx, a->node, "seed", -1, &seed);
  if (rc) return rc;
  if (!pn_node_attr(a->node, "seed")) {
    uint32_t s32;
    if ((rc = pn_getrandom(a->ctx, &s32, sizeof s32))) return rc;
    seed = s32;
  }
  struct mt19937 mt;
  mt_seed(&mt, (uint32_t)seed);
  int64_t n = pn_tensor_numel(X);
  double scale = 1.0 / (1.0 - ratio);
  for (int64_t i = 0; i < n; i++) {
    bool keep = mt_double(&mt) >= ratio;
    if (X->dtype == PN_DT_FLOAT)
      ((float *)Y->data)[i] = keep ? (float)(((const float *)X->data)[i] * scale) : 0.0f;
    else
      ((double *)Y->data)[i] = keep ? ((const double *)X->data)[i] * scale : 0.0;
    if (M) ((uint8_t *)M->data)[i] = keep;
  }
  return PN_OK;
}

/* Mask dtype: bool from opset 10, the data's type before. */
static enum pn_dtype dropout_mask_dtype(const struct pn_op_args *a, enum pn_dtype dt) {
  return a->opset >= 10 ? PN_DT_BOOL : dt;
}

int pn_infer_dropout(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                     struct pn_shape *out, int n_out) {
  int rc;
  float ratio;
  if ((rc = pn_check_dtype(a, "input", in[0].dtype, PN_DT_FLOATS))) return rc;
  if (a->opset < 12) {
    if ((rc = pn_node_get_float(a->ctx, a->node, "ratio", 0.5f, &ratio))) return rc;
    if (!(ratio >= 0 && ratio < 1))
      return pn_op_err(a, PN_ERR_INVALID, "attribute 'ratio' = %g is outside [0, 1)", ratio);
    if (n_in > 1) return pn_op_err(a, PN_ERR_INVALID, "takes 1 input before opset 12");
  } else {
    if (pn_has_in(a, n_in, 2) && in[2].dtype && in[2].dtype != PN_DT_BOOL)
      return pn_op_err(a, PN_ERR_INVALID, "input 'training_mode' must be bool");
  }
  pn_shape_set(&out[0], in[0].dtype, in[0].ndim, in[0].dims);
  if (n_out > 1)
    pn_shape_set(&out[1], in[0].dtype ? dropout_mask_dtype(a, in[0].dtype) : PN_DT_UNDEFINED,
                 in[0].ndim, in[0].dims);
  return PN_OK;
}

int pn_run_dropout(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                   struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0];
  double ratio = 0.5;
  bool training = false;
  if (a->opset >= 12) {
    if (pn_has_in(a, n_in, 1) && in[1]) {
      if ((in[1]->dtype != PN_DT_FLOAT && in[1]->dtype != PN_DT_DOUBLE) || pn_tensor_numel(in[1]) != 1)
        return pn_op_err(a, PN_ERR_INVALID, "input 'ratio' must be a float scalar");
      ratio = pn_tensor_get_f64(in[1], 0);
    }
    if (pn_has_in(a, n_in, 2) && in[2]) {
      if (in[2]->dtype != PN_DT_BOOL || pn_tensor_numel(in[2]) != 1)
        return pn_op_err(a, PN_ERR_INVALID, "input 'training_mode' must be a bool scalar");
      training = ((const uint8_t *)in[2]->data)[0] != 0;
    }
    if (!(ratio >= 0 && ratio < 1))
      return pn_op_err(a, PN_ERR_INVALID, "input 'ratio' = %g is outside [0, 1)", ratio);
    if (training && ratio != 0) {
      if (X->dtype != PN_DT_FLOAT && X->dtype != PN_DT_DOUBLE)
        return pn_op_err(a, PN_ERR_UNSUPPORTED, "training-mode Dropout on %s", pn_dtype_name(X->dtype));
      struct pn_tensor *M = n_out > 1 ? out[1] : NULL;
      if (M && (M->dtype != PN_DT_BOOL || pn_tensor_numel(M) != pn_tensor_numel(X)))
        return pn_op_err(a, PN_ERR_INVALID, "output 'mask' shape mismatch");
      return dropout_train(a, X, ratio, out[0], M);
    }
  }
  int rc = copy_input(a, X, out[0]);
  if (rc) return rc;
  if (n_out > 1 && out[1]) {
    struct pn_tensor *M = out[1];
    int64_t n = pn_tensor_numel(M);
    if (M->dtype != dropout_mask_dtype(a, X->dtype) || n != pn_tensor_numel(X))
      return pn_op_err(a, PN_ERR_INVALID, "output 'mask' shape mismatch");
    for (int64_t i = 0; i < n; i++) {
      switch (M->dtype) {
      case PN_DT_FLOAT: ((float *)M->data)[i] = 1; break;
      case PN_DT_DOUBLE: ((double *)M->data)[i] = 1; break;
      default: ((uint8_t *)M->data)[i] = 1; break;
      }
    }
  }
  return PN_OK;
}

/* ---- Constant ---- */

/* The attribute holding the value; PN_ERR_UNSUPPORTED for sparse and string values. */
static int constant_attr(const struct pn_op_args *a, const struct pn_attr **out) {
  static const char *const names[] = {"value", "value_float", "value_floats", "value_int",
                                      "value_ints", "value_string", "value_strings", "sparse_value"};
  const struct pn_attr *found = NULL;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    const struct pn_attr *at = pn_node_attr(a->node, names[i]);
    if (!at) continue;
    if (found)
      return pn_op_err(a, PN_ERR_INVALID, "attributes '%s' and '%s' are both set", found->name,
                       at->name);
    found = at;
  }
  if (!found) return pn_op_err(a, PN_ERR_INVALID, "attribute 'value' is required");
  if (!strcmp(found->name, "sparse_value") || !strncmp(found->name, "value_string", 12))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "attribute '%s'", found->name);
  static const enum pn_attr_type want[] = {PN_ATTR_TENSOR, PN_ATTR_FLOAT, PN_ATTR_FLOATS,
                                           PN_ATTR_INT, PN_ATTR_INTS};
  for (size_t i = 0; i < 5; i++)
    if (!strcmp(found->name, names[i]) && found->type != want[i])
      return pn_op_err(a, PN_ERR_INVALID, "attribute '%s' has the wrong type", found->name);
  if (found->type == PN_ATTR_TENSOR) {
    if (!found->t) return pn_op_err(a, PN_ERR_INVALID, "attribute 'value' has no tensor");
    if (!pn_dtype_supported(found->t->dtype))
      return pn_op_err(a, PN_ERR_UNSUPPORTED, "attribute 'value': unsupported dtype %s",
                       pn_dtype_name(found->t->dtype));
  }
  *out = found;
  return PN_OK;
}

int pn_infer_constant(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                      struct pn_shape *out, int n_out) {
  const struct pn_attr *at;
  int rc = constant_attr(a, &at);
  if (rc) return rc;
  switch (at->type) {
  case PN_ATTR_TENSOR: pn_shape_set(out, at->t->dtype, at->t->ndim, at->t->dims); break;
  case PN_ATTR_FLOAT: pn_shape_set(out, PN_DT_FLOAT, 0, NULL); break;
  case PN_ATTR_INT: pn_shape_set(out, PN_DT_INT64, 0, NULL); break;
  case PN_ATTR_FLOATS: pn_shape_set(out, PN_DT_FLOAT, 1, &at->n); break;
  default: pn_shape_set(out, PN_DT_INT64, 1, &at->n); break;
  }
  return PN_OK;
}

int pn_run_constant(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                    struct pn_tensor *const *out, int n_out) {
  const struct pn_attr *at;
  struct pn_tensor *Y = out[0];
  int rc = constant_attr(a, &at);
  if (rc) return rc;
  const void *src;
  size_t bytes;
  enum pn_dtype dt;
  switch (at->type) {
  case PN_ATTR_TENSOR: src = at->t->data, bytes = pn_tensor_nbytes(at->t), dt = at->t->dtype; break;
  case PN_ATTR_FLOAT: src = &at->f, bytes = sizeof at->f, dt = PN_DT_FLOAT; break;
  case PN_ATTR_INT: src = &at->i, bytes = sizeof at->i, dt = PN_DT_INT64; break;
  case PN_ATTR_FLOATS: src = at->floats, bytes = (size_t)at->n * sizeof(float), dt = PN_DT_FLOAT; break;
  default: src = at->ints, bytes = (size_t)at->n * sizeof(int64_t), dt = PN_DT_INT64; break;
  }
  if (Y->dtype != dt || pn_tensor_nbytes(Y) != bytes)
    return pn_op_err(a, PN_ERR_INVALID, "output shape mismatch");
  if (bytes) memcpy(Y->data, src, bytes);
  return PN_OK;
}
