/* strmap.h - string -> int map (open addressing); keys are borrowed, not copied. */
#ifndef PN_STRMAP_H
#define PN_STRMAP_H

#include <stddef.h>
#include "api.h"

struct pn_strmap {
  const char **keys;
  int *vals;
  size_t cap, len;
};

/* Zero-initialise the struct, then put/get. pn_strmap_free releases the table (not the keys). */
PN_API void pn_strmap_free(struct pn_strmap *m);
/* Insert or replace. key must outlive the map. Returns 0, or -1 when out of memory. */
PN_API int pn_strmap_put(struct pn_strmap *m, const char *key, int val);
/* The value for key, or def when absent. */
PN_API int pn_strmap_get(const struct pn_strmap *m, const char *key, int def);

#endif
