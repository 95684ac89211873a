/* test_obf_lower.c - `obf join --lower` and the hooks a long split or join reports through.
**
** An optimizer like ONNX Runtime at its `extended` level returns parts with com.microsoft fused
** ops. Here the bundle's parts are rewritten the way it does (Conv+Relu into FusedConv,
** Add+LayerNormalization into SkipLayerNormalization); join must then keep those ops (for ONNX
** Runtime) or, lowered, write a model of ai.onnx ops only that computes what the owner's model
** does. Split must announce the bundle's size before writing any file and count its parts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/exec.h"
#include "graph/onnx.h"
#include "graph/zoo.h"
#include "obf/obf.h"
#include "util/arena.h"
#include "util/util.h"
#include "pn_test.h"
#include "obf_fixture.h"

static uint64_t g_seed;
static char tmpdir[256];

/* Nodes reading value v, plus one if it is a graph output. */
static int uses(const struct pn_graph *g, const char *v) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i]->n_in; k++) n += !strcmp(g->nodes[i]->in[k], v);
  for (int i = 0; i < g->n_outputs; i++) n += !strcmp(g->outputs[i].name, v);
  return n;
}

static int find_node(const struct pn_graph *g, const struct pn_node *n) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i] == n) return i;
  return -1;
}

/* What ONNX Runtime's extended level does to a part: Conv -> Relu becomes FusedConv(activation
** Relu), Add -> LayerNormalization becomes SkipLayerNormalization (the Add's two inputs, gamma,
** beta). Returns the number of fused nodes. */
static int fuse_like_ort(struct pn_graph *g) {
  int fused = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    struct pn_node *n = g->nodes[i];
    if (!strcmp(n->op_type, "Relu")) {
      int p = pn_graph_find_producer(g, n->in[0]);
      struct pn_node *c = p >= 0 ? g->nodes[p] : NULL;
      if (!c || strcmp(c->op_type, "Conv") || uses(g, c->out[0]) != 1) continue;
      c->op_type = "FusedConv";
      c->domain = "com.microsoft";
      assert_int_equal(pn_node_set_string(g, c, "activation", "Relu"), PN_OK);
      c->out[0] = n->out[0];
      pn_graph_remove_node(g, i);
      i = -1; /* indices moved: start over */
      fused++;
    } else if (!strcmp(n->op_type, "LayerNormalization") && n->n_in == 3) {
      int p = pn_graph_find_producer(g, n->in[0]);
      struct pn_node *a = p >= 0 ? g->nodes[p] : NULL;
      if (!a || strcmp(a->op_type, "Add") || uses(g, a->out[0]) != 1 || pn_graph_find_init(g, a->in[0]) ||
          pn_graph_find_init(g, a->in[1]))
        continue;
      const char **in = pn_arena_alloc(g->arena, 4 * sizeof *in);
      assert_non_null(in);
      in[0] = a->in[0];
      in[1] = a->in[1];
      in[2] = n->in[1];
      in[3] = n->in[2];
      n->in = in;
      n->n_in = 4;
      n->op_type = "SkipLayerNormalization";
      n->domain = "com.microsoft";
      for (int k = 0; k < n->n_attr; k++) /* SkipLayerNormalization normalizes the last axis: no axis */
        if (!strcmp(n->attr[k].name, "axis")) n->attr[k--] = n->attr[--n->n_attr];
      pn_graph_remove_node(g, find_node(g, a));
      i = -1;
      fused++;
    }
  }
  if (fused) assert_int_equal(pn_graph_set_opset(g, "com.microsoft", 1), PN_OK);
  return fused;
}

static int count_domain(const struct pn_graph *g, const char *domain) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i]->domain && !strcmp(g->nodes[i]->domain, domain);
  return n;
}

