/* fuzz_secret.c - libFuzzer target for the Proteus secret manifest (obf/obf.h): parsed JSON checked
** by pn_obf_secret_from_json. A manifest it accepts names at least one real part, each with a plain
** file name and its name maps. */
#include <cJSON.h>

#include "fuzz_common.h"
#include "obf/obf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *root = cJSON_ParseWithLength((const char *)data, size);
  if (!root) return 0;
  struct pn_ctx ctx = {0};
  struct pn_obf_secret s;
  int rc = pn_obf_secret_from_json(&ctx, "secret.json", root, &s);
  fz_check(&ctx, rc);
  if (rc == PN_OK) {
    if (s.n_parts < 1 || !s.model_path || !s.model_sha256) abort();
    for (int i = 0; i < s.n_parts; i++) {
      const struct pn_obf_join_part *p = &s.parts[i];
      if (!p->label || strchr(p->label, '/') || p->n_in > p->io.n) abort();
      for (int k = 0; k < p->io.n; k++)
        if (!p->io.from[k] || !p->io.to[k]) abort();
    }
    pn_obf_secret_free(&s);
  }
  return 0;
}
