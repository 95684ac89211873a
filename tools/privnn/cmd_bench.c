/* cmd_bench.c - `privnn bench ckks`: milliseconds per CKKS operation at 128-bit parameters.
**
** For each N it runs every operation on SEAL's default chain (one key-switching digit per prime), then
** relinearisation and rotation again on privnn's hybrid chain of the same log QP budget (fewer digits,
** more special primes), and the polynomial evaluations on the scale40 chain (40-bit scaling primes, so
** the scale stays 2^40 through a deep circuit). Each chain is printed exactly. Times are per operation,
** the median of repeated runs, measured as process CPU time (single-threaded by default, so on a loaded
** machine it is closer to the quiet-machine wall time than wall-clock is); --wall measures wall-clock. */
#include <cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckks/ckks.h"
#include "ckks/poly.h"
#include "ckks/ring.h"
#include "cli.h"
#include "cli_util.h"
#include "util/fileio.h"
#include "util/progress.h"

static int g_wall = 0;
static double g_min_ms = 300.0; /* keep repeating an op until this much time was spent (and >= 3 runs) */

static double now_ms(void) {
  struct timespec t;
  clock_gettime(g_wall ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

struct bctx {
  struct pn_ctx ctx;
  struct pn_ckks_context *c;
  struct pn_prg prg;
  struct pn_ckks_sk *sk;
  struct pn_ckks_pk *pk;
  struct pn_ckks_swk *rk;
  struct pn_ckks_gk *gk;
  struct pn_ckks_pt *pt;
  struct pn_ckks_ct *a, *b, *r;
  double *x;
  FILE *csv;
  int n;
};

enum { OP_NTT_PRIME, OP_NTT_CT, OP_ENCODE, OP_ENCRYPT, OP_DECRYPT, OP_DECODE, OP_MUL_CT, OP_MUL_PT, OP_RELIN,
       OP_RESCALE, OP_ROTATE, OP_POLY15, OP_POLY27, OP_COUNT };
static const char *op_names[] = {"ntt_prime", "ntt_ct", "encode", "encrypt", "decrypt", "decode", "mul_ct",
                                 "mul_pt", "relin", "rescale", "rotate", "poly15", "poly27"};
_Static_assert(sizeof op_names / sizeof *op_names == OP_COUNT, "op_names out of date");

static double coeffs[28];
static struct pn_poly_report g_rep; /* of the last polynomial evaluation (printed beside its time) */
static cJSON *g_rows, *g_chains;     /* the --json report's rows and chains (NULL without --json) */
static struct pn_progress g_bar;     /* rows measured of those asked for */
static uint64_t g_done;

/* one run of op; returns its time in ms, or a negative status */
static double run_op(struct bctx *B, int op) {
  struct pn_ctx *ctx = &B->ctx;
  const struct pn_ckks_context *c = B->c;
  int rc = PN_OK;
  double t0 = 0, t1;
  /* per-run setup outside the timed region */
  if (op == OP_RELIN) rc = pn_ckks_mul(ctx, c, B->a, B->b, B->r);
  if (op == OP_DECODE) rc = pn_ckks_decrypt(ctx, c, B->sk, B->a, B->pt);
  if (rc) return rc;
  static uint64_t *buf;
  static size_t bufn;
  size_t n = pn_ckks_n(c);
  if (op == OP_NTT_PRIME || op == OP_NTT_CT) {
    size_t need = 2 * (size_t)(pn_ckks_max_level(c) + 1) * n;
    if (bufn < need) {
      free(buf);
      buf = calloc(need, sizeof *buf);
      bufn = buf ? need : 0;
      if (!buf) return PN_ERR_NOMEM;
    }
  }
  struct pn_ntt t;
  if (op == OP_NTT_PRIME || op == OP_NTT_CT) {
    if ((rc = pn_ntt_init(ctx, &t, pn_ckks_prime(c, 0), (int)log2((double)n)))) return rc;
    for (size_t i = 0; i < bufn; i++) buf[i] = i % 1000003;
  }
  struct pn_poly_report *rep = &g_rep;
  t0 = now_ms();
  switch (op) {
  case OP_NTT_PRIME: pn_ntt_fwd(&t, buf); break;
  case OP_NTT_CT:
    /* every limb of both polynomials (one table per prime in a real ciphertext; the cost is the same) */
    for (int i = 0; i < 2 * (pn_ckks_max_level(c) + 1); i++) pn_ntt_fwd(&t, buf + (size_t)i * n);
    break;
  case OP_ENCODE: rc = pn_ckks_encode_real(ctx, c, B->x, pn_ckks_slots(c), ldexp(1, 40), -1, B->pt); break;
  case OP_ENCRYPT: rc = pn_ckks_encrypt_pk(ctx, c, B->pk, B->pt, &B->prg, B->r); break;
  case OP_DECRYPT: rc = pn_ckks_decrypt(ctx, c, B->sk, B->a, B->pt); break;
  case OP_DECODE: rc = pn_ckks_decode_real(ctx, c, B->pt, B->x); break;
  case OP_MUL_CT: rc = pn_ckks_mul(ctx, c, B->a, B->b, B->r); break;
  case OP_MUL_PT: rc = pn_ckks_mul_pt(ctx, c, B->a, B->pt, B->r); break;
  case OP_RELIN: rc = pn_ckks_relin(ctx, c, B->rk, B->r, B->r); break;
  case OP_RESCALE: rc = pn_ckks_rescale(ctx, c, B->a, B->r); break;
  case OP_ROTATE: rc = pn_ckks_rotate(ctx, c, B->gk, B->a, 1, B->r); break;
  case OP_POLY15: rc = pn_ckks_poly_eval(ctx, c, B->rk, B->a, coeffs, 15, B->r, rep); break;
  case OP_POLY27: rc = pn_ckks_poly_eval(ctx, c, B->rk, B->a, coeffs, 27, B->r, rep); break;
  }
  t1 = now_ms();
  if (op == OP_NTT_PRIME || op == OP_NTT_CT) pn_ntt_free(&t);
  if (rc) return rc;
  return t1 - t0;
}

static int bench_op(struct bctx *B, int op, const char *suffix, const char *chain) {
  double times[1000];
  int k = 0;
  double total = 0;
  while (k < 1000 && (k < 3 || total < g_min_ms)) {
    double ms = run_op(B, op);
    if (ms < 0) {
      fprintf(stderr, "privnn bench: %s: %s\n", op_names[op], pn_errmsg(&B->ctx));
      return (int)ms;
    }
    times[k++] = ms;
    total += ms;
  }
  qsort(times, (size_t)k, sizeof *times, cmp_d);
  double med = times[k / 2];
  char name[64];
  snprintf(name, sizeof name, "%s%s", op_names[op], suffix);
  pn_progress_end(&g_bar); /* the row replaces the bar's line; the next update draws it again */
  printf("  %-16s %10.3f ms   (median of %d)", name, med, k);
  bool poly = op == OP_POLY15 || op == OP_POLY27;
  if (poly) /* what explains the cost: products, and the split that places them */
    printf("  depth %d, %d ct products, %d scalar, baby steps %d, giant powers %d", g_rep.depth,
           g_rep.nonscalar_muls, g_rep.scalar_muls, g_rep.baby, g_rep.giant);
  printf("\n");
  if (B->csv) fprintf(B->csv, "%d,%s%s,%.4f\n", B->n, op_names[op], suffix, med);
  fflush(stdout);
  if (g_rows) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", B->n);
    cJSON_AddStringToObject(o, "op", name);
    cJSON_AddStringToObject(o, "chain", chain);
    cJSON_AddNumberToObject(o, "ms", med);
    cJSON_AddNumberToObject(o, "runs", k);
    if (poly) {
      cJSON_AddNumberToObject(o, "depth", g_rep.depth);
      cJSON_AddNumberToObject(o, "ct_products", g_rep.nonscalar_muls);
      cJSON_AddNumberToObject(o, "scalar_products", g_rep.scalar_muls);
      cJSON_AddNumberToObject(o, "baby_steps", g_rep.baby);
      cJSON_AddNumberToObject(o, "giant_powers", g_rep.giant);
    }
    cJSON_AddItemToArray(g_rows, o);
  }
  pn_progress_update(&g_bar, ++g_done, name);
  return PN_OK;
}

static void bctx_free(struct bctx *B) {
  pn_ckks_ct_free(B->a);
  pn_ckks_ct_free(B->b);
  pn_ckks_ct_free(B->r);
  pn_ckks_pt_free(B->pt);
  pn_ckks_gk_free(B->gk);
  pn_ckks_swk_free(B->rk);
  pn_ckks_pk_free(B->pk);
  pn_ckks_sk_free(B->sk);
  pn_ckks_context_free(B->c);
  pn_prg_free(&B->prg);
  free(B->x);
  B->c = NULL;
}

static int bctx_init(struct bctx *B, const char *preset, int logn) {
  struct pn_ckks_params p;
  int rc = pn_ckks_params_preset(&B->ctx, preset, logn, &p);
  if (!rc) rc = pn_ckks_context_new(&B->ctx, &p, &B->c);
  if (rc) return rc;
  char d[1024];
  pn_ckks_describe(B->c, d, sizeof d);
  pn_progress_end(&g_bar);
  printf(" chain %-8s %s\n", preset, d);
  if (g_chains) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", 1 << logn);
    cJSON_AddStringToObject(o, "chain", preset);
    cJSON_AddNumberToObject(o, "levels", pn_ckks_max_level(B->c));
    cJSON_AddStringToObject(o, "description", d);
    cJSON_AddItemToArray(g_chains, o);
  }
  int step = 1;
  if ((rc = pn_prg_init_u64(&B->ctx, &B->prg, 2026))) return rc;
  if ((rc = pn_ckks_keygen_secret(&B->ctx, B->c, &B->prg, &B->sk)) ||
      (rc = pn_ckks_keygen_public(&B->ctx, B->c, B->sk, &B->prg, &B->pk)) ||
      (rc = pn_ckks_keygen_relin(&B->ctx, B->c, B->sk, &B->prg, &B->rk)) ||
      (rc = pn_ckks_keygen_galois(&B->ctx, B->c, B->sk, &step, 1, 0, &B->prg, &B->gk)))
    return rc;
  size_t h = pn_ckks_slots(B->c);
  B->x = malloc(h * sizeof *B->x);
  B->pt = pn_ckks_pt_new(B->c);
  B->a = pn_ckks_ct_new(B->c);
  B->b = pn_ckks_ct_new(B->c);
  B->r = pn_ckks_ct_new(B->c);
  if (!B->x || !B->pt || !B->a || !B->b || !B->r) return pn_err(&B->ctx, PN_ERR_NOMEM, "bench");
  for (size_t i = 0; i < h; i++) B->x[i] = 2 * pn_prg_double(&B->prg) - 1;
  if ((rc = pn_ckks_encode_real(&B->ctx, B->c, B->x, h, ldexp(1, 40), -1, B->pt)) ||
      (rc = pn_ckks_encrypt_pk(&B->ctx, B->c, B->pk, B->pt, &B->prg, B->a)) ||
      (rc = pn_ckks_encrypt_pk(&B->ctx, B->c, B->pk, B->pt, &B->prg, B->b)))
    return rc;
  return PN_OK;
}

