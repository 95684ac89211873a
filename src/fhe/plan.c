/* plan.c - what a compiled program costs: per-layer counts, a time estimate, the table and the JSON.
**
** The estimate is a cost model, not a measurement: one thread, per instruction at its level l (l + 1
** limbs), with the number-theoretic transforms of hybrid key switching counted as in docs/ckks.md
** (nl + digits (nl + k - alpha) + 2 (k + nl) NTTs for nl limbs, k special primes, digits of alpha
** primes), an NTT of one limb taking T_NTT N log2 N and a key switch K_KS times its NTTs (inner
** products and basis extensions); a plaintext product is a pass over its 2 nl N words (T_MAC per word: memory,
** not arithmetic, bounds it), and each diagonal's plaintext is made at its use from its integer coefficients
** (nl NTTs and reductions: T_PREP NTTs per limb; the server keeps the NTT form of the layers that fit its budget,
** so this is an upper bound for those). The constants were fitted at N = 2^16 (the resnet-s chain, one thread,
** niced on the shared 2-core machine under load ~10, as `privnn fhe infer` runs there): one NTT of a limb 0.25
** ms, a rotation 391 / 256 / 108 ms at level 38 / 30 / 16, a hoisted one after the first 36-72% of that, a
** product in a sum of 8 0.46-0.71 ns per word. A linear layer's rotations are its schedule's (fhe_rot_sched):
** baby key switches at the input's level, those after the first from one node sharing its decomposition
** (HOIST_SAVE), giant key switches one level lower, or at the input's level without their ModDowns where the giant
** sums stay over Q_l P (fhe_giant_ext). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fhe/fhe_impl.h"

#define T_NTT 2.38e-7     /* ms per (N log2 N) of one limb */
#define K_KS 3.1          /* key switch / its NTT count */
#define T_MAC 5.5e-7      /* ms per word of a plaintext product in a sum (pn_ckks_mul_pt_sum) */
#define T_PREP 1.4        /* NTTs per limb of a plaintext made from its coefficients (reduction, NTT) */
#define T_ADD 0.3e-6      /* ms per modular addition */

static double ntt_ms(const struct pn_fhe_plan *p) {
  double n = (double)pn_ckks_n(p->ckks);
  return T_NTT * n * log2(n);
}

static double ks_ms(const struct pn_fhe_plan *p, int level) {
  int nl = level + 1, k = p->params.np, nq = p->params.nq, dnum = p->params.dnum ? p->params.dnum : nq;
  int alpha = (nq + dnum - 1) / dnum, digits = (nl + alpha - 1) / alpha;
  double ntts = nl + digits * (nl + k - alpha) + 2.0 * (k + nl);
  return K_KS * ntts * ntt_ms(p);
}

/* What a rotation hoisted with others from one input saves (its share of the ModUp), measured: at N = 2^16, one
** thread, a hoisted rotation after the first took 36-72% of a lone one (levels 16-38; before the inner product with
** the key was vectorised (pn_vec_dot_mod), 75-100%). */
#define HOIST_SAVE 0.5
static double modup_ms(const struct pn_fhe_plan *p, int level) { return HOIST_SAVE * ks_ms(p, level); }

static double rescale_ms(const struct pn_fhe_plan *p, int level) { return 2.0 * 1.5 * (level + 1) * ntt_ms(p); }

/* A key switch's two ModDowns (its 2 (k + nl) NTTs, at the key switch's weight K_KS). */
static double moddown_ms(const struct pn_fhe_plan *p, int level) {
  return K_KS * 2.0 * (p->params.np + level + 1) * ntt_ms(p);
}

/* The giant sums over Q_l P when nl >= GIANT_EXT_NP special primes' limbs: at N = 2^16 with 3 special primes they
** saved 13-15% of resnet-s's conv6 (level 16) and cost 5-30% more at levels 1-2 (fc1, t1), where each rotation's
** passes over the extra limbs and the key switch one level higher outweigh the ModDowns and rescales saved. */
#define GIANT_EXT_NP 3
int fhe_giant_ext(const struct pn_fhe_plan *p, int level) { return level + 1 >= GIANT_EXT_NP * p->params.np; }

int fhe_giant_inner(const struct fhe_rot_sched *s) {
  int n = 0;
  for (int k = 1; k < s->gnnode; k++) {
    int has = 0;
    for (int c = k + 1; c < s->gnnode && !has; c++) has = s->gparent[c] == k;
    n += has;
  }
  return n;
}

static double vec_ms(const struct pn_fhe_plan *p, int level, double per) {
  return 2.0 * (level + 1) * (double)pn_ckks_n(p->ckks) * per;
}

