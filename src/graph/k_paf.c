/* k_paf.c - the ai.privnn PafRelu / PafMaxPool kernels: float forward and backward on arrays
** (shared by the executor and autograd), and the ops' infer/run entry points.
**
** Semantics are paf.h's, to the order of float operations. Backward recomputes the stages from the
** input instead of storing them; coefficient gradients are summed in double per thread. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "graph/kernels.h"
#include "graph/paf.h"
#include "util/status.h"

#define PAR_MIN 65536 /* elements below which the kernels stay on one thread */

void pn_paf_eval_init(struct pn_paf_eval *e, enum pn_paf_form f, const float *coeffs) {
  const struct pn_paf_form_def *d = pn_paf_form_def(f);
  memset(e, 0, sizeof *e);
  if (!d) return;
  e->n_stages = d->n_stages;
  for (int s = 0, o = 0; s < d->n_stages; o += d->terms[s], s++) {
    e->terms[s] = d->terms[s];
    e->offset[s] = o;
    e->n_coeffs = o + d->terms[s];
  }
  e->c = coeffs;
}

static inline float stage(const float *c, int n, float z) {
  float u = z * z, a = c[n - 1];
  for (int j = n - 2; j >= 0; j--) a = a * u + c[j];
  return a * z;
}

/* P'(z) of one stage: sum (2j+1) c_j z^(2j), Horner in z^2 */
static inline float stage_deriv(const float *c, int n, float z) {
  float u = z * z, a = (float)(2 * n - 1) * c[n - 1];
  for (int j = n - 2; j >= 0; j--) a = a * u + (float)(2 * j + 1) * c[j];
  return a;
}

float pn_paf_p(const struct pn_paf_eval *e, float t) {
  for (int s = 0; s < e->n_stages; s++) t = stage(e->c + e->offset[s], e->terms[s], t);
  return t;
}

/* P(t), keeping each stage's input in z[0..n_stages) */
static inline float p_keep(const struct pn_paf_eval *e, float t, float *z) {
  for (int s = 0; s < e->n_stages; s++) {
    z[s] = t;
    t = stage(e->c + e->offset[s], e->terms[s], t);
  }
  return t;
}

/* Back through the stages: delta = dL/dP in, dL/dt out; dL/dc summed into dc (may be NULL). */
static inline float p_back(const struct pn_paf_eval *e, const float *z, float delta, double *dc) {
  for (int s = e->n_stages - 1; s >= 0; s--) {
    const float *c = e->c + e->offset[s];
    int n = e->terms[s];
    float zs = z[s];
    if (dc) {
      float u = zs * zs, pw = zs;
      double *d = dc + e->offset[s];
      for (int j = 0; j < n; j++) {
        d[j] += (double)delta * (double)pw;
        pw *= u;
      }
    }
    delta *= stage_deriv(c, n, zs);
  }
  return delta;
}

float pn_paf_dynamic_scale(const float *x, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; i++) {
    float a = fabsf(x[i]);
    if (a > m || isnan(a)) m = a;
  }
  return m > PN_PAF_DS_FLOOR || isnan(m) ? m : PN_PAF_DS_FLOOR;
}

float pn_paf_kind_dynamic_scale(enum pn_paf_kind kind, const float *x, int64_t n) {
  float m = pn_paf_dynamic_scale(x, n);
  return kind == PN_PAF_MAXPOOL ? 2.0f * m : m;
}

void pn_paf_relu_forward(const struct pn_paf_eval *e, float s, float gain, const float *x, float *y,
                         int64_t n) {
  const float r = 1.0f / s;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    float xi = x[i], p = pn_paf_p(e, xi * r);
    y[i] = gain * (xi + xi * p);
  }
}

/* Sum per-thread double accumulators into dc. (An unnamed critical section: a named one is a
** global symbol, .gomp_critical_user_NAME, that libprivnn.so would export beside the pn_ API.) */
static void dc_reduce(double *dc, const double *local, int n) {
#pragma omp critical
  for (int k = 0; k < n; k++) dc[k] += local[k];
}

void pn_paf_relu_backward(const struct pn_paf_eval *e, float s, float gain, const float *x,
                          const float *dy, float *dx, double *dc, int64_t n) {
  const float r = 1.0f / s;
#pragma omp parallel if (n >= PAR_MIN)
  {
    double local[PN_PAF_MAX_COEFFS] = {0};
    double *lc = dc ? local : NULL;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; i++) {
      float z[PN_PAF_MAX_STAGES], xi = x[i], g = dy[i] * gain;
      float p = p_keep(e, xi * r, z);
      float dt = p_back(e, z, g * xi, lc);
      if (dx) dx[i] += g * (1.0f + p) + dt * r;
    }
    if (dc) dc_reduce(dc, local, e->n_coeffs);
  }
}

