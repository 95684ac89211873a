/* onnx_save.c - privnn IR to ONNX ModelProto / TensorProto bytes (protobuf-c from onnx.proto).
**
** The protobuf-c message structs are built in a temporary arena that points at the graph's own
** strings and tensor data (nothing is copied), packed into one malloc'd buffer (or, for files,
** streamed to the file), and the arena is freed. Tensors are written as little-endian raw_data;
** symbolic dims keep their dim_param. A model too large for one protobuf message (2 GiB) is saved with its
** weights in an external data file (PATH.data, ONNX's data_location EXTERNAL), as PyTorch and onnx do. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/onnx.h"
#include "onnx.pb-c.h"
#include "util/arena.h"
#include "util/fileio.h"
#include "util/status.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnx_save.c writes raw_data as little-endian: port the byte swaps first"
#endif

/* protobuf's own limit: most readers refuse messages of 2 GiB and more. */
#define ONNX_MAX_BYTES ((size_t)INT32_MAX)

/* Initializers of ext_min bytes or more go to an external data file (ONNX's data_location EXTERNAL):
** ext_loc is its name relative to the model's folder; ext[] lists them in file order with their offsets. */
#define EXT_ALIGN 64 /* every tensor starts at a multiple of this in the data file */
struct ext_item {
  const struct pn_tensor *t;
  uint64_t offset;
};
struct saver {
  struct pn_ctx *ctx;
  const struct pn_onnx_gen *gen; /* tensors whose bytes are generated while writing (data NULL) */
  int n_gen;
  struct pn_arena *a;
  size_t ext_min; /* 0: every tensor inline */
  const char *ext_loc;
  struct ext_item *ext;
  int n_ext;
  uint64_t ext_end;
};

static int nomem(struct saver *s) { return pn_err(s->ctx, PN_ERR_NOMEM, "out of memory"); }

/* n zeroed items of size sz (at least one, so a valid pointer comes back); NULL = no memory. */
static void *alloc_n(struct saver *s, size_t n, size_t sz) {
  return pn_arena_alloc(s->a, (n ? n : 1) * sz);
}

static int tensor_to_proto(struct saver *s, const struct pn_tensor *t, const char *where,
                           Onnx__TensorProto **out) {
  if (pn_dtype_size(t->dtype) == 0)
    return pn_err(s->ctx, PN_ERR_UNSUPPORTED, "%s: cannot save a %s tensor", where,
                  pn_dtype_name(t->dtype));
  if (t->ndim < 0 || t->ndim > PN_MAX_DIMS)
    return pn_err(s->ctx, PN_ERR_INVALID, "%s: bad rank %d", where, t->ndim);
  for (int i = 0; i < t->ndim; i++)
    if (t->dims[i] < 0)
      return pn_err(s->ctx, PN_ERR_INVALID, "%s: dims[%d] is unknown (%lld)", where, i,
                    (long long)t->dims[i]);
  Onnx__TensorProto *tp = alloc_n(s, 1, sizeof *tp);
  int64_t *dims = alloc_n(s, (size_t)t->ndim, sizeof *dims);
  if (!tp || !dims) return nomem(s);
  onnx__tensor_proto__init(tp);
  if (t->ndim) memcpy(dims, t->dims, (size_t)t->ndim * sizeof *dims);
  tp->n_dims = (size_t)t->ndim;
  tp->dims = dims;
  tp->has_data_type = 1;
  tp->data_type = (int32_t)t->dtype;
  tp->name = (char *)t->name;
  const size_t nb = pn_tensor_nbytes(t);
  *out = tp;
  const uint8_t *data = t->data;
  if (nb && !data) { /* generated while writing: raw_data points at its pn_onnx_gen (see gen_of) */
    for (int i = 0; i < s->n_gen && !data; i++)
      if (s->gen[i].t == t) data = (const uint8_t *)&s->gen[i];
    if (!data) return pn_err(s->ctx, PN_ERR_INVALID, "%s: tensor has no data", where);
  }
  if (!s->ext_min || nb < s->ext_min) {
    tp->has_raw_data = 1;
    tp->raw_data.len = nb;
    tp->raw_data.data = nb ? (uint8_t *)data : NULL;
    return PN_OK;
  }
  /* external: location, offset, length; the bytes are written by write_ext in this order */
  const uint64_t off = (s->ext_end + EXT_ALIGN - 1) / EXT_ALIGN * EXT_ALIGN;
  Onnx__StringStringEntryProto **ep = alloc_n(s, 3, sizeof *ep), *ev = alloc_n(s, 3, sizeof *ev);
  char *num = alloc_n(s, 2, 24);
  if (!ep || !ev || !num) return nomem(s);
  snprintf(num, 24, "%llu", (unsigned long long)off);
  snprintf(num + 24, 24, "%zu", nb);
  const char *kv[3][2] = {{"location", s->ext_loc}, {"offset", num}, {"length", num + 24}};
  for (int i = 0; i < 3; i++) {
    onnx__string_string_entry_proto__init(&ev[i]);
    ev[i].key = (char *)kv[i][0];
    ev[i].value = (char *)kv[i][1];
    ep[i] = &ev[i];
  }
  tp->n_external_data = 3;
  tp->external_data = ep;
  tp->has_data_location = 1;
  tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  s->ext[s->n_ext].t = t;
  s->ext[s->n_ext++].offset = off;
  s->ext_end = off + nb;
  return PN_OK;
}

