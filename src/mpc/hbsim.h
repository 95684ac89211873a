/* hbsim.h - HummingBird's reduced-ring sign on plaintext values, and a plan run inside the
** plaintext executor (the search) or autograd (fine-tuning).
**
** The protocol shares a value at fixed point X = enc(x) as (X + r, -r) and each party keeps bits
** [k, m) of its share; with n = m - k >= 1 the sign it computes is bit n-1 of ((X >> k) - c)
** mod 2^n, where c is the carry lost from the low k bits: c = 1 exactly when u = r mod 2^k is
** non-zero and u + (X mod 2^k) < 2^k (the error theory of docs/mpc.md). The simulation draws u from
** the seeded AES-CTR PRG for every comparison, so the signs it reads have exactly the protocol's
** distribution; tests/mpc/test_mpc_search.c compares it with the two-party protocol on the same
** shares. ReLU outputs x or 0 and max(a, b) picks a or b, as the protocol's do; MaxPool follows the
** runner's tree (pairs (i, half + i) of the window's offsets, an odd last one carried up). */
#ifndef PN_MPC_HBSIM_H
#define PN_MPC_HBSIM_H

#include <stdbool.h>
#include <stdint.h>

#include "../graph/exec.h"
#include "../graph/ir.h"
#include "runner.h"
#include "../nn/autograd.h"
#include "../util/api.h"
#include "../util/prg.h"

struct pn_window; /* graph/window.h, internal */

/* The sign bit (1 = negative) HummingBird [k, m), 1 <= m - k <= 64, reads for the fixed-point word
** X when the low k bits of the random share mask are u (u < 2^k). */
static inline unsigned pn_hb_sign(uint64_t X, uint64_t u, int k, int m) {
  uint64_t lo = X & (((uint64_t)1 << k) - 1); /* k <= 63 here */
  uint64_t c = u != 0 && u + lo < ((uint64_t)1 << k);
  return (unsigned)((((X >> k) - c) >> (m - k - 1)) & 1);
}

/* A histogram of the fixed-point words a sign is computed on (a ReLU's inputs, a MaxPool
** comparison's differences a - b): per sign (0: X >= 0, 1: X < 0, by |X|) and octave bin
** (0: X = 0; j = 1..64: 2^(j-1) <= |X| < 2^j) the count and the sums of |X|, X^2 and |X|^3. */
#define PN_HB_BINS 65
struct pn_hb_hist {
  double n[2][PN_HB_BINS], s1[2][PN_HB_BINS], s2[2][PN_HB_BINS], s3[2][PN_HB_BINS];
};
PN_API void pn_hb_hist_add(struct pn_hb_hist *h, uint64_t X);
PN_API void pn_hb_hist_merge(struct pn_hb_hist *dst, const struct pn_hb_hist *src);

/* A range: k < 0 is the exact sign (full-bit); k == m the identity (n = 0). */
struct pn_hb_range {
  int k, m;
};

/* ReLU of n values: y[i] = x[i] or 0 by the sign of enc(x[i]) (range as above; draws from prg
** when the range reduces anything). Counts the signs read wrong into *wrong (may be NULL). y and
** x do not overlap. */
PN_API void pn_hb_relu(const float *x, float *y, int64_t n, int frac, struct pn_hb_range rg,
                struct pn_prg *prg, uint64_t *wrong);

/* The runner's MaxPool tree on `planes` planes of one image: x[planes][w->in[0]][w->in[1]] ->
** y[planes][w->out[0]][w->out[1]] (2-D windows; a padded offset repeats the window's first valid
** element). Each comparison's difference a - b goes into h (may be NULL); arg (may be NULL)
** gets each output's flat input offset within its plane. Returns the number of comparisons, or
** -1 when the window has no valid element or more than 4096 offsets. */
PN_API int64_t pn_hb_maxpool(const struct pn_window *w, int64_t planes, const float *x, float *y,
                      int32_t *arg, int frac, struct pn_hb_range rg, struct pn_prg *prg,
                      struct pn_hb_hist *h, uint64_t *wrong);

/* The window of a MaxPool node for a 4-D input dims (graph/window.h); errors name the node. */
PN_API int pn_hb_pool_window(struct pn_ctx *ctx, const struct pn_node *node, int64_t opset,
                      const int64_t dims[4], struct pn_window *w /* OUT */);

/* ---- a plan run in the plaintext executor or autograd ---- */
struct pn_hb_sim;

/* A simulator for the ReLU and MaxPool nodes of g (for its opset; g need not outlive it): every
** node exact until set. Draws come from seed: image i of the current stream draws from
** (seed, node label, stream, i), so results do not depend on batching. */
PN_API int pn_hb_sim_new(struct pn_ctx *ctx, const struct pn_graph *g, const uint8_t seed[PN_SEED_BYTES],
                  int frac, struct pn_hb_sim **out /* OUT */);
PN_API void pn_hb_sim_free(struct pn_hb_sim *s);
/* Simulate the node labelled `label` with rg (k < 0: exact). PN_ERR_NOMEM only. */
PN_API int pn_hb_sim_set(struct pn_hb_sim *s, const char *label, struct pn_hb_range rg);
/* Every node exact, then the plan's entries. */
PN_API int pn_hb_sim_set_plan(struct pn_hb_sim *s, const struct pn_mpc_plan *plan);
PN_API void pn_hb_sim_clear(struct pn_hb_sim *s);
/* The next forward's first image is `image` of stream `stream`. Without a seek, each forward
** continues where the last ended; autograd forwards in training mode continue their own count,
** and each run of inference forwards after training starts again at image 0 of a stream of its
** own (so every validation pass sees the same draws). */
PN_API void pn_hb_sim_seek(struct pn_hb_sim *s, uint32_t stream, uint64_t image);
/* Signs read wrong and comparisons simulated (ranges other than exact) since the last call;
** both reset. */
PN_API void pn_hb_sim_counts(struct pn_hb_sim *s, uint64_t *wrong, uint64_t *compared);

/* The hooks: user = the simulator. */
PN_API int pn_hb_sim_exec_hook(void *user, struct pn_ctx *ctx, struct pn_exec_step *st);
PN_API int pn_hb_sim_ag_hook(void *user, struct pn_ctx *ctx, const struct pn_ag_step *st);

#endif
