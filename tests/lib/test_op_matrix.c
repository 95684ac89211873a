/* test_op_matrix.c - the op x backend matrix: which ops each backend evaluates, printed, and
** checked against what each backend actually accepts.
**
** Every backend keys its table by enum pn_op (graph/ops.h). The matrix is printed with one line per
** backend listing the ops it lacks, so a new op shows at once where it is missing. A backend joins
** by one row of `backends` below: its name and its "supports" function.
**
** Checks: the executor's table has a complete row for every op, named as the op list (ops.h) names
** it and found again by (domain, op_type); domains resolve as ONNX says ("" = ai.onnx, an ai.onnx
** op type under another domain is not that op); and for every op, autograd and the MPC runner refuse
** exactly the ops their tables lack (the FHE compiler too), with their own "not supported" error naming the node, and an op
** the MPC runner accepts in a one-node graph computes on shares what the executor computes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fhe/fhe.h"
#include "graph/exec.h"
#include "graph/ir.h"
#include "graph/op_def.h"
#include "mpc/dealer.h"
#include "mpc/runner.h"
#include "nn/autograd.h"
#include "util/util.h"

struct backend {
  const char *name;
  bool (*supports)(enum pn_op op);
};

static const struct backend backends[] = {
  {"executor", pn_exec_supports},
  {"autograd", pn_ag_supports},
  {"mpc", pn_mpc_supports},
  {"fhe", pn_fhe_supports},
};
#define N_BACKENDS ((int)(sizeof backends / sizeof *backends))

/* The op list as ops.h declares it: name and domain, independent of the table being checked. */
static const struct {
  const char *name;
  enum pn_op_domain domain;
} listed[] = {
#define X(id, name) {name, PN_DOMAIN_ONNX},
  PN_OPS(X)
#undef X
#define X(id, name) {name, PN_DOMAIN_PRIVNN},
  PN_OPS_PRIVNN(X)
#undef X
};

static void test_print_matrix(void **state) {
  printf("%-22s", "op");
  for (int b = 0; b < N_BACKENDS; b++) printf(" %-9s", backends[b].name);
  printf("\n");
  for (int op = 0; op < PN_OP_COUNT; op++) {
    const char *dom = pn_op_domain(op) == PN_DOMAIN_ONNX ? "" : pn_op_domains[pn_op_domain(op)].name;
    char label[64];
    snprintf(label, sizeof label, "%s%s%s", dom, *dom ? "::" : "", pn_op_name(op));
    printf("%-22s", label);
    for (int b = 0; b < N_BACKENDS; b++) printf(" %-9s", backends[b].supports(op) ? "x" : "-");
    printf("\n");
  }
  for (int b = 0; b < N_BACKENDS; b++) {
    int lack = 0;
    for (int op = 0; op < PN_OP_COUNT; op++) lack += !backends[b].supports(op);
    printf("%s lacks %d of %d ops:", backends[b].name, lack, PN_OP_COUNT);
    for (int op = 0; op < PN_OP_COUNT; op++)
      if (!backends[b].supports(op)) printf(" %s", pn_op_name(op));
    printf("\n");
  }
}

static void test_executor_rows(void **state) {
  assert_int_equal(sizeof listed / sizeof *listed, PN_OP_COUNT);
  for (int op = 0; op < PN_OP_COUNT; op++) {
    const struct pn_op_def *d = &pn_op_defs[op];
    assert_non_null(d->op_type);
    assert_string_equal(d->op_type, listed[op].name);
    assert_int_equal(pn_op_domain(op), listed[op].domain);
    assert_non_null(d->infer);
    assert_non_null(d->run);
    assert_true(pn_exec_supports(op));
    assert_true(d->min_in >= 0 && d->min_in <= d->max_in);
    assert_true(d->min_out >= 1 && d->min_out <= d->max_out);
    /* found again under its domain's canonical name, and under "" only when it is ai.onnx */
    assert_int_equal(pn_op_find(pn_op_domains[listed[op].domain].name, d->op_type), op);
    assert_int_equal(pn_op_find("", d->op_type), listed[op].domain == PN_DOMAIN_ONNX ? op : -1);
    for (int o2 = 0; o2 < op; o2++)
      assert_false(!strcmp(pn_op_defs[o2].op_type, d->op_type) && pn_op_domain(o2) == pn_op_domain(op));
  }
}

