/* test_conformance.c - ONNX backend conformance: ONNX's node, simple and pytorch-converted cases.
**
** Each case directory holds model.onnx and test_data_set_K/{input,output}_N.pb. A case is SKIPPED
** only when its model uses an op privnn does not implement (pn_op_find < 0) or a value, initializer
** or tensor attribute of a dtype privnn's kernels do not compute on (pn_dtype_supported false, or a
** non-tensor type such as a sequence); this is decided from the raw protobuf, before privnn's own
** loader runs. Everything else must load, prepare, run and match ONNX's expected outputs with
** numpy's assert_allclose tolerance (|got - want| <= atol + rtol*|want|, rtol 1e-3, atol 1e-7, NaN
** equal to NaN, infinities equal only to themselves; integer and bool outputs exactly; shapes and
** dtypes exactly), otherwise the case FAILED: a load error, an unsupported attribute value reported
** by a kernel, a wrong shape all count as failures.
**
** A few cases whose expected data the suite itself gets wrong (suite_faults[] below, each with the
** reason) are skipped too.
**
** usage: test_conformance [FILTER]   runs the cases whose name contains FILTER ("conv", any
**                                    case), or whose "folder/name" does if FILTER has a '/'
**                                    ("simple/")
** env:   PN_CONFORMANCE_VERBOSE=1    also prints each skip with its reason
**        PN_ONNX_TESTDATA=DIR        the data root (default /usr/share/libonnx-testdata/data)
** The last line is "conformance: N passed, M failed, K skipped"; the exit status is 1 if M > 0. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/exec.h"
#include "graph/onnx.h"
#include "graph/ops.h"
#include "onnx.pb-c.h"
#include "util/fileio.h"
#include "util/status.h"

#define RTOL 1e-3
#define ATOL 1e-7
#define REASON_MAX 600
#define MAX_IO 64

enum result { PASSED, FAILED, SKIPPED };

static const char *const folders[] = {"node", "simple", "pytorch-converted"};
#define N_FOLDERS (sizeof folders / sizeof *folders)

/* Per-op tallies over the cases that use the op (supported ops only). */
static int op_pass[PN_OP_COUNT], op_fail[PN_OP_COUNT], op_blamed[PN_OP_COUNT];
static int multi_blamed;

/* printf into a reason buffer (through va_list, so long names are cut without fuss). */
static void say(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, n, fmt, ap);
  va_end(ap);
}

static void append(char *buf, size_t n, const char *fmt, const char *arg) {
  size_t len = strlen(buf);
  if (len >= n - 1) return;
  snprintf(buf + len, n - len, fmt, arg);
}

/* ---- skip classification, on the raw ModelProto ---- */

static const char *dtype_label(int dt) {
  static char buf[32];
  if (dt >= 0 && dt < PN_DT_COUNT) return pn_dtype_name((enum pn_dtype)dt);
  snprintf(buf, sizeof buf, "#%d", dt);
  return buf;
}

static void note_dtype(int dt, char *reason, size_t n) {
  if (pn_dtype_supported((enum pn_dtype)(dt >= 0 && dt < PN_DT_COUNT ? dt : 0))) return;
  char item[64];
  snprintf(item, sizeof item, "unsupported dtype %s", dtype_label(dt));
  if (strstr(reason, item)) return;
  append(reason, n, *reason ? "; %s" : "%s", item);
}

static void note_type(const Onnx__TypeProto *ty, char *reason, size_t n) {
  if (!ty || ty->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET) return;
  if (ty->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
    if (ty->tensor_type && ty->tensor_type->has_elem_type)
      note_dtype(ty->tensor_type->elem_type, reason, n);
    return;
  }
  const char *kind =
      ty->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE   ? "unsupported dtype sequence"
      : ty->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE      ? "unsupported dtype map"
      : ty->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE ? "unsupported dtype optional"
                                                                : "unsupported dtype sparse_tensor";
  if (!strstr(reason, kind)) append(reason, n, *reason ? "; %s" : "%s", kind);
}

