/* keys.c - what client and server exchange: the spec, keys, queries and results, and their file format.
**
** Every object is a container: "PNFH" | u16 version 1 | u16 type | 32-byte program hash | u64 payload
** length | payload (little-endian). The hash names one compiled program (model weights, packing and
** parameters); the CKKS objects inside carry the parameter fingerprint and are checked by src/ckks's
** loaders. Loading checks magic, version, type, hash, exact lengths and every field's range before
** anything is used, and names the field at fault (PN_ERR_CORRUPT), or says the object belongs to
** another model or parameters (PN_ERR_MISMATCH).
**
**   SPEC    model name, CKKS parameters, rotation steps, input/output shapes, slot maps and factors,
**           input level, the input's copies: everything a client needs, nothing secret (the server sends it).
**   SECRET  the secret key (client only; written 0600 by the CLI, wiped on free).
**   EVAL    relinearisation key + Galois keys of exactly the spec's rotations (for the server), and the
**           bootstrapping keys when the program bootstraps (empty blob otherwise).
**   QUERY   one encrypted input; RESULT one encrypted output. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fhe/fhe_impl.h"
#include "fhe/fhe_keys.h"
#include "util/bytes.h"
#include "util/fileio.h"
#include "util/status.h"
#include "util/wipe.h"

#define OBJ_MAGIC 0x48464e50u /* "PNFH" */
#define OBJ_VERSION 3 /* 2: the spec's slots and bootstrapping parameters, bootstrapping keys in EVAL; 3: the
                      ** input's copies in the spec */
#define OBJ_HDR 48
#define MAX_ELEMS ((int64_t)1 << 24)

static const char *const obj_names[PN_FHE_OBJ_COUNT] = {"?", "spec", "secret key", "evaluation keys", "query",
                                                        "result"};

const char *pn_fhe_obj_name(int type) { return type > 0 && type < PN_FHE_OBJ_COUNT ? obj_names[type] : "?"; }

int pn_fhe_obj_wrap(struct pn_ctx *ctx, int type, const uint8_t hash[32], const uint8_t *payload, size_t plen,
                    uint8_t **buf, size_t *len) {
  uint8_t *b = malloc(OBJ_HDR + plen);
  if (!b) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  pn_put_le32(b, OBJ_MAGIC);
  b[4] = OBJ_VERSION, b[5] = 0;
  b[6] = (uint8_t)type, b[7] = 0;
  memcpy(b + 8, hash, 32);
  pn_put_le64(b + 40, plen);
  if (plen) memcpy(b + OBJ_HDR, payload, plen);
  *buf = b;
  *len = OBJ_HDR + plen;
  return PN_OK;
}

/* The 48 header bytes of an object whose payload is plen bytes (a buffer's rest, or a frame's). */
static int obj_header(struct pn_ctx *ctx, const uint8_t *buf, uint64_t plen, int *type, uint8_t hash[32]) {
  if (pn_get_le32(buf) != OBJ_MAGIC)
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: not a privnn FHE object (bad magic or shorter than its header)");
  if (buf[4] != OBJ_VERSION || buf[5])
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: object version %u (this build reads %d)", buf[4] | buf[5] << 8, OBJ_VERSION);
  if (buf[7] || buf[6] < 1 || buf[6] >= PN_FHE_OBJ_COUNT)
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: unknown object type %u", buf[6] | buf[7] << 8);
  if (pn_get_le64(buf + 40) != plen)
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: %s: payload of %llu bytes, the object holds %llu (truncated or padded)",
                  obj_names[buf[6]], (unsigned long long)pn_get_le64(buf + 40), (unsigned long long)plen);
  *type = buf[6];
  if (hash) memcpy(hash, buf + 8, 32);
  return PN_OK;
}

int pn_fhe_obj_peek(struct pn_ctx *ctx, const uint8_t *buf, size_t len, int *type, uint8_t hash[32]) {
  if (len < OBJ_HDR) return pn_err(ctx, PN_ERR_CORRUPT, "fhe: not a privnn FHE object (bad magic or shorter than its header)");
  return obj_header(ctx, buf, len - OBJ_HDR, type, hash);
}

/* The payload of an object of `type` made for program `hash` (NULL: any). */
static int obj_open(struct pn_ctx *ctx, const uint8_t *buf, size_t len, int type, const uint8_t *hash,
                    const uint8_t **pl, size_t *plen) {
  int t = 0, rc; /* set by pn_fhe_obj_peek on success; the initialiser quiets gcc -O2 -Wmaybe-uninitialized */
  uint8_t h[32];
  if ((rc = pn_fhe_obj_peek(ctx, buf, len, &t, h))) return rc;
  if (t != type)
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: expected a %s, got a %s", obj_names[type], obj_names[t]);
  if (hash && memcmp(hash, h, 32))
    return pn_err(ctx, PN_ERR_MISMATCH, "fhe: %s made for another model or parameters (program hash differs)",
                  obj_names[type]);
  *pl = buf + OBJ_HDR;
  *plen = len - OBJ_HDR;
  return PN_OK;
}