/* ---- PafMaxPool ---- */

/* The halving tree of a window of w leaves: internal node i (value index w + i) is
** max(v[left[i]], v[right[i]]); the root is value index root. */
struct tree {
  int n_internal, root;
  int left[PN_PAF_MAX_WINDOW], right[PN_PAF_MAX_WINDOW];
};

static void tree_init(struct tree *t, int w) {
  int cur[PN_PAF_MAX_WINDOW], n = w, next = w;
  for (int i = 0; i < w; i++) cur[i] = i;
  t->n_internal = 0;
  while (n > 1) {
    int m = 0;
    for (int i = 0; i + 1 < n; i += 2) {
      t->left[t->n_internal] = cur[i];
      t->right[t->n_internal] = cur[i + 1];
      t->n_internal++;
      cur[m++] = next++;
    }
    if (n & 1) cur[m++] = cur[n - 1];
    n = m;
  }
  t->root = cur[0];
}

static inline float paf_max(const struct pn_paf_eval *e, float r, float a, float b) {
  float d = a - b;
  return ((a + b) + d * pn_paf_p(e, d * r)) * 0.5f;
}

/* Leaves of window (oh, ow) of plane xc into v (0 in the padding); idx[k] = flat offset or -1. */
static inline void window(const struct pn_paf_pool *g, const float *xc, int64_t oh, int64_t ow,
                          float *v, int64_t *idx) {
  int k = 0;
  for (int64_t ki = 0; ki < g->kh; ki++) {
    int64_t ih = oh * g->sh - g->pt + ki;
    for (int64_t kj = 0; kj < g->kw; kj++, k++) {
      int64_t iw = ow * g->sw - g->pl + kj;
      bool in = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w;
      idx[k] = in ? ih * g->w + iw : -1;
      v[k] = in ? xc[idx[k]] : 0.0f;
    }
  }
}

void pn_paf_maxpool_forward(const struct pn_paf_eval *e, const struct pn_paf_pool *g, float s,
                            const float *x, float *y) {
  const float r = 1.0f / s;
  const int w = (int)(g->kh * g->kw);
  struct tree t;
  tree_init(&t, w);
  int64_t total = g->nc * g->oh * g->ow;
#pragma omp parallel for schedule(static) if (total * w >= PAR_MIN)
  for (int64_t c = 0; c < g->nc; c++) {
    const float *xc = x + c * g->h * g->w;
    float v[2 * PN_PAF_MAX_WINDOW];
    int64_t idx[PN_PAF_MAX_WINDOW];
    for (int64_t oh = 0; oh < g->oh; oh++)
      for (int64_t ow = 0; ow < g->ow; ow++) {
        window(g, xc, oh, ow, v, idx);
        for (int i = 0; i < t.n_internal; i++) v[w + i] = paf_max(e, r, v[t.left[i]], v[t.right[i]]);
        y[(c * g->oh + oh) * g->ow + ow] = v[t.root];
      }
  }
}

