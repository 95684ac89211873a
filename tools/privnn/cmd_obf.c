/* cmd_obf.c - `privnn obf split|join|attack|ngram`: Proteus bundles for an untrusted optimizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "obf/obf.h"
#include "graph/zoo.h"
#include "obf/obf_ngram.h"
#include "util/prg.h"
#include "util/util.h"
#include "util/progress.h"
#include "util/report.h"
#include "util/status.h"

static int init_prg(struct pn_ctx *ctx, struct pn_prg *prg, bool have_seed, uint64_t seed) {
  return have_seed ? pn_prg_init_u64(ctx, prg, seed) : pn_prg_init_os(ctx, prg);
}

/* The operator corpus: path if given, else the working directory's, the installed or the source
** tree's (pn_obf_corpus_path), else built from the zoo (said on stderr). */
#define CORPUS_DEFAULT                                                                          \
  "data/obf/ngram-corpus.json here, else the installed one (share/privnn/), else built from the zoo"
static int load_corpus(struct pn_ctx *ctx, const char *cmd, const char *path, struct pn_obf_ngram **m) {
  char def[4096];
  if (path) return pn_obf_ngram_load(ctx, path, m);
  if (pn_obf_corpus_path(def, sizeof def)) return pn_obf_ngram_load(ctx, def, m);
  fprintf(stderr, "privnn %s: no n-gram corpus found (%s); building it from the zoo\n", cmd, def);
  return pn_obf_ngram_from_zoo(ctx, NULL, m);
}

/* obf split/join progress: a bar counting parts, the step running shown after it */
static void obf_progress(void *user, int64_t done, int64_t total, const char *step) {
  struct pn_progress *bar = user;
  if ((uint64_t)total != bar->total) { /* the part count is known once the model is partitioned */
    char label[64];
    snprintf(label, sizeof label, "%s", bar->label);
    pn_progress_end(bar);
    pn_progress_start_unit(bar, label, "parts", (uint64_t)total);
  }
  pn_progress_update(bar, (uint64_t)done, step);
}

struct split_warn {
  struct pn_progress *bar;
  const char *cmd, *bundle;
  int k;
};

static void split_before_write(void *user, uint64_t est, uint64_t avail) {
  const struct split_warn *w = user;
  /* PN_OBF_SPLIT_WARN_BYTES: warn above this many bytes instead of 4 GiB */
  const char *env = getenv("PN_OBF_SPLIT_WARN_BYTES");
  char msg[512];
  if (pn_obf_split_warning(msg, sizeof msg, est, avail, env ? strtoull(env, NULL, 10) : 0, w->k, w->bundle)) {
    pn_progress_end(w->bar);
    fprintf(stderr, "privnn %s: warning: %s\n", w->cmd, msg);
  }
}

static void split_progress(void *user, int64_t done, int64_t total, const char *step) {
  const struct split_warn *w = user;
  obf_progress(w->bar, done, total, step);
}

