/* obf.h - Proteus: hide a model's architecture from an untrusted graph optimizer.
**
** The owner prepares the model (Constant nodes to initializers, BatchNormalization folded into
** Conv, Identity/Dropout removed), cuts it into an acyclic DAG of parts of about P nodes
** (partition.c), exports each part as a standalone ONNX model whose boundary values are its graph
** inputs and outputs (part.c), anonymizes every part (random names, random weights of the same
** shapes and distribution, random topological order, no metadata) and writes a bundle folder plus a
** secret manifest (bundle.c). After the optimizer has rewritten the bundle, join takes only the
** real parts, maps boundary tensors back by name, restores the real weights by name, sorts and
** verifies the reassembled model against the original on random inputs. */
#ifndef PN_OBF_H
#define PN_OBF_H

#include <stdbool.h>
#include <stdint.h>

#include "../graph/ir.h"
#include "../util/api.h"

struct pn_ctx;
struct pn_prg;

#define PN_OBF_DEFAULT_PART_SIZE 16
#define PN_OBF_DEFAULT_TRIES 16

/* ---- preparation and partition (partition.c) ---- */

/* Rewrite g in place into the form Proteus cuts: Constant nodes to initializers, BN folded into
** Conv, nodes of constant inputs folded (pn_pass_fold_constants: else an optimizer would fold them
** inside a part, deriving a weight from the decoys join cannot restore, e.g. a Transformer's
** Gather of position embeddings at constant ids), Identity/Dropout removed, unused initializers
** pruned, shapes inferred, nodes sorted.
** Deterministic: join re-runs it on the owner's model to find the real (folded) weights again. */
PN_API int pn_obf_prepare(struct pn_ctx *ctx, struct pn_graph *g);

/* An assignment of every node of a graph to a part. Parts are numbered in a topological order of
** the part DAG: every edge between nodes goes from a part to the same or a higher-numbered part. */
struct pn_obf_partition {
  int n_nodes;
  int n_parts;
  int *part_of;                /* [n_nodes] */
  int *size;                   /* [n_parts] nodes per part */
  double spread;               /* standard deviation of the part sizes */
};
PN_API void pn_obf_partition_free(struct pn_obf_partition *p);

/* Cut g (nodes topologically sorted, e.g. after pn_obf_prepare) into parts of about part_size
** nodes by randomized contraction: fusible chains (Conv->BN->Relu, MatMul->Add, LayerNorm and
** GELU chains, decomposed or not) are merged first, then random edges (weight 1/(|A|+|B|)) are
** contracted whenever the merge keeps the part graph acyclic, until about n/part_size parts
** remain. The best of `tries` runs by size spread is kept. */
PN_API int pn_obf_partition(struct pn_ctx *ctx, const struct pn_graph *g, int part_size, int tries,
                            struct pn_prg *prg, struct pn_obf_partition *out /* OUT */);

/* Check p against g: every node in exactly one part, sizes consistent, no edge going to a
** lower-numbered part (hence acyclic). PN_ERR_INVALID naming the offending node. */
PN_API int pn_obf_partition_check(struct pn_ctx *ctx, const struct pn_graph *g,
                                  const struct pn_obf_partition *p);

/* Node indices of g in topological order into order[0..n_nodes). With prg, ties are broken at
** random (a random topological order); without, the order is stable. PN_ERR_INVALID on a cycle or
** an input nothing produces. */
PN_API int pn_obf_topo_order(struct pn_ctx *ctx, const struct pn_graph *g, struct pn_prg *prg,
                             int *order);
/* Reorder g->nodes by pn_obf_topo_order. */
PN_API int pn_obf_topo_sort(struct pn_ctx *ctx, struct pn_graph *g, struct pn_prg *prg);

/* ---- parts (part.c) ---- */

/* Part `part` of p as a standalone model: its nodes, the initializers they read, graph inputs for
** every value it reads that is produced elsewhere (or is a model input), graph outputs for every
** value it produces that is read elsewhere (or is a model output). Names stay the model's. Shapes
** come from g's value info (pn_obf_prepare infers them). *out is the caller's (pn_graph_free). */
PN_API int pn_obf_extract(struct pn_ctx *ctx, const struct pn_graph *g,
                          const struct pn_obf_partition *p,
                          int part, struct pn_graph **out /* OUT */);

