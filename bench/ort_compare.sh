#!/bin/bash
# ort_compare.sh - privnn's plaintext executor against ONNX Runtime on the zoo's ResNet-18.
#
# usage: bench/ort_compare.sh BUILD_DIR      (env: REPEAT=20 WARMUP=3 THREADS="1 2" BLAS_AUTO=0)
# privnn uses OpenBLAS with the environment's OPENBLAS_CORETYPE if set (some machines pin
# Haswell, i.e. AVX2 kernels, on AVX-512 CPUs); BLAS_AUTO=1 unsets it for privnn so that
# OpenBLAS picks the CPU's own kernels (privnn run also does so itself when the variable is unset).
# Installs onnxruntime-node into bench/.ort/ if missing (not a build dependency), writes resnet18
# at 1x3x224x224 and 1x3x32x32 with `privnn zoo`, and for each thread count times
#   privnn run --input X.pb --threads T --warmup W --repeat R      (median ms)
#   node bench/ort_time.js (intraOpNumThreads T, graphOptimizationLevel 'all')
# on the same input, also checking that both give the same output (max |diff|). Prints a table
# (median and minimum ms: on a shared machine the minimum is the steadier figure) with the load
# average before and after, writes bench/out/ort_compare.csv and, if gnuplot is installed,
# bench/out/ort_compare.png.
set -euo pipefail
BUILD=${1:?usage: bench/ort_compare.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PRIVNN=$(cd "$BUILD" && pwd)/privnn
REPEAT=${REPEAT:-20}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-"1 2"}
OUT=$HERE/out
WORK=$OUT/ort_compare
mkdir -p "$WORK"
export PN_NO_PROGRESS=${PN_NO_PROGRESS:-}

[ -x "$PRIVNN" ] || { echo "ort_compare.sh: $PRIVNN not found (build first)" >&2; exit 1; }
command -v node >/dev/null || { echo "ort_compare.sh: node not found" >&2; exit 1; }
if [ ! -d "$HERE/.ort/node_modules/onnxruntime-node" ]; then
  echo "ort_compare.sh: installing onnxruntime-node into bench/.ort ..." >&2
  command -v npm >/dev/null || { echo "ort_compare.sh: npm not found" >&2; exit 1; }
  ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund --prefix "$HERE/.ort" onnxruntime-node >&2
fi

json_field() { # json_field FILE-or-STRING KEY: a number from a JSON object (run.json or one line)
  node -e 'const fs=require("fs");const a=process.argv[1];const s=fs.existsSync(a)?fs.readFileSync(a,"utf8"):a;
           const o=JSON.parse(s);const k=process.argv[2].split(".");let v=o;for(const x of k)v=v[x];console.log(v)' "$1" "$2"
}

CSV=$OUT/ort_compare.csv
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }
echo "load average before: $(loadavg) ($(nproc 2>/dev/null || echo ?) cores)"
PN_ENV=()
if [ "${BLAS_AUTO:-0}" = 1 ]; then PN_ENV=(-u OPENBLAS_CORETYPE); fi
echo "privnn's OPENBLAS_CORETYPE: $( [ "${BLAS_AUTO:-0}" = 1 ] && echo "unset (BLAS_AUTO=1)" || echo "${OPENBLAS_CORETYPE:-unset}")"
echo "model,shape,threads,privnn_ms,ort_ms,ratio,max_abs_diff,max_abs_out,privnn_min_ms,ort_min_ms,min_ratio" >"$CSV.tmp"
printf "%-9s %-12s %7s %11s %9s %8s %10s %9s %9s %12s\n" model shape threads "privnn ms" "ORT ms" ratio \
  "privnn min" "ORT min" "min ratio" "max |diff|"
for shape in 1x3x224x224 1x3x32x32; do
  model=$WORK/resnet18_$shape.onnx
  "$PRIVNN" zoo resnet18 -o "$model" --input-shape "$shape" --seed 1 >/dev/null
  input=$WORK/input_$shape.pb
  # one shared random input (written by ort_time.js as a TensorProto) for both runtimes
  node "$HERE/ort_time.js" --model "$model" --warmup 0 --repeat 1 --seed 1 --save-input "$input" >/dev/null
  for t in $THREADS; do
    env "${PN_ENV[@]}" "$PRIVNN" run "$model" --input "$input" --threads "$t" --warmup "$WARMUP" --repeat "$REPEAT" \
      --json "$WORK/privnn_${shape}_t$t.json" -o "$WORK/privnn_out_${shape}_t$t.pb" >/dev/null
    p_ms=$(json_field "$WORK/privnn_${shape}_t$t.json" timing.median_ms)
    p_min=$(json_field "$WORK/privnn_${shape}_t$t.json" timing.min_ms)
    ort=$(node "$HERE/ort_time.js" --model "$model" --input-pb "$input" --threads "$t" --warmup "$WARMUP" \
      --repeat "$REPEAT" --compare "$WORK/privnn_out_${shape}_t$t.pb")
    o_ms=$(json_field "$ort" median_ms)
    o_min=$(json_field "$ort" min_ms)
    diff=$(json_field "$ort" max_abs_diff)
    mag=$(json_field "$ort" max_abs_out)
    ratio=$(awk -v a="$p_ms" -v b="$o_ms" 'BEGIN { printf "%.2f", a / b }')
    mratio=$(awk -v a="$p_min" -v b="$o_min" 'BEGIN { printf "%.2f", a / b }')
    printf "%-9s %-12s %7s %11.2f %9.2f %8s %10.2f %9.2f %9s %12.3g\n" resnet18 "$shape" "$t" "$p_ms" "$o_ms" \
      "$ratio" "$p_min" "$o_min" "$mratio" "$diff"
    echo "resnet18,$shape,$t,$p_ms,$o_ms,$ratio,$diff,$mag,$p_min,$o_min,$mratio" >>"$CSV.tmp"
  done
done
mv "$CSV.tmp" "$CSV"
echo "load average after: $(loadavg)"
echo "ratio = privnn / ORT median time per inference (min ratio: of the minima); max |diff| compares the two outputs (same input)."
echo "wrote $CSV"

if command -v gnuplot >/dev/null; then
  gnuplot <<GP
set terminal pngcairo size 900,500 noenhanced
set output "$OUT/ort_compare.png"
set datafile separator ","
set title "ResNet-18: privnn vs ONNX Runtime (median ms per inference, log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel "ms"
set key top right
set xtics rotate by -20
plot "$CSV" every ::1 using 4:xticlabels(sprintf("%s t=%s", stringcolumn(2), stringcolumn(3))) title "privnn", \
     "" every ::1 using 5 title "ORT"
GP
  echo "wrote $OUT/ort_compare.png"
fi