/* ct x ct products of one odd stage on CKKS (poly.h's schedule; larger stages: its BSGS budget). */
static int stage_products(int nterms) {
  static const int small[5] = {0, 0, 2, 4, 6};
  if (nterms <= 4) return small[nterms];
  int d = 2 * nterms - 1, r = 1, lg = 0;
  while (r * r < d + 1) r++;
  while ((1 << lg) < d + 1) lg++;
  return 2 * r + lg;
}

void fhe_plan_estimate(struct pn_fhe_plan *p) {
  for (int i = 0; i < p->n_layer; i++) {
    struct fhe_layer *ly = &p->layers[i];
    ly->rotations = ly->pt_muls = ly->ct_muls = ly->boots = ly->stages = ly->modups = ly->rot_first = 0;
    ly->diags = 0;
    ly->est_ms = 0;
  }
  for (int i = 0; i < p->n_inst; i++) {
    const struct fhe_inst *in = &p->inst[i];
    struct fhe_layer *ly = &p->layers[in->layer];
    int la = in->a >= 0 ? p->reg[in->a].level : 0, lb = in->b >= 0 ? p->reg[in->b].level : la;
    int lmin = la < lb ? la : lb;
    double ms = 0;
    switch (in->kind) {
    case FHE_OP_LINEAR: {
      /* the schedule's key switches: baby steps sharing their parents' ModUps, giant steps one level lower */
      const struct fhe_linear *L = &p->linears[in->aux];
      const struct fhe_rot_sched *s = L->sched;
      int nb = s->baby_ks, ngk = s->giant_ks, ng = s->ngroup;
      ly->rotations += nb + ngk;
      ly->modups += s->baby_modups + ngk;
      ly->rot_first += s->first_ks;
      ly->pt_muls += (int)L->ndiag;
      ly->diags += L->ndiag;
      /* giant sums over Q_l P (fhe_giant_ext): key switches at level la without their ModDowns, one ModDown of c1
      ** per inner node, both polynomials' at node 0, one rescale */
      double giant = fhe_giant_ext(p, la) ? ngk * (ks_ms(p, la) - moddown_ms(p, la)) +
                                                (fhe_giant_inner(s) + 2) * 0.5 * moddown_ms(p, la) + rescale_ms(p, la)
                                          : ngk * ks_ms(p, la - 1) + ng * rescale_ms(p, la);
      ms = s->baby_modups * modup_ms(p, la) + nb * (ks_ms(p, la) - modup_ms(p, la)) + giant +
           (double)L->ndiag * (vec_ms(p, la, T_MAC) + T_PREP * (la + 1) * ntt_ms(p)) + ng * vec_ms(p, la - 1, T_ADD);
      break;
    }
    case FHE_OP_ROT:
      ly->rotations += fhe_rot_cost(p, in->aux);
      ly->modups += fhe_rot_cost(p, in->aux);
      ly->rot_first += fhe_rot_cost(p, in->aux);
      ms = fhe_rot_cost(p, in->aux) * ks_ms(p, la);
      break;
    case FHE_OP_MUL:
      ly->ct_muls++;
      ms = ks_ms(p, lmin) + rescale_ms(p, lmin) + 1.5 * vec_ms(p, lmin, T_MAC);
      break;
    case FHE_OP_STAGE: {
      const struct fhe_stage *s = &p->stages[in->aux];
      int k = stage_products(s->nterms);
      ly->ct_muls += k;
      ly->stages++;
      /* products spread over the stage's levels: take the middle one */
      int lm = la - s->depth / 2;
      ms = k * (ks_ms(p, lm) + rescale_ms(p, lm) + 1.5 * vec_ms(p, lm, T_MAC)) +
           s->nterms * (rescale_ms(p, lm) + vec_ms(p, lm, T_MAC));
      break;
    }
    case FHE_OP_MULC: ms = vec_ms(p, la, T_MAC) + rescale_ms(p, la); break;
    case FHE_OP_ADD:
    case FHE_OP_SUB:
    case FHE_OP_ADDC: ms = vec_ms(p, lmin, T_ADD); break;
    case FHE_OP_BOOT:
      ly->boots++;
      /* bootstrapping: its rotations (hoisted baby steps counted as full key switchings) near the top, and
      ** the EvalMod products; a rough figure (privnn bench boot measures it) */
      if (p->real_boot) {
        int top = p->params.nq - 1;
        ms = (p->boot_rot_keys + 1) * ks_ms(p, top - 2) + 12 * (ks_ms(p, top - 8) + rescale_ms(p, top - 8));
      }
      break;
    default: break;
    }
    ly->est_ms += ms;
  }
  p->boots = 0;
  for (int i = 0; i < p->n_layer; i++) p->boots += p->layers[i].boots;
}

