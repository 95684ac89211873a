/* cmd_bench_boot.c - `privnn bench ckks --bootstrap`: time, precision, levels and key sizes of CKKS
** bootstrapping with the library's presets (N = 2^15 and 2^16, full and sparse slots, 1 and 2 threads).
**
** Per (N, slots): keys are generated once (timed), the bootstrapping context is built (timed), then for each
** thread count `reps` bootstraps of uniform real messages in [-1, 1] run; the median wall-clock and process
** CPU time are reported with the time of each stage, the levels before and after, the precision (-log2 of
** the mean and of the largest error over all slots) and the key sizes in memory and serialized (seeded). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cJSON.h>

#include "ckks/boot.h"
#include "ckks/ckks.h"
#include "cli.h"
#include "cli_util.h"
#include "util/fileio.h"
#include "util/progress.h"
#include "util/report.h"

static double clk_ms(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* parse "a,b,c" of ints into v (at most max); 0 on a bad list */
static int int_list(const char *s, int *v, int max) {
  int n = 0;
  while (*s && n < max) {
    char *end;
    long x = strtol(s, &end, 10);
    if (end == s || (*end && *end != ',')) return 0;
    v[n++] = (int)x;
    s = *end ? end + 1 : end;
  }
  return *s ? 0 : n;
}

struct run {
  int logn, logslots, threads;
  double ms, cpu_ms, stage[PN_BOOT_STAGES], keygen_ms, setup_ms, mean, min, logqp;
  struct pn_ckks_boot_info info;
  size_t rss;
};

