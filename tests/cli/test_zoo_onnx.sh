#!/bin/bash
# test_zoo_onnx.sh - every zoo model, as `privnn zoo` writes it, passes ONNX's own checker with full
# shape inference (onnx.checker.check_model(..., full_check=True)) from Debian's python3-onnx.
# Skipped (exit 77, with a message) where /usr/bin/python3 cannot import onnx.
# Usage: bash test_zoo_onnx.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
need_python_onnx "the zoo's ONNX checker test"
fails=0
n=0
models=$("$PRIVNN" zoo --help | sed -n 's/^models: //p')
[ -n "$models" ] || { echo "FAIL: no model list in 'privnn zoo --help'"; exit 1; }
for m in $models; do
  case $m in
    bert | distilbert | roberta | gpt2 | xlm) opts="--layers 2 --hidden 64 --heads 4 --seq 16" ;;
    *) opts="--input-shape 1x3x96x96 --classes 10" ;;
  esac
  if ! "$PRIVNN" zoo "$m" -o "$W/$m.onnx" $opts >"$W/out" 2>&1; then
    echo "FAIL: privnn zoo $m: $(head -c 300 "$W/out")"
    fails=$((fails + 1))
    continue
  fi
  if ! "$PY" -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)' \
      "$W/$m.onnx" >"$W/out" 2>&1; then
    echo "FAIL: onnx.checker on $m: $(tail -c 600 "$W/out")"
    fails=$((fails + 1))
    continue
  fi
  n=$((n + 1))
done
if [ $fails -ne 0 ]; then
  echo "$fails model(s) failed the ONNX checker"
  exit 1
fi
echo "onnx.checker (full_check): $n zoo models pass"
