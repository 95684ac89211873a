#!/usr/bin/env bash
# demo.sh - the end-to-end tour `make demo` runs on the embedded defaults: build a model, inspect it,
# run it, and (where the pieces exist) private inference on the reference model.
set -euo pipefail
PRIVNN=${1:-build/privnn}
OUT=${DEMO_DIR:-build/demo}
mkdir -p "$OUT"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "privnn zoo resnet18 (random weights, 1x3x32x32) -> $OUT/r18.onnx"
"$PRIVNN" zoo resnet18 --input-shape 1x3x32x32 --classes 10 --seed 1 -o "$OUT/r18.onnx"

step "privnn info $OUT/r18.onnx"
"$PRIVNN" info "$OUT/r18.onnx"

step "privnn run $OUT/r18.onnx --random --repeat 5"
"$PRIVNN" run "$OUT/r18.onnx" --random --repeat 5
