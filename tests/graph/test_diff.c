/* test_diff.c - differential test of everything that acts between nodes: the executor's fusions,
** its evaluation of constant subgraphs, its memory planning (when each value is freed), privnn's
** optimizer passes (`privnn optimize`) and the ONNX writer/reader, on random graphs (randgraph.c).
**
** For graph number k (k = seed .. seed+count-1) the reference is the graph as drawn, run node by
** node (pn_exec_opts.no_fuse) on one thread. Against it run:
**   fused       the same graph with constant evaluation and fusion, 2 threads
**   opt         pn_optimize_graph on a copy (what `privnn optimize` does), fused
**   opt-nofuse  pn_optimize_graph, run node by node (the passes alone)
**   saved       the optimized copy written as ONNX and read back, fused, 1 thread
** The fused executors run every 3x3 stride-1 Conv by Winograd's algorithm (k_winograd.c), however
** few its output tiles (pn_winograd_min_tiles = 1 here), so the random graphs reach it too (by
** F(4x4, 3x3) in odd-numbered graphs on CPUs with AVX-512, by F(2x2, 3x3) in the others; in one
** graph in four those of 17-64 output positions and few channels take k_conv.c's tiny path), and
** every MatMul by a constant 2-D weight by k_gemm.c's packed GEMM (the reference: OpenBLAS).
** Every executor runs twice on different inputs (the second run reuses its state: Conv caches,
** evaluated constants), and a graph with a symbolic batch runs a third time at another batch
** (smaller or larger than the drawn one). Before those runs each executor runs once on yet another
** input, so every compared run gets the intermediates' buffers (exec.c's memory plan) as a
** different run left them, or outgrows them.
**
** The reference of each run is a fresh no_fuse executor's first run (every intermediate calloc'd,
** no plan yet). The no_fuse executor that ran before ("reference, reused") must give the same
** bits, and so must the fused executor against a fresh fused executor on the same input: a kernel
** that leaves part of a planned buffer unwritten, or an intermediate given a buffer still in use,
** shows there.
**
** Tolerance: |got - ref| <= 1e-4 * max(1, max |ref|) per output (integer outputs exactly). The
** generator keeps every value of order 1 and draws only continuous, well-conditioned ops, so
** correct variants differ by float rounding only: folding BatchNormalization into a Conv's weights
** or reassociating a sum changes each result by a few units in the last place (2^-24 relative)
** times sqrt(fan-in) <= ~60, through at most a dozen layers of gain ~1: a few 1e-6 at most. The
** faults sought (a dropped or doubled activation, a value freed or overwritten too early, a pass
** that changes semantics) are off by order 1. 1e-4 leaves a factor >10 above the rounding.
**
** usage: test_diff [--seed S] [--count N] [--dump DIR] [-v]
**   --seed S    first graph number (default 1; "random" draws one from the OS and prints it)
**   --count N   graphs to test (default 600)
**   --dump DIR  also write, per graph, what scripts/ort-diff.sh needs to run it in ONNX Runtime:
**               DIR/gK.onnx (as drawn), DIR/gK.opt.onnx (optimized), DIR/gK.json (runtime inputs
**               and outputs) and raw little-endian DIR/gK.inI.bin / DIR/gK.outI.bin (reference)
**   -v          print every graph's description
**   --all-outputs  make every node output a graph output too (with --dump, shows in ORT the
**               first node that disagrees)
** env: PN_TEST_SEED (tests/pn_test.h) and PN_DIFF_COUNT, used when the options are absent.
** A failing graph is saved as diff-fail-K.onnx in the working directory; rerun it alone with
** `test_diff --seed K --count 1 -v`. The last line is
** "diff: N graphs, M runs compared, K disagreements, E errors"; exit status 1 unless K = E = 0. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graph/exec.h"
#include "graph/k_dense.h"
#include "graph/onnx.h"
#include "graph/passes.h"
#include "pn_test.h"
#include "randgraph.h"
#include "util/fileio.h"
#include "util/prg.h"
#include "util/status.h"

#define TOL 1e-4
#define MAX_OUT 64

enum variant { V_REF, V_FUSED, V_OPT, V_OPT_NOFUSE, V_SAVED, V_COUNT };
static const char *const variant_names[V_COUNT] = {"reference", "fused", "opt", "opt-nofuse", "saved"};

struct stats {
  long graphs, compared, disagreements, errors;
};

static bool verbose;

/* ---- one graph ---- */

