/* k_convt.c - ONNX ConvTranspose (any number of spatial dims, groups, dilations, output_padding,
** output_shape, auto_pad).
**
** Output size per spatial dim: s * (in - 1) + output_padding + ((k - 1) * d + 1) - pad_begin -
** pad_end. With output_shape given (or auto_pad SAME_*, where the output is in * s), the pads are
** derived from the total padding that size implies: SAME_UPPER puts the odd one at the end,
** otherwise at the beginning (the ONNX rule). VALID means no pads.
**
** Computation per image and group: col = W_g^T x_g (one sgemm: [M/g * K] x [C/g] times
** [C/g] x [input positions]), then col2im adds col[(m, k), i] to y[m, i * s + k * d - pad_begin]
** where that lands inside the output, and the bias is added. float32 only (float16 and bfloat16
** by conversion in ops.c). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_util.h"

struct ct_geo {
  int ndim, nsp;                /* ndim -1: rank unknown */
  int64_t n, c, m, group;
  int64_t in[PN_MAX_DIMS], k[PN_MAX_DIMS], s[PN_MAX_DIMS], d[PN_MAX_DIMS], op[PN_MAX_DIMS];
  int64_t pb[PN_MAX_DIMS], pe[PN_MAX_DIMS], out[PN_MAX_DIMS];   /* -1 unknown */
};

/* An INTS attribute of nsp values (or of nsp + 2 when allow_full, the spatial ones kept) into v;
** def when absent. */
static int ints_attr(const struct pn_op_args *a, const char *name, int nsp, bool allow_full, int64_t def,
                     int64_t *v, bool *given) {
  const int64_t *p;
  int64_t k;
  int rc = pn_node_get_ints(a->ctx, a->node, name, &k, &p);
  if (rc) return rc;
  *given = k >= 0;
  if (k < 0) {
    for (int i = 0; i < nsp; i++) v[i] = def;
    return PN_OK;
  }
  int off = 0;
  if (allow_full && k == nsp + 2) off = 2;
  else if (k != nsp)
    return pn_op_err(a, PN_ERR_INVALID, "attribute '%s' has %lld values, expected %d", name, (long long)k, nsp);
  for (int i = 0; i < nsp; i++) v[i] = p[off + i];
  return PN_OK;
}

