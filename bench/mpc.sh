#!/bin/sh
# bench/mpc.sh - HummingBird MPC benchmarks in one run (wraps `privnn mpc bench`, the same as
# `privnn bench mpc`):
#   1. bits and rounds per ReLU for full-bit and HummingBird n = 64, 32, 18, 12, 8, 6 (measured on
#      loopback against the formulas) and ReLU throughput;
#   2. end-to-end private inference of resnet-s (Fashion-MNIST, models/resnet-s.onnx) and of the zoo
#      resnet18 at 1x3x32x32 (random weights and inputs): full-bit vs the error-free plan vs uniform
#      n = 8, on emulated LAN and WAN, with --weights public and secret.
# Usage: bench/mpc.sh [BUILD_DIR | path/to/privnn]   (default build/privnn; reports in bench/out/mpc/)
#   env: OUT=dir, COUNT=images for resnet-s, COUNT18=images for resnet18, NET=lan|wan|both,
#        WEIGHTS=public|secret|both, QUICK=1 (bench/common.sh)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
arg=${1:-$here/build}
if [ -d "$arg" ]; then PRIVNN=${PRIVNN:-$arg/privnn}; else PRIVNN=${PRIVNN:-$arg}; fi
OUT=${OUT:-$here/bench/out/mpc}
. "$here/bench/common.sh"
# QUICK=1: 2 resnet-s images, LAN, public weights, no resnet18, a 4096-element ReLU run
if [ "$QUICK" = 1 ]; then
  COUNT=${COUNT:-2} NET=${NET:-lan} WEIGHTS=${WEIGHTS:-public}
  EXTRA="--no-resnet18 --relu-count 4096"
fi
COUNT=${COUNT:-20}
COUNT18=${COUNT18:-4}
NET=${NET:-both}
WEIGHTS=${WEIGHTS:-both}
EXTRA=${EXTRA:-}
# THREADS, REPEAT: not used (each party runs on one core by design; counts set the repetitions)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
mkdir -p "$OUT"
[ -x "$PRIVNN" ] || { echo "bench/mpc.sh: $PRIVNN not found (build first or set PRIVNN)" >&2; exit 1; }

RS=$here/models/resnet-s.onnx
if [ ! -f "$RS" ]; then
  echo "bench/mpc.sh: $RS missing; training a quick resnet-s stand-in (1 epoch, 20000 images)" >&2
  RS=$OUT/resnet-s-quick.onnx
  [ -f "$RS" ] || "$PRIVNN" train --arch resnet-s --data fashion-mnist --epochs 1 --max-train 20000 \
    -o "$RS" >/dev/null
fi
echo "machine load: $(uptime)"
"$PRIVNN" mpc bench --model "$RS" --count "$COUNT" --count18 "$COUNT18" --net "$NET" \
  --weights "$WEIGHTS" --keep "$OUT" --csv "$OUT/mpc.csv" $EXTRA
echo "machine load: $(uptime)"
bench_meta "$PRIVNN" "$OUT/mpc.csv"
echo "reports: $OUT/*.json, $OUT/mpc.csv"
