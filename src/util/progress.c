/* progress.c - TTY progress bar: LABEL [#####.....] done/total unit rate elapsed ETA extra, redrawn
** in place on stderr. PN_NO_PROGRESS (any value) turns every bar off, as does a stderr that is not
** a terminal (logs, pipes, CI). */
#include "util/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fileio.h"

void pn_progress_start_unit(struct pn_progress *p, const char *label, const char *unit, uint64_t total) {
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "%s", label ? label : "");
  snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
  p->total = total;
  p->t0 = pn_now();
  p->enabled = isatty(STDERR_FILENO) && !getenv("PN_NO_PROGRESS");
}

void pn_progress_start(struct pn_progress *p, const char *label, uint64_t total) {
  pn_progress_start_unit(p, label, NULL, total);
}

static void fmt_secs(char *buf, size_t n, double s) {
  if (s < 0 || s > 1e7) snprintf(buf, n, "--:--");
  else if (s >= 3600) snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
  else snprintf(buf, n, "%02d:%02d", (int)s / 60, (int)s % 60);
}

char *pn_progress_format(const struct pn_progress *p, double now, const char *extra, char *buf, size_t n) {
  uint64_t done = p->done;
  double el = now - p->t0, rate = el > 0 ? (double)done / el : 0;
  char eta[32], ela[32], rt[48], unit[32];
  fmt_secs(ela, sizeof ela, el);
  if (p->total && done >= p->total) snprintf(eta, sizeof eta, "00:00");
  else if (p->total && rate > 0) fmt_secs(eta, sizeof eta, (double)(p->total - done) / rate);
  else snprintf(eta, sizeof eta, "--:--");
  snprintf(unit, sizeof unit, "%s%s", p->unit[0] ? " " : "", p->unit);
  /* below one unit a second, the seconds each unit takes read better */
  if (rate >= 1 || done == 0) snprintf(rt, sizeof rt, "%.1f%s/s", rate, p->unit[0] ? unit : "");
  else snprintf(rt, sizeof rt, "%.1f s each", 1 / rate);
  const char *sep = extra && *extra ? "  " : "", *ex = extra ? extra : "";
  if (p->total) {
    enum { WIDTH = 24 };
    int fill = (int)((double)done / (double)p->total * WIDTH);
    if (fill > WIDTH) fill = WIDTH;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = 0;
    snprintf(buf, n, "%s [%s] %llu/%llu%s  %s  %s ETA %s%s%s", p->label, bar, (unsigned long long)done,
             (unsigned long long)p->total, unit, rt, ela, eta, sep, ex);
  } else if (done) {
    snprintf(buf, n, "%s %llu%s  %s  %s%s%s", p->label, (unsigned long long)done, unit, rt, ela, sep, ex);
  } else { /* nothing counted yet, total unknown: what is running and for how long */
    snprintf(buf, n, "%s  %s%s%s", p->label, ela, sep, ex);
  }
  return buf;
}

void pn_progress_update(struct pn_progress *p, uint64_t done, const char *extra) {
  p->done = done;
  if (!p->enabled) return;
  double now = pn_now();
  if (p->drawn && now - p->last_draw < 0.1 && done < p->total) return;
  p->last_draw = now;
  p->drawn = 1;
  char line[512];
  fprintf(stderr, "\r\033[K%s", pn_progress_format(p, now, extra, line, sizeof line));
  fflush(stderr);
}

void pn_progress_end(struct pn_progress *p) {
  if (p->enabled && p->drawn) {
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
  }
  p->drawn = 0;
}
