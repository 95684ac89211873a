#!/bin/bash
# test_cli_basic.sh - privnn --help/--version, zoo -> info -> run, ONNX test data, and bad input.
# Usage: bash test_cli_basic.sh PATH/TO/privnn SOURCE_DIR
# Every failure prints what failed; the script exits non-zero if any check failed.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
TD=/usr/share/libonnx-testdata/data/node

# ---- help and version ----
expect_ok "$PRIVNN" --help && grep -q "zoo" "$W/out" || fail "--help does not list zoo"
expect_ok "$PRIVNN" --version && grep -q "^privnn [0-9]" "$W/out" || fail "--version output: $(cat "$W/out")"
for c in info run zoo; do
  expect_ok "$PRIVNN" $c --help && grep -q "usage: privnn $c" "$W/out" || fail "$c --help: no usage line"
done

# ---- zoo -> info -> run ----
expect_ok "$PRIVNN" zoo resnet18 -o "$W/r18.onnx" --input-shape 2x3x32x32 --classes 10 --seed 3
grep -q "r18.onnx" "$W/out" || fail "zoo summary does not name the file: $(cat "$W/out")"
expect_ok "$PRIVNN" info "$W/r18.onnx" --json "$W/info.json"
grep -q "\[2,3,32,32\]" "$W/out" || fail "info does not show the input shape: $(cat "$W/out")"
grep -q "Conv 20" "$W/out" || fail "info op histogram lacks 'Conv 20': $(cat "$W/out")"
expect_ok "$PRIVNN" run "$W/r18.onnx" --random --repeat 2 --warmup 1 --threads 1 --profile \
  --json "$W/run.json" -o "$W/r18_out.pb"
grep -q "float32 \[2,10\]" "$W/out" || fail "run does not report the [2,10] output: $(cat "$W/out")"
grep -q "argmax" "$W/out" || fail "run prints no argmax"
grep -q "^time: mean" "$W/out" || fail "run prints no timing"
grep -q "Conv" "$W/out" || fail "--profile lists no Conv"
grep -q "^slowest nodes" "$W/out" || fail "--profile lists no nodes: $(cat "$W/out")"
# determinism: the same zoo seed gives byte-identical files
expect_ok "$PRIVNN" zoo resnet18 -o "$W/r18b.onnx" --input-shape 2x3x32x32 --classes 10 --seed 3
cmp -s "$W/r18.onnx" "$W/r18b.onnx" || fail "zoo with the same seed wrote different files"

if [ -x "$PY" ] && "$PY" -c "import onnx, numpy" 2>/dev/null; then
  # the JSON reports and files are what they claim, checked by ONNX's own tools
  "$PY" - "$W" <<'PYEOF' || fail "python checks of zoo/info/run output"
import json, sys, onnx, numpy
from onnx import numpy_helper
w = sys.argv[1]
m = onnx.load(w + "/r18.onnx")
onnx.checker.check_model(m, full_check=True)
info = json.load(open(w + "/info.json"))
params = sum(int(numpy.prod(t.dims)) for t in m.graph.initializer)
assert info["parameters"] == params, (info["parameters"], params)
assert info["nodes"] == len(m.graph.node)
assert info["inputs"][0]["shape"] == [2, 3, 32, 32]
run = json.load(open(w + "/run.json"))
t = onnx.TensorProto(); t.ParseFromString(open(w + "/r18_out.pb", "rb").read())
out = numpy_helper.to_array(t)
assert out.shape == (2, 10), out.shape
assert list(out.argmax(axis=1)) == run["outputs"][0]["argmax"]
assert numpy.allclose(out.reshape(-1)[:6], run["outputs"][0]["first"], rtol=1e-5, atol=1e-6)
assert run["timing"]["runs"] == 2
# --profile per node: real node names and types, every Conv timed, the same total as per op type
nodes = {n.name: n.op_type for n in m.graph.node}
prof = run["profile_nodes"]
assert all(nodes.get(e["name"]) == e["op"] and e["ms"] > 0 for e in prof), prof[:3]
assert [e["ms"] for e in prof] == sorted((e["ms"] for e in prof), reverse=True)
assert {e["name"] for e in prof if e["op"] == "Conv"} == {k for k, v in nodes.items() if v == "Conv"}
tot_nodes, tot_ops = sum(e["ms"] for e in prof), sum(run["profile_ms"].values())
assert abs(tot_nodes - tot_ops) <= 1e-6 * tot_ops + 1e-9, (tot_nodes, tot_ops)
PYEOF
  ok
  # every zoo model is valid ONNX by the reference checker with its shape inference
  for m in resnet50 vgg11 mobilenetv2; do
    expect_ok "$PRIVNN" zoo $m -o "$W/$m.onnx" --input-shape 1x3x32x32 --classes 10
  done
  expect_ok "$PRIVNN" zoo bert -o "$W/bert.onnx" --layers 2 --hidden 64 --heads 4 --seq 8
  "$PY" - "$W" <<'PYEOF' || fail "onnx.checker rejects a zoo model"
