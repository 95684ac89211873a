/* proto.c - sharing, openings, Beaver products and local truncation over Z_2^64 (ring64.h).
**
** Every function loops over the views of a struct pn_mpc (one party, or both in the simulator);
** the only communication is pn_mpc_exchange, a symmetric swap of equal-sized buffers. */
#include <stdlib.h>
#include <string.h>

#include "mpc/dealer.h"
#include "mpc/mpc.h"
#include "mpc/net.h"
#include "mpc/relu.h"
#include "util/status.h"
#include "util/wipe.h"

void pn_mpc_split(struct pn_prg *prg, int64_t n, const uint64_t *x, uint64_t *x0, uint64_t *x1) {
  pn_prg_bytes(prg, x1, (size_t)n * sizeof *x1);
  for (int64_t i = 0; i < n; i++) {
    uint64_t r = x1[i];
    x0[i] = x[i] + r;
    x1[i] = (uint64_t)0 - r;
  }
}

void pn_mpc_init_sim(struct pn_mpc *m, struct pn_ctx *ctx, struct pn_mpc_dealer *d, int frac) {
  memset(m, 0, sizeof *m);
  m->ctx = ctx;
  m->nv = 2;
  m->id[0] = 0;
  m->id[1] = 1;
  m->dealer = d;
  m->frac = frac;
  m->lut_max = PN_HB_LUT_MAX;
}

void pn_mpc_init_party(struct pn_mpc *m, struct pn_ctx *ctx, int id, struct pn_mpc_net *net,
                       struct pn_mpc_dealer *d, int frac) {
  memset(m, 0, sizeof *m);
  m->ctx = ctx;
  m->nv = 1;
  m->id[0] = id;
  m->id[1] = 1 - id;
  m->net = net;
  m->dealer = d;
  m->frac = frac;
  m->lut_max = PN_HB_LUT_MAX;
}

/* The pool: a freed array is wiped (which leaves it zero) and kept; an allocation takes the
** smallest kept array that fits without wasting more than 4x. */
static uint64_t *pool_take(struct pn_mpc *m, int v, int64_t n) {
  int best = -1;
  for (int i = 0; i < PN_MPC_POOL; i++) {
    int64_t c = m->pool[v][i].cap;
    if (m->pool[v][i].p && c >= n && c <= 4 * n + 64 && (best < 0 || c < m->pool[v][best].cap))
      best = i;
  }
  if (best < 0) return NULL;
  uint64_t *p = m->pool[v][best].p;
  m->pool_bytes -= (size_t)m->pool[v][best].cap * 8;
  m->pool[v][best].p = NULL;
  m->pool[v][best].cap = 0;
  return p;
}

int pn_sh_alloc(struct pn_mpc *m, int64_t n, pn_sh out) {
  out[0] = out[1] = NULL;
  int64_t words = n > 0 ? n : 1;
  for (int v = 0; v < m->nv; v++) {
    out[v] = pool_take(m, v, words);
    if (!out[v]) out[v] = calloc((size_t)words, sizeof(uint64_t));
    if (!out[v]) {
      pn_sh_free(m, n, out);
      return pn_err(m->ctx, PN_ERR_NOMEM, "mpc: out of memory for %lld shares", (long long)n);
    }
  }
  return PN_OK;
}

void pn_sh_free(struct pn_mpc *m, int64_t n, pn_sh s) {
  int64_t words = n > 0 ? n : 1;
  for (int v = 0; v < 2; v++) {
    if (!s[v]) continue;
    pn_wipe(s[v], (size_t)words * 8);
    int slot = -1;
    if (v < m->nv && m->pool_bytes + (size_t)words * 8 <= PN_MPC_POOL_BYTES)
      for (int i = 0; i < PN_MPC_POOL && slot < 0; i++)
        if (!m->pool[v][i].p) slot = i;
    if (slot >= 0) {
      m->pool[v][slot].p = s[v];
      m->pool[v][slot].cap = words;
      m->pool_bytes += (size_t)words * 8;
    } else {
      free(s[v]);
    }
    s[v] = NULL;
  }
}

void pn_mpc_release(struct pn_mpc *m) {
  for (int v = 0; v < 2; v++)
    for (int i = 0; i < PN_MPC_POOL; i++) {
      free(m->pool[v][i].p); /* wiped when released */
      m->pool[v][i].p = NULL;
      m->pool[v][i].cap = 0;
    }
  m->pool_bytes = 0;
}

int pn_mpc_exchange(struct pn_mpc *m, void *const send[2], void *const recv[2], size_t nbytes) {
  int rc = PN_OK;
  if (m->nv == 2) {
    memcpy(recv[0], send[1], nbytes);
    memcpy(recv[1], send[0], nbytes);
  } else {
    rc = pn_mpc_net_exchange(m->ctx, m->net, send[0], recv[0], nbytes);
  }
  if (rc == PN_OK) {
    m->st.bytes += nbytes;
    m->st.rounds++;
  }
  return rc;
}

