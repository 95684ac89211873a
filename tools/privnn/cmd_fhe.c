/* cmd_fhe.c - `privnn fhe plan | infer | keygen | encrypt | eval | decrypt | serve | query` and `privnn bench
** fhe`: encrypted CNN inference under CKKS (src/fhe). Options: one table (parse), each subcommand names its own. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "fhe/fhe.h"
#include "fhe/fhe_keys.h"
#include "fhe/fhe_net.h"
#include "graph/onnx.h"
#include "graph/paf.h"
#include "nn/dataset.h"
#include "nn/input.h"
#include "util/util.h"
#include "util/wipe.h"

/* ---- options: one table for every fhe subcommand; each names the ones it takes ---- */

struct fhe_args {
  const char *model, *json, *data, *out, *keys, *file, *listen, *connect, *split;
  int64_t index, count, cache_mb, threads, sessions, timeout, min_rate;
  int64_t logn, scale_bits, boot_levels, max_keys, key_mb;
  int compose_i, boot_i, split_i, replicate_i;
  struct pn_cli_list inputs;   /* --input: the user's own files instead of --data */
  bool resize, count_given, rot_chains, giant_eager;
  struct pn_fhe_opts o;
};

struct fhe_sub {
  const char *cmd, *synopsis, *about, *example;
  const char *opts;            /* the option names it takes, space-separated */
  const char *pos_name;
  int min_pos, max_pos;
};

#define PLAN_OPTS "--logn --scale-bits --compose --replicate --boot --boot-levels --key-mb --max-keys"

/* Parse argv (argv[0] = the subcommand) for sp into f: PN_EXIT_OK, -1 after --help, or a usage error. */
static int parse(int argc, char **argv, const struct fhe_sub *sp, struct fhe_args *f) {
  memset(f, 0, sizeof *f);
  pn_fhe_opts_default(&f->o);
  f->count = 1;
  f->cache_mb = 4096;
  f->logn = 0, f->scale_bits = 40;
  f->timeout = !strcmp(sp->cmd, "fhe query") ? 3600 : 600;
  f->min_rate = (int64_t)(PN_FHE_MIN_RATE_DEFAULT >> 10);
  const struct pn_cli_opt all[] = {
    {"--logn", NULL, PN_CLI_INT, &f->logn, "N", "ring degree 2^N", 12, 16, NULL,
     "the smallest 128-bit ring that holds the program"},
    {"--scale-bits", NULL, PN_CLI_INT, &f->scale_bits, "B", "bits of the scale and of the scaling primes "
     "(bootstrapped programs: 45, the preset's)", 20, 59},
    {"--compose", NULL, PN_CLI_CHOICE, &f->compose_i, "C", "compose consecutive linear layers", 0, 0,
     "auto|always|never"},
    {"--replicate", NULL, PN_CLI_CHOICE, &f->replicate_i, "R", "the input in copies (the client encodes them) where "
     "they cut the diagonals of the first linear layer: auto (placed as the cost model prefers), never, or one "
     "placement (extent apart, moved by a margin for no negative diagonal, a power of two apart, both)", 0, 0,
     "auto|never|extent|margin|pow2|margin-pow2"},
    {"--boot", NULL, PN_CLI_CHOICE, &f->boot_i, "B", "auto: bootstrap when the depth exceeds every 128-bit ring "
     "(N = 2^16, sparse slots); force: a bootstrappable chain anyway; simulate: plan and plain simulation only", 0,
     0, "auto|never|force|simulate"},
    {"--boot-levels", NULL, PN_CLI_INT, &f->boot_levels, "L", "levels for computation between bootstraps", 2, 60,
     NULL, "simulate 9; real: as many as the 128-bit bound holds"},
    {"--key-mb", NULL, PN_CLI_INT, &f->key_mb, "M", "memory budget of the rotation keys: steps beyond it run as "
     "chains of power-of-two rotations (the default yields to the power-of-two keys when even they exceed it)", 1, 1 << 24, NULL, "6144"},
    {"--max-keys", NULL, PN_CLI_INT, &f->max_keys, "K", "at most K rotation keys (overrides --key-mb)", 1, 1 << 20,
     NULL, "what --key-mb holds"},
    {"--json", NULL, PN_CLI_STR, &f->json, "FILE", "machine-readable report ('-': stdout)"},
    {"--data", NULL, PN_CLI_STR, &f->data, "D", "fashion-mnist, or a folder with its four .gz files"},
    {"--input", "-i", PN_CLI_LIST, &f->inputs, "FILE", "your own input instead of --data: .npy, .pb, PNG or PGM, "
     "one example or a batch (repeat)"},
    {"--resize", NULL, PN_CLI_FLAG, &f->resize, NULL, "resize / convert --input images to the model's shape"},
    {"--split", NULL, PN_CLI_CHOICE, &f->split_i, "S", "Fashion-MNIST split (test: final reporting only)", 0, 0,
     "val|test"},
    {"--count", NULL, PN_CLI_INT, &f->count, "N", "images (the first N of the split, or from --index; with "
     "--input: default all they hold)", 1, PN_FMNIST_TEST, NULL, NULL, &f->count_given},
    {"--index", NULL, PN_CLI_INT, &f->index, "I", "image index in the split (or among the --input examples)", 0,
     PN_FMNIST_TRAIN},
    {"--cache-mb", NULL, PN_CLI_INT, &f->cache_mb, "M", "the server's memory for encoded weights (the rest is "
     "encoded during each evaluation)", 0, 1 << 20},
    {"--rot-chains", NULL, PN_CLI_FLAG, &f->rot_chains, NULL, "run every rotation on its own as a chain of "
     "power-of-two keys (the earlier schedule, for comparison; default: the plan's rotation tree)"},
    {"--giant-eager", NULL, PN_CLI_FLAG, &f->giant_eager, NULL, "rescale every giant group and ModDown every giant "
     "rotation (the way before, for comparison; default: the giant sums over Q_l P where the level pays for it)"},
    {"--threads", NULL, PN_CLI_INT, &f->threads, "T", "OpenMP threads", 1, 256, NULL,
     "the cores other processes leave idle; OMP_NUM_THREADS when set"},
    {"--output", "-o", PN_CLI_STR, &f->out, "PATH", "output file (keygen: folder)"},
    {"--keys", NULL, PN_CLI_STR, &f->keys, "PATH", "the client's key folder (eval: its eval.keys file)"},
    {"--listen", NULL, PN_CLI_STR, &f->listen, "HOST:PORT", "where to listen (port 0: any free port, printed)"},
    {"--sessions", NULL, PN_CLI_INT, &f->sessions, "N", "serve N sessions, then exit", 0, 1 << 30, NULL,
     "0: forever"},
    {"--connect", NULL, PN_CLI_STR, &f->connect, "HOST:PORT", "the server (privnn fhe serve)"},
    {"--timeout", NULL, PN_CLI_INT, &f->timeout, "S", "seconds the peer may stall (the client waits for "
     "evaluations)", 1, 1 << 20},
    {"--min-rate", NULL, PN_CLI_INT, &f->min_rate, "KIB", "KiB/s each frame from a client must arrive at, at least: "
     "a frame of L bytes may take --timeout + L / rate seconds (0: no bound)", 0, 1 << 30},
  };
  struct pn_cli_opt mine[sizeof all / sizeof *all + 1];
  int n = 0;
  for (const char *p = sp->opts; *p;) {
    size_t len = strcspn(p, " ");
    size_t k = 0;
    while (k < sizeof all / sizeof *all && !(strlen(all[k].name) == len && !strncmp(all[k].name, p, len))) k++;
    if (k == sizeof all / sizeof *all) {
      fprintf(stderr, "privnn %s: internal: no option '%.*s'\n", sp->cmd, (int)len, p);
      return PN_EXIT_FAIL;
    }
    mine[n++] = all[k];
    p += len;
    p += strspn(p, " ");
  }
  mine[n] = (struct pn_cli_opt){0};
  const char *pos[2] = {NULL, NULL};
  const struct pn_cli_spec spec = {sp->cmd, sp->synopsis, sp->about, sp->example, mine, sp->pos_name, pos,
                                   sp->min_pos, sp->max_pos};
  int rc = pn_cli_parse(&spec, argc, argv);
  if (rc) return rc;
  f->model = pos[0];
  f->file = pos[1];
  f->split = f->split_i ? "test" : "val";
  static const int compose[3] = {0, 1, -1};
  static const int boot[4] = {PN_FHE_BOOT_AUTO, PN_FHE_BOOT_NEVER, PN_FHE_BOOT_FORCE, PN_FHE_BOOT_SIMULATE};
  f->o.logn = (int)f->logn;
  f->o.scale_bits = (int)f->scale_bits;
  f->o.compose = compose[f->compose_i];
  f->o.replicate = f->replicate_i == 1 ? -1 : f->replicate_i > 1 ? f->replicate_i - 1 : 0;
  f->o.boot = boot[f->boot_i];
  f->o.boot_levels = (int)f->boot_levels;
  f->o.max_keys = (int)f->max_keys;
  f->o.key_mb = (int)f->key_mb;
  if (strstr(sp->opts, "--data")) {
    if (f->data && f->inputs.n) return pn_cli_usage(sp->cmd, "--data and --input exclude each other");
    if (!f->data && !f->inputs.n)
      return pn_cli_usage(sp->cmd, "no images given (--data fashion-mnist, or --input FILE for your own)");
    if (f->data && strcmp(f->data, "fashion-mnist") && access(f->data, F_OK))
      return pn_cli_usage(sp->cmd, "--data '%s': not 'fashion-mnist' nor a folder", f->data);
  }
  if (f->resize && !f->inputs.n) return pn_cli_usage(sp->cmd, "--resize applies to --input files");
  if (strstr(sp->opts, "--listen") && !f->listen) return pn_cli_usage(sp->cmd, "no --listen HOST:PORT given");
  if (strstr(sp->opts, "--connect") && !f->connect) return pn_cli_usage(sp->cmd, "no --connect HOST:PORT given");
  return PN_EXIT_OK;
}

