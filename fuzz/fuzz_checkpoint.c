/* fuzz_checkpoint.c - libFuzzer target for training checkpoints (nn/train.h): pn_ckpt_load into a
** small model (Conv, Gemm, Adam state) that a valid checkpoint was saved from once.
**
** Input byte 0: bit 0 clear, the rest is the whole file; bit 0 set, the rest edits the valid
** checkpoint and its trailing CRC-32 is recomputed, so that mutations reach the header, history,
** tensor records and optimiser state behind the checksum. */
#include "fuzz_common.h"
#include "nn/autograd.h"
#include "nn/optim.h"
#include "nn/train.h"

static struct pn_graph *G;
static struct pn_ag *AG;
static struct pn_optim *OPT;
static struct pn_train_cfg CFG;
static struct pn_train_result RES;
static uint8_t *base;
static size_t base_n;

static void param(struct pn_graph *g, const char *name, int nd, const int64_t *d) {
  struct pn_tensor *t = pn_graph_new_init(g, name, PN_DT_FLOAT, nd, d);
  if (!t) abort();
  for (int64_t i = 0; i < pn_tensor_numel(t); i++) ((float *)t->data)[i] = (float)(i % 7) * 0.1f;
}

static void setup(void) {
  if (G) return;
  struct pn_ctx ctx = {0};
  G = pn_graph_new();
  int64_t xd[4] = {-1, 1, 4, 4}, wd[4] = {2, 1, 3, 3}, bd[1] = {2}, fd[2] = {3, 8}, cd[1] = {3};
  if (!G || !pn_graph_add_input(G, "x", PN_DT_FLOAT, 4, xd)) abort();
  param(G, "w", 4, wd);
  param(G, "b", 1, bd);
  param(G, "fw", 2, fd);
  param(G, "fb", 1, cd);
  const char *ci[3] = {"x", "w", "b"}, *c = "c", *r = "r", *f = "f", *gi[3] = {"f", "fw", "fb"}, *y = "y";
  if (!pn_graph_add_node(G, "Conv", "conv", 3, ci, 1, &c) || !pn_graph_add_node(G, "Relu", "relu", 1, &c, 1, &r) ||
      !pn_graph_add_node(G, "Flatten", "flat", 1, &r, 1, &f))
    abort();
  struct pn_node *gm = pn_graph_add_node(G, "Gemm", "fc", 3, gi, 1, &y);
  if (!gm || pn_node_set_int(G, gm, "transB", 1) || !pn_graph_add_output(G, "y", PN_DT_FLOAT, -1, NULL)) abort();
  struct pn_ag_opts ao = {.max_batch = 1};
  CFG.arch = "fuzz";
  CFG.opt = pn_optim_defaults(PN_OPT_ADAM);
  if (pn_ag_new(&ctx, G, &ao, &AG) || pn_optim_new(&ctx, &CFG.opt, AG, &OPT)) abort();
  RES.epochs_done = 2;
  RES.hist[0].epoch = 1;
  RES.hist[1].epoch = 2;
  char path[64];
  snprintf(path, sizeof path, "/tmp/pn-fuzz-ckpt-%d", (int)getpid());
  if (pn_ckpt_save(&ctx, path, &CFG, G, AG, OPT, &RES)) abort();
  FILE *fp = fopen(path, "rb");
  if (!fp) abort();
  base = malloc(1 << 20);
  base_n = fread(base, 1, 1 << 20, fp);
  fclose(fp);
  unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  if (size < 1) return 0;
  uint8_t *own;
  size_t n;
  const uint8_t *file = fz_file(data, size, base, base_n, fz_fix_crc32, &own, &n);
  struct pn_ctx ctx = {0};
  struct pn_train_result res;
  int rc = pn_ckpt_load(&ctx, fz_write(file, n), &CFG, G, AG, OPT, &res);
  fz_check(&ctx, rc);
  if (rc == PN_OK && (res.epochs_done < 0 || res.epochs_done > 1024)) abort();
  free(own);
  return 0;
}
