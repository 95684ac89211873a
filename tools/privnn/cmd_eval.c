/* cmd_eval.c - `privnn eval`: top-1 accuracy, loss and confusion matrix of an ONNX classifier. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "graph/exec.h"
#include "graph/ir.h"
#include "graph/onnx.h"
#include "nn/arch.h"
#include "nn/autograd.h"
#include "nn/dataset.h"
#include "nn/train.h"
#include "util/util.h"

static const char *const class_names[PN_FMNIST_CLASSES] = {
    "T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"};

static void usage(FILE *f) {
  fprintf(f,
          "usage: privnn eval MODEL.onnx --data fashion-mnist [--split val|test] [options]\n\n"
          "Run MODEL (input [N,1,28,28], output [N,10] logits) over a split and report top-1\n"
          "accuracy, mean cross-entropy loss, the confusion matrix and images/s.\n\n"
          "  --data D        fashion-mnist (from %s) or a folder with the four .gz files\n"
          "  --split S       val (default) or test; the test split is for final reporting only\n"
          "  --batch B       batch size (default 250)\n"
          "  --limit N       only the first N images of the split\n"
          "  --engine E      exec (the plaintext executor, default) or nn (the training engine)\n"
          "  --json FILE     write the report (accuracy is a fraction in [0, 1])\n",
          PN_FMNIST_DIR);
}

int pn_cmd_eval(int argc, char **argv) {
  const char *model = NULL, *data = NULL, *split_s = "val", *json = NULL, *engine = "exec";
  int batch = 250;
  int64_t limit = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (a[0] != '-') {
      if (model) {
        fprintf(stderr, "privnn eval: one model only ('%s' and '%s')\n", model, a);
        return 2;
      }
      model = a;
      continue;
    }
    if (!v) {
      fprintf(stderr, "privnn eval: %s needs a value (see --help)\n", a);
      return 2;
    }
    char *end = NULL;
    if (!strcmp(a, "--data")) data = v;
    else if (!strcmp(a, "--split")) split_s = v;
    else if (!strcmp(a, "--json")) json = v;
    else if (!strcmp(a, "--engine")) engine = v;
    else if (!strcmp(a, "--batch")) batch = (int)strtol(v, &end, 10);
    else if (!strcmp(a, "--limit")) limit = strtoll(v, &end, 10);
    else {
      fprintf(stderr, "privnn eval: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (end && (*end || end == v)) {
      fprintf(stderr, "privnn eval: %s: '%s' is not a number\n", a, v);
      return 2;
    }
    i++;
  }
  int split = pn_split_parse(split_s);
  if (!model || split < 0 || split == PN_SPLIT_TRAIN || batch < 1 || batch > 65536 || limit < 0 ||
      (strcmp(engine, "exec") && strcmp(engine, "nn"))) {
    fprintf(stderr, "privnn eval: need MODEL.onnx, --split val|test, --batch >= 1, --engine exec|nn "
                    "(see --help)\n");
    return 2;
  }
  if (data && strcmp(data, "fashion-mnist") && access(data, F_OK)) {
    fprintf(stderr, "privnn eval: --data '%s': not 'fashion-mnist' nor a folder\n", data);
    return 2;
  }
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  struct pn_dataset ds;
  memset(&ds, 0, sizeof ds);
  int rc = pn_onnx_load_file(&ctx, model, &g);
  if (!rc) rc = pn_dataset_load(&ctx, (!data || !strcmp(data, "fashion-mnist")) ? NULL : data, &ds);
  int64_t n = ds.n[split];
  if (limit > 0 && limit < n) n = limit;
  double loss = 0, acc = 0, t0 = pn_now();
  int64_t conf[PN_FMNIST_CLASSES][PN_FMNIST_CLASSES];
  memset(conf, 0, sizeof conf);
  if (!rc && (rc = pn_dataset_use_model_norm(&ctx, &ds, g))) pn_err_prefix(&ctx, "%s", model);
  if (!rc) {
    if (!strcmp(engine, "exec")) {
      struct pn_eval_opts eo = {.n = n, .batch = batch};
      struct pn_eval_result *er = calloc(1, sizeof *er);
      rc = er ? pn_evaluate_exec(&ctx, g, &ds, (enum pn_split)split, &eo, er) : pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
      if (!rc) {
        loss = er->loss;
        acc = er->acc;
        memcpy(conf, er->conf, sizeof conf);
      }
      free(er);
    } else {
      struct pn_ag *ag = NULL;
      struct pn_ag_opts ao = {.max_batch = batch};
      rc = pn_ag_new(&ctx, g, &ao, &ag);
      if (!rc) rc = pn_evaluate(&ctx, ag, &ds, (enum pn_split)split, n, batch, &loss, &acc, conf);
      pn_ag_free(ag);
    }
    if (rc) pn_err_prefix(&ctx, "%s", model);
  }
  double dt = pn_now() - t0;
  if (!rc) {
    printf("%s on fashion-mnist %s (%lld images): top-1 accuracy %.4f (%.2f%%), loss %.4f, %.0f images/s\n",
           model, split_s, (long long)n, acc, 100 * acc, loss, dt > 0 ? (double)n / dt : 0.0);
    printf("\nconfusion matrix (rows: true class, columns: predicted)\n%10s", "");
    for (int j = 0; j < PN_FMNIST_CLASSES; j++) printf(" %5d", j);
    printf("\n");
    for (int i = 0; i < PN_FMNIST_CLASSES; i++) {
      printf("%d %-8s", i, class_names[i]);
      for (int j = 0; j < PN_FMNIST_CLASSES; j++) printf(" %5lld", (long long)conf[i][j]);
      printf("\n");
    }
  }
  if (!rc && json) {
    cJSON *o = cJSON_CreateObject(), *cm = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "command", "eval");
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "dataset", "fashion-mnist");
    cJSON_AddStringToObject(o, "split", split_s);
    cJSON_AddStringToObject(o, "engine", engine);
    cJSON_AddNumberToObject(o, "images", (double)n);
    cJSON_AddNumberToObject(o, "accuracy", acc);
    cJSON_AddNumberToObject(o, "loss", loss);
    cJSON_AddNumberToObject(o, "seconds", dt);
    cJSON_AddNumberToObject(o, "images_per_s", dt > 0 ? (double)n / dt : 0.0);
    for (int i = 0; i < PN_FMNIST_CLASSES; i++) {
      cJSON *row = cJSON_CreateArray();
      for (int j = 0; j < PN_FMNIST_CLASSES; j++) cJSON_AddItemToArray(row, cJSON_CreateNumber((double)conf[i][j]));
      cJSON_AddItemToArray(cm, row);
    }
    cJSON_AddItemToObject(o, "confusion_matrix", cm);
    rc = pn_json_write(&ctx, json, o, 0644);
    cJSON_Delete(o);
  }
  if (rc) fprintf(stderr, "privnn eval: %s\n", pn_errmsg(&ctx));
  pn_graph_free(g);
  pn_dataset_free(&ds);
  return rc ? 1 : 0;
}
