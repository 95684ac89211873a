/* onnx_load.c - ONNX ModelProto / TensorProto bytes to privnn IR (protobuf-c from onnx.proto).
**
** The input is first walked once against the protobuf-c message descriptors to bound its nesting
** depth (protobuf-c's unpacker recurses without a limit), then unpacked with protobuf-c and
** converted field by field into a pn_graph whose strings, attributes and tensors live in the
** graph's arena. The unpacked message is freed on every path. Nothing here trusts a count or a
** size from the file before checking it against the bytes actually present, and every failure
** names the field at fault: "graph.node[3] 'conv3' (Conv): attribute 'value': ...".
**
** What is refused: subgraph attributes (If/Loop/Scan), tensor lists, sparse tensors, type protos
** (PN_ERR_UNSUPPORTED); non-tensor value types (sequence, map, optional); string tensors; external
** data in a buffer load (only a file has a folder to find it in). Model-local functions and training info
** are not carried into the IR. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/onnx.h"
#include "onnx.pb-c.h"
#include "util/arena.h"
#include "util/fileio.h"
#include "util/status.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnx_load.c copies raw_data as little-endian: port the byte swaps first"
#endif

/* Deepest message nesting accepted. ONNX models nest Model > Graph > Node > Attribute > Graph ...
** and Type > Sequence > Type ...; real models stay far below this. */
#define ONNX_MAX_DEPTH 100
/* Largest element count of one tensor (as in tensor.c): anything above is a corrupt shape. */
#define ONNX_MAX_NUMEL ((int64_t)1 << 40)

/* ---- nesting-depth guard ---- */

static bool read_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v) {
  uint64_t r = 0;
  for (unsigned s = 0; s < 64 && *pos < n; s += 7) {
    uint8_t b = p[(*pos)++];
    r |= (uint64_t)(b & 0x7f) << s;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

/* The next field of buf[0..n) at *pos: its number, wire type and payload [*pl, *pl + *plen) (for
** length-delimited fields; else the payload's bytes as they are). false on anything malformed or a
** group (ONNX has none), and the caller then parses the buffer as it is. */
static bool next_field(const uint8_t *buf, size_t n, size_t *pos, uint64_t *num, unsigned *wt,
                       size_t *pl, size_t *plen) {
  uint64_t key, v;
  if (!read_varint(buf, n, pos, &key)) return false;
  *num = key >> 3;
  *wt = (unsigned)(key & 7);
  *pl = *pos;
  switch (*wt) {
  case 0:
    if (!read_varint(buf, n, pos, &v)) return false;
    break;
  case 1:
    if (n - *pos < 8) return false;
    *pos += 8;
    break;
  case 5:
    if (n - *pos < 4) return false;
    *pos += 4;
    break;
  case 2:
    if (!read_varint(buf, n, pos, &v) || v > n - *pos) return false;
    *pl = *pos;
    *pos += (size_t)v;
    break;
  default:
    return false;
  }
  *plen = *pos - *pl;
  return true;
}

/* Walk buf[0..n) as message d, descending only into fields the schema says are messages. A
** malformed encoding ends the walk (protobuf-c reports it); false only when nesting exceeds
** ONNX_MAX_DEPTH. Each byte is visited once, so this is linear in n. */
static bool depth_ok(const uint8_t *buf, size_t n, const ProtobufCMessageDescriptor *d, int depth) {
  if (depth > ONNX_MAX_DEPTH) return false;
  size_t pos = 0, pl, plen;
  uint64_t num;
  unsigned wt;
  while (pos < n) {
    if (!next_field(buf, n, &pos, &num, &wt, &pl, &plen)) return true;
    if (wt != 2) continue;
    const ProtobufCFieldDescriptor *f =
        num <= UINT_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)num) : NULL;
    if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && !depth_ok(buf + pl, plen, f->descriptor, depth + 1))
      return false;
  }
  return true;
}

/* ---- weights left in the caller's buffer (pn_onnx_load_ref) ---- */

/* A float initializer's raw_data left out of the message protobuf-c parses: its bytes in the
** caller's buffer, and the initializer's index in graph.initializer. */
struct raw_ref {
  size_t init;
  const uint8_t *p;
  size_t len;
};

struct strip {
  uint8_t *out;            /* NULL while sizing */
  size_t o;                /* bytes emitted (or counted) */
  size_t min;              /* raw_data from this size is left out */
  struct raw_ref *refs;    /* recorded on the emitting pass */
  size_t n_refs, cap_refs, n_init;
};

static void emit(struct strip *s, const uint8_t *p, size_t n) {
  if (s->out && n) memcpy(s->out + s->o, p, n);
  s->o += n;
}