/* ---- a bounded reader and a growing writer ---- */
struct rd {
  const uint8_t *p;
  size_t n, at;
  int bad;
  const char *field;
};
static const uint8_t *rd_take(struct rd *r, size_t k, const char *field) {
  if (r->bad) return NULL;
  if (k > r->n - r->at) {
    r->bad = 1;
    r->field = field;
    return NULL;
  }
  const uint8_t *q = r->p + r->at;
  r->at += k;
  return q;
}
static uint64_t rd_u64(struct rd *r, const char *f) {
  const uint8_t *q = rd_take(r, 8, f);
  return q ? pn_get_le64(q) : 0;
}
static uint32_t rd_u32(struct rd *r, const char *f) {
  const uint8_t *q = rd_take(r, 4, f);
  return q ? pn_get_le32(q) : 0;
}
static double rd_f64(struct rd *r, const char *f) {
  uint64_t b = rd_u64(r, f);
  double d;
  memcpy(&d, &b, 8);
  return d;
}

struct wr {
  uint8_t *p;
  size_t n, cap;
  int bad;
};
static void wr_put(struct wr *w, const void *src, size_t k) {
  if (w->bad || k == 0) return; /* an empty blob may come with src == NULL: memcpy must not see it */
  if (w->n + k > w->cap) {
    size_t nc = (w->n + k) * 2 + 64;
    uint8_t *q = realloc(w->p, nc);
    if (!q) {
      w->bad = 1;
      return;
    }
    w->p = q;
    w->cap = nc;
  }
  memcpy(w->p + w->n, src, k);
  w->n += k;
}
static void wr_u64(struct wr *w, uint64_t v) {
  uint8_t b[8];
  pn_put_le64(b, v);
  wr_put(w, b, 8);
}
static void wr_u32(struct wr *w, uint32_t v) {
  uint8_t b[4];
  pn_put_le32(b, v);
  wr_put(w, b, 4);
}
static void wr_f64(struct wr *w, double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  wr_u64(w, b);
}
static void wr_blob(struct wr *w, const uint8_t *b, size_t k) {
  wr_u64(w, k);
  wr_put(w, b, k);
}

/* ---- spec ---- */

void pn_fhe_spec_free(struct pn_fhe_spec *s) {
  if (!s) return;
  pn_ckks_context_free(s->ckks);
  free(s->rot);
  free(s->in_slot);
  free(s->out_slot);
  free(s);
}

static int spec_finish(struct pn_ctx *ctx, struct pn_fhe_spec *s) {
  int rc = pn_ckks_context_new(ctx, &s->params, &s->ckks);
  if (rc) return rc;
  if (s->log_slots < 1 || ((size_t)1 << s->log_slots) > pn_ckks_slots(s->ckks))
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: spec: 2^%d program slots do not fit N = %zu", s->log_slots,
                  pn_ckks_n(s->ckks));
  if (s->has_boot) {
    struct pn_ckks_boot_params *b = &s->boot;
    if (b->logslots != s->log_slots)
      return pn_err(ctx, PN_ERR_CORRUPT, "fhe: spec: bootstrapping on 2^%d slots, the program has 2^%d", b->logslots,
                    s->log_slots);
    int steps[1];
    if ((rc = pn_ckks_boot_rotations(ctx, s->ckks, b, steps, NULL, 0)) < 0) {
      pn_err_prefix(ctx, "fhe: spec: bootstrapping parameters");
      return rc == PN_ERR_INVALID ? PN_ERR_CORRUPT : rc;
    }
    rc = PN_OK;
  }
  int64_t slots = (int64_t)1 << s->log_slots;
  if (s->in_level < 0 || s->in_level > pn_ckks_max_level(s->ckks))
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: spec: input level %d outside the parameters' 0..%d", s->in_level,
                  pn_ckks_max_level(s->ckks));
  for (int i = 0; i < s->n_rot; i++)
    if (s->rot[i] <= 0 || s->rot[i] >= slots || (i && s->rot[i] <= s->rot[i - 1]))
      return pn_err(ctx, PN_ERR_CORRUPT, "fhe: spec: rotation step %d is not in (0, %lld) or not ascending", s->rot[i],
                    (long long)slots);
  if (s->in_rep < 1 || s->in_rep > slots || (s->in_rep == 1) != (s->in_rep_stride == 0) || s->in_rep_stride < 0 ||
      s->in_rep_stride >= slots)
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: spec: %d input copies %lld slots apart in %lld slots", s->in_rep,
                  (long long)s->in_rep_stride, (long long)slots);
  for (int w = 0; w < 2; w++) {
    const int32_t *sl = w ? s->out_slot : s->in_slot;
    int64_t n = w ? s->n_out : s->n_in;
    int nrep = w ? 1 : s->in_rep;
    uint8_t *mark = calloc((size_t)slots, 1);
    if (!mark) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
    for (int t = 0; t < nrep; t++)
      for (int64_t i = 0; i < n; i++) {
        int64_t sv = sl[i] + t * (w ? 0 : s->in_rep_stride);
        if (sl[i] < 0 || sv >= slots || mark[sv]) {
          free(mark);
          return pn_err(ctx, PN_ERR_CORRUPT, "fhe: spec: %s slot map entry %lld (%d, copy %d) is out of range or "
                        "repeated", w ? "output" : "input", (long long)i, sl[i], t);
        }
        mark[sv] = 1;
      }
    free(mark);
  }
  if (!(s->in_factor > 0) || !(s->out_factor > 0) || !isfinite(s->in_factor) || !isfinite(s->out_factor))
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: spec: input/output factors must be positive");
  return PN_OK;
}

