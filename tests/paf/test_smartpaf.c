/* test_smartpaf.c - the SmartPAF pipeline on the reference lenet5 (models/) and Fashion-MNIST, with
** tiny budgets (it also runs under ASan): techniques parsed and combined, CT lowering each site's
** error, static scales (batch-independent logits, unlike dynamic ones), the report, an interrupted
** run resumed to the same bytes, and damaged or foreign checkpoints and models without ReLU/MaxPool
** refused with the file named. test_smartpaf_improve checks that a short run wins accuracy back.
** Skipped when the dataset package or the reference model is absent. */
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
#include "graph/paf.h"
#include "nn/dataset.h"
#include "paf/smartpaf.h"
#include "util/util.h"

static struct pn_dataset g_ds;
static bool g_have;
static char g_model[1024];

static struct pn_graph *load_model(void) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  assert_int_equal(pn_onnx_load_file(&ctx, g_model, &g), PN_OK);
  assert_int_equal(pn_graph_validate(&ctx, g), PN_OK);
  return g;
}

static void tiny(struct pn_paf_cfg *c, enum pn_paf_form f, const char *tech) {
  struct pn_ctx ctx = {0};
  pn_paf_cfg_defaults(c, f);
  assert_int_equal(pn_paf_tech_parse(&ctx, tech, &c->tech), PN_OK);
  c->batch = 50;
  c->eval_batch = 100;
  c->ct_images = 200;
  c->ct_samples = 4096;
  c->ct_epochs = 8;
  c->at_images = 100;
  c->at_epochs = 1;
  c->at_groups = 2;
  c->bn_images = 100;
  c->base_epochs = 1;
  c->base_images = 100;
  c->ss_images = 200;
  c->tune_epochs = 1;
  c->tune_images = 100;
  c->max_val = 200;
}

#define NEED_DATA()                                                         \
  do {                                                                      \
    if (!g_have) {                                                          \
      printf("skip: %s or %s not available\n", PN_FMNIST_PACKAGE, g_model); \
      skip();                                                               \
    }                                                                       \
  } while (0)

static void test_tech_parse(void **state) {
  struct pn_ctx ctx = {0};
  unsigned t;
  char buf[64];
  assert_int_equal(pn_paf_tech_parse(&ctx, "ct,pa,at,ss,sstune", &t), PN_OK);
  assert_string_equal(pn_paf_tech_str(t, buf, sizeof buf), "ct,pa,at,ss,sstune");
  assert_int_equal(pn_paf_tech_parse(&ctx, "baseline,ss", &t), PN_OK);
  assert_int_equal(t, PN_PAF_T_BASELINE | PN_PAF_T_SS);
  const char *bad[][2] = {{"ct,xx", "unknown technique 'xx'"}, {"baseline,ct", "excludes ct"},
                          {"ct,pa", "pa and at go together"}, {"ct,sstune", "needs ss"}, {"", "no technique"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(pn_paf_tech_parse(&ctx, bad[i][0], &t), PN_ERR_INVALID);
    assert_non_null(strstr(pn_errmsg(&ctx), bad[i][1]));
  }
}

static void test_no_sites(void **state) {
  NEED_DATA();
  struct pn_ctx ctx = {0};
  struct pn_graph *g = pn_graph_new();
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, (int64_t[]){-1, 1, 28, 28}));
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, 2, (int64_t[]){-1, 784}));
  const char *in[1] = {"x"}, *out = "y";
  assert_non_null(pn_graph_add_node(g, "Flatten", "flat", 1, in, 1, &out));
  struct pn_paf_cfg c;
  tiny(&c, PN_PAF_F1G2, "ct");
  struct pn_paf_report *r = calloc(1, sizeof *r);
  assert_int_equal(pn_paf_approximate(&ctx, &c, &g_ds, g, r), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "no Relu or MaxPool"));
  free(r);
  pn_graph_free(g);
}

/* CT: each site's error on the validation samples falls; the +CT+DS stage; test split unread */
static void test_ct(void **state) {
  NEED_DATA();
  struct pn_ctx ctx = {0};
  struct pn_paf_report *r = calloc(1, sizeof *r);
  struct pn_paf_cfg c;
  tiny(&c, PN_PAF_F1G2, "ct");
  struct pn_graph *g = load_model();
  int rc = pn_paf_approximate(&ctx, &c, &g_ds, g, r);
  if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  assert_int_equal(r->n_sites, 6);
  for (int k = 0; k < r->n_sites; k++) {
    printf("    %-8s CT MSE %.4g -> %.4g\n", r->sites[k].name, r->sites[k].ct_mse_base, r->sites[k].ct_mse);
    assert_true(r->sites[k].ct_mse < r->sites[k].ct_mse_base);
  }
  assert_int_equal(r->n_stages, 1);
  assert_string_equal(r->stages[0].name, "ct+ds");
  assert_true(r->acc_test < 0); /* no eval_test: the test split is not read */
  /* every site is a PAF node with a dynamic scale now */
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (pn_paf_node_kind(g->nodes[i]) >= 0) {
      struct pn_paf_node pn;
      assert_int_equal(pn_paf_node_parse(&ctx, g, g->nodes[i], &pn), PN_OK);
      assert_null(pn.scale);
      n++;
    }
  assert_int_equal(n, 6);
  free(r);
  pn_graph_free(g);
}