static int ct_setup(const struct pn_op_args *a, const struct pn_shape *x, const struct pn_shape *w,
                    const struct pn_shape *b, struct ct_geo *g) {
  int rc;
  memset(g, 0, sizeof *g);
  if ((rc = pn_node_get_int(a->ctx, a->node, "group", 1, &g->group))) return rc;
  if (g->group < 1) return pn_op_err(a, PN_ERR_INVALID, "attribute 'group' = %lld must be positive", (long long)g->group);
  g->ndim = x->ndim >= 0 ? x->ndim : w->ndim;
  if (g->ndim < 0) return PN_OK;
  if (g->ndim < 3 || g->ndim > PN_MAX_DIMS)
    return pn_op_err(a, PN_ERR_INVALID, "X has rank %d, expected 3..%d", g->ndim, PN_MAX_DIMS);
  if ((x->ndim >= 0 && x->ndim != g->ndim) || (w->ndim >= 0 && w->ndim != g->ndim))
    return pn_op_err(a, PN_ERR_INVALID, "X has rank %d and W rank %d", x->ndim, w->ndim);
  int nsp = g->nsp = g->ndim - 2;
  g->n = x->ndim >= 0 ? x->dims[0] : -1;
  g->c = x->ndim >= 0 ? x->dims[1] : -1;
  int64_t wc = w->ndim >= 0 ? w->dims[0] : -1, wm = w->ndim >= 0 ? w->dims[1] : -1;
  if (g->c >= 0 && wc >= 0 && g->c != wc)
    return pn_op_err(a, PN_ERR_INVALID, "X has %lld channels, W's dim 0 is %lld", (long long)g->c, (long long)wc);
  if (g->c < 0) g->c = wc;
  if (g->c >= 0 && g->c % g->group)
    return pn_op_err(a, PN_ERR_INVALID, "%lld channels are not divisible by group %lld", (long long)g->c,
                     (long long)g->group);
  g->m = wm >= 0 ? wm * g->group : -1;
  if (b && b->ndim >= 0 && (b->ndim != 1 || (g->m >= 0 && b->dims[0] >= 0 && b->dims[0] != g->m)))
    return pn_op_err(a, PN_ERR_INVALID, "B must be 1-D of the %lld output channels", (long long)g->m);
  bool given;
  int64_t ks[PN_MAX_DIMS];
  if ((rc = ints_attr(a, "kernel_shape", nsp, false, -1, ks, &given))) return rc;
  for (int i = 0; i < nsp; i++) {
    int64_t wk = w->ndim >= 0 ? w->dims[2 + i] : -1;
    g->k[i] = given ? ks[i] : wk;
    if (given && wk >= 0 && ks[i] != wk)
      return pn_op_err(a, PN_ERR_INVALID, "kernel_shape[%d] = %lld, W has %lld", i, (long long)ks[i], (long long)wk);
    g->in[i] = x->ndim >= 0 ? x->dims[2 + i] : -1;
  }
  if ((rc = ints_attr(a, "strides", nsp, false, 1, g->s, &given)) ||
      (rc = ints_attr(a, "dilations", nsp, false, 1, g->d, &given)) ||
      (rc = ints_attr(a, "output_padding", nsp, false, 0, g->op, &given)))
    return rc;
  for (int i = 0; i < nsp; i++) {
    if (g->s[i] < 1 || g->d[i] < 1)
      return pn_op_err(a, PN_ERR_INVALID, "strides and dilations must be positive");
    if (g->op[i] < 0 || (g->op[i] >= g->s[i] && g->op[i] >= g->d[i]))
      return pn_op_err(a, PN_ERR_INVALID, "output_padding[%d] = %lld must be below the stride or dilation", i,
                       (long long)g->op[i]);
  }
  const char *ap;
  if ((rc = pn_node_get_string(a->ctx, a->node, "auto_pad", "NOTSET", &ap))) return rc;
  bool upper = !strcmp(ap, "SAME_UPPER"), same = upper || !strcmp(ap, "SAME_LOWER"), valid = !strcmp(ap, "VALID");
  if (!same && !valid && strcmp(ap, "NOTSET"))
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'auto_pad' = '%s' is not valid", ap);
  int64_t os[PN_MAX_DIMS], pads[2 * PN_MAX_DIMS];
  bool has_os;
  if ((rc = ints_attr(a, "output_shape", nsp, true, -1, os, &has_os))) return rc;
  const int64_t *pp;
  int64_t np;
  if ((rc = pn_node_get_ints(a->ctx, a->node, "pads", &np, &pp))) return rc;
  if (np >= 0 && np != 2 * nsp)
    return pn_op_err(a, PN_ERR_INVALID, "attribute 'pads' has %lld values, expected %d", (long long)np, 2 * nsp);
  for (int i = 0; i < 2 * nsp; i++) {
    pads[i] = np >= 0 ? pp[i] : 0;
    if (pads[i] < 0) return pn_op_err(a, PN_ERR_INVALID, "attribute 'pads' has a negative value");
  }
  for (int i = 0; i < nsp; i++) {
    if (g->in[i] < 0 || g->k[i] < 0) {
      g->out[i] = g->pb[i] = g->pe[i] = -1;
      continue;
    }
    int64_t full = g->s[i] * (g->in[i] - 1) + g->op[i] + (g->k[i] - 1) * g->d[i] + 1;
    if (has_os || same) {
      int64_t want = has_os ? os[i] : g->in[i] * g->s[i];
      /* a negative total (an output_shape above what the input gives) pads the output with the
      ** bias only, at the end for an odd total: the spec's formula with floor division */
      int64_t total = full - want, half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      if (want < 0) return pn_op_err(a, PN_ERR_INVALID, "output_shape[%d] is negative", i);
      g->pb[i] = upper ? half : total - half;
      g->pe[i] = total - g->pb[i];
    } else if (valid) {
      g->pb[i] = g->pe[i] = 0;
    } else {
      g->pb[i] = pads[i];
      g->pe[i] = pads[nsp + i];
    }
    g->out[i] = full - g->pb[i] - g->pe[i];
    if (g->out[i] < 0) return pn_op_err(a, PN_ERR_INVALID, "the pads leave spatial dim %d negative", i);
  }
  return PN_OK;
}

int pn_infer_conv_transpose(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                            struct pn_shape *out, int n_out) {
  int rc;
  struct ct_geo g;
  enum pn_dtype dt = in[0].dtype ? in[0].dtype : in[1].dtype;
  if ((rc = pn_check_dtype(a, "X", in[0].dtype, PN_DT_BIT(PN_DT_FLOAT))) ||
      (rc = pn_check_dtype(a, "W", in[1].dtype, PN_DT_BIT(PN_DT_FLOAT))))
    return rc;
  const struct pn_shape *b = pn_has_in(a, n_in, 2) ? &in[2] : NULL;
  if ((rc = ct_setup(a, &in[0], &in[1], b, &g))) return rc;
  if (g.ndim < 0) {
    pn_shape_set(out, dt, -1, NULL);
    return PN_OK;
  }
  int64_t d[PN_MAX_DIMS] = {g.n, g.m};
  for (int i = 0; i < g.nsp; i++) d[2 + i] = g.out[i];
  pn_shape_set(out, dt, g.ndim, d);
  return PN_OK;
}

