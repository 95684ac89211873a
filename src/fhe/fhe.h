/* fhe.h - encrypted CNN inference under CKKS: compile a PAF model, keys, client and server.
**
** A client encrypts one image; a server holding the model evaluates the whole network on the
** ciphertext; only the client can read the logits. The model is an ONNX graph whose ReLU and MaxPool
** are SmartPAF polynomials (ai.privnn PafRelu / PafMaxPool with static scales, graph/paf.h).
**
**   pn_fhe_compile    model -> plan: packing (a whole feature map in one ciphertext), one level per
**                     linear layer, PAF chains, levels and exact scales, CKKS parameters at 128-bit
**                     security chosen from the depth, the rotations it needs.
**   pn_fhe_spec_*     what a client needs of a plan (parameters, rotations, input/output layout,
**                     program hash): public, sent by a server or written to a file.
**   pn_fhe_keys_*     the client's keys: secret key (never leaves the client), evaluation keys
**                     (relinearisation + only the plan's rotations) for the server.
**   pn_fhe_encrypt / pn_fhe_decrypt    client side.
**   pn_fhe_server_*   server side: plan + evaluation keys, evaluates a query ciphertext.
**   pn_fhe_simulate   the same program on plain slot vectors (no encryption): checks packing.
**
** Every object read from outside carries the parameter fingerprint and the program hash and is checked
** against them before use. Errors: PN_OK or a negative pn_status with a message in ctx. */
#ifndef PN_FHE_H
#define PN_FHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ckks/ckks.h"
#include "graph/ir.h"
#include "graph/ops.h"

struct cJSON;

struct pn_fhe_opts {
  int logn;            /* ring degree 2^logn (0 = the smallest that holds the program) */
  int scale_bits;      /* bits of the scale and of the scaling primes (0 = 40) */
  int allow_insecure;  /* tests only: rings below the 128-bit table (never for real data) */
  int compose;         /* consecutive linear layers: 0 compose when cheaper, 1 always, -1 never */
  int boot;            /* bootstrapping: PN_FHE_BOOT_AUTO (when the depth needs it), _FORCE (a bootstrappable
                       ** chain even if the depth fits), _NEVER, or _SIMULATE (plan and plain simulation only) */
  int boot_levels;     /* levels for computation between bootstraps (0: _SIMULATE 9; real bootstrapping as many
                       ** as the 128-bit bound holds at that ring, 9 on the insecure test rings) */
  int max_keys;        /* Galois keys at most (0: as many as key_mb holds); steps without a key of their
                       ** own run as chains of power-of-two rotations, whose keys are always made */
  int key_mb;          /* memory budget of the evaluation keys in MiB (0: 6144, raised to the power-of-two
                       ** keys when even those exceed it; a value given is a hard limit) */
  int replicate;       /* the input in several copies (encoded by the client) where that cuts the diagonals of
                       ** the linear layer reading it: 0 when it does, placed as the cost model prefers; -1 never;
                       ** PN_FHE_COPIES_* one placement (when copies cut the diagonals) */
};
/* Placements of the input's copies (pn_fhe_opts.replicate): one extent apart; moved by a margin so that no
** diagonal of the layer reading them is negative; a power of two apart; both. */
enum { PN_FHE_COPIES_EXTENT = 1, PN_FHE_COPIES_CORNER, PN_FHE_COPIES_POW2, PN_FHE_COPIES_CORNER_POW2 };
enum { PN_FHE_BOOT_AUTO = 0, PN_FHE_BOOT_NEVER = -1, PN_FHE_BOOT_FORCE = 1, PN_FHE_BOOT_SIMULATE = 2 };
void pn_fhe_opts_default(struct pn_fhe_opts *o);

/* Does the FHE compiler handle op? (One row per enum pn_op; the op x backend matrix test prints it.) */
bool pn_fhe_supports(enum pn_op op);

struct pn_fhe_plan;
/* Compile a model (one float input [1,...], one float output). The graph is not changed. Errors name
** the node: an op without a CKKS form (a plain Relu: "replace it by a PAF first"), a dynamic PAF scale,
** a feature map larger than one ciphertext, a depth beyond what 128-bit parameters hold. */
int pn_fhe_compile(struct pn_ctx *ctx, const struct pn_graph *model, const struct pn_fhe_opts *opts,
                   struct pn_fhe_plan **out /* OUT */);
void pn_fhe_plan_free(struct pn_fhe_plan *p);

