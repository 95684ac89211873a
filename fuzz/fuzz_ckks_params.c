/* fuzz_ckks_params.c - libFuzzer target for serialized CKKS parameter files: load (or be refused with
** PN_ERR_CORRUPT and a message), and use what loads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks.h"
#include "ckks_fuzz_common.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failure(const struct pn_ctx *ctx, int rc) {
  /* malformed -> CORRUPT; well-formed but above the 128-bit bound for its N -> INSECURE */
  if ((rc != PN_ERR_CORRUPT && rc != PN_ERR_INSECURE) || !pn_errmsg(ctx)[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  struct pn_ctx ctx = {0};
  uint8_t *own;
  const uint8_t *d = prepare(data, size, 1, &own);
  struct pn_ckks_params p;
  int rc = pn_ckks_load_params(&ctx, d, size, &p);
  if (rc) check_failure(&ctx, rc);
  else {
    /* loaded parameters must either build a context or be refused cleanly */
    struct pn_ckks_context *c2 = NULL;
    p.allow_insecure = 1;
    if (p.logn <= 8 && pn_ckks_context_new(&ctx, &p, &c2) == PN_OK) pn_ckks_context_free(c2);
  }
  free(own);
  return 0;
}
