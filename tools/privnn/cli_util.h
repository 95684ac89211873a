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

/* Re-execute privnn once with runtime settings that only take effect at process start (idle
** OpenMP threads sleep: OMP_WAIT_POLICY=passive; OpenBLAS's AVX-512 kernels where it misreads the
** CPU), unless the user set them or PN_NO_REEXEC is set. Commands running OpenMP kernels for long
** (run, train, eval) call it after parsing their options. */
void pn_cli_tune_process(void);
/* The OpenMP wait policy this process runs with ("passive", "active", or "default"), for reports. */
const char *pn_cli_wait_policy(void);

/* Print "privnn CMD: <pn_errmsg(ctx)>" on stderr; returns PN_EXIT_FAIL. */
int pn_cli_fail(const char *cmd, const struct pn_ctx *ctx);
/* Print "privnn CMD: message" on stderr; returns PN_EXIT_FAIL. */
int pn_cli_failf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "privnn CMD: message (see privnn CMD --help)" on stderr; returns PN_EXIT_USAGE. */
int pn_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- declarative options: one table per subcommand ----
** Every (sub)command entry point gets argv with argv[0] = its own name ("infer" for `privnn mpc
** infer`) and declares its options once, in a table: pn_cli_parse reads argv with it (numbers
** range-checked, a value that does not parse is an error, never a silent 0, and an option the table
** lacks is an error, never ignored) and pn_cli_help prints the help page from it: usage line, what
** the command does, each option with its range and default, and an example. */
enum pn_cli_kind {
  PN_CLI_FLAG,                 /* bool *dst set true */
  PN_CLI_FLAG_OFF,             /* bool *dst set false (--no-tls) */
  PN_CLI_STR,                  /* const char **dst: the argument (non-empty) */
  PN_CLI_INT,                  /* int64_t *dst: a decimal integer in [min, max] */
  PN_CLI_UINT,                 /* uint64_t *dst: a non-negative integer (seeds: any 64-bit value) */
  PN_CLI_REAL,                 /* double *dst: a finite number in [min, max] */
  PN_CLI_CHOICE,               /* int *dst: the index of the argument in choices "a|b|c" */
  PN_CLI_SHAPE,                /* struct pn_cli_shape *dst: "1x3x224x224" */
  PN_CLI_LIST,                 /* struct pn_cli_list *dst: each occurrence appends its value */
};
#define PN_CLI_LIST_MAX 64
struct pn_cli_list {
  int n;
  const char *v[PN_CLI_LIST_MAX];
};
struct pn_cli_shape {
  int ndim;                    /* 0 = not given */
  int64_t dims[PN_MAX_DIMS];
};
struct pn_cli_opt {
  const char *name;            /* "--count"; NULL ends a table */
  const char *alias;           /* "-n", or NULL */
  enum pn_cli_kind kind;
  void *dst;
  const char *arg;             /* the value's placeholder in help ("N", "FILE") */
  const char *help;            /* one line */
  double min, max;             /* PN_CLI_INT, PN_CLI_REAL */
  const char *choices;         /* PN_CLI_CHOICE */
  const char *def;             /* default as help shows it; NULL: *dst before parsing; "": none */
  bool *given;                 /* set when the option appears (may be NULL) */
};
struct pn_cli_spec {
  const char *cmd;             /* "mpc dealer": messages say "privnn mpc dealer: ..." */
  const char *synopsis;        /* what follows the command in the usage line */
  const char *about;           /* what the command does (a paragraph) */
  const char *example;         /* one command line */
  const struct pn_cli_opt *opts;
  const char *pos_name;        /* the positional arguments in messages ("MODEL.onnx") */
  const char **pos;            /* receives them: max_pos entries, NULL for absent ones */
  int min_pos, max_pos;
};
/* Parse argv[1..argc) into the table's destinations ("--name VALUE", "--name=VALUE", "-a VALUE",
** "--" ends options; a repeated option: the last wins). Returns PN_EXIT_OK; -1 after printing the
** help page (--help or -h: the caller exits 0); PN_EXIT_USAGE after printing what is wrong, e.g.
** "privnn mpc infer: --count 'abc': expected an integer in 1..16777216 (see privnn mpc infer --help)". */
int pn_cli_parse(const struct pn_cli_spec *spec, int argc, char **argv);
void pn_cli_help(const struct pn_cli_spec *spec, FILE *f);

/* Write a --json report to path ("-": stdout; pn_cli_parse then moved the command's own text to
** stderr). Every report has one envelope: "command" ("mpc infer"), "version", "commit", "status"
** ("ok", or the body's own), "started" (UTC, ISO 8601), "seconds" (wall clock since pn_cli_parse,
** or the body's own), then the body's keys in their order. Counts of images are "images" in every
** report. The body stays the caller's. */
struct cJSON;
int pn_cli_report(struct pn_ctx *ctx, const char *cmd, const char *path, const struct cJSON *body);
/* The clock of the report's "started" and "seconds", started by pn_cli_parse. A command running other
** subcommands in process (bench mpc) saves its own and sets it back before writing its report. */
struct pn_cli_clock {
  long long started;           /* time(NULL) */
  double t0;                   /* pn_now() */
};
struct pn_cli_clock pn_cli_clock_get(void);
void pn_cli_clock_set(struct pn_cli_clock c);
/* Run a subcommand: argv[1] names it among the n entries of subs (argv[0] is the command);
** "--help" / no subcommand print the list. The subcommand gets (argc - 1, argv + 1). */
struct pn_cli_sub {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
};
int pn_cli_dispatch(const char *cmd, const struct pn_cli_sub *subs, int n, int argc, char **argv);

/* The older cursor over argv ("--name VALUE" / "--name=VALUE"), kept for commands not yet
** converted to a table (cmd_paf.c, cmd_mpc_search.c); new commands use pn_cli_parse. */
struct pn_cli_args {
  int argc;
  char **argv;
  int i;                       /* the argument being looked at */
  const char *cmd;
  int err;                     /* PN_EXIT_USAGE once an error line was printed */
};
bool pn_cli_flag(const struct pn_cli_args *a, const char *name, const char *alias);
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