struct prepared {
  struct pn_graph *g;          /* owned copy */
  struct pn_exec *ex;
};

static void prepared_free(struct prepared *p) {
  pn_exec_free(p->ex);
  pn_graph_free(p->g);
  p->ex = NULL;
  p->g = NULL;
}

/* Make variant v of rg's graph into p; on failure the message is in ctx. */
static int prepare(struct pn_ctx *ctx, const struct rg_graph *rg, enum variant v, struct prepared *p) {
  memset(p, 0, sizeof *p);
  if (!(p->g = pn_graph_clone(rg->g))) return pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  int rc = PN_OK;
  if (v >= V_OPT) {
    /* as cmd_optimize.c: validate, optimize, validate */
    if ((rc = pn_graph_validate(ctx, p->g)) || (rc = pn_optimize_graph(ctx, p->g, NULL)) ||
        (rc = pn_graph_validate(ctx, p->g)))
      return rc;
  }
  if (v == V_SAVED) {
    uint8_t *buf = NULL;
    size_t n = 0;
    if ((rc = pn_onnx_save(ctx, p->g, &buf, &n))) return rc;
    pn_graph_free(p->g);
    p->g = NULL;
    rc = pn_onnx_load(ctx, buf, n, &p->g);
    free(buf);
    if (rc) return rc;
  }
  struct pn_exec_opts eo = {.threads = v == V_FUSED ? 2 : 1, .no_fuse = v == V_REF || v == V_OPT_NOFUSE};
  return pn_exec_new(ctx, p->g, &eo, &p->ex);
}

struct outputs {
  struct pn_tensor *t[MAX_OUT];
  int n;
};

static void outputs_free(struct outputs *o) {
  for (int i = 0; i < o->n; i++) pn_tensor_free(o->t[i]);
  o->n = 0;
}

static int run(struct pn_ctx *ctx, const struct rg_graph *rg, struct prepared *p, int64_t batch, uint64_t in_seed,
               struct outputs *o) {
  int n_in = pn_exec_n_inputs(p->ex);
  struct pn_tensor *in[RG_MAX_INPUTS] = {0};
  o->n = 0;
  if (n_in != rg->n_in) return pn_err(ctx, PN_ERR_INVALID, "%d runtime inputs, the generator made %d", n_in, rg->n_in);
  if (pn_exec_n_outputs(p->ex) > MAX_OUT) return pn_err(ctx, PN_ERR_INVALID, "too many outputs");
  int rc = PN_OK;
  for (int i = 0; i < n_in && !rc; i++)
    if (!(in[i] = rg_input(rg, i, batch, in_seed))) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
  if (!rc) rc = pn_exec_run(ctx, p->ex, (const struct pn_tensor *const *)in, o->t);
  if (!rc) o->n = pn_exec_n_outputs(p->ex);
  for (int i = 0; i < n_in; i++) pn_tensor_free(in[i]);
  return rc;
}

