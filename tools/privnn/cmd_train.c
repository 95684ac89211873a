/* cmd_train.c - `privnn train`: train a reference architecture on Fashion-MNIST or an IDX folder of
** its layout (any image size), export ONNX. */
#include <signal.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "graph/ir.h"
#include "graph/onnx.h"
#include "nn/arch.h"
#include "nn/autograd.h"
#include "nn/dataset.h"
#include "nn/train.h"
#include "util/util.h"

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig) {
  (void)sig;
  g_stop = 1;
}

struct epoch_printer {
  int header;
};

static void print_epoch(void *user, const struct pn_epoch_stats *st) {
  struct epoch_printer *p = user;
  if (!p->header) {
    printf("%5s %10s %9s %9s %8s %9s %8s %8s\n", "epoch", "train_loss", "train_acc", "val_loss",
           "val_acc", "lr", "img/s", "sec");
    p->header = 1;
  }
  printf("%5d %10.4f %9.4f %9.4f %8.4f %9.5f %8.0f %8.1f\n", st->epoch, st->train_loss,
         st->train_acc, st->val_loss, st->val_acc, st->lr, st->images_per_s, st->seconds);
  fflush(stdout);
}

static const char *data_dir(const char *data) {
  return (!data || !strcmp(data, "fashion-mnist")) ? NULL : data;
}

