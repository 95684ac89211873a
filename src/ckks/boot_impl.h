/* boot_impl.h - internals of the bootstrapping files: DFT factors, EvalMod plan, keys, context. */
#ifndef PN_CKKS_BOOT_IMPL_H
#define PN_CKKS_BOOT_IMPL_H

#include <complex.h>

#include "ckks/boot.h"
#include "ckks/ckks_impl.h"

/* One DFT factor as a baby-step giant-step plan: M v = sum_g rot_g( sum_b D_(g,b) (.) rot_b(v) ), with
** D_(g,b) = rot_-g(diag_(g+b)). Rotation steps are in slots, normalised to [0, n). */
struct pn_boot_lt {
  int nbaby, ngiant;
  int *baby, *giant;          /* steps */
  double complex **diag;      /* [g * nbaby + b]: n values, NULL when the diagonal is zero */
  double cf;                  /* the factor's constant: encoded as diag at scale q_level * cf * gain */
  int level;                  /* level of the bootstrap circuit it runs at (-1: none) */
  double gain;                /* declared scale multiplied by this */
  uint64_t **pt;              /* precomputed plaintexts at `level` ((level + 1) N words each), or NULL */
};

/* A DFT: stc or cts, as factors applied in order. */
struct pn_boot_dft {
  size_t n;                   /* slots */
  int nf;
  struct pn_boot_lt f[16];
};

/* The EvalMod plan: Chebyshev coefficients of cos(2 pi K' sqrt((u + 1) / 2) / 2^r - ...) in u, degrees. */
struct pn_boot_mod {
  double kp;               /* K' = K + 3/4 */
  int K;
  int deg, r, asin_deg;
  double cheb[128];        /* coefficients in T_j(u) */
  int cheb_depth;
};

struct pn_ckks_boot_keys {
  uint8_t fp[32];                /* context fingerprint */
  struct pn_ckks_boot_params bp; /* what they were made for */
  struct pn_ckks_gk *gk;         /* rotations (each key for the levels it is used at) and conjugation */
  int nd;                        /* dense -> sparse gadget key modulo q_0: digits */
  uint8_t d2s_seed[32];          /* a_i expanded from it */
  uint64_t *d2s_b, *d2s_a;       /* nd limbs each mod q_0, NTT form: b_i = -a_i s' + e_i + B^i s */
  struct pn_ckks_swk *s2d;       /* sparse -> dense, every level */
};

struct pn_ckks_boot {
  const struct pn_ckks_context *c;
  struct pn_ckks_boot_params bp;
  const struct pn_ckks_swk *rk;
  const struct pn_ckks_boot_keys *bk;
  size_t n;                       /* slots */
  int gap;                        /* N / (2n) */
  int lin, lout, lcts, lmod;      /* input level, output level, CtS start (top), EvalMod start */
  struct pn_boot_dft stc, cts;
  struct pn_boot_mod mod;
  double cts_const;
  size_t pt_bytes;
  int keyswitches;
};

/* boot_dft.c */
/* Build the factors of SlotToCoeff (U BR, unnormalised layers) or CoeffToSlot (cts_const BR U^-1) for n
** slots, split into nf factors chosen to minimise key switchings. */
int pn_boot_dft_build(struct pn_ctx *ctx, const struct pn_ckks_context *c, size_t n, int nf, int inverse,
                      double total_const, struct pn_boot_dft *d);
void pn_boot_dft_free(struct pn_boot_dft *d);
/* Precompute the plaintexts of factor i for its level (returns bytes used). */
int pn_boot_dft_precompute(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_boot_dft *d, size_t *bytes);
/* Apply all factors to in (each one level); declared scales multiply by the factors' gains. */
int pn_boot_dft_apply(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                      const struct pn_boot_dft *d, const struct pn_ckks_ct *in, struct pn_ckks_ct *out, int *ks);
/* Collect the rotation steps of d into steps/levels (union; the level a step is used at, the max kept). */
void pn_boot_dft_steps(const struct pn_boot_dft *d, int top_level, int *steps, int *levels, int *count, int max);
/* Count of key switchings of one application. */
int pn_boot_dft_keyswitches(const struct pn_boot_dft *d);

/* boot_mod.c */
int pn_boot_mod_init(struct pn_ctx *ctx, const struct pn_ckks_boot_params *bp, struct pn_boot_mod *m);
/* levels: 1 (u) + Chebyshev depth + r + (asin ? 2 : 0) */
int pn_boot_mod_levels(const struct pn_boot_mod *m);
int pn_boot_mod_eval(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *rk,
                     const struct pn_boot_mod *m, const struct pn_ckks_ct *in, double ratio, double scale,
                     struct pn_ckks_ct *out);
double pn_boot_mod_plain(const struct pn_boot_mod *m, double t, double ratio);

/* boot.c */
/* Digits of the dense -> sparse gadget key: balanced base-2^w digits of a value mod q_0. */
int pn_boot_eph_digits(const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp);
/* Expand the a_i of the dense -> sparse key from its seed. */
int pn_boot_d2s_expand(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_ckks_boot_keys *bk);
/* The keys belong to c and bp and hold every rotation at the level it is used at (PN_ERR_MISMATCH). */
int pn_boot_keys_check(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                       const struct pn_ckks_boot_keys *bk);
/* Check bp against c (levels fit, slots, sizes): PN_ERR_INVALID with a message. */
int pn_boot_check_params(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp);
/* Levels of the chain: input (S), output, CtS start, EvalMod start. */
void pn_boot_levels(const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp, int *lin, int *lout,
                    int *lcts, int *lmod);

#endif
