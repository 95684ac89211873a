/* test_train.c - optimisers and schedules against hand computation, a short real training run,
** checkpoint/resume/interrupt, and the exported ONNX evaluated by the executor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/exec.h"
#include "graph/ir.h"
#include "graph/onnx.h"
#include "nn/arch.h"
#include "nn/autograd.h"
#include "nn/dataset.h"
#include "nn/optim.h"
#include "nn/train.h"
#include "util/util.h"

static char g_dir[256];

/* y = x * w (MatMul [1,3] x [3,1]) → the gradient of w is x * dy: fully under the test's control. */
static struct pn_graph *tiny_graph(void) {
  struct pn_graph *g = pn_graph_new();
  int64_t xd[2] = {-1, 3}, wd[2] = {3, 1}, bd[1] = {1};
  pn_graph_add_input(g, "x", PN_DT_FLOAT, 2, xd);
  struct pn_tensor *w = pn_graph_new_init(g, "w", PN_DT_FLOAT, 2, wd);
  struct pn_tensor *b = pn_graph_new_init(g, "b", PN_DT_FLOAT, 1, bd);
  float *wp = w->data;
  wp[0] = 1.0f, wp[1] = -2.0f, wp[2] = 0.5f;
  ((float *)b->data)[0] = 0.25f;
  const char *in[2] = {"x", "w"}, *in2[2] = {"xw", "b"}, *o1 = "xw", *o2 = "y";
  pn_graph_add_node(g, "MatMul", "mm", 2, in, 1, &o1);
  pn_graph_add_node(g, "Add", "add", 2, in2, 1, &o2);
  pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL);
  return g;
}

static void run_optimiser(enum pn_opt_kind kind, bool nesterov, bool freeze_b) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = tiny_graph();
  struct pn_ag *ag;
  struct pn_ag_opts ao = {.max_batch = 1};
  assert_int_equal(pn_ag_new(&ctx, g, &ao, &ag), PN_OK);
  struct pn_optim_cfg c = pn_optim_defaults(kind);
  c.lr = 0.1f;
  c.momentum = 0.9f;
  c.nesterov = nesterov;
  c.weight_decay = 0.01f;
  c.sched = PN_SCHED_CONST;
  struct pn_optim *opt;
  assert_int_equal(pn_optim_new(&ctx, &c, ag, &opt), PN_OK);
  if (freeze_b) assert_int_equal(pn_optim_set_trainable_matching(opt, "b", false), 1);
  /* reference in double: w (decayed, rank 2) and b (not decayed) */
  double w[3] = {1, -2, 0.5}, b = 0.25, mw[3] = {0}, vw[3] = {0}, mb = 0, vb = 0;
  const float x[3] = {0.5f, -1.0f, 2.0f};
  const float dys[3] = {1.0f, -0.5f, 2.0f};
  for (int t = 1; t <= 3; t++) {
    const float *y;
    assert_int_equal(pn_ag_forward(&ctx, ag, x, 1, true, &y), PN_OK);
    pn_ag_set_output_grad(ag, &dys[t - 1]);
    assert_int_equal(pn_ag_backward(&ctx, ag), PN_OK);
    pn_optim_step(opt);
    double dy = dys[t - 1];
    for (int i = 0; i <= 3; i++) {
      bool is_b = i == 3;
      if (is_b && freeze_b) continue;
      double *p = is_b ? &b : &w[i], *m = is_b ? &mb : &mw[i], *v = is_b ? &vb : &vw[i];
      double gr = is_b ? dy : x[i] * dy, wd = is_b ? 0 : 0.01;
      if (kind == PN_OPT_SGD) {
        gr += wd * *p;
        *m = 0.9 * *m + gr;
        *p -= 0.1 * (nesterov ? gr + 0.9 * *m : *m);
      } else {
        if (kind == PN_OPT_ADAM) gr += wd * *p;
        *m = 0.9 * *m + 0.1 * gr;
        *v = 0.999 * *v + 0.001 * gr * gr;
        double mh = *m / (1 - pow(0.9, t)), vh = *v / (1 - pow(0.999, t));
        if (kind == PN_OPT_ADAMW) *p -= 0.1 * wd * *p;
        *p -= 0.1 * mh / (sqrt(vh) + 1e-8);
      }
    }
  }
  const float *wp = pn_graph_find_init(g, "w")->data, *bp = pn_graph_find_init(g, "b")->data;
  for (int i = 0; i < 3; i++) assert_float_equal(wp[i], w[i], 1e-5);
  assert_float_equal(bp[0], freeze_b ? 0.25 : b, 1e-5);
  pn_optim_free(opt);
  pn_ag_free(ag);
  pn_graph_free(g);
}

