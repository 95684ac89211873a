/* bundle.c - Proteus bundle folder and secret manifest: split a model file, join an optimized bundle.
**
** split: load, prepare (BN folded, constants to initializers), partition, export and anonymize each
** part, save each as <random 128-bit hex>.onnx in the bundle folder, and write the secret manifest
** (JSON, mode 0600): a random split id, the model's path and SHA-256, and per file whether it is
** real, its part number and the anonymous -> model name maps of its boundary and its weights.
** Each file gets its own PRG, seeded from the main stream in file order, so the files of a part
** are made in parallel and the bundle is the same for a given seed whatever the thread count.
** No weight of a file is held whole: a generated sentinel's weights are only a distribution, and
** every file's decoys are made 1 MiB at a time as the file is written (pn_onnx_save_file_gen_nosync).
** Files are written without fsync (temp + rename, writeback started), the bundle is synced once
** at the end, and the secret is written only after that: a secret never names files not on disk.
** join: check the model against the recorded SHA-256, prepare it again (deterministic, so the
** folded real weights reappear under the recorded names), load only the real files (their structure:
** their weights are decoys, left unparsed in the mapped file), reassemble,
** verify against the model on random inputs and save. */
#include "obf/obf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>

#include <openssl/evp.h>

#include "graph/onnx.h"
#include "obf/obf_ngram.h"
#include "util/fileio.h"
#include "util/strmap.h"
#include "util/prg.h"
#include "util/report.h"
#include "util/status.h"
#include "util/wipe.h"

#define SECRET_FORMAT "privnn-proteus-secret"
#define SECRET_VERSION 1
#define MODEL_MAX_BYTES ((size_t)2 << 30)

static int nomem(struct pn_ctx *ctx) { return pn_err(ctx, PN_ERR_NOMEM, "out of memory"); }

static void hex(const uint8_t *b, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[b[i] >> 4];
    out[2 * i + 1] = d[b[i] & 15];
  }
  out[2 * n] = 0;
}

static int sha256_hex(struct pn_ctx *ctx, const uint8_t *buf, size_t n, char out[65]) {
  uint8_t md[32];
  unsigned len = 0;
  if (EVP_Digest(buf, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
    return pn_err(ctx, PN_ERR_IO, "SHA-256 failed");
  hex(md, 32, out);
  return PN_OK;
}

/* Load a model file and its SHA-256 (of the model file's bytes; external data files, which its weights
** may live in, are read by the loader from the file's folder and not hashed). The file is mapped
** (pn_map_file), then hashed and parsed from the same bytes at once, each large weight keeping
** protobuf-c's copy (pn_onnx_load_adopt): the weights are written once into fresh memory, not three
** times (a read buffer, protobuf-c's copies, the graph's). In a VM whose host reclaims freed memory,
** that first touch was most of join's time. */
static int load_model(struct pn_ctx *ctx, const char *path, struct pn_graph **g, char sha[65]) {
  struct pn_mapped_file m;
  int rc = pn_map_file(ctx, path, MODEL_MAX_BYTES, &m);
  if (rc) return rc;
  /* hashed on one thread while parsed on another (both only read the mapping): bert's 340 MB take
  ** about 0.15 s to hash */
  struct pn_ctx hctx = {0};
  int hrc = PN_OK, nt = omp_get_max_threads() > 1 ? 2 : 1;
#pragma omp parallel sections num_threads(nt)
  {
#pragma omp section
    hrc = sha256_hex(&hctx, m.data, m.n, sha);
#pragma omp section
    rc = pn_onnx_load_adopt(ctx, m.data, m.n, path, g);
  }
  if (hrc && !rc) {
    pn_graph_free(*g);
    *g = NULL;
    rc = pn_err(ctx, hrc, "%s", hctx.msg);
  }
  if (rc) pn_err_prefix(ctx, "%s", path);
  pn_unmap_file(&m);
  return rc;
}

/* One of join's real parts, for its structure: the file is mapped into *m and its large float
** weights, decoys that join never reads, are left there unparsed (pn_onnx_load_ref); the graph is
** valid while *m is mapped. On failure *m is unmapped. */
static int load_part(struct pn_ctx *ctx, const char *path, struct pn_mapped_file *m, struct pn_graph **g) {
  int rc = pn_map_file(ctx, path, MODEL_MAX_BYTES, m);
  if (rc) return rc;
  if ((rc = pn_onnx_load_ref(ctx, m->data, m->n, path, 0, g))) {
    pn_err_prefix(ctx, "%s", path);
    pn_unmap_file(m);
  }
  return rc;
}

static char *join_path(const char *dir, const char *file) {
  size_t n = strlen(dir) + strlen(file) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, file);
  return p;
}

/* Create dir (0700; *created set) or accept an existing empty one. */
static int make_bundle_dir(struct pn_ctx *ctx, const char *dir, bool *created) {
  *created = false;
  if (mkdir(dir, 0700) == 0) {
    *created = true;
    return PN_OK;
  }
  if (errno != EEXIST) return pn_err(ctx, PN_ERR_IO, "%s: %s", dir, strerror(errno));
  DIR *d = opendir(dir);
  if (!d) return pn_err(ctx, PN_ERR_IO, "%s: %s", dir, strerror(errno));
  struct dirent *e;
  int rc = PN_OK;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      rc = pn_err(ctx, PN_ERR_INVALID, "%s: bundle folder is not empty ('%s')", dir, e->d_name);
      break;
    }
  closedir(d);
  return rc;
}

