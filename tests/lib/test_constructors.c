/* test_constructors.c - the reporting constructors: pn_tensor_create, pn_ckks_pt_create and
** pn_ckks_ct_create say why they refuse (status + message), leave *out NULL, and on success give the
** object pn_*_new gives.
**
** Refusals: a tensor with the model's symbolic batch (-1, the first program's mistake the issue
** names), too many dims, a dtype that is no ONNX type, more than 2^40 elements; a CKKS plaintext and
** ciphertext without a context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ckks/ckks.h"
#include "graph/exec.h"
#include "graph/onnx.h"
#include "graph/tensor.h"
#include "util/status.h"
#include "pn_test.h"

#define MODEL PN_SOURCE_DIR "/models/lenet5.onnx"

static void test_tensor_create(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  assert_int_equal(pn_onnx_load_file(&ctx, MODEL, &g), PN_OK);
  /* the model's own input shape: [N,1,28,28] with N = -1 */
  const struct pn_value *in = &g->inputs[0];
  assert_int_equal(in->ndim, 4);
  assert_true(in->dims[0] < 0);
  struct pn_tensor *t = (struct pn_tensor *)1;
  assert_null(pn_tensor_new(PN_DT_FLOAT, in->ndim, in->dims));
  assert_int_equal(pn_tensor_create(&ctx, PN_DT_FLOAT, in->ndim, in->dims, &t), PN_ERR_INVALID);
  assert_null(t);
  assert_int_equal(ctx.status, PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "dims[0] is -1"));
  assert_non_null(strstr(pn_errmsg(&ctx), "pn_exec_input_new"));
  pn_err_clear(&ctx);

  int64_t dims9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  assert_int_equal(pn_tensor_create(&ctx, PN_DT_FLOAT, 9, dims9, &t), PN_ERR_INVALID);
  assert_null(t);
  assert_non_null(strstr(pn_errmsg(&ctx), "9 dims (0..8 supported)"));

  int64_t d2[2] = {2, 3};
  assert_int_equal(pn_tensor_create(&ctx, (enum pn_dtype)99, 2, d2, &t), PN_ERR_INVALID);
  assert_null(t);
  assert_non_null(strstr(pn_errmsg(&ctx), "dtype 99"));

  int64_t huge[2] = {(int64_t)1 << 21, (int64_t)1 << 20};
  assert_int_equal(pn_tensor_create(&ctx, PN_DT_FLOAT, 2, huge, &t), PN_ERR_INVALID);
  assert_null(t);
  assert_non_null(strstr(pn_errmsg(&ctx), "2^40"));

  /* accepted: the same tensor pn_tensor_new makes, zeroed */
  pn_err_clear(&ctx);
  assert_int_equal(pn_tensor_create(&ctx, PN_DT_INT64, 2, d2, &t), PN_OK);
  assert_int_equal(ctx.status, PN_OK);
  assert_int_equal(t->dtype, PN_DT_INT64);
  assert_int_equal(t->ndim, 2);
  assert_memory_equal(t->dims, d2, sizeof d2);
  assert_int_equal(pn_tensor_nbytes(t), 6 * 8);
  for (int i = 0; i < 6; i++) assert_int_equal(((int64_t *)t->data)[i], 0);
  pn_tensor_free(t);
  /* a scalar takes no dims */
  assert_int_equal(pn_tensor_create(&ctx, PN_DT_FLOAT, 0, NULL, &t), PN_OK);
  assert_int_equal(pn_tensor_numel(t), 1);
  pn_tensor_free(t);
  pn_graph_free(g);
}

static void test_ckks_create(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_ckks_pt *pt = (struct pn_ckks_pt *)1;
  struct pn_ckks_ct *ct = (struct pn_ckks_ct *)1;
  /* a context that failed to build is NULL: refused by name, not a crash */
  assert_null(pn_ckks_pt_new(NULL));
  assert_null(pn_ckks_ct_new(NULL));
  assert_int_equal(pn_ckks_pt_create(&ctx, NULL, &pt), PN_ERR_INVALID);
  assert_null(pt);
  assert_non_null(strstr(pn_errmsg(&ctx), "ckks plaintext: no context"));
  assert_int_equal(pn_ckks_ct_create(&ctx, NULL, &ct), PN_ERR_INVALID);
  assert_null(ct);
  assert_non_null(strstr(pn_errmsg(&ctx), "ckks ciphertext: no context"));

  struct pn_ckks_params p;
  struct pn_ckks_context *c = NULL;
  pn_err_clear(&ctx);
  assert_int_equal(pn_ckks_params_preset(&ctx, "seal", 13, &p), PN_OK);
  assert_int_equal(pn_ckks_context_new(&ctx, &p, &c), PN_OK);
  assert_int_equal(pn_ckks_pt_create(&ctx, c, &pt), PN_OK);
  assert_int_equal(pn_ckks_ct_create(&ctx, c, &ct), PN_OK);
  assert_int_equal(pt->level, pn_ckks_max_level(c));
  assert_int_equal(ct->level, pn_ckks_max_level(c));
  assert_int_equal((int64_t)ct->n, (int64_t)pn_ckks_n(c));
  assert_int_equal(ct->size, 2);
  assert_int_equal(ctx.status, PN_OK);
  pn_ckks_pt_free(pt);
  pn_ckks_ct_free(ct);
  pn_ckks_context_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_tensor_create), cmocka_unit_test(test_ckks_create)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