/* What a plan is, in numbers (also per layer via pn_fhe_plan_print / _json). */
struct pn_fhe_plan_info {
  int logn, depth, levels, boots, layers, instructions;
  int rotations;            /* rotations executed per image: key switches (a chain of k keys counts k) */
  int modups;               /* their key-switch decompositions (fewer when rotations of one input share one) */
  int rotations_chained;    /* key switches if every rotation ran on its own as a chain of keys (the earlier
                            ** schedule, at the split chosen for the key count) */
  int rotation_keys;        /* distinct steps: Galois keys the client makes */
  double key_bytes;         /* evaluation keys in memory (relinearisation + Galois): digits x 2 x (nq + np) x N words */
  double boot_key_bytes;    /* of which bootstrapping keys (estimated from their rotations and levels; 0: none) */
  int boot_rotation_keys;   /* rotation keys of the bootstrapping circuit */
  int log_slots;            /* the program's slots: 2^log_slots (fewer than N/2: sparse packing, replicated) */
  int real_boot;            /* the bootstraps run on ciphertexts (0: none, or simulated only) */
  int64_t pt_muls, ct_muls;
  double log_qp;
  double est_seconds;       /* cost model, one thread (see plan.c) */
  size_t slots;
  int64_t in_elems, out_elems;
  uint8_t hash[32];
};
void pn_fhe_plan_get_info(const struct pn_fhe_plan *p, struct pn_fhe_plan_info *out /* OUT */);
const struct pn_ckks_context *pn_fhe_plan_ckks(const struct pn_fhe_plan *p);
/* A table per layer: packing, levels in/out, rotations, plaintext and ciphertext products, bootstraps,
** estimated ms. */
void pn_fhe_plan_print(const struct pn_fhe_plan *p, FILE *f);
/* The same as JSON (caller owns it). NULL when out of memory. */
struct cJSON *pn_fhe_plan_json(const struct pn_fhe_plan *p);

/* ---- plain simulation (no encryption; exact up to double rounding) ---- */
struct pn_fhe_sim_stats {
  double max_abs;           /* largest |slot value| of any register, any slot (overflow / bootstrapping range) */
  double boot_max_abs;      /* largest |slot value| entering a bootstrap (its precision degrades with it) */
};
/* x: the model input's elements (row-major, float); y: the output's elements (double). The program's
** levels and scales are replayed and checked like on ciphertexts. */
int pn_fhe_simulate(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const float *x, double *y,
                    struct pn_fhe_sim_stats *st /* OUT, may be NULL */);

/* ---- the server side ---- */
struct pn_fhe_evk;          /* evaluation keys: relinearisation, the plan's rotations */
struct pn_fhe_server;
struct pn_fhe_run_stats {
  double seconds;           /* wall-clock of the evaluation */
  double cpu_seconds;       /* process CPU time */
  int rotations, pt_muls, ct_muls, boots;
  int modups;               /* decompositions of the rotations' key switches (pn_fhe_plan_info) */
  int n_layer;
  double *layer_seconds;    /* [n_layer], owned by the server (valid until the next evaluation) */
  double *layer_cpu_seconds; /* [n_layer] process CPU time, the same way */
  int64_t ct_fresh;         /* ciphertext buffers allocated anew (the context's pool had none free) */
};
/* Set up a server: checks the keys against the plan (parameters, every rotation), prepares the weight
** plaintexts within cache_mb MiB: every diagonal's integer coefficients first (N words each), then the NTT form
** of the layers that fit in the rest (what fits neither is encoded during each evaluation). plan and evk must outlive it
** (or until pn_fhe_server_set_keys replaces evk). evk NULL: the weights only, keys given later. */
int pn_fhe_server_new(struct pn_ctx *ctx, const struct pn_fhe_plan *plan, const struct pn_fhe_evk *evk,
                      size_t cache_mb, struct pn_fhe_server **out /* OUT */);
/* Another client's keys (checked as pn_fhe_server_new does; on refusal the server keeps the old ones): the
** encoded weights and the bootstrapping plaintexts are kept, so a server encodes them once per model, not
** per client. NULL: drop the keys (evaluation refused until the next). */
int pn_fhe_server_set_keys(struct pn_ctx *ctx, struct pn_fhe_server *s, const struct pn_fhe_evk *evk);
void pn_fhe_server_free(struct pn_fhe_server *s);
/* How a linear layer's rotations run: 0 (the default) by the plan's rotation schedule (baby steps as a tree
** of single key switches sharing decompositions, giant steps summed up a tree of single key switches; the
** plan's counts and estimate); 1 every rotation on its own as a chain of power-of-two keys where its step has no
** key (the earlier way, kept to compare results and cost; at the plan's split). Same keys either way. */
void pn_fhe_server_set_rot_chains(struct pn_fhe_server *s, int chains);
/* How a LINEAR's giant tree sums its groups: PN_FHE_GIANT_AUTO (default) per layer by its level (where the
** special primes are a small part of the extended basis), PN_FHE_GIANT_EAGER each group rescaled and each giant
** rotation ModDowned at once (the way before), PN_FHE_GIANT_EXT the giant rotations summed over Q_l P with one
** ModDown per tree node with children and one rescale per layer. Results agree up to CKKS rounding noise; the
** forced modes are for comparison and tests. */
enum { PN_FHE_GIANT_AUTO = 0, PN_FHE_GIANT_EAGER = 1, PN_FHE_GIANT_EXT = 2 };
void pn_fhe_server_set_giant_mode(struct pn_fhe_server *s, int mode);
/* Evaluate the model on a query ciphertext (at the plan's input level and scale, of its parameters). */
int pn_fhe_server_eval(struct pn_ctx *ctx, struct pn_fhe_server *s, const struct pn_ckks_ct *in,
                       struct pn_ckks_ct *out, struct pn_fhe_run_stats *st /* OUT, may be NULL */);