/* After a failed split: remove what it wrote into the bundle folder (empty when it began), and
** the folder itself when split created it, so no half bundle is left behind. */
static void remove_bundle(const char *dir, bool created) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        char *path = join_path(dir, e->d_name);
        if (path) unlink(path);
        free(path);
      }
    closedir(d);
  }
  if (created) rmdir(dir);
}

static cJSON *names_json(const struct pn_obf_names *m, int from, int to) {
  cJSON *a = cJSON_CreateArray();
  for (int i = from; a && i < to; i++) {
    cJSON *o = cJSON_CreateObject();
    if (!o) break;
    cJSON_AddStringToObject(o, "anon", m->from[i]);
    cJSON_AddStringToObject(o, "name", m->to[i]);
    cJSON_AddItemToArray(a, o);
  }
  return a;
}

/* One bundle file to make: anonymize item with a PRG of its own, save it under a random name. */
struct file_job {
  uint8_t seed[PN_SEED_BYTES];  /* in: this file's PRG seed */
  const struct pn_graph *item;  /* in: real part or sentinel */
  const struct pn_obf_wspec *spec; /* in: item's deferred weights (a generated sentinel's) */
  bool real;
  struct pn_graph *an;          /* out: the anonymous real part (its arena holds io and w) */
  struct pn_obf_names io, w;
  char fname[40];               /* 32 hex digits + ".onnx" */
  uint64_t bytes;               /* out: the file's size */
  int rc;
  struct pn_ctx ctx;            /* the job's own message: threads never share a context */
};

static void make_file(const char *bundle_dir, int64_t opset, struct file_job *jb) {
  struct pn_prg fprg;
  if ((jb->rc = pn_prg_init(&jb->ctx, &fprg, jb->seed))) return;
  uint8_t fid[16];
  pn_prg_bytes(&fprg, fid, sizeof fid);
  hex(fid, sizeof fid, jb->fname);
  strcat(jb->fname, ".onnx");
  /* the decoy weights are made as the file is written, a chunk at a time: no tensor of theirs (nor
  ** of a generated sentinel's weights, which only lend their distribution) is ever in memory */
  struct pn_obf_decoys dec;
  jb->rc = pn_obf_anonymize_deferred(&jb->ctx, jb->item, jb->spec, opset, &fprg, &jb->an, &jb->io, &jb->w, &dec);
  pn_prg_free(&fprg);
  if (jb->rc) return;
  char *path = join_path(bundle_dir, jb->fname);
  jb->rc = path ? pn_onnx_save_file_gen_nosync(&jb->ctx, jb->an, path, dec.gen, dec.n) : nomem(&jb->ctx);
  pn_obf_decoys_free(&dec);
  /* the written file's pages, once on the disk, leave the page cache, so that the next file's writes
  ** reuse recently freed pages (with O_DIRECT only its last partial block went through the cache; where
  ** a file system refuses O_DIRECT all of it: bert's 7.5 GB bundle through an ever-growing page cache
  ** spent 10-13 s of sys in write()'s copy into fresh pages, 5.6-7.5 s with this). Durability is still
  ** the final fsync's (split syncs every file and the folder at the end). */
  if (!jb->rc) pn_drop_written_path(path);
  struct stat st;
  if (!jb->rc && stat(path, &st) == 0) jb->bytes = (uint64_t)st.st_size;
  free(path);
  if (!jb->real) { /* only the real part's name maps go into the secret: free decoys right away */
    pn_graph_free(jb->an);
    jb->an = NULL;
  }
}

/* One part's files to make: its real part (items[0]) and sentinels, the file order, each file's job. */
struct part_slot {
  struct pn_graph **items;     /* [k + 1] */
  struct pn_obf_wspec *specs;  /* [k + 1]: items' deferred weights (specs[0], the real part's, empty) */
  int *perm;                   /* [k + 1] */
  struct file_job *jobs;       /* [k + 1] */
  struct pn_obf_sentinel_report rep;
};

/* Everything of part pi that draws from the main stream, in the stream's order: its sentinels, the
** file order and one PRG seed per file. Files are made from the slot afterwards, in any order. */
static int prepare_part(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_obf_partition *p,
                        int pi, const struct pn_obf_ngram *gen, int k, struct pn_prg *prg,
                        struct part_slot *sl) {
  struct pn_obf_sentinel_report rep = {0};
  /* the real part's weights stay the model's (read only, g outlives the slot) */
  int rc = pn_obf_extract_shared(ctx, g, p, pi, &sl->items[0]);
  if (!rc && k && (rc = pn_obf_sentinels_deferred(ctx, sl->items[0], gen, k, prg, sl->items + 1, &rep, sl->specs + 1)))
    pn_err_prefix(ctx, "part %d", pi);
  if (rc) return rc;
  sl->rep = rep;
  for (int i = 0; i <= k; i++) sl->perm[i] = i;
  for (int i = k; i > 0; i--) {
    int j = (int)pn_prg_uniform(prg, (uint64_t)i + 1), t = sl->perm[i];
    sl->perm[i] = sl->perm[j];
    sl->perm[j] = t;
  }
  /* one PRG per file, seeded from the main stream in file order: the files can then be made in any
  ** order, on any number of threads, and come out the same for a given seed */
  for (int q = 0; q <= k; q++) {
    pn_prg_bytes(prg, sl->jobs[q].seed, sizeof sl->jobs[q].seed);
    sl->jobs[q].item = sl->items[sl->perm[q]];
    sl->jobs[q].spec = &sl->specs[sl->perm[q]];
    sl->jobs[q].real = sl->perm[q] == 0;
  }
  return PN_OK;
}

