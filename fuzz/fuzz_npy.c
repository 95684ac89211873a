/* fuzz_npy.c - libFuzzer target for NumPy .npy files (privnn tensor, --input): parse; an accepted
** array's bytes match its shape and dtype, and it survives a save and a second parse unchanged.
** Seeds: fuzz/seeds/npy (numpy-written arrays of every accepted dtype, header versions 1-3, and
** the refused kinds: Fortran order, big-endian, object, structured). */
#include <stdlib.h>
#include <string.h>

#include "graph/tensor_io.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pn_ctx ctx = {0};
  struct pn_tensor *t, *u;
  if (pn_npy_parse(&ctx, "fuzz.npy", data, size, &t) != PN_OK) {
    if (ctx.status >= 0 || !pn_errmsg(&ctx)[0]) abort();
    return 0;
  }
  if (t->ndim < 0 || t->ndim > PN_MAX_DIMS || pn_tensor_numel(t) < 0 ||
      pn_tensor_nbytes(t) != (size_t)pn_tensor_numel(t) * pn_dtype_size(t->dtype))
    abort();
  uint8_t *buf;
  size_t n;
  if (pn_npy_save(&ctx, t, &buf, &n) != PN_OK) abort();
  if (pn_npy_parse(&ctx, "again.npy", buf, n, &u) != PN_OK) abort();
  if (u->dtype != t->dtype || u->ndim != t->ndim || memcmp(u->dims, t->dims, sizeof(int64_t) * (size_t)t->ndim) ||
      memcmp(u->data, t->data, pn_tensor_nbytes(t)))
    abort();
  free(buf);
  pn_tensor_free(u);
  pn_tensor_free(t);
  return 0;
}
