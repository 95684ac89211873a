/* fuzz_ckks_bootkeys.c - libFuzzer target for serialized bootstrapping keys: load (or be refused with
** PN_ERR_CORRUPT and a message), and build a bootstrapping context from what loads.
**
** The payload ends in a SHA-256 digest, which random bytes never match; so the low bits of the first byte
** choose a mode: 0 the input as it is; 1 a valid header, the input as payload and its digest fixed; 2 the
** valid keys of the fuzz context XORed with the input from an offset the next two bytes give, digest fixed
** (the parser's deep paths: counts, levels, forms, residues, missing keys); 3 the same without fixing the
** digest. The context is tiny and insecure (N = 64) so that keys are small. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckks/boot.h"
#include "ckks/ckks.h"
#include "util/prg.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pn_ckks_context *BC;
static struct pn_ckks_boot_params BP;
static struct pn_ckks_swk *RK;
static uint8_t *VALID;
static size_t VALID_LEN;

static void setup_boot(void) {
  if (BC) return;
  struct pn_ctx ctx = {0};
  /* q0 | 1 SlotToCoeff | 8 EvalMod (cosine degree 31, 2 double angles, no arcsine) | 1 CoeffToSlot */
  struct pn_ckks_params p = {.logn = 6, .nq = 11, .np = 2, .dnum = 0, .scale_bits = 40, .allow_insecure = 1};
  p.q_bits[0] = 50;
  p.q_bits[1] = 40;
  for (int i = 2; i < 10; i++) p.q_bits[i] = 55;
  p.q_bits[10] = 50;
  p.p_bits[0] = p.p_bits[1] = 61;
  BP = (struct pn_ckks_boot_params){.logslots = 3, .stc_levels = 1, .cts_levels = 1, .eph_weight = 32,
                                    .eph_base_bits = 4, .cos_degree = 31, .double_angles = 2, .arcsine_degree = 0};
  struct pn_prg prg;
  struct pn_ckks_sk *sk;
  struct pn_ckks_boot_keys *bk;
  if (pn_ckks_context_new(&ctx, &p, &BC) || pn_prg_init_u64(&ctx, &prg, 1) ||
      pn_ckks_keygen_secret(&ctx, BC, &prg, &sk) || pn_ckks_keygen_relin(&ctx, BC, sk, &prg, &RK) ||
      pn_ckks_boot_keygen(&ctx, BC, &BP, sk, &prg, &bk) || pn_ckks_save_boot_keys(&ctx, BC, bk, &VALID, &VALID_LEN))
    abort();
  pn_ckks_boot_keys_free(bk);
  pn_ckks_sk_free(sk);
  pn_prg_free(&prg);
}

static void fix_digest(uint8_t *b, size_t n) {
  if (n >= 48 + 32) pn_sha256(b + 48, n - 48 - 32, b + n - 32);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup_boot();
  struct pn_ctx ctx = {0};
  uint8_t *own = NULL;
  const uint8_t *d = data;
  size_t n = size;
  const int mode = size ? data[0] & 3 : 0;
  if (mode == 1 && size >= 49) {
    own = malloc(size);
    if (!own) abort();
    memcpy(own, data, size);
    memcpy(own, VALID, 48); /* magic, version, type, fingerprint */
    const uint64_t pl = size - 48;
    for (int i = 0; i < 8; i++) own[40 + i] = (uint8_t)(pl >> (8 * i));
    fix_digest(own, size);
    d = own;
  } else if (mode >= 2 && size >= 3) {
    own = malloc(VALID_LEN);
    if (!own) abort();
    memcpy(own, VALID, VALID_LEN);
    const size_t at = ((size_t)data[1] | (size_t)data[2] << 8) * 7 % VALID_LEN;
    for (size_t i = 3; i < size && at + i - 3 < VALID_LEN; i++) own[at + i - 3] ^= data[i];
    if (mode == 2) fix_digest(own, VALID_LEN);
    d = own;
    n = VALID_LEN;
  }
  struct pn_ckks_boot_keys *k = NULL;
  int rc = pn_ckks_load_boot_keys(&ctx, BC, &BP, d, n, &k);
  if (rc && (rc != PN_ERR_CORRUPT || !pn_errmsg(&ctx)[0])) abort();
  if (!rc) { /* what loads is complete: a context builds from it */
    struct pn_ckks_boot *b = NULL;
    if (pn_ckks_boot_new(&ctx, BC, &BP, RK, k, &b)) abort();
    pn_ckks_boot_free(b);
  }
  pn_ckks_boot_keys_free(k);
  free(own);
  return 0;
}
