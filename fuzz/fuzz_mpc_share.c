/* fuzz_mpc_share.c - libFuzzer target for MPC share files (`mpc share` inputs, `mpc party`
** outputs): parse, and if it parses, touch every ring element the header promises. */
#include <stdint.h>
#include <stdlib.h>

#include "mpc/share.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pn_ctx ctx = {0};
  struct pn_mpc_share_file f;
  if (pn_mpc_share_parse(&ctx, "fuzz", data, size, &f) != PN_OK) {
    if (ctx.status >= 0 || !pn_errmsg(&ctx)[0]) abort();
    return 0;
  }
  if (f.kind != PN_SHARE_INPUT_SEED) {
    volatile uint64_t sum = 0;
    for (uint64_t i = 0; i < f.batches * f.words; i++) sum += f.data[i]; /* ASan checks the extent */
    (void)sum;
  }
  pn_mpc_share_free(&f);
  return 0;
}
