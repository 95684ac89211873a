/* bert.c - the zoo's BERT family: the BERT-base-shaped Transformer encoder over input embeddings,
** DistilBERT-base and RoBERTa-base with their embedding lookups (see pn_zoo_bert).
**
** The graph takes "embeddings" [batch, seq, hidden] (the embedding lookup stays outside, as in the
** HummingBird/SmartPAF evaluations) and applies `layers` post-LN encoder layers with Hugging Face
** names ("encoder.layer.0.attention.self.query.weight"). Linear layers are MatMul with W[in, out]
** plus Add; attention reshapes to heads with Reshape(0, 0, heads, head_dim) + Transpose, and GELU
** is spelled x * 0.5 * (1 + Erf(x / sqrt 2)) in standard ops. Weights: He-normal matrices, biases
** 0.02 N, LayerNorm gamma ~ 1 + 0.1 N, beta ~ 0.05 N. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "graph/zoo/kit.h"
#include "util/status.h"

struct bert_dims {
  int64_t layers, hidden, heads, seq, inter, batch;
};

/* x [.., in] @ W[in, out] + b, nodes `p` (MatMul) and `p.add`. */
static const char *dense(struct pn_zb *b, const char *x, const char *p, int64_t in, int64_t out,
                         const char *out_name) {
  int64_t wd[2] = {in, out}, bd[1] = {out};
  const char *mm_in[2] = {x, pn_zb_normal(b, pn_zb_name(b, p, "weight"), 2, wd, 0.0,
                                          sqrt(2.0 / (double)in))};
  const char *mm = pn_zb_out(pn_zb_op(b, "MatMul", p, 2, mm_in, NULL));
  const char *add_in[2] = {mm, pn_zb_normal(b, pn_zb_name(b, p, "bias"), 1, bd, 0.0, 0.02)};
  return pn_zb_out(pn_zb_op(b, "Add", pn_zb_name(b, p, "add"), 2, add_in, out_name));
}

static const char *binary(struct pn_zb *b, const char *op, const char *name, const char *x,
                          const char *y) {
  const char *in[2] = {x, y};
  return pn_zb_out(pn_zb_op(b, op, name, 2, in, NULL));
}

static const char *transpose(struct pn_zb *b, const char *name, const char *x, const int64_t perm[4]) {
  struct pn_node *n = pn_zb_op(b, "Transpose", name, 1, &x, NULL);
  pn_zb_ints(b, n, "perm", 4, perm);
  return pn_zb_out(n);
}

static const char *layer_norm(struct pn_zb *b, const char *x, const char *p, int64_t hidden,
                              const char *out_name) {
  int64_t d[1] = {hidden};
  const char *in[3] = {x, pn_zb_normal(b, pn_zb_name(b, p, "weight"), 1, d, 1.0, 0.1),
                       pn_zb_normal(b, pn_zb_name(b, p, "bias"), 1, d, 0.0, 0.05)};
  struct pn_node *n = pn_zb_op(b, "LayerNormalization", p, 3, in, out_name);
  pn_zb_int(b, n, "axis", -1);
  pn_zb_float(b, n, "epsilon", 1e-12f);
  return pn_zb_out(n);
}

/* Q, K or V of one layer in heads layout: K as [B, A, d, S] (ready for Q K^T), Q/V [B, A, S, d]. */
static const char *heads_of(struct pn_zb *b, const char *x, const char *p, const struct bert_dims *d,
                            int is_key) {
  static const int64_t perm_qv[4] = {0, 2, 1, 3}, perm_k[4] = {0, 2, 3, 1};
  const char *y = dense(b, x, p, d->hidden, d->hidden, NULL);
  y = binary(b, "Reshape", pn_zb_name(b, p, "reshape"), y, "attention.head_shape");
  return transpose(b, pn_zb_name(b, p, "transpose"), y, is_key ? perm_k : perm_qv);
}