int pn_mpc_open(struct pn_mpc *m, int64_t n, const pn_sh x, pn_sh out) {
  pn_sh peer = {0};
  int rc = pn_sh_alloc(m, n, peer);
  if (rc) return rc;
  void *s[2] = {x[0], x[1]}, *r[2] = {peer[0], peer[1]};
  rc = pn_mpc_exchange(m, s, r, (size_t)n * 8);
  if (rc == PN_OK)
    for (int v = 0; v < m->nv; v++)
      for (int64_t i = 0; i < n; i++) out[v][i] = x[v][i] + peer[v][i];
  pn_sh_free(m, n, peer);
  return rc;
}

int pn_mpc_mul(struct pn_mpc *m, int64_t n, const pn_sh x, const pn_sh y, pn_sh z) {
  pn_sh a = {0}, b = {0}, c = {0}, snd = {0}, rcv = {0};
  int rc;
  if ((rc = pn_sh_alloc(m, n, a)) || (rc = pn_sh_alloc(m, n, b)) || (rc = pn_sh_alloc(m, n, c)) ||
      (rc = pn_sh_alloc(m, 2 * n, snd)) || (rc = pn_sh_alloc(m, 2 * n, rcv)))
    goto done;
  for (int v = 0; v < m->nv; v++) {
    if ((rc = pn_dealer_triple(m->dealer, m->id[v], n, a[v], b[v], c[v]))) goto done;
    for (int64_t i = 0; i < n; i++) {
      snd[v][i] = x[v][i] - a[v][i];
      snd[v][n + i] = y[v][i] - b[v][i];
    }
  }
  {
    void *s[2] = {snd[0], snd[1]}, *r[2] = {rcv[0], rcv[1]};
    if ((rc = pn_mpc_exchange(m, s, r, (size_t)n * 16))) goto done;
  }
  for (int v = 0; v < m->nv; v++) {
    int p0 = m->id[v] == 0;
    for (int64_t i = 0; i < n; i++) {
      uint64_t e = snd[v][i] + rcv[v][i], f = snd[v][n + i] + rcv[v][n + i];
      z[v][i] = c[v][i] + e * b[v][i] + f * a[v][i] + (p0 ? e * f : 0);
    }
  }
done:
  pn_sh_free(m, n, a);
  pn_sh_free(m, n, b);
  pn_sh_free(m, n, c);
  pn_sh_free(m, 2 * n, snd);
  pn_sh_free(m, 2 * n, rcv);
  return rc;
}

int pn_mpc_matmul(struct pn_mpc *m, int64_t M, int64_t K, int64_t N, const pn_sh X,
                  const pn_sh Y, pn_sh Z) {
  int64_t nx = M * K, ny = K * N, nz = M * N;
  pn_sh A = {0}, B = {0}, C = {0}, snd = {0}, rcv = {0};
  int rc;
  if ((rc = pn_sh_alloc(m, nx, A)) || (rc = pn_sh_alloc(m, ny, B)) ||
      (rc = pn_sh_alloc(m, nz, C)) || (rc = pn_sh_alloc(m, nx + ny, snd)) ||
      (rc = pn_sh_alloc(m, nx + ny, rcv)))
    goto done;
  for (int v = 0; v < m->nv; v++) {
    if ((rc = pn_dealer_matrix(m->dealer, m->id[v], M, K, N, A[v], B[v], C[v]))) goto done;
    for (int64_t i = 0; i < nx; i++) snd[v][i] = X[v][i] - A[v][i];
    for (int64_t i = 0; i < ny; i++) snd[v][nx + i] = Y[v][i] - B[v][i];
  }
  {
    void *s[2] = {snd[0], snd[1]}, *r[2] = {rcv[0], rcv[1]};
    if ((rc = pn_mpc_exchange(m, s, r, (size_t)(nx + ny) * 8))) goto done;
  }
  for (int v = 0; v < m->nv; v++) {
    /* E and F, opened, overwrite snd */
    for (int64_t i = 0; i < nx + ny; i++) snd[v][i] += rcv[v][i];
    const uint64_t *E = snd[v], *F = snd[v] + nx;
    memcpy(Z[v], C[v], (size_t)nz * 8);
    pn_ring64_matmul(M, K, N, E, B[v], Z[v], 1);
    pn_ring64_matmul(M, K, N, A[v], F, Z[v], 1);
    if (m->id[v] == 0) pn_ring64_matmul(M, K, N, E, F, Z[v], 1);
  }
done:
  pn_sh_free(m, nx, A);
  pn_sh_free(m, ny, B);
  pn_sh_free(m, nz, C);
  pn_sh_free(m, nx + ny, snd);
  pn_sh_free(m, nx + ny, rcv);
  return rc;
}

void pn_mpc_trunc(struct pn_mpc *m, int64_t n, pn_sh x, int f) {
  if (f <= 0) return;
  for (int v = 0; v < m->nv; v++) {
    uint64_t *p = x[v];
    if (m->id[v] == 0) {
      for (int64_t i = 0; i < n; i++) p[i] = (uint64_t)((int64_t)p[i] >> f);
    } else {
      for (int64_t i = 0; i < n; i++)
        p[i] = (uint64_t)0 - (uint64_t)((int64_t)((uint64_t)0 - p[i]) >> f);
    }
  }
}

void pn_mpc_add_public(struct pn_mpc *m, int64_t n, pn_sh x, const uint64_t *c) {
  for (int v = 0; v < m->nv; v++)
    if (m->id[v] == 0)
      for (int64_t i = 0; i < n; i++) x[v][i] += c[i];
}
