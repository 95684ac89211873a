#!/bin/bash
# test_obf_lower.sh - `privnn obf join --lower` from the shell: the joined model in standard ONNX
# ops only. With ONNX Runtime installed (bench/.ort, as scripts/ort-optimize.sh installs it; this
# test never installs it), the bundle goes through ONNX Runtime's optimizer at level extended,
# whose com.microsoft fused ops the plain join keeps and --lower replaces; ONNX Runtime then runs
# both joined models and privnn the lowered one, on the same input, against the owner's model in
# privnn. Without it, only the optimizer-free half runs (said in the summary line).
# Usage: bash test_obf_lower.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
P=$(cd "$(dirname "$PRIVNN")" && pwd)/$(basename "$PRIVNN")
M=$SRC/models/cnn-s.onnx

# opsets FILE / ops FILE: the lines of `privnn info` listing a model's opset imports / its ops
opsets() { "$P" info "$1" 2>/dev/null | grep -a "opsets"; }
ops() { "$P" info "$1" 2>/dev/null | grep -a "^  ops:"; }
# standard NAME FILE: ai.onnx ops and imports only
standard() {
  local o
  o=$(opsets "$2")
  if [ "$o" != "  ir_version 8, opsets ai.onnx 17" ] && ! echo "$o" | grep -q "opsets ai.onnx [0-9]*$"; then
    fail "$1: imports other domains: $o"
  elif ops "$2" | grep -q "Fused\|Gelu\|Skip"; then
    fail "$1: contrib ops left: $(ops "$2")"
  else
    ok
  fi
}
# close NAME A.npy B.npy: the same outputs within 1e-4 x max(1, |A|)
close() {
  local r
  r=$($PY -c "import numpy as n,sys; a=n.load(sys.argv[1]); b=n.load(sys.argv[2]); e=abs(a-b).max(); print('ok' if a.shape == b.shape and e <= 1e-4 * max(1, abs(a).max()) else 'max abs error %g, shapes %s %s' % (e, a.shape, b.shape))" "$2" "$3")
  [ "$r" = ok ] && ok || fail "$1: $r"
}

expect_ok "$P" obf split "$M" --bundle b --secret s.json -k 2 --seed 5 -P 4
# no optimizer: --lower has nothing to lower and writes what join writes
expect_ok "$P" obf join --secret s.json --bundle b -o plain.onnx --seed 1
expect_ok "$P" obf join --secret s.json --bundle b -o plain-lowered.onnx --lower --seed 1
grep -q "com.microsoft" "$W/out" && fail "--lower without contrib ops reported some: $(cat "$W/out")" || ok
standard "lowered, no optimizer" plain-lowered.onnx
[ "$(ops plain.onnx)" = "$(ops plain-lowered.onnx)" ] && ok || fail "--lower changed a standard model: $(ops plain.onnx) vs $(ops plain-lowered.onnx)"

$PY -c "import numpy as n; n.save('x.npy', n.random.default_rng(7).standard_normal((1, 1, 28, 28)).astype(n.float32))"
expect_ok "$P" tensor x.npy -o x.pb
expect_ok "$P" run "$M" -i x.npy -o y0.npy
expect_ok "$P" tensor y0.npy -o y0.pb
expect_ok "$P" run plain-lowered.onnx -i x.npy -o y1.npy
close "lowered, no optimizer vs the model" y0.npy y1.npy

ORT=$SRC/bench/.ort/node_modules
if [ ! -d "$ORT/onnxruntime-node" ]; then
  finish test_obf_lower "ONNX Runtime not installed in bench/.ort: optimizer half skipped"
  exit
fi
expect_ok "$SRC/scripts/ort-optimize.sh" --level extended b b-ort
# the kept model: ONNX Runtime's fused ops, said so
expect_ok "$P" obf join --secret s.json --bundle b-ort -o kept.onnx --seed 1
grep -q "keeps [1-9][0-9]* com.microsoft nodes" "$W/out" && ok || fail "join did not say it kept contrib ops: $(cat "$W/out")"
ops kept.onnx | grep -q "FusedConv" && ok || fail "no FusedConv in the kept model: $(ops kept.onnx)"
opsets kept.onnx | grep -q "com.microsoft" && ok || fail "the kept model does not import com.microsoft"
# lowered: standard ops, the owner's model's outputs in privnn
expect_ok "$P" obf join --secret s.json --bundle b-ort -o lowered.onnx --lower --seed 1
grep -q "[1-9][0-9]* com.microsoft nodes lowered to standard ONNX ops" "$W/out" && ok ||
  fail "join --lower did not report what it lowered: $(cat "$W/out")"
standard "lowered after ONNX Runtime" lowered.onnx
expect_ok "$P" run lowered.onnx -i x.npy -o y2.npy
close "lowered vs the model, in privnn" y0.npy y2.npy
# ONNX Runtime runs both joined models and agrees with privnn's run of the owner's model
bound=$($PY -c "import numpy as n; print(1e-4 * max(1.0, float(abs(n.load('y0.npy')).max())))")
for f in kept lowered; do
  if NODE_PATH=$ORT node "$SRC/bench/ort_time.js" --model $f.onnx --input-pb x.pb --compare y0.pb --warmup 0 \
    --repeat 1 >ort-$f.json 2>ort.err; then
    d=$(json_num ort-$f.json max_abs_diff)
    awk -v d="$d" -v b="$bound" 'BEGIN { exit !(d != "" && d <= b) }' && ok ||
      fail "ONNX Runtime on $f.onnx: max abs diff '$d' vs privnn (bound $bound)"
  else
    fail "ONNX Runtime cannot run $f.onnx: $(tail -3 ort.err)"
  fi
done
finish test_obf_lower "with ONNX Runtime"