int pn_fhe_plan_spec(struct pn_ctx *ctx, const struct pn_fhe_plan *p, struct pn_fhe_spec **out) {
  *out = NULL;
  struct pn_fhe_spec *s = calloc(1, sizeof *s);
  if (!s) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  snprintf(s->name, sizeof s->name, "%s", p->model_name);
  memcpy(s->hash, p->model_hash, 32);
  s->params = p->params;
  const struct fhe_layout *li = &p->layouts[p->in_layout], *lo = &p->layouts[p->out_layout];
  s->n_rot = p->n_rot;
  s->n_in = li->n;
  s->n_out = lo->n;
  s->rot = malloc((size_t)(p->n_rot + 1) * sizeof *s->rot);
  s->in_slot = malloc((size_t)li->n * sizeof *s->in_slot);
  s->out_slot = malloc((size_t)lo->n * sizeof *s->out_slot);
  if (!s->rot || !s->in_slot || !s->out_slot) {
    pn_fhe_spec_free(s);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  }
  memcpy(s->rot, p->rot, (size_t)p->n_rot * sizeof *s->rot);
  memcpy(s->in_slot, li->slot, (size_t)li->n * sizeof *s->in_slot);
  memcpy(s->out_slot, lo->slot, (size_t)lo->n * sizeof *s->out_slot);
  s->in_factor = p->in_factor;
  s->out_factor = p->out_factor;
  s->in_rep = li->rep > 1 ? li->rep : 1;
  s->in_rep_stride = li->rep > 1 ? li->rep_stride : 0;
  s->log_slots = p->log_slots;
  s->has_boot = p->real_boot;
  s->boot = p->bp;
  s->in_level = p->reg[p->in_reg].level;
  s->in_ndim = p->in_ndim;
  s->out_ndim = p->out_ndim;
  memcpy(s->in_dims, p->in_dims, sizeof s->in_dims);
  memcpy(s->out_dims, p->out_dims, sizeof s->out_dims);
  int rc = spec_finish(ctx, s);
  if (rc) {
    pn_fhe_spec_free(s);
    return rc;
  }
  *out = s;
  return PN_OK;
}

int pn_fhe_spec_save(struct pn_ctx *ctx, const struct pn_fhe_spec *s, uint8_t **buf, size_t *len) {
  struct wr w = {0};
  uint8_t *pb = NULL;
  size_t pl;
  int rc = pn_ckks_save_params(ctx, &s->params, &pb, &pl);
  if (rc) return rc;
  size_t nl = strlen(s->name);
  wr_blob(&w, (const uint8_t *)s->name, nl);
  wr_blob(&w, pb, pl);
  free(pb);
  wr_u32(&w, (uint32_t)s->n_rot);
  for (int i = 0; i < s->n_rot; i++) wr_u32(&w, (uint32_t)s->rot[i]);
  wr_u32(&w, (uint32_t)s->in_level);
  for (int side = 0; side < 2; side++) {
    int nd = side ? s->out_ndim : s->in_ndim;
    const int64_t *d = side ? s->out_dims : s->in_dims;
    int64_t n = side ? s->n_out : s->n_in;
    const int32_t *sl = side ? s->out_slot : s->in_slot;
    wr_u32(&w, (uint32_t)nd);
    for (int i = 0; i < nd; i++) wr_u64(&w, (uint64_t)d[i]);
    wr_u64(&w, (uint64_t)n);
    for (int64_t i = 0; i < n; i++) wr_u32(&w, (uint32_t)sl[i]);
    wr_f64(&w, side ? s->out_factor : s->in_factor);
  }
  wr_u32(&w, (uint32_t)s->log_slots);
  wr_u32(&w, (uint32_t)s->has_boot);
  const struct pn_ckks_boot_params *b = &s->boot;
  int32_t bw[8] = {b->logslots, b->stc_levels, b->cts_levels, b->eph_weight, b->eph_base_bits, b->cos_degree,
                   b->double_angles, b->arcsine_degree};
  for (int i = 0; i < 8; i++) wr_u32(&w, (uint32_t)(s->has_boot ? bw[i] : 0));
  wr_u32(&w, (uint32_t)s->in_rep);
  wr_u64(&w, (uint64_t)s->in_rep_stride);
  if (w.bad) {
    free(w.p);
    return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  }
  rc = pn_fhe_obj_wrap(ctx, PN_FHE_OBJ_SPEC, s->hash, w.p, w.n, buf, len);
  free(w.p);
  return rc;
}