import sys, onnx
for m in ["resnet50", "vgg11", "mobilenetv2", "bert"]:
    model = onnx.load(sys.argv[1] + "/" + m + ".onnx")
    onnx.checker.check_model(model, full_check=True)
    out = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.output[0]
    dims = [d.dim_value for d in out.type.tensor_type.shape.dim]
    want = [1, 8, 64] if m == "bert" else [1, 10]
    assert dims == want, (m, dims)
PYEOF
  ok
  expect_ok "$PRIVNN" run "$W/bert.onnx" --random
  grep -q "float32 \[1,8,64\]" "$W/out" || fail "bert run output shape: $(cat "$W/out")"

  # ONNX's own conformance data: run, save, compare with the expected output
  for t in test_relu test_conv_with_strides_padding test_softmax_axis_1; do
    [ -d "$TD/$t" ] || continue
    d="$TD/$t/test_data_set_0"
    args=()
    for f in "$d"/input_*.pb; do args+=(--input "$f"); done
    if expect_ok "$PRIVNN" run "$TD/$t/model.onnx" "${args[@]}" -o "$W/$t.pb"; then
      "$PY" - "$W/$t.pb" "$d/output_0.pb" <<'PYEOF' || fail "$t: output differs from ONNX's expected output"
import sys, numpy, onnx
from onnx import numpy_helper
def load(p):
    t = onnx.TensorProto(); t.ParseFromString(open(p, "rb").read()); return numpy_helper.to_array(t)
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.shape == b.shape, (a.shape, b.shape)
assert numpy.allclose(a, b, rtol=1e-4, atol=1e-5), numpy.abs(a - b).max()
PYEOF
    fi
  done
  # symbolic dims: info shows them by name, run --random makes them 1
  "$PY" - "$W/sym.onnx" <<'PYEOF'
import sys, onnx
from onnx import helper, TensorProto
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "sym", [x], [y])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])
PYEOF
  expect_ok "$PRIVNN" info "$W/sym.onnx"
  grep -q "\[batch,4\]" "$W/out" || fail "info does not show the symbolic dim by name: $(cat "$W/out")"
  expect_ok "$PRIVNN" run "$W/sym.onnx" --random
  grep -q "float32 \[1,4\]" "$W/out" || fail "run --random does not make symbolic dims 1: $(cat "$W/out")"
else
  echo "note: $PY with onnx+numpy not found; skipping the reference checks"
fi

# ---- bad input: one line naming the file, exit 1 (2 for usage), never a crash ----
expect_err 2 "unknown command" "$PRIVNN" frobnicate
expect_err 2 "no model given" "$PRIVNN" info
expect_err 2 "unknown option" "$PRIVNN" run "$W/r18.onnx" --frob
expect_err 2 "--repeat" "$PRIVNN" run "$W/r18.onnx" --random --repeat 0
expect_err 2 "--repeat" "$PRIVNN" run "$W/r18.onnx" --random --repeat abc
expect_err 2 "needs a value" "$PRIVNN" run "$W/r18.onnx" --input
expect_err 2 "input" "$PRIVNN" run "$W/r18.onnx"
expect_err 2 "--input-shape" "$PRIVNN" zoo resnet18 -o "$W/x.onnx" --input-shape 1x3xx32
expect_err 1 "resnet19" "$PRIVNN" zoo resnet19 -o "$W/x.onnx"
expect_err 1 "too small" "$PRIVNN" zoo vgg11 -o "$W/x.onnx" --input-shape 1x1x28x28
[ -e "$W/x.onnx" ] && fail "a failed zoo left $W/x.onnx behind"
expect_err 1 "missing.onnx" "$PRIVNN" info "$W/missing.onnx"
expect_err 1 "missing.onnx" "$PRIVNN" run "$W/missing.onnx" --random
head -c 100 "$W/r18.onnx" >"$W/trunc.onnx"
expect_err 1 "trunc.onnx" "$PRIVNN" info "$W/trunc.onnx"
expect_err 1 "trunc.onnx" "$PRIVNN" run "$W/trunc.onnx" --random
head -c 5000 /dev/urandom >"$W/noise.onnx"
expect_err 1 "noise.onnx" "$PRIVNN" info "$W/noise.onnx"
: >"$W/empty.onnx"
expect_err 1 "empty.onnx" "$PRIVNN" run "$W/empty.onnx" --random
# an input of the wrong shape: the relu test's [3,4,5] input fed to the resnet
if [ -d "$TD/test_relu" ]; then
  expect_err 1 "input" "$PRIVNN" run "$W/r18.onnx" --input "$TD/test_relu/test_data_set_0/input_0.pb"
  grep -q "r18.onnx" "$W/err" || fail "wrong-shape message does not name the model: $(cat "$W/err")"
