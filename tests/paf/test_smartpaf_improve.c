/* test_smartpaf_improve.c - a short SmartPAF run wins accuracy back: on the reference cnn-s (BN, two
** MaxPools) with f1g2, CT + PA + AT on a few hundred images per epoch beats the untuned replacement
** on validation, and CT alone already does. Long for the sanitizers: labelled slow.
** Skipped when the dataset package or the reference model is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "graph/ir.h"
#include "graph/onnx.h"
#include "nn/dataset.h"
#include "paf/smartpaf.h"
#include "util/util.h"

static void test_improves(void **state) {
  char model[1024];
  snprintf(model, sizeof model, "%s/models/cnn-s.onnx", PN_SOURCE_DIR);
  struct pn_ctx ctx = {0};
  struct pn_dataset ds;
  if (access(model, R_OK) || pn_dataset_load(&ctx, NULL, &ds)) {
    printf("skip: %s or %s not available\n", PN_FMNIST_PACKAGE, model);
    skip();
  }
  struct pn_paf_report *r[2] = {calloc(1, sizeof **r), calloc(1, sizeof **r)};
  const char *tech[2] = {"baseline", "ct,pa,at"};
  for (int k = 0; k < 2; k++) {
    struct pn_paf_cfg c;
    pn_paf_cfg_defaults(&c, PN_PAF_F1G2);
    assert_int_equal(pn_paf_tech_parse(&ctx, tech[k], &c.tech), PN_OK);
    c.base_epochs = 0; /* baseline without its fine-tune: the untuned replacement */
    c.ct_images = 500;
    c.at_images = 400;
    c.at_epochs = 1;
    c.at_groups = 2;
    c.bn_images = 500;
    c.max_val = 1000;
    struct pn_graph *g = NULL;
    assert_int_equal(pn_onnx_load_file(&ctx, model, &g), PN_OK);
    int rc = pn_paf_approximate(&ctx, &c, &ds, g, r[k]);
    if (rc) fprintf(stderr, "%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    pn_graph_free(g);
  }
  printf("  cnn-s f1g2 (validation, 1000 images): original %.4f, untuned %.4f, ct+ds %.4f, ct+pa+at+ds %.4f\n",
         r[1]->acc_val_original, r[0]->acc_val, r[1]->stages[0].acc_val, r[1]->acc_val);
  assert_true(r[1]->stages[0].acc_val > r[0]->acc_val);
  assert_true(r[1]->acc_val > r[1]->stages[0].acc_val);
  free(r[0]);
  free(r[1]);
  pn_dataset_free(&ds);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_improves)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
