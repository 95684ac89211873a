/* strmap.c - FNV-1a hashed, linearly probed string -> int map, kept at most half full. */
#include "util/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"

static uint64_t hash(const char *s) { return pn_fnv1a(PN_FNV1A_OFFSET, s, strlen(s)); }

void pn_strmap_free(struct pn_strmap *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

static int rehash(struct pn_strmap *m, size_t cap) {
  const char **keys = calloc(cap, sizeof *keys);
  int *vals = calloc(cap, sizeof *vals);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return -1;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = hash(m->keys[i]) & (cap - 1);
    while (keys[j]) j = (j + 1) & (cap - 1);
    keys[j] = m->keys[i];
    vals[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  return 0;
}

int pn_strmap_put(struct pn_strmap *m, const char *key, int val) {
  if (2 * (m->len + 1) > m->cap && rehash(m, m->cap ? 2 * m->cap : 64)) return -1;
  size_t j = hash(key) & (m->cap - 1);
  while (m->keys[j] && strcmp(m->keys[j], key)) j = (j + 1) & (m->cap - 1);
  if (!m->keys[j]) {
    m->keys[j] = key;
    m->len++;
  }
  m->vals[j] = val;
  return 0;
}

int pn_strmap_get(const struct pn_strmap *m, const char *key, int def) {
  if (!m->cap) return def;
  size_t j = hash(key) & (m->cap - 1);
  while (m->keys[j]) {
    if (!strcmp(m->keys[j], key)) return m->vals[j];
    j = (j + 1) & (m->cap - 1);
  }
  return def;
}
