/* fuzz_plan.c - libFuzzer target for HummingBird plan files (mpc/runner.h, plan.c): load, and if
** it loads, save, reload and compare entry by entry (a plan privnn accepts round-trips). */
#include "fuzz_common.h"
#include "mpc/runner.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct pn_ctx ctx = {0};
  struct pn_mpc_plan a = {0}, b = {0};
  int rc = pn_mpc_plan_load(&ctx, fz_write(data, size), &a);
  fz_check(&ctx, rc);
  if (rc == PN_OK) {
    char path[64];
    snprintf(path, sizeof path, "%s/pn-fuzz-plan-%d.json", fz_dir(), (int)getpid());
    if (pn_mpc_plan_save(&ctx, path, &a, NULL) || pn_mpc_plan_load(&ctx, path, &b) || a.n != b.n) abort();
    for (int i = 0; i < a.n; i++)
      if (strcmp(a.items[i].node, b.items[i].node) || a.items[i].k != b.items[i].k ||
          a.items[i].m != b.items[i].m || a.items[i].k < 0 || a.items[i].k > a.items[i].m ||
          a.items[i].m > 64)
        abort();
    unlink(path);
  }
  pn_mpc_plan_free(&a);
  pn_mpc_plan_free(&b);
  return 0;
}
