/* progress.h - a one-line progress bar on stderr, drawn only when stderr is a TTY. */
#ifndef PN_PROGRESS_H
#define PN_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct pn_progress {
  char label[64];
  char unit[24];            /* what done/total count ("images", "parts"); "" = unnamed */
  uint64_t total, done;
  double t0, last_draw;
  int enabled;              /* stderr is a TTY (and PN_NO_PROGRESS is unset) */
  int drawn;
};

/* Start a bar for `total` units of work (0 = unknown). */
void pn_progress_start(struct pn_progress *p, const char *label, uint64_t total);
/* The same, naming the unit counted ("images", "batches", "parts"): the bar then reads
** "12/40 parts  3.1 parts/s". */
void pn_progress_start_unit(struct pn_progress *p, const char *label, const char *unit, uint64_t total);
/* Report `done` units complete; `extra` (may be NULL) is appended, e.g. "loss 0.31 acc 0.89".
** Redraws at most 10 times a second; shows rate, elapsed time and ETA. */
void pn_progress_update(struct pn_progress *p, uint64_t done, const char *extra);
/* Clear the bar line. */
void pn_progress_end(struct pn_progress *p);
/* The bar's text at time `now` (pn_now() seconds) with p->done units complete, without the
** terminal's control codes: "LABEL [####....] DONE/TOTAL UNIT  RATE UNIT/s  ELAPSED ETA LEFT  EXTRA".
** What pn_progress_update draws; exposed for tests. Returns buf. */
char *pn_progress_format(const struct pn_progress *p, double now, const char *extra, char *buf, size_t n);

#endif
