/* ckks_impl.h - internals shared by the ckks_*.c files: the context's precomputations and key layouts. */
#ifndef PN_CKKS_IMPL_H
#define PN_CKKS_IMPL_H

#include <stdatomic.h>
#include <string.h>

#include "ckks/ckks.h"
#include "ckks/ring.h"

struct pn_crt;

/* Scratch buffers reused across operations (page faults of fresh large allocations cost as much as the
** arithmetic). A slot is taken with its atomic flag; when all are busy, plain malloc is used. */
#define PN_CKKS_SCRATCH_SLOTS 6
struct pn_ckks_scratch {
  atomic_flag busy;
  void *p;
  size_t size;
};

/* Recycled ciphertext buffers (2 nq N words each), reference-counted by the context and by every ciphertext
** holding one, so either may be freed first. It keeps at most `keep` free buffers (pn_ckks_ct_pool_set); a
** buffer the pool cannot hand out is a fresh allocation (`fresh` counts them), whose pages the kernel faults in
** at first touch. */
#define PN_CKKS_POOL_MAX 4096
struct pn_ckks_pool {
  atomic_int refs;
  atomic_flag lock;
  size_t words;    /* per buffer */
  int keep;        /* free buffers kept at most */
  int count;       /* free buffers held now */
  int peak;        /* most free buffers held at once */
  int64_t fresh;   /* buffers allocated fresh */
  int cap;         /* room in bufs */
  uint64_t **bufs;
};
struct pn_ckks_pool *pn_ckks_pool_new(size_t words, int keep);
void pn_ckks_pool_unref(struct pn_ckks_pool *p);

struct pn_ckks_context {
  struct pn_ckks_params p;
  int logn;
  size_t n, slots;
  int nq, np, nt;                         /* nt = nq + np; prime index nq + k is special prime k */
  int dnum, alpha;                        /* digits of alpha primes (the last may be shorter) */
  struct pn_mod mod[PN_CKKS_MAX_PRIMES * 2];
  struct pn_ntt ntt[PN_CKKS_MAX_PRIMES * 2];
  /* rescale: qlinv[l * nq + i] = q_l^-1 mod q_i (i < l), Shoup in qlinvs */
  uint64_t *qlinv, *qlinvs;
  /* key switching: P mod q_i, P^-1 mod q_i (+ Shoup) */
  uint64_t pmodq[PN_CKKS_MAX_PRIMES], pinv[PN_CKKS_MAX_PRIMES], pinvs[PN_CKKS_MAX_PRIMES];
  struct pn_crt *crt[PN_CKKS_MAX_PRIMES]; /* CRT over q_0..q_l for decoding at level l */
  double complex *ksi;                    /* exp(2 pi i k / 2N), k = 0..2N */
  uint64_t *rotgroup;                     /* 5^j mod 2N, j < slots */
  double scale;
  double logqp;
  uint8_t fp[32];
  struct pn_ckks_scratch scratch[PN_CKKS_SCRATCH_SLOTS]; /* mutable through a const context */
  struct pn_ckks_pool *pool;              /* ciphertext buffers */
};

/* A buffer of at least `bytes` (NULL when out of memory); give it back with pn_ckks_scratch_put. */
void *pn_ckks_scratch_get(const struct pn_ckks_context *c, size_t bytes);
void pn_ckks_scratch_put(const struct pn_ckks_context *c, void *p);

struct pn_ckks_sk {
  size_t n;
  int nt;
  uint8_t fp[32];  /* fingerprint of the owning context (as in every key / ct / pt) */
  int8_t *s;       /* coefficients in {-1, 0, 1} */
  uint64_t *ntt;   /* nt limbs, NTT form */
};

struct pn_ckks_pk {
  int nq;
  uint8_t fp[32];
  uint64_t *b, *a; /* nq limbs each, NTT form */
};

/* A switching key s' -> s. A full key serves every level (lmax = nq - 1, nt = nq + np limbs per digit); a
** level-restricted key serves levels <= lmax only and keeps the digits and primes those need (keys used
** only low in the chain, e.g. by SlotToCoeff, are then several times smaller). Limb slot t of a digit:
** t <= lmax is q_t, t = lmax + 1 + k is special prime k. The uniform half a is expanded from `seed`
** (per digit and prime, pn_ckks_swk_expand_a), so a key can travel as b and the seed alone. */
struct pn_ckks_swk {
  int dnum, nt;    /* digits stored, limbs per digit (= lmax + 1 + np) */
  int lmax;        /* highest level served */
  size_t n;
  uint8_t fp[32];
  uint8_t seed[32]; /* a = expand(seed) */
  uint64_t *b, *a; /* dnum * nt limbs each: digit j slot t at (j * nt + t) * N */
};

/* key slot of prime index p (0..nq-1 ciphertext, nq.. special) */
static inline int pn_ckks_swk_slot(const struct pn_ckks_context *c, const struct pn_ckks_swk *k, int p) {
  return p < c->nq ? p : k->lmax + 1 + (p - c->nq);
}

struct pn_ckks_gk {
  int count;
  uint8_t fp[32];
  uint64_t *galois;      /* Galois elements */
  struct pn_ckks_swk **keys;
};