static void test_optimisers(void **state) {
  run_optimiser(PN_OPT_SGD, false, false);
  run_optimiser(PN_OPT_SGD, true, false);
  run_optimiser(PN_OPT_SGD, true, true);
  run_optimiser(PN_OPT_ADAM, false, false);
  run_optimiser(PN_OPT_ADAMW, false, false);
  run_optimiser(PN_OPT_ADAMW, false, true);
}

static void test_schedules(void **state) {
  struct pn_optim_cfg c = pn_optim_defaults(PN_OPT_SGD);
  c.lr = 1.0f;
  c.sched = PN_SCHED_COSINE;
  c.warmup_steps = 10;
  c.total_steps = 110;
  assert_float_equal(pn_optim_lr_at(&c, 0), 0.1, 1e-6);   /* linear warm-up */
  assert_float_equal(pn_optim_lr_at(&c, 4), 0.5, 1e-6);
  assert_float_equal(pn_optim_lr_at(&c, 10), 1.0, 1e-6);  /* peak */
  assert_float_equal(pn_optim_lr_at(&c, 60), 0.5, 1e-6);  /* half-way down the cosine */
  assert_float_equal(pn_optim_lr_at(&c, 35), 0.5 * (1 + cos(M_PI * 0.25)), 1e-6);
  assert_float_equal(pn_optim_lr_at(&c, 110), 0.0, 1e-6);
  c.min_lr_frac = 0.1f;
  assert_float_equal(pn_optim_lr_at(&c, 110), 0.1, 1e-6);
  c.sched = PN_SCHED_STEP;
  c.warmup_steps = 0;
  c.step_size = 30;
  c.gamma = 0.5f;
  assert_float_equal(pn_optim_lr_at(&c, 29), 1.0, 1e-6);
  assert_float_equal(pn_optim_lr_at(&c, 30), 0.5, 1e-6);
  assert_float_equal(pn_optim_lr_at(&c, 95), 0.125, 1e-6);
  assert_int_equal(pn_opt_parse("adamw"), PN_OPT_ADAMW);
  assert_int_equal(pn_opt_parse("rmsprop"), -1);
}

/* A small synthetic dataset: class k = a bright square at a position depending on k, plus noise. */
static void synthetic(struct pn_dataset *ds, int64_t ntr, int64_t nva) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, 99), PN_OK);
  int64_t n[3] = {ntr, nva, 10};
  uint8_t *im[3], *lb[3];
  for (int s = 0; s < 3; s++) {
    im[s] = malloc((size_t)n[s] * 784);
    lb[s] = malloc((size_t)n[s]);
    for (int64_t i = 0; i < n[s]; i++) {
      int k = (int)(i % 10);
      lb[s][i] = (uint8_t)k;
      for (int p = 0; p < 784; p++) im[s][i * 784 + p] = (uint8_t)pn_prg_uniform(&prg, 60);
      int r0 = 2 + (k / 5) * 12, c0 = 2 + (k % 5) * 5;
      for (int r = r0; r < r0 + 8; r++)
        for (int c = c0; c < c0 + 4; c++) im[s][i * 784 + r * 28 + c] = 250;
    }
  }
  const uint8_t *cim[3] = {im[0], im[1], im[2]}, *clb[3] = {lb[0], lb[1], lb[2]};
  assert_int_equal(pn_dataset_from_arrays(&ctx, n, cim, clb, ds), PN_OK);
  for (int s = 0; s < 3; s++) {
    free(im[s]);
    free(lb[s]);
  }
  pn_prg_free(&prg);
}

