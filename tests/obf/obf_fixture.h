/* obf_fixture.h - what the Proteus bundle tests share (test_obf.c, test_obf_lower.c; include after
** cmocka.h): small zoo models and removing a scratch folder. */
#ifndef PN_TEST_OBF_FIXTURE_H
#define PN_TEST_OBF_FIXTURE_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/zoo.h"
#include "util/util.h"

/* A zoo model, small: CNNs at 1x3x32x32 with 10 classes, BERT with 2 layers of hidden 32, 4 heads,
** sequence 8. Weights from seed. */
static inline struct pn_graph *obf_zoo(const char *name, uint64_t seed) {
  struct pn_ctx ctx = {0};
  struct pn_zoo_opts o = {.seed = seed, .num_classes = 10};
  if (pn_zoo_is_transformer(name)) {
    o.layers = 2;
    o.hidden = 32;
    o.heads = 4;
    o.seq = 8;
    o.intermediate = 64;
  } else {
    o.ndim = 4;
    o.dims[0] = 1;
    o.dims[1] = 3;
    o.dims[2] = o.dims[3] = 32;
  }
  struct pn_graph *g = NULL;
  int rc = pn_zoo_build(&ctx, name, &o, &g);
  if (rc) fail_msg("zoo %s: %s", name, pn_errmsg(&ctx));
  return g;
}

/* rm -rf dir (no symlinks followed). */
static inline void obf_rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[1024];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue;
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) obf_rm_rf(p);
    else unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

#endif