void pn_fhe_plan_get_info(const struct pn_fhe_plan *p, struct pn_fhe_plan_info *o) {
  memset(o, 0, sizeof *o);
  o->logn = p->params.logn;
  o->depth = p->depth;
  o->levels = p->top_level;
  o->boots = p->boots;
  o->layers = p->n_layer;
  o->instructions = p->n_inst;
  o->rotation_keys = p->n_rot;
  o->key_bytes = fhe_key_bytes(p) * (p->n_rot + 1) + p->boot_key_bytes;
  o->boot_key_bytes = p->boot_key_bytes;
  o->boot_rotation_keys = p->boot_rot_keys;
  o->log_slots = p->log_slots;
  o->real_boot = p->real_boot;
  o->log_qp = pn_ckks_log_qp(p->ckks);
  o->slots = p->slots;
  o->in_elems = p->layouts[p->in_layout].n;
  o->out_elems = p->layouts[p->out_layout].n;
  for (int i = 0; i < p->n_layer; i++) {
    o->rotations += p->layers[i].rotations;
    o->modups += p->layers[i].modups;
    o->rotations_chained += p->layers[i].rot_first;
    o->pt_muls += p->layers[i].pt_muls;
    o->ct_muls += p->layers[i].ct_muls;
    o->est_seconds += p->layers[i].est_ms / 1000.0;
  }
  memcpy(o->hash, p->model_hash, 32);
}

const struct pn_ckks_context *pn_fhe_plan_ckks(const struct pn_fhe_plan *p) { return p->ckks; }

/* Layers in program order (a bootstrap's layer, made after lowering, sits where it runs); caller frees. */
static int *layer_order(const struct pn_fhe_plan *p) {
  int *first = malloc((size_t)(p->n_layer + 1) * sizeof *first), *ord = malloc((size_t)(p->n_layer + 1) * sizeof *ord);
  if (!first || !ord) {
    free(first), free(ord);
    return NULL;
  }
  for (int i = 0; i < p->n_layer; i++) first[i] = p->n_inst + i, ord[i] = i;
  for (int i = p->n_inst - 1; i >= 0; i--) first[p->inst[i].layer] = i;
  for (int i = 1; i < p->n_layer; i++) /* insertion sort: few layers */
    for (int j = i; j > 0 && first[ord[j - 1]] > first[ord[j]]; j--) {
      int t = ord[j];
      ord[j] = ord[j - 1], ord[j - 1] = t;
    }
  free(first);
  return ord;
}

void pn_fhe_plan_print(const struct pn_fhe_plan *p, FILE *f) {
  struct pn_fhe_plan_info in;
  pn_fhe_plan_get_info(p, &in);
  char desc[512];
  pn_ckks_describe(p->ckks, desc, sizeof desc);
  fprintf(f, "model %s: %s\n", p->model_name, desc);
  fprintf(f, "depth %d of %d levels, %d bootstraps; %d rotation keys (only the steps used), evaluation keys %.2f GiB "
          "in memory; %d instructions\n", in.depth, in.levels, in.boots, in.rotation_keys, in.key_bytes / (1 << 30),
          in.instructions);
  if (in.boots)
    fprintf(f, "bootstrapping: %s, %d levels between bootstraps (%d -> %d), %zu slots%s, %d rotation keys, %.2f GiB "
            "of the keys\n", in.real_boot ? "on ciphertexts" : "SIMULATED (plan and plain simulation only)",
            p->boot_out - p->boot_in, p->boot_in, p->boot_out, p->slots,
            p->slots < pn_ckks_slots(p->ckks) ? " (sparse)" : "", in.boot_rotation_keys, in.boot_key_bytes / (1 << 30));
  fprintf(f, "per image: %d rotations (key switches; %d with one chain per rotation) from %d decompositions, %lld "
          "plaintext products, %lld ciphertext products; estimated %.2f s (one thread, cost model)\n\n", in.rotations,
          in.rotations_chained, in.modups, (long long)in.pt_muls, (long long)in.ct_muls, in.est_seconds);
  fprintf(f, "%-24s %-22s %-34s %9s %5s %5s %7s %6s %4s %9s\n", "layer", "op", "packing", "levels", "rot", "dec",
          "pt-mul", "ct-mul", "boot", "est ms");
  int *ord = layer_order(p);
  for (int k = 0; k < p->n_layer; k++) {
    const struct fhe_layer *l = &p->layers[ord ? ord[k] : k];
    char lv[24];
    snprintf(lv, sizeof lv, "%d->%d", l->level_in, l->level_out);
    fprintf(f, "%-24.24s %-22.22s %-34.34s %9s %5d %5d %7d %6d %4d %9.1f\n", l->name, l->op, l->packing, lv,
            l->rotations, l->modups, l->pt_muls, l->ct_muls, l->boots, l->est_ms);
  }
  free(ord);
}