int pn_run_conv_transpose(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                          struct pn_tensor *const *out, int n_out) {
  const struct pn_tensor *X = in[0], *W = in[1], *B = pn_has_in(a, n_in, 2) ? in[2] : NULL;
  struct pn_tensor *Y = out[0];
  struct pn_shape sh[3];
  struct ct_geo g;
  int rc;
  pn_shapes_of(in, n_in < 3 ? n_in : 3, sh);
  if (X->dtype != PN_DT_FLOAT || W->dtype != PN_DT_FLOAT || (B && B->dtype != PN_DT_FLOAT))
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "unsupported dtype %s (float32 only)",
                     pn_dtype_name(X->dtype != PN_DT_FLOAT ? X->dtype : W->dtype));
  if ((rc = ct_setup(a, &sh[0], &sh[1], B ? &sh[2] : NULL, &g))) return rc;
  bool ok = Y->dtype == PN_DT_FLOAT && Y->ndim == g.ndim && Y->dims[0] == g.n && Y->dims[1] == g.m;
  for (int i = 0; ok && i < g.nsp; i++) ok = Y->dims[2 + i] == g.out[i];
  if (!ok) return pn_op_err(a, PN_ERR_INVALID, "output Y has the wrong shape");
  int nsp = g.nsp;
  int64_t cg = g.c / g.group, mg = g.m / g.group, kp = 1, pin = 1, pout = 1;
  for (int i = 0; i < nsp; i++) {
    kp *= g.k[i];
    pin *= g.in[i];
    pout *= g.out[i];
  }
  float *y = Y->data;
  const float *x = X->data, *w = W->data, *b = B ? B->data : NULL;
  int64_t rows = mg * kp;
  if (rows > INT32_MAX || pin > INT32_MAX || cg > INT32_MAX)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "GEMM dimensions exceed the BLAS int range");
  memset(y, 0, pn_tensor_nbytes(Y));
  float *col = malloc((size_t)(rows * pin > 0 ? rows * pin : 1) * sizeof *col);
  if (!col) return pn_op_err(a, PN_ERR_NOMEM, "out of memory for the column buffer");
  /* per kernel offset kr: its coordinates; per input position: its coordinates */
  for (int64_t n = 0; n < g.n; n++)
    for (int64_t gi = 0; gi < g.group; gi++) {
      const float *xg = x + (n * g.c + gi * cg) * pin, *wg = w + gi * cg * rows;
      if (cg > 0)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)pin, (int)cg, 1.0f, wg, (int)rows,
                    xg, (int)pin, 0.0f, col, (int)pin);
      else
        memset(col, 0, (size_t)(rows * pin) * sizeof *col);
      float *yg = y + (n * g.m + gi * mg) * pout;
      #pragma omp parallel for schedule(static) if (rows * pin > 65536)
      for (int64_t m = 0; m < mg; m++)
        for (int64_t kr = 0; kr < kp; kr++) {
          int64_t kc[PN_MAX_DIMS], rem = kr;
          for (int i = nsp - 1; i >= 0; i--) {
            kc[i] = rem % g.k[i];
            rem /= g.k[i];
          }
          const float *cr = col + (m * kp + kr) * pin;
          float *ym = yg + m * pout;
          int64_t ic[PN_MAX_DIMS] = {0};
          for (int64_t p = 0; p < pin; p++) {
            int64_t off = 0;
            bool inside = true;
            for (int i = 0; i < nsp && inside; i++) {
              int64_t o = ic[i] * g.s[i] + kc[i] * g.d[i] - g.pb[i];
              inside = o >= 0 && o < g.out[i];
              off = off * g.out[i] + o;
            }
            if (inside) ym[off] += cr[p];
            for (int i = nsp - 1; i >= 0; i--) {   /* next input position */
              if (++ic[i] < g.in[i]) break;
              ic[i] = 0;
            }
          }
        }
      if (b)
        for (int64_t m = 0; m < mg; m++)
          for (int64_t q = 0; q < pout; q++) yg[m * pout + q] += b[gi * mg + m];
    }
  free(col);
  return PN_OK;
}
