/* cmd_run.c - `privnn run MODEL.onnx`: run a model on TensorProto inputs (or random ones), print the
** outputs' shapes and first values, time repeated runs, optionally profile per op and save outputs. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "graph/exec.h"
#include "graph/onnx.h"
#include "graph/tensor_io.h"
#include "nn/input.h"
#include "util/fileio.h"
#include "util/prg.h"
#include "util/progress.h"
#include "util/report.h"
#include "util/status.h"

#define MAX_FILES PN_CLI_LIST_MAX

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* A random input for v: N(0,1) floats, small non-negative integers, random bools. */
static int random_input(struct pn_ctx *ctx, struct pn_prg *prg, const struct pn_value *v,
                        struct pn_tensor **out) {
  int64_t dims[PN_MAX_DIMS];
  int nd = v->ndim < 0 ? 1 : v->ndim;
  for (int k = 0; k < nd; k++) dims[k] = (v->ndim < 0 || v->dims[k] < 0) ? 1 : v->dims[k];
  enum pn_dtype dt = v->dtype;
  if (dt != PN_DT_FLOAT && dt != PN_DT_DOUBLE && dt != PN_DT_INT64 && dt != PN_DT_INT32 &&
      dt != PN_DT_BOOL && dt != PN_DT_UINT8 && dt != PN_DT_INT8)
    return pn_err(ctx, PN_ERR_UNSUPPORTED, "input '%s': --random cannot make %s tensors", v->name,
                  pn_dtype_name(dt));
  if (pn_shape_numel(nd, dims) > ((int64_t)1 << 31))
    return pn_err(ctx, PN_ERR_INVALID, "input '%s': too large for --random", v->name);
  struct pn_tensor *t = pn_tensor_new(dt, nd, dims);
  if (!t) return pn_err(ctx, PN_ERR_NOMEM, "input '%s': out of memory", v->name);
  int64_t n = pn_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) switch (dt) {
    case PN_DT_FLOAT: ((float *)t->data)[i] = (float)pn_prg_normal(prg); break;
    case PN_DT_DOUBLE: ((double *)t->data)[i] = pn_prg_normal(prg); break;
    case PN_DT_INT64: ((int64_t *)t->data)[i] = (int64_t)pn_prg_uniform(prg, 10); break;
    case PN_DT_INT32: ((int32_t *)t->data)[i] = (int32_t)pn_prg_uniform(prg, 10); break;
    case PN_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)pn_prg_uniform(prg, 10); break;
    default: ((uint8_t *)t->data)[i] = (uint8_t)pn_prg_uniform(prg, dt == PN_DT_BOOL ? 2 : 10); break;
    }
  *out = t;
  return PN_OK;
}

/* "[1,1000] first: 0.12 -0.5 ... argmax: 3" */
static void print_output(const struct pn_value *v, const struct pn_tensor *t, cJSON *jo) {
  char sh[128];
  int64_t n = pn_tensor_numel(t);
  printf("  %-20s %s %s", v->name, pn_dtype_name(t->dtype), pn_shape_str(sh, sizeof sh, t->ndim, t->dims));
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", v->name);
  cJSON_AddStringToObject(o, "dtype", pn_dtype_name(t->dtype));
  cJSON *js = cJSON_AddArrayToObject(o, "shape");
  for (int k = 0; k < t->ndim; k++) cJSON_AddItemToArray(js, cJSON_CreateNumber((double)t->dims[k]));
  bool numeric = pn_dtype_supported(t->dtype);
  if (numeric && n > 0) {
    printf("  first:");
    cJSON *jf = cJSON_AddArrayToObject(o, "first");
    for (int64_t i = 0; i < n && i < 6; i++) {
      double x = pn_tensor_get_f64(t, i);
      printf(" %.6g", x);
      cJSON_AddItemToArray(jf, cJSON_CreateNumber(isfinite(x) ? x : 0));
    }
    if (n > 6) printf(" ...");
    double s = 0;
    int64_t nonfinite = 0;
    for (int64_t i = 0; i < n; i++) {
      double x = pn_tensor_get_f64(t, i);
      if (isfinite(x)) s += x;
      else nonfinite++;
    }
    cJSON_AddNumberToObject(o, "sum", s);
    if (nonfinite) {
      printf("  (%lld non-finite)", (long long)nonfinite);
      cJSON_AddNumberToObject(o, "non_finite", (double)nonfinite);
    }
    if (t->ndim == 2 && t->dims[1] > 0) {
      cJSON *ja = cJSON_AddArrayToObject(o, "argmax");
      printf("  argmax:");
      for (int64_t r = 0; r < t->dims[0]; r++) {
        int64_t best = 0;
        for (int64_t c = 1; c < t->dims[1]; c++)
          if (pn_tensor_get_f64(t, r * t->dims[1] + c) > pn_tensor_get_f64(t, r * t->dims[1] + best))
            best = c;
        if (r < 8) printf(" %lld", (long long)best);
        cJSON_AddItemToArray(ja, cJSON_CreateNumber((double)best));
      }
      if (t->dims[0] > 8) printf(" ...");
    }
  }
  printf("\n");
  if (jo) cJSON_AddItemToArray(jo, o);
  else cJSON_Delete(o);
}