static int value_to_proto(struct saver *s, const struct pn_value *v, const char *where,
                          Onnx__ValueInfoProto **out) {
  Onnx__ValueInfoProto *vi = alloc_n(s, 1, sizeof *vi);
  if (!vi) return nomem(s);
  onnx__value_info_proto__init(vi);
  vi->name = (char *)v->name;
  vi->doc_string = (char *)v->doc;
  *out = vi;
  if (v->dtype == PN_DT_UNDEFINED && v->ndim < 0) return PN_OK; /* no type known */
  if (v->ndim > PN_MAX_DIMS)
    return pn_err(s->ctx, PN_ERR_INVALID, "%s '%s': bad rank %d", where, v->name, v->ndim);
  Onnx__TypeProto *ty = alloc_n(s, 1, sizeof *ty);
  Onnx__TypeProto__Tensor *tt = alloc_n(s, 1, sizeof *tt);
  if (!ty || !tt) return nomem(s);
  onnx__type_proto__init(ty);
  onnx__type_proto__tensor__init(tt);
  ty->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  ty->tensor_type = tt;
  if (v->dtype != PN_DT_UNDEFINED) {
    tt->has_elem_type = 1;
    tt->elem_type = (int32_t)v->dtype;
  }
  if (v->ndim >= 0) {
    Onnx__TensorShapeProto *sh = alloc_n(s, 1, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dp = alloc_n(s, (size_t)v->ndim, sizeof *dp);
    Onnx__TensorShapeProto__Dimension *dv = alloc_n(s, (size_t)v->ndim, sizeof *dv);
    if (!sh || !dp || !dv) return nomem(s);
    onnx__tensor_shape_proto__init(sh);
    for (int k = 0; k < v->ndim; k++) {
      Onnx__TensorShapeProto__Dimension *d = &dv[k];
      onnx__tensor_shape_proto__dimension__init(d);
      if (v->dim_param[k]) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = (char *)v->dim_param[k];
      } else if (v->dims[k] >= 0) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = v->dims[k];
      }
      dp[k] = d;
    }
    sh->n_dim = (size_t)v->ndim;
    sh->dim = dp;
    tt->shape = sh;
  }
  vi->type = ty;
  return PN_OK;
}

