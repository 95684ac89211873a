/* cli_util.h - helpers shared by the CLI's subcommands: option scanning, number and shape parsing,
** error lines ("privnn CMD: message") and exit codes, thread settings. */
#ifndef PN_CLI_UTIL_H
#define PN_CLI_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "graph/tensor.h"

struct pn_ctx;
struct pn_value;

/* Exit codes: 0 success, 1 failure (bad file, failed run), 2 usage error. */
enum { PN_EXIT_OK = 0, PN_EXIT_FAIL = 1, PN_EXIT_USAGE = 2 };

/* Print "privnn CMD: <pn_errmsg(ctx)>" on stderr; returns PN_EXIT_FAIL. */
int pn_cli_fail(const char *cmd, const struct pn_ctx *ctx);
/* Print "privnn CMD: message" on stderr; returns PN_EXIT_FAIL. */
int pn_cli_failf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "privnn CMD: message (see privnn CMD --help)" on stderr; returns PN_EXIT_USAGE. */
int pn_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A cursor over argv for options of the form "--name VALUE" or "--name=VALUE". */
struct pn_cli_args {
  int argc;
  char **argv;
  int i;                       /* the argument being looked at */
  const char *cmd;
  int err;                     /* PN_EXIT_USAGE once an error line was printed */
};
/* Is argv[i] the flag `name` (or `alias`, may be NULL)? */
bool pn_cli_flag(const struct pn_cli_args *a, const char *name, const char *alias);
/* Is argv[i] the option `name` (or `alias`)? If so *val is its value (the next argument, consumed,
** or the text after '='); a missing value prints a usage error, sets a->err and gives *val = NULL. */
bool pn_cli_opt(struct pn_cli_args *a, const char *name, const char *alias, const char **val);

/* Parse a whole decimal integer in [lo, hi]. On failure prints a usage error naming `what`,
** returns PN_EXIT_USAGE; PN_EXIT_OK otherwise. */
int pn_cli_i64(const char *cmd, const char *what, const char *s, int64_t lo, int64_t hi,
               int64_t *out);
int pn_cli_u64(const char *cmd, const char *what, const char *s, uint64_t *out);
/* Parse "1x3x224x224" (1..PN_MAX_DIMS positive dims). Usage error as above. */
int pn_cli_shape(const char *cmd, const char *what, const char *s, int *ndim,
                 int64_t dims[PN_MAX_DIMS]);

/* A value's type and shape for people: "float32 [1,3,N,224]" (symbolic dims by name, unknown "?"). */
char *pn_cli_value_str(char *buf, size_t n, const struct pn_value *v);

/* Set OpenMP and OpenBLAS thread counts (t > 0). */
void pn_cli_set_threads(int t);

/* "11,689,512" */
char *pn_cli_thousands(char *buf, size_t n, int64_t v);

#endif
