/* privnn.h - the whole public API of libprivnn in one include: #include <privnn/privnn.h>.
**
** privnn keeps neural networks private: two-party MPC inference with HummingBird's reduced-ring
** ReLU, CKKS homomorphic encryption, and Proteus model obfuscation, over one graph IR that reads
** and writes ONNX. Each header below is also usable on its own (<privnn/graph/exec.h>, ...); these
** are exactly the headers `make install` puts under include/privnn/, and their PN_API functions
** exactly the symbols libprivnn.so exports. Errors: functions return PN_OK (0) or a negative
** status and leave a sentence in a struct pn_ctx (util/status.h). */
#ifndef PN_PRIVNN_H
#define PN_PRIVNN_H

/* util: status codes and messages, the seeded AES-CTR PRG, wiping secrets, a string map */
#include "util/api.h"
#include "util/status.h"
#include "util/prg.h"
#include "util/wipe.h"
#include "util/strmap.h"

/* graph: tensors, the IR, ONNX I/O, operators, the executor, passes, statistics, the model zoo,
** tensors and images as files (.pb, .npy, PNG, PGM) */
#include "graph/tensor.h"
#include "graph/ir.h"
#include "graph/onnx.h"
#include "graph/ops.h"
#include "graph/exec.h"
#include "graph/passes.h"
#include "graph/stats.h"
#include "graph/zoo.h"
#include "graph/tensor_io.h"

/* nn: Fashion-MNIST, a model's input from a user's files, reference architectures, autograd, optimisers, training */
#include "nn/dataset.h"
#include "nn/input.h"
#include "nn/arch.h"
#include "nn/autograd.h"
#include "nn/optim.h"
#include "nn/train.h"

/* ckks: the RNS ring, CKKS keys / encryption / evaluation / serialization, polynomials */
#include "ckks/ring.h"
#include "ckks/ckks.h"
#include "ckks/poly.h"

/* mpc: the ring Z_2^64, two-party protocols, ReLU, the dealer, transport, models on shares,
** the range profiler, the loopback harness, share files and the parties' hello */
#include "mpc/ring64.h"
#include "mpc/mpc.h"
#include "mpc/relu.h"
#include "mpc/dealer.h"
#include "mpc/net.h"
#include "mpc/runner.h"
#include "mpc/profile.h"
#include "mpc/loopback.h"
#include "mpc/share.h"
#include "mpc/session.h"
#include "mpc/hbsim.h"
#include "mpc/search.h"

/* obf: Proteus split, join, n-gram corpus */
#include "obf/obf.h"

#endif
