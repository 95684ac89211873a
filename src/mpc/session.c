/* session.c - the P0-P1 hello: party ids, model, plan, batch, shares and dealer session agree.
**
** Right after the transport is up each party sends a 160-byte hello (little-endian):
**   u32 "PNPH", u32 version (1), u32 party, u32 batch, u32 frac, u32 lut_max, u32 emulator on,
**   u32 0, u64 batches, u64 words per batch, model[32], plan[32], share_id[16], dealer_id[16],
**   16 zero bytes,
** the TLS server first. Each side compares the peer's hello with its own and refuses, naming the
** first field that differs: two processes started as the same party, shares of two different
** client runs, dealer material of two different sessions, another model, plan or batch. Nothing
** secret is in the hello: ids are random and the hashes are of public files. */
#include "mpc/session.h"

#include <openssl/evp.h>
#include <string.h>

#include "mpc/net.h"
#include "util/bytes.h"
#include "util/status.h"

#define HELLO_MAGIC 0x48504e50u /* "PNPH" */
#define HELLO_VERSION 1
#define HELLO_BYTES 160

static void encode(const struct pn_mpc_hello *h, uint8_t b[HELLO_BYTES]) {
  memset(b, 0, HELLO_BYTES);
  pn_put_le32(b, HELLO_MAGIC);
  pn_put_le32(b + 4, HELLO_VERSION);
  pn_put_le32(b + 8, h->party);
  pn_put_le32(b + 12, h->batch);
  pn_put_le32(b + 16, h->frac);
  pn_put_le32(b + 20, h->lut_max);
  pn_put_le32(b + 24, h->emu);
  pn_put_le64(b + 32, h->batches);
  pn_put_le64(b + 40, h->words);
  memcpy(b + 48, h->model, 32);
  memcpy(b + 80, h->plan, 32);
  memcpy(b + 112, h->share_id, PN_MPC_ID_BYTES);
  memcpy(b + 128, h->dealer_id, PN_MPC_ID_BYTES);
}

static int decode(struct pn_ctx *ctx, const struct pn_mpc_net *net, const uint8_t b[HELLO_BYTES],
                  struct pn_mpc_hello *h) {
  if (pn_get_le32(b) != HELLO_MAGIC)
    return pn_err(ctx, PN_ERR_PROTOCOL, "%s did not say a party's hello (another program, or an "
                  "online dealer's port?)", pn_mpc_net_peer(net));
  if (pn_get_le32(b + 4) != HELLO_VERSION)
    return pn_err(ctx, PN_ERR_MISMATCH, "%s speaks party hello version %u, this privnn %d",
                  pn_mpc_net_peer(net), pn_get_le32(b + 4), HELLO_VERSION);
  memset(h, 0, sizeof *h);
  h->party = pn_get_le32(b + 8);
  h->batch = pn_get_le32(b + 12);
  h->frac = pn_get_le32(b + 16);
  h->lut_max = pn_get_le32(b + 20);
  h->emu = pn_get_le32(b + 24);
  h->batches = pn_get_le64(b + 32);
  h->words = pn_get_le64(b + 40);
  memcpy(h->model, b + 48, 32);
  memcpy(h->plan, b + 80, 32);
  memcpy(h->share_id, b + 112, PN_MPC_ID_BYTES);
  memcpy(h->dealer_id, b + 128, PN_MPC_ID_BYTES);
  return PN_OK;
}