/* Rewrite every part file of a bundle as the optimizer would; the number of fused nodes. */
static int optimize_bundle(const char *dir) {
  struct pn_ctx ctx = {0};
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  int fused = 0;
  char p[1024];
  while ((e = readdir(d))) {
    if (!strstr(e->d_name, ".onnx")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct pn_graph *g = NULL;
    assert_int_equal(pn_onnx_load_file(&ctx, p, &g), PN_OK);
    int f = fuse_like_ort(g);
    if (f) assert_int_equal(pn_onnx_save_file(&ctx, g, p), PN_OK);
    fused += f;
    pn_graph_free(g);
  }
  closedir(d);
  return fused;
}

static void join_lowered(const char *name, const char *fused_op) {
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed), PN_OK);
  char model[300], bundle[300], secret[300], kept[300], lowered[300];
  snprintf(model, sizeof model, "%s/%s.onnx", tmpdir, name);
  snprintf(bundle, sizeof bundle, "%s/%s-bundle", tmpdir, name);
  snprintf(secret, sizeof secret, "%s/%s-secret.json", tmpdir, name);
  snprintf(kept, sizeof kept, "%s/%s-kept.onnx", tmpdir, name);
  snprintf(lowered, sizeof lowered, "%s/%s-lowered.onnx", tmpdir, name);
  struct pn_graph *g = obf_zoo(name, 11);
  assert_int_equal(pn_onnx_save_file(&ctx, g, model), PN_OK);
  struct pn_obf_split_opts so = {.part_size = 12, .tries = 2};
  if (pn_obf_split(&ctx, model, bundle, secret, &so, &prg, NULL)) fail_msg("split %s: %s", name, pn_errmsg(&ctx));
  int fused = optimize_bundle(bundle);
  printf("%s: %d nodes fused into com.microsoft ops\n", name, fused);
  assert_true(fused >= 2);

  /* kept: the optimizer's ops stay, with their domain imported */
  struct pn_obf_join_stats js;
  struct pn_obf_join_opts jo = {.tol = 1e-4};
  if (pn_obf_join(&ctx, secret, bundle, kept, &jo, &prg, &js)) fail_msg("join %s: %s", name, pn_errmsg(&ctx));
  assert_int_equal(js.contrib_nodes, fused);
  assert_false(js.lowered);
  struct pn_graph *k = NULL;
  assert_int_equal(pn_onnx_load_file(&ctx, kept, &k), PN_OK);
  assert_int_equal(count_domain(k, "com.microsoft"), fused);
  assert_true(pn_graph_opset(k, "com.microsoft") > 0);
  bool has_fused = false;
  for (int i = 0; i < k->n_nodes; i++) has_fused |= !strcmp(k->nodes[i]->op_type, fused_op);
  assert_true(has_fused);

  /* lowered: ai.onnx ops only, no com.microsoft import, the owner's model's outputs */
  jo.lower = true;
  if (pn_obf_join(&ctx, secret, bundle, lowered, &jo, &prg, &js)) fail_msg("join --lower %s: %s", name, pn_errmsg(&ctx));
  assert_int_equal(js.contrib_nodes, fused);
  assert_true(js.lowered);
  struct pn_graph *l = NULL;
  assert_int_equal(pn_onnx_load_file(&ctx, lowered, &l), PN_OK);
  for (int i = 0; i < l->n_nodes; i++) {
    const char *dom = l->nodes[i]->domain;
    if (dom && *dom && strcmp(dom, "ai.onnx"))
      fail_msg("%s: node '%s' (%s) of domain '%s' in the lowered model", name, pn_node_label(l->nodes[i]),
               l->nodes[i]->op_type, dom);
  }
  for (int i = 0; i < l->n_opsets; i++) {
    const char *dom = l->opsets[i].domain;
    if (dom && *dom && strcmp(dom, "ai.onnx")) fail_msg("%s: opset import '%s' in the lowered model", name, dom);
  }
  assert_int_equal(pn_graph_opset(l, ""), pn_graph_opset(g, ""));
  if (pn_graph_validate(&ctx, l)) fail_msg("%s lowered: %s", name, pn_errmsg(&ctx));
  /* independent of join's own check: fresh random inputs, the owner's model as reference */
  double err = INFINITY, ref = 0;
  assert_int_equal(pn_obf_compare(&ctx, g, l, &prg, 2, &err, &ref), PN_OK);
  printf("%s lowered: max abs error %.3g (outputs up to %.3g)\n", name, err, ref);
  assert_true(err <= 1e-4 * (ref > 1 ? ref : 1));
  /* the kept model, lowered here, computes the same as the one join lowered */
  assert_int_equal(pn_obf_lower_contrib(&ctx, k, NULL), PN_OK);
  assert_int_equal(pn_obf_compare(&ctx, l, k, &prg, 1, &err, &ref), PN_OK);
  assert_true(err <= 1e-5 * (ref > 1 ? ref : 1));
  pn_graph_free(l);
  pn_graph_free(k);
  pn_graph_free(g);
  pn_prg_free(&prg);
}

static void test_join_lower_cnn(void **state) {
  (void)state;
  join_lowered("resnet18", "FusedConv");
}

static void test_join_lower_bert(void **state) {
  (void)state;
  join_lowered("bert", "SkipLayerNormalization");
}

