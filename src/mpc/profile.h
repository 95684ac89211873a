/* profile.h - HummingBird's range profiler: what each ReLU and MaxPool sees on plaintext inputs,
** and the error-free plan that follows from it.
**
** The model runs in the plaintext executor with a hook (graph/exec.h) that reads the input of every
** Relu and MaxPool node; nothing is stored per node name, so any number of nodes is profiled. The
** plan keeps, per node, the bit range [k, m) of the shares that holds every value seen: m covers
** 2 max|x| at the fixed-point scale (a ReLU's input x; a MaxPool's differences a - b, twice the
** range) plus a margin, k = 0 (or m - uniform for a uniform-width plan). */
#ifndef PN_MPC_PROFILE_H
#define PN_MPC_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "../graph/ir.h"
#include "hbsim.h"
#include "runner.h"
#include "../util/api.h"

struct pn_ctx;

/* One ReLU or MaxPool node, as profiled. */
struct pn_mpc_range {
  char *node;                  /* the node's label (pn_node_label), owned by the profile */
  bool relu;                   /* Relu; else MaxPool */
  double max_abs;              /* largest |x| over the node's input, every image */
  int64_t cmp_per_image;       /* secure comparisons per image: Relu one per element, MaxPool
                               ** (window - 1) per output */
  struct pn_hb_hist hist;      /* the words compared, at the profile's frac, every image: a ReLU's
                               ** inputs, a MaxPool's differences in the runner's tree (exact) */
};

struct pn_mpc_profile {
  int n;                       /* nodes profiled, in execution order */
  struct pn_mpc_range *r;
  int64_t images;              /* images run */
  int frac;                    /* fractional bits of the histograms (PN_MPC_FRAC_DEFAULT) */
};

/* Fill x (cnt images of the model's input, row-major floats) with images [first, first + cnt) of
** the caller's source. Return PN_OK or a status (with the message set in ctx). */
typedef int (*pn_mpc_images_fn)(void *user, struct pn_ctx *ctx, int64_t first, int64_t cnt,
                                float *x);

/* Run g (one float input, dim 0 the batch) on images [0, count) in batches of batch (count is
** rounded down to a multiple of batch; batch > count is taken as count) and record each Relu and
** MaxPool node's range and histogram (two nodes with one label are one entry, as a plan names
** them). g is not changed. On success *p owns arrays freed by pn_mpc_profile_free. */
PN_API int pn_mpc_profile_run(struct pn_ctx *ctx, const struct pn_graph *g, int64_t count,
                              int64_t batch, pn_mpc_images_fn images, void *user, struct pn_mpc_profile *p /* OUT */);
PN_API void pn_mpc_profile_free(struct pn_mpc_profile *p);

/* The plan from a profile at frac fractional bits: per node m = bits of 2 * range * 2^frac plus
** margin, within [2, 64]; k = m - uniform when 0 < uniform < m, else 0 (the error-free plan).
** Entries follow p's order. *bits_discarded (may be NULL) gets the fraction of share bits the plan
** does not use, weighted by comparisons per image. */
PN_API int pn_mpc_profile_plan(struct pn_ctx *ctx, const struct pn_mpc_profile *p, int frac, int margin,
                               int uniform, struct pn_mpc_plan *plan /* OUT */, double *bits_discarded);

#endif
