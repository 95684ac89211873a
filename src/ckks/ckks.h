/* ckks.h - privnn's RNS-CKKS library: parameters, encoding, keys, encryption and homomorphic evaluation.
**
** Layers: ring.h (primes, NTT, RNS) -> this file (CKKS) -> poly.h (polynomial evaluation).
** A context is built once from parameters (validated against the HE-standard 128-bit table) and holds
** every precomputation; all objects are tied to it. Ciphertexts and plaintexts are kept in NTT form
** over the primes q_0..q_level. Key switching is hybrid (Han-Ki): the ciphertext primes are cut into
** `dnum` digits of alpha = ceil(nq / dnum) primes and the special primes P (np of them) absorb the
** digit noise; dnum = nq with one special prime is SEAL's scheme.
**
** Errors: every call returning int returns PN_OK or a negative pn_status with a message in ctx.
** Objects: *_new allocate, *_free(NULL) does nothing; secret keys are wiped on free. Outputs may alias
** inputs. Thread use: OpenMP parallelises across RNS limbs; results do not depend on the thread count. */
#ifndef PN_CKKS_H
#define PN_CKKS_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/prg.h"
#include "../util/status.h"
#include "../util/api.h"

#define PN_CKKS_MAX_PRIMES 40
#define PN_CKKS_MIN_LOGN 12
#define PN_CKKS_MAX_LOGN 16

/* What the caller chooses. Prime sizes are bit lengths in [20, 61]; the primes themselves are generated
** (largest first below 2^bits, 2N | q-1, all distinct). q_bits[0] is the base prime (decryption
** precision), q_bits[1..nq-1] the rescaling primes (usually = scale_bits). */
struct pn_ckks_params {
  int logn;                             /* ring degree N = 2^logn, slots N/2 */
  int nq;                               /* ciphertext primes q_0..q_{nq-1}; top level = nq - 1 */
  int q_bits[PN_CKKS_MAX_PRIMES];
  int np;                               /* special primes (key switching) */
  int p_bits[PN_CKKS_MAX_PRIMES];
  int dnum;                             /* key-switching digits, 1..nq (0 = nq) */
  int scale_bits;                       /* default scale 2^scale_bits */
  int allow_insecure;                   /* accept log QP above the 128-bit bound / N < 2^12 (tests) */
};

/* Presets at the HE-standard bound for logn 12..16: "seal" = SEAL's default chains (L primes + 1 special,
** dnum = L); "hybrid" = the same budget with 2-5 digits and as many special primes as a digit has primes;
** "scale40" = 60-bit base prime, 40-bit scaling primes (scale 2^40 stays put), hybrid switching.
** PN_ERR_INVALID for an unknown name or logn. */
PN_API int pn_ckks_params_preset(struct pn_ctx *ctx, const char *name, int logn,
                                 struct pn_ckks_params *out);

/* The HE-standard bound on log2(QP) for 128-bit classical security (ternary secret), 0 if unknown. */
PN_API int pn_ckks_max_logqp(int logn);

struct pn_ckks_context;

/* Validate p and build the context. PN_ERR_INSECURE when log QP exceeds the bound (or N < 2^12) and
** p->allow_insecure is 0; PN_ERR_INVALID for inconsistent parameters. */
PN_API int pn_ckks_context_new(struct pn_ctx *ctx, const struct pn_ckks_params *p,
                               struct pn_ckks_context **out /* OUT */);
PN_API void pn_ckks_context_free(struct pn_ckks_context *c);

