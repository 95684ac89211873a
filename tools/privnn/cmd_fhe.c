/* cmd_fhe.c - `privnn fhe plan | infer`: encrypted CNN inference under CKKS (src/fhe). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "fhe/fhe.h"
#include "fhe/fhe_keys.h"
#include "fhe/fhe_net.h"
#include "graph/onnx.h"
#include "graph/paf.h"
#include "nn/dataset.h"
#include "util/util.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: privnn fhe plan MODEL.onnx [options]\n"
          "       privnn fhe infer MODEL.onnx --data fashion-mnist --count N [options]\n"
          "       privnn fhe keygen MODEL.onnx -o DIR [plan options]           (client: keys)\n"
          "       privnn fhe encrypt MODEL.onnx --keys DIR --data fashion-mnist --index I -o QUERY\n"
          "       privnn fhe eval MODEL.onnx QUERY --keys DIR/eval.keys -o RESULT [plan options]  (server)\n"
          "       privnn fhe decrypt RESULT --keys DIR [--json FILE]\n"
          "       privnn fhe serve MODEL.onnx --listen HOST:PORT [--sessions N] [plan options]  (server, TCP)\n"
          "       privnn fhe query --connect HOST:PORT --data fashion-mnist [--index I] [--count N] [--json R]\n\n"
          "Encrypted inference under CKKS for a model whose ReLU/MaxPool are SmartPAF polynomials with\n"
          "static scales (privnn paf approximate). plan compiles it and prints, per layer, the packing,\n"
          "levels in/out, rotations, products, bootstraps and the estimated time; infer runs client and\n"
          "server in one process on N images and compares the decrypted logits with the plaintext model.\n"
          "keygen/encrypt/eval/decrypt are the same steps as files (the server never sees DIR/secret.key;\n"
          "keygen and eval must be given the same plan options). serve answers queries over TCP: the client\n"
          "receives the spec, makes its keys, uploads the evaluation keys once per session and sends\n"
          "encrypted images; the secret key never leaves it. (privnn fhe plan --help, infer --help)\n");
}

static void plan_usage(FILE *f, const char *sub) {
  fprintf(f,
          "usage: privnn fhe %s MODEL.onnx%s [options]\n\n"
          "  --logn N          ring degree 2^N (default: the smallest 128-bit ring that holds the program)\n"
          "  --scale-bits B    bits of the scale and of the scaling primes (default 40)\n"
          "  --compose C       auto (default), always or never compose consecutive linear layers\n"
          "  --boot B          auto (default: bootstrap when the depth exceeds what a 128-bit ring holds;\n"
          "                    then N = 2^16, 45-bit scales, sparse slots), never, force (a bootstrappable\n"
          "                    chain even if not needed), simulate (plan and plain simulation only)\n"
          "  --boot-levels L   levels between bootstraps (default: simulate 9; real: as many as the 128-bit\n"
          "                    bound holds)\n"
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
  if (!strcmp(sub, "serve"))
    fprintf(f, "  --listen HOST:PORT  where to listen (port 0: any free port, printed)\n"
               "  --sessions N      serve N sessions, then exit (default 0: forever); a session that breaks the\n"
               "                    protocol is ended with an error frame and the next one is accepted\n"
               "  --cache-mb M      memory for encoded weights (default 4096)\n"
               "  --timeout S       seconds a client may stall (default 600)\n");
  if (!strcmp(sub, "query"))
    fprintf(f, "usage: privnn fhe query --connect HOST:PORT --data fashion-mnist [options]\n"
               "  --connect HOST:PORT  the server (privnn fhe serve)\n"
               "  --data D          fashion-mnist or a folder with the four .gz files\n"
               "  --split S         val (default) or test\n"
               "  --index I --count N  images I .. I+N-1 (default 0, 1)\n"
               "  --timeout S       seconds to wait for the server (default 3600: an answer takes a while)\n"
               "  --json FILE       logits, top-1 and labels per image, bytes each way, key bytes\n");
}

struct fhe_args {
  const char *model, *json, *data, *split, *out, *keys, *file, *listen, *connect;
  int64_t index, sessions, timeout;
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
  int infer = !strcmp(sub, "infer") || !strcmp(sub, "encrypt") || !strcmp(sub, "query");
  f->timeout = !strcmp(sub, "query") ? 3600 : 600;
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
      else if (v && !strcmp(v, "never")) f->o.boot = PN_FHE_BOOT_NEVER;
      else if (v && !strcmp(v, "force")) f->o.boot = PN_FHE_BOOT_FORCE;
      else if (v && !strcmp(v, "simulate")) f->o.boot = PN_FHE_BOOT_SIMULATE;
      else if (v) return pn_cli_usage(cmd, "--boot: '%s' is not auto, never, force or simulate", v);
    } else if (pn_cli_opt(&a, "--boot-levels", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--boot-levels", v, 2, 60, &k)) return PN_EXIT_USAGE;
      f->o.boot_levels = (int)k;
    } else if (pn_cli_opt(&a, "--max-keys", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--max-keys", v, 1, 1 << 20, &k)) return PN_EXIT_USAGE;
      f->o.max_keys = (int)k;
    } else if (pn_cli_opt(&a, "--key-mb", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--key-mb", v, 1, 1 << 24, &k)) return PN_EXIT_USAGE;
      f->o.key_mb = (int)k;
    } else if (pn_cli_opt(&a, "-o", "--out", &v)) {
      f->out = v;
    } else if (pn_cli_opt(&a, "--keys", NULL, &v)) {
      f->keys = v;
    } else if (pn_cli_opt(&a, "--index", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--index", v, 0, PN_FMNIST_TRAIN, &f->index)) return PN_EXIT_USAGE;
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
    } else if (!strcmp(sub, "serve") && pn_cli_opt(&a, "--listen", NULL, &v)) {
      f->listen = v;
    } else if (!strcmp(sub, "serve") && pn_cli_opt(&a, "--sessions", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--sessions", v, 0, 1 << 30, &f->sessions)) return PN_EXIT_USAGE;
    } else if ((!strcmp(sub, "serve") || !strcmp(sub, "query")) && pn_cli_opt(&a, "--cache-mb", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--cache-mb", v, 0, 1 << 20, &f->cache_mb)) return PN_EXIT_USAGE;
    } else if ((!strcmp(sub, "serve") || !strcmp(sub, "query")) && pn_cli_opt(&a, "--timeout", NULL, &v)) {
      if (v && pn_cli_i64(cmd, "--timeout", v, 1, 1 << 20, &f->timeout)) return PN_EXIT_USAGE;
    } else if (!strcmp(sub, "query") && pn_cli_opt(&a, "--connect", NULL, &v)) {
      f->connect = v;
    } else if (argv[a.i][0] == '-') {
      return pn_cli_usage(cmd, "unknown option '%s'", argv[a.i]);
    } else if (f->model && !strcmp(sub, "eval") && !f->file) {
      f->file = argv[a.i];
    } else if (f->model) {
      return pn_cli_usage(cmd, "more than one model ('%s', '%s')", f->model, argv[a.i]);
    } else {
      f->model = argv[a.i];
    }
    if (a.err) return a.err;
  }
  if (!f->model && strcmp(sub, "query")) return pn_cli_usage(cmd, "no model given");
  if (!strcmp(sub, "query") && f->model) return pn_cli_usage(cmd, "no model: the server sends what the client needs");
  if (!strcmp(sub, "serve") && !f->listen) return pn_cli_usage(cmd, "no --listen HOST:PORT given");
  if (!strcmp(sub, "query") && !f->connect) return pn_cli_usage(cmd, "no --connect HOST:PORT given");
  if (!strcmp(sub, "infer") || !strcmp(sub, "query")) {
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

/* ---- the client and server steps as files: keygen, encrypt, eval, decrypt ---- */

