/* cmd_mpc.c - `privnn mpc infer|profile|dealer`: two-party private inference with HummingBird. */
#include <cJSON.h>
#include <math.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <omp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "mpc_cli.h"
#include "graph/exec.h"
#include "graph/onnx.h"
#include "mpc/dealer.h"
#include "mpc/loopback.h"
#include "mpc/mpc.h"
#include "mpc/net.h"
#include "mpc/profile.h"
#include "mpc/relu.h"
#include "mpc/runner.h"
#include "mpc/search.h"
#include "nn/arch.h"
#include "nn/dataset.h"
#include "nn/input.h"
#include "util/util.h"

/* Images [first, first+cnt) into x (cnt * per_image floats), labels into y (-1 for random). */
void pn_mpc_cli_images(const struct source *s, int64_t first, int64_t cnt, float *x, int32_t *y) {
  if (s->files) {
    int64_t n = s->files->dims[0];
    for (int64_t i = 0; i < cnt; i++) {
      memcpy(x + i * s->per_image, (const float *)s->files->data + ((first + i) % n) * s->per_image,
             sizeof(float) * (size_t)s->per_image);
      y[i] = -1;
    }
    return;
  }
  if (s->have_ds) {
    int64_t idx[cnt > 0 ? cnt : 1];
    for (int64_t i = 0; i < cnt; i++) idx[i] = (first + i) % s->ds.n[s->split];
    pn_dataset_batch(&s->ds, s->split, idx, cnt, 0, 0, NULL, x, y);
    return;
  }
  for (int64_t i = 0; i < cnt; i++) {
    uint8_t sd[32];
    struct pn_prg prg;
    pn_seed_derive(s->seed, "random-image", (uint64_t)(first + i), sd);
    pn_prg_init(NULL, &prg, sd);
    for (int64_t j = 0; j < s->per_image; j++) x[i * s->per_image + j] = (float)pn_prg_normal(&prg);
    pn_prg_free(&prg);
    y[i] = -1;
  }
}

static int64_t argmax(const double *z, int64_t n) {
  int64_t a = 0;
  for (int64_t i = 1; i < n; i++)
    if (z[i] > z[a]) a = i;
  return a;
}

/* Every option an `mpc` subcommand may take; a subcommand's page lists the ones it names. */
int pn_mpc_cli_parse(int argc, char **argv, const struct pn_mpc_cli_spec *sp, struct opts *o) {
  int data_i = o->data && !strcmp(o->data, "random");
  const struct pn_cli_opt all[] = {
    {"--data", NULL, PN_CLI_CHOICE, &data_i, "D",
     "fashion-mnist (models with 1x28x28 inputs) or random (N(0,1) images of the model's shape)",
     0, 0, "fashion-mnist|random", NULL, &o->data_given},
    {"--input", "-i", PN_CLI_LIST, &o->inputs, "FILE",
     "your own input instead of --data: .npy, .pb, PNG or PGM, one example or a batch (repeat)"},
    {"--resize", NULL, PN_CLI_FLAG, &o->resize, NULL, "resize / convert --input images to the model's shape"},
    {"--split", NULL, PN_CLI_CHOICE, &o->split, "S", "Fashion-MNIST split", 0, 0, "train|val|test"},
    {"--count", NULL, PN_CLI_INT, &o->count, "N", "images (with --input: default all they hold)", 1, 1 << 24,
     NULL, NULL, &o->count_given},
    {"--batch", NULL, PN_CLI_INT, &o->batch, "B", "images per secure run", 1, 4096},
    {"--batches", NULL, PN_CLI_INT, &o->batches, "N", "batches of correlated randomness", 1, 1 << 20},
    {"--plan", NULL, PN_CLI_STR, &o->plan_path, "FILE", "HummingBird plan JSON (mpc profile)", 0, 0,
     NULL, "full-bit ReLU everywhere"},
    {"--net", NULL, PN_CLI_STR, &o->net, "NET", "link emulator: none, lan, wan or BW,RTT (Mbit/s, ms)"},
    {"--weights", NULL, PN_CLI_CHOICE, &o->secret, "W",
     "secret: shared by the model owner (mpc weights); public: both parties hold them", 0, 0,
     "public|secret"},
    {"--sim", NULL, PN_CLI_FLAG, &o->sim, NULL, "the plaintext simulator of the protocol instead of two parties"},
    {"--no-tls", NULL, PN_CLI_FLAG_OFF, &o->tls, NULL, "plain TCP between the parties (frames still HMAC'ed)"},
    {"--margin", NULL, PN_CLI_INT, &o->margin, "B", "extra bits above the observed range", 0, 32},
    {"--uniform", NULL, PN_CLI_INT, &o->uniform, "N",
     "keep only the top N bits of each error-free range (k = m - N; 0 = off)", 0, 64},
    {"--seed", NULL, PN_CLI_UINT, &o->seed, "S", "seed of the dealer, shares and random images", 0, 0,
     NULL, "from the OS", &o->have_seed},
    {"--json", NULL, PN_CLI_STR, &o->json, "FILE", "machine-readable report"},
    {"--threads", NULL, PN_CLI_INT, &o->threads, "T", "OpenMP and OpenBLAS threads of the plaintext runs", 1,
     1024, NULL, "the libraries' own"},
    {"--quiet", "-q", PN_CLI_FLAG, &o->quiet, NULL, "no per-layer table"},
    {"--no-table", NULL, PN_CLI_FLAG, &o->no_table, NULL,
     "HummingBird widths 3..8 use the carry tree, not the dealer's sign table (all ends must agree)"},
    {"--output", "-o", PN_CLI_STR, &o->out, sp->out_arg, sp->out_help},
    {"--serve", NULL, PN_CLI_STR, &o->serve, "HOST:PORT", "run the dealer online for `mpc party --dealer-connect`"},
    {"--psk-file", NULL, PN_CLI_STR, &o->psk_file, "FILE", "the dealer link's pre-shared key (mpc psk)"},
  };
  struct pn_cli_opt mine[sizeof all / sizeof *all + 1];
  int n = 0;
  for (const char *p = sp->opts; *p;) {
    size_t len = strcspn(p, " ");
    size_t k = 0;
    while (k < sizeof all / sizeof *all && !(strlen(all[k].name) == len && !strncmp(all[k].name, p, len)) &&
           !(all[k].alias && strlen(all[k].alias) == len && !strncmp(all[k].alias, p, len)))
      k++;
    if (k == sizeof all / sizeof *all) {
      fprintf(stderr, "privnn %s: internal: no option '%.*s'\n", sp->cmd, (int)len, p);
      return PN_EXIT_FAIL;
    }
    mine[n++] = all[k];
    p += len;
    p += strspn(p, " ");
  }
  mine[n] = (struct pn_cli_opt){0};
  const char *pos[1] = {NULL};
  const struct pn_cli_spec spec = {sp->cmd, sp->synopsis, sp->about, sp->example, mine,
                                   "model", pos, sp->no_model ? 0 : 1, sp->no_model ? 0 : 1};
  int rc = pn_cli_parse(&spec, argc, argv);
  if (rc) return rc;
  if (!sp->no_model) o->model = pos[0];
  o->data = data_i ? "random" : "fashion-mnist";
  if (o->inputs.n && o->data_given) return pn_cli_usage(sp->cmd, "--data and --input exclude each other");
  if (o->resize && !o->inputs.n) return pn_cli_usage(sp->cmd, "--resize applies to --input files");
  return PN_EXIT_OK;
}

