/* boot.h - CKKS bootstrapping: give a ciphertext that has used up its levels a fresh set.
**
** Circuit (slots-to-coefficients first, real messages, sparse-secret encapsulation):
**   1. SlotToCoeff at the bottom of the chain: the input's slot values become its polynomial's
**      coefficients (stc_levels levels, q_S .. q_1; cheap there, few limbs);
**   2. at level 0, switch the secret from s (uniform ternary) to an ephemeral sparse s' of Hamming weight
**      eph_weight, with a gadget key (base 2^eph_base_bits digits) that exists only modulo q_0;
**   3. ModRaise to the top level: the coefficients become t = m / q_0 + I with |I| <= (eph_weight + 1) / 2,
**      a bound that holds always (no failure probability); switch back from s' to s;
**   4. sparse slots: sum over the rotations by n 2^k (the trace onto the subring of the 2n coefficients);
**   5. CoeffToSlot (cts_levels levels at the top): the coefficients become slot values; keep the real part
**      (one conjugation);
**   6. EvalMod: cos(2 pi (t - 1/4) / 2^r) by a Chebyshev interpolant in T_2 of t / K', r double angles
**      (giving sin(2 pi t)), and optionally an arcsine polynomial, scaled by q_0 / (2 pi Delta_in): the
**      slots hold the input message again, at scale Delta (the context's default scale).
** Each DFT factor is a sparse diagonal matrix evaluated baby-step giant-step with hoisted baby rotations.
**
** What a caller must know:
**   - Input: a ciphertext at level >= pn_ckks_boot_info.input_level (= stc_levels; higher levels are
**     dropped first) whose slot values are real with |z| <= 1 (precision is stated for that range; the
**     imaginary part is discarded), at a scale near the context's default scale Delta (any scale works; the
**     message ratio q_0 / scale sets the precision, and the presets choose q_0 for Delta). Sparse packing:
**     with logslots < logN - 1 the input must hold n = 2^logslots values repeated N / (2n) times (as every
**     n-periodic slot vector is), e.g. encoded from n values by the caller repeating them.
**   - Output: level pn_ckks_boot_info.output_level, scale exactly Delta. levels_after = output_level -
**     input_level multiplicative levels are usable before the next bootstrap.
**   - Keys: pn_ckks_boot_keygen makes every rotation key the circuit needs (listed by
**     pn_ckks_boot_rotations; StC's keys only for the bottom levels, hence small), the conjugation key and
**     the encapsulation pair; the caller's relinearisation key is used as it is. A caller's own rotation
**     keys stay separate.
**   - Memory: pn_ckks_boot_info gives the key bytes (in memory, and serialized with each key's uniform half
**     as a 32-byte seed) and the precomputed DFT plaintexts.
**   - Threads: OpenMP across limbs as the rest of the library; results do not depend on the thread count.
** Errors as elsewhere: PN_OK or a negative status with a message in ctx. */
#ifndef PN_CKKS_BOOT_H
#define PN_CKKS_BOOT_H

#include "ckks/ckks.h"

struct pn_ckks_boot_params {
  int logslots;       /* n = 2^logslots message slots, 1 <= logslots <= logN - 1 (logN - 1: full slots) */
  int stc_levels;     /* SlotToCoeff factors = levels q_1..q_S at the bottom of the chain */
  int cts_levels;     /* CoeffToSlot factors = the top levels */
  int eph_weight;     /* Hamming weight of the ephemeral secret s' (32) */
  int eph_base_bits;  /* gadget base of the dense -> sparse key, which lives modulo q_0 alone (4) */
  int cos_degree;     /* degree of the cosine interpolant in u = T_2(t / K') */
  int double_angles;  /* r: cos(2 theta) = 2 cos^2(theta) - 1, r times */
  int arcsine_degree; /* 0 (none) or 3: y + y^3 / 6 after the sine, which allows a small q_0 / Delta */
};

