/* fhe_fuzz_common.h - shared set-up of the FHE fuzzers: the tiny model they compile (x [1,1,2,2] ->
** Flatten -> Gemm 4 -> 2, at an insecure test ring). */
#ifndef PN_FHE_FUZZ_COMMON_H
#define PN_FHE_FUZZ_COMMON_H

#include <stdlib.h>

#include "fhe/fhe.h"
#include "graph/ir.h"
#include "util/status.h"

static struct pn_fhe_plan *fuzz_fhe_plan(void) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = pn_graph_new();
  int64_t d[4] = {1, 1, 2, 2}, wd[2] = {2, 4}, bd[1] = {2};
  if (!g || !pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, d)) abort();
  struct pn_tensor *w = pn_graph_new_init(g, "w", PN_DT_FLOAT, 2, wd), *b = pn_graph_new_init(g, "b", PN_DT_FLOAT, 1, bd);
  if (!w || !b) abort();
  for (int i = 0; i < 8; i++) ((float *)w->data)[i] = (float)(i % 3) - 1;
  ((float *)b->data)[0] = 0.5f, ((float *)b->data)[1] = -0.25f;
  const char *x = "x", *f = "f", *in[3] = {"f", "w", "b"}, *y = "y";
  struct pn_node *fl = pn_graph_add_node(g, "Flatten", "flat", 1, &x, 1, &f);
  struct pn_node *gm = pn_graph_add_node(g, "Gemm", "gemm", 3, in, 1, &y);
  if (!fl || !gm || pn_node_set_int(g, gm, "transB", 1) || !pn_graph_add_output(g, "y", PN_DT_FLOAT, -1, NULL)) abort();
  struct pn_fhe_opts o;
  pn_fhe_opts_default(&o);
  o.allow_insecure = 1;
  struct pn_fhe_plan *p;
  if (pn_fhe_compile(&ctx, g, &o, &p)) abort();
  pn_graph_free(g);
  return p;
}

#endif