const char *pn_mpc_cli_source_name(const struct opts *o, const struct source *s, char *buf, size_t n) {
  if (s->files) snprintf(buf, n, "%d input file%s", o->inputs.n, o->inputs.n == 1 ? "" : "s");
  else if (s->have_ds) snprintf(buf, n, "%s split", pn_split_name(s->split));
  else snprintf(buf, n, "random");
  return buf;
}

int pn_mpc_cli_load(struct pn_ctx *ctx, struct opts *o, struct source *s) {
  memset(s, 0, sizeof *s);
  int rc = pn_onnx_load_file(ctx, o->model, &s->g);
  if (rc) return rc;
  int in = -1;
  for (int i = 0; i < s->g->n_inputs; i++)
    if (pn_graph_is_runtime_input(s->g, i)) in = i;
  if (in < 0 || s->g->inputs[in].ndim < 2)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: the model needs one input of known shape", o->model);
  s->per_image = 1;
  for (int d = 1; d < s->g->inputs[in].ndim; d++) s->per_image *= s->g->inputs[in].dims[d];
  if (s->per_image <= 0)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: input dims must be known", o->model);
  if (o->have_seed) {
    struct pn_prg prg;
    pn_prg_init_u64(NULL, &prg, o->seed);
    pn_prg_bytes(&prg, s->seed, 32);
    pn_prg_free(&prg);
  } else if ((rc = pn_getrandom(ctx, s->seed, 32))) {
    return rc;
  }
  s->split = (enum pn_split)o->split;
  if (o->inputs.n) {
    struct pn_input_opts io = {.resize = o->resize};
    struct pn_input_info info;
    if ((rc = pn_input_load(ctx, s->g, o->inputs.v, o->inputs.n, &io, &s->files, &info))) {
      pn_err_prefix(ctx, "%s", o->model);
      return rc;
    }
    if (pn_tensor_numel(s->files) != info.n * s->per_image)
      return pn_err(ctx, PN_ERR_INVALID, "%s: the input files do not fit the model's input", o->model);
    if (!o->count_given) o->count = info.n;
    else if (o->count > info.n)
      return pn_err(ctx, PN_ERR_INVALID, "--count %lld: the --input files hold %lld example%s",
                    (long long)o->count, (long long)info.n, info.n == 1 ? "" : "s");
    return PN_OK;
  }
  if (!strcmp(o->data, "fashion-mnist")) {
    if (s->per_image != PN_FMNIST_PIXELS)
      return pn_err(ctx, PN_ERR_INVALID, "%s: input has %lld elements per image, Fashion-MNIST "
                    "needs 1x28x28 (use --data random)", o->model, (long long)s->per_image);
    if ((rc = pn_dataset_load(ctx, NULL, &s->ds))) return rc;
    s->have_ds = 1;
    if ((rc = pn_dataset_use_model_norm(ctx, &s->ds, s->g))) {
      pn_err_prefix(ctx, "%s", o->model);
      return rc;
    }
  }
  return PN_OK;
}

void pn_mpc_cli_free(struct source *s) {
  if (s->have_ds) pn_dataset_free(&s->ds);
  if (s->files) {
    pn_wipe(s->files->data, pn_tensor_nbytes(s->files));
    pn_tensor_free(s->files);
  }
  pn_graph_free(s->g);
  pn_wipe(s->seed, sizeof s->seed);
}

/* Plaintext logits of images [0, count) with batch B into out (count * K), K = classes. */
static int plain_logits(struct pn_ctx *ctx, const struct source *s, int64_t count, int64_t B,
                        double **out, int64_t *K, int32_t **labels) {
  struct pn_graph *g = pn_graph_clone_batch(s->g, B);
  struct pn_exec *ex = NULL;
  int rc = g ? pn_exec_new(ctx, g, NULL, &ex) : pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  float *x = malloc(sizeof(float) * (size_t)(B * s->per_image));
  *labels = calloc((size_t)count + (size_t)B, sizeof **labels);
  *out = NULL;
  if (!rc && (!x || !*labels)) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  for (int64_t first = 0; rc == PN_OK && first < count; first += B) {
    pn_mpc_cli_images(s, first, B, x, *labels + first);
    int64_t dims[PN_MAX_DIMS];
    const struct pn_value *iv = pn_exec_input(ex, 0);
    for (int d = 0; d < iv->ndim; d++) dims[d] = iv->dims[d];
    dims[0] = B;
    struct pn_tensor *in = pn_tensor_new(PN_DT_FLOAT, iv->ndim, dims), *o = NULL;
    memcpy(in->data, x, sizeof(float) * (size_t)(B * s->per_image));
    const struct pn_tensor *ins[1] = {in};
    rc = pn_exec_run(ctx, ex, ins, &o);
    pn_tensor_free(in);
    if (rc) break;
    int64_t n = pn_tensor_numel(o);
    if (!*out) {
      *K = n / B;
      *out = calloc((size_t)(count + B) * (size_t)*K, sizeof **out);
      if (!*out) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; rc == PN_OK && i < n; i++) (*out)[first * *K + i] = pn_tensor_get_f64(o, i);
    pn_tensor_free(o);
  }
  free(x);
  pn_exec_free(ex);
  pn_graph_free(g);
  return rc;
}

