/* bert.c - the zoo's BERT family: the BERT-base-shaped Transformer encoder over input embeddings,
** DistilBERT-base and RoBERTa-base with their embedding lookups (see pn_zoo_bert).
**
** The graph takes "embeddings" [batch, seq, hidden] (the embedding lookup stays outside, as in the
** HummingBird/SmartPAF evaluations) and applies `layers` post-LN encoder layers with Hugging Face
** names ("encoder.layer.0.attention.self.query.weight"). Linear layers are MatMul with W[in, out]
** plus Add; attention reshapes to heads with Reshape(0, 0, heads, head_dim) + Transpose, and GELU
** is spelled x * 0.5 * (1 + Erf(x / sqrt 2)) in standard ops. Weights: He-normal matrices, biases
** 0.02 N, LayerNorm gamma ~ 1 + 0.1 N, beta ~ 0.05 N. */
#include <stdio.h>
#include <stdlib.h>

#include "graph/zoo/kit.h"
#include "util/status.h"

static const char *encoder_layer(struct pn_zb *b, const char *x, int l, const struct pn_zb_seq *d,
                                 const char *out_name) {
  char p[48];
  snprintf(p, sizeof p, "encoder.layer.%d", l);
  const char *sa = pn_zb_name(b, p, "attention.self");
  const char *qkv[3], *names[3] = {"query", "key", "value"};
  for (int i = 0; i < 3; i++) {
    const char *pi = pn_zb_name(b, sa, names[i]);
    qkv[i] = pn_zb_heads(b, pn_zb_dense(b, x, pi, d->hidden, d->hidden, NULL), pi, "attention.head_shape",
                         i == 1);
  }
  const char *c = pn_zb_attention(b, sa, qkv[0], qkv[1], qkv[2], "attention.scale", NULL,
                                  "attention.merge_shape");

  const char *ao = pn_zb_name(b, p, "attention.output");
  const char *y = pn_zb_dense(b, c, pn_zb_name(b, ao, "dense"), d->hidden, d->hidden, NULL);
  y = pn_zb_op2(b, "Add", pn_zb_name(b, ao, "residual"), y, x);
  const char *h = pn_zb_layer_norm(b, y, pn_zb_name(b, ao, "LayerNorm"), d->hidden, 1e-12f, NULL);

  const char *im = pn_zb_name(b, p, "intermediate");
  const char *g = pn_zb_gelu_erf(b, pn_zb_dense(b, h, pn_zb_name(b, im, "dense"), d->hidden, d->inter, NULL), im);

  const char *op = pn_zb_name(b, p, "output");
  y = pn_zb_dense(b, g, pn_zb_name(b, op, "dense"), d->inter, d->hidden, NULL);
  y = pn_zb_op2(b, "Add", pn_zb_name(b, op, "residual"), y, h);
  return pn_zb_layer_norm(b, y, pn_zb_name(b, op, "LayerNorm"), d->hidden, 1e-12f, out_name);
}

/* The embedding stage of DistilBERT / RoBERTa: word + position (+ token type 0) embeddings of
** input_ids [batch, seq] (int64), then LayerNorm; returns [batch, seq, hidden]. Position ids count
** from pos0 (RoBERTa: padding index + 1 = 2). */
static const char *embeddings(struct pn_zb *b, const struct pn_zb_seq *d, int64_t vocab, int64_t max_pos,
                              int64_t pos0, int64_t types) {
  const char *x = pn_zb_token_embeddings(b, "embeddings.word_embeddings", "embeddings.position_embeddings",
                                         d->batch, d->seq, d->hidden, vocab, max_pos, pos0);
  if (types) {
    int64_t td[2] = {types, d->hidden}, sd[1] = {d->seq};
    int64_t *tid = calloc((size_t)d->seq, sizeof *tid);
    if (!tid) return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory"), NULL;
    const char *te[2] = {pn_zb_normal(b, "embeddings.token_type_embeddings.weight", 2, td, 0.0, 0.02),
                         pn_zb_i64(b, "embeddings.token_type_ids", 1, sd, tid)};
    free(tid);
    x = pn_zb_op2(b, "Add", "embeddings.add_1", x,
                  pn_zb_out(pn_zb_op(b, "Gather", "embeddings.token_type_embeddings", 2, te, NULL)));
  }
  return pn_zb_layer_norm(b, x, "embeddings.LayerNorm", d->hidden, 1e-12f, NULL);
}

/* variant: 0 BERT-base encoder over given embeddings (no lookup, no pooler: the HummingBird /
** SmartPAF evaluation graph); 1 DistilBERT-base (6 layers by default, word + position
** embeddings, no pooler); 2 RoBERTa-base (vocabulary 50265, 514 positions from 2, one token type,
** tanh pooler over the first token). Encoder names are BERT's for all three. */
int pn_zoo_bert(struct pn_zb *b, const struct pn_zoo_opts *o, int variant) {
  static const int64_t vocab[3] = {0, 30522, 50265}, n_pos[3] = {0, 512, 514};
  struct pn_zb_seq d, def = {.layers = variant == 1 ? 6 : 12, .hidden = 768, .heads = 12};
  if (pn_zb_seq_dims(b, o, &def, variant == 0, vocab[variant] + n_pos[variant] + (variant == 2),
                     "attention", &d))
    return b->status;
  int64_t in_d[3] = {d.batch, d.seq, d.hidden};
  if (variant == 0 && !pn_graph_add_input(b->g, "embeddings", PN_DT_FLOAT, 3, in_d))
    return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");

  const char *x = variant == 0 ? "embeddings"
                 : embeddings(b, &d, vocab[variant], n_pos[variant], variant == 2 ? 2 : 0, variant == 2);
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
    const char *y = pn_zb_dense(b, pn_zb_out(n), "pooler.dense", d.hidden, d.hidden, NULL);
    y = pn_zb_out(pn_zb_op(b, "Tanh", "pooler.activation", 1, &y, "pooler_output"));
    if (b->status != PN_OK) return b->status;
    if (!pn_graph_add_output(b->g, "pooler_output", PN_DT_FLOAT, 2, od))
      return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  }
  return PN_OK;
}
