/* test_onnx.c - ONNX load/save: round trips, ONNX's test models, TensorProto files, corrupt input.
**
** Randomised tests print their seed; set PN_TEST_SEED=<n> to replay one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/onnx.h"
#include "onnx.pb-c.h"
#include "util/util.h"
#include "pn_test.h"

#define TESTDATA "/usr/share/libonnx-testdata/data"

/* ---- graph equivalence ---- */

static bool str_eq(const char *a, const char *b) { return !strcmp(a ? a : "", b ? b : ""); }

#define DIFF(...)                          \
  do {                                     \
    snprintf(why, nwhy, __VA_ARGS__);      \
    return false;                          \
  } while (0)

static bool tensor_eq(const struct pn_tensor *a, const struct pn_tensor *b, const char *what,
                      char *why, size_t nwhy) {
  if (!a || !b) {
    if (a != b) DIFF("%s: one tensor is missing", what);
    return true;
  }
  if (!str_eq(a->name, b->name)) DIFF("%s: name '%s' vs '%s'", what, a->name, b->name);
  if (a->dtype != b->dtype) DIFF("%s: dtype %d vs %d", what, a->dtype, b->dtype);
  if (a->ndim != b->ndim) DIFF("%s: ndim %d vs %d", what, a->ndim, b->ndim);
  for (int i = 0; i < a->ndim; i++)
    if (a->dims[i] != b->dims[i]) DIFF("%s: dims[%d] differ", what, i);
  size_t n = pn_tensor_nbytes(a);
  if (n && memcmp(a->data, b->data, n)) DIFF("%s: data differs", what);
  return true;
}

static bool value_eq(const struct pn_value *a, const struct pn_value *b, const char *what,
                     char *why, size_t nwhy) {
  if (!str_eq(a->name, b->name)) DIFF("%s: name '%s' vs '%s'", what, a->name, b->name);
  if (a->dtype != b->dtype) DIFF("%s '%s': dtype %d vs %d", what, a->name, a->dtype, b->dtype);
  if (a->ndim != b->ndim) DIFF("%s '%s': ndim %d vs %d", what, a->name, a->ndim, b->ndim);
  for (int k = 0; k < a->ndim; k++) {
    if (a->dims[k] != b->dims[k]) DIFF("%s '%s': dims[%d] differ", what, a->name, k);
    if ((a->dim_param[k] == NULL) != (b->dim_param[k] == NULL) ||
        !str_eq(a->dim_param[k], b->dim_param[k]))
      DIFF("%s '%s': dim_param[%d] differ", what, a->name, k);
  }
  if (!str_eq(a->doc, b->doc)) DIFF("%s '%s': doc differs", what, a->name);
  return true;
}

static bool attr_eq(const struct pn_attr *a, const struct pn_attr *b, const char *what, char *why,
                    size_t nwhy) {
  if (!str_eq(a->name, b->name)) DIFF("%s: name '%s' vs '%s'", what, a->name, b->name);
  if (a->type != b->type) DIFF("%s '%s': type %d vs %d", what, a->name, a->type, b->type);
  switch (a->type) {
  case PN_ATTR_FLOAT:
    if (memcmp(&a->f, &b->f, sizeof a->f)) DIFF("%s '%s': float differs", what, a->name);
    break;
  case PN_ATTR_INT:
    if (a->i != b->i) DIFF("%s '%s': int differs", what, a->name);
    break;
  case PN_ATTR_STRING:
    if (a->s_len != b->s_len || (a->s_len && memcmp(a->s, b->s, (size_t)a->s_len)))
      DIFF("%s '%s': string differs", what, a->name);
    break;
  case PN_ATTR_TENSOR:
    return tensor_eq(a->t, b->t, what, why, nwhy);
  case PN_ATTR_FLOATS:
    if (a->n != b->n || (a->n && memcmp(a->floats, b->floats, (size_t)a->n * sizeof(float))))
      DIFF("%s '%s': floats differ", what, a->name);
    break;
  case PN_ATTR_INTS:
    if (a->n != b->n || (a->n && memcmp(a->ints, b->ints, (size_t)a->n * sizeof(int64_t))))
      DIFF("%s '%s': ints differ", what, a->name);
    break;
  case PN_ATTR_STRINGS:
    if (a->n != b->n) DIFF("%s '%s': string count differs", what, a->name);
    for (int64_t j = 0; j < a->n; j++)
      if (!str_eq(a->strings[j], b->strings[j]))
        DIFF("%s '%s': strings[%d] differ", what, a->name, (int)j);
    break;
  default:
    DIFF("%s '%s': unexpected type %d", what, a->name, a->type);
  }
  return true;
}

/* Field-by-field comparison of two graphs; on a difference, why says where. NULL and "" strings
** are the same (ONNX's proto2 optional strings). */
static bool graph_eq(const struct pn_graph *a, const struct pn_graph *b, char *why, size_t nwhy) {
  char what[128];
  if (a->ir_version != b->ir_version) DIFF("ir_version");
  if (a->model_version != b->model_version) DIFF("model_version");
  if (!str_eq(a->producer_name, b->producer_name)) DIFF("producer_name");
  if (!str_eq(a->producer_version, b->producer_version)) DIFF("producer_version");
  if (!str_eq(a->domain, b->domain)) DIFF("domain");
  if (!str_eq(a->model_doc, b->model_doc)) DIFF("model doc");
  if (!str_eq(a->name, b->name)) DIFF("graph name '%s' vs '%s'", a->name, b->name);
  if (!str_eq(a->doc, b->doc)) DIFF("graph doc");
  if (a->n_opsets != b->n_opsets) DIFF("n_opsets %d vs %d", a->n_opsets, b->n_opsets);
  for (int i = 0; i < a->n_opsets; i++)
    if (!str_eq(a->opsets[i].domain, b->opsets[i].domain) ||
        a->opsets[i].version != b->opsets[i].version)
      DIFF("opset[%d]", i);
  if (a->n_meta != b->n_meta) DIFF("n_meta");
  for (int i = 0; i < a->n_meta; i++)
    if (!str_eq(a->meta_keys[i], b->meta_keys[i]) || !str_eq(a->meta_values[i], b->meta_values[i]))
      DIFF("metadata[%d]", i);
  if (a->n_nodes != b->n_nodes) DIFF("n_nodes %d vs %d", a->n_nodes, b->n_nodes);
  for (int i = 0; i < a->n_nodes; i++) {
    const struct pn_node *x = a->nodes[i], *y = b->nodes[i];
    snprintf(what, sizeof what, "node[%d]", i);
    if (!str_eq(x->name, y->name) || !str_eq(x->op_type, y->op_type) ||
        !str_eq(x->domain, y->domain) || !str_eq(x->doc, y->doc))
      DIFF("%s: name/op_type/domain/doc", what);
    if (x->n_in != y->n_in || x->n_out != y->n_out || x->n_attr != y->n_attr)
      DIFF("%s: counts", what);
    for (int k = 0; k < x->n_in; k++)
      if (!str_eq(x->in[k], y->in[k])) DIFF("%s: input[%d]", what, k);
    for (int k = 0; k < x->n_out; k++)
      if (!str_eq(x->out[k], y->out[k])) DIFF("%s: output[%d]", what, k);
    for (int k = 0; k < x->n_attr; k++)
      if (!attr_eq(&x->attr[k], &y->attr[k], what, why, nwhy)) return false;
  }
  if (a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs || a->n_vinfo != b->n_vinfo ||
      a->n_inits != b->n_inits)
    DIFF("value/initializer counts");
  for (int i = 0; i < a->n_inputs; i++)
    if (!value_eq(&a->inputs[i], &b->inputs[i], "input", why, nwhy)) return false;
  for (int i = 0; i < a->n_outputs; i++)
    if (!value_eq(&a->outputs[i], &b->outputs[i], "output", why, nwhy)) return false;
  for (int i = 0; i < a->n_vinfo; i++)
    if (!value_eq(&a->vinfo[i], &b->vinfo[i], "value_info", why, nwhy)) return false;
  for (int i = 0; i < a->n_inits; i++) {
    snprintf(what, sizeof what, "initializer[%d]", i);
    if (!tensor_eq(a->inits[i], b->inits[i], what, why, nwhy)) return false;
  }
  return true;
}

