/* bytes.h - little-endian integer encoding for privnn's own file and wire formats, and the FNV-1a
** hash of bytes. */
#ifndef PN_BYTES_H
#define PN_BYTES_H

#include <stdint.h>
#include <stddef.h>

static inline void pn_put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void pn_put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t pn_get_le32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static inline uint64_t pn_get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* 64-bit FNV-1a: h (PN_FNV1A_OFFSET to start) extended with n bytes at p. */
#define PN_FNV1A_OFFSET 14695981039346656037ull
static inline uint64_t pn_fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *c = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
  return h;
}

#endif
