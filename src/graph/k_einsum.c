/* k_einsum.c - ONNX Einsum: any equation (explicit "->" or implicit output, "..." broadcasting,
** repeated labels for diagonals), any number of operands.
**
** Every label (each letter, and one label per dim covered by "...") gets one size and, per
** operand, one stride: the sum of the strides of the operand's dims carrying it, so a repeated
** label walks the diagonal, and an absent or broadcast (size 1) dim has stride 0. The output is
** then a loop over the output labels with an inner sum over the others of the product of the
** operands' elements, accumulated in double (float types) or int64 (integers).
**
** Two float32 operands with no repeated labels (the matmul-like equations of attention, bilinear
** layers, "bij,bjk->bik") take a faster path: each operand is laid out as [batch, free, summed]
** and multiplied with one sgemm per batch index, the result permuted to the output's order. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "graph/k_xutil.h"

#define EIN_MAX_OPS 16
#define EIN_MAX_LABELS (52 + PN_MAX_DIMS)

struct ein {
  int nops, nlab, nout;
  int out[EIN_MAX_LABELS];                      /* output labels in order */
  int64_t size[EIN_MAX_LABELS];                 /* -1 unknown */
  int ndims[EIN_MAX_OPS];
  int lab[EIN_MAX_OPS][PN_MAX_DIMS];            /* label of each dim of each operand */
  bool repeated;                                /* some operand repeats a label */
  char name[EIN_MAX_LABELS];                    /* letters; 0 for ellipsis labels */
};

static int letter_id(char c) { return c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? 26 + c - 'A' : -1; }

/* Parse eq for operands of ranks rank[0..n) (-1 unknown: the ellipsis width is then unknown). */
static int ein_parse(const struct pn_op_args *a, const char *eq, int n, const int *rank, struct ein *e) {
  memset(e, 0, sizeof *e);
  if (n > EIN_MAX_OPS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "%d operands, at most %d", n, EIN_MAX_OPS);
  e->nops = n;
  char buf[512];
  size_t k = 0;
  for (const char *p = eq; *p; p++)
    if (*p != ' ') {
      if (k + 1 >= sizeof buf) return pn_op_err(a, PN_ERR_INVALID, "attribute 'equation' is too long");
      buf[k++] = *p;
    }
  buf[k] = 0;
  char *arrow = strstr(buf, "->");
  if (arrow) *arrow = 0;
  /* label ids: letters 0..51, ellipsis dims 52.. (right-aligned, as numpy broadcasts) */
  int ell = 0;
  int count[EIN_MAX_LABELS] = {0};
  bool any_ell = false;
  char *term = buf;
  for (int op = 0; op < n; op++) {
    char *comma = strchr(term, ',');
    if (comma) *comma = 0;
    else if (op != n - 1) return pn_op_err(a, PN_ERR_INVALID, "equation '%s' has fewer terms than %d inputs", eq, n);
    int letters = 0;
    const char *dots = strstr(term, "...");
    for (const char *p = term; *p; p++) {
      if (dots && p >= dots && p < dots + 3) continue;
      if (letter_id(*p) < 0) return pn_op_err(a, PN_ERR_INVALID, "equation '%s': '%c' is not a label", eq, *p);
      letters++;
    }
    if (dots && strstr(dots + 3, "...")) return pn_op_err(a, PN_ERR_INVALID, "equation '%s': two ellipses in a term", eq);
    if (rank[op] < 0) return PN_OK;   /* ranks unknown: nothing more to learn */
    int width = rank[op] - letters;
    if (width < 0 || (!dots && width))
      return pn_op_err(a, PN_ERR_INVALID, "equation term '%s' has %d labels, input %d has rank %d", term, letters, op,
                       rank[op]);
    if (dots && width > ell) ell = width;
    any_ell |= dots != NULL;
    int d = 0;
    for (const char *p = term; *p; p++) {
      if (dots && p == dots) {
        for (int j = 0; j < width; j++) e->lab[op][d++] = 52 + (PN_MAX_DIMS - width) + j;
        p += 2;
        continue;
      }
      e->lab[op][d++] = letter_id(*p);
    }
    e->ndims[op] = d;
    bool seen[EIN_MAX_LABELS] = {false};
    for (int j = 0; j < d; j++) {
      if (seen[e->lab[op][j]]) e->repeated = true;
      seen[e->lab[op][j]] = true;
      count[e->lab[op][j]]++;
    }
    term = comma ? comma + 1 : term + strlen(term);
  }
  if (*term) return pn_op_err(a, PN_ERR_INVALID, "equation '%s' has more terms than %d inputs", eq, n);
  /* output labels */
  if (arrow) {
    const char *o = arrow + 2, *dots = strstr(o, "...");
    for (const char *p = o; *p; p++) {
      if (dots && p == dots) {
        for (int j = 0; j < ell; j++) e->out[e->nout++] = 52 + (PN_MAX_DIMS - ell) + j;
        p += 2;
        continue;
      }
      int id = letter_id(*p);
      if (id < 0) return pn_op_err(a, PN_ERR_INVALID, "equation '%s': '%c' is not a label", eq, *p);
      if (!count[id]) return pn_op_err(a, PN_ERR_INVALID, "equation '%s': output label '%c' is in no input", eq, *p);
      for (int j = 0; j < e->nout; j++)
        if (e->out[j] == id) return pn_op_err(a, PN_ERR_INVALID, "equation '%s': output label '%c' twice", eq, *p);
      e->out[e->nout++] = id;
    }
    if (!dots && any_ell && ell) return pn_op_err(a, PN_ERR_INVALID, "equation '%s' drops the ellipsis dims", eq);
  } else {
    for (int j = 0; j < ell; j++) e->out[e->nout++] = 52 + (PN_MAX_DIMS - ell) + j;
    for (int id = 26; id < 52; id++)   /* ASCII order: uppercase first */
      if (count[id] == 1) e->out[e->nout++] = id;
    for (int id = 0; id < 26; id++)
      if (count[id] == 1) e->out[e->nout++] = id;
  }
  if (e->nout > PN_MAX_DIMS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "output rank %d above %d", e->nout, PN_MAX_DIMS);
  e->nlab = EIN_MAX_LABELS;
  for (int i = 0; i < EIN_MAX_LABELS; i++) e->size[i] = count[i] || i >= 52 ? 1 : 0;
  return PN_OK;
}