static int attr_to_proto(struct saver *s, const struct pn_attr *a, const char *where,
                         Onnx__AttributeProto **out) {
  Onnx__AttributeProto *ap = alloc_n(s, 1, sizeof *ap);
  if (!ap) return nomem(s);
  onnx__attribute_proto__init(ap);
  ap->name = (char *)a->name;
  ap->has_type = 1;
  ap->type = (Onnx__AttributeProto__AttributeType)a->type;
  if ((a->type == PN_ATTR_FLOATS || a->type == PN_ATTR_INTS || a->type == PN_ATTR_STRINGS) &&
      a->n < 0)
    return pn_err(s->ctx, PN_ERR_INVALID, "%s: negative element count", where);
  switch (a->type) {
  case PN_ATTR_FLOAT:
    ap->has_f = 1;
    ap->f = a->f;
    break;
  case PN_ATTR_INT:
    ap->has_i = 1;
    ap->i = a->i;
    break;
  case PN_ATTR_STRING:
    ap->has_s = 1;
    ap->s.len = a->s ? (size_t)(a->s_len >= 0 ? a->s_len : 0) : 0;
    ap->s.data = (uint8_t *)a->s;
    break;
  case PN_ATTR_TENSOR: {
    if (!a->t)
      return pn_err(s->ctx, PN_ERR_INVALID, "%s: tensor attribute without a tensor", where);
    int rc = tensor_to_proto(s, a->t, where, &ap->t);
    if (rc) return rc;
    break;
  }
  case PN_ATTR_FLOATS:
    ap->n_floats = (size_t)a->n;
    ap->floats = a->floats;
    break;
  case PN_ATTR_INTS:
    ap->n_ints = (size_t)a->n;
    ap->ints = a->ints;
    break;
  case PN_ATTR_STRINGS: {
    ProtobufCBinaryData *b = alloc_n(s, (size_t)a->n, sizeof *b);
    if (!b) return nomem(s);
    for (int64_t j = 0; j < a->n; j++) {
      b[j].data = (uint8_t *)a->strings[j];
      b[j].len = a->strings[j] ? strlen(a->strings[j]) : 0;
    }
    ap->n_strings = (size_t)a->n;
    ap->strings = b;
    break;
  }
  default:
    return pn_err(s->ctx, PN_ERR_UNSUPPORTED, "%s: attribute type %d cannot be saved", where,
                  (int)a->type);
  }
  *out = ap;
  return PN_OK;
}

static int node_to_proto(struct saver *s, const struct pn_node *n, int idx, Onnx__NodeProto **out) {
  char where[512];
  snprintf(where, sizeof where, "graph.node[%d] '%s' (%s)", idx, pn_node_label(n), n->op_type);
  Onnx__NodeProto *np = alloc_n(s, 1, sizeof *np);
  if (!np) return nomem(s);
  onnx__node_proto__init(np);
  np->n_input = (size_t)(n->n_in > 0 ? n->n_in : 0);
  np->input = (char **)n->in;
  np->n_output = (size_t)(n->n_out > 0 ? n->n_out : 0);
  np->output = (char **)n->out;
  np->name = n->name && *n->name ? (char *)n->name : NULL;
  np->op_type = (char *)n->op_type;
  np->domain = n->domain && *n->domain ? (char *)n->domain : NULL;
  np->doc_string = (char *)n->doc;
  if (n->n_attr > 0) {
    np->attribute = alloc_n(s, (size_t)n->n_attr, sizeof *np->attribute);
    if (!np->attribute) return nomem(s);
    for (int k = 0; k < n->n_attr; k++) {
      char aw[640];
      snprintf(aw, sizeof aw, "%s: attribute '%s'", where, n->attr[k].name);
      int rc = attr_to_proto(s, &n->attr[k], aw, &np->attribute[k]);
      if (rc) return rc;
    }
    np->n_attribute = (size_t)n->n_attr;
  }
  *out = np;
  return PN_OK;
}

static int values_to_proto(struct saver *s, const struct pn_value *v, int n, const char *field,
                           size_t *n_out, Onnx__ValueInfoProto ***out) {
  *n_out = 0;
  if (n <= 0) return PN_OK;
  Onnx__ValueInfoProto **arr = alloc_n(s, (size_t)n, sizeof *arr);
  if (!arr) return nomem(s);
  for (int i = 0; i < n; i++) {
    char where[64];
    snprintf(where, sizeof where, "graph.%s[%d]", field, i);
    int rc = value_to_proto(s, &v[i], where, &arr[i]);
    if (rc) return rc;
  }
  *n_out = (size_t)n;
  *out = arr;
  return PN_OK;
}

