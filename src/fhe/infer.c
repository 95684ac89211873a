/* infer.c - client and server in one process over a set of images: the embedded path of `privnn fhe infer`.
**
** Per run: the client loads the public spec (as it would receive it), makes its secret key and the
** evaluation keys; the server takes those keys (checked against the plan; not serialized: see below) and
** encodes its weights. Per
** image: encrypt -> QUERY bytes -> server -> RESULT bytes -> decrypt, exactly the objects that would cross
** a network, and the plaintext executor on the same image as the reference (top-1 agreement, max abs
** logit error). Times are wall-clock; the server's CPU time is reported beside them. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fhe/fhe_impl.h"
#include "fhe/fhe_keys.h"
#include "graph/exec.h"
#include "util/fileio.h"
#include "util/progress.h"
#include "util/status.h"
#include "util/wipe.h"

void pn_fhe_infer_report_free(struct pn_fhe_infer_report *r) {
  if (!r) return;
  free(r->layer_seconds);
  free(r->pred);
  free(r->plain_pred);
  memset(r, 0, sizeof *r);
}

static int argmax(const double *v, int64_t n) {
  int64_t b = 0;
  for (int64_t i = 1; i < n; i++)
    if (v[i] > v[b]) b = i;
  return (int)b;
}

static long peak_rss_kb(void) {
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) ? 0 : ru.ru_maxrss;
}

int pn_fhe_infer(struct pn_ctx *ctx, const struct pn_fhe_plan *p, const struct pn_graph *model, const float *x,
                 const int32_t *labels, int64_t n, const struct pn_fhe_infer_opts *opts, struct pn_fhe_infer_report *r) {
  memset(r, 0, sizeof *r);
  struct pn_fhe_infer_opts o0 = {0};
  if (!opts) opts = &o0;
  struct pn_fhe_spec *spec0 = NULL, *spec = NULL;
  struct pn_fhe_client *client = NULL;
  struct pn_fhe_evk *evk = NULL;
  struct pn_fhe_server *srv = NULL;
  struct pn_graph *ref = NULL;
  struct pn_exec *ex = NULL;
  struct pn_tensor *t = NULL;
  uint8_t *buf = NULL;
  size_t len = 0;
  double *y = NULL, *yr = NULL;
  r->n_layer = p->n_layer;
  r->layer_seconds = calloc(2 * (size_t)p->n_layer + 1, sizeof *r->layer_seconds);
  if (r->layer_seconds) r->layer_cpu_seconds = r->layer_seconds + p->n_layer;
  r->pred = calloc((size_t)n + 1, sizeof *r->pred);
  r->plain_pred = calloc((size_t)n + 1, sizeof *r->plain_pred);
  if (!r->layer_seconds || !r->pred || !r->plain_pred) return pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  /* the client: the spec as bytes, keys */
  double t0 = pn_now();
  int rc = pn_fhe_plan_spec(ctx, p, &spec0);
  if (!rc) rc = pn_fhe_spec_save(ctx, spec0, &buf, &len);
  if (!rc) rc = pn_fhe_spec_load(ctx, buf, len, p->params.allow_insecure, &spec);
  free(buf), buf = NULL;
  r->spec_bytes = len;
  if (!rc) rc = pn_fhe_client_keygen(ctx, spec, opts->seed, &client);
  if (!rc) rc = pn_fhe_client_evk(ctx, client, &evk);
  r->keygen_s = pn_now() - t0;
  /* the keys' bytes are counted, not made: serializing them here (and loading them back) held the keys twice
  ** or three times at once, over 20 GiB for a bootstrapped model at N = 2^16. Their file form is exercised
  ** by fhe keygen / fhe eval / fhe serve and their tests; here the server takes the client's keys as they are
  ** and checks them against the plan as a loaded set. */
  if (!rc) {
    r->key_bytes = pn_fhe_evk_bytes(spec, evk);
    r->key_memory_bytes = pn_fhe_evk_memory_bytes(spec, evk);
  }
  if (!rc) {
    uint8_t *sk;
    size_t skl;
    if (!(rc = pn_fhe_client_save_secret(ctx, client, &sk, &skl))) pn_wipe_free(sk, skl);
    r->secret_key_bytes = skl;
  }
  /* the server: the keys, weights encoded */
  t0 = pn_now();
  if (!rc) rc = pn_fhe_server_new(ctx, p, evk, opts->cache_mb, &srv);
  r->server_setup_s = pn_now() - t0;
  if (srv) {
    r->server_cache_bytes = pn_fhe_server_cache_bytes(srv);
    pn_fhe_server_set_rot_chains(srv, opts->rot_chains);
    r->rot_chains = opts->rot_chains != 0;
    pn_fhe_server_set_giant_mode(srv, opts->giant_mode);
    r->giant_mode = opts->giant_mode;
  }
  /* the plaintext reference */
  if (!rc && !(ref = pn_graph_clone_batch(model, 1))) rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  if (!rc) rc = pn_exec_new(ctx, ref, NULL, &ex);
  if (!rc) {
    const struct pn_value *iv = pn_exec_input(ex, 0);
    if (!(t = pn_tensor_new(PN_DT_FLOAT, iv->ndim, iv->dims))) rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
    else if (pn_tensor_numel(t) != spec->n_in)
      rc = pn_err(ctx, PN_ERR_INVALID, "fhe: the model's input has %lld elements, the program %lld",
                  (long long)pn_tensor_numel(t), (long long)spec->n_in);
  }
  const int64_t no = spec ? spec->n_out : 0;
  if (!rc && (!(y = malloc((size_t)no * sizeof *y)) || !(yr = malloc((size_t)no * sizeof *yr))))
    rc = pn_err(ctx, PN_ERR_NOMEM, "fhe: out of memory");
  struct pn_progress bar;
  if (!rc && opts->progress) pn_progress_start_unit(&bar, "fhe infer", "images", (uint64_t)n);
  for (int64_t i = 0; i < n && !rc; i++) {
    const float *xi = x + i * spec->n_in;
    uint8_t *q = NULL, *res = NULL;
    size_t ql = 0, rl = 0;
    struct pn_fhe_run_stats st;
    double a = pn_now();
    rc = pn_fhe_encrypt(ctx, client, xi, spec->n_in, &q, &ql);
    double b = pn_now();
    if (!rc) rc = pn_fhe_server_query(ctx, srv, q, ql, &res, &rl, &st);
    double c = pn_now();
    if (!rc) rc = pn_fhe_decrypt(ctx, client, res, rl, y, no);
    double d = pn_now();
    free(q);
    free(res);
    if (rc) {
      pn_err_prefix(ctx, "image %lld", (long long)i);
      break;
    }
    r->encrypt_s += b - a;
    r->eval_s += c - b;
    r->decrypt_s += d - c;
    r->eval_cpu_s += st.cpu_seconds;
    if (c - b > r->eval_max_s) r->eval_max_s = c - b;
    r->bytes_up = ql;
    r->bytes_down = rl;
    r->rotations = st.rotations, r->pt_muls = st.pt_muls, r->ct_muls = st.ct_muls, r->boots = st.boots;
    r->modups = st.modups;
    if (!i) r->ct_fresh_first = st.ct_fresh;
    r->ct_fresh_last = st.ct_fresh;
    for (int k = 0; k < p->n_layer; k++) {
      r->layer_seconds[k] += st.layer_seconds[k];
      r->layer_cpu_seconds[k] += st.layer_cpu_seconds[k];
    }
    /* the plaintext model on the same image */
    memcpy(t->data, xi, (size_t)spec->n_in * sizeof *xi);
    const struct pn_tensor *in[1] = {t};
    struct pn_tensor *out[1] = {NULL};
    if ((rc = pn_exec_run(ctx, ex, in, out))) break;
    if (pn_tensor_numel(out[0]) != no)
      rc = pn_err(ctx, PN_ERR_INVALID, "fhe: the model gives %lld outputs, the program %lld",
                  (long long)pn_tensor_numel(out[0]), (long long)no);
    for (int64_t k = 0; k < no && !rc; k++) {
      yr[k] = ((const float *)out[0]->data)[k];
      double e = fabs(y[k] - yr[k]);
      if (!(e <= r->max_abs_err)) r->max_abs_err = isnan(e) ? INFINITY : fmax(e, r->max_abs_err);
    }
    pn_tensor_free(out[0]);
    if (rc) break;
    r->pred[i] = argmax(y, no);
    r->plain_pred[i] = argmax(yr, no);
    r->agree += r->pred[i] == r->plain_pred[i];
    if (labels) {
      r->correct += r->pred[i] == labels[i];
      r->plain_correct += r->plain_pred[i] == labels[i];
    }
    r->n = i + 1;
    if (opts->progress) {
      char extra[64];
      snprintf(extra, sizeof extra, "agree %lld/%lld, %.1f s/image", (long long)r->agree, (long long)r->n,
               r->eval_s / (double)r->n);
      pn_progress_update(&bar, (uint64_t)r->n, extra);
    }
  }
  if (opts->progress && n > 0) pn_progress_end(&bar);
  r->has_labels = labels != NULL;
  r->peak_rss_kb = peak_rss_kb();
  if (srv) {
    struct pn_ckks_pool_info pi;
    r->ct_pool_bytes = pn_fhe_server_pool_bytes(srv, &pi);
    r->ct_pool_peak_bytes = (size_t)pi.peak_held * pi.buffer_bytes;
  }
  free(y);
  free(yr);
  pn_tensor_free(t);
  pn_exec_free(ex);
  pn_graph_free(ref);
  pn_fhe_server_free(srv);
  pn_fhe_evk_free(evk);
  pn_fhe_client_free(client);
  pn_fhe_spec_free(spec);
  pn_fhe_spec_free(spec0);
  return rc;
}

