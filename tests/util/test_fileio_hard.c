/* test_fileio_hard.c - file input and output as a careless operator or an attacker meets them:
** a FIFO or directory where a file is meant, a size cap checked before reading, a world-readable
** secret, and temporaries removed when SIGINT/SIGTERM ends a write. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fileio.h"
#include "util/status.h"

static int count_tmps(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) n += strstr(e->d_name, ".tmp") != NULL;
  closedir(d);
  return n;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char m[] = "test_fileio_hard: hung on a FIFO\n";
  if (write(2, m, sizeof m - 1) < 0) _exit(3);
  _exit(2);
}

/* A FIFO with no writer: the read is refused at once (a hang is caught by the alarm, never timed). */
static void test_fifo_and_dir_refused(void **state) {
  (void)state;
  char dir[] = "/tmp/pn_fifo_XXXXXX", path[300];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/plan.json", dir);
  assert_int_equal(mkfifo(path, 0600), 0);
  signal(SIGALRM, on_alarm);
  alarm(60);
  struct pn_ctx ctx = {0};
  uint8_t *buf = NULL;
  size_t n = 0;
  assert_int_equal(pn_read_file(&ctx, path, 0, &buf, &n), PN_ERR_IO);
  assert_null(buf);
  assert_non_null(strstr(pn_errmsg(&ctx), "FIFO"));
  assert_non_null(strstr(pn_errmsg(&ctx), path));
  assert_int_equal(pn_check_regular_file(&ctx, path), PN_ERR_IO);
  assert_int_equal(pn_read_secret_file(&ctx, path, 0, &buf, &n), PN_ERR_IO);
  alarm(0);
  unlink(path);
  assert_int_equal(pn_read_file(&ctx, dir, 0, &buf, &n), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), "directory"));
  assert_int_equal(pn_read_file(&ctx, "/dev/null", 0, &buf, &n), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), "device"));
  rmdir(dir);
}

/* A sparse 3 GiB file is refused by its size alone (nothing read: the test would take long). */
static void test_size_cap(void **state) {
  (void)state;
  char path[] = "/tmp/pn_big_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)3 << 30), 0);
  close(fd);
  struct pn_ctx ctx = {0};
  uint8_t *buf = NULL;
  size_t n = 0;
  assert_int_equal(pn_read_file(&ctx, path, (size_t)2 << 30, &buf, &n), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "allowed"));
  unlink(path);
}

static void test_secret_permissions(void **state) {
  (void)state;
  char path[] = "/tmp/pn_psk_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef", 32), 32);
  close(fd);
  struct pn_ctx ctx = {0};
  uint8_t *buf = NULL;
  size_t n = 0;
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(pn_read_secret_file(&ctx, path, 4096, &buf, &n), PN_ERR_INSECURE);
  assert_non_null(strstr(pn_errmsg(&ctx), "0644"));
  assert_non_null(strstr(pn_errmsg(&ctx), "chmod 600"));
  assert_int_equal(chmod(path, 0640), 0);
  assert_int_equal(pn_read_secret_file(&ctx, path, 4096, &buf, &n), PN_ERR_INSECURE);
  assert_int_equal(chmod(path, 0600), 0);
  assert_int_equal(pn_read_secret_file(&ctx, path, 4096, &buf, &n), PN_OK);
  assert_int_equal(n, 32);
  free(buf);
  unlink(path);
}

/* pn_map_file: a file from PN_MAP_MIN_BYTES is mapped, a smaller one read; either way the bytes are
** the file's, and a FIFO, directory, device, missing file or size above the cap gets pn_read_file's
** code and message (the FIFO never blocks). */
static void test_map_file(void **state) {
  (void)state;
  char dir[] = "/tmp/pn_map_XXXXXX", path[300];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/m.onnx", dir);
  struct pn_ctx ctx = {0};
  const size_t sizes[] = {0, 1, 4095, PN_MAP_MIN_BYTES - 1, PN_MAP_MIN_BYTES, PN_MAP_MIN_BYTES + 12345};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    size_t n = sizes[s];
    uint8_t *want = malloc(n + 1);
    assert_non_null(want);
    for (size_t i = 0; i < n; i++) want[i] = (uint8_t)(i * 2654435761u >> 13);
    assert_int_equal(pn_write_file_atomic(&ctx, path, want, n, 0644), PN_OK);
    struct pn_mapped_file m;
    assert_int_equal(pn_map_file(&ctx, path, 0, &m), PN_OK);
    assert_int_equal(m.n, n);
    assert_int_equal(m.mapped, n >= PN_MAP_MIN_BYTES);
    assert_true(n == 0 || memcmp(m.data, want, n) == 0);
    pn_unmap_file(&m);
    assert_null(m.data);
    pn_unmap_file(&m); /* twice: nothing */
    if (n > 1) { /* a cap of 0 means the default (4 GiB) */
      assert_int_equal(pn_map_file(&ctx, path, n - 1, &m), PN_ERR_CORRUPT);
      assert_non_null(strstr(pn_errmsg(&ctx), "allowed"));
      assert_null(m.data);
    }
    free(want);
  }
  unlink(path);
  struct pn_mapped_file m;
  assert_int_equal(pn_map_file(&ctx, path, 0, &m), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), path));
  assert_int_equal(mkfifo(path, 0600), 0);
  signal(SIGALRM, on_alarm);
  alarm(60);
  assert_int_equal(pn_map_file(&ctx, path, 0, &m), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), "FIFO"));
  alarm(0);
  unlink(path);
  assert_int_equal(pn_map_file(&ctx, dir, 0, &m), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), "directory"));
  assert_int_equal(pn_map_file(&ctx, "/dev/zero", 0, &m), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), "device"));
  assert_null(m.data);
  rmdir(dir);
}

/* A child starts two atomic writes, then is killed by sig: both temporaries are gone, the final
** names never appear, and the child still dies of the signal (not a clean exit). */
static void killed_mid_write(int sig) {
  char dir[] = "/tmp/pn_sig_XXXXXX", a[300], b[300];
  assert_non_null(mkdtemp(dir));
  snprintf(a, sizeof a, "%s/x.p0.dealer", dir);
  snprintf(b, sizeof b, "%s/x.p1.dealer", dir);
  int ready[2];
  assert_int_equal(pipe(ready), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct pn_atomic_file f0, f1;
    struct pn_ctx ctx = {0};
    if (pn_atomic_open(&ctx, &f0, a, 0600) || pn_atomic_open(&ctx, &f1, b, 0600)) _exit(4);
    fputs("secret correlations", f0.f);
    fflush(f0.f);
    if (write(ready[1], "r", 1) != 1) _exit(5);
    for (;;) pause();
  }
  char c;
  assert_int_equal(read(ready[0], &c, 1), 1);
  assert_int_equal(count_tmps(dir), 2);
  kill(pid, sig);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFSIGNALED(st));
  assert_int_equal(WTERMSIG(st), sig);
  assert_int_equal(count_tmps(dir), 0);
  assert_int_equal(access(a, F_OK), -1);
  assert_int_equal(access(b, F_OK), -1);
  close(ready[0]);
  close(ready[1]);
  rmdir(dir);
}

static void test_signal_removes_temporaries(void **state) {
  (void)state;
  killed_mid_write(SIGTERM);
  killed_mid_write(SIGINT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fifo_and_dir_refused),
      cmocka_unit_test(test_size_cap),
      cmocka_unit_test(test_map_file),
      cmocka_unit_test(test_secret_permissions),
      cmocka_unit_test(test_signal_removes_temporaries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
