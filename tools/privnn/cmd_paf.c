/* cmd_paf.c - `privnn paf forms | approximate | export`: SmartPAF polynomial activations. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "graph/paf.h"
#include "util/report.h"
#include "util/status.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: privnn paf forms [--json FILE]\n"
          "       privnn paf approximate MODEL.onnx --form F --data fashion-mnist -o OUT.onnx [options]\n"
          "       privnn paf export MODEL.onnx --expand -o OUT.onnx\n\n"
          "SmartPAF: ReLU and MaxPool replaced by compositions of low-degree odd polynomials (PAFs)\n"
          "that CKKS evaluates, and the training that wins the accuracy back.\n\n"
          "  forms         the PAF forms: stages, degrees, CKKS depth, error on [-1, 1]\n"
          "  approximate   replace a model's ReLU/MaxPool by a form and recover accuracy\n"
          "  export        write a PAF model with standard ONNX ops only (--expand)\n\n"
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
  return pn_cli_usage("paf", "unknown subcommand '%s' (forms, approximate, export)", sub);
}