static int one_config(int logn, int logslots, const int *threads, int nthreads, int reps, struct pn_progress *pg,
                      int *step, struct run *runs, int *nruns) {
  struct pn_ctx ctx = {0};
  struct pn_ckks_params p;
  struct pn_ckks_boot_params bp;
  struct pn_ckks_context *c = NULL;
  struct pn_ckks_sk *sk = NULL;
  struct pn_ckks_swk *rk = NULL;
  struct pn_ckks_boot_keys *bk = NULL;
  struct pn_ckks_boot *b = NULL;
  struct pn_ckks_pt *pt = NULL;
  struct pn_ckks_ct *ct = NULL, *out = NULL;
  struct pn_prg prg;
  double *z = NULL, *o = NULL;
  memset(&prg, 0, sizeof prg);
  int rc = pn_ckks_boot_preset(&ctx, logn, logslots, &p, &bp);
  p.allow_insecure = logn < 15; /* the presets below 2^15 are test rings */
  if (!rc) rc = pn_ckks_context_new(&ctx, &p, &c);
  if (!rc) rc = pn_prg_init_u64(&ctx, &prg, 2026);
  if (rc) goto done;
  char d[2048];
  pn_ckks_describe(c, d, sizeof d);
  printf("N = %d, 2^%d slots: %s%s\n", 1 << logn, logslots, d, logn < 15 ? "  (INSECURE test ring)" : "");
  fflush(stdout);
  omp_set_num_threads(threads[nthreads - 1]); /* set-up with the most threads asked for */
  double t0 = clk_ms(CLOCK_MONOTONIC);
  if ((rc = pn_ckks_keygen_secret(&ctx, c, &prg, &sk)) || (rc = pn_ckks_keygen_relin(&ctx, c, sk, &prg, &rk)) ||
      (rc = pn_ckks_boot_keygen(&ctx, c, &bp, sk, &prg, &bk)))
    goto done;
  double t1 = clk_ms(CLOCK_MONOTONIC);
  pn_progress_update(pg, (uint64_t)++*step, "keys made");
  if ((rc = pn_ckks_boot_new(&ctx, c, &bp, rk, bk, &b))) goto done;
  double t2 = clk_ms(CLOCK_MONOTONIC);
  pn_progress_update(pg, (uint64_t)++*step, "context built");
  struct pn_ckks_boot_info info;
  pn_ckks_boot_get_info(b, &info);
  const size_t slots = pn_ckks_slots(c), n = info.slots;
  z = malloc(slots * sizeof *z);
  o = malloc(slots * sizeof *o);
  pt = pn_ckks_pt_new(c);
  ct = pn_ckks_ct_new(c);
  out = pn_ckks_ct_new(c);
  if (!z || !o || !pt || !ct || !out) {
    rc = pn_err(&ctx, PN_ERR_NOMEM, "bench bootstrap");
    goto done;
  }
  for (size_t i = 0; i < slots; i++) z[i] = i < n ? 2 * pn_prg_double(&prg) - 1 : z[i % n];
  if ((rc = pn_ckks_encode_real(&ctx, c, z, slots, pn_ckks_default_scale(c), info.input_level, pt)) ||
      (rc = pn_ckks_encrypt_sk(&ctx, c, sk, pt, &prg, ct)))
    goto done;
  for (int ti = 0; ti < nthreads && !rc; ti++) {
    omp_set_num_threads(threads[ti]);
    double wall[64], cpu[64], st[64][PN_BOOT_STAGES];
    for (int r = 0; r < reps && !rc; r++) {
      double w0 = clk_ms(CLOCK_MONOTONIC), c0 = clk_ms(CLOCK_PROCESS_CPUTIME_ID);
      rc = pn_ckks_bootstrap_timed(&ctx, b, ct, out, threads[ti] == 1 ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC,
                                   st[r]);
      wall[r] = clk_ms(CLOCK_MONOTONIC) - w0;
      cpu[r] = clk_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
      pn_progress_update(pg, (uint64_t)++*step, "bootstrapping");
    }
    if (rc) break;
    struct run *R = &runs[(*nruns)++];
    memset(R, 0, sizeof *R);
    R->logn = logn;
    R->logslots = logslots;
    R->threads = threads[ti];
    R->info = info;
    R->keygen_ms = t1 - t0;
    R->setup_ms = t2 - t1;
    R->logqp = pn_ckks_log_qp(c);
    /* the median run, with its stages */
    int idx[64];
    for (int r = 0; r < reps; r++) idx[r] = r;
    for (int i = 1; i < reps; i++)
      for (int j = i; j > 0 && wall[idx[j]] < wall[idx[j - 1]]; j--) {
        int t = idx[j];
        idx[j] = idx[j - 1];
        idx[j - 1] = t;
      }
    const int med = idx[reps / 2];
    R->ms = wall[med];
    qsort(cpu, (size_t)reps, sizeof *cpu, cmp_d);
    R->cpu_ms = cpu[reps / 2];
    memcpy(R->stage, st[med], sizeof R->stage);
    if ((rc = pn_ckks_decrypt(&ctx, c, sk, out, pt)) || (rc = pn_ckks_decode_real(&ctx, c, pt, o))) break;
    double sum = 0, mx = 0;
    for (size_t i = 0; i < slots; i++) {
      const double e = fabs(o[i] - z[i]);
      sum += e;
      mx = fmax(mx, e);
    }
    R->mean = -log2(sum / (double)slots);
    R->min = -log2(mx);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    R->rss = (size_t)ru.ru_maxrss * 1024;
    printf("  %d thread%s: %8.0f ms wall, %8.0f ms CPU  [StC %.0f, raise %.0f, CtS %.0f, EvalMod %.0f]\n"
           "     levels %d -> %d (%d after), precision %.2f bits mean, %.2f min, keys %.2f GB (%.2f GB serialized),"
           " DFT plaintexts %.2f GB, %d rotation keys\n     keygen %.1f s, set-up %.1f s, peak RSS %.2f GB\n",
           R->threads, R->threads > 1 ? "s" : " ", R->ms, R->cpu_ms, R->stage[0], R->stage[1], R->stage[2],
           R->stage[3], info.input_level, info.output_level, info.levels_after, R->mean, R->min,
           (double)info.key_bytes / 1e9, (double)info.key_bytes_serialized / 1e9,
           (double)info.plaintext_bytes / 1e9, info.rotations, R->keygen_ms / 1e3, R->setup_ms / 1e3,
           (double)R->rss / 1e9);
    fflush(stdout);
  }
done:
  if (rc) fprintf(stderr, "privnn bench: N = %d, 2^%d slots: %s\n", 1 << logn, logslots, pn_errmsg(&ctx));
  free(z);
  free(o);
  pn_ckks_pt_free(pt);
  pn_ckks_ct_free(ct);
  pn_ckks_ct_free(out);
  pn_ckks_boot_free(b);
  pn_ckks_boot_keys_free(bk);
  pn_ckks_swk_free(rk);
  pn_ckks_sk_free(sk);
  pn_ckks_context_free(c);
  pn_prg_free(&prg);
  return rc;
}

