/* fuzz_mpc_frames.c - libFuzzer target for the party link's frames (mpc/net.h): the bytes a peer
** sends, read by a party that expects two frames of known sizes.
**
** Input: byte 0 (bit 0: the link has a key, so frames carry HMAC tags the input cannot forge;
** bit 1: the reader is the TLS-role server), two little-endian u16 payload sizes the party expects,
** then the peer's byte stream (at most 64 KiB, so it fits the socket buffer). The sending end is
** closed after the stream: a short stream ends in an error at once, never a wait. */
#include <sys/socket.h>

#include "fuzz_common.h"
#include "mpc/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 5) return 0;
  static const uint8_t key[32] = {1, 2, 3};
  size_t want[2] = {(size_t)data[1] | (size_t)data[2] << 8, (size_t)data[3] | (size_t)data[4] << 8};
  const uint8_t *stream = data + 5;
  size_t n = size - 5 > 65536 ? 65536 : size - 5;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) abort();
  if (n && write(sv[1], stream, n) != (ssize_t)n) abort();
  close(sv[1]);
  struct pn_net_opts o = {.timeout_ms = 2000, .sec = PN_NET_PLAIN};
  if (data[0] & 1) {
    o.psk = key;
    o.psk_len = sizeof key;
  }
  struct pn_ctx ctx = {0};
  struct pn_mpc_net *net = NULL;
  int rc = pn_mpc_net_from_fd(&ctx, sv[0], (data[0] >> 1) & 1, &o, &net);
  fz_check(&ctx, rc);
  uint8_t *buf = malloc(65536 + 1);
  if (!buf) abort();
  for (int i = 0; rc == PN_OK && i < 2; i++) {
    rc = pn_mpc_net_recv(&ctx, net, buf, want[i]);
    fz_check(&ctx, rc);
  }
  free(buf);
  pn_mpc_net_free(net);
  return 0;
}
