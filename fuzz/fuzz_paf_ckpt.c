/* fuzz_paf_ckpt.c - libFuzzer target for SmartPAF checkpoints: the container (sections, lengths,
** CRC), then the state JSON validated against a default configuration, then the embedded model. A
** failure must carry a code and a message; nothing may crash or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/onnx.h"
#include "paf/paf_impl.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pn_ctx ctx = {0};
  struct paf_ckpt_view v;
  if (paf_ckpt_parse(&ctx, "fuzz", data, size, &v) != PN_OK) {
    if (ctx.status >= 0 || !pn_errmsg(&ctx)[0]) abort();
    return 0;
  }
  for (int a = 0; a < 4; a++) /* every array lies inside the input */
    if (v.arr_len[a] && ((const uint8_t *)v.arr[a] < data ||
                         (const uint8_t *)(v.arr[a] + v.arr_len[a]) > data + size))
      abort();
  struct pn_paf_cfg cfg;
  pn_paf_cfg_defaults(&cfg, PN_PAF_F1G2);
  struct pn_paf_report *rep = calloc(1, sizeof *rep);
  struct paf_state *st = calloc(1, sizeof *st);
  if (!rep || !st) abort();
  rep->n_sites = 5;
  int n_opt = 0;
  if (paf_ckpt_state(&ctx, "fuzz", v.state_json, v.state_len, &cfg, 5, st, rep, &n_opt) != PN_OK &&
      (ctx.status >= 0 || !pn_errmsg(&ctx)[0]))
    abort();
  struct pn_graph *g = NULL;
  if (pn_onnx_load(&ctx, v.model, v.model_len, &g) == PN_OK) pn_graph_free(g);
  free(rep);
  free(st);
  return 0;
}
