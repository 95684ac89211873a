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

static void usage(FILE *f) {
  fprintf(f,
          "usage: privnn paf forms [--json FILE]\n"
          "       privnn paf approximate MODEL.onnx --form F --data fashion-mnist -o OUT.onnx [options]\n"
          "       privnn paf export MODEL.onnx --expand -o OUT.onnx\n"
          "       privnn paf info MODEL.onnx\n\n"
          "SmartPAF: ReLU and MaxPool replaced by compositions of low-degree odd polynomials (PAFs)\n"
          "that CKKS evaluates, and the training that wins the accuracy back.\n\n"
          "  forms         the PAF forms: stages, degrees, CKKS depth, error on [-1, 1]\n"
          "  approximate   replace a model's ReLU/MaxPool by a form and recover accuracy\n"
          "  export        write a PAF model with standard ONNX ops only (--expand), or scales folded\n"
          "  info          the PAF nodes of a model and the CKKS levels each costs\n\n"
          "privnn paf COMMAND --help for details.\n");
}

static void forms_usage(FILE *f) {
  fprintf(f,
          "usage: privnn paf forms [--json FILE]\n\n"
          "Print every PAF form: its stages (applied first to last), the stage degrees, the degree of\n"
          "the composite sign polynomial and the sum of the stage degrees (the paper's tables print\n"
          "the latter), the CKKS depth of the sign, of one PAF ReLU and of one 2x2 PAF MaxPool with a\n"
          "unit (folded) scale, the max ReLU error on [-1, 1] with the base coefficients, and the\n"
          "largest |sign| on [1, 1.5] (1 means bounded past the scale; large means it explodes).\n");
}

