/* zoo_test.h - what the zoo tests share: torchvision's notion of a parameter count. */
#ifndef PN_TEST_ZOO_TEST_H
#define PN_TEST_ZOO_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "graph/ir.h"

static inline bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

/* What torchvision/HF count as parameters: weights and biases (BN running stats are buffers). */
static inline int64_t trainable(const struct pn_graph *g) {
  int64_t n = 0;
  for (int i = 0; i < g->n_inits; i++)
    if (ends_with(g->inits[i]->name, ".weight") || ends_with(g->inits[i]->name, ".bias"))
      n += pn_tensor_numel(g->inits[i]);
  return n;
}

#endif