/* logits of image 0 alone and inside a batch of 100 */
static double batch_dependence(struct pn_graph *g) {
  struct pn_ctx ctx = {0};
  struct pn_exec *ex = NULL;
  assert_int_equal(pn_exec_new(&ctx, g, NULL, &ex), PN_OK);
  float *x = malloc(sizeof(float) * 100 * PN_FMNIST_PIXELS);
  int32_t y[100];
  int64_t idx[100];
  for (int i = 0; i < 100; i++) idx[i] = i;
  pn_dataset_batch(&g_ds, PN_SPLIT_VAL, idx, 100, 0, 0, NULL, x, y);
  double worst = 0;
  struct pn_tensor *out[2] = {NULL, NULL};
  for (int k = 0; k < 2; k++) {
    int64_t n = k ? 100 : 1;
    struct pn_tensor *t = pn_tensor_new(PN_DT_FLOAT, 4, (int64_t[]){n, 1, 28, 28});
    memcpy(t->data, x, sizeof(float) * (size_t)n * PN_FMNIST_PIXELS);
    const struct pn_tensor *in[1] = {t};
    assert_int_equal(pn_exec_run(&ctx, ex, in, &out[k]), PN_OK);
    pn_tensor_free(t);
  }
  for (int j = 0; j < 10; j++) worst = fmax(worst, fabs(((float *)out[0]->data)[j] - ((float *)out[1]->data)[j]));
  pn_tensor_free(out[0]);
  pn_tensor_free(out[1]);
  free(x);
  pn_exec_free(ex);
  return worst;
}

/* SS: static scales = what the scan measured; logits no longer depend on the batch; the report */
static void test_static_scale(void **state) {
  NEED_DATA();
  struct pn_ctx ctx = {0};
  struct pn_paf_report *r = calloc(1, sizeof *r);
  struct pn_paf_cfg c;
  tiny(&c, PN_PAF_ALPHA7, "baseline,ss");
  c.base_epochs = 0;
  c.fold = false;
  struct pn_graph *g = load_model(), *ds_model = NULL;
  assert_int_equal(pn_paf_approximate(&ctx, &c, &g_ds, g, r), PN_OK);
  /* the same sites with dynamic scales, for comparison */
  ds_model = pn_graph_clone(g);
  for (int i = 0; i < ds_model->n_nodes; i++)
    if (pn_paf_node_kind(ds_model->nodes[i]) >= 0)
      assert_int_equal(pn_paf_set_scale(&ctx, ds_model, ds_model->nodes[i], 0), PN_OK);
  double dep_ss = batch_dependence(g), dep_ds = batch_dependence(ds_model);
  printf("  alpha7: logits of one image alone vs in a batch: static %.3g, dynamic %.3g\n", dep_ss, dep_ds);
  assert_true(dep_ss < 1e-4);
  assert_true(dep_ds > 1e-3);
  for (int i = 0, k = 0; i < g->n_nodes; i++) {
    if (pn_paf_node_kind(g->nodes[i]) < 0) continue;
    struct pn_paf_node pn;
    assert_int_equal(pn_paf_node_parse(&ctx, g, g->nodes[i], &pn), PN_OK);
    assert_non_null(pn.scale);
    assert_true(((float *)pn.scale->data)[0] == r->sites[k].scale);
    assert_true(r->sites[k].scale > 0);
    assert_true(r->sites[k].sign_inputs_val > 0);
    assert_true(r->sites[k].overflow_val >= 0 && r->sites[k].overflow_val <= 1);
    k++;
  }
  assert_int_equal(r->n_stages, 2);
  assert_string_equal(r->stages[1].name, "baseline+ss");
  /* the report's keys */
  cJSON *o = pn_paf_report_json(r);
  const char *keys[] = {"form", "techniques", "accuracy_val", "overflow", "seconds", "depth", "layers", "stages"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) assert_non_null(cJSON_GetObjectItemCaseSensitive(o, keys[i]));
  assert_null(cJSON_GetObjectItemCaseSensitive(o, "accuracy_test"));
  assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(o, "depth")->valuedouble, 7);
  const cJSON *l0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "layers"), 0);
  assert_true(cJSON_GetObjectItemCaseSensitive(l0, "scale")->valuedouble == r->sites[0].scale);
  cJSON_Delete(o);
  free(r);
  pn_graph_free(g);
  pn_graph_free(ds_model);
}

