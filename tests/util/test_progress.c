/* test_progress.c - the progress bar: its text (units, rate, elapsed time, ETA) at chosen times,
** drawn on a terminal and only there, and PN_NO_PROGRESS turning it off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/progress.h"

/* A bar started "now - elapsed" seconds ago with done of total units. */
static const char *text(struct pn_progress *p, const char *unit, uint64_t done, uint64_t total,
                        double elapsed, const char *extra, char *buf, size_t n) {
  pn_progress_start_unit(p, "split", unit, total);
  p->done = done;
  p->t0 = 1000; /* exact: with t0 = pn_now(), (t0 + 5000) - t0 is 4999.99999... for ~5% of starts */
  return pn_progress_format(p, p->t0 + elapsed, extra, buf, n);
}

static void test_format(void **state) {
  (void)state;
  struct pn_progress p;
  char b[256];
  /* 25 of 100 parts in 10 s: 2.5 parts/s, 75 parts left = 30 s */
  assert_string_equal(text(&p, "parts", 25, 100, 10, NULL, b, sizeof b),
                      "split [######..................] 25/100 parts  2.5 parts/s  00:10 ETA 00:30");
  /* slower than a unit a second reads as seconds per unit; hours once past 3600 s */
  assert_string_equal(text(&p, "models", 2, 10, 5000, "training", b, sizeof b),
                      "split [####....................] 2/10 models  2500.0 s each  1:23:20 ETA 5:33:20  training");
  /* done: a full bar and nothing left */
  assert_string_equal(text(&p, "images", 40, 40, 4, NULL, b, sizeof b),
                      "split [########################] 40/40 images  10.0 images/s  00:04 ETA 00:00");
  /* unknown total: a count, no bar, no ETA; no unit: bare numbers */
  assert_string_equal(text(&p, NULL, 7, 0, 2, "partitioning", b, sizeof b), "split 7  3.5/s  00:02  partitioning");
  assert_string_equal(text(&p, "parts", 0, 0, 61, "partitioning", b, sizeof b), "split  01:01  partitioning");
  /* nothing done yet: no rate to guess an ETA from */
  assert_string_equal(text(&p, "parts", 0, 12, 3, NULL, b, sizeof b),
                      "split [........................] 0/12 parts  0.0 parts/s  00:03 ETA --:--");
}

/* Run body with stderr on a pseudo-terminal (or a pipe) and return what it wrote. */
static char *capture(bool tty, void (*body)(void)) {
  int m = -1, s = -1, pfd[2];
  if (tty) {
    m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0);
    assert_int_equal(grantpt(m), 0);
    assert_int_equal(unlockpt(m), 0);
    s = open(ptsname(m), O_RDWR | O_NOCTTY);
    assert_true(s >= 0);
  } else {
    assert_int_equal(pipe(pfd), 0);
    m = pfd[0];
    s = pfd[1];
  }
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  assert_true(dup2(s, STDERR_FILENO) >= 0);
  body();
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(s);
  static char out[4096];
  size_t n = 0;
  struct pollfd pf = {m, POLLIN, 0};
  while (n + 1 < sizeof out && poll(&pf, 1, 100) > 0) {
    ssize_t r = read(m, out + n, sizeof out - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  out[n] = 0;
  close(m);
  return out;
}

static void draw(void) {
  struct pn_progress p;
  pn_progress_start_unit(&p, "join", "parts", 4);
  pn_progress_update(&p, 4, "saving");
  pn_progress_end(&p);
}

static void test_tty_only(void **state) {
  (void)state;
  unsetenv("PN_NO_PROGRESS");
  const char *o = capture(true, draw);
  assert_non_null(strstr(o, "join [########################] 4/4 parts"));
  assert_non_null(strstr(o, "saving"));
  assert_non_null(strstr(o, "\r\033[K")); /* drawn in place, then cleared */
  /* a pipe (a log, CI) gets nothing */
  o = capture(false, draw);
  assert_string_equal(o, "");
  /* nor does a terminal when the user said so */
  setenv("PN_NO_PROGRESS", "1", 1);
  o = capture(true, draw);
  assert_string_equal(o, "");
  unsetenv("PN_NO_PROGRESS");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_format),
    cmocka_unit_test(test_tty_only),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
