/* cpu.h - which vector instructions this CPU runs, for kernels chosen at run time. */
#ifndef PN_CPU_H
#define PN_CPU_H

/* The widest kernel family in use: the CPU's, capped by the environment variable
** PN_CPU=baseline|avx2|avx512 (to compare paths, or to run under valgrind, which lacks AVX-512). */
enum pn_cpu_level { PN_CPU_BASELINE = 0, PN_CPU_AVX2 = 1, PN_CPU_AVX512 = 2, PN_CPU_LEVEL_COUNT };

enum pn_cpu_level pn_cpu_level(void);
/* Override for tests: level < 0 restores detection. */
void pn_cpu_set_level(int level);
/* 1 when the AVX-512 kernels are in use (pn_cpu_level, so PN_CPU / pn_cpu_set_level cap it too) and the CPU
** also has AVX-512 IFMA (52-bit multiply-accumulate: ckks/ring_dot_ifma.c). */
int pn_cpu_has_ifma(void);
/* "baseline", "avx2" or "avx512". */
const char *pn_cpu_level_name(enum pn_cpu_level level);

/* A function compiled for each listed target and chosen by the loader on this CPU (GCC/clang
** ifunc on x86-64 glibc), for auto-vectorised loops; elsewhere a plain function. Results do not
** depend on the clone: privnn builds with -std=c11, so no FMA contraction changes rounding. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__gnu_linux__) && \
    !defined(__SANITIZE_ADDRESS__)
#define PN_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PN_TARGET_CLONES
#endif

#endif
