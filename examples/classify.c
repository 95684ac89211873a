/* classify.c - classify Fashion-MNIST images with a trained model, as an application embedding
** privnn would: load the ONNX file, read the images, normalise them as the model was trained, run
** the plaintext executor batch by batch, count the right answers.
**
**   cc classify.c $(pkg-config --cflags --libs privnn) -o classify
**   ./classify models/cnn-s.onnx [IMAGES]
**
** Reads the validation split (Debian's dataset-fashion-mnist); prints the accuracy. Exits 1 on any
** error, and when the accuracy is below 80% (the shipped models reach 92-93%). */
#include <privnn/privnn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 100

int main(int argc, char **argv) {
  const char *model = argc > 1 ? argv[1] : "models/cnn-s.onnx";
  int64_t count = argc > 2 ? strtoll(argv[2], NULL, 10) : 1000;
  struct pn_ctx ctx = {0};
  struct pn_graph *g0 = NULL, *g = NULL;
  struct pn_exec *ex = NULL;
  struct pn_dataset ds;
  memset(&ds, 0, sizeof ds);
  int rc = pn_onnx_load_file(&ctx, model, &g0);
  if (rc == PN_OK) rc = pn_dataset_load(&ctx, NULL, &ds);
  if (rc == PN_OK) rc = pn_dataset_use_model_norm(&ctx, &ds, g0);
  /* the executor runs fixed shapes: the same graph with batch dim BATCH */
  if (rc == PN_OK && !(g = pn_graph_clone_batch(g0, BATCH))) rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  if (rc == PN_OK) rc = pn_exec_new(&ctx, g, NULL, &ex);
  if (count > ds.n[PN_SPLIT_VAL]) count = ds.n[PN_SPLIT_VAL];
  int64_t correct = 0, seen = 0;
  while (rc == PN_OK && seen + BATCH <= count) {
    int64_t idx[BATCH], dims[4] = {BATCH, 1, PN_FMNIST_SIDE, PN_FMNIST_SIDE};
    int32_t labels[BATCH];
    for (int i = 0; i < BATCH; i++) idx[i] = seen + i;
    struct pn_tensor *x = NULL, *logits = NULL;
    if ((rc = pn_tensor_create(&ctx, PN_DT_FLOAT, 4, dims, &x))) break;
    pn_dataset_batch(&ds, PN_SPLIT_VAL, idx, BATCH, 0, 0, NULL, x->data, labels);
    const struct pn_tensor *in = x;
    rc = pn_exec_run(&ctx, ex, &in, &logits);
    for (int i = 0; rc == PN_OK && i < BATCH; i++) {
      const float *z = (const float *)logits->data + i * PN_FMNIST_CLASSES;
      int best = 0;
      for (int k = 1; k < PN_FMNIST_CLASSES; k++)
        if (z[k] > z[best]) best = k;
      correct += best == labels[i];
    }
    pn_tensor_free(x);
    pn_tensor_free(logits);
    seen += BATCH;
  }
  if (rc == PN_OK && seen == 0) rc = pn_err(&ctx, PN_ERR_INVALID, "no images to classify");
  pn_exec_free(ex);
  pn_graph_free(g);
  pn_graph_free(g0);
  pn_dataset_free(&ds);
  if (rc) {
    fprintf(stderr, "classify: %s\n", pn_errmsg(&ctx));
    return 1;
  }
  double acc = (double)correct / (double)seen;
  printf("%s: %lld of %lld validation images right (%.2f%%)\n", model, (long long)correct,
         (long long)seen, 100 * acc);
  return acc >= 0.80 ? 0 : 1;
}
