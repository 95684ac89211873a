/* mpc.h - two-party secret-shared arithmetic over Z_2^64 and HummingBird's reduced-ring ReLU.
**
** Values are fixed point (frac fractional bits, default 16) in the ring Z_2^64, additively shared
** between parties P0 and P1: x = x0 + x1 mod 2^64. A dealer supplies correlated randomness
** (Beaver triples for elementwise and matrix products, AND triples, random bits for B2A).
**
** One code path serves the two-party run and the plaintext simulator: a struct pn_mpc holds one
** "view" (the local party of a real run, talking to its peer through a pn_mpc_net) or two views
** (the simulator: both parties in this process, an opening is a memcpy between the views). Every
** protocol below loops over the views, so with the same seeds the simulator computes exactly the
** shares the two parties compute, and counts exactly the bytes and rounds they would send. */
#ifndef PN_MPC_H
#define PN_MPC_H

#include <stddef.h>
#include <stdint.h>

#include "util/prg.h"

struct pn_ctx;
struct pn_mpc_net;
struct pn_mpc_dealer;

#define PN_MPC_FRAC_DEFAULT 16
#define PN_MPC_POOL 16                      /* cached scratch arrays per view */
#define PN_MPC_POOL_BYTES ((size_t)1 << 30) /* at most this much cached */

/* Bytes sent by one party and communication rounds. */
struct pn_mpc_stats {
  uint64_t bytes;
  uint64_t rounds;
};

struct pn_mpc {
  struct pn_ctx *ctx;
  int nv;                       /* views held here: 1 = one party of a real run, 2 = simulator */
  int id[2];                    /* party id (0 or 1) of view v */
  struct pn_mpc_net *net;       /* the peer, when nv == 1 */
  struct pn_mpc_dealer *dealer; /* correlated randomness for the views held here */
  int frac;                     /* fractional bits */
  int lut_max;                  /* HB widths PN_HB_LUT_MIN..lut_max take the dealer sign table
                                ** (default PN_HB_LUT_MAX; 0 = the carry tree for every width) */
  struct pn_mpc_stats st;       /* running totals (one party's view) */
  struct {                      /* freed share arrays kept (wiped to zero) for reuse */
    uint64_t *p;
    int64_t cap;
  } pool[2][PN_MPC_POOL];
  size_t pool_bytes;
};

/* A per-view pointer pair: p[v] is view v's array (p[1] unused when nv == 1). */
typedef uint64_t *pn_sh[2];

/* ---- ring and fixed point (ring.c) ---- */
uint64_t pn_fx_encode(double x, int frac);
double pn_fx_decode(uint64_t v, int frac);
/* C[M,N] = A[M,K] * B[K,N] mod 2^64 (acc != 0: C += ...). */
void pn_ring_matmul(int64_t M, int64_t K, int64_t N, const uint64_t *A, const uint64_t *B,
                    uint64_t *C, int acc);
/* C[M,N] = W[M,K] * X[K,N] mod 2^64 with W's words sign-extended from 32 (16) bits. */
void pn_ring_matmul_w32(int64_t M, int64_t K, int64_t N, const int32_t *W, const uint64_t *X,
                        uint64_t *C);
void pn_ring_matmul_w16(int64_t M, int64_t K, int64_t N, const int16_t *W, const uint64_t *X,
                        uint64_t *C);
/* Split x[0..n) into x0 = x + r, x1 = -r with r from prg. */
void pn_mpc_split(struct pn_prg *prg, int64_t n, const uint64_t *x, uint64_t *x0, uint64_t *x1);

/* Set up m for the simulator (both parties; dealer serves both) or one party. */
void pn_mpc_init_sim(struct pn_mpc *m, struct pn_ctx *ctx, struct pn_mpc_dealer *d, int frac);
void pn_mpc_init_party(struct pn_mpc *m, struct pn_ctx *ctx, int id, struct pn_mpc_net *net,
                       struct pn_mpc_dealer *d, int frac);
/* Allocate zeroed per-view share arrays of n words / wipe and release them (kept in m's pool
** for reuse). pn_mpc_release frees the pool: call it when done with m. */
int pn_sh_alloc(struct pn_mpc *m, int64_t n, pn_sh out);
void pn_sh_free(struct pn_mpc *m, int64_t n, pn_sh s);
void pn_mpc_release(struct pn_mpc *m);

