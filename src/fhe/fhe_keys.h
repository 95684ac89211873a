/* fhe_keys.h - the client's side of encrypted inference and the objects client and server exchange.
**
** Flow: the server compiles its model and publishes the spec (pn_fhe_plan_spec / pn_fhe_spec_save);
** the client loads it, makes a secret key (pn_fhe_client_keygen; it never leaves the client) and the
** evaluation keys (pn_fhe_client_evk: relinearisation and exactly the spec's rotations) for the server,
** encrypts an input (pn_fhe_encrypt -> QUERY object), the server answers (pn_fhe_server_query -> RESULT),
** the client decrypts (pn_fhe_decrypt). Objects are containers (keys.c) tied to one program hash; every
** loader checks it, the CKKS parameter fingerprint, the lengths and the ranges. */
#ifndef PN_FHE_KEYS_H
#define PN_FHE_KEYS_H

#include "ckks/boot.h"
#include "fhe/fhe.h"
#include "util/prg.h"

enum pn_fhe_obj {
  PN_FHE_OBJ_SPEC = 1, PN_FHE_OBJ_SECRET = 2, PN_FHE_OBJ_EVAL = 3, PN_FHE_OBJ_QUERY = 4, PN_FHE_OBJ_RESULT = 5,
  PN_FHE_OBJ_COUNT
};
const char *pn_fhe_obj_name(int type);
/* Check an object's header (magic, version, type, exact length); *type and hash (may be NULL) from it. */
int pn_fhe_obj_peek(struct pn_ctx *ctx, const uint8_t *buf, size_t len, int *type /* OUT */,
                    uint8_t hash[32] /* OUT, may be NULL */);
int pn_fhe_obj_wrap(struct pn_ctx *ctx, int type, const uint8_t hash[32], const uint8_t *payload, size_t plen,
                    uint8_t **buf /* OUT, free() */, size_t *len /* OUT */);

/* What a client knows of a model (public). */
struct pn_fhe_spec {
  char name[128];
  uint8_t hash[32];                  /* the program */
  struct pn_ckks_params params;
  struct pn_ckks_context *ckks;
  int n_rot;
  int *rot;                          /* rotation steps, ascending, in (0, slots) */
  int in_level;
  int in_ndim, out_ndim;
  int64_t in_dims[PN_MAX_DIMS], out_dims[PN_MAX_DIMS];
  int64_t n_in, n_out;
  int32_t *in_slot, *out_slot;       /* element -> slot */
  int in_rep;                        /* the input is encoded in_rep times: element i also at in_slot[i] + t
                                     ** in_rep_stride, 0 < t < in_rep (1: once; the stride is then 0) */
  int64_t in_rep_stride;
  double in_factor, out_factor;      /* the input is encoded times in_factor; outputs divided by out_factor */
  int log_slots;                     /* the program's 2^log_slots slots (<= N/2; replicated when fewer) */
  int has_boot;                      /* the program bootstraps: the client makes bootstrapping keys for boot */
  struct pn_ckks_boot_params boot;
};
int pn_fhe_plan_spec(struct pn_ctx *ctx, const struct pn_fhe_plan *p, struct pn_fhe_spec **out /* OUT */);
int pn_fhe_spec_save(struct pn_ctx *ctx, const struct pn_fhe_spec *s, uint8_t **buf /* OUT */, size_t *len /* OUT */);
/* allow_insecure: tests only (the parameters' file form never says "insecure": a spec for a ring below the
** 128-bit table is refused unless the caller says so). */
int pn_fhe_spec_load(struct pn_ctx *ctx, const uint8_t *buf, size_t len, int allow_insecure,
                     struct pn_fhe_spec **out /* OUT */);
void pn_fhe_spec_free(struct pn_fhe_spec *s);

/* The client: spec + secret key + a PRG for encryption. spec must outlive it. */
struct pn_fhe_client {
  const struct pn_fhe_spec *spec;
  struct pn_ckks_sk *sk;
  struct pn_prg prg;
};
/* A new secret key; seed (32 bytes) for tests, NULL = the OS. */
int pn_fhe_client_keygen(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const uint8_t *seed,
                         struct pn_fhe_client **out /* OUT */);
