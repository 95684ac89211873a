/* cli_util.c - option scanning, number/shape parsing, error lines and thread settings for the CLI. */
#include "cli_util.h"

#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "graph/ir.h"
#include "util/status.h"

int pn_cli_fail(const char *cmd, const struct pn_ctx *ctx) {
  /* one line whatever the message holds (names from a corrupt file may contain control bytes) */
  fprintf(stderr, "privnn %s: ", cmd);
  for (const unsigned char *p = (const unsigned char *)pn_errmsg(ctx); *p; p++)
    fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
  fputc('\n', stderr);
  return PN_EXIT_FAIL;
}

int pn_cli_failf(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "privnn %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return PN_EXIT_FAIL;
}

int pn_cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "privnn %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (see privnn %s --help)\n", cmd);
  va_end(ap);
  return PN_EXIT_USAGE;
}

bool pn_cli_flag(const struct pn_cli_args *a, const char *name, const char *alias) {
  const char *s = a->argv[a->i];
  return !strcmp(s, name) || (alias && !strcmp(s, alias));
}

bool pn_cli_opt(struct pn_cli_args *a, const char *name, const char *alias, const char **val) {
  const char *s = a->argv[a->i];
  size_t n = strlen(name);
  if (!strncmp(s, name, n) && s[n] == '=') {
    *val = s + n + 1;
    return true;
  }
  if (!pn_cli_flag(a, name, alias)) return false;
  if (a->i + 1 >= a->argc) {
    *val = NULL;
    a->err = pn_cli_usage(a->cmd, "option %s needs a value", s);
    return true;
  }
  *val = a->argv[++a->i];
  return true;
}

int pn_cli_i64(const char *cmd, const char *what, const char *s, int64_t lo, int64_t hi,
               int64_t *out) {
  char *end;
  errno = 0;
  long long v = s ? strtoll(s, &end, 10) : 0;
  if (!s || !*s || *end || errno || v < lo || v > hi)
    return pn_cli_usage(cmd, "%s must be an integer in [%lld, %lld], got '%s'", what, (long long)lo,
                        (long long)hi, s ? s : "");
  *out = v;
  return PN_EXIT_OK;
}

int pn_cli_u64(const char *cmd, const char *what, const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = s && *s != '-' ? strtoull(s, &end, 0) : 0;
  if (!s || !*s || *s == '-' || *end || errno)
    return pn_cli_usage(cmd, "%s must be a non-negative integer, got '%s'", what, s ? s : "");
  *out = v;
  return PN_EXIT_OK;
}

int pn_cli_shape(const char *cmd, const char *what, const char *s, int *ndim,
                 int64_t dims[PN_MAX_DIMS]) {
  int n = 0;
  const char *p = s;
  if (!s || !*s) return pn_cli_usage(cmd, "%s is empty (expected e.g. 1x3x224x224)", what);
  while (*p) {
    char *end;
    errno = 0;
    long long v = (*p >= '0' && *p <= '9') ? strtoll(p, &end, 10) : -1;
    if (v <= 0 || errno || v > ((int64_t)1 << 40) || n == PN_MAX_DIMS || (*end && *end != 'x'))
      return pn_cli_usage(cmd, "%s '%s' is not a shape like 1x3x224x224 (1 to %d positive dims)",
                          what, s, PN_MAX_DIMS);
    dims[n++] = v;
    p = end;
    if (*p == 'x') {
      p++;
      if (!*p) return pn_cli_usage(cmd, "%s '%s' ends with 'x'", what, s);
    }
  }
  *ndim = n;
  return PN_EXIT_OK;
}

char *pn_cli_value_str(char *buf, size_t n, const struct pn_value *v) {
  size_t k = (size_t)snprintf(buf, n, "%s ", pn_dtype_name(v->dtype));
  if (v->ndim < 0) {
    if (k < n) snprintf(buf + k, n - k, "[rank ?]");
    return buf;
  }
  if (k < n) k += (size_t)snprintf(buf + k, n - k, "[");
  for (int i = 0; i < v->ndim && k < n; i++) {
    const char *sep = i ? "," : "";
    if (v->dims[i] >= 0)
      k += (size_t)snprintf(buf + k, n - k, "%s%lld", sep, (long long)v->dims[i]);
    else if (v->dim_param[i] && *v->dim_param[i])
      k += (size_t)snprintf(buf + k, n - k, "%s%s", sep, v->dim_param[i]);
    else
      k += (size_t)snprintf(buf + k, n - k, "%s?", sep);
  }
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

void pn_cli_set_threads(int t) {
  if (t <= 0) return;
  omp_set_num_threads(t);
  openblas_set_num_threads(t);
}

char *pn_cli_thousands(char *buf, size_t n, int64_t v) {
  char tmp[32];
  int len = snprintf(tmp, sizeof tmp, "%" PRId64, v < 0 ? -v : v);
  size_t k = 0;
  if (v < 0 && k + 1 < n) buf[k++] = '-';
  for (int i = 0; i < len && k + 1 < n; i++) {
    if (i && (len - i) % 3 == 0 && k + 1 < n) buf[k++] = ',';
    if (k + 1 < n) buf[k++] = tmp[i];
  }
  buf[k] = 0;
  return buf;
}
