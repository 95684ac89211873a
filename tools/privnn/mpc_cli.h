/* mpc_cli.h - helpers shared by the `privnn mpc` subcommands (cmd_mpc.c, cmd_mpc_party.c). */
#ifndef PN_MPC_CLI_H
#define PN_MPC_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "cli_util.h"
#include "graph/ir.h"
#include "nn/dataset.h"

struct pn_ctx;

struct opts {
  const char *model, *data, *plan_path, *net, *json, *out, *serve, *psk_file;
  int split;                   /* enum pn_split */
  int secret;                  /* weights: 0 public, 1 secret */
  bool sim, tls, have_seed, quiet, no_table;
  bool resize, count_given, data_given;
  struct pn_cli_list inputs;   /* --input: the user's own files */
  int64_t count, batch, margin, batches, uniform, threads;
  uint64_t seed;
};

/* One `mpc` subcommand's page: the shared options it takes, by name, space-separated
** ("--data --count -o"; each listed in help with its default from struct opts), and what -o means. */
struct pn_mpc_cli_spec {
  const char *cmd, *synopsis, *about, *example;
  const char *opts;
  const char *out_arg, *out_help;
  bool no_model;               /* no MODEL argument (bench-relu) */
};

/* The model and where its inputs come from (Fashion-MNIST, the user's files, or seeded random
** images). */
struct source {
  struct pn_graph *g;          /* the model as loaded */
  struct pn_dataset ds;
  int have_ds;
  struct pn_tensor *files;     /* --input: [N, per_image] float32 (the client's secret: wiped) */
  enum pn_split split;
  int64_t per_image;           /* input elements per image */
  int64_t out_per_image;
  uint8_t seed[32];            /* random data and the client's share randomness */
};

/* Parse argv (argv[0] = the subcommand) with the options sp names; o holds the defaults. Returns 0,
** -1 after --help, or an exit code. */
int pn_mpc_cli_parse(int argc, char **argv, const struct pn_mpc_cli_spec *sp, struct opts *o);
/* Load the model and the input source; with --input files and no --count, o->count becomes the
** number of examples they hold. */
int pn_mpc_cli_load(struct pn_ctx *ctx, struct opts *o, struct source *s);
/* "fashion-mnist test split", "random", "3 input file(s)": where the images came from */
const char *pn_mpc_cli_source_name(const struct opts *o, const struct source *s, char *buf, size_t n);
void pn_mpc_cli_free(struct source *s);
/* Images [first, first+cnt) into x, labels into y (-1 for random images and files). */
void pn_mpc_cli_images(const struct source *s, int64_t first, int64_t cnt, float *x, int32_t *y);
int pn_mpc_cli_sha256(struct pn_ctx *ctx, const char *path, uint8_t out[32]);
/* --plan PATH for MODEL (loaded as g): the plan, checked against the model as `mpc infer`, `mpc
** dealer` and `mpc party` all need it (pn_mpc_plan_check: the SHA-256 it records, its nodes, their
** comparisons per image, k/m in range); the caller frees *plan. */
struct pn_mpc_plan;
int pn_mpc_cli_plan_load(struct pn_ctx *ctx, const char *path, const char *model,
                         const struct pn_graph *g, struct pn_mpc_plan *plan);

/* cmd_mpc.c: glibc heap settings for the share arrays (no trimming, no mmap per array). */
void pn_mpc_cli_heap_tune(void);

/* cmd_mpc.c: the subcommands (argv[0] = the subcommand, as every `mpc` entry point), for
** cmd_mpc_bench.c */
int pn_mpc_cli_infer(int argc, char **argv);
int pn_mpc_cli_profile(int argc, char **argv);
int pn_mpc_cli_bench_relu(int argc, char **argv);

/* cmd_mpc_search.c: `mpc search`, `mpc finetune` */
int pn_mpc_cli_search(int argc, char **argv);
int pn_mpc_cli_finetune(int argc, char **argv);

/* cmd_mpc_bench.c: `privnn bench mpc [--csv FILE] [--model M] [--net lan|wan] [--count N] ...`
** (argv[0] = "mpc" or "bench"; reachable as `privnn bench mpc` and `privnn mpc bench`). */
int pn_bench_mpc(int argc, char **argv);

/* cmd_mpc_party.c */
int pn_mpc_cli_share(int argc, char **argv);
int pn_mpc_cli_party(int argc, char **argv);
int pn_mpc_cli_reveal(int argc, char **argv);
int pn_mpc_cli_weights(int argc, char **argv);
int pn_mpc_cli_psk(int argc, char **argv);

#endif
