/* cpu.c - run-time CPU feature detection: the binary is built for baseline x86-64, and the
** AVX-512/AVX2 kernels (NTT, basis extension) are called only where this reports the CPU has them. */
#include "util/cpu.h"

#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = {"baseline", "avx2", "avx512"};
_Static_assert(sizeof level_names / sizeof *level_names == PN_CPU_LEVEL_COUNT, "level_names out of date");

static int forced = -1;
static int detected = -1;

static int detect(void) {
  int lv = PN_CPU_BASELINE;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) lv = PN_CPU_AVX2;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) lv = PN_CPU_AVX512;
#endif
  const char *cap = getenv("PN_CPU");
  for (int i = 0; cap && i < PN_CPU_LEVEL_COUNT; i++)
    if (!strcmp(cap, level_names[i]) && i < lv) lv = i;
  return lv;
}

enum pn_cpu_level pn_cpu_level(void) {
  if (forced >= 0) return (enum pn_cpu_level)forced;
  int d = __atomic_load_n(&detected, __ATOMIC_RELAXED);
  if (d < 0) {
    d = detect();
    __atomic_store_n(&detected, d, __ATOMIC_RELAXED);
  }
  return (enum pn_cpu_level)d;
}

static int ifma_detected = -1;

int pn_cpu_has_ifma(void) {
  if (pn_cpu_level() < PN_CPU_AVX512) return 0;
  int d = __atomic_load_n(&ifma_detected, __ATOMIC_RELAXED);
  if (d < 0) {
    d = 0;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    d = __builtin_cpu_supports("avx512ifma") != 0;
#endif
    __atomic_store_n(&ifma_detected, d, __ATOMIC_RELAXED);
  }
  return d;
}

void pn_cpu_set_level(int level) { forced = level < PN_CPU_LEVEL_COUNT ? level : -1; }

const char *pn_cpu_level_name(enum pn_cpu_level level) {
  return level >= 0 && level < PN_CPU_LEVEL_COUNT ? level_names[level] : "?";
}