fi
expect_err 1 "nothing.pb" "$PRIVNN" run "$W/r18.onnx" --input "$W/nothing.pb"
# an op privnn does not know, in a model made by editing a real one
if [ -x "$PY" ] && "$PY" -c "import onnx" 2>/dev/null && [ -d "$TD/test_relu" ]; then
  "$PY" - "$TD/test_relu/model.onnx" "$W/unknown_op.onnx" <<'PYEOF'
import sys, onnx
m = onnx.load(sys.argv[1])
m.graph.node[0].op_type = "FancyRelu"
onnx.save(m, sys.argv[2])
PYEOF
  expect_err 1 "FancyRelu" "$PRIVNN" run "$W/unknown_op.onnx" --random
  grep -q "unknown_op.onnx" "$W/err" || fail "unknown-op message does not name the file: $(cat "$W/err")"
  expect_ok "$PRIVNN" info "$W/unknown_op.onnx"
  grep -q "FancyRelu 1" "$W/out" || fail "info on an unknown op: $(cat "$W/out")"
fi
# corrupted models (deterministic byte mutations of a small zoo model): exit 0 or 1 with one line,
# never a crash
if [ -x "$PY" ]; then
  expect_ok "$PRIVNN" zoo resnet18 -o "$W/small.onnx" --input-shape 1x3x16x16 --classes 4
  "$PY" - "$PRIVNN" "$W/small.onnx" "$W/mut.onnx" <<'PYEOF' || fail "a mutated model crashed privnn or printed more than one line"
import random, subprocess, sys
privnn, src, dst = sys.argv[1:4]
random.seed(20261122)
data = open(src, "rb").read()
bad = 0
for i in range(15):
    b = bytearray(data)
    for _ in range(random.randint(1, 8)):
        pos = random.randrange(min(len(b), 20000)) if random.random() < 0.7 else random.randrange(len(b))
        b[pos] = random.randrange(256)
    open(dst, "wb").write(b)
    for cmd in ([privnn, "info", dst], [privnn, "run", dst, "--random"]):
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        lines = r.stderr.strip().splitlines()
        if r.returncode not in (0, 1) or (r.returncode == 1 and (len(lines) != 1 or "mut.onnx" not in lines[0])):
            bad += 1
            print("mutation %d: %s exited %d: %s" % (i, cmd[1], r.returncode, r.stderr[:300]))
sys.exit(1 if bad else 0)
PYEOF
  ok
fi
# an input of the wrong shape names the .pb file it came from
LN=/usr/share/libonnx-testdata/data/node/test_layer_normalization_3d_axis1_epsilon
LD=$LN/test_data_set_0
expect_err 1 "input_1.pb" "$PRIVNN" run "$LN/model.onnx" -i "$LD/input_1.pb" -i "$LD/input_0.pb" -i "$LD/input_2.pb"
# several -o are all or nothing: one unwritable output leaves none of the others behind
expect_err 1 "nodir" "$PRIVNN" run "$LN/model.onnx" -i "$LD/input_0.pb" -i "$LD/input_1.pb" \
  -i "$LD/input_2.pb" -o "$W/o0.pb" -o "$W/nodir/o1.pb" -o "$W/o2.pb"
if [ -e "$W/o0.pb" ] || ls "$W" | grep -q tmp; then fail "a failed multi-output run left files behind"; else ok; fi
# too many -o for the outputs
expect_err 2 "outputs" "$PRIVNN" run "$W/r18.onnx" --random -o "$W/a.pb" -o "$W/b.pb"

# ---- bench ckks --bootstrap: a run on an insecure test ring (~1 s) writes the issue's JSON keys; bad lists ----
expect_ok "$PRIVNN" bench ckks --bootstrap --n 1024 --slots 0,3 --threads 1 --json "$W/boot.json"
$PY -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"]; k=["n","slots","ms","levels_after","precision_bits_mean","precision_bits_min","key_bytes"]
assert [(x["n"], x["slots"]) for x in r] == [(1024, 512), (1024, 8)] and all(all(q in x for q in k) for x in r)
assert all(x["levels_after"] > 0 and x["precision_bits_min"] > 20 and x["key_bytes"] > 0 for x in r)' "$W/boot.json" \
  && ok || fail "bench ckks --bootstrap JSON: $(head -c 400 "$W/boot.json")"
expect_err 2 "--slots" "$PRIVNN" bench ckks --bootstrap --slots -1
expect_err 2 "--n" "$PRIVNN" bench ckks --bootstrap --n 1000
expect_err 2 "--threads" "$PRIVNN" bench ckks --bootstrap --threads 0
expect_err 2 "do not fit" "$PRIVNN" bench ckks --bootstrap --n 1024 --slots 10

echo "test_cli_basic: $pass checks passed, $fails failed"
[ $fails -eq 0 ]
