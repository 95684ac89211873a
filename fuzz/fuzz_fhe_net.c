/* fuzz_fhe_net.c - libFuzzer target for the frames of privnn fhe serve / query (src/fhe/net.c).
** First byte: bit 0 set wraps the rest as one well-formed frame of type data[1] (so the fuzzer spends its
** time in the payloads: HELLO's spec, the objects' headers); bit 1 set feeds the bytes to a real server
** session over a socketpair (HELLO sent, then the bytes read as the client's frames: KEYS loaded against
** a tiny plan, queries answered: the KEYS frame parsed as it arrives, pn_fhe_evk_read) instead of the stream
** checker; bit 2 set (bit 1 clear) reads the bytes as an EVAL object both ways, streamed (pn_fhe_evk_read from
** memory) and buffered (pn_fhe_evk_load): keys the streamed reader accepts the buffered loader must accept too.
** Every refusal must be PN_ERR_PROTOCOL / _CORRUPT / _MISMATCH (or, for the session or a source that ends
** early, _IO) with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhe/fhe.h"
#include "fhe_fuzz_common.h"
#include "fhe/fhe_keys.h"
#include "fhe/fhe_net.h"
#include "graph/ir.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pn_fhe_plan *P;
static struct pn_fhe_server *SRV; /* the plan's weights, encoded once (no keys) */
static uint8_t *HELLO;
static size_t HELLO_LEN;

/* x [1,1,2,2] -> Flatten -> Gemm 4 -> 2 at a tiny insecure ring, and its HELLO */
static void setup(void) {
  if (P) return;
  struct pn_ctx ctx = {0};
  P = fuzz_fhe_plan();
  struct pn_fhe_spec *s;
  uint8_t *sb;
  size_t sl;
  if (pn_fhe_plan_spec(&ctx, P, &s) || pn_fhe_spec_save(&ctx, s, &sb, &sl) ||
      pn_fhe_hello_make(&ctx, sb, sl, 0.5, 0.25, &HELLO, &HELLO_LEN))
    abort();
  free(sb);
  pn_fhe_spec_free(s);
  if (pn_fhe_server_new(&ctx, P, NULL, 16, &SRV)) abort();
}

/* The fuzzer's bytes as a source that ends where they end. */
struct mem_src {
  const uint8_t *p;
  size_t len, at;
};
static int mem_get(struct pn_ctx *ctx, void *arg, void *bytes, size_t n) {
  struct mem_src *m = arg;
  if (n > m->len - m->at) return pn_err(ctx, PN_ERR_IO, "fuzz source: %zu bytes asked, %zu left", n, m->len - m->at);
  memcpy(bytes, m->p + m->at, n);
  m->at += n;
  return PN_OK;
}

static void check_failure(const struct pn_ctx *ctx, int rc, int io_ok) {
  int ok = rc == PN_ERR_PROTOCOL || rc == PN_ERR_CORRUPT || rc == PN_ERR_MISMATCH || (io_ok && rc == PN_ERR_IO);
  if (!ok || !pn_errmsg(ctx)[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  if (size < 2) return 0;
  const uint8_t *d = data + 1;
  size_t n = size - 1;
  uint8_t *own = NULL;
  if (data[0] & 1) {
    if (!(own = malloc(n - 1 + PN_FHE_FRAME_HDR))) abort();
    pn_fhe_frame_put_header(own, 1 + data[1] % (PN_FHE_MSG_COUNT - 1), n - 1);
    memcpy(own + PN_FHE_FRAME_HDR, d + 1, n - 1);
    d = own;
    n = n - 1 + PN_FHE_FRAME_HDR;
  }
  struct pn_ctx ctx = {0};
  int rc;
  if (data[0] & 2) {
    /* a server session reading these bytes as the client's side */
    struct pn_fhe_serve_stats st;
    rc = fuzz_fhe_session(&ctx, SRV, HELLO, HELLO_LEN, d, n, &st);
    if (rc) check_failure(&ctx, rc, 1);
  } else if (data[0] & 4) {
    /* the bytes as EVAL objects: streamed (as long as they claim to be; and exactly as long) and buffered */
    struct pn_fhe_evk *ks = NULL, *kb = NULL;
    for (int w = 0; w < 2; w++) {
      struct mem_src m = {d, n, 0};
      uint64_t claim = w || n < 48 ? n : 48 + (d[40] | (uint64_t)d[41] << 8 | (uint64_t)d[42] << 16);
      rc = pn_fhe_evk_read(&ctx, P, mem_get, &m, claim, &ks);
      if (rc) check_failure(&ctx, rc, 1);
      else if (m.at != claim) abort();
      if (!rc && w) {
        if (pn_fhe_evk_load(&ctx, P, d, n, &kb)) abort(); /* streamed accepted: the buffered loader must too */
        pn_fhe_evk_free(kb);
      }
      pn_fhe_evk_free(ks);
      ks = NULL;
    }
  } else {
    rc = pn_fhe_frames_check(&ctx, d, n);
    if (rc) check_failure(&ctx, rc, 0);
  }
  free(own);
  return 0;
}