/* Fill reason with every unsupported op and dtype of m (empty when none), and used[] with the
** supported ops the model's top-level graph uses. */
static void classify(const Onnx__ModelProto *m, char *reason, size_t n, bool *used) {
  reason[0] = 0;
  const Onnx__GraphProto *gp = m->graph;
  if (!gp) return;
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    const char *dom = np->domain ? np->domain : "", *op = np->op_type ? np->op_type : "";
    int k = pn_op_find(dom, op);
    if (k >= 0) {
      used[k] = true;
    } else {
      char item[256];
      snprintf(item, sizeof item, "unsupported op %s%s%s", dom, *dom ? ":" : "", op);
      if (!strstr(reason, item)) append(reason, n, *reason ? "; %s" : "%s", item);
    }
    for (size_t a = 0; a < np->n_attribute; a++) {
      const Onnx__AttributeProto *ap = np->attribute[a];
      if (ap->t && ap->t->has_data_type) note_dtype(ap->t->data_type, reason, n);
      for (size_t t = 0; t < ap->n_tensors; t++)
        if (ap->tensors[t]->has_data_type) note_dtype(ap->tensors[t]->data_type, reason, n);
    }
  }
  for (size_t i = 0; i < gp->n_input; i++) note_type(gp->input[i]->type, reason, n);
  for (size_t i = 0; i < gp->n_output; i++) note_type(gp->output[i]->type, reason, n);
  for (size_t i = 0; i < gp->n_value_info; i++) note_type(gp->value_info[i]->type, reason, n);
  for (size_t i = 0; i < gp->n_initializer; i++)
    if (gp->initializer[i]->has_data_type) note_dtype(gp->initializer[i]->data_type, reason, n);
}

/* ---- comparison ---- */

static bool close_enough(double got, double want) {
  if (isnan(got) || isnan(want)) return isnan(got) && isnan(want);
  if (isinf(got) || isinf(want)) return got == want;
  return fabs(got - want) <= ATOL + RTOL * fabs(want);
}

/* 0 when got matches want; otherwise a sentence in why. */
static int compare(const struct pn_tensor *got, const struct pn_tensor *want, char *why, size_t n) {
  char sg[160], sw[160];
  if (got->dtype != want->dtype) {
    say(why, n, "dtype %s, expected %s", pn_dtype_name(got->dtype), pn_dtype_name(want->dtype));
    return 1;
  }
  bool same = got->ndim == want->ndim;
  for (int i = 0; same && i < got->ndim; i++) same = got->dims[i] == want->dims[i];
  if (!same) {
    say(why, n, "shape %s, expected %s", pn_shape_str(sg, sizeof sg, got->ndim, got->dims),
             pn_shape_str(sw, sizeof sw, want->ndim, want->dims));
    return 1;
  }
  int64_t numel = pn_tensor_numel(want), bad = 0, first = -1;
  double worst = 0;
  bool is_float = want->dtype == PN_DT_FLOAT || want->dtype == PN_DT_DOUBLE || pn_dtype_is_half(want->dtype);
  size_t es = pn_dtype_size(want->dtype);
  for (int64_t i = 0; i < numel; i++) {
    bool ok;
    if (is_float) {
      double g = pn_tensor_get_f64(got, i), w = pn_tensor_get_f64(want, i);
      ok = close_enough(g, w);
      if (!ok && !isnan(g - w) && fabs(g - w) > worst) worst = fabs(g - w);
    } else {
      ok = !memcmp((const char *)got->data + (size_t)i * es,
                   (const char *)want->data + (size_t)i * es, es);
    }
    if (!ok && bad++ == 0) first = i;
  }
  if (!bad) return 0;
  if (is_float)
    say(why, n,
        "%lld of %lld values differ (first at %lld: got %.9g, expected %.9g; max |diff| %.3g)",
        (long long)bad, (long long)numel, (long long)first, pn_tensor_get_f64(got, first),
        pn_tensor_get_f64(want, first), worst);
  else
    say(why, n, "%lld of %lld values differ (first at %lld: got %lld, expected %lld)",
             (long long)bad, (long long)numel, (long long)first,
             (long long)pn_tensor_get_i64(got, first), (long long)pn_tensor_get_i64(want, first));
  return 1;
}

/* ONNX's test data stores bfloat16 tensors as uint16 (numpy has no bfloat16; ONNX's own runner
** reinterprets them): a uint16 tensor where the model declares bfloat16 is read as bfloat16. */
static void bf16_data(struct pn_tensor *t, enum pn_dtype declared) {
  if (t->dtype == PN_DT_UINT16 && declared == PN_DT_BFLOAT16) t->dtype = PN_DT_BFLOAT16;
}