int pn_cmd_train(int argc, char **argv) {
  const char *cmd = "train", *arch = NULL, *data = NULL, *out = NULL, *json = NULL, *resume = NULL;
  const char *ckpt = NULL;
  int opt_k = PN_OPT_SGD, sched_i = 0, aug = 0;
  bool no_aug = false;
  int64_t epochs = 10, batch = 128, max_train = 0;
  double lr = -1, wd = -1, warmup = 0.5;
  uint64_t seed = 1;
  char data_help[160];
  snprintf(data_help, sizeof data_help, "fashion-mnist (from %s) or a folder of the same four IDX files",
           PN_FMNIST_DIR);
  int64_t threads = 0;
  const struct pn_cli_opt opts[] = {
    {"--arch", NULL, PN_CLI_STR, &arch, "ARCH", "lenet5, cnn-s, resnet-s, vgg-s or fhe-s (required)"},
    {"--data", NULL, PN_CLI_STR, &data, "D", data_help, 0, 0, NULL, "fashion-mnist"},
    {"--output", "-o", PN_CLI_STR, &out, "FILE", "the trained model, ONNX (required)"},
    {"--epochs", NULL, PN_CLI_INT, &epochs, "N", "epochs", 1, 1024},
    {"--lr", NULL, PN_CLI_REAL, &lr, "X", "peak learning rate", 1e-12, 1e3, NULL, "0.05 sgd, 0.002 adam/adamw"},
    {"--batch", NULL, PN_CLI_INT, &batch, "B", "batch size", 1, 65536},
    {"--seed", NULL, PN_CLI_UINT, &seed, "S", "seed of weights, shuffling, augmentation"},
    {"--opt", NULL, PN_CLI_CHOICE, &opt_k, "O", "optimiser; sgd is Nesterov momentum 0.9", 0, 0, "sgd|adam|adamw"},
    {"--wd", NULL, PN_CLI_REAL, &wd, "X", "weight decay", 0, 10, NULL, "5e-4 sgd, 0.05 adamw"},
    {"--sched", NULL, PN_CLI_CHOICE, &sched_i, "S", "learning-rate schedule", 0, 0, "cosine|step|const"},
    {"--warmup", NULL, PN_CLI_REAL, &warmup, "E", "warm-up epochs, may be fractional", 0, 1e6},
    {"--augment", NULL, PN_CLI_CHOICE, &aug, "A",
     "full: random crop with 2-px padding + horizontal flip", 0, 0, "full|flip|crop|none"},
    {"--no-augment", NULL, PN_CLI_FLAG, &no_aug, NULL, "same as --augment none"},
    {"--max-train", NULL, PN_CLI_INT, &max_train, "N", "use only the first N training images (quick runs)",
     0, 1e9, NULL, "all"},
    {"--ckpt", NULL, PN_CLI_STR, &ckpt, "FILE", "checkpoint written atomically every epoch", 0, 0, NULL,
     "OUT.ckpt"},
    {"--resume", NULL, PN_CLI_STR, &resume, "FILE", "continue from a checkpoint (same options)"},
    {"--threads", NULL, PN_CLI_INT, &threads, "T", "OpenMP and OpenBLAS threads", 1, 1024, NULL, "the libraries' own"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "write a JSON report"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "--arch ARCH --data fashion-mnist --epochs N -o model.onnx",
    "Train ARCH on the train split; validate on the fixed validation split after every epoch\n"
    "(the test split is never read). Fashion-MNIST: 55,000 and 5,000 of its 60,000 training\n"
    "images; another folder: 1/12 of its training images (at least 1) for validation, the rest\n"
    "for training. The model takes the folder's image shape and has one output per class.\n"
    "Ctrl-C stops after the current batch and leaves the last checkpoint intact.",
    "privnn train --arch cnn-s --data fashion-mnist --epochs 10 --seed 1 -o build/cnn-s.onnx", opts,
    NULL, NULL, 0, 0};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (!arch || !out) return pn_cli_usage(cmd, "--arch and -o are required");
  pn_cli_tune_process();
  pn_cli_set_threads((int)threads);
  if (data && strcmp(data, "fashion-mnist") && access(data, F_OK))
    return pn_cli_usage(cmd, "--data '%s': not 'fashion-mnist' nor a folder", data);
  if (no_aug) aug = 3;
  int crop = aug == 0 || aug == 2, flip = aug == 0 || aug == 1;
  int ok = opt_k;
  static const enum pn_sched_kind scheds[3] = {PN_SCHED_COSINE, PN_SCHED_STEP, PN_SCHED_CONST};
  enum pn_sched_kind sched = scheds[sched_i];


  struct pn_ctx ctx = {0};
  struct pn_dataset ds;
  struct pn_graph *g = NULL;
  struct pn_train_result *res = calloc(1, sizeof *res);
  char *ckpt_buf = NULL;
  int rc = res ? PN_OK : pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  memset(&ds, 0, sizeof ds);
  if (!rc) rc = pn_dataset_load(&ctx, data_dir(data), &ds);
  if (!rc && (rc = pn_arch_build_shape(&ctx, arch, ds.channels, ds.height, ds.width, ds.classes, seed, &g)))
    pn_err_prefix(&ctx, "%s has %dx%dx%d images", ds.name, ds.height, ds.width, ds.channels);
  if (!rc && data_dir(data))
    printf("%s: %dx%dx%d images, %d classes; %lld train, %lld validation, %lld test\n", ds.name, ds.height,
           ds.width, ds.channels, ds.classes, (long long)ds.n[PN_SPLIT_TRAIN], (long long)ds.n[PN_SPLIT_VAL],
           (long long)ds.n[PN_SPLIT_TEST]);
  if (!rc && !ckpt) {
    size_t n = strlen(out) + 6;
    ckpt_buf = malloc(n);
    if (!ckpt_buf) rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    else snprintf(ckpt_buf, n, "%s.ckpt", out);
    ckpt = ckpt_buf;
  }
  struct pn_train_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  struct epoch_printer pr = {0};
  if (!rc) {
    cfg.arch = arch;
    cfg.epochs = epochs;
    cfg.batch = batch;
    cfg.seed = seed;
    cfg.opt = pn_optim_defaults((enum pn_opt_kind)ok);
    if (lr > 0) cfg.opt.lr = (float)lr;
    if (wd >= 0) cfg.opt.weight_decay = (float)wd;
    cfg.opt.sched = sched;
    int64_t n_train = max_train > 0 && max_train < ds.n[PN_SPLIT_TRAIN] ? max_train : ds.n[PN_SPLIT_TRAIN];
    int64_t spe = n_train / batch;
    cfg.opt.warmup_steps = (int64_t)(warmup * (double)spe);
    cfg.opt.step_size = spe * (epochs >= 3 ? epochs / 3 : 1);
    cfg.pad = crop ? 2 : 0;
    cfg.flip = flip;
    cfg.max_train = max_train;
    cfg.ckpt_path = ckpt;
    cfg.resume_path = resume;
    cfg.stop = &g_stop;
    cfg.progress = true;
    cfg.on_epoch = print_epoch;
    cfg.user = &pr;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    sigaction(SIGTERM, &sa, NULL);
    rc = pn_train(&ctx, &cfg, &ds, g, res);
    sigaction(SIGINT, &old, NULL);
  }
  if (!rc) {
    rc = pn_dataset_record_norm(&ctx, &ds, g);
    if (!rc) rc = pn_onnx_save_file(&ctx, g, out);
  }
  const struct pn_epoch_stats *last = res && res->epochs_done ? &res->hist[res->epochs_done - 1] : NULL;
  if (!rc) {
    printf("trained %s: %d epochs, val accuracy %.4f, %.1f s; wrote %s (checkpoint %s)\n", arch,
           res->epochs_done, last ? last->val_acc : 0.0, res->seconds, out, ckpt);
    if (res->conv_seconds > 0)
      printf("conv layers: %.2f GFLOP/s (fwd+bwd sgemm flops / time in conv incl. im2col)\n",
             res->conv_flops / res->conv_seconds * 1e-9);
  }
  if (json && res && (rc == PN_OK || rc == PN_ERR_INTERRUPTED)) {
    cJSON *o = cJSON_CreateObject(), *h = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "arch", arch);
    cJSON_AddStringToObject(o, "dataset", ds.name);
    const double shape[3] = {ds.channels, ds.height, ds.width}; /* the model input's [C,H,W] */
    cJSON_AddItemToObject(o, "image_shape", cJSON_CreateDoubleArray(shape, 3));
    cJSON_AddNumberToObject(o, "classes", ds.classes);
    cJSON_AddStringToObject(o, "status", rc ? "interrupted" : "ok");
    cJSON_AddNumberToObject(o, "epochs", epochs);
    cJSON_AddNumberToObject(o, "epochs_done", res->epochs_done);
    cJSON_AddNumberToObject(o, "batch", batch);
    cJSON_AddNumberToObject(o, "seed", (double)seed);
    cJSON_AddStringToObject(o, "optimizer", pn_opt_name((enum pn_opt_kind)opt_k));
    cJSON_AddNumberToObject(o, "lr", cfg.opt.lr);
    cJSON_AddNumberToObject(o, "weight_decay", cfg.opt.weight_decay);
    static const char *const sched_names[3] = {"cosine", "step", "const"};
    static const char *const aug_names[4] = {"full", "flip", "crop", "none"};
    cJSON_AddStringToObject(o, "schedule", sched_names[sched_i]);
    cJSON_AddStringToObject(o, "augment", aug_names[aug]);
    cJSON_AddNumberToObject(o, "train_images", (double)(max_train > 0 && max_train < ds.n[0] ? max_train : ds.n[0]));
    for (int e = 0; e < res->epochs_done; e++) {
      const struct pn_epoch_stats *st = &res->hist[e];
      cJSON *r = cJSON_CreateObject();
      cJSON_AddNumberToObject(r, "epoch", st->epoch);
      cJSON_AddNumberToObject(r, "train_loss", st->train_loss);
      cJSON_AddNumberToObject(r, "train_accuracy", st->train_acc);
      cJSON_AddNumberToObject(r, "val_loss", st->val_loss);
      cJSON_AddNumberToObject(r, "val_accuracy", st->val_acc);
      cJSON_AddNumberToObject(r, "lr", st->lr);
      cJSON_AddNumberToObject(r, "seconds", st->seconds);
      cJSON_AddNumberToObject(r, "images_per_s", st->images_per_s);
      cJSON_AddItemToArray(h, r);
    }
    cJSON_AddItemToObject(o, "history", h);
    if (last) {
      cJSON_AddNumberToObject(o, "val_accuracy", last->val_acc);
      cJSON_AddNumberToObject(o, "val_loss", last->val_loss);
      cJSON_AddNumberToObject(o, "images_per_s", last->images_per_s);
    }
    cJSON_AddNumberToObject(o, "seconds", res->seconds);
    cJSON_AddNumberToObject(o, "cpu_seconds", res->cpu_seconds);
    cJSON_AddNumberToObject(o, "threads", omp_get_max_threads());
    cJSON_AddStringToObject(o, "omp_wait_policy", pn_cli_wait_policy());
    if (res->cpu_seconds > 0)
      cJSON_AddNumberToObject(o, "images_per_cpu_s", (double)res->images / res->cpu_seconds);
    if (res->conv_seconds > 0)
      cJSON_AddNumberToObject(o, "conv_gflops", res->conv_flops / res->conv_seconds * 1e-9);
    if (res->conv_cpu_seconds > 0)
      cJSON_AddNumberToObject(o, "conv_gflops_cpu", res->conv_flops / res->conv_cpu_seconds * 1e-9);
    if (!rc) cJSON_AddStringToObject(o, "output", out);
    cJSON_AddStringToObject(o, "checkpoint", ckpt);
    int jr = pn_cli_report(&ctx, cmd, json, o);
    cJSON_Delete(o);
    if (jr && !rc) rc = jr;
  }
  if (rc) fprintf(stderr, "privnn train: %s\n", pn_errmsg(&ctx));
  pn_graph_free(g);
  pn_dataset_free(&ds);
  free(res);
  free(ckpt_buf);
  return rc == PN_OK ? 0 : (rc == PN_ERR_INTERRUPTED ? 130 : 1);
}
