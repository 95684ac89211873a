/* cmd_mpc_party.c - `privnn mpc share | party | reveal | psk`: one party per host, with share files.
**
** The client runs `mpc share`: P0's file holds x + r for every batch, P1's only the 32-byte seed of
** r (its share is -r), so neither file alone says anything about x; both carry one random share id.
** Each server runs `mpc party` with its share file and its dealer file (`mpc dealer`), talks to the
** other over TCP + TLS 1.3 (after a hello in which both check they run the same job), and writes
** its share of the logits, stamped with the run id; the client runs `mpc reveal` on the two output
** files. The share file format lives in src/mpc/share.c. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"
#include "mpc_cli.h"
#include "graph/onnx.h"
#include "mpc/dealer.h"
#include "mpc/mpc.h"
#include "mpc/net.h"
#include "mpc/runner.h"
#include "mpc/session.h"
#include "mpc/share.h"
#include "util/util.h"

int pn_mpc_cli_share(int argc, char **argv) {
  const char *cmd = "mpc share";
  struct opts o = {.data = "fashion-mnist", .split = PN_SPLIT_TEST, .count = 100, .batch = 10,
                   .tls = 1};
  static const struct pn_mpc_cli_spec sp = {
    "mpc share", "MODEL.onnx (--data D --count N | --input FILE...) --batch B -o PREFIX",
    "The client: secret-share N input images for the two parties, in batches of B (the batch\n"
    "size the dealer material is made for): PREFIX.p0.share and PREFIX.p1.share, and\n"
    "PREFIX.labels.json for `mpc reveal --labels`. Your own inputs: --input (images are\n"
    "normalised with the model's privnn.normalize; labels unknown, -1).",
    "privnn mpc share models/cnn-s.onnx --data fashion-mnist --count 20 --batch 10 -o client",
    "--data --input --resize --split --count --batch --seed -o", "PREFIX",
    "write PREFIX.p0.share, PREFIX.p1.share, PREFIX.labels.json"};
  int prc = pn_mpc_cli_parse(argc, argv, &sp, &o);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (!o.out) return pn_cli_usage(cmd, "no output prefix given (-o PREFIX)");
  struct pn_ctx ctx = {0};
  struct source src;
  struct pn_mpc_share_file f0 = {0}, f1 = {0};
  float *x = NULL;
  int32_t *y = NULL;
  int rc = pn_mpc_cli_load(&ctx, &o, &src);
  int64_t nb = (o.count + o.batch - 1) / o.batch, per = o.batch * (rc ? 0 : src.per_image);
  char p0[4096], p1[4096], pl[4096];
  snprintf(p0, sizeof p0, "%s.p0.share", o.out);
  snprintf(p1, sizeof p1, "%s.p1.share", o.out);
  snprintf(pl, sizeof pl, "%s.labels.json", o.out);
  cJSON *labels = cJSON_CreateArray();
  if (rc) goto out;
  f0 = (struct pn_mpc_share_file){.party = 0, .batch = (uint32_t)o.batch,
                                  .frac = PN_MPC_FRAC_DEFAULT, .batches = (uint64_t)nb,
                                  .words = (uint64_t)per, .kind = PN_SHARE_INPUT};
  if ((rc = pn_getrandom(&ctx, f0.share_id, sizeof f0.share_id))) goto out;
  f1 = f0;
  f1.party = 1;
  f1.kind = PN_SHARE_INPUT_SEED;
  pn_seed_derive(src.seed, "client", 0, f1.seed);
  f0.data = malloc((size_t)(nb * per) * 8);
  x = malloc(sizeof(float) * (size_t)per);
  y = malloc(sizeof(int32_t) * (size_t)o.batch);
  if (!f0.data || !x || !y) {
    rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (int64_t b = 0; b < nb && rc == PN_OK; b++) {
    uint64_t *w = f0.data + b * per;
    pn_mpc_cli_images(&src, b * o.batch, o.batch, x, y);
    rc = pn_mpc_share_client_r(f1.seed, (uint64_t)b, w, per);
    for (int64_t i = 0; i < per; i++) w[i] += pn_fx_encode(x[i], PN_MPC_FRAC_DEFAULT);
    for (int64_t i = 0; i < o.batch && b * o.batch + i < o.count; i++)
      cJSON_AddItemToArray(labels, cJSON_CreateNumber(y[i]));
  }
  char sid[2 * PN_MPC_ID_BYTES + 1];
  pn_mpc_id_hex(f0.share_id, sid);
  if (rc == PN_OK) rc = pn_mpc_share_write(&ctx, p0, &f0);
  if (rc == PN_OK) rc = pn_mpc_share_write(&ctx, p1, &f1);
  if (rc == PN_OK) {
    /* the true labels are the client's secret too: 0600 like the shares */
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "images", (double)o.count);
    cJSON_AddStringToObject(r, "share_id", sid);
    cJSON_AddItemToObject(r, "labels", labels);
    labels = NULL;
    rc = pn_json_write(&ctx, pl, r, 0600);
    cJSON_Delete(r);
  }
  if (rc == PN_OK)
    printf("%s (x + r, %.2f MB), %s (the 32-byte seed of r), %s: %lld images in %lld batches of "
           "%lld; share id %s\n", p0, (double)(nb * per * 8) / 1e6, p1, pl, (long long)o.count,
           (long long)nb, (long long)o.batch, sid);