/* ---- secure inference ---- */
struct infer_job {
  const struct opts *o;
  struct source *src;
  const struct pn_mpc_plan *plan;
  uint8_t master[32], psk[32];
  struct pn_net_opts net;
  int64_t nb, B;
  uint64_t *out[2];            /* per party output shares, nb * B * K words */
  int64_t K;
  /* per party results */
  struct pn_mpc_model *mm[2];
  struct pn_mpc_stats st[2];
  uint64_t dealer_bytes;
  double emu[2];
  double run_seconds[2];       /* the batches, without connection and model setup */
  double vclock[2];            /* the link emulator's virtual clock at the end of the batches */
  double cpu[2];               /* thread CPU seconds of each party over the batches */
  uint64_t wire[2];
  struct pn_progress *prog;
};

/* The client's shares of batch b: P0 gets x + r, P1 gets -r, r from the client's seed. */
static int client_share(struct infer_job *j, int64_t b, int party, uint64_t *share) {
  int64_t n = j->B * j->src->per_image;
  uint8_t sd[32];
  struct pn_prg prg;
  pn_seed_derive(j->src->seed, "client-share", (uint64_t)b, sd);
  int rc = pn_prg_init(NULL, &prg, sd);
  pn_wipe(sd, sizeof sd);
  if (rc) return rc;
  pn_prg_bytes(&prg, share, (size_t)n * 8); /* r */
  pn_prg_free(&prg);
  if (party == 1) {
    for (int64_t i = 0; i < n; i++) share[i] = (uint64_t)0 - share[i];
    return PN_OK;
  }
  float *x = malloc(sizeof(float) * (size_t)n);
  int32_t *y = malloc(sizeof(int32_t) * (size_t)j->B);
  if (!x || !y) {
    free(x);
    free(y);
    return PN_ERR_NOMEM;
  }
  pn_mpc_cli_images(j->src, b * j->B, j->B, x, y);
  for (int64_t i = 0; i < n; i++) share[i] += pn_fx_encode(x[i], PN_MPC_FRAC_DEFAULT);
  pn_wipe_free(x, sizeof(float) * (size_t)n);
  free(y);
  return PN_OK;
}

static int new_model(struct infer_job *j, struct pn_ctx *ctx, struct pn_mpc_model **mm) {
  struct pn_mpc_model_opts mo = {.batch = (int)j->B, .secret_weights = j->o->secret,
                                 .plan = j->plan};
  pn_seed_derive(j->master, "model-owner", 0, mo.owner_seed);
  int rc = pn_mpc_model_new(ctx, j->src->g, &mo, mm);
  pn_wipe(mo.owner_seed, 32);
  return rc;
}

/* Run all batches on m (one party, or the simulator with nv = 2). */
static int run_batches(struct infer_job *j, struct pn_mpc *m, struct pn_mpc_model *mm) {
  int64_t n = pn_mpc_model_in_numel(mm), K = pn_mpc_model_out_numel(mm) / j->B;
  pn_sh x = {0};
  int rc = pn_sh_alloc(m, n, x);
  for (int64_t b = 0; rc == PN_OK && b < j->nb; b++) {
    for (int v = 0; v < m->nv && rc == PN_OK; v++) rc = client_share(j, b, m->id[v], x[v]);
    pn_sh y = {0};
    if (rc == PN_OK && (rc = pn_mpc_model_run(mm, m, x, y)) == PN_OK) {
      for (int v = 0; v < m->nv; v++)
        memcpy(j->out[m->id[v]] + b * j->B * K, y[v], sizeof(uint64_t) * (size_t)(j->B * K));
      pn_sh_free(m, j->B * K, y);
    }
    if (j->prog && m->id[0] == 0) pn_progress_update(j->prog, (uint64_t)(b + 1), NULL);
  }
  pn_sh_free(m, n, x);
  return rc;
}

/* Keep freed share arrays in the heap rather than returning them to the kernel after each layer
** (fresh pages cost a page fault per 4 KiB on the next layer). */
void pn_mpc_cli_heap_tune(void) {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One party of `mpc infer` on the loopback harness (pn_mpc_loopback_run). */
static int infer_party(void *user, int p, struct pn_ctx *ctx, struct pn_mpc *m) {
  struct infer_job *j = user;
  int rc = new_model(j, ctx, &j->mm[p]);
  if (rc) return rc;
  /* one core per party: the two parties run concurrently, and the virtual clock (thread CPU
  ** time) then counts all of a party's compute */
  omp_set_num_threads(1);
  pn_mpc_net_vclock_reset(m->net);
  double t0 = pn_now(), c0 = thread_cpu();
  rc = run_batches(j, m, j->mm[p]);
  j->run_seconds[p] = pn_now() - t0;
  j->cpu[p] = thread_cpu() - c0;
  j->vclock[p] = pn_mpc_net_vclock(m->net);
  j->st[p] = m->st;
  j->emu[p] = pn_mpc_net_emu_seconds(m->net);
  j->wire[p] = pn_mpc_net_wire_bytes(m->net);
  if (p == 1) j->dealer_bytes = pn_dealer_bytes(m->dealer);
  return rc;
}

static cJSON *layer_json(const struct pn_mpc_layer *l, int64_t count) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", l->name);
  cJSON_AddStringToObject(o, "op", l->op);
  cJSON_AddNumberToObject(o, "bytes_per_party", (double)l->bytes);
  cJSON_AddNumberToObject(o, "bytes_per_party_per_image", (double)l->bytes / (double)count);
  cJSON_AddNumberToObject(o, "rounds", (double)l->rounds);
  cJSON_AddNumberToObject(o, "seconds", l->seconds);
  if (l->relu_elems) {
    cJSON_AddNumberToObject(o, "relu_bits", l->relu_bits);
    cJSON_AddNumberToObject(o, "bits_discarded", 1 - l->relu_bits / 64.0);
    cJSON_AddNumberToObject(o, "comparisons", (double)l->relu_elems);
  }
  return o;
}

