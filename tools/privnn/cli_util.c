/* cli_util.c - option scanning, number/shape parsing, error lines and thread settings for the CLI. */
#include "cli_util.h"

#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "graph/ir.h"
#include "util/fileio.h"
#include "util/report.h"
#include "util/status.h"
#include "pn_commit.h"

/* An error line names the command by its words only ("privnn bench ckks: ..."); a help page named
 * by a flag as well ("bench ckks --bootstrap") keeps the flag for the --help hint alone. */
static void err_prefix(const char *cmd) {
  const char *flag = strstr(cmd, " -");
  fprintf(stderr, "privnn %.*s: ", flag ? (int)(flag - cmd) : (int)strlen(cmd), cmd);
}

int pn_cli_fail(const char *cmd, const struct pn_ctx *ctx) {
  /* one line whatever the message holds (names from a corrupt file may contain control bytes) */
  err_prefix(cmd);
  for (const unsigned char *p = (const unsigned char *)pn_errmsg(ctx); *p; p++)
    fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
  fputc('\n', stderr);
  return PN_EXIT_FAIL;
}

int pn_cli_failf(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  err_prefix(cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return PN_EXIT_FAIL;
}

int pn_cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  err_prefix(cmd);
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

/* Runtime settings that only take effect at process start, applied by re-executing privnn once
** (unless the user set them, or PN_NO_REEXEC is set):
** - OMP_WAIT_POLICY=passive: idle OpenMP threads sleep instead of spinning. On a machine shared
**   with other work a spinning thread holds a core that the thread it waits for needs (resnet18
**   with 2 threads: 280-650 ms spinning vs ~65 ms passive under load); on an idle machine a
**   wake-up costs a few microseconds per parallel region, and the executor forks few regions.
**   Training forks several regions per batch: lenet5 with 2 threads at load ~10 on 2 cores ran
**   322 images/s spinning, 1,792 passive, 1,882 on one thread (docs/training.md).
** - OPENBLAS_CORETYPE=SkylakeX on CPUs with AVX-512 (F/DQ/BW/VL) that OpenBLAS 0.3.21 does not
**   recognise (it picks its AVX2 Haswell kernels on AMD Zen 4): about 1.5x faster sgemm.
** - OPENBLAS_THREAD_TIMEOUT=20: OpenBLAS's idle threads spin (sched_yield) for 2^28 TSC ticks
**   after they start and after each job before they sleep: 0.1 s from process start on this
**   machine (TSC 2.6 GHz), so every short `privnn run --threads 2` shared its second core with a
**   spinning thread, although the executor's BLAS calls are all single-threaded (perf: 5% of a
**   one-thread mobilenetv2 run's samples in that thread's sched_yield). 2^20 ticks (~0.4 ms, as
**   long as k_par.c's helpers wait) still covers the gaps between the BLAS calls of a training
**   step. mobilenetv2/224, 2 threads, 3 warmups + 20 runs, 4 interleaved pairs: mean 2.49-3.90
**   -> 2.39-2.69 ms (medians 2.43-2.54 -> 2.35-2.73).
** The environment otherwise stays as it was; a failed exec just keeps the current process. */
void pn_cli_tune_process(void) {
  if (getenv("PN_NO_REEXEC")) return;
  bool need = false;
  if (!getenv("OMP_WAIT_POLICY")) need |= setenv("OMP_WAIT_POLICY", "passive", 1) == 0;
  if (!getenv("OPENBLAS_THREAD_TIMEOUT") && !getenv("GOTO_THREAD_TIMEOUT"))
    need |= setenv("OPENBLAS_THREAD_TIMEOUT", "20", 1) == 0;
  const char *core = openblas_get_corename();
  if (!getenv("OPENBLAS_CORETYPE") && core && (!strcmp(core, "Haswell") || !strcmp(core, "Zen")) &&
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    need |= setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) == 0;
  if (!need || setenv("PN_NO_REEXEC", "1", 1)) return;
  /* the full command line, as the kernel has it */
  FILE *f = fopen("/proc/self/cmdline", "rb");
  if (!f) return;
  char buf[65536];
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  bool whole = feof(f) && !ferror(f);
  fclose(f);
  if (!whole || len == 0) return;
  buf[len] = 0;
  char *args[1024];
  int n = 0;
  for (size_t i = 0; i < len && n < 1023; i += strlen(buf + i) + 1) args[n++] = buf + i;
  args[n] = NULL;
  if (n >= 1023) return;
  fflush(NULL);
  execv("/proc/self/exe", args);   /* returns only on failure: carry on as we are */
}

const char *pn_cli_wait_policy(void) {
  const char *w = getenv("OMP_WAIT_POLICY");
  if (w && !strcasecmp(w, "passive")) return "passive";
  if (w && !strcasecmp(w, "active")) return "active";
  return "default"; /* unset or a value libgomp ignores */
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

/* ---- declarative options ---- */

static const struct pn_cli_opt *find_opt(const struct pn_cli_spec *sp, const char *arg, size_t len) {
  for (const struct pn_cli_opt *o = sp->opts; o && o->name; o++)
    if ((strlen(o->name) == len && !strncmp(o->name, arg, len)) ||
        (o->alias && strlen(o->alias) == len && !strncmp(o->alias, arg, len)))
      return o;
  return NULL;
}

/* The i-th '|'-separated word of list into buf; false past the end. */
static bool choice_at(const char *list, int i, char *buf, size_t n) {
  const char *p = list;
  for (; i > 0 && p; i--) {
    p = strchr(p, '|');
    if (p) p++;
  }
  if (!p) return false;
  size_t len = strcspn(p, "|");
  if (len >= n) len = n - 1;
  memcpy(buf, p, len);
  buf[len] = 0;
  return true;
}

static void print_range(FILE *f, const struct pn_cli_opt *o) {
  if (o->kind == PN_CLI_INT) fprintf(f, "%lld..%lld", (long long)o->min, (long long)o->max);
  else fprintf(f, "%g..%g", o->min, o->max);
}

static int set_value(const struct pn_cli_spec *sp, const struct pn_cli_opt *o, const char *shown,
                     const char *v) {
  char *end;
  errno = 0;
  switch (o->kind) {
  case PN_CLI_FLAG:
  case PN_CLI_FLAG_OFF:
    return PN_EXIT_OK;
  case PN_CLI_STR:
    if (!*v) return pn_cli_usage(sp->cmd, "%s needs a non-empty value", shown);
    *(const char **)o->dst = v;
    return PN_EXIT_OK;
  case PN_CLI_INT: {
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || (double)x < o->min || (double)x > o->max) {
      err_prefix(sp->cmd);
      fprintf(stderr, "%s '%s': expected an integer in ", shown, v);
      print_range(stderr, o);
      fprintf(stderr, " (see privnn %s --help)\n", sp->cmd);
      return PN_EXIT_USAGE;
    }
    *(int64_t *)o->dst = x;
    return PN_EXIT_OK;
  }
  case PN_CLI_UINT: {
    unsigned long long x = *v == '-' ? 0 : strtoull(v, &end, 0);
    if (!*v || *v == '-' || *end || errno)
      return pn_cli_usage(sp->cmd, "%s '%s': expected a non-negative integer", shown, v);
    *(uint64_t *)o->dst = x;
    return PN_EXIT_OK;
  }
  case PN_CLI_REAL: {
    double x = strtod(v, &end);
    if (!*v || *end || errno == ERANGE || !isfinite(x) || x < o->min || x > o->max) {
      err_prefix(sp->cmd);
      fprintf(stderr, "%s '%s': expected a number in ", shown, v);
      print_range(stderr, o);
      fprintf(stderr, " (see privnn %s --help)\n", sp->cmd);
      return PN_EXIT_USAGE;
    }
    *(double *)o->dst = x;
    return PN_EXIT_OK;
  }
  case PN_CLI_CHOICE: {
    char w[64];
    for (int i = 0; choice_at(o->choices, i, w, sizeof w); i++)
      if (!strcmp(w, v)) {
        *(int *)o->dst = i;
        return PN_EXIT_OK;
      }
    char list[256];
    snprintf(list, sizeof list, "%s", o->choices);
    for (char *p = list; *p; p++)
      if (*p == '|') *p = ',';
    return pn_cli_usage(sp->cmd, "%s '%s': expected one of %s", shown, v, list);
  }
  case PN_CLI_SHAPE: {
    struct pn_cli_shape *s = o->dst;
    return pn_cli_shape(sp->cmd, shown, v, &s->ndim, s->dims);
  }
  case PN_CLI_LIST: {
    struct pn_cli_list *l = o->dst;
    if (l->n == PN_CLI_LIST_MAX) return pn_cli_usage(sp->cmd, "more than %d %s values", PN_CLI_LIST_MAX, shown);
    l->v[l->n++] = v;
    return PN_EXIT_OK;
  }
  }
  return PN_EXIT_USAGE;
}

static int parse_argv(const struct pn_cli_spec *sp, int argc, char **argv);

/* when the running command started (pn_cli_parse), for its report's envelope */
static time_t g_started;
static double g_t0;
static int g_json_fd = -1;      /* the real stdout once --json - moved the text to stderr */

int pn_cli_parse(const struct pn_cli_spec *sp, int argc, char **argv) {
  g_started = time(NULL);
  g_t0 = pn_now();
  int rc = parse_argv(sp, argc, argv);
  if (rc) return rc;
  /* --json -: the report goes to stdout alone; what the command prints for people goes to stderr */
  for (const struct pn_cli_opt *o = sp->opts; o && o->name; o++)
    if (o->kind == PN_CLI_STR && !strcmp(o->name, "--json") && *(const char **)o->dst &&
        !strcmp(*(const char **)o->dst, "-") && g_json_fd < 0) {
      fflush(stdout);
      g_json_fd = dup(STDOUT_FILENO);
      if (g_json_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        err_prefix(sp->cmd);
        fputs("--json -: cannot redirect stdout\n", stderr);
        return PN_EXIT_FAIL;
      }
    }
  return PN_EXIT_OK;
}

struct pn_cli_clock pn_cli_clock_get(void) {
  return (struct pn_cli_clock){(long long)g_started, g_t0};
}

void pn_cli_clock_set(struct pn_cli_clock c) {
  g_started = (time_t)c.started;
  g_t0 = c.t0;
}

int pn_cli_report(struct pn_ctx *ctx, const char *cmd, const char *path, const cJSON *body) {
  static const char *const keys[] = {"command", "version", "commit", "status", "started", "seconds"};
  cJSON *env = cJSON_CreateObject();
  char started[32];
  struct tm tm;
  gmtime_r(&g_started, &tm);
  strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
  cJSON *dflt[6] = {cJSON_CreateString(cmd), cJSON_CreateString(PN_VERSION), cJSON_CreateString(PN_COMMIT),
                    cJSON_CreateString("ok"), cJSON_CreateString(started),
                    cJSON_CreateNumber(g_t0 > 0 ? pn_now() - g_t0 : 0)};
  /* the envelope first (a body's own status or seconds, e.g. train's "interrupted", replaces the
  ** default), then the body's keys in order; the body is referenced, not copied or taken */
  for (int i = 0; i < 6; i++) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(body, keys[i]);
    if (b && i >= 3) {
      cJSON_Delete(dflt[i]);
      cJSON_AddItemReferenceToObject(env, keys[i], (cJSON *)b);
    } else {
      cJSON_AddItemToObject(env, keys[i], dflt[i]);
    }
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, body) {
    bool dup = false;
    for (int i = 0; i < 6; i++) dup |= !strcmp(it->string, keys[i]);
    if (!dup) cJSON_AddItemReferenceToObject(env, it->string, (cJSON *)it);
  }
  int rc;
  if (strcmp(path, "-")) {
    rc = pn_json_write(ctx, path, env, 0644);
  } else {
    char *text = cJSON_Print(env);
    FILE *f = g_json_fd >= 0 ? fdopen(dup(g_json_fd), "w") : NULL;
    rc = text && f && fprintf(f, "%s\n", text) >= 0 && fflush(f) == 0 ? PN_OK
       : pn_err(ctx, PN_ERR_IO, "--json -: cannot write the report to stdout");
    if (f) fclose(f);
    free(text);
  }
  cJSON_Delete(env);
  return rc;
}

