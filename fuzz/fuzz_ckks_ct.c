/* fuzz_ckks_ct.c - libFuzzer target for serialized CKKS ciphertexts: load (or be refused with
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
  const uint8_t *d = prepare(data, size, 2, &own);
  struct pn_ckks_ct *ct = pn_ckks_ct_new(C);
  struct pn_ckks_pt *pt = pn_ckks_pt_new(C);
  int rc = pn_ckks_load_ct(&ctx, C, d, size, ct);
  if (rc) check_failure(&ctx, rc);
  else if (pn_ckks_decrypt(&ctx, C, SK, ct, pt) != PN_OK) abort(); /* a loaded ct is usable */
  pn_ckks_pt_free(pt);
  pn_ckks_ct_free(ct);
  free(own);
  return 0;
}