/* Known answers for compare(), checked before any case runs: a runner whose comparison passed
** everything would report a perfect score for a broken executor. */
static int compare_self_check(void) {
  struct t2 { enum pn_dtype dt; int ndim; int64_t d0; double a, b; int want; } cases[] = {
    {PN_DT_FLOAT, 1, 1, 1.0, 1.0009, 0},     {PN_DT_FLOAT, 1, 1, 1.0, 1.0011, 1},
    {PN_DT_FLOAT, 1, 1, 0.0, 5e-8, 0},       {PN_DT_FLOAT, 1, 1, 0.0, 2e-7, 1},
    {PN_DT_FLOAT, 1, 1, NAN, NAN, 0},        {PN_DT_FLOAT, 1, 1, NAN, 1.0, 1},
    {PN_DT_FLOAT, 1, 1, INFINITY, INFINITY, 0}, {PN_DT_FLOAT, 1, 1, 1e30, INFINITY, 1},
    {PN_DT_DOUBLE, 1, 1, -INFINITY, INFINITY, 1}, {PN_DT_DOUBLE, 1, 1, 2.0, 2.0019, 0},
    {PN_DT_INT64, 1, 1, 7, 7, 0},            {PN_DT_INT64, 1, 1, 7, 8, 1},
    {PN_DT_BOOL, 1, 1, 1, 0, 1},             {PN_DT_INT32, 0, 1, 3, 3, 0},
  };
  int bad = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct pn_tensor *x = pn_tensor_new(cases[i].dt, cases[i].ndim, &cases[i].d0);
    struct pn_tensor *y = pn_tensor_new(cases[i].dt, cases[i].ndim, &cases[i].d0);
    switch (cases[i].dt) {
    case PN_DT_FLOAT:
      *(float *)x->data = (float)cases[i].a;
      *(float *)y->data = (float)cases[i].b;
      break;
    case PN_DT_DOUBLE: *(double *)x->data = cases[i].a; *(double *)y->data = cases[i].b; break;
    case PN_DT_INT64:
      *(int64_t *)x->data = (int64_t)cases[i].a;
      *(int64_t *)y->data = (int64_t)cases[i].b;
      break;
    case PN_DT_INT32:
      *(int32_t *)x->data = (int32_t)cases[i].a;
      *(int32_t *)y->data = (int32_t)cases[i].b;
      break;
    default:
      *(uint8_t *)x->data = (uint8_t)cases[i].a;
      *(uint8_t *)y->data = (uint8_t)cases[i].b;
      break;
    }
    char why[400];
    if (compare(x, y, why, sizeof why) != cases[i].want) {
      printf("FAIL self-check: compare case %zu gave the wrong verdict\n", i);
      bad++;
    }
    pn_tensor_free(x);
    pn_tensor_free(y);
  }
  /* shape and dtype mismatches */
  int64_t d2[2] = {2, 3}, d3[2] = {3, 2};
  struct pn_tensor *a = pn_tensor_new(PN_DT_FLOAT, 2, d2), *b = pn_tensor_new(PN_DT_FLOAT, 2, d3),
                   *c = pn_tensor_new(PN_DT_DOUBLE, 2, d2);
  char why[400];
  if (!compare(a, b, why, sizeof why) || !compare(a, c, why, sizeof why) ||
      compare(a, a, why, sizeof why)) {
    printf("FAIL self-check: shape/dtype comparison\n");
    bad++;
  }
  pn_tensor_free(a);
  pn_tensor_free(b);
  pn_tensor_free(c);
  return bad;
}

/* ---- one case ---- */

static int count_files(const char *dir, const char *prefix) {
  int k = 0;
  for (;; k++) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s_%d.pb", dir, prefix, k);
    if (access(p, R_OK)) return k;
  }
}

static int data_set_filter(const struct dirent *e) {
  return !strncmp(e->d_name, "test_data_set_", 14);
}