/* 1 when an object carrying fingerprint fp was made for context c (same N alone is not enough: keys
** of another prime chain would silently give wrong results). */
static inline int pn_ckks_fp_ok(const struct pn_ckks_context *c, const uint8_t *fp) {
  return memcmp(c->fp, fp, sizeof c->fp) == 0;
}

/* limb i of polynomial j of a ciphertext / plaintext */
static inline uint64_t *ct_limb(const struct pn_ckks_ct *ct, int j, int i) {
  return ct->data + ((size_t)j * (size_t)ct->nq + (size_t)i) * ct->n;
}

/* Key switching (ckks_keyswitch.c): for d over q_0..q_level (NTT form), out0 + out1 s ~ d s' where swk
** switches s' -> s. out0/out1 hold level + 1 limbs of N words each (NTT form), stride N. */
int pn_ckks_keyswitch(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *k,
                      const uint64_t *d, size_t d_stride_limbs, int level, uint64_t *out0, uint64_t *out1);
/* The three steps of key switching, for hoisting (one ModUp shared by several rotations of one input).
** ModUp: the dnum digits of d (level l, NTT form) each centred and extended to Q_l P, NTT form, at
** D + (j * ns + t) * N with ns = l + 1 + np (slot t <= l: q_t, else special t - l - 1); digits past l
** are not written. pn_ckks_modup_words gives the size of D. */
size_t pn_ckks_modup_words(const struct pn_ckks_context *c, int level);
int pn_ckks_modup(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint64_t *d, int level, uint64_t *D);
/* For each of m keys r: acc[r] (2 ns limbs, NTT form over Q_l P, values < q) = sum_j D_j (b_j, a_j).
** PN_ERR_MISMATCH for a key of other parameters, PN_ERR_INVALID for one that does not serve `level`. */
int pn_ckks_ks_inner(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_swk *const *keys,
                     int m, const uint64_t *D, int level, uint64_t *const *acc);
/* ModDown: x over Q_l P (ns limbs, NTT form; destroyed) -> round(x / P) over Q_l into out (l + 1 limbs).
** With add set, out += the result instead. */
int pn_ckks_moddown(struct pn_ctx *ctx, const struct pn_ckks_context *c, uint64_t *x, int level, uint64_t *out,
                    int add);
/* Generate the switching key s' -> s (s the secret key), s' given in NTT form over all nt primes. The seed
** of a is drawn from prg. _level: to a target secret t (NTT form over all primes: the key's RLWE secret),
** for levels <= lmax (nq - 1: a full key). */
int pn_ckks_swk_gen(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                    const uint64_t *sprime_ntt, struct pn_prg *prg, struct pn_ckks_swk **out);
int pn_ckks_swk_gen_level(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint64_t *target_ntt,
                          const uint64_t *sprime_ntt, int lmax, struct pn_prg *prg, struct pn_ckks_swk **out);
struct pn_ckks_swk *pn_ckks_swk_alloc(const struct pn_ckks_context *c);
struct pn_ckks_swk *pn_ckks_swk_alloc_level(const struct pn_ckks_context *c, int lmax);
/* Fill k->a from k->seed: digit j, prime p from its own stream (pn_seed_derive(seed, label, j * 256 + p)),
** sampled uniform directly in NTT form. */
int pn_ckks_swk_expand_a(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_ckks_swk *k);
/* 1 if k is a well-formed key of context c for levels <= lmax (digits, limbs, fingerprint). */
int pn_ckks_swk_ok(const struct pn_ckks_context *c, const struct pn_ckks_swk *k);
/* Galois keys restricted to levels <= lmax (nq - 1 = full keys). The key of element g switches s to
** phi_g^-1(s) (its RLWE secret is phi_g^-1(s)): a rotation key switches first and permutes the result, so
** that rotations sharing one ModUp (hoisting) read the digits in order. */
int pn_ckks_keygen_galois_level(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                                const int *steps, int nsteps, int conj, int lmax, struct pn_prg *prg,
                                struct pn_ckks_gk **out);
/* Bytes of a key's serialized record, with a written out or as its seed (ckks_serial.c). */
size_t pn_ckks_swk_record_bytes(const struct pn_ckks_context *c, const struct pn_ckks_swk *k, int seeded);
/* Bytes held by a key (b and a). */
size_t pn_ckks_swk_bytes(const struct pn_ckks_swk *k);
/* Number of digits a key for levels <= lmax has. */
static inline int pn_ckks_digits_for(const struct pn_ckks_context *c, int lmax) {
  return (lmax + c->alpha) / c->alpha;
}
int pn_ckks_ct_reserve(struct pn_ctx *ctx, struct pn_ckks_ct *ct, int size);
/* Galois element for a left rotation by step slots. */
uint64_t pn_ckks_galois_elt(const struct pn_ckks_context *c, int step);
/* g^-1 mod 2N for an odd g. */
uint64_t pn_ckks_galois_inv(const struct pn_ckks_context *c, uint64_t g);
/* Lift a double (rounded) into residues mod q_0..q_level, exactly. */
void pn_ckks_double_to_rns(const struct pn_ckks_context *c, double v, int level, uint64_t *res);

#endif
