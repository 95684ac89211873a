/* sentinel_impl.h - the topology the sentinel generator mutates (sentinel_topo.c), internal to
** src/obf: a part's node DAG with at most two predecessors per node (a Concat up to MAXP). */
#ifndef PN_OBF_SENTINEL_IMPL_H
#define PN_OBF_SENTINEL_IMPL_H

#include <stdbool.h>

#include "graph/ir.h"

#define MAXP 64                /* inputs per generated Concat (other nodes: 2) */
/* Share of a part's sentinels (at least one) that must have other operators than the real part,
** when candidates allow: the rest go by realism alone (see sentinels_from). */
#define PN_OBF_SENTINEL_DIFFER 0.0

struct topo {
  int n, cap;
  int *np;                     /* [cap] number of predecessors */
  int (*pred)[MAXP];           /* [cap][MAXP] predecessor node indices (< own index) */
  int *bin;                    /* [cap] boundary input the node read in the real part, or -1 */
  int *orig;                   /* [cap] the real part's node this one descends from, or -1 (split) */
  unsigned char *reshape;      /* [cap] 1 if that real node changes its input's shape */
  signed char *cat;            /* [cap] concatenation axis if the node is a real Concat, else -1 */
  int (*cbin)[MAXP];           /* [cap][MAXP] a real Concat's boundary inputs (ncb[v] of them) */
  int *ncb;
  unsigned char *bcast;        /* [cap] 1 if a real two-input elementwise op that broadcasts */
  unsigned char *sq;           /* [cap] 1 if a real Add or Mul of one value with itself (x * x) */
};

/* Inputs a node may have: a Concat up to MAXP, others two (elementwise) */
static inline int lim(const struct topo *t, int v) { return t->cat[v] >= 0 ? MAXP : 2; }

void pn_stopo_free(struct topo *t);
int pn_stopo_init(struct topo *t, int cap);
void pn_stopo_copy(struct topo *d, const struct topo *s);
/* Split v: a new node right after v reads v; v's readers read the new node instead. */
void pn_stopo_split(struct topo *t, int v);
/* Contract v (exactly one predecessor u) into u; false when v cannot be contracted. */
bool pn_stopo_contract(struct topo *t, int v);
/* Node count, average degree 2E/n, diameter. */
void pn_stopo_features(const struct topo *t, double f[3]);
/* The real part's DAG as a topo (nodes in the part's order, at most lim() predecessors kept). */
int pn_stopo_from_part(const struct pn_graph *p, struct topo *t);

struct pn_obf_wspec;
/* Rescale d's inner widths (sentinel_width.c): every width set (the channels of values only
** channel-wise operators pass on, from the weight operators that produce them to those that contract
** them) takes the width round(c * factor) on a grid, other than c; its weights and per-channel
** constants are resized (their data pointed at zeros(zctx, bytes)) and their specs in fill follow
** (a contracted weight's spread its new fan-in). d's shapes must infer. Returns the number of sets
** resized, -1 when out of memory, -2 when d no longer validates. */
int pn_swidth_apply(struct pn_graph *d, struct pn_obf_wspec *fill, double factor,
                    const void *(*zeros)(void *zctx, size_t n), void *zctx);

#endif