int pn_mpc_cli_infer(int argc, char **argv) {
  const char *cmd = "mpc infer";
  struct opts o = {.data = "fashion-mnist", .split = PN_SPLIT_TEST, .count = 100, .batch = 10,
                   .secret = 1, .tls = 1, .net = "none"};
  static const struct pn_mpc_cli_spec sp = {
    "mpc infer", "MODEL.onnx (--data fashion-mnist|random --count N | --input FILE...)",
    "Secret-share N inputs, run the dealer and both parties on this machine (two threads over\n"
    "loopback TCP + TLS 1.3 PSK), evaluate the model on shares and report accuracy, agreement with\n"
    "the plaintext model, bytes and rounds per layer and time. With --sim: the protocol's\n"
    "plaintext simulator in one thread (same shares, same counts, no network).",
    "privnn mpc infer models/cnn-s.onnx --data fashion-mnist --count 20 --plan plan.json",
    "--data --input --resize --split --count --batch --plan --weights --net --sim --no-tls --no-table "
    "--seed --quiet --json"};
  int prc = pn_mpc_cli_parse(argc, argv, &sp, &o);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  struct pn_ctx ctx = {0};
  struct source src;
  struct pn_mpc_plan plan = {0};
  struct infer_job j;
  memset(&j, 0, sizeof j);
  double *plain = NULL, *sec = NULL;
  int32_t *labels = NULL;
  int ret = PN_EXIT_FAIL;
  if (pn_net_parse_emu(&ctx, o.net, &j.net)) return pn_cli_usage(cmd, "%s", pn_errmsg(&ctx));
  pn_mpc_cli_heap_tune();
  if (pn_mpc_cli_load(&ctx, &o, &src) ||
      (o.plan_path && pn_mpc_cli_plan_load(&ctx, o.plan_path, o.model, src.g, &plan)))
    goto fail;
  j.o = &o;
  j.src = &src;
  j.plan = o.plan_path ? &plan : NULL;
  j.B = o.batch;
  j.nb = (o.count + o.batch - 1) / o.batch;
  pn_seed_derive(src.seed, "dealer-master", 0, j.master);
  pn_seed_derive(src.seed, "psk", 0, j.psk);
  j.net.timeout_ms = 60000;
  j.net.psk = j.psk;
  j.net.psk_len = 32;
  j.net.sec = o.tls ? PN_NET_TLS_PSK : PN_NET_PLAIN;
  int64_t K = 0;
  if (plain_logits(&ctx, &src, o.count, o.batch, &plain, &K, &labels)) goto fail;
  j.K = K;
  for (int p = 0; p < 2; p++)
    if (!(j.out[p] = calloc((size_t)(j.nb * j.B * K), 8))) {
      pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
      goto fail;
    }
  struct pn_progress prog;
  pn_progress_start_unit(&prog, o.sim ? "mpc sim" : "mpc infer", "batches", (uint64_t)j.nb);
  j.prog = &prog;
  double t0 = pn_now();
  struct pn_mpc_model *rep = NULL;
  if (o.sim) {
    struct pn_mpc_dealer *d = NULL;
    int rc = pn_dealer_new_embedded(&ctx, j.master, &d);
    if (rc == PN_OK) rc = new_model(&j, &ctx, &j.mm[0]);
    if (rc == PN_OK) {
      struct pn_mpc m;
      pn_mpc_init_sim(&m, &ctx, d, PN_MPC_FRAC_DEFAULT);
      if (o.no_table) m.lut_max = 0;
      double t1 = pn_now();
      rc = run_batches(&j, &m, j.mm[0]);
      j.run_seconds[0] = pn_now() - t1;
      pn_mpc_release(&m);
      j.st[0] = m.st;
      j.dealer_bytes = pn_dealer_bytes(d);
    }
    pn_dealer_free(d);
    pn_progress_end(&prog);
    if (rc) goto fail;
  } else {
    struct pn_mpc_loopback_opts lo = {.net = j.net, .no_table = o.no_table};
    memcpy(lo.master, j.master, 32);
    int rc = pn_mpc_loopback_run(&ctx, &lo, infer_party, &j);
    pn_wipe(lo.master, 32);
    pn_progress_end(&prog);
    if (rc) goto fail;
  }
  double total_seconds = pn_now() - t0;
  double seconds = j.run_seconds[0] > j.run_seconds[1] ? j.run_seconds[0] : j.run_seconds[1];
  rep = j.mm[0];
  /* reveal to the client and compare */
  sec = calloc((size_t)(j.nb * j.B * K), sizeof *sec);
  if (!sec) goto fail;
  int64_t agree = 0, correct = 0, pcorrect = 0, labelled = 0;
  for (int64_t i = 0; i < o.count; i++) {
    for (int64_t k = 0; k < K; k++)
      sec[i * K + k] = pn_fx_decode(j.out[0][i * K + k] + j.out[1][i * K + k], PN_MPC_FRAC_DEFAULT);
    int64_t a = argmax(sec + i * K, K), b = argmax(plain + i * K, K);
    agree += a == b;
    if (labels[i] >= 0) {
      labelled++;
      correct += a == labels[i];
      pcorrect += b == labels[i];
    }
  }
  double acc = labelled ? (double)correct / (double)labelled : -1;
  double pacc = labelled ? (double)pcorrect / (double)labelled : -1;
  double agreement = (double)agree / (double)o.count;
  double bd = pn_mpc_model_bits_discarded(rep);
  int nl = pn_mpc_model_n_layers(rep);
  char srcname[64];
  printf("privnn mpc %s: %s, %lld images (%s), batch %lld, weights %s, plan %s, net %s%s\n",
         o.sim ? "simulator" : "infer", o.model, (long long)o.count,
         pn_mpc_cli_source_name(&o, &src, srcname, sizeof srcname), (long long)o.batch,
         o.secret ? "secret" : "public", o.plan_path ? o.plan_path : "full-bit", o.net,
         o.sim ? "" : (o.tls ? ", TLS 1.3 PSK" : ", plain TCP"));
  if (!o.quiet)
    printf("%-28s %-18s %12s %8s %9s %6s\n", "layer", "op", "MB/party", "rounds", "seconds", "bits");
  for (int i = 0; i < nl && !o.quiet; i++) {
    const struct pn_mpc_layer *l = pn_mpc_model_layer(rep, i);
    if (!l->bytes && !l->relu_elems && l->seconds < 1e-3) continue;
    char bits[16] = "";
    if (l->relu_elems) snprintf(bits, sizeof bits, "%d", l->relu_bits);
    printf("%-28.28s %-18.18s %12.3f %8llu %9.3f %6s\n", l->name, l->op, (double)l->bytes / 1e6,
           (unsigned long long)l->rounds, l->seconds, bits);
  }
  printf("total: %.3f MB per party (%.3f MB per image), %llu rounds (%llu per batch), %.2f s "
         "(%.3f s per image; setup %.2f s)\n", (double)j.st[0].bytes / 1e6,
         (double)j.st[0].bytes / 1e6 / (double)o.count, (unsigned long long)j.st[0].rounds,
         (unsigned long long)(j.st[0].rounds / (uint64_t)j.nb), seconds, seconds / (double)o.count,
         total_seconds - seconds);
  double vclock = j.vclock[0] > j.vclock[1] ? j.vclock[0] : j.vclock[1];
  int emu = !o.sim && j.net.emu_bw > 0;
  if (emu)
    printf("emulated link: compute (thread CPU time) + link delays on the critical path = %.2f s "
           "(%.3f s per image); link delays alone %.2f s\n", vclock, vclock / (double)o.count,
           j.emu[0]);
  printf("agreement with plaintext: %.4f (%lld/%lld)", agreement, (long long)agree,
         (long long)o.count);
  if (labelled) printf(", accuracy %.4f (plaintext %.4f)", acc, pacc);
  printf("\nReLU share bits discarded: %.1f%%; dealer data to P1: %.3f MB per image\n", bd * 100,
         (double)j.dealer_bytes / 1e6 / (double)(j.nb * j.B));
  /* the user's own inputs: what each one is, under MPC and in plaintext */
  for (int64_t i = 0; src.files && i < o.count; i++) {
    int64_t a = argmax(sec + i * K, K), b = argmax(plain + i * K, K);
    double md = 0;
    for (int64_t k = 0; k < K; k++) {
      double d = fabs(sec[i * K + k] - plain[i * K + k]);
      if (d > md) md = d;
    }
    printf("input %lld: class %lld (plaintext %lld), logits max |MPC - plaintext| %.2e\n", (long long)i,
           (long long)a, (long long)b, md);
  }
  if (o.json) {
    cJSON *r = cJSON_CreateObject(), *ls = cJSON_CreateArray();
    cJSON_AddStringToObject(r, "model", o.model);
    cJSON_AddStringToObject(r, "mode", o.sim ? "simulator" : "two-party");
    cJSON_AddStringToObject(r, "plan", o.plan_path ? o.plan_path : "full-bit");
    cJSON_AddStringToObject(r, "weights", o.secret ? "secret" : "public");
    cJSON_AddBoolToObject(r, "sign_table", !o.no_table);
    cJSON_AddStringToObject(r, "net", o.net);
    cJSON_AddNumberToObject(r, "images", (double)o.count);
    cJSON_AddNumberToObject(r, "batch", (double)o.batch);
    if (labelled) {
      cJSON_AddNumberToObject(r, "accuracy", acc);
      cJSON_AddNumberToObject(r, "plaintext_accuracy", pacc);
    } else {
      cJSON_AddNullToObject(r, "accuracy");
    }
    cJSON_AddNumberToObject(r, "agreement", agreement);
    cJSON_AddNumberToObject(r, "bits_discarded", bd);
    cJSON_AddNumberToObject(r, "bytes_per_party", (double)j.st[0].bytes);
    cJSON_AddNumberToObject(r, "bytes_per_party_per_image", (double)j.st[0].bytes / (double)o.count);
    cJSON_AddNumberToObject(r, "rounds", (double)j.st[0].rounds);
    cJSON_AddNumberToObject(r, "rounds_per_batch", (double)j.st[0].rounds / (double)j.nb);
    cJSON_AddNumberToObject(r, "seconds", seconds);
    cJSON_AddNumberToObject(r, "seconds_per_image", seconds / (double)o.count);
    cJSON_AddNumberToObject(r, "setup_seconds", total_seconds - seconds);
    if (!o.sim) {
      cJSON_AddNumberToObject(r, "wire_bytes_per_party", (double)j.wire[0]);
      cJSON_AddNumberToObject(r, "emulated_link_seconds", j.emu[0]);
      if (emu) {
        cJSON_AddNumberToObject(r, "modeled_seconds", vclock);
        cJSON_AddNumberToObject(r, "modeled_seconds_per_image", vclock / (double)o.count);
        cJSON_AddNumberToObject(r, "compute_seconds_p0", j.cpu[0]);
        cJSON_AddNumberToObject(r, "compute_seconds_p1", j.cpu[1]);
      }
    }
    cJSON_AddNumberToObject(r, "dealer_bytes_per_image", (double)j.dealer_bytes / (double)(j.nb * j.B));
    if (src.files) {
      cJSON *pr = cJSON_AddArrayToObject(r, "predictions");
      for (int64_t i = 0; i < o.count; i++) {
        cJSON *e = cJSON_CreateObject(), *lg = cJSON_AddArrayToObject(e, "logits");
        cJSON_AddNumberToObject(e, "class", (double)argmax(sec + i * K, K));
        cJSON_AddNumberToObject(e, "plaintext_class", (double)argmax(plain + i * K, K));
        for (int64_t k = 0; k < K; k++) cJSON_AddItemToArray(lg, cJSON_CreateNumber(sec[i * K + k]));
        cJSON_AddItemToArray(pr, e);
      }
    }
    for (int i = 0; i < nl; i++) cJSON_AddItemToArray(ls, layer_json(pn_mpc_model_layer(rep, i), o.count));
    cJSON_AddItemToObject(r, "layers", ls);
    int rc = pn_cli_report(&ctx, cmd, o.json, r);
    cJSON_Delete(r);
    if (rc) goto fail;
  }
  ret = PN_EXIT_OK;
  goto out;
fail:
  ret = pn_cli_fail(cmd, &ctx);
out:
  for (int p = 0; p < 2; p++) {
    pn_mpc_model_free(j.mm[p]);
    free(j.out[p]);
  }
  pn_wipe(j.master, 32);
  pn_wipe(j.psk, 32);
  free(plain);
  free(sec);
  free(labels);
  pn_mpc_plan_free(&plan);
  pn_mpc_cli_free(&src);
  return ret;
}