/* Before opset 17 there is no LayerNormalization: SkipLayerNormalization lowers into the ops it
** is made of, and computes what LayerNormalization computes. */
static void test_skip_layer_norm_old_opset(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg, pin;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 1), PN_OK);
  assert_int_equal(pn_prg_init_u64(&ctx, &pin, g_seed + 2), PN_OK);
  struct pn_graph *v[2];
  const int64_t opsets[2] = {17, 13};
  float par[3][16]; /* gamma, beta, bias: the same in both graphs */
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < 16; i++) par[k][i] = (float)pn_prg_normal(&prg) * 0.3f + (k == 0);
  for (int j = 0; j < 2; j++) {
    struct pn_graph *g = v[j] = pn_graph_new();
    assert_non_null(g);
    assert_int_equal(pn_graph_set_opset(g, "", opsets[j]), PN_OK);
    assert_int_equal(pn_graph_set_opset(g, "com.microsoft", 1), PN_OK);
    int64_t xd[3] = {2, 3, 16}, hd[1] = {16};
    pn_graph_add_input(g, "x", PN_DT_FLOAT, 3, xd);
    pn_graph_add_input(g, "skip", PN_DT_FLOAT, 3, xd);
    const char *names[3] = {"gamma", "beta", "bias"};
    for (int k = 0; k < 3; k++) {
      struct pn_tensor *t = pn_graph_new_init(g, names[k], PN_DT_FLOAT, 1, hd);
      memcpy(t->data, par[k], sizeof par[k]);
    }
    const char *in[5] = {"x", "skip", "gamma", "beta", "bias"};
    const char *out = "y";
    struct pn_node *n = pn_graph_add_node(g, "SkipLayerNormalization", "sln", 5, in, 1, &out);
    n->domain = "com.microsoft";
    assert_int_equal(pn_node_set_float(g, n, "epsilon", 1e-5f), PN_OK);
    pn_graph_add_output(g, "y", PN_DT_FLOAT, 3, xd);
    int count = 0;
    if (pn_obf_lower_contrib(&ctx, g, &count)) fail_msg("lower at opset %d: %s", (int)opsets[j], pn_errmsg(&ctx));
    assert_int_equal(count, 1);
    assert_int_equal(pn_graph_opset(g, "com.microsoft"), 0);
    int ln = 0;
    for (int i = 0; i < g->n_nodes; i++) ln += !strcmp(g->nodes[i]->op_type, "LayerNormalization");
    assert_int_equal(ln, opsets[j] >= 17);
    if (pn_graph_validate(&ctx, g)) fail_msg("opset %d: %s", (int)opsets[j], pn_errmsg(&ctx));
  }
  double err = INFINITY, ref = 0;
  assert_int_equal(pn_obf_compare(&ctx, v[0], v[1], &pin, 3, &err, &ref), PN_OK);
  printf("SkipLayerNormalization at opset 13 vs 17: max abs error %.3g (outputs up to %.3g)\n", err, ref);
  assert_true(ref > 0.5);
  assert_true(err < 1e-5);
  pn_graph_free(v[0]);
  pn_graph_free(v[1]);
  pn_prg_free(&prg);
  pn_prg_free(&pin);
}

/* ---- split's and join's hooks ---- */

struct calls {
  const char *bundle;
  int before_write, files_at_estimate, n, bad_order;
  int64_t last_done, last_total;
  uint64_t estimate, avail;
  char steps[8][40];
  int n_steps;
};

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void on_progress(void *user, int64_t done, int64_t total, const char *step) {
  struct calls *c = user;
  if (c->n && (done < c->last_done || (total && done > total))) c->bad_order++;
  c->n++;
  c->last_done = done;
  c->last_total = total;
  if (step && c->n_steps < 8 && (!c->n_steps || strcmp(c->steps[c->n_steps - 1], step)))
    snprintf(c->steps[c->n_steps++], sizeof c->steps[0], "%s", step);
}

static void on_before_write(void *user, uint64_t est, uint64_t avail) {
  struct calls *c = user;
  c->before_write++;
  c->estimate = est;
  c->avail = avail;
  c->files_at_estimate = count_files(c->bundle);
}