struct run_opts {
  const char *model, *json;
  struct pn_cli_list inputs, outputs;
  bool random, profile, resize;
  uint64_t seed;
  int64_t repeat, warmup, threads;
};

static int parse(int argc, char **argv, struct run_opts *o) {
  const char *cmd = "run";
  o->repeat = 1;
  const struct pn_cli_opt opts[] = {
    {"--input", "-i", PN_CLI_LIST, &o->inputs, "FILE",
     "an input: TensorProto .pb, NumPy .npy, PNG or PGM (repeat for each input, in order)"},
    {"--resize", NULL, PN_CLI_FLAG, &o->resize, NULL, "resize / convert images to the model's input shape"},
    {"--output", "-o", PN_CLI_LIST, &o->outputs, "FILE",
     "save an output: .npy by that extension, else TensorProto (repeat, in output order)"},
    {"--random", NULL, PN_CLI_FLAG, &o->random, NULL, "random N(0,1) inputs instead of files"},
    {"--seed", NULL, PN_CLI_UINT, &o->seed, "S", "seed of the random inputs"},
    {"--repeat", NULL, PN_CLI_INT, &o->repeat, "R", "timed runs", 1, 1000000},
    {"--warmup", NULL, PN_CLI_INT, &o->warmup, "W", "untimed runs first", 0, 1000000},
    {"--threads", NULL, PN_CLI_INT, &o->threads, "T", "OpenMP and OpenBLAS threads", 1, 1024, NULL,
     "the libraries' own"},
    {"--profile", NULL, PN_CLI_FLAG, &o->profile, NULL, "print the time per op type and of the slowest nodes"},
    {"--json", NULL, PN_CLI_STR, &o->json, "FILE", "write a JSON report (outputs, timing, profile)"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "MODEL.onnx (--input FILE ... | --random)",
    "Run a model with privnn's plaintext executor. Inputs are files given in the order of the\n"
    "model's runtime inputs (format found by content), or random N(0,1) tensors with --random\n"
    "(unknown or symbolic dims become 1). For a model with one float input, a file is made into\n"
    "its input as mpc share/infer and privnn tensor --model do: images and uint8 arrays are pixels,\n"
    "normalised with the model's privnn.normalize; one example or a batch.",
    "privnn run build/r18.onnx --random --repeat 5", opts, "model", &o->model, 1, 1};
  int rc = pn_cli_parse(&spec, argc, argv);
  if (rc) return rc;
  if (o->random && o->inputs.n) return pn_cli_usage(cmd, "--random and --input exclude each other");
  if (o->resize && !o->inputs.n) return pn_cli_usage(cmd, "--resize applies to --input files");
  return PN_EXIT_OK;
}

struct run_state {
  struct pn_graph *g;
  struct pn_exec *ex;
  struct pn_tensor **in, **out;
  int n_in, n_out;
  double *times;
  cJSON *report;
};

static void free_outputs(struct run_state *st) {
  for (int i = 0; i < st->n_out; i++) {
    pn_tensor_free(st->out[i]);
    st->out[i] = NULL;
  }
}

/* order[0..n) (indices into t) sorted by t, largest first (insertion sort: a few dozen entries). */
static void slowest_first(int *order, int n, const double *t) {
  for (int x = 1; x < n; x++)
    for (int y = x; y > 0 && t[order[y]] > t[order[y - 1]]; y--) {
      int tmp = order[y];
      order[y] = order[y - 1];
      order[y - 1] = tmp;
    }
}

/* --profile per node: the slowest nodes printed, every timed node in the report (slowest first).
** node0 holds each node's seconds before the timed runs; tot is the runs' total over op types. */
#define PROFILE_TOP 12
static void report_nodes(const struct run_state *st, const double *node0, int64_t runs, double tot,
                         cJSON *rep) {
  int n = st->g->n_nodes, *order = malloc(((size_t)n + 1) * sizeof *order), m = 0;
  double *t = malloc(((size_t)n + 1) * sizeof *t);
  if (!order || !t) {
    free(order);
    free(t);
    return;
  }
  for (int i = 0; i < n; i++) {
    t[i] = pn_exec_node_seconds(st->ex, i) - node0[i];
    if (t[i] > 0) order[m++] = i;
  }
  slowest_first(order, m, t);
  printf("slowest nodes (per run; a fused BatchNormalization or activation counts in its Conv):\n");
  cJSON *jn = cJSON_AddArrayToObject(rep, "profile_nodes");
  for (int x = 0; x < m; x++) {
    const struct pn_node *nd = st->g->nodes[order[x]];
    const char *name = nd->name && nd->name[0] ? nd->name : nd->n_out ? nd->out[0] : "";
    double ms = t[order[x]] * 1e3 / (double)runs;
    if (x < PROFILE_TOP)
      printf("  %-32.32s %-18s %10.3f ms %5.1f%%\n", name, nd->op_type, ms,
             tot > 0 ? 100.0 * t[order[x]] / tot : 0.0);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", name);
    cJSON_AddStringToObject(e, "op", nd->op_type);
    cJSON_AddNumberToObject(e, "ms", ms);
    cJSON_AddItemToArray(jn, e);
  }
  if (m > PROFILE_TOP) printf("  ... %d more nodes (all of them in --json's profile_nodes)\n", m - PROFILE_TOP);
  free(order);
  free(t);
}

/* Write every -o file or none: all are serialised and written to temporaries first, and renamed
** into place only when every write succeeded. */
static int write_outputs(struct pn_ctx *ctx, const struct run_opts *o, struct run_state *st) {
  struct pn_atomic_file af[MAX_FILES];
  int opened = 0, rc = PN_OK;
  for (int i = 0; i < o->outputs.n && rc == PN_OK; i++) {
    uint8_t *buf;
    size_t n;
    bool npy = pn_tensor_format_of_path(o->outputs.v[i]) == PN_TF_NPY;
    if ((rc = npy ? pn_npy_save(ctx, st->out[i], &buf, &n) : pn_tensor_save_pb(ctx, st->out[i], &buf, &n)) != PN_OK) {
      pn_err_prefix(ctx, "%s", o->outputs.v[i]);
      break;
    }
    if ((rc = pn_atomic_open(ctx, &af[i], o->outputs.v[i], 0644)) == PN_OK) { /* names the file */
      opened++;
      if (fwrite(buf, 1, n, af[i].f) != n) rc = pn_err(ctx, PN_ERR_IO, "%s: short write", o->outputs.v[i]);
    }
    free(buf);
  }
  for (int i = 0; i < opened; i++) {
    if (rc != PN_OK) {
      pn_atomic_abort(&af[i]);
    } else if ((rc = pn_atomic_commit(ctx, &af[i])) == PN_OK) {
      printf("wrote %s (%s)\n", o->outputs.v[i], pn_exec_output(st->ex, i)->name);
    } else {
      for (int k = i + 1; k < opened; k++) pn_atomic_abort(&af[k]);
      break;
    }
  }
  return rc;
}

static int run(struct pn_ctx *ctx, const struct run_opts *o, struct run_state *st) {
  const char *cmd = "run";
  int rc;
  if ((rc = pn_onnx_load_file(ctx, o->model, &st->g)) != PN_OK) return pn_cli_fail(cmd, ctx);
  pn_cli_set_threads((int)o->threads);
  struct pn_exec_opts eo = {.threads = (int)o->threads};
  if ((rc = pn_exec_new(ctx, st->g, &eo, &st->ex)) != PN_OK) {
    pn_err_prefix(ctx, "%s", o->model);
    return pn_cli_fail(cmd, ctx);
  }
  st->n_in = pn_exec_n_inputs(st->ex);
  st->n_out = pn_exec_n_outputs(st->ex);
  st->in = calloc((size_t)st->n_in + 1, sizeof *st->in);
  st->out = calloc((size_t)st->n_out + 1, sizeof *st->out);
  st->times = calloc((size_t)o->repeat, sizeof *st->times);
  if (!st->in || !st->out || !st->times) return pn_cli_failf(cmd, "out of memory");
  if (o->outputs.n > st->n_out)
    return pn_cli_usage(cmd, "%d --output files given but %s has %d outputs", o->outputs.n, o->model,
                        st->n_out);
  if (o->random) {
    struct pn_prg prg;
    if (pn_prg_init_u64(ctx, &prg, o->seed) != PN_OK) return pn_cli_fail(cmd, ctx);
    for (int i = 0; i < st->n_in && rc == PN_OK; i++)
      rc = random_input(ctx, &prg, pn_exec_input(st->ex, i), &st->in[i]);
    pn_prg_free(&prg);
    if (rc != PN_OK) {
      pn_err_prefix(ctx, "%s", o->model);
      return pn_cli_fail(cmd, ctx);
    }
  } else {
    if (o->inputs.n != st->n_in) {
      char names[512] = "";
      for (int i = 0; i < st->n_in; i++) {
        strncat(names, i ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, pn_exec_input(st->ex, i)->name, sizeof names - strlen(names) - 1);
      }
      return pn_cli_usage(cmd, "%s needs %d input%s (%s), got %d --input (or use --random)", o->model,
                          st->n_in, st->n_in == 1 ? "" : "s", names, o->inputs.n);
    }
    /* one float input of known example shape: the files become it as for every command */
    struct pn_ctx probe = {0};
    int k;
    int64_t S[PN_MAX_DIMS];
    bool made = st->n_in == 1 && pn_input_shape(&probe, st->g, &k, S) == PN_OK;
    for (int i = 0; i < st->n_in; i++) {
      struct pn_input_opts io = {.resize = o->resize};
      struct pn_input_info info;
      if (made ? pn_input_load(ctx, st->g, &o->inputs.v[i], 1, &io, &st->in[i], &info)
               : pn_tensor_read_file(ctx, o->inputs.v[i], PN_TF_AUTO, &st->in[i], NULL)) {
        if (made) pn_err_prefix(ctx, "%s", o->model);
        return pn_cli_fail(cmd, ctx);
      }
      if (made && info.pixel_files)
        printf("%s: pixels, %s%s\n", o->inputs.v[i], info.model_norm ? "normalised with the model's "
               "privnn.normalize" : "scaled to [0, 1] (the model records no privnn.normalize)",
               info.resized ? ", resized/converted (--resize)" : "");
      if (pn_exec_check_input(ctx, st->ex, i, st->in[i]) != PN_OK) {
        pn_err_prefix(ctx, "%s (--input %d of %s)", o->inputs.v[i], i + 1, o->model);
        return pn_cli_fail(cmd, ctx);
      }
    }
  }

  const struct pn_tensor *const *in = (const struct pn_tensor *const *)st->in;
  for (int64_t w = 0; w < o->warmup; w++) {
    if (pn_exec_run(ctx, st->ex, in, st->out) != PN_OK) goto run_failed;
    free_outputs(st);
  }
  double *prof = calloc(PN_OP_COUNT, sizeof *prof);
  int n_nodes = st->g->n_nodes;
  double *node0 = malloc(((size_t)n_nodes + 1) * sizeof *node0);   /* node times after warm-up */
  if (!prof || !node0) {
    free(prof);
    free(node0);
    return pn_cli_failf(cmd, "out of memory");
  }
  for (int i = 0; i < n_nodes; i++) node0[i] = pn_exec_node_seconds(st->ex, i);
  struct pn_exec_mem mem0, mem;
  pn_exec_mem_stats(st->ex, &mem0);
  struct pn_progress bar;
  bool bar_on = false;
  double before[PN_OP_COUNT];
  for (int64_t r = 0; r < o->repeat; r++) {
    free_outputs(st);
    const double *ops0 = pn_exec_op_seconds(st->ex);
    for (int k = 0; k < PN_OP_COUNT; k++) before[k] = ops0 ? ops0[k] : 0;
    double t0 = pn_now();
    if (pn_exec_run(ctx, st->ex, in, st->out) != PN_OK) {
      if (bar_on) pn_progress_end(&bar);
      free(prof);
      free(node0);
      goto run_failed;
    }
    st->times[r] = pn_now() - t0;
    /* the executor's per-op times accumulate over runs: take this run's share */
    const double *ops = pn_exec_op_seconds(st->ex);
    for (int k = 0; ops && k < PN_OP_COUNT; k++)
      prof[k] += ops[k] >= before[k] ? ops[k] - before[k] : ops[k];
    if (r == 0 && (double)(o->repeat - 1) * st->times[0] > 2.0) {
      pn_progress_start_unit(&bar, "run", "runs", (uint64_t)o->repeat - 1); /* the runs still to come */
      bar_on = true;
    } else if (bar_on) {
      pn_progress_update(&bar, (uint64_t)r, NULL);
    }
  }
  if (bar_on) pn_progress_end(&bar);

  /* report */
  cJSON *rep = st->report = cJSON_CreateObject();
  cJSON_AddStringToObject(rep, "model", o->model);
  char buf[256];
  printf("%s: %d input%s, %d output%s\n", o->model, st->n_in, st->n_in == 1 ? "" : "s", st->n_out,
         st->n_out == 1 ? "" : "s");
  cJSON *ji = cJSON_AddArrayToObject(rep, "inputs");
  for (int i = 0; i < st->n_in; i++) {
    const struct pn_tensor *t = st->in[i];
    printf("  in  %-16s %s %s%s\n", pn_exec_input(st->ex, i)->name, pn_dtype_name(t->dtype),
           pn_shape_str(buf, sizeof buf, t->ndim, t->dims), o->random ? " (random)" : "");
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "name", pn_exec_input(st->ex, i)->name);
    cJSON_AddStringToObject(x, "source", o->random ? "random" : o->inputs.v[i]);
    cJSON *sh = cJSON_AddArrayToObject(x, "shape");
    for (int k = 0; k < t->ndim; k++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->dims[k]));
    cJSON_AddItemToArray(ji, x);
  }
  cJSON *jo = cJSON_AddArrayToObject(rep, "outputs");
  printf("outputs:\n");
  for (int i = 0; i < st->n_out; i++) print_output(pn_exec_output(st->ex, i), st->out[i], jo);

  double *sorted = malloc((size_t)o->repeat * sizeof *sorted);
  if (!sorted) {
    free(prof);
    free(node0);
    return pn_cli_failf(cmd, "out of memory");
  }
  memcpy(sorted, st->times, (size_t)o->repeat * sizeof *sorted);
  qsort(sorted, (size_t)o->repeat, sizeof *sorted, cmp_double);
  double sum = 0;
  for (int64_t r = 0; r < o->repeat; r++) sum += st->times[r];
  int64_t R = o->repeat;
  double mean = sum / (double)R, median = R % 2 ? sorted[R / 2] : 0.5 * (sorted[R / 2 - 1] + sorted[R / 2]);
  printf("time: mean %.3f ms, min %.3f ms, median %.3f ms over %lld run%s (%lld warmup, threads %s)\n",
         mean * 1e3, sorted[0] * 1e3, median * 1e3, (long long)R, R == 1 ? "" : "s",
         (long long)o->warmup, o->threads ? (snprintf(buf, sizeof buf, "%lld", (long long)o->threads), buf)
                                          : "default");
  cJSON *jt = cJSON_AddObjectToObject(rep, "timing");
  cJSON_AddNumberToObject(jt, "runs", (double)R);
  cJSON_AddNumberToObject(jt, "warmup", (double)o->warmup);
  cJSON_AddNumberToObject(jt, "threads", (double)o->threads);
  cJSON_AddNumberToObject(jt, "mean_ms", mean * 1e3);
  cJSON_AddNumberToObject(jt, "min_ms", sorted[0] * 1e3);
  cJSON_AddNumberToObject(jt, "median_ms", median * 1e3);
  cJSON *all = cJSON_AddArrayToObject(jt, "all_ms");
  for (int64_t r = 0; r < R; r++) cJSON_AddItemToArray(all, cJSON_CreateNumber(st->times[r] * 1e3));
  free(sorted);

  if (o->profile) {
    double tot = 0;
    int order[PN_OP_COUNT], n = 0;
    for (int k = 0; k < PN_OP_COUNT; k++) {
      tot += prof[k];
      if (prof[k] > 0) order[n++] = k;
    }
    slowest_first(order, n, prof);
    printf("profile (per run):\n");
    cJSON *jp = cJSON_AddObjectToObject(rep, "profile_ms");
    for (int x = 0; x < n; x++) {
      int k = order[x];
      printf("  %-20s %10.3f ms %5.1f%%\n", pn_op_name((enum pn_op)k), prof[k] * 1e3 / (double)R,
             tot > 0 ? 100.0 * prof[k] / tot : 0.0);
      cJSON_AddNumberToObject(jp, pn_op_name((enum pn_op)k), prof[k] * 1e3 / (double)R);
    }
    report_nodes(st, node0, R, tot, rep);
    /* the executor's buffers for intermediates, and how many of the timed runs' did not fit them */
    pn_exec_mem_stats(st->ex, &mem);
    long long miss = mem.misses - mem0.misses, total = miss + mem.hits - mem0.hits;
    printf("intermediates: %.2f MB in %d buffers (planned %d time%s); %lld of the timed runs' %lld allocated "
           "outside them\n",
           (double)mem.bytes / 1e6, mem.buffers, mem.plans, mem.plans == 1 ? "" : "s", miss, total);
    cJSON *jm = cJSON_AddObjectToObject(rep, "intermediates");
    cJSON_AddNumberToObject(jm, "bytes", (double)mem.bytes);
    cJSON_AddNumberToObject(jm, "buffers", mem.buffers);
    cJSON_AddNumberToObject(jm, "plans", mem.plans);
    cJSON_AddNumberToObject(jm, "timed_outputs", (double)total);
    cJSON_AddNumberToObject(jm, "timed_misses", (double)miss);
  }
  free(prof);
  free(node0);

  if (o->outputs.n && write_outputs(ctx, o, st) != PN_OK) return pn_cli_fail(cmd, ctx);
  if (o->json && pn_cli_report(ctx, cmd, o->json, rep) != PN_OK) return pn_cli_fail(cmd, ctx);
  return PN_EXIT_OK;

run_failed:
  pn_err_prefix(ctx, "%s", o->model);
  return pn_cli_fail(cmd, ctx);
}

int pn_cmd_run(int argc, char **argv) {
  struct run_opts o = {0};
  int rc = parse(argc, argv, &o);
  if (rc < 0) return PN_EXIT_OK; /* --help */
  if (rc) return rc;
  pn_cli_tune_process();
  struct pn_ctx ctx = {0};
  struct run_state st = {0};
  rc = run(&ctx, &o, &st);
  if (st.in)
    for (int i = 0; i < st.n_in; i++) pn_tensor_free(st.in[i]);
  if (st.out) free_outputs(&st);
  free(st.in);
  free(st.out);
  free(st.times);
  cJSON_Delete(st.report);
  pn_exec_free(st.ex);
  pn_graph_free(st.g);
  return rc;
}
