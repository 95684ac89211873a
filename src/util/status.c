/* status.c - status codes and per-context error messages. */
#include "util/status.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {
  "ok", "out of memory", "I/O error", "corrupt input", "invalid argument", "unsupported",
  "protocol error", "insecure parameters", "timeout", "authentication failed", "interrupted",
  "mismatch",
};
static_assert(sizeof status_names / sizeof *status_names == PN_ERR_STATUS_COUNT,
              "status_names out of date");

const char *pn_status_str(int status) {
  if (status > 0 || -status >= PN_ERR_STATUS_COUNT) return "unknown error";
  return status_names[-status];
}

int pn_verr(struct pn_ctx *ctx, int code, const char *fmt, va_list ap) {
  if (!ctx) return code;
  ctx->status = code;
  vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
  return code;
}

int pn_err(struct pn_ctx *ctx, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pn_verr(ctx, code, fmt, ap);
  va_end(ap);
  return code;
}

void pn_err_prefix(struct pn_ctx *ctx, const char *fmt, ...) {
  if (!ctx) return;
  char head[PN_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  char tail[PN_ERRMSG_MAX];
  snprintf(tail, sizeof tail, "%s", ctx->msg[0] ? ctx->msg : pn_status_str(ctx->status));
  size_t hn = strlen(head);
  if (hn > sizeof ctx->msg - 3) hn = sizeof ctx->msg - 3;
  memcpy(ctx->msg, head, hn);
  memcpy(ctx->msg + hn, ": ", 2);
  size_t room = sizeof ctx->msg - hn - 3, tn = strlen(tail);
  if (tn > room) tn = room;
  memcpy(ctx->msg + hn + 2, tail, tn);
  ctx->msg[hn + 2 + tn] = 0;
}

const char *pn_errmsg(const struct pn_ctx *ctx) {
  if (!ctx) return "no context";
  if (ctx->msg[0]) return ctx->msg;
  return pn_status_str(ctx->status);
}

void pn_err_clear(struct pn_ctx *ctx) {
  if (!ctx) return;
  ctx->status = PN_OK;
  ctx->msg[0] = 0;
}
