/* cmd_paf.c - `privnn paf forms | approximate | export`: SmartPAF polynomial activations. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "graph/ir.h"
#include "graph/onnx.h"
#include "graph/paf.h"
#include "nn/dataset.h"
#include "paf/smartpaf.h"
#include "util/util.h"

static int cmd_forms(int argc, char **argv) {
  const char *cmd = "paf forms", *json = NULL;
  const struct pn_cli_opt opts[] = {
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "write the forms as a JSON report (- for stdout)"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "[--json FILE]",
    "Print every PAF form: its stages (applied first to last), the stage degrees, the degree of\n"
    "the composite sign polynomial and the sum of the stage degrees (the paper's tables print\n"
    "the latter), the CKKS depth of the sign, of one PAF ReLU and of one 2x2 PAF MaxPool with a\n"
    "unit (folded) scale, the max ReLU error on [-1, 1] with the base coefficients, and the\n"
    "largest |sign| on [1, 1.5] (1 means bounded past the scale; large means it explodes).",
    "privnn paf forms --json forms.json", opts, NULL, NULL, 0, 0};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  printf("%-10s %-24s %-10s %6s %4s %5s %5s %8s %10s %12s  %s\n", "form", "stages", "degrees", "degree",
         "sum", "sign", "ReLU", "pool2x2", "ReLU err", "|sign| 1..1.5", "source");
  printf("%-10s %-24s %-10s %6s %4s %5s %5s %8s %10s %12s\n", "", "(first to last)", "", "", "", "depth",
         "depth", "depth", "on [-1,1]", "");
  cJSON *arr = json ? cJSON_CreateArray() : NULL;
  for (int f = 0; f < PN_PAF_FORM_COUNT; f++) {
    const struct pn_paf_form_def *d = pn_paf_form_def(f);
    struct pn_paf_form_stats st;
    pn_paf_form_stats(f, &st);
    char degs[32] = "";
    for (int s = 0; s < d->n_stages; s++)
      snprintf(degs + strlen(degs), sizeof degs - strlen(degs), "%s%d", s ? "," : "", st.stage_degree[s]);
    printf("%-10s %-24s %-10s %6d %4d %5d %5d %8d %10.5f %12.4g  %s\n", d->name, d->stages, degs, st.degree,
           st.degree_sum, st.sign_depth, st.relu_depth, st.maxpool2x2_depth, st.relu_err, st.sign_past1,
           d->source);
    if (arr) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "form", d->name);
      cJSON_AddStringToObject(o, "stages", d->stages);
      cJSON *sd = cJSON_AddArrayToObject(o, "stage_degrees");
      for (int s = 0; s < d->n_stages; s++) cJSON_AddItemToArray(sd, cJSON_CreateNumber(st.stage_degree[s]));
      cJSON_AddNumberToObject(o, "degree", st.degree);
      cJSON_AddNumberToObject(o, "degree_sum", st.degree_sum);
      cJSON_AddNumberToObject(o, "sign_depth", st.sign_depth);
      cJSON_AddNumberToObject(o, "relu_depth", st.relu_depth);
      cJSON_AddNumberToObject(o, "maxpool2x2_depth", st.maxpool2x2_depth);
      cJSON_AddNumberToObject(o, "relu_max_error", st.relu_err);
      cJSON_AddNumberToObject(o, "sign_max_abs_1_to_1_5", st.sign_past1);
      cJSON *co = cJSON_AddArrayToObject(o, "coefficients");
      for (int i = 0; i < st.n_coeffs; i++) cJSON_AddItemToArray(co, cJSON_CreateNumber(d->base[i]));
      cJSON_AddStringToObject(o, "source", d->source);
      cJSON_AddItemToArray(arr, o);
    }
  }
  printf("\ndepths: a stage of degree d costs ceil(log2(d+1)) levels; a PAF ReLU adds 1 (x * sign),\n"
         "and 1 more when its scale is not folded to 1; a 2x2 MaxPool is two levels of max.\n");
  if (arr) {
    struct pn_ctx ctx = {0};
    cJSON *r = cJSON_CreateObject();
    cJSON_AddItemToObject(r, "forms", arr);
    int rc = pn_cli_report(&ctx, cmd, json, r);
    cJSON_Delete(r);
    if (rc) return pn_cli_fail(cmd, &ctx);
  }
  return PN_EXIT_OK;
}

/* ---- approximate ---- */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void print_line(void *user, const char *line) {
  (void)user;
  printf("%s\n", line);
  fflush(stdout);
}

