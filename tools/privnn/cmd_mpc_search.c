/* cmd_mpc_search.c - `privnn mpc search` and `privnn mpc finetune`: HummingBird's search engine
** and fine-tuning with the reduced ring in the loop (src/mpc/search.h). */
#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "mpc_cli.h"
#include "graph/onnx.h"
#include "mpc/search.h"
#include "nn/dataset.h"
#include "util/util.h"

static void usage_search(FILE *f) {
  fprintf(f,
          "usage: privnn mpc search MODEL.onnx --data fashion-mnist (--error-free | --budget BITS)\n"
          "                         -o PLAN.json [options]\n\n"
          "Choose HummingBird's bit range [k, m) for every ReLU and MaxPool of the model:\n"
          "  --error-free   the most bits discarded with no prediction of the search images changed\n"
          "                 (then verified on --verify test images: agreement with plaintext);\n"
          "  --budget BITS  at most BITS bits per comparison on average (weighted by comparisons per\n"
          "                 image; any width 0..64, 0 = the identity), the best search accuracy.\n"
          "Stages: an error model over activation histograms scores every (k, m); the plaintext\n"
          "model with the reduced-ring sign simulated measures predictions (binary search per layer,\n"
          "or per-layer loss curves + a knapsack DP + greedy refinement); the bit-exact simulator of\n"
          "the two-party protocol confirms the plan on the search images.\n\n"
          "  --split S        search images: val (default) or train\n"
          "  --count N        search images (default: all of the split)\n"
          "  --probe N        budget: images of the per-layer loss curves (default 1000)\n"
          "  --draws R        error-free: share draws that must all keep every prediction (default 2)\n"
          "  --batch B        images per plaintext run (default 250)\n"
          "  --verify N       bit-exact simulator on the first N test images afterwards (default: all\n"
          "                   10000 for --error-free, 0 for --budget)\n"
          "  --no-confirm     skip the bit-exact simulator on the search images\n"
          "  --finetune E     then fine-tune E epochs with the plan in the loop (mpc finetune's\n"
          "                   defaults); needs --finetune-out\n"
          "  --finetune-out F the fine-tuned model (its plan: F with .plan.json)\n"
          "  --seed S         seed of the simulated shares (default 1)\n"
          "  --json FILE      report: the plan, per layer figures, every candidate per stage\n"
          "  -o PLAN.json     the plan (plus the model's SHA-256 and per layer figures)\n");
}

static void usage_finetune(FILE *f) {
  fprintf(f,
          "usage: privnn mpc finetune MODEL.onnx --plan PLAN.json -o OUT.onnx [options]\n\n"
          "Fine-tune the model with the plan's reduced-ring ReLU and max simulated in every forward\n"
          "(straight-through gradient: what they select carries it), on the train split; each epoch\n"
          "is evaluated on the validation split under the plan and the best epoch is kept (the\n"
          "starting point included). Writes OUT.onnx and its plan OUT.plan.json (the same ranges,\n"
          "bound to OUT.onnx's SHA-256), then checks the two together: the plan against the model,\n"
          "and the bit-exact simulator of the protocol on --check validation images.\n"
          "Default recipe (HummingBird's): 10 epochs, SGD lr 1e-3, momentum 0.9, Nesterov, weight\n"
          "decay 5e-4, batch 128, 30%% linear warm-up then cosine, horizontal flips.\n\n"
          "  --epochs E       (default 10)\n"
          "  --lr LR          (default 0.001)\n"
          "  --batch B        (default 128)\n"
          "  --augment A      flip (default), full (2-px crop + flip) or none\n"
          "  --max-train N    use the first N training images (default all 55000)\n"
          "  --max-val N      validate on the first N validation images (default all 5000)\n"
          "  --check N        validation images for the bit-exact check (default 1000, 0 = none)\n"
          "  --verify N       also the first N test images before and after (default 0)\n"
          "  --plan-out P     the output plan (default OUT with .plan.json)\n"
          "  --seed S         shuffling, augmentation and simulated shares (default 1)\n"
          "  --json FILE      report: per epoch figures, the checks\n");
}

