/* fuzz_ckks_pt.c - libFuzzer target for serialized CKKS plaintexts: load (or be refused with
** PN_ERR_CORRUPT and a message), and use what loads. */
#include <complex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A small (insecure, N = 32) context and keys, made once. */
static struct pn_ckks_context *C;
static struct pn_ckks_sk *SK;
static struct pn_ckks_pk *PK;

static void setup(void) {
  if (C) return;
  struct pn_ctx ctx = {0};
  struct pn_ckks_params p = {.logn = 5, .nq = 3, .q_bits = {45, 40, 40}, .np = 2, .p_bits = {45, 45},
                             .dnum = 2, .scale_bits = 40, .allow_insecure = 1};
  struct pn_prg prg;
  if (pn_ckks_context_new(&ctx, &p, &C) || pn_prg_init_u64(&ctx, &prg, 1)) abort();
  if (pn_ckks_keygen_secret(&ctx, C, &prg, &SK) || pn_ckks_keygen_public(&ctx, C, SK, &prg, &PK)) abort();
  pn_prg_free(&prg);
}

/* With the low bit of the first byte set, the input is given a valid header of type `type` (magic,
** version, fingerprint, payload length) so that the fuzzer spends its time in the payload checks. */
static const uint8_t *prepare(const uint8_t *data, size_t size, int type, uint8_t **own) {
  *own = NULL;
  if (size < 49 || !(data[0] & 1)) return data;
  uint8_t *b = malloc(size);
  if (!b) abort();
  memcpy(b, data, size);
  memcpy(b, "PNCK", 4);
  b[4] = 1;
  b[5] = 0;
  b[6] = (uint8_t)type;
  b[7] = 0;
  if (type != 1) memcpy(b + 8, pn_ckks_fingerprint(C), 32);
  uint64_t pl = size - 48;
  for (int i = 0; i < 8; i++) b[40 + i] = (uint8_t)(pl >> (8 * i));
  *own = b;
  return b;
}

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
