/* wipe.h - erase secrets (shares, keys, seeds, noise) so the compiler cannot optimise it away. */
#ifndef PN_WIPE_H
#define PN_WIPE_H

#include <stddef.h>
#include "api.h"

PN_API void pn_wipe(void *p, size_t n);
/* Wipe n bytes at p, then free(p). NULL does nothing. */
PN_API void pn_wipe_free(void *p, size_t n);

#endif