static int build_model(struct saver *s, const struct pn_graph *g, Onnx__ModelProto *m) {
  onnx__model_proto__init(m);
  m->has_ir_version = 1;
  m->ir_version = g->ir_version;
  m->producer_name = (char *)g->producer_name;
  m->producer_version = (char *)g->producer_version;
  m->domain = (char *)g->domain;
  m->has_model_version = g->model_version != 0;
  m->model_version = g->model_version;
  m->doc_string = (char *)g->model_doc;
  if (g->n_opsets > 0) {
    Onnx__OperatorSetIdProto **op = alloc_n(s, (size_t)g->n_opsets, sizeof *op);
    Onnx__OperatorSetIdProto *ov = alloc_n(s, (size_t)g->n_opsets, sizeof *ov);
    if (!op || !ov) return nomem(s);
    for (int i = 0; i < g->n_opsets; i++) {
      onnx__operator_set_id_proto__init(&ov[i]);
      ov[i].domain = (char *)(g->opsets[i].domain ? g->opsets[i].domain : "");
      ov[i].has_version = 1;
      ov[i].version = g->opsets[i].version;
      op[i] = &ov[i];
    }
    m->n_opset_import = (size_t)g->n_opsets;
    m->opset_import = op;
  }
  if (g->n_meta > 0) {
    Onnx__StringStringEntryProto **mp = alloc_n(s, (size_t)g->n_meta, sizeof *mp);
    Onnx__StringStringEntryProto *mv = alloc_n(s, (size_t)g->n_meta, sizeof *mv);
    if (!mp || !mv) return nomem(s);
    for (int i = 0; i < g->n_meta; i++) {
      onnx__string_string_entry_proto__init(&mv[i]);
      mv[i].key = (char *)g->meta_keys[i];
      mv[i].value = (char *)g->meta_values[i];
      mp[i] = &mv[i];
    }
    m->n_metadata_props = (size_t)g->n_meta;
    m->metadata_props = mp;
  }

  Onnx__GraphProto *gp = alloc_n(s, 1, sizeof *gp);
  if (!gp) return nomem(s);
  onnx__graph_proto__init(gp);
  m->graph = gp;
  gp->name = (char *)g->name;
  gp->doc_string = (char *)g->doc;
  if (g->n_nodes > 0) {
    gp->node = alloc_n(s, (size_t)g->n_nodes, sizeof *gp->node);
    if (!gp->node) return nomem(s);
    for (int i = 0; i < g->n_nodes; i++) {
      int rc = node_to_proto(s, g->nodes[i], i, &gp->node[i]);
      if (rc) return rc;
    }
    gp->n_node = (size_t)g->n_nodes;
  }
  if (g->n_inits > 0) {
    gp->initializer = alloc_n(s, (size_t)g->n_inits, sizeof *gp->initializer);
    if (!gp->initializer) return nomem(s);
    if (s->ext_min && !(s->ext = alloc_n(s, (size_t)g->n_inits, sizeof *s->ext))) return nomem(s);
    for (int i = 0; i < g->n_inits; i++) {
      char where[320];
      snprintf(where, sizeof where, "graph.initializer[%d] '%s'", i,
               g->inits[i]->name ? g->inits[i]->name : "");
      if (!g->inits[i]->name || !*g->inits[i]->name)
        return pn_err(s->ctx, PN_ERR_INVALID, "%s: initializer has no name", where);
      int rc = tensor_to_proto(s, g->inits[i], where, &gp->initializer[i]);
      if (rc) return rc;
    }
    gp->n_initializer = (size_t)g->n_inits;
  }
  int rc = values_to_proto(s, g->inputs, g->n_inputs, "input", &gp->n_input, &gp->input);
  if (!rc) rc = values_to_proto(s, g->outputs, g->n_outputs, "output", &gp->n_output, &gp->output);
  if (!rc) rc = values_to_proto(s, g->vinfo, g->n_vinfo, "value_info", &gp->n_value_info,
                                &gp->value_info);
  return rc;
}

