/* test_layers.c - the layer check: every #include under src/ follows DESIGN.md's dependency graph.
**
** Each layer includes only itself and the layers below it, never one beside or above it:
**
**   util  <-  graph  <-  nn  <-  mpc, paf, obf          (mpc, paf, obf: beside each other)
**   util  <-  ckks                                       (a CKKS library in its own right)
**   ckks, graph  <-  fhe                                 (fhe never includes paf, nor nn)
**
** and inside src/ckks the ring (ring*.c, ring.h) includes nothing of CKKS above it. The allowed
** edges are written out below from DESIGN.md; a layer folder this test does not know fails it, so
** a new layer cannot slip past. The test reads the files, it links nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum layer { L_UTIL, L_GRAPH, L_NN, L_CKKS, L_MPC, L_PAF, L_FHE, L_OBF, L_COUNT };
static const char *const layer_name[L_COUNT] = {"util", "graph", "nn", "ckks", "mpc", "paf", "fhe", "obf"};

/* may[a][b]: files of layer a may include headers of layer b (DESIGN.md, "Layers"). */
static const bool may[L_COUNT][L_COUNT] = {
  [L_UTIL] = {[L_UTIL] = 1},
  [L_GRAPH] = {[L_UTIL] = 1, [L_GRAPH] = 1},
  [L_NN] = {[L_UTIL] = 1, [L_GRAPH] = 1, [L_NN] = 1},
  [L_CKKS] = {[L_UTIL] = 1, [L_CKKS] = 1},
  [L_MPC] = {[L_UTIL] = 1, [L_GRAPH] = 1, [L_NN] = 1, [L_MPC] = 1},
  [L_PAF] = {[L_UTIL] = 1, [L_GRAPH] = 1, [L_NN] = 1, [L_PAF] = 1},
  [L_FHE] = {[L_UTIL] = 1, [L_GRAPH] = 1, [L_CKKS] = 1, [L_FHE] = 1},
  [L_OBF] = {[L_UTIL] = 1, [L_GRAPH] = 1, [L_NN] = 1, [L_OBF] = 1},
};

static int find_layer(const char *name, size_t len) {
  for (int l = 0; l < L_COUNT; l++)
    if (strlen(layer_name[l]) == len && !strncmp(layer_name[l], name, len)) return l;
  return -1;
}

/* Headers a layer includes by a path without a folder: generated code of that layer. */
static bool generated(int layer, const char *path) {
  return layer == L_GRAPH && !strcmp(path, "onnx.pb-c.h");
}

/* src/ckks's own order: the ring (ring*.c, ring.h) sits below the rest of the layer. */
static bool ckks_ring_file(const char *file) { return !strncmp(file, "ring", 4); }

struct finding {
  bool quiet;                  /* the checker's own test: count, do not print */
  int files, includes, violations;
  char log[8192];              /* the violations' messages, one per line */
};

/* Check one file's quoted includes; report each violation. */
static void check_file(struct finding *f, int layer, const char *dir, const char *file) {
  char path[2048];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path) fail();
  FILE *fp = fopen(path, "r");
  if (!fp) {
    print_error("%s: cannot open\n", path);
    f->violations++;
    return;
  }
  f->files++;
  char line[4096];
  int lineno = 0;
  while (fgets(line, sizeof line, fp)) {
    lineno++;
    const char *p = line;
    while (isspace((unsigned char)*p)) p++;
    if (*p != '#') continue;
    p++;
    while (isspace((unsigned char)*p)) p++;
    if (strncmp(p, "include", 7)) continue;
    p += 7;
    while (isspace((unsigned char)*p)) p++;
    if (*p != '"') continue; /* <system> headers are not layers */
    const char *q = strchr(p + 1, '"');
    if (!q) continue;
    char inc[512];
    snprintf(inc, sizeof inc, "%.*s", (int)(q - p - 1), p + 1);
    f->includes++;
    /* public headers include their neighbours relatively ("ir.h", "../util/status.h"), so that
    ** the installed tree works from <privnn/...>: resolve those to layer/file */
    char resolved[512];
    if (!strncmp(inc, "../", 3)) {
      snprintf(resolved, sizeof resolved, "%s", inc + 3);
    } else if (!strchr(inc, '/') && !generated(layer, inc)) {
      char sib[3072];
      snprintf(sib, sizeof sib, "%s/%s", dir, inc);
      FILE *sf = fopen(sib, "r");
      if (sf) fclose(sf);
      snprintf(resolved, sizeof resolved, sf ? "%s/%s" : "%s", sf ? layer_name[layer] : inc, inc);
    } else {
      snprintf(resolved, sizeof resolved, "%s", inc);
    }
    const char *slash = strchr(resolved, '/');
    char why[256] = "";
    if (!slash) {
      if (!generated(layer, inc)) snprintf(why, sizeof why, "names no layer folder");
    } else {
      int to = find_layer(resolved, (size_t)(slash - resolved));
      if (to < 0)
        snprintf(why, sizeof why, "folder '%.*s' is not a layer", (int)(slash - resolved), resolved);
      else if (!may[layer][to])
        snprintf(why, sizeof why, "%s may not include %s (%s)", layer_name[layer], layer_name[to],
                 to == layer ? "?" : "a layer beside or above it");
      else if (layer == L_CKKS && to == L_CKKS && ckks_ring_file(file) &&
               strncmp(slash + 1, "ring", 4))
        snprintf(why, sizeof why, "the CKKS ring may not include the rest of src/ckks");
    }
    if (*why) {
      f->violations++;
      char msg[3072];
      snprintf(msg, sizeof msg, "%s:%d: #include \"%s\": %s", path, lineno, inc, why);
      if (!f->quiet) print_error("%s\n", msg);
      size_t used = strlen(f->log);
      snprintf(f->log + used, sizeof f->log - used, "%s\n", msg);
    }
  }
  fclose(fp);
}

