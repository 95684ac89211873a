/* fuzz_ckks_pt.c - libFuzzer target for serialized CKKS plaintexts: load (or be refused with
** PN_ERR_CORRUPT and a message), and use what loads. */
#include <complex.h>
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
  const uint8_t *d = prepare(data, size, 3, &own);
  struct pn_ckks_pt *pt = pn_ckks_pt_new(C);
  double complex z[16];
  int rc = pn_ckks_load_pt(&ctx, C, d, size, pt);
  if (rc) check_failure(&ctx, rc);
  else if (pn_ckks_decode(&ctx, C, pt, z) != PN_OK) abort();
  pn_ckks_pt_free(pt);
  free(own);
  return 0;
}
