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

struct pn_ckks_swk {
  int dnum, nt;
  size_t n;
  uint8_t fp[32];
  uint64_t *b, *a; /* dnum * nt limbs each: digit j prime i at (j * nt + i) * N */
};

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
/* Generate the switching key s' -> s, s' given in NTT form over all nt primes. */
int pn_ckks_swk_gen(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_sk *sk,
                    const uint64_t *sprime_ntt, struct pn_prg *prg, struct pn_ckks_swk **out);
struct pn_ckks_swk *pn_ckks_swk_alloc(const struct pn_ckks_context *c);
int pn_ckks_ct_reserve(struct pn_ctx *ctx, struct pn_ckks_ct *ct, int size);
/* Galois element for a left rotation by step slots. */
uint64_t pn_ckks_galois_elt(const struct pn_ckks_context *c, int step);
/* Lift a double (rounded) into residues mod q_0..q_level, exactly. */
void pn_ckks_double_to_rns(const struct pn_ckks_context *c, double v, int level, uint64_t *res);

#endif