/* The files of part `cur`, in parallel (each job independent, so the result does not depend on the
** number of threads). */
static void make_files(const char *bundle_dir, int64_t opset, struct part_slot *cur, int n) {
#pragma omp parallel
#pragma omp single
  for (int q = 0; q < n; q++) {
#pragma omp task firstprivate(q)
    make_file(bundle_dir, opset, &cur->jobs[q]);
  }
}

/* Sentinels are made from one random stream, part after part; files are written in parallel. A
** producer thread prepares the parts, in order, into a ring of RUN_AHEAD slots while the files of
** earlier parts are written, so that a small part (its sentinels slower to make than its files to
** write) overlaps a large one: one part ahead, bert's split waited ~0.5 s for small parts' sentinels. */
#define RUN_AHEAD 4
struct producer {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct part_slot *slot;      /* [RUN_AHEAD]: part i goes into slot[i % RUN_AHEAD] */
  int made;                    /* parts prepared */
  int freed;                   /* parts whose slot may be reused */
  int rc;                      /* of the part that failed (made stops before it), PN_OK */
  bool stop;                   /* the consumer gave up */
  struct pn_ctx ctx;           /* the producer's messages */
  const struct pn_graph *g;
  const struct pn_obf_partition *p;
  const struct pn_obf_ngram *gen;
  int k;
  struct pn_prg *prg;          /* the main stream: only the producer draws from it meanwhile */
};

static void *producer_main(void *arg) {
  struct producer *pr = arg;
  for (int i = 0; i < pr->p->n_parts; i++) {
    pthread_mutex_lock(&pr->mu);
    while (!pr->stop && i - pr->freed >= RUN_AHEAD) pthread_cond_wait(&pr->cv, &pr->mu);
    bool stop = pr->stop;
    pthread_mutex_unlock(&pr->mu);
    if (stop) break;
    int rc = prepare_part(&pr->ctx, pr->g, pr->p, i, pr->gen, pr->k, pr->prg, &pr->slot[i % RUN_AHEAD]);
    pthread_mutex_lock(&pr->mu);
    if (rc) pr->rc = rc;
    else pr->made = i + 1;
    pthread_cond_broadcast(&pr->cv);
    pthread_mutex_unlock(&pr->mu);
    if (rc) break;
  }
  return NULL;
}

/* Wait until part i is prepared: PN_OK, or the code of its failure (message in pr->ctx). */
static int producer_wait(struct producer *pr, int i) {
  pthread_mutex_lock(&pr->mu);
  while (pr->made <= i && !pr->rc) pthread_cond_wait(&pr->cv, &pr->mu);
  int rc = pr->made > i ? PN_OK : pr->rc;
  pthread_mutex_unlock(&pr->mu);
  return rc;
}

static void producer_set(struct producer *pr, int freed, bool stop) {
  pthread_mutex_lock(&pr->mu);
  if (freed > pr->freed) pr->freed = freed;
  pr->stop |= stop;
  pthread_cond_broadcast(&pr->cv);
  pthread_mutex_unlock(&pr->mu);
}

/* Give every file of the bundle the times ts, then fsync it, SYNC_THREADS files at once (threads that
** wait on the disk, whatever --threads says): each fsync waits for a journal commit (the file's
** times were just set), and concurrent ones share one; one after the other, bert's 525 files took
** 0.66-1.96 s with the disk mostly idle. The first failing file (in the bundle's order) is
** reported; a time that cannot be set is not a failure. */
#define SYNC_THREADS 16
static int sync_files(struct pn_ctx *ctx, const char *bundle_dir, const cJSON *files,
                      const struct timespec ts[2]) {
  int n = cJSON_GetArraySize(files), rc = PN_OK, bad = n, i = 0;
  struct pn_ctx *fctx = calloc((size_t)SYNC_THREADS, sizeof *fctx);
  const char **name = calloc((size_t)n + 1, sizeof *name);
  if (!fctx || !name) {
    free(fctx);
    free(name);
    return nomem(ctx);
  }
  const cJSON *f;
  cJSON_ArrayForEach(f, files) name[i++] = cJSON_GetObjectItemCaseSensitive(f, "file")->valuestring;
#pragma omp parallel for schedule(dynamic, 1) num_threads(SYNC_THREADS)
  for (int j = 0; j < n; j++) {
    struct pn_ctx *c = &fctx[omp_get_thread_num()];
    char *path = join_path(bundle_dir, name[j]);
    if (path) utimensat(AT_FDCWD, path, ts, 0);
    int frc = path ? pn_fsync_path(c, path) : pn_err(c, PN_ERR_NOMEM, "out of memory");
    free(path);
    if (frc) {
#pragma omp critical
      if (j < bad) { /* the first file that failed, whatever the order they ran in */
        bad = j;
        rc = pn_err(ctx, frc, "%s", c->msg);
      }
    }
  }
  free(name);
  free(fctx);
  return rc;
}

