/* gpt2.c - the zoo's GPT-2 (small): Hugging Face GPT2LMHeadModel, a pre-LN Transformer decoder.
**
** input_ids [batch, seq] (int64) -> wte + wpe embeddings -> `layers` blocks
**   h = h + c_proj(attn(ln_1(h)))      (causal: position i attends to positions <= i)
**   h = h + mlp.c_proj(gelu_new(mlp.c_fc(ln_2(h))))
** -> ln_f -> logits = h wte^T (the LM head is tied to the token embedding, as published: one
** parameter, read by the embedding's Gather and by the head's Gemm with transB = 1).
**
** Names are Hugging Face's ("h.0.attn.c_attn.weight"); Conv1D weights are [in, out] as there, so
** each is a MatMul + Add. c_attn makes Q, K and V at once; a Split cuts them apart. The causal
** mask is an additive constant [1, 1, seq, seq]: 0 on and below the diagonal, -1e10 above (the
** original OpenAI code's value; exp underflows to exactly 0). gelu_new is the tanh approximation
** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Layer norms use epsilon 1e-5.
**
** Defaults: 12 layers, hidden 768, 12 heads, seq 128 (at most 1024 positions), vocabulary 50257,
** MLP 4 * hidden: 124,439,808 parameters (HF gpt2's num_parameters(), the tied head counted once). */
#include <stdio.h>
#include <stdlib.h>

#include "graph/zoo/kit.h"
#include "util/status.h"

#define GPT2_VOCAB 50257
#define GPT2_POSITIONS 1024

static const char *block(struct pn_zb *b, const char *h, int l, const struct pn_zb_seq *d) {
  char p[32];
  snprintf(p, sizeof p, "h.%d", l);
  const char *x = pn_zb_layer_norm(b, h, pn_zb_name(b, p, "ln_1"), d->hidden, 1e-5f, NULL);
  const char *at = pn_zb_name(b, p, "attn");
  const char *qkv = pn_zb_dense(b, x, pn_zb_name(b, at, "c_attn"), d->hidden, 3 * d->hidden, NULL);
  const char *sp = pn_zb_name(b, at, "split");
  const char *outs[3] = {pn_zb_name(b, sp, "q"), pn_zb_name(b, sp, "k"), pn_zb_name(b, sp, "v")};
  const char *sp_in[2] = {qkv, "attn.split_sizes"};
  struct pn_node *n = NULL;
  if (b->status == PN_OK && outs[0] && outs[1] && outs[2]) {
    n = pn_graph_add_node(b->g, "Split", sp, 2, sp_in, 3, outs);
    if (!n) pn_zb_fail(b, PN_ERR_NOMEM, "out of memory adding node '%s'", sp);
  }
  pn_zb_int(b, n, "axis", -1);
  const char *q = pn_zb_heads(b, outs[0], pn_zb_name(b, at, "query"), "attn.head_shape", false);
  const char *k = pn_zb_heads(b, outs[1], pn_zb_name(b, at, "key"), "attn.head_shape", true);
  const char *v = pn_zb_heads(b, outs[2], pn_zb_name(b, at, "value"), "attn.head_shape", false);
  const char *c = pn_zb_attention(b, at, q, k, v, "attn.scale", "attn.causal_mask", "attn.merge_shape");
  c = pn_zb_dense(b, c, pn_zb_name(b, at, "c_proj"), d->hidden, d->hidden, NULL);
  h = pn_zb_op2(b, "Add", pn_zb_name(b, p, "attn.residual"), c, h);

  x = pn_zb_layer_norm(b, h, pn_zb_name(b, p, "ln_2"), d->hidden, 1e-5f, NULL);
  const char *mp = pn_zb_name(b, p, "mlp");
  const char *f = pn_zb_dense(b, x, pn_zb_name(b, mp, "c_fc"), d->hidden, d->inter, NULL);
  /* gelu_new(f) = f * 0.5 * (1 + tanh(c * (f + 0.044715 f^3))) */
  const char *f3 = pn_zb_op2(b, "Mul", pn_zb_name(b, mp, "gelu.sq"), f, f);
  f3 = pn_zb_op2(b, "Mul", pn_zb_name(b, mp, "gelu.cube"), f3, f);
  f3 = pn_zb_op2(b, "Mul", pn_zb_name(b, mp, "gelu.mul_c3"), f3, pn_zb_scalar(b, "gelu.c3", 0.044715f));
  const char *t = pn_zb_op2(b, "Add", pn_zb_name(b, mp, "gelu.add"), f, f3);
  t = pn_zb_op2(b, "Mul", pn_zb_name(b, mp, "gelu.mul_c"), t, pn_zb_scalar(b, "gelu.c", 0.7978845608f));
  t = pn_zb_out(pn_zb_op(b, "Tanh", pn_zb_name(b, mp, "gelu.tanh"), 1, &t, NULL));
  t = pn_zb_op2(b, "Add", pn_zb_name(b, mp, "gelu.add_1"), t, pn_zb_scalar(b, "gelu.one", 1.0f));
  t = pn_zb_op2(b, "Mul", pn_zb_name(b, mp, "gelu.mul"), f, t);
  t = pn_zb_op2(b, "Mul", pn_zb_name(b, mp, "gelu.mul_half"), t, pn_zb_scalar(b, "gelu.half", 0.5f));
  t = pn_zb_dense(b, t, pn_zb_name(b, mp, "c_proj"), d->inter, d->hidden, NULL);
  return pn_zb_op2(b, "Add", pn_zb_name(b, p, "mlp.residual"), t, h);
}

