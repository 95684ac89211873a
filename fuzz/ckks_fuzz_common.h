/* ckks_fuzz_common.h - shared set-up of the CKKS deserializer fuzzers: one small insecure context
** with keys, and a helper that gives half of the inputs a valid header so that the fuzzer spends
** its time in the payload checks. */
#ifndef PN_CKKS_FUZZ_COMMON_H
#define PN_CKKS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks.h"
#include "util/prg.h"
#include "util/status.h"

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
static inline const uint8_t *prepare(const uint8_t *data, size_t size, int type, uint8_t **own) {
  *own = NULL;
  if (size < 49 || !(data[0] & 1)) return data;
  uint8_t *b = malloc(size);
  if (!b) abort();
  memcpy(b, data, size);
  memcpy(b, "PNCK", 4);
  b[4] = 2; /* format version */
  b[5] = 0;
  b[6] = (uint8_t)type;
  b[7] = 0;
  if (type != 1) memcpy(b + 8, pn_ckks_fingerprint(C), 32);
  uint64_t pl = size - 48;
  for (int i = 0; i < 8; i++) b[40 + i] = (uint8_t)(pl >> (8 * i));
  *own = b;
  return b;
}

#endif
