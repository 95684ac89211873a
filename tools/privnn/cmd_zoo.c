/* cmd_zoo.c - `privnn zoo NAME -o FILE`: write a reference architecture with deterministic weights. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "graph/onnx.h"
#include "graph/stats.h"
#include "graph/zoo.h"
#include "util/status.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: privnn zoo NAME -o FILE.onnx [options]\n\n"
          "Write a reference architecture as ONNX (opset 17) with deterministic random weights\n"
          "(He-normal conv/linear, BatchNorm/LayerNorm near the identity).\n\n"
          "models:");
  for (const char *const *n = pn_zoo_names(); *n; n++) fprintf(f, " %s", *n);
  fprintf(f,
          "\n\noptions:\n"
          "  -o, --output FILE      where to write the model (written atomically)\n"
          "  --input-shape NxCxHxW  CNN input shape (default 1x3x224x224); for bert BATCHxSEQ[xHIDDEN]\n"
          "  --seed S               weight seed (default 0)\n"
          "  --classes N            classifier outputs of the CNNs (default 1000)\n"
          "  --layers L             bert encoder layers (default 12)\n"
          "  --hidden H             bert hidden size (default 768)\n"
          "  --heads A              bert attention heads (default 12)\n"
          "  --seq S                bert sequence length (default 128)\n"
          "  --intermediate I       bert FFN width (default 4*hidden)\n"
          "  --batch B              bert batch (default 1)\n"
          "  -h, --help             this text\n");
}

int pn_cmd_zoo(int argc, char **argv) {
  const char *cmd = "zoo", *name = NULL, *outp = NULL, *v;
  struct pn_zoo_opts o = {0};
  struct pn_cli_args a = {argc, argv, 1, cmd, 0};
  struct {
    const char *opt;
    int64_t *dst;
    int64_t hi;
  } ints[] = {{"--classes", &o.num_classes, 1 << 24}, {"--layers", &o.layers, 1000},
              {"--hidden", &o.hidden, 1 << 16},       {"--heads", &o.heads, 1 << 12},
              {"--seq", &o.seq, 1 << 20},             {"--intermediate", &o.intermediate, 1 << 18},
              {"--batch", &o.batch, 1 << 16}};
  for (; a.i < argc; a.i++) {
    if (pn_cli_flag(&a, "--help", "-h")) {
      usage(stdout);
      return PN_EXIT_OK;
    }
    if (pn_cli_opt(&a, "--output", "-o", &v)) {
      if (a.err) return a.err;
      outp = v;
      continue;
    }
    if (pn_cli_opt(&a, "--input-shape", NULL, &v)) {
      if (a.err) return a.err;
      if (pn_cli_shape(cmd, "--input-shape", v, &o.ndim, o.dims)) return PN_EXIT_USAGE;
      continue;
    }
    if (pn_cli_opt(&a, "--seed", NULL, &v)) {
      if (a.err || pn_cli_u64(cmd, "--seed", v, &o.seed)) return PN_EXIT_USAGE;
      continue;
    }
    bool matched = false;
    for (size_t k = 0; k < sizeof ints / sizeof *ints && !matched; k++)
      if (pn_cli_opt(&a, ints[k].opt, NULL, &v)) {
        if (a.err || pn_cli_i64(cmd, ints[k].opt, v, 1, ints[k].hi, ints[k].dst))
          return PN_EXIT_USAGE;
        matched = true;
      }
    if (matched) continue;
    if (argv[a.i][0] == '-') return pn_cli_usage(cmd, "unknown option '%s'", argv[a.i]);
    if (name) return pn_cli_usage(cmd, "more than one model name ('%s', '%s')", name, argv[a.i]);
    name = argv[a.i];
  }
  if (!name) return pn_cli_usage(cmd, "no model name given");
  if (!outp) return pn_cli_usage(cmd, "no output file given (-o FILE.onnx)");
  /* the encoder's options mean nothing to the CNNs: refuse them instead of ignoring them */
  bool bert = !strcmp(name, "bert");
  for (size_t k = 1; k < sizeof ints / sizeof *ints; k++)
    if (!bert && *ints[k].dst)
      return pn_cli_usage(cmd, "%s applies to bert only", ints[k].opt);
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
  pn_stats_free(&s);
  pn_graph_free(g);
  return PN_EXIT_OK;
}
