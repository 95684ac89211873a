/* fileio.c - whole-file reads and atomic writes: data reaches its final name only once complete. */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/status.h"

double pn_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int pn_read_file(struct pn_ctx *ctx, const char *path, size_t max_bytes, uint8_t **buf, size_t *n) {
  *buf = NULL;
  *n = 0;
  if (!max_bytes) max_bytes = (size_t)4 << 30;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return pn_err(ctx, PN_ERR_IO, "%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = errno;
    close(fd);
    return pn_err(ctx, PN_ERR_IO, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory"
                  : e ? strerror(e) : "not a regular file");
  }
  if ((uint64_t)st.st_size > max_bytes) {
    close(fd);
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: %lld bytes, more than the %zu allowed", path,
                  (long long)st.st_size, max_bytes);
  }
  size_t size = (size_t)st.st_size;
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
  *n = size;
  return PN_OK;
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
  af->mode = mode;
  af->f = fdopen(fd, "wb");
  if (!af->f) {
    close(fd);
    unlink(af->tmp);
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
    return pn_err(ctx, PN_ERR_IO, "%s: fdopen failed", path);
  }
  return PN_OK;
}

void pn_atomic_abort(struct pn_atomic_file *af) {
  if (!af || !af->path) return;
  if (af->f) fclose(af->f);
  if (af->tmp) unlink(af->tmp);
  free(af->path);
  free(af->tmp);
  memset(af, 0, sizeof *af);
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
  if (ok && durable) ok = fsync(fileno(af->f)) == 0;
#ifdef SYNC_FILE_RANGE_WRITE
  /* start writeback now, so the disk works while the caller computes the next file; the caller's
  ** later fsync finds most of the data already written */
  if (ok && !durable) sync_file_range(fileno(af->f), 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
  int e = errno;
  ok = (fclose(af->f) == 0) && ok;
  af->f = NULL;
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
