#!/bin/bash
# test_paf_cli.sh - privnn paf: forms, a quick approximate (the untuned replacement with static
# scales) on the reference lenet5, eval and info on the PAF model, export --expand / --fold giving
# the same accuracy, and bad input: unknown form, a model without ReLU/MaxPool, a PAF node with a
# wrong attribute length, a damaged checkpoint. Each error is one line naming the file or node.
# Usage: bash test_paf_cli.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# ---- forms ----
expect_ok "$PRIVNN" paf forms --json "$W/forms.json"
for f in f1g2 f2g2 f2g3 alpha7 f1g1sq minimax27; do
  grep -q "^$f " "$W/out" || fail "paf forms does not list $f"
done
$PY -c 'import json,sys; f={x["form"]: x for x in json.load(open(sys.argv[1]))["forms"]}; sys.exit(f["minimax27"]["sign_depth"] != 10)' \
  "$W/forms.json" || fail "forms JSON: minimax27's sign depth is not 10"
expect_ok "$PRIVNN" paf --help
for c in forms approximate export info; do
  expect_ok "$PRIVNN" paf $c --help && grep -q "usage: privnn paf $c" "$W/out" || fail "paf $c --help: no usage line"
done

# ---- bad input ----
M="$SRC/models/lenet5.onnx"
expect_err 2 "unknown form 'f9'" "$PRIVNN" paf approximate "$M" --form f9 --data fashion-mnist -o "$W/x.onnx"
expect_err 2 "pa and at go together" "$PRIVNN" paf approximate "$M" --form f1g2 --techniques ct,pa -o "$W/x.onnx"
expect_err 2 "--epochs" "$PRIVNN" paf approximate "$M" --form f1g2 --epochs 0 -o "$W/x.onnx"
"$PRIVNN" zoo bert --seed 1 -o "$W/bert.onnx" >/dev/null 2>&1 || fail "zoo bert"
expect_err 1 "no Relu or MaxPool" "$PRIVNN" paf approximate "$W/bert.onnx" --form f1g2 --data fashion-mnist -o "$W/x.onnx"
grep -qF "bert.onnx" "$W/err" || fail "the no-site error does not name the model: $(cat "$W/err")"

if [ ! -f "$M" ] || [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "skip: models/lenet5.onnx or dataset-fashion-mnist missing"
else
  # ---- a quick approximation: untuned alpha7 with static scales, folded ----
  expect_ok "$PRIVNN" paf approximate "$M" --form alpha7 --data fashion-mnist --techniques baseline,ss \
    --base-epochs 0 --ss-images 500 --max-val 500 -o "$W/l5.onnx" --json "$W/l5.json"
  grep -q "baseline+ss" "$W/out" || fail "approximate prints no baseline+ss stage: $(cat "$W/out")"
  $PY - "$W/l5.json" <<'PY' || fail "approximate JSON: $(head -c 300 "$W/l5.json")"
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("form", "techniques", "accuracy_val", "overflow", "seconds", "depth", "layers"):
    assert k in r, k
assert "accuracy_test" not in r            # the test split is read only with --eval-test
assert r["form"] == "alpha7" and r["depth"] == 7
assert all(l["scale"] > 0 for l in r["layers"]) and len(r["layers"]) == 6
PY
  # eval works on the PAF model as on any model; info lists its PAF nodes
  expect_ok "$PRIVNN" eval "$W/l5.onnx" --data fashion-mnist --split val --limit 500 --json "$W/e1.json"
  expect_ok "$PRIVNN" paf info "$W/l5.onnx"
  grep -q "PafMaxPool" "$W/out" && grep -q "alpha7" "$W/out" || fail "paf info: $(cat "$W/out")"
  grep -q "6 PAF nodes" "$W/out" || fail "paf info does not count 6 PAF nodes: $(cat "$W/out")"
  # the expanded model (standard ops only) gives the same accuracy
  expect_ok "$PRIVNN" paf export "$W/l5.onnx" --expand -o "$W/l5x.onnx"
  expect_ok "$PRIVNN" info "$W/l5x.onnx"
  grep -q "Paf" "$W/out" && fail "the expanded model still has PAF nodes"
  expect_ok "$PRIVNN" eval "$W/l5x.onnx" --data fashion-mnist --split val --limit 500 --json "$W/e2.json"
  a1=$(grep -o '"accuracy": *[0-9.]*' "$W/e1.json"); a2=$(grep -o '"accuracy": *[0-9.]*' "$W/e2.json")
  [ -n "$a1" ] && [ "$a1" = "$a2" ] || fail "accuracy of the PAF model ($a1) and of its expansion ($a2) differ"
  # ---- a PAF node with a wrong attribute length ----
  $PY - "$W/l5.onnx" "$W/bad.onnx" <<'PY' || fail "could not write the damaged model"
import sys, onnx
m = onnx.load(sys.argv[1])
for n in m.graph.node:
    if n.op_type == "PafMaxPool":
        for a in n.attribute:
            if a.name == "kernel_shape":
                a.ints.append(2)
        break
onnx.save(m, sys.argv[2])
PY
  expect_err 1 "attribute 'kernel_shape' has 3 entries, must have 2" "$PRIVNN" eval "$W/bad.onnx" --data fashion-mnist --limit 10
  grep -qF "bad.onnx" "$W/err" && grep -qF "(PafMaxPool)" "$W/err" || fail "error does not name the file and node: $(cat "$W/err")"
  expect_err 1 "kernel_shape" "$PRIVNN" paf info "$W/bad.onnx"
  # ---- a damaged checkpoint ----
  cp "$W/l5.onnx.ckpt" "$W/bad.ckpt"
  printf '\x55' | dd of="$W/bad.ckpt" bs=1 seek=100 conv=notrunc 2>/dev/null
  expect_err 1 "checksum mismatch" "$PRIVNN" paf approximate "$M" --form alpha7 --data fashion-mnist \
    --techniques baseline,ss --base-epochs 0 --ss-images 500 --max-val 500 -o "$W/l5b.onnx" --resume "$W/bad.ckpt"
  grep -qF "bad.ckpt" "$W/err" || fail "checkpoint error does not name the file: $(cat "$W/err")"
  # resuming the finished run's checkpoint with other options is refused
  expect_err 1 "another configuration" "$PRIVNN" paf approximate "$M" --form alpha7 --data fashion-mnist \
    --techniques baseline,ss --base-epochs 0 --ss-images 400 --max-val 500 -o "$W/l5b.onnx" --resume "$W/l5.onnx.ckpt"
fi

echo "test_paf_cli: $pass passed, $fails failed"
[ $fails -eq 0 ]