/* The warning split's before_write hook gives (what `obf split` prints): above the limit (4 GiB
** by default), or above the space free, which takes precedence; nothing otherwise. */
static void test_split_warning(void **state) {
  (void)state;
  char m[512];
  const uint64_t G = 1ull << 30;
  assert_int_equal(pn_obf_split_warning(m, sizeof m, 5 * G, 100 * G, 0, 2, "b"), 1);
  assert_string_equal(m, "writing about 5.37 GB into b (k + 1 = 3 copies of the weights; 107.37 GB free); "
                         "a smaller -k writes less");
  assert_int_equal(pn_obf_split_warning(m, sizeof m, 4 * G, 100 * G, 0, 2, "b"), 0); /* at the limit: quiet */
  assert_string_equal(m, "");
  assert_int_equal(pn_obf_split_warning(m, sizeof m, 4 * G + 1, UINT64_MAX, 0, 2, "b"), 1);
  assert_non_null(strstr(m, "unknown free"));
  assert_int_equal(pn_obf_split_warning(m, sizeof m, 2000000000, 1000000000, 0, 0, "/mnt/x"), 1);
  assert_string_equal(m, "the bundle will take about 2.00 GB (k + 1 = 1 copies of the weights) and only "
                         "1000.0 MB are free in /mnt/x; lower -k, or split onto a larger disk");
  assert_int_equal(pn_obf_split_warning(m, sizeof m, 3000, UINT64_MAX, 1000, 1, "b"), 1); /* a lower limit */
  assert_string_equal(m, "writing about 3.0 kB into b (k + 1 = 2 copies of the weights; unknown free); "
                         "a smaller -k writes less");
  assert_int_equal(pn_obf_split_warning(m, sizeof m, 3000, UINT64_MAX, 3000, 1, "b"), 0);
}

/* GPT-2's token embedding is tied to its LM head: two parts read it, and both parts' files carry it.
** The estimate counts a weight once per part that reads it: near the bundle's size (counted once, the
** small model's bundle, the embedding's bytes most of it, was about twice its estimate). */
static void test_split_estimate_tied(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 5), PN_OK);
  char model[300], bundle[300], secret[300];
  snprintf(model, sizeof model, "%s/tied.onnx", tmpdir);
  snprintf(bundle, sizeof bundle, "%s/tied-bundle", tmpdir);
  snprintf(secret, sizeof secret, "%s/tied-secret.json", tmpdir);
  struct pn_graph *g = obf_zoo("gpt2", 11);
  assert_int_equal(pn_onnx_save_file(&ctx, g, model), PN_OK);
  uint64_t w = 0, biggest = 0;
  for (int i = 0; i < g->n_inits; i++) {
    uint64_t b = pn_tensor_nbytes(g->inits[i]);
    w += b;
    if (b > biggest) biggest = b;
  }
  assert_true(biggest * 2 > w); /* the embedding is most of the weights */
  struct pn_obf_ngram *ng = NULL;
  assert_int_equal(pn_obf_ngram_load(&ctx, PN_SOURCE_DIR "/data/obf/ngram-corpus.json", &ng), PN_OK);
  const int k = 2;
  struct pn_obf_split_opts so = {.part_size = 16, .tries = 2, .k = k, .ngram = ng};
  struct pn_obf_split_stats st;
  if (pn_obf_split(&ctx, model, bundle, secret, &so, &prg, &st)) fail_msg("split: %s", pn_errmsg(&ctx));
  double ratio = (double)st.bundle_bytes / (double)st.estimate_bytes;
  printf("gpt2 (small) k = %d: %d parts, %llu bytes on disk, estimate %llu (ratio %.3f), weights %llu\n", k,
         st.n_parts, (unsigned long long)st.bundle_bytes, (unsigned long long)st.estimate_bytes, ratio,
         (unsigned long long)w);
  assert_true((double)st.estimate_bytes >= 1.9 * (double)((uint64_t)(k + 1) * biggest)); /* the table in two parts */
  assert_true(ratio > 0.9 && ratio < 1.1);
  pn_obf_ngram_free(ng);
  pn_graph_free(g);
  obf_rm_rf(bundle);
  unlink(model);
  unlink(secret);
  pn_prg_free(&prg);
}

