/* status.h - status codes and the per-context error message every privnn call reports through. */
#ifndef PN_STATUS_H
#define PN_STATUS_H

#include <stdarg.h>
#include <stddef.h>
#include "api.h"

/* A call that can fail returns one of these (PN_OK = 0, failures negative) and leaves a sentence in
** its context naming the file, node or field at fault. */
enum pn_status {
  PN_OK = 0,
  PN_ERR_NOMEM = -1,       /* allocation failed */
  PN_ERR_IO = -2,          /* file or socket I/O failed (missing file, short write, ...) */
  PN_ERR_CORRUPT = -3,     /* malformed input from outside: ONNX, key/ciphertext/dealer files, JSON */
  PN_ERR_INVALID = -4,     /* the caller's arguments or model are invalid (bad attribute, bad shape) */
  PN_ERR_UNSUPPORTED = -5, /* valid, but not implemented: unknown op, dtype, attribute value */
  PN_ERR_PROTOCOL = -6,    /* a peer broke the protocol: malformed or oversized frame */
  PN_ERR_INSECURE = -7,    /* parameters below the security level and not explicitly allowed */
  PN_ERR_TIMEOUT = -8,     /* a peer stalled past its deadline */
  PN_ERR_AUTH = -9,        /* authentication or integrity check failed */
  PN_ERR_INTERRUPTED = -10, /* stopped by a signal (Ctrl-C) */
  PN_ERR_MISMATCH = -11,   /* an object belongs to other parameters, model or plan */
  PN_ERR_STATUS_COUNT = 12 /* number of codes, for tables indexed by -status */
};

#define PN_ERRMSG_MAX 1024

/* The error context. Plain data: declare one on the stack (`struct pn_ctx ctx = {0};`) or embed it.
** Nothing inside needs freeing. */
struct pn_ctx {
  int status;                 /* last failure code, PN_OK when none */
  char msg[PN_ERRMSG_MAX];    /* last failure message, "" when none */
};

/* Record a failure: sets ctx->status and formats ctx->msg. Returns code, so `return pn_err(...)`.
** ctx may be NULL (the message is then dropped). */
PN_API int pn_err(struct pn_ctx *ctx, int code, const char *fmt, ...) __attribute__((format(printf, 3,
                  4)));
PN_API int pn_verr(struct pn_ctx *ctx, int code, const char *fmt, va_list ap);

/* Prepend "prefix: " to the current message (adds the file or node name as an error climbs up). */
PN_API void pn_err_prefix(struct pn_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2,
                          3)));

/* The last message, or the generic text of the last status when no message was set. Never NULL. */
PN_API const char *pn_errmsg(const struct pn_ctx *ctx);

/* Generic text of a status code ("corrupt input", ...). */
PN_API const char *pn_status_str(int status);

/* Clear the context back to PN_OK. */
PN_API void pn_err_clear(struct pn_ctx *ctx);

#endif
