/* ring_ntt_avx512.c - ring_ntt.c built again for AVX-512, chosen at run time (ring_dispatch.h). */
#define PN_RING_AVX512_BUILD 1
#include "ring_ntt.c"
