/* dataset.h - gzipped IDX files and image datasets in the Fashion-MNIST layout: split, batches.
**
** Fashion-MNIST is read from Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/);
** any folder with the same four files (train/t10k images and labels, gzipped or plain IDX) loads
** the same way, whatever its image size, channel count, image count and number of classes. The
** training file's N images are split once, by a fixed seed, into validation (round(N/12), at least
** 1: Fashion-MNIST's 5,000 of 60,000) and train (the rest); the t10k images are the test split, for
** final reporting only. Images are normalised with one mean/std over the train split's pixels (all
** channels); training batches may be augmented (random crop with padding, horizontal flip) from a
** seeded PRG. */
#ifndef PN_NN_DATASET_H
#define PN_NN_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "../util/api.h"

struct pn_ctx;
struct pn_prg;

#define PN_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define PN_FMNIST_PACKAGE "dataset-fashion-mnist"
#define PN_FMNIST_SIDE 28
#define PN_FMNIST_PIXELS (PN_FMNIST_SIDE * PN_FMNIST_SIDE)
#define PN_FMNIST_CLASSES 10
#define PN_FMNIST_TRAIN 55000
#define PN_FMNIST_VAL 5000
#define PN_FMNIST_TEST 10000
/* The most classes a dataset can have: labels are bytes. */
#define PN_DATASET_MAX_CLASSES 256

/* An IDX file (http://yann.lecun.com/exdb/mnist/ format): unsigned-byte data only. */
struct pn_idx {
  int ndim;               /* 1..4 */
  int64_t dims[4];
  uint8_t *data;          /* prod(dims) bytes, malloc'd */
};

/* Parse an IDX image from buf[0..n). name is used in messages. Only type 0x08 (unsigned byte) is
** accepted; a size that disagrees with the header is PN_ERR_CORRUPT. Free with pn_idx_free. */
PN_API int pn_idx_parse(struct pn_ctx *ctx, const char *name, const uint8_t *buf, size_t n,
                        struct pn_idx *out /* OUT */);
/* Read and gunzip a .gz IDX file (plain IDX files are accepted too) and parse it. Missing file:
** PN_ERR_IO; truncated/corrupt gzip or IDX: PN_ERR_CORRUPT; messages name the path. */
PN_API int pn_idx_read_gz(struct pn_ctx *ctx, const char *path, struct pn_idx *out /* OUT */);
PN_API void pn_idx_free(struct pn_idx *idx);

enum pn_split { PN_SPLIT_TRAIN = 0, PN_SPLIT_VAL = 1, PN_SPLIT_TEST = 2, PN_SPLIT_COUNT = 3 };
PN_API const char *pn_split_name(enum pn_split s);
/* "train" / "val" / "test" → split; -1 when unknown. */
PN_API int pn_split_parse(const char *s);

struct pn_dataset {
  int64_t n[PN_SPLIT_COUNT];          /* images per split */
  uint8_t *images[PN_SPLIT_COUNT];    /* n * pixels raw bytes, each image channels x height x width */
  uint8_t *labels[PN_SPLIT_COUNT];    /* n labels in [0, classes) */
  float mean, std;                    /* of the train split's pixels scaled to [0, 1] */
  int channels, height, width;        /* of every image (Fashion-MNIST: 1, 28, 28) */
  int64_t pixels;                     /* channels * height * width: floats per image in a batch */
  int classes;                        /* 1 + the largest label of train and test (Fashion-MNIST: 10) */
  char name[256];                     /* "fashion-mnist" or the folder, for messages and reports */
};

