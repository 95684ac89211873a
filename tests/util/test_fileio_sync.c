/* test_fileio_sync.c - deferred-durability writes: pn_write_file_atomic_nosync, pn_atomic_commit_nosync
** and pn_fsync_path (the bundle writer's "write everything, then sync once"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/status.h"

/* Entries of dir other than . and .., and whether any is a leftover temporary. */
static int count_entries(const char *dir, int *tmps) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  *tmps = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    n++;
    *tmps += strstr(e->d_name, ".tmp") != NULL;
  }
  closedir(d);
  return n;
}

/* n pseudo-random bytes (xorshift from seed), malloc'd. */
static uint8_t *random_bytes(size_t n, uint64_t x) {
  uint8_t *b = malloc(n ? n : 1);
  assert_non_null(b);
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b[i] = (uint8_t)x;
  }
  return b;
}

/* path holds exactly want[0..n). */
static void expect_file(const char *path, const uint8_t *want, size_t n) {
  struct pn_ctx ctx = {0};
  uint8_t *buf;
  size_t got;
  assert_int_equal(pn_read_file(&ctx, path, 0, &buf, &got), PN_OK);
  assert_int_equal(got, n);
  assert_memory_equal(buf, want, n);
  free(buf);
}

static void test_nosync_writes(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  char dir[] = "/tmp/pn_sync_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[300];
  /* many files, with distinct contents, then one sync pass */
  enum { NF = 20 };
  for (int i = 0; i < NF; i++) {
    char body[64];
    int len = snprintf(body, sizeof body, "file %d of %d", i, NF);
    snprintf(path, sizeof path, "%s/f%02d.bin", dir, i);
    assert_int_equal(pn_write_file_atomic_nosync(&ctx, path, body, (size_t)len, 0640), PN_OK);
  }
  /* the streamed form: a large write through the FILE, then the no-sync commit */
  struct pn_atomic_file af;
  snprintf(path, sizeof path, "%s/big.bin", dir);
  assert_int_equal(pn_atomic_open(&ctx, &af, path, 0644), PN_OK);
  size_t big = (size_t)3 << 20;
  uint8_t *blob = malloc(big);
  assert_non_null(blob);
  for (size_t i = 0; i < big; i++) blob[i] = (uint8_t)(i * 2654435761u >> 13);
  assert_int_equal(fwrite(blob, 1, big, af.f), big);
  assert_int_equal(pn_atomic_commit_nosync(&ctx, &af), PN_OK);
  int tmps = 0;
  assert_int_equal(count_entries(dir, &tmps), NF + 1);
  assert_int_equal(tmps, 0);
  for (int i = 0; i < NF; i++) {
    char body[64];
    int len = snprintf(body, sizeof body, "file %d of %d", i, NF);
    snprintf(path, sizeof path, "%s/f%02d.bin", dir, i);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    uint8_t *buf;
    size_t n;
    assert_int_equal(pn_read_file(&ctx, path, 0, &buf, &n), PN_OK);
    assert_int_equal(n, (size_t)len);
    assert_memory_equal(buf, body, n);
    free(buf);
    assert_int_equal(pn_fsync_path(&ctx, path), PN_OK);
  }
  snprintf(path, sizeof path, "%s/big.bin", dir);
  expect_file(path, blob, big);
  uint8_t *buf;
  size_t n;
  assert_int_equal(pn_fsync_path(&ctx, path), PN_OK);
  assert_int_equal(pn_fsync_path(&ctx, dir), PN_OK); /* the folder: makes the renames durable */
  /* replacing an existing file keeps one file, new content */
  snprintf(path, sizeof path, "%s/f00.bin", dir);
  assert_int_equal(pn_write_file_atomic_nosync(&ctx, path, "new", 3, 0644), PN_OK);
  assert_int_equal(pn_read_file(&ctx, path, 0, &buf, &n), PN_OK);
  assert_int_equal(n, 3);
  assert_memory_equal(buf, "new", 3);
  free(buf);
  assert_int_equal(count_entries(dir, &tmps), NF + 1);
  /* failures name the path and leave nothing behind */
  char bad[320];
  snprintf(bad, sizeof bad, "%s/missing/x.bin", dir);
  assert_int_equal(pn_write_file_atomic_nosync(&ctx, bad, "x", 1, 0644), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), "missing/x.bin"));
  assert_int_equal(pn_fsync_path(&ctx, bad), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), "missing/x.bin"));
  assert_int_equal(count_entries(dir, &tmps), NF + 1);
  assert_int_equal(tmps, 0);
  /* a device is written directly, never renamed over */
  assert_int_equal(pn_write_file_atomic_nosync(&ctx, "/dev/null", "abc", 3, 0644), PN_OK);
  struct stat st;
  assert_int_equal(stat("/dev/null", &st), 0);
  assert_true(S_ISCHR(st.st_mode));
  for (int i = 0; i < NF; i++) {
    snprintf(path, sizeof path, "%s/f%02d.bin", dir, i);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s/big.bin", dir);
  unlink(path);
  assert_int_equal(rmdir(dir), 0);
  free(blob);
}

/* blob[0..total) to af in pieces of first, first * mult + add, ... bytes (back to first past cap),
** with pn_atomic_behind after each. */
static void write_uneven(struct pn_atomic_file *af, const uint8_t *blob, size_t total, size_t first, size_t mult,
                         size_t add, size_t cap) {
  size_t at = 0, piece = first;
  while (at < total) {
    size_t m = total - at < piece ? total - at : piece;
    assert_int_equal(fwrite(blob + at, 1, m, af->f), m);
    at += m;
    pn_atomic_behind(af);
    piece = piece * mult + add;
    if (piece > cap) piece = first;
  }
}