/* A name map from one namespace to another (both arrays of n arena or static strings). */
struct pn_obf_names {
  int n;
  const char **from, **to;
};

/* Anonymize a part: random node/value/initializer names (hex, from prg), no doc strings, metadata,
** graph or producer names, one opset (ai.onnx `opset`), a random topological order, and float
** initializers with more than one element replaced by random values of the same shape, mean and
** standard deviation (non-negative tensors stay non-negative). Integer initializers (shapes, axes)
** and scalars (eps, GELU constants) keep their values: they are operator constants, not weights.
** *out is the anonymous model; io (boundary inputs then outputs) and weights map anonymous names to
** the part's names; both arrays live in (*out)->arena. */
PN_API int pn_obf_anonymize(struct pn_ctx *ctx, const struct pn_graph *part, int64_t opset,
                            struct pn_prg *prg, struct pn_graph **out /* OUT */,
                            struct pn_obf_names *io /* OUT */, struct pn_obf_names *weights /* OUT */);

/* Mean, sample standard deviation (0 for fewer than two elements) and whether every element is
** >= 0, of a float tensor: the statistics decoy weights copy, sentinels draw from and the attack's
** adversary sees. */
PN_API void pn_obf_weight_stats(const struct pn_tensor *t, double *mean, double *sd, bool *nonneg);

/* One real part as the optimizer returned it, with the owner's maps. */
struct pn_obf_join_part {
  const struct pn_graph *g;    /* optimized anonymous part */
  const char *label;           /* for messages (file name) */
  struct pn_obf_names io;      /* anonymous boundary name -> model value name */
  int n_in;                    /* io entries [0, n_in) are the part's inputs, the rest outputs */
  struct pn_obf_names weights; /* anonymous initializer name -> model initializer name */
};

/* Reassemble: boundary values renamed back, internal names made unique per part, initializers
** named in `weights` replaced by the real ones of `real` (the prepared model; shapes must match),
** opset imports merged, inputs/outputs as in `real`, nodes sorted. A boundary value a part lacks,
** with another dtype or shape, or an initializer derived from decoy weights is PN_ERR_MISMATCH.
** The real weights are shared with `real`, not copied (pn_graph_add_init_shared): free *out before
** real. Nothing of the parts is kept. */
PN_API int pn_obf_join_parts(struct pn_ctx *ctx, const struct pn_graph *real,
                             const struct pn_obf_join_part *parts, int n_parts,
                             struct pn_graph **out /* OUT */);
/* pn_obf_join_parts a part at a time, so that each part can be freed once added: begin makes the
** empty model with real's inputs and outputs, add merges parts[index] (in index order 0, 1, ...),
** end checks that every output is produced and sorts the nodes. On failure the caller frees *d. */
PN_API int pn_obf_join_begin(struct pn_ctx *ctx, const struct pn_graph *real, struct pn_graph **d /* OUT */);
PN_API int pn_obf_join_add(struct pn_ctx *ctx, struct pn_graph *d, const struct pn_graph *real,
                           const struct pn_obf_join_part *part, int index);
PN_API int pn_obf_join_end(struct pn_ctx *ctx, struct pn_graph *d);

/* Run a and b on the same random inputs (seeded by prg) and report the largest absolute difference
** of their outputs and the largest magnitude of a's outputs (max_abs_ref may be NULL). Inputs and
** outputs are matched by name. */
PN_API int pn_obf_compare(struct pn_ctx *ctx, struct pn_graph *a, struct pn_graph *b,
                          struct pn_prg *prg,
                          int runs, double *max_abs_err /* OUT */, double *max_abs_ref /* OUT */);

/* ---- contrib ops (lower.c) ---- */