int pn_fhe_client_save_secret(struct pn_ctx *ctx, const struct pn_fhe_client *c, uint8_t **buf /* OUT, wipe + free */,
                              size_t *len /* OUT */);
int pn_fhe_client_load(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const uint8_t *buf, size_t len,
                       struct pn_fhe_client **out /* OUT */);
void pn_fhe_client_free(struct pn_fhe_client *c);

/* Evaluation keys for the server: relinearisation, the spec's rotations and, when the program bootstraps, the
** bootstrapping keys (their rotations, conjugation, the sparse-secret pair; seeded halves when serialized). */
int pn_fhe_client_evk(struct pn_ctx *ctx, struct pn_fhe_client *c, struct pn_fhe_evk **out /* OUT */);
int pn_fhe_evk_save(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const struct pn_fhe_evk *k,
                    uint8_t **buf /* OUT */, size_t *len /* OUT */);
/* Server side: keys for exactly this plan (hash, parameters, every rotation it needs). */
int pn_fhe_evk_load(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const uint8_t *buf, size_t len,
                    struct pn_fhe_evk **out /* OUT */);
void pn_fhe_evk_free(struct pn_fhe_evk *k);
/* Streamed loading (the server receiving a KEYS frame): the len bytes of an EVAL object pulled from get as they
** arrive, one key record at a time (ckks.h, pn_ckks_read_gk): the header first (program hash, the payload length
** against len), then each part's length against what the object holds, each CKKS object's fingerprint and
** every record's size against the parameters before its bytes are read; only the plan's rotations (full keys)
** and its bootstrapping keys are accepted, so a peer cannot make the server allocate more than the plan's key
** set, and nothing is held besides the keys but the piece being read (at most one switching key record,
** pn_ckks_swk_record_max). The keys equal pn_fhe_evk_load's for the same bytes. On failure nothing is kept. */
int pn_fhe_evk_read(struct pn_ctx *ctx, const struct pn_fhe_plan *p, pn_ckks_get_fn get, void *arg, uint64_t len,
                    struct pn_fhe_evk **out /* OUT */);
/* Streamed: the bytes of pn_fhe_evk_save handed to put one key record at a time (the header first), so a
** client writing them to a file or a socket holds the keys once plus one record (ckks.h, pn_ckks_put_fn). */
int pn_fhe_evk_write(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const struct pn_fhe_evk *k, pn_ckks_put_fn put,
                     void *arg);
/* The same into path (temp file + rename, 0644); *len (may be NULL): its bytes. */
int pn_fhe_evk_save_file(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const struct pn_fhe_evk *k, const char *path,
                         size_t *len /* OUT */);
/* pn_fhe_evk_load from a file, mapped rather than read (no private copy of its bytes beside the loaded keys);
** errors name path. */
int pn_fhe_evk_load_file(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const char *path,
                         struct pn_fhe_evk **out /* OUT */);
/* Serialized size (the bytes a client uploads once), computed without serializing; 0 if k does not fit s. */
size_t pn_fhe_evk_bytes(const struct pn_fhe_spec *s, const struct pn_fhe_evk *k);
/* Bytes the keys take in memory (as made or loaded). */
size_t pn_fhe_evk_memory_bytes(const struct pn_fhe_spec *s, const struct pn_fhe_evk *k);

/* x[0..n): the model input's elements (row-major). *buf: a QUERY object. */
int pn_fhe_encrypt(struct pn_ctx *ctx, struct pn_fhe_client *c, const float *x, int64_t n, uint8_t **buf /* OUT */,
                   size_t *len /* OUT */);
/* A RESULT object -> y[0..n), the model output's elements. */
int pn_fhe_decrypt(struct pn_ctx *ctx, const struct pn_fhe_client *c, const uint8_t *buf, size_t len, double *y,
                   int64_t n);
/* Server: a QUERY object -> a RESULT object. */
int pn_fhe_server_query(struct pn_ctx *ctx, struct pn_fhe_server *srv, const uint8_t *q, size_t qlen,
                        uint8_t **buf /* OUT */, size_t *len /* OUT */, struct pn_fhe_run_stats *st /* OUT, may be NULL */);

#endif
