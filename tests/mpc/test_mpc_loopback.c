/* test_mpc_loopback.c - the two-party loopback harness (mpc/loopback.h): two parties over TCP
** (plain and TLS) compute bit-identical shares and counters to the simulator, and a party's own
** failure is what the harness reports, not its peer's lost connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mpc/dealer.h"
#include "mpc/loopback.h"
#include "mpc/relu.h"
#include "pn_test.h"
#include "util/util.h"

enum { N = 300 };

struct job {
  uint64_t seed;               /* the secret input x and its sharing */
  uint64_t out[2][N];          /* per party: its share of ReLU(x * x') then opened x */
  struct pn_mpc_stats st[2];
  int fail_party;              /* -1 none */
};

/* Both parties' input shares of x (P0: x + r, P1: -r) from the job's seed. */
static void input_shares(const struct job *j, uint64_t x0[N], uint64_t x1[N]) {
  struct pn_prg prg;
  pn_prg_init_u64(NULL, &prg, j->seed);
  uint64_t x[N];
  for (int i = 0; i < N; i++) x[i] = pn_fx_encode(4 * pn_prg_double(&prg) - 2, 16);
  pn_mpc_split(&prg, N, x, x0, x1);
  pn_prg_free(&prg);
}

/* y = ReLU(trunc(x * x)) with HummingBird [0, 40), then the opened x: one party's view or both. */
static int work(struct job *j, struct pn_mpc *m) {
  uint64_t s[2][N];
  input_shares(j, s[0], s[1]);
  pn_sh x = {0}, sq = {0}, y = {0};
  int rc;
  if ((rc = pn_sh_alloc(m, N, x)) || (rc = pn_sh_alloc(m, N, sq)) || (rc = pn_sh_alloc(m, N, y)))
    goto done;
  for (int v = 0; v < m->nv; v++) memcpy(x[v], s[m->id[v]], sizeof s[0]);
  if ((rc = pn_mpc_mul(m, N, x, x, sq))) goto done;
  pn_mpc_trunc(m, N, sq, 16);
  if ((rc = pn_mpc_relu(m, N, sq, PN_RELU_HB, 0, 40, y))) goto done;
  for (int v = 0; v < m->nv; v++) memcpy(j->out[m->id[v]], y[v], sizeof j->out[0]);
  if ((rc = pn_mpc_open(m, N, x, y))) goto done;
  for (int v = 0; v < m->nv; v++) j->st[m->id[v]] = m->st;
done:
  pn_sh_free(m, N, x);
  pn_sh_free(m, N, sq);
  pn_sh_free(m, N, y);
  return rc;
}

static int party(void *user, int p, struct pn_ctx *ctx, struct pn_mpc *m) {
  struct job *j = user;
  if (p == j->fail_party) return pn_err(ctx, PN_ERR_INVALID, "party %d gives up on purpose", p);
  return work(j, m);
}

static void test_matches_simulator(void **state) {
  uint8_t master[32];
  struct pn_prg prg;
  pn_prg_init_u64(NULL, &prg, pn_test_seed("test_mpc_loopback", PN_TEST_SEED_FRESH));
  pn_prg_bytes(&prg, master, sizeof master);
  struct job sim = {.seed = pn_prg_u64(&prg), .fail_party = -1};
  pn_prg_free(&prg);
  struct pn_ctx ctx = {0};
  struct pn_mpc_dealer *d = NULL;
  assert_int_equal(pn_dealer_new_embedded(&ctx, master, &d), PN_OK);
  struct pn_mpc m;
  pn_mpc_init_sim(&m, &ctx, d, 16);
  assert_int_equal(work(&sim, &m), PN_OK);
  pn_mpc_release(&m);
  pn_dealer_free(d);
  assert_true(sim.st[0].bytes > 0);
  for (int tls = 0; tls < 2; tls++) {
    struct job j = {.seed = sim.seed, .fail_party = -1};
    struct pn_mpc_loopback_opts o = {.net.sec = tls ? PN_NET_TLS_PSK : PN_NET_PLAIN};
    memcpy(o.master, master, sizeof master);
    int rc = pn_mpc_loopback_run(&ctx, &o, party, &j);
    if (rc) print_error("%s\n", pn_errmsg(&ctx));
    assert_int_equal(rc, PN_OK);
    assert_memory_equal(j.out, sim.out, sizeof j.out);
    for (int p = 0; p < 2; p++) {
      assert_int_equal(j.st[p].bytes, sim.st[0].bytes);
      assert_int_equal(j.st[p].rounds, sim.st[0].rounds);
    }
  }
}

static void test_reports_the_cause(void **state) {
  for (int fp = 0; fp < 2; fp++) {
    struct pn_ctx ctx = {0};
    struct job j = {.seed = 3, .fail_party = fp};
    struct pn_mpc_loopback_opts o = {.net.sec = PN_NET_PLAIN, .net.timeout_ms = 20000};
    assert_int_equal(pn_mpc_loopback_run(&ctx, &o, party, &j), PN_ERR_INVALID);
    char want[64];
    snprintf(want, sizeof want, "party %d: party %d gives up on purpose", fp, fp);
    assert_string_equal(pn_errmsg(&ctx), want);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_matches_simulator),
    cmocka_unit_test(test_reports_the_cause),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