/* save → load, and the reloaded graph must equal g; returns the reloaded graph. */
static struct pn_graph *roundtrip(const struct pn_graph *g, uint8_t **bytes, size_t *nbytes) {
  struct pn_ctx ctx = {0};
  uint8_t *buf;
  size_t n;
  int rc = pn_onnx_save(&ctx, g, &buf, &n);
  if (rc) fail_msg("save: %s", pn_errmsg(&ctx));
  struct pn_graph *h;
  rc = pn_onnx_load(&ctx, buf, n, &h);
  if (rc) fail_msg("reload: %s", pn_errmsg(&ctx));
  char why[256];
  if (!graph_eq(g, h, why, sizeof why)) fail_msg("round trip differs: %s", why);
  /* pn_onnx_load_take loads the same graph from a copy it frees (ASan: no leak, no use after) */
  uint8_t *own = malloc(n ? n : 1);
  if (!own) fail_msg("out of memory");
  if (n) memcpy(own, buf, n);
  struct pn_graph *h2;
  rc = pn_onnx_load_take(&ctx, own, n, NULL, &h2);
  if (rc) fail_msg("reload (take): %s", pn_errmsg(&ctx));
  if (!graph_eq(g, h2, why, sizeof why)) fail_msg("round trip (take) differs: %s", why);
  pn_graph_free(h2);
  if (bytes) {
    *bytes = buf;
    *nbytes = n;
  } else {
    free(buf);
  }
  return h;
}

/* pn_onnx_load_take frees the buffer it is given also when it is not a model (ASan: no leak). */
static void test_load_take_corrupt(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  uint8_t *b = malloc(16);
  assert_non_null(b);
  memset(b, 0xff, 16);
  struct pn_graph *g = (struct pn_graph *)1;
  assert_int_equal(pn_onnx_load_take(&ctx, b, 16, NULL, &g), PN_ERR_CORRUPT);
  assert_null(g);
}

static uint64_t test_seed(void) {
  static uint64_t seed;
  static bool have;
  if (!have) {
    seed = pn_test_seed("test_onnx", PN_TEST_SEED_FRESH);
    have = true;
  }
  return seed;
}

/* ---- a graph built with the IR API, with every attribute type and many dtypes ---- */

static struct pn_graph *build_graph(void) {
  struct pn_graph *g = pn_graph_new();
  assert_non_null(g);
  g->name = "built";
  g->doc = "a graph for the round-trip test";
  g->model_doc = "model doc";
  g->domain = "org.privnn.test";
  g->model_version = 42;
  g->ir_version = 8;
  assert_int_equal(pn_graph_set_opset(g, "ai.privnn", 1), PN_OK);
  static const char *keys[] = {"author", "empty"}, *vals[] = {"tests", ""};
  g->meta_keys = keys;
  g->meta_values = vals;
  g->n_meta = 2;

  const int64_t xdims[4] = {-1, 3, 8, 8};
  struct pn_value *x = pn_graph_add_input(g, "x", PN_DT_FLOAT, 4, xdims);
  assert_non_null(x);
  x->dim_param[0] = "N";
  x->doc = "the input";
  const int64_t mdims[2] = {-1, -1}; /* second dim unknown without a name */
  struct pn_value *mask = pn_graph_add_input(g, "mask", PN_DT_BOOL, 2, mdims);
  mask->dim_param[0] = "batch";
  assert_non_null(pn_graph_add_input(g, "any", PN_DT_INT64, -1, NULL)); /* rank unknown */
  assert_non_null(pn_graph_add_input(g, "scalar", PN_DT_DOUBLE, 0, NULL));
  const int64_t ydims[2] = {-1, 10};
  struct pn_value *y = pn_graph_add_output(g, "y", PN_DT_FLOAT, 2, ydims);
  y->dim_param[0] = "N";
  assert_non_null(pn_graph_add_vinfo(g, "c", PN_DT_FLOAT, 4, (const int64_t[]){-1, 4, 8, 8}));
  assert_non_null(pn_graph_add_vinfo(g, "untyped", PN_DT_UNDEFINED, -1, NULL));

  const char *cin[] = {"x", "w", "b"}, *cout[] = {"c"};
  struct pn_node *conv = pn_graph_add_node(g, "Conv", "conv0", 3, cin, 1, cout);
  assert_int_equal(pn_node_set_ints(g, conv, "kernel_shape", 2, (const int64_t[]){3, 3}), PN_OK);
  assert_int_equal(pn_node_set_ints(g, conv, "pads", 4, (const int64_t[]){1, 1, 1, 1}), PN_OK);
  assert_int_equal(pn_node_set_ints(g, conv, "empty", 0, (const int64_t[]){0}), PN_OK);
  assert_int_equal(pn_node_set_int(g, conv, "group", -7), PN_OK);
  conv->doc = "first conv";

  const char *din[] = {"c", ""}, *dout[] = {"d", "", "dmask"}; /* omitted optionals */
  struct pn_node *drop = pn_graph_add_node(g, "Dropout", "", 2, din, 3, dout);
  assert_int_equal(pn_node_set_float(g, drop, "ratio", 0.25f), PN_OK);
  assert_int_equal(pn_node_set_float(g, drop, "nan", NAN), PN_OK);
  assert_int_equal(pn_node_set_string(g, drop, "mode", "train"), PN_OK);
  assert_int_equal(pn_node_set_floats(g, drop, "fs", 3, (const float[]){1.5f, -0.0f, INFINITY}),
                   PN_OK);
  struct pn_attr *ss = pn_node_add_attr(g, drop, "names", PN_ATTR_STRINGS);
  static const char *strs[] = {"alpha", "", "gamma"};
  ss->n = 3;
  ss->strings = strs;
  struct pn_attr *bin = pn_node_add_attr(g, drop, "bytes", PN_ATTR_STRING);
  bin->s = "a\0b";
  bin->s_len = 3; /* binary string attribute with an embedded NUL */

  const char *kout[] = {"k"};
  struct pn_node *cst = pn_graph_add_node(g, "Constant", "const", 0, NULL, 1, kout);
  struct pn_tensor *kt = pn_tensor_new(PN_DT_INT64, 1, (const int64_t[]){4});
  for (int i = 0; i < 4; i++) ((int64_t *)kt->data)[i] = (int64_t)i * -1000000000000LL;
  kt->name = strdup("kval");
  assert_int_equal(pn_node_set_tensor(g, cst, "value", kt), PN_OK);
  pn_tensor_free(kt);

