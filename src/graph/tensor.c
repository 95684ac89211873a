/* tensor.c - dense tensor allocation, dtype tables and element access. */
#include "graph/tensor.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/status.h"

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
  [PN_DT_FLOAT16] = {"float16", 2, true},      [PN_DT_DOUBLE] = {"float64", 8, true},
  [PN_DT_UINT32] = {"uint32", 4, false},       [PN_DT_UINT64] = {"uint64", 8, false},
  [PN_DT_COMPLEX64] = {"complex64", 8, false}, [PN_DT_COMPLEX128] = {"complex128", 16, false},
  [PN_DT_BFLOAT16] = {"bfloat16", 2, true},
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

bool pn_dtype_is_half(enum pn_dtype dt) { return dt == PN_DT_FLOAT16 || dt == PN_DT_BFLOAT16; }

static float f32_from_bits(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

float pn_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, man = h & 0x3ff;
  if (exp == 0) {                                  /* zero or subnormal: man * 2^-24, exact */
    float v = (float)man * 0x1p-24f;
    return sign ? -v : v;
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | man << 13);
  return f32_from_bits(sign | (exp + 112) << 23 | man << 13);
}

uint16_t pn_half_from_double(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  uint16_t sign = (uint16_t)(b >> 48 & 0x8000);
  int exp = (int)(b >> 52 & 0x7ff);
  uint64_t man = b & 0xfffffffffffffull;
  if (exp == 0x7ff) return sign | 0x7c00 | (man ? 0x200 | (uint16_t)(man >> 42 & 0x1ff) : 0);
  int e = exp - 1023 + 15;                         /* the half's biased exponent */
  if (e >= 31) return sign | 0x7c00;
  uint64_t m, rem, halfway;
  if (e >= 1) {                                    /* normal: keep 10 of 52 mantissa bits */
    m = man >> 42;
    rem = man & ((1ull << 42) - 1);
    halfway = 1ull << 41;
    m |= (uint64_t)e << 10;                        /* a carry out of the mantissa bumps e */
  } else {                                         /* subnormal: m * 2^-24 */
    if (e < -10) return sign;                      /* below 2^-25: rounds to zero */
    int shift = 1051 - exp;                        /* 43..53 */
    uint64_t full = man | 1ull << 52;
    m = full >> shift;
    rem = full & ((1ull << shift) - 1);
    halfway = 1ull << (shift - 1);
  }
  if (rem > halfway || (rem == halfway && (m & 1))) m++;
  return sign | (uint16_t)m;
}

