/* fileio.h - whole-file reads, atomic writes (temp file + fsync + rename), a monotonic clock, byte
** counts for people. */
#ifndef PN_FILEIO_H
#define PN_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pn_ctx;

/* Read a whole file. On success *buf (malloc'd, NUL-terminated past *n) is the caller's to free.
** Missing/unreadable file: PN_ERR_IO, message "PATH: No such file or directory"; a FIFO, device,
** socket or directory: PN_ERR_IO at once (never blocks on a FIFO). Files above max_bytes
** (0 = 4 GiB) are refused with PN_ERR_CORRUPT before anything is read. */
int pn_read_file(struct pn_ctx *ctx, const char *path, size_t max_bytes, uint8_t **buf /* OUT */,
                 size_t *n /* OUT */);

/* A whole file to read from, without copying it into fresh memory: from PN_MAP_MIN_BYTES it is
** mapped read-only (its pages are the page cache's, often already there: a file just written or
** read), else, or where mapping fails, read into a malloc'd buffer. The same checks and messages as
** pn_read_file. Released with pn_unmap_file. A mapped file must not be truncated by another process
** while it is read (the reader would get SIGBUS), as with any mapped reader. */
#define PN_MAP_MIN_BYTES ((size_t)1 << 20)
struct pn_mapped_file {
  const uint8_t *data;
  size_t n;
  bool mapped;
};
int pn_map_file(struct pn_ctx *ctx, const char *path, size_t max_bytes, struct pn_mapped_file *m /* OUT */);
void pn_unmap_file(struct pn_mapped_file *m);

/* The same for a file holding a secret (a pre-shared key): refused with PN_ERR_INSECURE, naming
** the mode and the chmod that fixes it, when group or others may read it (as ssh does). */
int pn_read_secret_file(struct pn_ctx *ctx, const char *path, size_t max_bytes,
                        uint8_t **buf /* OUT */, size_t *n /* OUT */);
/* PN_OK when path names a regular file; a FIFO, device, socket or directory is PN_ERR_IO naming
** what it is (checked without blocking, for readers that open the file themselves). */
int pn_check_regular_file(struct pn_ctx *ctx, const char *path);

/* Write buf[0..n) to path atomically: a temporary file in the same directory, fsync, rename.
** mode is the permission of the final file (0644, or 0600 for secrets). On failure the old file,
** if any, is left untouched and the temporary is removed. A symlink's target is replaced (the link
** stays); a device or FIFO (/dev/null, a pipe) is written directly, as there is nothing to rename. */
int pn_write_file_atomic(struct pn_ctx *ctx, const char *path, const void *buf, size_t n,
                         unsigned mode);

/* Streamed atomic writes: open a temporary beside path, write to f, then commit (fsync + rename)
** or abort (remove). A temporary still open when SIGINT, SIGTERM or SIGHUP ends the process is
** removed by a handler installed on first use (only for signals left at their default action). */
struct pn_atomic_file {
  FILE *f;
  char *path, *tmp;
  unsigned mode;
  uint64_t behind_done, behind_started; /* pn_atomic_behind's windows */
  struct pn_direct_sink *direct;        /* pn_atomic_open_direct's writer, or NULL */
};
int pn_atomic_open(struct pn_ctx *ctx, struct pn_atomic_file *af, const char *path, unsigned mode);
/* pn_atomic_open for a large file written once and not read back soon (a model, a bundle file, keys):
** the bytes written to f reach the disk with O_DIRECT, from one reused 4 MiB aligned buffer, instead
** of through the page cache (the last partial block goes through the cache at commit). On this VM a
** 2 GB write took 0.80-0.95 s with O_DIRECT (0.11 s of sys) and 0.93-14.9 s buffered (up to 13.5 s of
** sys: the first touch of page-cache pages the host had taken back). Where the file system refuses
** O_DIRECT (at open or at a write) the file is written through the cache as by pn_atomic_open; the
** bytes are the same either way. af->f is not a file descriptor's stream (fileno is -1). */
int pn_atomic_open_direct(struct pn_ctx *ctx, struct pn_atomic_file *af, const char *path, unsigned mode);
int pn_atomic_commit(struct pn_ctx *ctx, struct pn_atomic_file *af);
void pn_atomic_abort(struct pn_atomic_file *af);
/* Write-behind for a large streamed file, called now and then while writing (cheap between
** windows): once PN_ATOMIC_BEHIND_WINDOW bytes more were written, their writeback is started, the
** window before them is waited for and its pages dropped from the page cache. A file of hundreds
** of MB then passes through a few windows of recently used pages instead of taking as many fresh
** ones: on a VM whose free memory the host has taken back, the first touch of a fresh page cost
** ~2 ms a MB (3 GB with dd: 6.1 s of sys, 0.46 s when the pages had just been freed). The data is
** the same; only the final fsync (or the caller's) still makes it durable. Nothing for a device or
** FIFO; a failure here is ignored (the write itself reports errors). */
#define PN_ATOMIC_BEHIND_WINDOW ((uint64_t)32 << 20)
void pn_atomic_behind(struct pn_atomic_file *af);
/* Wait for the writeback of fd's bytes [off, off + len) (len 0: to the end), started here if it was
** not, then drop their pages from the page cache: the write-behind's step, and split's for each
** file written through the cache. No durability promise (the disk's cache, the metadata); errors
** are ignored. _path: the same for a whole file by name. */
void pn_drop_written(int fd, uint64_t off, uint64_t len);
void pn_drop_written_path(const char *path);

/* Deferred durability, for many files that become durable together (a bundle folder):
** pn_atomic_commit_nosync renames the temporary into place without waiting for the disk (it only
** starts writeback, where the OS allows), so a crash may lose the file but never leaves a half
** file under its final name. Afterwards pn_fsync_path each such file and then its directory
** (pn_fsync_path on the folder makes the renames durable). */
int pn_atomic_commit_nosync(struct pn_ctx *ctx, struct pn_atomic_file *af);
/* pn_write_file_atomic without the fsync (see pn_atomic_commit_nosync). */
int pn_write_file_atomic_nosync(struct pn_ctx *ctx, const char *path, const void *buf, size_t n,
                                unsigned mode);
/* Open path (a file or a directory) read-only and fsync it. PN_ERR_IO naming path on failure. */
int pn_fsync_path(struct pn_ctx *ctx, const char *path);

/* Seconds from a monotonic clock. */
double pn_now(void);

/* A byte count for people: "12.3 kB", "28.1 MB", "5.37 GB" (decimal units; GB from 1 GiB up). */
void pn_fmt_bytes(char *buf, size_t n, uint64_t bytes);

#endif
