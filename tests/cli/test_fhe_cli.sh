#!/bin/bash
# test_fhe_cli.sh - privnn fhe: plan (table and JSON) of a PAF lenet5 that needs bootstrapping, with
# real bootstraps (N = 2^16) and with bootstraps placed for the simulation; encrypted inference end to end on a small PAF model cut from it
# (conv-PafRelu-avgpool-dense: fits without bootstrapping) with agreement and logit error read from the
# JSON; the same steps as files (keygen, encrypt, eval, decrypt) and their refusals; and bad input: a plain ReLU model, a model too deep without bootstrapping, --boot simulate with
# infer, a missing file, bad options. Each error is one line naming the file or node.
# Usage: bash test_fhe_cli.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
PRIVNN=${1:?usage: test_fhe_cli.sh PRIVNN SOURCE_DIR}
SRC=${2:-.}
PY=/usr/bin/python3
W=$(mktemp -d /tmp/privnn-fhe-cli.XXXXXX)
trap 'rm -rf "$W"' EXIT
export PN_NO_PROGRESS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# ---- a PAF lenet5 (untuned f1g2 with static scales) ----
expect_ok "$PRIVNN" paf approximate "$SRC/models/lenet5.onnx" --form f1g2 --techniques ss --ss-images 500 \
  --max-val 200 --data fashion-mnist -o "$W/l5.onnx"

# ---- plan ----
expect_err 1 "replace it by a PAF first" "$PRIVNN" fhe plan "$SRC/models/lenet5.onnx"
expect_err 1 "bootstrapping is off" "$PRIVNN" fhe plan "$W/l5.onnx" --boot never
expect_ok "$PRIVNN" fhe plan "$W/l5.onnx" --json "$W/planb.json"
[ "$(json "$W/planb.json" "d['bootstraps'] > 0 and d['bootstrapping']['mode'] == 'ciphertexts' and d['params']['logn'] == 16 and d['params']['secure_128'] and d['bootstrapping']['key_bytes_in_memory'] > 0")" = True ] ||
  fail "planb.json (real bootstrapping): $(head -c 600 "$W/planb.json")"
expect_ok "$PRIVNN" fhe plan "$W/l5.onnx" --boot simulate --json "$W/plan.json"
grep -q "^conv2 *Conv *multiplexed" "$W/out" || fail "plan table lacks the conv2 row: $(head -c 600 "$W/out")"
grep -q "bootstrap" "$W/out" || fail "plan table lacks bootstraps"
[ "$(json "$W/plan.json" "d['bootstraps'] > 0 and d['depth'] > d['levels'] and len(d['layers']) > 10")" = True ] ||
  fail "plan.json: $(head -c 400 "$W/plan.json")"
expect_err 1 "only the simulation runs" "$PRIVNN" fhe infer "$W/l5.onnx" --boot simulate --data fashion-mnist
expect_ok "$PRIVNN" fhe plan "$W/l5.onnx" --boot simulate --max-keys 20 --json "$W/plan20.json"
[ "$(json "$W/plan20.json" "d['rotation_keys'] == 20")" = True ] || fail "plan20.json: rotation_keys not 20"
expect_err 1 "power-of-two" "$PRIVNN" fhe plan "$W/l5.onnx" --boot simulate --max-keys 5

