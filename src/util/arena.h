/* arena.h - bump allocation for objects that live and die together (one model, one plan). */
#ifndef PN_ARENA_H
#define PN_ARENA_H

#include <stddef.h>

struct pn_arena;

/* A new, empty arena; NULL when out of memory. */
struct pn_arena *pn_arena_new(void);
/* Free every allocation of the arena at once. pn_arena_free(NULL) does nothing. */
void pn_arena_free(struct pn_arena *a);
/* n bytes, 16-byte aligned, zeroed; NULL when out of memory. Large requests get their own block. */
void *pn_arena_alloc(struct pn_arena *a, size_t n);
/* Hand a malloc'd block of n bytes over to the arena: freed (with free) by pn_arena_free. 0, or -1
** when out of memory (p is then still the caller's). */
int pn_arena_adopt(struct pn_arena *a, void *p, size_t n);
/* Copies of a string / of n bytes (with a terminating 0), owned by the arena. NULL in → NULL out. */
char *pn_arena_strdup(struct pn_arena *a, const char *s);
char *pn_arena_strndup(struct pn_arena *a, const char *s, size_t n);
void *pn_arena_memdup(struct pn_arena *a, const void *p, size_t n);
/* printf into the arena. */
char *pn_arena_printf(struct pn_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes handed out so far (for reports). */
size_t pn_arena_used(const struct pn_arena *a);

#endif
