/* cli.h - the subcommand table and helpers shared by the CLI's files. */
#ifndef PN_CLI_H
#define PN_CLI_H

/* One line per subcommand: name, entry point (argc/argv start at the command name), summary.
** Each entry point lives in cmd_<name>.c and returns the process exit code. */
#define PN_CLI_COMMANDS(X) \
  X("info", pn_cmd_info, "describe an ONNX model: opset, inputs/outputs, ops, parameters, MACs") \
  X("run", pn_cmd_run, "run an ONNX model on inputs from files (.pb, .npy, PNG, PGM) or random ones") \
  X("tensor", pn_cmd_tensor, "a tensor or image file: shape, dtype, statistics; convert .pb/.npy/PNG/PGM") \
  X("zoo", pn_cmd_zoo, "write a reference architecture (privnn zoo --help lists the models)") \
  X("bench", pn_cmd_bench, "benchmarks: bench ckks | mpc") \
  X("train", pn_cmd_train, "train lenet5 / cnn-s / resnet-s / vgg-s on Fashion-MNIST, export ONNX") \
  X("eval", pn_cmd_eval, "top-1 accuracy, loss, confusion matrix of a model on Fashion-MNIST") \
  X("optimize", pn_cmd_optimize, "privnn's graph passes: fold constants and BN, Gemm, drop identities") \
  X("mpc", pn_cmd_mpc, "HummingBird two-party inference: mpc infer | profile | dealer | share | party | reveal ...") \
  X("paf", pn_cmd_paf, "SmartPAF: paf forms | approximate | export (polynomial ReLU/MaxPool for CKKS)") \
  X("fhe", pn_cmd_fhe, "encrypted inference under CKKS: fhe plan | infer | serve | query ... (PAF models)") \
  X("obf", pn_cmd_obf, "Proteus: obf split | join | attack | ngram (hide the architecture from an optimizer)")

#define X(name, fn, summary) int fn(int argc, char **argv);
PN_CLI_COMMANDS(X)
#undef X

/* `privnn bench mpc` lives with the other MPC commands (cmd_mpc_bench.c); argv[0] is "mpc". */
int pn_bench_mpc(int argc, char **argv);
/* `privnn bench ckks --bootstrap` (cmd_bench_boot.c); argv as bench_ckks's. */
int pn_bench_ckks_boot(int argc, char **argv);
/* `privnn bench fhe` (cmd_fhe.c): the PAF ReLU microbenchmark; argv[0] is "fhe". */
int pn_bench_fhe(int argc, char **argv);

struct pn_cli_cmd {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
};

#endif