  const char *pin[] = {"d", "k"}, *pout[] = {"y"};
  struct pn_node *paf = pn_graph_add_node(g, "PafRelu", "paf", 2, pin, 1, pout);
  paf->domain = "ai.privnn";
  assert_int_equal(pn_node_set_int(g, paf, "degree", 27), PN_OK);

  /* initializers of many dtypes, filled with distinct bytes */
  static const enum pn_dtype dts[] = {PN_DT_FLOAT, PN_DT_UINT8, PN_DT_INT8, PN_DT_UINT16,
                                      PN_DT_INT16, PN_DT_INT32, PN_DT_INT64, PN_DT_BOOL,
                                      PN_DT_FLOAT16, PN_DT_DOUBLE, PN_DT_UINT32, PN_DT_UINT64,
                                      PN_DT_COMPLEX64, PN_DT_COMPLEX128, PN_DT_BFLOAT16};
  for (size_t i = 0; i < sizeof dts / sizeof *dts; i++) {
    char name[32];
    snprintf(name, sizeof name, "init_%s", pn_dtype_name(dts[i]));
    struct pn_tensor *t = pn_graph_new_init(g, name, dts[i], 2, (const int64_t[]){2, 3});
    assert_non_null(t);
    uint8_t *p = t->data;
    for (size_t k = 0; k < pn_tensor_nbytes(t); k++) p[k] = (uint8_t)(k * 37 + i);
    if (dts[i] == PN_DT_BOOL)
      for (size_t k = 0; k < 6; k++) p[k] &= 1;
  }
  struct pn_tensor *w = pn_graph_new_init(g, "w", PN_DT_FLOAT, 4, (const int64_t[]){4, 3, 3, 3});
  for (int i = 0; i < 108; i++) ((float *)w->data)[i] = (float)i * 0.5f - 3.0f;
  assert_non_null(pn_graph_new_init(g, "b", PN_DT_FLOAT, 1, (const int64_t[]){4}));
  assert_non_null(pn_graph_new_init(g, "empty_t", PN_DT_FLOAT, 2, (const int64_t[]){0, 5}));
  struct pn_tensor *sc = pn_graph_new_init(g, "scalar_i", PN_DT_INT64, 0, NULL);
  *(int64_t *)sc->data = INT64_MIN;
  return g;
}

static void test_roundtrip_built(void **state) {
  struct pn_graph *g = build_graph();
  uint8_t *b1;
  size_t n1;
  struct pn_graph *h = roundtrip(g, &b1, &n1);
  /* a few facts checked directly, not through graph_eq */
  assert_string_equal(h->inputs[0].dim_param[0], "N");
  assert_null(h->inputs[0].dim_param[1]);
  assert_int_equal(h->inputs[0].dims[0], -1);
  assert_int_equal(h->inputs[1].dims[1], -1);
  assert_null(h->inputs[1].dim_param[1]);
  assert_int_equal(h->inputs[2].ndim, -1);
  assert_int_equal(h->inputs[3].ndim, 0);
  assert_int_equal(pn_graph_opset(h, "ai.privnn"), 1);
  assert_int_equal(pn_graph_opset(h, ""), 17);
  const struct pn_node *d = h->nodes[1];
  assert_string_equal(d->out[1], "");
  assert_true(isnan(pn_node_attr(d, "nan")->f));
  assert_int_equal(pn_node_attr(d, "bytes")->s_len, 3);
  assert_memory_equal(pn_node_attr(d, "bytes")->s, "a\0b", 3);
  assert_string_equal(pn_node_attr(d, "names")->strings[2], "gamma");
  const struct pn_tensor *w = pn_graph_find_init(h, "w");
  assert_non_null(w);
  assert_true(((float *)w->data)[107] == 107 * 0.5f - 3.0f);
  assert_int_equal(*(int64_t *)pn_graph_find_init(h, "scalar_i")->data, INT64_MIN);
  assert_int_equal(((int64_t *)pn_node_attr(h->nodes[2], "value")->t->data)[3], -3000000000000LL);
  /* saving again gives the same bytes */
  uint8_t *b2;
  size_t n2;
  struct pn_ctx ctx = {0};
  assert_int_equal(pn_onnx_save(&ctx, h, &b2, &n2), PN_OK);
  assert_int_equal(n1, n2);
  assert_memory_equal(b1, b2, n1);
  free(b1);
  free(b2);
  pn_graph_free(h);
  pn_graph_free(g);
}

static void test_files(void **state) {
  struct pn_ctx ctx = {0};
  char dir[] = "/tmp/pn_test_onnx_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[300], tpath[300];
  snprintf(path, sizeof path, "%s/m.onnx", dir);
  snprintf(tpath, sizeof tpath, "%s/t.pb", dir);
  struct pn_graph *g = build_graph(), *h;
  assert_int_equal(pn_onnx_save_file(&ctx, g, path), PN_OK);
  assert_int_equal(pn_onnx_load_file(&ctx, path, &h), PN_OK);
  char why[256];
  if (!graph_eq(g, h, why, sizeof why)) fail_msg("%s", why);
  pn_graph_free(h);
  /* TensorProto files keep name, dtype, shape and bytes */
  for (int i = 0; i < g->n_inits; i++) {
    struct pn_tensor *t;
    assert_int_equal(pn_tensor_save_pb_file(&ctx, g->inits[i], tpath), PN_OK);
    assert_int_equal(pn_tensor_load_pb_file(&ctx, tpath, &t), PN_OK);
    assert_true(t->heap);
    if (!tensor_eq(g->inits[i], t, "pb", why, sizeof why)) fail_msg("%s", why);
    pn_tensor_free(t);
  }
  /* a missing file: PN_ERR_IO naming it */
  char missing[320];
  snprintf(missing, sizeof missing, "%s/nope.onnx", dir);
  assert_int_equal(pn_onnx_load_file(&ctx, missing, &h), PN_ERR_IO);
  assert_null(h);
  assert_non_null(strstr(pn_errmsg(&ctx), missing));
  struct pn_tensor *t;
  assert_int_equal(pn_tensor_load_pb_file(&ctx, missing, &t), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), missing));
  /* a corrupt file: the message starts with the path */
  FILE *f = fopen(path, "wb");
  fputs("\x3a\x05garbage-not-protobuf", f);
  fclose(f);
  assert_int_equal(pn_onnx_load_file(&ctx, path, &h), PN_ERR_CORRUPT);
  assert_int_equal(strncmp(pn_errmsg(&ctx), path, strlen(path)), 0);
  unlink(path);
  unlink(tpath);
  rmdir(dir);
  pn_graph_free(g);
}

/* ---- external data ---- */

static uint8_t *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

static const Onnx__TensorProto *find_tp(const Onnx__ModelProto *m, const char *name) {
  for (size_t i = 0; i < m->graph->n_initializer; i++)
    if (!strcmp(m->graph->initializer[i]->name, name)) return m->graph->initializer[i];
  return NULL;
}