/* Bootstrappable parameters for N = 2^logn, 2^logslots slots: the CKKS chain (q_0 | SlotToCoeff | levels
** for computation | EvalMod | CoeffToSlot, special primes) and the bootstrapping parameters. logn 15 and 16
** are within the HE-standard 128-bit bound; smaller logn (>= 10) give the same structure for tests and need
** allow_insecure. PN_ERR_INVALID for logn or logslots out of range.
** Security: the main secret is uniform ternary and log QP is within the HE-standard table, as for any
** context. The ephemeral secret (weight 32) only ever appears in RLWE samples modulo q_0 (<= 60 bits):
** Lattigo documents weight 32 as over 128-bit secure for a key modulus of 121 bits at N = 2^16 (Bossuat et
** al., eprint 2022/024); q_0 is at most half of that, and at N = 2^15 (the same N / log q ratio as the
** table's halving) pn_boot_check refuses q_0 above 60 bits. */
int pn_ckks_boot_preset(struct pn_ctx *ctx, int logn, int logslots, struct pn_ckks_params *ckks /* OUT */,
                        struct pn_ckks_boot_params *boot /* OUT */);

/* Levels EvalMod consumes with these parameters. */
int pn_ckks_boot_evalmod_levels(const struct pn_ckks_boot_params *bp);

/* The rotation steps the circuit uses (slots, left), and for each the highest level it is used at. Writes
** at most max entries; returns the count (PN_ERR_INVALID for parameters that do not fit the context). */
int pn_ckks_boot_rotations(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                           int *steps /* OUT max */, int *levels /* OUT max, may be NULL */, int max);

struct pn_ckks_boot_keys;
/* Bootstrapping keys from the secret key (the client side): rotation keys, conjugation, encapsulation pair.
** The ephemeral secret is drawn from prg and wiped. */
int pn_ckks_boot_keygen(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                        const struct pn_ckks_sk *sk, struct pn_prg *prg, struct pn_ckks_boot_keys **out /* OUT */);
void pn_ckks_boot_keys_free(struct pn_ckks_boot_keys *bk);
/* Bytes the keys take in memory (serialized = 0) or serialized with seeded uniform halves (serialized = 1). */
size_t pn_ckks_boot_keys_bytes(const struct pn_ckks_context *c, const struct pn_ckks_boot_keys *bk, int serialized);

/* Serialization (boot_serial.c): the PNCK header with the context fingerprint, the bootstrapping parameters,
** every key (uniform halves as seeds) and a SHA-256 digest over the payload. Loading refuses with
** PN_ERR_CORRUPT anything damaged, of another context, or made for other bootstrapping parameters than bp
** (other slots, levels, gadget base), and a key set that lacks a rotation the circuit needs. */
int pn_ckks_save_boot_keys(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_keys *bk,
                           uint8_t **buf /* OUT, free() */, size_t *len /* OUT */);
int pn_ckks_load_boot_keys(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                           const uint8_t *buf, size_t len, struct pn_ckks_boot_keys **out /* OUT */);
/* Streamed (ckks.h, pn_ckks_write_gk): the bytes of pn_ckks_save_boot_keys one key record at a time, the
** digest computed on the way; *_saved_bytes is their exact length. */
size_t pn_ckks_boot_keys_saved_bytes(const struct pn_ckks_context *c, const struct pn_ckks_boot_keys *bk);
int pn_ckks_write_boot_keys(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_keys *bk,
                            pn_ckks_put_fn put, void *arg);
/* Streamed loading (ckks.h, pn_ckks_read_gk): the keys pn_ckks_load_boot_keys gives for the same bytes, read one
** record at a time, the digest computed on the way and checked at the end; only the keys the circuit of bp uses
** (its rotations, each at most at the level it is used at, and conjugation) are accepted, so a peer cannot make
** it allocate more than pn_ckks_boot_keygen's key set. */
int pn_ckks_read_boot_keys(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                           pn_ckks_get_fn get, void *arg, struct pn_ckks_boot_keys **out /* OUT */);

struct pn_ckks_boot;
/* Build the bootstrapping context once: checks that the chain fits bp (PN_ERR_INVALID with what is
** missing) and that the keys belong to c and bp (PN_ERR_MISMATCH), precomputes the DFT plaintexts and the
** EvalMod polynomial. c, rk and bk must outlive it. */
int pn_ckks_boot_new(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_boot_params *bp,
                     const struct pn_ckks_swk *rk, const struct pn_ckks_boot_keys *bk,
                     struct pn_ckks_boot **out /* OUT */);