void pn_paf_maxpool_backward(const struct pn_paf_eval *e, const struct pn_paf_pool *g, float s,
                             const float *x, const float *dy, float *dx, double *dc) {
  const float r = 1.0f / s;
  const int w = (int)(g->kh * g->kw);
  struct tree t;
  tree_init(&t, w);
  int64_t total = g->nc * g->oh * g->ow;
#pragma omp parallel if (total * w >= PAR_MIN)
  {
    double local[PN_PAF_MAX_COEFFS] = {0};
    double *lc = dc ? local : NULL;
#pragma omp for schedule(static)
    for (int64_t c = 0; c < g->nc; c++) {
      const float *xc = x + c * g->h * g->w;
      float *dxc = dx ? dx + c * g->h * g->w : NULL;
      float v[2 * PN_PAF_MAX_WINDOW], gv[2 * PN_PAF_MAX_WINDOW], z[PN_PAF_MAX_STAGES];
      int64_t idx[PN_PAF_MAX_WINDOW];
      for (int64_t oh = 0; oh < g->oh; oh++)
        for (int64_t ow = 0; ow < g->ow; ow++) {
          window(g, xc, oh, ow, v, idx);
          for (int i = 0; i < t.n_internal; i++) v[w + i] = paf_max(e, r, v[t.left[i]], v[t.right[i]]);
          memset(gv, 0, sizeof(float) * (size_t)(w + t.n_internal));
          gv[t.root] = dy[(c * g->oh + oh) * g->ow + ow];
          for (int i = t.n_internal - 1; i >= 0; i--) {
            float gm = gv[w + i];
            if (gm == 0.0f) continue; /* contributes nothing */
            float a = v[t.left[i]], b = v[t.right[i]], d = a - b;
            float p = p_keep(e, d * r, z);
            float dt = p_back(e, z, gm * 0.5f * d, lc) * r;
            gv[t.left[i]] += gm * 0.5f * (1.0f + p) + dt;
            gv[t.right[i]] += gm * 0.5f * (1.0f - p) - dt;
          }
          if (dxc)
            for (int k = 0; k < w; k++)
              if (idx[k] >= 0) dxc[idx[k]] += gv[k];
        }
    }
    if (dc) dc_reduce(dc, local, e->n_coeffs);
  }
}

int64_t pn_paf_relu_overflow(float s, const float *x, int64_t n) {
  const float r = 1.0f / s;
  int64_t k = 0;
  for (int64_t i = 0; i < n; i++) k += !(fabsf(x[i] * r) <= 1.0f);
  return k;
}

/* Every tree level's sign input of a PafMaxPool over x: the count beyond [-1, 1] and max |a - b|. */
static void pool_sign_inputs(const struct pn_paf_eval *e, const struct pn_paf_pool *g, float s, const float *x,
                             int64_t *over, float *maxdiff) {
  const float r = 1.0f / s;
  const int w = (int)(g->kh * g->kw);
  struct tree t;
  tree_init(&t, w);
  int64_t k = 0;
  float m = 0;
  for (int64_t c = 0; c < g->nc; c++) {
    const float *xc = x + c * g->h * g->w;
    float v[2 * PN_PAF_MAX_WINDOW];
    int64_t idx[PN_PAF_MAX_WINDOW];
    for (int64_t oh = 0; oh < g->oh; oh++)
      for (int64_t ow = 0; ow < g->ow; ow++) {
        window(g, xc, oh, ow, v, idx);
        for (int i = 0; i < t.n_internal; i++) {
          float a = v[t.left[i]], b = v[t.right[i]], d = fabsf(a - b);
          k += !(d * r <= 1.0f);
          if (d > m || isnan(d)) m = d;
          v[w + i] = paf_max(e, r, a, b);
        }
      }
  }
  *over = k;
  *maxdiff = m;
}

int64_t pn_paf_maxpool_overflow(const struct pn_paf_eval *e, const struct pn_paf_pool *g, float s, const float *x) {
  int64_t k;
  float m;
  pool_sign_inputs(e, g, s, x, &k, &m);
  return k;
}

float pn_paf_maxpool_max_diff(const struct pn_paf_eval *e, const struct pn_paf_pool *g, float s, const float *x) {
  int64_t k;
  float m;
  pool_sign_inputs(e, g, s, x, &k, &m);
  return m;
}

/* ---- the ops ---- */

static int check_cs(const struct pn_op_args *a, const struct pn_paf_node *pn, const struct pn_shape *in,
                    int n_in) {
  const struct pn_shape *c = &in[1];
  if (c->dtype != PN_DT_UNDEFINED && c->dtype != PN_DT_FLOAT)
    return pn_op_err(a, PN_ERR_INVALID, "coefficients C must be float, not %s", pn_dtype_name(c->dtype));
  int64_t nc = c->ndim >= 0 ? pn_shape_numel(c->ndim, c->dims) : -1;
  if (c->ndim > 1 || (nc >= 0 && nc != pn_paf_n_coeffs(pn->form)))
    return pn_op_err(a, PN_ERR_INVALID, "coefficients C must be a vector of %d floats for form '%s'",
                     pn_paf_n_coeffs(pn->form), pn_paf_form_name(pn->form));
  if (n_in > 2 && in[2].ndim >= 0) {
    const struct pn_shape *s = &in[2];
    if ((s->dtype != PN_DT_UNDEFINED && s->dtype != PN_DT_FLOAT) || s->ndim > 1 ||
        (pn_shape_numel(s->ndim, s->dims) >= 0 && pn_shape_numel(s->ndim, s->dims) != 1))
      return pn_op_err(a, PN_ERR_INVALID, "scale S must be one float");
  }
  if (in[0].dtype != PN_DT_UNDEFINED && in[0].dtype != PN_DT_FLOAT)
    return pn_op_err(a, PN_ERR_UNSUPPORTED, "X must be float, not %s", pn_dtype_name(in[0].dtype));
  return PN_OK;
}

