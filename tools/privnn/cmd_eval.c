/* cmd_eval.c - `privnn eval`: top-1 accuracy, loss and confusion matrix of an ONNX classifier. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
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

int pn_cmd_eval(int argc, char **argv) {
  const char *cmd = "eval", *model = NULL, *data = NULL, *json = NULL;
  int split_i = 0, engine_i = 0;
  int64_t batch = 250, limit = 0;
  char data_help[160];
  snprintf(data_help, sizeof data_help, "fashion-mnist (from %s) or a folder of the same four IDX files",
           PN_FMNIST_DIR);
  int64_t threads = 0;
  const struct pn_cli_opt opts[] = {
    {"--data", NULL, PN_CLI_STR, &data, "D", data_help, 0, 0, NULL, "fashion-mnist"},
    {"--split", NULL, PN_CLI_CHOICE, &split_i, "S", "the test split is for final reporting only", 0, 0, "val|test"},
    {"--batch", NULL, PN_CLI_INT, &batch, "B", "batch size", 1, 65536},
    {"--limit", NULL, PN_CLI_INT, &limit, "N", "only the first N images of the split", 0, 1e9, NULL, "all"},
    {"--engine", NULL, PN_CLI_CHOICE, &engine_i, "E", "exec: the plaintext executor; nn: the training engine",
     0, 0, "exec|nn"},
    {"--threads", NULL, PN_CLI_INT, &threads, "T", "OpenMP and OpenBLAS threads", 1, 1024, NULL, "the libraries' own"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "write the report (accuracy is a fraction in [0, 1])"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "MODEL.onnx --data fashion-mnist [--split val|test]",
    "Run MODEL (input [N,C,H,W] of the dataset's images, output [N,K] logits with K at least\n"
    "the dataset's classes) over a split and report top-1 accuracy, mean cross-entropy loss,\n"
    "the confusion matrix and images/s. The splits are train's (see privnn train --help).",
    "privnn eval models/cnn-s.onnx --data fashion-mnist --split val", opts, "model", &model, 1, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  pn_cli_tune_process();
  pn_cli_set_threads((int)threads);
  const char *split_s = split_i ? "test" : "val", *engine = engine_i ? "nn" : "exec";
  int split = split_i ? PN_SPLIT_TEST : PN_SPLIT_VAL;
  if (data && strcmp(data, "fashion-mnist") && access(data, F_OK))
    return pn_cli_usage(cmd, "--data '%s': not 'fashion-mnist' nor a folder", data);
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  struct pn_dataset ds;
  memset(&ds, 0, sizeof ds);
  int rc = pn_onnx_load_file(&ctx, model, &g);
  if (!rc) rc = pn_dataset_load(&ctx, (!data || !strcmp(data, "fashion-mnist")) ? NULL : data, &ds);
  int64_t n = ds.n[split];
  if (limit > 0 && limit < n) n = limit;
  double loss = 0, acc = 0, t0 = pn_now();
  const int K = ds.classes;
  int64_t *conf = NULL;
  if (!rc && !(conf = calloc((size_t)K * (size_t)K, sizeof *conf))) rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc && (rc = pn_dataset_use_model_norm(&ctx, &ds, g))) pn_err_prefix(&ctx, "%s", model);
  if (!rc && (rc = pn_dataset_check_model(&ctx, g, &ds))) pn_err_prefix(&ctx, "%s", model);
  if (!rc) {
    if (!strcmp(engine, "exec")) {
      struct pn_eval_opts eo = {.n = n, .batch = (int)batch, .progress = true, .conf = conf};
      struct pn_eval_result *er = calloc(1, sizeof *er);
      rc = er ? pn_evaluate_exec(&ctx, g, &ds, (enum pn_split)split, &eo, er) : pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
      if (!rc) {
        loss = er->loss;
        acc = er->acc;
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
    printf("%s on %s %s (%lld images): top-1 accuracy %.4f (%.2f%%), loss %.4f, %.0f images/s\n",
           model, ds.name, split_s, (long long)n, acc, 100 * acc, loss, dt > 0 ? (double)n / dt : 0.0);
    /* Fashion-MNIST's class names; another folder's classes are numbers */
    const int named = !strcmp(ds.name, "fashion-mnist") && K == PN_FMNIST_CLASSES;
    printf("\nconfusion matrix (rows: true class, columns: predicted)\n%*s", named ? 10 : 4, "");
    int64_t in_matrix = 0;
    for (int j = 0; j < K; j++) printf(" %5d", j);
    printf("\n");
    for (int i = 0; i < K; i++) {
      if (named) printf("%d %-8s", i, class_names[i]);
      else printf("%4d", i);
      for (int j = 0; j < K; j++) {
        printf(" %5lld", (long long)conf[(size_t)i * K + j]);
        in_matrix += conf[(size_t)i * K + j];
      }
      printf("\n");
    }
    if (in_matrix < n)
      printf("%lld predictions name a class >= %d, which the dataset's labels never use (counted wrong)\n",
             (long long)(n - in_matrix), K);
  }
  if (!rc && json) {
    cJSON *o = cJSON_CreateObject(), *cm = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "dataset", ds.name);
    cJSON_AddNumberToObject(o, "classes", K);
    cJSON_AddStringToObject(o, "split", split_s);
    cJSON_AddStringToObject(o, "engine", engine);
    cJSON_AddNumberToObject(o, "images", (double)n);
    cJSON_AddNumberToObject(o, "accuracy", acc);
    cJSON_AddNumberToObject(o, "loss", loss);
    cJSON_AddNumberToObject(o, "seconds", dt);
    cJSON_AddNumberToObject(o, "images_per_s", dt > 0 ? (double)n / dt : 0.0);
    cJSON_AddNumberToObject(o, "threads", omp_get_max_threads());
    cJSON_AddStringToObject(o, "omp_wait_policy", pn_cli_wait_policy());
    for (int i = 0; i < K; i++) {
      cJSON *row = cJSON_CreateArray();
      for (int j = 0; j < K; j++) cJSON_AddItemToArray(row, cJSON_CreateNumber((double)conf[(size_t)i * K + j]));
      cJSON_AddItemToArray(cm, row);
    }
    cJSON_AddItemToObject(o, "confusion_matrix", cm);
    rc = pn_cli_report(&ctx, "eval", json, o);
    cJSON_Delete(o);
  }
  if (rc) fprintf(stderr, "privnn eval: %s\n", pn_errmsg(&ctx));
  pn_graph_free(g);
  pn_dataset_free(&ds);
  free(conf);
  return rc ? 1 : 0;
}