static void emit_varint(struct strip *s, uint64_t v) {
  uint8_t b[10];
  size_t n = 0;
  do {
    b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  emit(s, b, n);
}

/* A TensorProto: every field as it is, except one float raw_data of s->min bytes or more, which
** becomes empty (recorded as a raw_ref when emitting). false: malformed (see next_field). */
static bool strip_tensor(struct strip *s, const uint8_t *b, size_t n, bool record) {
  size_t pos = 0, pl, plen, raw_at = 0, raw_len = 0, raw_field = 0;
  uint64_t num, dtype = 0;
  unsigned wt;
  int n_raw = 0;
  while (pos < n) {
    size_t at = pos;
    if (!next_field(b, n, &pos, &num, &wt, &pl, &plen)) return false;
    if (num == 2 && wt == 0) {
      size_t q = pl;
      if (!read_varint(b, n, &q, &dtype)) return false;
    }
    if (num == 9 && wt == 2) {
      n_raw++;
      raw_field = at;
      raw_at = pl;
      raw_len = plen;
    }
  }
  bool take = n_raw == 1 && dtype == PN_DT_FLOAT && raw_len >= s->min;
  if (!take) {
    emit(s, b, n);
    return true;
  }
  if (record && s->out) {
    if (s->n_refs == s->cap_refs) {
      size_t cap = s->cap_refs ? 2 * s->cap_refs : 64;
      struct raw_ref *r = realloc(s->refs, cap * sizeof *r);
      if (!r) return false;
      s->refs = r;
      s->cap_refs = cap;
    }
    s->refs[s->n_refs++] = (struct raw_ref){s->n_init, b + raw_at, raw_len};
  }
  emit(s, b, raw_field);                    /* the fields before raw_data */
  emit_varint(s, 9 << 3 | 2);               /* an empty raw_data: the message still has one */
  emit_varint(s, 0);
  emit(s, b + raw_at + raw_len, n - (raw_at + raw_len)); /* and after it */
  return true;
}

/* A length-delimited field holding a message: its tag, its new length and its new bytes. */
static bool strip_sub(struct strip *s, uint64_t num, const uint8_t *b, size_t n,
                      bool (*fn)(struct strip *, const uint8_t *, size_t, bool)) {
  struct strip sz = *s;
  sz.out = NULL;
  sz.o = 0;
  if (!fn(&sz, b, n, false)) return false;
  emit_varint(s, num << 3 | 2);
  emit_varint(s, sz.o);
  return fn(s, b, n, true);
}

/* A message: its length-delimited fields numbered sub through fn (strip_sub), counted in *count,
** every other field as it is. */
static bool strip_fields(struct strip *s, const uint8_t *b, size_t n, uint64_t sub,
                         bool (*fn)(struct strip *, const uint8_t *, size_t, bool), size_t *count) {
  size_t pos = 0, pl, plen;
  uint64_t num;
  unsigned wt;
  while (pos < n) {
    size_t at = pos;
    if (!next_field(b, n, &pos, &num, &wt, &pl, &plen)) return false;
    if (num == sub && wt == 2) {
      if (!strip_sub(s, num, b + pl, plen, fn)) return false;
      ++*count;
    } else {
      emit(s, b + at, pos - at);
    }
  }
  return true;
}

/* A GraphProto: initializers (field 5) through strip_tensor, numbered in s->n_init when recording. */
static bool strip_graph(struct strip *s, const uint8_t *b, size_t n, bool record) {
  size_t sizing = 0;
  return strip_fields(s, b, n, 5, strip_tensor, record ? &s->n_init : &sizing);
}

/* A ModelProto with one graph (field 7; a second one would be merged by protobuf, and the
** initializers' indices with it: not stripped). */
static bool strip_model(struct strip *s, const uint8_t *b, size_t n) {
  size_t graphs = 0;
  return strip_fields(s, b, n, 7, strip_graph, &graphs) && graphs <= 1;
}

/* buf without the raw_data of its float initializers from min bytes (*out, malloc'd, and the
** table of what was left out, in initializer order), or *out NULL when nothing was left out or
** buf is not well formed enough to rewrite (then parsed as it is; protobuf-c says what is wrong).
** PN_ERR_NOMEM when out of memory. */
static int strip_raw(const uint8_t *buf, size_t n, size_t min, uint8_t **out, size_t *out_n,
                     struct raw_ref **refs, size_t *n_refs) {
  *out = NULL;
  *refs = NULL;
  *n_refs = 0;
  struct strip s = {.min = min};
  if (!strip_model(&s, buf, n) || s.o == n) return PN_OK;
  if (!(s.out = malloc(s.o ? s.o : 1))) return PN_ERR_NOMEM;
  size_t want = s.o;
  s.o = 0;
  s.n_init = 0;
  if (!strip_model(&s, buf, n) || s.o != want) { /* only when out of memory for the table */
    free(s.out);
    free(s.refs);
    return PN_ERR_NOMEM;
  }
  *out = s.out;
  *out_n = s.o;
  *refs = s.refs;
  *n_refs = s.n_refs;
  return PN_OK;
}

/* ---- tensors ---- */

/* The typed TensorProto field each dtype is stored in when raw_data is absent. */
enum field { F_FLOAT, F_INT32, F_INT64, F_DOUBLE, F_UINT64, F_COUNT };
static const char *const field_names[F_COUNT] = {"float_data", "int32_data", "int64_data",
                                                 "double_data", "uint64_data"};

static enum field dtype_field(enum pn_dtype dt, int *per_elem) {
  *per_elem = 1;
  switch (dt) {
  case PN_DT_FLOAT: return F_FLOAT;
  case PN_DT_COMPLEX64: *per_elem = 2; return F_FLOAT;
  case PN_DT_INT64: return F_INT64;
  case PN_DT_DOUBLE: return F_DOUBLE;
  case PN_DT_COMPLEX128: *per_elem = 2; return F_DOUBLE;
  case PN_DT_UINT32: case PN_DT_UINT64: return F_UINT64;
  default: return F_INT32; /* int32, int16, int8, uint16, uint8, bool, float16, bfloat16 */
  }
}

/* A decimal u64 of at most 19 digits, nothing else. */
static bool parse_u64(const char *v, uint64_t *out) {
  size_t n = strlen(v);
  if (!n || n > 19) return false;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return false;
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  *out = x;
  return true;
}

/* An external tensor's entries checked (location inside dir, offset, length == nbytes) and its file opened
** with the range inside it: *fd to pread offset..offset+nbytes from. Nothing is allocated before this. */
static int ext_open(struct pn_ctx *ctx, const Onnx__TensorProto *tp, const char *dir, const char *at,
                    size_t nbytes, int *fd, uint64_t *offset) {
  *fd = -1;
  if (!dir)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: external data cannot be read from a model in memory (load the "
                  "model from its file)", at);
  if (tp->has_data_location && tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: external_data in a tensor whose data_location is not EXTERNAL", at);
  if (tp->has_raw_data || tp->n_float_data || tp->n_int32_data || tp->n_int64_data || tp->n_double_data ||
      tp->n_uint64_data || tp->n_string_data)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: external data and data in the file both given", at);
  const char *loc = NULL;
  uint64_t off = 0, len = nbytes;
  bool seen[3] = {false, false, false};
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const char *k = tp->external_data[i]->key ? tp->external_data[i]->key : "";
    const char *v = tp->external_data[i]->value ? tp->external_data[i]->value : "";
    int which = !strcmp(k, "location") ? 0 : !strcmp(k, "offset") ? 1 : !strcmp(k, "length") ? 2 : -1;
    if (which < 0 && !strcmp(k, "checksum")) continue; /* SHA-1 of the bytes, optional; not verified */
    if (which < 0) return pn_err(ctx, PN_ERR_CORRUPT, "%s: external_data key '%.64s' is unknown", at, k);
    if (seen[which]) return pn_err(ctx, PN_ERR_CORRUPT, "%s: external_data key '%s' given twice", at, k);
    seen[which] = true;
    if (which == 0) loc = v;
    else if (!parse_u64(v, which == 1 ? &off : &len))
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: external_data '%s' is not a byte count: '%.64s'", at, k, v);
  }
  if (!loc || !*loc) return pn_err(ctx, PN_ERR_CORRUPT, "%s: external data without a location", at);
  /* inside the model's folder: relative, no ".." component, no NUL tricks (protobuf strings hold none) */
  bool up = false;
  for (const char *c = loc; *c; c = strchr(c, '/') ? strchr(c, '/') + 1 : c + strlen(c))
    if (!strncmp(c, "..", 2) && (c[2] == '/' || !c[2])) up = true;
  if (loc[0] == '/' || up || strchr(loc, '\\') || strlen(loc) > 1024)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: external data location '%.128s' is not a relative path inside the "
                  "model's folder", at, loc);
  if (len != nbytes)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: dims need %zu bytes, external_data length is %llu", at, nbytes,
                  (unsigned long long)len);
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", dir, loc) >= (int)sizeof path)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: external data path too long", at);
  int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (f < 0)
    return pn_err(ctx, errno == ELOOP ? PN_ERR_CORRUPT : PN_ERR_IO, "%s: external data file '%s': %s", at, loc,
                  errno == ELOOP ? "is a symlink" : strerror(errno));
  struct stat st;
  int rc = PN_OK;
  if (fstat(f, &st) || !S_ISREG(st.st_mode))
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: external data file '%s' is not a regular file", at, loc);
  else if (off > (uint64_t)st.st_size || nbytes > (uint64_t)st.st_size - off)
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: external data '%s' bytes %llu..%llu, the file has %lld", at, loc,
                (unsigned long long)off, (unsigned long long)(off + nbytes), (long long)st.st_size);
  if (rc) {
    close(f);
    return rc;
  }
  *fd = f;
  *offset = off;
  return PN_OK;
}