PN_API size_t pn_ckks_n(const struct pn_ckks_context *c);
PN_API size_t pn_ckks_slots(const struct pn_ckks_context *c);
PN_API int pn_ckks_max_level(const struct pn_ckks_context *c); /* nq - 1 */
PN_API int pn_ckks_dnum(const struct pn_ckks_context *c);
PN_API double pn_ckks_default_scale(const struct pn_ckks_context *c);
PN_API double pn_ckks_log_qp(const struct pn_ckks_context *c);
/* Prime i: 0..nq-1 ciphertext primes, nq..nq+np-1 special primes. */
PN_API uint64_t pn_ckks_prime(const struct pn_ckks_context *c, int i);
PN_API const struct pn_ckks_params *pn_ckks_params_of(const struct pn_ckks_context *c);
/* SHA-256 of the exact parameters (N, primes, dnum): objects loaded from outside must carry it. */
PN_API const uint8_t *pn_ckks_fingerprint(const struct pn_ckks_context *c);
/* One line: "N=16384 logQP=434 q=7x48b(...) p=2x49b dnum=4 alpha=2". */
PN_API void pn_ckks_describe(const struct pn_ckks_context *c, char *buf, size_t size);

/* ---- plaintexts and ciphertexts (NTT form; poly j limb i at data + (j * nq + i) * N) ---- */
struct pn_ckks_pt {
  int level;
  double scale;
  size_t n;
  int nq;
  uint64_t *data; /* nq * N words, limbs 0..level meaningful */
  uint8_t fp[32]; /* fingerprint of the owning context: every call checks it (PN_ERR_MISMATCH) */
};
struct pn_ckks_pool;
struct pn_ckks_ct {
  int size;       /* 2, or 3 after a multiplication without relinearisation */
  int cap;        /* polynomials allocated */
  int level;
  double scale;
  size_t n;
  int nq;
  uint64_t *data; /* cap * nq * N words */
  uint8_t fp[32]; /* fingerprint of the owning context */
  struct pn_ckks_pool *pool; /* internal: the context's recycled buffers, where data returns on free */
};

/* A new plaintext (level top, scale default); NULL when out of memory or c is NULL. */
PN_API struct pn_ckks_pt *pn_ckks_pt_new(const struct pn_ckks_context *c);
/* pn_ckks_pt_new / pn_ckks_ct_new that report why they fail: PN_ERR_INVALID without a context,
** PN_ERR_NOMEM with the size. On failure *out is NULL. */
PN_API int pn_ckks_pt_create(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                             struct pn_ckks_pt **out /* OUT */);
PN_API int pn_ckks_ct_create(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                             struct pn_ckks_ct **out /* OUT */);
PN_API void pn_ckks_pt_free(struct pn_ckks_pt *pt);
/* A new ciphertext (level top, scale default). Its buffer comes from a pool the context keeps (fresh
** multi-megabyte allocations fault every page in, which costs as much as the arithmetic) and returns there
** on free; a ciphertext may outlive its context. Limbs above the level hold unspecified values.
** NULL when out of memory or c is NULL (pn_ckks_ct_create says which). */
PN_API struct pn_ckks_ct *pn_ckks_ct_new(const struct pn_ckks_context *c);
PN_API void pn_ckks_ct_free(struct pn_ckks_ct *ct);
/* The context's pool of free ciphertext buffers: it keeps at most max_bytes of them (whole buffers; a new
** context keeps ~1 GiB, 4 to 64 buffers), freeing what it holds beyond; returns the bytes it may keep. A pool
** never holds more buffers than were in use at once, so a larger bound costs memory only between peaks.
** Ciphertexts are not secret: pooled buffers are not wiped. Thread-safe. */
struct pn_ckks_pool_info {
  size_t buffer_bytes;  /* one buffer: 2 nq N words */
  int keep;             /* free buffers kept at most */
  int held, peak_held;  /* free buffers held now, and at most so far */
  int64_t fresh;        /* buffers allocated because the pool had none (each one's pages are faulted in anew) */
};
PN_API size_t pn_ckks_ct_pool_set(const struct pn_ckks_context *c, size_t max_bytes);
PN_API void pn_ckks_ct_pool_get(const struct pn_ckks_context *c, struct pn_ckks_pool_info *out /* OUT */);
PN_API int pn_ckks_ct_copy(struct pn_ctx *ctx, const struct pn_ckks_ct *src, struct pn_ckks_ct *dst);

