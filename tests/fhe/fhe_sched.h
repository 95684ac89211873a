/* fhe_sched.h - checks of a plan's rotation schedule (fhe_rot_sched) shared by the FHE tests. Include after
** fhe_test.h. */
#ifndef PN_FHE_SCHED_H
#define PN_FHE_SCHED_H

#include "fhe/fhe_impl.h"

/* Key switches of the earlier schedule (every rotation on its own, a chain of power-of-two keys where its step
** has no key) for plan p: what a server set to pn_fhe_server_set_rot_chains runs. */
static inline int chain_rotations(const struct pn_fhe_plan *p) {
  int t = 0;
  for (int i = 0; i < p->n_inst; i++) {
    const struct fhe_inst *in = &p->inst[i];
    if (in->kind == FHE_OP_ROT) t += fhe_rot_cost(p, in->aux);
    if (in->kind != FHE_OP_LINEAR) continue;
    int nb, ng;
    fhe_linear_rot_cost(p, &p->linears[in->aux], &nb, &ng);
    t += nb + ng;
  }
  return t;
}

/* Every node of every linear's tree is its parent rotated by one step that has a key (one key switch), parents
** come first, every baby step the diagonals use has its node, the counts are the tree's; the plan's rotations
** are the schedules' key switches. */
static inline void sched_check(const struct pn_fhe_plan *p) {
  int ks = 0;
  for (int i = 0; i < p->n_inst; i++) {
    const struct fhe_inst *in = &p->inst[i];
    if (in->kind == FHE_OP_ROT) ks += fhe_rot_cost(p, in->aux);
    if (in->kind != FHE_OP_LINEAR) continue;
    const struct fhe_linear *L = &p->linears[in->aux];
    const struct fhe_rot_sched *s = L->sched;
    assert_non_null(s);
    assert_int_equal(s->baby_ks, s->nnode - 1);
    assert_int_equal(s->step[0], 0);
    int parents = 0;
    for (int k = 1; k < s->nnode; k++) {
      assert_true(s->parent[k] >= 0 && s->parent[k] < k);
      assert_int_equal(fhe_hop_cost(p, (int64_t)s->step[k] - s->step[s->parent[k]]), 1);
      int first = 1;
      for (int j = 1; j < k; j++) first &= s->parent[j] != s->parent[k];
      parents += first;
    }
    assert_true(s->baby_modups >= parents && s->baby_modups <= s->baby_ks);
    int ng = 0;
    for (int64_t j = 0; j < L->ndiag; j++) {
      int b = L->k[j] % L->n1;
      assert_true(s->node_of[b] >= 0);
      assert_int_equal(s->step[s->node_of[b]], b);
      if (j && L->k[j] / L->n1 == L->k[j - 1] / L->n1) continue;
      /* group ng (giant index g) sits at the giant node of rotation g n1 */
      assert_true(ng < s->ngroup);
      assert_int_equal(s->gstep[s->gnode_of[ng]], (L->k[j] / L->n1) * L->n1);
      ng++;
    }
    assert_int_equal(ng, s->ngroup);
    assert_int_equal(s->giant_ks, s->gnnode - 1);
    assert_int_equal(s->gstep[0], 0);
    for (int k = 1; k < s->gnnode; k++) {
      assert_true(s->gparent[k] >= 0 && s->gparent[k] < k);
      assert_int_equal(fhe_hop_cost(p, (int64_t)s->gstep[k] - s->gstep[s->gparent[k]]), 1);
    }
    ks += s->baby_ks + s->giant_ks;
  }
  struct pn_fhe_plan_info info;
  pn_fhe_plan_get_info(p, &info);
  assert_int_equal(info.rotations, ks);
}

#endif
