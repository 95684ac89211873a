/* ckks_roundtrip.c - CKKS with privnn's library, as SEAL's or OpenFHE's first example does it:
** parameters at the 128-bit bound, keys, encode + encrypt two vectors, compute x * y + x on the
** ciphertexts (multiply, relinearise, rescale, bring x to the product's level and scale, add),
** decrypt + decode, and compare every slot with the same computation in plain doubles.
**
**   cc ckks_roundtrip.c $(pkg-config --cflags --libs privnn) -o ckks_roundtrip
**   ./ckks_roundtrip [LOGN]          (ring degree 2^LOGN, 13 by default; 12..16)
**
** Exits 1 on any error, and when a slot is off by more than 1e-4 (the error is ~1e-7 at scale 2^40). */
#include <privnn/privnn.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int logn = argc > 1 ? atoi(argv[1]) : 13;
  struct pn_ctx ctx = {0};
  struct pn_ckks_params p;
  struct pn_ckks_context *c = NULL;
  struct pn_prg prg;
  struct pn_ckks_sk *sk = NULL;
  struct pn_ckks_pk *pk = NULL;
  struct pn_ckks_swk *rk = NULL;
  struct pn_ckks_pt *pt = NULL;
  struct pn_ckks_ct *cx = NULL, *cy = NULL, *cr = NULL;
  double *x = NULL, *y = NULL, *out = NULL;
  double max_err = 0;
  /* "scale40": a 60-bit base prime and 40-bit scaling primes; every object belongs to context c */
  int rc = pn_ckks_params_preset(&ctx, "scale40", logn, &p);
  if (rc == PN_OK) rc = pn_ckks_context_new(&ctx, &p, &c);
  if (rc == PN_OK) rc = pn_prg_init_os(&ctx, &prg); /* keys and encryption noise from getrandom */
  if (rc != PN_OK) goto done;
  size_t n = pn_ckks_slots(c);
  double scale = pn_ckks_default_scale(c);
  x = malloc(n * sizeof *x);
  y = malloc(n * sizeof *y);
  out = malloc(n * sizeof *out);
  if (!x || !y || !out) rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
  /* a plaintext and three ciphertexts of context c (the _create forms say why they fail) */
  if (rc == PN_OK) rc = pn_ckks_pt_create(&ctx, c, &pt);
  if (rc == PN_OK) rc = pn_ckks_ct_create(&ctx, c, &cx);
  if (rc == PN_OK) rc = pn_ckks_ct_create(&ctx, c, &cy);
  if (rc == PN_OK) rc = pn_ckks_ct_create(&ctx, c, &cr);
  for (size_t i = 0; i < n; i++) {
    x[i] = (double)(i % 101) / 50.0 - 1; /* values in [-1, 1] */
    y[i] = (double)(i % 37) / 18.0 - 1;
  }
  /* keys: secret, public (encryption), relinearisation (after a ciphertext product) */
  if (rc == PN_OK) rc = pn_ckks_keygen_secret(&ctx, c, &prg, &sk);
  if (rc == PN_OK) rc = pn_ckks_keygen_public(&ctx, c, sk, &prg, &pk);
  if (rc == PN_OK) rc = pn_ckks_keygen_relin(&ctx, c, sk, &prg, &rk);
  /* encode at the top level and the default scale, encrypt with the public key */
  if (rc == PN_OK) rc = pn_ckks_encode_real(&ctx, c, x, n, scale, -1, pt);
  if (rc == PN_OK) rc = pn_ckks_encrypt_pk(&ctx, c, pk, pt, &prg, cx);
  if (rc == PN_OK) rc = pn_ckks_encode_real(&ctx, c, y, n, scale, -1, pt);
  if (rc == PN_OK) rc = pn_ckks_encrypt_pk(&ctx, c, pk, pt, &prg, cy);
  /* x * y: the scale squares, rescaling divides it by the top prime and drops one level */
  if (rc == PN_OK) rc = pn_ckks_mul_relin(&ctx, c, rk, cx, cy, cr);
  if (rc == PN_OK) rc = pn_ckks_rescale(&ctx, c, cr, cr);
  /* + x: sums need one level and one scale, so x is brought to the product's */
  if (rc == PN_OK) rc = pn_ckks_match(&ctx, c, cx, cr->level, cr->scale, cx);
  if (rc == PN_OK) rc = pn_ckks_add(&ctx, c, cr, cx, cr);
  if (rc == PN_OK) rc = pn_ckks_decrypt(&ctx, c, sk, cr, pt);
  if (rc == PN_OK) rc = pn_ckks_decode_real(&ctx, c, pt, out);
  if (rc == PN_OK) {
    for (size_t i = 0; i < n; i++) {
      double e = out[i] - (x[i] * y[i] + x[i]);
      if (e < 0) e = -e;
      if (e > max_err) max_err = e;
    }
    printf("N = %zu, %zu slots, levels %d -> %d: x * y + x, max error %.3g over all slots\n",
           pn_ckks_n(c), n, pn_ckks_max_level(c), cr->level, max_err);
  }
  pn_prg_free(&prg);
done:
  pn_ckks_ct_free(cx);
  pn_ckks_ct_free(cy);
  pn_ckks_ct_free(cr);
  pn_ckks_pt_free(pt);
  pn_ckks_swk_free(rk);
  pn_ckks_pk_free(pk);
  pn_ckks_sk_free(sk); /* wipes the secret */
  pn_ckks_context_free(c);
  free(x);
  free(y);
  free(out);
  if (rc != PN_OK) {
    fprintf(stderr, "ckks_roundtrip: %s\n", pn_errmsg(&ctx));
    return 1;
  }
  if (!(max_err < 1e-4)) {
    fprintf(stderr, "ckks_roundtrip: error %.3g above 1e-4\n", max_err);
    return 1;
  }
  return 0;
}
