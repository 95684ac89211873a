/* onnx.h - ONNX ModelProto and TensorProto load/save (protobuf-c, code generated from onnx.proto). */
#ifndef PN_ONNX_H
#define PN_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "ir.h"
#include "../util/api.h"

struct pn_ctx;

/* Parse a ModelProto from buf[0..n). On success *out owns the graph (pn_graph_free). Malformed input
** returns PN_ERR_CORRUPT with the field at fault ("graph.node[3] 'conv3': input[1] is empty");
** subgraph attributes (If/Loop) are PN_ERR_UNSUPPORTED. Initializers with external data are refused
** here (a buffer has no folder to find them in): use pn_onnx_load_file. Does not validate the graph
** semantically (see pn_graph_validate). */
PN_API int pn_onnx_load(struct pn_ctx *ctx, const uint8_t *buf, size_t n,
                        struct pn_graph **out /* OUT */);
/* pn_onnx_load of a model file's bytes already in memory (read by the caller, e.g. to hash them); path
** names that file, whose folder holds its external data (NULL: refused as by pn_onnx_load). */
PN_API int pn_onnx_load_in(struct pn_ctx *ctx, const uint8_t *buf, size_t n, const char *path,
                           struct pn_graph **out /* OUT */);
/* pn_onnx_load_in for a tool that loads a model, uses it and exits (Proteus's split and join): each
** weight from 64 KiB keeps protobuf-c's parsed copy of its bytes instead of being copied again, so the
** weights are written once into fresh memory, not twice. Those blocks stay allocated while the graph
** lives; freeing large blocks is what raises glibc's dynamic mmap threshold, so a process that runs
** an executor many times should load with pn_onnx_load_file (docs/engine.md, session 17). */
PN_API int pn_onnx_load_adopt(struct pn_ctx *ctx, const uint8_t *buf, size_t n, const char *path,
                              struct pn_graph **out /* OUT */);
/* pn_onnx_load_adopt for a caller that needs a model's structure and most weights' shapes only (join,
** whose real parts carry decoy weights): each float initializer of min_bytes or more (0: 64 KiB)
** stored as raw_data is not parsed or copied at all; its tensor's data points into buf (possibly
** unaligned: read it with memcpy) and is valid only while buf is. Everything is checked as by
** pn_onnx_load_in (a weight's size against its dims too), with the same messages. */
PN_API int pn_onnx_load_ref(struct pn_ctx *ctx, const uint8_t *buf, size_t n, const char *path,
                            size_t min_bytes, struct pn_graph **out /* OUT */);
/* pn_onnx_load_in that takes buf (malloc'd, e.g. by pn_read_file) and frees it as soon as protobuf has
** parsed it, also on failure; each weight's parsed bytes go once copied into the graph. The model's
** weights are then held about once while it loads (pn_onnx_load_in: twice, the buffer and the graph). */
PN_API int pn_onnx_load_take(struct pn_ctx *ctx, uint8_t *buf, size_t n, const char *path,
                             struct pn_graph **out /* OUT */);
/* pn_onnx_load on a file; messages start with the path. Initializers stored as external data (ONNX's
** data_location EXTERNAL: location, offset, length) are read from their file, whose location must be a
** relative path inside the model's folder (no "..", not absolute, not a symlink, a regular file), with
** offset + length within it and length equal to the tensor's size. */
PN_API int pn_onnx_load_file(struct pn_ctx *ctx, const char *path, struct pn_graph **out /* OUT */);

/* Serialise g to a ModelProto. *buf is malloc'd, the caller frees it. */
PN_API int pn_onnx_save(struct pn_ctx *ctx, const struct pn_graph *g, uint8_t **buf /* OUT */,
                        size_t *n /* OUT */);
/* pn_onnx_save to a file, atomically (temp + fsync + rename). The message is streamed: tensor
** data goes from the graph to the file without an intermediate buffer. */
PN_API int pn_onnx_save_file(struct pn_ctx *ctx, const struct pn_graph *g, const char *path);
/* pn_onnx_save_file with every initializer of at least max(min_bytes, 1 KiB) bytes in PATH.data (ONNX
** external data, 64-byte aligned), written and put in place before the model. pn_onnx_save_file does this
** by itself for a model that would not fit in one protobuf message (2 GiB). */
PN_API int pn_onnx_save_file_external(struct pn_ctx *ctx, const struct pn_graph *g, const char *path,
                                      size_t min_bytes);
/* pn_onnx_save_file without the fsync (pn_atomic_commit_nosync): for many files made durable
** together by the caller (pn_fsync_path on each, then on the folder). */
PN_API int pn_onnx_save_file_nosync(struct pn_ctx *ctx, const struct pn_graph *g, const char *path);
/* An initializer whose bytes are made while the file is written (its data is NULL): fill writes
** bytes [off, off + len) of it into buf, asked once each, in order from off 0, at most 1 MiB at a time
** (a multiple of 4 * PN_PRG_NORMAL_BLOCK bytes except the last); non-zero = out of memory. */
struct pn_onnx_gen {
  const struct pn_tensor *t;
  int (*fill)(void *user, void *buf, size_t off, size_t len);
  void *user;
};
/* pn_onnx_save_file_nosync for a graph some of whose initializers (data NULL) are generated: their
** bytes go from a reused 1 MiB buffer to the file, never held whole. */
PN_API int pn_onnx_save_file_gen_nosync(struct pn_ctx *ctx, const struct pn_graph *g, const char *path,
                                        const struct pn_onnx_gen *gen, int n_gen);

/* TensorProto files, as in ONNX's test data (input_0.pb, output_0.pb). *out is a heap tensor. */
PN_API int pn_tensor_load_pb(struct pn_ctx *ctx, const uint8_t *buf, size_t n, struct pn_tensor **out);
PN_API int pn_tensor_load_pb_file(struct pn_ctx *ctx, const char *path,
                                  struct pn_tensor **out /* OUT */);
PN_API int pn_tensor_save_pb_file(struct pn_ctx *ctx, const struct pn_tensor *t, const char *path);
/* Serialise t as a TensorProto into a malloc'd buffer the caller frees. */
PN_API int pn_tensor_save_pb(struct pn_ctx *ctx, const struct pn_tensor *t, uint8_t **buf /* OUT */,
                             size_t *n /* OUT */);

#endif