static void test_split_join_hooks(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, g_seed + 3), PN_OK);
  char model[300], bundle[300], secret[300], out[300], p[700];
  snprintf(model, sizeof model, "%s/hooks.onnx", tmpdir);
  snprintf(bundle, sizeof bundle, "%s/hooks-bundle", tmpdir);
  snprintf(secret, sizeof secret, "%s/hooks-secret.json", tmpdir);
  snprintf(out, sizeof out, "%s/hooks-joined.onnx", tmpdir);
  struct pn_graph *g = obf_zoo("mobilenetv2", 11);
  assert_int_equal(pn_onnx_save_file(&ctx, g, model), PN_OK);
  struct pn_obf_ngram *ng = NULL;
  assert_int_equal(pn_obf_ngram_load(&ctx, PN_SOURCE_DIR "/data/obf/ngram-corpus.json", &ng), PN_OK);
  struct calls c = {.bundle = bundle};
  const int k = 2;
  struct pn_obf_split_opts so = {.part_size = 16, .tries = 2, .k = k, .ngram = ng, .progress = on_progress,
                                 .before_write = on_before_write, .progress_user = &c};
  struct pn_obf_split_stats st;
  if (pn_obf_split(&ctx, model, bundle, secret, &so, &prg, &st)) fail_msg("split: %s", pn_errmsg(&ctx));
  /* the size was announced once, before any file was written, and is about (k + 1) x the weights of
  ** the prepared model */
  assert_int_equal(c.before_write, 1);
  assert_int_equal(c.files_at_estimate, 0);
  struct pn_graph *prep = pn_graph_clone(g);
  assert_int_equal(pn_obf_prepare(&ctx, prep), PN_OK);
  uint64_t w = 0;
  for (int i = 0; i < prep->n_inits; i++) w += pn_tensor_nbytes(prep->inits[i]);
  assert_true(w > 1000000);
  /* every weight counted once per part that reads it: MobileNetV2's weights each in one part, only
  ** small constants (Clip's bounds) read in several */
  assert_true(c.estimate >= (uint64_t)(k + 1) * w);
  assert_true(c.estimate - (uint64_t)(k + 1) * w < (uint64_t)(k + 1) * w / 1000);
  assert_true(st.estimate_bytes == c.estimate);
  assert_true(c.avail > 0);
  /* the size reported is what is on disk, and the estimate is near it */
  uint64_t on_disk = 0;
  DIR *d = opendir(bundle);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", bundle, e->d_name);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    on_disk += (uint64_t)sb.st_size;
  }
  closedir(d);
  assert_true(st.bundle_bytes == on_disk);
  double ratio = (double)on_disk / (double)c.estimate;
  printf("split: %d parts, %d files, %llu bytes on disk, estimate %llu (ratio %.2f)\n", st.n_parts, st.n_files,
         (unsigned long long)on_disk, (unsigned long long)c.estimate, ratio);
  assert_true(ratio > 0.5 && ratio < 2.0);
  /* progress: partitioning first, then every part counted up to the total */
  assert_int_equal(c.bad_order, 0);
  assert_true(c.n >= st.n_parts + 1);
  assert_int_equal(c.last_done, st.n_parts);
  assert_int_equal(c.last_total, st.n_parts);
  assert_true(c.n_steps >= 1);
  assert_string_equal(c.steps[0], "partitioning");

  /* join: every real part counted as loaded, then its steps in order */
  struct calls cj = {0};
  struct pn_obf_join_opts jo = {.progress = on_progress, .progress_user = &cj};
  struct pn_obf_join_stats js;
  if (pn_obf_join(&ctx, secret, bundle, out, &jo, &prg, &js)) fail_msg("join: %s", pn_errmsg(&ctx));
  assert_int_equal(cj.bad_order, 0);
  assert_true(cj.n >= st.n_parts + 3);
  assert_int_equal(cj.last_done, st.n_parts);
  assert_int_equal(cj.last_total, st.n_parts);
  assert_int_equal(cj.n_steps, 3);
  assert_string_equal(cj.steps[0], "reassembling");
  assert_string_equal(cj.steps[1], "verifying on random inputs");
  assert_string_equal(cj.steps[2], "saving");
  assert_int_equal(js.contrib_nodes, 0);
  pn_graph_free(prep);
  pn_graph_free(g);
  pn_obf_ngram_free(ng);
  pn_prg_free(&prg);
}

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/pn_obf_lower_%d", (int)getpid());
  obf_rm_rf(tmpdir);
  return mkdir(tmpdir, 0700);
}

static int teardown(void **state) {
  (void)state;
  obf_rm_rf(tmpdir);
  return 0;
}

int main(void) {
  g_seed = pn_test_seed("test_obf_lower", 19);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_join_lower_cnn),
    cmocka_unit_test(test_join_lower_bert),
    cmocka_unit_test(test_skip_layer_norm_old_opset),
    cmocka_unit_test(test_split_warning),
    cmocka_unit_test(test_split_join_hooks), cmocka_unit_test(test_split_estimate_tied),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