/* ---- encoding (canonical embedding, special FFT) ---- */
/* Encode z[0..nz) (nz <= slots, the rest zero) at `scale` and `level` (-1 = top). PN_ERR_INVALID when a
** coefficient would not fit (|z| scale >= 2^100) or arguments are out of range. */
PN_API int pn_ckks_encode(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double complex *z,
                          size_t nz,
                          double scale, int level, struct pn_ckks_pt *pt);
PN_API int pn_ckks_encode_real(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double *x,
                               size_t nx,
                               double scale, int level, struct pn_ckks_pt *pt);
/* pn_ckks_encode in two halves, for a plaintext kept compactly and put at its level when used:
** pn_ckks_encode_coeffs writes the N integer coefficients (round(scale x inverse embedding of z); PN_ERR_INVALID
** when one reaches 2^63 in magnitude), pn_ckks_pt_from_coeffs lifts them into RNS and NTT form at `level` (< 0:
** the top). Together the same plaintext as pn_ckks_encode, to the bit; N words instead of (level + 1) N. */
PN_API int pn_ckks_encode_coeffs(struct pn_ctx *ctx, const struct pn_ckks_context *c, const double complex *z,
                                 size_t nz, double scale, int64_t *co /* OUT N */);
PN_API int pn_ckks_pt_from_coeffs(struct pn_ctx *ctx, const struct pn_ckks_context *c, const int64_t *co,
                                  double scale, int level, struct pn_ckks_pt *pt);
/* Decode all slots (out has pn_ckks_slots entries): exact CRT over q_0..q_level, centred, / scale. */
PN_API int pn_ckks_decode(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                          const struct pn_ckks_pt *pt,
                          double complex *out);
PN_API int pn_ckks_decode_real(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                               const struct pn_ckks_pt *pt,
                               double *out);

/* ---- keys ---- */
struct pn_ckks_sk;    /* ternary secret s, kept in NTT form over all primes; wiped on free */
struct pn_ckks_pk;    /* (-a s + e, a) over q_0..q_{nq-1} */
struct pn_ckks_swk;   /* key switching s' -> s: dnum pairs over all nq + np primes */
struct pn_ckks_gk;    /* a set of Galois keys: rotation steps and/or conjugation */

PN_API int pn_ckks_keygen_secret(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                                 struct pn_prg *prg,
                                 struct pn_ckks_sk **out /* OUT */);
PN_API int pn_ckks_keygen_public(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                                 const struct pn_ckks_sk *sk,
                                 struct pn_prg *prg, struct pn_ckks_pk **out /* OUT */);
/* Relinearisation key: switches s^2 -> s. */
PN_API int pn_ckks_keygen_relin(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                                const struct pn_ckks_sk *sk,
                                struct pn_prg *prg, struct pn_ckks_swk **out /* OUT */);
/* Galois keys for rotations by steps[0..nsteps) slots (negative = right) and, if conj, conjugation. */
PN_API int pn_ckks_keygen_galois(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                                 const struct pn_ckks_sk *sk,
                                 const int *steps, int nsteps, int conj, struct pn_prg *prg,
                                 struct pn_ckks_gk **out /* OUT */);
PN_API void pn_ckks_sk_free(struct pn_ckks_sk *sk);
PN_API void pn_ckks_pk_free(struct pn_ckks_pk *pk);
PN_API void pn_ckks_swk_free(struct pn_ckks_swk *k);
PN_API void pn_ckks_gk_free(struct pn_ckks_gk *gk);
/* 1 if gk holds the key for rotation by `step` slots (conjugation: step = PN_CKKS_CONJ). */
#define PN_CKKS_CONJ 0x7fffffff
/* 0 as well when gk belongs to another context. */
PN_API int pn_ckks_gk_has(const struct pn_ckks_context *c, const struct pn_ckks_gk *gk, int step);

/* ---- encryption ---- */
PN_API int pn_ckks_encrypt_pk(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                              const struct pn_ckks_pk *pk,
                              const struct pn_ckks_pt *pt, struct pn_prg *prg, struct pn_ckks_ct *out);
PN_API int pn_ckks_encrypt_sk(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                              const struct pn_ckks_sk *sk,
                              const struct pn_ckks_pt *pt, struct pn_prg *prg, struct pn_ckks_ct *out);