/* Are got and ref the same tensors, bit for bit? false with the reason in msg otherwise. */
static bool same_bits(const struct outputs *ref, const struct outputs *got, const struct prepared *p,
                      const char *what, char *msg, size_t msg_n) {
  if (ref->n != got->n) {
    snprintf(msg, msg_n, "  %s: %d outputs, the fresh executor's %d\n", what, got->n, ref->n);
    return false;
  }
  for (int i = 0; i < ref->n; i++) {
    const struct pn_tensor *a = got->t[i], *b = ref->t[i];
    if (pn_tensor_same_shape(a, b) && !memcmp(a->data, b->data, pn_tensor_nbytes(b))) continue;
    int64_t n = pn_tensor_same_shape(a, b) ? (int64_t)(pn_tensor_nbytes(b) / pn_dtype_size(b->dtype)) : 0, k = 0,
            es = (int64_t)pn_dtype_size(b->dtype), diff = 0;
    for (int64_t j = 0; j < n; j++)
      if (memcmp((const char *)a->data + j * es, (const char *)b->data + j * es, (size_t)es) && !diff++) k = j;
    if (n && b->dtype == PN_DT_FLOAT)
      snprintf(msg, msg_n, "  %s: output '%s': %" PRId64 " of %" PRId64 " values differ in their bits from a fresh "
               "executor's, first at %" PRId64 " (%.9g vs %.9g)\n", what, pn_exec_output(p->ex, i)->name, diff, n, k,
               ((const float *)a->data)[k], ((const float *)b->data)[k]);
    else
      snprintf(msg, msg_n, "  %s: output '%s' differs from a fresh executor's (%" PRId64 " of %" PRId64 " values)\n",
               what, pn_exec_output(p->ex, i)->name, diff, n);
    return false;
  }
  return true;
}

/* Compare got with ref; false with the reason in msg on a disagreement. */
static bool agree(const struct outputs *ref, const struct outputs *got, const struct prepared *p, const char *what,
                  char *msg, size_t msg_n) {
  if (ref->n != got->n) {
    snprintf(msg, msg_n, "  %s: %d outputs, reference has %d\n", what, got->n, ref->n);
    return false;
  }
  for (int i = 0; i < ref->n; i++) {
    const struct pn_tensor *a = got->t[i], *b = ref->t[i];
    const char *name = pn_exec_output(p->ex, i)->name;
    if (!pn_tensor_same_shape(a, b)) {
      char sa[128], sb[128];
      snprintf(msg, msg_n, "  %s: output '%s' is %s %s, reference %s %s\n", what, name, pn_dtype_name(a->dtype),
             pn_shape_str(sa, sizeof sa, a->ndim, a->dims), pn_dtype_name(b->dtype),
             pn_shape_str(sb, sizeof sb, b->ndim, b->dims));
      return false;
    }
    int64_t n = pn_tensor_numel(b), worst = -1;
    if (b->dtype != PN_DT_FLOAT) {
      if (memcmp(a->data, b->data, pn_tensor_nbytes(b))) {
        snprintf(msg, msg_n, "  %s: output '%s' (%s) differs\n", what, name, pn_dtype_name(b->dtype));
        return false;
      }
      continue;
    }
    const float *x = a->data, *y = b->data;
    double mag = 1, err = 0;
    for (int64_t k = 0; k < n; k++) {
      if (fabs(y[k]) > mag) mag = fabs(y[k]);
      if (isnan(x[k]) && isnan(y[k])) continue;
      double dk = fabs((double)x[k] - (double)y[k]);
      if (!(dk <= err)) {   /* NaN on one side only counts as the worst */
        err = isnan(dk) ? INFINITY : dk;
        worst = k;
      }
    }
    if (!(err <= TOL * mag)) {
      snprintf(msg, msg_n, "  %s: output '%s': max |diff| %.3g at %" PRId64 " (%.6g vs reference %.6g), tolerance %.3g\n", what,
             name, err, worst, worst >= 0 ? x[worst] : 0.0, worst >= 0 ? y[worst] : 0.0, TOL * mag);
      return false;
    }
  }
  return true;
}

/* ---- dumping for ONNX Runtime ---- */

static int write_raw(const char *path, const struct pn_tensor *t) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t n = pn_tensor_nbytes(t);
  int rc = n && fwrite(t->data, 1, n, f) != n ? -1 : 0;
  return fclose(f) || rc ? -1 : 0;
}