static int want(const char *ops, const char *name) {
  if (!ops) return 1;
  size_t l = strlen(name);
  for (const char *p = ops; *p;) {
    const char *e = strchr(p, ',');
    size_t m = e ? (size_t)(e - p) : strlen(p);
    if (m == l && !strncmp(p, name, l)) return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

static int bench_ckks(int argc, char **argv) {
  const char *cmd = "bench ckks", *nlist = "8192,16384,32768", *csv = NULL, *ops = NULL, *json = NULL;
  int64_t threads = 1;
  bool wall = false;
  for (int i = 1; i < argc; i++) /* bootstrapping has its own options and page */
    if (!strcmp(argv[i], "--bootstrap")) return pn_bench_ckks_boot(argc, argv);
  const struct pn_cli_opt opts[] = {
    {"--n", NULL, PN_CLI_STR, &nlist, "N,N,...", "ring degrees, powers of two in 4096..65536"},
    {"--ops", NULL, PN_CLI_STR, &ops, "a,b,...", "only these rows (names as in the CSV)", 0, 0, NULL, "all"},
    {"--threads", NULL, PN_CLI_INT, &threads, "T", "OpenMP threads", 1, 256},
    {"--min-ms", NULL, PN_CLI_REAL, &g_min_ms, "MS", "repeat each operation for at least this long (and >= 3 runs)",
     0, 999999},
    {"--wall", NULL, PN_CLI_FLAG, &wall, NULL, "wall-clock time instead of process CPU time"},
    {"--csv", NULL, PN_CLI_STR, &csv, "FILE", "also write the rows as CSV (n,op,ms)"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "report: the chains, every row with its runs (- for stdout)"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, NULL,
    "Milliseconds per CKKS operation at 128-bit parameters, the median of repeated runs:\n"
    "  ntt_prime ntt_ct encode encrypt decrypt decode mul_ct mul_pt relin rescale rotate\n"
    "      on SEAL's default chain (one key-switching digit per prime, one special prime);\n"
    "  relin_hybrid rotate_hybrid   on privnn's hybrid chain with the same log QP budget;\n"
    "  poly15 poly27                on the scale40 chain (degree-D polynomial, fresh ct, scale 2^40).\n"
    "mul_ct is without relinearisation; encrypt uses the public key; rotate is by one slot with\n"
    "key switching. Times are process CPU time, single-threaded unless --threads.\n"
    "Bootstrapping has its own options and page: privnn bench ckks --bootstrap --help.",
    "privnn bench ckks --n 16384 --ops relin,rotate --csv ckks.csv", opts, NULL, NULL, 0, 0};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  g_wall = wall;
  for (const char *p = ops; p && *p;) { /* a misspelt row would silently measure nothing */
    size_t l = strcspn(p, ",");
    bool known = (l == 12 && !strncmp(p, "relin_hybrid", l)) || (l == 13 && !strncmp(p, "rotate_hybrid", l));
    for (int op = 0; op < OP_COUNT && !known; op++)
      known = strlen(op_names[op]) == l && !strncmp(p, op_names[op], l);
    if (!known) return pn_cli_usage(cmd, "--ops: no operation '%.*s'", (int)l, p);
    p += l + (p[l] == ',');
  }
  int ns[8], nn = 0;
  for (const char *p = nlist; *p && nn < 8;) {
    char *end;
    long v = strtol(p, &end, 10);
    int logn = 0;
    while (logn < 20 && (1L << logn) < v) logn++;
    if (end == p || (1L << logn) != v || logn < 12 || logn > 16)
      return pn_cli_usage(cmd, "--n takes powers of two in [4096, 65536], not '%s'", p);
    ns[nn++] = logn;
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return pn_cli_usage(cmd, "--n: bad list '%s'", nlist);
  }
  omp_set_num_threads((int)threads);
  for (int i = 0; i < 28; i++) coeffs[i] = (i % 2 ? 1.0 : -0.5) / (1.0 + i);
  FILE *f = NULL;
  struct pn_atomic_file af; /* the CSV is written to a temporary file, renamed into place at the end */
  if (csv) {
    struct pn_ctx ctx = {0};
    if (pn_atomic_open(&ctx, &af, csv, 0644)) return pn_cli_fail(cmd, &ctx);
    f = af.f;
    fprintf(f, "n,op,ms\n");
  }
  printf("privnn bench ckks: %d thread(s), %s time, median per operation\n", (int)threads,
         g_wall ? "wall-clock" : "process CPU");
  if (json) {
    g_rows = cJSON_CreateArray();
    g_chains = cJSON_CreateArray();
  }
  int per_n = 0; /* rows measured per N, for the progress bar (poly rows a chain cannot hold end it early) */
  for (int op = OP_NTT_PRIME; op < OP_COUNT; op++) per_n += want(ops, op_names[op]);
  per_n += want(ops, "relin") || want(ops, "relin_hybrid");
  per_n += want(ops, "rotate") || want(ops, "rotate_hybrid");
  g_done = 0;
  pn_progress_start_unit(&g_bar, "bench ckks", "rows", (uint64_t)(per_n * nn));
  int rc = PN_OK;
  for (int k = 0; k < nn && !rc; k++) {
    int logn = ns[k];
    printf("N = %d\n", 1 << logn);
    struct bctx B;
    memset(&B, 0, sizeof B);
    B.csv = f;
    B.n = 1 << logn;
    int any = 0;
    for (int op = OP_NTT_PRIME; op <= OP_ROTATE; op++) any |= want(ops, op_names[op]);
    if (any) {
      rc = bctx_init(&B, "seal", logn);
      for (int op = OP_NTT_PRIME; op <= OP_ROTATE && !rc; op++)
        if (want(ops, op_names[op])) rc = bench_op(&B, op, "", "seal");
      bctx_free(&B);
    }
    if (!rc && (want(ops, "relin") || want(ops, "rotate") || want(ops, "relin_hybrid") ||
                want(ops, "rotate_hybrid"))) {
      memset(&B, 0, sizeof B);
      B.csv = f;
      B.n = 1 << logn;
      rc = bctx_init(&B, "hybrid", logn);
      if (!rc && (want(ops, "relin") || want(ops, "relin_hybrid"))) rc = bench_op(&B, OP_RELIN, "_hybrid", "hybrid");
      if (!rc && (want(ops, "rotate") || want(ops, "rotate_hybrid"))) rc = bench_op(&B, OP_ROTATE, "_hybrid", "hybrid");
      bctx_free(&B);
    }
    if (!rc && (want(ops, "poly15") || want(ops, "poly27"))) {
      memset(&B, 0, sizeof B);
      B.csv = f;
      B.n = 1 << logn;
      rc = bctx_init(&B, "scale40", logn);
      int levels = rc ? 0 : pn_ckks_max_level(B.c);
      for (int op = OP_POLY15; op <= OP_POLY27 && !rc; op++) {
        if (!want(ops, op_names[op])) continue;
        int d = op == OP_POLY15 ? 15 : 27, need = pn_ckks_poly_depth(coeffs, d);
        if (need > levels) {
          pn_progress_end(&g_bar);
          printf("  %-16s        n/a   (needs %d levels, the chain has %d)\n", op_names[op], need, levels);
          if (g_rows) { /* in the report too: a row asked for and not measured, with the reason */
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "n", B.n);
            cJSON_AddStringToObject(o, "op", op_names[op]);
            cJSON_AddStringToObject(o, "chain", "scale40");
            cJSON_AddNullToObject(o, "ms");
            cJSON_AddNumberToObject(o, "levels_needed", need);
            cJSON_AddNumberToObject(o, "levels", levels);
            cJSON_AddItemToArray(g_rows, o);
          }
          pn_progress_update(&g_bar, ++g_done, op_names[op]);
        } else {
          rc = bench_op(&B, op, "", "scale40");
        }
      }
      bctx_free(&B);
    }
    if (rc) fprintf(stderr, "privnn bench: %s\n", pn_errmsg(&B.ctx));
  }
  pn_progress_end(&g_bar);
  if (f) {
    struct pn_ctx ctx = {0};
    if (rc) pn_atomic_abort(&af);
    else if (pn_atomic_commit(&ctx, &af)) rc = pn_cli_fail(cmd, &ctx);
  }
  if (json) {
    struct pn_ctx ctx = {0};
    cJSON *body = cJSON_CreateObject();
    if (rc) cJSON_AddStringToObject(body, "status", "failed");
    cJSON_AddNumberToObject(body, "threads", (double)threads);
    cJSON_AddStringToObject(body, "clock", g_wall ? "wall" : "process_cpu");
    cJSON_AddStringToObject(body, "statistic", "median");
    cJSON_AddNumberToObject(body, "min_ms", g_min_ms);
    cJSON_AddItemToObject(body, "chains", g_chains);
    cJSON_AddItemToObject(body, "rows", g_rows);
    g_rows = g_chains = NULL;
    if (pn_cli_report(&ctx, cmd, json, body) && !rc) rc = pn_cli_fail(cmd, &ctx);
    cJSON_Delete(body);
  }
  return rc ? 1 : 0;
}

int pn_cmd_bench(int argc, char **argv) {
  static const struct pn_cli_sub subs[] = {
    {"ckks", bench_ckks, "milliseconds per CKKS operation at 128-bit parameters"},
    {"mpc", pn_bench_mpc, "HummingBird MPC: ReLU protocols and private inference end to end"},
    {"fhe", pn_bench_fhe, "compiled CKKS inference of a model (privnn fhe)"},
  };
  return pn_cli_dispatch("bench", subs, (int)(sizeof subs / sizeof *subs), argc, argv);
}
