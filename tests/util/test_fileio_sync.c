/* test_fileio_sync.c - deferred-durability writes: pn_write_file_atomic_nosync, pn_atomic_commit_nosync
** and pn_fsync_path (the bundle writer's "write everything, then sync once"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
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
  uint8_t *buf;
  size_t n;
  assert_int_equal(pn_read_file(&ctx, path, 0, &buf, &n), PN_OK);
  assert_int_equal(n, big);
  assert_memory_equal(buf, blob, big);
  free(buf);
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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_nosync_writes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