/* Label sizes from the operands' dims (unknown dims leave -1). */
static int ein_sizes(const struct pn_op_args *a, struct ein *e, const int64_t *const *dims) {
  int64_t sz[EIN_MAX_LABELS];
  bool set[EIN_MAX_LABELS] = {false};
  for (int i = 0; i < EIN_MAX_LABELS; i++) sz[i] = 1;
  for (int op = 0; op < e->nops; op++)
    for (int d = 0; d < e->ndims[op]; d++) {
      int l = e->lab[op][d];
      int64_t v = dims[op][d];
      if (v < 0) {
        if (!set[l]) sz[l] = -1;
        continue;
      }
      if (set[l] && sz[l] >= 0 && sz[l] != v) {
        if (l >= 52 && (sz[l] == 1 || v == 1)) {   /* ellipsis dims broadcast */
          if (v != 1) sz[l] = v;
          continue;
        }
        return pn_op_err(a, PN_ERR_INVALID, "label '%c' has sizes %lld and %lld", l < 52 ? e->name[l] : '.',
                         (long long)sz[l], (long long)v);
      }
      if (!set[l] || sz[l] < 0 || (l >= 52 && sz[l] == 1)) sz[l] = v;
      set[l] = true;
    }
  memcpy(e->size, sz, sizeof sz);
  return PN_OK;
}

static void ein_names(struct ein *e) {
  for (int i = 0; i < 26; i++) e->name[i] = (char)('a' + i), e->name[26 + i] = (char)('A' + i);
}

