/* arena.c - bump allocator: a list of blocks, each carved front to back, all freed together. */
#include "util/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (64u * 1024u)
#define ARENA_ALIGN 16u

struct block {
  struct block *next;
  size_t size, used;
  _Alignas(16) unsigned char data[];
};

struct adopted {
  struct adopted *next;
  void *p;
};

struct pn_arena {
  struct block *head;
  struct adopted *adopted; /* malloc'd blocks freed with the arena (pn_arena_adopt) */
  size_t total;
};

struct pn_arena *pn_arena_new(void) { return calloc(1, sizeof(struct pn_arena)); }

void pn_arena_free(struct pn_arena *a) {
  if (!a) return;
  for (struct block *b = a->head, *n; b; b = n) {
    n = b->next;
    free(b);
  }
  for (struct adopted *d = a->adopted, *n; d; d = n) {
    n = d->next;
    free(d->p);
    free(d);
  }
  free(a);
}

int pn_arena_adopt(struct pn_arena *a, void *p, size_t n) {
  struct adopted *d = a ? malloc(sizeof *d) : NULL;
  if (!d) return -1;
  d->p = p;
  d->next = a->adopted;
  a->adopted = d;
  a->total += n;
  return 0;
}

void *pn_arena_alloc(struct pn_arena *a, size_t n) {
  if (!a) return NULL;
  if (n == 0) n = 1;
  if (n > SIZE_MAX - ARENA_ALIGN - sizeof(struct block)) return NULL;
  n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  struct block *b = a->head;
  bool zeroed = false;
  if (!b || b->size - b->used < n) {
    size_t size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
    /* big one-offs (tensors) come zeroed from calloc: fresh pages from the kernel are zero
    ** already, so nothing is written (and faulted in) before the caller fills them */
    zeroed = size == n;
    struct block *nb = zeroed ? calloc(1, sizeof *nb + size) : malloc(sizeof *nb + size);
    if (!nb) return NULL;
    nb->size = size;
    nb->used = 0;
    if (b && size == n) {            /* a big one-off: keep the current block as the bump target */
      nb->next = b->next;
      b->next = nb;
    } else {
      nb->next = b;
      a->head = nb;
    }
    b = nb;
  }
  void *p = b->data + b->used;
  b->used += n;
  a->total += n;
  if (!zeroed) memset(p, 0, n);
  return p;
}

void *pn_arena_memdup(struct pn_arena *a, const void *p, size_t n) {
  unsigned char *q = pn_arena_alloc(a, n + 1);
  if (q && n) memcpy(q, p, n);
  return q;
}

char *pn_arena_strndup(struct pn_arena *a, const char *s, size_t n) {
  if (!s) return NULL;
  return pn_arena_memdup(a, s, n);
}

char *pn_arena_strdup(struct pn_arena *a, const char *s) {
  return s ? pn_arena_strndup(a, s, strlen(s)) : NULL;
}

char *pn_arena_printf(struct pn_arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *s = pn_arena_alloc(a, (size_t)n + 1);
  if (!s) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

size_t pn_arena_used(const struct pn_arena *a) { return a ? a->total : 0; }
