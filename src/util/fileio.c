/* fileio.c - whole-file reads and atomic writes: data reaches its final name only once complete.
**
** Reads open without blocking and refuse anything but a regular file, so a FIFO or a device named
** where a file is meant is an error at once instead of a process that waits forever. Atomic writes
** go to a temporary beside the target; every temporary in flight is listed in a fixed table that a
** SIGINT/SIGTERM/SIGHUP handler (installed on first use, only where the signal still has its
** default action) unlinks before the process dies, so Ctrl-C never leaves secret bytes behind. */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/status.h"

double pn_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void pn_fmt_bytes(char *buf, size_t n, uint64_t b) {
  if (b >= (1ull << 30)) snprintf(buf, n, "%.2f GB", (double)b / 1e9);
  else if (b >= (1ull << 20)) snprintf(buf, n, "%.1f MB", (double)b / 1e6);
  else snprintf(buf, n, "%.1f kB", (double)b / 1e3);
}

/* Open path for reading without blocking on a FIFO, and check that it is a regular file. */
static int open_regular(struct pn_ctx *ctx, const char *path, int *fd_out, struct stat *st) {
  *fd_out = -1;
  memset(st, 0, sizeof *st);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return pn_err(ctx, PN_ERR_IO, "%s: %s", path, strerror(errno));
  if (fstat(fd, st) != 0) {
    int e = errno;
    close(fd);
    return pn_err(ctx, PN_ERR_IO, "%s: %s", path, strerror(e));
  }
  if (!S_ISREG(st->st_mode)) {
    close(fd);
    return pn_err(ctx, PN_ERR_IO, "%s: %s", path, S_ISDIR(st->st_mode) ? "is a directory"
                  : S_ISFIFO(st->st_mode) ? "is a FIFO, not a regular file"
                  : S_ISSOCK(st->st_mode) ? "is a socket, not a regular file"
                  : "is a device, not a regular file");
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  *fd_out = fd;
  return PN_OK;
}

int pn_check_regular_file(struct pn_ctx *ctx, const char *path) {
  struct stat st;
  int fd, rc = open_regular(ctx, path, &fd, &st);
  if (fd >= 0) close(fd);
  return rc;
}

/* open_regular, and the file's size checked against max_bytes (0 = 4 GiB) before anything is read */
static int open_sized(struct pn_ctx *ctx, const char *path, size_t max_bytes, int *fd, size_t *size) {
  *size = 0;
  if (!max_bytes) max_bytes = (size_t)4 << 30;
  struct stat st;
  int rc = open_regular(ctx, path, fd, &st);
  if (rc) return rc;
  if ((uint64_t)st.st_size > max_bytes) {
    close(*fd);
    *fd = -1;
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: %lld bytes, more than the %zu allowed", path,
                  (long long)st.st_size, max_bytes);
  }
  *size = (size_t)st.st_size;
  return PN_OK;
}

/* size bytes of the open file fd (then closed) into a malloc'd, NUL-terminated buffer */
static int read_open(struct pn_ctx *ctx, const char *path, int fd, size_t size, uint8_t **buf) {
  uint8_t *b = malloc(size + 1);
  if (!b) {
    close(fd);
    return pn_err(ctx, PN_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size);
  }
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, b + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = errno;
      free(b);
      close(fd);
      return pn_err(ctx, PN_ERR_IO, "%s: %s", path, r == 0 ? "file shrank while reading" : strerror(e));
    }
    got += (size_t)r;
  }
  close(fd);
  b[size] = 0;
  *buf = b;
  return PN_OK;
}

int pn_read_file(struct pn_ctx *ctx, const char *path, size_t max_bytes, uint8_t **buf, size_t *n) {
  *buf = NULL;
  *n = 0;
  int fd;
  size_t size;
  int rc = open_sized(ctx, path, max_bytes, &fd, &size);
  if (rc || (rc = read_open(ctx, path, fd, size, buf))) return rc;
  *n = size;
  return PN_OK;
}

int pn_map_file(struct pn_ctx *ctx, const char *path, size_t max_bytes, struct pn_mapped_file *m) {
  memset(m, 0, sizeof *m);
  int fd;
  size_t size;
  int rc = open_sized(ctx, path, max_bytes, &fd, &size);
  if (rc) return rc;
  if (size >= PN_MAP_MIN_BYTES) {
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p != MAP_FAILED) {
      close(fd);
      m->data = p;
      m->n = size;
      m->mapped = true;
      return PN_OK;
    }
  }
  /* small, or not mappable: read from the descriptor already open and checked */
  uint8_t *b;
  if ((rc = read_open(ctx, path, fd, size, &b))) return rc;
  m->data = b;
  m->n = size;
  return PN_OK;
}

