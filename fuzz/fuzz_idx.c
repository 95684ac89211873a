/* fuzz_idx.c - libFuzzer target for IDX files and IDX folders (nn/dataset.h). Byte 0 picks the
** path: 0 parses the rest as an IDX image in memory; 1 reads the rest as a file (gzip or plain); 2
** gzips the rest first, so IDX mutations also travel the gzip path; 3 cuts the rest into the four
** files of a folder (three little-endian uint16 lengths, then train images, train labels, test
** images, test labels: what remains) and loads it as a dataset. A parsed image has 1..4 dims whose
** product is its byte count; a loaded dataset has consistent shapes, counts and labels. */
#include <sys/stat.h>

#include "fuzz_common.h"
#include "nn/dataset.h"

static void check_dataset(const struct pn_dataset *ds) {
  if (ds->channels < 1 || ds->height < 1 || ds->width < 1 ||
      ds->pixels != (int64_t)ds->channels * ds->height * ds->width)
    abort();
  if (ds->classes < 1 || ds->classes > PN_DATASET_MAX_CLASSES) abort();
  if (ds->n[PN_SPLIT_TRAIN] < 1 || ds->n[PN_SPLIT_VAL] != pn_dataset_val_count(ds->n[0] + ds->n[1]) ||
      ds->n[PN_SPLIT_TEST] < 1)
    abort();
  volatile uint8_t x = 0;
  for (int s = 0; s < PN_SPLIT_COUNT; s++) {
    for (int64_t i = 0; i < ds->n[s]; i++) {
      if (ds->labels[s][i] >= ds->classes) abort();
      x ^= ds->images[s][i * ds->pixels] ^ ds->images[s][(i + 1) * ds->pixels - 1]; /* readable (ASan) */
    }
  }
  (void)x;
  if (!(ds->std > 0)) abort();
}

/* The folder of this process with the four files cut from d[0..n). */
static const char *write_folder(const uint8_t *d, size_t n) {
  static char dir[64];
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "%s/pn-fuzz-idx-%d", fz_dir(), (int)getpid());
    mkdir(dir, 0700);
  }
  static const char *const names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  size_t len[4], at = 6 < n ? 6 : n;
  for (int i = 0; i < 3; i++) len[i] = 2 * i + 1 < (int)n ? (size_t)(d[2 * i] | d[2 * i + 1] << 8) : 0;
  char path[128];
  for (int i = 0; i < 4; i++) {
    size_t k = i < 3 ? (len[i] < n - at ? len[i] : n - at) : n - at;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (k && fwrite(d + at, 1, k, f) != k) abort();
    fclose(f);
    at += k;
  }
  return dir;
}

static void check(const struct pn_idx *x) {
  if (x->ndim < 1 || x->ndim > 4) abort();
  int64_t n = 1;
  for (int i = 0; i < x->ndim; i++) {
    if (x->dims[i] < 0) abort();
    n *= x->dims[i];
  }
  if (n > 0 && !x->data) abort();
  volatile uint8_t s = 0;
  for (int64_t i = 0; i < n; i++) s ^= x->data[i]; /* every byte readable (ASan) */
  (void)s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  struct pn_ctx ctx = {0};
  struct pn_idx x = {0};
  int rc;
  if (data[0] % 4 == 3) {
    struct pn_dataset ds;
    rc = pn_dataset_load(&ctx, write_folder(data + 1, size - 1), &ds);
    fz_check(&ctx, rc);
    if (rc == PN_OK) check_dataset(&ds);
    pn_dataset_free(&ds);
    return 0;
  }
  switch (data[0] % 4) {
  case 0:
    rc = pn_idx_parse(&ctx, "fuzz.idx", data + 1, size - 1, &x);
    break;
  case 1:
    rc = pn_idx_read_gz(&ctx, fz_write(data + 1, size - 1), &x);
    break;
  default: {
    uLongf cap = compressBound((uLong)(size - 1)) + 32;
    uint8_t *gz = malloc(cap);
    if (!gz) abort();
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
    zs.next_in = (Bytef *)(data + 1);
    zs.avail_in = (uInt)(size - 1);
    zs.next_out = gz;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) abort();
    size_t gn = cap - zs.avail_out;
    deflateEnd(&zs);
    rc = pn_idx_read_gz(&ctx, fz_write(gz, gn), &x);
    free(gz);
  }
  }
  fz_check(&ctx, rc);
  if (rc == PN_OK) check(&x);
  pn_idx_free(&x);
  return 0;
}