/* ---- protocols (proto.c, relu.c); all return PN_OK or a negative status ---- */
/* Each view sends send[v][0..nbytes), receives the peer's into recv[v]. One round. */
int pn_mpc_exchange(struct pn_mpc *m, void *const send[2], void *const recv[2], size_t nbytes);
/* Open x: out[v][i] = x0[i] + x1[i] in every view. */
int pn_mpc_open(struct pn_mpc *m, int64_t n, const pn_sh x, pn_sh out);
/* z = x * y elementwise (ring product, no truncation), Beaver triple; 1 round, 128 bits/elem. */
int pn_mpc_mul(struct pn_mpc *m, int64_t n, const pn_sh x, const pn_sh y, pn_sh z);
/* Z[M,N] = X[M,K] * Y[K,N] with a matrix triple; 1 round, 64*(MK + KN) bits. */
int pn_mpc_matmul(struct pn_mpc *m, int64_t M, int64_t K, int64_t N, const pn_sh X,
                  const pn_sh Y, pn_sh Z);
/* Local truncation by f bits (SecureML): P0 x0 >> f, P1 -((-x1) >> f), arithmetic shifts. */
void pn_mpc_trunc(struct pn_mpc *m, int64_t n, pn_sh x, int f);
/* Add a public constant c[i] (P0 only). */
void pn_mpc_add_public(struct pn_mpc *m, int64_t n, pn_sh x, const uint64_t *c);

/* ReLU modes. */
enum pn_relu_mode { PN_RELU_FULL = 0, PN_RELU_HB = 1 };
/* Secret sign bit of x, arithmetic shares of 0/1 in out (1 when negative):
**   FULL: A2B + 64-bit Kogge-Stone adder on 64-bit words, B2A of bit 63 (CrypTen).
**   HB:   bits [k, m) of each share, bit-sliced sign-only carry tree on n = m - k bits, bit-packed
**         openings, 1-bit B2A. n = 0 is refused (the ReLU is then the identity). */
int pn_mpc_ltz(struct pn_mpc *m, int64_t n, const pn_sh x, enum pn_relu_mode mode, int k,
               int mm, pn_sh out);
/* y = ReLU(x). FULL: x * (1 - ltz(x)) with B2A and a Beaver multiply (CrypTen; 1856 bits, 9
** rounds). HB: the multiply is folded into the sign protocol (x - a opened in the carry tree's
** first round, one masked sign bit at the end): 2*ANDs + 65 bits, carry-tree rounds + 1; for
** PN_HB_LUT_MIN <= n <= PN_HB_LUT_MAX the sign comes from a dealer table: n + 65 bits, 2 rounds.
** HB with k == mm is the identity (no communication). */
int pn_mpc_relu(struct pn_mpc *m, int64_t n, const pn_sh x, enum pn_relu_mode mode, int k,
                int mm, pn_sh y);
/* y = max(a, b) = b + ReLU(a - b) (reduced ring as for ReLU). */
int pn_mpc_max(struct pn_mpc *m, int64_t n, const pn_sh a, const pn_sh b, enum pn_relu_mode mode,
               int k, int mm, pn_sh y);

/* Costs per element per party from the formulas (bits, rounds) of one ReLU (default lut_max;
** _ex: with the given lut_max, 0 for the carry tree everywhere). */
void pn_relu_cost(enum pn_relu_mode mode, int n, double *bits, int *rounds);
void pn_relu_cost_ex(enum pn_relu_mode mode, int n, int lut_max, double *bits, int *rounds);

/* ---- dealer (dealer.c) ---- */
enum pn_dealer_kind {
  PN_DEALER_TRIPLE = 1,   /* a, b, c = a*b elementwise */
  PN_DEALER_MATRIX = 2,   /* A[M,K], B[K,N], C = A*B */
  PN_DEALER_AND = 3,      /* u, v, w = u & v, XOR-shared words */
  PN_DEALER_BIT = 4,      /* r: packed XOR shares of bits + arithmetic shares of the same bits */
  PN_DEALER_RELU = 5,     /* a, bit r (packed XOR + arithmetic shares), a*r: the folded ReLU */
  PN_DEALER_LUT = 6       /* r mod 2^nb (arithmetic) and the XOR-shared table T[j] = msb(j - r) */
};

