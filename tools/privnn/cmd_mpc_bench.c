/* cmd_mpc_bench.c - `privnn bench mpc`: ReLU costs against the formulas, loopback throughput and
** end-to-end private inference of resnet-s and the zoo resnet18 (full-bit, error-free, n = 8).
**
** It drives the `mpc` subcommands in process (bench-relu, profile, infer with --json into a
** temporary directory) and gathers their reports into one table and an optional CSV. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "mpc_cli.h"
#include "util/report.h"
#include "util/status.h"

/* Run an in-process subcommand with a NULL-terminated argument list; returns its exit code. */
static int run_cmd(int (*fn)(int, char **), const char *const *args) {
  char *argv[40];
  int argc = 0;
  while (args[argc] && argc < 39) {
    argv[argc] = (char *)args[argc];
    argc++;
  }
  argv[argc] = NULL;
  fflush(stdout);
  return fn(argc, argv);
}

static double jnum(const cJSON *o, const char *key, double dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

struct e2e {
  const char *model, *net, *weights, *plan;
  double agreement, accuracy, discarded, mb, rounds, wall, modeled;
};

static void csv_e2e(FILE *csv, const struct e2e *r, double base_wall, double base_mod) {
  if (!csv) return;
  fprintf(csv, "e2e,%s,%s,%s,%s,,,,,,,%.4f,", r->model, r->net, r->weights, r->plan, r->agreement);
  if (r->accuracy >= 0) fprintf(csv, "%.4f", r->accuracy);
  fprintf(csv, ",%.4f,%.4f,%.1f,%.5f,%.5f,%.3f,%.3f\n", r->discarded, r->mb, r->rounds, r->wall,
          r->modeled, base_wall / r->wall, base_mod / r->modeled);
}

int pn_bench_mpc(int argc, char **argv) {
  const char *cmd = argc > 0 && !strcmp(argv[0], "bench") ? "mpc bench" : "bench mpc";
  const char *csv_path = NULL, *model = NULL, *keep = NULL, *json = NULL;
  int64_t count = 20, count18 = 4, relu_count = 65536;
  int net_i = 2, w_i = 2;
  bool no18 = false;
  const struct pn_cli_opt opts[] = {
    {"--model", NULL, PN_CLI_STR, &model, "M", "the resnet-s model (skipped when the default is missing)",
     0, 0, NULL, "models/resnet-s.onnx"},
    {"--net", NULL, PN_CLI_CHOICE, &net_i, "NET", "emulated link(s)", 0, 0, "lan|wan|both"},
    {"--count", NULL, PN_CLI_INT, &count, "N", "resnet-s test images (batches of 10)", 1, 10000},
    {"--count18", NULL, PN_CLI_INT, &count18, "N", "resnet18 random images (batch 1)", 1, 1000},
    {"--weights", NULL, PN_CLI_CHOICE, &w_i, "W", "weights mode(s)", 0, 0, "public|secret|both"},
    {"--relu-count", NULL, PN_CLI_INT, &relu_count, "N", "elements of the ReLU micro-benchmark", 64, 1 << 24},
    {"--no-resnet18", NULL, PN_CLI_FLAG, &no18, NULL, "skip the zoo resnet18"},
    {"--keep", NULL, PN_CLI_STR, &keep, "DIR", "keep the plans and per-run JSON reports in DIR"},
    {"--csv", NULL, PN_CLI_STR, &csv_path, "FILE", "also write every row as CSV"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "report: the ReLU rows and every end-to-end row (- for stdout)"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, NULL,
    "HummingBird MPC in one run: bits per party and rounds per ReLU for full-bit and\n"
    "n = 64, 32, 18, 12, 8, 6 (measured over loopback TLS against the formulas) with the ReLU\n"
    "throughput; then private inference of resnet-s on Fashion-MNIST test images and of the zoo\n"
    "resnet18 at 1x3x32x32 (random weights and images, batch 1): full-bit vs the error-free plan\n"
    "vs uniform n = 8 (dealer sign table; and n8-tree: the carry tree), on the emulated link(s),\n"
    "weights public and secret. Times: wall clock of the two party threads, and the emulator's\n"
    "model (each party's thread CPU time plus the link's delays on the critical path; see\n"
    "docs/mpc.md).",
    cmd[0] == 'm' ? "privnn mpc bench --net lan --weights public --count 10 --csv mpc.csv"
                  : "privnn bench mpc --net lan --weights public --count 10 --csv mpc.csv",
    opts, NULL, NULL, 0, 0};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  const struct pn_cli_clock clock = pn_cli_clock_get(); /* the subcommands run below restart it */
  static const char *const net_names[] = {"lan", "wan"}, *const w_names[] = {"public", "secret"};
  const char *nets[2] = {NULL, NULL}, *ws[2] = {NULL, NULL};
  for (int i = 0, k = 0; i < 2; i++)
    if (net_i == 2 || net_i == i) nets[k++] = net_names[i];
  for (int i = 0, k = 0; i < 2; i++)
    if (w_i == 2 || w_i == i) ws[k++] = w_names[i];
  int rs_given = model != NULL;
  if (!model) model = "models/resnet-s.onnx";
  struct stat sb;
  int have_rs = stat(model, &sb) == 0;
  if (!have_rs && rs_given) return pn_cli_failf(cmd, "%s: no such model", model);

  char dir[512];
  if (keep) {
    snprintf(dir, sizeof dir, "%s", keep);
    if (mkdir(dir, 0755) != 0 && stat(dir, &sb) != 0)
      return pn_cli_failf(cmd, "cannot create %s", dir);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/privnn-bench-mpc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return pn_cli_failf(cmd, "cannot create a temporary directory");
  }
  FILE *csv = NULL;
  if (csv_path && !(csv = fopen(csv_path, "w"))) return pn_cli_failf(cmd, "cannot write %s", csv_path);
  if (csv)
    fprintf(csv, "section,model,net,weights,plan,n,bits_per_relu,bits_formula,rounds,"
                 "rounds_formula,relu_per_second,agreement,accuracy,bits_discarded,"
                 "mb_per_image_per_party,rounds_per_batch,wall_seconds_per_image,"
                 "modeled_seconds_per_image,speedup_wall,speedup_modeled\n");
  /* rows are labelled by the model file's name ("resnet-s" for models/resnet-s.onnx); named here, before
  ** any goto out, as the clean-up below removes the files named after them */
  char label0[128];
  const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
  size_t bl = strlen(base);
  if (bl > 5 && !strcmp(base + bl - 5, ".onnx")) bl -= 5;
  snprintf(label0, sizeof label0, "%.*s", (int)(bl < 100 ? bl : 100), base);
  const char *names[2] = {label0, "resnet18-32"};
  int ret = PN_EXIT_OK;
  char path[700], cnt[32];
  struct pn_ctx ctx = {0};
  cJSON *body = json ? cJSON_CreateObject() : NULL, *e2e_rows = NULL;
  if (body) {
    cJSON_AddNumberToObject(body, "relu_elements", (double)relu_count);
    e2e_rows = cJSON_CreateArray();
  }

  /* 1. ReLU protocols */
  printf("== ReLU: bits per party and rounds per ReLU, measured over loopback vs the formulas ==\n");
  snprintf(path, sizeof path, "%s/relu.json", dir);
  snprintf(cnt, sizeof cnt, "%lld", (long long)relu_count);
  {
    const char *args[] = {"bench-relu", "--count", cnt, "--json", path, NULL};
    if ((ret = run_cmd(pn_mpc_cli_bench_relu, args))) goto out;
  }
  if (csv || json) {
    cJSON *r = NULL;
    if (pn_json_read(&ctx, path, 1 << 20, &r)) {
      ret = pn_cli_fail(cmd, &ctx);
      goto out;
    }
    const cJSON *e;
    if (json) cJSON_AddItemToObject(body, "relu", cJSON_DetachItemFromObjectCaseSensitive(r, "relu"));
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(body ? body : r, "relu")) {
      if (!csv) break;
      const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "protocol");
      int nn = (int)jnum(e, "n", 0), small = nn >= 3 && nn <= 8;
      int table = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "sign_table"));
      fprintf(csv, "relu,,loopback,,%s%s,%d,%.2f,%.0f,%.0f,%.0f,%.0f,,,,,,,,,\n",
              cJSON_IsString(p) ? p->valuestring : "?",
              small ? (table ? "-table" : "-tree") : "", nn,
              jnum(e, "bits_per_relu", 0), jnum(e, "bits_formula", 0), jnum(e, "rounds", 0),
              jnum(e, "rounds_formula", 0), jnum(e, "relu_per_second", 0));
    }
    cJSON_Delete(r);
  }

  /* 2. models and plans */
  char mpath[2][700];
  snprintf(mpath[0], sizeof mpath[0], "%s", model);
  snprintf(mpath[1], sizeof mpath[1], "%s/resnet18-32.onnx", dir);
  int use[2] = {have_rs, !no18};
  if (!have_rs)
    printf("\nbench mpc: %s not found: skipped (train resnet-s, or pass --model)\n", model);
  if (use[1]) {
    const char *args[] = {"zoo", "resnet18", "--input-shape", "1x3x32x32", "--classes", "10",
                          "-o", mpath[1], NULL};
    printf("\n== zoo resnet18 at 1x3x32x32 (random weights) ==\n");
    if ((ret = run_cmd(pn_cmd_zoo, args))) goto out;
  }
  char plans[2][2][720];
  for (int mi = 0; mi < 2; mi++) {
    if (!use[mi]) continue;
    printf("\n== %s: error-free plan and uniform n = 8 (mpc profile) ==\n", names[mi]);
    for (int u = 0; u < 2; u++) {
      snprintf(plans[mi][u], sizeof plans[mi][u], "%s/%s.%s.json", dir, names[mi],
               u ? "n8" : "errfree");
      const char *rsargs[] = {"profile", mpath[mi], "--data", "fashion-mnist", "--count",
                              "1000", "-o", plans[mi][u], u ? "--uniform" : NULL, "8", NULL};
      const char *r18args[] = {"profile", mpath[mi], "--data", "random", "--count", "20",
                               "--batch", "10", "--seed", "7", "-o", plans[mi][u],
                               u ? "--uniform" : NULL, "8", NULL};
      if ((ret = run_cmd(pn_mpc_cli_profile, mi ? r18args : rsargs))) goto out;
    }
  }

  /* 3. end to end */
  printf("\n== end to end: two parties (threads) over loopback TLS 1.3 PSK, link emulator ==\n");
  char cnt18[32], bat[32];
  snprintf(cnt, sizeof cnt, "%lld", (long long)count);
  snprintf(bat, sizeof bat, "%lld", (long long)(count < 10 ? count : 10));
  snprintf(cnt18, sizeof cnt18, "%lld", (long long)count18);
  /* n8: uniform n = 8 with the dealer's sign table; n8-tree: the same plan with the carry tree */
  static const char *plan_names[4] = {"full-bit", "errfree", "n8", "n8-tree"};
  struct e2e rows[2][2][2][4];
  memset(rows, 0, sizeof rows);
  int n_runs = 0, run_i = 0; /* "[k/n]" on each run's line: the runs' own bars count batches */
  for (int mi = 0; mi < 2; mi++)
    for (int ni = 0; ni < 2 && nets[ni]; ni++)
      for (int wi = 0; wi < 2 && ws[wi]; wi++) n_runs += use[mi] ? 4 : 0;
  for (int mi = 0; mi < 2; mi++) {
    if (!use[mi]) continue;
    for (int ni = 0; ni < 2 && nets[ni]; ni++)
      for (int wi = 0; wi < 2 && ws[wi]; wi++)
        for (int pi = 0; pi < 4; pi++) {
          struct e2e *r = &rows[mi][ni][wi][pi];
          snprintf(path, sizeof path, "%s/e2e.%s.%s.%s.%s.json", dir, names[mi], plan_names[pi],
                   nets[ni], ws[wi]);
          const char *args[24] = {"infer", mpath[mi], "--data",
                                  mi ? "random" : "fashion-mnist", "--count", mi ? cnt18 : cnt,
                                  "--batch", mi ? "1" : bat, "--net", nets[ni], "--weights",
                                  ws[wi], "--seed", "11", "-q", "--json", path, NULL};
          if (pi) {
            args[17] = "--plan";
            args[18] = plans[mi][pi == 1 ? 0 : 1];
            args[19] = pi == 3 ? "--no-table" : NULL;
            args[20] = NULL;
          }
          printf("-- [%d/%d] %s, %s, weights %s, %s\n", ++run_i, n_runs, names[mi], nets[ni], ws[wi],
                 plan_names[pi]);
          if ((ret = run_cmd(pn_mpc_cli_infer, args))) goto out;
          cJSON *j = NULL;
          if (pn_json_read(&ctx, path, 1 << 24, &j)) {
            ret = pn_cli_fail(cmd, &ctx);
            goto out;
          }
          *r = (struct e2e){names[mi], nets[ni], ws[wi], plan_names[pi],
                            jnum(j, "agreement", 0), jnum(j, "accuracy", -1),
                            jnum(j, "bits_discarded", 0),
                            jnum(j, "bytes_per_party_per_image", 0) / 1e6,
                            jnum(j, "rounds_per_batch", 0), jnum(j, "seconds_per_image", 0),
                            jnum(j, "modeled_seconds_per_image", 0)};
          cJSON_Delete(j);
        }
  }
  printf("\n== summary (s/img: wall clock; model: compute + emulated link, see docs/mpc.md) ==\n");
  printf("%-11s %-4s %-7s %-9s %6s %6s %6s %9s %8s %9s %9s %8s %8s\n", "model", "net", "weights",
         "plan", "agree", "acc", "disc%", "MB/img", "rnd/bat", "s/img", "model s", "speedup",
         "(model)");
  for (int mi = 0; mi < 2; mi++)
    for (int ni = 0; ni < 2; ni++)
      for (int wi = 0; wi < 2; wi++) {
        const struct e2e *b = &rows[mi][ni][wi][0];
        if (!b->model) continue;
        for (int pi = 0; pi < 4; pi++) {
          const struct e2e *r = &rows[mi][ni][wi][pi];
          char acc[16] = "-";
          if (r->accuracy >= 0) snprintf(acc, sizeof acc, "%.3f", r->accuracy);
          printf("%-11s %-4s %-7s %-9s %6.3f %6s %6.1f %9.3f %8.0f %9.4f %9.4f %7.2fx %7.2fx\n",
                 r->model, r->net, r->weights, r->plan, r->agreement, acc, r->discarded * 100,
                 r->mb, r->rounds, r->wall, r->modeled, b->wall / r->wall,
                 r->modeled > 0 ? b->modeled / r->modeled : 0);
          csv_e2e(csv, r, b->wall, b->modeled);
          if (e2e_rows) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", r->model);
            cJSON_AddStringToObject(o, "net", r->net);
            cJSON_AddStringToObject(o, "weights", r->weights);
            cJSON_AddStringToObject(o, "plan", r->plan);
            cJSON_AddNumberToObject(o, "images", (double)(mi ? count18 : count));
            cJSON_AddNumberToObject(o, "agreement", r->agreement);
            if (r->accuracy >= 0) cJSON_AddNumberToObject(o, "accuracy", r->accuracy);
            else cJSON_AddNullToObject(o, "accuracy");
            cJSON_AddNumberToObject(o, "bits_discarded", r->discarded);
            cJSON_AddNumberToObject(o, "mb_per_image_per_party", r->mb);
            cJSON_AddNumberToObject(o, "rounds_per_batch", r->rounds);
            cJSON_AddNumberToObject(o, "wall_seconds_per_image", r->wall);
            cJSON_AddNumberToObject(o, "modeled_seconds_per_image", r->modeled);
            cJSON_AddNumberToObject(o, "speedup_wall", r->wall > 0 ? b->wall / r->wall : 0);
            cJSON_AddNumberToObject(o, "speedup_modeled", r->modeled > 0 ? b->modeled / r->modeled : 0);
            cJSON_AddItemToArray(e2e_rows, o);
          }
        }
      }
  printf("targets (LAN, weights public): error-free >= 2.7x, n = 8 >= 8x faster than full-bit\n");
  if (keep) printf("plans and reports kept in %s\n", dir);
