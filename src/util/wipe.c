/* wipe.c - explicit_bzero-based erasure of secrets. */
#include "util/wipe.h"

#include <stdlib.h>
#include <string.h>

void pn_wipe(void *p, size_t n) {
  if (p && n) explicit_bzero(p, n);
}

void pn_wipe_free(void *p, size_t n) {
  if (!p) return;
  explicit_bzero(p, n);
  free(p);
}