#define MAX_OBJ ((size_t)64 << 30)

static int write_obj(struct pn_ctx *ctx, const char *dir, const char *name, const uint8_t *b, size_t n, unsigned mode) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return pn_err(ctx, PN_ERR_INVALID, "%s: path too long", dir);
  return pn_write_file_atomic(ctx, path, b, n, mode);
}

/* DIR/spec.bin (+ DIR/secret.key when sk): the client's side of the keys. */
static int load_client(struct pn_ctx *ctx, const char *dir, struct pn_fhe_spec **spec, struct pn_fhe_client **cl) {
  char path[4096];
  uint8_t *b = NULL;
  size_t n = 0;
  *spec = NULL, *cl = NULL;
  snprintf(path, sizeof path, "%s/spec.bin", dir);
  int rc = pn_read_file(ctx, path, MAX_OBJ, &b, &n);
  if (!rc && (rc = pn_fhe_spec_load(ctx, b, n, 0, spec))) pn_err_prefix(ctx, "%s", path);
  free(b);
  if (rc) return rc;
  snprintf(path, sizeof path, "%s/secret.key", dir);
  if ((rc = pn_read_secret_file(ctx, path, MAX_OBJ, &b, &n))) return rc;
  if ((rc = pn_fhe_client_load(ctx, *spec, b, n, cl))) pn_err_prefix(ctx, "%s", path);
  pn_wipe_free(b, n);
  return rc;
}