static const struct fhe_sub sub_plan = {
  "fhe plan", "MODEL.onnx [options]",
  "Compile a PAF model (ReLU/MaxPool as SmartPAF polynomials with static scales: privnn paf approximate) to a\n"
  "CKKS program and print, per layer, the packing, levels in/out, rotations, plaintext and ciphertext\n"
  "products, bootstraps and the estimated time (cost model), the parameters and the key memory.",
  "privnn fhe plan lenet5-f1g2.onnx --json plan.json", PLAN_OPTS " --json", "model", 1, 1};
static const struct fhe_sub sub_infer = {
  "fhe infer", "MODEL.onnx (--data fashion-mnist --count N | --input FILE...) [options]",
  "Client and server in one process: keys, then per image encrypt -> evaluate -> decrypt through the\n"
  "objects they exchange, each compared with the plaintext model (agreement, max abs logit error),\n"
  "with per-layer times, bytes each way, key sizes and peak memory. --input: your own images or arrays\n"
  "(normalised as the model's training data), each one's class encrypted and in plaintext.",
  "privnn fhe infer small.onnx --data fashion-mnist --count 10 --json report.json",
  PLAN_OPTS " --data --input --resize --split --count --cache-mb --threads --rot-chains --giant-eager --json", "model", 1, 1};
static const struct fhe_sub sub_keygen = {
  "fhe keygen", "MODEL.onnx -o DIR [plan options]",
  "The client's keys for a model: DIR/spec.bin (public), DIR/secret.key (0600, stays with the client),\n"
  "DIR/eval.keys (for the server). Give eval the same plan options.",
  "privnn fhe keygen small.onnx -o keys", PLAN_OPTS " --output", "model", 1, 1};
static const struct fhe_sub sub_encrypt = {
  "fhe encrypt", "MODEL.onnx --keys DIR (--data fashion-mnist | --input FILE) [--index I] -o QUERY",
  "Encrypt one image with the client's keys: Fashion-MNIST's --index I, or your own (--input: a PNG/PGM\n"
  "image or a .npy/.pb array; --index picks an example of a batch). MODEL only for its input shape and\n"
  "normalisation.",
  "privnn fhe encrypt small.onnx --keys keys --data fashion-mnist --index 0 -o q.bin",
  "--keys --data --input --resize --split --index --output", "model", 1, 1};