/* ---- profile ---- */
struct profile_feed {
  struct source *src;
  struct pn_progress bar;      /* images fed so far */
};

static int profile_images(void *user, struct pn_ctx *ctx, int64_t first, int64_t cnt, float *x) {
  struct profile_feed *f = user;
  pn_progress_update(&f->bar, (uint64_t)first, NULL);
  int32_t *y = malloc(sizeof(int32_t) * (size_t)cnt);
  if (!y) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  pn_mpc_cli_images(f->src, first, cnt, x, y);
  free(y);
  return PN_OK;
}

int pn_mpc_cli_profile(int argc, char **argv) {
  const char *cmd = "mpc profile";
  struct opts o = {.data = "fashion-mnist", .split = PN_SPLIT_VAL, .count = 1000, .batch = 100,
                   .margin = 1, .tls = 1};
  static const struct pn_mpc_cli_spec sp = {
    "mpc profile", "MODEL.onnx (--data fashion-mnist | --input FILE...) -o PLAN.json",
    "Record max |x| at every ReLU and MaxPool input on N images (the validation split by default,\n"
    "or your own calibration data with --input)\n"
    "and write HummingBird's error-free plan: per layer k = 0 and m = the bits of\n"
    "2 * max|x| * 2^16, plus the margin (or, with --uniform, only the top N bits of that range).",
    "privnn mpc profile models/cnn-s.onnx --data fashion-mnist -o plan.json",
    "--data --input --resize --split --count --batch --margin --uniform --seed --threads --json -o", "PLAN.json",
    "the plan to write (required)"};
  int prc = pn_mpc_cli_parse(argc, argv, &sp, &o);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (!o.out) return pn_cli_usage(cmd, "no output plan given (-o PLAN.json)");
  pn_cli_set_threads((int)o.threads);
  struct pn_ctx ctx = {0};
  struct source src;
  struct pn_mpc_profile pr = {0};
  struct pn_mpc_plan plan = {0};
  double bd = 0;
  int ret = PN_EXIT_FAIL, rc;
  if ((rc = pn_mpc_cli_load(&ctx, &o, &src))) goto fail;
  if (o.batch > o.count) o.batch = o.count;
  struct profile_feed feed = {&src};
  pn_progress_start_unit(&feed.bar, cmd, "images", (uint64_t)o.count);
  rc = pn_mpc_profile_run(&ctx, src.g, o.count, o.batch, profile_images, &feed, &pr);
  pn_progress_end(&feed.bar);
  if (rc || (rc = pn_mpc_profile_plan(&ctx, &pr, PN_MPC_FRAC_DEFAULT, (int)o.margin, (int)o.uniform, &plan, &bd)))
    goto fail;
  cJSON *extra = cJSON_CreateObject(), *prof = cJSON_CreateArray();
  for (int i = 0; i < pr.n; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "node", pr.r[i].node);
    cJSON_AddNumberToObject(e, "max_abs", pr.r[i].max_abs);
    cJSON_AddNumberToObject(e, "comparisons_per_image", (double)pr.r[i].cmp_per_image);
    cJSON_AddNumberToObject(e, "m", plan.items[i].m);
    cJSON_AddItemToArray(prof, e);
  }
  cJSON_AddStringToObject(extra, "model", o.model);
  cJSON_AddStringToObject(extra, "kind", o.uniform > 0 ? "uniform" : "error-free");
  cJSON_AddNumberToObject(extra, "images", (double)pr.images);
  cJSON_AddNumberToObject(extra, "margin_bits", (double)o.margin);
  cJSON_AddNumberToObject(extra, "bits_discarded", bd);
  cJSON_AddItemToObject(extra, "profile", prof);
  rc = pn_mpc_plan_save(&ctx, o.out, &plan, extra);
  if (rc == PN_OK && o.json) rc = pn_cli_report(&ctx, cmd, o.json, extra);
  cJSON_Delete(extra);
  if (rc) goto fail;
  printf("%-28s %12s %8s %4s %4s\n", "node", "max|x|", "cmp/img", "k", "m");
  for (int i = 0; i < plan.n; i++)
    printf("%-28.28s %12.4f %8lld %4d %4d\n", plan.items[i].node, pr.r[i].max_abs,
           (long long)pr.r[i].cmp_per_image, plan.items[i].k, plan.items[i].m);
  char srcname[64];
  printf("%s: %s plan for %d ReLU/MaxPool nodes from %lld images (%s), margin %lld bit(s); "
         "%.1f%% of ReLU share bits discarded\n", o.out, o.uniform > 0 ? "uniform-width" : "error-free", plan.n,
         (long long)pr.images, pn_mpc_cli_source_name(&o, &src, srcname, sizeof srcname), (long long)o.margin,
         bd * 100);
  ret = PN_EXIT_OK;
  goto out;
