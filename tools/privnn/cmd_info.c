/* cmd_info.c - `privnn info MODEL.onnx`: opset, producer, inputs/outputs, op histogram, parameters,
** MACs; optionally the same as a JSON report. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "graph/onnx.h"
#include "graph/stats.h"
#include "util/report.h"
#include "util/status.h"

static cJSON *value_json(const struct pn_value *v) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", v->name);
  cJSON_AddStringToObject(o, "dtype", pn_dtype_name(v->dtype));
  if (v->ndim < 0) {
    cJSON_AddNullToObject(o, "shape");
    return o;
  }
  cJSON *sh = cJSON_AddArrayToObject(o, "shape");
  for (int i = 0; i < v->ndim; i++) {
    if (v->dims[i] >= 0) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)v->dims[i]));
    else if (v->dim_param[i] && *v->dim_param[i])
      cJSON_AddItemToArray(sh, cJSON_CreateString(v->dim_param[i]));
    else cJSON_AddItemToArray(sh, cJSON_CreateNull());
  }
  return o;
}

static int write_json(struct pn_ctx *ctx, const char *path, const char *model,
                      const struct pn_graph *g, const struct pn_stats *s) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "model", model);
  cJSON_AddNumberToObject(r, "ir_version", (double)g->ir_version);
  cJSON *ops = cJSON_AddArrayToObject(r, "opsets");
  for (int i = 0; i < g->n_opsets; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "domain", g->opsets[i].domain ? g->opsets[i].domain : "");
    cJSON_AddNumberToObject(o, "version", (double)g->opsets[i].version);
    cJSON_AddItemToArray(ops, o);
  }
  cJSON_AddStringToObject(r, "producer_name", g->producer_name ? g->producer_name : "");
  cJSON_AddStringToObject(r, "producer_version", g->producer_version ? g->producer_version : "");
  cJSON_AddStringToObject(r, "graph_name", g->name ? g->name : "");
  cJSON *in = cJSON_AddArrayToObject(r, "inputs");
  for (int i = 0; i < g->n_inputs; i++)
    if (pn_graph_is_runtime_input(g, i)) cJSON_AddItemToArray(in, value_json(&g->inputs[i]));
  cJSON *out = cJSON_AddArrayToObject(r, "outputs");
  for (int i = 0; i < g->n_outputs; i++) cJSON_AddItemToArray(out, value_json(&g->outputs[i]));
  cJSON_AddNumberToObject(r, "nodes", s->n_nodes);
  cJSON_AddNumberToObject(r, "initializers", s->n_inits);
  cJSON_AddNumberToObject(r, "parameters", (double)s->params);
  cJSON_AddNumberToObject(r, "parameter_bytes", (double)s->param_bytes);
  cJSON_AddBoolToObject(r, "shapes_known", s->shapes_known);
  if (s->shapes_known) {
    cJSON_AddNumberToObject(r, "macs", (double)s->macs);
    cJSON_AddBoolToObject(r, "macs_partial", s->macs_partial);
    if (s->batch_symbolic) {
      cJSON_AddNumberToObject(r, "macs_per_image", (double)s->macs_per_image);
      cJSON_AddBoolToObject(r, "macs_per_image_partial", s->per_image_partial);
    }
    cJSON_AddNumberToObject(r, "elementwise", (double)s->elementwise);
  } else {
    cJSON_AddNullToObject(r, "macs");
    cJSON_AddStringToObject(r, "shape_error", s->shape_error);
  }
  cJSON *h = cJSON_AddObjectToObject(r, "ops");
  for (int i = 0; i < s->n_ops; i++) cJSON_AddNumberToObject(h, s->ops[i].op_type, s->ops[i].count);
  int rc = pn_cli_report(ctx, "info", path, r);
  cJSON_Delete(r);
  return rc;
}

int pn_cmd_info(int argc, char **argv) {
  const char *cmd = "info", *path = NULL, *json = NULL;
  const struct pn_cli_opt opts[] = {
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "also write the description as JSON"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "MODEL.onnx",
    "Describe an ONNX model: IR and opset versions, producer, inputs and outputs (symbolic dims\n"
    "by name), op histogram, parameter count and size, MACs of Conv/Gemm/MatMul, node count.",
    "privnn info models/cnn-s.onnx --json build/cnn-s.info.json", opts, "model", &path, 1, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;

  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  if (pn_onnx_load_file(&ctx, path, &g) != PN_OK) return pn_cli_fail(cmd, &ctx);
  struct pn_stats s;
  if (pn_graph_stats(&ctx, g, &s) != PN_OK) {
    pn_graph_free(g);
    return pn_cli_fail(cmd, &ctx);
  }
  char buf[256], n1[32];
  printf("%s\n", path);
  printf("  ir_version %lld, opsets", (long long)g->ir_version);
  for (int i = 0; i < g->n_opsets; i++)
    printf("%s %s %lld", i ? "," : "",
           g->opsets[i].domain && *g->opsets[i].domain ? g->opsets[i].domain : "ai.onnx",
           (long long)g->opsets[i].version);
  printf("\n  producer %s%s%s\n", g->producer_name && *g->producer_name ? g->producer_name : "?",
         g->producer_version && *g->producer_version ? " " : "",
         g->producer_version ? g->producer_version : "");
  printf("  graph '%s': %d nodes, %d initializers\n", g->name ? g->name : "", g->n_nodes, g->n_inits);
  printf("  inputs:\n");
  for (int i = 0; i < g->n_inputs; i++)
    if (pn_graph_is_runtime_input(g, i))
      printf("    %-24s %s\n", g->inputs[i].name, pn_cli_value_str(buf, sizeof buf, &g->inputs[i]));
  printf("  outputs:\n");
  for (int i = 0; i < g->n_outputs; i++)
    printf("    %-24s %s\n", g->outputs[i].name, pn_cli_value_str(buf, sizeof buf, &g->outputs[i]));
  printf("  parameters: %s (%.2f MB)\n", pn_cli_thousands(n1, sizeof n1, s.params),
         (double)s.param_bytes / 1e6);
  if (s.shapes_known && s.batch_symbolic)
    printf("  MACs: %.4f G%s per image (Conv/Gemm/MatMul; the batch dim is symbolic)\n",
           (double)s.macs_per_image / 1e9, s.per_image_partial ? " or more (other dims unknown)" : "");
  else if (s.shapes_known)
    printf("  MACs: %.4f G%s (Conv/Gemm/MatMul), other ops: %.4f G elements\n", (double)s.macs / 1e9,
           s.macs_partial ? " or more (some dims unknown)" : "", (double)s.elementwise / 1e9);
  else
    printf("  MACs: unknown (shape inference failed: %s)\n", s.shape_error);
  printf("  ops:");
  for (int i = 0; i < s.n_ops; i++) printf("%s %s %d", i ? "," : "", s.ops[i].op_type, s.ops[i].count);
  printf("\n");
  int rc = PN_EXIT_OK;
  if (json && write_json(&ctx, json, path, g, &s) != PN_OK) rc = pn_cli_fail(cmd, &ctx);
  /* info describes any model it can parse; whether privnn can run it is said on stderr: an invalid
  ** model (cycle, dangling input, bad attribute) is an error, an unsupported op only a note */
  struct pn_ctx vctx = {0};
  if (rc == PN_EXIT_OK && pn_graph_validate(&vctx, g) != PN_OK) {
    if (vctx.status == PN_ERR_UNSUPPORTED) {
      fprintf(stderr, "privnn info: note: %s: privnn cannot run this model: %s\n", path, pn_errmsg(&vctx));
    } else {
      pn_err_prefix(&vctx, "%s", path);
      rc = pn_cli_fail(cmd, &vctx);
    }
  }
  pn_stats_free(&s);
  pn_graph_free(g);
  return rc;
}
