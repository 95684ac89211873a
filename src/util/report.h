/* report.h - JSON reports (cJSON) written atomically, and small JSON reading helpers. */
#ifndef PN_REPORT_H
#define PN_REPORT_H

#include <cJSON.h>

struct pn_ctx;

/* Serialise obj (pretty) and write it atomically to path with the given mode. Does not free obj. */
int pn_json_write(struct pn_ctx *ctx, const char *path, const cJSON *obj, unsigned mode);
/* Parse a JSON file. On success *out is the caller's (cJSON_Delete). Syntax errors name the file
** and the byte offset. */
int pn_json_read(struct pn_ctx *ctx, const char *path, size_t max_bytes, cJSON **out /* OUT */);

#endif