fail:
  ret = pn_cli_fail(cmd, &ctx);
out:
  pn_mpc_profile_free(&pr);
  pn_mpc_plan_free(&plan);
  pn_mpc_cli_free(&src);
  return ret;
}

/* ---- dealer ---- */
int pn_mpc_cli_sha256(struct pn_ctx *ctx, const char *path, uint8_t out[32]) {
  uint8_t *buf;
  size_t n;
  int rc = pn_read_file(ctx, path, 0, &buf, &n);
  if (rc) return rc;
  unsigned len = 0;
  EVP_Digest(buf, n, out, &len, EVP_sha256(), NULL);
  free(buf);
  return PN_OK;
}

int pn_mpc_cli_plan_load(struct pn_ctx *ctx, const char *path, const char *model,
                         const struct pn_graph *g, struct pn_mpc_plan *plan) {
  char sha[65];
  int rc;
  if ((rc = pn_mpc_plan_load(ctx, path, plan)) || (rc = pn_mpc_file_sha256(ctx, model, sha)) ||
      (rc = pn_mpc_plan_check(ctx, path, plan, g, sha)))
    return rc;
  return PN_OK;
}

static void dealer_log(void *user, const char *msg) { fprintf(stderr, "online dealer: %s\n", msg); }

/* The online dealer: accept both parties on o->serve (strangers are logged and dropped), serve
** them one session of fresh material, exit when P1 is done. */
static int serve_online(struct pn_ctx *ctx, const struct opts *o, const struct pn_dealer_binding *bind) {
  char host[256];
  const char *c = strrchr(o->serve, ':');
  int64_t port;
  if (!c || c == o->serve || (size_t)(c - o->serve) >= sizeof host ||
      pn_cli_i64("mpc dealer", "--serve port", c + 1, 0, 65535, &port))
    return pn_err(ctx, PN_ERR_INVALID, "--serve '%s': expected HOST:PORT", o->serve);
  memcpy(host, o->serve, (size_t)(c - o->serve));
  host[c - o->serve] = 0;
  struct pn_net_opts no = {.timeout_ms = 300000, .sec = o->tls ? PN_NET_TLS_PSK : PN_NET_PLAIN,
                           .link = "dealer", .log = dealer_log};
  uint8_t *psk = NULL, master[32];
  size_t psk_len = 0;
  int lfd = -1, rc, bound = 0;
  if (o->psk_file && (rc = pn_read_secret_file(ctx, o->psk_file, 4096, &psk, &psk_len))) return rc;
  no.psk = psk;
  no.psk_len = psk_len;
  if ((rc = pn_getrandom(ctx, master, 32)) ||
      (rc = pn_mpc_net_bind(ctx, host, (int)port, &lfd, &bound)))
    goto done;
  fprintf(stderr, "online dealer: listening on %s:%d, waiting for party 0 and party 1 (%s%s) for "
          "up to 300 s\n", host, bound, o->tls ? "TLS 1.3, key " : "plain TCP",
          o->tls ? o->psk_file : "");
  uint64_t bytes = 0;
  double t0 = pn_now();
  rc = pn_dealer_serve_listen(ctx, master, bind, lfd, &no, 300000, &bytes);
  if (rc == PN_OK)
    printf("online dealer: served P0 its seed and P1 %.3f MB of corrections in %.2f s\n",
           (double)bytes / 1e6, pn_now() - t0);
done:
  if (lfd >= 0) close(lfd);
  pn_wipe(master, sizeof master);
  if (psk) pn_wipe_free(psk, psk_len);
  return rc;
}