static struct pn_train_cfg base_cfg(const char *arch, int epochs) {
  struct pn_train_cfg c;
  memset(&c, 0, sizeof c);
  c.arch = arch;
  c.epochs = epochs;
  c.batch = 32;
  c.seed = 7;
  c.opt = pn_optim_defaults(PN_OPT_SGD);
  c.opt.lr = 0.05f;
  c.pad = 2;
  c.flip = true;
  return c;
}

static volatile sig_atomic_t g_stop;
static void stop_after_first(void *user, const struct pn_epoch_stats *st) {
  (void)user;
  if (st->epoch == 1) g_stop = 1;
}

static void test_checkpoint_resume(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_dataset ds;
  synthetic(&ds, 320, 40);
  char ck1[512], ck2[512];
  snprintf(ck1, sizeof ck1, "%s/a.ckpt", g_dir);
  snprintf(ck2, sizeof ck2, "%s/b.ckpt", g_dir);
  struct pn_train_result *r1 = calloc(1, sizeof *r1), *r2 = calloc(1, sizeof *r2);
  /* straight: 3 epochs */
  struct pn_graph *g1, *g2;
  assert_int_equal(pn_arch_build(&ctx, "lenet5", 7, &g1), PN_OK);
  struct pn_train_cfg c = base_cfg("lenet5", 3);
  c.ckpt_path = ck1;
  int rc = pn_train(&ctx, &c, &ds, g1, r1);
  if (rc) print_error("%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  assert_int_equal(r1->epochs_done, 3);
  /* interrupted after epoch 1 (the flag is seen at the first batch of epoch 2) */
  assert_int_equal(pn_arch_build(&ctx, "lenet5", 7, &g2), PN_OK);
  c.ckpt_path = ck2;
  c.stop = &g_stop;
  c.on_epoch = stop_after_first;
  g_stop = 0;
  assert_int_equal(pn_train(&ctx, &c, &ds, g2, r2), PN_ERR_INTERRUPTED);
  assert_int_equal(r2->epochs_done, 1);
  uint8_t *snap;
  size_t snap_n;
  assert_int_equal(pn_read_file(&ctx, ck2, 0, &snap, &snap_n), PN_OK);
  pn_graph_free(g2);
  /* resume into a freshly built model: same result as the straight run, bit for bit */
  assert_int_equal(pn_arch_build(&ctx, "lenet5", 7, &g2), PN_OK);
  c.stop = NULL;
  c.on_epoch = NULL;
  c.resume_path = ck2;
  rc = pn_train(&ctx, &c, &ds, g2, r2);
  if (rc) print_error("%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  assert_int_equal(r2->epochs_done, 3);
  for (int i = 0; i < g1->n_inits; i++) {
    const struct pn_tensor *a = g1->inits[i], *b = pn_graph_find_init(g2, a->name);
    assert_non_null(b);
    assert_memory_equal(a->data, b->data, pn_tensor_nbytes(a));
  }
  assert_float_equal(r1->hist[2].val_acc, r2->hist[2].val_acc, 0);
  /* a damaged checkpoint is refused, naming the file */
  snap[snap_n / 2] ^= 1;
  assert_int_equal(pn_write_file_atomic(&ctx, ck2, snap, snap_n, 0644), PN_OK);
  pn_err_clear(&ctx);
  c.resume_path = ck2;
  assert_int_equal(pn_train(&ctx, &c, &ds, g2, r2), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "b.ckpt"));
  /* a checkpoint of another architecture is refused */
  c.resume_path = ck1;
  c.arch = "cnn-s";
  struct pn_graph *g3;
  assert_int_equal(pn_arch_build(&ctx, "cnn-s", 7, &g3), PN_OK);
  assert_int_equal(pn_train(&ctx, &c, &ds, g3, r2), PN_ERR_MISMATCH);
  free(snap);
  pn_graph_free(g1);
  pn_graph_free(g2);
  pn_graph_free(g3);
  free(r1);
  free(r2);
  pn_dataset_free(&ds);
}

/* Every architecture for other images: at its smallest side and a few above, 3 channels, 5
** classes, the executor and the training engine run it ([2,5] logits, the same values); one pixel
** below the smallest side is refused naming it; the Fashion-MNIST shape is pn_arch_build bit for
** bit. A model with fewer outputs than the dataset's classes is refused by pn_train. */
static void test_arch_shapes(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  static const int min_side[] = {12, 4, 2, 8, 3}; /* lenet5, cnn-s, resnet-s, vgg-s, fhe-s */
  for (int a = 0; pn_arch_names[a]; a++) {
    for (int side = min_side[a]; side < min_side[a] + 4; side++) {
      struct pn_graph *g = NULL;
      int rc = pn_arch_build_shape(&ctx, pn_arch_names[a], 3, side, side + 1, 5, 11, &g);
      if (rc) print_error("%s %d: %s\n", pn_arch_names[a], side, pn_errmsg(&ctx));
      assert_int_equal(rc, PN_OK);
      int64_t dims[4] = {2, 3, side, side + 1};
      struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, dims), *z = NULL;
      float *xf = x->data;
      for (int64_t i = 0; i < pn_tensor_numel(x); i++) xf[i] = (float)((i * 37) % 19) / 9.0f - 1.0f;
      struct pn_exec *ex = NULL;
      assert_int_equal(pn_exec_new(&ctx, g, NULL, &ex), PN_OK);
      const struct pn_tensor *ins[1] = {x};
      rc = pn_exec_run(&ctx, ex, ins, &z);
      if (rc) print_error("%s %d: %s\n", pn_arch_names[a], side, pn_errmsg(&ctx));
      assert_int_equal(rc, PN_OK);
      assert_int_equal(z->ndim, 2);
      assert_int_equal(z->dims[0], 2);
      assert_int_equal(z->dims[1], 5);
      struct pn_ag *ag = NULL;
      struct pn_ag_opts ao = {.max_batch = 2};
      assert_int_equal(pn_ag_new(&ctx, g, &ao, &ag), PN_OK);
      const float *za;
      assert_int_equal(pn_ag_forward(&ctx, ag, xf, 2, false, &za), PN_OK);
      assert_int_equal(pn_ag_output_size(ag), 5);
      for (int i = 0; i < 10; i++) assert_float_equal(za[i], ((float *)z->data)[i], 1e-3 * (1 + fabsf(za[i])));
      pn_ag_free(ag);
      pn_tensor_free(z);
      pn_tensor_free(x);
      pn_exec_free(ex);
      pn_graph_free(g);
    }
    struct pn_graph *g = NULL;
    pn_err_clear(&ctx);
    assert_int_equal(pn_arch_build_shape(&ctx, pn_arch_names[a], 1, min_side[a] - 1, 28, 10, 1, &g), PN_ERR_INVALID);
    char want[64];
    snprintf(want, sizeof want, "needs images of at least %dx%d", min_side[a], min_side[a]);
    assert_non_null(strstr(pn_errmsg(&ctx), want));
    assert_null(g);
    struct pn_graph *g1 = NULL, *g2 = NULL;
    assert_int_equal(pn_arch_build(&ctx, pn_arch_names[a], 4, &g1), PN_OK);
    assert_int_equal(pn_arch_build_shape(&ctx, pn_arch_names[a], 1, 28, 28, 10, 4, &g2), PN_OK);
    assert_int_equal(g1->n_inits, g2->n_inits);
    for (int i = 0; i < g1->n_inits; i++) {
      assert_int_equal(pn_tensor_nbytes(g1->inits[i]), pn_tensor_nbytes(g2->inits[i]));
      assert_memory_equal(g1->inits[i]->data, g2->inits[i]->data, pn_tensor_nbytes(g1->inits[i]));
    }
    pn_graph_free(g1);
    pn_graph_free(g2);
  }
  /* 3x12x12 images with labels 0..4, a lenet5 with 3 outputs: refused, not trained on clamped labels */
  const int64_t n[3] = {40, 4, 4};
  uint8_t *im = calloc(40 * 432, 1), lab[40];
  for (int i = 0; i < 40; i++) lab[i] = (uint8_t)(i % 5);
  const uint8_t *imgs[3] = {im, im, im}, *labs[3] = {lab, lab, lab};
  struct pn_dataset ds;
  assert_int_equal(pn_dataset_from_arrays_chw(&ctx, 3, 12, 12, n, imgs, labs, &ds), PN_OK);
  assert_int_equal(ds.classes, 5);
  struct pn_graph *g = NULL;
  assert_int_equal(pn_arch_build_shape(&ctx, "lenet5", 3, 12, 12, 3, 1, &g), PN_OK);
  struct pn_train_cfg c = base_cfg("lenet5", 1);
  c.batch = 8;
  struct pn_train_result *r = calloc(1, sizeof *r);
  assert_int_equal(pn_train(&ctx, &c, &ds, g, r), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "the model has 3 outputs, the dataset 5 classes"));
  free(r);
  free(im);
  pn_graph_free(g);
  pn_dataset_free(&ds);
}