/* Load the dataset in dir (NULL = PN_FMNIST_DIR): train-images-idx3-ubyte, train-labels-idx1-ubyte,
** t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each gzipped (.gz) or plain. Images are uint8
** N x H x W, or N x H x W x C / N x C x H x W (the axis of size 1..4 is the channels; the last one
** when both are), the same H, W, C in both files; labels are N uint8 of the matching count. Every
** header is checked against the file's length and the other files; errors name the file and the
** field (and, for Fashion-MNIST, the Debian package that provides it). Free with pn_dataset_free. */
PN_API int pn_dataset_load(struct pn_ctx *ctx, const char *dir, struct pn_dataset *ds /* OUT */);
/* Build a Fashion-MNIST-shaped dataset (1 x 28 x 28, 10 classes) from raw arrays (tests):
** train/val/test counts and pixels are copied; a label >= 10 is PN_ERR_CORRUPT. */
PN_API int pn_dataset_from_arrays(struct pn_ctx *ctx, const int64_t n[PN_SPLIT_COUNT],
                                  const uint8_t *const images[PN_SPLIT_COUNT],
                                  const uint8_t *const labels[PN_SPLIT_COUNT],
                                  struct pn_dataset *ds /* OUT */);
/* The same for images of channels x height x width (each 1..65535); classes = 1 + the largest
** label. */
PN_API int pn_dataset_from_arrays_chw(struct pn_ctx *ctx, int channels, int height, int width,
                                      const int64_t n[PN_SPLIT_COUNT],
                                      const uint8_t *const images[PN_SPLIT_COUNT],
                                      const uint8_t *const labels[PN_SPLIT_COUNT],
                                      struct pn_dataset *ds /* OUT */);
PN_API void pn_dataset_free(struct pn_dataset *ds);

/* The validation images taken from n training images: round(n / 12), at least 1 (n >= 2). */
PN_API int64_t pn_dataset_val_count(int64_t n);
/* The fixed train/val split: a permutation perm[0..n) of which perm[0..n_val) are the validation
** indices. Exposed for tests; the seed is a constant of the library, the permutation depends on n
** only (n_val is not used). */
PN_API void pn_fmnist_split_perm(int64_t n, int64_t n_val, int64_t *perm /* OUT n entries */);

/* Write images idx[0..count) of split s into x (count x channels x height x width floats,
** normalised) and their labels into y. With prg non-NULL, each image is augmented: shifted by a
** random offset in [-pad, pad]^2 (zero padding) and, with flip, mirrored horizontally with
** probability 1/2 (all channels alike). */
PN_API void pn_dataset_batch(const struct pn_dataset *ds, enum pn_split s, const int64_t *idx,
                             int64_t count, int pad, int flip, struct pn_prg *prg, float *x, int32_t *y);

/* The normalisation a model was trained with travels in its metadata: key PN_META_NORMALIZE,
** value "MEAN STD" (written by pn_dataset_record_norm after training). */
#define PN_META_NORMALIZE "privnn.normalize"
struct pn_graph;
/* Use g's recorded normalisation for ds (absent: ds keeps its train split's). A malformed value
** (not two finite numbers, STD <= 0) is PN_ERR_CORRUPT naming the key and the value. */
PN_API int pn_dataset_use_model_norm(struct pn_ctx *ctx, struct pn_dataset *ds,
                                     const struct pn_graph *g);
/* Record ds's normalisation (and the dataset's name) in g's metadata. PN_ERR_NOMEM on failure. */
PN_API int pn_dataset_record_norm(struct pn_ctx *ctx, const struct pn_dataset *ds, struct pn_graph *g);

/* PN_OK when g's input takes ds's images ([N,C,H,W], or [N,H,W] when C = 1) and its first output,
** when its width is known, has at least ds->classes logits; else PN_ERR_INVALID saying what the
** model expects and what the dataset has (before running it, rather than a shape error at the first
** node). */
PN_API int pn_dataset_check_model(struct pn_ctx *ctx, const struct pn_graph *g,
                                  const struct pn_dataset *ds);

/* A uniformly random permutation of [0, n) from prg (Fisher-Yates). */
PN_API void pn_shuffle(struct pn_prg *prg, int64_t n, int64_t *perm /* OUT */);

#endif