/* m.onnx saved again with one external_data entry of tensor `name` changed (key, value; a NULL value
** drops the entry), then loaded: the return code, the message in ctx. */
static int load_edited(const char *path, const char *name, const char *key, const char *value,
                       struct pn_ctx *ctx) {
  size_t n;
  uint8_t *b = slurp(path, &n);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, b);
  assert_non_null(m);
  Onnx__TensorProto *tp = (Onnx__TensorProto *)find_tp(m, name);
  assert_non_null(tp);
  char *old_value = NULL, *old_key = NULL;
  size_t at = tp->n_external_data, n_old = tp->n_external_data;
  for (size_t i = 0; i < tp->n_external_data; i++)
    if (!strcmp(tp->external_data[i]->key, key)) at = i;
  if (at < tp->n_external_data) {
    old_value = tp->external_data[at]->value;
    tp->external_data[at]->value = (char *)value;
    if (!value) { /* drop it: swap with the last */
      Onnx__StringStringEntryProto *e = tp->external_data[at];
      tp->external_data[at] = tp->external_data[tp->n_external_data - 1];
      tp->external_data[tp->n_external_data - 1] = e;
      e->value = old_value;
      tp->n_external_data--;
    }
  } else { /* a new key: rename the offset entry */
    for (size_t i = 0; i < tp->n_external_data; i++)
      if (!strcmp(tp->external_data[i]->key, "offset")) at = i;
    old_key = tp->external_data[at]->key;
    tp->external_data[at]->key = (char *)key;
  }
  size_t pn = protobuf_c_message_get_packed_size(&m->base);
  uint8_t *pb = malloc(pn);
  assert_int_equal(protobuf_c_message_pack(&m->base, pb), pn);
  if (old_key) tp->external_data[at]->key = old_key;
  else if (value && at < n_old) tp->external_data[at]->value = old_value;
  tp->n_external_data = n_old;
  onnx__model_proto__free_unpacked(m, NULL);
  FILE *f = fopen(path, "wb");
  assert_int_equal(fwrite(pb, 1, pn, f), pn);
  fclose(f);
  free(pb);
  struct pn_graph *h = NULL;
  int rc = pn_onnx_load_file(ctx, path, &h);
  pn_graph_free(h);
  /* put the original back */
  f = fopen(path, "wb");
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
  free(b);
  printf("# external_data %s = %s: %s\n", key, value ? value : "(dropped)", rc ? pn_errmsg(ctx) : "loaded");
  return rc;
}

/* Large tensors (from 64 KiB, which pn_onnx_load_adopt keeps in protobuf-c's copies) and a large
** file: the graph is the one saved, from the file, from a buffer and adopting, and frees cleanly
** (ASan: no leak, no double free). */
static void test_files_large(void **state) {
  (void)state;
  struct pn_ctx ctx = {0};
  char dir[] = "/tmp/pn_test_onnx_big_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[300];
  snprintf(path, sizeof path, "%s/m.onnx", dir);
  struct pn_graph *g = build_graph(), *h;
  struct pn_tensor *w = pn_graph_new_init(g, "wbig", PN_DT_FLOAT, 2, (const int64_t[]){600, 501});
  struct pn_tensor *e = pn_graph_new_init(g, "ebig", PN_DT_INT64, 1, (const int64_t[]){8193});
  struct pn_tensor *b = pn_graph_new_init(g, "bbig", PN_DT_UINT8, 1, (const int64_t[]){65537});
  assert_non_null(w);
  assert_non_null(e);
  assert_non_null(b);
  for (int i = 0; i < 600 * 501; i++) ((float *)w->data)[i] = (float)(i % 9973) * 0.125f - 11.0f;
  for (int i = 0; i < 8193; i++) ((int64_t *)e->data)[i] = (int64_t)i * -987654321LL;
  for (int i = 0; i < 65537; i++) ((uint8_t *)b->data)[i] = (uint8_t)(i * 7 + 3);
  const char *kout[] = {"kbig"};
  struct pn_node *cst = pn_graph_add_node(g, "Constant", "const_big", 0, NULL, 1, kout);
  struct pn_tensor *kt = pn_tensor_new(PN_DT_FLOAT, 1, (const int64_t[]){20000});
  for (int i = 0; i < 20000; i++) ((float *)kt->data)[i] = (float)i / 3.0f;
  kt->name = strdup("kvalbig");
  assert_int_equal(pn_node_set_tensor(g, cst, "value", kt), PN_OK);
  pn_tensor_free(kt);
  assert_int_equal(pn_onnx_save_file(&ctx, g, path), PN_OK);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true((size_t)st.st_size >= PN_MAP_MIN_BYTES);
  char why[256];
  assert_int_equal(pn_onnx_load_file(&ctx, path, &h), PN_OK);
  if (!graph_eq(g, h, why, sizeof why)) fail_msg("from the file: %s", why);
  assert_true(((float *)pn_graph_find_init(h, "wbig")->data)[600 * 501 - 1] ==
              (float)((600 * 501 - 1) % 9973) * 0.125f - 11.0f);
  pn_graph_free(h);
  uint8_t *buf;
  size_t n;
  assert_int_equal(pn_read_file(&ctx, path, 0, &buf, &n), PN_OK);
  assert_int_equal(pn_onnx_load(&ctx, buf, n, &h), PN_OK);
  free(buf);
  if (!graph_eq(g, h, why, sizeof why)) fail_msg("from a buffer: %s", why);
  pn_graph_free(h);
  /* adopting (split and join): the large weights keep protobuf-c's copies of their bytes, which the
  ** graph then owns; the buffer is wiped and freed before the graph is compared */
  assert_int_equal(pn_read_file(&ctx, path, 0, &buf, &n), PN_OK);
  assert_int_equal(pn_onnx_load_adopt(&ctx, buf, n, path, &h), PN_OK);
  memset(buf, 0, n);
  free(buf);
  if (!graph_eq(g, h, why, sizeof why)) fail_msg("adopted: %s", why);
  ((float *)pn_graph_find_init(h, "wbig")->data)[0] = 1.0f; /* its own, writable copy */
  pn_graph_free(h);
  /* by reference (join's parts): the float weight from 64 KiB points into the buffer, the int64 and
  ** uint8 ones and the Constant's value are the graph's own; the same graph either way */
  assert_int_equal(pn_read_file(&ctx, path, 0, &buf, &n), PN_OK);
  assert_int_equal(pn_onnx_load_ref(&ctx, buf, n, path, 0, &h), PN_OK);
  if (!graph_eq(g, h, why, sizeof why)) fail_msg("by reference: %s", why);
  const uint8_t *pw = pn_graph_find_init(h, "wbig")->data, *pe = pn_graph_find_init(h, "ebig")->data;
  assert_true(pw > buf && pw + 600 * 501 * 4 <= buf + n);
  assert_false(pe >= buf && pe < buf + n);
  pn_graph_free(h);
  /* from 4 bytes: the small float initializers too; a weight whose bytes do not match its dims is
  ** refused with the message pn_onnx_load_in gives */
  assert_int_equal(pn_onnx_load_ref(&ctx, buf, n, path, 4, &h), PN_OK);
  if (!graph_eq(g, h, why, sizeof why)) fail_msg("by reference from 4 bytes: %s", why);
  pn_graph_free(h);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, buf);
  free(buf);
  assert_non_null(m);
  for (size_t i = 0; i < m->graph->n_initializer; i++)
    if (!strcmp(m->graph->initializer[i]->name, "wbig"))
      m->graph->initializer[i]->dims[1] = 500; /* 600x500 in dims, 600x501 floats in raw_data */
  n = protobuf_c_message_get_packed_size(&m->base);
  buf = malloc(n);
  assert_int_equal(protobuf_c_message_pack(&m->base, buf), n);
  onnx__model_proto__free_unpacked(m, NULL);
  struct pn_ctx c2 = {0};
  assert_int_equal(pn_onnx_load_in(&ctx, buf, n, NULL, &h), PN_ERR_CORRUPT);
  assert_int_equal(pn_onnx_load_ref(&c2, buf, n, NULL, 0, &h), PN_ERR_CORRUPT);
  assert_string_equal(pn_errmsg(&ctx), pn_errmsg(&c2));
  assert_non_null(strstr(pn_errmsg(&c2), "raw_data has 1202400 bytes"));
  free(buf);
  unlink(path);
  rmdir(dir);
  pn_graph_free(g);
}