/* Bytes free to an unprivileged writer on the file system holding dir; UINT64_MAX if unknown. */
static uint64_t free_bytes(const char *dir) {
  struct statvfs v;
  if (statvfs(dir, &v) != 0) return UINT64_MAX;
  return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

int pn_obf_split_warning(char *buf, size_t cap, uint64_t est, uint64_t avail, uint64_t limit, int k,
                         const char *bundle) {
  char e[32], f[32];
  if (cap) buf[0] = 0;
  pn_fmt_bytes(e, sizeof e, est);
  if (avail == UINT64_MAX) snprintf(f, sizeof f, "unknown");
  else pn_fmt_bytes(f, sizeof f, avail);
  if (!limit) limit = PN_OBF_SPLIT_WARN_BYTES;
  if (est > avail)
    snprintf(buf, cap, "the bundle will take about %s (k + 1 = %d copies of the weights) and only %s are "
             "free in %s; lower -k, or split onto a larger disk", e, k + 1, f, bundle);
  else if (est > limit)
    snprintf(buf, cap, "writing about %s into %s (k + 1 = %d copies of the weights; %s free); a smaller -k "
             "writes less", e, bundle, k + 1, f);
  else
    return 0;
  return 1;
}

static void split_step(const struct pn_obf_split_opts *o, int64_t done, int64_t total, const char *step) {
  if (o->progress) o->progress(o->progress_user, done, total, step);
}

/* The bundle's bytes by estimate: sentinels draw weights of their real part's sizes, so each part's
** files weigh about k + 1 times the initializers its nodes read (protobuf framing and names are small
** beside them). A weight read in two parts (GPT-2's token embedding, tied to its LM head) is in both
** parts' files and counted twice; counted once, gpt2's K = 20 bundle was 1.31x its estimate. */
static int bundle_estimate(struct pn_ctx *ctx, const struct pn_graph *g, const struct pn_obf_partition *p,
                           int k, uint64_t *est) {
  *est = 0;
  struct pn_strmap idx = {0};
  bool *seen = calloc((size_t)g->n_inits * (size_t)(p->n_parts > 0 ? p->n_parts : 1), sizeof *seen);
  int rc = seen ? PN_OK : nomem(ctx);
  for (int i = 0; i < g->n_inits && !rc; i++)
    if (g->inits[i]->name && pn_strmap_put(&idx, g->inits[i]->name, i)) rc = nomem(ctx);
  for (int v = 0; v < g->n_nodes && !rc; v++) {
    const struct pn_node *nd = g->nodes[v];
    int q = p->part_of[v];
    for (int j = 0; j < nd->n_in; j++) {
      int w = nd->in[j][0] ? pn_strmap_get(&idx, nd->in[j], -1) : -1;
      if (w < 0 || seen[(size_t)q * (size_t)g->n_inits + (size_t)w]) continue;
      seen[(size_t)q * (size_t)g->n_inits + (size_t)w] = true;
      *est += pn_tensor_nbytes(g->inits[w]);
    }
  }
  *est *= (uint64_t)k + 1;
  free(seen);
  pn_strmap_free(&idx);
  return rc;
}

int pn_obf_split(struct pn_ctx *ctx, const char *model_path, const char *bundle_dir,
                 const char *secret_path, const struct pn_obf_split_opts *opts, struct pn_prg *prg,
                 struct pn_obf_split_stats *stats) {
  double t0 = pn_now();
  struct pn_obf_split_opts o = opts ? *opts : (struct pn_obf_split_opts){0};
  if (stats) memset(stats, 0, sizeof *stats);
  bool dir_made = false, dir_used = false;
  if (o.part_size <= 0) o.part_size = PN_OBF_DEFAULT_PART_SIZE;
  if (o.tries <= 0) o.tries = PN_OBF_DEFAULT_TRIES;
  if (o.k < 0 || o.k > 1000) return pn_err(ctx, PN_ERR_INVALID, "split: k = %d out of [0, 1000]", o.k);
  if (o.k > 0 && !o.ngram)
    return pn_err(ctx, PN_ERR_INVALID, "split: sentinels (k = %d) need an n-gram corpus", o.k);
  struct pn_graph *g = NULL;
  struct pn_obf_partition p = {0};
  struct pn_obf_ngram *gen = NULL;
  cJSON *root = NULL;
  char sha[65];
  int rc = load_model(ctx, model_path, &g, sha);
  if (rc) return rc;
  if ((rc = pn_obf_prepare(ctx, g))) {
    pn_err_prefix(ctx, "%s", model_path);
    goto out;
  }
  if (!o.opset) o.opset = pn_graph_opset(g, "");
  split_step(&o, 0, 0, "partitioning");
  if ((rc = pn_obf_partition(ctx, g, o.part_size, o.tries, prg, &p)) ||
      (rc = pn_obf_partition_check(ctx, g, &p)))
    goto out;
  if (o.k && (rc = pn_obf_ngram_for_model(ctx, o.ngram, g, &gen))) goto out;
  if ((rc = make_bundle_dir(ctx, bundle_dir, &dir_made))) goto out;
  dir_used = true;
  uint64_t est;
  if ((rc = bundle_estimate(ctx, g, &p, o.k, &est))) goto out;
  if (stats) stats->estimate_bytes = est;
  if (o.before_write) o.before_write(o.progress_user, est, free_bytes(bundle_dir));
  split_step(&o, 0, p.n_parts, NULL);
  uint8_t id[16];
  char idhex[33];
  pn_prg_bytes(prg, id, sizeof id);
  hex(id, sizeof id, idhex);
  char *abs = realpath(model_path, NULL);
  root = cJSON_CreateObject();
  if (!root) {
    free(abs);
    rc = nomem(ctx);
    goto out;
  }
  cJSON_AddStringToObject(root, "format", SECRET_FORMAT);
  cJSON_AddNumberToObject(root, "version", SECRET_VERSION);
  cJSON_AddStringToObject(root, "split_id", idhex);
  cJSON *jm = cJSON_AddObjectToObject(root, "model");
  cJSON_AddStringToObject(jm, "path", abs ? abs : model_path);
  cJSON_AddStringToObject(jm, "sha256", sha);
  free(abs);
  cJSON_AddNumberToObject(root, "part_size", o.part_size);
  cJSON_AddNumberToObject(root, "k", o.k);
  cJSON_AddNumberToObject(root, "opset", (double)o.opset);
  cJSON_AddNumberToObject(root, "parts", p.n_parts);
  cJSON *files = cJSON_AddArrayToObject(root, "files");
  struct part_slot slot[RUN_AHEAD] = {{0}};
  for (int s = 0; s < RUN_AHEAD && !rc; s++) {
    slot[s].items = calloc((size_t)o.k + 1, sizeof *slot[s].items);
    slot[s].specs = calloc((size_t)o.k + 1, sizeof *slot[s].specs);
    slot[s].perm = malloc(((size_t)o.k + 1) * sizeof *slot[s].perm);
    slot[s].jobs = calloc((size_t)o.k + 1, sizeof *slot[s].jobs);
    if (!slot[s].items || !slot[s].specs || !slot[s].perm || !slot[s].jobs) rc = nomem(ctx);
  }
  struct producer pr = {.slot = slot, .g = g, .p = &p, .gen = gen, .k = o.k, .prg = prg};
  pthread_t producer;
  bool running = false;
  if (!rc) {
    pthread_mutex_init(&pr.mu, NULL);
    pthread_cond_init(&pr.cv, NULL);
    running = pthread_create(&producer, NULL, producer_main, &pr) == 0;
    if (!running) {
      pthread_cond_destroy(&pr.cv);
      pthread_mutex_destroy(&pr.mu);
      rc = pn_err(ctx, PN_ERR_NOMEM, "split: cannot start a thread");
    }
  }
  for (int k = 0; k < p.n_parts && !rc; k++) {
    /* a failure preparing this part is reported once the earlier parts' files are accounted for */
    int prc = producer_wait(&pr, k);
    if (prc) {
      rc = pn_err(ctx, prc, "%s", pr.ctx.msg);
      break;
    }
    struct part_slot *cur = &slot[k % RUN_AHEAD];
    struct pn_obf_sentinel_report rep = cur->rep;
    if (stats && rep.copies) {
      if (!stats->copies) stats->copies_why = rep.why;
      stats->copies += rep.copies;
      stats->parts_with_copies++;
    }
    if (stats) { /* candidate structures: what the sentinels hide the real part among */
      const struct pn_graph *real = NULL, **sent = calloc((size_t)o.k + 1, sizeof *sent);
      int ns = 0, twins = 0, distinct = 0;
      if (!sent) {
        rc = nomem(ctx);
        break;
      }
      for (int q = 0; q <= o.k; q++)
        if (cur->jobs[q].real) real = cur->jobs[q].item;
        else sent[ns++] = cur->jobs[q].item;
      rc = real ? pn_obf_distinct_structures(ctx, real, sent, ns, &twins, &distinct, NULL) : PN_OK;
      free(sent);
      if (rc) break;
      stats->twins += twins - rep.copies; /* copies have its structure by construction */
      stats->distinct += distinct;
    }
    make_files(bundle_dir, o.opset, cur, o.k + 1);
    for (int q = 0; q <= o.k; q++) {
      struct file_job *jb = &cur->jobs[q];
      if (!rc && jb->rc) {
        rc = jb->rc;
        pn_err(ctx, jb->rc, "%s", jb->ctx.msg);
      }
      if (!rc) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "file", jb->fname);
        cJSON_AddBoolToObject(f, "real", jb->real);
        cJSON_AddNumberToObject(f, "part", k);
        if (jb->real) {
          cJSON_AddNumberToObject(f, "nodes", p.size[k]);
          cJSON_AddNumberToObject(f, "sentinel_copies", rep.copies);
          cJSON_AddItemToObject(f, "inputs", names_json(&jb->io, 0, jb->an->n_inputs));
          cJSON_AddItemToObject(f, "outputs", names_json(&jb->io, jb->an->n_inputs, jb->io.n));
          cJSON_AddItemToObject(f, "weights", names_json(&jb->w, 0, jb->w.n));
        }
        cJSON_AddItemToArray(files, f);
        if (stats) stats->bundle_bytes += jb->bytes;
      }
      pn_graph_free(jb->an);
      pn_wipe(jb, sizeof *jb);
    }
    for (int i = 0; i <= o.k; i++) {
      pn_graph_free(cur->items[i]);
      cur->items[i] = NULL;
      pn_obf_wspec_free(&cur->specs[i]);
    }
    producer_set(&pr, k + 1, false); /* this slot may take part k + RUN_AHEAD */
    if (!rc) split_step(&o, k + 1, p.n_parts, NULL);
  }
  if (running) {
    producer_set(&pr, 0, true);
    pthread_join(producer, NULL);
    pthread_cond_destroy(&pr.cv);
    pthread_mutex_destroy(&pr.mu);
  }
  for (int s = 0; s < RUN_AHEAD; s++) {
    if (slot[s].items)
      for (int i = 0; i <= o.k; i++) pn_graph_free(slot[s].items[i]);
    if (slot[s].specs)
      for (int i = 0; i <= o.k; i++) pn_obf_wspec_free(&slot[s].specs[i]);
    free(slot[s].specs);
    if (slot[s].jobs) {
      for (int q = 0; q <= o.k; q++) pn_graph_free(slot[s].jobs[q].an);
      pn_wipe(slot[s].jobs, ((size_t)o.k + 1) * sizeof *slot[s].jobs); /* the files' seeds */
    }
    free(slot[s].items);
    free(slot[s].perm);
    free(slot[s].jobs);
  }
  /* one modification time for every file, so write order does not tell real from sentinel; then
  ** the whole bundle is made durable at once (files were written without fsync, writeback started
  ** behind them), and only then the secret naming it is written */
  if (!rc) {
    split_step(&o, p.n_parts, p.n_parts, "syncing to disk");
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[1] = ts[0];
    rc = sync_files(ctx, bundle_dir, files, ts);
    if (!rc) rc = pn_fsync_path(ctx, bundle_dir);
  }
  if (!rc) rc = pn_json_write(ctx, secret_path, root, 0600);
  if (!rc && stats) {
    stats->n_nodes = g->n_nodes;
    stats->n_parts = p.n_parts;
    stats->n_files = p.n_parts * (o.k + 1);
    stats->spread = p.spread;
    stats->seconds = pn_now() - t0;
  }