static int cmd_keygen(int argc, char **argv) {
  const char *cmd = "fhe keygen";
  struct fhe_args f;
  int rc = parse(argc, argv, cmd, "keygen", &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  if (!f.out) return pn_cli_usage(cmd, "no output folder given (-o DIR)");
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_fhe_plan *p;
  if ((rc = load_compile(cmd, &f, &ctx, &g, &p))) return rc;
  struct pn_fhe_spec *spec = NULL;
  struct pn_fhe_client *cl = NULL;
  struct pn_fhe_evk *k = NULL;
  uint8_t *b = NULL;
  size_t n = 0;
  struct stat st;
  if (mkdir(f.out, 0700) && (stat(f.out, &st) || !S_ISDIR(st.st_mode)))
    rc = pn_err(&ctx, PN_ERR_IO, "%s: cannot create the folder", f.out);
  if (!rc) rc = pn_fhe_plan_spec(&ctx, p, &spec);
  if (!rc) rc = pn_fhe_spec_save(&ctx, spec, &b, &n);
  if (!rc) rc = write_obj(&ctx, f.out, "spec.bin", b, n, 0644);
  free(b), b = NULL;
  if (!rc) rc = pn_fhe_client_keygen(&ctx, spec, NULL, &cl);
  if (!rc && !(rc = pn_fhe_client_save_secret(&ctx, cl, &b, &n))) {
    rc = write_obj(&ctx, f.out, "secret.key", b, n, 0600);
    pn_wipe_free(b, n), b = NULL;
  }
  if (!rc) rc = pn_fhe_client_evk(&ctx, cl, &k);
  if (!rc) rc = pn_fhe_evk_save(&ctx, spec, k, &b, &n);
  if (!rc) rc = write_obj(&ctx, f.out, "eval.keys", b, n, 0644);
  if (!rc)
    printf("%s: spec.bin, secret.key (0600, stays with the client), eval.keys (%zu bytes, for the server)\n", f.out, n);
  free(b);
  pn_fhe_evk_free(k);
  pn_fhe_client_free(cl);
  pn_fhe_spec_free(spec);
  pn_fhe_plan_free(p);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

static int cmd_encrypt(int argc, char **argv) {
  const char *cmd = "fhe encrypt";
  struct fhe_args f;
  int rc = parse(argc, argv, cmd, "encrypt", &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  if (!f.keys || !f.out || !f.data)
    return pn_cli_usage(cmd, "need MODEL.onnx (its normalisation), --keys DIR, --data fashion-mnist, --index I, -o QUERY");
  int split = pn_split_parse(f.split);
  if (split != PN_SPLIT_VAL && split != PN_SPLIT_TEST) return pn_cli_usage(cmd, "--split: '%s' is not val or test", f.split);
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL;
  struct pn_fhe_spec *spec = NULL;
  struct pn_fhe_client *cl = NULL;
  struct pn_dataset ds;
  memset(&ds, 0, sizeof ds);
  float x[PN_FMNIST_PIXELS];
  int32_t label = 0;
  uint8_t *q = NULL;
  size_t n = 0;
  rc = pn_onnx_load_file(&ctx, f.model, &g);
  if (!rc) rc = load_client(&ctx, f.keys, &spec, &cl);
  if (!rc && spec->n_in != PN_FMNIST_PIXELS)
    rc = pn_err(&ctx, PN_ERR_INVALID, "%s/spec.bin: the model takes %lld inputs, an image has %d", f.keys,
                (long long)spec->n_in, PN_FMNIST_PIXELS);
  if (!rc) rc = pn_dataset_load(&ctx, strcmp(f.data, "fashion-mnist") ? f.data : NULL, &ds);
  if (!rc && (rc = pn_dataset_use_model_norm(&ctx, &ds, g))) pn_err_prefix(&ctx, "%s", f.model);
  if (!rc && f.index >= ds.n[split])
    rc = pn_err(&ctx, PN_ERR_INVALID, "--index %lld: the %s split has %lld images", (long long)f.index, f.split,
                (long long)ds.n[split]);
  if (!rc) {
    pn_dataset_batch(&ds, (enum pn_split)split, &f.index, 1, 0, 0, NULL, x, &label);
    rc = pn_fhe_encrypt(&ctx, cl, x, PN_FMNIST_PIXELS, &q, &n);
  }
  if (!rc) rc = pn_write_file_atomic(&ctx, f.out, q, n, 0644);
  if (!rc) printf("%s: %s image %lld (label %d) encrypted, %zu bytes\n", f.out, f.split, (long long)f.index, label, n);
  free(q);
  pn_dataset_free(&ds);
  pn_fhe_client_free(cl);
  pn_fhe_spec_free(spec);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

static int cmd_eval(int argc, char **argv) {
  const char *cmd = "fhe eval";
  struct fhe_args f;
  int rc = parse(argc, argv, cmd, "eval", &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  if (!f.file || !f.keys || !f.out) return pn_cli_usage(cmd, "need MODEL.onnx QUERY --keys EVAL.keys -o RESULT");
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_fhe_plan *p;
  if ((rc = load_compile(cmd, &f, &ctx, &g, &p))) return rc;
  struct pn_fhe_evk *k = NULL;
  struct pn_fhe_server *srv = NULL;
  uint8_t *b = NULL, *r = NULL;
  size_t n = 0, rl = 0;
  struct pn_fhe_run_stats st;
  rc = pn_read_file(&ctx, f.keys, MAX_OBJ, &b, &n);
  if (!rc && (rc = pn_fhe_evk_load(&ctx, p, b, n, &k))) pn_err_prefix(&ctx, "%s", f.keys);
  free(b), b = NULL;
  if (!rc) rc = pn_fhe_server_new(&ctx, p, k, 4096, &srv);
  if (!rc) rc = pn_read_file(&ctx, f.file, MAX_OBJ, &b, &n);
  if (!rc && (rc = pn_fhe_server_query(&ctx, srv, b, n, &r, &rl, &st))) pn_err_prefix(&ctx, "%s", f.file);
  if (!rc) rc = pn_write_file_atomic(&ctx, f.out, r, rl, 0644);
  if (!rc) printf("%s: evaluated in %.2f s (%.2f s CPU), %d rotations; result %zu bytes\n", f.out, st.seconds,
                  st.cpu_seconds, st.rotations, rl);
  free(b);
  free(r);
  pn_fhe_server_free(srv);
  pn_fhe_evk_free(k);
  pn_fhe_plan_free(p);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

static int cmd_decrypt(int argc, char **argv) {
  const char *cmd = "fhe decrypt";
  struct fhe_args f;
  int rc = parse(argc, argv, cmd, "decrypt", &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  if (!f.keys) return pn_cli_usage(cmd, "need RESULT --keys DIR");
  struct pn_ctx ctx = {0};
  struct pn_fhe_spec *spec = NULL;
  struct pn_fhe_client *cl = NULL;
  uint8_t *b = NULL;
  size_t n = 0;
  double *y = NULL;
  rc = load_client(&ctx, f.keys, &spec, &cl);
  if (!rc) rc = pn_read_file(&ctx, f.model, MAX_OBJ, &b, &n);
  if (!rc && !(y = malloc((size_t)spec->n_out * sizeof *y))) rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc && (rc = pn_fhe_decrypt(&ctx, cl, b, n, y, spec->n_out))) pn_err_prefix(&ctx, "%s", f.model);
  if (!rc) {
    int64_t best = 0;
    printf("logits");
    for (int64_t i = 0; i < spec->n_out; i++) {
      printf(" %.6f", y[i]);
      if (y[i] > y[best]) best = i;
    }
    printf("\ntop-1 %lld\n", (long long)best);
    if (f.json) {
      cJSON *o = cJSON_CreateObject(), *l = cJSON_AddArrayToObject(o, "logits");
      for (int64_t i = 0; i < spec->n_out; i++) cJSON_AddItemToArray(l, cJSON_CreateNumber(y[i]));
      cJSON_AddNumberToObject(o, "top1", (double)best);
      rc = pn_json_write(&ctx, f.json, o, 0644);
      cJSON_Delete(o);
    }
  }
  free(b);
  free(y);
  pn_fhe_client_free(cl);
  pn_fhe_spec_free(spec);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

/* ---- over TCP: serve and query ---- */

static int cmd_serve(int argc, char **argv) {
  const char *cmd = "fhe serve";
  struct fhe_args f;
  int rc = parse(argc, argv, cmd, "serve", &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  struct pn_fhe_plan *p;
  if ((rc = load_compile(cmd, &f, &ctx, &g, &p))) return rc;
  struct pn_fhe_plan_info info;
  pn_fhe_plan_get_info(p, &info);
  struct pn_fhe_spec *spec = NULL;
  uint8_t *sb = NULL, *hello = NULL;
  size_t sl = 0, hl = 0;
  struct pn_dataset norm = {.mean = NAN, .std = NAN};
  int lfd = -1, port = 0;
  if (info.boots > 0 && !info.real_boot)
    rc = pn_err(&ctx, PN_ERR_INVALID, "%s: --boot simulate plans bootstraps that only the simulation runs", f.model);
  if (!rc && (rc = pn_dataset_use_model_norm(&ctx, &norm, g))) pn_err_prefix(&ctx, "%s", f.model);
  if (!rc) rc = pn_fhe_plan_spec(&ctx, p, &spec);
  if (!rc) rc = pn_fhe_spec_save(&ctx, spec, &sb, &sl);
  if (!rc) rc = pn_fhe_hello_make(&ctx, sb, sl, norm.mean, norm.std, &hello, &hl);
  if (!rc) rc = pn_fhe_listen(&ctx, f.listen, &lfd, &port);
  if (!rc) {
    printf("%s: N=2^%d, %d bootstraps per query; listening on port %d (%s)\n", f.model, info.logn, info.boots, port,
           f.listen);
    fflush(stdout);
  }
  for (int64_t k = 0; !rc && (f.sessions == 0 || k < f.sessions); k++) {
    struct pn_fhe_conn *c = NULL;
    struct pn_ctx sc = {0};
    if ((rc = pn_fhe_accept(&ctx, lfd, -1, (int)f.timeout * 1000, &c))) break;
    struct pn_fhe_serve_stats st;
    int src = pn_fhe_serve_session(&sc, c, p, hello, hl, (size_t)f.cache_mb, &st);
    if (src)
      fprintf(stderr, "privnn %s: session %lld (%s) ended: %s\n", cmd, (long long)k + 1, pn_fhe_conn_peer(c),
              pn_errmsg(&sc));
    else
      printf("session %lld (%s): keys %zu bytes, set up in %.1f s; %d queries, %.2f s each\n", (long long)k + 1,
             pn_fhe_conn_peer(c), st.key_bytes, st.setup_s, st.queries, st.queries ? st.eval_s / st.queries : 0.0);
    fflush(stdout);
    pn_fhe_conn_free(c);
  }
  if (lfd >= 0) close(lfd);
  free(sb);
  free(hello);
  pn_fhe_spec_free(spec);
  pn_fhe_plan_free(p);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

static int cmd_query(int argc, char **argv) {
  const char *cmd = "fhe query";
  struct fhe_args f;
  int rc = parse(argc, argv, cmd, "query", &f);
  if (rc) return rc < 0 ? PN_EXIT_OK : rc;
  struct pn_ctx ctx = {0};
  struct pn_fhe_conn *c = NULL;
  struct pn_fhe_session *s = NULL;
  struct pn_dataset ds;
  memset(&ds, 0, sizeof ds);
  enum pn_split split = (enum pn_split)pn_split_parse(f.split);
  double *y = NULL;
  cJSON *o = NULL, *preds = NULL;
  int64_t n = 0, correct = 0;
  size_t up = 0, down = 0;
  double t_all = 0;
  rc = pn_dataset_load(&ctx, strcmp(f.data, "fashion-mnist") ? f.data : NULL, &ds);
  if (!rc) rc = pn_fhe_connect(&ctx, f.connect, f.timeout < 10 ? (int)f.timeout * 1000 : 10000, (int)f.timeout * 1000, &c);
  if (!rc) rc = pn_fhe_session_open(&ctx, c, 0, &s);
  if (!rc && s->spec->n_in != PN_FMNIST_PIXELS)
    rc = pn_err(&ctx, PN_ERR_INVALID, "%s: the model takes %lld inputs, an image has %d", f.connect,
                (long long)s->spec->n_in, PN_FMNIST_PIXELS);
  if (!rc && !isnan(s->mean)) ds.mean = (float)s->mean, ds.std = (float)s->std;
  if (!rc && f.index + f.count > ds.n[split])
    rc = pn_err(&ctx, PN_ERR_INVALID, "--index %lld --count %lld: the %s split has %lld images", (long long)f.index,
                (long long)f.count, f.split, (long long)ds.n[split]);
  if (!rc && !(y = malloc((size_t)s->spec->n_out * sizeof *y))) rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc) {
    printf("%s: model %s, N=2^%d; making keys\n", f.connect, s->spec->name, s->spec->params.logn);
    fflush(stdout);
    rc = pn_fhe_session_keys(&ctx, s, NULL);
  }
  if (!rc) {
    printf("evaluation keys %zu bytes: made in %.1f s, uploaded and loaded in %.1f s\n", s->key_bytes, s->keygen_s,
           s->upload_s);
    o = cJSON_CreateObject();
    preds = o ? cJSON_AddArrayToObject(o, "predictions") : NULL;
  }
  for (int64_t i = 0; !rc && i < f.count; i++) {
    float x[PN_FMNIST_PIXELS];
    int32_t label;
    int64_t id = f.index + i, best = 0;
    pn_dataset_batch(&ds, split, &id, 1, 0, 0, NULL, x, &label);
    double t0 = pn_now();
    if ((rc = pn_fhe_session_query(&ctx, s, x, y, &up, &down))) break;
    t_all += pn_now() - t0;
    for (int64_t j = 1; j < s->spec->n_out; j++)
      if (y[j] > y[best]) best = j;
    correct += best == label;
    n++;
    printf("%s image %lld: top-1 %lld, label %d (%.2f s)\n", f.split, (long long)id, (long long)best, label,
           pn_now() - t0);
    fflush(stdout);
    cJSON *e = cJSON_CreateObject(), *l = e ? cJSON_AddArrayToObject(e, "logits") : NULL;
    if (l)
      for (int64_t j = 0; j < s->spec->n_out; j++) cJSON_AddItemToArray(l, cJSON_CreateNumber(y[j]));
    if (e) {
      cJSON_AddNumberToObject(e, "index", (double)id);
      cJSON_AddNumberToObject(e, "top1", (double)best);
      cJSON_AddNumberToObject(e, "label", label);
      cJSON_AddItemToArray(preds, e);
    }
  }
  if (!rc && n)
    printf("accuracy %.4f (%lld/%lld); per query %.2f s round trip, %zu bytes up, %zu down\n", (double)correct / n,
           (long long)correct, (long long)n, t_all / n, up, down);
  if (!rc && f.json && o) {
    cJSON_AddStringToObject(o, "command", "fhe query");
    cJSON_AddNumberToObject(o, "accuracy", n ? (double)correct / n : 0);
    cJSON_AddNumberToObject(o, "seconds_per_image", n ? t_all / n : 0);
    cJSON_AddNumberToObject(o, "bytes_up", (double)up);
    cJSON_AddNumberToObject(o, "bytes_down", (double)down);
    cJSON_AddNumberToObject(o, "key_bytes", (double)(s ? s->key_bytes : 0));
    rc = pn_json_write(&ctx, f.json, o, 0644);
  }
  cJSON_Delete(o);
  free(y);
  if (s) pn_fhe_session_close(s);
  else pn_fhe_conn_free(c);
  pn_dataset_free(&ds);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

int pn_cmd_fhe(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? PN_EXIT_USAGE : PN_EXIT_OK;
  }
  if (!strcmp(argv[1], "plan")) return cmd_plan(argc, argv);
  if (!strcmp(argv[1], "infer")) return cmd_infer(argc, argv);
  if (!strcmp(argv[1], "keygen")) return cmd_keygen(argc, argv);
  if (!strcmp(argv[1], "encrypt")) return cmd_encrypt(argc, argv);
  if (!strcmp(argv[1], "eval")) return cmd_eval(argc, argv);
  if (!strcmp(argv[1], "decrypt")) return cmd_decrypt(argc, argv);
  if (!strcmp(argv[1], "serve")) return cmd_serve(argc, argv);
  if (!strcmp(argv[1], "query")) return cmd_query(argc, argv);
  return pn_cli_usage("fhe", "unknown subcommand '%s' (plan, infer, keygen, encrypt, eval, decrypt, serve, query)",
                      argv[1]);
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
