/* progress.c - TTY progress bar: [#####.....] done/total rate ETA extra, redrawn in place. */
#include "util/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fileio.h"

void pn_progress_start(struct pn_progress *p, const char *label, uint64_t total) {
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "%s", label ? label : "");
  p->total = total;
  p->t0 = pn_now();
  p->enabled = isatty(STDERR_FILENO) && !getenv("PN_NO_PROGRESS");
}

static void fmt_secs(char *buf, size_t n, double s) {
  if (s < 0 || s > 1e7) snprintf(buf, n, "--:--");
  else if (s >= 3600) snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
  else snprintf(buf, n, "%02d:%02d", (int)s / 60, (int)s % 60);
}

void pn_progress_update(struct pn_progress *p, uint64_t done, const char *extra) {
  p->done = done;
  if (!p->enabled) return;
  double now = pn_now();
  if (p->drawn && now - p->last_draw < 0.1 && done < p->total) return;
  p->last_draw = now;
  p->drawn = 1;
  double el = now - p->t0, rate = el > 0 ? (double)done / el : 0;
  char eta[32], ela[32];
  fmt_secs(ela, sizeof ela, el);
  if (p->total && rate > 0) fmt_secs(eta, sizeof eta, (double)(p->total - done) / rate);
  else snprintf(eta, sizeof eta, "--:--");
  if (p->total) {
    const int width = 24;
    int fill = (int)((double)done / (double)p->total * width);
    if (fill > width) fill = width;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r\033[K%s [%s] %llu/%llu %.1f/s %s ETA %s%s%s", p->label, bar,
            (unsigned long long)done, (unsigned long long)p->total, rate, ela, eta,
            extra ? "  " : "", extra ? extra : "");
  } else {
    fprintf(stderr, "\r\033[K%s %llu %.1f/s %s%s%s", p->label, (unsigned long long)done, rate, ela,
            extra ? "  " : "", extra ? extra : "");
  }
  fflush(stderr);
}

void pn_progress_end(struct pn_progress *p) {
  if (p->enabled && p->drawn) {
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
  }
  p->drawn = 0;
}
