/* cmd_fhe.c - `privnn fhe plan | infer`: encrypted CNN inference under CKKS (src/fhe). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "fhe/fhe.h"
#include "graph/onnx.h"
#include "graph/paf.h"
#include "nn/dataset.h"
#include "util/util.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: privnn fhe plan MODEL.onnx [options]\n"
          "       privnn fhe infer MODEL.onnx --data fashion-mnist --count N [options]\n\n"
          "Encrypted inference under CKKS for a model whose ReLU/MaxPool are SmartPAF polynomials with\n"
          "static scales (privnn paf approximate). plan compiles it and prints, per layer, the packing,\n"
          "levels in/out, rotations, products, bootstraps and the estimated time; infer runs client and\n"
          "server in one process on N images and compares the decrypted logits with the plaintext model.\n"
          "(privnn fhe plan --help, privnn fhe infer --help)\n");
}

static void plan_usage(FILE *f, const char *sub) {
  fprintf(f,
          "usage: privnn fhe %s MODEL.onnx%s [options]\n\n"
          "  --logn N          ring degree 2^N (default: the smallest 128-bit ring that holds the program)\n"
          "  --scale-bits B    bits of the scale and of the scaling primes (default 40)\n"
          "  --compose C       auto (default), always or never compose consecutive linear layers\n"
          "  --boot B          auto (default) or simulate: place bootstraps every --boot-levels levels\n"
          "                    (the plan and the plain simulation only, until bootstrapping is available)\n"
          "  --boot-levels L   levels between bootstraps with --boot simulate (default 9)\n"
          "  --key-mb M        memory budget of the evaluation keys (default 6144 MiB): steps beyond it run\n"
          "                    as chains of power-of-two rotations\n"
          "  --max-keys K      at most K rotation keys (overrides --key-mb)\n"
          "  --json FILE       write the report\n",
          sub, strcmp(sub, "infer") ? "" : " --data fashion-mnist --count N");
  if (!strcmp(sub, "infer"))
    fprintf(f,
            "  --data D          fashion-mnist (from %s) or a folder with the four .gz files\n"
            "  --split S         val (default) or test (final reporting only)\n"
            "  --count N         images (the first N of the split; default 1)\n"
            "  --cache-mb M      the server's memory for encoded weights (default 4096; the rest is encoded\n"
            "                    during each evaluation)\n"
            "  --threads T       OpenMP threads\n",
            PN_FMNIST_DIR);
}

struct fhe_args {
  const char *model, *json, *data, *split;
  struct pn_fhe_opts o;
  int64_t count, cache_mb, threads;
};

/* Options common to plan and infer; returns PN_EXIT_OK, a usage error, or -1 after --help. */
static int parse(int argc, char **argv, const char *cmd, const char *sub, struct fhe_args *f) {
  memset(f, 0, sizeof *f);
  pn_fhe_opts_default(&f->o);
  f->split = "val";
  f->count = 1;
  f->cache_mb = 4096;
  struct pn_cli_args a = {.argc = argc, .argv = argv, .i = 2, .cmd = cmd};
  int infer = !strcmp(sub, "infer");
  for (; a.i < argc; a.i++) {
    const char *v = NULL;
    int64_t k = 0;
    if (pn_cli_flag(&a, "--help", "-h")) {
      plan_usage(stdout, sub);
      return -1;
    } else if (pn_cli_opt(&a, "--json", NULL, &v)) {
      f->json = v;
    } else if (pn_cli_opt(&a, "--logn", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--logn", v, 12, 17, &k)) return PN_EXIT_USAGE;
      f->o.logn = (int)k;
    } else if (pn_cli_opt(&a, "--scale-bits", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--scale-bits", v, 20, 59, &k)) return PN_EXIT_USAGE;
      f->o.scale_bits = (int)k;
    } else if (pn_cli_opt(&a, "--compose", NULL, &v)) {
      if (v && !strcmp(v, "auto")) f->o.compose = 0;
      else if (v && !strcmp(v, "always")) f->o.compose = 1;
      else if (v && !strcmp(v, "never")) f->o.compose = -1;
      else if (v) return pn_cli_usage(cmd, "--compose: '%s' is not auto, always or never", v);
    } else if (pn_cli_opt(&a, "--boot", NULL, &v)) {
      if (v && !strcmp(v, "auto")) f->o.boot = PN_FHE_BOOT_AUTO;
      else if (v && !strcmp(v, "simulate")) f->o.boot = PN_FHE_BOOT_SIMULATE;
      else if (v) return pn_cli_usage(cmd, "--boot: '%s' is not auto or simulate", v);
    } else if (pn_cli_opt(&a, "--boot-levels", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--boot-levels", v, 2, 60, &k)) return PN_EXIT_USAGE;
      f->o.boot_levels = (int)k;
    } else if (pn_cli_opt(&a, "--max-keys", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--max-keys", v, 1, 1 << 20, &k)) return PN_EXIT_USAGE;
      f->o.max_keys = (int)k;
    } else if (pn_cli_opt(&a, "--key-mb", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--key-mb", v, 1, 1 << 24, &k)) return PN_EXIT_USAGE;
      f->o.key_mb = (int)k;
    } else if (infer && pn_cli_opt(&a, "--data", NULL, &v)) {
      f->data = v;
    } else if (infer && pn_cli_opt(&a, "--split", NULL, &v)) {
      f->split = v;
    } else if (infer && pn_cli_opt(&a, "--count", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--count", v, 1, PN_FMNIST_TEST, &f->count)) return PN_EXIT_USAGE;
    } else if (infer && pn_cli_opt(&a, "--cache-mb", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--cache-mb", v, 0, 1 << 20, &f->cache_mb)) return PN_EXIT_USAGE;
    } else if (infer && pn_cli_opt(&a, "--threads", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--threads", v, 1, 256, &f->threads)) return PN_EXIT_USAGE;
    } else if (argv[a.i][0] == '-') {
      return pn_cli_usage(cmd, "unknown option '%s'", argv[a.i]);
    } else if (f->model) {
      return pn_cli_usage(cmd, "more than one model ('%s', '%s')", f->model, argv[a.i]);
    } else {
      f->model = argv[a.i];
    }
    if (a.err) return a.err;
  }
  if (!f->model) return pn_cli_usage(cmd, "no model given");
  if (infer) {
    int s = pn_split_parse(f->split);
    if (s != PN_SPLIT_VAL && s != PN_SPLIT_TEST) return pn_cli_usage(cmd, "--split: '%s' is not val or test", f->split);
    if (!f->data) return pn_cli_usage(cmd, "no data given (--data fashion-mnist)");
    if (strcmp(f->data, "fashion-mnist") && access(f->data, F_OK))
      return pn_cli_usage(cmd, "--data '%s': not 'fashion-mnist' nor a folder", f->data);
  }
  return PN_EXIT_OK;
}

static int load_compile(const char *cmd, const struct fhe_args *f, struct pn_ctx *ctx, struct pn_graph **g,
                        struct pn_fhe_plan **p) {
  *g = NULL, *p = NULL;
  int rc = pn_onnx_load_file(ctx, f->model, g);
  if (!rc && (rc = pn_fhe_compile(ctx, *g, &f->o, p))) pn_err_prefix(ctx, "%s", f->model);
  return rc ? pn_cli_fail(cmd, ctx) : PN_EXIT_OK;
}

static int cmd_plan(int argc, char **argv) {
  const char *cmd = "fhe plan";
  struct fhe_args f;
  int rc = parse(argc, argv, cmd, "plan", &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_fhe_plan *p;
  if ((rc = load_compile(cmd, &f, &ctx, &g, &p))) return rc;
  pn_fhe_plan_print(p, stdout);
  if (f.json) {
    cJSON *o = pn_fhe_plan_json(p);
    if (o) cJSON_AddStringToObject(o, "command", "fhe plan");
    rc = o ? pn_json_write(&ctx, f.json, o, 0644) : pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    cJSON_Delete(o);
    if (rc) rc = pn_cli_fail(cmd, &ctx);
  }
  pn_fhe_plan_free(p);
  pn_graph_free(g);
  return rc;
}

static int cmd_infer(int argc, char **argv) {
  const char *cmd = "fhe infer";
  struct fhe_args f;
  int rc = parse(argc, argv, cmd, "infer", &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  if (f.threads) pn_cli_set_threads((int)f.threads);
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_fhe_plan *p;
  if ((rc = load_compile(cmd, &f, &ctx, &g, &p))) return rc;
  struct pn_fhe_plan_info info;
  pn_fhe_plan_get_info(p, &info);
  if (info.boots > 0 && f.o.boot == PN_FHE_BOOT_SIMULATE) {
    pn_fhe_plan_free(p);
    pn_graph_free(g);
    return pn_cli_failf(cmd, "%s: --boot simulate plans bootstraps that only the simulation runs; drop it to "
                        "run on ciphertexts", f.model);
  }
  struct pn_dataset ds;
  memset(&ds, 0, sizeof ds);
  enum pn_split split = (enum pn_split)pn_split_parse(f.split);
  float *x = NULL;
  int32_t *y = NULL;
  int64_t *idx = NULL;
  struct pn_fhe_infer_report r;
  memset(&r, 0, sizeof r);
  rc = pn_dataset_load(&ctx, strcmp(f.data, "fashion-mnist") ? f.data : NULL, &ds);
  if (!rc && (rc = pn_dataset_use_model_norm(&ctx, &ds, g))) pn_err_prefix(&ctx, "%s", f.model);
  if (!rc && info.in_elems != PN_FMNIST_PIXELS)
    rc = pn_err(&ctx, PN_ERR_INVALID, "%s: the model takes %lld input elements, Fashion-MNIST images have %d", f.model,
                (long long)info.in_elems, PN_FMNIST_PIXELS);
  int64_t n = f.count;
  if (!rc && n > ds.n[split]) n = ds.n[split];
  if (!rc) {
    x = malloc((size_t)n * PN_FMNIST_PIXELS * sizeof *x);
    y = malloc((size_t)n * sizeof *y);
    idx = malloc((size_t)n * sizeof *idx);
    if (!x || !y || !idx) rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  }
  if (!rc) {
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    pn_dataset_batch(&ds, split, idx, n, 0, 0, NULL, x, y);
    printf("%s: N=2^%d, %d levels, depth %d, %d bootstraps, %d rotation keys; %lld %s images\n", f.model, info.logn,
           info.levels, info.depth, info.boots, info.rotation_keys, (long long)n, f.split);
    fflush(stdout);
    struct pn_fhe_infer_opts io = {.cache_mb = (size_t)f.cache_mb, .progress = 1};
    rc = pn_fhe_infer(&ctx, p, g, x, y, n, &io, &r);
  }
  if (r.n > 0) {
    double k = (double)r.n;
    printf("agreement with the plaintext model %.4f (%lld/%lld), max abs logit error %.3g\n", (double)r.agree / k,
           (long long)r.agree, (long long)r.n, r.max_abs_err);
    printf("top-1 accuracy: encrypted %.4f, plaintext %.4f\n", (double)r.correct / k, (double)r.plain_correct / k);
    printf("per image: evaluation %.2f s wall (%.2f s CPU), encrypt %.3f s, decrypt %.3f s; %d rotations, %d pt "
           "products, %d ct products, %d bootstraps\n", r.eval_s / k, r.eval_cpu_s / k, r.encrypt_s / k,
           r.decrypt_s / k, r.rotations, r.pt_muls, r.ct_muls, r.boots);
    printf("bytes up %zu, down %zu per image; evaluation keys %zu bytes (made in %.1f s); secret key %zu bytes; server "
           "weights %zu bytes (set up in %.1f s); peak RSS %.2f GiB\n", r.bytes_up, r.bytes_down, r.key_bytes,
           r.keygen_s, r.secret_key_bytes, r.server_cache_bytes, r.server_setup_s,
           (double)r.peak_rss_kb / (1024.0 * 1024.0));
  }
  if (!rc && f.json) {
    cJSON *o = pn_fhe_infer_json(p, &r);
    if (o) {
      cJSON_AddStringToObject(o, "command", "fhe infer");
      cJSON_AddStringToObject(o, "model_file", f.model);
      cJSON_AddStringToObject(o, "split", f.split);
    }
    rc = o ? pn_json_write(&ctx, f.json, o, 0644) : pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    cJSON_Delete(o);
  }
  int ex = rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
  pn_fhe_infer_report_free(&r);
  free(x), free(y), free(idx);
  pn_dataset_free(&ds);
  pn_fhe_plan_free(p);
  pn_graph_free(g);
  return ex;
}

int pn_cmd_fhe(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? PN_EXIT_USAGE : PN_EXIT_OK;
  }
  if (!strcmp(argv[1], "plan")) return cmd_plan(argc, argv);
  if (!strcmp(argv[1], "infer")) return cmd_infer(argc, argv);
  return pn_cli_usage("fhe", "unknown subcommand '%s' (plan, infer)", argv[1]);
}

/* `privnn bench fhe`: one PAF ReLU on a full ciphertext per form (argv[0] = "fhe"). */
int pn_bench_fhe(int argc, char **argv) {
  const char *cmd = "bench fhe", *json = NULL, *forms_s = "f1g2,f2g2,f2g3,alpha7,f1g1sq,minimax27";
  int64_t logn = 15;
  struct pn_cli_args a = {.argc = argc, .argv = argv, .i = 1, .cmd = cmd};
  for (; a.i < argc; a.i++) {
    const char *v = NULL;
    if (pn_cli_flag(&a, "--help", "-h")) {
      printf("usage: privnn bench fhe [--forms f1g2,...] [--logn 15] [--json FILE]\n\n"
             "One PAF ReLU on a full ciphertext per form, the SmartPAF paper's Table 4 setting (N = 2^15,\n"
             "40-bit scales, log QP 843): seconds, levels, products, max error, ratio to minimax27.\n");
      return PN_EXIT_OK;
    } else if (pn_cli_opt(&a, "--json", NULL, &v)) {
      json = v;
    } else if (pn_cli_opt(&a, "--forms", NULL, &v)) {
      forms_s = v;
    } else if (pn_cli_opt(&a, "--logn", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--logn", v, 12, 16, &logn)) return PN_EXIT_USAGE;
    } else {
      return pn_cli_usage(cmd, "unknown argument '%s'", argv[a.i]);
    }
    if (a.err) return a.err;
  }
  int forms[PN_PAF_FORM_COUNT], nf = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", forms_s);
  for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
    int f = pn_paf_form_parse(t);
    if (f < 0 || nf >= PN_PAF_FORM_COUNT) return pn_cli_usage(cmd, "--forms: '%s' is not one of %s", t, pn_paf_form_list());
    forms[nf++] = f;
  }
  struct pn_fhe_paf_bench r[PN_PAF_FORM_COUNT];
  struct pn_ctx ctx = {0};
  if (pn_fhe_bench_paf(&ctx, (int)logn, 0, NULL, nf, forms, r)) return pn_cli_fail(cmd, &ctx);
  double ref = 0;
  for (int i = 0; i < nf; i++)
    if (r[i].form == PN_PAF_MINIMAX27) ref = r[i].seconds;
  printf("one PAF ReLU on a full ciphertext, N = 2^%d (wall-clock; a loaded machine gives upper bounds)\n", (int)logn);
  printf("%-10s %10s %7s %7s %10s %9s\n", "form", "ms", "levels", "ct-mul", "max err", "27-deg/x");
  cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "forms");
  cJSON_AddStringToObject(o, "command", "bench fhe");
  cJSON_AddNumberToObject(o, "logn", (double)logn);
  for (int i = 0; i < nf; i++) {
    double ratio = ref > 0 && r[i].seconds > 0 ? ref / r[i].seconds : 0;
    printf("%-10s %10.1f %7d %7d %10.2e %9.2f\n", pn_paf_form_name((enum pn_paf_form)r[i].form), 1e3 * r[i].seconds,
           r[i].levels, r[i].ct_muls, r[i].max_err, ratio);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "form", pn_paf_form_name((enum pn_paf_form)r[i].form));
    cJSON_AddNumberToObject(e, "ms", 1e3 * r[i].seconds);
    cJSON_AddNumberToObject(e, "levels", r[i].levels);
    cJSON_AddNumberToObject(e, "ct_muls", r[i].ct_muls);
    cJSON_AddNumberToObject(e, "max_err", r[i].max_err);
    cJSON_AddNumberToObject(e, "speedup_vs_minimax27", ratio);
    cJSON_AddItemToArray(arr, e);
  }
  int rc = json ? pn_json_write(&ctx, json, o, 0644) : PN_OK;
  cJSON_Delete(o);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}
