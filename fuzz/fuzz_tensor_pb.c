/* fuzz_tensor_pb.c - libFuzzer target for TensorProto files (ONNX test data, input_0.pb): load, and
** if it loads, check the tensor's size against its shape and touch every byte. */
#include <stdint.h>
#include <stdlib.h>

#include "graph/onnx.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pn_ctx ctx = {0};
  struct pn_tensor *t;
  if (pn_tensor_load_pb(&ctx, data, size, &t) != PN_OK) {
    if (ctx.status >= 0 || !pn_errmsg(&ctx)[0]) abort();
    return 0;
  }
  if (!t->heap || t->ndim < 0 || t->ndim > PN_MAX_DIMS || pn_tensor_numel(t) < 0) abort();
  volatile uint8_t sum = 0;
  const uint8_t *p = t->data;
  for (size_t i = 0; i < pn_tensor_nbytes(t); i++) sum += p[i]; /* ASan checks the extent */
  (void)sum;
  pn_tensor_free(t);
  return 0;
}