static cJSON *run_json(const struct run *R) {
  cJSON *o = cJSON_CreateObject(), *st = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "n", 1 << R->logn);
  cJSON_AddNumberToObject(o, "slots", (double)R->info.slots);
  cJSON_AddNumberToObject(o, "threads", R->threads);
  cJSON_AddNumberToObject(o, "ms", R->ms);
  cJSON_AddNumberToObject(o, "cpu_ms", R->cpu_ms);
  cJSON_AddNumberToObject(o, "levels_after", R->info.levels_after);
  cJSON_AddNumberToObject(o, "input_level", R->info.input_level);
  cJSON_AddNumberToObject(o, "output_level", R->info.output_level);
  cJSON_AddNumberToObject(o, "precision_bits_mean", R->mean);
  cJSON_AddNumberToObject(o, "precision_bits_min", R->min);
  cJSON_AddNumberToObject(o, "key_bytes", (double)R->info.key_bytes);
  cJSON_AddNumberToObject(o, "key_bytes_serialized", (double)R->info.key_bytes_serialized);
  cJSON_AddNumberToObject(o, "plaintext_bytes", (double)R->info.plaintext_bytes);
  cJSON_AddNumberToObject(o, "rotation_keys", R->info.rotations);
  cJSON_AddNumberToObject(o, "log_qp", R->logqp);
  cJSON_AddNumberToObject(o, "keygen_ms", R->keygen_ms);
  cJSON_AddNumberToObject(o, "setup_ms", R->setup_ms);
  cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)R->rss);
  cJSON_AddNumberToObject(st, "slot_to_coeff", R->stage[0]);
  cJSON_AddNumberToObject(st, "raise", R->stage[1]);
  cJSON_AddNumberToObject(st, "coeff_to_slot", R->stage[2]);
  cJSON_AddNumberToObject(st, "eval_mod", R->stage[3]);
  cJSON_AddItemToObject(o, "stage_ms", st);
  return o;
}