void pn_unmap_file(struct pn_mapped_file *m) {
  if (!m->data) return;
  if (m->mapped) munmap((void *)m->data, m->n);
  else free((void *)m->data);
  memset(m, 0, sizeof *m);
}

int pn_read_secret_file(struct pn_ctx *ctx, const char *path, size_t max_bytes,
                        uint8_t **buf, size_t *n) {
  *buf = NULL;
  *n = 0;
  struct stat st;
  int fd, rc = open_regular(ctx, path, &fd, &st);
  if (rc) return rc;
  close(fd);
  if (st.st_mode & 077)
    return pn_err(ctx, PN_ERR_INSECURE, "%s: permissions %04o are too open (other users can read "
                  "this secret): chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
  return pn_read_file(ctx, path, max_bytes, buf, n);
}

/* ---- temporaries removed on SIGINT/SIGTERM/SIGHUP ---- */
#define TMP_SLOTS 64
static char *volatile tmp_slot[TMP_SLOTS];
static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void on_fatal_signal(int sig) {
  int e = errno;
  for (int i = 0; i < TMP_SLOTS; i++) {
    char *p = tmp_slot[i];
    if (p) unlink(p);
  }
  signal(sig, SIG_DFL);
  errno = e;
  raise(sig);
}

static void install_cleanup(void) {
  for (size_t i = 0; i < sizeof cleanup_signals / sizeof *cleanup_signals; i++) {
    struct sigaction old, sa;
    if (sigaction(cleanup_signals[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
        (old.sa_flags & SA_SIGINFO))
      continue; /* the program handles this signal itself */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(cleanup_signals[i], &sa, NULL);
  }
}

static void tmp_track(char *tmp) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, install_cleanup);
  for (int i = 0; i < TMP_SLOTS; i++) {
    char *expect = NULL;
    if (__atomic_compare_exchange_n(&tmp_slot[i], &expect, tmp, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST))
      return;
  }
  /* more than TMP_SLOTS writes at once: this one is not removed on a signal */
}

static void tmp_untrack(const char *tmp) {
  for (int i = 0; i < TMP_SLOTS; i++) {
    char *expect = (char *)tmp;
    if (__atomic_compare_exchange_n(&tmp_slot[i], &expect, NULL, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST))
      return;
  }
}

/* Where the temporary file goes: beside the file the path finally names, so that a symlink stays a
** symlink (its target is replaced) instead of being replaced by a regular file. */
static char *resolve_target(const char *path) {
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
    char *real = realpath(path, NULL);
    if (real) return real;
  }
  return strdup(path);
}

int pn_atomic_open(struct pn_ctx *ctx, struct pn_atomic_file *af, const char *path, unsigned mode) {
  memset(af, 0, sizeof *af);
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) return pn_err(ctx, PN_ERR_IO, "%s: is a directory", path);
    /* a device, FIFO or socket (/dev/null, /dev/stdout, a pipe): write to it directly, never
    ** rename over it */
    af->f = fopen(path, "wb");
    if (!af->f) return pn_err(ctx, PN_ERR_IO, "%s: %s", path, strerror(errno));
    af->path = strdup(path);
    if (!af->path) {
      fclose(af->f);
      memset(af, 0, sizeof *af);
      return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path);
    }
    return PN_OK;
  }
  char *target = resolve_target(path);
  if (!target) return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path);
  size_t len = strlen(target);
  af->path = target;
  af->tmp = malloc(len + 16);
  if (!af->tmp) {
    free(af->path);
    memset(af, 0, sizeof *af);
    return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path);
  }
  snprintf(af->tmp, len + 16, "%s.tmpXXXXXX", target);
  int fd = mkstemp(af->tmp);
  if (fd < 0) {
    int e = errno;
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
    return pn_err(ctx, PN_ERR_IO, "%s: cannot create temporary file: %s", path, strerror(e));
  }
  fchmod(fd, mode);
  tmp_track(af->tmp);
  af->mode = mode;
  af->f = fdopen(fd, "wb");
  if (!af->f) {
    close(fd);
    unlink(af->tmp);
    tmp_untrack(af->tmp);
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
    return pn_err(ctx, PN_ERR_IO, "%s: fdopen failed", path);
  }
  return PN_OK;
}

/* ---- O_DIRECT writes (pn_atomic_open_direct) ---- */

#define DIRECT_ALIGN ((size_t)4096)
#define DIRECT_BUF ((size_t)4 << 20)