static int parse_f64(const char *cmd, const char *what, const char *s, double lo, double hi,
                     double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi))
    return pn_cli_usage(cmd, "%s '%s': expected a number in [%g, %g]", what, s, lo, hi);
  *out = v;
  return PN_EXIT_OK;
}

/* "x.onnx" -> "x.plan.json" */
static void plan_name(char *buf, size_t n, const char *model) {
  size_t l = strlen(model);
  if (l > 5 && !strcmp(model + l - 5, ".onnx")) l -= 5;
  snprintf(buf, n, "%.*s.plan.json", (int)l, model);
}

static int load_data(struct pn_ctx *ctx, const char *model, const struct pn_graph *g,
                     struct pn_dataset *ds) {
  int rc = pn_dataset_load(ctx, NULL, ds);
  if (rc) return rc;
  if ((rc = pn_dataset_use_model_norm(ctx, ds, g))) {
    pn_err_prefix(ctx, "%s", model);
    pn_dataset_free(ds);
  }
  return rc;
}

/* The plan file: the ranges, the model it belongs to, per layer figures (from the report). */
static int save_plan(struct pn_ctx *ctx, const char *path, const struct pn_mpc_plan *plan,
                     const char *model, const char *kind, const cJSON *report, const cJSON *more) {
  char sha[65];
  int rc = pn_mpc_file_sha256(ctx, model, sha);
  if (rc) return rc;
  cJSON *x = report ? cJSON_Duplicate(report, 1) : cJSON_CreateObject();
  if (!x) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  cJSON_DeleteItemFromObjectCaseSensitive(x, "candidates");
  cJSON_AddStringToObject(x, "model", model);
  cJSON_AddStringToObject(x, "model_sha256", sha);
  cJSON_AddStringToObject(x, "kind", kind);
  if (more) {
    const cJSON *e;
    cJSON_ArrayForEach(e, more) cJSON_AddItemToObject(x, e->string, cJSON_Duplicate(e, 1));
  }
  rc = pn_mpc_plan_save(ctx, path, plan, x);
  cJSON_Delete(x);
  return rc;
}

static void print_sim(const char *what, const struct pn_mpc_sim_eval *ev) {
  printf("%s: %lld images, accuracy %.4f (plaintext %.4f), agreement with plaintext %.4f "
         "(%lld/%lld), %.1f s\n", what, (long long)ev->n, (double)ev->correct / (double)ev->n,
         (double)ev->plain_correct / (double)ev->n, (double)ev->agree / (double)ev->n,
         (long long)ev->agree, (long long)ev->n, ev->seconds);
}

static cJSON *sim_json(const struct pn_mpc_sim_eval *ev, const char *split) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "split", split);
  cJSON_AddNumberToObject(o, "images", (double)ev->n);
  cJSON_AddNumberToObject(o, "accuracy", (double)ev->correct / (double)ev->n);
  cJSON_AddNumberToObject(o, "plaintext_accuracy", (double)ev->plain_correct / (double)ev->n);
  cJSON_AddNumberToObject(o, "agreement", (double)ev->agree / (double)ev->n);
  cJSON_AddNumberToObject(o, "bits_discarded", ev->bits_discarded);
  cJSON_AddNumberToObject(o, "bytes_per_image_per_party", ev->bytes_per_image);
  cJSON_AddNumberToObject(o, "seconds", ev->seconds);
  return o;
}

/* ------------------------------------------------------------------ finetune ---- */

struct ft_opts {
  const char *model, *plan, *out, *plan_out, *json, *augment;
  int64_t epochs, batch, max_train, max_val, check, verify;
  double lr;
  uint64_t seed;
};

static void on_epoch(void *user, const struct pn_epoch_stats *st) {
  (void)user;
  printf("epoch %2d: train loss %.4f acc %.4f, validation (plan simulated) loss %.4f acc %.4f, "
         "lr %.2e, %.0f s\n", st->epoch, st->train_loss, st->train_acc, st->val_loss, st->val_acc,
         st->lr, st->seconds);
  fflush(stdout);
}