cJSON *pn_fhe_infer_json(const struct pn_fhe_plan *p, const struct pn_fhe_infer_report *r) {
  cJSON *o = pn_fhe_plan_json(p);
  if (!o) return NULL;
  double n = r->n > 0 ? (double)r->n : 1;
  cJSON_AddNumberToObject(o, "images", (double)r->n);
  cJSON_AddNumberToObject(o, "agreement", (double)r->agree / n);
  if (r->has_labels) {
    cJSON_AddNumberToObject(o, "accuracy", (double)r->correct / n);
    cJSON_AddNumberToObject(o, "plain_accuracy", (double)r->plain_correct / n);
  } else {
    cJSON_AddNullToObject(o, "accuracy");
  }
  cJSON_AddNumberToObject(o, "max_abs_err", r->max_abs_err);
  cJSON_AddNumberToObject(o, "seconds_per_image", r->eval_s / n);
  cJSON_AddNumberToObject(o, "max_seconds_per_image", r->eval_max_s);
  cJSON_AddNumberToObject(o, "cpu_seconds_per_image", r->eval_cpu_s / n);
  cJSON_AddNumberToObject(o, "encrypt_seconds_per_image", r->encrypt_s / n);
  cJSON_AddNumberToObject(o, "decrypt_seconds_per_image", r->decrypt_s / n);
  cJSON_AddNumberToObject(o, "keygen_seconds", r->keygen_s);
  cJSON_AddNumberToObject(o, "server_setup_seconds", r->server_setup_s);
  cJSON_AddNumberToObject(o, "bytes_up", (double)r->bytes_up);
  cJSON_AddNumberToObject(o, "bytes_down", (double)r->bytes_down);
  cJSON_AddNumberToObject(o, "key_bytes", (double)r->key_bytes);
  cJSON_AddNumberToObject(o, "key_memory_bytes", (double)r->key_memory_bytes);
  cJSON_AddNumberToObject(o, "secret_key_bytes", (double)r->secret_key_bytes);
  cJSON_AddNumberToObject(o, "spec_bytes", (double)r->spec_bytes);
  cJSON_AddNumberToObject(o, "server_weight_cache_bytes", (double)r->server_cache_bytes);
  cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)r->peak_rss_kb * 1024.0);
  cJSON_AddNumberToObject(o, "ct_pool_bytes", (double)r->ct_pool_bytes);
  cJSON_AddNumberToObject(o, "ct_pool_peak_bytes", (double)r->ct_pool_peak_bytes);
  cJSON_AddNumberToObject(o, "ct_fresh_first_image", (double)r->ct_fresh_first);
  cJSON_AddNumberToObject(o, "ct_fresh_last_image", (double)r->ct_fresh_last);
  /* what ran (the plan's "rotations" / "modups" are the schedule's; --rot-chains runs the earlier one) */
  cJSON_AddStringToObject(o, "rotation_schedule", r->rot_chains ? "chains" : "tree");
  cJSON_AddStringToObject(o, "giant_sums", r->giant_mode == PN_FHE_GIANT_EAGER ? "eager"
                                           : r->giant_mode == PN_FHE_GIANT_EXT ? "extended basis" : "auto");
  cJSON_AddNumberToObject(o, "rotations_run", r->rotations);
  cJSON_AddNumberToObject(o, "modups_run", r->modups);
  cJSON *ls = cJSON_GetObjectItem(o, "layers");
  cJSON *le;
  cJSON_ArrayForEach(le, ls) {
    int i = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(le, "index"));
    if (i >= 0 && i < r->n_layer) {
      cJSON_AddNumberToObject(le, "seconds_per_image", r->layer_seconds[i] / n);
      cJSON_AddNumberToObject(le, "cpu_seconds_per_image", r->layer_cpu_seconds[i] / n);
    }
  }
  cJSON *pr = cJSON_AddArrayToObject(o, "predictions");
  for (int64_t i = 0; pr && i < r->n; i++) {
    cJSON *e = cJSON_CreateArray();
    cJSON_AddItemToArray(e, cJSON_CreateNumber(r->pred[i]));
    cJSON_AddItemToArray(e, cJSON_CreateNumber(r->plain_pred[i]));
    cJSON_AddItemToArray(pr, e);
  }
  return o;
}