/* The stream's sink: bytes gather in buf and leave in whole aligned blocks while fd has O_DIRECT. */
struct pn_direct_sink {
  int fd;
  uint8_t *buf; /* DIRECT_BUF bytes, DIRECT_ALIGN-aligned */
  size_t used;
  bool direct;  /* O_DIRECT still set on fd */
};

static bool direct_off(struct pn_direct_sink *d) {
  int fl = fcntl(d->fd, F_GETFL);
  if (fl < 0 || fcntl(d->fd, F_SETFL, fl & ~O_DIRECT) < 0) return false;
  d->direct = false;
  return true;
}

/* All of p[0..n) to fd at its offset; where a direct write is refused (EINVAL: the file system, or a
** short write left the offset unaligned), the rest goes through the cache. 0, or -1 with errno. */
static int direct_write_all(struct pn_direct_sink *d, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = write(d->fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && d->direct && direct_off(d)) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
    if (n && d->direct && (size_t)w % DIRECT_ALIGN && !direct_off(d)) return -1;
  }
  return 0;
}

static ssize_t direct_cookie_write(void *c, const char *buf, size_t size) {
  struct pn_direct_sink *d = c;
  if (!d->direct) return direct_write_all(d, (const uint8_t *)buf, size) ? -1 : (ssize_t)size;
  for (size_t off = 0; off < size;) {
    size_t m = size - off < DIRECT_BUF - d->used ? size - off : DIRECT_BUF - d->used;
    memcpy(d->buf + d->used, buf + off, m);
    d->used += m;
    off += m;
    if (d->used == DIRECT_BUF) {
      if (direct_write_all(d, d->buf, DIRECT_BUF)) return -1;
      d->used = 0;
    }
  }
  return (ssize_t)size;
}

/* What buf still holds: its whole blocks directly, the rest through the cache. 0 or -1 (errno). */
static int direct_finish(struct pn_direct_sink *d) {
  size_t whole = d->direct ? d->used / DIRECT_ALIGN * DIRECT_ALIGN : 0;
  if (whole && direct_write_all(d, d->buf, whole)) return -1;
  if (d->used > whole) {
    if (d->direct && !direct_off(d)) return -1;
    if (direct_write_all(d, d->buf + whole, d->used - whole)) return -1;
  }
  d->used = 0;
  return 0;
}

static int direct_cookie_close(void *c) {
  struct pn_direct_sink *d = c;
  int rc = close(d->fd);
  free(d->buf);
  free(d);
  return rc;
}

int pn_atomic_open_direct(struct pn_ctx *ctx, struct pn_atomic_file *af, const char *path, unsigned mode) {
  int rc = pn_atomic_open(ctx, af, path, mode);
  if (rc || !af->tmp) return rc; /* a device or FIFO: written directly, as opened */
  /* the temporary's stream becomes the sink's: same descriptor, now with O_DIRECT */
  struct pn_direct_sink *d = calloc(1, sizeof *d);
  void *buf = NULL;
  if (!d || posix_memalign(&buf, DIRECT_ALIGN, DIRECT_BUF)) {
    free(d);
    return PN_OK; /* short of memory for the buffer: through the cache */
  }
  d->buf = buf;
  d->fd = dup(fileno(af->f));
  int fl = d->fd < 0 ? -1 : fcntl(d->fd, F_GETFL);
  FILE *f = NULL;
  if (fl >= 0 && fcntl(d->fd, F_SETFL, fl | O_DIRECT) == 0) {
    d->direct = true;
    f = fopencookie(d, "wb", (cookie_io_functions_t){.write = direct_cookie_write, .close = direct_cookie_close});
  }
  if (!f) { /* no O_DIRECT here: through the cache */
    if (d->fd >= 0) close(d->fd);
    free(d->buf);
    free(d);
    return PN_OK;
  }
  fclose(af->f); /* the duplicate descriptor keeps the file open */
  af->f = f;
  af->direct = d;
  return PN_OK;
}

void pn_atomic_abort(struct pn_atomic_file *af) {
  if (!af || !af->path) return;
  if (af->f) fclose(af->f);
  if (af->tmp) {
    unlink(af->tmp);
    tmp_untrack(af->tmp);
  }
  free(af->path);
  free(af->tmp);
  memset(af, 0, sizeof *af);
}

void pn_drop_written(int fd, uint64_t off, uint64_t len) {
#if defined(SYNC_FILE_RANGE_WRITE) && defined(POSIX_FADV_DONTNEED)
  sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
  posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
#else
  (void)fd, (void)off, (void)len;
#endif
}

void pn_drop_written_path(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  pn_drop_written(fd, 0, 0);
  close(fd);
}