/* Fine-tune, write OUT and its plan, check them together. report (may be NULL) gets the figures. */
static int finetune(struct pn_ctx *ctx, const struct ft_opts *o, cJSON *report) {
  struct pn_graph *g = NULL, *g2 = NULL;
  struct pn_mpc_plan plan = {0}, plan2 = {0};
  struct pn_dataset ds = {0};
  int have_ds = 0, rc;
  char sha[65], pout[4096];
  uint8_t seed[PN_SEED_BYTES] = {0};
  memcpy(seed, &o->seed, sizeof o->seed);
  if (o->plan_out) snprintf(pout, sizeof pout, "%s", o->plan_out);
  else plan_name(pout, sizeof pout, o->out);
  if ((rc = pn_onnx_load_file(ctx, o->model, &g)) || (rc = pn_mpc_plan_load(ctx, o->plan, &plan)) ||
      (rc = pn_mpc_file_sha256(ctx, o->model, sha)) ||
      (rc = pn_mpc_plan_check(ctx, o->plan, &plan, g, sha)))
    goto out;
  if ((rc = load_data(ctx, o->model, g, &ds))) goto out;
  have_ds = 1;
  struct pn_mpc_sim_eval before = {0}, after = {0}, check = {0};
  if (o->verify > 0) {
    if ((rc = pn_mpc_sim_eval(ctx, g, &plan, &ds, PN_SPLIT_TEST, o->verify, 0, seed, true, NULL,
                              &before)))
      goto out;
    print_sim("before fine-tuning, bit-exact simulator, test split", &before);
  }
  struct pn_mpc_finetune_cfg fc = {.epochs = (int)o->epochs, .batch = (int)o->batch,
                                   .lr = (float)o->lr, .max_train = o->max_train,
                                   .max_val = o->max_val, .seed = o->seed, .progress = true,
                                   .on_epoch = on_epoch};
  if (!strcmp(o->augment, "full")) fc.pad = 2, fc.flip = 1;
  else if (!strcmp(o->augment, "flip")) fc.flip = 1;
  static struct pn_train_result res;
  printf("fine-tuning %s with %s simulated: %d epochs, SGD lr %g momentum 0.9 Nesterov, weight "
         "decay 5e-4, batch %lld, warm-up 30%% + cosine, augment %s\n", o->model, o->plan,
         fc.epochs ? fc.epochs : 10, fc.lr > 0 ? fc.lr : 1e-3, (long long)(fc.batch ? fc.batch : 128),
         o->augment);
  fflush(stdout);
  if ((rc = pn_mpc_finetune(ctx, &fc, &ds, g, &plan, &res))) goto out;
  printf("validation under the plan: %.4f before, %.4f at the kept epoch %d\n", res.start_val_acc,
         res.best_epoch ? res.hist[res.best_epoch - 1].val_acc : res.start_val_acc, res.best_epoch);
  if ((rc = pn_onnx_save_file(ctx, g, o->out))) goto out;
  cJSON *more = cJSON_CreateObject();
  cJSON_AddStringToObject(more, "finetuned_from", o->model);
  cJSON_AddStringToObject(more, "finetuned_from_plan", o->plan);
  cJSON *src = NULL;
  if (pn_json_read(ctx, o->plan, 16u << 20, &src) == PN_OK) { /* keep the search's figures */
    const cJSON *ly = cJSON_GetObjectItemCaseSensitive(src, "layers");
    if (ly) cJSON_AddItemToObject(more, "layers", cJSON_Duplicate(ly, 1));
  }
  cJSON_Delete(src);
  rc = save_plan(ctx, pout, &plan, o->out, "finetuned", NULL, more);
  cJSON_Delete(more);
  if (rc) goto out;
  /* the two files together, as a user would load them */
  if ((rc = pn_onnx_load_file(ctx, o->out, &g2)) || (rc = pn_mpc_plan_load(ctx, pout, &plan2)) ||
      (rc = pn_mpc_file_sha256(ctx, o->out, sha)) || (rc = pn_mpc_plan_check(ctx, pout, &plan2, g2, sha)))
    goto out;
  if (o->check > 0) {
    if ((rc = pn_mpc_sim_eval(ctx, g2, &plan2, &ds, PN_SPLIT_VAL, o->check, 0, seed, true, NULL, &check)))
      goto out;
    print_sim("check: the output model with its plan, bit-exact simulator, validation split", &check);
  }
  if (o->verify > 0) {
    if ((rc = pn_mpc_sim_eval(ctx, g2, &plan2, &ds, PN_SPLIT_TEST, o->verify, 0, seed, true, NULL, &after)))
      goto out;
    print_sim("after fine-tuning, bit-exact simulator, test split", &after);
  }
  printf("%s, %s: fine-tuned model and its plan\n", o->out, pout);
  if (report) {
    cJSON_AddStringToObject(report, "model", o->model);
    cJSON_AddStringToObject(report, "plan", o->plan);
    cJSON_AddStringToObject(report, "output", o->out);
    cJSON_AddStringToObject(report, "output_plan", pout);
    cJSON_AddNumberToObject(report, "start_val_accuracy", res.start_val_acc);
    cJSON_AddNumberToObject(report, "best_epoch", res.best_epoch);
    cJSON *ep = cJSON_CreateArray();
    for (int e = 0; e < res.epochs_done; e++) {
      const struct pn_epoch_stats *st = &res.hist[e];
      cJSON *x = cJSON_CreateObject();
      cJSON_AddNumberToObject(x, "epoch", st->epoch);
      cJSON_AddNumberToObject(x, "train_loss", st->train_loss);
      cJSON_AddNumberToObject(x, "train_accuracy", st->train_acc);
      cJSON_AddNumberToObject(x, "val_loss", st->val_loss);
      cJSON_AddNumberToObject(x, "val_accuracy", st->val_acc);
      cJSON_AddNumberToObject(x, "lr", st->lr);
      cJSON_AddNumberToObject(x, "seconds", st->seconds);
      cJSON_AddItemToArray(ep, x);
    }
    cJSON_AddItemToObject(report, "epochs", ep);
    cJSON_AddNumberToObject(report, "seconds", res.seconds);
    if (o->check > 0) cJSON_AddItemToObject(report, "check_bit_exact", sim_json(&check, "val"));
    if (o->verify > 0) {
      cJSON_AddItemToObject(report, "test_before", sim_json(&before, "test"));
      cJSON_AddItemToObject(report, "test_after", sim_json(&after, "test"));
    }
  }
out:
  if (have_ds) pn_dataset_free(&ds);
  pn_mpc_plan_free(&plan);
  pn_mpc_plan_free(&plan2);
  pn_graph_free(g);
  pn_graph_free(g2);
  return rc;
}