PN_API int pn_ckks_decrypt(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                           const struct pn_ckks_sk *sk,
                           const struct pn_ckks_ct *ct, struct pn_ckks_pt *out);

/* ---- evaluation: operands at different levels are used at the lower one; scales of sums must agree
** to 1e-9 relative (PN_ERR_MISMATCH otherwise) ---- */
PN_API int pn_ckks_add(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                       const struct pn_ckks_ct *b, struct pn_ckks_ct *out);
PN_API int pn_ckks_sub(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                       const struct pn_ckks_ct *b, struct pn_ckks_ct *out);
PN_API int pn_ckks_negate(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                          const struct pn_ckks_ct *a,
                          struct pn_ckks_ct *out);
PN_API int pn_ckks_add_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                          const struct pn_ckks_ct *a,
                          const struct pn_ckks_pt *b, struct pn_ckks_ct *out);
PN_API int pn_ckks_sub_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                          const struct pn_ckks_ct *a,
                          const struct pn_ckks_pt *b, struct pn_ckks_ct *out);
/* out = a * b (scale multiplies; rescale afterwards). */
PN_API int pn_ckks_mul_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                          const struct pn_ckks_ct *a,
                          const struct pn_ckks_pt *b, struct pn_ckks_ct *out);
/* out = sum_{r < m} x[r] * pt[r], reduced once per coefficient (the sum of m pn_ckks_mul_pt results, to the
** bit): 1 <= m <= 64, every x[r] of size 2 at one level l and one scale, every pt[r] at level >= l and one
** scale; out at level l, scale x scale * pt scale (rescale afterwards). out may not be one of the x[r]. */
PN_API int pn_ckks_mul_pt_sum(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                              const struct pn_ckks_ct *const *x, const struct pn_ckks_pt *const *pt, int m,
                              struct pn_ckks_ct *out);
/* Add the constant v to every slot (encoded at a's scale). */
PN_API int pn_ckks_add_const(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                             const struct pn_ckks_ct *a,
                             double complex v, struct pn_ckks_ct *out);
/* Multiply every slot by v, with v encoded as round(v * const_scale) (complex v uses X^(N/2) = i);
** the scale becomes a->scale * const_scale. */
PN_API int pn_ckks_mul_const(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                             const struct pn_ckks_ct *a,
                             double complex v, double const_scale, struct pn_ckks_ct *out);
/* Multiply by v and rescale so that the result has exactly scale `target` (one level). */
PN_API int pn_ckks_mul_const_rescale_to(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                                        const struct pn_ckks_ct *a, double v, double target,
                                        struct pn_ckks_ct *out);
/* Multiply by an integer (no scale change, no level). */
PN_API int pn_ckks_mul_int(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                           const struct pn_ckks_ct *a,
                           int64_t k, struct pn_ckks_ct *out);
/* Tensor product without relinearisation: 2 x 2 -> 3 polynomials. */
PN_API int pn_ckks_mul(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_ct *a,
                       const struct pn_ckks_ct *b, struct pn_ckks_ct *out);
PN_API int pn_ckks_relin(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                         const struct pn_ckks_swk *rk,
                         const struct pn_ckks_ct *a, struct pn_ckks_ct *out);
/* mul + relin. */
PN_API int pn_ckks_mul_relin(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                             const struct pn_ckks_swk *rk,
                             const struct pn_ckks_ct *a, const struct pn_ckks_ct *b, struct pn_ckks_ct *out);
/* Divide by the top prime q_level and drop it: scale /= q_level. PN_ERR_INVALID at level 0. */
PN_API int pn_ckks_rescale(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                           const struct pn_ckks_ct *a,
                           struct pn_ckks_ct *out);
/* Drop primes down to `level` without changing the scale (modulus switching). */
PN_API int pn_ckks_drop_level(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                              const struct pn_ckks_ct *a,
                              int level, struct pn_ckks_ct *out);
/* Bring a to (level, scale): multiplies by 1 at a chosen scale and rescales (one level), then drops. */
PN_API int pn_ckks_match(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                         const struct pn_ckks_ct *a,
                         int level, double scale, struct pn_ckks_ct *out);
