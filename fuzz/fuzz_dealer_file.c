/* fuzz_dealer_file.c - libFuzzer target for dealer files (mpc/dealer.h): a party opens a file and
** draws a fixed sequence of requests (every correlation kind) from it.
**
** Input byte 0: bit 0 clear, the rest is the whole file (party = bit 1); bit 0 set, the rest edits
** (fz_edit) a valid file recorded once for the same sequence (P1's with its corrections when bit 1
** is set, else P0's) and the trailing SHA-256 is recomputed, so that mutations reach the header
** fields and the records behind the checksum. Every failure must carry a code and a message. */
#include "fuzz_common.h"
#include "mpc/dealer.h"

static const struct pn_dealer_binding BIND = {.batch = 2, .frac = 16, .batches = 1};
static uint8_t *base[2];
static size_t base_n[2];

static int requests(struct pn_mpc_dealer *d, int party) {
  uint64_t a[160], b[160], c[160], e[160];
  int rc;
  if ((rc = pn_dealer_triple(d, party, 5, a, b, c)) || (rc = pn_dealer_matrix(d, party, 2, 3, 4, a, b, c)) ||
      (rc = pn_dealer_and(d, party, 7, a, b, c)) || (rc = pn_dealer_bit(d, party, 70, a, b)) ||
      (rc = pn_dealer_relu(d, party, 9, a, b, c, e)) || (rc = pn_dealer_lut(d, party, 9, 4, a, b)))
    return rc;
  return PN_OK;
}

static void setup(void) {
  if (base[0]) return;
  struct pn_ctx ctx = {0};
  uint8_t master[32] = {7};
  char p[2][64];
  struct pn_mpc_dealer *rec = NULL;
  for (int i = 0; i < 2; i++) snprintf(p[i], sizeof p[i], "/tmp/pn-fuzz-dealer-%d.p%d", (int)getpid(), i);
  if (pn_dealer_new_recorder(&ctx, master, &BIND, p[0], p[1], &rec) || requests(rec, 1) ||
      pn_dealer_finish(&ctx, rec))
    abort();
  pn_dealer_free(rec);
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(p[i], "rb");
    if (!f) abort();
    base[i] = malloc(1 << 16);
    base_n[i] = fread(base[i], 1, 1 << 16, f);
    fclose(f);
    unlink(p[i]);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  if (size < 1) return 0;
  int party = (data[0] >> 1) & 1;
  uint8_t *own;
  size_t n;
  const uint8_t *file = fz_file(data, size, base[party], base_n[party], fz_fix_sha256, &own, &n);
  const char *path = fz_write(file, n);
  struct pn_ctx ctx = {0};
  struct pn_mpc_dealer *d = NULL;
  int rc = pn_dealer_open_file(&ctx, path, party, &BIND, &d);
  fz_check(&ctx, rc);
  if (rc == PN_OK) fz_check(&ctx, requests(d, party));
  pn_dealer_free(d);
  free(own);
  return 0;
}
