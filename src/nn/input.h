/* input.h - a user's own inputs for a model: images (PNG, PGM) and arrays (NumPy .npy, TensorProto
** .pb) made into the model's input tensor, the way the Fashion-MNIST path makes its images.
**
** Pixels (image files, and uint8 arrays) are normalised with the mean/std the model was trained
** with (its privnn.normalize metadata; without one they are only scaled to [0, 1]) by the same float
** operations as pn_dataset_batch, so a Fashion-MNIST image saved as PNG gives the tensor the dataset
** gives. Other arrays are taken as the model's input as they are (converted to float32).
** An input is one example (the model's input shape without its batch dim, or without its single
** channel too) or a batch of them; anything else is refused naming the shape the model needs. An
** image of another size or channel count is refused unless resizing is asked for: it is then
** converted (grey <-> RGB; RGB -> grey by ITU-R BT.601 luma) and resized bilinearly with half-pixel
** centres (ONNX Resize, mode linear, no antialiasing). */
#ifndef PN_NN_INPUT_H
#define PN_NN_INPUT_H

#include <stdbool.h>
#include <stdint.h>
#include "../util/api.h"
#include "../graph/tensor.h"

struct pn_ctx;
struct pn_graph;

struct pn_input_opts {
  bool resize;            /* resize / convert images that do not fit (else an error) */
};

struct pn_input_info {
  int64_t n;              /* examples made */
  int pixel_files;        /* files read as pixels (and normalised) */
  int resized;            /* images resized or converted */
  bool model_norm;        /* pixels normalised with the model's privnn.normalize */
  float mean, std;        /* the normalisation used (0 and 1 without the model's) */
};

/* The model's single runtime input: its shape after the batch dim (all dims known) into
** ndim/dims. PN_ERR_UNSUPPORTED naming what is missing (no or several runtime inputs, a non-float
** input, an unknown dim). */
PN_API int pn_input_shape(struct pn_ctx *ctx, const struct pn_graph *g, int *ndim /* OUT */,
                          int64_t dims[PN_MAX_DIMS] /* OUT */);

/* Read paths[0..n_paths) (format by content) and make g's input from them, examples in file order:
** *out is a float32 tensor [N, dims...] (pn_tensor_free). info (may be NULL) says what was done.
** Errors name the file: unreadable or malformed (PN_ERR_IO / PN_ERR_CORRUPT), a shape that does
** not fit (PN_ERR_INVALID, with the shape the model needs). */
PN_API int pn_input_load(struct pn_ctx *ctx, const struct pn_graph *g, const char *const *paths,
                         int n_paths, const struct pn_input_opts *o, struct pn_tensor **out /* OUT */,
                         struct pn_input_info *info /* OUT, may be NULL */);

/* Resize a float image [C, H, W] to [C, h, w] (bilinear, half-pixel centres); dst holds C*h*w. */
PN_API void pn_image_resize(const float *src, int64_t C, int64_t H, int64_t W, float *dst, int64_t h,
                            int64_t w);

#endif
