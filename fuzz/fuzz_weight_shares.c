/* fuzz_weight_shares.c - libFuzzer target for weight share files (mpc/runner.h, weights.c).
**
** Input byte 0: bit 0 clear, the rest is the whole file (party = bit 1); bit 0 set, the rest edits
** a valid file written once (P0's table of two entries when bit 1 is clear, else P1's seed file)
** and its trailing SHA-256 is recomputed. A file that loads must give the entries it was written
** with when unedited. */
#include "fuzz_common.h"
#include "mpc/runner.h"

static const uint8_t MODEL[32] = {9, 9, 9};
static uint8_t *base[2];
static size_t base_n[2];

static void setup(void) {
  if (base[0]) return;
  struct pn_ctx ctx = {0};
  struct pn_mpc_wtable t = {0};
  uint64_t w[5] = {1, 2, 3, (uint64_t)-4, 5};
  uint8_t seed[32] = {4};
  if (pn_mpc_wtable_add(&t, "conv1.weight", 3, w) || pn_mpc_wtable_add(&t, "fc#g1", 2, w + 3)) abort();
  for (int p = 0; p < 2; p++) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/pn-fuzz-wt-%d.%d", (int)getpid(), p);
    if (pn_mpc_wfile_write(&ctx, path, p, &t, MODEL, seed, 16)) abort();
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    base[p] = malloc(1 << 16);
    base_n[p] = fread(base[p], 1, 1 << 16, f);
    fclose(f);
    unlink(path);
  }
  pn_mpc_wtable_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  if (size < 1) return 0;
  int party = (data[0] >> 1) & 1;
  uint8_t *own;
  size_t n;
  const uint8_t *file = fz_file(data, size, base[party], base_n[party], fz_fix_sha256, &own, &n);
  struct pn_ctx ctx = {0};
  struct pn_mpc_wtable t = {0};
  uint8_t seed[32];
  int rc = pn_mpc_wfile_read(&ctx, fz_write(file, n), party, MODEL, &t, seed);
  fz_check(&ctx, rc);
  if (rc == PN_OK && (data[0] & 1) && size == 1 && party == 0 &&
      (t.n != 2 || t.e[0].n != 3 || t.e[1].w[0] != (uint64_t)-4))
    abort(); /* the unedited file reads back as written */
  pn_mpc_wtable_free(&t);
  free(own);
  return 0;
}