void pn_atomic_behind(struct pn_atomic_file *af) {
#if defined(SYNC_FILE_RANGE_WRITE) && defined(POSIX_FADV_DONTNEED)
  if (!af || !af->f || !af->tmp || af->direct) return; /* O_DIRECT: no cache to keep small */
  off_t pos = ftello(af->f);
  if (pos < 0 || (uint64_t)pos - af->behind_started < PN_ATOMIC_BEHIND_WINDOW) return;
  if (fflush(af->f) != 0) return;
  int fd = fileno(af->f);
  uint64_t now = (uint64_t)pos;
  sync_file_range(fd, (off_t)af->behind_started, (off_t)(now - af->behind_started), SYNC_FILE_RANGE_WRITE);
  if (af->behind_started > af->behind_done) {
    pn_drop_written(fd, af->behind_done, af->behind_started - af->behind_done);
    af->behind_done = af->behind_started;
  }
  af->behind_started = now;
#else
  (void)af;
#endif
}

static int commit(struct pn_ctx *ctx, struct pn_atomic_file *af, bool durable) {
  if (!af->tmp) { /* a device or FIFO written directly: nothing to rename */
    int ok = fflush(af->f) == 0 && !ferror(af->f);
    int e = errno;
    ok = (fclose(af->f) == 0) && ok;
    af->f = NULL;
    int rc = ok ? PN_OK : pn_err(ctx, PN_ERR_IO, "%s: write failed: %s", af->path, strerror(e));
    free(af->path);
    memset(af, 0, sizeof *af);
    return rc;
  }
  int ok = fflush(af->f) == 0 && !ferror(af->f);
  if (ok && af->direct) ok = direct_finish(af->direct) == 0;
  int fd = af->direct ? af->direct->fd : fileno(af->f);
  if (ok && durable) ok = fsync(fd) == 0;
#ifdef SYNC_FILE_RANGE_WRITE
  /* start writeback now, so the disk works while the caller computes the next file; the caller's
  ** later fsync finds most of the data already written */
  if (ok && !durable) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
  int e = errno;
  ok = (fclose(af->f) == 0) && ok; /* a direct sink closes its descriptor and frees itself */
  af->f = NULL;
  af->direct = NULL;
  if (!ok) {
    int rc = pn_err(ctx, PN_ERR_IO, "%s: write failed: %s", af->path, strerror(e));
    pn_atomic_abort(af);
    return rc;
  }
  if (rename(af->tmp, af->path) != 0) {
    int rc = pn_err(ctx, PN_ERR_IO, "%s: rename failed: %s", af->path, strerror(errno));
    pn_atomic_abort(af);
    return rc;
  }
  tmp_untrack(af->tmp);
  free(af->path);
  free(af->tmp);
  memset(af, 0, sizeof *af);
  return PN_OK;
}

int pn_atomic_commit(struct pn_ctx *ctx, struct pn_atomic_file *af) { return commit(ctx, af, true); }

int pn_atomic_commit_nosync(struct pn_ctx *ctx, struct pn_atomic_file *af) {
  return commit(ctx, af, false);
}

static int write_atomic(struct pn_ctx *ctx, const char *path, const void *buf, size_t n,
                        unsigned mode, bool durable) {
  struct pn_atomic_file af;
  int rc = pn_atomic_open(ctx, &af, path, mode);
  if (rc) return rc;
  if (n && fwrite(buf, 1, n, af.f) != n) {
    rc = pn_err(ctx, PN_ERR_IO, "%s: short write: %s", path, strerror(errno));
    pn_atomic_abort(&af);
    return rc;
  }
  return commit(ctx, &af, durable);
}

int pn_write_file_atomic(struct pn_ctx *ctx, const char *path, const void *buf, size_t n,
                         unsigned mode) {
  return write_atomic(ctx, path, buf, n, mode, true);
}

int pn_write_file_atomic_nosync(struct pn_ctx *ctx, const char *path, const void *buf, size_t n,
                                unsigned mode) {
  return write_atomic(ctx, path, buf, n, mode, false);
}

int pn_fsync_path(struct pn_ctx *ctx, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return pn_err(ctx, PN_ERR_IO, "%s: %s", path, strerror(errno));
  int ok = fsync(fd) == 0;
  int e = errno;
  close(fd);
  /* EINVAL: the target does not support sync (a pipe, some special files): nothing to make durable */
  if (!ok && e != EINVAL && e != EROFS)
    return pn_err(ctx, PN_ERR_IO, "%s: fsync failed: %s", path, strerror(e));
  return PN_OK;
}