int pn_fhe_spec_load(struct pn_ctx *ctx, const uint8_t *buf, size_t len, int allow_insecure,
                     struct pn_fhe_spec **out) {
  *out = NULL;
  const uint8_t *pl = NULL;
  size_t plen = 0;
  int rc = obj_open(ctx, buf, len, PN_FHE_OBJ_SPEC, NULL, &pl, &plen);
  if (rc) return rc;
  struct pn_fhe_spec *s = calloc(1, sizeof *s);
  if (!s) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  memcpy(s->hash, buf + 8, 32);
  struct rd r = {pl, plen, 0, 0, NULL};
  uint64_t nl = rd_u64(&r, "name length");
  if (!r.bad && nl >= sizeof s->name) r.bad = 1, r.field = "name length";
  const uint8_t *nm = rd_take(&r, (size_t)nl, "name");
  if (nm) memcpy(s->name, nm, (size_t)nl);
  uint64_t ppl = rd_u64(&r, "parameters length");
  const uint8_t *pp = rd_take(&r, (size_t)ppl, "parameters");
  if (!r.bad && (rc = pn_ckks_load_params(ctx, pp, (size_t)ppl, &s->params))) {
    pn_err_prefix(ctx, "fhe: spec");
    pn_fhe_spec_free(s);
    return rc;
  }
  s->params.allow_insecure = allow_insecure != 0;
  uint32_t nrot = rd_u32(&r, "rotation count");
  if (!r.bad && (nrot > (1u << 16) || nrot * 4ull > r.n - r.at)) r.bad = 1, r.field = "rotation count";
  if (!r.bad && !(s->rot = malloc((size_t)(nrot + 1) * sizeof *s->rot))) r.bad = 2;
  s->n_rot = (int)nrot;
  for (uint32_t i = 0; i < nrot && !r.bad; i++) s->rot[i] = (int)rd_u32(&r, "rotation steps");
  s->in_level = (int)rd_u32(&r, "input level");
  for (int side = 0; side < 2 && !r.bad; side++) {
    uint32_t nd = rd_u32(&r, "rank");
    if (!r.bad && (nd < 1 || nd > PN_MAX_DIMS)) r.bad = 1, r.field = "rank";
    int64_t *d = side ? s->out_dims : s->in_dims, prod = 1;
    for (uint32_t i = 0; i < nd && !r.bad; i++) {
      d[i] = (int64_t)rd_u64(&r, "dims");
      if (d[i] < 1 || d[i] > MAX_ELEMS || (prod *= d[i]) > MAX_ELEMS) r.bad = 1, r.field = "dims";
    }
    uint64_t n = rd_u64(&r, "slot map length");
    if (!r.bad && ((int64_t)n != prod || n * 4 > r.n - r.at)) r.bad = 1, r.field = "slot map length";
    int32_t *sl = r.bad ? NULL : malloc((size_t)n * sizeof *sl);
    if (!r.bad && !sl) r.bad = 2;
    for (uint64_t i = 0; i < n && !r.bad; i++) sl[i] = (int32_t)rd_u32(&r, "slot map");
    double f = rd_f64(&r, "factor");
    if (side) s->out_ndim = (int)nd, s->n_out = (int64_t)n, s->out_slot = sl, s->out_factor = f;
    else s->in_ndim = (int)nd, s->n_in = (int64_t)n, s->in_slot = sl, s->in_factor = f;
  }
  s->log_slots = (int)rd_u32(&r, "slots");
  if (!r.bad && (s->log_slots < 1 || s->log_slots > PN_CKKS_MAX_LOGN)) r.bad = 1, r.field = "slots";
  uint32_t hb = rd_u32(&r, "bootstrapping flag");
  if (!r.bad && hb > 1) r.bad = 1, r.field = "bootstrapping flag";
  s->has_boot = (int)hb;
  int32_t bw[8];
  for (int i = 0; i < 8; i++) {
    bw[i] = (int32_t)rd_u32(&r, "bootstrapping parameters");
    if (!r.bad && (bw[i] < 0 || bw[i] > 1 << 16 || (!hb && bw[i]))) r.bad = 1, r.field = "bootstrapping parameters";
  }
  s->boot = (struct pn_ckks_boot_params){bw[0], bw[1], bw[2], bw[3], bw[4], bw[5], bw[6], bw[7]};
  uint32_t nrep = rd_u32(&r, "input copies");
  uint64_t rst = rd_u64(&r, "input copy stride");
  if (!r.bad && (nrep < 1 || nrep > 1u << PN_CKKS_MAX_LOGN)) r.bad = 1, r.field = "input copies";
  if (!r.bad && rst > (uint64_t)1 << PN_CKKS_MAX_LOGN) r.bad = 1, r.field = "input copy stride";
  s->in_rep = (int)nrep;
  s->in_rep_stride = (int64_t)rst;
  if (!r.bad && r.at != r.n) r.bad = 1, r.field = "trailing bytes";
  if (r.bad) {
    pn_fhe_spec_free(s);
    if (r.bad == 2) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: spec: field '%s' truncated or out of range", r.field);
  }
  if ((rc = spec_finish(ctx, s))) {
    pn_fhe_spec_free(s);
    return rc;
  }
  *out = s;
  return PN_OK;
}

/* ---- client ---- */

void pn_fhe_client_free(struct pn_fhe_client *c) {
  if (!c) return;
  pn_ckks_sk_free(c->sk);
  pn_prg_free(&c->prg);
  free(c);
}

static int client_new(struct pn_ctx *ctx, const struct pn_fhe_spec *s, struct pn_fhe_client **out) {
  struct pn_fhe_client *c = calloc(1, sizeof *c);
  if (!c) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  c->spec = s;
  int rc = pn_prg_init_os(ctx, &c->prg);
  if (rc) {
    free(c);
    return rc;
  }
  *out = c;
  return PN_OK;
}

int pn_fhe_client_keygen(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const uint8_t *seed,
                         struct pn_fhe_client **out) {
  *out = NULL;
  struct pn_fhe_client *c = NULL;
  int rc = client_new(ctx, s, &c);
  if (rc) return rc;
  if (seed) {
    pn_prg_free(&c->prg);
    if ((rc = pn_prg_init(ctx, &c->prg, seed))) {
      free(c);
      return rc;
    }
  }
  if ((rc = pn_ckks_keygen_secret(ctx, s->ckks, &c->prg, &c->sk))) {
    pn_fhe_client_free(c);
    return rc;
  }
  *out = c;
  return PN_OK;
}