static const struct fhe_sub sub_eval = {
  "fhe eval", "MODEL.onnx QUERY --keys DIR/eval.keys -o RESULT [plan options]",
  "The server's step: evaluate the model on an encrypted query with the client's evaluation keys (it never\n"
  "reads the secret key).",
  "privnn fhe eval small.onnx q.bin --keys keys/eval.keys -o r.bin", PLAN_OPTS " --keys --output --cache-mb",
  "model and query", 2, 2};
static const struct fhe_sub sub_decrypt = {
  "fhe decrypt", "RESULT --keys DIR [--json FILE]", "Decrypt a result: the logits and the top-1 class.",
  "privnn fhe decrypt r.bin --keys keys", "--keys --json", "result", 1, 1};
static const struct fhe_sub sub_serve = {
  "fhe serve", "MODEL.onnx --listen HOST:PORT [options]",
  "Answer encrypted queries over TCP. Each session: the server sends the spec (HELLO), the client uploads\n"
  "its evaluation keys once, then sends queries; the secret key never leaves it. A session that breaks\n"
  "the protocol gets an ERROR frame and a line on stderr; the server accepts the next one.",
  "privnn fhe serve small.onnx --listen 0.0.0.0:7070", PLAN_OPTS " --listen --sessions --cache-mb --timeout --min-rate",
  "model", 1, 1};
static const struct fhe_sub sub_query = {
  "fhe query", "--connect HOST:PORT (--data fashion-mnist | --input FILE...) [options]",
  "The client over TCP: receives the model's spec, makes a secret key and the evaluation keys, uploads the\n"
  "latter, encrypts images --index .. --index+--count-1, decrypts the answers (top-1 against the labels;\n"
  "with --input, your own images or arrays, normalised as the server's HELLO says).",
  "privnn fhe query --connect 127.0.0.1:7070 --data fashion-mnist --count 5 --json q.json",
  "--connect --data --input --resize --split --index --count --timeout --json", NULL, 0, 0};

static int load_compile(const char *cmd, const struct fhe_args *f, struct pn_ctx *ctx, struct pn_graph **g,
                        struct pn_fhe_plan **p) {
  *g = NULL, *p = NULL;
  int rc = pn_onnx_load_file(ctx, f->model, g);
  if (!rc && (rc = pn_fhe_compile(ctx, *g, &f->o, p))) pn_err_prefix(ctx, "%s", f->model);
  return rc ? pn_cli_fail(cmd, ctx) : PN_EXIT_OK;
}

/* The --input files as g's input (pn_input_load: normalised as g's training data): n_in floats per example.
** *n is the examples to use: --count (at most what the files hold; all of them without --count) or, with
** want_all 0, every example (--index then picks one). *x is freed with free_inputs (the user's data is wiped). */
static int load_inputs(struct pn_ctx *ctx, const struct fhe_args *f, const char *name, const struct pn_graph *g,
                       int64_t n_in, float **x, int64_t *n, int want_all) {
  struct pn_input_opts io = {.resize = f->resize};
  struct pn_input_info info;
  struct pn_tensor *t = NULL;
  *x = NULL, *n = 0;
  int rc = pn_input_load(ctx, g, f->inputs.v, f->inputs.n, &io, &t, &info);
  if (rc) {
    pn_err_prefix(ctx, "%s", name);
    return rc;
  }
  if (pn_tensor_numel(t) != info.n * n_in)
    rc = pn_err(ctx, PN_ERR_INVALID, "%s: the input files do not fit the model's input (%lld elements per example)",
                name, (long long)n_in);
  else if (!want_all && f->count_given && f->count > info.n)
    rc = pn_err(ctx, PN_ERR_INVALID, "--count %lld: the --input files hold %lld example%s", (long long)f->count,
                (long long)info.n, info.n == 1 ? "" : "s");
  else if (!(*x = malloc((size_t)pn_tensor_nbytes(t))))
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc) {
    memcpy(*x, t->data, (size_t)pn_tensor_nbytes(t));
    *n = want_all || !f->count_given ? info.n : f->count;
  }
  pn_wipe(t->data, pn_tensor_nbytes(t));
  pn_tensor_free(t);
  return rc;
}

static void free_inputs(float *x, int64_t n, int64_t n_in) {
  if (x) pn_wipe(x, (size_t)(n * n_in) * sizeof *x);
  free(x);
}

