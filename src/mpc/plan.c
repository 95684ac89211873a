/* plan.c - HummingBird plans: per ReLU node the share bit range [k, m), as JSON. */
#include <cJSON.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpc/runner.h"
#include "util/report.h"
#include "util/status.h"

int pn_mpc_plan_add(struct pn_mpc_plan *p, const char *node, int k, int m) {
  if (p->n == p->cap) {
    int cap = p->cap ? 2 * p->cap : 16;
    struct pn_mpc_plan_item *it = realloc(p->items, (size_t)cap * sizeof *it);
    if (!it) return PN_ERR_NOMEM;
    p->items = it;
    p->cap = cap;
  }
  char *s = strdup(node);
  if (!s) return PN_ERR_NOMEM;
  if (pn_strmap_put(&p->index, s, p->n)) {
    free(s);
    return PN_ERR_NOMEM;
  }
  p->items[p->n].node = s;
  p->items[p->n].k = k;
  p->items[p->n].m = m;
  p->n++;
  return PN_OK;
}

void pn_mpc_plan_free(struct pn_mpc_plan *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) free(p->items[i].node);
  free(p->items);
  pn_strmap_free(&p->index);
  memset(p, 0, sizeof *p);
}

const struct pn_mpc_plan_item *pn_mpc_plan_find(const struct pn_mpc_plan *p, const char *node) {
  if (!p || !node) return NULL;
  int i = pn_strmap_get(&p->index, node, -1);
  return i >= 0 ? &p->items[i] : NULL;
}

/* A JSON number that is an integer in [0, 64] (a bit index), else -1. Checked as a double before
** any conversion: (int) of a number out of int's range is undefined (found by fuzz_plan). */
static int bit_index(const cJSON *v) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 64) ||
      v->valuedouble != floor(v->valuedouble))
    return -1;
  return (int)v->valuedouble;
}

int pn_mpc_plan_load(struct pn_ctx *ctx, const char *path, struct pn_mpc_plan *plan) {
  memset(plan, 0, sizeof *plan);
  cJSON *root = NULL;
  int rc = pn_json_read(ctx, path, 16u << 20, &root);
  if (rc) return rc;
  const cJSON *arr = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "relus");
  if (!cJSON_IsArray(arr)) {
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: expected an array \"relus\" of {node, k, m}", path);
    goto out;
  }
  int i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    const cJSON *nd = cJSON_GetObjectItemCaseSensitive(e, "node");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "k");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "m");
    if (!cJSON_IsString(nd) || !nd->valuestring[0]) {
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: relus[%d]: \"node\" must be a non-empty string", path, i);
      goto out;
    }
    int kb = bit_index(k), mb = bit_index(m);
    if (kb < 0 || mb < 0 || kb > mb) {
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: relus[%d] '%s': k and m must be integers with "
                  "0 <= k <= m <= 64", path, i, nd->valuestring);
      goto out;
    }
    if (pn_mpc_plan_find(plan, nd->valuestring)) {
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: relus[%d]: node '%s' appears twice", path, i,
                  nd->valuestring);
      goto out;
    }
    if (pn_mpc_plan_add(plan, nd->valuestring, kb, mb)) {
      rc = pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path);
      goto out;
    }
    i++;
  }
out:
  cJSON_Delete(root);
  if (rc) pn_mpc_plan_free(plan);
  return rc;
}

int pn_mpc_plan_save(struct pn_ctx *ctx, const char *path, const struct pn_mpc_plan *plan,
                     const void *extra) {
  cJSON *root = extra ? cJSON_Duplicate((const cJSON *)extra, 1) : cJSON_CreateObject();
  cJSON *arr = cJSON_CreateArray();
  if (!root || !arr) {
    cJSON_Delete(root);
    cJSON_Delete(arr);
    return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", path);
  }
  for (int i = 0; i < plan->n; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "node", plan->items[i].node);
    cJSON_AddNumberToObject(e, "k", plan->items[i].k);
    cJSON_AddNumberToObject(e, "m", plan->items[i].m);
    cJSON_AddItemToArray(arr, e);
  }
  cJSON_AddItemToObject(root, "relus", arr);
  int rc = pn_json_write(ctx, path, root, 0644);
  cJSON_Delete(root);
  return rc;
}

void pn_mpc_plan_hash(const struct pn_mpc_plan *plan, uint8_t out[32]) {
  EVP_MD_CTX *h = EVP_MD_CTX_new();
  unsigned len = 0;
  EVP_DigestInit_ex(h, EVP_sha256(), NULL);
  EVP_DigestUpdate(h, "privnn-plan-v1\n", 15);
  for (int i = 0; plan && i < plan->n; i++) {
    char line[64];
    EVP_DigestUpdate(h, plan->items[i].node, strlen(plan->items[i].node));
    int l = snprintf(line, sizeof line, " %d %d\n", plan->items[i].k, plan->items[i].m);
    EVP_DigestUpdate(h, line, (size_t)l);
  }
  EVP_DigestFinal_ex(h, out, &len);
  EVP_MD_CTX_free(h);
}