static void test_external_data(void **state) {
  struct pn_ctx ctx = {0};
  char dir[] = "/tmp/pn_test_onnx_ext_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[300], dpath[320], inl[300], other[320];
  snprintf(path, sizeof path, "%s/m.onnx", dir);
  snprintf(dpath, sizeof dpath, "%s/m.onnx.data", dir);
  snprintf(inl, sizeof inl, "%s/inline.onnx", dir);
  struct pn_graph *g = build_graph(), *h;
  /* two tensors above 1 KiB (external), the rest below (inline) */
  struct pn_tensor *big = pn_graph_new_init(g, "big", PN_DT_FLOAT, 2, (const int64_t[]){4, 301});
  struct pn_tensor *big2 = pn_graph_new_init(g, "big2", PN_DT_INT64, 1, (const int64_t[]){200});
  for (int i = 0; i < 1204; i++) ((float *)big->data)[i] = (float)i * 0.25f - 7.0f;
  for (int i = 0; i < 200; i++) ((int64_t *)big2->data)[i] = (int64_t)i * -123456789LL;
  assert_int_equal(pn_onnx_save_file(&ctx, g, inl), PN_OK);
  assert_int_equal(access(dpath, F_OK), -1); /* a small model is saved inline */
  assert_int_equal(pn_onnx_save_file_external(&ctx, g, path, 1), PN_OK);
  assert_int_equal(pn_onnx_load_file(&ctx, path, &h), PN_OK);
  char why[256];
  if (!graph_eq(g, h, why, sizeof why)) fail_msg("%s", why);
  pn_graph_free(h);
  /* the file: big and big2 external, 64-byte aligned, the rest inline; the model shrank by their bytes */
  size_t mn, dn, in;
  uint8_t *mb = slurp(path, &mn), *db = slurp(dpath, &dn), *ib = slurp(inl, &in);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, mn, mb);
  assert_non_null(m);
  const char *names[2] = {"big", "big2"};
  const struct pn_tensor *ts[2] = {big, big2};
  for (int k = 0; k < 2; k++) {
    const Onnx__TensorProto *tp = find_tp(m, names[k]);
    assert_true(tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL);
    assert_false(tp->has_raw_data);
    unsigned long long off = 0, len = 0;
    for (size_t i = 0; i < tp->n_external_data; i++) {
      const Onnx__StringStringEntryProto *e = tp->external_data[i];
      if (!strcmp(e->key, "location")) assert_string_equal(e->value, "m.onnx.data");
      if (!strcmp(e->key, "offset")) off = strtoull(e->value, NULL, 10);
      if (!strcmp(e->key, "length")) len = strtoull(e->value, NULL, 10);
    }
    assert_int_equal(off % 64, 0);
    assert_int_equal(len, pn_tensor_nbytes(ts[k]));
    assert_true(off + len <= dn);
    assert_memory_equal(db + off, ts[k]->data, len); /* the bytes as they are in memory: little-endian */
  }
  assert_true(find_tp(m, "w")->has_raw_data);
  assert_true(in > mn + 6000); /* 6,416 bytes of raw_data moved out, a few entries added */
  onnx__model_proto__free_unpacked(m, NULL);
  /* a model in memory cannot name its folder: refused */
  assert_int_equal(pn_onnx_load(&ctx, mb, mn, &h), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "from its file"));
  free(mb), free(db), free(ib);
  /* entries a hostile or broken file may carry: each refused, naming the tensor */
  static const struct {
    const char *key, *value, *msg;
    int rc;
  } bad[] = {
    {"location", "../m.onnx.data", "not a relative path inside", PN_ERR_CORRUPT},
    {"location", "sub/../../etc/passwd", "not a relative path inside", PN_ERR_CORRUPT},
    {"location", "/etc/passwd", "not a relative path inside", PN_ERR_CORRUPT},
    {"location", "", "without a location", PN_ERR_CORRUPT},
    {"location", NULL, "without a location", PN_ERR_CORRUPT},
    {"location", "nope.data", "nope.data", PN_ERR_IO},
    {"location", "m.onnx", "bytes", PN_ERR_CORRUPT}, /* the model file itself: too short for the range */
    {"offset", "99999999", "the file has", PN_ERR_CORRUPT},
    {"offset", "9999999999999999999", "the file has", PN_ERR_CORRUPT}, /* offset + length past 2^63 */
    {"offset", "18446744073709551615", "not a byte count", PN_ERR_CORRUPT},
    {"offset", "12a", "not a byte count", PN_ERR_CORRUPT},
    {"offset", "-1", "not a byte count", PN_ERR_CORRUPT},
    {"length", "4", "external_data length is 4", PN_ERR_CORRUPT},
    {"basepath", "x", "unknown", PN_ERR_CORRUPT},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(load_edited(path, "big", bad[i].key, bad[i].value, &ctx), bad[i].rc);
    assert_non_null(strstr(pn_errmsg(&ctx), bad[i].msg));
    assert_non_null(strstr(pn_errmsg(&ctx), "'big'"));
  }
  /* the offset entry may be absent (0) and a checksum is allowed: big2 is not at 0, big is */
  assert_int_equal(load_edited(path, "big", "offset", NULL, &ctx), PN_OK);
  assert_int_equal(load_edited(path, "big", "checksum", "da39a3ee", &ctx), PN_OK);
  /* a data file cut short, a symlink instead of the file, the file missing */
  assert_int_equal(truncate(dpath, 4816 + 64), 0);
  assert_int_equal(pn_onnx_load_file(&ctx, path, &h), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "'big2'"));
  snprintf(other, sizeof other, "%s/real.data", dir);
  assert_int_equal(rename(dpath, other), 0);
  assert_int_equal(symlink(other, dpath), 0);
  assert_int_equal(pn_onnx_load_file(&ctx, path, &h), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "symlink"));
  unlink(dpath);
  assert_int_equal(pn_onnx_load_file(&ctx, path, &h), PN_ERR_IO);
  assert_non_null(strstr(pn_errmsg(&ctx), "m.onnx.data"));
  assert_null(h);
  unlink(other), unlink(path), unlink(inl);
  rmdir(dir);
  pn_graph_free(g);
}

/* ---- ONNX's own test models and data ---- */