cJSON *pn_fhe_plan_json(const struct pn_fhe_plan *p) {
  struct pn_fhe_plan_info in;
  pn_fhe_plan_get_info(p, &in);
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  char hex[65];
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", p->model_hash[i]);
  cJSON_AddStringToObject(o, "model", p->model_name);
  cJSON_AddStringToObject(o, "program_hash", hex);
  cJSON *pr = cJSON_AddObjectToObject(o, "params");
  cJSON_AddNumberToObject(pr, "logn", p->params.logn);
  cJSON_AddNumberToObject(pr, "slots", (double)p->slots);
  cJSON_AddNumberToObject(pr, "log_qp", in.log_qp);
  cJSON *qb = cJSON_AddArrayToObject(pr, "q_bits"), *pb = cJSON_AddArrayToObject(pr, "p_bits");
  for (int i = 0; i < p->params.nq; i++) cJSON_AddItemToArray(qb, cJSON_CreateNumber(p->params.q_bits[i]));
  for (int i = 0; i < p->params.np; i++) cJSON_AddItemToArray(pb, cJSON_CreateNumber(p->params.p_bits[i]));
  cJSON_AddNumberToObject(pr, "dnum", pn_ckks_dnum(p->ckks));
  cJSON_AddNumberToObject(pr, "scale_bits", p->params.scale_bits);
  cJSON_AddBoolToObject(pr, "secure_128", !p->params.allow_insecure);
  cJSON_AddNumberToObject(o, "depth", in.depth);
  cJSON_AddNumberToObject(o, "levels", in.levels);
  cJSON_AddNumberToObject(o, "bootstraps", in.boots);
  cJSON *bo = cJSON_AddObjectToObject(o, "bootstrapping");
  cJSON_AddStringToObject(bo, "mode", in.real_boot ? "ciphertexts" : in.boots ? "simulated" : "none");
  cJSON_AddNumberToObject(bo, "input_level", p->boot_in);
  cJSON_AddNumberToObject(bo, "output_level", p->boot_out);
  cJSON_AddNumberToObject(bo, "log_slots", in.log_slots);
  cJSON_AddNumberToObject(bo, "rotation_keys", in.boot_rotation_keys);
  cJSON_AddNumberToObject(bo, "key_bytes_in_memory", in.boot_key_bytes);
  cJSON_AddNumberToObject(o, "rotation_keys", in.rotation_keys);
  cJSON_AddNumberToObject(o, "key_bytes_in_memory", in.key_bytes);
  cJSON *rk = cJSON_AddArrayToObject(o, "rotation_steps");
  for (int i = 0; i < p->n_rot; i++) cJSON_AddItemToArray(rk, cJSON_CreateNumber(p->rot[i]));
  cJSON_AddNumberToObject(o, "rotations", in.rotations);
  cJSON_AddNumberToObject(o, "modups", in.modups);
  cJSON_AddNumberToObject(o, "rotations_chained", in.rotations_chained);
  cJSON_AddNumberToObject(o, "pt_muls", (double)in.pt_muls);
  cJSON_AddNumberToObject(o, "ct_muls", (double)in.ct_muls);
  cJSON_AddNumberToObject(o, "est_seconds", in.est_seconds);
  cJSON *ls = cJSON_AddArrayToObject(o, "layers");
  int *ord = layer_order(p);
  for (int k = 0; k < p->n_layer; k++) {
    const struct fhe_layer *l = &p->layers[ord ? ord[k] : k];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "index", ord ? ord[k] : k);
    cJSON_AddStringToObject(e, "name", l->name);
    cJSON_AddStringToObject(e, "op", l->op);
    cJSON_AddStringToObject(e, "packing", l->packing);
    cJSON_AddNumberToObject(e, "level_in", l->level_in);
    cJSON_AddNumberToObject(e, "level_out", l->level_out);
    cJSON_AddNumberToObject(e, "rotations", l->rotations);
    cJSON_AddNumberToObject(e, "modups", l->modups);
    cJSON_AddNumberToObject(e, "rotations_chained", l->rot_first);
    cJSON_AddNumberToObject(e, "pt_muls", l->pt_muls);
    cJSON_AddNumberToObject(e, "ct_muls", l->ct_muls);
    cJSON_AddNumberToObject(e, "bootstraps", l->boots);
    cJSON_AddNumberToObject(e, "est_ms", l->est_ms);
    cJSON_AddItemToArray(ls, e);
  }
  free(ord);
  return o;
}

int pn_fhe_default_threads(void) {
  const char *env = getenv("OMP_NUM_THREADS");
  if (env && *env) return 0;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  double load[1];
  if (cores < 1) return 1;
  if (getloadavg(load, 1) != 1) return (int)cores;
  long idle = (long)floor((double)cores - load[0] + 0.5);
  return (int)(idle < 1 ? 1 : idle > cores ? cores : idle);
}