/* Run every data set of an executor; PASSED or FAILED with the reason. */
static enum result run_sets(struct pn_ctx *ctx, struct pn_exec *ex, const char *casedir,
                            char *reason, size_t rn) {
  struct dirent **sets;
  int nsets = scandir(casedir, &sets, data_set_filter, alphasort);
  if (nsets <= 0) {
    say(reason, rn, "no test_data_set_* directory");
    if (nsets == 0) free(sets);
    return FAILED;
  }
  enum result res = PASSED;
  int nin = pn_exec_n_inputs(ex), nout = pn_exec_n_outputs(ex);
  for (int s = 0; s < nsets && res == PASSED; s++) {
    char dir[1100];
    say(dir, sizeof dir, "%s/%s", casedir, sets[s]->d_name);
    int fin = count_files(dir, "input"), fout = count_files(dir, "output");
    if (fin != nin || fout != nout || nin > MAX_IO || nout > MAX_IO) {
      say(reason, rn, "%s has %d inputs and %d outputs, the model %d and %d", sets[s]->d_name,
               fin, fout, nin, nout);
      res = FAILED;
      break;
    }
    struct pn_tensor *in[MAX_IO] = {0}, *out[MAX_IO] = {0}, *want[MAX_IO] = {0};
    for (int i = 0; i < nin && res == PASSED; i++) {
      char p[1200];
      snprintf(p, sizeof p, "%s/input_%d.pb", dir, i);
      if (pn_tensor_load_pb_file(ctx, p, &in[i])) {
        say(reason, rn, "input: %s", pn_errmsg(ctx));
        res = FAILED;
      } else {
        bf16_data(in[i], pn_exec_input(ex, i)->dtype);
      }
    }
    for (int i = 0; i < nout && res == PASSED; i++) {
      char p[1200];
      snprintf(p, sizeof p, "%s/output_%d.pb", dir, i);
      if (pn_tensor_load_pb_file(ctx, p, &want[i])) {
        say(reason, rn, "expected output: %s", pn_errmsg(ctx));
        res = FAILED;
      } else {
        bf16_data(want[i], pn_exec_output(ex, i)->dtype);
      }
    }
    if (res == PASSED && pn_exec_run(ctx, ex, (const struct pn_tensor *const *)in, out)) {
      say(reason, rn, "run: %s", pn_errmsg(ctx));
      res = FAILED;
    }
    for (int i = 0; i < nout && res == PASSED; i++) {
      char why[400];
      if (compare(out[i], want[i], why, sizeof why)) {
        say(reason, rn, "%s: output %d '%s': %s", sets[s]->d_name, i, pn_exec_output(ex, i)->name,
                 why);
        res = FAILED;
      }
    }
    for (int i = 0; i < MAX_IO; i++) {
      pn_tensor_free(in[i]);
      pn_tensor_free(out[i]);
      pn_tensor_free(want[i]);
    }
  }
  for (int s = 0; s < nsets; s++) free(sets[s]);
  free(sets);
  return res;
}

/* Cases whose expected data this release of the suite (libonnx-testdata 1.12) gets wrong; they
** are skipped with the reason, not counted as passed or failed. */
static const struct {
  const char *name, *why;
} suite_faults[] = {
    {"test_cast_FLOAT_to_BFLOAT16", "expected data truncates to bfloat16; ONNX Runtime, PyTorch and the "
                                    "clarified spec round to nearest even (onnx/onnx#3876, #5004), as privnn does"},
    {"test_castlike_FLOAT_to_BFLOAT16", "expected data truncates to bfloat16 (see test_cast_FLOAT_to_BFLOAT16)"},
    {"test_castlike_FLOAT_to_BFLOAT16_expanded", "input 'like' in the test data is [1], the model declares [3,4]"},
    {"test_castlike_BFLOAT16_to_FLOAT", "input 'like' in the test data is [1], the model declares [3,4]"},
    {"test_castlike_BFLOAT16_to_FLOAT_expanded", "input 'like' in the test data is [1], the model declares [3,4]"},
};

static enum result run_case(const char *casedir, char *reason, size_t rn, bool *used) {
  struct pn_ctx ctx = {0};
  const char *base = strrchr(casedir, '/') ? strrchr(casedir, '/') + 1 : casedir;
  for (size_t i = 0; i < sizeof suite_faults / sizeof *suite_faults; i++)
    if (!strcmp(base, suite_faults[i].name)) {
      say(reason, rn, "suite data at fault: %s", suite_faults[i].why);
      return SKIPPED;
    }
  char path[1100];
  snprintf(path, sizeof path, "%s/model.onnx", casedir);
  uint8_t *buf;
  size_t n;
  if (pn_read_file(&ctx, path, 0, &buf, &n)) {
    say(reason, rn, "%s", pn_errmsg(&ctx));
    return FAILED;
  }
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, buf);
  if (m) {
    classify(m, reason, rn, used);
    onnx__model_proto__free_unpacked(m, NULL);
    if (*reason) {
      free(buf);
      return SKIPPED;
    }
  }
  struct pn_graph *g;
  int rc = pn_onnx_load(&ctx, buf, n, &g);
  free(buf);
  if (rc) {
    say(reason, rn, "load: %s", pn_errmsg(&ctx));
    return FAILED;
  }
  struct pn_exec *ex;
  if (pn_exec_new(&ctx, g, NULL, &ex)) {
    say(reason, rn, "prepare: %s", pn_errmsg(&ctx));
    pn_graph_free(g);
    return FAILED;
  }
  enum result res = run_sets(&ctx, ex, casedir, reason, rn);
  pn_exec_free(ex);
  pn_graph_free(g);
  return res;
}