static int ext_read(struct pn_ctx *ctx, int fd, uint64_t off, void *dst, size_t n, const char *at) {
  for (uint8_t *p = dst; n;) {
    ssize_t r = pread(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return pn_err(ctx, PN_ERR_IO, "%s: reading external data: %s", at, r ? strerror(errno) : "file shrank");
    p += r, n -= (size_t)r, off += (uint64_t)r;
  }
  return PN_OK;
}

/* From this size a tensor decoded with adopt takes over the message's bytes instead of copying them. */
#define ADOPT_MIN_BYTES ((size_t)64 << 10)

/* Convert tp into a tensor in arena, or on the heap when arena is NULL. where names the field
** ("graph.initializer[2]") for messages; the tensor's own name is appended. dir: the model's folder, for
** external data (NULL: refused). adopt: a large tensor decoded into arena takes over tp's raw_data
** (left NULL) instead of copying it (pn_onnx_load_adopt). ref: tp's raw_data, left out of the
** parsed message, is these bytes of the caller's buffer, which the tensor points into (arena only). */
static int decode_tensor(struct pn_ctx *ctx, Onnx__TensorProto *tp, struct pn_arena *arena,
                         const char *where, const char *dir, bool adopt, const struct raw_ref *ref,
                         struct pn_tensor **out) {
  *out = NULL;
  char at[384];
  if (tp->name && *tp->name) snprintf(at, sizeof at, "%s '%s'", where, tp->name);
  else snprintf(at, sizeof at, "%s", where);

  const bool external =
    (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
    tp->n_external_data > 0;
  if (tp->segment)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: segmented tensors are not supported", at);
  if (tp->n_dims > PN_MAX_DIMS)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: %zu dims, more than privnn's maximum of %d", at,
                  tp->n_dims, PN_MAX_DIMS);
  int ndim = (int)tp->n_dims;
  int64_t numel = 1;
  for (int i = 0; i < ndim; i++)
    if (tp->dims[i] < 0)
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: dims[%d] is negative (%lld)", at, i,
                    (long long)tp->dims[i]);
  /* the product of the non-zero dims is bounded too (as in tensor.c), even when a dim is 0 */
  bool empty = false;
  for (int i = 0; i < ndim; i++) {
    if (tp->dims[i] == 0) empty = true;
    else if (tp->dims[i] > ONNX_MAX_NUMEL / numel)
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: absurd size (dims overflow at dims[%d] = %lld)", at,
                    i, (long long)tp->dims[i]);
    else numel *= tp->dims[i];
  }
  if (empty) numel = 0;
  if (!tp->has_data_type || tp->data_type == PN_DT_UNDEFINED)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: data_type is missing", at);
  if (tp->data_type < 0 || tp->data_type >= PN_DT_COUNT)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: data_type %d is not supported", at,
                  (int)tp->data_type);
  enum pn_dtype dt = (enum pn_dtype)tp->data_type;
  size_t esize = pn_dtype_size(dt);
  if (esize == 0)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: %s tensors are not supported", at,
                  pn_dtype_name(dt));
  if (tp->n_string_data > 0)
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: string_data in a %s tensor", at, pn_dtype_name(dt));

  size_t counts[F_COUNT] = {tp->n_float_data, tp->n_int32_data, tp->n_int64_data,
                            tp->n_double_data, tp->n_uint64_data};
  int per_elem;
  enum field want = dtype_field(dt, &per_elem);
  for (int f = 0; f < F_COUNT; f++)
    if (counts[f] && (tp->has_raw_data || f != (int)want))
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: %s present in a %s tensor%s", at, field_names[f],
                    pn_dtype_name(dt), tp->has_raw_data ? " that has raw_data" : "");
  size_t nbytes = (size_t)numel * esize;
  int efd = -1;
  uint64_t eoff = 0;
  if (external) {
    int rc = ext_open(ctx, tp, dir, at, nbytes, &efd, &eoff);
    if (rc) return rc;
  } else if (tp->has_raw_data) {
    size_t raw_len = ref ? ref->len : tp->raw_data.len;
    if (raw_len != nbytes)
      return pn_err(ctx, PN_ERR_CORRUPT,
                    "%s: dims need %lld elements (%zu bytes), raw_data has %zu bytes", at,
                    (long long)numel, nbytes, raw_len);
  } else if (counts[want] != (size_t)numel * (size_t)per_elem) {
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: dims need %lld elements, %s has %zu values", at,
                  (long long)numel, field_names[want], counts[want] / (size_t)per_elem);
  }

  struct pn_tensor *t;
  if (ref && arena && !external && tp->has_raw_data) {
    if (!(t = pn_tensor_ref_arena(arena, tp->name, dt, ndim, tp->dims, ref->p)))
      return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", at);
    *out = t;
    return PN_OK;
  }
  if (adopt && arena && !external && tp->has_raw_data && nbytes >= ADOPT_MIN_BYTES &&
      (uintptr_t)tp->raw_data.data % 16 == 0) {
    /* protobuf-c's copy of the bytes (malloc'd) becomes the tensor's: the weights in fresh memory
    ** once, not twice */
    if (!(t = pn_tensor_adopt_arena(arena, tp->name, dt, ndim, tp->dims, tp->raw_data.data)))
      return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory", at);
    tp->raw_data.data = NULL;
    tp->raw_data.len = 0;
    *out = t;
    return PN_OK;
  }
  if (arena) {
    t = pn_tensor_new_arena(arena, tp->name, dt, ndim, tp->dims);
  } else {
    t = pn_tensor_new(dt, ndim, tp->dims);
    if (t && tp->name && !(t->name = strdup(tp->name))) {
      pn_tensor_free(t);
      t = NULL;
    }
  }
  if (!t) {
    if (efd >= 0) close(efd);
    return pn_err(ctx, PN_ERR_NOMEM, "%s: out of memory for %zu bytes", at, nbytes);
  }

  if (external) {
    int rc = ext_read(ctx, efd, eoff, t->data, nbytes, at);
    close(efd);
    if (rc) {
      if (!arena) pn_tensor_free(t);
      return rc;
    }
  } else if (tp->has_raw_data) {
    if (nbytes) memcpy(t->data, tp->raw_data.data, nbytes);
  } else if (numel > 0) {
    size_t cnt = (size_t)numel;
    switch (dt) {
    case PN_DT_FLOAT: case PN_DT_COMPLEX64:
      memcpy(t->data, tp->float_data, cnt * esize);
      break;
    case PN_DT_DOUBLE: case PN_DT_COMPLEX128:
      memcpy(t->data, tp->double_data, cnt * esize);
      break;
    case PN_DT_INT64:
      memcpy(t->data, tp->int64_data, cnt * esize);
      break;
    case PN_DT_INT32:
      memcpy(t->data, tp->int32_data, cnt * esize);
      break;
    case PN_DT_UINT64:
      memcpy(t->data, tp->uint64_data, cnt * esize);
      break;
    case PN_DT_UINT32:
      for (size_t i = 0; i < cnt; i++) ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i];
      break;
    case PN_DT_INT16:
      for (size_t i = 0; i < cnt; i++) ((int16_t *)t->data)[i] = (int16_t)tp->int32_data[i];
      break;
    case PN_DT_UINT16: case PN_DT_FLOAT16: case PN_DT_BFLOAT16: /* float16 bits in the low half */
      for (size_t i = 0; i < cnt; i++) ((uint16_t *)t->data)[i] = (uint16_t)tp->int32_data[i];
      break;
    case PN_DT_INT8:
      for (size_t i = 0; i < cnt; i++) ((int8_t *)t->data)[i] = (int8_t)tp->int32_data[i];
      break;
    case PN_DT_UINT8:
      for (size_t i = 0; i < cnt; i++) ((uint8_t *)t->data)[i] = (uint8_t)tp->int32_data[i];
      break;
    case PN_DT_BOOL:
      for (size_t i = 0; i < cnt; i++) ((uint8_t *)t->data)[i] = tp->int32_data[i] != 0;
      break;
    default:
      break; /* excluded above (size 0) */
    }
  }
  *out = t;
  return PN_OK;
}