static int ein_setup(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct ein *e, bool *known) {
  const char *eq;
  int rc = pn_node_get_string(a->ctx, a->node, "equation", NULL, &eq);
  if (rc) return rc;
  if (!eq) return pn_op_err(a, PN_ERR_INVALID, "attribute 'equation' is required");
  int rank[EIN_MAX_OPS];
  *known = true;
  for (int i = 0; i < n_in && i < EIN_MAX_OPS; i++) {
    rank[i] = in[i].ndim;
    if (rank[i] < 0) *known = false;
  }
  if ((rc = ein_parse(a, eq, n_in, rank, e))) return rc;
  ein_names(e);
  if (!*known) return PN_OK;
  const int64_t *dims[EIN_MAX_OPS];
  for (int i = 0; i < n_in; i++) dims[i] = in[i].dims;
  return ein_sizes(a, e, dims);
}

int pn_infer_einsum(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out,
                    int n_out) {
  struct ein e;
  bool known;
  enum pn_dtype dt;
  int rc;
  if ((rc = pn_xsame_dtype(a, in, n_in, &dt)) || (rc = pn_check_dtype(a, "Inputs", dt, PN_DT_FLOATS | PN_DT_INTS)) ||
      (rc = ein_setup(a, in, n_in, &e, &known)))
    return rc;
  if (!known) {
    pn_shape_set(out, dt, -1, NULL);
    return PN_OK;
  }
  int64_t d[PN_MAX_DIMS];
  for (int i = 0; i < e.nout; i++) d[i] = e.size[e.out[i]];
  pn_shape_set(out, dt, e.nout, d);
  return PN_OK;
}

/* The general loop. */
static void ein_generic(const struct ein *e, const struct pn_tensor *const *in, struct pn_tensor *Y) {
  int inner[EIN_MAX_LABELS], ni = 0;
  bool is_out[EIN_MAX_LABELS] = {false};
  for (int i = 0; i < e->nout; i++) is_out[e->out[i]] = true;
  for (int l = 0; l < EIN_MAX_LABELS; l++)
    if (!is_out[l] && e->size[l] != 1 && e->size[l] != 0) inner[ni++] = l;
  bool empty_sum = false;
  for (int l = 0; l < EIN_MAX_LABELS; l++)
    if (!is_out[l] && e->size[l] == 0) {
      bool used = false;
      for (int op = 0; op < e->nops; op++)
        for (int d = 0; d < e->ndims[op]; d++) used |= e->lab[op][d] == l;
      empty_sum |= used;
    }
  /* per operand and label: stride */
  int64_t str[EIN_MAX_OPS][EIN_MAX_LABELS];
  for (int op = 0; op < e->nops; op++) {
    int64_t st[PN_MAX_DIMS];
    pn_strides(in[op]->ndim, in[op]->dims, st);
    for (int l = 0; l < EIN_MAX_LABELS; l++) str[op][l] = 0;
    for (int d = 0; d < e->ndims[op]; d++)
      if (in[op]->dims[d] != 1) str[op][e->lab[op][d]] += st[d];
  }
  bool fl = Y->dtype == PN_DT_FLOAT || Y->dtype == PN_DT_DOUBLE;
  int64_t n = pn_tensor_numel(Y), inner_n = 1;
  for (int i = 0; i < ni; i++) inner_n *= e->size[inner[i]];
  for (int64_t o = 0; o < n; o++) {
    int64_t base[EIN_MAX_OPS] = {0}, rem = o;
    for (int i = e->nout - 1; i >= 0; i--) {
      int l = e->out[i];
      int64_t v = rem % e->size[l];
      rem /= e->size[l];
      for (int op = 0; op < e->nops; op++) base[op] += v * str[op][l];
    }
    double accf = 0;
    int64_t acci = 0;
    int64_t idx[EIN_MAX_LABELS] = {0}, off[EIN_MAX_OPS];
    memcpy(off, base, sizeof off);
    for (int64_t s = 0; s < inner_n && !empty_sum; s++) {
      double pf = 1;
      int64_t pi = 1;
      for (int op = 0; op < e->nops; op++) {
        if (fl) pf *= pn_tensor_get_f64(in[op], off[op]);
        else pi *= pn_tensor_get_i64(in[op], off[op]);
      }
      accf += pf;
      acci += pi;
      for (int i = ni - 1; i >= 0; i--) {   /* odometer over the summed labels */
        int l = inner[i];
        for (int op = 0; op < e->nops; op++) off[op] += str[op][l];
        if (++idx[i] < e->size[l]) break;
        for (int op = 0; op < e->nops; op++) off[op] -= e->size[l] * str[op][l];
        idx[i] = 0;
      }
    }
    switch (Y->dtype) {
    case PN_DT_FLOAT: ((float *)Y->data)[o] = (float)accf; break;
    case PN_DT_DOUBLE: ((double *)Y->data)[o] = accf; break;
    case PN_DT_INT32: ((int32_t *)Y->data)[o] = (int32_t)acci; break;
    case PN_DT_INT64: ((int64_t *)Y->data)[o] = acci; break;
    case PN_DT_INT8: ((int8_t *)Y->data)[o] = (int8_t)acci; break;
    default: ((uint8_t *)Y->data)[o] = (uint8_t)acci; break;
    }
  }
}

