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
  char pout[4096];
  uint8_t seed[PN_SEED_BYTES] = {0};
  memcpy(seed, &o->seed, sizeof o->seed);
  if (o->plan_out) snprintf(pout, sizeof pout, "%s", o->plan_out);
  else plan_name(pout, sizeof pout, o->out);
  if ((rc = pn_onnx_load_file(ctx, o->model, &g)) ||
      (rc = pn_mpc_cli_plan_load(ctx, o->plan, o->model, g, &plan)))
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
  if ((rc = pn_onnx_load_file(ctx, o->out, &g2)) || (rc = pn_mpc_cli_plan_load(ctx, pout, o->out, g2, &plan2)))
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
  int aug = 0;
  static const char *const augs[] = {"flip", "full", "none"};
  const struct pn_cli_opt opts[] = {
    {"--plan", NULL, PN_CLI_STR, &o.plan, "PLAN.json", "the plan simulated in every forward (required)"},
    {"--output", "-o", PN_CLI_STR, &o.out, "OUT.onnx", "the fine-tuned model (required)"},
    {"--epochs", NULL, PN_CLI_INT, &o.epochs, "E", "epochs", 1, 1024, NULL, "10"},
    {"--lr", NULL, PN_CLI_REAL, &o.lr, "LR", "peak learning rate", 1e-9, 10},
    {"--batch", NULL, PN_CLI_INT, &o.batch, "B", "batch size", 1, 4096, NULL, "128"},
    {"--augment", NULL, PN_CLI_CHOICE, &aug, "A", "flip, or full (2-px crop + flip), or none", 0, 0,
     "flip|full|none"},
    {"--max-train", NULL, PN_CLI_INT, &o.max_train, "N", "use the first N training images", 1, 1 << 30,
     NULL, "all 55000"},
    {"--max-val", NULL, PN_CLI_INT, &o.max_val, "N", "validate on the first N validation images", 1,
     1 << 30, NULL, "all 5000"},
    {"--check", NULL, PN_CLI_INT, &o.check, "N", "validation images for the bit-exact check (0 = none)",
     0, 1 << 30},
    {"--verify", NULL, PN_CLI_INT, &o.verify, "N", "also the first N test images before and after", 0,
     1 << 30},
    {"--plan-out", NULL, PN_CLI_STR, &o.plan_out, "P", "the output plan", 0, 0, NULL, "OUT with .plan.json"},
    {"--seed", NULL, PN_CLI_UINT, &o.seed, "S", "shuffling, augmentation and simulated shares"},
    {"--json", NULL, PN_CLI_STR, &o.json, "FILE", "write a JSON report: per epoch figures, the checks"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "MODEL.onnx --plan PLAN.json -o OUT.onnx [options]",
    "Fine-tune the model with the plan's reduced-ring ReLU and max simulated in every forward\n"
    "(straight-through gradient: what they select carries it), on the train split; each epoch\n"
    "is evaluated on the validation split under the plan and the best epoch is kept (the\n"
    "starting point included). Writes OUT.onnx and its plan OUT.plan.json (the same ranges,\n"
    "bound to OUT.onnx's SHA-256), then checks the two together: the plan against the model,\n"
    "and the bit-exact simulator of the protocol on --check validation images.\n"
    "Default recipe (HummingBird's): 10 epochs, SGD lr 1e-3, momentum 0.9, Nesterov, weight\n"
    "decay 5e-4, batch 128, 30% linear warm-up then cosine, horizontal flips.",
    "privnn mpc finetune lenet5.onnx --plan plan.json --epochs 2 -o lenet5-ft.onnx", opts,
    "MODEL.onnx", &o.model, 1, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  o.augment = augs[aug];
  if (!o.plan) return pn_cli_usage(cmd, "no plan given (--plan PLAN.json)");
  if (!o.out) return pn_cli_usage(cmd, "no output model given (-o OUT.onnx)");
  struct pn_ctx ctx = {0};
  cJSON *rep = o.json ? cJSON_CreateObject() : NULL;
  int rc = finetune(&ctx, &o, rep);
  if (rc == PN_OK && rep) rc = pn_cli_report(&ctx, cmd, o.json, rep);
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
  const char *split = "val", *data = NULL;
  bool error_free = false, budget_given = false;
  int64_t draws = 2, batch = 250;
  const struct pn_cli_opt opts[] = {
    {"--data", NULL, PN_CLI_STR, &data, "D", "fashion-mnist (the search measures accuracy)", 0, 0, NULL,
     "fashion-mnist"},
    {"--error-free", NULL, PN_CLI_FLAG, &error_free, NULL,
     "the most bits discarded with no prediction of the search images changed"},
    {"--budget", NULL, PN_CLI_REAL, &cfg.budget, "BITS",
     "at most BITS bits per comparison on average (0 = the identity), the best accuracy", 0, 64, NULL,
     "", &budget_given},
    {"--output", "-o", PN_CLI_STR, &out, "PLAN.json",
     "the plan, with the model's SHA-256 and per layer figures (required)"},
    {"--split", NULL, PN_CLI_STR, &split, "S", "search images: val or train"},
    {"--count", NULL, PN_CLI_INT, &cfg.count, "N", "search images", 1, 1 << 24, NULL, "all of the split"},
    {"--probe", NULL, PN_CLI_INT, &cfg.probe, "N", "budget: images of the per-layer loss curves", 1,
     1 << 24, NULL, "1000"},
    {"--draws", NULL, PN_CLI_INT, &draws, "R", "error-free: share draws that must all keep every prediction",
     1, 64},
    {"--batch", NULL, PN_CLI_INT, &batch, "B", "images per plaintext run", 1, 4096},
    {"--verify", NULL, PN_CLI_INT, &verify, "N", "bit-exact simulator on the first N test images afterwards",
     0, PN_FMNIST_TEST, NULL, "all for --error-free, 0 for --budget"},
    {"--no-confirm", NULL, PN_CLI_FLAG, &cfg.no_confirm, NULL, "skip the bit-exact simulator on the search images"},
    {"--finetune", NULL, PN_CLI_INT, &ft_epochs, "E",
     "then fine-tune E epochs with the plan in the loop (needs --finetune-out)", 1, 1024, NULL, ""},
    {"--finetune-out", NULL, PN_CLI_STR, &ft_out, "F", "the fine-tuned model (its plan: F with .plan.json)"},
    {"--seed", NULL, PN_CLI_UINT, &seed, "S", "seed of the simulated shares"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "report: the plan, per layer figures, every candidate per stage"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "MODEL.onnx --data fashion-mnist (--error-free | --budget BITS) -o PLAN.json [options]",
    "Choose HummingBird's bit range [k, m) for every ReLU and MaxPool of the model: --error-free\n"
    "discards the most bits with no prediction of the search images changed (then verified on\n"
    "--verify test images: agreement with plaintext); --budget BITS keeps at most BITS bits per\n"
    "comparison on average (weighted by comparisons per image; any width 0..64) with the best\n"
    "search accuracy. Stages: an error model over activation histograms scores every (k, m); the\n"
    "plaintext model with the reduced-ring sign simulated measures predictions (binary search per\n"
    "layer, or per-layer loss curves + a knapsack DP + greedy refinement); the bit-exact simulator\n"
    "of the two-party protocol confirms the plan on the search images.",
    "privnn mpc search models/lenet5.onnx --data fashion-mnist --error-free -o plan.json", opts,
    "MODEL.onnx", &model, 1, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (error_free && budget_given) return pn_cli_usage(cmd, "--error-free and --budget exclude each other");
  mode = error_free ? PN_SEARCH_ERROR_FREE : budget_given ? PN_SEARCH_BUDGET : -1;
  cfg.draws = (int)draws;
  cfg.batch = (int)batch;
  int sp = pn_split_parse(split);
  if (sp != PN_SPLIT_VAL && sp != PN_SPLIT_TRAIN)
    return pn_cli_usage(cmd, "--split '%s': search on val or train (the test split is only for --verify)",
                        split);
  cfg.split = (enum pn_split)sp;
  if (data && strcmp(data, "fashion-mnist"))
    return pn_cli_usage(cmd, "--data '%s': the search measures accuracy, use fashion-mnist", data);
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
  if (res.errfree_bits > 0)
    printf("the error-free plan (%.3f bits) %s\n", res.errfree_bits,
           res.errfree_bits <= cfg.budget ? "fits the budget: it is the plan"
           : res.from_errfree ? "narrowed to the budget did better than the DP's plan: refined from it"
                              : "narrowed to the budget did not beat the DP's plan");
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
  if (json) rc = pn_cli_report(&ctx, cmd, json, rep);
out:
  cJSON_Delete(rep);
  pn_mpc_search_result_free(&res);
  if (have_ds) pn_dataset_free(&ds);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}