static void test_testdata_models(void **state) {
  static const char *const folders[] = {"node", "simple", "pytorch-converted"};
  int loaded = 0, unsupported = 0, total = 0, tensors = 0, node_total = 0, node_loaded = 0;
  for (size_t f = 0; f < sizeof folders / sizeof *folders; f++) {
    char fdir[300];
    snprintf(fdir, sizeof fdir, TESTDATA "/%s", folders[f]);
    DIR *dir = opendir(fdir);
    if (!dir) {
      if (f == 0) skip();
      continue;
    }
    struct dirent *e;
    while ((e = readdir(dir))) {
      if (e->d_name[0] == '.') continue;
      char path[600];
      snprintf(path, sizeof path, "%s/%s/model.onnx", fdir, e->d_name);
      struct pn_ctx ctx = {0};
      struct pn_graph *g;
      int rc = pn_onnx_load_file(&ctx, path, &g);
      if (rc == PN_ERR_IO) continue;
      total++;
      node_total += f == 0;
      if (rc == PN_ERR_UNSUPPORTED) {
        unsupported++;
        assert_non_null(strstr(pn_errmsg(&ctx), path));
        continue;
      }
      if (rc) fail_msg("%s", pn_errmsg(&ctx));
      loaded++;
      node_loaded += f == 0;
      struct pn_graph *h = roundtrip(g, NULL, NULL);
      pn_graph_free(h);
      pn_graph_free(g);
      /* the first test data set's tensors: load, save, reload */
      for (int k = 0; k < 4; k++) {
        char tp[700], out[64];
        /* thousands of atomic (fsync'd) writes: on tmpfs when there is one */
        snprintf(out, sizeof out, "%s/pn_test_onnx_pb_XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        snprintf(tp, sizeof tp, "%s/%s/test_data_set_0/%s_%d.pb", fdir, e->d_name,
                 k < 2 ? "input" : "output", k % 2);
        struct pn_tensor *t, *u;
        rc = pn_tensor_load_pb_file(&ctx, tp, &t);
        if (rc) continue; /* absent, or a sequence/optional (not a TensorProto): rejected cleanly */
        int fd = mkstemp(out);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(pn_tensor_save_pb_file(&ctx, t, out), PN_OK);
        assert_int_equal(pn_tensor_load_pb_file(&ctx, out, &u), PN_OK);
        char why[256];
        if (!tensor_eq(t, u, tp, why, sizeof why)) fail_msg("%s", why);
        unlink(out);
        pn_tensor_free(t);
        pn_tensor_free(u);
        tensors++;
      }
    }
    closedir(dir);
  }
  printf("# test models: %d total, %d loaded and round-tripped, %d unsupported; %d tensors\n",
         total, loaded, unsupported, tensors);
  /* the node suite is mostly plain tensor graphs: most must load */
  assert_true(node_total > 500);
  assert_true(node_loaded > node_total * 8 / 10);
  assert_true(tensors > 1000);
}

/* node/test_abs/model.onnx holds: one Abs node x→y, x and y float [3,4,5], opset 13. */
static void test_known_model(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  if (access(TESTDATA "/node/test_abs/model.onnx", R_OK)) skip();
  assert_int_equal(pn_onnx_load_file(&ctx, TESTDATA "/node/test_abs/model.onnx", &g), PN_OK);
  assert_int_equal(g->n_nodes, 1);
  assert_string_equal(g->nodes[0]->op_type, "Abs");
  assert_string_equal(g->nodes[0]->in[0], "x");
  assert_string_equal(g->nodes[0]->out[0], "y");
  assert_string_equal(g->name, "test_abs");
  assert_string_equal(g->producer_name, "backend-test");
  assert_int_equal(g->ir_version, 7);
  assert_int_equal(pn_graph_opset(g, ""), 13);
  assert_int_equal(g->n_inputs, 1);
  assert_int_equal(g->inputs[0].dtype, PN_DT_FLOAT);
  assert_int_equal(g->inputs[0].ndim, 3);
  assert_int_equal(g->inputs[0].dims[2], 5);
  assert_int_equal(g->outputs[0].dims[0], 3);
  pn_graph_free(g);
  struct pn_tensor *t;
  assert_int_equal(
      pn_tensor_load_pb_file(&ctx, TESTDATA "/node/test_abs/test_data_set_0/input_0.pb", &t),
      PN_OK);
  assert_int_equal(t->dtype, PN_DT_FLOAT);
  assert_int_equal(pn_tensor_numel(t), 60);
  pn_tensor_free(t);
}

/* ---- TensorProto decoding, from bytes encoded here by hand or by protobuf-c ---- */

static void test_tensor_bytes_kat(void **state) {
  /* dims [2] (field 1), data_type FLOAT (2), name "w" (8), raw_data 1.0f, -2.5f (9) */
  static const uint8_t pb[] = {0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 'w', 0x4a, 0x08,
                               0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0};
  struct pn_ctx ctx = {0};
  struct pn_tensor *t;
  assert_int_equal(pn_tensor_load_pb(&ctx, pb, sizeof pb, &t), PN_OK);
  assert_string_equal(t->name, "w");
  assert_int_equal(t->ndim, 1);
  assert_int_equal(t->dims[0], 2);
  assert_true(((float *)t->data)[0] == 1.0f && ((float *)t->data)[1] == -2.5f);
  pn_tensor_free(t);
  /* one raw byte short: a count mismatch naming the tensor */
  uint8_t bad[sizeof pb];
  memcpy(bad, pb, sizeof pb);
  bad[8] = 0x07;
  assert_int_equal(pn_tensor_load_pb(&ctx, bad, sizeof pb - 1, &t), PN_ERR_CORRUPT);
  assert_null(t);
  assert_non_null(strstr(pn_errmsg(&ctx), "'w'"));
  /* negative dim: dims = -1 as a 10-byte varint */
  static const uint8_t neg[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                                0x10, 0x01};
  assert_int_equal(pn_tensor_load_pb(&ctx, neg, sizeof neg, &t), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "negative"));
}

/* Pack a TensorProto built with protobuf-c and decode it with privnn. */
static int load_tp(const Onnx__TensorProto *tp, struct pn_ctx *ctx, struct pn_tensor **t) {
  size_t n = onnx__tensor_proto__get_packed_size(tp);
  uint8_t *buf = malloc(n + 1);
  onnx__tensor_proto__pack(tp, buf);
  int rc = pn_tensor_load_pb(ctx, buf, n, t);
  free(buf);
  return rc;
}

