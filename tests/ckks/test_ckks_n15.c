/* test_ckks_n15.c - the CKKS tests of test_ckks.c at N = 2^15 (slow: labelled 'slow' if needed). */
#define PN_TEST_LOGN 15
#include "test_ckks.c"