int pn_mpc_cli_finetune(int argc, char **argv) {
  const char *cmd = "mpc finetune";
  struct ft_opts o = {.augment = "flip", .check = 1000, .seed = 1, .lr = 1e-3};
  struct pn_cli_args a = {argc, argv, 1, cmd, 0};
  const char *v;
  for (; a.i < argc; a.i++) {
    if (pn_cli_flag(&a, "--help", "-h")) {
      usage_finetune(stdout);
      return PN_EXIT_OK;
    }
    int64_t *num = NULL, lo = 0, hi = 0;
    const char **str = NULL;
    if (pn_cli_opt(&a, "--epochs", NULL, &v)) num = &o.epochs, lo = 1, hi = 1024;
    else if (pn_cli_opt(&a, "--batch", NULL, &v)) num = &o.batch, lo = 1, hi = 4096;
    else if (pn_cli_opt(&a, "--max-train", NULL, &v)) num = &o.max_train, lo = 1, hi = 1 << 30;
    else if (pn_cli_opt(&a, "--max-val", NULL, &v)) num = &o.max_val, lo = 1, hi = 1 << 30;
    else if (pn_cli_opt(&a, "--check", NULL, &v)) num = &o.check, lo = 0, hi = 1 << 30;
    else if (pn_cli_opt(&a, "--verify", NULL, &v)) num = &o.verify, lo = 0, hi = 1 << 30;
    else if (pn_cli_opt(&a, "--plan", NULL, &v)) str = &o.plan;
    else if (pn_cli_opt(&a, "--output", "-o", &v)) str = &o.out;
    else if (pn_cli_opt(&a, "--plan-out", NULL, &v)) str = &o.plan_out;
    else if (pn_cli_opt(&a, "--json", NULL, &v)) str = &o.json;
    else if (pn_cli_opt(&a, "--augment", NULL, &v)) str = &o.augment;
    else if (pn_cli_opt(&a, "--lr", NULL, &v)) {
      if (a.err || parse_f64(cmd, "--lr", v, 1e-9, 10, &o.lr)) return PN_EXIT_USAGE;
      continue;
    } else if (pn_cli_opt(&a, "--seed", NULL, &v)) {
      if (a.err || pn_cli_u64(cmd, "--seed", v, &o.seed)) return PN_EXIT_USAGE;
      continue;
    }
    if (a.err) return a.err;
    if (num) {
      if (pn_cli_i64(cmd, num == &o.epochs ? "--epochs" : "the number", v, lo, hi, num))
        return PN_EXIT_USAGE;
      continue;
    }
    if (str) {
      *str = v;
      continue;
    }
    if (argv[a.i][0] == '-') return pn_cli_usage(cmd, "unknown option '%s'", argv[a.i]);
    if (o.model) return pn_cli_usage(cmd, "more than one model ('%s', '%s')", o.model, argv[a.i]);
    o.model = argv[a.i];
  }
  if (!o.model) return pn_cli_usage(cmd, "no model given");
  if (!o.plan) return pn_cli_usage(cmd, "no plan given (--plan PLAN.json)");
  if (!o.out) return pn_cli_usage(cmd, "no output model given (-o OUT.onnx)");
  if (strcmp(o.augment, "flip") && strcmp(o.augment, "full") && strcmp(o.augment, "none"))
    return pn_cli_usage(cmd, "--augment '%s': use flip, full or none", o.augment);
  struct pn_ctx ctx = {0};
  cJSON *rep = o.json ? cJSON_CreateObject() : NULL;
  int rc = finetune(&ctx, &o, rep);
  if (rc == PN_OK && rep) rc = pn_json_write(&ctx, o.json, rep, 0644);
  cJSON_Delete(rep);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

/* -------------------------------------------------------------------- search ---- */

int pn_mpc_cli_search(int argc, char **argv) {
  const char *cmd = "mpc search";
  struct pn_mpc_search_cfg cfg = {.split = PN_SPLIT_VAL, .progress = true};
  const char *model = NULL, *out = NULL, *json = NULL, *ft_out = NULL;
  int mode = -1;
  int64_t verify = -1, ft_epochs = 0;
  uint64_t seed = 1;
  struct pn_cli_args a = {argc, argv, 1, cmd, 0};
  const char *v;
  for (; a.i < argc; a.i++) {
    if (pn_cli_flag(&a, "--help", "-h")) {
      usage_search(stdout);
      return PN_EXIT_OK;
    }
    if (pn_cli_flag(&a, "--error-free", NULL)) {
      if (mode == PN_SEARCH_BUDGET) return pn_cli_usage(cmd, "--error-free and --budget exclude each other");
      mode = PN_SEARCH_ERROR_FREE;
      continue;
    }
    if (pn_cli_flag(&a, "--no-confirm", NULL)) {
      cfg.no_confirm = true;
      continue;
    }
    if (pn_cli_opt(&a, "--budget", NULL, &v)) {
      if (a.err || parse_f64(cmd, "--budget", v, 0, 64, &cfg.budget)) return PN_EXIT_USAGE;
      if (mode == PN_SEARCH_ERROR_FREE) return pn_cli_usage(cmd, "--error-free and --budget exclude each other");
      mode = PN_SEARCH_BUDGET;
      continue;
    }
    int64_t n;
    if (pn_cli_opt(&a, "--count", NULL, &v)) {
      if (a.err || pn_cli_i64(cmd, "--count", v, 1, 1 << 24, &cfg.count)) return PN_EXIT_USAGE;
      continue;
    }
    if (pn_cli_opt(&a, "--probe", NULL, &v)) {
      if (a.err || pn_cli_i64(cmd, "--probe", v, 1, 1 << 24, &cfg.probe)) return PN_EXIT_USAGE;
      continue;
    }
    if (pn_cli_opt(&a, "--draws", NULL, &v)) {
      if (a.err || pn_cli_i64(cmd, "--draws", v, 1, 64, &n)) return PN_EXIT_USAGE;
      cfg.draws = (int)n;
      continue;
    }
    if (pn_cli_opt(&a, "--batch", NULL, &v)) {
      if (a.err || pn_cli_i64(cmd, "--batch", v, 1, 4096, &n)) return PN_EXIT_USAGE;
      cfg.batch = (int)n;
      continue;
    }
    if (pn_cli_opt(&a, "--verify", NULL, &v)) {
      if (a.err || pn_cli_i64(cmd, "--verify", v, 0, PN_FMNIST_TEST, &verify)) return PN_EXIT_USAGE;
      continue;
    }
    if (pn_cli_opt(&a, "--finetune", NULL, &v)) {
      if (a.err || pn_cli_i64(cmd, "--finetune", v, 1, 1024, &ft_epochs)) return PN_EXIT_USAGE;
      continue;
    }
    if (pn_cli_opt(&a, "--seed", NULL, &v)) {
      if (a.err || pn_cli_u64(cmd, "--seed", v, &seed)) return PN_EXIT_USAGE;
      continue;
    }
    if (pn_cli_opt(&a, "--split", NULL, &v)) {
      if (a.err) return a.err;
      int s = pn_split_parse(v);
      if (s != PN_SPLIT_VAL && s != PN_SPLIT_TRAIN)
        return pn_cli_usage(cmd, "--split '%s': search on val or train (the test split is only "
                            "for --verify)", v);
      cfg.split = (enum pn_split)s;
      continue;
    }
    if (pn_cli_opt(&a, "--data", NULL, &v)) {
      if (a.err) return a.err;
      if (strcmp(v, "fashion-mnist"))
        return pn_cli_usage(cmd, "--data '%s': the search measures accuracy, use fashion-mnist", v);
      continue;
    }
    const char **dst = NULL;
    if (pn_cli_opt(&a, "--output", "-o", &v)) dst = &out;
    else if (pn_cli_opt(&a, "--json", NULL, &v)) dst = &json;
    else if (pn_cli_opt(&a, "--finetune-out", NULL, &v)) dst = &ft_out;
    if (dst) {
      if (a.err) return a.err;
      *dst = v;
      continue;
    }
    if (argv[a.i][0] == '-') return pn_cli_usage(cmd, "unknown option '%s'", argv[a.i]);
    if (model) return pn_cli_usage(cmd, "more than one model ('%s', '%s')", model, argv[a.i]);
    model = argv[a.i];
  }
  if (!model) return pn_cli_usage(cmd, "no model given");
  if (mode < 0) return pn_cli_usage(cmd, "give --error-free or --budget BITS");
  if (!out) return pn_cli_usage(cmd, "no output plan given (-o PLAN.json)");
  if (ft_epochs && !ft_out) return pn_cli_usage(cmd, "--finetune needs --finetune-out OUT.onnx");
  cfg.mode = (enum pn_mpc_search_mode)mode;
  if (verify < 0) verify = mode == PN_SEARCH_ERROR_FREE ? PN_FMNIST_TEST : 0;
  uint8_t base[PN_SEED_BYTES] = {0};
  memcpy(base, &seed, sizeof seed);
  pn_seed_derive(base, "privnn.mpc.search", 0, cfg.seed);

  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  struct pn_dataset ds = {0};
  struct pn_mpc_search_result res = {0};
  cJSON *rep = NULL;
  int have_ds = 0, rc;
  pn_mpc_cli_heap_tune();
  double t0 = pn_now();
  if ((rc = pn_onnx_load_file(&ctx, model, &g)) || (rc = load_data(&ctx, model, g, &ds))) goto out;
  have_ds = 1;
  if ((rc = pn_mpc_search(&ctx, g, &ds, &cfg, &res))) goto out;
  double search_s = pn_now() - t0;
  if (!(rep = pn_mpc_search_report(&res))) {
    rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  cJSON_AddStringToObject(rep, "mode", mode == PN_SEARCH_ERROR_FREE ? "error-free" : "budget");
  if (mode == PN_SEARCH_BUDGET) cJSON_AddNumberToObject(rep, "budget_bits", cfg.budget);
  cJSON_AddStringToObject(rep, "search_split", pn_split_name(cfg.split));
  cJSON_AddNumberToObject(rep, "seed", (double)seed);
  cJSON_AddNumberToObject(rep, "search_seconds", search_s);

  printf("%-24s %-7s %9s %9s %5s %4s %4s %4s %14s\n", "node", "op", "cmp/img", "max|x|", "cover",
         "k", "m", "n", "E[wrong]/img");
  for (int i = 0; i < res.n; i++) {
    const struct pn_mpc_search_layer *l = &res.layers[i];
    printf("%-24.24s %-7s %9lld %9.3f %5d %4d %4d %4d %14.4g\n", l->node, l->relu ? "Relu" : "MaxPool",
           (long long)l->elems, l->max_abs, l->cover_m, l->k, l->m, l->m - l->k, l->err.wrong);
  }
  printf("%s plan: %.3f bits per comparison on average, %.2f%% of share bits discarded\n",
         mode == PN_SEARCH_ERROR_FREE ? "error-free" : "budget", res.avg_bits, 100 * res.bits_discarded);
  printf("search images: %lld (%s split); plaintext accuracy %.4f; simulated plan %.4f (%lld "
         "predictions changed)", (long long)res.images, pn_split_name(cfg.split), res.plain_acc,
         res.emu_acc, (long long)res.emu_changed);
  if (res.confirmed)
    printf("; bit-exact simulator %.4f (%lld changed%s)", res.sim_acc, (long long)res.sim_changed,
           res.backoffs ? ", after widening" : "");
  printf("\nstages: error model %lld candidates; simulation %lld plans, %lld images; DP %lld "
         "states; bit-exact %lld plan(s), %lld images; %.1f s\n",
         (long long)res.st.model_candidates, (long long)res.st.emu_candidates,
         (long long)res.st.emu_images, (long long)res.st.dp_states, (long long)res.st.sim_plans,
         (long long)res.st.sim_images, search_s);
  if (verify > 0) {
    struct pn_mpc_sim_eval ev;
    if ((rc = pn_mpc_sim_eval(&ctx, g, &res.plan, &ds, PN_SPLIT_TEST, verify, 0, cfg.seed, true,
                              NULL, &ev)))
      goto out;
    print_sim("verification, bit-exact simulator, test split", &ev);
    cJSON_AddItemToObject(rep, "test", sim_json(&ev, "test"));
  }
  if ((rc = save_plan(&ctx, out, &res.plan, model, mode == PN_SEARCH_ERROR_FREE ? "error-free" : "budget",
                      rep, NULL)))
    goto out;
  printf("%s: plan for %d ReLU/MaxPool nodes\n", out, res.plan.n);
  if (ft_epochs) {
    struct ft_opts fo = {.model = model, .plan = out, .out = ft_out, .augment = "flip",
                         .epochs = ft_epochs, .check = 1000, .seed = seed, .lr = 1e-3};
    cJSON *ft = cJSON_CreateObject();
    rc = finetune(&ctx, &fo, ft);
    cJSON_AddItemToObject(rep, "finetune", ft);
    if (rc) goto out;
  }
  if (json) rc = pn_json_write(&ctx, json, rep, 0644);
out:
  cJSON_Delete(rep);
  pn_mpc_search_result_free(&res);
  if (have_ds) pn_dataset_free(&ds);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}
