/* fuzz_png.c - libFuzzer target for PNG images (privnn tensor, --input; decoded by libpng): parse;
** an accepted image is uint8 [C, H, W] with C = 1 or 3 within the size limits, every byte readable.
** Seeds: fuzz/seeds/png (grey, grey+alpha, RGB, RGBA, palette, 1/2/4/8/16-bit, a bad CRC). */
#include <stdlib.h>

#include "graph/tensor_io.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pn_ctx ctx = {0};
  struct pn_tensor *t;
  if (pn_png_parse(&ctx, "fuzz.png", data, size, &t) != PN_OK) {
    if (ctx.status >= 0 || !pn_errmsg(&ctx)[0]) abort();
    return 0;
  }
  if (t->dtype != PN_DT_UINT8 || t->ndim != 3 || (t->dims[0] != 1 && t->dims[0] != 3) || t->dims[1] < 1 ||
      t->dims[2] < 1)
    abort();
  volatile uint8_t sum = 0;
  const uint8_t *p = t->data;
  for (size_t i = 0; i < pn_tensor_nbytes(t); i++) sum += p[i]; /* ASan checks the extent */
  (void)sum;
  pn_tensor_free(t);
  return 0;
}