static int parse_argv(const struct pn_cli_spec *sp, int argc, char **argv) {
  int n_pos = 0;
  bool opts_done = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (opts_done || a[0] != '-' || !a[1]) {
      if (n_pos >= sp->max_pos)
        return sp->max_pos ? pn_cli_usage(sp->cmd, "more than one %s given ('%s', '%s')",
                                          sp->pos_name ? sp->pos_name : "argument", sp->pos[0], a)
                           : pn_cli_usage(sp->cmd, "unexpected argument '%s'", a);
      sp->pos[n_pos++] = a;
      continue;
    }
    if (!strcmp(a, "--")) {
      opts_done = true;
      continue;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      pn_cli_help(sp, stdout);
      return -1;
    }
    const char *eq = strchr(a, '=');
    size_t len = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
    const struct pn_cli_opt *o = find_opt(sp, a, len);
    if (!o) return pn_cli_usage(sp->cmd, "unknown option '%.*s'", (int)len, a);
    if (o->given) *o->given = true;
    if (o->kind == PN_CLI_FLAG || o->kind == PN_CLI_FLAG_OFF) {
      if (eq && a[1] == '-') return pn_cli_usage(sp->cmd, "%s takes no value", o->name);
      *(bool *)o->dst = o->kind == PN_CLI_FLAG;
      continue;
    }
    const char *v = eq && a[1] == '-' ? eq + 1 : NULL;
    if (!v) {
      if (i + 1 >= argc) return pn_cli_usage(sp->cmd, "%s needs a value (%s)", o->name, o->arg ? o->arg : "");
      v = argv[++i];
    }
    int rc = set_value(sp, o, o->name, v);
    if (rc) return rc;
  }
  if (n_pos < sp->min_pos)
    return pn_cli_usage(sp->cmd, "no %s given", sp->pos_name ? sp->pos_name : "arguments");
  for (int k = n_pos; k < sp->max_pos; k++) sp->pos[k] = NULL;
  return PN_EXIT_OK;
}