/* Rewrite ONNX Runtime's com.microsoft FusedConv, FusedGemm, FusedMatMul, Gelu, BiasGelu, FastGelu
** and SkipLayerNormalization nodes into standard ONNX ops (same output names) so privnn's executor
** can check a model ONNX Runtime optimized; opset imports of domains no node uses are dropped.
** Other contrib ops are PN_ERR_UNSUPPORTED. *count (may be NULL) receives the number of nodes
** lowered; the graph is left topologically sorted. */
PN_API int pn_obf_lower_contrib(struct pn_ctx *ctx, struct pn_graph *g, int *count);

/* ---- bundle and secret manifest (bundle.c) ---- */

/* The operator n-gram corpus sentinels are drawn from (ngram.c): counts of operator unigrams,
** bigrams and trigrams over models. */
struct pn_obf_ngram;
PN_API struct pn_obf_ngram *pn_obf_ngram_new(void);
PN_API void pn_obf_ngram_free(struct pn_obf_ngram *m);
/* Count the unigrams (nodes), bigrams (edges) and trigrams (2-edge paths) of g. */
PN_API int pn_obf_ngram_add(struct pn_ctx *ctx, struct pn_obf_ngram *m, const struct pn_graph *g);
/* dst += weight * src (counts of every order). */
PN_API int pn_obf_ngram_merge(struct pn_ctx *ctx, struct pn_obf_ngram *dst,
                              const struct pn_obf_ngram *src,
                              double weight);
/* JSON corpus file; rebuild is the command line recorded in it. */
PN_API int pn_obf_ngram_save(struct pn_ctx *ctx, const struct pn_obf_ngram *m, const char *path,
                             const char *rebuild);
PN_API int pn_obf_ngram_load(struct pn_ctx *ctx, const char *path, struct pn_obf_ngram **out /* OUT */);

/* The zoo as a corpus: model family of a zoo name ("resnet", "vgg", "mobilenet", "bert"); a
** prepared zoo model (small = reduced input size and width,
** the same nodes and depth, for speed); the n-gram
** model of every zoo model outside exclude_family (NULL = all). */
PN_API const char *pn_obf_zoo_family(const char *model);
PN_API int pn_obf_zoo_model(struct pn_ctx *ctx, const char *name, bool small,
                            struct pn_graph **out /* OUT */);
PN_API int pn_obf_ngram_from_zoo(struct pn_ctx *ctx, const char *exclude_family,
                                 struct pn_obf_ngram **out /* OUT */);

struct pn_obf_split_opts {
  int part_size;               /* P; 0 = PN_OBF_DEFAULT_PART_SIZE */
  int tries;                   /* 0 = PN_OBF_DEFAULT_TRIES */
  int k;                       /* sentinels per real part (0 = none) */
  int64_t opset;               /* opset of every part; 0 = the model's ai.onnx opset */
  const struct pn_obf_ngram *ngram; /* operator statistics for sentinels; required when k > 0 */
  /* Optional hooks, given progress_user back. progress: `done` of `total` parts written (k + 1
  ** files each; total is 0 while the model is still being partitioned), step names what runs
  ** now or is NULL. before_write: once, before the first file is written, with the estimated
  ** bundle size ((k + 1) x the prepared model's initializer bytes, as sentinels draw weights of
  ** their real part's sizes) and the bytes free on the bundle's file system (UINT64_MAX if
  ** unknown), e.g. to warn about a bundle of many GB. */
  void (*progress)(void *user, int64_t done, int64_t total, const char *step);
  void (*before_write)(void *user, uint64_t estimate_bytes, uint64_t free_bytes);
  void *progress_user;
};

struct pn_obf_split_stats {
  int n_nodes, n_parts, n_files;
  double spread, seconds;
  /* sentinels that copy their real part's structure because too few generated ones passed (see
  ** pn_obf_sentinels), over how many parts, and the first such part's reason */
  int copies, parts_with_copies;
  const char *copies_why;
  /* generated sentinels with their real part's structure (twins), and the distinct structures other
  ** than the real part's among each part's sentinels, summed over parts (pn_obf_distinct_structures):
  ** the candidates a part's real structure hides among */
  int twins, distinct;
  uint64_t bundle_bytes;       /* the size of the files written */
  uint64_t estimate_bytes;     /* what before_write was told */
};