static int cmd_split(int argc, char **argv) {
  const char *cmd = "obf split", *model = NULL, *bundle = NULL, *secret = NULL, *json = NULL;
  struct pn_obf_split_opts o = {0};
  const char *ngram = NULL;
  uint64_t seed = 0;
  bool have_seed = false;
  int64_t part = PN_OBF_DEFAULT_PART_SIZE, tries = PN_OBF_DEFAULT_TRIES, k = 20, opset = 0;
  int64_t threads = 0;
  const struct pn_cli_opt opts[] = {
    {"--bundle", NULL, PN_CLI_STR, &bundle, "DIR", "bundle folder to create (empty or absent; required)"},
    {"--secret", NULL, PN_CLI_STR, &secret, "FILE", "secret manifest to write (JSON, mode 0600; required)"},
    {"--part-size", "-P", PN_CLI_INT, &part, "P", "nodes per part", 2, 100000},
    {"--tries", NULL, PN_CLI_INT, &tries, "T", "contractions tried, the best spread kept", 1, 10000},
    {"-k", NULL, PN_CLI_INT, &k, "K", "sentinels per real part (0 = none)", 0, 1000},
    {"--ngram", NULL, PN_CLI_STR, &ngram, "FILE", "operator n-gram corpus", 0, 0, NULL,
     CORPUS_DEFAULT},
    {"--opset", NULL, PN_CLI_INT, &opset, "V", "ai.onnx opset of every part", 7, 30, NULL, "the model's"},
    {"--seed", NULL, PN_CLI_UINT, &seed, "S", "deterministic randomness", 0, 0, NULL, "from the OS", &have_seed},
    {"--threads", NULL, PN_CLI_INT, &threads, "T", "OpenMP and OpenBLAS threads", 1, 1024, NULL, "the libraries' own"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "report: nodes, parts, spread, seconds"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "MODEL.onnx --bundle DIR --secret FILE",
    "Proteus: cut a model into an acyclic DAG of parts of about P nodes (fusible chains kept\n"
    "whole), anonymize each part (random names and decoy weights, one opset, random order, no\n"
    "metadata), hide each real part among K sentinels, and write them as a folder of ONNX files for\n"
    "an untrusted optimizer (e.g. scripts/ort-optimize.sh). The secret manifest stays with the\n"
    "owner; `obf join` reassembles the optimized real parts.",
    "privnn obf split build/r18.onnx --bundle bundle --secret r18.secret.json -k 4", opts, "model",
    &model, 1, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  pn_cli_set_threads((int)threads);
  o.part_size = (int)part;
  o.tries = (int)tries;
  o.k = (int)k;
  o.opset = opset;
  if (!bundle) return pn_cli_usage(cmd, "no bundle folder given (--bundle DIR)");
  if (!secret) return pn_cli_usage(cmd, "no secret manifest given (--secret FILE)");
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  if (init_prg(&ctx, &prg, have_seed, seed)) return pn_cli_fail(cmd, &ctx);
  struct pn_obf_ngram *m = NULL;
  if (o.k > 0) {
    if (load_corpus(&ctx, cmd, ngram, &m)) {
      pn_prg_free(&prg);
      return pn_cli_fail(cmd, &ctx);
    }
    o.ngram = m;
  }
  struct pn_obf_split_stats st;
  struct pn_progress bar;
  pn_progress_start_unit(&bar, cmd, "parts", 0);
  struct split_warn warn = {&bar, cmd, bundle, o.k};
  o.progress = split_progress;
  o.before_write = split_before_write;
  o.progress_user = &warn;
  int rc = pn_obf_split(&ctx, model, bundle, secret, &o, &prg, &st);
  pn_progress_end(&bar);
  pn_prg_free(&prg);
  pn_obf_ngram_free(m);
  if (rc) return pn_cli_fail(cmd, &ctx);
  char size[32];
  pn_fmt_bytes(size, sizeof size, st.bundle_bytes);
  printf("%s: %d nodes (prepared) -> %d parts (size spread %.2f), %d files (%s) in %s, secret %s, %.2f s\n",
         model, st.n_nodes, st.n_parts, st.spread, st.n_files, size, bundle, secret, st.seconds);
  printf("%s: %d sentinels, %d distinct structures other than their real parts' (%d generated with their real "
         "part's structure, %d copies)\n", model, st.n_parts * o.k, st.distinct, st.twins, st.copies);
  if (st.copies)
    fprintf(stderr,
            "privnn %s: warning: %d of %d sentinels (in %d of %d parts) copy their real part's structure: "
            "too few generated ones passed (%s); those parts hide which file is real, not their structure\n",
            cmd, st.copies, st.n_parts * o.k, st.parts_with_copies, st.n_parts, st.copies_why);
  if (json) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "model", model);
    cJSON_AddNumberToObject(r, "nodes", st.n_nodes);
    cJSON_AddNumberToObject(r, "parts", st.n_parts);
    cJSON_AddNumberToObject(r, "files", st.n_files);
    cJSON_AddNumberToObject(r, "bundle_bytes", (double)st.bundle_bytes);
    cJSON_AddNumberToObject(r, "k", o.k);
    cJSON_AddNumberToObject(r, "spread", st.spread);
    cJSON_AddNumberToObject(r, "sentinel_copies", st.copies);
    cJSON_AddNumberToObject(r, "sentinel_twins", st.twins);
    cJSON_AddNumberToObject(r, "distinct_structures", st.distinct);
    cJSON_AddNumberToObject(r, "seconds", st.seconds);
    rc = pn_cli_report(&ctx, cmd, json, r);
    cJSON_Delete(r);
    if (rc) return pn_cli_fail(cmd, &ctx);
  }
  return PN_EXIT_OK;
}