static int cmd_forms(int argc, char **argv) {
  const char *cmd = "paf forms", *json = NULL, *v;
  struct pn_cli_args a = {argc, argv, 1, cmd, 0};
  for (; a.i < argc; a.i++) {
    if (pn_cli_flag(&a, "--help", "-h")) {
      forms_usage(stdout);
      return PN_EXIT_OK;
    }
    if (pn_cli_opt(&a, "--json", NULL, &v)) {
      if (a.err) return a.err;
      json = v;
    } else {
      return pn_cli_usage(cmd, "unexpected argument '%s'", argv[a.i]);
    }
  }
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
    cJSON_AddStringToObject(r, "command", "paf forms");
    cJSON_AddItemToObject(r, "forms", arr);
    int rc = pn_json_write(&ctx, json, r, 0644);
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

static void approx_usage(FILE *f) {
  struct pn_paf_cfg d;
  pn_paf_cfg_defaults(&d, PN_PAF_F1G2);
  fprintf(f,
          "usage: privnn paf approximate MODEL.onnx --form F --data fashion-mnist -o OUT.onnx [options]\n\n"
          "Replace MODEL's Relu and MaxPool nodes by PAFs of form F and win the accuracy back.\n"
          "Selection and early stopping read the validation split only; the test split is read only\n"
          "with --eval-test, once per stage model.\n\n"
          "  --form F            %s (privnn paf forms)\n"
          "  --data D            fashion-mnist (from %s)\n"
          "                      or a folder with the four .gz files\n"
          "  --techniques T      comma list (default ct,pa,at,ss,sstune):\n"
          "                        baseline  every site at once, base coefficients, fine-tune all (lr %g)\n"
          "                        ct        coefficient tuning on sampled inputs of the original model\n"
          "                        pa,at     progressive approximation with alternate training\n"
          "                        ss        static scales (max |x| over %d training images)\n"
          "                        sstune    privnn's fine-tune under the static scales\n"
          "  --epochs N          AT epochs per group (default %d; the paper: 20)\n"
          "  --at-images N       training images per AT epoch (default %d)\n"
          "  --at-groups N       at most N AT groups per site (default %d)\n"
          "  --lr-coef X         AT learning rate of coefficients (default %g)\n"
          "  --lr-weight X       AT learning rate of weights (default %g)\n"
          "  --ct-images N       training images sampled for CT (default %d)\n"
          "  --ct-epochs N       CT epochs (default %d)\n"
          "  --ct-cover X        CT: weight of the error spread over [-1, 1] (default %g; 0 = the paper)\n"
          "  --base-epochs N     baseline fine-tune epochs (default %d) of --base-images N (default %d)\n"
          "  --ss-images N       training images scanned for the static scales (default %d)\n"
          "  --bn-images N       images to recompute BN statistics of an SWA average (default %d)\n"
          "  --tune-epochs N     SS-aware tune epochs (default %d) of --tune-images N (default %d)\n"
          "  --batch B           training batch (default %d)\n"
          "  --seed S            seed of sampling, shuffling and augmentation (default 1)\n"
          "  --no-fold           keep static scales and ReLU's 1/2 in the PAF nodes\n"
          "  --eval-test         also report test accuracy (once per stage model)\n"
          "  --max-val N         use only the first N validation images (quick runs)\n"
          "  --threads T         OpenMP/OpenBLAS threads\n"
          "  --ckpt FILE         checkpoint after every unit of work (default OUT.ckpt)\n"
          "  --resume FILE       continue an interrupted run (same options)\n"
          "  --json FILE         write the report\n"
          "  -o FILE             the approximated model (ONNX with ai.privnn nodes)\n\n"
          "Ctrl-C stops after the current batch and leaves the last checkpoint intact (exit 130).\n",
          pn_paf_form_list(), PN_FMNIST_DIR, d.base_lr, d.ss_images, d.at_epochs, d.at_images, d.at_groups,
          d.at_lr_coef, d.at_lr_weight, d.ct_images, d.ct_epochs, d.ct_cover, d.base_epochs, d.base_images, d.ss_images, d.bn_images, d.tune_epochs, d.tune_images, d.batch);
}

static void print_line(void *user, const char *line) {
  (void)user;
  printf("%s\n", line);
  fflush(stdout);
}

static int cmd_approximate(int argc, char **argv) {
  const char *cmd = "paf approximate", *model = NULL, *out = NULL, *data = NULL, *json = NULL, *form_s = NULL,
             *tech_s = "ct,pa,at,ss,sstune", *ckpt = NULL, *resume = NULL, *v;
  struct pn_paf_cfg cfg;
  pn_paf_cfg_defaults(&cfg, PN_PAF_F1G2);
  int64_t n;
  double x;
  struct pn_cli_args a = {argc, argv, 1, cmd, 0};
  /* integer options: name, target, lo, hi */
  struct { const char *name; int *dst; int64_t lo, hi; } ints[] = {
      {"--epochs", &cfg.at_epochs, 1, 1000},          {"--at-images", &cfg.at_images, 1, 1000000},
      {"--at-groups", &cfg.at_groups, 1, 1000},       {"--ct-images", &cfg.ct_images, 1, 1000000},
      {"--ct-epochs", &cfg.ct_epochs, 1, 10000},      {"--base-epochs", &cfg.base_epochs, 0, 1000},
      {"--tune-epochs", &cfg.tune_epochs, 0, 1000},   {"--tune-images", &cfg.tune_images, 1, 1000000},
      {"--batch", &cfg.batch, 1, 4096},               {"--threads", &cfg.threads, 1, 256},
      {"--ss-images", &cfg.ss_images, 1, 1000000},    {"--bn-images", &cfg.bn_images, 1, 1000000},
      {"--base-images", &cfg.base_images, 1, 1000000},
  };
  struct { const char *name; float *dst; } floats[] = {{"--lr-coef", &cfg.at_lr_coef}, {"--lr-weight", &cfg.at_lr_weight},
                                                       {"--ct-cover", &cfg.ct_cover}};
  for (; a.i < argc; a.i++) {
    if (pn_cli_flag(&a, "--help", "-h")) {
      approx_usage(stdout);
      return PN_EXIT_OK;
    }
    if (pn_cli_flag(&a, "--no-fold", NULL)) {
      cfg.fold = false;
      continue;
    }
    if (pn_cli_flag(&a, "--eval-test", NULL)) {
      cfg.eval_test = true;
      continue;
    }
    bool hit = false;
    for (size_t k = 0; !hit && k < sizeof ints / sizeof *ints; k++)
      if (pn_cli_opt(&a, ints[k].name, NULL, &v)) {
        hit = true;
        if (a.err) return a.err;
        if (pn_cli_i64(cmd, ints[k].name, v, ints[k].lo, ints[k].hi, &n)) return PN_EXIT_USAGE;
        *ints[k].dst = (int)n;
      }
    for (size_t k = 0; !hit && k < sizeof floats / sizeof *floats; k++)
      if (pn_cli_opt(&a, floats[k].name, NULL, &v)) {
        hit = true;
        if (a.err) return a.err;
        char *end;
        x = strtod(v, &end);
        if (*end || end == v || !(x >= 0) || x > 10) return pn_cli_usage(cmd, "%s: '%s' is not a number in [0, 10]", floats[k].name, v);
        *floats[k].dst = (float)x;
      }
    if (hit) continue;
    if (pn_cli_opt(&a, "--form", NULL, &v)) form_s = v;
    else if (pn_cli_opt(&a, "--data", NULL, &v)) data = v;
    else if (pn_cli_opt(&a, "--techniques", NULL, &v)) tech_s = v;
    else if (pn_cli_opt(&a, "--output", "-o", &v)) out = v;
    else if (pn_cli_opt(&a, "--json", NULL, &v)) json = v;
    else if (pn_cli_opt(&a, "--ckpt", NULL, &v)) ckpt = v;
    else if (pn_cli_opt(&a, "--resume", NULL, &v)) resume = v;
    else if (pn_cli_opt(&a, "--seed", NULL, &v)) {
      if (!a.err && pn_cli_u64(cmd, "--seed", v, &cfg.seed)) return PN_EXIT_USAGE;
    } else if (pn_cli_opt(&a, "--max-val", NULL, &v)) {
      if (!a.err && pn_cli_i64(cmd, "--max-val", v, 1, PN_FMNIST_VAL, &cfg.max_val)) return PN_EXIT_USAGE;
    } else if (argv[a.i][0] == '-') {
      return pn_cli_usage(cmd, "unknown option '%s'", argv[a.i]);
    } else if (model) {
      return pn_cli_usage(cmd, "more than one model ('%s', '%s')", model, argv[a.i]);
    } else {
      model = argv[a.i];
      continue;
    }
    if (a.err) return a.err;
  }
  if (!model) return pn_cli_usage(cmd, "no model given");
  if (!out) return pn_cli_usage(cmd, "no output given (-o OUT.onnx)");
  if (!form_s) return pn_cli_usage(cmd, "no form given (--form: %s)", pn_paf_form_list());
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
      cJSON_AddStringToObject(o, "command", "paf approximate");
      cJSON_AddStringToObject(o, "model", model);
      cJSON_AddStringToObject(o, "status", rc ? "interrupted" : "ok");
      if (!rc) cJSON_AddStringToObject(o, "output", out);
      cJSON_AddStringToObject(o, "checkpoint", ckpt);
      int jr = pn_json_write(&ctx, json, o, 0644);
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

static void export_usage(FILE *f) {
  fprintf(f,
          "usage: privnn paf export MODEL.onnx (--expand | --fold) -o OUT.onnx [--json FILE]\n\n"
          "Rewrite a PAF model (ai.privnn PafRelu / PafMaxPool nodes):\n"
          "  --expand   as standard ONNX ops only (Abs, ReduceMax, Reciprocal, Mul, Add, Sub, Pad, Slice),\n"
          "             the same float operations in the same order, so ONNX Runtime gives the same\n"
          "             logits (scripts/paf-ort-check.sh checks it)\n"
          "  --fold     fold static scales and ReLU's 1/2 into the neighbouring linear layers where that\n"
          "             is exact (a PAF then needs no scalar product before its first stage)\n"
          "Both may be given (folded first).\n");
}

static int cmd_export(int argc, char **argv) {
  const char *cmd = "paf export", *in = NULL, *out = NULL, *json = NULL, *v;
  bool expand = false, fold = false;
  struct pn_cli_args a = {argc, argv, 1, cmd, 0};
  for (; a.i < argc; a.i++) {
    if (pn_cli_flag(&a, "--help", "-h")) {
      export_usage(stdout);
      return PN_EXIT_OK;
    }
    if (pn_cli_flag(&a, "--expand", NULL)) expand = true;
    else if (pn_cli_flag(&a, "--fold", NULL)) fold = true;
    else if (pn_cli_opt(&a, "--output", "-o", &v)) out = v;
    else if (pn_cli_opt(&a, "--json", NULL, &v)) json = v;
    else if (argv[a.i][0] == '-') return pn_cli_usage(cmd, "unknown option '%s'", argv[a.i]);
    else if (in) return pn_cli_usage(cmd, "more than one model ('%s', '%s')", in, argv[a.i]);
    else in = argv[a.i];
    if (a.err) return a.err;
  }
  if (!in) return pn_cli_usage(cmd, "no model given");
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
    cJSON_AddStringToObject(o, "command", "paf export");
    cJSON_AddStringToObject(o, "model", in);
    cJSON_AddStringToObject(o, "output", out);
    cJSON_AddNumberToObject(o, "expanded", count);
    cJSON_AddNumberToObject(o, "nodes", g->n_nodes);
    cJSON_AddNumberToObject(o, "paf_nodes_folded", fr.paf_nodes);
    cJSON_AddNumberToObject(o, "unit_scale", fr.unit_scale);
    cJSON_AddNumberToObject(o, "unit_gain", fr.unit_gain);
    rc = pn_json_write(&ctx, json, o, 0644);
    cJSON_Delete(o);
  }
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

/* ---- info ---- */

static int cmd_info(int argc, char **argv) {
  const char *cmd = "paf info", *in = NULL;
  struct pn_cli_args a = {argc, argv, 1, cmd, 0};
  for (; a.i < argc; a.i++) {
    if (pn_cli_flag(&a, "--help", "-h")) {
      printf("usage: privnn paf info MODEL.onnx\n\nEvery PAF node of MODEL: kind, form, scale (static or "
             "dynamic), gain, window, and the CKKS levels it costs.\n");
      return PN_EXIT_OK;
    }
    if (argv[a.i][0] == '-') return pn_cli_usage(cmd, "unknown option '%s'", argv[a.i]);
    if (in) return pn_cli_usage(cmd, "more than one model");
    in = argv[a.i];
  }
  if (!in) return pn_cli_usage(cmd, "no model given");
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
  if (argc < 2) {
    usage(stderr);
    return PN_EXIT_USAGE;
  }
  const char *sub = argv[1];
  if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
    usage(stdout);
    return PN_EXIT_OK;
  }
  if (!strcmp(sub, "forms")) return cmd_forms(argc - 1, argv + 1);
  if (!strcmp(sub, "approximate")) return cmd_approximate(argc - 1, argv + 1);
  if (!strcmp(sub, "export")) return cmd_export(argc - 1, argv + 1);
  if (!strcmp(sub, "info")) return cmd_info(argc - 1, argv + 1);
  return pn_cli_usage("paf", "unknown subcommand '%s' (forms, approximate, export, info)", sub);
}