static void test_domains(void **state) {
  assert_int_equal(pn_op_domain_find(NULL), PN_DOMAIN_ONNX);
  assert_int_equal(pn_op_domain_find(""), PN_DOMAIN_ONNX);
  assert_int_equal(pn_op_domain_find("ai.onnx"), PN_DOMAIN_ONNX);
  assert_int_equal(pn_op_domain_find(PN_PRIVNN_DOMAIN), PN_DOMAIN_PRIVNN);
  assert_int_equal(pn_op_domain_find("com.microsoft"), -1);
  assert_int_equal(pn_op_domain_find("ai.onnx.ml"), -1);
  assert_int_equal(pn_op_find(NULL, "Relu"), PN_OP_RELU);
  assert_int_equal(pn_op_find("ai.onnx", "Relu"), PN_OP_RELU);
  assert_int_equal(pn_op_find(PN_PRIVNN_DOMAIN, "Relu"), -1);
  assert_int_equal(pn_op_find("com.microsoft", "Relu"), -1);
  assert_int_equal(pn_op_find("", "relu"), -1);
  assert_int_equal(pn_op_find("", NULL), -1);
  assert_string_equal(pn_op_name(PN_OP_COUNT), "?");

  /* validation names the domain of a node it does not know, and checks the domain's opset */
  struct pn_ctx ctx = {0};
  struct pn_graph *g = pn_graph_new();
  int64_t d[2] = {2, 3};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 2, d));
  const char *x = "x", *y = "y";
  struct pn_node *n = pn_graph_add_node(g, "Relu", "r", 1, &x, 1, &y);
  n->domain = PN_PRIVNN_DOMAIN;
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  assert_int_equal(pn_graph_set_opset(g, PN_PRIVNN_DOMAIN, 1), PN_OK);
  assert_int_equal(pn_graph_validate(&ctx, g), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "domain 'ai.privnn'"));
  n->domain = "ai.onnx";
  assert_int_equal(pn_graph_validate(&ctx, g), PN_OK);
  pn_graph_free(g);
}

/* x [1,2,4,4] -> one node of op with op's minimum number of inputs, all x -> y. */
static struct pn_graph *one_node(int op) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  int64_t d[4] = {1, 2, 4, 4};
  assert_non_null(pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, d));
  const char *in[8] = {"x", "x", "x", "x", "x", "x", "x", "x"}, *y = "y";
  int n_in = pn_op_defs[op].min_in > 8 ? 8 : pn_op_defs[op].min_in;
  struct pn_node *n = pn_graph_add_node(g, pn_op_name(op), "the_node", n_in, in, 1, &y);
  assert_non_null(n);
  if (pn_op_domain(op) != PN_DOMAIN_ONNX) {
    n->domain = pn_op_domains[pn_op_domain(op)].name;
    assert_int_equal(pn_graph_set_opset(g, n->domain, pn_op_domains[pn_op_domain(op)].opset_max), PN_OK);
  }
  assert_non_null(pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL));
  return g;
}

/* The MPC simulator's output of mm (built from g) on a random x, against the executor's. Returns
** false when the runner refuses this graph's form of the op at run time (a Conv whose weight is
** not an initializer), with PN_ERR_UNSUPPORTED naming the node. */
static bool mpc_matches_executor(struct pn_graph *g, struct pn_mpc_model *mm, const char *op) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, 99), PN_OK);
  int64_t d[4] = {1, 2, 4, 4}, n = 32;
  struct pn_tensor *x = pn_tensor_new(PN_DT_FLOAT, 4, d), *y = NULL;
  float *xf = x->data;
  uint64_t enc[32];
  for (int i = 0; i < n; i++) {
    xf[i] = (float)(2 * pn_prg_double(&prg) - 1);
    enc[i] = pn_fx_encode(xf[i], 16);
  }
  struct pn_exec *ex = NULL;
  const struct pn_tensor *in = x;
  int rc = pn_exec_new(&ctx, g, NULL, &ex);
  if (rc == PN_OK) rc = pn_exec_run(&ctx, ex, &in, &y);
  if (rc) print_error("executor, %s: %s\n", op, pn_errmsg(&ctx));
  assert_int_equal(rc, PN_OK);
  uint8_t master[32] = {1};
  struct pn_mpc_dealer *dl = NULL;
  assert_int_equal(pn_dealer_new_embedded(&ctx, master, &dl), PN_OK);
  struct pn_mpc m;
  pn_mpc_init_sim(&m, &ctx, dl, 16);
  assert_int_equal(pn_mpc_model_in_numel(mm), n);
  assert_int_equal(pn_mpc_model_out_numel(mm), pn_tensor_numel(y));
  pn_sh xs = {0}, ys = {0};
  assert_int_equal(pn_sh_alloc(&m, n, xs), PN_OK);
  pn_mpc_split(&prg, n, enc, xs[0], xs[1]);
  rc = pn_mpc_model_run(mm, &m, xs, ys);
  if (rc) {
    printf("mpc, %s: %s\n", op, pn_errmsg(&ctx));
    assert_int_equal(rc, PN_ERR_UNSUPPORTED);
    assert_non_null(strstr(pn_errmsg(&ctx), "the_node"));
  }
  for (int64_t i = 0; rc == PN_OK && i < pn_tensor_numel(y); i++) {
    double got = pn_fx_decode(ys[0][i] + ys[1][i], 16), want = ((const float *)y->data)[i];
    if (!(fabs(got - want) < 1e-3)) {
      print_error("mpc %s: element %lld is %g, the executor says %g\n", op, (long long)i, got, want);
      fail();
    }
  }
  pn_sh_free(&m, n, xs);
  pn_sh_free(&m, pn_mpc_model_out_numel(mm), ys);
  pn_mpc_release(&m);
  pn_dealer_free(dl);
  pn_exec_free(ex);
  pn_tensor_free(x);
  pn_tensor_free(y);
  pn_prg_free(&prg);
  return rc == PN_OK;
}

