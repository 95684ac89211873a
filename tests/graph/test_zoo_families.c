/* test_zoo_families.c - the zoo's newer families (issue 17): parameter counts equal the published
** ones, every model validates and runs in the executor with the declared output shape, and the
** table answers names and families.
**
** Reference counts are torchvision's num_params (weights and biases; BatchNorm running statistics
** are buffers, not parameters), for the inference graphs (GoogLeNet without its auxiliary heads):
** resnext50_32x4d 25,028,904; mobilenet_v3_large 5,483,032; shufflenet_v2_x1_0 2,278,604;
** densenet121 7,978,856; googlenet 6,624,904; inception_v3 23,834,568 (27,161,264 with AuxLogits);
** and Hugging Face's for distilbert-base-uncased 66,362,880, roberta-base 124,645,632 (with its
** pooler; embeddings included), gpt2 124,439,808 (GPT2LMHeadModel: the head tied to wte, counted
** once) and XLMModel in xlm-mlm-en-2048's configuration 667,088,896 (computed from the published
** configuration: no count is published for it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/exec.h"
#include "graph/zoo.h"
#include "util/util.h"
#include "zoo_test.h"

static struct pn_graph *build(const char *name, int64_t hw, int64_t classes) {
  struct pn_ctx ctx = {0};
  struct pn_zoo_opts o = {.ndim = 4, .dims = {1, 3, hw, hw}, .num_classes = classes, .seed = 5};
  if (pn_zoo_is_transformer(name)) o = (struct pn_zoo_opts){.seed = 5, .seq = 16};
  struct pn_graph *g = NULL;
  if (pn_zoo_build(&ctx, name, &o, &g)) fail_msg("%s: %s", name, pn_errmsg(&ctx));
  if (pn_graph_validate(&ctx, g)) fail_msg("%s invalid: %s", name, pn_errmsg(&ctx));
  return g;
}

static const struct {
  const char *name, *family;
  int64_t params;
} published[] = {
    {"resnext50", "resnet", 25028904},      {"mobilenet_v3", "mobilenet", 5483032},
    {"shufflenet_v2", "shufflenet", 2278604}, {"densenet121", "densenet", 7978856},
    {"googlenet", "inception", 6624904},    {"inception_v3", "inception", 23834568},
    {"distilbert", "bert", 66362880},        {"roberta", "bert", 124645632},
    {"gpt2", "gpt2", 124439808},             {"xlm", "xlm", 667088896},
};
#define N_PUBLISHED (sizeof published / sizeof *published)

static void test_param_counts(void **state) {
  (void)state;
  for (size_t i = 0; i < N_PUBLISHED; i++) {
    struct pn_graph *g = build(published[i].name, 224, 1000);
    int64_t n = trainable(g);
    printf("%-14s %10lld parameters (published %lld), %d nodes\n", published[i].name, (long long)n,
           (long long)published[i].params, g->n_nodes);
    assert_int_equal(n, published[i].params);
    assert_string_equal(pn_zoo_family(published[i].name), published[i].family);
    pn_graph_free(g);
  }
}

/* Each runs in the executor (96x96, 10 classes): a finite [1, 10] output that depends on the input
** (not constant across classes). */
static void test_run(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  for (size_t i = 0; i < N_PUBLISHED; i++) {
    if (pn_zoo_is_transformer(published[i].name)) continue; /* test_run_transformers */
    struct pn_graph *g = build(published[i].name, 96, 10);
    struct pn_exec *ex = NULL;
    if (pn_exec_new(&ctx, g, NULL, &ex)) fail_msg("%s: %s", published[i].name, pn_errmsg(&ctx));
    const struct pn_value *v = pn_exec_input(ex, 0);
    struct pn_tensor *in = pn_tensor_new(PN_DT_FLOAT, v->ndim, v->dims), *out = NULL;
    assert_non_null(in);
    float *x = in->data;
    for (int64_t j = 0; j < pn_tensor_numel(in); j++) x[j] = (float)((j * 7919) % 255) / 127.5f - 1.0f;
    if (pn_exec_run(&ctx, ex, (const struct pn_tensor *const *)&in, &out))
      fail_msg("%s run: %s", published[i].name, pn_errmsg(&ctx));
    assert_int_equal(out->ndim, 2);
    assert_int_equal(out->dims[0], 1);
    assert_int_equal(out->dims[1], 10);
    const float *y = out->data;
    float lo = y[0], hi = y[0];
    for (int j = 0; j < 10; j++) {
      assert_true(isfinite(y[j]));
      lo = y[j] < lo ? y[j] : lo;
      hi = y[j] > hi ? y[j] : hi;
    }
    assert_true(hi > lo); /* the input reached the output */
    pn_tensor_free(in);
    pn_tensor_free(out);
    pn_exec_free(ex);
    pn_graph_free(g);
  }
}