/* The default shown in help: the spec's text, or the value the destination holds before parsing. */
static void print_default(FILE *f, const struct pn_cli_opt *o) {
  if (o->def) {
    if (*o->def) fprintf(f, " (default %s)", o->def);
    return;
  }
  char w[64];
  switch (o->kind) {
  case PN_CLI_STR:
    if (*(const char *const *)o->dst) fprintf(f, " (default %s)", *(const char *const *)o->dst);
    break;
  case PN_CLI_INT: fprintf(f, " (default %lld)", (long long)*(const int64_t *)o->dst); break;
  case PN_CLI_UINT: fprintf(f, " (default %llu)", (unsigned long long)*(const uint64_t *)o->dst); break;
  case PN_CLI_REAL: fprintf(f, " (default %g)", *(const double *)o->dst); break;
  case PN_CLI_CHOICE:
    if (choice_at(o->choices, *(const int *)o->dst, w, sizeof w)) fprintf(f, " (default %s)", w);
    break;
  default: break;
  }
}

void pn_cli_help(const struct pn_cli_spec *sp, FILE *f) {
  /* a synopsis that places [options] itself (e.g. before a list of files) is printed as written */
  const char *syn = sp->synopsis ? sp->synopsis : "";
  size_t ls = strlen(syn), lo = strlen("[options]");
  bool has_opts = ls >= lo && !strcmp(syn + ls - lo, "[options]");
  fprintf(f, "usage: privnn %s%s%s%s\n", sp->cmd, *syn ? " " : "", syn, has_opts ? "" : " [options]");
  if (sp->about) fprintf(f, "\n%s\n", sp->about);
  fprintf(f, "\noptions:\n");
  for (const struct pn_cli_opt *o = sp->opts; o && o->name; o++) {
    char left[96];
    int n = snprintf(left, sizeof left, "  %s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "", o->name);
    if (o->kind == PN_CLI_CHOICE) {
      char list[128];
      snprintf(list, sizeof list, "%s", o->choices);
      snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg ? o->arg : list);
    } else if (o->arg) {
      snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg);
    }
    char *text = NULL;
    size_t tlen = 0;
    FILE *t = open_memstream(&text, &tlen);
    if (!t) continue;
    fprintf(t, "%s", o->help ? o->help : "");
    if (o->kind == PN_CLI_INT || o->kind == PN_CLI_REAL) {
      fprintf(t, " [");
      print_range(t, o);
      fprintf(t, "]");
    }
    if (o->kind == PN_CLI_CHOICE && o->arg) fprintf(t, " (%s)", o->choices);
    print_default(t, o);
    fclose(t);
    /* the text wrapped at word boundaries into the column from 26 to 100 */
    fprintf(f, "%-26s", left);
    size_t col = strlen(left) >= 26 ? 100 : 26;
    for (const char *p = text; *p;) {
      size_t w = strcspn(p, " ");
      if (col > 26 && col + 1 + w > 100) {
        fprintf(f, "\n%26s", "");
        col = 26;
      } else if (col > 26) {
        fputc(' ', f);
        col++;
      }
      fwrite(p, 1, w, f);
      col += w;
      p += w;
      p += strspn(p, " ");
    }
    free(text);
    fputc('\n', f);
  }
  fprintf(f, "%-26s%s\n", "  -h, --help", "this text");
  if (sp->example) fprintf(f, "\nexample:\n  %s\n", sp->example);
}

int pn_cli_dispatch(const char *cmd, const struct pn_cli_sub *subs, int n, int argc, char **argv) {
  bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
  if (argc < 2 || help) {
    FILE *f = help ? stdout : stderr;
    fprintf(f, "usage: privnn %s SUBCOMMAND [options]    (privnn %s SUBCOMMAND --help for details)\n\n"
            "subcommands:\n", cmd, cmd);
    for (int i = 0; i < n; i++) fprintf(f, "  %-12s %s\n", subs[i].name, subs[i].summary);
    return help ? PN_EXIT_OK : PN_EXIT_USAGE;
  }
  for (int i = 0; i < n; i++)
    if (!strcmp(argv[1], subs[i].name)) return subs[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "privnn %s: unknown subcommand '%s' (", cmd, argv[1]);
  for (int i = 0; i < n; i++) fprintf(stderr, "%s%s", i ? ", " : "", subs[i].name);
  fprintf(stderr, ")\n");
  return PN_EXIT_USAGE;
}
