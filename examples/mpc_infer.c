/* mpc_infer.c - private inference with two-party MPC, checked against plaintext: the client's
** images are secret-shared, the model runs on the shares (here both parties in one process, the
** protocol simulator, bit-identical to a two-party run), and the revealed logits are compared with
** the plaintext executor's.
**
**   cc mpc_infer.c $(pkg-config --cflags --libs privnn) -o mpc_infer
**   ./mpc_infer models/cnn-s.onnx
**
** Full-bit ReLU (CrypTen's protocol) on 10 validation images, public weights. Prints the bytes one
** party sends and the agreement of the predictions; exits 1 on any error or disagreement. */
#include <privnn/privnn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B 10

/* Index of the largest of z[0..n). */
static int argmax(const double *z, int n) {
  int a = 0;
  for (int k = 1; k < n; k++)
    if (z[k] > z[a]) a = k;
  return a;
}

int main(int argc, char **argv) {
  const char *model = argc > 1 ? argv[1] : "models/cnn-s.onnx";
  enum { N = B * PN_FMNIST_PIXELS, K = PN_FMNIST_CLASSES };
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL, *gb = NULL;
  struct pn_exec *ex = NULL;
  struct pn_tensor *in = NULL, *plain = NULL;
  struct pn_mpc_model *mm = NULL;
  struct pn_mpc_dealer *dealer = NULL;
  struct pn_dataset ds;
  struct pn_prg prg;
  struct pn_mpc m;
  pn_sh xs = {0}, ys = {0};
  uint8_t master[PN_SEED_BYTES], client[PN_SEED_BYTES];
  static float x[N];
  static uint64_t enc[N];
  int32_t labels[B];
  int64_t idx[B], dims[4] = {B, 1, PN_FMNIST_SIDE, PN_FMNIST_SIDE};
  memset(&ds, 0, sizeof ds);
  memset(&m, 0, sizeof m);
  memset(&prg, 0, sizeof prg);
  int rc = pn_onnx_load_file(&ctx, model, &g);
  if (rc == PN_OK) rc = pn_dataset_load(&ctx, NULL, &ds);
  if (rc == PN_OK) rc = pn_dataset_use_model_norm(&ctx, &ds, g);
  if (rc) goto out;
  for (int i = 0; i < B; i++) idx[i] = i;
  pn_dataset_batch(&ds, PN_SPLIT_VAL, idx, B, 0, 0, NULL, x, labels);

  /* plaintext reference: the executor on the same graph with batch dim B */
  if ((rc = pn_tensor_create(&ctx, PN_DT_FLOAT, 4, dims, &in))) goto out;
  if (!(gb = pn_graph_clone_batch(g, B))) { /* the clone can fail only for lack of memory */
    rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  memcpy(in->data, x, sizeof x);
  const struct pn_tensor *ins = in;
  if ((rc = pn_exec_new(&ctx, gb, NULL, &ex)) || (rc = pn_exec_run(&ctx, ex, &ins, &plain))) goto out;

  /* the model on shares: correlated randomness from a fresh master seed, the client's shares */
  struct pn_mpc_model_opts mo = {.batch = B};
  if ((rc = pn_mpc_model_new(&ctx, g, &mo, &mm)) || (rc = pn_getrandom(&ctx, master, sizeof master)) ||
      (rc = pn_dealer_new_embedded(&ctx, master, &dealer)))
    goto out;
  pn_seed_derive(master, "client", 0, client); /* the client's own randomness */
  if ((rc = pn_prg_init(&ctx, &prg, client))) goto out;
  pn_mpc_init_sim(&m, &ctx, dealer, PN_MPC_FRAC_DEFAULT);
  for (int64_t i = 0; i < N; i++) enc[i] = pn_fx_encode(x[i], PN_MPC_FRAC_DEFAULT);
  if ((rc = pn_sh_alloc(&m, N, xs))) goto out;
  pn_mpc_split(&prg, N, enc, xs[0], xs[1]);
  if ((rc = pn_mpc_model_run(mm, &m, xs, ys))) goto out;

  /* the client adds the two output shares and decodes; the same argmax as in plaintext? */
  int agree = 0;
  double maxdiff = 0;
  for (int i = 0; i < B; i++) {
    double zs[K], zp[K];
    for (int k = 0; k < K; k++) {
      zs[k] = pn_fx_decode(ys[0][i * K + k] + ys[1][i * K + k], PN_MPC_FRAC_DEFAULT);
      zp[k] = ((const float *)plain->data)[i * K + k];
      double d = zs[k] > zp[k] ? zs[k] - zp[k] : zp[k] - zs[k];
      if (d > maxdiff) maxdiff = d;
    }
    agree += argmax(zs, K) == argmax(zp, K);
  }
  printf("%s: %d of %d predictions on shares equal the plaintext ones (max logit difference %.4f); "
         "%.2f MB sent by each party in %llu rounds\n", model, agree, B, maxdiff, (double)m.st.bytes / 1e6,
         (unsigned long long)m.st.rounds);
  if (agree != B) rc = pn_err(&ctx, PN_ERR_MISMATCH, "private and plaintext predictions differ");
out:
  pn_sh_free(&m, N, xs);
  if (mm) pn_sh_free(&m, pn_mpc_model_out_numel(mm), ys);
  pn_mpc_release(&m);
  pn_prg_free(&prg);
  pn_wipe(master, sizeof master);
  pn_wipe(client, sizeof client);
  pn_dealer_free(dealer);
  pn_mpc_model_free(mm);
  pn_tensor_free(in);
  pn_tensor_free(plain);
  pn_exec_free(ex);
  pn_graph_free(gb);
  pn_graph_free(g);
  pn_dataset_free(&ds);
  if (rc) {
    fprintf(stderr, "mpc_infer: %s\n", pn_errmsg(&ctx));
    return 1;
  }
  return 0;
}