/* ---- model ---- */

struct loader {
  struct pn_ctx *ctx;
  struct pn_graph *g;
  const char *dir; /* the model file's folder (external data), NULL for a buffer */
  bool adopt;      /* initializers take over protobuf-c's copies of their bytes */
  const struct raw_ref *refs; /* raw_data left out of the parsed message (pn_onnx_load_ref) */
  size_t n_refs, i_ref;
};

static int nomem(struct loader *l) { return pn_err(l->ctx, PN_ERR_NOMEM, "out of memory"); }

/* Arena copy of s (NULL stays NULL). */
static int dup_str(struct loader *l, const char *s, const char **out) {
  *out = NULL;
  if (!s) return PN_OK;
  if (!(*out = pn_arena_strdup(l->g->arena, s))) return nomem(l);
  return PN_OK;
}

static int load_value(struct loader *l, const Onnx__ValueInfoProto *vi, const char *where,
                      struct pn_value *(*add)(struct pn_graph *, const char *, enum pn_dtype, int,
                                              const int64_t *)) {
  if (!vi->name || !*vi->name) return pn_err(l->ctx, PN_ERR_CORRUPT, "%s: name is empty", where);
  enum pn_dtype dt = PN_DT_UNDEFINED;
  int ndim = -1;
  int64_t dims[PN_MAX_DIMS];
  const char *params[PN_MAX_DIMS] = {0};
  const Onnx__TypeProto *ty = vi->type;
  if (ty && ty->value_case != ONNX__TYPE_PROTO__VALUE__NOT_SET) {
    if (ty->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
      const char *kind = ty->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ? "sequence"
                         : ty->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE    ? "map"
                         : ty->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE ? "optional"
                         : ty->value_case == ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE
                             ? "sparse tensor"
                             : "non-tensor";
      return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "%s '%s': %s types are not supported", where,
                    vi->name, kind);
    }
    const Onnx__TypeProto__Tensor *tt = ty->tensor_type;
    if (tt && tt->has_elem_type) {
      if (tt->elem_type < 0 || tt->elem_type >= PN_DT_COUNT)
        return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "%s '%s': elem_type %d is not supported", where,
                      vi->name, (int)tt->elem_type);
      dt = (enum pn_dtype)tt->elem_type;
    }
    if (tt && tt->shape) {
      if (tt->shape->n_dim > PN_MAX_DIMS)
        return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "%s '%s': rank %zu above privnn's maximum of %d",
                      where, vi->name, tt->shape->n_dim, PN_MAX_DIMS);
      ndim = (int)tt->shape->n_dim;
      for (int k = 0; k < ndim; k++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
        dims[k] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
          if (d->dim_value < 0)
            return pn_err(l->ctx, PN_ERR_CORRUPT, "%s '%s': dim[%d] is negative (%lld)", where,
                          vi->name, k, (long long)d->dim_value);
          dims[k] = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
          params[k] = d->dim_param ? d->dim_param : "";
        }
      }
    }
  }
  struct pn_value *v = add(l->g, vi->name, dt, ndim, ndim > 0 ? dims : NULL);
  if (!v) return nomem(l);
  for (int k = 0; k < ndim; k++)
    if (dup_str(l, params[k], &v->dim_param[k])) return PN_ERR_NOMEM;
  return dup_str(l, vi->doc_string, &v->doc);
}