int pn_fhe_client_save_secret(struct pn_ctx *ctx, const struct pn_fhe_client *c, uint8_t **buf, size_t *len) {
  uint8_t *kb;
  size_t kl;
  int rc = pn_ckks_save_sk(ctx, c->spec->ckks, c->sk, &kb, &kl);
  if (rc) return rc;
  rc = pn_fhe_obj_wrap(ctx, PN_FHE_OBJ_SECRET, c->spec->hash, kb, kl, buf, len);
  pn_wipe_free(kb, kl);
  return rc;
}

int pn_fhe_client_load(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const uint8_t *buf, size_t len,
                       struct pn_fhe_client **out) {
  *out = NULL;
  const uint8_t *pl = NULL;
  size_t plen = 0;
  int rc = obj_open(ctx, buf, len, PN_FHE_OBJ_SECRET, s->hash, &pl, &plen);
  if (rc) return rc;
  struct pn_fhe_client *c = NULL;
  if ((rc = client_new(ctx, s, &c))) return rc;
  if ((rc = pn_ckks_load_sk(ctx, s->ckks, pl, plen, &c->sk))) {
    pn_err_prefix(ctx, "fhe: secret key");
    pn_fhe_client_free(c);
    return rc;
  }
  *out = c;
  return PN_OK;
}

void pn_fhe_evk_free(struct pn_fhe_evk *k) {
  if (!k) return;
  pn_ckks_swk_free(k->rk);
  pn_ckks_gk_free(k->gk);
  pn_ckks_boot_keys_free(k->bk);
  free(k);
}

int pn_fhe_client_evk(struct pn_ctx *ctx, struct pn_fhe_client *c, struct pn_fhe_evk **out) {
  *out = NULL;
  const struct pn_fhe_spec *s = c->spec;
  struct pn_fhe_evk *k = calloc(1, sizeof *k);
  if (!k) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  memcpy(k->hash, s->hash, 32);
  int rc = pn_ckks_keygen_relin(ctx, s->ckks, c->sk, &c->prg, &k->rk);
  if (!rc) rc = pn_ckks_keygen_galois(ctx, s->ckks, c->sk, s->rot, s->n_rot, 0, &c->prg, &k->gk);
  if (!rc && s->has_boot) rc = pn_ckks_boot_keygen(ctx, s->ckks, &s->boot, c->sk, &c->prg, &k->bk);
  if (rc) {
    pn_fhe_evk_free(k);
    return rc;
  }
  *out = k;
  return PN_OK;
}

/* The EVAL object: container header | u64 length + the relinearisation key | u64 length + the Galois keys |
** u64 length + the bootstrapping keys (0 bytes without bootstrapping). Lengths are computed up front, so it
** streams: one key record at a time (pn_ckks_write_gk / _boot_keys), never a second copy of the keys. */
static int evk_parts(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const struct pn_fhe_evk *k, size_t part[3]) {
  if (s->has_boot != (k->bk != NULL))
    return pn_err(ctx, PN_ERR_INVALID, "fhe: evaluation keys %s bootstrapping keys, the spec %s them",
                  k->bk ? "hold" : "lack", s->has_boot ? "needs" : "has no use for");
  part[0] = pn_ckks_swk_saved_bytes(s->ckks, k->rk);
  part[1] = pn_ckks_gk_saved_bytes(s->ckks, k->gk);
  part[2] = k->bk ? pn_ckks_boot_keys_saved_bytes(s->ckks, k->bk) : 0;
  return PN_OK;
}

size_t pn_fhe_evk_bytes(const struct pn_fhe_spec *s, const struct pn_fhe_evk *k) {
  struct pn_ctx sub = {0};
  size_t part[3] = {0, 0, 0};
  if (evk_parts(&sub, s, k, part)) return 0;
  return OBJ_HDR + 24 + part[0] + part[1] + part[2];
}

size_t pn_fhe_evk_memory_bytes(const struct pn_fhe_spec *s, const struct pn_fhe_evk *k) {
  return pn_ckks_keys_memory_bytes(k->rk, k->gk) + (k->bk ? pn_ckks_boot_keys_bytes(s->ckks, k->bk, 0) : 0);
}

int pn_fhe_evk_write(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const struct pn_fhe_evk *k, pn_ckks_put_fn put,
                     void *arg) {
  size_t part[3] = {0, 0, 0};
  int rc = evk_parts(ctx, s, k, part);
  if (rc) return rc;
  uint8_t h[OBJ_HDR + 8], *a = NULL;
  size_t al = 0;
  const uint64_t plen = 24 + part[0] + part[1] + part[2];
  pn_put_le32(h, OBJ_MAGIC);
  h[4] = OBJ_VERSION, h[5] = 0;
  h[6] = PN_FHE_OBJ_EVAL, h[7] = 0;
  memcpy(h + 8, k->hash, 32);
  pn_put_le64(h + 40, plen);
  pn_put_le64(h + OBJ_HDR, part[0]);
  if ((rc = pn_ckks_save_swk(ctx, s->ckks, k->rk, &a, &al))) return rc; /* one key: small */
  if (al != part[0]) rc = pn_err(ctx, PN_ERR_INVALID, "fhe: relinearisation key of %zu bytes, computed %zu", al, part[0]);
  if (!rc) rc = put(ctx, arg, h, sizeof h);
  if (!rc) rc = put(ctx, arg, a, al);
  free(a);
  for (int i = 1; i < 3 && !rc; i++) {
    uint8_t l[8];
    pn_put_le64(l, part[i]);
    if ((rc = put(ctx, arg, l, 8))) break;
    if (i == 1) rc = pn_ckks_write_gk(ctx, s->ckks, k->gk, put, arg);
    else if (k->bk) rc = pn_ckks_write_boot_keys(ctx, s->ckks, k->bk, put, arg);
  }
  return rc;
}