/* Another client's keys for the same context (checked as pn_ckks_boot_new does): the precomputed plaintexts,
** which depend on no key, are kept. */
int pn_ckks_boot_set_keys(struct pn_ctx *ctx, struct pn_ckks_boot *b, const struct pn_ckks_swk *rk,
                          const struct pn_ckks_boot_keys *bk);
void pn_ckks_boot_free(struct pn_ckks_boot *b);

/* out = a fresh encryption of in's (real) slot values at pn_ckks_boot_info.output_level, scale Delta.
** PN_ERR_INVALID when in is below the input level. out may alias in. */
int pn_ckks_bootstrap(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in,
                      struct pn_ckks_ct *out);

/* The same, with the time of each stage in ms on clock clock_id (e.g. CLOCK_PROCESS_CPUTIME_ID):
** [0] SlotToCoeff, [1] encapsulation, ModRaise, key switch back and trace, [2] CoeffToSlot and real part,
** [3] EvalMod. */
#define PN_BOOT_STAGES 4
int pn_ckks_bootstrap_timed(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in,
                            struct pn_ckks_ct *out, int clock_id, double ms[PN_BOOT_STAGES] /* OUT, may be NULL */);

struct pn_ckks_boot_info {
  size_t slots;             /* n */
  int input_level;          /* lowest level accepted (= stc_levels) */
  int output_level;         /* level of the result */
  int levels_after;         /* output_level - input_level: levels for computation between bootstraps */
  int evalmod_levels, stc_levels, cts_levels;
  double scale;             /* scale of the result (the context's default scale) */
  double log_ratio;         /* log2(q_0 / Delta): the message ratio at the default scale */
  int K;                    /* |t| <= K + 1/2: the EvalMod interval */
  int rotations;            /* distinct rotation keys */
  int keyswitches;          /* key switchings per bootstrap (hoisted baby steps count as one each) */
  size_t key_bytes;         /* bootstrapping keys in memory (without the relinearisation key) */
  size_t key_bytes_serialized; /* the same serialized (uniform halves as seeds) */
  size_t plaintext_bytes;   /* precomputed DFT diagonals */
  double cts_const;         /* CoeffToSlot multiplies the slot vector by this (1 / (2 K' N/(2n)) ) */
};
void pn_ckks_boot_get_info(const struct pn_ckks_boot *b, struct pn_ckks_boot_info *out /* OUT */);

/* The circuit's pieces (tests and custom circuits). SlotToCoeff: in at level >= input_level -> slot vector
** multiplied by U BR (the special DFT of n points without its bit reversal), stc_levels levels lower.
** CoeffToSlot: in at level >= the top level's CtS start -> slot vector multiplied by cts_const BR U^-1,
** cts_levels lower (without the trace and the real part). SlotToCoeff(CoeffToSlot(x)) = cts_const x. Both
** use the precomputed plaintexts at the levels of the bootstrap circuit and encode others on the fly. */
int pn_ckks_boot_slot_to_coeff(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in,
                               struct pn_ckks_ct *out);
int pn_ckks_boot_coeff_to_slot(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in,
                               struct pn_ckks_ct *out);
/* EvalMod: in holds real slot values t / K' (t the raised coefficients, K' = pn_ckks_boot_info.K + 3/4) at
** the EvalMod start level (output_level + evalmod_levels); out holds ratio * f(t) at scale `scale`, where
** f(t) = p_asin(sin(2 pi t)) / (2 pi) ~ t - round(t) for |t - round(t)| small, with the interpolant, the
** double angles and the arcsine polynomial exactly as pn_ckks_boot_eval_mod_plain computes them. */
int pn_ckks_boot_eval_mod(struct pn_ctx *ctx, const struct pn_ckks_boot *b, const struct pn_ckks_ct *in,
                          double ratio, double scale, struct pn_ckks_ct *out);
/* The same function in plain double precision (for checking): ratio * f(t). */
double pn_ckks_boot_eval_mod_plain(const struct pn_ckks_boot *b, double t, double ratio);

#endif