int pn_zoo_gpt2(struct pn_zb *b, const struct pn_zoo_opts *o, int unused) {
  (void)unused;
  static const struct pn_zb_seq def = {.layers = 12, .hidden = 768, .heads = 12};
  struct pn_zb_seq d;
  if (pn_zb_seq_dims(b, o, &def, false, GPT2_VOCAB + GPT2_POSITIONS + 2, "attn", &d)) return b->status;
  if (d.seq > GPT2_POSITIONS)
    return pn_zb_fail(b, PN_ERR_INVALID, "seq %lld above GPT-2's %d positions", (long long)d.seq,
                      GPT2_POSITIONS);
  int64_t three = 3, split3[3] = {d.hidden, d.hidden, d.hidden};
  pn_zb_i64(b, "attn.split_sizes", 1, &three, split3);
  float *mask = malloc((size_t)(d.seq * d.seq) * sizeof *mask);
  if (!mask) return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < d.seq; i++)
    for (int64_t j = 0; j < d.seq; j++) mask[i * d.seq + j] = j <= i ? 0.0f : -1e10f;
  int64_t md[4] = {1, 1, d.seq, d.seq};
  pn_zb_const(b, "attn.causal_mask", 4, md, mask);
  free(mask);

  const char *h = pn_zb_token_embeddings(b, "wte", "wpe", d.batch, d.seq, d.hidden, GPT2_VOCAB,
                                         GPT2_POSITIONS, 0);
  for (int l = 0; l < d.layers; l++) h = block(b, h, l, &d);
  h = pn_zb_layer_norm(b, h, "ln_f", d.hidden, 1e-5f, "last_hidden_state");
  /* the tied head, nn.Linear(hidden, vocab, bias=False) with wte's weight: logits = h wte^T as a
  ** Gemm (transB = 1) on the [batch * seq, hidden] rows */
  int64_t two = 2, rows[2] = {-1, d.hidden}, back[3] = {d.batch, d.seq, GPT2_VOCAB};
  h = pn_zb_op2(b, "Reshape", "lm_head.rows", h, pn_zb_i64(b, "lm_head.rows_shape", 1, &two, rows));
  const char *gm_in[2] = {h, "wte.weight"};
  struct pn_node *gm = pn_zb_op(b, "Gemm", "lm_head", 2, gm_in, NULL);
  pn_zb_int(b, gm, "transB", 1);
  pn_zb_op(b, "Reshape", "lm_head.unrows", 2,
           (const char *const[2]){pn_zb_out(gm), pn_zb_i64(b, "lm_head.logits_shape", 1, &three, back)},
           "logits");
  if (b->status != PN_OK) return b->status;
  int64_t od[3] = {d.batch, d.seq, GPT2_VOCAB};
  if (!pn_graph_add_output(b->g, "logits", PN_DT_FLOAT, 3, od))
    return pn_zb_fail(b, PN_ERR_NOMEM, "out of memory");
  return PN_OK;
}