float pn_bf16_to_float(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

uint16_t pn_bf16_from_float(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(b >> 16 | 0x40);   /* NaN stays quiet NaN */
  return (uint16_t)((b + 0x7fffu + (b >> 16 & 1)) >> 16);
}

struct pn_tensor *pn_tensor_half_to_float(const struct pn_tensor *t) {
  struct pn_tensor *f = pn_tensor_new(PN_DT_FLOAT, t->ndim, t->dims);
  if (!f) return NULL;
  const uint16_t *h = t->data;
  float *p = f->data;
  int64_t n = pn_tensor_numel(t);
  bool bf = t->dtype == PN_DT_BFLOAT16;
  for (int64_t i = 0; i < n; i++) p[i] = bf ? pn_bf16_to_float(h[i]) : pn_half_to_float(h[i]);
  return f;
}

void pn_tensor_float_to_half(const struct pn_tensor *src, struct pn_tensor *dst) {
  const float *p = src->data;
  uint16_t *h = dst->data;
  int64_t n = pn_tensor_numel(src);
  bool bf = dst->dtype == PN_DT_BFLOAT16;
  for (int64_t i = 0; i < n; i++) h[i] = bf ? pn_bf16_from_float(p[i]) : pn_half_from_double(p[i]);
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

int pn_tensor_create(struct pn_ctx *ctx, enum pn_dtype dt, int ndim, const int64_t *dims,
                     struct pn_tensor **out) {
  *out = NULL;
  if ((unsigned)dt >= PN_DT_COUNT)
    return pn_err(ctx, PN_ERR_INVALID, "tensor: dtype %d is not an ONNX data type (1..%d)", (int)dt,
                  PN_DT_COUNT - 1);
  if (ndim < 0 || ndim > PN_MAX_DIMS)
    return pn_err(ctx, PN_ERR_INVALID, "tensor: %d dims (0..%d supported)", ndim, PN_MAX_DIMS);
  if (ndim && !dims) return pn_err(ctx, PN_ERR_INVALID, "tensor: %d dims but no dims array", ndim);
  for (int i = 0; i < ndim; i++)
    if (dims[i] < 0)
      return pn_err(ctx, PN_ERR_INVALID,
                    "tensor: dims[%d] is %lld: a tensor needs every size (a model's symbolic batch is -1:"
                    " give the batch, or make the input with pn_exec_input_new)",
                    i, (long long)dims[i]);
  size_t bytes;
  if (!shape_ok(ndim, dims, pn_dtype_size(dt), &bytes))
    return pn_err(ctx, PN_ERR_INVALID, "tensor: more than 2^40 elements");
  if (!(*out = pn_tensor_new(dt, ndim, dims)))
    return pn_err(ctx, PN_ERR_NOMEM, "tensor: out of memory allocating %zu bytes", bytes);
  return PN_OK;
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

/* data: NULL for zeroed bytes from the arena, else bytes of the tensor's size that the arena adopts
** (a malloc'd block) or that the tensor only points to (borrowed) */
static struct pn_tensor *new_arena(struct pn_arena *a, const char *name, enum pn_dtype dt, int ndim,
                                   const int64_t *dims, void *data, bool borrowed) {
  size_t bytes;
  if (!shape_ok(ndim, dims, pn_dtype_size(dt), &bytes)) return NULL;
  struct pn_tensor *t = pn_arena_alloc(a, sizeof *t);
  if (!t) return NULL;
  if (data && !borrowed && pn_arena_adopt(a, data, bytes)) return NULL;
  t->data = data ? data : pn_arena_alloc(a, bytes ? bytes : 1);
  if (!t->data) return NULL;
  t->name = pn_arena_strdup(a, name);
  t->dtype = dt;
  t->ndim = ndim;
  if (ndim) memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
  return t;
}

struct pn_tensor *pn_tensor_new_arena(struct pn_arena *a, const char *name, enum pn_dtype dt,
                                      int ndim, const int64_t *dims) {
  return new_arena(a, name, dt, ndim, dims, NULL, false);
}

struct pn_tensor *pn_tensor_adopt_arena(struct pn_arena *a, const char *name, enum pn_dtype dt,
                                        int ndim, const int64_t *dims, void *data) {
  return data ? new_arena(a, name, dt, ndim, dims, data, false) : NULL;
}

struct pn_tensor *pn_tensor_ref_arena(struct pn_arena *a, const char *name, enum pn_dtype dt,
                                      int ndim, const int64_t *dims, const void *data) {
  return data ? new_arena(a, name, dt, ndim, dims, (void *)data, true) : NULL;
}

double pn_tensor_get_f64(const struct pn_tensor *t, int64_t i) {
  switch (t->dtype) {
  case PN_DT_FLOAT: return ((const float *)t->data)[i];
  case PN_DT_DOUBLE: return ((const double *)t->data)[i];
  case PN_DT_INT32: return ((const int32_t *)t->data)[i];
  case PN_DT_INT64: return (double)((const int64_t *)t->data)[i];
  case PN_DT_UINT8: case PN_DT_BOOL: return ((const uint8_t *)t->data)[i];
  case PN_DT_INT8: return ((const int8_t *)t->data)[i];
  case PN_DT_UINT16: return ((const uint16_t *)t->data)[i];
  case PN_DT_INT16: return ((const int16_t *)t->data)[i];
  case PN_DT_UINT32: return ((const uint32_t *)t->data)[i];
  case PN_DT_UINT64: return (double)((const uint64_t *)t->data)[i];
  case PN_DT_FLOAT16: return pn_half_to_float(((const uint16_t *)t->data)[i]);
  case PN_DT_BFLOAT16: return pn_bf16_to_float(((const uint16_t *)t->data)[i]);
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
  case PN_DT_FLOAT16: case PN_DT_BFLOAT16: return (int64_t)pn_tensor_get_f64(t, i);
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
