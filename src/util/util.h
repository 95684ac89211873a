/* util.h - the util layer in one include. */
#ifndef PN_UTIL_H
#define PN_UTIL_H

#include "util/arena.h"
#include "util/fileio.h"
#include "util/prg.h"
#include "util/progress.h"
#include "util/report.h"
#include "util/status.h"
#include "util/strmap.h"
#include "util/wipe.h"

#endif
