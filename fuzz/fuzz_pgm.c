/* fuzz_pgm.c - libFuzzer target for PGM images, P2 and P5 (privnn tensor, --input): parse; an
** accepted image is [1, H, W], uint8 for maxval 255, else float32 in [0, 1].
** Seeds: fuzz/seeds/pgm (P2 with comments, P5 8-bit, P5 16-bit, odd maxvals, truncated rasters). */
#include <stdlib.h>

#include "graph/tensor_io.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pn_ctx ctx = {0};
  struct pn_tensor *t;
  if (pn_pgm_parse(&ctx, "fuzz.pgm", data, size, &t) != PN_OK) {
    if (ctx.status >= 0 || !pn_errmsg(&ctx)[0]) abort();
    return 0;
  }
  if (t->ndim != 3 || t->dims[0] != 1 || t->dims[1] < 1 || t->dims[2] < 1 ||
      (t->dtype != PN_DT_UINT8 && t->dtype != PN_DT_FLOAT))
    abort();
  if (t->dtype == PN_DT_FLOAT)
    for (int64_t i = 0; i < pn_tensor_numel(t); i++) {
      float v = ((const float *)t->data)[i];
      if (!(v >= 0 && v <= 1)) abort();
    }
  pn_tensor_free(t);
  return 0;
}
