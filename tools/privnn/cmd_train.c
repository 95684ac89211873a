/* cmd_train.c - `privnn train`: train a reference architecture on Fashion-MNIST, export ONNX. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
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

static void usage(FILE *f) {
  fprintf(f,
          "usage: privnn train --arch ARCH --data fashion-mnist --epochs N -o model.onnx [options]\n\n"
          "Train ARCH (lenet5, cnn-s, resnet-s, vgg-s) on the 55,000-image train split; validate on the\n"
          "fixed 5,000-image validation split after every epoch (the test split is never read).\n\n"
          "  --arch ARCH        architecture\n"
          "  --data D           fashion-mnist (from %s) or a folder with the four .gz files\n"
          "  --epochs N         epochs (default 10)\n"
          "  --lr X             peak learning rate (default 0.05 sgd, 0.002 adam/adamw)\n"
          "  --batch B          batch size (default 128)\n"
          "  --seed S           seed of weights, shuffling, augmentation (default 1)\n"
          "  --opt O            sgd (Nesterov momentum 0.9) | adam | adamw (default sgd)\n"
          "  --wd X             weight decay (default 5e-4 sgd, 0.05 adamw)\n"
          "  --sched S          cosine | step | const (default cosine)\n"
          "  --warmup E         warm-up epochs, may be fractional (default 0.5)\n"
          "  --augment A        full (random crop with 2-px padding + horizontal flip, default),\n"
          "                     flip, crop or none\n"
          "  --no-augment       same as --augment none\n"
          "  --max-train N      use only the first N training images (quick runs)\n"
          "  --ckpt FILE        checkpoint written atomically every epoch (default OUT.ckpt)\n"
          "  --resume FILE      continue from a checkpoint (same options)\n"
          "  --json FILE        write a JSON report\n"
          "  -o FILE            the trained model (ONNX)\n\n"
          "Ctrl-C stops after the current batch and leaves the last checkpoint intact.\n",
          PN_FMNIST_DIR);
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
  const char *arch = NULL, *data = NULL, *out = NULL, *json = NULL, *resume = NULL, *ckpt = NULL;
  const char *opt_s = "sgd", *sched_s = "cosine", *aug_s = "full";
  int epochs = 10, batch = 128;
  double lr = -1, wd = -1, warmup = 0.5;
  uint64_t seed = 1;
  int64_t max_train = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--no-augment")) {
      aug_s = "none";
      continue;
    }
    if (!v) {
      fprintf(stderr, "privnn train: %s needs a value (see --help)\n", a);
      return 2;
    }
    char *end = NULL;
    errno = 0;
    if (!strcmp(a, "--arch")) arch = v;
    else if (!strcmp(a, "--data")) data = v;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
    else if (!strcmp(a, "--json")) json = v;
    else if (!strcmp(a, "--resume")) resume = v;
    else if (!strcmp(a, "--ckpt")) ckpt = v;
    else if (!strcmp(a, "--opt")) opt_s = v;
    else if (!strcmp(a, "--sched")) sched_s = v;
    else if (!strcmp(a, "--augment")) aug_s = v;
    else if (!strcmp(a, "--epochs")) epochs = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--batch")) batch = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--seed")) seed = strtoull(v, &end, 10);
    else if (!strcmp(a, "--max-train")) max_train = strtoll(v, &end, 10);
    else if (!strcmp(a, "--lr")) lr = strtod(v, &end);
    else if (!strcmp(a, "--wd")) wd = strtod(v, &end);
    else if (!strcmp(a, "--warmup")) warmup = strtod(v, &end);
    else {
      fprintf(stderr, "privnn train: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (end && (*end || errno || end == v)) {
      fprintf(stderr, "privnn train: %s: '%s' is not a number\n", a, v);
      return 2;
    }
    i++;
  }
  if (!arch || !out) {
    fprintf(stderr, "privnn train: --arch and -o are required (see --help)\n");
    return 2;
  }
  if (data && strcmp(data, "fashion-mnist") && access(data, F_OK)) {
    fprintf(stderr, "privnn train: --data '%s': not 'fashion-mnist' nor a folder\n", data);
    return 2;
  }
  int crop = !strcmp(aug_s, "full") || !strcmp(aug_s, "crop");
  int flip = !strcmp(aug_s, "full") || !strcmp(aug_s, "flip");
  if (!crop && !flip && strcmp(aug_s, "none")) {
    fprintf(stderr, "privnn train: --augment '%s': use full, flip, crop or none\n", aug_s);
    return 2;
  }
  int ok = pn_opt_parse(opt_s);
  if (ok < 0) {
    fprintf(stderr, "privnn train: --opt '%s': use sgd, adam or adamw\n", opt_s);
    return 2;
  }
  enum pn_sched_kind sched = !strcmp(sched_s, "cosine") ? PN_SCHED_COSINE
                             : !strcmp(sched_s, "step") ? PN_SCHED_STEP
                             : !strcmp(sched_s, "const") ? PN_SCHED_CONST : PN_SCHED_COUNT;
  if (sched == PN_SCHED_COUNT) {
    fprintf(stderr, "privnn train: --sched '%s': use cosine, step or const\n", sched_s);
    return 2;
  }
  if (epochs < 1 || epochs > 1024 || batch < 1 || batch > 65536 || max_train < 0 || warmup < 0 ||
      (lr != -1 && !(lr > 0)) || (wd != -1 && !(wd >= 0))) {
    fprintf(stderr, "privnn train: epochs must be in 1..1024, batch in 1..65536, lr > 0, wd >= 0\n");
    return 2;
  }

  struct pn_ctx ctx = {0};
  struct pn_dataset ds;
  struct pn_graph *g = NULL;
  struct pn_train_result *res = calloc(1, sizeof *res);
  char *ckpt_buf = NULL;
  int rc = res ? PN_OK : pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  memset(&ds, 0, sizeof ds);
  if (!rc) rc = pn_arch_build(&ctx, arch, seed, &g);
  if (!rc) rc = pn_dataset_load(&ctx, data_dir(data), &ds);
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
    cJSON_AddStringToObject(o, "command", "train");
    cJSON_AddStringToObject(o, "arch", arch);
    cJSON_AddStringToObject(o, "status", rc ? "interrupted" : "ok");
    cJSON_AddNumberToObject(o, "epochs", epochs);
    cJSON_AddNumberToObject(o, "epochs_done", res->epochs_done);
    cJSON_AddNumberToObject(o, "batch", batch);
    cJSON_AddNumberToObject(o, "seed", (double)seed);
    cJSON_AddStringToObject(o, "optimizer", opt_s);
    cJSON_AddNumberToObject(o, "lr", cfg.opt.lr);
    cJSON_AddNumberToObject(o, "weight_decay", cfg.opt.weight_decay);
    cJSON_AddStringToObject(o, "schedule", sched_s);
    cJSON_AddStringToObject(o, "augment", aug_s);
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
    if (res->cpu_seconds > 0)
      cJSON_AddNumberToObject(o, "images_per_cpu_s", (double)res->images / res->cpu_seconds);
    if (res->conv_seconds > 0)
      cJSON_AddNumberToObject(o, "conv_gflops", res->conv_flops / res->conv_seconds * 1e-9);
    if (res->conv_cpu_seconds > 0)
      cJSON_AddNumberToObject(o, "conv_gflops_cpu", res->conv_flops / res->conv_cpu_seconds * 1e-9);
    if (!rc) cJSON_AddStringToObject(o, "output", out);
    cJSON_AddStringToObject(o, "checkpoint", ckpt);
    int jr = pn_json_write(&ctx, json, o, 0644);
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