/* The op a failure is charged to: the "(Op)" in the message, else the case's only op. */
static int blame(const char *reason, const bool *used) {
  for (const char *p = reason; (p = strstr(p, "' (")); p += 3) {
    const char *q = strchr(p + 3, ')');
    if (!q || q - (p + 3) >= 64) continue;
    char op[64];
    memcpy(op, p + 3, (size_t)(q - (p + 3)));
    op[q - (p + 3)] = 0;
    int k = pn_op_find("", op);
    if (k >= 0) return k;
  }
  int only = -1, count = 0;
  for (int k = 0; k < PN_OP_COUNT; k++)
    if (used[k] && k != PN_OP_CONSTANT) {
      only = k;
      count++;
    }
  if (count == 1) return only;
  if (count == 0 && used[PN_OP_CONSTANT]) return PN_OP_CONSTANT;
  return -1;
}

int main(int argc, char **argv) {
  const char *filter = argc > 1 ? argv[1] : NULL;
  const char *v = getenv("PN_CONFORMANCE_VERBOSE");
  bool verbose = v && !strcmp(v, "1");
  const char *root = getenv("PN_ONNX_TESTDATA");
  if (!root || !*root) root = "/usr/share/libonnx-testdata/data";
  setvbuf(stdout, NULL, _IOLBF, 0);

  int tot[3] = {0}, per[N_FOLDERS][3] = {{0}};
  tot[FAILED] += compare_self_check();
  for (size_t f = 0; f < N_FOLDERS; f++) {
    char fdir[600];
    snprintf(fdir, sizeof fdir, "%s/%s", root, folders[f]);
    struct dirent **ents;
    int ne = scandir(fdir, &ents, NULL, alphasort);
    if (ne < 0) {
      printf("FAIL %s: cannot list %s\n", folders[f], fdir);
      tot[FAILED]++;
      per[f][FAILED]++;
      continue;
    }
    for (int i = 0; i < ne; i++) {
      const char *name = ents[i]->d_name;
      char label[700], casedir[1000];
      snprintf(label, sizeof label, "%s/%s", folders[f], name);
      snprintf(casedir, sizeof casedir, "%s/%s", fdir, name);
      char mpath[1100];
      snprintf(mpath, sizeof mpath, "%s/model.onnx", casedir);
      if (name[0] == '.' || (filter && !strcasestr(strchr(filter, '/') ? label : name, filter)) ||
          access(mpath, F_OK)) {
        free(ents[i]);
        continue;
      }
      char reason[REASON_MAX] = "";
      bool used[PN_OP_COUNT] = {0};
      enum result r = run_case(casedir, reason, sizeof reason, used);
      tot[r]++;
      per[f][r]++;
      for (int k = 0; k < PN_OP_COUNT; k++)
        if (used[k]) {
          if (r == PASSED) op_pass[k]++;
          else if (r == FAILED) op_fail[k]++;
        }
      if (r == FAILED) {
        printf("FAIL %s: %s\n", label, reason);
        int b = blame(reason, used);
        if (b >= 0) op_blamed[b]++;
        else multi_blamed++;
      } else if (r == SKIPPED && verbose) {
        printf("SKIP %s: %s\n", label, reason);
      } else if (r == PASSED && verbose) {
        printf("PASS %s\n", label);
      }
      free(ents[i]);
    }
    free(ents);
  }

  printf("\nper folder:\n");
  for (size_t f = 0; f < N_FOLDERS; f++)
    printf("  %-18s %4d passed, %4d failed, %4d skipped\n", folders[f], per[f][PASSED],
           per[f][FAILED], per[f][SKIPPED]);
  printf("failures charged to ops (from the error message, or the case's only op):\n");
  for (int k = 0; k < PN_OP_COUNT; k++)
    if (op_blamed[k]) printf("  %-20s %d\n", pn_op_name((enum pn_op)k), op_blamed[k]);
  if (multi_blamed) printf("  %-20s %d\n", "(several ops)", multi_blamed);
  printf("per supported op (cases using it): passed / failed\n");
  for (int k = 0; k < PN_OP_COUNT; k++)
    if (op_pass[k] || op_fail[k])
      printf("  %-20s %4d / %d\n", pn_op_name((enum pn_op)k), op_pass[k], op_fail[k]);
  if (!filter) {
    printf("supported ops with zero passing cases:");
    int none = 1;
    for (int k = 0; k < PN_OP_COUNT; k++)
      if (!op_pass[k]) {
        printf(" %s", pn_op_name((enum pn_op)k));
        none = 0;
      }
    printf("%s\n", none ? " (none)" : "");
  }
  printf("conformance: %d passed, %d failed, %d skipped\n", tot[PASSED], tot[FAILED], tot[SKIPPED]);
  return tot[FAILED] > 0 ? 1 : 0;
}