out:
  if (rc && dir_used) remove_bundle(bundle_dir, dir_made);
  pn_obf_ngram_free(gen);
  cJSON_Delete(root);
  pn_obf_partition_free(&p);
  pn_graph_free(g);
  return rc;
}

/* ---- join ---- */

static const char *jstr(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* names array [{anon, name}] into m (strings borrowed from the JSON tree). */
static int read_names(struct pn_ctx *ctx, const char *secret, const cJSON *arr, const char *what,
                      struct pn_obf_names *m, int base) {
  if (!cJSON_IsArray(arr))
    return pn_err(ctx, PN_ERR_CORRUPT, "%s: files[].%s must be an array", secret, what);
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    const char *a = jstr(e, "anon"), *n = jstr(e, "name");
    if (!a || !n)
      return pn_err(ctx, PN_ERR_CORRUPT, "%s: files[].%s[%d] needs string fields anon and name",
                    secret, what, m->n - base);
    m->from[m->n] = a;
    m->to[m->n++] = n;
  }
  return PN_OK;
}

void pn_obf_secret_free(struct pn_obf_secret *s) {
  if (!s) return;
  for (int i = 0; s->parts && i < s->n_parts; i++) {
    free(s->parts[i].io.from);
    free(s->parts[i].io.to);
    free(s->parts[i].weights.from);
    free(s->parts[i].weights.to);
  }
  free(s->parts);
  cJSON_Delete(s->json);
  memset(s, 0, sizeof *s);
}