/* Rotate left by step slots (out[i] = a[i + step mod slots]); needs the Galois key for step. */
PN_API int pn_ckks_rotate(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                   const struct pn_ckks_ct *a, int step, struct pn_ckks_ct *out);
PN_API int pn_ckks_conjugate(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                      const struct pn_ckks_ct *a, struct pn_ckks_ct *out);
/* out[i] = rotate(a, steps[i]) for i < nsteps, sharing one key-switching decomposition of a (hoisting):
** each extra rotation costs the inner product with its key and the ModDown, not the digit extension.
** Results are those of separate rotations up to rounding noise; outputs may alias a (and each other only
** when their steps are equal). */
PN_API int pn_ckks_rotate_hoisted(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                           const struct pn_ckks_ct *a, const int *steps, int nsteps, struct pn_ckks_ct *const *out);

/* Sums of rotations with one ModDown (ckks_ext.c): an accumulator holds a sum of rotations left over the
** extended basis Q_l P (scaled by P, before the key switches' ModDowns), in two of the context's pooled
** ciphertext buffers. pn_ckks_rotate_ext_acc adds rotate(a + ax / P, step) to acc: a (size 2, level l) or ax
** (an accumulator at level l) may be NULL, not both; ax is consumed (emptied: its c1 is divided by P in place,
** the one ModDown a further rotation of a sum needs) and may not be acc; step must be a rotation with a key.
** pn_ckks_ext_moddown divides x by P into out (add = 0) or adds it to out (add = 1: out at x's level and
** scale), one ModDown per polynomial, and empties x. The result equals the sum of pn_ckks_rotate results up to
** rounding noise (smaller: one rounding instead of one per rotation). */
struct pn_ckks_ext;
PN_API struct pn_ckks_ext *pn_ckks_ext_new(const struct pn_ckks_context *c);
PN_API void pn_ckks_ext_free(struct pn_ckks_ext *e);
PN_API int pn_ckks_ext_level(const struct pn_ckks_ext *e); /* -1 when empty */
PN_API int pn_ckks_rotate_ext_acc(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                                  const struct pn_ckks_ct *a, struct pn_ckks_ext *ax, int step,
                                  struct pn_ckks_ext *acc);
PN_API int pn_ckks_ext_moddown(struct pn_ctx *ctx, const struct pn_ckks_context *c, struct pn_ckks_ext *x, int add,
                               struct pn_ckks_ct *out);

/* ---- serialization (ckks_serial.c): versioned header, parameter fingerprint, length checks ----
** save_* allocate *buf (free with free(); wipe a saved secret key first) and set *len. load_* check
** everything and return PN_ERR_CORRUPT with a message for anything malformed or made for other
** parameters (fingerprint mismatch); they never crash. PN_ERR_MISMATCH only when the caller's output
** object belongs to another context.
** Parameters: the file never carries allow_insecure (loaded parameters have it 0; only the caller may set
** it), and a file whose prime sizes sum above the 128-bit bound for its N >= 2^12 is refused with
** PN_ERR_INSECURE. */
PN_API int pn_ckks_save_params(struct pn_ctx *ctx, const struct pn_ckks_params *p, uint8_t **buf,
                               size_t *len);
PN_API int pn_ckks_load_params(struct pn_ctx *ctx, const uint8_t *buf, size_t len,
                               struct pn_ckks_params *out);
PN_API int pn_ckks_save_ct(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                           const struct pn_ckks_ct *ct,
                           uint8_t **buf, size_t *len);
PN_API int pn_ckks_load_ct(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf,
                           size_t len,
                           struct pn_ckks_ct *out);
PN_API int pn_ckks_save_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                           const struct pn_ckks_pt *pt,
                           uint8_t **buf, size_t *len);
PN_API int pn_ckks_load_pt(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf,
                           size_t len,
                           struct pn_ckks_pt *out);
PN_API int pn_ckks_save_sk(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                           const struct pn_ckks_sk *sk,
                           uint8_t **buf, size_t *len);