/* pn_atomic_behind: a file of 2.6 windows streamed in uneven pieces, with write-behind after each
** piece, durable and not: the bytes read back are the bytes written, the windows did advance (the
** write-behind ran: it is compiled in on Linux), and a device is left alone. */
static void test_write_behind(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  char dir[] = "/tmp/pn_behind_XXXXXX";
  assert_non_null(mkdtemp(dir));
  const size_t total = (size_t)(PN_ATOMIC_BEHIND_WINDOW * 5 / 2) + 12345;
  uint8_t *blob = random_bytes(total, 0x9e3779b97f4a7c15u);
  char path[300];
  for (int durable = 0; durable < 2; durable++) {
    snprintf(path, sizeof path, "%s/out%d.bin", dir, durable);
    struct pn_atomic_file af;
    assert_int_equal(pn_atomic_open(&ctx, &af, path, 0644), PN_OK);
    /* pieces of 1 byte up to a few MB, so windows end mid-piece */
    write_uneven(&af, blob, total, 1, 7, 3, (size_t)5 << 20);
#ifdef __linux__
    /* two full windows are behind the writer (the third is in flight) */
    assert_true(af.behind_done >= PN_ATOMIC_BEHIND_WINDOW);
    assert_true(af.behind_started >= 2 * PN_ATOMIC_BEHIND_WINDOW);
    assert_true(af.behind_started <= total);
#endif
    assert_int_equal(durable ? pn_atomic_commit(&ctx, &af) : pn_atomic_commit_nosync(&ctx, &af), PN_OK);
    expect_file(path, blob, total);
    unlink(path);
  }
  struct pn_atomic_file dev;
  assert_int_equal(pn_atomic_open(&ctx, &dev, "/dev/null", 0644), PN_OK);
  assert_int_equal(fwrite(blob, 1, (size_t)PN_ATOMIC_BEHIND_WINDOW + 1, dev.f), (size_t)PN_ATOMIC_BEHIND_WINDOW + 1);
  pn_atomic_behind(&dev);
  assert_int_equal(dev.behind_done, 0);
  assert_int_equal(pn_atomic_commit(&ctx, &dev), PN_OK);
  assert_int_equal(rmdir(dir), 0);
  free(blob);
}

/* pn_atomic_open_direct: files of a few bytes to 2.6 sink buffers, written in uneven pieces (so that
** the buffer fills mid-piece and the tail is not a whole block), durable and not, then read back; the
** O_DIRECT writer is in use wherever the folder's file system takes O_DIRECT; an aborted file leaves
** nothing behind; a device is written as by pn_atomic_open. */
static void test_direct_writes(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  char dir[] = "/tmp/pn_direct_XXXXXX";
  assert_non_null(mkdtemp(dir));
  const size_t big = ((size_t)21 << 20) / 2 + 4097; /* 2.6 x the 4 MiB buffer, plus an odd tail */
  uint8_t *blob = random_bytes(big, 0x243f6a8885a308d3u);
  char path[300];
  /* does this file system take O_DIRECT at all? */
  snprintf(path, sizeof path, "%s/probe", dir);
  int pfd = open(path, O_WRONLY | O_CREAT | O_DIRECT, 0600);
  bool can_direct = pfd >= 0;
  if (pfd >= 0) close(pfd);
  unlink(path);
  const size_t sizes[] = {0, 5, 4096, 4097, (size_t)4 << 20, big};
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
    for (int durable = 0; durable < 2; durable++) {
      const size_t total = sizes[si];
      snprintf(path, sizeof path, "%s/out%zu-%d.bin", dir, si, durable);
      struct pn_atomic_file af;
      assert_int_equal(pn_atomic_open_direct(&ctx, &af, path, 0640), PN_OK);
      assert_true((af.direct != NULL) == can_direct);
      write_uneven(&af, blob, total, 3, 5, 1, (size_t)6 << 20); /* pn_atomic_behind: nothing to do here */
      assert_int_equal(durable ? pn_atomic_commit(&ctx, &af) : pn_atomic_commit_nosync(&ctx, &af), PN_OK);
      assert_null(af.direct);
      struct stat st;
      assert_int_equal(stat(path, &st), 0);
      assert_int_equal(st.st_mode & 0777, 0640);
      expect_file(path, blob, total);
      unlink(path);
    }
  /* aborted: neither the file nor a temporary remains */
  snprintf(path, sizeof path, "%s/aborted.bin", dir);
  struct pn_atomic_file af;
  assert_int_equal(pn_atomic_open_direct(&ctx, &af, path, 0644), PN_OK);
  assert_int_equal(fwrite(blob, 1, big, af.f), big);
  pn_atomic_abort(&af);
  int tmps;
  assert_int_equal(count_entries(dir, &tmps), 0);
  /* a device: written directly, never renamed over */
  assert_int_equal(pn_atomic_open_direct(&ctx, &af, "/dev/null", 0644), PN_OK);
  assert_null(af.direct);
  assert_int_equal(fwrite(blob, 1, 100, af.f), 100);
  assert_int_equal(pn_atomic_commit(&ctx, &af), PN_OK);
  assert_int_equal(rmdir(dir), 0);
  free(blob);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_nosync_writes), cmocka_unit_test(test_write_behind),
                                     cmocka_unit_test(test_direct_writes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