static void json_tensor(FILE *f, const char *name, const struct pn_tensor *t, const char *file) {
  fprintf(f, "{\"name\": \"%s\", \"dtype\": \"%s\", \"dims\": [", name, pn_dtype_name(t->dtype));
  for (int k = 0; k < t->ndim; k++) fprintf(f, "%s%" PRId64, k ? ", " : "", t->dims[k]);
  fprintf(f, "], \"file\": \"%s\"}", file);
}

/* Write graph number k for scripts/ort-diff.sh: model, optimized model, one run's inputs and the
** reference outputs. Returns 0 or -1 (message printed). */
static int dump(const char *dir, uint64_t k, const struct rg_graph *rg, const struct prepared *ref,
                const struct prepared *opt, int64_t batch, uint64_t in_seed, const struct outputs *out) {
  char path[4096], file[64];
  struct pn_ctx ctx = {0};
  snprintf(path, sizeof path, "%s/g%" PRIu64 ".onnx", dir, k);
  if (pn_onnx_save_file_nosync(&ctx, rg->g, path)) goto fail;
  snprintf(path, sizeof path, "%s/g%" PRIu64 ".opt.onnx", dir, k);
  if (pn_onnx_save_file_nosync(&ctx, opt->g, path)) goto fail;
  snprintf(path, sizeof path, "%s/g%" PRIu64 ".json", dir, k);
  FILE *f = fopen(path, "w");
  if (!f) {
    pn_err(&ctx, PN_ERR_IO, "%s: %s", path, strerror(errno));
    goto fail;
  }
  fprintf(f, "{\"graph\": %" PRIu64 ", \"desc\": \"%s\", \"inputs\": [", k, rg->desc);
  int rc = 0;
  for (int i = 0; i < rg->n_in; i++) {
    struct pn_tensor *t = rg_input(rg, i, batch, in_seed);
    snprintf(file, sizeof file, "g%" PRIu64 ".in%d.bin", k, i);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (!t || write_raw(path, t)) rc = -1;
    if (t) {
      fprintf(f, "%s\n  ", i ? "," : "");
      json_tensor(f, pn_exec_input(ref->ex, i)->name, t, file);
    }
    pn_tensor_free(t);
  }
  fprintf(f, "],\n \"outputs\": [");
  for (int i = 0; i < out->n; i++) {
    snprintf(file, sizeof file, "g%" PRIu64 ".out%d.bin", k, i);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (write_raw(path, out->t[i])) rc = -1;
    fprintf(f, "%s\n  ", i ? "," : "");
    json_tensor(f, pn_exec_output(ref->ex, i)->name, out->t[i], file);
  }
  fprintf(f, "]}\n");
  if (fclose(f) || rc) {
    pn_err(&ctx, PN_ERR_IO, "%s: cannot write the graph's files", dir);
    goto fail;
  }
  return 0;
fail:
  printf("  dump: %s\n", pn_errmsg(&ctx));
  return -1;
}

/* ---- driver ---- */

static void save_failure(uint64_t k, const struct rg_graph *rg) {
  char path[64];
  struct pn_ctx ctx = {0};
  snprintf(path, sizeof path, "diff-fail-%" PRIu64 ".onnx", k);
  if (pn_onnx_save_file(&ctx, rg->g, path) == PN_OK) printf("  saved as %s\n", path);
}

