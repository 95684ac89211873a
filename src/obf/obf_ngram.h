/* obf_ngram.h - operator n-gram statistics (ngram.c) and sentinel generation (sentinel.c). */
#ifndef PN_OBF_NGRAM_H
#define PN_OBF_NGRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "graph/ir.h"

struct pn_ctx;
struct pn_prg;
struct pn_obf_ngram;

/* Whether node n's first output has another shape than its first input (declared types of g,
** e.g. after shape inference); false when either is unknown. */
bool pn_obf_node_reshapes(const struct pn_graph *g, const struct pn_node *n);

/* The n-gram token of a node: op type, kernel size for Conv/pools, "g" when grouped. */
void pn_obf_node_token(const struct pn_node *n, char *buf, size_t len);

struct pn_obf_ngram *pn_obf_ngram_new(void);
void pn_obf_ngram_free(struct pn_obf_ngram *m);
/* Count the unigrams (nodes), bigrams (edges) and trigrams (2-edge paths) of g. */
int pn_obf_ngram_add(struct pn_ctx *ctx, struct pn_obf_ngram *m, const struct pn_graph *g);
/* dst += weight * src (counts of every order). */
int pn_obf_ngram_merge(struct pn_ctx *ctx, struct pn_obf_ngram *dst, const struct pn_obf_ngram *src,
                       double weight);
/* The generator's statistics for one model: the model's own n-grams plus the corpus at weight
** PN_OBF_CORPUS_WEIGHT, so sentinels follow the protected model's own operator patterns. */
#define PN_OBF_CORPUS_WEIGHT 0.1
int pn_obf_ngram_for_model(struct pn_ctx *ctx, const struct pn_obf_ngram *corpus,
                           const struct pn_graph *model, struct pn_obf_ngram **out /* OUT */);
/* Mean smoothed log-probability per n-gram of g (higher = more like the corpus). */
int pn_obf_ngram_score(struct pn_ctx *ctx, const struct pn_obf_ngram *m, const struct pn_graph *g,
                       double *score /* OUT */);
/* log P(tok | prev): prev is one token (bigram) or two, older first ("Conv1 Clip": trigram when
** that pair was seen, else the bigram of the last); log P(tok) when prev is NULL. */
double pn_obf_ngram_logp_next(const struct pn_obf_ngram *m, const char *prev, const char *tok);
/* Unigram tokens and counts (borrowed); returns their number. */
int pn_obf_ngram_vocab(const struct pn_obf_ngram *m, const char ***tokens, const double **counts);
/* JSON corpus file; rebuild is the command line recorded in it. */
int pn_obf_ngram_save(struct pn_ctx *ctx, const struct pn_obf_ngram *m, const char *path,
                      const char *rebuild);
int pn_obf_ngram_load(struct pn_ctx *ctx, const char *path, struct pn_obf_ngram **out /* OUT */);

/* The zoo as a corpus: model family of a zoo name ("resnet", "vgg", "mobilenet", "bert"); a
** prepared zoo model (small = reduced input size and width,
** the same nodes and depth, for speed); the n-gram
** model of every zoo model outside exclude_family (NULL = all). */
const char *pn_obf_zoo_family(const char *model);
int pn_obf_zoo_model(struct pn_ctx *ctx, const char *name, bool small, struct pn_graph **out /* OUT */);
int pn_obf_ngram_from_zoo(struct pn_ctx *ctx, const char *exclude_family,
                          struct pn_obf_ngram **out /* OUT */);

/* Sentinels for one real part (a graph from pn_obf_extract, names not yet anonymized): k graphs
** with the part's boundary inputs and outputs (same names, dtypes and shapes), every one valid and
** runnable with weights. Topology: random vertex split/contract mutations of the part's DAG, the
** candidate closest in node count, average degree and diameter kept per round; operators from the
** n-gram model, subject to a shape/attribute solver (Conv kernels {1,3,5,7}, stride {1,2},
** pad (k-1)/2, channel counts from the real part); of the candidates that pass, the k with the
** best n-gram score are kept. out[0..k) are the caller's (pn_graph_free). PN_ERR_UNSUPPORTED when
** fewer than k valid sentinels could be found. */
int pn_obf_sentinels(struct pn_ctx *ctx, const struct pn_graph *part, const struct pn_obf_ngram *m,
                     int k, struct pn_prg *prg, struct pn_graph **out /* OUT [k] */);

/* Structural features used to match topologies: node count, average degree 2E/n, diameter (the
** longest path in edges). */
void pn_obf_graph_features(const struct pn_graph *g, double feat[3]);

/* ---- attack evaluation (attack.c) ---- */

#define PN_OBF_ATTACK_MAX_FEATURES 64

struct pn_obf_attack_opts {
  int part_size;               /* 0 = PN_OBF_DEFAULT_PART_SIZE */
  int k;                       /* sentinels per part, > 0 */
  const struct pn_obf_ngram *ngram; /* the owner's corpus, used to generate sentinels */
  void (*progress)(void *user, int done, int total); /* may be NULL */
  void *progress_user;
};

struct pn_obf_attack_result {
  const char *model;
  int parts, k, trained_on;    /* trained_on: samples of the other families */
  double ngram_auc, ngram_specificity; /* n-gram likelihood ranker */
  double clf_auc, clf_specificity;     /* logistic regression on opcode/shape/attr/weight features */
  double medoid_auc, medoid_specificity; /* the file closest to the others of its boundary group */
  double specificity, auc;     /* of the stronger adversary (higher specificity) */
  double log10_candidates;     /* parts * log10(1 + (1 - specificity) k) */
  /* what gives sentinels away: the AUC of each feature alone (better orientation) on this model */
  int n_features;
  const char *feature[PN_OBF_ATTACK_MAX_FEATURES];
  double feature_auc[PN_OBF_ATTACK_MAX_FEATURES];
};

/* Simulate split on each zoo model (reduced input size, same structure), then per model train
** both adversaries on the other model families and score its bundle. res[0..n_models). */
int pn_obf_attack(struct pn_ctx *ctx, const char *const *models, int n_models,
                  const struct pn_obf_attack_opts *opts, struct pn_prg *prg,
                  struct pn_obf_attack_result *res /* OUT [n_models] */);

/* Area under the ROC curve of scores (real = positive), ties counted half. */
double pn_obf_auc(const double *score, const bool *real, int n);
/* Share of sentinels scored below the threshold that keeps a `recall` share of real parts. */
double pn_obf_specificity(const double *score, const bool *real, int n, double recall);

#endif