/* Bundles above this size get a warning before split writes them (pn_obf_split_warning). */
#define PN_OBF_SPLIT_WARN_BYTES (4ull << 30)
/* The warning to give before writing a bundle of about estimate bytes (before_write's figures) into
** bundle with avail bytes free (UINT64_MAX: unknown): when it will not fit, or is above limit (0 =
** PN_OBF_SPLIT_WARN_BYTES). Writes one sentence (no newline) into buf[0..cap) and returns 1; else
** returns 0 with buf "". */
PN_API int pn_obf_split_warning(char *buf, size_t cap, uint64_t estimate, uint64_t avail, uint64_t limit,
                                int k, const char *bundle);

/* Split the model at model_path into bundle_dir (created; must be empty or absent): per real part
** the part and k sentinels, anonymized, in a random order, all files with one modification time.
** Write the secret manifest to secret_path with mode 0600. On failure nothing is left behind:
** files written are removed, and the folder too when split created it. */
PN_API int pn_obf_split(struct pn_ctx *ctx, const char *model_path, const char *bundle_dir,
                        const char *secret_path, const struct pn_obf_split_opts *opts, struct pn_prg *prg,
                        struct pn_obf_split_stats *stats /* OUT, may be NULL */);

#define PN_OBF_DEFAULT_JOIN_TOL 1e-4

struct pn_obf_join_opts {
  const char *model_path;      /* the owner's model; NULL = the path the secret records */
  double tol;                  /* relative tolerance of the check; 0 = PN_OBF_DEFAULT_JOIN_TOL */
  bool lower;                  /* save the model with the optimizer's contrib ops lowered to
                               ** standard ONNX ops (pn_obf_lower_contrib): ai.onnx ops only */
  /* Optional: `done` of `total` real parts loaded; step names what runs now ("reassembling",
  ** "verifying on random inputs", "saving") or is NULL. Given progress_user back. */
  void (*progress)(void *user, int64_t done, int64_t total, const char *step);
  void *progress_user;
};

struct pn_obf_join_stats {
  int n_parts;
  double max_abs_err, max_abs_ref, seconds;
  int contrib_nodes;           /* the optimizer's com.microsoft nodes in the reassembled model */
  bool lowered;                /* they were lowered to standard ops in the saved model */
};

/* The secret manifest, parsed and checked: the owner's model (path, SHA-256) and, per real part in
** order, its file name in the bundle (label) and its name maps; g is NULL. Strings point into the
** JSON tree the secret owns. */
struct cJSON;
struct pn_obf_secret {
  struct cJSON *json;
  const char *model_path, *model_sha256;
  int n_parts;
  struct pn_obf_join_part *parts;
};
/* Check a parsed manifest (name for messages) and take ownership of root, also on failure (then
** freed). Anything malformed is PN_ERR_CORRUPT naming the field; another format version is
** PN_ERR_UNSUPPORTED. Free with pn_obf_secret_free. */
PN_API int pn_obf_secret_from_json(struct pn_ctx *ctx, const char *name, struct cJSON *root,
                                   struct pn_obf_secret *out /* OUT */);
/* Read and check the manifest at path. */
PN_API int pn_obf_secret_load(struct pn_ctx *ctx, const char *path,
                              struct pn_obf_secret *out /* OUT */);
PN_API void pn_obf_secret_free(struct pn_obf_secret *s);

/* Read the secret, load the owner's model it names (opts->model_path overrides the recorded path;
** its SHA-256 must match), take the real parts from bundle_dir, reassemble, verify against the
** model on random inputs (max abs error above tol * max(1, largest output magnitude) is
** PN_ERR_MISMATCH) and save to out_path: as the optimizer wrote the parts (contrib ops kept for
** ONNX Runtime), or with opts->lower in standard ONNX ops only. opts may be NULL (defaults). */
PN_API int pn_obf_join(struct pn_ctx *ctx, const char *secret_path, const char *bundle_dir,
                       const char *out_path, const struct pn_obf_join_opts *opts, struct pn_prg *prg,
                       struct pn_obf_join_stats *stats /* OUT, may be NULL */);

#endif
