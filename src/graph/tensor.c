/* tensor.c - dense tensor allocation, dtype tables and element access. */
#include "graph/tensor.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"

static const struct {
  const char *name;
  size_t size;
  bool supported;
} dtypes[] = {
  [PN_DT_UNDEFINED] = {"undefined", 0, false}, [PN_DT_FLOAT] = {"float32", 4, true},
  [PN_DT_UINT8] = {"uint8", 1, true},          [PN_DT_INT8] = {"int8", 1, true},
  [PN_DT_UINT16] = {"uint16", 2, false},       [PN_DT_INT16] = {"int16", 2, false},
  [PN_DT_INT32] = {"int32", 4, true},          [PN_DT_INT64] = {"int64", 8, true},
  [PN_DT_STRING] = {"string", 0, false},       [PN_DT_BOOL] = {"bool", 1, true},
  [PN_DT_FLOAT16] = {"float16", 2, false},     [PN_DT_DOUBLE] = {"float64", 8, true},
  [PN_DT_UINT32] = {"uint32", 4, false},       [PN_DT_UINT64] = {"uint64", 8, false},
  [PN_DT_COMPLEX64] = {"complex64", 8, false}, [PN_DT_COMPLEX128] = {"complex128", 16, false},
  [PN_DT_BFLOAT16] = {"bfloat16", 2, false},
};
static_assert(sizeof dtypes / sizeof *dtypes == PN_DT_COUNT, "dtypes out of date");

size_t pn_dtype_size(enum pn_dtype dt) {
  return (unsigned)dt < PN_DT_COUNT ? dtypes[dt].size : 0;
}
const char *pn_dtype_name(enum pn_dtype dt) {
  return (unsigned)dt < PN_DT_COUNT ? dtypes[dt].name : "?";
}
bool pn_dtype_supported(enum pn_dtype dt) {
  return (unsigned)dt < PN_DT_COUNT && dtypes[dt].supported;
}

int64_t pn_shape_numel(int ndim, const int64_t *dims) {
  int64_t n = 1;
  bool unknown = false;
  bool overflow = false;
  for (int i = 0; i < ndim; i++) {
    if (dims[i] == 0) return 0;
    if (dims[i] < 0) unknown = true;
    else if (!overflow && __builtin_mul_overflow(n, dims[i], &n)) overflow = true;
  }
  if (unknown) return -1;
  return overflow ? INT64_MAX : n; /* saturates: no tensor that large can be allocated anyway */
}

int64_t pn_tensor_numel(const struct pn_tensor *t) { return pn_shape_numel(t->ndim, t->dims); }

size_t pn_tensor_nbytes(const struct pn_tensor *t) {
  int64_t n = pn_tensor_numel(t);
  return n > 0 ? (size_t)n * pn_dtype_size(t->dtype) : 0;
}

static bool shape_ok(int ndim, const int64_t *dims, size_t esize, size_t *bytes) {
  if (ndim < 0 || ndim > PN_MAX_DIMS) return false;
  __int128 n = 1;
  for (int i = 0; i < ndim; i++) {
    if (dims[i] < 0) return false;
    n *= dims[i];
    if (n > ((__int128)1 << 40)) return false;   /* 1 Ti elements: certainly a corrupt shape */
  }
  *bytes = (size_t)n * esize;
  return true;
}

struct pn_tensor *pn_tensor_new(enum pn_dtype dt, int ndim, const int64_t *dims) {
  size_t bytes;
  if (!shape_ok(ndim, dims, pn_dtype_size(dt), &bytes)) return NULL;
  struct pn_tensor *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->data = calloc(1, bytes ? bytes : 1);
  if (!t->data) {
    free(t);
    return NULL;
  }
  t->dtype = dt;
  t->ndim = ndim;
  if (ndim) memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
  t->heap = true;
  return t;
}

struct pn_tensor *pn_tensor_clone(const struct pn_tensor *src) {
  struct pn_tensor *t = pn_tensor_new(src->dtype, src->ndim, src->dims);
  if (!t) return NULL;
  memcpy(t->data, src->data, pn_tensor_nbytes(src));
  if (src->name && !(t->name = strdup(src->name))) {
    pn_tensor_free(t);
    return NULL;
  }
  return t;
}

void pn_tensor_free(struct pn_tensor *t) {
  if (!t || !t->heap) return;
  free((void *)t->name);
  free(t->data);
  free(t);
}

struct pn_tensor *pn_tensor_new_arena(struct pn_arena *a, const char *name, enum pn_dtype dt,
                                      int ndim, const int64_t *dims) {
  size_t bytes;
  if (!shape_ok(ndim, dims, pn_dtype_size(dt), &bytes)) return NULL;
  struct pn_tensor *t = pn_arena_alloc(a, sizeof *t);
  if (!t) return NULL;
  t->data = pn_arena_alloc(a, bytes ? bytes : 1);
  if (!t->data) return NULL;
  t->name = pn_arena_strdup(a, name);
  t->dtype = dt;
  t->ndim = ndim;
  if (ndim) memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
  return t;
}

double pn_tensor_get_f64(const struct pn_tensor *t, int64_t i) {
  switch (t->dtype) {
  case PN_DT_FLOAT: return ((const float *)t->data)[i];
  case PN_DT_DOUBLE: return ((const double *)t->data)[i];
  case PN_DT_INT32: return ((const int32_t *)t->data)[i];
  case PN_DT_INT64: return (double)((const int64_t *)t->data)[i];
  case PN_DT_UINT8: case PN_DT_BOOL: return ((const uint8_t *)t->data)[i];
  case PN_DT_INT8: return ((const int8_t *)t->data)[i];
  default: return 0;
  }
}

int64_t pn_tensor_get_i64(const struct pn_tensor *t, int64_t i) {
  switch (t->dtype) {
  case PN_DT_FLOAT: return (int64_t)((const float *)t->data)[i];
  case PN_DT_DOUBLE: return (int64_t)((const double *)t->data)[i];
  case PN_DT_INT32: return ((const int32_t *)t->data)[i];
  case PN_DT_INT64: return ((const int64_t *)t->data)[i];
  case PN_DT_UINT8: case PN_DT_BOOL: return ((const uint8_t *)t->data)[i];
  case PN_DT_INT8: return ((const int8_t *)t->data)[i];
  default: return 0;
  }
}

char *pn_shape_str(char *buf, size_t n, int ndim, const int64_t *dims) {
  size_t o = 0;
  o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "[");
  for (int i = 0; i < ndim && o < n; i++)
    o += (size_t)snprintf(buf + o, o < n ? n - o : 0, i ? ",%lld" : "%lld",
                          dims[i] < 0 ? -1LL : (long long)dims[i]);
  if (o < n) snprintf(buf + o, n - o, "]");
  return buf;
}

bool pn_tensor_same_shape(const struct pn_tensor *a, const struct pn_tensor *b) {
  if (a->dtype != b->dtype || a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}
