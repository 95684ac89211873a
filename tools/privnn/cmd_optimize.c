/* cmd_optimize.c - `privnn optimize IN.onnx -o OUT.onnx`: privnn's own graph optimizer passes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "graph/onnx.h"
#include "graph/passes.h"
#include "util/fileio.h"
#include "util/report.h"
#include "util/status.h"

int pn_cmd_optimize(int argc, char **argv) {
  const char *cmd = "optimize", *in = NULL, *out = NULL, *json = NULL;
  const struct pn_cli_opt opts[] = {
    {"--output", "-o", PN_CLI_STR, &out, "FILE", "the optimized model (required)"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "report: per-pass rewrite counts, node counts, seconds"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "IN.onnx -o OUT.onnx",
    "Rewrite a model with privnn's own passes, all into standard ONNX ops so the result runs\n"
    "in privnn and in ONNX Runtime: Constant nodes to initializers, BatchNormalization folded\n"
    "into Conv, Identity/Dropout removed, MatMul+Add into Gemm (2-D), constant folding,\n"
    "unused initializers pruned. Conv+Relu stays two nodes (ONNX has no standard fused op).",
    "privnn optimize build/r18.onnx -o build/r18-opt.onnx", opts, "input model", &in, 1, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (!out) return pn_cli_usage(cmd, "no output given (-o OUT.onnx)");
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  double t0 = pn_now();
  if (pn_onnx_load_file(&ctx, in, &g)) return pn_cli_fail(cmd, &ctx);
  int before = g->n_nodes, counts[6] = {0}, rc;
  if ((rc = pn_graph_validate(&ctx, g))) pn_err_prefix(&ctx, "%s", in);
  if (!rc) rc = pn_optimize_graph(&ctx, g, counts);
  if (!rc && (rc = pn_graph_validate(&ctx, g))) pn_err_prefix(&ctx, "optimized model is invalid");
  if (!rc) rc = pn_onnx_save_file(&ctx, g, out);
  int after = g->n_nodes;
  pn_graph_free(g);
  if (rc) return pn_cli_fail(cmd, &ctx);
  double secs = pn_now() - t0;
  static const char *names[6] = {"constants_to_initializers", "bn_folded_into_conv",
                                 "identity_dropout_removed", "matmul_add_to_gemm",
                                 "constants_folded", "initializers_pruned"};
  printf("%s: %d nodes -> %d (", out, before, after);
  for (int i = 0; i < 6; i++) printf("%s%s %d", i ? ", " : "", names[i], counts[i]);
  printf("), %.2f s\n", secs);
  if (json) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "input", in);
    cJSON_AddStringToObject(r, "output", out);
    cJSON_AddNumberToObject(r, "nodes_before", before);
    cJSON_AddNumberToObject(r, "nodes_after", after);
    cJSON *p = cJSON_AddObjectToObject(r, "passes");
    for (int i = 0; i < 6; i++) cJSON_AddNumberToObject(p, names[i], counts[i]);
    cJSON_AddNumberToObject(r, "seconds", secs);
    rc = pn_cli_report(&ctx, cmd, json, r);
    cJSON_Delete(r);
    if (rc) return pn_cli_fail(cmd, &ctx);
  }
  return PN_EXIT_OK;
}