int pn_obf_secret_from_json(struct pn_ctx *ctx, const char *name, struct cJSON *root,
                            struct pn_obf_secret *out) {
  memset(out, 0, sizeof *out);
  out->json = root;
  int rc = PN_OK;
  const char *fmt = jstr(root, "format");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
  const cJSON *jm = cJSON_GetObjectItemCaseSensitive(root, "model");
  const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
  if (!fmt || strcmp(fmt, SECRET_FORMAT) || !cJSON_IsNumber(ver)) {
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: not a privnn Proteus secret (format/version)", name);
    goto out;
  }
  if (ver->valueint != SECRET_VERSION) {
    rc = pn_err(ctx, PN_ERR_UNSUPPORTED, "%s: secret version %d, this privnn reads %d", name,
                ver->valueint, SECRET_VERSION);
    goto out;
  }
  out->model_path = jstr(jm, "path");
  out->model_sha256 = jstr(jm, "sha256");
  if (!out->model_path || !out->model_sha256 || !cJSON_IsArray(files)) {
    rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: model.path, model.sha256 and files are required", name);
    goto out;
  }
  int n_files = cJSON_GetArraySize(files);
  if (!(out->parts = calloc((size_t)n_files + 1, sizeof *out->parts))) {
    rc = nomem(ctx);
    goto out;
  }
  const cJSON *f;
  int idx = 0;
  cJSON_ArrayForEach(f, files) {
    const char *fname = jstr(f, "file");
    const cJSON *real = cJSON_GetObjectItemCaseSensitive(f, "real");
    const cJSON *part = cJSON_GetObjectItemCaseSensitive(f, "part");
    if (!fname || !cJSON_IsBool(real) || strchr(fname, '/') || !strcmp(fname, "..")) {
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: files[%d] needs a plain file name and a boolean real",
                  name, idx);
      goto out;
    }
    idx++;
    if (!cJSON_IsTrue(real)) continue;
    if (!cJSON_IsNumber(part) || part->valueint != out->n_parts) {
      rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: files[%d].part must number real parts in order",
                  name, idx - 1);
      goto out;
    }
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(f, "inputs");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(f, "outputs");
    const cJSON *jw = cJSON_GetObjectItemCaseSensitive(f, "weights");
    struct pn_obf_join_part *p = &out->parts[out->n_parts++];
    p->label = fname;
    int nio = cJSON_GetArraySize(ji) + cJSON_GetArraySize(jo), nw = cJSON_GetArraySize(jw);
    p->io.from = calloc((size_t)nio + 1, sizeof(char *));
    p->io.to = calloc((size_t)nio + 1, sizeof(char *));
    p->weights.from = calloc((size_t)nw + 1, sizeof(char *));
    p->weights.to = calloc((size_t)nw + 1, sizeof(char *));
    if (!p->io.from || !p->io.to || !p->weights.from || !p->weights.to) {
      rc = nomem(ctx);
      goto out;
    }
    if ((rc = read_names(ctx, name, ji, "inputs", &p->io, 0))) goto out;
    p->n_in = p->io.n;
    if ((rc = read_names(ctx, name, jo, "outputs", &p->io, p->n_in)) ||
        (rc = read_names(ctx, name, jw, "weights", &p->weights, 0)))
      goto out;
  }
  if (out->n_parts == 0) rc = pn_err(ctx, PN_ERR_CORRUPT, "%s: the secret lists no real part", name);