/* Make every node output a graph output too (--all-outputs: to find, with ORT, the first node
** that disagrees). The dtypes come from shape inference. */
static int expose_all(struct pn_ctx *ctx, struct pn_graph *g) {
  int rc = pn_graph_infer_shapes(ctx, g);
  for (int i = 0; i < g->n_nodes && !rc; i++)
    for (int j = 0; j < g->nodes[i]->n_out && !rc; j++) {
      const char *nm = g->nodes[i]->out[j];
      const struct pn_value *v = *nm ? pn_graph_find_value(g, nm) : NULL;
      bool already = false;
      for (int k = 0; k < g->n_outputs; k++) already |= !strcmp(g->outputs[k].name, nm);
      if (v && !already && !pn_graph_add_output(g, nm, v->dtype, -1, NULL)) rc = pn_err(ctx, PN_ERR_NOMEM, "out of memory");
    }
  return rc;
}

static bool all_outputs;

static void test_graph(uint64_t k, const char *dump_dir, struct stats *st) {
  struct rg_graph rg;
  struct pn_ctx ctx = {0};
  st->graphs++;
  if (rg_build(k, &rg)) {
    printf("graph %" PRIu64 ": out of memory building it\n", k);
    st->errors++;
    return;
  }
  if (all_outputs && expose_all(&ctx, rg.g)) {
    printf("graph %" PRIu64 ": %s\n", k, pn_errmsg(&ctx));
    st->errors++;
    rg_free(&rg);
    return;
  }
  if (verbose) printf("graph %" PRIu64 ": %d nodes; %s\n", k, rg.g->n_nodes, rg.desc);
  struct prepared p[V_COUNT];
  memset(p, 0, sizeof p);
  bool bad = false, header = verbose;
  /* (batch, input seed) of each run: two at the drawn batch, one at another if symbolic */
  int64_t batches[3] = {rg.batch, rg.batch, rg.batch % 3 + 1};
  int n_runs = rg.symbolic ? 3 : 2;
  struct outputs ref[3];
  memset(ref, 0, sizeof ref);
  /* the references: a fresh no_fuse executor per run */
  for (int r = 0; r < n_runs && !bad; r++) {
    struct prepared fresh;
    char what[96];
    snprintf(what, sizeof what, "reference, run %d (batch %" PRId64 ")", r + 1, batches[r]);
    if (prepare(&ctx, &rg, V_REF, &fresh) || run(&ctx, &rg, &fresh, batches[r], k * 7 + (uint64_t)r, &ref[r])) {
      if (!header) printf("graph %" PRIu64 ": %s\n", k, rg.desc);
      header = true;
      printf("  %s: %s\n", what, pn_errmsg(&ctx));
      st->errors++;
      bad = true;
    }
    prepared_free(&fresh);
  }
  for (int v = 0; v < V_COUNT && !bad; v++) {
    struct outputs o = {0};
    if (prepare(&ctx, &rg, (enum variant)v, &p[v]) || run(&ctx, &rg, &p[v], rg.batch, k * 7 + 5, &o)) {
      if (!header) printf("graph %" PRIu64 ": %s\n", k, rg.desc);
      header = true;
      printf("  %s: cannot prepare or run on another input first: %s\n", variant_names[v], pn_errmsg(&ctx));
      st->errors++;
      bad = true;
      break;
    }
    outputs_free(&o);
    for (int r = 0; r < n_runs && !bad; r++) {
      char what[96];
      snprintf(what, sizeof what, "%s%s, run %d (batch %" PRId64 ")", variant_names[v], v == V_REF ? ", reused" : "",
               r + 1, batches[r]);
      struct outputs fo = {0};
      struct prepared fresh = {0};
      int rc = run(&ctx, &rg, &p[v], batches[r], k * 7 + (uint64_t)r, &o);
      /* the fused executor against a fresh one on the same input */
      if (!rc && v == V_FUSED)
        rc = prepare(&ctx, &rg, V_FUSED, &fresh) || run(&ctx, &rg, &fresh, batches[r], k * 7 + (uint64_t)r, &fo);
      if (rc) {
        if (!header) printf("graph %" PRIu64 ": %s\n", k, rg.desc);
        header = true;
        printf("  %s: %s\n", what, pn_errmsg(&ctx));
        st->errors++;
        bad = true;
      }
      st->compared += !bad;
      char msg[512];
      if (!bad && ((v == V_REF && !same_bits(&ref[r], &o, &p[V_REF], what, msg, sizeof msg)) ||
                   (v == V_FUSED && !same_bits(&fo, &o, &p[V_FUSED], what, msg, sizeof msg)) ||
                   !agree(&ref[r], &o, &p[V_REF], what, msg, sizeof msg))) {
        if (!header) printf("graph %" PRIu64 ": %s\n", k, rg.desc);
        header = true;
        fputs(msg, stdout);
        st->disagreements++;
        bad = true;
      }
      outputs_free(&o);
      outputs_free(&fo);
      prepared_free(&fresh);
    }
  }
  if (bad) save_failure(k, &rg);
  else if (dump_dir && dump(dump_dir, k, &rg, &p[V_REF], &p[V_OPT], batches[0], k * 7, &ref[0])) st->errors++;
  for (int r = 0; r < 3; r++) outputs_free(&ref[r]);
  for (int v = 0; v < V_COUNT; v++) prepared_free(&p[v]);
  rg_free(&rg);
}

