#!/bin/sh
# bench/mpc.sh - HummingBird MPC benchmarks in one run (wraps `privnn mpc bench`, the same as
# `privnn bench mpc`):
#   1. bits and rounds per ReLU for full-bit and HummingBird n = 64, 32, 18, 12, 8, 6 (measured on
#      loopback against the formulas) and ReLU throughput;
#   2. end-to-end private inference of resnet-s (Fashion-MNIST, models/resnet-s.onnx) and of the zoo
#      resnet18 at 1x3x32x32 (random weights and inputs): full-bit vs the error-free plan vs uniform
#      n = 8, on emulated LAN and WAN, with --weights public and secret.
# Usage: bench/mpc.sh [BUILD_DIR | path/to/privnn]   (default build/privnn; reports in bench/out/mpc/)
# Output: mpc.csv, its .meta.csv, every command's JSON and, with gnuplot, mpc_relu.png (bits per
#   ReLU per protocol), mpc_comm.png (MB per image per plan) and mpc_time.png (seconds per image).
#   env: OUT=dir, COUNT=images for resnet-s, COUNT18=images for resnet18, NET=lan|wan|both,
#        WEIGHTS=public|secret|both, QUICK=1 (bench/common.sh), PLOT_ONLY=1 (redraw the plots of
#        an existing OUT/mpc.csv)
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
# plot_mpc: the PNGs of $OUT/mpc.csv
plot_mpc() {
  # plots: bits per ReLU (measured over loopback vs the formula) per protocol, and per end-to-end
  # setting (model, link, weights) one bar per plan of MB per image and of seconds per image
  awk -F, 'NR == 1 { print "protocol,measured,formula"; next }
           $1 == "relu" { print $5 " n=" $6 "," $7 "," $8 }' "$OUT/mpc.csv" > "$OUT/mpc_relu_pivot.csv"
  bench_bars "$OUT/mpc_relu_pivot.csv" "$OUT/mpc_relu.png" "HummingBird ReLU: bits sent per party per ReLU" \
    "bits per ReLU (log scale)" "set logscale y" "set xtics rotate by -30"
  # e2e_pivot COLUMN: one row per setting, one column per plan (in the order the bench ran them)
  e2e_pivot() {
    awk -F, -v c="$1" '$1 == "e2e" { g = $2 " " $3 " " $4; if (!(g in seen)) { seen[g] = 1; gs[++ng] = g }
                                    if (!($5 in pseen)) { pseen[$5] = 1; ps[++np] = $5 } v[g, $5] = $c }
      END { printf "setting"; for (j = 1; j <= np; j++) printf ",%s", ps[j]; printf "\n"
            for (i = 1; i <= ng; i++) { printf "%s", gs[i]
              for (j = 1; j <= np; j++) { x = v[gs[i], ps[j]]; printf ",%s", (x == "" ? "NaN" : x) }
              printf "\n" } }' "$OUT/mpc.csv"
  }
  if grep -q "^e2e," "$OUT/mpc.csv"; then
    e2e_pivot 15 > "$OUT/mpc_comm_pivot.csv"
    bench_bars "$OUT/mpc_comm_pivot.csv" "$OUT/mpc_comm.png" "private inference: communication per image, per plan" \
      "MB per image per party"
    e2e_pivot 18 > "$OUT/mpc_time_pivot.csv"
    bench_bars "$OUT/mpc_time_pivot.csv" "$OUT/mpc_time.png" \
      "private inference: modeled seconds per image (compute + link delays), per plan; load $(sed -n 's/^load_1min,//p' "$OUT/mpc.meta.csv" 2>/dev/null)" \
      "seconds per image"
  fi
}
# PLOT_ONLY=1: only redraw the plots of an existing $OUT/mpc.csv
if [ "${PLOT_ONLY:-0}" = 1 ]; then plot_mpc; exit 0; fi
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
plot_mpc
echo "reports: $OUT/*.json, $OUT/mpc.csv"
