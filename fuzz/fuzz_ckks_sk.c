/* fuzz_ckks_sk.c - libFuzzer target for serialized CKKS secret keys: load (or be refused with
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
  const uint8_t *d = prepare(data, size, 4, &own);
  struct pn_ckks_sk *sk = NULL;
  int rc = pn_ckks_load_sk(&ctx, C, d, size, &sk);
  if (rc) check_failure(&ctx, rc);
  pn_ckks_sk_free(sk);
  free(own);
  return 0;
}