struct evk_mem {
  uint8_t *p;
  size_t len, cap;
};
static int evk_mem_put(struct pn_ctx *ctx, void *arg, const void *bytes, size_t n) {
  struct evk_mem *m = arg;
  if (n > m->cap - m->len) return pn_err(ctx, PN_ERR_INVALID, "fhe: evaluation keys longer than computed");
  memcpy(m->p + m->len, bytes, n);
  m->len += n;
  return PN_OK;
}

int pn_fhe_evk_save(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const struct pn_fhe_evk *k, uint8_t **buf,
                    size_t *len) {
  *buf = NULL;
  *len = 0;
  size_t part[3] = {0, 0, 0};
  int rc = evk_parts(ctx, s, k, part);
  if (rc) return rc;
  struct evk_mem m = {NULL, 0, OBJ_HDR + 24 + part[0] + part[1] + part[2]};
  if (!(m.p = malloc(m.cap))) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory (%zu bytes of keys)", m.cap);
  rc = pn_fhe_evk_write(ctx, s, k, evk_mem_put, &m);
  if (!rc && m.len != m.cap) rc = pn_err(ctx, PN_ERR_INVALID, "fhe: evaluation keys of %zu bytes, computed %zu", m.len, m.cap);
  if (rc) {
    free(m.p);
    return rc;
  }
  *buf = m.p;
  *len = m.len;
  return PN_OK;
}

int fhe_evk_check(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const struct pn_fhe_evk *k) {
  if (!k || memcmp(k->hash, p->model_hash, 32))
    return pn_err(ctx, PN_ERR_MISMATCH, "fhe: evaluation keys made for another model or parameters");
  for (int i = 0; i < p->n_rot; i++)
    if (!pn_ckks_gk_has(p->ckks, k->gk, p->rot[i]))
      return pn_err(ctx, PN_ERR_MISMATCH, "fhe: the evaluation keys lack the rotation by %d the model needs", p->rot[i]);
  return PN_OK;
}

int pn_fhe_evk_load(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const uint8_t *buf, size_t len,
                    struct pn_fhe_evk **out) {
  *out = NULL;
  const uint8_t *pl = NULL;
  size_t plen = 0;
  int rc = obj_open(ctx, buf, len, PN_FHE_OBJ_EVAL, p->model_hash, &pl, &plen);
  if (rc) return rc;
  struct rd r = {pl, plen, 0, 0, NULL};
  uint64_t al = rd_u64(&r, "relinearisation key length");
  const uint8_t *a = rd_take(&r, (size_t)al, "relinearisation key");
  uint64_t bl = rd_u64(&r, "Galois keys length");
  const uint8_t *b = rd_take(&r, (size_t)bl, "Galois keys");
  uint64_t cl = rd_u64(&r, "bootstrapping keys length");
  const uint8_t *c = rd_take(&r, (size_t)cl, "bootstrapping keys");
  if (!r.bad && (cl != 0) != (p->real_boot != 0)) r.bad = 1, r.field = "bootstrapping keys length";
  if (!r.bad && r.at != r.n) r.bad = 1, r.field = "trailing bytes";
  if (r.bad) return pn_err(ctx, PN_ERR_CORRUPT, "fhe: evaluation keys: field '%s' truncated or out of range", r.field);
  struct pn_fhe_evk *k = calloc(1, sizeof *k);
  if (!k) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  memcpy(k->hash, p->model_hash, 32);
  if ((rc = pn_ckks_load_swk(ctx, p->ckks, a, (size_t)al, &k->rk)) ||
      (rc = pn_ckks_load_gk(ctx, p->ckks, b, (size_t)bl, &k->gk)) ||
      (p->real_boot && (rc = pn_ckks_load_boot_keys(ctx, p->ckks, &p->bp, c, (size_t)cl, &k->bk))) ||
      (rc = fhe_evk_check(ctx, p, k))) {
    pn_err_prefix(ctx, "fhe: evaluation keys");
    pn_fhe_evk_free(k);
    return rc;
  }
  *out = k;
  return PN_OK;
}

/* Streamed: one part of the EVAL payload (its u64 length read first) as a source of its own, so a CKKS object
** that claims more bytes than its part (or leaves some) is refused. */
struct evk_part {
  pn_ckks_get_fn get;
  void *arg;
  uint64_t left;
  const char *name;
};
static int evk_part_get(struct pn_ctx *ctx, void *arg, void *bytes, size_t n) {
  struct evk_part *pt = arg;
  if (n > pt->left)
    return pn_err(ctx, PN_ERR_CORRUPT, "the %s run past their declared length", pt->name);
  pt->left -= n;
  return pt->get(ctx, pt->arg, bytes, n);
}

/* The next part's length, checked against what the object still holds. */
static int evk_part_open(struct pn_ctx *ctx, pn_ckks_get_fn get, void *arg, uint64_t *left, const char *name,
                         struct evk_part *pt) {
  uint8_t b[8];
  int rc = *left < 8 ? pn_err(ctx, PN_ERR_CORRUPT, "field '%s length' truncated", name)
                     : get(ctx, arg, b, 8);
  if (rc) return rc;
  *left -= 8;
  uint64_t n = pn_get_le64(b);
  if (n > *left)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: %llu bytes declared, the object holds %llu more", name,
                  (unsigned long long)n, (unsigned long long)*left);
  *left -= n;
  *pt = (struct evk_part){get, arg, n, name};
  return PN_OK;
}
static int evk_part_close(struct pn_ctx *ctx, int rc, const struct evk_part *pt) {
  if (!rc && pt->left)
    rc = pn_err(ctx, PN_ERR_CORRUPT, "the %s end %llu bytes before their declared length",
                pt->name, (unsigned long long)pt->left);
  return rc;
}

