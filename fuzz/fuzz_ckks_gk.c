/* fuzz_ckks_gk.c - libFuzzer target for serialized CKKS Galois key sets: load (or be refused with
** PN_ERR_CORRUPT and a message), and use what loads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks.h"
#include "ckks_fuzz_common.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failure(const struct pn_ctx *ctx, int rc) {
  if (rc != PN_ERR_CORRUPT || !pn_errmsg(ctx)[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  struct pn_ctx ctx = {0};
  uint8_t *own;
  const uint8_t *d = prepare(data, size, 7, &own);
  struct pn_ckks_gk *k = NULL;
  int rc = pn_ckks_load_gk(&ctx, C, d, size, &k);
  if (rc) check_failure(&ctx, rc);
  pn_ckks_gk_free(k);
  free(own);
  return 0;
}