static int cmp_str_ptr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *attr_type_name(int t) {
  switch (t) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return "graph";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS: return "graph list";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: return "tensor list";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: return "sparse tensor";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS: return "sparse tensor list";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO: return "type";
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS: return "type list";
  default: return "unknown";
  }
}

/* The attribute's type; IR version 1 files carry none, so it is inferred from the set field. */
static int attr_type(const Onnx__AttributeProto *ap) {
  if (ap->has_type && ap->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
    return (int)ap->type;
  if (ap->has_f) return PN_ATTR_FLOAT;
  if (ap->has_i) return PN_ATTR_INT;
  if (ap->has_s) return PN_ATTR_STRING;
  if (ap->t) return PN_ATTR_TENSOR;
  if (ap->g) return PN_ATTR_GRAPH;
  if (ap->n_floats) return PN_ATTR_FLOATS;
  if (ap->n_ints) return PN_ATTR_INTS;
  if (ap->n_strings) return PN_ATTR_STRINGS;
  if (ap->n_tensors) return PN_ATTR_TENSORS;
  if (ap->n_graphs) return PN_ATTR_GRAPHS;
  return PN_ATTR_UNDEFINED;
}

static int load_attr(struct loader *l, const Onnx__AttributeProto *ap, const char *where,
                     struct pn_attr *a) {
  struct pn_arena *ar = l->g->arena;
  if (ap->ref_attr_name)
    return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "%s: references a function attribute", where);
  int type = attr_type(ap);
  a->type = (enum pn_attr_type)type;
  switch (type) {
  case PN_ATTR_FLOAT:
    a->f = ap->f;
    break;
  case PN_ATTR_INT:
    a->i = ap->i;
    break;
  case PN_ATTR_STRING:
    a->s_len = (int64_t)ap->s.len;
    if (!(a->s = pn_arena_memdup(ar, ap->s.len ? ap->s.data : (const uint8_t *)"", ap->s.len)))
      return nomem(l);
    break;
  case PN_ATTR_TENSOR:
    if (!ap->t)
      return pn_err(l->ctx, PN_ERR_CORRUPT, "%s: tensor attribute without a tensor", where);
    return decode_tensor(l->ctx, ap->t, ar, where, l->dir, false, NULL, &a->t);
  case PN_ATTR_FLOATS:
    a->n = (int64_t)ap->n_floats;
    if (!(a->floats = pn_arena_memdup(ar, ap->floats, ap->n_floats * sizeof(float))))
      return nomem(l);
    break;
  case PN_ATTR_INTS:
    a->n = (int64_t)ap->n_ints;
    if (!(a->ints = pn_arena_memdup(ar, ap->ints, ap->n_ints * sizeof(int64_t)))) return nomem(l);
    break;
  case PN_ATTR_STRINGS:
    a->n = (int64_t)ap->n_strings;
    if (!(a->strings = pn_arena_alloc(ar, (ap->n_strings ? ap->n_strings : 1) * sizeof(char *))))
      return nomem(l);
    for (size_t j = 0; j < ap->n_strings; j++) {
      const ProtobufCBinaryData *b = &ap->strings[j];
      /* NUL-terminated copy; an embedded NUL ends the string as privnn sees it */
      if (!(a->strings[j] = pn_arena_memdup(ar, b->len ? b->data : (const uint8_t *)"", b->len)))
        return nomem(l);
    }
    break;
  case PN_ATTR_UNDEFINED:
    return pn_err(l->ctx, PN_ERR_CORRUPT, "%s: attribute has no type and no value", where);
  case PN_ATTR_GRAPH: case PN_ATTR_GRAPHS:
    return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "%s: subgraph attributes are not supported", where);
  default:
    return pn_err(l->ctx, PN_ERR_UNSUPPORTED, "%s: %s attributes are not supported", where,
                  attr_type_name(type));
  }
  return PN_OK;
}