/* The sgemm path for two float32 operands without repeated labels. Labels are: batch (in both
** and the output), m (first only, output), n (second only, output), k (both, not output); a label
** in one operand only and not in the output is summed first by the generic rule, so that case
** takes the generic path instead. Returns false when it does not apply. */
static int ein_gemm(const struct pn_op_args *a, const struct ein *e, const struct pn_tensor *const *in,
                    struct pn_tensor *Y, bool *done) {
  *done = false;
  if (e->nops != 2 || e->repeated || Y->dtype != PN_DT_FLOAT) return PN_OK;
  int role[EIN_MAX_LABELS];   /* 0 absent, 1 batch, 2 m, 3 n, 4 k */
  bool in0[EIN_MAX_LABELS] = {false}, in1[EIN_MAX_LABELS] = {false}, io[EIN_MAX_LABELS] = {false};
  for (int d = 0; d < e->ndims[0]; d++) in0[e->lab[0][d]] = true;
  for (int d = 0; d < e->ndims[1]; d++) in1[e->lab[1][d]] = true;
  for (int i = 0; i < e->nout; i++) io[e->out[i]] = true;
  for (int d = 0; d < in[0]->ndim; d++)
    if (in[0]->dims[d] != e->size[e->lab[0][d]]) return PN_OK;   /* a broadcast dim */
  for (int d = 0; d < in[1]->ndim; d++)
    if (in[1]->dims[d] != e->size[e->lab[1][d]]) return PN_OK;
  int lb[EIN_MAX_LABELS], lm[EIN_MAX_LABELS], ln[EIN_MAX_LABELS], lk[EIN_MAX_LABELS], nb = 0, nm = 0, nn = 0, nk = 0;
  for (int l = 0; l < EIN_MAX_LABELS; l++) {
    role[l] = 0;
    if (!in0[l] && !in1[l]) continue;
    if (in0[l] && in1[l]) role[l] = io[l] ? 1 : 4;
    else if (!io[l]) return PN_OK;
    else role[l] = in0[l] ? 2 : 3;
  }
  int64_t B = 1, M = 1, N = 1, K = 1;
  for (int i = 0; i < e->nout; i++) {
    int l = e->out[i];
    if (role[l] == 1) lb[nb++] = l, B *= e->size[l];
    if (role[l] == 2) lm[nm++] = l, M *= e->size[l];
    if (role[l] == 3) ln[nn++] = l, N *= e->size[l];
  }
  for (int l = 0; l < EIN_MAX_LABELS; l++)
    if (role[l] == 4) lk[nk++] = l, K *= e->size[l];
  if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX) return PN_OK;
  /* gather A as [B, M, K] and Bm as [B, K, N], C as [B, M, N] */
  float *A = malloc((size_t)(B * M * K + 1) * sizeof *A), *Bt = malloc((size_t)(B * K * N + 1) * sizeof *Bt);
  float *C = malloc((size_t)(B * M * N + 1) * sizeof *C);
  if (!A || !Bt || !C) {
    free(A), free(Bt), free(C);
    return pn_op_err(a, PN_ERR_NOMEM, "out of memory");
  }
  const int *order[2][3] = {{lb, lm, lk}, {lb, lk, ln}};
  int counts[2][3] = {{nb, nm, nk}, {nb, nk, nn}};
  float *dst[2] = {A, Bt};
  for (int op = 0; op < 2; op++) {
    int64_t st[PN_MAX_DIMS], lst[EIN_MAX_LABELS] = {0};
    pn_strides(in[op]->ndim, in[op]->dims, st);
    for (int d = 0; d < e->ndims[op]; d++) lst[e->lab[op][d]] = st[d];
    int labs[3 * PN_MAX_DIMS], nl = 0;
    for (int g = 0; g < 3; g++)
      for (int j = 0; j < counts[op][g]; j++) labs[nl++] = order[op][g][j];
    const float *src = in[op]->data;
    int64_t total = op ? B * K * N : B * M * K, idx[3 * PN_MAX_DIMS] = {0}, off = 0;
    for (int64_t t = 0; t < total; t++) {
      dst[op][t] = src[off];
      for (int j = nl - 1; j >= 0; j--) {
        off += lst[labs[j]];
        if (++idx[j] < e->size[labs[j]]) break;
        off -= e->size[labs[j]] * lst[labs[j]];
        idx[j] = 0;
      }
    }
  }
  for (int64_t b = 0; b < B; b++)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, A + b * M * K,
                (int)(K ? K : 1), Bt + b * K * N, (int)(N ? N : 1), 0.0f, C + b * M * N, (int)(N ? N : 1));
  /* C is [batch labels, m labels, n labels] in output order within each group: permute */
  int64_t cst[EIN_MAX_LABELS] = {0}, s = 1;
  for (int j = nn - 1; j >= 0; j--) cst[ln[j]] = s, s *= e->size[ln[j]];
  for (int j = nm - 1; j >= 0; j--) cst[lm[j]] = s, s *= e->size[lm[j]];
  for (int j = nb - 1; j >= 0; j--) cst[lb[j]] = s, s *= e->size[lb[j]];
  float *y = Y->data;
  int64_t n = pn_tensor_numel(Y), idx[PN_MAX_DIMS] = {0}, off = 0;
  for (int64_t t = 0; t < n; t++) {
    y[t] = C[off];
    for (int j = e->nout - 1; j >= 0; j--) {
      int l = e->out[j];
      off += cst[l];
      if (++idx[j] < e->size[l]) break;
      off -= e->size[l] * cst[l];
      idx[j] = 0;
    }
  }
  free(A), free(Bt), free(C);
  *done = true;
  return PN_OK;
}