static int cmd_join(int argc, char **argv) {
  const char *cmd = "obf join", *bundle = NULL, *secret = NULL, *json = NULL, *out = NULL,
             *model = NULL;
  uint64_t seed = 0;
  bool have_seed = false, lower = false;
  double tol = PN_OBF_DEFAULT_JOIN_TOL;
  int64_t threads = 0;
  const struct pn_cli_opt opts[] = {
    {"--secret", NULL, PN_CLI_STR, &secret, "FILE", "the manifest obf split wrote (required)"},
    {"--bundle", NULL, PN_CLI_STR, &bundle, "DIR", "the optimized bundle (required)"},
    {"--output", "-o", PN_CLI_STR, &out, "FILE", "the reassembled model (required)"},
    {"--model", NULL, PN_CLI_STR, &model, "FILE", "the owner's model", 0, 0, NULL, "the path in the secret"},
    {"--tol", NULL, PN_CLI_REAL, &tol, "T", "relative tolerance of the check against the model", 1e-15, 1e6},
    {"--lower", NULL, PN_CLI_FLAG, &lower, NULL,
     "write standard ONNX ops only: the optimizer's contrib ops (com.microsoft FusedConv, Gelu, "
     "SkipLayerNormalization, ...) lowered, so privnn and any runtime run the model"},
    {"--seed", NULL, PN_CLI_UINT, &seed, "S", "seed of the random check inputs", 0, 0, NULL, "from the OS",
     &have_seed},
    {"--threads", NULL, PN_CLI_INT, &threads, "T", "OpenMP and OpenBLAS threads", 1, 1024, NULL, "the libraries' own"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "report: parts, max abs error, seconds"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "--secret FILE --bundle DIR -o OUT.onnx",
    "Reassemble the optimized real parts of a bundle with the real weights and names from the\n"
    "secret manifest, and verify the result against the owner's model on random inputs. The\n"
    "optimizer's contrib ops are kept (ONNX Runtime runs them) unless --lower is given.",
    "privnn obf join --secret r18.secret.json --bundle bundle -o r18.opt.onnx", opts, NULL, NULL, 0, 0};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  pn_cli_set_threads((int)threads);
  if (!secret) return pn_cli_usage(cmd, "no secret manifest given (--secret FILE)");
  if (!bundle) return pn_cli_usage(cmd, "no bundle folder given (--bundle DIR)");
  if (!out) return pn_cli_usage(cmd, "no output given (-o OUT.onnx)");
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  if (init_prg(&ctx, &prg, have_seed, seed)) return pn_cli_fail(cmd, &ctx);
  struct pn_obf_join_stats st;
  struct pn_progress bar;
  pn_progress_start_unit(&bar, cmd, "parts", 0);
  const struct pn_obf_join_opts jo = {.model_path = model, .tol = tol, .lower = lower,
                                      .progress = obf_progress, .progress_user = &bar};
  int rc = pn_obf_join(&ctx, secret, bundle, out, &jo, &prg, &st);
  pn_progress_end(&bar);
  pn_prg_free(&prg);
  if (rc) return pn_cli_fail(cmd, &ctx);
  printf("%s: %d real parts joined, verified on random inputs (max abs error %.3g, outputs up to "
         "%.3g), %.2f s\n", out, st.n_parts, st.max_abs_err, st.max_abs_ref, st.seconds);
  if (st.contrib_nodes && st.lowered)
    printf("%s: %d com.microsoft nodes lowered to standard ONNX ops\n", out, st.contrib_nodes);
  else if (st.contrib_nodes)
    printf("%s: keeps %d com.microsoft nodes of the optimizer (ONNX Runtime runs them; --lower writes "
           "standard ONNX ops only)\n", out, st.contrib_nodes);
  if (json) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "output", out);
    cJSON_AddNumberToObject(r, "parts", st.n_parts);
    cJSON_AddNumberToObject(r, "max_abs_err", st.max_abs_err);
    cJSON_AddNumberToObject(r, "max_abs_output", st.max_abs_ref);
    cJSON_AddNumberToObject(r, "contrib_nodes", st.contrib_nodes);
    cJSON_AddBoolToObject(r, "lowered", st.lowered);
    cJSON_AddNumberToObject(r, "seconds", st.seconds);
    rc = pn_cli_report(&ctx, cmd, json, r);
    cJSON_Delete(r);
    if (rc) return pn_cli_fail(cmd, &ctx);
  }
  return PN_EXIT_OK;
}