out:
  if (rc) pn_obf_secret_free(out);
  return rc;
}

int pn_obf_secret_load(struct pn_ctx *ctx, const char *path, struct pn_obf_secret *out) {
  cJSON *root = NULL;
  memset(out, 0, sizeof *out);
  int rc = pn_json_read(ctx, path, 64u << 20, &root);
  return rc ? rc : pn_obf_secret_from_json(ctx, path, root, out);
}

static void join_step(const struct pn_obf_join_opts *o, int64_t done, int64_t total, const char *step) {
  if (o->progress) o->progress(o->progress_user, done, total, step);
}

static int count_contrib(const struct pn_graph *g) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i]->domain && !strcmp(g->nodes[i]->domain, "com.microsoft");
  return n;
}

/* Where join's memory goes (the model's weights W; measured in docs/proteus.md): the model is loaded
** once (W); its prepared copy and the reassembled model share its weights (pn_graph_clone_shared,
** pn_obf_join_parts); the real parts, whose decoy weights are as large, are loaded a few at a time and
** freed once merged; the check's copy of the reassembled model shares its weights too, and the check
** builds one executor at a time (pn_obf_compare); saving streams the weights to the file. */
int pn_obf_join(struct pn_ctx *ctx, const char *secret_path, const char *bundle_dir,
                const char *out_path, const struct pn_obf_join_opts *opts, struct pn_prg *prg,
                struct pn_obf_join_stats *stats) {
  double t0 = pn_now();
  struct pn_obf_join_opts o = opts ? *opts : (struct pn_obf_join_opts){0};
  double tol = o.tol > 0 ? o.tol : PN_OBF_DEFAULT_JOIN_TOL;
  const char *model_path = o.model_path;
  if (stats) memset(stats, 0, sizeof *stats);
  struct pn_obf_secret sec;
  struct pn_graph *orig = NULL, *prep = NULL, *joined = NULL, *check = NULL;
  struct pn_obf_join_part *jp = NULL;
  char **paths = NULL;         /* of the real files, in part order */
  struct pn_ctx *lctx = NULL;
  int *lrc = NULL;
  struct pn_mapped_file *lmap = NULL; /* the files of the parts being merged (load_part) */
  int batch = 0;                      /* parts loaded at once */
  int rc = pn_obf_secret_load(ctx, secret_path, &sec);
  if (rc) return rc;
  int n_real = sec.n_parts;
  jp = sec.parts;
  const char *mpath = model_path ? model_path : sec.model_path;
  char sha[65];
  if ((rc = load_model(ctx, mpath, &orig, sha))) goto out;
  if (strcmp(sha, sec.model_sha256)) {
    rc = pn_err(ctx, PN_ERR_MISMATCH, "%s: SHA-256 %s differs from the secret's %s (another model?)",
                mpath, sha, sec.model_sha256);
    goto out;
  }
  if ((rc = pn_graph_validate(ctx, orig))) {
    pn_err_prefix(ctx, "%s", mpath);
    goto out;
  }
  /* prepare's passes replace initializers, never write one in place: the copy shares orig's */
  if (!(prep = pn_graph_clone_shared(orig))) {
    rc = nomem(ctx);
    goto out;
  }
  if ((rc = pn_obf_prepare(ctx, prep))) goto out;
  if (!(paths = calloc((size_t)n_real + 1, sizeof *paths))) {
    rc = nomem(ctx);
    goto out;
  }
  for (int i = 0; i < n_real; i++) {
    const char *fname = jp[i].label;
    char *path = join_path(bundle_dir, fname);
    if (!path) {
      rc = nomem(ctx);
      goto out;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
      rc = pn_err(ctx, PN_ERR_MISMATCH,
                  "%s: real part '%s' listed in the secret is missing (incomplete bundle, or a secret "
                  "from another split)", bundle_dir, fname);
      free(path);
      goto out;
    }
    paths[i] = path;
  }
  if ((rc = pn_obf_join_begin(ctx, prep, &joined))) goto out;
  /* the real parts load independently, in parallel, each with its own context, a batch of one per
  ** thread at a time; each is merged in order and freed, and its file unmapped */
  int loaded = 0;
  batch = omp_get_max_threads();
  if (batch < 1) batch = 1;
  join_step(&o, 0, n_real, NULL);
  lctx = calloc((size_t)batch, sizeof *lctx);
  lrc = calloc((size_t)batch, sizeof *lrc);
  lmap = calloc((size_t)batch, sizeof *lmap);
  if (!lctx || !lrc || !lmap) {
    rc = nomem(ctx);
    goto out;
  }
  for (int b0 = 0; b0 < n_real && !rc; b0 += batch) {
    int nb = n_real - b0 < batch ? n_real - b0 : batch;
#pragma omp parallel for schedule(dynamic, 1)
    for (int q = 0; q < nb; q++) {
      struct pn_graph *pg = NULL;
      lrc[q] = load_part(&lctx[q], paths[b0 + q], &lmap[q], &pg);
      jp[b0 + q].g = pg;
#pragma omp critical
      join_step(&o, ++loaded, n_real, NULL);
    }
    for (int q = 0; q < nb && !rc; q++)
      if (lrc[q]) rc = pn_err(ctx, lrc[q], "%s", lctx[q].msg);
    for (int q = 0; q < nb && !rc; q++) rc = pn_obf_join_add(ctx, joined, prep, &jp[b0 + q], b0 + q);
    for (int q = 0; q < nb; q++) {
      pn_graph_free((struct pn_graph *)jp[b0 + q].g);
      jp[b0 + q].g = NULL;
      pn_unmap_file(&lmap[q]);
    }
  }
  if (rc) goto out;
  join_step(&o, n_real, n_real, "reassembling");
  if ((rc = pn_obf_join_end(ctx, joined))) goto out;
  /* the saved model keeps the optimizer's contrib ops unless asked to lower them; the check
  ** runs a standard-op copy (sharing the weights), which is the saved model when lowered */
  int contrib = count_contrib(joined);
  if (!(check = pn_graph_clone_shared(joined))) {
    rc = nomem(ctx);
    goto out;
  }
  if ((rc = pn_obf_lower_contrib(ctx, check, NULL))) {
    pn_err_prefix(ctx, "join: cannot verify the reassembled model");
    goto out;
  }
  if ((rc = pn_graph_validate(ctx, check))) {
    pn_err_prefix(ctx, "join: the reassembled model is invalid");
    goto out;
  }
  double err = 0, ref = 0;
  join_step(&o, n_real, n_real, "verifying on random inputs");
  if ((rc = pn_obf_compare(ctx, orig, check, prg, 1, &err, &ref))) {
    pn_err_prefix(ctx, "join: verification");
    goto out;
  }
  if (!(err <= tol * (ref > 1 ? ref : 1))) {
    rc = pn_err(ctx, PN_ERR_MISMATCH,
                "join: the reassembled model differs from %s on random inputs (max abs error %.3g > "
                "%.3g x %.3g): a part was altered", mpath, err, tol, ref > 1 ? ref : 1);
    goto out;
  }
  join_step(&o, n_real, n_real, "saving");
  if ((rc = pn_onnx_save_file(ctx, o.lower ? check : joined, out_path))) goto out;
  if (stats) {
    stats->contrib_nodes = contrib;
    stats->lowered = o.lower && contrib > 0;
    stats->n_parts = n_real;
    stats->max_abs_err = err;
    stats->max_abs_ref = ref;
    stats->seconds = pn_now() - t0;
  }
out:
  free(lctx);
  free(lrc);
  for (int i = 0; i < n_real; i++) {
    pn_graph_free((struct pn_graph *)jp[i].g);
    jp[i].g = NULL;
  }
  if (lmap)
    for (int q = 0; q < batch; q++) pn_unmap_file(&lmap[q]);
  free(lmap);
  if (paths)
    for (int i = 0; i < n_real; i++) free(paths[i]);
  free(paths);
  /* check and joined share prep's weights, prep shares orig's: freed in that order */
  pn_graph_free(check);
  pn_graph_free(joined);
  pn_graph_free(prep);
  pn_graph_free(orig);
  pn_obf_secret_free(&sec);
  return rc;
}