int pn_bench_ckks_boot(int argc, char **argv) {
  const char *cmd = "bench ckks --bootstrap";
  int ns[4] = {15, 16}, nn = 2, sl[8] = {0, 12}, nsl = 2, th[4] = {1, 2}, nth = 2;
  int64_t reps64 = 1;
  const char *json = NULL, *csv = NULL, *nlist = NULL, *slist = NULL, *tlist = NULL;
  bool boot = false;
  const struct pn_cli_opt opts[] = {
    {"--bootstrap", NULL, PN_CLI_FLAG, &boot, NULL, "bootstrapping (this page)"},
    {"--n", NULL, PN_CLI_STR, &nlist, "N,...", "ring degrees, powers of two in 1024..65536 (below 2^15: insecure test rings)",
     0, 0, NULL, "32768,65536"},
    {"--slots", NULL, PN_CLI_STR, &slist, "L,...", "log2 of the slot counts (0 = full, logN - 1)", 0, 0, NULL, "0,12"},
    {"--threads", NULL, PN_CLI_STR, &tlist, "T,...", "thread counts in 1..256", 0, 0, NULL, "1,2"},
    {"--reps", NULL, PN_CLI_INT, &reps64, "R", "bootstraps per thread count (the median is reported)", 1, 64},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "report: one record per run (- for stdout)"},
    {"--csv", NULL, PN_CLI_STR, &csv, "FILE", "also write one row per run as CSV"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, NULL,
    "CKKS bootstrapping with the library's 128-bit presets (SlotToCoeff first, sparse-secret\n"
    "encapsulation, dense ternary secret). For each N and slot count, keys are made once, then each\n"
    "thread count runs R bootstraps of uniform real messages in [-1, 1]. Reported: wall-clock and\n"
    "process CPU time (median), the time of each stage, levels before and after, precision (-log2 of\n"
    "the mean and of the largest error over the slots), key bytes in memory and serialized (uniform\n"
    "halves as seeds), precomputed plaintexts, key generation and set-up time, peak resident memory.\n"
    "JSON: one record per run with n, slots, threads, ms, cpu_ms, levels_after, precision_bits_mean,\n"
    "precision_bits_min, key_bytes and the rest.",
    "privnn bench ckks --bootstrap --n 32768 --slots 12 --threads 1 --json boot.json", opts, NULL, NULL, 0, 0};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  const int reps = (int)reps64;
  if (nlist) {
    int v[4];
    nn = int_list(nlist, v, 4);
    for (int k = 0; k < nn; k++) {
      int l = 0;
      while (l < 20 && (1 << l) < v[k]) l++;
      if ((1 << l) != v[k] || l < 10 || l > 16) nn = 0;
      ns[k] = l;
    }
    if (!nn) return pn_cli_usage(cmd, "--n takes powers of two in [1024, 65536], not '%s'", nlist);
  }
  if (slist) {
    nsl = int_list(slist, sl, 8);
    for (int k = 0; k < nsl; k++)
      if (sl[k] < 0 || sl[k] > 15) nsl = 0;
    if (!nsl) return pn_cli_usage(cmd, "--slots takes log2 slot counts in 0..15, e.g. 15,12 (0 = full), not '%s'", slist);
  }
  if (tlist) {
    nth = int_list(tlist, th, 4);
    for (int k = 0; k < nth; k++)
      if (th[k] < 1 || th[k] > 256) nth = 0;
    if (!nth) return pn_cli_usage(cmd, "--threads takes a list in [1, 256], e.g. 1,2, not '%s'", tlist);
  }
  struct run runs[4 * 8 * 4]; /* --n, --slots and --threads lists hold at most 4, 8 and 4 entries */
  int nruns = 0, rc = 0, step = 0;
  struct pn_progress pg;
  pn_progress_start_unit(&pg, "bench bootstrap", "steps", (uint64_t)(nn * nsl * (2 + nth * reps)));
  printf("privnn bench ckks --bootstrap: median of %d run%s; wall-clock and process CPU time; 1-thread stage times in "
         "CPU time, others wall-clock\n", reps, reps > 1 ? "s" : "");
  for (int a = 0; a < nn && !rc; a++)
    for (int s = 0; s < nsl && !rc; s++) {
      const int logslots = sl[s] <= 0 ? ns[a] - 1 : sl[s];
      if (logslots >= ns[a]) {
        fprintf(stderr, "privnn bench: 2^%d slots do not fit N = 2^%d\n", logslots, ns[a]);
        rc = 2;
        break;
      }
      rc = one_config(ns[a], logslots, th, nth, reps, &pg, &step, runs, &nruns) ? 1 : 0;
    }
  pn_progress_end(&pg);
  if (json && nruns) {
    struct pn_ctx ctx = {0};
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    if (rc) cJSON_AddStringToObject(root, "status", "failed");
    cJSON_AddNumberToObject(root, "reps", (double)reps);
    for (int r = 0; r < nruns; r++) cJSON_AddItemToArray(arr, run_json(&runs[r]));
    cJSON_AddItemToObject(root, "runs", arr);
    if (pn_cli_report(&ctx, cmd, json, root)) rc = pn_cli_fail(cmd, &ctx);
    cJSON_Delete(root);
  }
  if (csv && nruns) {
    struct pn_ctx ctx = {0};
    struct pn_atomic_file af;
    if (pn_atomic_open(&ctx, &af, csv, 0644) == PN_OK) {
      fprintf(af.f, "n,slots,threads,ms,cpu_ms,levels_after,precision_bits_mean,precision_bits_min,key_bytes\n");
      for (int r = 0; r < nruns; r++)
        fprintf(af.f, "%d,%zu,%d,%.1f,%.1f,%d,%.2f,%.2f,%zu\n", 1 << runs[r].logn, runs[r].info.slots,
                runs[r].threads, runs[r].ms, runs[r].cpu_ms, runs[r].info.levels_after, runs[r].mean, runs[r].min,
                runs[r].info.key_bytes);
      if (pn_atomic_commit(&ctx, &af) == PN_OK) return rc;
    }
    fprintf(stderr, "privnn bench: %s\n", pn_errmsg(&ctx));
    return 1;
  }
  return rc;
}