static uint64_t parse_u64(const char *s, const char *what) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end) {
    fprintf(stderr, "test_diff: %s '%s' is not a number\n", what, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  const char *seed_s = NULL, *count_s = getenv("PN_DIFF_COUNT"), *dump_dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed_s = argv[++i];
    else if (!strcmp(argv[i], "--count") && i + 1 < argc) count_s = argv[++i];
    else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump_dir = argv[++i];
    else if (!strcmp(argv[i], "-v")) verbose = true;
    else if (!strcmp(argv[i], "--all-outputs")) all_outputs = true;
    else {
      fprintf(stderr, "usage: test_diff [--seed S|random] [--count N] [--dump DIR] [--all-outputs] [-v]\n");
      return 2;
    }
  }
  uint64_t seed = 1, count = 600;
  pn_winograd_min_tiles = 1;
  if (!seed_s) {
    seed = pn_test_seed("test_diff", 1);   /* PN_TEST_SEED, as every randomised test */
  } else if (!strcmp(seed_s, "random")) {
    struct pn_ctx ctx = {0};
    uint32_t r;
    if (pn_getrandom(&ctx, &r, sizeof r)) {
      fprintf(stderr, "test_diff: %s\n", pn_errmsg(&ctx));
      return 2;
    }
    seed = r;
  } else {
    seed = parse_u64(seed_s, "seed");
  }
  if (count_s) count = parse_u64(count_s, "count");
  if (dump_dir && mkdir(dump_dir, 0755) && errno != EEXIST) {
    fprintf(stderr, "test_diff: %s: %s\n", dump_dir, strerror(errno));
    return 2;
  }
  printf("test_diff: graphs %" PRIu64 "..%" PRIu64 " (--seed %" PRIu64 " --count %" PRIu64 ")\n", seed,
         seed + count - 1, seed, count);
  fflush(stdout);
  struct stats st = {0};
  double t0 = pn_now();
  for (uint64_t k = seed; k < seed + count; k++) {
    /* odd graphs: F(4x4, 3x3) wherever it runs (AVX-512), even ones F(2x2); one in four (k = 2
    ** mod 4) gives the 3x3 Convs of 17-64 positions and few channels to the tiny-output path */
    pn_winograd_f4_min_out = pn_winograd_f4_min_out_any = k % 2 ? 1 : INT64_MAX;
    pn_tiny_max_pos = k % 4 == 2 ? 64 : 16;
    test_graph(k, dump_dir, &st);
    fflush(stdout);
  }
  printf("diff: %ld graphs, %ld runs compared, %ld disagreements, %ld errors (%.1f s)\n", st.graphs, st.compared,
         st.disagreements, st.errors, pn_now() - t0);
  return st.disagreements || st.errors ? 1 : 0;
}