static int cmd_plan(int argc, char **argv) {
  const char *cmd = "fhe plan";
  struct fhe_args f;
  int rc = parse(argc, argv, &sub_plan, &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_fhe_plan *p;
  if ((rc = load_compile(cmd, &f, &ctx, &g, &p))) return rc;
  pn_fhe_plan_print(p, stdout);
  if (f.json) {
    cJSON *o = pn_fhe_plan_json(p);
    rc = o ? pn_cli_report(&ctx, "fhe plan", f.json, o) : pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    cJSON_Delete(o);
    if (rc) rc = pn_cli_fail(cmd, &ctx);
  }
  pn_fhe_plan_free(p);
  pn_graph_free(g);
  return rc;
}

static int cmd_infer(int argc, char **argv) {
  const char *cmd = "fhe infer";
  struct fhe_args f;
  int rc = parse(argc, argv, &sub_infer, &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  pn_cli_set_threads(f.threads ? (int)f.threads : pn_fhe_default_threads());
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_fhe_plan *p;
  if ((rc = load_compile(cmd, &f, &ctx, &g, &p))) return rc;
  struct pn_fhe_plan_info info;
  pn_fhe_plan_get_info(p, &info);
  if (info.boots > 0 && f.o.boot == PN_FHE_BOOT_SIMULATE) {
    pn_fhe_plan_free(p);
    pn_graph_free(g);
    return pn_cli_failf(cmd, "%s: --boot simulate plans bootstraps that only the simulation runs; drop it to "
                        "run on ciphertexts", f.model);
  }
  struct pn_dataset ds;
  memset(&ds, 0, sizeof ds);
  enum pn_split split = (enum pn_split)pn_split_parse(f.split);
  float *x = NULL;
  int32_t *y = NULL;
  int64_t *idx = NULL;
  struct pn_fhe_infer_report r;
  memset(&r, 0, sizeof r);
  const int files = f.inputs.n > 0;
  int64_t n = f.count;
  if (files) {
    rc = load_inputs(&ctx, &f, f.model, g, info.in_elems, &x, &n, 0);
  } else {
    rc = pn_dataset_load(&ctx, strcmp(f.data, "fashion-mnist") ? f.data : NULL, &ds);
    if (!rc && (rc = pn_dataset_use_model_norm(&ctx, &ds, g))) pn_err_prefix(&ctx, "%s", f.model);
    if (!rc && info.in_elems != ds.pixels)
      rc = pn_err(&ctx, PN_ERR_INVALID, "%s: the model takes %lld input elements, the images of %s have %lld",
                  f.model, (long long)info.in_elems, ds.name, (long long)ds.pixels);
    if (!rc && n > ds.n[split]) n = ds.n[split];
  }
  if (!rc && !files) {
    x = malloc((size_t)n * (size_t)ds.pixels * sizeof *x);
    y = malloc((size_t)n * sizeof *y);
    idx = malloc((size_t)n * sizeof *idx);
    if (!x || !y || !idx) rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; !rc && i < n; i++) idx[i] = i;
    if (!rc) pn_dataset_batch(&ds, split, idx, n, 0, 0, NULL, x, y);
  }
  if (!rc) {
    char what[64];
    if (files) snprintf(what, sizeof what, "%lld example%s from %d input file%s", (long long)n, n == 1 ? "" : "s",
                        f.inputs.n, f.inputs.n == 1 ? "" : "s");
    else snprintf(what, sizeof what, "%lld %s images", (long long)n, f.split);
    printf("%s: N=2^%d, %d levels, depth %d, %d bootstraps, %d rotation keys; %s\n", f.model, info.logn,
           info.levels, info.depth, info.boots, info.rotation_keys, what);
    fflush(stdout);
    struct pn_fhe_infer_opts io = {.cache_mb = (size_t)f.cache_mb, .progress = 1, .rot_chains = f.rot_chains,
                                  .giant_mode = f.giant_eager ? PN_FHE_GIANT_EAGER : PN_FHE_GIANT_AUTO};
    rc = pn_fhe_infer(&ctx, p, g, x, files ? NULL : y, n, &io, &r);
  }
  if (r.n > 0) {
    double k = (double)r.n;
    printf("agreement with the plaintext model %.4f (%lld/%lld), max abs logit error %.3g\n", (double)r.agree / k,
           (long long)r.agree, (long long)r.n, r.max_abs_err);
    if (r.has_labels)
      printf("top-1 accuracy: encrypted %.4f, plaintext %.4f\n", (double)r.correct / k, (double)r.plain_correct / k);
    for (int64_t i = 0; files && i < r.n; i++)
      printf("input %lld: class %d encrypted, %d in plaintext\n", (long long)i, r.pred[i], r.plain_pred[i]);
    printf("per image: evaluation %.2f s wall (%.2f s CPU), encrypt %.3f s, decrypt %.3f s; %d rotations (key "
           "switches, %d decompositions; %s), %d pt products, %d ct products, %d bootstraps\n", r.eval_s / k,
           r.eval_cpu_s / k, r.encrypt_s / k, r.decrypt_s / k, r.rotations, r.modups,
           r.rot_chains ? "each rotation its own chain" : "rotation tree", r.pt_muls, r.ct_muls, r.boots);
    printf("bytes up %zu, down %zu per image; evaluation keys %zu bytes (made in %.1f s); secret key %zu bytes; server "
           "weights %zu bytes (set up in %.1f s); peak RSS %.2f GiB\n", r.bytes_up, r.bytes_down, r.key_bytes,
           r.keygen_s, r.secret_key_bytes, r.server_cache_bytes, r.server_setup_s,
           (double)r.peak_rss_kb / (1024.0 * 1024.0));
    printf("ciphertext pool: bound %.2f GiB, held at most %.2f GiB; fresh ciphertext buffers %lld in the first "
           "evaluation, %lld in the last\n", (double)r.ct_pool_bytes / (1u << 30),
           (double)r.ct_pool_peak_bytes / (1u << 30), (long long)r.ct_fresh_first, (long long)r.ct_fresh_last);
  }
  if (!rc && f.json) {
    cJSON *o = pn_fhe_infer_json(p, &r);
    if (o) {
      cJSON_AddStringToObject(o, "model_file", f.model);
      if (files) cJSON_AddNumberToObject(o, "input_files", f.inputs.n);
      else cJSON_AddStringToObject(o, "split", f.split);
    }
    rc = o ? pn_cli_report(&ctx, "fhe infer", f.json, o) : pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    cJSON_Delete(o);
  }
  int ex = rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
  pn_fhe_infer_report_free(&r);
  if (files) free_inputs(x, n, info.in_elems);
  else free(x);
  free(y), free(idx);
  pn_dataset_free(&ds);
  pn_fhe_plan_free(p);
  pn_graph_free(g);
  return ex;
}

/* ---- the client and server steps as files: keygen, encrypt, eval, decrypt ---- */

#define MAX_OBJ ((size_t)64 << 30)

static int write_obj(struct pn_ctx *ctx, const char *dir, const char *name, const uint8_t *b, size_t n, unsigned mode) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return pn_err(ctx, PN_ERR_INVALID, "%s: path too long", dir);
  return pn_write_file_atomic(ctx, path, b, n, mode);
}

/* DIR/spec.bin (+ DIR/secret.key when sk): the client's side of the keys. */
static int load_client(struct pn_ctx *ctx, const char *dir, struct pn_fhe_spec **spec, struct pn_fhe_client **cl) {
  char path[4096];
  uint8_t *b = NULL;
  size_t n = 0;
  *spec = NULL, *cl = NULL;
  snprintf(path, sizeof path, "%s/spec.bin", dir);
  int rc = pn_read_file(ctx, path, MAX_OBJ, &b, &n);
  if (!rc && (rc = pn_fhe_spec_load(ctx, b, n, 0, spec))) pn_err_prefix(ctx, "%s", path);
  free(b);
  if (rc) return rc;
  snprintf(path, sizeof path, "%s/secret.key", dir);
  if ((rc = pn_read_secret_file(ctx, path, MAX_OBJ, &b, &n))) return rc;
  if ((rc = pn_fhe_client_load(ctx, *spec, b, n, cl))) pn_err_prefix(ctx, "%s", path);
  pn_wipe_free(b, n);
  return rc;
}