static int load_node(struct loader *l, const Onnx__NodeProto *np, size_t idx) {
  char where[512];
  const char *label = np->name && *np->name ? np->name
                      : np->n_output && np->output[0] && *np->output[0] ? np->output[0]
                                                                         : "";
  snprintf(where, sizeof where, "graph.node[%zu] '%s' (%s)", idx, label,
           np->op_type ? np->op_type : "");
  if (!np->op_type || !*np->op_type)
    return pn_err(l->ctx, PN_ERR_CORRUPT, "%s: op_type is empty", where);
  if (np->n_input > INT_MAX || np->n_output > INT_MAX || np->n_attribute > INT_MAX)
    return pn_err(l->ctx, PN_ERR_CORRUPT, "%s: too many inputs, outputs or attributes", where);
  struct pn_node *n = pn_graph_add_node(l->g, np->op_type, np->name, (int)np->n_input,
                                        (const char *const *)np->input, (int)np->n_output,
                                        (const char *const *)np->output);
  if (!n) return nomem(l);
  if (dup_str(l, np->domain ? np->domain : "", &n->domain) || dup_str(l, np->doc_string, &n->doc))
    return PN_ERR_NOMEM;
  if (!np->n_attribute) return PN_OK;

  /* duplicate attribute names: sort a copy of the names (files may hold very many) */
  const char **names = malloc(np->n_attribute * sizeof *names);
  if (!names) return nomem(l);
  for (size_t k = 0; k < np->n_attribute; k++) {
    const char *nm = np->attribute[k]->name;
    if (!nm || !*nm) {
      free(names);
      return pn_err(l->ctx, PN_ERR_CORRUPT, "%s: attribute[%zu] has no name", where, k);
    }
    names[k] = nm;
  }
  qsort(names, np->n_attribute, sizeof *names, cmp_str_ptr);
  for (size_t k = 1; k < np->n_attribute; k++)
    if (!strcmp(names[k - 1], names[k])) {
      int rc = pn_err(l->ctx, PN_ERR_CORRUPT, "%s: attribute '%s' appears twice", where, names[k]);
      free(names);
      return rc;
    }
  free(names);

  n->attr = pn_arena_alloc(l->g->arena, np->n_attribute * sizeof *n->attr);
  if (!n->attr) return nomem(l);
  for (size_t k = 0; k < np->n_attribute; k++) {
    const Onnx__AttributeProto *ap = np->attribute[k];
    struct pn_attr *a = &n->attr[k];
    if (dup_str(l, ap->name, &a->name)) return PN_ERR_NOMEM;
    n->n_attr = (int)k + 1;
    char aw[640];
    snprintf(aw, sizeof aw, "%s: attribute '%s'", where, ap->name);
    int rc = load_attr(l, ap, aw, a);
    if (rc) return rc;
  }
  return PN_OK;
}