/* Each backend refuses exactly the ops its table lacks, with its own message naming the node.
** (A supported op may still fail here for its attributes or inputs, but never as unsupported.) */
static void test_backends_refuse_what_they_lack(void **state) {
  int refused[3] = {0, 0, 0}, ran = 0;
  for (int op = 0; op < PN_OP_COUNT; op++) {
    struct pn_ctx ctx = {0};
    struct pn_graph *g = one_node(op);
    struct pn_ag *ag = NULL;
    struct pn_ag_opts ao = {.max_batch = 1};
    int rc = pn_ag_new(&ctx, g, &ao, &ag);
    bool said = rc && strstr(pn_errmsg(&ctx), "not differentiable") && strstr(pn_errmsg(&ctx), "the_node");
    if (said != !pn_ag_supports(op))
      print_error("autograd, %s: table says %d, pn_ag_new says '%s'\n", pn_op_name(op),
                  pn_ag_supports(op), rc ? pn_errmsg(&ctx) : "ok");
    assert_int_equal(said, !pn_ag_supports(op));
    refused[0] += said;
    pn_ag_free(ag);

    /* the MPC runner optimises and infers shapes first: ops this graph is not valid for (wrong
    ** attributes) fail there, before the runner's op check; count those that reach it */
    struct pn_graph *chk = pn_graph_clone(g);
    assert_non_null(chk);
    bool valid = pn_graph_infer_shapes(&ctx, chk) == PN_OK;
    pn_graph_free(chk);
    struct pn_mpc_model *mm = NULL;
    struct pn_mpc_model_opts mo = {.batch = 1};
    pn_err_clear(&ctx);
    rc = pn_mpc_model_new(&ctx, g, &mo, &mm);
    said = rc && strstr(pn_errmsg(&ctx), "not supported in MPC") && strstr(pn_errmsg(&ctx), "the_node");
    if (pn_mpc_supports(op) ? said : valid && !said)
      print_error("mpc, %s: table says %d, pn_mpc_model_new says '%s'\n", pn_op_name(op),
                  pn_mpc_supports(op), rc ? pn_errmsg(&ctx) : "ok");
    assert_false(pn_mpc_supports(op) && said);
    if (valid && !pn_mpc_supports(op)) assert_true(said);
    refused[1] += said;
    if (rc == PN_OK) ran += mpc_matches_executor(g, mm, pn_op_name(op));
    pn_mpc_model_free(mm);

    /* the FHE compiler, the same way (Relu/MaxPool: "replace it by a PAF first") */
    struct pn_fhe_plan *fp = NULL;
    pn_err_clear(&ctx);
    rc = pn_fhe_compile(&ctx, g, NULL, &fp);
    said = rc && (strstr(pn_errmsg(&ctx), "not supported under CKKS") || strstr(pn_errmsg(&ctx), "PAF first")) &&
           strstr(pn_errmsg(&ctx), "the_node");
    if (pn_fhe_supports(op) ? said : valid && !said)
      print_error("fhe, %s: table says %d, pn_fhe_compile says '%s'\n", pn_op_name(op), pn_fhe_supports(op),
                  rc ? pn_errmsg(&ctx) : "ok");
    assert_false(pn_fhe_supports(op) && said);
    if (valid && !pn_fhe_supports(op)) assert_true(said);
    refused[2] += said;
    pn_fhe_plan_free(fp);
    pn_graph_free(g);
  }
  printf("refused as unsupported: autograd %d ops, mpc %d ops, fhe %d ops; %d ops ran in MPC and matched the "
         "executor (the others failed earlier)\n", refused[0], refused[1], refused[2], ran);
  assert_true(ran >= 3);
  /* the MPC check must have seen a real share of the ops, not only validation failures */
  assert_true(refused[1] >= 20);
  assert_true(refused[2] >= 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_print_matrix),
    cmocka_unit_test(test_executor_rows),
    cmocka_unit_test(test_domains),
    cmocka_unit_test(test_backends_refuse_what_they_lack),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