/* Both ops: attributes, C and S checked; a ReLU keeps X's shape, a pool computes its window's. */
static int infer(const struct pn_op_args *a, const struct pn_shape *in, int n_in, struct pn_shape *out) {
  struct pn_paf_node pn;
  int rc = pn_paf_node_attrs(a->ctx, a->node, &pn);
  if (!rc) rc = check_cs(a, &pn, in, n_in);
  if (rc) return rc;
  const struct pn_shape *x = &in[0];
  if (pn.kind == PN_PAF_RELU) {
    pn_shape_set(out, PN_DT_FLOAT, x->ndim, x->dims);
    return PN_OK;
  }
  if (x->ndim >= 0 && x->ndim != 4)
    return pn_op_err(a, PN_ERR_INVALID, "X must be N x C x H x W, has rank %d", x->ndim);
  int64_t d[4] = {-1, -1, -1, -1};
  if (x->ndim == 4) {
    d[0] = x->dims[0];
    d[1] = x->dims[1];
    for (int i = 0; i < 2; i++) {
      if (x->dims[2 + i] < 0) continue;
      int64_t padded = x->dims[2 + i] + pn.p[i] + pn.p[i + 2];
      if (padded < pn.k[i]) return pn_op_err(a, PN_ERR_INVALID, "kernel larger than the padded input");
      d[2 + i] = (padded - pn.k[i]) / pn.s[i] + 1;
    }
  }
  pn_shape_set(out, PN_DT_FLOAT, x->ndim < 0 ? -1 : 4, d);
  return PN_OK;
}

int pn_infer_paf_relu(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                      struct pn_shape *out, int n_out) {
  return infer(a, in, n_in, out);
}

int pn_infer_paf_max_pool(const struct pn_op_args *a, const struct pn_shape *in, int n_in,
                          struct pn_shape *out, int n_out) {
  return infer(a, in, n_in, out);
}

/* What both kernels need before running: the node's attributes, the coefficients and the scale (S,
** checked positive and finite, or the input's dynamic scale). */
static int run_setup(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                     struct pn_paf_node *pn, struct pn_paf_eval *e, float *s) {
  int rc = pn_paf_node_attrs(a->ctx, a->node, pn);
  if (rc) return rc;
  const struct pn_tensor *x = in[0];
  if (n_in > 2 && in[2]) {
    *s = ((const float *)in[2]->data)[0];
    if (!(*s > 0) || !isfinite(*s)) return pn_op_err(a, PN_ERR_INVALID, "scale S must be positive and finite");
  } else {
    *s = pn_paf_kind_dynamic_scale(pn->kind, x->data, pn_tensor_numel(x));
  }
  pn_paf_eval_init(e, pn->form, in[1]->data);
  return PN_OK;
}

/* Both kernels: setup, then the forward of the node's kind. */
static int run(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
               struct pn_tensor *const *out) {
  struct pn_paf_node pn;
  struct pn_paf_eval e;
  float s;
  int rc = run_setup(a, in, n_in, &pn, &e, &s);
  if (rc) return rc;
  const struct pn_tensor *x = in[0];
  if (pn.kind == PN_PAF_RELU) {
    pn_paf_relu_forward(&e, s, pn.gain, x->data, out[0]->data, pn_tensor_numel(x));
  } else {
    struct pn_paf_pool g = {x->dims[0] * x->dims[1], x->dims[2], x->dims[3], out[0]->dims[2], out[0]->dims[3],
                            pn.k[0], pn.k[1], pn.s[0], pn.s[1], pn.p[0], pn.p[1]};
    pn_paf_maxpool_forward(&e, &g, s, x->data, out[0]->data);
  }
  return PN_OK;
}

int pn_run_paf_relu(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                    struct pn_tensor *const *out, int n_out) {
  return run(a, in, n_in, out);
}

int pn_run_paf_max_pool(const struct pn_op_args *a, const struct pn_tensor *const *in, int n_in,
                        struct pn_tensor *const *out, int n_out) {
  return run(a, in, n_in, out);
}