static const char *encoder_layer(struct pn_zb *b, const char *x, int l, const struct bert_dims *d,
                                 const char *out_name) {
  static const int64_t perm_qv[4] = {0, 2, 1, 3};
  char p[48];
  snprintf(p, sizeof p, "encoder.layer.%d", l);
  const char *sa = pn_zb_name(b, p, "attention.self");
  const char *q = heads_of(b, x, pn_zb_name(b, sa, "query"), d, 0);
  const char *k = heads_of(b, x, pn_zb_name(b, sa, "key"), d, 1);
  const char *v = heads_of(b, x, pn_zb_name(b, sa, "value"), d, 0);
  const char *s = binary(b, "MatMul", pn_zb_name(b, sa, "scores"), q, k);
  s = binary(b, "Div", pn_zb_name(b, sa, "scale"), s, "attention.scale");
  struct pn_node *sm = pn_zb_op(b, "Softmax", pn_zb_name(b, sa, "softmax"), 1, &s, NULL);
  pn_zb_int(b, sm, "axis", -1);
  const char *c = binary(b, "MatMul", pn_zb_name(b, sa, "context"), pn_zb_out(sm), v);
  c = transpose(b, pn_zb_name(b, sa, "context.transpose"), c, perm_qv);
  c = binary(b, "Reshape", pn_zb_name(b, sa, "context.reshape"), c, "attention.merge_shape");

  const char *ao = pn_zb_name(b, p, "attention.output");
  const char *y = dense(b, c, pn_zb_name(b, ao, "dense"), d->hidden, d->hidden, NULL);
  y = binary(b, "Add", pn_zb_name(b, ao, "residual"), y, x);
  const char *h = layer_norm(b, y, pn_zb_name(b, ao, "LayerNorm"), d->hidden, NULL);

  const char *im = pn_zb_name(b, p, "intermediate");
  const char *i = dense(b, h, pn_zb_name(b, im, "dense"), d->hidden, d->inter, NULL);
  const char *g = binary(b, "Div", pn_zb_name(b, im, "gelu.div"), i, "gelu.sqrt2");
  g = pn_zb_out(pn_zb_op(b, "Erf", pn_zb_name(b, im, "gelu.erf"), 1, &g, NULL));
  g = binary(b, "Add", pn_zb_name(b, im, "gelu.add"), g, "gelu.one");
  g = binary(b, "Mul", pn_zb_name(b, im, "gelu.mul"), i, g);
  g = binary(b, "Mul", pn_zb_name(b, im, "gelu.mul_1"), g, "gelu.half");

  const char *op = pn_zb_name(b, p, "output");
  y = dense(b, g, pn_zb_name(b, op, "dense"), d->inter, d->hidden, NULL);
  y = binary(b, "Add", pn_zb_name(b, op, "residual"), y, h);
  return layer_norm(b, y, pn_zb_name(b, op, "LayerNorm"), d->hidden, out_name);
}

/* The embedding stage of DistilBERT / RoBERTa: word + position (+ token type 0) embeddings of
** input_ids [batch, seq] (int64), then LayerNorm; returns [batch, seq, hidden]. Position ids count
** from pos0 (RoBERTa: padding index + 1 = 2). */
static const char *embeddings(struct pn_zb *b, const struct bert_dims *d, int64_t vocab, int64_t max_pos,
                              int64_t pos0, int64_t types) {
  int64_t id_d[2] = {d->batch, d->seq}, wd[2] = {vocab, d->hidden}, pd[2] = {max_pos, d->hidden};
  if (d->seq + pos0 > max_pos)
    return pn_zb_fail(b, PN_ERR_INVALID, "seq %lld above the %lld positions", (long long)d->seq,
                      (long long)(max_pos - pos0)), NULL;
  if (!pn_graph_add_input(b->g, "input_ids", PN_DT_INT64, 2, id_d))
    return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory"), NULL;
  int64_t *pos = malloc((size_t)d->seq * sizeof *pos);
  if (!pos) return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory"), NULL;
  for (int64_t i = 0; i < d->seq; i++) pos[i] = pos0 + i;
  int64_t sd[1] = {d->seq};
  const char *pid = pn_zb_i64(b, "embeddings.position_ids", 1, sd, pos);
  for (int64_t i = 0; i < d->seq; i++) pos[i] = 0;
  const char *tid = types ? pn_zb_i64(b, "embeddings.token_type_ids", 1, sd, pos) : NULL;
  free(pos);
  const char *w[2] = {pn_zb_normal(b, "embeddings.word_embeddings.weight", 2, wd, 0.0, 0.02), "input_ids"};
  const char *x = pn_zb_out(pn_zb_op(b, "Gather", "embeddings.word_embeddings", 2, w, NULL));
  const char *pe[2] = {pn_zb_normal(b, "embeddings.position_embeddings.weight", 2, pd, 0.0, 0.02), pid};
  x = binary(b, "Add", "embeddings.add", x,
             pn_zb_out(pn_zb_op(b, "Gather", "embeddings.position_embeddings", 2, pe, NULL)));
  if (types) {
    int64_t td[2] = {types, d->hidden};
    const char *te[2] = {pn_zb_normal(b, "embeddings.token_type_embeddings.weight", 2, td, 0.0, 0.02), tid};
    x = binary(b, "Add", "embeddings.add_1", x,
               pn_zb_out(pn_zb_op(b, "Gather", "embeddings.token_type_embeddings", 2, te, NULL)));
  }
  return layer_norm(b, x, "embeddings.LayerNorm", d->hidden, NULL);
}