static int load_model(struct loader *l, Onnx__ModelProto *m) {
  struct pn_graph *g = l->g;
  const Onnx__GraphProto *gp = m->graph;
  if (!gp) return pn_err(l->ctx, PN_ERR_CORRUPT, "model has no graph");
  g->ir_version = m->has_ir_version ? m->ir_version : 0;
  g->model_version = m->has_model_version ? m->model_version : 0;
  if (dup_str(l, m->producer_name, &g->producer_name) ||
      dup_str(l, m->producer_version, &g->producer_version) || dup_str(l, m->domain, &g->domain) ||
      dup_str(l, m->doc_string, &g->model_doc) || dup_str(l, gp->name ? gp->name : "", &g->name) ||
      dup_str(l, gp->doc_string, &g->doc))
    return PN_ERR_NOMEM;

  g->n_opsets = 0;
  g->opsets = NULL;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    if (!o->has_version)
      return pn_err(l->ctx, PN_ERR_CORRUPT, "opset_import[%zu] '%s': version is missing", i,
                    o->domain ? o->domain : "");
    if (pn_graph_set_opset(g, o->domain ? o->domain : "", o->version)) return nomem(l);
  }
  if (m->n_metadata_props) {
    if (m->n_metadata_props > INT_MAX)
      return pn_err(l->ctx, PN_ERR_CORRUPT, "too many metadata_props");
    g->meta_keys = pn_arena_alloc(g->arena, m->n_metadata_props * sizeof(char *));
    g->meta_values = pn_arena_alloc(g->arena, m->n_metadata_props * sizeof(char *));
    if (!g->meta_keys || !g->meta_values) return nomem(l);
    for (size_t i = 0; i < m->n_metadata_props; i++) {
      const Onnx__StringStringEntryProto *e = m->metadata_props[i];
      if (dup_str(l, e->key ? e->key : "", &g->meta_keys[i]) ||
          dup_str(l, e->value ? e->value : "", &g->meta_values[i]))
        return PN_ERR_NOMEM;
    }
    g->n_meta = (int)m->n_metadata_props;
  }
  if (gp->n_sparse_initializer)
    return pn_err(l->ctx, PN_ERR_UNSUPPORTED,
                  "graph.sparse_initializer: sparse tensors are not supported");
  if (gp->n_node > INT_MAX || gp->n_input > INT_MAX || gp->n_output > INT_MAX ||
      gp->n_value_info > INT_MAX || gp->n_initializer > INT_MAX)
    return pn_err(l->ctx, PN_ERR_CORRUPT, "graph: too many entries");

  for (size_t i = 0; i < gp->n_node; i++) {
    int rc = load_node(l, gp->node[i], i);
    if (rc) return rc;
  }
  char where[64];
  for (size_t i = 0; i < gp->n_input; i++) {
    snprintf(where, sizeof where, "graph.input[%zu]", i);
    int rc = load_value(l, gp->input[i], where, pn_graph_add_input);
    if (rc) return rc;
  }
  for (size_t i = 0; i < gp->n_output; i++) {
    snprintf(where, sizeof where, "graph.output[%zu]", i);
    int rc = load_value(l, gp->output[i], where, pn_graph_add_output);
    if (rc) return rc;
  }
  for (size_t i = 0; i < gp->n_value_info; i++) {
    snprintf(where, sizeof where, "graph.value_info[%zu]", i);
    int rc = load_value(l, gp->value_info[i], where, pn_graph_add_vinfo);
    if (rc) return rc;
  }
  for (size_t i = 0; i < gp->n_initializer; i++) {
    Onnx__TensorProto *tp = gp->initializer[i];
    snprintf(where, sizeof where, "graph.initializer[%zu]", i);
    if (!tp->name || !*tp->name) return pn_err(l->ctx, PN_ERR_CORRUPT, "%s: name is empty", where);
    struct pn_tensor *t;
    const struct raw_ref *ref = NULL;
    while (l->i_ref < l->n_refs && l->refs[l->i_ref].init < i) l->i_ref++;
    if (l->i_ref < l->n_refs && l->refs[l->i_ref].init == i) ref = &l->refs[l->i_ref];
    int rc = decode_tensor(l->ctx, tp, g->arena, where, l->dir, l->adopt, ref, &t);
    if (rc) return rc;
    /* the message's copy of the bytes goes as soon as the graph has its own: a model's weights are
    ** held about once while it loads, not twice (protobuf-c allocates with malloc) */
    if (tp->raw_data.data) {
      free(tp->raw_data.data);
      tp->raw_data.data = NULL;
      tp->raw_data.len = 0;
    }
    /* register the decoded arena tensor without copying it again */
    struct pn_tensor *slot = pn_graph_new_init(g, tp->name, t->dtype, 0, NULL);
    if (!slot) return nomem(l);
    g->inits[g->n_inits - 1] = t;
  }
  return PN_OK;
}

enum load_mode {
  LOAD_COPY,   /* every weight copied into the graph */
  LOAD_ADOPT,  /* large weights keep protobuf-c's copies (pn_onnx_load_adopt) */
  LOAD_REF,    /* large float weights point into buf, the rest as LOAD_ADOPT (pn_onnx_load_ref) */
};