int pn_fhe_evk_read(struct pn_ctx *ctx, const struct pn_fhe_plan *p, pn_ckks_get_fn get, void *arg, uint64_t len,
                    struct pn_fhe_evk **out) {
  *out = NULL;
  uint8_t h[OBJ_HDR];
  if (len < OBJ_HDR) return pn_err(ctx, PN_ERR_CORRUPT, "fhe: not a privnn FHE object (shorter than its header)");
  int rc = get(ctx, arg, h, OBJ_HDR), t = 0;
  if (rc) return rc;
  uint8_t hash[32];
  if ((rc = obj_header(ctx, h, len - OBJ_HDR, &t, hash))) return rc;
  if (t != PN_FHE_OBJ_EVAL)
    return pn_err(ctx, PN_ERR_CORRUPT, "fhe: expected a %s, got a %s", obj_names[PN_FHE_OBJ_EVAL], obj_names[t]);
  if (memcmp(hash, p->model_hash, 32))
    return pn_err(ctx, PN_ERR_MISMATCH, "fhe: %s made for another model or parameters (program hash differs)",
                  obj_names[PN_FHE_OBJ_EVAL]);
  uint64_t left = len - OBJ_HDR;
  struct pn_fhe_evk *k = calloc(1, sizeof *k);
  if (!k) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  memcpy(k->hash, p->model_hash, 32);
  /* only the plan's rotations, each a full key (pn_ckks_keygen_galois): no more than the plan's key set */
  const struct pn_ckks_key_want want = {p->rot, NULL, p->n_rot};
  const int top = pn_ckks_max_level(p->ckks);
  struct evk_part pt;
  if (!(rc = evk_part_open(ctx, get, arg, &left, "relinearisation key", &pt)))
    rc = evk_part_close(ctx, pn_ckks_read_swk(ctx, p->ckks, evk_part_get, &pt, top, &k->rk), &pt);
  if (!rc && !(rc = evk_part_open(ctx, get, arg, &left, "Galois keys", &pt)))
    rc = evk_part_close(ctx, pn_ckks_read_gk(ctx, p->ckks, evk_part_get, &pt, &want, &k->gk), &pt);
  if (!rc && !(rc = evk_part_open(ctx, get, arg, &left, "bootstrapping keys", &pt))) {
    if ((pt.left != 0) != (p->real_boot != 0))
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s bootstrapping keys, the plan %s them", pt.left ? "holds" : "lacks",
                  p->real_boot ? "needs" : "has no use for");
    else if (p->real_boot)
      rc = evk_part_close(ctx, pn_ckks_read_boot_keys(ctx, p->ckks, &p->bp, evk_part_get, &pt, &k->bk), &pt);
  }
  if (!rc && left) rc = pn_err(ctx, PN_ERR_CORRUPT, "%llu trailing bytes", (unsigned long long)left);
  if (!rc) rc = fhe_evk_check(ctx, p, k);
  if (rc) {
    if (rc != PN_ERR_IO && rc != PN_ERR_TIMEOUT && rc != PN_ERR_PROTOCOL) pn_err_prefix(ctx, "fhe: evaluation keys");
    pn_fhe_evk_free(k);
    return rc;
  }
  *out = k;
  return PN_OK;
}

static int file_put(struct pn_ctx *ctx, void *arg, const void *bytes, size_t n) {
  struct pn_atomic_file *af = arg;
  if (fwrite(bytes, 1, n, af->f) != n) return pn_err(ctx, PN_ERR_IO, "%s: write: %s", af->path, strerror(errno));
  pn_atomic_behind(af);
  return PN_OK;
}

int pn_fhe_evk_save_file(struct pn_ctx *ctx, const struct pn_fhe_spec *s, const struct pn_fhe_evk *k, const char *path,
                         size_t *len) {
  struct pn_atomic_file af;
  int rc = pn_atomic_open_direct(ctx, &af, path, 0644); /* evaluation keys run to GBs */
  if (rc) return rc;
  if ((rc = pn_fhe_evk_write(ctx, s, k, file_put, &af))) {
    pn_atomic_abort(&af);
    return rc;
  }
  if (len) *len = pn_fhe_evk_bytes(s, k);
  return pn_atomic_commit(ctx, &af);
}

int pn_fhe_evk_load_file(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const char *path, struct pn_fhe_evk **out) {
  *out = NULL;
  int rc = pn_check_regular_file(ctx, path);
  if (rc) return rc;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) {
    rc = pn_err(ctx, PN_ERR_IO, "%s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return rc;
  }
  if (st.st_size < OBJ_HDR) {
    close(fd);
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: not a privnn FHE object (shorter than its header)", path);
  }
  /* mapped, not read: the file's pages are the page cache's (clean, given back under pressure), so the
  ** process holds the keys once, as loaded, not also their bytes */
  size_t n = (size_t)st.st_size;
  void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return pn_err(ctx, PN_ERR_IO, "%s: mmap: %s", path, strerror(errno));
  madvise(m, n, MADV_SEQUENTIAL);
  rc = pn_fhe_evk_load(ctx, p, m, n, out);
  munmap(m, n);
  if (rc) pn_err_prefix(ctx, "%s", path);
  return rc;
}