static int cmd_ngram(int argc, char **argv) {
  const char *cmd = "obf ngram", *out = NULL;
  const struct pn_cli_opt opts[] = {
    {"--output", "-o", PN_CLI_STR, &out, "FILE", "where to write the corpus (required)"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "-o FILE",
    "Rebuild the operator n-gram corpus (sentinels' vocabulary) from the zoo models, prepared as\n"
    "split prepares them (BN folded).",
    "privnn obf ngram -o data/obf/ngram-corpus.json", opts, NULL, NULL, 0, 0};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (!out) return pn_cli_usage(cmd, "no output given (-o FILE)");
  struct pn_ctx ctx = {0};
  struct pn_obf_ngram *m = NULL;
  if (pn_obf_ngram_from_zoo(&ctx, NULL, &m) ||
      pn_obf_ngram_save(&ctx, m, out, "privnn obf ngram -o data/obf/ngram-corpus.json")) {
    pn_obf_ngram_free(m);
    return pn_cli_fail(cmd, &ctx);
  }
  const char **tok;
  const double *cnt;
  int nv = pn_obf_ngram_vocab(m, &tok, &cnt);
  printf("%s: %d operator tokens from the zoo models\n", out, nv);
  pn_obf_ngram_free(m);
  return PN_EXIT_OK;
}

static void attack_progress(void *user, int done, int total) {
  struct pn_progress *bar = user;
  bar->total = (uint64_t)total;
  pn_progress_update(bar, (uint64_t)done, done < total ? "simulating splits" : "training the adversaries");
}

/* The features that tell this model's sentinels from its real parts best, one at a time. */
static void print_features(const struct pn_obf_attack_result *r) {
  int idx[PN_OBF_ATTACK_MAX_FEATURES], n = r->n_features;
  for (int j = 0; j < n; j++) idx[j] = j;
  for (int j = 1; j < n; j++)
    for (int q = j; q > 0 && r->feature_auc[idx[q]] > r->feature_auc[idx[q - 1]]; q--) {
      int t = idx[q];
      idx[q] = idx[q - 1];
      idx[q - 1] = t;
    }
  printf("%s: most telling features (AUC alone):", r->model);
  for (int j = 0; j < n && j < 8; j++) printf(" %s %.2f%s", r->feature[idx[j]], r->feature_auc[idx[j]], j + 1 < n && j < 7 ? "," : "\n");
}

static int cmd_attack(int argc, char **argv) {
  const char *cmd = "obf attack", *json = NULL, *ngram = NULL, *list = NULL;
  struct pn_obf_attack_opts o = {0};
  uint64_t seed = 0;
  bool have_seed = false, show_features = false;
  int64_t k = 20, part = PN_OBF_DEFAULT_PART_SIZE;
  int64_t threads = 0;
  const struct pn_cli_opt opts[] = {
    {"--models", NULL, PN_CLI_STR, &list, "a,b,...", "zoo models", 0, 0, NULL, "all"},
    {"-k", NULL, PN_CLI_INT, &k, "K", "sentinels per real part", 1, 1000},
    {"--part-size", "-P", PN_CLI_INT, &part, "P", "nodes per part", 2, 100000},
    {"--ngram", NULL, PN_CLI_STR, &ngram, "FILE", "operator n-gram corpus", 0, 0, NULL,
     CORPUS_DEFAULT},
    {"--seed", NULL, PN_CLI_UINT, &seed, "S", "deterministic randomness", 0, 0, NULL, "from the OS", &have_seed},
    {"--features", NULL, PN_CLI_FLAG, &show_features, NULL, "also print the features that tell sentinels apart best"},
    {"--threads", NULL, PN_CLI_INT, &threads, "T", "OpenMP and OpenBLAS threads", 1, 1024, NULL, "the libraries' own"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "the per-model table"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, NULL,
    "Simulate split on zoo models (reduced input size) and set five adversaries on each bundle:\n"
    "two trained leaving one model family out (an n-gram ranker; logistic regression on opcode,\n"
    "shape, attribute and weight features), two comparing the files of a part's group (medoid,\n"
    "nearest neighbour) and one reading how each file writes its operators (dialect: attribute\n"
    "names and order, Reshape shapes starting with 0, against the way most parts write them).\n"
    "Per model: specificity at 99% recall, AUC and log10 candidates:\n"
    "over parts, 1 + (1 - s) x the distinct sentinel structures other than the real part's\n"
    "(twins of it count none), with the strongest adversary's s; (files): 1 + (1 - s) x the\n"
    "generated sentinels, as the Proteus paper counts. Chance: the strongest adversary's AUC\n"
    "had each part's real file been any ranked file of its group (400 draws; 95th percentile),\n"
    "and p, the share of those draws at or above the measured AUC (small: not chance). Last: the\n"
    "strongest adversary and which way the real parts stand out to it (n-gram: more/less typical;\n"
    "classifier: real-/sentinel-like; medoid: central/outlying; neighbour: isolated, or paired:\n"
    "nearer their nearest file than sentinels are; dialect: written alike/apart).",
    "privnn obf attack --models resnet18,vgg11 -k 20 --seed 1", opts, NULL, NULL, 0, 0};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  pn_cli_set_threads((int)threads);
  o.k = (int)k;
  o.part_size = (int)part;
  const char *names[32];
  char buf[512];
  int n = 0;
  if (list) {
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok(buf, ","); t && n < 32; t = strtok(NULL, ",")) names[n++] = t;
  } else {
    for (const char *const *z = pn_zoo_names(); *z && n < 32; z++) names[n++] = *z;
  }
  for (int i = 0; i < n; i++) {
    bool known = false;
    for (const char *const *z = pn_zoo_names(); *z; z++) known |= !strcmp(*z, names[i]);
    if (!known) return pn_cli_usage(cmd, "--models: '%s' is not a zoo model", names[i]);
  }
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  struct pn_obf_ngram *m = NULL;
  if (init_prg(&ctx, &prg, have_seed, seed)) return pn_cli_fail(cmd, &ctx);
  int rc = load_corpus(&ctx, cmd, ngram, &m);
  struct pn_obf_attack_result res[32];
  memset(res, 0, sizeof res);
  o.ngram = m;
  struct pn_progress bar;
  pn_progress_start_unit(&bar, cmd, "models", (uint64_t)n);
  o.progress = attack_progress;
  o.progress_user = &bar;
  pn_progress_update(&bar, 0, "simulating splits");
  if (!rc) rc = pn_obf_attack(&ctx, names, n, &o, &prg, res);
  pn_progress_end(&bar);
  pn_prg_free(&prg);
  pn_obf_ngram_free(m);
  if (rc) return pn_cli_fail(cmd, &ctx);
  printf("%-12s %5s %4s | %-17s | %-17s | %-17s | %-17s | %-17s | %11s %6s %9s %7s %10s %9s | %-18s | %s\n", "model", "parts", "k",
         "n-gram spec  AUC", "classif spec  AUC", "medoid spec  AUC", "neighbr spec  AUC", "dialect spec  AUC",
         "specificity", "AUC",
         "log10(C)", "(files)", "vote leak", "twins", "chance AUC95%   p", "strongest: real parts");
  cJSON *r = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(r, "models");
  for (int i = 0; i < n; i++) {
    printf("%-12s %5d %4d |", res[i].model, res[i].parts, res[i].k);
    for (int a = 0; a < PN_OBF_ADV_COUNT; a++) printf(" %9.3f %6.3f |", res[i].adv_specificity[a], res[i].adv_auc[a]);
    printf(" %11.3f %6.3f %9.1f %7.1f %4d/%-5d %4d/%-4d | %12.3f %5.3f | %s: %s\n", res[i].specificity, res[i].auc,
           res[i].log10_candidates, res[i].log10_files, res[i].vote_leaks, res[i].parts, res[i].twins,
           res[i].parts * res[i].k, res[i].null.auc_q95, res[i].null.auc_p, pn_obf_adversary_name(res[i].strongest),
           pn_obf_adversary_reading(res[i].strongest, res[i].auc_as_scored[res[i].strongest]));
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "model", res[i].model);
    cJSON_AddNumberToObject(e, "parts", res[i].parts);
    /* real parts the AUCs rank: not those whose sentinels are all twins or copies */
    cJSON_AddNumberToObject(e, "ranked_parts", res[i].ranked);
    cJSON_AddNumberToObject(e, "k", res[i].k);
    cJSON_AddNumberToObject(e, "specificity", res[i].specificity);
    cJSON_AddNumberToObject(e, "auc", res[i].auc);
    /* the adversary these are of, and how the real parts stand out to it */
    cJSON_AddStringToObject(e, "strongest", pn_obf_adversary_name(res[i].strongest));
    cJSON_AddStringToObject(e, "real_parts",
                            pn_obf_adversary_reading(res[i].strongest, res[i].auc_as_scored[res[i].strongest]));
    cJSON_AddNumberToObject(e, "log10_candidates", res[i].log10_candidates);
    /* the paper's count: every generated sentinel a candidate, twins and look-alikes included */
    cJSON_AddNumberToObject(e, "log10_candidates_files", res[i].log10_files);
    cJSON_AddNumberToObject(e, "sentinel_copies", res[i].copies);
    /* generated sentinels with their real part's structure; the other structures, which C counts */
    cJSON_AddNumberToObject(e, "sentinel_twins", res[i].twins);
    cJSON_AddNumberToObject(e, "distinct_structures", res[i].distinct);
    /* parts whose files' most frequent operator multiset is the real part's */
    cJSON_AddNumberToObject(e, "vote_leaks", res[i].vote_leaks);
    cJSON_AddNumberToObject(e, "vote_leak_fraction", res[i].parts ? (double)res[i].vote_leaks / res[i].parts : 0);
    for (int a = 0; a < PN_OBF_ADV_COUNT; a++) {
      static const char *const key[PN_OBF_ADV_COUNT] = {"ngram", "classifier", "medoid", "neighbour", "dialect"};
      cJSON *ad = cJSON_AddObjectToObject(e, key[a]);
      cJSON_AddNumberToObject(ad, "specificity", res[i].adv_specificity[a]);
      cJSON_AddNumberToObject(ad, "auc", res[i].adv_auc[a]);
      cJSON_AddNumberToObject(ad, "auc_as_scored", res[i].auc_as_scored[a]);
      cJSON_AddStringToObject(ad, "real_parts", pn_obf_adversary_reading(a, res[i].auc_as_scored[a]));
      if (a == PN_OBF_ADV_CLASSIFIER) cJSON_AddNumberToObject(ad, "trained_on", res[i].trained_on);
    }
    /* the null: the same figures had each group's real part been any of its ranked files */
    cJSON *nl = cJSON_AddObjectToObject(e, "null");
    cJSON_AddNumberToObject(nl, "draws", res[i].null.draws);
    cJSON_AddNumberToObject(nl, "auc_median", res[i].null.auc_median);
    cJSON_AddNumberToObject(nl, "auc_q95", res[i].null.auc_q95);
    cJSON_AddNumberToObject(nl, "auc_p_value", res[i].null.auc_p);
    cJSON_AddNumberToObject(nl, "auc_above_0_65", res[i].null.auc_over_target);
    cJSON_AddNumberToObject(nl, "specificity_median", res[i].null.specificity_median);
    cJSON_AddNumberToObject(nl, "log10_candidates_files_median", res[i].null.log10_files_median);
    cJSON_AddNumberToObject(nl, "log10_candidates_files_at_least_32", res[i].null.files_at_target);
    cJSON *fa = cJSON_AddObjectToObject(e, "feature_auc");
    for (int j = 0; j < res[i].n_features; j++) cJSON_AddNumberToObject(fa, res[i].feature[j], res[i].feature_auc[j]);
    cJSON_AddItemToArray(arr, e);
  }
  for (int i = 0; show_features && i < n; i++) print_features(&res[i]);
  rc = json ? pn_cli_report(&ctx, cmd, json, r) : PN_OK;
  cJSON_Delete(r);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

int pn_cmd_obf(int argc, char **argv) {
  static const struct pn_cli_sub subs[] = {
    {"split", cmd_split, "cut a model into an anonymized bundle of parts for an untrusted optimizer"},
    {"join", cmd_join, "reassemble the optimized bundle with the secret; verify against the model"},
    {"attack", cmd_attack, "how well five adversaries tell real parts from sentinels (zoo models)"},
    {"ngram", cmd_ngram, "rebuild the operator n-gram corpus from the zoo"},
  };
  return pn_cli_dispatch("obf", subs, (int)(sizeof subs / sizeof *subs), argc, argv);
}
