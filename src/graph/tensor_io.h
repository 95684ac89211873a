/* tensor_io.h - a user's tensors and images as files: ONNX TensorProto (.pb), NumPy (.npy), PNG and
** PGM (P2/P5). Reading validates everything (headers, sizes, dtypes) and names the file and field at
** fault; writing is atomic (temporary file + rename).
**
** Images read channels first, [C, H, W]: C = 1 for grey images, 3 for colour ones (a PNG's alpha
** channel is ignored, a palette expanded, 16 bits reduced to 8). Pixels are uint8, except a PGM
** whose maxval is not 255: float32 pixel / maxval in [0, 1]. Arrays (.npy, .pb) keep their dtype
** and shape. */
#ifndef PN_GRAPH_TENSOR_IO_H
#define PN_GRAPH_TENSOR_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/api.h"
#include "tensor.h"

struct pn_ctx;

enum pn_tensor_format {
  PN_TF_AUTO = 0, /* reading: from the file's first bytes; writing: from the path's extension */
  PN_TF_PB,       /* ONNX TensorProto */
  PN_TF_NPY,      /* NumPy .npy, format versions 1.0, 2.0 and 3.0 */
  PN_TF_PNG,      /* PNG, any colour type, bit depth and interlacing (libpng) */
  PN_TF_PGM,      /* Netpbm greymap, P2 (text) or P5 (binary), maxval up to 65535 */
  PN_TF_COUNT
};
/* "pb", "npy", "png", "pgm" */
PN_API const char *pn_tensor_format_name(enum pn_tensor_format f);
/* "pb" / "npy" / "png" / "pgm" -> format; -1 when unknown. */
PN_API int pn_tensor_format_parse(const char *s);
/* The format of buf[0..n) by its magic bytes (PN_TF_PB when no other matches: TensorProto has
** none); PN_TF_AUTO for an empty buffer. */
PN_API enum pn_tensor_format pn_tensor_format_detect(const uint8_t *buf, size_t n);
/* The format a path's extension names (.pb, .npy, .png, .pgm / .pnm); PN_TF_AUTO when none. */
PN_API enum pn_tensor_format pn_tensor_format_of_path(const char *path);
/* true for the image formats (PNG, PGM). */
PN_API bool pn_tensor_format_is_image(enum pn_tensor_format f);

/* Parse one format from memory; name is used in messages. On success *out is the caller's
** (pn_tensor_free); malformed input is PN_ERR_CORRUPT, a valid file privnn does not take
** (Fortran order, big-endian, object or structured dtypes, more than PN_MAX_DIMS dims) is
** PN_ERR_UNSUPPORTED, each naming the field. */
PN_API int pn_npy_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                        struct pn_tensor **out /* OUT */);
PN_API int pn_png_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                        struct pn_tensor **out /* OUT */);
PN_API int pn_pgm_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                        struct pn_tensor **out /* OUT */);
/* Any of the formats (fmt PN_TF_AUTO: detected); *fmt_out (may be NULL) says which was read. */
PN_API int pn_tensor_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                           enum pn_tensor_format fmt, struct pn_tensor **out /* OUT */,
                           enum pn_tensor_format *fmt_out /* OUT, may be NULL */);
/* The same from a file (at most 2 GiB); messages name the path. */
PN_API int pn_tensor_read_file(struct pn_ctx *ctx, const char *path, enum pn_tensor_format fmt,
                               struct pn_tensor **out /* OUT */,
                               enum pn_tensor_format *fmt_out /* OUT, may be NULL */);

/* Serialise t: .npy (version 1.0, little-endian, C order, t's dtype); PNG / PGM (8-bit, from a
** float tensor [C, H, W] or [H, W] with C = 1, or 3 for PNG, values in [0, 1] rounded to 1/255,
** out-of-range values clamped). On success *buf is malloc'd and the caller's. */
PN_API int pn_npy_save(struct pn_ctx *ctx, const struct pn_tensor *t, uint8_t **buf /* OUT */,
                       size_t *n /* OUT */);
/* Write t to path in fmt (PN_TF_AUTO: from the extension), atomically. */
PN_API int pn_tensor_write_file(struct pn_ctx *ctx, const struct pn_tensor *t, const char *path,
                                enum pn_tensor_format fmt);

/* Statistics of a tensor's values as doubles (bool and integer types too). */
struct pn_tensor_stats {
  int64_t n;            /* elements */
  int64_t nan, inf;     /* not counted in the others */
  double min, max, mean, std; /* over the finite elements (0 when none) */
};
PN_API void pn_tensor_stats(const struct pn_tensor *t, struct pn_tensor_stats *st /* OUT */);

#endif