static int cmd_keygen(int argc, char **argv) {
  const char *cmd = "fhe keygen";
  struct fhe_args f;
  int rc = parse(argc, argv, &sub_keygen, &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  if (!f.out) return pn_cli_usage(cmd, "no output folder given (-o DIR)");
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_fhe_plan *p;
  if ((rc = load_compile(cmd, &f, &ctx, &g, &p))) return rc;
  struct pn_fhe_spec *spec = NULL;
  struct pn_fhe_client *cl = NULL;
  struct pn_fhe_evk *k = NULL;
  uint8_t *b = NULL;
  size_t n = 0;
  struct stat st;
  if (mkdir(f.out, 0700) && (stat(f.out, &st) || !S_ISDIR(st.st_mode)))
    rc = pn_err(&ctx, PN_ERR_IO, "%s: cannot create the folder", f.out);
  if (!rc) rc = pn_fhe_plan_spec(&ctx, p, &spec);
  if (!rc) rc = pn_fhe_spec_save(&ctx, spec, &b, &n);
  if (!rc) rc = write_obj(&ctx, f.out, "spec.bin", b, n, 0644);
  free(b), b = NULL;
  if (!rc) rc = pn_fhe_client_keygen(&ctx, spec, NULL, &cl);
  if (!rc && !(rc = pn_fhe_client_save_secret(&ctx, cl, &b, &n))) {
    rc = write_obj(&ctx, f.out, "secret.key", b, n, 0600);
    pn_wipe_free(b, n), b = NULL;
  }
  if (!rc) rc = pn_fhe_client_evk(&ctx, cl, &k);
  char kpath[4096];
  if (!rc && snprintf(kpath, sizeof kpath, "%s/eval.keys", f.out) >= (int)sizeof kpath)
    rc = pn_err(&ctx, PN_ERR_INVALID, "%s: path too long", f.out);
  if (!rc) rc = pn_fhe_evk_save_file(&ctx, spec, k, kpath, &n); /* streamed: the keys are held once */
  if (!rc)
    printf("%s: spec.bin, secret.key (0600, stays with the client), eval.keys (%zu bytes, for the server)\n", f.out, n);
  free(b);
  pn_fhe_evk_free(k);
  pn_fhe_client_free(cl);
  pn_fhe_spec_free(spec);
  pn_fhe_plan_free(p);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

static int cmd_encrypt(int argc, char **argv) {
  const char *cmd = "fhe encrypt";
  struct fhe_args f;
  int rc = parse(argc, argv, &sub_encrypt, &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  if (!f.keys || !f.out)
    return pn_cli_usage(cmd, "need MODEL.onnx (its input), --keys DIR, --data fashion-mnist --index I or --input FILE, "
                        "-o QUERY");
  int split = pn_split_parse(f.split);
  if (split != PN_SPLIT_VAL && split != PN_SPLIT_TEST) return pn_cli_usage(cmd, "--split: '%s' is not val or test", f.split);
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  struct pn_fhe_spec *spec = NULL;
  struct pn_fhe_client *cl = NULL;
  struct pn_dataset ds;
  memset(&ds, 0, sizeof ds);
  float img[PN_FMNIST_PIXELS], *fx = NULL;
  const float *x = img;
  int64_t nfx = 0;
  int32_t label = 0;
  uint8_t *q = NULL;
  size_t n = 0;
  rc = pn_onnx_load_file(&ctx, f.model, &g);
  if (!rc) rc = load_client(&ctx, f.keys, &spec, &cl);
  if (!rc && f.inputs.n) {
    /* the user's own image or array: example --index of what the files hold */
    if (!(rc = load_inputs(&ctx, &f, f.model, g, spec->n_in, &fx, &nfx, 1)) && f.index >= nfx)
      rc = pn_err(&ctx, PN_ERR_INVALID, "--index %lld: the --input files hold %lld example%s", (long long)f.index,
                  (long long)nfx, nfx == 1 ? "" : "s");
    if (!rc) x = fx + f.index * spec->n_in;
  } else if (!rc) {
    if (spec->n_in != PN_FMNIST_PIXELS)
      rc = pn_err(&ctx, PN_ERR_INVALID, "%s/spec.bin: the model takes %lld inputs, an image has %d", f.keys,
                  (long long)spec->n_in, PN_FMNIST_PIXELS);
    if (!rc) rc = pn_dataset_load(&ctx, strcmp(f.data, "fashion-mnist") ? f.data : NULL, &ds);
    if (!rc && (rc = pn_dataset_use_model_norm(&ctx, &ds, g))) pn_err_prefix(&ctx, "%s", f.model);
    if (!rc && ds.pixels != spec->n_in) /* img holds one 28x28 image */
      rc = pn_err(&ctx, PN_ERR_INVALID, "%s/spec.bin: the model takes %lld inputs, an image of %s has %lld", f.keys,
                  (long long)spec->n_in, ds.name, (long long)ds.pixels);
    if (!rc && f.index >= ds.n[split])
      rc = pn_err(&ctx, PN_ERR_INVALID, "--index %lld: the %s split has %lld images", (long long)f.index, f.split,
                  (long long)ds.n[split]);
    if (!rc) pn_dataset_batch(&ds, (enum pn_split)split, &f.index, 1, 0, 0, NULL, img, &label);
  }
  if (!rc) rc = pn_fhe_encrypt(&ctx, cl, x, spec->n_in, &q, &n);
  if (!rc) rc = pn_write_file_atomic(&ctx, f.out, q, n, 0644);
  if (!rc && f.inputs.n)
    printf("%s: example %lld of %d input file%s encrypted, %zu bytes\n", f.out, (long long)f.index, f.inputs.n,
           f.inputs.n == 1 ? "" : "s", n);
  else if (!rc)
    printf("%s: %s image %lld (label %d) encrypted, %zu bytes\n", f.out, f.split, (long long)f.index, label, n);
  free(q);
  free_inputs(fx, nfx, spec ? spec->n_in : 0);
  pn_dataset_free(&ds);
  pn_fhe_client_free(cl);
  pn_fhe_spec_free(spec);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

static int cmd_eval(int argc, char **argv) {
  const char *cmd = "fhe eval";
  struct fhe_args f;
  int rc = parse(argc, argv, &sub_eval, &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  pn_cli_set_threads(pn_fhe_default_threads()); /* OMP_NUM_THREADS, when set, decides */
  if (!f.file || !f.keys || !f.out) return pn_cli_usage(cmd, "need MODEL.onnx QUERY --keys EVAL.keys -o RESULT");
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_fhe_plan *p;
  if ((rc = load_compile(cmd, &f, &ctx, &g, &p))) return rc;
  struct pn_fhe_evk *k = NULL;
  struct pn_fhe_server *srv = NULL;
  uint8_t *b = NULL, *r = NULL;
  size_t n = 0, rl = 0;
  struct pn_fhe_run_stats st;
  rc = pn_fhe_evk_load_file(&ctx, p, f.keys, &k);
  if (!rc) rc = pn_fhe_server_new(&ctx, p, k, 4096, &srv);
  if (!rc) rc = pn_read_file(&ctx, f.file, MAX_OBJ, &b, &n);
  if (!rc && (rc = pn_fhe_server_query(&ctx, srv, b, n, &r, &rl, &st))) pn_err_prefix(&ctx, "%s", f.file);
  if (!rc) rc = pn_write_file_atomic(&ctx, f.out, r, rl, 0644);
  if (!rc) printf("%s: evaluated in %.2f s (%.2f s CPU), %d rotations; result %zu bytes\n", f.out, st.seconds,
                  st.cpu_seconds, st.rotations, rl);
  free(b);
  free(r);
  pn_fhe_server_free(srv);
  pn_fhe_evk_free(k);
  pn_fhe_plan_free(p);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

static int cmd_decrypt(int argc, char **argv) {
  const char *cmd = "fhe decrypt";
  struct fhe_args f;
  int rc = parse(argc, argv, &sub_decrypt, &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  if (!f.keys) return pn_cli_usage(cmd, "need RESULT --keys DIR");
  struct pn_ctx ctx = {0};
  struct pn_fhe_spec *spec = NULL;
  struct pn_fhe_client *cl = NULL;
  uint8_t *b = NULL;
  size_t n = 0;
  double *y = NULL;
  rc = load_client(&ctx, f.keys, &spec, &cl);
  if (!rc) rc = pn_read_file(&ctx, f.model, MAX_OBJ, &b, &n);
  if (!rc && !(y = malloc((size_t)spec->n_out * sizeof *y))) rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc && (rc = pn_fhe_decrypt(&ctx, cl, b, n, y, spec->n_out))) pn_err_prefix(&ctx, "%s", f.model);
  if (!rc) {
    int64_t best = 0;
    printf("logits");
    for (int64_t i = 0; i < spec->n_out; i++) {
      printf(" %.6f", y[i]);
      if (y[i] > y[best]) best = i;
    }
    printf("\ntop-1 %lld\n", (long long)best);
    if (f.json) {
      cJSON *o = cJSON_CreateObject(), *l = cJSON_AddArrayToObject(o, "logits");
      for (int64_t i = 0; i < spec->n_out; i++) cJSON_AddItemToArray(l, cJSON_CreateNumber(y[i]));
      cJSON_AddNumberToObject(o, "top1", (double)best);
      rc = pn_cli_report(&ctx, "fhe decrypt", f.json, o);
      cJSON_Delete(o);
    }
  }
  free(b);
  free(y);
  pn_fhe_client_free(cl);
  pn_fhe_spec_free(spec);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

/* ---- over TCP: serve and query ---- */

static int cmd_serve(int argc, char **argv) {
  const char *cmd = "fhe serve";
  struct fhe_args f;
  int rc = parse(argc, argv, &sub_serve, &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  pn_cli_set_threads(pn_fhe_default_threads()); /* OMP_NUM_THREADS, when set, decides */
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_fhe_plan *p;
  if ((rc = load_compile(cmd, &f, &ctx, &g, &p))) return rc;
  struct pn_fhe_plan_info info;
  pn_fhe_plan_get_info(p, &info);
  struct pn_fhe_spec *spec = NULL;
  uint8_t *sb = NULL, *hello = NULL;
  size_t sl = 0, hl = 0;
  struct pn_dataset norm = {.mean = NAN, .std = NAN};
  int lfd = -1, port = 0;
  if (info.boots > 0 && !info.real_boot)
    rc = pn_err(&ctx, PN_ERR_INVALID, "%s: --boot simulate plans bootstraps that only the simulation runs", f.model);
  if (!rc && (rc = pn_dataset_use_model_norm(&ctx, &norm, g))) pn_err_prefix(&ctx, "%s", f.model);
  if (!rc) rc = pn_fhe_plan_spec(&ctx, p, &spec);
  if (!rc) rc = pn_fhe_spec_save(&ctx, spec, &sb, &sl);
  if (!rc) rc = pn_fhe_hello_make(&ctx, sb, sl, norm.mean, norm.std, &hello, &hl);
  struct pn_fhe_server *srv = NULL;
  double t0 = pn_now();
  if (!rc) rc = pn_fhe_server_new(&ctx, p, NULL, (size_t)f.cache_mb, &srv); /* weights once, for every session */
  double setup = pn_now() - t0;
  if (!rc) rc = pn_fhe_listen(&ctx, f.listen, &lfd, &port);
  if (!rc) {
    printf("%s: N=2^%d, %d bootstraps per query; weights encoded once (%zu bytes, %.1f s); listening on port %d (%s)\n",
           f.model, info.logn, info.boots, pn_fhe_server_cache_bytes(srv), setup, port, f.listen);
    fflush(stdout);
  }
  for (int64_t k = 0; !rc && (f.sessions == 0 || k < f.sessions); k++) {
    struct pn_fhe_conn *c = NULL;
    struct pn_ctx sc = {0};
    if ((rc = pn_fhe_accept(&ctx, lfd, -1, (int)f.timeout * 1000, &c))) break;
    pn_fhe_conn_set_min_rate(c, (uint64_t)f.min_rate << 10);
    struct pn_fhe_serve_stats st;
    int src = pn_fhe_serve_session(&sc, c, srv, hello, hl, &st);
    if (src)
      fprintf(stderr, "privnn %s: session %lld (%s) ended: %s\n", cmd, (long long)k + 1, pn_fhe_conn_peer(c),
              pn_errmsg(&sc));
    else
      printf("session %lld (%s): keys %zu bytes, set up in %.1f s; %d queries, %.2f s each\n", (long long)k + 1,
             pn_fhe_conn_peer(c), st.key_bytes, st.setup_s, st.queries, st.queries ? st.eval_s / st.queries : 0.0);
    fflush(stdout);
    pn_fhe_conn_free(c);
  }
  if (lfd >= 0) close(lfd);
  pn_fhe_server_free(srv);
  free(sb);
  free(hello);
  pn_fhe_spec_free(spec);
  pn_fhe_plan_free(p);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

/* The client's --input files for a server's model: the client has no model, so a stand-in graph carries
** what it knows from HELLO: the input size (1x28x28 when it is an image's, else flat) and the normalisation. */
static int query_inputs(struct pn_ctx *ctx, const struct fhe_args *f, const struct pn_fhe_session *s, float **x,
                        int64_t *n) {
  struct pn_graph *g = pn_graph_new();
  const int64_t n_in = s->spec->n_in;
  int64_t img[4] = {-1, 1, 28, 28}, flat[2] = {-1, n_in};
  char norm[64];
  snprintf(norm, sizeof norm, "%.9g %.9g", (double)(float)s->mean, (double)(float)s->std);
  int rc = g ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc && !pn_graph_add_input(g, "input", PN_DT_FLOAT, n_in == PN_FMNIST_PIXELS ? 4 : 2,
                                 n_in == PN_FMNIST_PIXELS ? img : flat))
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc && !isnan(s->mean) && pn_graph_set_meta(g, PN_META_NORMALIZE, norm))
    rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc) rc = load_inputs(ctx, f, f->connect, g, n_in, x, n, 1);
  pn_graph_free(g);
  return rc;
}

static int cmd_query(int argc, char **argv) {
  const char *cmd = "fhe query";
  struct fhe_args f;
  int rc = parse(argc, argv, &sub_query, &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  struct pn_ctx ctx = {0};
  struct pn_fhe_conn *c = NULL;
  struct pn_fhe_session *s = NULL;
  struct pn_dataset ds;
  memset(&ds, 0, sizeof ds);
  enum pn_split split = (enum pn_split)pn_split_parse(f.split);
  double *y = NULL;
  cJSON *o = NULL, *preds = NULL;
  int64_t n = 0, correct = 0;
  size_t up = 0, down = 0;
  double t_all = 0;
  const int files = f.inputs.n > 0;
  float *fx = NULL;
  int64_t nfx = 0;
  if (!files) rc = pn_dataset_load(&ctx, strcmp(f.data, "fashion-mnist") ? f.data : NULL, &ds);
  if (!rc) rc = pn_fhe_connect(&ctx, f.connect, f.timeout < 10 ? (int)f.timeout * 1000 : 10000, (int)f.timeout * 1000, &c);
  if (!rc) rc = pn_fhe_session_open(&ctx, c, 0, &s);
  if (!rc && files) {
    /* your own inputs, normalised as the server's HELLO says; without --count, all from --index on */
    if (!(rc = query_inputs(&ctx, &f, s, &fx, &nfx)) && !f.count_given) f.count = nfx > f.index ? nfx - f.index : 1;
    if (!rc && f.index + f.count > nfx)
      rc = pn_err(&ctx, PN_ERR_INVALID, "--index %lld --count %lld: the --input files hold %lld example%s",
                  (long long)f.index, (long long)f.count, (long long)nfx, nfx == 1 ? "" : "s");
  } else if (!rc) {
    if (s->spec->n_in != PN_FMNIST_PIXELS)
      rc = pn_err(&ctx, PN_ERR_INVALID, "%s: the model takes %lld inputs, an image has %d", f.connect,
                  (long long)s->spec->n_in, PN_FMNIST_PIXELS);
    if (!rc && ds.pixels != s->spec->n_in) /* img holds one 28x28 image */
      rc = pn_err(&ctx, PN_ERR_INVALID, "%s: the model takes %lld inputs, an image of %s has %lld", f.connect,
                  (long long)s->spec->n_in, ds.name, (long long)ds.pixels);
    if (!rc && !isnan(s->mean)) ds.mean = (float)s->mean, ds.std = (float)s->std;
    if (!rc && f.index + f.count > ds.n[split])
      rc = pn_err(&ctx, PN_ERR_INVALID, "--index %lld --count %lld: the %s split has %lld images", (long long)f.index,
                  (long long)f.count, f.split, (long long)ds.n[split]);
  }
  if (!rc && !(y = malloc((size_t)s->spec->n_out * sizeof *y))) rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc) {
    printf("%s: model %s, N=2^%d; making keys\n", f.connect, s->spec->name, s->spec->params.logn);
    fflush(stdout);
    rc = pn_fhe_session_keys(&ctx, s, NULL);
  }
  if (!rc) {
    printf("evaluation keys %zu bytes: made in %.1f s, uploaded and loaded in %.1f s\n", s->key_bytes, s->keygen_s,
           s->upload_s);
    o = cJSON_CreateObject();
    preds = o ? cJSON_AddArrayToObject(o, "predictions") : NULL;
  }
  for (int64_t i = 0; !rc && i < f.count; i++) {
    float img[PN_FMNIST_PIXELS];
    const float *x = img;
    int32_t label = -1;
    int64_t id = f.index + i, best = 0;
    if (files) x = fx + id * s->spec->n_in;
    else pn_dataset_batch(&ds, split, &id, 1, 0, 0, NULL, img, &label);
    double t0 = pn_now();
    if ((rc = pn_fhe_session_query(&ctx, s, x, y, &up, &down))) break;
    t_all += pn_now() - t0;
    for (int64_t j = 1; j < s->spec->n_out; j++)
      if (y[j] > y[best]) best = j;
    correct += best == label;
    n++;
    if (files) printf("input %lld: top-1 %lld (%.2f s)\n", (long long)id, (long long)best, pn_now() - t0);
    else
      printf("%s image %lld: top-1 %lld, label %d (%.2f s)\n", f.split, (long long)id, (long long)best, label,
             pn_now() - t0);
    fflush(stdout);
    cJSON *e = cJSON_CreateObject(), *l = e ? cJSON_AddArrayToObject(e, "logits") : NULL;
    if (l)
      for (int64_t j = 0; j < s->spec->n_out; j++) cJSON_AddItemToArray(l, cJSON_CreateNumber(y[j]));
    if (e) {
      cJSON_AddNumberToObject(e, "index", (double)id);
      cJSON_AddNumberToObject(e, "top1", (double)best);
      if (!files) cJSON_AddNumberToObject(e, "label", label);
      cJSON_AddItemToArray(preds, e);
    }
  }
  if (!rc && n && !files)
    printf("accuracy %.4f (%lld/%lld); ", (double)correct / n, (long long)correct, (long long)n);
  if (!rc && n) printf("per query %.2f s round trip, %zu bytes up, %zu down\n", t_all / n, up, down);
  if (!rc && f.json && o) {
    if (files) cJSON_AddNullToObject(o, "accuracy");
    else cJSON_AddNumberToObject(o, "accuracy", n ? (double)correct / n : 0);
    cJSON_AddNumberToObject(o, "seconds_per_image", n ? t_all / n : 0);
    cJSON_AddNumberToObject(o, "bytes_up", (double)up);
    cJSON_AddNumberToObject(o, "bytes_down", (double)down);
    cJSON_AddNumberToObject(o, "key_bytes", (double)(s ? s->key_bytes : 0));
    cJSON_AddNumberToObject(o, "images", (double)n);
    rc = pn_cli_report(&ctx, "fhe query", f.json, o);
  }
  cJSON_Delete(o);
  free(y);
  free_inputs(fx, nfx, s ? s->spec->n_in : 0);
  if (s) pn_fhe_session_close(s);
  else pn_fhe_conn_free(c);
  pn_dataset_free(&ds);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

int pn_cmd_fhe(int argc, char **argv) {
  static const struct pn_cli_sub subs[] = {
    {"plan", cmd_plan, "compile a PAF model: per layer packing, levels, rotations, bootstraps, time"},
    {"infer", cmd_infer, "client and server in one process over images, against the plaintext model"},
    {"keygen", cmd_keygen, "the client's keys as files (secret key 0600)"},
    {"encrypt", cmd_encrypt, "encrypt one image (client)"},
    {"eval", cmd_eval, "evaluate an encrypted query (server: no secret key)"},
    {"decrypt", cmd_decrypt, "decrypt a result (client)"},
    {"serve", cmd_serve, "answer encrypted queries over TCP"},
    {"query", cmd_query, "the client over TCP"},
  };
  return pn_cli_dispatch("fhe", subs, (int)(sizeof subs / sizeof *subs), argc, argv);
}

/* `privnn bench fhe`: one PAF ReLU on a full ciphertext per form (argv[0] = "fhe"). */
int pn_bench_fhe(int argc, char **argv) {
  const char *cmd = "bench fhe", *json = NULL, *forms_s = "f1g2,f2g2,f2g3,alpha7,f1g1sq,minimax27";
  int64_t logn = 15;
  const struct pn_cli_opt opts[] = {
    {"--forms", NULL, PN_CLI_STR, &forms_s, "F,F,...", "PAF forms (and minimax27)"},
    {"--logn", NULL, PN_CLI_INT, &logn, "N", "ring degree 2^N", 12, 16},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "machine-readable report ('-': stdout)"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, NULL,
    "One PAF ReLU on a full ciphertext per form, the SmartPAF paper's Table 4 setting (N = 2^15, 40-bit\n"
    "scales, log QP 843): milliseconds (wall clock), levels, products, max error against the same\n"
    "polynomial in double, and the ratio to the 27-degree minimax composite.",
    "privnn bench fhe --forms f1g2,minimax27 --json bench-fhe.json", opts, NULL, NULL, 0, 0};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  int forms[PN_PAF_FORM_COUNT], nf = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", forms_s);
  for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
    int f = pn_paf_form_parse(t);
    if (f < 0 || nf >= PN_PAF_FORM_COUNT) return pn_cli_usage(cmd, "--forms: '%s' is not one of %s", t, pn_paf_form_list());
    forms[nf++] = f;
  }
  struct pn_fhe_paf_bench r[PN_PAF_FORM_COUNT];
  struct pn_ctx ctx = {0};
  if (pn_fhe_bench_paf(&ctx, (int)logn, 0, NULL, nf, forms, r)) return pn_cli_fail(cmd, &ctx);
  double ref = 0;
  for (int i = 0; i < nf; i++)
    if (r[i].form == PN_PAF_MINIMAX27) ref = r[i].seconds;
  printf("one PAF ReLU on a full ciphertext, N = 2^%d (wall-clock; a loaded machine gives upper bounds)\n", (int)logn);
  printf("%-10s %10s %7s %7s %10s %9s\n", "form", "ms", "levels", "ct-mul", "max err", "27-deg/x");
  cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "forms");
  cJSON_AddNumberToObject(o, "logn", (double)logn);
  for (int i = 0; i < nf; i++) {
    double ratio = ref > 0 && r[i].seconds > 0 ? ref / r[i].seconds : 0;
    printf("%-10s %10.1f %7d %7d %10.2e %9.2f\n", pn_paf_form_name((enum pn_paf_form)r[i].form), 1e3 * r[i].seconds,
           r[i].levels, r[i].ct_muls, r[i].max_err, ratio);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "form", pn_paf_form_name((enum pn_paf_form)r[i].form));
    cJSON_AddNumberToObject(e, "ms", 1e3 * r[i].seconds);
    cJSON_AddNumberToObject(e, "levels", r[i].levels);
    cJSON_AddNumberToObject(e, "ct_muls", r[i].ct_muls);
    cJSON_AddNumberToObject(e, "max_err", r[i].max_err);
    cJSON_AddNumberToObject(e, "speedup_vs_minimax27", ratio);
    cJSON_AddItemToArray(arr, e);
  }
  int rc = json ? pn_cli_report(&ctx, "bench fhe", json, o) : PN_OK;
  cJSON_Delete(o);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}
