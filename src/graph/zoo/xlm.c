/* xlm.c - the zoo's XLM: Hugging Face XLMModel in the configuration of xlm-mlm-en-2048 (the
** English masked-LM checkpoint of Lample & Conneau, 2019: 12 layers, emb_dim 2048, 16 heads,
** 30145 words, 512 positions, n_langs 1 so no language embedding, GELU (erf), layer norm epsilon
** 1e-12). A post-LN encoder:
**   input_ids -> embeddings + position_embeddings -> layer_norm_emb -> per layer i
**   h = layer_norm1[i](h + attentions[i](h)); h = layer_norm2[i](h + ffns[i](h))
** -> last_hidden_state [batch, seq, emb_dim]. As in XLM, queries are divided by sqrt(head dim)
** before the product with the keys; ffns are lin1 (4 * emb_dim) -> GELU -> lin2. With no padding
** the attention mask of the original (all ones) is the identity and is left out.
**
** Default parameter count 667,088,896: XLMModel's num_parameters() for that configuration
** (30145 * 2048 + 512 * 2048 + 2 * 2048 + 12 * (4 * (2048^2 + 2048) + 2 * 2 * 2048
** + 2048 * 8192 + 8192 + 8192 * 2048 + 2048)), computed from the published configuration. */
#include <stdio.h>

#include "graph/zoo/kit.h"
#include "util/status.h"

#define XLM_VOCAB 30145
#define XLM_POSITIONS 512

static const char *layer(struct pn_zb *b, const char *h, int l, const struct pn_zb_seq *d,
                         const char *out_name) {
  char p[32], lin[4][40];
  static const char *const lins[4] = {"q_lin", "k_lin", "v_lin", "out_lin"};
  snprintf(p, sizeof p, "attentions.%d", l);
  for (int i = 0; i < 4; i++) snprintf(lin[i], sizeof lin[i], "%s.%s", p, lins[i]);
  const char *qkv[3];
  for (int i = 0; i < 3; i++)
    qkv[i] = pn_zb_heads(b, pn_zb_dense(b, h, lin[i], d->hidden, d->hidden, NULL), lin[i], "attn.head_shape",
                         i == 1);
  qkv[0] = pn_zb_op2(b, "Div", pn_zb_name(b, lin[0], "scale"), qkv[0], "attn.scale"); /* q / sqrt(d) first */
  const char *c = pn_zb_attention(b, p, qkv[0], qkv[1], qkv[2], NULL, NULL, "attn.merge_shape");
  c = pn_zb_dense(b, c, lin[3], d->hidden, d->hidden, NULL);
  h = pn_zb_op2(b, "Add", pn_zb_name(b, p, "residual"), h, c);
  snprintf(p, sizeof p, "layer_norm1.%d", l);
  h = pn_zb_layer_norm(b, h, p, d->hidden, 1e-12f, NULL);

  snprintf(p, sizeof p, "ffns.%d", l);
  const char *f = pn_zb_dense(b, h, pn_zb_name(b, p, "lin1"), d->hidden, d->inter, NULL);
  const char *g = pn_zb_gelu_erf(b, f, p);
  g = pn_zb_dense(b, g, pn_zb_name(b, p, "lin2"), d->inter, d->hidden, NULL);
  h = pn_zb_op2(b, "Add", pn_zb_name(b, p, "residual"), h, g);
  snprintf(p, sizeof p, "layer_norm2.%d", l);
  return pn_zb_layer_norm(b, h, p, d->hidden, 1e-12f, out_name);
}

int pn_zoo_xlm(struct pn_zb *b, const struct pn_zoo_opts *o, int unused) {
  (void)unused;
  static const struct pn_zb_seq def = {.layers = 12, .hidden = 2048, .heads = 16};
  struct pn_zb_seq d;
  if (pn_zb_seq_dims(b, o, &def, false, XLM_VOCAB + XLM_POSITIONS + 2, "attn", &d)) return b->status;
  const char *h = pn_zb_token_embeddings(b, "embeddings", "position_embeddings", d.batch, d.seq,
                                         d.hidden, XLM_VOCAB, XLM_POSITIONS, 0);
  h = pn_zb_layer_norm(b, h, "layer_norm_emb", d.hidden, 1e-12f, NULL);
  for (int l = 0; l < d.layers; l++)
    h = layer(b, h, l, &d, l + 1 == d.layers ? "last_hidden_state" : NULL);
  if (b->status != PN_OK) return b->status;
  int64_t od[3] = {d.batch, d.seq, d.hidden};
  if (!pn_graph_add_output(b->g, "last_hidden_state", PN_DT_FLOAT, 3, od))
    return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  return PN_OK;
}
