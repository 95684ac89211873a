/* dataset.h - gzipped IDX files and the Fashion-MNIST dataset: fixed train/val split, batches.
**
** The dataset is read from Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/).
** The 60,000 training images are split once, by a fixed seed, into train (55,000) and validation
** (5,000); the 10,000 test images are only for final reporting. Images are normalised with the
** mean/std of the train split; training batches may be augmented (random crop with padding,
** horizontal flip) from a seeded PRG. */
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
  uint8_t *images[PN_SPLIT_COUNT];    /* n * 784 raw pixels */
  uint8_t *labels[PN_SPLIT_COUNT];    /* n labels in [0, 10) */
  float mean, std;                    /* of the train split's pixels scaled to [0, 1] */
};

/* Load Fashion-MNIST from dir (NULL = PN_FMNIST_DIR) and split it. Errors name the file and the
** Debian package that provides it. Free with pn_dataset_free. */
PN_API int pn_dataset_load(struct pn_ctx *ctx, const char *dir, struct pn_dataset *ds /* OUT */);
/* Build a dataset from raw arrays (tests): train/val/test counts and pixels are copied. */
PN_API int pn_dataset_from_arrays(struct pn_ctx *ctx, const int64_t n[PN_SPLIT_COUNT],
                                  const uint8_t *const images[PN_SPLIT_COUNT],
                                  const uint8_t *const labels[PN_SPLIT_COUNT],
                                  struct pn_dataset *ds /* OUT */);
PN_API void pn_dataset_free(struct pn_dataset *ds);

/* The fixed train/val split: perm[0..60000) with perm[0..5000) the validation indices. Exposed for
** tests; the seed is a constant of the library. */
PN_API void pn_fmnist_split_perm(int64_t n, int64_t n_val, int64_t *perm /* OUT n entries */);

/* Write images idx[0..count) of split s into x (count x 1 x 28 x 28 floats, normalised) and their
** labels into y. With prg non-NULL, each image is augmented: shifted by a random offset in
** [-pad, pad]^2 (zero padding) and, with flip, mirrored horizontally with probability 1/2. */
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

/* PN_OK when g's input takes the dataset's images ([N,1,28,28] or [N,28,28]); else PN_ERR_INVALID
** naming the shape the model takes (before running it, rather than a shape error at the first node). */
PN_API int pn_dataset_check_model(struct pn_ctx *ctx, const struct pn_graph *g);

/* A uniformly random permutation of [0, n) from prg (Fisher-Yates). */
PN_API void pn_shuffle(struct pn_prg *prg, int64_t n, int64_t *perm /* OUT */);

#endif