/* Pack a built message into a malloc'd buffer. */
static int pack(struct pn_ctx *ctx, const ProtobufCMessage *msg, uint8_t **buf, size_t *n) {
  size_t size = protobuf_c_message_get_packed_size(msg);
  if (size > ONNX_MAX_BYTES)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%zu bytes: protobuf messages are limited to 2 GiB",
                  size);
  uint8_t *b = malloc(size ? size : 1);
  if (!b) return pn_err(ctx, PN_ERR_NOMEM, "cannot allocate %zu bytes", size);
  size_t got = protobuf_c_message_pack(msg, b);
  if (got != size) {
    free(b);
    return pn_err(ctx, PN_ERR_INVALID, "protobuf packing wrote %zu bytes, expected %zu", got, size);
  }
  *buf = b;
  *n = size;
  return PN_OK;
}

int pn_onnx_save(struct pn_ctx *ctx, const struct pn_graph *g, uint8_t **buf, size_t *n) {
  *buf = NULL;
  *n = 0;
  struct saver s = {.ctx = ctx, .a = pn_arena_new()};
  if (!s.a) return nomem(&s);
  Onnx__ModelProto m;
  int rc = build_model(&s, g, &m);
  if (!rc) rc = pack(ctx, &m.base, buf, n);
  pn_arena_free(s.a);
  return rc;
}

/* protobuf-c output that goes straight to a stdio stream: small fields gather in the stream's
** buffer, large ones (tensor raw_data, appended by protobuf-c from the tensor itself) are written
** from the graph's memory by fwrite without a copy. */
struct file_sink {
  ProtobufCBuffer base;
  struct pn_atomic_file *af;
  int err;
  const struct saver *s;
  uint8_t *chunk;              /* GEN_CHUNK bytes, for generated tensors */
};

/* Generated tensors' bytes are made GEN_CHUNK at a time into one reused buffer and written from it:
** no memory of the tensor's size is touched. A multiple of 4 * PN_PRG_NORMAL_BLOCK bytes, so that
** normal draws made chunk by chunk are the draws made at once. */
#define GEN_CHUNK ((size_t)1 << 20)

/* The pn_onnx_gen a raw_data pointer stands for, or NULL for real data. */
static const struct pn_onnx_gen *gen_of(const struct saver *s, const uint8_t *data) {
  if (!s || !s->n_gen) return NULL;
  uintptr_t lo = (uintptr_t)s->gen, hi = (uintptr_t)(s->gen + s->n_gen), d = (uintptr_t)data;
  if (d < lo || d >= hi) return NULL;
  return &s->gen[(d - lo) / sizeof *s->gen];
}

/* Write len bytes of g's tensor to af, generated chunk by chunk; 0 or an errno value. */
static int write_gen(const struct pn_onnx_gen *g, size_t len, uint8_t *chunk, struct pn_atomic_file *af) {
  for (size_t off = 0; off < len; off += GEN_CHUNK) {
    size_t m = len - off < GEN_CHUNK ? len - off : GEN_CHUNK;
    if (g->fill(g->user, chunk, off, m)) return ENOMEM;
    if (fwrite(chunk, 1, m, af->f) != m) return errno ? errno : EIO;
    pn_atomic_behind(af);
  }
  return 0;
}

/* Large fields (weights) are written from the graph a window at a time, so pn_atomic_behind keeps
** up with them (a 94 MB embedding is three windows). */
static int write_real(const uint8_t *data, size_t len, struct pn_atomic_file *af) {
  for (size_t off = 0; off < len; off += PN_ATOMIC_BEHIND_WINDOW) {
    size_t m = len - off < PN_ATOMIC_BEHIND_WINDOW ? len - off : (size_t)PN_ATOMIC_BEHIND_WINDOW;
    if (fwrite(data + off, 1, m, af->f) != m) return errno ? errno : EIO;
    pn_atomic_behind(af);
  }
  return 0;
}

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
  struct file_sink *s = (struct file_sink *)b;
  if (s->err || !len) return;
  const struct pn_onnx_gen *g = gen_of(s->s, data);
  s->err = g ? write_gen(g, len, s->chunk, s->af) : write_real(data, len, s->af);
}