out:
  cJSON_Delete(labels);
  if (x) pn_wipe_free(x, sizeof(float) * (size_t)per);
  free(y);
  pn_mpc_share_free(&f0);
  pn_mpc_share_free(&f1);
  pn_mpc_cli_free(&src);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

/* The model owner: split the weights. PREFIX.onnx is the optimised model with its float weights
** zeroed (what the servers load), PREFIX.p0.weights P0's shares, PREFIX.p1.weights P1's seed. */
int pn_mpc_cli_weights(int argc, char **argv) {
  const char *cmd = "mpc weights";
  struct opts o = {.data = "random", .batch = 1, .tls = 1, .secret = 1};
  static const struct pn_mpc_cli_spec sp = {
    "mpc weights", "MODEL.onnx -o PREFIX",
    "The model owner: secret-share the weights. PREFIX.onnx is the model with its weights zeroed\n"
    "(what both parties load), PREFIX.p0.weights P0's shares W - R, PREFIX.p1.weights P1's seed\n"
    "of R. The dealer must then use --weights secret.",
    "privnn mpc weights models/cnn-s.onnx -o owner", "-o", "PREFIX",
    "write PREFIX.onnx, PREFIX.p0.weights, PREFIX.p1.weights"};
  int prc = pn_mpc_cli_parse(argc, argv, &sp, &o);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (!o.out) return pn_cli_usage(cmd, "no output prefix given (-o PREFIX)");
  struct pn_ctx ctx = {0};
  struct pn_graph *g = NULL, *gz = NULL;
  struct pn_mpc_model *mm = NULL;
  struct pn_mpc_dealer *d = NULL;
  struct pn_mpc_wtable wt = {.recording = 1};
  struct pn_mpc m;
  memset(&m, 0, sizeof m);
  uint8_t master[32], model[32];
  char pm[4096], p0[4096], p1[4096];
  snprintf(pm, sizeof pm, "%s.onnx", o.out);
  snprintf(p0, sizeof p0, "%s.p0.weights", o.out);
  snprintf(p1, sizeof p1, "%s.p1.weights", o.out);
  struct pn_mpc_model_opts mo = {.batch = (int)o.batch, .secret_weights = 1, .wtab = &wt};
  int rc;
  if ((rc = pn_onnx_load_file(&ctx, o.model, &g)) || (rc = pn_getrandom(&ctx, mo.owner_seed, 32)) ||
      (rc = pn_getrandom(&ctx, master, 32)) || (rc = pn_mpc_model_new(&ctx, g, &mo, &mm)) ||
      (rc = pn_dealer_new_embedded(&ctx, master, &d)))
    goto out;
  /* a dry run on zeros visits every constant the runner shares */
  pn_mpc_init_sim(&m, &ctx, d, PN_MPC_FRAC_DEFAULT);
  pn_sh x = {0}, y = {0};
  if ((rc = pn_sh_alloc(&m, pn_mpc_model_in_numel(mm), x))) goto out;
  rc = pn_mpc_model_run(mm, &m, x, y);
  pn_sh_free(&m, pn_mpc_model_in_numel(mm), x);
  if (rc == PN_OK) pn_sh_free(&m, pn_mpc_model_out_numel(mm), y);
  if (rc) goto out;
  if (!(gz = pn_graph_clone(pn_mpc_model_graph(mm)))) {
    rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (int i = 0; i < gz->n_inits; i++)
    if (gz->inits[i]->dtype == PN_DT_FLOAT || gz->inits[i]->dtype == PN_DT_DOUBLE)
      memset(gz->inits[i]->data, 0, pn_tensor_nbytes(gz->inits[i]));
  if ((rc = pn_onnx_save_file(&ctx, gz, pm)) || (rc = pn_mpc_cli_sha256(&ctx, pm, model)) ||
      (rc = pn_mpc_wfile_write(&ctx, p0, 0, &wt, model, mo.owner_seed, PN_MPC_FRAC_DEFAULT)) ||
      (rc = pn_mpc_wfile_write(&ctx, p1, 1, &wt, model, mo.owner_seed, PN_MPC_FRAC_DEFAULT)))
    goto out;
  printf("%s (weights zeroed, for the servers and the dealer), %s (P0's shares of %d weight "
         "tensors), %s (P1's 32-byte seed)\n", pm, p0, wt.n, p1);
out:
  pn_mpc_release(&m);
  pn_wipe(master, sizeof master);
  pn_wipe(mo.owner_seed, sizeof mo.owner_seed);
  pn_mpc_wtable_free(&wt);
  pn_dealer_free(d);
  pn_mpc_model_free(mm);
  pn_graph_free(gz);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

static void log_stderr(void *user, const char *msg) {
  fprintf(stderr, "%s: %s\n", (const char *)user, msg);
}

/* accept check of the listening party: the peer's hello */
static int hello_check(struct pn_ctx *ctx, struct pn_mpc_net *net, void *user) {
  return pn_mpc_hello_exchange(ctx, net, user);
}

static const char *sec_name(const struct pn_net_opts *o, const char *psk_file) {
  static char b[512];
  if (o->sec == PN_NET_PLAIN) snprintf(b, sizeof b, "plain TCP%s", o->psk ? ", HMAC'ed frames" : "");
  else if (o->sec == PN_NET_TLS_PSK) snprintf(b, sizeof b, "TLS 1.3, key %s", psk_file);
  else if (o->peer_name) snprintf(b, sizeof b, "TLS 1.3, certificate of '%s'", o->peer_name);
  else snprintf(b, sizeof b, "TLS 1.3, certificate sha256 %.16s...", o->peer_fingerprint);
  return b;
}

int pn_mpc_cli_party(int argc, char **argv) {
  const char *cmd = "mpc party";
  const char *model = NULL, *input = NULL, *dealer = NULL, *out = NULL,
             *plan_path = NULL, *psk_file = NULL, *cert = NULL, *key = NULL, *ca = NULL,
             *net_s = "none", *json = NULL, *dealer_hp = NULL, *wfile = NULL, *peer_name = NULL,
             *peer_fp = NULL, *dpsk_file = NULL;
  const char *listen_hp = NULL, *connect_hp = NULL;
  int64_t id = -1, timeout = 30000, wait_s = 600;
  bool tls = true, no_table = false;
  const struct pn_cli_opt opts[] = {
    {"--id", NULL, PN_CLI_INT, &id, "0|1", "this party's role (required)", 0, 1, NULL, ""},
    {"--listen", NULL, PN_CLI_STR, &listen_hp, "HOST:PORT", "wait for the peer here (port 0: any free port)"},
    {"--connect", NULL, PN_CLI_STR, &connect_hp, "HOST:PORT", "connect to the listening peer"},
    {"--input", NULL, PN_CLI_STR, &input, "SHARE", "this party's input share (mpc share; required)"},
    {"--dealer", NULL, PN_CLI_STR, &dealer, "FILE", "this party's dealer file (mpc dealer -o)"},
    {"--dealer-connect", NULL, PN_CLI_STR, &dealer_hp, "HOST:PORT", "the online dealer (mpc dealer --serve)"},
    {"--output", "-o", PN_CLI_STR, &out, "OUT", "this party's output share, for mpc reveal (required)"},
    {"--weights", NULL, PN_CLI_STR, &wfile, "FILE",
     "secret weights: PREFIX.p0.weights or PREFIX.p1.weights (mpc weights; MODEL = PREFIX.onnx)", 0, 0,
     NULL, "public: the weights in MODEL"},
    {"--plan", NULL, PN_CLI_STR, &plan_path, "FILE", "the HummingBird plan the dealer material was made for",
     0, 0, NULL, "full-bit"},
    {"--psk-file", NULL, PN_CLI_STR, &psk_file, "FILE", "party link: TLS 1.3 with this pre-shared key (mpc psk)"},
    {"--cert", NULL, PN_CLI_STR, &cert, "PEM", "party link: TLS 1.3 with mutual certificates: this party's"},
    {"--key", NULL, PN_CLI_STR, &key, "PEM", "its private key"},
    {"--ca", NULL, PN_CLI_STR, &ca, "PEM", "the CA that signed the peer's certificate"},
    {"--peer-name", NULL, PN_CLI_STR, &peer_name, "NAME", "the peer certificate's DNS name (SAN or CN)"},
    {"--peer-fingerprint", NULL, PN_CLI_STR, &peer_fp, "HEX",
     "the peer certificate's SHA-256 (with --cert, this or --peer-name is required)"},
    {"--dealer-psk-file", NULL, PN_CLI_STR, &dpsk_file, "FILE",
     "dealer link key (--dealer-connect); must differ from the party link's"},
    {"--no-tls", NULL, PN_CLI_FLAG_OFF, &tls, NULL, "plain TCP (frames HMAC'ed if --psk-file is given)"},
    {"--no-table", NULL, PN_CLI_FLAG, &no_table, NULL, "carry tree for HummingBird widths 3..8 (the dealer must agree)"},
    {"--net", NULL, PN_CLI_STR, &net_s, "NET", "link emulator: none, lan, wan or BW,RTT (Mbit/s, ms)"},
    {"--timeout", NULL, PN_CLI_INT, &timeout, "MS", "per-operation timeout", 1, 3600000},
    {"--wait", NULL, PN_CLI_INT, &wait_s, "S", "how long to wait for the peer to listen or connect", 1, 86400},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "bytes, rounds and time per layer"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "--id 0|1 (--listen|--connect) HOST:PORT MODEL.onnx --input SHARE\n"
         "                        (--dealer FILE | --dealer-connect HOST:PORT) -o OUT",
    "Run one party of a two-party inference with its input share (from `mpc share`) and its\n"
    "dealer material (from `mpc dealer`, made for the same model, plan and batch size), and write\n"
    "its share of the outputs for `mpc reveal`. Weights are public (each party loads the model)\n"
    "unless --weights gives this party's weight shares. A dealer file is single-use: it is\n"
    "marked used when the run starts. See docs/mpc.md for the two-host recipe.",
    "privnn mpc party --id 0 --listen 0.0.0.0:7000 m.onnx --psk-file link.key --input c.p0.share "
    "--dealer d.p0.dealer -o out.p0",
    opts, "model", &model, 0, 1};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (listen_hp && connect_hp) return pn_cli_usage(cmd, "give --listen or --connect, not both");
  const char *hostport = listen_hp ? listen_hp : connect_hp;
  int listen = listen_hp != NULL;
  if (id < 0 || !hostport || !model || !input || !(dealer || dealer_hp) || !out)
    return pn_cli_usage(cmd, "--id, --listen/--connect, MODEL, --input, --dealer (or "
                        "--dealer-connect) and -o are required");
  if (dealer && dealer_hp) return pn_cli_usage(cmd, "give --dealer FILE or --dealer-connect, not both");
  int have_cert = cert || key || ca;
  if (tls && psk_file && have_cert)
    return pn_cli_usage(cmd, "the party link takes --psk-file or --cert/--key/--ca, not both "
                        "(for the dealer link use --dealer-psk-file)");
  if (tls && !psk_file && !(cert && key && ca))
    return pn_cli_usage(cmd, "give --psk-file, or --cert/--key/--ca, or --no-tls");
  if (tls && cert && !peer_name && !peer_fp)
    return pn_cli_usage(cmd, "with --cert, say whom to trust: --peer-name NAME (the peer "
                        "certificate's DNS name) or --peer-fingerprint SHA256");
  if (dealer_hp && tls && !dpsk_file)
    return pn_cli_usage(cmd, "--dealer-connect needs --dealer-psk-file (the dealer link's own key) "
                        "or --no-tls");
  struct pn_ctx ctx = {0};
  struct pn_net_opts no = {.timeout_ms = (int)timeout, .link = "party", .log = log_stderr};
  if (pn_net_parse_emu(&ctx, net_s, &no)) return pn_cli_usage(cmd, "%s", pn_errmsg(&ctx));
  char who[32];
  snprintf(who, sizeof who, "party %lld", (long long)id);
  no.log_user = who;
  struct pn_graph *g = NULL;
  struct pn_mpc_plan plan = {0};
  struct pn_mpc_share_file in = {0}, res = {0};
  struct pn_mpc_wtable wt = {0};
  struct pn_mpc_dealer *d = NULL;
  struct pn_mpc_net *net = NULL, *dnet = NULL;
  struct pn_mpc_model *mm = NULL;
  uint8_t *psk = NULL, *dpsk = NULL;
  size_t psk_len = 0, dpsk_len = 0;
  struct pn_mpc m;
  memset(&m, 0, sizeof m);
  int rc;
  struct pn_dealer_binding bind = {.frac = PN_MPC_FRAC_DEFAULT};
  if ((rc = pn_onnx_load_file(&ctx, model, &g)) || (rc = pn_mpc_cli_sha256(&ctx, model, bind.model)) ||
      (plan_path && (rc = pn_mpc_cli_plan_load(&ctx, plan_path, model, g, &plan))) ||
      (rc = pn_mpc_share_read(&ctx, input, &in)))
    goto out;
  if (in.party != (uint32_t)id || in.kind == PN_SHARE_OUTPUT) {
    rc = pn_err(&ctx, PN_ERR_MISMATCH, "%s: %s file of party %u, this is party %lld's input", input,
                in.kind == PN_SHARE_OUTPUT ? "an output share" : "the input share", in.party,
                (long long)id);
    goto out;
  }
  pn_mpc_plan_hash(plan_path ? &plan : NULL, bind.plan);
  bind.batch = in.batch;
  bind.batches = in.batches;
  struct pn_mpc_model_opts mo = {.batch = (int)in.batch, .plan = plan_path ? &plan : NULL};
  if (wfile) {
    if ((rc = pn_mpc_wfile_read(&ctx, wfile, (int)id, bind.model, &wt, mo.owner_seed))) goto out;
    mo.secret_weights = 1;
    if (id == 0) mo.wtab = &wt;
  }
  if ((rc = pn_mpc_model_new(&ctx, g, &mo, &mm))) goto out;
  if ((uint64_t)pn_mpc_model_in_numel(mm) != in.words) {
    rc = pn_err(&ctx, PN_ERR_MISMATCH, "%s: %llu input words per batch, the model takes %lld", input,
                (unsigned long long)in.words, (long long)pn_mpc_model_in_numel(mm));
    goto out;
  }
  if (psk_file) {
    if ((rc = pn_read_secret_file(&ctx, psk_file, 4096, &psk, &psk_len))) goto out;
    no.psk = psk;
    no.psk_len = psk_len;
  }
  if (dpsk_file && (rc = pn_read_secret_file(&ctx, dpsk_file, 4096, &dpsk, &dpsk_len))) goto out;
  if (psk && dpsk && psk_len == dpsk_len && !memcmp(psk, dpsk, psk_len)) {
    rc = pn_err(&ctx, PN_ERR_INSECURE, "%s and %s hold the same key: the dealer link needs a key of "
                "its own, or the dealer could sit between the parties", psk_file, dpsk_file);
    goto out;
  }
  no.sec = !tls ? PN_NET_PLAIN : psk_file ? PN_NET_TLS_PSK : PN_NET_TLS_CERT;
  no.cert = cert;
  no.key = key;
  no.ca = ca;
  no.peer_name = peer_name;
  no.peer_fingerprint = peer_fp;
  if (dealer_hp) {
    struct pn_net_opts dno = {.timeout_ms = (int)timeout, .link = "dealer",
                              .sec = tls ? PN_NET_TLS_PSK : PN_NET_PLAIN, .psk = dpsk,
                              .psk_len = dpsk_len};
    if ((rc = pn_mpc_net_connect(&ctx, dealer_hp, &dno, &dnet)) ||
        (rc = pn_dealer_connect(&ctx, dnet, (int)id, &bind, &d)))
      goto out;
  } else if ((rc = pn_dealer_open_file(&ctx, dealer, (int)id, &bind, &d))) {
    goto out;
  }
  pn_mpc_init_party(&m, &ctx, (int)id, NULL, d, PN_MPC_FRAC_DEFAULT);
  if (no_table) m.lut_max = 0;
  struct pn_mpc_hello hello = {.party = (uint32_t)id, .batch = in.batch, .frac = in.frac,
                               .lut_max = (uint32_t)m.lut_max, .emu = no.emu_bw > 0,
                               .batches = in.batches, .words = in.words};
  memcpy(hello.model, bind.model, 32);
  memcpy(hello.plan, bind.plan, 32);
  memcpy(hello.share_id, in.share_id, PN_MPC_ID_BYTES);
  pn_dealer_session(d, hello.dealer_id);
  if (listen) {
    char host[256];
    const char *c = strrchr(hostport, ':');
    int64_t port;
    if (!c || c == hostport || (size_t)(c - hostport) >= sizeof host ||
        pn_cli_i64(cmd, "--listen port", c + 1, 0, 65535, &port)) {
      rc = pn_err(&ctx, PN_ERR_INVALID, "--listen '%s': expected HOST:PORT", hostport);
      goto out;
    }
    memcpy(host, hostport, (size_t)(c - hostport));
    host[c - hostport] = 0;
    int lfd = -1, bound = 0;
    if ((rc = pn_mpc_net_bind(&ctx, host, (int)port, &lfd, &bound))) goto out;
    time_t until = time(NULL) + (time_t)wait_s;
    char ts[32];
    strftime(ts, sizeof ts, "%H:%M:%S", localtime(&until));
    fprintf(stderr, "party %lld: listening on %s:%d, waiting for party %lld (%s) until %s\n",
            (long long)id, host, bound, (long long)(1 - id), sec_name(&no, psk_file), ts);
    rc = pn_mpc_net_accept_peer(&ctx, lfd, &no, (int)(wait_s * 1000), hello_check, &hello, &net);
    close(lfd);
    if (rc) goto out;
  } else {
    /* the peer may start later: retry connecting as long as a listener would wait */
    struct pn_net_opts co = no;
    co.connect_wait_ms = (int)(wait_s * 1000);
    time_t until = time(NULL) + (time_t)wait_s;
    char ts[32];
    strftime(ts, sizeof ts, "%H:%M:%S", localtime(&until));
    fprintf(stderr, "party %lld: connecting to party %lld at %s (%s), retrying until %s\n",
            (long long)id, (long long)(1 - id), hostport, sec_name(&no, psk_file), ts);
    if ((rc = pn_mpc_net_connect(&ctx, hostport, &co, &net)) ||
        (rc = pn_mpc_hello_exchange(&ctx, net, &hello)))
      goto out;
  }
  fprintf(stderr, "party %lld: party %lld at %s runs the same job; starting\n", (long long)id,
          (long long)(1 - id), pn_mpc_net_peer(net));
  m.net = net;
  int64_t nout = pn_mpc_model_out_numel(mm);
  res = (struct pn_mpc_share_file){.party = (uint32_t)id, .batch = in.batch, .frac = in.frac,
                                   .batches = in.batches, .words = (uint64_t)nout,
                                   .kind = PN_SHARE_OUTPUT};
  memcpy(res.share_id, in.share_id, PN_MPC_ID_BYTES);
  pn_mpc_run_id(&hello, res.run_id);
  res.data = calloc((size_t)(in.batches * (uint64_t)nout), 8);
  pn_sh x = {0};
  if (!res.data) {
    rc = pn_err(&ctx, PN_ERR_NOMEM, "out of memory");
    goto out;
  }
  if ((rc = pn_sh_alloc(&m, (int64_t)in.words, x))) goto out;
  pn_mpc_net_vclock_reset(net);
  double t0 = pn_now();
  for (uint64_t b = 0; b < in.batches && rc == PN_OK; b++) {
    if (in.kind == PN_SHARE_INPUT_SEED) {
      rc = pn_mpc_share_client_r(in.seed, b, x[0], (int64_t)in.words);
      for (uint64_t i = 0; i < in.words; i++) x[0][i] = (uint64_t)0 - x[0][i];
    } else {
      memcpy(x[0], in.data + b * in.words, in.words * 8);
    }
    pn_sh y = {0};
    if (rc == PN_OK && (rc = pn_mpc_model_run(mm, &m, x, y)) == PN_OK) {
      memcpy(res.data + b * (uint64_t)nout, y[0], (size_t)nout * 8);
      pn_sh_free(&m, nout, y);
    }
  }
  pn_sh_free(&m, (int64_t)in.words, x);
  double secs = pn_now() - t0, vsecs = pn_mpc_net_vclock(net);
  if (rc == PN_OK) rc = pn_mpc_share_write(&ctx, out, &res);
  if (rc == PN_OK) {
    char rid[2 * PN_MPC_ID_BYTES + 1];
    pn_mpc_id_hex(res.run_id, rid);
    printf("party %lld: %llu batch(es) of %u, %.3f MB sent, %llu rounds, %.2f s; wrote %s "
           "(run %s)\n", (long long)id, (unsigned long long)in.batches, in.batch,
           (double)m.st.bytes / 1e6, (unsigned long long)m.st.rounds, secs, out, rid);
    if (no.emu_bw > 0)
      printf("party %lld: emulated link: compute + link delays on this party's critical path "
             "%.3f s\n", (long long)id, vsecs);
    if (json) {
      cJSON *r = cJSON_CreateObject(), *ls = cJSON_CreateArray();
      cJSON_AddNumberToObject(r, "party", (double)id);
      cJSON_AddStringToObject(r, "run_id", rid);
      cJSON_AddNumberToObject(r, "bytes_per_party", (double)m.st.bytes);
      cJSON_AddNumberToObject(r, "rounds", (double)m.st.rounds);
      cJSON_AddNumberToObject(r, "seconds", secs);
      if (no.emu_bw > 0) cJSON_AddNumberToObject(r, "modeled_seconds", vsecs);
      cJSON_AddNumberToObject(r, "bits_discarded", pn_mpc_model_bits_discarded(mm));
      for (int i = 0; i < pn_mpc_model_n_layers(mm); i++) {
        const struct pn_mpc_layer *l = pn_mpc_model_layer(mm, i);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", l->name);
        cJSON_AddStringToObject(e, "op", l->op);
        cJSON_AddNumberToObject(e, "bytes_per_party", (double)l->bytes);
        cJSON_AddNumberToObject(e, "rounds", (double)l->rounds);
        cJSON_AddNumberToObject(e, "seconds", l->seconds);
        cJSON_AddItemToArray(ls, e);
      }
      cJSON_AddItemToObject(r, "layers", ls);
      rc = pn_cli_report(&ctx, cmd, json, r);
      cJSON_Delete(r);
    }
  }
out:
  pn_mpc_release(&m);
  if (psk) pn_wipe_free(psk, psk_len);
  if (dpsk) pn_wipe_free(dpsk, dpsk_len);
  pn_mpc_net_free(net);
  pn_dealer_free(d); /* before its link: ends an online dealer session */
  pn_mpc_net_free(dnet);
  pn_mpc_model_free(mm);
  pn_mpc_share_free(&in);
  pn_mpc_share_free(&res);
  pn_mpc_wtable_free(&wt);
  pn_mpc_plan_free(&plan);
  pn_graph_free(g);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

int pn_mpc_cli_reveal(int argc, char **argv) {
  const char *cmd = "mpc reveal", *files[2] = {NULL, NULL}, *labels_path = NULL, *json = NULL;
  const struct pn_cli_opt opts[] = {
    {"--labels", NULL, PN_CLI_STR, &labels_path, "FILE", "PREFIX.labels.json from mpc share: also print accuracy"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "the classes (and accuracy) as JSON"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "OUT.p0 OUT.p1",
    "The client: add the parties' output shares of one run and print each image's class (and\n"
    "the accuracy against the labels `mpc share` wrote). Outputs of two different runs, or two\n"
    "outputs of one party, are refused.",
    "privnn mpc reveal out.p0 out.p1 --labels client.labels.json", opts, "output share", files, 2, 2};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  struct pn_ctx ctx = {0};
  struct pn_mpc_share_file f[2] = {{0}, {0}};
  cJSON *lj = NULL, *preds = NULL;
  const cJSON *larr = NULL;
  int rc = pn_mpc_share_read(&ctx, files[0], &f[0]);
  if (rc == PN_OK) rc = pn_mpc_share_read(&ctx, files[1], &f[1]);
  for (int i = 0; i < 2 && rc == PN_OK; i++)
    if (f[i].kind != PN_SHARE_OUTPUT)
      rc = pn_err(&ctx, PN_ERR_MISMATCH, "%s: an input share, not a party's output (from `mpc "
                  "party -o`)", files[i]);
  if (rc == PN_OK && f[0].party == f[1].party)
    rc = pn_err(&ctx, PN_ERR_MISMATCH, "%s, %s: both are party %u's output; give P0's and P1's",
                files[0], files[1], f[0].party);
  if (rc == PN_OK && memcmp(f[0].run_id, f[1].run_id, PN_MPC_ID_BYTES)) {
    char r0[2 * PN_MPC_ID_BYTES + 1], r1[2 * PN_MPC_ID_BYTES + 1];
    pn_mpc_id_hex(f[0].run_id, r0);
    pn_mpc_id_hex(f[1].run_id, r1);
    rc = pn_err(&ctx, PN_ERR_MISMATCH, "%s (run %s), %s (run %s): outputs of two different runs; "
                "their sum would be garbage", files[0], r0, files[1], r1);
  }
  if (rc == PN_OK && (f[0].words != f[1].words || f[0].batches != f[1].batches ||
                      f[0].batch != f[1].batch || f[0].frac != f[1].frac ||
                      f[0].words % f[0].batch))
    rc = pn_err(&ctx, PN_ERR_CORRUPT, "%s, %s: sizes disagree within one run", files[0], files[1]);
  if (rc == PN_OK && labels_path) rc = pn_json_read(&ctx, labels_path, 64u << 20, &lj);
  if (rc) goto out;
  int64_t K = (int64_t)(f[0].words / f[0].batch), n = (int64_t)(f[0].batches * f[0].batch);
  if (lj) {
    larr = cJSON_GetObjectItemCaseSensitive(lj, "labels");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(lj, "share_id");
    uint8_t id[PN_MPC_ID_BYTES];
    if (!cJSON_IsArray(larr) || cJSON_GetArraySize(larr) < 1) {
      rc = pn_err(&ctx, PN_ERR_CORRUPT, "%s: \"labels\" must be a non-empty array of class indices",
                  labels_path);
      goto out;
    }
    if (!cJSON_IsString(sid) || pn_mpc_id_parse(&ctx, sid->valuestring, id)) {
      rc = pn_err(&ctx, PN_ERR_CORRUPT, "%s: no valid \"share_id\" (written by `mpc share`)",
                  labels_path);
      goto out;
    }
    if (memcmp(id, f[0].share_id, PN_MPC_ID_BYTES)) {
      rc = pn_err(&ctx, PN_ERR_MISMATCH, "%s belongs to share id %s, the outputs to another client "
                  "run", labels_path, sid->valuestring);
      goto out;
    }
    if (cJSON_GetArraySize(larr) > n) {
      rc = pn_err(&ctx, PN_ERR_MISMATCH, "%s: %d labels for %lld outputs", labels_path,
                  cJSON_GetArraySize(larr), (long long)n);
      goto out;
    }
    n = cJSON_GetArraySize(larr); /* the last batch may be padded */
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, larr) {
      if (!cJSON_IsNumber(e) || e->valuedouble != (double)e->valueint || e->valueint < -1 ||
          e->valueint >= K) {
        rc = pn_err(&ctx, PN_ERR_CORRUPT, "%s: labels[%d] is not a class index in [0, %lld)",
                    labels_path, i, (long long)K);
        goto out;
      }
      i++;
    }
  }
  int64_t correct = 0, labelled = 0;
  preds = cJSON_CreateArray();
  for (int64_t i = 0; i < n; i++) {
    int64_t best = 0;
    double bv = -1e300;
    for (int64_t k = 0; k < K; k++) {
      double z = pn_fx_decode(f[0].data[i * K + k] + f[1].data[i * K + k], (int)f[0].frac);
      if (z > bv) bv = z, best = k;
    }
    cJSON_AddItemToArray(preds, cJSON_CreateNumber((double)best));
    int lab = larr ? cJSON_GetArrayItem(larr, (int)i)->valueint : -1;
    if (lab >= 0) {
      labelled++;
      correct += best == lab;
    }
    if (!larr) printf("%lld: class %lld\n", (long long)i, (long long)best);
  }
  if (larr && labelled)
    printf("%lld images: accuracy %.4f (%lld correct)\n", (long long)labelled,
           (double)correct / (double)labelled, (long long)correct);
  else if (larr)
    printf("%lld images, no labels (random inputs): nothing to score\n", (long long)n);
  if (json) {
    cJSON *r = cJSON_CreateObject();
    char rid[2 * PN_MPC_ID_BYTES + 1];
    pn_mpc_id_hex(f[0].run_id, rid);
    cJSON_AddStringToObject(r, "run_id", rid);
    cJSON_AddNumberToObject(r, "images", (double)n);
    if (labelled) cJSON_AddNumberToObject(r, "accuracy", (double)correct / (double)labelled);
    cJSON_AddItemToObject(r, "predictions", preds);
    preds = NULL;
    rc = pn_cli_report(&ctx, cmd, json, r);
    cJSON_Delete(r);
  }
out:
  cJSON_Delete(preds);
  cJSON_Delete(lj);
  pn_mpc_share_free(&f[0]);
  pn_mpc_share_free(&f[1]);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}

/* `mpc psk -o FILE`: a fresh 32-byte pre-shared key, mode 0600, for one link. */
int pn_mpc_cli_psk(int argc, char **argv) {
  const char *cmd = "mpc psk", *out = NULL;
  const struct pn_cli_opt opts[] = {
    {"--output", "-o", PN_CLI_STR, &out, "FILE", "the key file to create (required; never overwritten)"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "-o FILE",
    "Write a fresh random 32-byte pre-shared key to FILE (mode 0600; refuses to overwrite).\n"
    "Copy it to the other end of one link over a channel you trust (scp, a USB stick): one key\n"
    "for the P0-P1 link (--psk-file), another for each dealer link (--dealer-psk-file on the\n"
    "parties, --psk-file on `mpc dealer --serve`).",
    "privnn mpc psk -o link.key", opts, NULL, NULL, 0, 0};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  if (!out) return pn_cli_usage(cmd, "no output file given (-o FILE)");
  struct pn_ctx ctx = {0};
  uint8_t key[32];
  int rc = PN_OK;
  if (access(out, F_OK) == 0)
    rc = pn_err(&ctx, PN_ERR_INVALID, "%s exists: a key in use is never overwritten (remove it "
                "first)", out);
  if (rc == PN_OK) rc = pn_getrandom(&ctx, key, sizeof key);
  if (rc == PN_OK) rc = pn_write_file_atomic(&ctx, out, key, sizeof key, 0600);
  pn_wipe(key, sizeof key);
  if (rc) return pn_cli_fail(cmd, &ctx);
  printf("%s: a 32-byte pre-shared key (mode 0600)\n", out);
  return PN_EXIT_OK;
}