/* an interrupted run resumed gives the bytes of an uninterrupted one */
struct stopper {
  volatile sig_atomic_t flag;
  int lines, stop_at;
};

static void count_lines(void *user, const char *line) {
  struct stopper *s = user;
  if (++s->lines == s->stop_at) s->flag = 1;
}

static void model_bytes(struct pn_graph *g, uint8_t **buf, size_t *n) {
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_onnx_save(&ctx, g, buf, n), PN_OK);
}

static void test_resume(void **state) {
  NEED_DATA();
  struct pn_ctx ctx = {0};
  char ck[1024];
  snprintf(ck, sizeof ck, "%s/test_smartpaf.ckpt", PN_BINARY_DIR);
  struct pn_paf_report *r = calloc(1, sizeof *r);
  struct pn_paf_cfg c;
  tiny(&c, PN_PAF_F2G2, "ct,pa,at,ss,sstune");
  c.at_groups = 1;
  c.ckpt_path = ck;
  struct stopper st = {0, 0, 0};
  c.stop = &st.flag;
  c.log = count_lines;
  c.user = &st;
  struct pn_graph *a = load_model();
  assert_int_equal(pn_paf_approximate(&ctx, &c, &g_ds, a, r), PN_OK);
  int total = st.lines;
  uint8_t *ba, *bb;
  size_t na, nb;
  model_bytes(a, &ba, &na);
  /* stop in the middle of AT, then resume (stopping again later, then finishing) */
  struct pn_graph *b = load_model();
  st = (struct stopper){0, 0, total / 3};
  assert_int_equal(pn_paf_approximate(&ctx, &c, &g_ds, b, r), PN_ERR_INTERRUPTED);
  pn_graph_free(b);
  int resumes = 0;
  int rc;
  do {
    b = load_model();
    c.resume_path = ck;
    st = (struct stopper){0, 0, resumes == 0 ? total / 3 : 0};
    rc = pn_paf_approximate(&ctx, &c, &g_ds, b, r);
    resumes++;
    if (rc == PN_ERR_INTERRUPTED) pn_graph_free(b);
  } while (rc == PN_ERR_INTERRUPTED && resumes < 5);
  if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  assert_true(r->resumed);
  model_bytes(b, &bb, &nb);
  printf("  %d log lines, interrupted at %d, resumed %d times: %s\n", total, total / 3, resumes,
         na == nb && !memcmp(ba, bb, na) ? "same model bytes" : "DIFFERENT model bytes");
  assert_true(na == nb && !memcmp(ba, bb, na));
  free(ba);
  free(bb);
  pn_graph_free(a);
  pn_graph_free(b);
  /* a damaged checkpoint, a truncated one, another configuration */
  uint8_t *buf;
  size_t n;
  assert_int_equal(pn_read_file(&ctx, ck, 0, &buf, &n), PN_OK);
  buf[n / 2] ^= 0x40;
  assert_int_equal(pn_write_file_atomic(&ctx, ck, buf, n, 0644), PN_OK);
  b = load_model();
  c.log = NULL;
  assert_int_equal(pn_paf_approximate(&ctx, &c, &g_ds, b, r), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "test_smartpaf.ckpt: checkpoint checksum mismatch"));
  buf[n / 2] ^= 0x40;
  assert_int_equal(pn_write_file_atomic(&ctx, ck, buf, n / 3, 0644), PN_OK);
  assert_int_equal(pn_paf_approximate(&ctx, &c, &g_ds, b, r), PN_ERR_CORRUPT);
  assert_int_equal(pn_write_file_atomic(&ctx, ck, buf, n, 0644), PN_OK);
  c.seed = 2;
  assert_int_equal(pn_paf_approximate(&ctx, &c, &g_ds, b, r), PN_ERR_MISMATCH);
  assert_non_null(strstr(pn_errmsg(&ctx), "another configuration"));
  free(buf);
  pn_graph_free(b);
  unlink(ck);
  free(r);
}

int main(void) {
  struct pn_ctx ctx = {0};
  snprintf(g_model, sizeof g_model, "%s/models/lenet5.onnx", PN_SOURCE_DIR);
  g_have = access(g_model, R_OK) == 0 && pn_dataset_load(&ctx, NULL, &g_ds) == PN_OK;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tech_parse),   cmocka_unit_test(test_no_sites), cmocka_unit_test(test_ct),
      cmocka_unit_test(test_static_scale), cmocka_unit_test(test_resume),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  if (g_have) pn_dataset_free(&g_ds);
  return rc;
}