static int cmd_approximate(int argc, char **argv) {
  const char *cmd = "paf approximate", *model = NULL, *out = NULL, *data = NULL, *json = NULL, *form_s = NULL,
             *tech_s = "ct,pa,at,ss,sstune", *ckpt = NULL, *resume = NULL;
  struct pn_paf_cfg cfg;
  pn_paf_cfg_defaults(&cfg, PN_PAF_F1G2);
  bool no_fold = false, eval_test = false;
  int64_t at_epochs = cfg.at_epochs, at_images = cfg.at_images, at_groups = cfg.at_groups,
          ct_images = cfg.ct_images, ct_epochs = cfg.ct_epochs, base_epochs = cfg.base_epochs,
          base_images = cfg.base_images, ss_images = cfg.ss_images, bn_images = cfg.bn_images,
          tune_epochs = cfg.tune_epochs, tune_images = cfg.tune_images, batch = cfg.batch, threads = 0,
          max_val = 0;
  double lr_coef = cfg.at_lr_coef, lr_weight = cfg.at_lr_weight, ct_cover = cfg.ct_cover;
  char data_help[160], form_help[160], about[1024];
  snprintf(data_help, sizeof data_help, "fashion-mnist (from %s) or a folder with the four .gz files",
           PN_FMNIST_DIR);
  snprintf(form_help, sizeof form_help, "the PAF form, one of %s (privnn paf forms) (required)",
           pn_paf_form_list());
  snprintf(about, sizeof about,
           "Replace MODEL's Relu and MaxPool nodes by PAFs of form F and win the accuracy back.\n"
           "Selection and early stopping read the validation split only; the test split is read only\n"
           "with --eval-test, once per stage model. --techniques is a comma list of:\n"
           "  baseline  every site at once, base coefficients, fine-tune all (lr %g)\n"
           "  ct        coefficient tuning on sampled inputs of the original model\n"
           "  pa,at     progressive approximation with alternate training\n"
           "  ss        static scales (max |x| over --ss-images training images)\n"
           "  sstune    privnn's fine-tune under the static scales\n"
           "Ctrl-C stops after the current batch and leaves the last checkpoint intact (exit 130).",
           cfg.base_lr);
  const struct pn_cli_opt opts[] = {
    {"--form", NULL, PN_CLI_STR, &form_s, "F", form_help},
    {"--data", NULL, PN_CLI_STR, &data, "D", data_help, 0, 0, NULL, "fashion-mnist"},
    {"--output", "-o", PN_CLI_STR, &out, "FILE", "the approximated model, ONNX with ai.privnn nodes (required)"},
    {"--techniques", NULL, PN_CLI_STR, &tech_s, "T", "comma list of baseline, ct, pa, at, ss, sstune"},
    {"--epochs", NULL, PN_CLI_INT, &at_epochs, "N", "AT epochs per group (the paper: 20)", 1, 1000},
    {"--at-images", NULL, PN_CLI_INT, &at_images, "N", "training images per AT epoch", 1, 1000000},
    {"--at-groups", NULL, PN_CLI_INT, &at_groups, "N", "at most N AT groups per site", 1, 1000},
    {"--lr-coef", NULL, PN_CLI_REAL, &lr_coef, "X", "AT learning rate of coefficients", 0, 10},
    {"--lr-weight", NULL, PN_CLI_REAL, &lr_weight, "X", "AT learning rate of weights", 0, 10},
    {"--ct-images", NULL, PN_CLI_INT, &ct_images, "N", "training images sampled for CT", 1, 1000000},
    {"--ct-epochs", NULL, PN_CLI_INT, &ct_epochs, "N", "CT epochs", 1, 10000},
    {"--ct-cover", NULL, PN_CLI_REAL, &ct_cover, "X", "CT: weight of the error spread over [-1, 1] (0 = the paper)", 0, 10},
    {"--base-epochs", NULL, PN_CLI_INT, &base_epochs, "N", "baseline fine-tune epochs", 0, 1000},
    {"--base-images", NULL, PN_CLI_INT, &base_images, "N", "training images per baseline epoch", 1, 1000000},
    {"--ss-images", NULL, PN_CLI_INT, &ss_images, "N", "training images scanned for the static scales", 1, 1000000},
    {"--bn-images", NULL, PN_CLI_INT, &bn_images, "N", "images to recompute BN statistics of an SWA average", 1, 1000000},
    {"--tune-epochs", NULL, PN_CLI_INT, &tune_epochs, "N", "SS-aware tune epochs", 0, 1000},
    {"--tune-images", NULL, PN_CLI_INT, &tune_images, "N", "training images per tune epoch", 1, 1000000},
    {"--batch", NULL, PN_CLI_INT, &batch, "B", "training batch", 1, 4096},
    {"--seed", NULL, PN_CLI_UINT, &cfg.seed, "S", "seed of sampling, shuffling and augmentation"},
    {"--no-fold", NULL, PN_CLI_FLAG, &no_fold, NULL, "keep static scales and ReLU's 1/2 in the PAF nodes"},
    {"--eval-test", NULL, PN_CLI_FLAG, &eval_test, NULL, "also report test accuracy (once per stage model)"},
    {"--max-val", NULL, PN_CLI_INT, &max_val, "N", "use only the first N validation images (quick runs)", 1,
     PN_FMNIST_VAL, NULL, "all"},
    {"--threads", NULL, PN_CLI_INT, &threads, "T", "OpenMP and OpenBLAS threads", 1, 256, NULL, "the libraries' own"},
    {"--ckpt", NULL, PN_CLI_STR, &ckpt, "FILE", "checkpoint after every unit of work", 0, 0, NULL, "OUT.ckpt"},
    {"--resume", NULL, PN_CLI_STR, &resume, "FILE", "continue an interrupted run (same options)"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "write a JSON report"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "MODEL.onnx --form F --data fashion-mnist -o OUT.onnx [options]", about,
    "privnn paf approximate models/lenet5.onnx --form f1g2 --data fashion-mnist -o lenet5-paf.onnx", opts,
    "MODEL.onnx", &model, 1, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (!out) return pn_cli_usage(cmd, "no output given (-o OUT.onnx)");
  if (!form_s) return pn_cli_usage(cmd, "no form given (--form: %s)", pn_paf_form_list());
  cfg.at_epochs = (int)at_epochs;
  cfg.at_images = (int)at_images;
  cfg.at_groups = (int)at_groups;
  cfg.ct_images = (int)ct_images;
  cfg.ct_epochs = (int)ct_epochs;
  cfg.base_epochs = (int)base_epochs;
  cfg.base_images = (int)base_images;
  cfg.ss_images = (int)ss_images;
  cfg.bn_images = (int)bn_images;
  cfg.tune_epochs = (int)tune_epochs;
  cfg.tune_images = (int)tune_images;
  cfg.batch = (int)batch;
  cfg.threads = (int)threads;
  cfg.max_val = max_val;
  cfg.at_lr_coef = (float)lr_coef;
  cfg.at_lr_weight = (float)lr_weight;
  cfg.ct_cover = (float)ct_cover;
  if (no_fold) cfg.fold = false;
  if (eval_test) cfg.eval_test = true;
  int f = pn_paf_form_parse(form_s);
  if (f < 0) return pn_cli_usage(cmd, "unknown form '%s' (%s)", form_s, pn_paf_form_list());
  cfg.form = (enum pn_paf_form)f;
  struct pn_ctx ctx = {0};
  if (pn_paf_tech_parse(&ctx, tech_s, &cfg.tech)) return pn_cli_usage(cmd, "--techniques: %s", pn_errmsg(&ctx));
  if (data && strcmp(data, "fashion-mnist") && access(data, F_OK))
    return pn_cli_usage(cmd, "--data '%s': not 'fashion-mnist' nor a folder", data);
  if (cfg.threads) pn_cli_set_threads(cfg.threads);
  char ckpt_buf[4096];
  if (!ckpt) {
    snprintf(ckpt_buf, sizeof ckpt_buf, "%s.ckpt", out);
    ckpt = ckpt_buf;
  }
  cfg.ckpt_path = ckpt;
  cfg.resume_path = resume;
  cfg.stop = &g_stop;
  cfg.progress = true;
  cfg.log = print_line;
  struct pn_graph *g = NULL;
  struct pn_dataset ds;
  memset(&ds, 0, sizeof ds);
  struct pn_paf_report *rep = calloc(1, sizeof *rep);
  int rc = rep ? pn_onnx_load_file(&ctx, model, &g) : pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc && (rc = pn_graph_validate(&ctx, g))) pn_err_prefix(&ctx, "%s", model);
  if (!rc) rc = pn_dataset_load(&ctx, (!data || !strcmp(data, "fashion-mnist")) ? NULL : data, &ds);
  if (!rc) {
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rc = pn_paf_approximate(&ctx, &cfg, &ds, g, rep);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rc && rc != PN_ERR_INTERRUPTED) pn_err_prefix(&ctx, "%s", model);
  }
  if (!rc) rc = pn_onnx_save_file(&ctx, g, out);
  if (!rc) {
    printf("\n%-22s %10s %10s %9s\n", "stage", "val acc", "test acc", "seconds");
    printf("%-22s %10.4f %10s %9s\n", "original", rep->acc_val_original, "", "");
    for (int i = 0; i < rep->n_stages; i++) {
      char t[16] = "";
      if (rep->stages[i].acc_test >= 0) snprintf(t, sizeof t, "%.4f", rep->stages[i].acc_test);
      printf("%-22s %10.4f %10s %9.0f\n", rep->stages[i].name, rep->stages[i].acc_val, t, rep->stages[i].seconds);
    }
    printf("\nwrote %s: %d PAF nodes (%s), %d levels per PAF ReLU under CKKS; %.0f s wall, %.0f s CPU%s\n", out,
           rep->paf_nodes, pn_paf_form_name(cfg.form), pn_paf_relu_depth(cfg.form, true), rep->seconds,
           rep->cpu_seconds, rep->resumed ? " (all runs, resumed)" : "");
  }
  if (json && rep && (rc == PN_OK || rc == PN_ERR_INTERRUPTED)) {
    cJSON *o = pn_paf_report_json(rep);
    if (o) {
      cJSON_AddStringToObject(o, "model", model);
      cJSON_AddStringToObject(o, "status", rc ? "interrupted" : "ok");
      if (!rc) cJSON_AddStringToObject(o, "output", out);
      cJSON_AddStringToObject(o, "checkpoint", ckpt);
      int jr = pn_cli_report(&ctx, cmd, json, o);
      if (jr && !rc) rc = jr;
      cJSON_Delete(o);
    }
  }
  pn_graph_free(g);
  pn_dataset_free(&ds);
  free(rep);
  if (rc) {
    pn_cli_fail(cmd, &ctx);
    return rc == PN_ERR_INTERRUPTED ? 130 : PN_EXIT_FAIL;
  }
  return PN_EXIT_OK;
}