int pn_run_einsum(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                  struct pn_tensor *const *out, int n_out) {
  struct pn_shape sh[EIN_MAX_OPS] = {0};
  struct ein e;
  bool known, done;
  int rc;
  if (n_in > EIN_MAX_OPS) return pn_op_err(a, PN_ERR_UNSUPPORTED, "%d operands, at most %d", n_in, EIN_MAX_OPS);
  pn_shapes_of(in, n_in, sh);
  if ((rc = ein_setup(a, sh, n_in, &e, &known))) return rc;
  for (int i = 0; i < n_in; i++)
    if (in[i]->dtype != out[0]->dtype) return pn_op_err(a, PN_ERR_INVALID, "inputs and output differ in dtype");
  bool ok = out[0]->ndim == e.nout;
  for (int i = 0; ok && i < e.nout; i++) ok = out[0]->dims[i] == e.size[e.out[i]];
  if (!ok) return pn_op_err(a, PN_ERR_INVALID, "output has the wrong shape");
  if ((rc = ein_gemm(a, &e, in, out[0], &done))) return rc;
  if (!done) ein_generic(&e, in, out[0]);
  return PN_OK;
}

int pn_einsum_generic(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in, struct pn_tensor *y) {
  struct pn_shape sh[EIN_MAX_OPS] = {0};
  struct ein e;
  bool known;
  int rc;
  if (n_in > EIN_MAX_OPS) return PN_ERR_UNSUPPORTED;
  pn_shapes_of(in, n_in, sh);
  if ((rc = ein_setup(a, sh, n_in, &e, &known))) return rc;
  ein_generic(&e, in, y);
  return PN_OK;
}