#define SAVE_STREAM_BUF ((size_t)1 << 16)
/* Models from this size on are written with O_DIRECT (pn_atomic_open_direct). */
#define SAVE_DIRECT_MIN ((size_t)1 << 20)

/* The external data file: every listed tensor at its offset, zeros between (alignment). */
static int write_ext(struct pn_ctx *ctx, const struct saver *s, const char *dpath, bool durable,
                     uint8_t *chunk) {
  struct pn_atomic_file af = {0};
  int rc = pn_atomic_open_direct(ctx, &af, dpath, 0644);
  if (rc) return rc;
  static const uint8_t zeros[EXT_ALIGN];
  uint64_t at = 0;
  for (int i = 0; i < s->n_ext && !rc; i++) {
    const struct pn_tensor *t = s->ext[i].t;
    const size_t nb = pn_tensor_nbytes(t);
    const struct pn_onnx_gen *g = NULL;
    for (int j = 0; j < s->n_gen && !t->data && !g; j++)
      if (s->gen[j].t == t) g = &s->gen[j];
    int e = s->ext[i].offset > at && fwrite(zeros, 1, s->ext[i].offset - at, af.f) != s->ext[i].offset - at
                ? (errno ? errno : EIO)
                : 0;
    if (!e) e = g ? write_gen(g, nb, chunk, &af) : write_real(t->data, nb, &af);
    if (e) rc = pn_err(ctx, PN_ERR_IO, "%s: write failed: %s", dpath, strerror(e));
    at = s->ext[i].offset + nb;
  }
  if (rc) {
    pn_atomic_abort(&af);
    return rc;
  }
  return durable ? pn_atomic_commit(ctx, &af) : pn_atomic_commit_nosync(ctx, &af);
}

/* The top graph's initializers' bytes: a lower bound of the message's size. */
static size_t init_bytes(const struct pn_graph *g) {
  size_t b = 0;
  for (int i = 0; i < g->n_inits; i++) b += pn_tensor_nbytes(g->inits[i]);
  return b;
}