/* Check (and count) what the executor would do without keys: per layer levels, as the plan says. */
size_t pn_fhe_server_cache_bytes(const struct pn_fhe_server *s);
/* The bound the server set on its plan's ciphertext pool (pn_ckks_ct_pool_set; the peak of ciphertexts an
** evaluation holds at once, by the plan), and the pool's state. */
size_t pn_fhe_server_pool_bytes(const struct pn_fhe_server *s, struct pn_ckks_pool_info *info /* OUT, may be NULL */);

/* The threads an evaluation should use when the user said nothing (no --threads, no OMP_NUM_THREADS: then 0,
** leave the OpenMP runtime's choice): the cores no other process keeps busy, online cores minus the 1-minute
** load average, at least 1. OpenMP's parallel regions in the ring arithmetic end at barriers, so a thread the
** kernel has descheduled in favour of another process stalls the others: on a 2-core machine at load 10,
** 2 threads ran the demo model 4x slower than 1 (docs/fhe.md); on idle cores they help. */
int pn_fhe_default_threads(void);

/* ---- client and server in one process over images (privnn fhe infer) ---- */
struct pn_fhe_infer_opts {
  const uint8_t *seed;      /* 32 bytes: keys and encryption from a seeded PRG (tests); NULL = the OS */
  size_t cache_mb;          /* the server's budget for encoded weights (pn_fhe_server_new) */
  int progress;             /* a progress bar on stderr (when a TTY) */
  int rot_chains;           /* 1: every rotation on its own (pn_fhe_server_set_rot_chains; for comparison) */
  int giant_mode;           /* PN_FHE_GIANT_* (pn_fhe_server_set_giant_mode; 0 = auto) */
};
struct pn_fhe_infer_report {
  int64_t n;                /* images done */
  int64_t agree;            /* decrypted top-1 == the plaintext model's */
  int has_labels;
  int64_t correct, plain_correct;
  double max_abs_err;       /* max |decrypted - plaintext| over every logit of every image */
  double keygen_s, server_setup_s, encrypt_s, eval_s, decrypt_s, eval_cpu_s, eval_max_s;  /* sums over images */
  size_t key_bytes;         /* evaluation keys as the client uploads them */
  size_t key_memory_bytes;  /* the same in memory: the run holds one set (the client's keys go to the
                            ** server as they are, not serialized and loaded back) */
  size_t secret_key_bytes, spec_bytes, server_cache_bytes;
  size_t bytes_up, bytes_down;   /* one query, one result */
  int rotations, pt_muls, ct_muls, boots;  /* per image */
  int modups;               /* per image: decompositions of the rotations' key switches */
  int rot_chains;           /* the run used the earlier rotation schedule (opts->rot_chains) */
  int giant_mode;           /* opts->giant_mode */
  long peak_rss_kb;
  size_t ct_pool_bytes;     /* the ciphertext pool's bound (pn_fhe_server_pool_bytes) */
  size_t ct_pool_peak_bytes; /* the most it held at once */
  int64_t ct_fresh_first, ct_fresh_last; /* fresh ciphertext buffers in the first and in the last evaluation */
  int n_layer;
  double *layer_seconds;    /* [n_layer] sums over images */
  double *layer_cpu_seconds; /* [n_layer] process CPU time, sums over images */
  int *pred, *plain_pred;   /* [n] top-1 of the decrypted and of the plaintext logits */
};
/* x: n images of the model's input size (row-major); labels may be NULL. The model is the plaintext
** reference (the graph p was compiled from). On error, r holds the images done so far. */
int pn_fhe_infer(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const struct pn_graph *model, const float *x,
                 const int32_t *labels, int64_t n, const struct pn_fhe_infer_opts *opts,
                 struct pn_fhe_infer_report *r /* OUT, free with pn_fhe_infer_report_free */);
void pn_fhe_infer_report_free(struct pn_fhe_infer_report *r);
/* The plan's JSON plus the report: agreement, accuracy, max_abs_err, seconds_per_image, bytes_up,
** bytes_down, key_bytes, per layer seconds_per_image, predictions [[fhe, plain], ...]. */
struct cJSON *pn_fhe_infer_json(const struct pn_fhe_plan *p, const struct pn_fhe_infer_report *r);

/* ---- the PAF ReLU microbenchmark (SmartPAF Table 4: N = 2^15, log QP 843 here, 40-bit scales) ---- */
struct pn_fhe_paf_bench {
  int form;                 /* enum pn_paf_form */
  double seconds;           /* the sign chain + the product x q, one full ciphertext */
  int levels, ct_muls;
  double max_err;           /* decrypted vs the same polynomial in double, over every slot */
};
/* logn 15 for the paper's setting (smaller only with allow_insecure: tests); seed NULL = the OS. */
int pn_fhe_bench_paf(struct pn_ctx *ctx, int logn, int allow_insecure, const uint8_t *seed, int nforms,
                     const int *forms, struct pn_fhe_paf_bench *out /* OUT [nforms] */);

#endif
