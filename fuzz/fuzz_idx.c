/* fuzz_idx.c - libFuzzer target for IDX files (nn/dataset.h). Byte 0 picks the path: 0 parses the
** rest as an IDX image in memory; 1 reads the rest as a file (gzip or plain); 2 gzips the rest
** first, so IDX mutations also travel the gzip path. A parsed image has 1..4 dims whose product is
** its byte count. */
#include "fuzz_common.h"
#include "nn/dataset.h"

static void check(const struct pn_idx *x) {
  if (x->ndim < 1 || x->ndim > 4) abort();
  int64_t n = 1;
  for (int i = 0; i < x->ndim; i++) {
    if (x->dims[i] < 0) abort();
    n *= x->dims[i];
  }
  if (n > 0 && !x->data) abort();
  volatile uint8_t s = 0;
  for (int64_t i = 0; i < n; i++) s ^= x->data[i]; /* every byte readable (ASan) */
  (void)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  struct pn_ctx ctx = {0};
  struct pn_idx x = {0};
  int rc;
  switch (data[0] % 3) {
  case 0:
    rc = pn_idx_parse(&ctx, "fuzz.idx", data + 1, size - 1, &x);
    break;
  case 1:
    rc = pn_idx_read_gz(&ctx, fz_write(data + 1, size - 1), &x);
    break;
  default: {
    uLongf cap = compressBound((uLong)(size - 1)) + 32;
    uint8_t *gz = malloc(cap);
    if (!gz) abort();
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    zs.next_in = (Bytef *)(data + 1);
    zs.avail_in = (uInt)(size - 1);
    zs.next_out = gz;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) abort();
    size_t gn = cap - zs.avail_out;
    deflateEnd(&zs);
    rc = pn_idx_read_gz(&ctx, fz_write(gz, gn), &x);
    free(gz);
  }
  }
  fz_check(&ctx, rc);
  if (rc == PN_OK) check(&x);
  pn_idx_free(&x);
  return 0;
}
