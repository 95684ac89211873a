/* cmd_tensor.c - `privnn tensor FILE...`: a tensor's or image's shape, dtype and statistics; convert
** between TensorProto .pb, NumPy .npy, PNG and PGM; with --model, the input that model would get. */
#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "graph/onnx.h"
#include "graph/tensor_io.h"
#include "nn/input.h"
#include "util/status.h"

static void describe(const char *what, const char *fmt, const struct pn_tensor *t, cJSON *arr) {
  struct pn_tensor_stats st;
  char shape[160];
  pn_tensor_stats(t, &st);
  pn_shape_str(shape, sizeof shape, t->ndim, t->dims);
  printf("%s: %s %s %s, %lld elements: min %.6g max %.6g mean %.6g std %.6g", what, fmt,
         pn_dtype_name(t->dtype), shape, (long long)st.n, st.min, st.max, st.mean, st.std);
  if (st.nan || st.inf) printf(", %lld NaN, %lld Inf", (long long)st.nan, (long long)st.inf);
  printf("\n");
  if (!arr) return;
  cJSON *o = cJSON_CreateObject(), *d = cJSON_AddArrayToObject(o, "shape");
  cJSON_AddStringToObject(o, "file", what);
  cJSON_AddStringToObject(o, "format", fmt);
  cJSON_AddStringToObject(o, "dtype", pn_dtype_name(t->dtype));
  for (int i = 0; i < t->ndim; i++) cJSON_AddItemToArray(d, cJSON_CreateNumber((double)t->dims[i]));
  cJSON_AddNumberToObject(o, "elements", (double)st.n);
  cJSON_AddNumberToObject(o, "min", st.min);
  cJSON_AddNumberToObject(o, "max", st.max);
  cJSON_AddNumberToObject(o, "mean", st.mean);
  cJSON_AddNumberToObject(o, "std", st.std);
  cJSON_AddNumberToObject(o, "nan", (double)st.nan);
  cJSON_AddNumberToObject(o, "inf", (double)st.inf);
  cJSON_AddItemToArray(arr, o);
}

int pn_cmd_tensor(int argc, char **argv) {
  const char *cmd = "tensor", *out = NULL, *model = NULL, *json = NULL;
  int fmt_i = -1;
  bool resize = false;
  struct pn_cli_list files = {0};
  const char *pos[PN_CLI_LIST_MAX] = {NULL};
  const struct pn_cli_opt opts[] = {
    {"--output", "-o", PN_CLI_STR, &out, "FILE", "write the tensor (one input file, or the model's input)"},
    {"--format", NULL, PN_CLI_CHOICE, &fmt_i, "F", "format of -o", 0, 0, "pb|npy|png|pgm", "from -o's extension"},
    {"--model", NULL, PN_CLI_STR, &model, "MODEL.onnx",
     "make the files into this model's input (normalised with its privnn.normalize)"},
    {"--resize", NULL, PN_CLI_FLAG, &resize, NULL, "with --model: resize / convert images that do not fit"},
    {"--json", NULL, PN_CLI_STR, &json, "FILE", "write a JSON report"},
    {0}};
  const struct pn_cli_spec spec = {
    cmd, "FILE... [-o OUT] [--model MODEL.onnx [--resize]]",
    "Print each file's format, dtype, shape and statistics (min, max, mean, std, NaN and Inf\n"
    "counts). Formats, found by content: ONNX TensorProto (.pb), NumPy .npy (C order,\n"
    "little-endian, numeric dtypes), PNG and PGM images (read as uint8 [C,H,W], channels first).\n"
    "With -o, convert: .pb and .npy keep the dtype; PNG/PGM take [H,W] or [C,H,W] in [0, 1] or uint8.\n"
    "With --model, the files become that model's input exactly as run, mpc share and mpc infer\n"
    "make it (pixels normalised with the model's privnn.normalize; one example or a batch each).",
    "privnn tensor shirt.png --model models/lenet5.onnx -o shirt.pb", opts, "FILE", pos, 1,
    PN_CLI_LIST_MAX};
  int prc = pn_cli_parse(&spec, argc, argv);
  if (prc) return prc < 0 ? PN_EXIT_OK : prc;
  for (int i = 0; i < PN_CLI_LIST_MAX && pos[i]; i++) files.v[files.n++] = pos[i];
  if (resize && !model) return pn_cli_usage(cmd, "--resize needs --model (the shape to resize to)");
  if (out && !model && files.n != 1) return pn_cli_usage(cmd, "-o converts one file (or, with --model, the model's input)");
  enum pn_tensor_format ofmt = fmt_i < 0 ? PN_TF_AUTO : (enum pn_tensor_format)(fmt_i + PN_TF_PB);
  if (out && ofmt == PN_TF_AUTO && pn_tensor_format_of_path(out) == PN_TF_AUTO)
    return pn_cli_usage(cmd, "-o %s: give --format (pb, npy, png, pgm) or a known extension", out);
  struct pn_ctx ctx = {0};
  cJSON *rep = json ? cJSON_CreateObject() : NULL, *arr = rep ? cJSON_AddArrayToObject(rep, "tensors") : NULL;
  struct pn_tensor *t = NULL;
  int rc = PN_OK;
  if (model) {
    struct pn_graph *g = NULL;
    struct pn_input_opts io = {.resize = resize};
    struct pn_input_info info;
    rc = pn_onnx_load_file(&ctx, model, &g);
    if (!rc && (rc = pn_input_load(&ctx, g, files.v, files.n, &io, &t, &info))) pn_err_prefix(&ctx, "%s", model);
    if (!rc) {
      char what[512];
      snprintf(what, sizeof what, "input of %s", model);
      describe(what, "tensor", t, arr);
      if (info.pixel_files)
        printf("  %d file(s) of pixels: %s%s\n", info.pixel_files,
               info.model_norm ? "normalised with the model's privnn.normalize" : "scaled to [0, 1] (the model "
               "records no privnn.normalize)", info.resized ? ", some resized or converted (--resize)" : "");
      if (rep) {
        cJSON_AddStringToObject(rep, "model", model);
        cJSON_AddNumberToObject(rep, "images", (double)info.n);
        cJSON_AddBoolToObject(rep, "model_normalize", info.model_norm);
        cJSON_AddNumberToObject(rep, "resized", info.resized);
      }
    }
    pn_graph_free(g);
  } else {
    for (int i = 0; i < files.n && !rc; i++) {
      enum pn_tensor_format f;
      struct pn_tensor *x = NULL;
      if ((rc = pn_tensor_read_file(&ctx, files.v[i], PN_TF_AUTO, &x, &f))) break;
      describe(files.v[i], pn_tensor_format_name(f), x, arr);
      if (out) t = x;
      else pn_tensor_free(x);
    }
  }
  if (!rc && out) {
    rc = pn_tensor_write_file(&ctx, t, out, ofmt);
    if (!rc) printf("wrote %s\n", out);
  }
  if (!rc && rep) {
    if (out) cJSON_AddStringToObject(rep, "output", out);
    rc = pn_cli_report(&ctx, cmd, json, rep);
  }
  cJSON_Delete(rep);
  pn_tensor_free(t);
  return rc ? pn_cli_fail(cmd, &ctx) : PN_EXIT_OK;
}
