#!/bin/bash
# test_obf_dialect.sh - a Proteus bundle does not give its real parts away by how its files are written:
# scripts/obf-dialect.py (a reader that drops files mixing two ways of writing one operator and keeps,
# per group, the files written the way most groups have) leaves no real part alone in its group, on
# zoo models whose exporter writes explicit attributes (densenet121: Conv dilations and group,
# BatchNormalization momentum; shufflenet_v2: channel-shuffle Reshapes with a leading 0; bert: heads
# reshaped as (0, 0, heads, head_dim), LayerNormalization epsilon). The generator before stop 44 left
# the real part alone in every part of densenet121 and shufflenet_v2 (docs/proteus.md, "The files'
# dialect"). And privnn's own vgg-s, whose exporter leaves defaults out (no MaxPool pads of zero, no
# Flatten axis): sentinels that wrote them out left its real part alone. And googlenet, whose pools
# round up (MaxPool ceil_mode 1): sentinels' pools without ceil_mode left its real part alone in parts
# with a MaxPool until stop 45. Skipped (exit 77, with a message) where /usr/bin/python3 cannot import onnx.
# Usage: bash test_obf_dialect.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
need_python_onnx "the bundle dialect test"
cd "$SRC" || exit 1
for spec in "densenet121 --input-shape 1x3x64x64 --classes 10" "shufflenet_v2 --input-shape 1x3x64x64 --classes 10" \
            "googlenet --input-shape 1x3x64x64 --classes 10" "bert --layers 2 --hidden 64 --heads 4 --seq 16" "vgg-s"; do
  set -- $spec
  m=$1
  shift
  if [ "$m" = vgg-s ]; then
    cp "$SRC/models/vgg-s.onnx" "$W/$m.onnx"
  elif ! "$PRIVNN" zoo "$m" "$@" --seed 1 -o "$W/$m.onnx" >"$W/out" 2>&1; then
    fail "zoo $m: $(tail -c 300 "$W/out")"
    continue
  fi
  if ! "$PRIVNN" obf split "$W/$m.onnx" --bundle "$W/b-$m" --secret "$W/s-$m.json" -k 6 --seed 3 >"$W/out" 2>&1; then
    fail "obf split $m: $(tail -c 300 "$W/out")"
    continue
  fi
  "$PY" scripts/obf-dialect.py "$W/b-$m" "$W/s-$m.json" >"$W/dialect" 2>&1
  rc=$?
  echo "$m: $(tail -n 1 "$W/dialect")"
  if [ $rc -ne 0 ]; then
    fail "obf-dialect.py $m (exit $rc): $(grep -m 3 'alone\|Error\|error' "$W/dialect")"
  elif ! grep -q "among the candidates in" "$W/dialect"; then
    fail "obf-dialect.py $m printed no totals: $(tail -c 300 "$W/dialect")"
  else
    ok
  fi
done
finish test_obf_dialect
