/* pn_test.h - what the C tests share: the run's random seed.
**
** A randomised test takes its seed from pn_test_seed(): PN_TEST_SEED=<u64> (decimal or 0x-hex)
** replays a run, otherwise the test's own fixed default is used, or a fresh seed from the OS when
** the default is PN_TEST_SEED_FRESH. The seed is printed as "# NAME: PN_TEST_SEED=S", so any
** failure in a log can be replayed. A PN_TEST_SEED that is not a number stops the test (a typo must
** not quietly test another seed). */
#ifndef PN_TEST_H
#define PN_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/prg.h"

#define PN_TEST_SEED_FRESH UINT64_MAX

static inline uint64_t pn_test_seed(const char *name, uint64_t fallback) {
  uint64_t seed = fallback;
  const char *e = getenv("PN_TEST_SEED");
  if (e && *e) {
    char *end;
    errno = 0;
    seed = strtoull(e, &end, 0);
    if (errno || *end) {
      fprintf(stderr, "%s: PN_TEST_SEED='%s' is not an unsigned integer\n", name, e);
      exit(2);
    }
  } else if (fallback == PN_TEST_SEED_FRESH && pn_getrandom(NULL, &seed, sizeof seed)) {
    seed = 1;
  }
  printf("# %s: PN_TEST_SEED=%" PRIu64 "\n", name, seed);
  fflush(stdout);
  return seed;
}

#endif