static void test_tensor_typed_fields(void **state) {
  struct pn_ctx ctx = {0};
  struct pn_tensor *t;
  int64_t dims[2] = {2, 2};
  Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
  tp.name = "typed";
  tp.n_dims = 2;
  tp.dims = dims;
  tp.has_data_type = 1;

  float fv[4] = {1, -2, 3.5f, NAN};
  tp.data_type = PN_DT_FLOAT;
  tp.n_float_data = 4;
  tp.float_data = fv;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_memory_equal(t->data, fv, sizeof fv);
  pn_tensor_free(t);
  tp.n_float_data = 3; /* count mismatch */
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "'typed'"));
  assert_non_null(strstr(pn_errmsg(&ctx), "float_data"));
  tp.n_float_data = 0;

  int32_t iv[4] = {-128, 127, 255, -1};
  tp.n_int32_data = 4;
  tp.int32_data = iv;
  tp.data_type = PN_DT_INT8;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_int_equal(((int8_t *)t->data)[0], -128);
  assert_int_equal(((int8_t *)t->data)[1], 127);
  assert_int_equal(((int8_t *)t->data)[3], -1);
  pn_tensor_free(t);
  tp.data_type = PN_DT_UINT8;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_int_equal(((uint8_t *)t->data)[2], 255);
  pn_tensor_free(t);
  tp.data_type = PN_DT_BOOL;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  for (int i = 0; i < 4; i++) assert_int_equal(((uint8_t *)t->data)[i], 1);
  pn_tensor_free(t);
  int32_t hv[4] = {0x3c00, 0xc000, 0x7e00, 0}; /* float16 1.0, -2.0, NaN, 0 */
  tp.int32_data = hv;
  tp.data_type = PN_DT_FLOAT16;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_int_equal(((uint16_t *)t->data)[0], 0x3c00);
  assert_int_equal(((uint16_t *)t->data)[1], 0xc000);
  pn_tensor_free(t);
  tp.data_type = PN_DT_INT32;
  tp.int32_data = iv;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_memory_equal(t->data, iv, sizeof iv);
  pn_tensor_free(t);
  tp.data_type = PN_DT_INT64; /* int32_data in an int64 tensor */
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_ERR_CORRUPT);
  tp.n_int32_data = 0;

  int64_t lv[4] = {INT64_MIN, INT64_MAX, 0, -5};
  tp.n_int64_data = 4;
  tp.int64_data = lv;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_memory_equal(t->data, lv, sizeof lv);
  pn_tensor_free(t);
  tp.n_int64_data = 0;

  double dv[4] = {1e300, -1e-300, 0.5, -0.0};
  tp.data_type = PN_DT_DOUBLE;
  tp.n_double_data = 4;
  tp.double_data = dv;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_memory_equal(t->data, dv, sizeof dv);
  pn_tensor_free(t);
  tp.n_double_data = 0;

  uint64_t uv[4] = {UINT64_MAX, 1, 4294967295u, 7};
  tp.data_type = PN_DT_UINT64;
  tp.n_uint64_data = 4;
  tp.uint64_data = uv;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_memory_equal(t->data, uv, sizeof uv);
  pn_tensor_free(t);
  tp.data_type = PN_DT_UINT32;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_int_equal(((uint32_t *)t->data)[2], 4294967295u);
  pn_tensor_free(t);
  tp.n_uint64_data = 0;

  /* no data at all for 4 elements; an empty tensor needs none */
  tp.data_type = PN_DT_FLOAT;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_ERR_CORRUPT);
  dims[1] = 0;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_int_equal(pn_tensor_numel(t), 0);
  pn_tensor_free(t);
  dims[1] = 2;

  /* strings, unknown types, external data, too many dims, absurd sizes */
  tp.data_type = PN_DT_STRING;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_ERR_UNSUPPORTED);
  tp.data_type = 17;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_ERR_UNSUPPORTED);
  tp.data_type = 0;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_ERR_CORRUPT);
  tp.data_type = PN_DT_FLOAT;
  tp.has_data_location = 1;
  tp.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "external"));
  tp.has_data_location = 0;
  int64_t many[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  tp.dims = many;
  tp.n_dims = 9;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_ERR_UNSUPPORTED);
  int64_t huge[3] = {1LL << 40, 1LL << 40, 0};
  tp.dims = huge;
  tp.n_dims = 2;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "absurd"));
  tp.n_dims = 3; /* even with a zero dim, the other dims must stay sane */
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_ERR_CORRUPT);
  int64_t zero[3] = {1LL << 20, 0, 1LL << 20};
  tp.dims = zero;
  assert_int_equal(load_tp(&tp, &ctx, &t), PN_OK);
  assert_int_equal(pn_tensor_numel(t), 0);
  assert_int_equal(t->dims[2], 1LL << 20);
  pn_tensor_free(t);
}

/* ---- corrupt models ---- */

/* A small model with one initializer and one node, as protobuf bytes. */
static uint8_t *small_model(size_t *n) {
  struct pn_graph *g = pn_graph_new();
  const char *in[] = {"x", "w"}, *out[] = {"y"};
  struct pn_node *nd = pn_graph_add_node(g, "MatMul", "mm", 2, in, 1, out);
  pn_node_set_int(g, nd, "unused", 3);
  pn_graph_add_input(g, "x", PN_DT_FLOAT, 2, (const int64_t[]){1, 3});
  pn_graph_add_output(g, "y", PN_DT_FLOAT, 2, (const int64_t[]){1, 2});
  struct pn_tensor *w = pn_graph_new_init(g, "w", PN_DT_FLOAT, 2, (const int64_t[]){3, 2});
  for (int i = 0; i < 6; i++) ((float *)w->data)[i] = (float)i;
  struct pn_ctx ctx = {0};
  uint8_t *buf;
  assert_int_equal(pn_onnx_save(&ctx, g, &buf, n), PN_OK);
  pn_graph_free(g);
  return buf;
}

/* Whatever comes back: a clean error, or a graph that itself round-trips. */
static int load_any(const uint8_t *buf, size_t n) {
  struct pn_ctx ctx = {0};
  struct pn_graph *g = (struct pn_graph *)1;
  int rc = pn_onnx_load(&ctx, buf, n, &g);
  if (rc) {
    assert_null(g);
    assert_true(rc == PN_ERR_CORRUPT || rc == PN_ERR_UNSUPPORTED);
    assert_true(pn_errmsg(&ctx)[0] != 0);
    return rc;
  }
  struct pn_graph *h = roundtrip(g, NULL, NULL);
  pn_graph_free(h);
  pn_graph_free(g);
  return rc;
}

static void test_truncated(void **state) {
  size_t n;
  uint8_t *full = small_model(&n);
  int failed = 0;
  for (size_t len = 0; len < n; len++) {
    uint8_t *p = malloc(len ? len : 1); /* exact size so ASan sees any over-read */
    memcpy(p, full, len);
    if (load_any(p, len)) failed++;
    free(p);
  }
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  assert_int_equal(pn_onnx_load(&ctx, full, 0, &g), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "no graph"));
  /* a prefix only parses when cut exactly between top-level fields; most cuts are errors */
  printf("# truncated: %d of %zu prefixes rejected\n", failed, n);
  assert_true(failed >= (int)n - 8);
  free(full);
}

static void test_byte_flips(void **state) {
  uint64_t seed = test_seed();
  struct pn_ctx ctx = {0};
  struct pn_prg prg;
  assert_int_equal(pn_prg_init_u64(&ctx, &prg, seed), PN_OK);
  size_t n;
  uint8_t *full = small_model(&n);
  uint8_t *p = malloc(n);
  int ok = 0;
  for (int it = 0; it < 3000; it++) {
    memcpy(p, full, n);
    int flips = 1 + (int)pn_prg_uniform(&prg, 4);
    for (int k = 0; k < flips; k++)
      p[pn_prg_uniform(&prg, n)] ^= (uint8_t)(1 + pn_prg_uniform(&prg, 255));
    if (load_any(p, n) == PN_OK) ok++;
  }
  printf("# byte flips: %d of 3000 mutants still loaded (and round-tripped)\n", ok);
  pn_prg_free(&prg);
  free(p);
  free(full);
}