/* own: buf when the caller gives it up (freed once unpacked, also on failure), else NULL */
static int load_buf(struct pn_ctx *ctx, const uint8_t *buf, size_t n, const char *path, uint8_t *own,
                    enum load_mode mode, size_t ref_min, struct pn_graph **out) {
  *out = NULL;
  if (!buf && n) {
    free(own);
    return pn_err(ctx, PN_ERR_INVALID, "pn_onnx_load: NULL buffer");
  }
  /* the folder external data is looked up in: path's, "." for a bare name, none without a path */
  char *dir = path ? strdup(path) : NULL, *slash = dir ? strrchr(dir, '/') : NULL;
  if (path && !dir) {
    free(own);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  if (slash) slash[slash == dir] = 0; /* "/m.onnx" -> "/" */
  if (!depth_ok(buf, n, &onnx__model_proto__descriptor, 0)) {
    free(dir);
    free(own);
    return pn_err(ctx, PN_ERR_CORRUPT, "not an ONNX model: messages nested deeper than %d",
                  ONNX_MAX_DEPTH);
  }
  /* LOAD_REF: protobuf-c parses the message without the large float raw_data, which stays in buf */
  uint8_t *sbuf = NULL;
  size_t sn = 0, n_refs = 0;
  struct raw_ref *refs = NULL;
  if (mode == LOAD_REF && strip_raw(buf, n, ref_min, &sbuf, &sn, &refs, &n_refs)) {
    free(dir);
    free(own);
    return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  }
  Onnx__ModelProto *m = sbuf ? onnx__model_proto__unpack(NULL, sn, sbuf) : onnx__model_proto__unpack(NULL, n, buf);
  free(sbuf);
  free(own);
  if (!m) {
    free(dir);
    free(refs);
    return pn_err(ctx, PN_ERR_CORRUPT, "not an ONNX model: protobuf decoding failed");
  }
  struct loader l = {ctx, pn_graph_new(), !path ? NULL : slash ? dir : ".", mode != LOAD_COPY,
                     refs, n_refs, 0};
  int rc = l.g ? load_model(&l, m) : nomem(&l);
  onnx__model_proto__free_unpacked(m, NULL);
  free(dir);
  free(refs);
  if (rc) {
    pn_graph_free(l.g);
    return rc;
  }
  *out = l.g;
  return PN_OK;
}

int pn_onnx_load_in(struct pn_ctx *ctx, const uint8_t *buf, size_t n, const char *path, struct pn_graph **out) {
  return load_buf(ctx, buf, n, path, NULL, LOAD_COPY, 0, out);
}

int pn_onnx_load_adopt(struct pn_ctx *ctx, const uint8_t *buf, size_t n, const char *path,
                       struct pn_graph **out) {
  return load_buf(ctx, buf, n, path, NULL, LOAD_ADOPT, 0, out);
}

int pn_onnx_load_ref(struct pn_ctx *ctx, const uint8_t *buf, size_t n, const char *path,
                     size_t min_bytes, struct pn_graph **out) {
  return load_buf(ctx, buf, n, path, NULL, LOAD_REF, min_bytes ? min_bytes : ADOPT_MIN_BYTES, out);
}

int pn_onnx_load_take(struct pn_ctx *ctx, uint8_t *buf, size_t n, const char *path, struct pn_graph **out) {
  return load_buf(ctx, buf, n, path, buf, LOAD_COPY, 0, out);
}

int pn_onnx_load(struct pn_ctx *ctx, const uint8_t *buf, size_t n, struct pn_graph **out) {
  return pn_onnx_load_in(ctx, buf, n, NULL, out);
}

/* protobuf's own limit for one message: a bigger file is refused before it is read */
#define ONNX_MAX_BYTES ((size_t)2 << 30)

int pn_onnx_load_file(struct pn_ctx *ctx, const char *path, struct pn_graph **out) {
  *out = NULL;
  /* read, not mapped: the executor's per-run buffers come from the heap only while glibc's dynamic
  ** mmap threshold is high, and freeing the read buffer of a model under 32 MB is what raises it.
  ** Mapped (80dca97), mobilenetv2/224's 4.8 MB activations were mapped and unmapped every run and its
  ** one-thread ratio to ONNX Runtime went 1.14-1.18 -> 1.19-1.82; the executor should not depend on
  ** that (its pool, exec.c). split and join map the model they load (bundle.c). */
  uint8_t *buf;
  size_t n;
  int rc = pn_read_file(ctx, path, ONNX_MAX_BYTES, &buf, &n); /* its messages name the path */
  if (rc) return rc;
  rc = pn_onnx_load_take(ctx, buf, n, path, out); /* frees buf */
  if (rc) pn_err_prefix(ctx, "%s", path);
  return rc;
}

int pn_tensor_load_pb(struct pn_ctx *ctx, const uint8_t *buf, size_t n, struct pn_tensor **out) {
  *out = NULL;
  if (!buf && n) return pn_err(ctx, PN_ERR_INVALID, "pn_tensor_load_pb: NULL buffer");
  if (!depth_ok(buf, n, &onnx__tensor_proto__descriptor, 0))
    return pn_err(ctx, PN_ERR_CORRUPT, "not a TensorProto: messages nested deeper than %d",
                  ONNX_MAX_DEPTH);
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, n, buf);
  if (!tp) return pn_err(ctx, PN_ERR_CORRUPT, "not a TensorProto: protobuf decoding failed");
  int rc = decode_tensor(ctx, tp, NULL, "tensor", NULL, false, NULL, out);
  onnx__tensor_proto__free_unpacked(tp, NULL);
  return rc;
}

int pn_tensor_load_pb_file(struct pn_ctx *ctx, const char *path, struct pn_tensor **out) {
  *out = NULL;
  uint8_t *buf;
  size_t n;
  int rc = pn_read_file(ctx, path, ONNX_MAX_BYTES, &buf, &n);
  if (rc) return rc;
  rc = pn_tensor_load_pb(ctx, buf, n, out);
  free(buf);
  if (rc) pn_err_prefix(ctx, "%s", path);
  return rc;
}
