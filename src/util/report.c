/* report.c - JSON report writing and reading over cJSON, with atomic writes. */
#include "util/report.h"

#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/status.h"

int pn_json_write(struct pn_ctx *ctx, const char *path, const cJSON *obj, unsigned mode) {
  char *text = cJSON_Print(obj);
  if (!text) return pn_err(ctx, PN_ERR_NOMEM, "%s: cannot serialise JSON", path);
  size_t n = strlen(text);
  text[n] = '\n'; /* cJSON_Print's terminator becomes the final newline */
  int rc = pn_write_file_atomic(ctx, path, text, n + 1, mode);
  free(text);
  return rc;
}

int pn_json_read(struct pn_ctx *ctx, const char *path, size_t max_bytes, cJSON **out) {
  *out = NULL;
  uint8_t *buf;
  size_t n;
  int rc = pn_read_file(ctx, path, max_bytes ? max_bytes : (64u << 20), &buf, &n);
  if (rc) return rc;
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts((const char *)buf, n, &end, 0);
  if (!j) {
    size_t off = end ? (size_t)(end - (const char *)buf) : 0;
    free(buf);
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: invalid JSON near byte %zu", path, off);
  }
  size_t off = end ? (size_t)(end - (const char *)buf) : n;
  while (off < n && (buf[off] == ' ' || buf[off] == '\t' || buf[off] == '\n' || buf[off] == '\r'))
    off++;
  free(buf);
  if (off < n) {
    cJSON_Delete(j);
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: trailing data after the JSON value at byte %zu", path,
                  off);
  }
  *out = j;
  return PN_OK;
}