/* A few hundred steps of lenet5 on a 9,600-image subset of the real train split: the loss falls
** and the validation accuracy (first 1,000 images) exceeds 0.75 (chance is 0.10). Then the model
** is exported to ONNX and run by the executor: same predictions as the training engine. */
static void test_short_training_and_export(void **state) {
  if (access(PN_FMNIST_DIR "/train-images-idx3-ubyte.gz", R_OK)) {
    printf("skip: %s not installed\n", PN_FMNIST_PACKAGE);
    skip();
  }
  struct pn_ctx ctx = {0};
  struct pn_dataset ds;
  assert_int_equal(pn_dataset_load(&ctx, NULL, &ds), PN_OK);
  struct pn_graph *g;
  assert_int_equal(pn_arch_build(&ctx, "lenet5", 1, &g), PN_OK);
  struct pn_train_cfg c = base_cfg("lenet5", 2);
  c.max_train = 9600; /* 2 x 300 steps of 32 */
  c.max_val = 1000;
  struct pn_train_result *r = calloc(1, sizeof *r);
  int rc = pn_train(&ctx, &c, &ds, g, r);
  if (rc) print_error("%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  printf("lenet5, 600 steps: train loss %.4f -> %.4f, val accuracy %.4f\n", r->hist[0].train_loss,
         r->hist[1].train_loss, r->hist[1].val_acc);
  assert_true(r->hist[1].train_loss < 0.8 * r->hist[0].train_loss);
  assert_true(r->hist[0].train_loss < 2.0); /* below ln(10) = 2.30 on average over epoch 1 */
  assert_true(r->hist[1].val_acc > 0.75);

  /* export → load → executor: predictions match the training engine's inference mode */
  char path[512];
  snprintf(path, sizeof path, "%s/lenet5.onnx", g_dir);
  assert_int_equal(pn_onnx_save_file(&ctx, g, path), PN_OK);
  struct pn_graph *h;
  rc = pn_onnx_load_file(&ctx, path, &h);
  if (rc) print_error("%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  struct pn_exec *ex;
  struct pn_exec_opts eo = {0};
  rc = pn_exec_new(&ctx, h, &eo, &ex);
  if (rc) print_error("%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  struct pn_ag *ag;
  struct pn_ag_opts ao = {.max_batch = 100};
  assert_int_equal(pn_ag_new(&ctx, g, &ao, &ag), PN_OK);
  int64_t ok_exec = 0, ok_ag = 0, agree = 0, n = 1000;
  int32_t y[100];
  int64_t idx[100];
  for (int64_t b0 = 0; b0 < n; b0 += 100) {
    int64_t dims[4] = {100, 1, 28, 28};
    struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, dims);
    for (int i = 0; i < 100; i++) idx[i] = b0 + i;
    pn_dataset_batch(&ds, PN_SPLIT_VAL, idx, 100, 0, 0, NULL, x->data, y);
    const struct pn_tensor *ins[1] = {x};
    struct pn_tensor *outs[1] = {NULL};
    rc = pn_exec_run(&ctx, ex, ins, outs);
    if (rc) print_error("%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    const float *z;
    assert_int_equal(pn_ag_forward(&ctx, ag, x->data, 100, false, &z), PN_OK);
    const float *ze = outs[0]->data;
    for (int i = 0; i < 100; i++) {
      int ae = 0, aa = 0;
      for (int k = 1; k < 10; k++) {
        if (ze[i * 10 + k] > ze[i * 10 + ae]) ae = k;
        if (z[i * 10 + k] > z[i * 10 + aa]) aa = k;
        assert_float_equal(ze[i * 10 + k], z[i * 10 + k], 1e-3 * (1 + fabsf(z[i * 10 + k])));
      }
      ok_exec += ae == y[i];
      ok_ag += aa == y[i];
      agree += ae == aa;
    }
    pn_tensor_free(outs[0]);
    pn_tensor_free(x);
  }
  assert_int_equal(ok_exec, ok_ag);
  assert_true(agree >= n - 2); /* ties within float rounding at most */
  double loss, acc;
  assert_int_equal(pn_evaluate(&ctx, ag, &ds, PN_SPLIT_VAL, 1000, 100, &loss, &acc, NULL), PN_OK);
  assert_float_equal(acc, (double)ok_exec / n, 1e-12);
  assert_float_equal(acc, r->hist[1].val_acc, 1e-12); /* same as the evaluation during training */
  pn_exec_free(ex);
  pn_ag_free(ag);
  pn_graph_free(h);
  pn_graph_free(g);
  free(r);
  pn_dataset_free(&ds);
}

/* The committed reference models (models/NAME.onnx): they load, run in the executor, and classify the
** first 2,000 validation images at least as well as models/README.md's bar for each (val accuracy
** of every reference model is above 0.88; chance is 0.10). */
static void test_reference_models(void **state) {
  if (access(PN_FMNIST_DIR "/train-images-idx3-ubyte.gz", R_OK)) {
    printf("skip: %s not installed\n", PN_FMNIST_PACKAGE);
    skip();
  }
  struct pn_ctx ctx = {0};
  struct pn_dataset ds;
  assert_int_equal(pn_dataset_load(&ctx, NULL, &ds), PN_OK);
  int found = 0;
  for (int a = 0; pn_arch_names[a]; a++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s.onnx", PN_SOURCE_DIR, pn_arch_names[a]);
    if (access(path, R_OK)) continue;
    found++;
    struct pn_graph *g;
    int rc = pn_onnx_load_file(&ctx, path, &g);
    if (rc) print_error("%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    const char *arch = pn_graph_get_meta(g, "privnn.arch");
    assert_non_null(arch);
    assert_string_equal(arch, pn_arch_names[a]);
    struct pn_exec *ex;
    struct pn_exec_opts eo = {0};
    assert_int_equal(pn_exec_new(&ctx, g, &eo, &ex), PN_OK);
    int64_t ok = 0, n = 2000, idx[200];
    int32_t y[200];
    for (int64_t b0 = 0; b0 < n; b0 += 200) {
      int64_t dims[4] = {200, 1, 28, 28};
      struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, dims);
      for (int i = 0; i < 200; i++) idx[i] = b0 + i;
      pn_dataset_batch(&ds, PN_SPLIT_VAL, idx, 200, 0, 0, NULL, x->data, y);
      const struct pn_tensor *ins[1] = {x};
      struct pn_tensor *outs[1] = {NULL};
      assert_int_equal(pn_exec_run(&ctx, ex, ins, outs), PN_OK);
      const float *z = outs[0]->data;
      for (int i = 0; i < 200; i++) {
        int arg = 0;
        for (int k = 1; k < 10; k++)
          if (z[i * 10 + k] > z[i * 10 + arg]) arg = k;
        ok += arg == y[i];
      }
      pn_tensor_free(outs[0]);
      pn_tensor_free(x);
    }
    printf("%s: val[0:2000] accuracy %.4f\n", path, (double)ok / n);
    assert_true((double)ok / n > 0.88);
    pn_exec_free(ex);
    pn_graph_free(g);
  }
  if (!found) {
    printf("skip: no models/*.onnx\n");
    pn_dataset_free(&ds);
    skip();
  }
  pn_dataset_free(&ds);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/pn_test_train_%d", (int)getpid());
  char cmd[300];
  snprintf(cmd, sizeof cmd, "mkdir -p %s", g_dir);
  if (system(cmd)) return 1;
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_optimisers),
    cmocka_unit_test(test_schedules),
    cmocka_unit_test(test_checkpoint_resume),
    cmocka_unit_test(test_arch_shapes),
    cmocka_unit_test(test_short_training_and_export),
    cmocka_unit_test(test_reference_models),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
  if (system(cmd)) rc = 1;
  return rc;
}