static bool source_file(const char *name) {
  size_t n = strlen(name);
  return n > 2 && name[n - 2] == '.' && (name[n - 1] == 'c' || name[n - 1] == 'h');
}

static void check_tree(struct finding *f, const char *src) {
  DIR *top = opendir(src);
  assert_non_null(top);
  struct dirent *e;
  while ((e = readdir(top))) {
    if (e->d_name[0] == '.') continue;
    char dir[1024];
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", src, e->d_name) >= sizeof dir) fail();
    DIR *d = opendir(dir);
    if (!d) {
      /* src/privnn.h, the umbrella of the public headers, sits above every layer like the CLI */
      if (source_file(e->d_name) && strcmp(e->d_name, "privnn.h")) {
        if (!f->quiet) print_error("src/%s: a source file outside every layer\n", e->d_name);
        f->violations++;
      }
      continue;
    }
    int layer = find_layer(e->d_name, strlen(e->d_name));
    if (layer < 0) {
      if (!f->quiet)
        print_error("src/%s/: a folder that is no layer of DESIGN.md (add it there and here)\n", e->d_name);
      f->violations++;
      closedir(d);
      continue;
    }
    struct dirent *fe;
    while ((fe = readdir(d))) {
      if (source_file(fe->d_name)) {
        check_file(f, layer, dir, fe->d_name);
        continue;
      }
      /* a folder inside a layer (src/graph/zoo/) belongs to that layer */
      char sub[4096];
      DIR *sd = fe->d_name[0] != '.' && (size_t)snprintf(sub, sizeof sub, "%s/%s", dir, fe->d_name) < sizeof sub
                    ? opendir(sub) : NULL;
      for (struct dirent *se; sd && (se = readdir(sd));)
        if (source_file(se->d_name)) check_file(f, layer, sub, se->d_name);
      if (sd) closedir(sd);
    }
    closedir(d);
  }
  closedir(top);
}

static void test_src_follows_the_layers(void **state) {
  struct finding f = {0};
  check_tree(&f, PN_SOURCE_DIR "/src");
  printf("layer check: %d files, %d quoted includes, %d violations\n", f.files, f.includes, f.violations);
  assert_true(f.files > 100);
  assert_int_equal(f.violations, 0);
}

/* The checker itself: a tree with an include upward, one beside, one from the ring into CKKS,
** a foreign folder, and allowed includes, gives exactly the expected violations. */
static void write(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
}

static void test_checker_finds_violations(void **state) {
  char root[] = "/tmp/pn_layers_XXXXXX";
  assert_non_null(mkdtemp(root));
  char p[1024];
  static const char *dirs[] = {"graph", "mpc", "ckks", "stuff"};
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
    assert_int_equal(mkdir(p, 0700), 0);
  }
  snprintf(p, sizeof p, "%s/graph/ok.c", root);
  write(p, "#include <stdio.h>\n#include \"util/status.h\"\n# include \"graph/ir.h\"\n#include \"onnx.pb-c.h\"\n");
  snprintf(p, sizeof p, "%s/graph/up.c", root);
  write(p, "#include \"nn/autograd.h\"\n");                /* above */
  snprintf(p, sizeof p, "%s/graph/rel.h", root);
  write(p, "#include \"ok.c\"\n#include \"../util/api.h\"\n#include \"../mpc/beside.h\"\n"); /* above */
  snprintf(p, sizeof p, "%s/stray.c", root);
  write(p, "int x;\n");                                      /* outside every layer */
  snprintf(p, sizeof p, "%s/mpc/beside.h", root);
  write(p, "#include \"graph/ir.h\"\n#include \"obf/obf.h\"\n"); /* beside */
  snprintf(p, sizeof p, "%s/ckks/ring_x.c", root);
  write(p, "#include \"ckks/ring.h\"\n#include \"ckks/ckks.h\"\n"); /* ring -> ckks */
  snprintf(p, sizeof p, "%s/ckks/ckks_x.c", root);
  write(p, "#include \"ckks/ring.h\"\n#include \"ckks/poly.h\"\n#include \"graph/ir.h\"\n"); /* graph */
  struct finding f = {.quiet = true};
  check_tree(&f, root);
  assert_int_equal(f.files, 6);
  /* up, rel.h -> mpc, beside, ring->ckks, ckks->graph, folder "stuff", stray.c */
  assert_int_equal(f.violations, 7);
  assert_non_null(strstr(f.log, "/graph/up.c:1: #include \"nn/autograd.h\": graph may not include nn"));
  assert_non_null(strstr(f.log, "/mpc/beside.h:2: #include \"obf/obf.h\": mpc may not include obf"));
  assert_non_null(strstr(f.log, "/ckks/ring_x.c:2: #include \"ckks/ckks.h\": the CKKS ring"));
  assert_non_null(strstr(f.log, "/ckks/ckks_x.c:3: #include \"graph/ir.h\": ckks may not include graph"));
  assert_non_null(strstr(f.log, "/graph/rel.h:3: #include \"../mpc/beside.h\": graph may not include mpc"));
  assert_null(strstr(f.log, "ok.c"));
  char cmd[1100];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_checker_finds_violations),
    cmocka_unit_test(test_src_follows_the_layers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
