/* fuzz_png.c - libFuzzer target for PNG images (privnn tensor, --input; decoded by libpng): parse
** the input as it is, and a copy whose chunk CRCs are recomputed (so mutations reach the IHDR,
** palette and zlib stream checks behind the CRC); an accepted image is uint8 [C, H, W] with C = 1
** or 3 within the size limits, every byte readable.
** Seeds: fuzz/seeds/png (grey, grey+alpha, RGB, RGBA, palette, 1/2/4/8/16-bit, a bad CRC). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "graph/tensor_io.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse(const uint8_t *data, size_t size) {
  struct pn_ctx ctx = {0};
  struct pn_tensor *t;
  if (pn_png_parse(&ctx, "fuzz.png", data, size, &t) != PN_OK) {
    if (ctx.status >= 0 || !pn_errmsg(&ctx)[0]) abort();
    return;
  }
  if (t->dtype != PN_DT_UINT8 || t->ndim != 3 || (t->dims[0] != 1 && t->dims[0] != 3) || t->dims[1] < 1 ||
      t->dims[2] < 1)
    abort();
  volatile uint8_t sum = 0;
  const uint8_t *p = t->data;
  for (size_t i = 0; i < pn_tensor_nbytes(t); i++) sum += p[i]; /* ASan checks the extent */
  (void)sum;
  pn_tensor_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  parse(data, size);
  if (size < 8 || memcmp(data, "\x89PNG\r\n\x1a\n", 8)) return 0;
  uint8_t *c = malloc(size);
  if (!c) return 0;
  memcpy(c, data, size);
  for (size_t at = 8; at + 12 <= size;) { /* length, type, data, CRC over type + data */
    size_t len = (size_t)c[at] << 24 | (size_t)c[at + 1] << 16 | (size_t)c[at + 2] << 8 | c[at + 3];
    if (len > size - at - 12) break;
    uLong crc = crc32(0L, c + at + 4, (uInt)(len + 4));
    for (int k = 0; k < 4; k++) c[at + 8 + len + (size_t)k] = (uint8_t)(crc >> (24 - 8 * k));
    at += len + 12;
  }
  parse(c, size);
  free(c);
  return 0;
}