/* variant: 0 BERT-base encoder over given embeddings (no lookup, no pooler: the HummingBird /
** SmartPAF evaluation graph); 1 DistilBERT-base (6 layers by default, word + position
** embeddings, no pooler); 2 RoBERTa-base (vocabulary 50265, 514 positions from 2, one token type,
** tanh pooler over the first token). Encoder names are BERT's for all three. */
int pn_zoo_bert(struct pn_zb *b, const struct pn_zoo_opts *o, int variant) {
  struct bert_dims d = {o->layers > 0 ? o->layers : variant == 1 ? 6 : 12, o->hidden > 0 ? o->hidden : 768,
                        o->heads > 0 ? o->heads : 12,   o->seq > 0 ? o->seq : 128,
                        0,                              o->batch > 0 ? o->batch : 1};
  if (o->ndim == 2 || o->ndim == 3) {
    d.batch = o->dims[0];
    d.seq = o->dims[1];
    if (o->ndim == 3) {
      if (o->hidden > 0 && o->hidden != o->dims[2])
        return pn_zb_fail(b, PN_ERR_INVALID, "input shape hidden %lld differs from hidden %lld",
                          (long long)o->dims[2], (long long)o->hidden);
      d.hidden = o->dims[2];
    }
  } else if (o->ndim != 0) {
    return pn_zb_fail(b, PN_ERR_INVALID,
                      "input shape must be BATCHxSEQ or BATCHxSEQxHIDDEN, got %d dims", o->ndim);
  }
  d.inter = o->intermediate > 0 ? o->intermediate : 4 * d.hidden;
  if (d.hidden % d.heads != 0)
    return pn_zb_fail(b, PN_ERR_INVALID, "hidden %lld is not divisible by heads %lld",
                      (long long)d.hidden, (long long)d.heads);
  if (d.layers > 1000)
    return pn_zb_fail(b, PN_ERR_INVALID, "layers %lld above 1000", (long long)d.layers);
  double H = (double)d.hidden, I = (double)d.inter;
  double params = (double)d.layers * (4 * H * H + 2 * H * I + 9 * H + I);
  if (params > (double)PN_ZOO_MAX_PARAMS)
    return pn_zb_fail(b, PN_ERR_INVALID, "%.3g parameters above the limit of %lld (fewer layers or "
                      "a smaller hidden size?)", params, (long long)PN_ZOO_MAX_PARAMS);

  int64_t in_d[3] = {d.batch, d.seq, d.hidden};
  if (variant == 0 && !pn_graph_add_input(b->g, "embeddings", PN_DT_FLOAT, 3, in_d))
    return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  int64_t four = 4, three = 3;
  int64_t head_shape[4] = {0, 0, d.heads, d.hidden / d.heads}, merge_shape[3] = {0, 0, d.hidden};
  pn_zb_i64(b, "attention.head_shape", 1, &four, head_shape);
  pn_zb_i64(b, "attention.merge_shape", 1, &three, merge_shape);
  float scale = (float)sqrt((double)(d.hidden / d.heads)), sqrt2 = (float)sqrt(2.0), one = 1.0f,
        half = 0.5f;
  pn_zb_const(b, "attention.scale", 0, NULL, &scale);
  pn_zb_const(b, "gelu.sqrt2", 0, NULL, &sqrt2);
  pn_zb_const(b, "gelu.one", 0, NULL, &one);
  pn_zb_const(b, "gelu.half", 0, NULL, &half);

  const char *x = variant == 0 ? "embeddings"
                 : variant == 1 ? embeddings(b, &d, 30522, 512, 0, 0)
                                : embeddings(b, &d, 50265, 514, 2, 1);
  for (int l = 0; l < d.layers; l++)
    x = encoder_layer(b, x, l, &d, l + 1 == d.layers ? "last_hidden_state" : NULL);
  if (b->status != PN_OK) return b->status;
  if (!pn_graph_add_output(b->g, "last_hidden_state", PN_DT_FLOAT, 3, in_d))
    return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  if (variant == 2) {
    /* pooler: tanh(dense(first token)) */
    int64_t zero = 0, od[2] = {d.batch, d.hidden};
    const char *g[2] = {"last_hidden_state", pn_zb_i64(b, "pooler.first", 0, NULL, &zero)};
    struct pn_node *n = pn_zb_op(b, "Gather", "pooler.first_token", 2, g, NULL);
    pn_zb_int(b, n, "axis", 1);
    const char *y = dense(b, pn_zb_out(n), "pooler.dense", d.hidden, d.hidden, NULL);
    y = pn_zb_out(pn_zb_op(b, "Tanh", "pooler.activation", 1, &y, "pooler_output"));
    if (b->status != PN_OK) return b->status;
    if (!pn_graph_add_output(b->g, "pooler_output", PN_DT_FLOAT, 2, od))
      return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  }
  return PN_OK;
}