out:
  if (csv && fclose(csv) != 0 && ret == PN_EXIT_OK) ret = pn_cli_failf(cmd, "cannot write %s", csv_path);
  if (body) {
    if (ret) cJSON_AddStringToObject(body, "status", "failed");
    cJSON_AddItemToObject(body, "e2e", e2e_rows);
    pn_cli_clock_set(clock);
    if (pn_cli_report(&ctx, cmd, json, body) && !ret) ret = pn_cli_fail(cmd, &ctx);
    cJSON_Delete(body);
  }
  if (!keep) { /* remove what this run wrote into its temporary directory */
    static const char *const fixed[] = {"relu.json", "resnet18-32.onnx"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
      snprintf(path, sizeof path, "%s/%s", dir, fixed[i]);
      unlink(path);
    }
    for (int mi = 0; mi < 2; mi++)
      for (int u = 0; u < 2; u++) {
        snprintf(path, sizeof path, "%s/%s.%s.json", dir, names[mi], u ? "n8" : "errfree");
        unlink(path);
      }
    for (int mi = 0; mi < 2; mi++)
      for (int pi = 0; pi < 4; pi++)
        for (int ni = 0; ni < 2; ni++)
          for (int wi = 0; wi < 2; wi++) {
            snprintf(path, sizeof path, "%s/e2e.%s.%s.%s.%s.json", dir, names[mi],
                     plan_names[pi], ni ? "wan" : "lan", wi ? "secret" : "public");
            unlink(path);
          }
    rmdir(dir);
  }
  return ret;
}
