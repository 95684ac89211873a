/* dealer.h - correlated randomness for the two parties: embedded, from files, or online.
**
** Six kinds of correlation (enum pn_dealer_kind). Each request of a party is expanded from its
** seed; P0 draws all of its share, P1 draws the parts both parties draw and receives corrections
** for the rest (dealer.c says how, and the file format). */
#ifndef PN_MPC_DEALER_H
#define PN_MPC_DEALER_H

#include <stdint.h>

#include "../util/prg.h"
#include "../util/api.h"

struct pn_ctx;
struct pn_mpc_net;
struct pn_mpc_dealer;

enum pn_dealer_kind {
  PN_DEALER_TRIPLE = 1,   /* a, b, c = a*b elementwise */
  PN_DEALER_MATRIX = 2,   /* A[M,K], B[K,N], C = A*B */
  PN_DEALER_AND = 3,      /* u, v, w = u & v, XOR-shared words */
  PN_DEALER_BIT = 4,      /* r: packed XOR shares of bits + arithmetic shares of the same bits */
  PN_DEALER_RELU = 5,     /* a, bit r (packed XOR + arithmetic shares), a*r: the folded ReLU */
  PN_DEALER_LUT = 6,      /* r mod 2^nb (arithmetic) and the XOR-shared table T[j] = msb(j - r) */
  PN_DEALER_KIND_COUNT    /* (0 is no kind: it ends an online session) */
};

/* The embedded dealer: knows the 32-byte master seed, serves both parties (simulator) or one. */
PN_API int pn_dealer_new_embedded(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                                  struct pn_mpc_dealer **out /* OUT */);
/* Read party `party`'s dealer file (see dealer.c for the format). The binding (model, plan,
** batch) must equal the caller's, else PN_ERR_MISMATCH; bad magic/version/checksum PN_ERR_CORRUPT.
** Dealer material is single-use: the file is marked used (in place) before its first correlation
** is handed out, and a file so marked is refused with PN_ERR_INSECURE; a file this process cannot
** write (to mark it) is refused too. */
struct pn_dealer_binding {
  uint8_t model[32], plan[32]; /* SHA-256 of the ONNX file and of the plan's canonical text */
  uint32_t batch, frac;
  uint64_t batches;
};
PN_API int pn_dealer_open_file(struct pn_ctx *ctx, const char *path, int party,
                               const struct pn_dealer_binding *bind, struct pn_mpc_dealer **out /* OUT */);
/* Record mode: an embedded dealer that also writes P1's corrections to path_p1 and P0's seed
** to path_p0. Call pn_dealer_finish to commit both files. */
PN_API int pn_dealer_new_recorder(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                                  const struct pn_dealer_binding *bind, const char *path_p0,
                                  const char *path_p1, struct pn_mpc_dealer **out /* OUT */);
PN_API int pn_dealer_finish(struct pn_ctx *ctx, struct pn_mpc_dealer *d);
/* The 16-byte session id of d's material: random per dealer file pair or online session (both
** parties' dealers of one session share it), zero for an embedded dealer. */
PN_API void pn_dealer_session(const struct pn_mpc_dealer *d, uint8_t session[16] /* OUT */);
/* The seed a dealer session with this id expands from a master seed (for tests and recorders). */
PN_API void pn_dealer_session_master(const uint8_t master[PN_SEED_BYTES], const uint8_t session[16],
                                     uint8_t out[PN_SEED_BYTES] /* OUT */);
/* The online dealer. A party connects (net, any transport) and gets its seed; P1 then fetches
** each correction over net when it needs it (net must outlive the dealer; pn_dealer_free ends
** the session). A dealer whose binding differs refuses: PN_ERR_MISMATCH. */
PN_API int pn_dealer_connect(struct pn_ctx *ctx, struct pn_mpc_net *net, int party,
                             const struct pn_dealer_binding *bind, struct pn_mpc_dealer **out /* OUT */);
/* Serve both parties (one connection each, either order) until P1 ends its session. *bytes gets
** the correction bytes sent to P1. Each call is a new session: a random session id, from which
** with master the parties' seeds are derived, so no two sessions ever serve the same material. */
PN_API int pn_dealer_serve(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                           const struct pn_dealer_binding *bind, struct pn_mpc_net *a,
                           struct pn_mpc_net *b, uint64_t *bytes);
/* The online dealer as a service: accept connections on lfd (opts: transport, log) for up to
** wait_ms until both parties have said a valid hello, then serve them as pn_dealer_serve does.
** A stranger (failed handshake, garbage, silence) or a party asking for another binding is
** refused, logged through opts->log and dropped; the service keeps waiting. */
struct pn_net_opts;
PN_API int pn_dealer_serve_listen(struct pn_ctx *ctx, const uint8_t master[PN_SEED_BYTES],
                                  const struct pn_dealer_binding *bind, int lfd,
                                  const struct pn_net_opts *opts, int wait_ms, uint64_t *bytes);
PN_API void pn_dealer_free(struct pn_mpc_dealer *d);
/* Bytes of explicit correction data generated so far (what travels to P1). */
PN_API uint64_t pn_dealer_bytes(const struct pn_mpc_dealer *d);

/* Party `party`'s share of the next request; words as in enum pn_dealer_kind. For BIT, rb holds
** ceil(n/64) words of packed bits and ra n words. */
PN_API int pn_dealer_triple(struct pn_mpc_dealer *d, int party, int64_t n, uint64_t *a, uint64_t *b,
                            uint64_t *c);
PN_API int pn_dealer_matrix(struct pn_mpc_dealer *d, int party, int64_t M, int64_t K, int64_t N,
                            uint64_t *A, uint64_t *B, uint64_t *C);
PN_API int pn_dealer_and(struct pn_mpc_dealer *d, int party, int64_t nw, uint64_t *u, uint64_t *v,
                         uint64_t *w);
PN_API int pn_dealer_bit(struct pn_mpc_dealer *d, int party, int64_t n, uint64_t *rb, uint64_t *ra);
/* For LUT (nb bits, 1 <= nb <= 16): r gets n words (shares of r mod 2^nb), T n * lut_words(nb)
** words: element i's table bits at T + i * lut_words(nb), bit j of the table = bit j % 64 of
** word j / 64. T0 ^ T1 at index j is 1 exactly when (j - r) mod 2^nb >= 2^(nb-1). */
PN_API int pn_dealer_lut(struct pn_mpc_dealer *d, int party, int64_t n, int nb, uint64_t *r,
                         uint64_t *T);
static inline int64_t pn_lut_words(int nb) { return ((int64_t)1 << nb) / 64 + (nb < 6); }
/* For RELU: a and ra, ar n words each, rb ceil(n/64) words. */
PN_API int pn_dealer_relu(struct pn_mpc_dealer *d, int party, int64_t n, uint64_t *a, uint64_t *rb,
                          uint64_t *ra, uint64_t *ar);

#endif