/* ---- queries and results ---- */

int pn_fhe_encrypt(struct pn_ctx *ctx, struct pn_fhe_client *c, const float *x, int64_t n, uint8_t **buf,
                   size_t *len) {
  const struct pn_fhe_spec *s = c->spec;
  if (n != s->n_in)
    return pn_err(ctx, PN_ERR_INVALID, "fhe: the input has %lld elements, the model takes %lld", (long long)n,
                  (long long)s->n_in);
  size_t slots = (size_t)1 << s->log_slots;
  double *v = calloc(slots, sizeof *v);
  struct pn_ckks_pt *pt = pn_ckks_pt_new(s->ckks);
  struct pn_ckks_ct *ct = pn_ckks_ct_new(s->ckks);
  uint8_t *cb = NULL;
  size_t cl;
  int rc = v && pt && ct ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  for (int64_t i = 0; i < n && !rc; i++)
    if (!isfinite(x[i])) rc = pn_err(ctx, PN_ERR_INVALID, "fhe: input element %lld is not finite", (long long)i);
  if (!rc) fhe_scatter_input(v, s->in_slot, n, s->in_rep, s->in_rep_stride, s->in_factor, x);
  if (!rc) rc = fhe_encode(ctx, s->ckks, v, slots, pn_ckks_default_scale(s->ckks), s->in_level, pt);
  if (!rc) rc = pn_ckks_encrypt_sk(ctx, s->ckks, c->sk, pt, &c->prg, ct);
  if (!rc) rc = pn_ckks_save_ct(ctx, s->ckks, ct, &cb, &cl);
  if (!rc) rc = pn_fhe_obj_wrap(ctx, PN_FHE_OBJ_QUERY, s->hash, cb, cl, buf, len);
  if (v) pn_wipe_free(v, slots * sizeof *v);
  pn_ckks_pt_free(pt);
  pn_ckks_ct_free(ct);
  free(cb);
  return rc;
}

int pn_fhe_decrypt(struct pn_ctx *ctx, const struct pn_fhe_client *c, const uint8_t *buf, size_t len, double *y,
                   int64_t n) {
  const struct pn_fhe_spec *s = c->spec;
  if (n != s->n_out)
    return pn_err(ctx, PN_ERR_INVALID, "fhe: room for %lld outputs, the model gives %lld", (long long)n,
                  (long long)s->n_out);
  const uint8_t *pl = NULL;
  size_t plen = 0;
  int rc = obj_open(ctx, buf, len, PN_FHE_OBJ_RESULT, s->hash, &pl, &plen);
  if (rc) return rc;
  size_t slots = pn_ckks_slots(s->ckks);
  struct pn_ckks_ct *ct = pn_ckks_ct_new(s->ckks);
  struct pn_ckks_pt *pt = pn_ckks_pt_new(s->ckks);
  double *v = malloc(slots * sizeof *v);
  rc = ct && pt && v ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  if (!rc && (rc = pn_ckks_load_ct(ctx, s->ckks, pl, plen, ct))) pn_err_prefix(ctx, "fhe: result");
  if (!rc && ct->size != 2) rc = pn_err(ctx, PN_ERR_CORRUPT, "fhe: result: a ciphertext of %d polynomials", ct->size);
  if (!rc) rc = pn_ckks_decrypt(ctx, s->ckks, c->sk, ct, pt);
  if (!rc) rc = pn_ckks_decode_real(ctx, s->ckks, pt, v);
  for (int64_t o = 0; o < n && !rc; o++) y[o] = v[s->out_slot[o]] / s->out_factor;
  pn_ckks_ct_free(ct);
  pn_ckks_pt_free(pt);
  if (v) pn_wipe_free(v, slots * sizeof *v);
  return rc;
}

int pn_fhe_server_query(struct pn_ctx *ctx, struct pn_fhe_server *srv, const uint8_t *q, size_t qlen, uint8_t **buf,
                        size_t *len, struct pn_fhe_run_stats *st) {
  const struct pn_fhe_plan *p = fhe_server_plan(srv);
  const uint8_t *pl = NULL;
  size_t plen = 0;
  int rc = obj_open(ctx, q, qlen, PN_FHE_OBJ_QUERY, p->model_hash, &pl, &plen);
  if (rc) return rc;
  struct pn_ckks_ct *in = pn_ckks_ct_new(p->ckks), *out = pn_ckks_ct_new(p->ckks);
  uint8_t *cb = NULL;
  size_t cl;
  rc = in && out ? PN_OK : pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  if (!rc && (rc = pn_ckks_load_ct(ctx, p->ckks, pl, plen, in))) pn_err_prefix(ctx, "fhe: query");
  if (!rc) rc = pn_fhe_server_eval(ctx, srv, in, out, st);
  if (!rc) rc = pn_ckks_save_ct(ctx, p->ckks, out, &cb, &cl);
  if (!rc) rc = pn_fhe_obj_wrap(ctx, PN_FHE_OBJ_RESULT, p->model_hash, cb, cl, buf, len);
  free(cb);
  pn_ckks_ct_free(in);
  pn_ckks_ct_free(out);
  return rc;
}

int pn_fhe_ct_fp_ok(const struct pn_fhe_plan *p, const struct pn_ckks_ct *ct) {
  return memcmp(ct->fp, pn_ckks_fingerprint(p->ckks), 32) == 0;
}
