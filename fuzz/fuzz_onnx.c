/* fuzz_onnx.c - libFuzzer target for the ONNX model loader: load, and if it loads, save, reload,
** compare the two saves byte for byte, and validate (which may fail, but cleanly). Loading with the
** float weights left in the buffer (pn_onnx_load_ref, its message rewritten without them, from 4
** bytes here) must give the same result: the same code and message, or a graph saving to the same
** bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graph/onnx.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pn_ctx ctx = {0}, rctx = {0};
  struct pn_graph *g, *r;
  int rc0 = pn_onnx_load(&ctx, data, size, &g), rcr = pn_onnx_load_ref(&rctx, data, size, NULL, 4, &r);
  if (rc0 != rcr || (rc0 && strcmp(pn_errmsg(&ctx), pn_errmsg(&rctx)))) abort();
  if (rc0 != PN_OK) {
    if (ctx.status >= 0 || !pn_errmsg(&ctx)[0])
      abort(); /* a failure must carry a code and a message */
    return 0;
  }
  uint8_t *b1 = NULL, *b2 = NULL, *br = NULL;
  size_t n1 = 0, n2 = 0, nr = 0;
  struct pn_graph *h = NULL;
  /* anything the loader accepts must save and reload to the same bytes */
  if (pn_onnx_save(&ctx, g, &b1, &n1) != PN_OK) abort();
  if (pn_onnx_save(&ctx, r, &br, &nr) != PN_OK || nr != n1 || memcmp(b1, br, n1)) abort();
  free(br);
  pn_graph_free(r);
  if (pn_onnx_load(&ctx, b1, n1, &h) != PN_OK) abort();
  if (pn_onnx_save(&ctx, h, &b2, &n2) != PN_OK) abort();
  if (n1 != n2 || memcmp(b1, b2, n1) != 0) abort();
  int rc = pn_graph_validate(&ctx, h);
  if (rc != PN_OK && !pn_errmsg(&ctx)[0]) abort();
  free(b1);
  free(b2);
  pn_graph_free(h);
  pn_graph_free(g);
  return 0;
}