# ---- encrypted inference on a model that fits without bootstrapping ----
$PY - "$W/l5.onnx" "$W/small.onnx" <<'PYEOF'
import sys, onnx, numpy as np
from onnx import helper, numpy_helper
m = onnx.load(sys.argv[1])
g = m.graph
keep = [n for n in g.node if n.output[0] in ("conv1", "relu1")]
pool = helper.make_node("AveragePool", ["relu1"], ["pool"], kernel_shape=[4, 4], strides=[4, 4])
flat = helper.make_node("Flatten", ["pool"], ["flat"], axis=1)
rng = np.random.default_rng(1)
w = (rng.standard_normal((10, 6 * 7 * 7)) * 0.2).astype(np.float32)
b = (rng.standard_normal(10) * 0.1).astype(np.float32)
gemm = helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1)
used = {i for n in keep for i in n.input}
inits = [t for t in g.initializer if t.name in used] + [numpy_helper.from_array(w, "fc.w"), numpy_helper.from_array(b, "fc.b")]
del g.node[:]
g.node.extend(keep + [pool, flat, gemm])
del g.initializer[:]
g.initializer.extend(inits)
del g.value_info[:]
onnx.save(m, sys.argv[2])
PYEOF
[ -s "$W/small.onnx" ] || fail "could not cut the small model"
expect_ok "$PRIVNN" fhe infer "$W/small.onnx" --data fashion-mnist --count 2 --json "$W/infer.json"
grep -q "agreement with the plaintext model 1.0000 (2/2)" "$W/out" || fail "infer: $(cat "$W/out")"
[ "$(json "$W/infer.json" "d['agreement'] == 1 and d['max_abs_err'] < 1e-2 and d['images'] == 2")" = True ] ||
  fail "infer.json: agreement/max_abs_err: $(head -c 600 "$W/infer.json")"
[ "$(json "$W/infer.json" "all(k in d for k in ('accuracy','seconds_per_image','bytes_up','bytes_down','key_bytes','layers')) and d['params']['secure_128']")" = True ] ||
  fail "infer.json lacks keys"

# ---- the same as files: keygen (client), encrypt, eval (server: no secret key), decrypt ----
K="$W/keys"
expect_ok "$PRIVNN" fhe keygen "$W/small.onnx" --max-keys 16 -o "$K"
[ "$(stat -c %a "$K/secret.key")" = 600 ] || fail "secret.key is not 0600"
expect_ok "$PRIVNN" fhe encrypt "$W/small.onnx" --keys "$K" --data fashion-mnist --index 0 -o "$W/q.bin"
expect_ok "$PRIVNN" fhe eval "$W/small.onnx" "$W/q.bin" --keys "$K/eval.keys" --max-keys 16 -o "$W/r.bin"
expect_ok "$PRIVNN" fhe decrypt "$W/r.bin" --keys "$K" --json "$W/dec.json"
[ "$(json "$W/dec.json" "d['top1']")" = "$(json "$W/infer.json" "d['predictions'][0][1]")" ] ||
  fail "decrypted top-1 differs from the plaintext model's: $(cat "$W/dec.json")"
expect_err 1 "program hash differs" "$PRIVNN" fhe eval "$W/small.onnx" "$W/q.bin" --keys "$K/eval.keys" -o "$W/r2.bin"
expect_err 1 "expected a result, got a query" "$PRIVNN" fhe decrypt "$W/q.bin" --keys "$K"
head -c 1000 "$W/q.bin" >"$W/q-cut.bin"
expect_err 1 "truncated" "$PRIVNN" fhe eval "$W/small.onnx" "$W/q-cut.bin" --keys "$K/eval.keys" --max-keys 16 -o "$W/r3.bin"
chmod 644 "$K/secret.key"
expect_err 1 "chmod 600" "$PRIVNN" fhe decrypt "$W/r.bin" --keys "$K"
chmod 600 "$K/secret.key"
rm -rf "$K"

# ---- bad input ----
expect_err 1 "no-such.onnx" "$PRIVNN" fhe plan "$W/no-such.onnx"
expect_err 2 "no model given" "$PRIVNN" fhe plan
expect_err 2 "unknown subcommand" "$PRIVNN" fhe frobnicate
expect_err 2 "--count" "$PRIVNN" fhe infer "$W/small.onnx" --data fashion-mnist --count 0
expect_err 2 "no data given" "$PRIVNN" fhe infer "$W/small.onnx"
expect_err 2 "--logn" "$PRIVNN" fhe plan "$W/small.onnx" --logn 40
expect_err 1 "do not fit one ciphertext" "$PRIVNN" fhe plan "$W/small.onnx" --logn 12

echo "test_fhe_cli: $pass passed, $fails failed"
[ $fails -eq 0 ]