static int compare(struct pn_ctx *ctx, const char *peer, const struct pn_mpc_hello *me,
                   const struct pn_mpc_hello *p) {
  char a[2 * PN_MPC_ID_BYTES + 1], b[2 * PN_MPC_ID_BYTES + 1];
  if (p->party == me->party)
    return pn_err(ctx, PN_ERR_MISMATCH, "the peer at %s is also party %u: start one party with "
                  "--id 0 and the other with --id 1", peer, me->party);
  if (p->party > 1)
    return pn_err(ctx, PN_ERR_MISMATCH, "the peer at %s claims party %u", peer, p->party);
  if (memcmp(p->share_id, me->share_id, PN_MPC_ID_BYTES)) {
    pn_mpc_id_hex(me->share_id, a);
    pn_mpc_id_hex(p->share_id, b);
    return pn_err(ctx, PN_ERR_MISMATCH, "the peer holds input shares of another client run "
                  "(share id %s, ours %s): both parties need the two files of one `mpc share`",
                  b, a);
  }
  if (memcmp(p->dealer_id, me->dealer_id, PN_MPC_ID_BYTES)) {
    pn_mpc_id_hex(me->dealer_id, a);
    pn_mpc_id_hex(p->dealer_id, b);
    return pn_err(ctx, PN_ERR_MISMATCH, "the peer holds dealer material of another dealer session "
                  "(session %s, ours %s): both parties need the two files of one `mpc dealer`, "
                  "or the same online dealer", b, a);
  }
  if (memcmp(p->model, me->model, 32))
    return pn_err(ctx, PN_ERR_MISMATCH, "the peer loaded another model file (SHA-256 differs)");
  if (memcmp(p->plan, me->plan, 32))
    return pn_err(ctx, PN_ERR_MISMATCH, "the peer uses another HummingBird plan (--plan)");
  if (p->batch != me->batch || p->batches != me->batches || p->words != me->words)
    return pn_err(ctx, PN_ERR_MISMATCH, "the peer runs %llu batch(es) of %u with %llu input words, "
                  "we run %llu of %u with %llu", (unsigned long long)p->batches, p->batch,
                  (unsigned long long)p->words, (unsigned long long)me->batches, me->batch,
                  (unsigned long long)me->words);
  if (p->frac != me->frac)
    return pn_err(ctx, PN_ERR_MISMATCH, "the peer uses %u fractional bits, we use %u", p->frac,
                  me->frac);
  if (p->lut_max != me->lut_max)
    return pn_err(ctx, PN_ERR_MISMATCH, "one party was started with --no-table and the other not");
  if (p->emu != me->emu)
    return pn_err(ctx, PN_ERR_MISMATCH, "one party runs the link emulator (--net) and the other "
                  "not: give both the same --net");
  return PN_OK;
}

int pn_mpc_hello_exchange(struct pn_ctx *ctx, struct pn_mpc_net *net, const struct pn_mpc_hello *mine) {
  uint8_t out[HELLO_BYTES], in[HELLO_BYTES];
  encode(mine, out);
  int rc;
  if (pn_mpc_net_is_server(net)) {
    if ((rc = pn_mpc_net_send(ctx, net, out, sizeof out)) == PN_OK)
      rc = pn_mpc_net_recv(ctx, net, in, sizeof in);
  } else {
    if ((rc = pn_mpc_net_recv(ctx, net, in, sizeof in)) == PN_OK)
      rc = pn_mpc_net_send(ctx, net, out, sizeof out);
  }
  if (rc) {
    pn_err_prefix(ctx, "party hello");
    return rc;
  }
  struct pn_mpc_hello peer;
  if ((rc = decode(ctx, net, in, &peer)) || (rc = compare(ctx, pn_mpc_net_peer(net), mine, &peer)))
    pn_err_prefix(ctx, "party %u refuses the peer", mine->party);
  return rc;
}

void pn_mpc_run_id(const struct pn_mpc_hello *h, uint8_t run_id[PN_MPC_ID_BYTES]) {
  uint8_t md[32];
  unsigned len = 0;
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  EVP_DigestInit_ex(c, EVP_sha256(), NULL);
  EVP_DigestUpdate(c, "privnn-run-v1", 13);
  EVP_DigestUpdate(c, h->share_id, PN_MPC_ID_BYTES);
  EVP_DigestUpdate(c, h->dealer_id, PN_MPC_ID_BYTES);
  EVP_DigestUpdate(c, h->model, 32);
  EVP_DigestUpdate(c, h->plan, 32);
  EVP_DigestFinal_ex(c, md, &len);
  EVP_MD_CTX_free(c);
  memcpy(run_id, md, PN_MPC_ID_BYTES);
}