/* HummingBird widths 3 <= n <= PN_HB_LUT_MAX take their sign from a dealer table (one round for
** the sign, 2^n table bits per element from the dealer) instead of the carry tree. */
#define PN_HB_LUT_MIN 3
#define PN_HB_LUT_MAX 8

/* The embedded dealer: knows the 32-byte master seed, serves both parties (simulator) or one. */
int pn_dealer_new_embedded(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                           struct pn_mpc_dealer **out /* OUT */);
/* Read party `party`'s dealer file (see dealer.c for the format). The binding (model, plan,
** batch) must equal the caller's, else PN_ERR_MISMATCH; bad magic/version/checksum PN_ERR_CORRUPT. */
struct pn_dealer_binding {
  uint8_t model[32], plan[32]; /* SHA-256 of the ONNX file and of the plan's canonical text */
  uint32_t batch, frac;
  uint64_t batches;
};
int pn_dealer_open_file(struct pn_ctx *ctx, const char *path, int party,
                        const struct pn_dealer_binding *bind, struct pn_mpc_dealer **out /* OUT */);
/* Record mode: an embedded dealer that also writes P1's corrections to path_p1 and P0's seed
** to path_p0. Call pn_dealer_finish to commit both files. */
int pn_dealer_new_recorder(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                           const struct pn_dealer_binding *bind, const char *path_p0,
                           const char *path_p1, struct pn_mpc_dealer **out /* OUT */);
int pn_dealer_finish(struct pn_ctx *ctx, struct pn_mpc_dealer *d);
/* The online dealer. A party connects (net, any transport) and gets its seed; P1 then fetches
** each correction over net when it needs it (net must outlive the dealer; pn_dealer_free ends
** the session). A dealer whose binding differs refuses: PN_ERR_MISMATCH. */
int pn_dealer_connect(struct pn_ctx *ctx, struct pn_mpc_net *net, int party,
                      const struct pn_dealer_binding *bind, struct pn_mpc_dealer **out /* OUT */);
/* Serve both parties (one connection each, either order) until P1 ends its session. *bytes gets
** the correction bytes sent to P1. */
int pn_dealer_serve(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                    const struct pn_dealer_binding *bind, struct pn_mpc_net *a,
                    struct pn_mpc_net *b, uint64_t *bytes);
void pn_dealer_free(struct pn_mpc_dealer *d);
/* Bytes of explicit correction data generated so far (what travels to P1). */
uint64_t pn_dealer_bytes(const struct pn_mpc_dealer *d);

/* Party `party`'s share of the next request; words as in enum pn_dealer_kind. For BIT, rb holds
** ceil(n/64) words of packed bits and ra n words. */
int pn_dealer_triple(struct pn_mpc_dealer *d, int party, int64_t n, uint64_t *a, uint64_t *b,
                     uint64_t *c);
int pn_dealer_matrix(struct pn_mpc_dealer *d, int party, int64_t M, int64_t K, int64_t N,
                     uint64_t *A, uint64_t *B, uint64_t *C);
int pn_dealer_and(struct pn_mpc_dealer *d, int party, int64_t nw, uint64_t *u, uint64_t *v,
                  uint64_t *w);
int pn_dealer_bit(struct pn_mpc_dealer *d, int party, int64_t n, uint64_t *rb, uint64_t *ra);
/* For LUT (nb bits, 1 <= nb <= 16): r gets n words (shares of r mod 2^nb), T n * lut_words(nb)
** words: element i's table bits at T + i * lut_words(nb), bit j of the table = bit j % 64 of
** word j / 64. T0 ^ T1 at index j is 1 exactly when (j - r) mod 2^nb >= 2^(nb-1). */
int pn_dealer_lut(struct pn_mpc_dealer *d, int party, int64_t n, int nb, uint64_t *r, uint64_t *T);
static inline int64_t pn_lut_words(int nb) { return ((int64_t)1 << nb) / 64 + (nb < 6); }
/* For RELU: a and ra, ar n words each, rb ceil(n/64) words. */
int pn_dealer_relu(struct pn_mpc_dealer *d, int party, int64_t n, uint64_t *a, uint64_t *rb,
                   uint64_t *ra, uint64_t *ar);

#endif