PN_API int pn_ckks_load_sk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf,
                           size_t len,
                           struct pn_ckks_sk **out);
PN_API int pn_ckks_save_pk(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                           const struct pn_ckks_pk *pk,
                           uint8_t **buf, size_t *len);
PN_API int pn_ckks_load_pk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf,
                           size_t len,
                           struct pn_ckks_pk **out);
PN_API int pn_ckks_save_swk(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                            const struct pn_ckks_swk *k,
                            uint8_t **buf, size_t *len);
PN_API int pn_ckks_load_swk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf,
                            size_t len,
                            struct pn_ckks_swk **out);
PN_API int pn_ckks_save_gk(struct pn_ctx *ctx, const struct pn_ckks_context *c,
                           const struct pn_ckks_gk *gk,
                           uint8_t **buf, size_t *len);
PN_API int pn_ckks_load_gk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const uint8_t *buf,
                           size_t len,
                           struct pn_ckks_gk **out);
/* Streamed saving, for key sets too large to hold twice: the same bytes as save_*, handed to put piece by
** piece (the header first, then one key record at a time), so the writer holds at most one record besides
** the keys. put returns PN_OK or an error it has set on ctx; the writers stop at the first error.
** *_saved_bytes: the exact length save_* would give, computed without serializing. */
/* Bytes a switching key and a Galois key set (either may be NULL) take in memory. */
PN_API size_t pn_ckks_keys_memory_bytes(const struct pn_ckks_swk *k, const struct pn_ckks_gk *gk);
typedef int (*pn_ckks_put_fn)(struct pn_ctx *ctx, void *arg, const void *bytes, size_t n);
PN_API size_t pn_ckks_swk_saved_bytes(const struct pn_ckks_context *c, const struct pn_ckks_swk *k);
PN_API size_t pn_ckks_gk_saved_bytes(const struct pn_ckks_context *c, const struct pn_ckks_gk *gk);
PN_API int pn_ckks_write_gk(struct pn_ctx *ctx, const struct pn_ckks_context *c, const struct pn_ckks_gk *gk,
                            pn_ckks_put_fn put, void *arg);
/* Streamed loading, the inverse of write_*: the object's bytes pulled from get piece by piece (the header, then
** one key record at a time), each length checked against c (fingerprint, levels, digits) and against the bytes
** the object's header says are still due before get is asked for them; the reader's only buffer is the piece
** it asks for, at most one switching key record (a top-level key's, explicit form, is the largest). get fills
** bytes[0..n) or returns an error it set on ctx. The keys are the ones load_* gives for the same bytes, with
** one restriction: want (may be NULL: any key, as load_gk) lists the rotation steps accepted and the highest
** level each key may serve (lmax NULL: any); a key for another rotation, a repeated one, one above its level,
** or a count above want's is refused before its bytes are read, so a peer cannot make the reader allocate
** more than the wanted key set. On failure nothing is kept (PN_ERR_CORRUPT naming the field, or get's error). */
typedef int (*pn_ckks_get_fn)(struct pn_ctx *ctx, void *arg, void *bytes, size_t n);
struct pn_ckks_key_want {
  const int *steps; /* rotation steps (PN_CKKS_CONJ: conjugation) */
  const int *lmax;  /* the highest level each key may serve (NULL: the top level) */
  int count;
};
/* A switching key object (save_swk) serving levels up to lmax at most. */
PN_API int pn_ckks_read_swk(struct pn_ctx *ctx, const struct pn_ckks_context *c, pn_ckks_get_fn get, void *arg,
                            int lmax, struct pn_ckks_swk **out /* OUT */);
PN_API int pn_ckks_read_gk(struct pn_ctx *ctx, const struct pn_ckks_context *c, pn_ckks_get_fn get, void *arg,
                           const struct pn_ckks_key_want *want, struct pn_ckks_gk **out /* OUT */);
/* Bytes of the largest switching key record c allows (top level, explicit form): the streamed readers' bound. */
PN_API size_t pn_ckks_swk_record_max(const struct pn_ckks_context *c);

#endif
