/* fuzz_fhe_objects.c - libFuzzer target for the objects client and server exchange (src/fhe/keys.c):
** spec, evaluation keys, secret key, query and result, each loaded by the side that reads it (or refused
** with PN_ERR_CORRUPT / PN_ERR_MISMATCH and a message), and what loads is used. The first byte picks the
** object; with its low bit set the input gets a valid container header (magic, version, type, length,
** this program's hash) so that the fuzzer spends its time in the payloads. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhe/fhe.h"
#include "fhe_fuzz_common.h"
#include "fhe/fhe_keys.h"
#include "graph/ir.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* x [1,1,2,2] -> Flatten -> Gemm 4 -> 2, compiled at a tiny insecure ring, with a client and a server. */
static struct pn_fhe_plan *P;
static struct pn_fhe_spec *S;
static struct pn_fhe_client *CL;
static struct pn_fhe_evk *EVK;
static struct pn_fhe_server *SRV;

static void setup(void) {
  if (P) return;
  struct pn_ctx ctx = {0};
  P = fuzz_fhe_plan();
  static const uint8_t seed[32] = {1};
  if (pn_fhe_plan_spec(&ctx, P, &S) || pn_fhe_client_keygen(&ctx, S, seed, &CL) ||
      pn_fhe_client_evk(&ctx, CL, &EVK) || pn_fhe_server_new(&ctx, P, EVK, 16, &SRV))
    abort();
}

static void check_failure(const struct pn_ctx *ctx, int rc) {
  if ((rc != PN_ERR_CORRUPT && rc != PN_ERR_MISMATCH) || !pn_errmsg(ctx)[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  if (size < 1) return 0;
  static const int types[5] = {PN_FHE_OBJ_SPEC, PN_FHE_OBJ_EVAL, PN_FHE_OBJ_SECRET, PN_FHE_OBJ_QUERY,
                               PN_FHE_OBJ_RESULT};
  int type = types[(data[0] >> 1) % 5];
  const uint8_t *d = data + 1;
  size_t n = size - 1;
  uint8_t *own = NULL;
  if ((data[0] & 1) && n >= 48) {
    if (!(own = malloc(n))) abort();
    memcpy(own, d, n);
    uint8_t *hdr;
    size_t hl;
    struct pn_ctx c0 = {0};
    if (pn_fhe_obj_wrap(&c0, type, S->hash, d + 48, n - 48, &hdr, &hl)) abort();
    memcpy(own, hdr, 48);
    free(hdr);
    d = own;
  }
  struct pn_ctx ctx = {0};
  int rc;
  double y[2];
  switch (type) {
  case PN_FHE_OBJ_SPEC: {
    struct pn_fhe_spec *s = NULL;
    rc = pn_fhe_spec_load(&ctx, d, n, 1, &s);
    if (rc) check_failure(&ctx, rc);
    pn_fhe_spec_free(s);
    break;
  }
  case PN_FHE_OBJ_EVAL: {
    struct pn_fhe_evk *k = NULL;
    struct pn_fhe_server *srv = NULL;
    rc = pn_fhe_evk_load(&ctx, P, d, n, &k);
    if (rc) check_failure(&ctx, rc);
    else if (pn_fhe_server_new(&ctx, P, k, 0, &srv)) abort(); /* loaded keys serve */
    pn_fhe_server_free(srv);
    pn_fhe_evk_free(k);
    break;
  }
  case PN_FHE_OBJ_SECRET: {
    struct pn_fhe_client *c = NULL;
    rc = pn_fhe_client_load(&ctx, S, d, n, &c);
    if (rc) check_failure(&ctx, rc);
    pn_fhe_client_free(c);
    break;
  }
  case PN_FHE_OBJ_QUERY: {
    uint8_t *r = NULL;
    size_t rl;
    rc = pn_fhe_server_query(&ctx, SRV, d, n, &r, &rl, NULL);
    if (rc) check_failure(&ctx, rc);
    else if (pn_fhe_decrypt(&ctx, CL, r, rl, y, 2)) abort(); /* an answered query decrypts */
    free(r);
    break;
  }
  default:
    rc = pn_fhe_decrypt(&ctx, CL, d, n, y, 2);
    if (rc) check_failure(&ctx, rc);
    break;
  }
  free(own);
  return 0;
}
