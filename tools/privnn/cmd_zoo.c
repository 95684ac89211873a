/* cmd_zoo.c - `privnn zoo NAME -o FILE`: write a reference architecture with deterministic weights. */
#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "graph/onnx.h"
#include "graph/stats.h"
#include "graph/zoo.h"
#include "util/status.h"

int pn_cmd_zoo(int argc, char **argv) {
  const char *cmd = "zoo", *name = NULL, *outp = NULL, *json = NULL;
  struct pn_zoo_opts o = {0};
  struct pn_cli_shape shape = {0};
  char about[512];
  size_t k = (size_t)snprintf(about, sizeof about,
                              "Write a reference architecture as ONNX (opset 17) with deterministic random\n"
                              "weights (He-normal conv/linear, BatchNorm/LayerNorm near the identity).\n\n"
                              "models:");
  for (const char *const *n = pn_zoo_names(); *n && k < sizeof about; n++)
    k += (size_t)snprintf(about + k, sizeof about - k, " %s", *n);
  const struct pn_cli_opt opts[] = {
    {"--output", "-o", PN_CLI_STR, &outp, "FILE", "where to write the model (atomically; required)"},
    {"--input-shape", NULL, PN_CLI_SHAPE, &shape, "NxCxHxW",
     "CNN input shape; Transformers BATCHxSEQ (bert also BATCHxSEQxHIDDEN)", 0, 0, NULL, "1x3x224x224"},
    {"--seed", NULL, PN_CLI_UINT, &o.seed, "S", "weight seed"},
    {"--classes", NULL, PN_CLI_INT, &o.num_classes, "N", "classifier outputs of the CNNs", 1, 1 << 24, NULL, "1000"},
    {"--layers", NULL, PN_CLI_INT, &o.layers, "L", "Transformer layers (distilbert 6)", 1, 1000, NULL, "12"},
    {"--hidden", NULL, PN_CLI_INT, &o.hidden, "H", "Transformer hidden size (xlm 2048)", 1, 1 << 16, NULL, "768"},
    {"--heads", NULL, PN_CLI_INT, &o.heads, "A", "attention heads (xlm 16)", 1, 1 << 12, NULL, "12"},
    {"--seq", NULL, PN_CLI_INT, &o.seq, "S", "Transformer sequence length", 1, 1 << 20, NULL, "128"},
    {"--intermediate", NULL, PN_CLI_INT, &o.intermediate, "I", "Transformer FFN width", 1, 1 << 18, NULL, "4*hidden"},
    {"--batch", NULL, PN_CLI_INT, &o.batch, "B", "Transformer batch", 1, 1 << 16, NULL, "1"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "report: input shape, parameters, MACs, nodes (- for stdout)"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "NAME -o FILE.onnx", about,
    "privnn zoo resnet18 --input-shape 1x3x32x32 --classes 10 -o build/r18.onnx", opts, "model name",
    &name, 1, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  o.ndim = shape.ndim;
  memcpy(o.dims, shape.dims, sizeof o.dims);
  if (!outp) return pn_cli_usage(cmd, "no output file given (-o FILE.onnx)");
  /* the encoder's options mean nothing to the CNNs: refuse them instead of ignoring them */
  bool bert = pn_zoo_is_transformer(name);
  for (int i = 4; !bert && opts[i].kind == PN_CLI_INT; i++) /* --layers .. --batch */
    if (*(int64_t *)opts[i].dst) return pn_cli_usage(cmd, "%s applies to the Transformers (bert, distilbert, roberta, gpt2, xlm) only", opts[i].name);
  if (bert && o.ndim == 3 && ((o.seq && o.seq != o.dims[1]) || (o.batch && o.batch != o.dims[0]) ||
                              (o.hidden && o.hidden != o.dims[2])))
    return pn_cli_usage(cmd, "--input-shape %lldx%lldx%lld disagrees with --batch/--seq/--hidden",
                        (long long)o.dims[0], (long long)o.dims[1], (long long)o.dims[2]);

  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  if (pn_zoo_build(&ctx, name, &o, &g) != PN_OK) return pn_cli_fail(cmd, &ctx);
  struct pn_stats s;
  int rc = pn_graph_stats(&ctx, g, &s);
  if (rc == PN_OK && pn_onnx_save_file(&ctx, g, outp) != PN_OK) {
    pn_stats_free(&s);
    rc = -1;
  }
  if (rc != PN_OK) {
    pn_graph_free(g);
    return pn_cli_fail(cmd, &ctx);
  }
  char in_s[128], p_s[32];
  pn_cli_value_str(in_s, sizeof in_s, &g->inputs[0]);
  printf("%s: %s, input %s, %s parameters (%.1f MB), %.3f GMACs, %d nodes\n", outp, name, in_s,
         pn_cli_thousands(p_s, sizeof p_s, s.params), (double)s.param_bytes / 1e6,
         (double)s.macs / 1e9, g->n_nodes);
  if (json) { /* the keys `privnn info --json` uses for the same quantities */
    cJSON *r = cJSON_CreateObject(), *sh = cJSON_CreateArray();
    cJSON_AddStringToObject(r, "model", name);
    cJSON_AddStringToObject(r, "output", outp);
    for (int i = 0; i < g->inputs[0].ndim; i++)
      cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)g->inputs[0].dims[i]));
    cJSON_AddItemToObject(r, "input_shape", sh);
    cJSON_AddNumberToObject(r, "nodes", g->n_nodes);
    cJSON_AddNumberToObject(r, "parameters", (double)s.params);
    cJSON_AddNumberToObject(r, "parameter_bytes", (double)s.param_bytes);
    cJSON_AddNumberToObject(r, "macs", (double)s.macs);
    rc = pn_cli_report(&ctx, cmd, json, r);
    cJSON_Delete(r);
  }
  pn_stats_free(&s);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}