/* Build a ModelProto with protobuf-c around a graph proto the test shapes, pack and load it. */
static int load_gp(Onnx__GraphProto *gp, struct pn_ctx *ctx) {
  Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
  m.has_ir_version = 1;
  m.ir_version = 8;
  m.graph = gp;
  size_t n = onnx__model_proto__get_packed_size(&m);
  uint8_t *buf = malloc(n);
  onnx__model_proto__pack(&m, buf);
  struct pn_graph *g;
  int rc = pn_onnx_load(ctx, buf, n, &g);
  free(buf);
  pn_graph_free(g);
  return rc;
}

static void test_corrupt_models(void **state) {
  struct pn_ctx ctx = {0};
  Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;

  /* initializer with an element-count mismatch */
  int64_t dims[2] = {2, 3};
  float fv[5] = {0};
  Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
  Onnx__TensorProto *tps[1] = {&tp};
  tp.name = "weights";
  tp.n_dims = 2;
  tp.dims = dims;
  tp.has_data_type = 1;
  tp.data_type = PN_DT_FLOAT;
  tp.n_float_data = 5;
  tp.float_data = fv;
  gp.n_initializer = 1;
  gp.initializer = tps;
  assert_int_equal(load_gp(&gp, &ctx), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "graph.initializer[0] 'weights'"));
  dims[1] = -3; /* negative dim */
  assert_int_equal(load_gp(&gp, &ctx), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "negative"));
  gp.n_initializer = 0;

  /* a node with a subgraph attribute: unsupported, naming the node */
  Onnx__GraphProto sub = ONNX__GRAPH_PROTO__INIT;
  Onnx__AttributeProto at = ONNX__ATTRIBUTE_PROTO__INIT;
  Onnx__AttributeProto *ats[2] = {&at, &at};
  at.name = "then_branch";
  at.has_type = 1;
  at.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
  at.g = &sub;
  char *ins[1] = {"cond"}, *outs[1] = {"r"};
  Onnx__NodeProto np = ONNX__NODE_PROTO__INIT;
  Onnx__NodeProto *nps[1] = {&np};
  np.name = "if7";
  np.op_type = "If";
  np.n_input = 1;
  np.input = ins;
  np.n_output = 1;
  np.output = outs;
  np.n_attribute = 1;
  np.attribute = ats;
  gp.n_node = 1;
  gp.node = nps;
  assert_int_equal(load_gp(&gp, &ctx), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "graph.node[0] 'if7' (If)"));
  assert_non_null(strstr(pn_errmsg(&ctx), "then_branch"));
  /* the same attribute twice */
  at.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  at.g = NULL;
  at.has_i = 1;
  np.n_attribute = 2;
  assert_int_equal(load_gp(&gp, &ctx), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "twice"));
  np.n_attribute = 1;
  assert_int_equal(load_gp(&gp, &ctx), PN_OK);
  np.op_type = ""; /* no op type */
  assert_int_equal(load_gp(&gp, &ctx), PN_ERR_CORRUPT);
  np.op_type = "If";

  /* a sequence-typed input: unsupported */
  Onnx__TypeProto elem = ONNX__TYPE_PROTO__INIT, seq_t = ONNX__TYPE_PROTO__INIT;
  Onnx__TypeProto__Sequence seq = ONNX__TYPE_PROTO__SEQUENCE__INIT;
  seq.elem_type = &elem;
  seq_t.value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
  seq_t.sequence_type = &seq;
  Onnx__ValueInfoProto vi = ONNX__VALUE_INFO_PROTO__INIT;
  Onnx__ValueInfoProto *vis[1] = {&vi};
  vi.name = "seq_in";
  vi.type = &seq_t;
  gp.n_input = 1;
  gp.input = vis;
  assert_int_equal(load_gp(&gp, &ctx), PN_ERR_UNSUPPORTED);
  assert_non_null(strstr(pn_errmsg(&ctx), "graph.input[0] 'seq_in'"));
  /* a tensor input with a negative dim_value */
  Onnx__TypeProto tt = ONNX__TYPE_PROTO__INIT;
  Onnx__TypeProto__Tensor ten = ONNX__TYPE_PROTO__TENSOR__INIT;
  Onnx__TensorShapeProto shp = ONNX__TENSOR_SHAPE_PROTO__INIT;
  Onnx__TensorShapeProto__Dimension dim = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
  Onnx__TensorShapeProto__Dimension *dimp[1] = {&dim};
  dim.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
  dim.dim_value = -4;
  shp.n_dim = 1;
  shp.dim = dimp;
  ten.has_elem_type = 1;
  ten.elem_type = PN_DT_FLOAT;
  ten.shape = &shp;
  tt.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tt.tensor_type = &ten;
  vi.type = &tt;
  assert_int_equal(load_gp(&gp, &ctx), PN_ERR_CORRUPT);
  dim.dim_value = 4;
  assert_int_equal(load_gp(&gp, &ctx), PN_OK);
  vi.name = NULL; /* a value without a name */
  assert_int_equal(load_gp(&gp, &ctx), PN_ERR_CORRUPT);
}

/* Messages nested far deeper than any model: refused before protobuf-c recurses into them. */
static void test_deep_nesting(void **state) {
  /* Model.graph(7) → Graph.node(1) → Node.attribute(5) → Attribute.g(6) → Graph.node ... */
  const int levels = 3000;
  size_t cap = (size_t)levels * 24 + 64, len = 0;
  uint8_t *buf = malloc(cap), *tmp = malloc(cap);
  static const uint8_t tags[3] = {(1 << 3) | 2, (5 << 3) | 2, (6 << 3) | 2}; /* node, attr, g */
  for (int i = levels - 1; i >= 0; i--) { /* inside out: the outermost is a node */
    uint8_t tag = tags[i % 3];
    size_t h = 0;
    tmp[h++] = tag;
    size_t v = len;
    do {
      tmp[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      v >>= 7;
    } while (v);
    memmove(buf + h, buf, len);
    memcpy(buf, tmp, h);
    len += h;
  }
  size_t h = 0;
  tmp[h++] = (7 << 3) | 2;
  size_t v = len;
  do {
    tmp[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  memmove(buf + h, buf, len);
  memcpy(buf, tmp, h);
  len += h;
  struct pn_ctx ctx = {0};
  struct pn_graph *g;
  assert_int_equal(pn_onnx_load(&ctx, buf, len, &g), PN_ERR_CORRUPT);
  assert_non_null(strstr(pn_errmsg(&ctx), "nested"));
  free(buf);
  free(tmp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_built),   cmocka_unit_test(test_files), cmocka_unit_test(test_files_large),
      cmocka_unit_test(test_external_data),
      cmocka_unit_test(test_known_model),       cmocka_unit_test(test_testdata_models),
      cmocka_unit_test(test_tensor_bytes_kat),  cmocka_unit_test(test_tensor_typed_fields),
      cmocka_unit_test(test_truncated),         cmocka_unit_test(test_byte_flips),
      cmocka_unit_test(test_corrupt_models),    cmocka_unit_test(test_deep_nesting),
      cmocka_unit_test(test_load_take_corrupt),
  };
  test_seed();
  return cmocka_run_group_tests(tests, NULL, NULL);
}
