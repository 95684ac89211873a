/* test_boot_n15_slow.c - the bootstrapping tests of test_boot.c at N = 2^15 with the 128-bit preset (full-slot
** bootstrap within the documented precision, the documented multiplications, a second bootstrap); labelled
** 'slow' (several minutes), so the sanitizer run skips it. */
#define PN_BOOT_TEST_LOGN 15
#include "test_boot.c"
