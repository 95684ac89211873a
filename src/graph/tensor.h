/* tensor.h - dense tensors: ONNX data types, shapes of up to PN_MAX_DIMS dims, row-major data. */
#ifndef PN_TENSOR_H
#define PN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/api.h"

struct pn_ctx;
struct pn_arena;

/* Values equal ONNX's TensorProto.DataType. */
enum pn_dtype {
  PN_DT_UNDEFINED = 0, PN_DT_FLOAT = 1, PN_DT_UINT8 = 2, PN_DT_INT8 = 3, PN_DT_UINT16 = 4,
  PN_DT_INT16 = 5, PN_DT_INT32 = 6, PN_DT_INT64 = 7, PN_DT_STRING = 8, PN_DT_BOOL = 9,
  PN_DT_FLOAT16 = 10, PN_DT_DOUBLE = 11, PN_DT_UINT32 = 12, PN_DT_UINT64 = 13,
  PN_DT_COMPLEX64 = 14, PN_DT_COMPLEX128 = 15, PN_DT_BFLOAT16 = 16,
  PN_DT_COUNT = 17
};

#define PN_MAX_DIMS 8

/* Bytes per element (0 for UNDEFINED/STRING, which privnn does not store densely). */
PN_API size_t pn_dtype_size(enum pn_dtype dt);
/* "float32", "int64", ... ("?" for out-of-range values). */
PN_API const char *pn_dtype_name(enum pn_dtype dt);
/* true for the types privnn's kernels compute on (float, double, int32, int64, bool, uint8, int8,
** and float16 / bfloat16, which ops.c computes by converting to float32 and back). */
PN_API bool pn_dtype_supported(enum pn_dtype dt);
/* float16 or bfloat16: stored as 16-bit patterns, computed on as float32. */
PN_API bool pn_dtype_is_half(enum pn_dtype dt);

/* IEEE binary16 and bfloat16 conversions, rounding to nearest even (NaN stays NaN, overflow
** gives infinity). Exact from half to float. */
PN_API float pn_half_to_float(uint16_t h);
PN_API uint16_t pn_half_from_double(double x);
PN_API float pn_bf16_to_float(uint16_t h);
PN_API uint16_t pn_bf16_from_float(float x);

struct pn_tensor {
  const char *name;            /* may be NULL; owned like the tensor */
  enum pn_dtype dtype;
  int ndim;                    /* 0 = scalar */
  int64_t dims[PN_MAX_DIMS];
  void *data;                  /* numel * pn_dtype_size(dtype) bytes, row-major */
  bool heap;                   /* struct, name and data malloc'd: free with pn_tensor_free */
};

PN_API int64_t pn_tensor_numel(const struct pn_tensor *t);
PN_API size_t pn_tensor_nbytes(const struct pn_tensor *t);
/* Product of dims[0..ndim); -1 if any dim is negative (unknown); 0 if any is 0; INT64_MAX when the
** product overflows. */
PN_API int64_t pn_shape_numel(int ndim, const int64_t *dims);

/* A heap tensor with zeroed data. NULL when out of memory or ndim > PN_MAX_DIMS / negative dims;
** pn_tensor_create says which. */
PN_API struct pn_tensor *pn_tensor_new(enum pn_dtype dt, int ndim, const int64_t *dims);
/* pn_tensor_new that reports why it fails: PN_ERR_INVALID naming the dtype, the rank or the dim
** (a negative dim: a model's symbolic batch left at -1), PN_ERR_NOMEM with the size. On failure *out
** is NULL. Free with pn_tensor_free. */
PN_API int pn_tensor_create(struct pn_ctx *ctx, enum pn_dtype dt, int ndim, const int64_t *dims,
                            struct pn_tensor **out /* OUT */);
/* A heap deep copy (name included). */
PN_API struct pn_tensor *pn_tensor_clone(const struct pn_tensor *t);
/* Free a heap tensor; NULL and non-heap (arena) tensors are ignored. */
PN_API void pn_tensor_free(struct pn_tensor *t);
/* An arena tensor (struct, name and zeroed data in the arena). */
PN_API struct pn_tensor *pn_tensor_new_arena(struct pn_arena *a, const char *name, enum pn_dtype dt,
                                      int ndim, const int64_t *dims);
/* The same around data, a malloc'd block of the tensor's bytes (16-byte aligned) that the arena
** adopts (frees with the rest); NULL when out of memory, data then still the caller's. */
PN_API struct pn_tensor *pn_tensor_adopt_arena(struct pn_arena *a, const char *name, enum pn_dtype dt,
                                               int ndim, const int64_t *dims, void *data);
/* The same around bytes the tensor only points to (not freed with it; valid while their owner keeps
** them, and possibly unaligned: pn_onnx_load_ref). NULL when out of memory. */
PN_API struct pn_tensor *pn_tensor_ref_arena(struct pn_arena *a, const char *name, enum pn_dtype dt,
                                             int ndim, const int64_t *dims, const void *data);

/* A float32 copy of a float16 / bfloat16 tensor (NULL when out of memory), and the rounding of a
** float32 tensor into an allocated half tensor of the same shape. */
PN_API struct pn_tensor *pn_tensor_half_to_float(const struct pn_tensor *t);
PN_API void pn_tensor_float_to_half(const struct pn_tensor *src, struct pn_tensor *dst);

/* Element i (flat index) converted to double / int64, for any supported dtype. */
PN_API double pn_tensor_get_f64(const struct pn_tensor *t, int64_t i);
PN_API int64_t pn_tensor_get_i64(const struct pn_tensor *t, int64_t i);

/* "[1,3,224,224]" into buf; returns buf. */
PN_API char *pn_shape_str(char *buf, size_t n, int ndim, const int64_t *dims);

/* Do a and b have the same dtype and shape? */
PN_API bool pn_tensor_same_shape(const struct pn_tensor *a, const struct pn_tensor *b);

#endif