static int cmd_dealer(int argc, char **argv) {
  const char *cmd = "mpc dealer";
  struct opts o = {.data = "random", .batch = 10, .batches = 1, .secret = 0, .tls = 1};
  static const struct pn_mpc_cli_spec sp = {
    "mpc dealer", "MODEL.onnx --batches N (-o PREFIX | --serve HOST:PORT --psk-file FILE)",
    "The trusted dealer: write the correlated randomness of N batches, PREFIX.p0.dealer (P0's\n"
    "seed) and PREFIX.p1.dealer (P1's seed and corrections), bound to model, plan, batch size\n"
    "and weights mode (for `mpc party`; each file is single-use). With --serve it runs online\n"
    "instead (TLS 1.3 PSK) and the parties connect with `mpc party --dealer-connect`.",
    "privnn mpc dealer models/cnn-s.onnx --plan plan.json --batch 10 --batches 2 -o run1",
    "--batch --batches --plan --weights --no-table -o --serve --psk-file --no-tls", "PREFIX",
    "write PREFIX.p0.dealer and PREFIX.p1.dealer"};
  int prc = pn_mpc_cli_parse(argc, argv, &sp, &o);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (!o.out && !o.serve) return pn_cli_usage(cmd, "no output prefix (-o PREFIX) nor --serve HOST:PORT");
  if (o.serve && o.tls && !o.psk_file) return pn_cli_usage(cmd, "--serve needs --psk-file F or --no-tls");
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  struct pn_mpc_plan plan = {0};
  struct pn_mpc_model *mm = NULL;
  struct pn_mpc_dealer *d = NULL;
  uint8_t master[32];
  int rc;
  char p0[4096], p1[4096];
  snprintf(p0, sizeof p0, "%s.p0.dealer", o.out);
  snprintf(p1, sizeof p1, "%s.p1.dealer", o.out);
  struct pn_dealer_binding bind = {.batch = (uint32_t)o.batch, .frac = PN_MPC_FRAC_DEFAULT,
                                   .batches = (uint64_t)o.batches};
  if ((rc = pn_onnx_load_file(&ctx, o.model, &g)) || (rc = pn_mpc_cli_sha256(&ctx, o.model, bind.model)) ||
      (o.plan_path && (rc = pn_mpc_cli_plan_load(&ctx, o.plan_path, o.model, g, &plan))))
    goto out;
  pn_mpc_plan_hash(o.plan_path ? &plan : NULL, bind.plan);
  if (o.serve) {
    rc = serve_online(&ctx, &o, &bind);
    goto out;
  }
  struct pn_mpc_model_opts mo = {.batch = (int)o.batch, .secret_weights = o.secret,
                                 .plan = o.plan_path ? &plan : NULL};
  if ((rc = pn_mpc_model_new(&ctx, g, &mo, &mm)) || (rc = pn_getrandom(&ctx, master, 32)) ||
      (rc = pn_dealer_new_recorder(&ctx, master, &bind, p0, p1, &d)))
    goto out;
  /* the protocol is data-oblivious: running it on zeros asks for exactly the randomness the
  ** parties will ask for */
  struct pn_mpc m;
  pn_mpc_init_sim(&m, &ctx, d, PN_MPC_FRAC_DEFAULT);
  if (o.no_table) m.lut_max = 0;
  int64_t n = pn_mpc_model_in_numel(mm);
  pn_sh x = {0};
  double t0 = pn_now();
  if ((rc = pn_sh_alloc(&m, n, x))) goto out;
  for (int64_t b = 0; rc == PN_OK && b < o.batches; b++) {
    pn_sh y = {0};
    if ((rc = pn_mpc_model_run(mm, &m, x, y)) == PN_OK)
      pn_sh_free(&m, pn_mpc_model_out_numel(mm), y);
  }
  pn_sh_free(&m, n, x);
  pn_mpc_release(&m);
  if (rc == PN_OK) rc = pn_dealer_finish(&ctx, d);
  if (rc == PN_OK)
    printf("%s, %s: %lld batch(es) of %lld for %s; P1 receives %.3f MB per image (P0 only its "
           "32-byte seed); %.2f s\n", p0, p1, (long long)o.batches, (long long)o.batch, o.model,
           (double)pn_dealer_bytes(d) / 1e6 / (double)(o.batches * o.batch), pn_now() - t0);
out:
  pn_wipe(master, sizeof master);
  pn_dealer_free(d);
  pn_mpc_model_free(mm);
  pn_mpc_plan_free(&plan);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

/* ---- ReLU micro-benchmark: measured bits/rounds per ReLU vs the formulas, loopback throughput ---- */
struct relu_job {
  int mode, k, m;
  int64_t n;
  uint8_t master[32];
  struct pn_mpc_stats st;
  double seconds;
};

static int relu_party(void *user, int p, struct pn_ctx *ctx, struct pn_mpc *m) {
  struct relu_job *j = user;
  pn_sh x = {0}, y = {0};
  int rc;
  if ((rc = pn_sh_alloc(m, j->n, x)) == PN_OK && (rc = pn_sh_alloc(m, j->n, y)) == PN_OK) {
    struct pn_prg prg;
    pn_prg_init(NULL, &prg, j->master);
    pn_prg_bytes(&prg, x[0], (size_t)j->n * 8);
    pn_prg_free(&prg);
    double t0 = pn_now();
    rc = pn_mpc_relu(m, j->n, x, j->mode, j->k, j->m, y);
    if (p == 0) {
      j->seconds = pn_now() - t0;
      j->st = m->st;
    }
  }
  pn_sh_free(m, j->n, x);
  pn_sh_free(m, j->n, y);
  return rc;
}

int pn_mpc_cli_bench_relu(int argc, char **argv) {
  const char *cmd = "mpc bench-relu";
  struct opts o = {.data = "random", .count = 1 << 16, .tls = 1, .net = "none"};
  o.model = "-";
  static const struct pn_mpc_cli_spec sp = {
    "mpc bench-relu", NULL,
    "Bits and rounds per ReLU for full-bit and HummingBird n = 64 .. 6, measured between two\n"
    "parties over loopback against the formulas, and ReLU throughput on --count elements.",
    "privnn mpc bench-relu --count 65536 --net lan", "--count --net --no-tls --no-table --json",
    NULL, NULL, true};
  int prc = pn_mpc_cli_parse(argc, argv, &sp, &o);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  struct pn_ctx ctx = {0};
  struct relu_job j;
  memset(&j, 0, sizeof j);
  struct pn_mpc_loopback_opts lo = {0};
  if (pn_net_parse_emu(&ctx, o.net, &lo.net)) return pn_cli_usage(cmd, "%s", pn_errmsg(&ctx));
  if (pn_getrandom(&ctx, j.master, 32)) return pn_cli_fail(cmd, &ctx);
  memcpy(lo.master, j.master, 32);
  lo.net.sec = o.tls ? PN_NET_TLS_PSK : PN_NET_PLAIN; /* a fresh key per run */
  j.n = o.count;
  const int ns[] = {64, 64, 32, 18, 12, 8, 6, 8, 6}; /* the last two: carry tree */
  cJSON *arr = cJSON_CreateArray();
  printf("ReLU on %lld elements, two parties over loopback (%s, net %s)\n", (long long)j.n,
         o.tls ? "TLS 1.3 PSK" : "plain TCP", o.net);
  printf("%-10s %4s %12s %12s %8s %8s %14s %12s\n", "protocol", "n", "bits/ReLU", "formula",
         "rounds", "formula", "paper HB bits", "ReLU/s");
  int ret = PN_EXIT_OK;
  for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
    j.mode = i == 0 ? PN_RELU_FULL : PN_RELU_HB;
    bool tree = o.no_table || i >= 7;
    j.k = 0;
    j.m = ns[i];
    lo.no_table = tree;
    if (pn_mpc_loopback_run(&ctx, &lo, relu_party, &j)) {
      ret = pn_cli_fail(cmd, &ctx);
      break;
    }
    double bits, meas = (double)j.st.bytes * 8 / (double)j.n;
    int rounds;
    pn_relu_cost_ex(j.mode, ns[i], tree ? 0 : PN_HB_LUT_MAX, &bits, &rounds);
    int lg = 0;
    while ((1 << lg) < ns[i]) lg++;
    double paper = j.mode == PN_RELU_FULL ? 1856 : 2.0 * ns[i] + 4.0 * ns[i] * lg + 1 + 128;
    printf("%-10s %4d %12.2f %12.0f %8llu %8d %14.0f %12.0f\n",
           j.mode == PN_RELU_FULL ? "full-bit"
           : (ns[i] >= PN_HB_LUT_MIN && ns[i] <= PN_HB_LUT_MAX) ? (tree ? "HB tree" : "HB table")
                                                                : "HB",
           ns[i], meas, bits,
           (unsigned long long)j.st.rounds, rounds, paper, (double)j.n / j.seconds);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "protocol", j.mode == PN_RELU_FULL ? "full-bit" : "hummingbird");
    cJSON_AddBoolToObject(e, "sign_table", j.mode == PN_RELU_HB && !tree &&
                          ns[i] >= PN_HB_LUT_MIN && ns[i] <= PN_HB_LUT_MAX);
    cJSON_AddNumberToObject(e, "n", ns[i]);
    cJSON_AddNumberToObject(e, "bits_per_relu", meas);
    cJSON_AddNumberToObject(e, "bits_formula", bits);
    cJSON_AddNumberToObject(e, "bits_paper_hb_formula", paper);
    cJSON_AddNumberToObject(e, "rounds", (double)j.st.rounds);
    cJSON_AddNumberToObject(e, "rounds_formula", rounds);
    cJSON_AddNumberToObject(e, "relu_per_second", (double)j.n / j.seconds);
    cJSON_AddItemToArray(arr, e);
  }
  pn_wipe(lo.master, sizeof lo.master);
  pn_wipe(j.master, sizeof j.master);
  if (ret == PN_EXIT_OK && o.json) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "elements", (double)j.n);
    cJSON_AddStringToObject(r, "net", o.net);
    cJSON_AddItemToObject(r, "relu", arr);
    arr = NULL;
    if (pn_cli_report(&ctx, cmd, o.json, r)) ret = pn_cli_fail(cmd, &ctx);
    cJSON_Delete(r);
  }
  cJSON_Delete(arr);
  return ret;
}

