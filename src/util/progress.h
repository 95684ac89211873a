/* progress.h - a one-line progress bar on stderr, drawn only when stderr is a TTY. */
#ifndef PN_PROGRESS_H
#define PN_PROGRESS_H

#include <stdint.h>

struct pn_progress {
  char label[64];
  uint64_t total, done;
  double t0, last_draw;
  int enabled;              /* stderr is a TTY (and PN_NO_PROGRESS is unset) */
  int drawn;
};

/* Start a bar for `total` units of work (0 = unknown). */
void pn_progress_start(struct pn_progress *p, const char *label, uint64_t total);
/* Report `done` units complete; `extra` (may be NULL) is appended, e.g. "loss 0.31 acc 0.89".
** Redraws at most 10 times a second; shows rate and ETA. */
void pn_progress_update(struct pn_progress *p, uint64_t done, const char *extra);
/* Clear the bar line. */
void pn_progress_end(struct pn_progress *p);

#endif