/* ---- export ---- */

static int cmd_export(int argc, char **argv) {
  const char *cmd = "paf export", *in = NULL, *out = NULL, *json = NULL;
  bool expand = false, fold = false;
  const struct pn_cli_opt opts[] = {
    {"--expand", NULL, PN_CLI_FLAG, &expand, NULL, "standard ONNX ops only (same float operations, same order)"},
    {"--fold", NULL, PN_CLI_FLAG, &fold, NULL, "fold static scales and ReLU's 1/2 where that is exact"},
    {"--output", "-o", PN_CLI_STR, &out, "FILE", "the rewritten model (required)"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "write a JSON report"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "MODEL.onnx (--expand | --fold) -o OUT.onnx [--json FILE]",
    "Rewrite a PAF model (ai.privnn PafRelu / PafMaxPool nodes):\n"
    "  --expand  as standard ONNX ops only (Abs, ReduceMax, Reciprocal, Mul, Add, Sub, Pad, Slice),\n"
    "            the same float operations in the same order, so ONNX Runtime gives the same\n"
    "            logits (scripts/paf-ort-check.sh checks it)\n"
    "  --fold    fold static scales and ReLU's 1/2 into the neighbouring linear layers where that\n"
    "            is exact (a PAF then needs no scalar product before its first stage)\n"
    "Both may be given (folded first).",
    "privnn paf export lenet5-paf.onnx --expand -o lenet5-paf-std.onnx", opts, "MODEL.onnx", &in, 1, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (!out) return pn_cli_usage(cmd, "no output given (-o OUT.onnx)");
  if (!expand && !fold) return pn_cli_usage(cmd, "nothing to do: give --expand and/or --fold");
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  struct pn_paf_fold_report fr = {0};
  int count = 0;
  int rc = pn_onnx_load_file(&ctx, in, &g);
  if (!rc && (rc = pn_graph_infer_shapes(&ctx, g))) pn_err_prefix(&ctx, "%s", in);
  if (!rc && fold && (rc = pn_paf_fold_scales(&ctx, g, &fr))) pn_err_prefix(&ctx, "%s", in);
  if (!rc && expand && (rc = pn_paf_expand(&ctx, g, &count))) pn_err_prefix(&ctx, "%s", in);
  if (!rc && (rc = pn_graph_validate(&ctx, g))) pn_err_prefix(&ctx, "%s: rewritten model", in);
  if (!rc) rc = pn_onnx_save_file(&ctx, g, out);
  if (!rc) {
    if (fold)
      printf("folded: %d of %d PAF nodes at scale 1, %d PAF ReLUs at gain 1\n", fr.unit_scale, fr.paf_nodes,
             fr.unit_gain);
    if (expand) printf("expanded %d PAF nodes into %d standard nodes\n", count, g->n_nodes);
    printf("wrote %s\n", out);
  }
  if (!rc && json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", in);
    cJSON_AddStringToObject(o, "output", out);
    cJSON_AddNumberToObject(o, "expanded", count);
    cJSON_AddNumberToObject(o, "nodes", g->n_nodes);
    cJSON_AddNumberToObject(o, "paf_nodes_folded", fr.paf_nodes);
    cJSON_AddNumberToObject(o, "unit_scale", fr.unit_scale);
    cJSON_AddNumberToObject(o, "unit_gain", fr.unit_gain);
    rc = pn_cli_report(&ctx, cmd, json, o);
    cJSON_Delete(o);
  }
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

/* ---- info ---- */

static int cmd_info(int argc, char **argv) {
  const char *cmd = "paf info", *in = NULL;
  const struct pn_cli_opt opts[] = {{0}};
  const struct pn_cli_spec spec = {
    cmd, "MODEL.onnx",
    "Every PAF node of MODEL: kind, form, scale (static or dynamic), gain, window, and the CKKS\n"
    "levels it costs.",
    "privnn paf info lenet5-paf.onnx", opts, "MODEL.onnx", &in, 1, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  int rc = pn_onnx_load_file(&ctx, in, &g), n = 0, worst = 0;
  if (!rc && (rc = pn_graph_validate(&ctx, g))) pn_err_prefix(&ctx, "%s", in);
  for (int i = 0; !rc && i < g->n_nodes; i++) {
    struct pn_paf_node pn;
    if (pn_paf_node_kind(g->nodes[i]) < 0) continue;
    if ((rc = pn_paf_node_parse(&ctx, g, g->nodes[i], &pn))) {
      pn_err_prefix(&ctx, "%s", in);
      break;
    }
    if (!n++) printf("%-16s %-11s %-10s %10s %6s %7s %7s\n", "node", "op", "form", "scale", "gain", "window", "levels");
    float s = pn.scale ? ((const float *)pn.scale->data)[0] : 0;
    bool unit = s == 1.0f;
    int w = (int)(pn.k[0] * pn.k[1]);
    int lv = pn.kind == PN_PAF_RELU ? pn_paf_relu_depth(pn.form, unit) : pn_paf_maxpool_depth(pn.form, w, unit);
    if (lv > worst) worst = lv;
    char sc[32], wd[16] = "";
    if (pn.scale) snprintf(sc, sizeof sc, "%.5g", s);
    else snprintf(sc, sizeof sc, "dynamic");
    if (pn.kind == PN_PAF_MAXPOOL) snprintf(wd, sizeof wd, "%lldx%lld", (long long)pn.k[0], (long long)pn.k[1]);
    printf("%-16s %-11s %-10s %10s %6.3g %7s %7d\n", pn_node_label(g->nodes[i]), pn_paf_kind_op(pn.kind),
           pn_paf_form_name(pn.form), sc, pn.kind == PN_PAF_RELU ? pn.gain : 0.5, wd, lv);
  }
  if (!rc) {
    if (n) printf("%d PAF nodes; the deepest costs %d CKKS levels\n", n, worst);
    else printf("%s has no PAF nodes\n", in);
  }
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

int pn_cmd_paf(int argc, char **argv) {
  static const struct pn_cli_sub subs[] = {
    {"forms", cmd_forms, "the PAF forms: stages, degrees, CKKS depth, error on [-1, 1]"},
    {"approximate", cmd_approximate, "replace a model's ReLU/MaxPool by a form and recover accuracy"},
    {"export", cmd_export, "a PAF model with standard ONNX ops only (--expand), or scales folded"},
    {"info", cmd_info, "the PAF nodes of a model and the CKKS levels each costs"},
  };
  return pn_cli_dispatch("paf", subs, (int)(sizeof subs / sizeof *subs), argc, argv);
}