int pn_cmd_mpc(int argc, char **argv) {
  static const struct pn_cli_sub subs[] = {
    {"infer", pn_mpc_cli_infer, "private inference on this machine: dealer and both parties, or --sim"},
    {"profile", pn_mpc_cli_profile, "ranges at every ReLU/MaxPool -> HummingBird's error-free plan"},
    {"search", pn_mpc_cli_search, "HummingBird's search: an error-free or budgeted plan on validation"},
    {"finetune", pn_mpc_cli_finetune, "fine-tune a model with a plan's reduced ring in the loop"},
    {"dealer", cmd_dealer, "the trusted dealer: correlated randomness to files, or online (--serve)"},
    {"share", pn_mpc_cli_share, "the client: secret-share input images for the two parties"},
    {"weights", pn_mpc_cli_weights, "the model owner: secret-share the weights"},
    {"party", pn_mpc_cli_party, "one party of a two-host run (P0 or P1)"},
    {"reveal", pn_mpc_cli_reveal, "the client: add the parties' output shares, print the classes"},
    {"psk", pn_mpc_cli_psk, "write a fresh pre-shared key for one link (mode 0600)"},
    {"bench-relu", pn_mpc_cli_bench_relu, "bits, rounds and throughput per ReLU against the formulas"},
    {"bench", pn_bench_mpc, "the MPC benchmark (= privnn bench mpc)"},
  };
  return pn_cli_dispatch("mpc", subs, (int)(sizeof subs / sizeof *subs), argc, argv);
}