/* DistilBERT, RoBERTa, GPT-2 and XLM (2 layers, hidden 64, seq 16) run on token ids: finite outputs
** that depend on the ids, RoBERTa's pooler output inside (-1, 1) (tanh), GPT-2's logits over its
** 50257-word vocabulary. */
static void test_run_transformers(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  const char *names[4] = {"distilbert", "roberta", "gpt2", "xlm"};
  for (int m = 0; m < 4; m++) {
    struct pn_zoo_opts o = {.seed = 3, .layers = 2, .hidden = 64, .heads = 4, .seq = 16};
    struct pn_graph *g = NULL;
    if (pn_zoo_build(&ctx, names[m], &o, &g) || pn_graph_validate(&ctx, g)) fail_msg("%s: %s", names[m], pn_errmsg(&ctx));
    assert_int_equal(g->n_outputs, m == 1 ? 2 : 1);
    struct pn_exec *ex = NULL;
    if (pn_exec_new(&ctx, g, NULL, &ex)) fail_msg("%s: %s", names[m], pn_errmsg(&ctx));
    int64_t d[2] = {1, 16}, width = m == 2 ? 50257 : 64;
    struct pn_tensor *in = pn_tensor_new(PN_DT_INT64, 2, d), *out[2] = {0};
    for (int j = 0; j < 16; j++) ((int64_t *)in->data)[j] = (j * 7919) % 30000;
    if (pn_exec_run(&ctx, ex, (const struct pn_tensor *const *)&in, out)) fail_msg("%s run: %s", names[m], pn_errmsg(&ctx));
    assert_int_equal(out[0]->ndim, 3);
    assert_int_equal(out[0]->dims[1], 16);
    assert_int_equal(out[0]->dims[2], width);
    const float *y = out[0]->data;
    bool differ = false;
    for (int64_t j = 0; j < pn_tensor_numel(out[0]); j++) assert_true(isfinite(y[j]));
    for (int64_t j = 0; j < width; j++) differ |= y[j] != y[width + j]; /* two tokens, two states */
    assert_true(differ);
    if (m == 1) {
      assert_int_equal(out[1]->dims[1], 64);
      for (int j = 0; j < 64; j++) assert_true(fabsf(((const float *)out[1]->data)[j]) < 1.0f);
    }
    for (int k = 0; k < 2; k++) pn_tensor_free(out[k]);
    pn_tensor_free(in);
    pn_exec_free(ex);
    pn_graph_free(g);
  }
}

/* Largest |a - b| over the positions [from, to) of two [1, S, W] outputs. */
static double pos_diff(const struct pn_tensor *a, const struct pn_tensor *b, int64_t from, int64_t to) {
  int64_t w = a->dims[2];
  double m = 0;
  for (int64_t j = from * w; j < to * w; j++) {
    double e = fabs((double)((const float *)a->data)[j] - ((const float *)b->data)[j]);
    m = e > m ? e : m;
  }
  return m;
}

/* Causality: changing token 9 leaves GPT-2's logits at positions 0..8 as they were and changes
** those from 9 on; XLM (bidirectional) changes at position 0 too. */
static void test_causal_mask(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  const char *names[2] = {"gpt2", "xlm"};
  for (int m = 0; m < 2; m++) {
    struct pn_zoo_opts o = {.seed = 4, .layers = 2, .hidden = 64, .heads = 4, .seq = 16};
    struct pn_graph *g = NULL;
    struct pn_exec *ex = NULL;
    if (pn_zoo_build(&ctx, names[m], &o, &g) || pn_exec_new(&ctx, g, NULL, &ex))
      fail_msg("%s: %s", names[m], pn_errmsg(&ctx));
    int64_t d[2] = {1, 16};
    struct pn_tensor *in = pn_tensor_new(PN_DT_INT64, 2, d), *out[2] = {0};
    assert_non_null(in);
    for (int r = 0; r < 2; r++) {
      for (int j = 0; j < 16; j++) ((int64_t *)in->data)[j] = (j * 7919 + 11) % 30000;
      if (r) ((int64_t *)in->data)[9] = 4242;
      if (pn_exec_run(&ctx, ex, (const struct pn_tensor *const *)&in, &out[r]))
        fail_msg("%s run: %s", names[m], pn_errmsg(&ctx));
    }
    double before = pos_diff(out[0], out[1], 0, 9), at = pos_diff(out[0], out[1], 9, 10),
           after = pos_diff(out[0], out[1], 10, 16);
    printf("%s: token 9 changed: max change at positions 0-8 %.3g, 9 %.3g, 10-15 %.3g\n", names[m],
           before, at, after);
    if (m == 0) assert_true(before <= 1e-6);
    else assert_true(before > 1e-4);
    assert_true(at > 1e-4 && after > 1e-4);
    for (int r = 0; r < 2; r++) pn_tensor_free(out[r]);
    pn_tensor_free(in);
    pn_exec_free(ex);
    pn_graph_free(g);
  }
}

static void test_table(void **state) {
  (void)state;
  int n = 0;
  for (const char *const *z = pn_zoo_names(); *z; z++) n++;
  assert_true(n >= 10);
  assert_string_equal(pn_zoo_family("resnet18"), "resnet");
  assert_string_equal(pn_zoo_family("mobilenetv2"), "mobilenet");
  assert_string_equal(pn_zoo_family("not-a-model"), "not-a-model");
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  assert_int_equal(pn_zoo_build(&ctx, "googlenet2", NULL, &g), PN_ERR_INVALID);
  assert_non_null(strstr(pn_errmsg(&ctx), "densenet121"));
  assert_null(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_param_counts),
      cmocka_unit_test(test_run),
      cmocka_unit_test(test_run_transformers),
      cmocka_unit_test(test_causal_mask),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