/* ext_min 0: inline, unless the message would pass protobuf's 2 GiB limit; then (or with ext_min > 0) the
** initializers of at least max(ext_min, 1 KiB) bytes go to PATH.data beside the model. Weights that alone pass
** the limit go outside from the start; otherwise the message is built inline, measured and, if too large,
** built again with external weights. */
static int save_file(struct pn_ctx *ctx, const struct pn_graph *g, const char *path, bool durable, size_t ext_min,
                     const struct pn_onnx_gen *gen, int n_gen) {
  if (!ext_min && init_bytes(g) > ONNX_MAX_BYTES) ext_min = 1024;
  struct saver s = {.ctx = ctx, .a = pn_arena_new(), .ext_min = ext_min, .gen = gen, .n_gen = n_gen};
  if (!s.a) return nomem(&s);
  Onnx__ModelProto m;
  struct pn_atomic_file af = {0};
  struct file_sink sink = {.base = {.append = sink_append}};
  char *dpath = NULL;
  uint8_t *chunk = NULL;
  if (n_gen && !(chunk = malloc(GEN_CHUNK))) {
    pn_arena_free(s.a);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  int rc = *base ? PN_OK : pn_err(ctx, PN_ERR_INVALID, "%s: not a file name", path);
  if (!rc && !(dpath = malloc(strlen(path) + 6))) rc = nomem(&s);
  if (!rc) {
    sprintf(dpath, "%s.data", path);
    s.ext_loc = dpath + (base - path);
    if (s.ext_min && s.ext_min < 1024) s.ext_min = 1024;
    rc = build_model(&s, g, &m);
  }
  size_t size = rc ? 0 : protobuf_c_message_get_packed_size(&m.base);
  if (!rc && size > ONNX_MAX_BYTES && !s.ext_min) { /* too large for one message: the weights go outside */
    pn_arena_free(s.a);
    s = (struct saver){.ctx = ctx, .a = pn_arena_new(), .ext_min = 1024, .ext_loc = s.ext_loc, .gen = gen,
                       .n_gen = n_gen};
    rc = s.a ? build_model(&s, g, &m) : nomem(&s);
    size = rc ? 0 : protobuf_c_message_get_packed_size(&m.base);
  }
  if (!rc && size > ONNX_MAX_BYTES)
    rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "%zu bytes: protobuf messages are limited to 2 GiB", size);
  if (rc) {
    pn_err_prefix(ctx, "%s", path);
    goto out;
  }
  /* the data file first: the model that names it is only put in place once it is complete */
  if (s.n_ext && (rc = write_ext(ctx, &s, dpath, durable, chunk))) goto out;
  /* a model of weights (a bundle file, a saved network) is written past the page cache */
  if ((rc = (size >= SAVE_DIRECT_MIN ? pn_atomic_open_direct : pn_atomic_open)(ctx, &af, path, 0644))) goto out;
  setvbuf(af.f, NULL, _IOFBF, SAVE_STREAM_BUF);
  sink.af = &af;
  sink.s = &s;
  sink.chunk = chunk;
  size_t got = protobuf_c_message_pack_to_buffer(&m.base, &sink.base);
  if (sink.err || got != size) {
    rc = sink.err ? pn_err(ctx, PN_ERR_IO, "%s: write failed: %s", path, strerror(sink.err))
                  : pn_err(ctx, PN_ERR_INVALID, "%s: protobuf packing wrote %zu bytes, expected %zu",
                           path, got, size);
    pn_atomic_abort(&af);
    goto out;
  }
  rc = durable ? pn_atomic_commit(ctx, &af) : pn_atomic_commit_nosync(ctx, &af);
out:
  pn_arena_free(s.a);
  free(dpath);
  free(chunk);
  return rc;
}

int pn_onnx_save_file(struct pn_ctx *ctx, const struct pn_graph *g, const char *path) {
  return save_file(ctx, g, path, true, 0, NULL, 0);
}

int pn_onnx_save_file_nosync(struct pn_ctx *ctx, const struct pn_graph *g, const char *path) {
  return save_file(ctx, g, path, false, 0, NULL, 0);
}

int pn_onnx_save_file_gen_nosync(struct pn_ctx *ctx, const struct pn_graph *g, const char *path,
                                 const struct pn_onnx_gen *gen, int n_gen) {
  return save_file(ctx, g, path, false, 0, gen, n_gen);
}

int pn_onnx_save_file_external(struct pn_ctx *ctx, const struct pn_graph *g, const char *path, size_t min_bytes) {
  return save_file(ctx, g, path, true, min_bytes ? min_bytes : 1, NULL, 0);
}

int pn_tensor_save_pb(struct pn_ctx *ctx, const struct pn_tensor *t, uint8_t **buf, size_t *n) {
  *buf = NULL;
  *n = 0;
  struct saver s = {.ctx = ctx, .a = pn_arena_new()};
  if (!s.a) return nomem(&s);
  Onnx__TensorProto *tp;
  int rc = tensor_to_proto(&s, t, "tensor", &tp);
  if (!rc) rc = pack(ctx, &tp->base, buf, n);
  pn_arena_free(s.a);
  return rc;
}

int pn_tensor_save_pb_file(struct pn_ctx *ctx, const struct pn_tensor *t, const char *path) {
  uint8_t *buf;
  size_t n;
  int rc = pn_tensor_save_pb(ctx, t, &buf, &n);
  if (rc) {
    pn_err_prefix(ctx, "%s", path);
    return rc;
  }
  rc = pn_write_file_atomic(ctx, path, buf, n, 0644);
  free(buf);
  return rc;
}
